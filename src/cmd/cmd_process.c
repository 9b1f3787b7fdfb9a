/*
 * `etl process SCENARIO PROCESSOR`: clone the scenario's template into a
 * fresh run database, run the processor on it and report what it did.  The
 * figures cover the ETL alone: server start and cloning are not timed.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS: the --jobs workers' shared progress counts */

#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/pipeline.h"
#include "etl/production.h"
#include "etl/clock.h"
#include "etl/text.h"
#include "json_out.h"
#include "progress.h"

#include "banned.h"

static const char help[] =
    "Usage: etl process SCENARIO PROCESSOR [--json]\n"
    "       etl process --db CONNINFO [--target CONNINFO] PROCESSOR [options]\n\n"
    "Scenario mode: clone SCENARIO's template into a fresh run database\n"
    "(etl_run_SCENARIO), run PROCESSOR on it, and print submissions read, rejected,\n"
    "events written, elapsed seconds of the ETL itself, events per second and peak\n"
    "memory (RSS).  `etl list` shows the scenarios and processors.\n\n"
    "In-place mode (production, for cron; see docs/cron.md): bring the warehouse up\n"
    "to date with the --db database.  With change capture (etl init), derive again\n"
    "every submission queued since the last run (new, edited, deleted, or of a changed\n"
    "form or user), replacing its events; several runs may share the queue.  Without\n"
    "(etl init --no-capture), load the submissions not processed yet, one run at a time.\n"
    "Commits every --batch-size queued changes (without capture: submissions) with\n"
    "their bookkeeping.  Quiet on success with -q.\n\n"
    "Options:\n"
    "  --json                  print the summary as one JSON object on stdout\n"
    "  --jobs N                scenario: split the submissions into N disjoint parts\n"
    "                          loaded at once over N connections; in place (with\n"
    "                          change capture): N runs at once sharing the queue\n"
    "                          (default 1)\n"
    "  --target CONNINFO       in place: load into this database instead of --db's\n"
    "  --batch-size N          in place: queued changes claimed per transaction, with\n"
    "                          the other changes of those submissions (without capture:\n"
    "                          submissions per transaction; default 10000)\n"
    "  --max-rejects N         in place: stop (exit 8) after more than N rejects (0:\n"
    "                          after the first), at the end of that batch, which is\n"
    "                          committed whole, rejects recorded\n"
    "  --dry-run               in place: do everything, then roll it all back\n"
    "  --statement-timeout MS  in place: PostgreSQL statement_timeout (0: the server's)\n"
    "  --lock-timeout MS       in place: PostgreSQL lock_timeout (leave it unset when\n"
    "                          runs overlap: one may wait for another's batch)\n"
    "  -h, --help              this help\n\n"
    "Exit status: 0 done; 5 done but some submissions were rejected; 6 another run\n"
    "holds the lock (without capture); 7 interrupted; 8 too many rejects; see\n"
    "docs/cli.md for all.\n\n";

static void json_or_null(const char *s)
{
    if (s)
        etl_json_fput(stdout, s);
    else
        fputs("null", stdout);
}

static void print_summary(const char *scenario, const etl_processor_cfg *p, const etl_run_stats *st,
                          const char *db, bool json)
{
    double secs = (double)st->elapsed_us / 1e6;
    double rate = secs > 0 ? (double)st->events / secs : 0;
    if (json) {
        printf("{\"scenario\":");
        etl_json_fput(stdout, scenario);
        printf(",\"processor\":");
        etl_json_fput(stdout, p->name);
        printf(",\"runner\":");
        etl_json_fput(stdout, p->runner);
        printf(",\"extractor\":");
        json_or_null(p->extractor);
        printf(",\"loader\":");
        json_or_null(p->loader);
        printf(",\"database\":");
        etl_json_fput(stdout, db);
        printf(",\"submissions\":%zu,\"events\":%zu,\"rejected\":%zu,\"elapsed_s\":%.6f,"
               "\"events_per_s\":%.1f,\"peak_rss_kib\":%ld}\n",
               st->submissions, st->events, st->rejected, secs, rate, st->peak_rss_kib);
        return;
    }
    printf("scenario     %s (database %s)\n", scenario, db);
    if (p->extractor && p->loader)
        printf("processor    %s (extractor %s, loader %s)\n", p->name, p->extractor, p->loader);
    else
        printf("processor    %s (runner %s)\n", p->name, p->runner);
    printf("submissions  %zu read, %zu rejected\n", st->submissions, st->rejected);
    printf("events       %zu written\n", st->events);
    printf("elapsed      %.3f s\n", secs);
    printf("throughput   %.0f events/s\n", rate);
    printf("peak memory  %.1f MiB (RSS)\n", (double)st->peak_rss_kib / 1024.0);
}

