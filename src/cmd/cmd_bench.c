/*
 * `etl bench SCENARIO [PROCESSOR...]`: run processors side by side on fresh
 * clones of a scenario, check they all wrote exactly the same events, and
 * measure each against raw-copy, PostgreSQL loading the same events already
 * formatted (the physical limit of this job on this machine).
 *
 * Each processor run is a child `etl process` on the server this command
 * holds, so its peak memory is its own and its RSS can be sampled from
 * /proc while it runs.  Rounds interleave the entries (every entry once per
 * round) so that a noisy neighbour slows all of them, not one.
 *
 * SIGINT and SIGTERM stop the running child in order (it runs in a process
 * group of its own, so a terminal's Ctrl-C reaches only this command), drop
 * the half-made run database and exit 7 with one message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench.h"
#include "cmd.h"
#include "exitcodes.h"
#include "progress.h"
#include "etl/loader.h"
#include "etl/clock.h"
#include "etl/mem.h"
#include "etl/text.h"

#include "banned.h"

#ifndef ETL_COMMIT
#define ETL_COMMIT "unknown" /* built outside git, or by something other than CMakeLists.txt */
#endif

static const char help[] =
    "Usage: etl bench SCENARIO [PROCESSOR...] [options]\n\n"
    "Run each PROCESSOR (default: all) --runs times on a fresh clone of SCENARIO's\n"
    "template, check that all wrote exactly the same events (a checksum over every\n"
    "column but id and processed_on), and print the median elapsed time, events/s,\n"
    "peak memory and the ratio to raw-copy: the same events, preformatted in a file,\n"
    "loaded with nothing but COPY (text and binary; the faster one is the reference).\n\n"
    "Options:\n"
    "  --runs N          runs per entry (default 3)\n"
    "  --budget S        seconds a processor may take over all its runs (default 300);\n"
    "                    a run past it is stopped and the processor reported as skipped\n"
    "  --jobs N          passed to `etl process --jobs N` for the processors that take it;\n"
    "                    raw-copy then loads the events in the same N parts over N\n"
    "                    connections at once (the N-stream limit)\n"
    "  --json            print the result as JSON (what --baseline reads)\n"
    "  --baseline FILE   compare with a saved --json result of the same scenario (checked\n"
    "                    before anything runs): exit 9 if the events differ, or if a\n"
    "                    processor's ratio to raw-copy fell by more than --tolerance AND\n"
    "                    by more than the spread of both runs (needs 3 runs on each side)\n"
    "  --tolerance PCT   allowed fall of a ratio against the baseline (default 20)\n"
    "  --report DIR      write DIR/bench.txt, bench.json and bench.svg (a chart)\n"
    "  -h, --help        this help\n\n"
    "Every figure is shown as median (min-max) over the runs.  On a terminal, or with\n"
    "--progress, it shows which run is going on.  SIGINT or SIGTERM stops the running\n"
    "child and exits 7.\n\n"
    "Exit status: 0 done; 1 a run failed or the processors' events differ; 2 usage\n"
    "(also a --baseline of another scenario, or lacking a processor); 7 interrupted;\n"
    "9 worse than the baseline; see docs/performance.md.\n\n";

#define SAMPLE_MS 20

typedef struct bench_ctx {
    etl_cli *cli;
    etl_session session;
    const char *scenario;
    char tpl[256];
    char run[256];
    char exe[PATH_MAX];
    char tmpdir[PATH_MAX]; /* raw-copy's files, "" until exported */
    const char *jobs;
    int parts; /* raw-copy's streams: --jobs N loads N parts at once, as N workers do */
    double budget_s;
    cli_progress progress;
    const volatile sig_atomic_t *stop; /* set by SIGINT or SIGTERM */
    const bench_baseline *base;        /* --baseline, or NULL */
    bool events_differ;                /* from the baseline's: stopped after the first run */
    int round, rounds;                 /* for the progress line */
    int run_no, total_runs;            /* runs started so far, and at most */
    char interrupted_in[80];           /* what was going on when a stop came */
} bench_ctx;

