/* SPDX-License-Identifier: BSD-3-Clause
 * Trace shape hash and canonical text (see alt_shape.h).
 *
 * Hash: bottom-up in reverse topological order,
 *   h(v) = H(label(v), sorted distinct h(child) over non-cycle children)
 * and the shape is H over the sorted distinct hashes of the nodes without
 * present parents. Labels use only content hashes of the strings, never
 * intern ids, so every lcore computes the same value.
 *
 * Text: the same tree with identical sibling subtrees collapsed, printed
 * with children sorted by their text. Two children have the same text iff
 * they have the same node hash (up to 64-bit collisions), so duplicates are
 * collapsed by hash. The length is a DP over nodes (saturating), and the
 * characters come from an iterator with an explicit stack that walks the
 * unfolding lazily; sorting children by text compares at most cap bytes, so
 * work is polynomial even when stacked diamonds make the unfolding
 * exponentially long.
 */
#include "alt_shape.h"

#define SHAPE_INSERTION_MAX 16
#define SHAPE_LEN_SAT (SIZE_MAX / 2)
#define SHAPE_VIRT UINT32_MAX        /* not a node: the frame of the root list */
#define SHAPE_DISTINCT_MAX 32        /* distinct children kept by insertion */
/* Label cache: direct mapped, one 128-byte slot per label. 1024 slots hold
 * the labels of a deployment's hot (service, operation, kind) combinations. */
#define SHAPE_LAB_SLOTS 1024u
#define SHAPE_SET_MAX 8              /* distinct children a slot remembers */
#define SHAPE_LAB_FREE UINT32_MAX    /* bits of an unused slot (real ones < 0x300) */
#define SHAPE_ROOT_SLOTS 64u         /* shape of a single-root DAG by root hash */
#define SHAPE_SEED 0x6a09e667f3bcc909ULL     /* seed of the root list */

struct shape_hi {
	uint64_t h;
	uint32_t i;
};

/* Label cache slot: the label of (service hash, operation hash, bits), the
 * hash of such a node without children, that of the last one seen with one
 * distinct child (the child's hash is the key) and that of the last one
 * seen with 2 to SHAPE_SET_MAX distinct children (their sorted hashes are
 * the key). All are pure functions of their keys, so a slot is exact
 * whatever was hashed before. The first 64 bytes are all that leaves and
 * chains read. */
struct shape_lab {
	uint64_t sh;
	uint64_t oh;
	uint64_t label;
	uint64_t leaf;          /* node hash, no child */
	uint64_t kid;           /* a child hash ... */
	uint64_t one;           /* ... and the node hash with that child alone */
	uint32_t bits;          /* SHAPE_LAB_FREE: unused */
	uint32_t nset;          /* distinct children in set[] (0: none) */
	uint64_t many;          /* node hash with the children set[0 .. nset) */
	uint64_t set[SHAPE_SET_MAX];    /* ascending */
};

/* The shape of a DAG with one distinct root, by the root's hash. */
struct shape_memo {
	uint64_t key;
	uint64_t val;
};

/* Per node: its hash and its distinct children dch[off .. off + cnt), sorted
 * by hash. Entry n (one past the nodes) lists the distinct roots. */
struct shape_node {
	uint64_t h;
	uint32_t off;
	uint32_t cnt;
};

/* One frame: node u whose '(' was written; st = 2*i while child i is still
 * to start, 2*i+1 while child i is being written. */
struct shape_frame {
	uint32_t u;
	uint32_t st;
};

struct shape_it {
	struct alt_shape_ws *ws;
	struct shape_frame *stk;
	uint32_t sp;
	/* label being written */
	bool lab;
	uint8_t sec;
	int pend;               /* escaped byte to write after '\' (-1: none) */
	uint32_t lu;
	uint32_t off;
	const char *s;
	uint32_t slen;
	char dig[4];
};

struct alt_shape_ws {
	uint32_t max_nodes;
	const struct alt_dag *d;
	const struct alt_intern *in;
	struct shape_node *node;        /* [max + 1] CSR of distinct children; entry n = roots */
	uint32_t *dch;          /* [max * (ALT_MAX_PARENTS + 1)] */
	struct shape_hi *hi;    /* [max] */
	struct shape_hi *hi_tmp;/* [max] */
	uint32_t *tmp;          /* [max] merge buffer for text sort */
	size_t *len;            /* [max] text length of each node */
	struct shape_frame *stk_a;      /* [max + 2] */
	struct shape_frame *stk_b;      /* [max + 2] */
	struct shape_lab *lab;          /* [SHAPE_LAB_SLOTS] label cache */
	struct shape_memo *root;        /* [SHAPE_ROOT_SLOTS] */
	size_t limit;           /* bytes compared when sorting by text */
};

