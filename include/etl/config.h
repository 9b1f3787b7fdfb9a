/*
 * Scenario and processor definitions, parsed from YAML into plain structs.
 * The parser knows the schema of each file: unknown keys, wrong types and
 * YAML aliases are errors naming file, line and column.  It knows no
 * strategy: the names a processor gives are checked against the registries
 * by etl_runner_check_config (etl/runner.h), with the positions kept here.
 */
#ifndef ETL_CONFIG_H
#define ETL_CONFIG_H

#include <stddef.h>

#include "etl/error.h"

/* Where a value stands in its file (1-based); line 0: not given. */
typedef struct etl_cfg_pos {
    size_t line, col;
} etl_cfg_pos;

typedef struct etl_processor_cfg {
    char *name;
    char *description;
    char *runner;         /* runner registry name, "staged" unless given */
    char *extractor;      /* registry name, NULL if not given */
    char *transformer;    /* registry name, "flatten" unless given */
    char *loader;         /* registry name, NULL if not given */
    size_t extract_batch; /* submissions per batch */
    size_t load_batch;    /* events per statement or COPY flush */
    size_t form_cache;    /* forms kept in the path-map LRU */
    size_t max_depth;     /* nesting levels allowed in responses */
    size_t max_bytes;     /* bytes of responses allowed; larger ones are rejected */
    /* For messages: the file, and where the definition and each name stand. */
    char *file;
    etl_cfg_pos at, runner_at, extractor_at, transformer_at, loader_at;
} etl_processor_cfg;

typedef struct etl_scenario_cfg {
    char *name;
    char *description;
    size_t forms;       /* forms to create */
    size_t users;       /* users to create */
    size_t submissions; /* generated submissions (fixtures come on top) */
    char **schemas;     /* form files, relative to the scenarios directory */
    size_t nschemas;
    char **fixtures; /* literal submission files, same */
    size_t nfixtures;
    unsigned long long seed; /* default seed for `etl generate` */
    double unanswered;       /* share of questions left out or null, 0..1 */
    double extra_keys;       /* share of submissions with keys that are no question, 0..1 */
} etl_scenario_cfg;

typedef struct etl_config {
    char *dir; /* the scenarios directory */
    etl_scenario_cfg *scenarios;
    size_t nscenarios;
    etl_processor_cfg *processors;
    size_t nprocessors;
} etl_config;

#define ETL_SCENARIOS_FILE "scenarios.yaml"
#define ETL_PROCESSORS_FILE "processors.yaml"

/* Load dir/scenarios.yaml and dir/processors.yaml.  Caller frees with etl_config_free. */
int etl_config_load(etl_config **out, const char *dir, etl_error *err);
void etl_config_free(etl_config *c);

/*
 * Parse one file's text into c (appending).  `file` is the name used in
 * messages.  Exposed for the unit tests.
 */
int etl_config_parse_scenarios(etl_config *c, const char *file, const char *text, size_t len,
                               etl_error *err);
int etl_config_parse_processors(etl_config *c, const char *file, const char *text, size_t len,
                                etl_error *err);

const etl_scenario_cfg *etl_config_scenario(const etl_config *c, const char *name);
const etl_processor_cfg *etl_config_processor(const etl_config *c, const char *name);

#endif