static void series_add(bench_series *s, long ms, long kib)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        long *a = realloc(s->ms, cap * sizeof(*a));
        if (!a)
            return; /* a shorter chart, not a failed bench */
        s->ms = a;
        long *b = realloc(s->kib, cap * sizeof(*b));
        if (!b)
            return;
        s->kib = b;
        s->cap = cap;
    }
    s->ms[s->n] = ms;
    s->kib[s->n] = kib;
    s->n++;
}

static void show_progress(bench_ctx *b, const char *name, double secs)
{
    cli_progress_update(&b->progress, "round %d of %d, %s (run %d of at most %d), %.0f s",
                        b->round + 1, b->rounds, name, b->run_no, b->total_runs, secs);
}

/* Read what is there on fd into out; false at the end (or on an error). */
static bool drain(int fd, etl_buf *out)
{
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof(chunk));
    if (got > 0) {
        etl_buf_append(out, chunk, (size_t)got);
        return true;
    }
    return got < 0 && errno == EINTR;
}

/* The child's stderr, last line only, for an error message ("" if it said nothing). */
static const char *last_line(etl_buf *text)
{
    if (!text->data || !text->len)
        return "";
    while (text->len && text->data[text->len - 1] == '\n')
        text->data[--text->len] = '\0';
    const char *nl = strrchr(text->data, '\n');
    return nl ? nl + 1 : text->data;
}

/*
 * Stop the child: SIGTERM lets an `etl process` that handles it roll back
 * and exit; one that does not dies of it, silently.  SIGKILL only if it is
 * still there after a few seconds.  Its process group holds it and, with
 * --jobs, its workers.
 */
static void stop_child(pid_t pid)
{
    kill(-pid, SIGTERM); /* its group: with --jobs, its workers too */
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) != 0)
            return;
        struct timespec ts = {0, 10000000L}; /* 10 ms */
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/*
 * Run `ETL_DB=CONNINFO etl -q process SCENARIO PROCESSOR --json` as a child,
 * collect its stdout (and its stderr, shown only if it fails), sample its
 * memory into mem (if not NULL), and stop it if it runs past limit_s or a
 * stop signal comes.  *timed_out tells which happened; ETL_ERR_INTERRUPTED
 * after a stop.
 */
