/* SPDX-License-Identifier: BSD-3-Clause
 * The appliance at run time: ports, worker lcores (RX -> classify ->
 * reassemble -> pipeline, run to completion), and the control lcore (sinks,
 * epoch merging, telemetry, idle/signal shutdown, final accounting).
 *
 * Ownership: every struct worker field is written by its worker lcore only,
 * except `stop` (written by control) and `held` (control only). Counters
 * read by the control lcore and telemetry are added to with ctr_add (a
 * relaxed load and store, dp_private.h); docs/design.md lists every
 * variable shared between lcores with its ordering.
 */
#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ether.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "alt_dp.h"
#include "dp_private.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

struct alt_dp_app g_app;

RTE_LOG_REGISTER(alt_dp_logtype, altair, INFO);

/* Worker loop timing and sizes. */
#define STEER_POLL_BURST 32             /* steering frames taken per dequeue */
#define OUT_FLUSH_MS 1                  /* a partly filled output block leaves within this */
#define HOUSEKEEPING_NS 10000000ULL     /* reassembly timeouts and idle advance, every 10 ms */
#define IDLE_SPINS_PER_YIELD 64         /* idle polls between two sched_yield */
/* Longest wait for a free epoch statistics object. A watermark that jumps
 * (the warm-up ends, a slow sender is let go) ends several epochs at once;
 * waiting for the control lcore to merge them beats losing their statistics
 * (counted epochs_lost when it does not come). */
#define STATS_WAIT_MS 100
/* Port setup. */
#define TX_DESC 256                     /* the one TX queue ethdev wants; never used */
/* Worker memory. */
#define REASM_MAX_FRAGS 128             /* fragments per datagram (65,535 bytes at MTU 576) */
#define LINE_BYTES_PER_SPAN 320         /* a --dag-detail full span takes ~300 bytes */
#define AFFINE_PORT_BASE 0xC000u        /* TRACE_AFFINE source ports: base | fold16 (alt_base.h) */

/* ---- allocation on the worker's NUMA socket ---- */

static void *
sock_alloc(void *ctx, size_t size, const char *what)
{
	struct dp_alloc *al = ctx;
	void *p = rte_malloc_socket(what, size, RTE_CACHE_LINE_SIZE, al->socket);

	if (p == NULL) {
		al->failed = size;
		al->failed_what = what;
	} else {
		al->bytes += size;
	}
	return p;
}

static void
sock_free(void *ctx, void *p)
{
	(void)ctx;
	rte_free(p);
}

/* ---- worker hooks (run on the worker lcore) ---- */

static struct out_block *
block_get(struct worker *w, enum out_sink sink)
{
	void *b = NULL;

	if (rte_ring_sc_dequeue(w->free_blocks, &b) != 0)
		return NULL;
	((struct out_block *)b)->len = 0;
	((struct out_block *)b)->lines = 0;
	((struct out_block *)b)->cont = 0;
	((struct out_block *)b)->sink = sink;
	return b;
}

static void
block_flush(struct worker *w, enum out_sink sink)
{
	struct out_block *b = w->cur_block[sink];

	if (b == NULL || b->len == 0)
		return;
	/* The out ring holds every block there is, so this cannot fail. */
	if (rte_ring_sp_enqueue(w->out_ring, b) != 0) {
		ctr_add(sink == SINK_DAGS ? &w->ctr.lines_dropped : &w->ctr.flagged_dropped, b->lines);
		b->len = 0;
		b->lines = 0;
		return;
	}
	w->cur_block[sink] = NULL;
	w->last_flush_tsc = rte_get_tsc_cycles();
}

static void
blocks_flush(struct worker *w)
{
	for (unsigned s = 0; s < SINK_COUNT; s++)
		block_flush(w, (enum out_sink)s);
}

/* Append one complete line to the output blocks. A line longer than a
 * block spans consecutive blocks (they are written in order); it is only
 * started when enough blocks are free, so no partial line is ever written. */
static void
emit_line(struct worker *w, enum out_sink sink, const char *line, size_t len)
{
	struct out_block *b = w->cur_block[sink];
	size_t room = b != NULL ? OUT_BLOCK_BYTES - b->len : 0;

	if (len > room) {
		size_t need = (len - room + OUT_BLOCK_BYTES - 1) / OUT_BLOCK_BYTES;
		if (rte_ring_count(w->free_blocks) < need) {
			ctr_add(sink == SINK_DAGS ? &w->ctr.lines_dropped : &w->ctr.flagged_dropped, 1);
			return;
		}
	}
	ctr_add(sink == SINK_DAGS ? &w->ctr.lines : &w->ctr.flagged_lines, 1);
	while (len > 0) {
		if (b == NULL || b->len == OUT_BLOCK_BYTES) {
			if (b != NULL)
				b->cont = 1;
			block_flush(w, sink);
			b = w->cur_block[sink] = block_get(w, sink);
			if (b == NULL)
				return; /* cannot happen: counted above */
			b->lines = 0;
		}
		size_t n = OUT_BLOCK_BYTES - b->len;
		if (n > len)
			n = len;
		memcpy(b->data + b->len, line, n);
		b->len += (uint32_t)n;
		line += n;
		len -= n;
	}
	b->lines++;
}

/* A flagged trace, in full detail, to --flagged. */
static void
emit_flagged(struct worker *w, const struct alt_trace_view *v)
{
	size_t len = alt_pipe_format_trace(v, true, w->line, w->line_cap);

	if (len >= w->line_cap) {
		ctr_add(&w->ctr.detail_truncated, 1);
		len = alt_pipe_format_trace(v, false, w->line, w->line_cap);
	}
	if (len >= w->line_cap) {
		ctr_add(&w->ctr.flagged_dropped, 1);
		return;
	}
	emit_line(w, SINK_FLAGGED, w->line, len);
}

/* Online learning: what a whole closed trace shows goes into the epoch's
 * observations, which travel to the control lcore with its statistics. */
static void
observe(struct worker *w, const struct alt_trace_view *v)
{
	const uint32_t damaged = ALT_PIPE_TF(INCOMPLETE) | ALT_PIPE_TF(TRUNCATED) | ALT_PIPE_TF(LATE_FRAGMENT) |
				 ALT_PIPE_TF(CYCLE) | ALT_PIPE_TF(DUPLICATE_ID);
	struct epoch_obj *o = w->cur_epoch_obj;

	if (v->dag == NULL || (v->flags & damaged) || o == NULL || o->obs == NULL)
		return;
	alt_tmpl_obs_trace(o->obs, w->tws, v->dag, v->intern, v->shape);
	ctr_add(&w->ctr.learn_observed, 1);
}

static void
hook_trace_closed(void *ctx, const struct alt_trace_view *v)
{
	struct worker *w = ctx;
	const struct alt_dp_conf *c = g_app.conf;
	bool full = c->detail == ALT_DP_DETAIL_FULL;
	size_t len;

	/* relaxed: a mode switch; the observations travel with the epoch
	 * objects, whose rings order them */
	if (alt_unlikely(__atomic_load_n(&g_app.tmpl.learning, __ATOMIC_RELAXED)))
		observe(w, v);
	if (alt_unlikely(v->flags & ALT_PIPE_TF_ANOMALY) && g_app.want_flagged)
		emit_flagged(w, v);
	if (!g_app.want_dags)
		return;
	len = alt_pipe_format_trace(v, full, w->line, w->line_cap);
	if (len >= w->line_cap && full) {
		ctr_add(&w->ctr.detail_truncated, 1);
		len = alt_pipe_format_trace(v, false, w->line, w->line_cap);
	}
	if (len >= w->line_cap) {
		ctr_add(&w->ctr.lines_dropped, 1);
		return;
	}
	emit_line(w, SINK_DAGS, w->line, len);
}

