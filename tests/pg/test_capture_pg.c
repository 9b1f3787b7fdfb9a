/*
 * Change capture against a real PostgreSQL: after every kind of change a
 * run leaves the warehouse equal to a fresh full run of the source as it
 * is; SIGKILL at 20 points while another process keeps writing (also with
 * the warehouse in another database); two and three workers on one queue;
 * lost claim connections; verify, reprocess and the upgrade of an
 * installation made without capture.
 *
 * "Equal to a fresh full run" is checked literally: the source database is
 * cloned, its capture and warehouse are emptied, `etl init` and one run
 * rebuild them, and the digests of events (every column but id and
 * processed_on) and of rejects (id and reason) must match.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define SERVER_NAME "pgdata-capture"

static etl_test_server server;

static const char digest_sql[] =
    "SELECT (SELECT count(*) FROM dwh.response_events), (SELECT md5(coalesce(string_agg("
    "concat_ws('|', form_id, form_name, user_id, user_full_name, submission_id, "
    "submission_created, schema_path, value, answer_type, tag), E'\\n' ORDER BY submission_id, "
    "schema_path, value, tag, answer_type), '')) FROM dwh.response_events), (SELECT "
    "coalesce(string_agg("
    "submission_id || ':' || reason, ',' ORDER BY submission_id), '') FROM dwh.etl_rejects), "
    "(SELECT md5(coalesce(string_agg(submission_id::text, ',' ORDER BY submission_id), '')) "
    "FROM dwh.etl_processed)";

static void exec_on(const char *dbname, const char *sql)
{
    etl_test_exec_on(&server, dbname, sql);
}

static char *query_on(const char *dbname, const char *sql)
{
    return etl_test_query_on(&server, dbname, sql);
}

static long count_on(const char *dbname, const char *sql)
{
    char *n = query_on(dbname, sql);
    long v = strtol(n, NULL, 10);
    free(n);
    return v;
}

static void recreate(const char *name, const char *template_db)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    exec_on(NULL, sql);
    if (template_db)
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY", name,
                 template_db);
    else
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    exec_on(NULL, sql);
}

/* etl with args (NULL-terminated); its exit status, with output kept in *out if wanted. */
static int etl(etl_run *out, const char *const *args)
{
    etl_run run;
    etl_test_run(&run, args);
    int status = run.status;
    if (out)
        *out = run;
    else
        etl_run_release(&run);
    return status;
}

static void init_or_fail(const char *ci, const char *target, bool no_capture)
{
    const char *args[8] = {"--db", ci, "-q", "init"};
    size_t n = 4;
    if (target) {
        args[n++] = "--target";
        args[n++] = target;
    }
    if (no_capture)
        args[n++] = "--no-capture";
    args[n] = NULL;
    etl_run run;
    if (etl(&run, args) != 0)
        fail_msg("init: %s", run.err.data);
    etl_run_release(&run);
}

/* A fresh copy of the medium application database, initialised; its conninfo (caller frees). */
static char *fresh_app(const char *name, bool no_capture)
{
    recreate(name, "etl_tpl_medium");
    char *ci = etl_test_conninfo_for(&server, name);
    init_or_fail(ci, NULL, no_capture);
    return ci;
}

/* An in-place run with copy (or processor), its status; JSON summary in *out if wanted. */
static int run_on(const char *ci, const char *target, const char *processor, const char *batch,
                  etl_run *out)
{
    const char *args[12] = {"--db", ci, "-q", "process", processor ? processor : "copy", "--json"};
    size_t n = 6;
    if (target) {
        args[n++] = "--target";
        args[n++] = target;
    }
    if (batch) {
        args[n++] = "--batch-size";
        args[n++] = batch;
    }
    args[n] = NULL;
    return etl(out, args);
}

static void run_ok(const char *ci, const char *target, const char *processor)
{
    etl_run run;
    int status = run_on(ci, target, processor, NULL, &run);
    if (status != 0 && status != 5)
        fail_msg("run exited %d: %s", status, run.err.data);
    etl_run_release(&run);
}

/*
 * What a fresh full run makes of database src as it is now: a clone without
 * capture or warehouse rows, initialised without capture (so by the other
 * code path: the ledger scan) and run once.  Digest text (caller frees).
 */
static char *fresh_digest(const char *src)
{
    recreate("cap_fresh", src);
    exec_on("cap_fresh", "DROP SCHEMA IF EXISTS etl CASCADE; DROP SCHEMA IF EXISTS dwh CASCADE");
    char *ci = etl_test_conninfo_for(&server, "cap_fresh");
    init_or_fail(ci, NULL, true);
    run_ok(ci, NULL, "copy");
    free(ci);
    return query_on("cap_fresh", digest_sql);
}

