/*
 * The etl command line against real PostgreSQL: documented exit codes and
 * messages for each kind of mistake, passwords kept out of output, and the
 * embedded server (start as root or not, stop afterwards, concurrent
 * commands on one data directory, psql pass-through, clean --all).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/mem.h"
#include "harness.h"

static etl_test_server server;
static char embedded_dir[4096];

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, "pgdata-cli");
    etl_test_server_dir("embedded", embedded_dir, sizeof(embedded_dir));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    return 0;
}

static void write_file(const char *path, const char *text);

static void expect(const char *const *args, int status, const char *in_stderr)
{
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != status)
        fail_msg("etl %s: exit %d, expected %d\nstdout: %s\nstderr: %s", args[2], run.status,
                 status, run.out.data, run.err.data);
    if (in_stderr && !strstr(run.err.data, in_stderr))
        fail_msg("etl %s: stderr lacks '%s':\n%s", args[2], in_stderr, run.err.data);
    etl_run_release(&run);
}

static void test_cli_unknown_names_list_the_valid_ones(void **state)
{
    (void)state;
    const char *a[] = {"--db", server.conninfo, "process", "nope", "copy", NULL};
    expect(a, 2,
           "unknown scenario 'nope' (valid: empty, basic, small, medium, large-few-users, "
           "large-many-users, xlarge, huge");
    const char *b[] = {"--db", server.conninfo, "process", "basic", "fastest", NULL};
    expect(b, 2,
           "unknown processor 'fastest' (valid: naive, naive-joined, flush-single, "
           "chunked, copy");
    const char *c[] = {"--db", server.conninfo, "frobnicate", NULL};
    expect(c, 2,
           "unknown command 'frobnicate' (valid: generate, process, bench, list, psql, clean, "
           "init, status, verify, reprocess, prune)");
    const char *d[] = {"--db", server.conninfo, "process", NULL};
    expect(d, 2, "expected SCENARIO PROCESSOR, or --db CONNINFO PROCESSOR; got 0 arguments");
    const char *d2[] = {"process", "copy", NULL};
    expect(d2, 2, "processes a database in place and needs --db CONNINFO");
    const char *d3[] = {"--db", server.conninfo, "process", "basic", "copy", "--dry-run", NULL};
    expect(d3, 2, "are for in-place runs");
    const char *e[] = {"--db", server.conninfo, "generate", "basic", "--seed", "x", NULL};
    expect(e, 2, "--seed: 'x' is not a whole number");
    const char *f[] = {"--db", server.conninfo, "process", "basic", "copy", "--fast", NULL};
    expect(f, 2, "unknown option");
    /* Before the command there is no command to name: never "(null)". */
    static const char *const global[][2] = {{"--bogus", "etl: unknown option --bogus"},
                                            {"-V", "etl: unknown option -V"},
                                            {"--db", "etl: option --db needs a value"}};
    for (size_t i = 0; i < 3; i++) {
        const char *g[] = {global[i][0], NULL};
        etl_run run;
        etl_test_run(&run, g);
        assert_int_equal(run.status, 2);
        if (!strstr(run.err.data, global[i][1]) || strstr(run.err.data, "(null)"))
            fail_msg("etl %s: stderr:\n%s", global[i][0], run.err.data);
        etl_run_release(&run);
    }
}

/* Global options anywhere on the line, --target included; each error names the option. */
static void test_cli_global_options_anywhere(void **state)
{
    (void)state;
    /* --target before the command: parsed (the server is unreachable: 4), not "(null)" (2). */
    const char *a[] = {"--db", "host=/nonexistent-etl", "--target", "host=/nonexistent-wh", "init",
                       NULL};
    expect(a, 4, "cannot connect to PostgreSQL at 'host=/nonexistent-etl'");
    const char *b[] = {"init", "--target", "host=/nonexistent-wh", "--db", "host=/nonexistent-etl",
                       NULL};
    expect(b, 4, "cannot connect to PostgreSQL at 'host=/nonexistent-etl'");
    const char *c[] = {"list", "--db", NULL};
    expect(c, 2, "etl: list: option --db needs a value");
    const char *d[] = {"--target", "host=/x", "list", NULL};
    expect(d, 2, "--target is for the in-place commands");
    const char *e[] = {"process", "basic", "copy", "--jobs", NULL};
    expect(e, 2, "etl: process: option --jobs needs a value");
    const char *f[] = {"process", "basic", "copy", "--json=yes", NULL};
    expect(f, 2, "etl: process: option --json takes no value");
}

