/*
 * The pure transform pieces: number text, the schema path map, the walk's
 * order and skip rules, the flatten stage's all-or-nothing rejects, the LRU
 * cache, and COPY text escaping.  Expected values are written out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "etl/flatten.h"
#include "etl/transformer.h"

static void test_format_number_integers_exact(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"24", "24"},
        {"-7", "-7"},
        {"0", "0"},
        {"-0", "-0"},
        {"12345678901234567890", "12345678901234567890"},
        {"123456789012345678901234567890", "123456789012345678901234567890"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_buf b = ETL_BUF_INIT;
        assert_int_equal(etl_format_number(cases[i][0], strlen(cases[i][0]), &b), ETL_OK);
        assert_string_equal(b.data, cases[i][1]);
        etl_buf_release(&b);
    }
}

static void test_format_number_shortest_round_trip(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2.5", "2.5"},
        {"2.50", "2.5"},
        {"36.60", "36.6"},
        {"3.0", "3"},
        {"1e2", "100"},
        {"1E2", "100"},
        {"0.1", "0.1"},
        {"0.0001", "0.0001"},
        {"1e-5", "1e-05"},
        {"1e16", "1e+16"},
        {"-0.0", "-0"},
        {"1.5e300", "1.5e+300"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"123456789.125", "123456789.125"},
        {"1e999", "1e999"}, /* not a finite double: kept as written */
        {"588257707116705040E-1", "5.8825770711670504e+16"}, /* 17 digits at e+16 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_buf b = ETL_BUF_INIT;
        assert_int_equal(etl_format_number(cases[i][0], strlen(cases[i][0]), &b), ETL_OK);
        if (strcmp(b.data, cases[i][1]) != 0)
            fail_msg("%s formatted as %s, expected %s", cases[i][0], b.data, cases[i][1]);
        etl_buf_release(&b);
    }
}

/*
 * Fixed-notation numbers take a short cut (flatten.c, short_fixed) around
 * the general rule; the same number with "e0" appended takes the general
 * path.  Both must give the same text, on random numbers of every length
 * around the short cut's limits (15 significant digits, exponents -4..15).
 */
static void test_format_number_short_cut_agrees(void **state)
{
    (void)state;
    unsigned long long seed = 42;
    for (int n = 0; n < 50000; n++) {
        char raw[80];
        size_t len = 0;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned long long r = seed >> 11;
        if (r & 1)
            raw[len++] = '-';
        int int_digits = (int)((r >> 1) % 19); /* 0: the integer part is "0" */
        int frac_digits = 1 + (int)((r >> 6) % 20);
        int zeros = (int)((r >> 11) % 7); /* leading zeros of a fraction below 1 */
        for (int d = 0; d < int_digits; d++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            raw[len++] = (char)('0' + (d == 0 ? 1 + (seed >> 33) % 9 : (seed >> 33) % 10));
        }
        if (int_digits == 0)
            raw[len++] = '0';
        if ((r >> 18) % 4 == 0) /* an integer part ending in zeros: few significant digits */
            for (size_t z = 1; z < (size_t)int_digits && z <= (r >> 20) % 12; z++)
                raw[len - z] = '0';
        raw[len++] = '.';
        for (int d = 0; d < frac_digits; d++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            raw[len++] = (char)(int_digits == 0 && d < zeros ? '0' : '0' + (seed >> 33) % 10);
        }
        if ((r >> 14) % 3 == 0) /* trailing zeros */
            for (int z = 0; z < (int)((r >> 16) % 4); z++)
                raw[len++] = '0';
        raw[len] = '\0';
        char general_in[90];
        snprintf(general_in, sizeof(general_in), "%se0", raw);
        etl_buf fast = ETL_BUF_INIT;
        etl_buf general = ETL_BUF_INIT;
        assert_int_equal(etl_format_number(raw, len, &fast), ETL_OK);
        assert_int_equal(etl_format_number(general_in, strlen(general_in), &general), ETL_OK);
        /* Kept as written by the general rule: then as written here too. */
        const char *want = strcmp(general.data, general_in) == 0 ? raw : general.data;
        if (strcmp(fast.data, want) != 0)
            fail_msg("%s formatted as %s, the general rule gives %s", raw, fast.data, want);
        etl_buf_release(&fast);
        etl_buf_release(&general);
    }
}

