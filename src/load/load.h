/*
 * Private to src/load/: what the INSERT-based loaders share.
 */
#ifndef ETL_LOAD_PRIVATE_H
#define ETL_LOAD_PRIVATE_H

#include <signal.h>
#include <stdbool.h>

#include "etl/db.h"
#include "etl/error.h"

/* ETL_ERR_INTERRUPTED (with the message) if the run was told to stop. */
int etl_load_check_stop(const volatile sig_atomic_t *stop, etl_error *err);

/* "INSERT INTO dwh.response_events (...) VALUES ($1..$11), ..." for rows rows. */
int etl_load_insert_sql(etl_buf *out, size_t rows);

#endif
