/*
 * A fake of the etl_db seam for unit tests: a small in-memory "server" that
 * answers the statements the stages send, linked in with -Wl,--wrap= on
 * every etl_db_* and etl_result_* function the stages call (see STYLE §8).
 * It is scripted at the level of tables and statements, never cell by cell:
 * the test gives it forms, users and submissions; it recognises the
 * extractors' queries (plain, joined, DECLARE CURSOR / FETCH, sent ahead with
 * send_query), records the loaders' writes (INSERTs with parameters,
 * prepared statements, COPY in text or binary format) inside transactions
 * that COMMIT keeps and ROLLBACK drops, and logs every call.  Fault
 * injection: the Nth call fails as the real seam fails (ETL_ERR_DB and a
 * message in err), the way SQLite's test_vfs swaps in a faulty file system.
 *
 * It does not evaluate SQL: WHERE conditions are ignored (every submission
 * matches), writes must name the ETL_EVENT_COLUMNS (into any table), and a
 * statement it does not recognise fails with SQLSTATE 42601.  For the
 * pipeline around the stages it also takes TRUNCATE (undone by ROLLBACK),
 * SET, and CREATE OR REPLACE FUNCTION pg_temp.* (kept nowhere), and one
 * scripted statement (etl_fake_db_script).
 */
#ifndef ETL_TEST_FAKE_DB_H
#define ETL_TEST_FAKE_DB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "etl/db.h"
#include "etl/error.h"
#include "etl/loader.h"

/* A fresh fake connection with empty tables, idle; free with etl_fake_db_free. */
etl_db *etl_fake_db_new(void);
/* Free the fake and everything it made, results the code under test forgot included. */
void etl_fake_db_free(etl_db *db);

/* ---- the source tables (strings are copied; fails the test when out of memory) ---- */

/* app.forms: schema is the JSON text of the form's schema. */
void etl_fake_db_add_form(etl_db *db, const char *id, const char *name, const char *schema);
/* app.users: given or family may be NULL (the full name then has an empty part). */
void etl_fake_db_add_user(etl_db *db, const char *id, const char *given, const char *family);
/*
 * app.submissions: form_id and user_id need not exist.  Queries return
 * submissions in date_created, id order (created compared as text).
 */
void etl_fake_db_add_submission(etl_db *db, const char *id, const char *form_id,
                                const char *user_id, const char *created, const char *responses);

/*
 * Run one statement as the server would (BEGIN, COMMIT, ROLLBACK, ...),
 * without logging it, counting it or failing it on purpose: for the test
 * playing the pipeline around a stage.  ETL_OK or ETL_ERR_DB.
 */
int etl_fake_db_run(etl_db *db, const char *sql);

/*
 * Answer a query that starts with prefix (after the extractors' and the
 * schema fetch's) as one opaque INSERT ... SELECT: the statement must hold
 * "INSERT INTO <table> (<event columns>)"; it writes rows[0..nrows) into
 * that table (in the open transaction, as any write) and returns the
 * result_rows x result_cols cells of result (row by row, NULL for SQL
 * NULL).  Everything is copied.  For a runner whose SQL the fake cannot
 * evaluate (in-db): the test states what the statement does.
 */
void etl_fake_db_script(etl_db *db, const char *prefix, const char *const (*rows)[ETL_EVENT_NCOLS],
                        size_t nrows, const char *const *result, int result_rows, int result_cols);

/* ---- what was written ---- */

/* One row written into a table, in ETL_EVENT_COLUMNS order; col[i] is NULL for SQL NULL. */
typedef struct etl_fake_row {
    char *table;
    char *col[ETL_EVENT_NCOLS];
} etl_fake_row;

/* Rows committed so far, in the order they were written; row i borrowed until free. */
size_t etl_fake_db_committed(const etl_db *db);
const etl_fake_row *etl_fake_db_committed_row(const etl_db *db, size_t i);
/* Rows written in the open transaction (a COPY counts once it has ended). */
size_t etl_fake_db_tx_rows(const etl_db *db);
/* Rows dropped with their transaction (ROLLBACK, or COMMIT of a failed one). */
size_t etl_fake_db_discarded(const etl_db *db);
/* Transactions committed (COMMIT of an open, not failed, transaction). */
size_t etl_fake_db_commits(const etl_db *db);

