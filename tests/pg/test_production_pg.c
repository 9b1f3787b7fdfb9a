/*
 * Production mode against a real PostgreSQL: exactly once across repeated
 * runs, late commits, concurrent runs, every kind of bad submission, the
 * reject limit, dry runs, SIGTERM, SIGKILL at 20 points of a run for every
 * processor, a server restart or crash mid-run, a failed release of a
 * loaded claim, and a separate target database.
 * "Identical" always means the same digest over every column of
 * dwh.response_events but id and processed_on, compared with a clean run.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define SERVER_NAME "pgdata-prod"
#define LOCK_SQL "SELECT pg_advisory_lock(7628140)"

static etl_test_server server;
static char *reference;      /* digest of a clean run on medium */
static char scenarios[4096]; /* processors.yaml with a small max_bytes, for too_large */

static const char digest_sql[] =
    "SELECT count(*), count(DISTINCT (submission_id, schema_path)), "
    "md5(coalesce(string_agg(concat_ws('|', form_id, form_name, user_id, user_full_name, "
    "submission_id, submission_created, schema_path, value, answer_type, tag), E'\\n' "
    "ORDER BY submission_id, schema_path), '')) FROM dwh.response_events";

static char *conninfo_for(const char *name)
{
    return etl_test_conninfo_for(&server, name);
}

static void exec_on(const char *dbname, const char *sql)
{
    etl_test_exec_on(&server, dbname, sql);
}

static char *query_on(const char *dbname, const char *sql)
{
    return etl_test_query_on(&server, dbname, sql);
}

/*
 * A fresh copy of the medium application database, initialised with change
 * capture or (no_capture) without; returns its conninfo.
 */
static char *fresh_app_mode(const char *name, bool no_capture)
{
    return etl_test_fresh_app(&server, name, "medium", no_capture);
}

static char *fresh_app(const char *name)
{
    return fresh_app_mode(name, false);
}

/* Run etl in place; returns the exit status, and the run (caller releases) if wanted. */
static int run_in_place(const char *ci, const char *processor, const char *extra, etl_run *out)
{
    const char *args[16] = {"--db", ci, "--scenarios", scenarios, "process", processor, "--json"};
    size_t n = 7;
    char extra_copy[512] = "";
    if (extra) {
        snprintf(extra_copy, sizeof(extra_copy), "%s", extra);
        char *save = NULL;
        for (char *tok = strtok_r(extra_copy, " ", &save); tok && n < 15;
             tok = strtok_r(NULL, " ", &save))
            args[n++] = tok;
    }
    args[n] = NULL;
    etl_run run;
    etl_test_run(&run, args);
    int status = run.status;
    if (out)
        *out = run;
    else
        etl_run_release(&run);
    return status;
}

static void assert_identical(const char *dbname, const char *what)
{
    char *d = query_on(dbname, digest_sql);
    if (strcmp(d, reference) != 0)
        fail_msg("%s: events differ from a clean run\n got      %s expected %s", what, d,
                 reference);
    free(d);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, SERVER_NAME);
    const char *g[] = {"--db", server.conninfo, "generate", "medium", "-q", NULL};
    etl_run run;
    etl_test_run(&run, g);
    if (run.status != 0)
        fail_msg("generate medium: %s", run.err.data);
    etl_run_release(&run);

    /* The shipped processors, and each again with a max_bytes small enough for too_large. */
    char *shipped = etl_test_read(ETL_TEST_SCENARIOS "/processors.yaml");
    etl_buf yaml = ETL_BUF_INIT;
    etl_buf_puts(&yaml, shipped);
    static const char *const small[][3] = {{"naive", "naive", "naive"},
                                           {"naive-joined", "joined", "naive"},
                                           {"flush-single", "chunked", "flush-single"},
                                           {"chunked", "chunked", "chunked"},
                                           {"copy", "chunked", "copy"}};
    for (size_t i = 0; i < 5; i++)
        etl_buf_printf(&yaml, "  %s-4k:\n    extractor: %s\n    loader: %s\n    max_bytes: 4096\n",
                       small[i][0], small[i][1], small[i][2]);
    etl_test_scenarios_dir("prod-scenarios", yaml.data, scenarios, sizeof(scenarios));
    etl_buf_release(&yaml);
    free(shipped);

    char *ci = fresh_app("prod_ref");
    assert_int_equal(run_in_place(ci, "copy", NULL, NULL), 0);
    reference = query_on("prod_ref", digest_sql);
    assert_non_null(strstr(reference, "|"));
    free(ci);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(reference);
    etl_test_server_stop(&server);
    return 0;
}

