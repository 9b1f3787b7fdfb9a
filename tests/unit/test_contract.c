/*
 * The stage contract suite: the same cases run against every extractor,
 * loader and transformer in the registry, and every runner of the runner
 * registry through the real etl_pipeline_run (with every extractor x
 * loader for a runner with stages), on the fake etl_db seam
 * (tests/support/fake_db.c), so no server is needed.  Expected values are
 * written out by hand, never taken from the code under test.  Every case
 * also checks that the stage left the connection as the seam wants it: no
 * result unfreed, no COPY open, no seam misuse.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etl/pipeline.h"
#include "etl/registry.h"
#include "etl/runner.h"
#include "fake_db.h"

/* ---- the data, literally ------------------------------------------------------ */

#define FORM_A "f0f0f0f0-0000-4000-8000-00000000000a"
#define FORM_B "f0f0f0f0-0000-4000-8000-00000000000b"
#define FORM_GONE "f0f0f0f0-0000-4000-8000-0000000000ff"
#define USER_1 "c0c0c0c0-0000-4000-8000-0000000000c1"
#define USER_2 "c0c0c0c0-0000-4000-8000-0000000000c2"
#define USER_GONE "c0c0c0c0-0000-4000-8000-0000000000ff"
#define SUB_1 "a1a1a1a1-0000-4000-8000-000000000001"
#define SUB_2 "a1a1a1a1-0000-4000-8000-000000000002"
#define SUB_3 "a1a1a1a1-0000-4000-8000-000000000003"
#define CREATED_1 "2024-03-01 10:00:00+00"
#define CREATED_2 "2024-03-01 10:05:30.25+00"
#define CREATED_3 "2024-03-02 08:00:00+00"
#define PROCESSED "2024-06-30 23:59:59.123456+00"
#define FORM_A_NAME "Daily check-in"
#define FORM_B_NAME "Intake\t\"B\" \\ ✓"
#define TABLE "dwh.response_events"

#define SCHEMA_A                                                                                   \
    "{\"slug\": \"checkin\", \"children\": [{\"slug\": \"root\", \"children\": ["                  \
    "{\"slug\": \"falls\", \"answerType\": \"number\", \"tag\": \"risk\"},"                        \
    "{\"slug\": \"note\", \"answerType\": \"text\"},"                                              \
    "{\"slug\": \"tablet\", \"answerType\": \"boolean\"},"                                         \
    "{\"slug\": \"seen\", \"answerType\": \"date\", \"tag\": \"visit\"}]}]}"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Loaders are built with this many events per statement: the ±1 cases are around it. */
#define LOAD_BATCH 4

/* ---- the cases, one record per (strategy, case) ----------------------------------- */

typedef struct spec spec;
typedef void (*case_fn)(const spec *s);

struct spec {
    const char *kind;     /* "extractor", "loader", "transformer", "pipeline" */
    const char *strategy; /* registry name (for a pipeline: "runner extractor+flatten+loader") */
    const char *name;     /* the case */
    const etl_extractor_entry *x;
    const etl_loader_entry *l;
    const etl_transformer_entry *t;
    const etl_runner_entry *r; /* a pipeline case: the runner etl_pipeline_run must pick */
    case_fn fn;
    char pair[64]; /* the strategy of a pipeline case */
    char title[160];
};

/* ---- checks shared by every case --------------------------------------------------- */

/* What every stage must leave behind on its connection, whatever happened. */
static void assert_seam_clean(const etl_db *db, const char *when)
{
    if (etl_fake_db_misuse(db))
        fail_msg("%s: the seam was misused: %s", when, etl_fake_db_misuse(db));
    if (etl_fake_db_live_results(db))
        fail_msg("%s: %zu results never freed", when, etl_fake_db_live_results(db));
    if (etl_fake_db_in_copy(db))
        fail_msg("%s: a COPY is still open", when);
}

/* A failure as the contract wants it: negative, the seam's reason in the message. */
static void assert_failed_with_reason(int rc, const etl_error *err, const char *what)
{
    if (rc >= 0)
        fail_msg("%s: returned %d, not a negative error", what, rc);
    if (!err->msg[0])
        fail_msg("%s: returned %d with an empty message", what, rc);
    if (!strstr(err->msg, "injected failure"))
        fail_msg("%s: the message lost the server's reason: %s", what, err->msg);
    if (err->code != rc)
        fail_msg("%s: returned %d but err->code is %d", what, rc, err->code);
}

static void assert_str_or_null(const char *got, const char *want, const char *what, size_t row)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(got, want) != 0)
        fail_msg("row %zu, %s: got %s%s%s, expected %s%s%s", row, what, got ? "\"" : "",
                 got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
                 want ? "\"" : "");
}

/* Every call made since call `from` is one of `allowed` (prefixes of the logged lines). */
static void assert_calls_only(etl_db *db, size_t from, const char *const *allowed, size_t n,
                              const char *when)
{
    for (size_t i = from; i < etl_fake_db_calls(db); i++) {
        const char *line = etl_fake_db_call(db, i);
        size_t k = 0;
        while (k < n && strncmp(line, allowed[k], strlen(allowed[k])) != 0)
            k++;
        if (k == n)
            fail_msg("%s: unexpected call \"%s\"; calls:\n%s", when, line,
                     etl_fake_db_trace(db, from));
    }
}

/* ---- extractors ------------------------------------------------------------------- */

/* The id of generated submission i (0-based). */
static void gen_id(size_t i, char out[37])
{
    snprintf(out, 37, "a1a1a1a1-0000-4000-8000-%012zu", i + 1);
}

/*
 * n submissions of FORM_A by USER_1 and USER_2 in turn, one minute apart,
 * each answering "falls" (submission i: i) and then whatever `more` adds.
 */
static void add_answers(etl_db *db, size_t n, const char *more)
{
    etl_fake_db_add_form(db, FORM_A, FORM_A_NAME, SCHEMA_A);
    etl_fake_db_add_user(db, USER_1, "Ada", "Lovelace");
    etl_fake_db_add_user(db, USER_2, "Grace", "Hopper");
    for (size_t i = 0; i < n; i++) {
        char id[37];
        char created[64];
        char responses[128];
        gen_id(i, id);
        size_t minute = 600 + i; /* from 2024-03-01 00:00: the first at 10:00 */
        snprintf(created, sizeof(created), "2024-03-%02zu %02zu:%02zu:00+00", 1 + minute / 1440,
                 minute / 60 % 24, minute % 60);
        snprintf(responses, sizeof(responses), "{\"root\": {\"falls\": %zu%s}}", i, more);
        etl_fake_db_add_submission(db, id, FORM_A, i % 2 ? USER_2 : USER_1, created, responses);
    }
}

/* n submissions of one answer each (add_answers). */
static void add_generated(etl_db *db, size_t n)
{
    add_answers(db, n, "");
}

static void x_new(const spec *s, etl_extractor *x, etl_db *db, size_t batch_rows)
{
    etl_extractor_cfg cfg = {.batch_rows = batch_rows, .filter = NULL, .log = NULL};
    etl_error err;
    etl_error_clear(&err);
    int rc = s->x->ctor(x, &cfg, db, &err);
    if (rc != ETL_OK)
        fail_msg("%s: constructor failed: %d %s", s->title, rc, err.msg);
    assert_non_null(x->ops);
    assert_non_null(x->state);
}

static void x_open(etl_extractor *x)
{
    etl_error err;
    etl_error_clear(&err);
    int rc = x->ops->open(x->state, &err);
    if (rc != ETL_OK)
        fail_msg("open failed: %d %s", rc, err.msg);
}

/*
 * Read to ETL_DONE, checking every batch's size; the ids read go to ids
 * (cap of them), their number to *n, the number of batches to *batches.
 */
static void x_drain(etl_extractor *x, size_t batch_rows, char (*ids)[37], size_t cap, size_t *n,
                    size_t *batches)
{
    *n = 0;
    *batches = 0;
    for (;;) {
        etl_submission_batch b = {NULL, 99};
        etl_error err;
        etl_error_clear(&err);
        int rc = x->ops->next(x->state, &b, &err);
        if (rc == ETL_DONE) {
            assert_int_equal(b.count, 0);
            return;
        }
        if (rc != ETL_OK)
            fail_msg("next failed: %d %s", rc, err.msg);
        if (b.count < 1 || b.count > batch_rows)
            fail_msg("batch of %zu submissions; batch_rows is %zu", b.count, batch_rows);
        (*batches)++;
        for (size_t i = 0; i < b.count; i++) {
            if (*n == cap)
                fail_msg("more than %zu submissions read", cap);
            snprintf(ids[(*n)++], 37, "%s", b.rows[i].id);
        }
    }
}

static void x_assert_done_after_done(etl_extractor *x, etl_db *db)
{
    size_t calls = etl_fake_db_calls(db);
    for (int k = 0; k < 3; k++) {
        etl_submission_batch b = {NULL, 99};
        etl_error err;
        etl_error_clear(&err);
        assert_int_equal(x->ops->next(x->state, &b, &err), ETL_DONE);
        assert_int_equal(b.count, 0);
    }
    if (etl_fake_db_calls(db) != calls)
        fail_msg("next after ETL_DONE went to the server: %s", etl_fake_db_trace(db, calls));
}

/* After destroy: the connection as it was lent (no transaction, cursor or query left). */
static void x_assert_returned(const etl_db *db, const char *when)
{
    assert_seam_clean(db, when);
    if (etl_fake_db_in_transaction(db))
        fail_msg("%s: a transaction is still open", when);
    if (etl_fake_db_cursors(db))
        fail_msg("%s: a cursor is still open", when);
    if (etl_fake_db_query_in_flight(db))
        fail_msg("%s: a query is still in flight (its result never collected)", when);
}

