/* SPDX-License-Identifier: BSD-3-Clause
 * The simulation: traces start at the configured record rate; every record
 * reaches one instance (emitter) of its service when its node ends; the
 * emitter batches records into frames (flushed when the next record would
 * overflow --max-payload or --flush-us after the batch's first record); each
 * frame is lost, or delayed by a random [0, --reorder-ms] in transit (FIFO
 * per emitter); frames are written to the pcap in delivery-time order.
 *
 * Agent mode (--flush-ms) models the tracing clients' reporters instead:
 * every emitter runs a periodic flush timer (its own interval, drawn
 * log-uniformly, and its own phase: ticks at phase + k * interval since the
 * epoch, microsecond-aligned). A batch leaves on the first tick after its
 * first record, or at once when full; a tick with an empty buffer sends
 * nothing. X-Trace reports wait in the buffer too and leave one datagram
 * each on the tick. --quiet silences some emitters once for a while (their
 * service's records go to another instance meanwhile; a batch still open
 * when an emitter goes quiet leaves at that instant) and --skew-ms shifts
 * the start times each host writes by its own clock offset; the pcap keeps
 * true time.
 *
 * Two heaps order time: one of simulation events (a record becoming ready,
 * a batch's flush deadline or timer tick) and one of frames in transit. A
 * frame is sent at its event's time and delivered no earlier, and events
 * are handled in time order. Trace i+1 starts no earlier than trace i, so
 * once every event before trace i+1's start is handled, every frame to be
 * delivered before that instant is known and can be written: a batch held
 * for a long flush interval is still in the event heap, and its frame will
 * be delivered after that instant. Memory thus stays bounded by the trace
 * durations, the flush interval and the reorder window, whatever --traces
 * is.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "gen.h"

#define GEN_AFFINE_SLOTS 8      /* open per-trace batches per emitter (--affine) */
#define GEN_MAX_DGRAM 65507u    /* largest UDP payload over IPv4 */
#define ATR_FLAG_AFFINE 0x01u

enum { EV_RECORD, EV_FLUSH };

struct gen_ev {
	uint64_t t;
	uint64_t seq;           /* insertion order: ties are deterministic */
	void *p;                /* EV_RECORD: the trace; heap of frames: the frame */
	uint32_t type;
	uint32_t emitter;       /* EV_FLUSH */
	uint32_t slot;
	uint32_t gen;
};

struct gen_heap {
	struct gen_ev *v;
	size_t n;
	size_t cap;
};

struct gen_batch {
	struct gen_node **recs;
	uint32_t n;
	uint32_t gen;           /* +1 per flush: older deadlines are stale */
	size_t bytes;           /* payload size bound with these records */
	uint64_t first_ns;
	struct alt_trace_id trace;
};

struct gen_emitter {
	struct gen_host host;
	uint32_t id;            /* ATR emitter_id */
	uint32_t seq;           /* ATR frame_seq of the next frame / Jaeger batches sent */
	uint32_t ip_id;         /* IP identification of the next datagram */
	uint16_t sport;
	uint16_t svc;
	uint64_t last_deliver_ns;       /* delivery time of its latest frame */
	uint64_t tick_ns;       /* agent mode: flush timer interval ... */
	uint64_t phase_ns;      /* ... ticks at phase_ns + k * tick_ns */
	uint64_t quiet_from;    /* --quiet: silent in [quiet_from, quiet_to) */
	uint64_t quiet_to;      /* (both 0: never) */
	int64_t skew_ns;        /* --skew-ms: added to the start times it writes */
	char hostname[48];
	char ipstr[48];
	const char *tag_vals[3];
	struct alt_jaeger_process proc;
	size_t overhead;        /* payload bytes of an empty batch (bound) */
	struct gen_batch slots[GEN_AFFINE_SLOTS];
};

/* A frame in transit. Small ones (X-Trace reports, short batches) come
 * from a free list of blocks sized to stay cache-friendly while they wait. */
#define GEN_SMALL_FRAME 480u

struct gen_frame {
	struct gen_frame *next_free;
	uint32_t emitter;
	uint32_t ip_id;
	uint32_t len;
	uint16_t sport;
	uint8_t payload[];
};

