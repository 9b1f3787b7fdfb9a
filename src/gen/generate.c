/*
 * `etl generate`: deterministic synthetic source data.  Everything derives
 * from one PRNG stream seeded with the scenario's seed, consumed in a fixed
 * order (forms, users, submissions, fixtures), so the same scenario and seed
 * give identical rows, ids included.  Rows are written as COPY text straight
 * from the generator, in one transaction that also creates the tables (with
 * wal_level=minimal that skips WAL entirely); constraints come after.
 */
#include "etl/generate.h"
#include "etl/flatten.h"
#include "etl/clock.h"
#include "etl/text.h"
#include "etl/schema.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prng.h"
#include "banned.h"

#define COPY_FLUSH_BYTES ((size_t)64 * 1024)
#define BASE_EPOCH 1767225600LL /* 2026-01-01 00:00:00 UTC */
#define SPAN_SECONDS (180LL * 86400LL)

typedef struct form_tmpl {
    char *name;
    char *description;
    char *schema_text; /* unformatted JSON of the "schema" member */
    cJSON *doc;        /* the parsed file; "schema" is walked to make answers */
} form_tmpl;

typedef struct form_row {
    char id[37];
    char *name;
    const form_tmpl *tmpl;
} form_row;

typedef struct gen {
    const etl_scenario_cfg *sc;
    etl_db *db;
    etl_prng rng;
    etl_buf copy; /* COPY data not yet sent */
    etl_buf json; /* one submission's responses */
    etl_buf line; /* scratch */
    form_tmpl *tmpls;
    size_t ntmpls;
    form_row *forms;
    char (*user_ids)[37];
    etl_error *err;
    const etl_gen_hooks *hooks; /* never NULL: an empty set when the caller gave none */
    etl_gen_stats done;         /* rows sent so far, for progress */
    long long t0;               /* µs, when generate began */
    int copying;                /* a COPY is open: it must be aborted before ROLLBACK */
} gen;

static const char *const given_names[] = {
    "Ada",  "Bola",   "Chen",  "Dara",   "Elif",  "Farah", "Gustavo", "Hana",  "Ines",  "Jonas",
    "Kofi", "Lena",   "Mateo", "Nadia",  "Olu",   "Priya", "Quinn",   "Rosa",  "Sven",  "Tariq",
    "Uma",  "Viktor", "Wei",   "Ximena", "Yusuf", "Zoe",   "Amara",   "Björn", "Chloé", "Dmitri"};
static const char *const family_names[] = {
    "Okafor",  "Lindqvist", "Nakamura", "García", "Mensah",   "Kowalski", "O'Brien", "Haddad",
    "Silva",   "Novak",     "Ivanova",  "Chen",   "Müller",   "Adeyemi",  "Rossi",   "Johansson",
    "Patel",   "Dubois",    "Kim",      "Moreau", "Schmidt",  "Yilmaz",   "Santos",  "Nguyen",
    "Fischer", "Tanaka",    "Costa",    "Ward",   "Abdullah", "Larsen"};
/* Text answers, some with what escaping must get right: tabs, newlines, backslashes, quotes, UTF-8.
 */
static const char *const phrases[] = {"yes, most days",
                                      "not sure",
                                      "Shared with two neighbours",
                                      "Needs a ramp at the entrance",
                                      "Prefers morning visits",
                                      "Water comes from the community well",
                                      "São Paulo",
                                      "naïve café owner",
                                      "温度正常",
                                      "pain 🙂 much better",
                                      "line one\nline two",
                                      "column\tseparated",
                                      "C:\\Users\\field\\notes.txt",
                                      "She said \"call me later\"",
                                      "100% sure",
                                      "back\\slash and a trailing one\\",
                                      "",
                                      "N/A",
                                      "Occasional dizziness after standing up",
                                      "Lives alone since 2019"};

static int fail_nomem(gen *g)
{
    return etl_error_set(g->err, ETL_ERR_NOMEM, "out of memory generating data");
}

/*
 * Between batches of rows and steps: stop if asked, else tell how far.  Per
 * 64 kB of COPY data rather than per row, so a signal is noticed within
 * milliseconds while the check costs nothing measurable.
 */
