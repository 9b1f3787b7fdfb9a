/*
 * libpq behind the etl_db seam.  Statements are logged here under
 * --debug-sql (text and duration, never parameters, so a password in data
 * cannot leak); errors carry the server's message and SQLSTATE.
 * Nothing here retries: the callers decide what a failure means.
 */
#include "etl/db.h"
#include "etl/clock.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct etl_db {
    PGconn *conn;
    const etl_log *log;
    /* An asynchronous query (etl_db_send_query) whose result is not read yet. */
    const char *pending_sql;
    long long pending_t0;
    PGresult *stash; /* its result, if a synchronous call had to read it first */
    bool stashed;
    size_t copy_pending; /* COPY bytes queued in libpq since it last sent everything */
};

/*
 * During COPY FROM the connection is non-blocking: libpq queues what etl
 * hands it and sends what the socket takes, so etl goes on formatting the
 * next rows while the server ingests (a blocking send would stall etl until
 * the server had drained all but one socket buffer, and then leave the
 * server idle while etl formats the next piece).  At most this much waits
 * in libpq's buffer; past it etl waits for the server.
 */
#define COPY_MAX_PENDING ((size_t)1 << 20)

struct etl_result {
    PGresult *res;
};

/* The server's notices and warnings, only with -v.  libpq ends each with a newline. */
static void quiet_notices(void *arg, const char *message)
{
    const etl_db *db = arg;
    size_t n = strlen(message);
    if (n > 0 && message[n - 1] == '\n')
        n--;
    etl_log_verbose(db->log, "server: %.*s", (int)n, message);
}

char *etl_db_redact(const char *conninfo)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    etl_buf out = ETL_BUF_INIT;
    if (!opts) {
        /* Unparseable: print nothing of it, it may hold a password. */
        PQfreemem(errmsg);
        etl_buf_puts(&out, "(unparseable connection string)");
        return etl_buf_detach(&out);
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        /* libpq marks secrets (password, sslpassword) with dispchar "*". */
        if (!o->val || !o->val[0] || (o->dispchar && o->dispchar[0] == '*'))
            continue;
        if (out.len)
            etl_buf_putc(&out, ' ');
        etl_buf_printf(&out, "%s=%s", o->keyword, o->val);
    }
    PQconninfoFree(opts);
    if (!out.len)
        etl_buf_puts(&out, "(libpq defaults)");
    return etl_buf_detach(&out);
}

bool etl_db_conninfo_has_secret(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    bool secret = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val && o->val[0] && o->dispchar && o->dispchar[0] == '*')
            secret = true;
    PQconninfoFree(opts);
    return secret;
}

static int put_value(etl_buf *out, const char *key, const char *val)
{
    if (out->len && etl_buf_putc(out, ' ') != ETL_OK)
        return ETL_ERR_NOMEM;
    if (etl_buf_printf(out, "%s='", key) != ETL_OK)
        return ETL_ERR_NOMEM;
    for (const char *p = val; *p; p++)
        if (((*p == '\'' || *p == '\\') && etl_buf_putc(out, '\\') != ETL_OK) ||
            etl_buf_putc(out, *p) != ETL_OK)
            return ETL_ERR_NOMEM;
    return etl_buf_putc(out, '\'');
}

char *etl_db_conninfo_for(const char *conninfo, const char *dbname, char **password)
{
    *password = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return NULL;
    etl_buf out = ETL_BUF_INIT;
    int rc = ETL_OK;
    for (PQconninfoOption *o = opts; o->keyword && rc == ETL_OK; o++) {
        if (strcmp(o->keyword, "dbname") == 0)
            continue;
        if (strcmp(o->keyword, "password") == 0) {
            if (o->val && o->val[0] && !(*password = strdup(o->val)))
                rc = ETL_ERR_NOMEM;
            continue;
        }
        if (o->val && o->val[0])
            rc = put_value(&out, o->keyword, o->val);
    }
    PQconninfoFree(opts);
    if (rc == ETL_OK)
        rc = put_value(&out, "dbname", dbname);
    if (rc != ETL_OK) {
        etl_buf_release(&out);
        free(*password);
        *password = NULL;
        return NULL;
    }
    return etl_buf_detach(&out);
}

