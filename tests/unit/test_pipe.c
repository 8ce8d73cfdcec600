/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/pipe: the per-worker pipeline driven through its
 * public header with ATR/1 payloads built here.
 *
 * Every case runs on the arrival clock the payloads carry (nothing reads a
 * clock) with the warm-up off, so that traces close during the run, and
 * with the sources' lag bound off, so that the watermark is exactly the
 * slowest active sender's newest event time less the disorder (50 ms):
 * the figures the cases assert follow from that. The harness runs one pipe,
 * or two sharded pipes that steer records to each other through the same
 * steering frames the appliance's workers exchange.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "alt_pipe.h"

#define MS 1000000ULL
#define S (1000 * MS)
#define T0 (1700000000ULL * S)
#define TRACE_HI 0xA17A17ULL

#define MAX_PIPES 2
#define MAX_EMITTERS 8
#define MAX_CLOSED 512
#define FRAME_CAP (16u * 1024)

/* ---- harness ---- */

struct harness;

/* What the hooks of one pipe get as their context. */
struct side {
	struct harness *h;
	unsigned self;
};

/* One closed trace as the trace_closed hook saw it. */
struct closed {
	uint64_t lo;
	uint32_t records;
	uint32_t flags;
	uint8_t closed_by;
	unsigned pipe;
};

struct harness {
	struct alt_pipe *p[MAX_PIPES];
	struct side side[MAX_PIPES];
	struct alt_pipe_cfg cfg;
	unsigned n;                     /* pipes */
	bool exchange;                  /* sync hands each pipe's progress to the others */
	uint32_t seq[MAX_EMITTERS];     /* next ATR/1 frame_seq per emitter */
	struct closed closed[MAX_CLOSED];
	unsigned n_closed;
	/* epochs handed to epoch_done, per pipe */
	uint64_t last_epoch[MAX_PIPES];
	unsigned n_epochs[MAX_PIPES];
	bool epochs_in_order;
	uint64_t epoch_traces;          /* sum of the epochs' traces_closed */
	/* steering frames being filled: [from][to] */
	uint8_t stage[MAX_PIPES][MAX_PIPES][FRAME_CAP];
	size_t stage_len[MAX_PIPES][MAX_PIPES];
};

/* A pipe configuration small enough for a test: the pools and tables
 * hold a few thousand records, statistics a handful of operations; no
 * warm-up, no lag bound. */
static void
cfg_small(struct alt_pipe_cfg *c)
{
	alt_pipe_cfg_default(c);
	c->max_nodes = 1u << 14;
	c->max_traces = 1u << 12;
	c->closed_cache = 1u << 12;
	c->max_strings = 1024;
	c->string_bytes = 1u << 16;
	c->max_records = 1024;
	c->arena_bytes = 1u << 16;
	c->stats.max_ops = 16;
	c->stats.max_shapes = 16;
	c->stats.max_strings = 256;
	c->stats.string_bytes = 1u << 14;
	c->warmup_ns = 0;
	c->lag_obs = 0;
}

static void
on_closed(void *ctx, const struct alt_trace_view *v)
{
	struct side *s = ctx;
	struct harness *h = s->h;
	struct closed *c;

	CU_ASSERT_FATAL(h->n_closed < MAX_CLOSED);
	c = &h->closed[h->n_closed++];
	c->lo = v->trace->trace_id.lo;
	c->records = v->records;
	c->flags = v->flags;
	c->closed_by = v->trace->closed_by;
	c->pipe = s->self;
}

static void
on_epoch(void *ctx, uint64_t epoch, struct alt_stats *st)
{
	struct side *s = ctx;
	struct harness *h = s->h;

	if (h->n_epochs[s->self] > 0 && epoch <= h->last_epoch[s->self])
		h->epochs_in_order = false;
	if (alt_stats_epoch(st) != epoch)
		h->epochs_in_order = false;
	h->last_epoch[s->self] = epoch;
	h->n_epochs[s->self]++;
	h->epoch_traces += alt_stats_counters(st)->traces_closed;
	alt_pipe_stats_put(h->p[s->self], st);
}