struct gen_sim {
	const struct gen_opts *o;
	struct gen_stats *st;
	struct gen_emitter *em;
	unsigned n_em;
	unsigned n_slots;
	struct gen_heap ev;
	struct gen_heap out;
	uint64_t seq;
	struct gen_rng net;
	struct gen_pcap *pcap;
	FILE *truth;
	struct gen_frame *free_frames;
	struct gen_trace *tq_head;
	struct gen_trace *tq_tail;
	uint64_t flush_ns;
	uint64_t reorder_ns;
	bool agent;             /* --flush-ms: flush on each emitter's timer ticks */
	bool quiet;             /* some emitters have a quiet span */
	bool failed;
	struct alt_record scratch[ALT_ATR_MAX_COUNT];
	uint8_t buf[GEN_MAX_DGRAM];
};

static const char *const jaeger_tag_keys[3] = { "hostname", "ip", "jaeger.version" };

/* ---- 4-ary min-heap on (t, seq): shallower than a binary heap, and the
 * four children of a node share one or two cache lines ---- */

static inline bool
ev_less(const struct gen_ev *a, const struct gen_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int
heap_push(struct gen_heap *h, const struct gen_ev *e)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4096;
		struct gen_ev *v = realloc(h->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 4;

		if (!ev_less(e, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = *e;
	return 0;
}

/* Put e at the root (it replaces the top) and sift it down. */
static void
heap_sift_root(struct gen_heap *h, const struct gen_ev *e)
{
	size_t i = 0;

	for (;;) {
		size_t c = 4 * i + 1, m, end;

		if (c >= h->n)
			break;
		end = c + 4 < h->n ? c + 4 : h->n;
		m = c;
		for (size_t k = c + 1; k < end; k++)
			if (ev_less(&h->v[k], &h->v[m]))
				m = k;
		if (!ev_less(&h->v[m], e))
			break;
		h->v[i] = h->v[m];
		i = m;
	}
	h->v[i] = *e;
}

static void
heap_pop(struct gen_heap *h, struct gen_ev *top)
{
	*top = h->v[0];
	if (--h->n > 0)
		heap_sift_root(h, &h->v[h->n]);
}

/* ---- sizes ---- */

static size_t
atr_rec_size(const struct alt_record *r)
{
	size_t n = 48 + 8u * r->parent_count + r->service.len + r->operation.len + r->attrs.len;

	return (n + 7) & ~(size_t)7;
}

/* An upper bound of a span's Thrift size: fixed fields, one reference per
 * parent, one string tag per attrs line and the error tag. Compact: field
 * headers of 1 byte, varints of at most 10 (i64) or 5 (i32) bytes, string
 * lengths below 16384 in 2. Binary: 3-byte field headers, fixed-width
 * integers, 4-byte string lengths. */
static size_t
jaeger_rec_bound(const struct alt_record *r, bool compact)
{
	unsigned lines = 0;
	size_t n;

	for (uint32_t i = 0; i < r->attrs.len; i++)
		if (r->attrs.p[i] == '\n')
			lines++;
	if (r->attrs.len)
		lines++;
	if (compact) {
		n = 88 + r->operation.len + 36u * r->parent_count + 9u * lines + r->attrs.len;
		if (r->flags & ALT_RF_ERROR)
			n += 16;
	} else {
		n = 120 + r->operation.len + 48u * r->parent_count + 24u * lines + r->attrs.len;
		if (r->flags & ALT_RF_ERROR)
			n += 32;
	}
	return n;
}

static size_t
rec_size(const struct gen_sim *s, const struct alt_record *r)
{
	return s->o->fmt == ALT_FMT_ATR ? atr_rec_size(r) :
					  jaeger_rec_bound(r, s->o->fmt == ALT_FMT_JAEGER_COMPACT);
}

/* ---- emitters ---- */

static int
emitters_init(struct gen_sim *s)
{
	const struct gen_opts *o = s->o;
	uint32_t id_base = (uint32_t)alt_mix64(o->seed ^ 0xa7e1d00dULL) & 0xffff0000u;

	s->n_em = GEN_SVC_COUNT * o->emitters_per_service;
	s->n_slots = o->affine && o->fmt == ALT_FMT_ATR ? GEN_AFFINE_SLOTS : 1;
	s->em = calloc(s->n_em, sizeof(*s->em));
	if (s->em == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < s->n_em; i++) {
		struct gen_emitter *e = &s->em[i];
		unsigned k = i % o->emitters_per_service;
		uint8_t x = (uint8_t)(1 + i / 250), y = (uint8_t)(1 + i % 250);

		e->svc = (uint16_t)(i / o->emitters_per_service);
		e->id = id_base | i;
		e->ip_id = (uint32_t)alt_mix64(o->seed + i);
		e->sport = (uint16_t)(32768 + alt_mix64(o->seed * 31 + i) % 28000);
		e->host.mac[0] = 0x02;
		e->host.mac[2] = 0xc6;
		e->host.mac[3] = 0x12;
		e->host.mac[4] = x;
		e->host.mac[5] = y;
		e->host.ip4[0] = 198;
		e->host.ip4[1] = 18;
		e->host.ip4[2] = x;
		e->host.ip4[3] = y;
		e->host.ip6[0] = 0x20;
		e->host.ip6[1] = 0x01;
		e->host.ip6[2] = 0x0d;
		e->host.ip6[3] = 0xb8;
		e->host.ip6[7] = 0x01;
		e->host.ip6[14] = x;
		e->host.ip6[15] = y;
		snprintf(e->hostname, sizeof(e->hostname), "%s-%u", gen_svc_name(e->svc), k);
		if (o->net.ipv6)
			snprintf(e->ipstr, sizeof(e->ipstr), "2001:db8:0:1::%x%02x", x, y);
		else
			snprintf(e->ipstr, sizeof(e->ipstr), "198.18.%u.%u", x, y);
		e->tag_vals[0] = e->hostname;
		e->tag_vals[1] = e->ipstr;
		e->tag_vals[2] = "Go-2.30.0";
		e->proc.service = gen_svc_name(e->svc);
		e->proc.n_tags = 3;
		e->proc.tag_keys = jaeger_tag_keys;
		e->proc.tag_values = e->tag_vals;
		if (o->fmt == ALT_FMT_ATR)
			e->overhead = 16;
		else
			e->overhead = 96 + strlen(e->proc.service) + strlen(e->hostname) + strlen(e->ipstr) + 3 * 24;
		for (unsigned j = 0; j < s->n_slots; j++) {
			e->slots[j].recs = malloc(ALT_ATR_MAX_COUNT * sizeof(*e->slots[j].recs));
			if (e->slots[j].recs == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Time quantum of the start times format fmt carries (see gen_trace.c). */
static uint64_t
start_quantum_ns(enum alt_wire_format fmt)
{
	switch (fmt) {
	case ALT_FMT_JAEGER_COMPACT:
	case ALT_FMT_JAEGER_BINARY:
		return 1000;
	case ALT_FMT_XTRACE:
		return 1000000;
	default:
		return 1;
	}
}

/* Agent-mode timers and clock offsets, each from a stream of its own so
 * that neither changes the traces or the network draws. The interval is
 * log-uniform in [--flush-ms MIN, MAX] and, like the phase, a whole number
 * of microseconds (pcap resolution); the offset is uniform in [-S, S] ms in
 * whole quanta of the format's start times. */
static void
emitters_timing(struct gen_sim *s)
{
	const struct gen_opts *o = s->o;
	struct gen_rng tick, skew;

	gen_rng_seed(&tick, o->seed, UINT64_MAX - 2);
	gen_rng_seed(&skew, o->seed, UINT64_MAX - 4);
	for (unsigned i = 0; i < s->n_em && o->agent; i++) {
		struct gen_emitter *e = &s->em[i];
		double lo = log(o->flush_ms_min), hi = log(o->flush_ms_max);
		double ms = exp(lo + (hi - lo) * gen_rng_unit(&tick));
		uint64_t us = (uint64_t)llround(ms * 1000.0);

		if (us == 0)
			us = 1;
		e->tick_ns = us * 1000u;
		e->phase_ns = gen_rng_below(&tick, us) * 1000u;
	}
	if (o->skew_ms > 0) {
		uint64_t q = start_quantum_ns(o->fmt);
		uint64_t span = (uint64_t)llround(o->skew_ms * 1e6) / q;

		for (unsigned i = 0; i < s->n_em; i++)
			s->em[i].skew_ns = ((int64_t)gen_rng_below(&skew, 2 * span + 1) - (int64_t)span) *
					   (int64_t)q;
	}
}

/* The first timer tick of e strictly after t. */
static uint64_t
next_tick(const struct gen_emitter *e, uint64_t t)
{
	if (t < e->phase_ns)
		return e->phase_ns;
	return e->phase_ns + ((t - e->phase_ns) / e->tick_ns + 1) * e->tick_ns;
}

static bool
is_quiet(const struct gen_emitter *e, uint64_t t)
{
	return t >= e->quiet_from && t < e->quiet_to;
}

/* When a batch begun at t by e leaves unless it fills first: the next
 * timer tick (agent mode) or --flush-us later, and never after the
 * instant e goes quiet. */
static uint64_t
batch_deadline(const struct gen_sim *s, const struct gen_emitter *e, uint64_t t)
{
	uint64_t d = s->agent ? next_tick(e, t) : t + s->flush_ns;

	if (t < e->quiet_from && d > e->quiet_from)
		d = e->quiet_from;
	return d;
}

/* Pick the quiet emitters and their spans (--quiet). round(P * emitters)
 * of them, at most K - 1 instances per service (the option parser keeps P
 * within that), so a service always has an instance to take its records.
 * A span lasts --quiet's SECONDS and starts uniformly in the capture's
 * event time, estimated from the mean size of its first traces, so that it
 * ends inside it when the capture is long enough. Each span is reported on
 * stderr: the capture cannot be read without it. */
static int
quiet_init(struct gen_sim *s, const struct gen_trace_cfg *cfg)
{
	const struct gen_opts *o = s->o;
	unsigned k = o->emitters_per_service, want, got = 0;
	uint64_t sample = o->traces < 256 ? o->traces : 256, nodes = 0;
	uint64_t len_ns = (uint64_t)llround(o->quiet_s * 1e9), span_ns, room;
	unsigned *order, *per_svc;
	struct gen_rng rng;

	want = (unsigned)llround(o->quiet_frac * s->n_em);
	if (want == 0)
		return 0;
	for (uint64_t i = 0; i < sample; i++) {
		struct gen_trace *t = gen_trace_make(cfg, i, o->start_ns);

		if (t == NULL)
			return -ENOMEM;
		nodes += t->n_nodes;
		gen_trace_free(t);
	}
	span_ns = (uint64_t)((double)nodes / (double)sample * (double)o->traces * 1e9 / o->rate);
	room = span_ns > len_ns ? span_ns - len_ns : 0;
	order = malloc(s->n_em * sizeof(*order));
	per_svc = calloc(GEN_SVC_COUNT, sizeof(*per_svc));
	if (order == NULL || per_svc == NULL) {
		free(order);
		free(per_svc);
		return -ENOMEM;
	}
	gen_rng_seed(&rng, o->seed, UINT64_MAX - 3);
	for (unsigned i = 0; i < s->n_em; i++)
		order[i] = i;
	for (unsigned i = s->n_em - 1; i > 0; i--) {
		unsigned j = (unsigned)gen_rng_below(&rng, i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (unsigned i = 0; i < s->n_em && got < want; i++) {
		struct gen_emitter *e = &s->em[order[i]];

		if (per_svc[e->svc] + 1 >= k)
			continue;
		per_svc[e->svc]++;
		got++;
		e->quiet_from = o->start_ns + gen_rng_below(&rng, room + 1);
		e->quiet_to = e->quiet_from + len_ns;
	}
	free(order);
	free(per_svc);
	s->quiet = got > 0;
	for (unsigned i = 0; i < s->n_em; i++) {
		const struct gen_emitter *e = &s->em[i];

		if (e->quiet_to > e->quiet_from)
			fprintf(stderr, "altair-gen: quiet emitter %s ip=%s sport=%u from_ns=%llu to_ns=%llu\n",
				e->hostname, e->ipstr, e->sport, (unsigned long long)e->quiet_from,
				(unsigned long long)e->quiet_to);
	}
	return 0;
}

/* The emitter that takes a record of e's service at t while e is quiet:
 * the next instance of the service (in instance order) that is not. */
static uint32_t
stand_in(const struct gen_sim *s, uint32_t ei, uint64_t t)
{
	unsigned k = s->o->emitters_per_service;
	uint32_t base = ei - ei % k;

	for (unsigned d = 1; d < k; d++) {
		uint32_t c = base + (ei - base + d) % k;

		if (!is_quiet(&s->em[c], t))
			return c;
	}
	return ei;      /* unreachable: K - 1 quiet instances at most */
}

static void
emitters_free(struct gen_sim *s)
{
	if (s->em == NULL)
		return;
	for (unsigned i = 0; i < s->n_em; i++)
		for (unsigned j = 0; j < GEN_AFFINE_SLOTS; j++)
			free(s->em[i].slots[j].recs);
	free(s->em);
}

/* ---- frames ---- */

/* Encode n records (copied to s->scratch, except for X-Trace: one record,
 * read in place) into s->buf. */
static size_t
encode(struct gen_sim *s, struct gen_emitter *e, struct gen_node **recs, unsigned n, uint8_t flags,
       size_t cap)
{
	switch (s->o->fmt) {
	case ALT_FMT_ATR:
		return alt_wire_encode_atr(s->scratch, n, flags, e->id, e->seq, s->buf, cap);
	case ALT_FMT_JAEGER_COMPACT:
	case ALT_FMT_JAEGER_BINARY:
		return alt_wire_encode_jaeger(s->o->fmt == ALT_FMT_JAEGER_COMPACT, &e->proc, s->scratch, n,
					      (int64_t)e->seq + 1, NULL, s->buf, cap);
	case ALT_FMT_XTRACE:
		return alt_wire_encode_xtrace(&recs[0]->rec, s->o->task_id_len, e->hostname, s->buf, cap);
	default:
		return 0;
	}
}

static struct gen_frame *
frame_alloc(struct gen_sim *s, size_t len)
{
	struct gen_frame *f;

	if (len > GEN_SMALL_FRAME)
		return malloc(sizeof(*f) + len);
	f = s->free_frames;
	if (f != NULL) {
		s->free_frames = f->next_free;
		return f;
	}
	return malloc(sizeof(*f) + GEN_SMALL_FRAME);
}

static void
frame_free(struct gen_sim *s, struct gen_frame *f)
{
	if (f->len > GEN_SMALL_FRAME) {
		free(f);
		return;
	}
	f->next_free = s->free_frames;
	s->free_frames = f;
}

/* Send recs[0..n) from emitter e at time t as one frame (or, should the
 * size bound have been too optimistic, as several). */
static void
send_frame(struct gen_sim *s, struct gen_emitter *e, struct gen_node **recs, unsigned n, uint64_t t,
	   bool affine)
{
	const struct gen_opts *o = s->o;
	uint16_t sport = e->sport;
	struct gen_frame *f;
	struct gen_ev ev;
	size_t len;

	if (o->fmt != ALT_FMT_XTRACE)
		for (unsigned i = 0; i < n; i++)
			s->scratch[i] = recs[i]->rec;
	len = encode(s, e, recs, n, affine ? ATR_FLAG_AFFINE : 0, o->max_payload);
	if (len == 0 && n > 1) {
		unsigned h = n / 2;

		send_frame(s, e, recs, h, t, affine);
		send_frame(s, e, recs + h, n - h, t, affine);
		return;
	}
	if (len == 0)
		len = encode(s, e, recs, n, affine ? ATR_FLAG_AFFINE : 0, sizeof(s->buf));
	if (len == 0) {
		fprintf(stderr, "altair-gen: a %s record of %s/%.*s does not fit in a datagram\n",
			alt_wire_format_name(o->fmt), gen_svc_name(e->svc), (int)recs[0]->rec.operation.len,
			recs[0]->rec.operation.p);
		s->failed = true;
		return;
	}
	if (affine)
		sport = alt_trace_affine_port(&recs[0]->rec.trace_id);
	e->seq++;
	s->st->frames++;
	for (unsigned i = 0; i < n; i++)
		recs[i]->trace->pending--;
	if (o->loss > 0 && gen_rng_chance(&s->net, o->loss)) {
		s->st->frames_lost++;
		for (unsigned i = 0; i < n; i++)
			recs[i]->trace->lost = true;
		e->ip_id++;
		return;
	}
	f = frame_alloc(s, len);
	if (f == NULL) {
		s->failed = true;
		return;
	}
	f->emitter = (uint32_t)(e - s->em);
	f->ip_id = e->ip_id++;
	f->len = (uint32_t)len;
	f->sport = sport;
	memcpy(f->payload, s->buf, len);
	memset(&ev, 0, sizeof(ev));
	/* The path from one emitter is FIFO: a frame never overtakes the
	 * emitter's previous one, so the delay stays in [0, reorder] while
	 * frames of different emitters interleave out of event-time order. */
	ev.t = t + (s->reorder_ns ? gen_rng_below(&s->net, s->reorder_ns + 1) : 0);
	if (ev.t < e->last_deliver_ns)
		ev.t = e->last_deliver_ns;
	e->last_deliver_ns = ev.t;
	ev.seq = s->seq++;
	ev.p = f;
	if (heap_push(&s->out, &ev) != 0) {
		frame_free(s, f);
		s->failed = true;
	}
}

static void
flush_batch(struct gen_sim *s, struct gen_emitter *e, struct gen_batch *b, uint64_t t)
{
	if (s->o->fmt == ALT_FMT_XTRACE) {
		/* buffered reports (agent mode) still leave one per datagram */
		for (uint32_t i = 0; i < b->n; i++)
			send_frame(s, e, &b->recs[i], 1, t, false);
	} else if (b->n > 0) {
		send_frame(s, e, b->recs, b->n, t, s->n_slots > 1);
	}
	b->n = 0;
	b->gen++;
}

/* Record node reaches its emitter at time t. */
static void
on_record(struct gen_sim *s, struct gen_node *node, uint64_t t)
{
	struct gen_emitter *e = &s->em[node->emitter];
	struct gen_batch *b = NULL;
	size_t size;

	if (s->quiet && is_quiet(e, t)) {
		node->emitter = stand_in(s, node->emitter, t);
		e = &s->em[node->emitter];
	}
	if (e->skew_ns != 0) {
		/* the host's clock: what it writes, and so what the truth says */
		uint64_t st = node->rec.start_ns;

		if (e->skew_ns < 0 && (uint64_t)-e->skew_ns > st)
			node->rec.start_ns = 0;
		else
			node->rec.start_ns = st + (uint64_t)e->skew_ns;
	}
	if (s->o->fmt == ALT_FMT_XTRACE && !s->agent) {
		/* X-Trace reports are sent one by one */
		send_frame(s, e, &node, 1, t, false);
		return;
	}
	if (s->n_slots == 1) {
		b = &e->slots[0];
	} else {
		struct gen_batch *empty = NULL, *oldest = NULL;

		for (unsigned i = 0; i < s->n_slots; i++) {
			struct gen_batch *c = &e->slots[i];

			if (c->n == 0) {
				if (empty == NULL)
					empty = c;
				continue;
			}
			if (alt_trace_id_eq(&c->trace, &node->rec.trace_id)) {
				b = c;
				break;
			}
			if (oldest == NULL || c->first_ns < oldest->first_ns)
				oldest = c;
		}
		if (b == NULL && empty != NULL)
			b = empty;
		if (b == NULL) {
			b = oldest;
			flush_batch(s, e, b, t);
		}
	}
	/* an X-Trace buffer (agent mode) fills by count only */
	size = s->o->fmt == ALT_FMT_XTRACE ? 0 : rec_size(s, &node->rec);
	if (b->n > 0 && (b->bytes + size > s->o->max_payload || b->n == ALT_ATR_MAX_COUNT))
		flush_batch(s, e, b, t);
	if (b->n == 0) {
		struct gen_ev ev;

		b->bytes = e->overhead;
		b->first_ns = t;
		b->trace = node->rec.trace_id;
		memset(&ev, 0, sizeof(ev));
		ev.t = batch_deadline(s, e, t);
		ev.seq = s->seq++;
		ev.type = EV_FLUSH;
		ev.emitter = node->emitter;
		ev.slot = (uint32_t)(b - e->slots);
		ev.gen = b->gen;
		if (heap_push(&s->ev, &ev) != 0)
			s->failed = true;
	}
	b->recs[b->n++] = node;
	b->bytes += size;
}

/* Handle every simulation event before bound. */
static void
run_events(struct gen_sim *s, uint64_t bound)
{
	struct gen_ev ev;

	while (s->ev.n > 0 && s->ev.v[0].t < bound && !s->failed) {
		ev = s->ev.v[0];
		if (ev.type == EV_RECORD) {
			struct gen_trace *t = ev.p;
			struct gen_node *node = &t->nodes[t->cursor++];

			/* the trace's next record takes its place in the heap */
			if (t->cursor < t->n_nodes) {
				struct gen_ev next = ev;

				next.t = t->nodes[t->cursor].ready_ns;
				heap_sift_root(&s->ev, &next);
			} else {
				heap_pop(&s->ev, &ev);
			}
			on_record(s, node, ev.t);
		} else {
			heap_pop(&s->ev, &ev);
			struct gen_emitter *e = &s->em[ev.emitter];
			struct gen_batch *b = &e->slots[ev.slot];

			if (b->gen == ev.gen)
				flush_batch(s, e, b, ev.t);
		}
	}
}

/* Write every frame delivered before bound. */
static void
deliver(struct gen_sim *s, uint64_t bound)
{
	struct gen_ev ev;

	while (s->out.n > 0 && s->out.v[0].t < bound && !s->failed) {
		struct gen_frame *f;

		heap_pop(&s->out, &ev);
		f = ev.p;
		if (gen_pcap_udp(s->pcap, ev.t, &s->em[f->emitter].host, f->sport, f->ip_id, f->payload,
				 f->len) != 0) {
			fprintf(stderr, "altair-gen: writing %s: %s\n", s->o->out, strerror(errno));
			s->failed = true;
		}
		frame_free(s, f);
	}
}

/* Write the truth of (and free) every finished trace at the queue's head. */
static void
retire_traces(struct gen_sim *s)
{
	while (s->tq_head != NULL && s->tq_head->pending == 0) {
		struct gen_trace *t = s->tq_head;

		if (s->truth != NULL && gen_truth_write(s->truth, t) != 0 && !s->failed) {
			fprintf(stderr, "altair-gen: writing %s: %s\n", s->o->truth, strerror(errno));
			s->failed = true;
		}
		s->tq_head = t->next;
		if (s->tq_head == NULL)
			s->tq_tail = NULL;
		gen_trace_free(t);
	}
}

static int
cmp_ready(const void *a, const void *b)
{
	const struct gen_node *x = a, *y = b;

	if (x->ready_ns != y->ready_ns)
		return x->ready_ns < y->ready_ns ? -1 : 1;
	return x->rec.node_id < y->rec.node_id ? -1 : x->rec.node_id > y->rec.node_id;
}

/* Queue trace t: its nodes are sorted by ready time and the trace sits in
 * the event heap once, keyed by its next record's ready time. */
static int
add_trace(struct gen_sim *s, struct gen_trace *t)
{
	struct gen_ev ev;

	qsort(t->nodes, t->n_nodes, sizeof(t->nodes[0]), cmp_ready);
	t->cursor = 0;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RECORD;
	ev.t = t->nodes[0].ready_ns;
	ev.seq = s->seq++;
	ev.p = t;
	if (heap_push(&s->ev, &ev) != 0)
		return -ENOMEM;
	if (s->tq_tail != NULL)
		s->tq_tail->next = t;
	else
		s->tq_head = t;
	s->tq_tail = t;
	s->st->traces++;
	s->st->records += t->n_nodes;
	return 0;
}

/* Run the whole generation; see gen.h. */
int
gen_run(const struct gen_opts *o, struct gen_stats *st)
{
	struct gen_sim *s = calloc(1, sizeof(*s));
	struct gen_trace_cfg cfg;
	uint64_t next_ns = o->start_ns;
	double frac = 0;
	int rc = -1;

	if (s == NULL) {
		fprintf(stderr, "altair-gen: out of memory\n");
		return -1;
	}
	memset(st, 0, sizeof(*st));
	s->o = o;
	s->st = st;
	s->flush_ns = (uint64_t)(o->flush_us * 1000.0);
	s->reorder_ns = (uint64_t)(o->reorder_ms * 1000000.0);
	s->agent = o->agent;
	gen_rng_seed(&s->net, o->seed, UINT64_MAX - 1);
	if (emitters_init(s) != 0) {
		fprintf(stderr, "altair-gen: out of memory\n");
		goto out;
	}
	emitters_timing(s);

	memset(&cfg, 0, sizeof(cfg));
	cfg.fmt = o->fmt;
	cfg.seed = o->seed;
	cfg.id64 = o->id64;
	cfg.task_id_len = o->task_id_len;
	cfg.anomaly_rate = o->anomaly_rate;
	memcpy(cfg.anom_kinds, o->anom_kinds, sizeof(cfg.anom_kinds));
	cfg.n_anom_kinds = o->n_anom_kinds;
	cfg.latency_min = o->latency_min;
	cfg.latency_max = o->latency_max;
	cfg.closes_trace = !o->no_closes;
	cfg.emitters_per_service = o->emitters_per_service;
	cfg.tpls = o->tpls;
	cfg.n_tpls = o->n_tpls;
	for (unsigned i = 0; i < o->n_tpls; i++)
		cfg.total_weight += o->tpls[i]->weight;
	if (o->quiet_frac > 0 && quiet_init(s, &cfg) != 0) {
		fprintf(stderr, "altair-gen: out of memory\n");
		goto out;
	}

	s->pcap = gen_pcap_open(o->out, &o->net);
	if (s->pcap == NULL) {
		fprintf(stderr, "altair-gen: --out %s: %s\n", o->out, strerror(errno));
		goto out;
	}
	if (o->truth != NULL) {
		s->truth = fopen(o->truth, "w");
		if (s->truth == NULL) {
			fprintf(stderr, "altair-gen: --truth %s: %s\n", o->truth, strerror(errno));
			goto out;
		}
		setvbuf(s->truth, NULL, _IOFBF, 1u << 20);
	}

	for (uint64_t i = 0; i < o->traces && !s->failed; i++) {
		struct gen_trace *t = gen_trace_make(&cfg, i, next_ns);
		double step;
		uint64_t whole;

		if (t == NULL || add_trace(s, t) != 0) {
			gen_trace_free(t);
			fprintf(stderr, "altair-gen: out of memory at trace %llu\n", (unsigned long long)i);
			s->failed = true;
			break;
		}
		/* the next trace starts when this one's records are "paid for"
		 * at the configured rate */
		step = (double)t->n_nodes * 1e9 / o->rate + frac;
		whole = (uint64_t)step;
		frac = step - (double)whole;
		next_ns += whole;
		if (i + 1 < o->traces) {
			run_events(s, next_ns);
			deliver(s, next_ns);
			retire_traces(s);
		}
	}
	run_events(s, UINT64_MAX);
	deliver(s, UINT64_MAX);
	retire_traces(s);
	if (!s->failed)
		rc = 0;
out:
	if (s->pcap != NULL) {
		gen_pcap_counts(s->pcap, &st->packets, &st->noise, &st->bytes);
		if (gen_pcap_close(s->pcap) != 0 && rc == 0) {
			fprintf(stderr, "altair-gen: writing %s: %s\n", o->out, strerror(errno));
			rc = -1;
		}
	}
	if (s->truth != NULL && fclose(s->truth) != 0 && rc == 0) {
		fprintf(stderr, "altair-gen: writing %s: %s\n", o->truth, strerror(errno));
		rc = -1;
	}
	while (s->tq_head != NULL) {
		struct gen_trace *t = s->tq_head;

		s->tq_head = t->next;
		gen_trace_free(t);
	}
	while (s->out.n > 0) {
		struct gen_ev ev;

		heap_pop(&s->out, &ev);
		frame_free(s, ev.p);
	}
	while (s->free_frames != NULL) {
		struct gen_frame *f = s->free_frames;

		s->free_frames = f->next_free;
		free(f);
	}
	free(s->ev.v);
	free(s->out.v);
	emitters_free(s);
	free(s);
	return rc;
}