/* libpq messages end in a newline and may span lines; keep the first line. */
static void set_from_text(etl_error *err, int code, const char *what, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    etl_error_set(err, code, "%s: %.*s", what, (int)n, msg);
}

int etl_db_open(etl_db **out, const char *conninfo, const char *dbname, const etl_log *log,
                etl_error *err)
{
    *out = NULL;
    const char *keys[4] = {"dbname", "fallback_application_name", NULL, NULL};
    const char *vals[4] = {conninfo, "etl", NULL, NULL};
    if (dbname) {
        keys[2] = "dbname";
        vals[2] = dbname;
    }
    /* libpq's own parse errors quote the string, password and all: say it without them. */
    PQconninfoOption *parsed = PQconninfoParse(conninfo, NULL);
    if (!parsed)
        return etl_error_set(err, ETL_ERR_CONNECT,
                             "cannot read the connection string given with --db or --target "
                             "(libpq's message is not shown: it may quote a password); check its "
                             "key=value pairs, quotes and percent-escapes");
    PQconninfoFree(parsed);
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn)
        return etl_error_set(err, ETL_ERR_NOMEM, "cannot allocate a connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        char *safe = etl_db_redact(conninfo);
        char what[1024];
        snprintf(what, sizeof(what), "cannot connect to PostgreSQL at '%s'%s%s", safe ? safe : "",
                 dbname ? ", database " : "", dbname ? dbname : "");
        free(safe);
        set_from_text(err, ETL_ERR_CONNECT, what, PQerrorMessage(conn));
        PQfinish(conn);
        return ETL_ERR_CONNECT;
    }
    etl_db *db = calloc(1, sizeof(*db));
    if (!db) {
        PQfinish(conn);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    db->conn = conn;
    db->log = log;
    PQsetNoticeProcessor(conn, quiet_notices, db);
    int rc = etl_db_exec(db, "SET TimeZone TO 'UTC'; SET DateStyle TO ISO", err);
    if (rc != ETL_OK) {
        etl_db_close(db);
        return rc;
    }
    *out = db;
    return ETL_OK;
}

void etl_db_close(etl_db *db)
{
    if (!db)
        return;
    PQclear(db->stash);
    PQfinish(db->conn);
    free(db);
}

/*
 * --debug-sql: the statement (its start, if long) and how long it took.
 * Logged with no etl_log, so that -q does not hide what was asked for.
 */
static void log_sql(const etl_db *db, const char *sql, long long t0, int nparams)
{
    if (!db->log || !db->log->debug_sql)
        return;
    double ms = (double)(etl_now_us() - t0) / 1000.0;
    size_t n = strlen(sql);
    const size_t shown = 160;
    char params[48] = "";
    if (nparams > 0)
        snprintf(params, sizeof(params), " [%d parameters]", nparams);
    if (n > shown)
        etl_log_info(NULL, "sql: %.*s... (%zu bytes)%s: %.3f ms", (int)shown, sql, n, params, ms);
    else
        etl_log_info(NULL, "sql: %s%s: %.3f ms", sql, params, ms);
}

/* ETL_OK if res has the status wanted (the caller keeps res), else the error (res cleared). */
static int check(etl_db *db, PGresult *res, ExecStatusType want, etl_error *err)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    /* A command where rows were wanted is a result with none, and vice versa. */
    if (st == want || (want == PGRES_COMMAND_OK && st == PGRES_TUPLES_OK) ||
        (want == PGRES_TUPLES_OK && st == PGRES_COMMAND_OK))
        return ETL_OK;
    int code = ETL_ERR_DB; /* lost mid-run too: only a failed connect is ETL_ERR_CONNECT */
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
    set_from_text(err, code, "statement failed", msg && msg[0] ? msg : "no result from server");
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (err && state)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    PQclear(res);
    return code;
}