/* The frame staged from pipe `from` to pipe `to` goes to its owner. */
static void
stage_send(struct harness *h, unsigned from, unsigned to)
{
	if (alt_pipe_steer_count(h->stage[from][to], h->stage_len[from][to]) == 0)
		return;
	CU_ASSERT_EQUAL(alt_pipe_feed_steered(h->p[to], h->stage[from][to], h->stage_len[from][to]),
			ALT_WIRE_OK);
	h->stage_len[from][to] = 0;
}

/* The steer hook: records into the frame for their owner, sent when full. */
static unsigned
on_steer(void *ctx, unsigned owner, const struct alt_record *const *recs, unsigned n)
{
	struct side *s = ctx;
	struct harness *h = s->h;
	unsigned done = 0;

	CU_ASSERT_FATAL(owner < h->n && owner != s->self);
	while (done < n) {
		unsigned k = alt_pipe_steer_add(h->stage[s->self][owner], FRAME_CAP,
						&h->stage_len[s->self][owner], s->self, recs + done, n - done);

		done += k;
		if (k == 0 && alt_pipe_steer_count(h->stage[s->self][owner], h->stage_len[s->self][owner]) == 0)
			break;
		if (done < n)
			stage_send(h, s->self, owner);
	}
	return done;
}

/* n pipes (1 or 2) of configuration cfg, sharded when n > 1; progress is
 * exchanged from the start. */
static struct harness *
h_new(unsigned n, const struct alt_pipe_cfg *cfg)
{
	struct harness *h = calloc(1, sizeof(*h));

	CU_ASSERT_FATAL(h != NULL);
	CU_ASSERT_FATAL(n >= 1 && n <= MAX_PIPES);
	h->n = n;
	h->cfg = *cfg;
	h->exchange = true;
	h->epochs_in_order = true;
	for (unsigned i = 0; i < n; i++) {
		struct alt_pipe_cfg c = *cfg;
		struct alt_pipe_hooks hk = { .ctx = &h->side[i], .trace_closed = on_closed,
					     .epoch_done = on_epoch, .steer = n > 1 ? on_steer : NULL };

		h->side[i].h = h;
		h->side[i].self = i;
		c.shard_count = n;
		c.shard_self = i;
		h->p[i] = alt_pipe_create(&c, NULL, &hk);
		CU_ASSERT_FATAL(h->p[i] != NULL);
	}
	return h;
}

static void
h_free(struct harness *h)
{
	for (unsigned i = 0; i < h->n; i++)
		alt_pipe_destroy(h->p[i]);
	free(h);
}

/* Records of one payload from `emitter`, arriving at pipe `pipe` at
 * arrival_ns, as one ATR/1 frame. */
static enum alt_wire_reason
h_send(struct harness *h, unsigned pipe, uint32_t emitter, const struct alt_record *r, unsigned n,
       uint64_t arrival_ns)
{
	uint8_t buf[FRAME_CAP];
	struct alt_pipe_origin o = { emitter, arrival_ns };
	size_t len;

	CU_ASSERT_FATAL(emitter < MAX_EMITTERS);
	len = alt_wire_encode_atr(r, n, 0, emitter, h->seq[emitter]++, buf, sizeof(buf));
	CU_ASSERT_FATAL(len > 0);
	return alt_pipe_input_from(h->p[pipe], ALT_FMT_ATR, buf, len, &o);
}

/* After a burst: steering frames to their owners, then (when exchanging)
 * each pipe's progress to the others, as a worker publishes it after its
 * frames; then every pipe advances. */
static void
h_sync(struct harness *h)
{
	for (unsigned i = 0; i < h->n; i++)
		for (unsigned o = 0; o < h->n; o++)
			if (o != i)
				stage_send(h, i, o);
	if (h->exchange && h->n > 1)
		alt_pipe_exchange_progress(h->p, h->n);
	for (unsigned i = 0; i < h->n; i++)
		alt_pipe_advance(h->p[i]);
}

