/*
 * The run summary JSON (etl/summary.h): what `process --json` writes is what
 * `bench` reads back, the version is checked, and a damaged summary is
 * refused with a message saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "etl/summary.h"

static const char run_json[] =
    "{\"summary_version\":1,\"scenario\":\"small\",\"processor\":\"copy\",\"runner\":"
    "\"staged\",\"extractor\":\"chunked\",\"loader\":\"copy\",\"database\":\"etl_run_small\","
    "\"submissions\":20,\"events\":509,\"rejected\":1,\"elapsed_s\":0.250000,\"events_per_s\":"
    "2036.0,\"peak_rss_kib\":7956,\"worker_peak_rss_kib\":7956}";

static void test_summary_run_written_as_documented(void **state)
{
    (void)state;
    char runner[] = "staged";
    char extractor[] = "chunked";
    char loader[] = "copy";
    char name[] = "copy";
    etl_processor_cfg p = {
        .name = name, .runner = runner, .extractor = extractor, .loader = loader};
    etl_run_stats st = {.submissions = 20,
                        .rejected = 1,
                        .events = 509,
                        .elapsed_us = 250000,
                        .peak_rss_kib = 7956};
    etl_summary s;
    etl_summary_of_run(&s, "small", &p, "etl_run_small", &st);
    etl_buf out = ETL_BUF_INIT;
    assert_int_equal(etl_summary_write_json(&out, &s), ETL_OK);
    assert_string_equal(out.data, run_json);
    etl_buf_release(&out);
}

/* With --jobs: the peaks summed, and the largest worker's on its own (issue 13, goal 5). */
static void test_summary_jobs_peak_per_worker(void **state)
{
    (void)state;
    char name[] = "copy";
    etl_processor_cfg p = {.name = name, .runner = name, .extractor = name, .loader = name};
    etl_run_stats st = {
        .events = 1, .elapsed_us = 1, .peak_rss_kib = 20000, .worker_peak_rss_kib = 10500};
    etl_summary s;
    etl_summary_of_run(&s, "small", &p, "etl_run_small", &st);
    etl_buf out = ETL_BUF_INIT;
    assert_int_equal(etl_summary_write_json(&out, &s), ETL_OK);
    assert_non_null(strstr(out.data, ",\"peak_rss_kib\":20000,\"worker_peak_rss_kib\":10500}"));
    etl_summary parsed;
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_summary_parse_json(out.data, &parsed, &err), ETL_OK);
    assert_int_equal(parsed.peak_rss_kib, 20000);
    assert_int_equal(parsed.worker_peak_rss_kib, 10500);
    etl_summary_release(&parsed);
    etl_buf_release(&out);
}

static void test_summary_round_trip(void **state)
{
    (void)state;
    etl_summary s;
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_summary_parse_json(run_json, &s, &err), ETL_OK);
    assert_false(s.failed);
    assert_string_equal(s.scenario, "small");
    assert_string_equal(s.runner, "staged");
    assert_string_equal(s.extractor, "chunked");
    assert_int_equal(s.submissions, 20);
    assert_int_equal(s.events, 509);
    assert_int_equal(s.rejected, 1);
    assert_true(s.elapsed_s == 0.25);
    assert_int_equal(s.peak_rss_kib, 7956);
    assert_int_equal(s.worker_peak_rss_kib, 7956);
    etl_buf again = ETL_BUF_INIT;
    assert_int_equal(etl_summary_write_json(&again, &s), ETL_OK);
    assert_string_equal(again.data, run_json);
    etl_buf_release(&again);
    etl_summary_release(&s);
}

static void test_summary_in_db_and_failure(void **state)
{
    (void)state;
    etl_summary s;
    etl_error err;
    etl_error_clear(&err);
    const char *indb = "{\"summary_version\":1,\"scenario\":\"small\",\"processor\":\"in-db\","
                       "\"runner\":\"in-db\",\"extractor\":null,\"loader\":null,\"database\":"
                       "\"etl_run_small\",\"submissions\":20,\"events\":509,\"rejected\":0,"
                       "\"elapsed_s\":0.1,\"events_per_s\":5090.0,\"peak_rss_kib\":7000}";
    /* Without worker_peak_rss_kib (added within version 1): the process's own peak. */
    assert_int_equal(etl_summary_parse_json(indb, &s, &err), ETL_OK);
    assert_int_equal(s.worker_peak_rss_kib, 7000);
    assert_null(s.extractor);
    assert_null(s.loader);
    etl_summary_release(&s);

    etl_summary f;
    etl_summary_of_failure(&f, "small", "copy", 4, "cannot connect");
    etl_buf out = ETL_BUF_INIT;
    assert_int_equal(etl_summary_write_json(&out, &f), ETL_OK);
    assert_int_equal(etl_summary_parse_json(out.data, &s, &err), ETL_OK);
    assert_true(s.failed);
    assert_int_equal(s.exit, 4);
    assert_string_equal(s.error, "cannot connect");
    etl_summary_release(&s);
    etl_buf_release(&out);
}

static void test_summary_refuses_what_it_cannot_trust(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want; /* in the message */
    } cases[] = {
        {"not json", "JSON"},
        {"", "JSON"},
        {"{\"scenario\":\"small\"}", "summary_version"},
        {"{\"summary_version\":2,\"scenario\":\"small\"}", "2"},
        {"{\"summary_version\":1,\"scenario\":\"small\",\"processor\":\"copy\"}", "runner"},
        {"{\"summary_version\":1,\"scenario\":\"small\",\"processor\":\"copy\",\"runner\":"
         "\"staged\",\"extractor\":\"chunked\",\"loader\":\"copy\",\"database\":\"d\","
         "\"submissions\":\"20\",\"events\":1,\"rejected\":0,\"elapsed_s\":1,"
         "\"events_per_s\":1,\"peak_rss_kib\":1}",
         "submissions"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_summary s;
        etl_error err;
        etl_error_clear(&err);
        int rc = etl_summary_parse_json(cases[i].text, &s, &err);
        if (rc != ETL_ERR_IO)
            fail_msg("case %zu accepted (rc %d): %s", i, rc, cases[i].text);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].want);
        etl_summary_release(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_run_written_as_documented),
        cmocka_unit_test(test_summary_jobs_peak_per_worker),
        cmocka_unit_test(test_summary_round_trip),
        cmocka_unit_test(test_summary_in_db_and_failure),
        cmocka_unit_test(test_summary_refuses_what_it_cannot_trust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
