/*
 * Private to the command layer: the parsed global options, the session a
 * command runs in (embedded server or --db), and helpers every command
 * shares.  Commands return a process exit status (exitcodes.h).
 */
#ifndef ETL_CMD_H
#define ETL_CMD_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "etl/config.h"
#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/server.h"

typedef struct etl_cli {
    const char *db;        /* --db or $ETL_DB: an existing server, or NULL for the embedded one */
    const char *target;    /* --target or $ETL_TARGET: in place, the warehouse database */
    bool target_from_env;  /* target is $ETL_TARGET's: a scenario run ignores it */
    const char *data_dir;  /* --data-dir: the embedded server's directory */
    const char *scenarios; /* --scenarios: where scenarios.yaml and processors.yaml are */
    bool progress_lines;   /* --progress: progress as periodic plain lines (CI logs) */
    char *from_files[2];   /* the connection strings read from --db @FILE, --target @FILE */
    etl_log log;
} etl_cli;

/* One of a command's own long options: a flag, or an option with a value. */
typedef struct cli_option {
    const char *name;   /* without the leading -- */
    bool *flag;         /* set to true when given (flags), else NULL */
    const char **value; /* set to the value (options with one), else NULL */
} cli_option;

#define CLI_PARSED (-1)

/*
 * Parse a command's arguments: the global options and the command's own
 * (opts, ending with a NULL name), anywhere on the line, or only before the
 * first argument when stop_at_arg (so psql's arguments pass through).
 * Returns CLI_PARSED with optind at the first argument, or an exit status
 * for the command to return: 0 after printing --help, 2 for a bad option.
 */
int cli_parse_options(int argc, char **argv, etl_cli *cli, const char *cmd, const char *help,
                      const cli_option *opts, bool stop_at_arg);

/* Help text for the global options, shared by every --help. */
extern const char cli_global_help[];

/*
 * Parse the global options before the command name (main), stopping there.
 * Returns CLI_PARSED with optind at the command, or an exit status:
 * *version or *help set when those were asked for.
 */
int cli_parse_global(int argc, char **argv, etl_cli *cli, bool *help, bool *version);

/* Free what the parsing allocated (connection strings read from files). */
void cli_release(etl_cli *cli);

/* Until a command calls cli_catch_stop, SIGINT and SIGTERM print one line and exit 7. */
void cli_stop_now_on_signal(void);

/*
 * From now on SIGINT and SIGTERM only set the returned flag, which a run
 * reads between submissions (and then rolls back its open batch).
 */
const volatile sig_atomic_t *cli_catch_stop(void);

/*
 * Print "etl: <message>" for err and return its exit status.  The one place
 * a command turns an error into output.
 */
int cli_fail(const etl_error *err);
/*
 * With --json, a command that fails still prints one object on stdout:
 * {"error": message, "exit": status}, so a script always has JSON to parse.
 */
void cli_json_error(const char *message, int exit_status);
/* Print a usage error (with a hint to --help for cmd) and return ETL_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Find the scenarios directory (--scenarios, $ETL_SCENARIOS, ./scenarios, the source tree) and load
 * it. */
int cli_load_config(const etl_cli *cli, etl_config **out, etl_error *err);
/* Look up names; ETL_ERR_USAGE listing the valid names if unknown. */
int cli_find_scenario(const etl_config *c, const char *name, const etl_scenario_cfg **out,
                      etl_error *err);
int cli_find_processor(const etl_config *c, const char *name, const etl_processor_cfg **out,
                       etl_error *err);

/* cli_load_config, then cli_find_processor; *config is the caller's to free, even on error. */
int cli_load_processor(const etl_cli *cli, const char *name, etl_config **config,
                       const etl_processor_cfg **out, etl_error *err);

/* The longest DURATION: 100 years, in seconds. */
#define CLI_DURATION_MAX (100LL * 366 * 86400)
#define CLI_DURATION_HINT "a whole number with s, m, h or d (90s, 15m, 2h, 7d), or plain seconds"

/* A DURATION (90s, 15m, 2h, 7d, or plain seconds) into *seconds: 0, or -1 if it is none. */
int cli_parse_duration(const char *text, long long *seconds);
/* seconds as a short age: 45s, 12m05s, 2h05m, 3d04h. */
void cli_format_age(double seconds, char *out, size_t cap);

/* Where a command talks to PostgreSQL. */
typedef struct etl_session {
    etl_server *server;   /* the embedded server, or NULL with --db */
    const char *conninfo; /* maintenance connection: --db or the embedded server's */
    etl_db *admin;        /* connection to it, for CREATE/DROP DATABASE */
} etl_session;

/* The embedded server's directory: --data-dir, $ETL_DATA_DIR, or the default. */
void cli_data_dir(const etl_cli *cli, char *out, size_t cap);

/* Start the embedded server (or use --db) and connect the admin connection. */
int cli_session_open(const etl_cli *cli, etl_session *s, etl_error *err);
void cli_session_close(etl_session *s);

/* Database names of a scenario: its template and its run database. */
void cli_template_db(const char *scenario, char *out, size_t cap);
void cli_run_db(const char *scenario, char *out, size_t cap);
/* Does database name exist on the session's server? */
int cli_db_exists(etl_session *s, const char *name, bool *exists, etl_error *err);
/* DROP DATABASE IF EXISTS name, disconnecting anyone still on it. */
int cli_drop_db(etl_session *s, const char *name, etl_error *err);
/* CREATE DATABASE name [TEMPLATE tmpl], marked with etl's comment for `clean`. */
int cli_create_db(etl_session *s, const char *name, const char *tmpl, const char *scenario,
                  etl_error *err);
/* The databases etl created on the session's server (by their comment); caller frees. */
int cli_our_databases(etl_session *s, etl_result **out, etl_error *err);

/* The commands. */
int cmd_generate(int argc, char **argv, etl_cli *cli);
int cmd_process(int argc, char **argv, etl_cli *cli);
int cmd_list(int argc, char **argv, etl_cli *cli);
int cmd_psql(int argc, char **argv, etl_cli *cli);
int cmd_clean(int argc, char **argv, etl_cli *cli);
int cmd_init(int argc, char **argv, etl_cli *cli);
int cmd_status(int argc, char **argv, etl_cli *cli);
int cmd_bench(int argc, char **argv, etl_cli *cli);
int cmd_verify(int argc, char **argv, etl_cli *cli);
int cmd_reprocess(int argc, char **argv, etl_cli *cli);
int cmd_prune(int argc, char **argv, etl_cli *cli);

#endif
