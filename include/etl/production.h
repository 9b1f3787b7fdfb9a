/*
 * Production mode: process an application's database in place, from cron.
 *
 * With change capture (the default of `etl init`), triggers on the app
 * tables queue every changed submission, form and user in etl.queue on the
 * source; a run claims queued submissions, re-reads them and replaces their
 * events, so the warehouse follows inserts, late commits, edits, deletes and
 * form and user changes, at a cost that grows with the changes.  Several
 * runs may share the queue.  Without capture (`etl init --no-capture`), a
 * run reads the submissions missing from the ledger dwh.etl_processed: new
 * ones only, at a cost that grows with the table, one run at a time.
 *
 * Either way every batch commits its events with its ledger rows and
 * rejects, so a crash costs at most the open batch, redone by the next run.
 */
#ifndef ETL_PRODUCTION_H
#define ETL_PRODUCTION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "etl/config.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/pipeline.h"
#include "etl/workers.h"

#define ETL_DEFAULT_BATCH 10000

typedef struct etl_prod_cfg {
    const char *source; /* conninfo of the application's database */
    const char *target; /* conninfo of the warehouse, or NULL: the source */
    const etl_processor_cfg *proc;
    size_t batch_size;         /* submissions per transaction or claim; 0: ETL_DEFAULT_BATCH */
    size_t max_rejects;        /* stop past this many rejects; SIZE_MAX: no limit */
    bool dry_run;              /* roll every batch back; record no run */
    long statement_timeout_ms; /* 0: the server's */
    long lock_timeout_ms;      /* 0: the server's */
    /* Runs sharing the queue from one etl (--jobs); from 2 on, claims shrink as it empties. */
    int jobs;
    /*
     * Optional: told how far the run is after every extractor batch; so_far
     * counts every claim of the run so far (elapsed_us included), backlog is
     * etl_prod_result.backlog.  Production code never prints progress itself.
     */
    void (*progress)(void *ctx, const etl_run_stats *so_far, size_t backlog);
    void *progress_ctx;
    const volatile sig_atomic_t *stop;
    const etl_log *log;
} etl_prod_cfg;

typedef struct etl_prod_result {
    long long run_id; /* row in dwh.etl_runs; 0 for a dry run */
    bool capture;     /* the source has change capture (else: the ledger scan) */
    size_t backlog;   /* capture: queued changes when the run started; else unprocessed
                         submissions */
    etl_run_stats stats;
} etl_prod_result;

typedef struct etl_prod_init_result {
    bool capture;  /* change capture is installed on the source */
    size_t queued; /* submissions this init queued (a new queue starts with the backlog) */
    bool repaired; /* capture triggers were missing or disabled, and were put back */
    int indexes;   /* indexes this init created on app.submissions */
} etl_prod_init_result;

/* What `etl init` sets up. */
typedef struct etl_prod_init_cfg {
    const char *source;
    const char *target; /* or NULL: the source */
    bool capture;       /* install change capture on the source */
    bool indexes; /* with capture: index app.submissions on form_id and user_id if unindexed */
    const etl_log *log;
} etl_prod_init_cfg;

/*
 * Create the dwh schema and tables in the target (source if target is NULL),
 * after checking the source has the app tables; with capture, install or
 * refresh change capture on the source.  Idempotent; an installation made
 * before capture existed keeps its ledger, runs and rejects.  ETL_ERR_USAGE
 * for --no-capture on a source that has capture.
 */
int etl_prod_init(const etl_prod_init_cfg *cfg, etl_prod_init_result *out, etl_error *err);

/* Does the source have change capture (so that runs may overlap)?  Checks a connection. */
int etl_prod_has_capture(const etl_prod_cfg *cfg, bool *capture, etl_error *err);

/*
 * One run.  ETL_ERR_LOCKED when, without capture, another run holds the
 * lock (nothing done).  With capture, concurrent runs share the queue.
 */
int etl_prod_run(const etl_prod_cfg *cfg, etl_prod_result *out, etl_error *err);

/*
 * --jobs N (2 and up): N runs of cfg at once, as forked workers that share
 * the change queue, each claiming its own rows and recorded as a run.  Needs
 * change capture (ETL_ERR_USAGE without it: runs then go one at a time).
 * out: the workers' figures summed, run_id the first worker's run (and
 * *last_run_id the last's), backlog the largest any saw.  cfg->progress is
 * not called; progress, if not NULL, gets the workers' sums (etl/workers.h).
 * The error is the first failed worker's, named "worker K of N".
 */
int etl_prod_run_jobs(const etl_prod_cfg *cfg, int jobs,
                      void (*progress)(void *ctx, const etl_workers_progress *p),
                      void *progress_ctx, etl_prod_result *out, long long *last_run_id,
                      etl_error *err);

/* What `etl reprocess` queues again: exactly one of form, submission, rejected, all. */
typedef struct etl_reprocess_cfg {
    const char *source;
    const char *target;     /* or NULL: the source */
    const char *form;       /* every submission of the form with this name */
    const char *submission; /* this submission id */
    bool rejected;          /* every rejected submission ... */
    const char *reason;     /* ... with this reason, or NULL for any */
    bool all;               /* every submission */
    const etl_log *log;
} etl_reprocess_cfg;

/*
 * Make the next run derive those submissions again: with capture, queue
 * them; without, forget them in the target (events, ledger rows and rejects
 * in one transaction, under the run lock).  *count: submissions affected.
 */
int etl_prod_reprocess(const etl_reprocess_cfg *cfg, size_t *count, etl_error *err);

