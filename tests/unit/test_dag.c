/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/dag: structure counters, orphans, duplicates, cycles,
 * critical path and list-order independence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_dag.h"

#define MAXN 4096

static struct alt_intern *g_in;
static struct alt_dag_ws *g_ws;

/* A trace under construction: nodes on a malloc'd array. */
struct tb {
	struct alt_node *v;
	struct alt_parent_ext *ext;
	uint32_t n;
};

static void
tb_init(struct tb *t)
{
	t->v = calloc(MAXN, sizeof(*t->v));
	t->ext = calloc(MAXN, sizeof(*t->ext));
	t->n = 0;
}

static void
tb_free(struct tb *t)
{
	free(t->v);
	free(t->ext);
}

static uint32_t
istr(const char *s)
{
	return alt_intern_get(g_in, s, (uint32_t)strlen(s));
}

/* Add a node; parents given as an array of np IDs. */
static struct alt_node *
tb_add(struct tb *t, uint64_t id, uint64_t start, uint64_t dur, const char *svc, const char *op,
       unsigned np, const uint64_t *par)
{
	struct alt_node *x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->node_id = id;
	x->start_ns = start;
	x->duration_ns = dur;
	x->service_id = istr(svc);
	x->operation_id = istr(op);
	x->kind = dur == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN;
	x->parent_count = (uint8_t)np;
	if (np >= 1)
		x->parent0 = par[0];
	if (np >= 2) {
		x->more = &t->ext[t->n];
		for (unsigned i = 1; i < np; i++)
			x->more->ids[i - 1] = par[i];
	}
	t->n++;
	return x;
}

static struct alt_node *
tb_add1(struct tb *t, uint64_t id, uint64_t parent, uint64_t start, uint64_t dur)
{
	return tb_add(t, id, start, dur, "svc", "op", parent ? 1 : 0, &parent);
}

/* Link the nodes in array order (or through perm) and build. */
static const struct alt_dag *
tb_build(struct tb *t, const uint32_t *perm)
{
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t a = perm ? perm[i] : i;
		t->v[a].next = i + 1 < t->n ? &t->v[perm ? perm[i + 1] : i + 1] : NULL;
	}
	if (t->n == 0)
		return alt_dag_build(g_ws, NULL, 0);
	return alt_dag_build(g_ws, &t->v[perm ? perm[0] : 0], t->n);
}

static uint32_t
idx_of(const struct alt_dag *d, uint64_t id)
{
	for (uint32_t i = 0; i < d->nodes; i++)
		if (d->v[i]->node_id == id)
			return i;
	return UINT32_MAX;
}

static void
test_empty(void)
{
	struct tb t;
	tb_init(&t);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->nodes, 0);
	CU_ASSERT_EQUAL(d->depth, 0);
	CU_ASSERT_EQUAL(d->flags, 0);
	tb_free(&t);
}

static void
test_too_big(void)
{
	size_t sz = alt_dag_ws_memsize(4);
	void *mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	struct alt_dag_ws *ws = alt_dag_ws_init(mem, 4);
	struct tb t;
	tb_init(&t);
	for (uint64_t i = 1; i <= 5; i++)
		tb_add1(&t, i, 0, 0, 1);
	tb_build(&t, NULL);
	CU_ASSERT_PTR_NULL(alt_dag_build(ws, &t.v[0], 5));
	CU_ASSERT_PTR_NOT_NULL(alt_dag_build(ws, &t.v[0], 4));
	CU_ASSERT_EQUAL(alt_dag_ws_memsize(0), 0);
	CU_ASSERT_PTR_NULL(alt_dag_ws_init(NULL, 4));
	tb_free(&t);
	free(mem);
}

static void
test_single(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 42, 0, 1000, 500);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 1);
	CU_ASSERT_EQUAL(d->edges, 0);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->orphans, 0);
	CU_ASSERT_EQUAL(d->depth, 1);
	CU_ASSERT_EQUAL(d->width, 1);
	CU_ASSERT_EQUAL(d->start_ns, 1000);
	CU_ASSERT_EQUAL(d->end_ns, 1500);
	CU_ASSERT_EQUAL(d->duration_ns, 500);
	CU_ASSERT_EQUAL(d->critical_path_ns, 500);
	CU_ASSERT_EQUAL(d->on_critical[0], 1);
	CU_ASSERT_EQUAL(d->level[0], 1);
	CU_ASSERT_EQUAL(d->n_topo, 1);
	CU_ASSERT_EQUAL(d->flags, 0);
	tb_free(&t);
}

static void
test_chain(void)
{
	struct tb t;
	tb_init(&t);
	/* 1 -> 2 -> 3 -> 4, nested intervals */
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 10, 80);
	tb_add1(&t, 3, 2, 20, 60);
	tb_add1(&t, 4, 3, 30, 10);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 4);
	CU_ASSERT_EQUAL(d->edges, 3);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->depth, 4);
	CU_ASSERT_EQUAL(d->width, 1);
	CU_ASSERT_EQUAL(d->joins, 0);
	for (uint32_t i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(d->level[i], i + 1);
		CU_ASSERT_EQUAL(d->topo[i], i);
		CU_ASSERT_EQUAL(d->on_critical[i], 1);
	}
	/* self: 20 + 20 + 50 + 10 = whole root */
	CU_ASSERT_EQUAL(d->critical_path_ns, 100);
	CU_ASSERT_EQUAL(d->par_off[4], 3);
	CU_ASSERT_EQUAL(d->par[d->par_off[3]], 2);
	CU_ASSERT_EQUAL(d->child[d->child_off[0]], 1);
	tb_free(&t);
}

