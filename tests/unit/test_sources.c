/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/sources: the source table and the low watermark.
 *
 * Besides the rules one by one, two randomized checks: the table against a
 * reference model (plain arrays, linear scans) over random sources,
 * interleavings, idleness, releases and eviction; and the property that
 * matters, that no record of a source which keeps within its disorder and
 * never pauses past its timeout is ever behind the watermark, however
 * differently the sources batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include <CUnit/Basic.h>

#include "alt_sources.h"

#define MS 1000000ULL
#define S (1000 * MS)
#define T0 (1700000000ULL * S)

static struct alt_sources *
mk(const struct alt_sources_params *p, void **mem)
{
	size_t sz = alt_sources_memsize(p);
	struct alt_sources *s;

	CU_ASSERT_FATAL(sz != 0);
	*mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	CU_ASSERT_FATAL(*mem != NULL);
	s = alt_sources_init(*mem, p);
	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static void
params_nowarm(struct alt_sources_params *p)
{
	alt_sources_params_default(p);
	p->warmup_ns = 0;
	p->lag_obs = 0;         /* the rules one by one; the lag bound has its own test */
}

static void
test_params(void)
{
	struct alt_sources_params p;

	alt_sources_params_default(&p);
	CU_ASSERT(alt_sources_memsize(&p) > 0);
	p.idle_min_ns = p.idle_max_ns + 1;
	CU_ASSERT_EQUAL(alt_sources_memsize(&p), 0);
	alt_sources_params_default(&p);
	p.max_sources = 0;
	CU_ASSERT_EQUAL(alt_sources_memsize(&p), 0);
	alt_sources_params_default(&p);
	p.idle_mult = 0;
	{
		void *m = aligned_alloc(64, 64);
		CU_ASSERT_PTR_NULL(alt_sources_init(m, &p));
		free(m);
	}
}

/* The minimum over active sources; nothing heard: NONE. */
static void
test_min_over_sources(void)
{
	struct alt_sources_params p;
	void *m;
	struct alt_sources *s;

	params_nowarm(&p);
	s = mk(&p, &m);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), ALT_SOURCES_NONE);
	alt_sources_heard(s, 1, T0 + 5 * S, T0 + 5 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 5 * S - p.disorder_ns);
	alt_sources_heard(s, 2, T0 + 5 * S + 50 * MS, T0 + 5 * S + 60 * MS);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 5 * S - p.disorder_ns);
	alt_sources_heard(s, 1, T0 + 9 * S, T0 + 9 * S);
	/* source 2 now holds it */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 5 * S + 50 * MS - p.disorder_ns);
	/* a batch of older records does not lower a source's progress */
	alt_sources_heard(s, 2, T0 + 4 * S, T0 + 9 * S + 10 * MS);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 5 * S + 50 * MS - p.disorder_ns);
	free(m);
}

/* A source quiet past its adaptive timeout stops holding the watermark;
 * the timeout is idle_mult x its longest pause, idle_max while unknown. */
