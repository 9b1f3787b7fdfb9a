/*
 * The `chunked` loader: multi-row INSERTs of N events per statement, with
 * the full-size statement prepared once.  One round trip per N events
 * instead of per event; memory bounded by one batch.  The remainder of a
 * batch goes in one smaller, unprepared statement.
 */
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>

#include "banned.h"

/* PostgreSQL allows at most 65535 bind parameters per statement. */
#define MAX_ROWS (65535 / ETL_EVENT_NCOLS)

typedef struct chunked_state {
    etl_load_base base;
    size_t rows;          /* events per full statement */
    etl_buf sql;          /* scratch for the remainder statement */
    int prepared;         /* prepared statements live as long as the connection */
    const char *params[]; /* rows * 11 */
} chunked_state;

static int chunked_begin(void *state, etl_error *err)
{
    chunked_state *st = state;
    if (st->prepared)
        return ETL_OK;
    if (etl_load_insert_sql(&st->sql, st->base.table, st->rows) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_prepare(st->base.db, "etl_insert_chunk", st->sql.data,
                            (int)(st->rows * ETL_EVENT_NCOLS), err);
    st->prepared = rc == ETL_OK;
    return rc;
}

static int chunked_write(void *state, const etl_event_batch *b, etl_error *err)
{
    chunked_state *st = state;
    size_t i = 0;
    while (i < b->count) {
        if (etl_load_check_stop(st->base.stop, err) != ETL_OK)
            return ETL_ERR_INTERRUPTED;
        size_t n = b->count - i < st->rows ? b->count - i : st->rows;
        for (size_t k = 0; k < n; k++)
            etl_event_params(b, &b->events[i + k], &st->params[k * ETL_EVENT_NCOLS]);
        int nparams = (int)(n * ETL_EVENT_NCOLS);
        int rc;
        if (n == st->rows) {
            rc = etl_db_exec_prepared(st->base.db, "etl_insert_chunk", nparams, st->params, err);
        } else {
            if (etl_load_insert_sql(&st->sql, st->base.table, n) != ETL_OK)
                return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
            rc = etl_db_exec_params(st->base.db, st->sql.data, nparams, st->params, err);
        }
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot insert %zu events starting with submission %s", n,
                                  b->events[i].sub->id);
        i += n;
    }
    return ETL_OK;
}

static void chunked_destroy(void *state)
{
    chunked_state *st = state;
    if (!st)
        return;
    if (st->prepared)
        etl_load_deallocate(st->base.db, "etl_insert_chunk");
    etl_buf_release(&st->sql);
    free(st);
}

static const etl_loader_ops chunked_ops = {
    .name = "chunked",
    .begin = chunked_begin,
    .write = chunked_write,
    .flush = NULL,
    .end = etl_load_end_sent,
    .destroy = chunked_destroy,
};

int etl_loader_chunked_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    out->ops = &chunked_ops; /* even on failure, as etl_load_new does */
    out->state = NULL;
    size_t rows = cfg->batch_rows ? cfg->batch_rows : ETL_DEFAULT_BATCH_ROWS;
    if (rows > MAX_ROWS)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "chunked loader: %zu events per statement is more than PostgreSQL's "
                             "parameter limit allows (at most %d)",
                             rows, MAX_ROWS);
    /* rows <= MAX_ROWS: the size cannot overflow */
    int rc = etl_load_new(out, &chunked_ops,
                          sizeof(chunked_state) + rows * ETL_EVENT_NCOLS * sizeof(const char *),
                          cfg, db, err);
    if (rc == ETL_OK)
        ((chunked_state *)out->state)->rows = rows;
    return rc;
}
