/* SPDX-License-Identifier: BSD-3-Clause
 * Models (filters and latency limits) and the per-trace checks.
 */
#include "alt_tmpl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SEEN_SLOTS 64   /* direct-mapped cache of edges known good, per workspace */
#define SHAPE_SLOTS 256 /* shapes whose every edge is known */
#define OP_SLOTS 1024   /* (service id, operation id) -> latency limit */

/* A shape fixes the set of (caller, callee) label pairs: once a trace of
 * this shape had every edge known under a model, later ones have too. */
struct shape_ent {
	uint64_t shape;
	uint64_t limit_ns;              /* the shape's latency limit (0 none) */
	uint8_t exact;                  /* the shape itself is in the filter */
	uint8_t valid;
};

/* The latency limit of a (service, operation) by intern ids. */
struct op_ent {
	uint64_t ids;                   /* (service id << 32 | operation id) + 1; 0 = empty */
	uint64_t limit_ns;              /* 0 = none */
};

struct alt_tmpl_ws {
	uint32_t max_nodes;
	uint64_t gen;                   /* generation the caches are valid for */
	const struct alt_tmpl_model *model;
	const struct alt_intern *in;    /* the intern table op_cache ids belong to */
	uint64_t seen[SEEN_SLOTS];
	struct shape_ent shape_cache[SHAPE_SLOTS];
	struct op_ent op_cache[OP_SLOTS];
	struct op_ent key_cache[OP_SLOTS];      /* ids -> op key (any model; this intern table) */
	const struct alt_intern *key_in;        /* the intern table key_cache belongs to */
	uint64_t *opk;                  /* [max_nodes] op key per node */
	uint64_t *a;                    /* [max_nodes] scratch */
	uint64_t *b;                    /* [max_nodes] scratch */
};

uint64_t
alt_tmpl_op_key_str(const char *svc, size_t svc_len, const char *op, size_t op_len)
{
	return alt_tmpl_op_key(alt_hash_bytes(svc, svc_len, 0), alt_hash_bytes(op, op_len, 0));
}

/* ---- models ---- */

void
alt_tmpl_model_params_default(struct alt_tmpl_model_params *p)
{
	memset(p, 0, sizeof(*p));
	p->fpr = 0.001;
	p->latency_factor = 5.0;
}

struct layout {
	struct alt_bloom_params sp, ep;
	size_t off_shapes, off_edges, off_op, off_shape_lat, total;
	uint32_t op_slots, shape_slots;
	uint32_t n_op_limits, n_shape_limits;
};

static bool
layout_of(const struct alt_tmpl_set *s, const struct alt_tmpl_model_params *p, struct layout *l)
{
	size_t bs, be;
	uint64_t ns = s->n_shapes, ne = s->n_edges;

	memset(l, 0, sizeof(*l));
	if (!(p->latency_factor >= 0) || !(p->fpr > 0 && p->fpr <= 0.5))
		return false;
	l->sp.keys = p->shape_keys > ns ? p->shape_keys : (ns ? ns : 1);
	l->sp.fpr = p->fpr;
	l->sp.seed = 0x5a17ULL;
	l->ep.keys = p->edge_keys > ne ? p->edge_keys : (ne ? ne : 1);
	l->ep.fpr = p->fpr;
	l->ep.seed = 0xed6eULL;
	bs = alt_bloom_memsize(&l->sp);
	be = alt_bloom_memsize(&l->ep);
	if (bs == 0 || be == 0)
		return false;
	for (uint32_t i = 0; i < s->n_ops; i++)
		l->n_op_limits += s->ops[i].p99_ns > 0;
	for (uint32_t i = 0; i < s->n_shapes; i++)
		l->n_shape_limits += s->shapes[i].p99_ns > 0;
	l->op_slots = alt_pow2_at_least(2 * (uint64_t)l->n_op_limits + 2);
	l->shape_slots = alt_pow2_at_least(2 * (uint64_t)l->n_shape_limits + 2);
	l->off_shapes = alt_align64(sizeof(struct alt_tmpl_model));
	l->off_edges = l->off_shapes + alt_align64(bs);
	l->off_op = l->off_edges + alt_align64(be);
	l->off_shape_lat = l->off_op + alt_align64(sizeof(struct alt_tmpl_lat) * l->op_slots);
	l->total = l->off_shape_lat + alt_align64(sizeof(struct alt_tmpl_lat) * l->shape_slots);
	return true;
}

size_t
alt_tmpl_model_memsize(const struct alt_tmpl_set *s, const struct alt_tmpl_model_params *p)
{
	struct layout l;

	return layout_of(s, p, &l) ? l.total : 0;
}

