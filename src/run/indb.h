/*
 * The in-database processor (`in-db`): the transform as one SQL statement,
 * run on a connection where app.* and dwh.* are in the same database.  The
 * caller owns the transaction.  It loads and rejects exactly what the
 * staged pipeline with the flatten transformer does.
 */
#ifndef ETL_INDB_H
#define ETL_INDB_H

#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"

typedef struct etl_indb_cfg {
    const char *processed_on; /* timestamptz text for every event */
    const char *filter;       /* an SQL condition on submissions `s`, or NULL for all */
    size_t max_depth;         /* the flatten transformer's limits */
    size_t max_bytes;         /* 0: no limit */
    /* Called once per rejected submission, in no particular order; strings are borrowed. */
    void (*reject)(void *ctx, const char *id, const char *reason, const char *detail);
    void *ctx;
} etl_indb_cfg;

typedef struct etl_indb_stats {
    size_t submissions; /* read, rejected ones included */
    size_t rejected;
    size_t events; /* inserted */
} etl_indb_stats;

int etl_indb_run(etl_db *db, const etl_indb_cfg *cfg, etl_indb_stats *stats, etl_error *err);

#endif
