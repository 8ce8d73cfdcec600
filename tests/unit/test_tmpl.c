/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/tmpl: keys, the template file (round trip, errors with
 * their line), models and checks (shapes, families, edges, latency),
 * family signatures, observation tables and the acceptance rule, edit
 * distance against a plain reference, MDL clustering.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "alt_shape.h"
#include "alt_tmpl.h"

#define MAXN 2048

static struct alt_intern *g_in;
static struct alt_dag_ws *g_dws;
static struct alt_shape_ws *g_sws;
static struct alt_tmpl_ws *g_tws;

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ---- trace builder ---- */

struct tb {
	struct alt_node v[MAXN];
	struct alt_parent_ext ext[MAXN];
	uint32_t n;
	uint64_t next_id;
};

static void
tb_reset(struct tb *t)
{
	t->n = 0;
	t->next_id = 1000 + rnd() % 1000;
}

static uint64_t
tb_node(struct tb *t, const char *svc, const char *op, uint8_t kind, unsigned np, const uint64_t *par, uint64_t dur)
{
	struct alt_node *x = &t->v[t->n];

	memset(x, 0, sizeof(*x));
	x->node_id = t->next_id++;
	x->start_ns = 1000000 + t->n * 10;
	x->duration_ns = kind == ALT_KIND_EVENT ? 0 : dur;
	x->service_id = alt_intern_get(g_in, svc, (uint32_t)strlen(svc));
	x->operation_id = alt_intern_get(g_in, op, (uint32_t)strlen(op));
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
tb_span(struct tb *t, const char *svc, const char *op, uint64_t parent, uint64_t dur)
{
	return tb_node(t, svc, op, ALT_KIND_SPAN, parent ? 1 : 0, &parent, dur);
}

static const struct alt_dag *
tb_build(struct tb *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		t->v[i].next = i + 1 < t->n ? &t->v[i + 1] : NULL;
	return alt_dag_build(g_dws, t->n ? &t->v[0] : NULL, t->n);
}

/* frontend/GET -> api/Get x fan (each -> db/Query), api/Audit; opt: cache/Get */
static void
web(struct tb *t, unsigned fan, bool cache, uint64_t db_dur)
{
	uint64_t r = tb_span(t, "frontend", "GET /", 0, 5000000);

	for (unsigned i = 0; i < fan; i++) {
		uint64_t a = tb_span(t, "api", "Get", r, 1000000);

		tb_span(t, "db", "Query", a, db_dur);
	}
	tb_span(t, "api", "Audit", r, 200000);
	if (cache)
		tb_span(t, "cache", "Get", r, 50000);
}

/* a chain of `len` packet events, then a done event: the repetition varies */
static void
chain(struct tb *t, unsigned len)
{
	uint64_t r = tb_span(t, "client", "read", 0, 9000000);
	uint64_t p = tb_node(t, "dn", "open", ALT_KIND_EVENT, 1, &r, 0);

	for (unsigned i = 0; i < len; i++)
		p = tb_node(t, "dn", "packet", ALT_KIND_EVENT, 1, &p, 0);
	tb_node(t, "client", "done", ALT_KIND_EVENT, 1, &p, 0);
}

/* ---- keys ---- */

static void
test_keys(void)
{
	uint64_t a = alt_tmpl_op_key_str("svc", 3, "op", 2);

	CU_ASSERT(a == alt_tmpl_op_key(alt_hash_bytes("svc", 3, 0), alt_hash_bytes("op", 2, 0)));
	CU_ASSERT(a != alt_tmpl_op_key_str("op", 2, "svc", 3));
	CU_ASSERT(alt_tmpl_edge_key(a, 7) != alt_tmpl_edge_key(7, a));
	CU_ASSERT(alt_tmpl_family_key(a) != a);
}

/* ---- the file ---- */

static void
fill_set(struct alt_tmpl_set *s)
{
	struct alt_tmpl_cluster c = { .id = 1, .traces = 10, .shapes = 1, .variable = false, .rep = 0xabc, .rep_nodes = 3 };
	struct alt_tmpl_tree_line tree[2] = { { 0, 1, false, false, "frontend", "GET /" },
					      { 1, 3, true, true, "we\tird", "new\nline\\" } };
	struct alt_tmpl_shape sh = { .hash = 0x1234567890abcdefULL, .support = 10, .cluster = 1, .p50_ns = 5,
				     .p99_ns = 9 };
	struct alt_tmpl_shape fam = { .hash = 0xfedcba0987654321ULL, .support = 4, .cluster = 1, .family = true };

	c.tree = tree;
	c.n_tree = 2;
	s->traces = 42;
	s->min_support = 3;
	CU_ASSERT_FATAL(alt_tmpl_set_add_cluster(s, &c) == 0);
	CU_ASSERT_FATAL(alt_tmpl_set_add_shape(s, &sh) == 0);
	CU_ASSERT_FATAL(alt_tmpl_set_add_shape(s, &fam) == 0);
	CU_ASSERT_FATAL(alt_tmpl_set_add_edge(s, 7, "", "", "frontend", "GET /") == 0);
	CU_ASSERT_FATAL(alt_tmpl_set_add_edge(s, 5, "frontend", "GET /", "api", "Get") == 0);
	CU_ASSERT_FATAL(alt_tmpl_set_add_op(s, "api", "Get", 100, 10, 20) == 0);
}

static char *
set_text(const struct alt_tmpl_set *s, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(alt_tmpl_set_write(s, f) == 0);
	fclose(f);
	return buf;
}

static void
test_file_round_trip(void)
{
	struct alt_tmpl_set s, r;
	char err[256], *txt, *txt2;
	size_t len, len2;

	alt_tmpl_set_init(&s);
	alt_tmpl_set_init(&r);
	fill_set(&s);
	txt = set_text(&s, &len);
	CU_ASSERT_FATAL(alt_tmpl_set_parse(&r, txt, len, err, sizeof(err)) == 0);
	CU_ASSERT(r.n_shapes == 2 && r.n_edges == 2 && r.n_ops == 1 && r.n_clusters == 1);
	CU_ASSERT(r.traces == 42 && r.min_support == 3);
	CU_ASSERT(r.shapes[0].hash == s.shapes[0].hash && r.shapes[0].p99_ns == 9 && !r.shapes[0].family);
	CU_ASSERT(r.shapes[1].family && r.shapes[1].support == 4);
	CU_ASSERT(r.edges[0].key == s.edges[0].key && r.edges[1].key == s.edges[1].key);
	CU_ASSERT(r.ops[0].key == s.ops[0].key && r.ops[0].p99_ns == 20);
	CU_ASSERT_FATAL(r.clusters[0].n_tree == 2);
	CU_ASSERT(strcmp(r.clusters[0].tree[1].svc, "we\tird") == 0);
	CU_ASSERT(strcmp(r.clusters[0].tree[1].op, "new\nline\\") == 0);
	CU_ASSERT(r.clusters[0].tree[1].event && r.clusters[0].tree[1].join && r.clusters[0].tree[1].count == 3);
	/* writing what was read gives the same text */
	txt2 = set_text(&r, &len2);
	CU_ASSERT(len == len2 && memcmp(txt, txt2, len) == 0);
	free(txt);
	free(txt2);
	alt_tmpl_set_free(&s);
	alt_tmpl_set_free(&r);
}

static void
expect_error(const char *text, const char *want)
{
	struct alt_tmpl_set s;
	char err[256];

	alt_tmpl_set_init(&s);
	CU_ASSERT(alt_tmpl_set_parse(&s, text, strlen(text), err, sizeof(err)) == -EINVAL);
	if (strstr(err, want) == NULL) {
		printf("\n  error '%s', wanted '%s'", err, want);
		CU_FAIL("wrong error");
	}
	alt_tmpl_set_free(&s);
}

static void
test_file_errors(void)
{
	expect_error("", "empty file");
	expect_error("hello\n", "line 1: not a template file");
	expect_error("altair-templates\t2\n", "line 1: template file version '2'");
	expect_error("altair-templates\t1\n# c\n\nshape\t12\t1\t0\t0\t0\n", "line 4: shape '12' is not 16 hex digits");
	expect_error("altair-templates\t1\nshape\t0000000000000001\tx\t0\t0\t0\n", "line 2: support 'x'");
	expect_error("altair-templates\t1\nedge\t3\ta\tb\tc\n", "line 2: 'edge' takes 5 fields, found 4");
	expect_error("altair-templates\t1\nbogus\t1\n", "line 2: unknown record 'bogus'");
	expect_error("altair-templates\t1\nop\ta\\q\tb\t1\t1\t1\n", "line 2: bad escape");
	expect_error("altair-templates\t1\nop\ta\tb\t1\t9\t1\n", "line 2: p50 9 above p99 1");
	expect_error("altair-templates\t1\ntree\t1\t0\t1\tspan\ta\tb\n", "line 2: tree of cluster 1 before");
	expect_error("altair-templates\t1\nedge\t1\ta\tb\t\t\n", "line 2: edge without a callee");
	{
		/* p99 0 is "no latency limit" (too few samples), whatever the p50:
		 * altair-learn writes such lines for rare operations */
		const char *t = "altair-templates\t1\nop\temail\tSendReport\t4\t3140000\t0\n";
		struct alt_tmpl_set s;
		char err[256];

		alt_tmpl_set_init(&s);
		CU_ASSERT_EQUAL(alt_tmpl_set_parse(&s, t, strlen(t), err, sizeof(err)), 0);
		alt_tmpl_set_free(&s);
	}
}

/* ---- models and checks ---- */

static struct alt_tmpl_model *
model_of(const struct alt_tmpl_set *s, double fpr, double factor, uint64_t gen)
{
	struct alt_tmpl_model_params p;
	size_t sz;
	void *m = NULL;

	alt_tmpl_model_params_default(&p);
	p.fpr = fpr;
	p.latency_factor = factor;
	p.generation = gen;
	sz = alt_tmpl_model_memsize(s, &p);
	CU_ASSERT_FATAL(sz > 0 && posix_memalign(&m, 64, sz) == 0);
	CU_ASSERT_FATAL(alt_tmpl_model_build(m, sz, s, &p) == m);
	return m;
}

/* A set learned from traces built by fn(t, i) for i in [0, n). */
static void
learn(struct alt_tmpl_set *s, void (*fn)(struct tb *, unsigned), unsigned n, uint64_t min_support)
{
	size_t sz = alt_tmpl_obs_memsize(4096);
	struct alt_tmpl_obs *o = alt_tmpl_obs_init(malloc(sz), 4096);
	static struct tb t;

	CU_ASSERT_FATAL(o != NULL);
	for (unsigned i = 0; i < n; i++) {
		const struct alt_dag *d;

		tb_reset(&t);
		fn(&t, i);
		d = tb_build(&t);
		alt_tmpl_obs_trace(o, g_tws, d, g_in, alt_shape_hash(g_sws, d, g_in));
	}
	CU_ASSERT(o->overflow == 0);
	CU_ASSERT_FATAL(alt_tmpl_learn_accept(s, o, min_support) == 0);
	free(o);
}

static void
web_normal(struct tb *t, unsigned i)
{
	web(t, 1 + i % 4, i % 2, 300000);
}

static uint32_t
check(const struct alt_tmpl_model *m, struct tb *t, struct alt_tmpl_verdict *v)
{
	const struct alt_dag *d = tb_build(t);

	return alt_tmpl_check(g_tws, m, d, g_in, alt_shape_hash(g_sws, d, g_in), true, v);
}

static void
test_check_structure(void)
{
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m;
	struct alt_tmpl_verdict v;
	static struct tb t;
	const struct alt_dag *d;

	alt_tmpl_set_init(&s);
	learn(&s, web_normal, 40, 3);
	/* 2 exact shapes (fan-outs collapse; cache or not), 5 edges with the entry */
	CU_ASSERT(s.n_shapes == 2);
	CU_ASSERT(s.n_edges == 5);
	m = model_of(&s, 0.001, 5, 7);
	/* a normal trace, a fan-out never seen (multiplicity does not count) */
	tb_reset(&t);
	web(&t, 9, true, 300000);
	CU_ASSERT(check(m, &t, &v) == 0);
	CU_ASSERT(v.generation == 7 && v.shape_checked && !v.family);
	/* an unexpected call: shape and edge, the edge named by its nodes */
	tb_reset(&t);
	web(&t, 2, false, 300000);
	tb_span(&t, "legacy", "Charge", t.v[1].node_id, 1000);
	CU_ASSERT(check(m, &t, &v) == (ALT_TMPL_SHAPE | ALT_TMPL_EDGE));
	d = tb_build(&t);
	CU_ASSERT_FATAL(v.n_edges == 1);
	CU_ASSERT(d->v[v.edge[0].parent]->node_id == t.v[1].node_id);
	CU_ASSERT(d->v[v.edge[0].child]->operation_id == alt_intern_get(g_in, "Charge", 6));
	/* a missing subtree: every edge known, the shape is not */
	tb_reset(&t);
	tb_span(&t, "frontend", "GET /", 0, 5000000);
	tb_span(&t, "api", "Audit", t.v[0].node_id, 1000);
	CU_ASSERT(check(m, &t, &v) == ALT_TMPL_SHAPE);
	/* a new entry point */
	tb_reset(&t);
	tb_span(&t, "api", "Get", 0, 5000);
	CU_ASSERT(check(m, &t, &v) & ALT_TMPL_EDGE);
	CU_ASSERT(v.n_edges == 1 && v.edge[0].parent == UINT32_MAX);
	/* shape not checked when the trace is not intact */
	tb_reset(&t);
	tb_span(&t, "frontend", "GET /", 0, 5000000);
	d = tb_build(&t);
	CU_ASSERT(alt_tmpl_check(g_tws, m, d, g_in, alt_shape_hash(g_sws, d, g_in), false, &v) == 0);
	CU_ASSERT(!v.shape_checked);
	free(m);
	alt_tmpl_set_free(&s);
}

/* The per-workspace caches (shapes verified, limits) follow the model:
 * a new generation that drops an edge flags a shape verified before. */
static void
test_cache_follows_model(void)
{
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m1, *m2;
	struct alt_tmpl_verdict v;
	static struct tb t;

	alt_tmpl_set_init(&s);
	learn(&s, web_normal, 40, 3);
	m1 = model_of(&s, 0.001, 5, 1);
	for (uint32_t i = 0; i < s.n_edges; i++)
		if (s.edges[i].key == alt_tmpl_edge_key(alt_tmpl_op_key_str("frontend", 8, "GET /", 5),
							alt_tmpl_op_key_str("api", 3, "Audit", 5)))
			s.edges[i].key ^= 1;    /* forget frontend -> api/Audit */
	m2 = model_of(&s, 0.001, 5, 2);
	for (unsigned r = 0; r < 3; r++) {
		tb_reset(&t);
		web(&t, 2, false, 300000);
		CU_ASSERT(check(m1, &t, &v) == 0 && v.generation == 1);
		CU_ASSERT(check(m1, &t, &v) == 0);
		CU_ASSERT(check(m2, &t, &v) == ALT_TMPL_EDGE && v.generation == 2 && v.n_edges == 1);
	}
	free(m1);
	free(m2);
	alt_tmpl_set_free(&s);
}

static void
test_check_latency(void)
{
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m;
	struct alt_tmpl_verdict v;
	static struct tb t;
	struct alt_tmpl_shape *sh;

	alt_tmpl_set_init(&s);
	learn(&s, web_normal, 40, 3);
	CU_ASSERT_FATAL(alt_tmpl_set_add_op(&s, "db", "Query", 100, 250000, 400000) == 0);
	for (uint32_t i = 0; i < s.n_shapes; i++)
		s.shapes[i].p99_ns = 6000000;
	m = model_of(&s, 0.001, 5, 1);
	tb_reset(&t);
	web(&t, 2, true, 1999999);      /* just under 5 x 400 us */
	CU_ASSERT(check(m, &t, &v) == 0);
	tb_reset(&t);
	web(&t, 2, true, 2000001);
	CU_ASSERT(check(m, &t, &v) == ALT_TMPL_LATENCY);
	CU_ASSERT(v.n_slow == 2 && v.slow[0].limit_ns == 2000000 && !v.trace_slow);
	/* the trace over its shape's limit (5 x 6 ms) */
	tb_reset(&t);
	web(&t, 1, true, 300000);
	t.v[0].duration_ns = 30000001;
	CU_ASSERT(check(m, &t, &v) == ALT_TMPL_LATENCY);
	CU_ASSERT(v.trace_slow && v.trace_limit_ns == 30000000 && v.n_slow == 0);
	free(m);
	/* factor 0: no latency checks */
	m = model_of(&s, 0.001, 0, 1);
	CU_ASSERT(check(m, &t, &v) == 0);
	free(m);
	(void)sh;
	alt_tmpl_set_free(&s);
}

static void
chain_var(struct tb *t, unsigned i)
{
	chain(t, 50 + (i * 7) % 13);
}

static void
test_family(void)
{
	static struct tb t;
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m;
	struct alt_tmpl_verdict v;
	uint64_t f50, f;
	const struct alt_dag *d;

	tb_reset(&t);
	chain(&t, 50);
	f50 = alt_tmpl_family(g_tws, tb_build(&t), g_in);
	tb_reset(&t);
	chain(&t, 61);
	d = tb_build(&t);
	CU_ASSERT(alt_tmpl_family(g_tws, d, g_in) == f50);
	/* multiplicity and order do not count either; a missing call does */
	tb_reset(&t);
	web(&t, 2, false, 1);
	f = alt_tmpl_family(g_tws, tb_build(&t), g_in);
	tb_reset(&t);
	web(&t, 5, false, 1);
	CU_ASSERT(alt_tmpl_family(g_tws, tb_build(&t), g_in) == f);
	tb_reset(&t);
	tb_span(&t, "frontend", "GET /", 0, 5000000);
	tb_span(&t, "api", "Audit", t.v[0].node_id, 1000);
	CU_ASSERT(alt_tmpl_family(g_tws, tb_build(&t), g_in) != f);

	/* learning: 13 chain lengths, each below the support: the family varies */
	alt_tmpl_set_init(&s);
	learn(&s, chain_var, 26, 3);
	CU_ASSERT(s.n_shapes == 1 && s.shapes[0].family && s.shapes[0].support == 26);
	m = model_of(&s, 0.001, 5, 1);
	tb_reset(&t);
	chain(&t, 57);
	CU_ASSERT(check(m, &t, &v) == 0 && v.family);
	/* a truncated chain (no done event) is not the family */
	tb_reset(&t);
	chain(&t, 57);
	t.n--;
	CU_ASSERT(check(m, &t, &v) == ALT_TMPL_SHAPE);
	free(m);
	alt_tmpl_set_free(&s);
	/* a stable template with one rare variant: its family is not accepted */
	alt_tmpl_set_init(&s);
	learn(&s, web_normal, 40, 3);
	for (uint32_t i = 0; i < s.n_shapes; i++)
		CU_ASSERT(!s.shapes[i].family);
	alt_tmpl_set_free(&s);
}

static void
test_obs_merge_overflow(void)
{
	struct alt_tmpl_obs *a = alt_tmpl_obs_init(malloc(alt_tmpl_obs_memsize(8)), 8);
	struct alt_tmpl_obs *b = alt_tmpl_obs_init(malloc(alt_tmpl_obs_memsize(4)), 4);

	CU_ASSERT_FATAL(a != NULL && b != NULL);
	for (unsigned i = 0; i < 6; i++)
		alt_tmpl_obs_add(b, ALT_TMPL_OBS_EDGE, i, 0, 2);
	CU_ASSERT(b->n == 4 && b->overflow == 4);
	alt_tmpl_obs_add(a, ALT_TMPL_OBS_EDGE, 1, 0, 5);
	alt_tmpl_obs_add(a, ALT_TMPL_OBS_SHAPE, 1, 0, 5);
	alt_tmpl_obs_merge(a, b);
	CU_ASSERT(a->n == 5 && a->overflow == 4);
	for (uint32_t i = 0; i <= a->mask; i++)
		if (a->ent[i].kind == ALT_TMPL_OBS_EDGE && a->ent[i].key == 1)
			CU_ASSERT(a->ent[i].count == 7);
	alt_tmpl_obs_reset(a);
	CU_ASSERT(a->n == 0 && a->overflow == 0);
	free(a);
	free(b);
}

/* ---- edit distance and clustering ---- */

static uint32_t
ref_distance(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
	static uint32_t dp[201][201];

	for (uint32_t i = 0; i <= na; i++)
		for (uint32_t j = 0; j <= nb; j++) {
			if (i == 0 || j == 0) {
				dp[i][j] = i + j;
				continue;
			}
			uint32_t v = dp[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (dp[i - 1][j] + 1 < v)
				v = dp[i - 1][j] + 1;
			if (dp[i][j - 1] + 1 < v)
				v = dp[i][j - 1] + 1;
			dp[i][j] = v;
		}
	return dp[na][nb];
}

static void
test_edit_distance(void)
{
	uint32_t a[200], b[200];

	for (unsigned t = 0; t < 2000; t++) {
		uint32_t na = (uint32_t)(rnd() % 60), nb = (uint32_t)(rnd() % 60), alpha = 1 + (uint32_t)(rnd() % 4);
		uint32_t bound = (uint32_t)(rnd() % 70), r, d;

		for (uint32_t i = 0; i < na; i++)
			a[i] = (uint32_t)(rnd() % alpha);
		if (rnd() % 2) {        /* b a few edits from a */
			nb = na;
			memcpy(b, a, sizeof(uint32_t) * na);
			for (unsigned e = rnd() % 5; e > 0 && nb > 0; e--)
				b[rnd() % nb] = (uint32_t)(rnd() % alpha);
			if (rnd() % 2 && nb > 0)
				nb--;
		} else {
			for (uint32_t i = 0; i < nb; i++)
				b[i] = (uint32_t)(rnd() % alpha);
		}
		r = ref_distance(a, na, b, nb);
		d = alt_tmpl_edit_distance(a, na, b, nb, bound);
		if (r <= bound) {
			CU_ASSERT_FATAL(d == r);
		} else {
			CU_ASSERT_FATAL(d == bound + 1);
		}
	}
}

static void
test_mdl(void)
{
	/* describing 0 edits is cheaper than any sequence alone; cost grows */
	CU_ASSERT(alt_tmpl_mdl_edits(0, 100, 20) < alt_tmpl_mdl_alone(3, 20));
	CU_ASSERT(alt_tmpl_mdl_edits(3, 100, 20) < alt_tmpl_mdl_edits(4, 100, 20));
	/* a few edits of a long sequence beat writing it down; of a short one not */
	CU_ASSERT(alt_tmpl_mdl_edits(5, 300, 20) < alt_tmpl_mdl_alone(300, 20));
	CU_ASSERT(alt_tmpl_mdl_edits(2, 3, 20) > alt_tmpl_mdl_alone(3, 20) * 0.5);
}

static void
test_cluster(void)
{
	/* family A: 0 1 2^k 3 (k = 40..60); family B: 5 6 7 8 9 6 7; C: 5 4 (short, distinct) */
	static uint32_t tok[64][80];
	struct alt_tmpl_seq seqs[64];
	uint32_t cl[64], rep[64], n = 0, nc;

	for (uint32_t k = 40; k <= 60; k++, n++) {
		uint32_t *t = tok[n], m = 0;

		t[m++] = 0;
		t[m++] = 1;
		for (uint32_t i = 0; i < k; i++)
			t[m++] = 2;
		t[m++] = 3;
		seqs[n] = (struct alt_tmpl_seq){ t, m, 1 + (k == 50) * 10 };
	}
	uint32_t fb[] = { 5, 6, 7, 8, 9, 6, 7 }, fb2[] = { 5, 6, 7, 8, 9, 6, 7, 7 }, fc[] = { 5, 4 };
	memcpy(tok[n], fb, sizeof(fb));
	seqs[n++] = (struct alt_tmpl_seq){ tok[n - 1], 7, 100 };
	memcpy(tok[n], fb2, sizeof(fb2));
	seqs[n++] = (struct alt_tmpl_seq){ tok[n - 1], 8, 3 };
	memcpy(tok[n], fc, sizeof(fc));
	seqs[n++] = (struct alt_tmpl_seq){ tok[n - 1], 2, 50 };
	nc = alt_tmpl_cluster(seqs, n, 10, 1.0, cl, rep);
	CU_ASSERT(nc == 3);
	for (uint32_t i = 1; i < 21; i++)
		CU_ASSERT(cl[i] == cl[0]);
	CU_ASSERT(cl[21] == cl[22] && cl[21] != cl[0] && cl[23] != cl[21] && cl[23] != cl[0]);
	/* the chain family's representative sits in the middle (k near 50) */
	CU_ASSERT(seqs[rep[cl[0]]].n >= 45 + 3 && seqs[rep[cl[0]]].n <= 55 + 3);
	CU_ASSERT(rep[cl[21]] == 21);
}

int
main(void)
{
	CU_pSuite s;
	void *m1 = malloc(alt_intern_memsize(4096, 1 << 20));
	void *m2 = malloc(alt_dag_ws_memsize(MAXN));
	void *m3 = malloc(alt_shape_ws_memsize(MAXN));
	void *m4 = malloc(alt_tmpl_ws_memsize(MAXN));

	g_in = alt_intern_init(m1, 4096, 1 << 20);
	g_dws = alt_dag_ws_init(m2, MAXN);
	g_sws = alt_shape_ws_init(m3, MAXN);
	g_tws = alt_tmpl_ws_init(m4, MAXN);
	if (g_in == NULL || g_dws == NULL || g_sws == NULL || g_tws == NULL)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return CU_get_error();
	s = CU_add_suite("tmpl", NULL, NULL);
	if (s == NULL) {
		CU_cleanup_registry();
		return CU_get_error();
	}
	CU_add_test(s, "keys", test_keys);
	CU_add_test(s, "file round trip", test_file_round_trip);
	CU_add_test(s, "file errors", test_file_errors);
	CU_add_test(s, "check structure", test_check_structure);
	CU_add_test(s, "check latency", test_check_latency);
	CU_add_test(s, "caches follow the model", test_cache_follows_model);
	CU_add_test(s, "family", test_family);
	CU_add_test(s, "observations", test_obs_merge_overflow);
	CU_add_test(s, "edit distance = reference", test_edit_distance);
	CU_add_test(s, "mdl", test_mdl);
	CU_add_test(s, "cluster", test_cluster);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned f = CU_get_number_of_failures();
	CU_cleanup_registry();
	free(m1);
	free(m2);
	free(m3);
	free(m4);
	return (int)f;
}
