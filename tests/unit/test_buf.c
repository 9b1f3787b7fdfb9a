/* The growable buffer every module builds strings in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "etl/buf.h"
#include "etl/error.h"

static void test_buf_grows_and_keeps_a_terminator(void **state)
{
    (void)state;
    etl_buf b = ETL_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(etl_buf_printf(&b, "%d,", i % 10), ETL_OK);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(b.data), 2000);
    assert_memory_equal(b.data + 1990, "5,6,7,8,9,", 10);
    etl_buf_release(&b);
}

/* A size that wraps len + extra around is out of memory, never a small buffer. */
static void test_buf_reserve_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    etl_buf b = ETL_BUF_INIT;
    assert_int_equal(etl_buf_reserve(&b, SIZE_MAX), ETL_ERR_NOMEM);
    assert_int_equal(etl_buf_puts(&b, "0123456789"), ETL_OK);
    assert_int_equal(etl_buf_reserve(&b, SIZE_MAX - 5), ETL_ERR_NOMEM);
    assert_int_equal(etl_buf_reserve(&b, SIZE_MAX - 10), ETL_ERR_NOMEM);
    assert_string_equal(b.data, "0123456789");
    etl_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_keeps_a_terminator),
        cmocka_unit_test(test_buf_reserve_refuses_sizes_that_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