static int run_child(bench_ctx *b, const char *processor, double limit_s, etl_buf *out,
                     bench_series *mem, bool *timed_out, etl_error *err)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = b->exe;
    argv[n++] = "-q";
    if (b->cli->scenarios) {
        argv[n++] = "--scenarios";
        argv[n++] = b->cli->scenarios;
    }
    argv[n++] = "process";
    argv[n++] = b->scenario;
    argv[n++] = processor;
    argv[n++] = "--json";
    if (b->jobs) {
        argv[n++] = "--jobs";
        argv[n++] = b->jobs;
    }
    argv[n] = NULL;
    int fd[2];
    int efd[2];
    if (pipe(fd) != 0)
        return etl_error_set(err, ETL_ERR_IO, "bench: pipe: %s", strerror(errno));
    if (pipe(efd) != 0) {
        close(fd[0]);
        close(fd[1]);
        return etl_error_set(err, ETL_ERR_IO, "bench: pipe: %s", strerror(errno));
    }
    long long t0 = etl_now_us();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        close(efd[0]);
        close(efd[1]);
        return etl_error_set(err, ETL_ERR_IO, "bench: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /*
         * A process group of its own: a terminal's Ctrl-C goes to the
         * foreground group, and the child must not die of it half-way
         * through a statement (libpq then prints "server closed the
         * connection").  We stop it ourselves, in order.
         */
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        /* The connection string in the environment, not in argv, where ps would show it. */
        setenv("ETL_DB", b->session.conninfo, 1);
        unsetenv("ETL_TARGET");
        dup2(fd[1], 1);
        dup2(efd[1], 2);
        close(fd[0]);
        close(fd[1]);
        close(efd[0]);
        close(efd[1]);
        /* execv's prototype predates const; it does not modify the strings. */
        execv(b->exe, (char *const *)(uintptr_t)argv); // NOLINT(performance-no-int-to-ptr)
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists before a signal */
    close(fd[1]);
    close(efd[1]);
    *timed_out = false;
    bool stopped = false;
    bool open = true;
    bool eopen = true;
    etl_buf errtext = ETL_BUF_INIT;
    while (open || eopen) {
        struct pollfd p[2] = {{.fd = open ? fd[0] : -1, .events = POLLIN, .revents = 0},
                              {.fd = eopen ? efd[0] : -1, .events = POLLIN, .revents = 0}};
        if (poll(p, 2, SAMPLE_MS) > 0) {
            if (p[0].revents)
                open = drain(fd[0], out);
            if (p[1].revents)
                eopen = drain(efd[0], &errtext);
        }
        long ms = (long)((etl_now_us() - t0) / 1000);
        if (*b->stop) {
            stopped = true;
            break;
        }
        long kib = etl_mem_rss_kib_of((int)pid);
        if (mem && kib > 0)
            series_add(mem, ms, kib);
        if (!*timed_out && (double)ms / 1000.0 > limit_s) {
            *timed_out = true;
            kill(-pid, SIGKILL); /* its group: with --jobs, its workers too */
        }
        show_progress(b, processor, (double)ms / 1000.0);
    }
    close(fd[0]);
    close(efd[0]);
    int status = 0;
    if (stopped)
        stop_child(pid);
    else
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    int rc = ETL_OK;
    if (stopped)
        rc = ETL_ERR_INTERRUPTED;
    else if (!*timed_out && (!WIFEXITED(status) ||
                             (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != ETL_EXIT_REJECTS)))
        rc = etl_error_set(err, ETL_ERR_IO,
                           "bench: `etl process %s %s` failed (exit %d%s%s); run it by hand to see "
                           "more",
                           b->scenario, processor, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                           errtext.len ? ": " : "", last_line(&errtext));
    etl_buf_release(&errtext);
    return rc;
}

/*
 * An order-independent checksum of the run database's events: two sums of
 * 60-bit slices of each row's md5, over every column but id and
 * processed_on, plus the row count.
 */
static int checksum(bench_ctx *b, long long *events, char *out, size_t cap, etl_error *err)
{
    static const char sql[] =
        "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0) || '-' || "
        "coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) FROM ("
        "SELECT md5(concat_ws(chr(31), form_id, form_name, user_id, user_full_name, "
        "submission_id, submission_created, schema_path, value, answer_type, "
        "coalesce(tag, chr(30)))) AS h FROM dwh.response_events) t";
    etl_db *db = NULL;
    etl_result *r = NULL;
    int rc = etl_db_open(&db, b->session.conninfo, b->run, &b->cli->log, err);
    if (rc == ETL_OK)
        rc = etl_db_query(db, sql, 0, NULL, &r, err);
    if (rc == ETL_OK) {
        *events = strtoll(etl_result_get(r, 0, 0), NULL, 10);
        snprintf(out, cap, "%s", etl_result_get(r, 0, 1));
    }
    etl_result_free(r);
    etl_db_close(db);
    return rc;
}

static int file_sink(void *ctx, const char *data, size_t len, etl_error *err)
{
    if (fwrite(data, 1, len, ctx) != len)
        return etl_error_set(err, ETL_ERR_IO, "bench: cannot write raw-copy data: %s",
                             strerror(errno));
    return ETL_OK;
}

/* A raw-copy file's path: tmpdir, "/events.", the part, ".bin". */
#define RAW_PATH_MAX (PATH_MAX + 48)

/* Part k of the saved events (of b->parts). */
static void raw_path(const bench_ctx *b, bool binary, int k, char *out, size_t cap)
{
    snprintf(out, cap, "%s/events.%d.%s", b->tmpdir, k, binary ? "bin" : "txt");
}

/* Save the run database's events in both COPY formats for raw-copy. */
static int export_events(bench_ctx *b, etl_error *err)
{
    snprintf(b->tmpdir, sizeof(b->tmpdir), "%s/etl-bench-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(b->tmpdir)) {
        b->tmpdir[0] = '\0';
        return etl_error_set(err, ETL_ERR_IO, "bench: cannot create a directory under $TMPDIR: %s",
                             strerror(errno));
    }
    etl_db *db = NULL;
    int rc = etl_db_open(&db, b->session.conninfo, b->run, &b->cli->log, err);
    for (int i = 0; i < 2 * b->parts && rc == ETL_OK; i++) {
        bool binary = i % 2;
        int k = i / 2;
        char path[RAW_PATH_MAX];
        char sql[512];
        raw_path(b, binary, k, path, sizeof(path));
        /* The parts the --jobs workers take: by the last byte of the submission id. */
        snprintf(sql, sizeof(sql),
                 "COPY (SELECT " ETL_EVENT_COLUMNS " FROM dwh.response_events WHERE "
                 "get_byte(uuid_send(submission_id), 15) %% %d = %d) TO STDOUT%s",
                 b->parts, k, binary ? " (FORMAT binary)" : "");
        FILE *f = fopen(path, "w");
        if (!f) {
            rc = etl_error_set(err, ETL_ERR_IO, "bench: %s: %s", path, strerror(errno));
            break;
        }
        rc = etl_db_copy_out(db, sql, file_sink, f, err);
        if (fclose(f) != 0 && rc == ETL_OK)
            rc = etl_error_set(err, ETL_ERR_IO, "bench: %s: %s", path, strerror(errno));
    }
    etl_db_close(db);
    return rc;
}

static int fresh_run_db(bench_ctx *b, etl_error *err)
{
    int rc = cli_drop_db(&b->session, b->run, err);
    return rc == ETL_OK ? cli_create_db(&b->session, b->run, b->tpl, b->scenario, err) : rc;
}

/*
 * Load part k of the saved events with COPY alone, in a transaction of its
 * own; with truncate, after a TRUNCATE in it, as a one-job scenario run does
 * (see empty_target in pipeline.h), so the rows skip WAL.
 */
static int raw_copy_part(bench_ctx *b, bool binary, int k, bool truncate, etl_error *err)
{
    char path[RAW_PATH_MAX];
    raw_path(b, binary, k, path, sizeof(path));
    etl_db *db = NULL;
    int rc = etl_db_open(&db, b->session.conninfo, b->run, &b->cli->log, err);
    FILE *f = rc == ETL_OK ? fopen(path, "r") : NULL;
    if (rc == ETL_OK && !f)
        rc = etl_error_set(err, ETL_ERR_IO, "bench: %s: %s", path, strerror(errno));
    if (rc == ETL_OK)
        rc = etl_db_exec(db, truncate ? "BEGIN; TRUNCATE dwh.response_events" : "BEGIN", err);
    if (rc == ETL_OK)
        rc = etl_db_copy_begin(
            db,
            binary ? "COPY dwh.response_events (" ETL_EVENT_COLUMNS ") FROM STDIN (FORMAT binary)"
                   : "COPY dwh.response_events (" ETL_EVENT_COLUMNS ") FROM STDIN",
            err);
    static char chunk[1 << 20];
    size_t got;
    while (rc == ETL_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = etl_db_copy_put(db, chunk, got, err);
    if (rc == ETL_OK)
        rc = etl_db_copy_end(db, NULL, err);
    if (rc == ETL_OK)
        rc = etl_db_exec(db, "COMMIT", err);
    if (f)
        fclose(f);
    etl_db_close(db);
    return rc;
}

/*
 * raw-copy: the saved events into an empty table with COPY alone, timed from
 * the first BEGIN to the last COMMIT.  With --jobs N, N parts over N
 * connections at once (N processes), like the N workers; no TRUNCATE then,
 * as they cannot either.
 */
static int raw_copy(bench_ctx *b, bool binary, double *secs, etl_error *err)
{
    int rc = fresh_run_db(b, err);
    if (rc != ETL_OK)
        return rc;
    long long t0 = etl_now_us();
    if (b->parts == 1) {
        rc = raw_copy_part(b, binary, 0, true, err);
        *secs = (double)(etl_now_us() - t0) / 1e6;
        return rc;
    }
    pid_t pids[64];
    int started = 0;
    fflush(NULL);
    for (int k = 0; k < b->parts; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = etl_error_set(err, ETL_ERR_IO, "bench: fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            etl_error mine;
            int part = raw_copy_part(b, binary, k, false, &mine);
            if (part != ETL_OK)
                etl_log_error("bench: raw-copy part %d of %d: %s", k + 1, b->parts, mine.msg);
            _exit(part == ETL_OK ? 0 : 1); /* not exit(): the session is the parent's */
        }
        pids[started++] = pid;
    }
    for (int k = 0; k < started; k++) {
        int status = 0;
        while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR)
            ;
        if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) && rc == ETL_OK)
            rc = etl_error_set(err, ETL_ERR_DB, "bench: raw-copy part %d of %d failed", k + 1,
                               b->parts);
    }
    *secs = (double)(etl_now_us() - t0) / 1e6;
    return rc;
}

