/*
 * The run summary: what `etl process SCENARIO PROCESSOR --json` prints and
 * what `etl bench` reads back from its children.  One struct, one writer and
 * one parser, so the two commands cannot drift apart.  The JSON carries
 * "summary_version" (ETL_SUMMARY_VERSION); the parser refuses any other.
 * Keys and their meaning are listed in docs/cli.md (etl process).
 */
#ifndef ETL_SUMMARY_H
#define ETL_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include "etl/buf.h"
#include "etl/config.h"
#include "etl/error.h"
#include "etl/pipeline.h"

/* Bump when a key changes meaning or goes away (adding one is no reason). */
#define ETL_SUMMARY_VERSION 1

/*
 * A scenario run, or its failure.  Strings are borrowed from the caller when
 * it fills the struct to write it, and owned by the struct when
 * etl_summary_parse_json filled it (free them with etl_summary_release).
 */
typedef struct etl_summary {
    const char *scenario;
    const char *processor;
    bool failed; /* the failure form: only scenario, processor, exit and error */
    /* A run that finished: */
    const char *runner;
    const char *extractor;    /* NULL (JSON null) for a runner without client stages (in-db) */
    const char *loader;       /* likewise */
    const char *database;     /* the run database */
    size_t submissions;       /* read from the source */
    size_t events;            /* written */
    size_t rejected;          /* of the submissions */
    double elapsed_s;         /* s, the ETL alone: no server start, no cloning */
    double events_per_s;      /* events / elapsed_s; 0 if elapsed_s is 0 */
    long peak_rss_kib;        /* KiB; with --jobs, the workers' peaks summed */
    long worker_peak_rss_kib; /* KiB, the largest one process's peak: with --jobs a worker's */
    /* A run that failed: */
    int exit;          /* the command's exit status */
    const char *error; /* the message, without the "etl: " prefix */
    char *owned;       /* etl_summary_parse_json: where the strings above live */
} etl_summary;

/* Fill s for a run of p on scenario in database that did st (all borrowed). */
void etl_summary_of_run(etl_summary *s, const char *scenario, const etl_processor_cfg *p,
                        const char *database, const etl_run_stats *st);
/* Fill s for a run that failed with exit_status and message error (borrowed). */
void etl_summary_of_failure(etl_summary *s, const char *scenario, const char *processor,
                            int exit_status, const char *error);

/*
 * Append s to out as one JSON object, no newline: summary_version first,
 * then the keys of its form in a fixed order.  ETL_OK or ETL_ERR_NOMEM.
 */
int etl_summary_write_json(etl_buf *out, const etl_summary *s);

/*
 * Parse one object written by etl_summary_write_json into *out (zeroed
 * first; release it also on failure).  ETL_ERR_IO if text is not such an
 * object: not JSON, a summary_version other than ETL_SUMMARY_VERSION (or
 * none), or a key missing or of the wrong type; the message says which.
 */
int etl_summary_parse_json(const char *text, etl_summary *out, etl_error *err);

/*
 * Free what etl_summary_parse_json allocated and empty s; a no-op on a
 * struct the caller filled (etl_summary_of_run, _of_failure) or zeroed.
 */
void etl_summary_release(etl_summary *s);

#endif
