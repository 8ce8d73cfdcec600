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
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

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

/* Output streams of JSON lines, each with its own sink file. */
enum out_sink {
	SINK_DAGS = 0,          /* --dags */
	SINK_FLAGGED = 1,       /* --flagged */
	SINK_COUNT
};

/* A block of complete JSON lines on its way from a worker to the writer. */
struct out_block {
	uint32_t len;
	uint32_t lines;
	uint32_t cont;          /* the last line continues in this worker's next block of this sink */
	uint32_t sink;          /* enum out_sink */
	char data[OUT_BLOCK_BYTES];
};

/* A worker's epoch partial on its way to the control lcore. */
struct epoch_obj {
	uint64_t epoch;
	uint64_t wall_ns;
	unsigned worker;
	struct alt_stats *st;
	struct alt_tmpl_obs *obs;       /* online learning: what the epoch's traces showed (NULL: not learning) */
};

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
	uint64_t flagged_lines;
	uint64_t flagged_dropped;
	uint64_t learn_observed;        /* traces observed for online learning */
	/* output */
	struct alt_tmpl_ws *tws;        /* online learning observations */
	struct out_block *cur_block[SINK_COUNT];
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
	struct out_block **held[SINK_COUNT];
	uint32_t n_held[SINK_COUNT];
	/* cold */
	unsigned id;
	unsigned lcore;
	int socket;
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

/* A model replaced but perhaps still read by a worker: freed once every
 * worker has passed a quiescent point after the replacement (token). */
struct retired_model {
	struct alt_tmpl_model *m;
	uint64_t token;
};

#define RECENT_ANOMALIES 16
#define RECENT_TEXT 128         /* a telemetry string holds < 128 bytes */

struct recent_anomaly {
	char trace_id[33];
	uint64_t generation;
	char flags[64];
	char summary[RECENT_TEXT];
};

/* Templates, their swaps and online learning (dp_tmpl.c). */
struct alt_dp_tmpl {
	/* The model in force: the control lcore stores it (release), workers
	 * load it (acquire) once per loop iteration and report quiescence at
	 * the end of it; NULL = no checks. */
	struct alt_tmpl_model *cur;
	struct rte_rcu_qsbr *qsv;
	/* Telemetry -> control: a model built by /altair/templates/reload,
	 * exchanged in and out atomically (whoever takes it owns it). */
	struct alt_tmpl_model *mailbox;
	uint64_t next_gen;              /* generation numbers, atomic fetch-add */
	uint64_t published_gen;         /* generation of cur (release store by control) */
	/* control lcore only */
	struct retired_model *retired;
	uint32_t n_retired, cap_retired;
	uint64_t swaps;                 /* publications (ctr_add: telemetry reads) */
	uint64_t freed;
	uint64_t superseded;            /* reloads replaced in the mailbox before publication (telemetry thread, atomic add) */
	/* online learning (control lcore only, except `learning`) */
	int learning;                   /* workers observe closed traces (relaxed) */
	struct alt_tmpl_obs *obs;       /* merged observations of the window */
	struct alt_stats *lat;          /* merged statistics of the window (latency) */
	uint32_t window_epochs;         /* epochs in the window so far */
	uint32_t builds;                /* learned models built */
	bool learned_once;
	/* what telemetry shows, under lock (control writes, telemetry reads) */
	rte_spinlock_t lock;
	struct alt_tmpl_model_info info;
	bool have_info;
	char source[256];               /* file, or "learned online" */
	char pending_source[256];       /* the file of the model in the mailbox */
	struct recent_anomaly recent[RECENT_ANOMALIES];
	uint32_t n_recent;              /* ever recorded; slot = n % RECENT_ANOMALIES */
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
	int ts_off;                             /* mbuf timestamp dynfield offset, -1 none */
	uint64_t ts_flag;                       /* its ol_flags bit */
	struct rte_eth_stats port_stats[ALT_DP_MAX_PORTS];
	unsigned nworkers;
	struct worker *workers;
	uint64_t start_ns;
	uint64_t end_ns;
	bool want_flagged;
	struct alt_dp_tmpl tmpl;
	/* control: sinks */
	FILE *flagged;
	uint64_t flagged_lines_written;
	uint64_t flagged_write_errors;
	FILE *dags;
	FILE *epochs;
	uint64_t dag_lines_written;
	uint64_t dag_write_errors;
	uint64_t epoch_lines;
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

/* dp_tmpl.c: load a template file into a new model of the next
 * generation (control or telemetry side). NULL with err filled. */
struct alt_tmpl_model *alt_dp_tmpl_load(struct alt_dp_app *a, const char *path, char *err, size_t errlen);
/* Publish a model (control lcore, or before the workers start); the one it
 * replaces is retired. */
void alt_dp_tmpl_publish(struct alt_dp_app *a, struct alt_tmpl_model *m, const char *source);
/* Control lcore, every loop: take a reloaded model from the mailbox and
 * publish it; free retired models whose grace period is over (all: the
 * workers are done). */
void alt_dp_tmpl_poll(struct alt_dp_app *a, bool all);
/* Setup before the workers start: RCU, --templates, learning. 0 or -1. */
int alt_dp_tmpl_setup(struct alt_dp_app *a);
/* Control lcore: an epoch's partial arrived (learning observations). */
void alt_dp_tmpl_partial(struct alt_dp_app *a, struct epoch_obj *o);
/* Control lcore: an epoch was written (learning windows end here). */
void alt_dp_tmpl_epoch(struct alt_dp_app *a, const struct alt_stats *st);
/* Control lcore: a flagged line was written (for /altair/anomalies). */
void alt_dp_tmpl_recent(struct alt_dp_app *a, const char *line, size_t len);

int alt_dp_ctl_open(struct alt_dp_app *a);
int alt_dp_ctl_loop(struct alt_dp_app *a, volatile sig_atomic_t *sig);
void alt_dp_ctl_finish(struct alt_dp_app *a);
int alt_dp_ctl_report(struct alt_dp_app *a);
/* A consistent copy of the last epoch written; false if none was yet.
 * Any thread. */
bool alt_dp_last_epoch_read(const struct alt_dp_app *a, struct alt_dp_last_epoch *e);
void alt_dp_telemetry_register(struct alt_dp_app *a);

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
	uint64_t flagged_lines, flagged_dropped, learn_observed;
	uint64_t busy_tsc;
	uint64_t steer_ring_full, steer_no_buf, steer_waits;
	struct alt_pipe_mem_stats mem;
	size_t pipe_bytes;
};
void alt_dp_totals(const struct alt_dp_app *a, struct alt_dp_totals *t);

#endif /* ALT_DP_PRIVATE_H */
