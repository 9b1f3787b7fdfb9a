/*
 * The pure pieces of the transform, shared by the transformer stage, the
 * generator and the unit tests: a JSON tokenizer that keeps every scalar's
 * raw text, the form schema's path map, the response walk, number
 * formatting, and the LRU cache of path maps.  None of it touches a database.
 */
#ifndef ETL_FLATTEN_H
#define ETL_FLATTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etl/buf.h"
#include "etl/error.h"
#include "etl/row.h"

/* ---- reject reasons: the codes stored in dwh.etl_rejects.reason --------- */

#define ETL_REJECT_INVALID_JSON "invalid_json"           /* responses is not JSON */
#define ETL_REJECT_NOT_OBJECT "not_object"               /* responses is not an object */
#define ETL_REJECT_TOO_DEEP "too_deep"                   /* nested deeper than max_depth */
#define ETL_REJECT_TOO_LARGE "too_large"                 /* more than max_bytes of responses */
#define ETL_REJECT_UNUSABLE_SCHEMA "unusable_schema"     /* the form's schema cannot be read */
#define ETL_REJECT_UNKNOWN_FORM "unknown_form"           /* the form does not exist */
#define ETL_REJECT_UNKNOWN_USER "unknown_user"           /* the user does not exist */
#define ETL_REJECT_UNSTORABLE_STRING "unstorable_string" /* \u0000 or a lone surrogate */
#define ETL_REJECT_TYPE_MISMATCH "type_mismatch"         /* JSON type contradicts answerType */
#define ETL_REJECT_AMBIGUOUS_ANSWER "ambiguous_answer"   /* one question answered twice */

/* ---- JSON tokenizer ---------------------------------------------------- */

typedef enum etl_json_type {
    ETL_JSON_OBJECT,
    ETL_JSON_ARRAY,
    ETL_JSON_STRING,
    ETL_JSON_NUMBER,
    ETL_JSON_TRUE,
    ETL_JSON_FALSE,
    ETL_JSON_NULL
} etl_json_type;

/*
 * One token.  Object members are a key (STRING) token followed by the value's
 * tokens.  `next` is the index just past this token's subtree, so siblings
 * are reached without recursion.
 */
typedef struct etl_json_tok {
    uint32_t start;  /* byte offset of the raw text (strings: after the quote) */
    uint32_t len;    /* raw bytes (strings: between the quotes, escapes undecoded) */
    uint32_t next;   /* index of the first token after this subtree */
    uint32_t size;   /* objects: members; arrays: elements; scalars: 0 */
    uint8_t type;    /* etl_json_type */
    uint8_t escaped; /* strings: contains a backslash escape */
} etl_json_tok;

typedef struct etl_json_doc {
    const char *text;
    etl_json_tok *toks;
    size_t count;     /* tokens */
    size_t cap;       /* tokens allocated; kept between documents */
    uint32_t *stack;  /* open containers while tokenizing */
    size_t stack_cap; /* entries allocated */
    size_t max_depth; /* nesting limit; deeper input is an error, never a crash */
    size_t err_at;    /* after a failed tokenize: byte offset near the problem */
    int too_deep;     /* after a failed tokenize: the depth limit was the problem */
    /*
     * After a tokenize: a string (key or value) holds \u0000 or a lone
     * surrogate, which PostgreSQL cannot store (jsonb refuses the whole
     * document); unstorable_at is the byte offset of the first such escape.
     */
    int unstorable;
    size_t unstorable_at;
} etl_json_doc;

#define ETL_JSON_DEFAULT_MAX_DEPTH 256

void etl_json_doc_init(etl_json_doc *d, size_t max_depth);
void etl_json_doc_release(etl_json_doc *d);

/*
 * Tokenize s[0..len).  ETL_OK, ETL_ERR_INPUT (err says what was expected
 * and at which byte offset) or ETL_ERR_NOMEM.  The doc borrows text.
 * An unstorable string is not an error here: see d->unstorable.
 */
int etl_json_tokenize(etl_json_doc *d, const char *s, size_t len, etl_error *err);

const char *etl_json_type_name(etl_json_type t);

/*
 * Decode a STRING token into out (appended, NUL-terminated).  Fails with
 * ETL_ERR_INPUT for \u0000 and lone surrogates, which PostgreSQL text
 * cannot hold.
 */
