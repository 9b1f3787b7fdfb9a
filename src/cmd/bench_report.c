/*
 * What `etl bench` prints: medians, ranges and ratios (bench_summarize), the
 * table, the JSON a later run compares against (--baseline), and --report's
 * SVG: ratios to raw COPY with their spread on the left, each processor's
 * memory over its first run (log scale, one small panel each) on the right.
 * Nothing here runs anything: it renders a bench_result.
 */
#include "bench.h"
#include "etl/log.h"
#include "etl/json_out.h"

#include <errno.h>
#include <math.h>
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

/* Median, min and max of n values (n > 0); v is left as it was. */
static bench_stat stat_of(const double *v, int n)
{
    double s[BENCH_MAX_RUNS];
    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(s[0]), cmp_double);
    bench_stat st = {
        .median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, .min = s[0], .max = s[n - 1]};
    return st;
}

void bench_summarize(bench_result *r)
{
    r->reference = NULL;
    r->reference_rate = 0;
    r->fastest = NULL;
    r->fastest_s = 0;
    const bench_entry *ref = NULL;
    for (size_t i = 0; i < r->n; i++) {
        bench_entry *e = &r->entries[i];
        if (e->runs == 0)
            continue;
        double rate[BENCH_MAX_RUNS] = {0};
        double rss[BENCH_MAX_RUNS] = {0};
        for (int k = 0; k < e->runs; k++) {
            rate[k] = e->elapsed[k] > 0 ? (double)e->events / e->elapsed[k] : 0;
            rss[k] = (double)e->rss_kib[k];
        }
        e->elapsed_s = stat_of(e->elapsed, e->runs);
        e->events_per_s = stat_of(rate, e->runs);
        e->rss_kib_stat = stat_of(rss, e->runs);
        if (e->reference && e->events_per_s.median > r->reference_rate) {
            ref = e;
            r->reference = e->name;
            r->reference_rate = e->events_per_s.median;
        }
        if (!r->fastest || e->elapsed_s.median < r->fastest_s) {
            r->fastest = e->name;
            r->fastest_s = e->elapsed_s.median;
        }
    }
    /*
     * Each run's ratio pairs it with the reference's run of the same round
     * (run k of every entry ran in round k), so a round slowed by a
     * neighbour moves both sides and the ratio's spread is the noise the
     * ratio itself has, not the machine's.
     */
    for (size_t i = 0; i < r->n; i++) {
        bench_entry *e = &r->entries[i];
        bench_stat zero = {0, 0, 0};
        e->ratio = zero;
        double ratio[BENCH_MAX_RUNS] = {0};
        int n = 0;
        for (int k = 0; ref && k < e->runs && k < ref->runs; k++)
            if (e->elapsed[k] > 0)
                ratio[n++] = ref->elapsed[k] / e->elapsed[k];
        if (n > 0)
            e->ratio = stat_of(ratio, n);
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
        if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] != '-')
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

typedef enum { FIG_SECONDS, FIG_RATE, FIG_MIB, FIG_RATIO } fig_kind;

static void fig_one(char *out, size_t cap, double v, fig_kind kind)
{
    switch (kind) {
    case FIG_SECONDS:
        snprintf(out, cap, "%.3f", v);
        break;
    case FIG_RATE:
        grouped(out, cap, v);
        break;
    case FIG_MIB:
        snprintf(out, cap, "%.1f", v / 1024.0);
        break;
    case FIG_RATIO:
        snprintf(out, cap, "%.2f", v);
        break;
    }
}

/* "0.071 (0.068-0.080)": the median, and the range when there is one. */
static const char *fig(char *out, size_t cap, const bench_stat *s, int runs, fig_kind kind)
{
    char med[32];
    char lo[32];
    char hi[32];
    fig_one(med, sizeof(med), s->median, kind);
    if (runs < 2) {
        snprintf(out, cap, "%s", med);
        return out;
    }
    fig_one(lo, sizeof(lo), s->min, kind);
    fig_one(hi, sizeof(hi), s->max, kind);
    snprintf(out, cap, "%s (%s-%s)", med, lo, hi);
    return out;
}

