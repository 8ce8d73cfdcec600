/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/stats: histogram buckets and quantiles, merges,
 * Space-Saving top-k, op/shape/string tables, drops, readers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_stats.h"

/* ---- helpers ---- */

static uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return alt_mix64(*s);
}

static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct alt_hist *
hist_new(void)
{
	struct alt_hist *h = malloc(sizeof(*h));

	CU_ASSERT_FATAL(h != NULL);
	alt_hist_reset(h);
	return h;
}

static struct alt_stats *
stats_new(const struct alt_stats_params *p)
{
	size_t sz = alt_stats_memsize(p);
	void *mem;

	CU_ASSERT_FATAL(sz != 0);
	mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	CU_ASSERT_FATAL(mem != NULL);
	memset(mem, 0xa5, sz);          /* init must not rely on zeroed memory */
	struct alt_stats *st = alt_stats_init(mem, p);
	CU_ASSERT_FATAL(st != NULL);
	return st;
}

static void
span(struct alt_stats *st, const char *svc, const char *op, uint64_t d)
{
	uint32_t sl = (uint32_t)strlen(svc), ol = (uint32_t)strlen(op);

	alt_stats_add_span(st, svc, sl, alt_hash_bytes(svc, sl, 0), op, ol, alt_hash_bytes(op, ol, 0), d);
}

static void
pair(struct alt_stats *st, const char *a, const char *b)
{
	uint32_t al = (uint32_t)strlen(a), bl = (uint32_t)strlen(b);

	alt_stats_add_pair(st, a, al, alt_hash_bytes(a, al, 0), b, bl, alt_hash_bytes(b, bl, 0));
}

static const struct alt_stats_op *
find_op(const struct alt_stats *st, const char *svc, const char *op)
{
	const struct alt_stats_op *ops;
	unsigned n = alt_stats_ops(st, &ops), i;

	for (i = 0; i < n; i++)
		if (strcmp(alt_stats_str(st, ops[i].service), svc) == 0 &&
		    strcmp(alt_stats_str(st, ops[i].operation), op) == 0)
			return &ops[i];
	return NULL;
}

static const struct alt_stats_shape *
find_shape(const struct alt_stats *st, uint64_t shape)
{
	const struct alt_stats_shape *s;
	unsigned n = alt_stats_shapes(st, &s), i;

	for (i = 0; i < n; i++)
		if (s[i].shape == shape)
			return &s[i];
	return NULL;
}

static bool
hist_equal(const struct alt_hist *a, const struct alt_hist *b)
{
	if (a->count != b->count || a->sum != b->sum)
		return false;
	if (a->count == 0)
		return memcmp(a->b, b->b, sizeof(a->b)) == 0;
	return a->min == b->min && a->max == b->max && a->lo_bucket == b->lo_bucket &&
	       a->hi_bucket == b->hi_bucket && memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* Exact order statistic of rank ceil(q * n) (at least 1) of sorted v. */
static uint64_t
exact_rank(const uint64_t *sorted, size_t n, double q)
{
	double r = ceil(q * (double)n);
	size_t rank = r < 1.0 ? 1 : (r > (double)n ? n : (size_t)r);

	return sorted[rank - 1];
}

static const double qs[] = { 0.0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0 };

/* Worst relative error of the quantiles of v over qs. */
static double
check_quantiles(uint64_t *v, size_t n)
{
	struct alt_hist *h = hist_new();
	double worst = 0;
	size_t i;

	for (i = 0; i < n; i++)
		alt_hist_add(h, v[i]);
	qsort(v, n, sizeof(v[0]), cmp_u64);
	CU_ASSERT_EQUAL(h->count, n);
	CU_ASSERT_EQUAL(h->min, v[0]);
	CU_ASSERT_EQUAL(h->max, v[n - 1]);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t ex = exact_rank(v, n, qs[i]);
		uint64_t got = alt_hist_quantile(h, qs[i]);
		double err = ex == 0 ? (got == 0 ? 0.0 : 1.0) : fabs((double)got - (double)ex) / (double)ex;

		if (err > 1.0 / 128 + 1e-12)
			printf("\n  q=%g exact=%llu got=%llu err=%g", qs[i],
			       (unsigned long long)ex, (unsigned long long)got, err);
		CU_ASSERT(err <= 0.01);
		CU_ASSERT(err <= 1.0 / 128 + 1e-12);
		if (err > worst)
			worst = err;
	}
	free(h);
	return worst;
}

/* ---- histogram ---- */

static void
test_bucket_exact_small(void)
{
	uint64_t v;

	for (v = 0; v < 128; v++) {
		CU_ASSERT_EQUAL(alt_hist_bucket(v), v);
		CU_ASSERT_EQUAL(alt_hist_bucket_mid((unsigned)v), v);
	}
	CU_ASSERT_EQUAL(alt_hist_bucket(128), 128);
}

static void
test_bucket_formula_and_bounds(void)
{
	uint64_t s = 7;
	int i;

	CU_ASSERT(alt_hist_bucket(UINT64_MAX) == ALT_HIST_BUCKETS - 1);
	CU_ASSERT_EQUAL(ALT_HIST_BUCKETS, 3776);
	for (i = 0; i < 200000; i++) {
		uint64_t v = rng_next(&s) >> (rng_next(&s) % 64);
		unsigned b = alt_hist_bucket(v);

		if (v >= 128) {
			int e = 63 - __builtin_clzll(v);
			CU_ASSERT_EQUAL(b, (unsigned)((e - 5) * 64 + ((v >> (e - 6)) & 63)));
		}
		CU_ASSERT(b < ALT_HIST_BUCKETS);
	}
}

/* Every bucket index is used, in order, with no gap: walking the low edge of
 * each bucket upward, bucket(lo) == b, bucket(lo - 1) == b - 1, and the
 * midpoint lies in the bucket within 1/128 of both ends. */
static void
test_bucket_contiguous(void)
{
	unsigned b, e;
	uint64_t lo = 0, next;

	for (b = 0; b < ALT_HIST_BUCKETS; b++) {
		uint64_t w = b < 128 ? 1 : (uint64_t)1 << ((b >> 6) - 1);
		uint64_t hi = lo + (w - 1);
		uint64_t mid = alt_hist_bucket_mid(b);

		CU_ASSERT_EQUAL(alt_hist_bucket(lo), b);
		CU_ASSERT_EQUAL(alt_hist_bucket(hi), b);
		if (lo > 0)
			CU_ASSERT_EQUAL(alt_hist_bucket(lo - 1), b - 1);
		CU_ASSERT(mid >= lo && mid <= hi);
		CU_ASSERT_EQUAL(alt_hist_bucket(mid), b);
		if (lo > 0) {
			CU_ASSERT((double)(mid - lo) / (double)lo <= 1.0 / 128);
			CU_ASSERT((double)(hi - mid) / (double)hi <= 1.0 / 128);
		}
		next = hi + 1;
		if (b == ALT_HIST_BUCKETS - 1)
			CU_ASSERT_EQUAL(hi, UINT64_MAX);
		lo = next;
	}
	/* powers of two and their neighbours */
	for (e = 1; e < 64; e++) {
		uint64_t p = (uint64_t)1 << e;

		CU_ASSERT_EQUAL(alt_hist_bucket(p - 1) + 1, alt_hist_bucket(p));
		CU_ASSERT(alt_hist_bucket(p) <= alt_hist_bucket(p + 1));
		if (e >= 7)
			CU_ASSERT_EQUAL(alt_hist_bucket(p), (e - 5) * 64);
	}
	CU_ASSERT(alt_hist_bucket_mid(ALT_HIST_BUCKETS + 5) == alt_hist_bucket_mid(ALT_HIST_BUCKETS - 1));
}

