/*
 * Private to src/load/: what the INSERT-based loaders share.
 */
#ifndef ETL_LOAD_PRIVATE_H
#define ETL_LOAD_PRIVATE_H

#include <signal.h>
#include <stdbool.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/loader.h"

/* ETL_ERR_INTERRUPTED (with the message) if the run was told to stop. */
int etl_load_check_stop(const volatile sig_atomic_t *stop, etl_error *err);

/* cfg's table, or dwh.response_events (borrowed from cfg or static). */
const char *etl_load_table(const etl_loader_cfg *cfg);

/* "INSERT INTO <table> (...) VALUES ($1..$11), ..." for rows rows. */
int etl_load_insert_sql(etl_buf *out, const char *table, size_t rows);

/*
 * Drop a loader's prepared statement when the loader goes away: the
 * connection outlives it (an in-place run builds a loader per batch on one
 * connection), and a second PREPARE of the same name would fail.
 */
void etl_load_deallocate(etl_db *db, const char *name);

#endif