static void
h_drain(struct harness *h)
{
	h_sync(h);
	for (unsigned i = 0; i < h->n; i++)
		alt_pipe_drain(h->p[i]);
}

/* How often trace lo closed; *last: the last time it did. */
static unsigned
closed_count(const struct harness *h, uint64_t lo, const struct closed **last)
{
	unsigned k = 0;

	*last = NULL;
	for (unsigned i = 0; i < h->n_closed; i++)
		if (h->closed[i].lo == lo) {
			k++;
			*last = &h->closed[i];
		}
	return k;
}

static uint64_t
outcomes(const struct alt_pipe_counters *c, bool with_steered)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
		if (with_steered || i != ALT_PIPE_REC_STEERED)
			sum += c->records[i];
	return sum;
}

static uint64_t
closed_total(const struct alt_pipe_counters *c)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < ALT_CLOSED_COUNT; i++)
		sum += c->traces_closed[i];
	return sum;
}

/* One record of trace lo: node, parent (0: a root), span [start, end). */
static struct alt_record
rec(uint64_t lo, uint64_t node, uint64_t parent, uint64_t start, uint64_t end, uint16_t flags)
{
	static const char svc[] = "frontend", op[] = "GET /cart";
	struct alt_record r;

	memset(&r, 0, sizeof(r));
	r.trace_id.hi = TRACE_HI;
	r.trace_id.lo = lo;
	r.node_id = node;
	r.start_ns = start;
	r.duration_ns = end - start;
	r.parents[0] = parent;
	r.parent_count = parent != 0;
	r.kind = ALT_KIND_SPAN;
	r.flags = flags;
	r.service.p = svc;
	r.service.len = sizeof(svc) - 1;
	r.operation.p = op;
	r.operation.len = sizeof(op) - 1;
	return r;
}

/* A one-span trace lo ending at end_ns, from emitter, arriving 1 ms later. */
static void
send_root(struct harness *h, unsigned pipe, uint32_t emitter, uint64_t lo, uint64_t end_ns)
{
	struct alt_record r = rec(lo, 1, 0, end_ns - 5 * MS, end_ns, 0);

	CU_ASSERT_EQUAL(h_send(h, pipe, emitter, &r, 1, end_ns + MS), ALT_WIRE_OK);
}

/* ---- cases ---- */

/* Bad configurations are refused; a fresh pipe holds nothing and promises
 * nothing. */
