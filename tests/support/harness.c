/*
 * Test support implementation.  Runs etl with fork/execv (no shell, so
 * connection strings with spaces and quotes arrive intact) and collects
 * stdout and stderr through temporary files.
 */
#include "harness.h"

#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/config.h"
#include "etl/text.h"

/*
 * ETL_TEST_FILTER=PATTERN runs only the tests whose names match (cmocka's
 * own filter, * as wildcard), for working on one test of a long program.
 */
__attribute__((constructor)) static void filter_tests(void)
{
    const char *pattern = getenv("ETL_TEST_FILTER");
    if (pattern && *pattern)
        cmocka_set_test_filter(pattern);
}

static void slurp_fd(int fd, etl_buf *out)
{
    char chunk[8192];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        etl_buf_append(out, chunk, (size_t)n);
    if (!out->data)
        etl_buf_puts(out, "");
}

static int temp_fd(void)
{
    char path[] = "/tmp/etl-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* argv for execv: the etl binary, then args; free() the array (not the strings). */
static char **etl_argv(const char *const *args)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 2, sizeof(*argv));
    assert_non_null(argv);
    /* execv's argv is not const; the strings are never written. */
    argv[0] = (char *)(uintptr_t)ETL_BINARY; // NOLINT(performance-no-int-to-ptr)
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)(uintptr_t)args[i]; // NOLINT(performance-no-int-to-ptr)
    return argv;
}

/* A scenarios directory of the test's own: the shipped files, and processors.yaml given. */
void etl_test_scenarios_dir(const char *name, const char *processors, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ETL_TEST_WORKDIR, name);
    mkdir(out, 0755);
    char path[4200];
    char target[4200];
    static const char *const shared[] = {"scenarios.yaml", "forms", "fixtures"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", out, shared[i]);
        snprintf(target, sizeof(target), "%s/%s", ETL_TEST_SCENARIOS, shared[i]);
        unlink(path);
        assert_int_equal(symlink(target, path), 0);
    }
    snprintf(path, sizeof(path), "%s/processors.yaml", out);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(processors, f);
    fclose(f);
}

void etl_test_run(etl_run *run, const char *const *args)
{
    etl_test_run_in(run, NULL, args);
}

void etl_test_run_in(etl_run *run, const char *cwd, const char *const *args)
{
    memset(run, 0, sizeof(*run));
    char **argv = etl_argv(args);
    int out = temp_fd();
    int err = temp_fd();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out, 1);
        dup2(err, 2);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execv(ETL_BINARY, argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    run->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    slurp_fd(out, &run->out);
    slurp_fd(err, &run->err);
    close(out);
    close(err);
    free(argv);
}

int etl_test_spawn(const char *const *args)
{
    return etl_test_spawn_to(args, NULL);
}

int etl_test_spawn_to(const char *const *args, const char *err_path)
{
    char **argv = etl_argv(args);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : null;
        dup2(null, 0);
        dup2(null, 1);
        dup2(err >= 0 ? err : null, 2);
        execv(ETL_BINARY, argv);
        _exit(127);
    }
    free(argv);
    return (int)pid;
}