/* The warehouse in database wh equals a fresh full run of source database src. */
static void assert_fresh(const char *src, const char *wh, const char *what)
{
    char *want = fresh_digest(src);
    char *got = query_on(wh, digest_sql);
    if (strcmp(want, got) != 0)
        fail_msg("%s: the warehouse differs from a fresh full run\n got  %s want %s", what, got,
                 want);
    free(want);
    free(got);
}

static int group_setup(void **state)
{
    (void)state;
    etl_test_server_start(&server, SERVER_NAME);
    const char *g[] = {"--db", server.conninfo, "generate", "medium", "-q", NULL};
    etl_run run;
    if (etl(&run, g) != 0)
        fail_msg("generate medium: %s", run.err.data);
    etl_run_release(&run);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    etl_test_server_stop(&server);
    return 0;
}

/* One change of each kind, each followed by a run that must catch up exactly. */
static void test_every_kind_of_change_matches_a_fresh_run(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        const char *sql;
        const char *check; /* after the run: a query that must return t, or NULL */
    } changes[] = {
        {"new submissions",
         "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, responses, "
         "now() FROM app.submissions ORDER BY id LIMIT 3",
         NULL},
        {"edited responses",
         "UPDATE app.submissions SET responses = '{\"wellbeing\": {\"mood\": \"edited\"}}' "
         "WHERE id IN (SELECT id FROM app.submissions ORDER BY id LIMIT 2)",
         NULL},
        {"an update that changes nothing etl reads",
         "UPDATE app.submissions SET date_created = date_created WHERE id IN "
         "(SELECT id FROM app.submissions ORDER BY id DESC LIMIT 5)",
         NULL},
        {"a submission moved to another form",
         "UPDATE app.submissions SET form_id = (SELECT id FROM app.forms ORDER BY name LIMIT 1) "
         "WHERE id = (SELECT s.id FROM app.submissions s JOIN app.forms f ON f.id = s.form_id "
         "WHERE f.name <> (SELECT min(name) FROM app.forms) ORDER BY s.id LIMIT 1)",
         NULL},
        {"a deleted submission",
         "DELETE FROM app.submissions WHERE id IN (SELECT id FROM app.submissions ORDER BY id "
         "OFFSET 7 LIMIT 2)",
         NULL},
        {"a renamed question",
         "UPDATE app.forms SET schema = replace(schema::text, '\"mood\"', '\"humour\"')::jsonb",
         NULL},
        {"a renamed form",
         "UPDATE app.forms SET name = name || ' (v2)' WHERE id = (SELECT id "
         "FROM app.forms ORDER BY name DESC LIMIT 1)",
         NULL},
        {"a renamed user",
         "UPDATE app.users SET family_name = family_name || '-Renamed' WHERE "
         "id = (SELECT id FROM app.users ORDER BY id LIMIT 1)",
         NULL},
        {"a submission whose user row is missing",
         "ALTER TABLE app.submissions DROP CONSTRAINT submissions_user_id_fkey; "
         "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, gen_random_uuid(), "
         "responses, now() FROM app.submissions ORDER BY id LIMIT 1",
         "SELECT count(*) = 1 FROM dwh.etl_rejects WHERE reason = 'unknown_user'"},
        {"a deleted user",
         "DELETE FROM app.users WHERE id = (SELECT id FROM app.users ORDER BY id DESC LIMIT 1)",
         "SELECT count(*) > 1 FROM dwh.etl_rejects WHERE reason = 'unknown_user'"},
        {"a submission whose form row is missing",
         "ALTER TABLE app.submissions DROP CONSTRAINT submissions_form_id_fkey; "
         "INSERT INTO app.submissions SELECT gen_random_uuid(), gen_random_uuid(), user_id, "
         "responses, now() FROM app.submissions ORDER BY id LIMIT 1",
         "SELECT count(*) = 1 FROM dwh.etl_rejects WHERE reason = 'unknown_form'"},
        {"a user who comes back",
         "INSERT INTO app.users SELECT DISTINCT s.user_id, 'Back', 'Again' FROM app.submissions "
         "s WHERE NOT EXISTS (SELECT 1 FROM app.users u WHERE u.id = s.user_id)",
         "SELECT count(*) = 0 FROM dwh.etl_rejects WHERE reason = 'unknown_user'"},

    };
    char *ci = fresh_app("cap_kinds", false);
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_kinds", "cap_kinds", "first run");
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        exec_on("cap_kinds", changes[i].sql);
        run_ok(ci, NULL, "copy");
        assert_fresh("cap_kinds", "cap_kinds", changes[i].what);
        if (changes[i].check) {
            char *ok = query_on("cap_kinds", changes[i].check);
            if (strcmp(ok, "t\n") != 0)
                fail_msg("%s: %s is not true", changes[i].what, changes[i].check);
            free(ok);
        }
    }
    assert_int_equal(count_on("cap_kinds", "SELECT count(*) FROM etl.queue"), 0);
    free(ci);
}

