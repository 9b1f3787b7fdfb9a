/* Whole-file reads, checked numbers, line and column of a byte offset. */
#include "etl/text.h"

#include "etl/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int etl_read_file(const char *path, char **out, size_t *len, etl_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return etl_error_set(err, ETL_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
    etl_buf b = ETL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (etl_buf_append(&b, chunk, n) != ETL_OK) {
            fclose(f);
            etl_buf_release(&b);
            return etl_error_set(err, ETL_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        etl_buf_release(&b);
        return etl_error_set(err, ETL_ERR_CONFIG, "%s: read error", path);
    }
    *len = b.len;
    *out = etl_buf_detach(&b);
    return ETL_OK;
}

void etl_text_position(const char *text, size_t at, size_t *line, size_t *col)
{
    size_t l = 1;
    size_t c = 1;
    for (size_t i = 0; i < at && text[i]; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

int etl_parse_ull(const char *s, unsigned long long min, unsigned long long max,
                  unsigned long long *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
