/*
 * File and text helpers shared by the config parsers, the generator and the
 * commands: whole-file reads, checked numbers, byte offset -> line and column.
 */
#ifndef ETL_TEXT_H
#define ETL_TEXT_H

#include <stddef.h>

#include "etl/error.h"

/*
 * Read a whole file into a NUL-terminated heap buffer (caller frees).
 * ETL_ERR_CONFIG naming the file when it cannot be read.
 */
int etl_read_file(const char *path, char **out, size_t *len, etl_error *err);

/*
 * The one range-checking number parser for options and config values:
 * a whole decimal number in [min, max], nothing else.  0 or -1.
 */
int etl_parse_ull(const char *s, unsigned long long min, unsigned long long max,
                  unsigned long long *out);

/* 1-based line and column of byte offset `at` in text, for messages. */
void etl_text_position(const char *text, size_t at, size_t *line, size_t *col);

#endif
