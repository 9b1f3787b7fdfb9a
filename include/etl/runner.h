/*
 * The runners: how a processor runs.  `staged` streams submissions through
 * an extractor, a transformer and a loader from the stage registry
 * (etl/registry.h); `in-db` has no client stages at all: one INSERT ...
 * SELECT does the whole transform inside PostgreSQL.  A processor names its
 * runner in processors.yaml (`runner:`, "staged" unless given), and
 * etl_pipeline_run (etl/pipeline.h) runs it with the runner named there.
 */
#ifndef ETL_RUNNER_H
#define ETL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/config.h"
#include "etl/pipeline.h"

typedef int (*etl_runner_fn)(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                             etl_run_stats *stats, etl_error *err);

typedef struct etl_runner_entry {
    const char *name;
    etl_runner_fn run;
    /*
     * The processor names its stages (extractor and loader required), and
     * the runner calls every hook of etl_pipeline_cfg once per batch, so it
     * can keep per-submission bookkeeping (in-place runs need it).  false:
     * no stages may be named, and no hook is called.
     */
    bool stages;
    const char *summary; /* one line for `etl list` */
} etl_runner_entry;

/* Every runner, in alphabetical order. */
const etl_runner_entry *etl_registry_runners(size_t *n);
/* NULL if there is none of that name. */
const etl_runner_entry *etl_registry_find_runner(const char *name);

/*
 * Check that every processor of c names a runner and strategies that exist
 * and go together.  ETL_ERR_CONFIG naming file, line and column, with the
 * valid names.  Whoever loads a config checks it with this before use.
 */
int etl_runner_check_config(const etl_config *c, etl_error *err);

#endif
