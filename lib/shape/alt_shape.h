/* SPDX-License-Identifier: BSD-3-Clause
 * Trace shape: a 64-bit canonical hash of a DAG's structure labelled by
 * (service, operation, kind), independent of node IDs, timing, arrival order
 * and of the multiplicity of identical sibling subtrees (a fan-out of 3 or 12
 * identical calls is one shape). A node's label also says whether it is a
 * join (two or more present parents, so a join differs from a copy; a
 * fan-in of 3 or 12 identical branches is still one shape) and whether it
 * has a missing parent. Cycle nodes are left out. A canonical text serialization
 * goes with it: the same text iff the same shape.
 *
 * Text grammar (children and roots sorted by their text, duplicates
 * collapsed):
 *   shape := node (';' node)*
 *   node  := label [ '(' node (',' node)* ')' ]
 *   label := ['?'] ['@'] service '/' operation ['^']
 * '?' = has a missing parent, '@' = point event, '^' = a join (two or more present
 * parents; how many is a multiplicity, so it is not part of the shape).
 * Service and operation have '\', '(', ')', ',', ';', '/', '^' escaped with '\';
 * a '?' or '@' that starts the service is escaped too (so it cannot read as
 * a marker). Identical sibling subtrees are recognised by node hash.
 */
#ifndef ALT_SHAPE_H
#define ALT_SHAPE_H

#include "alt_base.h"
#include "alt_dag.h"

#ifdef __cplusplus
extern "C" {
#endif

struct alt_shape_ws;

size_t alt_shape_ws_memsize(uint32_t max_nodes);
struct alt_shape_ws *alt_shape_ws_init(void *mem, uint32_t max_nodes);

/* Shape hash of a built DAG; labels come from the intern table. */
uint64_t alt_shape_hash(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in);

/* Canonical text into buf (NUL-terminated, truncated to cap-1; buf may be
 * NULL when cap is 0). Returns the full length the text needs (excluding
 * NUL), like snprintf; the length saturates at SIZE_MAX / 2 when the
 * unfolding is huge (stacked diamonds double it per layer). Work stays
 * polynomial: children are ordered comparing at most cap bytes. */
size_t alt_shape_text(struct alt_shape_ws *ws, const struct alt_dag *d, const struct alt_intern *in,
		      char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ALT_SHAPE_H */