static void
lat_put(struct alt_tmpl_lat *t, uint32_t mask, uint64_t key, uint64_t limit)
{
	uint32_t i;

	if (key == 0)
		key = 1;
	for (i = (uint32_t)alt_mix64(key) & mask; t[i].key != 0 && t[i].key != key; i = (i + 1) & mask)
		;
	/* a key given twice keeps the larger limit */
	if (t[i].key == 0 || limit > t[i].limit_ns)
		t[i].limit_ns = limit;
	t[i].key = key;
}

static inline uint64_t
lat_get(const struct alt_tmpl_lat *t, uint32_t mask, uint64_t key)
{
	if (key == 0)
		key = 1;
	for (uint32_t i = (uint32_t)alt_mix64(key) & mask;; i = (i + 1) & mask) {
		if (t[i].key == key)
			return t[i].limit_ns;
		if (t[i].key == 0)
			return 0;
	}
}

static uint64_t
limit_of(uint64_t p99, double factor)
{
	double x = (double)p99 * factor;

	return x >= 1.8e19 ? UINT64_MAX : (uint64_t)ceil(x);
}

struct alt_tmpl_model *
alt_tmpl_model_build(void *mem, size_t size, const struct alt_tmpl_set *s, const struct alt_tmpl_model_params *p)
{
	struct alt_tmpl_model *m = mem;
	struct alt_bloom *bs, *be;
	struct alt_tmpl_lat *ol, *sl;
	struct layout l;

	if (mem == NULL || ((uintptr_t)mem & 63) != 0 || !layout_of(s, p, &l) || size < l.total)
		return NULL;
	memset(mem, 0, l.total);
	bs = alt_bloom_init((uint8_t *)mem + l.off_shapes, &l.sp);
	be = alt_bloom_init((uint8_t *)mem + l.off_edges, &l.ep);
	ol = (struct alt_tmpl_lat *)((uint8_t *)mem + l.off_op);
	sl = (struct alt_tmpl_lat *)((uint8_t *)mem + l.off_shape_lat);
	if (bs == NULL || be == NULL)
		return NULL;
	m->generation = p->generation;
	m->latency_factor = p->latency_factor;
	m->op_mask = l.op_slots - 1;
	m->shape_mask = l.shape_slots - 1;
	for (uint32_t i = 0; i < s->n_shapes; i++) {
		const struct alt_tmpl_shape *sh = &s->shapes[i];
		uint64_t key = sh->family ? alt_tmpl_family_key(sh->hash) : sh->hash;

		alt_bloom_add(bs, key);
		if (sh->family)
			m->n_families++;
		else
			m->n_shapes++;
		if (sh->p99_ns > 0 && p->latency_factor > 0) {
			lat_put(sl, m->shape_mask, key, limit_of(sh->p99_ns, p->latency_factor));
			m->n_shape_limits++;
		}
	}
	for (uint32_t i = 0; i < s->n_edges; i++)
		alt_bloom_add(be, s->edges[i].key);
	m->n_edges = s->n_edges;
	for (uint32_t i = 0; i < s->n_ops; i++)
		if (s->ops[i].p99_ns > 0 && p->latency_factor > 0) {
			lat_put(ol, m->op_mask, s->ops[i].key, limit_of(s->ops[i].p99_ns, p->latency_factor));
			m->n_op_limits++;
		}
	m->has_families = m->n_families > 0;
	m->shapes = bs;
	m->edges = be;
	m->op_lat = ol;
	m->shape_lat = sl;
	m->bytes = l.total;
	return m;
}

void
alt_tmpl_model_info(const struct alt_tmpl_model *m, struct alt_tmpl_model_info *o)
{
	memset(o, 0, sizeof(*o));
	o->generation = m->generation;
	o->shape_keys = m->shapes->keys_added;
	o->edge_keys = m->edges->keys_added;
	o->families = m->n_families;
	o->op_limits = m->n_op_limits;
	o->shape_limits = m->n_shape_limits;
	o->shape_bits = alt_bloom_bits_total(m->shapes);
	o->edge_bits = alt_bloom_bits_total(m->edges);
	o->shape_k = m->shapes->k;
	o->edge_k = m->edges->k;
	o->shape_fpr = alt_bloom_fpr_now(m->shapes);
	o->edge_fpr = alt_bloom_fpr_now(m->edges);
	o->fpr_target = m->shapes->fpr_target;
	o->latency_factor = m->latency_factor;
	o->bytes = m->bytes;
}

