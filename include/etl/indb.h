/*
 * The in-database processor (`in-db`): the transform as one SQL statement,
 * run on a connection where app.* and dwh.* are in the same database.  The
 * caller owns the transaction.  *events counts what it inserted.
 */
#ifndef ETL_INDB_H
#define ETL_INDB_H

#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"

/* filter: an SQL condition on submissions `s`, or NULL for all. */
int etl_indb_run(etl_db *db, const char *processed_on, const char *filter, size_t *events,
                 size_t *submissions, etl_error *err);

#endif