void bench_print_table(FILE *f, const bench_result *r)
{
    char a[32];
    fprintf(f, "etl bench %s: %s events per run, median (min-max) of up to %d runs", r->scenario,
            grouped(a, sizeof(a), (double)r->events), r->runs_asked);
    if (r->jobs > 1)
        fprintf(f, ", --jobs %d", r->jobs);
    fprintf(f, "\ncommit %s, %s; every entry wrote the same events (checksum %s)\n", r->commit,
            r->date, r->checksum);
    if (r->reference)
        fprintf(f,
                "reference: %s, %s events/s (PostgreSQL loading preformatted rows, nothing else)\n",
                r->reference, grouped(a, sizeof(a), r->reference_rate));
    fprintf(f, "\n%-16s %4s  %-26s %-28s %-19s %s\n", "", "runs", "elapsed s", "events/s",
            "peak RSS MiB", "vs raw-copy");
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        if (e->runs == 0) {
            fprintf(f, "%-16s %4d  %-26s %-28s %-19s %-17s %s\n", e->name, 0, "-", "-", "-", "-",
                    e->note);
            continue;
        }
        char el[112];
        char eps[112];
        char rss[112] = "-";
        char ratio[112];
        fig(el, sizeof(el), &e->elapsed_s, e->runs, FIG_SECONDS);
        fig(eps, sizeof(eps), &e->events_per_s, e->runs, FIG_RATE);
        if (!e->reference)
            fig(rss, sizeof(rss), &e->rss_kib_stat, e->runs, FIG_MIB);
        fig(ratio, sizeof(ratio), &e->ratio, e->runs, FIG_RATIO);
        /* The note, if any, after the ratio padded to its column; no trailing blanks. */
        fprintf(f, "%-16s %4d  %-26s %-28s %-19s %-*s%s%s\n", e->name, e->runs, el, eps, rss,
                e->note[0] ? 17 : 0, ratio, e->note[0] ? " " : "", e->note);
    }
}

/* "key":median,"key_min":min,"key_max":max with prec decimals. */
static void json_stat(FILE *f, const char *key, const bench_stat *s, int prec)
{
    fprintf(f, ",\"%s\":%.*f,\"%s_min\":%.*f,\"%s_max\":%.*f", key, prec, s->median, key, prec,
            s->min, key, prec, s->max);
}

