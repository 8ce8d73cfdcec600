/* SPDX-License-Identifier: BSD-3-Clause
 * Sessionization: the open-trace table keyed by 128-bit trace ID.
 * A trace closes when no record arrived for gap_ns of event time (timer
 * wheel keyed by event time), or early when a CLOSES_TRACE record is present,
 * every parent referenced by the trace's nodes is present, and close_grace_ns
 * of event time passed after that record. Records of a recently closed trace
 * open a "late fragment" trace, flagged. Hard bounds: max_traces open traces
 * (when full, the oldest open trace is closed early by "pressure") and
 * max_nodes_per_trace (more nodes are dropped, the trace is marked
 * truncated). Nodes come from the caller's node pool and go back to it (and
 * their parent extensions to the ext pool) on release.
 */
#ifndef ALT_SESSION_H
#define ALT_SESSION_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct alt_session_params {
	uint64_t gap_ns;                /* default 2 s */
	uint64_t close_grace_ns;        /* default 50 ms */
	uint64_t tick_ns;               /* timer wheel granularity, default 1 ms */
	uint32_t wheel_slots;           /* power of two, default 4096 */
	uint32_t max_traces;            /* open traces, default 65536 */
	uint32_t max_nodes_per_trace;   /* default 4096 */
	uint32_t closed_cache;          /* recently closed IDs remembered, default 65536 */
	uint64_t closed_ttl_ns;         /* how long (event time) a closed ID is remembered, default 4 * gap */
	/* false (default): at the grace deadline the session checks that every
	 * referenced parent is present before closing by CLOSES_TRACE. true: it
	 * closes without checking and the caller, which builds the trace's DAG
	 * anyway, hands an incomplete one back with alt_session_reopen. */
	bool defer_completeness;
	/* Node-pointer chunks (7 node pointers each) kept per trace beside its
	 * list, so that alt_session_warm can fetch a closed trace's nodes in
	 * parallel instead of chasing the list one miss at a time; 0 = none.
	 * A trace that finds none spare is warmed by its list. */
	uint32_t warm_chunks;
};

enum alt_closed_by {
	ALT_CLOSED_GAP = 0,
	ALT_CLOSED_CLOSES_TRACE = 1,
	ALT_CLOSED_DRAIN = 2,
	ALT_CLOSED_PRESSURE = 3,
};
/* Ways a trace closes (outside the enum, so switches need no extra case). */
#define ALT_CLOSED_COUNT (ALT_CLOSED_PRESSURE + 1)
const char *alt_closed_by_name(enum alt_closed_by c);  /* "gap", "closes_trace", "drain", "pressure" */

/* Trace flags (the session sets TRUNCATED and LATE_FRAGMENT; the DAG builder
 * reports INCOMPLETE, CYCLE and DUPLICATE_ID in its own result). */
enum {
	ALT_TF_TRUNCATED = 1u << 0,
	ALT_TF_LATE_FRAGMENT = 1u << 1,
};

struct alt_node_chunk;

/* A trace handed out by alt_session_poll_closed. Public fields are read-only
 * for the caller; the rest is the session's. */
struct alt_trace {
	/* cache line 0: what a lookup and an add touch */
	struct alt_trace_id trace_id;
	struct alt_trace *hnext;        /* private: hash chain */
	struct alt_node *nodes;         /* linked through next, most recent first */
	uint64_t first_ns;              /* min start_ns */
	uint64_t last_ns;               /* max event time (alt_node_event_ns) seen */
	uint64_t deadline_ns;           /* private */
	uint32_t n_nodes;
	uint16_t flags;                 /* ALT_TF_* */
	uint8_t closed_by;              /* enum alt_closed_by */
	uint8_t has_closer;             /* a CLOSES_TRACE node is present */
	/* cache line 1 */
	uint32_t late_records;          /* nodes that arrived behind the watermark */
	uint32_t dropped_nodes;         /* refused by max_nodes_per_trace */
	uint64_t closed_at_ns;          /* watermark when it closed */
	/* private */
	struct alt_trace *wnext;        /* wheel slot / closed list */
	struct alt_trace *aprev, *anext; /* age list (oldest first) */
	uint32_t wslot;
	uint32_t state;
	struct alt_node_chunk *chunks;  /* private: most recent first */
	uint8_t chunk_fill;             /* private: pointers in the first chunk */
	uint8_t chunk_lost;             /* private: a node went unrecorded */
	uint8_t pad[2];
	uint32_t last_arrival;          /* latest node arrival (alt_node.arrival units) */
};

