/*
 * PostgreSQL's binary COPY format, for the columns response_events has.
 * A stream is a header, tuples (a 16-bit field count, then each field as a
 * 32-bit length and its bytes, -1 for NULL) and a trailer; all integers are
 * big-endian.  Binary COPY spares the server the text parsing of uuids and
 * timestamps, which is most of what text COPY costs it.  Pure code: no
 * server needed, unit-tested and fuzzed.
 */
#ifndef ETL_COPYBIN_H
#define ETL_COPYBIN_H

#include <stddef.h>
#include <stdint.h>

#include "etl/buf.h"

int etl_copybin_header(etl_buf *b);
int etl_copybin_trailer(etl_buf *b);
int etl_copybin_tuple(etl_buf *b, int nfields);
int etl_copybin_null(etl_buf *b);
/* A text (or enum label) field: the bytes as they are. */
int etl_copybin_text(etl_buf *b, const char *s, size_t len);
/* A uuid field from its canonical text; ETL_ERR_INPUT if s is not one. */
int etl_copybin_uuid(etl_buf *b, const char *s);
/* A timestamptz field from ISO text; ETL_ERR_INPUT if s is not one (see below). */
int etl_copybin_timestamptz(etl_buf *b, const char *s);

/*
 * Parse what PostgreSQL prints for a timestamptz with DateStyle ISO:
 * "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]" ('T' and 'Z' accepted too)
 * into microseconds since 2000-01-01 00:00:00 UTC, the binary format's
 * epoch.  Every value PostgreSQL holds: years up to 294276, BC years
 * ("0001-01-01 00:00:00+00 BC" is year 0), and "infinity" and "-infinity"
 * (the largest and smallest int64, as the server stores them).
 * 0 on success, -1 otherwise.
 */
int etl_parse_timestamptz(const char *s, int64_t *us);

#endif
