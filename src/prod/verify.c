/*
 * `etl verify`: recompute every submission's events and compare them with
 * the warehouse (see include/etl/production.h).
 *
 * The staged pipeline runs over the whole source with the processor's
 * transform rules, but its loader writes into a temporary table on the
 * target connection, and every commit batch is compared there, per
 * submission, with what dwh.response_events and dwh.etl_rejects hold
 * (digests over every column but id and processed_on), then emptied: the
 * warehouse is only read, and memory and temporary space stay bounded by
 * the batch.  Warehouse rows of submissions the source no longer has are
 * found at the end, against the list of ids seen.
 *
 * A run committing beside verify could make a submission look different
 * for a moment, so differences are checked a second time before they are
 * reported, and those with a change still queued are counted as pending:
 * the next run will fix them anyway.
 */
#include "etl/production.h"
#include "etl/db.h"
#include "etl/clock.h"
#include "prod.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define VERIFY_BATCH 10000

/* One submission's events as one digest, the same expression on both sides. */
#define EVENTS_DIGEST                                                                              \
    "md5(string_agg(concat_ws('|', form_id, form_name, user_id, user_full_name, "                  \
    "submission_created, schema_path, value, answer_type, tag), E'\\n' ORDER BY schema_path, "     \
    "value, tag, form_id, user_id))"

static const char setup_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_events AS SELECT form_id, form_name, user_id, "
    "user_full_name, submission_id, submission_created, processed_on, schema_path, value, "
    "answer_type, tag FROM dwh.response_events WITH NO DATA;\n"
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_rejects (submission_id uuid, reason text);\n"
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_seen (id uuid);\n"
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_diff (id uuid, kind text);\n"
    "CREATE TEMP TABLE IF NOT EXISTS etl_verify_first (id uuid, kind text);\n"
    "TRUNCATE etl_verify_events, etl_verify_rejects, etl_verify_seen, etl_verify_diff;\n";

/*
 * The batch's submissions (ids) whose recomputed events or reject differ
 * from the warehouse's: missing when the warehouse has nothing for one that
 * should have something, stale otherwise.
 */
static const char compare_sql[] =
    "INSERT INTO pg_temp.etl_verify_diff "
    "WITH ids AS (SELECT DISTINCT unnest($1::uuid[]) id), "
    "want AS (SELECT submission_id id, " EVENTS_DIGEST " d FROM pg_temp.etl_verify_events "
    "GROUP BY 1), "
    "have AS (SELECT submission_id id, " EVENTS_DIGEST " d FROM dwh.response_events "
    "WHERE submission_id IN (SELECT id FROM ids) GROUP BY 1), "
    "have_rej AS (SELECT submission_id id, reason FROM dwh.etl_rejects "
    "WHERE submission_id IN (SELECT id FROM ids)) "
    "SELECT i.id, CASE WHEN h.id IS NULL AND hr.id IS NULL THEN 'missing' ELSE 'stale' END "
    "FROM ids i LEFT JOIN want w ON w.id = i.id LEFT JOIN have h ON h.id = i.id "
    "LEFT JOIN pg_temp.etl_verify_rejects wr ON wr.submission_id = i.id "
    "LEFT JOIN have_rej hr ON hr.id = i.id "
    "WHERE w.d IS DISTINCT FROM h.d OR wr.reason IS DISTINCT FROM hr.reason";

typedef struct verify {
    const etl_verify_cfg *cfg;
    size_t checked;
    const char *step; /* for progress: which pass */
    size_t total;     /* for progress: submissions this pass will recompute */
} verify;

static void pass_progress(void *ctx, const etl_run_stats *so_far)
{
    const verify *v = ctx;
    v->cfg->progress(v->cfg->progress_ctx, v->step, so_far->submissions, v->total);
}

static int compare_batch(void *ctx, etl_db *tgt, const etl_batch_log *b, etl_error *err)
{
    verify *v = ctx;
    const char *ids[1] = {b->ids.len ? b->ids.data : "{}"};
    int rc = ETL_OK;
    for (size_t i = 0; rc == ETL_OK && i < b->nrejects; i++) {
        const char *params[2] = {b->rejects[i].id, b->rejects[i].reason};
        rc = etl_db_exec_params(tgt, "INSERT INTO pg_temp.etl_verify_rejects VALUES ($1, $2)", 2,
                                params, err);
    }
    if (rc == ETL_OK)
        rc = etl_db_exec_params(tgt, compare_sql, 1, ids, err);
    if (rc == ETL_OK)
        rc = etl_db_exec_params(
            tgt, "INSERT INTO pg_temp.etl_verify_seen SELECT unnest($1::uuid[])", 1, ids, err);
    if (rc == ETL_OK)
        rc =
            etl_db_exec(tgt, "TRUNCATE pg_temp.etl_verify_events, pg_temp.etl_verify_rejects", err);
    v->checked += b->submissions;
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot compare a batch with the warehouse");
}