static const char schema[] =
    "{\"slug\": \"form_root_slug\", \"children\": ["
    "  {\"type\": \"paragraph\", \"text\": \"no slug: skipped\"},"
    "  {\"slug\": \"root\", \"children\": ["
    "     {\"slug\": \"falls\", \"answerType\": \"number\", \"tag\": \"risk\"},"
    "     {\"slug\": \"internet_access\", \"children\": ["
    "        {\"slug\": \"tablet\", \"answerType\": \"boolean\"},"
    "        {\"answerType\": \"text\"}"
    "     ]},"
    "     {\"slug\": \"seen\", \"answerType\": \"date\", \"tag\": null}"
    "  ]},"
    "  {\"slug\": \"note\", \"answerType\": \"text\"}"
    "]}";

static void test_pathmap_paths_types_tags(void **state)
{
    (void)state;
    etl_pathmap *m = NULL;
    etl_error err;
    assert_int_equal(etl_pathmap_build(&m, schema, strlen(schema), &err), ETL_OK);
    assert_int_equal(etl_pathmap_count(m), 4);
    const etl_question *q = etl_pathmap_find(m, "root.falls", 10);
    assert_non_null(q);
    assert_int_equal(q->type, ETL_ANSWER_NUMBER);
    assert_string_equal(q->tag, "risk");
    q = etl_pathmap_find(m, "root.internet_access.tablet", 27);
    assert_non_null(q);
    assert_int_equal(q->type, ETL_ANSWER_BOOLEAN);
    assert_null(q->tag);
    assert_non_null(etl_pathmap_find(m, "root.seen", 9));
    assert_null(etl_pathmap_find(m, "root.seen", 9)->tag);
    assert_non_null(etl_pathmap_find(m, "note", 4));
    /* The root node's own slug is not part of any path; groups are not questions. */
    assert_null(etl_pathmap_find(m, "form_root_slug.root.falls", 25));
    assert_null(etl_pathmap_find(m, "root", 4));
    assert_null(etl_pathmap_find(m, "root.internet_access", 20));
    etl_pathmap_free(m);
}

static void test_pathmap_unusable_schemas(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"[1, 2]", "not a JSON object"},
        {"{\"children\": {}}", "not an array"},
        {"{\"children\": [1]}", "not an object"},
        {"{\"children\": [{\"slug\": \"a\", \"answerType\": \"colour\"}]}", "answerType 'colour'"},
        {"{\"children\": [{\"slug\": \"a\", \"answerType\": 3}]}", "wrong type"},
        {"{\"children\": [{\"slug\": 5, \"answerType\": \"text\"}]}", "not a non-empty string"},
        {"{\"children\": [{\"slug\": \"a\", \"answerType\": \"text\"},"
         " {\"slug\": \"a\", \"answerType\": \"number\"}]}",
         "duplicate question path 'a'"},
        {"{\"children\": [{\"slug\": \"a\", \"answerType\": \"text\", \"tag\": 1}]}", "tag"},
        {"{\"children\": [", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        etl_pathmap *m = (etl_pathmap *)1;
        etl_error err;
        etl_error_clear(&err);
        assert_int_equal(etl_pathmap_build(&m, bad[i][0], strlen(bad[i][0]), &err), ETL_ERR_INPUT);
        assert_null(m);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("schema %s: message '%s' lacks '%s'", bad[i][0], err.msg, bad[i][1]);
    }
}

typedef struct walk_fixture {
    etl_pathmap *map;
    etl_json_doc doc;
    etl_event_batch events;
    etl_buf path;
    etl_submission sub;
} walk_fixture;

static int walk_setup(void **state)
{
    walk_fixture *f = test_calloc(1, sizeof(*f));
    etl_error err;
    assert_int_equal(etl_pathmap_build(&f->map, schema, strlen(schema), &err), ETL_OK);
    etl_json_doc_init(&f->doc, 0);
    etl_event_batch_init(&f->events, "2026-01-01 00:00:00+00");
    f->sub.id = "s1";
    f->sub.form_id = "f1";
    f->sub.form_name = "Form one";
    f->sub.user_full_name = "Ada Lovelace";
    *state = f;
    return 0;
}

