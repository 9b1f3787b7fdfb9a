/*
 * Every processor against a real PostgreSQL started by the harness (or
 * $ETL_TEST_PGURI): on `small` and `medium` all processors must write
 * exactly the same rows, and those rows must match an independent oracle,
 * the transform written as one recursive SQL query over the source tables.
 * Also: generation is deterministic, and the hand-written fixtures load
 * as written by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/config.h"
#include "harness.h"

static etl_test_server server;

/* Every processor scenarios/processors.yaml ships, the first the reference; caller frees. */
static etl_config *shipped_processors(void)
{
    etl_config *cfg = NULL;
    etl_error err;
    etl_error_clear(&err);
    if (etl_config_load(&cfg, ETL_TEST_SCENARIOS, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(cfg->nprocessors >= 2);
    return cfg;
}

/* All columns but id and processed_on, in a stable order. */
static const char dump_sql[] =
    "SELECT form_id, form_name, user_id, user_full_name, submission_id, submission_created, "
    "schema_path, value, answer_type, tag FROM dwh.response_events "
    "ORDER BY submission_id, schema_path, value";

/*
 * The oracle: the same transform in SQL, written from the spec, not from the
 * C code.  It pairs every expected event with the loaded one and returns
 * what does not match; numbers are compared as numbers (the SQL side keeps
 * jsonb's text of them), everything else as text.
 */
static const char oracle_sql[] =
    "WITH RECURSIVE node(form_id, path, n) AS ("
    "  SELECT f.id, c->>'slug', c FROM app.forms f, jsonb_array_elements(f.schema->'children') c"
    "  WHERE c ? 'slug'"
    "  UNION ALL"
    "  SELECT node.form_id, node.path || '.' || (c->>'slug'), c"
    "  FROM node, jsonb_array_elements(node.n->'children') c WHERE c ? 'slug'),"
    " question AS (SELECT form_id, path, n->>'answerType' AS answer_type, n->>'tag' AS tag"
    "  FROM node WHERE n ? 'answerType'),"
    " answer(submission_id, form_id, path, v) AS ("
    "  SELECT s.id, s.form_id, e.key, e.value FROM app.submissions s,"
    "  jsonb_each(s.responses::jsonb) e WHERE json_typeof(s.responses) = 'object'"
    "  UNION ALL"
    "  SELECT a.submission_id, a.form_id, a.path || '.' || e.key, e.value"
    "  FROM answer a, jsonb_each(a.v) e WHERE jsonb_typeof(a.v) = 'object'),"
    " expected AS (SELECT a.submission_id, a.path, a.v, q.answer_type, q.tag,"
    "  a.form_id, f.name AS form_name, u.id AS user_id,"
    "  u.given_name || ' ' || u.family_name AS user_full_name, s.date_created"
    "  FROM answer a JOIN question q ON q.form_id = a.form_id AND q.path = a.path"
    "  JOIN app.submissions s ON s.id = a.submission_id JOIN app.forms f ON f.id = s.form_id"
    "  JOIN app.users u ON u.id = s.user_id"
    "  WHERE jsonb_typeof(a.v) IN ('string', 'number', 'boolean'))"
    " SELECT coalesce(x.submission_id, r.submission_id), coalesce(x.path, r.schema_path),"
    "  x.v #>> '{}', r.value FROM expected x FULL JOIN dwh.response_events r"
    "  ON r.submission_id = x.submission_id AND r.schema_path = x.path"
    " WHERE x.path IS NULL OR r.schema_path IS NULL"
    "  OR r.answer_type::text <> x.answer_type OR r.tag IS DISTINCT FROM x.tag"
    "  OR r.form_id <> x.form_id OR r.form_name <> x.form_name OR r.user_id <> x.user_id"
    "  OR r.user_full_name <> x.user_full_name OR r.submission_created <> x.date_created"
    "  OR CASE WHEN jsonb_typeof(x.v) = 'number' THEN r.value::numeric <> (x.v #>> '{}')::numeric"
    "     ELSE r.value <> x.v #>> '{}' END"
    " LIMIT 20";

static void etl_ok(const char *const *args, etl_run *run)
{
    etl_test_run(run, args);
    if (run->status != 0)
        fail_msg("etl %s %s %s: exit %d\n%s", args[2], args[3], args[4] ? args[4] : "", run->status,
                 run->err.data);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, "pgdata-pipeline");
    static const char *const scenarios[] = {"small", "medium", "fixtures"};
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = {"--db", server.conninfo, "generate", scenarios[i], "-q", NULL};
        etl_run run;
        etl_ok(args, &run);
        etl_run_release(&run);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    return 0;
}

/* Run processor p on scenario s; return the dump of what it loaded and its event count. */
static char *process_and_dump(const char *s, const char *p, long *events)
{
    const char *args[] = {"--db", server.conninfo, "process", s, p, "--json", NULL};
    etl_run run;
    etl_ok(args, &run);
    *events = (long)etl_test_json_number(run.out.data, "events");
    assert_int_equal((long)etl_test_json_number(run.out.data, "rejected"), 0);
    char db[128];
    snprintf(db, sizeof(db), "etl_run_%s", s);
    etl_db *conn = etl_test_connect(&server, db);
    char *dump = etl_test_query_text(conn, dump_sql);
    char *count = etl_test_query_text(conn, "SELECT count(*), count(DISTINCT processed_on) "
                                            "FROM dwh.response_events");
    char want[64];
    snprintf(want, sizeof(want), "%ld|%d\n", *events, *events ? 1 : 0);
    assert_string_equal(count, want); /* what it says it wrote, one processed_on per run */
    char *bad = etl_test_query_text(conn, oracle_sql);
    if (bad[0])
        fail_msg("%s on %s disagrees with the SQL oracle (submission|path|expected|loaded):\n%s", p,
                 s, bad);
    free(bad);
    free(count);
    etl_db_close(conn);
    etl_run_release(&run);
    return dump;
}

static void all_processors_agree(const char *scenario, long min_events)
{
    char *first = NULL;
    long first_events = 0;
    etl_config *cfg = shipped_processors();
    const etl_processor_cfg *processors = cfg->processors;
    for (size_t i = 0; i < cfg->nprocessors; i++) {
        long events = 0;
        char *dump = process_and_dump(scenario, processors[i].name, &events);
        if (i == 0) {
            first = dump;
            first_events = events;
            assert_true(events >= min_events);
            continue;
        }
        if (events != first_events || strcmp(dump, first) != 0)
            fail_msg("%s wrote different events than %s on %s (%ld vs %ld)", processors[i].name,
                     processors[0].name, scenario, events, first_events);
        free(dump);
    }
    free(first);
    etl_config_free(cfg);
}

static void test_processors_agree_small(void **state)
{
    (void)state;
    all_processors_agree("small", 200L); /* every submission answers well over 10 questions */
}

static void test_processors_agree_medium(void **state)
{
    (void)state;
    all_processors_agree("medium", 3000L); /* 300 submissions */
}

static void test_fixtures_load_as_written(void **state)
{
    (void)state;
    const char *args[] = {"--db", server.conninfo, "process", "fixtures", "copy", "--json", NULL};
    etl_run run;
    etl_test_run(&run, args);
    assert_int_equal(run.status, 5); /* finished, with rejected submissions */
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 4);
    assert_int_equal((long)etl_test_json_number(run.out.data, "rejected"), 2);
    assert_non_null(
        strstr(run.err.data, "rejected (not_object): responses is an array, not an object"));
    assert_non_null(
        strstr(run.err.data, "rejected (not_object): responses is a string, not an object"));
    etl_db *conn = etl_test_connect(&server, "etl_run_fixtures");
    char *got = etl_test_query_text(
        conn, "SELECT form_name, submission_created, schema_path, replace(replace(value, E'\\t', "
              "'<TAB>'), E'\\n', '<NL>'), answer_type, tag FROM dwh.response_events ORDER BY id");
    char *want = etl_test_read(ETL_TEST_DATA "/fixtures_expected.txt");
    if (strcmp(got, want) != 0)
        fail_msg("fixture events differ\n--- expected\n%s--- got\n%s", want, got);
    free(got);
    free(want);
    etl_db_close(conn);
    etl_run_release(&run);
}

