/*
 * `etl bench`'s presentation, shared by the command (cmd_bench.c), which has
 * the engine (etl/bench_engine.h) run the entries, the gate (bench_gate.c),
 * which reads a --baseline and judges the run against it, and the report
 * writer (bench_report.c), which prints the table, the JSON and the SVG
 * chart.  Every figure is a median with its min-max over the runs: one
 * number without its spread cannot tell a change from noise on a shared
 * machine.  The result structs are the engine's.
 */
#ifndef ETL_BENCH_H
#define ETL_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#include "etl/bench_engine.h"
#include "etl/error.h"

/* Below this median per run (s) timings are mostly scheduler noise: bench warns. */
#define BENCH_MIN_TIMED_S 0.2
/* Fewer runs than this on either side give no usable spread: the gate does not judge. */
#define BENCH_MIN_JUDGED_RUNS 3

/* Medians, ranges, rates and each entry's ratio to the better raw-copy. */
void bench_summarize(bench_result *r);
void bench_print_table(FILE *f, const bench_result *r);
void bench_print_json(FILE *f, const bench_result *r);
/* Write DIR/bench.txt, bench.json and bench.svg; 0 or -1 with errno set. */
int bench_write_report(const char *dir, const bench_result *r);
/* Only the chart, to path; 0 or -1 with errno set. */
int bench_write_svg(const char *path, const bench_result *r);

/* ---- the gate: --baseline (bench_gate.c) ---- */

/* One entry of a baseline file. */
typedef struct bench_base_entry {
    char name[64];
    int runs;
    bool has_ratio;  /* it ran at least once */
    bool has_spread; /* ratio_min and ratio_max present (older files lack them) */
    bench_stat ratio;
} bench_base_entry;

/* A parsed `etl bench --json` file. */
typedef struct bench_baseline {
    char scenario[128];
    char commit[48]; /* "" if the file does not say */
    int jobs;
    long long events;
    char checksum[96];
    bench_base_entry *entries;
    size_t n;
} bench_baseline;

/*
 * Read and parse file into *b (released with bench_baseline_release, also
 * on failure).  ETL_ERR_USAGE naming the file if it cannot be read or is not
 * what `etl bench --json` writes.
 */
int bench_baseline_load(bench_baseline *b, const char *file, etl_error *err);
void bench_baseline_release(bench_baseline *b);

/*
 * Before anything runs: can this run be compared with b at all?  The same
 * scenario, the same --jobs, and every processor of the run in the baseline.
 * ETL_ERR_USAGE naming file and both sides if not.  plan holds the entries
 * about to run (no results yet).
 */
int bench_baseline_check(const bench_baseline *b, const char *file, const bench_result *plan,
                         etl_error *err);

typedef enum bench_verdict_kind {
    BENCH_NOT_JUDGED,       /* too few runs on a side to know the noise */
    BENCH_WITHIN_TOLERANCE, /* fell by no more than --tolerance (or rose) */
    BENCH_WITHIN_NOISE,     /* fell by more than --tolerance, but no more than the noise */
    BENCH_REGRESSION,       /* fell by more than both */
} bench_verdict_kind;

typedef struct bench_verdict {
    bench_verdict_kind kind;
    double change; /* now / before - 1: -0.25 is a fall of 25% */
    double noise;  /* the two runs' relative spreads, summed: 0.3 is 30% */
} bench_verdict;

/*
 * The noise rule.  A ratio fell for real only if the fall is larger than
 * tol_pct and larger than the noise: the spread (max - min over median) of
 * the baseline's runs plus that of this run's.  Both sides need
 * BENCH_MIN_JUDGED_RUNS runs and a spread, else BENCH_NOT_JUDGED.
 */
bench_verdict bench_judge(const bench_stat *was, int was_runs, bool was_spread,
                          const bench_stat *now, int now_runs, double tol_pct);

/*
 * After the run: print one `baseline:` line per processor to out, saying
 * what changed and why it is or is not a regression, and the events
 * verdict.  Returns ETL_EXIT_OK or ETL_EXIT_REGRESSION.
 */
int bench_compare(const bench_baseline *b, const char *file, const bench_result *r, double tol_pct,
                  FILE *out);

/*
 * Is the run too short to time?  If its fastest entry's median is under
 * BENCH_MIN_TIMED_S, write a warning (without the "etl: " prefix) to out
 * and return true.  bigger is the scenario to suggest, or NULL if none is.
 */
bool bench_too_small(const bench_result *r, const char *bigger, char *out, size_t cap);

#endif
