/*
 * The JSON string writer of every --json output.  One escaping rule, two
 * sinks: a stream the caller owns, or a buffer.  Writes only where it is
 * told to; it never picks stdout itself.
 */
#include "etl/json_out.h"

#include "etl/error.h"

#include "banned.h"

/* The JSON text of byte c inside a string literal, into out; returns its length. */
static size_t escape(unsigned char c, char out[8])
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c < 0x20)
        return (size_t)snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

void etl_json_fput(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char e[8];
        size_t n = escape(*c, e);
        fwrite(e, 1, n, out);
    }
    fputc('"', out);
}

int etl_json_buf_put(etl_buf *out, const char *s)
{
    int rc = etl_buf_putc(out, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c && rc == ETL_OK; c++) {
        char e[8];
        size_t n = escape(*c, e);
        rc = etl_buf_append(out, e, n);
    }
    return rc == ETL_OK ? etl_buf_putc(out, '"') : rc;
}
