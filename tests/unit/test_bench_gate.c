/*
 * etl bench's gate and chart, without a database: the noise rule (a fall
 * counts only beyond --tolerance and the two runs' spread; too few runs are
 * not judged), each run's ratio paired with the reference's run of the
 * same round, --baseline files checked for scenario and processors before a
 * run, and the SVG: caption, a log memory scale, and no text on text or on
 * a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"
#include "exitcodes.h"
#include "harness.h"

static bench_stat st(double median, double min, double max)
{
    bench_stat s = {median, min, max};
    return s;
}

/* The case: one run on each side says nothing about noise. */
static void test_bench_judge_single_runs_are_not_judged(void **state)
{
    (void)state;
    bench_stat was = st(0.38, 0.38, 0.38);
    bench_stat now = st(0.19, 0.19, 0.19);
    bench_verdict v = bench_judge(&was, 1, true, &now, 1, 20);
    assert_int_equal(v.kind, BENCH_NOT_JUDGED);
    assert_true(v.change < -0.49 && v.change > -0.51);
    /* Three runs now, but the baseline still has one. */
    now = st(0.19, 0.18, 0.20);
    assert_int_equal(bench_judge(&was, 1, true, &now, 3, 20).kind, BENCH_NOT_JUDGED);
    /* A baseline written before spreads existed. */
    assert_int_equal(bench_judge(&was, 3, false, &now, 3, 20).kind, BENCH_NOT_JUDGED);
}

static void test_bench_judge_noise_rule(void **state)
{
    (void)state;
    /* Fell 10%: within a 20% tolerance whatever the noise. */
    bench_stat was = st(0.90, 0.89, 0.91);
    bench_stat now = st(0.81, 0.80, 0.82);
    assert_int_equal(bench_judge(&was, 3, true, &now, 3, 20).kind, BENCH_WITHIN_TOLERANCE);
    /* Rose: never a regression. */
    now = st(1.2, 1.1, 1.3);
    assert_int_equal(bench_judge(&was, 3, true, &now, 3, 0).kind, BENCH_WITHIN_TOLERANCE);
    /* Fell 50% on a scenario too small to time: the runs themselves spread wider. */
    was = st(0.38, 0.20, 0.45);
    now = st(0.19, 0.15, 0.40);
    bench_verdict v = bench_judge(&was, 3, true, &now, 3, 20);
    assert_int_equal(v.kind, BENCH_WITHIN_NOISE);
    assert_true(v.noise > 0.5);
    /* Fell 30% with tight runs: past both. */
    was = st(0.90, 0.88, 0.92);
    now = st(0.63, 0.62, 0.65);
    v = bench_judge(&was, 3, true, &now, 3, 20);
    assert_int_equal(v.kind, BENCH_REGRESSION);
    assert_true(v.noise > 0.08 && v.noise < 0.10);
    /* The same fall with a 40% tolerance is no regression. */
    assert_int_equal(bench_judge(&was, 3, true, &now, 3, 40).kind, BENCH_WITHIN_TOLERANCE);
}

/* Two references and two processors, three rounds; round 2 slowed everything by half. */
static bench_entry entries[9];
static const char *const names[] = {"raw-copy-text", "raw-copy-binary", "naive",     "naive-joined",
                                    "flush-single",  "chunked",         "copy-text", "copy",
                                    "in-db"};

static void fill(bench_result *r, size_t n)
{
    memset(r, 0, sizeof(*r));
    memset(entries, 0, sizeof(entries));
    r->scenario = "xlarge";
    r->commit = "abc1234";
    snprintf(r->date, sizeof(r->date), "2025-01-02 03:04 UTC");
    r->runs_asked = 3;
    r->jobs = 1;
    r->entries = entries;
    r->n = n;
    r->events = 1000000;
    snprintf(r->checksum, sizeof(r->checksum), "123-456");
    for (size_t i = 0; i < n; i++) {
        bench_entry *e = &entries[i];
        e->name = names[i];
        e->reference = i < 2;
        e->runs = 3;
        e->events = r->events;
        for (int k = 0; k < 3; k++) {
            double base = i == 0 ? 5.0 : i == 1 ? 3.0 : 3.0 + 10.0 * (double)(i - 2);
            e->elapsed[k] = base * (k == 1 ? 1.5 : 1.0) * (k == 2 ? 1.02 : 1.0);
            e->rss_kib[k] = e->reference ? 0 : (i < 4 ? 367 * 1024 : 12 * 1024) + k;
        }
    }
}

