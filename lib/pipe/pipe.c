/* SPDX-License-Identifier: BSD-3-Clause
 * The per-worker trace pipeline: decode -> reorder -> sessionize -> DAG ->
 * shape -> epoch statistics.
 */
#include "alt_pipe.h"

#include <errno.h>
#include <stdlib.h>

#define RELEASE_BURST 256
#define CLOSED_BURST 16
#define SHAPE_TEXT_CAP 4096

struct alt_pipe {
	/* hot: touched per record */
	struct alt_pool nodes;
	struct alt_pool exts;
	struct alt_reorder *reorder;
	struct alt_session *session;
	struct alt_intern *intern;
	struct alt_stats *cur;          /* statistics of the current epoch */
	uint64_t cur_epoch;
	bool have_epoch;
	uint64_t now;                   /* arrival clock */
	uint32_t now_arr;               /* now >> ALT_ARRIVAL_SHIFT, stamped on nodes */
	uint64_t wm;                    /* watermark in force (monotonic) */
	uint64_t min_ev;                /* earliest event time fed (the first epoch's) */
	struct alt_sources *src;        /* the senders heard here */
	struct alt_pipe_counters cnt;

	/* warm: per payload / per closed trace */
	struct alt_wire_ctx *wire;
	struct alt_wire_out out;
	/* Steered frames decode here, not into out: a worker waiting for
	 * room to steer out (in the middle of feeding out's records) feeds
	 * what others steered to it meanwhile. */
	struct alt_wire_out sout;
	struct alt_dag_ws *dag;
	struct alt_shape_ws *shape;
	char *shape_text;
	const struct alt_tmpl_model *tmpl;      /* templates in force, or NULL */
	struct alt_tmpl_ws *tws;
	struct alt_tmpl_verdict verdict;
	struct alt_pipe_hooks hooks;
	/* sharding */
	uint32_t *steer_rec;            /* [max_records] index of a record to steer */
	uint32_t *steer_own;            /* [max_records] its owner */
	uint32_t *steer_cnt;            /* [shard_count] records per owner */
	const struct alt_record **steer_ptrs;   /* [max_records] grouped by owner, for the hook */
	bool steering;
	uint64_t peer[ALT_PIPE_MAX_SHARDS];     /* progress each peer reported */
	uint64_t fed;                   /* records ever fed (alt_pipe_feed callers need not decode here) */

	/* cold */
	struct alt_pipe_cfg cfg;
	struct alt_pipe_alloc alloc;
	size_t total_bytes;
	void *blocks[16];
	unsigned n_blocks;
};

static const char *const rec_outcome_names[] = {
#define ALT_PIPE_REC_STR(e, s) s,
	ALT_PIPE_REC_OUTCOMES(ALT_PIPE_REC_STR)
#undef ALT_PIPE_REC_STR
};

static const char *const trace_flag_names[] = {
#define ALT_PIPE_TF_STR(e, s) s,
	ALT_PIPE_TRACE_FLAGS(ALT_PIPE_TF_STR)
#undef ALT_PIPE_TF_STR
};

const char *
alt_pipe_rec_outcome_name(enum alt_pipe_rec_outcome o)
{
	return (unsigned)o < ALT_PIPE_REC_COUNT ? rec_outcome_names[o] : "unknown";
}

const char *
alt_pipe_trace_flag_name(unsigned bit)
{
	return bit < ALT_PIPE_TFB_COUNT ? trace_flag_names[bit] : "unknown";
}

void
alt_pipe_cfg_default(struct alt_pipe_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->reorder_ns = 50ULL * 1000 * 1000;
	c->bucket_ns = 1000ULL * 1000;
	c->gap_ns = 2000ULL * 1000 * 1000;
	c->grace_ns = 50ULL * 1000 * 1000;
	c->epoch_ns = 1000ULL * 1000 * 1000;
	c->max_nodes = 1u << 20;
	c->max_exts = 0;        /* max_nodes / 8 */
	c->max_traces = 1u << 17;
	c->max_nodes_per_trace = 4096;
	c->closed_cache = 1u << 17;
	c->max_strings = 1u << 16;
	c->string_bytes = 4u << 20;
	c->max_records = 4096;
	c->arena_bytes = 1u << 20;
	c->session_wheel_slots = 4096;
	alt_stats_params_default(&c->stats);
	/* A statistics object holds a dense histogram (~15 KB) per operation
	 * and per shape; several are in flight per worker. */
	c->stats.max_ops = 512;
	c->stats.max_shapes = 512;
	c->want_shape_text = false;
	c->want_critical_path = true;
	c->max_sources = 4096;
	c->idle_mult = 4;
	c->idle_min_ns = 250ULL * 1000 * 1000;
	c->idle_max_ns = 60ULL * 1000 * 1000 * 1000;
	c->warmup_ns = 10ULL * 1000 * 1000 * 1000;
	c->lag_obs = 4;
	c->reorder_span_ns = 0;        /* 16384 buckets */
}

static void *
default_alloc(void *ctx, size_t size, const char *what)
{
	void *p = NULL;
	(void)ctx;
	(void)what;
	if (posix_memalign(&p, 64, size ? size : 64) != 0)
		return NULL;
	return p;
}

static void
default_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void *
pipe_take(struct alt_pipe *p, size_t size, const char *what)
{
	void *m;

	if (p->n_blocks >= sizeof(p->blocks) / sizeof(p->blocks[0]))
		return NULL;
	m = p->alloc.alloc(p->alloc.ctx, size, what);
	if (m == NULL)
		return NULL;
	p->blocks[p->n_blocks++] = m;
	p->total_bytes += size;
	return m;
}

