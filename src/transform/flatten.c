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

/*
 * A JSON number as digits x 10^exp: the digits of its integer and fraction
 * parts read as one string, from first to last (exclusive) significant
 * digit, so equal values have equal forms.  Zero has no significant digit.
 */
typedef struct decimal {
    const char *s;
    size_t int_start, int_len, frac_start, frac_len;
    size_t first, last; /* significant digits: [first, last) of int then frac digits */
    long long exp;      /* value = digits [first, last) x 10^exp */
    int neg;
} decimal;

static char decimal_digit(const decimal *x, size_t i)
{
    const char *at =
        i < x->int_len ? x->s + x->int_start + i : x->s + x->frac_start + (i - x->int_len);
    return *at;
}

/* Read a number the tokenizer accepted (or one printf wrote) into x. */
static void decimal_read(decimal *x, const char *s, size_t len)
{
    size_t i = 0;
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->neg = len && s[0] == '-';
    i = (size_t)x->neg;
    x->int_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    x->int_len = i - x->int_start;
    if (i < len && s[i] == '.')
        i++;
    x->frac_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    x->frac_len = i - x->frac_start;
    long long e = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = i < len && s[i] == '-';
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < len; i++)
            if (e < 1000000000000000LL) /* saturate: such a value is no finite double */
                e = e * 10 + (s[i] - '0');
        e = eneg ? -e : e;
    }
    size_t n = x->int_len + x->frac_len;
    size_t first = 0;
    while (first < n && decimal_digit(x, first) == '0')
        first++;
    size_t last = n;
    while (last > first && decimal_digit(x, last - 1) == '0')
        last--;
    x->first = first;
    x->last = last;
    /* value = digits[first, last) x 10^(e - frac_len + (n - last)) */
    x->exp = e - (long long)x->frac_len + (long long)(n - last);
}

/* Do the number texts a and b denote exactly the same decimal value? */
static bool same_decimal(const char *a, size_t alen, const char *b, size_t blen)
{
    decimal x;
    decimal y;
    decimal_read(&x, a, alen);
    decimal_read(&y, b, blen);
    size_t n = x.last - x.first;
    if (n == 0 || y.last - y.first == 0)
        return n == y.last - y.first; /* zero: -0 and 0 are the same value */
    if (x.neg != y.neg || n != y.last - y.first || x.exp != y.exp)
        return false;
    for (size_t i = 0; i < n; i++)
        if (decimal_digit(&x, x.first + i) != decimal_digit(&y, y.first + i))
            return false;
    return true;
}

/*
 * Does txt, which reads back to d, lie exactly halfway between d and a
 * neighbour (so that only round-half-even takes it to d)?  PostgreSQL's
 * float8 output (Ryu, not accepting the interval's bounds) never writes such
 * a text, and in-db must agree.  The midpoint is exact in long double, and
 * printed exactly with 1100 digits, enough for any double's.
 */
static bool on_a_tie(const char *txt, double d)
{
    long double c = strtold(txt, NULL);
    long double next = c < (long double)d ? (long double)nextafter(d, -INFINITY)
                                          : (long double)nextafter(d, INFINITY);
    long double mid = ((long double)d + next) / 2;
    if (c != mid)
        return false;
    char exact[1200];
    snprintf(exact, sizeof(exact), "%.1100Le", mid);
    return same_decimal(txt, strlen(txt), exact, strlen(exact));
}

/* The shortest text that reads back to d, laid out as Python's repr does. */
static void shortest_text(double d, char *txt, size_t cap)
{
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(txt, cap, "%.*e", prec - 1, d);
        if (strtod(txt, NULL) == d && !on_a_tie(txt, d))
            break;
    }
    /* Fixed notation for exponents -4..15 (1e2 is "100", 2.50 is "2.5"), scientific beyond. */
    int exp10 = (int)strtol(strchr(txt, 'e') + 1, NULL, 10);
    if (exp10 >= -4 && exp10 < 16) {
        int decimals = prec - 1 - exp10;
        snprintf(txt, cap, "%.*f", decimals > 0 ? decimals : 0, d);
    } else {
        snprintf(txt, cap, "%.*e", prec - 1, d); /* not %g: it writes 17 digits at e+16 fixed */
    }
}

/*
 * The common case, decided without a double: a number in fixed notation with
 * 1 to 15 significant digits (DBL_DIG) whose first one is at a decimal
 * exponent of -4..15.  Its shortest text is itself without the fraction's
 * trailing zeros: it reads back from its double unchanged (15 digits always
 * do), no shorter text reads as the same double (two decimals of at most 15
 * digits in this range are never one double), and it is never halfway
 * between two doubles (that takes 16 digits or more at these exponents).
 * Sets *keep to the length of that text; false where shortest_text decides
 * (a printf and a strtod per digit count).
 */