static void test_bench_summarize_pairs_rounds(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 4);
    bench_summarize(&r);
    assert_string_equal(r.reference, "raw-copy-binary");
    assert_string_equal(r.fastest, "raw-copy-binary");
    /* naive: 3 s like the reference in every round, the slow round included: ratio 1, no spread. */
    const bench_entry *naive = &entries[2];
    assert_true(naive->ratio.median > 0.999 && naive->ratio.median < 1.001);
    assert_true(naive->ratio.max - naive->ratio.min < 1e-9);
    /* Its elapsed time does spread: 3, 4.5, 3.06. */
    assert_true(naive->elapsed_s.min > 2.99 && naive->elapsed_s.max > 4.49);
    assert_true(naive->elapsed_s.median > 3.05 && naive->elapsed_s.median < 3.07);
    assert_true(naive->events_per_s.max > naive->events_per_s.min * 1.4);
    assert_true(naive->rss_kib_stat.min < naive->rss_kib_stat.max);
}

static char *json_of(const bench_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bench_print_json(f, r);
    fclose(f);
    return text;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bench_baseline_round_trip_and_checks(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 9);
    entries[3].ratio = st(0, 0, 0);
    bench_summarize(&r);
    char *json = json_of(&r);
    assert_non_null(strstr(json, "\"ratio_min\":"));
    assert_non_null(strstr(json, "\"elapsed_s_max\":"));
    assert_non_null(strstr(json, "\"commit\":\"abc1234\""));
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-gate-base.json", ETL_TEST_WORKDIR);
    write_file(path, json);
    free(json);

    etl_error err;
    etl_error_clear(&err);
    bench_baseline b;
    assert_int_equal(bench_baseline_load(&b, path, &err), ETL_OK);
    assert_string_equal(b.scenario, "xlarge");
    assert_int_equal(b.n, 9);
    assert_true(b.entries[2].has_spread);
    assert_true(b.entries[2].ratio.min <= b.entries[2].ratio.median);
    assert_int_equal(bench_baseline_check(&b, path, &r, &err), ETL_OK);

    /* Another scenario: a usage error naming the file and both scenarios. */
    r.scenario = "small";
    assert_int_equal(bench_baseline_check(&b, path, &r, &err), ETL_ERR_USAGE);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "'xlarge'"));
    assert_non_null(strstr(err.msg, "'small'"));
    r.scenario = "xlarge";

    /* A processor the baseline lacks: named, with what the baseline has. */
    bench_baseline_release(&b);
    fill(&r, 4);
    bench_summarize(&r);
    json = json_of(&r);
    write_file(path, json);
    free(json);
    assert_int_equal(bench_baseline_load(&b, path, &err), ETL_OK);
    fill(&r, 9);
    assert_int_equal(bench_baseline_check(&b, path, &r, &err), ETL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "no results for flush-single, chunked, copy-text, copy, "
                                    "in-db (it has: raw-copy-text, raw-copy-binary, naive, "
                                    "naive-joined)"));
    bench_baseline_release(&b);

    /* A missing file, and one that is not bench's JSON. */
    assert_int_equal(bench_baseline_load(&b, "/nonexistent/base.json", &err), ETL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "--baseline /nonexistent/base.json: No such file"));
    write_file(path, "{\"scenario\":\"xlarge\"}");
    assert_int_equal(bench_baseline_load(&b, path, &err), ETL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "is not the JSON of `etl bench --json`"));
    write_file(path, "{\"scenario\":\"x\",\"events\":1,\"checksum\":\"zz\",\"results\":[]}");
    assert_int_equal(bench_baseline_load(&b, path, &err), ETL_ERR_USAGE);
    assert_non_null(strstr(err.msg, "event checksum 'zz'"));
}

