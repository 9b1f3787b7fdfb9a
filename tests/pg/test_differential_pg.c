/*
 * Differential test of every processor: on any data an application database
 * can hold, all of them must write exactly the same rows into
 * dwh.response_events and reject exactly the same submissions for the same
 * reasons.  A seeded generator makes random forms, users and submissions
 * biased to the edges (odd schemas, duplicate and dotted keys, escapes, every
 * spelling of a number, deep and large responses, missing forms and users,
 * extreme timestamps); each round loads a fresh set into the `empty`
 * template, runs every processor on it with -v and compares each with `copy`:
 * events as a sorted multiset, rejects as (submission, reason) from stderr,
 * and the JSON summary against both.  The test knows none of the transform's
 * rules: it computes no expected output, it only compares.
 *
 * In the suite (ctest -R pg_differential): three rounds with fixed seeds.
 * Long runs, from the build directory:
 *   ETL_DIFF_SECONDS=600 tests/test_pg_differential   random seeds for 10 minutes
 *   ETL_DIFF_SEED=12345 tests/test_pg_differential    replay the round of one seed
 * A disagreement names the seed and, for up to 5 submissions per processor,
 * their responses, their form's schema and what each side loaded or rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etl/config.h"
#include "harness.h"

static etl_test_server server;
static char scenarios[4096];

/*
 * The processors compared: every one scenarios/processors.yaml ships (loaded
 * in group_setup), the reference, copy, first: every other processor is
 * compared with it.  A processor added there must get its limits in
 * processors_yaml below, or its run fails.
 */
static etl_config *shipped;
static const char **processors;
static size_t nproc;

/*
 * scenarios/processors.yaml, but with limits small enough that random data
 * reaches them: responses nested deeper than 10 levels or longer than 3000
 * bytes are rejected (too_deep, too_large).
 */
static const char processors_yaml[] =
    "processors:\n"
    "  naive: {extractor: naive, loader: naive, max_depth: 10, max_bytes: 3000}\n"
    "  naive-joined: {extractor: joined, loader: naive, max_depth: 10, max_bytes: 3000}\n"
    "  flush-single: {extractor: chunked, loader: flush-single, max_depth: 10, max_bytes: 3000}\n"
    "  chunked: {extractor: chunked, loader: chunked, extract_batch: 500, load_batch: 500,"
    " max_depth: 10, max_bytes: 3000}\n"
    "  copy-text: {extractor: chunked, loader: copy-text, extract_batch: 500, max_depth: 10,"
    " max_bytes: 3000}\n"
    "  copy: {extractor: chunked, loader: copy, extract_batch: 500, max_depth: 10,"
    " max_bytes: 3000}\n"
    "  in-db: {runner: in-db, max_depth: 10, max_bytes: 3000}\n";

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- a seeded generator ------------------------------------------------ */