/* A query's checked PGresult wrapped for the caller, or freed. */
static int wrap_result(PGresult *res, etl_result **out, etl_error *err)
{
    etl_result *r = malloc(sizeof(*r));
    if (!r) {
        PQclear(res);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    r->res = res;
    *out = r;
    return ETL_OK;
}

/* The connection could not take a statement or data: libpq says why. */
static int conn_failed(etl_db *db, const char *what, etl_error *err)
{
    int code = ETL_ERR_DB; /* lost mid-run too: only a failed connect is ETL_ERR_CONNECT */
    set_from_text(err, code, what, PQerrorMessage(db->conn));
    return code;
}

/*
 * Read the result of a query still in flight so the connection is free for
 * another statement; etl_db_wait_query hands it over later.  Every
 * synchronous call starts here.
 */
static void settle(etl_db *db)
{
    if (!db->pending_sql)
        return;
    PGresult *res;
    PGresult *keep = NULL;
    while ((res = PQgetResult(db->conn)) != NULL) {
        /* Of several statements, the first error, else the last result. */
        if (!keep || PQresultStatus(keep) != PGRES_FATAL_ERROR) {
            PQclear(keep);
            keep = res;
        } else {
            PQclear(res);
        }
    }
    log_sql(db, db->pending_sql, db->pending_t0, 0);
    db->pending_sql = NULL;
    db->stash = keep;
    db->stashed = true;
}

int etl_db_send_query(etl_db *db, const char *sql, etl_error *err)
{
    settle(db);
    if (db->stashed)
        return etl_error_set(err, ETL_ERR_USAGE, "internal: a query result was never collected");
    db->pending_t0 = etl_now_us();
    if (!PQsendQuery(db->conn, sql))
        return conn_failed(db, "cannot send a statement", err);
    db->pending_sql = sql;
    return ETL_OK;
}

int etl_db_wait_query(etl_db *db, etl_result **out, etl_error *err)
{
    *out = NULL;
    if (!db->pending_sql && !db->stashed)
        return etl_error_set(err, ETL_ERR_USAGE, "internal: no query was sent");
    settle(db);
    PGresult *res = db->stash;
    db->stash = NULL;
    db->stashed = false;
    int rc = check(db, res, PGRES_TUPLES_OK, err);
    return rc == ETL_OK ? wrap_result(res, out, err) : rc;
}

/* One synchronous statement, in the shape of the libpq call that runs it. */
typedef struct stmt {
    enum { EXEC, EXEC_PARAMS, PREPARE, EXEC_PREPARED } how;
    const char *sql;  /* EXEC, EXEC_PARAMS, PREPARE */
    const char *name; /* PREPARE, EXEC_PREPARED: the prepared statement */
    int nparams;      /* EXEC_PARAMS, EXEC_PREPARED: params[0..nparams); PREPARE: $n count */
    const char *const *params;
} stmt;

/*
 * Every synchronous call: collect a query in flight, run s, log it, check
 * its status against want.  On success *keep gets the result if keep is not
 * NULL (the caller clears it); otherwise it is cleared here.
 */
static int run(etl_db *db, const stmt *s, ExecStatusType want, PGresult **keep, etl_error *err)
{
    settle(db);
    long long t0 = etl_now_us();
    PGresult *res = NULL;
    switch (s->how) {
    case EXEC:
        res = PQexec(db->conn, s->sql);
        break;
    case EXEC_PARAMS:
        res = PQexecParams(db->conn, s->sql, s->nparams, NULL, s->params, NULL, NULL, 0);
        break;
    case PREPARE:
        res = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
        break;
    case EXEC_PREPARED:
        res = PQexecPrepared(db->conn, s->name, s->nparams, s->params, NULL, NULL, 0);
        break;
    }
    if (s->how != EXEC_PREPARED) {
        log_sql(db, s->sql, t0, s->how == EXEC_PARAMS ? s->nparams : 0);
    } else if (db->log && db->log->debug_sql) {
        char line[96];
        snprintf(line, sizeof(line), "EXECUTE %s", s->name);
        log_sql(db, line, t0, s->nparams);
    }
    int rc = check(db, res, want, err);
    if (rc == ETL_OK && keep)
        *keep = res;
    else if (rc == ETL_OK)
        PQclear(res);
    return rc;
}

int etl_db_exec(etl_db *db, const char *sql, etl_error *err)
{
    return run(db, &(stmt){.how = EXEC, .sql = sql}, PGRES_COMMAND_OK, NULL, err);
}

int etl_db_exec_params(etl_db *db, const char *sql, int nparams, const char *const *params,
                       etl_error *err)
{
    return run(db, &(stmt){.how = EXEC_PARAMS, .sql = sql, .nparams = nparams, .params = params},
               PGRES_COMMAND_OK, NULL, err);
}

int etl_db_query(etl_db *db, const char *sql, int nparams, const char *const *params,
                 etl_result **out, etl_error *err)
{
    *out = NULL;
    PGresult *res = NULL;
    int rc = run(db, &(stmt){.how = EXEC_PARAMS, .sql = sql, .nparams = nparams, .params = params},
                 PGRES_TUPLES_OK, &res, err);
    return rc == ETL_OK ? wrap_result(res, out, err) : rc;
}

int etl_db_prepare(etl_db *db, const char *name, const char *sql, int nparams, etl_error *err)
{
    return run(db, &(stmt){.how = PREPARE, .sql = sql, .name = name, .nparams = nparams},
               PGRES_COMMAND_OK, NULL, err);
}

int etl_db_exec_prepared(etl_db *db, const char *name, int nparams, const char *const *params,
                         etl_error *err)
{
    return run(db,
               &(stmt){.how = EXEC_PREPARED, .name = name, .nparams = nparams, .params = params},
               PGRES_COMMAND_OK, NULL, err);
}

/* Collect every pending result after a COPY; the first failure wins over rc == ETL_OK. */
static int drain_results(etl_db *db, int rc, etl_error *err)
{
    PGresult *res;
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (rc == ETL_OK && (rc = check(db, res, PGRES_COMMAND_OK, err)) != ETL_OK)
            continue; /* check() cleared it */
        PQclear(res);
    }
    return rc;
}