/* --json and the run failed: still one object, with the error. */
static void print_failure_json(const char *scenario, const char *processor, const etl_error *err)
{
    printf("{\"scenario\":");
    etl_json_fput(stdout, scenario);
    printf(",\"processor\":");
    etl_json_fput(stdout, processor);
    printf(",\"exit\":%d,\"error\":", etl_exit_status(err->code));
    etl_json_fput(stdout, err->msg);
    printf("}\n");
}

/* The numeric options, through the one range-checking parser. */
static int number_option(const char *name, const char *text, unsigned long long min,
                         unsigned long long max, unsigned long long *out)
{
    if (!text)
        return ETL_OK;
    if (etl_parse_ull(text, min, max, out) != 0)
        return cli_usage("process", "--%s: '%s' is not a whole number from %llu to %llu", name,
                         text, min, max);
    return ETL_OK;
}

/*
 * One line about a run's rejects: how many, by reason, and where to look.
 * Printed even with -q (cron mails it), since a reject needs someone.
 */
static void report_rejects(const etl_run_stats *st, const char *where)
{
    etl_buf line = ETL_BUF_INIT;
    for (size_t i = 0; i < ETL_MAX_REASONS && st->reasons[i].reason; i++)
        etl_buf_printf(&line, "%s%zu %s", i ? ", " : "", st->reasons[i].count,
                       st->reasons[i].reason);
    etl_log_error("%zu of %zu submissions rejected (%s); %s", st->rejected, st->submissions,
                  line.data ? line.data : "", where);
    etl_buf_release(&line);
}

typedef struct inplace_opts {
    const char *target, *batch, *max_rejects, *statement_timeout, *lock_timeout, *jobs;
    bool dry_run, json;
} inplace_opts;

/* The progress line of a run: submissions out of those expected, rate, ETA and events. */
static void show_run(cli_progress *bar, size_t subs, size_t total, size_t events)
{
    char count[160];
    cli_progress_fmt_count(count, sizeof(count), subs, total, "submissions",
                           bar->now_us() - bar->start_us);
    cli_progress_update(bar, "%s, %zu events", count, events);
}

static void inplace_progress(void *ctx, const etl_run_stats *so_far, size_t backlog)
{
    show_run(ctx, so_far->submissions, backlog, so_far->events);
}

/* A scenario run: its total is the scenario's count, the progress bar's to show. */
typedef struct run_watch {
    cli_progress bar;
    size_t total; /* submissions the scenario generates, fixtures included */
} run_watch;

static void scenario_progress(void *ctx, const etl_run_stats *so_far)
{
    run_watch *w = ctx;
    show_run(&w->bar, so_far->submissions, w->total, so_far->events);
}

/* One pipeline on its own pair of connections to the run database. */
static int run_one(const etl_pipeline_cfg *pcfg, const char *conninfo, const char *db,
                   etl_run_stats *st, etl_error *err)
{
    etl_db *source = NULL;
    etl_db *target = NULL;
    /* Separate connections: the extractor's cursor and the loader's COPY cannot share one. */
    int rc = etl_db_open(&source, conninfo, db, pcfg->log, err);
    if (rc == ETL_OK)
        rc = etl_db_open(&target, conninfo, db, pcfg->log, err);
    if (rc == ETL_OK)
        rc = etl_pipeline_run(pcfg, source, target, st, err);
    etl_db_close(source);
    etl_db_close(target);
    return rc;
}

/* A --jobs worker's counts so far, in memory shared with the parent for its progress line. */
typedef struct job_count {
    atomic_size_t submissions;
    atomic_size_t events;
} job_count;

