/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/session: sessionization, timer wheel, closed cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_session.h"

/* ---- helpers ---- */

struct fixture {
	struct alt_pool np, xp;
	void *np_mem, *xp_mem, *s_mem;
	struct alt_session *s;
	struct alt_session_params p;
};

static void
small_params(struct alt_session_params *p)
{
	alt_session_params_default(p);
	p->gap_ns = 1000;
	p->close_grace_ns = 100;
	p->tick_ns = 10;
	p->wheel_slots = 64;
	p->max_traces = 16;
	p->max_nodes_per_trace = 8;
	p->closed_cache = 16;
	p->closed_ttl_ns = 10000;
}

static void
fx_init(struct fixture *f, const struct alt_session_params *p, uint32_t n_nodes)
{
	size_t ms = alt_session_memsize(p);
	size_t nm = alt_pool_memsize(sizeof(struct alt_node), n_nodes);
	size_t xm = alt_pool_memsize(sizeof(struct alt_parent_ext), n_nodes);

	f->p = *p;
	CU_ASSERT_FATAL(ms != 0);
	f->s_mem = aligned_alloc(64, (ms + 63) & ~(size_t)63);
	f->np_mem = malloc(nm);
	f->xp_mem = malloc(xm);
	CU_ASSERT_FATAL(f->s_mem && f->np_mem && f->xp_mem);
	CU_ASSERT_FATAL(alt_pool_init(&f->np, f->np_mem, nm, sizeof(struct alt_node), n_nodes) == 0);
	CU_ASSERT_FATAL(alt_pool_init(&f->xp, f->xp_mem, xm, sizeof(struct alt_parent_ext), n_nodes) == 0);
	f->s = alt_session_init(f->s_mem, p, &f->np, &f->xp);
	CU_ASSERT_FATAL(f->s != NULL);
}

static void
fx_fini(struct fixture *f)
{
	free(f->s_mem);
	free(f->np_mem);
	free(f->xp_mem);
}

/* A node of trace tid with node ID nid, start t, np parents from par[]. */
static struct alt_node *
mkp(struct fixture *f, uint64_t tid, uint64_t nid, uint64_t t, unsigned np,
    const uint64_t *par, uint16_t flags)
{
	struct alt_node *n = alt_pool_get(&f->np);

	CU_ASSERT_FATAL(n != NULL);
	memset(n, 0, sizeof(*n));
	n->trace_id.hi = tid * 3;
	n->trace_id.lo = tid;
	n->node_id = nid;
	n->start_ns = t;
	n->parent_count = (uint8_t)np;
	n->flags = flags;
	if (np >= 1)
		n->parent0 = par[0];
	if (np >= 2) {
		n->more = alt_pool_get(&f->xp);
		CU_ASSERT_FATAL(n->more != NULL);
		for (unsigned i = 1; i < np; i++)
			n->more->ids[i - 1] = par[i];
	}
	return n;
}

static struct alt_node *
mk(struct fixture *f, uint64_t tid, uint64_t nid, uint64_t t)
{
	return mkp(f, tid, nid, t, 0, NULL, 0);
}

/* Poll everything closed into out (max entries). */
static unsigned
poll(struct fixture *f, struct alt_trace **out, unsigned max)
{
	unsigned k = 0, got;

	do {
		got = alt_session_poll_closed(f->s, out + k, max - k < 5 ? max - k : 5);
		k += got;
	} while (got != 0 && k < max);
	return k;
}

