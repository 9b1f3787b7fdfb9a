/*
 * etl bench against real PostgreSQL, through the binary: --baseline is
 * checked before anything runs (a missing file, another scenario, a
 * processor it lacks are usage errors; other events stop the bench after
 * one run), the gate judges only what the noise allows, figures carry their
 * spread, --progress prints plain lines, and SIGINT or SIGTERM stops the
 * bench quietly with exit 7, leaving no child, file or run database behind.
 * No test asserts on how fast anything is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etl/mem.h"
#include "harness.h"

static etl_test_server server;
static char tmpdir[4096]; /* bench's $TMPDIR: must be empty after every bench */
static char checksum[128];
static long long events;

static void etl_ok(const char *const *args, etl_run *run)
{
    etl_test_run(run, args);
    if (run->status != 0)
        fail_msg("etl %s %s: exit %d\nstdout: %s\nstderr: %s", args[2], args[3], run->status,
                 run->out.data, run->err.data);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, "pgdata-bench");
    etl_test_server_dir("bench-tmp", tmpdir, sizeof(tmpdir));
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    etl_test_generate(&server, "small");
    etl_run run;
    /* The events every processor loads on small, as a baseline records them. */
    const char *b[] = {"--db", server.conninfo, "bench", "small", "copy", "--runs",
                       "1",    "--json",        NULL};
    etl_ok(b, &run);
    const char *sum = strstr(run.out.data, "\"checksum\":\"");
    assert_non_null(sum);
    sum += strlen("\"checksum\":\"");
    snprintf(checksum, sizeof(checksum), "%.*s", (int)strcspn(sum, "\""), sum);
    events = (long long)etl_test_json_number(run.out.data, "events");
    assert_true(events > 0);
    etl_run_release(&run);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    return 0;
}

static void tmpdir_is_empty(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("bench left %s/%s behind", tmpdir, e->d_name);
    closedir(d);
}

/* Write a baseline file; processors as JSON result objects. */
static void baseline(const char *path, const char *scenario, const char *sum, const char *results)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"scenario\":\"%s\",\"runs\":3,\"jobs\":1,\"events\":%lld,\"checksum\":\"%s\","
            "\"results\":[%s]}\n",
            scenario, events, sum, results);
    fclose(f);
}

static void base_path(const char *name, char *out, size_t cap)
{
    char dir[4096];
    etl_test_server_dir("bench-baselines", dir, sizeof(dir));
    mkdir(dir, 0755);
    snprintf(out, cap, "%s/%s", dir, name);
}

static void expect(const char *const *args, int status, const char *in_out, const char *in_err)
{
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != status || (in_out && !strstr(run.out.data, in_out)) ||
        (in_err && !strstr(run.err.data, in_err)))
        fail_msg("etl bench: exit %d, expected %d with '%s' on stdout and '%s' on stderr\n"
                 "stdout: %s\nstderr: %s",
                 run.status, status, in_out ? in_out : "", in_err ? in_err : "", run.out.data,
                 run.err.data);
    etl_run_release(&run);
}

/* Mistakes in --baseline are usage errors found before anything runs (nothing on stdout). */
static void test_bench_baseline_checked_before_running(void **state)
{
    (void)state;
    char path[4200];
    base_path("nope.json", path, sizeof(path));
    unlink(path);
    const char *missing[] = {"--db", server.conninfo, "bench", "small", "copy", "--runs",
                             "1",    "--baseline",    path,    NULL};
    expect(missing, 2, NULL, "No such file");
    etl_run run;
    etl_test_run(&run, missing);
    if (run.out.len > 0 || !strstr(run.err.data, path))
        fail_msg("a missing baseline must be named before any run:\nstdout: %s\nstderr: %s",
                 run.out.data, run.err.data);
    etl_run_release(&run);

    base_path("medium.json", path, sizeof(path));
    baseline(path, "medium", "1-2",
             "{\"name\":\"copy\",\"runs\":3,\"ratio\":0.9,\"ratio_min\":0.8,\"ratio_max\":1}");
    const char *other[] = {"--db", server.conninfo, "bench", "small", "copy", "--runs",
                           "1",    "--baseline",    path,    NULL};
    etl_test_run(&run, other);
    if (run.status != 2 || run.out.len > 0 || !strstr(run.err.data, path) ||
        !strstr(run.err.data, "'medium'") || !strstr(run.err.data, "'small'"))
        fail_msg("another scenario's baseline: exit %d, expected 2 naming the file and both "
                 "scenarios before any run\nstdout: %s\nstderr: %s",
                 run.status, run.out.data, run.err.data);
    etl_run_release(&run);

    base_path("copy-only.json", path, sizeof(path));
    baseline(path, "small", checksum,
             "{\"name\":\"copy\",\"runs\":3,\"ratio\":0.9,\"ratio_min\":0.8,\"ratio_max\":1}");
    const char *lacking[] = {"--db", server.conninfo, "bench", "small", "copy", "chunked", "--runs",
                             "1",    "--baseline",    path,    NULL};
    etl_test_run(&run, lacking);
    if (run.status != 2 || run.out.len > 0 ||
        !strstr(run.err.data, "has no results for chunked (it has: copy)"))
        fail_msg("a processor the baseline lacks: exit %d\nstdout: %s\nstderr: %s", run.status,
                 run.out.data, run.err.data);
    etl_run_release(&run);
    tmpdir_is_empty();
}