/* One run of one entry; a checksum that differs from the first one fails the bench. */
static int run_entry(bench_ctx *b, bench_result *res, bench_entry *e, int round, etl_error *err)
{
    double secs = 0;
    long rss = 0;
    int rc;
    if (*b->stop) {
        snprintf(b->interrupted_in, sizeof(b->interrupted_in), "before round %d of %d (%s)",
                 round + 1, b->rounds, e->name);
        return ETL_ERR_INTERRUPTED;
    }
    b->run_no++;
    show_progress(b, e->name, 0);
    if (e->reference) {
        rc = raw_copy(b, strcmp(e->name, "raw-copy-binary") == 0, &secs, err);
    } else {
        double spent = 0;
        for (int i = 0; i < e->runs; i++)
            spent += e->elapsed[i];
        etl_buf out = ETL_BUF_INIT;
        bool timed_out = false;
        rc = run_child(b, e->name, b->budget_s - spent, &out, round == 0 ? &e->mem : NULL,
                       &timed_out, err);
        if (rc == ETL_OK && timed_out) {
            snprintf(e->note, sizeof(e->note), "stopped: over the %.0f s budget (--budget)%s",
                     b->budget_s, e->runs ? " after fewer runs" : "");
            e->skipped = e->runs == 0;
            etl_buf_release(&out);
            return ETL_OK;
        }
        cJSON *j = rc == ETL_OK ? cJSON_Parse(out.data ? out.data : "") : NULL;
        if (rc == ETL_OK && !j)
            rc = etl_error_set(err, ETL_ERR_IO, "bench: `etl process %s %s` printed no JSON",
                               b->scenario, e->name);
        if (j) {
            secs = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "elapsed_s"));
            rss = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "peak_rss_kib"));
            cJSON_Delete(j);
        }
        etl_buf_release(&out);
    }
    /* A stop during raw-copy (in this process) is noticed here, after its COMMIT. */
    if (rc == ETL_OK && *b->stop)
        rc = ETL_ERR_INTERRUPTED;
    if (rc == ETL_ERR_INTERRUPTED) {
        snprintf(b->interrupted_in, sizeof(b->interrupted_in), "during round %d of %d (%s)",
                 round + 1, b->rounds, e->name);
        return rc;
    }
    long long events = 0;
    char sum[96] = "";
    if (rc == ETL_OK)
        rc = checksum(b, &events, sum, sizeof(sum), err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "bench %s, %s", b->scenario, e->name);
    if (!res->checksum[0]) {
        snprintf(res->checksum, sizeof(res->checksum), "%s", sum);
        res->checksum_from = e->name;
        res->events = events;
        /* Other events than the baseline's: nothing after this can pass, so stop now. */
        if (b->base && (events != b->base->events || strcmp(sum, b->base->checksum) != 0))
            b->events_differ = true;
    } else if (strcmp(sum, res->checksum) != 0 || events != res->events) {
        return etl_error_set(err, ETL_ERR_IO,
                             "bench %s: %s wrote different events than %s: %lld events, checksum "
                             "%s; expected %lld, %s.  Compare them with `etl process` and "
                             "`etl psql`",
                             b->scenario, e->name, res->checksum_from, events, sum, res->events,
                             res->checksum);
    }
    e->events = events;
    snprintf(e->checksum, sizeof(e->checksum), "%s", sum);
    e->elapsed[e->runs] = secs;
    e->rss_kib[e->runs] = rss;
    e->runs++;
    return ETL_OK;
}

