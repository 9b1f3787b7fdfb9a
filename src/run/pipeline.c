/*
 * The staged runner: extract -> transform -> load, one extractor batch at a time, committed
 * every `commit_every` submissions.  Events are handed to the loader at the
 * end of every extractor batch and whenever the loader's write_events (or
 * PIPELINE_MAX_EVENTS) pile up, always before the next batch is requested,
 * because events borrow their submission's strings from the extractor batch.  So a streaming
 * processor never holds more than one chunk of submissions and their events. Rejected submissions
 * are recorded in the batch log and the run goes on; any other error rolls the open batch back.
 */
#include "etl/pipeline.h"
#include "etl/flatten.h"
#include "run.h"
#include "etl/registry.h"
#include "etl/clock.h"
#include "etl/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define REJECTS_SHOWN 10 /* rejected submissions listed on stderr; -v lists them all */
/*
 * Events handed to the loader at once at most, unless the loader asks for
 * fewer (write_events in loader.h).  The cap only matters for extractors
 * with huge batches.
 */
#define PIPELINE_MAX_EVENTS 65536

typedef struct run {
    const etl_pipeline_cfg *cfg;
    etl_db *target;
    etl_loader ld;
    etl_event_batch events;
    etl_batch_log batch;
    etl_run_stats *stats;
    size_t slice; /* write at this many events (a submission's are never split: a few more) */
    int open;     /* a target transaction and loader batch are open */
    size_t shown; /* rejects reported on stderr */
} run;

/* The reason codes, so that counts keep a static string whatever the caller's is. */
static const char *const reason_codes[] = {
    ETL_REJECT_UNKNOWN_FORM,      ETL_REJECT_UNKNOWN_USER, ETL_REJECT_UNUSABLE_SCHEMA,
    ETL_REJECT_TOO_LARGE,         ETL_REJECT_INVALID_JSON, ETL_REJECT_TOO_DEEP,
    ETL_REJECT_UNSTORABLE_STRING, ETL_REJECT_NOT_OBJECT,   ETL_REJECT_TYPE_MISMATCH,
    ETL_REJECT_AMBIGUOUS_ANSWER};

void etl_run_stats_add_reason(etl_run_stats *st, const char *reason, size_t n)
{
    const char *code = "invalid";
    for (size_t i = 0; i < sizeof(reason_codes) / sizeof(reason_codes[0]); i++)
        if (strcmp(reason, reason_codes[i]) == 0)
            code = reason_codes[i];
    reason = code;
    for (size_t i = 0; i < ETL_MAX_REASONS && n; i++) {
        etl_reason_count *c = &st->reasons[i];
        if (!c->reason)
            c->reason = reason;
        if (c->reason == reason || strcmp(c->reason, reason) == 0) {
            c->count += n;
            return;
        }
    }
}

void etl_run_stats_add(etl_run_stats *into, const etl_run_stats *from)
{
    into->submissions += from->submissions;
    into->rejected += from->rejected;
    into->events += from->events;
    into->batches += from->batches;
    for (size_t i = 0; i < ETL_MAX_REASONS && from->reasons[i].reason; i++)
        etl_run_stats_add_reason(into, from->reasons[i].reason, from->reasons[i].count);
}

static void count_reasons(etl_run_stats *st, const etl_batch_log *b)
{
    for (size_t i = 0; i < b->nrejects; i++)
        etl_run_stats_add_reason(st, b->rejects[i].reason, 1);
}

