/*
 * The path map of one form: "a.b.c" -> (answer type, tag), built from the
 * form's schema tree with cJSON and looked up once per answer, so it is an
 * open-addressing hash table with the paths packed in one buffer.
 * A schema that cannot be read is reported, never guessed at.
 */
#include "etl/flatten.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

typedef struct slot {
    size_t path_off; /* into m->paths; SIZE_MAX when empty */
    size_t path_len; /* bytes */
    uint64_t hash;
    etl_question q;
} slot;

struct etl_pathmap {
    slot *slots;
    size_t nslots; /* power of two */
    size_t count;  /* questions */
    etl_buf paths; /* every path, NUL-terminated, then every tag */
    char **tags;   /* owned tag strings */
    size_t ntags;
    size_t tags_cap; /* tags allocated */
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: short keys, no need for better */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int grow(etl_pathmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 64;
    slot *s = malloc(n * sizeof(*s));
    if (!s)
        return ETL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        s[i].path_off = SIZE_MAX;
    for (size_t i = 0; i < m->nslots; i++) {
        if (m->slots[i].path_off == SIZE_MAX)
            continue;
        size_t j = m->slots[i].hash & (n - 1);
        while (s[j].path_off != SIZE_MAX)
            j = (j + 1) & (n - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->nslots = n;
    return ETL_OK;
}

const etl_question *etl_pathmap_find(const etl_pathmap *m, const char *path, size_t len)
{
    if (!m || !m->nslots)
        return NULL;
    uint64_t h = hash_bytes(path, len);
    size_t j = h & (m->nslots - 1);
    while (m->slots[j].path_off != SIZE_MAX) {
        const slot *s = &m->slots[j];
        if (s->hash == h && s->path_len == len &&
            memcmp(m->paths.data + s->path_off, path, len) == 0)
            return &s->q;
        j = (j + 1) & (m->nslots - 1);
    }
    return NULL;
}

size_t etl_pathmap_count(const etl_pathmap *m)
{
    return m ? m->count : 0;
}

static int add_question(etl_pathmap *m, const char *path, size_t len, etl_answer_type type,
                        bool group, const char *tag, etl_error *err)
{
    if (etl_pathmap_find(m, path, len))
        return etl_error_set(err, ETL_ERR_INPUT, "duplicate question path '%s'", path);
    if ((m->count + 1) * 2 > m->nslots && grow(m) != ETL_OK)
        return ETL_ERR_NOMEM;
    size_t off = m->paths.len;
    if (etl_buf_append(&m->paths, path, len + 1) != ETL_OK)
        return ETL_ERR_NOMEM;
    char *owned = NULL;
    if (tag) {
        /* an array of pointers: sizeof(*m->tags) is meant */
        // NOLINTNEXTLINE(bugprone-sizeof-expression)
        if (etl_grow((void **)&m->tags, &m->tags_cap, m->ntags + 1, sizeof(*m->tags)) != ETL_OK)
            return ETL_ERR_NOMEM;
        owned = strdup(tag);
        if (!owned)
            return ETL_ERR_NOMEM;
        m->tags[m->ntags++] = owned;
    }
    uint64_t h = hash_bytes(path, len);
    size_t j = h & (m->nslots - 1);
    while (m->slots[j].path_off != SIZE_MAX)
        j = (j + 1) & (m->nslots - 1);
    m->slots[j].path_off = off;
    m->slots[j].path_len = len;
    m->slots[j].hash = h;
    m->slots[j].q.type = type;
    m->slots[j].q.group = group;
    m->slots[j].q.tag = owned;
    m->count++;
    return ETL_OK;
}

/*
 * Visit node's children with path prefix (len bytes of path).  Recursion is
 * bounded by cJSON's own nesting limit (CJSON_NESTING_LIMIT, 1000).
 */
static int visit_children(etl_pathmap *m, const cJSON *node, etl_buf *path, etl_error *err)
{
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(node, "children");
    if (!children)
        return ETL_OK;
    if (!cJSON_IsArray(children))
        return etl_error_set(err, ETL_ERR_INPUT, "'children' of '%s' is not an array",
                             path->len ? path->data : "the root node");
    size_t base = path->len;
    const cJSON *child;
    cJSON_ArrayForEach(child, children)
    {
        if (!cJSON_IsObject(child))
            return etl_error_set(err, ETL_ERR_INPUT, "a child of '%s' is not an object",
                                 base ? path->data : "the root node");
        const cJSON *slug = cJSON_GetObjectItemCaseSensitive(child, "slug");
        if (!slug)
            continue; /* a child without a slug has no path: skipped */
        if (!cJSON_IsString(slug) || !slug->valuestring[0])
            return etl_error_set(err, ETL_ERR_INPUT, "a slug below '%s' is not a non-empty string",
                                 base ? path->data : "the root node");
        path->len = base;
        if ((base && etl_buf_putc(path, '.') != ETL_OK) ||
            etl_buf_puts(path, slug->valuestring) != ETL_OK)
            return ETL_ERR_NOMEM;
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(child, "answerType");
        if (at) {
            etl_answer_type type;
            if (!cJSON_IsString(at) || etl_answer_type_parse(at->valuestring, &type) != 0)
                return etl_error_set(err, ETL_ERR_INPUT,
                                     "question '%s' has answerType %s%s%s; expected number, text, "
                                     "boolean or date",
                                     path->data, cJSON_IsString(at) ? "'" : "",
                                     cJSON_IsString(at) ? at->valuestring : "of the wrong type",
                                     cJSON_IsString(at) ? "'" : "");
            const cJSON *tag = cJSON_GetObjectItemCaseSensitive(child, "tag");
            if (tag && !cJSON_IsNull(tag) && !cJSON_IsString(tag))
                return etl_error_set(err, ETL_ERR_INPUT, "tag of question '%s' is not a string",
                                     path->data);
            const char *tag_text = tag && cJSON_IsString(tag) ? tag->valuestring : NULL;
            int rc = add_question(
                m, path->data, path->len, type,
                cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(child, "children")), tag_text, err);
            if (rc != ETL_OK)
                return rc;
        }
        int rc = visit_children(m, child, path, err);
        if (rc != ETL_OK)
            return rc;
        path->len = base;
        path->data[base] = '\0';
    }
    return ETL_OK;
}

int etl_pathmap_build(etl_pathmap **out, const char *schema, size_t len, etl_error *err)
{
    *out = NULL;
    etl_pathmap *m = calloc(1, sizeof(*m));
    etl_buf path = ETL_BUF_INIT;
    cJSON *root = NULL;
    int rc;
    if (!m)
        return ETL_ERR_NOMEM;
    if ((rc = grow(m)) != ETL_OK)
        goto out;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(schema, len, &end, 0);
    if (!root) {
        size_t at = end && end >= schema ? (size_t)(end - schema) : 0;
        rc = etl_error_set(err, ETL_ERR_INPUT, "schema is not valid JSON (near byte %zu)", at);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = etl_error_set(err, ETL_ERR_INPUT, "schema is not a JSON object");
        goto out;
    }
    rc = visit_children(m, root, &path, err);
out:
    cJSON_Delete(root);
    etl_buf_release(&path);
    if (rc != ETL_OK) {
        etl_pathmap_free(m);
        return rc;
    }
    *out = m;
    return ETL_OK;
}

void etl_pathmap_free(etl_pathmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ntags; i++)
        free(m->tags[i]);
    free(m->tags);
    free(m->slots);
    etl_buf_release(&m->paths);
    free(m);
}