void bench_print_json(FILE *f, const bench_result *r)
{
    fprintf(f, "{\"scenario\":");
    etl_json_fput(f, r->scenario);
    fprintf(f, ",\"commit\":");
    etl_json_fput(f, r->commit);
    fprintf(f, ",\"date\":");
    etl_json_fput(f, r->date);
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
        fprintf(f, "%s\n{\"name\":", i ? "," : "");
        etl_json_fput(f, e->name);
        fprintf(f, ",\"reference\":%s,\"runs\":%d", e->reference ? "true" : "false", e->runs);
        if (e->runs) {
            json_stat(f, "elapsed_s", &e->elapsed_s, 6);
            json_stat(f, "events_per_s", &e->events_per_s, 1);
            json_stat(f, "peak_rss_kib", &e->rss_kib_stat, 0);
            json_stat(f, "ratio", &e->ratio, 4);
            fprintf(f, ",\"elapsed_s_runs\":[");
            for (int k = 0; k < e->runs; k++)
                fprintf(f, "%s%.6f", k ? "," : "", e->elapsed[k]);
            fprintf(f, "],\"peak_rss_kib_runs\":[");
            for (int k = 0; k < e->runs; k++)
                fprintf(f, "%s%ld", k ? "," : "", e->rss_kib[k]);
            fprintf(f, "]");
        }
        fprintf(f, ",\"note\":");
        etl_json_fput(f, e->note);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

/* ---- the chart ---- */

static const char *const colors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                     "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define NCOLORS (sizeof(colors) / sizeof(colors[0]))
#define GREY "#8c8c8c"

/* Names come from processors.yaml: escape them like any text put in XML. */
static void svg_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *entry_color(const bench_result *r, const bench_entry *e)
{
    return e->reference ? GREY : colors[(size_t)(e - r->entries) % NCOLORS];
}

/* 309022 -> "309k" */
static void short_rate(char *out, size_t cap, double v)
{
    if (v >= 1e6)
        snprintf(out, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, cap, "%.0fk", v / 1e3);
    else
        snprintf(out, cap, "%.0f", v);
}

/* Layout, in pixels.  The left panel's value column and the right panel never share x. */
#define SVG_W 1160
#define TOP 124     /* first row of both panels */
#define ROW_H 30    /* a row of the throughput panel */
#define LABEL_X 150 /* names end here (right-aligned) */
#define AXIS_X0 160 /* ratio 0 */
#define AXIS_W 240  /* ratio axis length */
#define VALUE_X 412 /* the figures column */
#define MEM_X 640   /* the memory panels */
#define MEM_COLS 2
#define MEM_PW 240 /* one memory panel, its plot area below */
#define MEM_PH 128
#define MEM_PLOT_X 40
#define MEM_PLOT_Y 22
#define MEM_PLOT_W 195
#define MEM_PLOT_H 76

/* Left: each entry's ratio to the reference, median as a dot, min-max as whiskers. */
static void svg_ratios(FILE *f, const bench_result *r)
{
    double max = 1.0;
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i].runs && r->entries[i].ratio.max > max)
            max = r->entries[i].ratio.max;
    max = ceil(max * 4 + 0.2) / 4; /* a quarter past the longest whisker at most */
    double bottom = TOP + (double)r->n * ROW_H;
    fprintf(f,
            "<text x='20' y='96' font-weight='bold'>throughput, as a ratio to raw COPY</text>\n");
    fprintf(f,
            "<text x='%d' y='%d' font-size='11' fill='#555555'>dot: median, whiskers: "
            "min-max</text>\n",
            AXIS_X0, TOP - 10);
    int quarters = (int)lround(max * 4);
    for (int q = 0; q <= quarters; q++) {
        double t = q / 4.0;
        double x = AXIS_X0 + AXIS_W * t / max;
        bool one = fabs(t - 1.0) < 1e-9;
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%.0f' stroke='%s' stroke-width='1'%s/>\n",
                x, TOP - 6, x, bottom, one ? "#555555" : "#e3e3e3",
                one ? " stroke-dasharray='4 3'" : "");
        fprintf(f,
                "<text x='%.1f' y='%.0f' text-anchor='middle' font-size='11' fill='#555555'>"
                "%g</text>\n",
                x, bottom + 14, t);
    }
    fprintf(f,
            "<text x='%.1f' y='%.0f' text-anchor='middle' font-size='11' fill='#555555'>"
            "1 = raw COPY (%s)</text>\n",
            AXIS_X0 + AXIS_W / max, bottom + 28, r->reference ? r->reference : "none ran");
    fprintf(f,
            "<text x='%d' y='%d' font-size='11' fill='#555555'>ratio (min-max) · events/s</text>\n",
            VALUE_X, TOP - 10);
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        double y = TOP + (double)i * ROW_H + ROW_H / 2.0;
        const char *c = entry_color(r, e);
        if (i > 0 && e->reference != r->entries[i - 1].reference)
            fprintf(f, "<line x1='20' y1='%.1f' x2='%d' y2='%.1f' stroke='#cccccc'/>\n",
                    y - ROW_H / 2.0, VALUE_X + 170, y - ROW_H / 2.0);
        fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>", LABEL_X, y + 4.5);
        svg_escaped(f, e->name);
        fprintf(f, "</text>\n");
        if (e->runs == 0 || r->reference_rate <= 0) {
            fprintf(f, "<text x='%d' y='%.1f' fill='%s' font-style='italic'>%s</text>\n",
                    AXIS_X0 + 4, y + 4.5, GREY,
                    e->runs == 0 ? "skipped: over the --budget" : "no reference ran");
            continue;
        }
        double xm = AXIS_X0 + AXIS_W * e->ratio.median / max;
        double xl = AXIS_X0 + AXIS_W * e->ratio.min / max;
        double xh = AXIS_X0 + AXIS_W * e->ratio.max / max;
        fprintf(f,
                "<rect x='%d' y='%.1f' width='%.1f' height='12' fill='%s' fill-opacity='0.3'/>\n",
                AXIS_X0, y - 6, xm - AXIS_X0, c);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='2'/>\n",
                xl, y, xh, y, c);
        for (int end = 0; end < 2; end++)
            fprintf(f,
                    "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' "
                    "stroke-width='2'/>\n",
                    end ? xh : xl, y - 5, end ? xh : xl, y + 5, c);
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='4.5' fill='%s' stroke='white'/>\n", xm, y, c);
        char rate[32];
        short_rate(rate, sizeof(rate), e->events_per_s.median);
        if (e->runs > 1)
            fprintf(f,
                    "<text x='%d' y='%.1f'>%.2f <tspan fill='#555555' font-size='11'>"
                    "(%.2f-%.2f) · %s/s</tspan></text>\n",
                    VALUE_X, y + 4.5, e->ratio.median, e->ratio.min, e->ratio.max, rate);
        else
            fprintf(f,
                    "<text x='%d' y='%.1f'>%.2f <tspan fill='#555555' font-size='11'>"
                    "(1 run) · %s/s</tspan></text>\n",
                    VALUE_X, y + 4.5, e->ratio.median, rate);
    }
}