static void
test_fanout(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	for (uint64_t i = 2; i <= 11; i++)
		tb_add1(&t, i, 1, 10 * (i - 2), 10);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 11);
	CU_ASSERT_EQUAL(d->edges, 10);
	CU_ASSERT_EQUAL(d->depth, 2);
	CU_ASSERT_EQUAL(d->width, 10);
	CU_ASSERT_EQUAL(d->child_off[1] - d->child_off[0], 10);
	/* children cover the root exactly: self(root) = 0, one child 10 */
	CU_ASSERT_EQUAL(d->critical_path_ns, 10);
	CU_ASSERT_EQUAL(d->on_critical[1], 1);  /* tie: smallest index */
	CU_ASSERT_EQUAL(d->on_critical[2], 0);
	tb_free(&t);
}

static void
test_diamond(void)
{
	struct tb t;
	tb_init(&t);
	uint64_t p4[2] = { 2, 3 };
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 10, 20);
	tb_add1(&t, 3, 1, 10, 50);
	tb_add(&t, 4, 70, 10, "svc", "op", 2, p4);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 4);
	CU_ASSERT_EQUAL(d->edges, 4);
	CU_ASSERT_EQUAL(d->joins, 1);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->depth, 3);
	CU_ASSERT_EQUAL(d->width, 2);
	CU_ASSERT_EQUAL(d->level[3], 3);
	CU_ASSERT_EQUAL(d->flags, 0);
	/* root self = 100 - |[10,30) u [10,60)| = 50; 3: 50 - 0 (its child is
	 * outside it) = 50; 4: 10 -> 50 + 50 + 10 */
	CU_ASSERT_EQUAL(d->critical_path_ns, 110);
	CU_ASSERT_EQUAL(d->on_critical[0], 1);
	CU_ASSERT_EQUAL(d->on_critical[1], 0);
	CU_ASSERT_EQUAL(d->on_critical[2], 1);
	CU_ASSERT_EQUAL(d->on_critical[3], 1);
	tb_free(&t);
}

static void
test_dup_parent_ref(void)
{
	struct tb t;
	tb_init(&t);
	uint64_t p[3] = { 1, 1, 99 };
	tb_add1(&t, 1, 0, 0, 10);
	tb_add(&t, 2, 0, 5, "svc", "op", 3, p);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->edges, 1);
	CU_ASSERT_EQUAL(d->joins, 0);
	CU_ASSERT_EQUAL(d->orphans, 1);
	CU_ASSERT_EQUAL(d->missing_parents, 1);
	tb_free(&t);
}

static void
test_orphans(void)
{
	struct tb t;
	tb_init(&t);
	uint64_t p5[2] = { 1, 77 };
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 99, 10, 20);     /* only parent missing: orphan, not root */
	tb_add1(&t, 3, 99, 10, 20);     /* same missing parent */
	tb_add1(&t, 4, 2, 12, 5);
	tb_add(&t, 5, 20, 5, "svc", "op", 2, p5);      /* one present, one missing */
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 5);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->orphans, 3);
	CU_ASSERT_EQUAL(d->missing_parents, 2);
	CU_ASSERT_EQUAL(d->edges, 2);
	CU_ASSERT_EQUAL(d->joins, 0);
	CU_ASSERT(d->flags & ALT_DAG_INCOMPLETE);
	CU_ASSERT_FALSE(d->flags & ALT_DAG_CYCLE);
	CU_ASSERT_EQUAL(d->missing[idx_of(d, 1)], 0);
	CU_ASSERT_EQUAL(d->missing[idx_of(d, 2)], 1);
	CU_ASSERT_EQUAL(d->missing[idx_of(d, 3)], 1);
	CU_ASSERT_EQUAL(d->missing[idx_of(d, 4)], 0);
	CU_ASSERT_EQUAL(d->missing[idx_of(d, 5)], 1);
	/* orphans start a level of their own */
	CU_ASSERT_EQUAL(d->level[idx_of(d, 2)], 1);
	CU_ASSERT_EQUAL(d->level[idx_of(d, 4)], 2);
	CU_ASSERT_EQUAL(d->depth, 2);
	CU_ASSERT_EQUAL(d->width, 3);
	tb_free(&t);
}

static void
test_duplicates(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 30, 10);
	tb_add1(&t, 2, 1, 20, 10);      /* smallest start: kept */
	tb_add1(&t, 2, 1, 20, 15);
	tb_add1(&t, 3, 1, 50, 5);
	tb_add1(&t, 3, 1, 50, 5)->service_id = istr("zzz");
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 3);
	CU_ASSERT_EQUAL(d->duplicates, 3);
	CU_ASSERT(d->flags & ALT_DAG_DUPLICATE_ID);
	CU_ASSERT_PTR_EQUAL(d->v[1], &t.v[2]);
	uint32_t s0 = t.v[4].service_id, s1 = t.v[5].service_id;
	CU_ASSERT_PTR_EQUAL(d->v[2], s0 < s1 ? &t.v[4] : &t.v[5]);
	CU_ASSERT_EQUAL(d->edges, 2);
	/* reverse order: same choice */
	uint32_t perm[6] = { 5, 4, 3, 2, 1, 0 };
	d = tb_build(&t, perm);
	CU_ASSERT_EQUAL(d->duplicates, 3);
	CU_ASSERT_PTR_EQUAL(d->v[1], &t.v[2]);
	CU_ASSERT_PTR_EQUAL(d->v[2], s0 < s1 ? &t.v[4] : &t.v[5]);
	tb_free(&t);
}