static struct alt_stats *
stats_fresh(struct alt_pipe *p, uint64_t epoch)
{
	struct alt_stats *st;

	if (p->hooks.stats_get != NULL)
		st = p->hooks.stats_get(p->hooks.ctx);
	else
		st = alt_pipe_stats_new(p);
	if (st != NULL)
		alt_stats_reset(st, epoch);
	return st;
}

struct alt_stats *
alt_pipe_stats_new(struct alt_pipe *p)
{
	size_t sz = alt_stats_memsize(&p->cfg.stats);
	void *m = p->alloc.alloc(p->alloc.ctx, sz, "stats");

	if (m == NULL)
		return NULL;
	return alt_stats_init(m, &p->cfg.stats);
}

void
alt_pipe_stats_put(struct alt_pipe *p, struct alt_stats *st)
{
	if (st != NULL)
		p->alloc.free(p->alloc.ctx, st);
}

/*
 * Create a pipeline. Every table is sized from cfg and allocated here, once;
 * nothing on the data path allocates.
 */
struct alt_pipe *
alt_pipe_create(const struct alt_pipe_cfg *cfg, const struct alt_pipe_alloc *alloc,
		const struct alt_pipe_hooks *hooks)
{
	struct alt_pipe_alloc def_alloc = { default_alloc, default_free, NULL };
	struct alt_pipe *p;
	struct alt_pipe_cfg c;
	size_t sz;
	void *m;

	if (cfg != NULL)
		c = *cfg;
	else
		alt_pipe_cfg_default(&c);
	if (c.max_exts == 0)
		c.max_exts = c.max_nodes / 8 + 64;
	if (c.max_nodes == 0 || c.max_traces == 0 || c.max_nodes_per_trace == 0 || c.epoch_ns == 0 ||
	    c.max_records == 0 || c.gap_ns == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (alloc == NULL)
		alloc = &def_alloc;
	p = alloc->alloc(alloc->ctx, sizeof(*p), "pipe");
	if (p == NULL)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->cfg = c;
	p->alloc = *alloc;
	p->min_ev = UINT64_MAX;
	p->total_bytes = sizeof(*p);
	if (hooks != NULL)
		p->hooks = *hooks;

	sz = alt_pool_memsize(sizeof(struct alt_node), c.max_nodes);
	if ((m = pipe_take(p, sz, "nodes")) == NULL ||
	    alt_pool_init(&p->nodes, m, sz, sizeof(struct alt_node), c.max_nodes) != 0)
		goto fail;
	sz = alt_pool_memsize(sizeof(struct alt_parent_ext), c.max_exts);
	if ((m = pipe_take(p, sz, "parent exts")) == NULL ||
	    alt_pool_init(&p->exts, m, sz, sizeof(struct alt_parent_ext), c.max_exts) != 0)
		goto fail;

	/* The watermark comes from the sources (and peers), not from the
	 * buffer: the ring only has to span what a slow source holds back. */
	if (c.reorder_span_ns == 0)
		c.reorder_span_ns = 16384 * c.bucket_ns;
	struct alt_reorder_params rp = { .window_ns = c.reorder_span_ns, .bucket_ns = c.bucket_ns,
					 .max_items = c.max_nodes, .external = true };
	sz = alt_reorder_memsize(&rp);
	if (sz == 0 || (m = pipe_take(p, sz, "reorder")) == NULL ||
	    (p->reorder = alt_reorder_init(m, &rp)) == NULL)
		goto fail;

	struct alt_sources_params srp = {
		.max_sources = c.max_sources, .disorder_ns = c.reorder_ns, .idle_min_ns = c.idle_min_ns,
		.idle_max_ns = c.idle_max_ns, .idle_mult = c.idle_mult, .warmup_ns = c.warmup_ns,
		.lag_obs = c.lag_obs,
	};
	sz = alt_sources_memsize(&srp);
	if (sz == 0 || (m = pipe_take(p, sz, "sources")) == NULL ||
	    (p->src = alt_sources_init(m, &srp)) == NULL)
		goto fail;

	struct alt_session_params sp;
	alt_session_params_default(&sp);
	sp.gap_ns = c.gap_ns;
	sp.close_grace_ns = c.grace_ns;
	sp.max_traces = c.max_traces;
	sp.max_nodes_per_trace = c.max_nodes_per_trace;
	sp.closed_cache = c.closed_cache;
	sp.closed_ttl_ns = 4 * c.gap_ns;
	sp.defer_completeness = true;   /* process_closed checks with the DAG it builds */
	/* chunks for every node in 7s, plus a partly filled one per trace */
	sp.warm_chunks = c.max_nodes / 6 + 64;
	if (c.session_wheel_slots)
		sp.wheel_slots = c.session_wheel_slots;
	sz = alt_session_memsize(&sp);
	if ((m = pipe_take(p, sz, "session")) == NULL ||
	    (p->session = alt_session_init(m, &sp, &p->nodes, &p->exts)) == NULL)
		goto fail;

	sz = alt_intern_memsize(c.max_strings, c.string_bytes);
	if ((m = pipe_take(p, sz, "strings")) == NULL ||
	    (p->intern = alt_intern_init(m, c.max_strings, c.string_bytes)) == NULL)
		goto fail;

	sz = alt_dag_ws_memsize(c.max_nodes_per_trace);
	if ((m = pipe_take(p, sz, "dag")) == NULL ||
	    (p->dag = alt_dag_ws_init(m, c.max_nodes_per_trace)) == NULL)
		goto fail;
	alt_dag_ws_set_critical_path(p->dag, c.want_critical_path);
	sz = alt_shape_ws_memsize(c.max_nodes_per_trace);
	if ((m = pipe_take(p, sz, "shape")) == NULL ||
	    (p->shape = alt_shape_ws_init(m, c.max_nodes_per_trace)) == NULL)
		goto fail;
	sz = alt_tmpl_ws_memsize(c.max_nodes_per_trace);
	if ((m = pipe_take(p, sz, "templates")) == NULL ||
	    (p->tws = alt_tmpl_ws_init(m, c.max_nodes_per_trace)) == NULL)
		goto fail;
	if (c.want_shape_text && (p->shape_text = pipe_take(p, SHAPE_TEXT_CAP, "shape text")) == NULL)
		goto fail;

	if (c.shard_count > 1) {
		if (p->hooks.steer == NULL || c.shard_self >= c.shard_count ||
		    c.shard_count > ALT_PIPE_MAX_SHARDS) {
			errno = EINVAL;
			goto fail;
		}
		sz = (sizeof(uint32_t) * 2 + sizeof(*p->steer_ptrs)) * (size_t)c.max_records +
		     sizeof(uint32_t) * c.shard_count;
		if ((m = pipe_take(p, sz, "steering")) == NULL)
			goto fail;
		p->steer_ptrs = m;
		p->steer_rec = (uint32_t *)(p->steer_ptrs + c.max_records);
		p->steer_own = p->steer_rec + c.max_records;
		p->steer_cnt = p->steer_own + c.max_records;
		memset(p->steer_cnt, 0, sizeof(uint32_t) * c.shard_count);
		p->steering = true;
		if ((m = pipe_take(p, sizeof(struct alt_record) * ALT_ATR_MAX_COUNT, "steered")) == NULL)
			goto fail;
		p->sout.recs = m;
		p->sout.cap = ALT_ATR_MAX_COUNT;
	}

	sz = sizeof(struct alt_wire_ctx) + sizeof(struct alt_record) * (size_t)c.max_records +
	     c.arena_bytes;
	if ((m = pipe_take(p, sz, "decoder")) == NULL)
		goto fail;
	p->wire = m;
	alt_wire_ctx_init(p->wire);
	p->out.recs = (struct alt_record *)((uint8_t *)m + sizeof(struct alt_wire_ctx));
	p->out.cap = c.max_records;
	p->out.arena = (char *)(p->out.recs + c.max_records);
	p->out.arena_cap = c.arena_bytes;
	return p;
fail:
	alt_pipe_destroy(p);
	return NULL;
}

void
alt_pipe_destroy(struct alt_pipe *p)
{
	if (p == NULL)
		return;
	if (p->cur != NULL && p->hooks.stats_get == NULL)
		alt_pipe_stats_put(p, p->cur);
	for (unsigned i = p->n_blocks; i > 0; i--)
		p->alloc.free(p->alloc.ctx, p->blocks[i - 1]);
	p->alloc.free(p->alloc.ctx, p);
}

enum alt_wire_reason
alt_pipe_decode(struct alt_pipe *p, enum alt_wire_format fmt, const uint8_t *buf, size_t len,
		const struct alt_wire_out **out)
{
	enum alt_wire_reason r;

	if ((unsigned)fmt < ALT_FMT_COUNT)
		p->cnt.payloads[fmt]++;
	r = alt_wire_decode(p->wire, fmt, buf, len, &p->out);
	if (alt_likely(r == ALT_WIRE_OK)) {
		p->cnt.payloads_ok++;
		p->cnt.records_decoded += p->out.n;
		p->cnt.parents_truncated += p->out.parents_truncated;
		p->cnt.foreign_refs += p->out.foreign_refs;
	} else {
		if (r >= ALT_WIRE_REASON_COUNT)
			r = ALT_WIRE_BAD_FIELD;
		p->cnt.rejected[r]++;
		if (p->cur != NULL)
			alt_stats_add_dropped(p->cur, alt_wire_reason_name(r), 1);
	}
	if (out != NULL)
		*out = &p->out;
	return r;
}

/* ---- closing and analysis ---- */

static uint32_t
trace_flags(const struct alt_trace *t, const struct alt_dag *d)
{
	uint32_t f = 0;

	if (t->flags & ALT_TF_LATE_FRAGMENT)
		f |= ALT_PIPE_TF(LATE_FRAGMENT);
	if (t->flags & ALT_TF_TRUNCATED)
		f |= ALT_PIPE_TF(TRUNCATED);
	if (t->late_records)
		f |= ALT_PIPE_TF(LATE_RECORDS);
	if (d == NULL)
		return f | ALT_PIPE_TF(TRUNCATED);
	if (d->flags & ALT_DAG_INCOMPLETE)
		f |= ALT_PIPE_TF(INCOMPLETE);
	if (d->flags & ALT_DAG_CYCLE)
		f |= ALT_PIPE_TF(CYCLE);
	if (d->flags & ALT_DAG_DUPLICATE_ID)
		f |= ALT_PIPE_TF(DUPLICATE_ID);
	if (d->errors)
		f |= ALT_PIPE_TF(ERROR);
	return f;
}

/* Per-trace statistics. The nodes go to alt_stats in one call, by intern
 * id: it fetches names only for ops and pairs it has not seen (see
 * alt_stats_add_nodes). noinline: keeps it measurable on its own. */
static void epoch_ensure(struct alt_pipe *p);

static __attribute__((noinline)) void
account_stats(struct alt_pipe *p, const struct alt_trace *t, const struct alt_dag *d, uint64_t shape,
	      const struct alt_trace_view *v)
{
	struct alt_stats *st;

	if (alt_unlikely(!p->have_epoch))
		epoch_ensure(p);
	st = p->cur;
	if (st == NULL)
		return;
	alt_stats_counters(st)->traces_closed++;
	/* close delay: the arrival of its last record to now (arrival clock) */
	alt_stats_add_close_delay(st, (uint64_t)(uint32_t)(p->now_arr - t->last_arrival)
					      << ALT_ARRIVAL_SHIFT);
	if (d == NULL)
		return;
	if (v->verdict != NULL) {
		struct alt_stats_counters *c = alt_stats_counters(st);

		c->anomaly_checked++;
		if (v->flags & ALT_PIPE_TF_ANOMALY) {
			c->anomaly_traces++;
			c->anomaly_shape += !!(v->flags & ALT_PIPE_TF(ANOMALY_SHAPE));
			c->anomaly_edge += !!(v->flags & ALT_PIPE_TF(ANOMALY_EDGE));
			c->anomaly_latency += !!(v->flags & ALT_PIPE_TF(ANOMALY_LATENCY));
		}
	}
	alt_stats_add_trace(st, shape, d->duration_ns);
	alt_stats_add_nodes(st, p->intern, d->v, d->nodes, d->par_off, d->par);
}

/* Check a closed trace against the templates in force: its shape only
 * when the trace is whole (a missing parent, a truncation, a late
 * fragment, a cycle or a duplicate ID already say what is wrong, and none
 * of them is the application's structure), every edge and every latency
 * always. */
static __attribute__((noinline)) void
check_templates(struct alt_pipe *p, struct alt_trace_view *v)
{
	const uint32_t damaged = ALT_PIPE_TF(INCOMPLETE) | ALT_PIPE_TF(TRUNCATED) | ALT_PIPE_TF(LATE_FRAGMENT) |
				 ALT_PIPE_TF(CYCLE) | ALT_PIPE_TF(DUPLICATE_ID);
	uint32_t a = alt_tmpl_check(p->tws, p->tmpl, v->dag, p->intern, v->shape, !(v->flags & damaged),
				    &p->verdict);

	v->verdict = &p->verdict;
	p->cnt.anomaly_checked++;
	if (alt_likely(a == 0))
		return;
	p->cnt.anomaly_traces++;
	if (a & ALT_TMPL_SHAPE) {
		v->flags |= ALT_PIPE_TF(ANOMALY_SHAPE);
		p->cnt.anomaly_shape++;
	}
	if (a & ALT_TMPL_EDGE) {
		v->flags |= ALT_PIPE_TF(ANOMALY_EDGE);
		p->cnt.anomaly_edge++;
	}
	if (a & ALT_TMPL_LATENCY) {
		v->flags |= ALT_PIPE_TF(ANOMALY_LATENCY);
		p->cnt.anomaly_latency++;
	}
}

/* Analyse closed traces in batches, software-pipelined: the nodes of the
 * next batch are being fetched (alt_session_warm) while this one is
 * analysed, so that the prefetches have time to land. */
static void
process_closed(struct alt_pipe *p)
{
	struct alt_trace *closed[2][CLOSED_BURST];
	unsigned n, cur = 0;

	n = alt_session_poll_closed(p->session, closed[0], CLOSED_BURST);
	alt_session_warm(closed[0], n);
	while (n > 0) {
		unsigned nn = alt_session_poll_closed(p->session, closed[cur ^ 1], CLOSED_BURST);

		alt_session_warm(closed[cur ^ 1], nn);
		for (unsigned i = 0; i < n; i++) {
			struct alt_trace *t = closed[cur][i];
			struct alt_trace_view v;
			const struct alt_dag *d;
			uint32_t records = t->n_nodes;

			d = alt_dag_build(p->dag, t->nodes, t->n_nodes);
			if (d == NULL)
				p->cnt.dag_too_big++;
			/* The session closed it at its CLOSES_TRACE grace without
			 * checking parents (defer_completeness): the DAG says. */
			if (t->closed_by == ALT_CLOSED_CLOSES_TRACE && d != NULL &&
			    (d->flags & ALT_DAG_INCOMPLETE) &&
			    alt_session_reopen(p->session, t) == 0) {
				p->cnt.reopened++;
				continue;
			}
			memset(&v, 0, sizeof(v));
			v.trace = t;
			v.dag = d;
			v.intern = p->intern;
			v.flags = trace_flags(t, d);
			v.records = records;
			if (d != NULL) {
				v.shape = alt_shape_hash(p->shape, d, p->intern);
				if (p->shape_text != NULL) {
					alt_shape_text(p->shape, d, p->intern, p->shape_text, SHAPE_TEXT_CAP);
					v.shape_text = p->shape_text;
				}
			}
			if (t->closed_by < 4)
				p->cnt.traces_closed[t->closed_by]++;
			if (t->closed_by == ALT_CLOSED_PRESSURE)
				p->cnt.pressure_closes++;
			if (v.flags & ~(ALT_PIPE_TF(LATE_RECORDS) | ALT_PIPE_TF(ERROR) | ALT_PIPE_TF_ANOMALY))
				p->cnt.traces_flagged++;
			if (v.flags & ALT_PIPE_TF(INCOMPLETE))
				p->cnt.traces_incomplete++;
			if (t->flags & ALT_TF_LATE_FRAGMENT) {
				p->cnt.late_fragments++;
				p->cnt.records[ALT_PIPE_REC_LATE_FRAGMENT] += records;
			} else {
				p->cnt.records[ALT_PIPE_REC_IN_TRACE] += records;
			}
			if (p->tmpl != NULL && d != NULL)
				check_templates(p, &v);
			p->cnt.traces_digest += alt_mix64(alt_trace_id_hash(&t->trace_id) ^
							  ((uint64_t)records << 32) ^ v.flags);
			account_stats(p, t, d, v.shape, &v);
			if (p->hooks.trace_closed != NULL)
				p->hooks.trace_closed(p->hooks.ctx, &v);
			alt_session_release(p->session, t);
		}
		cur ^= 1;
		n = nn;
	}
}

/* Close the oldest trace to free pool memory. Returns false if none is open. */
static bool
relieve_pressure(struct alt_pipe *p)
{
	if (alt_session_evict_oldest(p->session) != 0)
		return false;
	process_closed(p);
	return true;
}

static void release_ready(struct alt_pipe *p);
static bool release_source(struct alt_pipe *p);

/* A node (and a parent extension if needed) from the pools. When a pool is
 * dry, close the oldest traces early (pressure); if the reorder buffer holds
 * the memory instead (no trace is open), release it early first. */
static struct alt_node *
node_get(struct alt_pipe *p, bool need_ext)
{
	bool flushed = false;

	for (int tries = 0; tries < 16; tries++) {
		if (alt_likely(p->nodes.avail > 0 && (!need_ext || p->exts.avail > 0))) {
			struct alt_node *n = alt_pool_get(&p->nodes);
			n->more = need_ext ? alt_pool_get(&p->exts) : NULL;
			return n;
		}
		/* First stop waiting for the slowest source: traces then close
		 * whole by their gap. Only then close the oldest early. */
		if (release_source(p))
			continue;
		if (relieve_pressure(p))
			continue;
		if (flushed)
			break;
		alt_reorder_flush(p->reorder);
		release_ready(p);
		p->cnt.reorder_pressure_flushes++;
		flushed = true;
	}
	return NULL;
}

static void
session_add(struct alt_pipe *p, struct alt_node *n, bool late)
{
	enum alt_session_add_result r = alt_session_add(p->session, n, late);

	if (alt_unlikely(r == ALT_SESS_DROPPED_TRACE_FULL)) {
		p->cnt.records[ALT_PIPE_REC_DROPPED_TRACE_FULL]++;
		if (p->cur != NULL)
			alt_stats_add_dropped(p->cur, "trace_full", 1);
	}
	if (alt_unlikely(!p->have_epoch))
		epoch_ensure(p);
	if (p->cur != NULL) {
		struct alt_stats_counters *c = alt_stats_counters(p->cur);
		c->records++;
		c->late += late;
	}
}

/* Intern with a one-entry cache: consecutive records of a payload mostly
 * share their service (Jaeger: always). */
static inline uint32_t
intern_cached(struct alt_pipe *p, const struct alt_str *s, const char **last_p, uint32_t *last_len,
	      uint32_t *last_id)
{
	/* Same bytes as the previous record's (ATR: a copy at another offset
	 * of the payload; Jaeger: the very same pointer): no hashing. */
	if (s->len == *last_len && (s->p == *last_p || memcmp(s->p, *last_p, s->len) == 0)) {
		*last_p = s->p;
		return *last_id;
	}
	*last_p = s->p;
	*last_len = s->len;
	*last_id = alt_intern_get(p->intern, s->p, s->len);
	return *last_id;
}

/* Hand the n records owned by other workers to the steer hook, one call
 * per owner, each group in arrival order (a counting sort by owner). The
 * hook gets pointers: nothing is copied here. */
static void
steer_out(struct alt_pipe *p, const struct alt_record *recs, uint32_t n)
{
	uint32_t start[ALT_PIPE_MAX_SHARDS + 1], pos[ALT_PIPE_MAX_SHARDS];
	const uint32_t shards = p->cfg.shard_count;

	start[0] = 0;
	for (uint32_t o = 0; o < shards; o++) {
		start[o + 1] = start[o] + p->steer_cnt[o];
		pos[o] = start[o];
		p->steer_cnt[o] = 0;
	}
	for (uint32_t i = 0; i < n; i++)
		p->steer_ptrs[pos[p->steer_own[i]]++] = &recs[p->steer_rec[i]];
	for (uint32_t o = 0; o < shards; o++) {
		uint32_t k = start[o + 1] - start[o], acc;

		if (k == 0)
			continue;
		acc = p->hooks.steer(p->hooks.ctx, o, p->steer_ptrs + start[o], k);
		if (acc > k)
			acc = k;
		p->cnt.steer_frames++;
		p->cnt.records[ALT_PIPE_REC_STEERED] += acc;
		if (acc < k) {
			p->cnt.records[ALT_PIPE_REC_DROPPED_STEER_FULL] += k - acc;
			if (p->cur != NULL)
				alt_stats_add_dropped(p->cur, "steer_full", k - acc);
		}
	}
}

static void
feed(struct alt_pipe *p, const struct alt_record *recs, unsigned n, bool may_steer)
{
	const char *sp = NULL, *op = NULL;
	uint32_t sl = UINT32_MAX, ol = UINT32_MAX, sid = 0, oid = 0;
	uint32_t n_steer = 0;

	p->fed += n;
	for (unsigned i = 0; i < n; i++) {
		const struct alt_record *r = &recs[i];
		struct alt_str svc = r->service, opn = r->operation;

		/* Names longer than a steering frame carries are cut alike on
		 * every worker (and counted once, where the record arrives). */
		if (alt_unlikely(svc.len > ALT_PIPE_NAME_MAX || opn.len > ALT_PIPE_NAME_MAX)) {
			if (may_steer)
				p->cnt.names_truncated++;
			svc.len = (svc.len > ALT_PIPE_NAME_MAX ? ALT_PIPE_NAME_MAX : svc.len);
			opn.len = (opn.len > ALT_PIPE_NAME_MAX ? ALT_PIPE_NAME_MAX : opn.len);
		}
		if (may_steer && p->steering) {
			unsigned o = alt_pipe_owner(&p->cfg, &r->trace_id);
			if (o != p->cfg.shard_self && n_steer < p->cfg.max_records) {
				p->steer_rec[n_steer] = i;
				p->steer_own[n_steer] = o;
				p->steer_cnt[o]++;
				n_steer++;
				continue;
			}
		}
		struct alt_node *nd = node_get(p, r->parent_count >= 2);

		if (alt_unlikely(nd == NULL)) {
			p->cnt.records[ALT_PIPE_REC_DROPPED_NO_MEMORY]++;
			if (p->cur != NULL)
				alt_stats_add_dropped(p->cur, "no_memory", 1);
			continue;
		}
		nd->next = NULL;
		nd->trace_id = r->trace_id;
		nd->node_id = r->node_id;
		nd->start_ns = r->start_ns;
		nd->duration_ns = r->duration_ns;
		nd->parent_count = r->parent_count;
		nd->parent0 = r->parent_count ? r->parents[0] : 0;
		if (r->parent_count >= 2)
			memcpy(nd->more->ids, &r->parents[1], sizeof(uint64_t) * (r->parent_count - 1u));
		nd->kind = r->kind;
		nd->flags = r->flags & (ALT_RF_ERROR | ALT_RF_CLOSES_TRACE);
		nd->rule_bits = 0;
		nd->arrival = p->now_arr;
		if (alt_unlikely(alt_node_event_ns(nd) < p->min_ev))
			p->min_ev = alt_node_event_ns(nd);
		nd->service_id = intern_cached(p, &svc, &sp, &sl, &sid);
		nd->operation_id = intern_cached(p, &opn, &op, &ol, &oid);
		if (alt_unlikely(alt_reorder_push(p->reorder, nd) != 0)) {
			nd->flags |= ALT_NF_LATE;
			p->cnt.late++;
			session_add(p, nd, true);
		}
	}
	if (n_steer > 0)
		steer_out(p, recs, n_steer);
}

void
alt_pipe_feed(struct alt_pipe *p, const struct alt_record *recs, unsigned n)
{
	feed(p, recs, n, true);
}

unsigned
alt_pipe_steer_add(uint8_t *buf, size_t cap, size_t *len, uint32_t src,
		   const struct alt_record *const *recs, unsigned n)
{
	size_t l = *len;
	unsigned done = 0;

	if (cap < ALT_PIPE_STEER_MIN_CAP)
		return 0;
	if (l == 0)
		l = alt_wire_atr_begin(buf, cap, 0, src, 0);
	while (done < n) {
		unsigned run = 0, k;

		/* a run of records whose names fit goes in at once */
		while (done + run < n && recs[done + run]->service.len <= ALT_PIPE_NAME_MAX &&
		       recs[done + run]->operation.len <= ALT_PIPE_NAME_MAX)
			run++;
		if (run > 0) {
			k = alt_wire_atr_add_many(buf, &l, cap, recs + done, run, false);
			done += k;
			if (k < run)
				break;  /* full: 1024 records, or no room */
		} else {
			/* cut as feed() cuts them (counted there) */
			struct alt_record cut = *recs[done];
			size_t nl;

			if (cut.service.len > ALT_PIPE_NAME_MAX)
				cut.service.len = ALT_PIPE_NAME_MAX;
			if (cut.operation.len > ALT_PIPE_NAME_MAX)
				cut.operation.len = ALT_PIPE_NAME_MAX;
			if ((nl = alt_wire_atr_add(buf, l, cap, &cut, false)) == 0)
				break;
			l = nl;
			done++;
		}
	}
	*len = l;
	return done;
}

unsigned
alt_pipe_steer_count(const uint8_t *buf, size_t len)
{
	return alt_wire_atr_count(buf, len);
}

enum alt_wire_reason
alt_pipe_feed_steered(struct alt_pipe *p, const uint8_t *frame, size_t len)
{
	enum alt_wire_reason r;

	if (p->sout.recs == NULL)       /* not sharded: nothing is steered here */
		return ALT_WIRE_BAD_TYPE;
	r = alt_wire_decode_atr(NULL, frame, len, &p->sout);
	if (alt_unlikely(r != ALT_WIRE_OK)) {
		p->cnt.rejected[r < ALT_WIRE_REASON_COUNT ? r : ALT_WIRE_BAD_FIELD]++;
		return r;
	}
	p->cnt.records_received += p->sout.n;
	feed(p, p->sout.recs, p->sout.n, false);
	return r;
}

static inline void
set_now(struct alt_pipe *p, uint64_t now)
{
	p->now = now;
	p->now_arr = (uint32_t)(now >> ALT_ARRIVAL_SHIFT);
}

enum alt_wire_reason
alt_pipe_input_from(struct alt_pipe *p, enum alt_wire_format fmt, const uint8_t *buf, size_t len,
		    const struct alt_pipe_origin *o)
{
	enum alt_wire_reason r = alt_pipe_decode(p, fmt, buf, len, NULL);
	uint64_t maxev = 0, minev = UINT64_MAX, key;

	if (r != ALT_WIRE_OK)
		return r;
	for (uint32_t i = 0; i < p->out.n; i++) {
		uint64_t ev = p->out.recs[i].start_ns + p->out.recs[i].duration_ns;
		maxev = ev > maxev ? ev : maxev;
		minev = ev < minev ? ev : minev;
	}
	/* The sender the payload names, else its UDP flow (per format). */
	key = p->out.source_key != 0 ? p->out.source_key
				      : alt_mix64(o->flow ^ ((uint64_t)fmt << 59)) & ~(0xFFULL << 56);
	alt_sources_heard_span(p->src, key, minev, maxev, o->arrival_ns);
	set_now(p, alt_sources_now(p->src));
	alt_pipe_feed(p, p->out.recs, p->out.n);
	return r;
}

enum alt_wire_reason
alt_pipe_input(struct alt_pipe *p, enum alt_wire_format fmt, const uint8_t *buf, size_t len)
{
	struct alt_pipe_origin o = { 0, p->now };

	return alt_pipe_input_from(p, fmt, buf, len, &o);
}

void
alt_pipe_clock(struct alt_pipe *p, uint64_t now_ns)
{
	alt_sources_clock(p->src, now_ns);
	if (now_ns > p->now)
		set_now(p, now_ns);
}

void
alt_pipe_peer_progress(struct alt_pipe *p, unsigned peer, uint64_t progress)
{
	if (peer < ALT_PIPE_MAX_SHARDS && progress > p->peer[peer])
		p->peer[peer] = progress;
}

uint64_t
alt_pipe_progress(struct alt_pipe *p)
{
	return alt_sources_watermark(p->src);
}

void
alt_pipe_exchange_progress(struct alt_pipe *const *pipes, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t prog = alt_pipe_progress(pipes[i]);

		for (unsigned o = 0; o < n; o++)
			if (o != i)
				alt_pipe_peer_progress(pipes[o], i, prog);
	}
}

