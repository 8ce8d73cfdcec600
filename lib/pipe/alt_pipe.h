/* SPDX-License-Identifier: BSD-3-Clause
 * The per-worker trace pipeline, pure C: decode -> reorder -> sessionize ->
 * DAG -> shape -> epoch statistics. One instance per worker lcore; no locks.
 * All memory is taken once at create time through the caller's allocator
 * (malloc in tests, hugepage memory on the NUMA socket in the appliance).
 *
 * Accounting: every record decoded here or received from another worker
 * ends under exactly one record outcome (ALT_PIPE_REC_OUTCOMES) once it has
 * left the pipeline; until then it is pending (in the reorder buffer or in
 * an open trace). "steered" is a transfer to the owning worker, which counts
 * the record again as received: across all workers, decoded records equal
 * the final outcomes (everything but steered) once nothing is in flight.
 * After alt_pipe_drain nothing is pending.
 */
#ifndef ALT_PIPE_H
#define ALT_PIPE_H

#include "alt_base.h"
#include "alt_dag.h"
#include "alt_reorder.h"
#include "alt_session.h"
#include "alt_sources.h"
#include "alt_shape.h"
#include "alt_stats.h"
#include "alt_tmpl.h"
#include "alt_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct alt_pipe_cfg {
	uint64_t reorder_ns;            /* disorder allowed within one source, default 100 ms */
	uint64_t bucket_ns;             /* reorder granularity, default 1 ms */
	uint64_t gap_ns;                /* inactivity gap, default 2 s */
	uint64_t grace_ns;              /* CLOSES_TRACE grace, default 50 ms */
	uint64_t epoch_ns;              /* statistics epoch, default 1 s */
	uint32_t max_nodes;             /* node pool (records held), default 1 Mi */
	uint32_t max_exts;              /* parent-extension pool, default max_nodes / 8 */
	uint32_t max_traces;            /* open traces, default 128 Ki */
	uint32_t max_nodes_per_trace;   /* default 4096 */
	uint32_t closed_cache;          /* closed IDs remembered for late fragments, default 128 Ki */
	uint32_t max_strings;           /* interned service/operation names, default 64 Ki */
	uint32_t string_bytes;          /* default 4 MiB */
	uint32_t max_records;           /* records per payload, default 4096 */
	uint32_t arena_bytes;           /* decoder scratch arena, default 1 MiB */
	uint32_t session_wheel_slots;   /* default 4096 (ticks of 1 ms) */
	struct alt_stats_params stats;
	bool want_shape_text;           /* compute canonical shape text for each trace */
	bool want_critical_path;        /* compute each trace's critical path (default on; only --dags shows it) */
	/* Sources (alt_sources.h): table size, idle timeout floor, cap and
	 * multiple, warm-up hold; the disorder is reorder_ns. */
	uint32_t max_sources;           /* default 4096 */
	uint32_t idle_mult;             /* default 4 */
	uint64_t idle_min_ns;           /* default 250 ms */
	uint64_t idle_max_ns;           /* default 60 s */
	uint64_t warmup_ns;             /* default 10 s */
	uint32_t lag_obs;               /* payloads before a source's lag bounds it, default 4 (0 = never) */
	uint64_t reorder_span_ns;       /* event time the reorder ring spans; 0 (default) = 16384 buckets */
	/* Sharding: with shard_count > 1 (at most ALT_PIPE_MAX_SHARDS),
	 * records whose trace another worker owns are handed to hooks.steer
	 * instead of being fed here. */
	uint32_t shard_self;
	uint32_t shard_count;
	/* Owner by trace: NULL = alt_trace_owner(); else owner_table[fold16 &
	 * 0x3FFF] (ALT_PIPE_OWNER_TABLE entries), so that the owner can equal
	 * the RX queue NIC RSS on the ATR/1 source port picks. */
	const uint16_t *owner_table;
};

#define ALT_PIPE_OWNER_TABLE 16384
#define ALT_PIPE_MAX_SHARDS 64
/* Service and operation names are kept up to this many bytes (the ATR/1
 * limit); longer ones are cut and counted (names_truncated). */
#define ALT_PIPE_NAME_MAX 255u

/* The worker that owns a trace under cfg's sharding (0 without sharding). */
static inline unsigned
alt_pipe_owner(const struct alt_pipe_cfg *c, const struct alt_trace_id *t)
{
	if (c->shard_count <= 1)
		return 0;
	if (c->owner_table != NULL)
		return c->owner_table[alt_trace_fold16(t) & (ALT_PIPE_OWNER_TABLE - 1)];
	return alt_trace_owner(t, c->shard_count);
}

