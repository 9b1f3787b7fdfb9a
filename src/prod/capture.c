/*
 * Change capture on the source (see docs/cron.md, "Change capture").
 *
 * Statement-level AFTER triggers with transition tables on app.submissions,
 * app.forms and app.users write what changed into etl.queue, inside the
 * application's own transaction: a change and its queue row commit together
 * or not at all, so a late commit can never be missed, and a run only reads
 * what the queue names, whatever the table's size.  A submission change
 * queues the submission ('s'); a form or user change queues the form ('f')
 * or user ('u'), expanded into their submissions by the run that takes it
 * (etl_capture_expand), so the application's transaction stays small.
 *
 * Queue rows are never updated, only inserted and deleted, each with its
 * own seq: a change made while a run works on the same submission gets a
 * row of its own, which the run does not delete.
 *
 * Logical decoding was the alternative; docs/cron.md says why triggers won.
 */
#include "prod.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Queue rows expanded per statement: a bounded piece of work each. */
#define EXPAND_ROWS 1000

/* The three captured tables, the columns etl derives events from, the queue kind. */
static const struct captured {
    const char *table;
    const char *function;
    /* Compared old against new, by id: an UPDATE that changes none of them queues nothing. */
    const char *columns[4];
    char kind;
} captured[] = {
    {"app.submissions",
     "capture_submissions",
     {"form_id", "user_id", "responses::text", "date_created"},
     's'},
    {"app.forms", "capture_forms", {"name", "schema::text", NULL, NULL}, 'f'},
    {"app.users", "capture_users", {"given_name", "family_name", NULL, NULL}, 'u'},
};
#define NCAPTURED (sizeof(captured) / sizeof(captured[0]))

static const char queue_sql[] =
    "CREATE SCHEMA IF NOT EXISTS etl;\n"
    "COMMENT ON SCHEMA etl IS 'etl change capture (docs/cron.md): what changed since "
    "the last run';\n"
    "CREATE TABLE IF NOT EXISTS etl.queue (\n"
    "    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "    kind \"char\" NOT NULL CHECK (kind IN ('s', 'f', 'u')),\n"
    "    id uuid NOT NULL,\n"
    "    queued timestamptz NOT NULL DEFAULT now());\n"
    /* Form and user rows are few: find them without walking the submissions'. */
    "CREATE INDEX IF NOT EXISTS queue_refs_idx ON etl.queue (seq) WHERE kind <> 's';\n"
    /* A claim takes every row of a submission it claims, not only the first. */
    "CREATE INDEX IF NOT EXISTS queue_id_idx ON etl.queue (id);\n";

/* ROW(alias.col, ...) of a table's compared columns. */
static int row_sql(etl_buf *sql, const struct captured *c, const char *alias)
{
    int rc = etl_buf_puts(sql, "ROW(");
    for (size_t i = 0; rc == ETL_OK && i < 4 && c->columns[i]; i++)
        rc = etl_buf_printf(sql, "%s%s.%s", i ? ", " : "", alias, c->columns[i]);
    return rc == ETL_OK ? etl_buf_putc(sql, ')') : rc;
}

/*
 * One trigger function per table.  An UPDATE pairs old and new rows by id
 * (a hash join on the key, not a comparison of whole rows): an id found on
 * one side only was itself changed, and both ids are queued.  SECURITY
 * DEFINER: the application's role needs no rights on schema etl, and a
 * pinned search_path keeps the function from resolving names through the
 * caller's.
 */
