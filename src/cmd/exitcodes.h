/*
 * The process exit statuses of `etl`: the one table.  The enum, `etl --help`
 * and the test that checks docs/cli.md and README.md all come from
 * ETL_EXIT_CODES, so a code added here is documented or the suite fails.
 * Numbers are part of the interface: never renumber.
 */
#ifndef ETL_EXITCODES_H
#define ETL_EXITCODES_H

/* X(NAME, number, what it means) */
#define ETL_EXIT_CODES(X)                                                                          \
    X(OK, 0, "the command did everything it was asked")                                            \
    X(FAILURE, 1, "a statement, file, process or connection failed; the batch rolled back")        \
    X(USAGE, 2, "usage: unknown command, option, scenario or processor, or a bad value")           \
    X(CONFIG, 3, "a scenario, processor or form file is malformed")                                \
    X(SERVER, 4, "PostgreSQL could not be reached, or the embedded one not started")               \
    X(REJECTS, 5, "finished and committed, but some submissions were rejected")                    \
    X(LOCKED, 6, "in place, without capture: another run holds the lock; nothing done")            \
    X(INTERRUPTED, 7, "interrupted by SIGINT or SIGTERM; the open batch was rolled back")          \
    X(TOO_MANY_REJECTS, 8, "in place: over --max-rejects; stopped, its rejects recorded")          \
    X(REGRESSION, 9, "bench: slower than --baseline beyond tolerance and noise, or other events")  \
    X(DIFFERENT, 10, "verify: the warehouse differs from the source")                              \
    X(CHECK_FAILED, 11, "status --check: the last run to end did not succeed")                     \
    X(CHECK_STALE, 12, "status --check: no successful run within --max-age")                       \
    X(CHECK_BACKLOG, 13, "status --check: the queue is longer or older than allowed")

enum {
#define ETL_EXIT_ENUM(name, number, meaning) ETL_EXIT_##name = (number),
    ETL_EXIT_CODES(ETL_EXIT_ENUM)
#undef ETL_EXIT_ENUM
};

/* Map a negative ETL_ERR_* code to its exit status. */
int etl_exit_status(int code);

#endif
