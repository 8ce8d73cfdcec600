/* SPDX-License-Identifier: BSD-3-Clause
 * DAG building for one closed trace (see alt_dag.h).
 *
 * Steps, all bounded and iterative:
 *  1. walk the list (at most n_nodes entries); each (node ID, record) goes
 *     into a short row picked by the top bits of the ID, kept sorted by
 *     insertion (stable: equal IDs stay in list order). Node IDs are
 *     normally random, so rows hold about one entry each. Should a row
 *     overflow (IDs not random: sequential, clustered), the walk is redone
 *     into a flat array that is merge sorted;
 *  2. the rows (or the sorted array), read in order, give the distinct IDs
 *     in ascending order: index i = rank of the node ID, so results do not
 *     depend on list order; duplicates keep one record. The bucket of each
 *     row starts at bs[row] in the sorted IDs: an ID lookup reads one
 *     bucket (after the fallback, an open-addressing hash of the IDs);
 *  3. resolve parents into a CSR of present parents (deduplicated, sorted by
 *     index), collect missing parent IDs, build the children CSR;
 *  4. Kahn's algorithm gives the topological order, levels and widths;
 *     nodes never released are on or behind a cycle;
 *  5. self times and the critical path by DP in reverse topological order.
 *
 * Most traces are small (tens of nodes, nearly all with 0 or 1 parent), so
 * the work per node is kept to a few loads and stores: no comparison sort
 * and no hash map in the common case, the 0- and 1-parent cases without
 * the general dedup/insert loop, clears sized to the trace (not to the
 * workspace), and each hot loop in a function of its own whose arrays are
 * restrict-qualified locals (so that stores through one do not force
 * reloads of the others, and its few live values stay in registers).
 */
#include <errno.h>

#include "alt_dag.h"

/* Arrays up to this long are sorted by insertion alone; longer ones by
 * insertion-sorted runs of DAG_RUN then merge passes. */
#define DAG_INSERTION_MAX 16
#define DAG_RUN 8
/* ID buckets: a power of two >= the node count, at least DAG_MIN_BUCKETS.
 * Step 1 rows hold DAG_ROW entries (random IDs put more than 8 in one row
 * about once in a million rows). The fallback hash has a power of two >=
 * twice the node count of slots, at least DAG_MIN_BUCKETS. */
#define DAG_MIN_BUCKETS 4
#define DAG_ROW_SHIFT 3
#define DAG_ROW (1u << DAG_ROW_SHIFT)

/* A record and its node ID. */
struct dag_pair {
	uint64_t key;
	struct alt_node *node;
};

struct dag_ival {
	uint64_t lo;
	uint64_t hi;
};

struct alt_dag_ws {
	uint32_t max_nodes;
	uint32_t max_edges;
	uint32_t max_buckets;           /* power of two >= max_nodes */
	bool no_critical;               /* skip step 5 (alt_dag_ws_set_critical_path) */
	struct alt_dag d;
	struct dag_pair *rows;          /* [max_buckets * DAG_ROW] step 1 rows */
	uint32_t *row_n;                /* [max_buckets] entries per row */
	uint32_t *bs;                   /* [max_buckets + 1] bucket starts */
	uint32_t *hmap;                 /* [2 * max_buckets] fallback: index + 1, 0 empty */
	uint64_t *keys;                 /* [max_nodes + 1] node ID of each index */
	struct dag_pair *pairs;         /* [max_nodes] fallback: (ID, record) */
	struct dag_pair *pairs_tmp;     /* [max_nodes] */
	uint64_t *miss;                 /* [max_edges] missing parent IDs */
	uint64_t *miss_tmp;             /* [max_edges] */
	uint32_t *esrc;                 /* [max_edges] child index of each edge */
	uint32_t *cnt;                  /* [max_nodes] children counts, then cursors */
	uint32_t *deg;                  /* [max_nodes] unreleased parents (Kahn) */
	uint32_t *nxt;                  /* [max_nodes] critical path successor */
	uint64_t *best;                 /* [max_nodes] heaviest path from node down */
	struct dag_ival *iv;            /* [max_nodes] children intervals */
	struct dag_ival *iv_tmp;        /* [max_nodes] */
};