const struct alt_sources *
alt_pipe_sources(const struct alt_pipe *p)
{
	return p->src;
}

static void
release_ready(struct alt_pipe *p)
{
	struct alt_node *rel[RELEASE_BURST];
	unsigned n;

	do {
		n = alt_reorder_pop(p->reorder, rel, RELEASE_BURST);
		/* The nodes waited out the reorder window and went cold, and the
		 * traces they join are scattered over the table: fetch nodes 16
		 * ahead, their hash buckets 8 ahead and the traces 4 ahead so
		 * that the misses overlap. */
		for (unsigned i = 0; i < n && i < 16; i++)
			alt_node_prefetch(rel[i]);
		for (unsigned i = 0; i < n && i < 8; i++)
			alt_session_prefetch(p->session, rel[i], 0);
		for (unsigned i = 0; i < n && i < 4; i++)
			alt_session_prefetch(p->session, rel[i], 1);
		for (unsigned i = 0; i < n; i++) {
			if (i + 16 < n)
				alt_node_prefetch(rel[i + 16]);
			if (i + 8 < n)
				alt_session_prefetch(p->session, rel[i + 8], 0);
			if (i + 4 < n)
				alt_session_prefetch(p->session, rel[i + 4], 1);
			session_add(p, rel[i], false);
		}
	} while (n == RELEASE_BURST);
}