/* Every extractor rejects a dangling user or form the same way (it used to hang or fail). */
static void test_dangling_references_are_rejects_in_every_extractor(void **state)
{
    (void)state;
    static const char *const procs[] = {"naive", "naive-joined", "chunked", "copy"};
    for (size_t p = 0; p < 4; p++) {
        char *ci = fresh_app("cap_dangling", false);
        exec_on("cap_dangling",
                "ALTER TABLE app.submissions DROP CONSTRAINT submissions_user_id_fkey, "
                "DROP CONSTRAINT submissions_form_id_fkey; "
                "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                "'00000000-0000-4000-8000-00000000000a', responses, now() FROM app.submissions "
                "ORDER BY id LIMIT 1; "
                "INSERT INTO app.submissions SELECT gen_random_uuid(), "
                "'00000000-0000-4000-8000-00000000000b', user_id, responses, now() FROM "
                "app.submissions ORDER BY id LIMIT 1");
        etl_run run;
        assert_int_equal(run_on(ci, NULL, procs[p], NULL, &run), 5);
        assert_int_equal((long)etl_test_json_number(run.out.data, "rejected"), 2);
        etl_run_release(&run);
        char *reasons = query_on("cap_dangling", "SELECT reason FROM dwh.etl_rejects ORDER BY 1");
        assert_string_equal(reasons, "unknown_form\nunknown_user\n");
        free(reasons);
        assert_fresh("cap_dangling", "cap_dangling", procs[p]);
        free(ci);
    }
}

/* A submission created "a year ago" whose transaction commits after a run. */
static void test_late_commit(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_late", false);
    etl_db *late = etl_test_connect(&server, "cap_late");
    free(etl_test_query_text(late, "BEGIN"));
    free(etl_test_query_text(late, "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                                   "user_id, responses, date_created - interval '1 year' FROM "
                                   "app.submissions ORDER BY id LIMIT 1"));
    free(etl_test_query_text(late, "UPDATE app.submissions SET responses = '{}' WHERE id = "
                                   "(SELECT id FROM app.submissions ORDER BY id DESC LIMIT 1)"));
    run_ok(ci, NULL, "copy");
    free(etl_test_query_text(late, "COMMIT"));
    etl_db_close(late);
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_late", "cap_late", "after a late commit");
    free(ci);
}

/* A cost that grows with the changes: an idle run reads nothing of the table. */
static void test_idle_and_small_runs_read_only_the_changes(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_cost", false);
    /* init analyzed the queue it filled: the first run's claims read it by seq, not sorted whole.
     */
    char *analyzed = query_on(
        "cap_cost", "SELECT reltuples > 0 FROM pg_class WHERE oid = 'etl.queue'::regclass");
    assert_string_equal(analyzed, "t\n");
    free(analyzed);
    /*
     * A first run in many batches reaches the growing warehouse by key only.
     * (It once deleted each batch's old events by scanning them all.)
     */
    exec_on("cap_cost", "SELECT pg_stat_reset()");
    assert_int_equal(run_on(ci, NULL, "copy", "20", NULL), 0);
    etl_test_sleep_ms(600); /* backends report their statistics when they exit */
    /* Its inserts show the statistics are in; its scans must be none. */
    char *scanned = query_on("cap_cost", "SELECT (SELECT n_tup_ins > 0 FROM pg_stat_user_tables "
                                         "WHERE relid = 'dwh.response_events'::regclass), "
                                         "(SELECT string_agg(relname || ' ' || seq_scan, ', ' "
                                         "ORDER BY relname) FROM pg_stat_user_tables WHERE "
                                         "schemaname = 'dwh' AND relname <> 'etl_runs' AND "
                                         "seq_scan > 0)");
    if (strcmp(scanned, "t|<null>\n") != 0)
        fail_msg("a first run scanned warehouse tables (statistics in|scans: %s)", scanned);
    free(scanned);
    exec_on("cap_cost", "SELECT pg_stat_reset()");
    etl_run run;
    assert_int_equal(run_on(ci, NULL, "chunked", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 0);
    etl_run_release(&run);
    etl_test_sleep_ms(600);
    /* The idle run read the queue (so the statistics are in) and nothing of the table. */
    char *idle = query_on("cap_cost", "SELECT (SELECT seq_scan + idx_scan > 0 FROM "
                                      "pg_stat_user_tables WHERE relid = 'etl.queue'::regclass), "
                                      "(SELECT seq_scan + idx_scan FROM pg_stat_user_tables WHERE "
                                      "relid = 'app.submissions'::regclass)");
    if (strcmp(idle, "t|0\n") != 0)
        fail_msg("an idle run read app.submissions (statistics in|reads: %s)", idle);
    free(idle);
    exec_on("cap_cost", "UPDATE app.submissions SET responses = '{}' WHERE id = (SELECT id FROM "
                        "app.submissions ORDER BY id LIMIT 1)");
    exec_on("cap_cost", "SELECT pg_stat_reset()"); /* only the runs' reads from here */
    assert_int_equal(run_on(ci, NULL, "chunked", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 1);
    assert_int_equal((long)etl_test_json_number(run.out.data, "backlog"), 1);
    etl_run_release(&run);
    etl_test_sleep_ms(600); /* backends report their statistics when they exit */
    /* The 1-edit run reached the table by key (so the statistics are in), never scanned it. */
    char *use = query_on("cap_cost", "SELECT seq_scan, idx_scan > 0 FROM pg_stat_user_tables "
                                     "WHERE relid = 'app.submissions'::regclass");
    if (strcmp(use, "0|t\n") != 0)
        fail_msg("a run with 1 change scanned app.submissions (seq scans|read by key: %s)", use);
    free(use);
    assert_fresh("cap_cost", "cap_cost", "one edit");
    free(ci);
}

/* ---- kill -9 while the application keeps writing ---------------------------- */

/*
 * The application: inserts, edits, deletes and renames, some in
 * transactions held open for a while, until SIGTERM.  Runs in a child.
 */
static void write_like_an_application(const char *dbname, unsigned seed)
{
    static const char *const ops[] = {
        "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, responses, "
        "date_created - random() * interval '300 days' FROM app.submissions "
        "ORDER BY random() LIMIT 2",
        "UPDATE app.submissions SET responses = (SELECT responses FROM app.submissions ORDER BY "
        "random() LIMIT 1) WHERE id = (SELECT id FROM app.submissions ORDER BY random() LIMIT 1)",
        "DELETE FROM app.submissions WHERE id = (SELECT id FROM app.submissions ORDER BY random() "
        "LIMIT 1)",
        "BEGIN; UPDATE app.submissions SET responses = '{\"notes\": \"long\"}' WHERE id = (SELECT "
        "id FROM app.submissions ORDER BY random() LIMIT 1); SELECT pg_sleep(0.3); COMMIT",
        "UPDATE app.users SET given_name = given_name || 'x' WHERE id = (SELECT id FROM app.users "
        "ORDER BY random() LIMIT 1)",
        "BEGIN; INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, user_id, "
        "responses, date_created - interval '2 years' FROM app.submissions ORDER BY random() "
        "LIMIT 1; SELECT pg_sleep(0.4); COMMIT",
    };
    etl_db *db = etl_test_connect(&server, dbname);
    for (unsigned i = seed;; i = i * 1103515245U + 12345U) {
        etl_error err;
        if (etl_db_exec(db, ops[(i >> 16) % 6], &err) != ETL_OK)
            etl_db_exec(db, "ROLLBACK", &err);
        etl_test_sleep_ms(15);
    }
}

static pid_t start_writer(const char *dbname, unsigned seed)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        write_like_an_application(dbname, seed);
        _exit(0);
    }
    return pid;
}

