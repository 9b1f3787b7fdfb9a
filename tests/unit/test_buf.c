/* The growable buffer every module builds strings in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* etl_grow doubles from 16, keeps what is there, and refuses sizes that wrap. */
static void test_grow_doubles_keeps_and_refuses_sizes_that_wrap(void **state)
{
    (void)state;
    long *a = NULL;
    size_t cap = 0;
    assert_int_equal(etl_grow((void **)&a, &cap, 1, sizeof(*a)), ETL_OK);
    assert_int_equal(cap, 16);
    for (long i = 0; i < 16; i++)
        a[i] = i;
    assert_int_equal(etl_grow((void **)&a, &cap, 16, sizeof(*a)), ETL_OK);
    assert_int_equal(cap, 16); /* room enough: nothing moves */
    assert_int_equal(etl_grow((void **)&a, &cap, 17, sizeof(*a)), ETL_OK);
    assert_int_equal(cap, 32);
    assert_int_equal(etl_grow((void **)&a, &cap, 100, sizeof(*a)), ETL_OK);
    assert_int_equal(cap, 128); /* doubled until it holds need */
    for (long i = 0; i < 16; i++)
        assert_int_equal(a[i], i);
    long *before = a;
    assert_int_equal(etl_grow((void **)&a, &cap, SIZE_MAX / sizeof(*a) + 1, sizeof(*a)),
                     ETL_ERR_NOMEM);
    assert_int_equal(etl_grow((void **)&a, &cap, SIZE_MAX / 2 + 1, 2), ETL_ERR_NOMEM);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 128);
    free(a);
}

typedef struct named {
    const char *name;
    int value;
} named;

/* etl_find_named and etl_buf_names read the same tables: the name first. */
static void test_find_named_finds_exact_names_only(void **state)
{
    (void)state;
    static const named table[] = {{"chunked", 1}, {"copy", 2}, {"copy-text", 3}};
    const named *n = etl_find_named(table, 3, sizeof(table[0]), "copy");
    assert_non_null(n);
    assert_int_equal(n->value, 2);
    assert_null(etl_find_named(table, 3, sizeof(table[0]), "cop"));
    assert_null(etl_find_named(table, 3, sizeof(table[0]), "copy-text-x"));
    assert_null(etl_find_named(table, 0, sizeof(table[0]), "chunked"));
    etl_buf names = ETL_BUF_INIT;
    assert_string_equal(etl_buf_names(&names, table, 3, sizeof(table[0])),
                        "chunked, copy, copy-text");
    etl_buf_release(&names);
    assert_string_equal(etl_buf_names(&names, table, 0, sizeof(table[0])), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_keeps_a_terminator),
        cmocka_unit_test(test_buf_reserve_refuses_sizes_that_wrap),
        cmocka_unit_test(test_grow_doubles_keeps_and_refuses_sizes_that_wrap),
        cmocka_unit_test(test_find_named_finds_exact_names_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
