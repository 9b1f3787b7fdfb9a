/*
 * `etl prune --db CONNINFO [--target CONNINFO] --keep DURATION [--dry-run] [--json]`:
 * delete old run records.  dwh.etl_runs is the one table of etl's that is
 * history and grows without bound; the queue is consumed, and the ledger
 * and dwh.etl_rejects are current state, one row per submission.
 */
#include <stdio.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/production.h"
#include "etl/json_out.h"

#include "banned.h"

static const char help[] =
    "Usage: etl prune --db CONNINFO [--target CONNINFO] --keep DURATION [--dry-run] [--json]\n\n"
    "Delete the runs in dwh.etl_runs that ended more than DURATION ago (90s, 15m,\n"
    "2h, 7d, or seconds; an idle row ends with its latest run).  Never a running\n"
    "run, and never the last successful one, however old, so `status --check\n"
    "--max-age` keeps its reference.  Nothing else is pruned: the change queue is\n"
    "consumed by runs, and dwh.etl_processed and dwh.etl_rejects hold the current\n"
    "state, one row per submission.  run_id in those may then name a pruned run.\n\n"
    "Options:\n"
    "  --target CONNINFO  the warehouse database, if not the application's\n"
    "  --keep DURATION    keep runs that ended within DURATION\n"
    "  --dry-run          say what would be deleted, delete nothing\n"
    "  --json             one JSON object on stdout\n\n";

int cmd_prune(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    const char *keep = NULL;
    bool dry_run = false;
    bool json = false;
    const cli_option opts[] = {{"target", NULL, &target},
                               {"keep", NULL, &keep},
                               {"dry-run", &dry_run, NULL},
                               {"json", &json, NULL},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "prune", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind < argc)
        return cli_usage("prune", "prune: unexpected argument '%s'", argv[optind]);
    if (!cli->db)
        return cli_usage("prune", "prune: needs --db CONNINFO, the application's database");
    if (!keep)
        return cli_usage("prune", "prune: needs --keep DURATION, how long to keep run records "
                                  "(e.g. --keep 30d)");
    long long keep_s = 0;
    if (cli_parse_duration(keep, &keep_s) != 0)
        return cli_usage("prune", "prune: --keep: '%s' is not a duration; use %s", keep,
                         CLI_DURATION_HINT);
    etl_prune_cfg cfg = {.target = target ? target : cli->db,
                         .keep_s = keep_s,
                         .dry_run = dry_run,
                         .log = &cli->log};
    etl_prune_result r;
    etl_error err;
    etl_error_clear(&err);
    if (etl_prod_prune(&cfg, &r, &err) != ETL_OK) {
        if (json)
            cli_json_error(err.msg, etl_exit_status(err.code));
        return cli_fail(&err);
    }
    if (json) {
        printf("{\"dry_run\":%s,\"deleted\":%zu,\"first_id\":%lld,\"last_id\":%lld,"
               "\"before\":",
               dry_run ? "true" : "false", r.runs, r.first_id, r.last_id);
        etl_json_fput(stdout, r.before);
        printf(",\"kept_last_success\":%lld}\n", r.kept_success);
        return ETL_EXIT_OK;
    }
    if (cli->log.verbosity < 0)
        return ETL_EXIT_OK; /* -q: silent on success, like the other in-place commands */
    printf("prune: %s %zu runs that ended before %.19s UTC (--keep %s)",
           dry_run ? "would delete" : "deleted", r.runs, r.before, keep);
    if (r.runs)
        printf(", between ids %lld and %lld", r.first_id, r.last_id);
    putchar('\n');
    if (r.kept_success)
        printf("kept: run %lld, the last successful one, whatever its age\n", r.kept_success);
    return ETL_EXIT_OK;
}
