/*
 * `etl bench`'s results, shared by the command (cmd_bench.c), which runs and
 * compares, and the report writer (bench_report.c), which prints the table,
 * the JSON and the SVG chart.
 */
#ifndef ETL_BENCH_H
#define ETL_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#define BENCH_MAX_RUNS 50

/* RSS over time of one run, sampled while it ran. */
typedef struct bench_series {
    long *ms;  /* since the start of the run */
    long *kib; /* resident memory then */
    size_t n, cap;
} bench_series;

/* One row of the table: a processor, or one of the raw-copy references. */
typedef struct bench_entry {
    const char *name;
    bool reference; /* raw-copy-text or raw-copy-binary */
    int runs;       /* runs done */
    double elapsed[BENCH_MAX_RUNS];
    long rss_kib[BENCH_MAX_RUNS];
    long long events;
    char checksum[96];
    char note[200];   /* why it was skipped or cut short, "" if it ran every run */
    bool skipped;     /* no run completed */
    bench_series mem; /* first run only */
    /* Filled in by bench_summarize: */
    double median_s, events_per_s, ratio;
    long median_rss_kib;
} bench_entry;

typedef struct bench_result {
    const char *scenario;
    int runs_asked;
    int jobs;
    bench_entry *entries;
    size_t n;
    long long events;          /* per run, the same for every entry */
    char checksum[96];         /* the same for every entry */
    const char *checksum_from; /* the entry that set it */
    const char *reference;     /* the name of the better raw-copy, NULL if none ran */
    double reference_rate;
} bench_result;

/* Medians, rates and each entry's fraction of the better raw-copy. */
void bench_summarize(bench_result *r);
void bench_print_table(FILE *f, const bench_result *r);
void bench_print_json(FILE *f, const bench_result *r);
/* Write DIR/bench.txt, bench.json and bench.svg; 0 or -1 with errno set. */
int bench_write_report(const char *dir, const bench_result *r);

#endif