/* The 1-2-5 ticks (MiB) covering [lo, hi]; fewer, powers of ten only, over a wide range. */
static size_t mem_ticks(double lo, double hi, double *t, size_t cap)
{
    static const double steps[] = {1, 2, 5};
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        double first = 0;
        double last = 0;
        for (int decade = -2; decade <= 7; decade++)
            for (size_t s = 0; s < (pass ? 1 : 3); s++) {
                double v = pow(10, decade) * steps[s];
                if (v <= lo)
                    first = v; /* the last tick at or below lo */
                if (v >= hi && last == 0)
                    last = v; /* the first at or above hi */
            }
        for (int decade = -2; decade <= 7 && n < cap; decade++)
            for (size_t s = 0; s < (pass ? 1 : 3) && n < cap; s++) {
                double v = pow(10, decade) * steps[s];
                if (v >= first - 1e-9 && v <= last + 1e-9)
                    t[n++] = v;
            }
        if (n <= 5 || pass == 1)
            return n;
    }
    return 0;
}

/*
 * Right: one small panel per processor, memory over its first run.  All
 * panels share one log scale, so a flat 12 MiB and a climb to 367 MiB are
 * both readable and comparable; each has its own time axis, since runs last
 * from a second to minutes.  Separate panels leave no label to overlap.
 */