/* splitmix64: a few lines, and the same sequence for a seed on every platform. */
typedef struct rng {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* In [0, n); the modulo bias does not matter here. */
static size_t rng_below(rng *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

/* True with probability permille / 1000. */
static int rng_chance(rng *r, size_t permille)
{
    return rng_below(r, 1000) < permille;
}

static void rng_uuid(rng *r, char out[37])
{
    uint64_t hi = rng_next(r);
    uint64_t lo = rng_next(r);
    snprintf(out, 37, "%08llx-%04llx-4%03llx-%04llx-%012llx", (unsigned long long)(hi >> 32),
             (unsigned long long)((hi >> 16) & 0xFFFF), (unsigned long long)(hi & 0xFFF),
             (unsigned long long)(0x8000 | (lo >> 48 & 0x3FFF)),
             (unsigned long long)(lo & 0xFFFFFFFFFFFFULL));
}

/*
 * Writing JSON text: g->edge (per mille) is how often this form or
 * submission takes an edge case at each choice, so most of them stay plain
 * (and produce events) while some are odd all over.
 */
typedef struct gen {
    rng r;
    size_t edge; /* per mille */
    etl_buf *out;
} gen;

#define PICK(g, a) ((a)[rng_below(&(g)->r, COUNT(a))])

static void put(gen *g, const char *s)
{
    assert_int_equal(etl_buf_puts(g->out, s), 0);
}

static void edge_ws(gen *g)
{
    static const char *const spaces[] = {" ", "\n", "\t", "\r\n", "   ", " \n\t "};
    if (rng_chance(&g->r, g->edge))
        put(g, PICK(g, spaces));
}

static void put_u_escape(gen *g, unsigned long cp, int upper)
{
    assert_int_equal(
        upper ? etl_buf_printf(g->out, "\\u%04lX", cp) : etl_buf_printf(g->out, "\\u%04lx", cp), 0);
}

/*
 * A JSON string literal holding the UTF-8 text s, with some characters
 * escaped that need not be (\u0062 for b, \/ for /, \u00fc or a surrogate
 * pair for non-ASCII): the same string, spelled differently.
 */
static void put_string(gen *g, const char *s)
{
    put(g, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        int spell = rng_chance(&g->r, g->edge);
        if (c == '"' || c == '\\') {
            put(g, c == '"' ? "\\\"" : "\\\\");
        } else if (c < 0x20) {
            assert_int_equal(etl_buf_printf(g->out, "\\u%04x", c), 0);
        } else if (spell && c == '/') {
            put(g, "\\/");
        } else if (spell) {
            unsigned long cp = len == 1 ? c : c & (0x7FU >> len);
            for (size_t i = 1; i < len; i++)
                cp = cp << 6 | (p[i] & 0x3FU);
            int upper = rng_chance(&g->r, 500);
            if (cp >= 0x10000) {
                put_u_escape(g, 0xD800 + ((cp - 0x10000) >> 10), upper);
                put_u_escape(g, 0xDC00 + (cp & 0x3FF), upper);
            } else {
                put_u_escape(g, cp, upper);
            }
        } else {
            assert_int_equal(etl_buf_append(g->out, p, len), 0);
        }
        p += len;
    }
    put(g, "\"");
}

/* `,` unless first, then `"key":`, with whitespace here and there. */
static void put_member(gen *g, int *first, const char *key)
{
    if (!*first)
        put(g, ",");
    *first = 0;
    edge_ws(g);
    put_string(g, key);
    edge_ws(g);
    put(g, ":");
    edge_ws(g);
}

/* One of the space-separated words of list. */
static void put_word(gen *g, const char *list)
{
    size_t words = 1;
    for (const char *p = list; *p; p++)
        words += *p == ' ';
    const char *w = list;
    for (size_t n = rng_below(&g->r, words); n > 0; n--)
        w = strchr(w, ' ') + 1;
    assert_int_equal(etl_buf_append(g->out, w, strcspn(w, " ")), 0);
}

/* Every spelling of a number that tends to break someone's formatting. */
static void gen_number(gen *g)
{
    static const char edges[] =
        "0 -0 -0.0 0.0 0.10 2.50 1.0 1.00 10 -1 42 0.000001 0.0000001 1234567.125 "
        "9007199254740993 0.30000000000000004 0.10000000000000001 12345678901234567890 "
        "-12345678901234567890 12345678901234567890.5 123456789012345678901234567890 "
        "3.14159265358979323846264338327950288 "
        "0.1000000000000000000000000000000000000000000000000000000000000000000000 "
        "1e2 1E2 1E-7 1e+2 1e-400 1e999 -1e999 5e-324 3e-324 2e-324 1e15 1.5e16 1e16 1e21 1e22 "
        "0.1e1 100e-2 1.8e308 4.9e-324 123e-20 0e10 -0e-5 1e-16383 1e1000 1e007 2.5E+01 2748e19 "
        "1.7976931348623157e308 2.2250738585072014e-308";
    if (rng_chance(&g->r, 1)) { /* holdable by json, beyond what numeric (and jsonb) can hold */
        put(g, rng_chance(&g->r, 500) ? "1e200000" : "-1e-20000");
        return;
    }
    if (rng_chance(&g->r, 350)) {
        put_word(g, edges);
        return;
    }
    if (rng_chance(&g->r, 500)) {
        assert_int_equal(etl_buf_printf(g->out, "%d", (int)rng_below(&g->r, 200) - 20), 0);
        return;
    }
    /* A random mantissa and exponent: [-]int[.frac][e[+-]exp] */
    if (rng_chance(&g->r, 200))
        put(g, "-");
    size_t digits = 1 + rng_below(&g->r, rng_chance(&g->r, 200) ? 25 : 6);
    /* JSON allows no leading zero: 0 alone, or a first digit of 1 to 9 */
    assert_int_equal(
        etl_buf_printf(g->out, "%d", (int)rng_below(&g->r, digits > 1 ? 9 : 10) + (digits > 1)), 0);
    for (size_t i = 1; i < digits; i++)
        assert_int_equal(etl_buf_printf(g->out, "%d", (int)rng_below(&g->r, 10)), 0);
    if (rng_chance(&g->r, 600)) {
        put(g, ".");
        size_t frac = 1 + rng_below(&g->r, rng_chance(&g->r, 200) ? 25 : 5);
        for (size_t i = 0; i < frac; i++)
            assert_int_equal(etl_buf_printf(g->out, "%d", (int)rng_below(&g->r, 10)), 0);
    }
    if (rng_chance(&g->r, 300)) {
        static const char *const e[] = {"e", "E", "e+", "e-", "E-", "e0", "e-0"};
        put(g, PICK(g, e));
        assert_int_equal(
            etl_buf_printf(g->out, "%d", (int)rng_below(&g->r, rng_chance(&g->r, 100) ? 400 : 25)),
            0);
    }
}

/*
 * A string value from pieces of raw JSON string text: plain and non-ASCII
 * text, escapes of every kind and, now and then, what PostgreSQL cannot
 * store as text (\u0000, lone surrogates).  `\\u0000` is an escaped
 * backslash followed by "u0000": a storable string.
 */
static void gen_string(gen *g)
{
    static const char *const plain[] = {
        "yes",      "no",          "fine",          "a b",          "x",
        "",         "O'Brien",     "100",           "1.5",          "true",
        "null",     "2024-01-01",  " lead",         "trail ",       "\x7f",
        "tab|pipe", "comma,semi;", "{\\\"a\\\":1}", "[[[[[[[[[[[[", "{{{{{{{{{{{{"};
    static const char *const utf8[] = {"M\xc3\xbcller", "\xe6\x97\xa5\xe6\x9c\xac",
                                       "\xf0\x9f\x98\x80", "\xe2\x80\xa8"};
    static const char *const escapes[] = {
        "\\\"",          "\\\\",    "\\/",     "\\n",     "\\t",      "\\r",       "\\b",
        "\\f",           "\\u00e9", "\\u00E9", "\\u0041", "\\u20ac",  "\\u001f",   "\\u007f",
        "\\uffff",       "\\ufeff", "\\u005c", "\\\\n",   "\\\\\\\\", "\\\\u0000", "\\ud83d\\ude00",
        "\\uD83D\\uDE00"};
    static const char *const unstorable[] = {"\\u0000",        "\\ud800",        "\\udc00",
                                             "\\uDBFF",        "\\ud800\\u0041", "\\udc00\\ud800",
                                             "\\ud800\\ud800", "x\\u0000y",      "\\uDFFF"};
    put(g, "\"");
    if (rng_chance(&g->r, g->edge / 10 + 2)) { /* long answers, near max_bytes */
        size_t n = 200 + rng_below(&g->r, 3300);
        for (size_t i = 0; i < n; i++)
            put(g, i % 7 ? "a" : " ");
    }
    size_t pieces = rng_below(&g->r, 5);
    for (size_t i = 0; i < pieces; i++) {
        if (rng_chance(&g->r, g->edge / 4))
            put(g, PICK(g, unstorable));
        else if (rng_chance(&g->r, g->edge + 50))
            put(g, PICK(g, escapes));
        else
            put(g, rng_chance(&g->r, 800) ? PICK(g, plain) : PICK(g, utf8));
    }
    put(g, "\"");
}

static void gen_date(gen *g)
{
    static const char *const edges[] = {"2024-02-29",          "2023-02-29",
                                        "2024-02-30",          "2024-2-1",
                                        "2024-01-01",          "1900-02-29",
                                        "2000-02-29",          "2024-13-01",
                                        "2024-00-10",          "2024-01-00",
                                        "2024-04-31",          "0000-01-01",
                                        "9999-12-31",          "10000-01-01",
                                        "2024-01-01T00:00:00", "2024-01-01 ",
                                        " 2024-01-01",         "20240101",
                                        "2024/01/01",          "",
                                        "yesterday",           "2024\\u002d01\\u002d01",
                                        "\\u0032024-06-15",    "-2024-01-01",
                                        "+2024-01-01"};
    if (rng_chance(&g->r, g->edge + 100)) {
        put(g, "\"");
        put(g, PICK(g, edges));
        put(g, "\"");
        return;
    }
    assert_int_equal(etl_buf_printf(g->out, "\"%04d-%02d-%02d\"", 1950 + (int)rng_below(&g->r, 80),
                                    1 + (int)rng_below(&g->r, 12), 1 + (int)rng_below(&g->r, 28)),
                     0);
}

static const char *const answer_types[] = {"number", "text", "boolean", "date"};

static void gen_scalar(gen *g, int type)
{
    switch (type) {
    case 0:
        gen_number(g);
        break;
    case 1:
        gen_string(g);
        break;
    case 2:
        put(g, rng_chance(&g->r, 500) ? "true" : "false");
        break;
    case 3:
        gen_date(g);
        break;
    default:
        gen_scalar(g, (int)rng_below(&g->r, 4));
    }
}

/* Something that is not the answer asked for: null, an array, an object, another type. */
static void gen_odd(gen *g, int type)
{
    static const char *const odd[] = {
        "null",   "[]", "{}",   "[1, \"a\", null]", "[[true]]",      "{\"k\": 1}",
        "\"12\"", "12", "true", "\"true\"",         "[{\"x\": {}}]", "{\"\": null}"};
    if (rng_chance(&g->r, 100)) { /* skipped, but its strings are part of responses */
        put(g, "[");
        gen_string(g);
        put(g, "]");
    } else if (rng_chance(&g->r, 500)) {
        put(g, PICK(g, odd));
    } else {
        gen_scalar(g, (type + 1 + (int)rng_below(&g->r, 3)) % 4); /* another type */
    }
}

/* ---- form schemas -------------------------------------------------------- */

/*
 * What the generator remembers of a schema node to answer it: the key that
 * names it in responses (NULL if its slug is absent or null), its answer
 * type (-1 if none or unknown), and its child nodes.
 */
typedef struct node {
    char *key;
    int type;
    int group; /* has children: answered by an object */
    struct node *kids;
    size_t nkids;
} node;

static void node_release(node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        node_release(&n->kids[i]);
    free(n->kids);
    free(n->key);
}

/*
 * A slug from a small pool: slugs collide (duplicates, "a.b" next to "a" >
 * "b"), hold dots, odd characters, and look like array indexes or numbers.
 */
static const char *pick_slug(gen *g)
{
    static const char *const words[] = {"a",        "b",         "a.b",       "bmi",
                                        "mood",     "wellbeing", "x",         "wellbeing.mood",
                                        "children", "slug",      "answerType"};
    static const char *const odd[] = {
        "a b", "q\"uote", "back\\slash", "new\nline",       "..", "a.", ".a", "7", "0", "-1", " 2",
        "+3",  "1e1",     "M\xc3\xbcl",  "\xf0\x9f\x98\x80"};
    return rng_chance(&g->r, 600) ? PICK(g, words) : PICK(g, odd);
}

static void gen_schema_children(gen *g, node *parent, unsigned depth, unsigned maxdepth,
                                size_t *counter);

static void gen_schema_node(gen *g, node *n, unsigned depth, unsigned maxdepth, int spine,
                            size_t *counter)
{
    char slug[64];
    int first = 1;
    n->type = -1;
    put(g, "{");
    size_t k = rng_below(&g->r, 1000);
    if (k < g->edge / 4) {
        /* no slug at all */
    } else if (k < g->edge / 2) {
        put_member(g, &first, "slug");
        put(g, rng_chance(&g->r, 500) ? "null" : "[\"a\"]");
    } else if (k < g->edge * 3 / 4) {
        snprintf(slug, sizeof(slug), "%d", (int)rng_below(&g->r, 10));
        put_member(g, &first, "slug");
        put(g, slug); /* a number, not a string */
        n->key = strdup(slug);
    } else {
        if (k < g->edge)
            snprintf(slug, sizeof(slug), "%s", "");
        else if (k < g->edge * 2)
            snprintf(slug, sizeof(slug), "%s", pick_slug(g));
        else if (rng_chance(&g->r, g->edge))
            snprintf(slug, sizeof(slug), "q%zu.%d", (*counter)++, (int)rng_below(&g->r, 3));
        else
            snprintf(slug, sizeof(slug), rng_chance(&g->r, 100) ? "fr\xc3\xa5ga_%zu" : "q%zu",
                     (*counter)++);
        put_member(g, &first, "slug");
        put_string(g, slug);
        n->key = strdup(slug);
    }
    n->group = depth < maxdepth && (spine || rng_chance(&g->r, depth == 1 ? 250 : 150));
    if (!n->group || rng_chance(&g->r, g->edge)) {
        put_member(g, &first, "answerType");
        if (rng_chance(&g->r, g->edge)) {
            static const char *const odd[] = {"\"color\"",  "null",      "\"Number\"", "\"\"", "5",
                                              "[\"text\"]", "\"text \"", "\"boolean\""};
            put(g, PICK(g, odd));
        } else {
            n->type = (int)rng_below(&g->r, 4);
            put_string(g, answer_types[n->type]);
        }
    }
    size_t t = rng_below(&g->r, 1000);
    if (t < 550) {
        put_member(g, &first, "tag");
        char tag[32];
        snprintf(tag, sizeof(tag), "tag_%d", (int)rng_below(&g->r, 5));
        put_string(g, tag);
    } else if (t < 550 + g->edge) {
        static const char *const odd[] = {"null",       "5",    "\"\"",     "\"\xc3\xa9tiquette\"",
                                          "{\"k\": 1}", "true", "\"a\\nb\""};
        put_member(g, &first, "tag");
        put(g, PICK(g, odd));
    }
    if (rng_chance(&g->r, g->edge)) {
        put_member(g, &first, "label"); /* jsonb holds no \u0000: no gen_string here */
        put_string(g, pick_slug(g));
    }
    if (n->group) {
        put_member(g, &first, "children");
        if (rng_chance(&g->r, g->edge / 3)) {
            static const char *const odd[] = {"{\"slug\": \"z\", \"answerType\": \"text\"}",
                                              "\"x\"", "5", "null", "true"};
            put(g, PICK(g, odd)); /* not an array: answered as a group all the same */
        } else {
            gen_schema_children(g, n, depth + 1, maxdepth, counter);
        }
    } else if (rng_chance(&g->r, g->edge / 2)) {
        put_member(g, &first, "children");
        put(g, rng_chance(&g->r, 500) ? "[]" : "null");
    }
    put(g, "}");
}

static void gen_schema_children(gen *g, node *parent, unsigned depth, unsigned maxdepth,
                                size_t *counter)
{
    static const char *const not_objects[] = {"\"just a string\"",
                                              "5",
                                              "null",
                                              "[]",
                                              "true",
                                              "[{\"slug\": \"inner\", \"answerType\": \"text\"}]"};
    size_t n = depth == 1 ? 3 + rng_below(&g->r, 10) : 1 + rng_below(&g->r, 4);
    parent->kids = calloc(n, sizeof(node));
    assert_non_null(parent->kids);
    put(g, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(g, ", ");
        if (rng_chance(&g->r, g->edge / 3))
            put(g, PICK(g, not_objects));
        else
            gen_schema_node(g, &parent->kids[parent->nkids++], depth, maxdepth, i == 0, counter);
    }
    put(g, "]");
}

/* A form's schema (jsonb text): mostly usable trees, some deep, some not objects at all. */
static void gen_schema(gen *g, node *root)
{
    static const char *const not_objects[] = {
        "[]", "[{\"slug\": \"a\", \"answerType\": \"text\"}]", "\"schema\"", "5", "null", "true"};
    size_t counter = 0;
    unsigned maxdepth = rng_chance(&g->r, 300) ? 4 + (unsigned)rng_below(&g->r, 5)
                                               : 1 + (unsigned)rng_below(&g->r, 3);
    root->type = -1;
    root->group = 1;
    if (rng_chance(&g->r, g->edge / 2)) {
        put(g, PICK(g, not_objects));
        return;
    }
    if (g->edge && rng_chance(&g->r, 100)) {
        /* Around cJSON's nesting limit of 1000: 499 levels of children parse, 500 do not. */
        unsigned levels = 498 + (unsigned)rng_below(&g->r, 4);
        for (unsigned i = 0; i < levels; i++)
            put(g, "{\"slug\": \"d\", \"children\": [");
        put(g, "{\"slug\": \"d\", \"answerType\": \"text\"}");
        for (unsigned i = 0; i < levels; i++)
            put(g, "]}");
        return;
    }
    put(g, "{");
    if (rng_chance(&g->r, 500))
        put(g, "\"slug\": \"root\", ");
    if (rng_chance(&g->r, g->edge / 3)) {
        put(g, "\"title\": \"no children\"");
    } else if (rng_chance(&g->r, g->edge / 3)) {
        put(g, "\"children\": {\"slug\": \"a\", \"answerType\": \"text\"}");
    } else {
        put(g, "\"children\": ");
        gen_schema_children(g, root, 1, maxdepth, &counter);
    }
    put(g, "}");
}

/* ---- submissions --------------------------------------------------------- */

static void gen_object(gen *g, const node *kids, size_t nkids, unsigned depth);

/* Nested arrays and objects down to about max_depth (10), a little above or below. */
static void gen_deep(gen *g, unsigned depth)
{
    unsigned target = 8 + (unsigned)rng_below(&g->r, 6);
    char closers[64];
    size_t n = 0;
    for (unsigned d = depth; d < target && n < sizeof(closers); d++) {
        if (rng_chance(&g->r, 500)) {
            put(g, "[");
            closers[n++] = ']';
        } else {
            put(g, rng_chance(&g->r, 500) ? "{\"d\": " : "{\"x\": 1, \"d\": ");
            closers[n++] = '}';
        }
    }
    gen_scalar(g, -1);
    while (n > 0) {
        char c[2] = {closers[--n], 0};
        put(g, c);
    }
}

/* The answer to node n, an object one level below depth. */
static void gen_answer(gen *g, const node *n, unsigned depth)
{
    if (rng_chance(&g->r, g->edge)) {
        gen_odd(g, n->type);
    } else if (n->group && !(n->type >= 0 && rng_chance(&g->r, 300))) {
        if (rng_chance(&g->r, g->edge)) {
            put(g, "{}");
            return;
        }
        gen_object(g, n->kids, n->nkids, depth + 1);
    } else {
        gen_scalar(g, n->type);
    }
}

/* The answer to n under the dotted key split at its dots, as nested objects. */
static void put_split_member(gen *g, int *first, const char *dotted, const node *n, unsigned depth)
{
    char key[160];
    snprintf(key, sizeof(key), "%s", dotted);
    char *part = key;
    char *dot = strchr(part, '.');
    *dot = '\0';
    put_member(g, first, part);
    unsigned open = 0;
    do {
        part = dot + 1;
        dot = strchr(part, '.');
        if (dot)
            *dot = '\0';
        put(g, "{");
        put_string(g, part);
        put(g, ":");
        open++;
    } while (dot);
    gen_answer(g, n, depth + open);
    while (open--)
        put(g, "}");
}

/* A responses object (depth counts the objects and arrays it is nested in, itself included). */
static void gen_object(gen *g, const node *kids, size_t nkids, unsigned depth)
{
    static const char *const extra_keys[] = {"extra", "note",  "b\\u006di",  "",
                                             "zz",    "a.b.c", "nul\\u0000", "\\udc00"};
    int first = 1;
    put(g, "{");
    edge_ws(g);
    size_t start = rng_chance(&g->r, g->edge) && nkids ? rng_below(&g->r, nkids) : 0;
    for (size_t j = 0; j < nkids; j++) {
        const node *kid = &kids[(start + j) % nkids]; /* sometimes not in schema order */
        if (!kid->key || !rng_chance(&g->r, 850))
            continue;
        const node *grandchild = NULL;
        if (kid->group && kid->nkids && rng_chance(&g->r, g->edge)) {
            grandchild = &kid->kids[rng_below(&g->r, kid->nkids)];
            if (!grandchild->key)
                grandchild = NULL;
        }
        int dotted_first = rng_chance(&g->r, 500);
        int nested = !grandchild || rng_chance(&g->r, 700);
        char dotted[160];
        if (grandchild)
            snprintf(dotted, sizeof(dotted), "%s.%s", kid->key, grandchild->key);
        if (grandchild && dotted_first) { /* "wellbeing.mood" next to "wellbeing": {"mood"} */
            put_member(g, &first, dotted);
            gen_answer(g, grandchild, depth);
        }
        if (nested && strchr(kid->key, '.') && rng_chance(&g->r, g->edge * 2)) {
            put_split_member(g, &first, kid->key, kid, depth); /* slug "a.b" as {"a": {"b"}} */
        } else if (nested) {
            put_member(g, &first, kid->key);
            gen_answer(g, kid, depth);
        }
        if (grandchild && !dotted_first) {
            put_member(g, &first, dotted);
            gen_answer(g, grandchild, depth);
        }
        if (rng_chance(&g->r, g->edge)) { /* the same key again */
            put_member(g, &first, kid->key);
            gen_answer(g, kid, depth);
        }
    }
    if (rng_chance(&g->r, g->edge)) { /* a key that is no question (written raw: may escape) */
        if (!first)
            put(g, ",");
        first = 0;
        put(g, "\"");
        put(g, PICK(g, extra_keys));
        put(g, "\": ");
        if (rng_chance(&g->r, 300))
            gen_object(g, NULL, 0, depth + 1);
        else
            gen_scalar(g, -1);
    }
    if (depth < 8 && rng_chance(&g->r, g->edge / 3 + 5)) {
        put_member(g, &first, "deep");
        gen_deep(g, depth + 1);
    }
    edge_ws(g);
    put(g, "}");
}

/* A submission's responses (json text, kept as written): mostly an object answering form. */
static void gen_responses(gen *g, const node *root)
{
    static const char *const odd_roots[] = {"[]",   "[{\"a\": 1}]",       "\"text\"", "42", "null",
                                            "true", "\"{\\\"a\\\": 1}\"", "-0.0",     "{}", "{ }"};
    edge_ws(g);
    if (rng_chance(&g->r, g->edge / 4 + 5))
        put(g, PICK(g, odd_roots));
    else
        gen_object(g, root->kids, root->nkids, 1);
    edge_ws(g);
    if (rng_chance(&g->r, 20) && g->out->len && g->out->data[g->out->len - 1] == '}') {
        /* Pad to just around max_bytes (3000) with spaces before the last brace. */
        static const size_t sizes[] = {2990, 2999, 3000, 3001, 3002, 4000};
        size_t want = PICK(g, sizes);
        if (g->out->len < want) {
            g->out->len--;
            while (g->out->len < want - 1)
                put(g, " ");
            put(g, "}");
        }
    }
}

/* ---- a data set ---------------------------------------------------------- */

#define MAX_FORMS 10
#define NUSERS 5

typedef struct form {
    char id[37];
    char name[96];
    char *schema; /* jsonb text as inserted */
    node root;
} form;

typedef struct user {
    char id[37];
    const char *given;
    const char *family;
} user;

typedef struct submission {
    char id[37];
    char form_id[37];
    char user_id[37];
    const form *form; /* NULL if form_id names no form */
    char created[64];
    char *responses;
} submission;

typedef struct dataset {
    form forms[MAX_FORMS];
    size_t nforms;
    user users[NUSERS];
    submission *subs;
    size_t nsubs;
    struct by_id {
        const char *id;
        size_t i; /* in subs */
    } * by_id;    /* sorted by id */
} dataset;

/* Names of users and forms: text columns, so tabs, newlines and backslashes too. */
static const char *pick_name(rng *r)
{
    static const char *const ascii[] = {"Ada",        "O'Brien",   "",          " ",
                                        "Anne-Marie", "tab\there", "new\nline", "back\\slash",
                                        "pipe|bar",   "quote\"d",  "\\N",       "comma, semi;"};
    static const char *const utf8[] = {"Zo\xc3\xab", "Jos\xc3\xa9", "\xe6\x9d\x8e",
                                       "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd", "\xf0\x9f\x98\x80"};
    return rng_chance(r, 700) ? ascii[rng_below(r, COUNT(ascii))] : utf8[rng_below(r, COUNT(utf8))];
}

/*
 * Per mille of edge cases for one form or submission: many plain, some odd
 * all over.  Forms take fewer: one odd node can make a whole schema unusable,
 * and unusable forms load nothing.
 */
static size_t pick_edge(rng *r, int for_form)
{
    static const size_t submission_rates[] = {0, 0, 0, 20, 20, 20, 80, 80, 250, 250};
    static const size_t form_rates[] = {0, 0, 0, 0, 0, 0, 5, 10, 30, 150};
    return for_form ? form_rates[rng_below(r, COUNT(form_rates))]
                    : submission_rates[rng_below(r, COUNT(submission_rates))];
}

static void gen_created(rng *r, char out[64])
{
    static const char *const odd[] = {"infinity",
                                      "-infinity",
                                      "294276-12-31 23:59:59.999999+00",
                                      "4713-11-24 00:00:00+00 BC",
                                      "0001-01-01 00:00:00+00",
                                      "1900-01-01 00:00:00+00",
                                      "10000-01-01 00:00:00+00",
                                      "2024-03-31 01:30:00+01:30"};
    if (rng_chance(r, 10)) {
        snprintf(out, 64, "%s", odd[rng_below(r, COUNT(odd))]);
        return;
    }
    snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d%s", 2020 + (int)rng_below(r, 6),
             1 + (int)rng_below(r, 12), 1 + (int)rng_below(r, 28), (int)rng_below(r, 24),
             (int)rng_below(r, 60), (int)rng_below(r, 60),
             rng_chance(r, 500) ? 0 : (int)rng_below(r, 1000000),
             rng_chance(r, 800) ? "+00" : "-05:30");
}

static int by_string_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_id_cmp(const void *a, const void *b)
{
    return strcmp(((const struct by_id *)a)->id, ((const struct by_id *)b)->id);
}

static void dataset_generate(dataset *d, uint64_t seed)
{
    memset(d, 0, sizeof(*d));
    rng r = {seed};
    etl_buf buf = ETL_BUF_INIT;
    gen g = {{0}, 0, &buf};
    d->nforms = 5 + rng_below(&r, MAX_FORMS - 4);
    for (size_t i = 0; i < d->nforms; i++) {
        form *f = &d->forms[i];
        rng_uuid(&r, f->id);
        snprintf(f->name, sizeof(f->name), "%s %zu", pick_name(&r), i);
        g.r.state = rng_next(&r);
        g.edge = pick_edge(&r, 1);
        etl_buf_reset(&buf);
        gen_schema(&g, &f->root);
        f->schema = strdup(buf.data);
    }
    for (size_t i = 0; i < NUSERS; i++) {
        rng_uuid(&r, d->users[i].id);
        d->users[i].given = pick_name(&r);
        d->users[i].family = pick_name(&r);
    }
    d->nsubs = 140 + rng_below(&r, 21);
    d->subs = calloc(d->nsubs, sizeof(*d->subs));
    d->by_id = calloc(d->nsubs, sizeof(*d->by_id));
    assert_true(d->subs && d->by_id);
    for (size_t i = 0; i < d->nsubs; i++) {
        submission *s = &d->subs[i];
        const form *f = &d->forms[rng_below(&r, d->nforms)];
        rng_uuid(&r, s->id);
        s->form = f;
        snprintf(s->form_id, sizeof(s->form_id), "%s", f->id);
        int both = rng_chance(&r, 10);
        if (both || rng_chance(&r, 30)) { /* answers a form, but names one that does not exist */
            rng_uuid(&r, s->form_id);
            s->form = NULL;
        }
        if (both || rng_chance(&r, 30))
            rng_uuid(&r, s->user_id);
        else
            snprintf(s->user_id, sizeof(s->user_id), "%s", d->users[rng_below(&r, NUSERS)].id);
        gen_created(&r, s->created);
        g.r.state = rng_next(&r);
        g.edge = pick_edge(&r, 0);
        etl_buf_reset(&buf);
        gen_responses(&g, &f->root);
        s->responses = strdup(buf.data);
        d->by_id[i].id = s->id;
        d->by_id[i].i = i;
    }
    qsort(d->by_id, d->nsubs, sizeof(*d->by_id), by_id_cmp);
    etl_buf_release(&buf);
}

static void dataset_release(dataset *d)
{
    for (size_t i = 0; i < d->nforms; i++) {
        free(d->forms[i].schema);
        node_release(&d->forms[i].root);
    }
    for (size_t i = 0; i < d->nsubs; i++)
        free(d->subs[i].responses);
    free(d->subs);
    free(d->by_id);
}

/* Index of the submission with this id in d->subs, or -1. */
static long dataset_find(const dataset *d, const char *id)
{
    size_t lo = 0;
    size_t hi = d->nsubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(d->by_id[mid].id, id);
        if (c == 0)
            return (long)d->by_id[mid].i;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Replace the template's app rows with d; texts go as parameters, byte for byte. */
static void dataset_load(const dataset *d)
{
    etl_db *db = etl_test_connect(&server, "etl_tpl_empty");
    etl_error err;
    etl_error_clear(&err);
    if (etl_db_exec(db, "BEGIN; TRUNCATE app.forms, app.users, app.submissions", &err) != 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < d->nforms; i++) {
        const form *f = &d->forms[i];
        const char *p[] = {f->id, f->name, f->name, f->schema};
        if (etl_db_exec_params(db, "INSERT INTO app.forms VALUES ($1, $2, $3, $4)", 4, p, &err))
            fail_msg("%s\nschema: %s", err.msg, f->schema);
    }
    for (size_t i = 0; i < NUSERS; i++) {
        const char *p[] = {d->users[i].id, d->users[i].given, d->users[i].family};
        if (etl_db_exec_params(db, "INSERT INTO app.users VALUES ($1, $2, $3)", 3, p, &err))
            fail_msg("%s", err.msg);
    }
    for (size_t i = 0; i < d->nsubs; i++) {
        const submission *s = &d->subs[i];
        const char *p[] = {s->id, s->form_id, s->user_id, s->responses, s->created};
        if (etl_db_exec_params(db, "INSERT INTO app.submissions VALUES ($1, $2, $3, $4, $5)", 5, p,
                               &err))
            fail_msg("%s\nresponses: %s", err.msg, s->responses);
    }
    if (etl_db_exec(db, "COMMIT", &err) != 0)
        fail_msg("%s", err.msg);
    etl_db_close(db); /* the template must have no connections when it is cloned */
}

/* ---- running the processors ---------------------------------------------- */

/*
 * The events, sorted on every column (text in "C" order), one JSON array per
 * row so that tabs, newlines and '|' in values cannot blur rows together.
 */
static const char dump_sql[] =
    "SELECT submission_id::text, json_build_array(form_id, form_name, user_id, user_full_name,"
    " submission_id, submission_created, schema_path, value, answer_type, tag)::text"
    " FROM dwh.response_events ORDER BY submission_id, form_id, form_name COLLATE \"C\","
    " user_id, user_full_name COLLATE \"C\", submission_created, schema_path COLLATE \"C\","
    " value COLLATE \"C\", answer_type, tag COLLATE \"C\"";

/* What one processor made of a data set. */
typedef struct outcome {
    const char *processor;
    int status;
    int failed;       /* did not run to the end: nothing to compare */
    etl_buf problems; /* empty, or why this run is wrong on its own */
    long submissions; /* from the JSON summary */
    long events;
    long rejected;
    size_t nevents; /* rows in dwh.response_events */
    size_t nrejects;
    etl_buf *what; /* per submission (d->subs order): "rejected (reason)" lines, event rows */
    size_t nsubs;
} outcome;

static void outcome_release(outcome *o)
{
    etl_buf_release(&o->problems);
    for (size_t i = 0; i < o->nsubs; i++)
        etl_buf_release(&o->what[i]);
    free(o->what);
}

/* Count per reject reason, summed over rounds (reference processor only). */
typedef struct totals {
    unsigned rounds;
    size_t submissions;
    size_t events;
    size_t rejects;
    char reasons[16][32];
    size_t per_reason[16];
    size_t nreasons;
} totals;

static totals sum;

static void totals_add_reason(const char *reason)
{
    size_t i = 0;
    while (i < sum.nreasons && strcmp(sum.reasons[i], reason) != 0)
        i++;
    if (i == sum.nreasons) {
        if (i == COUNT(sum.reasons))
            return;
        snprintf(sum.reasons[sum.nreasons++], sizeof(sum.reasons[0]), "%.31s", reason);
    }
    sum.per_reason[i]++;
}

static void totals_print(void)
{
    printf("differential: %u rounds, %zu submissions, %zu events, %zu rejects", sum.rounds,
           sum.submissions, sum.events, sum.rejects);
    for (size_t i = 0; i < sum.nreasons; i++)
        printf("%s%s %zu", i ? ", " : " (", sum.reasons[i], sum.per_reason[i]);
    printf("%s\n", sum.nreasons ? ")" : "");
    fflush(stdout);
}

#define REJECT_PREFIX "etl: submission "

/*
 * Lines `etl: submission <uuid> rejected (<reason>): <message>` on stderr
 * (all of them with -v) go to the submission's account.
 */
static void collect_rejects(const dataset *d, outcome *o, const char *err)
{
    static const char prefix[] = REJECT_PREFIX;
    for (const char *line = err; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char id[37];
        char reason[64];
        if (len > sizeof(prefix) + 36 && strncmp(line, prefix, sizeof(prefix) - 1) == 0 &&
            sscanf(line + sizeof(prefix) - 1, "%36s rejected (%63[^)])", id, reason) == 2) {
            long i = dataset_find(d, id);
            if (i < 0)
                etl_buf_printf(&o->problems, "  rejected a submission that does not exist: %.*s\n",
                               (int)len, line);
            else
                etl_buf_printf(&o->what[i], "rejected (%s)\n", reason);
            o->nrejects++;
        }
        line += len + (end ? 1 : 0);
    }
}

static void collect_events(const dataset *d, outcome *o)
{
    etl_db *db = etl_test_connect(&server, "etl_run_empty");
    etl_result *r = NULL;
    etl_error err;
    etl_error_clear(&err);
    if (etl_db_query(db, dump_sql, 0, NULL, &r, &err) != 0)
        fail_msg("%s: cannot read the events: %s", o->processor, err.msg);
    for (int row = 0; row < etl_result_rows(r); row++) {
        long i = dataset_find(d, etl_result_get(r, row, 0));
        if (i < 0)
            etl_buf_printf(&o->problems, "  an event of a submission that does not exist: %s\n",
                           etl_result_get(r, row, 1));
        else
            etl_buf_printf(&o->what[i], "%s\n", etl_result_get(r, row, 1));
        o->nevents++;
    }
    etl_result_free(r);
    etl_db_close(db);
}

/* stderr without the lines that list rejects (-v prints one per submission). */
static void put_errors(etl_buf *b, const char *err)
{
    for (const char *line = err; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (strncmp(line, REJECT_PREFIX, strlen(REJECT_PREFIX)) != 0)
            etl_buf_printf(b, "    %.*s%s\n", len < 400 ? len : 400, line, len < 400 ? "" : "...");
        line += len + (end ? 1 : 0);
    }
}

/* Run processor on d; o starts zeroed. */
static void run_processor(const dataset *d, const char *processor, outcome *o)
{
    o->processor = processor;
    o->what = calloc(d->nsubs, sizeof(*o->what));
    assert_non_null(o->what);
    o->nsubs = d->nsubs;
    const char *args[] = {"--db",    server.conninfo, "--scenarios", scenarios, "-v",
                          "process", "empty",         processor,     "--json",  NULL};
    etl_run run;
    etl_test_run(&run, args);
    o->status = run.status;
    if (run.status != 0 && run.status != 5) {
        etl_buf_printf(&o->problems, "  exit %d (not 0, nor 5 for rejects); stderr:\n", run.status);
        put_errors(&o->problems, run.err.data);
        o->failed = 1;
        etl_run_release(&run);
        return;
    }
    o->submissions = (long)etl_test_json_number(run.out.data, "submissions");
    o->events = (long)etl_test_json_number(run.out.data, "events");
    o->rejected = (long)etl_test_json_number(run.out.data, "rejected");
    collect_rejects(d, o, run.err.data);
    collect_events(d, o);
    if (o->events != (long)o->nevents)
        etl_buf_printf(&o->problems, "  its summary says %ld events, the table holds %zu\n",
                       o->events, o->nevents);
    if (o->rejected != (long)o->nrejects)
        etl_buf_printf(&o->problems, "  its summary says %ld rejected, stderr lists %zu\n",
                       o->rejected, o->nrejects);
    if ((o->status == 5) != (o->nrejects > 0))
        etl_buf_printf(&o->problems, "  exit %d with %zu rejects listed\n", o->status, o->nrejects);
    etl_run_release(&run);
}

/* ---- comparing ------------------------------------------------------------ */

/* The processor the others are compared with: copy, unless it failed; nproc if all failed. */
static size_t reference(const outcome *o)
{
    size_t ref = 0;
    while (ref < nproc && o[ref].failed)
        ref++;
    return ref;
}

/* At most cap bytes of s (cut at a character boundary), with its length if cut. */
static void put_excerpt(etl_buf *b, const char *s, size_t cap)
{
    size_t len = strlen(s);
    if (len <= cap) {
        etl_buf_printf(b, "%s\n", s);
        return;
    }
    while (cap > 0 && ((unsigned char)s[cap] & 0xC0) == 0x80)
        cap--;
    etl_buf_printf(b, "%.*s... (%zu bytes)\n", (int)cap, s, len);
}

/* The lines of what, sorted: pointers into *text (a copy the caller frees); *n of them. */
static char **sorted_lines(const etl_buf *what, size_t *n, char **text)
{
    *text = strdup(what->data ? what->data : "");
    size_t cap = 1;
    for (const char *p = *text; *p; p++)
        cap += *p == '\n';
    char **lines = calloc(cap, sizeof(*lines));
    assert_true(*text && lines);
    *n = 0;
    for (char *line = *text, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
        *end = '\0';
        lines[(*n)++] = line;
    }
    qsort(lines, *n, sizeof(*lines), by_string_cmp);
    return lines;
}

/*
 * What two processors made of one submission: the lines (reject reasons,
 * event rows) that only one of them has, and how many they share.
 */
static void put_difference(etl_buf *b, const char *ref, const etl_buf *ref_what, const char *other,
                           const etl_buf *other_what)
{
    size_t na = 0;
    size_t nb = 0;
    char *text_a = NULL;
    char *text_b = NULL;
    char **a = sorted_lines(ref_what, &na, &text_a);
    char **b2 = sorted_lines(other_what, &nb, &text_b);
    char *only_a = calloc(na + 1, 1);
    char *only_b = calloc(nb + 1, 1);
    assert_true(only_a && only_b);
    size_t i = 0;
    size_t j = 0;
    size_t shared = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b2[j]);
        if (c == 0) {
            shared++;
            i++;
            j++;
        } else if (c < 0) {
            only_a[i++] = 1;
        } else {
            only_b[j++] = 1;
        }
    }
    const char *who[2] = {ref, other};
    char **lines[2] = {a, b2};
    size_t counts[2] = {na, nb};
    const char *only[2] = {only_a, only_b};
    for (int side = 0; side < 2; side++) {
        if (counts[side] == 0) {
            etl_buf_printf(b, "    %s: nothing (no events, not rejected)\n", who[side]);
            continue;
        }
        if (counts[side] == shared)
            continue;
        etl_buf_printf(b, "    %s only:\n", who[side]);
        for (size_t k = 0; k < counts[side]; k++)
            if (only[side][k])
                etl_buf_printf(b, "      %s\n", lines[side][k]);
    }
    if (shared)
        etl_buf_printf(b, "    and %zu lines the same in both\n", shared);
    free(only_a);
    free(only_b);
    free(a);
    free(b2);
    free(text_a);
    free(text_b);
}

