/*
 * `etl status --db CONNINFO [--target CONNINFO] [--json] [filters] [--check ...]`:
 * what production mode has done and has left (queue or backlog, runs,
 * current rejects by reason), and with --check one line and an exit code
 * for a monitoring system.  Production reads; this file only judges and
 * renders.  With --json, stdout holds one JSON object whatever happens.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "exitcodes.h"
#include "etl/config.h"
#include "etl/production.h"
#include "etl/text.h"
#include "etl/json_out.h"

#include "banned.h"

#define DEFAULT_LIMIT 10
#define MAX_LIMIT 100000
#define MAX_PROBLEMS 3

static const char help[] =
    "Usage: etl status --db CONNINFO [--target CONNINFO] [--json] [--limit N]\n"
    "                  [--since DURATION|TIMESTAMP] [--status STATUS]\n"
    "                  [--check [--max-age DURATION] [--max-backlog N] [--max-queue-age "
    "DURATION]]\n\n"
    "Show the queue (or, without change capture, the backlog), the runs from\n"
    "dwh.etl_runs, newest first, and the currently rejected submissions by reason.\n"
    "Consecutive idle runs (nothing queued) share one row: succeeded (idle xN).\n"
    "A run marked running whose process is gone shows as abandoned.\n\n"
    "Options:\n"
    "  --target CONNINFO  the warehouse database, if not the application's\n"
    "  --json             one JSON object on stdout (also on error: {\"error\", \"exit\"})\n"
    "  --limit N          list at most N runs (default 10)\n"
    "  --since WHEN       only runs that ended within DURATION (90s, 15m, 2h, 7d,\n"
    "                     or seconds) or at or after TIMESTAMP, and running ones\n"
    "  --status STATUS    only runs in STATUS: running, succeeded, rejects, failed,\n"
    "                     interrupted, too_many_rejects or abandoned\n"
    "  --check            print one line and exit with what a monitoring system needs:\n"
    "                       0  ok\n"
    "                      11  the last run to end failed, was interrupted, stopped at\n"
    "                          --max-rejects or was abandoned (rejects alone are ok)\n"
    "                      12  no successful run within --max-age\n"
    "                      13  more than --max-backlog queued, or the oldest queued\n"
    "                          change older than --max-queue-age\n"
    "                     several at once: all in the line, the lowest code\n"
    "  --max-age D        with --check: a run must have succeeded within D\n"
    "  --max-backlog N    with --check: at most N queued changes (unprocessed\n"
    "                     submissions without change capture)\n"
    "  --max-queue-age D  with --check: no queued change older than D (change capture)\n\n"
    "Exit status: 0, 11-13 as above, 2 bad options, 4 the database cannot be\n"
    "reached; see docs/cli.md for all.\n\n";

/* What --check was asked to judge; -1 or absent: not judged. */
typedef struct check_opts {
    bool on;
    long long max_age; /* s */
    const char *max_age_text;
    long long max_queue_age; /* s */
    const char *max_queue_age_text;
    bool has_max_backlog;
    unsigned long long max_backlog;
} check_opts;

typedef struct problem {
    int exit;
    const char *kind;
    char message[512];
} problem;

/* The verdict: problems in order of code, the line, the exit status. */
typedef struct verdict {
    problem problems[MAX_PROBLEMS];
    size_t n;
    char line[1700];
    int exit;
} verdict;