int etl_db_copy_begin(etl_db *db, const char *sql, etl_error *err)
{
    int rc = run(db, &(stmt){.how = EXEC, .sql = sql}, PGRES_COPY_IN, NULL, err);
    if (rc == ETL_OK) {
        db->copy_pending = 0;
        PQsetnonblocking(db->conn, 1);
    }
    return rc;
}

/* Wait until the socket takes more, reading whatever the server says meanwhile. */
static int copy_wait(etl_db *db, etl_error *err)
{
    struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLOUT | POLLIN, .revents = 0};
    if (poll(&p, 1, -1) < 0 && errno != EINTR)
        return etl_error_set(err, ETL_ERR_IO, "COPY: poll: %s", strerror(errno));
    if ((p.revents & POLLIN) && !PQconsumeInput(db->conn))
        return conn_failed(db, "COPY data could not be sent", err);
    return ETL_OK;
}

/* Send what libpq holds: all of it, or enough to be under COPY_MAX_PENDING. */
static int copy_send(etl_db *db, bool all, etl_error *err)
{
    for (;;) {
        int r = PQflush(db->conn);
        if (r < 0)
            return conn_failed(db, "COPY data could not be sent", err);
        if (r == 0)
            db->copy_pending = 0;
        if (r == 0 || (!all && db->copy_pending < COPY_MAX_PENDING))
            return ETL_OK;
        int rc = copy_wait(db, err);
        if (rc != ETL_OK)
            return rc;
    }
}