static int step(gen *g, const char *name)
{
    if (g->hooks->stop && *g->hooks->stop)
        return etl_error_set(g->err, ETL_ERR_INTERRUPTED, "interrupted");
    if (name)
        g->done.step = name;
    if (g->hooks->progress) {
        g->done.elapsed_us = etl_now_us() - g->t0;
        g->hooks->progress(g->hooks->ctx, &g->done);
    }
    return ETL_OK;
}

static int copy_start(gen *g, const char *sql, const char *name)
{
    int rc = step(g, name);
    if (rc == ETL_OK && (rc = etl_db_copy_begin(g->db, sql, g->err)) == ETL_OK)
        g->copying = 1;
    return rc;
}

/* Send the COPY buffer once it is big enough (or always, with force). */
static int copy_maybe_flush(gen *g, int force)
{
    if (!g->copy.len || (!force && g->copy.len < COPY_FLUSH_BYTES))
        return ETL_OK;
    int rc = etl_db_copy_put(g->db, g->copy.data, g->copy.len, g->err);
    etl_buf_reset(&g->copy);
    return rc == ETL_OK ? step(g, NULL) : rc;
}

static int copy_finish(gen *g)
{
    int rc = copy_maybe_flush(g, 1);
    if (rc == ETL_OK && (rc = etl_db_copy_end(g->db, NULL, g->err)) == ETL_OK)
        g->copying = 0;
    return rc;
}

/* Append s as a COPY text field, then the separator ('\t' or '\n'). */
static int copy_field(gen *g, const char *s, size_t len, char sep)
{
    if (etl_buf_put_copy_text(&g->copy, s, len) != ETL_OK || etl_buf_putc(&g->copy, sep) != ETL_OK)
        return fail_nomem(g);
    return ETL_OK;
}

