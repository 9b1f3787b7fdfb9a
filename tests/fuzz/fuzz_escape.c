/*
 * Fuzz target: COPY text escaping and SQL identifier quoting.  Both must
 * round-trip: unescaping what etl_buf_put_copy_text wrote gives back the
 * input, and the escaped form has no raw tab, newline or carriage return;
 * a quoted identifier reads back as the name.  Also the JSON string decoder
 * on the input taken as a string literal, and the binary COPY encoders of
 * timestamps and uuids (accepted input lands in range and in 16 bytes).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etl/buf.h"
#include "copybin.h"
#include "etl/db.h"
#include "etl/flatten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    etl_buf e = ETL_BUF_INIT;
    if (etl_buf_put_copy_text(&e, s, size) != ETL_OK)
        return 0;
    assert(!memchr(e.data, '\t', e.len) && !memchr(e.data, '\n', e.len) &&
           !memchr(e.data, '\r', e.len));
    /* Unescape as PostgreSQL's COPY text reader would. */
    char *back = malloc(size + 1);
    size_t n = 0;
    for (size_t i = 0; i < e.len; i++) {
        char c = e.data[i];
        if (c == '\\') {
            char d = e.data[++i];
            c = d == 't' ? '\t' : d == 'n' ? '\n' : d == 'r' ? '\r' : d;
            assert(d == 't' || d == 'n' || d == 'r' || d == '\\');
        }
        assert(n < size);
        back[n++] = c;
    }
    assert(n == size && memcmp(back, s, size) == 0);
    free(back);
    etl_buf_release(&e);

    /* Identifiers: C strings only, so up to the first NUL. */
    size_t idlen = strnlen(s, size);
    char *name = malloc(idlen + 1);
    memcpy(name, s, idlen);
    name[idlen] = '\0';
    int64_t us = 0;
    if (etl_parse_timestamptz(name, &us) == 0) /* years 1..9999, offsets under 16 h */
        assert(us >= -63082281600LL * 1000000 - 16LL * 3600 * 1000000 &&
               us < 252455616000LL * 1000000 + 16LL * 3600 * 1000000);
    etl_buf u = ETL_BUF_INIT;
    if (etl_copybin_uuid(&u, name) == ETL_OK)
        assert(u.len == 20 && idlen == 36);
    etl_buf_release(&u);
    etl_buf q = ETL_BUF_INIT;
    if (etl_db_quote_ident(&q, name) == ETL_OK) {
        assert(q.len >= 2 && q.data[0] == '"' && q.data[q.len - 1] == '"');
        size_t k = 0;
        for (size_t i = 1; i + 1 < q.len; i++) {
            if (q.data[i] == '"') {
                assert(q.data[i + 1] == '"');
                i++;
            }
            assert(name[k] == q.data[i]);
            k++;
        }
        assert(k == idlen);
    }
    etl_buf_release(&q);
    free(name);

    /* The input as the inside of a JSON string literal. */
    etl_buf lit = ETL_BUF_INIT;
    etl_buf_putc(&lit, '"');
    etl_buf_append(&lit, s, size);
    etl_buf_putc(&lit, '"');
    etl_json_doc d;
    etl_json_doc_init(&d, 8);
    etl_error err;
    if (etl_json_tokenize(&d, lit.data, lit.len, &err) == ETL_OK && d.count == 1) {
        etl_buf out = ETL_BUF_INIT;
        if (etl_json_decode_string(&d, &d.toks[0], &out, &err) == ETL_OK)
            assert(!out.data || strlen(out.data) == out.len); /* never an embedded NUL */
        etl_buf_release(&out);
    }
    etl_json_doc_release(&d);
    etl_buf_release(&lit);
    return 0;
}
