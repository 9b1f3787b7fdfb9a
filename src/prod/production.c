/*
 * Production mode (see include/etl/production.h and docs/cron.md).
 *
 * Exactly once: a run reads the submissions that have no row in
 * dwh.etl_processed, and every batch inserts its submissions' rows there in
 * the transaction that loads their events (or records their rejects).  A
 * crash loses only the open batch, which the next run reads again.  This
 * does not depend on creation times or commit order, so a submission that
 * commits late, with an old date_created, is still read exactly once.
 * (A watermark on date_created would miss it; one on transaction ids is
 * fragile across wraparound and freezing.)
 *
 * The extractor never anti-joins against dwh.etl_processed itself: the run
 * inserts into that table while the cursor reads, and its own new rows,
 * though invisible to the cursor's snapshot, would still be scanned by every
 * probe (quadratic on a first run, when the table has no statistics).  So
 * the ledger is first copied into an analysed temporary table on the source
 * connection, static for the run: with INSERT ... SELECT when it lives in the
 * same database, streamed (COPY out of the target into COPY into the source,
 * bounded memory) when --target is another database.
 */
#include "etl/production.h"
#include "etl/db.h"
#include "etl/generate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

/* pg_try_advisory_lock key: "etl" in ASCII.  One run per target database. */
#define LOCK_KEY "7628140"

static const char temp_filter[] = "NOT EXISTS (SELECT 1 FROM pg_temp.etl_done d WHERE d.id = s.id)";

typedef struct prod {
    const etl_prod_cfg *cfg;
    etl_db *ctl; /* target: lock holder and run record */
    etl_db *src; /* source: the extractor's */
    etl_db *tgt; /* target: the loader's */
    long long run_id;
    char run_id_text[32];
    size_t backlog;
    int progress_shown;
} prod;

static int open_db(etl_db **out, const char *conninfo, const etl_prod_cfg *cfg, etl_error *err)
{
    int rc = etl_db_open(out, conninfo, NULL, cfg->log, err);
    if (rc == ETL_OK)
        rc = etl_db_set_timeouts(*out, cfg->statement_timeout_ms, cfg->lock_timeout_ms, err);
    return rc;
}

/* The first cell of a one-row query, copied into out. */
static int query_value(etl_db *db, const char *sql, int nparams, const char *const *params,
                       char *out, size_t cap, etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(db, sql, nparams, params, &r, err);
    if (rc != ETL_OK)
        return rc;
    snprintf(out, cap, "%s",
             etl_result_rows(r) > 0 && !etl_result_is_null(r, 0, 0) ? etl_result_get(r, 0, 0) : "");
    etl_result_free(r);
    return ETL_OK;
}

