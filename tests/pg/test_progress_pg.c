/*
 * Long commands against real PostgreSQL: a generate that fails (bad form
 * file) or is interrupted leaves the old template and run database as they
 * were; progress goes to stderr as plain lines with --progress, redrawn in
 * place on a terminal (a pseudo-terminal here), and not at all otherwise.
 * Nothing here depends on how long anything takes.
 */
#define _DEFAULT_SOURCE /* forkpty */

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static etl_test_server server;
static char scen[4096];      /* a scenarios directory of the test's own */
static char form_path[4200]; /* its one form file */

/* The shipped daily check-in form, with every answerType as given. */
static char *good_form;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Scenario `atomic`: one form, two users, n submissions. */
static void write_scenario(long n)
{
    char path[4200];
    char text[512];
    snprintf(path, sizeof(path), "%s/scenarios.yaml", scen);
    snprintf(
        text, sizeof(text),
        "scenarios:\n  atomic: {forms: 1, users: 2, submissions: %ld, schemas: [forms/f.json]}\n",
        n);
    write_file(path, text);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, "pgdata-progress");
    snprintf(scen, sizeof(scen), "%s/progress-scenarios", ETL_TEST_WORKDIR);
    mkdir(scen, 0755);
    char path[4200];
    char target[4200];
    snprintf(path, sizeof(path), "%s/processors.yaml", scen);
    snprintf(target, sizeof(target), "%s/processors.yaml", ETL_TEST_SCENARIOS);
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/forms", scen);
    mkdir(path, 0755);
    snprintf(target, sizeof(target), "%s/forms/daily_checkin.json", ETL_TEST_SCENARIOS);
    good_form = etl_test_read(target);
    snprintf(form_path, sizeof(form_path), "%s/forms/f.json", scen);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(good_form);
    etl_test_server_stop(&server);
    return 0;
}

/* Each test starts from a freshly generated template of 30 submissions, and its run database. */
static int fresh_template(void **state)
{
    (void)state;
    write_file(form_path, good_form);
    write_scenario(30);
    const char *g[] = {"--db", server.conninfo, "--scenarios", scen, "generate", "atomic", NULL};
    const char *p[] = {"--db",    server.conninfo, "--scenarios", scen,
                       "process", "atomic",        "copy",        NULL};
    etl_run run;
    for (int i = 0; i < 2; i++) {
        etl_test_run(&run, i == 0 ? g : p);
        if (run.status != 0)
            fail_msg("setup: exit %d\n%s", run.status, run.err.data);
        etl_run_release(&run);
    }
    return 0;
}

static char *query(const char *db, const char *sql)
{
    return etl_test_query_on(&server, db, sql);
}

static void assert_query(const char *db, const char *sql, const char *want)
{
    char *got = query(db, sql);
    if (strcmp(got, want) != 0)
        fail_msg("%s on %s: got '%s', want '%s'", sql, db, got, want);
    free(got);
}

/* The old template and run database are there, as they were after fresh_template. */
static void assert_old_data_intact(const char *events)
{
    assert_query("postgres",
                 "SELECT count(*) FROM pg_database WHERE datname LIKE 'etl_tpl_atomic%'", "1\n");
    assert_query("etl_tpl_atomic", "SELECT count(*) FROM app.submissions", "30\n");
    assert_query("etl_run_atomic", "SELECT count(*) FROM dwh.response_events", events);
}

static void test_generate_bad_form_keeps_old_template(void **state)
{
    (void)state;
    char *events = query("etl_run_atomic", "SELECT count(*) FROM dwh.response_events");
    /* A question whose answerType the transformer does not know. */
    char *bad = strdup(good_form);
    assert_non_null(bad);
    char *at = strstr(bad, "\"answerType\": \"number\"");
    assert_non_null(at);
    static const char bogus[] = "\"answerType\": \"bogus!\""; /* as long as the original */
    for (size_t i = 0; i < sizeof(bogus) - 1; i++)
        at[i] = bogus[i];
    write_file(form_path, bad);
    free(bad);
    write_scenario(40);

    const char *g[] = {"--db", server.conninfo, "--scenarios", scen, "generate", "atomic", NULL};
    etl_run run;
    etl_test_run(&run, g);
    if (run.status != 3 || !strstr(run.err.data, "forms/f.json") ||
        !strstr(run.err.data, "etl_tpl_atomic left unchanged"))
        fail_msg("generate with a bad form: exit %d\n%s", run.status, run.err.data);
    etl_run_release(&run);
    assert_old_data_intact(events);

    /* process still runs on the old template: 30 submissions, not 40, and no "run generate". */
    const char *p[] = {"--db",   server.conninfo, "--scenarios", scen, "process",
                       "atomic", "copy",          "--json",      NULL};
    etl_test_run(&run, p);
    if (run.status != 0)
        fail_msg("process after the failed generate: exit %d\n%s", run.status, run.err.data);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 30);
    etl_run_release(&run);
    free(events);
}