/*
 * The contract every strategy must keep, whatever its sizes: batches of one,
 * sizes that do not divide the data, the largest INSERT PostgreSQL allows,
 * and a form cache of one entry thrashed by three forms.  Processors are
 * defined in a scenarios directory of the test's own.
 */
static void test_odd_sizes_agree(void **state)
{
    (void)state;
    char dir[4096];
    etl_test_scenarios_dir(
        "odd-processors",
        "processors:\n"
        "  one-by-one: {extractor: chunked, loader: chunked, extract_batch: 1, load_batch: 1,"
        " form_cache: 1}\n"
        "  odd: {extractor: chunked, loader: chunked, extract_batch: 7, load_batch: 13}\n"
        "  widest: {extractor: joined, loader: chunked, extract_batch: 1000, load_batch: 5957}\n"
        "  copy-small: {extractor: chunked, loader: copy, extract_batch: 3, form_cache: 1}\n"
        "  naive-tiny: {extractor: naive, loader: chunked, extract_batch: 2, load_batch: 2}\n",
        dir, sizeof(dir));
    long want_events = 0;
    char *want = process_and_dump("medium", "copy", &want_events);
    static const char *const odd[] = {"one-by-one", "odd", "widest", "copy-small", "naive-tiny"};
    for (size_t i = 0; i < 5; i++) {
        const char *args[] = {"--db",   server.conninfo, "--scenarios", dir, "process",
                              "medium", odd[i],          "--json",      NULL};
        etl_run run;
        etl_test_run(&run, args);
        if (run.status != 0)
            fail_msg("%s: exit %d\n%s", odd[i], run.status, run.err.data);
        assert_int_equal((long)etl_test_json_number(run.out.data, "events"), want_events);
        etl_db *conn = etl_test_connect(&server, "etl_run_medium");
        char *got = etl_test_query_text(conn, dump_sql);
        if (strcmp(got, want) != 0)
            fail_msg("processor %s wrote different events than copy", odd[i]);
        free(got);
        etl_db_close(conn);
        etl_run_release(&run);
    }
    free(want);
}

