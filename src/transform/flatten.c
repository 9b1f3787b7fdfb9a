/*
 * The response walk: tokens in, events out.  Pre-order over objects with an
 * explicit frame stack (an object's scalar members first, then its child
 * objects, all in document order).  Values are formatted straight into the
 * event batch's string buffer, so an event costs no allocation of its own.
 */
#include "etl/flatten.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

const char *etl_answer_type_name(etl_answer_type t)
{
    static const char *const names[] = {"number", "text", "boolean", "date"};
    return (unsigned)t < 4 ? names[t] : "?";
}

int etl_answer_type_parse(const char *s, etl_answer_type *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, etl_answer_type_name((etl_answer_type)i)) == 0) {
            *out = (etl_answer_type)i;
            return 0;
        }
    }
    return -1;
}

int etl_format_number(const char *raw, size_t len, etl_buf *out)
{
    if (!memchr(raw, '.', len) && !memchr(raw, 'e', len) && !memchr(raw, 'E', len))
        return etl_buf_append(out, raw, len); /* an integer: exact, any number of digits */
    char tmp[64];
    if (len >= sizeof(tmp))
        return etl_buf_append(out, raw, len); /* absurdly long mantissa: keep as written */
    memcpy(tmp, raw, len);
    tmp[len] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        return etl_buf_append(out, raw, len);
    /*
     * Shortest digits that read back to the same double, then laid out as
     * Python's repr does: fixed notation for exponents -4..15 (so 1e2 is
     * "100" and 2.50 is "2.5"), scientific beyond (1e+16, 1e-05).
     */
    char txt[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(txt, sizeof(txt), "%.*e", prec - 1, d);
        if (strtod(txt, NULL) == d)
            break;
    }
    int exp10 = (int)strtol(strchr(txt, 'e') + 1, NULL, 10);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = prec - 1 - exp10;
        snprintf(txt, sizeof(txt), "%.*f", decimals > 0 ? decimals : 0, d);
    } else {
        snprintf(txt, sizeof(txt), "%.*g", prec, d);
    }
    return etl_buf_puts(out, txt);
}

typedef struct frame {
    uint32_t obj;       /* token index of the object */
    uint32_t cursor;    /* token index of the next member's key to look at for children */
    uint32_t remaining; /* members not yet looked at for children */
    size_t path_len;    /* bytes of the path buffer that are this object's path */
} frame;

/* Append ".key" (or "key" at the root) to path; returns false if the key cannot be a slug. */
static int extend_path(const etl_json_doc *d, const etl_json_tok *key, etl_buf *path, size_t base,
                       int *usable)
{
    path->len = base;
    if (base && etl_buf_putc(path, '.') != ETL_OK)
        return ETL_ERR_NOMEM;
    etl_error ignored;
    int rc = etl_json_decode_string(d, key, path, &ignored);
    if (rc == ETL_ERR_NOMEM)
        return rc;
    /* A key PostgreSQL could not store can never equal a slug from a jsonb schema. */
    *usable = rc == ETL_OK;
    return ETL_OK;
}

bool etl_is_iso_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* Does the JSON type of v fit the question?  Dates are checked after decoding. */
static bool type_fits(etl_answer_type want, etl_json_type got)
{
    switch (want) {
    case ETL_ANSWER_NUMBER:
        return got == ETL_JSON_NUMBER;
    case ETL_ANSWER_BOOLEAN:
        return got == ETL_JSON_TRUE || got == ETL_JSON_FALSE;
    case ETL_ANSWER_DATE:
        return got == ETL_JSON_STRING;
    case ETL_ANSWER_TEXT:
    default:
        return true; /* any scalar reads as text: "42" and 42 are both a fine apartment number */
    }
}

static int mismatch(etl_error *err, const etl_buf *path, etl_answer_type want, const char *got)
{
    etl_error_set(err, ETL_ERR_INPUT, "answer to '%s' is %s, but the question's answerType is %s",
                  path->data, got, etl_answer_type_name(want));
    err->reason = ETL_REJECT_TYPE_MISMATCH;
    return ETL_ERR_INPUT;
}

