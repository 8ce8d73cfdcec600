/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/reorder: event-time reorder buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_reorder.h"

/* ---- helpers ---- */

struct fixture {
	struct alt_pool pool;
	void *pool_mem;
	struct alt_reorder *r;
	void *r_mem;
};

static void
fx_init(struct fixture *f, uint64_t window, uint64_t bucket, uint32_t n_nodes)
{
	struct alt_reorder_params p = { .window_ns = window, .bucket_ns = bucket };
	size_t ms = alt_reorder_memsize(&p);
	size_t pm = alt_pool_memsize(sizeof(struct alt_node), n_nodes);

	CU_ASSERT_FATAL(ms != 0);
	f->r_mem = aligned_alloc(64, (ms + 63) & ~(size_t)63);
	CU_ASSERT_FATAL(f->r_mem != NULL);
	f->r = alt_reorder_init(f->r_mem, &p);
	CU_ASSERT_FATAL(f->r != NULL);
	f->pool_mem = malloc(pm);
	CU_ASSERT_FATAL(f->pool_mem != NULL);
	CU_ASSERT_FATAL(alt_pool_init(&f->pool, f->pool_mem, pm,
				      sizeof(struct alt_node), n_nodes) == 0);
}

static void
fx_fini(struct fixture *f)
{
	free(f->r_mem);
	free(f->pool_mem);
}

static struct alt_node *
mk(struct fixture *f, uint64_t t)
{
	struct alt_node *n = alt_pool_get(&f->pool);

	CU_ASSERT_FATAL(n != NULL);
	if (n == NULL)
		abort();        /* not reached; tells the optimiser n is valid */
	memset(n, 0, sizeof(*n));
	n->start_ns = t;
	return n;
}

/* Pop everything releasable into out (up to max), with a small cap to
 * exercise partial pops. */
static unsigned
pop_all(struct alt_reorder *r, struct alt_node **out, unsigned max)
{
	unsigned k = 0, got;

	do {
		unsigned cap = max - k < 7 ? max - k : 7;

		got = alt_reorder_pop(r, out + k, cap);
		k += got;
	} while (got != 0 && k < max);
	return k;
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return alt_mix64(rng_state);
}

/* ---- tests ---- */

static void
test_params(void)
{
	struct alt_reorder_params p = { .window_ns = 100, .bucket_ns = 0 };
	uint64_t mem[64];

	CU_ASSERT(alt_reorder_memsize(&p) == 0);
	CU_ASSERT(alt_reorder_init(mem, &p) == NULL);
	p.bucket_ns = 1;
	p.window_ns = (1ull << 20) + 1;
	CU_ASSERT(alt_reorder_memsize(&p) == 0);
	p.window_ns = 1ull << 20;
	CU_ASSERT(alt_reorder_memsize(&p) != 0);
	CU_ASSERT(alt_reorder_memsize(NULL) == 0);
	p.window_ns = 0;        /* no reordering at all is valid */
	CU_ASSERT(alt_reorder_memsize(&p) != 0);
}

static void
test_in_order(void)
{
	struct fixture f;
	struct alt_node *out[2000];
	unsigned k;

	fx_init(&f, 100, 10, 2000);
	CU_ASSERT(alt_reorder_watermark(f.r) == 0);
	CU_ASSERT(alt_reorder_pop(f.r, out, 10) == 0);
	for (uint64_t t = 0; t < 1000; t++)
		CU_ASSERT(alt_reorder_push(f.r, mk(&f, t)) == 0);
	CU_ASSERT(alt_reorder_max_seen(f.r) == 999);
	CU_ASSERT(alt_reorder_watermark(f.r) == 899);
	k = pop_all(f.r, out, 2000);
	/* buckets below 899 / 10 = 89 are out: times 0..889 */
	CU_ASSERT(k == 890);
	for (unsigned i = 0; i < k; i++)
		CU_ASSERT(out[i]->start_ns == i);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 2000);
	CU_ASSERT(k == 110);
	for (unsigned i = 0; i < k; i++)
		CU_ASSERT(out[i]->start_ns == 890 + i);
	fx_fini(&f);
}

