/* SPDX-License-Identifier: BSD-3-Clause
 * Cache-line-blocked Bloom filter: sizing, adding, bulk lookup.
 */
#include "alt_bloom.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define LN2 0.69314718055994530942

/* ln(Poisson(j; lambda)) without overflow. */
static double
ln_poisson(uint64_t j, double lambda)
{
	return (double)j * log(lambda) - lambda - lgamma((double)j + 1.0);
}

double
alt_bloom_fpr_estimate(uint32_t blocks, uint32_t k, uint64_t n)
{
	double lambda, sum = 0, mass = 0, q;
	uint64_t lo, hi;

	if (blocks == 0 || k == 0)
		return 1.0;
	if (n == 0)
		return 0.0;
	lambda = (double)n / (double)blocks;
	q = log1p(-1.0 / ALT_BLOOM_BLOCK_BITS);
	/* the Poisson mass lies within lambda +- 12 sigma (and a margin) */
	lo = lambda > 12 * sqrt(lambda) + 16 ? (uint64_t)(lambda - 12 * sqrt(lambda) - 16) : 0;
	hi = (uint64_t)(lambda + 12 * sqrt(lambda) + 32);
	for (uint64_t j = lo; j <= hi; j++) {
		double pj = exp(ln_poisson(j, lambda));
		double set = -expm1((double)k * (double)j * q);      /* 1 - (1 - 1/512)^(kj) */

		sum += pj * pow(set, (double)k);
		mass += pj;
	}
	/* count the tails left out as rate 1: an upper bound */
	if (mass < 1.0)
		sum += 1.0 - mass;
	return sum > 1.0 ? 1.0 : sum;
}

/* The best k for `blocks` and n, and its rate. */
static uint32_t
best_k(uint32_t blocks, uint64_t n, double *fpr)
{
	uint32_t best = 1;
	double bf = 2.0;

	for (uint32_t k = 1; k <= ALT_BLOOM_MAX_K; k++) {
		double f = alt_bloom_fpr_estimate(blocks, k, n);

		if (f < bf) {
			bf = f;
			best = k;
		}
	}
	*fpr = bf;
	return best;
}

int
alt_bloom_geometry(const struct alt_bloom_params *p, struct alt_bloom_geometry *g)
{
	uint64_t n = p->keys ? p->keys : 1;
	double m, f;
	uint64_t blocks;
	uint32_t k;

	if (!(p->fpr > 0.0 && p->fpr <= 0.5) || n > (1ULL << 34))
		return -EINVAL;
	m = -(double)n * log(p->fpr) / (LN2 * LN2);
	blocks = (uint64_t)ceil(m / ALT_BLOOM_BLOCK_BITS);
	if (blocks == 0)
		blocks = 1;
	for (;;) {
		if (blocks > ALT_BLOOM_MAX_BLOCKS)
			return -EINVAL;
		k = best_k((uint32_t)blocks, n, &f);
		if (f <= p->fpr)
			break;
		blocks += blocks / 16 + 1;
	}
	g->blocks = (uint32_t)blocks;
	g->k = k;
	g->fpr = f;
	return 0;
}

size_t
alt_bloom_memsize(const struct alt_bloom_params *p)
{
	struct alt_bloom_geometry g;

	if (alt_bloom_geometry(p, &g) != 0)
		return 0;
	return sizeof(struct alt_bloom) + (size_t)g.blocks * 64;
}

struct alt_bloom *
alt_bloom_init(void *mem, const struct alt_bloom_params *p)
{
	struct alt_bloom_geometry g;
	struct alt_bloom *b = mem;

	if (mem == NULL || ((uintptr_t)mem & 63) != 0 || alt_bloom_geometry(p, &g) != 0)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->blocks = g.blocks;
	b->k = g.k;
	b->seed = p->seed;
	b->keys_expected = p->keys ? p->keys : 1;
	b->fpr_target = p->fpr;
	alt_bloom_clear(b);
	return b;
}

void
alt_bloom_clear(struct alt_bloom *b)
{
	memset(b->bits, 0, (size_t)b->blocks * 64);
	b->keys_added = 0;
}

void
alt_bloom_add(struct alt_bloom *b, uint64_t key)
{
	uint64_t h = alt_bloom_hash(b, key);
	uint64_t *w = (uint64_t *)(uintptr_t)alt_bloom_block(b, h);
	uint32_t lo = (uint32_t)h, w0 = (uint32_t)(h >> 29) & 7;

	for (uint32_t i = 0; i < b->k; i++)
		w[(w0 + i) & 7] |= 1ULL << ((lo * alt_bloom_salt[i]) >> 26);
	b->keys_added++;
}

#define BULK_AHEAD 8

unsigned
alt_bloom_lookup_bulk(const struct alt_bloom *b, const uint64_t *keys, unsigned n, uint64_t *miss)
{
	uint64_t h[64];
	unsigned misses = 0;

	memset(miss, 0, sizeof(uint64_t) * ((n + 63) / 64));
	for (unsigned base = 0; base < n; base += 64) {
		unsigned m = n - base < 64 ? n - base : 64;
		uint64_t bits = 0;

		for (unsigned i = 0; i < m; i++) {
			h[i] = alt_bloom_hash(b, keys[base + i]);
			if (i < BULK_AHEAD)
				alt_bloom_prefetch(b, h[i]);
		}
		for (unsigned i = 0; i < m; i++) {
			if (i + BULK_AHEAD < m)
				alt_bloom_prefetch(b, h[i + BULK_AHEAD]);
			bits |= (uint64_t)!alt_bloom_test_hash(b, h[i]) << i;
		}
		miss[base / 64] = bits;
		misses += (unsigned)__builtin_popcountll(bits);
	}
	return misses;
}

double
alt_bloom_fpr_now(const struct alt_bloom *b)
{
	return alt_bloom_fpr_estimate(b->blocks, b->k, b->keys_added);
}
