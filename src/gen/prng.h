/*
 * Private to src/gen/: a small seeded generator (xoshiro256**, seeded with
 * splitmix64).  Its sequence is fixed by its seed on every platform, which is
 * what makes `etl generate` reproducible; rand() promises no such thing.
 */
#ifndef ETL_PRNG_H
#define ETL_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct etl_prng {
    uint64_t s[4];
} etl_prng;

void etl_prng_seed(etl_prng *r, uint64_t seed);
uint64_t etl_prng_next(etl_prng *r);
/* Uniform in [0, n); n > 0. */
uint64_t etl_prng_below(etl_prng *r, uint64_t n);
/* Uniform in [0, 1). */
double etl_prng_unit(etl_prng *r);
/* A version-4 UUID in text form (36 characters and a NUL). */
void etl_prng_uuid(etl_prng *r, char out[37]);

#endif