/* The definition of the hash, in three steps (see the top of the file):
 * a node's label, each distinct child folded in (ascending hash), the
 * count of distinct children last. */
static inline uint64_t
label_mix(uint64_t sh, uint64_t oh, uint32_t bits)
{
	uint64_t h = alt_mix64(sh ^ 0x5bd1e9955bd1e995ULL);

	h = alt_mix64(h ^ oh);
	return alt_mix64(h ^ bits ^ 0x27d4eb2f165667c5ULL);
}

static inline uint64_t
kid_mix(uint64_t h, uint64_t child)
{
	return alt_mix64(h ^ alt_mix64(child + 0x9e3779b97f4a7c15ULL));
}

static inline uint64_t
end_mix(uint64_t h, uint32_t m)
{
	return alt_mix64(h ^ ((uint64_t)m << 32) ^ 0xc2b2ae3d27d4eb4fULL);
}

static size_t
ws_layout(struct alt_shape_ws *ws, uint8_t *base, uint32_t max)
{
	size_t off = alt_align64(sizeof(struct alt_shape_ws));

#define SHAPE_CARVE(field, count) do { \
		if (ws != NULL) \
			ws->field = (void *)(base + off); \
		off = alt_align64(off + (size_t)(count) * sizeof(*ws->field)); \
	} while (0)
	SHAPE_CARVE(node, max + 1);
	SHAPE_CARVE(dch, (size_t)max * (ALT_MAX_PARENTS + 1));
	SHAPE_CARVE(hi, max);
	SHAPE_CARVE(hi_tmp, max);
	SHAPE_CARVE(tmp, max);
	SHAPE_CARVE(len, max);
	SHAPE_CARVE(stk_a, max + 2);
	SHAPE_CARVE(stk_b, max + 2);
	SHAPE_CARVE(lab, SHAPE_LAB_SLOTS);
	SHAPE_CARVE(root, SHAPE_ROOT_SLOTS);
#undef SHAPE_CARVE
	if (ws != NULL)
		ws->max_nodes = max;
	return off;
}

/* Bytes of workspace for DAGs of up to max_nodes nodes (about 200 bytes a
 * node, plus 129 KiB of label cache). 0 if max_nodes is 0 or too large. */
size_t
alt_shape_ws_memsize(uint32_t max_nodes)
{
	if (max_nodes == 0 || max_nodes > (UINT32_MAX / 2) / (ALT_MAX_PARENTS + 1))
		return 0;
	return ws_layout(NULL, NULL, max_nodes);
}

/* Lay a workspace on mem (alt_shape_ws_memsize bytes, 8-byte aligned).
 * NULL if mem is NULL or max_nodes is invalid. */
struct alt_shape_ws *
alt_shape_ws_init(void *mem, uint32_t max_nodes)
{
	struct alt_shape_ws *ws = mem;

	if (mem == NULL || alt_shape_ws_memsize(max_nodes) == 0)
		return NULL;
	memset(ws, 0, sizeof(*ws));
	ws_layout(ws, mem, max_nodes);
	memset(ws->lab, 0, SHAPE_LAB_SLOTS * sizeof(*ws->lab));
	for (uint32_t i = 0; i < SHAPE_LAB_SLOTS; i++)
		ws->lab[i].bits = SHAPE_LAB_FREE;
	/* valid from the start: key 0 with its true value */
	for (uint32_t i = 0; i < SHAPE_ROOT_SLOTS; i++) {
		ws->root[i].key = 0;
		ws->root[i].val = end_mix(kid_mix(SHAPE_SEED, 0), 1);
	}
	return ws;
}

/* ---- hashing ---- */

/* Keep sort_hi's (hash, index) order: it fixes which of several children
 * with one hash represents them in the CSR (the smallest index). */
