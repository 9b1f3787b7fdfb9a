/*
 * The `chunked` extractor: the joined query through a server-side cursor,
 * FETCH N at a time, so at most one chunk of submissions is in memory
 * whatever the table size.  A cursor (rather than libpq single-row mode)
 * leaves the connection free between fetches for the transformer's schema
 * lookups.  The cursor lives in a read-only REPEATABLE READ transaction so
 * the run sees one consistent snapshot.
 *
 * The next FETCH is sent before the current chunk is handed over, so the
 * server reads chunk k+1 while etl transforms and loads chunk k: extraction
 * overlaps the rest of the pipeline at the cost of a second chunk in memory.
 */
#include "etl/extractor.h"
#include "extract.h"

#include <stdio.h>
#include <stdlib.h>

#include "banned.h"

typedef struct chunked_state {
    etl_extractor_cfg cfg;
    etl_db *db;
    etl_result *res; /* the current chunk */
    etl_submission *rows;
    int in_tx;
    bool in_flight; /* a FETCH was sent and not collected */
    bool exhausted; /* the last FETCH returned a short chunk: no more rows */
    char fetch_sql[64];
} chunked_state;

static int chunked_open(void *state, etl_error *err)
{
    chunked_state *st = state;
    etl_buf sql = ETL_BUF_INIT;
    int rc = etl_db_exec(st->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    st->in_tx = 1;
    etl_buf query = ETL_BUF_INIT;
    rc = etl_extract_joined_query(&query, st->cfg.filter);
    if (rc == ETL_OK)
        rc = etl_buf_printf(&sql, "DECLARE etl_submissions NO SCROLL CURSOR FOR %s", query.data);
    etl_buf_release(&query);
    if (rc != ETL_OK) {
        etl_buf_release(&sql);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    rc = etl_db_exec(st->db, sql.data, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    return ETL_OK;
}

static int chunked_next(void *state, etl_submission_batch *out, etl_error *err)
{
    chunked_state *st = state;
    etl_result_free(st->res); /* the previous chunk is no longer borrowed */
    st->res = NULL;
    out->rows = st->rows;
    out->count = 0;
    if (st->exhausted)
        return ETL_DONE;
    int rc = st->in_flight ? ETL_OK : etl_db_send_query(st->db, st->fetch_sql, err);
    if (rc == ETL_OK) {
        st->in_flight = false;
        rc = etl_db_wait_query(st->db, &st->res, err);
    }
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    int n = etl_result_rows(st->res);
    for (int r = 0; r < n; r++)
        etl_extract_joined_row(st->res, r, &st->rows[r]);
    out->count = (size_t)n;
    st->exhausted = (size_t)n < st->cfg.batch_rows;
    if (!st->exhausted) {
        if (etl_db_send_query(st->db, st->fetch_sql, err) != ETL_OK)
            return etl_error_wrap(err, "cannot read submissions");
        st->in_flight = true;
    }
    return n ? ETL_OK : ETL_DONE;
}

static void chunked_destroy(void *state)
{
    chunked_state *st = state;
    if (!st)
        return;
    etl_result_free(st->res);
    if (st->in_tx) {
        etl_error ignored;
        /* Read-only: ending it either way is the same; rollback also drops the cursor. */
        etl_db_exec(st->db, "ROLLBACK", &ignored);
    }
    free(st->rows);
    free(st);
}

static const etl_extractor_ops chunked_ops = {
    .name = "chunked",
    .open = chunked_open,
    .next = chunked_next,
    .destroy = chunked_destroy,
};

int etl_extractor_chunked_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                              etl_error *err)
{
    out->ops = &chunked_ops;
    out->state = NULL;
    chunked_state *st = calloc(1, sizeof(*st));
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->cfg = *cfg;
    if (st->cfg.batch_rows == 0)
        st->cfg.batch_rows = 500;
    st->db = db;
    snprintf(st->fetch_sql, sizeof(st->fetch_sql), "FETCH FORWARD %zu FROM etl_submissions",
             st->cfg.batch_rows);
    st->rows = calloc(st->cfg.batch_rows, sizeof(*st->rows));
    if (!st->rows) {
        chunked_destroy(st);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    out->state = st;
    return ETL_OK;
}
