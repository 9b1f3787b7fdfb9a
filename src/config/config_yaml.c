/*
 * scenarios.yaml and processors.yaml -> etl_config.  libyaml's event stream
 * is first built into a small node tree that remembers each node's line and
 * column, then read against a fixed schema, so every complaint can point at
 * the exact spot.  Aliases are refused outright: nothing here needs them
 * and they are how "billion laughs" documents blow up memory.
 */
#include "etl/config.h"
#include "etl/buf.h"
#include "etl/row.h"
#include "etl/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "banned.h"

typedef enum ytype { Y_SCALAR, Y_MAP, Y_SEQ } ytype;

typedef struct ynode {
    ytype type;
    size_t line, col;     /* 1-based */
    char *value;          /* scalars */
    struct ynode **items; /* maps: key, value, key, value...; sequences: elements */
    size_t n;
    size_t cap; /* items allocated */
} ynode;

#define YAML_MAX_DEPTH 64

static void ynode_free(ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        ynode_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static int ynode_add(ynode *parent, ynode *child)
{
    /* an array of pointers: sizeof(*parent->items) is meant */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    if (etl_grow((void **)&parent->items, &parent->cap, parent->n + 1, sizeof(*parent->items)) !=
        ETL_OK)
        return ETL_ERR_NOMEM;
    parent->items[parent->n++] = child;
    return ETL_OK;
}

static ynode *ynode_new(ytype type, const yaml_mark_t *mark)
{
    ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->type = type;
        n->line = mark->line + 1;
        n->col = mark->column + 1;
    }
    return n;
}