static void
sort_hi(struct shape_hi *a, uint32_t n, struct shape_hi *tmp)
{
	uint32_t i, j, w;

#define SHAPE_HI_LT(x, y) ((x).h < (y).h || ((x).h == (y).h && (x).i < (y).i))
	for (i = 0; i < n; i += 8) {
		uint32_t e = i + 8 < n ? i + 8 : n;
		for (uint32_t k = i + 1; k < e; k++) {
			struct shape_hi x = a[k];
			for (j = k; j > i && SHAPE_HI_LT(x, a[j - 1]); j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
	}
	struct shape_hi *src = a, *dst = tmp;
	for (w = 8; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			uint32_t m = i + w < n ? i + w : n;
			uint32_t e = m + w < n ? m + w : n;
			uint32_t p = i, q = m, o = i;
			while (p < m && q < e)
				dst[o++] = SHAPE_HI_LT(src[q], src[p]) ? src[q++] : src[p++];
			while (p < m)
				dst[o++] = src[p++];
			while (q < e)
				dst[o++] = src[q++];
		}
		struct shape_hi *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
#undef SHAPE_HI_LT
}

/* Sort a[0..k) (k >= 1) by hash and keep one entry per hash, the one with
 * the smallest index: what sort_hi and skipping repeats give, in O(k) for
 * a fan-out of identical subtrees (all one hash) or children already in
 * order. Insertion that drops duplicates on the way; once more than
 * SHAPE_DISTINCT_MAX distinct hashes are held, the rest is merge sorted
 * together with them. Returns the number of distinct hashes. */
static uint32_t
distinct_hi(struct shape_hi *restrict a, uint32_t k, struct shape_hi *restrict tmp)
{
	uint32_t m = 1, x, j;

	for (x = 1; x < k; x++) {
		struct shape_hi e = a[x];
		for (j = m; j > 0 && a[j - 1].h > e.h; j--)
			;
		if (j > 0 && a[j - 1].h == e.h) {
			if (e.i < a[j - 1].i)
				a[j - 1].i = e.i;
			continue;
		}
		if (m == SHAPE_DISTINCT_MAX)
			break;
		/* m <= x: the slots written are already read */
		for (uint32_t y = m; y > j; y--)
			a[y] = a[y - 1];
		a[j] = e;
		m++;
	}
	if (x < k) {
		memmove(a + m, a + x, (size_t)(k - x) * sizeof(*a));
		k = m + k - x;
		sort_hi(a, k, tmp);
		for (m = 1, j = 1; j < k; j++)
			if (a[j].h != a[m - 1].h)
				a[m++] = a[j];
	}
	return m;
}

/* Fold the distinct hashes of hi[0..k) (k >= 2) onto h, writing the
 * representatives' indices to out; returns the count in *nd. */
static inline uint64_t
combine(uint64_t h, struct shape_hi *restrict hi, uint32_t k, struct shape_hi *restrict tmp,
	uint32_t *restrict out, uint32_t *nd)
{
	uint32_t m;

	if (k == 2) {
		/* two children, the commonest list: no call */
		if (hi[1].h < hi[0].h || (hi[1].h == hi[0].h && hi[1].i < hi[0].i)) {
			struct shape_hi x = hi[0];
			hi[0] = hi[1];
			hi[1] = x;
		}
		m = hi[0].h == hi[1].h ? 1 : 2;
	} else {
		m = distinct_hi(hi, k, tmp);
	}
	for (uint32_t j = 0; j < m; j++) {
		h = kid_mix(h, hi[j].h);
		out[j] = hi[j].i;
	}
	*nd = m;
	return end_mix(h, m);
}

/* Label of a node through the label cache. The label is a function of the
 * two string hashes and the bits only, and a slot is checked against all
 * three, so a slot never goes stale: not when the intern table grows, nor
 * when another table (or a fresh one at the same address) is passed. */
static inline struct shape_lab *
label_of(struct shape_lab *restrict lab, const struct alt_intern_ent *restrict ents, uint32_t count,
	 const struct alt_node *x, uint32_t bits)
{
	uint32_t sid = x->service_id, oid = x->operation_id;
	/* alt_intern_hash_inline with the table's fields in locals (the
	 * stores into the workspace would otherwise force reloads) */
	uint64_t sh = ents[sid < count ? sid : ALT_INTERN_OVERFLOW].hash;
	uint64_t oh = ents[oid < count ? oid : ALT_INTERN_OVERFLOW].hash;
	struct shape_lab *e = &lab[(uint32_t)(sh + 2 * oh + bits) & (SHAPE_LAB_SLOTS - 1)];

	if (alt_unlikely(e->sh != sh || e->oh != oh || e->bits != bits)) {
		e->sh = sh;
		e->oh = oh;
		e->bits = bits;
		e->label = label_mix(sh, oh, bits);
		e->leaf = end_mix(e->label, 0);
		e->kid = 0;
		e->one = end_mix(kid_mix(e->label, 0), 1);
		e->nset = 0;
	}
	return e;
}

/* Hash of a node with the one distinct child hash ch. */
static inline uint64_t
one_child(struct shape_lab *e, uint64_t ch)
{
	if (alt_unlikely(e->kid != ch)) {
		e->kid = ch;
		e->one = end_mix(kid_mix(e->label, ch), 1);
	}
	return e->one;
}

/* Hash of a node with two or more children child[j .. je), the
 * representatives of its distinct children written to out (ascending hash)
 * and their count to *nd. When the distinct child hashes are exactly the
 * slot's remembered set (a service calling the same few things, trace
 * after trace) there is nothing to sort or mix: each child is looked up in
 * the set and the smallest index per hash kept. Otherwise the list is
 * sorted and folded, and remembered. Out of line: inlined, its live values
 * crowd the registers of the per-node loop, which then spills (measured:
 * more instructions in all). */
static __attribute__((noinline)) uint64_t
many_children(struct alt_shape_ws *ws, struct shape_lab *restrict e,
	      const struct shape_node *restrict node, const uint32_t *restrict child,
	      const uint32_t *restrict level, uint32_t j, uint32_t je, bool cyc,
	      uint32_t *restrict out, uint32_t *nd)
{
	uint32_t ns = e->nset, seen = 0, jj, k;

	/* a hit needs at least ns children; out[] stays within them */
	if (ns != 0 && ns <= je - j) {
		for (jj = j; jj < je; jj++) {
			uint32_t c = child[jj], p;
			if (cyc && level[c] == 0)
				continue;
			uint64_t h = node[c].h;
			for (p = 0; p < ns && e->set[p] != h; p++)
				;
			if (p == ns)
				break;
			if (!(seen & (1u << p))) {
				seen |= 1u << p;
				out[p] = c;
			} else if (c < out[p]) {
				out[p] = c;
			}
		}
		if (jj == je && seen == (1u << ns) - 1) {
			*nd = ns;
			return e->many;
		}
	}

	struct shape_hi *restrict hi = ws->hi;
	uint64_t h;
	k = 0;
	for (jj = j; jj < je; jj++) {
		uint32_t c = child[jj];
		if (cyc && level[c] == 0)
			continue;
		hi[k].h = node[c].h;
		hi[k].i = c;
		k++;
	}
	if (k == 0) {
		*nd = 0;
		return e->leaf;
	}
	if (k == 1) {
		*out = hi[0].i;
		*nd = 1;
		return one_child(e, hi[0].h);
	}
	h = combine(e->label, hi, k, ws->hi_tmp, out, nd);
	if (*nd >= 2 && *nd <= SHAPE_SET_MAX) {
		e->nset = *nd;
		for (k = 0; k < *nd; k++)
			e->set[k] = hi[k].h;
		e->many = h;
	}
	return h;
}

/* Node hashes and distinct children of the acyclic part, in reverse topo
 * order; returns the number of dch entries used. Instantiated twice with
 * constant flags: cyc (some child may be a cycle node, to be left out) and
 * plain (no node has a missing parent or two present parents, so the bits
 * are the kind alone), so the common case tests neither per node. */
static inline __attribute__((always_inline)) uint32_t
hash_nodes(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in, bool cyc,
	   bool plain)
{
	struct alt_node *const *restrict dv = d->v;
	const uint32_t *restrict topo = d->topo;
	const uint32_t *restrict par_off = d->par_off;
	const uint32_t *restrict child_off = d->child_off;
	const uint32_t *restrict child = d->child;
	const uint32_t *restrict level = d->level;
	const uint8_t *restrict missing = d->missing;
	struct shape_node *restrict node = ws->node;
	uint32_t *restrict dch = ws->dch;
	struct shape_lab *restrict lab = ws->lab;
	const struct alt_intern_ent *restrict ents = in->ents;
	uint32_t count = in->count, pos = 0, t;

	/* distinct-children lists are laid out in reverse topo order of their
	 * owners */
	for (t = d->n_topo; t-- > 0;) {
		uint32_t v = topo[t];
		const struct alt_node *x = dv[v];
		uint32_t bits = (x->kind == ALT_KIND_EVENT ? 1u : 0u) | 0x100u;
		if (!plain)
			bits = (bits & 1u) | (missing[v] ? 2u : 0u) |
			       (par_off[v + 1] - par_off[v] >= 2 ? 0x200u : 0x100u);
		/* the slot is used before any other label can evict it */
		struct shape_lab *e = label_of(lab, ents, count, x, bits);
		uint32_t j = child_off[v], je = child_off[v + 1], m;
		uint64_t h;

		if (je - j <= 1) {
			/* leaves and chains: no list, the hash from the slot */
			if (j == je || (cyc && level[child[j]] == 0)) {
				h = e->leaf;
				m = 0;
			} else {
				uint32_t c = child[j];
				h = one_child(e, node[c].h);
				dch[pos] = c;
				m = 1;
			}
		} else {
			h = many_children(ws, e, node, child, level, j, je, cyc, dch + pos, &m);
		}
		node[v].h = h;
		node[v].off = pos;
		node[v].cnt = m;
		pos += m;
	}
	return pos;
}

/* Node hashes and the CSR of distinct children (sorted by hash); entry n of
 * the CSR lists the distinct root representatives. Returns the shape hash,
 * 0 if the DAG does not fit the workspace.
 *
 * Most nodes have no child or one (leaves and chains of a tree): they take
 * a path with no list and no sort, and their hash comes from the label's
 * cache slot; the arrays are held in restrict locals so that the stores
 * into the workspace do not force the DAG's arrays to be reloaded. The
 * summary counts of the DAG (joins, orphans, cycle nodes) say which
 * per-node tests can be skipped. */
static uint64_t
compute(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	uint32_t n = d->nodes, pos, k, m, t;
	struct shape_hi *hi = ws->hi;
	uint64_t shape;

	ws->d = d;
	ws->in = in;
	if (n > ws->max_nodes)
		return 0;
	if (d->cycle_nodes == 0 && d->joins == 0 && d->orphans == 0)
		pos = hash_nodes(ws, d, in, false, true);
	else
		pos = hash_nodes(ws, d, in, d->cycle_nodes != 0, false);
	/* the roots: sources come first in topo */
	k = 0;
	for (t = 0; t < d->n_topo; t++) {
		uint32_t v = d->topo[t];
		if (d->par_off[v + 1] != d->par_off[v])
			break;
		hi[k].h = ws->node[v].h;
		hi[k].i = v;
		k++;
	}
	if (k == 1) {
		struct shape_memo *r = &ws->root[hi[0].h & (SHAPE_ROOT_SLOTS - 1)];
		if (r->key != hi[0].h) {
			r->key = hi[0].h;
			r->val = end_mix(kid_mix(SHAPE_SEED, hi[0].h), 1);
		}
		ws->dch[pos] = hi[0].i;
		m = 1;
		shape = r->val;
	} else if (k == 0) {
		m = 0;
		shape = end_mix(SHAPE_SEED, 0);
	} else {
		shape = combine(SHAPE_SEED, hi, k, ws->hi_tmp, ws->dch + pos, &m);
	}
	ws->node[n].off = pos;
	ws->node[n].cnt = m;
	return shape;
}

/* Shape hash of a built DAG (see the header); labels come from the
 * intern table's string hashes only. Returns 0 (not a valid shape in
 * practice) if the DAG has more nodes than the workspace. */
uint64_t
alt_shape_hash(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	if (ws == NULL || d == NULL || in == NULL)
		return 0;
	return compute(ws, d, in);
}

/* ---- text ---- */

static inline uint32_t
n_present_parents(const struct alt_dag *d, uint32_t v)
{
	return d->par_off[v + 1] - d->par_off[v];
}

static inline bool
is_event(const struct alt_node *n)
{
	return n->kind == ALT_KIND_EVENT;
}

/* Distinct children of v (v == nodes: the roots): start and count. */
static inline uint32_t
dkids(const struct alt_shape_ws *ws, uint32_t v, uint32_t *cnt)
{
	*cnt = ws->node[v].cnt;
	return ws->node[v].off;
}

static inline bool
needs_escape(unsigned char b, bool first_of_service)
{
	switch (b) {
	case '\\': case '(': case ')': case ',': case ';': case '/': case '^':
		return true;
	case '?': case '@':
		return first_of_service;
	default:
		return false;
	}
}

static size_t
esc_len(const char *s, uint32_t len, bool service)
{
	size_t r = len;
	for (uint32_t i = 0; i < len; i++)
		if (needs_escape((unsigned char)s[i], service && i == 0))
			r++;
	return r;
}

static size_t
label_len(const struct alt_shape_ws *ws, uint32_t v)
{
	const struct alt_dag *d = ws->d;
	const struct alt_node *n = d->v[v];
	uint32_t sl, ol, np = n_present_parents(d, v);
	const char *s = alt_intern_str(ws->in, n->service_id, &sl);
	const char *o = alt_intern_str(ws->in, n->operation_id, &ol);
	size_t r = esc_len(s, sl, true) + 1 + esc_len(o, ol, false);

	r += d->missing[v] ? 1 : 0;
	r += is_event(n) ? 1 : 0;
	if (np >= 2)
		r += 1;
	return r;
}

static inline size_t
sat_add(size_t a, size_t b)
{
	size_t r = a + b;
	return r > SHAPE_LEN_SAT || r < a ? SHAPE_LEN_SAT : r;
}

static void
it_label(struct shape_it *it, uint32_t u)
{
	it->lab = true;
	it->sec = 0;
	it->pend = -1;
	it->lu = u;
}

static void
it_init(struct shape_it *it, struct alt_shape_ws *ws, struct shape_frame *stk, uint32_t u)
{
	it->ws = ws;
	it->stk = stk;
	it->sp = 0;
	it->lab = false;
	it->pend = -1;
	if (u == ws->d->nodes) {
		stk[0].u = SHAPE_VIRT;
		stk[0].st = 0;
		it->sp = 1;
	} else {
		it_label(it, u);
	}
}

/* Next byte of the current label, -1 at its end. */
static int
it_label_next(struct shape_it *it)
{
	const struct alt_dag *d = it->ws->d;
	const struct alt_node *n = d->v[it->lu];
	uint32_t np;

	if (it->pend >= 0) {
		int c = it->pend;
		it->pend = -1;
		return c;
	}
	switch (it->sec) {
	case 0:
		it->sec = 1;
		if (d->missing[it->lu])
			return '?';
		/* fall through */
	case 1:
		it->sec = 2;
		it->s = alt_intern_str(it->ws->in, n->service_id, &it->slen);
		it->off = 0;
		if (is_event(n))
			return '@';
		/* fall through */
	case 2:
	case 4:
		if (it->off < it->slen) {
			unsigned char b = (unsigned char)it->s[it->off++];
			if (needs_escape(b, it->sec == 2 && it->off == 1)) {
				it->pend = b;
				return '\\';
			}
			return b;
		}
		if (it->sec == 2) {
			it->sec = 4;
			it->s = alt_intern_str(it->ws->in, n->operation_id, &it->slen);
			it->off = 0;
			return '/';
		}
		it->sec = 5;
		np = n_present_parents(d, it->lu);
		if (np < 2)
			return -1;
		it->off = 0;
		it->slen = 0;
		it->dig[it->slen++] = '^';
		/* fall through */
	case 5:
		if (it->off < it->slen)
			return (unsigned char)it->dig[it->off++];
		it->sec = 6;
		/* fall through */
	default:
		return -1;
	}
}

/* Next byte of the text, -1 at its end. Each call does O(1) work besides
 * label bytes, and at most a bounded number of steps produce no byte. */
static int
it_next(struct shape_it *it)
{
	struct alt_shape_ws *ws = it->ws;

	for (;;) {
		if (it->lab) {
			int c = it_label_next(it);
			uint32_t k;
			if (c >= 0)
				return c;
			it->lab = false;
			dkids(ws, it->lu, &k);
			if (k > 0) {
				it->stk[it->sp].u = it->lu;
				it->stk[it->sp].st = 0;
				it->sp++;
				return '(';
			}
			continue;
		}
		if (it->sp == 0)
			return -1;
		struct shape_frame *f = &it->stk[it->sp - 1];
		uint32_t node = f->u == SHAPE_VIRT ? ws->d->nodes : f->u;
		uint32_t k, b = dkids(ws, node, &k), i = f->st / 2;
		if ((f->st & 1) == 0) {
			if (i >= k) {   /* empty root list */
				it->sp--;
				continue;
			}
			f->st++;
			it_label(it, ws->dch[b + i]);
			continue;
		}
		if (i + 1 < k) {
			f->st = 2 * (i + 1);
			return f->u == SHAPE_VIRT ? ';' : ',';
		}
		it->sp--;
		if (f->u != SHAPE_VIRT)
			return ')';
	}
}

/* strcmp order of the texts of nodes x and y, looking at most ws->limit
 * bytes; texts equal that far compare by hash (only bytes past the limit
 * could tell them apart, and those are never printed). */
static int
text_cmp(struct alt_shape_ws *ws, uint32_t x, uint32_t y)
{
	struct shape_it a, b;

	it_init(&a, ws, ws->stk_a, x);
	it_init(&b, ws, ws->stk_b, y);
	for (size_t i = 0; i < ws->limit; i++) {
		int ca = it_next(&a), cb = it_next(&b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			break;
	}
	if (ws->node[x].h != ws->node[y].h)
		return ws->node[x].h < ws->node[y].h ? -1 : 1;
	return 0;
}

/* Sort the distinct children of v by text: insertion sort for short lists,
 * bottom-up merge sort otherwise. */
static void
sort_by_text(struct alt_shape_ws *ws, uint32_t v)
{
	uint32_t k, i, j, w;
	uint32_t *a = ws->dch + dkids(ws, v, &k);

	if (k <= SHAPE_INSERTION_MAX) {
		for (i = 1; i < k; i++) {
			uint32_t x = a[i];
			for (j = i; j > 0 && text_cmp(ws, x, a[j - 1]) < 0; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	uint32_t *src = a, *dst = ws->tmp;
	for (w = 1; w < k; w *= 2) {
		for (i = 0; i < k; i += 2 * w) {
			uint32_t m = i + w < k ? i + w : k;
			uint32_t e = m + w < k ? m + w : k;
			uint32_t p = i, q = m, o = i;
			while (p < m && q < e)
				dst[o++] = text_cmp(ws, src[q], src[p]) < 0 ? src[q++] : src[p++];
			while (p < m)
				dst[o++] = src[p++];
			while (q < e)
				dst[o++] = src[q++];
		}
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)k * sizeof(*a));
}

/* Canonical text of the shape into buf (see the header for the grammar),
 * NUL-terminated and truncated to cap - 1 bytes; buf may be NULL when cap
 * is 0. Returns the length the whole text needs, excluding the NUL, like
 * snprintf; for very large unfoldings (stacked diamonds double the text per
 * layer) the returned length saturates at SIZE_MAX / 2. Work is O(n + e)
 * for the length plus sorting children by text, where each comparison reads
 * at most cap bytes, plus O(cap) to print: polynomial whatever the
 * unfolded size. A leading '?' or '@' of a service is escaped with '\' like
 * the other special characters. Returns 0 (and writes "") if the DAG does
 * not fit the workspace. */
size_t
alt_shape_text(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in,
	       char *buf, size_t cap)
{
	uint32_t n, t, k, b, j;
	size_t total = 0;

	if (buf != NULL && cap > 0)
		buf[0] = '\0';
	if (ws == NULL || d == NULL || in == NULL || d->nodes > ws->max_nodes)
		return 0;
	n = d->nodes;
	compute(ws, d, in);
	ws->limit = cap;

	/* lengths bottom-up; children sorted by text while at it */
	for (t = d->n_topo; t-- > 0;) {
		uint32_t v = d->topo[t];
		b = dkids(ws, v, &k);
		size_t l = label_len(ws, v);
		if (k > 0) {
			l = sat_add(l, (size_t)k + 1);  /* '(' ')' and k - 1 commas */
			for (j = 0; j < k; j++)
				l = sat_add(l, ws->len[ws->dch[b + j]]);
			if (cap > 1 && k > 1)
				sort_by_text(ws, v);
		}
		ws->len[v] = l;
	}
	b = dkids(ws, n, &k);
	for (j = 0; j < k; j++)
		total = sat_add(total, ws->len[ws->dch[b + j]]);
	if (k > 1)
		total = sat_add(total, (size_t)k - 1);
	if (cap > 1 && k > 1)
		sort_by_text(ws, n);

	if (buf != NULL && cap > 1) {
		struct shape_it it;
		size_t o = 0;
		int c;
		it_init(&it, ws, ws->stk_a, n);
		while (o + 1 < cap && (c = it_next(&it)) >= 0)
			buf[o++] = (char)c;
		buf[o] = '\0';
	}
	return total;
}