/*
 * Stop the application and wait until its server session is gone: a
 * statement string it sent just before (BEGIN ... COMMIT) still runs to the
 * end on the server, and may commit after the writer process is dead.
 */
static void stop_writer(pid_t pid, const char *dbname)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    etl_test_sessions_gone(&server, dbname);
}

/* Kill runs at 20 points while the application writes, then rerun: always a fresh run's result. */
static void kill_while_writing(bool separate_target)
{
    const int wanted = 20;
    const int most = 40;
    const char *wh = separate_target ? "cap_kill_wh" : "cap_kill";
    char *whci = etl_test_conninfo_for(&server, wh);
    int killed = 0;
    int partial = 0; /* kills after some batches were committed */
    int tries = 0;
    long long full = 0;
    for (; killed < wanted && tries < most; tries++) {
        recreate("cap_kill", "etl_tpl_medium");
        char *ci = etl_test_conninfo_for(&server, "cap_kill");
        if (separate_target)
            recreate(wh, NULL);
        init_or_fail(ci, separate_target ? whci : NULL, false);
        const char *args[] = {"--db", ci,
                              "-q",   "process",
                              "copy", "--batch-size",
                              "10",   separate_target ? "--target" : NULL,
                              whci,   NULL};
        pid_t writer = start_writer("cap_kill", (unsigned)tries + 1);
        if (tries == 0) {
            /* The first try is not killed: it times a run under the same load. */
            long long t0 = etl_test_now_ms();
            assert_int_equal(etl_test_wait(etl_test_spawn(args)), 0);
            full = etl_test_now_ms() - t0;
        } else {
            long delay = (long)(full * (5 + (tries * 37 % wanted) * 90 / (wanted - 1)) / 100);
            int pid = etl_test_spawn(args);
            etl_test_sleep_ms(delay);
            kill(pid, SIGKILL);
            int status = etl_test_wait(pid);
            long queued = count_on("cap_kill", "SELECT count(*) FROM etl.queue");
            long loaded = count_on(wh, "SELECT count(*) FROM dwh.etl_processed");
            int mid_run = status == 128 + SIGKILL && queued > 0;
            killed += mid_run;
            partial += mid_run && loaded > 0;
        }
        stop_writer(writer, "cap_kill");
        /* Rerun until the queue is empty (the writer's last changes included). */
        for (int again = 0; count_on("cap_kill", "SELECT count(*) FROM etl.queue") > 0; again++) {
            if (again == 3)
                fail_msg("the queue does not empty");
            etl_run rerun;
            int st = etl(&rerun, args);
            if (st != 0)
                fail_msg("rerun after a kill exited %d: %s", st, rerun.err.data);
            etl_run_release(&rerun);
        }
        char what[96];
        snprintf(what, sizeof(what), "kill try %d%s", tries, separate_target ? " (--target)" : "");
        assert_fresh("cap_kill", wh, what);
        free(ci);
    }
    printf("kill -9 while writing%s: run %lld ms under load; %d kills landed mid-run in %d "
           "tries, %d of them after some batches were committed; every rerun equal to a fresh "
           "run\n",
           separate_target ? " (--target)" : "", full, killed, tries - 1, partial);
    if (killed < wanted)
        fail_msg("only %d of %d tries killed a run before it finished", killed, tries);
    assert_true(partial >= wanted / 4);
    free(whci);
}