/* Build the node tree of the first document in text; *out NULL for an empty file. */
static int yaml_tree(const char *file, const char *text, size_t len, ynode **out, etl_error *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    ynode *stack[YAML_MAX_DEPTH] = {NULL};
    size_t depth = 0;
    ynode *root = NULL;
    int rc = ETL_OK;
    int done = 0;
    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return etl_error_set(err, ETL_ERR_NOMEM, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = etl_error_set(err, ETL_ERR_CONFIG, "%s:%zu:%zu: %s%s%s", file,
                               parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "malformed YAML",
                               parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        ynode *node = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            done = ev.type == YAML_STREAM_END_EVENT || root != NULL;
            break;
        case YAML_ALIAS_EVENT:
            rc = etl_error_set(err, ETL_ERR_CONFIG,
                               "%s:%zu:%zu: YAML aliases (*%s) are not supported; write the "
                               "value out",
                               file, ev.start_mark.line + 1, ev.start_mark.column + 1,
                               (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            node = ynode_new(Y_SCALAR, &ev.start_mark);
            if (node)
                node->value = strdup((const char *)ev.data.scalar.value);
            if (!node || !node->value) {
                ynode_free(node);
                node = NULL;
                rc = etl_error_set(err, ETL_ERR_NOMEM, "%s: out of memory", file);
            }
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            node = ynode_new(ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, &ev.start_mark);
            if (!node)
                rc = etl_error_set(err, ETL_ERR_NOMEM, "%s: out of memory", file);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth -= depth > 0; /* libyaml balances them; never wrap */
            break;
        default:
            break;
        }
        if (node && rc == ETL_OK) {
            if (depth == 0 && !root) {
                root = node;
            } else if (depth > 0 && stack[depth - 1]) {
                if (ynode_add(stack[depth - 1], node) != ETL_OK) {
                    ynode_free(node);
                    rc = etl_error_set(err, ETL_ERR_NOMEM, "%s: out of memory", file);
                }
            } else {
                ynode_free(node); /* a second document: ignored */
                node = NULL;
            }
            if (rc == ETL_OK && node && node->type != Y_SCALAR) {
                if (depth == YAML_MAX_DEPTH)
                    rc = etl_error_set(err, ETL_ERR_CONFIG, "%s:%zu:%zu: nested too deeply", file,
                                       node->line, node->col);
                else
                    stack[depth++] = node;
            }
        }
        yaml_event_delete(&ev);
        if (rc != ETL_OK)
            break;
    }
    yaml_parser_delete(&parser);
    if (rc != ETL_OK) {
        ynode_free(root);
        return rc;
    }
    *out = root;
    return ETL_OK;
}

/* ---- reading the tree against a schema ---------------------------------- */

typedef struct reader {
    const char *file;
    etl_error *err;
} reader;

static int bad(const reader *r, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(const reader *r, const ynode *n, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return etl_error_set(r->err, ETL_ERR_CONFIG, "%s:%zu:%zu: %s", r->file, n ? n->line : 1,
                         n ? n->col : 1, what);
}

static const char *type_name(const ynode *n)
{
    return n->type == Y_MAP ? "a mapping" : n->type == Y_SEQ ? "a list" : "a scalar";
}

static int want_map(const reader *r, const ynode *n, const char *what)
{
    if (n->type != Y_MAP)
        return bad(r, n, "%s must be a mapping, found %s", what, type_name(n));
    for (size_t i = 0; i < n->n; i += 2) {
        if (n->items[i]->type != Y_SCALAR)
            return bad(r, n->items[i], "keys of %s must be plain names", what);
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(n->items[i]->value, n->items[j]->value) == 0)
                return bad(r, n->items[i], "duplicate key '%s' in %s", n->items[i]->value, what);
    }
    return ETL_OK;
}

/* Every key of map n must be in `known` (NULL-terminated). */
static int known_keys(const reader *r, const ynode *n, const char *const *known, const char *what)
{
    for (size_t i = 0; i < n->n; i += 2) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(n->items[i]->value, *k) == 0;
        if (!ok) {
            char list[512] = "";
            size_t used = 0;
            for (const char *const *k = known; *k; k++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                         k == known ? "" : ", ", *k);
            char where[768];
            snprintf(where, sizeof(where), "%s (expected one of: %s)", what, list);
            return bad(r, n->items[i], "unknown key '%s' in %s", n->items[i]->value, where);
        }
    }
    return ETL_OK;
}

static const ynode *get(const ynode *map, const char *key)
{
    for (size_t i = 0; i < map->n; i += 2)
        if (strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}

static int get_string(const reader *r, const ynode *map, const char *key, char **out)
{
    const ynode *v = get(map, key);
    if (!v)
        return ETL_OK;
    if (v->type != Y_SCALAR)
        return bad(r, v, "'%s' must be text, found %s", key, type_name(v));
    free(*out);
    *out = strdup(v->value);
    return *out ? ETL_OK : etl_error_set(r->err, ETL_ERR_NOMEM, "out of memory");
}

static int get_count(const reader *r, const ynode *map, const char *key, unsigned long long max,
                     unsigned long long *out)
{
    const ynode *v = get(map, key);
    if (!v)
        return ETL_OK;
    if (v->type != Y_SCALAR || etl_parse_ull(v->value, 0, max, out) != 0) {
        char range[64];
        snprintf(range, sizeof(range), "a whole number from 0 to %llu", max);
        return bad(r, v, "'%s' must be %s", key, range);
    }
    return ETL_OK;
}

static int get_size(const reader *r, const ynode *map, const char *key, size_t min, size_t max,
                    size_t *out)
{
    unsigned long long v = *out;
    int rc = get_count(r, map, key, max, &v);
    if (rc != ETL_OK)
        return rc;
    if (v < min) {
        char range[64];
        snprintf(range, sizeof(range), "%zu", min);
        return bad(r, get(map, key), "'%s' must be at least %s", key, range);
    }
    *out = (size_t)v;
    return ETL_OK;
}

static int get_share(const reader *r, const ynode *map, const char *key, double *out)
{
    const ynode *v = get(map, key);
    if (!v)
        return ETL_OK;
    char *end = NULL;
    double d = v->type == Y_SCALAR ? strtod(v->value, &end) : -1;
    if (v->type != Y_SCALAR || !end || *end || end == v->value || !(d >= 0 && d <= 1))
        return bad(r, v, "'%s' must be a number from 0 to 1", key);
    *out = d;
    return ETL_OK;
}

static int get_list(const reader *r, const ynode *map, const char *key, char ***out, size_t *n)
{
    const ynode *v = get(map, key);
    if (!v)
        return ETL_OK;
    if (v->type != Y_SEQ)
        return bad(r, v, "'%s' must be a list of file names, found %s", key, type_name(v));
    *out = calloc(v->n ? v->n : 1, sizeof(char *));
    if (!*out)
        return etl_error_set(r->err, ETL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->type != Y_SCALAR)
            return bad(r, v->items[i], "entries of '%s' must be file names", key);
        (*out)[i] = strdup(v->items[i]->value);
        if (!(*out)[i])
            return etl_error_set(r->err, ETL_ERR_NOMEM, "out of memory");
        (*n)++;
    }
    return ETL_OK;
}

/* Check the top level is a mapping with exactly `key`, and return its value. */
static int top_section(const reader *r, const ynode *root, const char *key, const ynode **out)
{
    *out = NULL;
    if (!root)
        return bad(r, NULL, "the file is empty; expected a top-level '%s:' mapping", key);
    const char *const known[] = {key, NULL};
    int rc = want_map(r, root, "the top level");
    if (rc == ETL_OK)
        rc = known_keys(r, root, known, "the top level");
    if (rc != ETL_OK)
        return rc;
    const ynode *sec = get(root, key);
    if (!sec)
        return bad(r, root, "missing top-level key '%s'", key);
    if (sec->type == Y_SCALAR && sec->value[0] == '\0')
        return ETL_OK; /* "key:" with nothing under it: an empty section */
    char what[64];
    snprintf(what, sizeof(what), "'%s'", key);
    if ((rc = want_map(r, sec, what)) != ETL_OK)
        return rc;
    *out = sec;
    return ETL_OK;
}

static void scenario_release(void *entry)
{
    etl_scenario_cfg *s = entry;
    free(s->name);
    free(s->description);
    for (size_t i = 0; i < s->nschemas; i++)
        free(s->schemas[i]);
    free(s->schemas);
    for (size_t i = 0; i < s->nfixtures; i++)
        free(s->fixtures[i]);
    free(s->fixtures);
    memset(s, 0, sizeof(*s));
}

static void processor_release(void *entry)
{
    etl_processor_cfg *p = entry;
    free(p->name);
    free(p->description);
    free(p->file);
    free(p->runner);
    free(p->extractor);
    free(p->transformer);
    free(p->loader);
    memset(p, 0, sizeof(*p));
}

static int read_scenario(const reader *r, const ynode *key, const ynode *v, void *entry)
{
    etl_scenario_cfg *s = entry;
    static const char *const known[] = {"description", "forms",    "users", "submissions",
                                        "schemas",     "fixtures", "seed",  "unanswered",
                                        "extra_keys",  NULL};
    char what[160];
    snprintf(what, sizeof(what), "scenario '%s'", key->value);
    int rc = want_map(r, v, what);
    if (rc == ETL_OK)
        rc = known_keys(r, v, known, what);
    if (rc != ETL_OK)
        return rc;
    s->name = strdup(key->value);
    if (!s->name)
        return etl_error_set(r->err, ETL_ERR_NOMEM, "out of memory");
    s->seed = 42;
    s->unanswered = 0.1;
    s->extra_keys = 0.2;
    unsigned long long forms = 0;
    unsigned long long users = 0;
    unsigned long long subs = 0;
    const unsigned long long limit = 100000000ULL;
    if ((rc = get_string(r, v, "description", &s->description)) != ETL_OK ||
        (rc = get_count(r, v, "forms", limit, &forms)) != ETL_OK ||
        (rc = get_count(r, v, "users", limit, &users)) != ETL_OK ||
        (rc = get_count(r, v, "submissions", limit, &subs)) != ETL_OK ||
        (rc = get_count(r, v, "seed", ~0ULL, &s->seed)) != ETL_OK ||
        (rc = get_share(r, v, "unanswered", &s->unanswered)) != ETL_OK ||
        (rc = get_share(r, v, "extra_keys", &s->extra_keys)) != ETL_OK ||
        (rc = get_list(r, v, "schemas", &s->schemas, &s->nschemas)) != ETL_OK ||
        (rc = get_list(r, v, "fixtures", &s->fixtures, &s->nfixtures)) != ETL_OK)
        return rc;
    s->forms = (size_t)forms;
    s->users = (size_t)users;
    s->submissions = (size_t)subs;
    if (s->forms > 0 && s->nschemas == 0)
        return bad(r, v, "%s has forms but no 'schemas' list to build them from", what);
    if (s->submissions > 0 && (s->forms == 0 || s->users == 0))
        return bad(r, v, "%s has submissions but no forms or no users", what);
    if (s->nfixtures > 0 && (s->forms == 0 || s->users == 0))
        return bad(r, v, "%s has fixtures but no forms or no users", what);
    return ETL_OK;
}

/* Where key's value stands in map (line 0: not given). */
static etl_cfg_pos pos_of(const ynode *map, const char *key)
{
    const ynode *v = get(map, key);
    etl_cfg_pos at = {v ? v->line : 0, v ? v->col : 0};
    return at;
}

static int read_processor(const reader *r, const ynode *key, const ynode *v, void *entry)
{
    etl_processor_cfg *p = entry;
    static const char *const known[] = {"description", "runner",        "extractor",  "transformer",
                                        "loader",      "extract_batch", "load_batch", "form_cache",
                                        "max_depth",   "max_bytes",     NULL};
    char what[160];
    snprintf(what, sizeof(what), "processor '%s'", key->value);
    int rc = want_map(r, v, what);
    if (rc == ETL_OK)
        rc = known_keys(r, v, known, what);
    if (rc != ETL_OK)
        return rc;
    p->name = strdup(key->value);
    p->file = strdup(r->file);
    p->runner = strdup("staged");
    p->transformer = strdup("flatten");
    if (!p->name || !p->file || !p->runner || !p->transformer)
        return etl_error_set(r->err, ETL_ERR_NOMEM, "out of memory");
    p->extract_batch = ETL_DEFAULT_BATCH_ROWS;
    p->load_batch = ETL_DEFAULT_BATCH_ROWS;
    p->form_cache = 16;
    p->max_depth = 64;
    p->max_bytes = 16U << 20;
    if ((rc = get_string(r, v, "description", &p->description)) != ETL_OK ||
        (rc = get_string(r, v, "runner", &p->runner)) != ETL_OK ||
        (rc = get_string(r, v, "extractor", &p->extractor)) != ETL_OK ||
        (rc = get_string(r, v, "transformer", &p->transformer)) != ETL_OK ||
        (rc = get_string(r, v, "loader", &p->loader)) != ETL_OK ||
        (rc = get_size(r, v, "extract_batch", 1, 1000000, &p->extract_batch)) != ETL_OK ||
        (rc = get_size(r, v, "load_batch", 1, 5957, &p->load_batch)) != ETL_OK ||
        (rc = get_size(r, v, "form_cache", 1, 1000000, &p->form_cache)) != ETL_OK ||
        (rc = get_size(r, v, "max_depth", 1, 100000, &p->max_depth)) != ETL_OK ||
        (rc = get_size(r, v, "max_bytes", 1, (size_t)1 << 30, &p->max_bytes)) != ETL_OK)
        return rc;
    etl_cfg_pos at = {key->line, key->col};
    p->at = at;
    p->runner_at = pos_of(v, "runner");
    p->extractor_at = pos_of(v, "extractor");
    p->transformer_at = pos_of(v, "transformer");
    p->loader_at = pos_of(v, "loader");
    return rc;
}

/* How to read one file's top-level section into its table. */
typedef struct section {
    const char *key; /* "scenarios", "processors" */
    size_t size;     /* bytes per entry */
    int (*read)(const reader *r, const ynode *key, const ynode *v, void *entry);
    void (*release)(void *entry); /* an entry that failed to read */
} section;

/* Append the entries of file's section `sec` to *table, of *n entries. */
static int parse_section(const section *sec, const char *file, const char *text, size_t len,
                         void **table, size_t *n, etl_error *err)
{
    reader r = {file, err};
    ynode *root = NULL;
    const ynode *map = NULL;
    int rc = yaml_tree(file, text, len, &root, err);
    if (rc == ETL_OK)
        rc = top_section(&r, root, sec->key, &map);
    size_t cap = *n; /* the table keeps no capacity: assume no room past its entries */
    for (size_t i = 0; rc == ETL_OK && map && i < map->n; i += 2) {
        if (etl_grow(table, &cap, *n + 1, sec->size) != ETL_OK) {
            rc = etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
            break;
        }
        void *entry = (char *)*table + *n * sec->size;
        memset(entry, 0, sec->size);
        rc = sec->read(&r, map->items[i], map->items[i + 1], entry);
        if (rc != ETL_OK)
            sec->release(entry);
        else
            (*n)++;
    }
    ynode_free(root);
    return rc;
}

int etl_config_parse_scenarios(etl_config *c, const char *file, const char *text, size_t len,
                               etl_error *err)
{
    static const section scenarios = {"scenarios", sizeof(etl_scenario_cfg), read_scenario,
                                      scenario_release};
    return parse_section(&scenarios, file, text, len, (void **)&c->scenarios, &c->nscenarios, err);
}

int etl_config_parse_processors(etl_config *c, const char *file, const char *text, size_t len,
                                etl_error *err)
{
    static const section processors = {"processors", sizeof(etl_processor_cfg), read_processor,
                                       processor_release};
    return parse_section(&processors, file, text, len, (void **)&c->processors, &c->nprocessors,
                         err);
}

static int load_one(etl_config *c, const char *dir, const char *name,
                    int (*parse)(etl_config *, const char *, const char *, size_t, etl_error *),
                    etl_error *err)
{
    etl_buf path = ETL_BUF_INIT;
    char *text = NULL;
    size_t len = 0;
    if (etl_buf_printf(&path, "%s/%s", dir, name) != ETL_OK)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    int rc = etl_read_file(path.data, &text, &len, err);
    if (rc == ETL_OK)
        rc = parse(c, path.data, text, len, err);
    free(text);
    etl_buf_release(&path);
    return rc;
}

int etl_config_load(etl_config **out, const char *dir, etl_error *err)
{
    *out = NULL;
    etl_config *c = calloc(1, sizeof(*c));
    if (!c || !(c->dir = strdup(dir))) {
        free(c);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    int rc = load_one(c, dir, ETL_SCENARIOS_FILE, etl_config_parse_scenarios, err);
    if (rc == ETL_OK)
        rc = load_one(c, dir, ETL_PROCESSORS_FILE, etl_config_parse_processors, err);
    if (rc != ETL_OK) {
        etl_config_free(c);
        return rc;
    }
    *out = c;
    return ETL_OK;
}

void etl_config_free(etl_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nscenarios; i++)
        scenario_release(&c->scenarios[i]);
    free(c->scenarios);
    for (size_t i = 0; i < c->nprocessors; i++)
        processor_release(&c->processors[i]);
    free(c->processors);
    free(c->dir);
    free(c);
}

const etl_scenario_cfg *etl_config_scenario(const etl_config *c, const char *name)
{
    return etl_find_named(c->scenarios, c->nscenarios, sizeof(*c->scenarios), name);
}

const etl_processor_cfg *etl_config_processor(const etl_config *c, const char *name)
{
    return etl_find_named(c->processors, c->nprocessors, sizeof(*c->processors), name);
}
