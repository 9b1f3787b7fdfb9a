/*
 * The `copy` and `copy-text` loaders: COPY dwh.response_events FROM STDIN,
 * streamed, in binary (`copy`) or text (`copy-text`) format.  Rows are
 * formatted into one buffer that is sent whenever it passes the flush size,
 * so memory is bounded and there is no round trip per row or per statement.
 * The columns shared by all events of a submission are encoded once per
 * submission, not once per event.  Binary spares the server parsing uuids
 * and timestamps from text, the largest part of its cost for this table.
 */
#include "copybin.h"
#include "etl/loader.h"
#include "load.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Big enough to amortise a send, small enough to stay in cache. */
#define FLUSH_BYTES ((size_t)64 * 1024)
/*
 * Events per write (loader.h, write_events): about 300 KiB of binary rows.
 * Handed a whole extractor batch (500 submissions, about 21,600 events on
 * `huge`) instead, the socket ran dry while etl transformed the next one:
 * the ingesting backend waited for etl 6% of a `huge` run; with 2,048, 1%
 * (docs/performance.md, "etl's own CPU").
 */
#define WRITE_EVENTS 2048

typedef struct copy_state {
    etl_load_base base;
    bool binary;
    etl_buf out;    /* formatted rows not yet sent */
    etl_buf prefix; /* escaped common columns of `prefix_sub` */
    const etl_submission *prefix_sub;
    int in_copy;
} copy_state;

