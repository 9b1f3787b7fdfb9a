/*
 * etl: batch ETL of form submissions into response events.
 * main() parses the global options up to the command name, then hands the
 * rest of the command line to the command's own function.  Exit statuses
 * are listed in src/cmd/exitcodes.h and documented in docs/cli.md.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"

#include "banned.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv, etl_cli *cli);
    const char *summary;
} command;

static const command commands[] = {
    {"generate", cmd_generate, "build a scenario's template database with synthetic data"},
    {"process", cmd_process, "run a processor on a fresh copy of a scenario and report figures"},
    {"bench", cmd_bench, "compare processors on a scenario, against raw COPY as the limit"},
    {"list", cmd_list, "list scenarios, processors and strategies"},
    {"psql", cmd_psql, "open psql on a scenario's database"},
    {"clean", cmd_clean, "drop scenario databases, or everything etl created"},
    {"init", cmd_init, "production: create the dwh tables in a real database"},
    {"status", cmd_status, "production: queue or backlog, last runs and rejects"},
    {"verify", cmd_verify, "production: compare the warehouse with a full recomputation"},
    {"reprocess", cmd_reprocess, "production: have the next run derive submissions again"},
    {"prune", cmd_prune, "production: delete old run records from dwh.etl_runs"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "Usage: etl [global options] COMMAND [options] [arguments]\n\n"
                 "Turn form submissions into one response event per answer, and measure\n"
                 "how each extract/load strategy does it.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n%s", cli_global_help);
    fprintf(out, "  -h, --help        this help; `etl COMMAND --help` for a command's\n"
                 "  --version         print the version\n\n"
                 "Examples:\n  etl generate medium && etl process medium chunked\n"
                 "  etl init --db postgresql:///app && etl process --db postgresql:///app copy\n"
                 "\nExit status (docs/cli.md says what to do about each):\n");
#define ETL_EXIT_LINE(name, number, meaning) fprintf(out, "  %2d  %s\n", (number), (meaning));
    ETL_EXIT_CODES(ETL_EXIT_LINE)
#undef ETL_EXIT_LINE
}

int main(int argc, char **argv)
{
    etl_cli cli;
    memset(&cli, 0, sizeof(cli));
    bool help = false;
    bool version = false;
    int parsed = cli_parse_global(argc, argv, &cli, &help, &version);
    if (parsed != CLI_PARSED)
        return parsed;
    if (help) {
        usage(stdout);
        return ETL_EXIT_OK;
    }
    if (version) {
        printf("etl %s\n", ETL_VERSION);
        return ETL_EXIT_OK;
    }
    if (optind >= argc) {
        usage(stderr);
        return ETL_EXIT_USAGE;
    }
    cli_stop_now_on_signal();
    const char *name = argv[optind];
    const command *c = etl_find_named(commands, NCOMMANDS, sizeof(commands[0]), name);
    if (c) {
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* full re-initialisation of getopt for the command */
        int rc = c->fn(sub_argc, sub_argv, &cli);
        cli_release(&cli);
        return rc;
    }
    etl_buf names = ETL_BUF_INIT;
    int rc = cli_usage(NULL, "unknown command '%s' (valid: %s)", name,
                       etl_buf_names(&names, commands, NCOMMANDS, sizeof(commands[0])));
    etl_buf_release(&names);
    return rc;
}