static int same_what(const etl_buf *a, const etl_buf *b)
{
    return strcmp(a->data ? a->data : "", b->data ? b->data : "") == 0;
}

/*
 * Compare every processor with the reference (the first that ran cleanly):
 * per submission, its events and its reject reason.  Returns NULL if they
 * all agree, else a report a human can reproduce from (caller frees).
 */
static char *compare(const dataset *d, const outcome *o)
{
    etl_buf report = ETL_BUF_INIT;
    size_t ref = reference(o);
    for (size_t p = 0; p < nproc; p++) {
        if (o[p].problems.len)
            etl_buf_printf(&report, "%s is wrong on its own:\n%s", o[p].processor,
                           o[p].problems.data);
        if (p == ref || ref == nproc || o[p].failed)
            continue;
        if (o[p].submissions != o[ref].submissions)
            etl_buf_printf(&report, "%s read %ld submissions, %s %ld\n", o[p].processor,
                           o[p].submissions, o[ref].processor, o[ref].submissions);
        size_t differ = 0;
        for (size_t i = 0; i < d->nsubs; i++)
            differ += !same_what(&o[p].what[i], &o[ref].what[i]);
        if (!differ)
            continue;
        etl_buf_printf(&report, "%s disagrees with %s on %zu of %zu submissions, e.g.:\n",
                       o[p].processor, o[ref].processor, differ, d->nsubs);
        for (size_t i = 0, shown = 0; i < d->nsubs && shown < 5; i++) {
            if (same_what(&o[p].what[i], &o[ref].what[i]))
                continue;
            shown++;
            const submission *s = &d->subs[i];
            etl_buf_printf(&report, "  submission %s (form %s%s, user %s)\n    responses: ", s->id,
                           s->form_id, s->form ? "" : ", missing", s->user_id);
            put_excerpt(&report, s->responses, 2000);
            etl_buf_puts(&report, "    schema: ");
            put_excerpt(&report, s->form ? s->form->schema : "(no such form)", 2000);
            put_difference(&report, o[ref].processor, &o[ref].what[i], o[p].processor,
                           &o[p].what[i]);
        }
    }
    if (!report.len) {
        etl_buf_release(&report);
        return NULL;
    }
    return etl_buf_detach(&report);
}

