/*
 * `etl psql SCENARIO [-- PSQL-ARGS...]`: psql on the scenario's run
 * database (its template if it was never processed).  psql runs as a child,
 * executed directly (no shell), because the embedded server must stay up
 * while it runs and be stopped after.  A password from --db travels in the
 * environment (PGPASSWORD), never on psql's command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "exitcodes.h"

#include "banned.h"

static const char help[] =
    "Usage: etl psql SCENARIO [-- PSQL-ARGS...]\n\n"
    "Run psql on SCENARIO's run database (etl_run_SCENARIO), or on its template\n"
    "(etl_tpl_SCENARIO) if it was never processed.  Arguments after -- go to psql:\n"
    "  etl psql medium -- -c 'select count(*) from dwh.response_events'\n"
    "The exit status is psql's.\n\n";

static int run_psql(char *conninfo, const char *password, int nargs, char **args, etl_error *err)
{
    static char psql[] = "psql";
    char **argv = calloc((size_t)nargs + 3, sizeof(*argv));
    if (!argv)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    argv[0] = psql;
    argv[1] = conninfo;
    for (int i = 0; i < nargs; i++)
        argv[2 + i] = args[i];
    /* psql handles Ctrl-C itself (cancels the query); etl must not die of it meanwhile. */
    struct sigaction ign = {0};
    struct sigaction old_int;
    struct sigaction old_quit;
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        if (password)
            setenv("PGPASSWORD", password, 1);
        execvp("psql", argv);
        fprintf(stderr,
                "etl: psql: cannot run it: %s; install it with `apt-get install "
                "postgresql-client`\n",
                strerror(errno));
        _exit(127);
    }
    free(argv);
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (pid < 0)
        return etl_error_set(err, ETL_ERR_IO, "cannot start psql: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : ETL_EXIT_FAILURE;
}

int cmd_psql(int argc, char **argv, etl_cli *cli)
{
    /* Stop at SCENARIO, so everything after it (past --) is psql's. */
    int parsed = cli_parse_options(argc, argv, cli, "psql", help, NULL, true);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind >= argc)
        return cli_usage("psql", "psql: expected a SCENARIO");
    const char *scenario = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    else if (optind < argc)
        return cli_usage("psql",
                         "psql: put psql's arguments after --, e.g. etl psql %s -- -c "
                         "'select 1'",
                         scenario);

    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    const etl_scenario_cfg *sc = NULL;
    etl_session session = {0};
    char db[256];
    int rc = cli_load_config(cli, &config, &err);
    if (rc == ETL_OK)
        rc = cli_find_scenario(config, scenario, &sc, &err);
    if (rc == ETL_OK)
        rc = cli_session_open(cli, &session, &err);
    bool exists = false;
    if (rc == ETL_OK) {
        cli_run_db(scenario, db, sizeof(db));
        rc = cli_db_exists(&session, db, &exists, &err);
    }
    if (rc == ETL_OK && !exists) {
        cli_template_db(scenario, db, sizeof(db));
        rc = cli_db_exists(&session, db, &exists, &err);
        if (rc == ETL_OK && !exists)
            rc = etl_error_set(&err, ETL_ERR_USAGE,
                               "scenario %s has no database yet; run `etl generate %s` first",
                               scenario, scenario);
    }
    int status = ETL_EXIT_OK;
    if (rc == ETL_OK) {
        /* The admin connection is not needed while psql runs. */
        etl_db_close(session.admin);
        session.admin = NULL;
        char *password = NULL;
        char *conninfo = etl_db_conninfo_for(session.conninfo, db, &password);
        if (!conninfo)
            rc = etl_error_set(&err, ETL_ERR_USAGE, "--db: cannot parse the connection string");
        else
            status = run_psql(conninfo, password, argc - optind, argv + optind, &err);
        if (status < 0)
            rc = status;
        free(conninfo);
        free(password);
    }
    cli_session_close(&session);
    etl_config_free(config);
    return rc == ETL_OK ? status : cli_fail(&err);
}