/* Other events than the baseline's: exit 9 after the first run, not after the whole bench. */
static void test_bench_other_events_stop_early(void **state)
{
    (void)state;
    char path[4200];
    base_path("other-events.json", path, sizeof(path));
    baseline(path, "small", "1-2",
             "{\"name\":\"copy\",\"runs\":3,\"ratio\":0.9,\"ratio_min\":0.8,\"ratio_max\":1},"
             "{\"name\":\"chunked\",\"runs\":3,\"ratio\":0.4,\"ratio_min\":0.3,\"ratio_max\":0.5}");
    const char *a[] = {"--db", server.conninfo, "bench", "small", "copy", "chunked", "--runs",
                       "3",    "--baseline",    path,    NULL};
    expect(a, 9, "stopped after the first run", "the events differ from --baseline");
    tmpdir_is_empty();
}

/*
 * The false alarm: a one-run baseline (here twice as good as any
 * real run) is shown but not judged; a three-run baseline with a tight
 * spread far above this run is a regression, and the line says why.
 */
static void test_bench_gate_judges_only_what_noise_allows(void **state)
{
    (void)state;
    char path[4200];
    base_path("one-run.json", path, sizeof(path));
    baseline(path, "small", checksum,
             "{\"name\":\"copy\",\"runs\":1,\"ratio\":5.0},"
             "{\"name\":\"chunked\",\"runs\":1,\"ratio\":5.0}");
    const char *a[] = {"--db", server.conninfo, "bench", "small", "copy", "chunked", "--runs",
                       "3",    "--baseline",    path,    NULL};
    etl_run run;
    etl_test_run(&run, a);
    if (run.status != 0 || !strstr(run.out.data, "baseline: copy ") ||
        !strstr(run.out.data, "not judged: the baseline has too few runs"))
        fail_msg("one-run baseline: exit %d\nstdout: %s\nstderr: %s", run.status, run.out.data,
                 run.err.data);
    /*
     * Figures with their spread, and the warning that small is too small to
     * time, naming a bigger scenario: which one depends on how long small
     * took (medium under a sanitizer on a busy machine, else larger).
     */
    if (!strstr(run.out.data, "median (min-max)") || !strstr(run.err.data, "too small to time") ||
        !strstr(run.err.data, "; for timings use ") ||
        strstr(run.err.data, "for timings use small ") || strstr(run.err.data, "use basic "))
        fail_msg("no spread or no too-small warning:\nstdout: %s\nstderr: %s", run.out.data,
                 run.err.data);
    etl_run_release(&run);

    base_path("far-better.json", path, sizeof(path));
    baseline(
        path, "small", checksum,
        "{\"name\":\"copy\",\"runs\":3,\"ratio\":50,\"ratio_min\":49.9,\"ratio_max\":50.1},"
        "{\"name\":\"chunked\",\"runs\":3,\"ratio\":50,\"ratio_min\":49.9,\"ratio_max\":50.1}");
    const char *b[] = {"--db", server.conninfo, "bench", "small",  "copy", "chunked", "--runs",
                       "3",    "--baseline",    path,    "--json", NULL};
    etl_test_run(&run, b);
    if (run.status != 9 || !strstr(run.err.data, "past the 20% tolerance and the noise") ||
        !strstr(run.err.data, "REGRESSION") || !strstr(run.out.data, "\"ratio_min\":"))
        fail_msg("far-better baseline: exit %d\nstdout: %s\nstderr: %s", run.status, run.out.data,
                 run.err.data);
    etl_run_release(&run);
    tmpdir_is_empty();
}