static void
test_create(void)
{
	struct alt_pipe_cfg c;
	struct alt_pipe *p;

	cfg_small(&c);
	c.max_nodes = 0;
	CU_ASSERT_PTR_NULL(alt_pipe_create(&c, NULL, NULL));
	cfg_small(&c);
	c.shard_count = 2;      /* sharded without a steer hook */
	CU_ASSERT_PTR_NULL(alt_pipe_create(&c, NULL, NULL));
	cfg_small(&c);
	p = alt_pipe_create(&c, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(alt_pipe_pending(p), 0);
	CU_ASSERT_EQUAL(alt_pipe_progress(p), ALT_SOURCES_NONE);
	alt_pipe_advance(p);
	alt_pipe_drain(p);
	CU_ASSERT_EQUAL(alt_pipe_counters(p)->epochs, 0);
	alt_pipe_destroy(p);
}

/* A trace fed in order closes by its gap once the watermark passes its
 * last event time plus gap_ns, not before, with all its records and no
 * flags; a trace missing a parent closes flagged incomplete. */
static void
test_gap_close(void)
{
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct closed *t;
	struct alt_record r[3];

	cfg_small(&c);
	h = h_new(1, &c);
	r[0] = rec(1, 2, 1, T0 + 1 * MS, T0 + 4 * MS, 0);
	r[1] = rec(1, 3, 1, T0 + 2 * MS, T0 + 7 * MS, 0);
	r[2] = rec(1, 1, 0, T0, T0 + 10 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 3, T0 + 11 * MS), ALT_WIRE_OK);
	r[0] = rec(2, 5, 4, T0 + 15 * MS, T0 + 20 * MS, 0);   /* parent 4 never comes */
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 1, T0 + 21 * MS), ALT_WIRE_OK);
	h_sync(h);
	CU_ASSERT_EQUAL(h->n_closed, 0);

	/* watermark T0 + 1.95 s: trace 1's gap ends at T0 + 2.01 s */
	send_root(h, 0, 1, 3, T0 + 2 * S);
	h_sync(h);
	CU_ASSERT_EQUAL(h->n_closed, 0);

	/* watermark T0 + 2.05 s: traces 1 and 2 close, trace 3 stays open */
	send_root(h, 0, 1, 4, T0 + 2 * S + 100 * MS);
	h_sync(h);
	CU_ASSERT_EQUAL(h->n_closed, 2);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 1, &t), 1);
	CU_ASSERT_EQUAL(t->closed_by, ALT_CLOSED_GAP);
	CU_ASSERT_EQUAL(t->records, 3);
	CU_ASSERT_EQUAL(t->flags, 0);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 2, &t), 1);
	CU_ASSERT_EQUAL(t->records, 1);
	CU_ASSERT(t->flags & ALT_PIPE_TF(INCOMPLETE));
	CU_ASSERT_EQUAL(closed_count(h, 3, &t), 0);
	CU_ASSERT_EQUAL(alt_pipe_counters(h->p[0])->traces_closed[ALT_CLOSED_GAP], 2);
	CU_ASSERT_EQUAL(alt_pipe_counters(h->p[0])->traces_incomplete, 1);
	h_free(h);
}

/* A complete trace with a CLOSES_TRACE record closes at its grace (50 ms),
 * long before its gap; the same trace without the flag stays open; one
 * whose closer is missing a parent is reopened instead. */
static void
test_closes_trace(void)
{
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct closed *t;
	struct alt_record r[5];

	cfg_small(&c);
	h = h_new(1, &c);
	r[0] = rec(1, 2, 1, T0 + 1 * MS, T0 + 4 * MS, 0);
	r[1] = rec(2, 2, 1, T0 + 1 * MS, T0 + 4 * MS, 0);
	r[2] = rec(1, 1, 0, T0, T0 + 10 * MS, ALT_RF_CLOSES_TRACE);
	r[3] = rec(2, 1, 0, T0, T0 + 10 * MS, 0);
	r[4] = rec(3, 9, 8, T0, T0 + 10 * MS, ALT_RF_CLOSES_TRACE);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 5, T0 + 11 * MS), ALT_WIRE_OK);
	h_sync(h);
	CU_ASSERT_EQUAL(h->n_closed, 0);

	/* watermark T0 + 150 ms: past the grace, well before the gap */
	send_root(h, 0, 1, 4, T0 + 200 * MS);
	h_sync(h);
	CU_ASSERT_EQUAL(h->n_closed, 1);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 1, &t), 1);
	CU_ASSERT_EQUAL(t->closed_by, ALT_CLOSED_CLOSES_TRACE);
	CU_ASSERT_EQUAL(t->records, 2);
	CU_ASSERT_EQUAL(t->flags, 0);
	CU_ASSERT_EQUAL(alt_pipe_counters(h->p[0])->traces_closed[ALT_CLOSED_CLOSES_TRACE], 1);
	CU_ASSERT_EQUAL(alt_pipe_counters(h->p[0])->reopened, 1);

	h_drain(h);
	CU_ASSERT_EQUAL(h->n_closed, 4);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 2, &t), 1);
	CU_ASSERT_EQUAL(t->closed_by, ALT_CLOSED_DRAIN);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 3, &t), 1);
	CU_ASSERT_NOT_EQUAL(t->closed_by, ALT_CLOSED_CLOSES_TRACE);
	h_free(h);
}

/* Records behind the watermark (from a sender first heard with old
 * records) are counted late: one of an open trace joins it (flagged
 * late_records), one of a closed trace makes a late fragment. */
