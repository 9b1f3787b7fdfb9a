/*
 * Pieces every loader shares: the start of the constructor, the stop check,
 * the INSERT text, and the column values of an event in the order of
 * ETL_EVENT_COLUMNS.
 */
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>

#include "banned.h"

void etl_event_params(const etl_event_batch *b, const etl_event *e, const char *params[11])
{
    params[0] = e->sub->form_id;
    params[1] = e->sub->form_name;
    params[2] = e->sub->user_id;
    params[3] = e->sub->user_full_name;
    params[4] = e->sub->id;
    params[5] = e->sub->created;
    params[6] = b->processed_on;
    params[7] = etl_event_path(b, e);
    params[8] = etl_event_value(b, e);
    params[9] = etl_answer_type_name(e->type);
    params[10] = etl_event_tag(b, e);
}

int etl_load_end_sent(void *state, bool commit, etl_error *err)
{
    (void)state;
    (void)commit;
    (void)err;
    return ETL_OK;
}

int etl_load_check_stop(const volatile sig_atomic_t *stop, etl_error *err)
{
    if (stop && *stop)
        return etl_error_set(err, ETL_ERR_INTERRUPTED, "interrupted while loading");
    return ETL_OK;
}

int etl_load_new(etl_loader *out, const etl_loader_ops *ops, size_t size, const etl_loader_cfg *cfg,
                 etl_db *db, etl_error *err)
{
    out->ops = ops;
    out->state = NULL;
    etl_load_base *st = calloc(1, size);
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->db = db;
    st->table = cfg->table ? cfg->table : "dwh.response_events";
    st->stop = cfg->stop;
    out->state = st;
    return ETL_OK;
}

void etl_load_deallocate(etl_db *db, const char *name)
{
    etl_buf sql = ETL_BUF_INIT;
    etl_error ignored;
    if (etl_buf_printf(&sql, "DEALLOCATE %s", name) == ETL_OK)
        etl_db_exec(db, sql.data, &ignored);
    etl_buf_release(&sql);
}

int etl_load_insert_sql(etl_buf *out, const char *table, size_t rows)
{
    etl_buf_reset(out);
    if (etl_buf_printf(out, "INSERT INTO %s (" ETL_EVENT_COLUMNS ") VALUES ", table) != ETL_OK)
        return ETL_ERR_NOMEM;
    size_t p = 1;
    for (size_t r = 0; r < rows; r++) {
        if (etl_buf_puts(out, r ? ",(" : "(") != ETL_OK)
            return ETL_ERR_NOMEM;
        for (int c = 0; c < ETL_EVENT_NCOLS; c++, p++)
            if (etl_buf_printf(out, c ? ",$%zu" : "$%zu", p) != ETL_OK)
                return ETL_ERR_NOMEM;
        if (etl_buf_putc(out, ')') != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    return ETL_OK;
}
