/*
 * The progress line without a terminal or a database: what it writes to a
 * memory stream under a clock the test moves by hand, so rate limiting is
 * checked without ever waiting or reading the real time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "progress.h"

/* The fake clock, µs: a test moves it between updates. */
static long long fake_now;

static long long fake_clock(void)
{
    return fake_now;
}

typedef struct sink {
    char *data;
    size_t len;
    FILE *f;
} sink;

static int sink_setup(void **state)
{
    sink *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->f = open_memstream(&s->data, &s->len);
    assert_non_null(s->f);
    fake_now = 1000000;
    *state = s;
    return 0;
}

static int sink_teardown(void **state)
{
    sink *s = *state;
    fclose(s->f);
    free(s->data);
    free(s);
    return 0;
}

/* Everything written so far. */
static const char *written(sink *s)
{
    fflush(s->f);
    return s->data ? s->data : "";
}

static void test_progress_tty_redraws_at_most_every_100ms(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_TTY, s->f, 0, fake_clock, "job");
    cli_progress_update(&p, "a1");
    fake_now += 50000;
    cli_progress_update(&p, "a2"); /* too soon: recorded, not drawn */
    assert_string_equal(written(s), "\retl: job: a1");
    fake_now += 60000;
    cli_progress_update(&p, "a3");
    assert_string_equal(written(s), "\retl: job: a1\retl: job: a3");
    fake_now += 10000;
    cli_progress_update(&p, "a4");
    /* The end shows the final state even though the interval has not passed. */
    cli_progress_end(&p);
    assert_string_equal(written(s), "\retl: job: a1\retl: job: a3\retl: job: a4\n");
    cli_progress_end(&p); /* a second end adds nothing */
    assert_string_equal(written(s), "\retl: job: a1\retl: job: a3\retl: job: a4\n");
}

static void test_progress_tty_clears_rest_of_longer_line(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_TTY, s->f, 0, fake_clock, "j");
    cli_progress_update(&p, "123456");
    fake_now += CLI_PROGRESS_TTY_US;
    cli_progress_update(&p, "12");
    assert_string_equal(written(s), "\retl: j: 123456\retl: j: 12    ");
}

static void test_progress_tty_cut_to_terminal_width(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_TTY, s->f, 12, fake_clock, "job");
    cli_progress_update(&p, "0123456789");
    cli_progress_end(&p);
    /* 11 columns: one short of the width, so the terminal never wraps it. */
    assert_string_equal(written(s), "\retl: job: 0\n");
}

static void test_progress_lines_every_interval_and_at_end(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_LINES, s->f, 0, fake_clock, "job");
    cli_progress_update(&p, "b1"); /* before the first interval: nothing yet */
    assert_string_equal(written(s), "");
    fake_now += CLI_PROGRESS_LINES_US;
    cli_progress_update(&p, "b2");
    fake_now += 1000000;
    cli_progress_update(&p, "b3");
    assert_string_equal(written(s), "etl: job: b2\n");
    cli_progress_end(&p);
    assert_string_equal(written(s), "etl: job: b2\netl: job: b3\n");
}

static void test_progress_end_shows_nothing_not_shown_before(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_LINES, s->f, 0, fake_clock, "job");
    fake_now += CLI_PROGRESS_LINES_US;
    cli_progress_update(&p, "c1");
    cli_progress_end(&p); /* c1 is already out: no repeat */
    assert_string_equal(written(s), "etl: job: c1\n");

    cli_progress q;
    cli_progress_init(&q, CLI_PROGRESS_TTY, s->f, 0, fake_clock, "job");
    cli_progress_end(&q); /* never updated: no empty line */
    assert_string_equal(written(s), "etl: job: c1\n");
}

static void test_progress_off_writes_nothing(void **state)
{
    sink *s = *state;
    cli_progress p;
    cli_progress_init(&p, CLI_PROGRESS_OFF, s->f, 0, fake_clock, "job");
    assert_false(cli_progress_on(&p));
    cli_progress_update(&p, "d1");
    fake_now += CLI_PROGRESS_LINES_US;
    cli_progress_update(&p, "d2");
    cli_progress_end(&p);
    assert_string_equal(written(s), "");
}

static void test_progress_fmt_duration(void **state)
{
    (void)state;
    char b[32];
    cli_progress_fmt_duration(b, sizeof(b), 0);
    assert_string_equal(b, "0s");
    cli_progress_fmt_duration(b, sizeof(b), 59.4);
    assert_string_equal(b, "59s");
    cli_progress_fmt_duration(b, sizeof(b), 185);
    assert_string_equal(b, "3m05s");
    cli_progress_fmt_duration(b, sizeof(b), 2 * 3600 + 7 * 60 + 30);
    assert_string_equal(b, "2h07m");
}

static void test_progress_fmt_count(void **state)
{
    (void)state;
    char b[128];
    /* 250 in 2 s: 125/s, and 750 left take 6 s. */
    cli_progress_fmt_count(b, sizeof(b), 250, 1000, "rows", 2000000);
    assert_string_equal(b, "250/1000 rows, 125/s, ETA 6s");
    /* Unknown total: no ETA. */
    cli_progress_fmt_count(b, sizeof(b), 250, 0, "rows", 2000000);
    assert_string_equal(b, "250 rows, 125/s");
    /* Nothing done yet: no rate to speak of. */
    cli_progress_fmt_count(b, sizeof(b), 0, 1000, "rows", 2000000);
    assert_string_equal(b, "0/1000 rows");
    /* Done: no ETA; large rates get a suffix. */
    cli_progress_fmt_count(b, sizeof(b), 3000000, 3000000, "rows", 2000000);
    assert_string_equal(b, "3000000/3000000 rows, 1.5M/s");
    cli_progress_fmt_count(b, sizeof(b), 50000, 100000, "rows", 2000000);
    assert_string_equal(b, "50000/100000 rows, 25k/s, ETA 2s");
    /* A small buffer is cut, never overrun. */
    char small[8];
    cli_progress_fmt_count(small, sizeof(small), 250, 1000, "rows", 2000000);
    assert_string_equal(small, "250/100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_progress_tty_redraws_at_most_every_100ms, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_progress_tty_clears_rest_of_longer_line, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_progress_tty_cut_to_terminal_width, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_progress_lines_every_interval_and_at_end, sink_setup,
                                        sink_teardown),
        cmocka_unit_test_setup_teardown(test_progress_end_shows_nothing_not_shown_before,
                                        sink_setup, sink_teardown),
        cmocka_unit_test_setup_teardown(test_progress_off_writes_nothing, sink_setup,
                                        sink_teardown),
        cmocka_unit_test(test_progress_fmt_duration),
        cmocka_unit_test(test_progress_fmt_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
