/*
 * Synthetic source data for a scenario: forms from the scenario's schema
 * files, users, and submissions whose answers follow each question's answer
 * type, all derived from one seed, so the same scenario and seed give the
 * same rows, ids included.  Rows are bulk-loaded with COPY.
 */
#ifndef ETL_GENERATE_H
#define ETL_GENERATE_H

#include <stddef.h>

#include "etl/config.h"
#include "etl/db.h"
#include "etl/error.h"

typedef struct etl_gen_stats {
    size_t forms;       /* rows in app.forms */
    size_t users;       /* rows in app.users */
    size_t submissions; /* rows in app.submissions, fixtures included */
    long long elapsed_us;
} etl_gen_stats;

/* The DDL for the app and dwh schemas (idempotent where PostgreSQL allows). */
extern const char etl_schema_app_sql[];
extern const char etl_schema_app_constraints_sql[];
extern const char etl_schema_dwh_sql[];

/*
 * Fill an empty database (db, holding both schemas) with the scenario's data.
 * config_dir locates schema and fixture files.
 */
int etl_generate(etl_db *db, const etl_scenario_cfg *sc, const char *config_dir,
                 unsigned long long seed, etl_gen_stats *stats, etl_error *err);

#endif
