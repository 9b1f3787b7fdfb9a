/*
 * `etl process SCENARIO PROCESSOR`: clone the scenario's template into a
 * fresh run database, run the processor on it and report what it did.  The
 * figures cover the ETL alone: server start and cloning are not timed.
 * --jobs runs on the worker pool of the run layer (etl/workers.h); this
 * file chooses the jobs and draws their progress.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/clock.h"
#include "etl/json_out.h"
#include "etl/pipeline.h"
#include "etl/production.h"
#include "etl/summary.h"
#include "etl/text.h"
#include "etl/workers.h"
#include "progress.h"

#include "banned.h"

static const char help[] =
    "Usage: etl process SCENARIO PROCESSOR [--json]\n"
    "       etl process --db CONNINFO [--target CONNINFO] PROCESSOR [options]\n\n"
    "Scenario mode: clone SCENARIO's template into a fresh run database\n"
    "(etl_run_SCENARIO), run PROCESSOR on it, and print submissions read, rejected,\n"
    "events written, elapsed seconds of the ETL itself, events per second and peak\n"
    "memory (RSS).  `etl list` shows the scenarios and processors.\n\n"
    "In-place mode (production, for cron; see docs/cron.md): bring the warehouse up\n"
    "to date with the --db database.  With change capture (etl init), derive again\n"
    "every submission queued since the last run (new, edited, deleted, or of a changed\n"
    "form or user), replacing its events; several runs may share the queue.  Without\n"
    "(etl init --no-capture), load the submissions not processed yet, one run at a time.\n"
    "Commits every --batch-size queued changes (without capture: submissions) with\n"
    "their bookkeeping.  Quiet on success with -q.\n\n"
    "Options:\n"
    "  --json                  print the summary as one JSON object on stdout\n"
    "  --jobs N                scenario: split the submissions into N disjoint parts\n"
    "                          loaded at once over N connections; in place (with\n"
    "                          change capture): N runs at once sharing the queue,\n"
    "                          their claims shrinking as it empties (default 1)\n"
    "  --target CONNINFO       in place: load into this database instead of --db's\n"
    "  --batch-size N          in place: queued changes claimed per transaction (with\n"
    "                          --jobs, at most), with the other changes of those\n"
    "                          submissions (without capture: submissions per\n"
    "                          transaction; default 10000)\n"
    "  --max-rejects N         in place: stop (exit 8) after more than N rejects (0:\n"
    "                          after the first), at the end of that batch, which is\n"
    "                          committed whole, rejects recorded\n"
    "  --dry-run               in place: do everything, then roll it all back\n"
    "  --statement-timeout MS  in place: PostgreSQL statement_timeout (0: the server's)\n"
    "  --lock-timeout MS       in place: PostgreSQL lock_timeout (leave it unset when\n"
    "                          runs overlap: one may wait for another's batch)\n"
    "  -h, --help              this help\n\n"
    "Exit status: 0 done; 5 done but some submissions were rejected; 6 another run\n"
    "holds the lock (without capture); 7 interrupted; 8 too many rejects; see\n"
    "docs/cli.md for all.\n\n";

/* The summary object of a run (--json), on one line.  ETL_OK or ETL_ERR_NOMEM. */
static int print_json(const etl_summary *s)
{
    etl_buf out = ETL_BUF_INIT;
    int rc = etl_summary_write_json(&out, s);
    if (rc == ETL_OK)
        printf("%s\n", out.data);
    etl_buf_release(&out);
    return rc;
}

static void print_text(const etl_summary *s)
{
    printf("scenario     %s (database %s)\n", s->scenario, s->database);
    if (s->extractor && s->loader)
        printf("processor    %s (extractor %s, loader %s)\n", s->processor, s->extractor,
               s->loader);
    else
        printf("processor    %s (runner %s)\n", s->processor, s->runner);
    printf("submissions  %zu read, %zu rejected\n", s->submissions, s->rejected);
    printf("events       %zu written\n", s->events);
    printf("elapsed      %.3f s\n", s->elapsed_s);
    printf("throughput   %.0f events/s\n", s->events_per_s);
    if (s->worker_peak_rss_kib == s->peak_rss_kib)
        printf("peak memory  %.1f MiB (RSS)\n", (double)s->peak_rss_kib / 1024.0);
    else
        printf("peak memory  %.1f MiB (RSS, the workers' peaks summed; the largest %.1f MiB)\n",
               (double)s->peak_rss_kib / 1024.0, (double)s->worker_peak_rss_kib / 1024.0);
}

