/* SPDX-License-Identifier: BSD-3-Clause
 * Per-epoch statistics: log-bucketed latency histograms (relative error
 * <= 1%, mergeable) per (service, operation) and per shape, Space-Saving
 * top-k of (caller service -> callee service) pairs (mergeable), shape counts
 * and counters. Keys are strings/hashes, never per-lcore ids, so partials
 * from different lcores merge. Memory: memsize + init; bounded tables, what
 * does not fit is counted.
 */
#ifndef ALT_STATS_H
#define ALT_STATS_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- histogram ----
 * Values in ns. Exact below 128; above, 64 linear sub-buckets per power of
 * two; a quantile returns the bucket midpoint: relative error <= 1/128. */
#define ALT_HIST_SUB_BITS 6
#define ALT_HIST_BUCKETS ((64 - ALT_HIST_SUB_BITS) * (1u << ALT_HIST_SUB_BITS) + (1u << ALT_HIST_SUB_BITS))

struct alt_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint32_t lo_bucket;     /* first and last non-empty bucket (for fast scans) */
	uint32_t hi_bucket;
	uint32_t b[ALT_HIST_BUCKETS];
};

void alt_hist_reset(struct alt_hist *h);
void alt_hist_add(struct alt_hist *h, uint64_t v);
void alt_hist_merge(struct alt_hist *dst, const struct alt_hist *src);
/* q in [0,1]; 0 for an empty histogram. */
uint64_t alt_hist_quantile(const struct alt_hist *h, double q);
unsigned alt_hist_bucket(uint64_t v);
uint64_t alt_hist_bucket_mid(unsigned b);

/* ---- Space-Saving top-k ---- */
struct alt_topk_item {
	uint64_t key;           /* hash of (caller, callee) */
	uint64_t count;
	uint64_t error;         /* overestimation bound */
	uint32_t a_id, b_id;    /* caller, callee: ids in the owning alt_stats string table */
};

/* ---- per-epoch statistics ---- */
struct alt_stats_params {
	uint32_t max_ops;       /* (service, operation) histograms, default 1024 */
	uint32_t max_shapes;    /* shape histograms, default 1024 */
	uint32_t topk;          /* Space-Saving counters, default 64 */
	uint32_t max_strings;   /* strings kept for keys, default 4096 */
	uint32_t string_bytes;  /* default 256 KiB */
};

struct alt_stats_op {
	uint32_t service;       /* string ids (alt_stats_str) */
	uint32_t operation;
	struct alt_hist h;
};

struct alt_stats_shape {
	uint64_t shape;
	uint64_t count;
	struct alt_hist h;      /* trace durations */
};

struct alt_stats_counters {
	uint64_t records;       /* records that entered sessions this epoch */
	uint64_t traces_closed;
	uint64_t late;          /* records behind the watermark */
	uint64_t ops_overflow;  /* spans not counted: op table full */
	uint64_t shapes_overflow;
	uint64_t strings_overflow;
	/* anomaly checks against templates (lib/tmpl) */
	uint64_t anomaly_checked;       /* traces checked */
	uint64_t anomaly_traces;        /* traces flagged with any anomaly */
	uint64_t anomaly_shape;         /* ... by reason (a trace may have several) */
	uint64_t anomaly_edge;
	uint64_t anomaly_latency;
};

struct alt_stats;

void alt_stats_params_default(struct alt_stats_params *p);
size_t alt_stats_memsize(const struct alt_stats_params *p);
struct alt_stats *alt_stats_init(void *mem, const struct alt_stats_params *p);
/* Empty it for a new epoch (keeps its memory). */
void alt_stats_reset(struct alt_stats *st, uint64_t epoch);

uint64_t alt_stats_epoch(const struct alt_stats *st);
struct alt_stats_counters *alt_stats_counters(struct alt_stats *st);
const struct alt_stats_counters *alt_stats_counters_const(const struct alt_stats *st);
/* Named drop counters (reason -> count), merged by name. */
void alt_stats_add_dropped(struct alt_stats *st, const char *reason, uint64_t n);

/* One span's latency under (service, operation); strings with their
 * alt_hash_bytes(.., 0) hashes (alt_intern_hash gives them). */
void alt_stats_add_span(struct alt_stats *st, const char *svc, uint32_t svc_len, uint64_t svc_hash,
			const char *op, uint32_t op_len, uint64_t op_hash, uint64_t duration_ns);
/* One closed trace of this shape and duration. */
void alt_stats_add_trace(struct alt_stats *st, uint64_t shape, uint64_t duration_ns);
/* One call edge between two different services. */
void alt_stats_add_pair(struct alt_stats *st, const char *caller, uint32_t caller_len, uint64_t caller_hash,
			const char *callee, uint32_t callee_len, uint64_t callee_hash);

/* What a closed trace's nodes add, for callers whose names are ids of an
 * alt_intern table (the pipeline): for i = 0 .. n-1 in order, node v[i]'s
 * alt_stats_add_span (if its kind is ALT_KIND_SPAN), then one
 * alt_stats_add_pair(parent's service, its service) per parent v[par[j]],
 * j in [par_off[i], par_off[i + 1]) (CSR: n + 1 nondecreasing offsets).
 * The result is exactly that of those calls with the ids' strings and
 * hashes. Faster: the object caches, per pair of ids, the op and the top-k
 * counter they landed in, so a repeated span or pair fetches no string or
 * hash; the cache is emptied by reset and whenever another table is passed
 * (tables are told apart by address). Within one table an id must always
 * name the same string (alt_intern never reuses ids). The cache adds at
 * most 64 * max_ops + 384 * topk bytes to memsize. */
void alt_stats_add_nodes(struct alt_stats *st, const struct alt_intern *in, struct alt_node *const *v,
			 uint32_t n, const uint32_t *par_off, const uint32_t *par);

/* One closed trace's close delay: the arrival time of its last record to
 * its closing, in ns of the arrival clock. */
void alt_stats_add_close_delay(struct alt_stats *st, uint64_t ns);
const struct alt_hist *alt_stats_close_delay(const struct alt_stats *st);

/* dst += src (histograms, shape counts, top-k per the Space-Saving merge, counters, drops). */
void alt_stats_merge(struct alt_stats *dst, const struct alt_stats *src);

/* Readers. Strings by id; arrays valid until the next change. */
const char *alt_stats_str(const struct alt_stats *st, uint32_t id);
unsigned alt_stats_ops(const struct alt_stats *st, const struct alt_stats_op **ops);
unsigned alt_stats_shapes(const struct alt_stats *st, const struct alt_stats_shape **shapes);
/* Top pairs by count, descending (ties by caller then callee name), at most cap. */
unsigned alt_stats_top_pairs(const struct alt_stats *st, struct alt_topk_item *out, unsigned cap);
/* Drop reasons: returns the count of distinct reasons; fills names/counts up to cap. */
unsigned alt_stats_dropped(const struct alt_stats *st, const char **names, uint64_t *counts, unsigned cap);

#ifdef __cplusplus
}
#endif

#endif /* ALT_STATS_H */
