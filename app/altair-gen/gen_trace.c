/* SPDX-License-Identifier: BSD-3-Clause
 * Trace instances: template choice, trace and node IDs, anomaly injection,
 * placement in event time, emitter choice and the precision each wire format
 * can carry.
 */
#include <stdlib.h>

#include "gen.h"

static const char *const anomaly_names[GEN_ANOM_COUNT] = {
	[GEN_ANOM_NONE] = "none",
	[GEN_ANOM_UNEXPECTED_EDGE] = "unexpected_edge",
	[GEN_ANOM_MISSING_SUBTREE] = "missing_subtree",
	[GEN_ANOM_LATENCY] = "latency",
	[GEN_ANOM_ERROR] = "error",
	[GEN_ANOM_EXTRA_SUBTREE] = "extra_subtree",
};

int
gen_anomaly_parse(const char *s)
{
	for (unsigned a = 0; a < GEN_ANOM_COUNT; a++)
		if (strcmp(s, anomaly_names[a]) == 0)
			return (int)a;
	return -1;
}

/* The truth-file name of an anomaly kind ("?" out of range). */
const char *
gen_anomaly_name(enum gen_anomaly a)
{
	if ((unsigned)a >= GEN_ANOM_COUNT)
		return "?";
	return anomaly_names[a];
}

/* Calls that no template ever makes: the unexpected_edge anomaly. */
static const struct {
	enum gen_svc svc;
	const char *op;
	const char *attrs;
} odd_calls[] = {
	{ GEN_SVC_LEGACY_BILLING, "ChargeV1", "rpc.system=soap" },
	{ GEN_SVC_DEBUG_SIDECAR, "DumpRequest", "component=envoy" },
	{ GEN_SVC_EXPERIMENT, "AssignBucket", "experiment=checkout-v2" },
	{ GEN_SVC_REDIS, "FLUSHALL", "db.system=redis" },
	{ GEN_SVC_USERS, "ExportAllUsers", "rpc.system=grpc" },
};

#define N_ODD_CALLS (sizeof(odd_calls) / sizeof(odd_calls[0]))

/* Time quantum the receiver can see in format fmt. */
static uint64_t
fmt_quantum_ns(enum alt_wire_format fmt)
{
	switch (fmt) {
	case ALT_FMT_JAEGER_COMPACT:
	case ALT_FMT_JAEGER_BINARY:
		return 1000;            /* Jaeger times are microseconds */
	case ALT_FMT_XTRACE:
		return 1000000;         /* X-Trace Timestamp: milliseconds */
	default:
		return 1;
	}
}

/* Pick the index of a node satisfying ok(), uniformly, or GEN_NONE. */
static uint32_t
pick_node(struct gen_build *b, bool (*ok)(const struct gen_build *, uint32_t))
{
	uint32_t n = 0, chosen = GEN_NONE;

	/* reservoir sampling: one pass, one draw per candidate */
	for (uint32_t i = 0; i < b->n; i++) {
		if (!ok(b, i))
			continue;
		n++;
		if (gen_rng_below(b->rng, n) == 0)
			chosen = i;
	}
	return chosen;
}

static bool
is_span(const struct gen_build *b, uint32_t i)
{
	return b->nodes[i].rec.kind == ALT_KIND_SPAN;
}

static bool
is_child_span(const struct gen_build *b, uint32_t i)
{
	return i != 0 && b->nodes[i].rec.kind == ALT_KIND_SPAN;
}

/* A call whose removal shows: no sibling under the same parents has its
 * (service, operation) (one of several identical calls is a multiplicity,
 * and the shape does not count multiplicities). */
static bool
is_child_without_twin(const struct gen_build *b, uint32_t i)
{
	const struct gen_node *n = &b->nodes[i];

	if (i == 0 || n->rec.parent_count == 0)
		return false;
	for (uint32_t j = 1; j < b->n; j++) {
		const struct gen_node *m = &b->nodes[j];

		if (j != i && m->rec.parent_count == n->rec.parent_count && m->svc == n->svc &&
		    m->rec.parents[0] == n->rec.parents[0] && m->rec.operation.p == n->rec.operation.p)
			return false;
	}
	return true;
}

/* Mark node i's subtree (every node reached through parent links) in in[];
 * true when it is self-contained: no node in it has a parent outside it
 * (but i), and it has at most 64 nodes. */
