/*
 * A JSON tokenizer for submission responses.  It records where each value's
 * raw text is instead of converting it, which is why it exists beside
 * cJSON: cJSON turns every number into a double, so 12345678901234567890
 * would come back rounded, and it allocates a node per value.  Tokens live
 * in one array reused between documents, and nesting is tracked with an
 * explicit stack, so hostile depth is an error, never a stack overflow.
 */
#include "etl/flatten.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

void etl_json_doc_init(etl_json_doc *d, size_t max_depth)
{
    memset(d, 0, sizeof(*d));
    d->max_depth = max_depth ? max_depth : ETL_JSON_DEFAULT_MAX_DEPTH;
}

void etl_json_doc_release(etl_json_doc *d)
{
    free(d->toks);
    free(d->stack);
    memset(d, 0, sizeof(*d));
}

const char *etl_json_type_name(etl_json_type t)
{
    static const char *const names[] = {"object",  "array",   "string", "number",
                                        "boolean", "boolean", "null"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static int push_tok(etl_json_doc *d, etl_json_type type, size_t start, etl_json_tok **out)
{
    if (d->count == d->cap &&
        etl_grow((void **)&d->toks, &d->cap, d->count + 1, sizeof(*d->toks)) != ETL_OK)
        return ETL_ERR_NOMEM;
    etl_json_tok *t = &d->toks[d->count];
    memset(t, 0, sizeof(*t));
    t->type = (uint8_t)type;
    t->start = (uint32_t)start;
    t->next = (uint32_t)(d->count + 1);
    d->count++;
    *out = t;
    return ETL_OK;
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *p);

/* Does s[i..] start with a well-formed \\uXXXX escape? */
static int is_u_escape(const char *s, size_t len, size_t i)
{
    return i + 5 < len && s[i] == '\\' && s[i + 1] == 'u' && is_hex(s[i + 2]) && is_hex(s[i + 3]) &&
           is_hex(s[i + 4]) && is_hex(s[i + 5]);
}

/*
 * Step over the \\u escape at s[i] (and the low half of a surrogate pair).
 * \\u0000 and a surrogate without its other half are valid JSON that
 * PostgreSQL cannot store: the first one's offset goes to *unstorable_at.
 */
static size_t after_u_escape(const char *s, size_t len, size_t i, size_t *unstorable_at)
{
    unsigned cp = hex4(s + i + 2);
    int bad = cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo = is_u_escape(s, len, i + 6) ? hex4(s + i + 8) : 0;
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            return i + 12;
        bad = 1;
    }
    if (bad && *unstorable_at == SIZE_MAX)
        *unstorable_at = i;
    return i + 6;
}

/*
 * Scan a string starting after its opening quote; *end is the closing quote.
 * *unstorable_at: see after_u_escape.
 */
static int scan_string(const char *s, size_t len, size_t i, size_t *end, int *escaped,
                       size_t *unstorable_at, etl_error *err)
{
    *escaped = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *end = i;
            return ETL_OK;
        }
        if (c < 0x20)
            return etl_error_set(err, ETL_ERR_INPUT,
                                 "control character 0x%02x inside a string at byte %zu", c, i);
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= len)
                break;
            char e = s[i + 1];
            if (e == 'u') {
                if (!is_u_escape(s, len, i))
                    return etl_error_set(err, ETL_ERR_INPUT,
                                         "bad \\u escape at byte %zu: expected 4 hex digits", i);
                i = after_u_escape(s, len, i, unstorable_at);
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return etl_error_set(err, ETL_ERR_INPUT, "bad escape '\\%c' at byte %zu", e, i);
            i += 2;
            continue;
        }
        i++;
    }
    return etl_error_set(err, ETL_ERR_INPUT, "unterminated string at end of input");
}

static int scan_number(const char *s, size_t len, size_t i, size_t *end, etl_error *err)
{
    size_t start = i;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0') {
        i++;
    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return etl_error_set(err, ETL_ERR_INPUT, "bad number at byte %zu", start);
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return etl_error_set(err, ETL_ERR_INPUT,
                                 "bad number at byte %zu: digit expected after '.'", start);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return etl_error_set(err, ETL_ERR_INPUT,
                                 "bad number at byte %zu: digit expected in exponent", start);
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    *end = i;
    return ETL_OK;
}

static int scan_literal(const char *s, size_t len, size_t i, const char *word, etl_error *err)
{
    size_t n = strlen(word);
    if (len - i < n || memcmp(s + i, word, n) != 0)
        return etl_error_set(err, ETL_ERR_INPUT, "expected a JSON value at byte %zu", i);
    return ETL_OK;
}

enum scan_state { EXPECT_VALUE, EXPECT_KEY, AFTER_VALUE, FIRST_KEY, FIRST_ELEMENT };

