/*
 * JSON string literals, the one escaper of every --json output: to a stream
 * (the commands) or into a buffer (the run summary, which must not print).
 * Quotes and backslashes are escaped, control characters written as \u00XX,
 * every other byte (UTF-8 included) passes through as it is.
 */
#ifndef ETL_JSON_OUT_H
#define ETL_JSON_OUT_H

#include <stdio.h>

#include "etl/buf.h"

/* Write s as a JSON string literal (quotes, escapes) to out, a stream the caller owns. */
void etl_json_fput(FILE *out, const char *s);

/* Append s as a JSON string literal to out.  ETL_OK or ETL_ERR_NOMEM. */
int etl_json_buf_put(etl_buf *out, const char *s);

#endif