static void
epoch_emit(struct alt_pipe *p)
{
	if (p->cur != NULL) {
		p->cnt.epochs++;
		if (p->hooks.epoch_done != NULL)
			p->hooks.epoch_done(p->hooks.ctx, p->cur_epoch, p->cur);
		else
			alt_pipe_stats_put(p, p->cur);
		p->cur = NULL;
	}
}

static void
epoch_begin(struct alt_pipe *p, uint64_t epoch)
{
	p->cur_epoch = epoch;
	p->have_epoch = true;
	p->cur = stats_fresh(p, epoch);
	if (p->cur == NULL)
		p->cnt.epochs_lost++;
}

/* A record reaches a trace, or a trace closes, before the first advance
 * began an epoch (a record late against a watermark that moved within the
 * burst, a pressure close): begin it now, so that every record and every
 * closed trace is in some epoch's statistics. */
static void
epoch_ensure(struct alt_pipe *p)
{
	uint64_t t = alt_reorder_watermark(p->reorder);

	if (t == 0)
		t = p->min_ev != UINT64_MAX ? p->min_ev : alt_reorder_max_seen(p->reorder);
	epoch_begin(p, t / p->cfg.epoch_ns);
}

/* Close what expired up to watermark w, epoch by epoch, so that each closed
 * trace is counted in the epoch its watermark was in, however far the
 * watermark jumped (a warm-up or a slow source let go). An epoch in which
 * nothing happened is not handed out: its statistics object goes on as the
 * next epoch's. */
