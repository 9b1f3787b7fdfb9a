/*
 * xoshiro256** with splitmix64 seeding (public-domain algorithms by
 * Blackman and Vigna), re-implemented from their published definitions.
 */
#include "prng.h"

#include <stdio.h>

#include "banned.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void etl_prng_seed(etl_prng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t etl_prng_next(etl_prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t etl_prng_below(etl_prng *r, uint64_t n)
{
    /* Modulo bias is below 2^-40 for the n used here; not worth rejection sampling. */
    return etl_prng_next(r) % n;
}

double etl_prng_unit(etl_prng *r)
{
    return (double)(etl_prng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

void etl_prng_uuid(etl_prng *r, char out[37])
{
    uint64_t hi = etl_prng_next(r);
    uint64_t lo = etl_prng_next(r);
    hi = (hi & ~0xF000ULL) | 0x4000ULL;                        /* version 4 */
    lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL; /* RFC 4122 variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
             (unsigned)((hi >> 16) & 0xFFFF), (unsigned)(hi & 0xFFFF), (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xFFFFFFFFFFFFULL));
}
