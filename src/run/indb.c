/*
 * The `in-db` processor: the whole transform as one statement run by
 * PostgreSQL itself, for users with no room for a client process.  No event
 * crosses the wire.  It follows the C transformer's rules exactly, so that
 * choosing it for speed never changes what is loaded (the differential test,
 * tests/pg/test_differential_pg.c, holds it to that on random hostile data):
 *
 *  - the form's schema is walked in SQL and checked as etl_pathmap_build
 *    checks it (cJSON's limit of 1000 nesting levels included); a submission
 *    of an unusable one is rejected;
 *  - each submission gets the first reason of the C transformer's, in its
 *    order: unknown_form, unknown_user, unusable_schema, too_large, too_deep,
 *    unstorable_string, not_object; then the walk's type_mismatch and
 *    ambiguous_answer;
 *  - the answers of most submissions are looked up by path in their jsonb
 *    (fast, and of duplicate names jsonb keeps the last, as the rule says);
 *    a submission for which jsonb could differ from the rule (a number with
 *    an exponent or a negative zero, whose text jsonb would change; a key
 *    with a dot; a form with a numeric slug, which #> would take for an
 *    array index; more than 16,000 bytes, where numeric could overflow) is
 *    walked as `json` instead, which keeps every name and number as written,
 *    taking the last of duplicate names itself;
 *  - numbers go through etl_format_number's rule (pg_temp.etl_number).
 *
 * The helper functions live in pg_temp, so they vanish with the session and
 * need no privilege beyond TEMP.
 */
#include "indb.h"
#include "run.h"
#include "etl/clock.h"
#include "etl/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etl/loader.h"

#include "../extract/extract.h"
#include "banned.h"

/*
 * etl_unstorable: \u0000 or a surrogate without its other half anywhere
 *   (json_scan.c's after_u_escape), found from the escapes in order;
 * etl_depth: the deepest nesting of arrays and objects, strings removed;
 * etl_decimal: a number text as significant digits and exponent, so that
 *   equal values compare equal (flatten.c's same_decimal);
 * etl_number: flatten.c's etl_format_number (float8's shortest text is the
 *   same as the C one but for exponent 15, which C writes in fixed notation);
 * etl_is_date: flatten.c's etl_is_iso_date.
 */
