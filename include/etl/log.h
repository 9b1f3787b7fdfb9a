/*
 * Where diagnostics go.  Results go to stdout; everything here goes to
 * stderr.  The settings come from the global command-line options and are
 * passed down explicitly (no globals), so a library caller can silence them.
 */
#ifndef ETL_LOG_H
#define ETL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct etl_log {
    int verbosity;  /* -1 quiet, 0 normal, 1 and up -v */
    bool debug_sql; /* every statement with its duration */
    bool debug_mem; /* resident memory after each stage */
} etl_log;

/* "etl: <message>" on stderr, unless quiet.  For notices the user should see. */
void etl_log_info(const etl_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only with -v. */
void etl_log_verbose(const etl_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Always printed, even when quiet: errors must be loud. */
void etl_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
