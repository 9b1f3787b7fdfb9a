/*
 * --jobs: forked workers, a pipe each for the report, shared memory for the
 * progress counts.  Whatever goes wrong (a pipe or fork that fails, a stop,
 * a worker that dies), every child started is waited for and reaped before
 * returning.  The workers never print and never draw: N lines redrawn in
 * place would garble each other, so the parent reports their sum.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS: the workers' shared progress counts */

#include "etl/workers.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etl/clock.h"

#include "banned.h"

struct etl_worker_count {
    atomic_size_t submissions;
    atomic_size_t events;
};

void etl_worker_progress(void *count, const etl_run_stats *so_far)
{
    etl_worker_count *c = count;
    if (!c)
        return;
    atomic_store_explicit(&c->submissions, so_far->submissions, memory_order_relaxed);
    atomic_store_explicit(&c->events, so_far->events, memory_order_relaxed);
}

/* The parent's view of the workers it started. */
typedef struct pool {
    const etl_workers_cfg *cfg;
    etl_worker_count *counts;    /* shared, or NULL: nobody watches */
    pid_t pids[ETL_WORKERS_MAX]; /* 0 once reaped: that pid may belong to another process */
    int fds[ETL_WORKERS_MAX];    /* read ends of the report pipes */
    int started;
    bool forwarded; /* the stop was passed on */
} pool;

/*
 * A stop asked of the parent alone (SIGTERM from cron or systemd; Ctrl-C
 * reaches the whole process group anyway) is passed on to the workers, once.
 */
static void forward_stop(pool *p)
{
    if (p->forwarded || !p->cfg->stop || !*p->cfg->stop)
        return;
    for (int k = 0; k < p->started; k++)
        if (p->pids[k] > 0)
            kill(p->pids[k], SIGTERM);
    p->forwarded = true;
}

/*
 * Until every worker has written its report (or died: end of file), tell
 * the caller the sum of their counts; the reports are then read without
 * waiting.
 */
static void watch(pool *p)
{
    struct pollfd pfd[ETL_WORKERS_MAX];
    int left = p->started;
    for (int k = 0; k < p->started; k++)
        pfd[k] = (struct pollfd){.fd = p->fds[k], .events = POLLIN};
    while (left > 0) {
        if (poll(pfd, (nfds_t)p->started, 100) < 0 && errno != EINTR)
            return;
        forward_stop(p);
        etl_workers_progress now = {0, 0, 0, p->started};
        for (int k = 0; k < p->started; k++) {
            if (pfd[k].fd >= 0 && pfd[k].revents) {
                pfd[k].fd = -1; /* poll ignores negative descriptors */
                left--;
            }
            now.submissions +=
                atomic_load_explicit(&p->counts[k].submissions, memory_order_relaxed);
            now.events += atomic_load_explicit(&p->counts[k].events, memory_order_relaxed);
        }
        now.done = p->started - left;
        p->cfg->progress(p->cfg->progress_ctx, &now);
    }
}

/*
 * All of len bytes through fd: written from buf, or read into it; false at
 * end of file or on an error.  A stop that interrupts read() or write() (the
 * handler has no SA_RESTART) is passed on if p is the parent's pool.
 */
static bool transfer(pool *p, int fd, void *buf, size_t len, bool writing)
{
    char *at = buf;
    while (len > 0) {
        ssize_t done = writing ? write(fd, at, len) : read(fd, at, len);
        if (done < 0 && errno == EINTR) {
            if (p)
                forward_stop(p);
            continue;
        }
        if (done <= 0)
            return false;
        at += done;
        len -= (size_t)done;
    }
    return true;
}

/* In the child: run the job, send its report and extra, and leave. */
static void run_child(const etl_workers_cfg *cfg, etl_worker_count *count, int k, int fd)
{
    etl_worker_report rep;
    memset(&rep, 0, sizeof(rep));
    etl_error_clear(&rep.err);
    void *extra = cfg->extra_size ? calloc(1, cfg->extra_size) : NULL;
    bool sent = false;
    if (!cfg->extra_size || extra) {
        cfg->fn(cfg->ctx, k, cfg->jobs, count, &rep, extra);
        sent = transfer(NULL, fd, &rep, sizeof(rep), true) &&
               (!cfg->extra_size || transfer(NULL, fd, extra, cfg->extra_size, true));
    }
    free(extra);
    _exit(sent ? 0 : 1); /* not exit(): the server, the connections are the parent's */
}

/* Fork the workers; stops at the first failure, leaving those started in p. */
static int start(pool *p, etl_error *err)
{
    const etl_workers_cfg *cfg = p->cfg;
    fflush(NULL);
    for (int k = 0; k < cfg->jobs; k++) {
        int fd[2];
        if (pipe(fd) != 0)
            return etl_error_set(err, ETL_ERR_IO, "--jobs: pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
            close(fd[0]);
            close(fd[1]);
            return etl_error_set(err, ETL_ERR_IO, "--jobs: fork: %s", strerror(errno));
        }
        if (pid == 0) {
            close(fd[0]);
            run_child(cfg, p->counts ? &p->counts[k] : NULL, k, fd[1]);
        }
        close(fd[1]);
        p->pids[p->started] = pid;
        p->fds[p->started++] = fd[0];
    }
    return ETL_OK;
}

