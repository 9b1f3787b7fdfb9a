/*
 * `etl status` and `etl prune` against a real PostgreSQL: the --check exit
 * codes a monitoring system reads, a killed run seen as abandoned without a
 * next run, idle runs collapsed onto one row (also when they end at once),
 * the history filters, the JSON, and pruning.  Small databases (the `small`
 * scenario, 20 submissions): every test runs the real binary a few times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define SERVER_NAME "pgdata-status"
/* The advisory lock every live run holds on its own id (production.c's RUN_LOCK). */
#define RUN_LOCK_SQL                                                                               \
    "SELECT pg_advisory_lock(7628141, (max(id) % 2147483647)::int) FROM dwh.etl_runs"

static etl_test_server server;

static char *query_on(const char *dbname, const char *sql)
{
    return etl_test_query_on(&server, dbname, sql);
}

static void exec_on(const char *dbname, const char *sql)
{
    etl_test_exec_on(&server, dbname, sql);
}

/* A fresh copy of the small application database, initialised with change capture. */
static char *fresh_app(const char *name)
{
    return etl_test_fresh_app(&server, name, "small", false);
}

/* etl --db ci ARGS... (NULL-terminated); the exit status; run released unless out. */
/* Ends the argument lists of etl_on and check_is: a typed null pointer, as varargs need. */
#define ARGS_END ((const char *)NULL)

static int etl_on(const char *ci, etl_run *out, ...)
{
    const char *args[32] = {"--db", ci};
    size_t n = 2;
    va_list ap;
    va_start(ap, out);
    for (const char *a = va_arg(ap, const char *); a && n < 31; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
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

/* The run's stdout must hold want; shows both streams if not. */
static void assert_out_has(const etl_run *run, const char *want)
{
    if (!strstr(run->out.data, want))
        fail_msg("stdout lacks '%s'\nstdout:\n%s\nstderr:\n%s", want, run->out.data, run->err.data);
}

static void assert_err_has(const etl_run *run, const char *want)
{
    if (!strstr(run->err.data, want))
        fail_msg("stderr lacks '%s'\nstdout:\n%s\nstderr:\n%s", want, run->out.data, run->err.data);
}

/* status --check ARGS...: assert the exit status and that stdout is one line holding want. */
static void check_is(const char *ci, int status, const char *want, ...)
{
    const char *args[16] = {"--db", ci, "status", "--check"};
    size_t n = 4;
    va_list ap;
    va_start(ap, want);
    for (const char *a = va_arg(ap, const char *); a && n < 15; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != status)
        fail_msg("status --check: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", run.status,
                 status, run.out.data, run.err.data);
    assert_out_has(&run, want);
    const char *nl = strchr(run.out.data, '\n');
    if (!nl || nl[1] != '\0')
        fail_msg("status --check printed more than one line:\n%s", run.out.data);
    etl_run_release(&run);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, SERVER_NAME);
    etl_test_generate(&server, "small");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    return 0;
}

/* Each condition gives its code and one line; several give the lowest code and name them all. */
static void test_check_exit_codes(void **state)
{
    (void)state;
    const char *db = "st_check";
    char *ci = fresh_app(db);
    /* Nothing has run yet: healthy unless a success is required. */
    check_is(ci, 0, "OK", ARGS_END);
    check_is(ci, 12, "STALE: no successful run", "--max-age", "30m", ARGS_END);
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    check_is(ci, 0, "OK: last run 1 succeeded", "--max-age", "30m", "--max-backlog", "0", ARGS_END);

    /* The last finished run failed (rejects would not count). */
    exec_on(db, "UPDATE dwh.etl_runs SET status = 'failed', error = 'boom' WHERE id = 1");
    check_is(ci, 11, "FAILED: run 1 failed", ARGS_END);
    exec_on(db, "UPDATE dwh.etl_runs SET status = 'rejects', rejects = 2, error = NULL");
    check_is(ci, 0, "OK", "--max-age", "1h", ARGS_END);
    exec_on(db, "UPDATE dwh.etl_runs SET status = 'interrupted'");
    check_is(ci, 11, "FAILED: run 1 interrupted", ARGS_END);
    exec_on(db, "UPDATE dwh.etl_runs SET status = 'succeeded', rejects = 0");

    /* No success within --max-age. */
    exec_on(db, "UPDATE dwh.etl_runs SET started = now() - interval '3 hours', "
                "finished = now() - interval '2 hours'");
    check_is(ci, 12, "STALE: last successful run 1 finished 2h", "--max-age", "90m", ARGS_END);
    check_is(ci, 0, "OK", "--max-age", "3h", ARGS_END);
    check_is(ci, 0, "OK", "--max-age", "10800", ARGS_END);

    /* The queue: too long, or its oldest change too old. */
    exec_on(db, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
                "responses, now() FROM app.submissions LIMIT 5");
    check_is(ci, 13, "BACKLOG: 5 changes queued, more than --max-backlog 3", "--max-backlog", "3",
             ARGS_END);
    check_is(ci, 0, "OK", "--max-backlog", "5", ARGS_END);
    exec_on(db, "UPDATE etl.queue SET queued = now() - interval '2 hours'");
    check_is(ci, 13, "BACKLOG: the oldest queued change has waited 2h", "--max-queue-age", "1h",
             ARGS_END);

    /* All at once: one line naming each, the lowest (most severe) code. */
    exec_on(db, "UPDATE dwh.etl_runs SET status = 'too_many_rejects'");
    check_is(ci, 11, "FAILED: run 1 too_many_rejects", "--max-age", "1h", "--max-backlog", "1",
             ARGS_END);
    etl_run run;
    assert_int_equal(
        etl_on(ci, &run, "status", "--check", "--max-age", "1h", "--max-backlog", "1", ARGS_END),
        11);
    assert_out_has(&run, "STALE:");
    assert_out_has(&run, "BACKLOG:");
    etl_run_release(&run);
    free(ci);
}

/* A run marked running whose lock is free died: abandoned at once, and a failure for --check. */
static void test_killed_run_shows_abandoned(void **state)
{
    (void)state;
    const char *db = "st_killed";
    char *ci = fresh_app(db);
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    exec_on(db, "INSERT INTO dwh.etl_runs (processor, status) VALUES ('copy', 'running')");

    /* A live run holds its lock: running, and healthy. */
    etl_db *live = etl_test_connect(&server, db);
    etl_error err;
    if (etl_db_exec(live, RUN_LOCK_SQL, &err) != ETL_OK)
        fail_msg("lock: %s", err.msg);
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "status", ARGS_END), 0);
    assert_out_has(&run, "running");
    etl_run_release(&run);
    check_is(ci, 0, "OK: last run 1 succeeded", ARGS_END);

    /* The same run killed: its lock is gone with its connection. */
    etl_db_close(live);
    assert_int_equal(etl_on(ci, &run, "status", ARGS_END), 0);
    assert_out_has(&run, "abandoned");
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "status", "--json", ARGS_END), 0);
    assert_out_has(&run, "\"status\":\"abandoned\",");
    assert_out_has(&run, "\"finished\":null,");
    etl_run_release(&run);
    check_is(ci, 11, "FAILED: run 2 abandoned", ARGS_END);
    /* The table still says running: status only reads. */
    char *st = query_on(db, "SELECT status FROM dwh.etl_runs WHERE id = 2");
    assert_string_equal(st, "running\n");
    free(st);
    /* The next run marks it and, succeeding, makes the check healthy again. */
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    check_is(ci, 0, "OK: last run 3 succeeded", ARGS_END);
    free(ci);
}

