/*
 * Production mode (see include/etl/production.h and docs/cron.md).
 *
 * With change capture a run is a loop of batches.  Each batch:
 *   1. claims up to --batch-size queued submissions on the source (FOR
 *      UPDATE SKIP LOCKED, in a transaction kept open on its own
 *      connection, so concurrent runs take disjoint rows; with --jobs,
 *      fewer as the queue empties: etl_prod_claim_size);
 *   2. begins the target transaction and upserts the claimed ids' ledger
 *      rows: row locks, held until commit, that make every other worker
 *      touching one of these submissions wait;
 *   3. only then reads the submissions (a snapshot taken after the lock, so
 *      of two workers on one submission the later committer read the later
 *      data), deletes their old events and rejects, loads the new ones,
 *      drops the ledger rows of submissions that no longer exist, commits;
 *   4. deletes exactly the claimed queue rows and commits the claim.
 * A crash between 3 and 4 leaves the queue rows, and the next run replaces
 * the same submissions again: a harmless redo, never a loss.  A change
 * committed after step 1 has a queue row of its own that step 4 does not
 * delete.  The claim only spreads the work; the guard is the target's row
 * locks, which die with their transaction: a lost claim connection fails
 * the run when its release is collected, and its rows are simply done
 * again.
 *
 * What is not loading stays out of the load's way: two claim connections
 * take turns, so that step 4 of one batch runs, unwaited, while the other
 * claims and the next batch loads; and neither step 3's commit (when the
 * queue is in the target's database) nor step 4's waits for its WAL to
 * reach disk.  A server crash loses commits newest first, so it can lose a
 * release (a redo) but never keep one without its batch.  With the target
 * in another database step 3's commit waits for the disk, whatever the
 * server's synchronous_commit, before its release is sent.  The run's
 * record is committed last and waits too, so a run that reports success
 * has its batches on disk.
 *
 * Without capture a run reads the submissions that have no ledger row and
 * inserts those rows in each batch's transaction; one run at a time, by an
 * advisory lock on the target connection itself, so losing the lock means
 * losing the connection that loads, which fails the run.
 */
#include "etl/production.h"
#include "etl/db.h"
#include "etl/runner.h"
#include "etl/clock.h"
#include "etl/mem.h"
#include "etl/schema.h"
#include "prod.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* pg_try_advisory_lock key: "etl" in ASCII.  One ledger-scan run per target database. */
#define LOCK_KEY "7628140"
/* Advisory lock class held by every live run on its own id: how others tell it is alive. */
#define RUN_LOCK "7628141, (id % 2147483647)::int"
/* Transaction-level lock folding an idle run into the row before it (finish_run). */
#define FOLD_LOCK "7628142"
/* A commit that waits for the disk whatever the server's default (see the top). */
#define DURABLE(is_local)                                                                          \
    "SELECT set_config('synchronous_commit', 'on', " is_local ") WHERE "                           \
    "current_setting('synchronous_commit') IN ('off', 'local')"

/* Queue rows held by a transaction open on a source connection of their own (capture). */
typedef struct claim {
    etl_db *db;
    etl_buf sql;    /* the release sent, kept while the server runs it */
    bool open;      /* its claim's transaction is open */
    bool sent;      /* its release is in flight (release_send) */
    bool releasing; /* ... and removes a loaded batch's rows */
    size_t rows;    /* queue rows claimed */
    etl_buf ids;    /* the claimed submission ids, a uuid[] literal */
    etl_buf seqs;   /* the claimed queue rows, a bigint[] literal */
} claim;

typedef struct prod {
    const etl_prod_cfg *cfg;
    const char *target;
    etl_db *src; /* source: the extractor's */
    etl_db *tgt; /* target: loads, ledger, run record, run lock */
    bool capture;
    bool cross; /* the target is another database */
    long long run_id;
    char run_id_text[32];
    size_t backlog;
    etl_run_stats done; /* committed batches of earlier claims */
    claim claims[2];    /* capture: two claim connections, taking turns (run_queue) */
    claim *cur;         /* capture: the claim loading */
    size_t taken;       /* capture: queue rows this run has claimed so far */
    size_t claimed;     /* capture: distinct submissions of the current claim */
    char after_seq[32]; /* capture: claim rows past this seq (a dry run keeps its rows) */
    char max_seq[32];   /* capture: ... and up to this one, the newest when the run began */
} prod;

static int ensure_initialised(etl_db *tgt, etl_error *err)
{
    char ok[8];
    int rc = etl_prod_value(tgt, "SELECT to_regclass('dwh.etl_processed') IS NOT NULL", 0, NULL, ok,
                            sizeof(ok), err);
    if (rc == ETL_OK && strcmp(ok, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "the target has no etl tables yet; run `etl init --db CONNINFO` "
                           "(with the same --target, if any) first");
    return rc;
}

/* Which mode the source is in; an incomplete capture is an error, never a silent gap. */
static int capture_mode(etl_db *src, bool *capture, etl_error *err)
{
    etl_capture_state state;
    int rc = etl_capture_state_of(src, &state, err);
    if (rc == ETL_OK && state == ETL_CAPTURE_INCOMPLETE)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "change capture on the source is incomplete (a trigger on app."
                           "submissions, app.forms or app.users is missing or disabled), so "
                           "changes may have been missed; run `etl init` again, then `etl "
                           "verify --repair`");
    *capture = state == ETL_CAPTURE_ON;
    return rc;
}

int etl_prod_has_capture(const etl_prod_cfg *cfg, bool *capture, etl_error *err)
{
    etl_db *src = NULL;
    *capture = false;
    int rc = etl_prod_open(&src, cfg->source, cfg, err);
    if (rc == ETL_OK)
        rc = capture_mode(src, capture, err);
    etl_db_close(src);
    return rc;
}

