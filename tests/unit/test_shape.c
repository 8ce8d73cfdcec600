/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/shape: invariances, distinctions, canonical text,
 * hash/text consistency, exponential unfoldings and cycles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_shape.h"

#define MAXN 4096
#define TXT 4096

static struct alt_intern *g_in;
static struct alt_dag_ws *g_dws;
static struct alt_shape_ws *g_sws;
static char g_txt[TXT];

struct tb {
	struct alt_node *v;
	struct alt_parent_ext *ext;
	uint32_t n;
	uint64_t next_id;       /* IDs handed out by tb_span */
	uint64_t t;             /* fake clock */
	struct alt_node *head;  /* list head of the last build */
};

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
tb_init(struct tb *t, uint64_t id_base)
{
	t->v = calloc(MAXN, sizeof(*t->v));
	t->ext = calloc(MAXN, sizeof(*t->ext));
	t->n = 0;
	t->next_id = id_base;
	t->t = rnd() % 1000000;
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

/* Add a node with np parents; returns its ID. Timing is arbitrary. */
static uint64_t
tb_node(struct tb *t, const char *svc, const char *op, uint8_t kind, unsigned np, const uint64_t *par)
{
	struct alt_node *x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->node_id = t->next_id;
	t->next_id += 1 + rnd() % 3;
	x->start_ns = t->t + rnd() % 1000;
	x->duration_ns = kind == ALT_KIND_EVENT ? 0 : 1 + rnd() % 5000;
	x->service_id = istr(svc);
	x->operation_id = istr(op);
	x->kind = kind;
	x->parent_count = (uint8_t)np;
	if (np >= 1)
		x->parent0 = par[0];
	if (np >= 2) {
		x->more = &t->ext[t->n];
		for (unsigned i = 1; i < np; i++)
			x->more->ids[i - 1] = par[i];
	}
	t->n++;
	return x->node_id;
}

static uint64_t
tb_span(struct tb *t, const char *svc, const char *op, uint64_t parent)
{
	return tb_node(t, svc, op, ALT_KIND_SPAN, parent ? 1 : 0, &parent);
}

/* Build the DAG with the list in a random order. */
static const struct alt_dag *
tb_build(struct tb *t)
{
	uint32_t perm[MAXN];
	for (uint32_t i = 0; i < t->n; i++)
		perm[i] = i;
	for (uint32_t i = t->n; i > 1; i--) {
		uint32_t j = (uint32_t)(rnd() % i), x = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = x;
	}
	for (uint32_t i = 0; i < t->n; i++)
		t->v[perm[i]].next = i + 1 < t->n ? &t->v[perm[i + 1]] : NULL;
	t->head = t->n ? &t->v[perm[0]] : NULL;
	return alt_dag_build(g_dws, t->head, t->n);
}

static uint64_t
shape_of(struct tb *t)
{
	return alt_shape_hash(g_sws, tb_build(t), g_in);
}

static const char *
text_of(struct tb *t)
{
	alt_shape_text(g_sws, tb_build(t), g_in, g_txt, sizeof(g_txt));
	return g_txt;
}

/* frontend/get -> (auth/check, db/query x2, db/query -> cache/get, log/write event) */
static void
small_tree(struct tb *t, const char *auth_op)
{
	uint64_t r = tb_span(t, "frontend", "get", 0);
	tb_span(t, "db", "query", r);
	tb_span(t, "auth", auth_op, r);
	tb_span(t, "db", "query", r);
	uint64_t q = tb_span(t, "db", "query", r);
	tb_span(t, "cache", "get", q);
	tb_node(t, "log", "write", ALT_KIND_EVENT, 1, &r);
}

static void
test_known_text(void)
{
	struct tb t;
	tb_init(&t, 100);
	small_tree(&t, "check");
	size_t len = alt_shape_text(g_sws, tb_build(&t), g_in, g_txt, sizeof(g_txt));
	const char *want = "frontend/get(@log/write,auth/check,db/query,db/query(cache/get))";
	CU_ASSERT_STRING_EQUAL(g_txt, want);
	CU_ASSERT_EQUAL(len, strlen(want));
	/* truncation like snprintf */
	char small[10];
	len = alt_shape_text(g_sws, tb_build(&t), g_in, small, sizeof(small));
	CU_ASSERT_EQUAL(len, strlen(want));
	CU_ASSERT_STRING_EQUAL(small, "frontend/");
	CU_ASSERT_EQUAL(alt_shape_text(g_sws, tb_build(&t), g_in, NULL, 0), strlen(want));
	tb_free(&t);
}

static void
test_independent_of_ids_timing_order(void)
{
	struct tb a, b;
	tb_init(&a, 1);
	tb_init(&b, 0xdead0000);
	small_tree(&a, "check");
	small_tree(&b, "check");
	uint64_t ha = shape_of(&a);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(shape_of(&b), ha);
	char ta[TXT];
	strcpy(ta, text_of(&a));
	CU_ASSERT_STRING_EQUAL(text_of(&b), ta);
	CU_ASSERT_NOT_EQUAL(ha, 0);
	tb_free(&a);
	tb_free(&b);
}

static void
fan(struct tb *t, unsigned k)
{
	uint64_t r = tb_span(t, "gw", "call", 0);
	for (unsigned i = 0; i < k; i++) {
		uint64_t c = tb_span(t, "svc", "work", r);
		tb_span(t, "db", "get", c);
	}
}

static void
test_fanout_multiplicity(void)
{
	struct tb a, b;
	tb_init(&a, 1);
	tb_init(&b, 1);
	fan(&a, 3);
	fan(&b, 12);
	CU_ASSERT_EQUAL(shape_of(&a), shape_of(&b));
	char ta[TXT];
	strcpy(ta, text_of(&a));
	CU_ASSERT_STRING_EQUAL(text_of(&b), ta);
	CU_ASSERT_STRING_EQUAL(ta, "gw/call(svc/work(db/get))");
	tb_free(&a);
	tb_free(&b);
}

/* Template with a repeated subtree at several levels. */
static void
nested(struct tb *t, unsigned k1, unsigned k2, unsigned k3)
{
	uint64_t r = tb_span(t, "api", "req", 0);
	tb_span(t, "auth", "tok", r);
	for (unsigned i = 0; i < k1; i++) {
		uint64_t a = tb_span(t, "order", "item", r);
		for (unsigned j = 0; j < k2; j++) {
			uint64_t b = tb_span(t, "stock", "check", a);
			for (unsigned k = 0; k < k3; k++)
				tb_span(t, "db", "select", b);
			tb_node(t, "stock", "log", ALT_KIND_EVENT, 1, &b);
		}
	}
}

static void
test_multiplicity_levels(void)
{
	struct tb a, b, c;
	tb_init(&a, 1);
	tb_init(&b, 1);
	tb_init(&c, 1);
	nested(&a, 3, 2, 4);
	nested(&b, 1, 5, 1);
	nested(&c, 1, 5, 0);            /* a level missing: different */
	uint64_t ha = shape_of(&a);
	CU_ASSERT_EQUAL(ha, shape_of(&b));
	CU_ASSERT_NOT_EQUAL(ha, shape_of(&c));
	char ta[TXT];
	strcpy(ta, text_of(&a));
	CU_ASSERT_STRING_EQUAL(text_of(&b), ta);
	tb_free(&a);
	tb_free(&b);
	tb_free(&c);
}

static void
test_labels_differ(void)
{
	struct tb a, b, c, e;
	tb_init(&a, 1);
	tb_init(&b, 1);
	tb_init(&c, 1);
	tb_init(&e, 1);
	uint64_t r;
	r = tb_span(&a, "s", "op", 0);
	tb_span(&a, "s", "x", r);
	r = tb_span(&b, "s", "op", 0);
	tb_span(&b, "s", "y", r);               /* operation */
	r = tb_span(&c, "s", "op", 0);
	tb_span(&c, "t", "x", r);               /* service */
	r = tb_span(&e, "s", "op", 0);
	tb_node(&e, "s", "x", ALT_KIND_EVENT, 1, &r);   /* kind */
	uint64_t h[4] = { shape_of(&a), shape_of(&b), shape_of(&c), shape_of(&e) };
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			CU_ASSERT_NOT_EQUAL(h[i], h[j]);
	CU_ASSERT_STRING_EQUAL(text_of(&e), "s/op(@s/x)");
	/* service and operation are not interchangeable */
	struct tb f, g;
	tb_init(&f, 1);
	tb_init(&g, 1);
	tb_span(&f, "ab", "c", 0);
	tb_span(&g, "c", "ab", 0);
	CU_ASSERT_NOT_EQUAL(shape_of(&f), shape_of(&g));
	tb_free(&a);
	tb_free(&b);
	tb_free(&c);
	tb_free(&e);
	tb_free(&f);
	tb_free(&g);
}

static void
test_join_vs_copies(void)
{
	struct tb a, b;
	tb_init(&a, 1);
	tb_init(&b, 1);
	uint64_t r = tb_span(&a, "s", "root", 0);
	uint64_t p[2];
	p[0] = tb_span(&a, "s", "left", r);
	p[1] = tb_span(&a, "s", "right", r);
	tb_node(&a, "s", "join", ALT_KIND_SPAN, 2, p);
	r = tb_span(&b, "s", "root", 0);
	tb_span(&b, "s", "join", tb_span(&b, "s", "left", r));
	tb_span(&b, "s", "join", tb_span(&b, "s", "right", r));
	CU_ASSERT_NOT_EQUAL(shape_of(&a), shape_of(&b));
	CU_ASSERT_STRING_EQUAL(text_of(&a), "s/root(s/left(s/join^),s/right(s/join^))");
	CU_ASSERT_STRING_EQUAL(text_of(&b), "s/root(s/left(s/join),s/right(s/join))");
	tb_free(&a);
	tb_free(&b);
}

static void
test_missing_parent(void)
{
	struct tb a, b;
	tb_init(&a, 1);
	tb_init(&b, 1);
	uint64_t r = tb_span(&a, "s", "root", 0);
	tb_span(&a, "s", "child", r);
	r = tb_span(&b, "s", "root", 0);
	uint64_t p[2] = { r, 0xabcdef };
	tb_node(&b, "s", "child", ALT_KIND_SPAN, 2, p);
	CU_ASSERT_NOT_EQUAL(shape_of(&a), shape_of(&b));
	CU_ASSERT_STRING_EQUAL(text_of(&b), "s/root(?s/child)");
	/* an orphan is a root of the shape, marked */
	struct tb c;
	tb_init(&c, 1);
	tb_span(&c, "s", "root", 0);
	tb_span(&c, "a", "orphan", 0xabcdef);
	CU_ASSERT_STRING_EQUAL(text_of(&c), "?a/orphan;s/root");
	tb_free(&a);
	tb_free(&b);
	tb_free(&c);
}

static void
test_escaping(void)
{
	struct tb a;
	tb_init(&a, 1);
	uint64_t r = tb_span(&a, "a/b", "x(y),z;w^2\\", 0);
	tb_span(&a, "?q", "@e", r);
	tb_span(&a, "@m", "k?", r);
	alt_shape_text(g_sws, tb_build(&a), g_in, g_txt, sizeof(g_txt));
	CU_ASSERT_STRING_EQUAL(g_txt, "a\\/b/x\\(y\\)\\,z\\;w\\^2\\\\(\\?q/@e,\\@m/k?)");
	/* escaped labels cannot be confused with markers */
	struct tb b, c;
	tb_init(&b, 1);
	tb_init(&c, 1);
	tb_span(&b, "?s", "o", 0);
	tb_span(&c, "s", "o", 0x77);
	char tb_[TXT];
	strcpy(tb_, text_of(&b));
	CU_ASSERT_STRING_NOT_EQUAL(tb_, text_of(&c));
	CU_ASSERT_NOT_EQUAL(shape_of(&b), shape_of(&c));
	tb_free(&a);
	tb_free(&b);
	tb_free(&c);
}

/* 'layers' stacked diamonds: top -> (l, r) -> bottom (a join) = next top. */
static void
diamonds(struct tb *t, unsigned layers)
{
	uint64_t top = tb_span(t, "d", "top", 0);
	for (unsigned i = 0; i < layers; i++) {
		uint64_t p[2];
		p[0] = tb_span(t, "d", "l", top);
		p[1] = tb_span(t, "d", "r", top);
		top = tb_node(t, "d", "top", ALT_KIND_SPAN, 2, p);
	}
}

static void
test_diamond_stack(void)
{
	struct tb t;
	tb_init(&t, 1);
	diamonds(&t, 40);
	const struct alt_dag *d = tb_build(&t);
	CU_ASSERT_EQUAL(d->depth, 81);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t h = alt_shape_hash(g_sws, d, g_in);
	size_t len = alt_shape_text(g_sws, d, g_in, g_txt, sizeof(g_txt));
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	printf("\n    40 stacked diamonds: hash+text %.3f ms, text length %zu\n", ms, len);
	CU_ASSERT(ms < 1000);
	CU_ASSERT_NOT_EQUAL(h, 0);
	CU_ASSERT(len > ((size_t)1 << 40));
	CU_ASSERT_EQUAL(strlen(g_txt), sizeof(g_txt) - 1);
	CU_ASSERT(strncmp(g_txt, "d/top(d/l(d/top^(d/l(", 21) == 0);
	/* far more layers: the length saturates */
	struct tb u;
	tb_init(&u, 1);
	diamonds(&u, 200);
	len = alt_shape_text(g_sws, tb_build(&u), g_in, g_txt, sizeof(g_txt));
	CU_ASSERT_EQUAL(len, SIZE_MAX / 2);
	CU_ASSERT_EQUAL(strlen(g_txt), sizeof(g_txt) - 1);
	/* a small stack printed in full agrees with the computed length */
	struct tb v;
	tb_init(&v, 1);
	diamonds(&v, 3);
	len = alt_shape_text(g_sws, tb_build(&v), g_in, g_txt, sizeof(g_txt));
	CU_ASSERT_EQUAL(len, strlen(g_txt));
	tb_free(&t);
	tb_free(&u);
	tb_free(&v);
}

static void
test_cycle_ignored(void)
{
	struct tb a, b;
	tb_init(&a, 1);
	tb_init(&b, 1);
	uint64_t r = tb_span(&a, "s", "root", 0);
	tb_span(&a, "s", "child", r);
	r = tb_span(&b, "s", "root", 0);
	tb_span(&b, "s", "child", r);
	/* x has parents root and y, y has parent x: both cycle nodes; z behind */
	struct alt_node *x = &b.v[b.n];
	uint64_t p[2] = { r, 0 };
	uint64_t xid = tb_node(&b, "c", "x", ALT_KIND_SPAN, 2, p);
	uint64_t yid = tb_span(&b, "c", "y", xid);
	x->more->ids[0] = yid;
	tb_span(&b, "c", "z", yid);
	tb_span(&b, "c", "self", b.next_id);    /* self loop */
	const struct alt_dag *d = tb_build(&b);
	CU_ASSERT_EQUAL(d->cycle_nodes, 4);
	CU_ASSERT_EQUAL(alt_shape_hash(g_sws, d, g_in), shape_of(&a));
	CU_ASSERT_STRING_EQUAL(text_of(&b), "s/root(s/child)");
	tb_free(&a);
	tb_free(&b);
}

/* Random small traces over a tiny alphabet: text equal <=> hash equal. */
static void
random_small(struct tb *t)
{
	static const char *ops[] = { "a", "b", "c" };
	uint32_t n = 1 + (uint32_t)(rnd() % 6);
	uint64_t ids[8];
	for (uint32_t i = 0; i < n; i++) {
		uint64_t p[2];
		unsigned np = 0;
		if (i > 0 && rnd() % 5 != 0)
			p[np++] = ids[rnd() % i];
		if (i > 1 && rnd() % 6 == 0) {
			p[np] = ids[rnd() % i];
			if (np == 0 || p[1] != p[0])
				np++;
		}
		if (np < 2 && rnd() % 10 == 0)
			p[np++] = 0x9999;       /* missing */
		ids[i] = tb_node(t, "s", ops[rnd() % 3],
				 rnd() % 6 == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN, np, p);
	}
}

static void
test_hash_text_consistent(void)
{
	enum { N = 300 };
	static uint64_t h[N];
	static char txt[N][256];
	unsigned same = 0;
	for (int i = 0; i < N; i++) {
		struct tb t;
		tb_init(&t, 1 + rnd() % 1000);
		random_small(&t);
		const struct alt_dag *d = tb_build(&t);
		h[i] = alt_shape_hash(g_sws, d, g_in);
		size_t len = alt_shape_text(g_sws, d, g_in, txt[i], sizeof(txt[i]));
		CU_ASSERT(len < sizeof(txt[i]));
		tb_free(&t);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			bool te = strcmp(txt[i], txt[j]) == 0;
			same += te;
			CU_ASSERT_EQUAL(te, h[i] == h[j]);
		}
	CU_ASSERT(same > 0);
}

/* ---- reference implementation (differential test) ----
 * A verbatim copy of the straightforward shape hash as first written
 * (lib/shape/shape.c before the label cache and the small-k fast paths):
 *   label(v) = mix(mix(mix(H(service) ^ C0) ^ H(operation)) ^ bits ^ C1)
 *   h(v)     = combine(label(v), sorted distinct h(c) over non-cycle children)
 *   shape    = combine(seed, sorted distinct h(r) over nodes without present
 *              parents)
 * The library must return exactly these values: they are a documented,
 * published output. */

struct ref_hi {
	uint64_t h;
	uint32_t i;
};

static void
ref_sort_hi(struct ref_hi *a, uint32_t n, struct ref_hi *tmp)
{
	uint32_t i, j, w;

#define REF_HI_LT(x, y) ((x).h < (y).h || ((x).h == (y).h && (x).i < (y).i))
	for (i = 0; i < n; i += 8) {
		uint32_t e = i + 8 < n ? i + 8 : n;
		for (uint32_t k = i + 1; k < e; k++) {
			struct ref_hi x = a[k];
			for (j = k; j > i && REF_HI_LT(x, a[j - 1]); j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
	}
	struct ref_hi *src = a, *dst = tmp;
	for (w = 8; w < n; w *= 2) {
		for (i = 0; i < n; i += 2 * w) {
			uint32_t m = i + w < n ? i + w : n;
			uint32_t e = m + w < n ? m + w : n;
			uint32_t p = i, q = m, o = i;
			while (p < m && q < e)
				dst[o++] = REF_HI_LT(src[q], src[p]) ? src[q++] : src[p++];
			while (p < m)
				dst[o++] = src[p++];
			while (q < e)
				dst[o++] = src[q++];
		}
		struct ref_hi *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
#undef REF_HI_LT
}

static uint64_t
ref_label_hash(const struct alt_dag *d, const struct alt_intern *in, uint32_t v)
{
	const struct alt_node *n = d->v[v];
	uint32_t np = d->par_off[v + 1] - d->par_off[v];
	uint64_t bits = (uint64_t)(n->kind == ALT_KIND_EVENT ? 1 : 0) | (uint64_t)(d->missing[v] ? 2 : 0) |
			(uint64_t)(np >= 2 ? 2 : 1) << 8;
	uint64_t h = alt_mix64(alt_intern_hash(in, n->service_id) ^ 0x5bd1e9955bd1e995ULL);

	h = alt_mix64(h ^ alt_intern_hash(in, n->operation_id));
	return alt_mix64(h ^ bits ^ 0x27d4eb2f165667c5ULL);
}

static uint64_t
ref_combine(uint64_t seed, struct ref_hi *hi, uint32_t k, struct ref_hi *tmp)
{
	uint64_t h = seed;
	uint32_t m = 0;

	if (k > 1)
		ref_sort_hi(hi, k, tmp);
	for (uint32_t j = 0; j < k; j++) {
		if (j > 0 && hi[j].h == hi[j - 1].h)
			continue;
		h = alt_mix64(h ^ alt_mix64(hi[j].h + 0x9e3779b97f4a7c15ULL));
		m++;
	}
	return alt_mix64(h ^ ((uint64_t)m << 32) ^ 0xc2b2ae3d27d4eb4fULL);
}

/* Node hashes into nh[] (cycle nodes untouched); returns the shape hash. */
static uint64_t
ref_shape_hash(const struct alt_dag *d, const struct alt_intern *in, uint64_t *nh)
{
	struct ref_hi *hi = malloc(((size_t)d->nodes + 1) * sizeof(*hi));
	struct ref_hi *tmp = malloc(((size_t)d->nodes + 1) * sizeof(*tmp));
	uint32_t t, j, k;

	for (t = d->n_topo; t-- > 0;) {
		uint32_t v = d->topo[t];
		k = 0;
		for (j = d->child_off[v]; j < d->child_off[v + 1]; j++) {
			uint32_t c = d->child[j];
			if (d->level[c] == 0)
				continue;
			hi[k].h = nh[c];
			hi[k].i = c;
			k++;
		}
		nh[v] = ref_combine(ref_label_hash(d, in, v), hi, k, tmp);
	}
	k = 0;
	for (t = 0; t < d->n_topo; t++) {
		uint32_t v = d->topo[t];
		if (d->par_off[v + 1] != d->par_off[v])
			break;
		hi[k].h = nh[v];
		hi[k].i = v;
		k++;
	}
	uint64_t shape = ref_combine(0x6a09e667f3bcc909ULL, hi, k, tmp);
	free(hi);
	free(tmp);
	return shape;
}

/* Reference canonical text, straight from the grammar in alt_shape.h: the
 * unfolding with children sorted by their text (strcmp) and duplicates
 * collapsed. Recursive, exponential on stacked diamonds: only for small
 * acyclic-part DAGs. Returns a malloc'd string or NULL if longer than lim. */
static void
ref_esc(char **o, const char *s, uint32_t len, bool service)
{
	for (uint32_t i = 0; i < len; i++) {
		char b = s[i];
		bool e = strchr("\\(),;/^", b) != NULL && b != '\0';
		if (service && i == 0 && (b == '?' || b == '@'))
			e = true;
		if (e)
			*(*o)++ = '\\';
		*(*o)++ = b;
	}
}

static int
ref_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
ref_list_text(char **kids, uint32_t k, char sep)
{
	size_t tot = 1;
	uint32_t m = 0;
	qsort(kids, k, sizeof(*kids), ref_strcmp);
	for (uint32_t j = 0; j < k; j++)
		tot += strlen(kids[j]) + 1;
	char *r = malloc(tot), *o = r;
	for (uint32_t j = 0; j < k; j++) {
		if (j > 0 && strcmp(kids[j], kids[j - 1]) == 0)
			continue;
		if (m++ > 0)
			*o++ = sep;
		size_t l = strlen(kids[j]);
		memcpy(o, kids[j], l);
		o += l;
	}
	*o = '\0';
	return r;
}

static char *
ref_node_text(const struct alt_dag *d, const struct alt_intern *in, uint32_t v)
{
	const struct alt_node *n = d->v[v];
	uint32_t sl, ol, k = 0;
	const char *s = alt_intern_str(in, n->service_id, &sl);
	const char *op = alt_intern_str(in, n->operation_id, &ol);
	char **kids = malloc(((size_t)(d->child_off[v + 1] - d->child_off[v]) + 1) * sizeof(*kids));

	for (uint32_t j = d->child_off[v]; j < d->child_off[v + 1]; j++)
		if (d->level[d->child[j]] != 0)
			kids[k++] = ref_node_text(d, in, d->child[j]);
	char *list = ref_list_text(kids, k, ',');
	char *r = malloc(2 * (sl + ol) + strlen(list) + 8), *o = r;
	if (d->missing[v])
		*o++ = '?';
	if (n->kind == ALT_KIND_EVENT)
		*o++ = '@';
	ref_esc(&o, s, sl, true);
	*o++ = '/';
	ref_esc(&o, op, ol, false);
	if (d->par_off[v + 1] - d->par_off[v] >= 2)
		*o++ = '^';
	if (k > 0)
		o += sprintf(o, "(%s)", list);
	*o = '\0';
	for (uint32_t j = 0; j < k; j++)
		free(kids[j]);
	free(kids);
	free(list);
	return r;
}

static char *
ref_shape_text(const struct alt_dag *d, const struct alt_intern *in)
{
	char **kids = malloc(((size_t)d->nodes + 1) * sizeof(*kids));
	uint32_t k = 0;
	for (uint32_t t = 0; t < d->n_topo; t++) {
		uint32_t v = d->topo[t];
		if (d->par_off[v + 1] != d->par_off[v])
			break;
		kids[k++] = ref_node_text(d, in, v);
	}
	char *r = ref_list_text(kids, k, ';');
	for (uint32_t j = 0; j < k; j++)
		free(kids[j]);
	free(kids);
	return r;
}

/* Random DAG for the differential test. Mixes: random trees (deep and
 * bushy), wide fan-outs of one identical subtree (beyond any small-k fast
 * path), wide distinct fan-outs, joins, missing parents, cycles (two-node,
 * self and behind), point events, big label alphabets (more labels than
 * any label cache) and intern ids past the table (they read as
 * "<overflow>"). Returns 1 if the DAG may have an exponential unfolding. */
static const char *const diff_words[] = { "a", "b", "c", "db", "get", "/x", "?q", "@e", "a(b", "" };

static void
diff_label(char *buf, unsigned alphabet)
{
	unsigned r = (unsigned)(rnd() % alphabet);
	if (r < 10)
		strcpy(buf, diff_words[r]);
	else
		sprintf(buf, "w%u", r);
}

static uint64_t
diff_node(struct tb *t, unsigned alphabet, unsigned np, const uint64_t *par)
{
	char s[16], o[16];
	diff_label(s, alphabet);
	diff_label(o, alphabet);
	uint64_t id = tb_node(t, s, o, rnd() % 7 == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN, np, par);
	if (rnd() % 97 == 0)    /* id past the table: "<overflow>" */
		t->v[t->n - 1].service_id = 0x7fffffu + (uint32_t)(rnd() % 5);
	return id;
}

/* Subtree template replicated under parent: same labels, fresh IDs. */
static void
diff_fan(struct tb *t, uint64_t parent, unsigned copies, unsigned alphabet)
{
	char lab[6][2][16];
	unsigned sz = 1 + (unsigned)(rnd() % 6), kind[6], par[6];
	for (unsigned i = 0; i < sz; i++) {
		diff_label(lab[i][0], alphabet);
		diff_label(lab[i][1], alphabet);
		kind[i] = rnd() % 5 == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN;
		par[i] = i == 0 ? 0 : (unsigned)(rnd() % i);
	}
	for (unsigned c = 0; c < copies && t->n + sz < MAXN; c++) {
		uint64_t ids[6];
		for (unsigned i = 0; i < sz; i++) {
			uint64_t p = i == 0 ? parent : ids[par[i]];
			ids[i] = tb_node(t, lab[i][0], lab[i][1], (uint8_t)kind[i], 1, &p);
		}
	}
}

static void
diff_dag(struct tb *t)
{
	static uint64_t ids[MAXN];
	unsigned r = (unsigned)(rnd() % 100);
	uint32_t n = r < 80 ? 1 + (uint32_t)(rnd() % 60) : r < 95 ? 1 + (uint32_t)(rnd() % 400) :
		     1 + (uint32_t)(rnd() % (MAXN / 2));
	unsigned alphabet = rnd() % 3 == 0 ? 4 : rnd() % 2 ? 12 : 3000;
	unsigned p_join = (unsigned)(rnd() % 4), p_miss = (unsigned)(rnd() % 3);
	unsigned p_fan = (unsigned)(rnd() % 3), recent = 1 + (unsigned)(rnd() % 8);

	for (uint32_t i = 0; i < n && t->n < MAXN - 200; i++) {
		uint64_t p[3];
		unsigned np = 0;
		if (t->n > 0 && rnd() % 12 != 0) {
			/* mostly recent parents: deep trees; else any: bushy */
			uint32_t back = rnd() % 2 ? 1 + (uint32_t)(rnd() % recent) : 1 + (uint32_t)(rnd() % t->n);
			p[np++] = ids[t->n - (back <= t->n ? back : t->n)];
		}
		if (t->n > 1 && rnd() % 10 < p_join) {
			uint64_t q = ids[rnd() % t->n];
			if (np == 0 || q != p[0])
				p[np++] = q;
		}
		if (rnd() % 20 < p_miss)
			p[np++] = 0xfff000000000ULL + rnd() % 4;        /* missing */
		ids[t->n] = diff_node(t, alphabet, np, p);
		if (rnd() % 40 < p_fan) {
			uint64_t par = ids[t->n - 1];
			unsigned copies = rnd() % 4 == 0 ? 30 + (unsigned)(rnd() % 60) : 2 + (unsigned)(rnd() % 12);
			uint32_t before = t->n;
			diff_fan(t, par, copies, alphabet);
			for (uint32_t j = before; j < t->n; j++)
				ids[j] = t->v[j].node_id;
		}
	}
	if (rnd() % 8 == 0 && t->n > 0) {
		/* wide distinct fan-out */
		uint64_t par = ids[rnd() % t->n];
		unsigned w = 20 + (unsigned)(rnd() % 60);
		for (unsigned j = 0; j < w && t->n < MAXN; j++) {
			ids[t->n] = diff_node(t, 3000, 1, &par);
		}
	}
	if (rnd() % 6 == 0 && t->n > 2) {
		/* a cycle: some node gets a later node as its parent */
		uint32_t a = (uint32_t)(rnd() % (t->n - 1));
		uint32_t b = a + 1 + (uint32_t)(rnd() % (t->n - a - 1));
		struct alt_node *x = &t->v[a];
		if (x->parent_count == 0) {
			x->parent_count = 1;
			x->parent0 = t->v[b].node_id;
		} else {
			x->parent0 = t->v[b].node_id;
		}
		if (x->parent_count >= 2 && x->more->ids[0] == x->parent0)
			x->parent_count = 1;
	}
	if (rnd() % 10 == 0 && t->n < MAXN) {
		/* self loop */
		uint64_t self = t->next_id;
		tb_node(t, "s", "self", ALT_KIND_SPAN, 1, &self);
	}
}

static void
test_differential(void)
{
	enum { ROUNDS = 6000 };
	size_t isz = alt_intern_memsize(1024, 65536);
	void *imem = malloc(isz);
	struct alt_intern *saved = g_in;
	uint64_t *nh = malloc(MAXN * sizeof(*nh));
	unsigned texts = 0, cyc = 0, big = 0;

	/* a table of its own (the big alphabets overflow it), re-initialised
	 * in place now and then so that the same ids name other strings */
	g_in = alt_intern_init(imem, 1024, 65536);
	for (int round = 0; round < ROUNDS; round++) {
		struct tb t;
		if (round % 1500 == 1499) {
			g_in = alt_intern_init(imem, 1024, 65536);
			/* shift the ids: the same strings get other ids */
			for (unsigned j = 0; j < (unsigned)round % 7; j++) {
				char w[8];
				sprintf(w, "pad%u", j);
				istr(w);
			}
		}
		tb_init(&t, 1 + rnd() % 1000);
		diff_dag(&t);
		const struct alt_dag *d = tb_build(&t);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		uint64_t want = ref_shape_hash(d, g_in, nh);
		uint64_t got = alt_shape_hash(g_sws, d, g_in);
		CU_ASSERT_EQUAL(got, want);
		if (got != want)
			printf("\n    differential: round %d, %u nodes: %016llx != %016llx\n", round, d->nodes,
			       (unsigned long long)got, (unsigned long long)want);
		cyc += d->cycle_nodes > 0;
		big += d->nodes > 400;
		/* the text goes through the same CSR of distinct children */
		if (d->nodes <= 80 && d->joins <= 3) {
			char *rt = ref_shape_text(d, g_in);
			size_t len = alt_shape_text(g_sws, d, g_in, g_txt, sizeof(g_txt));
			CU_ASSERT_EQUAL(len, strlen(rt));
			if (strlen(rt) < sizeof(g_txt)) {
				CU_ASSERT_STRING_EQUAL(g_txt, rt);
				texts++;
			}
			free(rt);
			/* and the hash is unchanged by a text call in between */
			CU_ASSERT_EQUAL(alt_shape_hash(g_sws, d, g_in), want);
		}
		tb_free(&t);
	}
	printf("\n    differential: %d DAGs (%u with cycles, %u big), %u texts checked\n", ROUNDS, cyc, big,
	       texts);
	CU_ASSERT(cyc > 100);
	CU_ASSERT(big > 10);
	g_in = saved;
	free(nh);
	free(imem);
}

/* The label slots remember, per label, the hash with one child and with a
 * set of children: hash a few variants of one parent label in every order
 * (same set, same set with repeats, a subset, a superset, the set with one
 * child changed below, more distinct children than a slot keeps, a cycle
 * child) and compare each with the reference. */
static void
memo_variant(struct tb *t, unsigned which)
{
	static const char *kids[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j" };
	static const unsigned sets[][12] = {
		{ 2, 0, 1 },                    /* count, then the kids */
		{ 4, 1, 0, 0, 1 },
		{ 3, 0, 1, 2 },
		{ 1, 0 },
		{ 5, 0, 0, 0, 0, 0 },
		{ 2, 1, 2 },
		{ 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 },
		{ 9, 9, 8, 7, 6, 5, 4, 3, 2, 1 },
		{ 3, 2, 1, 0 },
	};
	enum { NSETS = sizeof(sets) / sizeof(sets[0]) };
	unsigned v = which % (NSETS + 2);
	uint64_t r = tb_span(t, "p", "x", 0);

	if (v < NSETS) {
		for (unsigned i = 1; i <= sets[v][0]; i++)
			tb_span(t, "k", kids[sets[v][i]], r);
	} else if (v == NSETS) {
		/* kids a, b where b has a child of its own */
		tb_span(t, "k", "a", r);
		tb_span(t, "k", "a", tb_span(t, "k", "b", r));
	} else {
		/* a, b and a two-node cycle hanging off p */
		tb_span(t, "k", "a", r);
		tb_span(t, "k", "b", r);
		struct alt_node *x = &t->v[t->n];
		uint64_t p[2] = { r, 0 };
		uint64_t xid = tb_node(t, "k", "c", ALT_KIND_SPAN, 2, p);
		x->more->ids[0] = tb_span(t, "k", "d", xid);
	}
	if (which >= NSETS + 2)         /* a second copy of the parent */
		tb_span(t, "p", "x", 0);
}

static void
test_memo_orders(void)
{
	uint64_t *nh = malloc(MAXN * sizeof(*nh));

	for (int round = 0; round < 3000; round++) {
		struct tb t;
		tb_init(&t, 1 + rnd() % 1000);
		memo_variant(&t, (unsigned)(rnd() % 22));
		const struct alt_dag *d = tb_build(&t);
		uint64_t want = ref_shape_hash(d, g_in, nh);
		CU_ASSERT_EQUAL(alt_shape_hash(g_sws, d, g_in), want);
		char *rt = ref_shape_text(d, g_in);
		alt_shape_text(g_sws, d, g_in, g_txt, sizeof(g_txt));
		CU_ASSERT_STRING_EQUAL(g_txt, rt);
		free(rt);
		tb_free(&t);
	}
	free(nh);
}

static void
test_speed(void)
{
	static const char *svc[] = { "gw", "auth", "cart", "db", "cache", "search", "user", "mq" };
	static const char *op[] = { "get", "put", "query", "call", "list", "scan" };
	struct tb t;
	tb_init(&t, 1);
	uint64_t ids[350];
	ids[0] = tb_span(&t, "gw", "entry", 0);
	for (uint32_t i = 1; i < 350; i++)
		ids[i] = tb_span(&t, svc[rnd() % 8], op[rnd() % 6], ids[rnd() % i]);
	const struct alt_dag *d = tb_build(&t);
	struct alt_node *head = t.head;
	CU_ASSERT_EQUAL(d->nodes, 350);
	enum { ITER = 20000 };
	struct timespec a, b, c;
	uint64_t acc = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < ITER; i++) {
		d = alt_dag_build(g_dws, head, t.n);
		acc += alt_shape_hash(g_sws, d, g_in);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	for (int i = 0; i < ITER / 10; i++)
		acc += alt_shape_text(g_sws, d, g_in, g_txt, sizeof(g_txt));
	clock_gettime(CLOCK_MONOTONIC, &c);
	double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	double ns2 = (double)(c.tv_sec - b.tv_sec) * 1e9 + (double)(c.tv_nsec - b.tv_nsec);
	printf("\n    350-node tree: dag+shape hash %.1f ns/node, text (cap %d) %.1f ns/node (%llu)\n",
	       ns / ITER / 350, TXT, ns2 / (ITER / 10) / 350, (unsigned long long)(acc & 1));
	tb_free(&t);
}

int
main(void)
{
	size_t isz = alt_intern_memsize(1024, 65536);
	void *imem = malloc(isz);
	g_in = alt_intern_init(imem, 1024, 65536);
	size_t dsz = alt_dag_ws_memsize(MAXN), ssz = alt_shape_ws_memsize(MAXN);
	void *dmem = aligned_alloc(64, (dsz + 63) & ~(size_t)63);
	void *smem = aligned_alloc(64, (ssz + 63) & ~(size_t)63);
	g_dws = alt_dag_ws_init(dmem, MAXN);
	g_sws = alt_shape_ws_init(smem, MAXN);
	if (g_in == NULL || g_dws == NULL || g_sws == NULL)
		return 1;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	CU_pSuite s = CU_add_suite("shape", NULL, NULL);
	CU_add_test(s, "known_text", test_known_text);
	CU_add_test(s, "independent_of_ids_timing_order", test_independent_of_ids_timing_order);
	CU_add_test(s, "fanout_multiplicity", test_fanout_multiplicity);
	CU_add_test(s, "multiplicity_levels", test_multiplicity_levels);
	CU_add_test(s, "labels_differ", test_labels_differ);
	CU_add_test(s, "join_vs_copies", test_join_vs_copies);
	CU_add_test(s, "missing_parent", test_missing_parent);
	CU_add_test(s, "escaping", test_escaping);
	CU_add_test(s, "diamond_stack", test_diamond_stack);
	CU_add_test(s, "cycle_ignored", test_cycle_ignored);
	CU_add_test(s, "hash_text_consistent", test_hash_text_consistent);
	CU_add_test(s, "differential", test_differential);
	CU_add_test(s, "memo_orders", test_memo_orders);
	CU_add_test(s, "speed", test_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	free(smem);
	free(dmem);
	free(imem);
	return (int)fails;
}