static void
test_shuffled_window(void)
{
	enum { N = 20000 };
	struct fixture f;
	struct alt_node **out = malloc(N * sizeof(*out));
	uint64_t *ts = malloc(N * sizeof(*ts));
	unsigned k = 0;
	struct alt_reorder_stats st;

	fx_init(&f, 1000, 10, N);
	rng_state = 7;
	/* times in order, then shuffled inside blocks of 150 (750 ns < window) */
	for (unsigned i = 0; i < N; i++)
		ts[i] = 5000 + (uint64_t)i * 5;
	for (unsigned blk = 0; blk < N; blk += 150) {
		unsigned len = N - blk < 150 ? N - blk : 150;

		for (unsigned i = len - 1; i > 0; i--) {
			unsigned j = (unsigned)(rnd() % (i + 1));
			uint64_t x = ts[blk + i];

			ts[blk + i] = ts[blk + j];
			ts[blk + j] = x;
		}
	}
	for (unsigned i = 0; i < N; i++) {
		CU_ASSERT(alt_reorder_push(f.r, mk(&f, ts[i])) == 0);
		if (i % 37 == 0)
			k += pop_all(f.r, out + k, N - k);
	}
	alt_reorder_get_stats(f.r, &st);
	CU_ASSERT(st.late == 0);
	alt_reorder_flush(f.r);
	k += pop_all(f.r, out + k, N - k);
	CU_ASSERT(k == N);
	for (unsigned i = 1; i < k; i++)
		CU_ASSERT(out[i - 1]->start_ns / 10 <= out[i]->start_ns / 10);
	alt_reorder_get_stats(f.r, &st);
	CU_ASSERT(st.pushed == N && st.released == N && st.buffered == 0);
	CU_ASSERT(st.buffered_peak > 0);
	free(out);
	free(ts);
	fx_fini(&f);
}

static void
test_late_boundary(void)
{
	struct fixture f;
	struct alt_node *a, *out[8];
	struct alt_reorder_stats st;

	fx_init(&f, 100, 10, 16);
	/* the very first push is never late, however small */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1000)) == 0);
	CU_ASSERT(alt_reorder_watermark(f.r) == 900);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 900)) == 0);     /* at the watermark */
	a = mk(&f, 899);
	a->next = (struct alt_node *)(uintptr_t)0x1234;
	CU_ASSERT(alt_reorder_push(f.r, a) == 1);               /* just below */
	CU_ASSERT(a->next == (struct alt_node *)(uintptr_t)0x1234); /* untouched */
	/* a late push does not move max_seen */
	CU_ASSERT(alt_reorder_max_seen(f.r) == 1000);
	/* bucket 90 holds 900: not below the watermark's bucket (90) yet */
	CU_ASSERT(alt_reorder_pop(f.r, out, 8) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1009)) == 0);    /* wm 909: same bucket */
	CU_ASSERT(alt_reorder_pop(f.r, out, 8) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1010)) == 0);    /* wm 910: bucket 91 */
	CU_ASSERT(alt_reorder_pop(f.r, out, 8) == 1);
	CU_ASSERT(out[0]->start_ns == 900);
	alt_reorder_get_stats(f.r, &st);
	CU_ASSERT(st.late == 1 && st.pushed == 4 && st.released == 1 && st.buffered == 3);
	fx_fini(&f);
}

static void
test_many_buckets(void)
{
	enum { N = 50000 };
	struct fixture f;
	struct alt_node **out = malloc(N * sizeof(*out));
	unsigned k = 0;

	/* 1000 buckets in the window; the run covers ~50 ring spans */
	fx_init(&f, 1000000, 1000, N);
	rng_state = 11;
	for (unsigned i = 0; i < N; i++) {
		uint64_t base = (uint64_t)i * 1000;
		uint64_t t = base > 900000 ? base - rnd() % 900000 : base;

		CU_ASSERT(alt_reorder_push(f.r, mk(&f, t)) == 0);
		if (rnd() % 64 == 0)
			k += pop_all(f.r, out + k, N - k);
	}
	alt_reorder_flush(f.r);
	k += pop_all(f.r, out + k, N - k);
	CU_ASSERT(k == N);
	for (unsigned i = 1; i < k; i++)
		CU_ASSERT(out[i - 1]->start_ns / 1000 <= out[i]->start_ns / 1000);
	free(out);
	fx_fini(&f);
}