static void test_sigkill_while_the_application_writes(void **state)
{
    (void)state;
    kill_while_writing(false);
}

static void test_sigkill_while_the_application_writes_separate_target(void **state)
{
    (void)state;
    kill_while_writing(true);
}

/* Run etl with args in workers processes at once; all must succeed.  Submissions they read. */
static long run_workers(const char *const *args, int workers)
{
    char path[3][4096];
    int pids[3];
    for (int w = 0; w < workers; w++) {
        snprintf(path[w], sizeof(path[w]), "%s/cap_worker_%d.json", ETL_TEST_WORKDIR, w);
        fflush(NULL);
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            etl_run run;
            etl_test_run(&run, args);
            FILE *f = fopen(path[w], "w");
            if (f) {
                fprintf(f, "%d %s%s", run.status, run.out.data ? run.out.data : "",
                        run.err.data ? run.err.data : "");
                fclose(f);
            }
            _exit(0);
        }
    }
    long total = 0;
    for (int w = 0; w < workers; w++) {
        waitpid(pids[w], NULL, 0);
        char *out = etl_test_read(path[w]);
        if (strncmp(out, "0 ", 2) != 0)
            fail_msg("worker %d of %d: %s", w + 1, workers, out);
        total += (long)etl_test_json_number(out, "submissions");
        free(out);
    }
    return total;
}

/* Several workers on one queue: disjoint claims, one result. */
static void test_concurrent_workers(void **state)
{
    (void)state;
    for (int workers = 2; workers <= 3; workers++) {
        char *ci = fresh_app("cap_workers", false);
        const char *args[] = {"--db",         ci,   "-q",     "process", "chunked",
                              "--batch-size", "10", "--json", NULL};
        long total = run_workers(args, workers);
        /* Each queued submission was taken by exactly one worker. */
        assert_int_equal(total, 300);
        assert_int_equal(count_on("cap_workers", "SELECT count(*) FROM dwh.etl_runs WHERE "
                                                 "status = 'succeeded'"),
                         workers);
        assert_fresh("cap_workers", "cap_workers", "concurrent workers");
        /* Again with every submission queued three times, some edited meanwhile. */
        const char *all[] = {"--db", ci, "-q", "reprocess", "--all", NULL};
        assert_int_equal(etl(NULL, all), 0);
        exec_on("cap_workers", "UPDATE app.submissions SET responses = (responses::jsonb || "
                               "'{\"again\": 1}')::json WHERE id IN (SELECT id FROM "
                               "app.submissions ORDER BY id LIMIT 40)");
        assert_int_equal(etl(NULL, all), 0);
        assert_int_equal(count_on("cap_workers", "SELECT count(*) FROM etl.queue"), 640);
        /* Every submission read; rarely one by two workers (see docs/cron.md), never lost. */
        total = run_workers(args, workers);
        if (total < 300 || total > 340)
            fail_msg("%d workers read %ld submissions for 300 queued three times", workers, total);
        assert_int_equal(count_on("cap_workers", "SELECT count(*) FROM etl.queue"), 0);
        assert_fresh("cap_workers", "cap_workers", "concurrent workers, duplicated queue rows");
        free(ci);
    }
}

/*
 * The claim's connection dies mid-run (terminated, or idle too long in its
 * transaction): the run fails loudly, records so, and the next run redoes
 * the batch: still a fresh run's result.
 */