int etl_prod_init(const etl_prod_init_cfg *cfg, etl_prod_init_result *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    etl_prod_cfg pc = {.source = cfg->source, .target = cfg->target, .log = cfg->log};
    etl_db *src = NULL;
    etl_db *tgt = NULL;
    int rc = etl_prod_open(&src, cfg->source, &pc, err);
    char ok[8];
    if (rc == ETL_OK)
        rc = etl_prod_value(src, "SELECT to_regclass('app.submissions') IS NOT NULL", 0, NULL, ok,
                            sizeof(ok), err);
    if (rc == ETL_OK && strcmp(ok, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "the source database has no app.submissions table: is --db the "
                           "application's database?");
    if (rc == ETL_OK && cfg->capture &&
        (rc = etl_prod_value(src,
                             "SELECT to_regclass('app.forms') IS NOT NULL AND "
                             "to_regclass('app.users') IS NOT NULL",
                             0, NULL, ok, sizeof(ok), err)) == ETL_OK &&
        strcmp(ok, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "change capture needs app.forms and app.users beside "
                           "app.submissions; the source lacks one (or use --no-capture)");
    etl_capture_state state = ETL_CAPTURE_NONE;
    if (rc == ETL_OK && (rc = etl_capture_state_of(src, &state, err)) == ETL_OK && !cfg->capture &&
        state != ETL_CAPTURE_NONE)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "init --no-capture: the source already has change capture, and "
                           "runs use it; to go back to the ledger scan, drop it first with "
                           "DROP SCHEMA etl CASCADE");
    if (rc == ETL_OK && cfg->target)
        rc = etl_prod_open(&tgt, cfg->target, &pc, err);
    if (rc == ETL_OK && (rc = etl_db_exec(tgt ? tgt : src, etl_schema_dwh_sql, err)) != ETL_OK)
        etl_error_wrap(err, "cannot create the dwh tables");
    if (rc == ETL_OK && cfg->capture)
        rc = etl_capture_install(src, tgt ? tgt : src, tgt != NULL, &out->queued, &out->repaired,
                                 err);
    if (rc == ETL_OK && cfg->capture && cfg->indexes)
        rc = etl_capture_indexes(src, &out->indexes, err);
    out->capture = rc == ETL_OK && cfg->capture;
    etl_db_close(src);
    etl_db_close(tgt);
    return rc;
}

/* ---- the run record ------------------------------------------------------ */

/*
 * Record the run as running, holding an advisory lock on its id for as long
 * as the target connection lives.  A run still marked running whose lock is
 * free has died (killed, or its connection lost): mark it abandoned.  A
 * live one, even if it started long ago, keeps its lock and its status.
 */
static int start_run(prod *p, etl_error *err)
{
    int rc = etl_db_exec(p->tgt,
                         "UPDATE dwh.etl_runs SET status = 'abandoned', finished = now(), "
                         "error = 'ended without finishing: killed, or its connection was lost; "
                         "its open batch was rolled back' WHERE status = 'running' AND "
                         "pg_try_advisory_xact_lock(" RUN_LOCK ")",
                         err);
    snprintf(p->run_id_text, sizeof(p->run_id_text), "0"); /* dry runs record no run */
    if (rc != ETL_OK || p->cfg->dry_run)
        return rc;
    const char *params[1] = {p->cfg->proc->name};
    rc = etl_prod_value(p->tgt,
                        "WITH r AS (INSERT INTO dwh.etl_runs (processor, status) VALUES ($1, "
                        "'running') RETURNING id) SELECT id, pg_advisory_lock(" RUN_LOCK ") FROM r",
                        1, params, p->run_id_text, sizeof(p->run_id_text), err);
    p->run_id = rc == ETL_OK ? strtoll(p->run_id_text, NULL, 10) : 0;
    return rc;
}

static const char end_sql[] = "UPDATE dwh.etl_runs SET finished = now(), status = $1, error = $2 "
                              "WHERE id = $3";

/*
 * An idle run (it found nothing to do) folds into the row before it when
 * that row is idle too, and deletes its own: so a failure is not pushed out
 * of sight by a run every minute that does nothing.  Only the immediately
 * preceding row, so anything between (a run that worked, failed or is still
 * going) breaks the fold and stays visible.  The transaction-level lock
 * serialises idle runs ending at once: the second then sees the first's
 * fold (each statement takes a new snapshot) and counts on the same row,
 * instead of both folding into a row the other has just deleted.  Folding
 * is cosmetic: on any failure the caller records the end plainly.
 */
static int fold_idle(etl_db *db, const char *run_id, etl_error *err)
{
    const char *params[1] = {run_id};
    char folded[32] = "";
    int rc = etl_db_exec(db, "BEGIN", err);
    if (rc == ETL_OK)
        rc = etl_db_exec(db, "SELECT pg_advisory_xact_lock(" FOLD_LOCK ")", err);
    if (rc == ETL_OK)
        rc = etl_prod_value(db,
                            "WITH prev AS (SELECT id FROM dwh.etl_runs WHERE id < $1 ORDER BY id "
                            "DESC LIMIT 1) UPDATE dwh.etl_runs r SET idle_runs = r.idle_runs + 1, "
                            "last_idle = now() FROM prev WHERE r.id = prev.id AND r.idle_runs > 0 "
                            "AND r.processor = (SELECT processor FROM dwh.etl_runs WHERE id = $1) "
                            "RETURNING r.id",
                            1, params, folded, sizeof(folded), err);
    if (rc == ETL_OK)
        rc = etl_db_exec_params(db,
                                folded[0] ? "DELETE FROM dwh.etl_runs WHERE id = $1"
                                          : "UPDATE dwh.etl_runs SET finished = now(), status = "
                                            "'succeeded', error = NULL, idle_runs = 1, last_idle "
                                            "= now() WHERE id = $1",
                                1, params, err);
    if (rc == ETL_OK)
        rc = etl_db_exec(db, "COMMIT", err);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_db_exec(db, "ROLLBACK", &ignored);
    }
    return rc;
}

static int record_end(etl_db *db, const char *const *params, bool idle, etl_error *err)
{
    etl_error ignored;
    int rc = etl_db_exec(db, DURABLE("false"), err);
    if (rc != ETL_OK)
        return rc;
    if (idle && fold_idle(db, params[2], &ignored) == ETL_OK)
        return ETL_OK;
    return etl_db_exec_params(db, end_sql, 3, params, err);
}

/*
 * Set the run's end.  If the target connection is gone, a new one does it:
 * the record must tell the truth, and a run that cannot record its end fails.
 * Idle means it found nothing queued (no backlog), or, beside other workers,
 * claimed nothing: a success that did nothing.
 */
static int finish_run(prod *p, const char *status, const char *error, etl_error *err)
{
    if (!p->run_id)
        return ETL_OK;
    bool idle =
        strcmp(status, "succeeded") == 0 && (p->backlog == 0 || (p->capture && p->claimed == 0));
    const char *params[3] = {status, error, p->run_id_text};
    etl_error first;
    if (p->tgt && record_end(p->tgt, params, idle, &first) == ETL_OK)
        return ETL_OK;
    etl_db *again = NULL;
    int rc = etl_prod_open(&again, p->target, p->cfg, err);
    if (rc == ETL_OK)
        rc = record_end(again, params, idle, err);
    etl_db_close(again);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot record the end of run %lld", p->run_id);
}

