/* SPDX-License-Identifier: BSD-3-Clause
 * The appliance at run time: ports, worker lcores (RX -> classify ->
 * reassemble -> pipeline, run to completion), and the control lcore (sinks,
 * epoch merging, telemetry, idle/signal shutdown, final accounting).
 *
 * Ownership: every struct worker field is written by its worker lcore only,
 * except `stop` (written by control). Control reads worker counters with
 * relaxed loads (they are plain u64 written by a single writer; a torn read
 * is impossible on 64-bit targets and a stale one is harmless).
 */
#include <errno.h>
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
#include <rte_prefetch.h>
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
block_get(struct worker *w)
{
	void *b = NULL;

	if (rte_ring_sc_dequeue(w->free_blocks, &b) != 0)
		return NULL;
	((struct out_block *)b)->len = 0;
	return b;
}

static void
block_flush(struct worker *w)
{
	if (w->cur_block == NULL || w->cur_block->len == 0)
		return;
	/* The out ring holds every block there is, so this cannot fail. */
	if (rte_ring_sp_enqueue(w->out_ring, w->cur_block) != 0) {
		w->lines_dropped += w->cur_block->lines;
		w->cur_block->len = 0;
		w->cur_block->lines = 0;
		return;
	}
	w->cur_block = NULL;
	w->last_flush_tsc = rte_get_tsc_cycles();
}

/* Append one complete line to the output blocks. A line longer than a
 * block spans consecutive blocks (they are written in order); it is only
 * started when enough blocks are free, so no partial line is ever written. */