/* execv's argv for etl with args (NULL-terminated), in copies it may modify. */
static char **argv_of(const char *const *args)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 2, sizeof(*argv));
    assert_non_null(argv);
    argv[0] = strdup("etl");
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = strdup(args[i]);
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* Start etl with stderr to a file, to read after it ends. */
static pid_t spawn_logged(const char *const *args, const char *err_path)
{
    char **argv = argv_of(args);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        execv(ETL_BINARY, argv);
        _exit(127);
    }
    free_argv(argv);
    return pid;
}

static void test_generate_interrupted_keeps_old_template(void **state)
{
    (void)state;
    char *events = query("etl_run_atomic", "SELECT count(*) FROM dwh.response_events");
    /* Far more than it can write before the signal lands: it is stopped mid-way. */
    write_scenario(5000000);
    char err_path[4200];
    snprintf(err_path, sizeof(err_path), "%s/progress-interrupted.err", ETL_TEST_WORKDIR);
    const char *g[] = {"--db", server.conninfo, "--scenarios", scen, "generate", "atomic", NULL};
    pid_t pid = spawn_logged(g, err_path);
    /* Wait until the new template is being built: the signal must come mid-generate. */
    bool building = false;
    for (int i = 0; i < 3000 && !building; i++) {
        char *n = query("postgres",
                        "SELECT count(*) FROM pg_database WHERE datname = 'etl_tpl_atomic_new'");
        building = strcmp(n, "1\n") == 0;
        free(n);
        if (!building)
            etl_test_sleep_ms(20);
    }
    assert_true(building);
    assert_int_equal(kill(pid, SIGINT), 0);
    int status = etl_test_wait((int)pid);
    char *err = etl_test_read(err_path);
    if (status != 7 || !strstr(err, "interrupted"))
        fail_msg("generate interrupted: exit %d\n%s", status, err);
    /* One message, nothing else. */
    assert_non_null(strchr(err, '\n'));
    assert_string_equal(strchr(err, '\n'), "\n");
    free(err);
    assert_old_data_intact(events);
    free(events);
}

static void test_progress_lines_with_progress_flag(void **state)
{
    (void)state;
    etl_run run;
    /* Not a terminal and no --progress: no progress at all. */
    const char *quiet[] = {"--db",    server.conninfo, "--scenarios", scen,
                           "process", "atomic",        "copy",        NULL};
    etl_test_run(&run, quiet);
    assert_int_equal(run.status, 0);
    assert_null(strstr(run.err.data, "etl: process"));
    etl_run_release(&run);

    /* --progress: plain lines (no \r), the last with the final counts; even with -q. */
    static const char *const cases[][3] = {
        {"generate", "etl: generate atomic: 33 rows in ", NULL},
        {"process", "etl: process atomic copy: 30/30 submissions, ", NULL},
        {"jobs", "etl: process atomic copy: 30/30 submissions, ", ", 2/2 workers done\n"},
    };
    for (size_t i = 0; i < 3; i++) {
        const char *args[12] = {"--db", server.conninfo, "--scenarios", scen, "-q", "--progress"};
        size_t n = 6;
        if (strcmp(cases[i][0], "generate") == 0) {
            args[n++] = "generate";
            args[n++] = "atomic";
        } else {
            args[n++] = "process";
            args[n++] = "atomic";
            args[n++] = "copy";
            if (strcmp(cases[i][0], "jobs") == 0) {
                args[n++] = "--jobs";
                args[n++] = "2";
            }
        }
        args[n] = NULL;
        etl_test_run(&run, args);
        if (run.status != 0 || !strstr(run.err.data, cases[i][1]) || strchr(run.err.data, '\r') ||
            (cases[i][2] && !strstr(run.err.data, cases[i][2])))
            fail_msg("%s --progress: exit %d\n%s", cases[i][0], run.status, run.err.data);
        etl_run_release(&run);
    }
}