static void
test_self_loop(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 10, 10);
	tb_add1(&t, 3, 3, 10, 10);      /* its own parent */
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT(d->flags & ALT_DAG_CYCLE);
	CU_ASSERT_EQUAL(d->cycle_nodes, 1);
	CU_ASSERT_EQUAL(d->level[2], 0);
	CU_ASSERT_EQUAL(d->n_topo, 2);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->depth, 2);
	CU_ASSERT_EQUAL(d->critical_path_ns, 100);
	CU_ASSERT_EQUAL(d->on_critical[2], 0);
	tb_free(&t);
}

static void
test_cycles(void)
{
	struct tb t;
	tb_init(&t);
	uint64_t p10[2] = { 1, 11 };
	/* acyclic part: 1 -> 2 -> 3 */
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 10, 50);
	tb_add1(&t, 3, 2, 20, 10);
	/* 2-cycle 10 <-> 11, 10 also a child of 1; 12 behind it */
	tb_add(&t, 10, 30, 5, "svc", "op", 2, p10);
	tb_add1(&t, 11, 10, 31, 1);
	tb_add1(&t, 12, 11, 31, 1);
	/* 3-cycle 20 -> 21 -> 22 -> 20 */
	tb_add1(&t, 20, 22, 40, 1);
	tb_add1(&t, 21, 20, 40, 1);
	tb_add1(&t, 22, 21, 40, 1);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 9);
	CU_ASSERT(d->flags & ALT_DAG_CYCLE);
	CU_ASSERT_FALSE(d->flags & ALT_DAG_INCOMPLETE);
	CU_ASSERT_EQUAL(d->cycle_nodes, 6);
	CU_ASSERT_EQUAL(d->n_topo, 3);
	CU_ASSERT_EQUAL(d->depth, 3);
	CU_ASSERT_EQUAL(d->width, 1);
	CU_ASSERT_EQUAL(d->roots, 1);
	CU_ASSERT_EQUAL(d->edges, 9);
	CU_ASSERT_EQUAL(d->joins, 1);
	for (uint64_t id = 10; id <= 22; id++) {
		uint32_t i = idx_of(d, id);
		if (i != UINT32_MAX) {
			CU_ASSERT_EQUAL(d->level[i], 0);
			CU_ASSERT_EQUAL(d->on_critical[i], 0);
		}
	}
	/* root: 100 - |[10,60) u [30,35)| = 50; 2: 50 - 10 = 40; 3: 10 */
	CU_ASSERT_EQUAL(d->critical_path_ns, 100);
	tb_free(&t);
}

static void
test_crit_overlap(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 10, 30);      /* [10,40) */
	tb_add1(&t, 3, 1, 30, 30);      /* [30,60) */
	const struct alt_dag *d = tb_build(&t, NULL);
	/* self(1) = 100 - 50; children 30 each, tie -> index 1 */
	CU_ASSERT_EQUAL(d->critical_path_ns, 80);
	CU_ASSERT_EQUAL(d->on_critical[1], 1);
	CU_ASSERT_EQUAL(d->on_critical[2], 0);
	tb_free(&t);
}

static void
test_crit_async(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 50, 150);     /* ends after its parent */
	tb_add1(&t, 3, 1, 5, 10);
	const struct alt_dag *d = tb_build(&t, NULL);
	/* self(1) = 100 - |[50,100) u [5,15)| = 40; path 1 -> 2 = 190 */
	CU_ASSERT_EQUAL(d->critical_path_ns, 190);
	CU_ASSERT_EQUAL(d->on_critical[1], 1);
	CU_ASSERT_EQUAL(d->on_critical[2], 0);
	CU_ASSERT_EQUAL(d->end_ns, 200);
	CU_ASSERT_EQUAL(d->duration_ns, 200);
	tb_free(&t);
}

static void
test_crit_events(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 100);
	tb_add1(&t, 2, 1, 20, 0);       /* point event: weighs 0 */
	tb_add1(&t, 3, 1, 60, 20);
	tb_add1(&t, 4, 2, 20, 0);       /* event below the event */
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->critical_path_ns, 100);
	CU_ASSERT_EQUAL(d->on_critical[2], 1);
	CU_ASSERT_EQUAL(d->on_critical[1], 0);
	/* a lone event: 0 */
	struct tb u;
	tb_init(&u);
	tb_add1(&u, 5, 0, 7, 0);
	d = tb_build(&u, NULL);
	CU_ASSERT_EQUAL(d->critical_path_ns, 0);
	CU_ASSERT_EQUAL(d->duration_ns, 0);
	CU_ASSERT_EQUAL(d->on_critical[0], 1);
	tb_free(&t);
	tb_free(&u);
}