static void test_bench_progress_lines_and_report(void **state)
{
    (void)state;
    char dir[4200];
    base_path("report", dir, sizeof(dir));
    const char *a[] = {"--db", server.conninfo, "--progress", "bench", "small", "copy", "--runs",
                       "2",    "--report",      dir,          NULL};
    etl_run run;
    etl_ok(a, &run);
    /* stderr is a pipe here: without --progress it would say nothing of the runs. */
    if (!strstr(run.err.data, "etl: bench small: round 2 of 2, copy"))
        fail_msg("--progress printed no line about the runs:\n%s", run.err.data);
    etl_run_release(&run);
    char path[4300];
    snprintf(path, sizeof(path), "%s/bench.svg", dir);
    char *svg = etl_test_read(path);
    if (!strstr(svg, "commit ") || !strstr(svg, "up to 2 runs") || !strstr(svg, "log scale") ||
        !strstr(svg, "1 = raw COPY"))
        fail_msg("the chart lacks its caption, ratios or log scale:\n%.2000s", svg);
    free(svg);
}

/* Start bench in a process group of its own (like a shell job), stderr to errfile. */
static pid_t spawn_bench(const char *errfile)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0)
            _exit(126);
        dup2(fd, 2);
        dup2(null, 1);
        const char *argv[] = {ETL_BINARY, "--db", server.conninfo, "bench", "small", "--runs",
                              "5",        NULL};
        execv(ETL_BINARY, (char *const *)(uintptr_t)argv); // NOLINT(performance-no-int-to-ptr)
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* The pid of a child of pid (an `etl process` run: with --db bench has no other), or 0. */
static pid_t child_of(pid_t pid)
{
    int child = 0;
    return etl_mem_children((int)pid, &child, 1) ? (pid_t)child : 0;
}

static void interrupt_bench(int sig, bool whole_group)
{
    char errfile[4200];
    base_path("interrupted.err", errfile, sizeof(errfile));
    pid_t pid = spawn_bench(errfile);
    pid_t child = 0;
    long long until = etl_test_now_ms() + 60000;
    while (!(child = child_of(pid)) && etl_test_now_ms() < until)
        etl_test_sleep_ms(5);
    if (!child)
        fail_msg("bench started no run within a minute");
    etl_test_sleep_ms(30); /* into the run: connected, loading */
    /* A terminal's Ctrl-C goes to the whole foreground group; kill(1) to one process. */
    kill(whole_group ? -pid : pid, sig);
    int status = -1;
    while (waitpid(pid, &status, 0) < 0)
        ;
    char *err = etl_test_read(errfile);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int lines = 0;
    for (const char *p = err; (p = strstr(p, "interrupted")) != NULL; p++)
        lines++;
    if (code != 7 || lines != 1 || strstr(err, "server closed") || strstr(err, "terminat"))
        fail_msg("bench after signal %d: exit %d (expected 7), %d lines saying interrupted "
                 "(expected 1), stderr:\n%s",
                 sig, code, lines, err);
    free(err);
    /* The child is gone, and so are the raw-copy files and the half-made run database. */
    assert_int_not_equal(kill(child, 0), 0);
    tmpdir_is_empty();
    char *left = etl_test_query_on(&server, "postgres",
                                   "SELECT count(*) FROM pg_database WHERE datname = "
                                   "'etl_run_small'");
    assert_string_equal(left, "0\n");
    free(left);
}

static void test_bench_ctrl_c_stops_quietly(void **state)
{
    (void)state;
    interrupt_bench(SIGINT, true);
}

static void test_bench_sigterm_stops_quietly(void **state)
{
    (void)state;
    interrupt_bench(SIGTERM, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_baseline_checked_before_running),
        cmocka_unit_test(test_bench_other_events_stop_early),
        cmocka_unit_test(test_bench_gate_judges_only_what_noise_allows),
        cmocka_unit_test(test_bench_progress_lines_and_report),
        cmocka_unit_test(test_bench_ctrl_c_stops_quietly),
        cmocka_unit_test(test_bench_sigterm_stops_quietly),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
