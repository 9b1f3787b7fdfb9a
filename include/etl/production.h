/*
 * Production mode: process an application's database in place, exactly
 * once, from cron.  Every submission ever handled is recorded in
 * dwh.etl_processed (loaded) and, if rejected, dwh.etl_rejects, in the same
 * transaction as its events; a run reads only submissions not recorded
 * there, so late commits are picked up and nothing is loaded twice.  One run
 * at a time per target, by a PostgreSQL advisory lock.
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
    size_t backlog;   /* unprocessed submissions when the run started */
    etl_run_stats stats;
} etl_prod_result;

/*
 * Create the dwh schema and tables in the target (source if target is NULL),
 * idempotently, after checking the source has the app tables.
 */
int etl_prod_init(const char *source, const char *target, const etl_log *log, etl_error *err);

/* One run.  ETL_ERR_LOCKED when another run holds the lock (nothing done). */
int etl_prod_run(const etl_prod_cfg *cfg, etl_prod_result *out, etl_error *err);

/* Backlog, last runs and rejects by reason, as text or one JSON object, to out. */
int etl_prod_status(const char *source, const char *target, bool json, FILE *out,
                    const etl_log *log, etl_error *err);

#endif