static bool short_fixed(const char *raw, size_t len, size_t *keep)
{
    if (memchr(raw, 'e', len) || memchr(raw, 'E', len))
        return false;
    decimal x;
    decimal_read(&x, raw, len);
    size_t sig = x.last - x.first;
    long long exp10 = x.exp + (long long)sig - 1; /* of the first significant digit */
    if (sig == 0 || sig > 15 || exp10 < -4 || exp10 > 15)
        return false; /* zero (-0.0 becomes -0), or the general rule's */
    /* Up to the last significant digit if it is in the fraction, else the integer part. */
    *keep = x.last > x.int_len ? x.frac_start + (x.last - x.int_len) : x.int_start + x.int_len;
    return true;
}

int etl_format_number(const char *raw, size_t len, etl_buf *out)
{
    if (!memchr(raw, '.', len) && !memchr(raw, 'e', len) && !memchr(raw, 'E', len))
        return etl_buf_append(out, raw, len); /* an integer: exact, any number of digits */
    size_t keep;
    if (short_fixed(raw, len, &keep))
        return etl_buf_append(out, raw, keep);
    char small[64];
    char *tmp = len < sizeof(small) ? small : malloc(len + 1);
    if (!tmp)
        return ETL_ERR_NOMEM;
    memcpy(tmp, raw, len);
    tmp[len] = '\0';
    double d = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    char txt[40];
    if (isfinite(d)) {
        shortest_text(d, txt, sizeof(txt));
        if (same_decimal(raw, len, txt, strlen(txt)))
            return etl_buf_puts(out, txt);
    }
    return etl_buf_append(out, raw, len); /* 1e999, 1e-400, 0.10000000000000001: as written */
}

/* What one walk keeps beside the caller's buffers. */
typedef struct walk {
    const etl_json_doc *d;
    const etl_pathmap *m;
    const etl_submission *sub;
    etl_event_batch *out;
    etl_buf *path;
    etl_buf key[2]; /* decoded keys, to compare escaped member names */
    bool dotted;    /* a member name with a dot was part of a path */
} walk;

typedef struct frame {
    uint32_t obj;       /* token index of the object */
    uint32_t cursor;    /* token index of the next member's key to look at for children */
    uint32_t remaining; /* members not yet looked at for children */
    size_t path_len;    /* bytes of the path buffer that are this object's path */
    bool dups;          /* two members of the object have the same name */
} frame;

/* Do key tokens a and b name the same member?  Compared decoded, as jsonb does. */
static int same_key(walk *w, const etl_json_tok *a, const etl_json_tok *b, bool *same)
{
    const etl_json_doc *d = w->d;
    if (!a->escaped && !b->escaped) {
        *same = a->len == b->len && memcmp(d->text + a->start, d->text + b->start, a->len) == 0;
        return ETL_OK;
    }
    etl_error ignored; /* the tokenizer found no unstorable string, so decoding cannot fail */
    etl_buf_reset(&w->key[0]);
    etl_buf_reset(&w->key[1]);
    if (etl_json_decode_string(d, a, &w->key[0], &ignored) != ETL_OK ||
        etl_json_decode_string(d, b, &w->key[1], &ignored) != ETL_OK)
        return ETL_ERR_NOMEM;
    *same = w->key[0].len == w->key[1].len &&
            memcmp(w->key[0].data, w->key[1].data, w->key[0].len) == 0;
    return ETL_OK;
}