/* ---- helpers ---- */

static inline uint64_t
node_end(const struct alt_node *n)
{
	return alt_sat_add(n->start_ns, n->duration_ns);
}

/* Stable ascending insertion sort of a[lo..hi) by KEY. a[lo] is checked
 * first: an element below it moves the whole prefix up in one memmove,
 * otherwise a[lo] bounds the scan and the inner loop needs no index test. */
#define DAG_INSERTION_SORT(T, a, lo, hi, KEY) do { \
		for (uint32_t k_ = (lo) + 1; k_ < (hi); k_++) { \
			T x_ = (a)[k_]; \
			uint32_t j_ = k_; \
			if (KEY(x_) < KEY((a)[lo])) { \
				memmove(&(a)[(lo) + 1], &(a)[lo], (size_t)(k_ - (lo)) * sizeof(T)); \
				j_ = (lo); \
			} else { \
				while (KEY((a)[j_ - 1]) > KEY(x_)) { \
					(a)[j_] = (a)[j_ - 1]; \
					j_--; \
				} \
			} \
			(a)[j_] = x_; \
		} \
	} while (0)

/* Stable merge of src[i..m) and src[m..e) (each sorted, both non-empty)
 * into dst[i..e). The run whose last element is smaller (the left one on
 * a tie) runs out first, so the loop only tests that run's bound. */
#define DAG_MERGE(T, src, dst, i, m, e, KEY) do { \
		uint32_t p_ = (i), q_ = (m), o_ = (i); \
		if (KEY((src)[(m) - 1]) <= KEY((src)[m])) { \
			memcpy(&(dst)[i], &(src)[i], (size_t)((e) - (i)) * sizeof(T)); \
		} else if (KEY((src)[(m) - 1]) <= KEY((src)[(e) - 1])) { \
			while (p_ < (m)) \
				(dst)[o_++] = KEY((src)[q_]) < KEY((src)[p_]) ? (src)[q_++] : (src)[p_++]; \
			memcpy(&(dst)[o_], &(src)[q_], (size_t)((e) - q_) * sizeof(T)); \
		} else { \
			while (q_ < (e)) \
				(dst)[o_++] = KEY((src)[q_]) < KEY((src)[p_]) ? (src)[q_++] : (src)[p_++]; \
			memcpy(&(dst)[o_], &(src)[p_], (size_t)((m) - p_) * sizeof(T)); \
		} \
	} while (0)

/* Stable ascending sort of a[0..n) by KEY, tmp of n elements: insertion
 * sort for short arrays, else sorted runs then bottom-up merge passes (no
 * recursion) ping-ponging between a and tmp. */
#define DAG_SORT(T, a, n, tmp, KEY) do { \
		if ((n) <= DAG_INSERTION_MAX) { \
			DAG_INSERTION_SORT(T, a, 0, n, KEY); \
			break; \
		} \
		for (uint32_t i_ = 0; i_ < (n); i_ += DAG_RUN) { \
			uint32_t e_ = i_ + DAG_RUN < (n) ? i_ + DAG_RUN : (n); \
			DAG_INSERTION_SORT(T, a, i_, e_, KEY); \
		} \
		T *src_ = (a), *dst_ = (tmp); \
		for (uint32_t w_ = DAG_RUN; w_ < (n); w_ *= 2) { \
			for (uint32_t i_ = 0; i_ < (n); i_ += 2 * w_) { \
				uint32_t m_ = i_ + w_ < (n) ? i_ + w_ : (n); \
				uint32_t e_ = m_ + w_ < (n) ? m_ + w_ : (n); \
				if (m_ == e_) \
					memcpy(&dst_[i_], &src_[i_], (size_t)(e_ - i_) * sizeof(T)); \
				else \
					DAG_MERGE(T, src_, dst_, i_, m_, e_, KEY); \
			} \
			T *t_ = src_; \
			src_ = dst_; \
			dst_ = t_; \
		} \
		if (src_ != (a)) \
			memcpy((a), src_, (size_t)(n) * sizeof(T)); \
	} while (0)

