/*
 * Answer types and event batch bookkeeping.  A batch grows to the largest
 * chunk it ever held and is reset, not freed, between chunks.
 */
#include "etl/row.h"
#include "etl/error.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

const char *etl_answer_type_name(etl_answer_type t)
{
    static const char *const names[] = {"number", "text", "boolean", "date"};
    return (unsigned)t < 4 ? names[t] : "?";
}

int etl_answer_type_parse(const char *s, etl_answer_type *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, etl_answer_type_name((etl_answer_type)i)) == 0) {
            *out = (etl_answer_type)i;
            return 0;
        }
    }
    return -1;
}

void etl_event_batch_init(etl_event_batch *b, const char *processed_on)
{
    memset(b, 0, sizeof(*b));
    b->processed_on = processed_on;
}

void etl_event_batch_release(etl_event_batch *b)
{
    free(b->events);
    etl_buf_release(&b->strings);
    b->events = NULL;
    b->count = b->cap = 0;
}

void etl_event_batch_reset(etl_event_batch *b)
{
    b->count = 0;
    etl_buf_reset(&b->strings);
}

void etl_event_batch_truncate(etl_event_batch *b, size_t count, size_t strings_len)
{
    b->count = count;
    b->strings.len = strings_len;
    if (b->strings.data)
        b->strings.data[strings_len] = '\0';
}

etl_event *etl_event_batch_push(etl_event_batch *b)
{
    if (b->count == b->cap &&
        etl_grow((void **)&b->events, &b->cap, b->count + 1, sizeof(*b->events)) != ETL_OK)
        return NULL;
    etl_event *e = &b->events[b->count++];
    memset(e, 0, sizeof(*e));
    return e;
}