static void
release_all(struct fixture *f, struct alt_trace **v, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		alt_session_release(f->s, v[i]);
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
	struct alt_session_params p;

	alt_session_params_default(&p);
	CU_ASSERT(p.gap_ns == 2000000000ull && p.close_grace_ns == 50000000ull);
	CU_ASSERT(p.tick_ns == 1000000ull && p.wheel_slots == 4096);
	CU_ASSERT(p.max_traces == 65536 && p.max_nodes_per_trace == 4096);
	CU_ASSERT(p.closed_cache == 65536 && p.closed_ttl_ns == 4 * p.gap_ns);
	CU_ASSERT(alt_session_memsize(&p) != 0);
	p.wheel_slots = 100;
	CU_ASSERT(alt_session_memsize(&p) == 0);
	p.wheel_slots = 64;
	p.tick_ns = 0;
	CU_ASSERT(alt_session_memsize(&p) == 0);
	CU_ASSERT(strcmp(alt_closed_by_name(ALT_CLOSED_GAP), "gap") == 0);
	CU_ASSERT(strcmp(alt_closed_by_name(ALT_CLOSED_CLOSES_TRACE), "closes_trace") == 0);
	CU_ASSERT(strcmp(alt_closed_by_name(ALT_CLOSED_DRAIN), "drain") == 0);
	CU_ASSERT(strcmp(alt_closed_by_name(ALT_CLOSED_PRESSURE), "pressure") == 0);
}

static void
test_gap_exact(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];

	small_params(&p);
	fx_init(&f, &p, 64);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 1, 1, 100), false) == ALT_SESS_ADDED);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 1, 2, 90), false) == ALT_SESS_ADDED);
	alt_session_advance(f.s, 500);
	alt_session_advance(f.s, 1099);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 1100);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_GAP);
	CU_ASSERT(v[0]->closed_at_ns == 1100);
	CU_ASSERT(v[0]->n_nodes == 2);
	CU_ASSERT(v[0]->first_ns == 90 && v[0]->last_ns == 100);
	CU_ASSERT(v[0]->trace_id.lo == 1 && v[0]->trace_id.hi == 3);
	CU_ASSERT(v[0]->nodes->node_id == 2);   /* most recent first */
	release_all(&f, v, 1);
	CU_ASSERT(f.np.avail == f.np.n);
	fx_fini(&f);
}

/* A span's event time is its end: the gap counts from start + duration. */
static void
test_gap_from_span_end(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	struct alt_node *n;

	small_params(&p);
	fx_init(&f, &p, 64);
	n = mk(&f, 1, 1, 100);
	n->duration_ns = 400;                   /* ends at 500 */
	CU_ASSERT(alt_session_add(f.s, n, false) == ALT_SESS_ADDED);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 1, 2, 200), false) == ALT_SESS_ADDED);
	alt_session_advance(f.s, 1499);         /* 500 + gap - 1 */
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 1500);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->first_ns == 100 && v[0]->last_ns == 500);
	release_all(&f, v, 1);
	fx_fini(&f);
}

static void
test_gap_rearm(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	struct alt_session_stats st;

	small_params(&p);
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mk(&f, 7, 1, 100), false);
	alt_session_advance(f.s, 600);
	alt_session_add(f.s, mk(&f, 7, 2, 600), false);
	alt_session_advance(f.s, 1099);
	alt_session_add(f.s, mk(&f, 7, 3, 1050), false);
	alt_session_advance(f.s, 1100);         /* the first deadline passes */
	alt_session_advance(f.s, 1599);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 2049);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 2050);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->n_nodes == 3 && v[0]->closed_by == ALT_CLOSED_GAP);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.traces_opened == 1 && st.traces_closed[ALT_CLOSED_GAP] == 1);
	CU_ASSERT(st.open == 0 && st.open_peak == 1);
	release_all(&f, v, 1);
	fx_fini(&f);
}

static void
test_closer_complete(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	uint64_t par1[] = { 1 }, par12[] = { 1, 2 };

	small_params(&p);
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mkp(&f, 5, 2, 105, 1, par1, 0), false);
	alt_session_add(f.s, mkp(&f, 5, 1, 100, 0, NULL, ALT_RF_CLOSES_TRACE), false);
	alt_session_add(f.s, mkp(&f, 5, 3, 110, 2, par12, 0), false);
	/* grace from last_ns at the closer's arrival: 105 + 100 */
	alt_session_advance(f.s, 204);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 205);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_CLOSES_TRACE);
	CU_ASSERT(v[0]->has_closer == 1 && v[0]->n_nodes == 3);
	release_all(&f, v, 1);
	CU_ASSERT(f.np.avail == f.np.n && f.xp.avail == f.xp.n);
	fx_fini(&f);
}