static void
test_bucket_monotone_random(void)
{
	uint64_t s = 99;
	int i;

	for (i = 0; i < 200000; i++) {
		uint64_t a = rng_next(&s) >> (rng_next(&s) % 64);
		uint64_t d = rng_next(&s) >> (rng_next(&s) % 64);
		uint64_t b = a + d < a ? UINT64_MAX : a + d;

		CU_ASSERT(alt_hist_bucket(a) <= alt_hist_bucket(b));
	}
}

static void
test_hist_empty(void)
{
	struct alt_hist *h = hist_new();
	struct alt_hist *z = calloc(1, sizeof(*z));

	CU_ASSERT_EQUAL(alt_hist_quantile(h, 0.5), 0);
	CU_ASSERT_EQUAL(h->count, 0);
	/* all-zero memory is an empty histogram */
	alt_hist_add(z, 1000);
	CU_ASSERT_EQUAL(z->min, 1000);
	CU_ASSERT_EQUAL(z->max, 1000);
	CU_ASSERT_EQUAL(z->lo_bucket, alt_hist_bucket(1000));
	CU_ASSERT_EQUAL(z->hi_bucket, alt_hist_bucket(1000));
	CU_ASSERT_EQUAL(alt_hist_quantile(z, 0.5), 1000);
	alt_hist_merge(z, h);           /* empty source: no change */
	CU_ASSERT_EQUAL(z->count, 1);
	alt_hist_merge(h, z);           /* into empty */
	CU_ASSERT(hist_equal(h, z));
	alt_hist_reset(z);
	CU_ASSERT_EQUAL(z->count, 0);
	CU_ASSERT_EQUAL(alt_hist_quantile(z, 0.99), 0);
	free(h);
	free(z);
}

static void
test_quantile_loguniform(void)
{
	const size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t seeds[] = { 1, 2, 3, 42, 0xdeadbeef };
	double worst = 0;
	size_t i, k;

	CU_ASSERT_FATAL(v != NULL);
	for (k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		uint64_t s = seeds[k];

		for (i = 0; i < n; i++)
			v[i] = (uint64_t)llround(exp(rng_unit(&s) * log(1e12)));
		double w = check_quantiles(v, n);
		if (w > worst)
			worst = w;
	}
	printf("\n  log-uniform worst relative error %.5f%% ", worst * 100);
	free(v);
}

static void
test_quantile_constant_bimodal(void)
{
	const size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t s = 5;
	size_t i;

	CU_ASSERT_FATAL(v != NULL);
	for (i = 0; i < n; i++)
		v[i] = 12345678;
	check_quantiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = 77;
	check_quantiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = 0;
	check_quantiles(v, n);
	/* bimodal 50/50, then 95/5 (p99 and p999 in the far mode) */
	for (i = 0; i < n; i++)
		v[i] = (rng_next(&s) & 1) ? 1000 + rng_next(&s) % 50 : 1000000000 + rng_next(&s) % 5000000;
	check_quantiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = (rng_next(&s) % 100 < 95) ? 200 + rng_next(&s) % 20 : 5000000 + rng_next(&s) % 1000;
	check_quantiles(v, n);
	free(v);
}

/* Values placed where a midpoint is worst: the low and high edges of
 * buckets, powers of two and their neighbours, the extremes of the range. */
static void
test_quantile_adversarial(void)
{
	const size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t s = 11;
	size_t i;

	CU_ASSERT_FATAL(v != NULL);
	for (int edge = 0; edge < 2; edge++) {
		for (i = 0; i < n; i++) {
			unsigned b = 128 + (unsigned)(rng_next(&s) % (ALT_HIST_BUCKETS - 128));
			uint64_t w = (uint64_t)1 << ((b >> 6) - 1);
			uint64_t lo = (uint64_t)(b - (((b >> 6) - 1) << 6)) << ((b >> 6) - 1);

			v[i] = edge ? lo + (w - 1) : lo;
		}
		check_quantiles(v, n);
	}
	for (i = 0; i < n; i++) {
		unsigned e = 7 + (unsigned)(rng_next(&s) % 57);
		int d = (int)(rng_next(&s) % 3) - 1;

		v[i] = ((uint64_t)1 << e) + (uint64_t)(int64_t)d;
	}
	check_quantiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = UINT64_MAX - rng_next(&s) % 1000;
	check_quantiles(v, n);
	/* one bucket edge on each side of the p50/p99 ranks */
	for (i = 0; i < n; i++)
		v[i] = i < n / 2 ? 255 : (i < n * 99 / 100 ? 256 : 1ull << 40);
	check_quantiles(v, n);
	for (i = 0; i < n; i++)
		v[i] = 128 + i % 2;
	check_quantiles(v, n);
	free(v);
}

static void
test_hist_merge_union(void)
{
	struct alt_hist *a = hist_new(), *b = hist_new(), *u = hist_new();
	uint64_t s = 3;
	int i;

	for (i = 0; i < 50000; i++) {
		uint64_t v = rng_next(&s) >> (rng_next(&s) % 64);

		alt_hist_add((i % 3) ? a : b, v);
		alt_hist_add(u, v);
	}
	alt_hist_add(b, 0);
	alt_hist_add(u, 0);
	alt_hist_merge(a, b);
	CU_ASSERT(hist_equal(a, u));
	for (i = 0; i < (int)ALT_HIST_BUCKETS; i++)
		if (a->b[i] != u->b[i])
			break;
	CU_ASSERT_EQUAL(i, (int)ALT_HIST_BUCKETS);
	free(a);
	free(b);
	free(u);
}

/* ---- alt_stats: params, tables ---- */

static void
test_params(void)
{
	struct alt_stats_params p;
	char mem[64] __attribute__((aligned(64)));

	alt_stats_params_default(&p);
	CU_ASSERT_EQUAL(p.max_ops, 1024);
	CU_ASSERT_EQUAL(p.max_shapes, 1024);
	CU_ASSERT_EQUAL(p.topk, 64);
	CU_ASSERT_EQUAL(p.max_strings, 4096);
	CU_ASSERT_EQUAL(p.string_bytes, 256 * 1024);
	CU_ASSERT(alt_stats_memsize(&p) > 2 * 1024 * sizeof(struct alt_hist));
	CU_ASSERT_EQUAL(alt_stats_memsize(NULL), alt_stats_memsize(&p));
	p.topk = 0;
	CU_ASSERT_EQUAL(alt_stats_memsize(&p), 0);
	CU_ASSERT(alt_stats_init(mem, &p) == NULL);
	alt_stats_params_default(&p);
	CU_ASSERT(alt_stats_init(NULL, &p) == NULL);
	CU_ASSERT(alt_stats_init(mem + 1, &p) == NULL);
}