static int walk_teardown(void **state)
{
    walk_fixture *f = *state;
    etl_pathmap_free(f->map);
    etl_json_doc_release(&f->doc);
    etl_event_batch_release(&f->events);
    etl_buf_release(&f->path);
    test_free(f);
    return 0;
}

/* Walk json and render the events as "path=value:type:tag" lines. */
static int walk(walk_fixture *f, const char *json, etl_buf *out, etl_error *err)
{
    etl_event_batch_reset(&f->events);
    int rc = etl_json_tokenize(&f->doc, json, strlen(json), err);
    if (rc == ETL_OK)
        rc = etl_flatten_walk(&f->doc, f->map, &f->sub, &f->events, &f->path, err);
    for (size_t i = 0; i < f->events.count; i++) {
        const etl_event *e = &f->events.events[i];
        const char *tag = etl_event_tag(&f->events, e);
        etl_buf_printf(out, "%s=%s:%s:%s\n", etl_event_path(&f->events, e),
                       etl_event_value(&f->events, e), etl_answer_type_name(e->type),
                       tag ? tag : "-");
    }
    if (!out->data)
        etl_buf_puts(out, "");
    return rc;
}

static void test_walk_preorder_scalars_before_children(void **state)
{
    walk_fixture *f = *state;
    etl_buf out = ETL_BUF_INIT;
    etl_error err;
    /* The workshop example, with the nested object first in the document. */
    const char *json = "{\"root\": {\"internet_access\": {\"tablet\": false}, \"falls\": 2,"
                       " \"seen\": \"2026-02-03\"}, \"note\": \"hi\"}";
    assert_int_equal(walk(f, json, &out, &err), ETL_OK);
    assert_string_equal(out.data, "note=hi:text:-\n"
                                  "root.falls=2:number:risk\n"
                                  "root.seen=2026-02-03:date:-\n"
                                  "root.internet_access.tablet=false:boolean:-\n");
    etl_buf_release(&out);
}

static void test_walk_skip_rules(void **state)
{
    walk_fixture *f = *state;
    etl_buf out = ETL_BUF_INIT;
    etl_error err;
    const char *json =
        "{\"root\": {\"falls\": null, \"photos\": [\"2026-01-01\"],"
        " \"internet_access\": {\"tablet\": true, \"extra\": 1, \"deeper\": {\"x\": 1}},"
        " \"unknown\": \"x\"}, \"root.falls\": 3, \"memo\": {\"nested\": \"no\"},"
        " \"_client\": {\"app\": \"android\"}}";
    assert_int_equal(walk(f, json, &out, &err), ETL_OK);
    /* null: unanswered; arrays and objects under no question: skipped; "root.falls" as one key at
     * the top is a dotted path that happens to match: the walk joins keys with dots, so it counts.
     */
    assert_string_equal(out.data, "root.falls=3:number:risk\n"
                                  "root.internet_access.tablet=true:boolean:-\n");
    etl_buf_release(&out);
}

static void test_walk_values_as_text(void **state)
{
    walk_fixture *f = *state;
    etl_buf out = ETL_BUF_INIT;
    etl_error err;
    const char *json =
        "{\"root\": {\"falls\": 12345678901234567890}, \"note\": \"tab\\there \\u00e9\"}";
    assert_int_equal(walk(f, json, &out, &err), ETL_OK);
    assert_string_equal(out.data, "note=tab\there \xc3\xa9:text:-\n"
                                  "root.falls=12345678901234567890:number:risk\n");
    etl_buf_release(&out);
}

static void test_walk_not_an_object(void **state)
{
    walk_fixture *f = *state;
    static const char *const docs[][2] = {
        {"[1]", "an array"}, {"\"x\"", "a string"}, {"3", "a number"}, {"null", "a null"}};
    for (size_t i = 0; i < 4; i++) {
        etl_buf out = ETL_BUF_INIT;
        etl_error err;
        etl_error_clear(&err);
        assert_int_equal(walk(f, docs[i][0], &out, &err), ETL_ERR_INPUT);
        assert_non_null(strstr(err.msg, docs[i][1]));
        assert_string_equal(out.data, "");
        etl_buf_release(&out);
    }
}

