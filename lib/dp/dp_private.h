/* SPDX-License-Identifier: BSD-3-Clause
 * Private to lib/dp: the worker context, output blocks, epoch objects and
 * the application state shared by the control lcore and telemetry.
 */
#ifndef ALT_DP_PRIVATE_H
#define ALT_DP_PRIVATE_H

#include <signal.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "alt_dp.h"

/* A counter one lcore writes and other lcores (control, telemetry) read:
 * the writer adds with a relaxed load and a relaxed store of the whole
 * 64-bit value (no locked read-modify-write: it is the only writer), the
 * readers load it relaxed. A reader sees some recent value, never a torn
 * one; nothing else is published through a counter (rte_rcu_qsbr.h does
 * the same with its per-thread counters). */
static inline void
ctr_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t
ctr_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#define OUT_BLOCK_BYTES (64u * 1024)
/* A steering frame holds at least one record of any size (ATR/1 record:
 * 48 + 8*15 + 255 + 255 + 65535 bytes, padded) plus the frame header. */
#define STEER_BUF_BYTES (68u * 1024)
#define STEER_BUFS 128
#define STEER_RING 256

/* Records on their way to the worker that owns their traces: one ATR/1
 * frame. Buffers belong to the sending worker and go back to its free ring. */
struct steer_buf {
	uint32_t len;
	uint16_t src;
	uint16_t pad;
	uint8_t data[STEER_BUF_BYTES];
};

/* A block of complete JSON lines on its way from a worker to the writer. */
struct out_block {
	uint32_t len;
	uint32_t lines;
	uint32_t cont;          /* the last line continues in this worker's next block */
	uint32_t pad;
	char data[OUT_BLOCK_BYTES];
};

/* A worker's epoch partial on its way to the control lcore. */
struct epoch_obj {
	uint64_t epoch;
	uint64_t wall_ns;
	unsigned worker;
	struct alt_stats *st;
};

/* Allocations for one pipeline on its NUMA socket, counted for the
 * start-up memory report (dp_run.c). */
struct dp_alloc {
	int socket;
	size_t bytes;                   /* allocated so far */
	size_t failed;                  /* the request that failed, 0 none */
	const char *failed_what;
};

/* Epoch statistics objects per worker: the one being filled, those on
 * their way to the control lcore, spares. */
#define EPOCH_OBJS_PER_WORKER 6

/* One worker lcore. Written by that lcore only, except stop (control). */
struct worker {
	/* hot: the RX loop */
	struct alt_pipe *pipe;
	struct alt_net_reasm *reasm;
	struct alt_net_cfg netcfg;
	uint64_t now_ns;                /* monotonic wall clock (reassembly timeouts, flushes) */
	uint64_t arr_ns;                /* arrival clock: newest capture timestamp, else the real-time clock */
	uint64_t arr_ts_max;            /* newest capture timestamp seen */
	uint64_t arr_ts_wall;           /* now_ns when it was seen */
	bool has_ts;                    /* polls a port with capture timestamps */
	uint16_t nq;
	struct {
		uint16_t port;
		uint16_t queue;
	} q[ALT_DP_MAX_PORTS * 4];
	/* counters, single writer */
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t multiseg;
	struct alt_net_counters net;                    /* per frame */
	uint64_t pkt_wire[ALT_WIRE_REASON_COUNT];       /* tracing frames by decode result */
	uint64_t dgram_net[ALT_NET_OUTCOME_COUNT];      /* reassembled datagrams by outcome */
	uint64_t dgram_wire[ALT_WIRE_REASON_COUNT];     /* reassembled tracing datagrams by decode result */
	uint64_t dgram_nested_frag;
	uint64_t lines;
	uint64_t lines_dropped;
	uint64_t detail_truncated;
	uint64_t epochs_dropped;
	uint64_t epoch_waits;
	uint64_t busy_tsc;
	/* output */
	struct out_block *cur_block;
	uint64_t last_flush_tsc;
	char *line;
	size_t line_cap;
	struct epoch_obj *cur_epoch_obj;
	struct rte_ring *out_ring;      /* worker -> control: filled blocks */
	struct rte_ring *free_blocks;   /* control -> worker: empty blocks */
	struct rte_ring *epoch_ring;    /* worker -> control: finished epochs */
	struct rte_ring *free_epochs;   /* control -> worker: spent epoch objects */
	struct rte_ring *steer_in[ALT_DP_MAX_WORKERS]; /* worker i -> this worker (SPSC) */
	struct rte_ring *steer_free;    /* this worker's empty steering buffers (MP enqueue) */
	struct steer_buf *steer_stage[ALT_DP_MAX_WORKERS]; /* frame being filled per owner */
	uint64_t steer_out_frames;
	uint64_t steer_waits;
	uint64_t steer_dropped;         /* records in frames dropped on a full ring */
	uint32_t idle_loops;
	uint64_t steer_in_frames;
	uint64_t steer_ring_full;
	uint64_t steer_no_buf;
	/* shared with control (atomics, see comments at use) */
	uint64_t rx_seen;               /* relaxed-stored copy of rx_pkts */
	uint64_t epoch_progress;        /* epochs < this are in epoch_ring (release) */
	uint64_t progress;              /* event time below which nothing more is steered from here (release) */
	uint64_t arr_pub;               /* arr_ns, for the other workers' arrival clocks (relaxed) */
	int stop;
	int rx_stopped;                 /* no more steering frames will come from this worker */
	int done;
	/* control lcore only: blocks of a line whose continuation has not
	 * arrived yet (see drain_blocks in dp_ctl.c) */
	struct out_block **held;
	uint32_t n_held;
	/* cold */
	unsigned id;
	unsigned lcore;
	int socket;
	struct dp_alloc alloc;          /* the pipeline's memory */
	uint8_t linear[65536 + 128];    /* multi-segment frames are copied here */
} __rte_cache_aligned;