static struct alt_stats *
hook_stats_get(void *ctx)
{
	struct worker *w = ctx;
	void *o = NULL;

	/* All statistics objects are with the control lcore (a fast replay
	 * ends epochs faster than it merges them): wait for one, bounded. */
	for (uint64_t deadline = 0; rte_ring_sc_dequeue(w->free_epochs, &o) != 0;) {
		if (deadline == 0) {
			ctr_add(&w->ctr.epoch_waits, 1);
			deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() / 1000 * STATS_WAIT_MS;
		} else if (rte_get_tsc_cycles() > deadline) {
			w->cur_epoch_obj = NULL;
			return NULL;
		}
		sched_yield();  /* the control lcore may share this CPU */
	}
	w->cur_epoch_obj = o;
	return w->cur_epoch_obj->st;
}

static void
hook_epoch_done(void *ctx, uint64_t epoch, struct alt_stats *st)
{
	struct worker *w = ctx;
	struct epoch_obj *o = w->cur_epoch_obj;

	if (o == NULL || o->st != st)
		return;
	o->epoch = epoch;
	o->wall_ns = alt_dp_mono_ns();     /* the watermark passed the epoch's end now */
	o->worker = w->id;
	w->cur_epoch_obj = NULL;
	/* The epoch ring holds every object there is: cannot fail. */
	if (rte_ring_sp_enqueue(w->epoch_ring, o) != 0)
		ctr_add(&w->ctr.epochs_dropped, 1);
	/* release: the partial enqueued above is in the ring before a control
	 * lcore that loads progress > epoch (acquire, poll_workers) drains it */
	__atomic_store_n(&w->epoch_progress, epoch + 1, __ATOMIC_RELEASE);
}

/* Enqueue one staged steering frame to its owner. A full ring is retried
 * for a bounded time (--steer-wait-ms) while this worker keeps draining its own inbound
 * rings (so two workers waiting on each other both make progress); then
 * the records are counted dropped. Returns the records that went. */
static unsigned poll_steered(struct worker *w);

/* --steer-wait-ms in TSC cycles. */
static inline uint64_t
steer_wait_cycles(void)
{
	return rte_get_tsc_hz() / 1000 * g_app.conf->steer_wait_ms;
}

static unsigned
steer_send(struct worker *w, unsigned owner)
{
	struct steer_buf *b = w->steer_stage[owner];
	struct rte_ring *ring = g_app.workers[owner].steer_in[w->id];
	unsigned n;

	if (b == NULL)
		return 0;
	w->steer_stage[owner] = NULL;
	n = alt_pipe_steer_count(b->data, b->len);
	if (n == 0) {
		rte_ring_mp_enqueue(w->steer_free, b);
		return 0;
	}
	for (uint64_t deadline = 0; rte_ring_sp_enqueue(ring, b) != 0;) {
		if (deadline == 0) {
			ctr_add(&w->ctr.steer_waits, 1);
			deadline = rte_get_tsc_cycles() + steer_wait_cycles();
		} else if (rte_get_tsc_cycles() > deadline) {
			rte_ring_mp_enqueue(w->steer_free, b);
			ctr_add(&w->ctr.steer_ring_full, 1);
			ctr_add(&w->ctr.steer_dropped, n);
			return 0;
		}
		poll_steered(w);
		sched_yield();  /* a control lcore sharing this CPU runs meanwhile */
	}
	ctr_add(&w->ctr.steer_out_frames, 1);
	return n;
}

/* Flush every staged steering frame (end of a burst, drain). */
static void
steer_flush(struct worker *w)
{
	for (unsigned o = 0; o < g_app.nworkers; o++)
		if (w->steer_stage[o] != NULL)
			steer_send(w, o);
}

/* The pipe's steer hook: write records straight into the frame staged for
 * their owner (one frame per owner per burst, up to 1024 records), sending
 * it when full. Written now, so the borrowed records and strings may go. */
static unsigned
hook_steer(void *ctx, unsigned owner, const struct alt_record *const *recs, unsigned n)
{
	struct worker *w = ctx;
	unsigned done = 0;

	while (done < n) {
		struct steer_buf *b = w->steer_stage[owner];
		size_t len;
		unsigned k;

		if (b == NULL) {
			void *obj = NULL;
			/* All buffers in flight: the owner is behind. Wait a bounded
			 * time (draining our own inbound rings), then count a drop. */
			for (uint64_t deadline = 0; rte_ring_sc_dequeue(w->steer_free, &obj) != 0;) {
				if (deadline == 0) {
					ctr_add(&w->ctr.steer_waits, 1);
					deadline = rte_get_tsc_cycles() + steer_wait_cycles();
				} else if (rte_get_tsc_cycles() > deadline) {
					break;
				}
				poll_steered(w);
				sched_yield();
			}
			if (obj == NULL) {
				ctr_add(&w->ctr.steer_no_buf, 1);
				break;
			}
			b = w->steer_stage[owner] = obj;
			b->len = 0;
			b->src = (uint16_t)w->id;
		}
		len = b->len;
		k = alt_pipe_steer_add(b->data, STEER_BUF_BYTES, &len, w->id, recs + done, n - done);
		b->len = (uint32_t)len;
		done += k;
		if (k == 0 && alt_pipe_steer_count(b->data, b->len) == 0)
			break;  /* not even into an empty frame: cannot happen */
		if (done < n)
			steer_send(w, owner);   /* full: send it, go on in a new one */
	}
	return done;
}

/* Feed what other workers steered here; buffers go back to their owners. */
static unsigned
poll_steered(struct worker *w)
{
	unsigned total = 0;

	for (unsigned s = 0; s < g_app.nworkers; s++) {
		struct rte_ring *r = w->steer_in[s];
		void *objs[STEER_POLL_BURST];
		unsigned n, left;
		uint64_t prog;

		if (r == NULL)
			continue;
		/* Peer progress protocol: the sender enqueues its frames, then
		 * stores its progress (release). Loading the progress first
		 * (acquire, pairs with that store) makes every frame enqueued
		 * before it visible in the count below; once those frames are
		 * fed, nothing below prog can still come from that worker. */
		prog = __atomic_load_n(&g_app.workers[s].progress, __ATOMIC_ACQUIRE);
		left = rte_ring_count(r);
		while (left > 0) {
			n = rte_ring_sc_dequeue_burst(r, objs, RTE_MIN(left, (unsigned)STEER_POLL_BURST), NULL);
			if (n == 0)
				break;
			for (unsigned i = 0; i < n; i++) {
				struct steer_buf *b = objs[i];
				alt_pipe_feed_steered(w->pipe, b->data, b->len);
				rte_ring_mp_enqueue(g_app.workers[b->src].steer_free, b);
			}
			ctr_add(&w->ctr.steer_in_frames, n);
			total += n;
			left -= n;
		}
		if (left == 0)
			alt_pipe_peer_progress(w->pipe, s, prog);
	}
	return total;
}

/* ---- worker loop ---- */

static void
handle_payload(struct worker *w, const struct alt_net_pkt *pkt, bool dgram)
{
	struct alt_pipe_origin o = { alt_net_flow_key(pkt), w->arr_ns };
	enum alt_wire_reason r = alt_pipe_input_from(w->pipe, (enum alt_wire_format)pkt->format, pkt->payload,
						     pkt->payload_len, &o);
	if (dgram)
		ctr_add(&w->dgram_wire[r], 1);
	else
		ctr_add(&w->pkt_wire[r], 1);
}

static void
handle_fragment(struct worker *w, struct alt_net_pkt *pkt, uint64_t now)
{
	const uint8_t *dg;
	size_t dlen;
	enum alt_net_reasm_outcome ro = alt_net_reasm_add(w->reasm, pkt, now, &dg, &dlen);

	if (ro != ALT_NET_REASM_COMPLETE)
		return;
	enum alt_net_outcome o = alt_net_classify_l4(&w->netcfg, dg, dlen, pkt);
	ctr_add(&w->dgram_net[o], 1);
	if (o == ALT_NET_TRACING)
		handle_payload(w, pkt, true);
	else if (o == ALT_NET_FRAGMENT)
		ctr_add(&w->ctr.dgram_nested_frag, 1);
}