static int function_sql(etl_buf *sql, const struct captured *c)
{
    if (etl_buf_printf(sql,
                       "CREATE OR REPLACE FUNCTION etl.%s() RETURNS trigger\n"
                       "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$\n"
                       "BEGIN\n"
                       "    IF TG_OP = 'INSERT' THEN\n"
                       "        INSERT INTO etl.queue (kind, id) SELECT '%c', id FROM new_rows;\n"
                       "    ELSIF TG_OP = 'DELETE' THEN\n"
                       "        INSERT INTO etl.queue (kind, id) SELECT '%c', id FROM old_rows;\n"
                       "    ELSE\n"
                       "        INSERT INTO etl.queue (kind, id)\n"
                       "        SELECT DISTINCT '%c', coalesce(n.id, o.id)\n"
                       "        FROM new_rows n FULL JOIN old_rows o ON o.id = n.id\n"
                       "        WHERE n.id IS NULL OR o.id IS NULL OR ",
                       c->function, c->kind, c->kind, c->kind) != ETL_OK ||
        row_sql(sql, c, "n") != ETL_OK || etl_buf_puts(sql, " IS DISTINCT FROM ") != ETL_OK ||
        row_sql(sql, c, "o") != ETL_OK ||
        etl_buf_puts(sql, ";\n    END IF;\n    RETURN NULL;\nEND $f$;\n") != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

/*
 * Three triggers per table: PostgreSQL allows transition tables only on a
 * trigger for a single event.  CREATE OR REPLACE: no moment without one.
 */
static int triggers_sql(etl_buf *sql, const struct captured *c)
{
    static const char *const events[][2] = {
        {"insert", "NEW TABLE AS new_rows"},
        {"update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"},
        {"delete", "OLD TABLE AS old_rows"},
    };
    for (size_t e = 0; e < 3; e++)
        if (etl_buf_printf(sql,
                           "CREATE OR REPLACE TRIGGER etl_capture_%s AFTER %s ON %s "
                           "REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION etl.%s();\n",
                           events[e][0], events[e][0], c->table, events[e][1],
                           c->function) != ETL_OK)
            return ETL_ERR_NOMEM;
    return ETL_OK;
}

static const char state_sql[] =
    "SELECT to_regclass('etl.queue') IS NOT NULL, (SELECT count(*) FROM pg_trigger t "
    "WHERE t.tgname IN ('etl_capture_insert', 'etl_capture_update', 'etl_capture_delete') "
    "AND t.tgenabled IN ('O', 'A') AND t.tgrelid IN (to_regclass('app.submissions'), "
    "to_regclass('app.forms'), to_regclass('app.users')))";

static int read_state(etl_db *src, bool *queue, long *triggers, etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(src, state_sql, 0, NULL, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read the state of change capture");
    *queue = strcmp(etl_result_get(r, 0, 0), "t") == 0;
    *triggers = strtol(etl_result_get(r, 0, 1), NULL, 10);
    etl_result_free(r);
    return ETL_OK;
}

int etl_capture_state_of(etl_db *src, etl_capture_state *out, etl_error *err)
{
    bool queue = false;
    long triggers = 0;
    int rc = read_state(src, &queue, &triggers, err);
    *out = !queue                              ? ETL_CAPTURE_NONE
           : triggers == (long)(NCAPTURED * 3) ? ETL_CAPTURE_ON
                                               : ETL_CAPTURE_INCOMPLETE;
    return rc;
}

int etl_capture_install(etl_db *src, etl_db *ledger, bool cross, size_t *queued, bool *repaired,
                        etl_error *err)
{
    *queued = 0;
    *repaired = false;
    etl_buf sql = ETL_BUF_INIT;
    bool queue = false;
    long triggers = 0;
    /*
     * CREATE TRIGGER waits for the application's open writers, and the
     * application's new writes queue behind it: wait a bounded time.
     */
    int rc = etl_db_exec(src, "BEGIN; SET LOCAL lock_timeout = '10s'", err);
    if (rc == ETL_OK)
        rc = read_state(src, &queue, &triggers, err);
    if (rc == ETL_OK && etl_buf_puts(&sql, queue_sql) != ETL_OK)
        rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == ETL_OK && i < NCAPTURED; i++)
        if (function_sql(&sql, &captured[i]) != ETL_OK || triggers_sql(&sql, &captured[i]))
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    if (rc == ETL_OK && (rc = etl_db_exec(src, sql.data, err)) != ETL_OK) {
        if (strcmp(err->sqlstate, "55P03") == 0)
            etl_error_wrap(err, "cannot install change capture: a long transaction on the app "
                                "tables kept them locked for 10 s; nothing was changed, try "
                                "again");
        else
            etl_error_wrap(err, "cannot install change capture (the role needs CREATE on the "
                                "database and must own app.submissions, app.forms and "
                                "app.users)");
    }
    /*
     * A new queue starts with the backlog: every submission the ledger does
     * not have.  The triggers above hold a lock that waits out every open
     * writer of the app tables, so this snapshot sees all they committed,
     * and everything committed later fires a trigger: none is missed.
     */
    if (rc == ETL_OK && !queue) {
        const char *filter = "NOT EXISTS (SELECT 1 FROM dwh.etl_processed p "
                             "WHERE p.submission_id = s.id)";
        if (cross) {
            rc = etl_prod_copy_ledger(src, ledger, true, err);
            filter = "NOT EXISTS (SELECT 1 FROM pg_temp.etl_done d WHERE d.id = s.id)";
        }
        etl_buf_reset(&sql);
        if (rc == ETL_OK && etl_buf_printf(&sql,
                                           "WITH q AS (INSERT INTO etl.queue (kind, id) "
                                           "SELECT 's', s.id FROM app.submissions s WHERE %s "
                                           "ORDER BY s.date_created, s.id RETURNING 1) "
                                           "SELECT count(*) FROM q",
                                           filter) != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        char n[32] = "0";
        if (rc == ETL_OK &&
            (rc = etl_prod_value(src, sql.data, 0, NULL, n, sizeof(n), err)) != ETL_OK)
            etl_error_wrap(err, "cannot queue the submissions not processed yet");
        *queued = (size_t)strtoull(n, NULL, 10);
    }
    /*
     * The planner knows nothing of a table just filled: without statistics
     * each claim of the first run sorts every queue row left instead of
     * reading the next ones by seq (240,000 queued: 89 ms a claim, not 12).
     */
    if (rc == ETL_OK && *queued > 0 && (rc = etl_db_exec(src, "ANALYZE etl.queue", err)) != ETL_OK)
        etl_error_wrap(err, "cannot analyze the new queue");
    if (rc == ETL_OK)
        rc = etl_db_exec(src, "COMMIT", err);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_db_exec(src, "ROLLBACK", &ignored);
    }
    *repaired = rc == ETL_OK && queue && triggers != (long)(NCAPTURED * 3);
    etl_buf_release(&sql);
    return rc;
}

int etl_capture_indexes(etl_db *src, int *created, etl_error *err)
{
    static const char *const columns[] = {"form_id", "user_id"};
    *created = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *params[1] = {columns[i]};
        char has[8];
        int rc = etl_prod_value(src,
                                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON "
                                "a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE "
                                "i.indrelid = 'app.submissions'::regclass AND i.indisvalid "
                                "AND a.attname = $1)",
                                1, params, has, sizeof(has), err);
        if (rc != ETL_OK)
            return rc;
        if (strcmp(has, "t") == 0)
            continue;
        etl_buf sql = ETL_BUF_INIT;
        /* A build that failed half-way leaves an invalid index under the name: drop it first. */
        if (etl_buf_printf(&sql, "DROP INDEX CONCURRENTLY IF EXISTS app.etl_submissions_%s_idx",
                           columns[i]) != ETL_OK)
            return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        rc = etl_db_exec(src, sql.data, err);
        etl_buf_reset(&sql);
        if (rc == ETL_OK &&
            etl_buf_printf(&sql,
                           "CREATE INDEX CONCURRENTLY etl_submissions_%s_idx ON app.submissions "
                           "(%s)",
                           columns[i], columns[i]) != ETL_OK)
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
        if (rc == ETL_OK)
            rc = etl_db_exec(src, sql.data, err);
        etl_buf_release(&sql);
        if (rc != ETL_OK)
            return etl_error_wrap(err, "cannot index app.submissions (%s)", columns[i]);
        (*created)++;
    }
    return ETL_OK;
}

/*
 * One piece of the expansion, in one transaction: take up to EXPAND_ROWS
 * form and user rows, queue their submissions as of now, drop the rows.
 * The ids go through the client so that the planner sees real arrays and
 * uses the form_id and user_id indexes (or, with neither, scans the table
 * once).  *taken: rows taken.
 */
static int expand_some(etl_db *src, long *taken, etl_error *err)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "WITH done AS (DELETE FROM etl.queue WHERE seq IN (SELECT seq FROM etl.queue "
             "WHERE kind <> 's' ORDER BY seq LIMIT %d FOR UPDATE SKIP LOCKED) RETURNING kind, id) "
             "SELECT count(*), '{' || coalesce(string_agg(id::text, ',') FILTER (WHERE kind = "
             "'f'), '') || '}', '{' || coalesce(string_agg(id::text, ',') FILTER (WHERE kind = "
             "'u'), '') || '}' FROM done",
             EXPAND_ROWS);
    etl_result *r = NULL;
    *taken = 0;
    int rc = etl_db_exec(src, "BEGIN", err);
    if (rc == ETL_OK)
        rc = etl_db_query(src, sql, 0, NULL, &r, err);
    if (rc == ETL_OK) {
        *taken = strtol(etl_result_get(r, 0, 0), NULL, 10);
        const char *params[2] = {etl_result_get(r, 0, 1), etl_result_get(r, 0, 2)};
        rc = etl_db_exec_params(src,
                                "INSERT INTO etl.queue (kind, id) SELECT 's', id FROM "
                                "app.submissions WHERE form_id = ANY($1::uuid[]) OR user_id = "
                                "ANY($2::uuid[])",
                                2, params, err);
    }
    etl_result_free(r);
    if (rc == ETL_OK)
        rc = etl_db_exec(src, "COMMIT", err);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_db_exec(src, "ROLLBACK", &ignored);
    }
    return rc;
}

