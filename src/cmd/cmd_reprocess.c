/*
 * `etl reprocess --db CONNINFO [--target CONNINFO] (--form NAME |
 * --submission ID | --rejected [REASON] | --all)`: have the next in-place
 * run derive those submissions again (after fixing a form, say).
 */
#include <stdio.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/production.h"

#include "banned.h"

static const char help[] =
    "Usage: etl reprocess --db CONNINFO [--target CONNINFO] --form NAME\n"
    "       etl reprocess --db CONNINFO [--target CONNINFO] --submission ID\n"
    "       etl reprocess --db CONNINFO [--target CONNINFO] --rejected [REASON]\n"
    "       etl reprocess --db CONNINFO [--target CONNINFO] --all\n\n"
    "Have the next in-place run derive these submissions again, replacing their\n"
    "events and rejects: every submission of a form, one submission, the rejected\n"
    "ones (with REASON, only those rejected for it: see docs/cron.md), or all.\n"
    "With change capture they are queued; without, their events, rejects and ledger\n"
    "rows are deleted so the next run loads them again.\n\n"
    "Options:\n"
    "  --target CONNINFO  the warehouse database, if not the application's\n"
    "  --form NAME        the submissions of the form named NAME\n"
    "  --submission ID    one submission\n"
    "  --rejected         the rejected submissions (of REASON, if given)\n"
    "  --all              every submission\n\n";

int cmd_reprocess(int argc, char **argv, etl_cli *cli)
{
    etl_reprocess_cfg rc_cfg = {.source = NULL};
    bool all = false;
    bool rejected = false;
    const cli_option opts[] = {{"target", NULL, &rc_cfg.target},
                               {"form", NULL, &rc_cfg.form},
                               {"submission", NULL, &rc_cfg.submission},
                               {"rejected", &rejected, NULL},
                               {"all", &all, NULL},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "reprocess", help, opts, false);
    if (parsed != CLI_PARSED)
        return parsed;
    int chosen = (rc_cfg.form != NULL) + (rc_cfg.submission != NULL) + rejected + all;
    if (chosen != 1)
        return cli_usage("reprocess", "reprocess: give exactly one of --form NAME, --submission "
                                      "ID, --rejected [REASON] or --all");
    if (optind < argc && !rejected)
        return cli_usage("reprocess", "reprocess: unexpected argument '%s'", argv[optind]);
    if (argc - optind > 1)
        return cli_usage("reprocess", "reprocess: unexpected argument '%s'", argv[optind + 1]);
    if (!cli->db)
        return cli_usage("reprocess", "reprocess: needs --db CONNINFO, the application's database");
    rc_cfg.source = cli->db;
    rc_cfg.rejected = rejected;
    rc_cfg.reason = optind < argc ? argv[optind] : NULL;
    rc_cfg.all = all;
    rc_cfg.log = &cli->log;
    etl_error err;
    etl_error_clear(&err);
    size_t n = 0;
    if (etl_prod_reprocess(&rc_cfg, &n, &err) != ETL_OK)
        return cli_fail(&err);
    etl_log_info(&cli->log, "%zu submissions will be derived again by the next run", n);
    return ETL_EXIT_OK;
}
