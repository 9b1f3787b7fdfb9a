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

#define ETL_DEFAULT_BATCH 10000

typedef struct etl_prod_cfg {
    const char *source; /* conninfo of the application's database */
    const char *target; /* conninfo of the warehouse, or NULL: the source */
    const etl_processor_cfg *proc;
    size_t batch_size;         /* submissions per transaction */
    size_t max_rejects;        /* stop past this many rejects; SIZE_MAX: no limit */
    bool dry_run;              /* roll every batch back; record no run */
    long statement_timeout_ms; /* 0: the server's */
    long lock_timeout_ms;      /* 0: the server's */
    bool progress;             /* a progress line on stderr */
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

/*
 * One run.  ETL_ERR_LOCKED when, without capture, another run holds the
 * lock (nothing done).  With capture, concurrent runs share the queue.
 */
int etl_prod_run(const etl_prod_cfg *cfg, etl_prod_result *out, etl_error *err);

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

/* Backlog, last runs and rejects by reason, as text or one JSON object, to out. */
int etl_prod_status(const char *source, const char *target, bool json, FILE *out,
                    const etl_log *log, etl_error *err);

#endif
