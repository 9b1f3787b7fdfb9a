/*
 * `etl verify --db CONNINFO [--target CONNINFO] [PROCESSOR] [--repair] [--json]`:
 * recompute every submission and compare with the warehouse; the nightly
 * safety net of in-place runs (docs/cron.md).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/production.h"
#include "etl/json_out.h"
#include "progress.h"

#include "banned.h"

static const char help[] =
    "Usage: etl verify --db CONNINFO [--target CONNINFO] [PROCESSOR] [--repair] [--json]\n\n"
    "Recompute every submission's events (with PROCESSOR's transform rules, default\n"
    "copy) and compare them, submission by submission, with dwh.response_events and\n"
    "dwh.etl_rejects.  Reports submissions missing from the warehouse, stale there\n"
    "(different events or reject), and extra (in the warehouse, gone from the source).\n"
    "Differences with a change still queued are the next run's work: counted as\n"
    "pending, not as differences.  Reads everything once: run it nightly, not every\n"
    "five minutes.\n\n"
    "Options:\n"
    "  --target CONNINFO  the warehouse database, if not the application's\n"
    "  --repair           queue the differing submissions, so the next run fixes them\n"
    "                     (without change capture: forget them, so it reloads them)\n"
    "  --json             one JSON object on stdout\n\n"
    "Exit status: 0 the warehouse matches; 10 it differs (also with --repair: the\n"
    "repair is done by the next run); see docs/cli.md for all.\n\n";

static const char *const kinds[3] = {"missing", "stale", "extra"};

static void show_progress(void *ctx, const char *step, size_t done, size_t total)
{
    cli_progress *bar = ctx;
    char count[160];
    cli_progress_fmt_count(count, sizeof(count), done, total, "submissions",
                           bar->now_us() - bar->start_us);
    cli_progress_update(bar, "%s %s", step, count);
}

static void print_json(const etl_verify_result *r, bool repair)
{
    printf("{\"capture\":%s,\"checked\":%zu,\"pending\":%zu", r->capture ? "true" : "false",
           r->checked, r->pending);
    for (int k = 0; k < 3; k++)
        printf(",\"%s\":%zu", kinds[k], r->count[k]);
    for (int k = 0; k < 3; k++) {
        printf(",\"%s_examples\":[", kinds[k]);
        for (size_t i = 0; i < ETL_VERIFY_EXAMPLES && r->examples[k][i][0]; i++) {
            fputs(i ? "," : "", stdout);
            etl_json_fput(stdout, r->examples[k][i]);
        }
        putchar(']');
    }
    printf(",\"repaired\":%zu,\"repair\":%s}\n", r->repaired, repair ? "true" : "false");
}

static void print_text(const etl_verify_result *r, bool repair)
{
    size_t differ = r->count[0] + r->count[1] + r->count[2];
    printf("verify: %zu submissions recomputed; %zu missing, %zu stale, %zu extra", r->checked,
           r->count[0], r->count[1], r->count[2]);
    if (r->pending)
        printf(" (%zu more differ but have a change queued)", r->pending);
    putchar('\n');
    for (int k = 0; k < 3; k++) {
        if (!r->count[k])
            continue;
        printf("%s:", kinds[k]);
        for (size_t i = 0; i < ETL_VERIFY_EXAMPLES && r->examples[k][i][0]; i++)
            printf(" %s", r->examples[k][i]);
        if (r->count[k] > ETL_VERIFY_EXAMPLES)
            printf(" ... and %zu more", r->count[k] - ETL_VERIFY_EXAMPLES);
        putchar('\n');
    }
    if (differ && repair)
        printf("repair: %zu submissions %s; the next `etl process` run fixes them\n", r->repaired,
               r->capture ? "queued" : "forgotten");
    else if (differ)
        printf("run `etl verify --repair` to have the next run fix them\n");
}

int cmd_verify(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    bool repair = false;
    bool json = false;
    const cli_option opts[] = {{"target", NULL, &target},
                               {"repair", &repair, NULL},
                               {"json", &json, NULL},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "verify", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind > 1)
        return cli_usage("verify", "verify: unexpected argument '%s'", argv[optind + 1]);
    if (!cli->db)
        return cli_usage("verify", "verify: needs --db CONNINFO, the application's database");
    const char *processor = optind < argc ? argv[optind] : "copy";
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_processor_cfg *p = NULL;
    int rc = cli_load_processor(cli, processor, &config, &p, &err);
    const volatile sig_atomic_t *stop = cli_catch_stop();
    etl_verify_result res;
    cli_progress bar;
    cli_progress_start(&bar, cli, "verify");
    if (rc == ETL_OK) {
        etl_verify_cfg vc = {.source = cli->db,
                             .target = target,
                             .proc = p,
                             .repair = repair,
                             .stop = stop,
                             .log = &cli->log,
                             .progress = cli_progress_on(&bar) ? show_progress : NULL,
                             .progress_ctx = &bar};
        rc = etl_prod_verify(&vc, &res, &err);
    }
    cli_progress_end(&bar);
    etl_config_free(config);
    if (rc != ETL_OK) {
        if (json)
            cli_json_error(err.msg, etl_exit_status(err.code));
        return cli_fail(&err);
    }
    size_t differ = res.count[0] + res.count[1] + res.count[2];
    if (json)
        print_json(&res, repair);
    else if (differ || cli->log.verbosity >= 0)
        print_text(&res, repair);
    return differ ? ETL_EXIT_DIFFERENT : ETL_EXIT_OK;
}