static void x_empty(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_extractor x;
    x_new(s, &x, db, 10);
    x_open(&x);
    etl_submission_batch b = {NULL, 99};
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(x.ops->next(x.state, &b, &err), ETL_DONE);
    assert_int_equal(b.count, 0);
    x_assert_done_after_done(&x, db);
    x.ops->destroy(x.state);
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

/* Every column of the submissions lent out, against the rows as the test wrote them. */
static void x_columns(const spec *s, size_t batch_rows)
{
    static const char resp_1[] = "{\"root\": {\"falls\": 2}}";
    static const char resp_3[] = "{\"root\": {\"note\": \"tab\\there\"}}";
    etl_db *db = etl_fake_db_new();
    etl_fake_db_add_form(db, FORM_A, FORM_A_NAME, SCHEMA_A);
    etl_fake_db_add_user(db, USER_1, "Ada", "Lovelace");
    etl_fake_db_add_user(db, USER_2, NULL, "Hopper");
    /* Added out of order: extractors lend them in date_created, id order. */
    etl_fake_db_add_submission(db, SUB_3, FORM_GONE, USER_2, CREATED_3, resp_3);
    etl_fake_db_add_submission(db, SUB_1, FORM_A, USER_1, CREATED_1, resp_1);
    etl_fake_db_add_submission(db, SUB_2, FORM_A, USER_GONE, CREATED_2, "{}");
    static const struct {
        const char *id, *form_id, *form_name, *schema, *user_id, *user_name, *created, *resp;
    } want[] = {
        {SUB_1, FORM_A, FORM_A_NAME, SCHEMA_A, USER_1, "Ada Lovelace", CREATED_1, resp_1},
        {SUB_2, FORM_A, FORM_A_NAME, SCHEMA_A, USER_GONE, NULL, CREATED_2, "{}"},
        {SUB_3, FORM_GONE, NULL, NULL, USER_2, " Hopper", CREATED_3, resp_3},
    };
    etl_extractor x;
    x_new(s, &x, db, batch_rows);
    x_open(&x);
    size_t n = 0;
    for (;;) {
        etl_submission_batch b = {NULL, 0};
        etl_error err;
        etl_error_clear(&err);
        int rc = x.ops->next(x.state, &b, &err);
        if (rc == ETL_DONE)
            break;
        assert_int_equal(rc, ETL_OK);
        for (size_t i = 0; i < b.count; i++, n++) {
            assert_true(n < COUNT(want));
            const etl_submission *r = &b.rows[i];
            assert_str_or_null(r->id, want[n].id, "id", n);
            assert_str_or_null(r->form_id, want[n].form_id, "form_id", n);
            assert_str_or_null(r->form_name, want[n].form_name, "form_name", n);
            /* The schema may be left to the transformer's fetch (NULL), never wrong. */
            if (r->form_schema)
                assert_str_or_null(r->form_schema, want[n].schema, "form_schema", n);
            assert_str_or_null(r->user_id, want[n].user_id, "user_id", n);
            assert_str_or_null(r->user_full_name, want[n].user_name, "user_full_name", n);
            assert_str_or_null(r->created, want[n].created, "created", n);
            assert_str_or_null(r->responses, want[n].resp, "responses", n);
            assert_int_equal(r->responses_len, strlen(want[n].resp));
        }
    }
    assert_int_equal(n, COUNT(want));
    x.ops->destroy(x.state);
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

static void x_one_row(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    add_generated(db, 1);
    etl_extractor x;
    x_new(s, &x, db, 10);
    x_open(&x);
    etl_submission_batch b = {NULL, 0};
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(x.ops->next(x.state, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    assert_string_equal(b.rows[0].id, "a1a1a1a1-0000-4000-8000-000000000001");
    assert_string_equal(b.rows[0].form_name, FORM_A_NAME);
    assert_string_equal(b.rows[0].user_full_name, "Ada Lovelace");
    assert_string_equal(b.rows[0].created, "2024-03-01 10:00:00+00");
    assert_string_equal(b.rows[0].responses, "{\"root\": {\"falls\": 0}}");
    assert_int_equal(x.ops->next(x.state, &b, &err), ETL_DONE);
    assert_int_equal(b.count, 0);
    x_assert_done_after_done(&x, db);
    x.ops->destroy(x.state);
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

static void x_all_columns(const spec *s)
{
    x_columns(s, 10);
}

static void x_all_columns_batch_of_one(const spec *s)
{
    x_columns(s, 1);
}

/* rows submissions read with batch_rows per batch: each once, in order, in want_batches. */
static void x_batches(const spec *s, size_t rows, size_t batch_rows, size_t want_batches)
{
    etl_db *db = etl_fake_db_new();
    add_generated(db, rows);
    etl_extractor x;
    x_new(s, &x, db, batch_rows);
    x_open(&x);
    char(*ids)[37] = calloc(rows + 1, sizeof(*ids));
    assert_non_null(ids);
    size_t n = 0;
    size_t batches = 0;
    x_drain(&x, batch_rows, ids, rows + 1, &n, &batches);
    assert_int_equal(n, rows);
    assert_int_equal(batches, want_batches);
    for (size_t i = 0; i < rows; i++) {
        char id[37];
        gen_id(i, id);
        if (strcmp(ids[i], id) != 0)
            fail_msg("submission %zu is %s, expected %s (each once, oldest first)", i, ids[i], id);
    }
    free(ids);
    x_assert_done_after_done(&x, db);
    size_t c0 = etl_fake_db_calls(db);
    x.ops->destroy(x.state);
    static const char *const cleanup[] = {"exec ROLLBACK", "exec COMMIT", "exec CLOSE"};
    assert_calls_only(db, c0, cleanup, COUNT(cleanup), "destroy");
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

static void x_batch_minus_one(const spec *s)
{
    x_batches(s, 5, 4, 2);
}

static void x_batch_exact(const spec *s)
{
    x_batches(s, 5, 5, 1);
}

static void x_batch_plus_one(const spec *s)
{
    x_batches(s, 5, 6, 1);
}

static void x_batch_multiple(const spec *s)
{
    x_batches(s, 6, 2, 3); /* the last FETCH of a chunked read comes back empty */
}

static void x_batch_of_one(const spec *s)
{
    x_batches(s, 3, 1, 3);
}

static void x_destroy_null_and_after_failed_open(const spec *s)
{
    etl_extractor x;
    etl_db *db = etl_fake_db_new();
    x_new(s, &x, db, 10);
    x.ops->destroy(NULL);
    add_generated(db, 3);
    etl_fake_db_fail_at(db, 1);
    etl_error err;
    etl_error_clear(&err);
    int rc = x.ops->open(x.state, &err);
    assert_true(etl_fake_db_fault_fired(db));
    assert_failed_with_reason(rc, &err, "open with its first call failing");
    x.ops->destroy(x.state);
    x_assert_returned(db, "destroy after a failed open");
    etl_fake_db_free(db);
}

static void x_filter_and_order_reach_the_query(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    add_generated(db, 2);
    etl_extractor x;
    etl_extractor_cfg cfg = {
        .batch_rows = 10, .filter = "s.form_id IS NOT NULL", .order = "s.id", .log = NULL};
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(s->x->ctor(&x, &cfg, db, &err), ETL_OK);
    x_open(&x);
    size_t found = 0;
    for (size_t i = 0; i < etl_fake_db_calls(db); i++)
        found += strstr(etl_fake_db_call_sql(db, i), "WHERE s.form_id IS NOT NULL ORDER BY s.id") !=
                 NULL;
    if (found != 1)
        fail_msg("the filter and order are in %zu statements, expected 1:\n%s", found,
                 etl_fake_db_trace(db, 0));
    x.ops->destroy(x.state);
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

/* Destroyed after the first of several batches: the connection must be usable again. */
static void x_destroy_midway(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    add_generated(db, 5);
    etl_extractor x;
    x_new(s, &x, db, 2);
    x_open(&x);
    etl_submission_batch b = {NULL, 0};
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(x.ops->next(x.state, &b, &err), ETL_OK);
    x.ops->destroy(x.state);
    x_assert_returned(db, "destroy after the first batch");
    /* The same connection, lent to a second extractor: it reads everything. */
    x_new(s, &x, db, 2);
    x_open(&x);
    char ids[6][37];
    size_t n = 0;
    size_t batches = 0;
    x_drain(&x, 2, ids, COUNT(ids), &n, &batches);
    assert_int_equal(n, 5);
    x.ops->destroy(x.state);
    x_assert_returned(db, "after destroy");
    etl_fake_db_free(db);
}

/*
 * The happy run on a fresh fake: ctor, open, next to ETL_DONE, destroy.
 * Returns the last code; *run is the number of seam calls before destroy.
 */
static int x_full_run(const spec *s, etl_db *db, size_t fail_at, size_t *run, etl_error *err)
{
    etl_extractor x;
    x_new(s, &x, db, 2);
    size_t c0 = etl_fake_db_calls(db);
    etl_fake_db_fail_at(db, fail_at);
    int rc = x.ops->open(x.state, err);
    size_t rows = 0;
    while (rc == ETL_OK) {
        etl_submission_batch b = {NULL, 0};
        rc = x.ops->next(x.state, &b, err);
        if (rc == ETL_OK) {
            /* Touch every string lent out: ASan sees a batch freed too early. */
            for (size_t i = 0; i < b.count; i++)
                assert_true(strlen(b.rows[i].id) + strlen(b.rows[i].responses) > 0);
            rows += b.count;
        }
    }
    *run = etl_fake_db_calls(db) - c0;
    if (rc == ETL_DONE)
        assert_int_equal(rows, 5);
    x.ops->destroy(x.state);
    return rc;
}

static void x_fault_injection(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    add_generated(db, 5);
    etl_error err;
    etl_error_clear(&err);
    size_t run = 0;
    assert_int_equal(x_full_run(s, db, 0, &run, &err), ETL_DONE);
    size_t total = etl_fake_db_calls(db);
    x_assert_returned(db, "after the happy run");
    etl_fake_db_free(db);
    assert_true(run >= 1);
    print_message("      %s: %zu seam calls (%zu in open/next), each failed in turn\n", s->title,
                  total, run);
    for (size_t n = 1; n <= total; n++) {
        db = etl_fake_db_new();
        add_generated(db, 5);
        etl_error_clear(&err);
        size_t made = 0;
        int rc = x_full_run(s, db, n, &made, &err);
        if (!etl_fake_db_fault_fired(db))
            fail_msg("call %zu of %zu was never made", n, total);
        char what[96];
        snprintf(what, sizeof(what), "call %zu (%s) failing", n, etl_fake_db_call(db, n - 1));
        if (n <= run)
            assert_failed_with_reason(rc, &err, what);
        else if (rc != ETL_DONE) /* destroy's own call: nothing to report it to */
            fail_msg("%s: the run returned %d", what, rc);
        x_assert_returned(db, what);
        etl_fake_db_free(db);
    }
}

/* ---- loaders ---------------------------------------------------------------------- */

/* An event as the test writes it. */
typedef struct ev {
    const char *path;
    const char *value;
    const char *tag;
    int sub; /* 0 or 1: which submission */
    etl_answer_type type;
} ev;

/* The submissions the events belong to (copied for every write, as borrowed ones are). */
static const etl_submission loader_subs[2] = {
    {.id = SUB_1,
     .form_id = FORM_A,
     .form_name = FORM_A_NAME,
     .form_schema = NULL,
     .user_id = USER_1,
     .user_full_name = "Ada Lovelace",
     .created = CREATED_1,
     .responses = "{}",
     .responses_len = 2},
    {.id = SUB_2,
     .form_id = FORM_B,
     .form_name = FORM_B_NAME,
     .form_schema = NULL,
     .user_id = USER_2,
     .user_full_name = "Grace\nO\\Hopper",
     .created = CREATED_2,
     .responses = "{}",
     .responses_len = 2},
};

static const ev events[] = {
    {"root.falls", "2", "risk", 0, ETL_ANSWER_NUMBER},
    {"root.note", "tab\there", NULL, 0, ETL_ANSWER_TEXT},
    {"root.tablet", "true", NULL, 0, ETL_ANSWER_BOOLEAN},
    {"root.seen", "2024-02-29", "visit", 0, ETL_ANSWER_DATE},
    {"root.note", "line\nbreak\r\nand back\\slash", NULL, 1, ETL_ANSWER_TEXT},
    {"root.other", "\\N", "t\tag", 1, ETL_ANSWER_TEXT},
    {"root.empty", "", "ünïcödé ✓", 1, ETL_ANSWER_TEXT},
};

/* What the server must hold for events[i], in ETL_EVENT_COLUMNS order. */
static const char *const expected[][ETL_EVENT_NCOLS] = {
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.falls", "2", "number", "risk"},
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.note", "tab\there", "text", NULL},
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.tablet", "true", "boolean", NULL},
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.seen", "2024-02-29", "date", "visit"},
    {FORM_B, "Intake\t\"B\" \\ ✓", USER_2, "Grace\nO\\Hopper", SUB_2, "2024-03-01 10:05:30.25+00",
     "2024-06-30 23:59:59.123456+00", "root.note", "line\nbreak\r\nand back\\slash", "text", NULL},
    {FORM_B, "Intake\t\"B\" \\ ✓", USER_2, "Grace\nO\\Hopper", SUB_2, "2024-03-01 10:05:30.25+00",
     "2024-06-30 23:59:59.123456+00", "root.other", "\\N", "text", "t\tag"},
    {FORM_B, "Intake\t\"B\" \\ ✓", USER_2, "Grace\nO\\Hopper", SUB_2, "2024-03-01 10:05:30.25+00",
     "2024-06-30 23:59:59.123456+00", "root.empty", "", "text", "ünïcödé ✓"},
};

static const char *const column_names[ETL_EVENT_NCOLS] = {
    "form_id",       "form_name",          "user_id",      "user_full_name",
    "submission_id", "submission_created", "processed_on", "schema_path",
    "value",         "answer_type",        "tag"};

/*
 * What one write borrows: its own copies of the submissions (freed when the
 * write returns, so a loader keeping pointers past it is caught by ASan)
 * and the event batch.
 */
typedef struct lent {
    etl_submission subs[2];
    char *strings[2][7]; /* the submissions' strings, owned here */
    etl_event_batch b;
} lent;

static const char *lend(char **keep, const char *s)
{
    *keep = strdup(s);
    assert_non_null(*keep);
    return *keep;
}

static void put_string(etl_buf *b, const char *s, size_t *off)
{
    *off = b->len;
    assert_int_equal(etl_buf_append(b, s, strlen(s) + 1), ETL_OK);
}

static lent *lent_new(const ev *evs, size_t from, size_t to)
{
    lent *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    for (int i = 0; i < 2; i++) {
        const etl_submission *t = &loader_subs[i];
        etl_submission *s = &l->subs[i];
        char **k = l->strings[i];
        s->id = lend(&k[0], t->id);
        s->form_id = lend(&k[1], t->form_id);
        s->form_name = lend(&k[2], t->form_name);
        s->user_id = lend(&k[3], t->user_id);
        s->user_full_name = lend(&k[4], t->user_full_name);
        s->created = lend(&k[5], t->created);
        s->responses = lend(&k[6], t->responses);
        s->responses_len = t->responses_len;
    }
    etl_event_batch_init(&l->b, PROCESSED);
    for (size_t i = from; i < to; i++) {
        size_t path = 0;
        size_t value = 0;
        size_t tag = ETL_NO_TAG;
        put_string(&l->b.strings, evs[i].path, &path);
        put_string(&l->b.strings, evs[i].value, &value);
        if (evs[i].tag)
            put_string(&l->b.strings, evs[i].tag, &tag);
        etl_event *e = etl_event_batch_push(&l->b);
        assert_non_null(e);
        e->sub = &l->subs[evs[i].sub];
        e->path_off = path;
        e->value_off = value;
        e->value_len = strlen(evs[i].value);
        e->tag_off = tag;
        e->type = evs[i].type;
    }
    return l;
}

static void lent_free(lent *l)
{
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 7; k++)
            free(l->strings[i][k]);
    etl_event_batch_release(&l->b);
    free(l);
}

/* A loader under test, with the cfg it was built from (borrowed by the loader). */
typedef struct lctx {
    etl_loader ld;
    etl_loader_cfg cfg;
    volatile sig_atomic_t stop;
    etl_db *db;
} lctx;

static void l_new(const spec *s, lctx *c, etl_db *db, const char *table)
{
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->cfg.batch_rows = LOAD_BATCH;
    c->cfg.table = table;
    c->cfg.stop = &c->stop;
    etl_error err;
    etl_error_clear(&err);
    int rc = s->l->ctor(&c->ld, &c->cfg, db, &err);
    if (rc != ETL_OK)
        fail_msg("%s: constructor failed: %d %s", s->title, rc, err.msg);
    assert_non_null(c->ld.ops);
    assert_non_null(c->ld.state);
}

/* Write evs[from, to) in nwrites calls of write(), each on freshly lent memory. */
static int l_write(lctx *c, const ev *evs, size_t from, size_t to, size_t nwrites, etl_error *err)
{
    size_t n = to - from;
    for (size_t w = 0; w < nwrites; w++) {
        size_t a = from + n * w / nwrites;
        size_t b = from + n * (w + 1) / nwrites;
        lent *l = lent_new(evs, a, b);
        int rc = c->ld.ops->write(c->ld.state, &l->b, err);
        lent_free(l);
        if (rc != ETL_OK)
            return rc;
    }
    return ETL_OK;
}

/*
 * One batch as the pipeline runs it (the test plays the pipeline's part,
 * outside the seam's call count): BEGIN, begin, write, flush, end(true),
 * COMMIT; on a failure end(false) and ROLLBACK.  The first failure.
 */
static int l_batch(lctx *c, const ev *evs, size_t from, size_t to, size_t nwrites, etl_error *err)
{
    size_t had = etl_fake_db_tx_rows(c->db);
    assert_int_equal(etl_fake_db_run(c->db, "BEGIN"), ETL_OK);
    const etl_loader_ops *o = c->ld.ops;
    int rc = o->begin(c->ld.state, err);
    if (rc == ETL_OK)
        rc = l_write(c, evs, from, to, nwrites, err);
    if (rc == ETL_OK && o->flush)
        rc = o->flush(c->ld.state, err);
    if (rc == ETL_OK)
        rc = o->end(c->ld.state, true, err);
    if (rc != ETL_OK) {
        etl_error ignored;
        etl_error_clear(&ignored);
        size_t in_tx = etl_fake_db_tx_rows(c->db);
        o->end(c->ld.state, false, &ignored);
        /* Abandoning sends nothing more into the transaction (an aborted COPY adds no rows). */
        if (etl_fake_db_tx_rows(c->db) > in_tx)
            fail_msg("end(false) after a failure added %zu rows to the transaction",
                     etl_fake_db_tx_rows(c->db) - in_tx);
        assert_int_equal(etl_fake_db_run(c->db, "ROLLBACK"), ETL_OK);
        return rc;
    }
    /* end(true) has sent everything: the whole batch is in the transaction. */
    if (etl_fake_db_tx_rows(c->db) - had != to - from)
        fail_msg("after end(true) the transaction holds %zu of the batch's %zu events",
                 etl_fake_db_tx_rows(c->db) - had, to - from);
    assert_int_equal(etl_fake_db_run(c->db, "COMMIT"), ETL_OK);
    return ETL_OK;
}

/* Committed rows [at, at + n) hold want[0, n) in table. */
static void assert_committed(const etl_db *db, size_t at,
                             const char *const (*want)[ETL_EVENT_NCOLS], size_t n,
                             const char *table)
{
    for (size_t i = 0; i < n; i++) {
        const etl_fake_row *r = etl_fake_db_committed_row(db, at + i);
        if (!r) {
            fail_msg("row %zu was not committed (%zu were)", at + i, etl_fake_db_committed(db));
            return;
        }
        assert_string_equal(r->table, table);
        for (int c = 0; c < ETL_EVENT_NCOLS; c++)
            assert_str_or_null(r->col[c], want[i][c], column_names[c], at + i);
    }
}

static void l_check_batch(const spec *s, size_t n, size_t nwrites)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    int rc = l_batch(&c, events, 0, n, nwrites, &err);
    if (rc != ETL_OK)
        fail_msg("%zu events: %d %s", n, rc, err.msg);
    assert_int_equal(etl_fake_db_committed(db), n);
    assert_int_equal(etl_fake_db_commits(db), 1);
    assert_committed(db, 0, expected, n, TABLE);
    assert_seam_clean(db, "after the batch");
    assert_false(etl_fake_db_in_transaction(db));
    size_t c0 = etl_fake_db_calls(db);
    c.ld.ops->destroy(c.ld.state);
    static const char *const cleanup[] = {"exec DEALLOCATE"};
    assert_calls_only(db, c0, cleanup, COUNT(cleanup), "destroy");
    assert_seam_clean(db, "after destroy");
    assert_int_equal(etl_fake_db_prepared(db), 0);
    etl_fake_db_free(db);
}

static void l_empty(const spec *s)
{
    l_check_batch(s, 0, 1); /* write() with no events */
    /* The pipeline skips write() when a batch has no events: begin, flush, end only. */
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    assert_int_equal(c.ld.ops->begin(c.ld.state, &err), ETL_OK);
    if (c.ld.ops->flush)
        assert_int_equal(c.ld.ops->flush(c.ld.state, &err), ETL_OK);
    int rc = c.ld.ops->end(c.ld.state, true, &err);
    if (rc != ETL_OK)
        fail_msg("end(true) of a batch with no write: %d %s", rc, err.msg);
    assert_false(etl_fake_db_tx_failed(db));
    assert_int_equal(etl_fake_db_run(db, "COMMIT"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    assert_seam_clean(db, "after the batch");
    c.ld.ops->destroy(c.ld.state);
    etl_fake_db_free(db);
}

static void l_one(const spec *s)
{
    l_check_batch(s, 1, 1);
}

static void l_batch_minus_one(const spec *s)
{
    l_check_batch(s, LOAD_BATCH - 1, 1);
}

static void l_batch_exact(const spec *s)
{
    l_check_batch(s, LOAD_BATCH, 1);
}

static void l_batch_plus_one(const spec *s)
{
    l_check_batch(s, LOAD_BATCH + 1, 1);
}

static void l_two_writes(const spec *s)
{
    l_check_batch(s, COUNT(events), 2);
}

static void l_one_write_per_event(const spec *s)
{
    l_check_batch(s, COUNT(events), COUNT(events));
}

static void l_two_batches(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(l_batch(&c, events, 0, 3, 1, &err), ETL_OK);
    assert_int_equal(l_batch(&c, events, 3, COUNT(events), 2, &err), ETL_OK);
    assert_int_equal(etl_fake_db_commits(db), 2);
    assert_int_equal(etl_fake_db_committed(db), COUNT(events));
    assert_committed(db, 0, expected, COUNT(events), TABLE);
    c.ld.ops->destroy(c.ld.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
}

static void l_other_table(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, "dwh.verify_events");
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(l_batch(&c, events, 0, 2, 1, &err), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 2);
    assert_committed(db, 0, expected, 2, "dwh.verify_events");
    c.ld.ops->destroy(c.ld.state);
    etl_fake_db_free(db);
}

/* A batch big enough that COPY sends it in several pieces (over 64 KiB): 3000 events. */
#define LARGE 3000
typedef struct large {
    ev evs[LARGE];
    char paths[LARGE][16];
    char values[LARGE][200];
} large;

static large *large_new(void)
{
    large *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    for (size_t i = 0; i < LARGE; i++) {
        snprintf(g->paths[i], sizeof(g->paths[i]), "root.q%04zu", i);
        /* 150 bytes of value, a tab in it, so every piece has escapes in text COPY */
        snprintf(g->values[i], sizeof(g->values[i]), "value %04zu\t%0140zu", i, i);
        g->evs[i] = (ev){g->paths[i], g->values[i], NULL, (int)(i / 7 % 2), ETL_ANSWER_TEXT};
    }
    return g;
}

/* The rows of a large batch, checked against what the test generated. */
static void assert_large_committed(const etl_db *db, const large *g)
{
    assert_int_equal(etl_fake_db_committed(db), LARGE);
    for (size_t i = 0; i < LARGE; i++) {
        const etl_fake_row *r = etl_fake_db_committed_row(db, i);
        if (!r) {
            fail_msg("row %zu was not committed", i);
            return;
        }
        const char *const *want = expected[g->evs[i].sub ? 4 : 0];
        for (int c = 0; c < 7; c++) /* the submission's columns, as in the literal rows */
            assert_str_or_null(r->col[c], want[c], column_names[c], i);
        char value[200];
        snprintf(value, sizeof(value), "value %04zu\t%0140zu", i, i);
        assert_str_or_null(r->col[7], g->paths[i], "schema_path", i);
        assert_str_or_null(r->col[8], value, "value", i);
        assert_str_or_null(r->col[9], "text", "answer_type", i);
        assert_str_or_null(r->col[10], NULL, "tag", i);
    }
}

static void l_large(const spec *s)
{
    large *g = large_new();
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    int rc = l_batch(&c, g->evs, 0, LARGE, 3, &err);
    if (rc != ETL_OK)
        fail_msg("%d %s", rc, err.msg);
    assert_large_committed(db, g);
    c.ld.ops->destroy(c.ld.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
    free(g);
}

/*
 * Fault injection: count the seam calls K of a clean run (a batch already
 * committed first if `after_one`), then for each n in `points` make call n
 * fail: a negative code with the server's reason, and nothing of the
 * failed batch committed; a failure in destroy's own call changes nothing.
 */
static void l_faults(const spec *s, const ev *evs, size_t nevs, size_t nwrites, bool after_one,
                     bool sample)
{
    size_t first = after_one ? 3 : 0;
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    if (after_one)
        assert_int_equal(l_batch(&c, evs, 0, first, 1, &err), ETL_OK);
    size_t c0 = etl_fake_db_calls(db);
    assert_int_equal(l_batch(&c, evs, first, nevs, nwrites, &err), ETL_OK);
    size_t run = etl_fake_db_calls(db) - c0;
    c.ld.ops->destroy(c.ld.state);
    size_t total = etl_fake_db_calls(db) - c0;
    etl_fake_db_free(db);
    print_message("      %s: %zu seam calls (%zu before destroy)%s\n", s->title, total, run,
                  sample ? ", some failed in turn" : ", each failed in turn");
    for (size_t n = 1; n <= total; n++) {
        if (sample && !(n <= 3 || n == run / 2 || n + 2 >= run))
            continue; /* the first calls, one in the middle, the last ones, destroy's */
        db = etl_fake_db_new();
        l_new(s, &c, db, NULL);
        etl_error_clear(&err);
        if (after_one)
            assert_int_equal(l_batch(&c, evs, 0, first, 1, &err), ETL_OK);
        etl_fake_db_fail_at(db, n);
        size_t before = etl_fake_db_committed(db);
        int rc = l_batch(&c, evs, first, nevs, nwrites, &err);
        char what[96];
        snprintf(what, sizeof(what), "call %zu of %zu failing", n, total);
        if (n <= run) {
            if (!etl_fake_db_fault_fired(db))
                fail_msg("%s: never made", what);
            snprintf(what, sizeof(what), "call %zu (%s) failing", n,
                     etl_fake_db_call(db, c0 + n - 1));
            assert_failed_with_reason(rc, &err, what);
            if (etl_fake_db_committed(db) != before)
                fail_msg("%s: %zu rows of the failed batch committed", what,
                         etl_fake_db_committed(db) - before);
        } else if (rc != ETL_OK) {
            fail_msg("%s: the batch failed before it: %d %s", what, rc, err.msg);
        }
        assert_seam_clean(db, what);
        c.ld.ops->destroy(c.ld.state);
        assert_seam_clean(db, what);
        if (after_one)
            assert_committed(db, 0, expected, first, TABLE);
        if (n > run)
            assert_int_equal(etl_fake_db_committed(db), nevs);
        etl_fake_db_free(db);
    }
}

static void l_fault_injection(const spec *s)
{
    l_faults(s, events, COUNT(events), 2, false, false);
}

static void l_fault_in_second_batch(const spec *s)
{
    l_faults(s, events, COUNT(events), 2, true, false);
}

static void l_fault_injection_large(const spec *s)
{
    large *g = large_new();
    l_faults(s, g->evs, LARGE, 2, false, true);
    free(g);
}

/* The pipeline calls end(false) after a begin that failed: nothing to abandon, no harm. */
static void l_end_after_failed_begin(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    etl_fake_db_fail_at(db, 1);
    int rc = c.ld.ops->begin(c.ld.state, &err);
    if (etl_fake_db_fault_fired(db))
        assert_failed_with_reason(rc, &err, "begin with its first call failing");
    else
        assert_int_equal(rc, ETL_OK); /* begin needs no server: nothing there can fail */
    etl_fake_db_fail_at(db, 0);
    etl_error_clear(&err);
    rc = c.ld.ops->end(c.ld.state, false, &err);
    if (rc != ETL_OK)
        fail_msg("end(false) after a failed begin: %d %s", rc, err.msg);
    assert_seam_clean(db, "end(false) after a failed begin");
    assert_int_equal(etl_fake_db_run(db, "ROLLBACK"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    c.ld.ops->destroy(c.ld.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
}

/*
 * A healthy batch abandoned (the transformer failed, or the run was told to
 * stop between submissions): end(false) drops it without sending any of it,
 * and the loader's next batch carries nothing over.
 */
static void l_abandon(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    const etl_loader_ops *o = c.ld.ops;
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    assert_int_equal(o->begin(c.ld.state, &err), ETL_OK);
    assert_int_equal(l_write(&c, events, 0, 5, 2, &err), ETL_OK);
    size_t in_tx = etl_fake_db_tx_rows(db);
    size_t c0 = etl_fake_db_calls(db);
    int rc = o->end(c.ld.state, false, &err);
    if (rc != ETL_OK)
        fail_msg("end(false): %d %s", rc, err.msg);
    static const char *const abort_only[] = {"copy_end abort"};
    assert_calls_only(db, c0, abort_only, COUNT(abort_only), "end(false)");
    if (etl_fake_db_tx_rows(db) != in_tx)
        fail_msg("end(false) added %zu rows to the transaction", etl_fake_db_tx_rows(db) - in_tx);
    assert_seam_clean(db, "after end(false)");
    assert_int_equal(etl_fake_db_run(db, "ROLLBACK"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    assert_int_equal(l_batch(&c, events, 5, COUNT(events), 1, &err), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 2);
    assert_committed(db, 0, expected + 5, 2, TABLE);
    o->destroy(c.ld.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
}

/* After end(true) the pipeline may still abandon the batch (a before_commit hook failed). */
static void l_end_false_after_end_true(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    const etl_loader_ops *o = c.ld.ops;
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    assert_int_equal(o->begin(c.ld.state, &err), ETL_OK);
    assert_int_equal(l_write(&c, events, 0, 3, 1, &err), ETL_OK);
    if (o->flush)
        assert_int_equal(o->flush(c.ld.state, &err), ETL_OK);
    assert_int_equal(o->end(c.ld.state, true, &err), ETL_OK);
    assert_int_equal(etl_fake_db_tx_rows(db), 3);
    size_t c0 = etl_fake_db_calls(db);
    int rc = o->end(c.ld.state, false, &err);
    if (rc != ETL_OK)
        fail_msg("end(false) after end(true): %d %s", rc, err.msg);
    assert_seam_clean(db, "end(false) after end(true)");
    if (etl_fake_db_tx_failed(db))
        fail_msg("end(false) after end(true) failed the transaction");
    if (etl_fake_db_calls(db) != c0)
        fail_msg("end(false) after end(true) went to the server: %s", etl_fake_db_trace(db, c0));
    assert_int_equal(etl_fake_db_run(db, "ROLLBACK"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    /* And the loader goes on with the next batch. */
    assert_int_equal(l_batch(&c, events, 3, 5, 1, &err), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 2);
    assert_committed(db, 0, expected + 3, 2, TABLE);
    o->destroy(c.ld.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
}

static void l_destroy_null_and_failed_ctor(const spec *s)
{
    etl_loader ld = {NULL, NULL};
    etl_db *db = etl_fake_db_new();
    /* More events per statement than PostgreSQL's 65535 parameters allow. */
    etl_loader_cfg cfg = {.batch_rows = 100000, .table = NULL, .stop = NULL, .log = NULL};
    etl_error err;
    etl_error_clear(&err);
    int rc = s->l->ctor(&ld, &cfg, db, &err);
    assert_non_null(ld.ops);
    ld.ops->destroy(NULL);
    if (rc != ETL_OK) {
        assert_true(rc < 0);
        assert_null(ld.state);
        assert_true(err.msg[0] != '\0');
    }
    ld.ops->destroy(ld.state); /* NULL after a failed constructor */
    assert_int_equal(etl_fake_db_calls(db), 0);
    etl_fake_db_free(db);
}

/* loader.h: "stop: when set, stop within the current write". */
static void l_stop_before_write(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    assert_int_equal(c.ld.ops->begin(c.ld.state, &err), ETL_OK);
    size_t c0 = etl_fake_db_calls(db);
    c.stop = 1;
    int rc = l_write(&c, events, 0, COUNT(events), 1, &err);
    bool in_write = rc != ETL_OK;
    /* A loader that only keeps events in write() may stop in flush(), before sending any. */
    if (rc == ETL_OK && etl_fake_db_calls(db) == c0 && c.ld.ops->flush)
        rc = c.ld.ops->flush(c.ld.state, &err);
    if (rc != ETL_ERR_INTERRUPTED)
        fail_msg("stop set: %s returned %d, not ETL_ERR_INTERRUPTED; calls since: %s",
                 in_write ? "write" : "write and flush", rc, etl_fake_db_trace(db, c0));
    assert_true(err.msg[0] != '\0');
    if (etl_fake_db_calls(db) != c0)
        fail_msg("stop set, but it went on sending: %s", etl_fake_db_trace(db, c0));
    etl_error ignored;
    assert_int_equal(c.ld.ops->end(c.ld.state, false, &ignored), ETL_OK);
    assert_int_equal(etl_fake_db_run(db, "ROLLBACK"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    assert_seam_clean(db, "after the stop");
    c.ld.ops->destroy(c.ld.state);
    etl_fake_db_free(db);
}

/* The stop flag set while the first statement or piece of data is on its way (a signal). */
static void l_stop_during_write(const spec *s)
{
    large *g = large_new();
    etl_db *db = etl_fake_db_new();
    lctx c;
    l_new(s, &c, db, NULL);
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(etl_fake_db_run(db, "BEGIN"), ETL_OK);
    assert_int_equal(c.ld.ops->begin(c.ld.state, &err), ETL_OK);
    size_t c0 = etl_fake_db_calls(db);
    etl_fake_db_flag_at(db, 1, &c.stop);
    int rc = l_write(&c, g->evs, 0, LARGE, 1, &err);
    if (rc == ETL_OK && c.ld.ops->flush)
        rc = c.ld.ops->flush(c.ld.state, &err);
    if (rc != ETL_ERR_INTERRUPTED)
        fail_msg("stop set during the first call: returned %d after %zu more calls", rc,
                 etl_fake_db_calls(db) - c0 - 1);
    assert_true(c.stop == 1);
    if (etl_fake_db_calls(db) != c0 + 1)
        fail_msg("stop set during call 1; %zu more calls followed", etl_fake_db_calls(db) - c0 - 1);
    etl_error ignored;
    assert_int_equal(c.ld.ops->end(c.ld.state, false, &ignored), ETL_OK);
    assert_int_equal(etl_fake_db_run(db, "ROLLBACK"), ETL_OK);
    assert_int_equal(etl_fake_db_committed(db), 0);
    assert_seam_clean(db, "after the stop");
    c.ld.ops->destroy(c.ld.state);
    etl_fake_db_free(db);
    free(g);
}

/* In place, a loader is built per batch on one connection: the next must not trip on it. */
static void l_second_loader_same_connection(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_error err;
    etl_error_clear(&err);
    lctx c;
    l_new(s, &c, db, NULL);
    assert_int_equal(l_batch(&c, events, 0, 2, 1, &err), ETL_OK);
    c.ld.ops->destroy(c.ld.state);
    /*
     * The second one's batch fails, as a batch may; the third must still
     * work.  The failing call is its second if it makes two (its first if
     * it makes only one), counted on a scratch connection: it always fires.
     */
    etl_db *scratch = etl_fake_db_new();
    lctx sc;
    l_new(s, &sc, scratch, NULL);
    assert_int_equal(l_batch(&sc, events, 2, 7, 7, &err), ETL_OK);
    size_t calls = etl_fake_db_calls(scratch);
    sc.ld.ops->destroy(sc.ld.state);
    etl_fake_db_free(scratch);
    if (calls == 0)
        fail_msg("%s: a batch of 5 events sent nothing", s->title);
    l_new(s, &c, db, NULL);
    etl_fake_db_fail_at(db, calls >= 2 ? 2 : 1);
    int rc = l_batch(&c, events, 2, 7, 7, &err);
    if (!etl_fake_db_fault_fired(db))
        fail_msg("%s: the second loader's call %d was never made", s->title, calls >= 2 ? 2 : 1);
    assert_failed_with_reason(rc, &err, "the second loader's second call failing");
    c.ld.ops->destroy(c.ld.state);
    size_t had = etl_fake_db_committed(db);
    l_new(s, &c, db, NULL);
    rc = l_batch(&c, events, 2, 7, 1, &err);
    if (rc != ETL_OK)
        fail_msg("a loader on a connection another one used: %d %s", rc, err.msg);
    c.ld.ops->destroy(c.ld.state);
    assert_int_equal(etl_fake_db_committed(db), had + 5);
    assert_committed(db, 0, expected, 2, TABLE);
    assert_committed(db, had, expected + 2, 5, TABLE);
    assert_seam_clean(db, "after three loaders");
    assert_int_equal(etl_fake_db_prepared(db), 0);
    etl_fake_db_free(db);
}

/* ---- transformers ------------------------------------------------------------------ */

/* The transformer's schema fetch, as the pipeline does it: a query on the source. */
static int fetch_schema(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    etl_db *db = ctx;
    etl_result *r = NULL;
    const char *params[1] = {form_id};
    int rc =
        etl_db_query(db, "SELECT schema::text FROM app.forms WHERE id = $1", 1, params, &r, err);
    if (rc != ETL_OK)
        return rc;
    if (etl_result_rows(r) != 1) {
        etl_result_free(r);
        return etl_error_set(err, ETL_ERR_INPUT, "form %s does not exist", form_id);
    }
    rc = etl_buf_append(out, etl_result_get(r, 0, 0), etl_result_len(r, 0, 0));
    etl_result_free(r);
    return rc;
}

static void t_new(const spec *s, etl_transformer *t, etl_db *db)
{
    etl_transformer_cfg cfg = {
        .form_cache = 4, .max_depth = 16, .max_bytes = 0, .fetch = fetch_schema, .fetch_ctx = db};
    etl_error err;
    etl_error_clear(&err);
    int rc = s->t->ctor(t, &cfg, &err);
    if (rc != ETL_OK)
        fail_msg("%s: constructor failed: %d %s", s->title, rc, err.msg);
}

static etl_submission t_sub(const char *responses, const char *schema)
{
    etl_submission sub = {.id = SUB_1,
                          .form_id = FORM_A,
                          .form_name = FORM_A_NAME,
                          .form_schema = schema,
                          .user_id = USER_1,
                          .user_full_name = "Ada Lovelace",
                          .created = CREATED_1,
                          .responses = responses,
                          .responses_len = strlen(responses)};
    return sub;
}

static void t_empty_and_one(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_transformer t;
    t_new(s, &t, db);
    etl_event_batch b;
    etl_event_batch_init(&b, PROCESSED);
    etl_error err;
    etl_error_clear(&err);
    etl_submission empty = t_sub("{}", SCHEMA_A);
    assert_int_equal(t.ops->apply(t.state, &empty, &b, &err), ETL_OK);
    assert_int_equal(b.count, 0);
    etl_submission one = t_sub("{\"root\": {\"falls\": 2.50}}", SCHEMA_A);
    assert_int_equal(t.ops->apply(t.state, &one, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    assert_ptr_equal(b.events[0].sub, &one);
    assert_string_equal(etl_event_path(&b, &b.events[0]), "root.falls");
    assert_string_equal(etl_event_value(&b, &b.events[0]), "2.5");
    assert_int_equal(b.events[0].value_len, 3);
    assert_int_equal(b.events[0].type, ETL_ANSWER_NUMBER);
    assert_string_equal(etl_event_tag(&b, &b.events[0]), "risk");
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
    assert_int_equal(etl_fake_db_calls(db), 0); /* the schema came with the submissions */
    etl_fake_db_free(db);
}

/* A rejected submission leaves the batch exactly as it was, whatever it had appended. */
static void t_reject_keeps_batch(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_transformer t;
    t_new(s, &t, db);
    etl_event_batch b;
    etl_event_batch_init(&b, PROCESSED);
    etl_error err;
    etl_error_clear(&err);
    etl_submission first = t_sub("{\"root\": {\"note\": \"kept\"}}", SCHEMA_A);
    assert_int_equal(t.ops->apply(t.state, &first, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    size_t len = b.strings.len;
    /* Two answers fine, then a string for a boolean: rejected whole. */
    etl_submission bad =
        t_sub("{\"root\": {\"falls\": 1, \"note\": \"x\", \"tablet\": \"no\"}}", SCHEMA_A);
    assert_int_equal(t.ops->apply(t.state, &bad, &b, &err), ETL_ERR_INPUT);
    assert_non_null(err.reason);
    assert_string_equal(err.reason, "type_mismatch");
    assert_true(err.msg[0] != '\0');
    assert_int_equal(b.count, 1);
    assert_int_equal(b.strings.len, len);
    assert_string_equal(etl_event_value(&b, &b.events[0]), "kept");
    /* A dangling user: rejected before anything is appended. */
    etl_submission orphan = t_sub("{\"root\": {\"falls\": 1}}", SCHEMA_A);
    orphan.user_full_name = NULL;
    etl_error_clear(&err);
    assert_int_equal(t.ops->apply(t.state, &orphan, &b, &err), ETL_ERR_INPUT);
    assert_string_equal(err.reason, "unknown_user");
    assert_int_equal(b.count, 1);
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
    etl_fake_db_free(db);
}

/* The schema fetched on a cache miss through the seam: its failure is fatal, not a reject. */
static void t_fetch(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_fake_db_add_form(db, FORM_A, FORM_A_NAME, SCHEMA_A);
    etl_transformer t;
    t_new(s, &t, db);
    etl_event_batch b;
    etl_event_batch_init(&b, PROCESSED);
    etl_error err;
    etl_error_clear(&err);
    etl_submission sub = t_sub("{\"root\": {\"tablet\": true}}", NULL);
    etl_fake_db_fail_at(db, 1);
    int rc = t.ops->apply(t.state, &sub, &b, &err);
    assert_true(etl_fake_db_fault_fired(db));
    assert_failed_with_reason(rc, &err, "the schema fetch failing");
    assert_int_not_equal(rc, ETL_ERR_INPUT);
    assert_int_equal(b.count, 0);
    etl_error_clear(&err);
    assert_int_equal(t.ops->apply(t.state, &sub, &b, &err), ETL_OK);
    assert_int_equal(b.count, 1);
    assert_string_equal(etl_event_path(&b, &b.events[0]), "root.tablet");
    assert_string_equal(etl_event_value(&b, &b.events[0]), "true");
    assert_null(etl_event_tag(&b, &b.events[0]));
    /* A form that does not exist is the submission's fault. */
    sub.form_id = FORM_GONE;
    assert_int_equal(t.ops->apply(t.state, &sub, &b, &err), ETL_ERR_INPUT);
    assert_string_equal(err.reason, "unknown_form");
    assert_int_equal(b.count, 1);
    etl_event_batch_release(&b);
    t.ops->destroy(t.state);
    assert_seam_clean(db, "after destroy");
    etl_fake_db_free(db);
}

static void t_destroy_null(const spec *s)
{
    etl_db *db = etl_fake_db_new();
    etl_transformer t;
    t_new(s, &t, db);
    t.ops->destroy(NULL);
    t.ops->destroy(t.state);
    etl_fake_db_free(db);
}

/* ---- the real runners: etl_pipeline_run on a fake source and a fake target ---------- */

/*
 * These cases call etl_pipeline_run (include/etl/pipeline.h), which hands
 * the run to the processor's runner from the runner registry, and hold it
 * to the call order of loader.h and pipeline.h.  The source and the target
 * are two fakes; every seam call of either is logged with its place among
 * both (etl_fake_db_call_seq), and the loader the pipeline builds is wrapped
 * in a spy (etl_registry_find_loader is linked with --wrap, see
 * tests/CMakeLists.txt) that logs each slot call before forwarding it to
 * the real loader.  So one log holds, in order, the target's statements,
 * the source's (prefixed "src "), the loader's slots ("L:...") and the
 * hooks ("H:...").
 */

#define SUB_4 "a1a1a1a1-0000-4000-8000-000000000004"
#define SUB_5 "a1a1a1a1-0000-4000-8000-000000000005"
#define CREATED_4 "2024-03-02 09:00:00+00"
#define CREATED_5 "2024-03-03 07:30:00.5+00"
#define RUN_EXTRACT_BATCH 3 /* per extractor batch: commits fall inside extractor batches */
#define RUN_COMMIT_EVERY 2
#define RUN_BATCHES 3 /* 5 submissions, 2 per commit */

/* The five submissions: one of them by a user who does not exist (rejected). */
static void run_source(etl_db *src)
{
    etl_fake_db_add_form(src, FORM_A, FORM_A_NAME, SCHEMA_A);
    etl_fake_db_add_user(src, USER_1, "Ada", "Lovelace");
    etl_fake_db_add_user(src, USER_2, "Grace", "Hopper");
    /* Added out of order: they are read in date_created order. */
    etl_fake_db_add_submission(src, SUB_4, FORM_A, USER_1, CREATED_4,
                               "{\"root\": {\"seen\": \"2024-02-29\"}}");
    etl_fake_db_add_submission(src, SUB_1, FORM_A, USER_1, CREATED_1,
                               "{\"root\": {\"falls\": 2, \"note\": \"hi\\tthere\"}}");
    etl_fake_db_add_submission(src, SUB_2, FORM_A, USER_2, CREATED_2,
                               "{\"root\": {\"tablet\": true}}");
    etl_fake_db_add_submission(src, SUB_3, FORM_A, USER_GONE, CREATED_3,
                               "{\"root\": {\"falls\": 1}}");
    etl_fake_db_add_submission(src, SUB_5, FORM_A, USER_2, CREATED_5,
                               "{\"root\": {\"falls\": 2.50}}");
}

/* What the target holds after the whole run, batch after batch. */
static const char *const run_rows[][ETL_EVENT_NCOLS] = {
    /* batch 1: SUB_1, SUB_2 */
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.falls", "2", "number", "risk"},
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_1, "2024-03-01 10:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.note", "hi\tthere", "text", NULL},
    {FORM_A, "Daily check-in", USER_2, "Grace Hopper", SUB_2, "2024-03-01 10:05:30.25+00",
     "2024-06-30 23:59:59.123456+00", "root.tablet", "true", "boolean", NULL},
    /* batch 2: SUB_3 (rejected), SUB_4 */
    {FORM_A, "Daily check-in", USER_1, "Ada Lovelace", SUB_4, "2024-03-02 09:00:00+00",
     "2024-06-30 23:59:59.123456+00", "root.seen", "2024-02-29", "date", "visit"},
    /* batch 3: SUB_5 */
    {FORM_A, "Daily check-in", USER_2, "Grace Hopper", SUB_5, "2024-03-03 07:30:00.5+00",
     "2024-06-30 23:59:59.123456+00", "root.falls", "2.5", "number", "risk"},
};

/* Each commit batch, as before_commit must see it. */
static const struct {
    size_t submissions;
    size_t events;
    const char *ids;       /* the uuid[] literal */
    const char *reject_id; /* its one reject, or NULL */
    const char *write;     /* the pipeline's one write() of the batch */
} run_batch[RUN_BATCHES] = {
    {2, 3, "{" SUB_1 "," SUB_2 "}", NULL, "L:write 3"},
    {2, 1, "{" SUB_3 "," SUB_4 "}", SUB_3, "L:write 1"},
    {1, 1, "{" SUB_5 "}", NULL, "L:write 1"},
};

/* The run's totals once the first k batches are committed (k = 0..3). */
static const size_t run_subs_upto[] = {0, 2, 4, 5};
static const size_t run_events_upto[] = {0, 3, 4, 5};
static const size_t run_rejected_upto[] = {0, 0, 1, 1};
/* Events of the first k submissions read (k = 0..5): what progress must report. */
static const size_t run_events_of_first[] = {0, 2, 3, 3, 4, 5};

/* One line of the run's log. */
typedef enum who { WHO_EVENT, WHO_TARGET, WHO_SOURCE } who;
typedef struct log_line {
    char *text;
    who by;
    size_t call; /* WHO_TARGET, WHO_SOURCE: the call's index on its fake */
} log_line;

#define PROBLEM_MAX 512

/* The log of one run, and what the hooks are told to do and saw. */
typedef struct recorder {
    etl_db *src;
    etl_db *tgt;
    size_t src_seen;
    size_t tgt_seen;
    log_line *lines;
    size_t n;
    size_t cap;
    const etl_loader_entry *real_loader; /* what the pipeline asked the registry for */
    size_t write_events;                 /* what the loader it built asked for (loader.h) */
    size_t after_begin_calls;
    size_t before_commit_calls;
    size_t refuse_after_begin;   /* refuse this call (1-based), 0: none */
    size_t refuse_before_commit; /* the same */
    size_t progress_calls;
    size_t progress_subs;      /* the last report's submissions */
    char problem[PROBLEM_MAX]; /* the first thing a hook or the spy found wrong */
} recorder;

static void rec_add(recorder *r, who by, size_t call, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rec_add(recorder *r, who by, size_t call, const char *fmt, ...)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->lines = realloc(r->lines, r->cap * sizeof(*r->lines));
        assert_non_null(r->lines);
    }
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    r->lines[r->n].text = strdup(text);
    assert_non_null(r->lines[r->n].text);
    r->lines[r->n].by = by;
    r->lines[r->n].call = call;
    r->n++;
}

/* Log the seam calls made since the last look, both fakes merged in the order they came. */
static void rec_sync(recorder *r)
{
    for (;;) {
        bool s = r->src_seen < etl_fake_db_calls(r->src);
        bool t = r->tgt_seen < etl_fake_db_calls(r->tgt);
        if (!s && !t)
            return;
        if (s && (!t || etl_fake_db_call_seq(r->src, r->src_seen) <
                            etl_fake_db_call_seq(r->tgt, r->tgt_seen))) {
            rec_add(r, WHO_SOURCE, r->src_seen, "src %s", etl_fake_db_call(r->src, r->src_seen));
            r->src_seen++;
        } else {
            rec_add(r, WHO_TARGET, r->tgt_seen, "%s", etl_fake_db_call(r->tgt, r->tgt_seen));
            r->tgt_seen++;
        }
    }
}

static void rec_event(recorder *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_event(recorder *r, const char *fmt, ...)
{
    rec_sync(r);
    char text[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    rec_add(r, WHO_EVENT, 0, "%s", text);
}

static void rec_problem(recorder *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_problem(recorder *r, const char *fmt, ...)
{
    if (r->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof(r->problem), fmt, ap);
    va_end(ap);
}

static void rec_release(recorder *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->lines[i].text);
    free(r->lines);
    r->lines = NULL;
    r->n = r->cap = 0;
}

/* ---- the loader spy -------------------------------------------------------------- */

/* The run being recorded; NULL: etl_registry_find_loader answers as the registry does. */
static recorder *spy_rec;

typedef struct spy {
    etl_loader inner;
    recorder *rec;
    etl_loader_ops ops; /* spy_ops, with the real loader's flush slot and write_events */
} spy;

static int spy_begin(void *state, etl_error *err)
{
    spy *s = state;
    rec_event(s->rec, "L:begin");
    return s->inner.ops->begin(s->inner.state, err);
}

static int spy_write(void *state, const etl_event_batch *b, etl_error *err)
{
    spy *s = state;
    rec_event(s->rec, "L:write %zu", b->count);
    return s->inner.ops->write(s->inner.state, b, err);
}

static int spy_flush(void *state, etl_error *err)
{
    spy *s = state;
    rec_event(s->rec, "L:flush");
    return s->inner.ops->flush(s->inner.state, err);
}

static int spy_end(void *state, bool commit, etl_error *err)
{
    spy *s = state;
    rec_event(s->rec, "L:end(%s)", commit ? "true" : "false");
    int rc = s->inner.ops->end(s->inner.state, commit, err);
    if (!commit && rc != ETL_OK)
        rec_problem(s->rec, "end(false) returned %d; loader.h: always ETL_OK or ignorable", rc);
    return rc;
}

static void spy_destroy(void *state)
{
    spy *s = state;
    if (!s)
        return;
    rec_event(s->rec, "L:destroy");
    s->inner.ops->destroy(s->inner.state);
    free(s);
}

static const etl_loader_ops spy_ops = {.name = "spy",
                                       .begin = spy_begin,
                                       .write = spy_write,
                                       .flush = spy_flush,
                                       .end = spy_end,
                                       .destroy = spy_destroy};

static int spy_ctor(etl_loader *out, const etl_loader_cfg *cfg, etl_db *db, etl_error *err)
{
    recorder *r = spy_rec;
    spy *s = calloc(1, sizeof(*s));
    out->ops = &spy_ops;
    out->state = NULL;
    if (!s)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    s->rec = r;
    int rc = r->real_loader->ctor(&s->inner, cfg, db, err);
    if (rc != ETL_OK) {
        free(s);
        return rc;
    }
    s->ops = spy_ops;
    if (!s->inner.ops->flush)
        s->ops.flush = NULL;
    s->ops.write_events = r->write_events = s->inner.ops->write_events;
    out->ops = &s->ops;
    out->state = s;
    return ETL_OK;
}

static etl_loader_entry spy_entry;

/* NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
const etl_loader_entry *__real_etl_registry_find_loader(const char *name);
const etl_loader_entry *__wrap_etl_registry_find_loader(const char *name);
const etl_loader_entry *__wrap_etl_registry_find_loader(const char *name)
{
    const etl_loader_entry *e = __real_etl_registry_find_loader(name);
    if (!e || !spy_rec)
        return e;
    spy_rec->real_loader = e;
    spy_entry = (etl_loader_entry){.name = e->name, .ctor = spy_ctor, .summary = e->summary};
    return &spy_entry;
}
/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

/* ---- the hooks ---------------------------------------------------------------------- */

static int hook_after_begin(void *ctx, etl_db *target, etl_error *err)
{
    recorder *r = ctx;
    size_t k = ++r->after_begin_calls;
    rec_event(r, "H:after_begin");
    if (target != r->tgt)
        rec_problem(r, "after_begin %zu: not given the target connection", k);
    if (!etl_fake_db_in_transaction(target) || etl_fake_db_tx_failed(target))
        rec_problem(r, "after_begin %zu: the target transaction is not open", k);
    if (etl_fake_db_tx_rows(target) || etl_fake_db_in_copy(target))
        rec_problem(r, "after_begin %zu: the loader already wrote in this transaction", k);
    if (k == 1 && etl_fake_db_calls(r->src))
        rec_problem(r, "after_begin 1: the source was read before the first BEGIN:\n%s",
                    etl_fake_db_trace(r->src, 0));
    if (k == r->refuse_after_begin)
        return etl_error_set(err, ETL_ERR_LOCKED, "after_begin refused batch %zu", k);
    /* What in-place runs do here: a statement in the open transaction. */
    return etl_db_exec(target, "SET LOCAL lock_timeout = '1s'", err);
}

static int hook_before_commit(void *ctx, etl_db *target, const etl_batch_log *b, etl_error *err)
{
    recorder *r = ctx;
    size_t k = ++r->before_commit_calls;
    rec_event(r, "H:before_commit");
    if (k > RUN_BATCHES) {
        rec_problem(r, "before_commit called %zu times; there are %d batches", k, RUN_BATCHES);
        return ETL_OK;
    }
    if (target != r->tgt)
        rec_problem(r, "before_commit %zu: not given the target connection", k);
    if (!etl_fake_db_in_transaction(target) || etl_fake_db_tx_failed(target))
        rec_problem(r, "before_commit %zu: the target transaction is not open", k);
    if (etl_fake_db_in_copy(target))
        rec_problem(r, "before_commit %zu: the loader's COPY is still open", k);
    if (etl_fake_db_tx_rows(target) != run_batch[k - 1].events)
        rec_problem(r, "before_commit %zu: the transaction holds %zu events, expected %zu", k,
                    etl_fake_db_tx_rows(target), run_batch[k - 1].events);
    if (b->submissions != run_batch[k - 1].submissions || b->events != run_batch[k - 1].events)
        rec_problem(
            r, "before_commit %zu: batch log of %zu submissions, %zu events; expected %zu, %zu", k,
            b->submissions, b->events, run_batch[k - 1].submissions, run_batch[k - 1].events);
    const char *ids = run_batch[k - 1].ids;
    if (b->ids.len != strlen(ids) || memcmp(b->ids.data, ids, b->ids.len) != 0)
        rec_problem(r, "before_commit %zu: ids %.*s, expected %s", k, (int)b->ids.len,
                    b->ids.data ? b->ids.data : "", ids);
    const char *rej = run_batch[k - 1].reject_id;
    if (b->nrejects != (rej ? 1U : 0U))
        rec_problem(r, "before_commit %zu: %zu rejects, expected %d", k, b->nrejects, rej ? 1 : 0);
    else if (rej && (strcmp(b->rejects[0].id, rej) != 0 ||
                     strcmp(b->rejects[0].reason, "unknown_user") != 0 || !b->rejects[0].detail ||
                     !b->rejects[0].detail[0]))
        rec_problem(r, "before_commit %zu: reject %s (%s: %s), expected %s (unknown_user)", k,
                    b->rejects[0].id, b->rejects[0].reason,
                    b->rejects[0].detail ? b->rejects[0].detail : "NULL", rej);
    if (k == r->refuse_before_commit)
        return etl_error_set(err, ETL_ERR_IO, "before_commit refused batch %zu", k);
    /* What in-place runs do here: record the batch in the same transaction. */
    return etl_db_exec(target, "SET LOCAL application_name = 'etl batch recorded'", err);
}

static void hook_progress(void *ctx, const etl_run_stats *so_far)
{
    recorder *r = ctx;
    r->progress_calls++;
    rec_event(r, "H:progress");
    if (so_far->submissions < r->progress_subs || so_far->submissions >= COUNT(run_events_of_first))
        rec_problem(r, "progress: %zu submissions after %zu", so_far->submissions,
                    r->progress_subs);
    else if (so_far->events != run_events_of_first[so_far->submissions])
        rec_problem(r, "progress: %zu events for the first %zu submissions, expected %zu",
                    so_far->events, so_far->submissions, run_events_of_first[so_far->submissions]);
    r->progress_subs = so_far->submissions;
}

/* ---- one run ---------------------------------------------------------------------- */

typedef struct prun {
    const spec *s;
    etl_db *src;
    etl_db *tgt;
    recorder rec;
    char names[5][32];
    etl_processor_cfg proc;
    etl_log quiet;
    volatile sig_atomic_t stop;
    etl_pipeline_cfg cfg;
    etl_run_stats stats;
    etl_error err;
    int rc;
} prun;

/* A run of s's runner (and stages) with every hook, on fresh fakes; not moved after this. */
static void prun_init(prun *p, const spec *s)
{
    memset(p, 0, sizeof(*p));
    p->s = s;
    p->src = etl_fake_db_new();
    p->tgt = etl_fake_db_new();
    run_source(p->src);
    p->rec.src = p->src;
    p->rec.tgt = p->tgt;
    snprintf(p->names[0], sizeof(p->names[0]), "contract");
    snprintf(p->names[1], sizeof(p->names[1]), "%s", s->r->name);
    snprintf(p->names[2], sizeof(p->names[2]), "%s", s->x ? s->x->name : "");
    snprintf(p->names[3], sizeof(p->names[3]), "%s", s->t ? s->t->name : "");
    snprintf(p->names[4], sizeof(p->names[4]), "%s", s->l ? s->l->name : "");
    p->proc.name = p->names[0];
    p->proc.file = p->names[0];
    p->proc.runner = p->names[1];
    p->proc.extractor = s->x ? p->names[2] : NULL;
    p->proc.transformer = s->t ? p->names[3] : NULL;
    p->proc.loader = s->l ? p->names[4] : NULL;
    p->proc.extract_batch = RUN_EXTRACT_BATCH;
    p->proc.load_batch = LOAD_BATCH;
    p->proc.form_cache = 4;
    p->proc.max_depth = 16;
    p->proc.max_bytes = 0;
    p->quiet.verbosity = -1;
    p->cfg = (etl_pipeline_cfg){.proc = &p->proc,
                                .processed_on = PROCESSED,
                                .source_filter = NULL,
                                .commit_every = RUN_COMMIT_EVERY,
                                .max_rejects = 1, /* exactly the rejects: not past it */
                                .dry_run = false,
                                .empty_target = true,
                                .table = NULL,
                                .stop = &p->stop,
                                .log = &p->quiet,
                                .after_begin = hook_after_begin,
                                .before_commit = hook_before_commit,
                                .progress = hook_progress,
                                .hook_ctx = &p->rec};
    etl_error_clear(&p->err);
}

static int prun_go(prun *p)
{
    spy_rec = &p->rec;
    p->rc = etl_pipeline_run(&p->cfg, p->src, p->tgt, &p->stats, &p->err);
    spy_rec = NULL;
    rec_sync(&p->rec);
    return p->rc;
}

static void prun_free(prun *p)
{
    rec_release(&p->rec);
    etl_fake_db_free(p->src);
    etl_fake_db_free(p->tgt);
}

/* The run's log from line `from`, one line each, for messages. */
static const char *prun_log(const prun *p, size_t from, etl_buf *out)
{
    etl_buf_reset(out);
    for (size_t i = from; i < p->rec.n; i++)
        assert_int_equal(etl_buf_printf(out, "  %s\n", p->rec.lines[i].text), ETL_OK);
    return out->data ? out->data : "";
}

/* Is this line of the log part of the skeleton: the pipeline's statements, slots, hooks? */
static bool skeleton_line(const log_line *l)
{
    static const char *const kept[] = {"exec BEGIN", "exec TRUNCATE", "exec COMMIT",
                                       "exec ROLLBACK", "exec SET"};
    if (l->by == WHO_EVENT)
        return strcmp(l->text, "H:progress") != 0; /* progress comes between writes */
    if (l->by == WHO_SOURCE)
        return false;
    for (size_t i = 0; i < COUNT(kept); i++)
        if (strcmp(l->text, kept[i]) == 0)
            return true;
    return false;
}

/*
 * The loader's own statements (whatever it sends: COPY, INSERTs, PREPARE)
 * must come from inside one of its slots: the last skeleton line before
 * each is a loader slot.
 */
static void assert_loader_statements_in_slots(const prun *p)
{
    const char *owner = "the start";
    for (size_t i = 0; i < p->rec.n; i++) {
        const log_line *l = &p->rec.lines[i];
        if (skeleton_line(l)) {
            owner = l->text;
            continue;
        }
        if (l->by != WHO_TARGET)
            continue;
        if (strncmp(owner, "L:", 2) != 0) {
            etl_buf b = ETL_BUF_INIT;
            fail_msg("%s: \"%s\" sent to the target after %s, outside any loader slot:\n%s",
                     p->s->title, l->text, owner, prun_log(p, 0, &b));
        }
    }
}

/* The skeleton lines after log line `after` (all of them: after = SIZE_MAX). */
static size_t skeleton(const prun *p, size_t after, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = after == SIZE_MAX ? 0 : after + 1; i < p->rec.n; i++) {
        if (!skeleton_line(&p->rec.lines[i]))
            continue;
        if (n == cap)
            fail_msg("more than %zu skeleton lines", cap);
        out[n++] = p->rec.lines[i].text;
    }
    return n;
}

#define SKEL_MAX 80

static void assert_skeleton(const prun *p, size_t after, const char *const *want, size_t nwant,
                            const char *what)
{
    const char *got[SKEL_MAX];
    size_t n = skeleton(p, after, got, SKEL_MAX);
    size_t i = 0;
    while (i < n && i < nwant && strcmp(got[i], want[i]) == 0)
        i++;
    if (i == n && i == nwant)
        return;
    etl_buf w = ETL_BUF_INIT;
    etl_buf g = ETL_BUF_INIT;
    for (size_t k = 0; k < nwant; k++)
        assert_int_equal(etl_buf_printf(&w, "  %s%s\n", k == i ? "> " : "", want[k]), ETL_OK);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(etl_buf_printf(&g, "  %s%s\n", k == i ? "> " : "", got[k]), ETL_OK);
    etl_buf l = ETL_BUF_INIT;
    fail_msg("%s: %s: the order of calls differs at line %zu.\nexpected:\n%sgot:\n%sthe whole "
             "log:\n%s",
             p->s->title, what, i + 1, w.data ? w.data : "", g.data ? g.data : "",
             prun_log(p, 0, &l));
}

/* How batch k (1-based) goes, to the end or to a refusing hook; appended to want. */
enum batch_end { BATCH_COMMITTED, BATCH_AFTER_BEGIN_REFUSES, BATCH_BEFORE_COMMIT_REFUSES };

static size_t want_batch(const char **want, size_t n, size_t k, bool flush, enum batch_end how)
{
    want[n++] = "exec BEGIN";
    if (k == 1)
        want[n++] = "exec TRUNCATE"; /* empty_target: inside the first load transaction */
    want[n++] = "H:after_begin";
    if (how == BATCH_AFTER_BEGIN_REFUSES) {
        want[n++] = "L:end(false)"; /* even with no begin: loader.h */
        want[n++] = "exec ROLLBACK";
        return n;
    }
    want[n++] = "exec SET"; /* the hook's statement */
    want[n++] = "L:begin";
    want[n++] = run_batch[k - 1].write;
    if (flush)
        want[n++] = "L:flush";
    want[n++] = "L:end(true)";
    want[n++] = "H:before_commit";
    if (how == BATCH_BEFORE_COMMIT_REFUSES) {
        want[n++] = "L:end(false)";
        want[n++] = "exec ROLLBACK";
        return n;
    }
    want[n++] = "exec SET";
    want[n++] = "exec COMMIT";
    return n;
}

/* The loader the pipeline built has a flush slot (the spy mirrors it). */
static bool prun_flush(const prun *p)
{
    for (size_t i = 0; i < p->rec.n; i++)
        if (strcmp(p->rec.lines[i].text, "L:flush") == 0)
            return true;
    etl_loader ld = {NULL, NULL};
    etl_loader_cfg cfg = {.batch_rows = LOAD_BATCH, .table = NULL, .stop = NULL, .log = NULL};
    etl_db *db = etl_fake_db_new();
    etl_error err;
    etl_error_clear(&err);
    assert_int_equal(p->s->l->ctor(&ld, &cfg, db, &err), ETL_OK);
    bool has = ld.ops->flush != NULL;
    ld.ops->destroy(ld.state);
    etl_fake_db_free(db);
    return has;
}

/* The first k batches committed, nothing else: rows and stats, written out. */
static void assert_committed_batches(const prun *p, size_t k, const char *what)
{
    if (etl_fake_db_committed(p->tgt) != run_events_upto[k]) {
        etl_buf b = ETL_BUF_INIT;
        fail_msg("%s: %s: %zu rows committed, expected the %zu of the first %zu batches:\n%s",
                 p->s->title, what, etl_fake_db_committed(p->tgt), run_events_upto[k], k,
                 prun_log(p, 0, &b));
    }
    assert_committed(p->tgt, 0, run_rows, run_events_upto[k], TABLE);
    assert_int_equal(etl_fake_db_commits(p->tgt), k);
    const etl_run_stats *st = &p->stats;
    if (st->submissions != run_subs_upto[k] || st->events != run_events_upto[k] ||
        st->batches != k || st->rejected != run_rejected_upto[k])
        fail_msg("%s: %s: stats %zu submissions, %zu events, %zu batches, %zu rejected; "
                 "expected %zu, %zu, %zu, %zu",
                 p->s->title, what, st->submissions, st->events, st->batches, st->rejected,
                 run_subs_upto[k], run_events_upto[k], k, run_rejected_upto[k]);
    if (run_rejected_upto[k]) {
        assert_non_null(st->reasons[0].reason);
        assert_string_equal(st->reasons[0].reason, "unknown_user");
        assert_int_equal(st->reasons[0].count, 1);
        assert_null(st->reasons[1].reason);
    } else {
        assert_null(st->reasons[0].reason);
    }
}

/* After any run: both connections as the seam wants them, nothing found by the hooks or spy. */
static void assert_run_clean(const prun *p, const char *what)
{
    if (p->rec.problem[0]) {
        etl_buf b = ETL_BUF_INIT;
        fail_msg("%s: %s: %s\nlog:\n%s", p->s->title, what, p->rec.problem, prun_log(p, 0, &b));
    }
    if (p->s->l && p->rec.real_loader != p->s->l)
        fail_msg("%s: the pipeline built loader %s", p->s->title,
                 p->rec.real_loader ? p->rec.real_loader->name : "(none)");
    assert_seam_clean(p->tgt, what);
    x_assert_returned(p->src, what);
    if (etl_fake_db_in_transaction(p->tgt))
        fail_msg("%s: %s: the target is left inside a transaction", p->s->title, what);
    if (etl_fake_db_tx_rows(p->tgt))
        fail_msg("%s: %s: %zu rows left in the target's transaction", p->s->title, what,
                 etl_fake_db_tx_rows(p->tgt));
}

/* 1. The whole run: three commit batches, every hook, the exact order of calls. */
static void p_happy(const spec *s)
{
    prun p;
    prun_init(&p, s);
    if (prun_go(&p) != ETL_OK)
        fail_msg("%s: %d %s", s->title, p.rc, p.err.msg);
    assert_run_clean(&p, "after the run");
    bool flush = prun_flush(&p);
    const char *want[SKEL_MAX];
    size_t n = 0;
    for (size_t k = 1; k <= RUN_BATCHES; k++)
        n = want_batch(want, n, k, flush, BATCH_COMMITTED);
    want[n++] = "L:destroy";
    assert_skeleton(&p, SIZE_MAX, want, n, "the whole run");
    assert_loader_statements_in_slots(&p);
    assert_int_equal(p.rec.after_begin_calls, RUN_BATCHES);
    assert_int_equal(p.rec.before_commit_calls, RUN_BATCHES);
    /* 5 submissions, 3 per extractor batch: at least two batches, the last with everything. */
    assert_true(p.rec.progress_calls >= 2);
    assert_int_equal(p.rec.progress_subs, 5);
    assert_committed_batches(&p, RUN_BATCHES, "after the run");
    prun_free(&p);
}

/* Where call `call` of `by` stands in the run's log. */
static size_t log_index(const prun *p, who by, size_t call)
{
    for (size_t i = 0; i < p->rec.n; i++)
        if (p->rec.lines[i].by == by && p->rec.lines[i].call == call)
            return i;
    fail_msg("%s: call %zu is not in the log", p->s->title, call);
    return 0;
}

/* Where the event `text` first stands in the run's log. */
static size_t log_index_of(const prun *p, const char *text)
{
    for (size_t i = 0; i < p->rec.n; i++)
        if (p->rec.lines[i].by == WHO_EVENT && strcmp(p->rec.lines[i].text, text) == 0)
            return i;
    fail_msg("%s: %s is not in the log", p->s->title, text);
    return 0;
}

/* Batches committed before log line i. */
static size_t commits_before(const prun *p, size_t i)
{
    size_t k = 0;
    for (size_t j = 0; j < i; j++)
        k += p->rec.lines[j].by == WHO_TARGET && strcmp(p->rec.lines[j].text, "exec COMMIT") == 0;
    return k;
}

/* 2. Every seam call of the run, on either connection, failed in turn. */
static void p_faults(const spec *s)
{
    prun p;
    prun_init(&p, s);
    assert_int_equal(prun_go(&p), ETL_OK);
    size_t calls[2] = {etl_fake_db_calls(p.tgt), etl_fake_db_calls(p.src)};
    prun_free(&p);
    print_message("      %s: %zu target and %zu source calls, each failed in turn\n", s->title,
                  calls[0], calls[1]);
    for (int side = 0; side < 2; side++) {
        who by = side == 0 ? WHO_TARGET : WHO_SOURCE;
        for (size_t n = 1; n <= calls[side]; n++) {
            prun_init(&p, s);
            etl_db *db = side == 0 ? p.tgt : p.src;
            etl_fake_db_fail_at(db, n);
            prun_go(&p);
            char what[160];
            snprintf(what, sizeof(what), "%s call %zu (%s) failing", side ? "source" : "target", n,
                     etl_fake_db_call(db, n - 1) ? etl_fake_db_call(db, n - 1) : "never made");
            if (!etl_fake_db_fault_fired(db))
                fail_msg("%s: %s: never made", s->title, what);
            size_t f = log_index(&p, by, n - 1);
            size_t done = commits_before(&p, f);
            if (done == RUN_BATCHES) {
                /* After the last COMMIT: the stages' cleanup, nothing left to report it to. */
                if (p.rc != ETL_OK)
                    fail_msg("%s: %s after the last commit: %d %s", s->title, what, p.rc,
                             p.err.msg);
                const char *tail[] = {"L:destroy"};
                assert_skeleton(&p, f, tail, f < log_index_of(&p, "L:destroy") ? 1 : 0, what);
            } else {
                assert_failed_with_reason(p.rc, &p.err, what);
                /*
                 * The open batch abandoned, then rolled back; then only destroy.  A
                 * BEGIN that failed opened nothing: only destroy follows (loader.h
                 * lists BEGIN in the sequence whose failure is followed by end(false)
                 * and ROLLBACK; the pipeline sends neither, harmlessly: the target
                 * is checked below to be left outside any transaction).
                 */
                const char *tail[] = {"L:end(false)", "exec ROLLBACK", "L:destroy"};
                bool begin = by == WHO_TARGET && strcmp(p.rec.lines[f].text, "exec BEGIN") == 0;
                assert_skeleton(&p, f, begin ? tail + 2 : tail, begin ? 1 : COUNT(tail), what);
            }
            assert_committed_batches(&p, done, what);
            assert_run_clean(&p, what);
            prun_free(&p);
        }
    }
}

/* 3. A hook refusing batch k: end(false), ROLLBACK, nothing of that batch committed. */
static void p_hook_refuses(const spec *s)
{
    for (int hook = 0; hook < 2; hook++) {
        for (size_t k = 1; k <= RUN_BATCHES; k++) {
            prun p;
            prun_init(&p, s);
            if (hook == 0)
                p.rec.refuse_after_begin = k;
            else
                p.rec.refuse_before_commit = k;
            prun_go(&p);
            char what[96];
            snprintf(what, sizeof(what), "%s refusing batch %zu",
                     hook ? "before_commit" : "after_begin", k);
            char msg[64];
            snprintf(msg, sizeof(msg), "%s refused batch %zu",
                     hook ? "before_commit" : "after_begin", k);
            if (p.rc != (hook ? ETL_ERR_IO : ETL_ERR_LOCKED) || !strstr(p.err.msg, msg))
                fail_msg("%s: %s: returned %d \"%s\", expected the hook's %d \"%s\"", s->title,
                         what, p.rc, p.err.msg, hook ? ETL_ERR_IO : ETL_ERR_LOCKED, msg);
            bool flush = prun_flush(&p);
            const char *want[SKEL_MAX];
            size_t n = 0;
            for (size_t j = 1; j < k; j++)
                n = want_batch(want, n, j, flush, BATCH_COMMITTED);
            n = want_batch(want, n, k, flush,
                           hook ? BATCH_BEFORE_COMMIT_REFUSES : BATCH_AFTER_BEGIN_REFUSES);
            want[n++] = "L:destroy";
            assert_skeleton(&p, SIZE_MAX, want, n, what);
            assert_loader_statements_in_slots(&p);
            assert_committed_batches(&p, k - 1, what);
            assert_run_clean(&p, what);
            prun_free(&p);
        }
    }
}

/* 4. The stop flag set during a call of the first batch: ETL_ERR_INTERRUPTED, rolled back. */
static void p_stop(const spec *s)
{
    prun p;
    prun_init(&p, s);
    assert_int_equal(prun_go(&p), ETL_OK);
    size_t first_commit = 0; /* the target's first COMMIT, 1-based */
    for (size_t i = 0; i < etl_fake_db_calls(p.tgt) && !first_commit; i++)
        if (strcmp(etl_fake_db_call(p.tgt, i), "exec COMMIT") == 0)
            first_commit = i + 1;
    assert_true(first_commit > 0);
    prun_free(&p);
    /* Every target call up to the first COMMIT, and the source's first (the extractor's open). */
    for (size_t n = 1; n <= first_commit + 1; n++) {
        bool on_source = n == first_commit + 1;
        size_t call = on_source ? 1 : n;
        prun_init(&p, s);
        etl_fake_db_flag_at(on_source ? p.src : p.tgt, call, &p.stop);
        prun_go(&p);
        char what[96];
        snprintf(what, sizeof(what), "stop set during %s call %zu", on_source ? "source" : "target",
                 call);
        assert_true(p.stop == 1);
        if (p.rc != ETL_ERR_INTERRUPTED || !p.err.msg[0])
            fail_msg("%s: %s: returned %d \"%s\", expected ETL_ERR_INTERRUPTED", s->title, what,
                     p.rc, p.err.msg);
        /* Batch 1 may still commit if the flag came after its last check; never batch 2. */
        size_t k = etl_fake_db_commits(p.tgt);
        if (k > 1 || (call == first_commit && !on_source && k != 1) ||
            ((call == 1 || on_source) && k != 0)) {
            etl_buf b = ETL_BUF_INIT;
            fail_msg("%s: %s: %zu batches committed:\n%s", s->title, what, k, prun_log(&p, 0, &b));
        }
        assert_committed_batches(&p, k, what);
        const char *got[SKEL_MAX];
        size_t ng = skeleton(&p, SIZE_MAX, got, SKEL_MAX);
        if (ng < 3 || strcmp(got[ng - 3], "L:end(false)") != 0 ||
            strcmp(got[ng - 2], "exec ROLLBACK") != 0 || strcmp(got[ng - 1], "L:destroy") != 0 ||
            p.rec.after_begin_calls > 2) {
            etl_buf b = ETL_BUF_INIT;
            fail_msg("%s: %s: the open batch was not abandoned and rolled back last:\n%s", s->title,
                     what, prun_log(&p, 0, &b));
        }
        assert_run_clean(&p, what);
        prun_free(&p);
    }
}

/* 5. max_rejects 0, one reject in batch 2: that batch committed whole, then ETL_ERR_REJECTS. */
static void p_max_rejects(const spec *s)
{
    prun p;
    prun_init(&p, s);
    p.cfg.max_rejects = 0;
    prun_go(&p);
    if (p.rc != ETL_ERR_REJECTS || !p.err.msg[0])
        fail_msg("%s: returned %d \"%s\", expected ETL_ERR_REJECTS", s->title, p.rc, p.err.msg);
    bool flush = prun_flush(&p);
    const char *want[SKEL_MAX];
    size_t n = 0;
    for (size_t k = 1; k <= 2; k++)
        n = want_batch(want, n, k, flush, BATCH_COMMITTED);
    want[n++] = "L:destroy"; /* no third batch begun */
    assert_skeleton(&p, SIZE_MAX, want, n, "max_rejects 0");
    assert_int_equal(p.rec.before_commit_calls, 2); /* batch 2 recorded with its reject */
    assert_committed_batches(&p, 2, "max_rejects 0");
    assert_run_clean(&p, "max_rejects 0");
    prun_free(&p);
}

/*
 * 6. Events reach the loader in the slices it asks for (write_events,
 * loader.h).  1,500 submissions of three answers in extractor batches of
 * 1,000, one commit batch: 3,000 events, then 1,500.  The pipeline writes
 * once a slice is pending, never splitting a submission's events, and at
 * the end of every extractor batch.
 */
#define SLICE_SUBS 1500
#define SLICE_EXTRACT_BATCH 1000
#define SLICE_WRITES_MAX 4
#define SLICE_MORE ", \"note\": \"n\", \"tablet\": true" /* three events a submission */

static void p_slices(const spec *s)
{
    /* The writes, worked out by hand for each write_events a loader declares. */
    static const struct {
        size_t write_events;
        size_t writes[SLICE_WRITES_MAX];
    } want[] = {
        {0, {3000, 1500}},         /* whole extractor batches */
        {2048, {2049, 951, 1500}}, /* 683 submissions make the first 2,048 (2,049) */
    };
    prun p;
    prun_init(&p, s);
    etl_fake_db_free(p.src);
    p.src = p.rec.src = etl_fake_db_new();
    add_answers(p.src, SLICE_SUBS, SLICE_MORE);
    p.proc.extract_batch = SLICE_EXTRACT_BATCH;
    p.cfg.commit_every = 0; /* one commit batch */
    p.cfg.after_begin = NULL;
    p.cfg.before_commit = NULL;
    p.cfg.progress = NULL;
    if (prun_go(&p) != ETL_OK)
        fail_msg("%s: %d %s", s->title, p.rc, p.err.msg);
    assert_run_clean(&p, "slices");
    /* The COPY loaders slice: without it the ingesting backend waits while etl transforms. */
    if (strncmp(s->l->name, "copy", 4) == 0 && p.rec.write_events == 0)
        fail_msg("%s: a COPY loader with write_events 0 (whole extractor batches)", s->title);
    const size_t *writes = NULL;
    for (size_t k = 0; k < COUNT(want); k++)
        if (want[k].write_events == p.rec.write_events)
            writes = want[k].writes;
    if (!writes) {
        fail_msg("%s: the loader asks for %zu events per write; add its writes to p_slices",
                 s->title, p.rec.write_events);
        return; /* not reached */
    }
    size_t nwant = 0;
    while (nwant < SLICE_WRITES_MAX && writes[nwant])
        nwant++;
    size_t n = 0;
    for (size_t i = 0; i < p.rec.n; i++) {
        static const char write[] = "L:write ";
        if (strncmp(p.rec.lines[i].text, write, sizeof(write) - 1) != 0)
            continue;
        size_t count = strtoul(p.rec.lines[i].text + sizeof(write) - 1, NULL, 10);
        if (n == nwant || count != writes[n]) {
            etl_buf b = ETL_BUF_INIT;
            fail_msg("%s: write %zu of %zu events; expected %zu (write_events %zu):\n%s", s->title,
                     n + 1, count, n < nwant ? writes[n] : 0, p.rec.write_events,
                     prun_log(&p, 0, &b));
        }
        n++;
    }
    if (n != nwant)
        fail_msg("%s: %zu writes, expected %zu (write_events %zu)", s->title, n, nwant,
                 p.rec.write_events);
    assert_int_equal(p.stats.events, 3 * SLICE_SUBS);
    assert_int_equal(etl_fake_db_committed(p.tgt), 3 * SLICE_SUBS);
    assert_int_equal(etl_fake_db_commits(p.tgt), 1);
    prun_free(&p);
}

/* ---- runners without stages (in-db) ------------------------------------------------ */

/*
 * Its one statement, answered as an opaque INSERT ... SELECT: the fake
 * cannot evaluate in-db's SQL, so the test says what it does (the rows of
 * the staged run, one reject) and checks what the runner makes of it.  The
 * result's shape is indb.c's: (NULL, submissions, events), then (id,
 * reason, path) per reject.
 */
static const char *const indb_result[] = {NULL, "5", "5", SUB_3, "unknown_user", NULL};

static void indb_script(prun *p)
{
    etl_fake_db_script(p->tgt, "WITH RECURSIVE", run_rows, COUNT(run_rows), indb_result, 2, 3);
    p->cfg.after_begin = NULL;
    p->cfg.before_commit = NULL;
    p->cfg.progress = NULL;
}

/* Per-batch hooks refused with ETL_ERR_USAGE before anything is sent. */
static void n_refuses_hooks(const spec *s)
{
    for (int hook = 0; hook < 2; hook++) {
        prun p;
        prun_init(&p, s);
        if (hook == 0)
            p.cfg.before_commit = NULL;
        else
            p.cfg.after_begin = NULL;
        prun_go(&p);
        if (p.rc != ETL_ERR_USAGE || !p.err.msg[0])
            fail_msg("%s: with only %s: returned %d \"%s\", expected ETL_ERR_USAGE", s->title,
                     hook ? "before_commit" : "after_begin", p.rc, p.err.msg);
        assert_int_equal(etl_fake_db_calls(p.src), 0);
        assert_int_equal(etl_fake_db_calls(p.tgt), 0);
        assert_int_equal(p.rec.after_begin_calls + p.rec.before_commit_calls, 0);
        prun_free(&p);
    }
}

/* The happy run on the scripted statement: one transaction, the stats from its result. */
static void n_scripted(const spec *s)
{
    prun p;
    prun_init(&p, s);
    indb_script(&p);
    if (prun_go(&p) != ETL_OK)
        fail_msg("%s: %d %s\n%s", s->title, p.rc, p.err.msg, etl_fake_db_trace(p.tgt, 0));
    /* BEGIN, TRUNCATE (empty_target), session settings and helpers, the statement, COMMIT. */
    size_t n = etl_fake_db_calls(p.tgt);
    assert_true(n >= 4);
    bool ok = strcmp(etl_fake_db_call(p.tgt, 0), "exec BEGIN") == 0 &&
              strcmp(etl_fake_db_call(p.tgt, 1), "exec TRUNCATE") == 0 &&
              strcmp(etl_fake_db_call(p.tgt, n - 2), "query WITH") == 0 &&
              strcmp(etl_fake_db_call(p.tgt, n - 1), "exec COMMIT") == 0;
    for (size_t i = 2; i + 2 < n; i++)
        ok = ok && (strcmp(etl_fake_db_call(p.tgt, i), "exec SET") == 0 ||
                    strcmp(etl_fake_db_call(p.tgt, i), "exec CREATE") == 0);
    if (!ok)
        fail_msg("%s: calls:\n%s", s->title, etl_fake_db_trace(p.tgt, 0));
    assert_int_equal(etl_fake_db_calls(p.src), 0); /* it reads the target's own app.* */
    /* What the statement wrote, committed in one transaction; the stats from its result. */
    assert_int_equal(etl_fake_db_committed(p.tgt), COUNT(run_rows));
    assert_committed(p.tgt, 0, run_rows, COUNT(run_rows), TABLE);
    assert_int_equal(etl_fake_db_commits(p.tgt), 1);
    assert_int_equal(p.stats.submissions, 5);
    assert_int_equal(p.stats.events, 5);
    assert_int_equal(p.stats.rejected, 1);
    assert_int_equal(p.stats.batches, 1);
    assert_non_null(p.stats.reasons[0].reason);
    assert_string_equal(p.stats.reasons[0].reason, "unknown_user");
    assert_int_equal(p.stats.reasons[0].count, 1);
    assert_null(p.stats.reasons[1].reason);
    assert_run_clean(&p, "the scripted run");
    prun_free(&p);
}

/* max_rejects 0 and one reject: its one statement committed whole, then ETL_ERR_REJECTS. */
static void n_max_rejects(const spec *s)
{
    prun p;
    prun_init(&p, s);
    p.cfg.max_rejects = 0;
    indb_script(&p);
    if (prun_go(&p) != ETL_ERR_REJECTS)
        fail_msg("%s: %d, not ETL_ERR_REJECTS: %s", s->title, p.rc, p.err.msg);
    assert_non_null(strstr(p.err.msg, "more than 0 submissions rejected"));
    size_t n = etl_fake_db_calls(p.tgt);
    if (strcmp(etl_fake_db_call(p.tgt, n - 1), "exec COMMIT") != 0)
        fail_msg("%s: the last call is not the COMMIT:\n%s", s->title, etl_fake_db_trace(p.tgt, 0));
    assert_int_equal(etl_fake_db_committed(p.tgt), COUNT(run_rows));
    assert_committed(p.tgt, 0, run_rows, COUNT(run_rows), TABLE);
    assert_int_equal(p.stats.submissions, 5);
    assert_int_equal(p.stats.rejected, 1);
    assert_int_equal(p.stats.batches, 1);
    assert_run_clean(&p, "max_rejects 0");
    prun_free(&p);
}

static void n_faults(const spec *s)
{
    prun p;
    prun_init(&p, s);
    indb_script(&p);
    assert_int_equal(prun_go(&p), ETL_OK);
    size_t total = etl_fake_db_calls(p.tgt);
    prun_free(&p);
    print_message("      %s: %zu target calls, each failed in turn\n", s->title, total);
    for (size_t n = 1; n <= total; n++) {
        prun_init(&p, s);
        indb_script(&p);
        etl_fake_db_fail_at(p.tgt, n);
        prun_go(&p);
        char what[96];
        snprintf(what, sizeof(what), "call %zu (%s) failing", n, etl_fake_db_call(p.tgt, n - 1));
        assert_true(etl_fake_db_fault_fired(p.tgt));
        assert_failed_with_reason(p.rc, &p.err, what);
        size_t last = etl_fake_db_calls(p.tgt) - 1;
        if (last < n || strcmp(etl_fake_db_call(p.tgt, last), "exec ROLLBACK") != 0)
            fail_msg("%s: %s: the last call is not a ROLLBACK after it:\n%s", s->title, what,
                     etl_fake_db_trace(p.tgt, 0));
        assert_int_equal(etl_fake_db_committed(p.tgt), 0);
        assert_int_equal(p.stats.submissions + p.stats.events + p.stats.batches, 0);
        assert_run_clean(&p, what);
        prun_free(&p);
    }
}

/* ---- building the suite from the registry ------------------------------------------- */

typedef struct named_case {
    const char *name;
    case_fn fn;
} named_case;

static const named_case extractor_cases[] = {
    {"empty input", x_empty},
    {"one row", x_one_row},
    {"every column, dangling user and form", x_all_columns},
    {"every column, batch of one", x_all_columns_batch_of_one},
    {"batch size - 1", x_batch_minus_one},
    {"batch size exact", x_batch_exact},
    {"batch size + 1", x_batch_plus_one},
    {"rows a multiple of the batch size", x_batch_multiple},
    {"batch of one", x_batch_of_one},
    {"destroy(NULL) and destroy after a failed open", x_destroy_null_and_after_failed_open},
    {"filter and order reach the query", x_filter_and_order_reach_the_query},
    {"fault injection", x_fault_injection},
    {"destroy mid-way leaves the connection reusable", x_destroy_midway},
};

static const named_case loader_cases[] = {
    {"0 events", l_empty},
    {"1 event", l_one},
    {"batch size - 1", l_batch_minus_one},
    {"batch size exact", l_batch_exact},
    {"batch size + 1", l_batch_plus_one},
    {"two writes in one batch", l_two_writes},
    {"one write per event", l_one_write_per_event},
    {"two batches", l_two_batches},
    {"another table", l_other_table},
    {"3000 events", l_large},
    {"fault injection", l_fault_injection},
    {"fault injection, second batch", l_fault_in_second_batch},
    {"fault injection, 3000 events", l_fault_injection_large},
    {"end(false) abandons a batch", l_abandon},
    {"end(false) after a failed begin", l_end_after_failed_begin},
    {"end(false) after end(true)", l_end_false_after_end_true},
    {"destroy(NULL) and after a failed constructor", l_destroy_null_and_failed_ctor},
    {"a loader per batch on one connection", l_second_loader_same_connection},
    {"stop set before write", l_stop_before_write},
    {"stop set during write", l_stop_during_write},
};

/* For every runner with stages, with every extractor and loader; etl_pipeline_run. */
static const named_case staged_cases[] = {
    {"3 commit batches: rows, stats, hooks, the exact order of calls", p_happy},
    {"every seam call of the run failed in turn", p_faults},
    {"after_begin or before_commit refusing a batch", p_hook_refuses},
    {"stop set during a call", p_stop},
    {"max_rejects 0: the reject's batch committed, then ETL_ERR_REJECTS", p_max_rejects},
    {"events written in the loader's slices, whole submissions each", p_slices},
};

/* For every runner without stages (in-db); etl_pipeline_run. */
static const named_case stageless_cases[] = {
    {"per-batch hooks refused before any call", n_refuses_hooks},
    {"its statement answered as scripted", n_scripted},
    {"every seam call failed in turn", n_faults},
    {"max_rejects 0: its statement committed, then ETL_ERR_REJECTS", n_max_rejects},
};

static const named_case transformer_cases[] = {
    {"no answers, one answer", t_empty_and_one},
    {"a reject leaves the batch as it was", t_reject_keeps_batch},
    {"schema fetch through the seam", t_fetch},
    {"destroy(NULL)", t_destroy_null},
};

static void run_spec(void **state)
{
    const spec *s = *state;
    s->fn(s);
}

/* Append case (kind, strategy, name) to the suite. */
static void add(struct CMUnitTest *tests, spec *specs, size_t *n, const char *kind,
                const char *strategy, const char *name, case_fn fn)
{
    spec *s = &specs[(*n)++];
    s->kind = kind;
    snprintf(s->pair, sizeof(s->pair), "%s", strategy);
    s->strategy = s->pair;
    s->name = name;
    s->fn = fn;
    snprintf(s->title, sizeof(s->title), "%s %s: %s", kind, strategy, name);
    tests[*n - 1] = (struct CMUnitTest){.name = s->title,
                                        .test_func = run_spec,
                                        .setup_func = NULL,
                                        .teardown_func = NULL,
                                        .initial_state = s};
}

int main(void)
{
    size_t nx = 0;
    size_t nl = 0;
    size_t nt = 0;
    const etl_extractor_entry *xs = etl_registry_extractors(&nx);
    const etl_loader_entry *ls = etl_registry_loaders(&nl);
    const etl_transformer_entry *ts = etl_registry_transformers(&nt);
    size_t nr = 0;
    const etl_runner_entry *rs = etl_registry_runners(&nr);
    const etl_transformer_entry *flatten = etl_registry_find_transformer("flatten");
    size_t cap = nx * COUNT(extractor_cases) + nl * COUNT(loader_cases) +
                 nt * COUNT(transformer_cases) +
                 nr * (nx * nl * COUNT(staged_cases) + COUNT(stageless_cases));
    struct CMUnitTest *tests = calloc(cap, sizeof(*tests));
    spec *specs = calloc(cap, sizeof(*specs));
    if (!tests || !specs || !flatten) {
        fprintf(stderr, "test_contract: cannot build the suite\n");
        free(tests);
        free(specs);
        return 1;
    }
    /* Every entry is a stage with a constructor: one without would be left out of the suite. */
    for (size_t i = 0; i < nx + nl + nt; i++) {
        bool has = i < nx        ? xs[i].ctor != NULL
                   : i < nx + nl ? ls[i - nx].ctor != NULL
                                 : ts[i - nx - nl].ctor != NULL;
        if (!has) {
            fprintf(stderr, "test_contract: registry entry %zu has no constructor\n", i);
            free(tests);
            free(specs);
            return 1;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < nx; i++) {
        for (size_t k = 0; k < COUNT(extractor_cases); k++) {
            add(tests, specs, &n, "extractor", xs[i].name, extractor_cases[k].name,
                extractor_cases[k].fn);
            specs[n - 1].x = &xs[i];
        }
    }
    for (size_t i = 0; i < nl; i++) {
        for (size_t k = 0; k < COUNT(loader_cases); k++) {
            add(tests, specs, &n, "loader", ls[i].name, loader_cases[k].name, loader_cases[k].fn);
            specs[n - 1].l = &ls[i];
        }
    }
    for (size_t i = 0; i < nt; i++) {
        for (size_t k = 0; k < COUNT(transformer_cases); k++) {
            add(tests, specs, &n, "transformer", ts[i].name, transformer_cases[k].name,
                transformer_cases[k].fn);
            specs[n - 1].t = &ts[i];
        }
    }
    /*
     * Every runner through etl_pipeline_run: one with stages with every
     * extractor and loader, one without through the stageless cases.  A
     * runner no case runs fails the suite, like an entry with no constructor.
     */
    for (size_t r = 0; r < nr; r++) {
        size_t before = n;
        for (size_t i = 0; rs[r].run && rs[r].stages && i < nx; i++) {
            for (size_t j = 0; j < nl; j++) {
                char pair[64];
                snprintf(pair, sizeof(pair), "%s %s+flatten+%s", rs[r].name, xs[i].name,
                         ls[j].name);
                for (size_t k = 0; k < COUNT(staged_cases); k++) {
                    add(tests, specs, &n, "pipeline", pair, staged_cases[k].name,
                        staged_cases[k].fn);
                    specs[n - 1].x = &xs[i];
                    specs[n - 1].l = &ls[j];
                    specs[n - 1].t = flatten;
                    specs[n - 1].r = &rs[r];
                }
            }
        }
        for (size_t k = 0; rs[r].run && !rs[r].stages && k < COUNT(stageless_cases); k++) {
            add(tests, specs, &n, "pipeline", rs[r].name, stageless_cases[k].name,
                stageless_cases[k].fn);
            specs[n - 1].r = &rs[r];
        }
        if (n == before) {
            fprintf(stderr, "test_contract: no case runs runner '%s'\n", rs[r].name);
            free(tests);
            free(specs);
            return 1;
        }
    }
    int failed = _cmocka_run_group_tests("contract", tests, n, NULL, NULL);
    free(tests);
    free(specs);
    return failed;
}