static int fetch_schema(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    etl_db *db = ctx;
    etl_result *r = NULL;
    const char *params[1] = {form_id};
    int rc =
        etl_db_query(db, "SELECT schema::text FROM app.forms WHERE id = $1", 1, params, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot fetch the schema of form %s", form_id);
    if (etl_result_rows(r) != 1) {
        etl_result_free(r);
        return etl_error_set(err, ETL_ERR_INPUT, "form %s does not exist", form_id);
    }
    rc = etl_buf_append(out, etl_result_get(r, 0, 0), etl_result_len(r, 0, 0));
    etl_result_free(r);
    return rc;
}

void etl_run_report_reject(const etl_log *log, size_t *shown, const char *id, const char *reason,
                           const char *msg)
{
    if ((*shown)++ < REJECTS_SHOWN || (log && log->verbosity > 0))
        etl_log_info(log, "submission %s rejected (%s): %s", id, reason ? reason : "invalid", msg);
}

void etl_run_report_rejects_hidden(const etl_log *log, size_t shown)
{
    if (shown > REJECTS_SHOWN && !(log && log->verbosity > 0))
        etl_log_info(log, "... and %zu more rejected submissions (-v lists them all)",
                     shown - REJECTS_SHOWN);
}

static void debug_mem(const etl_log *log, const char *stage, size_t batch)
{
    if (log && log->debug_mem)
        etl_log_error("mem: %-22s batch %-6zu rss %8.1f MiB  peak %8.1f MiB", stage, batch,
                      (double)etl_mem_current_kib() / 1024.0, (double)etl_mem_peak_kib() / 1024.0);
}

static void batch_log_reset(etl_batch_log *b)
{
    for (size_t i = 0; i < b->nrejects; i++) {
        free(b->rejects[i].id);
        free(b->rejects[i].detail);
    }
    b->nrejects = 0;
    b->submissions = 0;
    b->events = 0;
    etl_buf_reset(&b->ids);
}

static void batch_log_release(etl_batch_log *b)
{
    batch_log_reset(b);
    free(b->rejects);
    etl_buf_release(&b->ids);
}

/*
 * Note one submission of the batch (copied: the extractor batch is only
 * borrowed).  Ids are only kept when a before_commit hook will read them:
 * a scenario run is one batch, and its ids would grow with the data.
 */
static int batch_log_add(etl_batch_log *b, bool keep_id, const char *id, const etl_error *why)
{
    if (keep_id &&
        (etl_buf_puts(&b->ids, b->ids.len ? "," : "{") != ETL_OK || etl_buf_puts(&b->ids, id)))
        return ETL_ERR_NOMEM;
    b->submissions++;
    if (!why)
        return ETL_OK;
    if (etl_grow((void **)&b->rejects, &b->cap, b->nrejects + 1, sizeof(*b->rejects)) != ETL_OK)
        return ETL_ERR_NOMEM;
    etl_reject_rec *r = &b->rejects[b->nrejects];
    r->id = strdup(id);
    r->detail = strdup(why->msg);
    r->reason = why->reason ? why->reason : "invalid";
    if (!r->id || !r->detail) {
        free(r->id);
        free(r->detail);
        return ETL_ERR_NOMEM;
    }
    b->nrejects++;
    return ETL_OK;
}

static int write_events(run *r, etl_error *err)
{
    if (r->events.count == 0)
        return ETL_OK;
    int rc = r->ld.ops->write(r->ld.state, &r->events, err);
    if (rc != ETL_OK)
        return rc;
    r->batch.events += r->events.count;
    etl_event_batch_reset(&r->events);
    return ETL_OK;
}

static int batch_open(run *r, etl_error *err)
{
    int rc = etl_db_exec(r->target, "BEGIN", err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot start a load transaction");
    r->open = 1; /* from here on, a failure is rolled back (batch_abort) */
    if (r->cfg->empty_target && r->stats->batches == 0 &&
        etl_db_exec(r->target, "TRUNCATE dwh.response_events", err) != ETL_OK)
        return etl_error_wrap(err, "cannot start a load transaction");
    if (r->cfg->after_begin &&
        (rc = r->cfg->after_begin(r->cfg->hook_ctx, r->target, err)) != ETL_OK)
        return rc;
    return r->ld.ops->begin(r->ld.state, err);
}

/* Abandon the open batch: nothing of it stays. */
static void batch_abort(run *r)
{
    if (!r->open)
        return;
    etl_error ignored;
    r->ld.ops->end(r->ld.state, false, &ignored);
    etl_db_exec(r->target, "ROLLBACK", &ignored);
    r->open = 0;
    etl_event_batch_reset(&r->events);
    batch_log_reset(&r->batch);
}

/* Write what is pending, finish the loader's work, record, commit. */
static int batch_commit(run *r, etl_error *err)
{
    const etl_pipeline_cfg *cfg = r->cfg;
    int rc = write_events(r, err);
    if (rc == ETL_OK && r->ld.ops->flush)
        rc = r->ld.ops->flush(r->ld.state, err);
    if (rc == ETL_OK)
        rc = r->ld.ops->end(r->ld.state, true, err);
    if (rc != ETL_OK)
        return rc;
    if (r->batch.ids.len && etl_buf_putc(&r->batch.ids, '}') != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    if (cfg->before_commit &&
        (rc = cfg->before_commit(cfg->hook_ctx, r->target, &r->batch, err)) != ETL_OK)
        return rc;
    rc = etl_db_exec(r->target, cfg->dry_run ? "ROLLBACK" : "COMMIT", err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot commit a batch of %zu submissions",
                              r->batch.submissions);
    r->open = 0;
    r->stats->submissions += r->batch.submissions;
    r->stats->rejected += r->batch.nrejects;
    r->stats->events += r->batch.events;
    r->stats->batches += r->batch.submissions > 0;
    count_reasons(r->stats, &r->batch);
    batch_log_reset(&r->batch);
    return ETL_OK;
}

/*
 * After a commit: past max_rejects, the run stops here.  Checked only
 * between batches, so that the batch in which the limit is passed is
 * loaded and recorded whole (see max_rejects in pipeline.h).
 */
static int past_reject_limit(run *r, etl_error *err)
{
    if (r->stats->rejected <= r->cfg->max_rejects)
        return ETL_OK;
    return etl_error_set(err, ETL_ERR_REJECTS,
                         "more than %zu submissions rejected (--max-rejects): stopped after "
                         "committing the batch in which that happened; its rejects are in "
                         "dwh.etl_rejects",
                         r->cfg->max_rejects);
}

/* Transform one submission into the open batch. */
static int one_submission(run *r, etl_transformer *tr, const etl_submission *s, etl_error *err)
{
    const etl_pipeline_cfg *cfg = r->cfg;
    etl_error why;
    etl_error_clear(&why);
    int rc = tr->ops->apply(tr->state, s, &r->events, &why);
    if (rc == ETL_ERR_INPUT) {
        etl_run_report_reject(cfg->log, &r->shown, s->id, why.reason, why.msg);
        if (batch_log_add(&r->batch, cfg->before_commit != NULL, s->id, &why) != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        return ETL_OK;
    }
    if (rc != ETL_OK) {
        *err = why;
        return etl_error_wrap(err, "submission %s", s->id);
    }
    if (batch_log_add(&r->batch, cfg->before_commit != NULL, s->id, NULL) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    if (r->events.count >= r->slice)
        return write_events(r, err);
    return ETL_OK;
}

int etl_staged_run(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                   etl_run_stats *stats, etl_error *err)
{
    const etl_processor_cfg *p = cfg->proc;
    const etl_extractor_entry *xe = etl_registry_find_extractor(p->extractor ? p->extractor : "");
    const etl_transformer_entry *te =
        etl_registry_find_transformer(p->transformer ? p->transformer : "");
    const etl_loader_entry *le = etl_registry_find_loader(p->loader ? p->loader : "");
    if (!xe || !te || !le)
        return etl_error_set(err, ETL_ERR_USAGE, "processor '%s' names an unknown strategy",
                             p->name);

    run r;
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.target = target;
    r.stats = stats;
    etl_event_batch_init(&r.events, cfg->processed_on);
    etl_extractor ex = {NULL, NULL};
    etl_transformer tr = {NULL, NULL};
    size_t nbatch = 0;
    size_t commit_every = cfg->commit_every ? cfg->commit_every : SIZE_MAX;
    long long t0 = etl_now_us();
    int rc;

    etl_extractor_cfg xcfg = {.batch_rows = p->extract_batch,
                              .filter = cfg->source_filter,
                              .order = cfg->source_order,
                              .log = cfg->log};
    etl_transformer_cfg tcfg = {.form_cache = p->form_cache,
                                .max_depth = p->max_depth,
                                .max_bytes = p->max_bytes,
                                .fetch = fetch_schema,
                                .fetch_ctx = source};
    etl_loader_cfg lcfg = {
        .batch_rows = p->load_batch, .table = cfg->table, .stop = cfg->stop, .log = cfg->log};
    if ((rc = xe->ctor(&ex, &xcfg, source, err)) != ETL_OK ||
        (rc = te->ctor(&tr, &tcfg, err)) != ETL_OK ||
        (rc = le->ctor(&r.ld, &lcfg, target, err)) != ETL_OK)
        goto out;
    r.slice = r.ld.ops->write_events ? r.ld.ops->write_events : PIPELINE_MAX_EVENTS;
    /* The target transaction first: see after_begin in pipeline.h. */
    if ((rc = batch_open(&r, err)) != ETL_OK)
        goto out;
    if ((rc = ex.ops->open(ex.state, err)) != ETL_OK)
        goto out;
    debug_mem(cfg->log, "extractor open", 0);

    etl_submission_batch batch;
    while ((rc = ex.ops->next(ex.state, &batch, err)) == ETL_OK) {
        nbatch++;
        debug_mem(cfg->log, "extract", nbatch);
        for (size_t i = 0; i < batch.count; i++) {
            if (cfg->stop && *cfg->stop) {
                rc = etl_error_set(err, ETL_ERR_INTERRUPTED,
                                   "interrupted; the open batch was rolled back");
                goto out;
            }
            if ((rc = one_submission(&r, &tr, &batch.rows[i], err)) != ETL_OK)
                goto out;
            if (r.batch.submissions >= commit_every) {
                if ((rc = batch_commit(&r, err)) != ETL_OK ||
                    (rc = past_reject_limit(&r, err)) != ETL_OK ||
                    (rc = batch_open(&r, err)) != ETL_OK)
                    goto out;
            }
        }
        debug_mem(cfg->log, "transform", nbatch);
        if ((rc = write_events(&r, err)) != ETL_OK)
            goto out;
        debug_mem(cfg->log, "load", nbatch);
        if (cfg->progress) {
            etl_run_stats so_far = *stats;
            so_far.submissions += r.batch.submissions;
            so_far.events += r.batch.events;
            so_far.elapsed_us = etl_now_us() - t0;
            cfg->progress(cfg->hook_ctx, &so_far);
        }
    }
    if (rc != ETL_DONE)
        goto out;
    rc = batch_commit(&r, err);
    debug_mem(cfg->log, "commit", nbatch);
    if (rc == ETL_OK)
        rc = past_reject_limit(&r, err);
out:
    etl_run_report_rejects_hidden(cfg->log, r.shown); /* once, however the run ends */
    batch_abort(&r);
    stats->elapsed_us = etl_now_us() - t0;
    stats->peak_rss_kib = etl_mem_peak_kib();
    if (r.ld.ops)
        r.ld.ops->destroy(r.ld.state);
    if (tr.ops)
        tr.ops->destroy(tr.state);
    if (ex.ops)
        ex.ops->destroy(ex.state);
    etl_event_batch_release(&r.events);
    batch_log_release(&r.batch);
    return rc == ETL_DONE ? ETL_OK : rc;
}
