/*
 * Diagnostics on stderr, memory and clock readings.  Nothing here writes to
 * stdout: stdout carries results (summaries, JSON) that scripts parse.
 */
#define _POSIX_C_SOURCE 200809L
#include "etl/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

long etl_mem_current_kib(void)
{
    return etl_mem_rss_kib_of(0);
}

long etl_mem_rss_kib_of(int pid)
{
    /* statm's second field is resident pages; cheap enough to read per batch. */
    char path[64] = "/proc/self/statm";
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[128] = "";
    const char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (!got)
        return 0;
    char *end = NULL;
    (void)strtol(line, &end, 10); /* total size: skipped */
    long resident = strtol(end, NULL, 10);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

long etl_mem_peak_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss; /* Linux reports KiB */
}

void etl_utc_now(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06d+00", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

long long etl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void etl_json_fput(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}