static bool
subtree_of(const struct gen_build *b, uint32_t i, uint8_t *in)
{
	uint32_t n = 1;

	memset(in, 0, b->n);
	in[i] = 1;
	for (uint32_t j = i + 1; j < b->n; j++) {
		const struct gen_node *m = &b->nodes[j];
		unsigned k, inside = 0;

		for (k = 0; k < m->rec.parent_count; k++)
			inside += in[m->rec.parents[k]];
		if (inside == 0)
			continue;
		if (inside != m->rec.parent_count)
			return false;
		in[j] = 1;
		n++;
	}
	return n <= 64;
}

/* Copy a self-contained subtree under another span that makes no call of
 * its root's kind: an extra call with everything it does. */
static bool
extra_subtree(struct gen_build *b)
{
	uint8_t *in = malloc(b->n ? b->n : 1);
	uint32_t x = GEN_NONE, p = GEN_NONE, cand = 0, n0 = b->n;
	uint64_t base;
	uint32_t *map = NULL;
	int64_t shift;

	if (in == NULL)
		return false;
	/* the subtree: a child span, self-contained (reservoir sampling) */
	for (uint32_t i = 1; i < n0; i++) {
		if (b->nodes[i].rec.kind != ALT_KIND_SPAN || !subtree_of(b, i, in))
			continue;
		if (gen_rng_below(b->rng, ++cand) == 0)
			x = i;
	}
	if (x == GEN_NONE)
		goto fail;
	subtree_of(b, x, in);
	/* the new caller: a span outside the subtree that has no child of x's kind */
	cand = 0;
	for (uint32_t i = 0; i < n0; i++) {
		bool has = false;

		if (in[i] || b->nodes[i].rec.kind != ALT_KIND_SPAN)
			continue;
		for (uint32_t j = 1; j < n0 && !has; j++)
			has = b->nodes[j].rec.parent_count > 0 && b->nodes[j].rec.parents[0] == i &&
			      b->nodes[j].svc == b->nodes[x].svc &&
			      b->nodes[j].rec.operation.p == b->nodes[x].rec.operation.p;
		if (!has && gen_rng_below(b->rng, ++cand) == 0)
			p = i;
	}
	if (p == GEN_NONE)
		goto fail;
	map = malloc(sizeof(uint32_t) * n0);
	if (map == NULL)
		goto fail;
	base = b->nodes[p].rec.start_ns + (uint64_t)(gen_rng_unit(b->rng) * 0.5 * (double)b->nodes[p].rec.duration_ns);
	shift = (int64_t)base - (int64_t)b->nodes[x].rec.start_ns;
	for (uint32_t j = x; j < n0; j++) {
		struct gen_node src;
		uint32_t par[ALT_MAX_PARENTS], k, c;

		if (!in[j])
			continue;
		src = b->nodes[j];      /* gen_b_node may move the array */
		if (j == x) {
			par[0] = p;
			k = 1;
		} else {
			for (k = 0; k < src.rec.parent_count; k++)
				par[k] = map[src.rec.parents[k]];
		}
		c = gen_b_node(b, (enum gen_svc)src.svc, src.rec.operation.p, (enum alt_kind)src.rec.kind, par, k,
			       (uint64_t)((int64_t)src.rec.start_ns + shift), src.rec.duration_ns);
		if (c == GEN_NONE)
			goto fail;
		b->nodes[c].rec.attrs = src.rec.attrs;
		b->nodes[c].may_error = src.may_error;
		map[j] = c;
	}
	free(map);
	free(in);
	return true;
fail:
	free(map);
	free(in);
	return false;
}

static bool
is_never_error_span(const struct gen_build *b, uint32_t i)
{
	const struct gen_node *n = &b->nodes[i];

	return n->rec.kind == ALT_KIND_SPAN && !n->may_error && !(n->rec.flags & ALT_RF_ERROR);
}

