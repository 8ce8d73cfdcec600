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