void alt_pipe_cfg_default(struct alt_pipe_cfg *c);

/* Record outcomes (final). X-macro: the name is the counter/JSON key. */
#define ALT_PIPE_REC_OUTCOMES(X) \
	X(IN_TRACE, "in_trace") \
	X(LATE_FRAGMENT, "late_fragment") \
	X(DROPPED_TRACE_FULL, "dropped_trace_full") \
	X(DROPPED_NO_MEMORY, "dropped_no_memory") \
	X(DROPPED_STEER_FULL, "dropped_steer_full") \
	X(STEERED, "steered")

enum alt_pipe_rec_outcome {
#define ALT_PIPE_REC_ENUM(e, s) ALT_PIPE_REC_##e,
	ALT_PIPE_REC_OUTCOMES(ALT_PIPE_REC_ENUM)
#undef ALT_PIPE_REC_ENUM
	ALT_PIPE_REC_COUNT
};
const char *alt_pipe_rec_outcome_name(enum alt_pipe_rec_outcome o);

/* Counters, single writer (the owning lcore); readers sum instances. */
struct alt_pipe_counters {
	uint64_t payloads[ALT_FMT_COUNT];               /* payloads offered, by format */
	uint64_t payloads_ok;
	uint64_t rejected[ALT_WIRE_REASON_COUNT];       /* payloads rejected, by reason */
	uint64_t records_decoded;
	uint64_t records_received;                      /* steered in from other workers */
	uint64_t steer_frames;                          /* frames handed to hooks.steer */
	uint64_t records[ALT_PIPE_REC_COUNT];           /* by final outcome */
	uint64_t late;                                  /* records behind the watermark (also counted in an outcome) */
	uint64_t parents_truncated;
	uint64_t names_truncated;                       /* service or operation names cut to 255 bytes */
	uint64_t foreign_refs;
	uint64_t traces_closed[ALT_CLOSED_COUNT];       /* by enum alt_closed_by */
	uint64_t traces_flagged;                        /* closed with any flag */
	uint64_t traces_incomplete;
	uint64_t late_fragments;                        /* late-fragment traces emitted */
	uint64_t pressure_closes;                       /* traces closed because a pool ran dry */
	uint64_t reorder_pressure_flushes;              /* reorder buffer released early: pools dry, no trace open */
	uint64_t epochs;                                /* epochs handed to the hook */
	uint64_t epochs_lost;                           /* no statistics object available */
	uint64_t source_releases;                       /* sources (or the warm-up) no longer waited for: pools short */
	/* Sum (mod 2^64) over closed traces of a hash of (trace ID, records,
	 * flags): runs that closed the same traces with the same records have
	 * the same sum, whatever the order and however many workers. */
	uint64_t traces_digest;
	uint64_t dag_too_big;                           /* traces larger than the DAG workspace */
	uint64_t reopened;                              /* CLOSES_TRACE closes found incomplete, reopened */
	/* anomaly checks (templates set with alt_pipe_set_templates) */
	uint64_t anomaly_checked;                       /* traces checked against a model */
	uint64_t anomaly_traces;                        /* traces flagged with any anomaly */
	uint64_t anomaly_shape;                         /* by reason */
	uint64_t anomaly_edge;
	uint64_t anomaly_latency;
};

/* Flags of a closed trace, as reported ("flags":[...]). */
#define ALT_PIPE_TRACE_FLAGS(X) \
	X(INCOMPLETE, "incomplete") \
	X(LATE_FRAGMENT, "late_fragment") \
	X(TRUNCATED, "truncated") \
	X(CYCLE, "cycle") \
	X(DUPLICATE_ID, "duplicate_id") \
	X(LATE_RECORDS, "late_records") \
	X(ERROR, "error") \
	X(ANOMALY_SHAPE, "anomaly_shape") \
	X(ANOMALY_EDGE, "anomaly_edge") \
	X(ANOMALY_LATENCY, "anomaly_latency")

enum {
#define ALT_PIPE_TF_ENUM(e, s) ALT_PIPE_TFB_##e,
	ALT_PIPE_TRACE_FLAGS(ALT_PIPE_TF_ENUM)
#undef ALT_PIPE_TF_ENUM
	ALT_PIPE_TFB_COUNT
};
#define ALT_PIPE_TF(name) (1u << ALT_PIPE_TFB_##name)
/* The anomaly flags: what the templates found, not how the trace was collected. */
#define ALT_PIPE_TF_ANOMALY (ALT_PIPE_TF(ANOMALY_SHAPE) | ALT_PIPE_TF(ANOMALY_EDGE) | ALT_PIPE_TF(ANOMALY_LATENCY))
const char *alt_pipe_trace_flag_name(unsigned bit);