static void run_round(uint64_t seed, unsigned round)
{
    dataset d;
    dataset_generate(&d, seed);
    dataset_load(&d);
    outcome *o = calloc(nproc, sizeof(*o));
    assert_non_null(o);
    for (size_t p = 0; p < nproc; p++)
        run_processor(&d, processors[p], &o[p]);
    size_t ref = reference(o);
    sum.rounds++;
    sum.submissions += d.nsubs;
    sum.events += ref < nproc ? o[ref].nevents : 0;
    sum.rejects += ref < nproc ? o[ref].nrejects : 0;
    for (size_t i = 0; ref < nproc && i < d.nsubs; i++) {
        const char *w = o[ref].what[i].data;
        char reason[64];
        if (w && sscanf(w, "rejected (%63[^)])", reason) == 1)
            totals_add_reason(reason);
    }
    char *report = compare(&d, o);
    for (size_t p = 0; p < nproc; p++)
        outcome_release(&o[p]);
    free(o);
    dataset_release(&d);
    if (report) {
        /* On stderr: cmocka cuts long failure messages short. */
        fprintf(stderr, "seed %llu, round %u: the processors disagree\n%s",
                (unsigned long long)seed, round, report);
        free(report);
        totals_print();
        fail_msg("seed %llu, round %u: the processors disagree (above); replay with "
                 "ETL_DIFF_SEED=%llu",
                 (unsigned long long)seed, round, (unsigned long long)seed);
    }
}

