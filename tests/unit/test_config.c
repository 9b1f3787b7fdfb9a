/*
 * YAML scenario and processor parsing: the values read, the defaults, and
 * every kind of mistake reported with file, line and column.  Also checks
 * the shipped scenarios directory says what the product promises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etl/config.h"
#include "etl/runner.h"
#include "etl/text.h"

static int parse(int (*fn)(etl_config *, const char *, const char *, size_t, etl_error *),
                 const char *text, etl_config **out, etl_error *err)
{
    etl_config *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    etl_error_clear(err);
    int rc = fn(c, "test.yaml", text, strlen(text), err);
    *out = c;
    return rc;
}

/* Processors as a command loads them: parsed, then their names checked against the registries. */
static int parse_processors(etl_config *c, const char *file, const char *text, size_t len,
                            etl_error *err)
{
    int rc = etl_config_parse_processors(c, file, text, len, err);
    return rc == ETL_OK ? etl_runner_check_config(c, err) : rc;
}

static void test_config_scenarios_values_and_defaults(void **state)
{
    (void)state;
    etl_config *c;
    etl_error err;
    const char *y = "scenarios:\n"
                    "  tiny:\n"
                    "    description: a tiny one\n"
                    "    forms: 2\n"
                    "    users: 3\n"
                    "    submissions: 40\n"
                    "    schemas: [a.json, b.json]\n"
                    "    fixtures:\n"
                    "      - f/one.json\n"
                    "    seed: 7\n"
                    "    unanswered: 0.25\n"
                    "  none:\n"
                    "    forms: 0\n";
    assert_int_equal(parse(etl_config_parse_scenarios, y, &c, &err), ETL_OK);
    assert_int_equal(c->nscenarios, 2);
    const etl_scenario_cfg *s = etl_config_scenario(c, "tiny");
    assert_non_null(s);
    assert_string_equal(s->description, "a tiny one");
    assert_int_equal(s->forms, 2);
    assert_int_equal(s->users, 3);
    assert_int_equal(s->submissions, 40);
    assert_int_equal(s->nschemas, 2);
    assert_string_equal(s->schemas[1], "b.json");
    assert_int_equal(s->nfixtures, 1);
    assert_string_equal(s->fixtures[0], "f/one.json");
    assert_int_equal(s->seed, 7);
    assert_true(s->unanswered == 0.25);
    assert_true(s->extra_keys == 0.2); /* default */
    assert_int_equal(etl_config_scenario(c, "none")->seed, 42);
    assert_null(etl_config_scenario(c, "missing"));
    etl_config_free(c);
}

static void test_config_processors_values_and_defaults(void **state)
{
    (void)state;
    etl_config *c;
    etl_error err;
    const char *y = "processors:\n"
                    "  fast:\n"
                    "    extractor: chunked\n"
                    "    loader: copy\n"
                    "    extract_batch: 1000\n"
                    "    form_cache: 4\n"
                    "  slow: {extractor: naive, loader: naive}\n";
    assert_int_equal(parse(parse_processors, y, &c, &err), ETL_OK);
    const etl_processor_cfg *p = etl_config_processor(c, "fast");
    assert_non_null(p);
    assert_string_equal(p->extractor, "chunked");
    assert_string_equal(p->transformer, "flatten");
    assert_string_equal(p->loader, "copy");
    assert_int_equal(p->extract_batch, 1000);
    assert_int_equal(p->load_batch, 500);
    assert_int_equal(p->form_cache, 4);
    assert_int_equal(etl_config_processor(c, "slow")->form_cache, 16);
    etl_config_free(c);
}

typedef struct bad_case {
    int processors; /* which parser */
    const char *yaml;
    const char *want; /* substring of the message, position included */
} bad_case;

static void test_config_errors_name_file_line_column(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {0, "scenarios:\n  a: [1,\n", "test.yaml:3:1:"},
        {0, "scenarios:\n  a:\n    forms: 1\n   users: 2\n", "test.yaml:4:"},
        {0, "scenarios:\n  a:\n    form: 1\n", "test.yaml:3:5: unknown key 'form' in scenario 'a'"},
        {0, "scenarios:\n  a:\n    forms: many\n",
         "test.yaml:3:12: 'forms' must be a whole number"},
        {0, "scenarios:\n  a:\n    forms: -1\n", "test.yaml:3:12:"},
        {0, "scenarios:\n  a:\n    unanswered: 2\n",
         "test.yaml:3:17: 'unanswered' must be a number from 0 to 1"},
        {0, "scenarios:\n  a:\n    schemas: x.json\n", "test.yaml:3:14: 'schemas' must be a list"},
        {0, "scenarios:\n  a: {forms: 1, users: 1}\n", "has forms but no 'schemas'"},
        {0, "scenarios:\n  a: {forms: 1}\n  a: {forms: 2}\n", "test.yaml:3:3: duplicate key 'a'"},
        {0, "scenarios:\n  a: &x {forms: 0}\n  b: *x\n",
         "test.yaml:3:6: YAML aliases (*x) are not supported"},
        {0, "", "the file is empty"},
        {0, "senarios: {}\n", "test.yaml:1:1: unknown key 'senarios' in the top level"},
        {0, "- 1\n- 2\n", "the top level must be a mapping"},
        {1, "processors:\n  p: {extractor: chunky, loader: copy}\n",
         "test.yaml:2:18: unknown extractor 'chunky' (valid: chunked, joined, naive)"},
        {1, "processors:\n  p: {extractor: chunked, loader: bulk}\n",
         "test.yaml:2:35: unknown loader 'bulk' (valid: chunked, copy, copy-text, flush-single, "
         "naive)"},
        {1, "processors:\n  p: {extractor: chunked, loader: copy, transformer: walk}\n",
         "test.yaml:2:54: unknown transformer 'walk' (valid: flatten)"},
        {1, "processors:\n  p: {extractor: chunked}\n",
         "test.yaml:2:3: processor 'p' has no 'loader'"},
        {1, "processors:\n  p: {extractor: in-db, loader: in-db}\n",
         "test.yaml:2:18: unknown extractor 'in-db' (valid: chunked, joined, naive); 'in-db' is "
         "a runner: write `runner: in-db` instead of an extractor and a loader"},
        {1, "processors:\n  p: {runner: in-sql}\n",
         "test.yaml:2:15: unknown runner 'in-sql' (valid: in-db, staged)"},
        {1, "processors:\n  p:\n    runner: in-db\n    loader: copy\n",
         "test.yaml:4:13: processor 'p': the in-db runner takes no extractor, transformer or "
         "loader"},
        {1, "processors:\n  p: {extractor: chunked, loader: chunked, load_batch: 9000}\n",
         "'load_batch' must be a whole number from 0 to 5957"},
        {1, "processors:\n  p: {extractor: chunked, loader: copy, extract_batch: 0}\n",
         "'extract_batch' must be at least 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_config *c;
        etl_error err;
        int rc = parse(cases[i].processors ? parse_processors : etl_config_parse_scenarios,
                       cases[i].yaml, &c, &err);
        if (rc != ETL_ERR_CONFIG)
            fail_msg("case %zu accepted:\n%s", i, cases[i].yaml);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].want);
        etl_config_free(c);
    }
}

