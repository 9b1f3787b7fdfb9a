/*
 * The exit-code table in src/cmd/exitcodes.h is the one source: docs/cli.md's
 * table must carry exactly its codes with exactly its meanings, README.md's
 * summary must name every code, and `etl --help` prints them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exitcodes.h"
#include "harness.h"

typedef struct exit_code {
    int number;
    const char *meaning;
} exit_code;

static const exit_code codes[] = {
#define ETL_EXIT_ROW(name, number, meaning) {(number), (meaning)},
    ETL_EXIT_CODES(ETL_EXIT_ROW)
#undef ETL_EXIT_ROW
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

/* The text of a source file, and the part of it from start up to end (or its end). */
static char *section(const char *file, const char *start, const char *end)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/../%s", ETL_TEST_SCENARIOS, file);
    char *text = etl_test_read(path);
    assert_non_null(text);
    char *from = strstr(text, start);
    if (!from) {
        fail_msg("%s has no '%s'", file, start);
        return text; /* not reached: fail_msg ends the test */
    }
    char *to = strstr(from + strlen(start), end);
    if (to)
        *to = '\0';
    char *out = strdup(from);
    free(text);
    return out;
}

static void test_docs_table_is_the_code_table(void **state)
{
    (void)state;
    char *table = section("docs/cli.md", "## Exit status", "\n## ");
    for (size_t i = 0; i < NCODES; i++) {
        char row[512];
        snprintf(row, sizeof(row), "\n| %d | %s |", codes[i].number, codes[i].meaning);
        if (!strstr(table, row))
            fail_msg("docs/cli.md's exit status table lacks the row%s", row);
    }
    size_t rows = 0;
    for (const char *p = table; (p = strstr(p, "\n| ")) != NULL; p++)
        if (p[3] >= '0' && p[3] <= '9')
            rows++;
    if (rows != NCODES)
        fail_msg("docs/cli.md documents %zu exit codes, the code has %zu", rows, NCODES);
    free(table);
}

static void test_readme_names_every_code(void **state)
{
    (void)state;
    char *para = section("README.md", "Exit status:", "\n\n");
    for (size_t i = 0; i < NCODES; i++) {
        char word[16];
        snprintf(word, sizeof(word), " %d ", codes[i].number);
        /* Line breaks count as spaces. */
        for (char *p = para; *p; p++)
            if (*p == '\n')
                *p = ' ';
        if (!strstr(para, word))
            fail_msg("README.md's exit status summary does not name %d (%s)", codes[i].number,
                     codes[i].meaning);
    }
    free(para);
}

static void test_help_prints_every_code(void **state)
{
    (void)state;
    const char *args[] = {"--help", NULL};
    etl_run run;
    etl_test_run(&run, args);
    assert_int_equal(run.status, 0);
    for (size_t i = 0; i < NCODES; i++) {
        char line[512];
        snprintf(line, sizeof(line), "%2d  %s\n", codes[i].number, codes[i].meaning);
        if (!strstr(run.out.data, line))
            fail_msg("etl --help lacks the line '%s'", line);
    }
    etl_run_release(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_table_is_the_code_table),
        cmocka_unit_test(test_readme_names_every_code),
        cmocka_unit_test(test_help_prints_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
