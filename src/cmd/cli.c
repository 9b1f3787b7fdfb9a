/*
 * What every command shares: global options, error output, finding the
 * scenarios, and the session (embedded server or --db) with the database
 * naming scheme: scenario S lives in etl_tpl_S (made by `generate`) and is
 * processed in etl_run_S (a fresh clone per `process`).  Every database etl
 * creates carries a COMMENT starting "etl ", which is how `clean --all`
 * knows what is ours on a shared server.
 */
#include "cmd.h"
#include "etl/runner.h"
#include "etl/text.h"
#include "etl/json_out.h"
#include "exitcodes.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

#define DB_COMMENT_PREFIX "etl "

const char cli_global_help[] =
    "Global options (accepted anywhere on the line):\n"
    "  --db CONNINFO     use an existing PostgreSQL server (libpq string or URI)\n"
    "                    instead of the embedded one; @FILE reads it from FILE;\n"
    "                    default $ETL_DB (neither shows in ps, as --db does)\n"
    "  --target CONNINFO in place: load into this database instead of --db's\n"
    "                    (also @FILE; default $ETL_TARGET)\n"
    "  --data-dir DIR    the embedded server's directory (default ./.etl-data,\n"
    "                    or $ETL_DATA_DIR)\n"
    "  --scenarios DIR   read scenarios.yaml and processors.yaml from DIR\n"
    "  --debug-sql       print every statement and its duration on stderr\n"
    "  --debug-mem       print resident memory after each stage on stderr\n"
    "  --progress        progress as a plain line every few seconds on stderr, even\n"
    "                    when it is not a terminal (CI logs); on a terminal long\n"
    "                    commands show one line updated in place without it\n"
    "                    (and without -v, --debug-sql or --debug-mem)\n"
    "  -q, --quiet       only errors, one line about rejects, and results (scenario\n"
    "                    figures, --json, list, status); in-place runs, init and\n"
    "                    generate print nothing on success\n"
    "  -v, --verbose     say more (every rejected submission, not just the first 10)\n";

enum {
    OPT_DB = 1001,
    OPT_DATA_DIR,
    OPT_SCENARIOS,
    OPT_DEBUG_SQL,
    OPT_DEBUG_MEM,
    OPT_PROGRESS,
    OPT_TARGET,
    OPT_VERSION,
    OPT_OWN = 2000 /* a command's own options: OPT_OWN + index */
};

static const struct option global_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"target", required_argument, NULL, OPT_TARGET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"scenarios", required_argument, NULL, OPT_SCENARIOS},
    {"debug-sql", no_argument, NULL, OPT_DEBUG_SQL},
    {"debug-mem", no_argument, NULL, OPT_DEBUG_MEM},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
};
#define NGLOBAL (sizeof(global_longopts) / sizeof(global_longopts[0]))

/*
 * getopt_long's table: the global options, a command's own (opts, ending
 * with a NULL name), --help, and --version for main.  Caller frees.
 */
static struct option *build_longopts(const cli_option *opts, bool version)
{
    size_t own = 0;
    while (opts && opts[own].name)
        own++;
    struct option *l = calloc(NGLOBAL + own + 3, sizeof(*l)); /* zeroed: the terminator */
    if (!l)
        return NULL;
    size_t n = 0;
    for (; n < NGLOBAL; n++)
        l[n] = global_longopts[n];
    for (size_t k = 0; k < own; k++)
        l[n++] = (struct option){opts[k].name, opts[k].value ? required_argument : no_argument,
                                 NULL, OPT_OWN + (int)k};
    l[n++] = (struct option){"help", no_argument, NULL, 'h'};
    if (version)
        l[n] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    return l;
}