static void
test_late(void)
{
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct closed *t;
	const struct alt_pipe_counters *cnt;
	struct alt_record r[2];

	cfg_small(&c);
	h = h_new(1, &c);
	cnt = alt_pipe_counters(h->p[0]);
	r[0] = rec(1, 2, 1, T0 + 1 * MS, T0 + 4 * MS, 0);
	r[1] = rec(1, 1, 0, T0, T0 + 10 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 2, T0 + 11 * MS), ALT_WIRE_OK);
	h_sync(h);
	/* watermark T0 + 4.95 s: trace 1 closes, trace 2 is open */
	r[0] = rec(2, 1, 0, T0 + 4800 * MS, T0 + 4900 * MS, 0);
	r[1] = rec(3, 1, 0, T0 + 4900 * MS, T0 + 5 * S, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 2, T0 + 5 * S + MS), ALT_WIRE_OK);
	h_sync(h);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 1, &t), 1);
	CU_ASSERT_EQUAL(t->records, 2);
	CU_ASSERT_EQUAL(closed_count(h, 2, &t), 0);
	CU_ASSERT_EQUAL(cnt->late, 0);

	/* emitter 2, first heard 4 s behind the watermark */
	r[0] = rec(1, 3, 1, T0 + 2 * MS, T0 + 12 * MS, 0);
	r[1] = rec(2, 2, 1, T0 + 1 * S, T0 + 1 * S + MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 2, r, 2, T0 + 5 * S + 2 * MS), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(cnt->late, 2);
	h_drain(h);
	CU_ASSERT_EQUAL(cnt->late_fragments, 1);
	CU_ASSERT_EQUAL(cnt->records[ALT_PIPE_REC_LATE_FRAGMENT], 1);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 1, &t), 2);
	CU_ASSERT(t->flags & ALT_PIPE_TF(LATE_FRAGMENT));
	CU_ASSERT_EQUAL(t->records, 1);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 2, &t), 1);
	CU_ASSERT(t->flags & ALT_PIPE_TF(LATE_RECORDS));
	CU_ASSERT_FALSE(t->flags & ALT_PIPE_TF(LATE_FRAGMENT));
	CU_ASSERT_EQUAL(t->records, 2);
	CU_ASSERT_EQUAL(h->n_closed, 4);
	h_free(h);
}

/* Every decoded record ends under exactly one outcome: records in the
 * reorder buffer are pending, a trace over max_nodes_per_trace drops the
 * rest (dropped_trace_full), a late record of a closed trace is a late
 * fragment; a rejected payload yields no records. After the drain the
 * outcomes sum to the records decoded and nothing is pending. */