static void test_config_billion_laughs_refused(void **state)
{
    (void)state;
    etl_config *c;
    etl_error err;
    const char *y = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                    "scenarios: {}\n";
    assert_int_equal(parse(etl_config_parse_scenarios, y, &c, &err), ETL_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "aliases"));
    etl_config_free(c);
}

static void test_config_missing_file(void **state)
{
    (void)state;
    etl_config *c = NULL;
    etl_error err;
    assert_int_equal(etl_config_load(&c, "/nonexistent/dir", &err), ETL_ERR_CONFIG);
    assert_null(c);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/scenarios.yaml: cannot open"));
}

static void test_config_shipped_scenarios(void **state)
{
    (void)state;
    etl_config *c = NULL;
    etl_error err;
    if (etl_config_load(&c, ETL_TEST_SCENARIOS, &err) != ETL_OK)
        fail_msg("%s", err.msg);
    static const struct {
        const char *name;
        size_t forms, users, submissions;
    } want[] = {{"empty", 0, 0, 0},
                {"basic", 1, 1, 1},
                {"small", 2, 2, 20},
                {"medium", 3, 2, 300},
                {"large-few-users", 3, 20, 2400},
                {"large-many-users", 3, 400, 2400},
                {"xlarge", 3, 400, 24000},
                {"huge", 3, 4000, 240000}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const etl_scenario_cfg *s = etl_config_scenario(c, want[i].name);
        if (!s) {
            fail_msg("scenario %s is missing", want[i].name);
        } else {
            assert_int_equal(s->forms, want[i].forms);
            assert_int_equal(s->users, want[i].users);
            assert_int_equal(s->submissions, want[i].submissions);
        }
    }
    static const char *const procs[][3] = {{"naive", "naive", "naive"},
                                           {"naive-joined", "joined", "naive"},
                                           {"flush-single", "chunked", "flush-single"},
                                           {"chunked", "chunked", "chunked"},
                                           {"copy", "chunked", "copy"}};
    for (size_t i = 0; i < 5; i++) {
        const etl_processor_cfg *p = etl_config_processor(c, procs[i][0]);
        if (!p) {
            fail_msg("processor %s is missing", procs[i][0]);
        } else {
            assert_string_equal(p->extractor, procs[i][1]);
            assert_string_equal(p->loader, procs[i][2]);
        }
    }
    const etl_processor_cfg *indb = etl_config_processor(c, "in-db");
    assert_non_null(indb);
    assert_string_equal(indb->runner, "in-db");
    assert_null(indb->extractor);
    assert_string_equal(etl_config_processor(c, "copy")->runner, "staged");
    assert_int_equal(etl_runner_check_config(c, &err), ETL_OK);
    assert_int_equal(etl_config_processor(c, "chunked")->extract_batch, 500);
    assert_int_equal(etl_config_processor(c, "chunked")->load_batch, 500);
    etl_config_free(c);
}

static void test_parse_ull_range(void **state)
{
    (void)state;
    unsigned long long v = 0;
    assert_int_equal(etl_parse_ull("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(etl_parse_ull("101", 0, 100, &v), -1);
    assert_int_equal(etl_parse_ull("0", 1, 100, &v), -1);
    assert_int_equal(etl_parse_ull("-1", 0, 100, &v), -1);
    assert_int_equal(etl_parse_ull("1x", 0, 100, &v), -1);
    assert_int_equal(etl_parse_ull("", 0, 100, &v), -1);
    assert_int_equal(etl_parse_ull("99999999999999999999999", 0, ~0ULL, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_scenarios_values_and_defaults),
        cmocka_unit_test(test_config_processors_values_and_defaults),
        cmocka_unit_test(test_config_errors_name_file_line_column),
        cmocka_unit_test(test_config_billion_laughs_refused),
        cmocka_unit_test(test_config_missing_file),
        cmocka_unit_test(test_config_shipped_scenarios),
        cmocka_unit_test(test_parse_ull_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
