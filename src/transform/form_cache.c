/*
 * A least-recently-used cache of path maps keyed by form id.  Capacity is
 * small (16 by default) and lookups happen once per submission, so a linear
 * scan over a flat array beats a hash table plus linked list here.
 */
#include "etl/flatten.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

typedef struct entry {
    char *form_id;
    etl_pathmap *map;
    char *reason;  /* why the schema is unusable, when map is NULL */
    uint64_t used; /* tick of the last hit */
} entry;

struct etl_form_cache {
    entry *entries;
    size_t cap;   /* entries */
    size_t count; /* entries in use */
    uint64_t tick;
    size_t misses; /* puts, i.e. schema builds */
};

int etl_form_cache_new(etl_form_cache **out, size_t capacity)
{
    *out = NULL;
    if (capacity == 0)
        capacity = 1;
    etl_form_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return ETL_ERR_NOMEM;
    c->entries = calloc(capacity, sizeof(*c->entries));
    if (!c->entries) {
        free(c);
        return ETL_ERR_NOMEM;
    }
    c->cap = capacity;
    *out = c;
    return ETL_OK;
}

static void entry_release(entry *e)
{
    free(e->form_id);
    free(e->reason);
    etl_pathmap_free(e->map);
    memset(e, 0, sizeof(*e));
}

void etl_form_cache_free(etl_form_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        entry_release(&c->entries[i]);
    free(c->entries);
    free(c);
}

bool etl_form_cache_get(etl_form_cache *c, const char *form_id, const etl_pathmap **map,
                        const char **reason)
{
    for (size_t i = 0; i < c->count; i++) {
        entry *e = &c->entries[i];
        if (strcmp(e->form_id, form_id) == 0) {
            e->used = ++c->tick;
            *map = e->map;
            *reason = e->reason;
            return true;
        }
    }
    return false;
}

int etl_form_cache_put(etl_form_cache *c, const char *form_id, etl_pathmap *map, const char *reason)
{
    c->misses++;
    entry *slot;
    if (c->count < c->cap) {
        slot = &c->entries[c->count++];
    } else {
        slot = &c->entries[0];
        for (size_t i = 1; i < c->count; i++)
            if (c->entries[i].used < slot->used)
                slot = &c->entries[i];
        entry_release(slot);
    }
    slot->form_id = strdup(form_id);
    slot->reason = reason ? strdup(reason) : NULL;
    if (!slot->form_id || (reason && !slot->reason)) {
        free(slot->form_id);
        free(slot->reason);
        etl_pathmap_free(map);
        /* Keep the array dense: move the last entry into the hole. */
        *slot = c->entries[--c->count];
        memset(&c->entries[c->count], 0, sizeof(entry));
        return ETL_ERR_NOMEM;
    }
    slot->map = map;
    slot->used = ++c->tick;
    return ETL_OK;
}

size_t etl_form_cache_size(const etl_form_cache *c)
{
    return c->count;
}

size_t etl_form_cache_misses(const etl_form_cache *c)
{
    return c->misses;
}
