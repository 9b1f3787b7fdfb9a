/*
 * The responses tokenizer and string decoder: structure, raw spans kept
 * exact, every syntax error reported with a position, the depth limit, and
 * the strings PostgreSQL could not store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "etl/config.h"
#include "etl/flatten.h"
#include "etl/text.h"

static int setup(void **state)
{
    etl_json_doc *d = test_malloc(sizeof(*d));
    etl_json_doc_init(d, 8);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    etl_json_doc *d = *state;
    etl_json_doc_release(d);
    test_free(d);
    return 0;
}

static void test_json_structure_and_spans(void **state)
{
    etl_json_doc *d = *state;
    const char *s = " {\"a\": [1, -2.5e3, true], \"b\": {\"c\": null}, \"d\": \"x\\ty\"} ";
    etl_error err;
    assert_int_equal(etl_json_tokenize(d, s, strlen(s), &err), ETL_OK);
    /* {, "a", [, 1, -2.5e3, true, "b", {, "c", null, "d", "x\ty" */
    assert_int_equal(d->count, 12);
    assert_int_equal(d->toks[0].type, ETL_JSON_OBJECT);
    assert_int_equal(d->toks[0].size, 3);
    assert_int_equal(d->toks[0].next, 12);
    assert_int_equal(d->toks[2].type, ETL_JSON_ARRAY);
    assert_int_equal(d->toks[2].size, 3);
    assert_int_equal(d->toks[2].next, 6);
    assert_int_equal(d->toks[4].type, ETL_JSON_NUMBER);
    assert_memory_equal(s + d->toks[4].start, "-2.5e3", 6);
    assert_int_equal(d->toks[4].len, 6);
    assert_int_equal(d->toks[7].type, ETL_JSON_OBJECT);
    assert_int_equal(d->toks[7].next, 10);
    assert_int_equal(d->toks[9].type, ETL_JSON_NULL);
    assert_int_equal(d->toks[11].type, ETL_JSON_STRING);
    assert_true(d->toks[11].escaped);
}

static void test_json_empty_containers(void **state)
{
    etl_json_doc *d = *state;
    etl_error err;
    const char *s = "{\"a\":{},\"b\":[]}";
    assert_int_equal(etl_json_tokenize(d, s, strlen(s), &err), ETL_OK);
    assert_int_equal(d->count, 5);
    assert_int_equal(d->toks[2].size, 0);
    assert_int_equal(d->toks[2].next, 3);
    assert_int_equal(d->toks[4].size, 0);
}

static void test_json_rejects_malformed(void **state)
{
    etl_json_doc *d = *state;
    static const char *const bad[] = {
        "",          "{",         "{\"a\" 1}",     "{\"a\":}", "{\"a\":1,}", "[1,]",
        "{a:1}",     "[01]",      "[1.]",          "[-]",      "[1e]",       "[tru]",
        "[\"x]",     "[\"\\x\"]", "[\"\\u12g4\"]", "{} {}",    "[1] x",      "[\"a\nb\"]",
        "{\"a\":1]", "[1}",       "nul",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        etl_error err;
        etl_error_clear(&err);
        int rc = etl_json_tokenize(d, bad[i], strlen(bad[i]), &err);
        if (rc != ETL_ERR_INPUT)
            fail_msg("accepted malformed JSON: %s", bad[i]);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_json_error_position(void **state)
{
    etl_json_doc *d = *state;
    etl_error err;
    const char *s = "{\"a\": 1,\n \"b\": tru}";
    assert_int_equal(etl_json_tokenize(d, s, strlen(s), &err), ETL_ERR_INPUT);
    assert_int_equal(d->err_at, 15); /* where "tru" starts */
    size_t line;
    size_t col;
    etl_text_position(s, d->err_at, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 7);
}

static void test_json_depth_limit(void **state)
{
    etl_json_doc *d = *state; /* max_depth 8 */
    etl_error err;
    const char *ok = "[[[[[[[[1]]]]]]]]";
    const char *deep = "[[[[[[[[[1]]]]]]]]]";
    assert_int_equal(etl_json_tokenize(d, ok, strlen(ok), &err), ETL_OK);
    assert_int_equal(etl_json_tokenize(d, deep, strlen(deep), &err), ETL_ERR_INPUT);
    assert_non_null(strstr(err.msg, "nested deeper than 8"));
}

static void test_json_hostile_depth_is_an_error_not_a_crash(void **state)
{
    (void)state;
    etl_json_doc d;
    etl_json_doc_init(&d, ETL_JSON_DEFAULT_MAX_DEPTH);
    size_t n = 100000;
    char *s = test_malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    etl_error err;
    assert_int_equal(etl_json_tokenize(&d, s, 2 * n, &err), ETL_ERR_INPUT);
    test_free(s);
    etl_json_doc_release(&d);
}

static void decode(etl_json_doc *d, const char *json, int want_rc, const char *want)
{
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_json_tokenize(d, json, strlen(json), &err), ETL_OK);
    etl_buf out = ETL_BUF_INIT;
    int rc = etl_json_decode_string(d, &d->toks[0], &out, &err);
    assert_int_equal(rc, want_rc);
    if (want)
        assert_string_equal(out.data ? out.data : "", want);
    else
        assert_true(strlen(err.msg) > 0);
    etl_buf_release(&out);
}

static void test_json_decode_escapes(void **state)
{
    etl_json_doc *d = *state;
    decode(d, "\"plain\"", ETL_OK, "plain");
    decode(d, "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", ETL_OK, "a\"b\\c/d\be\ff\ng\rh\ti");
    decode(d, "\"caf\\u00e9 \\u20ac\"", ETL_OK, "caf\xc3\xa9 \xe2\x82\xac");
    decode(d, "\"\\ud83d\\ude42\"", ETL_OK, "\xf0\x9f\x99\x82"); /* a surrogate pair */
    decode(d, "\"raw \xc3\xbc stays\"", ETL_OK, "raw \xc3\xbc stays");
    decode(d, "\"\"", ETL_OK, "");
}

static void test_json_decode_refuses_what_postgres_cannot_store(void **state)
{
    etl_json_doc *d = *state;
    decode(d, "\"a\\u0000b\"", ETL_ERR_INPUT, NULL);
    decode(d, "\"\\ud83d\"", ETL_ERR_INPUT, NULL);        /* high surrogate alone */
    decode(d, "\"\\ude42x\"", ETL_ERR_INPUT, NULL);       /* low surrogate alone */
    decode(d, "\"\\ud83d\\u0041\"", ETL_ERR_INPUT, NULL); /* high then not-low */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_structure_and_spans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_empty_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_rejects_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_error_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_depth_limit, setup, teardown),
        cmocka_unit_test(test_json_hostile_depth_is_an_error_not_a_crash),
        cmocka_unit_test_setup_teardown(test_json_decode_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_decode_refuses_what_postgres_cannot_store, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