static void
test_idle_adaptive(void)
{
	struct alt_sources_params p;
	struct alt_sources_stats st;
	struct alt_source_info inf[4];
	void *m;
	struct alt_sources *s;
	uint64_t t = T0;

	params_nowarm(&p);
	s = mk(&p, &m);
	/* source 1 flushes every 100 ms, source 2 every second */
	for (int i = 0; i < 20; i++) {
		alt_sources_heard(s, 1, t + (uint64_t)i * 100 * MS, t + (uint64_t)i * 100 * MS + MS);
		if (i % 10 == 0)
			alt_sources_heard(s, 2, t + (uint64_t)i * 100 * MS, t + (uint64_t)i * 100 * MS + 2 * MS);
	}
	CU_ASSERT_EQUAL(alt_sources_list(s, inf, 4), 2);
	for (int i = 0; i < 2; i++) {
		if (inf[i].key == 1)
			CU_ASSERT_EQUAL(inf[i].idle_timeout_ns, p.idle_min_ns > 400 * MS ? p.idle_min_ns : 400 * MS);
		if (inf[i].key == 2)
			CU_ASSERT_EQUAL(inf[i].idle_timeout_ns, 4 * S);
	}
	/* source 2 last heard at +1.002 s with progress +0.9 s; source 1 goes on */
	t = T0 + 2 * S;
	for (int i = 0; i < 40; i++)
		alt_sources_heard(s, 1, t + (uint64_t)i * 100 * MS, t + (uint64_t)i * 100 * MS + MS);
	/* at +5.9 s source 2 has been quiet 4.9 s > 4 s: idle */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 2 * S + 39 * 100 * MS - p.disorder_ns);
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.went_idle, 1);
	CU_ASSERT_EQUAL(st.active, 1);
	/* it comes back with fresh records: active again, pause not learnt */
	alt_sources_heard(s, 2, T0 + 6 * S, T0 + 6 * S + 5 * MS);
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.returned, 1);
	CU_ASSERT_EQUAL(st.returned_behind, 0);
	CU_ASSERT_EQUAL(st.active, 2);
	CU_ASSERT_EQUAL(alt_sources_list(s, inf, 1), 1);
	CU_ASSERT_EQUAL(inf[0].key, 2);
	CU_ASSERT_EQUAL(inf[0].idle_timeout_ns, 4 * S);
	free(m);
}

/* A source heard once has an unknown cadence: idle_max. */
static void
test_unknown_cadence(void)
{
	struct alt_sources_params p;
	struct alt_sources_stats st;
	void *m;
	struct alt_sources *s;

	params_nowarm(&p);
	p.idle_max_ns = 20 * S;
	s = mk(&p, &m);
	alt_sources_heard(s, 7, T0, T0);
	alt_sources_heard(s, 7, T0 + MS, T0 + 10);      /* same flush, split */
	for (uint64_t i = 1; i <= 18; i++)
		alt_sources_heard(s, 8, T0 + i * S, T0 + i * S);
	alt_sources_clock(s, T0 + 19 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + MS - p.disorder_ns);
	alt_sources_clock(s, T0 + 21 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 18 * S - p.disorder_ns);
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.went_idle, 1);
	free(m);
}

/* Nothing active: event time follows the arrival clock. */
static void
test_quiet_follows_clock(void)
{
	struct alt_sources_params p;
	void *m;
	struct alt_sources *s;

	params_nowarm(&p);
	p.idle_max_ns = 2 * S;
	s = mk(&p, &m);
	alt_sources_heard(s, 1, T0, T0);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 - p.disorder_ns);
	alt_sources_clock(s, T0 + 2 * S);
	/* idle at T0 + 2 s exactly: follows from there */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 - p.disorder_ns);
	alt_sources_clock(s, T0 + 3 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 - p.disorder_ns + S);
	/* a source behind the watermark comes back: it holds nothing */
	alt_sources_heard(s, 1, T0 + 500 * MS, T0 + 3 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 - p.disorder_ns + S);
	alt_sources_heard(s, 1, T0 + 800 * MS, T0 + 3 * S + MS);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 - p.disorder_ns + S + MS);
	/* until it catches up */
	alt_sources_heard(s, 1, T0 + 3 * S, T0 + 3 * S + 2 * MS);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 3 * S - p.disorder_ns);
	free(m);
}

/* Warm-up holds at 0 until warmup_ns of arrival time passed, or released. */
static void
test_warmup_and_release(void)
{
	struct alt_sources_params p;
	struct alt_sources_stats st;
	void *m;
	struct alt_sources *s;

	alt_sources_params_default(&p);
	p.warmup_ns = 5 * S;
	s = mk(&p, &m);
	alt_sources_heard(s, 1, T0 + S, T0);
	alt_sources_heard(s, 2, T0 + 2 * S, T0 + 4 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), 0);
	alt_sources_heard(s, 1, T0 + 5 * S, T0 + 5 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 2 * S - p.disorder_ns);
	/* pressure: stop waiting for the slowest */
	CU_ASSERT_EQUAL(alt_sources_release(s), 0);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 5 * S - p.disorder_ns);
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.released, 1);
	free(m);

	s = mk(&p, &m);
	alt_sources_heard(s, 1, T0 + S, T0);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), 0);
	CU_ASSERT_EQUAL(alt_sources_release(s), 0);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + S - p.disorder_ns);
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.warmup_released, 1);
	free(m);
}

