/*
 * The pipeline: builds an extractor, a transformer and a loader from a
 * processor definition and streams submissions through them, one extractor
 * batch at a time.  It is the only code that calls stage slots.
 */
#ifndef ETL_PIPELINE_H
#define ETL_PIPELINE_H

#include <stddef.h>

#include "etl/config.h"
#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"

/*
 * What a run did.  Accounting identity: submissions = accepted + rejected,
 * and events are only counted for accepted submissions.
 */
typedef struct etl_run_stats {
    size_t submissions;   /* read from the source */
    size_t rejected;      /* of those, rejected with a reason */
    size_t events;        /* written to the target */
    long long elapsed_us; /* extract + transform + load, commit included */
    long peak_rss_kib;    /* peak resident memory of this process */
} etl_run_stats;

/*
 * Run processor p reading from source and writing to target (they may be the
 * same server but must be distinct connections).  processed_on is the
 * timestamptz text stamped on every event.  Returns ETL_OK when the load is
 * committed (even with rejected submissions, counted in stats), otherwise a
 * negative error after rolling back.
 */
int etl_pipeline_run(const etl_processor_cfg *p, etl_db *source, etl_db *target,
                     const char *processed_on, const etl_log *log, etl_run_stats *stats,
                     etl_error *err);

#endif