int etl_capture_expand(etl_db *src, etl_error *err)
{
    char any[8] = "";
    /* Most runs have none: not even planning the expansion keeps them off the table. */
    int rc = etl_prod_value(src, "SELECT EXISTS (SELECT 1 FROM etl.queue WHERE kind <> 's')", 0,
                            NULL, any, sizeof(any), err);
    long taken = strcmp(any, "t") == 0 ? EXPAND_ROWS : 0;
    while (rc == ETL_OK && taken == EXPAND_ROWS)
        rc = expand_some(src, &taken, err);
    return rc == ETL_OK ? rc
                        : etl_error_wrap(err, "cannot expand the queued form and user changes");
}

int etl_capture_queue_stats(etl_db *src, size_t *rows, char *max_seq, size_t cap, double *oldest_s,
                            etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(src,
                          "SELECT count(*), coalesce(max(seq), 0), coalesce(extract(epoch FROM "
                          "now() - min(queued)), 0) FROM etl.queue",
                          0, NULL, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot read the change queue");
    *rows = (size_t)strtoull(etl_result_get(r, 0, 0), NULL, 10);
    if (max_seq)
        snprintf(max_seq, cap, "%s", etl_result_get(r, 0, 1));
    if (oldest_s)
        *oldest_s = strtod(etl_result_get(r, 0, 2), NULL);
    etl_result_free(r);
    return ETL_OK;
}

int etl_capture_enqueue_ids(etl_db *src, const char *ids, size_t *queued, etl_error *err)
{
    const char *params[1] = {ids};
    char n[32] = "0";
    int rc = etl_prod_value(src,
                            "WITH q AS (INSERT INTO etl.queue (kind, id) SELECT 's', id FROM "
                            "unnest($1::uuid[]) id RETURNING 1) SELECT count(*) FROM q",
                            1, params, n, sizeof(n), err);
    *queued = (size_t)strtoull(n, NULL, 10);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot queue submissions");
}