static void
test_ops_table(void)
{
	struct alt_stats_params p;
	struct alt_stats *st;
	const struct alt_stats_op *ops, *o;
	unsigned n;

	alt_stats_params_default(&p);
	p.max_ops = 3;
	st = stats_new(&p);
	CU_ASSERT_EQUAL(alt_stats_epoch(st), 0);
	span(st, "front", "GET /", 100);
	span(st, "front", "GET /", 300);
	span(st, "front", "POST /x", 1000);
	span(st, "db", "GET /", 5);
	span(st, "cache", "get", 7);            /* table full */
	span(st, "cache", "get", 8);
	n = alt_stats_ops(st, &ops);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(alt_stats_counters_const(st)->ops_overflow, 2);
	o = find_op(st, "front", "GET /");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(o->h.count, 2);
	CU_ASSERT_EQUAL(o->h.sum, 400);
	CU_ASSERT_EQUAL(o->h.min, 100);
	CU_ASSERT_EQUAL(o->h.max, 300);
	/* identical strings share an id */
	CU_ASSERT_EQUAL(ops[0].service, ops[1].service);
	CU_ASSERT_EQUAL(ops[0].operation, ops[2].operation);
	CU_ASSERT_NOT_EQUAL(ops[0].service, ops[2].service);
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, ops[2].service), "db");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, 0), "");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, 9999), "");

	alt_stats_reset(st, 7);
	CU_ASSERT_EQUAL(alt_stats_epoch(st), 7);
	CU_ASSERT_EQUAL(alt_stats_ops(st, &ops), 0);
	CU_ASSERT_EQUAL(alt_stats_counters_const(st)->ops_overflow, 0);
	span(st, "cache", "get", 9);
	span(st, "front", "GET /", 50);
	n = alt_stats_ops(st, &ops);
	CU_ASSERT_EQUAL(n, 2);
	o = find_op(st, "cache", "get");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(o->h.count, 1);
	CU_ASSERT_EQUAL(o->h.min, 9);
	o = find_op(st, "front", "GET /");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(o->h.count, 1);         /* old buckets cleared */
	CU_ASSERT_EQUAL(o->h.b[alt_hist_bucket(100)], 0);
	CU_ASSERT_EQUAL(o->h.b[alt_hist_bucket(50)], 1);
	CU_ASSERT(find_op(st, "front", "POST /x") == NULL);
	free(st);
}

static void
test_many_ops_reset_reuse(void)
{
	struct alt_stats *st = stats_new(NULL);
	char svc[32], op[32];
	unsigned round, i;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 1100; i++) {
			snprintf(svc, sizeof(svc), "svc%u", (i + round) % 40);
			snprintf(op, sizeof(op), "op%u-%u", i, round);
			span(st, svc, op, 1000 + i);
		}
		CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 1024);
		CU_ASSERT_EQUAL(alt_stats_counters_const(st)->ops_overflow, 1100 - 1024);
		CU_ASSERT_EQUAL(alt_stats_counters_const(st)->strings_overflow, 0);
		snprintf(svc, sizeof(svc), "svc%u", (5 + round) % 40);
		snprintf(op, sizeof(op), "op%u-%u", 5, round);
		const struct alt_stats_op *o = find_op(st, svc, op);
		CU_ASSERT_FATAL(o != NULL);
		CU_ASSERT_EQUAL(o->h.count, 1);
		alt_stats_reset(st, round + 1);
		CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 0);
	}
	free(st);
}

static void
test_strings_overflow(void)
{
	struct alt_stats_params p;
	struct alt_stats *st;

	alt_stats_params_default(&p);
	p.max_strings = 4;              /* "" + 3 */
	st = stats_new(&p);
	span(st, "a", "x", 1);
	span(st, "a", "y", 1);
	span(st, "b", "z", 1);          /* "z" does not fit */
	CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 2);
	CU_ASSERT(alt_stats_counters_const(st)->strings_overflow >= 1);
	alt_stats_reset(st, 1);
	span(st, "b", "z", 1);
	CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 1);
	CU_ASSERT(find_op(st, "b", "z") != NULL);
	free(st);

	alt_stats_params_default(&p);
	p.string_bytes = 8;
	st = stats_new(&p);
	span(st, "abc", "def", 1);      /* 8 bytes with NULs */
	span(st, "abc", "g", 1);
	CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 1);
	CU_ASSERT_EQUAL(alt_stats_counters_const(st)->strings_overflow, 1);
	free(st);
}

static void
test_shapes(void)
{
	struct alt_stats_params p;
	struct alt_stats *st;
	const struct alt_stats_shape *s;

	alt_stats_params_default(&p);
	p.max_shapes = 2;
	st = stats_new(&p);
	alt_stats_add_trace(st, 0, 10);         /* shape 0 is a valid key */
	alt_stats_add_trace(st, 0xabc, 1000);
	alt_stats_add_trace(st, 0xabc, 3000);
	alt_stats_add_trace(st, 0xdef, 1);
	CU_ASSERT_EQUAL(alt_stats_shapes(st, &s), 2);
	CU_ASSERT_EQUAL(alt_stats_counters_const(st)->shapes_overflow, 1);
	s = find_shape(st, 0xabc);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(s->count, 2);
	CU_ASSERT_EQUAL(s->h.count, 2);
	CU_ASSERT_EQUAL(s->h.max, 3000);
	CU_ASSERT_EQUAL(find_shape(st, 0)->count, 1);
	alt_stats_reset(st, 2);
	CU_ASSERT_EQUAL(alt_stats_shapes(st, NULL), 0);
	alt_stats_add_trace(st, 0xdef, 5);
	CU_ASSERT_EQUAL(alt_stats_shapes(st, &s), 1);
	CU_ASSERT_EQUAL(s[0].shape, 0xdef);
	CU_ASSERT_EQUAL(s[0].h.count, 1);
	CU_ASSERT_EQUAL(s[0].h.b[alt_hist_bucket(10)], 0);
	free(st);
}

