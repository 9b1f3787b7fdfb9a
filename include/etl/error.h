/*
 * Error codes and the error record every fallible function fills in.
 * A function that can fail returns ETL_OK or a negative ETL_ERR_* code and
 * writes the human-readable reason into the caller's etl_error.
 * Iterators additionally return ETL_DONE (> 0) when exhausted.
 */
#ifndef ETL_ERROR_H
#define ETL_ERROR_H

#include <stddef.h>

enum {
    ETL_OK = 0,
    ETL_DONE = 1,              /* iterator exhausted: not an error */
    ETL_ERR_NOMEM = -1,        /* allocation failed */
    ETL_ERR_IO = -2,           /* file or process I/O failed */
    ETL_ERR_DB = -3,           /* a statement failed on a reachable server */
    ETL_ERR_CONFIG = -4,       /* a YAML or JSON config file is malformed */
    ETL_ERR_USAGE = -5,        /* bad command line, unknown name */
    ETL_ERR_INTERNAL = -6,     /* a broken invariant that is not the user's fault */
    ETL_ERR_CONNECT = -7,      /* the server could not be reached or started */
    ETL_ERR_INPUT = -8,        /* one submission is unusable: reject it, go on */
    ETL_ERR_LOCKED = -9,       /* another run holds the target's lock */
    ETL_ERR_INTERRUPTED = -10, /* stopped by SIGINT or SIGTERM */
    ETL_ERR_REJECTS = -11      /* more rejected submissions than --max-rejects allows */
};

#define ETL_ERROR_MSG_MAX 1024

typedef struct etl_error {
    int code;
    const char *reason; /* ETL_ERR_INPUT: a reject reason code (static string), else NULL */
    char sqlstate[6];   /* five characters and NUL; empty if not from the server */
    char msg[ETL_ERROR_MSG_MAX];
} etl_error;

/* Clear an error record before reuse. */
void etl_error_clear(etl_error *err);

/*
 * Record code and a printf-style message in err (which may be NULL) and
 * return code, so that callers can write `return etl_error_set(err, ...)`.
 */
int etl_error_set(etl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefix the message already in err with "<fmt>: ", keeping its code.
 * Returns err->code.  Used to add context on the way up.
 */
int etl_error_wrap(etl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short lower-case name for a code ("out of memory", "database error", ...). */
const char *etl_error_name(int code);

#endif
