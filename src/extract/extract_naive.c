/*
 * The `naive` extractor: what an ORM does with lazy relationships.  One
 * query materialises every submission; then each submission's user and form
 * are loaded with a query of their own the first time they are seen, and
 * kept in an identity map (as an ORM session would).  That is 1 + users +
 * forms round trips (the N+1 pattern) and memory that grows with the table.
 * Slow on purpose: it is the lesson, keep it faithful.
 */
#include "etl/extractor.h"
#include "extract.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* One loaded user or form; strings owned. */
typedef struct object {
    char *id;
    char *name;   /* form name or user full name; NULL: no such row */
    char *schema; /* forms only */
} object;

/* An identity map: open addressing over object pointers, keyed by id. */
typedef struct identity_map {
    object **slots;
    size_t nslots; /* power of two */
    size_t count;
} identity_map;

typedef struct naive_state {
    etl_extract_base base;
    int row;
    identity_map users;
    identity_map forms;
} naive_state;

static size_t hash_id(const char *s)
{
    size_t h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static object *map_find(const identity_map *m, const char *id)
{
    if (!m->nslots)
        return NULL;
    size_t j = hash_id(id) & (m->nslots - 1);
    while (m->slots[j]) {
        if (strcmp(m->slots[j]->id, id) == 0)
            return m->slots[j];
        j = (j + 1) & (m->nslots - 1);
    }
    return NULL;
}

static int map_add(identity_map *m, object *o)
{
    if ((m->count + 1) * 2 > m->nslots) {
        size_t n = m->nslots ? m->nslots * 2 : 64;
        /* an array of pointers: sizeof(*s) is meant */
        // NOLINTNEXTLINE(bugprone-sizeof-expression)
        object **s = calloc(n, sizeof(*s));
        if (!s)
            return ETL_ERR_NOMEM;
        for (size_t i = 0; i < m->nslots; i++) {
            if (!m->slots[i])
                continue;
            size_t j = hash_id(m->slots[i]->id) & (n - 1);
            while (s[j])
                j = (j + 1) & (n - 1);
            s[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = s;
        m->nslots = n;
    }
    size_t j = hash_id(o->id) & (m->nslots - 1);
    while (m->slots[j])
        j = (j + 1) & (m->nslots - 1);
    m->slots[j] = o;
    m->count++;
    return ETL_OK;
}

static void object_free(object *o)
{
    if (!o)
        return;
    free(o->id);
    free(o->name);
    free(o->schema);
    free(o);
}

static void map_release(identity_map *m)
{
    for (size_t i = 0; i < m->nslots; i++)
        object_free(m->slots[i]);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/*
 * Load one user or form by id (the lazy relationship access), or find it
 * loaded.  One that does not exist is remembered with a NULL name, and the
 * transformer rejects its submissions (unknown_user, unknown_form).
 */
static int load_object(naive_state *st, identity_map *m, const char *sql, const char *kind,
                       const char *id, object **out, etl_error *err)
{
    *out = map_find(m, id);
    if (*out)
        return ETL_OK;
    etl_result *r = NULL;
    const char *params[1] = {id};
    int rc = etl_db_query(st->base.db, sql, 1, params, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot load %s %s", kind, id);
    bool found = etl_result_rows(r) == 1;
    object *o = calloc(1, sizeof(*o));
    if (o) {
        o->id = strdup(id);
        o->name = found ? strdup(etl_result_get(r, 0, 0)) : NULL;
        if (found && etl_result_cols(r) > 1)
            o->schema = strdup(etl_result_get(r, 0, 1));
    }
    etl_result_free(r);
    if (!o || !o->id || (found && !o->name) || map_add(m, o) != ETL_OK) {
        object_free(o);
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    }
    *out = o;
    return ETL_OK;
}

static int naive_open(void *state, etl_error *err)
{
    naive_state *st = state;
    return etl_extract_read_all(&st->base,
                                "SELECT s.id, s.form_id, s.user_id, s.date_created, s.responses "
                                "FROM app.submissions s ",
                                err);
}

static int naive_next(void *state, etl_submission_batch *out, etl_error *err)
{
    naive_state *st = state;
    int total = etl_result_rows(st->base.res);
    size_t n = 0;
    out->rows = st->base.rows;
    out->count = 0;
    while (n < st->base.cfg.batch_rows && st->row < total) {
        int r = st->row++;
        etl_submission *s = &st->base.rows[n++];
        object *user = NULL;
        object *form = NULL;
        int rc = load_object(st, &st->users,
                             "SELECT " ETL_EXTRACT_FULL_NAME("u") " FROM app.users u WHERE id = $1",
                             "user", etl_result_get(st->base.res, r, 2), &user, err);
        if (rc == ETL_OK)
            rc = load_object(st, &st->forms,
                             "SELECT name, schema::text FROM app.forms WHERE id = $1", "form",
                             etl_result_get(st->base.res, r, 1), &form, err);
        if (rc != ETL_OK)
            return rc;
        s->id = etl_result_get(st->base.res, r, 0);
        s->form_id = form->id;
        s->form_name = form->name;
        s->form_schema = form->schema;
        s->user_id = user->id;
        s->user_full_name = user->name;
        s->created = etl_result_get(st->base.res, r, 3);
        s->responses = etl_result_get(st->base.res, r, 4);
        s->responses_len = etl_result_len(st->base.res, r, 4);
    }
    out->count = n;
    return n ? ETL_OK : ETL_DONE;
}

static void naive_destroy(void *state)
{
    naive_state *st = state;
    if (!st)
        return;
    map_release(&st->users);
    map_release(&st->forms);
    etl_extract_destroy(st);
}

static const etl_extractor_ops naive_ops = {
    .name = "naive",
    .open = naive_open,
    .next = naive_next,
    .destroy = naive_destroy,
};

int etl_extractor_naive_new(etl_extractor *out, const etl_extractor_cfg *cfg, etl_db *db,
                            etl_error *err)
{
    return etl_extract_new(out, &naive_ops, sizeof(naive_state), cfg, db, err);
}
