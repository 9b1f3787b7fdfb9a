/*
 * The fake etl_db (see fake_db.h): tables in memory, statements recognised
 * by their shape, writes kept per transaction, every call logged.  It mirrors
 * the real seam's return codes (src/db/db.c) and PostgreSQL's transaction
 * rules (an error fails the open transaction, COMMIT of a failed one rolls
 * it back, aborting a COPY is an error, prepared statements outlive
 * transactions), because that is what the stages' error paths are written
 * against.  Running out of memory inside the fake fails the test.
 */
#include "fake_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#define NCOLS ETL_EVENT_NCOLS

/* The column types of ETL_EVENT_COLUMNS, for binary COPY. */
enum col_type { COL_UUID, COL_TEXT, COL_TIMESTAMPTZ };
static const enum col_type col_types[NCOLS] = {COL_UUID, COL_TEXT,        COL_UUID,        COL_TEXT,
                                               COL_UUID, COL_TIMESTAMPTZ, COL_TIMESTAMPTZ, COL_TEXT,
                                               COL_TEXT, COL_TEXT,        COL_TEXT};

typedef struct fake_form {
    char *id;
    char *name;
    char *schema;
} fake_form;

typedef struct fake_user {
    char *id;
    char *given;
    char *family;
} fake_user;

typedef struct fake_sub {
    char *id;
    char *form_id;
    char *user_id;
    char *created;
    char *responses;
} fake_sub;

/* A materialised result: nrows x ncols cells, NULL for SQL NULL. */
typedef struct fake_table {
    int nrows;
    int ncols;
    size_t cap; /* rows allocated */
    char **cells;
} fake_table;

struct etl_result {
    etl_db *db;
    fake_table t;
    bool freed; /* kept until the fake goes, so a second free is seen, not a crash */
    struct etl_result *next;
};

typedef struct fake_cursor {
    char *name;
    fake_table t;
    int pos; /* next row to fetch */
    struct fake_cursor *next;
} fake_cursor;

typedef struct fake_prepared {
    char *name;
    char *sql;
    struct fake_prepared *next;
} fake_prepared;

typedef struct row_list {
    etl_fake_row *rows;
    size_t n;
    size_t cap;
} row_list;

typedef struct fake_call {
    char *line; /* "<function> <what>" */
    char *sql;  /* the full text or name given, "" if none */
    size_t seq; /* its place among the calls on every fake (fake_clock) */
} fake_call;

/* Calls made on all fakes so far: orders the calls of two connections. */
static size_t fake_clock;

typedef enum tx_state { TX_IDLE, TX_OPEN, TX_FAILED } tx_state;

struct etl_db {
    fake_form *forms;
    size_t nforms, cap_forms;
    fake_user *users;
    size_t nusers, cap_users;
    fake_sub *subs;
    size_t nsubs, cap_subs;

    tx_state tx;
    fake_cursor *cursors;
    fake_prepared *prepared;

    bool in_copy;
    bool copy_binary;
    bool copy_failed;     /* a put failed: the COPY can only be aborted */
    bool copy_autocommit; /* begun outside a transaction */
    char *copy_table;
    etl_buf copy_data;

    bool in_flight; /* a send_query not collected yet */
    char *flight_sql;
    int flight_rc;
    etl_error flight_err;
    fake_table flight_table;

    row_list committed;
    row_list tx_rows;
    size_t discarded;
    size_t commits;
    char *truncated; /* the table TRUNCATEd in the open transaction, or NULL */

    /* A statement answered as scripted (etl_fake_db_script), or NULL. */
    char *script_prefix;
    row_list script_rows;
    fake_table script_result;

    fake_call *calls;
    size_t ncalls, cap_calls;
    size_t fail_call; /* 1-based index of the call to fail; 0: none */
    bool fault_fired;
    size_t flag_call;
    volatile sig_atomic_t *flag;

    char misuse[512];
    etl_result *results;
    etl_buf trace;
};

/* ---- small helpers ------------------------------------------------------ */

/* Out of memory in the fake itself: the test fails (fail_msg leaves it; abort is not reached). */
static void oom(void) __attribute__((noreturn));
static void oom(void)
{
    fail_msg("fake_db: out of memory");
    abort();
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        oom();
    return d;
}

/* Make room for one more element of size bytes in *p (n used, *cap allocated). */
static void *grow(void *p, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 16;
    return xrealloc(p, *cap * size);
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    return s;
}

