/*
 * In place, --jobs N without --batch-size: the claim size that lets the
 * workers finish together (etl_prod_jobs_batch, production.h).  Expected
 * values are worked out by hand from the rule: the queue in 4 claims per
 * worker, rounded up, within 1,000..10,000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "etl/production.h"

static void test_jobs_batch_splits_the_queue_evenly(void **state)
{
    (void)state;
    static const struct {
        size_t queued;
        int jobs;
        size_t batch;
    } cases[] = {
        {24000, 2, 3000}, /* xlarge's first run: 8 claims, 4 per worker, not 10,000 x 2 + 4,000 */
        {24001, 2, 3001}, /* rounded up: never a ninth claim of one change */
        {24000, 3, 2000}, /* 12 claims */
        {1000000, 2, 10000}, /* a large queue: the single run's default, no more */
        {300, 2, 1000},      /* a small queue: one claim, not 8 commits of 38 */
        {0, 2, 1000},        /* nothing queued */
        {80000, 2, 10000},   /* exactly 8 claims of the default */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (etl_prod_jobs_batch(cases[i].queued, cases[i].jobs) != cases[i].batch)
            fail_msg("%zu queued, --jobs %d: claims of %zu, expected %zu", cases[i].queued,
                     cases[i].jobs, etl_prod_jobs_batch(cases[i].queued, cases[i].jobs),
                     cases[i].batch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_batch_splits_the_queue_evenly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
