/*
 * The bench engine behind `etl bench`: each processor run is a child `etl
 * process --json` on the server the command holds, so its peak memory is
 * its own and its RSS can be sampled from /proc while it runs; raw-copy
 * loads the first run's events, saved in both COPY formats, with COPY
 * alone.  Rounds interleave the entries (every entry once per round) so
 * that a noisy neighbour slows all of them, not one.  Never prints: the
 * command draws the progress this reports and renders the result.
 *
 * A child runs in a process group of its own, so a terminal's Ctrl-C
 * reaches only the command, which sets the stop flag; the engine then
 * stops the child in order (SIGTERM to its group, SIGKILL if it lingers).
 */
#include "etl/bench_engine.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etl/buf.h"
#include "etl/clock.h"
#include "etl/db.h"
#include "etl/loader.h"
#include "etl/mem.h"
#include "etl/summary.h"
#include "etl/workers.h"

#include "banned.h"

#define SAMPLE_MS 20

/* A raw-copy file's path: tmpdir, "/events.", the part, ".bin". */
#define RAW_PATH_MAX (PATH_MAX + 48)

typedef struct engine {
    const etl_bench_cfg *cfg;
    bench_result *res;
    etl_bench_outcome *out;
    char tmpdir[PATH_MAX]; /* raw-copy's files, "" until exported */
    char jobs[16];         /* --jobs for the children, "" for none */
    int round, rounds;     /* for the progress */
    int run_no, total_runs;
} engine;

static bool stopped(const engine *b)
{
    return b->cfg->stop && *b->cfg->stop;
}

static void show_progress(const engine *b, const char *name, double secs)
{
    if (!b->cfg->progress)
        return;
    etl_bench_progress p = {name, b->round, b->rounds, b->run_no, b->total_runs, secs};
    b->cfg->progress(b->cfg->ctx, &p);
}

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
static int run_child(engine *b, const char *processor, double limit_s, etl_buf *out,
                     bench_series *mem, bool *timed_out, etl_error *err)
{
    const etl_bench_cfg *cfg = b->cfg;
    const char *argv[16];
    int n = 0;
    argv[n++] = cfg->exe;
    argv[n++] = "-q";
    if (cfg->scenarios) {
        argv[n++] = "--scenarios";
        argv[n++] = cfg->scenarios;
    }
    argv[n++] = "process";
    argv[n++] = b->res->scenario;
    argv[n++] = processor;
    argv[n++] = "--json";
    if (b->jobs[0]) {
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
        setenv("ETL_DB", cfg->conninfo, 1);
        unsetenv("ETL_TARGET");
        dup2(fd[1], 1);
        dup2(efd[1], 2);
        close(fd[0]);
        close(fd[1]);
        close(efd[0]);
        close(efd[1]);
        /* execv's prototype predates const; it does not modify the strings. */
        execv(cfg->exe, (char *const *)(uintptr_t)argv); // NOLINT(performance-no-int-to-ptr)
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first, the group exists before a signal */
    close(fd[1]);
    close(efd[1]);
    *timed_out = false;
    bool stop = false;
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
        if (stopped(b)) {
            stop = true;
            break;
        }
        /* With --jobs the largest worker's, as the summary's peak (worker_peak_rss_kib). */
        long kib = b->res->jobs > 1 ? etl_mem_rss_kib_largest_child((int)pid)
                                    : etl_mem_rss_kib_of((int)pid);
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
    if (stop)
        stop_child(pid);
    else
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    int rc = ETL_OK;
    if (stop)
        rc = ETL_ERR_INTERRUPTED;
    else if (!*timed_out && (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 &&
                                                    WEXITSTATUS(status) != cfg->rejects_exit)))
        rc =
            etl_error_set(err, ETL_ERR_IO,
                          "bench: `etl process %s %s` failed (exit %d%s%s); run it by hand to see "
                          "more",
                          b->res->scenario, processor, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                          errtext.len ? ": " : "", last_line(&errtext));
    etl_buf_release(&errtext);
    return rc;
}

/*
 * An order-independent checksum of the run database's events: two sums of
 * 60-bit slices of each row's md5, over every column but id and
 * processed_on, plus the row count.
 */
