/*
 * Extractor stage: a bounded iterator over submissions.  Each strategy is
 * one file in src/extract/ exporting only its constructor, declared here.
 * Memory is bounded by the batch size for streaming strategies; the naive
 * and joined strategies materialise the whole result on purpose (that is
 * the lesson they teach).
 */
#ifndef ETL_EXTRACTOR_H
#define ETL_EXTRACTOR_H

#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/row.h"

typedef struct etl_extractor_cfg {
    size_t batch_rows;  /* submissions per batch (per FETCH for `chunked`) */
    const char *filter; /* SQL condition on submissions `s` (trusted text), or NULL */
    const etl_log *log;
} etl_extractor_cfg;

typedef struct etl_extractor_ops {
    const char *name;
    /*
     * Mandatory.  Called once before next(): runs the query or opens the
     * cursor.  ETL_OK or a negative error.
     */
    int (*open)(void *state, etl_error *err);
    /*
     * Mandatory.  Lends out the next batch of at most cfg.batch_rows
     * submissions in *out.  Returns ETL_OK (count >= 1), ETL_DONE at the end
     * (count 0), or a negative error.  The batch and every string in it are
     * borrowed until the next call to next() or destroy().
     */
    int (*next)(void *state, etl_submission_batch *out, etl_error *err);
    /* Mandatory.  Frees the state and everything it lent out; state may be NULL. */
    void (*destroy)(void *state);
} etl_extractor_ops;

/* A stage handle: a const ops table and its strategy's opaque state. */
typedef struct etl_extractor {
    const etl_extractor_ops *ops;
    void *state;
} etl_extractor;

/*
 * Constructor shape shared by every extractor.  db is borrowed and must
 * outlive the extractor.  On failure out->state is NULL.
 */
typedef int (*etl_extractor_ctor)(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                                  etl_error *err);

int etl_extractor_naive_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                            etl_error *err);
int etl_extractor_joined_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                             etl_error *err);
int etl_extractor_chunked_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                              etl_error *err);

#endif
