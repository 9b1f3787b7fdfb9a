/*
 * Private to src/load/: what the INSERT-based loaders share.
 */
#ifndef ETL_LOAD_PRIVATE_H
#define ETL_LOAD_PRIVATE_H

#include <stdbool.h>

#include "etl/db.h"
#include "etl/error.h"

/* BEGIN, and COMMIT or ROLLBACK: every loader writes in one transaction. */
int etl_load_tx_begin(etl_db *db, etl_error *err);
int etl_load_tx_end(etl_db *db, bool commit, etl_error *err);

/* "INSERT INTO dwh.response_events (...) VALUES ($1..$11), ..." for rows rows. */
int etl_load_insert_sql(etl_buf *out, size_t rows);

#endif
