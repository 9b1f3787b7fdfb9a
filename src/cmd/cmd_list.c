/*
 * `etl list`: scenarios and processors from the YAML files, strategies from
 * the registries, one line each.  Needs no database.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/registry.h"
#include "etl/runner.h"

#include "banned.h"

static const char help[] = "Usage: etl list\n\n"
                           "List the scenarios and processors (from the scenarios directory), and\n"
                           "the runners and the extractor, transformer and loader strategies\n"
                           "compiled in.\n\n";

int cmd_list(int argc, char **argv, etl_cli *cli)
{
    int parsed = cli_parse_options(argc, argv, cli, "list", help, NULL, false);
    if (parsed != CLI_PARSED)
        return parsed;
    if (optind < argc)
        return cli_usage("list", "list: unexpected argument '%s'", argv[optind]);
    etl_error err;
    etl_error_clear(&err);
    etl_config *config = NULL;
    if (cli_load_config(cli, &config, &err) != ETL_OK)
        return cli_fail(&err);

    printf("scenarios (%s/%s):\n", config->dir, ETL_SCENARIOS_FILE);
    for (size_t i = 0; i < config->nscenarios; i++) {
        const etl_scenario_cfg *s = &config->scenarios[i];
        char counts[96];
        snprintf(counts, sizeof(counts), "%zu/%zu/%zu%s", s->forms, s->users, s->submissions,
                 s->nfixtures ? "+fixtures" : "");
        printf("  %-18s %-22s %s\n", s->name, counts, s->description ? s->description : "");
    }
    printf("processors (%s/%s):\n", config->dir, ETL_PROCESSORS_FILE);
    for (size_t i = 0; i < config->nprocessors; i++) {
        const etl_processor_cfg *p = &config->processors[i];
        char parts[96];
        if (p->extractor && p->loader)
            snprintf(parts, sizeof(parts), "%s + %s", p->extractor, p->loader);
        else
            snprintf(parts, sizeof(parts), "runner %s", p->runner);
        printf("  %-18s %-22s %s\n", p->name, parts, p->description ? p->description : "");
    }
    size_t n;
    const etl_runner_entry *rs = etl_registry_runners(&n);
    printf("runners:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %s\n", rs[i].name, rs[i].summary);
    const etl_extractor_entry *xs = etl_registry_extractors(&n);
    printf("extractors:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %s\n", xs[i].name, xs[i].summary);
    const etl_transformer_entry *ts = etl_registry_transformers(&n);
    printf("transformers:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %s\n", ts[i].name, ts[i].summary);
    const etl_loader_entry *ls = etl_registry_loaders(&n);
    printf("loaders:\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %s\n", ls[i].name, ls[i].summary);
    etl_config_free(config);
    return ETL_EXIT_OK;
}