static void
handle_frame(struct worker *w, const uint8_t *data, size_t len, uint64_t now)
{
	struct alt_net_pkt pkt;
	enum alt_net_outcome o = alt_net_classify(&w->netcfg, data, len, &pkt);

	alt_net_count(&w->net, &pkt, o);
	if (alt_likely(o == ALT_NET_TRACING))
		handle_payload(w, &pkt, false);
	else if (o == ALT_NET_FRAGMENT)
		handle_fragment(w, &pkt, now);
}

/* Under replay the pipeline moves on at least every millisecond of capture time. */
#define REPLAY_ADVANCE_NS 1000000ULL

static void
process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n, struct dp_replay *replay)
{
	uint64_t now = w->now_ns;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *data;
		size_t len = rte_pktmbuf_pkt_len(m);

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		ctr_add(&w->ctr.rx_bytes, len);
		if (replay != NULL) {
			/* a pcap replay: this frame's capture timestamp */
			uint64_t ts = alt_dp_replay_next(replay, (uint32_t)len);
			if (ts > w->arr_ts_max)
				w->arr_ts_max = ts;
			w->arr_ts_wall = w->now_ns;
			if (ts > w->arr_ns)
				w->arr_ns = ts;
			/* A slow capture replayed fast puts seconds of traffic in
			 * one burst: move the pipeline on whenever capture time
			 * moved on by a millisecond, as it would have live. */
			if (alt_unlikely(w->arr_ns - w->arr_advanced > REPLAY_ADVANCE_NS)) {
				alt_pipe_clock(w->pipe, w->arr_ns);
				alt_pipe_advance(w->pipe);
				w->arr_advanced = w->arr_ns;
			}
		}
		if (alt_likely(m->nb_segs == 1)) {
			data = rte_pktmbuf_mtod(m, const uint8_t *);
		} else {
			if (len > sizeof(w->linear))
				len = sizeof(w->linear);
			data = rte_pktmbuf_read(m, 0, (uint32_t)len, w->linear);
			ctr_add(&w->ctr.multiseg, 1);
		}
		handle_frame(w, data, len, now);
		rte_pktmbuf_free(m);
	}
	ctr_add(&w->ctr.rx_pkts, n);
}

/* The arrival clock: under replay the newest capture timestamp of this
 * worker's own queues (so a replay judges idleness as the live run would;
 * queues replay at their own speeds, so another worker's clock says
 * nothing about what this one has still to read), quiet past
 * --idle-advance-ms (wall) following the wall clock from there; live, the
 * real-time clock. */
static void
arrival_clock(struct worker *w, uint64_t rt_ns)
{
	const uint64_t follow = g_app.conf->idle_advance_ms * 1000000ULL;
	uint64_t a = w->arr_ns;

	if (!w->has_ts) {
		if (rt_ns > a)
			a = rt_ns;      /* live: the real-time clock */
	} else if (w->arr_ts_wall != 0 && follow != 0 && w->now_ns - w->arr_ts_wall > follow) {
		uint64_t f = w->arr_ts_max + (w->now_ns - w->arr_ts_wall);
		if (f > a)
			a = f;
	}
	w->arr_ns = a;
	/* relaxed: a clock reading for the other workers' pacing */
	__atomic_store_n(&w->arr_pub, a, __ATOMIC_RELAXED);
	alt_pipe_clock(w->pipe, a);
}

/* Replays keep the queues in step. Live, every queue receives in real
 * time; replayed, each pcap is read as fast as its worker can, and a worker
 * far ahead in capture time would only pile up what it must hold until
 * its peers' progress catches up (memory, then pressure). So a replaying
 * worker more than REPLAY_LEAD_NS of capture time ahead of another replaying
 * worker reads nothing this loop (it still feeds what is steered to it and
 * moves its pipeline on). A peer whose queues gave nothing on
 * REPLAY_DRY_POLLS polls in a row (its capture ended) holds nobody back. */
#define REPLAY_DRY_POLLS 256
#define REPLAY_LEAD_NS 50000000ULL

static bool
replay_ahead(const struct worker *w)
{
	if (!w->has_ts || g_app.nworkers < 2 || w->arr_ns == 0)
		return false;
	for (unsigned i = 0; i < g_app.nworkers; i++) {
		const struct worker *o = &g_app.workers[i];
		/* relaxed: a clock reading; a stale one only delays a read */
		uint64_t t = __atomic_load_n(&o->arr_pub, __ATOMIC_RELAXED);

		/* a peer whose capture ran dry holds nobody back */
		if (o != w && o->nq > 0 && t != 0 && w->arr_ns > t + REPLAY_LEAD_NS &&
		    !__atomic_load_n(&o->rx_dry, __ATOMIC_RELAXED))
			return true;
	}
	return false;
}

/* The time model for telemetry: whole 64-bit values, relaxed stores
 * (readers want a recent value of each, not a consistent set). */