/*
 * One pass: recompute the submissions matching filter (NULL: all), then
 * list warehouse submissions not seen (restricted by extra_filter, a
 * condition on x.submission_id, unless NULL) as extra.
 */
static int pass(verify *v, etl_db *src, etl_db *tgt, const char *filter, const char *extra_filter,
                etl_error *err)
{
    const etl_verify_cfg *cfg = v->cfg;
    etl_processor_cfg proc = *cfg->proc;
    /* Whatever the processor streams with, verify streams: its memory stays bounded. */
    char runner[] = "staged";
    char extractor[] = "chunked";
    char loader[] = "copy";
    proc.runner = runner;
    proc.extractor = extractor;
    proc.loader = loader;
    char processed_on[64];
    etl_utc_now(processed_on, sizeof(processed_on));
    etl_pipeline_cfg pcfg = {.proc = &proc,
                             .processed_on = processed_on,
                             .source_filter = filter,
                             .commit_every = VERIFY_BATCH,
                             .max_rejects = SIZE_MAX,
                             .table = "pg_temp.etl_verify_events",
                             .stop = cfg->stop,
                             .log = cfg->log,
                             .before_commit = compare_batch,
                             .progress = cfg->progress ? pass_progress : NULL,
                             .hook_ctx = v};
    etl_run_stats stats;
    int rc = etl_db_exec(tgt, setup_sql, err);
    if (rc == ETL_OK)
        rc = etl_pipeline_run(&pcfg, src, tgt, &stats, err);
    if (rc != ETL_OK)
        return rc;
    etl_buf sql = ETL_BUF_INIT;
    if (etl_buf_printf(&sql,
                       "INSERT INTO pg_temp.etl_verify_diff SELECT DISTINCT submission_id, "
                       "'extra' FROM (SELECT submission_id FROM dwh.response_events UNION "
                       "SELECT submission_id FROM dwh.etl_rejects) x WHERE NOT EXISTS (SELECT 1 "
                       "FROM pg_temp.etl_verify_seen s WHERE s.id = x.submission_id)%s%s",
                       extra_filter ? " AND " : "", extra_filter ? extra_filter : "") != ETL_OK)
        rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    if (rc == ETL_OK && (rc = etl_db_exec(tgt, sql.data, err)) != ETL_OK)
        etl_error_wrap(err, "cannot look for warehouse rows of deleted submissions");
    etl_buf_release(&sql);
    return rc;
}

