/*
 * `etl bench SCENARIO [PROCESSOR...]`: run processors side by side on fresh
 * clones of a scenario, check they all wrote exactly the same events, and
 * measure each against raw-copy, PostgreSQL loading the same events already
 * formatted (the physical limit of this job on this machine).
 *
 * The engine (etl/bench_engine.h) runs the entries; this file chooses them,
 * holds the server, draws the progress, and renders and judges the result.
 * SIGINT and SIGTERM stop the running child in order (it runs in a process
 * group of its own, so a terminal's Ctrl-C reaches only this command), drop
 * the half-made run database and exit 7 with one message.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cmd.h"
#include "exitcodes.h"
#include "progress.h"
#include "etl/clock.h"
#include "etl/text.h"

#include "banned.h"

#ifndef ETL_COMMIT
#define ETL_COMMIT "unknown" /* built outside git, or by something other than CMakeLists.txt */
#endif

static const char help[] =
    "Usage: etl bench SCENARIO [PROCESSOR...] [options]\n\n"
    "Run each PROCESSOR (default: all) --runs times on a fresh clone of SCENARIO's\n"
    "template, check that all wrote exactly the same events (a checksum over every\n"
    "column but id and processed_on), and print the median elapsed time, events/s,\n"
    "peak memory and the ratio to raw-copy: the same events, preformatted in a file,\n"
    "loaded with nothing but COPY (text and binary; the faster one is the reference).\n\n"
    "Options:\n"
    "  --runs N          runs per entry (default 3)\n"
    "  --budget S        seconds a processor may take over all its runs (default 300);\n"
    "                    a run past it is stopped and the processor reported as skipped\n"
    "  --jobs N          passed to `etl process --jobs N` for the processors that take it;\n"
    "                    raw-copy then loads the events in the same N parts over N\n"
    "                    connections at once (the N-stream limit)\n"
    "  --json            print the result as JSON (what --baseline reads)\n"
    "  --baseline FILE   compare with a saved --json result of the same scenario (checked\n"
    "                    before anything runs): exit 9 if the events differ, or if a\n"
    "                    processor's ratio to raw-copy fell by more than --tolerance AND\n"
    "                    by more than the spread of both runs (needs 3 runs on each side)\n"
    "  --tolerance PCT   allowed fall of a ratio against the baseline (default 20)\n"
    "  --report DIR      write DIR/bench.txt, bench.json and bench.svg (a chart)\n"
    "  -h, --help        this help\n\n"
    "Every figure is shown as median (min-max) over the runs.  On a terminal, or with\n"
    "--progress, it shows which run is going on.  SIGINT or SIGTERM stops the running\n"
    "child and exits 7.\n\n"
    "Exit status: 0 done; 1 a run failed or the processors' events differ; 2 usage\n"
    "(also a --baseline of another scenario, or lacking a processor); 7 interrupted;\n"
    "9 worse than the baseline; see docs/performance.md.\n\n";

/* What the engine's callbacks need of the command. */
typedef struct bench_ctx {
    etl_session session;
    const char *scenario;
    char tpl[256];
    char run[256];
    cli_progress progress;
} bench_ctx;

static void show_progress(void *ctx, const etl_bench_progress *p)
{
    bench_ctx *b = ctx;
    cli_progress_update(&b->progress, "round %d of %d, %s (run %d of at most %d), %.0f s",
                        p->round + 1, p->rounds, p->entry, p->run_no, p->total_runs, p->secs);
}

static int fresh_run_db(void *ctx, etl_error *err)
{
    bench_ctx *b = ctx;
    int rc = cli_drop_db(&b->session, b->run, err);
    return rc == ETL_OK ? cli_create_db(&b->session, b->run, b->tpl, b->scenario, err) : rc;
}

static int add_entries(bench_result *res, const etl_config *config, int argc, char **argv,
                       etl_error *err)
{
    size_t nproc = argc > 0 ? (size_t)argc : config->nprocessors;
    res->entries = calloc(nproc + 2, sizeof(*res->entries));
    if (!res->entries)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    res->entries[0].name = "raw-copy-text";
    res->entries[0].reference = true;
    res->entries[1].name = "raw-copy-binary";
    res->entries[1].reference = true;
    res->n = 2;
    for (size_t i = 0; i < nproc; i++) {
        const etl_processor_cfg *p = NULL;
        if (argc > 0) {
            int rc = cli_find_processor(config, argv[i], &p, err);
            if (rc != ETL_OK)
                return rc;
        } else {
            p = &config->processors[i];
        }
        res->entries[res->n++].name = p->name;
    }
    return ETL_OK;
}

