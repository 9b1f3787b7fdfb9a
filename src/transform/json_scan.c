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
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        etl_json_tok *p = realloc(d->toks, cap * sizeof(*p));
        if (!p)
            return ETL_ERR_NOMEM;
        d->toks = p;
        d->cap = cap;
    }
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

/* Scan a string starting after its opening quote; *end is the closing quote. */
static int scan_string(const char *s, size_t len, size_t i, size_t *end, int *escaped,
                       etl_error *err)
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
                if (i + 5 >= len || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
                    !is_hex(s[i + 5]))
                    return etl_error_set(err, ETL_ERR_INPUT,
                                         "bad \\u escape at byte %zu: expected 4 hex digits", i);
                i += 6;
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

/*
 * The tokenizer proper.  d->err_at follows the start of the token being
 * read, so a failure can be located without threading it through every
 * error path.
 */
static int tokenize(etl_json_doc *d, const char *s, size_t len, etl_error *err)
{
    size_t depth = 0;
    size_t i = skip_ws(s, len, 0);
    enum scan_state st = EXPECT_VALUE;
    etl_json_tok *t;
    int rc;

    for (;;) {
        i = skip_ws(s, len, i);
        d->err_at = i;
        if (st == AFTER_VALUE) {
            if (depth == 0) {
                if (i != len)
                    return etl_error_set(err, ETL_ERR_INPUT,
                                         "unexpected '%c' after the document at byte %zu", s[i], i);
                return ETL_OK;
            }
            etl_json_tok *top = &d->toks[d->stack[depth - 1]];
            if (i >= len)
                return etl_error_set(err, ETL_ERR_INPUT, "unexpected end of input inside %s",
                                     etl_json_type_name((etl_json_type)top->type));
            char c = s[i];
            if (c == ',') {
                i++;
                st = top->type == ETL_JSON_OBJECT ? EXPECT_KEY : EXPECT_VALUE;
                if (top->type == ETL_JSON_ARRAY)
                    top->size++;
                continue;
            }
            if ((c == '}' && top->type == ETL_JSON_OBJECT) ||
                (c == ']' && top->type == ETL_JSON_ARRAY)) {
                top->next = (uint32_t)d->count;
                top->len = (uint32_t)(i + 1 - top->start);
                depth--;
                i++;
                continue;
            }
            return etl_error_set(err, ETL_ERR_INPUT, "expected ',' or '%c' at byte %zu",
                                 top->type == ETL_JSON_OBJECT ? '}' : ']', i);
        }
        if (st == FIRST_KEY || st == FIRST_ELEMENT) {
            etl_json_tok *top = &d->toks[d->stack[depth - 1]];
            char close = st == FIRST_KEY ? '}' : ']';
            if (i < len && s[i] == close) {
                top->next = (uint32_t)d->count;
                top->len = (uint32_t)(i + 1 - top->start);
                depth--;
                i++;
                st = AFTER_VALUE;
                continue;
            }
            if (st == FIRST_ELEMENT)
                top->size = 1;
            st = st == FIRST_KEY ? EXPECT_KEY : EXPECT_VALUE;
            continue;
        }
        if (i >= len)
            return etl_error_set(err, ETL_ERR_INPUT, "unexpected end of input: expected a %s",
                                 st == EXPECT_KEY ? "member name" : "value");
        if (st == EXPECT_KEY) {
            if (s[i] != '"')
                return etl_error_set(err, ETL_ERR_INPUT,
                                     "expected a quoted member name at byte %zu", i);
            size_t end = 0;
            int esc;
            if ((rc = scan_string(s, len, i + 1, &end, &esc, err)) != ETL_OK)
                return rc;
            if ((rc = push_tok(d, ETL_JSON_STRING, i + 1, &t)) != ETL_OK)
                return rc;
            t->len = (uint32_t)(end - i - 1);
            t->escaped = (uint8_t)esc;
            d->toks[d->stack[depth - 1]].size++;
            i = skip_ws(s, len, end + 1);
            if (i >= len || s[i] != ':')
                return etl_error_set(err, ETL_ERR_INPUT,
                                     "expected ':' after member name at byte %zu", i);
            i++;
            st = EXPECT_VALUE;
            continue;
        }
        /* EXPECT_VALUE */
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= d->max_depth) {
                d->too_deep = 1;
                return etl_error_set(err, ETL_ERR_INPUT,
                                     "nested deeper than %zu levels at byte %zu", d->max_depth, i);
            }
            if (depth == d->stack_cap) {
                size_t cap = d->stack_cap ? d->stack_cap * 2 : 32;
                uint32_t *p = realloc(d->stack, cap * sizeof(*p));
                if (!p)
                    return ETL_ERR_NOMEM;
                d->stack = p;
                d->stack_cap = cap;
            }
            if ((rc = push_tok(d, c == '{' ? ETL_JSON_OBJECT : ETL_JSON_ARRAY, i, &t)) != ETL_OK)
                return rc;
            d->stack[depth++] = (uint32_t)(d->count - 1);
            i++;
            st = c == '{' ? FIRST_KEY : FIRST_ELEMENT;
            continue;
        }
        if (c == '"') {
            size_t end = 0;
            int esc;
            if ((rc = scan_string(s, len, i + 1, &end, &esc, err)) != ETL_OK)
                return rc;
            if ((rc = push_tok(d, ETL_JSON_STRING, i + 1, &t)) != ETL_OK)
                return rc;
            t->len = (uint32_t)(end - i - 1);
            t->escaped = (uint8_t)esc;
            i = end + 1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t end = 0;
            if ((rc = scan_number(s, len, i, &end, err)) != ETL_OK)
                return rc;
            if ((rc = push_tok(d, ETL_JSON_NUMBER, i, &t)) != ETL_OK)
                return rc;
            t->len = (uint32_t)(end - i);
            i = end;
        } else {
            etl_json_type type;
            const char *word;
            if (c == 't') {
                type = ETL_JSON_TRUE;
                word = "true";
            } else if (c == 'f') {
                type = ETL_JSON_FALSE;
                word = "false";
            } else {
                type = ETL_JSON_NULL;
                word = "null";
            }
            if ((rc = scan_literal(s, len, i, word, err)) != ETL_OK)
                return rc;
            if ((rc = push_tok(d, type, i, &t)) != ETL_OK)
                return rc;
            t->len = (uint32_t)strlen(word);
            i += t->len;
        }
        st = AFTER_VALUE;
    }
}

int etl_json_tokenize(etl_json_doc *d, const char *s, size_t len, etl_error *err)
{
    d->text = s;
    d->count = 0;
    d->err_at = 0;
    d->too_deep = 0;
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