static void job_progress(void *ctx, const etl_run_stats *so_far)
{
    job_count *c = ctx;
    atomic_store_explicit(&c->submissions, so_far->submissions, memory_order_relaxed);
    atomic_store_explicit(&c->events, so_far->events, memory_order_relaxed);
}

/*
 * A stop asked of the parent alone (SIGTERM from cron or systemd; Ctrl-C
 * reaches the whole process group anyway) is passed on to the workers, once.
 */
static void forward_stop(const volatile sig_atomic_t *stop, const pid_t *pids, int started,
                         bool *forwarded)
{
    if (*forwarded || !stop || !*stop)
        return;
    for (int k = 0; k < started; k++)
        kill(pids[k], SIGTERM);
    *forwarded = true;
}

/*
 * Until every worker has written its report (or died: end of file), show
 * the sum of their counts; the reports are then read without waiting.
 */
static void watch_jobs(run_watch *watch, job_count *counts, const int *fds, const pid_t *pids,
                       int started, const volatile sig_atomic_t *stop, bool *forwarded)
{
    struct pollfd pfd[64];
    int left = started;
    for (int k = 0; k < started; k++)
        pfd[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
    while (left > 0) {
        if (poll(pfd, (nfds_t)started, 100) < 0 && errno != EINTR)
            return;
        forward_stop(stop, pids, started, forwarded);
        size_t subs = 0;
        size_t events = 0;
        for (int k = 0; k < started; k++) {
            if (pfd[k].fd >= 0 && pfd[k].revents) {
                pfd[k].fd = -1; /* poll ignores negative descriptors */
                left--;
            }
            subs += atomic_load_explicit(&counts[k].submissions, memory_order_relaxed);
            events += atomic_load_explicit(&counts[k].events, memory_order_relaxed);
        }
        char count[160];
        cli_progress_fmt_count(count, sizeof(count), subs, watch->total, "submissions",
                               watch->bar.now_us() - watch->bar.start_us);
        cli_progress_update(&watch->bar, "%s, %zu events, %d/%d workers done", count, events,
                            started - left, started);
    }
}

/* What a --jobs worker tells its parent through a pipe. */
typedef struct job_report {
    etl_run_stats st;
    etl_error err;
    long long run_id; /* in place: the worker's run */
    size_t backlog;   /* in place: what was queued when it started */
    int rc;
    bool capture; /* in place: the source has change capture */
} job_report;

/* The work of worker k of n, in the child; count (or NULL) is its shared progress. */
typedef void (*job_fn)(void *ctx, int k, int n, job_count *count, job_report *rep);

/*
 * --jobs N: N worker processes, each doing fn(ctx, k, N, ...) on its own
 * connections, reporting through a pipe.  Fills reports[0..N) (rc set to
 * an error for a worker that died) and returns ETL_OK, or the error that
 * kept them from all starting (those started are stopped and reaped).  A
 * stop is passed on to every worker.
 */
static int run_workers(int jobs, job_fn fn, void *ctx, run_watch *watch,
                       const volatile sig_atomic_t *stop, job_report *reports, etl_error *err)
{
    /* Shared before fork: workers count there, the parent sums for the progress line. */
    job_count *counts = NULL;
    if (cli_progress_on(&watch->bar)) {
        counts = mmap(NULL, 64 * sizeof(*counts), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (counts == MAP_FAILED)
            counts = NULL; /* no progress then, the run itself needs none of it */
    }
    pid_t pids[64];
    int fds[64];
    int started = 0;
    int rc = ETL_OK;
    fflush(NULL);
    for (int k = 0; k < jobs && rc == ETL_OK; k++) {
        int fd[2];
        if (pipe(fd) != 0) {
            rc = etl_error_set(err, ETL_ERR_IO, "--jobs: pipe: %s", strerror(errno));
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            close(fd[0]);
            close(fd[1]);
            rc = etl_error_set(err, ETL_ERR_IO, "--jobs: fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            close(fd[0]);
            job_report rep;
            memset(&rep, 0, sizeof(rep));
            etl_error_clear(&rep.err);
            fn(ctx, k, jobs, counts ? &counts[k] : NULL, &rep);
            ssize_t w = write(fd[1], &rep, sizeof(rep));
            _exit(w == (ssize_t)sizeof(rep) ? 0 : 1); /* not exit(): the server is the parent's */
        }
        close(fd[1]);
        pids[started] = pid;
        fds[started++] = fd[0];
    }
    /* Could not start them all: the ones running stop and roll back (their stop flag). */
    for (int k = 0; rc != ETL_OK && k < started; k++)
        kill(pids[k], SIGTERM);
    bool forwarded = false;
    if (counts) {
        watch_jobs(watch, counts, fds, pids, started, stop, &forwarded);
        munmap(counts, 64 * sizeof(*counts));
    }
    for (int k = 0; k < started; k++) {
        job_report *rep = &reports[k];
        ssize_t got;
        /*
         * A stop that came while forking, or that interrupts read() or
         * waitpid() (our handler has no SA_RESTART): pass it on, wait on.
         */
        forward_stop(stop, pids, started, &forwarded);
        while ((got = read(fds[k], rep, sizeof(*rep))) < 0 && errno == EINTR)
            forward_stop(stop, pids, started, &forwarded);
        close(fds[k]);
        int status = 0;
        while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR)
            forward_stop(stop, pids, started, &forwarded);
        if (got != (ssize_t)sizeof(*rep)) {
            memset(rep, 0, sizeof(*rep));
            rep->rc = etl_error_set(&rep->err, ETL_ERR_IO, "died without a report");
        }
        if (rep->rc != ETL_OK)
            etl_error_wrap(&rep->err, "worker %d of %d", k + 1, jobs);
    }
    return rc;
}

/* The parts of a scenario run: worker k takes the submissions whose id's last byte is k mod n. */
typedef struct scenario_job {
    const etl_pipeline_cfg *pcfg;
    const char *conninfo;
    const char *db;
} scenario_job;

static void scenario_worker(void *ctx, int k, int n, job_count *count, job_report *rep)
{
    const scenario_job *job = ctx;
    char filter[96];
    snprintf(filter, sizeof(filter), "get_byte(uuid_send(s.id), 15) %% %d = %d", n, k);
    etl_pipeline_cfg mine = *job->pcfg;
    mine.source_filter = filter;
    /* Workers never draw: N lines redrawn in place would garble each other. */
    mine.progress = count ? job_progress : NULL;
    mine.hook_ctx = count;
    rep->rc = run_one(&mine, job->conninfo, job->db, &rep->st, &rep->err);
}

/*
 * Scenario --jobs N: the parts are disjoint and cover everything, so the
 * events are those of one job.  Each worker commits its own part; elapsed
 * is the wall time of the slowest, memory the sum of the workers' peaks.
 */
static int run_jobs(const etl_pipeline_cfg *pcfg, const char *conninfo, const char *db, int jobs,
                    run_watch *watch, etl_run_stats *st, etl_error *err)
{
    job_report reports[64];
    memset(reports, 0, sizeof(reports));
    scenario_job job = {pcfg, conninfo, db};
    long long t0 = etl_now_us();
    int rc = run_workers(jobs, scenario_worker, &job, watch, pcfg->stop, reports, err);
    memset(st, 0, sizeof(*st));
    for (int k = 0; k < jobs; k++) {
        if (reports[k].rc != ETL_OK && rc == ETL_OK) {
            *err = reports[k].err;
            rc = err->code;
        }
        etl_run_stats_add(st, &reports[k].st);
        st->peak_rss_kib += reports[k].st.peak_rss_kib;
    }
    st->elapsed_us = etl_now_us() - t0;
    return rc;
}

/* In place, --jobs N: N runs at once, sharing the change queue (each claims its own rows). */
static void inplace_job_progress(void *ctx, const etl_run_stats *so_far, size_t backlog)
{
    (void)backlog;
    job_progress(ctx, so_far);
}

static void inplace_worker(void *ctx, int k, int n, job_count *count, job_report *rep)
{
    (void)k;
    (void)n;
    etl_prod_cfg mine = *(const etl_prod_cfg *)ctx;
    mine.progress = count ? inplace_job_progress : NULL;
    mine.progress_ctx = count;
    etl_prod_result res;
    rep->rc = etl_prod_run(&mine, &res, &rep->err);
    rep->st = res.stats;
    rep->run_id = res.run_id;
    rep->backlog = res.backlog;
    rep->capture = res.capture;
}

/*
 * The runs' figures summed (memory too: per worker), elapsed the wall time,
 * the first error.  Without change capture runs go one at a time (a lock),
 * so N workers would wait for each other: refused before starting.
 */
static int run_inplace_jobs(const etl_prod_cfg *pc, int jobs, cli_progress *bar,
                            etl_prod_result *res, long long *first_id, long long *last_id,
                            etl_error *err)
{
    memset(res, 0, sizeof(*res));
    bool capture = false;
    int rc = etl_prod_has_capture(pc, &capture, err);
    if (rc == ETL_OK && !capture)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "--jobs needs change capture (`etl init` without --no-capture): "
                           "without it, in-place runs go one at a time");
    if (rc != ETL_OK)
        return rc;
    job_report reports[64];
    memset(reports, 0, sizeof(reports));
    run_watch watch = {*bar, 0};
    long long t0 = etl_now_us();
    etl_prod_cfg each = *pc; /* the workers' copy (they set their own progress) */
    rc = run_workers(jobs, inplace_worker, &each, &watch, pc->stop, reports, err);
    *bar = watch.bar;
    for (int k = 0; k < jobs; k++) {
        const job_report *r = &reports[k];
        if (r->rc != ETL_OK && rc == ETL_OK) {
            *err = r->err;
            rc = err->code;
        }
        etl_run_stats_add(&res->stats, &r->st);
        res->stats.peak_rss_kib += r->st.peak_rss_kib;
        if (r->run_id && (!*first_id || r->run_id < *first_id))
            *first_id = r->run_id;
        if (r->run_id > *last_id)
            *last_id = r->run_id;
        res->backlog = r->backlog > res->backlog ? r->backlog : res->backlog;
        res->capture = res->capture || r->capture;
    }
    res->run_id = *first_id;
    res->stats.elapsed_us = etl_now_us() - t0;
    return rc;
}

static int process_in_place(etl_cli *cli, const char *processor, const inplace_opts *o)
{
    unsigned long long batch = ETL_DEFAULT_BATCH;
    unsigned long long max_rejects = ~0ULL;
    unsigned long long st_ms = 0;
    unsigned long long lock_ms = 0;
    unsigned long long jobs = 1;
    /* 0 rejects: stop at the first; 0 ms: the server's timeout (PostgreSQL's own meaning). */
    if (number_option("batch-size", o->batch, 1, 100000000ULL, &batch) != ETL_OK ||
        number_option("max-rejects", o->max_rejects, 0, ~0ULL - 1, &max_rejects) != ETL_OK ||
        number_option("statement-timeout", o->statement_timeout, 0, 86400000ULL, &st_ms) !=
            ETL_OK ||
        number_option("lock-timeout", o->lock_timeout, 0, 86400000ULL, &lock_ms) != ETL_OK ||
        number_option("jobs", o->jobs, 1, 64, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_processor_cfg *p = NULL;
    int rc = cli_load_processor(cli, processor, &config, &p, &err);
    if (rc != ETL_OK) {
        etl_config_free(config);
        if (o->json)
            cli_json_error(err.msg, etl_exit_status(err.code));
        return cli_fail(&err);
    }
    const volatile sig_atomic_t *stop = cli_catch_stop();
    etl_prod_cfg pc = {.source = cli->db,
                       .target = o->target,
                       .proc = p,
                       .batch_size = (size_t)batch,
                       .max_rejects = max_rejects == ~0ULL ? SIZE_MAX : (size_t)max_rejects,
                       .dry_run = o->dry_run,
                       .statement_timeout_ms = (long)st_ms,
                       .lock_timeout_ms = (long)lock_ms,
                       .progress = inplace_progress,
                       .stop = stop,
                       .log = &cli->log};
    cli_progress bar;
    char what[160];
    snprintf(what, sizeof(what), "process %s", processor);
    cli_progress_start(&bar, cli, what);
    pc.progress_ctx = &bar;
    etl_prod_result res;
    long long first_id = 0;
    long long last_id = 0;
    if (jobs == 1) {
        rc = etl_prod_run(&pc, &res, &err);
        first_id = last_id = res.run_id;
    } else {
        rc = run_inplace_jobs(&pc, (int)jobs, &bar, &res, &first_id, &last_id, &err);
    }
    cli_progress_end(&bar);
    const etl_run_stats *st = &res.stats;
    double secs = (double)st->elapsed_us / 1e6;
    double rate = secs > 0 ? (double)st->events / secs : 0;
    if (o->json) {
        /* Always one object, so a monitoring script can parse a failed run too. */
        printf("{\"mode\":\"in-place\",\"processor\":");
        etl_json_fput(stdout, p->name);
        printf(",\"run_id\":%lld,\"last_run_id\":%lld,\"jobs\":%llu,\"dry_run\":%s,"
               "\"capture\":%s,\"backlog\":%zu,\"submissions\":%zu,\"events\":%zu,"
               "\"rejected\":%zu,\"rejected_by_reason\":{",
               first_id, last_id, jobs, o->dry_run ? "true" : "false",
               res.capture ? "true" : "false", res.backlog, st->submissions, st->events,
               st->rejected);
        for (size_t i = 0; i < ETL_MAX_REASONS && st->reasons[i].reason; i++)
            printf("%s\"%s\":%zu", i ? "," : "", st->reasons[i].reason, st->reasons[i].count);
        printf("},\"batches\":%zu,\"elapsed_s\":%.6f,\"events_per_s\":%.1f,"
               "\"peak_rss_kib\":%ld,\"exit\":%d,\"error\":",
               st->batches, secs, rate, st->peak_rss_kib,
               rc != ETL_OK       ? etl_exit_status(rc)
               : st->rejected > 0 ? ETL_EXIT_REJECTS
                                  : ETL_EXIT_OK);
        if (rc == ETL_OK)
            printf("null}\n");
        else {
            etl_json_fput(stdout, err.msg);
            printf("}\n");
        }
    } else if (rc == ETL_OK && cli->log.verbosity >= 0) {
        char runs[64];
        if (jobs == 1)
            snprintf(runs, sizeof(runs), "run %lld", first_id);
        else
            snprintf(runs, sizeof(runs), "runs %lld-%lld (%llu workers)", first_id, last_id, jobs);
        printf("%s %s of %s: %zu submissions (%zu %s), %zu rejected, %zu events "
               "in %zu batches, %.3f s, %.0f events/s, peak %.1f MiB\n",
               o->dry_run ? "dry" : "in-place", runs, p->name, st->submissions, res.backlog,
               res.capture ? "queued changes" : "waiting", st->rejected, st->events, st->batches,
               secs, rate, (double)st->peak_rss_kib / 1024.0);
        if (o->dry_run)
            printf("dry run: everything was rolled back, nothing was recorded\n");
    }
    fflush(stdout);
    etl_config_free(config);
    if (rc == ETL_ERR_LOCKED && cli->log.verbosity < 0)
        return ETL_EXIT_LOCKED; /* cron: an overlapping run is not news */
    if (st->rejected > 0)
        report_rejects(st, o->dry_run ? "dry run: not recorded"
                                      : "they are in dwh.etl_rejects (`etl status`; after a fix, "
                                        "`etl reprocess --rejected`)");
    if (rc != ETL_OK)
        return cli_fail(&err);
    return st->rejected > 0 ? ETL_EXIT_REJECTS : ETL_EXIT_OK;
}

int cmd_process(int argc, char **argv, etl_cli *cli)
{
    inplace_opts o;
    memset(&o, 0, sizeof(o));
    const cli_option opts[] = {{"json", &o.json, NULL},
                               {"target", NULL, &o.target},
                               {"batch-size", NULL, &o.batch},
                               {"max-rejects", NULL, &o.max_rejects},
                               {"dry-run", &o.dry_run, NULL},
                               {"statement-timeout", NULL, &o.statement_timeout},
                               {"lock-timeout", NULL, &o.lock_timeout},
                               {"jobs", NULL, &o.jobs},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "process", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    bool json = o.json;
    if (argc - optind == 1) {
        if (!cli->db)
            return cli_usage("process",
                             "process: with one argument (PROCESSOR) etl processes a database in "
                             "place and needs --db CONNINFO; for a scenario give SCENARIO "
                             "PROCESSOR");
        return process_in_place(cli, argv[optind], &o);
    }
    if (argc - optind != 2)
        return cli_usage("process",
                         "process: expected SCENARIO PROCESSOR, or --db CONNINFO PROCESSOR; got "
                         "%d arguments",
                         argc - optind);
    if (cli->target_from_env)
        o.target = NULL; /* an exported $ETL_TARGET is for the in-place runs */
    if (o.target || o.batch || o.max_rejects || o.dry_run || o.statement_timeout || o.lock_timeout)
        return cli_usage("process", "process: --target, --batch-size, --max-rejects, --dry-run "
                                    "and the timeouts are for in-place runs (--db CONNINFO "
                                    "PROCESSOR), not scenarios");
    const char *scenario = argv[optind];
    const char *processor = argv[optind + 1];
    unsigned long long jobs = 1;
    if (number_option("jobs", o.jobs, 1, 64, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;

    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    const etl_processor_cfg *p = NULL;
    etl_session session = {0};
    etl_run_stats st;
    memset(&st, 0, sizeof(st));
    char tpl[256];
    char run[256];
    cli_template_db(scenario, tpl, sizeof(tpl));
    cli_run_db(scenario, run, sizeof(run));

    /*
     * Caught from here on, not fatal: a stop during CREATE DATABASE must let
     * it finish, or the clone would appear after whoever cleans up (bench).
     */
    const volatile sig_atomic_t *stop = cli_catch_stop();
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = cli_find_processor(config, processor, &p, &err);
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &session, &err);
    run_watch watch;
    bool exists = false;
    if (rc == ETL_OK && (rc = cli_db_exists(&session, tpl, &exists, &err)) == ETL_OK && !exists)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "scenario %s has no template database yet; run `etl generate %s` first",
                           scenario, scenario);
    if (rc == ETL_OK && (rc = cli_drop_db(&session, run, &err)) == ETL_OK)
        rc = cli_create_db(&session, run, tpl, scenario, &err);
    if (rc == ETL_OK && *stop)
        rc = etl_error_set(&err, ETL_ERR_INTERRUPTED, "interrupted before the run began");
    if (rc == ETL_OK) {
        char processed_on[64];
        etl_utc_now(processed_on, sizeof(processed_on));
        etl_log_verbose(&cli->log, "running processor %s on %s", p->name, run);
        etl_pipeline_cfg pcfg = {.proc = p,
                                 .processed_on = processed_on,
                                 .max_rejects = SIZE_MAX,
                                 .empty_target = jobs == 1,
                                 .stop = stop,
                                 .log = &cli->log,
                                 .progress = scenario_progress,
                                 .hook_ctx = &watch};
        char what[160];
        snprintf(what, sizeof(what), "process %s %s", scenario, processor);
        cli_progress_start(&watch.bar, cli, what);
        watch.total = sc->submissions + sc->nfixtures;
        rc = jobs == 1 ? run_one(&pcfg, session.conninfo, run, &st, &err)
                       : run_jobs(&pcfg, session.conninfo, run, (int)jobs, &watch, &st, &err);
        cli_progress_end(&watch.bar);
        if (rc != ETL_OK)
            etl_error_wrap(&err, "process %s %s", scenario, processor);
    }
    cli_session_close(&session);
    /* The figures are this command's result: printed with -q too. */
    if (rc == ETL_OK)
        print_summary(scenario, p, &st, run, json);
    else if (json)
        print_failure_json(scenario, processor, &err);
    etl_config_free(config);
    if (rc != ETL_OK)
        return cli_fail(&err);
    if (st.rejected > 0) {
        report_rejects(&st,
                       cli->log.verbosity < 0 ? "run without -q to list them" : "listed above");
        return ETL_EXIT_REJECTS;
    }
    return ETL_EXIT_OK;
}