static const char *const indb_functions_sql[] = {
    "CREATE OR REPLACE FUNCTION pg_temp.etl_unstorable(t text) RETURNS boolean\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $f$\n"
    "DECLARE\n"
    "    e text;\n"
    "    cp int;\n"
    "    high boolean := false;\n"
    "BEGIN\n"
    "    -- Every escape in order, and the runs between them (which break a surrogate pair).\n"
    "    FOR e IN SELECT m[1] FROM regexp_matches(t,\n"
    "     '\\\\(u[0-9a-fA-F]{4}|.)|[^\\\\]+', 'g') AS m LOOP\n"
    "        cp := CASE WHEN e ~ '^u' THEN ('x' || substr(e, 2))::bit(16)::int ELSE -1 END;\n"
    "        IF high THEN\n"
    "            IF cp BETWEEN 56320 AND 57343 THEN\n"
    "                high := false;\n"
    "                CONTINUE;\n"
    "            END IF;\n"
    "            RETURN true;\n"
    "        END IF;\n"
    "        IF cp = 0 OR cp BETWEEN 56320 AND 57343 THEN\n"
    "            RETURN true;\n"
    "        END IF;\n"
    "        high := cp BETWEEN 55296 AND 56319;\n"
    "    END LOOP;\n"
    "    RETURN high;\n"
    "END $f$;\n",
    "CREATE OR REPLACE FUNCTION pg_temp.etl_depth(t text) RETURNS int\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $f$\n"
    "DECLARE\n"
    "    c text;\n"
    "    d int := 0;\n"
    "    deepest int := 0;\n"
    "BEGIN\n"
    "    FOREACH c IN ARRAY regexp_split_to_array(regexp_replace(regexp_replace(t,\n"
    "            '\"(?:[^\"\\\\]|\\\\.)*\"', '', 'g'), '[^][{}]', '', 'g'), '') LOOP\n"
    "        IF c = '{' OR c = '[' THEN\n"
    "            d := d + 1;\n"
    "            deepest := greatest(deepest, d);\n"
    "        ELSE\n"
    "            d := d - 1;\n"
    "        END IF;\n"
    "    END LOOP;\n"
    "    RETURN deepest;\n"
    "END $f$;\n",
    "CREATE OR REPLACE FUNCTION pg_temp.etl_decimal(x text) RETURNS text\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $f$\n"
    "DECLARE\n"
    "    body text := ltrim(x, '-');\n"
    "    epos int := strpos(translate(body, 'E', 'e'), 'e');\n"
    "    mant text := CASE WHEN epos > 0 THEN left(body, epos - 1) ELSE body END;\n"
    "    e numeric := CASE WHEN epos > 0 THEN substr(body, epos + 1)::numeric ELSE 0 END;\n"
    "    digits text := ltrim(replace(mant, '.', ''), '0');\n"
    "BEGIN\n"
    "    IF digits = '' THEN\n"
    "        RETURN '0';\n"
    "    END IF;\n"
    "    IF strpos(mant, '.') > 0 THEN\n"
    "        e := e - (length(mant) - strpos(mant, '.'));\n"
    "    END IF;\n"
    "    e := e + length(digits) - length(rtrim(digits, '0'));\n"
    "    RETURN CASE WHEN x LIKE '-%' THEN '-' ELSE '' END || rtrim(digits, '0') || 'e'\n"
    "     || e::text;\n"
    "END $f$;\n",
    "CREATE OR REPLACE FUNCTION pg_temp.etl_number(raw text) RETURNS text\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $f$\n"
    "DECLARE\n"
    "    epos int := strpos(translate(raw, 'E', 'e'), 'e');\n"
    "    t text;\n"
    "BEGIN\n"
    "    IF length(raw) <= 200 AND (epos = 0 OR length(ltrim(substr(raw, epos + 1),\n"
    "     '+-')) <= 2) THEN\n"
    "        t := raw::float8::text; -- within 1e-299..1e299: no range error to catch\n"
    "    ELSE\n"
    "        BEGIN\n"
    "            t := raw::float8::text;\n"
    "        EXCEPTION WHEN numeric_value_out_of_range THEN\n"
    "            RETURN raw;\n"
    "        END;\n"
    "    END IF;\n"
    "    IF right(t, 4) = 'e+15' THEN\n"
    "        t := t::numeric::text;\n"
    "    END IF;\n"
    "    IF pg_temp.etl_decimal(raw) = pg_temp.etl_decimal(t) THEN\n"
    "        RETURN t;\n"
    "    END IF;\n"
    "    RETURN raw;\n"
    "END $f$;\n",
    "CREATE OR REPLACE FUNCTION pg_temp.etl_is_date(t text) RETURNS boolean\n"
    "LANGUAGE sql IMMUTABLE STRICT AS $f$\n"
    "    SELECT CASE WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN\n"
    "        substr(t, 1, 4)::int >= 1 AND substr(t, 6, 2)::int BETWEEN 1 AND 12\n"
    "        AND substr(t, 9, 2)::int BETWEEN 1 AND CASE substr(t, 6, 2)::int\n"
    "            WHEN 2 THEN CASE WHEN substr(t, 1, 4)::int % 4 = 0 AND (substr(t, 1,\n"
    "             4)::int % 100 <> 0\n"
    "                OR substr(t, 1, 4)::int % 400 = 0) THEN 29 ELSE 28 END\n"
    "            WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END\n"
    "    ELSE false END\n"
    "$f$;\n",
};

/*
 * The statement, in three pieces around the filter on submissions `s`.
 * Parameters: $1 processed_on, $2 max_bytes (0: none), $3 max_depth.  It
 * returns first (NULL, submissions, events), then one (submission id,
 * reason, path or NULL) per rejected submission.
 *
 * First the forms' schemas: every node, the questions, the forms whose
 * schema is unusable, and every path that leads to a question ...
 */
