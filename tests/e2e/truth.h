/* SPDX-License-Identifier: BSD-3-Clause
 * Reader of altair-gen's ground truth: JSON lines, one object per trace
 *   {"trace_id":"<32 hex>","template":"..","anomaly":"none|unexpected_edge|
 *    missing_subtree|latency|error|extra_subtree","lost_frames":bool,"closes_trace":bool,
 *    "nodes":[{"id":"<16 hex>","parents":["<16 hex>",..],"service":"..",
 *    "operation":"..","kind":"span|event","start_ns":N,"duration_ns":N,
 *    "error":bool},..]}
 * A purpose-built scanner: strict JSON syntax, every key above required,
 * unknown keys skipped. A malformed line fails the whole load with the line
 * number and the reason.
 */
#ifndef E2E_TRUTH_H
#define E2E_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alt_base.h"

enum truth_anomaly {
	TRUTH_ANOM_NONE = 0,
	TRUTH_ANOM_UNEXPECTED_EDGE,
	TRUTH_ANOM_MISSING_SUBTREE,
	TRUTH_ANOM_LATENCY,
	TRUTH_ANOM_ERROR,
	TRUTH_ANOM_EXTRA_SUBTREE,
	TRUTH_ANOM_COUNT
};

const char *truth_anomaly_name(enum truth_anomaly a);

struct truth_node {
	uint64_t id;
	uint64_t parents[ALT_MAX_PARENTS];
	uint8_t n_parents;
	uint8_t kind;           /* enum alt_kind */
	bool error;
	char *service;          /* NUL-terminated, owned */
	char *operation;
	uint64_t start_ns;
	uint64_t duration_ns;
};

struct truth_trace {
	struct alt_trace_id id;
	char *tpl;
	uint8_t anomaly;        /* enum truth_anomaly */
	bool lost;
	bool closes;
	uint32_t n_nodes;
	struct truth_node *nodes;
};

struct truth {
	struct truth_trace *t;
	size_t n;
	size_t cap;
	uint64_t nodes;         /* total over all traces */
	char err[256];
};

/* Load a truth file. 0, or -1 with tr->err ("line N: why"); tr is valid
 * (possibly partly filled) either way and must be freed. */
int truth_load(struct truth *tr, const char *path);

/* Parse one line (without its newline) into *t. 0, or -1 with err set. */
int truth_parse_line(const char *s, size_t len, struct truth_trace *t, char *err, size_t errcap);

void truth_trace_free(struct truth_trace *t);
void truth_free(struct truth *tr);

#endif /* E2E_TRUTH_H */
