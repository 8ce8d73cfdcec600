/* SPDX-License-Identifier: BSD-3-Clause
 * Cache-line-blocked Bloom filter of 64-bit keys.
 *
 * Every key lives in one 64-byte block (512 bits, eight 64-bit words), so a
 * lookup touches one cache line. One hash computation per key: the key is
 * mixed once (splitmix64 finaliser with the filter's seed) into h; the
 * block is the multiply-shift range reduction of h's high 32 bits, and the
 * k bit positions come from h's low 32 bits multiplied by k fixed odd
 * constants (the "split block" scheme of Impala and Parquet), position i in
 * word (w0 + i) mod 8 where w0 is three more bits of h. A key's bits are
 * therefore spread over k different words (k <= 8) or two per word
 * (k <= 16), and a lookup is k independent word tests with no branch.
 *
 * Sizing: from the expected number of keys n and a target false-positive
 * rate p, m and k start at the textbook optimum (m = -n ln p / ln^2 2,
 * k = m/n ln 2); blocking makes the per-block load uneven (Poisson), which
 * raises the rate, so blocks are added until the Poisson-weighted estimate
 * (alt_bloom_fpr_estimate) is at most p, with k re-chosen each time.
 *
 * Memory is the caller's: alt_bloom_memsize, then alt_bloom_init. Readers
 * never write: any number of lcores may look up concurrently once the
 * filter is built and published. Adding is single-writer, before
 * publication.
 */
#ifndef ALT_BLOOM_H
#define ALT_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALT_BLOOM_BLOCK_BITS 512u
#define ALT_BLOOM_MAX_K 16u
/* Blocks are counted in 32 bits and the filter stays below 2^40 bits. */
#define ALT_BLOOM_MAX_BLOCKS (1u << 31)

struct alt_bloom_params {
	uint64_t keys;          /* expected number of keys (0 is taken as 1) */
	double fpr;             /* target false-positive rate, (0, 0.5] */
	uint64_t seed;          /* mixes the keys; 0 is fine */
};

/* The geometry the parameters give. */
struct alt_bloom_geometry {
	uint32_t blocks;        /* 64-byte blocks; m = blocks * 512 bits */
	uint32_t k;             /* bits set and tested per key */
	double fpr;             /* estimated rate at the expected number of keys */
};

struct alt_bloom {
	uint32_t blocks;
	uint32_t k;
	uint64_t seed;
	uint64_t keys_expected;
	uint64_t keys_added;    /* adds, duplicates included */
	double fpr_target;
	uint64_t pad[3];
	uint64_t bits[];        /* blocks * 8 words, 64-byte aligned */
};

/* Geometry for p: 0, or -EINVAL (fpr outside (0, 0.5], or too many keys). */
int alt_bloom_geometry(const struct alt_bloom_params *p, struct alt_bloom_geometry *g);

/* Bytes the filter needs (header and bits); 0 for bad parameters. */
size_t alt_bloom_memsize(const struct alt_bloom_params *p);

/* An empty filter on mem (alt_bloom_memsize bytes, 64-byte aligned), or
 * NULL for bad parameters or misaligned memory. */
struct alt_bloom *alt_bloom_init(void *mem, const struct alt_bloom_params *p);

/* Empty the filter (keeps its geometry). */
void alt_bloom_clear(struct alt_bloom *b);

/* The false-positive rate of a blocked filter of `blocks` blocks and k bits
 * per key holding n keys: the per-block rate (1 - (1 - 1/512)^(k j))^k
 * weighted by the Poisson(n / blocks) probability that the block holds j. */
double alt_bloom_fpr_estimate(uint32_t blocks, uint32_t k, uint64_t n);

static const uint32_t alt_bloom_salt[ALT_BLOOM_MAX_K] = {
	0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
	0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u,
	0x9e3779b1u, 0x85ebca77u, 0xc2b2ae3du, 0x27d4eb2fu,
	0x165667b1u, 0xd3a2646bu, 0xfd7046c5u, 0xb55a4f09u,
};

/* The one hash computation per key. */
static inline uint64_t
alt_bloom_hash(const struct alt_bloom *b, uint64_t key)
{
	uint64_t x = key ^ b->seed;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline const uint64_t *
alt_bloom_block(const struct alt_bloom *b, uint64_t h)
{
	uint32_t blk = (uint32_t)(((h >> 32) * (uint64_t)b->blocks) >> 32);

	return b->bits + (size_t)blk * 8;
}

/* Start fetching the block of a key hashed with alt_bloom_hash. */
static inline void
alt_bloom_prefetch(const struct alt_bloom *b, uint64_t h)
{
	__builtin_prefetch(alt_bloom_block(b, h));
}

/* Test k bits of block w: a constant k unrolls to k independent word tests. */
static inline __attribute__((always_inline)) bool
alt_bloom_test_k(const uint64_t *w, uint64_t h, uint32_t k)
{
	uint32_t lo = (uint32_t)h, w0 = (uint32_t)(h >> 29) & 7;
	uint64_t ok = 1;

	for (uint32_t i = 0; i < k; i++)
		ok &= w[(w0 + i) & 7] >> ((lo * alt_bloom_salt[i]) >> 26);
	return (ok & 1) != 0;
}

/* Whether the key hashed to h may be in the filter (false: certainly not).
 * One switch on k (always the same branch for a filter) picks an unrolled
 * test, so the loads of consecutive lookups overlap. */
static inline bool
alt_bloom_test_hash(const struct alt_bloom *b, uint64_t h)
{
	const uint64_t *w = alt_bloom_block(b, h);

	switch (b->k) {
#define ALT_BLOOM_K_CASE(K) case K: return alt_bloom_test_k(w, h, K);
	ALT_BLOOM_K_CASE(1) ALT_BLOOM_K_CASE(2) ALT_BLOOM_K_CASE(3) ALT_BLOOM_K_CASE(4)
	ALT_BLOOM_K_CASE(5) ALT_BLOOM_K_CASE(6) ALT_BLOOM_K_CASE(7) ALT_BLOOM_K_CASE(8)
	ALT_BLOOM_K_CASE(9) ALT_BLOOM_K_CASE(10) ALT_BLOOM_K_CASE(11) ALT_BLOOM_K_CASE(12)
	ALT_BLOOM_K_CASE(13) ALT_BLOOM_K_CASE(14) ALT_BLOOM_K_CASE(15) ALT_BLOOM_K_CASE(16)
#undef ALT_BLOOM_K_CASE
	default:
		return alt_bloom_test_k(w, h, b->k);
	}
}

static inline bool
alt_bloom_contains(const struct alt_bloom *b, uint64_t key)
{
	return alt_bloom_test_hash(b, alt_bloom_hash(b, key));
}

/* Add a key. */
void alt_bloom_add(struct alt_bloom *b, uint64_t key);

/* Look up n keys: bit i of miss[i / 64] is set when keys[i] is certainly
 * not in the filter (miss has (n + 63) / 64 words). Hashes everything
 * first and prefetches each block a few keys ahead. Returns the misses. */
unsigned alt_bloom_lookup_bulk(const struct alt_bloom *b, const uint64_t *keys, unsigned n, uint64_t *miss);

/* Estimated false-positive rate at the keys added so far. */
double alt_bloom_fpr_now(const struct alt_bloom *b);

static inline uint64_t
alt_bloom_bits_total(const struct alt_bloom *b)
{
	return (uint64_t)b->blocks * ALT_BLOOM_BLOCK_BITS;
}

#ifdef __cplusplus
}
#endif

#endif /* ALT_BLOOM_H */
