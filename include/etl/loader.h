/*
 * Loader stage: writes response events into dwh.response_events.  Each
 * strategy is one file in src/load/ exporting only its constructor.  The
 * pipeline owns the target transaction: a loader's begin() .. end() span is
 * one batch inside a transaction the pipeline opened and will commit or
 * roll back, so a failed batch leaves nothing behind.
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
    size_t batch_rows; /* events per statement (`chunked`), per COPY buffer flush (`copy`) */
    const char *table; /* where events go (trusted SQL text); NULL: dwh.response_events */
    const volatile sig_atomic_t *stop; /* when set, stop within the current write */
    const etl_log *log;
} etl_loader_cfg;

typedef struct etl_loader_ops {
    const char *name;
    /* Mandatory.  Start a batch inside the open transaction (the COPY, for `copy`). */
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
     * (false: abort the COPY, drop what was kept).  Never commits: the
     * pipeline does, after recording the batch.
     */
    int (*end)(void *state, bool commit, etl_error *err);
    /* Mandatory.  Frees the state; state may be NULL. */
    void (*destroy)(void *state);
} etl_loader_ops;

typedef struct etl_loader {
    const etl_loader_ops *ops;
    void *state;
} etl_loader;

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
