/*
 * Private to src/load/: what the loaders share (the start of their state
 * and its constructor), and what the INSERT-based ones share.
 */
#ifndef ETL_LOAD_PRIVATE_H
#define ETL_LOAD_PRIVATE_H

#include <signal.h>
#include <stdbool.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/loader.h"

/*
 * The first member of every loader's state: the connection it writes
 * (borrowed), the target table (cfg's, or dwh.response_events) and the stop
 * flag, both borrowed from the cfg.
 */
typedef struct etl_load_base {
    etl_db *db;
    const char *table;
    const volatile sig_atomic_t *stop;
} etl_load_base;

/*
 * What every loader constructor does: point out at ops and at a zeroed
 * state of `size` bytes that starts with an etl_load_base, filled in.  The
 * strategy then sets up the rest of out->state (nothing that can fail: an
 * array it needs goes at the end of the state, in `size`).  ETL_OK, or
 * ETL_ERR_NOMEM with out->state NULL (out->ops is set all the same).
 */
int etl_load_new(etl_loader *out, const etl_loader_ops *ops, size_t size, const etl_loader_cfg *cfg,
                 etl_db *db, etl_error *err);

/* end() of a loader whose write() sends every row: nothing is left to finish.  ETL_OK. */
int etl_load_end_sent(void *state, bool commit, etl_error *err);

/* ETL_ERR_INTERRUPTED (with the message) if the run was told to stop. */
int etl_load_check_stop(const volatile sig_atomic_t *stop, etl_error *err);

/* "INSERT INTO <table> (...) VALUES ($1..$11), ..." for rows rows. */
int etl_load_insert_sql(etl_buf *out, const char *table, size_t rows);

/*
 * Drop a loader's prepared statement when the loader goes away: the
 * connection outlives it (an in-place run builds a loader per batch on one
 * connection), and a second PREPARE of the same name would fail.
 */
void etl_load_deallocate(etl_db *db, const char *name);

#endif