static void
advance_to(struct alt_pipe *p, uint64_t w)
{
	uint64_t e = w / p->cfg.epoch_ns;

	if (!p->have_epoch)
		epoch_begin(p, e);
	while (p->cur_epoch < e) {
		uint64_t end = (p->cur_epoch + 1) * p->cfg.epoch_ns;
		alt_session_advance(p->session, end - 1);
		process_closed(p);
		if (p->cur != NULL && alt_stats_counters(p->cur)->records == 0 &&
		    alt_stats_counters(p->cur)->traces_closed == 0 && alt_stats_counters(p->cur)->late == 0) {
			/* nothing in it: on to the next epoch that may have, at
			 * once to the last when no trace is open */
			struct alt_session_stats ss;
			alt_session_get_stats(p->session, &ss);
			p->cur_epoch = ss.open == 0 ? e : p->cur_epoch + 1;
			alt_stats_reset(p->cur, p->cur_epoch);
			continue;
		}
		epoch_emit(p);
		epoch_begin(p, p->cur_epoch + 1);
	}
	alt_session_advance(p->session, w);
	process_closed(p);
}

/* The watermark: the minimum of this pipe's sources and of what every
 * peer promised (never lower than before). ALT_SOURCES_NONE: nothing
 * constrains it yet (nothing heard, no peer), so nothing moves. */