static int checksum(const engine *b, long long *events, char *out, size_t cap, etl_error *err)
{
    static const char sql[] =
        "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 15))::bit(60)::bigint), 0) || '-' || "
        "coalesce(sum(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) FROM ("
        "SELECT md5(concat_ws(chr(31), form_id, form_name, user_id, user_full_name, "
        "submission_id, submission_created, schema_path, value, answer_type, "
        "coalesce(tag, chr(30)))) AS h FROM dwh.response_events) t";
    etl_db *db = NULL;
    etl_result *r = NULL;
    int rc = etl_db_open(&db, b->cfg->conninfo, b->cfg->run_db, b->cfg->log, err);
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

/* Part k of the saved events (of res->jobs). */
static void raw_path(const engine *b, bool binary, int k, char *out, size_t cap)
{
    snprintf(out, cap, "%s/events.%d.%s", b->tmpdir, k, binary ? "bin" : "txt");
}

/* Save the run database's events in both COPY formats for raw-copy. */
static int export_events(engine *b, etl_error *err)
{
    snprintf(b->tmpdir, sizeof(b->tmpdir), "%s/etl-bench-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(b->tmpdir)) {
        b->tmpdir[0] = '\0';
        return etl_error_set(err, ETL_ERR_IO, "bench: cannot create a directory under $TMPDIR: %s",
                             strerror(errno));
    }
    int parts = b->res->jobs;
    etl_db *db = NULL;
    int rc = etl_db_open(&db, b->cfg->conninfo, b->cfg->run_db, b->cfg->log, err);
    for (int i = 0; i < 2 * parts && rc == ETL_OK; i++) {
        bool binary = i % 2;
        int k = i / 2;
        char path[RAW_PATH_MAX];
        char sql[512];
        raw_path(b, binary, k, path, sizeof(path));
        /* The parts the --jobs workers take: by the last byte of the submission id. */
        snprintf(sql, sizeof(sql),
                 "COPY (SELECT " ETL_EVENT_COLUMNS " FROM dwh.response_events WHERE "
                 "get_byte(uuid_send(submission_id), 15) %% %d = %d) TO STDOUT%s",
                 parts, k, binary ? " (FORMAT binary)" : "");
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

static void remove_raw_files(engine *b)
{
    if (!b->tmpdir[0])
        return;
    for (int i = 0; i < 2 * b->res->jobs; i++) {
        char path[RAW_PATH_MAX];
        raw_path(b, i % 2, i / 2, path, sizeof(path));
        unlink(path);
    }
    rmdir(b->tmpdir);
    b->tmpdir[0] = '\0';
}

/*
 * Load part k of the saved events with COPY alone, in a transaction of its
 * own; with truncate, after a TRUNCATE in it, as a one-job scenario run does
 * (see empty_target in pipeline.h), so the rows skip WAL.
 */
static int raw_copy_part(const engine *b, bool binary, int k, bool truncate, etl_error *err)
{
    char path[RAW_PATH_MAX];
    raw_path(b, binary, k, path, sizeof(path));
    etl_db *db = NULL;
    int rc = etl_db_open(&db, b->cfg->conninfo, b->cfg->run_db, b->cfg->log, err);
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

/* One raw-copy stream of several, in a worker process. */
typedef struct raw_job {
    const engine *b;
    bool binary;
} raw_job;

static void raw_copy_worker(void *ctx, int k, int n, etl_worker_count *count,
                            etl_worker_report *rep, void *extra)
{
    (void)n;
    (void)count;
    (void)extra;
    const raw_job *job = ctx;
    rep->rc = raw_copy_part(job->b, job->binary, k, false, &rep->err);
}

/*
 * raw-copy: the saved events into an empty table with COPY alone, timed from
 * the first BEGIN to the last COMMIT.  With --jobs N, N parts over N
 * connections at once (N processes), like the N workers; no TRUNCATE then,
 * as they cannot either.
 */
static int raw_copy(engine *b, bool binary, double *secs, etl_error *err)
{
    int rc = b->cfg->fresh_db(b->cfg->ctx, err);
    if (rc != ETL_OK)
        return rc;
    long long t0 = etl_now_us();
    if (b->res->jobs == 1) {
        rc = raw_copy_part(b, binary, 0, true, err);
    } else {
        /* No stop forwarded: a stop is noticed after the COMMITs, as with one stream. */
        raw_job job = {b, binary};
        etl_worker_report reports[ETL_WORKERS_MAX];
        etl_run_stats ignored;
        etl_workers_cfg pool = {.jobs = b->res->jobs,
                                .fn = raw_copy_worker,
                                .ctx = &job,
                                .what = "bench: raw-copy part"};
        rc = etl_workers_run(&pool, reports, NULL, &ignored, err);
    }
    *secs = (double)(etl_now_us() - t0) / 1e6;
    return rc;
}

/* A processor's run: its elapsed time and peak memory, as its --json summary says. */
static int process_run(engine *b, bench_entry *e, int round, double *secs, long *rss,
                       bool *timed_out, etl_error *err)
{
    double spent = 0;
    for (int i = 0; i < e->runs; i++)
        spent += e->elapsed[i];
    etl_buf out = ETL_BUF_INIT;
    etl_summary sum;
    memset(&sum, 0, sizeof(sum));
    int rc = run_child(b, e->name, b->cfg->budget_s - spent, &out, round == 0 ? &e->mem : NULL,
                       timed_out, err);
    if (rc == ETL_OK && !*timed_out && (rc = etl_summary_parse_json(out.data, &sum, err)) != ETL_OK)
        etl_error_wrap(err, "bench: `etl process %s %s --json`", b->res->scenario, e->name);
    else if (rc == ETL_OK && sum.failed)
        rc = etl_error_set(err, ETL_ERR_IO, "bench: `etl process %s %s` failed (exit %d): %s",
                           b->res->scenario, e->name, sum.exit, sum.error);
    if (rc == ETL_OK) {
        *secs = sum.elapsed_s;
        *rss = sum.worker_peak_rss_kib; /* one process's: with --jobs, the largest worker's */
    }
    etl_summary_release(&sum);
    etl_buf_release(&out);
    return rc;
}

/* One run of one entry; a checksum that differs from the first one fails the bench. */
static int run_entry(engine *b, bench_entry *e, int round, etl_error *err)
{
    bench_result *res = b->res;
    double secs = 0;
    long rss = 0;
    int rc;
    if (stopped(b)) {
        snprintf(b->out->interrupted_in, sizeof(b->out->interrupted_in),
                 "before round %d of %d (%s)", round + 1, b->rounds, e->name);
        return ETL_ERR_INTERRUPTED;
    }
    b->run_no++;
    show_progress(b, e->name, 0);
    if (e->reference) {
        rc = raw_copy(b, strcmp(e->name, "raw-copy-binary") == 0, &secs, err);
    } else {
        bool timed_out = false;
        rc = process_run(b, e, round, &secs, &rss, &timed_out, err);
        if (rc == ETL_OK && timed_out) {
            snprintf(e->note, sizeof(e->note), "stopped: over the %.0f s budget (--budget)%s",
                     b->cfg->budget_s, e->runs ? " after fewer runs" : "");
            e->skipped = e->runs == 0;
            return ETL_OK;
        }
    }
    /* A stop during raw-copy (in this process) is noticed here, after its COMMIT. */
    if (rc == ETL_OK && stopped(b))
        rc = ETL_ERR_INTERRUPTED;
    if (rc == ETL_ERR_INTERRUPTED) {
        snprintf(b->out->interrupted_in, sizeof(b->out->interrupted_in),
                 "during round %d of %d (%s)", round + 1, b->rounds, e->name);
        return rc;
    }
    long long events = 0;
    char sum[96] = "";
    if (rc == ETL_OK)
        rc = checksum(b, &events, sum, sizeof(sum), err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "bench %s, %s", res->scenario, e->name);
    if (!res->checksum[0]) {
        snprintf(res->checksum, sizeof(res->checksum), "%s", sum);
        res->checksum_from = e->name;
        res->events = events;
        /* Other events than the baseline's: nothing after this can pass, so stop now. */
        if (b->cfg->expect_checksum &&
            (events != b->cfg->expect_events || strcmp(sum, b->cfg->expect_checksum) != 0))
            b->out->events_differ = true;
    } else if (strcmp(sum, res->checksum) != 0 || events != res->events) {
        return etl_error_set(err, ETL_ERR_IO,
                             "bench %s: %s wrote different events than %s: %lld events, checksum "
                             "%s; expected %lld, %s.  Compare them with `etl process` and "
                             "`etl psql`",
                             res->scenario, e->name, res->checksum_from, events, sum, res->events,
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
static bool wants_run(const engine *b, const bench_entry *e, int round)
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
    return spent + worst <= b->cfg->budget_s;
}

static int run_rounds(engine *b, etl_error *err)
{
    bench_result *res = b->res;
    const bool *differ = &b->out->events_differ;
    int runs = res->runs_asked;
    int rc = ETL_OK;
    b->rounds = runs;
    b->total_runs = runs * (int)res->n;
    for (int round = 0; round < runs && rc == ETL_OK && !*differ; round++) {
        b->round = round;
        for (size_t i = 0; i < res->n && rc == ETL_OK && !*differ; i++) {
            bench_entry *e = &res->entries[i];
            if (e->reference && !b->tmpdir[0])
                continue; /* round 0: after the first processor has run */
            if (!wants_run(b, e, round)) {
                if (!e->note[0] && !e->reference)
                    snprintf(e->note, sizeof(e->note),
                             "%d of %d runs: the next would pass the "
                             "%.0f s budget (--budget)",
                             e->runs, runs, b->cfg->budget_s);
                continue;
            }
            rc = run_entry(b, e, round, err);
            if (rc == ETL_OK && !e->reference && !b->tmpdir[0] && e->runs == 1 && !*differ)
                rc = export_events(b, err);
        }
        /* References sit first in the table: in round 0 they run after a processor. */
        for (size_t i = 0; round == 0 && i < res->n && rc == ETL_OK && !*differ; i++)
            if (res->entries[i].reference && res->entries[i].runs == 0 && b->tmpdir[0])
                rc = run_entry(b, &res->entries[i], round, err);
    }
    return rc;
}

int etl_bench_run(const etl_bench_cfg *cfg, bench_result *res, etl_bench_outcome *out,
                  etl_error *err)
{
    engine b;
    memset(&b, 0, sizeof(b));
    b.cfg = cfg;
    b.res = res;
    b.out = out;
    memset(out, 0, sizeof(*out));
    if (res->jobs > 1)
        snprintf(b.jobs, sizeof(b.jobs), "%d", res->jobs);
    int rc = run_rounds(&b, err);
    remove_raw_files(&b);
    if (rc == ETL_ERR_INTERRUPTED)
        etl_error_set(err, ETL_ERR_INTERRUPTED, "bench %s: interrupted %s", res->scenario,
                      out->interrupted_in);
    return rc;
}