/*
 * A connection string that stays out of ps: $ETL_DB, $ETL_TARGET and
 * @FILE mean what --db and --target do; a password given in --db itself
 * gets a warning.
 */
static void test_cli_connection_string_out_of_ps(void **state)
{
    (void)state;
    etl_run run;
    /* $ETL_DB is used, and reaches the server: the database lacks etl's tables (2, not 4). */
    setenv("ETL_DB", server.conninfo, 1);
    const char *a[] = {"status", NULL};
    expect(a, 2, "the target has no etl tables yet");
    setenv("ETL_DB", "host=/nonexistent-env password=sekrit", 1);
    etl_test_run(&run, a);
    assert_int_equal(run.status, 4);
    assert_non_null(strstr(run.err.data, "host=/nonexistent-env"));
    assert_null(strstr(run.err.data, "sekrit"));
    assert_null(strstr(run.err.data, "warning"));
    etl_run_release(&run);
    /* --db wins over $ETL_DB. */
    const char *b[] = {"--db", "host=/nonexistent-line", "status", NULL};
    expect(b, 4, "host=/nonexistent-line");
    unsetenv("ETL_DB");
    setenv("ETL_TARGET", "host=/nonexistent-target", 1);
    char *ci = etl_test_conninfo_for(&server, "postgres");
    const char *t[] = {"--db", ci, "status", NULL};
    expect(t, 4, "host=/nonexistent-target");
    unsetenv("ETL_TARGET");
    free(ci);

    /* @FILE: the string is read from the file; a missing file is named. */
    char path[4200];
    char at[4300];
    snprintf(path, sizeof(path), "%s/conninfo-test", ETL_TEST_WORKDIR);
    write_file(path, "host=/nonexistent-file password=sekrit\n");
    chmod(path, 0600);
    snprintf(at, sizeof(at), "@%s", path);
    const char *c[] = {"--db", at, "status", NULL};
    etl_test_run(&run, c);
    assert_int_equal(run.status, 4);
    assert_non_null(strstr(run.err.data, "host=/nonexistent-file"));
    assert_null(strstr(run.err.data, "sekrit"));
    assert_null(strstr(run.err.data, "warning"));
    etl_run_release(&run);
    chmod(path, 0644);
    expect(c, 4, "other users may read it; chmod 600");
    snprintf(at, sizeof(at), "@%s/no-such-file", ETL_TEST_WORKDIR);
    const char *d[] = {"--db", at, "status", NULL};
    expect(d, 2, "no-such-file");

    /* A password on the line works, with a warning that every local user can read it. */
    const char *e[] = {"--db", "host=/nonexistent-etl password=sekrit", "status", NULL};
    etl_test_run(&run, e);
    assert_int_equal(run.status, 4);
    assert_non_null(strstr(run.err.data, "the password in --db can be read by every local user"));
    assert_null(strstr(run.err.data, "sekrit"));
    etl_run_release(&run);
}