/* Where the tokenizer is: one struct so each state can be its own function. */
typedef struct {
    etl_json_doc *d;
    const char *s;
    size_t len;
    size_t i;     /* next byte to read */
    size_t depth; /* open containers, their tokens in d->stack[0..depth) */
    enum scan_state st;
} scanner;

enum { SCAN_DONE = 1 }; /* a step's "the document is complete" */

static etl_json_tok *scan_top(const scanner *sc)
{
    return &sc->d->toks[sc->d->stack[sc->depth - 1]];
}

/* Close the innermost container at the current '}' or ']'. */
static void scan_close(scanner *sc)
{
    etl_json_tok *top = scan_top(sc);
    top->next = (uint32_t)sc->d->count;
    top->len = (uint32_t)(sc->i + 1 - top->start);
    sc->depth--;
    sc->i++;
    sc->st = AFTER_VALUE;
}

/* After a value: the end of the document, a ',' or the container's close. */
static int scan_after_value(scanner *sc, etl_error *err)
{
    const char *s = sc->s;
    size_t i = sc->i;
    if (sc->depth == 0) {
        if (i != sc->len)
            return etl_error_set(err, ETL_ERR_INPUT,
                                 "unexpected '%c' after the document at byte %zu", s[i], i);
        return SCAN_DONE;
    }
    etl_json_tok *top = scan_top(sc);
    int in_object = top->type == ETL_JSON_OBJECT;
    if (i >= sc->len)
        return etl_error_set(err, ETL_ERR_INPUT, "unexpected end of input inside %s",
                             etl_json_type_name((etl_json_type)top->type));
    if (s[i] == ',') {
        sc->i++;
        sc->st = in_object ? EXPECT_KEY : EXPECT_VALUE;
        if (!in_object)
            top->size++;
        return ETL_OK;
    }
    if (s[i] == (in_object ? '}' : ']')) {
        scan_close(sc);
        return ETL_OK;
    }
    return etl_error_set(err, ETL_ERR_INPUT, "expected ',' or '%c' at byte %zu",
                         in_object ? '}' : ']', i);
}

/* Just after '{' or '[': either it closes at once or a first member follows. */
static void scan_first(scanner *sc)
{
    char close = sc->st == FIRST_KEY ? '}' : ']';
    if (sc->i < sc->len && sc->s[sc->i] == close) {
        scan_close(sc);
        return;
    }
    if (sc->st == FIRST_ELEMENT)
        scan_top(sc)->size = 1;
    sc->st = sc->st == FIRST_KEY ? EXPECT_KEY : EXPECT_VALUE;
}

static int scan_string_tok(scanner *sc, etl_error *err)
{
    size_t end = 0;
    int esc;
    etl_json_tok *t;
    size_t bad = SIZE_MAX;
    int rc = scan_string(sc->s, sc->len, sc->i + 1, &end, &esc, &bad, err);
    if (rc == ETL_OK)
        rc = push_tok(sc->d, ETL_JSON_STRING, sc->i + 1, &t);
    if (rc != ETL_OK)
        return rc;
    t->len = (uint32_t)(end - sc->i - 1);
    t->escaped = (uint8_t)esc;
    if (bad != SIZE_MAX && !sc->d->unstorable) {
        sc->d->unstorable = 1;
        sc->d->unstorable_at = bad;
    }
    sc->i = end + 1;
    return ETL_OK;
}

static int scan_key(scanner *sc, etl_error *err)
{
    if (sc->s[sc->i] != '"')
        return etl_error_set(err, ETL_ERR_INPUT, "expected a quoted member name at byte %zu",
                             sc->i);
    int rc = scan_string_tok(sc, err);
    if (rc != ETL_OK)
        return rc;
    scan_top(sc)->size++;
    sc->i = skip_ws(sc->s, sc->len, sc->i);
    if (sc->i >= sc->len || sc->s[sc->i] != ':')
        return etl_error_set(err, ETL_ERR_INPUT, "expected ':' after member name at byte %zu",
                             sc->i);
    sc->i++;
    sc->st = EXPECT_VALUE;
    return ETL_OK;
}

static int scan_open(scanner *sc, etl_error *err)
{
    etl_json_doc *d = sc->d;
    char c = sc->s[sc->i];
    etl_json_tok *t;
    if (sc->depth >= d->max_depth) {
        d->too_deep = 1;
        return etl_error_set(err, ETL_ERR_INPUT, "nested deeper than %zu levels at byte %zu",
                             d->max_depth, sc->i);
    }
    if (etl_grow((void **)&d->stack, &d->stack_cap, sc->depth + 1, sizeof(*d->stack)) != ETL_OK)
        return ETL_ERR_NOMEM;
    int rc = push_tok(d, c == '{' ? ETL_JSON_OBJECT : ETL_JSON_ARRAY, sc->i, &t);
    if (rc != ETL_OK)
        return rc;
    d->stack[sc->depth++] = (uint32_t)(d->count - 1);
    sc->i++;
    sc->st = c == '{' ? FIRST_KEY : FIRST_ELEMENT;
    return ETL_OK;
}