/* ---- reference model ---- */

struct msrc {
	bool used;
	uint64_t key, max_ev, first_arr, last_arr, max_pause, timeout, datagrams, stamp, max_lag, batches, max_dis;
	bool active;
};

struct model {
	struct alt_sources_params p;
	struct msrc *v;
	uint32_t n;
	uint64_t stamp;
	bool started, warm;
	uint64_t warm_end, now, wm, high, quiet_since, quiet_base, next_scan;
	uint64_t evicted, went_idle, released;
};

static uint64_t
m_dis(const struct model *m, const struct msrc *e)
{
	uint64_t d = e->max_dis + e->max_dis / 4;

	return d > m->p.disorder_ns ? d : m->p.disorder_ns;
}

static uint64_t
m_prog(const struct model *m, const struct msrc *e)
{
	return e->max_ev > m_dis(m, e) ? e->max_ev - m_dis(m, e) : 0;
}

static uint32_t
m_nactive(const struct model *m)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < m->p.max_sources; i++)
		k += m->v[i].used && m->v[i].active;
	return k;
}

static void
m_deactivate(struct model *m, struct msrc *e, uint64_t when)
{
	if (!e->active)
		return;
	e->active = false;
	if (m_nactive(m) == 0) {
		m->quiet_since = when;
		m->quiet_base = m->high;
	}
}

static uint64_t
m_timeout(const struct model *m, const struct msrc *e)
{
	uint64_t t;

	uint64_t c = e->max_pause;

	if (e->datagrams < 2 || e->last_arr - e->first_arr < m->p.idle_min_ns)
		return m->p.idle_max_ns;
	if (m->p.lag_obs != 0 && e->max_lag > c)
		c = e->max_lag;
	t = c > m->p.idle_max_ns / m->p.idle_mult ? m->p.idle_max_ns : c * m->p.idle_mult;
	return t < m->p.idle_min_ns ? m->p.idle_min_ns : t;
}

static uint64_t
m_lag_back(const struct model *m, const struct msrc *e)
{
	uint64_t n = e->batches < 128 ? e->batches : 127;
	double f = pow(10000.0, 1.0 / (double)n);
	uint64_t mul;

	f = f < 1.25 ? 1.25 : f > 63.0 ? 63.0 : f;
	mul = (uint64_t)(f * 1024.0 + 0.5);
	return (e->max_lag >> 10) * mul + ((e->max_lag & 1023) * mul >> 10) + m_dis(m, e);
}

static uint64_t
m_promise(const struct model *m, const struct msrc *e)
{
	uint64_t p = m_prog(m, e);

	if (m->p.lag_obs != 0 && e->batches >= m->p.lag_obs) {
		uint64_t back = m_lag_back(m, e);
		if (m->now > back && m->now - back > p)
			p = m->now - back;
	}
	return p;
}

static void
m_heard(struct model *m, uint64_t key, uint64_t minev, uint64_t ev, uint64_t arr)
{
	struct msrc *e = NULL;

	if (!m->started) {
		m->started = true;
		m->warm = m->p.warmup_ns > 0;
		m->warm_end = arr + m->p.warmup_ns;
		m->now = arr;
		m->quiet_since = arr;
		m->next_scan = arr;
	}
	if (arr > m->now)
		m->now = arr;
	else
		arr = m->now;
	for (uint32_t i = 0; i < m->p.max_sources; i++)
		if (m->v[i].used && m->v[i].key == key)
			e = &m->v[i];
	if (e == NULL) {
		for (uint32_t i = 0; i < m->p.max_sources && e == NULL; i++)
			if (!m->v[i].used)
				e = &m->v[i];
		if (e == NULL) {
			for (uint32_t i = 0; i < m->p.max_sources; i++)
				if (e == NULL || m->v[i].stamp < e->stamp)
					e = &m->v[i];
			m_deactivate(m, e, m->now);
			m->evicted++;
		}
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->key = key;
		e->first_arr = e->last_arr = arr;
		e->batches = 1;
	} else {
		uint64_t pause = arr - e->last_arr;
		uint64_t np = ev > e->max_ev ? ev : e->max_ev;

		np = np > m_dis(m, e) ? np - m_dis(m, e) : 0;
		if ((e->active || np < m->wm) && pause > e->max_pause)
			e->max_pause = pause;
		if (pause > 1000000ULL)
			e->batches++;
		e->last_arr = arr;
	}
	e->stamp = ++m->stamp;
	e->datagrams++;
	if (ev != 0 && minev <= ev && arr > minev && arr - minev > e->max_lag)
		e->max_lag = arr - minev;
	if (ev != 0 && minev <= ev && minev < e->max_ev && e->max_ev - minev > e->max_dis)
		e->max_dis = e->max_ev - minev;
	if (ev > e->max_ev)
		e->max_ev = ev;
	e->timeout = m_timeout(m, e);
	if (m_prog(m, e) > m->high)
		m->high = m_prog(m, e);
	if (!e->active && (m->warm || m_prog(m, e) >= m->wm))
		e->active = true;
}

