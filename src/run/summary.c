/*
 * The run summary as JSON: written by `etl process --json`, read back by
 * `etl bench` from its children.  Writes into a buffer, never to a stream:
 * the command prints it.  The parser is strict (every key of the form, of
 * its type, and the one version it knows), so a change on one side fails
 * loudly on the other instead of reading zeros.
 */
#include "etl/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etl/json_out.h"

#include "banned.h"

void etl_summary_of_run(etl_summary *s, const char *scenario, const etl_processor_cfg *p,
                        const char *database, const etl_run_stats *st)
{
    memset(s, 0, sizeof(*s));
    s->scenario = scenario;
    s->processor = p->name;
    s->runner = p->runner;
    s->extractor = p->extractor;
    s->loader = p->loader;
    s->database = database;
    s->submissions = st->submissions;
    s->events = st->events;
    s->rejected = st->rejected;
    s->elapsed_s = (double)st->elapsed_us / 1e6;
    s->events_per_s = s->elapsed_s > 0 ? (double)st->events / s->elapsed_s : 0;
    s->peak_rss_kib = st->peak_rss_kib;
    s->worker_peak_rss_kib = etl_run_stats_one_peak(st);
}

void etl_summary_of_failure(etl_summary *s, const char *scenario, const char *processor,
                            int exit_status, const char *error)
{
    memset(s, 0, sizeof(*s));
    s->scenario = scenario;
    s->processor = processor;
    s->failed = true;
    s->exit = exit_status;
    s->error = error;
}

/* ,"key": and the value as a JSON string, or null for NULL. */
static int put_string(etl_buf *out, const char *key, const char *value)
{
    int rc = etl_buf_printf(out, ",\"%s\":", key);
    if (rc == ETL_OK)
        rc = value ? etl_json_buf_put(out, value) : etl_buf_puts(out, "null");
    return rc;
}

int etl_summary_write_json(etl_buf *out, const etl_summary *s)
{
    int rc = etl_buf_printf(out, "{\"summary_version\":%d", ETL_SUMMARY_VERSION);
    if (rc == ETL_OK)
        rc = put_string(out, "scenario", s->scenario);
    if (rc == ETL_OK)
        rc = put_string(out, "processor", s->processor);
    if (s->failed) {
        if (rc == ETL_OK)
            rc = etl_buf_printf(out, ",\"exit\":%d", s->exit);
        if (rc == ETL_OK)
            rc = put_string(out, "error", s->error);
        return rc == ETL_OK ? etl_buf_putc(out, '}') : rc;
    }
    if (rc == ETL_OK)
        rc = put_string(out, "runner", s->runner);
    if (rc == ETL_OK)
        rc = put_string(out, "extractor", s->extractor);
    if (rc == ETL_OK)
        rc = put_string(out, "loader", s->loader);
    if (rc == ETL_OK)
        rc = put_string(out, "database", s->database);
    if (rc == ETL_OK)
        rc = etl_buf_printf(out,
                            ",\"submissions\":%zu,\"events\":%zu,\"rejected\":%zu,"
                            "\"elapsed_s\":%.6f,\"events_per_s\":%.1f,\"peak_rss_kib\":%ld,"
                            "\"worker_peak_rss_kib\":%ld}",
                            s->submissions, s->events, s->rejected, s->elapsed_s, s->events_per_s,
                            s->peak_rss_kib, s->worker_peak_rss_kib);
    return rc;
}

/* A string key of a parsed summary and the field its copy goes to. */
typedef struct str_field {
    const char *key;
    const char **dst;
    bool nullable; /* JSON null allowed (then *dst stays NULL) */
} str_field;

/* 2^53: the largest whole number below which a double holds every one exactly. */
#define COUNT_MAX 9007199254740992.0

/* A count: a whole number from 0 to max. */
static int get_count(const cJSON *j, const char *key, double max, double *out, etl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
        floor(v->valuedouble) != v->valuedouble)
        return etl_error_set(err, ETL_ERR_IO,
                             "run summary: \"%s\" missing or not a whole number from 0 to %.0f",
                             key, max);
    *out = v->valuedouble;
    return ETL_OK;
}

static int get_number(const cJSON *j, const char *key, double *out, etl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v))
        return etl_error_set(err, ETL_ERR_IO, "run summary: \"%s\" missing or not a number", key);
    *out = v->valuedouble;
    return ETL_OK;
}