static int take_lock(prod *p, etl_error *err)
{
    char got[8];
    int rc = etl_prod_value(p->tgt, "SELECT pg_try_advisory_lock(" LOCK_KEY ")", 0, NULL, got,
                            sizeof(got), err);
    if (rc == ETL_OK && strcmp(got, "t") != 0)
        rc = etl_error_set(err, ETL_ERR_LOCKED,
                           "another etl run is in progress on this target; nothing was done");
    return rc;
}

/* The batch's rejects and the run's counters, in the batch's own transaction. */
static int record_rejects_and_counts(prod *p, etl_db *tgt, const etl_batch_log *b, etl_error *err)
{
    int rc = ETL_OK;
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
    return rc;
}

static void progress(void *ctx, const etl_run_stats *now)
{
    prod *p = ctx;
    etl_run_stats so_far = *now;
    so_far.submissions += p->done.submissions;
    so_far.events += p->done.events;
    so_far.rejected += p->done.rejected;
    so_far.batches += p->done.batches;
    so_far.elapsed_us += p->done.elapsed_us;
    p->cfg->progress(p->cfg->progress_ctx, &so_far, p->backlog);
}

static etl_pipeline_cfg pipeline_cfg(prod *p, const char *processed_on)
{
    const etl_prod_cfg *cfg = p->cfg;
    return (etl_pipeline_cfg){.proc = cfg->proc,
                              .processed_on = processed_on,
                              .max_rejects = cfg->max_rejects,
                              .dry_run = cfg->dry_run,
                              .stop = cfg->stop,
                              .log = cfg->log,
                              .progress = cfg->progress ? progress : NULL,
                              .hook_ctx = p};
}

/* ---- the ledger scan (no capture) ------------------------------------------ */

static int record_batch_ledger(void *ctx, etl_db *tgt, const etl_batch_log *b, etl_error *err)
{
    prod *p = ctx;
    const char *ids[2] = {b->ids.len ? b->ids.data : "{}", p->run_id_text};
    int rc = etl_db_exec_params(tgt,
                                "INSERT INTO dwh.etl_processed (submission_id, run_id) "
                                "SELECT unnest($1::uuid[]), $2::bigint",
                                2, ids, err);
    if (rc == ETL_OK)
        rc = record_rejects_and_counts(p, tgt, b, err);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot record a batch");
}

static int count_backlog(etl_db *src, const char *filter, size_t *out, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    char n[32] = "0";
    int rc = etl_buf_printf(&sql, "SELECT count(*) FROM app.submissions s WHERE %s", filter);
    if (rc == ETL_OK)
        rc = etl_prod_value(src, sql.data, 0, NULL, n, sizeof(n), err);
    etl_buf_release(&sql);
    *out = (size_t)strtoull(n, NULL, 10);
    return rc;
}

/*
 * The cursor anti-joins the ledger.  Where the ledger is in the same
 * database it is read in place, with nested loops off: a nested loop would
 * rescan the ledger per submission, this run's own new rows included
 * (invisible to the cursor, but scanned), which is quadratic on a first
 * run; a hash or merge anti-join reads it once.  Across databases it is
 * copied once into a temporary table beside the submissions.
 */
/* Submissions per transaction (ledger scan) or per claim (queue). */
static size_t batch_size(const etl_prod_cfg *cfg)
{
    return cfg->batch_size ? cfg->batch_size : ETL_DEFAULT_BATCH;
}

