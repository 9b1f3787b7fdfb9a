/*
 * What every command shares: global options, error output, finding the
 * scenarios, and the session (embedded server or --db) with the database
 * naming scheme: scenario S lives in etl_tpl_S (made by `generate`) and is
 * processed in etl_run_S (a fresh clone per `process`).  Every database etl
 * creates carries a COMMENT starting "etl ", which is how `clean --all`
 * knows what is ours on a shared server.
 */
#include "cmd.h"
#include "exitcodes.h"

#include <assert.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

#define DB_COMMENT_PREFIX "etl "

const char cli_global_help[] =
    "Global options (accepted before or after the command):\n"
    "  --db CONNINFO     use an existing PostgreSQL server (libpq string or URI)\n"
    "                    instead of the embedded one\n"
    "  --data-dir DIR    the embedded server's directory (default ./.etl-data,\n"
    "                    or $ETL_DATA_DIR)\n"
    "  --scenarios DIR   read scenarios.yaml and processors.yaml from DIR\n"
    "  --debug-sql       print every statement and its duration on stderr\n"
    "  --debug-mem       print resident memory after each stage on stderr\n"
    "  --progress        progress as a plain line every few seconds on stderr, even\n"
    "                    when it is not a terminal (CI logs); on a terminal long\n"
    "                    commands show one line updated in place without it\n"
    "  -q, --quiet       print nothing but errors and results\n"
    "  -v, --verbose     say more (every rejected submission, not just the first 10)\n";

static const struct option global_longopts[] = {
    {"db", required_argument, NULL, 1001},
    {"data-dir", required_argument, NULL, 1002},
    {"scenarios", required_argument, NULL, 1003},
    {"debug-sql", no_argument, NULL, 1004},
    {"debug-mem", no_argument, NULL, 1005},
    {"progress", no_argument, NULL, 1006},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
};
#define NGLOBAL (sizeof(global_longopts) / sizeof(global_longopts[0]))
#define MAX_OWN 16
#define OWN_BASE 2000

const struct option *cli_global_longopts(size_t *n)
{
    *n = NGLOBAL;
    return global_longopts;
}

int cli_parse_options(int argc, char **argv, etl_cli *cli, const char *cmd, const char *help,
                      const cli_option *opts, bool stop_at_arg)
{
    struct option longopts[NGLOBAL + MAX_OWN + 2];
    size_t n = 0;
    for (; n < NGLOBAL; n++)
        longopts[n] = global_longopts[n];
    size_t own = 0;
    for (; opts && opts[own].name; own++) {
        assert(own < MAX_OWN);
        longopts[n++] =
            (struct option){opts[own].name, opts[own].value ? required_argument : no_argument, NULL,
                            OWN_BASE + (int)own};
    }
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, stop_at_arg ? "+hqv" : "hqv", longopts, NULL)) != -1) {
        if (cli_global_option(cli, c, optarg))
            continue;
        if (c == 'h') {
            printf("%s%s", help, cli_global_help);
            return ETL_EXIT_OK;
        }
        if (c >= OWN_BASE && (size_t)(c - OWN_BASE) < own) {
            const cli_option *o = &opts[c - OWN_BASE];
            if (o->flag)
                *o->flag = true;
            if (o->value)
                *o->value = optarg;
            continue;
        }
        return cli_bad_option(cmd, argv);
    }
    return CLI_PARSED;
}

bool cli_global_option(etl_cli *cli, int opt, const char *arg)
{
    switch (opt) {
    case 1001:
        cli->db = arg;
        return true;
    case 1002:
        cli->data_dir = arg;
        return true;
    case 1003:
        cli->scenarios = arg;
        return true;
    case 1004:
        cli->log.debug_sql = true;
        return true;
    case 1005:
        cli->log.debug_mem = true;
        return true;
    case 1006:
        cli->progress_lines = true;
        return true;
    case 'q':
        cli->log.verbosity = -1;
        return true;
    case 'v':
        if (cli->log.verbosity >= 0)
            cli->log.verbosity++;
        return true;
    default:
        return false;
    }
}

/*
 * Set by SIGINT/SIGTERM during a long command and read by the run between
 * submissions.  A signal handler can only talk through a static flag: the
 * one mutable global in etl.
 */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

const volatile sig_atomic_t *cli_catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

