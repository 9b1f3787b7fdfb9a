/*
 * The DDL of both sides.  `app` mirrors the application's tables (created
 * only for scenarios: in production they belong to the application);
 * `dwh` is the warehouse table etl fills.  Constraints and indexes of `app`
 * are added after the bulk load (etl_schema_app_constraints_sql), which is
 * several times faster than checking them row by row during COPY.
 */
#include "etl/schema.h"

#include "banned.h"

const char etl_schema_app_sql[] = "CREATE SCHEMA app;\n"
                                  "CREATE TABLE app.forms (\n"
                                  "    id uuid NOT NULL,\n"
                                  "    name text NOT NULL,\n"
                                  "    description text NOT NULL,\n"
                                  "    schema jsonb NOT NULL);\n"
                                  "CREATE TABLE app.users (\n"
                                  "    id uuid NOT NULL,\n"
                                  "    given_name text NOT NULL,\n"
                                  "    family_name text NOT NULL);\n"
                                  "CREATE TABLE app.submissions (\n"
                                  "    id uuid NOT NULL,\n"
                                  "    form_id uuid NOT NULL,\n"
                                  "    user_id uuid NOT NULL,\n"
                                  "    responses json NOT NULL,\n"
                                  "    date_created timestamptz NOT NULL);\n";

const char etl_schema_app_constraints_sql[] =
    "ALTER TABLE app.forms ADD PRIMARY KEY (id), ADD UNIQUE (name);\n"
    "ALTER TABLE app.users ADD PRIMARY KEY (id);\n"
    "ALTER TABLE app.submissions ADD PRIMARY KEY (id),\n"
    "    ADD FOREIGN KEY (form_id) REFERENCES app.forms,\n"
    "    ADD FOREIGN KEY (user_id) REFERENCES app.users;\n"
    "CREATE INDEX submissions_created_idx ON app.submissions (date_created, id);\n";

const char etl_schema_dwh_sql[] =
    "CREATE SCHEMA IF NOT EXISTS dwh;\n"
    "DO $$ BEGIN\n"
    "    CREATE TYPE dwh.answer_type AS ENUM ('number', 'text', 'boolean', 'date');\n"
    "EXCEPTION WHEN duplicate_object THEN NULL;\n"
    "END $$;\n"
    "CREATE TABLE IF NOT EXISTS dwh.response_events (\n"
    "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "    form_id uuid NOT NULL,\n"
    "    form_name text NOT NULL,\n"
    "    user_id uuid NOT NULL,\n"
    "    user_full_name text NOT NULL,\n"
    "    submission_id uuid NOT NULL,\n"
    "    submission_created timestamptz NOT NULL,\n"
    "    processed_on timestamptz NOT NULL,\n"
    "    schema_path text NOT NULL,\n"
    "    value text NOT NULL,\n"
    "    answer_type dwh.answer_type NOT NULL,\n"
    "    tag text);\n"
    /* Production-mode bookkeeping (docs/cron.md): one row per run, one per
     * submission ever handled (loaded or rejected), one per rejected one. */
    "CREATE TABLE IF NOT EXISTS dwh.etl_runs (\n"
    "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "    processor text NOT NULL,\n"
    "    started timestamptz NOT NULL DEFAULT now(),\n"
    "    finished timestamptz,\n"
    "    status text NOT NULL,\n"
    "    submissions bigint NOT NULL DEFAULT 0,\n"
    "    events bigint NOT NULL DEFAULT 0,\n"
    "    rejects bigint NOT NULL DEFAULT 0,\n"
    "    error text);\n"
    /* Consecutive idle runs (nothing queued) share one row: how many it stands for (0 on
     * other rows), and when the latest of them finished.  ADD COLUMN IF NOT EXISTS is how
     * `etl init` upgrades an installation made before they existed. */
    "ALTER TABLE dwh.etl_runs ADD COLUMN IF NOT EXISTS idle_runs bigint NOT NULL DEFAULT 0,\n"
    "    ADD COLUMN IF NOT EXISTS last_idle timestamptz;\n"
    "CREATE TABLE IF NOT EXISTS dwh.etl_processed (\n"
    "    submission_id uuid PRIMARY KEY,\n"
    "    run_id bigint NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS dwh.etl_rejects (\n"
    "    submission_id uuid PRIMARY KEY,\n"
    "    run_id bigint NOT NULL,\n"
    "    rejected_on timestamptz NOT NULL DEFAULT now(),\n"
    "    reason text NOT NULL,\n"
    "    detail text NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS response_events_submission_idx\n"
    "    ON dwh.response_events (submission_id);\n"
    /* Every run looks for runs still marked running: few rows, in a table that only grows. */
    "CREATE INDEX IF NOT EXISTS etl_runs_running_idx ON dwh.etl_runs (id)\n"
    "    WHERE status = 'running';\n";
