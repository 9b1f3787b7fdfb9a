/*
 * Diagnostics on stderr.  Nothing here writes to stdout: stdout carries
 * results (summaries, JSON) that scripts parse.
 */
#define _POSIX_C_SOURCE 200809L
#include "etl/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "banned.h"

static void vlog(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void vlog(const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof(line), fmt, ap);
    fprintf(stderr, "etl: %s\n", line);
}

void etl_log_info(const etl_log *log, const char *fmt, ...)
{
    if (log && log->verbosity < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void etl_log_verbose(const etl_log *log, const char *fmt, ...)
{
    if (!log || log->verbosity < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void etl_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}
