/*
 * Hostile input, one test each: whatever a submission or schema holds, the
 * transformer answers with events or a reject with a reason, never a crash,
 * a hang or unbounded memory.  (Hostile YAML is in test_config.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etl/flatten.h"
#include "etl/log.h"
#include "etl/transformer.h"
#include "etl/mem.h"

static const char schema[] = "{\"children\": [{\"slug\": \"note\", \"answerType\": \"text\"},"
                             " {\"slug\": \"n\", \"answerType\": \"number\"},"
                             " {\"slug\": \"g\", \"children\": [{\"slug\": \"ok\", "
                             "\"answerType\": \"boolean\"}]},"
                             " {\"slug\": \"d\", \"children\": [{\"slug\": \"e\", \"children\":"
                             " [{\"slug\": \"f\", \"answerType\": \"number\"}]}]}]}";

static int fetch(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    (void)ctx;
    (void)err;
    if (strcmp(form_id, "array-schema") == 0)
        return etl_buf_puts(out, "[1, 2]");
    if (strcmp(form_id, "duplicate-paths") == 0)
        return etl_buf_puts(out, "{\"children\": [{\"slug\": \"a\", \"answerType\": \"text\"}, "
                                 "{\"slug\": \"a\", \"answerType\": \"date\"}]}");
    return etl_buf_puts(out, schema);
}

typedef struct result {
    int rc;
    const char *reason;
    size_t events;
    etl_buf values; /* event values, one per line */
} result;

static result apply_with(const char *form, const char *json, size_t len, size_t max_bytes)
{
    etl_transformer_cfg cfg = {
        .form_cache = 4, .max_depth = 64, .max_bytes = max_bytes, .fetch = fetch};
    etl_transformer t;
    etl_error err;
    assert_int_equal(etl_transformer_flatten_new(&t, &cfg, &err), ETL_OK);
    etl_event_batch b;
    etl_event_batch_init(&b, "now");
    etl_submission s = {.id = "h",
                        .form_id = form,
                        .form_name = "F",
                        .user_full_name = "U",
                        .responses = json,
                        .responses_len = len};
    etl_error_clear(&err);
    result r = {0, NULL, 0, ETL_BUF_INIT};
    r.rc = t.ops->apply(t.state, &s, &b, &err);
    r.reason = err.reason;
    r.events = b.count;
    etl_buf_puts(&r.values, "");
    for (size_t i = 0; i < b.count; i++) {
        if (b.events[i].value_len < 100)
            etl_buf_printf(&r.values, "%s\n", etl_event_value(&b, &b.events[i]));
        else
            etl_buf_printf(&r.values, "<%zu bytes>\n", b.events[i].value_len);
    }
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
    return r;
}

static result apply(const char *json)
{
    return apply_with("form", json, strlen(json), 16U << 20);
}

static void expect_reject(const char *json, const char *reason)
{
    result r = apply(json);
    if (r.rc != ETL_ERR_INPUT || !r.reason || strcmp(r.reason, reason) != 0)
        fail_msg("%.60s: rc %d reason %s, expected a %s reject", json, r.rc,
                 r.reason ? r.reason : "(none)", reason);
    assert_int_equal(r.events, 0);
    etl_buf_release(&r.values);
}

/* json loads, and its values, one per line in walk order, are exactly `values`. */
static void expect_loads(const char *json, const char *values)
{
    result r = apply(json);
    if (r.rc != ETL_OK)
        fail_msg("%.60s: rc %d reason %s, expected it to load", json, r.rc,
                 r.reason ? r.reason : "(none)");
    assert_string_equal(r.values.data, values);
    etl_buf_release(&r.values);
}

static void test_hostile_nesting_100000_levels(void **state)
{
    (void)state;
    size_t depth = 100000;
    etl_buf b = ETL_BUF_INIT;
    for (size_t i = 0; i < depth; i++)
        etl_buf_puts(&b, "{\"g\":");
    etl_buf_puts(&b, "1");
    for (size_t i = 0; i < depth; i++)
        etl_buf_putc(&b, '}');
    result r = apply_with("form", b.data, b.len, 16U << 20);
    assert_int_equal(r.rc, ETL_ERR_INPUT);
    assert_string_equal(r.reason, ETL_REJECT_TOO_DEEP);
    etl_buf_release(&r.values);
    etl_buf_release(&b);
}