static void
tm_publish(struct worker *w)
{
	struct alt_sources_stats ss;

	alt_sources_get_stats(alt_pipe_sources(w->pipe), &ss);
	__atomic_store_n(&w->tm.known, ss.known, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.active, ss.active, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.went_idle, ss.went_idle, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.returned, ss.returned, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.returned_behind, ss.returned_behind, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.evicted, ss.evicted, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.released, ss.released + ss.warmup_released, __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.watermark, alt_pipe_watermark(w->pipe), __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.progress, __atomic_load_n(&w->progress, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	__atomic_store_n(&w->tm.arrival, w->arr_ns, __ATOMIC_RELAXED);
}

static int
worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[ALT_DP_MAX_BURST];
	const uint16_t burst = g_app.conf->burst;
	const uint64_t hz = rte_get_tsc_hz();
	const uint64_t flush_tsc = hz / 1000 * OUT_FLUSH_MS;
	uint64_t last_expire = 0;

	/* Wall time from the TSC: no system call in the poll loop. */
	const uint64_t base_ns = alt_dp_mono_ns(), base_tsc = rte_get_tsc_cycles();
	const double ns_per_tsc = 1e9 / (double)hz;
	struct timespec rts;
	clock_gettime(CLOCK_REALTIME, &rts);
	const uint64_t rt_off = (uint64_t)rts.tv_sec * 1000000000ULL + (uint64_t)rts.tv_nsec - base_ns;

	w->last_flush_tsc = base_tsc;
	rte_rcu_qsbr_thread_register(g_app.tmpl.qsv, w->id);
	rte_rcu_qsbr_thread_online(g_app.tmpl.qsv, w->id);
	/* acquire: pairs with the control lcore's release store of stop (it
	 * publishes nothing else; acquire keeps the drain after the load) */
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t0 = rte_get_tsc_cycles();
		uint32_t got = 0;

		/* The templates for this iteration (one generation for every
		 * trace it closes). acquire: pairs with the release store that
		 * published the model, so its filters are visible; it stays
		 * allocated until this worker reports quiescence below. */
		alt_pipe_set_templates(w->pipe, __atomic_load_n(&g_app.tmpl.cur, __ATOMIC_ACQUIRE));
		w->now_ns = base_ns + (uint64_t)((double)(t0 - base_tsc) * ns_per_tsc);
		arrival_clock(w, w->now_ns + rt_off);
		bool paced = replay_ahead(w);
		for (unsigned q = 0; q < w->nq && !paced; q++) {
			uint16_t n = rte_eth_rx_burst(w->q[q].port, w->q[q].queue, pkts, burst);
			if (n > 0) {
				process_burst(w, pkts, n, w->q[q].replay);
				got += n;
			}
		}
		if (!paced && w->has_ts) {
			/* relaxed: a hint for the other workers' pacing */
			w->dry_polls = got > 0 ? 0 : w->dry_polls + 1;
			__atomic_store_n(&w->rx_dry, w->dry_polls >= REPLAY_DRY_POLLS, __ATOMIC_RELAXED);
		}
		if (g_app.nworkers > 1) {
			steer_flush(w);
			/* after the frames: what is sent later is not older (see
			 * poll_steered for the reader's side) */
			__atomic_store_n(&w->progress, alt_pipe_progress(w->pipe), __ATOMIC_RELEASE);
			got += poll_steered(w);
		}
		if (got > 0) {
			alt_pipe_advance(w->pipe);
			ctr_add(&w->ctr.busy_tsc, rte_get_tsc_cycles() - t0);
		}
		if (w->now_ns - last_expire > HOUSEKEEPING_NS) {
			tm_publish(w);
			/* quiet input: sources still go idle and traces still close */
			alt_net_reasm_expire(w->reasm, w->now_ns);
			if (got == 0)
				alt_pipe_advance(w->pipe);
			last_expire = w->now_ns;
		}
		if ((w->cur_block[SINK_DAGS] != NULL || w->cur_block[SINK_FLAGGED] != NULL) &&
		    rte_get_tsc_cycles() - w->last_flush_tsc > flush_tsc)
			blocks_flush(w);
		/* relaxed: a progress count for the --once idle check, it
		 * publishes no other data */
		__atomic_store_n(&w->rx_seen, w->ctr.rx_pkts, __ATOMIC_RELAXED);
		/* Nothing read from a model is held past this point: the control
		 * lcore may free one this worker no longer sees. */
		rte_rcu_qsbr_quiescent(g_app.tmpl.qsv, w->id);
		if (got == 0) {
			/* relaxed: a count for the --once idle check (the ports
			 * are polled and deliver nothing; a worker held back by
			 * replay pacing polled none, which is not the input
			 * ending) */
			if (!paced)
				__atomic_store_n(&w->empty_polls, ++w->n_empty_polls, __ATOMIC_RELAXED);
			/* Idle: let a control lcore that shares this CPU run. */
			if (++w->idle_loops >= IDLE_SPINS_PER_YIELD) {
				w->idle_loops = 0;
				sched_yield();
			} else {
				rte_pause();
			}
		}
	}
	/* Drain: fragments still pending time out now; then, once no worker
	 * can steer anything more here, every open trace goes through the
	 * whole chain. */
	uint64_t t0 = rte_get_tsc_cycles();
	/* A fresh read of the templates, held until this worker goes offline
	 * after the drain (it reported quiescence since the last load). */
	alt_pipe_set_templates(w->pipe, __atomic_load_n(&g_app.tmpl.cur, __ATOMIC_ACQUIRE));
	alt_net_reasm_flush(w->reasm);
	steer_flush(w);
	/* nothing more will be steered from here (release: pairs with the
	 * acquire in poll_steered) */
	__atomic_store_n(&w->progress, ALT_SOURCES_NONE, __ATOMIC_RELEASE);
	/* release: every steering frame enqueued above is visible to a worker
	 * that reads rx_stopped == 1 with acquire (below) */
	__atomic_store_n(&w->rx_stopped, 1, __ATOMIC_RELEASE);
	if (g_app.nworkers > 1) {
		for (;;) {
			unsigned stopped = 0;
			for (unsigned i = 0; i < g_app.nworkers; i++)
				/* acquire: pairs with the release above, so every frame
				 * that worker enqueued is visible to the polls below */
				stopped += __atomic_load_n(&g_app.workers[i].rx_stopped, __ATOMIC_ACQUIRE);
			if (stopped == g_app.nworkers)
				break;
			poll_steered(w);
			rte_pause();
		}
		while (poll_steered(w) > 0)
			;
		alt_pipe_advance(w->pipe);
	}
	alt_pipe_drain(w->pipe);
	alt_pipe_set_templates(w->pipe, NULL);
	rte_rcu_qsbr_thread_offline(g_app.tmpl.qsv, w->id);
	rte_rcu_qsbr_thread_unregister(g_app.tmpl.qsv, w->id);
	blocks_flush(w);
	ctr_add(&w->ctr.busy_tsc, rte_get_tsc_cycles() - t0);
	/* release: pairs with the control lcore's acquire load of done; the
	 * last blocks, epochs and every counter are written before it */
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- setup ---- */

/* RETA entry i -> queue i % nq, on every port alike. */
static int
set_reta(uint16_t port, uint16_t reta_size, uint16_t nq)
{
	struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];
	int rc;

	if (reta_size > RTE_ETH_RSS_RETA_SIZE_512)
		reta_size = RTE_ETH_RSS_RETA_SIZE_512;
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < reta_size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] = i % nq;
	}
	rc = rte_eth_dev_rss_reta_update(port, reta, reta_size);
	if (rc != 0)
		RTE_LOG(ERR, altair, "port %u: RETA update failed: %s\n", port, strerror(-rc));
	return rc;
}

/* ---- packet buffers ----
 *
 * net_af_packet (DPDK 22.11) joins a PACKET_FANOUT group with
 * PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4 fragments
 * before the driver sees them: a Jaeger batch of 65,000 bytes arrives as
 * one frame of 65,042 bytes. The kernel writes each frame into a ring slot
 * of framesz bytes (devargs framesz, default 2048; blocksz, default the
 * page size, holds blocksz / framesz slots), the Ethernet header at offset
 * 66 (TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - 14), and cuts what does not
 * fit. The driver reads slot i at i * framesz from the start of the ring,
 * so blocksz must be a multiple of framesz (else every slot after a
 * block's first is misread and the port goes silent); it copies a slot's
 * data, framesz less its 32-byte tpacket2 header, into one mbuf when the
 * frame is received, and refuses a queue whose mbufs have less data room
 * than that. Its mbufs are freed within the burst, so a small pool of
 * large buffers serves it, whatever framecnt (the kernel's ring) is.
 *
 * framesz = 65280 (255 * 256) holds a 65,172-byte UDP payload over IPv4;
 * 16 slots make a block of 1044480 bytes (255 pages).
 */
#define AFP_SLOT_HDR 32u                /* TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) */
#define AFP_MAC_OFF 66u                 /* Ethernet header offset in a slot */
#define AFP_DEFAULT_FRAMESZ 2048u       /* the driver's default framesz */
#define AFP_BATCH_FRAMESZ 65280u        /* the framesz we recommend */
#define AFP_BATCH_BLOCKSZ 1044480u      /* 16 slots of AFP_BATCH_FRAMESZ */
/* The largest framesz whose data fits an mbuf: data room is a uint16_t
 * (65535), less the headroom, plus the slot header, down to the 16-byte
 * TPACKET_ALIGNMENT. */
#define AFP_MAX_FRAMESZ ((UINT16_MAX - RTE_PKTMBUF_HEADROOM + AFP_SLOT_HDR) & ~15u)
/* The smallest slot that holds a 65,000-byte UDP payload over IPv4 in
 * Ethernet with one VLAN tag: 66 + 18 + 20 + 8 + 65000, aligned to 16. */
#define AFP_FULL_BATCH_FRAMESZ 65120u
#define AFP_POOL_MIN 256u               /* fewest buffers in the copy pool */
#define COPY_POOL_CACHE 32u
#define POOL_CACHE 256u

static bool
is_af_packet(const struct rte_eth_dev_info *info)
{
	return strcmp(info->driver_name, "net_af_packet") == 0;
}

/* A numeric net_af_packet device argument ("iface=eth1,framesz=65280,..."),
 * or def when it is not given. */