/* Apply anomaly a; returns false when the trace offers no place for it. */
static bool
apply_anomaly(struct gen_build *b, enum gen_anomaly a, double lat_min, double lat_max)
{
	uint32_t i;

	switch (a) {
	case GEN_ANOM_UNEXPECTED_EDGE: {
		unsigned k = (unsigned)gen_rng_below(b->rng, N_ODD_CALLS);
		const struct gen_node *p;
		uint64_t start;

		i = pick_node(b, is_span);
		if (i == GEN_NONE)
			return false;
		p = &b->nodes[i];
		start = p->rec.start_ns + (uint64_t)(gen_rng_unit(b->rng) * 0.8 * (double)p->rec.duration_ns);
		i = gen_b_node(b, odd_calls[k].svc, odd_calls[k].op, ALT_KIND_SPAN, &i, 1, start,
			       20000 + gen_rng_below(b->rng, 400000));
		if (i == GEN_NONE)
			return false;
		b->nodes[i].rec.attrs.p = odd_calls[k].attrs;
		b->nodes[i].rec.attrs.len = (uint32_t)strlen(odd_calls[k].attrs);
		return true;
	}
	case GEN_ANOM_MISSING_SUBTREE:
		i = pick_node(b, is_child_without_twin);
		if (i == GEN_NONE)
			return false;
		b->nodes[i].removed = 1;
		/* parents precede children: one forward pass finds the subtree */
		for (uint32_t j = i + 1; j < b->n; j++) {
			struct gen_node *n = &b->nodes[j];

			for (unsigned k = 0; k < n->rec.parent_count; k++)
				if (b->nodes[n->rec.parents[k]].removed)
					n->removed = 1;
		}
		return true;
	case GEN_ANOM_LATENCY: {
		double f = lat_min + (lat_max - lat_min) * gen_rng_unit(b->rng);

		i = pick_node(b, is_child_span);
		if (i == GEN_NONE)
			return false;
		b->nodes[i].rec.duration_ns = (uint64_t)((double)b->nodes[i].rec.duration_ns * f);
		gen_b_stretch_up(b, i);
		return true;
	}
	case GEN_ANOM_ERROR:
		i = pick_node(b, is_never_error_span);
		if (i == GEN_NONE)
			return false;
		b->nodes[i].rec.flags |= ALT_RF_ERROR;
		return true;
	case GEN_ANOM_EXTRA_SUBTREE:
		return extra_subtree(b);
	default:
		return false;
	}
}

/* Stretch the root span over every node that it waits for (everything not
 * reached through an asynchronous FOLLOWS_FROM link). */
static void
cover_root(struct gen_build *b)
{
	struct gen_node *root = &b->nodes[0];
	uint64_t end = root->rec.start_ns + root->rec.duration_ns;
	uint64_t need = 0;

	if (root->rec.kind != ALT_KIND_SPAN)
		return;
	/* async is inherited along parent links: reuse the flag, it is only
	 * read here and by nothing after */
	for (uint32_t i = 1; i < b->n; i++) {
		struct gen_node *n = &b->nodes[i];
		uint64_t e;

		for (unsigned k = 0; k < n->rec.parent_count && !n->async; k++)
			if (b->nodes[n->rec.parents[k]].async)
				n->async = 1;
		if (n->async || n->removed)
			continue;
		e = n->rec.start_ns + n->rec.duration_ns;
		if (e > need)
			need = e;
	}
	if (need >= end)
		root->rec.duration_ns = need + 2000 + gen_rng_below(b->rng, 20000) - root->rec.start_ns;
}

static const struct gen_template *
pick_template(const struct gen_trace_cfg *cfg, struct gen_rng *rng)
{
	uint64_t w = gen_rng_below(rng, cfg->total_weight);

	for (unsigned i = 0; i < cfg->n_tpls; i++) {
		if (w < cfg->tpls[i]->weight)
			return cfg->tpls[i];
		w -= cfg->tpls[i]->weight;
	}
	return cfg->tpls[cfg->n_tpls - 1];
}

static void
make_trace_id(const struct gen_trace_cfg *cfg, struct gen_rng *rng, struct alt_trace_id *id)
{
	bool id64 = gen_rng_chance(rng, cfg->id64);

	id->hi = gen_rng_next(rng);
	id->lo = gen_rng_nonzero(rng);
	if (id64)
		id->hi = 0;
	if (cfg->fmt == ALT_FMT_XTRACE) {
		/* the TaskID carries only task_id_len bytes of the ID */
		if (cfg->task_id_len <= 8)
			id->hi = 0;
		if (cfg->task_id_len == 12)
			id->hi &= 0xffffffffu;
		if (cfg->task_id_len == 4) {
			id->lo &= 0xffffffffu;
			if (id->lo == 0)
				id->lo = 1;
		}
	}
}

