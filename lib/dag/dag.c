/* SPDX-License-Identifier: BSD-3-Clause
 * DAG building for one closed trace (see alt_dag.h).
 *
 * Steps, all bounded and iterative:
 *  1. walk the list (at most n_nodes entries), deduplicate node IDs in an
 *     open-addressing map (slots stamped with a build generation, so the
 *     map is "cleared" by bumping the generation);
 *  2. sort the distinct IDs; index i = rank of the node ID, so results do
 *     not depend on list order;
 *  3. resolve parents into a CSR of present parents (deduplicated, sorted by
 *     index), collect missing parent IDs, build the children CSR;
 *  4. Kahn's algorithm gives the topological order and levels; nodes never
 *     released are on or behind a cycle;
 *  5. self times and the critical path by DP in reverse topological order.
 */
#include <errno.h>

#include "alt_dag.h"

#define DAG_INSERTION_MAX 16

struct dag_slot {
	uint64_t key;
	struct alt_node *node;
	uint32_t gen;
	uint32_t idx;
};

struct dag_ival {
	uint64_t lo;
	uint64_t hi;
};

struct alt_dag_ws {
	uint32_t max_nodes;
	uint32_t max_edges;
	uint32_t map_cap;               /* power of two >= 2 * max_nodes */
	uint32_t gen;
	bool no_critical;               /* skip step 5 (alt_dag_ws_set_critical_path) */
	struct alt_dag d;
	struct dag_slot *map;
	uint64_t *ids;                  /* [max_nodes] sort keys */
	uint64_t *ids_tmp;              /* [max_nodes] */
	uint64_t *miss;                 /* [max_edges] missing parent IDs */
	uint64_t *miss_tmp;             /* [max_edges] */
	uint32_t *cnt;                  /* [max_nodes + 1] in-degree / cursors / widths */
	uint32_t *nxt;                  /* [max_nodes] critical path successor */
	uint64_t *best;                 /* [max_nodes] heaviest path from node down */
	struct dag_ival *iv;            /* [max_nodes] children intervals */
	struct dag_ival *iv_tmp;        /* [max_nodes] */
};

/* ---- helpers ---- */

static inline uint64_t
sat_add(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	return r < a ? UINT64_MAX : r;
}

static inline uint64_t
node_end(const struct alt_node *n)
{
	return sat_add(n->start_ns, n->duration_ns);
}

static size_t
align_up(size_t x)
{
	return (x + 63) & ~(size_t)63;
}

/* Ascending sort of u64 keys: insertion sort for short arrays, bottom-up
 * merge sort (no recursion) with tmp otherwise. */
