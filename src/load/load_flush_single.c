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
    etl_db *db;
    const char *table; /* borrowed from the cfg */
    const volatile sig_atomic_t *stop;
    int prepared; /* prepared statements live as long as the connection */
} single_state;

static int single_begin(void *state, etl_error *err)
{
    single_state *st = state;
    if (st->prepared)
        return ETL_OK;
    etl_buf sql = ETL_BUF_INIT;
    if (etl_load_insert_sql(&sql, st->table, 1) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_prepare(st->db, "etl_insert_one", sql.data, ETL_EVENT_NCOLS, err);
    etl_buf_release(&sql);
    st->prepared = rc == ETL_OK;
    return rc;
}

static int single_write(void *state, const etl_event_batch *b, etl_error *err)
{
    single_state *st = state;
    const char *params[ETL_EVENT_NCOLS];
    for (size_t i = 0; i < b->count; i++) {
        if (etl_load_check_stop(st->stop, err) != ETL_OK)
            return ETL_ERR_INTERRUPTED;
        etl_event_params(b, &b->events[i], params);
        int rc = etl_db_exec_prepared(st->db, "etl_insert_one", ETL_EVENT_NCOLS, params, err);
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot insert an event of submission %s",
                                  b->events[i].sub->id);
    }
    return ETL_OK;
}

static int single_end(void *state, bool commit, etl_error *err)
{
    (void)state;
    (void)commit;
    (void)err;
    return ETL_OK; /* every row went out in write(): nothing left to finish */
}

static void single_destroy(void *state)
{
    single_state *st = state;
    if (st && st->prepared)
        etl_load_deallocate(st->db, "etl_insert_one");
    free(st);
}

static const etl_loader_ops single_ops = {
    .name = "flush-single",
    .begin = single_begin,
    .write = single_write,
    .flush = NULL,
    .end = single_end,
    .destroy = single_destroy,
};

int etl_loader_flush_single_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db,
                                etl_error *err)
{
    out->ops = &single_ops;
    out->state = NULL;
    single_state *st = calloc(1, sizeof(*st));
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->db = db;
    st->table = etl_load_table(cfg);
    st->stop = cfg->stop;
    out->state = st;
    return ETL_OK;
}