#define DAG_KEY_U64(x) (x)
#define DAG_KEY_PAIR(x) ((x).key)
#define DAG_KEY_IVAL(x) ((x).lo)

static void
sort_u64(uint64_t *a, uint32_t n, uint64_t *tmp)
{
	DAG_SORT(uint64_t, a, n, tmp, DAG_KEY_U64);
}

static void
sort_pairs(struct dag_pair *a, uint32_t n, struct dag_pair *tmp)
{
	DAG_SORT(struct dag_pair, a, n, tmp, DAG_KEY_PAIR);
}

/* By lo (the order among equal lo does not matter to the union). */
static void
sort_ival(struct dag_ival *a, uint32_t n, struct dag_ival *tmp)
{
	DAG_SORT(struct dag_ival, a, n, tmp, DAG_KEY_IVAL);
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

/* ---- workspace ---- */

static size_t
ws_layout(struct alt_dag_ws *ws, uint8_t *base, uint32_t max_nodes)
{
	uint32_t me = max_nodes * ALT_MAX_PARENTS;
	uint32_t nb = DAG_MIN_BUCKETS;
	size_t off = alt_align64(sizeof(struct alt_dag_ws));

	while (nb < max_nodes)
		nb <<= 1;
#define DAG_CARVE(field, count) do { \
		if (ws != NULL) \
			ws->field = (void *)(base + off); \
		off = alt_align64(off + (size_t)(count) * sizeof(*ws->field)); \
	} while (0)
	DAG_CARVE(rows, (size_t)nb * DAG_ROW);
	DAG_CARVE(row_n, nb);
	DAG_CARVE(bs, nb + 1);
	DAG_CARVE(hmap, 2 * (size_t)nb);
	DAG_CARVE(keys, max_nodes + 1);
	DAG_CARVE(pairs, max_nodes);
	DAG_CARVE(pairs_tmp, max_nodes);
	DAG_CARVE(miss, me);
	DAG_CARVE(miss_tmp, me);
	DAG_CARVE(esrc, me);
	DAG_CARVE(cnt, max_nodes);
	DAG_CARVE(deg, max_nodes);
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
		ws->max_buckets = nb;
		ws->max_nodes = max_nodes;
		ws->max_edges = me;
	}
	return off;
}

/* Bytes of workspace for traces of up to max_nodes nodes (about 700 bytes a
 * node: present-edge and missing-reference arrays are sized for
 * ALT_MAX_PARENTS parents per node, step 1 rows for DAG_ROW records per
 * bucket). 0 if max_nodes is too large. */
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

/* Step 5: critical path by DP in reverse topological order. */
static void
critical_path(struct alt_dag_ws *ws, struct alt_dag *d)
{
	uint32_t nt = d->n_topo, i, j;

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
		ws->best[v] = alt_sat_add(self_time(ws, d, v), b);
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
}

/* ---- build steps ----
 * Each hot loop is a function of its own so that it keeps its few live
 * values in registers (one loop over everything spilled most of them). */

/* The sorted distinct IDs and how to find one: from the rows, bucket b
 * holds the IDs with id >> shift == b, at indices bs[b]..bs[b+1]-1; after
 * the fallback, hmap (non-NULL) holds index + 1 at the slot of each ID. */
struct dag_ids {
	const uint64_t *keys;           /* [n + 1]; keys[n] = keys[n - 1] */
	const uint32_t *bs;             /* [(1 << (64 - shift)) + 1] */
	const uint32_t *hmap;           /* [mask + 1] */
	uint32_t shift;                 /* bucket, or hash slot, = top bits */
	uint32_t mask;
};

