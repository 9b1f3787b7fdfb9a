/*
 * The `flatten` transformer: one submission's responses -> its events.
 * Path maps come from an LRU cache keyed by form id, built from the schema
 * the submission carries or fetched on a miss.  A submission is accepted
 * whole or rejected whole: on any input error the batch is rolled back to
 * where this submission started, so no partial submission is ever loaded.
 */
#include "etl/flatten.h"
#include "etl/transformer.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

typedef struct flatten_state {
    etl_transformer_cfg cfg;
    etl_form_cache *cache;
    etl_json_doc doc; /* token array reused for every submission */
    etl_buf path;     /* scratch path reused for every answer */
    etl_buf schema;   /* scratch schema text for fetches */
} flatten_state;

static void flatten_destroy(void *state)
{
    flatten_state *st = state;
    if (!st)
        return;
    etl_form_cache_free(st->cache);
    etl_json_doc_release(&st->doc);
    etl_buf_release(&st->path);
    etl_buf_release(&st->schema);
    free(st);
}

/* Find or build the path map of the submission's form. */
static int form_map(flatten_state *st, const etl_submission *s, const etl_pathmap **map,
                    etl_error *err)
{
    const char *reason = NULL;
    if (etl_form_cache_get(st->cache, s->form_id, map, &reason)) {
        if (*map)
            return ETL_OK;
        etl_error_set(err, ETL_ERR_INPUT, "form %s has an unusable schema: %s", s->form_id, reason);
        err->reason = ETL_REJECT_UNUSABLE_SCHEMA;
        return ETL_ERR_INPUT;
    }
    const char *schema = s->form_schema;
    int rc;
    if (!schema) {
        etl_buf_reset(&st->schema);
        if (!st->cfg.fetch)
            return etl_error_set(err, ETL_ERR_INTERNAL, "no schema and no way to fetch one");
        if ((rc = st->cfg.fetch(st->cfg.fetch_ctx, s->form_id, &st->schema, err)) != ETL_OK) {
            if (rc == ETL_ERR_INPUT)
                err->reason = ETL_REJECT_UNKNOWN_FORM;
            return rc;
        }
        schema = st->schema.data ? st->schema.data : "";
    }
    etl_pathmap *built = NULL;
    etl_error why;
    etl_error_clear(&why);
    rc = etl_pathmap_build(&built, schema, strlen(schema), &why);
    if (rc == ETL_ERR_NOMEM)
        return etl_error_set(err, rc, "out of memory building the path map of form %s", s->form_id);
    /* An unusable schema is cached too, so its submissions are rejected without re-parsing. */
    if ((rc = etl_form_cache_put(st->cache, s->form_id, built, built ? NULL : why.msg)) != ETL_OK)
        return etl_error_set(err, rc, "out of memory caching form %s", s->form_id);
    *map = built;
    if (!built) {
        etl_error_set(err, ETL_ERR_INPUT, "form %s has an unusable schema: %s", s->form_id,
                      why.msg);
        err->reason = ETL_REJECT_UNUSABLE_SCHEMA;
        return ETL_ERR_INPUT;
    }
    return ETL_OK;
}

static int flatten_apply(void *state, const etl_submission *s, etl_event_batch *out, etl_error *err)
{
    flatten_state *st = state;
    /* A dangling reference (no foreign key, or a row deleted since) is the submission's fault. */
    if (!s->form_name) {
        etl_error_set(err, ETL_ERR_INPUT, "form %s does not exist", s->form_id);
        err->reason = ETL_REJECT_UNKNOWN_FORM;
        return ETL_ERR_INPUT;
    }
    if (!s->user_full_name) {
        etl_error_set(err, ETL_ERR_INPUT, "user %s does not exist", s->user_id);
        err->reason = ETL_REJECT_UNKNOWN_USER;
        return ETL_ERR_INPUT;
    }
    const etl_pathmap *map = NULL;
    int rc = form_map(st, s, &map, err);
    if (rc != ETL_OK)
        return rc;
    if (st->cfg.max_bytes && s->responses_len > st->cfg.max_bytes) {
        etl_error_set(err, ETL_ERR_INPUT, "responses is %zu bytes, more than the %zu allowed",
                      s->responses_len, st->cfg.max_bytes);
        err->reason = ETL_REJECT_TOO_LARGE;
        return ETL_ERR_INPUT;
    }
    rc = etl_json_tokenize(&st->doc, s->responses, s->responses_len, err);
    if (rc == ETL_ERR_INPUT) {
        const char *reason = st->doc.too_deep ? ETL_REJECT_TOO_DEEP : ETL_REJECT_INVALID_JSON;
        etl_error_wrap(err, st->doc.too_deep ? "responses" : "responses is not valid JSON");
        err->reason = reason;
        return ETL_ERR_INPUT;
    }
    if (rc != ETL_OK)
        return etl_error_set(err, rc, "out of memory reading responses");
    if (st->doc.unstorable) {
        /* Wherever it is: jsonb, and so the application's own queries, refuse the whole document.
         */
        const char *at = s->responses + st->doc.unstorable_at;
        etl_error_set(err, ETL_ERR_INPUT,
                      "responses holds %s %.6s at byte %zu, which PostgreSQL "
                      "cannot store",
                      memcmp(at, "\\u0000", 6) == 0 ? "the escape" : "a lone surrogate", at,
                      st->doc.unstorable_at);
        err->reason = ETL_REJECT_UNSTORABLE_STRING;
        return ETL_ERR_INPUT;
    }
    size_t mark_count = out->count;
    size_t mark_len = out->strings.len;
    rc = etl_flatten_walk(&st->doc, map, s, out, &st->path, err);
    if (rc != ETL_OK) {
        etl_event_batch_truncate(out, mark_count, mark_len);
        if (rc == ETL_ERR_NOMEM)
            return etl_error_set(err, rc, "out of memory flattening responses");
    }
    return rc;
}

static const etl_transformer_ops flatten_ops = {
    .name = "flatten",
    .apply = flatten_apply,
    .destroy = flatten_destroy,
};

int etl_transformer_flatten_new(etl_transformer *out, const etl_transformer_cfg *cfg,
                                etl_error *err)
{
    out->ops = &flatten_ops;
    out->state = NULL;
    flatten_state *st = calloc(1, sizeof(*st));
    if (!st)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    st->cfg = *cfg;
    etl_json_doc_init(&st->doc, cfg->max_depth);
    if (etl_form_cache_new(&st->cache, cfg->form_cache ? cfg->form_cache : 16) != ETL_OK) {
        flatten_destroy(st);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    out->state = st;
    return ETL_OK;
}