/* What a hook sees of one closed trace; valid during the call only. */
struct alt_trace_view {
	const struct alt_trace *trace;
	const struct alt_dag *dag;      /* NULL if the trace exceeded the DAG workspace */
	const struct alt_intern *intern;
	uint64_t shape;
	const char *shape_text;         /* NULL unless cfg.want_shape_text */
	uint32_t flags;                 /* ALT_PIPE_TF(...) */
	uint32_t records;               /* records the trace accounts for */
	/* The check against the templates in force, NULL when none were: the
	 * model's generation, and the unknown edges and slow nodes by DAG
	 * index. */
	const struct alt_tmpl_verdict *verdict;
};

struct alt_pipe_hooks {
	void *ctx;
	/* A trace closed. Synchronous; copy what you keep. */
	void (*trace_closed)(void *ctx, const struct alt_trace_view *v);
	/* An epoch's partial statistics are complete on this pipe (its
	 * watermark passed the epoch's end just now): ownership of st passes
	 * to the hook. */
	void (*epoch_done)(void *ctx, uint64_t epoch, struct alt_stats *st);
	/* A fresh statistics object (the pipe resets it); NULL = none available
	 * (that epoch's statistics are lost and counted). If stats_get is NULL the
	 * pipe allocates with its allocator and never frees them: the hook must
	 * return them with alt_pipe_stats_put. */
	struct alt_stats *(*stats_get)(void *ctx);
	/* Records owned by worker `owner` (sharding), in arrival order: copy
	 * them out now (records and strings are borrowed; alt_pipe_steer_add
	 * writes them into a steering frame) and return how many were
	 * accepted; the rest are counted dropped_steer_full. */
	unsigned (*steer)(void *ctx, unsigned owner, const struct alt_record *const *recs, unsigned n);
};

/* Allocator for create: zeroed or not, aligned to 64 bytes. */
struct alt_pipe_alloc {
	void *(*alloc)(void *ctx, size_t size, const char *what);
	void (*free)(void *ctx, void *p);
	void *ctx;
};

struct alt_pipe;

/* Create with cfg (NULL = defaults); alloc NULL = malloc. NULL on failure. */
struct alt_pipe *alt_pipe_create(const struct alt_pipe_cfg *cfg, const struct alt_pipe_alloc *alloc,
				 const struct alt_pipe_hooks *hooks);
void alt_pipe_destroy(struct alt_pipe *p);

/* Decode one payload into the pipe's decoder output (no feeding). */
enum alt_wire_reason alt_pipe_decode(struct alt_pipe *p, enum alt_wire_format fmt,
				     const uint8_t *buf, size_t len, const struct alt_wire_out **out);
/* Feed decoded records (copied into pooled nodes; strings interned). */
void alt_pipe_feed(struct alt_pipe *p, const struct alt_record *recs, unsigned n);
/* Steering frames: records travel to their owner as an ATR/1 frame
 * without attributes (nothing after decoding reads them), built in place
 * in the sender's buffer. alt_pipe_steer_add appends recs[0..n) to the
 * frame of *len bytes at buf (cap bytes; *len == 0 begins a frame from
 * worker src) and returns how many went in: fewer than n when the frame is
 * full (1024 records or cap bytes), so send it and add the rest to a new
 * one. Service and operation names are cut to ALT_PIPE_NAME_MAX bytes, as
 * every pipe cuts them (so any record fits an empty frame); cap must be at
 * least ALT_PIPE_STEER_MIN_CAP (else nothing is added). */
#define ALT_PIPE_STEER_MIN_CAP 1024u
unsigned alt_pipe_steer_add(uint8_t *buf, size_t cap, size_t *len, uint32_t src,
			    const struct alt_record *const *recs, unsigned n);
/* Records in a steering frame. */
unsigned alt_pipe_steer_count(const uint8_t *buf, size_t len);
/* Feed records another worker steered here: a steering frame (an ATR/1
 * frame), decoded without loss accounting, never re-steered. Returns the
 * decode result (a bad frame is counted rejected). */
enum alt_wire_reason alt_pipe_feed_steered(struct alt_pipe *p, const uint8_t *frame, size_t len);
/* Where a payload came from: its UDP flow (a hash of source and
 * destination address and port; the source when the payload names no
 * sender) and its arrival time (capture timestamp under replay, the clock
 * when live; never earlier than the last one given). */
