/*
 * The `in-db` processor: the whole transform as one INSERT ... SELECT run
 * by PostgreSQL itself, for users with no room for a client process.  A
 * recursive query walks each form's schema into (path, answerType, tag) and
 * each submission's responses into (path, value); the join keeps answers
 * whose path is a question of the form.  No event crosses the wire.
 *
 * It matches the C transformer on well-formed data.  Where it differs, by
 * construction: it does not reject a whole submission (an answer of the
 * wrong type is loaded as text, an array or object answer is skipped,
 * responses that are not an object load nothing), a key that itself holds
 * a dot does not match a nested path, and non-integer numbers go through
 * float8's shortest text, which writes large and tiny exponents its own way
 * ("1e+16").  docs/performance.md says so for users.
 */
#include "etl/indb.h"

#include <stdlib.h>

#include "etl/loader.h"

#include "banned.h"

/*
 * Questions come from a recursive walk of the (small) schemas; each
 * submission's responses are cast to jsonb once and every question of its
 * form is looked up by path (#>), which PostgreSQL does as a hash join of
 * submissions and questions instead of expanding every response key.
 */
static const char indb_sql[] =
    "WITH inserted AS (INSERT INTO dwh.response_events (" ETL_EVENT_COLUMNS ") "
    "WITH RECURSIVE node(form_id, path, keys, n) AS ("
    "  SELECT f.id, c->>'slug', ARRAY[c->>'slug'], c FROM app.forms f,"
    "   jsonb_array_elements(CASE WHEN jsonb_typeof(f.schema::jsonb->'children') = 'array'"
    "    THEN f.schema::jsonb->'children' ELSE '[]' END) c"
    "  WHERE jsonb_typeof(c) = 'object' AND c ? 'slug'"
    "  UNION ALL"
    "  SELECT node.form_id, node.path || '.' || (c->>'slug'), node.keys || (c->>'slug'), c"
    "  FROM node, jsonb_array_elements(CASE WHEN jsonb_typeof(node.n->'children') = 'array'"
    "    THEN node.n->'children' ELSE '[]' END) c"
    "  WHERE jsonb_typeof(c) = 'object' AND c ? 'slug'),"
    " question AS MATERIALIZED (SELECT form_id, path, keys, n->>'answerType' AS answer_type,"
    "  n->>'tag' AS tag FROM node WHERE n ? 'answerType'),"
    " sub AS MATERIALIZED (SELECT s.id, s.form_id, f.name AS form_name, s.user_id,"
    "  u.given_name || ' ' || u.family_name AS user_full_name, s.date_created,"
    "  s.responses::jsonb AS r FROM app.submissions s JOIN app.forms f ON f.id = s.form_id"
    "  JOIN app.users u ON u.id = s.user_id WHERE %s)"
    " SELECT s.form_id, s.form_name, s.user_id, s.user_full_name, s.id, s.date_created,"
    "  $1::timestamptz, q.path,"
    "  CASE WHEN jsonb_typeof(v) <> 'number' OR v::text ~ '^-?[0-9]+$' THEN v #>> '{}'"
    "   ELSE (v #>> '{}')::float8::text END,"
    "  q.answer_type::dwh.answer_type, q.tag"
    " FROM sub s JOIN question q ON q.form_id = s.form_id,"
    "  LATERAL (SELECT s.r #> q.keys AS v) x"
    " WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean') RETURNING 1)"
    " SELECT count(*) FROM inserted";

int etl_indb_run(etl_db *db, const char *processed_on, const char *filter, size_t *events,
                 size_t *submissions, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    etl_buf count = ETL_BUF_INIT;
    etl_result *r = NULL;
    *events = 0;
    *submissions = 0;
    if (etl_buf_printf(&sql, indb_sql, filter ? filter : "true") != ETL_OK ||
        etl_buf_printf(&count, "SELECT count(*) FROM app.submissions s WHERE %s",
                       filter ? filter : "true") != ETL_OK) {
        etl_buf_release(&sql);
        etl_buf_release(&count);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    const char *params[1] = {processed_on};
    int rc = etl_db_query(db, count.data, 0, NULL, &r, err);
    if (rc == ETL_OK)
        *submissions = (size_t)strtoull(etl_result_get(r, 0, 0), NULL, 10);
    etl_result_free(r);
    r = NULL;
    if (rc == ETL_OK)
        rc = etl_db_query(db, sql.data, 1, params, &r, err);
    if (rc == ETL_OK)
        *events = (size_t)strtoull(etl_result_get(r, 0, 0), NULL, 10);
    etl_result_free(r);
    etl_buf_release(&sql);
    etl_buf_release(&count);
    return rc == ETL_OK ? ETL_OK : etl_error_wrap(err, "the in-db statement failed");
}
