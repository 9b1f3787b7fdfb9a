/*
 * The runner registry, the check of processor definitions against all the
 * registries, and etl_pipeline_run, which hands a run to its runner.
 */
#include "etl/runner.h"
#include "etl/registry.h"
#include "run.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static const etl_runner_entry runners[] = {
    {"in-db", etl_indb_runner, false,
     "no client stages: one INSERT ... SELECT does the whole transform inside PostgreSQL"},
    {"staged", etl_staged_run, true,
     "an extractor, the transformer and a loader, streamed one batch at a time"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const etl_runner_entry *etl_registry_runners(size_t *n)
{
    *n = COUNT(runners);
    return runners;
}

const etl_runner_entry *etl_registry_find_runner(const char *name)
{
    return etl_find_named(runners, COUNT(runners), sizeof(runners[0]), name);
}

int etl_pipeline_run(const etl_pipeline_cfg *cfg, etl_db *source, etl_db *target,
                     etl_run_stats *stats, etl_error *err)
{
    memset(stats, 0, sizeof(*stats));
    const etl_runner_entry *re = etl_registry_find_runner(cfg->proc->runner);
    if (!re)
        return etl_error_set(err, ETL_ERR_USAGE, "processor '%s' names an unknown runner '%s'",
                             cfg->proc->name, cfg->proc->runner);
    if (!re->stages && (cfg->after_begin || cfg->before_commit))
        return etl_error_set(err, ETL_ERR_USAGE,
                             "processor '%s': the %s runner calls no per-batch hook",
                             cfg->proc->name, re->name);
    return re->run(cfg, source, target, stats, err);
}

/* ---- checking processor definitions ------------------------------------------ */

static int bad(const etl_processor_cfg *p, etl_cfg_pos at, etl_error *err, const char *what,
               const char *name, const void *valid, size_t n, size_t stride)
{
    etl_buf names = ETL_BUF_INIT;
    if (at.line == 0)
        at = p->at;
    /* A runner given as a stage: how processors.yaml spelled in-db before runners. */
    char hint[160] = "";
    if (strcmp(what, "runner") != 0 && etl_registry_find_runner(name))
        snprintf(hint, sizeof(hint),
                 "; '%s' is a runner: write `runner: %s` instead of an extractor and a loader",
                 name, name);
    etl_error_set(err, ETL_ERR_CONFIG, "%s:%zu:%zu: unknown %s '%s' (valid: %s)%s", p->file,
                  at.line, at.col, what, name, etl_buf_names(&names, valid, n, stride), hint);
    etl_buf_release(&names);
    return ETL_ERR_CONFIG;
}

#define BAD(p, at, err, what, name, table, n)                                                      \
    bad(p, at, err, what, name, table, n, sizeof(*(table)))

static int check_processor(const etl_processor_cfg *p, etl_error *err)
{
    size_t n;
    const etl_runner_entry *rs = etl_registry_runners(&n);
    const etl_runner_entry *re = etl_registry_find_runner(p->runner);
    if (!re)
        return BAD(p, p->runner_at, err, "runner", p->runner, rs, n);
    if (!re->stages) {
        const etl_cfg_pos *given = p->extractor_at.line     ? &p->extractor_at
                                   : p->loader_at.line      ? &p->loader_at
                                   : p->transformer_at.line ? &p->transformer_at
                                                            : NULL;
        if (given)
            return etl_error_set(err, ETL_ERR_CONFIG,
                                 "%s:%zu:%zu: processor '%s': the %s runner takes no extractor, "
                                 "transformer or loader",
                                 p->file, given->line, given->col, p->name, re->name);
        return ETL_OK;
    }
    if (!p->extractor || !p->loader)
        return etl_error_set(err, ETL_ERR_CONFIG, "%s:%zu:%zu: processor '%s' has no '%s'", p->file,
                             p->at.line, p->at.col, p->name, p->extractor ? "loader" : "extractor");
    const etl_extractor_entry *xs = etl_registry_extractors(&n);
    if (!etl_registry_find_extractor(p->extractor))
        return BAD(p, p->extractor_at, err, "extractor", p->extractor, xs, n);
    const etl_loader_entry *ls = etl_registry_loaders(&n);
    if (!etl_registry_find_loader(p->loader))
        return BAD(p, p->loader_at, err, "loader", p->loader, ls, n);
    const etl_transformer_entry *ts = etl_registry_transformers(&n);
    if (!etl_registry_find_transformer(p->transformer))
        return BAD(p, p->transformer_at, err, "transformer", p->transformer, ts, n);
    return ETL_OK;
}

int etl_runner_check_config(const etl_config *c, etl_error *err)
{
    for (size_t i = 0; i < c->nprocessors; i++) {
        int rc = check_processor(&c->processors[i], err);
        if (rc != ETL_OK)
            return rc;
    }
    return ETL_OK;
}