/* Is the member whose key is token k followed in object obj by one of the same name? */
static int shadowed(walk *w, uint32_t obj, uint32_t k, bool *out)
{
    const etl_json_tok *t = w->d->toks;
    *out = false;
    for (uint32_t b = t[k + 1].next; b < t[obj].next && !*out; b = t[b + 1].next) {
        int rc = same_key(w, &t[k], &t[b], out);
        if (rc != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

/* Does any member name occur twice in object obj?  Mostly not, and then no member is shadowed. */
static int has_dups(walk *w, uint32_t obj, bool *out)
{
    const etl_json_tok *t = w->d->toks;
    *out = false;
    for (uint32_t k = obj + 1; k < t[obj].next && !*out; k = t[k + 1].next) {
        int rc = shadowed(w, obj, k, out);
        if (rc != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

/* Should member k of the frame's object be walked: not shadowed by a later namesake? */
static int counts(walk *w, const frame *f, uint32_t k, bool *yes)
{
    bool later = false;
    int rc = f->dups ? shadowed(w, f->obj, k, &later) : ETL_OK;
    *yes = !later;
    return rc;
}

/*
 * Set path to the path of frame f's object, then ".key" (or "key" at the
 * root).  The root is told by its token, not by an empty path: below a key
 * "" the path is "" too, and {"": {"a": 1}} answers ".a".
 */
static int extend_path(walk *w, const etl_json_tok *key, const frame *f)
{
    etl_buf *path = w->path;
    size_t base = f->path_len;
    path->len = base;
    if (f->obj != 0 && etl_buf_putc(path, '.') != ETL_OK)
        return ETL_ERR_NOMEM;
    etl_error ignored; /* the tokenizer found no unstorable string, so decoding cannot fail */
    if (etl_json_decode_string(w->d, key, path, &ignored) != ETL_OK)
        return ETL_ERR_NOMEM;
    /* Only a name with a dot in it can make two routes to one path (not the separator). */
    size_t name = base + (f->obj != 0);
    if (memchr(path->data + name, '.', path->len - name))
        w->dotted = true;
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
static int emit_scalars(walk *w, const frame *f, etl_error *err)
{
    const etl_json_doc *d = w->d;
    const etl_json_tok *obj = &d->toks[f->obj];
    uint32_t k = f->obj + 1;
    for (uint32_t n = 0; n < obj->size; n++) {
        uint32_t key = k;
        const etl_json_tok *val = &d->toks[k + 1];
        k = val->next;
        if (val->type == ETL_JSON_NULL || val->type == ETL_JSON_OBJECT)
            continue; /* null: unanswered; objects: walked after the scalars */
        bool walked;
        int rc = counts(w, f, key, &walked);
        if (rc != ETL_OK)
            return rc;
        if (!walked)
            continue;
        if ((rc = extend_path(w, &d->toks[key], f)) != ETL_OK)
            return rc;
        const etl_question *q = etl_pathmap_find(w->m, w->path->data, w->path->len);
        if (q && val->type == ETL_JSON_ARRAY)
            return mismatch(err, w->path, q->type, "an array");
        if (q && (rc = emit(d, val, q, w->sub, w->path, w->out, err)) != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

/* Push object token obj, whose path is the first path_len bytes of the path buffer. */
static int push_frame(walk *w, frame **stack, size_t *depth, size_t *cap, uint32_t obj,
                      size_t path_len)
{
    if (etl_grow((void **)stack, cap, *depth + 1, sizeof(**stack)) != ETL_OK)
        return ETL_ERR_NOMEM;
    frame *f = &(*stack)[(*depth)++];
    *f = (frame){obj, obj + 1, w->d->toks[obj].size, path_len, false};
    return w->d->toks[obj].size > 1 ? has_dups(w, obj, &f->dups) : ETL_OK;
}

/* Events [from, out->count) are one submission's: is a path among them twice? */
static int check_one_answer_per_path(const etl_event_batch *out, size_t from, etl_error *err)
{
    for (size_t i = from; i < out->count; i++) {
        const char *p = etl_event_path(out, &out->events[i]);
        for (size_t j = i + 1; j < out->count; j++) {
            if (strcmp(p, etl_event_path(out, &out->events[j])) == 0) {
                etl_error_set(err, ETL_ERR_INPUT,
                              "'%s' is answered twice, by a member name with a dot in it and by "
                              "nested objects; which one is meant cannot be told",
                              p);
                err->reason = ETL_REJECT_AMBIGUOUS_ANSWER;
                return ETL_ERR_INPUT;
            }
        }
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
    walk w = {
        .d = d, .m = m, .sub = sub, .out = out, .path = path, .key = {ETL_BUF_INIT, ETL_BUF_INIT}};
    size_t first_event = out->count;
    frame *stack = NULL;
    size_t depth = 0;
    size_t cap = 0;
    etl_buf_reset(path);

    /* The root: push it, emit its scalars, then loop over children. */
    int rc = push_frame(&w, &stack, &depth, &cap, 0, 0);
    if (rc == ETL_OK)
        rc = emit_scalars(&w, &stack[0], err);
    while (rc == ETL_OK && depth > 0) {
        frame *f = &stack[depth - 1];
        if (f->remaining == 0) {
            depth--;
            continue;
        }
        uint32_t key = f->cursor;
        uint32_t vi = key + 1;
        f->cursor = d->toks[vi].next;
        f->remaining--;
        if (d->toks[vi].type != ETL_JSON_OBJECT)
            continue;
        bool walked;
        if ((rc = counts(&w, f, key, &walked)) != ETL_OK)
            break;
        if (!walked)
            continue;
        if ((rc = extend_path(&w, &d->toks[key], f)) != ETL_OK)
            break;
        const etl_question *q = etl_pathmap_find(m, path->data, path->len);
        if (q && !q->group) {
            rc = mismatch(err, path, q->type, "an object");
            break;
        }
        if ((rc = push_frame(&w, &stack, &depth, &cap, vi, path->len)) == ETL_OK)
            rc = emit_scalars(&w, &stack[depth - 1], err);
    }
    if (rc == ETL_OK && w.dotted)
        rc = check_one_answer_per_path(out, first_event, err);
    free(stack);
    etl_buf_release(&w.key[0]);
    etl_buf_release(&w.key[1]);
    return rc;
}