/* Would another run of e still fit in the budget?  Not for references. */
static bool wants_run(const bench_ctx *b, const bench_entry *e, int round)
{
    if (e->runs < round || e->skipped)
        return false; /* it stopped earlier */
    if (e->reference || e->runs == 0)
        return true;
    double spent = 0;
    double worst = 0;
    for (int i = 0; i < e->runs; i++) {
        spent += e->elapsed[i];
        worst = e->elapsed[i] > worst ? e->elapsed[i] : worst;
    }
    return spent + worst <= b->budget_s;
}

static int run_rounds(bench_ctx *b, bench_result *res, int runs, etl_error *err)
{
    int rc = ETL_OK;
    b->rounds = runs;
    b->total_runs = runs * (int)res->n;
    for (int round = 0; round < runs && rc == ETL_OK && !b->events_differ; round++) {
        b->round = round;
        for (size_t i = 0; i < res->n && rc == ETL_OK && !b->events_differ; i++) {
            bench_entry *e = &res->entries[i];
            if (e->reference && !b->tmpdir[0])
                continue; /* round 0: after the first processor has run */
            if (!wants_run(b, e, round)) {
                if (!e->note[0] && !e->reference)
                    snprintf(e->note, sizeof(e->note),
                             "%d of %d runs: the next would pass the "
                             "%.0f s budget (--budget)",
                             e->runs, runs, b->budget_s);
                continue;
            }
            rc = run_entry(b, res, e, round, err);
            if (rc == ETL_OK && !e->reference && !b->tmpdir[0] && e->runs == 1 && !b->events_differ)
                rc = export_events(b, err);
        }
        /* References sit first in the table: in round 0 they run after a processor. */
        for (size_t i = 0; round == 0 && i < res->n && rc == ETL_OK && !b->events_differ; i++)
            if (res->entries[i].reference && res->entries[i].runs == 0 && b->tmpdir[0])
                rc = run_entry(b, res, &res->entries[i], round, err);
    }
    return rc;
}