static void
test_crit_two_roots(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 10);
	tb_add1(&t, 2, 77, 0, 30);      /* orphan, heavier */
	tb_add1(&t, 3, 2, 40, 5);       /* async, outside its parent */
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->critical_path_ns, 35);
	CU_ASSERT_EQUAL(d->on_critical[0], 0);
	CU_ASSERT_EQUAL(d->on_critical[1], 1);
	CU_ASSERT_EQUAL(d->on_critical[2], 1);
	tb_free(&t);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Everything observable in a result, flattened for comparison. */
static void
snapshot(const struct alt_dag *d, uint64_t *out, size_t *no)
{
	size_t k = 0;
	out[k++] = d->nodes; out[k++] = d->edges; out[k++] = d->roots;
	out[k++] = d->orphans; out[k++] = d->missing_parents; out[k++] = d->joins;
	out[k++] = d->depth; out[k++] = d->width; out[k++] = d->errors;
	out[k++] = d->duplicates; out[k++] = d->cycle_nodes; out[k++] = d->flags;
	out[k++] = d->start_ns; out[k++] = d->end_ns; out[k++] = d->duration_ns;
	out[k++] = d->critical_path_ns; out[k++] = d->n_topo;
	for (uint32_t i = 0; i < d->nodes; i++) {
		out[k++] = (uint64_t)(uintptr_t)d->v[i];
		out[k++] = d->level[i];
		out[k++] = d->missing[i];
		out[k++] = d->on_critical[i];
		out[k++] = d->par_off[i + 1];
		out[k++] = d->child_off[i + 1];
	}
	for (uint32_t i = 0; i < d->edges; i++) {
		out[k++] = d->par[i];
		out[k++] = d->child[i];
	}
	for (uint32_t i = 0; i < d->n_topo; i++)
		out[k++] = d->topo[i];
	*no = k;
}

static void
random_trace(struct tb *t, uint32_t n)
{
	tb_add1(t, 1000, 0, 0, 1000000);
	for (uint32_t i = 1; i < n; i++) {
		uint64_t id = 1000 + i;
		uint64_t par[3];
		unsigned np = 1;
		par[0] = 1000 + rnd() % i;
		if (rnd() % 10 == 0)
			par[np++] = 1000 + rnd() % i;           /* join (maybe same) */
		if (rnd() % 20 == 0)
			par[np++] = 5000 + rnd() % 4;           /* missing */
		if (rnd() % 30 == 0)
			id = 1000 + rnd() % i;                  /* duplicate ID */
		struct alt_node *x = tb_add(t, id, rnd() % 900000, rnd() % 100000,
					    "svc", "op", np, par);
		if (rnd() % 8 == 0)
			x->flags |= ALT_RF_ERROR;
	}
	/* a cycle */
	tb_add1(t, 9000, 9001, 5, 5);
	tb_add1(t, 9001, 9000, 5, 5);
}

static void
test_order_independence(void)
{
	struct tb t;
	uint32_t perm[400];
	static uint64_t ref[40000], cur[40000];
	size_t nref, ncur;

	tb_init(&t);
	random_trace(&t, 300);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT(d->flags & ALT_DAG_DUPLICATE_ID);
	CU_ASSERT(d->flags & ALT_DAG_CYCLE);
	CU_ASSERT(d->flags & ALT_DAG_INCOMPLETE);
	CU_ASSERT(d->joins > 0);
	snapshot(d, ref, &nref);
	for (uint32_t i = 0; i < t.n; i++)
		perm[i] = i;
	for (int round = 0; round < 20; round++) {
		for (uint32_t i = t.n - 1; i > 0; i--) {
			uint32_t j = (uint32_t)(rnd() % (i + 1)), x = perm[i];
			perm[i] = perm[j];
			perm[j] = x;
		}
		d = tb_build(&t, perm);
		snapshot(d, cur, &ncur);
		CU_ASSERT_EQUAL_FATAL(ncur, nref);
		CU_ASSERT(memcmp(cur, ref, nref * sizeof(ref[0])) == 0);
	}
	tb_free(&t);
}

/* ---- differential test against a reference build ----
 *
 * A deliberately plain re-statement of the build contract (alt_dag.h and
 * the comments in dag.c): quadratic dedup by linear search, lookups by
 * bisection over the sorted IDs, levels as 1 + the deepest parent, widths
 * by counting, and the critical path DP. alt_dag_build must reproduce it
 * field for field on any input, hostile ones included. */

#define REF_ME (MAXN * ALT_MAX_PARENTS)

static struct {
	struct alt_dag d;
	struct alt_node *v[MAXN];
	uint64_t id[MAXN];
	uint32_t par_off[MAXN + 1], par[REF_ME];
	uint32_t child_off[MAXN + 1], child[REF_ME];
	uint32_t level[MAXN], topo[MAXN];
	uint8_t missing[MAXN], on_critical[MAXN];
	uint32_t cnt[MAXN + 1], nxt[MAXN];
	uint64_t best[MAXN], miss[REF_ME];
	uint64_t iv[MAXN][2];
} R;