/* Idle runs fold onto one row; a run with work, or anything else in between, breaks the fold. */
static void test_idle_runs_collapse(void **state)
{
    (void)state;
    const char *db = "st_idle";
    char *ci = fresh_app(db);
    for (int i = 0; i < 4; i++)
        assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    char *rows = query_on(db, "SELECT id, status, submissions, idle_runs, last_idle IS NOT NULL "
                              "FROM dwh.etl_runs ORDER BY id");
    assert_string_equal(rows, "1|succeeded|20|0|f\n2|succeeded|0|3|t\n");
    free(rows);
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "status", ARGS_END), 0);
    assert_out_has(&run, "succeeded (idle x3)");
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "status", "--json", ARGS_END), 0);
    assert_out_has(&run, "\"idle_runs\":3,");
    etl_run_release(&run);

    /* Work, then idle again: a new idle row after the working one. */
    exec_on(db, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
                "responses, now() FROM app.submissions LIMIT 2");
    for (int i = 0; i < 3; i++)
        assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    rows = query_on(db, "SELECT id, submissions, idle_runs FROM dwh.etl_runs ORDER BY id");
    assert_string_equal(rows, "1|20|0\n2|0|3\n5|2|0\n6|0|2\n");
    free(rows);

    /* Idle runs ending at once: every one is counted, none left running. */
    const char *args[] = {"--db", ci, "process", "copy", "-q", NULL};
    int pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = etl_test_spawn(args);
    for (int i = 0; i < 4; i++)
        assert_int_equal(etl_test_wait(pids[i]), 0);
    rows = query_on(db, "SELECT sum(idle_runs) FILTER (WHERE id >= 6), count(*) FILTER (WHERE "
                        "status <> 'succeeded') FROM dwh.etl_runs");
    assert_string_equal(rows, "6|0\n");
    free(rows);

    /* An idle run of another processor starts a row of its own: status shows it ran. */
    assert_int_equal(etl_on(ci, NULL, "process", "chunked", "-q", ARGS_END), 0);
    rows = query_on(db, "SELECT processor, idle_runs FROM dwh.etl_runs ORDER BY id DESC LIMIT 1");
    assert_string_equal(rows, "chunked|1\n");
    free(rows);
    free(ci);
}