/* With --json a failed command still prints one JSON object, with the error and exit code. */
static void test_cli_json_even_on_failure(void **state)
{
    (void)state;
    /* The expected exit code, then the command line after --db. */
    static const char *const cmds[][5] = {
        {"4", "verify", "--json", NULL, NULL},    {"4", "process", "copy", "--json", NULL},
        {"2", "process", "nope", "--json", NULL}, {"4", "status", "--json", NULL, NULL},
        {"4", "prune", "--keep", "1d", "--json"}, {"4", "bench", "small", "--json", NULL}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const char *a[] = {
            "--db", "host=/nonexistent-etl", cmds[i][1], cmds[i][2], cmds[i][3], cmds[i][4], NULL};
        etl_run run;
        etl_test_run(&run, a);
        char exit_field[32];
        snprintf(exit_field, sizeof(exit_field), "\"exit\":%s", cmds[i][0]);
        assert_int_equal(run.status, (int)strtol(cmds[i][0], NULL, 10));
        if (!run.out.data || run.out.data[0] != '{' || !strstr(run.out.data, "\"error\":\"") ||
            !strstr(run.out.data, exit_field))
            fail_msg("etl %s %s --json, failing: stdout is not an error object:\n%s", cmds[i][1],
                     cmds[i][2], run.out.data ? run.out.data : "(empty)");
        etl_run_release(&run);
    }
    const char *b[] = {"--db", server.conninfo, "process", "huge", "copy", "--json", NULL};
    etl_run run;
    etl_test_run(&run, b);
    assert_int_equal(run.status, 2);
    assert_non_null(run.out.data);
    assert_non_null(strstr(run.out.data, "\"exit\":2,\"error\":\"scenario huge has no template"));
    etl_run_release(&run);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_cli_malformed_config_names_file_line_column(void **state)
{
    (void)state;
    char dir[4096];
    char path[4200];
    snprintf(dir, sizeof(dir), "%s/bad-scenarios", ETL_TEST_WORKDIR);
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/scenarios.yaml", dir);
    write_file(path, "scenarios:\n  one:\n    forms: [1\n");
    snprintf(path, sizeof(path), "%s/processors.yaml", dir);
    write_file(path, "processors:\n  p: {extractor: chunked, loader: copy}\n");
    char want[4300];
    snprintf(want, sizeof(want), "%s/scenarios.yaml:4:1:", dir);
    const char *a[] = {"--db", server.conninfo, "--scenarios", dir, "list", NULL};
    expect(a, 3, want);

    /* A form schema file that is not JSON: generate names it with line and column. */
    snprintf(path, sizeof(path), "%s/scenarios.yaml", dir);
    write_file(path,
               "scenarios:\n  one: {forms: 1, users: 1, submissions: 1, schemas: [bad.json]}\n");
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    write_file(path, "{\"name\": \"x\",\n \"schema\": {\"children\": [}\n}\n");
    snprintf(want, sizeof(want), "%s/bad.json:2:", dir);
    const char *b[] = {"--db", server.conninfo, "--scenarios", dir, "generate", "one", NULL};
    expect(b, 3, want);

    /*
     * A scenario name so long that etl_tpl_NAME_new is cut at 63 bytes to the
     * template's own name: refused before anything is dropped.
     */
    snprintf(path, sizeof(path), "%s/scenarios.yaml", dir);
    write_file(path, "scenarios:\n  a_scenario_name_that_is_far_too_long_for_postgres_names_x:\n"
                     "    {forms: 1, users: 1, submissions: 1, schemas: [f.json]}\n");
    const char *c[] = {"--db",        server.conninfo,
                       "--scenarios", dir,
                       "generate",    "a_scenario_name_that_is_far_too_long_for_postgres_names_x",
                       NULL};
    expect(c, 2, "is too long: at most 51 bytes");
}

static void test_cli_unreachable_server_hides_password(void **state)
{
    (void)state;
    const char *a[] = {"--db",    "host=/nonexistent-etl port=5999 user=alice password=sekrit",
                       "process", "basic",
                       "copy",    NULL};
    etl_run run;
    etl_test_run(&run, a);
    assert_int_equal(run.status, 4);
    assert_non_null(strstr(run.err.data, "cannot connect to PostgreSQL at"));
    assert_non_null(strstr(run.err.data, "host=/nonexistent-etl"));
    assert_non_null(strstr(run.err.data, "port=5999"));
    assert_null(strstr(run.err.data, "sekrit"));
    etl_run_release(&run);
    const char *b[] = {"--db",    "postgresql://alice:sekrit@/db?host=/nonexistent-etl&port=5999",
                       "process", "basic",
                       "copy",    NULL};
    etl_test_run(&run, b);
    assert_int_equal(run.status, 4);
    assert_null(strstr(run.err.data, "sekrit"));
    etl_run_release(&run);
    /* sslpassword is a secret too, and libpq's parse errors quote the string they choke on. */
    static const char *const leaks[] = {
        "host=/nonexistent-etl port=5999 sslpassword=sekrit", "host=/x password=My sekrit",
        "postgresql://alice:sek%zzrit@/db", "host=/x password='sekrit"};
    for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++) {
        const char *c[] = {"--db", leaks[i], "process", "basic", "copy", NULL};
        etl_test_run(&run, c);
        assert_int_equal(run.status, 4);
        if (strstr(run.err.data, "sekrit") || strstr(run.err.data, "sek%zzrit"))
            fail_msg("--db '%s' leaked its secret:\n%s", leaks[i], run.err.data);
        etl_run_release(&run);
    }
}