static int scan_scalar(scanner *sc, etl_error *err)
{
    const char *s = sc->s;
    size_t i = sc->i;
    char c = s[i];
    etl_json_tok *t;
    int rc;
    if (c == '"') {
        rc = scan_string_tok(sc, err);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        size_t end = 0;
        if ((rc = scan_number(s, sc->len, i, &end, err)) == ETL_OK &&
            (rc = push_tok(sc->d, ETL_JSON_NUMBER, i, &t)) == ETL_OK) {
            t->len = (uint32_t)(end - i);
            sc->i = end;
        }
    } else {
        etl_json_type type = c == 't' ? ETL_JSON_TRUE : c == 'f' ? ETL_JSON_FALSE : ETL_JSON_NULL;
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if ((rc = scan_literal(s, sc->len, i, word, err)) == ETL_OK &&
            (rc = push_tok(sc->d, type, i, &t)) == ETL_OK) {
            t->len = (uint32_t)strlen(word);
            sc->i += t->len;
        }
    }
    if (rc == ETL_OK)
        sc->st = AFTER_VALUE;
    return rc;
}

/*
 * The tokenizer proper: one step per token.  d->err_at follows the start of
 * the token being read, so a failure can be located without threading it
 * through every error path.
 */
static int tokenize(etl_json_doc *d, const char *s, size_t len, etl_error *err)
{
    scanner sc = {.d = d, .s = s, .len = len, .i = 0, .depth = 0, .st = EXPECT_VALUE};
    int rc = ETL_OK;

    while (rc == ETL_OK) {
        sc.i = skip_ws(s, len, sc.i);
        d->err_at = sc.i;
        if (sc.st == AFTER_VALUE) {
            rc = scan_after_value(&sc, err);
        } else if (sc.st == FIRST_KEY || sc.st == FIRST_ELEMENT) {
            scan_first(&sc);
        } else if (sc.i >= len) {
            rc = etl_error_set(err, ETL_ERR_INPUT, "unexpected end of input: expected a %s",
                               sc.st == EXPECT_KEY ? "member name" : "value");
        } else if (sc.st == EXPECT_KEY) {
            rc = scan_key(&sc, err);
        } else if (s[sc.i] == '{' || s[sc.i] == '[') {
            rc = scan_open(&sc, err);
        } else {
            rc = scan_scalar(&sc, err);
        }
    }
    return rc == SCAN_DONE ? ETL_OK : rc;
}

int etl_json_tokenize(etl_json_doc *d, const char *s, size_t len, etl_error *err)
{
    d->text = s;
    d->count = 0;
    d->err_at = 0;
    d->too_deep = 0;
    d->unstorable = 0;
    d->unstorable_at = 0;
    if (len >= UINT32_MAX)
        return etl_error_set(err, ETL_ERR_INPUT, "document of %zu bytes is too large", len);
    return tokenize(d, s, len, err);
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else
            v |= (unsigned)(c - 'A' + 10);
    }
    return v;
}

static int put_utf8(etl_buf *out, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return etl_buf_append(out, u, n);
}

int etl_json_decode_string(const etl_json_doc *d, const etl_json_tok *t, etl_buf *out,
                           etl_error *err)
{
    const char *s = d->text + t->start;
    size_t n = t->len;
    if (!t->escaped)
        return etl_buf_append(out, s, n);
    if (etl_buf_reserve(out, n) != ETL_OK)
        return ETL_ERR_NOMEM;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] != '\\')
            run++;
        if (run > i && etl_buf_append(out, s + i, run - i) != ETL_OK)
            return ETL_ERR_NOMEM;
        if (run >= n)
            break;
        /* s[run] is a backslash; the tokenizer checked the escape is well formed. */
        char e = s[run + 1];
        char c;
        i = run + 2;
        switch (e) {
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            unsigned cp = hex4(s + run + 2);
            i = run + 6;
            if (cp == 0)
                return etl_error_set(err, ETL_ERR_INPUT,
                                     "string contains \\u0000, which PostgreSQL text cannot store");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                    unsigned lo = hex4(s + i + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                        if (put_utf8(out, cp) != ETL_OK)
                            return ETL_ERR_NOMEM;
                        continue;
                    }
                }
                return etl_error_set(err, ETL_ERR_INPUT, "string contains a lone surrogate \\u%04x",
                                     cp);
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return etl_error_set(err, ETL_ERR_INPUT, "string contains a lone surrogate \\u%04x",
                                     cp);
            if (put_utf8(out, cp) != ETL_OK)
                return ETL_ERR_NOMEM;
            continue;
        }
        default: /* '"', '\\', '/' stand for themselves */
            c = e;
        }
        if (etl_buf_putc(out, c) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    return ETL_OK;
}