/* The numeric options, through the one range-checking parser. */
static int number_option(const char *name, const char *text, unsigned long long min,
                         unsigned long long max, unsigned long long *out)
{
    if (!text)
        return ETL_OK;
    if (etl_parse_ull(text, min, max, out) != 0)
        return cli_usage("process", "--%s: '%s' is not a whole number from %llu to %llu", name,
                         text, min, max);
    return ETL_OK;
}

/*
 * One line about a run's rejects: how many, by reason, and where to look.
 * Printed even with -q (cron mails it), since a reject needs someone.
 */
static void report_rejects(const etl_run_stats *st, const char *where)
{
    etl_buf line = ETL_BUF_INIT;
    for (size_t i = 0; i < ETL_MAX_REASONS && st->reasons[i].reason; i++)
        etl_buf_printf(&line, "%s%zu %s", i ? ", " : "", st->reasons[i].count,
                       st->reasons[i].reason);
    etl_log_error("%zu of %zu submissions rejected (%s); %s", st->rejected, st->submissions,
                  line.data ? line.data : "", where);
    etl_buf_release(&line);
}

typedef struct inplace_opts {
    const char *target, *batch, *max_rejects, *statement_timeout, *lock_timeout, *jobs;
    bool dry_run, json;
} inplace_opts;

/* The progress line of a run: submissions out of those expected, rate, ETA and events. */
static void show_run(cli_progress *bar, size_t subs, size_t total, size_t events)
{
    char count[160];
    cli_progress_fmt_count(count, sizeof(count), subs, total, "submissions",
                           bar->now_us() - bar->start_us);
    cli_progress_update(bar, "%s, %zu events", count, events);
}

static void inplace_progress(void *ctx, const etl_run_stats *so_far, size_t backlog)
{
    show_run(ctx, so_far->submissions, backlog, so_far->events);
}

/* A run's progress line and the total it counts towards (0: unknown). */
typedef struct run_watch {
    cli_progress *bar;
    size_t total; /* submissions the scenario generates, fixtures included */
} run_watch;

static void scenario_progress(void *ctx, const etl_run_stats *so_far)
{
    run_watch *w = ctx;
    show_run(w->bar, so_far->submissions, w->total, so_far->events);
}

/* --jobs N: the workers' counts summed, and how many have finished. */
static void workers_progress(void *ctx, const etl_workers_progress *p)
{
    run_watch *w = ctx;
    char count[160];
    cli_progress_fmt_count(count, sizeof(count), p->submissions, w->total, "submissions",
                           w->bar->now_us() - w->bar->start_us);
    cli_progress_update(w->bar, "%s, %zu events, %d/%d workers done", count, p->events, p->done,
                        p->started);
}

