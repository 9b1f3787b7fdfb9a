/*
 * Clocks: a monotonic one for durations and the wall clock as PostgreSQL
 * timestamptz text.
 */
#ifndef ETL_CLOCK_H
#define ETL_CLOCK_H

#include <stddef.h>

/* Now as timestamptz text in UTC with microseconds ("2026-01-01 00:00:00.000000+00"). */
void etl_utc_now(char *out, size_t cap);

/* Monotonic clock in microseconds. */
long long etl_now_us(void);

#endif