static int
ref_dup_cmp(const struct alt_node *a, const struct alt_node *b)
{
#define REF_CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)
	REF_CMP(a->start_ns, b->start_ns);
	REF_CMP(a->duration_ns, b->duration_ns);
	REF_CMP(a->service_id, b->service_id);
	REF_CMP(a->operation_id, b->operation_id);
	REF_CMP(a->kind, b->kind);
	REF_CMP(a->flags, b->flags);
	REF_CMP(a->rule_bits, b->rule_bits);
	REF_CMP(a->parent_count, b->parent_count);
	unsigned pc = a->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : a->parent_count;
	for (unsigned i = 0; i < pc; i++)
		REF_CMP(alt_node_parent(a, i), alt_node_parent(b, i));
#undef REF_CMP
	return 0;
}

static uint64_t
ref_end(const struct alt_node *n)
{
	uint64_t r = n->start_ns + n->duration_ns;
	return r < n->start_ns ? UINT64_MAX : r;
}

static int
ref_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t
ref_find(uint32_t n, uint64_t id)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (R.id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && R.id[lo] == id ? lo : UINT32_MAX;
}

static uint64_t
ref_self_time(uint32_t v)
{
	const struct alt_node *n = R.v[v];
	uint64_t s = n->start_ns, e = ref_end(n), covered = 0;
	uint32_t m = 0;

	if (e <= s)
		return 0;
	for (uint32_t j = R.child_off[v]; j < R.child_off[v + 1]; j++) {
		const struct alt_node *c = R.v[R.child[j]];
		uint64_t lo = c->start_ns < s ? s : c->start_ns;
		uint64_t hi = ref_end(c) > e ? e : ref_end(c);
		if (lo < hi) {
			R.iv[m][0] = lo;
			R.iv[m][1] = hi;
			m++;
		}
	}
	if (m == 0)
		return e - s;
	qsort(R.iv, m, sizeof(R.iv[0]), ref_cmp_u64);  /* by lo */
	uint64_t cl = R.iv[0][0], ch = R.iv[0][1];
	for (uint32_t i = 1; i < m; i++) {
		if (R.iv[i][0] > ch) {
			covered += ch - cl;
			cl = R.iv[i][0];
			ch = R.iv[i][1];
		} else if (R.iv[i][1] > ch) {
			ch = R.iv[i][1];
		}
	}
	return (e - s) - (covered + ch - cl);
}

