/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/bloom: sizing meets the target rate, no false
 * negatives, the observed false-positive rate agrees with the estimate,
 * bulk lookups agree with single ones, every key touches one block.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "alt_bloom.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct alt_bloom *
bloom_new(uint64_t keys, double fpr, uint64_t seed)
{
	struct alt_bloom_params p = { keys, fpr, seed };
	size_t sz = alt_bloom_memsize(&p);
	void *m = NULL;

	if (sz == 0 || posix_memalign(&m, 64, sz) != 0)
		return NULL;
	return alt_bloom_init(m, &p);
}

static void
test_geometry(void)
{
	static const uint64_t keys[] = { 1, 10, 100, 1000, 100000, 1000000 };
	static const double fprs[] = { 0.5, 0.1, 0.01, 0.001, 1e-4, 1e-6 };
	struct alt_bloom_geometry g;

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		for (unsigned j = 0; j < sizeof(fprs) / sizeof(fprs[0]); j++) {
			struct alt_bloom_params p = { keys[i], fprs[j], 0 };
			double textbook = -(double)keys[i] * log(fprs[j]) / (log(2) * log(2));

			CU_ASSERT_FATAL(alt_bloom_geometry(&p, &g) == 0);
			CU_ASSERT(g.k >= 1 && g.k <= ALT_BLOOM_MAX_K);
			CU_ASSERT(g.fpr <= fprs[j]);
			/* blocking costs some bits, not many */
			CU_ASSERT((double)g.blocks * 512 >= textbook * 0.99);
			if (keys[i] >= 1000 && fprs[j] >= 1e-4)
				CU_ASSERT((double)g.blocks * 512 <= textbook * 1.6);
		}
	struct alt_bloom_params bad[] = { { 10, 0.0, 0 }, { 10, 0.6, 0 }, { 10, -1, 0 }, { 10, NAN, 0 } };
	for (unsigned i = 0; i < 4; i++) {
		CU_ASSERT(alt_bloom_geometry(&bad[i], &g) == -EINVAL);
		CU_ASSERT(alt_bloom_memsize(&bad[i]) == 0);
	}
}

static void
test_estimate_monotone(void)
{
	double prev = 0;

	CU_ASSERT(alt_bloom_fpr_estimate(100, 7, 0) == 0.0);
	CU_ASSERT(alt_bloom_fpr_estimate(0, 7, 10) == 1.0);
	for (uint64_t n = 100; n <= 100000; n *= 2) {
		double f = alt_bloom_fpr_estimate(100, 7, n);

		CU_ASSERT(f >= prev);
		CU_ASSERT(f <= 1.0);
		prev = f;
	}
}

static void
test_init_alignment(void)
{
	struct alt_bloom_params p = { 100, 0.01, 0 };
	size_t sz = alt_bloom_memsize(&p);
	uint8_t *m = NULL;

	CU_ASSERT_FATAL(sz > sizeof(struct alt_bloom));
	CU_ASSERT_FATAL(posix_memalign((void **)&m, 64, sz + 64) == 0);
	CU_ASSERT(alt_bloom_init(m + 8, &p) == NULL);
	CU_ASSERT(alt_bloom_init(NULL, &p) == NULL);
	CU_ASSERT(alt_bloom_init(m, &p) != NULL);
	free(m);
}

/* No false negatives; the observed rate near the estimate and under the
 * target (with sampling slack). */
static void
test_no_false_negatives_and_rate(void)
{
	static const double fprs[] = { 0.05, 0.01, 0.001 };

	for (unsigned f = 0; f < 3; f++) {
		const uint64_t n = 20000, probes = 2000000;
		struct alt_bloom *b = bloom_new(n, fprs[f], 0x1234 + f);
		uint64_t *keys = malloc(n * sizeof(*keys)), fp = 0;
		double obs, est;

		CU_ASSERT_FATAL(b != NULL && keys != NULL);
		for (uint64_t i = 0; i < n; i++) {
			keys[i] = rnd();
			alt_bloom_add(b, keys[i]);
		}
		CU_ASSERT(b->keys_added == n);
		for (uint64_t i = 0; i < n; i++)
			if (!alt_bloom_contains(b, keys[i])) {
				CU_FAIL("false negative");
				break;
			}
		for (uint64_t i = 0; i < probes; i++)
			fp += alt_bloom_contains(b, rnd());
		obs = (double)fp / (double)probes;
		est = alt_bloom_fpr_now(b);
		printf("\n  target %.4f estimate %.5f observed %.5f (k %u, %u blocks)", fprs[f], est, obs, b->k,
		       b->blocks);
		CU_ASSERT(est <= fprs[f]);
		CU_ASSERT(obs <= fprs[f] * 1.25 + 3.0 / (double)probes * 10);
		CU_ASSERT(obs >= est * 0.5);
		free(keys);
		free(b);
	}
}

