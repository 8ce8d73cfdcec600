/* SPDX-License-Identifier: BSD-3-Clause
 * Templates of normal traces and the anomaly checks built from them.
 *
 * A template set (struct alt_tmpl_set, control side, heap) is what a
 * template file holds or what online learning produced: accepted shapes
 * and shape families with their support and latency percentiles, accepted
 * call edges (caller service/operation -> callee service/operation), and
 * latency percentiles per (service, operation); a file also carries the
 * clusters it was learned from (representatives, memberships), which the
 * checks do not use.
 *
 * A model (struct alt_tmpl_model, memsize + init on caller memory, then
 * read-only) is what the workers check against: two Bloom filters (shapes
 * and shape families; call edges) and two latency tables ((service,
 * operation) -> limit; shape or family -> limit), each limit being the
 * learned p99 times the latency factor. Its generation number is recorded
 * on every trace it flags.
 *
 * Keys are computed from string content hashes (alt_hash_bytes(s, len, 0),
 * which alt_intern_hash gives), so a file learned anywhere checks traces on
 * any worker.
 *
 * Shape families: a trace whose exact shape is not known may still fit a
 * family, a structure that varies in repetition (an HDFS read whose block
 * chains have 50 to 62 packets never repeats an exact shape). Its family
 * signature (alt_tmpl_family) hashes the set of distinct local patterns
 * (a node's label with the set of its children's labels and the set of its
 * parents' labels): chain lengths and multiplicities vanish, a missing or
 * extra call changes the set. Families are accepted only where learning
 * saw one vary (see alt_tmpl_learn_* and docs/anomalies.md).
 */
#ifndef ALT_TMPL_H
#define ALT_TMPL_H

#include <stdio.h>

#include "alt_base.h"
#include "alt_bloom.h"
#include "alt_dag.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- keys ---- */

/* (service, operation) from their content hashes. */
static inline uint64_t
alt_tmpl_op_key(uint64_t svc_hash, uint64_t op_hash)
{
	return alt_mix64(svc_hash ^ alt_mix64(op_hash + 0x2545f4914f6cdd1dULL));
}

/* A call edge; caller 0 = the trace's entry (a root node). */
static inline uint64_t
alt_tmpl_edge_key(uint64_t caller_op_key, uint64_t callee_op_key)
{
	return alt_mix64(caller_op_key * 0x9e3779b97f4a7c15ULL ^ callee_op_key);
}

/* A family signature as a shape-filter key (never equal to the exact shape
 * hash of the same value: the filters hold both). */
static inline uint64_t
alt_tmpl_family_key(uint64_t family)
{
	return alt_mix64(family ^ 0xf00dfacec0ffee11ULL);
}

/* The op key of a pair of strings. */
uint64_t alt_tmpl_op_key_str(const char *svc, size_t svc_len, const char *op, size_t op_len);

/* ---- template sets ---- */

struct alt_tmpl_shape {
	uint64_t hash;          /* exact shape hash, or family signature */
	uint64_t support;       /* traces seen */
	uint32_t cluster;       /* 0 = none */
	bool family;            /* a family signature, not an exact shape */
	uint64_t p50_ns, p99_ns;        /* trace duration; p99 0 = no limit */
};

struct alt_tmpl_edge {
	uint64_t key;
	uint64_t support;
	/* names, NULL when learned online (keys only); caller "" = entry */
	char *caller_svc, *caller_op, *callee_svc, *callee_op;
};

struct alt_tmpl_op {
	uint64_t key;
	uint64_t count;
	uint64_t p50_ns, p99_ns;        /* span duration; p99 0 = no limit */
	char *svc, *op;                 /* NULL when learned online */
};

struct alt_tmpl_tree_line {
	uint32_t depth;
	uint32_t count;         /* identical siblings collapsed */
	bool event;
	bool join;              /* a join, shown once under its first parent */
	char *svc, *op;
};

struct alt_tmpl_cluster {
	uint32_t id;
	uint64_t traces;
	uint32_t shapes;
	bool variable;          /* its family signatures are accepted */
	uint64_t rep;           /* the representative's exact shape */
	uint32_t rep_nodes;
	struct alt_tmpl_tree_line *tree;        /* the representative, indented */
	uint32_t n_tree;
};

struct alt_tmpl_set {
	struct alt_tmpl_shape *shapes;
	uint32_t n_shapes, cap_shapes;
	struct alt_tmpl_edge *edges;
	uint32_t n_edges, cap_edges;
	struct alt_tmpl_op *ops;
	uint32_t n_ops, cap_ops;
	struct alt_tmpl_cluster *clusters;
	uint32_t n_clusters, cap_clusters;
	uint64_t min_support;           /* as learned (informational) */
	uint64_t traces;                /* in the sample */
	char source[256];               /* where it came from (a comment) */
};

