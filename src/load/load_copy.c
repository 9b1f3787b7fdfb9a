/*
 * The `copy` loader: COPY dwh.response_events FROM STDIN in text format,
 * streamed.  Rows are formatted into one buffer that is sent whenever it
 * passes the flush size, so memory is bounded and there is no round trip
 * per row or per statement.  The columns shared by all events of a
 * submission are escaped once per submission, not once per event.
 */
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Big enough to amortise a send, small enough to stay in cache. */
#define FLUSH_BYTES ((size_t)256 * 1024)

typedef struct copy_state {
    etl_db *db;
    etl_buf out;    /* formatted rows not yet sent */
    etl_buf prefix; /* escaped common columns of `prefix_sub` */
    const etl_submission *prefix_sub;
    int in_copy;
} copy_state;

static int copy_begin(void *state, etl_error *err)
{
    copy_state *st = state;
    etl_buf_reset(&st->out);
    int rc = etl_db_copy_begin(st->db,
                               "COPY dwh.response_events (" ETL_EVENT_COLUMNS ") FROM STDIN", err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot start COPY");
    st->in_copy = 1;
    return ETL_OK;
}

static int put_field(etl_buf *b, const char *s)
{
    if (etl_buf_put_copy_text(b, s, strlen(s)) != ETL_OK || etl_buf_putc(b, '\t') != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

/* Escape the seven columns an event shares with the rest of its submission. */
static int build_prefix(copy_state *st, const etl_event_batch *b, const etl_submission *s)
{
    etl_buf_reset(&st->prefix);
    const char *cols[7] = {s->form_id, s->form_name, s->user_id,     s->user_full_name,
                           s->id,      s->created,   b->processed_on};
    for (int c = 0; c < 7; c++)
        if (put_field(&st->prefix, cols[c]) != ETL_OK)
            return ETL_ERR_NOMEM;
    st->prefix_sub = s;
    return ETL_OK;
}

static int copy_write(void *state, const etl_event_batch *b, etl_error *err)
{
    copy_state *st = state;
    /* Submissions are borrowed per batch: never trust a prefix across calls. */
    st->prefix_sub = NULL;
    for (size_t i = 0; i < b->count; i++) {
        const etl_event *e = &b->events[i];
        if (e->sub != st->prefix_sub && build_prefix(st, b, e->sub) != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        const char *tag = etl_event_tag(b, e);
        if (etl_buf_append(&st->out, st->prefix.data, st->prefix.len) != ETL_OK ||
            put_field(&st->out, etl_event_path(b, e)) != ETL_OK ||
            etl_buf_put_copy_text(&st->out, etl_event_value(b, e), e->value_len) != ETL_OK ||
            etl_buf_putc(&st->out, '\t') != ETL_OK ||
            etl_buf_puts(&st->out, etl_answer_type_name(e->type)) != ETL_OK ||
            etl_buf_putc(&st->out, '\t') != ETL_OK ||
            (tag ? etl_buf_put_copy_text(&st->out, tag, strlen(tag))
                 : etl_buf_puts(&st->out, "\\N")) != ETL_OK ||
            etl_buf_putc(&st->out, '\n') != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        if (st->out.len >= FLUSH_BYTES) {
            int rc = etl_db_copy_put(st->db, st->out.data, st->out.len, err);
            if (rc != ETL_OK)
                return rc;
            etl_buf_reset(&st->out);
        }
    }
    return ETL_OK;
}

static int copy_flush(void *state, etl_error *err)
{
    copy_state *st = state;
    if (!st->out.len)
        return ETL_OK;
    int rc = etl_db_copy_put(st->db, st->out.data, st->out.len, err);
    etl_buf_reset(&st->out);
    return rc;
}

static int copy_end(void *state, bool commit, etl_error *err)
{
    copy_state *st = state;
    if (!st->in_copy)
        return ETL_OK;
    st->in_copy = 0;
    etl_buf_reset(&st->out);
    int rc = etl_db_copy_end(st->db, commit ? NULL : "etl batch abandoned", err);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "COPY failed");
}

static void copy_destroy(void *state)
{
    copy_state *st = state;
    if (!st)
        return;
    etl_buf_release(&st->out);
    etl_buf_release(&st->prefix);
    free(st);
}

static const etl_loader_ops copy_ops = {
    .name = "copy",
    .begin = copy_begin,
    .write = copy_write,
    .flush = copy_flush,
    .end = copy_end,
    .destroy = copy_destroy,
};

int etl_loader_copy_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    (void)cfg;
    out->ops = &copy_ops;
    out->state = NULL;
    copy_state *st = calloc(1, sizeof(*st));
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->db = db;
    out->state = st;
    return ETL_OK;
}