/* Sequential (structured) keys behave like random ones: the key is mixed. */
static void
test_structured_keys(void)
{
	const uint64_t n = 10000, probes = 1000000;
	struct alt_bloom *b = bloom_new(n, 0.01, 7);
	uint64_t fp = 0;

	CU_ASSERT_FATAL(b != NULL);
	for (uint64_t i = 0; i < n; i++)
		alt_bloom_add(b, i);
	for (uint64_t i = 0; i < n; i++)
		CU_ASSERT_FATAL(alt_bloom_contains(b, i));
	for (uint64_t i = n; i < n + probes; i++)
		fp += alt_bloom_contains(b, i);
	CU_ASSERT((double)fp / (double)probes <= 0.0125);
	free(b);
}

/* Every key sets bits in its block only, k of them. */
static void
test_one_block_per_key(void)
{
	struct alt_bloom *b = bloom_new(1000, 0.01, 3);

	CU_ASSERT_FATAL(b != NULL);
	for (unsigned t = 0; t < 200; t++) {
		uint64_t key = rnd(), h = alt_bloom_hash(b, key);
		const uint64_t *blk = alt_bloom_block(b, h);
		unsigned set = 0;

		alt_bloom_clear(b);
		alt_bloom_add(b, key);
		for (uint32_t i = 0; i < b->blocks * 8; i++) {
			unsigned c = (unsigned)__builtin_popcountll(b->bits[i]);

			if (c != 0 && (b->bits + i < blk || b->bits + i >= blk + 8))
				CU_FAIL_FATAL("bit outside the key's block");
			set += c;
		}
		/* k <= 8: one bit in each of k words; more: two per word may collide */
		if (b->k <= 8) {
			CU_ASSERT(set == b->k);
		} else {
			CU_ASSERT(set >= 8 && set <= b->k);
		}
	}
	free(b);
}

static void
test_bulk_equals_single(void)
{
	struct alt_bloom *b = bloom_new(500, 0.05, 99);
	uint64_t keys[1000], miss[(1000 + 63) / 64];
	unsigned exp = 0, got;

	CU_ASSERT_FATAL(b != NULL);
	for (unsigned i = 0; i < 500; i++)
		alt_bloom_add(b, (uint64_t)i * 7919);
	for (unsigned n = 0; n <= 1000; n += 37) {
		exp = 0;
		for (unsigned i = 0; i < n; i++)
			keys[i] = (i & 1) ? rnd() : (uint64_t)(rnd() % 500) * 7919;
		got = alt_bloom_lookup_bulk(b, keys, n, miss);
		for (unsigned i = 0; i < n; i++) {
			bool m = !alt_bloom_contains(b, keys[i]);

			exp += m;
			CU_ASSERT(((miss[i / 64] >> (i % 64)) & 1) == m);
		}
		CU_ASSERT(got == exp);
	}
	free(b);
}

static void
test_clear(void)
{
	struct alt_bloom *b = bloom_new(100, 0.01, 0);

	CU_ASSERT_FATAL(b != NULL);
	for (unsigned i = 0; i < 100; i++)
		alt_bloom_add(b, i);
	alt_bloom_clear(b);
	CU_ASSERT(b->keys_added == 0);
	for (unsigned i = 0; i < 100; i++)
		CU_ASSERT(!alt_bloom_contains(b, i));
	free(b);
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("bloom", NULL, NULL);
	if (s == NULL) {
		CU_cleanup_registry();
		return CU_get_error();
	}
	CU_add_test(s, "geometry", test_geometry);
	CU_add_test(s, "estimate monotone", test_estimate_monotone);
	CU_add_test(s, "init alignment", test_init_alignment);
	CU_add_test(s, "no false negatives, rate", test_no_false_negatives_and_rate);
	CU_add_test(s, "structured keys", test_structured_keys);
	CU_add_test(s, "one block per key", test_one_block_per_key);
	CU_add_test(s, "bulk = single", test_bulk_equals_single);
	CU_add_test(s, "clear", test_clear);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned f = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)f;
}
