/* The growable buffer every module builds strings in, and the memory figures of base/mem.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/buf.h"
#include "etl/error.h"
#include "etl/mem.h"

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

/* A child that touches mib MiB, says so on ready, and exits once done[1] is closed. */
static pid_t child_holding(size_t mib, int ready, const int done[2])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(done[1]); /* the parent's alone, so that closing it ends the read below */
        volatile char *p = malloc(mib << 20); /* volatile: the stores are not optimized out */
        for (size_t i = 0; p && i < mib << 20; i += 4096)
            p[i] = 1; /* every page resident */
        char c = p ? 'y' : 'n';
        if (write(ready, &c, 1) != 1)
            _exit(1);
        close(ready); /* a sibling that dies before writing then ends the parent's read */
        while (read(done[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    return pid;
}

/* bench samples a --jobs run's largest worker: 40 MiB here, not the 1 MiB one or the sum. */
static void test_largest_child_is_the_largest_worker(void **state)
{
    (void)state;
    assert_int_equal(etl_mem_rss_kib_largest_child(getpid()), 0); /* no children yet */
    int ready[2];
    int done[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    pid_t small = child_holding(1, ready[1], done);
    pid_t big = child_holding(40, ready[1], done);
    close(done[0]);
    close(ready[1]);
    for (int k = 0; k < 2; k++) {
        char c = 0;
        assert_int_equal(read(ready[0], &c, 1), 1);
        assert_int_equal(c, 'y');
    }
    long kib = etl_mem_rss_kib_largest_child(getpid());
    long big_kib = etl_mem_rss_kib_of(big);
    assert_true(big_kib >= 40L * 1024);
    assert_int_equal(kib, big_kib);
    assert_true(kib < big_kib + etl_mem_rss_kib_of(small)); /* one child's, not their sum */
    close(done[1]);
    assert_int_equal(waitpid(small, NULL, 0), small);
    assert_int_equal(waitpid(big, NULL, 0), big);
    close(ready[0]);
    assert_int_equal(etl_mem_rss_kib_largest_child(getpid()), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_keeps_a_terminator),
        cmocka_unit_test(test_buf_reserve_refuses_sizes_that_wrap),
        cmocka_unit_test(test_grow_doubles_keeps_and_refuses_sizes_that_wrap),
        cmocka_unit_test(test_find_named_finds_exact_names_only),
        cmocka_unit_test(test_largest_child_is_the_largest_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
