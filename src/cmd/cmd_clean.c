/*
 * `etl clean [SCENARIO | --all]`: drop what etl created.  With a scenario,
 * its template and run databases; with none, every scenario database; with
 * --all on the embedded server, the whole data directory (no server start
 * needed), and on a --db server every database whose comment marks it as
 * etl's, and nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"

#include "banned.h"

static const char help[] =
    "Usage: etl clean [SCENARIO] [--all]\n\n"
    "Drop SCENARIO's databases (etl_tpl_SCENARIO and etl_run_SCENARIO); with no\n"
    "SCENARIO, the databases of every scenario etl created.  --all removes\n"
    "everything etl created: the embedded server's whole data directory, or with\n"
    "--db every database etl made on that server (marked by its comment).\n\n";

static int drop_ours(etl_session *s, const char *only, const etl_log *log, etl_error *err)
{
    etl_result *r = NULL;
    int rc = cli_our_databases(s, &r, err);
    char tpl[256] = "";
    char run[256] = "";
    if (only) {
        cli_template_db(only, tpl, sizeof(tpl));
        cli_run_db(only, run, sizeof(run));
    }
    for (int i = 0; rc == ETL_OK && i < etl_result_rows(r); i++) {
        const char *name = etl_result_get(r, i, 0);
        if (only && strcmp(name, tpl) != 0 && strcmp(name, run) != 0)
            continue;
        rc = cli_drop_db(s, name, err);
        if (rc == ETL_OK)
            etl_log_info(log, "dropped database %s", name);
    }
    etl_result_free(r);
    return rc;
}

int cmd_clean(int argc, char **argv, etl_cli *cli)
{
    bool all = false;
    const cli_option opts[] = {{"all", &all, NULL}, {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "clean", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind > 1)
        return cli_usage("clean", "clean: expected at most one SCENARIO");
    const char *scenario = optind < argc ? argv[optind] : NULL;
    if (all && scenario)
        return cli_usage("clean", "clean: give a SCENARIO or --all, not both");

    etl_error err;
    etl_error_clear(&err);
    int rc;
    if (all && !cli->db) {
        char dir[4096];
        cli_data_dir(cli, dir, sizeof(dir));
        rc = etl_server_remove(dir, &cli->log, &err);
        if (rc == ETL_OK)
            etl_log_info(&cli->log, "removed %s", dir);
        return rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
    }
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    rc = ETL_OK;
    if (scenario && (rc = cli_load_config(cli, &config, &err)) == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    etl_session session = {0};
    if (rc == ETL_OK && (rc = cli_session_open(cli, &session, &err)) == ETL_OK)
        rc = drop_ours(&session, scenario, &cli->log, &err);
    cli_session_close(&session);
    etl_config_free(config);
    return rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
}