static int process_in_place(etl_cli *cli, const char *processor, const inplace_opts *o)
{
    unsigned long long batch = ETL_DEFAULT_BATCH;
    unsigned long long max_rejects = ~0ULL;
    unsigned long long st_ms = 0;
    unsigned long long lock_ms = 0;
    unsigned long long jobs = 1;
    /* 0 rejects: stop at the first; 0 ms: the server's timeout (PostgreSQL's own meaning). */
    if (number_option("batch-size", o->batch, 1, 100000000ULL, &batch) != ETL_OK ||
        number_option("max-rejects", o->max_rejects, 0, ~0ULL - 1, &max_rejects) != ETL_OK ||
        number_option("statement-timeout", o->statement_timeout, 0, 86400000ULL, &st_ms) !=
            ETL_OK ||
        number_option("lock-timeout", o->lock_timeout, 0, 86400000ULL, &lock_ms) != ETL_OK ||
        number_option("jobs", o->jobs, 1, 64, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_processor_cfg *p = NULL;
    int rc = cli_load_processor(cli, processor, &config, &p, &err);
    if (rc != ETL_OK) {
        etl_config_free(config);
        if (o->json)
            cli_json_error(err.msg, etl_exit_status(err.code));
        return cli_fail(&err);
    }
    const volatile sig_atomic_t *stop = cli_catch_stop();
    etl_prod_cfg pc = {.source = cli->db,
                       .target = o->target,
                       .proc = p,
                       .batch_size = (size_t)batch,
                       .max_rejects = max_rejects == ~0ULL ? SIZE_MAX : (size_t)max_rejects,
                       .dry_run = o->dry_run,
                       .statement_timeout_ms = (long)st_ms,
                       .lock_timeout_ms = (long)lock_ms,
                       .progress = inplace_progress,
                       .stop = stop,
                       .log = &cli->log};
    cli_progress bar;
    char what[160];
    snprintf(what, sizeof(what), "process %s", processor);
    cli_progress_start(&bar, cli, what);
    pc.progress_ctx = &bar;
    etl_prod_result res;
    long long first_id = 0;
    long long last_id = 0;
    if (jobs == 1) {
        rc = etl_prod_run(&pc, &res, &err);
        first_id = last_id = res.run_id;
    } else {
        run_watch watch = {&bar, 0};
        rc = etl_prod_run_jobs(&pc, (int)jobs, cli_progress_on(&bar) ? workers_progress : NULL,
                               &watch, &res, &last_id, &err);
        first_id = res.run_id;
    }
    cli_progress_end(&bar);
    const etl_run_stats *st = &res.stats;
    double secs = (double)st->elapsed_us / 1e6;
    double rate = secs > 0 ? (double)st->events / secs : 0;
    /* With --jobs the peak is the workers' summed; one worker's is what stays flat. */
    long worker_peak = etl_run_stats_one_peak(st);
    if (o->json) {
        /* Always one object, so a monitoring script can parse a failed run too. */
        printf("{\"mode\":\"in-place\",\"processor\":");
        etl_json_fput(stdout, p->name);
        printf(",\"run_id\":%lld,\"last_run_id\":%lld,\"jobs\":%llu,\"dry_run\":%s,"
               "\"capture\":%s,\"backlog\":%zu,\"submissions\":%zu,\"events\":%zu,"
               "\"rejected\":%zu,\"rejected_by_reason\":{",
               first_id, last_id, jobs, o->dry_run ? "true" : "false",
               res.capture ? "true" : "false", res.backlog, st->submissions, st->events,
               st->rejected);
        for (size_t i = 0; i < ETL_MAX_REASONS && st->reasons[i].reason; i++)
            printf("%s\"%s\":%zu", i ? "," : "", st->reasons[i].reason, st->reasons[i].count);
        printf("},\"batches\":%zu,\"elapsed_s\":%.6f,\"events_per_s\":%.1f,"
               "\"peak_rss_kib\":%ld,\"worker_peak_rss_kib\":%ld,\"exit\":%d,\"error\":",
               st->batches, secs, rate, st->peak_rss_kib, worker_peak,
               rc != ETL_OK       ? etl_exit_status(rc)
               : st->rejected > 0 ? ETL_EXIT_REJECTS
                                  : ETL_EXIT_OK);
        if (rc == ETL_OK)
            printf("null}\n");
        else {
            etl_json_fput(stdout, err.msg);
            printf("}\n");
        }
    } else if (rc == ETL_OK && cli->log.verbosity >= 0) {
        char runs[64];
        if (jobs == 1)
            snprintf(runs, sizeof(runs), "run %lld", first_id);
        else
            snprintf(runs, sizeof(runs), "runs %lld-%lld (%llu workers)", first_id, last_id, jobs);
        printf("%s %s of %s: %zu submissions (%zu %s), %zu rejected, %zu events "
               "in %zu batches, %.3f s, %.0f events/s, peak %.1f MiB%s\n",
               o->dry_run ? "dry" : "in-place", runs, p->name, st->submissions, res.backlog,
               res.capture ? "queued changes" : "waiting", st->rejected, st->events, st->batches,
               secs, rate, (double)worker_peak / 1024.0, jobs == 1 ? "" : " (largest worker)");
        if (o->dry_run)
            printf("dry run: everything was rolled back, nothing was recorded\n");
    }
    fflush(stdout);
    etl_config_free(config);
    if (rc == ETL_ERR_LOCKED && cli->log.verbosity < 0)
        return ETL_EXIT_LOCKED; /* cron: an overlapping run is not news */
    if (st->rejected > 0)
        report_rejects(st, o->dry_run ? "dry run: not recorded"
                                      : "they are in dwh.etl_rejects (`etl status`; after a fix, "
                                        "`etl reprocess --rejected`)");
    if (rc != ETL_OK)
        return cli_fail(&err);
    return st->rejected > 0 ? ETL_EXIT_REJECTS : ETL_EXIT_OK;
}

int cmd_process(int argc, char **argv, etl_cli *cli)
{
    inplace_opts o;
    memset(&o, 0, sizeof(o));
    const cli_option opts[] = {{"json", &o.json, NULL},
                               {"target", NULL, &o.target},
                               {"batch-size", NULL, &o.batch},
                               {"max-rejects", NULL, &o.max_rejects},
                               {"dry-run", &o.dry_run, NULL},
                               {"statement-timeout", NULL, &o.statement_timeout},
                               {"lock-timeout", NULL, &o.lock_timeout},
                               {"jobs", NULL, &o.jobs},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "process", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    bool json = o.json;
    if (argc - optind == 1) {
        if (!cli->db)
            return cli_usage("process",
                             "process: with one argument (PROCESSOR) etl processes a database in "
                             "place and needs --db CONNINFO; for a scenario give SCENARIO "
                             "PROCESSOR");
        return process_in_place(cli, argv[optind], &o);
    }
    if (argc - optind != 2)
        return cli_usage("process",
                         "process: expected SCENARIO PROCESSOR, or --db CONNINFO PROCESSOR; got "
                         "%d arguments",
                         argc - optind);
    if (cli->target_from_env)
        o.target = NULL; /* an exported $ETL_TARGET is for the in-place runs */
    if (o.target || o.batch || o.max_rejects || o.dry_run || o.statement_timeout || o.lock_timeout)
        return cli_usage("process", "process: --target, --batch-size, --max-rejects, --dry-run "
                                    "and the timeouts are for in-place runs (--db CONNINFO "
                                    "PROCESSOR), not scenarios");
    const char *scenario = argv[optind];
    const char *processor = argv[optind + 1];
    unsigned long long jobs = 1;
    if (number_option("jobs", o.jobs, 1, 64, &jobs) != ETL_OK)
        return ETL_EXIT_USAGE;

    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    const etl_processor_cfg *p = NULL;
    etl_session session = {0};
    etl_run_stats st;
    memset(&st, 0, sizeof(st));
    char tpl[256];
    char run[256];
    cli_template_db(scenario, tpl, sizeof(tpl));
    cli_run_db(scenario, run, sizeof(run));

    /*
     * Caught from here on, not fatal: a stop during CREATE DATABASE must let
     * it finish, or the clone would appear after whoever cleans up (bench).
     */
    const volatile sig_atomic_t *stop = cli_catch_stop();
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = cli_find_processor(config, processor, &p, &err);
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &session, &err);
    cli_progress bar;
    run_watch watch = {&bar, 0};
    bool exists = false;
    if (rc == ETL_OK && (rc = cli_db_exists(&session, tpl, &exists, &err)) == ETL_OK && !exists)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "scenario %s has no template database yet; run `etl generate %s` first",
                           scenario, scenario);
    if (rc == ETL_OK && (rc = cli_drop_db(&session, run, &err)) == ETL_OK)
        rc = cli_create_db(&session, run, tpl, scenario, &err);
    if (rc == ETL_OK && *stop)
        rc = etl_error_set(&err, ETL_ERR_INTERRUPTED, "interrupted before the run began");
    if (rc == ETL_OK) {
        char processed_on[64];
        etl_utc_now(processed_on, sizeof(processed_on));
        etl_log_verbose(&cli->log, "running processor %s on %s", p->name, run);
        etl_pipeline_cfg pcfg = {.proc = p,
                                 .processed_on = processed_on,
                                 .max_rejects = SIZE_MAX,
                                 .empty_target = jobs == 1,
                                 .stop = stop,
                                 .log = &cli->log,
                                 .progress = scenario_progress,
                                 .hook_ctx = &watch};
        char what[160];
        snprintf(what, sizeof(what), "process %s %s", scenario, processor);
        cli_progress_start(&bar, cli, what);
        watch.total = sc->submissions + sc->nfixtures;
        rc = etl_workers_run_parts(&pcfg, session.conninfo, run, (int)jobs,
                                   cli_progress_on(&bar) ? workers_progress : NULL, &watch, &st,
                                   &err);
        cli_progress_end(&bar);
        if (rc != ETL_OK)
            etl_error_wrap(&err, "process %s %s", scenario, processor);
    }
    cli_session_close(&session);
    /* The figures are this command's result: printed with -q too. */
    etl_summary sum;
    if (rc == ETL_OK) {
        etl_summary_of_run(&sum, scenario, p, run, &st);
        if (!json)
            print_text(&sum);
        else if ((rc = print_json(&sum)) != ETL_OK)
            etl_error_set(&err, rc, "process %s %s: out of memory", scenario, processor);
    } else if (json) {
        /* Still one object, with the error (if memory allows: the error is said anyway). */
        etl_summary_of_failure(&sum, scenario, processor, etl_exit_status(err.code), err.msg);
        print_json(&sum);
    }
    etl_config_free(config);
    if (rc != ETL_OK)
        return cli_fail(&err);
    if (st.rejected > 0) {
        report_rejects(&st,
                       cli->log.verbosity < 0 ? "run without -q to list them" : "listed above");
        return ETL_EXIT_REJECTS;
    }
    return ETL_EXIT_OK;
}