/* --jobs N splits the submissions into N disjoint parts: the same events as one job. */
static void test_jobs_agree(void **state)
{
    (void)state;
    long want_events = 0;
    char *want = process_and_dump("medium", "copy", &want_events);
    static const char *const cases[][2] = {{"copy", "3"}, {"chunked", "2"}, {"in-db", "4"}};
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = {"--db",   server.conninfo, "process", "medium", cases[i][0],
                              "--jobs", cases[i][1],     "--json",  NULL};
        etl_run run;
        etl_ok(args, &run);
        assert_int_equal((long)etl_test_json_number(run.out.data, "events"), want_events);
        etl_db *conn = etl_test_connect(&server, "etl_run_medium");
        char *got = etl_test_query_text(conn, dump_sql);
        if (strcmp(got, want) != 0)
            fail_msg("%s --jobs %s wrote different events than copy", cases[i][0], cases[i][1]);
        free(got);
        etl_db_close(conn);
        etl_run_release(&run);
    }
    free(want);
}

/*
 * -q keeps a scenario run's figures (its result) and drops notices; and
 * $ETL_TARGET, meant for in-place runs, does not get in a scenario run's way.
 */
static void test_quiet_scenario_run_prints_its_result(void **state)
{
    (void)state;
    const char *args[] = {"--db", server.conninfo, "-q", "process", "small", "copy", NULL};
    etl_run run;
    /* An exported $ETL_TARGET is for in-place runs: a scenario run ignores it. */
    setenv("ETL_TARGET", "host=/nonexistent-target", 1);
    etl_ok(args, &run);
    unsetenv("ETL_TARGET");
    assert_non_null(run.out.data);
    assert_non_null(strstr(run.out.data, "events "));
    assert_non_null(strstr(run.out.data, "throughput"));
    assert_string_equal(run.err.data ? run.err.data : "", "");
    etl_run_release(&run);
}

/*
 * etl bench runs every processor and both raw-copy references on small, all
 * of them load the events `etl process` loads, and none is left out.
 */
static void test_bench_agrees(void **state)
{
    (void)state;
    const char *args[] = {"--db", server.conninfo, "bench", "small", "--runs", "1", "--json", NULL};
    etl_run run;
    etl_ok(args, &run);
    long want = 0;
    free(process_and_dump("small", "copy", &want));
    assert_int_equal((long)etl_test_json_number(run.out.data, "events"), want);
    size_t entries = 0;
    for (const char *p = run.out.data; (p = strstr(p, "\"name\":")) != NULL; p++)
        entries++;
    etl_config *cfg = shipped_processors();
    assert_int_equal(entries, cfg->nprocessors + 2); /* every processor and the two references */
    etl_config_free(cfg);
    if (strstr(run.out.data, "\"runs\":0") || !strstr(run.out.data, "\"reference\":\"raw-copy-"))
        fail_msg("an entry did not run, or no reference:\n%s", run.out.data);
    etl_run_release(&run);
    /* --jobs 3: the references load the events in 3 parts at once, all of them (checksum). */
    const char *jobs[] = {"--db", server.conninfo, "bench", "small",  "copy", "--runs",
                          "1",    "--jobs",        "3",     "--json", NULL};
    etl_ok(jobs, &run);
    assert_int_equal((long)etl_test_json_number(run.out.data, "events"), want);
    etl_run_release(&run);
}