static int json_string(etl_buf *b, const char *s)
{
    if (etl_buf_putc(b, '"') != ETL_OK)
        return ETL_ERR_NOMEM;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        switch (*p) {
        case '"':
            rc = etl_buf_puts(b, "\\\"");
            break;
        case '\\':
            rc = etl_buf_puts(b, "\\\\");
            break;
        case '\n':
            rc = etl_buf_puts(b, "\\n");
            break;
        case '\t':
            rc = etl_buf_puts(b, "\\t");
            break;
        default:
            rc = *p < 0x20 ? etl_buf_printf(b, "\\u%04x", *p) : etl_buf_putc(b, (char)*p);
        }
        if (rc != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    return etl_buf_putc(b, '"');
}

/* One answer of the given type, as JSON text. */
static int answer(gen *g, etl_answer_type type)
{
    etl_buf *b = &g->json;
    uint64_t r = etl_prng_below(&g->rng, 1000);
    switch (type) {
    case ETL_ANSWER_NUMBER:
        if (r < 5) /* identifiers typed into number fields: must survive digit for digit */
            return etl_buf_printf(
                b, "%llu%010llu",
                (unsigned long long)(etl_prng_below(&g->rng, 9000000000ULL) + 1000000000ULL),
                (unsigned long long)etl_prng_below(&g->rng, 10000000000ULL));
        if (r < 200)
            return etl_buf_printf(b, "%llu.%llu", (unsigned long long)etl_prng_below(&g->rng, 200),
                                  (unsigned long long)etl_prng_below(&g->rng, 10) + 0);
        if (r < 210)
            return etl_buf_printf(b, "-%llu", (unsigned long long)etl_prng_below(&g->rng, 50) + 1);
        return etl_buf_printf(b, "%llu", (unsigned long long)etl_prng_below(&g->rng, 120));
    case ETL_ANSWER_BOOLEAN:
        return etl_buf_puts(b, r < 500 ? "true" : "false");
    case ETL_ANSWER_DATE: {
        long long day = (long long)etl_prng_below(&g->rng, 31000); /* 1940 .. 2024 */
        time_t t = (time_t)(-946771200LL + day * 86400LL);         /* from 1940-01-01 */
        struct tm tm;
        gmtime_r(&t, &tm);
        return etl_buf_printf(b, "\"%04d-%02d-%02d\"", tm.tm_year + 1900, tm.tm_mon + 1,
                              tm.tm_mday);
    }
    case ETL_ANSWER_TEXT:
    default:
        return json_string(b, phrases[r % (sizeof(phrases) / sizeof(phrases[0]))]);
    }
}

/* Keys that are no question of any form, so the skip rules get exercised. */
static int extra_keys(gen *g, int *first)
{
    etl_buf *b = &g->json;
    uint64_t r = etl_prng_below(&g->rng, 3);
    int rc = etl_buf_puts(b, *first ? "" : ",");
    *first = 0;
    if (rc != ETL_OK)
        return rc;
    if (r == 0)
        return etl_buf_printf(b,
                              "\"_client\":{\"app\":\"android\",\"version\":%llu,\"offline\":%s}",
                              (unsigned long long)etl_prng_below(&g->rng, 40),
                              etl_prng_below(&g->rng, 2) ? "true" : "false");
    if (r == 1)
        return etl_buf_puts(b, "\"attachments\":[\"photo-1.jpg\",{\"size\":2048}]");
    return etl_buf_puts(b, "\"reviewer_note\":\"checked by supervisor\"");
}

/* The responses object for the children of schema node `node`. */
static int responses_for(gen *g, const cJSON *node, int depth, int with_extra)
{
    etl_buf *b = &g->json;
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(node, "children");
    const cJSON *child;
    int first = 1;
    if (etl_buf_putc(b, '{') != ETL_OK)
        return ETL_ERR_NOMEM;
    cJSON_ArrayForEach(child, children)
    {
        const cJSON *slug = cJSON_GetObjectItemCaseSensitive(child, "slug");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(child, "answerType");
        const cJSON *kids = cJSON_GetObjectItemCaseSensitive(child, "children");
        if (!cJSON_IsString(slug))
            continue;
        etl_answer_type type = ETL_ANSWER_TEXT;
        if (cJSON_IsString(at) && etl_answer_type_parse(at->valuestring, &type) == 0) {
            double u = etl_prng_unit(&g->rng);
            if (u < g->sc->unanswered / 2)
                continue; /* left out */
            if (etl_buf_puts(b, first ? "" : ",") != ETL_OK || json_string(b, slug->valuestring) ||
                etl_buf_putc(b, ':') != ETL_OK)
                return ETL_ERR_NOMEM;
            first = 0;
            int rc = u < g->sc->unanswered ? etl_buf_puts(b, "null") : answer(g, type);
            if (rc != ETL_OK)
                return rc;
        } else if (cJSON_IsArray(kids)) {
            if (etl_buf_puts(b, first ? "" : ",") != ETL_OK || json_string(b, slug->valuestring) ||
                etl_buf_putc(b, ':') != ETL_OK)
                return ETL_ERR_NOMEM;
            first = 0;
            int rc = responses_for(g, child, depth + 1, with_extra && depth == 0);
            if (rc != ETL_OK)
                return rc;
        }
    }
    if (with_extra && extra_keys(g, &first) != ETL_OK)
        return ETL_ERR_NOMEM;
    return etl_buf_putc(b, '}');
}

static int load_templates(gen *g, const char *dir)
{
    const etl_scenario_cfg *sc = g->sc;
    g->tmpls = calloc(sc->nschemas ? sc->nschemas : 1, sizeof(*g->tmpls));
    if (!g->tmpls)
        return fail_nomem(g);
    for (size_t i = 0; i < sc->nschemas; i++) {
        form_tmpl *t = &g->tmpls[i];
        g->ntmpls++;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, sc->schemas[i]);
        char *text = NULL;
        size_t len = 0;
        int rc = etl_read_file(path, &text, &len, g->err);
        if (rc != ETL_OK)
            return rc;
        const char *end = NULL;
        t->doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!t->doc) {
            size_t line;
            size_t col;
            etl_text_position(text, end ? (size_t)(end - text) : 0, &line, &col);
            free(text);
            return etl_error_set(g->err, ETL_ERR_CONFIG,
                                 "%s:%zu:%zu: not valid JSON; expected a form object "
                                 "{\"name\", \"description\", \"schema\"}",
                                 path, line, col);
        }
        free(text);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t->doc, "name");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t->doc, "description");
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t->doc, "schema");
        if (!cJSON_IsString(name) || !cJSON_IsObject(schema) || (desc && !cJSON_IsString(desc)))
            return etl_error_set(g->err, ETL_ERR_CONFIG,
                                 "%s: expected an object with \"name\" (text), \"description\" "
                                 "(text) and \"schema\" (an object)",
                                 path);
        t->name = strdup(name->valuestring);
        t->description = strdup(desc ? desc->valuestring : "");
        t->schema_text = cJSON_PrintUnformatted(schema);
        if (!t->name || !t->description || !t->schema_text)
            return fail_nomem(g);
        /* Refuse to generate data for a form the transformer could not read. */
        etl_pathmap *m = NULL;
        etl_error why;
        rc = etl_pathmap_build(&m, t->schema_text, strlen(t->schema_text), &why);
        etl_pathmap_free(m);
        if (rc != ETL_OK)
            return etl_error_set(g->err, ETL_ERR_CONFIG, "%s: unusable form schema: %s", path,
                                 why.msg);
    }
    return ETL_OK;
}

