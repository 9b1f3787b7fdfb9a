/*
 * Test support: run the etl binary and capture what it prints, start a real
 * PostgreSQL for the pg tests (or use $ETL_TEST_PGURI), and read files.
 */
#ifndef ETL_TEST_HARNESS_H
#define ETL_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/buf.h"
#include "etl/db.h"
#include "etl/server.h"

/* What one run of the etl binary did. */
typedef struct etl_run {
    int status;  /* exit status, or -1 if it did not exit normally */
    etl_buf out; /* stdout */
    etl_buf err; /* stderr */
} etl_run;

/*
 * Run ETL_BINARY with args (NULL-terminated, without argv[0]).  The caller
 * releases run with etl_run_release.
 */
void etl_test_run(etl_run *run, const char *const *args);
void etl_run_release(etl_run *run);
/* The same, with cwd as the working directory. */
void etl_test_run_in(etl_run *run, const char *cwd, const char *const *args);

/* Start etl with args in the background (output discarded); returns its pid. */
int etl_test_spawn(const char *const *args);
/* The same, with its stderr written to the file err_path. */
int etl_test_spawn_to(const char *const *args, const char *err_path);
/* Wait for a spawned etl; its exit status, or 128 + signal if a signal ended it. */
int etl_test_wait(int pid);

/*
 * Make ETL_TEST_WORKDIR/name a scenarios directory: links to the shipped
 * scenarios.yaml, forms and fixtures, and a processors.yaml holding
 * `processors` (YAML text).  Its path goes to out.
 */
void etl_test_scenarios_dir(const char *name, const char *processors, char *out, size_t cap);

/* A server for the pg tests: $ETL_TEST_PGURI, or an embedded one in ETL_TEST_WORKDIR/name. */
typedef struct etl_test_server {
    etl_server *server;
    const char *conninfo;
} etl_test_server;

/* Where test server `name` keeps its data: reachable by an unprivileged server account. */
void etl_test_server_dir(const char *name, char *out, size_t cap);

/* Fails the test (cmocka) if no server can be had: never skips. */
void etl_test_server_start(etl_test_server *s, const char *name);
void etl_test_server_stop(etl_test_server *s);
/* Stop and start the test's own server again (a restart under running clients). */
void etl_test_server_restart(etl_test_server *s, const char *name);
/* Crash the test's own server (immediate shutdown) and start it again: crash recovery. */
void etl_test_server_crash(etl_test_server *s, const char *name);

/* Connect to database dbname on the test server; fails the test on error. */
etl_db *etl_test_connect(const etl_test_server *s, const char *dbname);

/* Run a query and return all rows, one line each, cells joined by '|'; fails on error. */
char *etl_test_query_text(etl_db *db, const char *sql);

/* A connection string for database dbname on the test server (caller frees). */
char *etl_test_conninfo_for(const etl_test_server *s, const char *dbname);
/* Run one or more statements (no parameters, no rows) on dbname; fails the test on error. */
void etl_test_exec_on(const etl_test_server *s, const char *dbname, const char *sql);
/* etl_test_query_text on a connection of its own to dbname (caller frees). */
char *etl_test_query_on(const etl_test_server *s, const char *dbname, const char *sql);
/*
 * Wait up to 5 s until no session but ours is connected to dbname (a
 * client that exited may leave its backend finishing); false if some stay.
 */
bool etl_test_sessions_gone(const etl_test_server *s, const char *dbname);

/* `etl --db <s> -q generate scenario`, failing the test if it fails. */
void etl_test_generate(const etl_test_server *s, const char *scenario);
/*
 * A fresh application database name on s, cloned from the template of
 * scenario, with `etl init` run on it (--no-capture if asked); returns its
 * conninfo (caller frees).
 */
char *etl_test_fresh_app(const etl_test_server *s, const char *name, const char *scenario,
                         bool no_capture);

/* Sleep for ms milliseconds; a monotonic clock in milliseconds. */
void etl_test_sleep_ms(long ms);
long long etl_test_now_ms(void);

/* Read a whole file; fails the test on error. */
char *etl_test_read(const char *path);

/* Extract the number after "key": in a flat JSON object; -1 if absent. */
double etl_test_json_number(const char *json, const char *key);

#endif
