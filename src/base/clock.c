/* The monotonic and the wall clock. */
#include "etl/clock.h"

#include <stdio.h>
#include <time.h>

#include "banned.h"

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