#define MAX_PENDING_EPOCHS 16
#define PREALLOC_PENDING_EPOCHS MAX_PENDING_EPOCHS

struct pending_epoch {
	bool used;
	uint64_t epoch;
	uint64_t last_wall_ns;
	struct alt_stats *st;
};

struct alt_dp_app {
	struct alt_dp_conf *conf;
	bool want_dags;
	uint16_t nports;
	uint16_t port_nq[ALT_DP_MAX_PORTS];
	uint8_t port_rss[ALT_DP_MAX_PORTS];     /* enum alt_dp_rss in effect, 0 = none */
	uint16_t port_reta[ALT_DP_MAX_PORTS];   /* RETA size (l4-src) */
	uint16_t *owner_table;                  /* trace owner by fold16 (l4-src), or NULL */
	uint8_t port_ts[ALT_DP_MAX_PORTS];      /* port delivers capture timestamps (us) */
	uint32_t port_framesz[ALT_DP_MAX_PORTS]; /* net_af_packet: its framesz; 0 other drivers */
	struct rte_mempool *pool;               /* ports whose RX descriptors hold mbufs */
	struct rte_mempool *copy_pool;          /* net_af_packet ports: one mbuf per frame received */
	struct {
		uint32_t n;                     /* buffers, 0 = no such pool */
		uint32_t room;                  /* data room of each */
	} pool_plan[2];                         /* [0] pool, [1] copy_pool */
	size_t pipe_bytes;                      /* one worker's pipeline, once created */
	int ts_off;                             /* mbuf timestamp dynfield offset, -1 none */
	uint64_t ts_flag;                       /* its ol_flags bit */
	struct rte_eth_stats port_stats[ALT_DP_MAX_PORTS];
	unsigned nworkers;
	struct worker *workers;
	uint64_t start_ns;
	uint64_t end_ns;
	/* control: sinks */
	FILE *dags;
	FILE *epochs;
	uint64_t dag_lines_written;
	uint64_t dag_write_errors;
	uint64_t epoch_lines;           /* lines written to --epochs */
	uint64_t epochs_written;        /* epochs final and merged, with or without --epochs */
	uint64_t epoch_write_errors;
	char *epoch_line;
	size_t epoch_line_cap;
	struct pending_epoch pending[MAX_PENDING_EPOCHS];
	bool epoch_written;             /* last_epoch_written is valid */
	uint64_t last_epoch_written;
	uint64_t epochs_forced;         /* epochs written early: the pending table was full */
	uint64_t epoch_late_partials;   /* partials of written epochs, merged into the next one */
	double delay_ms[4096];          /* processing delays, for the summary */
	unsigned n_delay;
	/* The last epoch written, for /altair/epoch: the control lcore writes
	 * it under a sequence count (odd while it writes), the telemetry thread
	 * reads a consistent copy (alt_dp_last_epoch_read). */
	struct alt_dp_last_epoch {
		uint64_t seq;
		uint64_t epoch;
		uint64_t records;
		uint64_t traces_closed;
		uint64_t late;
		uint64_t delay_us;
	} last_epoch;
};

extern struct alt_dp_app g_app;

/* The RSS mode in effect on a port (port_rss), as the summary and
 * telemetry name it. */
static inline const char *
alt_dp_rss_name(uint8_t rss)
{
	return rss == ALT_DP_RSS_L4_SRC ? "l4-src" : rss == ALT_DP_RSS_IP_UDP ? "ip-udp" : "none";
}

int alt_dp_ctl_open(struct alt_dp_app *a);
int alt_dp_ctl_loop(struct alt_dp_app *a, volatile sig_atomic_t *sig);
void alt_dp_ctl_finish(struct alt_dp_app *a);
int alt_dp_ctl_report(struct alt_dp_app *a);
/* A consistent copy of the last epoch written; false if none was yet.
 * Any thread. */
bool alt_dp_last_epoch_read(const struct alt_dp_app *a, struct alt_dp_last_epoch *e);
void alt_dp_telemetry_register(struct alt_dp_app *a);
/* After an allocation failed at start: what start-up takes from DPDK
 * memory, item by item in bytes, with the settings that size each, the
 * total and what the heap has. */
void alt_dp_mem_report(const struct alt_dp_app *a);

/* Summed counters across workers (for reports and telemetry). */
struct alt_dp_totals {
	uint64_t rx_pkts, rx_bytes;
	struct alt_net_counters net;
	uint64_t pkt_wire[ALT_WIRE_REASON_COUNT];
	uint64_t dgram_net[ALT_NET_OUTCOME_COUNT];
	uint64_t dgram_wire[ALT_WIRE_REASON_COUNT];
	uint64_t dgram_nested_frag;
	struct alt_net_reasm_stats reasm;
	struct alt_pipe_counters pipe;
	uint64_t pending;
	uint64_t atr_frames_lost, jaeger_batches_lost, jaeger_client_dropped;
	uint64_t lines, lines_dropped, detail_truncated, epochs_dropped, multiseg;
	uint64_t busy_tsc;
	uint64_t steer_ring_full, steer_no_buf, steer_waits;
	struct alt_pipe_mem_stats mem;
	size_t pipe_bytes;
};
void alt_dp_totals(const struct alt_dp_app *a, struct alt_dp_totals *t);

#endif /* ALT_DP_PRIVATE_H */
