/*
 * The pipeline: builds an extractor, a transformer and a loader from a
 * processor definition and streams submissions through them, one extractor
 * batch at a time.  It is the only code that calls stage slots, and it owns
 * the target transaction: every `commit_every` submissions it ends the
 * loader's work, lets the caller record progress in the same transaction
 * (the before_commit hook), and commits, so a crash loses at most one batch.
 */
#ifndef ETL_PIPELINE_H
#define ETL_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "etl/buf.h"
#include "etl/config.h"
#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"

/* Rejected submissions of one reason; reason is an ETL_REJECT_* code (static). */
typedef struct etl_reason_count {
    const char *reason;
    size_t count;
} etl_reason_count;

#define ETL_MAX_REASONS 16 /* more than the ETL_REJECT_* codes in flatten.h */

/*
 * What a run did.  Accounting identity: submissions = accepted + rejected,
 * and events are only counted for accepted submissions.  Only committed
 * batches count (with dry_run: batches that would have been committed).
 */
typedef struct etl_run_stats {
    size_t submissions;       /* read from the source */
    size_t rejected;          /* of those, rejected with a reason */
    size_t events;            /* written to the target */
    size_t batches;           /* transactions committed */
    long long elapsed_us;     /* extract + transform + load, commits included */
    long peak_rss_kib;        /* peak resident memory of this process */
    long worker_peak_rss_kib; /* with --jobs, the largest worker's peak; 0 in one process */
    etl_reason_count reasons[ETL_MAX_REASONS]; /* rejected, by reason, unsorted */
} etl_run_stats;

/* Add n rejects of reason to st->reasons (pointer-equal or same text). */
void etl_run_stats_add_reason(etl_run_stats *st, const char *reason, size_t n);
/* Add from's counts (submissions, rejected and by reason, events, batches) to into. */
void etl_run_stats_add(etl_run_stats *into, const etl_run_stats *from);
/* One process's peak: the largest worker's with --jobs, else the run's own. */
static inline long etl_run_stats_one_peak(const etl_run_stats *st)
{
    return st->worker_peak_rss_kib ? st->worker_peak_rss_kib : st->peak_rss_kib;
}

/* One rejected submission of the open batch; strings owned by the batch log. */
typedef struct etl_reject_rec {
    char *id;
    const char *reason; /* an ETL_REJECT_* code (static) */
    char *detail;
} etl_reject_rec;

/* What the open batch covers, handed to before_commit. */
typedef struct etl_batch_log {
    size_t submissions; /* in this batch, accepted and rejected */
    size_t events;      /* written in this batch */
    etl_buf ids;        /* with before_commit: every submission id of the batch as a uuid[]
                           literal {a,b,...}; empty otherwise */
    etl_reject_rec *rejects;
    size_t nrejects;
    size_t cap; /* rejects allocated */
} etl_batch_log;

typedef struct etl_pipeline_cfg {
    const etl_processor_cfg *proc;
    const char *processed_on;  /* timestamptz text stamped on every event of the run */
    const char *source_filter; /* SQL condition on submissions `s`, or NULL for all */
    const char *source_order;  /* ORDER BY list on `s`; NULL: oldest first (in-db: ignored) */
    size_t commit_every;       /* submissions per transaction; 0: one for the whole run */
    /*
     * More rejects than this stops the run, at the end of the batch in which
     * it happens: that batch is committed whole, its rejects recorded with
     * it, so the next run moves on and nothing read is thrown away.
     * SIZE_MAX: no limit.
     */
    size_t max_rejects;
    bool dry_run; /* roll every batch back instead of committing it */
    /*
     * The target table is known empty and nobody else writes it (a scenario's
     * fresh run database): TRUNCATE it inside the first load transaction, so
     * that with wal_level=minimal PostgreSQL writes the new rows without WAL.
     */
    bool empty_target;
    /* The table events go to (trusted SQL text); NULL: dwh.response_events. */
    const char *table;
    const volatile sig_atomic_t *stop; /* set by a signal handler: stop at the next submission */
    const etl_log *log;
    /*
     * Optional: run right after each target transaction's BEGIN, before the
     * extractor reads anything (the first transaction is begun before the
     * extractor opens), so that locks taken here are held before the source
     * is read: in-place runs lock the submissions they are about to replace.
     */
    int (*after_begin)(void *ctx, etl_db *target, etl_error *err);
    /*
     * Optional: record the batch in the open target transaction, just before
     * COMMIT; called for every commit, even one of a batch that read nothing.
     */
    int (*before_commit)(void *ctx, etl_db *target, const etl_batch_log *batch, etl_error *err);
    /* Optional: told how far the run is, after every extractor batch. */
    void (*progress)(void *ctx, const etl_run_stats *so_far);
    void *hook_ctx;
} etl_pipeline_cfg;

/*
 * Run cfg->proc reading from source and writing to target (distinct
 * connections).  Returns ETL_OK when every batch is committed (even with
 * rejected submissions, counted in stats), otherwise a negative error after
 * rolling back the open batch: ETL_ERR_INTERRUPTED when *stop was set,
 * ETL_ERR_REJECTS past max_rejects, once the batch in which that happened
 * is committed.  stats covers the committed batches.
 */
int etl_pipeline_run(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                     etl_run_stats *stats, etl_error *err);

#endif
