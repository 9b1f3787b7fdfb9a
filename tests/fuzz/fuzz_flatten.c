/*
 * Fuzz target: the response walk and event formatting.  The input is a
 * submission's responses; the form is one of the shipped-like schemas below,
 * picked by the input's length so every schema gets traffic.  Invariants
 * checked beyond "no crash": a rejected submission leaves no events and has
 * a reason; every event's value is NUL-free text of the length it claims;
 * COPY formatting of it never yields a raw tab or newline.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etl/flatten.h"
#include "etl/transformer.h"

static const char *const schemas[] = {
    "{\"slug\":\"r\",\"children\":[{\"slug\":\"root\",\"children\":["
    "{\"slug\":\"falls\",\"answerType\":\"number\",\"tag\":\"risk\"},"
    "{\"slug\":\"internet_access\",\"children\":[{\"slug\":\"tablet\",\"answerType\":\"boolean\"},"
    "{\"slug\":\"note\",\"answerType\":\"text\"}]},"
    "{\"slug\":\"seen\",\"answerType\":\"date\"}]},{\"slug\":\"a\",\"answerType\":\"text\"}]}",
    "{\"children\":[{\"slug\":\"a\",\"answerType\":\"text\"},{\"slug\":\"b\",\"answerType\":"
    "\"number\"},{\"slug\":\"c\",\"children\":[{\"slug\":\"d\",\"answerType\":\"date\"},"
    "{\"slug\":\"e\",\"children\":[{\"slug\":\"f\",\"answerType\":\"boolean\"}]}]}]}",
    "{\"children\":[{\"slug\":\"x\",\"answerType\":\"colour\"}]}", /* unusable */
};

static int fetch(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    (void)ctx;
    (void)err;
    return etl_buf_puts(out, schemas[form_id[0] - '0']);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static etl_transformer t;
    static int ready;
    if (!ready) {
        etl_transformer_cfg cfg = {.form_cache = 2,
                                   .max_depth = 64,
                                   .max_bytes = 1 << 20,
                                   .fetch = fetch,
                                   .fetch_ctx = NULL};
        etl_error err;
        if (etl_transformer_flatten_new(&t, &cfg, &err) != ETL_OK)
            abort();
        ready = 1;
    }
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char form[2] = {(char)('0' + size % 3), '\0'};
    etl_submission s = {.id = "s",
                        .form_id = form,
                        .form_name = "f",
                        .user_id = "u",
                        .user_full_name = "n",
                        .created = "c",
                        .responses = text,
                        .responses_len = size};
    etl_event_batch b;
    etl_event_batch_init(&b, "now");
    etl_error err;
    etl_error_clear(&err);
    int rc = t.ops->apply(t.state, &s, &b, &err);
    if (rc == ETL_ERR_INPUT) {
        assert(b.count == 0);
        assert(err.reason != NULL && err.msg[0] != '\0');
    } else {
        assert(rc == ETL_OK);
        etl_buf line = ETL_BUF_INIT;
        for (size_t i = 0; i < b.count; i++) {
            const etl_event *e = &b.events[i];
            const char *v = etl_event_value(&b, e);
            assert(strlen(v) == e->value_len);
            assert(etl_event_path(&b, e)[0] != '\0');
            etl_buf_reset(&line);
            etl_buf_put_copy_text(&line, v, e->value_len);
            assert(!line.data ||
                   (!memchr(line.data, '\t', line.len) && !memchr(line.data, '\n', line.len)));
        }
        etl_buf_release(&line);
    }
    etl_event_batch_release(&b);
    free(text);
    return 0;
}
