/*
 * Loader stage: writes response events into dwh.response_events.  Each
 * strategy is one file in src/load/ exporting only its constructor
 * (`copy` and `copy-text` are the binary and text flavours of one file,
 * load_copy.c); docs/architecture.md has the recipe for a new one, and
 * tests/unit/test_contract.c holds every strategy to what follows.
 *
 * The pipeline owns the target transaction.  For every commit batch
 * (commit_every submissions) it calls, on the same loader:
 *
 *   BEGIN; [after_begin hook]; begin; write ...; flush; end(true);
 *   [before_commit hook]; COMMIT
 *
 * so begin and end run once per commit batch, never once per write.  When
 * anything after BEGIN fails, or the run is stopped, it calls end(false)
 * and then ROLLBACK, and a failed batch leaves nothing behind (a failed
 * BEGIN opened nothing: the run just ends).
 * end(false) therefore comes after a failed begin, after a failed write or
 * flush, after end(true) (when the hook or the COMMIT then fails), and even
 * with no begin at all (when after_begin failed): it must abandon whatever
 * is open and be harmless when nothing is.  After a failed slot the loader
 * is given no more writes in that batch; the next batch starts with begin.
 * destroy runs once, after the last ROLLBACK or COMMIT.
 */
#ifndef ETL_LOADER_H
#define ETL_LOADER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/log.h"
#include "etl/row.h"

typedef struct etl_loader_cfg {
    size_t
        batch_rows; /* events per INSERT (`chunked`, 0: ETL_DEFAULT_BATCH_ROWS); others: unused */
    const char *table; /* where events go (trusted SQL text); NULL: dwh.response_events */
    /*
     * Set by a signal handler: write and flush check it between statements
     * (between COPY sends for `copy`) and return ETL_ERR_INTERRUPTED, so a
     * stop takes effect within one statement, not after the whole write.
     */
    const volatile sig_atomic_t *stop;
    const etl_log *log; /* borrowed, like the cfg's strings: they must outlive the loader */
} etl_loader_cfg;

typedef struct etl_loader_ops {
    const char *name;
    /*
     * Mandatory.  Start a batch inside the open transaction (the COPY, for
     * `copy`).  A failure leaves the transaction for the pipeline to roll back.
     */
    int (*begin)(void *state, etl_error *err);
    /*
     * Mandatory.  Write (or, for `naive`, keep) the events of b.  b and the
     * submissions its events point to are borrowed for this call only.
     */
    int (*write)(void *state, const etl_event_batch *b, etl_error *err);
    /* Optional.  Send whatever write() kept back; called once per batch before end(true). */
    int (*flush)(void *state, etl_error *err);
    /*
     * Mandatory.  Finish the batch (commit = true: end the COPY) or abandon it
     * (false: abort the COPY, drop what was kept; always ETL_OK or ignorable).
     * Never commits: the pipeline does, after recording the batch.  Aborting
     * a COPY fails the enclosing transaction, so after end(false) only a
     * ROLLBACK works, which is what the pipeline sends.
     */
    int (*end)(void *state, bool commit, etl_error *err);
    /*
     * Mandatory.  Frees the state; state may be NULL.  Loaders with prepared
     * statements (`chunked`, `flush-single`) DEALLOCATE them here, which is
     * why it runs after the transaction has ended.
     */
    void (*destroy)(void *state);
    /*
     * Optional.  Events per write(): the pipeline writes once this many are
     * pending (a submission's events are never split, so a write may hold a
     * few more) and at the end of every extractor batch, so that a streaming
     * loader's sends interleave with the transform and its socket never runs
     * dry; 0: the events of a whole extractor batch at once (at most
     * PIPELINE_MAX_EVENTS, src/run/pipeline.c), so that a multi-row INSERT
     * loader writes a partial statement only once per extractor batch.  A
     * commit also writes what is pending.
     */
    size_t write_events;
} etl_loader_ops;

typedef struct etl_loader {
    const etl_loader_ops *ops;
    void *state;
} etl_loader;

/*
 * Constructor shape shared by every loader.  db (the target) is borrowed and
 * must outlive the loader; nothing is sent before begin.  On failure
 * out->state is NULL (destroying it is a no-op) and err says why.
 */
typedef int (*etl_loader_ctor)(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db,
                               etl_error *err);

int etl_loader_naive_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err);
int etl_loader_flush_single_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db,
                                etl_error *err);
int etl_loader_chunked_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err);
int etl_loader_copy_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err);
int etl_loader_copy_text_new(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db,
                             etl_error *err);

/* The target columns, in the order every loader sends them (11 of them). */
#define ETL_EVENT_COLUMNS                                                                          \
    "form_id, form_name, user_id, user_full_name, submission_id, submission_created, "             \
    "processed_on, schema_path, value, answer_type, tag"
#define ETL_EVENT_NCOLS 11

/* Fill params[0..11) with the text of event e's columns (tag may be NULL). */
void etl_event_params(const etl_event_batch *b, const etl_event *e, const char *params[11]);

#endif