static void
test_jump(void)
{
	struct fixture f;
	struct alt_node *out[64];
	unsigned k;

	fx_init(&f, 100, 10, 64);       /* ring of 64 buckets = 640 ns */
	for (uint64_t t = 0; t < 20; t++)
		alt_reorder_push(f.r, mk(&f, 50 + t * 3));
	/* jump by far more than the ring span without popping in between */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1000000000000ull)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1000000000000ull - 100)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1000000000000ull - 101)) == 1);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 20);
	for (unsigned i = 0; i < k; i++)
		CU_ASSERT(out[i]->start_ns == 50 + i * 3);
	/* second jump, this time with a pop in between pushes */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 3000000000000ull)) == 0);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 2);
	CU_ASSERT(out[0]->start_ns == 1000000000000ull - 100);
	CU_ASSERT(out[1]->start_ns == 1000000000000ull);
	/* a jump of just over the ring span with buffered nodes at both ends */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 3000000000000ull + 650)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 3000000000000ull + 560)) == 0);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 1 && out[0]->start_ns == 3000000000000ull);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 2);
	CU_ASSERT(out[0]->start_ns == 3000000000000ull + 560);
	fx_fini(&f);
}

static void
test_bucket_sizes(void)
{
	struct fixture f;
	struct alt_node *out[4096];
	unsigned k;

	/* 1 ns buckets: exact time order */
	fx_init(&f, 1000, 1, 4096);
	rng_state = 3;
	for (unsigned i = 0; i < 3000; i++)
		CU_ASSERT(alt_reorder_push(f.r, mk(&f, 10000 + i - rnd() % 900)) == 0);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 4096);
	CU_ASSERT(k == 3000);
	for (unsigned i = 1; i < k; i++)
		CU_ASSERT(out[i - 1]->start_ns <= out[i]->start_ns);
	fx_fini(&f);

	/* 1 s buckets, 2 s window, nanosecond timestamps near 9e18 */
	fx_init(&f, 2000000000ull, 1000000000ull, 4096);
	uint64_t base = 9000000000000000000ull;   /* a multiple of 1 s */
	for (unsigned i = 0; i < 100; i++)
		CU_ASSERT(alt_reorder_push(f.r, mk(&f, base + (uint64_t)i * 100000000ull)) == 0);
	/* max 9.9 s -> wm 7.9 s -> buckets 0..6 s released: 70 nodes */
	k = pop_all(f.r, out, 4096);
	CU_ASSERT(k == 70);
	for (unsigned i = 0; i < k; i++)
		CU_ASSERT(out[i]->start_ns == base + (uint64_t)i * 100000000ull);
	fx_fini(&f);
}

static void
test_extremes(void)
{
	struct fixture f;
	struct alt_node *out[64];
	unsigned k;

	/* near 0: watermark saturates at 0, nothing is late */
	fx_init(&f, 1000, 1, 64);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 5)) == 0);
	CU_ASSERT(alt_reorder_watermark(f.r) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 0)) == 0);
	CU_ASSERT(alt_reorder_pop(f.r, out, 64) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1001)) == 0);   /* wm 1 */
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 1 && out[0]->start_ns == 0);
	fx_fini(&f);

	/* near UINT64_MAX with 1 ns buckets */
	fx_init(&f, 1000, 1, 64);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX - 5000)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX)) == 0);
	CU_ASSERT(alt_reorder_watermark(f.r) == UINT64_MAX - 1000);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX - 1001)) == 1);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX - 1)) == 0);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 1 && out[0]->start_ns == UINT64_MAX - 5000);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 2);
	CU_ASSERT(out[0]->start_ns == UINT64_MAX - 1 && out[1]->start_ns == UINT64_MAX);
	CU_ASSERT(alt_reorder_watermark(f.r) == UINT64_MAX);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX)) == 0);
	alt_reorder_flush(f.r);
	CU_ASSERT(alt_reorder_pop(f.r, out, 64) == 1);
	fx_fini(&f);

	/* near UINT64_MAX with a bucket size that does not divide 2^64 */
	fx_init(&f, 3000, 7, 64);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX - 2)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX - 2990)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, UINT64_MAX)) == 0);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 3 && out[0]->start_ns == UINT64_MAX - 2990);
	fx_fini(&f);
}