struct alt_pipe_origin {
	uint64_t flow;
	uint64_t arrival_ns;
};
/* Decode and feed a payload from origin o: its records' highest event time
 * is the progress of the source it names (alt_sources.h). */
enum alt_wire_reason alt_pipe_input_from(struct alt_pipe *p, enum alt_wire_format fmt,
					 const uint8_t *buf, size_t len,
					 const struct alt_pipe_origin *o);
/* Decode and feed, as from flow 0 arriving now (the pipe's clock). */
enum alt_wire_reason alt_pipe_input(struct alt_pipe *p, enum alt_wire_format fmt,
				    const uint8_t *buf, size_t len);
/* The arrival clock moved on without a payload (call at least every few
 * milliseconds while the input is quiet): sources go idle by it. */
void alt_pipe_clock(struct alt_pipe *p, uint64_t now_ns);
/* Sharding: worker `peer` will steer nothing here with an event time
 * below progress (its alt_pipe_progress, read before the steering frames
 * it had sent by then were fed here). Until a peer reports, it holds the
 * watermark at 0; ALT_SOURCES_NONE: it constrains nothing. */
void alt_pipe_peer_progress(struct alt_pipe *p, unsigned peer, uint64_t progress);
/* What this pipe promises its peers: the watermark over the sources it
 * receives from (not over its peers); ALT_SOURCES_NONE before any. */
uint64_t alt_pipe_progress(struct alt_pipe *p);
/* Sharded pipes driven from one thread (tests, benchmarks): every pipe
 * tells every other its progress, as workers do after sending their
 * steering frames (call it after delivering them). */
void alt_pipe_exchange_progress(struct alt_pipe *const *pipes, unsigned n);
/* The templates closed traces are checked against from now on (NULL:
 * none). The model must stay valid until the next call: the appliance
 * calls this once per loop iteration with the pointer it read, and frees
 * an old model only after every worker has passed a quiescent point. */
void alt_pipe_set_templates(struct alt_pipe *p, const struct alt_tmpl_model *m);

/* Release what the watermark allows, close expired traces, analyse them,
 * hand out finished epochs. Call once per burst (cheap when idle). */
void alt_pipe_advance(struct alt_pipe *p);
/* End of input: flush the reorder buffer, close every trace (drain), emit
 * the last epoch. The pipe stays usable. */
void alt_pipe_drain(struct alt_pipe *p);

/* Return a statistics object obtained from the hook (when stats_get is NULL). */
void alt_pipe_stats_put(struct alt_pipe *p, struct alt_stats *st);
/* A statistics object of this pipe's parameters, for merging (allocated). */
struct alt_stats *alt_pipe_stats_new(struct alt_pipe *p);

const struct alt_pipe_counters *alt_pipe_counters(const struct alt_pipe *p);
const struct alt_sources *alt_pipe_sources(const struct alt_pipe *p);
struct alt_wire_ctx *alt_pipe_wire_ctx(struct alt_pipe *p);
const struct alt_intern *alt_pipe_intern(const struct alt_pipe *p);
uint64_t alt_pipe_watermark(const struct alt_pipe *p);
/* Records decoded but not yet under a final outcome. */
uint64_t alt_pipe_pending(const struct alt_pipe *p);

struct alt_pipe_mem_stats {
	size_t total_bytes;             /* everything allocated at create */
	uint32_t nodes_in_use, nodes_peak, nodes_cap;
	uint32_t exts_in_use, exts_peak;
	uint32_t traces_open, traces_peak;
	uint32_t reorder_buffered, reorder_peak;
	uint32_t strings;
};
void alt_pipe_mem_stats(const struct alt_pipe *p, struct alt_pipe_mem_stats *m);

/* ---- JSON text (pipe_json.c) ---- */

/* One --dags line (with '\n'): the summary object, plus "spans" when full.
 * Returns the length needed (like snprintf); buf holds a truncated prefix
 * when cap is too small. */
size_t alt_pipe_format_trace(const struct alt_trace_view *v, bool full, char *buf, size_t cap);

/* One --epochs line (with '\n'). topn: top pairs listed; every shape and
 * every (service, operation) is listed. */
size_t alt_pipe_format_epoch(const struct alt_stats *st, uint64_t epoch, uint64_t epoch_ns,
			     double processing_delay_ms, unsigned topn, char *buf, size_t cap);

/* JSON string escaping helper: appends "..." for s[0..len) to buf at *off. */
void alt_json_str(char *buf, size_t cap, size_t *off, const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* ALT_PIPE_H */
