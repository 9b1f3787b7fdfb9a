/*
 * The DDL of both sides.  `app` mirrors the application's tables (created
 * only for scenarios: in production they belong to the application);
 * `dwh` is the warehouse etl fills, with its bookkeeping tables.
 */
#ifndef ETL_SCHEMA_H
#define ETL_SCHEMA_H

/* Each idempotent where PostgreSQL allows.  Constraints of app come after the bulk load. */
extern const char etl_schema_app_sql[];
extern const char etl_schema_app_constraints_sql[];
extern const char etl_schema_dwh_sql[];

#endif
