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

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
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

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct alt_dp_app g_app;

/* ---- allocation on the worker's NUMA socket ---- */

static void *
sock_alloc(void *ctx, size_t size, const char *what)
{
	int socket = (int)(intptr_t)ctx;
	return rte_malloc_socket(what, size, RTE_CACHE_LINE_SIZE, socket);
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
		ctr_add(sink == SINK_DAGS ? &w->lines_dropped : &w->flagged_dropped, b->lines);
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
			ctr_add(sink == SINK_DAGS ? &w->lines_dropped : &w->flagged_dropped, 1);
			return;
		}
	}
	ctr_add(sink == SINK_DAGS ? &w->lines : &w->flagged_lines, 1);
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
		ctr_add(&w->detail_truncated, 1);
		len = alt_pipe_format_trace(v, false, w->line, w->line_cap);
	}
	if (len >= w->line_cap) {
		ctr_add(&w->flagged_dropped, 1);
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
	ctr_add(&w->learn_observed, 1);
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
		ctr_add(&w->detail_truncated, 1);
		len = alt_pipe_format_trace(v, false, w->line, w->line_cap);
	}
	if (len >= w->line_cap) {
		ctr_add(&w->lines_dropped, 1);
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
			ctr_add(&w->epoch_waits, 1);
			deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() / 50;   /* 20 ms */
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
hook_epoch_done(void *ctx, uint64_t epoch, struct alt_stats *st, uint64_t wall_ns)
{
	struct worker *w = ctx;
	struct epoch_obj *o = w->cur_epoch_obj;

	if (o == NULL || o->st != st)
		return;
	o->epoch = epoch;
	o->wall_ns = wall_ns;
	o->worker = w->id;
	w->cur_epoch_obj = NULL;
	/* The epoch ring holds every object there is: cannot fail. */
	if (rte_ring_sp_enqueue(w->epoch_ring, o) != 0)
		ctr_add(&w->epochs_dropped, 1);
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
			ctr_add(&w->steer_waits, 1);
			deadline = rte_get_tsc_cycles() + steer_wait_cycles();
		} else if (rte_get_tsc_cycles() > deadline) {
			rte_ring_mp_enqueue(w->steer_free, b);
			ctr_add(&w->steer_ring_full, 1);
			ctr_add(&w->steer_dropped, n);
			return 0;
		}
		poll_steered(w);
		sched_yield();  /* a control lcore sharing this CPU runs meanwhile */
	}
	ctr_add(&w->steer_out_frames, 1);
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
					ctr_add(&w->steer_waits, 1);
					deadline = rte_get_tsc_cycles() + steer_wait_cycles();
				} else if (rte_get_tsc_cycles() > deadline) {
					break;
				}
				poll_steered(w);
				sched_yield();
			}
			if (obj == NULL) {
				ctr_add(&w->steer_no_buf, 1);
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
		void *objs[32];
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
			n = rte_ring_sc_dequeue_burst(r, objs, left < 32 ? left : 32, NULL);
			if (n == 0)
				break;
			for (unsigned i = 0; i < n; i++) {
				struct steer_buf *b = objs[i];
				alt_pipe_feed_steered(w->pipe, b->data, b->len);
				rte_ring_mp_enqueue(g_app.workers[b->src].steer_free, b);
			}
			ctr_add(&w->steer_in_frames, n);
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
		ctr_add(&w->dgram_nested_frag, 1);
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

static void
process_burst(struct worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t now = w->now_ns;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *data;
		size_t len = rte_pktmbuf_pkt_len(m);

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		ctr_add(&w->rx_bytes, len);
		if (g_app.ts_off >= 0 && (m->ol_flags & g_app.ts_flag)) {
			/* net_pcap: the capture timestamp, in microseconds */
			uint64_t ts = *RTE_MBUF_DYNFIELD(m, g_app.ts_off, rte_mbuf_timestamp_t *) * 1000;
			if (ts > w->arr_ts_max)
				w->arr_ts_max = ts;
			w->arr_ts_wall = w->now_ns;
			if (ts > w->arr_ns)
				w->arr_ns = ts;
		}
		if (alt_likely(m->nb_segs == 1)) {
			data = rte_pktmbuf_mtod(m, const uint8_t *);
		} else {
			if (len > sizeof(w->linear))
				len = sizeof(w->linear);
			data = rte_pktmbuf_read(m, 0, (uint32_t)len, w->linear);
			ctr_add(&w->multiseg, 1);
		}
		handle_frame(w, data, len, now);
		rte_pktmbuf_free(m);
	}
	ctr_add(&w->rx_pkts, n);
}

