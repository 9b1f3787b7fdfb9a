/*
 * `etl bench --baseline FILE`: read a saved `etl bench --json`, check before
 * anything runs that this run can be compared with it, and afterwards judge
 * each processor's ratio to raw COPY against the saved one.  The rule is
 * noise-aware: a fall counts as a regression only when it is larger than
 * --tolerance and larger than the spread both runs measured.  Ratios, never
 * seconds: the reference ran beside each processor, in the same rounds.
 */
#include "bench.h"
#include "etl/buf.h"
#include "exitcodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "banned.h"

static const char make_one[] = "make one with `etl bench SCENARIO --json > FILE`";

static double number_or(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? cJSON_GetNumberValue(v) : fallback;
}

void bench_baseline_release(bench_baseline *b)
{
    free(b->entries);
    memset(b, 0, sizeof(*b));
}

/* "123-456": the two sums bench's checksum prints. */
static bool checksum_shaped(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    return digits > 0 && s[digits] == '-' && s[digits + 1] &&
           strspn(s + digits + 1, "0123456789") == strlen(s + digits + 1);
}

static int parse_entries(bench_baseline *b, const cJSON *results, const char *file, etl_error *err)
{
    size_t n = (size_t)cJSON_GetArraySize(results);
    b->entries = calloc(n ? n : 1, sizeof(*b->entries));
    if (!b->entries)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach(item, results)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "name"));
        if (!name || !*name)
            return etl_error_set(err, ETL_ERR_USAGE,
                                 "bench: --baseline %s: a result without a name; it is not what "
                                 "`etl bench --json` writes (%s)",
                                 file, make_one);
        bench_base_entry *e = &b->entries[b->n++];
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->runs = (int)number_or(item, "runs", 0);
        double ratio = number_or(item, "ratio", -1);
        e->has_ratio = e->runs > 0 && ratio >= 0;
        e->ratio.median = e->ratio.min = e->ratio.max = ratio;
        double lo = number_or(item, "ratio_min", -1);
        double hi = number_or(item, "ratio_max", -1);
        e->has_spread = e->has_ratio && lo >= 0 && hi >= lo;
        if (e->has_spread) {
            e->ratio.min = lo;
            e->ratio.max = hi;
        }
    }
    return ETL_OK;
}

int bench_baseline_load(bench_baseline *b, const char *file, etl_error *err)
{
    memset(b, 0, sizeof(*b));
    FILE *f = fopen(file, "r");
    if (!f)
        return etl_error_set(err, ETL_ERR_USAGE, "bench: --baseline %s: %s; %s", file,
                             strerror(errno), make_one);
    etl_buf text = ETL_BUF_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        etl_buf_append(&text, chunk, got);
    bool read_failed = ferror(f) != 0;
    fclose(f);
    cJSON *base = read_failed ? NULL : cJSON_Parse(text.data ? text.data : "");
    etl_buf_release(&text);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(base, "results");
    const char *scenario = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(base, "scenario"));
    const char *sum = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(base, "checksum"));
    const char *commit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(base, "commit"));
    double events = number_or(base, "events", -1);
    int rc = ETL_OK;
    if (!cJSON_IsArray(results) || !scenario || !sum || events < 0)
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "bench: --baseline %s is not the JSON of `etl bench --json` (no "
                           "scenario, events, checksum or results); %s",
                           file, make_one);
    else if (!checksum_shaped(sum))
        rc = etl_error_set(err, ETL_ERR_USAGE,
                           "bench: --baseline %s: the event checksum '%.40s' is not one bench "
                           "writes (two numbers joined by '-'); %s",
                           file, sum, make_one);
    if (rc == ETL_OK) {
        snprintf(b->scenario, sizeof(b->scenario), "%s", scenario);
        snprintf(b->checksum, sizeof(b->checksum), "%s", sum);
        snprintf(b->commit, sizeof(b->commit), "%s", commit ? commit : "");
        b->events = (long long)events;
        b->jobs = (int)number_or(base, "jobs", 1);
        rc = parse_entries(b, results, file, err);
    }
    cJSON_Delete(base);
    if (rc != ETL_OK)
        bench_baseline_release(b);
    return rc;
}

static const bench_base_entry *find_base(const bench_baseline *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->entries[i].name, name) == 0)
            return &b->entries[i];
    return NULL;
}

int bench_baseline_check(const bench_baseline *b, const char *file, const bench_result *plan,
                         etl_error *err)
{
    if (strcmp(b->scenario, plan->scenario) != 0)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "bench: --baseline %s is a bench of scenario '%s', this one of '%s': "
                             "ratios of different scenarios do not compare; use a baseline made "
                             "with `etl bench %s --json`",
                             file, b->scenario, plan->scenario, plan->scenario);
    if (b->jobs != plan->jobs)
        return etl_error_set(err, ETL_ERR_USAGE,
                             "bench: --baseline %s was run with --jobs %d, this one with --jobs "
                             "%d: use the same --jobs",
                             file, b->jobs, plan->jobs);
    /*
     * A processor the baseline never ran cannot be judged, and silently
     * passing it would let a gate pass on nothing.  A usage error says what
     * to do; the other way round (the baseline has more) is fine: bench a
     * few processors against a full baseline.
     */
    char missing[512] = "";
    size_t nmissing = 0;
    for (size_t i = 0; i < plan->n; i++) {
        const bench_entry *e = &plan->entries[i];
        if (e->reference || find_base(b, e->name))
            continue;
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof(missing) - len, "%s%s", nmissing ? ", " : "", e->name);
        nmissing++;
    }
    if (nmissing) {
        char has[512] = "";
        for (size_t i = 0; i < b->n; i++) {
            size_t len = strlen(has);
            snprintf(has + len, sizeof(has) - len, "%s%s", len ? ", " : "", b->entries[i].name);
        }
        return etl_error_set(err, ETL_ERR_USAGE,
                             "bench: --baseline %s has no results for %s (it has: %s); bench only "
                             "processors it has, or make a new baseline that includes them",
                             file, missing, has);
    }
    return ETL_OK;
}