static inline uint32_t
hash_home(uint64_t key, uint32_t shift)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> shift);
}

/* Index of node ID key in bucket b when the bucket's first ID, keys[lo],
 * is not key: the rest of the bucket (at most DAG_ROW IDs) is scanned.
 * UINT32_MAX if absent. */
static inline uint32_t
bucket_find_rest(const uint64_t *restrict keys, const uint32_t *restrict bs, uint64_t b,
		 uint32_t lo, uint64_t key)
{
	uint32_t hi = bs[b + 1];

	while (lo < hi && keys[lo] < key)
		lo++;
	return lo < hi && keys[lo] == key ? lo : UINT32_MAX;
}

/* Index of node ID key in the fallback hash, or UINT32_MAX. */
static inline uint32_t
hash_find(const uint64_t *restrict keys, const uint32_t *restrict hmap, uint32_t shift,
	  uint32_t mask, uint64_t key)
{
	for (uint32_t h = hash_home(key, shift);; h = (h + 1) & mask) {
		uint32_t s = hmap[h];
		if (s == 0 || keys[s - 1] == key)
			return s - 1;   /* UINT32_MAX for an empty slot */
	}
}

/* Index of node ID key, or UINT32_MAX; hashed: t->hmap != NULL (a
 * constant where inlined). In the buckets, most IDs come first in theirs.
 * bs[b] <= n, and bs[b] == n only for the buckets past the largest ID's,
 * where no ID of the trace lies: keys[n], a copy of the largest ID, never
 * matches there, so keys[lo] == key means lo < n. */
static inline uint32_t
ids_find(const struct dag_ids *t, uint64_t key, bool hashed)
{
	uint64_t b = key >> t->shift;
	uint32_t lo;

	if (hashed)
		return hash_find(t->keys, t->hmap, t->shift, t->mask, key);
	lo = t->bs[b];
	return t->keys[lo] == key ? lo : bucket_find_rest(t->keys, t->bs, b, lo, key);
}

/* Range, error and root counters. */
struct dag_sum {
	uint64_t start_ns;
	uint64_t end_ns;
	uint32_t errors;
	uint32_t roots;
};

/* Step 1: each (ID, record) into the row of the ID's top bits (shift),
 * inserted in order after equal IDs; row_n[] zeroed by the caller. Also the
 * counters over all records (right unless IDs repeat) and whether an ID
 * repeats. Returns the number of records, or UINT32_MAX if a row
 * overflowed. */
static uint32_t
collect_rows(struct alt_dag_ws *ws, struct alt_node *list, uint32_t n_nodes, uint32_t shift,
	     struct dag_sum *sum, bool *dup_out)
{
	struct dag_pair *restrict rows = ws->rows;
	uint32_t *restrict row_n = ws->row_n;
	uint64_t start_ns = UINT64_MAX, end_ns = 0;
	uint32_t m, errors = 0, roots = 0;
	bool dup = false;
	struct alt_node *p;

	for (p = list, m = 0; p != NULL && m < n_nodes;) {
		uint64_t k = p->node_id, s = p->start_ns, end = node_end(p);
		uint32_t b = (uint32_t)(k >> shift), c = row_n[b];
		struct dag_pair *row = rows + ((size_t)b << DAG_ROW_SHIFT);

		if (alt_unlikely(c == DAG_ROW))
			return UINT32_MAX;
		row_n[b] = c + 1;
		while (c > 0 && row[c - 1].key > k) {
			row[c] = row[c - 1];
			c--;
		}
		dup |= c > 0 && row[c - 1].key == k;
		row[c].key = k;
		row[c].node = p;
		start_ns = s < start_ns ? s : start_ns;
		end_ns = end > end_ns ? end : end_ns;
		errors += (p->flags & ALT_RF_ERROR) != 0;
		roots += p->parent_count == 0;
		/* m < n_nodes held: one test for each bound */
		p = p->next;
		if (++m == n_nodes)
			break;
	}
	sum->start_ns = start_ns;
	sum->end_ns = end_ns;
	sum->errors = errors;
	sum->roots = roots;
	*dup_out = dup;
	return m;
}

