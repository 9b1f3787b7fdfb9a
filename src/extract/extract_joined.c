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

#include "banned.h"

typedef struct joined_state {
    etl_extract_base base;
    int row; /* next row of res to lend */
} joined_state;

static int joined_open(void *state, etl_error *err)
{
    joined_state *st = state;
    return etl_extract_read_all(&st->base, ETL_EXTRACT_JOINED_SELECT, err);
}

static int joined_next(void *state, etl_submission_batch *out, etl_error *err)
{
    (void)err;
    joined_state *st = state;
    int total = etl_result_rows(st->base.res);
    size_t n = 0;
    while (n < st->base.cfg.batch_rows && st->row < total) {
        etl_extract_joined_row(st->base.res, st->row++, &st->base.rows[n++]);
    }
    out->rows = st->base.rows;
    out->count = n;
    return n ? ETL_OK : ETL_DONE;
}

static const etl_extractor_ops joined_ops = {
    .name = "joined",
    .open = joined_open,
    .next = joined_next,
    .destroy = etl_extract_destroy,
};

int etl_extractor_joined_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                             etl_error *err)
{
    return etl_extract_new(out, &joined_ops, sizeof(joined_state), cfg, db, err);
}