static void
test_closer_missing_parent(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	uint64_t par1[] = { 1 }, par99[] = { 1, 99 };

	small_params(&p);
	fx_init(&f, &p, 64);
	/* trace 5: a parent stays missing -> gap */
	alt_session_add(f.s, mkp(&f, 5, 1, 100, 0, NULL, ALT_RF_CLOSES_TRACE), false);
	alt_session_add(f.s, mkp(&f, 5, 2, 110, 2, par99, 0), false);
	/* trace 6: the missing parent arrives after the first check */
	alt_session_add(f.s, mkp(&f, 6, 1, 100, 0, NULL, ALT_RF_CLOSES_TRACE), false);
	alt_session_add(f.s, mkp(&f, 6, 2, 110, 1, (uint64_t[]){ 77 }, 0), false);
	alt_session_advance(f.s, 300);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_add(f.s, mkp(&f, 6, 77, 300, 1, par1, 0), false);
	alt_session_advance(f.s, 399);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 400);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->trace_id.lo == 6 && v[0]->closed_by == ALT_CLOSED_CLOSES_TRACE);
	release_all(&f, v, 1);
	alt_session_advance(f.s, 1109);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 1110);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->trace_id.lo == 5 && v[0]->closed_by == ALT_CLOSED_GAP);
	CU_ASSERT(v[0]->has_closer == 1);
	release_all(&f, v, 1);
	CU_ASSERT(f.np.avail == f.np.n && f.xp.avail == f.xp.n);
	fx_fini(&f);
}

/* defer_completeness: the grace closes without looking at parents; the
 * caller reopens an incomplete trace, which then waits for its gap (or for a
 * later node's grace) and is never lost or emitted twice. */
static void
test_closer_deferred_reopen(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_session_stats st;
	struct alt_trace *v[4];
	uint64_t par99[] = { 99 };

	small_params(&p);
	p.defer_completeness = true;
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mkp(&f, 5, 1, 100, 0, NULL, ALT_RF_CLOSES_TRACE), false);
	alt_session_add(f.s, mkp(&f, 5, 2, 110, 1, par99, 0), false);
	alt_session_advance(f.s, 300);          /* grace 110 + 100 passed */
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_CLOSES_TRACE);
	CU_ASSERT(alt_session_reopen(f.s, v[0]) == 0);
	CU_ASSERT(alt_session_reopen(f.s, v[0]) == -EINVAL);    /* open now */
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.open == 1 && st.reopened == 1 && st.traces_closed[ALT_CLOSED_CLOSES_TRACE] == 0);
	/* a record of it joins the reopened trace, not a late fragment */
	CU_ASSERT(alt_session_add(f.s, mkp(&f, 5, 3, 320, 1, (uint64_t[]){ 1 }, 0), false) == ALT_SESS_ADDED);
	alt_session_advance(f.s, 419);          /* new grace: 320 + 100 */
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 420);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_CLOSES_TRACE && v[0]->n_nodes == 3);
	CU_ASSERT(alt_session_reopen(f.s, v[0]) == 0);          /* still missing 99 */
	alt_session_advance(f.s, 1319);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 1320);         /* gap: 320 + 1000 */
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_GAP && v[0]->n_nodes == 3);
	release_all(&f, v, 1);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.open == 0 && st.traces_closed[ALT_CLOSED_GAP] == 1 && st.reopened == 2);
	CU_ASSERT(f.np.avail == f.np.n);
	fx_fini(&f);
}

static void
test_late_fragment(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	struct alt_session_stats st;

	small_params(&p);
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mk(&f, 9, 1, 100), false);
	alt_session_advance(f.s, 1100);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	release_all(&f, v, 1);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.closed_cache_used == 1);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 9, 2, 150), true) == ALT_SESS_ADDED_LATE_FRAGMENT);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 9, 3, 160), true) == ALT_SESS_ADDED_LATE_FRAGMENT);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 10, 1, 1100), false) == ALT_SESS_ADDED);
	alt_session_advance(f.s, 1160);         /* fragment: last 160 + gap */
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->flags & ALT_TF_LATE_FRAGMENT);
	CU_ASSERT(v[0]->n_nodes == 2 && v[0]->late_records == 2);
	CU_ASSERT(v[0]->nodes->flags & ALT_NF_LATE);
	release_all(&f, v, 1);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.late_fragments == 1 && st.traces_opened == 3);
	/* after closed_ttl_ns the ID is forgotten: a plain trace again */
	alt_session_advance(f.s, 1160 + 10000);
	CU_ASSERT(poll(&f, v, 4) == 1);         /* trace 10 */
	release_all(&f, v, 1);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.closed_cache_used == 1);   /* only trace 10's entry is live */
	CU_ASSERT(alt_session_add(f.s, mk(&f, 9, 4, 11200), false) == ALT_SESS_ADDED);
	alt_session_drain(f.s);
	CU_ASSERT(poll(&f, v, 4) == 1);
	CU_ASSERT(!(v[0]->flags & ALT_TF_LATE_FRAGMENT));
	release_all(&f, v, 1);
	fx_fini(&f);
}