/* Step 2 from the rows, read in order: the distinct IDs into keys[], the
 * kept records into d->v (among equal IDs, adjacent and in list order, the
 * first smallest by dup_cmp, as a walk would keep), bucket starts into
 * bs[]. Always inlined with dup constant. Returns the node count. */
static inline __attribute__((always_inline)) uint32_t
compact_rows(struct alt_dag_ws *ws, uint32_t nb, bool dup, uint32_t *dups_out)
{
	const struct dag_pair *restrict rows = ws->rows;
	const uint32_t *restrict row_n = ws->row_n;
	uint32_t *restrict bs = ws->bs;
	uint64_t *restrict keys = ws->keys;
	struct alt_node **restrict vv = ws->d.v;
	uint32_t o = 0, dups = 0;

	for (uint32_t b = 0; b < nb; b++) {
		const struct dag_pair *row = rows + ((size_t)b << DAG_ROW_SHIFT);
		uint32_t c = row_n[b];
		bs[b] = o;
		for (uint32_t j = 0; j < c; j++) {
			if (dup && j > 0 && row[j].key == row[j - 1].key) {
				dups++;
				if (dup_cmp(row[j].node, vv[o - 1]) < 0)
					vv[o - 1] = row[j].node;
				continue;
			}
			keys[o] = row[j].key;
			vv[o] = row[j].node;
			o++;
		}
	}
	bs[nb] = o;
	keys[o] = keys[o - 1];
	*dups_out = dups;
	return o;
}

static uint32_t
compact_unique(struct alt_dag_ws *ws, uint32_t nb)
{
	uint32_t dups;

	return compact_rows(ws, nb, false, &dups);
}

static uint32_t
compact_dups(struct alt_dag_ws *ws, uint32_t nb, uint32_t *dups_out)
{
	return compact_rows(ws, nb, true, dups_out);
}

/* Steps 1 and 2 when a row overflowed: the walk again into a flat array,
 * merge sorted (stable), then deduplicated into keys[] and d->v as
 * compact_rows does. Returns the node count. */
static uint32_t
collect_sorted(struct alt_dag_ws *ws, struct alt_node *list, uint32_t n_nodes, uint32_t *dups_out)
{
	struct dag_pair *restrict pr = ws->pairs;
	uint64_t *restrict keys = ws->keys;
	struct alt_node **restrict vv = ws->d.v;
	uint32_t m, n, dups = 0;
	struct alt_node *p;

	for (p = list, m = 0; p != NULL && m < n_nodes; p = p->next, m++) {
		pr[m].key = p->node_id;
		pr[m].node = p;
	}
	sort_pairs(pr, m, ws->pairs_tmp);
	keys[0] = pr[0].key;
	vv[0] = pr[0].node;
	n = 1;
	for (uint32_t i = 1; i < m; i++) {
		if (pr[i].key == keys[n - 1]) {
			dups++;
			if (dup_cmp(pr[i].node, vv[n - 1]) < 0)
				vv[n - 1] = pr[i].node;
			continue;
		}
		keys[n] = pr[i].key;
		vv[n] = pr[i].node;
		n++;
	}
	keys[n] = keys[n - 1];
	*dups_out = dups;
	return n;
}

/* The fallback's lookup: an open-addressing hash (linear probing) of the
 * distinct IDs, whatever their distribution. */
static void
index_hash(struct alt_dag_ws *ws, uint32_t n, struct dag_ids *t)
{
	const uint64_t *restrict keys = ws->keys;
	uint32_t *restrict hmap = ws->hmap;
	uint32_t cap = DAG_MIN_BUCKETS, lb = 2;

	while (cap < 2 * n) {
		cap <<= 1;
		lb++;
	}
	memset(hmap, 0, (size_t)cap * sizeof(*hmap));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = hash_home(keys[i], 64 - lb);
		while (hmap[h] != 0)
			h = (h + 1) & (cap - 1);
		hmap[h] = i + 1;
	}
	t->hmap = hmap;
	t->shift = 64 - lb;
	t->mask = cap - 1;
}

