/* SPDX-License-Identifier: BSD-3-Clause
 * Event-time reorder buffer. Nodes are bucketed by event time
 * (alt_node_event_ns: a span's end, an event's timestamp) at a
 * configurable granularity; the watermark is the highest event time seen
 * minus the reorder window. A node older than the watermark when pushed is
 * "late": it is not buffered, the caller handles it (and it is counted).
 * Buckets wholly below the watermark's bucket are released in bucket order
 * (arrival order within a bucket). Memory: alt_reorder_memsize + init.
 */
#ifndef ALT_REORDER_H
#define ALT_REORDER_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct alt_reorder_params {
	uint64_t window_ns;     /* default 200 ms */
	uint64_t bucket_ns;     /* default 1 ms; window_ns / bucket_ns <= 1<<20 */
	uint32_t max_items;     /* nodes buffered at most (the node pool's size); 0 = 1 Mi */
	/* External watermark: only alt_reorder_raise moves it (max-seen minus
	 * the window does not); window_ns then only sizes the ring, and a node
	 * further ahead of the released buckets than the ring spans is kept in
	 * the ring's last bucket (released early, never late). */
	bool external;
};

struct alt_reorder_stats {
	uint64_t pushed;        /* buffered */
	uint64_t late;          /* refused as late */
	uint64_t released;
	uint64_t overflow;      /* refused (counted late too): more than max_items buffered */
	uint32_t buffered;      /* now */
	uint32_t buffered_peak;
};

struct alt_reorder;

/* Bytes for a buffer with these parameters; 0 if the parameters are invalid. */
size_t alt_reorder_memsize(const struct alt_reorder_params *p);
/* NULL if the parameters are invalid. */
struct alt_reorder *alt_reorder_init(void *mem, const struct alt_reorder_params *p);

/* Buffer n. Returns 0 if buffered, 1 if late (n untouched, not buffered;
 * also when more than max_items are buffered, counted in overflow).
 * Advances max-seen and watermark. */
int alt_reorder_push(struct alt_reorder *r, struct alt_node *n);

/* Release up to cap nodes from buckets below the watermark's bucket, oldest
 * bucket first (prefetched for the caller). Returns how many were written to
 * out[]; call again while the return equals cap. */
unsigned alt_reorder_pop(struct alt_reorder *r, struct alt_node **out, unsigned cap);

/* Current watermark (0 before the first push). */
uint64_t alt_reorder_watermark(const struct alt_reorder *r);
/* Highest event time seen (0 before the first push). */
uint64_t alt_reorder_max_seen(const struct alt_reorder *r);

/* The input went quiet: raise max-seen to t (if later) as if a record with
 * event time t had arrived, so the watermark keeps moving. */
void alt_reorder_advance_time(struct alt_reorder *r, uint64_t t);

/* Raise the watermark to w (never lowers it). */
void alt_reorder_raise(struct alt_reorder *r, uint64_t w);

/* End of input: raise the watermark past every buffered node so that pop
 * releases everything. Later pushes are still accepted. */
void alt_reorder_flush(struct alt_reorder *r);

void alt_reorder_get_stats(const struct alt_reorder *r, struct alt_reorder_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* ALT_REORDER_H */
