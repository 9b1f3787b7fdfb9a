/*
 * The `joined` extractor: one query that joins users and forms (outer joins:
 * a submission whose user or form is missing still comes out, to be
 * rejected rather than silently left behind), the whole
 * result held in memory, lent out in slices.  Cheap in round trips, but its
 * memory grows with the table: it is the eager-loading step of the lesson,
 * not the end of it (see `chunked`).  Form schemas are not joined in: the
 * transformer fetches each form's schema once, on a cache miss.
 */
#include "etl/extractor.h"
#include "extract.h"

#include <stdlib.h>

#include "banned.h"

int etl_extract_joined_query(etl_buf *out, const char *filter)
{
    etl_buf_reset(out);
    if (etl_buf_puts(out, "SELECT s.id, s.form_id, CASE WHEN f.id IS NOT NULL THEN f.name END, "
                          "s.user_id, CASE WHEN u.id IS NOT NULL THEN " ETL_EXTRACT_FULL_NAME(
                              "u") " END, s.date_created, s.responses "
                                   "FROM app.submissions s "
                                   "LEFT JOIN app.forms f ON f.id = s.form_id "
                                   "LEFT JOIN app.users u ON u.id = s.user_id ") != ETL_OK ||
        (filter && etl_buf_printf(out, "WHERE %s ", filter) != ETL_OK) ||
        etl_buf_puts(out, "ORDER BY s.date_created, s.id") != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

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

typedef struct joined_state {
    etl_extractor_cfg cfg;
    etl_db *db;
    etl_result *res;
    int row; /* next row of res to lend */
    etl_submission *rows;
} joined_state;

static int joined_open(void *state, etl_error *err)
{
    joined_state *st = state;
    etl_buf sql = ETL_BUF_INIT;
    if (etl_extract_joined_query(&sql, st->cfg.filter) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_query(st->db, sql.data, 0, NULL, &st->res, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    return ETL_OK;
}

static int joined_next(void *state, etl_submission_batch *out, etl_error *err)
{
    (void)err;
    joined_state *st = state;
    int total = etl_result_rows(st->res);
    size_t n = 0;
    while (n < st->cfg.batch_rows && st->row < total) {
        etl_extract_joined_row(st->res, st->row++, &st->rows[n++]);
    }
    out->rows = st->rows;
    out->count = n;
    return n ? ETL_OK : ETL_DONE;
}

static void joined_destroy(void *state)
{
    joined_state *st = state;
    if (!st)
        return;
    etl_result_free(st->res);
    free(st->rows);
    free(st);
}

static const etl_extractor_ops joined_ops = {
    .name = "joined",
    .open = joined_open,
    .next = joined_next,
    .destroy = joined_destroy,
};

int etl_extractor_joined_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                             etl_error *err)
{
    out->ops = &joined_ops;
    out->state = NULL;
    joined_state *st = calloc(1, sizeof(*st));
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->cfg = *cfg;
    if (st->cfg.batch_rows == 0)
        st->cfg.batch_rows = 500;
    st->db = db;
    st->rows = calloc(st->cfg.batch_rows, sizeof(*st->rows));
    if (!st->rows) {
        joined_destroy(st);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    out->state = st;
    return ETL_OK;
}