static void
test_accounting(void)
{
	static const uint8_t junk[] = "not a frame at all";
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct alt_pipe_counters *cnt;
	struct alt_pipe_origin o = { 9, T0 + 21 * MS };
	struct alt_record r[8];
	uint64_t rejected = 0;

	cfg_small(&c);
	c.max_nodes_per_trace = 4;
	h = h_new(1, &c);
	cnt = alt_pipe_counters(h->p[0]);
	for (unsigned i = 0; i < 5; i++)
		r[i] = rec(1, 2 + i, 1, T0 + i * MS, T0 + (i + 1) * MS, 0);
	r[5] = rec(1, 1, 0, T0, T0 + 10 * MS, 0);
	r[6] = rec(2, 2, 1, T0 + 1 * MS, T0 + 4 * MS, 0);
	r[7] = rec(2, 1, 0, T0, T0 + 10 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 8, T0 + 20 * MS), ALT_WIRE_OK);
	CU_ASSERT_NOT_EQUAL(alt_pipe_input_from(h->p[0], ALT_FMT_ATR, junk, sizeof(junk), &o), ALT_WIRE_OK);
	h_sync(h);
	/* nothing closed yet: the records are pending but for the two
	 * beyond the trace's limit */
	CU_ASSERT_EQUAL(cnt->records_decoded, 8);
	CU_ASSERT(alt_pipe_pending(h->p[0]) >= 6);
	CU_ASSERT_EQUAL(alt_pipe_pending(h->p[0]) + outcomes(cnt, true), 8);

	send_root(h, 0, 1, 3, T0 + 5 * S);
	h_sync(h);
	r[0] = rec(2, 3, 1, T0 + 2 * MS, T0 + 5 * MS, 0);       /* trace 2 closed: late fragment */
	CU_ASSERT_EQUAL(h_send(h, 0, 2, r, 1, T0 + 5 * S + 2 * MS), ALT_WIRE_OK);
	CU_ASSERT(alt_pipe_pending(h->p[0]) > 0);
	h_drain(h);

	for (unsigned i = 0; i < ALT_WIRE_REASON_COUNT; i++)
		rejected += cnt->rejected[i];
	CU_ASSERT_EQUAL(rejected, 1);
	CU_ASSERT_EQUAL(cnt->records_decoded, 10);
	CU_ASSERT_EQUAL(cnt->records[ALT_PIPE_REC_IN_TRACE], 4 + 2 + 1);
	CU_ASSERT_EQUAL(cnt->records[ALT_PIPE_REC_DROPPED_TRACE_FULL], 2);
	CU_ASSERT_EQUAL(cnt->records[ALT_PIPE_REC_LATE_FRAGMENT], 1);
	CU_ASSERT_EQUAL(cnt->records[ALT_PIPE_REC_STEERED], 0);
	CU_ASSERT_EQUAL(outcomes(cnt, true), cnt->records_decoded);
	CU_ASSERT_EQUAL(alt_pipe_pending(h->p[0]), 0);
	h_free(h);
}

/* The watermark is the minimum over active senders: a sender that batches
 * (3 s between its payloads) holds it back, so a trace with a span in its
 * batch waits for it and closes whole, nothing late; once that sender is
 * quiet past its idle timeout (2 x its longest pause) it stops holding,
 * and the watermark follows the other sender. */
static void
test_watermark_sources(void)
{
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct closed *t;
	const struct alt_pipe_counters *cnt;
	struct alt_sources_stats ss;
	struct alt_record r[2];

	cfg_small(&c);
	c.idle_mult = 2;
	h = h_new(1, &c);
	cnt = alt_pipe_counters(h->p[0]);
	/* both heard at the start: emitter 2's progress is T0 - 45 ms */
	send_root(h, 0, 2, 100, T0 + 5 * MS);
	r[0] = rec(1, 1, 0, T0, T0 + 10 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 1, T0 + 11 * MS), ALT_WIRE_OK);
	h_sync(h);
	for (unsigned k = 1; k < 30; k++) {
		send_root(h, 0, 1, 1 + k, T0 + k * 100 * MS + 10 * MS);
		h_sync(h);
	}
	CU_ASSERT_EQUAL(h->n_closed, 0);
	CU_ASSERT(alt_pipe_watermark(h->p[0]) < T0);

	/* emitter 2's batch at T0 + 3 s: trace 1's child, and news to T0 + 2.9 s */
	r[0] = rec(1, 2, 1, T0 + 12 * MS, T0 + 20 * MS, 0);
	r[1] = rec(101, 1, 0, T0 + 2800 * MS, T0 + 2900 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 2, r, 2, T0 + 3 * S), ALT_WIRE_OK);
	h_sync(h);
	CU_ASSERT_EQUAL_FATAL(closed_count(h, 1, &t), 1);
	CU_ASSERT_EQUAL(t->records, 2);
	CU_ASSERT_EQUAL(t->flags, 0);
	CU_ASSERT_EQUAL(cnt->late, 0);
	CU_ASSERT(alt_pipe_watermark(h->p[0]) >= T0 + 2800 * MS);

	/* emitter 1 goes on; emitter 2 holds until ~T0 + 9 s (3 s x 2 after
	 * its batch), then goes idle */
	for (unsigned k = 30; k <= 80; k++) {
		send_root(h, 0, 1, 1 + k, T0 + k * 100 * MS + 10 * MS);
		h_sync(h);
	}
	CU_ASSERT(alt_pipe_watermark(h->p[0]) < T0 + 2900 * MS);
	for (unsigned k = 81; k <= 100; k++) {
		send_root(h, 0, 1, 1 + k, T0 + k * 100 * MS + 10 * MS);
		h_sync(h);
	}
	alt_sources_get_stats(alt_pipe_sources(h->p[0]), &ss);
	CU_ASSERT_EQUAL(ss.went_idle, 1);
	CU_ASSERT_EQUAL(ss.active, 1);
	CU_ASSERT(alt_pipe_watermark(h->p[0]) > T0 + 9500 * MS);
	CU_ASSERT_EQUAL(cnt->late, 0);
	h_free(h);
}

