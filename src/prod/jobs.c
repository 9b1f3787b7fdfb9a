/*
 * In place with --jobs N: N runs at once, as forked workers (etl/workers.h)
 * that share the change queue, each claiming its own rows and recorded as
 * a run of its own.
 */
#include "etl/production.h"
#include "prod.h"

#include <string.h>

#include "banned.h"

/* What an in-place worker reports besides its figures. */
typedef struct job_extra {
    long long run_id; /* the worker's run */
    size_t backlog;   /* what was queued when it started */
    bool capture;     /* the source has change capture */
} job_extra;

static void job_progress(void *ctx, const etl_run_stats *so_far, size_t backlog)
{
    (void)backlog;
    etl_worker_progress(ctx, so_far);
}

static void job(void *ctx, int k, int n, etl_worker_count *count, etl_worker_report *rep,
                void *extra)
{
    (void)k;
    (void)n;
    etl_prod_cfg mine = *(const etl_prod_cfg *)ctx;
    mine.progress = count ? job_progress : NULL;
    mine.progress_ctx = count;
    etl_prod_result res;
    rep->rc = etl_prod_run(&mine, &res, &rep->err);
    rep->stats = res.stats;
    job_extra *x = extra;
    x->run_id = res.run_id;
    x->backlog = res.backlog;
    x->capture = res.capture;
}

int etl_prod_run_jobs(const etl_prod_cfg *cfg, int jobs,
                      void (*progress)(void *ctx, const etl_workers_progress *p),
                      void *progress_ctx, etl_prod_result *out, long long *last_run_id,
                      etl_error *err)
{
    memset(out, 0, sizeof(*out));
    *last_run_id = 0;
    /* A dry run gives each claim back as it goes: another worker would claim it again. */
    if (cfg->dry_run)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "--dry-run counts the work of one run: leave out --jobs (with "
                             "it, the workers would claim each other's given-back changes "
                             "again and count them more than once)");
    bool capture = false;
    int rc = etl_prod_check_processor(cfg, err);
    if (rc == ETL_OK)
        rc = etl_prod_has_capture(cfg, &capture, err);
    if (rc == ETL_OK && !capture)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "--jobs needs change capture (`etl init` without --no-capture): "
                           "without it, in-place runs go one at a time");
    if (rc != ETL_OK)
        return rc;
    etl_worker_report reports[ETL_WORKERS_MAX];
    job_extra extras[ETL_WORKERS_MAX];
    memset(extras, 0, sizeof(extras));
    etl_prod_cfg each = *cfg; /* the workers' copy (they set their own progress) */
    each.jobs = jobs;         /* their claims shrink as the queue empties */
    etl_workers_cfg wcfg = {.jobs = jobs,
                            .fn = job,
                            .ctx = &each,
                            .extra_size = sizeof(extras[0]),
                            .stop = cfg->stop,
                            .progress = progress,
                            .progress_ctx = progress_ctx};
    rc = etl_workers_run(&wcfg, reports, extras, &out->stats, err);
    for (int k = 0; k < jobs && k < ETL_WORKERS_MAX; k++) {
        const job_extra *x = &extras[k];
        if (x->run_id && (!out->run_id || x->run_id < out->run_id))
            out->run_id = x->run_id;
        if (x->run_id > *last_run_id)
            *last_run_id = x->run_id;
        out->backlog = x->backlog > out->backlog ? x->backlog : out->backlog;
        out->capture = out->capture || x->capture;
    }
    return rc;
}
