/*
 * Binary COPY encoding: timestamps into microseconds since 2000-01-01 UTC
 * (expected values worked out by hand in the comments), uuids into their 16
 * bytes, and the framing bytes PostgreSQL's documentation gives.  That the
 * server reads it all back as the text loader's rows is checked by the pg
 * tests, which compare every processor's output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "copybin.h"
#include "etl/error.h"

static int64_t ts(const char *s)
{
    int64_t us = 0;
    if (etl_parse_timestamptz(s, &us) != 0)
        fail_msg("'%s' was refused", s);
    return us;
}

static void test_timestamps(void **state)
{
    (void)state;
    assert_int_equal(ts("2000-01-01 00:00:00+00"), 0);
    assert_int_equal(ts("2000-01-02 00:00:00+00"), 86400LL * 1000000);
    assert_int_equal(ts("1999-12-31 23:59:59.5+00"), -500000);
    /* 24 years with 6 leap days, then 31 + 28 days: 8825 days, and noon. */
    assert_int_equal(ts("2024-02-29 12:00:00.123456+00"),
                     (8825LL * 86400 + 43200) * 1000000 + 123456);
    /* Offsets are east of UTC: the same instant three ways. */
    assert_int_equal(ts("2000-01-01 05:30:00+05:30"), 0);
    assert_int_equal(ts("1999-12-31 16:00:00-08"), 0);
    assert_int_equal(ts("2000-01-01T00:00:00Z"), 0);
    assert_int_equal(ts("2000-01-01 00:00:00"), 0); /* no offset: UTC, the session's zone */
    /* 1970-01-01 is 10957 days before 2000-01-01. */
    assert_int_equal(ts("1970-01-01 00:00:00.000001+00"), -10957LL * 86400 * 1000000 + 1);
    assert_int_equal(ts("0001-01-01 00:00:00+00"), -63082281600LL * 1000000);
    /* Year 0 (1 BC) is a leap year: 366 days before 0001-01-01. */
    assert_int_equal(ts("0001-01-01 00:00:00+00 BC"), (-63082281600LL - 366LL * 86400) * 1000000);
    /* The first day PostgreSQL holds is Julian day 0; 2000-01-01 is Julian day 2451545. */
    assert_int_equal(ts("4714-11-24 00:00:00+00 BC"), -2451545LL * 86400 * 1000000);
    /* 8000 years are 20 Gregorian cycles of 146097 days. */
    assert_int_equal(ts("10000-01-01 00:00:00+00"), 20LL * 146097 * 86400 * 1000000);
    /* The last microsecond: one before PostgreSQL's END_TIMESTAMP (294277-01-01, timestamp.h). */
    assert_int_equal(ts("294276-12-31 23:59:59.999999+00"), 9223371331200000000LL - 1);
    assert_true(ts("infinity") == INT64_MAX);
    assert_true(ts("-infinity") == INT64_MIN);
}

static void test_timestamps_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "Infinity", "2023-02-29 00:00:00+00", "2000-13-01 00:00:00+00",
        "0000-01-01 00:00:00+00", "2000-01-01 24:00:00+00", "2000-01-01 00:00:00.+00",
        "2000-01-01 00:00:00.1234567+00", "2000-01-01 00:00:00+00 AD", "1234567-01-01 00:00:00+00",
        /* Past PostgreSQL's range: found by fuzz_escape (signed overflow). */
        "902024-02-21 12:00:00.12", "294277-01-01 00:00:00+00", "294276-12-31 23:00:00-08",
        "4714-11-23 23:59:59+00 BC", "4715-01-01 00:00:00+00 BC", "2000-01-01 00:00:00+16",
        "01/02/2000 00:00:00+00", "2000-01-01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t us = 0;
        if (etl_parse_timestamptz(bad[i], &us) == 0)
            fail_msg("'%s' was accepted as %lld", bad[i], (long long)us);
    }
}

static void test_uuid(void **state)
{
    (void)state;
    etl_buf b = ETL_BUF_INIT;
    assert_int_equal(etl_copybin_uuid(&b, "00112233-4455-6677-8899-aAbBcCdDeEfF"), ETL_OK);
    const unsigned char want[20] = {0,    0,    0,    16,   0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    const char *bad[] = {
        "", "00112233-4455-6677-8899-aabbccddeef", "00112233-4455-6677-8899-aabbccddeeff0",
        "001122334455-6677-8899-aabbccddeeff", "0011223g-4455-6677-8899-aabbccddeeff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        etl_buf_reset(&b);
        if (etl_copybin_uuid(&b, bad[i]) != ETL_ERR_INPUT)
            fail_msg("'%s' was accepted as a uuid", bad[i]);
    }
    etl_buf_release(&b);
}

static void test_framing(void **state)
{
    (void)state;
    etl_buf b = ETL_BUF_INIT;
    assert_int_equal(etl_copybin_header(&b), ETL_OK);
    assert_int_equal(etl_copybin_tuple(&b, 11), ETL_OK);
    assert_int_equal(etl_copybin_text(&b, "héllo", strlen("héllo")), ETL_OK);
    assert_int_equal(etl_copybin_null(&b), ETL_OK);
    assert_int_equal(etl_copybin_timestamptz(&b, "2000-01-01 00:00:01+00"), ETL_OK);
    assert_int_equal(etl_copybin_trailer(&b), ETL_OK);
    /* Signature, flags, header extension; 11 fields; 6 bytes; NULL; 8 bytes of 1000000; -1. */
    const unsigned char want[] = {'P', 'G',  'C',  'O',  'P',  'Y',  '\n', 0xff, '\r', '\n',
                                  0,   0,    0,    0,    0,    0,    0,    0,    0,    0,
                                  11,  0,    0,    0,    6,    'h',  0xc3, 0xa9, 'l',  'l',
                                  'o', 0xff, 0xff, 0xff, 0xff, 0,    0,    0,    8,    0,
                                  0,   0,    0,    0,    0x0f, 0x42, 0x40, 0xff, 0xff};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    etl_buf_reset(&b);
    assert_int_equal(etl_copybin_timestamptz(&b, "not a time"), ETL_ERR_INPUT);
    etl_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_timestamps_refused),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