/* The steering workload: at step k trace k + 1 begins; emitter 1 sends
 * its root, emitter 2 its two children (unless skip is that trace, whose
 * second child is left out). With one pipe both emitters arrive there;
 * with two, emitter 1 at pipe 0 and emitter 2 at pipe 1, and each pipe
 * steers the records of the traces the other owns. */
#define STEP_NS (100 * MS)

static void
workload_step(struct harness *h, unsigned k, uint64_t skip)
{
	uint64_t lo = k + 1, base = T0 + k * STEP_NS;
	struct alt_record r[2];

	r[0] = rec(lo, 1, 0, base, base + 10 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 1, base + 20 * MS), ALT_WIRE_OK);
	r[0] = rec(lo, 2, 1, base + 1 * MS, base + 5 * MS, 0);
	r[1] = rec(lo, 3, 1, base + 2 * MS, base + 8 * MS, 0);
	CU_ASSERT_EQUAL(h_send(h, h->n - 1, 2, r, lo == skip ? 1 : 2, base + 20 * MS), ALT_WIRE_OK);
	h_sync(h);
}

/* Two pipes steering to each other: until a peer reports its progress it
 * holds the watermark (nothing closes); then traces close during the run,
 * and in the end every trace closed once, whole, on the pipe that owns
 * it; across the pipes decoded records equal the final outcomes and
 * nothing is pending. */
static void
test_steering(void)
{
	const unsigned steps = 60;
	struct alt_pipe_cfg c, oc;
	struct harness *h;
	uint64_t decoded = 0, final = 0, closed_gap = 0;

	cfg_small(&c);
	h = h_new(2, &c);
	oc = c;
	oc.shard_count = 2;
	h->exchange = false;
	for (unsigned k = 0; k < 30; k++)
		workload_step(h, k, 0);
	CU_ASSERT_EQUAL(h->n_closed, 0);        /* 3 s of traffic, 2 s gap: held by the peers */
	h->exchange = true;
	for (unsigned k = 30; k < steps; k++)
		workload_step(h, k, 0);
	for (unsigned i = 0; i < 2; i++)
		closed_gap += alt_pipe_counters(h->p[i])->traces_closed[ALT_CLOSED_GAP];
	CU_ASSERT(closed_gap > 0);
	h_drain(h);

	CU_ASSERT_EQUAL(h->n_closed, steps);
	for (uint64_t lo = 1; lo <= steps; lo++) {
		const struct closed *t;
		struct alt_trace_id id = { TRACE_HI, lo };

		CU_ASSERT_EQUAL_FATAL(closed_count(h, lo, &t), 1);
		CU_ASSERT_EQUAL(t->pipe, alt_pipe_owner(&oc, &id));
		CU_ASSERT_EQUAL(t->records, 3);
		CU_ASSERT_EQUAL(t->flags, 0);
	}
	for (unsigned i = 0; i < 2; i++) {
		const struct alt_pipe_counters *cnt = alt_pipe_counters(h->p[i]);

		CU_ASSERT(cnt->records[ALT_PIPE_REC_STEERED] > 0);
		CU_ASSERT(cnt->records_received > 0);
		CU_ASSERT_EQUAL(cnt->late, 0);
		CU_ASSERT_EQUAL(alt_pipe_pending(h->p[i]), 0);
		decoded += cnt->records_decoded;
		final += outcomes(cnt, false);
	}
	CU_ASSERT_EQUAL(decoded, steps * 3);
	CU_ASSERT_EQUAL(final, decoded);
	h_free(h);
}