/* Two processors that load different events make bench fail, naming them. */
static void test_bench_fails_on_different_events(void **state)
{
    (void)state;
    char dir[4096];
    etl_test_scenarios_dir("bench-differ",
                           "processors:\n"
                           "  full: {extractor: chunked, loader: copy}\n"
                           "  shallow: {extractor: chunked, loader: copy, max_depth: 2}\n",
                           dir, sizeof(dir));
    const char *args[] = {"--db", server.conninfo, "--scenarios", dir, "bench", "small",
                          "full", "shallow",       "--runs",      "1", NULL};
    etl_run run;
    etl_test_run(&run, args);
    assert_int_equal(run.status, 1);
    if (!strstr(run.err.data, "shallow wrote different events than full"))
        fail_msg("stderr does not say which processor differs:\n%s", run.err.data);
    etl_run_release(&run);
}

static char *source_digest(void)
{
    etl_db *conn = etl_test_connect(&server, "etl_tpl_small");
    char *d = etl_test_query_text(conn, "SELECT md5(string_agg(t, ',' ORDER BY t)) FROM ("
                                        " SELECT f::text AS t FROM app.forms f UNION ALL"
                                        " SELECT u::text FROM app.users u UNION ALL"
                                        " SELECT s::text FROM app.submissions s) x");
    etl_db_close(conn);
    return d;
}

/* Wait until a run is loading: rows on their way into large-many-users' run database. */
static void wait_until_loading(void)
{
    bool loading = false;
    for (int i = 0; i < 500 && !loading; i++) {
        etl_test_sleep_ms(10);
        char *n = etl_test_query_on(&server, NULL,
                                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                    "'etl_run_large-many-users' AND query LIKE 'INSERT%'");
        loading = strcmp(n, "0\n") != 0;
        free(n);
    }
    assert_true(loading);
}

/*
 * SIGINT during a scenario run: the load is rolled back, one message, exit
 * 7, as in place (it used to die of the signal, 130, without a word).
 */
static void test_scenario_process_interrupted(void **state)
{
    (void)state;
    etl_test_generate(&server, "large-many-users");
    char err_path[4200];
    snprintf(err_path, sizeof(err_path), "%s/interrupted.err", ETL_TEST_WORKDIR);
    const char *args[] = {"--db", server.conninfo, "process", "large-many-users", "flush-single",
                          NULL};
    int pid = etl_test_spawn_to(args, err_path);
    /* Wait until it is loading: rows are on their way into the run database. */
    wait_until_loading();
    kill(pid, SIGINT);
    assert_int_equal(etl_test_wait(pid), 7);
    char *err = etl_test_read(err_path);
    assert_non_null(err);
    const char *nl = strchr(err, '\n');
    if (!strstr(err, "interrupted") || !nl || nl[1] != '\0' || strstr(err, "server closed"))
        fail_msg("an interrupted scenario run should say so in one line; stderr:\n%s", err);
    free(err);
    char *events = etl_test_query_on(&server, "etl_run_large-many-users",
                                     "SELECT count(*) FROM dwh.response_events");
    assert_string_equal(events, "0\n");
    free(events);

    /*
     * With --jobs, a SIGTERM to the parent alone (cron, systemd) reaches the
     * workers too: every part rolled back, exit 7, not "worker died" (1).
     */
    const char *jobs[] = {"--db",         server.conninfo, "process", "large-many-users",
                          "flush-single", "--jobs",        "2",       NULL};
    pid = etl_test_spawn_to(jobs, err_path);
    wait_until_loading();
    kill(pid, SIGTERM);
    int status = etl_test_wait(pid);
    err = etl_test_read(err_path);
    if (status != 7)
        fail_msg("--jobs 2 stopped by SIGTERM exited %d, expected 7; stderr:\n%s", status, err);
    free(err);
    events = etl_test_query_on(&server, "etl_run_large-many-users",
                               "SELECT count(*) FROM dwh.response_events");
    assert_string_equal(events, "0\n");
    free(events);
}

static void generate_small(const char *seed)
{
    const char *args[] = {"--db", server.conninfo, "generate", "small", "--seed", seed, "-q", NULL};
    etl_run run;
    etl_ok(args, &run);
    etl_run_release(&run);
}

static void test_generate_is_deterministic(void **state)
{
    (void)state;
    generate_small("7");
    char *a = source_digest();
    generate_small("7");
    char *b = source_digest();
    generate_small("8");
    char *c = source_digest();
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(strlen(a) > 30);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processors_agree_small),
        cmocka_unit_test(test_processors_agree_medium),
        cmocka_unit_test(test_fixtures_load_as_written),
        cmocka_unit_test(test_odd_sizes_agree),
        cmocka_unit_test(test_jobs_agree),
        cmocka_unit_test(test_bench_agrees),
        cmocka_unit_test(test_bench_fails_on_different_events),
        cmocka_unit_test(test_generate_is_deterministic),
        cmocka_unit_test(test_scenario_process_interrupted),
        cmocka_unit_test(test_quiet_scenario_run_prints_its_result),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