/* Does s start with the keyword(s) kw, followed by the end, a space or ';'? */
static bool is_word(const char *s, const char *kw)
{
    size_t n = strlen(kw);
    return strncasecmp(s, kw, n) == 0 && (s[n] == '\0' || s[n] == ' ' || s[n] == ';');
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The first word of sql, for the call log. */
static void first_word(const char *sql, char *out, size_t cap)
{
    const char *s = skip_ws(sql ? sql : "");
    size_t n = strcspn(s, " \n\t;(");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
}

static void note_misuse(etl_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_misuse(etl_db *db, const char *fmt, ...)
{
    if (db->misuse[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->misuse, sizeof(db->misuse), fmt, ap);
    va_end(ap);
}

/*
 * An error the server reports: ETL_ERR_DB with "statement failed: ..." and
 * the SQLSTATE, as check() in db.c makes it; it fails an open transaction.
 */
static int server_error(etl_db *db, etl_error *err, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int server_error(etl_db *db, etl_error *err, const char *sqlstate, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    etl_error_set(err, ETL_ERR_DB, "statement failed: %s", msg);
    if (err)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
    if (db->tx == TX_OPEN)
        db->tx = TX_FAILED;
    return ETL_ERR_DB;
}

/* ---- tables, rows, results ----------------------------------------------- */

static void table_init(fake_table *t, int ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
}

static void table_add(fake_table *t, const char *const *cells)
{
    if ((size_t)t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols * sizeof(*t->cells));
    }
    for (int c = 0; c < t->ncols; c++)
        t->cells[(size_t)t->nrows * (size_t)t->ncols + (size_t)c] = xstrdup(cells[c]);
    t->nrows++;
}

static void table_release(fake_table *t)
{
    for (size_t i = 0; i < (size_t)t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    table_init(t, 0);
}

static const char *cell(const fake_table *t, int row, int col)
{
    return t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

/* Hand a table over to a new result the caller owns. */
static etl_result *result_new(etl_db *db, fake_table *t)
{
    etl_result *r = calloc(1, sizeof(*r));
    if (!r)
        oom();
    r->db = db;
    r->t = *t;
    table_init(t, 0);
    r->next = db->results;
    db->results = r;
    return r;
}

static void row_free(etl_fake_row *r)
{
    free(r->table);
    for (int c = 0; c < NCOLS; c++)
        free(r->col[c]);
}

static void rows_push(row_list *l, etl_fake_row *r)
{
    l->rows = grow(l->rows, l->n, &l->cap, sizeof(*l->rows));
    l->rows[l->n++] = *r;
    memset(r, 0, sizeof(*r));
}

static void rows_clear(row_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        row_free(&l->rows[i]);
    l->n = 0;
}

/* Move every row of from to the end of to. */
static void rows_move(row_list *to, row_list *from)
{
    for (size_t i = 0; i < from->n; i++)
        rows_push(to, &from->rows[i]);
    from->n = 0;
}

/* ---- transactions -------------------------------------------------------- */

static void cursors_close(etl_db *db)
{
    while (db->cursors) {
        fake_cursor *c = db->cursors;
        db->cursors = c->next;
        free(c->name);
        table_release(&c->t);
        free(c);
    }
}

static void copy_discard(etl_db *db)
{
    db->in_copy = false;
    db->copy_failed = false;
    free(db->copy_table);
    db->copy_table = NULL;
    etl_buf_reset(&db->copy_data);
}

/* Drop the committed rows of table (a TRUNCATE taking effect). */
static void truncate_committed(etl_db *db, const char *table)
{
    size_t kept = 0;
    for (size_t i = 0; i < db->committed.n; i++) {
        if (strcmp(db->committed.rows[i].table, table) == 0)
            row_free(&db->committed.rows[i]);
        else
            db->committed.rows[kept++] = db->committed.rows[i];
    }
    db->committed.n = kept;
}

static void tx_rollback(etl_db *db)
{
    db->discarded += db->tx_rows.n;
    rows_clear(&db->tx_rows);
    cursors_close(db);
    free(db->truncated);
    db->truncated = NULL;
    db->tx = TX_IDLE;
}

static void tx_commit(etl_db *db)
{
    if (db->tx != TX_OPEN) {
        tx_rollback(db); /* COMMIT of a failed transaction rolls it back, as PostgreSQL does */
        return;
    }
    db->commits++;
    if (db->truncated)
        truncate_committed(db, db->truncated);
    free(db->truncated);
    db->truncated = NULL;
    rows_move(&db->committed, &db->tx_rows);
    cursors_close(db);
    db->tx = TX_IDLE;
}

/* What an injected failure does to the connection, besides the error. */
static void fault_effects(etl_db *db, bool ends_tx)
{
    if (ends_tx && db->tx != TX_IDLE)
        tx_rollback(db);
    else if (db->tx == TX_OPEN)
        db->tx = TX_FAILED;
}

/* ---- the call log and faults -------------------------------------------- */

/*
 * Log one call.  Returns true if it is the one armed to fail, with err set
 * as the real seam sets it; the caller then applies fault_effects.
 */
static bool call_enter(etl_db *db, const char *fn, const char *what, const char *sql,
                       etl_error *err)
{
    char line[160];
    snprintf(line, sizeof(line), "%s%s%s", fn, what[0] ? " " : "", what);
    db->calls = grow(db->calls, db->ncalls, &db->cap_calls, sizeof(*db->calls));
    db->calls[db->ncalls].line = xstrdup(line);
    db->calls[db->ncalls].sql = xstrdup(sql ? sql : "");
    db->calls[db->ncalls].seq = ++fake_clock;
    size_t n = ++db->ncalls;
    if (db->flag && db->flag_call == n) {
        *db->flag = 1;
        db->flag = NULL;
    }
    if (db->fail_call != n)
        return false;
    db->fail_call = 0;
    db->fault_fired = true;
    etl_error_set(err, ETL_ERR_DB, "statement failed: fake_db: injected failure of call %zu (%s)",
                  n, line);
    if (err)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "XX000");
    return true;
}

/* ---- queries ------------------------------------------------------------- */

static const fake_form *find_form(const etl_db *db, const char *id)
{
    for (size_t i = 0; i < db->nforms; i++)
        if (strcmp(db->forms[i].id, id) == 0)
            return &db->forms[i];
    return NULL;
}

static const fake_user *find_user(const etl_db *db, const char *id)
{
    for (size_t i = 0; i < db->nusers; i++)
        if (strcmp(db->users[i].id, id) == 0)
            return &db->users[i];
    return NULL;
}

/* given, space, family, a missing part empty: ETL_EXTRACT_FULL_NAME in SQL. */
static void full_name(const fake_user *u, char *out, size_t cap)
{
    snprintf(out, cap, "%s %s", u->given ? u->given : "", u->family ? u->family : "");
}

static int by_created_id(const void *a, const void *b)
{
    const fake_sub *x = a;
    const fake_sub *y = b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->id, y->id);
}

/* The submissions in ORDER BY s.date_created, s.id (shallow copies); caller frees the array. */
static fake_sub *sorted_subs(const etl_db *db)
{
    fake_sub *s = xrealloc(NULL, (db->nsubs + 1) * sizeof(*s));
    if (db->nsubs)
        memcpy(s, db->subs, db->nsubs * sizeof(*s));
    qsort(s, db->nsubs, sizeof(*s), by_created_id);
    return s;
}

/* SELECT s.id, s.form_id, s.user_id, s.date_created, s.responses (the naive extractor). */
static void select_plain(const etl_db *db, fake_table *t)
{
    table_init(t, 5);
    fake_sub *s = sorted_subs(db);
    for (size_t i = 0; i < db->nsubs; i++) {
        const char *row[5] = {s[i].id, s[i].form_id, s[i].user_id, s[i].created, s[i].responses};
        table_add(t, row);
    }
    free(s);
}

/* The joined query: form name and user full name, NULL where the row is missing. */
static void select_joined(const etl_db *db, fake_table *t)
{
    table_init(t, 7);
    fake_sub *s = sorted_subs(db);
    for (size_t i = 0; i < db->nsubs; i++) {
        const fake_form *f = find_form(db, s[i].form_id);
        const fake_user *u = find_user(db, s[i].user_id);
        char name[512];
        if (u)
            full_name(u, name, sizeof(name));
        const char *row[7] = {s[i].id,         s[i].form_id, f ? f->name : NULL, s[i].user_id,
                              u ? name : NULL, s[i].created, s[i].responses};
        table_add(t, row);
    }
    free(s);
}

static int want_params(etl_db *db, int want, int nparams, const char *const *params, etl_error *err)
{
    if (nparams != want)
        return server_error(db, err, "08P01",
                            "bind message supplies %d parameters, but prepared statement \"\" "
                            "requires %d",
                            nparams, want);
    for (int i = 0; i < nparams; i++)
        if (!params || !params[i])
            return server_error(db, err, "22004", "fake_db: parameter $%d is NULL", i + 1);
    return ETL_OK;
}

static fake_cursor *find_cursor(const etl_db *db, const char *name)
{
    for (fake_cursor *c = db->cursors; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* "FETCH [FORWARD] n FROM name" */
static int run_fetch(etl_db *db, const char *s, fake_table *out, etl_error *err)
{
    const char *p = s + strlen("FETCH ");
    if (starts(p, "FORWARD "))
        p += strlen("FORWARD ");
    char *end = NULL;
    long n = strtol(p, &end, 10);
    char name[64];
    if (end == p || n < 0 || !starts(end, " FROM ") ||
        sscanf(end + strlen(" FROM "), "%63s", name) != 1)
        return server_error(db, err, "42601", "fake_db: FETCH not understood: %.80s", s);
    name[strcspn(name, ";")] = '\0';
    fake_cursor *c = find_cursor(db, name);
    if (!c)
        return server_error(db, err, "34000", "cursor \"%s\" does not exist", name);
    table_init(out, c->t.ncols);
    for (; n > 0 && c->pos < c->t.nrows; n--, c->pos++)
        table_add(out, (const char *const *)&c->t.cells[(size_t)c->pos * (size_t)c->t.ncols]);
    return ETL_OK;
}

static int run_script(etl_db *db, const char *sql, fake_table *out, etl_error *err);

#define Q_PLAIN                                                                                    \
    "SELECT s.id, s.form_id, s.user_id, s.date_created, s.responses FROM app.submissions s"
#define Q_JOINED "SELECT s.id, s.form_id, CASE WHEN f.id IS NOT NULL THEN f.name END, s.user_id, "
#define Q_USER "SELECT coalesce(u.given_name, '') || ' ' || coalesce(u.family_name, '') "
#define Q_FORM "SELECT name, schema::text FROM app.forms WHERE id = $1"
#define Q_SCHEMA "SELECT schema::text FROM app.forms WHERE id = $1"

/* Answer a statement that returns rows, into out (which the caller releases). */
static int run_query(etl_db *db, const char *sql, int nparams, const char *const *params,
                     fake_table *out, etl_error *err)
{
    table_init(out, 0);
    const char *s = skip_ws(sql);
    int rc;
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    if (is_word(s, "FETCH")) {
        if ((rc = want_params(db, 0, nparams, params, err)) != ETL_OK)
            return rc;
        return run_fetch(db, s, out, err);
    }
    if (starts(s, Q_PLAIN)) {
        if ((rc = want_params(db, 0, nparams, params, err)) != ETL_OK)
            return rc;
        select_plain(db, out);
        return ETL_OK;
    }
    if (starts(s, Q_JOINED) && strstr(s, "LEFT JOIN app.forms f ON f.id = s.form_id") &&
        strstr(s, "LEFT JOIN app.users u ON u.id = s.user_id")) {
        if ((rc = want_params(db, 0, nparams, params, err)) != ETL_OK)
            return rc;
        select_joined(db, out);
        return ETL_OK;
    }
    if (starts(s, Q_USER) && strstr(s, "FROM app.users u WHERE id = $1")) {
        if ((rc = want_params(db, 1, nparams, params, err)) != ETL_OK || !params)
            return rc;
        table_init(out, 1);
        const fake_user *u = find_user(db, params[0]);
        if (u) {
            char name[512];
            full_name(u, name, sizeof(name));
            const char *row[1] = {name};
            table_add(out, row);
        }
        return ETL_OK;
    }
    if (starts(s, Q_FORM) || starts(s, Q_SCHEMA)) {
        if ((rc = want_params(db, 1, nparams, params, err)) != ETL_OK || !params)
            return rc;
        bool with_name = starts(s, Q_FORM);
        table_init(out, with_name ? 2 : 1);
        const fake_form *f = find_form(db, params[0]);
        if (f) {
            const char *row[2] = {with_name ? f->name : f->schema, f->schema};
            table_add(out, row);
        }
        return ETL_OK;
    }
    if (db->script_prefix && starts(s, db->script_prefix))
        return run_script(db, s, out, err);
    return server_error(db, err, "42601", "fake_db: query not understood: %.80s", s);
}

/* ---- writes -------------------------------------------------------------- */

static const char event_columns[] = " (" ETL_EVENT_COLUMNS ")";

/* Is s a uuid as PostgreSQL reads one (32 hex digits, dashes between groups allowed)? */
static bool uuid_text_ok(const char *s)
{
    int digits = 0;
    for (; *s; s++) {
        if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))
            digits++;
        else if (*s != '-')
            return false;
    }
    return digits == 32;
}

/* What the server checks when a row arrives: the types it can see from text. */
static int check_row(etl_db *db, const etl_fake_row *r, etl_error *err)
{
    for (int c = 0; c < NCOLS; c++) {
        const char *v = r->col[c];
        if (!v) {
            if (c != 10)
                return server_error(db, err, "23502",
                                    "null value in column %d of relation \"%s\" violates a "
                                    "not-null constraint (only tag may be NULL)",
                                    c + 1, r->table);
            continue;
        }
        if (col_types[c] == COL_UUID && !uuid_text_ok(v))
            return server_error(db, err, "22P02", "invalid input syntax for type uuid: \"%s\"", v);
    }
    const char *t = r->col[9];
    if (strcmp(t, "number") != 0 && strcmp(t, "text") != 0 && strcmp(t, "boolean") != 0 &&
        strcmp(t, "date") != 0)
        return server_error(db, err, "22P02",
                            "invalid input value for enum dwh.answer_type: \"%s\"", t);
    return ETL_OK;
}

/* Keep rows the statement wrote: in the open transaction, or committed outside one. */
static void keep_rows(etl_db *db, row_list *rows, bool autocommit)
{
    rows_move(autocommit ? &db->committed : &db->tx_rows, rows);
}

/*
 * The scripted statement (etl_fake_db_script): it must hold an
 * "INSERT INTO <table> (<event columns>)"; the scripted rows go into that
 * table as the statement's writes, and the scripted result comes back.
 */
static int run_script(etl_db *db, const char *sql, fake_table *out, etl_error *err)
{
    const char *ins = strstr(sql, "INSERT INTO ");
    if (!ins)
        return server_error(db, err, "42601", "fake_db: the scripted statement writes nothing");
    ins += strlen("INSERT INTO ");
    size_t n = strcspn(ins, " (");
    if (!starts(ins + n, event_columns))
        return server_error(db, err, "42601",
                            "fake_db: the scripted statement does not name the event columns");
    row_list rows = {NULL, 0, 0};
    int rc = ETL_OK;
    for (size_t i = 0; i < db->script_rows.n && rc == ETL_OK; i++) {
        etl_fake_row r;
        memset(&r, 0, sizeof(r));
        r.table = xstrndup(ins, n);
        for (int c = 0; c < NCOLS; c++)
            r.col[c] = xstrdup(db->script_rows.rows[i].col[c]);
        rc = check_row(db, &r, err);
        if (rc == ETL_OK)
            rows_push(&rows, &r);
        row_free(&r);
    }
    if (rc == ETL_OK) {
        keep_rows(db, &rows, db->tx == TX_IDLE);
        const fake_table *t = &db->script_result;
        table_init(out, t->ncols);
        for (int i = 0; i < t->nrows; i++)
            table_add(out, (const char *const *)&t->cells[(size_t)i * (size_t)t->ncols]);
    }
    rows_clear(&rows);
    free(rows.rows);
    return rc;
}

/*
 * Read "INSERT INTO <table> (<event columns>) VALUES ($1,...,$11),(...)":
 * the table, and the parameter numbers in the order they fill the rows.
 */
static int parse_insert(etl_db *db, const char *sql, char **table, int **slots, size_t *nslots,
                        etl_error *err)
{
    *table = NULL;
    *slots = NULL;
    *nslots = 0;
    const char *p = skip_ws(sql);
    if (!starts(p, "INSERT INTO "))
        return server_error(db, err, "42601", "fake_db: statement not understood: %.80s", p);
    p += strlen("INSERT INTO ");
    size_t n = strcspn(p, " (");
    if (!starts(p + n, event_columns) || !starts(p + n + strlen(event_columns), " VALUES "))
        return server_error(db, err, "42601",
                            "fake_db: an INSERT that does not name the event columns: %.120s", sql);
    const char *t = p;
    p += n + strlen(event_columns) + strlen(" VALUES ");
    size_t cap = 0;
    int *s = NULL;
    for (;;) {
        if (*p++ != '(')
            goto syntax;
        for (int c = 0; c < NCOLS; c++) {
            if ((c && *p++ != ',') || *p++ != '$' || *p < '0' || *p > '9')
                goto syntax;
            char *end = NULL;
            long v = strtol(p, &end, 10);
            p = end;
            s = grow(s, *nslots, &cap, sizeof(*s));
            s[(*nslots)++] = (int)v;
        }
        if (*p++ != ')')
            goto syntax;
        if (*p == '\0' || *p == ';')
            break;
        if (*p++ != ',')
            goto syntax;
    }
    *table = xstrndup(t, n);
    *slots = s;
    return ETL_OK;
syntax:
    free(s);
    *nslots = 0;
    return server_error(db, err, "42601", "fake_db: syntax error in INSERT near \"%.20s\"",
                        p > sql ? p - 1 : p);
}

static int run_insert(etl_db *db, const char *sql, int nparams, const char *const *params,
                      etl_error *err)
{
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    char *table = NULL;
    int *slots = NULL;
    size_t nslots = 0;
    int rc = parse_insert(db, sql, &table, &slots, &nslots, err);
    if (rc != ETL_OK)
        return rc;
    int max = 0;
    for (size_t i = 0; i < nslots; i++)
        max = slots[i] > max ? slots[i] : max;
    row_list rows = {NULL, 0, 0};
    if (max != nparams) {
        rc = server_error(db, err, "08P01",
                          "bind message supplies %d parameters, but the statement requires %d",
                          nparams, max);
        goto out;
    }
    for (size_t i = 0; i < nslots; i += NCOLS) {
        etl_fake_row r;
        memset(&r, 0, sizeof(r));
        r.table = xstrdup(table);
        for (int c = 0; c < NCOLS; c++)
            r.col[c] = xstrdup(params[slots[i + (size_t)c] - 1]);
        if ((rc = check_row(db, &r, err)) != ETL_OK) {
            row_free(&r);
            goto out;
        }
        rows_push(&rows, &r);
    }
    keep_rows(db, &rows, db->tx == TX_IDLE);
out:
    rows_clear(&rows);
    free(rows.rows);
    free(table);
    free(slots);
    return rc;
}

/* ---- COPY data ------------------------------------------------------------ */

/* One field of COPY text format, unescaped into out; false if malformed. */
static bool copy_text_field(const char *s, size_t len, etl_buf *out)
{
    etl_buf_reset(out);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r')
            return false; /* PostgreSQL: literal carriage return found in data */
        if (c != '\\' || i + 1 == len) {
            if (etl_buf_putc(out, c) != ETL_OK)
                oom();
            continue;
        }
        c = s[++i];
        switch (c) {
        case 't':
            c = '\t';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'v':
            c = '\v';
            break;
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int k = 0; k < 2 && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    v = v * 8 + (s[++i] - '0');
                c = (char)v;
            }
            break; /* any other character stands for itself (\\ included) */
        }
        if (etl_buf_putc(out, c) != ETL_OK)
            oom();
    }
    return true;
}

static int decode_text(etl_db *db, const char *data, size_t len, row_list *rows, etl_error *err)
{
    etl_buf field = ETL_BUF_INIT;
    size_t line_no = 0;
    int rc = ETL_OK;
    for (size_t at = 0; at < len && rc == ETL_OK;) {
        const char *line = data + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + (nl ? 1 : 0);
        line_no++;
        if (n == 2 && line[0] == '\\' && line[1] == '.')
            break;
        etl_fake_row r;
        memset(&r, 0, sizeof(r));
        r.table = xstrdup(db->copy_table);
        size_t start = 0;
        int c = 0;
        for (size_t i = 0; i <= n && rc == ETL_OK; i++) {
            if (i < n && line[i] != '\t')
                continue;
            if (c == NCOLS) {
                rc = server_error(db, err, "22P04",
                                  "extra data after last expected column (COPY line %zu)", line_no);
                break;
            }
            if (i - start == 2 && line[start] == '\\' && line[start + 1] == 'N') {
                r.col[c++] = NULL;
            } else if (!copy_text_field(line + start, i - start, &field)) {
                rc = server_error(db, err, "22P04",
                                  "literal carriage return found in data (COPY line %zu)", line_no);
            } else {
                r.col[c++] = xstrdup(field.data ? field.data : "");
            }
            start = i + 1;
        }
        if (rc == ETL_OK && c < NCOLS)
            rc = server_error(db, err, "22P04", "missing data for column %d (COPY line %zu)", c + 1,
                              line_no);
        if (rc == ETL_OK)
            rc = check_row(db, &r, err);
        if (rc == ETL_OK)
            rows_push(rows, &r);
        row_free(&r);
    }
    etl_buf_release(&field);
    return rc;
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* A binary timestamptz (µs since 2000-01-01 UTC) as PostgreSQL prints it in UTC, ISO style. */
static void format_timestamptz(int64_t us, char *out, size_t cap)
{
    if (us == INT64_MAX || us == INT64_MIN) {
        snprintf(out, cap, "%sinfinity", us == INT64_MIN ? "-" : "");
        return;
    }
    const int64_t day_us = 86400LL * 1000000LL;
    int64_t days = us / day_us;
    int64_t rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days--;
    }
    int64_t y;
    unsigned m;
    unsigned d;
    civil_from_days(days + 10957, &y, &m, &d);
    int64_t secs = rem / 1000000;
    char frac[16] = "";
    if (rem % 1000000) {
        snprintf(frac, sizeof(frac), ".%06lld", (long long)(rem % 1000000));
        for (size_t k = strlen(frac); frac[k - 1] == '0'; k--)
            frac[k - 1] = '\0';
    }
    snprintf(out, cap, "%04lld-%02u-%02u %02lld:%02lld:%02lld%s+00", (long long)y, m, d,
             (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60), frac);
}

static int decode_binary(etl_db *db, const unsigned char *p, size_t len, row_list *rows,
                         etl_error *err)
{
    static const unsigned char signature[11] = "PGCOPY\n\377\r\n";
    if (len < 19 || memcmp(p, signature, sizeof(signature)) != 0)
        return server_error(db, err, "22P04", "COPY file signature not recognized");
    if (get_be(p + 11, 4) & 0x10000)
        return server_error(db, err, "22P04", "COPY with OIDs is not supported");
    size_t at = 19 + (size_t)get_be(p + 15, 4);
    size_t tuple = 0;
    while (at < len) {
        if (len - at < 2)
            return server_error(db, err, "22P04", "unexpected EOF in COPY data");
        int nf = (int16_t)get_be(p + at, 2);
        at += 2;
        if (nf == -1) {
            if (at != len)
                return server_error(db, err, "22P04", "received copy data after EOF marker");
            break;
        }
        tuple++;
        if (nf != NCOLS)
            return server_error(db, err, "22P04", "row field count is %d, expected %d (tuple %zu)",
                                nf, NCOLS, tuple);
        etl_fake_row r;
        memset(&r, 0, sizeof(r));
        r.table = xstrdup(db->copy_table);
        for (int c = 0; c < NCOLS; c++) {
            if (len - at < 4) {
                row_free(&r);
                return server_error(db, err, "22P04", "unexpected EOF in COPY data");
            }
            int32_t flen = (int32_t)get_be(p + at, 4);
            at += 4;
            if (flen == -1)
                continue;
            if (flen < 0 || (size_t)flen > len - at) {
                row_free(&r);
                return server_error(db, err, "22P04", "invalid field size");
            }
            const unsigned char *f = p + at;
            at += (size_t)flen;
            char text[64];
            if (col_types[c] == COL_UUID) {
                if (flen != 16) {
                    row_free(&r);
                    return server_error(db, err, "22P03", "incorrect binary data format (uuid)");
                }
                size_t k = 0;
                for (int b = 0; b < 16; b++)
                    k += (size_t)snprintf(text + k, sizeof(text) - k, "%s%02x",
                                          b == 4 || b == 6 || b == 8 || b == 10 ? "-" : "", f[b]);
                r.col[c] = xstrdup(text);
            } else if (col_types[c] == COL_TIMESTAMPTZ) {
                if (flen != 8) {
                    row_free(&r);
                    return server_error(db, err, "22P03",
                                        "incorrect binary data format (timestamptz)");
                }
                format_timestamptz((int64_t)get_be(f, 8), text, sizeof(text));
                r.col[c] = xstrdup(text);
            } else {
                r.col[c] = xstrndup((const char *)f, (size_t)flen);
            }
        }
        int rc = check_row(db, &r, err);
        if (rc == ETL_OK)
            rows_push(rows, &r);
        row_free(&r);
        if (rc != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

/* "COPY <table> (<event columns>) FROM STDIN[ (FORMAT binary)]" */
static int parse_copy(etl_db *db, const char *sql, etl_error *err)
{
    const char *p = skip_ws(sql);
    if (!starts(p, "COPY "))
        return server_error(db, err, "42601", "fake_db: statement not understood: %.80s", p);
    p += strlen("COPY ");
    size_t n = strcspn(p, " (");
    const char *rest = p + n;
    if (!starts(rest, event_columns) || !starts(rest + strlen(event_columns), " FROM STDIN"))
        return server_error(db, err, "42601",
                            "fake_db: a COPY that does not name the event columns: %.120s", sql);
    const char *opts = rest + strlen(event_columns) + strlen(" FROM STDIN");
    bool binary = false;
    if (strcasecmp(opts, " (FORMAT binary)") == 0)
        binary = true;
    else if (*opts && strcasecmp(opts, " (FORMAT text)") != 0)
        return server_error(db, err, "42601", "fake_db: COPY options not understood: %s", opts);
    db->copy_table = xstrndup(p, n);
    db->copy_binary = binary;
    return ETL_OK;
}

/* ---- statements without rows ----------------------------------------------- */

static int run_command(etl_db *db, const char *sql, etl_error *err)
{
    const char *s = skip_ws(sql);
    if (db->in_copy) {
        note_misuse(db, "a statement while a COPY is open: %.60s", s);
        copy_discard(db);
        return server_error(db, err, "08P01", "fake_db: another command during COPY: %.60s", s);
    }
    if (is_word(s, "BEGIN") || is_word(s, "START TRANSACTION")) {
        if (db->tx == TX_FAILED)
            return server_error(db, err, "25P02",
                                "current transaction is aborted, commands ignored until end of "
                                "transaction block");
        db->tx = TX_OPEN; /* inside one already: PostgreSQL only warns */
        return ETL_OK;
    }
    if (is_word(s, "COMMIT") || is_word(s, "END")) {
        tx_commit(db);
        return ETL_OK;
    }
    if (is_word(s, "ROLLBACK") || is_word(s, "ABORT")) {
        tx_rollback(db);
        return ETL_OK;
    }
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    if (is_word(s, "SET"))
        return ETL_OK;
    if (starts(s, "CREATE OR REPLACE FUNCTION pg_temp."))
        return ETL_OK; /* a session's helper function: nothing the fake keeps */
    if (is_word(s, "TRUNCATE")) {
        char table[128];
        if (sscanf(s, "TRUNCATE %127s", table) != 1)
            return server_error(db, err, "42601", "fake_db: TRUNCATE not understood: %.80s", s);
        table[strcspn(table, ";")] = '\0';
        if (db->tx == TX_IDLE) {
            truncate_committed(db, table);
            return ETL_OK;
        }
        /* Rows written before it in this transaction go too; committed ones at COMMIT. */
        size_t kept = 0;
        for (size_t i = 0; i < db->tx_rows.n; i++) {
            if (strcmp(db->tx_rows.rows[i].table, table) == 0)
                row_free(&db->tx_rows.rows[i]);
            else
                db->tx_rows.rows[kept++] = db->tx_rows.rows[i];
        }
        db->tx_rows.n = kept;
        if (db->truncated && strcmp(db->truncated, table) != 0)
            return server_error(db, err, "0A000",
                                "fake_db: TRUNCATE of a second table in one transaction");
        free(db->truncated);
        db->truncated = xstrdup(table);
        return ETL_OK;
    }
    char name[64];
    if (is_word(s, "DECLARE")) {
        const char *q = strstr(s, " CURSOR FOR ");
        if (sscanf(s, "DECLARE %63s", name) != 1 || !q)
            return server_error(db, err, "42601", "fake_db: DECLARE not understood: %.80s", s);
        if (db->tx == TX_IDLE)
            return server_error(db, err, "25P01",
                                "DECLARE CURSOR can only be used in transaction blocks");
        if (find_cursor(db, name))
            return server_error(db, err, "42P03", "cursor \"%s\" already exists", name);
        fake_table t;
        int rc = run_query(db, q + strlen(" CURSOR FOR "), 0, NULL, &t, err);
        if (rc != ETL_OK) {
            table_release(&t);
            return rc;
        }
        fake_cursor *c = calloc(1, sizeof(*c));
        if (!c)
            oom();
        c->name = xstrdup(name);
        c->t = t;
        c->next = db->cursors;
        db->cursors = c;
        return ETL_OK;
    }
    if (is_word(s, "CLOSE") || is_word(s, "DEALLOCATE")) {
        bool close = is_word(s, "CLOSE");
        if (sscanf(s, close ? "CLOSE %63s" : "DEALLOCATE %63s", name) != 1)
            return server_error(db, err, "42601", "fake_db: not understood: %.80s", s);
        name[strcspn(name, ";")] = '\0';
        if (close) {
            for (fake_cursor **c = &db->cursors; *c; c = &(*c)->next) {
                if (strcmp((*c)->name, name) != 0)
                    continue;
                fake_cursor *gone = *c;
                *c = gone->next;
                free(gone->name);
                table_release(&gone->t);
                free(gone);
                return ETL_OK;
            }
            return server_error(db, err, "34000", "cursor \"%s\" does not exist", name);
        }
        for (fake_prepared **p = &db->prepared; *p; p = &(*p)->next) {
            if (strcmp((*p)->name, name) != 0)
                continue;
            fake_prepared *gone = *p;
            *p = gone->next;
            free(gone->name);
            free(gone->sql);
            free(gone);
            return ETL_OK;
        }
        return server_error(db, err, "26000", "prepared statement \"%s\" does not exist", name);
    }
    return server_error(db, err, "42601", "fake_db: statement not understood: %.80s", s);
}

/* A call that needs the connection free of COPY: the misuse is noted and the COPY aborted. */
static int copy_in_the_way(etl_db *db, const char *what, etl_error *err)
{
    note_misuse(db, "%s while a COPY is open", what);
    copy_discard(db);
    return server_error(db, err, "08P01", "fake_db: %s during COPY", what);
}

/* ---- the doubles ------------------------------------------------------------- */

/* NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

int __wrap_etl_db_exec(etl_db *db, const char *sql, etl_error *err)
{
    char what[64];
    first_word(sql, what, sizeof(what));
    if (call_enter(db, "exec", what, sql, err)) {
        const char *s = skip_ws(sql);
        fault_effects(db, is_word(s, "COMMIT") || is_word(s, "END") || is_word(s, "ROLLBACK") ||
                              is_word(s, "ABORT"));
        return ETL_ERR_DB;
    }
    return run_command(db, sql, err);
}

int __wrap_etl_db_exec_params(etl_db *db, const char *sql, int nparams, const char *const *params,
                              etl_error *err)
{
    char what[64];
    first_word(sql, what, sizeof(what));
    if (call_enter(db, "exec_params", what, sql, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_copy)
        return copy_in_the_way(db, "exec_params", err);
    return run_insert(db, sql, nparams, params, err);
}

int __wrap_etl_db_query(etl_db *db, const char *sql, int nparams, const char *const *params,
                        etl_result **out, etl_error *err)
{
    *out = NULL;
    char what[64];
    first_word(sql, what, sizeof(what));
    if (call_enter(db, "query", what, sql, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_copy)
        return copy_in_the_way(db, "query", err);
    fake_table t;
    int rc = run_query(db, sql, nparams, params, &t, err);
    if (rc != ETL_OK) {
        table_release(&t);
        return rc;
    }
    *out = result_new(db, &t);
    return ETL_OK;
}

int __wrap_etl_db_send_query(etl_db *db, const char *sql, etl_error *err)
{
    char what[64];
    first_word(sql, what, sizeof(what));
    if (call_enter(db, "send_query", what, sql, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_flight) {
        note_misuse(db, "send_query while the result of \"%.60s\" was never collected",
                    db->flight_sql);
        return etl_error_set(err, ETL_ERR_USAGE, "internal: a query result was never collected");
    }
    if (db->in_copy)
        return copy_in_the_way(db, "send_query", err);
    /* The server runs it now; its rows or its error wait for wait_query. */
    db->in_flight = true;
    db->flight_sql = xstrdup(sql);
    etl_error_clear(&db->flight_err);
    db->flight_rc = run_query(db, sql, 0, NULL, &db->flight_table, &db->flight_err);
    return ETL_OK;
}

static void flight_drop(etl_db *db)
{
    db->in_flight = false;
    free(db->flight_sql);
    db->flight_sql = NULL;
    table_release(&db->flight_table);
}

int __wrap_etl_db_wait_query(etl_db *db, etl_result **out, etl_error *err)
{
    *out = NULL;
    char what[64];
    first_word(db->in_flight ? db->flight_sql : "", what, sizeof(what));
    if (call_enter(db, "wait_query", what, db->in_flight ? db->flight_sql : NULL, err)) {
        if (db->in_flight)
            flight_drop(db);
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (!db->in_flight) {
        note_misuse(db, "wait_query with no query sent");
        return etl_error_set(err, ETL_ERR_USAGE, "internal: no query was sent");
    }
    int rc = db->flight_rc;
    if (rc != ETL_OK) {
        if (err)
            *err = db->flight_err;
    } else {
        *out = result_new(db, &db->flight_table);
    }
    flight_drop(db);
    return rc;
}

int __wrap_etl_db_prepare(etl_db *db, const char *name, const char *sql, int nparams,
                          etl_error *err)
{
    (void)nparams; /* PostgreSQL infers the types it is not given */
    if (call_enter(db, "prepare", name, sql, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_copy)
        return copy_in_the_way(db, "prepare", err);
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    for (fake_prepared *p = db->prepared; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return server_error(db, err, "42P05", "prepared statement \"%s\" already exists", name);
    char *table = NULL;
    int *slots = NULL;
    size_t nslots = 0;
    int rc = parse_insert(db, sql, &table, &slots, &nslots, err);
    free(table);
    free(slots);
    if (rc != ETL_OK)
        return rc;
    fake_prepared *p = calloc(1, sizeof(*p));
    if (!p)
        oom();
    p->name = xstrdup(name);
    p->sql = xstrdup(sql);
    p->next = db->prepared;
    db->prepared = p;
    return ETL_OK;
}

int __wrap_etl_db_exec_prepared(etl_db *db, const char *name, int nparams,
                                const char *const *params, etl_error *err)
{
    if (call_enter(db, "exec_prepared", name, name, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_copy)
        return copy_in_the_way(db, "exec_prepared", err);
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    for (fake_prepared *p = db->prepared; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return run_insert(db, p->sql, nparams, params, err);
    return server_error(db, err, "26000", "prepared statement \"%s\" does not exist", name);
}

int __wrap_etl_db_copy_begin(etl_db *db, const char *sql, etl_error *err)
{
    char what[64];
    first_word(sql, what, sizeof(what));
    if (call_enter(db, "copy_begin", what, sql, err)) {
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (db->in_copy)
        return copy_in_the_way(db, "copy_begin", err);
    if (db->tx == TX_FAILED)
        return server_error(db, err, "25P02",
                            "current transaction is aborted, commands ignored until end of "
                            "transaction block");
    int rc = parse_copy(db, sql, err);
    if (rc != ETL_OK)
        return rc;
    db->in_copy = true;
    db->copy_failed = false;
    db->copy_autocommit = db->tx == TX_IDLE;
    etl_buf_reset(&db->copy_data);
    return ETL_OK;
}

int __wrap_etl_db_copy_put(etl_db *db, const char *data, size_t len, etl_error *err)
{
    if (call_enter(db, "copy_put", "", NULL, err)) {
        db->copy_failed = db->in_copy;
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (!db->in_copy) {
        note_misuse(db, "copy_put with no COPY open");
        return etl_error_set(err, ETL_ERR_DB, "COPY data could not be sent: no COPY in progress");
    }
    if (!db->copy_failed && etl_buf_append(&db->copy_data, data, len) != ETL_OK)
        oom();
    return ETL_OK;
}

int __wrap_etl_db_copy_end(etl_db *db, const char *abort_reason, etl_error *err)
{
    if (call_enter(db, "copy_end", abort_reason ? "abort" : "commit", abort_reason, err)) {
        copy_discard(db);
        fault_effects(db, false);
        return ETL_ERR_DB;
    }
    if (!db->in_copy) {
        note_misuse(db, "copy_end with no COPY open");
        return etl_error_set(err, ETL_ERR_DB, "COPY could not be ended: no COPY in progress");
    }
    bool autocommit = db->copy_autocommit;
    if (abort_reason) {
        /* The server raises "COPY from stdin failed": the transaction fails; db.c returns OK. */
        copy_discard(db);
        if (db->tx == TX_OPEN)
            db->tx = TX_FAILED;
        return ETL_OK;
    }
    int rc;
    row_list rows = {NULL, 0, 0};
    if (db->copy_failed)
        rc = server_error(db, err, "08006", "fake_db: COPY data was lost earlier");
    else if (db->copy_binary)
        rc = decode_binary(db, (const unsigned char *)db->copy_data.data, db->copy_data.len, &rows,
                           err);
    else
        rc = decode_text(db, db->copy_data.data, db->copy_data.len, &rows, err);
    copy_discard(db);
    if (rc == ETL_OK)
        keep_rows(db, &rows, autocommit);
    rows_clear(&rows);
    free(rows.rows);
    return rc;
}

static const fake_table *live_table(const etl_result *r, const char *fn)
{
    if (!r) {
        /* db.c would dereference NULL here: say so instead of crashing. */
        fail_msg("fake_db: %s(NULL)", fn);
        return NULL;
    }
    if (r->freed) {
        note_misuse(r->db, "%s on a freed result", fn);
        return NULL;
    }
    return &r->t;
}

int __wrap_etl_result_rows(const etl_result *r)
{
    const fake_table *t = live_table(r, "etl_result_rows");
    return t ? t->nrows : 0;
}

int __wrap_etl_result_cols(const etl_result *r)
{
    const fake_table *t = live_table(r, "etl_result_cols");
    return t ? t->ncols : 0;
}

static bool in_range(const etl_result *r, const fake_table *t, int row, int col, const char *fn)
{
    if (t && row >= 0 && row < t->nrows && col >= 0 && col < t->ncols)
        return true;
    if (t)
        note_misuse(r->db, "%s(%d, %d) outside a %d x %d result", fn, row, col, t->nrows, t->ncols);
    return false;
}

const char *__wrap_etl_result_get(const etl_result *r, int row, int col)
{
    const fake_table *t = live_table(r, "etl_result_get");
    if (!in_range(r, t, row, col, "etl_result_get"))
        return NULL; /* as PQgetvalue out of range */
    const char *v = cell(t, row, col);
    return v ? v : ""; /* libpq gives "" for NULL */
}

size_t __wrap_etl_result_len(const etl_result *r, int row, int col)
{
    const fake_table *t = live_table(r, "etl_result_len");
    if (!in_range(r, t, row, col, "etl_result_len"))
        return 0;
    const char *v = cell(t, row, col);
    return v ? strlen(v) : 0;
}

bool __wrap_etl_result_is_null(const etl_result *r, int row, int col)
{
    const fake_table *t = live_table(r, "etl_result_is_null");
    if (!in_range(r, t, row, col, "etl_result_is_null"))
        return true;
    return cell(t, row, col) == NULL;
}

void __wrap_etl_result_free(etl_result *r)
{
    if (!r)
        return;
    if (r->freed) {
        note_misuse(r->db, "etl_result_free twice on one result");
        return;
    }
    table_release(&r->t);
    r->freed = true;
}

/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

/* ---- the test's side ---------------------------------------------------------- */

etl_db *etl_fake_db_new(void)
{
    etl_db *db = calloc(1, sizeof(*db));
    if (!db)
        oom();
    return db;
}

void etl_fake_db_free(etl_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->nforms; i++) {
        free(db->forms[i].id);
        free(db->forms[i].name);
        free(db->forms[i].schema);
    }
    free(db->forms);
    for (size_t i = 0; i < db->nusers; i++) {
        free(db->users[i].id);
        free(db->users[i].given);
        free(db->users[i].family);
    }
    free(db->users);
    for (size_t i = 0; i < db->nsubs; i++) {
        free(db->subs[i].id);
        free(db->subs[i].form_id);
        free(db->subs[i].user_id);
        free(db->subs[i].created);
        free(db->subs[i].responses);
    }
    free(db->subs);
    cursors_close(db);
    while (db->prepared) {
        fake_prepared *p = db->prepared;
        db->prepared = p->next;
        free(p->name);
        free(p->sql);
        free(p);
    }
    copy_discard(db);
    etl_buf_release(&db->copy_data);
    flight_drop(db);
    rows_clear(&db->committed);
    free(db->committed.rows);
    rows_clear(&db->tx_rows);
    free(db->tx_rows.rows);
    free(db->truncated);
    free(db->script_prefix);
    rows_clear(&db->script_rows);
    free(db->script_rows.rows);
    table_release(&db->script_result);
    for (size_t i = 0; i < db->ncalls; i++) {
        free(db->calls[i].line);
        free(db->calls[i].sql);
    }
    free(db->calls);
    while (db->results) {
        etl_result *r = db->results;
        db->results = r->next;
        table_release(&r->t);
        free(r);
    }
    etl_buf_release(&db->trace);
    free(db);
}

void etl_fake_db_add_form(etl_db *db, const char *id, const char *name, const char *schema)
{
    db->forms = grow(db->forms, db->nforms, &db->cap_forms, sizeof(*db->forms));
    fake_form *f = &db->forms[db->nforms++];
    f->id = xstrdup(id);
    f->name = xstrdup(name);
    f->schema = xstrdup(schema);
}

void etl_fake_db_add_user(etl_db *db, const char *id, const char *given, const char *family)
{
    db->users = grow(db->users, db->nusers, &db->cap_users, sizeof(*db->users));
    fake_user *u = &db->users[db->nusers++];
    u->id = xstrdup(id);
    u->given = xstrdup(given);
    u->family = xstrdup(family);
}

void etl_fake_db_add_submission(etl_db *db, const char *id, const char *form_id,
                                const char *user_id, const char *created, const char *responses)
{
    db->subs = grow(db->subs, db->nsubs, &db->cap_subs, sizeof(*db->subs));
    fake_sub *s = &db->subs[db->nsubs++];
    s->id = xstrdup(id);
    s->form_id = xstrdup(form_id);
    s->user_id = xstrdup(user_id);
    s->created = xstrdup(created);
    s->responses = xstrdup(responses);
}

int etl_fake_db_run(etl_db *db, const char *sql)
{
    etl_error err;
    etl_error_clear(&err);
    return run_command(db, sql, &err);
}

size_t etl_fake_db_committed(const etl_db *db)
{
    return db->committed.n;
}

const etl_fake_row *etl_fake_db_committed_row(const etl_db *db, size_t i)
{
    return i < db->committed.n ? &db->committed.rows[i] : NULL;
}

size_t etl_fake_db_tx_rows(const etl_db *db)
{
    return db->tx_rows.n;
}

size_t etl_fake_db_discarded(const etl_db *db)
{
    return db->discarded;
}

size_t etl_fake_db_commits(const etl_db *db)
{
    return db->commits;
}

bool etl_fake_db_in_transaction(const etl_db *db)
{
    return db->tx != TX_IDLE;
}

bool etl_fake_db_tx_failed(const etl_db *db)
{
    return db->tx == TX_FAILED;
}

bool etl_fake_db_in_copy(const etl_db *db)
{
    return db->in_copy;
}

bool etl_fake_db_query_in_flight(const etl_db *db)
{
    return db->in_flight;
}

size_t etl_fake_db_cursors(const etl_db *db)
{
    size_t n = 0;
    for (const fake_cursor *c = db->cursors; c; c = c->next)
        n++;
    return n;
}

size_t etl_fake_db_prepared(const etl_db *db)
{
    size_t n = 0;
    for (const fake_prepared *p = db->prepared; p; p = p->next)
        n++;
    return n;
}

size_t etl_fake_db_live_results(const etl_db *db)
{
    size_t n = 0;
    for (const etl_result *r = db->results; r; r = r->next)
        n += !r->freed;
    return n;
}

const char *etl_fake_db_misuse(const etl_db *db)
{
    return db->misuse[0] ? db->misuse : NULL;
}

size_t etl_fake_db_calls(const etl_db *db)
{
    return db->ncalls;
}

const char *etl_fake_db_call(const etl_db *db, size_t i)
{
    return i < db->ncalls ? db->calls[i].line : NULL;
}

const char *etl_fake_db_call_sql(const etl_db *db, size_t i)
{
    return i < db->ncalls ? db->calls[i].sql : NULL;
}

const char *etl_fake_db_trace(etl_db *db, size_t from)
{
    etl_buf_reset(&db->trace);
    for (size_t i = from; i < db->ncalls; i++)
        if (etl_buf_printf(&db->trace, "%s%s", i > from ? "\n" : "", db->calls[i].line) != ETL_OK)
            oom();
    return db->trace.data ? db->trace.data : "";
}

void etl_fake_db_fail_at(etl_db *db, size_t n)
{
    db->fail_call = n ? db->ncalls + n : 0;
    db->fault_fired = false;
}

bool etl_fake_db_fault_fired(const etl_db *db)
{
    return db->fault_fired;
}

void etl_fake_db_flag_at(etl_db *db, size_t n, volatile sig_atomic_t *flag)
{
    db->flag_call = db->ncalls + n;
    db->flag = flag;
}

size_t etl_fake_db_call_seq(const etl_db *db, size_t i)
{
    return i < db->ncalls ? db->calls[i].seq : 0;
}

void etl_fake_db_script(etl_db *db, const char *prefix, const char *const (*rows)[ETL_EVENT_NCOLS],
                        size_t nrows, const char *const *result, int result_rows, int result_cols)
{
    free(db->script_prefix);
    db->script_prefix = xstrdup(prefix);
    rows_clear(&db->script_rows);
    for (size_t i = 0; i < nrows; i++) {
        etl_fake_row r;
        memset(&r, 0, sizeof(r));
        for (int c = 0; c < NCOLS; c++)
            r.col[c] = xstrdup(rows[i][c]);
        rows_push(&db->script_rows, &r);
    }
    table_release(&db->script_result);
    table_init(&db->script_result, result_cols);
    for (int i = 0; i < result_rows; i++)
        table_add(&db->script_result, result + (size_t)i * (size_t)result_cols);
}