/* ---- workspace ---- */

size_t
alt_tmpl_ws_memsize(uint32_t max_nodes)
{
	/* opk and a: one word per node; b: a hash set of two per node */
	return alt_align64(sizeof(struct alt_tmpl_ws)) + 4 * alt_align64(sizeof(uint64_t) * (size_t)max_nodes);
}

struct alt_tmpl_ws *
alt_tmpl_ws_init(void *mem, uint32_t max_nodes)
{
	struct alt_tmpl_ws *ws = mem;
	uint8_t *p = (uint8_t *)mem + alt_align64(sizeof(*ws));
	size_t arr = alt_align64(sizeof(uint64_t) * (size_t)max_nodes);

	if (mem == NULL || max_nodes == 0)
		return NULL;
	memset(ws, 0, sizeof(*ws));
	ws->max_nodes = max_nodes;
	ws->gen = UINT64_MAX;
	ws->opk = (uint64_t *)p;
	ws->a = (uint64_t *)(p + arr);
	ws->b = (uint64_t *)(p + 2 * arr);      /* two words per node */
	return ws;
}

/* The op key of every node, through a cache by intern ids. */
static void
op_keys(struct alt_tmpl_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	if (alt_unlikely(ws->key_in != in)) {
		memset(ws->key_cache, 0, sizeof(ws->key_cache));
		ws->key_in = in;
	}
	for (uint32_t i = 0; i < d->nodes; i++) {
		const struct alt_node *n = d->v[i];
		uint64_t ids = ((uint64_t)n->service_id << 32 | n->operation_id) + 1;
		struct op_ent *e = &ws->key_cache[(n->service_id * 0x9e3779b1u ^ n->operation_id) & (OP_SLOTS - 1)];

		if (alt_unlikely(e->ids != ids)) {
			e->ids = ids;
			e->limit_ns = alt_tmpl_op_key(alt_intern_hash_inline(in, n->service_id),
						      alt_intern_hash_inline(in, n->operation_id));
		}
		ws->opk[i] = e->limit_ns;
	}
}

/* ---- family signature ---- */

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
sort_u64(uint64_t *v, uint32_t n)
{
	if (n > 16) {
		qsort(v, n, sizeof(*v), u64_cmp);
		return;
	}
	for (uint32_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		uint32_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Hash of the set of values v[0..n) (each distinct value once, in any
 * order): the sum of the distinct values, which are mixed labels already.
 * Small sets dedupe by comparison, larger ones by sorting (v is
 * reordered). */
static uint64_t
set_sum(uint64_t *v, uint32_t n)
{
	uint64_t h = 0;

	if (n <= 16) {
		for (uint32_t i = 0; i < n; i++) {
			bool dup = false;

			for (uint32_t j = 0; j < i && !dup; j++)
				dup = v[j] == v[i];
			if (!dup)
				h += v[i];
		}
		return h;
	}
	sort_u64(v, n);
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || v[i] != v[i - 1])
			h += v[i];
	return h;
}

/*
 * The set of distinct local patterns, hashed: per node its label, the set
 * of its children's labels and the set of its parents' labels. O(nodes +
 * edges): patterns are deduplicated in a hash set of 2 x nodes slots.
 */
uint64_t
alt_tmpl_family(struct alt_tmpl_ws *ws, const struct alt_dag *d, const struct alt_intern *in)
{
	uint64_t *lab = ws->a, *set = ws->b, tmp[64], h = 0xfa11;
	uint32_t mask;

	if (d->nodes > ws->max_nodes)
		return 0;
	mask = alt_pow2_at_least(2 * (uint64_t)d->nodes) - 1;
	memset(set, 0, sizeof(uint64_t) * ((size_t)mask + 1));
	op_keys(ws, d, in);
	for (uint32_t i = 0; i < d->nodes; i++)
		lab[i] = alt_mix64(ws->opk[i] ^ ((uint64_t)d->v[i]->kind << 1) ^ d->missing[i]);
	for (uint32_t i = 0; i < d->nodes; i++) {
		uint32_t lo = d->child_off[i], hi = d->child_off[i + 1];
		uint64_t cs, ps, pat;

		/* the children's and the parents' labels as sets */
		if (hi - lo == 1) {
			cs = lab[d->child[lo]];
		} else if (hi - lo <= 64) {
			for (uint32_t j = lo; j < hi; j++)
				tmp[j - lo] = lab[d->child[j]];
			cs = set_sum(tmp, hi - lo);
		} else {
			uint64_t *buf = malloc(sizeof(uint64_t) * (hi - lo));

			cs = 0;
			if (buf != NULL) {
				for (uint32_t j = lo; j < hi; j++)
					buf[j - lo] = lab[d->child[j]];
				cs = set_sum(buf, hi - lo);
				free(buf);
			}
		}
		lo = d->par_off[i];
		hi = d->par_off[i + 1];
		if (hi - lo == 1) {
			ps = lab[d->par[lo]];
		} else {
			for (uint32_t j = lo; j < hi && j - lo < 64; j++)
				tmp[j - lo] = lab[d->par[j]];
			ps = set_sum(tmp, hi - lo < 64 ? hi - lo : 64);
		}
		pat = alt_mix64(lab[i] ^ (cs * 0x9e3779b97f4a7c15ULL) ^ (ps * 0xc2b2ae3d27d4eb4fULL + 1));
		if (pat == 0)
			pat = 1;
		for (uint32_t x = (uint32_t)pat & mask;; x = (x + 1) & mask) {
			if (set[x] == pat)
				break;
			if (set[x] == 0) {
				set[x] = pat;
				h += alt_mix64(pat);
				break;
			}
		}
	}
	return alt_mix64(h);
}

/* ---- edges ---- */

uint32_t
alt_tmpl_edge_keys(struct alt_tmpl_ws *ws, const struct alt_dag *d, const struct alt_intern *in, uint64_t *keys,
		   uint32_t cap)
{
	uint32_t n = 0, w = 0;

	if (d->nodes > ws->max_nodes)
		return 0;
	op_keys(ws, d, in);
	for (uint32_t i = 0; i < d->nodes; i++) {
		uint32_t lo = d->par_off[i], hi = d->par_off[i + 1];

		if (d->v[i]->parent_count == 0 && n < cap)
			keys[n++] = alt_tmpl_edge_key(0, ws->opk[i]);
		for (uint32_t j = lo; j < hi && n < cap; j++)
			keys[n++] = alt_tmpl_edge_key(ws->opk[d->par[j]], ws->opk[i]);
	}
	sort_u64(keys, n);
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || keys[i] != keys[w - 1])
			keys[w++] = keys[i];
	return w;
}