static char *compare_text(const bench_baseline *b, const bench_result *r, double tol, int *status)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *status = bench_compare(b, "base.json", r, tol, f);
    fclose(f);
    return text;
}

static void test_bench_compare_says_why(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 4);
    bench_summarize(&r);
    bench_baseline b;
    memset(&b, 0, sizeof(b));
    snprintf(b.scenario, sizeof(b.scenario), "xlarge");
    snprintf(b.checksum, sizeof(b.checksum), "123-456");
    b.events = 1000000;
    b.jobs = 1;
    bench_base_entry be[2];
    memset(be, 0, sizeof(be));
    b.entries = be;
    b.n = 2;
    snprintf(be[0].name, sizeof(be[0].name), "naive");
    be[0].runs = 3;
    be[0].has_ratio = be[0].has_spread = true;
    be[0].ratio = st(1.0, 0.98, 1.02); /* now 1.0 */
    snprintf(be[1].name, sizeof(be[1].name), "naive-joined");
    be[1].runs = 3;
    be[1].has_ratio = be[1].has_spread = true;
    be[1].ratio = st(0.5, 0.49, 0.51); /* now 3/13 = 0.23 */
    int status = 0;
    char *text = compare_text(&b, &r, 20, &status);
    assert_int_equal(status, ETL_EXIT_REGRESSION);
    assert_non_null(strstr(text, "baseline: naive          1.00 (1.00-1.00) of raw-copy now, "
                                 "1.00 (0.98-1.02) before: +0%, within the 20% tolerance"));
    assert_non_null(strstr(text, "past the 20% tolerance and the noise (the two runs' spreads "
                                 "add up to 4%): REGRESSION"));
    free(text);
    /* The same fall inside a wide baseline spread is noise. */
    be[1].ratio = st(0.5, 0.2, 0.9);
    text = compare_text(&b, &r, 20, &status);
    assert_int_equal(status, ETL_EXIT_OK);
    assert_non_null(strstr(text, "within the noise"));
    assert_non_null(strstr(text, "baseline: no regression against base.json"));
    free(text);
    /* Other events: exit 9 whatever the ratios. */
    snprintf(b.checksum, sizeof(b.checksum), "1-2");
    text = compare_text(&b, &r, 20, &status);
    assert_int_equal(status, ETL_EXIT_REGRESSION);
    assert_non_null(strstr(text, "baseline: events differ"));
    free(text);
    /*
     * A processor cut short by --budget (it got slower) is a regression: 0
     * runs, or fewer than can be judged against a baseline that had enough.
     */
    snprintf(b.checksum, sizeof(b.checksum), "123-456");
    be[1].ratio = st(0.23, 0.22, 0.24);
    entries[3].runs = 0;
    text = compare_text(&b, &r, 20, &status);
    assert_int_equal(status, ETL_EXIT_REGRESSION);
    assert_non_null(strstr(text, "naive-joined   0 of 3 runs this time (past --budget"));
    free(text);
    entries[3].runs = 1;
    text = compare_text(&b, &r, 20, &status);
    assert_int_equal(status, ETL_EXIT_REGRESSION);
    assert_non_null(strstr(text, "naive-joined   1 of 3 runs this time"));
    free(text);
}

static void test_bench_too_small_names_a_bigger_scenario(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 4);
    for (int k = 0; k < 3; k++)
        entries[1].elapsed[k] = 0.004;
    r.scenario = "small";
    bench_summarize(&r);
    char msg[512];
    assert_true(bench_too_small(&r, "large-few-users", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "bench small: too small to time: raw-copy-binary took 0.004 s"));
    assert_non_null(strstr(msg, "use large-few-users"));
    fill(&r, 4);
    bench_summarize(&r);
    assert_false(bench_too_small(&r, NULL, msg, sizeof(msg)));
}

/* ---- the chart ---- */

typedef struct box {
    double x0, y0, x1, y1;
    char text[128];
} box;

