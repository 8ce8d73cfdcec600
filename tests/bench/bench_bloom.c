/* SPDX-License-Identifier: BSD-3-Clause
 * Bloom filter micro-benchmark: lib/bloom's cache-line-blocked filter
 * against DPDK's rte_member vBF (one set) on the same keys, in the same
 * run, on one core. Both are sized from the same expected number of keys
 * and target false-positive rate; the probes are half inserted keys, half
 * random ones. Each figure is the median of --reps timed passes over the
 * probes; one JSON line per (filter, mode, size) with lookups per second
 * and the observed false-positive rate.
 *
 * Usage: bench_bloom [--keys N[,N...]] [--fpr P] [--probes N] [--reps N]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_member.h>

#include "alt_bloom.h"

#define MAX_REPS 50
#define BULK 32         /* rte_member bulk lookups take at most 64 keys */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

enum mode { SINGLE, BULKED };

static double
run_alt(const struct alt_bloom *b, const uint64_t *probes, uint64_t n, enum mode m, uint64_t *hits)
{
	uint64_t t0 = now_ns(), h = 0;

	if (m == SINGLE) {
		for (uint64_t i = 0; i < n; i++)
			h += alt_bloom_contains(b, probes[i]);
	} else {
		uint64_t miss[1];

		for (uint64_t i = 0; i + BULK <= n; i += BULK)
			h += BULK - alt_bloom_lookup_bulk(b, probes + i, BULK, miss);
	}
	sink += h;
	*hits = h;
	return (double)(now_ns() - t0) / 1e9;
}

static double
run_member(const struct rte_member_setsum *ss, const uint64_t *probes, uint64_t n, enum mode m,
	   uint64_t *hits)
{
	uint64_t t0 = now_ns(), h = 0;

	if (m == SINGLE) {
		for (uint64_t i = 0; i < n; i++) {
			member_set_t set = 0;

			h += rte_member_lookup(ss, &probes[i], &set) > 0;
		}
	} else {
		const void *kp[BULK];
		member_set_t sets[BULK];

		for (uint64_t i = 0; i + BULK <= n; i += BULK) {
			for (unsigned j = 0; j < BULK; j++)
				kp[j] = &probes[i + j];
			h += (uint64_t)rte_member_lookup_bulk(ss, kp, BULK, sets);
		}
	}
	sink += h;
	*hits = h;
	return (double)(now_ns() - t0) / 1e9;
}

static void
report(const char *filter, enum mode m, uint64_t keys, double fpr_target, double est, uint64_t bytes,
       unsigned k, double *secs, unsigned reps, uint64_t probes, uint64_t hits)
{
	double med;

	qsort(secs, reps, sizeof(double), cmp_double);
	med = secs[reps / 2];
	/* half the probes are inserted keys: the other half's hits are false positives */
	printf("{\"filter\":\"%s\",\"mode\":\"%s\",\"keys\":%" PRIu64 ",\"fpr_target\":%g,\"fpr_estimate\":%.6f,"
	       "\"fpr_observed\":%.6f,\"bytes\":%" PRIu64 ",\"k\":%u,\"lookups_per_s\":%.0f,\"ns_per_lookup\":%.2f}\n",
	       filter, m == SINGLE ? "single" : "bulk", keys, fpr_target, est,
	       (double)(hits - probes / 2) / (double)(probes / 2), bytes, k, (double)probes / med,
	       med * 1e9 / (double)probes);
}