static int ensure_initialised(etl_db *ctl, etl_error *err)
{
    char ok[8];
    int rc = query_value(ctl, "SELECT to_regclass('dwh.etl_processed') IS NOT NULL", 0, NULL, ok,
                         sizeof(ok), err);
    if (rc == ETL_OK && strcmp(ok, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "the target has no etl tables yet; run `etl init --db CONNINFO` "
                           "(with the same --target, if any) first");
    return rc;
}

int etl_prod_init(const char *source, const char *target, const etl_log *log, etl_error *err)
{
    etl_db *src = NULL;
    etl_db *tgt = NULL;
    int rc = etl_db_open(&src, source, NULL, log, err);
    char ok[8];
    if (rc == ETL_OK)
        rc = query_value(src, "SELECT to_regclass('app.submissions') IS NOT NULL", 0, NULL, ok,
                         sizeof(ok), err);
    if (rc == ETL_OK && strcmp(ok, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "the source database has no app.submissions table: is --db the "
                           "application's database?");
    if (rc == ETL_OK && target)
        rc = etl_db_open(&tgt, target, NULL, log, err);
    if (rc == ETL_OK)
        rc = etl_db_exec(tgt ? tgt : src, etl_schema_dwh_sql, err);
    if (rc != ETL_OK && err->code == ETL_ERR_DB)
        etl_error_wrap(err, "cannot create the dwh tables");
    etl_db_close(src);
    etl_db_close(tgt);
    return rc;
}

static int take_lock(prod *p, etl_error *err)
{
    char got[8];
    int rc = query_value(p->ctl, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 0, NULL, got,
                         sizeof(got), err);
    if (rc == ETL_OK && strcmp(got, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_LOCKED,
                           "another etl run is in progress on this target; nothing was done");
    return rc;
}

static int start_run(prod *p, etl_error *err)
{
    /* We hold the lock: any run still marked running died without saying so. */
    int rc = etl_db_exec(p->ctl,
                         "UPDATE dwh.etl_runs SET status = 'abandoned', finished = now(), "
                         "error = 'ended without finishing: killed, or its connection was lost; "
                         "its open batch was rolled back' WHERE status = 'running'",
                         err);
    snprintf(p->run_id_text, sizeof(p->run_id_text), "0"); /* dry runs record no run */
    if (rc != ETL_OK || p->cfg->dry_run)
        return rc;
    const char *params[1] = {p->cfg->proc->name};
    rc = query_value(p->ctl,
                     "INSERT INTO dwh.etl_runs (processor, status) VALUES ($1, 'running') "
                     "RETURNING id",
                     1, params, p->run_id_text, sizeof(p->run_id_text), err);
    p->run_id = rc == ETL_OK ? strtoll(p->run_id_text, NULL, 10) : 0;
    return rc;
}

static void finish_run(prod *p, const char *status, const char *error)
{
    if (!p->run_id || !p->ctl)
        return;
    const char *params[3] = {status, error, p->run_id_text};
    etl_error ignored;
    /* If the connection is gone, the next run marks this one abandoned. */
    etl_db_exec_params(p->ctl,
                       "UPDATE dwh.etl_runs SET finished = now(), status = $1, error = $2 "
                       "WHERE id = $3",
                       3, params, &ignored);
}

static int sink_to_source(void *ctx, const char *data, size_t len, etl_error *err)
{
    return etl_db_copy_put(ctx, data, len, err);
}

/* The ledger as it is now, in a temp table beside the submissions (see the top). */
static int copy_ledger(prod *p, bool cross, etl_error *err)
{
    int rc = etl_db_exec(p->src,
                         "CREATE TEMP TABLE IF NOT EXISTS etl_done (id uuid PRIMARY KEY); "
                         "TRUNCATE etl_done",
                         err);
    if (rc == ETL_OK && !cross)
        rc = etl_db_exec(p->src,
                         "INSERT INTO pg_temp.etl_done SELECT submission_id FROM dwh.etl_processed",
                         err);
    if (rc == ETL_OK && cross) {
        rc = etl_db_copy_begin(p->src, "COPY pg_temp.etl_done FROM STDIN", err);
        if (rc == ETL_OK) {
            rc = etl_db_copy_out(p->ctl, "COPY dwh.etl_processed (submission_id) TO STDOUT",
                                 sink_to_source, p->src, err);
            etl_error ignored;
            int end = etl_db_copy_end(p->src, rc == ETL_OK ? NULL : "ledger copy failed",
                                      rc == ETL_OK ? err : &ignored);
            if (rc == ETL_OK)
                rc = end;
        }
    }
    if (rc == ETL_OK)
        rc = etl_db_exec(p->src, "ANALYZE pg_temp.etl_done", err);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot list the processed submissions");
}

static int count_backlog(etl_db *src, const char *filter, size_t *out, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    char n[32] = "0";
    int rc = etl_buf_printf(&sql, "SELECT count(*) FROM app.submissions s WHERE %s", filter);
    if (rc == ETL_OK)
        rc = query_value(src, sql.data, 0, NULL, n, sizeof(n), err);
    etl_buf_release(&sql);
    *out = (size_t)strtoull(n, NULL, 10);
    return rc;
}

/* In the batch's own transaction: ledger, rejects, run counters. */
static int record_batch(void *ctx, etl_db *tgt, const etl_batch_log *b, etl_error *err)
{
    prod *p = ctx;
    const char *ids[2] = {b->ids.data, p->run_id_text};
    int rc = etl_db_exec_params(tgt,
                                "INSERT INTO dwh.etl_processed (submission_id, run_id) "
                                "SELECT unnest($1::uuid[]), $2::bigint",
                                2, ids, err);
    for (size_t i = 0; rc == ETL_OK && i < b->nrejects; i++) {
        const char *params[4] = {b->rejects[i].id, p->run_id_text, b->rejects[i].reason,
                                 b->rejects[i].detail};
        rc = etl_db_exec_params(
            tgt,
            "INSERT INTO dwh.etl_rejects (submission_id, run_id, reason, detail) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (submission_id) DO UPDATE SET "
            "run_id = EXCLUDED.run_id, reason = EXCLUDED.reason, detail = EXCLUDED.detail, "
            "rejected_on = now()",
            4, params, err);
    }
    if (rc == ETL_OK && p->run_id) {
        char subs[32];
        char events[32];
        char rejects[32];
        snprintf(subs, sizeof(subs), "%zu", b->submissions);
        snprintf(events, sizeof(events), "%zu", b->events);
        snprintf(rejects, sizeof(rejects), "%zu", b->nrejects);
        const char *params[4] = {subs, events, rejects, p->run_id_text};
        rc = etl_db_exec_params(tgt,
                                "UPDATE dwh.etl_runs SET submissions = submissions + $1, "
                                "events = events + $2, rejects = rejects + $3 WHERE id = $4",
                                4, params, err);
    }
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot record a batch");
}

static void progress(void *ctx, const etl_run_stats *s)
{
    prod *p = ctx;
    double secs = (double)s->elapsed_us / 1e6;
    double rate = secs > 0 ? (double)s->submissions / secs : 0;
    double eta =
        rate > 0 && p->backlog > s->submissions ? (double)(p->backlog - s->submissions) / rate : 0;
    fprintf(stderr, "\retl: %zu/%zu submissions, %zu events, %.0f events/s, ETA %dm%02ds ",
            s->submissions, p->backlog, s->events, secs > 0 ? (double)s->events / secs : 0,
            (int)eta / 60, (int)eta % 60);
    p->progress_shown = 1;
}

int etl_prod_run(const etl_prod_cfg *cfg, etl_prod_result *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    prod p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    const char *target = cfg->target ? cfg->target : cfg->source;
    const char *filter = temp_filter;
    int rc = open_db(&p.ctl, target, cfg, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(p.ctl, err);
    if (rc == ETL_OK)
        rc = take_lock(&p, err);
    if (rc == ETL_OK)
        rc = start_run(&p, err);
    if (rc == ETL_OK && (rc = open_db(&p.src, cfg->source, cfg, err)) == ETL_OK)
        rc = open_db(&p.tgt, target, cfg, err);
    if (rc == ETL_OK)
        rc = copy_ledger(&p, cfg->target != NULL, err);
    if (rc == ETL_OK)
        rc = count_backlog(p.src, filter, &p.backlog, err);
    if (rc == ETL_OK) {
        char processed_on[64];
        etl_utc_now(processed_on, sizeof(processed_on));
        etl_pipeline_cfg pcfg = {.proc = cfg->proc,
                                 .processed_on = processed_on,
                                 .source_filter = filter,
                                 .commit_every =
                                     cfg->batch_size ? cfg->batch_size : ETL_DEFAULT_BATCH,
                                 .max_rejects = cfg->max_rejects,
                                 .dry_run = cfg->dry_run,
                                 .stop = cfg->stop,
                                 .log = cfg->log,
                                 .before_commit = record_batch,
                                 .progress = cfg->progress ? progress : NULL,
                                 .hook_ctx = &p};
        rc = etl_pipeline_run(&pcfg, p.src, p.tgt, &out->stats, err);
        if (p.progress_shown)
            fputc('\n', stderr);
    }
    if (rc != ETL_ERR_LOCKED) {
        const char *status = rc == ETL_OK ? (out->stats.rejected ? "rejects" : "succeeded")
                             : rc == ETL_ERR_INTERRUPTED ? "interrupted"
                             : rc == ETL_ERR_REJECTS     ? "too_many_rejects"
                                                         : "failed";
        finish_run(&p, status, rc == ETL_OK ? NULL : err->msg);
    }
    out->run_id = p.run_id;
    out->backlog = p.backlog;
    etl_db_close(p.tgt);
    etl_db_close(p.src);
    etl_db_close(p.ctl); /* releases the advisory lock */
    return rc;
}

int etl_prod_status(const char *source, const char *target, bool json, FILE *out,
                    const etl_log *log, etl_error *err)
{
    etl_prod_cfg cfg = {.source = source, .target = target, .log = log};
    prod p;
    memset(&p, 0, sizeof(p));
    p.cfg = &cfg;
    etl_result *runs = NULL;
    etl_result *rejects = NULL;
    int rc = open_db(&p.ctl, target ? target : source, &cfg, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(p.ctl, err);
    if (rc == ETL_OK)
        rc = open_db(&p.src, source, &cfg, err);
    if (rc == ETL_OK)
        rc = copy_ledger(&p, target != NULL, err);
    if (rc == ETL_OK)
        rc = count_backlog(p.src, temp_filter, &p.backlog, err);
    if (rc == ETL_OK)
        rc = etl_db_query(p.ctl,
                          "SELECT id, processor, to_char(started, 'YYYY-MM-DD HH24:MI:SS'), "
                          "coalesce(to_char(finished, 'YYYY-MM-DD HH24:MI:SS'), ''), status, "
                          "submissions, events, rejects, coalesce(error, '') "
                          "FROM dwh.etl_runs ORDER BY id DESC LIMIT 10",
                          0, NULL, &runs, err);
    if (rc == ETL_OK)
        rc = etl_db_query(p.ctl,
                          "SELECT reason, count(*) FROM dwh.etl_rejects GROUP BY reason "
                          "ORDER BY 2 DESC, 1",
                          0, NULL, &rejects, err);
    if (rc == ETL_OK && json) {
        fprintf(out, "{\"backlog\":%zu,\"runs\":[", p.backlog);
        for (int i = 0; i < etl_result_rows(runs); i++) {
            fprintf(out, "%s{\"id\":%s,\"processor\":", i ? "," : "", etl_result_get(runs, i, 0));
            etl_json_fput(out, etl_result_get(runs, i, 1));
            fputs(",\"started\":", out);
            etl_json_fput(out, etl_result_get(runs, i, 2));
            fputs(",\"finished\":", out);
            etl_json_fput(out, etl_result_get(runs, i, 3));
            fputs(",\"status\":", out);
            etl_json_fput(out, etl_result_get(runs, i, 4));
            fprintf(out, ",\"submissions\":%s,\"events\":%s,\"rejects\":%s,\"error\":",
                    etl_result_get(runs, i, 5), etl_result_get(runs, i, 6),
                    etl_result_get(runs, i, 7));
            etl_json_fput(out, etl_result_get(runs, i, 8));
            fputc('}', out);
        }
        fputs("],\"rejects\":{", out);
        for (int i = 0; i < etl_result_rows(rejects); i++) {
            fputs(i ? "," : "", out);
            etl_json_fput(out, etl_result_get(rejects, i, 0));
            fprintf(out, ":%s", etl_result_get(rejects, i, 1));
        }
        fputs("}}\n", out);
    } else if (rc == ETL_OK) {
        fprintf(out, "backlog: %zu submissions not yet processed\n", p.backlog);
        fprintf(out, "last runs:\n  %-6s %-14s %-19s %-19s %-17s %11s %10s %8s  %s\n", "id",
                "processor", "started (UTC)", "finished", "status", "submissions", "events",
                "rejects", "error");
        for (int i = 0; i < etl_result_rows(runs); i++)
            fprintf(
                out, "  %-6s %-14s %-19s %-19s %-17s %11s %10s %8s  %s\n",
                etl_result_get(runs, i, 0), etl_result_get(runs, i, 1), etl_result_get(runs, i, 2),
                etl_result_get(runs, i, 3), etl_result_get(runs, i, 4), etl_result_get(runs, i, 5),
                etl_result_get(runs, i, 6), etl_result_get(runs, i, 7), etl_result_get(runs, i, 8));
        fprintf(out, "rejects by reason:%s\n", etl_result_rows(rejects) ? "" : " none");
        for (int i = 0; i < etl_result_rows(rejects); i++)
            fprintf(out, "  %-18s %s\n", etl_result_get(rejects, i, 0),
                    etl_result_get(rejects, i, 1));
    }
    etl_result_free(runs);
    etl_result_free(rejects);
    etl_db_close(p.src);
    etl_db_close(p.ctl);
    return rc;
}