static void svg_memory(FILE *f, const bench_result *r)
{
    double lo = 0;
    double hi = 0;
    for (size_t i = 0; i < r->n; i++) {
        const bench_series *s = &r->entries[i].mem;
        for (size_t k = 0; k < s->n; k++) {
            double mib = (double)s->kib[k] / 1024.0;
            lo = lo == 0 || mib < lo ? mib : lo;
            hi = mib > hi ? mib : hi;
        }
    }
    fprintf(f, "<text x='%d' y='96' font-weight='bold'>%s</text>\n", MEM_X - 20,
            r->jobs > 1 ? "memory over each first run (largest worker's RSS, MiB, log scale)"
                        : "memory over each processor's first run (RSS, MiB, log scale)");
    double t[16];
    size_t nt = hi > 0 ? mem_ticks(lo, hi, t, 16) : 0;
    double llo = nt ? log(t[0]) : 0;
    double lhi = nt > 1 ? log(t[nt - 1]) : llo + 1;
    size_t panel = 0;
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        if (e->reference)
            continue;
        const bench_series *s = &e->mem;
        size_t col = panel % MEM_COLS;
        size_t row = panel / MEM_COLS;
        double px = MEM_X + (double)col * (MEM_PW + 20);
        double py = TOP - 12 + (double)row * MEM_PH;
        double x0 = px + MEM_PLOT_X;
        double y1 = py + MEM_PLOT_Y + MEM_PLOT_H; /* the plot's bottom */
        const char *c = entry_color(r, e);
        panel++;
        long peak = 0;
        long tmax = 1;
        for (size_t k = 0; k < s->n; k++) {
            peak = s->kib[k] > peak ? s->kib[k] : peak;
            tmax = s->ms[k] > tmax ? s->ms[k] : tmax;
        }
        fprintf(f, "<text x='%.0f' y='%.0f' font-weight='bold' fill='%s'>", x0, py + 12, c);
        svg_escaped(f, e->name);
        if (s->n)
            fprintf(f, "<tspan dx='8' font-weight='normal' fill='#333333'>peak %.*f MiB</tspan>",
                    peak >= 100L * 1024 ? 0 : 1, (double)peak / 1024.0);
        fprintf(f, "</text>\n");
        fprintf(
            f, "<rect x='%.0f' y='%.0f' width='%d' height='%d' fill='#fafafa' stroke='#cccccc'/>\n",
            x0, y1 - MEM_PLOT_H, MEM_PLOT_W, MEM_PLOT_H);
        if (!s->n) {
            fprintf(f, "<text x='%.0f' y='%.0f' fill='%s' font-style='italic'>%s</text>\n", x0 + 8,
                    y1 - MEM_PLOT_H / 2.0, GREY,
                    e->runs ? "no samples (run too short)" : "skipped: over the --budget");
            continue;
        }
        for (size_t k = 0; k < nt; k++) {
            double y = y1 - MEM_PLOT_H * (log(t[k]) - llo) / (lhi - llo);
            fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#e3e3e3'/>\n", x0, y,
                    x0 + MEM_PLOT_W, y);
            fprintf(f,
                    "<text x='%.0f' y='%.1f' text-anchor='end' font-size='10' fill='#555555'>"
                    "%g</text>\n",
                    x0 - 4, y + 3.5, t[k]);
        }
        size_t step = s->n > 300 ? s->n / 300 : 1;
        fprintf(f, "<polyline fill='none' stroke-width='2' stroke='%s' points='", c);
        for (size_t k = 0; k < s->n; k += step) {
            double mib = (double)s->kib[k] / 1024.0;
            fprintf(f, "%.1f,%.1f ", x0 + MEM_PLOT_W * (double)s->ms[k] / (double)tmax,
                    y1 - MEM_PLOT_H * (log(mib) - llo) / (lhi - llo));
        }
        fprintf(f, "'/>\n");
        fprintf(f, "<text x='%.0f' y='%.0f' font-size='10' fill='#555555'>0 s</text>\n", x0,
                y1 + 12);
        fprintf(f,
                "<text x='%.0f' y='%.0f' text-anchor='end' font-size='10' fill='#555555'>"
                "%.*f s</text>\n",
                x0 + MEM_PLOT_W, y1 + 12,
                tmax >= 10000  ? 0
                : tmax >= 1000 ? 1
                               : 2,
                (double)tmax / 1000.0);
    }
}

int bench_write_svg(const char *path, const bench_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t nproc = 0;
    for (size_t i = 0; i < r->n; i++)
        nproc += !r->entries[i].reference;
    double left = TOP + (double)r->n * ROW_H + 40;
    size_t rows = (nproc + MEM_COLS - 1) / MEM_COLS;
    double right = TOP - 12 + (double)rows * MEM_PH;
    double h = (left > right ? left : right) + 34;
    if (h < 300)
        h = 300;
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%.0f' "
            "viewBox='0 0 %d %.0f' font-family='DejaVu Sans, Verdana, sans-serif' "
            "font-size='12'>\n",
            SVG_W, h, SVG_W, h);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    char a[32];
    fprintf(f, "<text x='20' y='30' font-size='17' font-weight='bold'>etl bench ");
    svg_escaped(f, r->scenario);
    fprintf(f, ": %s events per run</text>\n", grouped(a, sizeof(a), (double)r->events));
    fprintf(f,
            "<text x='20' y='52' fill='#333333'>median and min-max of up to %d runs per "
            "entry, in interleaved rounds",
            r->runs_asked);
    if (r->jobs > 1)
        fprintf(f, ", --jobs %d", r->jobs);
    fprintf(f, " · commit ");
    svg_escaped(f, r->commit);
    fprintf(f, " · %s</text>\n", r->date);
    if (r->reference)
        fprintf(f,
                "<text x='20' y='70' fill='#333333'>reference: %s, %s events/s (PostgreSQL "
                "loading the same rows preformatted, nothing else); each run's ratio is to the "
                "reference's run in the same round</text>\n",
                r->reference, grouped(a, sizeof(a), r->reference_rate));
    svg_ratios(f, r);
    svg_memory(f, r);
    fprintf(f,
            "<text x='20' y='%.0f' font-size='11' fill='#555555'>etl bench --baseline compares "
            "the ratios on the left: a fall counts only beyond --tolerance and the spread of "
            "both runs (docs/performance.md)</text>\n",
            h - 12);
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
    return bench_write_svg(path, r);
}