/* ---- the two modes ------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    etl_error err;
    etl_error_clear(&err);
    if (etl_config_load(&shipped, ETL_TEST_SCENARIOS, &err) != 0)
        fail_msg("%s", err.msg);
    processors = calloc(shipped->nprocessors, sizeof(*processors));
    assert_non_null(processors);
    for (size_t i = 0; i < shipped->nprocessors; i++)
        if (strcmp(shipped->processors[i].name, "copy") == 0)
            processors[nproc++] = shipped->processors[i].name;
    if (nproc != 1)
        fail_msg("%s/processors.yaml has no processor copy, the reference", ETL_TEST_SCENARIOS);
    for (size_t i = 0; i < shipped->nprocessors; i++)
        if (strcmp(shipped->processors[i].name, "copy") != 0)
            processors[nproc++] = shipped->processors[i].name;
    etl_test_server_start(&server, "pgdata-differential");
    etl_test_scenarios_dir("differential-processors", processors_yaml, scenarios,
                           sizeof(scenarios));
    const char *args[] = {"--db",     server.conninfo, "--scenarios", scenarios,
                          "generate", "empty",         "-q",          NULL};
    etl_run run;
    etl_test_run(&run, args);
    if (run.status != 0)
        fail_msg("etl generate empty: exit %d\n%s", run.status, run.err.data);
    etl_run_release(&run);
    /* Submissions may name forms and users that do not exist, as in a real database. */
    etl_test_exec_on(&server, "etl_tpl_empty",
                     "DO $$DECLARE c name; BEGIN"
                     " FOR c IN SELECT conname FROM pg_constraint"
                     "  WHERE conrelid = 'app.submissions'::regclass AND contype = 'f' LOOP"
                     "  EXECUTE format('ALTER TABLE app.submissions DROP CONSTRAINT %I', c);"
                     " END LOOP; END$$");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    free(processors);
    etl_config_free(shipped);
    return 0;
}