static void test_cli_debug_sql_never_prints_password(void **state)
{
    (void)state;
    char conninfo[4200];
    snprintf(conninfo, sizeof(conninfo), "%s password=sekrit", server.conninfo);
    const char *g[] = {"--db", conninfo, "generate", "basic", "-q", NULL};
    expect(g, 0, NULL);
    const char *a[] = {"--db", conninfo, "--debug-sql", "process", "basic", "copy", NULL};
    etl_run run;
    etl_test_run(&run, a);
    assert_int_equal(run.status, 0);
    assert_non_null(strstr(run.err.data, "etl: sql: COPY dwh.response_events"));
    assert_non_null(strstr(run.err.data, " ms\n"));
    assert_null(strstr(run.err.data, "sekrit"));
    assert_null(strstr(run.out.data, "sekrit"));
    etl_run_release(&run);
}

static void test_cli_debug_mem_reports_each_stage(void **state)
{
    (void)state;
    const char *g[] = {"--db", server.conninfo, "generate", "basic", "-q", NULL};
    expect(g, 0, NULL);
    const char *a[] = {"--db", server.conninfo, "--debug-mem", "process", "basic", "chunked", NULL};
    etl_run run;
    etl_test_run(&run, a);
    assert_int_equal(run.status, 0);
    static const char *const stages[] = {"mem: extractor open", "mem: extract", "mem: transform",
                                         "mem: load", "mem: commit"};
    for (size_t i = 0; i < 5; i++)
        if (!strstr(run.err.data, stages[i]))
            fail_msg("--debug-mem output lacks '%s':\n%s", stages[i], run.err.data);
    assert_non_null(strstr(run.err.data, " MiB"));
    etl_run_release(&run);
}

static void test_cli_missing_server_programs(void **state)
{
    (void)state;
    char dir[4096];
    etl_test_server_dir("no-binaries", dir, sizeof(dir));
    setenv("ETL_PG_BINDIR", "/nonexistent/bin", 1);
    const char *a[] = {"--data-dir", dir, "generate", "basic", NULL};
    expect(a, 4, "ETL_PG_BINDIR=/nonexistent/bin has no postgres executable");
    unsetenv("ETL_PG_BINDIR");
}

static void test_cli_process_before_generate(void **state)
{
    (void)state;
    const char *c[] = {"--db", server.conninfo, "clean", "large-few-users", "-q", NULL};
    expect(c, 0, NULL);
    const char *a[] = {"--db", server.conninfo, "process", "large-few-users", "copy", NULL};
    expect(a, 2, "run `etl generate large-few-users` first");
}

static void test_cli_empty_scenario(void **state)
{
    (void)state;
    const char *g[] = {"--db", server.conninfo, "generate", "empty", NULL};
    expect(g, 0, NULL);
    const char *p[] = {"--db", server.conninfo, "process", "empty", "chunked", "--json", NULL};
    etl_run run;
    etl_test_run(&run, p);
    assert_int_equal(run.status, 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "events"), 0);
    static const char *const keys[] = {"scenario", "processor", "submissions",  "events",
                                       "rejected", "elapsed_s", "events_per_s", "peak_rss_kib"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char k[64];
        snprintf(k, sizeof(k), "\"%s\":", keys[i]);
        if (!strstr(run.out.data, k))
            fail_msg("--json output lacks %s: %s", keys[i], run.out.data);
    }
    etl_run_release(&run);
}

static void test_cli_help_and_version(void **state)
{
    (void)state;
    static const char *const cmds[] = {"generate", "process", "list",  "psql",
                                       "clean",    "init",    "status"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const char *a[] = {cmds[i], "--help", NULL};
        etl_run run;
        etl_test_run(&run, a);
        assert_int_equal(run.status, 0);
        assert_non_null(strstr(run.out.data, "Usage: etl "));
        assert_non_null(strstr(run.out.data, "--db CONNINFO"));
        etl_run_release(&run);
    }
    const char *v[] = {"--version", NULL};
    etl_run run;
    etl_test_run(&run, v);
    assert_int_equal(run.status, 0);
    assert_non_null(strstr(run.out.data, "etl 0."));
    etl_run_release(&run);
}

/* ---- the embedded server ---------------------------------------------- */