static void test_lost_claim_connection(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_claim", false);
    const char *args[] = {"--db", ci, "process", "naive", "--batch-size", "100", NULL};
    int pid = etl_test_spawn(args);
    long n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        etl_test_sleep_ms(10);
        n = count_on(NULL, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                           "datname = 'cap_claim' AND state = 'idle in transaction' AND query "
                           "LIKE '%FOR UPDATE SKIP LOCKED%' AND now() - state_change > "
                           "interval '30 ms'");
    }
    assert_int_equal(n, 1);
    assert_int_equal(etl_test_wait(pid), 1);
    char *st = query_on("cap_claim", "SELECT status, error LIKE '%queue rows could not be "
                                     "removed%' FROM dwh.etl_runs");
    assert_string_equal(st, "failed|t\n");
    free(st);
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_claim", "cap_claim", "after a lost claim");

    /* The target connection (the run's lock and its open batch) is cut: failed, and says so. */
    exec_on("cap_claim", "UPDATE app.submissions SET responses = (responses::jsonb || "
                         "'{\"cut\": 1}')::json");
    pid = etl_test_spawn(args);
    n = 0;
    for (int i = 0; i < 200 && n == 0; i++) {
        etl_test_sleep_ms(10);
        n = count_on(NULL, "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN "
                           "pg_database d ON d.oid = l.database WHERE d.datname = 'cap_claim' "
                           "AND l.locktype = 'advisory' AND l.classid = 7628141");
    }
    assert_int_equal(n, 1);
    /* A connection lost mid-run is a runtime failure (1); 4 is for a server never reached. */
    int cut = etl_test_wait(pid);
    if (cut != 1)
        fail_msg("a run whose target connection was cut exited %d, expected 1", cut);
    st = query_on("cap_claim", "SELECT status FROM dwh.etl_runs ORDER BY id DESC LIMIT 1");
    assert_string_equal(st, "failed\n");
    free(st);
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_claim", "cap_claim", "after a cut target connection");

    /*
     * A server that cuts sessions idle in a transaction for 100 ms: etl's
     * own sessions opt out (a claim is held for a whole batch), or no run
     * would ever finish.
     */
    exec_on(NULL, "ALTER DATABASE cap_claim SET idle_in_transaction_session_timeout = '100ms'");
    exec_on("cap_claim", "UPDATE app.submissions SET responses = (responses::jsonb || "
                         "'{\"idle\": 1}')::json");
    etl_run run;
    if (run_on(ci, NULL, "naive", "150", &run) != 0)
        fail_msg("a run under idle_in_transaction_session_timeout failed: %s", run.err.data);
    etl_run_release(&run);
    assert_fresh("cap_claim", "cap_claim", "under idle_in_transaction_session_timeout");
    /* Sessions idle outside a transaction (the claim connection not in use): the same. */
    exec_on(NULL, "ALTER DATABASE cap_claim RESET ALL");
    exec_on(NULL, "ALTER DATABASE cap_claim SET idle_session_timeout = '100ms'");
    exec_on("cap_claim", "UPDATE app.submissions SET responses = (responses::jsonb || "
                         "'{\"idle\": 2}')::json");
    if (run_on(ci, NULL, "naive", "150", &run) != 0)
        fail_msg("a run under idle_session_timeout failed: %s", run.err.data);
    etl_run_release(&run);
    exec_on(NULL, "ALTER DATABASE cap_claim RESET ALL");
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_claim", "cap_claim", "after idle timeouts");
    assert_int_equal(count_on("cap_claim", "SELECT count(*) FROM dwh.etl_runs WHERE status = "
                                           "'running'"),
                     0);
    free(ci);
}

/*
 * A claim's release is sent as two statements (`DELETE ...; COMMIT`) and
 * collected later: the seam hands over the first error, whichever
 * statement it was in, else the last statement's result.
 */
static void test_several_statements_sent_at_once(void **state)
{
    (void)state;
    etl_db *db = etl_test_connect(&server, NULL);
    etl_error err;
    etl_result *r = NULL;
    assert_int_equal(etl_db_send_query(db, "SELECT 1; SELECT 2, 'two'", &err), ETL_OK);
    assert_int_equal(etl_db_wait_query(db, &r, &err), ETL_OK);
    assert_int_equal(etl_result_rows(r), 1);
    assert_int_equal(etl_result_cols(r), 2);
    assert_string_equal(etl_result_get(r, 0, 1), "two");
    etl_result_free(r);
    /* A statement that returns no rows, last: a result of none. */
    assert_int_equal(etl_db_send_query(db, "BEGIN; SELECT 1; COMMIT", &err), ETL_OK);
    assert_int_equal(etl_db_wait_query(db, &r, &err), ETL_OK);
    assert_int_equal(etl_result_rows(r), 0);
    etl_result_free(r);
    /* The error, not the result of a statement before or after it. */
    assert_int_equal(etl_db_send_query(db, "SELECT 1; SELECT 1/0; SELECT 3", &err), ETL_OK);
    assert_int_equal(etl_db_wait_query(db, &r, &err), ETL_ERR_DB);
    assert_null(r);
    assert_non_null(strstr(err.msg, "division by zero"));
    assert_string_equal(err.sqlstate, "22012");
    etl_db_close(db);
}