/* ---- the connection's state ---- */

bool etl_fake_db_in_transaction(const etl_db *db); /* open or failed */
bool etl_fake_db_tx_failed(const etl_db *db);      /* an error happened in it */
bool etl_fake_db_in_copy(const etl_db *db);
bool etl_fake_db_query_in_flight(const etl_db *db); /* sent and not collected */
size_t etl_fake_db_cursors(const etl_db *db);
size_t etl_fake_db_prepared(const etl_db *db);
/* Results handed out and not freed yet. */
size_t etl_fake_db_live_results(const etl_db *db);
/*
 * The first misuse of the seam seen (a double etl_result_free, a cell out of
 * range, COPY data with no COPY open, a statement during COPY, ...), or NULL.
 */
const char *etl_fake_db_misuse(const etl_db *db);

/* ---- calls and faults ---- */

/*
 * Calls that can fail (every etl_db_* wrapper; etl_result_* are not
 * counted) made so far.  Call i (0-based) is logged as one line
 * "<function> <what>": the statement's first word, the prepared statement's
 * name, "commit" or "abort" for copy_end, nothing for copy_put, and for
 * wait_query the first word of the query it collects.
 */
size_t etl_fake_db_calls(const etl_db *db);
const char *etl_fake_db_call(const etl_db *db, size_t i);
/*
 * Where call i stands among the calls on every fake connection (1, 2, ...):
 * orders the calls of a source and a target.
 */
size_t etl_fake_db_call_seq(const etl_db *db, size_t i);
/* The full SQL text (or name) given to call i; "" if none. */
const char *etl_fake_db_call_sql(const etl_db *db, size_t i);
/* Calls i.. as one string, their lines joined by '\n' (borrowed until the next call). */
const char *etl_fake_db_trace(etl_db *db, size_t from);

/*
 * Make the nth call from now (n >= 1) fail with ETL_ERR_DB, SQLSTATE XX000
 * and a message holding "injected failure"; 0 disarms.  The failure has the
 * server's side effects: an open transaction becomes failed (a failed
 * COMMIT or ROLLBACK ends it), a COPY in progress is aborted.
 */
void etl_fake_db_fail_at(etl_db *db, size_t n);
/* Has the armed failure happened? */
bool etl_fake_db_fault_fired(const etl_db *db);
/* Set *flag to 1 when the nth call from now is made (before it runs), like a signal. */
void etl_fake_db_flag_at(etl_db *db, size_t n, volatile sig_atomic_t *flag);

/* ---- the doubles, resolved by the linker's --wrap (prototypes for -Wmissing-prototypes) ---- */

/* NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
int __wrap_etl_db_exec(etl_db *db, const char *sql, etl_error *err);
int __wrap_etl_db_exec_params(etl_db *db, const char *sql, int nparams, const char *const *params,
                              etl_error *err);
int __wrap_etl_db_query(etl_db *db, const char *sql, int nparams, const char *const *params,
                        etl_result **out, etl_error *err);
int __wrap_etl_db_send_query(etl_db *db, const char *sql, etl_error *err);
int __wrap_etl_db_wait_query(etl_db *db, etl_result **out, etl_error *err);
int __wrap_etl_db_prepare(etl_db *db, const char *name, const char *sql, int nparams,
                          etl_error *err);
int __wrap_etl_db_exec_prepared(etl_db *db, const char *name, int nparams,
                                const char *const *params, etl_error *err);
int __wrap_etl_db_copy_begin(etl_db *db, const char *sql, etl_error *err);
int __wrap_etl_db_copy_put(etl_db *db, const char *data, size_t len, etl_error *err);
int __wrap_etl_db_copy_end(etl_db *db, const char *abort_reason, etl_error *err);
int __wrap_etl_result_rows(const etl_result *r);
int __wrap_etl_result_cols(const etl_result *r);
const char *__wrap_etl_result_get(const etl_result *r, int row, int col);
size_t __wrap_etl_result_len(const etl_result *r, int row, int col);
bool __wrap_etl_result_is_null(const etl_result *r, int row, int col);
void __wrap_etl_result_free(etl_result *r);
/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#endif
