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

struct shape_hi {
	uint64_t h;
	uint32_t i;
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
	uint64_t *nh;           /* [max] node hash */
	uint32_t *doff;         /* [max + 2] CSR of distinct children; entry n = roots */
	uint32_t *dch;          /* [max * (ALT_MAX_PARENTS + 1)] */
	struct shape_hi *hi;    /* [max] */
	struct shape_hi *hi_tmp;/* [max] */
	uint32_t *tmp;          /* [max] merge buffer for text sort */
	uint32_t *dcnt;         /* [max] number of distinct children */
	size_t *len;            /* [max] text length of each node */
	struct shape_frame *stk_a;      /* [max + 2] */
	struct shape_frame *stk_b;      /* [max + 2] */
	size_t limit;           /* bytes compared when sorting by text */
};

static size_t
align_up(size_t x)
{
	return (x + 63) & ~(size_t)63;
}

static size_t
ws_layout(struct alt_shape_ws *ws, uint8_t *base, uint32_t max)
{
	size_t off = align_up(sizeof(struct alt_shape_ws));

#define SHAPE_CARVE(field, count) do { \
		if (ws != NULL) \
			ws->field = (void *)(base + off); \
		off = align_up(off + (size_t)(count) * sizeof(*ws->field)); \
	} while (0)
	SHAPE_CARVE(nh, max);
	SHAPE_CARVE(doff, max + 2);
	SHAPE_CARVE(dch, (size_t)max * (ALT_MAX_PARENTS + 1));
	SHAPE_CARVE(hi, max);
	SHAPE_CARVE(hi_tmp, max);
	SHAPE_CARVE(tmp, max);
	SHAPE_CARVE(dcnt, max);
	SHAPE_CARVE(len, max);
	SHAPE_CARVE(stk_a, max + 2);
	SHAPE_CARVE(stk_b, max + 2);
#undef SHAPE_CARVE
	if (ws != NULL)
		ws->max_nodes = max;
	return off;
}

/* Bytes of workspace for DAGs of up to max_nodes nodes (about 200 bytes a
 * node). 0 if max_nodes is 0 or too large. */
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
	return ws;
}

/* ---- hashing ---- */

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

static uint64_t
label_hash(const struct alt_dag *d, const struct alt_intern *in, uint32_t v)
{
	const struct alt_node *n = d->v[v];
	uint32_t np = n_present_parents(d, v);
	uint64_t bits = (uint64_t)(is_event(n) ? 1 : 0) | (uint64_t)(d->missing[v] ? 2 : 0) |
			(uint64_t)(np >= 2 ? 2 : 1) << 8;
	uint64_t h = alt_mix64(alt_intern_hash(in, n->service_id) ^ 0x5bd1e9955bd1e995ULL);

	h = alt_mix64(h ^ alt_intern_hash(in, n->operation_id));
	return alt_mix64(h ^ bits ^ 0x27d4eb2f165667c5ULL);
}

/* Order-dependent combine of the sorted distinct hashes hi[0..k) onto seed,
 * writing the representatives' indices to out; returns the combined hash
 * and the number of distinct entries in *nd. */
static uint64_t
combine(uint64_t seed, struct shape_hi *hi, uint32_t k, struct shape_hi *tmp,
	uint32_t *out, uint32_t *nd)
{
	uint64_t h = seed;
	uint32_t m = 0;

	if (k > 1)
		sort_hi(hi, k, tmp);
	for (uint32_t j = 0; j < k; j++) {
		if (j > 0 && hi[j].h == hi[j - 1].h)
			continue;
		h = alt_mix64(h ^ alt_mix64(hi[j].h + 0x9e3779b97f4a7c15ULL));
		out[m++] = hi[j].i;
	}
	*nd = m;
	return alt_mix64(h ^ ((uint64_t)m << 32) ^ 0xc2b2ae3d27d4eb4fULL);
}

/* Node hashes and the CSR of distinct children (sorted by hash); entry n of
 * the CSR lists the distinct root representatives. Returns the shape hash,
 * 0 if the DAG does not fit the workspace. */
static uint64_t
compute(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	uint32_t n = d->nodes, t, j, k, nd, pos;

	ws->d = d;
	ws->in = in;
	if (n > ws->max_nodes)
		return 0;
	/* distinct-children lists are laid out in reverse topo order of their
	 * owners; doff[v] is the start, the length is kept in len[] for now */
	pos = 0;
	for (t = d->n_topo; t-- > 0;) {
		uint32_t v = d->topo[t];
		k = 0;
		for (j = d->child_off[v]; j < d->child_off[v + 1]; j++) {
			uint32_t c = d->child[j];
			if (d->level[c] == 0)
				continue;
			ws->hi[k].h = ws->nh[c];
			ws->hi[k].i = c;
			k++;
		}
		ws->nh[v] = combine(label_hash(d, in, v), ws->hi, k, ws->hi_tmp, ws->dch + pos, &nd);
		ws->doff[v] = pos;
		ws->dcnt[v] = nd;
		pos += nd;
	}
	k = 0;
	for (t = 0; t < d->n_topo; t++) {
		uint32_t v = d->topo[t];
		if (n_present_parents(d, v) != 0)
			break;
		ws->hi[k].h = ws->nh[v];
		ws->hi[k].i = v;
		k++;
	}
	uint64_t shape = combine(0x6a09e667f3bcc909ULL, ws->hi, k, ws->hi_tmp, ws->dch + pos, &nd);
	ws->doff[n] = pos;
	ws->doff[n + 1] = pos + nd;
	return shape;
}

/* Shape hash of a built DAG (see the header); labels come from the intern
 * table via alt_intern_hash only. Returns 0 (not a valid shape in
 * practice) if the DAG has more nodes than the workspace. */
uint64_t
alt_shape_hash(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	if (ws == NULL || d == NULL || in == NULL)
		return 0;
	return compute(ws, d, in);
}

/* ---- text ---- */

/* Distinct children of v (v == nodes: the roots): start and count. */
static inline uint32_t
dkids(const struct alt_shape_ws *ws, uint32_t v, uint32_t *cnt)
{
	if (v == ws->d->nodes) {
		*cnt = ws->doff[v + 1] - ws->doff[v];
		return ws->doff[v];
	}
	*cnt = ws->dcnt[v];
	return ws->doff[v];
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
	if (ws->nh[x] != ws->nh[y])
		return ws->nh[x] < ws->nh[y] ? -1 : 1;
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