static uint64_t
effective_watermark(struct alt_pipe *p)
{
	uint64_t w = alt_sources_watermark(p->src);

	if (p->steering)
		for (uint32_t j = 0; j < p->cfg.shard_count; j++)
			if (j != p->cfg.shard_self && p->peer[j] < w)
				w = p->peer[j];
	if (w == ALT_SOURCES_NONE)
		return w;
	if (w > p->wm)
		p->wm = w;
	return p->wm;
}

static void
advance_wm(struct alt_pipe *p)
{
	uint64_t w = effective_watermark(p);

	if (w == ALT_SOURCES_NONE || (w == 0 && !p->have_epoch))
		return;
	alt_reorder_raise(p->reorder, w);
	if (!p->have_epoch)
		epoch_begin(p, (w < p->min_ev ? w : p->min_ev) / p->cfg.epoch_ns);
	release_ready(p);
	advance_to(p, w);
}

/* Pools running short while a source (or the warm-up) holds the
 * watermark back: stop waiting for it, so traces close by their gap. */
static bool
release_source(struct alt_pipe *p)
{
	uint64_t before = p->wm;

	/* only when the watermark is what holds the memory: the newest event
	 * is more than a gap (and the disorder) ahead of it */
	if (alt_reorder_max_seen(p->reorder) <= alt_sat_add(p->wm, p->cfg.gap_ns + p->cfg.reorder_ns))
		return false;
	while (alt_sources_release(p->src) == 0) {
		p->cnt.source_releases++;
		advance_wm(p);
		if (p->wm != before)
			return true;
	}
	return false;
}

