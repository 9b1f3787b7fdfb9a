/*
 * Private to src/run/: the runners behind the registry in runner.c, and
 * the reject reporting they share.
 */
#ifndef ETL_RUN_PRIVATE_H
#define ETL_RUN_PRIVATE_H

#include <stddef.h>

#include "etl/pipeline.h"

/* The staged runner (pipeline.c): the processor's extractor, transformer and loader. */
int etl_staged_run(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                   etl_run_stats *stats, etl_error *err);

/* The in-db runner (indb.c): one INSERT ... SELECT in the target. */
int etl_indb_runner(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                    etl_run_stats *stats, etl_error *err);

/* Tell the user about one rejected submission: the first few, or all with -v. */
void etl_run_report_reject(const etl_log *log, size_t *shown, const char *id, const char *reason,
                           const char *msg);
/* Once per run: how many rejects were not listed ("... and N more"). */
void etl_run_report_rejects_hidden(const etl_log *log, size_t shown);

#endif