static int add_entries(bench_result *res, const etl_config *config, int argc, char **argv,
                       etl_error *err)
{
    size_t nproc = argc > 0 ? (size_t)argc : config->nprocessors;
    res->entries = calloc(nproc + 2, sizeof(*res->entries));
    if (!res->entries)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    res->entries[0].name = "raw-copy-text";
    res->entries[0].reference = true;
    res->entries[1].name = "raw-copy-binary";
    res->entries[1].reference = true;
    res->n = 2;
    for (size_t i = 0; i < nproc; i++) {
        const etl_processor_cfg *p = NULL;
        if (argc > 0) {
            int rc = cli_find_processor(config, argv[i], &p, err);
            if (rc != ETL_OK)
                return rc;
        } else {
            p = &config->processors[i];
        }
        res->entries[res->n++].name = p->name;
    }
    return ETL_OK;
}

static void free_entries(bench_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        free(res->entries[i].mem.ms);
        free(res->entries[i].mem.kib);
    }
    free(res->entries);
}

static void remove_raw_files(bench_ctx *b)
{
    if (!b->tmpdir[0])
        return;
    for (int i = 0; i < 2 * b->parts; i++) {
        char path[RAW_PATH_MAX];
        raw_path(b, i % 2, i / 2, path, sizeof(path));
        unlink(path);
    }
    rmdir(b->tmpdir);
}

typedef struct bench_opts {
    const char *runs, *budget, *jobs, *baseline, *tolerance, *report;
    bool json;
} bench_opts;