static uint64_t
m_watermark(struct model *m)
{
	uint64_t c = UINT64_MAX;

	if (!m->started)
		return ALT_SOURCES_NONE;
	if (m->now >= m->next_scan) {
		/* oldest first, as the table's list */
		for (;;) {
			struct msrc *o = NULL;
			for (uint32_t i = 0; i < m->p.max_sources; i++) {
				struct msrc *e = &m->v[i];
				if (e->used && e->active && m->now - e->last_arr >= e->timeout &&
				    (o == NULL || e->stamp < o->stamp))
					o = e;
			}
			if (o == NULL)
				break;
			m_deactivate(m, o, o->last_arr + o->timeout);
			m->went_idle++;
		}
		m->next_scan = m->now + m->p.idle_min_ns / 8;
	}
	if (m->warm) {
		if (m->now < m->warm_end)
			return m->wm;
		m->warm = false;
	}
	for (uint32_t i = 0; i < m->p.max_sources; i++)
		if (m->v[i].used && m->v[i].active && m_promise(m, &m->v[i]) < c)
			c = m_promise(m, &m->v[i]);
	if (c == UINT64_MAX) {
		c = m->quiet_base + (m->now > m->quiet_since ? m->now - m->quiet_since : 0);
		if (c < m->high)
			c = m->high;
	}
	if (c > m->wm)
		m->wm = c;
	return m->wm;
}