static int copy_begin(void *state, etl_error *err)
{
    copy_state *st = state;
    etl_buf_reset(&st->out);
    etl_buf sql = ETL_BUF_INIT;
    if (etl_buf_printf(&sql, "COPY %s (" ETL_EVENT_COLUMNS ") FROM STDIN%s", st->base.table,
                       st->binary ? " (FORMAT binary)" : "") != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_db_copy_begin(st->base.db, sql.data, err);
    etl_buf_release(&sql);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot start COPY");
    st->in_copy = 1;
    if (st->binary && etl_copybin_header(&st->out) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
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

/* The same seven columns in binary, behind the tuple's field count. */
static int build_binary_prefix(copy_state *st, const etl_event_batch *b, const etl_submission *s,
                               etl_error *err)
{
    etl_buf *p = &st->prefix;
    etl_buf_reset(p);
    const char *bad = NULL;
    int rc = etl_copybin_tuple(p, ETL_EVENT_NCOLS);
    if (rc == ETL_OK && (rc = etl_copybin_uuid(p, s->form_id)) == ETL_ERR_INPUT)
        bad = "form id";
    if (rc == ETL_OK)
        rc = etl_copybin_text(p, s->form_name, strlen(s->form_name));
    if (rc == ETL_OK && (rc = etl_copybin_uuid(p, s->user_id)) == ETL_ERR_INPUT)
        bad = "user id";
    if (rc == ETL_OK)
        rc = etl_copybin_text(p, s->user_full_name, strlen(s->user_full_name));
    if (rc == ETL_OK && (rc = etl_copybin_uuid(p, s->id)) == ETL_ERR_INPUT)
        bad = "submission id";
    if (rc == ETL_OK && (rc = etl_copybin_timestamptz(p, s->created)) == ETL_ERR_INPUT)
        bad = "creation time";
    if (rc == ETL_OK && (rc = etl_copybin_timestamptz(p, b->processed_on)) == ETL_ERR_INPUT)
        bad = "processing time";
    if (bad)
        return etl_error_set(err, ETL_ERR_DB,
                             "submission %s: its %s is not in the form PostgreSQL prints "
                             "(uuid, or ISO timestamp); load it with the copy-text processor",
                             s->id, bad);
    if (rc != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->prefix_sub = s;
    return ETL_OK;
}

static int put_binary_event(copy_state *st, const etl_event_batch *b, const etl_event *e)
{
    const char *path = etl_event_path(b, e);
    const char *type = etl_answer_type_name(e->type);
    const char *tag = etl_event_tag(b, e);
    if (etl_buf_append(&st->out, st->prefix.data, st->prefix.len) != ETL_OK ||
        etl_copybin_text(&st->out, path, strlen(path)) != ETL_OK ||
        etl_copybin_text(&st->out, etl_event_value(b, e), e->value_len) != ETL_OK ||
        etl_copybin_text(&st->out, type, strlen(type)) != ETL_OK ||
        (tag ? etl_copybin_text(&st->out, tag, strlen(tag)) : etl_copybin_null(&st->out)) != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

static int put_text_event(copy_state *st, const etl_event_batch *b, const etl_event *e)
{
    const char *tag = etl_event_tag(b, e);
    if (etl_buf_append(&st->out, st->prefix.data, st->prefix.len) != ETL_OK ||
        put_field(&st->out, etl_event_path(b, e)) != ETL_OK ||
        etl_buf_put_copy_text(&st->out, etl_event_value(b, e), e->value_len) != ETL_OK ||
        etl_buf_putc(&st->out, '\t') != ETL_OK ||
        etl_buf_puts(&st->out, etl_answer_type_name(e->type)) != ETL_OK ||
        etl_buf_putc(&st->out, '\t') != ETL_OK ||
        (tag ? etl_buf_put_copy_text(&st->out, tag, strlen(tag)) : etl_buf_puts(&st->out, "\\N")) !=
            ETL_OK ||
        etl_buf_putc(&st->out, '\n') != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

/* Send what is buffered, unless the run was stopped (loader.h, stop). */
static int send_out(copy_state *st, etl_error *err)
{
    int rc = etl_load_check_stop(st->base.stop, err);
    if (rc == ETL_OK)
        rc = etl_db_copy_put(st->base.db, st->out.data, st->out.len, err);
    etl_buf_reset(&st->out);
    return rc;
}

static int copy_write(void *state, const etl_event_batch *b, etl_error *err)
{
    copy_state *st = state;
    /* Submissions are borrowed per batch: never trust a prefix across calls. */
    st->prefix_sub = NULL;
    for (size_t i = 0; i < b->count; i++) {
        const etl_event *e = &b->events[i];
        if (e->sub != st->prefix_sub) {
            int rc =
                st->binary ? build_binary_prefix(st, b, e->sub, err) : build_prefix(st, b, e->sub);
            if (rc != ETL_OK)
                return rc == ETL_ERR_NOMEM ? etl_error_set(err, rc, "out of memory") : rc;
        }
        if ((st->binary ? put_binary_event(st, b, e) : put_text_event(st, b, e)) != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        if (st->out.len >= FLUSH_BYTES) {
            int rc = send_out(st, err);
            if (rc != ETL_OK)
                return rc;
        }
    }
    return ETL_OK;
}

static int copy_flush(void *state, etl_error *err)
{
    copy_state *st = state;
    return st->out.len ? send_out(st, err) : ETL_OK;
}

static int copy_end(void *state, bool commit, etl_error *err)
{
    copy_state *st = state;
    if (!st->in_copy)
        return ETL_OK;
    st->in_copy = 0;
    int rc = ETL_OK;
    if (commit && st->binary) {
        etl_buf_reset(&st->out);
        rc = etl_copybin_trailer(&st->out) == ETL_OK
                 ? etl_db_copy_put(st->base.db, st->out.data, st->out.len, err)
                 : etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    etl_buf_reset(&st->out);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_db_copy_end(st->base.db, "etl batch abandoned", &ignored);
        return rc;
    }
    rc = etl_db_copy_end(st->base.db, commit ? NULL : "etl batch abandoned", err);
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
    .write_events = WRITE_EVENTS,
};

static const etl_loader_ops copy_text_ops = {
    .name = "copy-text",
    .begin = copy_begin,
    .write = copy_write,
    .flush = copy_flush,
    .end = copy_end,
    .destroy = copy_destroy,
    .write_events = WRITE_EVENTS,
};

static int copy_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, bool binary,
                    etl_error *err)
{
    int rc =
        etl_load_new(out, binary ? &copy_ops : &copy_text_ops, sizeof(copy_state), cfg, db, err);
    if (rc == ETL_OK)
        ((copy_state *)out->state)->binary = binary;
    return rc;
}

int etl_loader_copy_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    return copy_new(out, cfg, db, true, err);
}

int etl_loader_copy_text_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    return copy_new(out, cfg, db, false, err);
}
