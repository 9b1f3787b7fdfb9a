/*
 * The bench engine: runs `etl process --json` children and the raw-copy
 * references in rounds on fresh clones of a scenario, samples the children's
 * memory, stops them (on a stop signal, past the budget) and checks that
 * every run wrote the same events.  It fills a bench_result and never
 * prints: errors come back in etl_error, progress through a callback, and
 * the command (src/cmd/cmd_bench.c) renders the result (bench_report.c) and
 * judges it (bench_gate.c).
 *
 * The result structs keep the names the reports and their tests know
 * (bench_entry, bench_result): the engine fills the run figures, the
 * report's bench_summarize the medians.
 */
#ifndef ETL_BENCH_ENGINE_H
#define ETL_BENCH_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "etl/error.h"
#include "etl/log.h"

#define BENCH_MAX_RUNS 50

/* RSS over time of one run, sampled while it ran. */
typedef struct bench_series {
    long *ms;  /* since the start of the run */
    long *kib; /* resident memory then */
    size_t n, cap;
} bench_series;

/* A figure over the runs: median and range. */
typedef struct bench_stat {
    double median, min, max;
} bench_stat;

/*
 * One row of the table: a processor, or one of the raw-copy references.
 * Run i of every entry ran in round i, so elapsed[i] of a processor and of
 * the reference were measured side by side (that pairing gives the per-run
 * ratios, and so the ratio's spread).
 */
typedef struct bench_entry {
    const char *name; /* set by the command: a processor, or raw-copy-text or raw-copy-binary */
    bool reference;   /* set by the command: raw-copy-text or raw-copy-binary */
    /* Filled in by etl_bench_run: */
    bool skipped;                   /* no run completed */
    int runs;                       /* runs done */
    double elapsed[BENCH_MAX_RUNS]; /* s */
    long rss_kib[BENCH_MAX_RUNS];
    long long events;
    char checksum[96];
    char note[200];   /* why it was skipped or cut short, "" if it ran every run */
    bench_series mem; /* first run only; freed by the command */
    /* Filled in by bench_summarize (the report), over the runs done: */
    bench_stat elapsed_s;    /* s */
    bench_stat events_per_s; /* events / elapsed */
    bench_stat rss_kib_stat; /* peak RSS, KiB; 0 for references */
    bench_stat ratio;        /* events/s over the reference's in the same round */
} bench_entry;

typedef struct bench_result {
    /* Set by the command before the run: */
    const char *scenario;
    const char *commit; /* the build's git commit, "unknown" outside git */
    char date[32];      /* when the bench started, UTC, ISO 8601 */
    int runs_asked;     /* rounds, 1 to BENCH_MAX_RUNS */
    int jobs;           /* `etl process --jobs`, and raw-copy's streams: 1 to ETL_WORKERS_MAX */
    bench_entry *entries;
    size_t n;
    /* Filled in by etl_bench_run: */
    long long events;          /* per run, the same for every entry */
    char checksum[96];         /* the same for every entry */
    const char *checksum_from; /* the entry that set it */
    /* Filled in by bench_summarize: */
    const char *reference; /* the name of the better raw-copy, NULL if none ran */
    double reference_rate; /* its median events/s */
    const char *fastest;   /* the entry with the shortest median, NULL if none ran */
    double fastest_s;      /* that median, s */
} bench_result;

/* Where the bench is, for the command's progress line. */
typedef struct etl_bench_progress {
    const char *entry;      /* the entry running */
    int round, rounds;      /* round counts from 0 */
    int run_no, total_runs; /* runs started so far, and at most */
    double secs;            /* since this run started, s */
} etl_bench_progress;

typedef struct etl_bench_cfg {
    const char *exe;       /* the etl program the processor runs execute */
    const char *scenarios; /* passed on as --scenarios, or NULL */
    const char *conninfo;  /* the server's; children get it as $ETL_DB, never in argv */
    const char *run_db;    /* the database every run loads: etl_run_SCENARIO */
    double budget_s;       /* s a processor may take over all its runs */
    int rejects_exit;      /* the exit status of a child done with rejects: a success too */
    /* --baseline's events, met by the first run or the bench stops there; NULL: none. */
    const char *expect_checksum;
    long long expect_events;
    const etl_log *log;                /* for the engine's own connections (--debug-sql) */
    const volatile sig_atomic_t *stop; /* set by SIGINT or SIGTERM: stop the child, return */
    /*
     * Mandatory: drop run_db and clone it again from the scenario's template
     * (before every raw-copy run; a processor's child makes its own).
     */
    int (*fresh_db)(void *ctx, etl_error *err);
    /* Optional: at the start of every run, and about every 20 ms while a child runs. */
    void (*progress)(void *ctx, const etl_bench_progress *p);
    void *ctx; /* fresh_db's and progress's */
} etl_bench_cfg;

/* What the command needs to say besides the result. */
typedef struct etl_bench_outcome {
    bool events_differ;      /* the first run's events were not expect_*: it stopped there */
    char interrupted_in[80]; /* after ETL_ERR_INTERRUPTED: when, "during round 2 of 3 (copy)" */
} etl_bench_outcome;

/*
 * Run res->runs_asked rounds of res->entries for res->scenario (whose
 * template must exist): every entry once per round, a processor as a child
 * `etl -q process SCENARIO PROCESSOR --json [--jobs N]` in a process group
 * of its own, the references after the first processor's first run (which
 * exports the events to a temporary directory, removed before returning).
 * Fills the entries' runs and res->events, checksum and checksum_from.
 * Returns ETL_OK (also when the budget cut a processor short: its note says
 * so, and when out->events_differ), ETL_ERR_INTERRUPTED after a stop (the
 * child stopped and reaped; out->interrupted_in says when), or the error of
 * the run that failed or wrote other events than the first, naming it.
 */
int etl_bench_run(const etl_bench_cfg *cfg, bench_result *res, etl_bench_outcome *out,
                  etl_error *err);

#endif