static void
test_drops(void)
{
	struct alt_stats *a = stats_new(NULL), *b = stats_new(NULL);
	const char *names[40];
	uint64_t counts[40];
	char r[64];
	unsigned n, i;

	alt_stats_add_dropped(a, "ring_full", 3);
	alt_stats_add_dropped(a, "bad_frame", 1);
	alt_stats_add_dropped(b, "ring_full", 4);
	alt_stats_add_dropped(b, "late", 2);
	alt_stats_merge(a, b);
	n = alt_stats_dropped(a, names, counts, 40);
	CU_ASSERT_EQUAL(n, 3);
	for (i = 0; i < n; i++) {
		uint64_t want = strcmp(names[i], "ring_full") == 0 ? 7 :
				strcmp(names[i], "bad_frame") == 0 ? 1 :
				strcmp(names[i], "late") == 0 ? 2 : 0;

		CU_ASSERT_EQUAL(counts[i], want);
	}
	CU_ASSERT_EQUAL(alt_stats_dropped(a, NULL, NULL, 0), 3);
	/* names are copied */
	snprintf(r, sizeof(r), "tmp");
	alt_stats_add_dropped(b, r, 1);
	r[0] = 'X';
	n = alt_stats_dropped(b, names, counts, 40);
	CU_ASSERT_STRING_EQUAL(names[n - 1], "tmp");
	/* bounded: 31 named + "<other>" */
	alt_stats_reset(a, 1);
	for (i = 0; i < 40; i++) {
		snprintf(r, sizeof(r), "reason%u", i);
		alt_stats_add_dropped(a, r, 1);
	}
	n = alt_stats_dropped(a, names, counts, 40);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT_STRING_EQUAL(names[31], "<other>");
	CU_ASSERT_EQUAL(counts[31], 9);
	free(a);
	free(b);
}

/* ---- Space-Saving ---- */

static void
test_pair_same_service_ignored(void)
{
	struct alt_stats *st = stats_new(NULL);
	struct alt_topk_item out[4];

	pair(st, "a", "a");
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, out, 4), 0);
	pair(st, "a", "b");
	pair(st, "b", "a");
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, out, 4), 2);    /* direction matters */
	alt_stats_reset(st, 1);
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, out, 4), 0);
	pair(st, "b", "a");
	CU_ASSERT_EQUAL_FATAL(alt_stats_top_pairs(st, out, 4), 1);
	CU_ASSERT_EQUAL(out[0].count, 1);
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[0].a_id), "b");
	free(st);
}

static void
test_topk_exact_small(void)
{
	struct alt_stats_params p;
	struct alt_stats *st;
	struct alt_topk_item out[20];
	char a[16], b[16];
	unsigned i, j, n, order[16];
	uint64_t s = 17;

	alt_stats_params_default(&p);
	p.topk = 16;
	st = stats_new(&p);
	/* pair i gets (i + 1) * 3 calls, interleaved in random order */
	unsigned left[16], total = 0;
	for (i = 0; i < 16; i++)
		total += left[i] = (i + 1) * 3;
	while (total > 0) {
		unsigned k = (unsigned)(rng_next(&s) % 16);

		if (left[k] == 0)
			continue;
		left[k]--;
		total--;
		snprintf(a, sizeof(a), "caller%u", k);
		snprintf(b, sizeof(b), "callee%u", k);
		pair(st, a, b);
	}
	n = alt_stats_top_pairs(st, out, 20);
	CU_ASSERT_EQUAL(n, 16);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(out[i].error, 0);
		CU_ASSERT_EQUAL(out[i].count, (16 - i) * 3);
		CU_ASSERT(sscanf(alt_stats_str(st, out[i].a_id), "caller%u", &j) == 1);
		CU_ASSERT_EQUAL(j, 15 - i);
		order[i] = j;
	}
	(void)order;
	/* cap smaller than the counters */
	n = alt_stats_top_pairs(st, out, 3);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(out[0].count, 48);
	CU_ASSERT_EQUAL(out[2].count, 42);
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, out, 0), 0);
	free(st);
}

static void
test_top_pairs_ties(void)
{
	struct alt_stats *st = stats_new(NULL);
	struct alt_topk_item out[8];
	unsigned n;

	pair(st, "b", "z");
	pair(st, "a", "z");
	pair(st, "a", "y");
	pair(st, "c", "x");
	pair(st, "c", "x");
	n = alt_stats_top_pairs(st, out, 8);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[0].a_id), "c");
	CU_ASSERT_EQUAL(out[0].count, 2);
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[1].a_id), "a");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[1].b_id), "y");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[2].a_id), "a");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[2].b_id), "z");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(st, out[3].a_id), "b");
	free(st);
}

#define ZIPF_KEYS 5000

/* A Zipf(s) stream over ZIPF_KEYS pairs, key ranks permuted by perm_seed;
 * true counts added into truth[]. */
