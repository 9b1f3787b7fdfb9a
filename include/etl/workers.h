/*
 * Worker processes for --jobs: N forked children, each doing one job on
 * connections of its own and reporting back through a pipe.  The parent
 * sums their progress for a callback of the caller's, passes a stop signal
 * on, and reaps every child it started, whatever happens.  Nothing here
 * prints: results, errors and progress come back as data.
 */
#ifndef ETL_WORKERS_H
#define ETL_WORKERS_H

#include <signal.h>
#include <stddef.h>

#include "etl/error.h"
#include "etl/pipeline.h"

#define ETL_WORKERS_MAX 64

/* What one worker sends back. */
typedef struct etl_worker_report {
    int rc;              /* the job's ETL_OK or ETL_ERR_*; ETL_ERR_IO if it died without one */
    etl_error err;       /* why, if rc is an error, prefixed "<what> K of N: " */
    etl_run_stats stats; /* what the job did */
} etl_worker_report;

/* A worker's counts so far, in memory the parent reads (opaque). */
typedef struct etl_worker_count etl_worker_count;

/*
 * Record a job's progress in count (an etl_worker_count *, or NULL: then
 * nothing).  Has the shape of etl_pipeline_cfg.progress, so a pipeline in a
 * worker can report with it directly (hook_ctx = count).
 */
void etl_worker_progress(void *count, const etl_run_stats *so_far);

/*
 * The job of worker k of n (0 <= k < n), run in the child process.  It may
 * open connections and run anything below the commands, but must not use
 * connections, servers or temporary files of the parent, and must not exit:
 * it returns, and the pool sends *rep (zeroed, err cleared: set rc, err and
 * stats) and extra (extra_size zeroed bytes, NULL if 0: plain data only, no
 * pointers) to the parent.  count is for etl_worker_progress, NULL when
 * nobody watches.  Signal handlers are the parent's: a stop sets the same
 * flag in the child, which the job should honour (roll back, return).
 */
typedef void (*etl_worker_fn)(void *ctx, int k, int n, etl_worker_count *count,
                              etl_worker_report *rep, void *extra);

/* The workers' progress, summed, for the caller's callback. */
typedef struct etl_workers_progress {
    size_t submissions; /* read so far, all workers */
    size_t events;      /* written so far, all workers */
    int done;           /* workers that have reported (or died) */
    int started;
} etl_workers_progress;

typedef struct etl_workers_cfg {
    int jobs; /* 1 to ETL_WORKERS_MAX */
    etl_worker_fn fn;
    void *ctx;                         /* fn's, shared read-only by every worker (a copy each) */
    size_t extra_size;                 /* bytes of each worker's extra result, 0 for none */
    const char *what;                  /* names a worker in errors ("worker" if NULL) */
    const volatile sig_atomic_t *stop; /* or NULL: once set, SIGTERM goes to every worker */
    /*
     * Optional: called in the parent at least every 100 ms and whenever a
     * worker finishes, until all have.  NULL: the workers count nothing.
     */
    void (*progress)(void *ctx, const etl_workers_progress *p);
    void *progress_ctx;
} etl_workers_cfg;

/*
 * Start cfg->jobs workers, each running cfg->fn, wait for all and reap them.
 * Fills reports[0..jobs) (those of workers never started stay zeroed) and,
 * if cfg->extra_size, extras (jobs blocks of extra_size bytes).  *total gets
 * the reports' stats summed (etl_run_stats_add), peak_rss_kib summed too (a
 * worker per process), worker_peak_rss_kib the largest worker's peak, and
 * elapsed_us the wall time of the whole.  Returns
 * ETL_OK if every worker started and returned ETL_OK; else ETL_ERR_IO in err
 * when pipe() or fork() failed (the workers already started are sent SIGTERM,
 * waited for and reaped), or the first failed worker's report, in k order.
 * Flushes every stdio stream before forking, so nothing buffered is written
 * twice.
 */
int etl_workers_run(const etl_workers_cfg *cfg, etl_worker_report *reports, void *extras,
                    etl_run_stats *total, etl_error *err);

/*
 * A scenario run of pcfg on database db of the server at conninfo, each
 * pipeline on its own two connections.  jobs 1: in this process, pcfg as it
 * is (its progress hook included).  jobs N > 1: N workers, worker k taking
 * the submissions whose id's last byte is k mod N (disjoint, together all of
 * them), each committing its own part; pcfg's progress hook is not used,
 * progress (optional) gets the workers' sum, and a stop (pcfg->stop) reaches
 * them all.  *st gets the run's figures (N > 1: as etl_workers_run's
 * *total); returns the first error.
 */
int etl_workers_run_parts(const etl_pipeline_cfg *pcfg, const char *conninfo, const char *db,
                          int jobs, void (*progress)(void *ctx, const etl_workers_progress *p),
                          void *progress_ctx, etl_run_stats *st, etl_error *err);

#endif
