/*
 * Synthetic source data for a scenario: forms from the scenario's schema
 * files, users, and submissions whose answers follow each question's answer
 * type, all derived from one seed, so the same scenario and seed give the
 * same rows, ids included.  Rows are bulk-loaded with COPY.
 */
#ifndef ETL_GENERATE_H
#define ETL_GENERATE_H

#include <signal.h>
#include <stddef.h>

#include "etl/config.h"
#include "etl/db.h"
#include "etl/error.h"

typedef struct etl_gen_stats {
    size_t forms;       /* rows in app.forms */
    size_t users;       /* rows in app.users */
    size_t submissions; /* rows in app.submissions, fixtures included */
    long long elapsed_us;
    /* To a progress callback: the step under way ("forms", "users", "submissions",
       "constraints", "analyze"; static text), the counts being rows sent so far. */
    const char *step;
} etl_gen_stats;

/* Optional ways to watch and stop a generate; every field may be NULL. */
typedef struct etl_gen_hooks {
    /* Set by a signal handler: stop at the next batch of rows or step. */
    const volatile sig_atomic_t *stop;
    /* Told how far it is, at each step and after every batch of rows sent (about 64 kB). */
    void (*progress)(void *ctx, const etl_gen_stats *so_far);
    void *ctx;
} etl_gen_hooks;

/*
 * Fill an empty database (db) with both schemas and the scenario's data, in
 * one transaction: on any error nothing is left in it.  config_dir locates
 * schema and fixture files; hooks may be NULL.  ETL_ERR_CONFIG for a bad
 * form or fixture file (named in err), ETL_ERR_INTERRUPTED when *hooks->stop
 * was set.
 */
int etl_generate(etl_db *db, const etl_scenario_cfg *sc, const char *config_dir,
                 unsigned long long seed, const etl_gen_hooks *hooks, etl_gen_stats *stats,
                 etl_error *err);

#endif
