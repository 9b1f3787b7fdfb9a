/* What the extractors share; see extract.h. */
#include "extract.h"

#include <stdlib.h>

#include "banned.h"

void etl_extract_joined_row(const etl_result *res, int r, etl_submission *s)
{
    s->id = etl_result_get(res, r, 0);
    s->form_id = etl_result_get(res, r, 1);
    s->form_name = etl_result_is_null(res, r, 2) ? NULL : etl_result_get(res, r, 2);
    s->form_schema = NULL;
    s->user_id = etl_result_get(res, r, 3);
    s->user_full_name = etl_result_is_null(res, r, 4) ? NULL : etl_result_get(res, r, 4);
    s->created = etl_result_get(res, r, 5);
    s->responses = etl_result_get(res, r, 6);
    s->responses_len = etl_result_len(res, r, 6);
}

void etl_extract_destroy(void *state)
{
    etl_extract_base *st = state;
    if (!st)
        return;
    etl_result_free(st->res);
    free(st->rows);
    free(st);
}

int etl_extract_new(etl_extractor *out, const etl_extractor_ops *ops, size_t size,
                    const etl_extractor_cfg *cfg, etl_db *db, etl_error *err)
{
    out->ops = ops;
    out->state = NULL;
    etl_extract_base *st = calloc(1, size);
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->cfg = *cfg;
    if (st->cfg.batch_rows == 0)
        st->cfg.batch_rows = ETL_DEFAULT_BATCH_ROWS;
    st->db = db;
    st->rows = calloc(st->cfg.batch_rows, sizeof(*st->rows));
    if (!st->rows) {
        etl_extract_destroy(st);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    out->state = st;
    return ETL_OK;
}

int etl_extract_query(etl_buf *out, const char *select, const etl_extractor_cfg *cfg)
{
    if (etl_buf_puts(out, select) != ETL_OK ||
        (cfg->filter && etl_buf_printf(out, "WHERE %s ", cfg->filter) != ETL_OK) ||
        etl_buf_printf(out, "ORDER BY %s", cfg->order ? cfg->order : ETL_EXTRACT_ORDER) != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

int etl_extract_read_all(etl_extract_base *st, const char *select, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    if (etl_extract_query(&sql, select, &st->cfg) != ETL_OK) {
        etl_buf_release(&sql);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    int rc = etl_db_query(st->db, sql.data, 0, NULL, &st->res, err);
    etl_buf_release(&sql);
    return rc == ETL_OK ? ETL_OK : etl_error_wrap(err, "cannot read submissions");
}