void alt_tmpl_set_init(struct alt_tmpl_set *s);
void alt_tmpl_set_free(struct alt_tmpl_set *s);
/* Append; 0 or -ENOMEM. Strings are copied (NULL allowed). */
int alt_tmpl_set_add_shape(struct alt_tmpl_set *s, const struct alt_tmpl_shape *sh);
int alt_tmpl_set_add_edge(struct alt_tmpl_set *s, uint64_t support, const char *caller_svc, const char *caller_op,
			  const char *callee_svc, const char *callee_op);
int alt_tmpl_set_add_edge_key(struct alt_tmpl_set *s, uint64_t key, uint64_t support);
int alt_tmpl_set_add_op(struct alt_tmpl_set *s, const char *svc, const char *op, uint64_t count, uint64_t p50_ns,
			uint64_t p99_ns);
int alt_tmpl_set_add_op_key(struct alt_tmpl_set *s, uint64_t key, uint64_t count, uint64_t p50_ns, uint64_t p99_ns);
/* A cluster (its tree is copied). */
int alt_tmpl_set_add_cluster(struct alt_tmpl_set *s, const struct alt_tmpl_cluster *c);

/* Write the set as a template file (docs/templates.md); 0 or -EIO. */
int alt_tmpl_set_write(const struct alt_tmpl_set *s, FILE *f);
/* Parse a template file's text (len bytes) into s (initialised, empty).
 * 0, or -EINVAL with err = "line N: reason" (s then holds what was read
 * before the error: free it). */
