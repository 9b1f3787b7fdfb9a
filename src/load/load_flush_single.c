/*
 * The `flush-single` loader: one INSERT per event the moment it arrives, as
 * an ORM flushing after every add.  Memory stays flat, but every event costs
 * a round trip (~95 µs here, so about 10k events/s): the other half of the
 * space/time trade-off.  Slow on purpose: it is the lesson.
 */
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>

#include "banned.h"

typedef struct single_state {
    etl_load_base base;
    int prepared; /* prepared statements live as long as the connection */
} single_state;

static int single_begin(void *state, etl_error *err)
{
    single_state *st = state;
    if (st->prepared)
        return ETL_OK;
    etl_buf sql = ETL_BUF_INIT;
    if (etl_load_insert_sql(&sql, st->base.table, 1) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_prepare(st->base.db, "etl_insert_one", sql.data, ETL_EVENT_NCOLS, err);
    etl_buf_release(&sql);
    st->prepared = rc == ETL_OK;
    return rc;
}

static int single_write(void *state, const etl_event_batch *b, etl_error *err)
{
    single_state *st = state;
    const char *params[ETL_EVENT_NCOLS];
    for (size_t i = 0; i < b->count; i++) {
        if (etl_load_check_stop(st->base.stop, err) != ETL_OK)
            return ETL_ERR_INTERRUPTED;
        etl_event_params(b, &b->events[i], params);
        int rc = etl_db_exec_prepared(st->base.db, "etl_insert_one", ETL_EVENT_NCOLS, params, err);
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot insert an event of submission %s",
                                  b->events[i].sub->id);
    }
    return ETL_OK;
}

static void single_destroy(void *state)
{
    single_state *st = state;
    if (st && st->prepared)
        etl_load_deallocate(st->base.db, "etl_insert_one");
    free(st);
}

static const etl_loader_ops single_ops = {
    .name = "flush-single",
    .begin = single_begin,
    .write = single_write,
    .flush = NULL,
    .end = etl_load_end_sent,
    .destroy = single_destroy,
};

int etl_loader_flush_single_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db,
                                etl_error *err)
{
    return etl_load_new(out, &single_ops, sizeof(single_state), cfg, db, err);
}
