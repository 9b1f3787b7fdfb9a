/*
 * `etl status --db CONNINFO [--target CONNINFO] [--json]`: what production
 * mode has done and has left: backlog, last runs, rejects by reason.
 */
#include <stdio.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/production.h"

#include "banned.h"

static const char help[] =
    "Usage: etl status --db CONNINFO [--target CONNINFO] [--json]\n\n"
    "Show the backlog (submissions not yet processed), the last ten runs from\n"
    "dwh.etl_runs and the rejected submissions by reason.\n\n"
    "Options:\n"
    "  --target CONNINFO  the warehouse database, if not the application's\n"
    "  --json             one JSON object on stdout\n\n";

int cmd_status(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    bool json = false;
    const cli_option opts[] = {
        {"target", NULL, &target}, {"json", &json, NULL}, {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "status", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind < argc)
        return cli_usage("status", "status: unexpected argument '%s'", argv[optind]);
    if (!cli->db)
        return cli_usage("status", "status: needs --db CONNINFO, the application's database");
    etl_error err;
    etl_error_clear(&err);
    if (etl_prod_status(cli->db, target, json, stdout, &cli->log, &err) != ETL_OK)
        return cli_fail(&err);
    return ETL_EXIT_OK;
}