static double attr(const char *tag, const char *end, const char *name, double fallback)
{
    char key[32];
    snprintf(key, sizeof(key), " %s='", name);
    const char *p = strstr(tag, key);
    return p && p < end ? strtod(p + strlen(key), NULL) : fallback;
}

/*
 * Every <text> as a box: width from the character count at 0.6 em (DejaVu
 * Sans averages less), height one em above the baseline.
 */
static size_t text_boxes(const char *svg, box *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = strstr(svg, "<text "); p && n < cap; p = strstr(p + 1, "<text ")) {
        const char *gt = strchr(p, '>');
        const char *close = strstr(p, "</text>");
        assert_non_null(gt);
        assert_non_null(close);
        double size = attr(p, gt, "font-size", 12);
        double x = attr(p, gt, "x", 0);
        double y = attr(p, gt, "y", 0);
        box *b = &out[n++];
        size_t len = 0;
        size_t chars = 0;
        for (const char *c = gt + 1; c < close; c++) {
            if (*c == '<') { /* a tspan tag: skip it */
                c = strchr(c, '>');
                continue;
            }
            if (*c == '&')
                c = strchr(c, ';');
            if (((unsigned char)*c & 0xC0) != 0x80)
                chars++;
            if (len + 1 < sizeof(b->text))
                b->text[len++] = *c;
        }
        b->text[len] = '\0';
        double w = (double)chars * 0.6 * size;
        const char *anchor = strstr(p, "text-anchor='");
        bool end = anchor && anchor < gt && strncmp(anchor + 13, "end", 3) == 0;
        bool mid = anchor && anchor < gt && strncmp(anchor + 13, "middle", 6) == 0;
        b->x0 = end ? x - w : mid ? x - w / 2 : x;
        b->x1 = b->x0 + w;
        b->y0 = y - 0.8 * size;
        b->y1 = y + 0.2 * size;
    }
    return n;
}

static bool inside(const box *b, double x, double y)
{
    return x > b->x0 && x < b->x1 && y > b->y0 && y < b->y1;
}

static char *svg_of(const bench_result *r)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-gate.svg", ETL_TEST_WORKDIR);
    assert_int_equal(bench_write_svg(path, r), 0);
    return etl_test_read(path);
}

static bench_series series[9];

static void add_memory(bench_result *r)
{
    /* naive climbs to 367 MiB over 85 s; the streaming ones stay at 12 MiB for 3 s. */
    for (size_t i = 2; i < r->n; i++) {
        bench_series *s = &series[i];
        s->n = s->cap = 200;
        s->ms = calloc(s->n, sizeof(long));
        s->kib = calloc(s->n, sizeof(long));
        assert_non_null(s->ms);
        assert_non_null(s->kib);
        for (size_t k = 0; k < s->n; k++) {
            bool grows = i < 4;
            s->ms[k] = (long)k * (grows ? 425 : 15);
            s->kib[k] = grows ? 8L * 1024 + (long)k * 1847 : 12L * 1024;
        }
        entries[i].mem = *s;
    }
}

static void free_memory(void)
{
    for (size_t i = 0; i < 9; i++) {
        free(series[i].ms);
        free(series[i].kib);
        memset(&series[i], 0, sizeof(series[i]));
    }
}

static void test_bench_svg_caption_and_no_overlaps(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 9);
    add_memory(&r);
    bench_summarize(&r);
    char *svg = svg_of(&r);
    /* The caption: scenario, commit, date, runs, and what 1.0 means. */
    assert_non_null(strstr(svg, "etl bench xlarge: 1,000,000 events per run"));
    assert_non_null(strstr(svg, "commit abc1234"));
    assert_non_null(strstr(svg, "2025-01-02 03:04 UTC"));
    assert_non_null(strstr(svg, "up to 3 runs"));
    assert_non_null(strstr(svg, "1 = raw COPY (raw-copy-binary)"));
    assert_null(strstr(svg, "worker"));

    box b[400];
    size_t n = text_boxes(svg, b, 400);
    assert_true(n > 30);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (b[i].x0 < b[j].x1 && b[j].x0 < b[i].x1 && b[i].y0 < b[j].y1 && b[j].y0 < b[i].y1)
                fail_msg("text overlaps: '%s' and '%s'", b[i].text, b[j].text);
    /* No label sits on a memory line. */
    for (const char *p = strstr(svg, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        const char *pts = strstr(p, "points='") + 8;
        const char *end = strchr(pts, '\'');
        while (pts < end) {
            char *next = NULL;
            double x = strtod(pts, &next);
            double y = strtod(next + 1, &next);
            for (size_t i = 0; i < n; i++)
                if (inside(&b[i], x, y))
                    fail_msg("label '%s' on a line at %.0f,%.0f", b[i].text, x, y);
            pts = next + 1;
        }
    }
    free(svg);
    free_memory();
}

