/*
 * `etl generate SCENARIO [--seed N]`: (re)build the scenario's template
 * database.  The new template is built under a temporary name and swapped
 * in only once complete, so a generate that fails or is interrupted leaves
 * the old template and run database exactly as they were.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/generate.h"
#include "etl/text.h"
#include "progress.h"

#include "banned.h"

static const char help[] =
    "Usage: etl generate SCENARIO [--seed N]\n\n"
    "(Re)build SCENARIO's template database (etl_tpl_SCENARIO) with the app and dwh\n"
    "schemas and deterministic synthetic data: the same scenario and seed always\n"
    "give identical rows, ids included.  The new template replaces the old one only\n"
    "when complete (then the scenario's run database, cloned from the old data, is\n"
    "dropped); if generate fails or is interrupted, the old ones are left as they were.\n\n"
    "Options:\n"
    "  --seed N   seed of the generator (default: the scenario's, else 42)\n"
    "  -h, --help this help\n\n";

/* What the progress line says about a generate: rows sent of all rows, then the closing steps. */
typedef struct gen_watch {
    cli_progress bar;
    size_t total; /* rows of every table */
} gen_watch;

static void show_progress(void *ctx, const etl_gen_stats *now)
{
    gen_watch *w = ctx;
    size_t rows = now->forms + now->users + now->submissions;
    char count[128];
    cli_progress_fmt_count(count, sizeof(count), rows, w->total, "rows", now->elapsed_us);
    if (strcmp(now->step, "constraints") == 0)
        cli_progress_update(&w->bar, "%zu rows loaded; adding keys and indexes", rows);
    else if (strcmp(now->step, "analyze") == 0)
        cli_progress_update(&w->bar, "%zu rows loaded; analyzing", rows);
    else
        cli_progress_update(&w->bar, "%s: %s", now->step, count);
}

/*
 * Put the complete new template in place of the old one.  The run database
 * goes too: it was cloned from the old data, and `process` clones a fresh
 * one anyway.  DROP ... WITH (FORCE) then RENAME: PostgreSQL cannot rename a
 * database others are connected to, and DROP can throw them out.
 */
static int swap_in(etl_session *s, const char *tmp, const char *tpl, const char *run,
                   bool *dropped_old, etl_error *err)
{
    int rc = cli_drop_db(s, run, err);
    if (rc == ETL_OK && (rc = cli_drop_db(s, tpl, err)) == ETL_OK)
        *dropped_old = true;
    etl_buf sql = ETL_BUF_INIT;
    if (rc == ETL_OK) {
        if (etl_buf_puts(&sql, "ALTER DATABASE ") != ETL_OK ||
            etl_db_quote_ident(&sql, tmp) != ETL_OK ||
            etl_buf_puts(&sql, " RENAME TO ") != ETL_OK || etl_db_quote_ident(&sql, tpl) != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        else if ((rc = etl_db_exec(s->admin, sql.data, err)) != ETL_OK)
            etl_error_wrap(err, "cannot rename database %s to %s", tmp, tpl);
    }
    etl_buf_release(&sql);
    return rc;
}

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
    bool made_tmp = false;
    bool dropped_old = false;
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    unsigned long long seed = sc ? sc->seed : 42;
    if (rc == ETL_OK && seed_arg && etl_parse_ull(seed_arg, 0, ~0ULL, &seed) != 0) {
        etl_config_free(config);
        return cli_usage("generate", "--seed: '%s' is not a whole number from 0 to %llu", seed_arg,
                         ~0ULL);
    }
    /* From here a signal only sets stop: every step below checks it and cleans up. */
    const volatile sig_atomic_t *stop = cli_catch_stop();
    char tpl[256];
    char run[256];
    char tmp[300];
    if (rc == ETL_OK) {
        cli_template_db(scenario, tpl, sizeof(tpl));
        cli_run_db(scenario, run, sizeof(run));
        snprintf(tmp, sizeof(tmp), "%s_new", tpl);
        /*
         * PostgreSQL cuts names at 63 bytes: past that the temporary name
         * would be the template's own, and building it would drop the old.
         */
        if (strlen(tmp) > 63)
            rc = etl_error_set(&err, ETL_ERR_USAGE,
                               "scenario name '%s' is too long: at most %zu bytes, so that its "
                               "databases' names fit PostgreSQL's 63; rename it in %s/%s",
                               scenario, 63 - strlen("etl_tpl__new"), config->dir,
                               ETL_SCENARIOS_FILE);
        else
            rc = cli_session_open(cli, &session, &err);
    }
    /* A leftover of a generate killed outright (SIGKILL, power loss) is dropped first. */
    if (rc == ETL_OK && (rc = cli_drop_db(&session, tmp, &err)) == ETL_OK &&
        (rc = cli_create_db(&session, tmp, NULL, scenario, &err)) == ETL_OK)
        made_tmp = true;
    if (rc == ETL_OK)
        rc = etl_db_open(&db, session.conninfo, tmp, &cli->log, &err);
    etl_gen_stats st = {0, 0, 0, 0, NULL};
    gen_watch watch;
    char what[128];
    snprintf(what, sizeof(what), "generate %s", scenario);
    cli_progress_start(&watch.bar, cli, what);
    watch.total = sc ? sc->forms + sc->users + sc->submissions + sc->nfixtures : 0;
    if (rc == ETL_OK) {
        etl_log_verbose(&cli->log, "generating scenario %s (seed %llu) into %s", scenario, seed,
                        tmp);
        const etl_gen_hooks hooks = {stop, show_progress, &watch};
        rc = etl_generate(db, sc, config->dir, seed, &hooks, &st, &err);
    }
    etl_db_close(db);
    if (rc == ETL_OK && *stop)
        rc = etl_error_set(&err, ETL_ERR_INTERRUPTED, "interrupted");
    if (rc == ETL_OK) {
        cli_progress_update(&watch.bar, "%zu rows in %.2f s, done",
                            st.forms + st.users + st.submissions, (double)st.elapsed_us / 1e6);
        rc = swap_in(&session, tmp, tpl, run, &dropped_old, &err);
    }
    cli_progress_end(&watch.bar);
    if (rc != ETL_OK && dropped_old) {
        /* The rename failed after the drop: the complete new data is all there is; keep it. */
        etl_error_wrap(&err, "generate %s (the new template is left in %s)", scenario, tmp);
    } else if (rc != ETL_OK && made_tmp) {
        /* Whatever else went wrong, the old template stays and the half-built one goes. */
        etl_error ignored;
        cli_drop_db(&session, tmp, &ignored);
        etl_error_wrap(&err, "generate %s (%s left unchanged)", scenario, tpl);
    } else if (rc != ETL_OK) {
        etl_error_wrap(&err, "generate %s", scenario);
    }
    if (rc == ETL_OK && cli->log.verbosity >= 0)
        printf("generated %s (seed %llu): %zu forms, %zu users, %zu submissions in %.2f s "
               "-> database %s\n",
               scenario, seed, st.forms, st.users, st.submissions, (double)st.elapsed_us / 1e6,
               tpl);
    cli_session_close(&session);
    etl_config_free(config);
    return rc == ETL_OK ? ETL_EXIT_OK : cli_fail(&err);
}
