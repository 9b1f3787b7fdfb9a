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

/* Resident set size now and at its peak, in KiB (0 if unknown). */
long etl_mem_current_kib(void);
/* Resident memory of process pid (0: this one), 0 if it cannot be read. */
long etl_mem_rss_kib_of(int pid);
long etl_mem_peak_kib(void);

/* Now as timestamptz text in UTC with microseconds ("2026-01-01 00:00:00.000000+00"). */
void etl_utc_now(char *out, size_t cap);

/* Monotonic clock in microseconds. */
long long etl_now_us(void);

/* Write s as a JSON string literal (quotes, escapes) to out: the one JSON writer of etl. */
void etl_json_fput(FILE *out, const char *s);

#endif