static const char indb_sql_schema[] =
    "WITH RECURSIVE\n"
    " node(form_id, path, n, bad) AS (\n"
    "  SELECT f.id, NULL::text, f.schema, jsonb_typeof(f.schema) <> 'object' FROM app.forms f\n"
    "  UNION ALL\n"
    "  SELECT node.form_id, CASE WHEN node.path IS NULL THEN '' ELSE node.path || '.'\n"
    "   END || (c->>'slug'),\n"
    "   c, NOT coalesce(jsonb_typeof(c) = 'object' AND jsonb_typeof(c->'slug') =\n"
    "    'string' AND c->>'slug' <> '', false)\n"
    "  FROM node, jsonb_array_elements(CASE WHEN jsonb_typeof(node.n->'children') = 'array'\n"
    "   THEN node.n->'children' ELSE '[]' END) c\n"
    "  WHERE NOT node.bad AND NOT (jsonb_typeof(c) = 'object' AND NOT c ? 'slug')),\n"
    " question AS MATERIALIZED (\n"
    "  SELECT form_id, path, n->>'answerType' AS answer_type, n->>'tag' AS tag,\n"
    "   jsonb_typeof(n->'children') = 'array' AS grp, string_to_array(path, '.') AS keys\n"
    "  FROM node WHERE NOT bad AND path IS NOT NULL AND n ? 'answerType'),\n"
    " form_bad AS MATERIALIZED (\n"
    "  SELECT form_id FROM node WHERE bad\n"
    "   OR (jsonb_typeof(n) = 'object' AND n ? 'children' AND\n"
    "    jsonb_typeof(n->'children') <> 'array')\n"
    "   OR (path IS NOT NULL AND n ? 'answerType' AND (jsonb_typeof(n->'answerType') <>\n"
    "    'string'\n"
    "       OR n->>'answerType' NOT IN ('number', 'text', 'boolean', 'date')))\n"
    "   OR (path IS NOT NULL AND n ? 'answerType' AND n ? 'tag'\n"
    "       AND jsonb_typeof(n->'tag') NOT IN ('string', 'null'))\n"
    "  UNION SELECT form_id FROM question GROUP BY form_id, path HAVING count(*) > 1\n"
    "  UNION SELECT id FROM app.forms WHERE pg_temp.etl_depth(schema::text) > 1000),\n"
    " prefix AS MATERIALIZED (\n"
    "  SELECT DISTINCT form_id, left(path, i - 1) AS path FROM question,\n"
    "   generate_series(1, length(path)) i\n"
    "  WHERE substr(path, i, 1) = '.'),\n";

/*
 * ... then the submissions and the first reason to reject each, up to the
 * filter (the user's name as the extractors write it goes between the two) ...
 */
static const char indb_sql_submissions_head[] =
    " sub0 AS (\n"
    "  SELECT s.id, s.form_id, f.name AS form_name, s.user_id, ";

static const char indb_sql_submissions_tail[] =
    " AS user_full_name, s.date_created, s.responses AS r, t.t,\n"
    "   CASE WHEN f.id IS NULL THEN 'unknown_form'\n"
    "    WHEN u.id IS NULL THEN 'unknown_user'\n"
    "    WHEN EXISTS (SELECT 1 FROM form_bad b WHERE b.form_id = s.form_id) THEN\n"
    "     'unusable_schema'\n"
    "    WHEN $2::bigint > 0 AND octet_length(t.t) > $2::bigint THEN 'too_large'\n"
    "    WHEN octet_length(t.t) - octet_length(replace(replace(t.t, '{', ''), '[', ''))\n"
    "     > $3::int\n"
    "     AND pg_temp.etl_depth(t.t) > $3::int THEN 'too_deep'\n"
    "    WHEN strpos(t.t, '\\u') > 0 AND pg_temp.etl_unstorable(t.t) THEN 'unstorable_string'\n"
    "    WHEN json_typeof(s.responses) <> 'object' THEN 'not_object' END AS reason\n"
    "  FROM app.submissions s CROSS JOIN LATERAL (SELECT s.responses::text AS t OFFSET 0) t\n"
    "  LEFT JOIN app.forms f ON f.id = s.form_id\n"
    "  LEFT JOIN app.users u ON u.id = s.user_id WHERE  ";

