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

#include "banned.h"

typedef struct chunked_state {
    etl_extract_base base; /* res: the current chunk */
    int in_tx;
    bool in_flight; /* a FETCH was sent and not collected */
    bool exhausted; /* the last FETCH returned a short chunk: no more rows */
    char fetch_sql[64];
} chunked_state;

static int chunked_open(void *state, etl_error *err)
{
    chunked_state *st = state;
    etl_buf sql = ETL_BUF_INIT;
    int rc = etl_db_exec(st->base.db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    st->in_tx = 1;
    rc = etl_buf_puts(&sql, "DECLARE etl_submissions NO SCROLL CURSOR FOR ");
    if (rc == ETL_OK)
        rc = etl_extract_query(&sql, ETL_EXTRACT_JOINED_SELECT, &st->base.cfg);
    if (rc != ETL_OK) {
        etl_buf_release(&sql);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    rc = etl_db_exec(st->base.db, sql.data, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    return ETL_OK;
}

static int chunked_next(void *state, etl_submission_batch *out, etl_error *err)
{
    chunked_state *st = state;
    etl_result_free(st->base.res); /* the previous chunk is no longer borrowed */
    st->base.res = NULL;
    out->rows = st->base.rows;
    out->count = 0;
    if (st->exhausted)
        return ETL_DONE;
    int rc = st->in_flight ? ETL_OK : etl_db_send_query(st->base.db, st->fetch_sql, err);
    if (rc == ETL_OK) {
        st->in_flight = false;
        rc = etl_db_wait_query(st->base.db, &st->base.res, err);
    }
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read submissions");
    int n = etl_result_rows(st->base.res);
    for (int r = 0; r < n; r++)
        etl_extract_joined_row(st->base.res, r, &st->base.rows[r]);
    out->count = (size_t)n;
    st->exhausted = (size_t)n < st->base.cfg.batch_rows;
    if (!st->exhausted) {
        if (etl_db_send_query(st->base.db, st->fetch_sql, err) != ETL_OK)
            return etl_error_wrap(err, "cannot read submissions");
        st->in_flight = true;
    }
    return n ? ETL_OK : ETL_DONE;
}

static void chunked_destroy(void *state)
{
    chunked_state *st = state;
    etl_error ignored;
    if (st && st->in_flight) {
        /* Destroyed before the end: collect the FETCH read ahead, so the connection is clean. */
        etl_result *ahead = NULL;
        etl_db_wait_query(st->base.db, &ahead, &ignored);
        etl_result_free(ahead);
    }
    /* Read-only: ending it either way is the same; rollback also drops the cursor. */
    if (st && st->in_tx)
        etl_db_exec(st->base.db, "ROLLBACK", &ignored);
    etl_extract_destroy(st);
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
    int rc = etl_extract_new(out, &chunked_ops, sizeof(chunked_state), cfg, db, err);
    chunked_state *st = out->state; /* NULL on failure */
    if (st)
        snprintf(st->fetch_sql, sizeof(st->fetch_sql), "FETCH FORWARD %zu FROM etl_submissions",
                 st->base.cfg.batch_rows);
    return rc;
}