static int
bench_size(uint64_t nkeys, double fpr, uint64_t nprobes, unsigned reps)
{
	struct alt_bloom_params bp = { nkeys, fpr, 0x5eed };
	size_t bsz = alt_bloom_memsize(&bp);
	void *bm = NULL;
	struct alt_bloom *b;
	uint64_t *keys = malloc(nkeys * sizeof(*keys));
	uint64_t *probes = malloc(nprobes * sizeof(*probes));
	double secs[MAX_REPS];
	char name[64];
	uint64_t hits = 0;

	if (keys == NULL || probes == NULL || bsz == 0 || posix_memalign(&bm, 64, bsz) != 0)
		return -1;
	b = alt_bloom_init(bm, &bp);
	snprintf(name, sizeof(name), "bench_vbf_%" PRIu64, nkeys);
	struct rte_member_parameters mp = {
		.name = name,
		.type = RTE_MEMBER_TYPE_VBF,
		.num_keys = (uint32_t)nkeys,
		.key_len = sizeof(uint64_t),
		.num_set = 1,
		.false_positive_rate = (float)fpr,
		.prim_hash_seed = 1,
		.sec_hash_seed = 11,
		.socket_id = 0,
	};
	struct rte_member_setsum *ss = rte_member_create(&mp);

	if (b == NULL || ss == NULL) {
		fprintf(stderr, "bench_bloom: cannot create filters for %" PRIu64 " keys: %s\n", nkeys,
			ss == NULL ? rte_strerror(rte_errno) : "alt_bloom_init");
		return -1;
	}
	for (uint64_t i = 0; i < nkeys; i++) {
		keys[i] = rnd();
		alt_bloom_add(b, keys[i]);
		if (rte_member_add(ss, &keys[i], 1) < 0) {
			fprintf(stderr, "bench_bloom: rte_member_add failed\n");
			return -1;
		}
	}
	for (uint64_t i = 0; i < nprobes; i++)
		probes[i] = (i & 1) ? rnd() : keys[rnd() % nkeys];
	/* rte_member sizes its bit arrays internally: report the memory the
	 * textbook formula gives it (it does not expose its own) */
	/* alternate the two filters rep by rep: a neighbour's load on a
	 * shared core then hits both alike */
	for (enum mode m = SINGLE; m <= BULKED; m++) {
		double msecs[MAX_REPS];
		uint64_t mhits = 0;

		for (unsigned r = 0; r < reps; r++) {
			secs[r] = run_alt(b, probes, nprobes, m, &hits);
			msecs[r] = run_member(ss, probes, nprobes, m, &mhits);
		}
		report("alt_bloom", m, nkeys, fpr, alt_bloom_fpr_now(b), bsz, b->k, secs, reps, nprobes, hits);
		report("rte_member_vbf", m, nkeys, fpr, -1, 0, 0, msecs, reps, nprobes, mhits);
	}
	rte_member_free(ss);
	free(bm);
	free(keys);
	free(probes);
	return 0;
}

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "512", "--no-pci", "--no-telemetry", "--log-level", "lib.eal:error",
			"--file-prefix", "bench_bloom", NULL };
	uint64_t sizes[8] = { 1000, 1000000 };
	unsigned nsizes = 2, reps = 5;
	uint64_t nprobes = 4000000;
	double fpr = 0.001;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
			char *s = argv[++i], *end;
			nsizes = 0;
			while (*s && nsizes < 8) {
				sizes[nsizes++] = strtoull(s, &end, 10);
				s = *end == ',' ? end + 1 : end;
				if (end == s && *s)
					break;
			}
		} else if (strcmp(argv[i], "--fpr") == 0 && i + 1 < argc) {
			fpr = strtod(argv[++i], NULL);
		} else if (strcmp(argv[i], "--probes") == 0 && i + 1 < argc) {
			nprobes = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = (unsigned)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--keys N[,N...]] [--fpr P] [--probes N] [--reps N]\n", argv[0]);
			return 2;
		}
	}
	if (reps == 0 || reps > MAX_REPS || nprobes < BULK * 2 || !(fpr > 0 && fpr <= 0.5)) {
		fprintf(stderr, "bench_bloom: bad --reps, --probes or --fpr\n");
		return 2;
	}
	nprobes -= nprobes % BULK;
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "bench_bloom: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	for (unsigned i = 0; i < nsizes; i++)
		if (sizes[i] == 0 || bench_size(sizes[i], fpr, nprobes, reps) != 0)
			return 1;
	rte_eal_cleanup();
	return 0;
}
