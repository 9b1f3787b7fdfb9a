/*
 * Extractor stage: a bounded iterator over submissions.  Each strategy is
 * one file in src/extract/ exporting only its constructor, declared here
 * (docs/architecture.md, "Where does a new ... go?", has the whole recipe).
 * Memory is bounded by the batch size for streaming strategies (`chunked`
 * holds two batches: it reads the next one ahead); the naive and joined
 * strategies materialise the whole result on purpose (that is the lesson
 * they teach).  tests/unit/test_contract.c holds every strategy to this.
 *
 * The life of an extractor, as the pipeline (src/run/pipeline.c) drives it:
 *
 *   ctor  ->  open  ->  next ... next (ETL_DONE)  ->  destroy
 *
 * - Each slot runs at most once except next.  After open or next fails,
 *   the only call left is destroy.  next after ETL_DONE returns ETL_DONE
 *   again, with count 0 and no statement sent.
 * - The connection is borrowed and shared: between two next() calls the
 *   pipeline sends its own statements on it (the transformer's schema
 *   fetches from app.forms, on a cache miss).  So between calls the
 *   connection must take a statement: a query in flight through
 *   etl_db_send_query is fine (the seam collects it first), single-row
 *   mode or an open COPY TO is not.  Whatever transaction or cursor open
 *   started, destroy ends, and it collects any query still in flight, so
 *   the connection is clean for the next user.
 * - The cfg is copied by the constructor, but the strings it points to
 *   (filter, order) and the log are borrowed for the extractor's life.
 */
#ifndef ETL_EXTRACTOR_H
#define ETL_EXTRACTOR_H

#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/row.h"

typedef struct etl_extractor_cfg {
    size_t batch_rows;  /* per batch (per FETCH for `chunked`); 0: ETL_DEFAULT_BATCH_ROWS */
    const char *filter; /* SQL condition on submissions `s` (trusted text), or NULL */
    const char *order;  /* ORDER BY list on `s` (trusted text); NULL: oldest first */
    const etl_log *log;
} etl_extractor_cfg;

typedef struct etl_extractor_ops {
    const char *name;
    /*
     * Mandatory.  Called once before next(): runs the query or opens the
     * cursor.  ETL_OK or a negative error (then only destroy follows).
     */
    int (*open)(void *state, etl_error *err);
    /*
     * Mandatory.  Lends out the next batch of at most cfg.batch_rows
     * submissions in *out.  Returns ETL_OK (count >= 1), ETL_DONE at the end
     * (count 0), or a negative error.  The batch and every string in it are
     * borrowed until the next call to next() or destroy().
     */
    int (*next)(void *state, etl_submission_batch *out, etl_error *err);
    /*
     * Mandatory.  Ends what open started on the connection (a failure there
     * is ignored), then frees the state and everything it lent out.  Called
     * once; state may be NULL.
     */
    void (*destroy)(void *state);
} etl_extractor_ops;

/* A stage handle: a const ops table and its strategy's opaque state. */
typedef struct etl_extractor {
    const etl_extractor_ops *ops;
    void *state;
} etl_extractor;

/*
 * Constructor shape shared by every extractor.  db is borrowed and must
 * outlive the extractor.  It sends nothing to the server.  On failure
 * out->state is NULL (destroying it is a no-op) and err says why.
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