static int
m_release(struct model *m)
{
	struct msrc *o = NULL;

	if (!m->started)
		return -1;
	if (m->warm) {
		m->warm = false;
		return 0;
	}
	for (uint32_t i = 0; i < m->p.max_sources; i++) {
		struct msrc *e = &m->v[i];
		if (e->used && e->active && (o == NULL || m_prog(m, e) < m_prog(m, o)))
			o = e;
	}
	if (o == NULL)
		return -1;
	/* the heap may pick any of equal progress: skip such a step */
	for (uint32_t i = 0; i < m->p.max_sources; i++)
		if (&m->v[i] != o && m->v[i].used && m->v[i].active && m_prog(m, &m->v[i]) == m_prog(m, o))
			return 2;
	m_deactivate(m, o, m->now);
	m->released++;
	return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
test_against_model(void)
{
	for (int round = 0; round < 60; round++) {
		struct alt_sources_params p;
		struct model m;
		void *mem;
		struct alt_sources *s;
		uint32_t nkeys = 2 + (uint32_t)(rnd() % 40);
		uint64_t t = T0;
		uint64_t *ev = calloc(nkeys, sizeof(uint64_t));

		alt_sources_params_default(&p);
		p.max_sources = 1 + (uint32_t)(rnd() % 24);
		p.disorder_ns = (rnd() % 200) * MS;
		p.idle_min_ns = (1 + rnd() % 300) * MS;
		p.idle_max_ns = p.idle_min_ns + (rnd() % 10000) * MS;
		p.idle_mult = 1 + (uint32_t)(rnd() % 6);
		p.warmup_ns = (round % 3 == 0) ? 0 : (rnd() % 3000) * MS;
		p.lag_obs = (uint32_t)(rnd() % 4);
		s = mk(&p, &mem);
		memset(&m, 0, sizeof(m));
		m.p = p;
		m.v = calloc(p.max_sources, sizeof(*m.v));
		CU_ASSERT_FATAL(m.v != NULL && ev != NULL);
		for (uint32_t k = 0; k < nkeys; k++)
			ev[k] = T0 - (rnd() % 2000) * MS;
		for (int step = 0; step < 4000; step++) {
			uint64_t r = rnd() % 100;

			t += (rnd() % 4 == 0) ? (rnd() % 3000) * MS : (rnd() % 50) * MS;
			if (r < 80) {
				uint32_t k = (uint32_t)(rnd() % nkeys);
				/* mostly forward, sometimes behind, sometimes empty */
				uint64_t e = rnd() % 10 == 0 ? 0 : ev[k] + (rnd() % 800) * MS - 100 * MS;
				uint64_t lo = e - (e ? (rnd() % 500) * MS : 0);
				if (e > ev[k])
					ev[k] = e;
				alt_sources_heard_span(s, 1000 + k, lo, e, t);
				m_heard(&m, 1000 + k, lo, e, t);
			} else if (r < 95) {
				alt_sources_clock(s, t);
				if (m.started && t > m.now)
					m.now = t;
			} else {
				uint64_t before_t = alt_sources_watermark(s), before_m = m_watermark(&m);
				CU_ASSERT_EQUAL_FATAL(before_t, before_m);
				int mr = m_release(&m);
				if (mr != 2)
					CU_ASSERT_EQUAL(alt_sources_release(s), mr);
			}
			uint64_t wt = alt_sources_watermark(s), wmod = m_watermark(&m);
			if (wt != wmod)
				fprintf(stderr, "round %d step %d: table %llu model %llu\n", round, step,
					(unsigned long long)wt, (unsigned long long)wmod);
			CU_ASSERT_EQUAL_FATAL(wt, wmod);
		}
		struct alt_sources_stats st;
		alt_sources_get_stats(s, &st);
		CU_ASSERT_EQUAL(st.evicted, m.evicted);
		CU_ASSERT_EQUAL(st.went_idle, m.went_idle);
		CU_ASSERT_EQUAL(st.active, m_nactive(&m));
		free(m.v);
		free(ev);
		free(mem);
	}
}

/* The property: senders that batch very differently (flush intervals from
 * 50 ms to 10 s, some only when full), each in its own event-time order
 * within the disorder, never pausing past their timeout: none of their
 * records is ever behind the watermark. */
static void
test_batching_senders_never_late(void)
{
	enum { NS = 30 };
	struct alt_sources_params p;
	void *mem;
	struct alt_sources *s;
	uint64_t flush[NS], next[NS], pending_min[NS], pending_max[NS];
	uint64_t late = 0, checked = 0;

	alt_sources_params_default(&p);
	s = mk(&p, &mem);
	for (int i = 0; i < NS; i++) {
		/* log-uniform 50 ms .. 10 s */
		double f = 50.0 * MS;
		for (int k = rnd() % 8; k > 0; k--)
			f *= 2.1;
		flush[i] = (uint64_t)f;
		next[i] = T0 + rnd() % flush[i];
		pending_min[i] = UINT64_MAX;
		pending_max[i] = 0;
	}
	/* every ms of true time each sender may finish a span; it flushes on
	 * its timer; arrival = flush time + up to 2 ms in transit */
	for (uint64_t t = T0; t < T0 + 120 * S; t += MS) {
		for (int i = 0; i < NS; i++) {
			if (rnd() % 20 == 0) {
				/* a span ended up to 30 ms ago (disorder within the sender) */
				uint64_t ev = t - (rnd() % 30) * MS;
				if (ev < pending_min[i])
					pending_min[i] = ev;
				if (ev > pending_max[i])
					pending_max[i] = ev;
			}
			if (t >= next[i]) {
				next[i] += flush[i];
				if (pending_max[i] == 0)
					continue;
				uint64_t arr = t + rnd() % (2 * MS);
				uint64_t w = alt_sources_watermark(s);
				if (w != ALT_SOURCES_NONE) {
					checked++;
					late += pending_min[i] < w;
				}
				alt_sources_heard_span(s, (uint64_t)i + 1, pending_min[i], pending_max[i], arr);
				pending_min[i] = UINT64_MAX;
				pending_max[i] = 0;
			}
		}
		alt_sources_clock(s, t);
	}
	CU_ASSERT(checked > 1000);
	CU_ASSERT_EQUAL(late, 0);
	/* and the watermark did advance: no more than the slowest flush behind */
	CU_ASSERT(alt_sources_watermark(s) > T0 + 120 * S - 12 * S);
	free(mem);
}

/* The lag bound: a source that showed its lag holds the watermark no
 * further back than the clock less 5/4 of its largest lag while quiet. */
static void
test_lag_bound(void)
{
	struct alt_sources_params p;
	void *m;
	struct alt_sources *s;

	alt_sources_params_default(&p);
	p.warmup_ns = 0;
	p.lag_obs = 3;
	s = mk(&p, &m);
	/* source 1: flushes every 10 ms, records up to 80 ms old (128
	 * payloads: the margin is down to 5/4) */
	for (uint64_t i = 0; i < 128; i++) {
		uint64_t at = T0 + 265 * MS + i * 5 * MS;   /* the last at T0 + 900 ms */
		alt_sources_heard_span(s, 1, at - 80 * MS, at - 5 * MS, at);
	}
	/* source 2: busy, far ahead */
	alt_sources_heard_span(s, 2, T0 + 990 * MS, T0 + 999 * MS, T0 + S);
	/* at T0 + 1 s source 1 has been quiet 100 ms (its idle timeout is
	 * 4 x 80 ms): it promises the clock less 100 ms (5/4 x 80 ms) less
	 * the disorder, later than its progress */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + S - 100 * MS - p.disorder_ns);
	alt_sources_clock(s, T0 + 1200 * MS);
	/* source 1 promises T0 + 1.05 s now; source 2's progress is lower */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 999 * MS - p.disorder_ns);
	/* fewer payloads than lag_obs: only its progress */
	alt_sources_heard_span(s, 3, T0 + 1500 * MS, T0 + 1500 * MS, T0 + 2 * S);
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 999 * MS - p.disorder_ns);
	free(m);
}

