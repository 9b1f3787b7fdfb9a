/*
 * The `naive` loader: what adding every event to an ORM session and
 * flushing once at the end does.  Every event is copied and kept until the
 * end (memory grows with the data), then sent as one INSERT each, a round
 * trip per event.  Both costs are the lesson: keep it faithful.
 */
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

typedef struct kept_event {
    size_t off[ETL_EVENT_NCOLS]; /* offsets into strings; SIZE_MAX for NULL */
} kept_event;

typedef struct naive_state {
    etl_load_base base;
    kept_event *events;
    size_t count; /* events */
    size_t cap;   /* events allocated */
    etl_buf strings;
    etl_buf sql;
} naive_state;

static int naive_begin(void *state, etl_error *err)
{
    naive_state *st = state;
    st->count = 0;
    etl_buf_reset(&st->strings);
    if (etl_load_insert_sql(&st->sql, st->base.table, 1) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    return ETL_OK;
}

static int naive_write(void *state, const etl_event_batch *b, etl_error *err)
{
    naive_state *st = state;
    const char *params[ETL_EVENT_NCOLS];
    for (size_t i = 0; i < b->count; i++) {
        if (etl_grow((void **)&st->events, &st->cap, st->count + 1, sizeof(*st->events)) != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory keeping %zu events", st->count);
        kept_event *k = &st->events[st->count];
        etl_event_params(b, &b->events[i], params);
        for (int c = 0; c < ETL_EVENT_NCOLS; c++) {
            if (!params[c]) {
                k->off[c] = SIZE_MAX;
                continue;
            }
            k->off[c] = st->strings.len;
            if (etl_buf_append(&st->strings, params[c], strlen(params[c]) + 1) != ETL_OK)
                return etl_error_set(err, ETL_ERR_NOMEM, "out of memory keeping %zu events",
                                     st->count);
        }
        st->count++;
    }
    return ETL_OK;
}

static int naive_flush(void *state, etl_error *err)
{
    naive_state *st = state;
    const char *params[ETL_EVENT_NCOLS];
    for (size_t i = 0; i < st->count; i++) {
        if (etl_load_check_stop(st->base.stop, err) != ETL_OK)
            return ETL_ERR_INTERRUPTED;
        for (int c = 0; c < ETL_EVENT_NCOLS; c++)
            params[c] =
                st->events[i].off[c] == SIZE_MAX ? NULL : st->strings.data + st->events[i].off[c];
        int rc = etl_db_exec_params(st->base.db, st->sql.data, ETL_EVENT_NCOLS, params, err);
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot insert an event of submission %s", params[4]);
    }
    return ETL_OK;
}

static int naive_end(void *state, bool commit, etl_error *err)
{
    (void)commit;
    (void)err;
    naive_state *st = state;
    st->count = 0; /* sent by flush(), or abandoned */
    etl_buf_reset(&st->strings);
    return ETL_OK;
}

static void naive_destroy(void *state)
{
    naive_state *st = state;
    if (!st)
        return;
    free(st->events);
    etl_buf_release(&st->strings);
    etl_buf_release(&st->sql);
    free(st);
}

static const etl_loader_ops naive_ops = {
    .name = "naive",
    .begin = naive_begin,
    .write = naive_write,
    .flush = naive_flush,
    .end = naive_end,
    .destroy = naive_destroy,
};

int etl_loader_naive_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    return etl_load_new(out, &naive_ops, sizeof(naive_state), cfg, db, err);
}