static void
zipf_stream(struct alt_stats *st, unsigned n, double zs, uint64_t seed, uint64_t perm_seed,
	    uint64_t *truth)
{
	static double cdf[ZIPF_KEYS];
	static unsigned perm[ZIPF_KEYS];
	double sum = 0;
	unsigned i;
	char a[16], b[16];

	for (i = 0; i < ZIPF_KEYS; i++) {
		sum += 1.0 / pow(i + 1, zs);
		cdf[i] = sum;
		perm[i] = i;
	}
	for (i = ZIPF_KEYS - 1; i > 0; i--) {
		unsigned j = (unsigned)(rng_next(&perm_seed) % (i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++) {
		double u = rng_unit(&seed) * sum;
		unsigned lo = 0, hi = ZIPF_KEYS - 1;

		while (lo < hi) {
			unsigned mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		unsigned k = perm[lo];
		truth[k]++;
		snprintf(a, sizeof(a), "s%u", k);
		snprintf(b, sizeof(b), "t%u", k);
		pair(st, a, b);
	}
}

/* Space-Saving guarantees against the true counts of a stream of n pairs. */
static void
check_topk(const struct alt_stats *st, const uint64_t *truth, uint64_t n, unsigned k)
{
	struct alt_topk_item out[256];
	unsigned m = alt_stats_top_pairs(st, out, 256), i, key;
	bool seen[ZIPF_KEYS] = { false };
	uint64_t bound = n / k, sum = 0, hh = 0;

	CU_ASSERT_EQUAL(m, k);
	for (i = 0; i < m; i++) {
		CU_ASSERT_FATAL(sscanf(alt_stats_str(st, out[i].a_id), "s%u", &key) == 1);
		CU_ASSERT_FATAL(key < ZIPF_KEYS);
		CU_ASSERT(!seen[key]);          /* one counter per key */
		seen[key] = true;
		CU_ASSERT(out[i].count >= truth[key]);
		CU_ASSERT(out[i].count - out[i].error <= truth[key]);
		CU_ASSERT(out[i].count - truth[key] <= bound);
		CU_ASSERT(out[i].error <= bound);
		sum += out[i].count;
		if (i > 0)
			CU_ASSERT(out[i].count <= out[i - 1].count);
	}
	CU_ASSERT(sum <= n);
	for (key = 0; key < ZIPF_KEYS; key++)
		if (truth[key] > bound) {
			hh++;
			CU_ASSERT(seen[key]);
		}
	CU_ASSERT(hh > 0);
	printf("\n  n=%llu k=%u heavy hitters (> n/k)=%llu all found", (unsigned long long)n, k,
	       (unsigned long long)hh);
}

static void
test_topk_zipf(void)
{
	struct alt_stats_params p;
	struct alt_stats *st;
	static uint64_t truth[ZIPF_KEYS];
	const unsigned n = 200000;

	alt_stats_params_default(&p);
	p.max_strings = 2 * ZIPF_KEYS + 8;
	st = stats_new(&p);
	memset(truth, 0, sizeof(truth));
	zipf_stream(st, n, 1.1, 1234, 77, truth);
	check_topk(st, truth, n, p.topk);

	/* top 5 true keys are the first 5 reported */
	struct alt_topk_item out[5];
	unsigned i, key, best[5];
	for (i = 0; i < 5; i++) {
		unsigned j, bj = 0;
		uint64_t bc = 0;
		for (j = 0; j < ZIPF_KEYS; j++) {
			bool taken = false;
			for (unsigned t = 0; t < i; t++)
				taken |= best[t] == j;
			if (!taken && truth[j] > bc) {
				bc = truth[j];
				bj = j;
			}
		}
		best[i] = bj;
	}
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, out, 5), 5);
	for (i = 0; i < 5; i++) {
		CU_ASSERT(sscanf(alt_stats_str(st, out[i].a_id), "s%u", &key) == 1);
		CU_ASSERT_EQUAL(key, best[i]);
	}
	free(st);
}

static void
test_topk_merge(void)
{
	struct alt_stats_params p;
	struct alt_stats *a, *b, *c;
	static uint64_t truth[ZIPF_KEYS];
	int round;

	alt_stats_params_default(&p);
	p.max_strings = 2 * ZIPF_KEYS + 8;
	for (round = 0; round < 3; round++) {
		a = stats_new(&p);
		b = stats_new(&p);
		memset(truth, 0, sizeof(truth));
		/* same ranking in round 0, different in the others */
		zipf_stream(a, 120000, 1.1, 10 + round, 5, truth);
		zipf_stream(b, 80000, 1.2, 20 + round, round == 0 ? 5 : 6 + round, truth);
		alt_stats_merge(a, b);
		check_topk(a, truth, 200000, p.topk);
		/* merge again into an empty summary: unchanged */
		c = stats_new(&p);
		alt_stats_merge(c, a);
		check_topk(c, truth, 200000, p.topk);
		/* into a smaller summary (k = 32) */
		struct alt_stats_params q = p;
		q.topk = 32;
		struct alt_stats *d = stats_new(&q);
		alt_stats_merge(d, a);
		check_topk(d, truth, 200000, q.topk);
		free(d);
		/* streaming continues correctly after a merge */
		zipf_stream(a, 50000, 1.1, 99 + round, 5, truth);
		check_topk(a, truth, 250000, p.topk);
		free(a);
		free(b);
		free(c);
	}
}

/* Small summaries that stay exact merge exactly. */
static void
test_topk_merge_exact(void)
{
	struct alt_stats *a = stats_new(NULL), *b = stats_new(NULL);
	struct alt_topk_item out[8];

	pair(a, "x", "y");
	pair(a, "x", "y");
	pair(a, "x", "z");
	pair(b, "x", "y");
	pair(b, "q", "r");
	alt_stats_merge(a, b);
	CU_ASSERT_EQUAL_FATAL(alt_stats_top_pairs(a, out, 8), 3);
	CU_ASSERT_EQUAL(out[0].count, 3);
	CU_ASSERT_EQUAL(out[0].error, 0);
	CU_ASSERT_STRING_EQUAL(alt_stats_str(a, out[1].a_id), "q");
	CU_ASSERT_STRING_EQUAL(alt_stats_str(a, out[1].b_id), "r");
	CU_ASSERT_EQUAL(out[1].count, 1);
	CU_ASSERT_EQUAL(out[2].error, 0);
	free(a);
	free(b);
}

/* merge(A, B) equals adding A's and B's inputs into one alt_stats. */
static void
test_stats_merge_equals_union(void)
{
	struct alt_stats *a = stats_new(NULL), *b = stats_new(NULL), *u = stats_new(NULL);
	const struct alt_stats_op *ops;
	const struct alt_stats_shape *shapes;
	uint64_t s = 31;
	char svc[16], op[16];
	unsigned i, n;

	for (i = 0; i < 60000; i++) {
		unsigned k = (unsigned)(rng_next(&s) % 60);
		uint64_t d = rng_next(&s) >> (20 + rng_next(&s) % 40);
		/* ops 0..19 only in a, 40..59 only in b, 20..39 in both */
		struct alt_stats *t = k < 20 ? a : (k >= 40 ? b : ((rng_next(&s) & 1) ? a : b));

		snprintf(svc, sizeof(svc), "svc%u", k % 7);
		snprintf(op, sizeof(op), "op%u", k);
		span(t, svc, op, d);
		span(u, svc, op, d);
		alt_stats_add_trace(t, k % 13, d);
		alt_stats_add_trace(u, k % 13, d);
		snprintf(op, sizeof(op), "svc%u", k % 5 + 3);
		pair(t, svc, op);
		pair(u, svc, op);
	}
	alt_stats_counters(a)->records = 10;
	alt_stats_counters(b)->records = 5;
	alt_stats_counters(b)->late = 2;
	alt_stats_counters(a)->traces_closed = 1;
	alt_stats_merge(a, b);
	CU_ASSERT_EQUAL(alt_stats_counters_const(a)->records, 15);
	CU_ASSERT_EQUAL(alt_stats_counters_const(a)->late, 2);
	CU_ASSERT_EQUAL(alt_stats_counters_const(a)->traces_closed, 1);

	n = alt_stats_ops(u, &ops);
	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT_EQUAL(alt_stats_ops(a, NULL), n);
	for (i = 0; i < n; i++) {
		const struct alt_stats_op *o = find_op(a, alt_stats_str(u, ops[i].service),
						       alt_stats_str(u, ops[i].operation));

		CU_ASSERT_FATAL(o != NULL);
		CU_ASSERT(hist_equal(&o->h, &ops[i].h));
	}
	n = alt_stats_shapes(u, &shapes);
	CU_ASSERT_EQUAL(alt_stats_shapes(a, NULL), n);
	for (i = 0; i < n; i++) {
		const struct alt_stats_shape *x = find_shape(a, shapes[i].shape);

		CU_ASSERT_FATAL(x != NULL);
		CU_ASSERT_EQUAL(x->count, shapes[i].count);
		CU_ASSERT(hist_equal(&x->h, &shapes[i].h));
	}
	/* few distinct pairs (< k): the merged top-k is exact, like the union */
	struct alt_topk_item x[64], y[64];
	unsigned nx = alt_stats_top_pairs(a, x, 64), ny = alt_stats_top_pairs(u, y, 64);
	CU_ASSERT_EQUAL_FATAL(nx, ny);
	for (i = 0; i < nx; i++) {
		CU_ASSERT_EQUAL(x[i].count, y[i].count);
		CU_ASSERT_EQUAL(x[i].error, 0);
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, x[i].a_id), alt_stats_str(u, y[i].a_id));
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, x[i].b_id), alt_stats_str(u, y[i].b_id));
	}
	free(a);
	free(b);
	free(u);
}

