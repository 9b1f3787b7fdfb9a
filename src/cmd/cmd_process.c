/*
 * `etl process SCENARIO PROCESSOR`: clone the scenario's template into a
 * fresh run database, run the processor on it and report what it did.  The
 * figures cover the ETL alone: server start and cloning are not timed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "etl/exitcodes.h"
#include "etl/pipeline.h"

#include "banned.h"

static const char help[] =
    "Usage: etl process SCENARIO PROCESSOR [--json]\n\n"
    "Clone SCENARIO's template into a fresh run database (etl_run_SCENARIO), run\n"
    "PROCESSOR on it, and print submissions read, rejected, events written, elapsed\n"
    "seconds of the ETL itself, events per second and peak memory (RSS).\n"
    "`etl list` shows the scenarios and processors.\n\n"
    "Options:\n"
    "  --json     print the summary as one JSON object on stdout\n"
    "  -h, --help this help\n\n"
    "Exit status: 0 done; 5 done but some submissions were rejected (see stderr);\n"
    "see docs/cli.md for the others.\n\n";

/* now() as timestamptz text, microseconds, UTC: one value stamped on every event of a run. */
static void utc_now(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, cap, "%s.%06d+00", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_summary(const char *scenario, const etl_processor_cfg *p, const etl_run_stats *st,
                          const char *db, bool json)
{
    double secs = (double)st->elapsed_us / 1e6;
    double rate = secs > 0 ? (double)st->events / secs : 0;
    if (json) {
        printf("{\"scenario\":");
        json_string(scenario);
        printf(",\"processor\":");
        json_string(p->name);
        printf(",\"extractor\":");
        json_string(p->extractor);
        printf(",\"loader\":");
        json_string(p->loader);
        printf(",\"database\":");
        json_string(db);
        printf(",\"submissions\":%zu,\"events\":%zu,\"rejected\":%zu,\"elapsed_s\":%.6f,"
               "\"events_per_s\":%.1f,\"peak_rss_kib\":%ld}\n",
               st->submissions, st->events, st->rejected, secs, rate, st->peak_rss_kib);
        return;
    }
    printf("scenario     %s (database %s)\n", scenario, db);
    printf("processor    %s (extractor %s, loader %s)\n", p->name, p->extractor, p->loader);
    printf("submissions  %zu read, %zu rejected\n", st->submissions, st->rejected);
    printf("events       %zu written\n", st->events);
    printf("elapsed      %.3f s\n", secs);
    printf("throughput   %.0f events/s\n", rate);
    printf("peak memory  %.1f MiB (RSS)\n", (double)st->peak_rss_kib / 1024.0);
}

int cmd_process(int argc, char **argv, etl_cli *cli)
{
    bool json = false;
    const cli_option opts[] = {{"json", &json, NULL}, {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "process", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind != 2)
        return cli_usage("process", "process: expected SCENARIO and PROCESSOR, got %d arguments",
                         argc - optind);
    const char *scenario = argv[optind], *processor = argv[optind + 1];

    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    const etl_processor_cfg *p = NULL;
    etl_session session = {0};
    etl_db *source = NULL, *target = NULL;
    etl_run_stats st;
    memset(&st, 0, sizeof(st));
    char tpl[256], run[256];
    cli_template_db(scenario, tpl, sizeof(tpl));
    cli_run_db(scenario, run, sizeof(run));

    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = cli_find_processor(config, processor, &p, &err);
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &session, &err);
    bool exists = false;
    if (rc == ETL_OK && (rc = cli_db_exists(&session, tpl, &exists, &err)) == ETL_OK && !exists)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "scenario %s has no template database yet; run `etl generate %s` first",
                           scenario, scenario);
    if (rc == ETL_OK && (rc = cli_drop_db(&session, run, &err)) == ETL_OK)
        rc = cli_create_db(&session, run, tpl, scenario, &err);
    /* Separate connections: the extractor's cursor and the loader's COPY cannot share one. */
    if (rc == ETL_OK &&
        (rc = etl_db_open(&source, session.conninfo, run, &cli->log, &err)) == ETL_OK)
        rc = etl_db_open(&target, session.conninfo, run, &cli->log, &err);
    if (rc == ETL_OK) {
        char processed_on[64];
        utc_now(processed_on, sizeof(processed_on));
        etl_log_verbose(&cli->log, "running processor %s on %s", p->name, run);
        etl_pipeline_cfg pcfg = {
            .proc = p, .processed_on = processed_on, .max_rejects = SIZE_MAX, .log = &cli->log};
        rc = etl_pipeline_run(&pcfg, source, target, &st, &err);
        if (rc != ETL_OK)
            etl_error_wrap(&err, "process %s %s", scenario, processor);
    }
    etl_db_close(source);
    etl_db_close(target);
    cli_session_close(&session);
    if (rc == ETL_OK && (json || cli->log.verbosity >= 0))
        print_summary(scenario, p, &st, run, json);
    etl_config_free(config);
    if (rc != ETL_OK)
        return cli_fail(&err);
    if (st.rejected > 0) {
        etl_log_info(&cli->log, "%zu of %zu submissions were rejected (listed above)", st.rejected,
                     st.submissions);
        return ETL_EXIT_REJECTS;
    }
    return ETL_EXIT_OK;
}