static const struct alt_dag *
ref_build(struct alt_node *list, uint32_t n_nodes, bool critical)
{
	struct alt_dag *d = &R.d;
	uint32_t n = 0, e = 0, nm = 0, i, j;

	memset(d, 0, sizeof(*d));
	d->v = R.v;
	d->par_off = R.par_off;
	d->par = R.par;
	d->child_off = R.child_off;
	d->child = R.child;
	d->level = R.level;
	d->topo = R.topo;
	d->missing = R.missing;
	d->on_critical = R.on_critical;
	/* distinct IDs, keeping the first smallest record of each */
	i = 0;
	for (struct alt_node *p = list; p != NULL && i < n_nodes; p = p->next, i++) {
		for (j = 0; j < n && R.id[j] != p->node_id; j++)
			;
		if (j < n) {
			d->duplicates++;
			if (ref_dup_cmp(p, R.v[j]) < 0)
				R.v[j] = p;
		} else {
			R.id[n] = p->node_id;
			R.v[n++] = p;
		}
	}
	d->nodes = n;
	if (d->duplicates)
		d->flags |= ALT_DAG_DUPLICATE_ID;
	R.par_off[0] = R.child_off[0] = 0;
	if (n == 0)
		return d;
	/* index = rank of the ID */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && R.id[j - 1] > R.id[j]; j--) {
			uint64_t t = R.id[j];
			struct alt_node *tv = R.v[j];
			R.id[j] = R.id[j - 1];
			R.v[j] = R.v[j - 1];
			R.id[j - 1] = t;
			R.v[j - 1] = tv;
		}
	}
	/* parents */
	d->start_ns = UINT64_MAX;
	memset(R.cnt, 0, sizeof(R.cnt));
	for (i = 0; i < n; i++) {
		const struct alt_node *v = R.v[i];
		unsigned pc = v->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : v->parent_count;
		uint32_t first = e;
		if (v->start_ns < d->start_ns)
			d->start_ns = v->start_ns;
		if (ref_end(v) > d->end_ns)
			d->end_ns = ref_end(v);
		d->errors += (v->flags & ALT_RF_ERROR) != 0;
		d->roots += pc == 0;
		R.missing[i] = 0;
		for (unsigned k = 0; k < pc; k++) {
			uint64_t pid = alt_node_parent(v, k);
			unsigned q;
			for (q = 0; q < k && alt_node_parent(v, q) != pid; q++)
				;
			if (q < k)
				continue;
			uint32_t x = ref_find(n, pid);
			if (x == UINT32_MAX) {
				R.missing[i] = 1;
				R.miss[nm++] = pid;
				continue;
			}
			R.par[e++] = x;
			R.cnt[x]++;
		}
		for (uint32_t a = first + 1; a < e; a++)
			for (uint32_t b = a; b > first && R.par[b - 1] > R.par[b]; b--) {
				uint32_t t = R.par[b];
				R.par[b] = R.par[b - 1];
				R.par[b - 1] = t;
			}
		R.par_off[i + 1] = e;
		d->orphans += R.missing[i];
		d->joins += e - first >= 2;
	}
	d->edges = e;
	d->duration_ns = d->end_ns - d->start_ns;
	if (nm) {
		d->flags |= ALT_DAG_INCOMPLETE;
		qsort(R.miss, nm, sizeof(R.miss[0]), ref_cmp_u64);
		for (i = 0; i < nm; i++)
			d->missing_parents += i == 0 || R.miss[i] != R.miss[i - 1];
	}
	/* children, by ascending child index */
	for (i = 0; i < n; i++)
		R.child_off[i + 1] = R.child_off[i] + R.cnt[i];
	memset(R.cnt, 0, sizeof(R.cnt));
	for (i = 0; i < n; i++)
		for (j = R.par_off[i]; j < R.par_off[i + 1]; j++) {
			uint32_t p = R.par[j];
			R.child[R.child_off[p] + R.cnt[p]++] = i;
		}
	/* Kahn, FIFO from all sources in index order */
	uint32_t nt = 0, head = 0;
	for (i = 0; i < n; i++) {
		R.cnt[i] = R.par_off[i + 1] - R.par_off[i];
		R.level[i] = 0;
		if (R.cnt[i] == 0)
			R.topo[nt++] = i;
	}
	while (head < nt) {
		uint32_t v = R.topo[head++], lv = 0;
		for (j = R.par_off[v]; j < R.par_off[v + 1]; j++)
			if (R.level[R.par[j]] > lv)
				lv = R.level[R.par[j]];
		R.level[v] = lv + 1;
		if (lv + 1 > d->depth)
			d->depth = lv + 1;
		for (j = R.child_off[v]; j < R.child_off[v + 1]; j++)
			if (--R.cnt[R.child[j]] == 0)
				R.topo[nt++] = R.child[j];
	}
	d->n_topo = nt;
	d->cycle_nodes = n - nt;
	if (nt != n)
		d->flags |= ALT_DAG_CYCLE;
	for (uint32_t l = 1; l <= d->depth; l++) {
		uint32_t w = 0;
		for (i = 0; i < n; i++)
			w += R.level[i] == l;
		if (w > d->width)
			d->width = w;
	}
	/* critical path */
	memset(R.on_critical, 0, n);
	if (!critical)
		return d;
	for (i = nt; i-- > 0;) {
		uint32_t v = R.topo[i], nx = UINT32_MAX;
		uint64_t b = 0;
		for (j = R.child_off[v]; j < R.child_off[v + 1]; j++) {
			uint32_t c = R.child[j];
			if (R.level[c] != 0 && (nx == UINT32_MAX || R.best[c] > b)) {
				b = R.best[c];
				nx = c;
			}
		}
		uint64_t st = ref_self_time(v);
		R.best[v] = st + b < st ? UINT64_MAX : st + b;
		R.nxt[v] = nx;
	}
	uint32_t start = UINT32_MAX;
	for (i = 0; i < nt && R.par_off[R.topo[i] + 1] == R.par_off[R.topo[i]]; i++) {
		uint32_t v = R.topo[i];
		if (start == UINT32_MAX || R.best[v] > R.best[start] ||
		    (R.best[v] == R.best[start] && v < start))
			start = v;
	}
	if (start != UINT32_MAX) {
		d->critical_path_ns = R.best[start];
		for (uint32_t v = start; v != UINT32_MAX; v = R.nxt[v])
			R.on_critical[v] = 1;
	}
	return d;
}

/* Every field of two results equal; reports the first difference. */
static bool
dag_same(const struct alt_dag *a, const struct alt_dag *b)
{
#define SAME(f) do { if (a->f != b->f) { \
		printf("\n    %s: %llu != %llu\n", #f, (unsigned long long)a->f, (unsigned long long)b->f); \
		return false; } } while (0)
	SAME(nodes); SAME(edges); SAME(roots); SAME(orphans); SAME(missing_parents);
	SAME(joins); SAME(depth); SAME(width); SAME(errors); SAME(duplicates);
	SAME(cycle_nodes); SAME(flags); SAME(start_ns); SAME(end_ns);
	SAME(duration_ns); SAME(critical_path_ns); SAME(n_topo);
	if (a->nodes == 0)
		return true;
	for (uint32_t i = 0; i < a->nodes; i++) {
		SAME(v[i]); SAME(level[i]); SAME(missing[i]); SAME(on_critical[i]);
	}
	for (uint32_t i = 0; i <= a->nodes; i++) {
		SAME(par_off[i]); SAME(child_off[i]);
	}
	for (uint32_t i = 0; i < a->edges; i++) {
		SAME(par[i]); SAME(child[i]);
	}
	for (uint32_t i = 0; i < a->n_topo; i++)
		SAME(topo[i]);
#undef SAME
	return true;
}

/* One random trace: ID style, duplicates (some exact copies), parent
 * counts 0..20 (past ALT_MAX_PARENTS is clamped), parents present, missing,
 * self, repeated or random (cycles), then a random list order and a
 * random n_nodes bound around the list length. */