static void
test_flush(void)
{
	struct fixture f;
	struct alt_node *out[64];
	unsigned k;

	fx_init(&f, 100, 10, 64);
	alt_reorder_flush(f.r);                 /* before any push: no-op */
	CU_ASSERT(alt_reorder_watermark(f.r) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 500)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 450)) == 0);
	CU_ASSERT(alt_reorder_pop(f.r, out, 64) == 0);
	alt_reorder_flush(f.r);
	CU_ASSERT(alt_reorder_watermark(f.r) == 500);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 2 && out[0]->start_ns == 450 && out[1]->start_ns == 500);
	/* after flush: input complete up to max_seen */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 499)) == 1);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 500)) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 550)) == 0);
	CU_ASSERT(alt_reorder_watermark(f.r) == 500);   /* floor holds */
	CU_ASSERT(alt_reorder_pop(f.r, out, 64) == 0);
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 620)) == 0); /* wm 520 */
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 1 && out[0]->start_ns == 500);
	alt_reorder_flush(f.r);
	k = pop_all(f.r, out, 64);
	CU_ASSERT(k == 2 && out[0]->start_ns == 550 && out[1]->start_ns == 620);
	alt_reorder_flush(f.r);
	CU_ASSERT(alt_reorder_pop(f.r, out, 64) == 0);
	fx_fini(&f);
}

/* ---- reference model ---- */

struct mnode {
	uint64_t t;
	uint64_t seq;
	struct alt_node *n;
};

struct model {
	uint64_t window, bucket;
	bool started;
	uint64_t max_seen, floor;
	struct mnode *buf;      /* buffered */
	unsigned nbuf;
	struct alt_node **q;    /* released, not yet popped */
	unsigned qh, qn;
	uint64_t seq;
};

static uint64_t
m_wm(const struct model *m)
{
	uint64_t w;

	if (!m->started)
		return 0;
	w = m->max_seen >= m->window ? m->max_seen - m->window : 0;
	return w < m->floor ? m->floor : w;
}