/* verify finds each kind of hand-made difference; --repair and a run fix them. */
static void test_verify_and_repair(void **state)
{
    (void)state;
    for (int no_capture = 0; no_capture <= 1; no_capture++) {
        char *ci = fresh_app("cap_verify", no_capture);
        run_ok(ci, NULL, "copy");
        const char *verify[] = {"--db", ci, "verify", "--json", NULL};
        etl_run run;
        assert_int_equal(etl(&run, verify), 0);
        assert_int_equal((long)etl_test_json_number(run.out.data, "checked"), 300);
        etl_run_release(&run);
        exec_on("cap_verify",
                "DELETE FROM dwh.response_events WHERE submission_id = (SELECT min(submission_id"
                "::text)::uuid FROM dwh.response_events); "
                "UPDATE dwh.response_events SET value = 'tampered' WHERE id = (SELECT max(id) "
                "FROM dwh.response_events); "
                "INSERT INTO dwh.response_events (form_id, form_name, user_id, user_full_name, "
                "submission_id, submission_created, processed_on, schema_path, value, "
                "answer_type) SELECT form_id, form_name, user_id, user_full_name, "
                "'00000000-0000-4000-8000-0000000000ee', submission_created, processed_on, "
                "schema_path, value, answer_type FROM dwh.response_events LIMIT 1");
        assert_int_equal(etl(&run, verify), 10);
        assert_int_equal((long)etl_test_json_number(run.out.data, "missing"), 1);
        assert_int_equal((long)etl_test_json_number(run.out.data, "stale"), 1);
        assert_int_equal((long)etl_test_json_number(run.out.data, "extra"), 1);
        assert_non_null(strstr(run.out.data, "00000000-0000-4000-8000-0000000000ee"));
        etl_run_release(&run);
        const char *text[] = {"--db", ci, "verify", NULL};
        assert_int_equal(etl(&run, text), 10);
        assert_non_null(strstr(run.out.data, "1 missing, 1 stale, 1 extra"));
        etl_run_release(&run);
        const char *repair[] = {"--db", ci, "verify", "--repair", NULL};
        assert_int_equal(etl(&run, repair), 10);
        assert_non_null(strstr(run.out.data, "repair: 3 submissions"));
        etl_run_release(&run);
        run_ok(ci, NULL, "copy");
        assert_int_equal(etl(&run, verify), 0);
        etl_run_release(&run);
        assert_fresh("cap_verify", "cap_verify", no_capture ? "repaired (no capture)" : "repaired");
        free(ci);
    }
}

static void test_reprocess(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_reprocess", false);
    exec_on("cap_reprocess", "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                             "user_id, '[1]', now() FROM app.submissions LIMIT 2");
    run_ok(ci, NULL, "copy");
    etl_run run;
    const char *form[] = {"--db", ci, "reprocess", "--form", "Daily check-in", NULL};
    assert_int_equal(etl(&run, form), 0);
    assert_non_null(strstr(run.err.data, "will be derived again"));
    etl_run_release(&run);
    long daily = count_on("cap_reprocess", "SELECT count(*) FROM app.submissions s JOIN app.forms "
                                           "f ON f.id = s.form_id WHERE f.name = 'Daily check-in'");
    assert_int_equal(count_on("cap_reprocess", "SELECT count(*) FROM etl.queue"), daily);
    const char *rejected[] = {"--db", ci, "reprocess", "--rejected", "not_object", NULL};
    assert_int_equal(etl(NULL, rejected), 0);
    const char *all[] = {"--db", ci, "reprocess", "--all", NULL};
    assert_int_equal(etl(NULL, all), 0);
    assert_int_equal(count_on("cap_reprocess", "SELECT count(DISTINCT id) FROM etl.queue"), 302);
    /* A processed_on of its own shows every submission was really derived again. */
    assert_int_equal(run_on(ci, NULL, "copy", NULL, &run), 5);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 302);
    etl_run_release(&run);
    assert_int_equal(count_on("cap_reprocess", "SELECT count(DISTINCT processed_on) FROM "
                                               "dwh.response_events"),
                     1);
    assert_fresh("cap_reprocess", "cap_reprocess", "reprocess");
    /* Mistakes name what is wrong. */
    const char *bad_form[] = {"--db", ci, "reprocess", "--form", "No such form", NULL};
    assert_int_equal(etl(&run, bad_form), 2);
    assert_non_null(strstr(run.err.data, "no form is named 'No such form'"));
    etl_run_release(&run);
    const char *bad_id[] = {"--db", ci, "reprocess", "--submission", "42", NULL};
    assert_int_equal(etl(&run, bad_id), 2);
    assert_non_null(strstr(run.err.data, "--submission: '42' is not a submission id"));
    etl_run_release(&run);
    const char *two[] = {"--db", ci, "reprocess", "--all", "--form", "x", NULL};
    assert_int_equal(etl(&run, two), 2);
    assert_non_null(strstr(run.err.data, "exactly one of"));
    etl_run_release(&run);
    free(ci);
}