/* Build trace number index starting at start_ns; see gen.h. */
struct gen_trace *
gen_trace_make(const struct gen_trace_cfg *cfg, uint64_t index, uint64_t start_ns)
{
	struct gen_rng rng;
	struct gen_build b = { .rng = &rng };
	struct gen_trace *t;
	uint32_t *map = NULL, n;
	uint64_t q = fmt_quantum_ns(cfg->fmt);
	uint64_t root_end;
	bool closes;

	gen_rng_seed(&rng, cfg->seed, index);
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->index = index;
	t->tpl = pick_template(cfg, &rng);
	make_trace_id(cfg, &rng, &t->id);
	t->tpl->build(&b);
	if (b.oom || b.n == 0)
		goto fail;

	if (cfg->n_anom_kinds > 0 && gen_rng_chance(&rng, cfg->anomaly_rate)) {
		unsigned a = (unsigned)gen_rng_below(&rng, cfg->n_anom_kinds);

		/* a trace that has no place for the drawn kind takes the next */
		for (unsigned k = 0; k < cfg->n_anom_kinds; k++) {
			unsigned kind = cfg->anom_kinds[(a + k) % cfg->n_anom_kinds];

			if (apply_anomaly(&b, (enum gen_anomaly)kind, cfg->latency_min, cfg->latency_max)) {
				t->anomaly = (uint8_t)kind;
				break;
			}
		}
		if (b.oom)
			goto fail;
	}
	cover_root(&b);

	/* compact away removed nodes, then turn parent indices into IDs */
	map = malloc((size_t)b.n * sizeof(*map));
	if (map == NULL)
		goto fail;
	n = 0;
	for (uint32_t i = 0; i < b.n; i++) {
		map[i] = b.nodes[i].removed ? GEN_NONE : n;
		if (!b.nodes[i].removed) {
			if (n != i)
				b.nodes[n] = b.nodes[i];
			b.nodes[n].rec.node_id = gen_rng_nonzero(&rng);
			n++;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		struct alt_record *r = &b.nodes[i].rec;

		for (unsigned k = 0; k < r->parent_count; k++)
			r->parents[k] = b.nodes[map[r->parents[k]]].rec.node_id;
	}
	free(map);

	root_end = b.nodes[0].rec.start_ns + b.nodes[0].rec.duration_ns;
	closes = cfg->closes_trace && cfg->fmt == ALT_FMT_ATR && b.nodes[0].rec.kind == ALT_KIND_SPAN;
	for (uint32_t i = 1; i < n && closes; i++)
		if (b.nodes[i].rec.start_ns + b.nodes[i].rec.duration_ns > root_end)
			closes = false;
	if (closes)
		b.nodes[0].rec.flags |= ALT_RF_CLOSES_TRACE;
	t->closes = closes;

	for (uint32_t i = 0; i < n; i++) {
		struct gen_node *nd = &b.nodes[i];
		struct alt_record *r = &nd->rec;

		nd->trace = t;
		nd->emitter = nd->svc * cfg->emitters_per_service +
			(uint32_t)gen_rng_below(&rng, cfg->emitters_per_service);
		r->trace_id = t->id;
		r->start_ns += start_ns;
		nd->ready_ns = r->start_ns + r->duration_ns;
		if (q > 1) {
			r->start_ns -= r->start_ns % q;
			if (r->kind == ALT_KIND_SPAN) {
				r->duration_ns -= r->duration_ns % q;
				if (r->duration_ns == 0)
					r->duration_ns = q;
			}
		}
		if (cfg->fmt == ALT_FMT_XTRACE) {
			/* a report is a point event: no duration on the wire */
			r->kind = ALT_KIND_EVENT;
			r->duration_ns = 0;
		} else if (cfg->fmt != ALT_FMT_ATR) {
			/* Jaeger has spans only: an event is a span of length 0 */
			r->kind = ALT_KIND_SPAN;
		}
	}
	t->start_ns = start_ns;
	t->nodes = b.nodes;
	t->n_nodes = n;
	t->pending = n;
	return t;
fail:
	free(b.nodes);
	free(t);
	return NULL;
}

/* Release a trace made by gen_trace_make (NULL is fine). */
void
gen_trace_free(struct gen_trace *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t);
}
