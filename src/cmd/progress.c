/*
 * The progress line (progress.h).  Deliberately no terminal escapes: the
 * rest of an in-place line is cleared by padding with spaces to the width
 * drawn before, which works on any terminal, and lines are cut to the
 * terminal's width because \r only returns to the start of the last row of
 * a wrapped line.
 */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "etl/log.h"
#include "etl/clock.h"

#include "banned.h"

void cli_progress_init(cli_progress *p, cli_progress_mode mode, FILE *out, size_t width,
                       long long (*now_us)(void), const char *what)
{
    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->out = out;
    p->width = width;
    p->now_us = now_us;
    p->interval_us = mode == CLI_PROGRESS_LINES ? CLI_PROGRESS_LINES_US : CLI_PROGRESS_TTY_US;
    snprintf(p->what, sizeof(p->what), "%s", what);
    p->start_us = now_us();
    /* Plain lines start one interval in: a command done in less prints only its final line. */
    p->last_us = p->start_us;
}

void cli_progress_start(cli_progress *p, const etl_cli *cli, const char *what)
{
    cli_progress_mode mode = CLI_PROGRESS_OFF;
    size_t width = 0;
    /* Lines logged as the command goes (-v, --debug-*) would land inside a line redrawn. */
    bool logs = cli->log.verbosity > 0 || cli->log.debug_sql || cli->log.debug_mem;
    if (cli->progress_lines || (logs && isatty(STDERR_FILENO))) {
        mode = CLI_PROGRESS_LINES;
    } else if (cli->log.verbosity >= 0 && isatty(STDERR_FILENO)) {
        mode = CLI_PROGRESS_TTY;
        struct winsize ws;
        width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    }
    cli_progress_init(p, mode, stderr, width, etl_now_us, what);
}

bool cli_progress_on(const cli_progress *p)
{
    return p->mode != CLI_PROGRESS_OFF;
}

static void draw(cli_progress *p, long long now)
{
    char line[sizeof(p->what) + sizeof(p->text) + 16];
    int n = snprintf(line, sizeof(line), "etl: %s: %s", p->what, p->text);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (p->mode == CLI_PROGRESS_LINES) {
        fprintf(p->out, "%s\n", line);
    } else {
        /* One column short of the width: a full row makes some terminals wrap early. */
        if (p->width > 1 && len > p->width - 1)
            len = p->width - 1;
        fprintf(p->out, "\r%.*s", (int)len, line);
        if (p->drawn > len)
            fprintf(p->out, "%*s", (int)(p->drawn - len), "");
        p->drawn = len > p->drawn ? len : p->drawn;
    }
    fflush(p->out);
    p->last_us = now;
    p->stale = false;
}

void cli_progress_update(cli_progress *p, const char *fmt, ...)
{
    if (p->mode == CLI_PROGRESS_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->text, sizeof(p->text), fmt, ap);
    va_end(ap);
    p->stale = true;
    long long now = p->now_us();
    /* A terminal gets its first draw at once; plain lines wait for the first interval. */
    bool first = p->mode == CLI_PROGRESS_TTY && p->drawn == 0;
    if (first || now - p->last_us >= p->interval_us)
        draw(p, now);
}

void cli_progress_end(cli_progress *p)
{
    if (p->mode == CLI_PROGRESS_OFF)
        return;
    if (p->stale)
        draw(p, p->now_us());
    if (p->mode == CLI_PROGRESS_TTY && p->drawn > 0) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = 0;
    p->stale = false;
}

void cli_progress_fmt_duration(char *out, size_t cap, double secs)
{
    long s = secs > 0 ? (long)(secs + 0.5) : 0;
    if (s < 60)
        snprintf(out, cap, "%lds", s);
    else if (s < 3600)
        snprintf(out, cap, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(out, cap, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

void cli_progress_fmt_count(char *out, size_t cap, size_t done, size_t total, const char *unit,
                            long long elapsed_us)
{
    int n = total ? snprintf(out, cap, "%zu/%zu %s", done, total, unit)
                  : snprintf(out, cap, "%zu %s", done, unit);
    if (n < 0 || (size_t)n >= cap || done == 0 || elapsed_us <= 0)
        return;
    double rate = (double)done / ((double)elapsed_us / 1e6);
    char r[32];
    if (rate >= 1e6)
        snprintf(r, sizeof(r), "%.1fM", rate / 1e6);
    else if (rate >= 1e4)
        snprintf(r, sizeof(r), "%.0fk", rate / 1e3);
    else
        snprintf(r, sizeof(r), "%.0f", rate);
    char eta[48] = "";
    if (total > done) {
        char d[32];
        cli_progress_fmt_duration(d, sizeof(d), (double)(total - done) / rate);
        snprintf(eta, sizeof(eta), ", ETA %s", d);
    }
    snprintf(out + n, cap - (size_t)n, ", %s/s%s", r, eta);
}