/* Epochs reach the epoch_done hook in increasing order, each with its own
 * statistics, and their traces_closed sum to every trace closed. */
static void
test_epochs(void)
{
	const unsigned traces = 32;
	struct alt_pipe_cfg c;
	struct harness *h;
	const struct alt_pipe_counters *cnt;

	cfg_small(&c);
	h = h_new(1, &c);
	cnt = alt_pipe_counters(h->p[0]);
	for (unsigned k = 0; k < traces; k++) {
		uint64_t base = T0 + k * 250 * MS;
		struct alt_record r[2] = { rec(k + 1, 2, 1, base + MS, base + 5 * MS, 0),
					   rec(k + 1, 1, 0, base, base + 10 * MS, 0) };

		CU_ASSERT_EQUAL(h_send(h, 0, 1, r, 2, base + 11 * MS), ALT_WIRE_OK);
		h_sync(h);
	}
	CU_ASSERT(h->n_epochs[0] >= 3);        /* epochs ended during the run */
	h_drain(h);
	CU_ASSERT(h->epochs_in_order);
	CU_ASSERT(h->n_epochs[0] >= 6);
	CU_ASSERT_EQUAL(h->n_epochs[0], cnt->epochs);
	CU_ASSERT_EQUAL(h->n_closed, traces);
	CU_ASSERT_EQUAL(closed_total(cnt), traces);
	CU_ASSERT_EQUAL(h->epoch_traces, traces);
	CU_ASSERT_EQUAL(h->last_epoch[0], (T0 + (traces - 1) * 250 * MS) / c.epoch_ns);
	h_free(h);
}

/* traces_digest of the steering workload through n pipes (summed), with
 * trace `skip`'s second child left out. */
static uint64_t
workload_digest(unsigned n, uint64_t skip, uint64_t *closed)
{
	struct alt_pipe_cfg c;
	struct harness *h;
	uint64_t d = 0;

	cfg_small(&c);
	h = h_new(n, &c);
	for (unsigned k = 0; k < 40; k++)
		workload_step(h, k, skip);
	h_drain(h);
	*closed = 0;
	for (unsigned i = 0; i < n; i++) {
		d += alt_pipe_counters(h->p[i])->traces_digest;
		*closed += closed_total(alt_pipe_counters(h->p[i]));
	}
	h_free(h);
	return d;
}

/* The same input through one pipe and through two sharded pipes closes
 * the same traces with the same records: equal traces_digest; a trace
 * with one record fewer changes it. */
static void
test_digest(void)
{
	uint64_t one, two, fewer, n1, n2, n3;

	one = workload_digest(1, 0, &n1);
	two = workload_digest(2, 0, &n2);
	fewer = workload_digest(1, 7, &n3);
	CU_ASSERT_EQUAL(n1, 40);
	CU_ASSERT_EQUAL(n2, 40);
	CU_ASSERT_EQUAL(n3, 40);
	CU_ASSERT_NOT_EQUAL(one, 0);
	CU_ASSERT_EQUAL(one, two);
	CU_ASSERT_NOT_EQUAL(one, fewer);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("pipe", NULL, NULL);
	CU_add_test(s, "create", test_create);
	CU_add_test(s, "gap close", test_gap_close);
	CU_add_test(s, "closes_trace", test_closes_trace);
	CU_add_test(s, "late records and fragments", test_late);
	CU_add_test(s, "accounting", test_accounting);
	CU_add_test(s, "watermark over sources", test_watermark_sources);
	CU_add_test(s, "steering between two pipes", test_steering);
	CU_add_test(s, "epochs", test_epochs);
	CU_add_test(s, "digest across shards", test_digest);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)fails;
}