static void test_two_runs_load_everything_once(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_twice");
    etl_run run;
    assert_int_equal(run_in_place(ci, "chunked", "--batch-size 64", &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 300);
    assert_int_equal((long)etl_test_json_number(run.out.data, "batches"), 5);
    etl_run_release(&run);
    assert_identical("prod_twice", "first run");
    assert_int_equal(run_in_place(ci, "copy", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "events"), 0);
    etl_run_release(&run);
    assert_identical("prod_twice", "second run");
    char *runs = query_on("prod_twice", "SELECT status, submissions FROM dwh.etl_runs ORDER BY id");
    assert_string_equal(runs, "succeeded|300\nsucceeded|0\n");
    free(runs);
    free(ci);
}

/*
 * Regression: the cursor once anti-joined against dwh.etl_processed while the
 * run filled it, scanning the run's own (invisible) new rows on every probe:
 * quadratic.  Counted, not timed: the ledger must be read about once per run.
 */
static void test_first_run_reads_the_ledger_once(void **state)
{
    (void)state;
    char *ci = fresh_app_mode("prod_scan", true); /* the ledger scan: no change capture */
    assert_int_equal(run_in_place(ci, "chunked", "--batch-size 20", NULL), 0);
    assert_identical("prod_scan", "first run");
    /* etl's backends have exited, which flushes their statistics. */
    char *n = query_on("prod_scan", "SELECT seq_scan FROM pg_stat_user_tables "
                                    "WHERE relname = 'etl_processed'");
    long scans = strtol(n, NULL, 10);
    free(n);
    /* Fixed: one or two scans (backlog, cursor).  Broken: two per submission (601 here). */
    if (scans > 3)
        fail_msg("the run scanned the ledger %ld times for 300 submissions: the extractor "
                 "probes the growing ledger",
                 scans);
    free(ci);
}

static void test_late_commit_is_picked_up_once(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_late");
    /* A submission created "a year ago" whose transaction commits only after a run. */
    etl_db *late = etl_test_connect(&server, "prod_late");
    free(etl_test_query_text(late, "BEGIN"));
    char *id = etl_test_query_text(
        late, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
              "responses, date_created - interval '1 year' FROM app.submissions "
              "ORDER BY id LIMIT 1 RETURNING id");
    id[strcspn(id, "\n")] = '\0';
    assert_int_equal(run_in_place(ci, "copy", NULL, NULL), 0);
    assert_identical("prod_late", "run while the late submission was uncommitted");
    free(etl_test_query_text(late, "COMMIT"));
    etl_db_close(late);
    etl_run run;
    assert_int_equal(run_in_place(ci, "copy", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 1);
    etl_run_release(&run);
    assert_int_equal(run_in_place(ci, "copy", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 0);
    etl_run_release(&run);
    /* Loaded once, with everything else once too. */
    char sql[1024];
    char *check = query_on("prod_late", "SELECT count(*) = count(DISTINCT (submission_id, "
                                        "schema_path)), count(DISTINCT submission_id) FROM "
                                        "dwh.response_events");
    assert_string_equal(check, "t|301\n");
    free(check);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) > 0 FROM dwh.response_events WHERE submission_id = '%s'", id);
    check = query_on("prod_late", sql);
    assert_string_equal(check, "t\n");
    free(check);
    free(id);
    free(ci);
}

/* Without change capture, runs take turns: one lock per target. */
static void test_concurrent_runs(void **state)
{
    (void)state;
    char *ci = fresh_app_mode("prod_lock", true);
    /* Someone holds the lock: a run exits at once with the lock code. */
    etl_db *holder = etl_test_connect(&server, "prod_lock");
    free(etl_test_query_text(holder, LOCK_SQL));
    etl_run run;
    assert_int_equal(run_in_place(ci, "copy", NULL, &run), 6);
    assert_non_null(strstr(run.err.data, "another etl run is in progress"));
    etl_run_release(&run);
    const char *quiet[] = {"--db", ci, "-q", "process", "copy", NULL};
    etl_test_run(&run, quiet);
    assert_int_equal(run.status, 6);
    assert_string_equal(run.err.data, ""); /* silent under --quiet */
    assert_string_equal(run.out.data, "");
    etl_run_release(&run);
    etl_db_close(holder);
    /* Two real runs at once: one works, the other gets the lock code. */
    const char *slow[] = {"--db", ci, "-q", "process", "naive", "--batch-size", "10", NULL};
    int a = etl_test_spawn(slow);
    etl_test_sleep_ms(150);
    int b = etl_test_spawn(slow);
    int sa = etl_test_wait(a);
    int sb = etl_test_wait(b);
    if (!((sa == 0 && sb == 6) || (sa == 6 && sb == 0)))
        fail_msg("two concurrent runs exited %d and %d; expected 0 and 6", sa, sb);
    assert_identical("prod_lock", "after two concurrent runs");
    free(ci);
}

static void bad_submissions(const char *processor)
{
    char *ci = fresh_app("prod_bad");
    exec_on("prod_bad",
            "INSERT INTO app.forms (id, name, description, schema) VALUES "
            "('00000000-0000-4000-8000-000000000001', 'Broken form', 'x', '{\"children\": 5}');"
            "CREATE TEMP TABLE bad (reason text, responses text, form text);"
            "INSERT INTO bad VALUES"
            " ('not_object', '[1, 2]', 'Daily check-in'),"
            " ('not_object', '\"just text\"', 'Daily check-in'),"
            " ('type_mismatch', '{\"wellbeing\": {\"sleep_hours\": \"eight\"}}', 'Daily check-in'),"
            " ('type_mismatch', '{\"wellbeing\": {\"pain\": \"yes\"}}', 'Daily check-in'),"
            " ('type_mismatch', '{\"check_in_date\": \"2026-02-30\"}', 'Daily check-in'),"
            " ('unstorable_string', '{\"notes\": \"a\\u0000b\"}', 'Daily check-in'),"
            " ('unstorable_string', '{\"notes\": \"\\udc00\"}', 'Daily check-in'),"
            " ('unusable_schema', '{\"a\": 1}', 'Broken form'),"
            " ('too_deep', repeat('{\"a\":', 100) || '1' || repeat('}', 100), 'Daily check-in'),"
            " ('too_large', '{\"notes\": \"' || repeat('x', 5000) || '\"}', 'Daily check-in');"
            "INSERT INTO app.submissions (id, form_id, user_id, responses, date_created)"
            " SELECT md5(b.reason || b.responses)::uuid, f.id,"
            " (SELECT id FROM app.users ORDER BY id LIMIT 1), b.responses::json, now()"
            " FROM bad b JOIN app.forms f ON f.name = b.form");
    etl_run run;
    char name[64];
    snprintf(name, sizeof(name), "%s-4k", processor);
    assert_int_equal(run_in_place(ci, name, "--batch-size 50", &run), 5);
    assert_int_equal((long)etl_test_json_number(run.out.data, "rejected"), 10);
    etl_run_release(&run);
    /* Each landed in rejects with the reason it was made for, and the good ones loaded. */
    char *wrong = query_on(
        "prod_bad", "SELECT count(*) FROM dwh.etl_rejects r JOIN app.submissions s ON "
                    "s.id = r.submission_id WHERE md5(r.reason || s.responses::text)::uuid <> "
                    "s.id");
    assert_string_equal(wrong, "0\n");
    free(wrong);
    char *reasons = query_on("prod_bad", "SELECT reason, count(*) FROM dwh.etl_rejects GROUP "
                                         "BY 1 ORDER BY 1");
    assert_string_equal(reasons, "not_object|2\ntoo_deep|1\ntoo_large|1\ntype_mismatch|3\n"
                                 "unstorable_string|2\nunusable_schema|1\n");
    free(reasons);
    assert_identical("prod_bad", processor);
    /* Every submission ends up in events or rejects: none disappears. */
    char *all = query_on("prod_bad",
                         "SELECT (SELECT count(*) FROM app.submissions) = (SELECT count(*) FROM "
                         "dwh.etl_processed), (SELECT count(*) FROM app.submissions s WHERE NOT "
                         "EXISTS (SELECT 1 FROM dwh.response_events e WHERE e.submission_id = "
                         "s.id) AND NOT EXISTS (SELECT 1 FROM dwh.etl_rejects r WHERE "
                         "r.submission_id = s.id) AND s.responses::text NOT LIKE '{}%')");
    assert_string_equal(all, "t|0\n");
    free(all);
    const char *st[] = {"--db", ci, "status", "--json", NULL};
    etl_test_run(&run, st);
    assert_int_equal(run.status, 0);
    assert_non_null(strstr(run.out.data, "\"backlog\":0"));
    assert_non_null(strstr(run.out.data, "\"type_mismatch\":3"));
    assert_non_null(strstr(run.out.data, "\"status\":\"rejects\""));
    etl_run_release(&run);
    free(ci);
}

static void test_bad_submissions_are_rejected_with_reasons(void **state)
{
    (void)state;
    static const char *const procs[] = {"naive", "naive-joined", "flush-single", "chunked", "copy"};
    for (size_t i = 0; i < 5; i++)
        bad_submissions(procs[i]);
}

/*
 * --max-rejects stops the run at the end of the batch in which the limit is
 * passed: that batch is committed whole, rejects recorded, so the next run
 * moves on instead of stalling on the same rows for ever; 0 means "stop
 * after the first".  With and without change capture.
 */
static void reject_limit(bool no_capture)
{
    const char *db = no_capture ? "prod_limit_nc" : "prod_limit";
    char *ci = fresh_app_mode(db, no_capture);
    exec_on(db, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                "user_id, '[1]', date_created FROM app.submissions LIMIT 3");
    etl_run run;
    assert_int_equal(run_in_place(ci, "copy", "--dry-run", &run), 5);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 303);
    etl_run_release(&run);
    char *empty = query_on(db, "SELECT (SELECT count(*) FROM dwh.response_events), "
                               "(SELECT count(*) FROM dwh.etl_processed), (SELECT "
                               "count(*) FROM dwh.etl_rejects), (SELECT count(*) FROM "
                               "dwh.etl_runs)");
    assert_string_equal(empty, "0|0|0|0\n");
    free(empty);

    /* Past the limit: exit 8, and the batch it happened in is loaded and recorded whole. */
    assert_int_equal(run_in_place(ci, "copy", "--max-rejects 2", &run), 8);
    assert_non_null(strstr(run.err.data, "more than 2 submissions rejected"));
    assert_non_null(strstr(run.err.data, "3 not_object"));
    assert_non_null(strstr(run.out.data, "\"error\":\""));
    etl_run_release(&run);
    char *st = query_on(db, "SELECT status, rejects, (SELECT string_agg(reason, ',') FROM "
                            "dwh.etl_rejects) FROM dwh.etl_runs");
    assert_string_equal(st, "too_many_rejects|3|not_object,not_object,not_object\n");
    free(st);
    assert_identical(db, "after a run stopped by --max-rejects");

    /* The next run, same limit, moves on: nothing is left to stall on. */
    assert_int_equal(run_in_place(ci, "copy", "--max-rejects 2", &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 0);
    etl_run_release(&run);

    /* 0: the first reject stops the run, and is recorded; a timeout of 0 is the server's. */
    exec_on(db, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
                "'\"just text\"', now() FROM app.submissions LIMIT 1");
    assert_int_equal(run_in_place(ci, "copy", "--max-rejects 0 --statement-timeout 0", &run), 8);
    assert_non_null(strstr(run.err.data, "more than 0 submissions rejected"));
    etl_run_release(&run);
    char *n = query_on(db, "SELECT count(*) FROM dwh.etl_rejects");
    assert_string_equal(n, "4\n");
    free(n);
    assert_int_equal(run_in_place(ci, "copy", "--max-rejects 0", NULL), 0);
    assert_identical(db, "after --max-rejects 0");

    /* More rejects than are listed: the count of the rest is said once, not twice. */
    exec_on(db, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
                "'[2]', now() FROM app.submissions LIMIT 12");
    assert_int_equal(run_in_place(ci, "copy", "--max-rejects 0", &run), 8);
    const char *more = strstr(run.err.data, "... and 2 more rejected submissions");
    if (!more || strstr(more + 1, "... and 2 more"))
        fail_msg("the hidden rejects should be counted once:\n%s", run.err.data);
    etl_run_release(&run);
    free(ci);
}

static void test_reject_limit_and_dry_run(void **state)
{
    (void)state;
    reject_limit(false);
    reject_limit(true);
}

/*
 * The queue rows claimed, from -v's "claimed N queued changes" lines: their
 * sum, their count and the largest claim.
 */
static void claims_logged(const char *log, size_t *sum, size_t *count, size_t *largest)
{
    *sum = *count = *largest = 0;
    static const char said[] = "claimed ";
    for (const char *at = strstr(log, said); at; at = strstr(at + 1, said)) {
        size_t n = (size_t)strtoull(at + strlen(said), NULL, 10);
        *sum += n;
        (*count)++;
        *largest = n > *largest ? n : *largest;
    }
}

/*
 * In place, --jobs N: N runs at once share the change queue, and together
 * load what one run would.  Their claims shrink as the queue empties, so
 * that no worker is left alone with a last full batch: of 300 queued, two
 * workers claim at most a quarter at a time (not --batch-size 200, which
 * would leave the last 100 to one of them).  A dry run with --jobs is
 * refused.  The summary gives the workers'
 * summed peak memory and the largest one's.  Without capture runs go one at
 * a time: refused.
 */
static void test_in_place_jobs(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_jobs");
    etl_run run;
    /* A dry run gives its claims back as it goes: other workers would count them again. */
    assert_int_equal(run_in_place(ci, "copy", "--jobs 2 --dry-run", &run), 2);
    assert_non_null(strstr(run.err.data, "--dry-run counts the work of one run: leave out --jobs"));
    etl_run_release(&run);
    assert_int_equal(run_in_place(ci, "copy", "--jobs 2 --batch-size 200 -v", &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 300);
    assert_int_equal((long)etl_test_json_number(run.out.data, "jobs"), 2);
    size_t sum = 0;
    size_t count = 0;
    size_t largest = 0;
    claims_logged(run.err.data, &sum, &count, &largest);
    if (sum != 300 || largest > 75)
        fail_msg("300 queued, two workers: claims of at most 75 expected, got %zu claims of "
                 "%zu rows in all, the largest %zu:\n%s",
                 count, sum, largest, run.err.data);
    /* Memory: the largest worker's peak is there, below the workers' summed. */
    double one = etl_test_json_number(run.out.data, "worker_peak_rss_kib");
    double both = etl_test_json_number(run.out.data, "peak_rss_kib");
    if (!(one > 0 && one < both))
        fail_msg("expected a worker's peak below the two workers' summed: %s", run.out.data);
    etl_run_release(&run);
    assert_identical("prod_jobs", "two workers sharing the queue");
    char *runs = query_on("prod_jobs", "SELECT count(*), sum(submissions), min(status), "
                                       "max(status) FROM dwh.etl_runs");
    assert_string_equal(runs, "2|300|succeeded|succeeded\n");
    free(runs);
    free(ci);
    ci = fresh_app_mode("prod_jobs_nc", true);
    assert_int_equal(run_in_place(ci, "copy", "--jobs 2", &run), 2);
    assert_non_null(strstr(run.err.data, "--jobs needs change capture"));
    etl_run_release(&run);
    free(ci);
}

/* -q: silent on success; a run with rejects says so in one line (cron mails it). */
static void test_quiet_reports_rejects_in_one_line(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_quiet");
    const char *args[] = {"--db", ci, "-q", "process", "copy", NULL};
    etl_run run;
    etl_test_run(&run, args);
    assert_int_equal(run.status, 0);
    assert_string_equal(run.out.data ? run.out.data : "", "");
    assert_string_equal(run.err.data ? run.err.data : "", "");
    etl_run_release(&run);
    exec_on("prod_quiet", "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                          "user_id, '[1]', date_created FROM app.submissions LIMIT 2");
    etl_test_run(&run, args);
    assert_int_equal(run.status, 5);
    assert_string_equal(run.out.data ? run.out.data : "", "");
    assert_non_null(run.err.data);
    const char *nl = strchr(run.err.data, '\n');
    if (!nl || nl[1] != '\0')
        fail_msg("-q with rejects: expected one line on stderr, got:\n%s", run.err.data);
    assert_non_null(strstr(run.err.data, "2 of 2 submissions rejected (2 not_object)"));
    assert_non_null(strstr(run.err.data, "dwh.etl_rejects"));
    etl_run_release(&run);
    free(ci);
}

static void test_sigterm_rolls_back_the_open_batch(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_term");
    const char *args[] = {"--db", ci, "-q", "process", "naive", "--batch-size", "10", NULL};
    int pid = etl_test_spawn(args);
    etl_test_sleep_ms(400);
    kill(pid, SIGTERM);
    assert_int_equal(etl_test_wait(pid), 7);
    char *st = query_on("prod_term", "SELECT status, submissions % 10, submissions < 300, "
                                     "(SELECT count(*) FROM dwh.etl_processed) = submissions "
                                     "FROM dwh.etl_runs");
    assert_string_equal(st, "interrupted|0|t|t\n");
    free(st);
    assert_int_equal(run_in_place(ci, "copy", NULL, NULL), 0);
    assert_identical("prod_term", "rerun after SIGTERM");
    free(ci);
}

/*
 * For every processor: time a clean run, then kill runs with SIGKILL at points
 * spread across that time until 20 kills have landed mid-run (a kill that
 * comes after the run finished does not count), each followed by a rerun;
 * every outcome must equal a clean run.
 */
static void test_sigkill_anywhere_then_rerun(void **state)
{
    (void)state;
    static const char *const procs[] = {"naive", "naive-joined", "flush-single", "chunked", "copy"};
    const int wanted = 20;
    const int most = 40;
    for (size_t p = 0; p < 5; p++) {
        char *ci = fresh_app("prod_kill");
        const char *args[] = {"--db", ci, "-q", "process", procs[p], "--batch-size", "10", NULL};
        long long t0 = etl_test_now_ms();
        int pid = etl_test_spawn(args);
        assert_int_equal(etl_test_wait(pid), 0);
        long long full = etl_test_now_ms() - t0;
        assert_identical("prod_kill", procs[p]);
        free(ci);
        int killed = 0;
        int partial = 0;
        int tries = 0;
        for (; killed < wanted && tries < most; tries++) {
            /* Points spread over 5%..95% of a clean run, visited in a shuffled order. */
            long delay = (long)(full * (5 + (tries * 37 % wanted) * 90 / (wanted - 1)) / 100);
            ci = fresh_app("prod_kill");
            args[1] = ci;
            pid = etl_test_spawn(args);
            etl_test_sleep_ms(delay);
            kill(pid, SIGKILL);
            int status = etl_test_wait(pid);
            char *done = query_on("prod_kill", "SELECT count(*) FROM dwh.etl_processed");
            long n = strtol(done, NULL, 10);
            free(done);
            /* A kill counts when it left work undone (it may land after the last commit). */
            int mid_run = status == 128 + SIGKILL && n < 300;
            killed += mid_run;
            partial += mid_run && n > 0;
            etl_run rerun;
            etl_test_run(&rerun, args);
            if (rerun.status != 0)
                fail_msg("%s: rerun after a kill at %ld ms exited %d: %s", procs[p], delay,
                         rerun.status, rerun.err.data);
            etl_run_release(&rerun);
            assert_identical("prod_kill", procs[p]);
            char *runs = query_on("prod_kill", "SELECT string_agg(status, ',' ORDER BY id) FROM "
                                               "dwh.etl_runs");
            /* Killed mid-run after it recorded itself: the rerun marked it abandoned. */
            if (mid_run && strchr(runs, ',') && strncmp(runs, "abandoned,", 10) != 0)
                fail_msg("%s: the killed run is not marked abandoned: %s", procs[p], runs);
            free(runs);
            free(ci);
        }
        printf("sigkill %-12s clean run %lld ms; %d kills landed mid-run in %d tries, %d of them "
               "after part of the backlog was committed; every rerun identical\n",
               procs[p], full, killed, tries, partial);
        if (killed < wanted)
            fail_msg("%s: only %d of %d tries killed a run before it finished", procs[p], killed,
                     tries);
        assert_true(partial >= wanted / 4);
    }
}

/*
 * The server goes away mid-run, after some batches committed: the run fails
 * loudly, and the next run's result is a fresh run's.  A restart is a fast
 * shutdown; a crash is an immediate one, which loses the WAL not written
 * yet (the last batches may be lost with it): a batch's commit and its
 * claim's release wait for no disk, and crash recovery keeps what was
 * written first, so never a release without its batch.  On a server not
 * our own, the run's connections are cut instead.
 */
static void server_gone_mid_run(const char *db, bool crash)
{
    char *ci = fresh_app(db);
    const char *args[] = {"--db", ci, "-q", "process", "naive", "--batch-size", "10", NULL};
    int pid = etl_test_spawn(args);
    long committed = 0;
    for (int i = 0; i < 500 && committed < 30; i++) { /* three batches of 10 */
        etl_test_sleep_ms(20);
        char *n = query_on(db, "SELECT count(*) FROM dwh.etl_processed");
        committed = strtol(n, NULL, 10);
        free(n);
    }
    if (committed < 30)
        fail_msg("the run committed %ld submissions in 10 s, expected 30 or more", committed);
    if (server.server && crash) {
        etl_test_server_crash(&server, SERVER_NAME);
    } else if (server.server) {
        etl_test_server_restart(&server, SERVER_NAME);
    } else {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' "
                 "AND pid <> pg_backend_pid()",
                 db);
        exec_on(NULL, sql);
    }
    int status = etl_test_wait(pid);
    if (status != 1)
        fail_msg("run during a server %s exited %d; expected a runtime failure (1)",
                 crash ? "crash" : "restart", status);
    assert_int_equal(run_in_place(ci, "copy", NULL, NULL), 0);
    assert_identical(db, crash ? "rerun after a server crash" : "rerun after a server restart");
    free(ci);
}

static void test_server_restart_mid_run(void **state)
{
    (void)state;
    server_gone_mid_run("prod_restart", false);
}

static void test_server_crash_mid_run(void **state)
{
    (void)state;
    server_gone_mid_run("prod_crash", true);
}

/*
 * A claim's release (the DELETE of its queue rows, sent without waiting
 * while the next claim loads) fails after its batch committed: a trigger
 * refuses it, as a lost claim connection would.  The run must fail loudly
 * (exit 1, saying what happened), and the next run redo those submissions,
 * leaving what a fresh run leaves.  In claims of 100 the failure is seen
 * when the first claim connection is used again, with two claims loaded;
 * in one claim of 300, by the collection at the end of the run.
 */
static void refused_release(const char *batch_size, const char *loaded)
{
    char *ci = fresh_app("prod_release");
    exec_on("prod_release", "CREATE FUNCTION etl_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$BEGIN RAISE EXCEPTION 'release refused by the test'; END$$; "
                            "CREATE TRIGGER refuse BEFORE DELETE ON etl.queue FOR EACH ROW "
                            "WHEN (OLD.kind = 's') EXECUTE FUNCTION etl_test_refuse()");
    char args[64];
    snprintf(args, sizeof(args), "--batch-size %s", batch_size);
    etl_run run;
    int status = run_in_place(ci, "copy", args, &run);
    if (status != 1 || !strstr(run.err.data, "its queue rows could not be removed") ||
        !strstr(run.err.data, "release refused by the test"))
        fail_msg("%s: a refused release: expected exit 1 naming it, got %d: %s", args, status,
                 run.err.data);
    etl_run_release(&run);
    char *left =
        query_on("prod_release", "SELECT (SELECT count(*) FROM etl.queue), (SELECT count(*) FROM "
                                 "dwh.etl_processed), (SELECT status FROM dwh.etl_runs)");
    char want[64];
    snprintf(want, sizeof(want), "300|%s|failed\n", loaded); /* loaded, and still queued */
    assert_string_equal(left, want);
    free(left);
    exec_on("prod_release", "DROP TRIGGER refuse ON etl.queue");
    assert_int_equal(run_in_place(ci, "copy", args, NULL), 0);
    assert_identical("prod_release", "rerun after a refused release");
    left = query_on("prod_release", "SELECT count(*) FROM etl.queue");
    assert_string_equal(left, "0\n");
    free(left);
    free(ci);
}

static void test_failed_release_fails_the_run(void **state)
{
    (void)state;
    refused_release("100", "200");
    refused_release("300", "300");
}

/*
 * Tuples of app.submissions read in db so far, once the backends of the
 * runs before have gone (a backend reports its reads as it exits).
 */
static long submissions_read(const char *db)
{
    if (!etl_test_sessions_gone(&server, db))
        fail_msg("sessions of %s still open 5 s after the run", db);
    const char *sql = "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables "
                      "WHERE relid = 'app.submissions'::regclass";
    char last[64] = "";
    for (int i = 0; i < 100; i++) { /* two equal readings in a row */
        char *now = query_on(db, sql);
        bool settled = strcmp(now, last) == 0;
        snprintf(last, sizeof(last), "%s", now);
        free(now);
        if (settled)
            return strtol(last, NULL, 10);
        etl_test_sleep_ms(50);
    }
    fail_msg("the reads of app.submissions in %s did not settle: %s", db, last);
    return -1;
}

/*
 * A claim's submissions are found by key, so what a run reads of the table
 * grows with what it claims, not with the table: medium's 300 in claims of
 * 20 read each about once (a scan per claim would read 15 x 300).
 */
static void test_claims_read_by_key(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_bykey");
    long before = submissions_read("prod_bykey");
    assert_int_equal(run_in_place(ci, "copy", "--batch-size 20", NULL), 0);
    long rows = submissions_read("prod_bykey") - before;
    printf("claims of 20 of 300 submissions read %ld rows of app.submissions\n", rows);
    if (rows > 600) /* twice the table */
        fail_msg("claims of 20 of 300 submissions read %ld rows of app.submissions; expected "
                 "about 300",
                 rows);
    assert_identical("prod_bykey", "claims of 20");
    free(ci);
}

static void test_separate_target_database(void **state)
{
    (void)state;
    char *ci = fresh_app("prod_src");
    exec_on(NULL, "DROP DATABASE IF EXISTS prod_wh WITH (FORCE)");
    exec_on(NULL, "CREATE DATABASE prod_wh");
    char *wh = conninfo_for("prod_wh");
    const char *init[] = {"--db", ci, "init", "--target", wh, NULL};
    etl_run run;
    etl_test_run(&run, init);
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
    /* The conninfo has spaces: pass it as one argument. */
    const char *args[] = {"--db",     ci, "process",      "chunked", "--json",
                          "--target", wh, "--batch-size", "77",      NULL};
    etl_test_run(&run, args);
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
    assert_identical("prod_wh", "load into another database");
    exec_on("prod_src", "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
                        "responses, date_created - interval '1 day' FROM app.submissions LIMIT 2");
    etl_test_run(&run, args);
    assert_int_equal(run.status, 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 2);
    etl_run_release(&run);
    char *n =
        query_on("prod_wh", "SELECT count(DISTINCT submission_id), count(*) = count("
                            "DISTINCT (submission_id, schema_path)) FROM dwh.response_events");
    assert_string_equal(n, "302|t\n");
    free(n);
    char *src_tables = query_on("prod_src", "SELECT count(*) FROM dwh.etl_runs");
    assert_string_equal(src_tables, "0\n"); /* bookkeeping went to the target only */
    free(src_tables);
    free(wh);
    free(ci);
}

static void test_init_and_process_errors(void **state)
{
    (void)state;
    exec_on(NULL, "DROP DATABASE IF EXISTS prod_empty WITH (FORCE)");
    exec_on(NULL, "CREATE DATABASE prod_empty");
    char *ci = conninfo_for("prod_empty");
    const char *init[] = {"--db", ci, "init", NULL};
    etl_run run;
    etl_test_run(&run, init);
    assert_int_equal(run.status, 2);
    assert_non_null(strstr(run.err.data, "no app.submissions table"));
    etl_run_release(&run);
    exec_on("prod_empty", "CREATE SCHEMA app; CREATE TABLE app.submissions (id uuid, form_id "
                          "uuid, user_id uuid, responses json, date_created timestamptz)");
    assert_int_equal(run_in_place(ci, "copy", NULL, &run), 2);
    assert_non_null(strstr(run.err.data, "run `etl init --db CONNINFO`"));
    etl_run_release(&run);
    etl_test_run(&run, init);
    assert_int_equal(run.status, 2); /* capture needs the form and user tables too */
    assert_non_null(strstr(run.err.data, "change capture needs app.forms and app.users"));
    etl_run_release(&run);
    exec_on("prod_empty", "CREATE TABLE app.forms (id uuid, name text, schema jsonb); "
                          "CREATE TABLE app.users (id uuid, given_name text, family_name text)");
    etl_test_run(&run, init);
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
    etl_test_run(&run, init); /* again: idempotent */
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
    assert_int_equal(run_in_place(ci, "copy", "--batch-size 0", &run), 2);
    assert_non_null(strstr(run.err.data, "--batch-size: '0' is not a whole number"));
    etl_run_release(&run);
    /* A runner without per-batch hooks cannot keep the ledger: refused before any run starts. */
    static const char *const jobs[] = {NULL, "--jobs 2"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(run_in_place(ci, "in-db", jobs[i], &run), 2);
        if (!strstr(run.err.data, "processor in-db runs in scenario mode only"))
            fail_msg("in-db in place%s: %s", jobs[i] ? " with --jobs 2" : "", run.err.data);
        etl_run_release(&run);
    }
    char *runs = query_on("prod_empty", "SELECT count(*) FROM dwh.etl_runs");
    assert_string_equal(runs, "0\n"); /* no run recorded: none started */
    free(runs);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_runs_load_everything_once),
        cmocka_unit_test(test_first_run_reads_the_ledger_once),
        cmocka_unit_test(test_late_commit_is_picked_up_once),
        cmocka_unit_test(test_concurrent_runs),
        cmocka_unit_test(test_bad_submissions_are_rejected_with_reasons),
        cmocka_unit_test(test_reject_limit_and_dry_run),
        cmocka_unit_test(test_quiet_reports_rejects_in_one_line),
        cmocka_unit_test(test_in_place_jobs),
        cmocka_unit_test(test_sigterm_rolls_back_the_open_batch),
        cmocka_unit_test(test_failed_release_fails_the_run),
        cmocka_unit_test(test_claims_read_by_key),
        cmocka_unit_test(test_separate_target_database),
        cmocka_unit_test(test_init_and_process_errors),
        cmocka_unit_test(test_server_restart_mid_run),
        cmocka_unit_test(test_server_crash_mid_run),
        cmocka_unit_test(test_sigkill_anywhere_then_rerun),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