static void test_hostile_50_mib_string(void **state)
{
    (void)state;
    size_t n = 50U << 20;
    char *json = malloc(n + 32);
    assert_non_null(json);
    memcpy(json, "{\"note\": \"", 10); // NOLINT(bugprone-not-null-terminated-result)
    memset(json + 10, 'x', n);
    memcpy(json + 10 + n, "\"}", 3);
    size_t len = n + 12;
    /* Over the default limit: refused before it is even read. */
    result r = apply_with("form", json, len, 16U << 20);
    assert_int_equal(r.rc, ETL_ERR_INPUT);
    assert_string_equal(r.reason, ETL_REJECT_TOO_LARGE);
    etl_buf_release(&r.values);
    /* Allowed: loaded whole, and memory stays a small multiple of the input. */
    long before = etl_mem_peak_kib();
    r = apply_with("form", json, len, 64U << 20);
    long grown = etl_mem_peak_kib() - before;
    assert_int_equal(r.rc, ETL_OK);
    assert_int_equal(r.events, 1);
    assert_string_equal(r.values.data, "<52428800 bytes>\n");
    if (grown > 4L * 50 * 1024)
        fail_msg("a 50 MiB answer grew peak memory by %ld KiB", grown);
    etl_buf_release(&r.values);
    free(json);
}

static void test_hostile_nul_and_lone_surrogates(void **state)
{
    (void)state;
    /*
     * Anywhere in the document, in a key or in a value that is no answer:
     * jsonb refuses such a document whole, so etl rejects it whole too.
     */
    expect_reject("{\"no\\u0000te\": \"x\", \"note\": \"fine\"}", ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"\\udc00\": {\"ok\": true}, \"note\": \"fine\"}",
                  ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"extra\": [\"\\ud800\"], \"note\": \"fine\"}", ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"note\": \"a\\u0000b\"}", ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"note\": \"\\ud800\"}", ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"note\": \"\\udfff\\ud800\"}", ETL_REJECT_UNSTORABLE_STRING);
    expect_reject("{\"note\": \"\\ud800x\\udc00\"}", ETL_REJECT_UNSTORABLE_STRING);
    /* An escaped backslash before u0000 is no escape, and a whole pair is one character. */
    expect_loads("{\"note\": \"\\\\u0000 \\ud83d\\ude00\"}", "\\u0000 \xf0\x9f\x98\x80\n");
}

static void test_hostile_numbers(void **state)
{
    (void)state;
    /* A number's text changes only to a text of exactly the same value. */
    static const char *const kept[][2] = {
        {"1e999", "1e999"},
        {"-0", "-0"},
        {"12345678901234567890", "12345678901234567890"},
        {"-1e-400", "-1e-400"},
        {"0.1e1", "1"},
        {"12345678901234567890.5", "12345678901234567890.5"},
        {"0.10000000000000001", "0.10000000000000001"},
        {"0.1000000000000000000000000000000000000000000000000000000000000000000000000", "0.1"},
        {"5e-324", "5e-324"},
        {"3e-324", "3e-324"},
        {"0e-400", "0"},
        /* Exactly halfway between two doubles: PostgreSQL's float8 writes 2.7480000000000002e+22.
         */
        {"2748e19", "2748e19"},
        {"2.748e22", "2.748e22"},
    };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        char json[128];
        char want[128];
        snprintf(json, sizeof(json), "{\"n\": %s}", kept[i][0]);
        snprintf(want, sizeof(want), "%s\n", kept[i][1]);
        result r = apply(json);
        assert_int_equal(r.rc, ETL_OK);
        assert_string_equal(r.values.data, want);
        etl_buf_release(&r.values);
    }
    static const char *const invalid[] = {"01", "1.",   "+1", "NaN", "Infinity",
                                          ".5", "0x10", "1e", "--1"};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        char json[64];
        snprintf(json, sizeof(json), "{\"n\": %s}", invalid[i]);
        expect_reject(json, ETL_REJECT_INVALID_JSON);
    }
}