/* With --jobs the chart says whose memory it draws: the largest worker's, as bench samples. */
static void test_bench_svg_jobs_says_worker(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 9);
    r.jobs = 2;
    add_memory(&r);
    bench_summarize(&r);
    char *svg = svg_of(&r);
    assert_non_null(strstr(svg, ", --jobs 2"));
    assert_non_null(strstr(svg, "memory over each first run (largest worker's RSS"));
    free(svg);
    free_memory();
}

/* Highest and lowest y of the first polyline after from. */
static void polyline_y(const char *from, double *top, double *bottom)
{
    const char *pts = strstr(strstr(from, "<polyline"), "points='") + 8;
    const char *end = strchr(pts, '\'');
    *top = 1e9;
    *bottom = -1e9;
    while (pts < end) {
        char *next = NULL;
        (void)strtod(pts, &next);
        double y = strtod(next + 1, &next);
        *top = y < *top ? y : *top;
        *bottom = y > *bottom ? y : *bottom;
        pts = next + 1;
    }
}

/*
 * 12 MiB and 367 MiB both readable: on a linear axis a flat 12 MiB line
 * sits 3% up the plot, on the floor.  On the log scale it must sit at
 * least a quarter of the plot above it, and naive must climb visibly.
 */
static void test_bench_svg_memory_readable(void **state)
{
    (void)state;
    bench_result r;
    fill(&r, 9);
    add_memory(&r);
    bench_summarize(&r);
    char *svg = svg_of(&r);
    assert_non_null(strstr(svg, "log scale"));
    const char *copy_panel = strstr(svg, ">copy<tspan");
    const char *naive_panel = strstr(svg, ">naive<tspan");
    assert_non_null(copy_panel);
    assert_non_null(naive_panel);
    /* Each memory panel: its title, a background rect (the plot area), then its line. */
    const char *rect = strstr(copy_panel, "<rect ");
    double plot_y = attr(rect, strchr(rect, '>'), "y", 0);
    double plot_h = attr(rect, strchr(rect, '>'), "height", 0);
    assert_true(plot_h > 40);
    double top = 0;
    double bottom = 0;
    polyline_y(copy_panel, &top, &bottom);
    assert_true(bottom - top < 1); /* flat */
    if (plot_y + plot_h - bottom < plot_h / 4)
        fail_msg("12 MiB drawn %.0f px above the floor of a %.0f px plot", plot_y + plot_h - bottom,
                 plot_h);
    polyline_y(naive_panel, &top, &bottom);
    assert_true(bottom - top > plot_h / 2);
    assert_non_null(strstr(naive_panel, "peak 367 MiB"));
    free(svg);
    free_memory();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_judge_single_runs_are_not_judged),
        cmocka_unit_test(test_bench_judge_noise_rule),
        cmocka_unit_test(test_bench_summarize_pairs_rounds),
        cmocka_unit_test(test_bench_baseline_round_trip_and_checks),
        cmocka_unit_test(test_bench_compare_says_why),
        cmocka_unit_test(test_bench_too_small_names_a_bigger_scenario),
        cmocka_unit_test(test_bench_svg_caption_and_no_overlaps),
        cmocka_unit_test(test_bench_svg_jobs_says_worker),
        cmocka_unit_test(test_bench_svg_memory_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