/* ... and after it the walk of the responses, the rejects it finds, and the load. */
static const char indb_sql_walk[] =
    "),\n"
    " sub AS MATERIALIZED (\n"
    "  SELECT *, CASE WHEN fast THEN r::jsonb END AS j FROM (SELECT *, reason IS NULL\n"
    "   AND octet_length(t) <= 16000\n"
    "   AND t !~ '[0-9][eE]|-0(\\.0+)?([^0-9.]|$)|\\.(?:[^\"\\\\]|\\\\.)*\"\\s*:|\\\\u002[eE]'\n"
    "   AND form_id NOT IN (SELECT form_id FROM question, unnest(keys) k WHERE k ~\n"
    "    '^\\s*[-+]?[0-9]+$')\n"
    "   AS fast\n"
    "   FROM sub0) x),\n"
    " relevant AS MATERIALIZED (\n"
    "  SELECT form_id::text || ':' || path AS key, path, bool_or(leads) AS leads FROM\n"
    "   (SELECT form_id,\n"
    "   path, false AS leads FROM question UNION ALL SELECT form_id, path, true FROM\n"
    "    prefix) x\n"
    "  GROUP BY form_id, path),\n"
    " member(id, form_id, path, v, leads) AS (\n"
    "  SELECT s.id, s.form_id, e.key, e.value, r.leads FROM sub s CROSS JOIN\n"
    "   LATERAL (SELECT key, value FROM (SELECT key, value, row_number() OVER\n"
    "    (PARTITION BY key\n"
    "    ORDER BY o DESC) AS last FROM json_each(s.r) WITH ORDINALITY AS x(key, value, o)) y\n"
    "    WHERE last = 1) e\n"
    "   JOIN relevant r ON r.key = s.form_id::text || ':' || e.key\n"
    "  WHERE s.reason IS NULL AND NOT s.fast\n"
    "  UNION ALL\n"
    "  SELECT m.id, m.form_id, r.path, e.value, r.leads FROM member m CROSS JOIN\n"
    "   LATERAL (SELECT key, value FROM (SELECT key, value, row_number() OVER\n"
    "    (PARTITION BY key\n"
    "    ORDER BY o DESC) AS last FROM json_each(m.v) WITH ORDINALITY AS x(key, value, o)) y\n"
    "    WHERE last = 1) e\n"
    "   JOIN relevant r ON r.key = m.form_id::text || ':' || m.path || '.' || e.key\n"
    "  WHERE m.leads AND json_typeof(m.v) = 'object'),\n"
    " found AS (\n"
    "  SELECT s.id, q.path, jsonb_typeof(v) AS jt,\n"
    "   CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' ELSE v::text END AS val,\n"
    "   q.answer_type, q.tag, q.grp, false AS walked\n"
    "  FROM sub s JOIN question q ON q.form_id = s.form_id CROSS JOIN LATERAL (SELECT\n"
    "   s.j #> q.keys AS v OFFSET 0) x\n"
    "  WHERE s.fast AND v IS NOT NULL\n"
    "  UNION ALL\n"
    "  SELECT m.id, q.path, json_typeof(m.v),\n"
    "   CASE json_typeof(m.v) WHEN 'string' THEN m.v #>> '{}' ELSE m.v::text END,\n"
    "   q.answer_type, q.tag, q.grp, true\n"
    "  FROM member m JOIN question q ON q.form_id = m.form_id AND q.path = m.path),\n"
    " answer AS MATERIALIZED (\n"
    "  SELECT id, path, jt, val, answer_type, tag, walked,\n"
    "   CASE jt WHEN 'null' THEN 'none'\n"
    "    WHEN 'object' THEN CASE WHEN grp THEN 'none' ELSE 'mismatch' END\n"
    "    WHEN 'array' THEN 'mismatch'\n"
    "    ELSE CASE answer_type\n"
    "     WHEN 'number' THEN CASE WHEN jt = 'number' THEN 'event' ELSE 'mismatch' END\n"
    "     WHEN 'boolean' THEN CASE WHEN jt = 'boolean' THEN 'event' ELSE 'mismatch' END\n"
    "     WHEN 'date' THEN CASE WHEN jt = 'string' AND pg_temp.etl_is_date(val)\n"
    "      THEN 'event' ELSE 'mismatch' END\n"
    "     ELSE 'event' END END AS kind\n"
    "  FROM found),\n"
    " mismatch AS MATERIALIZED (\n"
    "  SELECT id, min(path) AS path FROM answer WHERE kind = 'mismatch' GROUP BY id),\n"
    " walk_reject AS MATERIALIZED (\n"
    "  SELECT id, 'type_mismatch' AS reason, path FROM mismatch\n"
    "  UNION ALL\n"
    "  SELECT id, 'ambiguous_answer', min(path) FROM (SELECT id, path FROM answer\n"
    "   WHERE walked AND kind = 'event' GROUP BY id, path HAVING count(*) > 1) x\n"
    "  WHERE id NOT IN (SELECT id FROM mismatch) GROUP BY id),\n"
    " inserted AS (\n"
    "  INSERT INTO dwh.response_events (" ETL_EVENT_COLUMNS ")\n"
    "  SELECT s.form_id, s.form_name, s.user_id, s.user_full_name, s.id,\n"
    "   s.date_created, $1::timestamptz, a.path,\n"
    "   CASE WHEN a.jt <> 'number' OR a.val ~ '^-?[0-9]+$' THEN a.val\n"
    "    WHEN a.val ~ '^-?[0-9]+\\.[0-9]+$' AND length(ltrim(a.val, '-')) <= 16 THEN\n"
    "     a.val::float8::text\n"
    "    ELSE pg_temp.etl_number(a.val) END,\n"
    "   a.answer_type::dwh.answer_type, a.tag\n"
    "  FROM answer a JOIN sub s ON s.id = a.id\n"
    "  WHERE a.kind = 'event' AND a.id NOT IN (SELECT id FROM walk_reject)\n"
    "  RETURNING 1)\n"
    "SELECT NULL, (SELECT count(*) FROM sub)::text, (SELECT count(*) FROM inserted)::text\n"
    "UNION ALL SELECT id::text, reason, NULL FROM sub WHERE reason IS NOT NULL\n"
    "UNION ALL SELECT id::text, reason, path FROM walk_reject\n";

