/*
 * The embedded PostgreSQL server: a private cluster in a data directory,
 * created on first use, started on a Unix socket inside it (no TCP), and
 * stopped when the command ends.  When etl runs as root the server runs as
 * an unprivileged account, because PostgreSQL refuses to run as root.  One
 * etl command at a time per data directory: others wait on a lock.
 */
#ifndef ETL_SERVER_H
#define ETL_SERVER_H

#include <stddef.h>

#include "etl/error.h"
#include "etl/log.h"

typedef struct etl_server etl_server;

/*
 * Take the data directory's lock (waiting for another etl command if need
 * be), initdb if there is no cluster yet, start the server and wait until it
 * accepts connections.  ETL_ERR_CONNECT with what to do when the server
 * binaries are missing or the server does not start.
 */
int etl_server_start(etl_server **out, const char *data_dir, const etl_log *log, etl_error *err);

/* libpq conninfo reaching the server's maintenance database; borrowed. */
const char *etl_server_conninfo(const etl_server *s);

/* Stop the server (fast shutdown), release the lock and free s; NULL is a no-op. */
void etl_server_stop(etl_server *s);

/*
 * The data directory to use when the user named none: ./.etl-data, unless
 * etl runs as root and the server's account cannot reach the current
 * directory (say, under a 0700 /root), then /var/tmp/etl-<hash of the
 * current directory>, with a notice.  Writes into out (cap bytes).
 */
void etl_server_default_dir(char *out, size_t cap, const etl_log *log);

/* Remove the data directory and everything in it (the server must be stopped). */
int etl_server_remove(const char *data_dir, const etl_log *log, etl_error *err);

#endif