int etl_exit_status(int code)
{
    switch (code) {
    case ETL_OK:
    case ETL_DONE:
        return ETL_EXIT_OK;
    case ETL_ERR_USAGE:
        return ETL_EXIT_USAGE;
    case ETL_ERR_CONFIG:
        return ETL_EXIT_CONFIG;
    case ETL_ERR_CONNECT:
        return ETL_EXIT_SERVER;
    case ETL_ERR_LOCKED:
        return ETL_EXIT_LOCKED;
    case ETL_ERR_INTERRUPTED:
        return ETL_EXIT_INTERRUPTED;
    case ETL_ERR_REJECTS:
        return ETL_EXIT_TOO_MANY_REJECTS;
    default:
        return ETL_EXIT_FAILURE;
    }
}

int cli_fail(const etl_error *err)
{
    etl_log_error("%s", err->msg[0] ? err->msg : etl_error_name(err->code));
    return etl_exit_status(err->code);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    etl_log_error("%s", msg);
    fprintf(stderr, "Try 'etl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return ETL_EXIT_USAGE;
}

int cli_bad_option(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    const char *sep = cmd ? ": " : ""; /* before the command: a global option */
    if (optopt && optopt < 256)
        return cli_usage(cmd, "%s%sunknown option or missing value for -%c", cmd ? cmd : "", sep,
                         optopt);
    return cli_usage(cmd, "%s%sunknown option or missing value: %s", cmd ? cmd : "", sep, arg);
}

int cli_load_config(const etl_cli *cli, etl_config **out, etl_error *err)
{
    const char *dir = cli->scenarios;
    if (!dir)
        dir = getenv("ETL_SCENARIOS");
    if (!dir || !*dir) {
        dir =
            access("scenarios/" ETL_SCENARIOS_FILE, R_OK) == 0 ? "scenarios" : ETL_SOURCE_SCENARIOS;
    }
    return etl_config_load(out, dir, err);
}

int cli_find_scenario(const etl_config *c, const char *name, const etl_scenario_cfg **out,
                      etl_error *err)
{
    *out = etl_config_scenario(c, name);
    if (*out)
        return ETL_OK;
    etl_buf names = ETL_BUF_INIT;
    for (size_t i = 0; i < c->nscenarios; i++)
        etl_buf_printf(&names, "%s%s", i ? ", " : "", c->scenarios[i].name);
    etl_error_set(err, ETL_ERR_USAGE, "unknown scenario '%s' (valid: %s; defined in %s/%s)", name,
                  names.data ? names.data : "none", c->dir, ETL_SCENARIOS_FILE);
    etl_buf_release(&names);
    return ETL_ERR_USAGE;
}

int cli_find_processor(const etl_config *c, const char *name, const etl_processor_cfg **out,
                       etl_error *err)
{
    *out = etl_config_processor(c, name);
    if (*out)
        return ETL_OK;
    etl_buf names = ETL_BUF_INIT;
    for (size_t i = 0; i < c->nprocessors; i++)
        etl_buf_printf(&names, "%s%s", i ? ", " : "", c->processors[i].name);
    etl_error_set(err, ETL_ERR_USAGE, "unknown processor '%s' (valid: %s; defined in %s/%s)", name,
                  names.data ? names.data : "none", c->dir, ETL_PROCESSORS_FILE);
    etl_buf_release(&names);
    return ETL_ERR_USAGE;
}

int cli_load_processor(const etl_cli *cli, const char *name, etl_config **config,
                       const etl_processor_cfg **out, etl_error *err)
{
    *out = NULL;
    int rc = cli_load_config(cli, config, err);
    if (rc == ETL_OK)
        rc = cli_find_processor(*config, name, out, err);
    return rc;
}

void cli_data_dir(const etl_cli *cli, char *out, size_t cap)
{
    const char *dir = cli->data_dir ? cli->data_dir : getenv("ETL_DATA_DIR");
    if (dir && *dir)
        snprintf(out, cap, "%s", dir);
    else
        etl_server_default_dir(out, cap, &cli->log);
}

int cli_session_open(const etl_cli *cli, etl_session *s, etl_error *err)
{
    memset(s, 0, sizeof(*s));
    if (cli->db) {
        s->conninfo = cli->db;
    } else {
        char dir[4096];
        cli_data_dir(cli, dir, sizeof(dir));
        int rc = etl_server_start(&s->server, dir, &cli->log, err);
        if (rc != ETL_OK)
            return rc;
        s->conninfo = etl_server_conninfo(s->server);
    }
    int rc = etl_db_open(&s->admin, s->conninfo, NULL, &cli->log, err);
    if (rc != ETL_OK)
        cli_session_close(s);
    return rc;
}

void cli_session_close(etl_session *s)
{
    etl_db_close(s->admin);
    s->admin = NULL;
    etl_server_stop(s->server);
    s->server = NULL;
}

void cli_template_db(const char *scenario, char *out, size_t cap)
{
    snprintf(out, cap, "etl_tpl_%s", scenario);
}

void cli_run_db(const char *scenario, char *out, size_t cap)
{
    snprintf(out, cap, "etl_run_%s", scenario);
}

int cli_db_exists(etl_session *s, const char *name, bool *exists, etl_error *err)
{
    etl_result *r = NULL;
    const char *params[1] = {name};
    int rc =
        etl_db_query(s->admin, "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, &r, err);
    if (rc != ETL_OK)
        return rc;
    *exists = etl_result_rows(r) > 0;
    etl_result_free(r);
    return ETL_OK;
}

int cli_drop_db(etl_session *s, const char *name, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    int rc = ETL_ERR_NOMEM;
    if (etl_buf_puts(&sql, "DROP DATABASE IF EXISTS ") == ETL_OK &&
        etl_db_quote_ident(&sql, name) == ETL_OK && etl_buf_puts(&sql, " WITH (FORCE)") == ETL_OK)
        rc = etl_db_exec(s->admin, sql.data, err);
    else
        etl_error_set(err, rc, "out of memory");
    etl_buf_release(&sql);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot drop database %s", name);
}

int cli_create_db(etl_session *s, const char *name, const char *tmpl, const char *scenario,
                  etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    int rc = ETL_ERR_NOMEM;
    /*
     * FILE_COPY clones by copying files after a checkpoint: much faster than
     * PostgreSQL 15's default WAL_LOG for templates of hundreds of MB.
     * CREATE DATABASE must be a statement of its own (no implicit
     * transaction), so the comment follows separately.
     */
    if (etl_buf_puts(&sql, "CREATE DATABASE ") != ETL_OK ||
        etl_db_quote_ident(&sql, name) != ETL_OK ||
        (tmpl &&
         (etl_buf_puts(&sql, " TEMPLATE ") != ETL_OK || etl_db_quote_ident(&sql, tmpl) != ETL_OK ||
          etl_buf_puts(&sql, " STRATEGY FILE_COPY") != ETL_OK)))
        goto nomem;
    if ((rc = etl_db_exec(s->admin, sql.data, err)) != ETL_OK)
        goto out;
    etl_buf_reset(&sql);
    if (etl_buf_puts(&sql, "COMMENT ON DATABASE ") != ETL_OK ||
        etl_db_quote_ident(&sql, name) != ETL_OK ||
        etl_buf_printf(&sql, " IS '" DB_COMMENT_PREFIX "%s database of scenario ",
                       tmpl ? "run" : "template") != ETL_OK)
        goto nomem;
    /* Scenario names come from YAML: double any quote inside the literal. */
    for (const char *p = scenario; *p; p++)
        if ((*p == '\'' && etl_buf_putc(&sql, '\'') != ETL_OK) || etl_buf_putc(&sql, *p) != ETL_OK)
            goto nomem;
    if (etl_buf_putc(&sql, '\'') != ETL_OK)
        goto nomem;
    rc = etl_db_exec(s->admin, sql.data, err);
    goto out;
nomem:
    rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
out:
    etl_buf_release(&sql);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot create database %s", name);
}

/* Names of every database whose comment says etl made it. */
int cli_our_databases(etl_session *s, etl_result **out, etl_error *err)
{
    return etl_db_query(s->admin,
                        "SELECT d.datname FROM pg_database d "
                        "JOIN pg_shdescription c ON c.objoid = d.oid "
                        "AND c.classoid = 'pg_database'::regclass "
                        "WHERE c.description LIKE '" DB_COMMENT_PREFIX "%' ORDER BY 1",
                        0, NULL, out, err);
}
