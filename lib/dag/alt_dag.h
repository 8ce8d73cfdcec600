/* SPDX-License-Identifier: BSD-3-Clause
 * DAG building for one closed trace: nodes, edges (parent references to
 * nodes present in the trace), roots, orphans, joins, depth, width,
 * end-to-end duration, critical path, error count. Duplicate node IDs and
 * reference cycles are detected and flagged; nothing loops forever.
 * Workspace memory is the caller's (memsize + init), sized for the largest
 * trace; alt_dag_build reuses it, so a result is valid until the next build.
 */
#ifndef ALT_DAG_H
#define ALT_DAG_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	ALT_DAG_INCOMPLETE = 1u << 0,   /* at least one parent reference is missing */
	ALT_DAG_CYCLE = 1u << 1,        /* reference cycle among present nodes */
	ALT_DAG_DUPLICATE_ID = 1u << 2, /* a node ID occurred more than once */
};

struct alt_dag {
	/* summary */
	uint32_t nodes;                 /* distinct node IDs (later duplicates excluded) */
	uint32_t edges;                 /* parent references to present nodes, deduplicated */
	uint32_t roots;                 /* nodes with no parent reference at all */
	uint32_t orphans;               /* nodes with at least one missing parent */
	uint32_t missing_parents;       /* distinct missing parent IDs */
	uint32_t joins;                 /* nodes with >= 2 present parents */
	uint32_t depth;                 /* nodes on the longest parent chain (acyclic part); 1 = a lone node */
	uint32_t width;                 /* most nodes on one depth level */
	uint32_t errors;                /* nodes with ALT_RF_ERROR */
	uint32_t duplicates;            /* records dropped as duplicate IDs */
	uint32_t cycle_nodes;           /* nodes on or behind a cycle (excluded from depth) */
	uint32_t flags;                 /* ALT_DAG_* */
	uint64_t start_ns;              /* min start */
	uint64_t end_ns;                /* max(start + duration) */
	uint64_t duration_ns;           /* end - start */
	/* Heaviest root-to-leaf path where a node weighs its self time:
	 * duration minus the union of its children's intervals clipped to its
	 * own interval (a point event weighs 0). */
	uint64_t critical_path_ns;

	/* detail, indices 0..nodes-1 */
	struct alt_node **v;            /* the distinct nodes */
	uint32_t *par_off;              /* [nodes+1] CSR of present parents */
	uint32_t *par;                  /* parent indices */
	uint32_t *child_off;            /* [nodes+1] CSR of children */
	uint32_t *child;                /* child indices */
	uint32_t *level;                /* depth level, 1-based; 0 = in/behind a cycle */
	uint32_t *topo;                 /* [nodes - cycle_nodes] parents before children */
	uint32_t n_topo;
	uint8_t *missing;               /* [nodes] 1 if this node has a missing parent */
	uint8_t *on_critical;           /* [nodes] 1 if on the critical path */
};

struct alt_dag_ws;

size_t alt_dag_ws_memsize(uint32_t max_nodes);
struct alt_dag_ws *alt_dag_ws_init(void *mem, uint32_t max_nodes);

/* Compute the critical path in builds (the default) or not (then
 * critical_path_ns is 0 and on_critical all 0): it is the costliest step
 * and only per-trace output needs it. */
void alt_dag_ws_set_critical_path(struct alt_dag_ws *ws, bool on);

/* Build the DAG of n_nodes nodes linked through next. Returns the result
 * (inside the workspace), or NULL if n_nodes exceeds the workspace size. */
const struct alt_dag *alt_dag_build(struct alt_dag_ws *ws, struct alt_node *list, uint32_t n_nodes);

#ifdef __cplusplus
}
#endif

#endif /* ALT_DAG_H */