static int parse_numbers(const bench_opts *o, unsigned long long *runs, unsigned long long *budget,
                         unsigned long long *tol, unsigned long long *jobs)
{
    if (o->runs && etl_parse_ull(o->runs, 1, BENCH_MAX_RUNS, runs) != 0)
        return cli_usage("bench", "--runs: '%s' is not a whole number from 1 to %d", o->runs,
                         BENCH_MAX_RUNS);
    if (o->budget && etl_parse_ull(o->budget, 1, 86400ULL * 7, budget) != 0)
        return cli_usage("bench", "--budget: '%s' is not a number of seconds from 1 to 604800",
                         o->budget);
    if (o->tolerance && etl_parse_ull(o->tolerance, 0, 100, tol) != 0)
        return cli_usage("bench", "--tolerance: '%s' is not a percentage from 0 to 100",
                         o->tolerance);
    if (o->jobs && etl_parse_ull(o->jobs, 1, 64, jobs) != 0)
        return cli_usage("bench", "--jobs: '%s' is not a whole number from 1 to 64", o->jobs);
    return ETL_OK;
}

/*
 * The scenario to suggest when this one is too small to time: the smallest
 * whose submissions, scaled by how much longer runs must be, reach the
 * BENCH_MIN_TIMED_S floor (with room to spare); else the biggest.
 */
static const char *bigger_scenario(const etl_config *config, const etl_scenario_cfg *sc,
                                   double fastest_s)
{
    double factor = fastest_s > 0 ? 2 * BENCH_MIN_TIMED_S / fastest_s : 1000;
    double want = (double)(sc->submissions ? sc->submissions : 1) * factor;
    const etl_scenario_cfg *best = NULL;
    const etl_scenario_cfg *biggest = NULL;
    for (size_t i = 0; i < config->nscenarios; i++) {
        const etl_scenario_cfg *c = &config->scenarios[i];
        if (c->submissions <= sc->submissions)
            continue;
        if ((double)c->submissions >= want && (!best || c->submissions < best->submissions))
            best = c;
        if (!biggest || c->submissions > biggest->submissions)
            biggest = c;
    }
    return best ? best->name : biggest ? biggest->name : NULL;
}

/* After a stop: the running child is gone; say so once and leave nothing half-made behind. */
static int interrupted(bench_ctx *b, etl_error *err)
{
    etl_error ignored;
    etl_error_clear(&ignored);
    /* Its clone holds a rolled-back or partial run: not worth keeping. */
    bool dropped = cli_drop_db(&b->session, b->run, &ignored) == ETL_OK;
    return etl_error_set(err, ETL_ERR_INTERRUPTED,
                         "bench %s: interrupted %s: that run was stopped%s; nothing was compared "
                         "or reported",
                         b->scenario, b->interrupted_in,
                         dropped ? " and its run database dropped" : "");
}