/* ---- the check ---- */

static inline bool
edge_known(struct alt_tmpl_ws *ws, const struct alt_tmpl_model *m, uint64_t key)
{
	uint64_t *slot = &ws->seen[(key >> 7) & (SEEN_SLOTS - 1)];

	if (*slot == key)
		return true;
	if (!alt_bloom_contains(m->edges, key))
		return false;
	*slot = key;
	return true;
}

/* An unknown edge, listed once per distinct key (the first few). */
static void
note_bad(struct alt_tmpl_verdict *v, uint64_t *bad, uint32_t *n_bad, uint64_t e, uint32_t parent, uint32_t child)
{
	for (uint32_t x = 0; x < *n_bad; x++)
		if (bad[x] == e)
			return;
	if (*n_bad < ALT_TMPL_MAX_REPORT)
		bad[(*n_bad)++] = e;
	if (v->n_edges < ALT_TMPL_MAX_REPORT) {
		v->edge[v->n_edges].parent = parent;
		v->edge[v->n_edges].child = child;
	}
	v->n_edges++;
}

/* The latency limit of node n's (service, operation), through the cache. */
static inline uint64_t
op_limit(struct alt_tmpl_ws *ws, const struct alt_tmpl_model *m, const struct alt_intern *in,
	 const struct alt_node *n)
{
	uint64_t ids = ((uint64_t)n->service_id << 32 | n->operation_id) + 1;
	struct op_ent *e = &ws->op_cache[(n->service_id * 0x9e3779b1u ^ n->operation_id) & (OP_SLOTS - 1)];

	if (alt_likely(e->ids == ids))
		return e->limit_ns;
	e->ids = ids;
	e->limit_ns = lat_get(m->op_lat, m->op_mask,
			      alt_tmpl_op_key(alt_intern_hash_inline(in, n->service_id),
					      alt_intern_hash_inline(in, n->operation_id)));
	return e->limit_ns;
}

/* Every edge of the trace against the edge filter (the slow path: a shape
 * not verified yet under this model). */