static int copy_forms(gen *g)
{
    const etl_scenario_cfg *sc = g->sc;
    int rc = copy_start(g, "COPY app.forms (id, name, description, schema) FROM STDIN", "forms");
    if (rc != ETL_OK)
        return rc;
    if (sc->forms > 0 && g->ntmpls == 0) /* the config parser requires schemas; say so anyway */
        return etl_error_set(g->err, ETL_ERR_CONFIG, "scenario %s has forms but no schemas",
                             sc->name);
    g->forms = calloc(sc->forms ? sc->forms : 1, sizeof(*g->forms));
    if (!g->forms)
        return fail_nomem(g);
    const size_t ntmpls = g->ntmpls;
    for (size_t f = 0; f < sc->forms && ntmpls > 0; f++) {
        form_row *row = &g->forms[f];
        row->tmpl = &g->tmpls[f % ntmpls];
        etl_prng_uuid(&g->rng, row->id);
        etl_buf name = ETL_BUF_INIT;
        if (f < ntmpls ? etl_buf_puts(&name, row->tmpl->name)
                       : etl_buf_printf(&name, "%s #%zu", row->tmpl->name, f / ntmpls + 1))
            return fail_nomem(g);
        row->name = etl_buf_detach(&name);
        if ((rc = copy_field(g, row->id, 36, '\t')) != ETL_OK ||
            (rc = copy_field(g, row->name, strlen(row->name), '\t')) != ETL_OK ||
            (rc = copy_field(g, row->tmpl->description, strlen(row->tmpl->description), '\t')) ||
            (rc = copy_field(g, row->tmpl->schema_text, strlen(row->tmpl->schema_text), '\n')))
            return rc;
        g->done.forms++;
    }
    return copy_finish(g);
}

static int copy_users(gen *g)
{
    const etl_scenario_cfg *sc = g->sc;
    int rc = copy_start(g, "COPY app.users (id, given_name, family_name) FROM STDIN", "users");
    if (rc != ETL_OK)
        return rc;
    g->user_ids = calloc(sc->users ? sc->users : 1, sizeof(*g->user_ids));
    if (!g->user_ids)
        return fail_nomem(g);
    const size_t ng = sizeof(given_names) / sizeof(given_names[0]);
    const size_t nf = sizeof(family_names) / sizeof(family_names[0]);
    for (size_t u = 0; u < sc->users; u++) {
        etl_prng_uuid(&g->rng, g->user_ids[u]);
        const char *given = given_names[etl_prng_below(&g->rng, ng)];
        const char *family = family_names[etl_prng_below(&g->rng, nf)];
        g->done.users++;
        if ((rc = copy_field(g, g->user_ids[u], 36, '\t')) != ETL_OK ||
            (rc = copy_field(g, given, strlen(given), '\t')) != ETL_OK ||
            (rc = copy_field(g, family, strlen(family), '\n')) != ETL_OK ||
            (rc = copy_maybe_flush(g, 0)) != ETL_OK)
            return rc;
    }
    return copy_finish(g);
}

static int submission_row(gen *g, const char *form_id, const char *user_id, long long created,
                          const char *responses, size_t len)
{
    char id[37];
    char ts[40];
    etl_prng_uuid(&g->rng, id);
    time_t t = (time_t)created;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S+00", &tm);
    int rc;
    if ((rc = copy_field(g, id, 36, '\t')) != ETL_OK ||
        (rc = copy_field(g, form_id, 36, '\t')) != ETL_OK ||
        (rc = copy_field(g, user_id, 36, '\t')) != ETL_OK ||
        (rc = copy_field(g, responses, len, '\t')) != ETL_OK ||
        (rc = copy_field(g, ts, strlen(ts), '\n')) != ETL_OK)
        return rc;
    return copy_maybe_flush(g, 0);
}