int cmd_bench(int argc, char **argv, etl_cli *cli)
{
    bench_opts o;
    memset(&o, 0, sizeof(o));
    const cli_option opts[] = {{"runs", NULL, &o.runs},         {"budget", NULL, &o.budget},
                               {"jobs", NULL, &o.jobs},         {"json", &o.json, NULL},
                               {"baseline", NULL, &o.baseline}, {"tolerance", NULL, &o.tolerance},
                               {"report", NULL, &o.report},     {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "bench", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind < 1)
        return cli_usage("bench", "bench: expected SCENARIO [PROCESSOR...]");
    unsigned long long runs = 3;
    unsigned long long budget = 300;
    unsigned long long tol = 20;
    unsigned long long jobs = 1;
    if (parse_numbers(&o, &runs, &budget, &tol, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;

    bench_ctx b;
    memset(&b, 0, sizeof(b));
    b.cli = cli;
    b.scenario = argv[optind];
    b.jobs = o.jobs;
    b.parts = (int)jobs;
    b.budget_s = (double)budget;
    cli_template_db(b.scenario, b.tpl, sizeof(b.tpl));
    cli_run_db(b.scenario, b.run, sizeof(b.run));
    ssize_t n = readlink("/proc/self/exe", b.exe, sizeof(b.exe) - 1);
    b.exe[n > 0 ? n : 0] = '\0';

    bench_result res;
    memset(&res, 0, sizeof(res));
    res.scenario = b.scenario;
    res.commit = ETL_COMMIT;
    res.runs_asked = (int)runs;
    res.jobs = (int)jobs;
    char now[64];
    etl_utc_now(now, sizeof(now));
    snprintf(res.date, sizeof(res.date), "%.16s UTC", now);
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    bench_baseline base;
    memset(&base, 0, sizeof(base));
    bool exists = false;
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, b.scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = add_entries(&res, config, argc - optind - 1, argv + optind + 1, &err);
    /* The baseline is checked before anything runs: a wrong one costs seconds, not the bench. */
    if (rc == ETL_OK && o.baseline && (rc = bench_baseline_load(&base, o.baseline, &err)) == ETL_OK)
        rc = bench_baseline_check(&base, o.baseline, &res, &err);
    if (rc == ETL_OK && o.baseline)
        b.base = &base;
    if (rc == ETL_OK && o.baseline && (base.entries && runs < BENCH_MIN_JUDGED_RUNS))
        etl_log_info(&cli->log,
                     "bench: --runs %llu: fewer than %d runs measure no noise, so ratios will be "
                     "shown against %s but not judged",
                     runs, BENCH_MIN_JUDGED_RUNS, o.baseline);
    /* From here a stop signal is ours to handle: the children and the server stay in order. */
    b.stop = cli_catch_stop();
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &b.session, &err);
    if (rc == ETL_OK && (rc = cli_db_exists(&b.session, b.tpl, &exists, &err)) == ETL_OK && !exists)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "scenario %s has no template database yet; run `etl generate %s` first",
                           b.scenario, b.scenario);
    if (rc == ETL_OK) {
        char what[64];
        snprintf(what, sizeof(what), "bench %s", b.scenario);
        cli_progress_start(&b.progress, cli, what);
        rc = run_rounds(&b, &res, (int)runs, &err);
        cli_progress_end(&b.progress);
    }
    remove_raw_files(&b);
    if (rc == ETL_ERR_INTERRUPTED)
        rc = interrupted(&b, &err);
    cli_session_close(&b.session);
    int status = rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
    if (rc != ETL_OK && o.json)
        cli_json_error(err.msg, status);
    FILE *gate = o.json ? stderr : stdout;
    if (rc == ETL_OK && b.events_differ) {
        fprintf(gate,
                "baseline: events differ: %lld (checksum %s) now, %lld (checksum %s) in %s: "
                "REGRESSION (stopped after the first run: no processor can pass)\n",
                res.events, res.checksum, base.events, base.checksum, o.baseline);
        etl_log_error("bench %s: the events differ from --baseline %s: was the scenario "
                      "generated with another seed, or did the transform change?",
                      b.scenario, o.baseline);
        status = ETL_EXIT_REGRESSION;
        if (o.json)
            cli_json_error("the events differ from --baseline's", status);
    } else if (rc == ETL_OK) {
        bench_summarize(&res);
        if (o.json)
            bench_print_json(stdout, &res);
        else
            bench_print_table(stdout, &res);
        char warning[512];
        if (sc && bench_too_small(&res, bigger_scenario(config, sc, res.fastest_s), warning,
                                  sizeof(warning)))
            etl_log_info(&cli->log, "%s", warning);
        if (o.report && bench_write_report(o.report, &res) != 0) {
            etl_log_error("bench: --report %s: %s", o.report, strerror(errno));
            status = ETL_EXIT_FAILURE;
        }
        if (o.baseline && status == ETL_EXIT_OK) {
            status = bench_compare(&base, o.baseline, &res, (double)tol, gate);
            if (status != ETL_EXIT_OK)
                etl_log_error("bench %s: slower than --baseline %s beyond the %llu%% tolerance "
                              "and the noise (the lines starting baseline: say which)",
                              b.scenario, o.baseline, tol);
        }
    }
    bench_baseline_release(&base);
    free_entries(&res);
    etl_config_free(config);
    return status;
}