/* The differences as a uuid[] literal, into out. */
static int diff_ids(etl_db *tgt, const char *where, etl_buf *out, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    int rc = etl_buf_printf(&sql,
                            "SELECT '{' || coalesce(string_agg(id::text, ','), '') || '}' FROM "
                            "pg_temp.etl_verify_diff%s",
                            where);
    if (rc != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    etl_result *r = NULL;
    rc = etl_db_query(tgt, sql.data, 0, NULL, &r, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK)
        return rc;
    etl_buf_reset(out);
    rc = etl_buf_puts(out, etl_result_get(r, 0, 0));
    etl_result_free(r);
    return rc == ETL_OK ? rc : etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
}

/* Fill the result's counts and examples from the diff table. */
static int collect(etl_db *tgt, etl_verify_result *out, etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(tgt,
                          "SELECT kind, id, count(*) OVER (PARTITION BY kind), row_number() OVER "
                          "(PARTITION BY kind ORDER BY id) FROM pg_temp.etl_verify_diff "
                          "ORDER BY kind, id",
                          0, NULL, &r, err);
    if (rc != ETL_OK)
        return rc;
    for (int i = 0; i < etl_result_rows(r); i++) {
        const char *kind = etl_result_get(r, i, 0);
        int k = strcmp(kind, "missing") == 0 ? 0 : strcmp(kind, "stale") == 0 ? 1 : 2;
        out->count[k] = (size_t)strtoull(etl_result_get(r, i, 2), NULL, 10);
        long nth = strtol(etl_result_get(r, i, 3), NULL, 10);
        if (nth <= ETL_VERIFY_EXAMPLES)
            snprintf(out->examples[k][nth - 1], sizeof(out->examples[k][0]), "%s",
                     etl_result_get(r, i, 1));
    }
    etl_result_free(r);
    return ETL_OK;
}

int etl_prod_verify(const etl_verify_cfg *cfg, etl_verify_result *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    etl_db *src = NULL;
    etl_db *tgt = NULL;
    etl_db *aux = NULL; /* the source again, for queue lookups between passes */
    verify v = {.cfg = cfg, .checked = 0};
    etl_buf ids = ETL_BUF_INIT;
    etl_buf filter = ETL_BUF_INIT;
    bool capture = false;
    etl_capture_state state = ETL_CAPTURE_NONE;
    etl_prod_cfg pc = {.source = cfg->source, .target = cfg->target, .log = cfg->log};
    int rc = etl_prod_open(&tgt, cfg->target ? cfg->target : cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = etl_prod_open(&src, cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = etl_prod_open(&aux, cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = etl_capture_state_of(src, &state, err);
    capture = state != ETL_CAPTURE_NONE;
    /* Counted only for a progress line: it costs a scan, small beside recomputing them all. */
    char total[32] = "0";
    if (rc == ETL_OK && cfg->progress)
        rc = etl_prod_value(src, "SELECT count(*) FROM app.submissions", 0, NULL, total,
                            sizeof(total), err);
    v.step = "recompute";
    v.total = (size_t)strtoull(total, NULL, 10);
    if (rc == ETL_OK)
        rc = pass(&v, src, tgt, NULL, NULL, err);
    out->checked = v.checked;
    /* Second look at what differed, in case a run committed it meanwhile. */
    char count[32] = "0";
    if (rc == ETL_OK)
        rc = etl_prod_value(tgt, "SELECT count(*) FROM pg_temp.etl_verify_diff", 0, NULL, count,
                            sizeof(count), err);
    if (rc == ETL_OK && strcmp(count, "0") != 0) {
        rc = etl_db_exec(tgt,
                         "TRUNCATE pg_temp.etl_verify_first; INSERT INTO pg_temp.etl_verify_first "
                         "SELECT * FROM pg_temp.etl_verify_diff",
                         err);
        if (rc == ETL_OK)
            rc = diff_ids(tgt, " WHERE kind <> 'extra'", &ids, err);
        if (rc == ETL_OK && etl_buf_printf(&filter, "s.id = ANY('%s'::uuid[])", ids.data) != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        v.step = "recheck";
        v.total = 0;
        for (const char *c = ids.data; c && *c; c++)
            v.total += *c == ','; /* ids is {a,b,...}: one more id than commas */
        v.total += ids.len > 2;
        if (rc == ETL_OK)
            rc = pass(&v, src, tgt, filter.data,
                      "x.submission_id IN (SELECT id FROM pg_temp.etl_verify_first "
                      "WHERE kind = 'extra')",
                      err);
    }
    /* Differences with a change still queued are the next run's work, not a fault. */
    if (rc == ETL_OK && capture && (rc = diff_ids(tgt, "", &ids, err)) == ETL_OK) {
        const char *params[1] = {ids.data};
        etl_result *r = NULL;
        rc = etl_db_query(aux,
                          "SELECT '{' || coalesce(string_agg(d::text, ','), '') || '}', count(*) "
                          "FROM unnest($1::uuid[]) d WHERE EXISTS (SELECT 1 FROM etl.queue q "
                          "WHERE q.kind = 's' AND q.id = d) OR EXISTS (SELECT 1 FROM "
                          "app.submissions s JOIN etl.queue q ON q.kind = 'f' AND q.id = "
                          "s.form_id OR q.kind = 'u' AND q.id = s.user_id WHERE s.id = d)",
                          1, params, &r, err);
        if (rc == ETL_OK) {
            out->pending = (size_t)strtoull(etl_result_get(r, 0, 1), NULL, 10);
            const char *pending[1] = {etl_result_get(r, 0, 0)};
            rc = etl_db_exec_params(tgt,
                                    "DELETE FROM pg_temp.etl_verify_diff WHERE id = "
                                    "ANY($1::uuid[])",
                                    1, pending, err);
        }
        etl_result_free(r);
    }
    if (rc == ETL_OK)
        rc = collect(tgt, out, err);
    if (rc == ETL_OK && cfg->repair && out->count[0] + out->count[1] + out->count[2] > 0 &&
        (rc = diff_ids(tgt, "", &ids, err)) == ETL_OK) {
        if (capture) {
            rc = etl_capture_enqueue_ids(aux, ids.data, &out->repaired, err);
        } else {
            /* No queue: forget them; the next ledger scan loads what the source still has. */
            rc = etl_prod_forget(tgt, ids.data, err);
            out->repaired = out->count[0] + out->count[1] + out->count[2];
        }
        if (rc != ETL_OK)
            etl_error_wrap(err, "cannot hand the differing submissions to the next run");
    }
    out->capture = capture;
    etl_buf_release(&ids);
    etl_buf_release(&filter);
    etl_db_close(aux);
    etl_db_close(src);
    etl_db_close(tgt);
    return rc;
}