/* The counters over the kept records (when IDs repeat). */
static void
summarise(struct alt_node *const *restrict vv, uint32_t n, struct dag_sum *sum)
{
	uint64_t start_ns = UINT64_MAX, end_ns = 0;
	uint32_t errors = 0, roots = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct alt_node *v = vv[i];
		uint64_t s = v->start_ns, end = node_end(v);
		start_ns = s < start_ns ? s : start_ns;
		end_ns = end > end_ns ? end : end_ns;
		errors += (v->flags & ALT_RF_ERROR) != 0;
		roots += v->parent_count == 0;
	}
	sum->start_ns = start_ns;
	sum->end_ns = end_ns;
	sum->errors = errors;
	sum->roots = roots;
}

/* Counters that step 3 updates off its common path. */
struct dag_tally {
	uint32_t nm;                    /* missing references collected */
	uint32_t orphans;
	uint32_t joins;
};

/* Step 3 for a node of 2 or more parent references: repeated references
 * dropped, present parents inserted sorted by index (at most 15); hashed
 * as for ids_find. Returns the new edge count. Inlined, so that resolve's loop makes no call (its
 * values would have to stay where calls do not clobber them). */
static inline __attribute__((always_inline)) uint32_t
resolve_many(struct alt_dag_ws *ws, const struct dag_ids *t, const struct alt_node *v,
	     uint32_t i, uint32_t e, struct dag_tally *ty, bool hashed)
{
	uint32_t *restrict par = ws->d.par;
	uint32_t first = e, j;
	unsigned pc = v->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : v->parent_count;
	bool mi = false;

	for (unsigned k = 0; k < pc; k++) {
		uint64_t pid = alt_node_parent(v, k);
		unsigned q;
		for (q = 0; q < k; q++)
			if (alt_node_parent(v, q) == pid)
				break;
		if (q < k)
			continue;       /* same reference listed twice */
		uint32_t x = ids_find(t, pid, hashed);
		if (x == UINT32_MAX) {
			mi = true;
			ws->miss[ty->nm++] = pid;
			continue;
		}
		for (j = e; j > first && par[j - 1] > x; j--)
			par[j] = par[j - 1];
		par[j] = x;
		ws->esrc[e] = i;
		ws->cnt[x]++;
		e++;
	}
	if (mi) {
		ws->d.missing[i] = 1;
		ty->orphans++;
	}
	ty->joins += e - first >= 2;
	return e;
}

/* Step 3: present parents (CSR), the child of each edge, children counts
 * (cnt[], zeroed by the caller), missing references (missing[], zeroed by
 * the caller). hashed: IDs found by t->hmap, else by the buckets. Always
 * inlined with hashed constant. Returns the edge count. */
static inline __attribute__((always_inline)) uint32_t
resolve(struct alt_dag_ws *ws, const struct dag_ids *t, uint32_t n, struct dag_tally *ty,
	bool hashed)
{
	struct alt_node *const *restrict vv = ws->d.v;
	uint32_t *restrict par = ws->d.par;
	uint32_t *restrict par_off = ws->d.par_off;
	uint32_t *restrict esrc = ws->esrc;
	uint32_t *restrict cnt = ws->cnt;
	const uint64_t *restrict keys = t->keys;
	const uint32_t *restrict bs = t->bs;
	const uint32_t *restrict hmap = t->hmap;
	uint32_t shift = t->shift, mask = t->mask, e = 0;

	for (size_t i = 0; i < n; i++) {         /* size_t: one induction variable */
		const struct alt_node *v = vv[i];
		if (v->parent_count == 1) {
			/* the common case: no repeats, no order; ids_find
			 * inline */
			uint64_t pid = v->parent0, b = pid >> shift;
			uint32_t x;
			if (hashed) {
				x = hash_find(keys, hmap, shift, mask, pid);
				if (x == UINT32_MAX)
					goto missing;
			} else {
				x = bs[b];
				if (alt_unlikely(keys[x] != pid)) {
					x = bucket_find_rest(keys, bs, b, x, pid);
					if (x == UINT32_MAX)
						goto missing;
				}
			}
			par[e] = x;
			esrc[e] = (uint32_t)i;
			cnt[x]++;
			e++;
		} else if (v->parent_count > 1) {
			e = resolve_many(ws, t, v, (uint32_t)i, e, ty, hashed);
		}
		par_off[i + 1] = e;
		continue;
missing:
		ws->d.missing[i] = 1;
		ty->orphans++;
		ws->miss[ty->nm++] = v->parent0;
		par_off[i + 1] = e;
	}
	return e;
}

