/*
 * Extract -> transform -> load, one extractor batch at a time.  Events are
 * handed to the loader whenever the event batch reaches the loader's batch
 * size and always before the next extractor batch is requested, because
 * events borrow their submission's strings from the extractor batch.
 * So a streaming processor never holds more than one chunk of submissions
 * and their events.  Rejected submissions are counted and reported, and the
 * run goes on; any other error rolls the whole load back.
 */
#include "etl/pipeline.h"
#include "etl/registry.h"

#include <string.h>

#include "banned.h"

#define REJECTS_SHOWN 10
/*
 * Events handed to the loader at once at most.  Loaders split this into
 * their own statement sizes; writing per extractor batch rather than per
 * statement keeps partial statements to one per batch.  The cap only
 * matters for extractors with huge batches.
 */
#define PIPELINE_MAX_EVENTS 65536

static int fetch_schema(void *ctx, const char *form_id, etl_buf *out, etl_error *err)
{
    etl_db *db = ctx;
    etl_result *r = NULL;
    const char *params[1] = {form_id};
    int rc =
        etl_db_query(db, "SELECT schema::text FROM app.forms WHERE id = $1", 1, params, &r, err);
    if (rc != ETL_OK)
        return etl_error_wrap(err, "cannot fetch the schema of form %s", form_id);
    if (etl_result_rows(r) != 1) {
        etl_result_free(r);
        return etl_error_set(err, ETL_ERR_INPUT, "form %s does not exist", form_id);
    }
    rc = etl_buf_append(out, etl_result_get(r, 0, 0), etl_result_len(r, 0, 0));
    etl_result_free(r);
    return rc;
}

static void debug_mem(const etl_log *log, const char *stage, size_t batch)
{
    if (log && log->debug_mem)
        etl_log_error("mem: %-22s batch %-6zu rss %8.1f MiB  peak %8.1f MiB", stage, batch,
                      (double)etl_mem_current_kib() / 1024.0, (double)etl_mem_peak_kib() / 1024.0);
}

static int write_events(etl_loader *ld, etl_event_batch *events, etl_run_stats *stats,
                        etl_error *err)
{
    if (events->count == 0)
        return ETL_OK;
    int rc = ld->ops->write(ld->state, events, err);
    if (rc != ETL_OK)
        return rc;
    stats->events += events->count;
    etl_event_batch_reset(events);
    return ETL_OK;
}

int etl_pipeline_run(const etl_processor_cfg *p, etl_db *source, etl_db *target,
                     const char *processed_on, const etl_log *log, etl_run_stats *stats,
                     etl_error *err)
{
    memset(stats, 0, sizeof(*stats));
    const etl_extractor_entry *xe = etl_registry_find_extractor(p->extractor);
    const etl_transformer_entry *te = etl_registry_find_transformer(p->transformer);
    const etl_loader_entry *le = etl_registry_find_loader(p->loader);
    if (!xe || !te || !le)
        return etl_error_set(err, ETL_ERR_USAGE, "processor '%s' names an unknown strategy",
                             p->name);

    etl_extractor ex = {NULL, NULL};
    etl_transformer tr = {NULL, NULL};
    etl_loader ld = {NULL, NULL};
    etl_event_batch events;
    etl_event_batch_init(&events, processed_on);
    int begun = 0, rc;
    size_t shown = 0, nbatch = 0;
    long long t0 = etl_now_us();

    etl_extractor_cfg xcfg = {.batch_rows = p->extract_batch, .log = log};
    etl_transformer_cfg tcfg = {.form_cache = p->form_cache,
                                .max_depth = p->max_depth,
                                .max_bytes = p->max_bytes,
                                .fetch = fetch_schema,
                                .fetch_ctx = source};
    etl_loader_cfg lcfg = {.batch_rows = p->load_batch, .log = log};
    if ((rc = xe->ctor(&ex, &xcfg, source, err)) != ETL_OK ||
        (rc = te->ctor(&tr, &tcfg, err)) != ETL_OK ||
        (rc = le->ctor(&ld, &lcfg, target, err)) != ETL_OK)
        goto out;
    if ((rc = ld.ops->begin(ld.state, err)) != ETL_OK)
        goto out;
    begun = 1;
    if ((rc = ex.ops->open(ex.state, err)) != ETL_OK)
        goto out;
    debug_mem(log, "extractor open", 0);

    etl_submission_batch batch;
    while ((rc = ex.ops->next(ex.state, &batch, err)) == ETL_OK) {
        nbatch++;
        debug_mem(log, "extract", nbatch);
        stats->submissions += batch.count;
        for (size_t i = 0; i < batch.count; i++) {
            const etl_submission *s = &batch.rows[i];
            etl_error why;
            etl_error_clear(&why);
            rc = tr.ops->apply(tr.state, s, &events, &why);
            if (rc == ETL_ERR_INPUT) {
                stats->rejected++;
                if (shown++ < REJECTS_SHOWN)
                    etl_log_info(log, "submission %s rejected: %s", s->id, why.msg);
                continue;
            }
            if (rc != ETL_OK) {
                *err = why;
                etl_error_wrap(err, "submission %s", s->id);
                goto out;
            }
            if (events.count >= PIPELINE_MAX_EVENTS &&
                (rc = write_events(&ld, &events, stats, err)) != ETL_OK)
                goto out;
        }
        debug_mem(log, "transform", nbatch);
        if ((rc = write_events(&ld, &events, stats, err)) != ETL_OK)
            goto out;
        debug_mem(log, "load", nbatch);
    }
    if (rc != ETL_DONE)
        goto out;
    if (ld.ops->flush && (rc = ld.ops->flush(ld.state, err)) != ETL_OK)
        goto out;
    rc = ld.ops->end(ld.state, true, err);
    begun = 0;
    debug_mem(log, "commit", nbatch);
    if (shown > REJECTS_SHOWN)
        etl_log_info(log, "... and %zu more rejected submissions", shown - REJECTS_SHOWN);
out:
    if (begun) {
        etl_error ignored;
        ld.ops->end(ld.state, false, &ignored);
    }
    stats->elapsed_us = etl_now_us() - t0;
    stats->peak_rss_kib = etl_mem_peak_kib();
    if (ld.ops)
        ld.ops->destroy(ld.state);
    if (tr.ops)
        tr.ops->destroy(tr.state);
    if (ex.ops)
        ex.ops->destroy(ex.state);
    etl_event_batch_release(&events);
    return rc == ETL_DONE ? ETL_OK : rc;
}