int etl_test_wait(int pid)
{
    int status = 0;
    waitpid((pid_t)pid, &status, 0);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void etl_run_release(etl_run *run)
{
    etl_buf_release(&run->out);
    etl_buf_release(&run->err);
}

void etl_test_server_dir(const char *name, char *out, size_t cap)
{
    /* Under /tmp, not the build tree: as root the server runs as `postgres`,
     * which may not reach a checkout under a 0700 home.  Named after the build
     * directory, so it is kept between runs (the template stays warm). */
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = ETL_TEST_WORKDIR; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    char base[64];
    snprintf(base, sizeof(base), "/tmp/etl-tests-%012llx",
             (unsigned long long)(h & 0xFFFFFFFFFFFFULL));
    mkdir(base, 0711);
    snprintf(out, cap, "%s/%s", base, name);
}

void etl_test_server_start(etl_test_server *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    const char *uri = getenv("ETL_TEST_PGURI");
    if (uri && *uri) {
        s->conninfo = uri;
        return;
    }
    static const etl_log quiet = {-1, false, false};
    char dir[4096];
    etl_test_server_dir(name, dir, sizeof(dir));
    etl_error err;
    etl_error_clear(&err);
    if (etl_server_start(&s->server, dir, &quiet, &err) != ETL_OK)
        fail_msg("cannot start the test PostgreSQL server in %s: %s", dir, err.msg);
    s->conninfo = etl_server_conninfo(s->server);
}

void etl_test_server_restart(etl_test_server *s, const char *name)
{
    assert_non_null(s->server); /* only a server of our own can be restarted */
    etl_test_server_stop(s);
    etl_test_server_start(s, name);
}

void etl_test_server_crash(etl_test_server *s, const char *name)
{
    assert_non_null(s->server); /* only a server of our own can be crashed */
    char *dir = etl_test_query_on(s, NULL, "SELECT current_setting('data_directory')");
    dir[strcspn(dir, "\n")] = '\0';
    char pidfile[4096];
    snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", dir);
    free(dir);
    FILE *f = fopen(pidfile, "r");
    char line[32] = "";
    if (f && !fgets(line, sizeof(line), f))
        line[0] = '\0';
    if (f)
        fclose(f);
    long pid = strtol(line, NULL, 10);
    if (pid <= 0)
        fail_msg("cannot read the postmaster's pid from %s", pidfile);
    kill((pid_t)pid, SIGQUIT); /* immediate shutdown: no checkpoint, WAL not yet written is lost */
    etl_test_server_stop(s);   /* reaps it */
    etl_test_server_start(s, name);
}

void etl_test_server_stop(etl_test_server *s)
{
    etl_server_stop(s->server);
    s->server = NULL;
}

etl_db *etl_test_connect(const etl_test_server *s, const char *dbname)
{
    static const etl_log quiet = {-1, false, false};
    etl_db *db = NULL;
    etl_error err;
    etl_error_clear(&err);
    if (etl_db_open(&db, s->conninfo, dbname, &quiet, &err) != ETL_OK)
        fail_msg("cannot connect to %s: %s", dbname ? dbname : "the test server", err.msg);
    return db;
}

char *etl_test_query_text(etl_db *db, const char *sql)
{
    etl_result *r = NULL;
    etl_error err;
    etl_error_clear(&err);
    if (etl_db_query(db, sql, 0, NULL, &r, &err) != ETL_OK)
        fail_msg("query failed: %s\n%s", err.msg, sql);
    etl_buf out = ETL_BUF_INIT;
    etl_buf_puts(&out, "");
    for (int i = 0; i < etl_result_rows(r); i++) {
        for (int c = 0; c < etl_result_cols(r); c++) {
            if (c)
                etl_buf_putc(&out, '|');
            etl_buf_puts(&out, etl_result_is_null(r, i, c) ? "<null>" : etl_result_get(r, i, c));
        }
        etl_buf_putc(&out, '\n');
    }
    etl_result_free(r);
    return etl_buf_detach(&out);
}

char *etl_test_conninfo_for(const etl_test_server *s, const char *dbname)
{
    char *pw = NULL;
    char *c = etl_db_conninfo_for(s->conninfo, dbname, &pw);
    assert_non_null(c);
    free(pw);
    return c;
}

void etl_test_exec_on(const etl_test_server *s, const char *dbname, const char *sql)
{
    etl_db *db = etl_test_connect(s, dbname);
    etl_error err;
    if (etl_db_exec(db, sql, &err) != ETL_OK)
        fail_msg("%s\n%s", err.msg, sql);
    etl_db_close(db);
}

char *etl_test_query_on(const etl_test_server *s, const char *dbname, const char *sql)
{
    etl_db *db = etl_test_connect(s, dbname);
    char *out = etl_test_query_text(db, sql);
    etl_db_close(db);
    return out;
}

bool etl_test_sessions_gone(const etl_test_server *s, const char *dbname)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = '%s' AND pid <> "
             "pg_backend_pid()",
             dbname);
    for (int i = 0; i < 500; i++) {
        char *gone = etl_test_query_on(s, dbname, sql);
        bool done = strcmp(gone, "t\n") == 0;
        free(gone);
        if (done)
            return true;
        etl_test_sleep_ms(10);
    }
    return false;
}

void etl_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

long long etl_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *etl_test_read(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    etl_error err;
    if (etl_read_file(path, &text, &len, &err) != ETL_OK)
        fail_msg("%s", err.msg);
    return text;
}

double etl_test_json_number(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

void etl_test_generate(const etl_test_server *s, const char *scenario)
{
    const char *args[] = {"--db", s->conninfo, "-q", "generate", scenario, NULL};
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != 0)
        fail_msg("generate %s: exit %d\n%s", scenario, run.status, run.err.data);
    etl_run_release(&run);
}

char *etl_test_fresh_app(const etl_test_server *s, const char *name, const char *scenario,
                         bool no_capture)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    etl_test_exec_on(s, NULL, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE \"etl_tpl_%s\" STRATEGY FILE_COPY",
             name, scenario);
    etl_test_exec_on(s, NULL, sql);
    char *ci = etl_test_conninfo_for(s, name);
    const char *args[] = {"--db", ci, "-q", "init", no_capture ? "--no-capture" : NULL, NULL};
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != 0)
        fail_msg("init %s: %s", name, run.err.data);
    etl_run_release(&run);
    return ci;
}