static void
test_merge_overflow(void)
{
	struct alt_stats_params p;
	struct alt_stats *a, *b;

	alt_stats_params_default(&p);
	p.max_ops = 2;
	p.max_shapes = 1;
	a = stats_new(&p);
	b = stats_new(NULL);
	span(a, "s", "o1", 1);
	span(b, "s", "o2", 1);
	span(b, "s", "o3", 1);
	span(b, "s", "o3", 1);
	alt_stats_add_trace(b, 1, 1);
	alt_stats_add_trace(b, 2, 1);
	alt_stats_merge(a, b);
	CU_ASSERT_EQUAL(alt_stats_ops(a, NULL), 2);
	CU_ASSERT_EQUAL(alt_stats_counters_const(a)->ops_overflow, 2);
	CU_ASSERT_EQUAL(alt_stats_shapes(a, NULL), 1);
	CU_ASSERT_EQUAL(alt_stats_counters_const(a)->shapes_overflow, 1);
	free(a);
	free(b);
}

/* ---- optimised paths = the straightforward ones ---- */

/* alt_hist_add as it was: four selects per value. */
static void
ref_hist_add(struct alt_hist *h, uint64_t v)
{
	unsigned b = alt_hist_bucket(v);
	uint64_t c = h->count;
	uint64_t mn = c ? h->min : UINT64_MAX;
	uint32_t lo = c ? h->lo_bucket : UINT32_MAX;

	h->b[b]++;
	h->count = c + 1;
	h->sum += v;
	h->min = v < mn ? v : mn;
	h->max = v > h->max ? v : h->max;
	h->lo_bucket = b < lo ? b : lo;
	h->hi_bucket = b > h->hi_bucket ? b : h->hi_bucket;
}

static uint64_t
rand_duration(uint64_t *s)
{
	uint64_t r = rng_next(s);

	switch (r % 16) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX - (r >> 60);
	case 2:
		return rng_next(s) % 128;
	default:
		return rng_next(s) >> (r >> 58);
	}
}

/* alt_hist_add (and merges of its results) leave exactly the state the
 * select-based version does, field by field. */
static void
test_hist_add_equals_reference(void)
{
	struct alt_hist *a = hist_new(), *r = hist_new(), *a2 = hist_new(), *r2 = hist_new();
	static const uint64_t edge[] = { 0, 1, 127, 128, 129, UINT64_MAX / 2, UINT64_MAX - 1, UINT64_MAX };
	uint64_t s = 77;

	/* edge values first into an empty histogram, then after each other */
	for (unsigned i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		for (unsigned j = 0; j < sizeof(edge) / sizeof(edge[0]); j++) {
			alt_hist_reset(a);
			alt_hist_reset(r);
			alt_hist_add(a, edge[i]);
			ref_hist_add(r, edge[i]);
			CU_ASSERT_FATAL(memcmp(a, r, sizeof(*a)) == 0);
			alt_hist_add(a, edge[j]);
			ref_hist_add(r, edge[j]);
			alt_hist_add(a, edge[i]);
			ref_hist_add(r, edge[i]);
			CU_ASSERT_FATAL(memcmp(a, r, sizeof(*a)) == 0);
		}
	}
	alt_hist_reset(a);
	alt_hist_reset(r);
	for (unsigned round = 0; round < 400; round++) {
		unsigned n = (unsigned)(rng_next(&s) % 300);

		alt_hist_reset(a2);
		alt_hist_reset(r2);
		for (unsigned i = 0; i < n; i++) {
			uint64_t v = rand_duration(&s);

			if (rng_next(&s) & 1) {
				alt_hist_add(a, v);
				ref_hist_add(r, v);
			} else {
				alt_hist_add(a2, v);
				ref_hist_add(r2, v);
			}
		}
		CU_ASSERT_FATAL(memcmp(a, r, sizeof(*a)) == 0);
		CU_ASSERT_FATAL(memcmp(a2, r2, sizeof(*a2)) == 0);
		if (rng_next(&s) % 4 == 0) {
			alt_hist_merge(a, a2);
			alt_hist_merge(r, r2);
		}
		if (rng_next(&s) % 16 == 0) {
			alt_hist_reset(a);
			alt_hist_reset(r);
		}
		CU_ASSERT_FATAL(memcmp(a, r, sizeof(*a)) == 0);
	}
	free(a);
	free(r);
	free(a2);
	free(r2);
}

static struct alt_intern *
intern_new(uint32_t max_strings)
{
	size_t sz = alt_intern_memsize(max_strings, 1u << 16);
	void *mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	struct alt_intern *in;

	CU_ASSERT_FATAL(mem != NULL);
	in = alt_intern_init(mem, max_strings, 1u << 16);
	CU_ASSERT_FATAL(in != NULL);
	return in;
}

/* Everything alt_stats_add_nodes documents, the slow way: the string calls
 * per node and per parent, names and hashes fetched every time. */
static void
ref_add_nodes(struct alt_stats *st, const struct alt_intern *in, struct alt_node *const *v, uint32_t n,
	      const uint32_t *par_off, const uint32_t *par)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct alt_node *x = v[i];
		uint32_t sl, ol;
		const char *sv = alt_intern_str(in, x->service_id, &sl);
		const char *op = alt_intern_str(in, x->operation_id, &ol);

		if (x->kind == ALT_KIND_SPAN)
			alt_stats_add_span(st, sv, sl, alt_intern_hash(in, x->service_id), op, ol,
					   alt_intern_hash(in, x->operation_id), x->duration_ns);
		for (uint32_t e = par_off[i]; e < par_off[i + 1]; e++) {
			const struct alt_node *pn = v[par[e]];
			uint32_t pl;
			const char *ps = alt_intern_str(in, pn->service_id, &pl);

			alt_stats_add_pair(st, ps, pl, alt_intern_hash(in, pn->service_id), sv, sl,
					   alt_intern_hash(in, x->service_id));
		}
	}
}

/* Same contents, string ids included (both interned in the same order). */
static void
check_stats_equal(const struct alt_stats *a, const struct alt_stats *b, unsigned topk)
{
	const struct alt_stats_op *oa, *ob;
	const struct alt_stats_shape *sa, *sb;
	unsigned n = alt_stats_ops(a, &oa), i;
	struct alt_topk_item *ta = calloc(topk, sizeof(*ta)), *tb = calloc(topk, sizeof(*tb));

	CU_ASSERT_FATAL(ta != NULL && tb != NULL);
	CU_ASSERT_FATAL(alt_stats_ops(b, &ob) == n);
	for (i = 0; i < n; i++) {
		CU_ASSERT_FATAL(oa[i].service == ob[i].service && oa[i].operation == ob[i].operation);
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, oa[i].service), alt_stats_str(b, ob[i].service));
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, oa[i].operation), alt_stats_str(b, ob[i].operation));
		CU_ASSERT_FATAL(hist_equal(&oa[i].h, &ob[i].h));
		for (unsigned q = 0; q < sizeof(qs) / sizeof(qs[0]); q++)
			CU_ASSERT_EQUAL(alt_hist_quantile(&oa[i].h, qs[q]), alt_hist_quantile(&ob[i].h, qs[q]));
	}
	n = alt_stats_shapes(a, &sa);
	CU_ASSERT_FATAL(alt_stats_shapes(b, &sb) == n);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(sa[i].shape, sb[i].shape);
		CU_ASSERT_EQUAL(sa[i].count, sb[i].count);
		CU_ASSERT(hist_equal(&sa[i].h, &sb[i].h));
	}
	n = alt_stats_top_pairs(a, ta, topk);
	CU_ASSERT_FATAL(alt_stats_top_pairs(b, tb, topk) == n);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(ta[i].key, tb[i].key);
		CU_ASSERT_EQUAL(ta[i].count, tb[i].count);
		CU_ASSERT_EQUAL(ta[i].error, tb[i].error);
		CU_ASSERT_EQUAL(ta[i].a_id, tb[i].a_id);
		CU_ASSERT_EQUAL(ta[i].b_id, tb[i].b_id);
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, ta[i].a_id), alt_stats_str(b, tb[i].a_id));
		CU_ASSERT_STRING_EQUAL(alt_stats_str(a, ta[i].b_id), alt_stats_str(b, tb[i].b_id));
	}
	CU_ASSERT(memcmp(alt_stats_counters_const(a), alt_stats_counters_const(b),
			 sizeof(struct alt_stats_counters)) == 0);
	free(ta);
	free(tb);
}