/* The raw text of a token, quotes included for strings. */
static void raw_span(const etl_json_doc *d, const etl_json_tok *t, const char **s, size_t *n)
{
    int quoted = t->type == ETL_JSON_STRING;
    *s = d->text + t->start - quoted;
    *n = t->len + 2 * (size_t)quoted;
}

/*
 * A fixture: {"form": "<form name>", "user": <1-based user>, "responses": <any JSON>,
 * "date_created": "<timestamp>" (optional)}.  Read with the etl tokenizer, not cJSON,
 * so the responses go in byte for byte (cJSON would round big integers).
 */
static int fixture(gen *g, const char *dir, const char *file, long long created)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    char *text = NULL;
    size_t len = 0;
    etl_json_doc d;
    etl_json_doc_init(&d, 0);
    etl_buf form_name = ETL_BUF_INIT;
    etl_buf ts = ETL_BUF_INIT;
    int rc = etl_read_file(path, &text, &len, g->err);
    if (rc != ETL_OK)
        goto out;
    etl_error why;
    if (etl_json_tokenize(&d, text, len, &why) != ETL_OK) {
        size_t line;
        size_t col;
        etl_text_position(text, d.err_at, &line, &col);
        rc = etl_error_set(g->err, ETL_ERR_CONFIG, "%s:%zu:%zu: %s", path, line, col, why.msg);
        goto out;
    }
    const etl_json_tok *resp = NULL;
    unsigned long long user = 0;
    rc = d.count && d.toks[0].type == ETL_JSON_OBJECT ? ETL_OK : ETL_ERR_CONFIG;
    for (uint32_t k = 1, n = 0; rc == ETL_OK && n < d.toks[0].size; n++) {
        const etl_json_tok *key = &d.toks[k];
        const etl_json_tok *val = &d.toks[k + 1];
        k = val->next;
        const char *kn = text + key->start;
        size_t kl = key->len;
        if (kl == 4 && memcmp(kn, "form", 4) == 0 && val->type == ETL_JSON_STRING)
            rc = etl_json_decode_string(&d, val, &form_name, &why) == ETL_OK ? ETL_OK
                                                                             : ETL_ERR_CONFIG;
        else if (kl == 4 && memcmp(kn, "user", 4) == 0 && val->type == ETL_JSON_NUMBER) {
            char num[32];
            snprintf(num, sizeof(num), "%.*s", (int)val->len, text + val->start);
            if (etl_parse_ull(num, 1, g->sc->users, &user) != 0)
                rc = ETL_ERR_CONFIG;
        } else if (kl == 9 && memcmp(kn, "responses", 9) == 0)
            resp = val;
        else if (kl == 12 && memcmp(kn, "date_created", 12) == 0 && val->type == ETL_JSON_STRING)
            rc = etl_json_decode_string(&d, val, &ts, &why) == ETL_OK ? ETL_OK : ETL_ERR_CONFIG;
        else
            rc = ETL_ERR_CONFIG;
    }
    const form_row *form = NULL;
    for (size_t f = 0; rc == ETL_OK && form_name.data && f < g->sc->forms; f++)
        if (strcmp(g->forms[f].name, form_name.data) == 0)
            form = &g->forms[f];
    if (rc != ETL_OK || !form || !user || !resp) {
        rc = etl_error_set(g->err, ETL_ERR_CONFIG,
                           "%s: expected {\"form\": <name of one of the scenario's forms>, "
                           "\"user\": <1 to %zu>, \"responses\": <JSON>, \"date_created\": "
                           "<optional timestamp>}",
                           path, g->sc->users);
        goto out;
    }
    const char *raw;
    size_t rawlen;
    raw_span(&d, resp, &raw, &rawlen);
    if (ts.len) {
        /* A literal timestamp: write the row by hand with it. */
        char id[37];
        etl_prng_uuid(&g->rng, id);
        if ((rc = copy_field(g, id, 36, '\t')) != ETL_OK ||
            (rc = copy_field(g, form->id, 36, '\t')) != ETL_OK ||
            (rc = copy_field(g, g->user_ids[user - 1], 36, '\t')) != ETL_OK ||
            (rc = copy_field(g, raw, rawlen, '\t')) != ETL_OK ||
            (rc = copy_field(g, ts.data, ts.len, '\n')) != ETL_OK)
            goto out;
    } else {
        rc = submission_row(g, form->id, g->user_ids[user - 1], created, raw, rawlen);
    }
