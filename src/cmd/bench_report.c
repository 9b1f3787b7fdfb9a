/*
 * What `etl bench` prints: medians and ratios (bench_summarize), the table,
 * the JSON a later run compares against (--baseline), and --report's SVG:
 * throughput per processor on the left, memory over time on the right.
 */
#include "bench.h"
#include "etl/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a;
    long y = *(const long *)b;
    return (x > y) - (x < y);
}

void bench_summarize(bench_result *r)
{
    r->reference = NULL;
    r->reference_rate = 0;
    for (size_t i = 0; i < r->n; i++) {
        bench_entry *e = &r->entries[i];
        if (e->runs == 0)
            continue;
        double t[BENCH_MAX_RUNS];
        long m[BENCH_MAX_RUNS];
        memcpy(t, e->elapsed, sizeof(double) * (size_t)e->runs);
        memcpy(m, e->rss_kib, sizeof(long) * (size_t)e->runs);
        qsort(t, (size_t)e->runs, sizeof(t[0]), cmp_double);
        qsort(m, (size_t)e->runs, sizeof(m[0]), cmp_long);
        int k = e->runs / 2;
        e->median_s = e->runs % 2 ? t[k] : (t[k - 1] + t[k]) / 2;
        e->median_rss_kib = e->runs % 2 ? m[k] : (m[k - 1] + m[k]) / 2;
        e->events_per_s = e->median_s > 0 ? (double)e->events / e->median_s : 0;
        if (e->reference && e->events_per_s > r->reference_rate) {
            r->reference = e->name;
            r->reference_rate = e->events_per_s;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        bench_entry *e = &r->entries[i];
        e->ratio = r->reference_rate > 0 && e->runs ? e->events_per_s / r->reference_rate : 0;
    }
}

/* 1234567 -> "1,234,567" */
static const char *grouped(char *out, size_t cap, double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", v);
    size_t n = strlen(digits);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

void bench_print_table(FILE *f, const bench_result *r)
{
    char a[32];
    fprintf(f, "etl bench %s: %s events per run, median of up to %d runs", r->scenario,
            grouped(a, sizeof(a), (double)r->events), r->runs_asked);
    if (r->jobs > 1)
        fprintf(f, ", --jobs %d", r->jobs);
    fprintf(f, "\nevery entry wrote the same events (checksum %s)\n", r->checksum);
    if (r->reference)
        fprintf(f,
                "reference: %s, %s events/s (PostgreSQL loading preformatted rows, nothing else)\n",
                r->reference, grouped(a, sizeof(a), r->reference_rate));
    fprintf(f, "\n%-18s %4s %11s %12s %13s %12s\n", "", "runs", "elapsed s", "events/s",
            "peak RSS MiB", "vs raw-copy");
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        if (e->runs == 0) {
            fprintf(f, "%-18s %4d %11s %12s %13s %12s   %s\n", e->name, 0, "-", "-", "-", "-",
                    e->note);
            continue;
        }
        char rss[32] = "-";
        if (!e->reference)
            snprintf(rss, sizeof(rss), "%.1f", (double)e->median_rss_kib / 1024.0);
        fprintf(f, "%-18s %4d %11.3f %12s %13s %12.2f%s%s\n", e->name, e->runs, e->median_s,
                grouped(a, sizeof(a), e->events_per_s), rss, e->ratio, e->note[0] ? "   " : "",
                e->note);
    }
}

void bench_print_json(FILE *f, const bench_result *r)
{
    fprintf(f, "{\"scenario\":");
    etl_json_fput(f, r->scenario);
    fprintf(f, ",\"runs\":%d,\"jobs\":%d,\"events\":%lld,\"checksum\":", r->runs_asked, r->jobs,
            r->events);
    etl_json_fput(f, r->checksum);
    fprintf(f, ",\"reference\":");
    if (r->reference)
        etl_json_fput(f, r->reference);
    else
        fprintf(f, "null");
    fprintf(f, ",\"reference_events_per_s\":%.1f,\"results\":[", r->reference_rate);
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        etl_json_fput(f, e->name);
        fprintf(f, ",\"reference\":%s,\"runs\":%d", e->reference ? "true" : "false", e->runs);
        if (e->runs)
            fprintf(f,
                    ",\"elapsed_s\":%.6f,\"events_per_s\":%.1f,\"peak_rss_kib\":%ld,"
                    "\"ratio\":%.4f",
                    e->median_s, e->events_per_s, e->median_rss_kib, e->ratio);
        fprintf(f, ",\"note\":");
        etl_json_fput(f, e->note);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

static const char *const colors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                     "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define NCOLORS (sizeof(colors) / sizeof(colors[0]))

/* Left panel: one bar of events/s per entry, references in grey. */
static void svg_bars(FILE *f, const bench_result *r)
{
    double max = 1;
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].events_per_s > max)
            max = r->entries[i].events_per_s;
    fprintf(f, "<text x='20' y='30' font-weight='bold'>events/s (median), %s</text>\n",
            r->scenario);
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        double y = 50 + (double)i * 32;
        double w = 300 * e->events_per_s / max;
        char a[32];
        fprintf(f, "<text x='130' y='%.0f' text-anchor='end'>%s</text>\n", y + 16, e->name);
        fprintf(f, "<rect x='140' y='%.0f' width='%.1f' height='22' fill='%s'/>\n", y, w,
                e->reference ? "#999999" : colors[i % NCOLORS]);
        fprintf(f, "<text x='%.1f' y='%.0f'>%s</text>\n", 146 + w, y + 16,
                e->runs ? grouped(a, sizeof(a), e->events_per_s) : "skipped");
    }
}