int alt_tmpl_set_parse(struct alt_tmpl_set *s, const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a file; errors name the file or the line. */
int alt_tmpl_set_load(struct alt_tmpl_set *s, const char *path, char *err, size_t errlen);

/* ---- models ---- */

struct alt_tmpl_model_params {
	double fpr;                     /* target false-positive rate of both filters */
	uint64_t shape_keys;            /* expected keys; 0 = those in the set */
	uint64_t edge_keys;
	double latency_factor;          /* limit = p99 * factor; 0 = no latency checks */
	uint64_t generation;
};

void alt_tmpl_model_params_default(struct alt_tmpl_model_params *p);

struct alt_tmpl_lat {
	uint64_t key;                   /* 0 = empty slot */
	uint64_t limit_ns;
};

struct alt_tmpl_model {
	uint64_t generation;
	double latency_factor;
	const struct alt_bloom *shapes; /* exact shapes and family keys */
	const struct alt_bloom *edges;
	const struct alt_tmpl_lat *op_lat;      /* [op_mask + 1] */
	const struct alt_tmpl_lat *shape_lat;   /* [shape_mask + 1] */
	uint32_t op_mask, shape_mask;
	uint32_t n_shapes, n_families, n_edges, n_op_limits, n_shape_limits;
	bool has_families;
	size_t bytes;
};

/* Bytes a model of s under p needs; 0 for bad parameters. */
size_t alt_tmpl_model_memsize(const struct alt_tmpl_set *s, const struct alt_tmpl_model_params *p);
/* Build on mem (memsize bytes, 64-byte aligned). NULL for bad parameters. */
struct alt_tmpl_model *alt_tmpl_model_build(void *mem, size_t size, const struct alt_tmpl_set *s,
					    const struct alt_tmpl_model_params *p);

struct alt_tmpl_model_info {
	uint64_t generation;
	uint64_t shape_keys, edge_keys;
	uint32_t families, op_limits, shape_limits;
	uint64_t shape_bits, edge_bits;
	uint32_t shape_k, edge_k;
	double shape_fpr, edge_fpr;     /* estimated at the keys held */
	double fpr_target;
	double latency_factor;
	size_t bytes;
};
void alt_tmpl_model_info(const struct alt_tmpl_model *m, struct alt_tmpl_model_info *out);

/* ---- checks (per worker, on a workspace) ---- */

enum {
	ALT_TMPL_SHAPE = 1u << 0,       /* neither the shape nor a family is known */
	ALT_TMPL_EDGE = 1u << 1,        /* a call edge is not known */
	ALT_TMPL_LATENCY = 1u << 2,     /* a node or the trace exceeds its limit */
};

#define ALT_TMPL_MAX_REPORT 8

struct alt_tmpl_verdict {
	uint32_t flags;                 /* ALT_TMPL_* */
	uint64_t generation;
	bool shape_checked;             /* the trace was intact enough to check its shape */
	bool family;                    /* accepted by its family, not its exact shape */
	uint32_t n_edges;               /* distinct unknown edges (the first few are listed) */
	struct {
		uint32_t parent;        /* DAG index of the caller, UINT32_MAX = entry */
		uint32_t child;
	} edge[ALT_TMPL_MAX_REPORT];
	uint32_t n_slow;                /* nodes over their limit (the first few are listed) */
	struct {
		uint32_t node;
		uint64_t limit_ns;
	} slow[ALT_TMPL_MAX_REPORT];
	bool trace_slow;
	uint64_t trace_limit_ns;
};

struct alt_tmpl_ws;

size_t alt_tmpl_ws_memsize(uint32_t max_nodes);
struct alt_tmpl_ws *alt_tmpl_ws_init(void *mem, uint32_t max_nodes);

/* Check a closed trace against m: its shape (when check_shape: the trace is
 * structurally intact), every call edge, every span's latency and the
 * trace's. Returns v->flags. */
uint32_t alt_tmpl_check(struct alt_tmpl_ws *ws, const struct alt_tmpl_model *m, const struct alt_dag *d,
			const struct alt_intern *in, uint64_t shape, bool check_shape, struct alt_tmpl_verdict *v);

/* The family signature of a DAG (see above). */
uint64_t alt_tmpl_family(struct alt_tmpl_ws *ws, const struct alt_dag *d, const struct alt_intern *in);

/* The distinct edge keys of a DAG into keys[] (at most cap); returns how
 * many. Entry edges included. */
uint32_t alt_tmpl_edge_keys(struct alt_tmpl_ws *ws, const struct alt_dag *d, const struct alt_intern *in,
			    uint64_t *keys, uint32_t cap);

/* ---- online learning: observation tables (memsize + init, bounded) ----
 * Per worker and epoch: shapes (with their family), families and edges
 * seen, with counts; merged on the control side. */

enum alt_tmpl_obs_kind {
	ALT_TMPL_OBS_SHAPE = 1,
	ALT_TMPL_OBS_FAMILY = 2,
	ALT_TMPL_OBS_EDGE = 3,
};

struct alt_tmpl_obs_ent {
	uint64_t key;
	uint64_t count;
	uint64_t aux;           /* a shape's family signature */
	uint32_t kind;          /* enum alt_tmpl_obs_kind, 0 = empty */
	uint32_t pad;
};

struct alt_tmpl_obs {
	uint32_t mask;
	uint32_t n;
	uint32_t max;           /* entries kept (at most half the slots) */
	uint32_t pad;
	uint64_t traces;        /* traces observed */
	uint64_t overflow;      /* observations lost: table full */
	struct alt_tmpl_obs_ent ent[];
};

size_t alt_tmpl_obs_memsize(uint32_t max_entries);
struct alt_tmpl_obs *alt_tmpl_obs_init(void *mem, uint32_t max_entries);
void alt_tmpl_obs_reset(struct alt_tmpl_obs *o);
void alt_tmpl_obs_add(struct alt_tmpl_obs *o, enum alt_tmpl_obs_kind kind, uint64_t key, uint64_t aux, uint64_t n);
/* Observe one closed trace (its shape, family and edges). */
void alt_tmpl_obs_trace(struct alt_tmpl_obs *o, struct alt_tmpl_ws *ws, const struct alt_dag *d,
			const struct alt_intern *in, uint64_t shape);
/* dst += src (what does not fit is counted in dst's overflow). */
void alt_tmpl_obs_merge(struct alt_tmpl_obs *dst, const struct alt_tmpl_obs *src);

/* Accept what an observation table holds into s: shapes and edges seen at
 * least min_support times; families that varied (at least min_support of
 * their traces had shapes seen fewer than min_support times: the family,
 * not its exact shapes, is what repeats). Latency comes separately
 * (alt_tmpl_set_add_op_key, shape p99s). 0 or -ENOMEM. */
int alt_tmpl_learn_accept(struct alt_tmpl_set *s, const struct alt_tmpl_obs *o, uint64_t min_support);

/* ---- clustering (altair-learn) ----
 * Shapes as token sequences (labels in a canonical order), clustered by
 * edit distance under a minimum description length criterion: a shape
 * joins the nearest cluster when describing it as edits of the cluster's
 * representative costs fewer bits than describing it on its own. */

/* Levenshtein distance of two token sequences, or bound + 1 if it exceeds
 * bound (banded: O(bound * max(na, nb))). */
uint32_t alt_tmpl_edit_distance(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb, uint32_t bound);

/* Bits to describe a sequence of n tokens over an alphabet of `alphabet`
 * symbols on its own, and as d edits of a sequence of n_ref tokens. */
double alt_tmpl_mdl_alone(uint32_t n, uint32_t alphabet);
double alt_tmpl_mdl_edits(uint32_t d, uint32_t n_ref, uint32_t alphabet);

struct alt_tmpl_seq {
	const uint32_t *tok;
	uint32_t n;
	uint64_t weight;        /* support: traces with this shape */
};

/* Cluster n sequences (any order): visited by descending weight, each
 * joins the cluster whose representative it is cheapest to describe from,
 * if that beats describing it alone by the factor gain (0 < gain <= 1;
 * 1 = plain MDL), else founds a cluster. Then each cluster's representative
 * becomes its weighted medoid (least total description cost of the
 * members from it), and members are reassigned once. cluster_of[i] gets
 * 0-based cluster ids, rep_of[c] the representative's index. Returns the
 * number of clusters, or 0 on allocation failure. */
uint32_t alt_tmpl_cluster(const struct alt_tmpl_seq *seqs, uint32_t n, uint32_t alphabet, double gain,
			  uint32_t *cluster_of, uint32_t *rep_of);

#ifdef __cplusplus
}
#endif

#endif /* ALT_TMPL_H */