static void
test_closed_cache_evict(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[64];

	small_params(&p);
	p.closed_cache = 4;
	p.max_traces = 32;
	fx_init(&f, &p, 64);
	for (uint64_t i = 1; i <= 6; i++)
		alt_session_add(f.s, mk(&f, i, 1, 100), false);
	alt_session_drain(f.s);
	release_all(&f, v, poll(&f, v, 64));
	/* 1 and 2 were pushed out by newer closes */
	CU_ASSERT(alt_session_add(f.s, mk(&f, 1, 2, 200), false) == ALT_SESS_ADDED);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 3, 2, 200), false) == ALT_SESS_ADDED_LATE_FRAGMENT);
	alt_session_drain(f.s);
	release_all(&f, v, poll(&f, v, 64));
	fx_fini(&f);
}

static void
test_late_records(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	struct alt_node *n;

	small_params(&p);
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mk(&f, 4, 1, 500), false);
	n = mk(&f, 4, 2, 200);
	CU_ASSERT(alt_session_add(f.s, n, true) == ALT_SESS_ADDED);
	CU_ASSERT(n->flags & ALT_NF_LATE);
	alt_session_add(f.s, mk(&f, 4, 3, 300), true);
	alt_session_drain(f.s);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->late_records == 2 && v[0]->n_nodes == 3);
	CU_ASSERT(v[0]->first_ns == 200 && v[0]->last_ns == 500);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_DRAIN);
	release_all(&f, v, 1);
	fx_fini(&f);
}

static void
test_truncation(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];
	struct alt_session_stats st;
	uint64_t par[] = { 1, 2, 3 };

	small_params(&p);
	fx_init(&f, &p, 64);
	for (unsigned i = 0; i < 8; i++)
		CU_ASSERT(alt_session_add(f.s, mk(&f, 2, i + 1, 100 + i), false) == ALT_SESS_ADDED);
	CU_ASSERT(alt_pool_in_use(&f.np) == 8);
	CU_ASSERT(alt_session_add(f.s, mkp(&f, 2, 20, 120, 3, par, 0), false) ==
		  ALT_SESS_DROPPED_TRACE_FULL);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 2, 21, 130), false) == ALT_SESS_DROPPED_TRACE_FULL);
	CU_ASSERT(alt_pool_in_use(&f.np) == 8);
	CU_ASSERT(alt_pool_in_use(&f.xp) == 0);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.nodes_dropped_trace_full == 2 && st.truncated == 1);
	/* dropped nodes still count as activity */
	alt_session_advance(f.s, 1129);
	CU_ASSERT(poll(&f, v, 4) == 0);
	alt_session_advance(f.s, 1130);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->n_nodes == 8 && v[0]->dropped_nodes == 2);
	CU_ASSERT(v[0]->flags & ALT_TF_TRUNCATED);
	release_all(&f, v, 1);
	CU_ASSERT(f.np.avail == f.np.n);
	fx_fini(&f);
}