static void test_embedded_generate_process_psql(void **state)
{
    (void)state;
    const char *g[] = {"--data-dir", embedded_dir, "generate", "basic", NULL};
    expect(g, 0, NULL);
    const char *p[] = {"--data-dir", embedded_dir, "process", "basic", "chunked", "--json", NULL};
    etl_run run;
    etl_test_run(&run, p);
    assert_int_equal(run.status, 0);
    long events = (long)etl_test_json_number(run.out.data, "events");
    assert_true(events > 5);
    etl_run_release(&run);
    /* The server is stopped when the command ends. */
    char pidfile[4200];
    snprintf(pidfile, sizeof(pidfile), "%s/pgdata/postmaster.pid", embedded_dir);
    assert_int_not_equal(access(pidfile, F_OK), 0);
    /* psql on the run database, arguments passed through. */
    const char *q[] = {
        "--data-dir", embedded_dir, "psql", "basic",
        "--",         "-At",        "-c",   "select count(*) from dwh.response_events",
        NULL};
    etl_test_run(&run, q);
    assert_int_equal(run.status, 0);
    char want[32];
    snprintf(want, sizeof(want), "%ld\n", events);
    assert_string_equal(run.out.data, want);
    etl_run_release(&run);
    /* psql's own exit status comes back. */
    const char *bad[] = {"--data-dir", embedded_dir,  "psql", "basic",           "--",
                         "-c",         "select nope", "-v",   "ON_ERROR_STOP=1", NULL};
    etl_test_run(&run, bad);
    assert_int_equal(run.status, 1);
    etl_run_release(&run);
}