/* What getopt refused, named: an unknown option, or a known one without its value. */
static int bad_option(const char *cmd, char **argv, const struct option *longopts)
{
    const char *where = cmd ? cmd : "";
    const char *sep = cmd ? ": " : ""; /* before the command: a global option */
    for (const struct option *o = longopts; optopt >= OPT_DB && o->name; o++)
        if (o->val == optopt)
            return cli_usage(cmd, "%s%soption --%s %s", where, sep, o->name,
                             o->has_arg == no_argument ? "takes no value" : "needs a value");
    if (optopt > 0 && optopt < 256)
        return cli_usage(cmd, "%s%sunknown option -%c", where, sep, optopt);
    return cli_usage(cmd, "%s%sunknown option %s", where, sep, optind > 0 ? argv[optind - 1] : "");
}

/* Apply a global option getopt returned; false if opt is not one. */
static bool global_option(etl_cli *cli, int opt, const char *arg)
{
    switch (opt) {
    case OPT_DB:
        cli->db = arg;
        return true;
    case OPT_TARGET:
        cli->target = arg;
        return true;
    case OPT_DATA_DIR:
        cli->data_dir = arg;
        return true;
    case OPT_SCENARIOS:
        cli->scenarios = arg;
        return true;
    case OPT_DEBUG_SQL:
        cli->log.debug_sql = true;
        return true;
    case OPT_DEBUG_MEM:
        cli->log.debug_mem = true;
        return true;
    case OPT_PROGRESS:
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

int cli_parse_global(int argc, char **argv, etl_cli *cli, bool *help, bool *version)
{
    struct option *longopts = build_longopts(NULL, true);
    if (!longopts)
        return cli_usage(NULL, "out of memory");
    opterr = 0;
    int c;
    int rc = CLI_PARSED;
    /* '+': stop at the command name; the command parses what follows. */
    while (rc == CLI_PARSED && (c = getopt_long(argc, argv, "+hqv", longopts, NULL)) != -1) {
        if (global_option(cli, c, optarg))
            continue;
        if (c == 'h')
            *help = true;
        else if (c == OPT_VERSION)
            *version = true;
        else
            rc = bad_option(NULL, argv, longopts);
    }
    free(longopts);
    return rc;
}

/*
 * A connection string from the line, $ETL_DB/$ETL_TARGET, or a file
 * (@FILE), so that a password need not show in ps.  One given on the line
 * with a password in it is used, with a warning: every local user can read
 * it in ps and /proc.
 */
static int resolve_conninfo(const char *cmd, const char *option, const char *env,
                            const char **value, char **owned)
{
    bool on_line = *value != NULL;
    const char *from_env = getenv(env);
    if (!*value && from_env && *from_env)
        *value = from_env;
    if (!*value)
        return CLI_PARSED;
    if ((*value)[0] != '@') {
        if (on_line && etl_db_conninfo_has_secret(*value))
            etl_log_error("warning: the password in %s can be read by every local user (ps, "
                          "/proc); put it in ~/.pgpass (or $PGPASSFILE), or pass the connection "
                          "string in $%s or as %s @FILE",
                          option, env, option);
        return CLI_PARSED;
    }
    const char *path = *value + 1;
    struct stat st;
    char *text = NULL;
    size_t n = 0;
    etl_error err;
    if (etl_read_file(path, &text, &n, &err) != ETL_OK)
        return cli_usage(cmd, "%s @%s: %s", option, path, err.msg);
    if (stat(path, &st) == 0 && (st.st_mode & 077) && etl_db_conninfo_has_secret(text))
        etl_log_error("warning: %s holds a password and other users may read it; chmod 600 %s",
                      path, path);
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    *owned = text;
    *value = text;
    return CLI_PARSED;
}

int cli_parse_options(int argc, char **argv, etl_cli *cli, const char *cmd, const char *help,
                      const cli_option *opts, bool stop_at_arg)
{
    struct option *longopts = build_longopts(opts, false);
    if (!longopts)
        return cli_usage(cmd, "out of memory");
    opterr = 0;
    int c;
    int rc = CLI_PARSED;
    while (rc == CLI_PARSED &&
           (c = getopt_long(argc, argv, stop_at_arg ? "+hqv" : "hqv", longopts, NULL)) != -1) {
        if (global_option(cli, c, optarg))
            continue;
        if (c == 'h') {
            printf("%s%s", help, cli_global_help);
            rc = ETL_EXIT_OK;
        } else if (c >= OPT_OWN && longopts[NGLOBAL + (size_t)(c - OPT_OWN)].val == c) {
            const cli_option *o = &opts[c - OPT_OWN];
            if (o->flag)
                *o->flag = true;
            if (o->value)
                *o->value = optarg;
        } else {
            rc = bad_option(cmd, argv, longopts);
        }
    }
    free(longopts);
    if (rc != CLI_PARSED)
        return rc;
    /* --target is global, so it parses anywhere, but only in-place commands take it. */
    const char **target = NULL;
    for (size_t k = 0; opts && opts[k].name; k++)
        if (strcmp(opts[k].name, "target") == 0)
            target = opts[k].value;
    if (target && !*target)
        *target = cli->target;
    if (!target && cli->target)
        return cli_usage(cmd,
                         "%s: --target is for the in-place commands (process --db, init, "
                         "status, verify, reprocess, prune)",
                         cmd);
    rc = resolve_conninfo(cmd, "--db", "ETL_DB", &cli->db, &cli->from_files[0]);
    cli->target_from_env = target && !*target;
    if (rc == CLI_PARSED && target)
        rc = resolve_conninfo(cmd, "--target", "ETL_TARGET", target, &cli->from_files[1]);
    if (target && !*target)
        cli->target_from_env = false;
    if (rc == CLI_PARSED && target)
        cli->target = *target;
    return rc;
}

void cli_release(etl_cli *cli)
{
    free(cli->from_files[0]);
    free(cli->from_files[1]);
    cli->from_files[0] = cli->from_files[1] = NULL;
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

/*
 * Commands that never look at the flag (short ones: init, status, clean...)
 * stop at once: one message and exit 7, like the long ones.  Whatever
 * transaction was open is rolled back by the server when the connection
 * goes, and the embedded server shuts down with its parent.  Only
 * async-signal-safe calls here.
 */
static void on_stop_signal_now(int sig)
{
    (void)sig;
    static const char msg[] = "etl: interrupted; nothing open was kept\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(ETL_EXIT_INTERRUPTED);
}

void cli_stop_now_on_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal_now;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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

void cli_json_error(const char *message, int exit_status)
{
    fputs("{\"error\":", stdout);
    etl_json_fput(stdout, message);
    printf(",\"exit\":%d}\n", exit_status);
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

int cli_load_config(const etl_cli *cli, etl_config **out, etl_error *err)
{
    const char *dir = cli->scenarios;
    if (!dir)
        dir = getenv("ETL_SCENARIOS");
    if (!dir || !*dir) {
        dir =
            access("scenarios/" ETL_SCENARIOS_FILE, R_OK) == 0 ? "scenarios" : ETL_SOURCE_SCENARIOS;
    }
    int rc = etl_config_load(out, dir, err);
    if (rc == ETL_OK && (rc = etl_runner_check_config(*out, err)) != ETL_OK) {
        etl_config_free(*out);
        *out = NULL;
    }
    return rc;
}

int cli_find_scenario(const etl_config *c, const char *name, const etl_scenario_cfg **out,
                      etl_error *err)
{
    *out = etl_config_scenario(c, name);
    if (*out)
        return ETL_OK;
    etl_buf names = ETL_BUF_INIT;
    etl_error_set(err, ETL_ERR_USAGE, "unknown scenario '%s' (valid: %s; defined in %s/%s)", name,
                  etl_buf_names(&names, c->scenarios, c->nscenarios, sizeof(*c->scenarios)), c->dir,
                  ETL_SCENARIOS_FILE);
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
    etl_error_set(err, ETL_ERR_USAGE, "unknown processor '%s' (valid: %s; defined in %s/%s)", name,
                  etl_buf_names(&names, c->processors, c->nprocessors, sizeof(*c->processors)),
                  c->dir, ETL_PROCESSORS_FILE);
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