static void
test_pressure(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[32];
	struct alt_session_stats st;

	small_params(&p);
	fx_init(&f, &p, 128);
	for (uint64_t i = 1; i <= 16; i++)
		alt_session_add(f.s, mk(&f, i, 1, 100 + i), false);
	alt_session_add(f.s, mk(&f, 1, 2, 200), false);    /* trace 1 stays oldest */
	CU_ASSERT(poll(&f, v, 32) == 0);
	alt_session_add(f.s, mk(&f, 17, 1, 300), false);
	CU_ASSERT_FATAL(poll(&f, v, 32) == 1);
	CU_ASSERT(v[0]->trace_id.lo == 1 && v[0]->n_nodes == 2);
	CU_ASSERT(v[0]->closed_by == ALT_CLOSED_PRESSURE);
	CU_ASSERT(v[0]->flags & ALT_TF_TRUNCATED);
	release_all(&f, v, 1);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.open == 16 && st.traces_closed[ALT_CLOSED_PRESSURE] == 1 && st.truncated == 1);
	/* up to max_traces closed-but-unreleased traces fit beside the open ones */
	for (uint64_t i = 18; i <= 33; i++)
		CU_ASSERT(alt_session_add(f.s, mk(&f, i, 1, 400), false) == ALT_SESS_ADDED);
	/* beyond that a new trace cannot be opened: the node is dropped, and
	 * no trace is closed for nothing */
	CU_ASSERT(alt_session_add(f.s, mk(&f, 34, 1, 400), false) == ALT_SESS_DROPPED_TRACE_FULL);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 20, 2, 400), false) == ALT_SESS_ADDED);
	CU_ASSERT(poll(&f, v, 32) == 16);
	CU_ASSERT(v[0]->trace_id.lo == 2 && v[1]->trace_id.lo == 3);
	release_all(&f, v, 16);
	CU_ASSERT(alt_session_add(f.s, mk(&f, 34, 1, 400), false) == ALT_SESS_ADDED);
	release_all(&f, v, poll(&f, v, 32));
	alt_session_drain(f.s);
	release_all(&f, v, poll(&f, v, 32));
	CU_ASSERT(f.np.avail == f.np.n);
	fx_fini(&f);
}

static void
test_evict_oldest(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[4];

	small_params(&p);
	fx_init(&f, &p, 64);
	CU_ASSERT(alt_session_evict_oldest(f.s) == -ENOENT);
	alt_session_add(f.s, mk(&f, 1, 1, 100), false);
	alt_session_add(f.s, mk(&f, 2, 1, 50), false);
	CU_ASSERT(alt_session_evict_oldest(f.s) == 0);
	CU_ASSERT_FATAL(poll(&f, v, 4) == 1);
	CU_ASSERT(v[0]->trace_id.lo == 1 && v[0]->closed_by == ALT_CLOSED_PRESSURE);
	CU_ASSERT(v[0]->flags & ALT_TF_TRUNCATED);
	release_all(&f, v, 1);
	CU_ASSERT(alt_session_evict_oldest(f.s) == 0);
	CU_ASSERT(alt_session_evict_oldest(f.s) == -ENOENT);
	release_all(&f, v, poll(&f, v, 4));
	/* the wheel is consistent after removals */
	alt_session_advance(f.s, 100000);
	CU_ASSERT(poll(&f, v, 4) == 0);
	fx_fini(&f);
}

static void
test_drain_release(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[32];
	struct alt_session_stats st;
	uint64_t par[] = { 1, 2, 3, 4 };
	unsigned k;

	small_params(&p);
	fx_init(&f, &p, 128);
	for (uint64_t i = 1; i <= 10; i++)
		for (unsigned j = 0; j < 5; j++)
			alt_session_add(f.s, mkp(&f, i, j + 1, 100 * i + j, j % 5, par, 0), false);
	CU_ASSERT(alt_pool_in_use(&f.np) == 50 && alt_pool_in_use(&f.xp) == 30);
	alt_session_drain(f.s);
	k = poll(&f, v, 32);
	CU_ASSERT_FATAL(k == 10);
	for (unsigned i = 0; i < k; i++) {
		CU_ASSERT(v[i]->trace_id.lo == i + 1);  /* oldest first */
		CU_ASSERT(v[i]->closed_by == ALT_CLOSED_DRAIN && v[i]->n_nodes == 5);
	}
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.open == 0 && st.traces_closed[ALT_CLOSED_DRAIN] == 10);
	release_all(&f, v, k);
	CU_ASSERT(f.np.avail == f.np.n && f.xp.avail == f.xp.n);
	fx_fini(&f);
}

