/* SPDX-License-Identifier: BSD-3-Clause
 * Private to lib/dp: the worker context, output blocks, epoch objects and
 * the application state shared by the control lcore and telemetry.
 */
#ifndef ALT_DP_PRIVATE_H
#define ALT_DP_PRIVATE_H

#include <signal.h>
#include <stdio.h>
#include <time.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "alt_dp.h"

/* lib/dp logs at run time through its own log type, "altair"
 * (--log-level altair:LEVEL; registered at load, dp_run.c):
 * RTE_LOG(ERR, altair, "...\n") prints "altair: ..." on stderr and syslog.
 * Command-line errors before EAL (dp_conf.c) go to stderr as they are;
 * the report and progress lines are output, on stdout. */
extern int alt_dp_logtype;
#define RTE_LOGTYPE_altair alt_dp_logtype

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

/* The monotonic clock (ns), the one clock helper of the DPDK layer; the
 * pure-C libraries take time from their callers. */
static inline uint64_t
alt_dp_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Capture timestamps of a net_pcap replay queue (dp_replay.c). */
struct dp_replay;
struct dp_replay *alt_dp_replay_for(uint16_t port, uint16_t queue);
uint64_t alt_dp_replay_next(struct dp_replay *r, uint32_t caplen);
void alt_dp_replay_close(struct dp_replay *r);

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

/*
 * A worker's own counters, X(field, name): the field of struct dp_counters
 * and its name in /altair/workers. One writer, the worker (ctr_add);
 * readers (control lcore, telemetry) sum the workers' with ctr_read
 * (alt_dp_totals). Counters by reason or outcome are arrays indexed by the
 * libraries' own X-macro enums (struct worker).
 */
#define DP_WORKER_COUNTERS(X) \
	X(rx_pkts, "rx_packets")                        /* frames received */ \
	X(rx_bytes, "rx_bytes") \
	X(multiseg, "multiseg_frames")                  /* chained mbufs, copied to linear */ \
	X(dgram_nested_frag, "nested_fragments")        /* fragments inside a reassembled tunnel */ \
	X(lines, "dag_lines")                           /* --dags lines formatted */ \
	X(lines_dropped, "dag_lines_dropped")           /* no free output block, or too long */ \
	X(detail_truncated, "detail_truncated")         /* full lines written in summary form */ \
	X(epochs_dropped, "epochs_dropped")             /* epoch ring full (cannot happen) */ \
	X(epoch_waits, "epoch_waits")                   /* waited for a statistics object */ \
	X(busy_tsc, "busy_tsc")                         /* TSC cycles spent on packets */ \
	X(steer_out_frames, "steer_frames_out") \
	X(steer_in_frames, "steer_frames_in") \
	X(steer_waits, "steer_waits")                   /* waited for a buffer or ring room */ \
	X(steer_dropped, "steer_dropped_records")       /* records in frames given up */ \
	X(steer_ring_full, "steer_ring_full")           /* frames given up: owner's ring full */ \
	X(steer_no_buf, "steer_no_buffer")              /* frames given up: no free buffer */ \
	X(flagged_lines, "flagged_lines")               /* --flagged lines formatted */ \
	X(flagged_dropped, "flagged_lines_dropped")     /* no free output block, or too long */ \
	X(learn_observed, "learn_observed")             /* traces observed for online learning */

struct dp_counters {
#define DP_CTR_FIELD(field, name) uint64_t field;
	DP_WORKER_COUNTERS(DP_CTR_FIELD)
#undef DP_CTR_FIELD
};

/*
 * The scalar pipeline counters (struct alt_pipe_counters) summed across
 * workers as they are, X(field, name): name is the /altair/stats key.
 * Arrays (records by outcome, traces by closed_by, rejects by reason) are
 * summed by their enums; steer_frames is the worker's own count.
 */
#define DP_PIPE_COUNTERS(X) \
	X(records_decoded, "records_decoded") \
	X(records_received, "records_steered_in") \
	X(late, "records_late") \
	X(parents_truncated, "records_parents_truncated") \
	X(names_truncated, "records_names_truncated") \
	X(foreign_refs, "records_foreign_refs") \
	X(traces_flagged, "traces_flagged") \
	X(traces_incomplete, "traces_incomplete") \
	X(late_fragments, "traces_late_fragment") \
	X(pressure_closes, "traces_pressure_closed") \
	X(reorder_pressure_flushes, "reorder_pressure_flushes") \
	X(reopened, "traces_reopened") \
	X(epochs_lost, "epochs_lost") \
	X(dag_too_big, "traces_dag_too_big")

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
/* (port, queue) pairs one worker polls. */
#define DP_MAX_QUEUES_PER_WORKER (ALT_DP_MAX_PORTS * 4)

