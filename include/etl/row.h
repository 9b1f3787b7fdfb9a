/*
 * The two row shapes that flow through the pipeline: a submission (what the
 * extractor yields) and a response event (what the transformer yields and
 * the loader writes).  Both are views: their strings are borrowed, and each
 * batch type says how long.
 */
#ifndef ETL_ROW_H
#define ETL_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "etl/buf.h"

/*
 * Rows per batch when a stage is given none: submissions per extractor
 * batch (per FETCH for `chunked`) and events per loader statement or COPY
 * flush.  Also what a processor gets for extract_batch and load_batch when
 * processors.yaml does not say.
 */
#define ETL_DEFAULT_BATCH_ROWS ((size_t)500)

/* One row of app.submissions, with its form and user columns resolved. */
typedef struct etl_submission {
    const char *id;             /* uuid text */
    const char *form_id;        /* uuid text */
    const char *form_name;      /* NULL: no such form (the submission is rejected, unknown_form) */
    const char *form_schema;    /* JSON text, or NULL: the transformer fetches it on a cache miss */
    const char *user_id;        /* uuid text */
    const char *user_full_name; /* given name, space, family name; NULL: no such user */
    const char *created;        /* timestamptz text as PostgreSQL printed it */
    const char *responses;      /* JSON text, NUL-terminated */
    size_t responses_len;       /* bytes */
} etl_submission;

/*
 * What an extractor's next() lends out: rows[0..count).  Borrowed until the
 * next call to next() or destroy().
 */
typedef struct etl_submission_batch {
    const etl_submission *rows;
    size_t count; /* submissions */
} etl_submission_batch;

typedef enum etl_answer_type {
    ETL_ANSWER_NUMBER,
    ETL_ANSWER_TEXT,
    ETL_ANSWER_BOOLEAN,
    ETL_ANSWER_DATE
} etl_answer_type;

/* "number", "text", "boolean", "date": the dwh.answer_type enum labels. */
const char *etl_answer_type_name(etl_answer_type t);
/* Parse an enum label; returns 0 and sets *out, or -1 if s is not one. */
int etl_answer_type_parse(const char *s, etl_answer_type *out);

#define ETL_NO_TAG SIZE_MAX

/* One response event.  Strings live in the owning batch's `strings`. */
typedef struct etl_event {
    const etl_submission *sub; /* form, user, submission columns */
    size_t path_off;           /* offset of the NUL-terminated schema_path */
    size_t value_off;          /* offset of the NUL-terminated value text */
    size_t value_len;          /* bytes */
    size_t tag_off;            /* offset of the tag, or ETL_NO_TAG for SQL NULL */
    etl_answer_type type;
} etl_event;

/*
 * A batch of events being filled by the transformer and handed to a loader.
 * Offsets (not pointers) into `strings`, because appending may move it.
 * The `sub` pointers are borrowed from the current submission batch, so a
 * loader that keeps events past write() must copy them (see load_naive.c).
 */
typedef struct etl_event_batch {
    etl_event *events;
    size_t count; /* events */
    size_t cap;   /* events allocated */
    etl_buf strings;
    const char *processed_on; /* one timestamptz text for the whole run */
} etl_event_batch;

void etl_event_batch_init(etl_event_batch *b, const char *processed_on);
void etl_event_batch_release(etl_event_batch *b);
/* Empty the batch, keeping its allocations. */
void etl_event_batch_reset(etl_event_batch *b);
/* Drop events and strings appended after a mark (used to undo a rejected submission). */
void etl_event_batch_truncate(etl_event_batch *b, size_t count, size_t strings_len);
/* Append a zeroed event; returns NULL when out of memory. */
etl_event *etl_event_batch_push(etl_event_batch *b);

static inline const char *etl_event_path(const etl_event_batch *b, const etl_event *e)
{
    return b->strings.data + e->path_off;
}
static inline const char *etl_event_value(const etl_event_batch *b, const etl_event *e)
{
    return b->strings.data + e->value_off;
}
static inline const char *etl_event_tag(const etl_event_batch *b, const etl_event *e)
{
    return e->tag_off == ETL_NO_TAG ? NULL : b->strings.data + e->tag_off;
}

#endif