static int emit(const etl_json_doc *d, const etl_json_tok *v, const etl_question *q,
                const etl_submission *sub, const etl_buf *path, etl_event_batch *out,
                etl_error *err)
{
    if (!type_fits(q->type, (etl_json_type)v->type))
        return mismatch(err, path, q->type,
                        v->type == ETL_JSON_STRING   ? "a string"
                        : v->type == ETL_JSON_NUMBER ? "a number"
                                                     : "a boolean");
    size_t path_off = out->strings.len;
    if (etl_buf_append(&out->strings, path->data, path->len + 1) != ETL_OK)
        return ETL_ERR_NOMEM;
    size_t value_off = out->strings.len;
    int rc;
    switch ((etl_json_type)v->type) {
    case ETL_JSON_STRING:
        rc = etl_json_decode_string(d, v, &out->strings, err);
        if (rc == ETL_ERR_INPUT) {
            etl_error_wrap(err, "answer to '%s'", path->data);
            err->reason = ETL_REJECT_UNSTORABLE_STRING;
            return ETL_ERR_INPUT;
        }
        if (rc == ETL_OK && q->type == ETL_ANSWER_DATE &&
            !etl_is_iso_date(out->strings.data + value_off, out->strings.len - value_off)) {
            etl_error_set(err, ETL_ERR_INPUT,
                          "answer to '%s' is \"%.40s\", not a date written "
                          "YYYY-MM-DD",
                          path->data, out->strings.data + value_off);
            err->reason = ETL_REJECT_TYPE_MISMATCH;
            return ETL_ERR_INPUT;
        }
        break;
    case ETL_JSON_NUMBER:
        rc = etl_format_number(d->text + v->start, v->len, &out->strings);
        break;
    default: /* true / false: their JSON spelling is the text we want */
        rc = etl_buf_append(&out->strings, d->text + v->start, v->len);
    }
    if (rc != ETL_OK)
        return rc;
    size_t value_len = out->strings.len - value_off;
    if (etl_buf_putc(&out->strings, '\0') != ETL_OK)
        return ETL_ERR_NOMEM;
    size_t tag_off = ETL_NO_TAG;
    if (q->tag) {
        tag_off = out->strings.len;
        if (etl_buf_append(&out->strings, q->tag, strlen(q->tag) + 1) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    etl_event *e = etl_event_batch_push(out);
    if (!e)
        return ETL_ERR_NOMEM;
    e->sub = sub;
    e->path_off = path_off;
    e->value_off = value_off;
    e->value_len = value_len;
    e->tag_off = tag_off;
    e->type = q->type;
    return ETL_OK;
}

/* Emit the scalar members of object f->obj. */
static int emit_scalars(const etl_json_doc *d, const etl_pathmap *m, const etl_submission *sub,
                        const frame *f, etl_event_batch *out, etl_buf *path, etl_error *err)
{
    const etl_json_tok *obj = &d->toks[f->obj];
    uint32_t k = f->obj + 1;
    for (uint32_t n = 0; n < obj->size; n++) {
        const etl_json_tok *key = &d->toks[k];
        const etl_json_tok *val = &d->toks[k + 1];
        k = val->next;
        if (val->type == ETL_JSON_NULL || val->type == ETL_JSON_OBJECT)
            continue; /* null: unanswered; objects: walked after the scalars */
        int usable;
        int rc;
        if ((rc = extend_path(d, key, path, f->path_len, &usable)) != ETL_OK)
            return rc;
        if (!usable)
            continue;
        const etl_question *q = etl_pathmap_find(m, path->data, path->len);
        if (q && val->type == ETL_JSON_ARRAY)
            return mismatch(err, path, q->type, "an array");
        if (q && (rc = emit(d, val, q, sub, path, out, err)) != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

int etl_flatten_walk(const etl_json_doc *d, const etl_pathmap *m, const etl_submission *sub,
                     etl_event_batch *out, etl_buf *path, etl_error *err)
{
    if (d->count == 0 || d->toks[0].type != ETL_JSON_OBJECT) {
        etl_error_set(err, ETL_ERR_INPUT, "responses is %s %s, not an object",
                      d->count && d->toks[0].type == ETL_JSON_ARRAY ? "an" : "a",
                      d->count ? etl_json_type_name((etl_json_type)d->toks[0].type) : "nothing");
        err->reason = ETL_REJECT_NOT_OBJECT;
        return ETL_ERR_INPUT;
    }
    frame *stack = NULL;
    size_t depth = 0;
    size_t cap = 0;
    int rc = ETL_OK;
    etl_buf_reset(path);

    /* The root: push it, emit its scalars, then loop over children. */
    cap = 16;
    stack = malloc(cap * sizeof(*stack));
    if (!stack)
        return ETL_ERR_NOMEM;
    stack[0] = (frame){0, 1, d->toks[0].size, 0};
    depth = 1;
    if ((rc = emit_scalars(d, m, sub, &stack[0], out, path, err)) != ETL_OK)
        goto out;

    while (depth > 0) {
        frame *f = &stack[depth - 1];
        if (f->remaining == 0) {
            depth--;
            continue;
        }
        const etl_json_tok *key = &d->toks[f->cursor];
        uint32_t vi = f->cursor + 1;
        f->cursor = d->toks[vi].next;
        f->remaining--;
        if (d->toks[vi].type != ETL_JSON_OBJECT)
            continue;
        int usable;
        if ((rc = extend_path(d, key, path, f->path_len, &usable)) != ETL_OK)
            goto out;
        if (!usable)
            continue;
        const etl_question *q = etl_pathmap_find(m, path->data, path->len);
        if (q && !q->group) {
            rc = mismatch(err, path, q->type, "an object");
            goto out;
        }
        if (depth == cap) {
            frame *p = realloc(stack, cap * 2 * sizeof(*stack));
            if (!p) {
                rc = ETL_ERR_NOMEM;
                goto out;
            }
            stack = p;
            cap *= 2;
        }
        frame child = {vi, vi + 1, d->toks[vi].size, path->len};
        stack[depth++] = child;
        if ((rc = emit_scalars(d, m, sub, &stack[depth - 1], out, path, err)) != ETL_OK)
            goto out;
    }
out:
    free(stack);
    return rc;
}
