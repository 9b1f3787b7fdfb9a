/*
 * Transformer stage: one submission in, its response events appended to an
 * event batch.  One strategy today (`flatten`), behind the same kind of ops
 * table as the other stages so another can be registered beside it.
 * ctor -> apply ... -> destroy; apply may be called again after it returned
 * ETL_ERR_INPUT (a reject), never after a fatal error.  It sends nothing to
 * a database itself: on a schema cache miss it calls cfg.fetch, which the
 * pipeline points at the extractor's connection (see extractor.h).
 */
#ifndef ETL_TRANSFORMER_H
#define ETL_TRANSFORMER_H

#include <stddef.h>

#include "etl/buf.h"
#include "etl/error.h"
#include "etl/row.h"

/*
 * Fetch a form's schema JSON text into out (appended) on a cache miss.
 * ETL_OK, ETL_ERR_INPUT if there is no such form, or a fatal error.
 */
typedef int (*etl_schema_fetch_fn)(void *ctx, const char *form_id, etl_buf *out, etl_error *err);

typedef struct etl_transformer_cfg {
    size_t form_cache;         /* forms whose path maps are kept (LRU) */
    size_t max_depth;          /* nesting levels allowed in responses */
    size_t max_bytes;          /* responses larger than this are rejected; 0: no limit */
    etl_schema_fetch_fn fetch; /* used when a submission carries no schema */
    void *fetch_ctx;           /* borrowed, passed to fetch */
} etl_transformer_cfg;

typedef struct etl_transformer_ops {
    const char *name;
    /*
     * Mandatory.  Append the events of submission s to out.  Returns ETL_OK,
     * ETL_ERR_INPUT when the submission must be rejected (out is left as it
     * was, err->msg says why and err->reason is an ETL_REJECT_* code), or
     * another negative code for a fatal error.
     */
    int (*apply)(void *state, const etl_submission *s, etl_event_batch *out, etl_error *err);
    /* Mandatory.  Frees the state; state may be NULL. */
    void (*destroy)(void *state);
} etl_transformer_ops;

typedef struct etl_transformer {
    const etl_transformer_ops *ops;
    void *state;
} etl_transformer;

/* On failure out->state is NULL (destroying it is a no-op) and err says why; cfg is copied. */
typedef int (*etl_transformer_ctor)(etl_transformer *out, const etl_transformer_cfg *cfg,
                                    etl_error *err);

int etl_transformer_flatten_new(etl_transformer *out, const etl_transformer_cfg *cfg,
                                etl_error *err);

#endif