static void test_hostile_duplicate_keys_last_wins(void **state)
{
    (void)state;
    /* As in jsonb: of members with one name the last counts, with all below it. */
    expect_loads("{\"note\": \"first\", \"note\": \"second\"}", "second\n");
    expect_loads("{\"g\": {\"ok\": \"no\"}, \"n\": 1, \"g\": {\"ok\": true}, \"n\": null}",
                 "true\n");
    /* Names are compared decoded: "n\u006fte" is "note". */
    expect_loads("{\"note\": \"first\", \"n\\u006fte\": \"second\"}", "second\n");
    /* What a later namesake hides cannot make the submission wrong. */
    expect_loads("{\"n\": \"not a number\", \"n\": 5}", "5\n");
}

static void test_hostile_two_routes_to_one_answer(void **state)
{
    (void)state;
    /* Keys join with dots, the empty key too: {"": {"note": ...}} answers ".note", not "note". */
    expect_loads("{\"\": {\"note\": \"x\"}}", "");
    expect_reject("{\"g.ok\": true, \"g\": {\"ok\": false}}", ETL_REJECT_AMBIGUOUS_ANSWER);
    /* One of the two unanswered: one answer, no doubt. */
    expect_loads("{\"g.ok\": true, \"g\": {\"ok\": null}}", "true\n");
    /* A dotted name below the root, in an object and in a path of objects. */
    expect_reject("{\"d\": {\"e.f\": 1, \"e\": {\"f\": 2}}}", ETL_REJECT_AMBIGUOUS_ANSWER);
    expect_reject("{\"d\": {\"e\": {\"f\": 2}}, \"d.e\": {\"f\": 3}}", ETL_REJECT_AMBIGUOUS_ANSWER);
    expect_loads("{\"d\": {\"e.f\": 1}, \"n\": 2}", "2\n1\n");
    expect_loads("{\"d\": {\"e\": {\"f\": 2}}, \"n\": 1}", "1\n2\n");
}

static void test_hostile_containers_where_a_scalar_is_expected(void **state)
{
    (void)state;
    expect_reject("{\"n\": [1, 2]}", ETL_REJECT_TYPE_MISMATCH);
    expect_reject("{\"n\": {\"value\": 1}}", ETL_REJECT_TYPE_MISMATCH);
    expect_reject("{\"g\": {\"ok\": []}}", ETL_REJECT_TYPE_MISMATCH);
    /* A group answered with a scalar is no question: skipped, nothing lost that was asked. */
    result r = apply("{\"g\": 5, \"note\": \"x\"}");
    assert_int_equal(r.rc, ETL_OK);
    assert_string_equal(r.values.data, "x\n");
    etl_buf_release(&r.values);
}

static void test_hostile_schemas(void **state)
{
    (void)state;
    result r = apply_with("array-schema", "{}", 2, 0);
    assert_int_equal(r.rc, ETL_ERR_INPUT);
    assert_string_equal(r.reason, ETL_REJECT_UNUSABLE_SCHEMA);
    etl_buf_release(&r.values);
    r = apply_with("duplicate-paths", "{}", 2, 0);
    assert_int_equal(r.rc, ETL_ERR_INPUT);
    assert_string_equal(r.reason, ETL_REJECT_UNUSABLE_SCHEMA);
    etl_buf_release(&r.values);
}

static void test_hostile_empty_responses(void **state)
{
    (void)state;
    result r = apply("{}");
    assert_int_equal(r.rc, ETL_OK);
    assert_int_equal(r.events, 0);
    etl_buf_release(&r.values);
    expect_reject("", ETL_REJECT_INVALID_JSON);
    expect_reject("   ", ETL_REJECT_INVALID_JSON);
    expect_reject("null", ETL_REJECT_NOT_OBJECT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_nesting_100000_levels),
        cmocka_unit_test(test_hostile_50_mib_string),
        cmocka_unit_test(test_hostile_nul_and_lone_surrogates),
        cmocka_unit_test(test_hostile_numbers),
        cmocka_unit_test(test_hostile_duplicate_keys_last_wins),
        cmocka_unit_test(test_hostile_two_routes_to_one_answer),
        cmocka_unit_test(test_hostile_containers_where_a_scalar_is_expected),
        cmocka_unit_test(test_hostile_schemas),
        cmocka_unit_test(test_hostile_empty_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