/* Node-pointer chunks: traces of 1, 7, 8 and 20 nodes take 1, 1, 2 and 3
 * chunks; when the chunks run out a trace falls back to its list; warming
 * any mix leaves every list intact and releasing returns every chunk. */
static void
test_warm_chunks(void)
{
	static const unsigned sizes[] = { 1, 7, 8, 20, 5 };
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[8];
	struct alt_session_stats st;
	unsigned k;

	small_params(&p);
	p.max_nodes_per_trace = 32;
	p.warm_chunks = 8;      /* the fifth trace finds none left after 7 */
	fx_init(&f, &p, 128);
	for (unsigned i = 0; i < 5; i++)
		for (unsigned j = 0; j < sizes[i]; j++)
			alt_session_add(f.s, mk(&f, i + 1, j + 1, 100 * i + j), false);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.warm_chunks_used == 8);    /* 1 + 1 + 2 + 3, then 1 of the last */
	alt_session_drain(f.s);
	k = poll(&f, v, 8);
	CU_ASSERT_FATAL(k == 5);
	alt_session_warm(v, k);
	alt_session_warm(v, 0);
	for (unsigned i = 0; i < k; i++) {
		unsigned len = 0;
		for (const struct alt_node *n = v[i]->nodes; n != NULL; n = n->next)
			len++;
		CU_ASSERT(len == sizes[v[i]->trace_id.lo - 1] && v[i]->n_nodes == len);
	}
	release_all(&f, v, k);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.warm_chunks_used == 0);
	CU_ASSERT(f.np.avail == f.np.n);
	/* chunks come back and serve new traces */
	for (unsigned j = 0; j < 14; j++)
		alt_session_add(f.s, mk(&f, 9, j + 1, 5000 + j), false);
	alt_session_get_stats(f.s, &st);
	CU_ASSERT(st.warm_chunks_used == 2);
	alt_session_drain(f.s);
	k = poll(&f, v, 8);
	CU_ASSERT_FATAL(k == 1);
	alt_session_warm(v, k);
	release_all(&f, v, k);
	fx_fini(&f);
}

static void
test_small_wheel(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[8];

	small_params(&p);
	p.wheel_slots = 4;      /* span 40 ns, gap 1000 */
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mk(&f, 1, 1, 100), false);
	alt_session_add(f.s, mk(&f, 2, 1, 133), false);
	for (uint64_t w = 0; w < 1100; w += 7) {
		alt_session_advance(f.s, w);
		CU_ASSERT(poll(&f, v, 8) == 0);
	}
	alt_session_advance(f.s, 1100);
	CU_ASSERT(poll(&f, v, 8) == 1);
	release_all(&f, v, 1);
	alt_session_advance(f.s, 1132);
	CU_ASSERT(poll(&f, v, 8) == 0);
	alt_session_advance(f.s, 1133);
	CU_ASSERT_FATAL(poll(&f, v, 8) == 1);
	CU_ASSERT(v[0]->trace_id.lo == 2);
	release_all(&f, v, 1);
	fx_fini(&f);
}

static void
test_jump(void)
{
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[16];
	unsigned k;

	small_params(&p);               /* span 640 ns */
	fx_init(&f, &p, 64);
	alt_session_add(f.s, mk(&f, 1, 1, 100), false);
	alt_session_add(f.s, mk(&f, 2, 1, 50000), false);
	alt_session_add(f.s, mk(&f, 3, 1, 99999), false);
	alt_session_add(f.s, mk(&f, 4, 1, 100001), false);
	alt_session_advance(f.s, 100999);       /* ~157 spans in one call */
	k = poll(&f, v, 16);
	CU_ASSERT(k == 3);
	for (unsigned i = 0; i < k; i++)
		CU_ASSERT(v[i]->trace_id.lo != 4 && v[i]->closed_at_ns == 100999);
	release_all(&f, v, k);
	alt_session_advance(f.s, 101000);
	CU_ASSERT(poll(&f, v, 16) == 0);
	alt_session_advance(f.s, 101001);
	CU_ASSERT(poll(&f, v, 16) == 1);
	release_all(&f, v, 1);
	/* a jump to the end of time, and a trace there */
	alt_session_add(f.s, mk(&f, 5, 1, UINT64_MAX - 10), false);
	alt_session_advance(f.s, UINT64_MAX - 1);
	CU_ASSERT(poll(&f, v, 16) == 0);
	alt_session_advance(f.s, UINT64_MAX);
	CU_ASSERT(poll(&f, v, 16) == 1);
	release_all(&f, v, 1);
	fx_fini(&f);
}