/* --limit, --status and --since pick runs; bad values name the option and the value. */
static void test_history_filters(void **state)
{
    (void)state;
    const char *db = "st_filter";
    char *ci = fresh_app(db);
    exec_on(db, "INSERT INTO dwh.etl_runs (processor, started, finished, status, error) VALUES "
                "('copy', now() - interval '3 days', now() - interval '3 days', 'failed', 'old'), "
                "('copy', now() - interval '2 days', now() - interval '2 days', 'succeeded', "
                "NULL), ('copy', now() - interval '1 hour', now() - interval '1 hour', "
                "'rejects', NULL), ('copy', now(), now(), 'succeeded', NULL)");
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--limit", "1", ARGS_END), 0);
    assert_out_has(&run, "\"runs\":[{\"id\":4,");
    if (strstr(run.out.data, "\"id\":3"))
        fail_msg("--limit 1 listed more: %s", run.out.data);
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--status", "failed", ARGS_END), 0);
    assert_out_has(&run, "\"runs\":[{\"id\":1,");
    assert_out_has(&run, "\"error\":\"old\"}]");
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--since", "1d", ARGS_END), 0);
    assert_out_has(&run, "\"runs\":[{\"id\":4,");
    assert_out_has(&run, "{\"id\":3,");
    if (strstr(run.out.data, "\"id\":2"))
        fail_msg("--since 1d listed an older run: %s", run.out.data);
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "status", "--since", "2000-01-01 00:00+00", "--status",
                            "succeeded", ARGS_END),
                     0);
    assert_out_has(&run, "  2 ");
    assert_out_has(&run, "  4 ");
    etl_run_release(&run);

    static const char *const bad[][3] = {
        {"--status", "finished", "--status: 'finished' is not a run status"},
        {"--limit", "0", "--limit: '0' is not a whole number from 1"},
        {"--limit", "ten", "--limit: 'ten' is not a whole number"},
        {"--since", "yesterday-ish", "--since: 'yesterday-ish' is neither a duration"},
        {"--max-age", "5x", "--max-age: '5x' is not a duration"},
        {"--max-queue-age", "-1h", "--max-queue-age: '-1h' is not a duration"},
        {"--max-backlog", "many", "--max-backlog: 'many' is not a whole number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(etl_on(ci, &run, "status", "--check", bad[i][0], bad[i][1], ARGS_END), 2);
        assert_err_has(&run, bad[i][2]);
        etl_run_release(&run);
    }
    assert_int_equal(etl_on(ci, &run, "status", "--max-age", "1h", ARGS_END), 2);
    assert_err_has(&run, "--max-queue-age need --check");
    etl_run_release(&run);
    free(ci);
}

/* ISO-8601 timestamps with offset, null for what is absent, the check, an error object. */
static void test_status_json(void **state)
{
    (void)state;
    const char *db = "st_json";
    char *ci = fresh_app(db);
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--check", "--max-age", "1h", ARGS_END),
                     0);
    assert_out_has(&run, "\"started\":\"20");
    assert_out_has(&run, "+00:00\",\"finished\":\"20");
    assert_out_has(&run, "\"error\":null}");
    assert_out_has(&run, "\"last_idle\":null,");
    assert_out_has(&run, "\"check\":{\"status\":\"ok\",\"exit\":0,");
    assert_out_has(&run, "\"oldest_queued_s\":null");
    char *iso = query_on(db, "SELECT to_char(started AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"') FROM dwh.etl_runs");
    iso[strlen(iso) - 1] = '\0';
    char want[96];
    snprintf(want, sizeof(want), "\"started\":\"%s\"", iso);
    assert_out_has(&run, want);
    free(iso);
    etl_run_release(&run);

    exec_on(db, "UPDATE dwh.etl_runs SET status = 'failed', error = 'say \"why\"'");
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--check", ARGS_END), 11);
    assert_out_has(&run, "\"check\":{\"status\":\"failed\",\"exit\":11,");
    assert_out_has(&run, "\"error\":\"say \\\"why\\\"\"");
    etl_run_release(&run);

    /* Unreachable: exit 4, the message on stderr and a JSON object on stdout. */
    const char *args[] = {"--db",    "host=/nonexistent-etl-socket dbname=x connect_timeout=2",
                          "status",  "--json",
                          "--check", NULL};
    etl_test_run(&run, args);
    assert_int_equal(run.status, 4);
    assert_out_has(&run, "{\"error\":\"");
    assert_out_has(&run, "\"exit\":4}");
    assert_err_has(&run, "etl: ");
    etl_run_release(&run);
    /* A bad option under --json: exit 2, an object too. */
    assert_int_equal(etl_on(ci, &run, "status", "--json", "--limit", "x", ARGS_END), 2);
    assert_out_has(&run, "\"exit\":2}");
    etl_run_release(&run);
    free(ci);
}