static void test_embedded_concurrent_commands_wait_their_turn(void **state)
{
    (void)state;
    const char *p[] = {"--data-dir", embedded_dir, "process", "basic", "copy", "--json", NULL};
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            etl_run run;
            etl_test_run(&run, p);
            _exit(run.status == 0 ? 0 : 1);
        }
    }
    for (int i = 0; i < 3; i++) {
        int status = 0;
        waitpid(kids[i], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* The last one's run database is intact and complete. */
    etl_run run;
    const char *sql = "select count(distinct submission_id), count(distinct processed_on) "
                      "from dwh.response_events";
    const char *q[] = {"--data-dir", embedded_dir, "psql", "basic", "--", "-At", "-c", sql, NULL};
    etl_test_run(&run, q);
    assert_int_equal(run.status, 0);
    assert_string_equal(run.out.data, "1|1\n");
    etl_run_release(&run);
}

static void test_embedded_default_dir_reachable_by_the_server(void **state)
{
    (void)state;
    /* A private (0700) working directory, like a checkout under /root. */
    char dir[4096];
    char own[4200];
    etl_test_server_dir("private-cwd", dir, sizeof(dir));
    mkdir(dir, 0700);
    chmod(dir, 0700);
    snprintf(own, sizeof(own), "%s/.etl-data", dir);
    /* Start from nothing, so the first-use notice is due. */
    const char *all[] = {"clean", "--all", NULL};
    etl_run run;
    etl_test_run_in(&run, dir, all);
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
    const char *g[] = {"generate", "basic", NULL};
    etl_test_run_in(&run, dir, g);
    if (run.status != 0)
        fail_msg("generate from a private directory: exit %d\n%s", run.status, run.err.data);
    if (geteuid() == 0) {
        /* The server runs as another account: etl must pick a place it can reach, and say so. */
        assert_non_null(strstr(run.err.data, "keeping its data in /var/tmp/etl-"));
        assert_int_not_equal(access(own, F_OK), 0);
    } else {
        assert_int_equal(access(own, F_OK), 0);
    }
    etl_run_release(&run);
    etl_test_run_in(&run, dir, all);
    assert_int_equal(run.status, 0);
    etl_run_release(&run);
}

static void test_embedded_refuses_a_directory_others_can_write(void **state)
{
    (void)state;
    char dir[4096];
    etl_test_server_dir("world-writable", dir, sizeof(dir));
    mkdir(dir, 0777);
    chmod(dir, 0777);
    const char *a[] = {"--data-dir", dir, "generate", "basic", NULL};
    expect(a, 2, "writable by group or others");
    rmdir(dir);
}

static void test_embedded_clean(void **state)
{
    (void)state;
    const char *c[] = {"--data-dir", embedded_dir, "clean", "basic", NULL};
    expect(c, 0, "dropped database etl_run_basic");
    const char *q[] = {"--data-dir", embedded_dir, "psql", "basic", "--", "-c", "select 1", NULL};
    expect(q, 2, "run `etl generate basic` first");
    const char *all[] = {"--data-dir", embedded_dir, "clean", "--all", NULL};
    expect(all, 0, NULL);
    assert_int_not_equal(access(embedded_dir, F_OK), 0);
}

/*
 * A first run interrupted between initdb and etl's settings left a cluster
 * that started on the defaults (port 5432, /var/run/postgresql), and every
 * later command waited for a socket that never came.  Now it is made again.
 */
static void test_embedded_half_made_cluster_is_made_again(void **state)
{
    (void)state;
    char dir[4096];
    char conf[4300];
    etl_test_server_dir("embedded-half", dir, sizeof(dir));
    const char *c[] = {"--data-dir", dir, "clean", NULL};
    expect(c, 0, NULL);
    /* Take etl's settings out again, as an interrupt after initdb would have left it. */
    snprintf(conf, sizeof(conf), "%s/pgdata/postgresql.conf", dir);
    char *text = etl_test_read(conf);
    assert_non_null(text);
    char *ours = strstr(text, "unix_socket_directories = '");
    assert_non_null(ours);
    *ours = '\0';
    write_file(conf, text);
    free(text);
    int pid = etl_test_spawn(c);
    int status = -1;
    for (int i = 0; i < 600 && status < 0; i++) {
        etl_test_sleep_ms(100);
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    if (status < 0) {
        kill(pid, SIGKILL);
        etl_test_wait(pid);
        fail_msg("etl clean on a half-made cluster still runs after 60 s");
    }
    assert_int_equal(status, 0);
    const char *all[] = {"--data-dir", dir, "clean", "--all", NULL};
    expect(all, 0, NULL);
}

/* The state letter of process pid in /proc (R, S, Z...), or 0 if there is none. */
static char proc_state(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    char *stat = etl_test_read(path);
    const char *close_paren = stat ? strrchr(stat, ')') : NULL;
    char state = '\0';
    if (close_paren && close_paren[1])
        state = close_paren[2];
    free(stat);
    return state;
}

/* The pid of pid's child running program comm, or 0. */
static int child_named(int pid, const char *comm)
{
    int children[64];
    size_t n = etl_mem_children(pid, children, sizeof(children) / sizeof(children[0]));
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/comm", children[i]);
        char *name = etl_test_read(path);
        if (name && strncmp(name, comm, strlen(comm)) == 0)
            found = children[i];
        free(name);
    }
    return found;
}

/* etl killed while initdb runs (as another user when etl is root): initdb goes too. */
static void test_embedded_initdb_dies_with_etl(void **state)
{
    (void)state;
    char dir[4096];
    etl_test_server_dir("embedded-initdb", dir, sizeof(dir));
    const char *c[] = {"--data-dir", dir, "clean", NULL};
    int pid = etl_test_spawn(c);
    int initdb = 0;
    for (int i = 0; i < 1000 && !initdb; i++) {
        etl_test_sleep_ms(5);
        initdb = child_named(pid, "initdb");
    }
    if (!initdb) {
        etl_test_wait(pid);
        fail_msg("etl clean on a new directory ran no initdb that could be seen");
    }
    kill(pid, SIGKILL);
    etl_test_wait(pid);
    char st = proc_state(initdb);
    for (int i = 0; i < 300 && st && st != 'Z'; i++) {
        etl_test_sleep_ms(10);
        st = proc_state(initdb);
    }
    if (st && st != 'Z')
        fail_msg("initdb (pid %d) still runs 3 s after etl was killed (state %c)", initdb, st);
    const char *all[] = {"--data-dir", dir, "clean", "--all", NULL};
    expect(all, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_unknown_names_list_the_valid_ones),
        cmocka_unit_test(test_cli_global_options_anywhere),
        cmocka_unit_test(test_cli_connection_string_out_of_ps),
        cmocka_unit_test(test_cli_json_even_on_failure),
        cmocka_unit_test(test_cli_malformed_config_names_file_line_column),
        cmocka_unit_test(test_cli_unreachable_server_hides_password),
        cmocka_unit_test(test_cli_debug_sql_never_prints_password),
        cmocka_unit_test(test_cli_debug_mem_reports_each_stage),
        cmocka_unit_test(test_cli_missing_server_programs),
        cmocka_unit_test(test_cli_process_before_generate),
        cmocka_unit_test(test_cli_empty_scenario),
        cmocka_unit_test(test_cli_help_and_version),
        cmocka_unit_test(test_embedded_generate_process_psql),
        cmocka_unit_test(test_embedded_concurrent_commands_wait_their_turn),
        cmocka_unit_test(test_embedded_default_dir_reachable_by_the_server),
        cmocka_unit_test(test_embedded_refuses_a_directory_others_can_write),
        cmocka_unit_test(test_embedded_clean),
        cmocka_unit_test(test_embedded_half_made_cluster_is_made_again),
        cmocka_unit_test(test_embedded_initdb_dies_with_etl),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
