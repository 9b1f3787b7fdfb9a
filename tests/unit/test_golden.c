/*
 * Golden tests: each folder under tests/data/golden holds a form schema, a
 * responses document and the events expected from them, written by hand
 * (expected.tsv: path, value in COPY text escaping, answer type, tag or \N),
 * or reject.txt with words the rejection reason must contain.  Adding a case
 * is adding a folder.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/transformer.h"
#include "harness.h"

static int fetch_file(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    (void)form_id;
    (void)err;
    char *text = etl_test_read(ctx);
    int rc = etl_buf_puts(out, text);
    free(text);
    return rc;
}

static void run_case(const char *dir, const char *name)
{
    char schema[4096];
    char responses[4096];
    char expected[4096];
    char reject[4096];
    snprintf(schema, sizeof(schema), "%s/%s/schema.json", dir, name);
    snprintf(responses, sizeof(responses), "%s/%s/responses.json", dir, name);
    snprintf(expected, sizeof(expected), "%s/%s/expected.tsv", dir, name);
    snprintf(reject, sizeof(reject), "%s/%s/reject.txt", dir, name);

    etl_transformer_cfg cfg = {
        .form_cache = 16, .max_depth = 64, .fetch = fetch_file, .fetch_ctx = schema};
    etl_transformer t;
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_transformer_flatten_new(&t, &cfg, &err), ETL_OK);
    char *json = etl_test_read(responses);
    etl_submission sub = {.id = name,
                          .form_id = "golden",
                          .form_name = "Golden",
                          .user_full_name = "Ada Lovelace",
                          .responses = json,
                          .responses_len = strlen(json)};
    etl_event_batch b;
    etl_event_batch_init(&b, "2026-01-01 00:00:00+00");
    int rc = t.ops->apply(t.state, &sub, &b, &err);

    if (access(reject, R_OK) == 0) {
        char *want = etl_test_read(reject);
        want[strcspn(want, "\n")] = '\0';
        if (rc != ETL_ERR_INPUT)
            fail_msg("%s: expected a reject (%s), got %d", name, want, rc);
        if (!strstr(err.msg, want))
            fail_msg("%s: reason '%s' lacks '%s'", name, err.msg, want);
        assert_int_equal(b.count, 0);
        free(want);
    } else {
        if (rc != ETL_OK)
            fail_msg("%s: %s", name, err.msg);
        etl_buf got = ETL_BUF_INIT;
        etl_buf_puts(&got, "");
        for (size_t i = 0; i < b.count; i++) {
            const etl_event *e = &b.events[i];
            const char *tag = etl_event_tag(&b, e);
            etl_buf_printf(&got, "%s\t", etl_event_path(&b, e));
            etl_buf_put_copy_text(&got, etl_event_value(&b, e), e->value_len);
            etl_buf_printf(&got, "\t%s\t", etl_answer_type_name(e->type));
            if (tag)
                etl_buf_put_copy_text(&got, tag, strlen(tag));
            else
                etl_buf_puts(&got, "\\N");
            etl_buf_putc(&got, '\n');
        }
        char *want = etl_test_read(expected);
        if (strcmp(got.data, want) != 0)
            fail_msg("%s: events differ\n--- expected\n%s--- got\n%s", name, want, got.data);
        free(want);
        etl_buf_release(&got);
    }
    free(json);
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
}

static void test_golden_cases(void **state)
{
    (void)state;
    const char *dir = ETL_TEST_DATA "/golden";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int cases = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        run_case(dir, e->d_name);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 5); /* a missing data folder must not pass silently */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