void
alt_pipe_set_templates(struct alt_pipe *p, const struct alt_tmpl_model *m)
{
	p->tmpl = m;
}

void
alt_pipe_advance(struct alt_pipe *p)
{
	if (alt_unlikely(p->nodes.avail < p->nodes.n / 8 || p->exts.avail < p->exts.n / 8))
		release_source(p);
	advance_wm(p);
}

void
alt_pipe_drain(struct alt_pipe *p)
{
	uint64_t maxs = alt_reorder_max_seen(p->reorder);

	if (!p->have_epoch) {
		if (p->fed == 0)
			return;
		epoch_begin(p, (maxs < p->min_ev ? maxs : p->min_ev) / p->cfg.epoch_ns);
	}
	/* Everything buffered goes to its trace; event time moves to the
	 * highest seen, closing (epoch by epoch) what its gap closes by then;
	 * what is still open closes by drain in the last epoch. */
	alt_reorder_flush(p->reorder);
	release_ready(p);
	if (maxs > 0)
		advance_to(p, maxs);
	alt_session_drain(p->session);
	process_closed(p);
	epoch_emit(p);
	p->have_epoch = false;
	p->min_ev = UINT64_MAX;
}

const struct alt_pipe_counters *
alt_pipe_counters(const struct alt_pipe *p)
{
	return &p->cnt;
}

