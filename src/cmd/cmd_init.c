/*
 * `etl init --db CONNINFO [--target CONNINFO]`: create the dwh schema and
 * tables for production mode.  Idempotent; never touches the app tables.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/production.h"

#include "banned.h"

static const char help[] =
    "Usage: etl init --db CONNINFO [--target CONNINFO] [--no-capture] [--no-index]\n\n"
    "Prepare a database for in-place runs.  Creates the dwh schema, dwh.response_events\n"
    "and the bookkeeping tables (dwh.etl_runs, dwh.etl_processed, dwh.etl_rejects) in\n"
    "the application's database, or with --target in another one.  Then installs change\n"
    "capture on the application's database: schema etl with the queue etl.queue, and\n"
    "triggers on app.submissions, app.forms and app.users that queue what changes, so\n"
    "runs follow edits and deletes at a cost that grows with the changes.  It also\n"
    "indexes app.submissions on form_id and user_id if nothing does yet (built\n"
    "concurrently).  A new queue starts with every submission not processed yet.\n"
    "Safe to run again; an installation made without capture keeps its ledger, runs\n"
    "and rejects.  See docs/cron.md.\n\n"
    "Options:\n"
    "  --target CONNINFO  put the warehouse tables in this database\n"
    "  --no-capture       no triggers (for a role that may not create them): runs scan\n"
    "                     for submissions missing from the ledger, which costs a pass\n"
    "                     over the table and sees new submissions only, never edits\n"
    "  --no-index         do not add the two indexes: cheaper bulk writes for the\n"
    "                     application, but a run after a form or user change (a new\n"
    "                     user too) scans app.submissions (docs/cron.md has figures)\n\n";

int cmd_init(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    bool no_capture = false;
    bool no_index = false;
    const cli_option opts[] = {{"target", NULL, &target},
                               {"no-capture", &no_capture, NULL},
                               {"no-index", &no_index, NULL},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "init", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind < argc)
        return cli_usage("init", "init: unexpected argument '%s'", argv[optind]);
    if (!cli->db)
        return cli_usage("init", "init: needs --db CONNINFO, the application's database");
    etl_error err;
    etl_error_clear(&err);
    etl_prod_init_result res;
    etl_prod_init_cfg ic = {.source = cli->db,
                            .target = target,
                            .capture = !no_capture,
                            .indexes = !no_index,
                            .log = &cli->log};
    if (etl_prod_init(&ic, &res, &err) != ETL_OK)
        return cli_fail(&err);
    char *where = etl_db_redact(target ? target : cli->db);
    etl_log_info(&cli->log, "dwh tables ready in %s", where ? where : "the target");
    free(where);
    if (res.capture)
        etl_log_info(&cli->log,
                     "change capture on: %zu submissions queued for the next run; %d "
                     "index%s created on app.submissions",
                     res.queued, res.indexes, res.indexes == 1 ? "" : "es");
    else
        etl_log_info(&cli->log, "no change capture: runs scan for new submissions and do not "
                                "see edits or deletes");
    if (res.repaired)
        etl_log_error("change capture had a missing or disabled trigger, now put back; changes "
                      "made meanwhile were not captured: run `etl verify --repair`");
    return ETL_EXIT_OK;
}
