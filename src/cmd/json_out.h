/* JSON output of the commands (--json): the one string writer. */
#ifndef ETL_CMD_JSON_OUT_H
#define ETL_CMD_JSON_OUT_H

#include <stdio.h>

/* Write s as a JSON string literal (quotes, escapes) to out. */
void etl_json_fput(FILE *out, const char *s);

#endif