enum alt_session_add_result {
	ALT_SESS_ADDED = 0,             /* attached to an open trace (new or existing) */
	ALT_SESS_ADDED_LATE_FRAGMENT,   /* attached to a late-fragment trace */
	ALT_SESS_DROPPED_TRACE_FULL,    /* node freed: trace at max_nodes_per_trace */
};

struct alt_session_stats {
	uint64_t traces_opened;
	uint64_t traces_closed[ALT_CLOSED_COUNT]; /* by enum alt_closed_by */
	uint64_t late_fragments;        /* late-fragment traces opened */
	uint64_t reopened;              /* CLOSES_TRACE closes handed back (incomplete) */
	uint64_t nodes_dropped_trace_full;
	uint64_t truncated;             /* traces marked truncated */
	uint32_t open;                  /* open now */
	uint32_t open_peak;
	uint32_t closed_cache_used;
	uint32_t warm_chunks_used;      /* node-pointer chunks held by traces */
};

struct alt_session;

size_t alt_session_memsize(const struct alt_session_params *p);
/* Fill p with the defaults above. */
void alt_session_params_default(struct alt_session_params *p);
struct alt_session *alt_session_init(void *mem, const struct alt_session_params *p,
				     struct alt_pool *node_pool, struct alt_pool *ext_pool);

/* Add one node; ownership passes to the session (a dropped node is freed).
 * late: it arrived behind the reorder watermark. Event time for the gap is
 * alt_node_event_ns(n) (a span's end). May close the oldest trace by pressure (see poll_closed). */
enum alt_session_add_result alt_session_add(struct alt_session *s, struct alt_node *n, bool late);

/* Prefetch for a coming alt_session_add(n): call with stage 0 about eight
 * nodes ahead and with stage 1 about four nodes ahead. */
void alt_session_prefetch(const struct alt_session *s, const struct alt_node *n, unsigned stage);

/* Advance event time to watermark: traces whose gap (or grace) expired are
 * closed and queued for alt_session_poll_closed. */
void alt_session_advance(struct alt_session *s, uint64_t watermark);

/* Close the oldest open trace with closed_by = pressure (the caller's pools
 * ran dry). Returns 0, or -ENOENT when no trace is open. */
int alt_session_evict_oldest(struct alt_session *s);

/* Close every open trace with closed_by = drain (end of input, shutdown). */
void alt_session_drain(struct alt_session *s);

/* Take up to cap closed traces, in closing order. */
unsigned alt_session_poll_closed(struct alt_session *s, struct alt_trace **out, unsigned cap);

/* A polled trace closed by CLOSES_TRACE turned out to miss a parent (with
 * defer_completeness): put it back in the table, open, waiting for its gap
 * (a new CLOSES_TRACE node or any node re-arms the grace). Its age is reset
 * to now. 0, or -EINVAL if t is not a polled, closed trace. */
int alt_session_reopen(struct alt_session *s, struct alt_trace *t);

/* Bring the nodes of n polled traces into cache (they went cold while the
 * traces waited for their gap or grace) before they are walked: every node
 * is prefetched, the traces' chunk chains are walked in lock step. */
void alt_session_warm(struct alt_trace *const *t, unsigned n);

/* Give a polled trace back: its nodes return to the pools. */
void alt_session_release(struct alt_session *s, struct alt_trace *t);

void alt_session_get_stats(const struct alt_session *s, struct alt_session_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* ALT_SESSION_H */