static void
sort_u64(uint64_t *a, uint32_t n, uint64_t *tmp)
{
	uint32_t i, j, w;

	if (n <= DAG_INSERTION_MAX) {
		for (i = 1; i < n; i++) {
			uint64_t x = a[i];
			for (j = i; j > 0 && a[j - 1] > x; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	/* sorted runs of 8, then merge passes, ping-ponging between a and tmp */
	for (i = 0; i < n; i += 8) {
		uint32_t e = i + 8 < n ? i + 8 : n;
		uint32_t k;
		for (k = i + 1; k < e; k++) {
			uint64_t x = a[k];
			for (j = k; j > i && a[j - 1] > x; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
	}
	uint64_t *src = a, *dst = tmp;
	for (w = 8; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			uint32_t m = i + w < n ? i + w : n;
			uint32_t e = m + w < n ? m + w : n;
			uint32_t p = i, q = m, o = i;
			while (p < m && q < e)
				dst[o++] = src[q] < src[p] ? src[q++] : src[p++];
			while (p < m)
				dst[o++] = src[p++];
			while (q < e)
				dst[o++] = src[q++];
		}
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

/* Same as sort_u64 for intervals, by lo. */
static void
sort_ival(struct dag_ival *a, uint32_t n, struct dag_ival *tmp)
{
	uint32_t i, j, w;

	for (i = 0; i < n; i += 8) {
		uint32_t e = i + 8 < n ? i + 8 : n;
		uint32_t k;
		for (k = i + 1; k < e; k++) {
			struct dag_ival x = a[k];
			for (j = k; j > i && a[j - 1].lo > x.lo; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
	}
	struct dag_ival *src = a, *dst = tmp;
	for (w = 8; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			uint32_t m = i + w < n ? i + w : n;
			uint32_t e = m + w < n ? m + w : n;
			uint32_t p = i, q = m, o = i;
			while (p < m && q < e)
				dst[o++] = src[q].lo < src[p].lo ? src[q++] : src[p++];
			while (p < m)
				dst[o++] = src[p++];
			while (q < e)
				dst[o++] = src[q++];
		}
		struct dag_ival *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

/* Total order used to pick one record among duplicates of a node ID:
 * (start, duration, service, operation), then the remaining content so the
 * choice never depends on list order. */
static int
dup_cmp(const struct alt_node *a, const struct alt_node *b)
{
#define DAG_CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)
	DAG_CMP(a->start_ns, b->start_ns);
	DAG_CMP(a->duration_ns, b->duration_ns);
	DAG_CMP(a->service_id, b->service_id);
	DAG_CMP(a->operation_id, b->operation_id);
	DAG_CMP(a->kind, b->kind);
	DAG_CMP(a->flags, b->flags);
	DAG_CMP(a->rule_bits, b->rule_bits);
	DAG_CMP(a->parent_count, b->parent_count);
	unsigned pc = a->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : a->parent_count;
	for (unsigned i = 0; i < pc; i++)
		DAG_CMP(alt_node_parent(a, i), alt_node_parent(b, i));
#undef DAG_CMP
	return 0;
}

static inline uint32_t
map_home(uint64_t key, uint32_t shift)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> shift);
}

/* ---- workspace ---- */

static size_t
ws_layout(struct alt_dag_ws *ws, uint8_t *base, uint32_t max_nodes)
{
	uint32_t me = max_nodes * ALT_MAX_PARENTS;
	uint32_t cap = 16;
	size_t off = align_up(sizeof(struct alt_dag_ws));

	while (cap < 2 * max_nodes)
		cap <<= 1;
#define DAG_CARVE(field, count) do { \
		if (ws != NULL) \
			ws->field = (void *)(base + off); \
		off = align_up(off + (size_t)(count) * sizeof(*ws->field)); \
	} while (0)
	DAG_CARVE(map, cap);
	DAG_CARVE(ids, max_nodes);
	DAG_CARVE(ids_tmp, max_nodes);
	DAG_CARVE(miss, me);
	DAG_CARVE(miss_tmp, me);
	DAG_CARVE(cnt, max_nodes + 1);
	DAG_CARVE(nxt, max_nodes);
	DAG_CARVE(best, max_nodes);
	DAG_CARVE(iv, max_nodes);
	DAG_CARVE(iv_tmp, max_nodes);
	DAG_CARVE(d.v, max_nodes);
	DAG_CARVE(d.par_off, max_nodes + 1);
	DAG_CARVE(d.par, me);
	DAG_CARVE(d.child_off, max_nodes + 1);
	DAG_CARVE(d.child, me);
	DAG_CARVE(d.level, max_nodes);
	DAG_CARVE(d.topo, max_nodes);
	DAG_CARVE(d.missing, max_nodes);
	DAG_CARVE(d.on_critical, max_nodes);
#undef DAG_CARVE
	if (ws != NULL) {
		ws->map_cap = cap;
		ws->max_nodes = max_nodes;
		ws->max_edges = me;
	}
	return off;
}

/* Bytes of workspace for traces of up to max_nodes nodes (about 400 bytes a
 * node: present-edge and missing-reference arrays are sized for
 * ALT_MAX_PARENTS parents per node). 0 if max_nodes is too large. */
size_t
alt_dag_ws_memsize(uint32_t max_nodes)
{
	if (max_nodes == 0 || max_nodes > (UINT32_MAX / 2) / ALT_MAX_PARENTS)
		return 0;
	return ws_layout(NULL, NULL, max_nodes);
}

/* Lay a workspace on mem (alt_dag_ws_memsize bytes, 64-byte aligned is
 * best, 8-byte aligned is required). NULL if mem is NULL or max_nodes is
 * invalid. */
struct alt_dag_ws *
alt_dag_ws_init(void *mem, uint32_t max_nodes)
{
	struct alt_dag_ws *ws = mem;

	if (mem == NULL || alt_dag_ws_memsize(max_nodes) == 0)
		return NULL;
	memset(ws, 0, sizeof(*ws));
	ws_layout(ws, mem, max_nodes);
	memset(ws->map, 0, (size_t)ws->map_cap * sizeof(*ws->map));
	ws->gen = 1;
	return ws;
}

/* ---- build ---- */

/* Self time of v: its duration minus the union of its children's intervals
 * clipped to [start, end). */
static uint64_t
self_time(struct alt_dag_ws *ws, const struct alt_dag *d, uint32_t v)
{
	const struct alt_node *n = d->v[v];
	uint64_t s = n->start_ns, e = node_end(n);
	uint32_t b = d->child_off[v], k = d->child_off[v + 1] - b;
	uint32_t m = 0, i;
	uint64_t covered = 0;

	if (e <= s)
		return 0;
	for (i = 0; i < k; i++) {
		const struct alt_node *c = d->v[d->child[b + i]];
		uint64_t lo = c->start_ns, hi = node_end(c);
		if (lo < s)
			lo = s;
		if (hi > e)
			hi = e;
		if (lo < hi) {
			ws->iv[m].lo = lo;
			ws->iv[m].hi = hi;
			m++;
		}
	}
	if (m == 0)
		return e - s;
	if (m > 1)
		sort_ival(ws->iv, m, ws->iv_tmp);
	uint64_t cur_lo = ws->iv[0].lo, cur_hi = ws->iv[0].hi;
	for (i = 1; i < m; i++) {
		if (ws->iv[i].lo > cur_hi) {
			covered += cur_hi - cur_lo;
			cur_lo = ws->iv[i].lo;
			cur_hi = ws->iv[i].hi;
		} else if (ws->iv[i].hi > cur_hi) {
			cur_hi = ws->iv[i].hi;
		}
	}
	covered += cur_hi - cur_lo;
	return (e - s) - covered;
}

/* Whether builds compute the critical path (on after init). Off, the
 * critical_path_ns is 0 and no node is on_critical: for callers that
 * publish no per-trace detail. */
void
alt_dag_ws_set_critical_path(struct alt_dag_ws *ws, bool on)
{
	ws->no_critical = !on;
}

/* Build the DAG of up to n_nodes nodes linked through next (the walk also
 * stops at NULL, and never reads more than n_nodes entries, so a corrupt
 * list cannot make it loop). Indices 0..nodes-1 are in ascending node ID
 * order; among records sharing a node ID the smallest by (start, duration,
 * service id, operation id, then the rest of the record) is kept, so the
 * result does not depend on list order. Parents beyond ALT_MAX_PARENTS are
 * ignored. Returns the result, valid until the next build on ws, or NULL if
 * ws is NULL or n_nodes exceeds the workspace size. */
const struct alt_dag *
alt_dag_build(struct alt_dag_ws *ws, struct alt_node *list, uint32_t n_nodes)
{
	struct alt_dag *d;
	uint32_t cap, shift, mask, gen, n, i, j, nm, e;
	struct alt_node *p;

	if (ws == NULL || n_nodes > ws->max_nodes)
		return NULL;
	d = &ws->d;
	d->nodes = d->edges = d->roots = d->orphans = d->missing_parents = 0;
	d->joins = d->depth = d->width = d->errors = d->duplicates = 0;
	d->cycle_nodes = d->flags = 0;
	d->start_ns = d->end_ns = d->duration_ns = d->critical_path_ns = 0;
	d->n_topo = 0;
	d->par_off[0] = 0;
	d->child_off[0] = 0;

	/* map sized for this build; a new generation empties it */
	cap = 16;
	while (cap < 2 * n_nodes)
		cap <<= 1;
	mask = cap - 1;
	shift = 64 - (uint32_t)__builtin_ctz(cap);
	if (++ws->gen == 0) {
		memset(ws->map, 0, (size_t)ws->map_cap * sizeof(*ws->map));
		ws->gen = 1;
	}
	gen = ws->gen;

	/* 1. dedup */
	n = 0;
	for (p = list, i = 0; p != NULL && i < n_nodes; p = p->next, i++) {
		uint32_t h = map_home(p->node_id, shift);
		struct dag_slot *s;
		for (;;) {
			s = &ws->map[h];
			if (s->gen != gen || s->key == p->node_id)
				break;
			h = (h + 1) & mask;
		}
		if (s->gen != gen) {
			s->gen = gen;
			s->key = p->node_id;
			s->node = p;
			ws->ids[n++] = p->node_id;
		} else {
			d->duplicates++;
			if (dup_cmp(p, s->node) < 0)
				s->node = p;
		}
	}
	if (d->duplicates)
		d->flags |= ALT_DAG_DUPLICATE_ID;
	d->nodes = n;
	if (n == 0)
		return d;

	/* 2. index by node ID */
	sort_u64(ws->ids, n, ws->ids_tmp);
	for (i = 0; i < n; i++) {
		uint64_t key = ws->ids[i];
		uint32_t h = map_home(key, shift);
		while (ws->map[h].key != key)
			h = (h + 1) & mask;
		ws->map[h].idx = i;
		d->v[i] = ws->map[h].node;
	}

	/* 3. present parents, missing references, summary counters */
	e = 0;
	nm = 0;
	d->start_ns = UINT64_MAX;
	memset(ws->cnt, 0, (size_t)n * sizeof(*ws->cnt));
	for (i = 0; i < n; i++) {
		const struct alt_node *v = d->v[i];
		unsigned pc = v->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : v->parent_count;
		uint32_t first = e;
		uint64_t end = node_end(v);

		if (v->start_ns < d->start_ns)
			d->start_ns = v->start_ns;
		if (end > d->end_ns)
			d->end_ns = end;
		if (v->flags & ALT_RF_ERROR)
			d->errors++;
		if (pc == 0)
			d->roots++;
		d->missing[i] = 0;
		d->on_critical[i] = 0;
		for (unsigned k = 0; k < pc; k++) {
			uint64_t pid = alt_node_parent(v, k);
			unsigned q;
			for (q = 0; q < k; q++)
				if (alt_node_parent(v, q) == pid)
					break;
			if (q < k)
				continue;       /* same reference listed twice */
			uint32_t h = map_home(pid, shift);
			const struct dag_slot *s;
			for (;;) {
				s = &ws->map[h];
				if (s->gen != gen || s->key == pid)
					break;
				h = (h + 1) & mask;
			}
			if (s->gen != gen) {
				d->missing[i] = 1;
				ws->miss[nm++] = pid;
				continue;
			}
			/* insert sorted by index (at most 15 entries) */
			uint32_t x = s->idx;
			for (j = e; j > first && d->par[j - 1] > x; j--)
				d->par[j] = d->par[j - 1];
			d->par[j] = x;
			e++;
			ws->cnt[x]++;
		}
		d->par_off[i + 1] = e;
		if (d->missing[i])
			d->orphans++;
		if (e - first >= 2)
			d->joins++;
	}
	d->edges = e;
	d->duration_ns = d->end_ns - d->start_ns;
	if (nm) {
		d->flags |= ALT_DAG_INCOMPLETE;
		sort_u64(ws->miss, nm, ws->miss_tmp);
		d->missing_parents = 1;
		for (i = 1; i < nm; i++)
			if (ws->miss[i] != ws->miss[i - 1])
				d->missing_parents++;
	}

	/* children CSR, each list in ascending index order */
	for (i = 0; i < n; i++) {
		d->child_off[i + 1] = d->child_off[i] + ws->cnt[i];
		ws->cnt[i] = d->child_off[i];
	}
	for (i = 0; i < n; i++)
		for (j = d->par_off[i]; j < d->par_off[i + 1]; j++)
			d->child[ws->cnt[d->par[j]]++] = i;

	/* 4. Kahn: topological order and levels */
	uint32_t nt = 0, head = 0;
	for (i = 0; i < n; i++) {
		ws->cnt[i] = d->par_off[i + 1] - d->par_off[i];
		d->level[i] = 0;
		if (ws->cnt[i] == 0)
			d->topo[nt++] = i;
	}
	while (head < nt) {
		uint32_t v = d->topo[head++];
		uint32_t lv = 0;
		for (j = d->par_off[v]; j < d->par_off[v + 1]; j++)
			if (d->level[d->par[j]] > lv)
				lv = d->level[d->par[j]];
		d->level[v] = lv + 1;
		if (lv + 1 > d->depth)
			d->depth = lv + 1;
		for (j = d->child_off[v]; j < d->child_off[v + 1]; j++)
			if (--ws->cnt[d->child[j]] == 0)
				d->topo[nt++] = d->child[j];
	}
	d->n_topo = nt;
	d->cycle_nodes = n - nt;
	if (d->cycle_nodes)
		d->flags |= ALT_DAG_CYCLE;

	/* width */
	memset(ws->cnt, 0, (size_t)(d->depth + 1) * sizeof(*ws->cnt));
	for (i = 0; i < nt; i++) {
		uint32_t c = ++ws->cnt[d->level[d->topo[i]]];
		if (c > d->width)
			d->width = c;
	}

	/* 5. critical path: DP in reverse topological order */
	if (ws->no_critical)
		return d;
	for (i = nt; i-- > 0;) {
		uint32_t v = d->topo[i];
		uint64_t b = 0;
		uint32_t nx = UINT32_MAX;
		for (j = d->child_off[v]; j < d->child_off[v + 1]; j++) {
			uint32_t c = d->child[j];
			if (d->level[c] == 0)
				continue;       /* behind a cycle */
			if (nx == UINT32_MAX || ws->best[c] > b) {
				b = ws->best[c];
				nx = c;
			}
		}
		ws->best[v] = sat_add(self_time(ws, d, v), b);
		ws->nxt[v] = nx;
	}
	uint32_t start = UINT32_MAX;
	for (i = 0; i < nt; i++) {
		uint32_t v = d->topo[i];
		if (d->par_off[v + 1] != d->par_off[v])
			break;          /* sources come first in topo */
		if (start == UINT32_MAX || ws->best[v] > ws->best[start] ||
		    (ws->best[v] == ws->best[start] && v < start))
			start = v;
	}
	if (start != UINT32_MAX) {
		d->critical_path_ns = ws->best[start];
		for (uint32_t v = start; v != UINT32_MAX; v = ws->nxt[v])
			d->on_critical[v] = 1;
	}
	return d;
}