static int run_ledger_scan(prod *p, const char *processed_on, etl_run_stats *stats, etl_error *err)
{
    const char *filter =
        p->cross ? "NOT EXISTS (SELECT 1 FROM pg_temp.etl_done d WHERE d.id = s.id)"
                 : "NOT EXISTS (SELECT 1 FROM dwh.etl_processed p WHERE p.submission_id = s.id)";
    int rc = p->cross ? etl_prod_copy_ledger(p->src, p->tgt, true, err)
                      : etl_db_exec(p->src, "SET enable_nestloop = off", err);
    if (rc == ETL_OK)
        rc = count_backlog(p->src, filter, &p->backlog, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot list the submissions to process");
    etl_pipeline_cfg pcfg = pipeline_cfg(p, processed_on);
    pcfg.source_filter = filter;
    pcfg.commit_every = batch_size(p->cfg);
    pcfg.before_commit = record_batch_ledger;
    return etl_pipeline_run(&pcfg, p->src, p->tgt, stats, err);
}

/* ---- the change queue (capture) -------------------------------------------- */

size_t etl_prod_claim_size(size_t left, int jobs, size_t batch)
{
    if (jobs < 2)
        return batch;
    size_t share = (left + 2 * (size_t)jobs - 1) / (2 * (size_t)jobs);
    size_t least = batch / 20 ? batch / 20 : 1;
    return share < least ? least : share > batch ? batch : share;
}

/*
 * How many queue rows the next claim takes.  Alone: the batch size.  With
 * --jobs, from what is left past this run's last claim, counted no further
 * than where the share reaches the batch size.
 */
static int claim_limit(prod *p, etl_db *db, size_t *limit, etl_error *err)
{
    size_t batch = batch_size(p->cfg);
    *limit = batch;
    if (p->cfg->jobs < 2)
        return ETL_OK;
    char enough[32];
    char left[32] = "0";
    snprintf(enough, sizeof(enough), "%llu", 2ULL * (unsigned)p->cfg->jobs * batch);
    const char *params[3] = {p->after_seq, p->max_seq, enough};
    int rc = etl_prod_value(db,
                            "SELECT count(*) FROM (SELECT FROM etl.queue WHERE kind = 's' AND "
                            "seq > $1 AND seq <= $2 LIMIT $3) q",
                            3, params, left, sizeof(left), err);
    *limit = etl_prod_claim_size((size_t)strtoull(left, NULL, 10), p->cfg->jobs, batch);
    return rc;
}

/*
 * A release failed.  Of a loaded batch, the run fails saying so; a claim
 * given back (nothing loaded) goes back anyway when its connection closes.
 */
static int release_failed(const claim *c, etl_error *err)
{
    if (!c->releasing)
        return ETL_OK;
    etl_error_wrap(err, "a batch was loaded, but its queue rows could not be removed; the "
                        "next run derives those submissions again (nothing is lost or "
                        "duplicated)");
    err->code = ETL_ERR_DB; /* a runtime failure of the run, whatever the cause */
    return err->code;
}

/*
 * Step 4, sent without waiting: the claimed rows are done (or, after a dry
 * run or a claim of nothing, given back).  It runs while the other claim
 * connection claims and the next batch loads; release_wait collects it.
 * The seqs are numbers the server gave, so the statement needs no
 * parameters (which a statement sent with its COMMIT could not have).
 */
static int release_send(prod *p, claim *c, etl_error *err)
{
    assert(!c->sent); /* the seam reads c->sql until the release is collected */
    if (!c->open)
        return ETL_OK;
    c->open = false;
    c->releasing = c->rows > 0 && !p->cfg->dry_run;
    etl_buf_reset(&c->sql);
    if (c->releasing ? etl_buf_printf(
                           &c->sql, "DELETE FROM etl.queue WHERE seq = ANY('%s'::bigint[]); COMMIT",
                           c->seqs.data) != ETL_OK
                     : etl_buf_puts(&c->sql, "ROLLBACK") != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_send_query(c->db, c->sql.data, err);
    c->sent = rc == ETL_OK;
    return rc == ETL_OK ? rc : release_failed(c, err);
}

static int release_wait(claim *c, etl_error *err)
{
    if (!c->sent)
        return ETL_OK;
    c->sent = false;
    etl_result *r = NULL;
    int rc = etl_db_wait_query(c->db, &r, err);
    etl_result_free(r);
    return rc == ETL_OK ? rc : release_failed(c, err);
}

/*
 * Step 1: claim queued submissions on c's connection (its previous release
 * collected first), the transaction left open.  c->rows: queue rows
 * claimed (0: nothing left for this run).  The release need not reach disk
 * before the run goes on: a lost release is a redo.
 */
static int claim_rows(prod *p, claim *c, etl_error *err)
{
    size_t most = 0;
    char limit[32];
    c->rows = 0;
    int rc = c->db ? release_wait(c, err) : etl_prod_open(&c->db, p->cfg->source, p->cfg, err);
    if (rc == ETL_ERR_CONNECT && p->taken > 0) { /* mid-run: a runtime failure, not exit 4 */
        etl_error_wrap(err, "cannot open a second claim connection");
        err->code = rc = ETL_ERR_DB;
    }
    if (rc != ETL_OK)
        return rc;
    rc = claim_limit(p, c->db, &most, err);
    snprintf(limit, sizeof(limit), "%zu", most);
    const char *params[3] = {p->after_seq, p->max_seq, limit};
    etl_result *r = NULL;
    if (rc == ETL_OK)
        rc = etl_db_exec(c->db, "BEGIN; SET LOCAL synchronous_commit = off", err);
    c->open = rc == ETL_OK;
    if (rc == ETL_OK)
        rc = etl_db_query(c->db,
                          "SELECT seq, id FROM etl.queue WHERE kind = 's' AND seq > $1 AND "
                          "seq <= $2 ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED",
                          3, params, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot claim queued changes");
    int rows = etl_result_rows(r);
    etl_buf_reset(&c->ids);
    etl_buf_reset(&c->seqs);
    for (int i = 0; rc == ETL_OK && i < rows; i++) {
        if (etl_buf_printf(&c->seqs, "%c%s", i ? ',' : '{', etl_result_get(r, i, 0)) != ETL_OK ||
            etl_buf_printf(&c->ids, "%c%s", i ? ',' : '{', etl_result_get(r, i, 1)) != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    if (rc == ETL_OK && rows > 0) {
        snprintf(p->after_seq, sizeof(p->after_seq), "%s", etl_result_get(r, rows - 1, 0));
        if (etl_buf_putc(&c->seqs, '}') != ETL_OK || etl_buf_putc(&c->ids, '}') != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    etl_result_free(r);
    c->rows = (size_t)rows;
    /*
     * The other queue rows of the same submissions too: a submission edited
     * twice would otherwise go to two workers at once, and one would wait
     * for the other's ledger lock for a whole batch.
     */
    if (rc == ETL_OK && rows > 0) {
        const char *more[3] = {c->ids.data, p->max_seq, c->seqs.data};
        rc = etl_db_query(c->db,
                          "SELECT seq FROM etl.queue WHERE kind = 's' AND id = ANY($1::uuid[]) "
                          "AND seq <= $2 AND NOT (seq = ANY($3::bigint[])) FOR UPDATE SKIP LOCKED",
                          3, more, &r, err);
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot claim queued changes");
        if (etl_result_rows(r) > 0)
            c->seqs.len--; /* reopen the literal */
        for (int i = 0; rc == ETL_OK && i < etl_result_rows(r); i++)
            if (etl_buf_printf(&c->seqs, ",%s", etl_result_get(r, i, 0)) != ETL_OK)
                rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        if (rc == ETL_OK && etl_result_rows(r) > 0 && etl_buf_putc(&c->seqs, '}') != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        c->rows += (size_t)etl_result_rows(r);
        etl_result_free(r);
    }
    p->taken += c->rows;
    return rc;
}

/*
 * Step 2, first in the target transaction: the claimed submissions' ledger
 * rows become this run's, in id order, so that two workers with overlapping
 * ids cannot deadlock: row locks held until commit, the guard against a
 * second worker.  Then their events and rejects go: not only where the
 * ledger had a row, so events without one (a hand edit) go too.
 */
static int lock_and_clear(void *ctx, etl_db *tgt, etl_error *err)
{
    prod *p = ctx;
    const char *params[2] = {p->cur->ids.data, p->run_id_text};
    char count[32] = "0";
    /*
     * Every statement of this transaction reaches rows by key.  Without this
     * the planner, misled by a table that grows during a first run (no
     * statistics yet), deletes by scanning dwh.response_events whole, once
     * per batch: quadratic.  The commit need not wait for the disk when the
     * queue's release that follows it is in the same WAL, and must when it
     * is not (see the top).
     */
    int rc = etl_db_exec(tgt,
                         p->cross ? "SET LOCAL enable_seqscan = off; " DURABLE("true")
                                  : "SET LOCAL enable_seqscan = off; "
                                    "SET LOCAL synchronous_commit = off",
                         err);
    if (rc == ETL_OK)
        rc = etl_prod_value(tgt,
                            "WITH up AS (INSERT INTO dwh.etl_processed (submission_id, run_id) "
                            "SELECT id, $2::bigint FROM (SELECT DISTINCT id FROM "
                            "unnest($1::uuid[]) id) c ORDER BY id ON CONFLICT (submission_id) DO "
                            "UPDATE SET run_id = EXCLUDED.run_id RETURNING 1) "
                            "SELECT count(*) FROM up",
                            2, params, count, sizeof(count), err);
    p->claimed = (size_t)strtoull(count, NULL, 10);
    if (rc == ETL_OK)
        rc = etl_db_exec_params(tgt,
                                "WITH events AS (DELETE FROM dwh.response_events WHERE "
                                "submission_id = ANY($1::uuid[])) "
                                "DELETE FROM dwh.etl_rejects WHERE submission_id = ANY($1::uuid[])",
                                1, params, err);
    if (rc != ETL_OK && strcmp(err->sqlstate, "55P03") == 0)
        return etl_error_wrap(err, "another run is still working on some of these submissions "
                                   "and the lock timeout ran out; nothing of this batch was "
                                   "kept, the next run takes it (with overlapping runs, leave "
                                   "--lock-timeout unset)");
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot lock the claimed submissions");
}

/* Step 3's end: a claimed submission the source no longer has leaves nothing behind. */
static int record_batch_queue(void *ctx, etl_db *tgt, const etl_batch_log *b, etl_error *err)
{
    prod *p = ctx;
    const char *params[2] = {p->cur->ids.data, b->ids.len ? b->ids.data : "{}"};
    int rc = ETL_OK;
    if (b->submissions < p->claimed)
        rc = etl_db_exec_params(tgt,
                                "DELETE FROM dwh.etl_processed p USING (SELECT unnest($1::uuid[]) "
                                "EXCEPT SELECT unnest($2::uuid[])) gone (id) "
                                "WHERE p.submission_id = gone.id",
                                2, params, err);
    if (rc == ETL_OK)
        rc = record_rejects_and_counts(p, tgt, b, err);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot record a batch");
}

/* Steps 2 and 3 for the current claim. */
static int load_claim(prod *p, const char *processed_on, etl_buf *filter, etl_error *err)
{
    etl_log_verbose(p->cfg->log, "claimed %zu queued changes", p->cur->rows);
    etl_buf_reset(filter);
    if (etl_buf_printf(filter, "s.id = ANY('%s'::uuid[])", p->cur->ids.data) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    etl_pipeline_cfg pcfg = pipeline_cfg(p, processed_on);
    pcfg.source_filter = filter->data;
    /*
     * By id, so that the primary key finds the claimed rows in that order
     * and a claim costs what it claims.  Oldest first, the cursor (planned
     * to start fast) may read the creation index whole and filter it, once
     * per claim.  On a small table that scan is cheaper than the key's
     * random reads (docs/performance.md, the change table).
     */
    pcfg.source_order = "s.id";
    pcfg.commit_every = 0; /* one transaction per claim */
    pcfg.max_rejects =
        p->cfg->max_rejects == SIZE_MAX ? SIZE_MAX : p->cfg->max_rejects - p->done.rejected;
    pcfg.after_begin = lock_and_clear;
    pcfg.before_commit = record_batch_queue;
    etl_run_stats one;
    int rc = etl_pipeline_run(&pcfg, p->src, p->tgt, &one, err);
    /* Past --max-rejects the batch was committed all the same: its claim is done too. */
    if (rc == ETL_OK || rc == ETL_ERR_REJECTS) {
        etl_run_stats_add(&p->done, &one);
        p->done.elapsed_us += one.elapsed_us;
    }
    return rc;
}

/*
 * Claim after claim until none is left, on two claim connections in turn,
 * so that a loaded claim's release runs while the other connection claims
 * and the next batch loads.  The second connection opens only when the
 * first claim left some of the backlog behind.  A claim not loaded (a
 * failed run's) goes back to the queue when its connection closes.
 */
static int run_queue(prod *p, const char *processed_on, etl_run_stats *stats, etl_error *err)
{
    int rc = etl_capture_expand(p->src, err);
    if (rc == ETL_OK)
        rc =
            etl_capture_queue_stats(p->src, &p->backlog, p->max_seq, sizeof(p->max_seq), NULL, err);
    /* Claim connections only when there is something to claim: idle runs stay cheap. */
    if (rc != ETL_OK || p->backlog == 0) {
        *stats = p->done;
        return rc;
    }
    snprintf(p->after_seq, sizeof(p->after_seq), "0");
    p->cur = &p->claims[0];
    rc = claim_rows(p, p->cur, err);
    etl_buf filter = ETL_BUF_INIT;
    while (rc == ETL_OK && p->cur->rows > 0) {
        if (p->cfg->stop && *p->cfg->stop) {
            rc = etl_error_set(err, ETL_ERR_INTERRUPTED, "interrupted between batches");
            break;
        }
        rc = load_claim(p, processed_on, &filter, err);
        if (rc != ETL_OK && rc != ETL_ERR_REJECTS)
            break;
        /* Past --max-rejects the run stops, this claim's release the last. */
        etl_error released_err;
        int released = release_send(p, p->cur, &released_err);
        if (released != ETL_OK) {
            *err = released_err;
            rc = released;
        }
        claim *next = p->cur == &p->claims[0] ? &p->claims[1] : &p->claims[0];
        next->rows = 0;
        /* A second connection only if the backlog counted at the start is not all taken. */
        if (rc == ETL_OK && (next->db || p->taken < p->backlog))
            rc = claim_rows(p, next, err);
        p->cur = next;
    }
    if (rc == ETL_OK) /* a claim of nothing, given back */
        rc = release_send(p, p->cur, err);
    /* The last releases in flight: one that failed says so unless the run already failed. */
    for (int i = 0; i < 2; i++) {
        etl_error waited_err;
        int waited = release_wait(&p->claims[i], &waited_err);
        if (waited != ETL_OK &&
            (rc == ETL_OK || rc == ETL_ERR_REJECTS || rc == ETL_ERR_INTERRUPTED)) {
            *err = waited_err;
            rc = waited;
        }
    }
    etl_buf_release(&filter);
    *stats = p->done;
    stats->peak_rss_kib = etl_mem_peak_kib();
    return rc;
}

int etl_prod_check_processor(const etl_prod_cfg *cfg, etl_error *err)
{
    const etl_runner_entry *runner = etl_registry_find_runner(cfg->proc->runner);
    if (runner && !runner->stages)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "processor %s runs in scenario mode only: the %s runner records no "
                             "per-submission bookkeeping; use copy for in-place runs",
                             cfg->proc->name, runner->name);
    return ETL_OK;
}

int etl_prod_run(const etl_prod_cfg *cfg, etl_prod_result *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = etl_prod_check_processor(cfg, err);
    if (rc != ETL_OK)
        return rc;
    prod p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.cross = cfg->target != NULL;
    p.target = cfg->target ? cfg->target : cfg->source;
    long long t0 = etl_now_us();
    rc = etl_prod_open(&p.tgt, p.target, cfg, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(p.tgt, err);
    if (rc == ETL_OK)
        rc = etl_prod_open(&p.src, cfg->source, cfg, err);
    if (rc == ETL_OK)
        rc = capture_mode(p.src, &p.capture, err);
    if (rc == ETL_OK && !p.capture)
        rc = take_lock(&p, err);
    if (rc == ETL_OK)
        rc = start_run(&p, err);
    if (rc == ETL_OK) {
        char processed_on[64];
        etl_utc_now(processed_on, sizeof(processed_on));
        rc = p.capture ? run_queue(&p, processed_on, &out->stats, err)
                       : run_ledger_scan(&p, processed_on, &out->stats, err);
    }
    out->stats.elapsed_us = etl_now_us() - t0;
    if (rc != ETL_ERR_LOCKED) {
        const char *status = rc == ETL_OK ? (out->stats.rejected ? "rejects" : "succeeded")
                             : rc == ETL_ERR_INTERRUPTED ? "interrupted"
                             : rc == ETL_ERR_REJECTS     ? "too_many_rejects"
                                                         : "failed";
        etl_error finish;
        etl_error_clear(&finish);
        if (finish_run(&p, status, rc == ETL_OK ? NULL : err->msg, &finish) != ETL_OK &&
            rc == ETL_OK) {
            *err = finish;
            rc = finish.code;
        }
    }
    out->run_id = p.run_id;
    out->capture = p.capture;
    out->backlog = p.backlog;
    for (int i = 0; i < 2; i++) {
        /* an open claim is rolled back: its rows go back to the queue */
        etl_db_close(p.claims[i].db);
        etl_buf_release(&p.claims[i].sql);
        etl_buf_release(&p.claims[i].ids);
        etl_buf_release(&p.claims[i].seqs);
    }
    etl_db_close(p.src);
    etl_db_close(p.tgt); /* releases the advisory locks */
    return rc;
}

/* ---- status ----------------------------------------------------------------- */

const char *const etl_run_statuses[] = {"running",     "succeeded",        "rejects",   "failed",
                                        "interrupted", "too_many_rejects", "abandoned", NULL};

/* ISO-8601 in UTC whatever the session's TimeZone; NULL stays NULL. */
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"')"

/*
 * The runs as status sees them, in two halves around the inner query's own
 * WHERE and ORDER BY.  A run marked running whose advisory lock can be taken
 * has died, and no run has marked it yet: it reads as abandoned, with no
 * write (the lock is transaction-level, gone when the statement ends, and
 * the CASE tries it only for running rows).  A subquery whose target list
 * is volatile is not flattened into the outer query, so each row's lock is
 * tried once.  `ended`: when a run last finished (an idle row's latest
 * run), NULL while running.
 */
static const char runs_head[] =
    "SELECT id, processor, " ISO("started") ", " ISO("finished") ", " ISO(
        "last_idle") ", state, submissions, events, rejects, idle_runs, "
                     "coalesce(extract(epoch FROM now() - ended), -1), CASE WHEN state = "
                     "'abandoned' AND status = 'running' THEN 'ended without finishing (killed, "
                     "or its connection was lost); the next run marks it abandoned' ELSE error "
                     "END FROM (SELECT r.*, CASE WHEN status = 'running' AND "
                     "pg_try_advisory_xact_lock(" RUN_LOCK ") THEN 'abandoned' ELSE status END "
                     "AS state, CASE WHEN status <> 'running' THEN greatest(finished, last_idle) "
                     "END AS ended FROM dwh.etl_runs r ";

static void copy_ts(char *dst, const etl_result *r, int row, int col)
{
    snprintf(dst, ETL_TS_LEN, "%s",
             etl_result_is_null(r, row, col) ? "" : etl_result_get(r, row, col));
}

static int read_runs(etl_db *db, const char *inner, const char *outer, int nparams,
                     const char *const *params, etl_status_run **out, size_t *n, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    etl_result *r = NULL;
    int rc = etl_buf_puts(&sql, runs_head);
    if (rc == ETL_OK)
        rc = etl_buf_printf(&sql, "%s) x %s", inner, outer);
    if (rc != ETL_OK) {
        etl_buf_release(&sql);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    rc = etl_db_query(db, sql.data, nparams, params, &r, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK && strcmp(err->sqlstate, "42703") == 0)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "dwh.etl_runs was made by an older etl (it has no idle_runs column); "
                             "run `etl init` again, with the same --db and --target, to upgrade "
                             "it");
    if (rc != ETL_OK)
        return rc;
    int rows = etl_result_rows(r);
    etl_status_run *runs = rows ? calloc((size_t)rows, sizeof(*runs)) : NULL;
    if (rows && !runs) {
        etl_result_free(r);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    *out = runs;
    for (int i = 0; rc == ETL_OK && i < rows; i++) {
        etl_status_run *run = &runs[i];
        *n = (size_t)i + 1;
        run->id = strtoll(etl_result_get(r, i, 0), NULL, 10);
        run->processor = strdup(etl_result_get(r, i, 1));
        copy_ts(run->started, r, i, 2);
        copy_ts(run->finished, r, i, 3);
        copy_ts(run->last_idle, r, i, 4);
        snprintf(run->status, sizeof(run->status), "%s", etl_result_get(r, i, 5));
        run->submissions = strtoll(etl_result_get(r, i, 6), NULL, 10);
        run->events = strtoll(etl_result_get(r, i, 7), NULL, 10);
        run->rejects = strtoll(etl_result_get(r, i, 8), NULL, 10);
        run->idle_runs = strtoll(etl_result_get(r, i, 9), NULL, 10);
        run->ended_age_s = strtod(etl_result_get(r, i, 10), NULL);
        run->error = etl_result_is_null(r, i, 11) ? NULL : strdup(etl_result_get(r, i, 11));
        if (!run->processor || (!run->error && !etl_result_is_null(r, i, 11)))
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    etl_result_free(r);
    return rc;
}

static int read_rejects(etl_db *tgt, etl_status *out, etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(tgt,
                          "SELECT reason, count(*) FROM dwh.etl_rejects GROUP BY reason "
                          "ORDER BY 2 DESC, 1",
                          0, NULL, &r, err);
    if (rc != ETL_OK)
        return rc;
    int rows = etl_result_rows(r);
    etl_status_reason *reasons = rows ? calloc((size_t)rows, sizeof(*reasons)) : NULL;
    if (rows && !reasons) {
        etl_result_free(r);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    out->rejects = reasons;
    for (int i = 0; rc == ETL_OK && i < rows; i++) {
        out->nreasons = (size_t)i + 1;
        reasons[i].reason = strdup(etl_result_get(r, i, 0));
        reasons[i].count = strtoll(etl_result_get(r, i, 1), NULL, 10);
        if (!reasons[i].reason)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    etl_result_free(r);
    return rc;
}

static void run_release(etl_status_run *r)
{
    free(r->processor);
    free(r->error);
}

/* The first run the outer clause picks, into *run if *found. */
static int read_one(etl_db *tgt, const char *outer, etl_status_run *run, bool *found,
                    etl_error *err)
{
    etl_status_run *one = NULL;
    size_t n = 0;
    int rc = read_runs(tgt, "", outer, 0, NULL, &one, &n, err);
    if (rc == ETL_OK && n == 1) {
        *run = one[0];
        *found = true;
    } else if (n == 1) {
        run_release(&one[0]);
    }
    free(one);
    return rc;
}

/* The listed runs, then the last ended and the last successful one, whatever the filters. */
static int read_history(etl_db *tgt, const etl_status_cfg *cfg, etl_status *out, etl_error *err)
{
    char since_s[32];
    char limit[32];
    snprintf(since_s, sizeof(since_s), "%lld", cfg->since_s);
    snprintf(limit, sizeof(limit), "%zu", cfg->limit);
    const char *params[4] = {cfg->since, cfg->since_s > 0 ? since_s : NULL, cfg->status, limit};
    int rc = read_runs(tgt,
                       "WHERE coalesce(greatest(finished, last_idle), 'infinity') >= "
                       "coalesce($1::timestamptz, now() - make_interval(secs => $2::float8), "
                       "'-infinity') ORDER BY id DESC",
                       "WHERE $3::text IS NULL OR state = $3 ORDER BY id DESC LIMIT $4", 4, params,
                       &out->runs, &out->nruns, err);
    if (rc != ETL_OK && cfg->since &&
        (strcmp(err->sqlstate, "22007") == 0 || strcmp(err->sqlstate, "22008") == 0))
        return etl_error_set(err, ETL_ERR_USAGE,
                             "--since: '%s' is neither a duration (90s, 15m, 2h, 7d) nor a "
                             "timestamp PostgreSQL reads (2026-11-30 22:00+00)",
                             cfg->since);
    if (rc == ETL_OK)
        rc = read_one(tgt,
                      "WHERE state <> 'running' ORDER BY coalesce(ended, 'infinity') DESC, id "
                      "DESC LIMIT 1",
                      &out->last, &out->has_last, err);
    if (rc == ETL_OK)
        rc = read_one(tgt,
                      "WHERE state IN ('succeeded', 'rejects') ORDER BY ended DESC, id DESC "
                      "LIMIT 1",
                      &out->success, &out->has_success, err);
    return rc;
}

int etl_prod_status(const etl_status_cfg *cfg, etl_status *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->oldest_s = -1;
    etl_prod_cfg pc = {.source = cfg->source, .target = cfg->target, .log = cfg->log};
    etl_db *tgt = NULL;
    etl_db *src = NULL;
    int rc = etl_prod_open(&tgt, cfg->target ? cfg->target : cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(tgt, err);
    if (rc == ETL_OK)
        rc = etl_prod_open(&src, cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = capture_mode(src, &out->capture, err);
    double oldest = 0;
    if (rc == ETL_OK && out->capture &&
        (rc = etl_capture_queue_stats(src, &out->backlog, NULL, 0, &oldest, err)) == ETL_OK &&
        out->backlog > 0)
        out->oldest_s = oldest;
    if (rc == ETL_OK && !out->capture) {
        const char *filter = "NOT EXISTS (SELECT 1 FROM pg_temp.etl_done d WHERE d.id = s.id)";
        if ((rc = etl_prod_copy_ledger(src, tgt, cfg->target != NULL, err)) == ETL_OK)
            rc = count_backlog(src, filter, &out->backlog, err);
    }
    if (rc == ETL_OK)
        rc = read_history(tgt, cfg, out, err);
    if (rc == ETL_OK)
        rc = read_rejects(tgt, out, err);
    etl_db_close(src);
    etl_db_close(tgt);
    return rc;
}

void etl_prod_status_release(etl_status *s)
{
    for (size_t i = 0; i < s->nruns; i++)
        run_release(&s->runs[i]);
    free(s->runs);
    for (size_t i = 0; i < s->nreasons; i++)
        free(s->rejects[i].reason);
    free(s->rejects);
    if (s->has_last)
        run_release(&s->last);
    if (s->has_success)
        run_release(&s->success);
    memset(s, 0, sizeof(*s));
}

/* ---- prune ------------------------------------------------------------------ */

/* Runs that ended before the cut-off, but never a running one or the last success. */
#define PRUNE_WITH                                                                                 \
    "WITH keep AS (SELECT id FROM dwh.etl_runs WHERE status IN ('succeeded', 'rejects') ORDER BY " \
    "greatest(finished, last_idle) DESC NULLS LAST, id DESC LIMIT 1), cut AS (SELECT now() - "     \
    "make_interval(secs => $1::float8) AS t), gone AS ("
#define PRUNE_WHERE                                                                                \
    " dwh.etl_runs WHERE status <> 'running' AND greatest(finished, last_idle) < (SELECT t FROM "  \
    "cut) AND id NOT IN (SELECT id FROM keep)"
#define PRUNE_REPORT                                                                               \
    ") SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0), (SELECT coalesce(max(id), 0) " \
    "FROM keep), (SELECT " ISO("t") " FROM cut) FROM gone"

int etl_prod_prune(const etl_prune_cfg *cfg, etl_prune_result *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    etl_prod_cfg pc = {.source = cfg->target, .log = cfg->log};
    etl_db *tgt = NULL;
    etl_result *r = NULL;
    char keep[32];
    snprintf(keep, sizeof(keep), "%lld", cfg->keep_s);
    const char *params[1] = {keep};
    int rc = etl_prod_open(&tgt, cfg->target, &pc, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(tgt, err);
    if (rc == ETL_OK)
        rc = etl_db_query(tgt,
                          cfg->dry_run ? PRUNE_WITH "SELECT id FROM" PRUNE_WHERE PRUNE_REPORT
                                       : PRUNE_WITH "DELETE FROM" PRUNE_WHERE
                                                    " RETURNING id" PRUNE_REPORT,
                          1, params, &r, err);
    if (rc == ETL_OK) {
        out->runs = (size_t)strtoull(etl_result_get(r, 0, 0), NULL, 10);
        out->first_id = strtoll(etl_result_get(r, 0, 1), NULL, 10);
        out->last_id = strtoll(etl_result_get(r, 0, 2), NULL, 10);
        out->kept_success = strtoll(etl_result_get(r, 0, 3), NULL, 10);
        snprintf(out->before, sizeof(out->before), "%s", etl_result_get(r, 0, 4));
    } else if (strcmp(err->sqlstate, "42703") == 0) {
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "dwh.etl_runs was made by an older etl (it has no idle_runs "
                           "column); run `etl init` again, with the same --db and --target, to "
                           "upgrade it");
    } else {
        etl_error_wrap(err, "cannot prune dwh.etl_runs");
    }
    etl_result_free(r);
    etl_db_close(tgt);
    return rc;
}

/* ---- reprocess ---------------------------------------------------------------- */

int etl_prod_forget(etl_db *tgt, const char *ids, etl_error *err)
{
    static const char *const forget[] = {
        "DELETE FROM dwh.response_events WHERE submission_id = ANY($1::uuid[])",
        "DELETE FROM dwh.etl_rejects WHERE submission_id = ANY($1::uuid[])",
        "DELETE FROM dwh.etl_processed WHERE submission_id = ANY($1::uuid[])"};
    const char *params[1] = {ids};
    int rc = etl_db_exec(tgt, "BEGIN", err);
    if (rc == ETL_OK)
        rc = etl_db_exec(tgt, "SELECT pg_advisory_xact_lock(" LOCK_KEY ")", err);
    for (size_t i = 0; rc == ETL_OK && i < 3; i++)
        rc = etl_db_exec_params(tgt, forget[i], 1, params, err);
    if (rc == ETL_OK)
        rc = etl_db_exec(tgt, "COMMIT", err);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_db_exec(tgt, "ROLLBACK", &ignored);
        etl_error_wrap(err, "cannot forget the submissions to reprocess");
    }
    return rc;
}

/* The submission ids a reprocess names, as a uuid[] literal, from whichever side knows them. */
static int reprocess_ids(const etl_reprocess_cfg *cfg, etl_db *src, etl_db *tgt, etl_buf *out,
                         size_t *count, etl_error *err)
{
    etl_result *r = NULL;
    int rc;
    if (cfg->submission) {
        const char *params[1] = {cfg->submission};
        rc = etl_db_query(src, "SELECT $1::uuid", 1, params, &r, err);
        if (rc != ETL_OK && strcmp(err->sqlstate, "22P02") == 0)
            return etl_error_set(err, ETL_ERR_USAGE,
                                 "--submission: '%s' is not a submission id (a uuid)",
                                 cfg->submission);
    } else if (cfg->form) {
        const char *params[1] = {cfg->form};
        char found[8];
        rc = etl_prod_value(src, "SELECT count(*) FROM app.forms WHERE name = $1", 1, params, found,
                            sizeof(found), err);
        if (rc == ETL_OK && strcmp(found, "0") == 0)
            return etl_error_set(err, ETL_ERR_USAGE, "--form: no form is named '%s' in app.forms",
                                 cfg->form);
        if (rc == ETL_OK)
            rc = etl_db_query(src,
                              "SELECT s.id FROM app.submissions s JOIN app.forms f ON "
                              "f.id = s.form_id WHERE f.name = $1",
                              1, params, &r, err);
    } else if (cfg->rejected) {
        const char *params[1] = {cfg->reason};
        rc = etl_db_query(tgt,
                          "SELECT submission_id FROM dwh.etl_rejects WHERE $1::text IS NULL OR "
                          "reason = $1",
                          1, params, &r, err);
    } else {
        rc = etl_db_query(src, "SELECT id FROM app.submissions ORDER BY date_created, id", 0, NULL,
                          &r, err);
    }
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot list the submissions to reprocess");
    int rows = etl_result_rows(r);
    rc = etl_buf_putc(out, '{');
    for (int i = 0; rc == ETL_OK && i < rows; i++)
        rc = etl_buf_printf(out, "%s%s", i ? "," : "", etl_result_get(r, i, 0));
    if (rc == ETL_OK)
        rc = etl_buf_putc(out, '}');
    etl_result_free(r);
    *count = (size_t)rows;
    return rc == ETL_OK ? rc : etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
}

int etl_prod_reprocess(const etl_reprocess_cfg *cfg, size_t *count, etl_error *err)
{
    etl_prod_cfg pc = {.source = cfg->source, .target = cfg->target, .log = cfg->log};
    prod p;
    memset(&p, 0, sizeof(p));
    p.cfg = &pc;
    etl_buf ids = ETL_BUF_INIT;
    *count = 0;
    int rc = etl_prod_open(&p.tgt, cfg->target ? cfg->target : cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = ensure_initialised(p.tgt, err);
    if (rc == ETL_OK)
        rc = etl_prod_open(&p.src, cfg->source, &pc, err);
    if (rc == ETL_OK)
        rc = capture_mode(p.src, &p.capture, err);
    if (rc == ETL_OK && p.capture && cfg->all) {
        /* Everything, without listing a large table's ids in memory. */
        char n[32] = "0";
        rc = etl_prod_value(p.src,
                            "WITH q AS (INSERT INTO etl.queue (kind, id) SELECT 's', id FROM "
                            "app.submissions ORDER BY date_created, id RETURNING 1) "
                            "SELECT count(*) FROM q",
                            0, NULL, n, sizeof(n), err);
        *count = (size_t)strtoull(n, NULL, 10);
        etl_db_close(p.src);
        etl_db_close(p.tgt);
        return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot queue every submission");
    }
    if (rc == ETL_OK)
        rc = reprocess_ids(cfg, p.src, p.tgt, &ids, count, err);
    if (rc == ETL_OK && p.capture) {
        rc = etl_capture_enqueue_ids(p.src, ids.data, count, err);
    } else if (rc == ETL_OK) {
        rc = etl_prod_forget(p.tgt, ids.data, err); /* no queue: the next scan reads them */
    }
    etl_buf_release(&ids);
    etl_db_close(p.src);
    etl_db_close(p.tgt);
    return rc;
}