/* ---- reference model ---- */

struct mtrace {
	bool open;
	bool ever_closed;
	bool fragment;
	uint64_t last;
	uint32_t n;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
run_model(uint64_t seed, uint32_t wheel_slots, uint64_t tick_ns)
{
	enum { NT = 10000, NNODES = 1 << 17 };
	struct fixture f;
	struct alt_session_params p;
	struct mtrace *m = calloc(NT, sizeof(*m));
	struct alt_trace **v = malloc(NT * sizeof(*v));
	uint64_t *got = malloc(NT * sizeof(*got)), *want = malloc(NT * sizeof(*want));
	uint64_t now = 1000000, wm = 0, next_new = 0;
	unsigned active[256], n_active = 0;

	alt_session_params_default(&p);
	p.gap_ns = 5000;
	p.tick_ns = tick_ns;
	p.wheel_slots = wheel_slots;
	p.max_traces = NT;
	p.max_nodes_per_trace = 1 << 14;
	p.closed_cache = 1 << 19;       /* never evicts in this run */
	p.closed_ttl_ns = UINT64_MAX;
	p.warm_chunks = NNODES / 16;    /* runs out now and then */
	fx_init(&f, &p, NNODES);
	rng_state = seed;
	for (unsigned step = 0; step < 400000; step++) {
		uint64_t r = rnd() % 1000;

		if (r < 900) {
			unsigned id;
			uint64_t t;
			struct mtrace *mt;
			enum alt_session_add_result res;

			if ((n_active < 8 || rnd() % 40 == 0) && next_new < NT) {
				id = (unsigned)next_new++;
				if (n_active < 256)
					active[n_active++] = id;
				else
					active[rnd() % 256] = id;
			} else if (n_active > 0) {
				id = active[rnd() % n_active];
				if (rnd() % 200 == 0)   /* an old one, maybe closed */
					id = (unsigned)(rnd() % (next_new ? next_new : 1));
			} else {
				continue;
			}
			now += rnd() % 20;
			t = now - rnd() % 3000;
			mt = &m[id];
			res = alt_session_add(f.s, mk(&f, id + 1, step + 1, t), t < wm);
			if (!mt->open) {
				mt->open = true;
				mt->fragment = mt->ever_closed;
				mt->last = t;
				mt->n = 0;
			}
			mt->n++;
			if (t > mt->last)
				mt->last = t;
			CU_ASSERT_FATAL(res == (mt->fragment ? ALT_SESS_ADDED_LATE_FRAGMENT : ALT_SESS_ADDED));
		} else {
			unsigned k, nw = 0;
			uint64_t w = now > 2000 ? now - 2000 : 0;

			if (rnd() % 50 == 0)    /* a jump over many wheel spans */
				w += rnd() % (20 * (uint64_t)wheel_slots * tick_ns + 1);
			if (w > now)
				now = w;
			if (w < wm)
				w = wm;
			wm = w;
			alt_session_advance(f.s, w);
			k = poll(&f, v, NT);
			alt_session_warm(v, k);
			for (unsigned i = 0; i < k; i++) {
				unsigned id = (unsigned)(v[i]->trace_id.lo - 1);

				CU_ASSERT_FATAL(id < NT);
				CU_ASSERT_FATAL(m[id].open);
				CU_ASSERT_FATAL(v[i]->n_nodes == m[id].n);
				CU_ASSERT_FATAL(!!(v[i]->flags & ALT_TF_LATE_FRAGMENT) == m[id].fragment);
				CU_ASSERT_FATAL(v[i]->closed_by == ALT_CLOSED_GAP);
				got[i] = id;
			}
			for (unsigned id = 0; id < next_new; id++) {
				if (m[id].open && m[id].last + p.gap_ns <= wm) {
					want[nw++] = id;
					m[id].open = false;
					m[id].ever_closed = true;
				}
			}
			CU_ASSERT_FATAL(k == nw);
			qsort(got, k, sizeof(*got), cmp_u64);
			for (unsigned i = 0; i < k; i++)
				CU_ASSERT_FATAL(got[i] == want[i]);
			release_all(&f, v, k);
		}
	}
	alt_session_drain(f.s);
	release_all(&f, v, poll(&f, v, NT));
	CU_ASSERT(f.np.avail == f.np.n);
	{
		struct alt_session_stats st;
		alt_session_get_stats(f.s, &st);
		CU_ASSERT(st.warm_chunks_used == 0);
	}
	free(m);
	free(v);
	free(got);
	free(want);
	fx_fini(&f);
}

static void
test_model(void)
{
	run_model(1, 64, 10);           /* span 640 < gap 5000 */
	run_model(2, 4096, 1);          /* span > gap */
	run_model(3, 1, 7);             /* a single slot */
	run_model(4, 16, 1000);         /* tick > gap */
}

static void
test_speed(void)
{
	enum { N = 1 << 20, PER = 10, ACTIVE = 1000 };
	struct fixture f;
	struct alt_session_params p;
	struct alt_trace *v[256];
	struct timespec a, b;
	double ns;
	uint64_t t0 = 1700000000000000000ull;

	alt_session_params_default(&p);
	fx_init(&f, &p, 1 << 19);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < N; i++) {
		/* ACTIVE traces of PER nodes interleaved, one node per 10 us */
		unsigned grp = i / (ACTIVE * PER);
		uint64_t tid = (uint64_t)grp * ACTIVE + i % ACTIVE + 1;
		uint64_t t = t0 + (uint64_t)i * 10000;
		struct alt_node *n = alt_pool_get(&f.np);

		n->trace_id.hi = 0;
		n->trace_id.lo = tid * 0x9e3779b97f4a7c15ULL;
		n->node_id = i + 1;
		n->start_ns = t;
		n->duration_ns = 0;
		n->parent_count = 0;
		n->flags = 0;
		n->more = NULL;
		alt_session_add(f.s, n, false);
		if ((i & 63) == 63) {
			unsigned k;

			alt_session_advance(f.s, t - 200000000ull);
			while ((k = alt_session_poll_closed(f.s, v, 256)) != 0)
				release_all(&f, v, k);
		}
	}
	alt_session_drain(f.s);
	for (unsigned k; (k = alt_session_poll_closed(f.s, v, 256)) != 0;)
		release_all(&f, v, k);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("\n    session add+close+release: %.1f ns/node over %u nodes (%u traces) ",
	       ns / N, (unsigned)N, (unsigned)(N / PER));
	CU_ASSERT(f.np.avail == f.np.n);
	fx_fini(&f);
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("session", NULL, NULL);
	CU_add_test(s, "params", test_params);
	CU_add_test(s, "gap_exact", test_gap_exact);
	CU_add_test(s, "gap_rearm", test_gap_rearm);
	CU_add_test(s, "gap_from_span_end", test_gap_from_span_end);
	CU_add_test(s, "closer_complete", test_closer_complete);
	CU_add_test(s, "closer_missing_parent", test_closer_missing_parent);
	CU_add_test(s, "closer_deferred_reopen", test_closer_deferred_reopen);
	CU_add_test(s, "late_fragment", test_late_fragment);
	CU_add_test(s, "warm_chunks", test_warm_chunks);
	CU_add_test(s, "closed_cache_evict", test_closed_cache_evict);
	CU_add_test(s, "late_records", test_late_records);
	CU_add_test(s, "truncation", test_truncation);
	CU_add_test(s, "pressure", test_pressure);
	CU_add_test(s, "evict_oldest", test_evict_oldest);
	CU_add_test(s, "drain_release", test_drain_release);
	CU_add_test(s, "small_wheel", test_small_wheel);
	CU_add_test(s, "jump", test_jump);
	CU_add_test(s, "model", test_model);
	CU_add_test(s, "speed", test_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)fails;
}
