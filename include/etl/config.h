/*
 * Scenario and processor definitions, parsed from YAML into plain structs.
 * The parser knows the schema of each file: unknown keys, wrong types and
 * YAML aliases are errors naming file, line and column.  Names of
 * strategies are checked against the registries here, so a typo fails at
 * load time with the list of valid names.
 */
#ifndef ETL_CONFIG_H
#define ETL_CONFIG_H

#include <stddef.h>

#include "etl/error.h"

typedef struct etl_processor_cfg {
    char *name;
    char *description;
    char *extractor;      /* registry name */
    char *transformer;    /* registry name, "flatten" unless given */
    char *loader;         /* registry name */
    size_t extract_batch; /* submissions per batch */
    size_t load_batch;    /* events per statement or COPY flush */
    size_t form_cache;    /* forms kept in the path-map LRU */
    size_t max_depth;     /* nesting levels allowed in responses */
    size_t max_bytes;     /* bytes of responses allowed; larger ones are rejected */
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

/*
 * Read a whole file into a NUL-terminated heap buffer (caller frees).
 * ETL_ERR_CONFIG naming the file when it cannot be read.
 */
int etl_read_file(const char *path, char **out, size_t *len, etl_error *err);

/*
 * The one range-checking number parser for options and config values:
 * a whole decimal number in [min, max], nothing else.  0 or -1.
 */
int etl_parse_ull(const char *s, unsigned long long min, unsigned long long max,
                  unsigned long long *out);

/* 1-based line and column of byte offset `at` in text, for messages. */
void etl_text_position(const char *text, size_t at, size_t *line, size_t *col);

#endif
