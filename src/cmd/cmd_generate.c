/*
 * `etl generate SCENARIO [--seed N]`: (re)build the scenario's template
 * database.  The old template and run databases are dropped first, so a
 * generate always leaves exactly what the scenario and seed describe.
 */
#include <stdio.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/generate.h"

#include "banned.h"

static const char help[] =
    "Usage: etl generate SCENARIO [--seed N]\n\n"
    "(Re)build SCENARIO's template database (etl_tpl_SCENARIO) with the app and dwh\n"
    "schemas and deterministic synthetic data: the same scenario and seed always\n"
    "give identical rows, ids included.  Any run database of the scenario is dropped.\n\n"
    "Options:\n"
    "  --seed N   seed of the generator (default: the scenario's, else 42)\n"
    "  -h, --help this help\n\n";

int cmd_generate(int argc, char **argv, etl_cli *cli)
{
    const char *seed_arg = NULL;
    const cli_option opts[] = {{"seed", NULL, &seed_arg}, {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "generate", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (argc - optind != 1)
        return cli_usage("generate", "generate: expected one SCENARIO, got %d arguments",
                         argc - optind);
    const char *scenario = argv[optind];

    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    etl_session session = {0};
    etl_db *db = NULL;
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    unsigned long long seed = sc ? sc->seed : 42;
    if (rc == ETL_OK && seed_arg && etl_parse_ull(seed_arg, 0, ~0ULL, &seed) != 0) {
        etl_config_free(config);
        return cli_usage("generate", "--seed: '%s' is not a whole number from 0 to %llu", seed_arg,
                         ~0ULL);
    }
    char tpl[256];
    char run[256];
    if (rc == ETL_OK) {
        cli_template_db(scenario, tpl, sizeof(tpl));
        cli_run_db(scenario, run, sizeof(run));
        rc = cli_session_open(cli, &session, &err);
    }
    if (rc == ETL_OK && (rc = cli_drop_db(&session, run, &err)) == ETL_OK &&
        (rc = cli_drop_db(&session, tpl, &err)) == ETL_OK)
        rc = cli_create_db(&session, tpl, NULL, scenario, &err);
    if (rc == ETL_OK)
        rc = etl_db_open(&db, session.conninfo, tpl, &cli->log, &err);
    etl_gen_stats st = {0, 0, 0, 0};
    if (rc == ETL_OK) {
        etl_log_verbose(&cli->log, "generating scenario %s (seed %llu) into %s", scenario, seed,
                        tpl);
        rc = etl_generate(db, sc, config->dir, seed, &st, &err);
        if (rc != ETL_OK) {
            etl_error_wrap(&err, "generate %s", scenario);
            /* Leave no half-built template behind for `process` to clone. */
            etl_db_close(db);
            db = NULL;
            etl_error ignored;
            cli_drop_db(&session, tpl, &ignored);
        }
    }
    if (rc == ETL_OK && cli->log.verbosity >= 0)
        printf("generated %s (seed %llu): %zu forms, %zu users, %zu submissions in %.2f s "
               "-> database %s\n",
               scenario, seed, st.forms, st.users, st.submissions, (double)st.elapsed_us / 1e6,
               tpl);
    etl_db_close(db);
    cli_session_close(&session);
    etl_config_free(config);
    return rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
}
