/*
 * A growable byte buffer, always NUL-terminated, and a printf into it.
 * Used for SQL text, COPY data and event strings.  Growth is geometric, so
 * appending n bytes costs amortised O(n); a buffer is reset, not freed,
 * between batches so the hot path stops allocating after warm-up.  Also the
 * same growth for arrays (etl_grow), and name lookups in const tables.
 */
#ifndef ETL_BUF_H
#define ETL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "etl/error.h"

typedef struct etl_buf {
    char *data; /* NUL-terminated when cap > 0 */
    size_t len; /* bytes, excluding the NUL */
    size_t cap; /* bytes allocated */
} etl_buf;

#define ETL_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for at least `extra` more bytes.  ETL_OK or ETL_ERR_NOMEM. */
int etl_buf_reserve(etl_buf *b, size_t extra);
/* etl_buf_append when the bytes do not fit: grows, then appends. */
int etl_buf_append_grow(etl_buf *b, const void *data, size_t len);

/*
 * Append len bytes.  Inline because the transform and the loaders call it
 * per value and per field: when the bytes fit, it is a memcpy (a call into
 * buf.c cost a tenth of the whole run's instructions).
 */
static inline int etl_buf_append(etl_buf *b, const void *data, size_t len)
{
    if (!b->data || len >= b->cap - b->len) /* nothing allocated, or len + NUL does not fit */
        return etl_buf_append_grow(b, data, len);
    if (len) /* data may be NULL then */
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return ETL_OK;
}

static inline int etl_buf_puts(etl_buf *b, const char *s)
{
    return etl_buf_append(b, s, strlen(s));
}

static inline int etl_buf_putc(etl_buf *b, char c)
{
    return etl_buf_append(b, &c, 1);
}

int etl_buf_printf(etl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the allocation. */
void etl_buf_reset(etl_buf *b);
/* Free the allocation; the buffer is empty and reusable afterwards. */
void etl_buf_release(etl_buf *b);
/* Hand the allocation to the caller (who frees it); the buffer becomes empty. */
char *etl_buf_detach(etl_buf *b);

/*
 * Append s (len bytes) escaped for PostgreSQL's COPY text format: backslash,
 * tab, newline and carriage return become \\, \t, \n and \r.  Every other
 * byte, UTF-8 included, passes through unchanged.
 */
int etl_buf_put_copy_text(etl_buf *b, const char *s, size_t len);

/*
 * Append the names of n table entries as "a, b, c" to out and return its
 * text ("none" for no entries).  items is an array of n structs of `stride`
 * bytes whose first member is the name (a `const char *` or `char *`): a
 * registry or config table.  For "unknown X 'y' (valid: ...)" messages.
 */
const char *etl_buf_names(etl_buf *out, const void *items, size_t n, size_t stride);

/*
 * The entry of such a table (n structs of `stride` bytes, the name first)
 * whose name is exactly `name`, or NULL: a registry or config lookup.
 * Borrowed from items.
 */
const void *etl_find_named(const void *items, size_t n, size_t stride, const char *name);

/*
 * Make the array *items, of *cap elements of `size` bytes, hold at least
 * `need` elements: reallocates to double the capacity (16 elements the first
 * time) or more, and updates *items and *cap.  Elements already there are
 * kept; new ones are uninitialised.  ETL_OK, or ETL_ERR_NOMEM (the array is
 * left as it was) when memory runs out or need * size would not fit in a
 * size_t.  Pass the array as (void **)&array.
 */
int etl_grow(void **items, size_t *cap, size_t need, size_t size);

#endif