static int
mcmp(const void *a, const void *b)
{
	const struct mnode *x = a, *y = b;

	if (x->t != y->t) {
		/* caller pre-divided: t holds the bucket index here */
		return x->t < y->t ? -1 : 1;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Move buffered nodes whose bucket is below limit_idx (all if all) to q in
 * (bucket, arrival) order. */
static void
m_release(struct model *m, uint64_t limit_idx, bool all)
{
	struct mnode *tmp = malloc((m->nbuf + 1) * sizeof(*tmp));
	unsigned nt = 0, keep = 0;

	for (unsigned i = 0; i < m->nbuf; i++) {
		uint64_t b = m->buf[i].t / m->bucket;

		if (all || b < limit_idx) {
			tmp[nt] = m->buf[i];
			tmp[nt].t = b;
			nt++;
		} else {
			m->buf[keep++] = m->buf[i];
		}
	}
	m->nbuf = keep;
	qsort(tmp, nt, sizeof(*tmp), mcmp);
	for (unsigned i = 0; i < nt; i++)
		m->q[m->qh + m->qn++] = tmp[i].n;
	free(tmp);
}

static void
run_model(uint64_t seed, uint64_t window, uint64_t bucket, uint64_t t0, unsigned ops)
{
	enum { NN = 8192 };
	struct fixture f;
	struct model m = { .window = window, .bucket = bucket };
	struct alt_node *out[64];
	uint64_t now = t0, pushed = 0, late = 0, released = 0;
	struct alt_reorder_stats st;
	uint64_t span = (window / bucket + 2) * bucket * 4;

	fx_init(&f, window, bucket, NN);
	m.buf = malloc(NN * sizeof(*m.buf));
	m.q = malloc((size_t)ops * sizeof(*m.q) + NN * sizeof(*m.q));
	rng_state = seed;
	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = rnd() % 1000;

		if (r < 650 && f.pool.avail > 0) {
			/* push around now: mostly within the window, some late */
			uint64_t back = rnd() % (window + window / 4 + 2);
			uint64_t fwd = rnd() % (bucket * 3 + 3);
			uint64_t t = now >= back ? now - back : 0;
			struct alt_node *n;
			int want, got;

			t = UINT64_MAX - t < fwd ? UINT64_MAX : t + fwd;
			if (rnd() % 3000 == 0) {        /* a jump over many ring spans */
				uint64_t j = rnd() % (span * 50);

				t = UINT64_MAX - t < j ? UINT64_MAX : t + j;
			}
			if (t > now)
				now = t;
			else if (rnd() % 2)
				now = UINT64_MAX - now < bucket / 2 ? now : now + bucket / 2 + 1;
			n = mk(&f, t);
			want = m.started && t < m_wm(&m);
			got = alt_reorder_push(f.r, n);
			CU_ASSERT_FATAL(got == want);
			if (want) {
				alt_pool_put(&f.pool, n);
				late++;
			} else {
				if (!m.started || t > m.max_seen)
					m.max_seen = t;
				m.started = true;
				m.buf[m.nbuf].t = t;
				m.buf[m.nbuf].seq = m.seq++;
				m.buf[m.nbuf].n = n;
				m.nbuf++;
				pushed++;
			}
		} else if (r < 997 || f.pool.avail == 0) {
			unsigned cap = 1 + (unsigned)(rnd() % 64);
			unsigned k, want;

			if (m.started)
				m_release(&m, m_wm(&m) / m.bucket, false);
			want = m.qn < cap ? m.qn : cap;
			k = alt_reorder_pop(f.r, out, cap);
			CU_ASSERT_FATAL(k == want);
			for (unsigned i = 0; i < k; i++) {
				CU_ASSERT_FATAL(out[i] == m.q[m.qh + i]);
				alt_pool_put(&f.pool, out[i]);
			}
			m.qh += k;
			m.qn -= k;
			released += k;
		} else {
			alt_reorder_flush(f.r);
			if (m.started) {
				m_release(&m, 0, true);
				m.floor = m.max_seen;
			}
		}
		CU_ASSERT_FATAL(alt_reorder_watermark(f.r) == m_wm(&m));
		CU_ASSERT_FATAL(alt_reorder_max_seen(f.r) == (m.started ? m.max_seen : 0));
	}
	alt_reorder_get_stats(f.r, &st);
	CU_ASSERT(st.pushed == pushed);
	CU_ASSERT(st.late == late);
	CU_ASSERT(st.released == released);
	CU_ASSERT(st.buffered == pushed - released);
	free(m.buf);
	free(m.q);
	fx_fini(&f);
}

static void
test_model(void)
{
	run_model(1, 200, 10, 0, 100000);
	run_model(2, 1000, 1, 1000000, 100000);
	run_model(3, 5000, 64, 1ull << 40, 100000);
	run_model(4, 100, 7, UINT64_MAX - 2000000, 100000);
	run_model(5, 0, 3, 12345, 100000);
	run_model(6, 200000000, 1000000, 1700000000000000000ull, 100000);
}

/* ns per push+pop with about `resident` nodes buffered (times precomputed). */
static void
speed_run(uint64_t step_ns, const char *what)
{
	enum { N = 1 << 18, TOTAL = 1 << 22, NT = 1 << 16 };
	struct fixture f;
	struct alt_node *out[64];
	struct timespec a, b;
	uint64_t *ts = malloc(NT * sizeof(*ts));
	uint64_t t = 1700000000000000000ull, total = 0;
	double ns;

	fx_init(&f, 200000000ull, 1000000ull, N);
	rng_state = 99;
	for (unsigned i = 0; i < NT; i++)
		ts[i] = rnd() % 50000000ull;    /* up to 50 ms back */
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (total < TOTAL) {
		unsigned k;

		for (unsigned i = 0; i < 32; i++) {
			struct alt_node *n = alt_pool_get(&f.pool);

			if (n == NULL)
				break;
			t += step_ns;
			n->start_ns = t - ts[total & (NT - 1)];
			if (alt_reorder_push(f.r, n) != 0)
				alt_pool_put(&f.pool, n);
			total++;
		}
		while ((k = alt_reorder_pop(f.r, out, 64)) != 0)
			for (unsigned i = 0; i < k; i++)
				alt_pool_put(&f.pool, out[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("\n    reorder push+pop, %s: %.1f ns/node over %llu nodes ", what,
	       ns / (double)total, (unsigned long long)total);
	free(ts);
	fx_fini(&f);
}

static void
test_speed(void)
{
	speed_run(100000, "~2k buffered (1 node/100us)");
	speed_run(2000, "~100k buffered (1 node/2us)");
}

/* Spans are ordered by their end (alt_node_event_ns), events by their time. */
static void
test_event_time_is_span_end(void)
{
	struct fixture f;
	struct alt_node *out[4], *a, *b;

	fx_init(&f, 100, 10, 16);
	a = mk(&f, 1000);
	a->duration_ns = 500;                   /* event time 1500 */
	b = mk(&f, 1200);                      /* a point event at 1200 */
	CU_ASSERT(alt_reorder_push(f.r, a) == 0);
	CU_ASSERT(alt_reorder_watermark(f.r) == 1400);
	CU_ASSERT(alt_reorder_push(f.r, b) == 1);       /* 1200 < 1400: late */
	CU_ASSERT(alt_reorder_push(f.r, mk(&f, 1650)) == 0);
	CU_ASSERT_FATAL(alt_reorder_pop(f.r, out, 4) == 1);
	CU_ASSERT(out[0] == a);
	fx_fini(&f);
}

/* More nodes than max_items: refused as late and counted, never lost. */
static void
test_overflow(void)
{
	struct alt_reorder_params p = { .window_ns = 1000000, .bucket_ns = 10, .max_items = 60 };
	size_t ms = alt_reorder_memsize(&p);
	void *mem = aligned_alloc(64, (ms + 63) & ~(size_t)63);
	struct alt_reorder *r = alt_reorder_init(mem, &p);
	static struct alt_node nodes[2500];
	static struct alt_node *out[2500];
	struct alt_reorder_stats st;
	unsigned buffered = 0, refused = 0, got = 0, k;

	CU_ASSERT_FATAL(r != NULL);
	memset(nodes, 0, sizeof(nodes));
	/* one bucket: 64 chunks of 30 (60/30 + min(nb, 60) + 2), then refusals */
	for (unsigned i = 0; i < 2500; i++) {
		nodes[i].start_ns = 1000000;
		if (alt_reorder_push(r, &nodes[i]) == 0)
			buffered++;
		else
			refused++;
	}
	alt_reorder_get_stats(r, &st);
	CU_ASSERT(buffered >= 60);
	CU_ASSERT(refused > 0);
	CU_ASSERT_EQUAL(st.overflow, refused);
	CU_ASSERT_EQUAL(st.late, refused);
	alt_reorder_flush(r);
	while ((k = alt_reorder_pop(r, out + got, 7)) > 0)
		got += k;
	CU_ASSERT_EQUAL(got, buffered);
	for (unsigned i = 0; i < got; i++)
		CU_ASSERT(out[i] == &nodes[i]);         /* arrival order kept */
	/* chunks came back: the same load fits again */
	for (unsigned i = 0; i < 60; i++) {
		nodes[i].start_ns = 2000000;
		CU_ASSERT(alt_reorder_push(r, &nodes[i]) == 0);
	}
	free(mem);
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("reorder", NULL, NULL);
	CU_add_test(s, "params", test_params);
	CU_add_test(s, "in_order", test_in_order);
	CU_add_test(s, "shuffled_window", test_shuffled_window);
	CU_add_test(s, "late_boundary", test_late_boundary);
	CU_add_test(s, "many_buckets", test_many_buckets);
	CU_add_test(s, "jump", test_jump);
	CU_add_test(s, "bucket_sizes", test_bucket_sizes);
	CU_add_test(s, "extremes", test_extremes);
	CU_add_test(s, "flush", test_flush);
	CU_add_test(s, "model", test_model);
	CU_add_test(s, "speed", test_speed);
	CU_add_test(s, "event_time_is_span_end", test_event_time_is_span_end);
	CU_add_test(s, "overflow", test_overflow);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)fails;
}
