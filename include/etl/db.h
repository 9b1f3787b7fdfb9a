/*
 * The database seam: a small wrapper over libpq, and the only code that
 * includes libpq-fe.h.  Every statement goes through here, which is where
 * --debug-sql logs it with its duration.  Results are copied out of libpq
 * only where a caller must keep them; otherwise they are borrowed views.
 */
#ifndef ETL_DB_H
#define ETL_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/buf.h"
#include "etl/error.h"
#include "etl/log.h"

typedef struct etl_db etl_db;
typedef struct etl_result etl_result;

/*
 * Connect with a libpq connection string or URI.  dbname, if not NULL,
 * overrides the database named in conninfo (used to reach the run and
 * template databases on the same server).  Sets the session time zone to UTC
 * and DateStyle to ISO so timestamps read back identically everywhere (and
 * can be re-encoded for binary COPY).  On failure returns
 * ETL_ERR_CONNECT with the conninfo (password removed) and libpq's reason.
 * log is borrowed for the life of the connection.
 */
int etl_db_open(etl_db **out, const char *conninfo, const char *dbname, const etl_log *log,
                etl_error *err);
/* Close the connection; NULL is a no-op. */
void etl_db_close(etl_db *db);

/* Run one or more statements that return no rows. */
int etl_db_exec(etl_db *db, const char *sql, etl_error *err);
/* Run a statement with text parameters ($1..$n); no rows expected. */
int etl_db_exec_params(etl_db *db, const char *sql, int nparams, const char *const *params,
                       etl_error *err);
/* Run a query with text parameters; *out is owned by the caller (etl_result_free). */
int etl_db_query(etl_db *db, const char *sql, int nparams, const char *const *params,
                 etl_result **out, etl_error *err);

/*
 * Send a query without waiting for it (one at a time per connection), so
 * the server works on it while the caller does something else; collect its
 * rows with etl_db_wait_query.  Any other call on the connection first
 * reads the pending result and keeps it for etl_db_wait_query, so a query
 * in flight never gets in the way.  sql must stay valid until collected.
 * Of several statements (`DELETE ...; COMMIT`), wait hands over the first
 * error if any, else the last statement's result; a statement that returns
 * no rows collects as a result of none.
 */
int etl_db_send_query(etl_db *db, const char *sql, etl_error *err);
int etl_db_wait_query(etl_db *db, etl_result **out, etl_error *err);

/* Prepare a named statement, then run it with text parameters. */
int etl_db_prepare(etl_db *db, const char *name, const char *sql, int nparams, etl_error *err);
int etl_db_exec_prepared(etl_db *db, const char *name, int nparams, const char *const *params,
                         etl_error *err);

/* COPY ... FROM STDIN: start it, send data in any-sized pieces, end it. */
int etl_db_copy_begin(etl_db *db, const char *sql, etl_error *err);
int etl_db_copy_put(etl_db *db, const char *data, size_t len, etl_error *err);
/* End the COPY; with abort_reason the server rolls the COPY back. */
int etl_db_copy_end(etl_db *db, const char *abort_reason, etl_error *err);

/*
 * Run `COPY ... TO STDOUT` and hand each piece of data to sink as it arrives
 * (memory stays bounded whatever the size).  A sink error stops the copy.
 */
int etl_db_copy_out(etl_db *db, const char *sql,
                    int (*sink)(void *ctx, const char *data, size_t len, etl_error *err), void *ctx,
                    etl_error *err);

/* Set statement_timeout and lock_timeout (milliseconds; 0 leaves the server's). */
int etl_db_set_timeouts(etl_db *db, long statement_ms, long lock_ms, etl_error *err);

/* Append name quoted as an SQL identifier ("my""name"). */
int etl_db_quote_ident(etl_buf *out, const char *name);

/* Results: row and column counts, and borrowed cell text (valid until free). */
int etl_result_rows(const etl_result *r);
int etl_result_cols(const etl_result *r);
const char *etl_result_get(const etl_result *r, int row, int col);
size_t etl_result_len(const etl_result *r, int row, int col);
bool etl_result_is_null(const etl_result *r, int row, int col);
void etl_result_free(etl_result *r);

/*
 * conninfo with any password removed, for messages and logs; caller frees.
 * Never NULL unless out of memory.
 */
char *etl_db_redact(const char *conninfo);

/* Does conninfo carry a password (or another value libpq marks secret)? */
bool etl_db_conninfo_has_secret(const char *conninfo);

/*
 * conninfo rewritten as key='value' pairs with dbname replaced and the
 * password taken out (into *password, or NULL if none), so it can go on a
 * command line without exposing the password.  Both are the caller's to free.
 * NULL if conninfo cannot be parsed or memory runs out.
 */
char *etl_db_conninfo_for(const char *conninfo, const char *dbname, char **password);

/* Is a server accepting connections at conninfo (no authentication needed)? */
bool etl_db_ping(const char *conninfo);

#endif
