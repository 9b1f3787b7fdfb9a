/*
 * Private to src/extract/: what the extractors share (the start of their
 * state, its constructor and destructor, the query over submissions) and
 * what the joined-query ones share (the join and its rows), defined in
 * extract_common.c, so that a strategy file exports nothing but its
 * constructor.
 */
#ifndef ETL_EXTRACT_PRIVATE_H
#define ETL_EXTRACT_PRIVATE_H

#include <stddef.h>

#include "etl/db.h"
#include "etl/extractor.h"
#include "etl/row.h"

/*
 * A user's full name from table alias u: given, space, family.  A NULL part
 * counts as empty, the same in every extractor (a missing user is told
 * apart by its id, not by a NULL name).
 */
#define ETL_EXTRACT_FULL_NAME(u)                                                                   \
    "coalesce(" u ".given_name, '') || ' ' || coalesce(" u ".family_name, '')"

/*
 * What both `joined` and `chunked` select: submissions with their users and
 * forms (outer joins: a submission whose user or form is missing still
 * comes out, to be rejected rather than silently left behind).  The columns
 * etl_extract_joined_row reads.
 */
#define ETL_EXTRACT_JOINED_SELECT                                                                  \
    "SELECT s.id, s.form_id, CASE WHEN f.id IS NOT NULL THEN f.name END, "                         \
    "s.user_id, CASE WHEN u.id IS NOT NULL THEN " ETL_EXTRACT_FULL_NAME(                           \
        "u") " END, s.date_created, s.responses "                                                  \
             "FROM app.submissions s "                                                             \
             "LEFT JOIN app.forms f ON f.id = s.form_id "                                          \
             "LEFT JOIN app.users u ON u.id = s.user_id "

/* Point s at row r of a result of ETL_EXTRACT_JOINED_SELECT (borrowed from res). */
void etl_extract_joined_row(const etl_result *res, int r, etl_submission *s);

/*
 * The first member of every extractor's state: its configuration, with
 * batch_rows defaulted, the connection it reads (borrowed), and the
 * submissions next() lends out, pointing into res.
 */
typedef struct etl_extract_base {
    etl_extractor_cfg cfg;
    etl_db *db;
    etl_result *res;      /* the rows read last (all of them, or the current chunk) */
    etl_submission *rows; /* cfg.batch_rows of them */
} etl_extract_base;

/* Free a state that starts with an etl_extract_base, with its res and rows; NULL is a no-op. */
void etl_extract_destroy(void *state);

/*
 * What every extractor constructor does first: point out at ops and at a
 * zeroed state of `size` bytes that starts with an etl_extract_base, filled
 * in.  The strategy then sets up the rest of out->state.  On failure
 * out->state is NULL (out->ops is set all the same: destroy(NULL) is safe).
 */
int etl_extract_new(etl_extractor *out, const etl_extractor_ops *ops, size_t size,
                    const etl_extractor_cfg *cfg, etl_db *db, etl_error *err);

/* The order of submissions unless the cfg names one: oldest first, by submissions_created_idx. */
#define ETL_EXTRACT_ORDER "s.date_created, s.id"

/*
 * Append to out the query `select` (SELECT ... FROM app.submissions s ...,
 * ending in a space) limited by cfg->filter (a condition on `s`) unless
 * NULL, in cfg->order or ETL_EXTRACT_ORDER.  ETL_OK or ETL_ERR_NOMEM.
 */
int etl_extract_query(etl_buf *out, const char *select, const etl_extractor_cfg *cfg);

/* open() of an extractor that reads every submission at once: select's rows into st->res. */
int etl_extract_read_all(etl_extract_base *st, const char *select, etl_error *err);

#endif