static const char *reject_detail(const char *reason)
{
    static const char *const details[][2] = {
        {"unknown_form", "the form does not exist"},
        {"unknown_user", "the user does not exist"},
        {"unusable_schema", "the form's schema cannot be read (etl verify or a C processor "
                            "says why)"},
        {"too_large", "responses is larger than max_bytes"},
        {"too_deep", "responses is nested deeper than max_depth"},
        {"unstorable_string", "responses holds \\u0000 or a lone surrogate, which PostgreSQL "
                              "cannot store"},
        {"not_object", "responses is not an object"},
        {"type_mismatch", "the answer does not fit the question's answerType"},
        {"ambiguous_answer", "the question is answered twice (a member name with a dot in it "
                             "and nested objects)"},
    };
    for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++)
        if (strcmp(details[i][0], reason) == 0)
            return details[i][1];
    return reason;
}

int etl_indb_run(etl_db *db, const etl_indb_cfg *cfg, etl_indb_stats *stats, etl_error *err)
{
    etl_buf sql = ETL_BUF_INIT;
    etl_buf detail = ETL_BUF_INIT;
    etl_result *r = NULL;
    char max_bytes[32];
    char max_depth[32];
    memset(stats, 0, sizeof(*stats));
    snprintf(max_bytes, sizeof(max_bytes), "%zu", cfg->max_bytes);
    snprintf(max_depth, sizeof(max_depth), "%zu", cfg->max_depth);
    const char *params[3] = {cfg->processed_on, max_bytes, max_depth};
    int rc = ETL_OK;
    if (etl_buf_puts(&sql, indb_sql_schema) != ETL_OK ||
        etl_buf_puts(&sql, indb_sql_submissions_head) != ETL_OK ||
        etl_buf_puts(&sql, ETL_EXTRACT_FULL_NAME("u")) != ETL_OK ||
        etl_buf_puts(&sql, indb_sql_submissions_tail) != ETL_OK ||
        etl_buf_puts(&sql, cfg->filter ? cfg->filter : "true") != ETL_OK ||
        etl_buf_puts(&sql, indb_sql_walk) != ETL_OK)
        rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    /*
     * float8's text must be the shortest that reads back, whatever the session
     * says.  JIT is off: compiling this statement costs seconds, more than it
     * saves (4.3 s against 0.07 s on 146 submissions of the differential test).
     */
    if (rc == ETL_OK)
        rc = etl_db_exec(db,
                         "SET LOCAL extra_float_digits = 1; SET LOCAL work_mem = '64MB'; "
                         "SET LOCAL jit = off",
                         err);
    for (size_t i = 0; rc == ETL_OK && i < sizeof(indb_functions_sql) / sizeof(*indb_functions_sql);
         i++)
        rc = etl_db_exec(db, indb_functions_sql[i], err);
    if (rc == ETL_OK)
        rc = etl_db_query(db, sql.data, 3, params, &r, err);
    for (int i = 0; rc == ETL_OK && i < etl_result_rows(r); i++) {
        const char *reason = etl_result_get(r, i, 1);
        if (etl_result_is_null(r, i, 0)) {
            stats->submissions = (size_t)strtoull(reason, NULL, 10);
            stats->events = (size_t)strtoull(etl_result_get(r, i, 2), NULL, 10);
            continue;
        }
        stats->rejected++;
        etl_buf_reset(&detail);
        if (etl_buf_puts(&detail, reject_detail(reason)) != ETL_OK ||
            (!etl_result_is_null(r, i, 2) &&
             etl_buf_printf(&detail, ": '%s'", etl_result_get(r, i, 2)) != ETL_OK)) {
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
            break;
        }
        if (cfg->reject)
            cfg->reject(cfg->ctx, etl_result_get(r, i, 0), reason, detail.data);
    }
    etl_result_free(r);
    etl_buf_release(&sql);
    etl_buf_release(&detail);
    return rc == ETL_OK ? ETL_OK : etl_error_wrap(err, "the in-db statement failed");
}