/* Eviction: a full table forgets the least recently heard source. */
static void
test_eviction(void)
{
	struct alt_sources_params p;
	struct alt_sources_stats st;
	struct alt_source_info inf[8];
	void *m;
	struct alt_sources *s;

	params_nowarm(&p);
	p.max_sources = 4;
	s = mk(&p, &m);
	for (uint64_t k = 1; k <= 4; k++)
		alt_sources_heard(s, k, T0 + k * S, T0 + k * MS);
	alt_sources_heard(s, 1, T0 + 6 * S, T0 + 10 * MS);
	alt_sources_heard(s, 9, T0 + 7 * S, T0 + 11 * MS);  /* evicts 2 */
	alt_sources_get_stats(s, &st);
	CU_ASSERT_EQUAL(st.evicted, 1);
	CU_ASSERT_EQUAL(st.known, 4);
	CU_ASSERT_EQUAL(alt_sources_list(s, inf, 8), 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT(inf[i].key != 2);
	/* 3 now holds the watermark */
	CU_ASSERT_EQUAL(alt_sources_watermark(s), T0 + 3 * S - p.disorder_ns);
	free(m);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sources", NULL, NULL);
	CU_add_test(s, "parameters", test_params);
	CU_add_test(s, "minimum over sources", test_min_over_sources);
	CU_add_test(s, "adaptive idle timeout", test_idle_adaptive);
	CU_add_test(s, "unknown cadence", test_unknown_cadence);
	CU_add_test(s, "quiet input follows the clock", test_quiet_follows_clock);
	CU_add_test(s, "warm-up and release", test_warmup_and_release);
	CU_add_test(s, "eviction", test_eviction);
	CU_add_test(s, "lag bound", test_lag_bound);
	CU_add_test(s, "reference model", test_against_model);
	CU_add_test(s, "batching senders never late", test_batching_senders_never_late);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