static void
check_edges(struct alt_tmpl_ws *ws, const struct alt_tmpl_model *m, const struct alt_dag *d,
	    const struct alt_intern *in, struct alt_tmpl_verdict *v)
{
	uint64_t bad[ALT_TMPL_MAX_REPORT];
	uint32_t n_bad = 0;

	op_keys(ws, d, in);
	for (uint32_t i = 0; i < d->nodes; i++) {
		uint32_t lo = d->par_off[i], hi = d->par_off[i + 1];
		uint64_t k = ws->opk[i];

		if (d->v[i]->parent_count == 0) {
			uint64_t e = alt_tmpl_edge_key(0, k);

			if (!edge_known(ws, m, e))
				note_bad(v, bad, &n_bad, e, UINT32_MAX, i);
		}
		for (uint32_t j = lo; j < hi; j++) {
			uint64_t e = alt_tmpl_edge_key(ws->opk[d->par[j]], k);

			if (alt_unlikely(!edge_known(ws, m, e)))
				note_bad(v, bad, &n_bad, e, d->par[j], i);
		}
	}
}

/*
 * Check a closed trace. The common case costs one cache probe for the
 * shape and one per span: a shape seen before under this model with every
 * edge known needs no edge lookups (a shape fixes its label pairs), and a
 * span's latency limit is cached by its intern ids.
 */
uint32_t
alt_tmpl_check(struct alt_tmpl_ws *ws, const struct alt_tmpl_model *m, const struct alt_dag *d,
	       const struct alt_intern *in, uint64_t shape, bool check_shape, struct alt_tmpl_verdict *v)
{
	struct shape_ent *se = &ws->shape_cache[(shape >> 11) & (SHAPE_SLOTS - 1)];
	bool cached = false, exact = false;
	uint64_t shape_limit = 0;

	v->flags = 0;
	v->generation = m->generation;
	v->shape_checked = check_shape;
	v->family = false;
	v->n_edges = 0;
	v->n_slow = 0;
	v->trace_slow = false;
	if (d->nodes > ws->max_nodes)
		return 0;
	if (alt_unlikely(ws->gen != m->generation || ws->model != m || ws->in != in)) {
		memset(ws->seen, 0, sizeof(ws->seen));
		memset(ws->shape_cache, 0, sizeof(ws->shape_cache));
		memset(ws->op_cache, 0, sizeof(ws->op_cache));
		ws->gen = m->generation;
		ws->model = m;
		ws->in = in;
	}
	/* cycle nodes are left out of shapes: such a trace is never cached */
	if (se->valid && se->shape == shape && !(d->flags & ALT_DAG_CYCLE)) {
		cached = true;
		exact = se->exact;
		shape_limit = se->limit_ns;
	} else {
		check_edges(ws, m, d, in, v);
		exact = alt_bloom_contains(m->shapes, shape);
		if (exact && m->n_shape_limits > 0)
			shape_limit = lat_get(m->shape_lat, m->shape_mask, shape);
		if (v->n_edges == 0 && !(d->flags & ALT_DAG_CYCLE)) {
			se->shape = shape;
			se->exact = exact;
			se->limit_ns = shape_limit;
			se->valid = 1;
		}
	}
	if (v->n_edges > 0)
		v->flags |= ALT_TMPL_EDGE;
	if (check_shape && !exact) {
		/* not an exact shape: a family that varies? */
		bool fam = false;

		shape_limit = 0;
		if (m->has_families) {
			uint64_t fk = alt_tmpl_family_key(alt_tmpl_family(ws, d, in));

			if (alt_bloom_contains(m->shapes, fk)) {
				fam = true;
				v->family = true;
				if (m->n_shape_limits > 0)
					shape_limit = lat_get(m->shape_lat, m->shape_mask, fk);
			}
		}
		if (!fam)
			v->flags |= ALT_TMPL_SHAPE;
	} else if (!check_shape) {
		shape_limit = 0;
	}
	(void)cached;
	if (m->n_op_limits > 0) {
		for (uint32_t i = 0; i < d->nodes; i++) {
			const struct alt_node *n = d->v[i];
			uint64_t lim;

			if (n->kind != ALT_KIND_SPAN)
				continue;
			lim = op_limit(ws, m, in, n);
			if (alt_unlikely(lim != 0 && n->duration_ns > lim)) {
				if (v->n_slow < ALT_TMPL_MAX_REPORT) {
					v->slow[v->n_slow].node = i;
					v->slow[v->n_slow].limit_ns = lim;
				}
				v->n_slow++;
			}
		}
	}
	if (shape_limit != 0 && d->duration_ns > shape_limit) {
		v->trace_slow = true;
		v->trace_limit_ns = shape_limit;
	}
	if (v->n_slow > 0 || v->trace_slow)
		v->flags |= ALT_TMPL_LATENCY;
	return v->flags;
}