#define EQ_MAX_NODES 24

/* One random stream of traces through alt_stats_add_nodes and through the
 * per-item string calls must leave identical statistics: ops and their
 * histograms and quantiles, string ids, shapes, top pairs with counts and
 * errors (small k: constant evictions, ties included), counters. The
 * stream has skewed and repeated (service, operation) and (caller, callee)
 * pairs, runs of equal pairs, same-service edges, events, the empty and
 * "<overflow>" names, ids not yet issued (issued later), a second intern
 * table with other ids for the same names, resets and merges into both
 * objects, and tables small enough to overflow. */
static void
eq_run(const struct alt_stats_params *p, uint64_t seed, unsigned traces)
{
	struct alt_stats *opt = stats_new(p), *ref = stats_new(p), *other = stats_new(p);
	struct alt_intern *in1 = intern_new(512), *in2 = intern_new(512), *in;
	struct alt_node nodes[EQ_MAX_NODES], *v[EQ_MAX_NODES];
	uint32_t par_off[EQ_MAX_NODES + 1], par[EQ_MAX_NODES * 4];
	uint32_t svc1[12], svc2[12], op1[40], op2[40];
	uint64_t s = seed;
	unsigned next_name = 0, i;
	uint32_t unissued;
	char name[64];

	/* the same names in both tables, in different orders (other ids) */
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "service-%u%s", i, i % 5 == 0 ? "-with-a-longer-name" : "");
		svc1[i] = alt_intern_get(in1, name, (uint32_t)strlen(name));
	}
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "GET /api/v%u/op%u", i % 3, i);
		op1[i] = alt_intern_get(in1, name, (uint32_t)strlen(name));
	}
	for (i = 40; i-- > 0;) {
		snprintf(name, sizeof(name), "GET /api/v%u/op%u", i % 3, i);
		op2[i] = alt_intern_get(in2, name, (uint32_t)strlen(name));
	}
	for (i = 12; i-- > 0;) {
		snprintf(name, sizeof(name), "service-%u%s", i, i % 5 == 0 ? "-with-a-longer-name" : "");
		svc2[i] = alt_intern_get(in2, name, (uint32_t)strlen(name));
	}
	/* ids from here on are not issued yet; "late" names issue them one by
	 * one, in1 only (in2 has as many names) */
	unissued = alt_intern_count(in1);
	in = in1;
	for (unsigned t = 0; t < traces; t++) {
		uint64_t r = rng_next(&s);
		uint32_t n = 1 + (uint32_t)(rng_next(&s) % EQ_MAX_NODES), ne = 0;
		const uint32_t *svc = in == in1 ? svc1 : svc2, *op = in == in1 ? op1 : op2;
		uint32_t nsvc = 3 + (uint32_t)(t / 500) % 10;   /* more names as it goes */

		if (r % 1000 == 0) {            /* another table, or back */
			in = in == in1 ? in2 : in1;
			continue;
		}
		if (r % 300 == 1) {             /* a new name, for an id used before */
			snprintf(name, sizeof(name), "late-%u", next_name++);
			alt_intern_get(in1, name, (uint32_t)strlen(name));
			continue;
		}
		if (r % 700 == 2) {             /* next epoch */
			uint64_t ep = alt_stats_epoch(ref) + 1;

			alt_stats_reset(ref, ep);
			alt_stats_reset(opt, ep);
			continue;
		}
		if (r % 300 == 3) {             /* merge a partial from elsewhere into both */
			alt_stats_merge(ref, other);
			alt_stats_merge(opt, other);
			alt_stats_reset(other, 0);
			continue;
		}
		par_off[0] = 0;
		for (i = 0; i < n; i++) {
			struct alt_node *x = &nodes[i];
			uint64_t q = rng_next(&s);
			uint32_t k = (uint32_t)(q % 64);

			memset(x, 0, sizeof(*x));
			/* skewed: a few services and operations dominate */
			x->service_id = svc[(k * k / 64) % nsvc];
			x->operation_id = op[((q >> 8) % 40) * ((q >> 16) % 40) / 40];
			if ((q >> 24) % 50 == 0)
				x->service_id = ALT_INTERN_EMPTY;
			if ((q >> 24) % 50 == 1)
				x->operation_id = ALT_INTERN_OVERFLOW;
			if ((q >> 24) % 23 == 2)        /* maybe not issued yet: reads "<overflow>" */
				x->service_id = unissued + (uint32_t)((q >> 32) % 8);
			x->kind = (q >> 40) % 8 == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN;
			x->duration_ns = rand_duration(&s);
			v[i] = x;
			/* parents: earlier nodes mostly, some repeated, any index */
			unsigned np = i == 0 ? (unsigned)((q >> 44) % 2) : (unsigned)((q >> 44) % 4);
			for (unsigned j = 0; j < np; j++) {
				uint32_t pi = i == 0 ? 0 : (uint32_t)(rng_next(&s) % i);

				if ((q >> 50) % 8 == 0)
					pi = (uint32_t)(rng_next(&s) % n);
				if (j > 0 && (q >> 53) % 3 == 0)
					pi = par[ne - 1];
				par[ne++] = pi;
			}
			par_off[i + 1] = ne;
		}
		uint64_t shape = rng_next(&s) % 50, dur = rand_duration(&s);

		alt_stats_add_trace(ref, shape, dur);
		alt_stats_add_trace(opt, shape, dur);
		ref_add_nodes(ref, in, v, n, par_off, par);
		alt_stats_add_nodes(opt, in, v, n, par_off, par);
		if (r % 5 == 4) {               /* food for the merges */
			ref_add_nodes(other, in, v, n, par_off, par);
			alt_stats_counters(other)->records += n;
		}
		if (t % 97 == 0)
			check_stats_equal(ref, opt, p->topk);
	}
	check_stats_equal(ref, opt, p->topk);
	CU_ASSERT(alt_stats_ops(ref, NULL) > 0);
	CU_ASSERT(alt_stats_top_pairs(ref, NULL, 0) == 0);
	free(opt);
	free(ref);
	free(other);
	free(in1);
	free(in2);
}

