/*
 * Private to src/extract/: what the joined-query extractors share.
 */
#ifndef ETL_EXTRACT_PRIVATE_H
#define ETL_EXTRACT_PRIVATE_H

#include "etl/db.h"
#include "etl/row.h"

/*
 * A user's full name from table alias u: given, space, family.  A NULL part
 * counts as empty, the same in every extractor (a missing user is told
 * apart by its id, not by a NULL name).
 */
#define ETL_EXTRACT_FULL_NAME(u)                                                                   \
    "coalesce(" u ".given_name, '') || ' ' || coalesce(" u ".family_name, '')"

/*
 * The query both `joined` and `chunked` run: users and forms joined, oldest
 * first, limited by filter (a condition on `s`) unless NULL.  Into out.
 */
int etl_extract_joined_query(etl_buf *out, const char *filter);

/* Point s at row r of a result of etl_extract_joined_sql (borrowed from res). */
void etl_extract_joined_row(const etl_result *res, int r, etl_submission *s);

#endif