/* prune deletes finished runs older than --keep, never a running one nor the last success. */
static void test_prune(void **state)
{
    (void)state;
    const char *db = "st_prune";
    char *ci = fresh_app(db);
    exec_on(db, "INSERT INTO dwh.etl_runs (processor, started, finished, status, idle_runs, "
                "last_idle) VALUES "
                "('copy', now() - interval '30 days', now() - interval '30 days', 'failed', 0, "
                "NULL), "
                "('copy', now() - interval '20 days', now() - interval '20 days', 'succeeded', 0, "
                "NULL), "
                "('copy', now() - interval '15 days', now() - interval '15 days', 'succeeded', 9, "
                "now() - interval '1 day'), "
                "('copy', now() - interval '10 days', NULL, 'running', 0, NULL), "
                "('copy', now() - interval '9 days', now() - interval '9 days', 'failed', 0, "
                "NULL)");
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "prune", "--keep", "7d", "--dry-run", ARGS_END), 0);
    assert_out_has(&run, "would delete 3 runs");
    etl_run_release(&run);
    char *n = query_on(db, "SELECT count(*) FROM dwh.etl_runs");
    assert_string_equal(n, "5\n");
    free(n);
    assert_int_equal(etl_on(ci, &run, "prune", "--keep", "7d", ARGS_END), 0);
    assert_out_has(&run, "deleted 3 runs");
    etl_run_release(&run);
    /* 1, 2 and 5 ended long ago; the idle row 3 last ran a day ago; 4 is running. */
    n = query_on(db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM dwh.etl_runs");
    assert_string_equal(n, "3,4\n");
    free(n);
    /* The last success stays however old, and --json says what went. */
    assert_int_equal(etl_on(ci, &run, "prune", "--keep", "0s", "--json", ARGS_END), 0);
    assert_out_has(&run, "\"deleted\":0,");
    assert_out_has(&run, "\"kept_last_success\":3");
    etl_run_release(&run);
    /* -q: silent on success, like the other in-place commands. */
    assert_int_equal(etl_on(ci, &run, "-q", "prune", "--keep", "0s", ARGS_END), 0);
    assert_string_equal(run.out.data ? run.out.data : "", "");
    assert_string_equal(run.err.data ? run.err.data : "", "");
    etl_run_release(&run);
    n = query_on(db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM dwh.etl_runs");
    assert_string_equal(n, "3,4\n");
    free(n);

    assert_int_equal(etl_on(ci, &run, "prune", ARGS_END), 2);
    assert_err_has(&run, "prune: needs --keep DURATION");
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, &run, "prune", "--keep", "a week", ARGS_END), 2);
    assert_err_has(&run, "--keep: 'a week' is not a duration");
    etl_run_release(&run);
    free(ci);
}

/* An installation from before idle_runs: runs still record, status says to init, init adds it. */
static void test_upgrade_adds_the_columns(void **state)
{
    (void)state;
    const char *db = "st_upgrade";
    char *ci = fresh_app(db);
    exec_on(db, "ALTER TABLE dwh.etl_runs DROP COLUMN IF EXISTS idle_runs, "
                "DROP COLUMN IF EXISTS last_idle");
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    char *rows = query_on(db, "SELECT status, submissions FROM dwh.etl_runs ORDER BY id");
    assert_string_equal(rows, "succeeded|20\nsucceeded|0\n");
    free(rows);
    etl_run run;
    assert_int_equal(etl_on(ci, &run, "status", ARGS_END), 2);
    assert_err_has(&run, "run `etl init` again");
    etl_run_release(&run);
    assert_int_equal(etl_on(ci, NULL, "init", "-q", ARGS_END), 0);
    assert_int_equal(etl_on(ci, NULL, "process", "copy", "-q", ARGS_END), 0);
    rows = query_on(db, "SELECT id, idle_runs FROM dwh.etl_runs ORDER BY id");
    assert_string_equal(rows, "1|0\n2|0\n3|1\n");
    free(rows);
    check_is(ci, 0, "OK: last run 3 succeeded", ARGS_END);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_exit_codes),
        cmocka_unit_test(test_killed_run_shows_abandoned),
        cmocka_unit_test(test_idle_runs_collapse),
        cmocka_unit_test(test_history_filters),
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_upgrade_adds_the_columns),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
