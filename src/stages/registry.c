/*
 * Every strategy compiled into etl, one const table per stage kind, in
 * alphabetical order.  Adding a strategy means one file and one line here.
 */
#include "etl/registry.h"

#include "banned.h"

static const etl_extractor_entry extractors[] = {
    {"chunked", etl_extractor_chunked_new,
     "joined query through a server-side cursor, N submissions per FETCH (bounded memory)"},
    {"joined", etl_extractor_joined_new,
     "one query joining users and forms, whole result in memory"},
    {"naive", etl_extractor_naive_new,
     "one query for submissions, then a query per distinct user and form (N+1), all in memory"},
};

static const etl_loader_entry loaders[] = {
    {"chunked", etl_loader_chunked_new, "multi-row INSERT of N events per statement"},
    {"copy", etl_loader_copy_new, "binary COPY FROM STDIN, streamed"},
    {"copy-text", etl_loader_copy_text_new, "text COPY FROM STDIN, streamed"},
    {"flush-single", etl_loader_flush_single_new,
     "one INSERT per event as it arrives: bounded memory, a round trip per row"},
    {"naive", etl_loader_naive_new,
     "every event kept in memory, then one INSERT per event at the end"},
};

static const etl_transformer_entry transformers[] = {
    {"flatten", etl_transformer_flatten_new,
     "walk responses, one event per answered question (LRU of form path maps)"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const etl_extractor_entry *etl_registry_extractors(size_t *n)
{
    *n = COUNT(extractors);
    return extractors;
}

const etl_loader_entry *etl_registry_loaders(size_t *n)
{
    *n = COUNT(loaders);
    return loaders;
}

const etl_transformer_entry *etl_registry_transformers(size_t *n)
{
    *n = COUNT(transformers);
    return transformers;
}

const etl_extractor_entry *etl_registry_find_extractor(const char *name)
{
    return etl_find_named(extractors, COUNT(extractors), sizeof(extractors[0]), name);
}

const etl_loader_entry *etl_registry_find_loader(const char *name)
{
    return etl_find_named(loaders, COUNT(loaders), sizeof(loaders[0]), name);
}

const etl_transformer_entry *etl_registry_find_transformer(const char *name)
{
    return etl_find_named(transformers, COUNT(transformers), sizeof(transformers[0]), name);
}
