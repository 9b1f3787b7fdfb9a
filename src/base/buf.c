/*
 * etl_buf: growable NUL-terminated byte buffer, and etl_grow, the same
 * doubling for every other array.  The only allocation policy in the hot
 * path: buffers and arrays are reset between batches, never shrunk, so a
 * steady-state run allocates nothing per event.
 */
#include "etl/buf.h"
#include "etl/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int etl_buf_reserve(etl_buf *b, size_t extra)
{
    if (extra >= SIZE_MAX - b->len) /* len + extra + 1 would wrap around */
        return ETL_ERR_NOMEM;
    if (b->cap > b->len + extra)
        return ETL_OK;
    size_t want = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want) {
        if (cap > ((size_t)-1) / 2)
            return ETL_ERR_NOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return ETL_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return ETL_OK;
}

int etl_buf_append_grow(etl_buf *b, const void *data, size_t len)
{
    if (etl_buf_reserve(b, len) != ETL_OK)
        return ETL_ERR_NOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return ETL_OK;
}

int etl_buf_printf(etl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ETL_ERR_INTERNAL;
    if (etl_buf_reserve(b, (size_t)n) != ETL_OK)
        return ETL_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ETL_OK;
}

void etl_buf_reset(etl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void etl_buf_release(etl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *etl_buf_detach(etl_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int etl_buf_put_copy_text(etl_buf *b, const char *s, size_t len)
{
    /* Worst case every byte doubles; reserving once keeps the loop branch-light. */
    if (etl_buf_reserve(b, len * 2) != ETL_OK)
        return ETL_ERR_NOMEM;
    char *o = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        default:
            *o++ = c;
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return ETL_OK;
}

/* The name of entry i of a table whose structs start with their name. */
static const char *entry_name(const void *items, size_t i, size_t stride)
{
    return *(const char *const *)((const char *)items + i * stride);
}

const char *etl_buf_names(etl_buf *out, const void *items, size_t n, size_t stride)
{
    for (size_t i = 0; i < n; i++)
        etl_buf_printf(out, "%s%s", i ? ", " : "", entry_name(items, i, stride));
    return out->data ? out->data : "none";
}

const void *etl_find_named(const void *items, size_t n, size_t stride, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entry_name(items, i, stride), name) == 0)
            return (const char *)items + i * stride;
    return NULL;
}

int etl_grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return ETL_OK;
    if (size == 0 || need > SIZE_MAX / size)
        return ETL_ERR_NOMEM;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n = n <= SIZE_MAX / 2 ? n * 2 : need;
    if (n > SIZE_MAX / size) /* doubling overshot what a size_t can count: exactly enough */
        n = need;
    void *p = realloc(*items, n * size);
    if (!p)
        return ETL_ERR_NOMEM;
    *items = p;
    *cap = n;
    return ETL_OK;
}