static uint32_t
afp_arg(const struct rte_eth_dev_info *info, const char *key, uint32_t def)
{
	const struct rte_devargs *da = info->device != NULL ? rte_dev_devargs(info->device) : NULL;
	const char *s = da != NULL ? da->args : NULL;
	size_t klen = strlen(key);

	while (s != NULL && *s != '\0') {
		if (strncmp(s, key, klen) == 0 && s[klen] == '=')
			return (uint32_t)strtoul(s + klen + 1, NULL, 0);
		s = strchr(s, ',');
		if (s != NULL)
			s++;
	}
	return def;
}

/* Create the packet pools the ports need: `mbufs` buffers of mbuf-size
 * (default RTE_MBUF_DEFAULT_BUF_SIZE) for ports whose RX descriptors hold
 * mbufs; for net_af_packet ports, a pool of buffers as large as their
 * framesz needs (or mbuf-size), 2 bursts per queue plus the lcore caches.
 * Returns 0 or -1 after saying which port or pool failed. */
static int
pools_create(struct alt_dp_app *a, uint16_t nq)
{
	const struct alt_dp_conf *c = a->conf;
	uint32_t room = c->mbuf_size ? c->mbuf_size : RTE_MBUF_DEFAULT_BUF_SIZE;
	uint32_t copy_room = 0, copy_queues = 0;
	bool any_ring = false;
	uint16_t port;

	RTE_ETH_FOREACH_DEV(port) {
		struct rte_eth_dev_info info;

		if (port >= a->nports)
			break;
		if (rte_eth_dev_info_get(port, &info) != 0 || !is_af_packet(&info)) {
			any_ring = true;
			continue;
		}
		uint32_t fsz = afp_arg(&info, "framesz", AFP_DEFAULT_FRAMESZ);
		uint32_t bsz = afp_arg(&info, "blocksz", (uint32_t)getpagesize());
		uint32_t need = fsz - AFP_SLOT_HDR + RTE_PKTMBUF_HEADROOM;

		if (fsz > AFP_MAX_FRAMESZ) {
			RTE_LOG(ERR, altair, "port %u (net_af_packet): framesz=%u needs %u-byte mbufs, "
				"but an mbuf holds at most %u: use blocksz=%u,framesz=%u\n",
				port, fsz, need, UINT16_MAX, AFP_BATCH_BLOCKSZ, AFP_BATCH_FRAMESZ);
			return -1;
		}
		if (fsz == 0 || bsz % fsz != 0) {
			RTE_LOG(ERR, altair, "port %u (net_af_packet): blocksz=%u is not a multiple of framesz=%u: "
				"the driver would misread every frame after a block's first; "
				"use blocksz=%u,framesz=%u\n",
				port, bsz, fsz, AFP_BATCH_BLOCKSZ, AFP_BATCH_FRAMESZ);
			return -1;
		}
		if (c->mbuf_size != 0 && c->mbuf_size < need) {
			RTE_LOG(ERR, altair, "port %u (net_af_packet): framesz=%u needs mbuf-size %u or more "
				"(--mbuf-size %u); leave mbuf-size at 0 to size it by framesz\n",
				port, fsz, need, c->mbuf_size);
			return -1;
		}
		if (fsz < AFP_FULL_BATCH_FRAMESZ)
			RTE_LOG(WARNING, altair, "port %u (net_af_packet): framesz=%u: the kernel reassembles IP "
				"fragments for this driver, and a datagram over %u bytes is cut short "
				"(malformed_truncated_l3); Jaeger batches reach 65,000 bytes: "
				"add blocksz=%u,framesz=%u to the --vdev\n",
				port, fsz, fsz - AFP_MAC_OFF - RTE_ETHER_HDR_LEN, AFP_BATCH_BLOCKSZ, AFP_BATCH_FRAMESZ);
		a->port_framesz[port] = fsz;
		copy_room = RTE_MAX(copy_room, c->mbuf_size ? c->mbuf_size : RTE_MAX(need, room));
		copy_queues += nq;
	}
	if (any_ring) {
		a->pool_plan[0].n = c->mbufs;
		a->pool_plan[0].room = room;
	}
	if (copy_queues != 0) {
		a->pool_plan[1].n = RTE_MAX(AFP_POOL_MIN, 2u * c->burst * copy_queues +
						  2u * COPY_POOL_CACHE * a->nworkers);
		a->pool_plan[1].room = copy_room;
	}
	if (any_ring) {
		a->pool = rte_pktmbuf_pool_create("alt_mbufs", c->mbufs, POOL_CACHE, 0, (uint16_t)room,
						  (int)rte_socket_id());
		if (a->pool == NULL) {
			RTE_LOG(ERR, altair, "cannot create the mbuf pool (%u mbufs of %u bytes): %s\n",
				c->mbufs, room, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	if (copy_queues != 0) {
		uint32_t n = a->pool_plan[1].n;

		a->copy_pool = rte_pktmbuf_pool_create("alt_mbufs_copy", n, COPY_POOL_CACHE, 0, (uint16_t)copy_room,
						       (int)rte_socket_id());
		if (a->copy_pool == NULL) {
			RTE_LOG(ERR, altair, "cannot create the net_af_packet mbuf pool (%u mbufs of %u bytes): %s\n",
				n, copy_room, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	return 0;
}

static int
port_setup(uint16_t port, uint16_t nq)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nb_rxd = g_app.conf->rx_desc, nb_txd = TX_DESC;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		RTE_LOG(ERR, altair, "port %u: cannot get device info: %s\n", port, strerror(-rc));
		return -1;
	}
	enum alt_dp_rss mode = g_app.conf->rss;

	if (nq > info.max_rx_queues)
		nq = info.max_rx_queues;
	if (mode == ALT_DP_RSS_L4_SRC) {
		const uint64_t want = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
				      RTE_ETH_RSS_L4_SRC_ONLY;
		if ((info.flow_type_rss_offloads & want) != want || info.reta_size == 0) {
			RTE_LOG(ERR, altair, "port %u (%s): no RSS on the UDP source port only; "
				"use rss = ip-udp (software steering keeps traces whole)\n",
				port, info.driver_name);
			return -1;
		}
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = (uint8_t *)(uintptr_t)alt_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(alt_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf = want;
		g_app.port_rss[port] = ALT_DP_RSS_L4_SRC;
		g_app.port_reta[port] = info.reta_size;
	} else if (nq > 1 && mode != ALT_DP_RSS_OFF && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		g_app.port_rss[port] = ALT_DP_RSS_IP_UDP;
	}
	struct rte_mempool *mp = g_app.port_framesz[port] != 0 ? g_app.copy_pool : g_app.pool;

	/* Without RSS, several queues are filled however the driver chooses
	 * (memif: the peer; af_packet: kernel fanout); steering by trace ID
	 * keeps each trace on its owner either way. */
	rc = rte_eth_dev_configure(port, nq, 1, &conf);
	if (rc != 0) {
		RTE_LOG(ERR, altair, "port %u: configure failed: %s\n", port, strerror(-rc));
		return -1;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, rte_eth_dev_socket_id(port), NULL, mp);
		if (rc != 0) {
			RTE_LOG(ERR, altair, "port %u: RX queue %u setup failed: %s\n", port, q, strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_tx_queue_setup(port, 0, nb_txd, rte_eth_dev_socket_id(port), NULL);
	if (rc != 0) {
		RTE_LOG(ERR, altair, "port %u: TX queue setup failed: %s\n", port, strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		RTE_LOG(ERR, altair, "port %u: start failed: %s\n", port, strerror(-rc));
		return -1;
	}
	g_app.port_started[port] = 1;
	if (g_app.conf->promisc)
		rte_eth_promiscuous_enable(port);
	g_app.port_nq[port] = nq;
	if (g_app.port_rss[port] == ALT_DP_RSS_L4_SRC && set_reta(port, info.reta_size, nq) != 0)
		return -1;
	return 0;
}

static struct rte_ring *
ring_new(const char *kind, unsigned id, unsigned count, unsigned flags, int socket)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "alt_%s_%u", kind, id);
	return rte_ring_create(name, rte_align32pow2(count + 1), socket, flags);
}

/* The reassembler of each worker. */
static void
reasm_params(const struct alt_dp_conf *c, struct alt_net_reasm_params *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->max_datagrams = c->reasm_datagrams;
	rp->max_frags = REASM_MAX_FRAGS;
	rp->max_bytes = (uint64_t)c->reasm_mb << 20;
	rp->timeout_ns = (uint64_t)c->reasm_timeout_ms * 1000000ULL;
}

/* A --dags line buffer: a block, and room for every span of the largest
 * trace in full detail. */
static size_t
line_bytes(const struct alt_dp_conf *c)
{
	return OUT_BLOCK_BYTES + (size_t)c->max_nodes_per_trace * LINE_BYTES_PER_SPAN;
}

/* Release a worker's output blocks (those with the control lcore were
 * given back by alt_dp_ctl_finish) and its block rings. */
static void
worker_free_blocks(struct worker *w)
{
	void *b;

	for (unsigned s = 0; s < SINK_COUNT; s++) {
		rte_free(w->cur_block[s]);
		w->cur_block[s] = NULL;
	}
	while (w->out_ring != NULL && rte_ring_sc_dequeue(w->out_ring, &b) == 0)
		rte_free(b);
	while (w->free_blocks != NULL && rte_ring_sc_dequeue(w->free_blocks, &b) == 0)
		rte_free(b);
}

static void
epoch_obj_free(struct worker *w, struct epoch_obj *o)
{
	alt_pipe_stats_put(w->pipe, o->st);
	rte_free(o);
}

/* Release a worker's epoch statistics objects: the one it fills, those
 * on their way, the spares. */
static void
worker_free_epochs(struct worker *w)
{
	void *o;

	if (w->cur_epoch_obj != NULL)
		epoch_obj_free(w, w->cur_epoch_obj);
	w->cur_epoch_obj = NULL;
	while (w->epoch_ring != NULL && rte_ring_sc_dequeue(w->epoch_ring, &o) == 0)
		epoch_obj_free(w, o);
	while (w->free_epochs != NULL && rte_ring_sc_dequeue(w->free_epochs, &o) == 0)
		epoch_obj_free(w, o);
}

/* Release a worker's steering rings and buffers: its inbound rings (the
 * buffers in them belong to their senders, and go back to them first), the
 * frames it was filling, its free ring with every buffer it owns. */
static void
worker_free_steering(struct worker *w)
{
	void *b;

	for (unsigned s = 0; s < ALT_DP_MAX_WORKERS; s++) {
		while (w->steer_in[s] != NULL && rte_ring_sc_dequeue(w->steer_in[s], &b) == 0) {
			struct rte_ring *home = g_app.workers[((struct steer_buf *)b)->src].steer_free;
			if (home != NULL)
				rte_ring_mp_enqueue(home, b);
			else
				rte_free(b);    /* its sender is gone already */
		}
		rte_ring_free(w->steer_in[s]);
		w->steer_in[s] = NULL;
	}
	for (unsigned o = 0; o < ALT_DP_MAX_WORKERS; o++) {
		rte_free(w->steer_stage[o]);
		w->steer_stage[o] = NULL;
	}
	while (w->steer_free != NULL && rte_ring_sc_dequeue(w->steer_free, &b) == 0)
		rte_free(b);
	rte_ring_free(w->steer_free);
	w->steer_free = NULL;
}

static void
worker_free_rings(struct worker *w)
{
	rte_ring_free(w->out_ring);
	rte_ring_free(w->free_blocks);
	rte_ring_free(w->epoch_ring);
	rte_ring_free(w->free_epochs);
	w->out_ring = w->free_blocks = w->epoch_ring = w->free_epochs = NULL;
}

/*
 * Set a worker up on its lcore's socket: pipeline, reassembly, line
 * buffer, rings, output blocks (with --dags), steering (with several
 * workers), epoch statistics objects. Returns 0, or -ENOMEM after saying
 * what could not be allocated; then nothing of the worker is left (the
 * labels release in reverse order what was taken).
 */
static int
worker_setup(struct worker *w, unsigned id, unsigned lcore)
{
	const struct alt_dp_conf *c = g_app.conf;
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct alt_pipe_alloc alloc = { sock_alloc, sock_free, &w->alloc };
	struct alt_pipe_hooks hooks = { w, hook_trace_closed, hook_epoch_done, hook_stats_get, hook_steer };
	struct alt_net_reasm_params rp;
	struct alt_pipe_cfg pc;
	const unsigned nepochs = EPOCH_OBJS_PER_WORKER;
	size_t rsz;

	w->id = id;
	w->lcore = lcore;
	w->socket = socket;
	w->alloc.socket = socket;
	alt_net_cfg_default(&w->netcfg);
	for (unsigned f = 0; f < ALT_FMT_COUNT; f++)
		w->netcfg.port[f] = c->udp_port[f];
	w->netcfg.max_encap = (uint8_t)c->max_encap;

	alt_dp_conf_pipe(c, &pc);
	pc.shard_self = id;
	pc.shard_count = g_app.nworkers;
	pc.owner_table = g_app.owner_table;
	pc.want_critical_path = g_app.want_dags || g_app.want_flagged;      /* only trace lines show it */
	w->pipe = alt_pipe_create(&pc, &alloc, &hooks);
	if (w->pipe == NULL) {
		RTE_LOG(ERR, altair, "worker %u: cannot allocate the pipeline on socket %d: %zu bytes "
			"allocated, then %zu more for its %s failed\n",
			id, socket, w->alloc.bytes, w->alloc.failed, w->alloc.failed_what ? w->alloc.failed_what : "?");
		return -ENOMEM;
	}
	if (g_app.pipe_bytes == 0)
		g_app.pipe_bytes = w->alloc.bytes;
	reasm_params(c, &rp);
	rsz = alt_net_reasm_memsize(&rp);
	w->reasm_mem = rte_malloc_socket("reasm", rsz, RTE_CACHE_LINE_SIZE, socket);
	if (w->reasm_mem == NULL || (w->reasm = alt_net_reasm_init(w->reasm_mem, &rp)) == NULL) {
		RTE_LOG(ERR, altair, "worker %u: cannot allocate reassembly (%zu bytes)\n", id, rsz);
		goto free_reasm;
	}
	w->line_cap = line_bytes(c);
	if (c->learn_epochs > 0 || c->relearn_epochs > 0) {
		size_t tsz = alt_tmpl_ws_memsize(c->max_nodes_per_trace);
		void *tm = rte_malloc_socket("learnws", tsz, RTE_CACHE_LINE_SIZE, socket);

		if (tm == NULL || (w->tws = alt_tmpl_ws_init(tm, c->max_nodes_per_trace)) == NULL) {
			RTE_LOG(ERR, altair, "worker %u: cannot allocate the learning workspace (%zu bytes)\n", id, tsz);
			rte_free(tm);
			goto free_line;
		}
	}
	w->line = rte_malloc_socket("line", w->line_cap, RTE_CACHE_LINE_SIZE, socket);
	if (w->line == NULL) {
		RTE_LOG(ERR, altair, "worker %u: cannot allocate the line buffer (%zu bytes)\n", id, w->line_cap);
		goto free_line;
	}
	w->out_ring = ring_new("out", id, c->out_blocks, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->free_blocks = ring_new("freeb", id, c->out_blocks, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->epoch_ring = ring_new("ep", id, nepochs, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->free_epochs = ring_new("freeep", id, nepochs, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	if (w->out_ring == NULL || w->free_blocks == NULL || w->epoch_ring == NULL || w->free_epochs == NULL) {
		RTE_LOG(ERR, altair, "worker %u: cannot allocate rings: %s\n", id, rte_strerror(rte_errno));
		goto free_rings;
	}
	for (unsigned i = 0; (g_app.want_dags || g_app.want_flagged) && i < c->out_blocks; i++) {
		struct out_block *b = rte_malloc_socket("outblk", sizeof(*b), RTE_CACHE_LINE_SIZE, socket);
		if (b == NULL) {
			RTE_LOG(ERR, altair, "worker %u: cannot allocate output blocks (%u x %zu bytes): "
				"lower [pools] out-blocks\n", id, c->out_blocks, sizeof(*b));
			goto free_blocks;
		}
		rte_ring_sp_enqueue(w->free_blocks, b);
	}
	if (g_app.nworkers > 1) {
		w->steer_free = ring_new("stfree", id, STEER_BUFS, RING_F_SC_DEQ, socket);
		if (w->steer_free == NULL) {
			RTE_LOG(ERR, altair, "worker %u: cannot allocate the steering ring\n", id);
			goto free_steering;
		}
		for (unsigned i = 0; i < STEER_BUFS; i++) {
			struct steer_buf *b = rte_malloc_socket("steer", sizeof(*b), RTE_CACHE_LINE_SIZE, socket);
			if (b == NULL) {
				RTE_LOG(ERR, altair, "worker %u: cannot allocate steering buffers (%u x %zu bytes)\n",
					id, STEER_BUFS, sizeof(*b));
				goto free_steering;
			}
			rte_ring_mp_enqueue(w->steer_free, b);
		}
		for (unsigned s = 0; s < g_app.nworkers; s++) {
			if (s == id)
				continue;
			char name[RTE_RING_NAMESIZE];
			snprintf(name, sizeof(name), "alt_st_%u_%u", s, id);
			w->steer_in[s] = rte_ring_create(name, STEER_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (w->steer_in[s] == NULL) {
				RTE_LOG(ERR, altair, "worker %u: cannot create steering ring %s\n", id, name);
				goto free_steering;
			}
		}
	}
	for (unsigned i = 0; i < nepochs; i++) {
		struct epoch_obj *o = rte_zmalloc_socket("epoch", sizeof(*o), RTE_CACHE_LINE_SIZE, socket);
		if (o == NULL || (o->st = alt_pipe_stats_new(w->pipe)) == NULL) {
			RTE_LOG(ERR, altair, "worker %u: cannot allocate epoch statistics object %u of %u "
				"(%zu bytes each)\n", id, i + 1, nepochs, alt_stats_memsize(&pc.stats));
			rte_free(o);
			goto free_epochs;
		}
		if (c->learn_epochs > 0 || c->relearn_epochs > 0) {
			size_t osz = alt_tmpl_obs_memsize(c->learn_max_keys);
			void *om = rte_malloc_socket("learn", osz, RTE_CACHE_LINE_SIZE, socket);

			if (om == NULL || (o->obs = alt_tmpl_obs_init(om, c->learn_max_keys)) == NULL) {
				fprintf(stderr, "altair: worker %u: cannot allocate learning observations "
					"(%zu bytes): lower [anomaly] learn-max-keys\n", id, osz);
				return -1;
			}
		}
		rte_ring_sp_enqueue(w->free_epochs, o);
	}
	return 0;

free_epochs:
	worker_free_epochs(w);
free_steering:
	worker_free_steering(w);
free_blocks:
	worker_free_blocks(w);
free_rings:
	worker_free_rings(w);
free_line:
	rte_free(w->line);
	w->line = NULL;
free_reasm:
	rte_free(w->reasm_mem);
	w->reasm_mem = NULL;
	w->reasm = NULL;
	alt_pipe_destroy(w->pipe);
	w->pipe = NULL;
	return -ENOMEM;
}

/* Release everything worker_setup took, in the same order (after its
 * lcore has returned, and before the ports' mbufs go). */
static void
worker_release(struct worker *w)
{
	worker_free_epochs(w);
	worker_free_steering(w);
	worker_free_blocks(w);
	worker_free_rings(w);
	rte_free(w->line);
	w->line = NULL;
	rte_free(w->reasm_mem);
	w->reasm_mem = NULL;
	w->reasm = NULL;
	alt_pipe_destroy(w->pipe);
	w->pipe = NULL;
}

/* ---- the start-up memory report ---- */

struct mem_item {
	const char *what;
	uint64_t count;                 /* objects, all workers together */
	size_t each;                    /* bytes each */
	const char *settings;           /* what sizes it */
};

static double
mib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

void
alt_dp_mem_report(const struct alt_dp_app *a)
{
	const struct alt_dp_conf *c = a->conf;
	const uint64_t nw = a->nworkers;
	struct alt_net_reasm_params rp;
	struct alt_pipe_cfg pc;
	struct rte_malloc_socket_stats hs;
	struct mem_item it[10];
	unsigned n = 0;
	uint64_t total = 0;
	size_t pipe = a->pipe_bytes;

	alt_dp_conf_pipe(c, &pc);
	reasm_params(c, &rp);
	const size_t st = alt_stats_memsize(&pc.stats) + sizeof(struct epoch_obj);
	if (pipe == 0 && a->workers != NULL)    /* the first pipeline failed: what it had asked for */
		pipe = a->workers[0].alloc.bytes + a->workers[0].alloc.failed;
	for (unsigned p = 0; p < RTE_DIM(a->pool_plan); p++) {
		if (a->pool_plan[p].n == 0)
			continue;
		struct rte_mempool_objsz sz;
		uint32_t objsz = rte_mempool_calc_obj_size(sizeof(struct rte_mbuf) + a->pool_plan[p].room, 0, &sz);
		it[n++] = (struct mem_item){ p == 0 ? "packet buffers" : "net_af_packet buffers", a->pool_plan[p].n,
					     objsz, p == 0 ? "mbufs, mbuf-size" : "framesz, burst, mbuf-size" };
	}
	it[n++] = (struct mem_item){ "pipeline per worker", nw, pipe,
				     "max-nodes, max-traces, max-nodes-per-trace, max-strings, closed-cache, max-sources" };
	it[n++] = (struct mem_item){ "epoch statistics per worker", nw * EPOCH_OBJS_PER_WORKER, st,
				     "stats-ops, stats-shapes" };
	it[n++] = (struct mem_item){ "epoch statistics, control lcore", PREALLOC_PENDING_EPOCHS, st,
				     "stats-ops, stats-shapes" };
	it[n++] = (struct mem_item){ "reassembly per worker", nw, alt_net_reasm_memsize(&rp),
				     "reasm-mb, reasm-datagrams" };
	it[n++] = (struct mem_item){ "line buffer per worker", nw, line_bytes(c), "max-nodes-per-trace" };
	if (a->want_dags)
		it[n++] = (struct mem_item){ "output blocks per worker", nw * c->out_blocks, sizeof(struct out_block),
					     "out-blocks (with --dags)" };
	if (nw > 1)
		it[n++] = (struct mem_item){ "steering buffers per worker", nw * STEER_BUFS, sizeof(struct steer_buf),
					     "workers" };
	RTE_LOG(ERR, altair, "memory taken at start (DPDK heap, %" PRIu64 " worker%s):\n", nw, nw == 1 ? "" : "s");
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = it[i].count * it[i].each;
		total += b;
		RTE_LOG(ERR, altair, "  %-32s %8" PRIu64 " x %11zu = %12" PRIu64 " bytes (%8.1f MiB)  %s\n",
			it[i].what, it[i].count, it[i].each, b, mib(b), it[i].settings);
	}
	RTE_LOG(ERR, altair, "  %-32s %36" PRIu64 " bytes (%8.1f MiB)\n", "total", total, mib(total));
	/* EAL, the drivers and the rings take some tens of MiB besides */
	const uint64_t want_mib = (uint64_t)(mib(total) + 64.0 + 63.0) / 64 * 64;
	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &hs) == 0)
		RTE_LOG(ERR, altair, "the DPDK heap on socket %u has %zu bytes (%.1f MiB), %zu free now; "
			"give -m %" PRIu64 " or more (with --no-huge) or reserve that much in hugepages, "
			"or lower the settings named\n",
			rte_socket_id(), hs.heap_totalsz_bytes, mib(hs.heap_totalsz_bytes), hs.heap_freesz_bytes,
			want_mib);
}

/*
 * Run the appliance: ports, workers, the control lcore until a signal or
 * --once; then the report. Every way out goes through the labels at the
 * end, which release, in reverse order, what was taken: the control
 * lcore's sinks and epochs, the workers, the ports (stopped and closed),
 * the packet pools, the owner table, the worker array. Returns the exit
 * code: 0, or 1 on a start-up failure, an accounting mismatch or a write
 * error.
 */
int
alt_dp_run(struct alt_dp_conf *c)
{
	struct alt_dp_app *a = &g_app;
	uint16_t nports = rte_eth_dev_count_avail();
	unsigned lcore, nw = 0;
	uint16_t port;
	int rc;

	a->conf = c;
	a->want_dags = c->dags[0] != '\0';
	a->want_flagged = c->flagged[0] != '\0';
	if (nports == 0) {
		RTE_LOG(ERR, altair, "no DPDK ports (add --vdev net_pcap0,rx_pcap=FILE, or bind a NIC)\n");
		return 1;
	}
	if (nports > ALT_DP_MAX_PORTS) {
		RTE_LOG(WARNING, altair, "%u ports, at most %u are used\n", nports, ALT_DP_MAX_PORTS);
		nports = ALT_DP_MAX_PORTS;
	}
	a->nports = nports;
	/* Workers: the lcores after the main one (the main lcore is control).
	 * Two lcores on one CPU work too: --lcores 0@0,1@0. */
	unsigned avail = rte_lcore_count() - 1;
	unsigned want = c->workers ? c->workers : (avail ? avail : 1);
	if (avail == 0) {
		RTE_LOG(ERR, altair, "one lcore only: give at least two (-l 0-1): one control, one worker\n");
		return 1;
	}
	if (want > avail) {
		RTE_LOG(ERR, altair, "--workers %u but only %u worker lcores (-l gives %u lcores, one is control)\n",
			want, avail, avail + 1);
		return 1;
	}
	a->nworkers = want;
	a->workers = rte_zmalloc("workers", sizeof(struct worker) * want, RTE_CACHE_LINE_SIZE);
	if (a->workers == NULL) {
		RTE_LOG(ERR, altair, "cannot allocate %u workers\n", want);
		return 1;
	}

	rc = 1;
	uint16_t nq = (uint16_t)(c->rx_queues ? c->rx_queues : want);
	int err = pools_create(a, nq);
	if (err != 0) {
		if (err == -ENOMEM)
			alt_dp_mem_report(a);
		goto free_pools;
	}
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		a->ports_open = port + 1;       /* configured from here on, to close */
		if (port_setup(port, nq) != 0)
			goto stop_ports;
	}
	/* steer-by l4-src: a trace's owner is the worker that receives its
	 * ATR/1 TRACE_AFFINE frames when queues are chosen by the UDP source
	 * port (Toeplitz with alt_rss_key, RETA entry i -> queue i % queues):
	 * on a NIC with rss = l4-src, queue q of a port; without NIC RSS (ports
	 * that each carry one queue's share, e.g. from a packet broker or a
	 * split capture), the q-th port. Queue/port k is polled by worker
	 * k % workers (see below), so the owner is q % workers. */
	if (c->steer_by == ALT_DP_STEER_L4_SRC) {
		uint16_t reta = RTE_ETH_RSS_RETA_SIZE_512, queues = 0;
		RTE_ETH_FOREACH_DEV(port) {
			if (port >= nports)
				break;
			queues += a->port_nq[port];
		}
		if (a->port_rss[0] == ALT_DP_RSS_L4_SRC) {
			reta = a->port_reta[0];
			queues = a->port_nq[0];
		}
		a->owner_table = rte_malloc("owners", sizeof(uint16_t) * ALT_PIPE_OWNER_TABLE, 0);
		if (a->owner_table == NULL) {
			RTE_LOG(ERR, altair, "cannot allocate the trace owner table\n");
			goto stop_ports;
		}
		for (uint32_t x = 0; x < ALT_PIPE_OWNER_TABLE; x++)
			a->owner_table[x] = (uint16_t)(alt_rss_l4src_queue((uint16_t)(AFFINE_PORT_BASE | x), reta, queues) % want);
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (nw == want)
			break;
		if (worker_setup(&a->workers[nw], nw, lcore) != 0) {
			alt_dp_mem_report(a);
			goto release_workers;
		}
		nw++;
	}
	bool replay = false;
	/* The k-th (port, queue) pair, ports in order, goes to worker
	 * k % workers: queue q of a port with as many queues as workers goes
	 * to worker q; single-queue ports are spread over the workers. */
	unsigned k = 0;
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		for (uint16_t q = 0; q < a->port_nq[port]; q++, k++) {
			struct worker *w = &a->workers[k % want];
			if (w->nq >= RTE_DIM(w->q)) {
				RTE_LOG(ERR, altair, "worker %u would poll more than %zu queues: "
					"lower rx-queues or add workers\n", w->id, RTE_DIM(w->q));
				goto release_workers;
			}
			w->q[w->nq].port = port;
			w->q[w->nq].queue = q;
			/* a pcap replay: the arrival clock runs on capture time */
			w->q[w->nq].replay = alt_dp_replay_for(port, q);
			if (w->q[w->nq].replay != NULL)
				replay = true;
			w->nq++;
		}
	}
	/* With any replay, every worker runs on capture time (one without a
	 * queue has no senders of its own and needs no clock). */
	for (unsigned i = 0; i < want; i++)
		a->workers[i].has_ts = replay;
	err = alt_dp_ctl_open(a);
	if (err != 0) {
		if (err == -ENOMEM)
			alt_dp_mem_report(a);
		goto close_ctl;
	}
	if (alt_dp_tmpl_setup(a) != 0)
		goto close_ctl;
	if (alt_dp_telemetry_register(a) != 0)
		goto close_ctl;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	a->start_ns = alt_dp_mono_ns();
	for (unsigned i = 0; i < want; i++)
		rte_eal_remote_launch(worker_main, &a->workers[i], a->workers[i].lcore);

	rc = alt_dp_ctl_loop(a, &got_signal);
	rte_eal_mp_wait_lcore();
	alt_dp_ctl_finish(a);
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		rte_eth_stats_get(port, &a->port_stats[port]);
	}
	rc = alt_dp_ctl_report(a) != 0 ? 1 : rc;
	alt_dp_telemetry_stop(a);

close_ctl:
	alt_dp_ctl_close(a);
release_workers:
	for (unsigned i = nw; i > 0; i--)
		worker_release(&a->workers[i - 1]);
stop_ports:
	for (uint16_t p = a->ports_open; p > 0; p--) {
		if (a->port_started[p - 1] && rte_eth_dev_stop(p - 1) != 0)
			RTE_LOG(WARNING, altair, "port %u: stop failed\n", p - 1);
		rte_eth_dev_close(p - 1);
	}
	rte_free(a->owner_table);
	a->owner_table = NULL;
free_pools:
	rte_mempool_free(a->copy_pool);
	rte_mempool_free(a->pool);
	a->copy_pool = a->pool = NULL;
	rte_free(a->workers);
	a->workers = NULL;
	a->nworkers = 0;
	return rc;
}
