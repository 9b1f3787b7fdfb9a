/*
 * The process exit statuses of `etl`, in one place.  main.c is the only code
 * that maps error codes to these; docs/cli.md documents them for users and
 * cron jobs.  Numbers are part of the interface: never renumber.
 */
#ifndef ETL_EXITCODES_H
#define ETL_EXITCODES_H

enum {
    ETL_EXIT_OK = 0,          /* the command did everything it was asked */
    ETL_EXIT_FAILURE = 1,     /* runtime failure: a statement, file or process failed */
    ETL_EXIT_USAGE = 2,       /* bad command line: unknown command, option, scenario or processor */
    ETL_EXIT_CONFIG = 3,      /* a scenario, processor or form file is malformed */
    ETL_EXIT_SERVER = 4,      /* PostgreSQL could not be reached or the embedded one not started */
    ETL_EXIT_REJECTS = 5,     /* finished and committed, but some submissions were rejected */
    ETL_EXIT_LOCKED = 6,      /* another run holds the target's lock: nothing was done */
    ETL_EXIT_INTERRUPTED = 7, /* SIGINT/SIGTERM: the open batch was rolled back */
    ETL_EXIT_TOO_MANY_REJECTS = 8, /* over --max-rejects: the open batch was rolled back */
    ETL_EXIT_REGRESSION = 9,       /* bench: worse than --baseline, or different events */
    ETL_EXIT_DIFFERENT = 10        /* verify: the warehouse differs from the source */
};

/* Map a negative ETL_ERR_* code to its exit status. */
int etl_exit_status(int code);

#endif