static uint32_t
resolve_buckets(struct alt_dag_ws *ws, const struct dag_ids *t, uint32_t n, struct dag_tally *ty)
{
	return resolve(ws, t, n, ty, false);
}

static uint32_t
resolve_hashed(struct alt_dag_ws *ws, const struct dag_ids *t, uint32_t n, struct dag_tally *ty)
{
	return resolve(ws, t, n, ty, true);
}

/* Children CSR offsets (cnt[] becomes the fill cursors), in-degrees, and
 * the sources: first in topological order, by index, on level 1; other
 * levels (level[], zeroed by the caller) stay 0 until released. Returns
 * the number of sources. */
static uint32_t
offsets_sources(struct alt_dag_ws *ws, uint32_t n)
{
	uint32_t *restrict cnt = ws->cnt;
	uint32_t *restrict child_off = ws->d.child_off;
	const uint32_t *restrict par_off = ws->d.par_off;
	uint32_t *restrict deg = ws->deg;
	uint32_t *restrict level = ws->d.level;
	uint32_t *restrict topo = ws->d.topo;
	uint32_t o = 0, nt = 0, pb = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t c = cnt[i], pe = par_off[i + 1];
		cnt[i] = o;
		o += c;
		child_off[i + 1] = o;
		deg[i] = pe - pb;
		if (pe == pb) {
			level[i] = 1;
			topo[nt++] = i;
		}
		pb = pe;
	}
	return nt;
}

/* Children lists, each in ascending index order (edges come in ascending
 * child order). */
static void
fill_children(struct alt_dag_ws *ws, uint32_t e)
{
	uint32_t *restrict cnt = ws->cnt;
	uint32_t *restrict child = ws->d.child;
	const uint32_t *restrict par = ws->d.par;
	const uint32_t *restrict esrc = ws->esrc;

	for (uint32_t j = 0; j < e; j++)
		child[cnt[par[j]]++] = esrc[j];
}

/* Step 4: Kahn with a FIFO queue seeded with all sources (level 1). By
 * induction the queue's levels never decrease and span at most two
 * adjacent values, so a node's last parent to be dequeued (the one that
 * releases it) has the highest level among its parents: its level is that
 * parent's plus one. So the queue holds the levels one after the other:
 * the nodes released while level l is dequeued are exactly level l + 1,
 * the width is the longest such run and the depth the number of runs.
 * Returns the length of the order. */