int etl_json_decode_string(const etl_json_doc *d, const etl_json_tok *t, etl_buf *out,
                           etl_error *err);

/*
 * Append the text of a number.  Its text changes only to a text of exactly
 * the same decimal value: integers stay as written (no digit limit, never
 * through a double); other numbers become the shortest text that reads back
 * to the same double (2.50 -> 2.5, 1e2 -> 100, 1e-5 -> 1e-05; fixed notation
 * for decimal exponents -4..15, as Python's repr) when that text denotes
 * exactly the value written, and stay as written otherwise
 * (0.10000000000000001, 1e-400, 1e999, 12345678901234567890.5).
 */
int etl_format_number(const char *raw, size_t len, etl_buf *out);

/* ---- form schema path map ---------------------------------------------- */

typedef struct etl_question {
    etl_answer_type type;
    bool group;      /* the node also has children: an object answer is walked, not refused */
    const char *tag; /* NULL when the question has none; owned by the map */
} etl_question;

typedef struct etl_pathmap etl_pathmap;

/*
 * Build the map path -> question from a form schema's JSON text.  The path is
 * the dot-joined slugs below the root node.  ETL_ERR_INPUT with the reason if
 * the schema is unusable (not JSON, not an object, a bad answerType, a
 * duplicate path); the caller owns *out and frees it with etl_pathmap_free.
 */
int etl_pathmap_build(etl_pathmap **out, const char *schema, size_t len, etl_error *err);
void etl_pathmap_free(etl_pathmap *m);
/* The question at path (len bytes), or NULL.  Borrowed until the map is freed. */
const etl_question *etl_pathmap_find(const etl_pathmap *m, const char *path, size_t len);
size_t etl_pathmap_count(const etl_pathmap *m);

/* ---- the walk ---------------------------------------------------------- */

/*
 * Walk a tokenized responses object depth first, pre-order (an object's own
 * scalar members, in document order, before its child objects), and append
 * one event to out for every non-null scalar whose path is a question.
 * Arrays and paths that are not questions are skipped.  An answer whose JSON
 * type contradicts the question (number: a number; boolean: true or false;
 * date: a "YYYY-MM-DD" string; text: any scalar) is an ETL_ERR_INPUT with
 * reason type_mismatch, and so is an array or object where a question
 * (that is no group) expects a scalar.  Of members with the same name in one
 * object only the last counts, as in jsonb (the earlier ones are skipped
 * with everything below them).  Two answers for one question by different
 * routes (a dotted key "a.b" beside {"a": {"b": ...}}) are an ETL_ERR_INPUT
 * with reason ambiguous_answer.  On ETL_ERR_INPUT the events appended so
 * far are still in out: the caller truncates.
 * `path` is scratch space reused between calls.
 */
int etl_flatten_walk(const etl_json_doc *d, const etl_pathmap *m, const etl_submission *sub,
                     etl_event_batch *out, etl_buf *path, etl_error *err);

/* Is s (len bytes) a valid calendar date written YYYY-MM-DD? */
bool etl_is_iso_date(const char *s, size_t len);

/* ---- LRU cache of path maps, keyed by form id -------------------------- */

typedef struct etl_form_cache etl_form_cache;

int etl_form_cache_new(etl_form_cache **out, size_t capacity);
void etl_form_cache_free(etl_form_cache *c);
/*
 * Look up form_id.  Returns true and sets *map (NULL for a form whose schema
 * was unusable, with its reason in *reason) on a hit, which makes the entry
 * the most recently used.  Borrowed until the entry is evicted.
 */
bool etl_form_cache_get(etl_form_cache *c, const char *form_id, const etl_pathmap **map,
                        const char **reason);
/*
 * Insert form_id, taking ownership of map (may be NULL with a reason),
 * evicting the least recently used entry when full.  ETL_OK or ETL_ERR_NOMEM
 * (then map is freed).
 */
int etl_form_cache_put(etl_form_cache *c, const char *form_id, etl_pathmap *map,
                       const char *reason);
/* Counters for tests and --debug output. */
size_t etl_form_cache_size(const etl_form_cache *c);
size_t etl_form_cache_misses(const etl_form_cache *c);

#endif
