/*
 * etl_error: the record of why something failed, filled in where it failed
 * and wrapped with context on the way up.  Never prints: only main.c and the
 * commands decide what reaches the user.
 */
#include "etl/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

void etl_error_clear(etl_error *err)
{
    if (!err)
        return;
    err->code = ETL_OK;
    err->reason = NULL;
    err->sqlstate[0] = '\0';
    err->msg[0] = '\0';
}

int etl_error_set(etl_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    err->reason = NULL;
    err->sqlstate[0] = '\0';
    return code;
}

int etl_error_wrap(etl_error *err, const char *fmt, ...)
{
    if (!err)
        return ETL_ERR_INTERNAL;
    char prefix[ETL_ERROR_MSG_MAX];
    char old[ETL_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Assemble by hand: prefix, ": ", old message, truncated to fit. */
    size_t cap = sizeof(err->msg) - 1;
    size_t n = 0;
    for (const char *parts[3] = {prefix, ": ", old}, **p = parts; p < parts + 3; p++) {
        size_t len = strlen(*p);
        if (len > cap - n)
            len = cap - n;
        memcpy(err->msg + n, *p, len);
        n += len;
    }
    err->msg[n] = '\0';
    return err->code;
}

const char *etl_error_name(int code)
{
    switch (code) {
    case ETL_OK:
        return "success";
    case ETL_DONE:
        return "done";
    case ETL_ERR_NOMEM:
        return "out of memory";
    case ETL_ERR_IO:
        return "I/O error";
    case ETL_ERR_DB:
        return "database error";
    case ETL_ERR_CONFIG:
        return "configuration error";
    case ETL_ERR_USAGE:
        return "usage error";
    case ETL_ERR_CONNECT:
        return "server unavailable";
    case ETL_ERR_INPUT:
        return "bad input";
    case ETL_ERR_LOCKED:
        return "another run is in progress";
    case ETL_ERR_INTERRUPTED:
        return "interrupted";
    case ETL_ERR_REJECTS:
        return "too many rejected submissions";
    default:
        return "internal error";
    }
}