struct alt_wire_ctx *
alt_pipe_wire_ctx(struct alt_pipe *p)
{
	return p->wire;
}

const struct alt_intern *
alt_pipe_intern(const struct alt_pipe *p)
{
	return p->intern;
}

uint64_t
alt_pipe_watermark(const struct alt_pipe *p)
{
	return alt_reorder_watermark(p->reorder);
}

uint64_t
alt_pipe_pending(const struct alt_pipe *p)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
		done += p->cnt.records[i];
	return p->cnt.records_decoded + p->cnt.records_received - done;
}

void
alt_pipe_mem_stats(const struct alt_pipe *p, struct alt_pipe_mem_stats *m)
{
	struct alt_reorder_stats rs;
	struct alt_session_stats ss;

	alt_reorder_get_stats(p->reorder, &rs);
	alt_session_get_stats(p->session, &ss);
	memset(m, 0, sizeof(*m));
	m->total_bytes = p->total_bytes;
	m->nodes_in_use = alt_pool_in_use(&p->nodes);
	m->nodes_peak = p->nodes.n - p->nodes.min_avail;
	m->nodes_cap = p->nodes.n;
	m->exts_in_use = alt_pool_in_use(&p->exts);
	m->exts_peak = p->exts.n - p->exts.min_avail;
	m->traces_open = ss.open;
	m->traces_peak = ss.open_peak;
	m->reorder_buffered = rs.buffered;
	m->reorder_peak = rs.buffered_peak;
	m->strings = alt_intern_count(p->intern);
}