/* Read worker k's report, then reap it; a worker that sent none is an error. */
static void collect(pool *p, int k, etl_worker_report *rep, void *extra)
{
    const etl_workers_cfg *cfg = p->cfg;
    /* A stop that came while forking: pass it on, wait on. */
    forward_stop(p);
    bool got = transfer(p, p->fds[k], rep, sizeof(*rep), false) &&
               (!cfg->extra_size || transfer(p, p->fds[k], extra, cfg->extra_size, false));
    close(p->fds[k]);
    int status = 0;
    while (waitpid(p->pids[k], &status, 0) < 0 && errno == EINTR)
        forward_stop(p);
    p->pids[k] = 0;
    if (!got) {
        memset(rep, 0, sizeof(*rep));
        if (extra)
            memset(extra, 0, cfg->extra_size);
        rep->rc = etl_error_set(&rep->err, ETL_ERR_IO, "died without a report");
    }
    if (rep->rc != ETL_OK)
        etl_error_wrap(&rep->err, "%s %d of %d", cfg->what ? cfg->what : "worker", k + 1,
                       cfg->jobs);
}

int etl_workers_run(const etl_workers_cfg *cfg, etl_worker_report *reports, void *extras,
                    etl_run_stats *total, etl_error *err)
{
    long long t0 = etl_now_us();
    pool p;
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    memset(reports, 0, (size_t)cfg->jobs * sizeof(*reports));
    if (extras)
        memset(extras, 0, (size_t)cfg->jobs * cfg->extra_size);
    /* Shared before fork: workers count there, the parent sums for the progress callback. */
    if (cfg->progress) {
        p.counts = mmap(NULL, ETL_WORKERS_MAX * sizeof(*p.counts), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p.counts == MAP_FAILED)
            p.counts = NULL; /* no progress then, the run itself needs none of it */
    }
    int rc = start(&p, err);
    /* Could not start them all: the ones running stop and roll back (their stop flag). */
    for (int k = 0; rc != ETL_OK && k < p.started; k++)
        kill(p.pids[k], SIGTERM);
    if (p.counts) {
        watch(&p);
        munmap(p.counts, ETL_WORKERS_MAX * sizeof(*p.counts));
    }
    memset(total, 0, sizeof(*total));
    for (int k = 0; k < p.started; k++) {
        etl_worker_report *rep = &reports[k];
        collect(&p, k, rep, extras ? (char *)extras + (size_t)k * cfg->extra_size : NULL);
        if (rep->rc != ETL_OK && rc == ETL_OK) {
            *err = rep->err;
            rc = err->code;
        }
        etl_run_stats_add(total, &rep->stats);
        total->peak_rss_kib += rep->stats.peak_rss_kib;
        if (rep->stats.peak_rss_kib > total->worker_peak_rss_kib)
            total->worker_peak_rss_kib = rep->stats.peak_rss_kib;
    }
    total->elapsed_us = etl_now_us() - t0;
    return rc;
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

/* What every part of a scenario run shares. */
typedef struct parts_job {
    const etl_pipeline_cfg *pcfg;
    const char *conninfo;
    const char *db;
} parts_job;

/* Part k of n: the submissions whose id's last byte is k mod n. */
static void run_part(void *ctx, int k, int n, etl_worker_count *count, etl_worker_report *rep,
                     void *extra)
{
    (void)extra;
    const parts_job *job = ctx;
    char filter[96];
    snprintf(filter, sizeof(filter), "get_byte(uuid_send(s.id), 15) %% %d = %d", n, k);
    etl_pipeline_cfg mine = *job->pcfg;
    mine.source_filter = filter;
    mine.progress = count ? etl_worker_progress : NULL;
    mine.hook_ctx = count;
    rep->rc = run_one(&mine, job->conninfo, job->db, &rep->stats, &rep->err);
}

int etl_workers_run_parts(const etl_pipeline_cfg *pcfg, const char *conninfo, const char *db,
                          int jobs, void (*progress)(void *ctx, const etl_workers_progress *p),
                          void *progress_ctx, etl_run_stats *st, etl_error *err)
{
    if (jobs == 1)
        return run_one(pcfg, conninfo, db, st, err);
    parts_job job = {pcfg, conninfo, db};
    etl_worker_report reports[ETL_WORKERS_MAX];
    etl_workers_cfg cfg = {.jobs = jobs,
                           .fn = run_part,
                           .ctx = &job,
                           .stop = pcfg->stop,
                           .progress = progress,
                           .progress_ctx = progress_ctx};
    return etl_workers_run(&cfg, reports, NULL, st, err);
}