/* Copy the strings of fields out of j into one allocation, s->owned. */
static int get_strings(etl_summary *s, const cJSON *j, const str_field *fields, size_t n,
                       etl_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fields[i].key);
        if (fields[i].nullable && cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v))
            return etl_error_set(err, ETL_ERR_IO, "run summary: \"%s\" missing or not a string%s",
                                 fields[i].key, fields[i].nullable ? " or null" : "");
        total += strlen(v->valuestring) + 1;
    }
    s->owned = malloc(total ? total : 1);
    if (!s->owned)
        return etl_error_set(err, ETL_ERR_NOMEM, "out of memory");
    char *at = s->owned;
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, fields[i].key);
        if (!cJSON_IsString(v))
            continue; /* a null, allowed above */
        size_t len = strlen(v->valuestring) + 1;
        memcpy(at, v->valuestring, len);
        *fields[i].dst = at;
        at += len;
    }
    return ETL_OK;
}

static int parse_run(etl_summary *out, const cJSON *j, etl_error *err)
{
    const str_field fields[] = {
        {"scenario", &out->scenario, false}, {"processor", &out->processor, false},
        {"runner", &out->runner, false},     {"extractor", &out->extractor, true},
        {"loader", &out->loader, true},      {"database", &out->database, false}};
    double submissions = 0;
    double events = 0;
    double rejected = 0;
    double rss = 0;
    int rc = get_strings(out, j, fields, sizeof(fields) / sizeof(fields[0]), err);
    if (rc == ETL_OK)
        rc = get_count(j, "submissions", COUNT_MAX, &submissions, err);
    if (rc == ETL_OK)
        rc = get_count(j, "events", COUNT_MAX, &events, err);
    if (rc == ETL_OK)
        rc = get_count(j, "rejected", COUNT_MAX, &rejected, err);
    if (rc == ETL_OK)
        rc = get_number(j, "elapsed_s", &out->elapsed_s, err);
    if (rc == ETL_OK)
        rc = get_number(j, "events_per_s", &out->events_per_s, err);
    if (rc == ETL_OK)
        rc = get_count(j, "peak_rss_kib", COUNT_MAX, &rss, err);
    /* Added within version 1 (summary.h): a summary without it ran in one process. */
    double worker_rss = rss;
    if (rc == ETL_OK && cJSON_GetObjectItemCaseSensitive(j, "worker_peak_rss_kib"))
        rc = get_count(j, "worker_peak_rss_kib", COUNT_MAX, &worker_rss, err);
    out->submissions = (size_t)submissions;
    out->events = (size_t)events;
    out->rejected = (size_t)rejected;
    out->peak_rss_kib = (long)rss;
    out->worker_peak_rss_kib = (long)worker_rss;
    return rc;
}

static int parse_failure(etl_summary *out, const cJSON *j, etl_error *err)
{
    const str_field fields[] = {{"scenario", &out->scenario, false},
                                {"processor", &out->processor, false},
                                {"error", &out->error, false}};
    double status = 0;
    out->failed = true;
    int rc = get_strings(out, j, fields, sizeof(fields) / sizeof(fields[0]), err);
    if (rc == ETL_OK)
        rc = get_count(j, "exit", 255, &status, err);
    out->exit = (int)status;
    return rc;
}

int etl_summary_parse_json(const char *text, etl_summary *out, etl_error *err)
{
    memset(out, 0, sizeof(*out));
    cJSON *j = cJSON_Parse(text ? text : "");
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return etl_error_set(err, ETL_ERR_IO, "run summary: not a JSON object");
    }
    int rc = ETL_OK;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "summary_version");
    if (!cJSON_IsNumber(v))
        rc = etl_error_set(err, ETL_ERR_IO,
                           "run summary: no \"summary_version\": written by an etl older than "
                           "this one, which reads version %d",
                           ETL_SUMMARY_VERSION);
    else if (v->valuedouble != ETL_SUMMARY_VERSION)
        rc = etl_error_set(err, ETL_ERR_IO,
                           "run summary: summary_version %g, but this etl reads version %d only",
                           v->valuedouble, ETL_SUMMARY_VERSION);
    else if (cJSON_HasObjectItem(j, "error"))
        rc = parse_failure(out, j, err);
    else
        rc = parse_run(out, j, err);
    cJSON_Delete(j);
    return rc;
}

void etl_summary_release(etl_summary *s)
{
    if (!s->owned)
        return; /* filled by the caller: nothing of ours */
    free(s->owned);
    memset(s, 0, sizeof(*s));
}