/* Right panel: resident memory over the first run of each processor. */
static void svg_memory(FILE *f, const bench_result *r)
{
    long tmax = 1;
    long kmax = 1;
    for (size_t i = 0; i < r->n; i++) {
        const bench_series *s = &r->entries[i].mem;
        for (size_t k = 0; k < s->n; k++) {
            if (s->ms[k] > tmax)
                tmax = s->ms[k];
            if (s->kib[k] > kmax)
                kmax = s->kib[k];
        }
    }
    const double x0 = 560;
    const double y0 = 400;
    const double w = 380;
    const double h = 340;
    fprintf(f,
            "<text x='%.0f' y='30' font-weight='bold'>resident memory over the run (MiB)</text>\n",
            x0);
    fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", x0, y0, x0 + w,
            y0);
    fprintf(f, "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='black'/>\n", x0, y0, x0,
            y0 - h);
    fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='end'>%.1f</text>\n", x0 - 4, y0 - h + 4,
            (double)kmax / 1024.0);
    fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='end'>0</text>\n", x0 - 4, y0);
    fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='end'>%.1f s</text>\n", x0 + w, y0 + 18,
            (double)tmax / 1000.0);
    int legend = 0;
    for (size_t i = 0; i < r->n; i++) {
        const bench_series *s = &r->entries[i].mem;
        if (!s->n)
            continue;
        size_t step = s->n > 400 ? s->n / 400 : 1;
        fprintf(f, "<polyline fill='none' stroke-width='2' stroke='%s' points='",
                colors[i % NCOLORS]);
        for (size_t k = 0; k < s->n; k += step)
            fprintf(f, "%.1f,%.1f ", x0 + w * (double)s->ms[k] / (double)tmax,
                    y0 - h * (double)s->kib[k] / (double)kmax);
        fprintf(f, "'/>\n");
        fprintf(f, "<text x='%.0f' y='%d' fill='%s'>%s</text>\n", x0 + 10, 60 + 18 * legend++,
                colors[i % NCOLORS], r->entries[i].name);
    }
}

static int write_svg(const char *path, const bench_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='980' height='%zu' "
            "font-family='sans-serif' font-size='13'>\n",
            r->n * 32 + 120 > 440 ? r->n * 32 + 120 : (size_t)440);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    svg_bars(f, r);
    svg_memory(f, r);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}

int bench_write_report(const char *dir, const bench_result *r)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    bench_print_table(f, r);
    if (fclose(f) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/bench.json", dir);
    if (!(f = fopen(path, "w")))
        return -1;
    bench_print_json(f, r);
    if (fclose(f) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/bench.svg", dir);
    return write_svg(path, r);
}
