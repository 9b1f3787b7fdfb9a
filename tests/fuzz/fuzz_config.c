/*
 * Fuzz target: the YAML scenario and processor parsers.  Invariants: a
 * document is accepted or refused with "file:line:col:" style messages
 * (or a file-level one), never a crash, a hang or an alias expansion.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etl/config.h"
#include "etl/runner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int which = 0; which < 2; which++) {
        etl_config *c = calloc(1, sizeof(*c));
        if (!c)
            return 0;
        etl_error err;
        etl_error_clear(&err);
        int rc = which ? etl_config_parse_processors(c, "f.yaml", (const char *)data, size, &err)
                       : etl_config_parse_scenarios(c, "f.yaml", (const char *)data, size, &err);
        if (rc == ETL_OK)
            rc = etl_runner_check_config(c, &err);
        if (rc != ETL_OK)
            assert(strncmp(err.msg, "f.yaml", 6) == 0 || rc == ETL_ERR_NOMEM);
        for (size_t i = 0; rc == ETL_OK && i < c->nprocessors; i++)
            assert(c->processors[i].extract_batch >= 1 && c->processors[i].load_batch <= 5957);
        etl_config_free(c);
    }
    return 0;
}
