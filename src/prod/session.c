/*
 * What every production-mode file needs of a connection: opening one with
 * the run's timeouts, one-value queries, and the ledger copy that the
 * ledger scan and the capture's first fill both read.
 */
#include "etl/db.h"
#include "prod.h"

#include <stdio.h>

#include "banned.h"

int etl_prod_value(etl_db *db, const char *sql, int nparams, const char *const *params, char *out,
                   size_t cap, etl_error *err)
{
    etl_result *r = NULL;
    int rc = etl_db_query(db, sql, nparams, params, &r, err);
    if (rc != ETL_OK)
        return rc;
    snprintf(out, cap, "%s",
             etl_result_rows(r) > 0 && !etl_result_is_null(r, 0, 0) ? etl_result_get(r, 0, 0) : "");
    etl_result_free(r);
    return ETL_OK;
}

int etl_prod_open(etl_db **out, const char *conninfo, const etl_prod_cfg *cfg, etl_error *err)
{
    int rc = etl_db_open(out, conninfo, NULL, cfg->log, err);
    if (rc == ETL_OK)
        rc = etl_db_set_timeouts(*out, cfg->statement_timeout_ms, cfg->lock_timeout_ms, err);
    /*
     * A run keeps sessions waiting, in a transaction or not, while it works
     * elsewhere (a claim, the cursor; the claim connection not in use for a
     * whole batch).  A server-wide idle_in_transaction_session_timeout or
     * idle_session_timeout shorter than a batch would cut them every time,
     * and no run would ever finish: raise them to an hour for etl's
     * sessions, no further, so that a hung etl still lets go of its
     * snapshot and locks.  And a killed etl whose backend waits (on a lock,
     * in a long statement) would otherwise keep its run lock, and look alive
     * to `status`, until the wait ends: have the server look for the client
     * every 10 s.  (Each setting only where the server has it.)
     */
    if (rc == ETL_OK)
        rc =
            etl_db_exec(*out,
                        "SELECT set_config(name, CASE name WHEN 'client_connection_check_interval' "
                        "THEN '10000' ELSE '3600000' END, false) FROM pg_settings WHERE name = "
                        "'client_connection_check_interval' OR (name IN "
                        "('idle_in_transaction_session_timeout', 'idle_session_timeout') AND "
                        "setting::bigint BETWEEN 1 AND 3599999)",
                        err);
    return rc;
}

static int sink_to_source(void *ctx, const char *data, size_t len, etl_error *err)
{
    return etl_db_copy_put(ctx, data, len, err);
}

int etl_prod_copy_ledger(etl_db *src, etl_db *ledger, bool cross, etl_error *err)
{
    int rc = etl_db_exec(src,
                         "CREATE TEMP TABLE IF NOT EXISTS etl_done (id uuid PRIMARY KEY); "
                         "TRUNCATE etl_done",
                         err);
    if (rc == ETL_OK && !cross)
        rc = etl_db_exec(
            src, "INSERT INTO pg_temp.etl_done SELECT submission_id FROM dwh.etl_processed", err);
    if (rc == ETL_OK && cross) {
        rc = etl_db_copy_begin(src, "COPY pg_temp.etl_done FROM STDIN", err);
        if (rc == ETL_OK) {
            rc = etl_db_copy_out(ledger, "COPY dwh.etl_processed (submission_id) TO STDOUT",
                                 sink_to_source, src, err);
            etl_error ignored;
            int end = etl_db_copy_end(src, rc == ETL_OK ? NULL : "ledger copy failed",
                                      rc == ETL_OK ? err : &ignored);
            if (rc == ETL_OK)
                rc = end;
        }
    }
    if (rc == ETL_OK)
        rc = etl_db_exec(src, "ANALYZE pg_temp.etl_done", err);
    return rc == ETL_OK ? rc : etl_error_wrap(err, "cannot list the processed submissions");
}