static double spread(const bench_stat *s)
{
    return s->median > 0 ? (s->max - s->min) / s->median : 0;
}

bench_verdict bench_judge(const bench_stat *was, int was_runs, bool was_spread,
                          const bench_stat *now, int now_runs, double tol_pct)
{
    bench_verdict v = {BENCH_NOT_JUDGED, 0, 0};
    v.change = was->median > 0 ? now->median / was->median - 1 : 0;
    v.noise = spread(was) + spread(now);
    if (was_runs < BENCH_MIN_JUDGED_RUNS || now_runs < BENCH_MIN_JUDGED_RUNS || !was_spread ||
        was->median <= 0)
        return v;
    double fall = -v.change;
    if (fall <= tol_pct / 100)
        v.kind = BENCH_WITHIN_TOLERANCE;
    else if (fall <= v.noise)
        v.kind = BENCH_WITHIN_NOISE;
    else
        v.kind = BENCH_REGRESSION;
    return v;
}

static void ratio_text(char *out, size_t cap, const bench_stat *s, int runs, bool has_spread)
{
    if (runs > 1 && has_spread)
        snprintf(out, cap, "%.2f (%.2f-%.2f)", s->median, s->min, s->max);
    else
        snprintf(out, cap, "%.2f (%d run%s)", s->median, runs, runs == 1 ? "" : "s");
}

int bench_compare(const bench_baseline *b, const char *file, const bench_result *r, double tol_pct,
                  FILE *out)
{
    int worse = 0;
    if (b->events != r->events || strcmp(b->checksum, r->checksum) != 0) {
        fprintf(out,
                "baseline: events differ: %lld (checksum %s) now, %lld (checksum %s) in %s: "
                "REGRESSION (the processors no longer load what they did)\n",
                r->events, r->checksum, b->events, b->checksum, file);
        worse++;
    }
    for (size_t i = 0; i < r->n; i++) {
        const bench_entry *e = &r->entries[i];
        const bench_base_entry *w = e->reference ? NULL : find_base(b, e->name);
        if (!w)
            continue;
        if (!w->has_ratio) {
            fprintf(out, "baseline: %-14s not compared: it did not run in the baseline\n", e->name);
            continue;
        }
        /*
         * Ran in the baseline, but fewer runs now than asked: --budget cut it
         * short, so it got slower.  A gate must not pass on nothing.
         */
        if (e->runs < r->runs_asked &&
            (!e->runs || (e->runs < BENCH_MIN_JUDGED_RUNS && w->runs >= BENCH_MIN_JUDGED_RUNS))) {
            fprintf(out,
                    "baseline: %-14s %d of %d runs this time (past --budget, see its note), %d "
                    "in the baseline: REGRESSION\n",
                    e->name, e->runs, r->runs_asked, w->runs);
            worse++;
            continue;
        }
        bench_verdict v =
            bench_judge(&w->ratio, w->runs, w->has_spread, &e->ratio, e->runs, tol_pct);
        char now[64];
        char was[64];
        ratio_text(now, sizeof(now), &e->ratio, e->runs, true);
        ratio_text(was, sizeof(was), &w->ratio, w->runs, w->has_spread);
        fprintf(out, "baseline: %-14s %s of raw-copy now, %s before: %+.0f%%, ", e->name, now, was,
                v.change * 100);
        switch (v.kind) {
        case BENCH_NOT_JUDGED:
            fprintf(out, "not judged: %s, so its noise is unknown (use --runs %d or more)\n",
                    w->runs < BENCH_MIN_JUDGED_RUNS || !w->has_spread
                        ? "the baseline has too few runs or no spread"
                        : "this run has too few runs",
                    BENCH_MIN_JUDGED_RUNS);
            break;
        case BENCH_WITHIN_TOLERANCE:
            fprintf(out, "within the %.0f%% tolerance: not a regression\n", tol_pct);
            break;
        case BENCH_WITHIN_NOISE:
            fprintf(out,
                    "past the %.0f%% tolerance but within the noise (the two runs' spreads add up "
                    "to %.0f%%): not a regression\n",
                    tol_pct, v.noise * 100);
            break;
        case BENCH_REGRESSION:
            fprintf(out,
                    "past the %.0f%% tolerance and the noise (the two runs' spreads add up to "
                    "%.0f%%): REGRESSION\n",
                    tol_pct, v.noise * 100);
            worse++;
            break;
        }
    }
    if (!worse)
        fprintf(out, "baseline: no regression against %s (tolerance %.0f%%, beyond the noise)\n",
                file, tol_pct);
    return worse ? ETL_EXIT_REGRESSION : ETL_EXIT_OK;
}

bool bench_too_small(const bench_result *r, const char *bigger, char *out, size_t cap)
{
    if (!r->fastest || r->fastest_s >= BENCH_MIN_TIMED_S)
        return false;
    int n = snprintf(out, cap,
                     "bench %s: too small to time: %s took %.3f s per run (median), under %.1f "
                     "s, so scheduling noise is a large part of every figure and ratio",
                     r->scenario, r->fastest, r->fastest_s, BENCH_MIN_TIMED_S);
    if (n > 0 && (size_t)n < cap && bigger)
        snprintf(out + n, cap - (size_t)n, "; for timings use %s (`etl generate %s`)", bigger,
                 bigger);
    return true;
}