typedef struct etl_verify_cfg {
    const char *source;
    const char *target;            /* or NULL: the source */
    const etl_processor_cfg *proc; /* whose transform rules (max_depth, max_bytes) to apply */
    bool repair;                   /* queue the differing submissions for the next run */
    const volatile sig_atomic_t *stop;
    const etl_log *log;
    /*
     * Optional: told how far verify is after every extractor batch.  step is
     * "recompute" (every source submission; total counted when verify
     * starts) or "recheck" (the differing ones, a second time); static text.
     */
    void (*progress)(void *ctx, const char *step, size_t done, size_t total);
    void *progress_ctx;
} etl_verify_cfg;

#define ETL_VERIFY_EXAMPLES 20

/* What verify found.  Kinds: 0 missing, 1 stale, 2 extra. */
typedef struct etl_verify_result {
    bool capture;                              /* the source has change capture */
    size_t checked;                            /* source submissions recomputed */
    size_t count[3];                           /* submissions that differ, by kind */
    char examples[3][ETL_VERIFY_EXAMPLES][40]; /* the first ids of each kind, by id */
    size_t pending;  /* differing, but with a change queued: not counted above */
    size_t repaired; /* with repair: submissions queued (or, without capture, forgotten) */
} etl_verify_result;

/*
 * Recompute every source submission's events and reject, compare them with
 * the warehouse, and report submissions missing (nothing in the warehouse),
 * stale (different events or reject) and extra (in the warehouse, not in
 * the source).  Reads only, unless repair.  O(all submissions).
 */
int etl_prod_verify(const etl_verify_cfg *cfg, etl_verify_result *out, etl_error *err);

/* What `etl status` asks for: which runs to list (the check facts ignore these filters). */
typedef struct etl_status_cfg {
    const char *source;
    const char *target; /* or NULL: the source */
    size_t limit;       /* runs to list, newest first */
    const char *since;  /* only runs that ended at or after this timestamptz (text), or NULL */
    long long since_s;  /* ... or within this many seconds of now; 0: no such filter */
    const char *status; /* only runs in this status (abandoned included), or NULL */
    const etl_log *log;
} etl_status_cfg;

#define ETL_TS_LEN 40 /* an ISO-8601 timestamp: 2026-11-30T22:41:07.123+00:00 */

/* One row of dwh.etl_runs as status reads it.  Timestamps are ISO-8601 in UTC, "" if absent. */
typedef struct etl_status_run {
    long long id;
    char *processor;
    char started[ETL_TS_LEN];
    char finished[ETL_TS_LEN];  /* "" while running, and for an abandoned run not yet marked */
    char last_idle[ETL_TS_LEN]; /* an idle row: when its latest idle run finished */
    char status[24];            /* "abandoned" also for a run marked running whose lock is free */
    long long submissions;
    long long events;
    long long rejects;   /* rejected by this run */
    long long idle_runs; /* an idle row: how many idle runs in a row it stands for; else 0 */
    double ended_age_s;  /* seconds since it last finished (idle rows: last_idle); -1 if not */
    char *error;         /* NULL if none */
} etl_status_run;

typedef struct etl_status_reason {
    char *reason;
    long long count; /* submissions currently rejected for it */
} etl_status_reason;

/* Backlog, runs, current rejects, and the facts `status --check` judges by. */
typedef struct etl_status {
    bool capture;         /* the source has change capture */
    size_t backlog;       /* capture: queued changes; else submissions not yet processed */
    double oldest_s;      /* capture: how long the oldest queued change has waited; -1: none */
    etl_status_run *runs; /* the runs asked for, newest first */
    size_t nruns;
    etl_status_reason *rejects; /* dwh.etl_rejects by reason, most first */
    size_t nreasons;
    bool has_last;          /* any run has finished (or died) */
    etl_status_run last;    /* the run that ended last; an unmarked abandoned one counts as now */
    bool has_success;       /* any run succeeded (succeeded or rejects) */
    etl_status_run success; /* the successful run that ended last */
} etl_status;

/*
 * Read the backlog, the runs cfg asks for, the rejects by reason and the
 * last finished and last successful runs, into *out (released with
 * etl_prod_status_release, also after an error).  Reads only.  ETL_ERR_USAGE
 * when cfg->since is no timestamp, or when dwh.etl_runs predates idle_runs
 * (`etl init` upgrades it).
 */
int etl_prod_status(const etl_status_cfg *cfg, etl_status *out, etl_error *err);
void etl_prod_status_release(etl_status *s);

/* The statuses a run row can have, for validating --status: NULL-terminated. */
extern const char *const etl_run_statuses[];

typedef struct etl_prune_cfg {
    const char *target; /* the warehouse: --target, or the source */
    long long keep_s;   /* keep runs that ended within this many seconds */
    bool dry_run;       /* count, delete nothing */
    const etl_log *log;
} etl_prune_cfg;

typedef struct etl_prune_result {
    size_t runs;        /* runs deleted (or, dry run, that would be) */
    long long first_id; /* the lowest and highest id among them; 0 if none */
    long long last_id;
    long long kept_success;  /* the last successful run, kept however old; 0 if none */
    char before[ETL_TS_LEN]; /* the cut-off: runs that ended before it went */
} etl_prune_result;

/*
 * Delete the dwh.etl_runs rows that ended more than keep_s seconds ago,
 * never a running one (the next run marks a dead one abandoned first) nor
 * the last successful run, in one statement.  The rest of etl's tables are
 * current state, not history: nothing else is pruned.
 */
int etl_prod_prune(const etl_prune_cfg *cfg, etl_prune_result *out, etl_error *err);

#endif
