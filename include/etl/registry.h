/*
 * The stage registries: one const table per stage kind, {name, constructor,
 * summary}, alphabetical (the runners have theirs in etl/runner.h).  Lookup is an exact strcmp;
 * `etl list` prints straight from these tables.
 */
#ifndef ETL_REGISTRY_H
#define ETL_REGISTRY_H

#include <stddef.h>

#include "etl/buf.h"
#include "etl/extractor.h"
#include "etl/loader.h"
#include "etl/transformer.h"

typedef struct etl_extractor_entry {
    const char *name;
    etl_extractor_ctor ctor;
    const char *summary;
} etl_extractor_entry;

typedef struct etl_loader_entry {
    const char *name;
    etl_loader_ctor ctor;
    const char *summary;
} etl_loader_entry;

typedef struct etl_transformer_entry {
    const char *name;
    etl_transformer_ctor ctor;
    const char *summary;
} etl_transformer_entry;

/* The tables and their lengths; borrowed, static. */
const etl_extractor_entry *etl_registry_extractors(size_t *n);
const etl_loader_entry *etl_registry_loaders(size_t *n);
const etl_transformer_entry *etl_registry_transformers(size_t *n);

/* Exact-name lookup; NULL if unknown. */
const etl_extractor_entry *etl_registry_find_extractor(const char *name);
const etl_loader_entry *etl_registry_find_loader(const char *name);
const etl_transformer_entry *etl_registry_find_transformer(const char *name);

#endif