static uint32_t
kahn(struct alt_dag_ws *ws, uint32_t nt, uint32_t *depth_out, uint32_t *width_out)
{
	const uint32_t *restrict child_off = ws->d.child_off;
	const uint32_t *restrict child = ws->d.child;
	uint32_t *restrict deg = ws->deg;
	uint32_t *restrict level = ws->d.level;
	uint32_t *restrict topo = ws->d.topo;
	uint32_t *head = topo, *tail = topo + nt, *bound = topo;
	uint32_t width = 0, lv = 1;

	while (head < tail) {
		if (head == bound) {
			/* the first of a level: the run behind it is complete */
			width = (uint32_t)(tail - head) > width ? (uint32_t)(tail - head) : width;
			bound = tail;
			lv++;           /* the level of the nodes released now */
		}
		const uint32_t *co = child_off + *head++;      /* one index for both ends */
		const uint32_t *cp = child + co[0], *ce = child + co[1];
		for (; cp < ce; cp++) {
			uint32_t c = *cp;
			if (--deg[c] == 0) {
				level[c] = lv;
				*tail++ = c;
			}
		}
	}
	*width_out = width;
	*depth_out = lv - 1;
	return (uint32_t)(tail - topo);
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
	struct dag_ids t;
	struct dag_tally ty = { 0, 0, 0 };
	struct dag_sum sum;
	uint32_t nb = DAG_MIN_BUCKETS, lb = 2, m, n, e, nt, dups = 0;
	bool dup;

	if (ws == NULL || n_nodes > ws->max_nodes)
		return NULL;
	d = &ws->d;
	d->par_off[0] = 0;
	d->child_off[0] = 0;
	d->critical_path_ns = 0;

	/* 1. and 2. index by node ID */
	while (nb < n_nodes) {
		nb <<= 1;
		lb++;
	}
	memset(ws->row_n, 0, (size_t)nb * sizeof(*ws->row_n));
	m = collect_rows(ws, list, n_nodes, 64 - lb, &sum, &dup);
	if (m == 0) {
		d->nodes = d->edges = d->roots = d->orphans = d->missing_parents = 0;
		d->joins = d->depth = d->width = d->errors = d->duplicates = 0;
		d->cycle_nodes = d->flags = 0;
		d->start_ns = d->end_ns = d->duration_ns = 0;
		d->n_topo = 0;
		return d;
	}
	t.keys = ws->keys;
	t.bs = ws->bs;
	t.hmap = NULL;
	t.shift = 64 - lb;
	t.mask = 0;
	if (alt_likely(m != UINT32_MAX)) {
		n = dup ? compact_dups(ws, nb, &dups) : compact_unique(ws, nb);
		if (dup)
			summarise(d->v, n, &sum);
	} else {
		n = collect_sorted(ws, list, n_nodes, &dups);
		index_hash(ws, n, &t);
		summarise(d->v, n, &sum);
	}

	/* 3. parents, children, sources */
	memset(ws->cnt, 0, (size_t)n * sizeof(*ws->cnt));
	memset(d->missing, 0, n);
	memset(d->on_critical, 0, n);
	memset(d->level, 0, (size_t)n * sizeof(*d->level));
	e = t.hmap != NULL ? resolve_hashed(ws, &t, n, &ty) : resolve_buckets(ws, &t, n, &ty);
	nt = offsets_sources(ws, n);
	fill_children(ws, e);

	/* 4. topological order, levels */
	nt = kahn(ws, nt, &d->depth, &d->width);

	d->nodes = n;
	d->edges = e;
	d->roots = sum.roots;
	d->orphans = ty.orphans;
	d->joins = ty.joins;
	d->errors = sum.errors;
	d->duplicates = dups;
	d->cycle_nodes = n - nt;
	d->n_topo = nt;
	d->flags = (dups ? ALT_DAG_DUPLICATE_ID : 0) | (ty.nm ? ALT_DAG_INCOMPLETE : 0) |
		   (nt != n ? ALT_DAG_CYCLE : 0);
	d->start_ns = sum.start_ns;
	d->end_ns = sum.end_ns;
	d->duration_ns = sum.end_ns - sum.start_ns;
	d->missing_parents = 0;
	if (ty.nm) {
		uint64_t *restrict miss = ws->miss;
		sort_u64(miss, ty.nm, ws->miss_tmp);
		d->missing_parents = 1;
		for (uint32_t i = 1; i < ty.nm; i++)
			d->missing_parents += miss[i] != miss[i - 1];
	}

	/* 5. critical path */
	if (!ws->no_critical)
		critical_path(ws, d);
	return d;
}