/* The arrival clock: the newest capture timestamp when the ports give
 * them (so a replay judges idleness as the live run would), else the
 * real-time clock; quiet past --idle-advance-ms (wall), it follows the
 * wall clock from there. Shared: never behind another worker's. */
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
	for (unsigned i = 0; i < g_app.nworkers; i++) {
		/* relaxed: any recent value of another clock will do */
		uint64_t o = __atomic_load_n(&g_app.workers[i].arr_pub, __ATOMIC_RELAXED);
		if (o > a)
			a = o;
	}
	w->arr_ns = a;
	__atomic_store_n(&w->arr_pub, a, __ATOMIC_RELAXED);
	alt_pipe_clock(w->pipe, a);
}

static int
worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[512];
	const uint16_t burst = g_app.conf->burst;
	const uint64_t hz = rte_get_tsc_hz();
	const uint64_t flush_tsc = hz / 1000;   /* output blocks leave within 1 ms */
	uint64_t last_expire = 0;

	/* Wall time from the TSC: no system call in the poll loop. */
	const uint64_t base_ns = mono_ns(), base_tsc = rte_get_tsc_cycles();
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
		for (unsigned q = 0; q < w->nq; q++) {
			uint16_t n = rte_eth_rx_burst(w->q[q].port, w->q[q].queue, pkts, burst);
			if (n > 0) {
				process_burst(w, pkts, n);
				got += n;
			}
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
			ctr_add(&w->busy_tsc, rte_get_tsc_cycles() - t0);
		}
		if (w->now_ns - last_expire > 10000000ULL) {
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
		__atomic_store_n(&w->rx_seen, w->rx_pkts, __ATOMIC_RELAXED);
		/* Nothing read from a model is held past this point: the control
		 * lcore may free one this worker no longer sees. */
		rte_rcu_qsbr_quiescent(g_app.tmpl.qsv, w->id);
		if (got == 0) {
			/* Idle: let a control lcore that shares this CPU run. */
			if (++w->idle_loops >= 64) {
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
	ctr_add(&w->busy_tsc, rte_get_tsc_cycles() - t0);
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
		fprintf(stderr, "altair: port %u: RETA update failed: %s\n", port, strerror(-rc));
	return rc;
}

static int
port_setup(uint16_t port, uint16_t nq, struct rte_mempool *mp)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nb_rxd = g_app.conf->rx_desc, nb_txd = 256;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		fprintf(stderr, "altair: port %u: cannot get device info: %s\n", port, strerror(-rc));
		return -1;
	}
	enum alt_dp_rss mode = g_app.conf->rss;

	if (nq > info.max_rx_queues)
		nq = info.max_rx_queues;
	if (mode == ALT_DP_RSS_L4_SRC) {
		const uint64_t want = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
				      RTE_ETH_RSS_L4_SRC_ONLY;
		if ((info.flow_type_rss_offloads & want) != want || info.reta_size == 0) {
			fprintf(stderr, "altair: port %u (%s): no RSS on the UDP source port only; "
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
	/* net_pcap hands out each frame's capture timestamp: the arrival
	 * clock then runs on capture time, so a replay ages sources as the
	 * live traffic did. */
	if (strcmp(info.driver_name, "net_pcap") == 0 &&
	    (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP)) {
		if (g_app.ts_off < 0 &&
		    rte_mbuf_dyn_rx_timestamp_register(&g_app.ts_off, &g_app.ts_flag) != 0)
			g_app.ts_off = -1;
		if (g_app.ts_off >= 0) {
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
			g_app.port_ts[port] = 1;
		}
	}
	/* Without RSS, several queues are filled however the driver chooses
	 * (memif: the peer; af_packet: kernel fanout); steering by trace ID
	 * keeps each trace on its owner either way. */
	rc = rte_eth_dev_configure(port, nq, 1, &conf);
	if (rc != 0) {
		fprintf(stderr, "altair: port %u: configure failed: %s\n", port, strerror(-rc));
		return -1;
	}
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, rte_eth_dev_socket_id(port), NULL, mp);
		if (rc != 0) {
			fprintf(stderr, "altair: port %u: RX queue %u setup failed: %s\n", port, q, strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_tx_queue_setup(port, 0, nb_txd, rte_eth_dev_socket_id(port), NULL);
	if (rc != 0) {
		fprintf(stderr, "altair: port %u: TX queue setup failed: %s\n", port, strerror(-rc));
		return -1;
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		fprintf(stderr, "altair: port %u: start failed: %s\n", port, strerror(-rc));
		return -1;
	}
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

static int
worker_setup(struct worker *w, unsigned id, unsigned lcore)
{
	const struct alt_dp_conf *c = g_app.conf;
	int socket = (int)rte_lcore_to_socket_id(lcore);
	struct alt_pipe_alloc alloc = { sock_alloc, sock_free, (void *)(intptr_t)socket };
	struct alt_pipe_hooks hooks = { w, hook_trace_closed, hook_epoch_done, hook_stats_get, hook_steer };
	struct alt_pipe_cfg pc;
	unsigned nepochs = 6;

	w->id = id;
	w->lcore = lcore;
	w->socket = socket;
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
		fprintf(stderr, "altair: worker %u: cannot allocate the pipeline on socket %d "
			"(max-nodes %u, max-traces %u): raise -m / hugepages or lower [pools]\n",
			id, socket, c->max_nodes, c->max_traces);
		return -1;
	}
	struct alt_net_reasm_params rp = {
		.max_datagrams = c->reasm_datagrams,
		.max_frags = 128,
		.max_bytes = (uint64_t)c->reasm_mb << 20,
		.timeout_ns = (uint64_t)c->reasm_timeout_ms * 1000000ULL,
	};
	size_t rsz = alt_net_reasm_memsize(&rp);
	void *rmem = rte_malloc_socket("reasm", rsz, RTE_CACHE_LINE_SIZE, socket);
	if (rmem == NULL || (w->reasm = alt_net_reasm_init(rmem, &rp)) == NULL) {
		fprintf(stderr, "altair: worker %u: cannot allocate reassembly (%zu bytes)\n", id, rsz);
		return -1;
	}
	/* A full-detail line needs ~300 bytes per span. */
	w->line_cap = OUT_BLOCK_BYTES + (size_t)c->max_nodes_per_trace * 320;
	if (c->learn_epochs > 0 || c->relearn_epochs > 0) {
		size_t tsz = alt_tmpl_ws_memsize(c->max_nodes_per_trace);
		void *tm = rte_malloc_socket("learnws", tsz, RTE_CACHE_LINE_SIZE, socket);

		if (tm == NULL || (w->tws = alt_tmpl_ws_init(tm, c->max_nodes_per_trace)) == NULL) {
			fprintf(stderr, "altair: worker %u: cannot allocate the learning workspace\n", id);
			return -1;
		}
	}
	w->line = rte_malloc_socket("line", w->line_cap, RTE_CACHE_LINE_SIZE, socket);
	w->out_ring = ring_new("out", id, c->out_blocks, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->free_blocks = ring_new("freeb", id, c->out_blocks, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->epoch_ring = ring_new("ep", id, nepochs, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	w->free_epochs = ring_new("freeep", id, nepochs, RING_F_SP_ENQ | RING_F_SC_DEQ, socket);
	if (w->line == NULL || w->out_ring == NULL || w->free_blocks == NULL || w->epoch_ring == NULL ||
	    w->free_epochs == NULL) {
		fprintf(stderr, "altair: worker %u: cannot allocate rings: %s\n", id, rte_strerror(rte_errno));
		return -1;
	}
	if (g_app.want_dags || g_app.want_flagged) {
		for (unsigned i = 0; i < c->out_blocks; i++) {
			struct out_block *b = rte_malloc_socket("outblk", sizeof(*b), RTE_CACHE_LINE_SIZE, socket);
			if (b == NULL) {
				fprintf(stderr, "altair: worker %u: cannot allocate output blocks (%u x 64 KiB): "
					"lower [pools] out-blocks\n", id, c->out_blocks);
				return -1;
			}
			rte_ring_sp_enqueue(w->free_blocks, b);
		}
	}
	if (g_app.nworkers > 1) {
		w->steer_free = ring_new("stfree", id, STEER_BUFS, RING_F_SC_DEQ, socket);
		if (w->steer_free == NULL) {
			fprintf(stderr, "altair: worker %u: cannot allocate the steering ring\n", id);
			return -1;
		}
		for (unsigned i = 0; i < STEER_BUFS; i++) {
			struct steer_buf *b = rte_malloc_socket("steer", sizeof(*b), RTE_CACHE_LINE_SIZE, socket);
			if (b == NULL) {
				fprintf(stderr, "altair: worker %u: cannot allocate steering buffers (%u x %u KiB)\n",
					id, STEER_BUFS, STEER_BUF_BYTES / 1024);
				return -1;
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
				fprintf(stderr, "altair: worker %u: cannot create steering ring %s\n", id, name);
				return -1;
			}
		}
	}
	for (unsigned i = 0; i < nepochs; i++) {
		struct epoch_obj *o = rte_zmalloc_socket("epoch", sizeof(*o), RTE_CACHE_LINE_SIZE, socket);
		if (o == NULL || (o->st = alt_pipe_stats_new(w->pipe)) == NULL) {
			fprintf(stderr, "altair: worker %u: cannot allocate epoch statistics\n", id);
			return -1;
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
}

int
alt_dp_run(struct alt_dp_conf *c)
{
	struct alt_dp_app *a = &g_app;
	uint16_t nports = rte_eth_dev_count_avail();
	unsigned lcore, nw = 0;
	int rc = 1;

	a->conf = c;
	a->want_dags = c->dags[0] != '\0';
	a->want_flagged = c->flagged[0] != '\0';
	a->ts_off = -1;
	if (nports == 0) {
		fprintf(stderr, "altair: no DPDK ports (add --vdev net_pcap0,rx_pcap=FILE, or bind a NIC)\n");
		return 1;
	}
	if (nports > ALT_DP_MAX_PORTS) {
		fprintf(stderr, "altair: %u ports, at most %u are used\n", nports, ALT_DP_MAX_PORTS);
		nports = ALT_DP_MAX_PORTS;
	}
	a->nports = nports;
	/* Workers: the lcores after the main one (the main lcore is control).
	 * Two lcores on one CPU work too: --lcores 0@0,1@0. */
	unsigned avail = rte_lcore_count() - 1;
	unsigned want = c->workers ? c->workers : (avail ? avail : 1);
	if (avail == 0) {
		fprintf(stderr, "altair: one lcore only: give at least two (-l 0-1): one control, one worker\n");
		return 1;
	}
	if (want > avail) {
		fprintf(stderr, "altair: --workers %u but only %u worker lcores (-l gives %u lcores, one is control)\n",
			want, avail, avail + 1);
		return 1;
	}
	a->nworkers = want;
	a->workers = rte_zmalloc("workers", sizeof(struct worker) * want, RTE_CACHE_LINE_SIZE);
	if (a->workers == NULL)
		return 1;

	struct rte_mempool *mp = rte_pktmbuf_pool_create("alt_mbufs", c->mbufs, 256, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "altair: cannot create the mbuf pool (%u mbufs): %s\n", c->mbufs,
			rte_strerror(rte_errno));
		return 1;
	}
	uint16_t port;
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		if (port_setup(port, (uint16_t)(c->rx_queues ? c->rx_queues : want), mp) != 0)
			return 1;
	}
	/* steer-by l4-src: a trace's owner is the worker that receives its
	 * ATR/1 TRACE_AFFINE frames when queues are chosen by the UDP source
	 * port (Toeplitz with alt_rss_key, RETA entry i -> queue i % queues):
	 * on a NIC with rss = l4-src, queue q of a port; without NIC RSS (ports
	 * that each carry one queue's share, e.g. from a packet broker or a
	 * split capture), the q-th port. Queue/port k is polled by worker
	 * k % workers (see below), so the owner is q % workers. */
	if (c->steer_by == ALT_DP_STEER_L4_SRC) {
		uint16_t reta = 512, queues = 0;
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
		if (a->owner_table == NULL)
			return 1;
		for (uint32_t x = 0; x < ALT_PIPE_OWNER_TABLE; x++)
			a->owner_table[x] = (uint16_t)(alt_rss_l4src_queue((uint16_t)(0xC000u | x), reta, queues) % want);
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (nw == want)
			break;
		if (worker_setup(&a->workers[nw], nw, lcore) != 0)
			return 1;
		nw++;
	}
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
				fprintf(stderr, "altair: worker %u would poll more than %zu queues: "
					"lower rx-queues or add workers\n", w->id, RTE_DIM(w->q));
				return 1;
			}
			w->q[w->nq].port = port;
			w->q[w->nq].queue = q;
			w->nq++;
			if (a->port_ts[port])
				w->has_ts = true;
		}
	}
	if (alt_dp_ctl_open(a) != 0 || alt_dp_tmpl_setup(a) != 0)
		return 1;
	alt_dp_telemetry_register(a);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	a->start_ns = mono_ns();
	for (unsigned i = 0; i < want; i++)
		rte_eal_remote_launch(worker_main, &a->workers[i], a->workers[i].lcore);

	rc = alt_dp_ctl_loop(a, &got_signal);
	rte_eal_mp_wait_lcore();
	alt_dp_ctl_finish(a);
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		rte_eth_stats_get(port, &a->port_stats[port]);
		rte_eth_dev_stop(port);
	}
	rc = alt_dp_ctl_report(a) != 0 ? 1 : rc;
	return rc;
}