/* The suite's run: fixed seeds, a few seconds. */
static void test_differential_fixed_seeds(void **state)
{
    (void)state;
    static const uint64_t seeds[] = {1, 2, 3};
    for (unsigned i = 0; i < COUNT(seeds); i++)
        run_round(seeds[i], i + 1);
    totals_print();
}

/* ETL_DIFF_SEED=S replays one seed; ETL_DIFF_SECONDS=N runs random seeds for N seconds. */
static void test_differential_long(void **state)
{
    (void)state;
    const char *replay = getenv("ETL_DIFF_SEED");
    if (replay && *replay) {
        uint64_t seed = strtoull(replay, NULL, 0);
        printf("differential: round 1, seed %llu\n", (unsigned long long)seed);
        run_round(seed, 1);
        totals_print();
        return;
    }
    const char *env = getenv("ETL_DIFF_SECONDS");
    long long seconds = env ? strtoll(env, NULL, 10) : 0;
    long long deadline = etl_test_now_ms() + seconds * 1000;
    rng seeds = {(uint64_t)time(NULL) << 20 ^ (uint64_t)getpid()};
    for (unsigned round = 1; round == 1 || etl_test_now_ms() < deadline; round++) {
        uint64_t seed = rng_next(&seeds) >> 1;
        printf("differential: round %u, seed %llu\n", round, (unsigned long long)seed);
        fflush(stdout);
        run_round(seed, round);
    }
    totals_print();
}

int main(void)
{
    const char *seconds = getenv("ETL_DIFF_SECONDS");
    const char *seed = getenv("ETL_DIFF_SEED");
    int long_run = (seconds && *seconds) || (seed && *seed);
    const struct CMUnitTest fixed[] = {cmocka_unit_test(test_differential_fixed_seeds)};
    const struct CMUnitTest seeded[] = {cmocka_unit_test(test_differential_long)};
    if (long_run)
        return cmocka_run_group_tests(seeded, group_setup, group_teardown);
    return cmocka_run_group_tests(fixed, group_setup, group_teardown);
}