static void
test_add_nodes_equals_reference(void)
{
	struct alt_stats_params p;

	alt_stats_params_default(&p);
	eq_run(&p, 1, 20000);
	p.topk = 4;                     /* evictions all the time, many ties */
	eq_run(&p, 2, 20000);
	p.topk = 16;
	p.max_ops = 40;                 /* op table fills up */
	eq_run(&p, 3, 20000);
	p.max_strings = 30;             /* string table fills up */
	p.string_bytes = 400;
	eq_run(&p, 4, 20000);
	p.max_strings = 12;
	p.topk = 5;
	eq_run(&p, 5, 20000);
}

/* ---- speed (printed, not asserted) ---- */

static void
test_speed(void)
{
	const unsigned n = 4000000;
	struct alt_hist *h = hist_new();
	struct alt_stats *st = stats_new(NULL);
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t s = 1, t0, t1, sink = 0;
	enum { NOPS = 200 };
	char svc[NOPS][16], op[NOPS][16];
	uint64_t sh[NOPS], oh[NOPS];
	unsigned i;

	CU_ASSERT_FATAL(v != NULL);
	for (i = 0; i < n; i++)
		v[i] = (uint64_t)exp(rng_unit(&s) * log(1e10));
	t0 = now_ns();
	for (i = 0; i < n; i++)
		alt_hist_add(h, v[i]);
	t1 = now_ns();
	printf("\n  alt_hist_add: %.2f ns/op", (double)(t1 - t0) / n);
	t0 = now_ns();
	for (i = 0; i < 1000; i++)
		sink += alt_hist_quantile(h, 0.5 + (i % 500) / 1000.0);
	t1 = now_ns();
	printf("\n  alt_hist_quantile: %.1f ns/op", (double)(t1 - t0) / 1000);

	for (i = 0; i < NOPS; i++) {
		snprintf(svc[i], 16, "service-%u", i % 23);
		snprintf(op[i], 16, "operation-%u", i);
		sh[i] = alt_hash_bytes(svc[i], strlen(svc[i]), 0);
		oh[i] = alt_hash_bytes(op[i], strlen(op[i]), 0);
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		unsigned k = (unsigned)(v[i] % NOPS);

		alt_stats_add_span(st, svc[k], (uint32_t)strlen(svc[k]), sh[k],
				   op[k], (uint32_t)strlen(op[k]), oh[k], v[i]);
	}
	t1 = now_ns();
	printf("\n  alt_stats_add_span (%u ops): %.2f ns/op", NOPS, (double)(t1 - t0) / n);

	/* pairs: skewed (a few hot edges, the usual case), then near-uniform
	 * over ~500 edges with k = 64 (almost every update evicts: worst case) */
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		unsigned k = (unsigned)(63 - __builtin_clzll(v[i] | 1)) % 23, j = (k * 7 + 3) % 23;

		alt_stats_add_pair(st, svc[k], (uint32_t)strlen(svc[k]), sh[k],
				   svc[j], (uint32_t)strlen(svc[j]), sh[j]);
	}
	t1 = now_ns();
	printf("\n  alt_stats_add_pair (hits): %.2f ns/op", (double)(t1 - t0) / n);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		unsigned k = (unsigned)(v[i] % NOPS) % 23, j = (unsigned)((v[i] >> 8) % 23);

		alt_stats_add_pair(st, svc[k], (uint32_t)strlen(svc[k]), sh[k],
				   svc[j], (uint32_t)strlen(svc[j]), sh[j]);
	}
	t1 = now_ns();
	printf("\n  alt_stats_add_pair (uniform, ~500 keys, k=64, evicting): %.2f ns/op",
	       (double)(t1 - t0) / n);

	size_t ms = alt_stats_memsize(NULL);
	uint8_t *m = malloc(ms);
	CU_ASSERT_FATAL(m != NULL);
	memset(m, 1, ms);                       /* fault the pages in */
	t0 = now_ns();
	alt_stats_reset(st, 1);
	t1 = now_ns();
	span(st, "a", "b", 1);
	pair(st, "a", "b");
	alt_stats_add_trace(st, 1, 1);
	uint64_t t2 = now_ns();
	alt_stats_reset(st, 2);
	uint64_t t3 = now_ns();
	memset(m, 0, ms);
	__asm__ __volatile__("" : : "r"(m) : "memory");
	uint64_t t4 = now_ns();
	sink += m[ms / 2];
	printf("\n  reset: %.1f us (200 ops used), %.2f us (1 op/shape/pair); memset of memsize %zu B: %.1f us",
	       (double)(t1 - t0) / 1e3, (double)(t3 - t2) / 1e3, ms, (double)(t4 - t3) / 1e3);
	CU_ASSERT_EQUAL(alt_stats_ops(st, NULL), 0);
	CU_ASSERT_EQUAL(alt_stats_top_pairs(st, NULL, 0), 0);
	printf(" (sink %llu) ", (unsigned long long)(sink & 1));
	free(m);
	free(v);
	free(h);
	free(st);
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("stats", NULL, NULL);
	if (s == NULL) {
		CU_cleanup_registry();
		return CU_get_error();
	}
	CU_add_test(s, "bucket exact below 128", test_bucket_exact_small);
	CU_add_test(s, "bucket formula and bounds", test_bucket_formula_and_bounds);
	CU_add_test(s, "bucket contiguous", test_bucket_contiguous);
	CU_add_test(s, "bucket monotone", test_bucket_monotone_random);
	CU_add_test(s, "hist empty", test_hist_empty);
	CU_add_test(s, "quantile log-uniform", test_quantile_loguniform);
	CU_add_test(s, "quantile constant/bimodal", test_quantile_constant_bimodal);
	CU_add_test(s, "quantile adversarial", test_quantile_adversarial);
	CU_add_test(s, "hist merge = union", test_hist_merge_union);
	CU_add_test(s, "params", test_params);
	CU_add_test(s, "op table", test_ops_table);
	CU_add_test(s, "many ops, reset, reuse", test_many_ops_reset_reuse);
	CU_add_test(s, "strings overflow", test_strings_overflow);
	CU_add_test(s, "shapes", test_shapes);
	CU_add_test(s, "drops", test_drops);
	CU_add_test(s, "pair same service ignored", test_pair_same_service_ignored);
	CU_add_test(s, "top-k exact when small", test_topk_exact_small);
	CU_add_test(s, "top pairs ties", test_top_pairs_ties);
	CU_add_test(s, "top-k zipf", test_topk_zipf);
	CU_add_test(s, "top-k merge", test_topk_merge);
	CU_add_test(s, "top-k merge exact", test_topk_merge_exact);
	CU_add_test(s, "stats merge = union", test_stats_merge_equals_union);
	CU_add_test(s, "merge overflow", test_merge_overflow);
	CU_add_test(s, "hist add = reference", test_hist_add_equals_reference);
	CU_add_test(s, "add_nodes = per-item calls", test_add_nodes_equals_reference);
	CU_add_test(s, "speed", test_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned f = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)f;
}