static void
emit_line(struct worker *w, const char *line, size_t len)
{
	struct out_block *b = w->cur_block;
	size_t room = b != NULL ? OUT_BLOCK_BYTES - b->len : 0;

	if (len > room) {
		size_t need = (len - room + OUT_BLOCK_BYTES - 1) / OUT_BLOCK_BYTES;
		if (rte_ring_count(w->free_blocks) < need) {
			w->lines_dropped++;
			return;
		}
	}
	w->lines++;
	while (len > 0) {
		if (b == NULL || b->len == OUT_BLOCK_BYTES) {
			block_flush(w);
			b = w->cur_block = block_get(w);
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

static void
hook_trace_closed(void *ctx, const struct alt_trace_view *v)
{
	struct worker *w = ctx;
	const struct alt_dp_conf *c = g_app.conf;
	bool full = c->detail == ALT_DP_DETAIL_FULL;
	size_t len;

	if (!g_app.want_dags)
		return;
	len = alt_pipe_format_trace(v, full, w->line, w->line_cap);
	if (len >= w->line_cap && full) {
		w->detail_truncated++;
		len = alt_pipe_format_trace(v, false, w->line, w->line_cap);
	}
	if (len >= w->line_cap) {
		w->lines_dropped++;
		return;
	}
	emit_line(w, w->line, len);
}

static struct alt_stats *
hook_stats_get(void *ctx)
{
	struct worker *w = ctx;
	void *o = NULL;

	if (rte_ring_sc_dequeue(w->free_epochs, &o) != 0) {
		w->cur_epoch_obj = NULL;
		return NULL;
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
		w->epochs_dropped++;
	__atomic_store_n(&w->epoch_progress, epoch + 1, __ATOMIC_RELEASE);
}

/* ---- worker loop ---- */

static void
handle_payload(struct worker *w, const struct alt_net_pkt *pkt, bool dgram)
{
	enum alt_wire_reason r = alt_pipe_input(w->pipe, (enum alt_wire_format)pkt->format, pkt->payload,
						pkt->payload_len);
	if (dgram)
		w->dgram_wire[r]++;
	else
		w->pkt_wire[r]++;
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
	w->dgram_net[o]++;
	if (o == ALT_NET_TRACING)
		handle_payload(w, pkt, true);
	else if (o == ALT_NET_FRAGMENT)
		w->dgram_nested_frag++;
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
		w->rx_bytes += len;
		if (alt_likely(m->nb_segs == 1)) {
			data = rte_pktmbuf_mtod(m, const uint8_t *);
		} else {
			if (len > sizeof(w->linear))
				len = sizeof(w->linear);
			data = rte_pktmbuf_read(m, 0, (uint32_t)len, w->linear);
			w->multiseg++;
		}
		handle_frame(w, data, len, now);
		rte_pktmbuf_free(m);
	}
	w->rx_pkts += n;
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

	w->last_flush_tsc = rte_get_tsc_cycles();
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t0 = rte_get_tsc_cycles();
		uint32_t got = 0;

		w->now_ns = mono_ns();
		for (unsigned q = 0; q < w->nq; q++) {
			uint16_t n = rte_eth_rx_burst(w->q[q].port, w->q[q].queue, pkts, burst);
			if (n > 0) {
				process_burst(w, pkts, n);
				got += n;
			}
		}
		if (got > 0) {
			alt_pipe_advance(w->pipe);
			w->busy_tsc += rte_get_tsc_cycles() - t0;
		}
		if (w->now_ns - last_expire > 10000000ULL) {
			alt_net_reasm_expire(w->reasm, w->now_ns);
			last_expire = w->now_ns;
		}
		if (w->cur_block != NULL && rte_get_tsc_cycles() - w->last_flush_tsc > flush_tsc)
			block_flush(w);
		__atomic_store_n(&w->rx_seen, w->rx_pkts, __ATOMIC_RELEASE);
		if (got == 0)
			rte_pause();
	}
	/* Drain: fragments still pending time out now, then every open trace
	 * goes through the whole chain. */
	uint64_t t0 = rte_get_tsc_cycles();
	alt_net_reasm_flush(w->reasm);
	alt_pipe_drain(w->pipe);
	block_flush(w);
	w->busy_tsc += rte_get_tsc_cycles() - t0;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- setup ---- */

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
	if (nq > info.max_rx_queues)
		nq = info.max_rx_queues;
	if (nq > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		g_app.port_rss[port] = 1;
	} else if (nq > 1) {
		nq = 1;         /* no RSS: one queue, software steering */
	}
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
	struct alt_pipe_hooks hooks = { w, hook_trace_closed, hook_epoch_done, hook_stats_get };
	struct alt_pipe_cfg pc;
	unsigned nepochs = 8;

	w->id = id;
	w->lcore = lcore;
	w->socket = socket;
	alt_net_cfg_default(&w->netcfg);
	for (unsigned f = 0; f < ALT_FMT_COUNT; f++)
		w->netcfg.port[f] = c->udp_port[f];
	w->netcfg.max_encap = (uint8_t)c->max_encap;

	alt_dp_conf_pipe(c, &pc);
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
	if (g_app.want_dags) {
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
	for (unsigned i = 0; i < nepochs; i++) {
		struct epoch_obj *o = rte_zmalloc_socket("epoch", sizeof(*o), RTE_CACHE_LINE_SIZE, socket);
		if (o == NULL || (o->st = alt_pipe_stats_new(w->pipe)) == NULL) {
			fprintf(stderr, "altair: worker %u: cannot allocate epoch statistics\n", id);
			return -1;
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
	if (nports == 0) {
		fprintf(stderr, "altair: no DPDK ports (add --vdev net_pcap0,rx_pcap=FILE, or bind a NIC)\n");
		return 1;
	}
	if (nports > ALT_DP_MAX_PORTS) {
		fprintf(stderr, "altair: %u ports, at most %u are used\n", nports, ALT_DP_MAX_PORTS);
		nports = ALT_DP_MAX_PORTS;
	}
	a->nports = nports;
	/* Workers: the lcores after the main one; with a single lcore the one
	 * worker shares it with control (not recommended, but it works). */
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
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (nw == want)
			break;
		if (worker_setup(&a->workers[nw], nw, lcore) != 0)
			return 1;
		nw++;
	}
	/* Queue q of every port goes to worker q % workers. */
	RTE_ETH_FOREACH_DEV(port) {
		if (port >= nports)
			break;
		for (uint16_t q = 0; q < a->port_nq[port]; q++) {
			struct worker *w = &a->workers[q % want];
			w->q[w->nq].port = port;
			w->q[w->nq].queue = q;
			w->nq++;
		}
	}
	if (alt_dp_ctl_open(a) != 0)
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