static int fetch_schema(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    int *calls = ctx;
    (*calls)++;
    if (strcmp(form_id, "broken") == 0)
        return etl_buf_puts(out, "{\"children\": 7}");
    if (strcmp(form_id, "f1") != 0)
        return etl_error_set(err, ETL_ERR_INPUT, "form %s does not exist", form_id);
    return etl_buf_puts(out, schema);
}

static void test_flatten_stage_rejects_whole_submission(void **state)
{
    (void)state;
    int calls = 0;
    etl_transformer_cfg cfg = {
        .form_cache = 4, .max_depth = 16, .fetch = fetch_schema, .fetch_ctx = &calls};
    etl_transformer t;
    etl_error err;
    assert_int_equal(etl_transformer_flatten_new(&t, &cfg, &err), ETL_OK);
    etl_event_batch b;
    etl_event_batch_init(&b, "now");
    etl_submission good = {.id = "g",
                           .form_id = "f1",
                           .form_name = "F",
                           .user_full_name = "U",
                           .responses = "{\"note\": \"a\"}"};
    good.responses_len = strlen(good.responses);
    assert_int_equal(t.ops->apply(t.state, &good, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    size_t len = b.strings.len;
    /* The first answer is fine, the second is of the wrong type: nothing of it may stay. */
    etl_submission bad = {.id = "b",
                          .form_id = "f1",
                          .form_name = "F",
                          .user_full_name = "U",
                          .responses = "{\"note\": \"ok\", \"root\": {\"seen\": \"x\"}}"};
    bad.responses_len = strlen(bad.responses);
    etl_error_clear(&err);
    assert_int_equal(t.ops->apply(t.state, &bad, &b, &err), ETL_ERR_INPUT);
    assert_non_null(strstr(err.msg, "root.seen"));
    assert_int_equal(b.count, 1);
    assert_int_equal(b.strings.len, len);
    etl_submission broken = {.id = "x",
                             .form_id = "broken",
                             .form_name = "F",
                             .user_full_name = "U",
                             .responses = "{}",
                             .responses_len = 2};
    assert_int_equal(t.ops->apply(t.state, &broken, &b, &err), ETL_ERR_INPUT);
    assert_non_null(strstr(err.msg, "unusable schema"));
    assert_int_equal(t.ops->apply(t.state, &broken, &b, &err), ETL_ERR_INPUT);
    /* One fetch per form: the unusable schema is cached as such too. */
    assert_int_equal(calls, 2);
    etl_submission invalid = {.id = "i",
                              .form_id = "f1",
                              .form_name = "F",
                              .user_full_name = "U",
                              .responses = "{\"note\": ",
                              .responses_len = 9};
    assert_int_equal(t.ops->apply(t.state, &invalid, &b, &err), ETL_ERR_INPUT);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    assert_int_equal(b.count, 1);
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
}

static void test_flatten_reject_reasons(void **state)
{
    (void)state;
    int calls = 0;
    etl_transformer_cfg cfg = {.form_cache = 4,
                               .max_depth = 4,
                               .max_bytes = 150,
                               .fetch = fetch_schema,
                               .fetch_ctx = &calls};
    etl_transformer t;
    etl_error err;
    assert_int_equal(etl_transformer_flatten_new(&t, &cfg, &err), ETL_OK);
    static const struct {
        const char *form, *responses, *reason, *words;
    } cases[] = {
        {"f1", "{\"note\": ", ETL_REJECT_INVALID_JSON, "not valid JSON"},
        {"f1", "[1]", ETL_REJECT_NOT_OBJECT, "an array, not an object"},
        {"f1", "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", ETL_REJECT_TOO_DEEP, "deeper than 4"},
        {"f1",
         "{\"note\": \"0123456789012345678901234567890123456789012345678901234567890123456789"
         "0123456789012345678901234567890123456789012345678901234567890123456789012345678"
         "9012345678901234567890123456789\"}",
         ETL_REJECT_TOO_LARGE, "more than the 150 allowed"},
        {"broken", "{}", ETL_REJECT_UNUSABLE_SCHEMA, "unusable schema"},
        {"nope", "{}", ETL_REJECT_UNKNOWN_FORM, "does not exist"},
        {"f1", "{\"note\": \"\\u0000\"}", ETL_REJECT_UNSTORABLE_STRING, "\\u0000"},
        {"f1", "{\"root\": {\"falls\": \"two\"}}", ETL_REJECT_TYPE_MISMATCH,
         "'root.falls' is a string, but the question's answerType is number"},
        {"f1", "{\"root\": {\"falls\": true}}", ETL_REJECT_TYPE_MISMATCH, "is a boolean"},
        {"f1", "{\"root\": {\"internet_access\": {\"tablet\": 1}}}", ETL_REJECT_TYPE_MISMATCH,
         "is a number, but the question's answerType is boolean"},
        {"f1", "{\"root\": {\"seen\": \"2026-02-30\"}}", ETL_REJECT_TYPE_MISMATCH,
         "\"2026-02-30\", not a date written YYYY-MM-DD"},
        {"f1", "{\"root\": {\"seen\": 20260201}}", ETL_REJECT_TYPE_MISMATCH, "is a number"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_event_batch b;
        etl_event_batch_init(&b, "now");
        etl_submission s = {.id = "x",
                            .form_id = cases[i].form,
                            .form_name = "F",
                            .user_full_name = "U",
                            .responses = cases[i].responses,
                            .responses_len = strlen(cases[i].responses)};
        etl_error_clear(&err);
        int rc = t.ops->apply(t.state, &s, &b, &err);
        if (rc != ETL_ERR_INPUT || !err.reason || strcmp(err.reason, cases[i].reason) != 0 ||
            !strstr(err.msg, cases[i].words))
            fail_msg("case %zu: rc %d reason %s message '%s'; expected %s with '%s'", i, rc,
                     err.reason ? err.reason : "(none)", err.msg, cases[i].reason, cases[i].words);
        assert_int_equal(b.count, 0);
        etl_event_batch_release(&b);
    }
    /* A user or form row that does not exist (the extractor says so with a NULL name). */
    etl_event_batch b;
    etl_event_batch_init(&b, "now");
    etl_submission dangling = {.id = "d", .form_id = "f1", .user_id = "u9", .responses = "{}"};
    dangling.responses_len = 2;
    dangling.user_full_name = "U";
    assert_int_equal(t.ops->apply(t.state, &dangling, &b, &err), ETL_ERR_INPUT);
    assert_string_equal(err.reason, ETL_REJECT_UNKNOWN_FORM);
    assert_non_null(strstr(err.msg, "form f1 does not exist"));
    dangling.form_name = "F";
    dangling.user_full_name = NULL;
    assert_int_equal(t.ops->apply(t.state, &dangling, &b, &err), ETL_ERR_INPUT);
    assert_string_equal(err.reason, ETL_REJECT_UNKNOWN_USER);
    assert_non_null(strstr(err.msg, "user u9 does not exist"));
    /* Text questions take any scalar; numbers keep their JSON text. */
    etl_submission s = {.id = "y",
                        .form_id = "f1",
                        .form_name = "F",
                        .user_full_name = "U",
                        .responses = "{\"note\": 42}"};
    s.responses_len = strlen(s.responses);
    assert_int_equal(t.ops->apply(t.state, &s, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    assert_string_equal(etl_event_value(&b, &b.events[0]), "42");
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
}

static void test_iso_dates(void **state)
{
    (void)state;
    static const char *const good[] = {"2026-01-31", "2024-02-29", "2000-02-29", "0001-12-31"};
    static const char *const bad[] = {"2026-02-29",
                                      "1900-02-29",
                                      "2026-13-01",
                                      "2026-00-10",
                                      "2026-04-31",
                                      "2026-1-01",
                                      "26-01-01",
                                      "2026/01/01",
                                      "2026-01-01T00:00:00",
                                      "0000-01-01",
                                      ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(etl_is_iso_date(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (etl_is_iso_date(bad[i], strlen(bad[i])))
            fail_msg("%s accepted as a date", bad[i]);
}

static void test_form_cache_lru(void **state)
{
    (void)state;
    etl_form_cache *c = NULL;
    assert_int_equal(etl_form_cache_new(&c, 2), ETL_OK);
    const etl_pathmap *m;
    const char *reason;
    etl_pathmap *a = NULL;
    etl_pathmap *b = NULL;
    etl_pathmap *d = NULL;
    etl_error err;
    assert_int_equal(etl_pathmap_build(&a, schema, strlen(schema), &err), ETL_OK);
    assert_int_equal(etl_pathmap_build(&b, schema, strlen(schema), &err), ETL_OK);
    assert_int_equal(etl_pathmap_build(&d, schema, strlen(schema), &err), ETL_OK);
    assert_false(etl_form_cache_get(c, "a", &m, &reason));
    assert_int_equal(etl_form_cache_put(c, "a", a, NULL), ETL_OK);
    assert_int_equal(etl_form_cache_put(c, "b", b, NULL), ETL_OK);
    assert_true(etl_form_cache_get(c, "a", &m, &reason)); /* a is now the most recent */
    assert_ptr_equal(m, a);
    assert_int_equal(etl_form_cache_put(c, "d", d, NULL), ETL_OK); /* evicts b */
    assert_int_equal(etl_form_cache_size(c), 2);
    assert_false(etl_form_cache_get(c, "b", &m, &reason));
    assert_true(etl_form_cache_get(c, "a", &m, &reason));
    assert_true(etl_form_cache_get(c, "d", &m, &reason));
    assert_ptr_equal(m, d);
    assert_int_equal(etl_form_cache_put(c, "e", NULL, "bad schema"), ETL_OK); /* evicts a */
    assert_true(etl_form_cache_get(c, "e", &m, &reason));
    assert_null(m);
    assert_string_equal(reason, "bad schema");
    assert_false(etl_form_cache_get(c, "a", &m, &reason));
    assert_int_equal(etl_form_cache_misses(c), 4);
    etl_form_cache_free(c);
}

static void test_copy_text_escaping(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"plain", "plain"},
        {"a\tb", "a\\tb"},
        {"line\nnext", "line\\nnext"},
        {"cr\rlf", "cr\\rlf"},
        {"back\\slash", "back\\\\slash"},
        {"\\N", "\\\\N"}, /* must not read back as NULL */
        {"\xc3\xbc\xf0\x9f\x99\x82 \xe6\xb8\xa9", "\xc3\xbc\xf0\x9f\x99\x82 \xe6\xb8\xa9"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        etl_buf b = ETL_BUF_INIT;
        etl_buf_puts(&b, "");
        assert_int_equal(etl_buf_put_copy_text(&b, cases[i][0], strlen(cases[i][0])), ETL_OK);
        assert_string_equal(b.data, cases[i][1]);
        etl_buf_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_number_integers_exact),
        cmocka_unit_test(test_format_number_shortest_round_trip),
        cmocka_unit_test(test_format_number_short_cut_agrees),
        cmocka_unit_test(test_pathmap_paths_types_tags),
        cmocka_unit_test(test_pathmap_unusable_schemas),
        cmocka_unit_test_setup_teardown(test_walk_preorder_scalars_before_children, walk_setup,
                                        walk_teardown),
        cmocka_unit_test_setup_teardown(test_walk_skip_rules, walk_setup, walk_teardown),
        cmocka_unit_test_setup_teardown(test_walk_values_as_text, walk_setup, walk_teardown),
        cmocka_unit_test_setup_teardown(test_walk_not_an_object, walk_setup, walk_teardown),
        cmocka_unit_test(test_flatten_stage_rejects_whole_submission),
        cmocka_unit_test(test_flatten_reject_reasons),
        cmocka_unit_test(test_iso_dates),
        cmocka_unit_test(test_form_cache_lru),
        cmocka_unit_test(test_copy_text_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