static void
random_case(struct tb *t, uint32_t n, uint32_t *perm, uint32_t *n_arg)
{
	unsigned style = (unsigned)(rnd() % 5);
	unsigned dup_pct = rnd() % 3 == 0 ? (unsigned)(rnd() % 40) : 0;
	unsigned multi_pct = (unsigned)(rnd() % 4 == 0 ? rnd() % 60 : rnd() % 8);
	unsigned miss_pct = (unsigned)(rnd() % 3 == 0 ? rnd() % 30 : 0);
	unsigned cyc_pct = (unsigned)(rnd() % 4 == 0 ? rnd() % 20 : 0);
	uint64_t base = rnd();

	t->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct alt_node *x = &t->v[i];
		uint64_t id;
		switch (style) {
		case 0: id = rnd(); break;                              /* random 64-bit */
		case 1: id = 1 + i; break;                              /* sequential */
		case 2: id = base + rnd() % (2 * n + 1); break;         /* dense, may wrap */
		case 3: id = (rnd() % 3) << 62 | rnd() % 64; break;     /* clustered */
		default: id = rnd() % 2 ? UINT64_MAX - rnd() % 8 : rnd() % 8; break;
		}
		memset(x, 0, sizeof(*x));
		if (i > 0 && rnd() % 100 < dup_pct) {
			const struct alt_node *o = &t->v[rnd() % i];
			*x = *o;                                /* duplicate ID */
			if (x->parent_count >= 2) {
				t->ext[i] = *o->more;
				x->more = &t->ext[i];
			}
			if (rnd() % 2) {                        /* not an exact copy */
				x->start_ns = rnd() % 4;
				x->duration_ns = rnd() % 4;
				x->service_id = (uint32_t)(rnd() % 2);
				x->flags = (uint16_t)(rnd() % 2);
			}
			t->n++;
			continue;
		}
		x->node_id = id;
		x->start_ns = rnd() % 8 == 0 ? UINT64_MAX - rnd() % 1000 : rnd() % 1000;
		x->duration_ns = rnd() % 8 == 0 ? 0 : rnd() % 500;
		x->service_id = (uint32_t)(rnd() % 3);
		x->operation_id = (uint32_t)(rnd() % 3);
		x->kind = x->duration_ns == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN;
		x->flags = rnd() % 8 == 0 ? ALT_RF_ERROR : 0;
		unsigned np = i == 0 || rnd() % 10 == 0 ? 0 : 1;
		if (i > 0 && rnd() % 100 < multi_pct)
			np = 2 + (unsigned)(rnd() % (rnd() % 4 == 0 ? 19 : 3));
		x->parent_count = (uint8_t)np;
		x->more = np >= 2 ? &t->ext[i] : NULL;
		for (unsigned k = 0; k < np && k < ALT_MAX_PARENTS; k++) {
			uint64_t pid;
			unsigned r = (unsigned)(rnd() % 100);
			if (r < miss_pct)
				pid = rnd() % 2 ? rnd() : id + 1;       /* missing (likely) */
			else if (r < miss_pct + cyc_pct)
				pid = t->v[rnd() % n].node_id;          /* any, maybe later: cycles */
			else if (k > 0 && r % 7 == 0)
				pid = alt_node_parent(x, (unsigned)(rnd() % k)); /* repeated */
			else if (r % 53 == 0)
				pid = id;                               /* self */
			else
				pid = t->v[rnd() % i].node_id;          /* an earlier node */
			if (k == 0)
				x->parent0 = pid;
			else
				x->more->ids[k - 1] = pid;
		}
		t->n++;
	}
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	unsigned order = (unsigned)(rnd() % 3);
	for (uint32_t i = n; order != 0 && i > 1; i--) {
		uint32_t j = (uint32_t)(rnd() % i), x = perm[i - 1];
		if (order == 2 && rnd() % 4 != 0)
			continue;                               /* nearly in order */
		perm[i - 1] = perm[j];
		perm[j] = x;
	}
	for (uint32_t i = 0; i < n; i++)
		t->v[perm[i]].next = i + 1 < n ? &t->v[perm[i + 1]] : NULL;
	*n_arg = n;
	if (rnd() % 8 == 0)
		*n_arg = n == 0 ? 0 : (uint32_t)(rnd() % (n + 1));      /* list cut short */
	else if (rnd() % 8 == 0)
		*n_arg = n + (uint32_t)(rnd() % 10);                    /* list ends first */
	if (*n_arg > MAXN)
		*n_arg = MAXN;
}

static void
test_differential(void)
{
	struct tb t;
	static uint32_t perm[MAXN];
	unsigned fails = 0;

	tb_init(&t);
	for (int it = 0; it < 30000; it++) {
		uint32_t n, n_arg;
		unsigned r = (unsigned)(rnd() % 1000);
		if (r < 700)
			n = (uint32_t)(rnd() % 65);
		else if (r < 990)
			n = (uint32_t)(rnd() % 500);
		else
			n = (uint32_t)(rnd() % (MAXN + 1));
		random_case(&t, n, perm, &n_arg);
		bool crit = rnd() % 4 != 0;
		alt_dag_ws_set_critical_path(g_ws, crit);
		const struct alt_dag *d = alt_dag_build(g_ws, n ? &t.v[perm[0]] : NULL, n_arg);
		const struct alt_dag *r0 = ref_build(n ? &t.v[perm[0]] : NULL, n_arg, crit);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		if (!dag_same(d, r0)) {
			printf("    case %d: n %u n_arg %u crit %d\n", it, n, n_arg, crit);
			if (++fails == 5)
				break;
		}
	}
	CU_ASSERT_EQUAL(fails, 0);
	alt_dag_ws_set_critical_path(g_ws, true);
	tb_free(&t);
}