int etl_db_copy_put(etl_db *db, const char *data, size_t len, etl_error *err)
{
    /* libpq takes int lengths: feed very large pieces in slices. */
    while (len > 0) {
        int n = len > (1U << 30) ? (1 << 30) : (int)len;
        int r = PQputCopyData(db->conn, data, n);
        if (r < 0)
            return conn_failed(db, "COPY data could not be sent", err);
        int rc = r == 0 ? copy_wait(db, err) : ETL_OK; /* 0: libpq is full; retry */
        if (rc != ETL_OK)
            return rc;
        if (r == 0)
            continue;
        data += n;
        len -= (size_t)n;
        db->copy_pending += (size_t)n;
        if ((rc = copy_send(db, false, err)) != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

int etl_db_copy_end(etl_db *db, const char *abort_reason, etl_error *err)
{
    long long t0 = etl_now_us();
    int r;
    int rc = ETL_OK;
    while (rc == ETL_OK && (r = PQputCopyEnd(db->conn, abort_reason)) != 1)
        rc = r < 0 ? conn_failed(db, "COPY could not be ended", err) : copy_wait(db, err);
    if (rc == ETL_OK)
        rc = copy_send(db, true, err);
    PQsetnonblocking(db->conn, 0);
    if (rc != ETL_OK)
        return rc;
    rc = drain_results(db, ETL_OK, err);
    log_sql(db, abort_reason ? "COPY aborted" : "COPY end", t0, 0);
    if (abort_reason && rc != ETL_OK)
        return ETL_OK; /* the error is the abort we asked for */
    return rc;
}

int etl_db_copy_out(etl_db *db, const char *sql,
                    int (*sink)(void *ctx, const char *data, size_t len, etl_error *err), void *ctx,
                    etl_error *err)
{
    int rc = run(db, &(stmt){.how = EXEC, .sql = sql}, PGRES_COPY_OUT, NULL, err);
    if (rc != ETL_OK)
        return rc;
    char *buf = NULL;
    int n;
    while ((n = PQgetCopyData(db->conn, &buf, 0)) > 0) {
        if (rc == ETL_OK)
            rc = sink(ctx, buf, (size_t)n, err);
        PQfreemem(buf);
    }
    if (n == -2 && rc == ETL_OK) {
        set_from_text(err, ETL_ERR_DB, "COPY TO STDOUT failed", PQerrorMessage(db->conn));
        rc = ETL_ERR_DB;
        err->code = rc;
    }
    return drain_results(db, rc, err);
}

int etl_db_set_timeouts(etl_db *db, long statement_ms, long lock_ms, etl_error *err)
{
    char sql[128];
    int rc = ETL_OK;
    if (statement_ms > 0) {
        snprintf(sql, sizeof(sql), "SET statement_timeout = %ld", statement_ms);
        rc = etl_db_exec(db, sql, err);
    }
    if (rc == ETL_OK && lock_ms > 0) {
        snprintf(sql, sizeof(sql), "SET lock_timeout = %ld", lock_ms);
        rc = etl_db_exec(db, sql, err);
    }
    return rc;
}

int etl_db_quote_ident(etl_buf *out, const char *name)
{
    if (etl_buf_putc(out, '"') != ETL_OK)
        return ETL_ERR_NOMEM;
    for (const char *p = name; *p; p++) {
        if (*p == '"' && etl_buf_putc(out, '"') != ETL_OK)
            return ETL_ERR_NOMEM;
        if (etl_buf_putc(out, *p) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    return etl_buf_putc(out, '"');
}

int etl_result_rows(const etl_result *r)
{
    return PQntuples(r->res);
}

int etl_result_cols(const etl_result *r)
{
    return PQnfields(r->res);
}

const char *etl_result_get(const etl_result *r, int row, int col)
{
    return PQgetvalue(r->res, row, col);
}

size_t etl_result_len(const etl_result *r, int row, int col)
{
    return (size_t)PQgetlength(r->res, row, col);
}

bool etl_result_is_null(const etl_result *r, int row, int col)
{
    return PQgetisnull(r->res, row, col) != 0;
}

void etl_result_free(etl_result *r)
{
    if (!r)
        return;
    PQclear(r->res);
    free(r);
}

bool etl_db_ping(const char *conninfo)
{
    return PQping(conninfo) == PQPING_OK;
}
