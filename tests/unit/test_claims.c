/*
 * How many queue rows an in-place run claims at a time (src/prod/prod.h,
 * etl_prod_claim_size): the batch size alone; with --jobs, a shrinking
 * share of what is left, so that the workers finish together.  Expected
 * values worked out by hand from the rule, not taken from the code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "prod.h"

static const struct {
    size_t left, batch;
    int jobs;
    size_t expected;
    const char *why;
} cases[] = {
    {24000, 10000, 1, 10000, "alone: the batch"},
    {3, 10000, 1, 10000, "alone: the batch, however little is left"},
    {24000, 40, 0, 40, "alone: the batch"},
    {24000, 10000, 2, 6000, "a 2*jobs-th of what is left"},
    {18000, 10000, 2, 4500, "a 2*jobs-th of what is left"},
    {2001, 10000, 2, 501, "a 2*jobs-th, rounded up"},
    {24000, 10000, 4, 3000, "a 2*jobs-th of what is left"},
    {300, 200, 2, 75, "a 2*jobs-th of what is left"},
    {100000, 10000, 2, 10000, "never more than the batch"},
    {40001, 10000, 2, 10000, "never more than the batch"},
    {1995, 10000, 2, 500, "never less than a 20th of the batch"},
    {3, 10000, 2, 500, "never less than a 20th of the batch"},
    {0, 10000, 2, 500, "never less than a 20th of the batch"},
    {20, 10, 2, 5, "a 2*jobs-th of what is left"},
    {0, 10, 2, 1, "never less than one row"},
};

static void test_claims_follow_the_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = etl_prod_claim_size(cases[i].left, cases[i].jobs, cases[i].batch);
        if (got != cases[i].expected)
            fail_msg("%zu left, --jobs %d, --batch-size %zu: claim %zu, expected %zu (%s)",
                     cases[i].left, cases[i].jobs, cases[i].batch, got, cases[i].expected,
                     cases[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_follow_the_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