/* A lookup of an absent ID past the largest one reads the ID array just
 * past the node count: a previous build's ID left there must not match. */
static void
test_stale_ids(void)
{
	struct tb t;
	uint64_t hi = 0xC000000000000000ULL;
	tb_init(&t);
	tb_add1(&t, 0x10, 0, 0, 10);
	tb_add1(&t, 0x20, 0x10, 0, 10);
	tb_add1(&t, 0x30, 0x10, 0, 10);
	tb_add1(&t, hi, 0x10, 0, 10);
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 4);
	CU_ASSERT_EQUAL(d->edges, 3);
	t.n = 0;
	tb_add1(&t, 1, 0, 0, 10);
	tb_add1(&t, 2, 1, 0, 10);
	tb_add1(&t, 3, hi, 0, 10);      /* absent, in an empty last bucket */
	d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 3);
	CU_ASSERT_EQUAL(d->edges, 1);
	CU_ASSERT_EQUAL(d->orphans, 1);
	CU_ASSERT_EQUAL(d->missing_parents, 1);
	CU_ASSERT_EQUAL(d->missing[2], 1);
	CU_ASSERT_EQUAL(d->roots, 1);
	tb_free(&t);
}

static void
test_list_bounds(void)
{
	struct tb t;
	tb_init(&t);
	for (uint64_t i = 1; i <= 5; i++)
		tb_add1(&t, i, i - 1, 0, 10);
	tb_build(&t, NULL);
	t.v[4].next = &t.v[0];          /* corrupt: a ring */
	const struct alt_dag *d = alt_dag_build(g_ws, &t.v[0], 3);
	CU_ASSERT_EQUAL(d->nodes, 3);
	CU_ASSERT_EQUAL(d->depth, 3);
	d = alt_dag_build(g_ws, &t.v[0], 50);
	CU_ASSERT_EQUAL(d->nodes, 5);
	CU_ASSERT_EQUAL(d->duplicates, 45);
	tb_free(&t);
}

static void
test_speed(void)
{
	struct tb t;
	tb_init(&t);
	tb_add1(&t, 1, 0, 0, 1000000);
	for (uint32_t i = 1; i < 350; i++) {
		uint64_t p = 1 + rnd() % i;
		tb_add1(&t, rnd() | 1, 0, 0, 0);
		t.v[i].node_id = 0x100000 + i * 7919ULL;
		t.v[i].parent0 = p == 1 ? 1 : 0x100000 + (p - 1) * 7919ULL;
		t.v[i].parent_count = 1;
		t.v[i].start_ns = rnd() % 900000;
		t.v[i].duration_ns = rnd() % 50000;
	}
	const struct alt_dag *d = tb_build(&t, NULL);
	CU_ASSERT_EQUAL(d->nodes, 350);
	CU_ASSERT_EQUAL(d->edges, 349);
	enum { ITER = 20000 };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t acc = 0;
	for (int i = 0; i < ITER; i++)
		acc += alt_dag_build(g_ws, &t.v[0], t.n)->critical_path_ns;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("\n    dag build, 350-node tree: %.1f ns/node (%llu)\n", ns / ITER / 350,
	       (unsigned long long)(acc & 1));
	tb_free(&t);
}

int
main(void)
{
	size_t isz = alt_intern_memsize(1024, 65536);
	void *imem = malloc(isz);
	g_in = alt_intern_init(imem, 1024, 65536);
	size_t sz = alt_dag_ws_memsize(MAXN);
	void *mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	g_ws = alt_dag_ws_init(mem, MAXN);
	if (g_in == NULL || g_ws == NULL)
		return 1;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	CU_pSuite s = CU_add_suite("dag", NULL, NULL);
	CU_add_test(s, "empty", test_empty);
	CU_add_test(s, "too_big", test_too_big);
	CU_add_test(s, "single", test_single);
	CU_add_test(s, "chain", test_chain);
	CU_add_test(s, "fanout", test_fanout);
	CU_add_test(s, "diamond", test_diamond);
	CU_add_test(s, "dup_parent_ref", test_dup_parent_ref);
	CU_add_test(s, "orphans", test_orphans);
	CU_add_test(s, "duplicates", test_duplicates);
	CU_add_test(s, "self_loop", test_self_loop);
	CU_add_test(s, "cycles", test_cycles);
	CU_add_test(s, "crit_overlap", test_crit_overlap);
	CU_add_test(s, "crit_async", test_crit_async);
	CU_add_test(s, "crit_events", test_crit_events);
	CU_add_test(s, "crit_two_roots", test_crit_two_roots);
	CU_add_test(s, "order_independence", test_order_independence);
	CU_add_test(s, "list_bounds", test_list_bounds);
	CU_add_test(s, "stale_ids", test_stale_ids);
	CU_add_test(s, "differential", test_differential);
	CU_add_test(s, "speed", test_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	free(mem);
	free(imem);
	return (int)fails;
}