typedef struct indb_rejects {
    const etl_log *log;
    size_t shown;
    etl_run_stats by_reason;
} indb_rejects;

static void indb_reject(void *ctx, const char *id, const char *reason, const char *detail)
{
    indb_rejects *r = ctx;
    etl_run_report_reject(r->log, &r->shown, id, reason, detail);
    etl_run_stats_add_reason(&r->by_reason, reason, 1);
}

/*
 * The in-db runner: etl_indb_run as one statement in one target
 * transaction.  It needs the submissions in the target database (source is
 * not used), and it calls no hook: no per-submission bookkeeping, so
 * production mode does not run it (etl_runner_entry.stages).
 */
int etl_indb_runner(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                    etl_run_stats *stats, etl_error *err)
{
    (void)source;
    long long t0 = etl_now_us();
    indb_rejects shown;
    memset(&shown, 0, sizeof(shown));
    shown.log = cfg->log;
    etl_indb_cfg icfg = {.processed_on = cfg->processed_on,
                         .filter = cfg->source_filter,
                         .max_depth = cfg->proc->max_depth,
                         .max_bytes = cfg->proc->max_bytes,
                         .reject = indb_reject,
                         .ctx = &shown};
    etl_indb_stats is = {0, 0, 0};
    int rc = etl_db_exec(target, "BEGIN", err);
    if (rc == ETL_OK && cfg->empty_target)
        rc = etl_db_exec(target, "TRUNCATE dwh.response_events", err);
    if (rc == ETL_OK)
        rc = etl_indb_run(target, &icfg, &is, err);
    etl_run_report_rejects_hidden(cfg->log, shown.shown);
    if (rc == ETL_OK)
        rc = etl_db_exec(target, cfg->dry_run ? "ROLLBACK" : "COMMIT", err);
    if (rc == ETL_OK) {
        stats->events = is.events;
        stats->submissions = is.submissions;
        stats->rejected = is.rejected;
        memcpy(stats->reasons, shown.by_reason.reasons, sizeof(stats->reasons));
    } else {
        etl_error ignored;
        etl_db_exec(target, "ROLLBACK", &ignored);
    }
    stats->batches = rc == ETL_OK;
    stats->elapsed_us = etl_now_us() - t0;
    stats->peak_rss_kib = etl_mem_peak_kib();
    /* Like the staged runner: the batch in which the limit is passed is committed whole. */
    if (rc == ETL_OK && is.rejected > cfg->max_rejects)
        rc = etl_error_set(err, ETL_ERR_REJECTS,
                           "more than %zu submissions rejected (--max-rejects): stopped after "
                           "committing the one statement in which that happened",
                           cfg->max_rejects);
    return rc;
}