/* One worker lcore. Written by that lcore only, except stop (control). */
struct worker {
	/* hot: the RX loop */
	struct alt_pipe *pipe;
	struct alt_net_reasm *reasm;
	void *reasm_mem;                /* what reasm lives on */
	struct alt_net_cfg netcfg;
	uint64_t now_ns;                /* monotonic wall clock (reassembly timeouts, flushes) */
	uint64_t arr_ns;                /* arrival clock: newest capture timestamp, else the real-time clock */
	uint64_t arr_ts_max;            /* newest capture timestamp seen */
	uint64_t arr_ts_wall;           /* now_ns when it was seen */
	uint64_t arr_advanced;          /* arrival clock at the last mid-burst advance (replay) */
	bool has_ts;                    /* polls a port with capture timestamps */
	uint16_t nq;
	struct {
		uint16_t port;
		uint16_t queue;
		struct dp_replay *replay;       /* pcap replay: its capture timestamps, else NULL */
	} q[DP_MAX_QUEUES_PER_WORKER];
	/* counters, single writer */
	struct dp_counters ctr;
	struct alt_net_counters net;                    /* per frame */
	uint64_t pkt_wire[ALT_WIRE_REASON_COUNT];       /* tracing frames by decode result */
	uint64_t dgram_net[ALT_NET_OUTCOME_COUNT];      /* reassembled datagrams by outcome */
	uint64_t dgram_wire[ALT_WIRE_REASON_COUNT];     /* reassembled tracing datagrams by decode result */
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
	uint32_t idle_loops;
	/* shared with control (atomics, see comments at use) */
	uint64_t rx_seen;               /* relaxed-stored copy of rx_pkts */
	uint64_t empty_polls;           /* relaxed-stored copy of n_empty_polls */
	uint64_t n_empty_polls;         /* loops that found nothing to do (this lcore only) */
	uint64_t epoch_progress;        /* epochs < this are in epoch_ring (release) */
	uint64_t progress;              /* event time below which nothing more is steered from here (release) */
	uint64_t arr_pub;               /* arr_ns for the other workers' replay pacing (relaxed) */
	uint32_t dry_polls;             /* replay: polls in a row that read nothing (this lcore) */
	bool rx_dry;                    /* replay: its queues gave nothing for a while (relaxed) */
	/* the time model as of the last 10 ms tick, for telemetry (relaxed) */
	struct {
		uint64_t known, active, went_idle, returned, returned_behind, evicted, released;
		uint64_t watermark, progress, arrival;
	} tm;
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
	uint8_t port_started[ALT_DP_MAX_PORTS]; /* started: to stop at the end */
	uint16_t ports_open;                    /* ports [0, ports_open) configured: to close */
	uint32_t port_framesz[ALT_DP_MAX_PORTS]; /* net_af_packet: its framesz; 0 other drivers */
	struct rte_mempool *pool;               /* ports whose RX descriptors hold mbufs */
	struct rte_mempool *copy_pool;          /* net_af_packet ports: one mbuf per frame received */
	struct {
		uint32_t n;                     /* buffers, 0 = no such pool */
		uint32_t room;                  /* data room of each */
	} pool_plan[2];                         /* [0] pool, [1] copy_pool */
	size_t pipe_bytes;                      /* one worker's pipeline, once created */
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
		uint64_t close_p50_us;
		uint64_t close_p99_us;
	} last_epoch;
	struct alt_hist close_delay;    /* every epoch's close delays (control lcore) */
};

extern struct alt_dp_app g_app;

/* The RSS mode in effect on a port (port_rss), as the summary and
 * telemetry name it. */
static inline const char *
alt_dp_rss_name(uint8_t rss)
{
	return rss == ALT_DP_RSS_L4_SRC ? "l4-src" : rss == ALT_DP_RSS_IP_UDP ? "ip-udp" : "none";
}

/* Open the sinks, the epoch line buffer and the control lcore's epoch
 * statistics; 0, -ENOMEM (pools: the caller prints the memory report) or
 * -1 after saying what failed. */
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
/* Register the /altair/... commands and let them answer; 0, or a negative
 * errno after saying which command could not be registered. */
int alt_dp_telemetry_register(struct alt_dp_app *a);
/* From now on the commands answer empty objects: what they read is about
 * to be released. Waits for an answer in progress. */
void alt_dp_telemetry_stop(struct alt_dp_app *a);
/* Release what alt_dp_ctl_open took (and close sinks still open); safe
 * after a partial open. */
void alt_dp_ctl_close(struct alt_dp_app *a);
/* After an allocation failed at start: what start-up takes from DPDK
 * memory, item by item in bytes, with the settings that size each, the
 * total and what the heap has. */
void alt_dp_mem_report(const struct alt_dp_app *a);

/* Summed counters across workers (for reports and telemetry). */
struct alt_dp_totals {
	struct dp_counters w;                   /* DP_WORKER_COUNTERS */
	struct alt_net_counters net;
	uint64_t pkt_wire[ALT_WIRE_REASON_COUNT];
	uint64_t dgram_net[ALT_NET_OUTCOME_COUNT];
	uint64_t dgram_wire[ALT_WIRE_REASON_COUNT];
	struct alt_net_reasm_stats reasm;
	struct alt_pipe_counters pipe;          /* DP_PIPE_COUNTERS and the arrays */
	uint64_t traces_closed;                 /* all of pipe.traces_closed[] */
	uint64_t pending;
	uint64_t atr_frames_lost, jaeger_batches_lost, jaeger_client_dropped;
	struct alt_pipe_mem_stats mem;
};
void alt_dp_totals(const struct alt_dp_app *a, struct alt_dp_totals *t);

#endif /* ALT_DP_PRIVATE_H */