static void free_entries(bench_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        free(res->entries[i].mem.ms);
        free(res->entries[i].mem.kib);
    }
    free(res->entries);
}

typedef struct bench_opts {
    const char *runs, *budget, *jobs, *baseline, *tolerance, *report;
    bool json;
} bench_opts;

static int parse_numbers(const bench_opts *o, unsigned long long *runs, unsigned long long *budget,
                         unsigned long long *tol, unsigned long long *jobs)
{
    if (o->runs && etl_parse_ull(o->runs, 1, BENCH_MAX_RUNS, runs) != 0)
        return cli_usage("bench", "--runs: '%s' is not a whole number from 1 to %d", o->runs,
                         BENCH_MAX_RUNS);
    if (o->budget && etl_parse_ull(o->budget, 1, 86400ULL * 7, budget) != 0)
        return cli_usage("bench", "--budget: '%s' is not a number of seconds from 1 to 604800",
                         o->budget);
    if (o->tolerance && etl_parse_ull(o->tolerance, 0, 100, tol) != 0)
        return cli_usage("bench", "--tolerance: '%s' is not a percentage from 0 to 100",
                         o->tolerance);
    if (o->jobs && etl_parse_ull(o->jobs, 1, 64, jobs) != 0)
        return cli_usage("bench", "--jobs: '%s' is not a whole number from 1 to 64", o->jobs);
    return ETL_OK;
}

/*
 * The scenario to suggest when this one is too small to time: the smallest
 * whose submissions, scaled by how much longer runs must be, reach the
 * BENCH_MIN_TIMED_S floor (with room to spare); else the biggest.
 */
static const char *bigger_scenario(const etl_config *config, const etl_scenario_cfg *sc,
                                   double fastest_s)
{
    double factor = fastest_s > 0 ? 2 * BENCH_MIN_TIMED_S / fastest_s : 1000;
    double want = (double)(sc->submissions ? sc->submissions : 1) * factor;
    const etl_scenario_cfg *best = NULL;
    const etl_scenario_cfg *biggest = NULL;
    for (size_t i = 0; i < config->nscenarios; i++) {
        const etl_scenario_cfg *c = &config->scenarios[i];
        if (c->submissions <= sc->submissions)
            continue;
        if ((double)c->submissions >= want && (!best || c->submissions < best->submissions))
            best = c;
        if (!biggest || c->submissions > biggest->submissions)
            biggest = c;
    }
    return best ? best->name : biggest ? biggest->name : NULL;
}

/* After a stop: the running child is gone; say so once and leave nothing half-made behind. */
static int interrupted(bench_ctx *b, const etl_bench_outcome *out, etl_error *err)
{
    etl_error ignored;
    etl_error_clear(&ignored);
    /* Its clone holds a rolled-back or partial run: not worth keeping. */
    bool dropped = cli_drop_db(&b->session, b->run, &ignored) == ETL_OK;
    return etl_error_set(err, ETL_ERR_INTERRUPTED,
                         "bench %s: interrupted %s: that run was stopped%s; nothing was compared "
                         "or reported",
                         b->scenario, out->interrupted_in,
                         dropped ? " and its run database dropped" : "");
}

