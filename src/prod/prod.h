/*
 * Private to src/prod/: what production mode's files share.  session.c
 * opens connections and holds the shared queries; capture.c owns the change
 * capture on the source (schema etl: the queue and its triggers);
 * production.c runs, initialises, reports and requeues; verify.c
 * recomputes and compares.
 */
#ifndef ETL_PROD_PRIVATE_H
#define ETL_PROD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/production.h"

/*
 * Connect for production mode: cfg's statement and lock timeouts, and no
 * idle-in-transaction timeout (see production.c).
 */
int etl_prod_open(etl_db **out, const char *conninfo, const etl_prod_cfg *cfg, etl_error *err);

/* ETL_ERR_USAGE if cfg's processor cannot run in place (a runner without per-batch hooks). */
int etl_prod_check_processor(const etl_prod_cfg *cfg, etl_error *err);

/* The first cell of a one-row query, copied into out ("" if no row or NULL). */
int etl_prod_value(etl_db *db, const char *sql, int nparams, const char *const *params, char *out,
                   size_t cap, etl_error *err);

/*
 * Copy the ledger (dwh.etl_processed's submission ids) into the temporary
 * table pg_temp.etl_done on src, analysed, static from then on.  With cross,
 * ledger lives in another database and is streamed from there (bounded
 * memory); otherwise ledger is src and the copy is one INSERT ... SELECT.
 */
int etl_prod_copy_ledger(etl_db *src, etl_db *ledger, bool cross, etl_error *err);

/*
 * Without capture: make the next ledger scan load these submissions again
 * (ids: a uuid[] literal) by deleting their events, rejects and ledger rows
 * in one transaction, holding the run lock so no run is half-way.
 */
int etl_prod_forget(etl_db *tgt, const char *ids, etl_error *err);

/*
 * Queue rows a run's next claim takes: alone (jobs < 2) the batch size;
 * with --jobs, a 2*jobs-th of the rows left, at least a 20th of the batch
 * size (500 by default, so that a claim's fixed cost, a few round trips
 * and a commit, stays small beside its load) and at most the batch size.  Equal
 * claims of the batch size leave the last one to one worker while the
 * others idle (24,000 queued in claims of 10,000: one of two workers loaded
 * the last 4,000 alone, 1.3 s of a 6.3 s run); shrinking ones end
 * together.  left may count rows that other runs hold claimed: an
 * overestimate, which errs toward the larger claim.
 */
size_t etl_prod_claim_size(size_t left, int jobs, size_t batch);

/* ---- change capture (capture.c) ------------------------------------------ */

/* How much of the capture is installed on a source. */
typedef enum etl_capture_state {
    ETL_CAPTURE_NONE,       /* no etl.queue: the ledger-scan fallback */
    ETL_CAPTURE_ON,         /* the queue and all nine triggers, enabled */
    ETL_CAPTURE_INCOMPLETE, /* the queue, but a trigger is missing or disabled */
} etl_capture_state;

int etl_capture_state_of(etl_db *src, etl_capture_state *out, etl_error *err);

/*
 * Install or refresh the capture on src in one transaction: schema etl, the
 * queue, the trigger functions and triggers.  When the queue is new, every
 * submission not in the ledger is queued in the same transaction (ledger:
 * the database holding dwh.etl_processed, src itself unless cross), so that
 * nothing committed before or after is missed.  *queued: rows queued;
 * *repaired: triggers had been missing and were put back.
 */
int etl_capture_install(etl_db *src, etl_db *ledger, bool cross, size_t *queued, bool *repaired,
                        etl_error *err);

/*
 * Indexes on app.submissions (form_id) and (user_id), built concurrently,
 * unless an index already leads with that column: they make a form or user
 * change cost its own submissions, not a scan of the table.  *created: how
 * many were built.
 */
int etl_capture_indexes(etl_db *src, int *created, etl_error *err);

/*
 * Turn queued form and user changes into queued submissions: the
 * submissions of each changed form or user as of now (in one statement, so
 * a submission moved meanwhile is queued by its own trigger).  Safe beside
 * other workers (SKIP LOCKED).
 */
int etl_capture_expand(etl_db *src, etl_error *err);

/* Queue rows (*rows), the newest seq (*max_seq, text) and the oldest's age (seconds, 0 if none). */
int etl_capture_queue_stats(etl_db *src, size_t *rows, char *max_seq, size_t cap, double *oldest_s,
                            etl_error *err);

/* Queue submissions again: ids is a uuid[] literal ({a,b,...}). *queued: rows added. */
int etl_capture_enqueue_ids(etl_db *src, const char *ids, size_t *queued, etl_error *err);

#endif