static int usage(bool json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage(bool json, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (json)
        cli_json_error(msg, ETL_EXIT_USAGE);
    return cli_usage("status", "%s", msg);
}

/* "2026-11-30T22:41:07.123+00:00" as "2026-11-30 22:41:07", for the text output. */
static void short_ts(const char *iso, char *out, size_t cap)
{
    snprintf(out, cap, "%.19s", iso);
    char *t = strchr(out, 'T');
    if (t)
        *t = ' ';
}

/* The run's last end: an idle row's latest run, else its finish. */
static const char *ended(const etl_status_run *r)
{
    return r->last_idle[0] ? r->last_idle : r->finished;
}

static bool is_failure(const char *status)
{
    static const char *const failures[] = {"failed", "interrupted", "too_many_rejects",
                                           "abandoned"};
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
        if (strcmp(status, failures[i]) == 0)
            return true;
    return false;
}

static void add(verdict *v, int exit_status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(verdict *v, int exit_status, const char *kind, const char *fmt, ...)
{
    if (v->n == MAX_PROBLEMS)
        return;
    problem *p = &v->problems[v->n++];
    p->exit = exit_status;
    p->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
}

/* A run's error as one short line: its first line, at most 200 bytes. */
static void first_line(const char *error, char *out, size_t cap)
{
    size_t n = error ? strcspn(error, "\n") : 0;
    if (n > 200)
        n = 200;
    snprintf(out, cap, "%.*s", (int)n, error ? error : "");
}

/*
 * Judge the status.  Checks are made in code order (failed, stale,
 * backlog), so the first problem has the lowest code: the one to exit
 * with, and the most severe (a failure needs a person; staleness and
 * backlog may clear on their own).
 */
static void judge(const etl_status *s, const check_opts *c, verdict *v)
{
    memset(v, 0, sizeof(*v));
    char ts[32];
    char age[32];
    char why[256];
    if (s->has_last && is_failure(s->last.status)) {
        first_line(s->last.error, why, sizeof(why));
        if (s->last.finished[0]) {
            short_ts(ended(&s->last), ts, sizeof(ts));
            cli_format_age(s->last.ended_age_s, age, sizeof(age));
            add(v, ETL_EXIT_CHECK_FAILED, "failed", "run %lld %s at %s UTC (%s ago): %s",
                s->last.id, s->last.status, ts, age, why);
        } else {
            add(v, ETL_EXIT_CHECK_FAILED, "failed", "run %lld %s: %s", s->last.id, s->last.status,
                why);
        }
    }
    if (c->max_age >= 0 && !s->has_success)
        add(v, ETL_EXIT_CHECK_STALE, "stale", "no successful run recorded (--max-age %s)",
            c->max_age_text);
    else if (c->max_age >= 0 && s->success.ended_age_s > (double)c->max_age) {
        cli_format_age(s->success.ended_age_s, age, sizeof(age));
        add(v, ETL_EXIT_CHECK_STALE, "stale",
            "last successful run %lld finished %s ago, more than --max-age %s", s->success.id, age,
            c->max_age_text);
    }
    const char *what = s->capture ? "changes queued" : "submissions not yet processed";
    if (c->has_max_backlog && s->backlog > c->max_backlog)
        add(v, ETL_EXIT_CHECK_BACKLOG, "backlog", "%zu %s, more than --max-backlog %llu",
            s->backlog, what, c->max_backlog);
    if (c->max_queue_age >= 0 && s->oldest_s > (double)c->max_queue_age) {
        cli_format_age(s->oldest_s, age, sizeof(age));
        add(v, ETL_EXIT_CHECK_BACKLOG, "backlog",
            "the oldest queued change has waited %s, more than --max-queue-age %s", age,
            c->max_queue_age_text);
    }
    static const char *const labels[] = {"FAILED", "STALE", "BACKLOG"};
    size_t at = 0;
    for (size_t i = 0; i < v->n && at < sizeof(v->line); i++) {
        const problem *p = &v->problems[i];
        int w = snprintf(v->line + at, sizeof(v->line) - at, "%s%s: %s", i ? "; " : "",
                         labels[p->exit - ETL_EXIT_CHECK_FAILED], p->message);
        at += w > 0 ? (size_t)w : 0;
    }
    v->exit = v->n ? v->problems[0].exit : ETL_EXIT_OK;
    if (v->n)
        return;
    char last[256] = "no run recorded yet";
    if (s->has_last) {
        short_ts(ended(&s->last), ts, sizeof(ts));
        cli_format_age(s->last.ended_age_s, age, sizeof(age));
        snprintf(last, sizeof(last), "last run %lld %s at %s UTC (%s ago)", s->last.id,
                 strcmp(s->last.status, "rejects") == 0 ? "succeeded with rejects" : s->last.status,
                 ts, age);
    }
    snprintf(v->line, sizeof(v->line), "OK: %s; %zu %s", last, s->backlog, what);
}

static void json_ts(const char *ts)
{
    if (ts[0])
        etl_json_fput(stdout, ts);
    else
        fputs("null", stdout);
}

static void json_run(const etl_status_run *r, bool with_age)
{
    printf("{\"id\":%lld,\"processor\":", r->id);
    etl_json_fput(stdout, r->processor);
    fputs(",\"started\":", stdout);
    json_ts(r->started);
    fputs(",\"finished\":", stdout);
    json_ts(r->finished);
    fputs(",\"status\":", stdout);
    etl_json_fput(stdout, r->status);
    printf(",\"submissions\":%lld,\"events\":%lld,\"rejects\":%lld,\"idle_runs\":%lld,"
           "\"last_idle\":",
           r->submissions, r->events, r->rejects, r->idle_runs);
    json_ts(r->last_idle);
    if (with_age && r->ended_age_s >= 0)
        printf(",\"age_s\":%.3f", r->ended_age_s);
    fputs(",\"error\":", stdout);
    if (r->error)
        etl_json_fput(stdout, r->error);
    else
        fputs("null", stdout);
    putchar('}');
}

static void print_json(const etl_status *s, const verdict *v)
{
    printf("{\"capture\":%s,\"backlog\":%zu,\"oldest_queued_s\":", s->capture ? "true" : "false",
           s->backlog);
    if (s->oldest_s >= 0)
        printf("%.3f", s->oldest_s);
    else
        fputs("null", stdout);
    fputs(",\"runs\":[", stdout);
    for (size_t i = 0; i < s->nruns; i++) {
        fputs(i ? "," : "", stdout);
        json_run(&s->runs[i], false);
    }
    fputs("],\"rejects\":{", stdout);
    for (size_t i = 0; i < s->nreasons; i++) {
        fputs(i ? "," : "", stdout);
        etl_json_fput(stdout, s->rejects[i].reason);
        printf(":%lld", s->rejects[i].count);
    }
    fputs("},\"last_ended\":", stdout);
    if (s->has_last)
        json_run(&s->last, true);
    else
        fputs("null", stdout);
    fputs(",\"last_success\":", stdout);
    if (s->has_success)
        json_run(&s->success, true);
    else
        fputs("null", stdout);
    if (v) {
        static const char *const kinds[] = {"failed", "stale", "backlog"};
        fputs(",\"check\":{\"status\":", stdout);
        etl_json_fput(stdout, v->n ? kinds[v->exit - ETL_EXIT_CHECK_FAILED] : "ok");
        printf(",\"exit\":%d,\"line\":", v->exit);
        etl_json_fput(stdout, v->line);
        fputs(",\"problems\":[", stdout);
        for (size_t i = 0; i < v->n; i++) {
            printf("%s{\"kind\":\"%s\",\"exit\":%d,\"message\":", i ? "," : "", v->problems[i].kind,
                   v->problems[i].exit);
            etl_json_fput(stdout, v->problems[i].message);
            putchar('}');
        }
        fputs("]}", stdout);
    }
    fputs("}\n", stdout);
}

static void print_text(const etl_status *s, const etl_status_cfg *cfg, const char *since)
{
    char age[32];
    if (s->capture && s->backlog) {
        cli_format_age(s->oldest_s, age, sizeof(age));
        printf("queue: %zu changes waiting, the oldest for %s (change capture on)\n", s->backlog,
               age);
    } else if (s->capture) {
        printf("queue: empty (change capture on)\n");
    } else {
        printf("backlog: %zu submissions not yet processed (no change capture: edits and "
               "deletes are not seen)\n",
               s->backlog);
    }
    char ts[32];
    if (s->has_success) {
        short_ts(ended(&s->success), ts, sizeof(ts));
        cli_format_age(s->success.ended_age_s, age, sizeof(age));
        printf("last success: run %lld, ended %s UTC (%s ago)\n", s->success.id, ts, age);
    }
    printf("runs, newest first (at most %zu", cfg->limit);
    if (cfg->status)
        printf(", %s", cfg->status);
    if (since)
        printf(", ended %s %s", cfg->since_s ? "within" : "since", since);
    printf("):%s\n", s->nruns ? "" : " none");
    if (s->nruns)
        printf("  %-6s %-14s %-19s %-19s %-23s %11s %10s %8s  %s\n", "id", "processor",
               "started (UTC)", "finished (UTC)", "status", "submissions", "events", "rejects",
               "error");
    for (size_t i = 0; i < s->nruns; i++) {
        const etl_status_run *r = &s->runs[i];
        char started[32];
        char finished[32];
        char status[64];
        short_ts(r->started, started, sizeof(started));
        short_ts(ended(r), finished, sizeof(finished));
        if (r->idle_runs > 1)
            snprintf(status, sizeof(status), "%s (idle x%lld)", r->status, r->idle_runs);
        else if (r->idle_runs == 1)
            snprintf(status, sizeof(status), "%s (idle)", r->status);
        else
            snprintf(status, sizeof(status), "%s", r->status);
        char why[256];
        first_line(r->error, why, sizeof(why));
        printf("  %-6lld %-14s %-19s %-19s %-23s %11lld %10lld %8lld%s%s\n", r->id, r->processor,
               started, finished, status, r->submissions, r->events, r->rejects, why[0] ? "  " : "",
               why);
    }
    printf("rejected now, by reason:%s\n", s->nreasons ? "" : " none");
    for (size_t i = 0; i < s->nreasons; i++)
        printf("  %-18s %lld\n", s->rejects[i].reason, s->rejects[i].count);
}

static bool known_status(const char *status)
{
    for (size_t i = 0; etl_run_statuses[i]; i++)
        if (strcmp(status, etl_run_statuses[i]) == 0)
            return true;
    return false;
}

/* A DURATION option's value; 2 after a usage error, else 0 (unset: -1). */
static int duration_option(bool json, const char *name, const char *text, long long *out)
{
    *out = -1;
    if (text && cli_parse_duration(text, out) != 0)
        return usage(json, "status: --%s: '%s' is not a duration; use %s", name, text,
                     CLI_DURATION_HINT);
    return ETL_EXIT_OK;
}

int cmd_status(int argc, char **argv, etl_cli *cli)
{
    const char *target = NULL;
    bool json = false;
    check_opts c = {.max_age = -1, .max_queue_age = -1};
    const char *limit_text = NULL;
    const char *since = NULL;
    const char *status = NULL;
    const char *max_backlog = NULL;
    const cli_option opts[] = {{"target", NULL, &target},
                               {"json", &json, NULL},
                               {"check", &c.on, NULL},
                               {"max-age", NULL, &c.max_age_text},
                               {"max-backlog", NULL, &max_backlog},
                               {"max-queue-age", NULL, &c.max_queue_age_text},
                               {"limit", NULL, &limit_text},
                               {"since", NULL, &since},
                               {"status", NULL, &status},
                               {NULL, NULL, NULL}};
    int parsed = cli_parse_options(argc, argv, cli, "status", help, opts, false);
    if (parsed != CLI_PARSED) {
        /* The option parser has said why on stderr; --json promised an object anyway. */
        for (int i = 1; parsed != ETL_EXIT_OK && i < argc; i++)
            if (strcmp(argv[i], "--json") == 0) {
                cli_json_error("status: bad command line (see stderr)", parsed);
                break;
            }
        return parsed;
    }
    if (optind < argc)
        return usage(json, "status: unexpected argument '%s'", argv[optind]);
    if (!cli->db)
        return usage(json, "status: needs --db CONNINFO, the application's database");
    if (!c.on && (c.max_age_text || max_backlog || c.max_queue_age_text))
        return usage(json, "status: --max-age, --max-backlog and --max-queue-age need --check");
    int rc = duration_option(json, "max-age", c.max_age_text, &c.max_age);
    if (rc == ETL_EXIT_OK)
        rc = duration_option(json, "max-queue-age", c.max_queue_age_text, &c.max_queue_age);
    if (rc != ETL_EXIT_OK)
        return rc;
    if (max_backlog && etl_parse_ull(max_backlog, 0, ~0ULL - 1, &c.max_backlog) != 0)
        return usage(json, "status: --max-backlog: '%s' is not a whole number (0 or more)",
                     max_backlog);
    c.has_max_backlog = max_backlog != NULL;
    unsigned long long limit = DEFAULT_LIMIT;
    if (limit_text && etl_parse_ull(limit_text, 1, MAX_LIMIT, &limit) != 0)
        return usage(json, "status: --limit: '%s' is not a whole number from 1 to %d", limit_text,
                     MAX_LIMIT);
    if (status && !known_status(status))
        return usage(json,
                     "status: --status: '%s' is not a run status; use running, succeeded, "
                     "rejects, failed, interrupted, too_many_rejects or abandoned",
                     status);
    etl_status_cfg cfg = {.source = cli->db,
                          .target = target,
                          .limit = (size_t)limit,
                          .status = status,
                          .log = &cli->log};
    long long since_s = 0;
    if (since && cli_parse_duration(since, &since_s) == 0)
        cfg.since_s = since_s > 0 ? since_s : 1;
    else
        cfg.since = since; /* a timestamp, or PostgreSQL says it is none */

    etl_error err;
    etl_error_clear(&err);
    etl_status s;
    rc = etl_prod_status(&cfg, &s, &err);
    if (rc == ETL_OK && c.max_queue_age >= 0 && !s.capture)
        rc = etl_error_set(&err, ETL_ERR_USAGE,
                           "status: --max-queue-age: the source has no change capture, so "
                           "nothing is queued with an age; use --max-backlog");
    if (rc != ETL_OK) {
        etl_prod_status_release(&s);
        int exit_status = cli_fail(&err);
        if (json)
            cli_json_error(err.msg, exit_status);
        return exit_status;
    }
    verdict v;
    if (c.on)
        judge(&s, &c, &v);
    if (json)
        print_json(&s, c.on ? &v : NULL);
    else if (c.on)
        printf("%s\n", v.line);
    else
        print_text(&s, &cfg, since);
    etl_prod_status_release(&s);
    return c.on ? v.exit : ETL_EXIT_OK;
}