static void test_progress_in_place_and_verify(void **state)
{
    (void)state;
    /* Each its own statement: CREATE and DROP DATABASE refuse a transaction block. */
    etl_test_exec_on(&server, "postgres", "DROP DATABASE IF EXISTS progress_inplace");
    etl_test_exec_on(&server, "postgres",
                     "CREATE DATABASE progress_inplace TEMPLATE etl_tpl_atomic");
    char *db = etl_test_conninfo_for(&server, "progress_inplace");
    const char *init[] = {"--db", db, "init", NULL};
    const char *proc[] = {"--db", db, "--progress", "process", "copy", "--json", NULL};
    const char *verify[] = {"--db", db, "--progress", "verify", NULL};
    const char *const *steps[3] = {init, proc, verify};
    const char *want[3] = {NULL, "etl: process copy: 30/30 submissions, ",
                           "etl: verify: recompute 30/30 submissions, "};
    for (int i = 0; i < 3; i++) {
        etl_run run;
        etl_test_run(&run, steps[i]);
        if (run.status != 0 || (want[i] && !strstr(run.err.data, want[i])))
            fail_msg("%s: exit %d\n%s", steps[i][3], run.status, run.err.data);
        /* --json's object on stdout is untouched by progress on stderr. */
        if (i == 1)
            assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 30);
        etl_run_release(&run);
    }
    free(db);
}

/* Run etl on a pseudo-terminal (stdout and stderr both); everything it wrote. */
static char *run_on_tty(const char *const *args, int *status)
{
    char **argv = argv_of(args);
    fflush(NULL);
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(ETL_BINARY, argv);
        _exit(127);
    }
    free_argv(argv);
    etl_buf out = ETL_BUF_INIT;
    char chunk[4096];
    for (;;) {
        ssize_t got = read(master, chunk, sizeof(chunk));
        if (got > 0)
            assert_int_equal(etl_buf_append(&out, chunk, (size_t)got), ETL_OK);
        else if (got < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO: the child closed the terminal */
    }
    close(master);
    *status = etl_test_wait((int)pid);
    return etl_buf_detach(&out);
}

static void test_progress_in_place_on_a_terminal(void **state)
{
    (void)state;
    int status = 0;
    const char *g[] = {"--db", server.conninfo, "--scenarios", scen, "generate", "atomic", NULL};
    char *out = run_on_tty(g, &status);
    assert_int_equal(status, 0);
    /* Drawn with \r, and ended (the terminal turns \n into \r\n) before the result line. */
    const char *line = strstr(out, "\retl: generate atomic: ");
    const char *done = line ? strstr(line, "done") : NULL;
    if (!done) {
        fail_msg("no progress line:\n%s", out);
        return; /* not reached: fail_msg ends the test */
    }
    done += strlen("done");
    while (*done == ' ')
        done++;
    if (strncmp(done, "\r\ngenerated atomic", strlen("\r\ngenerated atomic")) != 0)
        fail_msg("progress line not ended before the result:\n%s", out);
    free(out);

    /* -v on a terminal: whole lines, so that a logged line never lands inside the progress. */
    const char *v[] = {"--db", server.conninfo, "--scenarios", scen,
                       "-v",   "generate",      "atomic",      NULL};
    out = run_on_tty(v, &status);
    assert_int_equal(status, 0);
    if (strstr(out, "\retl: generate atomic: ") || !strstr(out, "\netl: generate atomic: "))
        fail_msg("with -v, progress redrawn in place or missing:\n%s", out);
    free(out);

    /* -q on a terminal: nothing but errors. */
    const char *q[] = {"--db", server.conninfo, "--scenarios", scen,
                       "-q",   "generate",      "atomic",      NULL};
    out = run_on_tty(q, &status);
    assert_int_equal(status, 0);
    assert_string_equal(out, "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_generate_bad_form_keeps_old_template, fresh_template),
        cmocka_unit_test_setup(test_generate_interrupted_keeps_old_template, fresh_template),
        cmocka_unit_test_setup(test_progress_lines_with_progress_flag, fresh_template),
        cmocka_unit_test_setup(test_progress_in_place_and_verify, fresh_template),
        cmocka_unit_test_setup(test_progress_in_place_on_a_terminal, fresh_template),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