int cmd_bench(int argc, char **argv, etl_cli *cli)
{
    bench_opts o;
    memset(&o, 0, sizeof(o));
    const cli_option opts[] = {{"runs", NULL, &o.runs},         {"budget", NULL, &o.budget},
                               {"jobs", NULL, &o.jobs},         {"json", &o.json, NULL},
                               {"baseline", NULL, &o.baseline}, {"tolerance", NULL, &o.tolerance},
                               {"report", NULL, &o.report},     {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "bench", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind < 1)
        return cli_usage("bench", "bench: expected SCENARIO [PROCESSOR...]");
    unsigned long long runs = 3;
    unsigned long long budget = 300;
    unsigned long long tol = 20;
    unsigned long long jobs = 1;
    if (parse_numbers(&o, &runs, &budget, &tol, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;

    bench_ctx b;
    memset(&b, 0, sizeof(b));
    b.scenario = argv[optind];
    cli_template_db(b.scenario, b.tpl, sizeof(b.tpl));
    cli_run_db(b.scenario, b.run, sizeof(b.run));
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    etl_bench_cfg ecfg = {.exe = exe,
                          .scenarios = cli->scenarios,
                          .run_db = b.run,
                          .budget_s = (double)budget,
                          .rejects_exit = ETL_EXIT_REJECTS,
                          .log = &cli->log,
                          .fresh_db = fresh_run_db,
                          .progress = show_progress,
                          .ctx = &b};
    etl_bench_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));

    bench_result res;
    memset(&res, 0, sizeof(res));
    res.scenario = b.scenario;
    res.commit = ETL_COMMIT;
    res.runs_asked = (int)runs;
    res.jobs = (int)jobs;
    char now[64];
    etl_utc_now(now, sizeof(now));
    snprintf(res.date, sizeof(res.date), "%.16s UTC", now);
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    bench_baseline base;
    memset(&base, 0, sizeof(base));
    bool exists = false;
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, b.scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = add_entries(&res, config, argc - optind - 1, argv + optind + 1, &err);
    /* The baseline is checked before anything runs: a wrong one costs seconds, not the bench. */
    if (rc == ETL_OK && o.baseline && (rc = bench_baseline_load(&base, o.baseline, &err)) == ETL_OK)
        rc = bench_baseline_check(&base, o.baseline, &res, &err);
    if (rc == ETL_OK && o.baseline) {
        ecfg.expect_checksum = base.checksum;
        ecfg.expect_events = base.events;
    }
    if (rc == ETL_OK && o.baseline && (base.entries && runs < BENCH_MIN_JUDGED_RUNS))
        etl_log_info(&cli->log,
                     "bench: --runs %llu: fewer than %d runs measure no noise, so ratios will be "
                     "shown against %s but not judged",
                     runs, BENCH_MIN_JUDGED_RUNS, o.baseline);
    /* From here a stop signal is ours to handle: the children and the server stay in order. */
    ecfg.stop = cli_catch_stop();
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &b.session, &err);
    ecfg.conninfo = b.session.conninfo;
    if (rc == ETL_OK && (rc = cli_db_exists(&b.session, b.tpl, &exists, &err)) == ETL_OK && !exists)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "scenario %s has no template database yet; run `etl generate %s` first",
                           b.scenario, b.scenario);
    if (rc == ETL_OK) {
        char what[64];
        snprintf(what, sizeof(what), "bench %s", b.scenario);
        cli_progress_start(&b.progress, cli, what);
        rc = etl_bench_run(&ecfg, &res, &outcome, &err);
        cli_progress_end(&b.progress);
    }
    if (rc == ETL_ERR_INTERRUPTED)
        rc = interrupted(&b, &outcome, &err);
    cli_session_close(&b.session);
    int status = rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
    if (rc != ETL_OK && o.json)
        cli_json_error(err.msg, status);
    FILE *gate = o.json ? stderr : stdout;
    if (rc == ETL_OK && outcome.events_differ) {
        fprintf(gate,
                "baseline: events differ: %lld (checksum %s) now, %lld (checksum %s) in %s: "
                "REGRESSION (stopped after the first run: no processor can pass)\n",
                res.events, res.checksum, base.events, base.checksum, o.baseline);
        etl_log_error("bench %s: the events differ from --baseline %s: was the scenario "
                      "generated with another seed, or did the transform change?",
                      b.scenario, o.baseline);
        status = ETL_EXIT_REGRESSION;
        if (o.json)
            cli_json_error("the events differ from --baseline's", status);
    } else if (rc == ETL_OK) {
        bench_summarize(&res);
        if (o.json)
            bench_print_json(stdout, &res);
        else
            bench_print_table(stdout, &res);
        char warning[512];
        if (sc && bench_too_small(&res, bigger_scenario(config, sc, res.fastest_s), warning,
                                  sizeof(warning)))
            etl_log_info(&cli->log, "%s", warning);
        if (o.report && bench_write_report(o.report, &res) != 0) {
            etl_log_error("bench: --report %s: %s", o.report, strerror(errno));
            status = ETL_EXIT_FAILURE;
        }
        if (o.baseline && status == ETL_EXIT_OK) {
            status = bench_compare(&base, o.baseline, &res, (double)tol, gate);
            if (status != ETL_EXIT_OK)
                etl_log_error("bench %s: slower than --baseline %s beyond the %llu%% tolerance "
                              "and the noise (the lines starting baseline: say which)",
                              b.scenario, o.baseline, tol);
        }
    }
    bench_baseline_release(&base);
    free_entries(&res);
    etl_config_free(config);
    return status;
}