out:
    free(text);
    etl_json_doc_release(&d);
    etl_buf_release(&form_name);
    etl_buf_release(&ts);
    return rc;
}

static int copy_submissions(gen *g, const char *dir)
{
    const etl_scenario_cfg *sc = g->sc;
    int rc = copy_start(
        g, "COPY app.submissions (id, form_id, user_id, responses, date_created) FROM STDIN",
        "submissions");
    if (rc != ETL_OK)
        return rc;
    for (size_t i = 0; i < sc->submissions; i++) {
        const form_row *form = &g->forms[etl_prng_below(&g->rng, sc->forms)];
        const char *user = g->user_ids[etl_prng_below(&g->rng, sc->users)];
        long long created = BASE_EPOCH + (long long)etl_prng_below(&g->rng, SPAN_SECONDS);
        int with_extra = etl_prng_unit(&g->rng) < sc->extra_keys;
        etl_buf_reset(&g->json);
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(form->tmpl->doc, "schema");
        if (responses_for(g, schema, 0, with_extra) != ETL_OK)
            return fail_nomem(g);
        g->done.submissions++;
        if ((rc = submission_row(g, form->id, user, created, g->json.data, g->json.len)) != ETL_OK)
            return rc;
    }
    for (size_t i = 0; i < sc->nfixtures; i++) {
        long long created = BASE_EPOCH + SPAN_SECONDS + (long long)i * 60;
        g->done.submissions++;
        if ((rc = fixture(g, dir, sc->fixtures[i], created)) != ETL_OK)
            return rc; /* etl_generate aborts the COPY */
    }
    return copy_finish(g);
}

int etl_generate(etl_db *db, const etl_scenario_cfg *sc, const char *config_dir,
                 unsigned long long seed, const etl_gen_hooks *hooks, etl_gen_stats *stats,
                 etl_error *err)
{
    static const etl_gen_hooks no_hooks = {NULL, NULL, NULL};
    memset(stats, 0, sizeof(*stats));
    long long t0 = etl_now_us();
    gen g;
    memset(&g, 0, sizeof(g));
    g.sc = sc;
    g.db = db;
    g.err = err;
    g.hooks = hooks ? hooks : &no_hooks;
    g.t0 = t0;
    etl_prng_seed(&g.rng, seed);
    int rc = load_templates(&g, config_dir);
    if (rc == ETL_OK && (rc = etl_db_exec(db, "BEGIN", err)) == ETL_OK) {
        if ((rc = etl_db_exec(db, etl_schema_app_sql, err)) == ETL_OK &&
            (rc = etl_db_exec(db, etl_schema_dwh_sql, err)) == ETL_OK &&
            (rc = copy_forms(&g)) == ETL_OK && (rc = copy_users(&g)) == ETL_OK &&
            (rc = copy_submissions(&g, config_dir)) == ETL_OK &&
            (rc = step(&g, "constraints")) == ETL_OK &&
            (rc = etl_db_exec(db, etl_schema_app_constraints_sql, err)) == ETL_OK &&
            (rc = step(&g, NULL)) == ETL_OK)
            rc = etl_db_exec(db, "COMMIT", err);
        if (rc != ETL_OK) {
            /* libpq refuses any statement while a COPY is open: end it first. */
            if (g.copying)
                etl_db_copy_end(db, "generate stopped", NULL);
            etl_error ignored;
            etl_db_exec(db, "ROLLBACK", &ignored);
        }
    }
    if (rc == ETL_OK && (rc = step(&g, "analyze")) == ETL_OK)
        rc = etl_db_exec(db, "ANALYZE", err);
    if (rc == ETL_OK) {
        stats->forms = sc->forms;
        stats->users = sc->users;
        stats->submissions = sc->submissions + sc->nfixtures;
    }
    for (size_t i = 0; i < g.ntmpls; i++) {
        free(g.tmpls[i].name);
        free(g.tmpls[i].description);
        free(g.tmpls[i].schema_text);
        cJSON_Delete(g.tmpls[i].doc);
    }
    free(g.tmpls);
    for (size_t f = 0; g.forms && f < sc->forms; f++)
        free(g.forms[f].name);
    free(g.forms);
    free(g.user_ids);
    etl_buf_release(&g.copy);
    etl_buf_release(&g.json);
    etl_buf_release(&g.line);
    stats->elapsed_us = etl_now_us() - t0;
    return rc;
}
