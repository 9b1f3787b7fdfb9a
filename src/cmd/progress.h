/*
 * Progress of a long command on stderr, rendered by the command layer only:
 * the layers below report numbers through callbacks and never print.  On a
 * terminal one line is redrawn in place (at most 10 times a second); with
 * --progress, plain lines every 5 s and one at the end, for CI logs.  A line
 * drawn in place is always finished (or erased) before anything else is
 * printed, so an error message never lands in the middle of it.
 */
#ifndef ETL_PROGRESS_H
#define ETL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cmd.h"

typedef enum cli_progress_mode {
    CLI_PROGRESS_OFF,   /* nothing: stderr is not a terminal, or -q without --progress */
    CLI_PROGRESS_TTY,   /* one line redrawn in place with \r */
    CLI_PROGRESS_LINES, /* --progress: a plain line every interval, and one at the end */
} cli_progress_mode;

#define CLI_PROGRESS_TTY_US 100000LL    /* between redraws on a terminal, µs */
#define CLI_PROGRESS_LINES_US 5000000LL /* between plain lines, µs */

typedef struct cli_progress {
    cli_progress_mode mode;
    FILE *out;                 /* stderr, or a test's stream */
    long long (*now_us)(void); /* monotonic clock, µs; injectable for tests */
    char what[64];             /* "generate small": what the line is about */
    long long start_us;        /* when cli_progress_start ran, µs */
    long long last_us;         /* when the line was last drawn or printed, µs */
    long long interval_us;     /* least time between two draws, µs */
    size_t drawn;              /* TTY: columns of the line now on screen (0: none) */
    size_t width;              /* TTY: the terminal's columns; lines are cut to fit */
    bool stale;                /* text changed since it was last drawn or printed */
    char text[256];            /* the latest update */
} cli_progress;

/*
 * Choose the mode from the global options and stderr: --progress gives plain
 * lines (even with -q, even on a terminal); otherwise -q gives nothing, and a
 * terminal gives the in-place line.  --json does not matter: its output goes
 * to stdout.  what is copied (cut to fit).  Never fails.
 */
void cli_progress_start(cli_progress *p, const etl_cli *cli, const char *what);

/* The same with everything explicit, for tests: width 0 means no cutting. */
void cli_progress_init(cli_progress *p, cli_progress_mode mode, FILE *out, size_t width,
                       long long (*now_us)(void), const char *what);

/* Is the progress shown at all?  Lets a caller skip work done only to report. */
bool cli_progress_on(const cli_progress *p);

/*
 * Record the latest state (printf-style, no newline) and draw it if the
 * interval has passed since the last draw.  The text is formatted on every
 * call, so cli_progress_end can show the final numbers: call it per batch,
 * not per row.
 */
void cli_progress_update(cli_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Finish: draw the latest state if not yet shown and end the line, on
 * success and before printing an error alike.  Safe to call twice, and
 * without any update (then it prints nothing).
 */
void cli_progress_end(cli_progress *p);

/* Seconds as "42s", "3m05s" or "2h07m". */
void cli_progress_fmt_duration(char *out, size_t cap, double secs);

/*
 * "done/total unit, R/s, ETA D" (total 0: unknown, no ETA; no rate or
 * ETA before anything is done), R with a k or M suffix when large.
 */
void cli_progress_fmt_count(char *out, size_t cap, size_t done, size_t total, const char *unit,
                            long long elapsed_us);

#endif
