/*
 * `etl init --db CONNINFO [--target CONNINFO]`: create the dwh schema and
 * tables for production mode.  Idempotent; never touches the app tables.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "etl/exitcodes.h"
#include "etl/production.h"

#include "banned.h"

static const char help[] =
    "Usage: etl init --db CONNINFO [--target CONNINFO]\n\n"
    "Create the dwh schema, dwh.response_events and the bookkeeping tables\n"
    "(dwh.etl_runs, dwh.etl_processed, dwh.etl_rejects) in the application's\n"
    "database, or with --target in another one.  Safe to run again; the app\n"
    "tables are only read, never changed.\n\n"
    "Options:\n"
    "  --target CONNINFO  put the warehouse tables in this database\n\n";

int cmd_init(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    const cli_option opts[] = {{"target", NULL, &target}, {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "init", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind < argc)
        return cli_usage("init", "init: unexpected argument '%s'", argv[optind]);
    if (!cli->db)
        return cli_usage("init", "init: needs --db CONNINFO, the application's database");
    etl_error err;
    etl_error_clear(&err);
    if (etl_prod_init(cli->db, target, &cli->log, &err) != ETL_OK)
        return cli_fail(&err);
    char *where = etl_db_redact(target ? target : cli->db);
    etl_log_info(&cli->log, "dwh tables ready in %s", where ? where : "the target");
    free(where);
    return ETL_EXIT_OK;
}