/*
 * An installation made without capture (the ledger only), with runs and
 * rejects: `etl init` adds capture, queues just the submissions the ledger
 * lacks, keeps the rest.
 */
static void test_upgrade_keeps_the_ledger(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_upgrade", true);
    exec_on("cap_upgrade", "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                           "user_id, '[1]', now() FROM app.submissions LIMIT 1");
    run_ok(ci, NULL, "copy");
    exec_on("cap_upgrade", "INSERT INTO app.submissions SELECT gen_random_uuid(), form_id, "
                           "user_id, responses, now() FROM app.submissions LIMIT 4");
    char *before = query_on("cap_upgrade", "SELECT (SELECT count(*) FROM dwh.etl_processed), "
                                           "(SELECT count(*) FROM dwh.etl_runs), (SELECT "
                                           "count(*) FROM dwh.etl_rejects)");
    assert_string_equal(before, "301|1|1\n");
    free(before);
    const char *init[] = {"--db", ci, "init", NULL};
    etl_run run;
    assert_int_equal(etl(&run, init), 0);
    assert_non_null(strstr(run.err.data, "4 submissions queued"));
    etl_run_release(&run);
    assert_int_equal(count_on("cap_upgrade", "SELECT count(*) FROM etl.queue"), 4);
    assert_int_equal(count_on("cap_upgrade", "SELECT count(*) FROM dwh.etl_runs"), 1);
    assert_int_equal(count_on("cap_upgrade", "SELECT count(*) FROM pg_indexes WHERE indexname "
                                             "LIKE 'etl_submissions_%_idx'"),
                     2);
    /* Again: nothing more is queued; --no-index adds no index (and removes none). */
    exec_on("cap_upgrade", "DROP INDEX app.etl_submissions_user_id_idx");
    const char *again[] = {"--db", ci, "init", "--no-index", NULL};
    assert_int_equal(etl(&run, again), 0);
    assert_non_null(strstr(run.err.data, "0 indexes created"));
    etl_run_release(&run);
    assert_int_equal(count_on("cap_upgrade", "SELECT count(*) FROM pg_indexes WHERE indexname "
                                             "LIKE 'etl_submissions_%_idx'"),
                     1);
    assert_int_equal(etl(NULL, init), 0);
    assert_int_equal(count_on("cap_upgrade", "SELECT count(*) FROM etl.queue"), 4);
    assert_int_equal(run_on(ci, NULL, "copy", NULL, &run), 0);
    assert_int_equal((long)etl_test_json_number(run.out.data, "submissions"), 4);
    etl_run_release(&run);
    assert_fresh("cap_upgrade", "cap_upgrade", "after the upgrade");
    /* --no-capture does not silently drop what runs rely on. */
    const char *down[] = {"--db", ci, "init", "--no-capture", NULL};
    assert_int_equal(etl(&run, down), 2);
    assert_non_null(strstr(run.err.data, "already has change capture"));
    etl_run_release(&run);
    free(ci);
}

/* A disabled trigger is a loud error, never a silent gap; init puts it back. */
static void test_incomplete_capture_is_an_error(void **state)
{
    (void)state;
    char *ci = fresh_app("cap_broken", false);
    exec_on("cap_broken", "ALTER TABLE app.users DISABLE TRIGGER etl_capture_update");
    etl_run run;
    assert_int_equal(run_on(ci, NULL, "copy", NULL, &run), 2);
    assert_non_null(strstr(run.err.data, "change capture on the source is incomplete"));
    etl_run_release(&run);
    const char *init[] = {"--db", ci, "init", NULL};
    assert_int_equal(etl(&run, init), 0);
    assert_non_null(strstr(run.err.data, "run `etl verify --repair`"));
    etl_run_release(&run);
    run_ok(ci, NULL, "copy");
    assert_fresh("cap_broken", "cap_broken", "after init repaired the capture");
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_of_change_matches_a_fresh_run),
        cmocka_unit_test(test_dangling_references_are_rejects_in_every_extractor),
        cmocka_unit_test(test_late_commit),
        cmocka_unit_test(test_idle_and_small_runs_read_only_the_changes),
        cmocka_unit_test(test_concurrent_workers),
        cmocka_unit_test(test_lost_claim_connection),
        cmocka_unit_test(test_several_statements_sent_at_once),
        cmocka_unit_test(test_verify_and_repair),
        cmocka_unit_test(test_reprocess),
        cmocka_unit_test(test_upgrade_keeps_the_ledger),
        cmocka_unit_test(test_incomplete_capture_is_an_error),
        cmocka_unit_test(test_sigkill_while_the_application_writes),
        cmocka_unit_test(test_sigkill_while_the_application_writes_separate_target),
    };
    /* ETL_TEST_FILTER=test_late* runs only the matching tests (while working on one). */
    if (getenv("ETL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("ETL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
