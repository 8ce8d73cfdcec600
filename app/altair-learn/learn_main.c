/* SPDX-License-Identifier: BSD-3-Clause
 * altair-learn: template extraction, off the data path.
 *
 * Reads closed traces in full detail (altair --dags FILE --dag-detail full)
 * from a sample of normal traffic, rebuilds each DAG with the appliance's
 * own libraries (lib/dag, lib/shape, lib/tmpl: the same shape hashes, family
 * signatures and edge keys), then:
 *   - counts the distinct shapes, families, call edges and per-(service,
 *     operation) span durations;
 *   - accepts shapes and edges seen in at least --min-support traces, and
 *     families that vary (at least --min-support of their traces have a
 *     shape seen fewer times: the structure repeats, its exact shape not);
 *   - clusters the distinct shapes by the edit distance of their label
 *     sequences under a minimum-description-length criterion (lib/tmpl
 *     tmpl_cluster.c says why) and picks each cluster's representative (its
 *     weighted medoid);
 *   - writes the template file (docs/templates.md) and prints a clustering
 *     report: clusters, sizes, each representative as an indented tree.
 *
 * Usage: altair-learn -o TEMPLATES [options] DAGS.jsonl...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alt_shape.h"
#include "alt_tmpl.h"

#define MAX_NODES 16384
#define MAX_STRINGS (1u << 20)
#define STRING_BYTES (64u << 20)

/* ---- growable arrays and an open-addressing map of 64-bit keys ---- */

struct u64vec {
	uint64_t *v;
	size_t n, cap;
};

static void
vpush(struct u64vec *a, uint64_t x)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 16;
		uint64_t *p = realloc(a->v, nc * sizeof(*p));

		if (p == NULL) {
			fprintf(stderr, "altair-learn: out of memory\n");
			exit(1);
		}
		a->v = p;
		a->cap = nc;
	}
	a->v[a->n++] = x;
}

struct map {
	uint64_t *keys;         /* 0 = empty (keys are hashes; 0 is mapped to 1) */
	uint32_t *idx;
	uint32_t mask, n;
};

static void
map_init(struct map *m, uint32_t slots)
{
	m->mask = slots - 1;
	m->n = 0;
	m->keys = calloc(slots, sizeof(*m->keys));
	m->idx = calloc(slots, sizeof(*m->idx));
	if (m->keys == NULL || m->idx == NULL) {
		fprintf(stderr, "altair-learn: out of memory\n");
		exit(1);
	}
}

/* Index of key, inserting next (returned as is) when absent. */
static uint32_t
map_get(struct map *m, uint64_t key, uint32_t next, bool *added)
{
	if (key == 0)
		key = 1;
	if (2 * (m->n + 1) > m->mask + 1) {
		struct map b;

		map_init(&b, 2 * (m->mask + 1));
		for (uint32_t i = 0; i <= m->mask; i++)
			if (m->keys[i] != 0) {
				bool a;
				map_get(&b, m->keys[i], m->idx[i], &a);
			}
		free(m->keys);
		free(m->idx);
		*m = b;
	}
	for (uint32_t i = (uint32_t)alt_mix64(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->keys[i] == key) {
			*added = false;
			return m->idx[i];
		}
		if (m->keys[i] == 0) {
			m->keys[i] = key;
			m->idx[i] = next;
			m->n++;
			*added = true;
			return next;
		}
	}
}

/* ---- what the sample holds ---- */

struct shape_acc {
	uint64_t hash;
	uint64_t family;
	uint64_t support;
	struct u64vec dur;
	/* the first trace of this shape: its structure, for clustering and
	 * for the representative's tree */
	uint32_t n;
	uint32_t *label;        /* [n] string-pair label ids */
	uint8_t *event;         /* [n] */
	uint32_t *par_off;      /* [n + 1] */
	uint32_t *par;
	uint32_t *level;        /* [n] */
	uint32_t cluster;       /* 1-based, after clustering */
};

struct fam_acc {
	uint64_t sig;
	uint64_t total, rare;
	struct u64vec dur;
	uint32_t heaviest;      /* shape index with the most support */
};

struct edge_acc {
	uint64_t key;
	uint64_t support;
	uint32_t caller, callee;        /* label ids; caller UINT32_MAX = entry */
};

struct op_acc {
	uint64_t key;
	uint32_t label;
	struct u64vec dur;
};

/* A label: (service, operation) as strings. */
struct label {
	char *svc, *op;
};

static struct {
	struct shape_acc *shapes;
	uint32_t n_shapes, cap_shapes;
	struct map shape_map;
	struct fam_acc *fams;
	uint32_t n_fams, cap_fams;
	struct map fam_map;
	struct edge_acc *edges;
	uint32_t n_edges, cap_edges;
	struct map edge_map;
	struct op_acc *ops;
	uint32_t n_ops, cap_ops;
	struct map op_map;
	struct label *labels;
	uint32_t n_labels, cap_labels;
	struct map label_map;
	uint64_t traces, skipped, bad_lines;
} S;

static void *
grow(void *p, uint32_t n, uint32_t *cap, size_t elt)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	p = realloc(p, (size_t)*cap * elt);
	if (p == NULL) {
		fprintf(stderr, "altair-learn: out of memory\n");
		exit(1);
	}
	memset((char *)p + (size_t)n * elt, 0, (size_t)(*cap - n) * elt);
	return p;
}

/* ---- a JSON reader for --dags lines ---- */

struct jr {
	const char *p, *end;
	char *s;                /* string scratch */
	size_t s_cap;
	bool bad;
};

static void
ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static bool
lit(struct jr *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static void
put(struct jr *j, size_t *n, char c)
{
	if (*n + 2 > j->s_cap) {
		j->s_cap = j->s_cap ? j->s_cap * 2 : 256;
		j->s = realloc(j->s, j->s_cap);
		if (j->s == NULL) {
			fprintf(stderr, "altair-learn: out of memory\n");
			exit(1);
		}
	}
	j->s[(*n)++] = c;
}

/* A string into j->s (NUL-terminated); its length, or -1. */
static long
str(struct jr *j)
{
	size_t n = 0;

	if (!lit(j, '"')) {
		j->bad = true;
		return -1;
	}
	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if (c == '\\' && j->p < j->end) {
			char e = *j->p++;

			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;

				for (int k = 0; k < 4 && j->p < j->end; k++) {
					int h = alt_hex_value(*j->p++);
					v = v * 16 + (unsigned)(h < 0 ? 0 : h);
				}
				/* the appliance escapes control bytes only: one byte */
				c = (char)(v & 0xff);
				break;
			}
			default: c = e; break;
			}
		}
		put(j, &n, c);
	}
	if (j->p >= j->end) {
		j->bad = true;
		return -1;
	}
	j->p++;
	put(j, &n, '\0');
	return (long)n - 1;
}

static uint64_t
u64(struct jr *j)
{
	uint64_t v = 0;

	ws(j);
	if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
		j->bad = true;
		return 0;
	}
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		v = v * 10 + (uint64_t)(*j->p++ - '0');
	return v;
}

static void
skip(struct jr *j)
{
	ws(j);
	if (j->p >= j->end) {
		j->bad = true;
		return;
	}
	switch (*j->p) {
	case '"':
		str(j);
		return;
	case '{':
	case '[': {
		char close = *j->p == '{' ? '}' : ']';

		j->p++;
		if (lit(j, close))
			return;
		do {
			if (close == '}') {
				str(j);
				if (!lit(j, ':')) {
					j->bad = true;
					return;
				}
			}
			skip(j);
		} while (!j->bad && lit(j, ','));
		if (!lit(j, close))
			j->bad = true;
		return;
	}
	default:
		while (j->p < j->end && *j->p != ',' && *j->p != '}' && *j->p != ']')
			j->p++;
	}
}

/* ---- one trace ---- */

struct trace_in {
	struct alt_node *v;
	struct alt_parent_ext *ext;
	uint32_t n;
	uint32_t flags_damaged;
	bool has_spans;
	uint64_t duration_ns;
};

static struct alt_intern *g_in;
static struct alt_dag_ws *g_dws;
static struct alt_shape_ws *g_sws;
static struct alt_tmpl_ws *g_tws;

static uint32_t
label_of(uint32_t svc_id, uint32_t op_id)
{
	uint64_t key = alt_tmpl_op_key(alt_intern_hash(g_in, svc_id), alt_intern_hash(g_in, op_id));
	bool added;
	uint32_t i = map_get(&S.label_map, key, S.n_labels, &added);

	if (added) {
		uint32_t l;

		S.labels = grow(S.labels, S.n_labels, &S.cap_labels, sizeof(*S.labels));
		S.labels[i].svc = strdup(alt_intern_str(g_in, svc_id, &l));
		S.labels[i].op = strdup(alt_intern_str(g_in, op_id, &l));
		S.n_labels++;
	}
	return i;
}

static bool
parse_span(struct jr *j, struct trace_in *t)
{
	struct alt_node *x;
	uint64_t parents[ALT_MAX_PARENTS + 1];
	unsigned np = 0;

	if (t->n >= MAX_NODES)
		return false;
	x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	if (!lit(j, '{'))
		return false;
	if (lit(j, '}'))
		return false;
	do {
		if (str(j) < 0 || !lit(j, ':'))
			return false;
		if (strcmp(j->s, "id") == 0) {
			if (str(j) < 0 || alt_parse_id64(j->s, strlen(j->s), &x->node_id) != 0)
				return false;
		} else if (strcmp(j->s, "parents") == 0) {
			if (!lit(j, '['))
				return false;
			if (!lit(j, ']')) {
				do {
					uint64_t p;

					if (str(j) < 0 || alt_parse_id64(j->s, strlen(j->s), &p) != 0)
						return false;
					if (np < ALT_MAX_PARENTS)
						parents[np++] = p;
				} while (lit(j, ','));
				if (!lit(j, ']'))
					return false;
			}
		} else if (strcmp(j->s, "service") == 0) {
			long l = str(j);
			if (l < 0)
				return false;
			x->service_id = alt_intern_get(g_in, j->s, (uint32_t)l);
		} else if (strcmp(j->s, "operation") == 0) {
			long l = str(j);
			if (l < 0)
				return false;
			x->operation_id = alt_intern_get(g_in, j->s, (uint32_t)l);
		} else if (strcmp(j->s, "start_ns") == 0) {
			x->start_ns = u64(j);
		} else if (strcmp(j->s, "duration_ns") == 0) {
			x->duration_ns = u64(j);
		} else if (strcmp(j->s, "kind") == 0) {
			if (str(j) < 0)
				return false;
			x->kind = strcmp(j->s, "event") == 0 ? ALT_KIND_EVENT : ALT_KIND_SPAN;
		} else {
			skip(j);
		}
		if (j->bad)
			return false;
	} while (lit(j, ','));
	if (!lit(j, '}'))
		return false;
	x->parent_count = (uint8_t)np;
	if (np >= 1)
		x->parent0 = parents[0];
	if (np >= 2) {
		x->more = &t->ext[t->n];
		memcpy(x->more->ids, parents + 1, sizeof(uint64_t) * (np - 1));
	}
	t->n++;
	return true;
}

static bool
parse_line(const char *line, size_t len, struct trace_in *t, struct jr *j)
{
	static const char *const damaged[] = { "incomplete", "late_fragment", "truncated", "cycle", "duplicate_id" };

	j->p = line;
	j->end = line + len;
	j->bad = false;
	t->n = 0;
	t->flags_damaged = 0;
	t->has_spans = false;
	if (!lit(j, '{'))
		return false;
	if (lit(j, '}'))
		return true;
	do {
		if (str(j) < 0 || !lit(j, ':'))
			return false;
		if (strcmp(j->s, "flags") == 0) {
			if (!lit(j, '['))
				return false;
			if (!lit(j, ']')) {
				do {
					if (str(j) < 0)
						return false;
					for (unsigned k = 0; k < 5; k++)
						if (strcmp(j->s, damaged[k]) == 0)
							t->flags_damaged |= 1u << k;
				} while (lit(j, ','));
				if (!lit(j, ']'))
					return false;
			}
		} else if (strcmp(j->s, "duration_ns") == 0) {
			t->duration_ns = u64(j);
		} else if (strcmp(j->s, "spans") == 0) {
			t->has_spans = true;
			if (!lit(j, '['))
				return false;
			if (!lit(j, ']')) {
				do {
					if (!parse_span(j, t))
						return false;
				} while (lit(j, ','));
				if (!lit(j, ']'))
					return false;
			}
		} else {
			skip(j);
		}
		if (j->bad)
			return false;
	} while (lit(j, ','));
	return lit(j, '}');
}

/* ---- accumulation ---- */

static void
add_shape(uint64_t shape, uint64_t fam, const struct alt_dag *d)
{
	bool added;
	uint32_t i = map_get(&S.shape_map, shape, S.n_shapes, &added);
	struct shape_acc *s;

	if (added) {
		S.shapes = grow(S.shapes, S.n_shapes, &S.cap_shapes, sizeof(*S.shapes));
		s = &S.shapes[S.n_shapes++];
		s->hash = shape;
		s->family = fam;
		s->n = d->nodes;
		s->label = malloc(sizeof(uint32_t) * d->nodes);
		s->event = malloc(d->nodes);
		s->par_off = malloc(sizeof(uint32_t) * (d->nodes + 1));
		s->par = malloc(sizeof(uint32_t) * (d->par_off[d->nodes] + 1));
		s->level = malloc(sizeof(uint32_t) * d->nodes);
		if (!s->label || !s->event || !s->par_off || !s->par || !s->level) {
			fprintf(stderr, "altair-learn: out of memory\n");
			exit(1);
		}
		for (uint32_t k = 0; k < d->nodes; k++) {
			s->label[k] = label_of(d->v[k]->service_id, d->v[k]->operation_id);
			s->event[k] = d->v[k]->kind == ALT_KIND_EVENT;
			s->level[k] = d->level[k];
		}
		memcpy(s->par_off, d->par_off, sizeof(uint32_t) * (d->nodes + 1));
		memcpy(s->par, d->par, sizeof(uint32_t) * d->par_off[d->nodes]);
	}
	s = &S.shapes[i];
	s->support++;
	vpush(&s->dur, d->duration_ns);
}

static void
add_family(uint64_t fam, uint64_t dur)
{
	bool added;
	uint32_t i = map_get(&S.fam_map, fam, S.n_fams, &added);

	if (added) {
		S.fams = grow(S.fams, S.n_fams, &S.cap_fams, sizeof(*S.fams));
		S.fams[S.n_fams++].sig = fam;
	}
	vpush(&S.fams[i].dur, dur);
}

static void
add_edges(const struct alt_dag *d, uint64_t *seen, uint32_t *n_seen)
{
	uint64_t opk[MAX_NODES];

	*n_seen = 0;
	for (uint32_t i = 0; i < d->nodes; i++)
		opk[i] = alt_tmpl_op_key(alt_intern_hash(g_in, d->v[i]->service_id),
					 alt_intern_hash(g_in, d->v[i]->operation_id));
	for (uint32_t i = 0; i < d->nodes; i++) {
		uint32_t np = d->par_off[i + 1] - d->par_off[i];
		bool entry = d->v[i]->parent_count == 0;

		for (uint32_t j = 0; j < np + entry; j++) {
			uint32_t p = j < np ? d->par[d->par_off[i] + j] : UINT32_MAX;
			uint64_t key = alt_tmpl_edge_key(p == UINT32_MAX ? 0 : opk[p], opk[i]);
			bool added, dup = false;
			uint32_t e;

			/* support counts traces, not calls */
			for (uint32_t k = 0; k < *n_seen && !dup; k++)
				dup = seen[k] == key;
			if (dup)
				continue;
			if (*n_seen < MAX_NODES)
				seen[(*n_seen)++] = key;
			e = map_get(&S.edge_map, key, S.n_edges, &added);
			if (added) {
				S.edges = grow(S.edges, S.n_edges, &S.cap_edges, sizeof(*S.edges));
				S.edges[e].key = key;
				S.edges[e].caller = p == UINT32_MAX ? UINT32_MAX
								    : label_of(d->v[p]->service_id, d->v[p]->operation_id);
				S.edges[e].callee = label_of(d->v[i]->service_id, d->v[i]->operation_id);
				S.n_edges++;
			}
			S.edges[e].support++;
		}
	}
}

static void
add_ops(const struct alt_dag *d)
{
	for (uint32_t i = 0; i < d->nodes; i++) {
		const struct alt_node *n = d->v[i];
		uint64_t key;
		bool added;
		uint32_t o;

		if (n->kind != ALT_KIND_SPAN)
			continue;
		key = alt_tmpl_op_key(alt_intern_hash(g_in, n->service_id), alt_intern_hash(g_in, n->operation_id));
		o = map_get(&S.op_map, key, S.n_ops, &added);
		if (added) {
			S.ops = grow(S.ops, S.n_ops, &S.cap_ops, sizeof(*S.ops));
			S.ops[o].key = key;
			S.ops[o].label = label_of(n->service_id, n->operation_id);
			S.n_ops++;
		}
		vpush(&S.ops[o].dur, n->duration_ns);
	}
}

static int
read_file(const char *path, struct trace_in *t, struct jr *j, uint64_t *seen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0, no_spans = 0;

	if (f == NULL) {
		fprintf(stderr, "altair-learn: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		const struct alt_dag *d;
		uint64_t shape, fam;
		uint32_t n_seen;

		lineno++;
		if (!parse_line(line, (size_t)len, t, j)) {
			if (S.bad_lines++ < 5)
				fprintf(stderr, "altair-learn: %s:%" PRIu64 ": not a --dags line (skipped)\n", path, lineno);
			continue;
		}
		if (!t->has_spans) {
			no_spans++;
			continue;
		}
		if (t->flags_damaged || t->n == 0) {
			S.skipped++;
			continue;
		}
		for (uint32_t i = 0; i < t->n; i++)
			t->v[i].next = i + 1 < t->n ? &t->v[i + 1] : NULL;
		d = alt_dag_build(g_dws, &t->v[0], t->n);
		if (d == NULL || d->flags != 0) {
			S.skipped++;
			continue;
		}
		shape = alt_shape_hash(g_sws, d, g_in);
		fam = alt_tmpl_family(g_tws, d, g_in);
		add_shape(shape, fam, d);
		add_family(fam, d->duration_ns);
		add_edges(d, seen, &n_seen);
		add_ops(d);
		S.traces++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (no_spans > 0) {
		fprintf(stderr, "altair-learn: %s: %" PRIu64 " lines without spans: write the sample with "
			"--dag-detail full\n", path, no_spans);
		return -1;
	}
	return 0;
}

/* ---- results ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
quantile(struct u64vec *v, double q)
{
	size_t k;

	if (v->n == 0)
		return 0;
	qsort(v->v, v->n, sizeof(uint64_t), cmp_u64);
	k = (size_t)ceil(q * (double)v->n);
	return v->v[k == 0 ? 0 : k - 1];
}

/* The label sequence of a shape's first trace: nodes by level, then label. */
static uint32_t *g_sort_label, *g_sort_level;

static int
by_level_label(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (g_sort_level[x] != g_sort_level[y])
		return g_sort_level[x] < g_sort_level[y] ? -1 : 1;
	if (g_sort_label[x] != g_sort_label[y])
		return g_sort_label[x] < g_sort_label[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static uint32_t *
sequence(const struct shape_acc *s)
{
	uint32_t *ord = malloc(sizeof(uint32_t) * (s->n ? s->n : 1)), *tok = malloc(sizeof(uint32_t) * (s->n ? s->n : 1));

	if (ord == NULL || tok == NULL) {
		fprintf(stderr, "altair-learn: out of memory\n");
		exit(1);
	}
	for (uint32_t i = 0; i < s->n; i++)
		ord[i] = i;
	g_sort_label = s->label;
	g_sort_level = s->level;
	qsort(ord, s->n, sizeof(uint32_t), by_level_label);
	for (uint32_t i = 0; i < s->n; i++)
		tok[i] = s->label[ord[i]] * 2 + s->event[ord[i]];
	free(ord);
	return tok;
}

/* The representative as an indented tree: children under their first
 * parent, ordered by label; identical sibling subtrees collapsed into one
 * line with a count; a join shown once, under its first parent. */
struct tree_ctx {
	const struct shape_acc *s;
	uint32_t *child_off, *child;
	uint64_t *sub;                  /* subtree hash per node */
	struct alt_tmpl_tree_line *out;
	uint32_t n_out, cap_out;
};

static uint64_t
subtree_hash(struct tree_ctx *c, uint32_t i)
{
	uint64_t h, acc = 0;

	if (c->sub[i] != 0)
		return c->sub[i];
	h = alt_mix64(((uint64_t)c->s->label[i] << 1 | c->s->event[i]) + 1);
	for (uint32_t k = c->child_off[i]; k < c->child_off[i + 1]; k++)
		acc += alt_mix64(subtree_hash(c, c->child[k]));  /* a multiset of children */
	h = alt_mix64(h ^ acc);
	c->sub[i] = h ? h : 1;
	return c->sub[i];
}

static uint32_t *g_tree_labels;
static struct tree_ctx *g_tree;

/* Siblings by label, then by subtree (identical ones adjacent). */
static int
by_label(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int r = strcmp(S.labels[g_tree_labels[x]].svc, S.labels[g_tree_labels[y]].svc);

	if (r == 0)
		r = strcmp(S.labels[g_tree_labels[x]].op, S.labels[g_tree_labels[y]].op);
	if (r == 0) {
		uint64_t hx = subtree_hash(g_tree, x), hy = subtree_hash(g_tree, y);

		r = hx < hy ? -1 : hx > hy;
	}
	return r ? r : (x < y ? -1 : x > y);
}

static void
tree_emit(struct tree_ctx *c, uint32_t i, uint32_t depth, uint32_t count)
{
	const struct shape_acc *s = c->s;
	uint32_t lo = c->child_off[i], hi = c->child_off[i + 1];
	struct alt_tmpl_tree_line *l;

	c->out = grow(c->out, c->n_out, &c->cap_out, sizeof(*c->out));
	l = &c->out[c->n_out++];
	l->depth = depth;
	l->count = count;
	l->event = s->event[i];
	l->join = s->par_off[i + 1] - s->par_off[i] >= 2;
	l->svc = S.labels[s->label[i]].svc;
	l->op = S.labels[s->label[i]].op;
	g_tree_labels = s->label;
	g_tree = c;
	qsort(c->child + lo, hi - lo, sizeof(uint32_t), by_label);
	for (uint32_t k = lo; k < hi;) {
		uint32_t x = c->child[k], same = 1;

		/* shown under its first parent only */
		if (s->par[s->par_off[x]] != i) {
			k++;
			continue;
		}
		while (k + same < hi && subtree_hash(c, c->child[k + same]) == subtree_hash(c, x))
			same++;
		tree_emit(c, x, depth + 1, same);
		k += same;
	}
}

static void
tree_of(const struct shape_acc *s, struct alt_tmpl_cluster *cl)
{
	struct tree_ctx c = { .s = s };
	uint32_t *cnt = calloc(s->n + 1, sizeof(uint32_t));

	c.child_off = calloc(s->n + 1, sizeof(uint32_t));
	c.child = malloc(sizeof(uint32_t) * (s->par_off[s->n] + 1));
	c.sub = calloc(s->n, sizeof(uint64_t));
	if (cnt == NULL || c.child_off == NULL || c.child == NULL || c.sub == NULL) {
		fprintf(stderr, "altair-learn: out of memory\n");
		exit(1);
	}
	for (uint32_t k = 0; k < s->par_off[s->n]; k++)
		c.child_off[s->par[k] + 1]++;
	for (uint32_t i = 0; i < s->n; i++)
		c.child_off[i + 1] += c.child_off[i];
	for (uint32_t i = 0; i < s->n; i++)
		for (uint32_t k = s->par_off[i]; k < s->par_off[i + 1]; k++)
			c.child[c.child_off[s->par[k]] + cnt[s->par[k]]++] = i;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->par_off[i + 1] == s->par_off[i])
			tree_emit(&c, i, 0, 1);
	cl->tree = c.out;
	cl->n_tree = c.n_out;
	free(cnt);
	free(c.child_off);
	free(c.child);
	free(c.sub);
}

/* Build the model the appliance would (false-positive target fpr) and probe
 * both filters with random keys that are not in them. */
static void
verify_fpr(const struct alt_tmpl_set *set, double fpr, uint64_t probes)
{
	struct alt_tmpl_model_params p;
	struct alt_tmpl_model_info info;
	const struct alt_tmpl_model *m;
	size_t sz;
	void *mem = NULL;
	uint64_t x = 0x243f6a8885a308d3ULL, fp_s = 0, fp_e = 0;

	alt_tmpl_model_params_default(&p);
	p.fpr = fpr;
	sz = alt_tmpl_model_memsize(set, &p);
	if (sz == 0 || posix_memalign(&mem, 64, sz) != 0 || (m = alt_tmpl_model_build(mem, sz, set, &p)) == NULL) {
		fprintf(stderr, "altair-learn: --verify-fpr %g: cannot build the model\n", fpr);
		free(mem);
		return;
	}
	for (uint64_t i = 0; i < probes; i++) {
		x += 0x9e3779b97f4a7c15ULL;
		fp_s += alt_bloom_contains(m->shapes, alt_mix64(x));
		fp_e += alt_bloom_contains(m->edges, alt_mix64(x ^ 0x5555555555555555ULL));
	}
	alt_tmpl_model_info(m, &info);
	printf("filters sized for a false-positive rate of %g, probed with %" PRIu64 " keys not in them:\n", fpr, probes);
	printf("  shapes: %" PRIu64 " keys, %" PRIu64 " bits, k %u: estimated %.6f, observed %.6f\n", info.shape_keys,
	       info.shape_bits, info.shape_k, info.shape_fpr, (double)fp_s / (double)probes);
	printf("  edges:  %" PRIu64 " keys, %" PRIu64 " bits, k %u: estimated %.6f, observed %.6f\n", info.edge_keys,
	       info.edge_bits, info.edge_k, info.edge_fpr, (double)fp_e / (double)probes);
	free(mem);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: altair-learn -o TEMPLATES [options] DAGS.jsonl...\n"
		"Learn templates of normal traces from closed traces in full detail\n"
		"(altair --dags FILE --dag-detail full) of a sample of normal traffic.\n"
		"\n"
		"  -o, --out FILE             template file to write (required)\n"
		"  --min-support N            traces a shape, family or edge needs (default 3)\n"
		"  --min-latency-samples N    spans (traces) an op (shape) needs for a latency\n"
		"                             limit (default 20)\n"
		"  --mdl-gain G               a shape joins a cluster when its edits cost at most\n"
		"                             G times describing it alone, 0 < G <= 1 (default 1)\n"
		"  --report-lines N           tree lines per cluster in the report (default 40)\n"
		"  --verify-fpr P             build the filters the appliance would for a target\n"
		"                             false-positive rate P; print estimated and observed rates\n"
		"  -q, --quiet                no clustering report\n"
		"  --help\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "min-support", required_argument, NULL, 's' },
		{ "min-latency-samples", required_argument, NULL, 'l' },
		{ "mdl-gain", required_argument, NULL, 'g' },
		{ "report-lines", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verify-fpr", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	uint64_t min_support = 3, min_lat = 20, report_lines = 40;
	double gain = 1.0, vfpr = 0;
	bool quiet = false;
	int opt;
	struct trace_in t;
	struct jr j = { 0 };
	uint64_t *seen;
	struct alt_tmpl_set set;
	FILE *f;

	while ((opt = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
		char *end = NULL;

		switch (opt) {
		case 'o': out = optarg; break;
		case 's': min_support = strtoull(optarg, &end, 10); break;
		case 'l': min_lat = strtoull(optarg, &end, 10); break;
		case 'r': report_lines = strtoull(optarg, &end, 10); break;
		case 'g': gain = strtod(optarg, &end); break;
		case 'v': vfpr = strtod(optarg, &end); break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end != NULL && (*end != '\0' || end == optarg)) {
			fprintf(stderr, "altair-learn: bad value '%s'\n", optarg);
			return 2;
		}
	}
	if (out == NULL || optind >= argc || min_support == 0 || !(gain > 0 && gain <= 1)) {
		usage(stderr);
		return 2;
	}
	g_in = alt_intern_init(malloc(alt_intern_memsize(MAX_STRINGS, STRING_BYTES)), MAX_STRINGS, STRING_BYTES);
	g_dws = alt_dag_ws_init(malloc(alt_dag_ws_memsize(MAX_NODES)), MAX_NODES);
	g_sws = alt_shape_ws_init(malloc(alt_shape_ws_memsize(MAX_NODES)), MAX_NODES);
	g_tws = alt_tmpl_ws_init(malloc(alt_tmpl_ws_memsize(MAX_NODES)), MAX_NODES);
	t.v = calloc(MAX_NODES, sizeof(*t.v));
	t.ext = calloc(MAX_NODES, sizeof(*t.ext));
	seen = malloc(sizeof(uint64_t) * MAX_NODES);
	if (!g_in || !g_dws || !g_sws || !g_tws || !t.v || !t.ext || !seen) {
		fprintf(stderr, "altair-learn: out of memory\n");
		return 1;
	}
	map_init(&S.shape_map, 1024);
	map_init(&S.fam_map, 1024);
	map_init(&S.edge_map, 1024);
	map_init(&S.op_map, 1024);
	map_init(&S.label_map, 1024);
	for (int i = optind; i < argc; i++)
		if (read_file(argv[i], &t, &j, seen) != 0)
			return 1;
	if (S.traces == 0) {
		fprintf(stderr, "altair-learn: no whole trace in the input\n");
		return 1;
	}

	/* families: which vary */
	for (uint32_t i = 0; i < S.n_shapes; i++) {
		bool added;
		struct fam_acc *fa = &S.fams[map_get(&S.fam_map, S.shapes[i].family, 0, &added)];

		fa->total += S.shapes[i].support;
		if (S.shapes[i].support < min_support)
			fa->rare += S.shapes[i].support;
		if (fa->total == S.shapes[i].support || S.shapes[i].support > S.shapes[fa->heaviest].support)
			fa->heaviest = i;
	}

	/* clusters of distinct shapes */
	struct alt_tmpl_seq *seqs = calloc(S.n_shapes, sizeof(*seqs));
	uint32_t *cl = calloc(S.n_shapes, sizeof(uint32_t)), *rep = calloc(S.n_shapes, sizeof(uint32_t));
	uint32_t n_cl;

	if (seqs == NULL || cl == NULL || rep == NULL)
		return 1;
	for (uint32_t i = 0; i < S.n_shapes; i++) {
		seqs[i].tok = sequence(&S.shapes[i]);
		seqs[i].n = S.shapes[i].n;
		seqs[i].weight = S.shapes[i].support;
	}
	n_cl = alt_tmpl_cluster(seqs, S.n_shapes, 2 * S.n_labels + 2, gain, cl, rep);
	if (n_cl == 0)
		return 1;
	/* clusters numbered 1.. by traces, descending */
	uint64_t *cl_traces = calloc(n_cl, sizeof(uint64_t));
	uint32_t *cl_shapes = calloc(n_cl, sizeof(uint32_t)), *order = malloc(sizeof(uint32_t) * n_cl);
	uint32_t *id_of = malloc(sizeof(uint32_t) * n_cl);
	bool *variable = calloc(n_cl, sizeof(bool));

	if (!cl_traces || !cl_shapes || !order || !id_of || !variable)
		return 1;
	for (uint32_t i = 0; i < S.n_shapes; i++) {
		cl_traces[cl[i]] += S.shapes[i].support;
		cl_shapes[cl[i]]++;
	}
	for (uint32_t c = 0; c < n_cl; c++)
		order[c] = c;
	for (uint32_t a = 1; a < n_cl; a++)     /* insertion sort: few clusters */
		for (uint32_t b = a; b > 0 && cl_traces[order[b]] > cl_traces[order[b - 1]]; b--) {
			uint32_t x = order[b];
			order[b] = order[b - 1];
			order[b - 1] = x;
		}
	for (uint32_t k = 0; k < n_cl; k++)
		id_of[order[k]] = k + 1;
	for (uint32_t i = 0; i < S.n_shapes; i++)
		S.shapes[i].cluster = id_of[cl[i]];

	/* the set */
	alt_tmpl_set_init(&set);
	set.traces = S.traces;
	set.min_support = min_support;
	snprintf(set.source, sizeof(set.source), "altair-learn over %d file(s), %" PRIu64 " traces", argc - optind,
		 S.traces);
	uint64_t acc_shapes = 0, acc_fams = 0, acc_edges = 0, covered = 0;

	for (uint32_t i = 0; i < S.n_fams; i++) {
		struct fam_acc *fa = &S.fams[i];

		if (fa->total == 0 || fa->rare < min_support)
			continue;
		variable[cl[fa->heaviest]] = true;
	}
	for (uint32_t k = 0; k < n_cl; k++) {
		uint32_t c = order[k];
		const struct shape_acc *r = &S.shapes[rep[c]];
		struct alt_tmpl_cluster cc = { .id = k + 1, .traces = cl_traces[c], .shapes = cl_shapes[c],
					       .variable = variable[c], .rep = r->hash, .rep_nodes = r->n };

		tree_of(r, &cc);
		if (alt_tmpl_set_add_cluster(&set, &cc) != 0)
			return 1;
		free(cc.tree);
	}
	for (uint32_t i = 0; i < S.n_shapes; i++) {
		struct shape_acc *s = &S.shapes[i];
		struct alt_tmpl_shape sh = { .hash = s->hash, .support = s->support, .cluster = s->cluster };

		if (s->support < min_support)
			continue;
		sh.p50_ns = quantile(&s->dur, 0.5);
		sh.p99_ns = s->support >= min_lat ? quantile(&s->dur, 0.99) : 0;
		if (alt_tmpl_set_add_shape(&set, &sh) != 0)
			return 1;
		acc_shapes++;
		covered += s->support;
	}
	for (uint32_t i = 0; i < S.n_fams; i++) {
		struct fam_acc *fa = &S.fams[i];
		struct alt_tmpl_shape sh = { .hash = fa->sig, .support = fa->total, .family = true };

		if (fa->total == 0 || fa->rare < min_support)
			continue;
		sh.cluster = S.shapes[fa->heaviest].cluster;
		sh.p50_ns = quantile(&fa->dur, 0.5);
		sh.p99_ns = fa->dur.n >= min_lat ? quantile(&fa->dur, 0.99) : 0;
		if (alt_tmpl_set_add_shape(&set, &sh) != 0)
			return 1;
		acc_fams++;
		covered += fa->rare;
	}
	for (uint32_t i = 0; i < S.n_edges; i++) {
		const struct edge_acc *e = &S.edges[i];

		if (e->support < min_support)
			continue;
		if (alt_tmpl_set_add_edge(&set, e->support, e->caller == UINT32_MAX ? "" : S.labels[e->caller].svc,
					  e->caller == UINT32_MAX ? "" : S.labels[e->caller].op, S.labels[e->callee].svc,
					  S.labels[e->callee].op) != 0)
			return 1;
		acc_edges++;
	}
	for (uint32_t i = 0; i < S.n_ops; i++) {
		struct op_acc *o = &S.ops[i];
		bool enough = o->dur.n >= min_lat;

		if (alt_tmpl_set_add_op(&set, S.labels[o->label].svc, S.labels[o->label].op, o->dur.n,
					quantile(&o->dur, 0.5), enough ? quantile(&o->dur, 0.99) : 0) != 0)
			return 1;
	}
	f = fopen(out, "w");
	if (f == NULL || alt_tmpl_set_write(&set, f) != 0 || fclose(f) != 0) {
		fprintf(stderr, "altair-learn: cannot write '%s': %s\n", out, strerror(errno));
		return 1;
	}

	if (!quiet) {
		printf("altair-learn: %" PRIu64 " traces (%" PRIu64 " damaged ones skipped), %u distinct shapes, "
		       "%u families, %u edges, %u operations\n",
		       S.traces, S.skipped, S.n_shapes, S.n_fams, S.n_edges, S.n_ops);
		printf("accepted (support >= %" PRIu64 "): %" PRIu64 " shapes, %" PRIu64 " varying families, %" PRIu64
		       " edges; they cover %.2f%% of the sample's traces\n",
		       min_support, acc_shapes, acc_fams, acc_edges, 100.0 * (double)covered / (double)S.traces);
		printf("%u clusters (edit distance of label sequences, MDL gain %.2f):\n", n_cl, gain);
		for (uint32_t k = 0; k < set.n_clusters; k++) {
			const struct alt_tmpl_cluster *c = &set.clusters[k];

			printf("\ncluster %u: %" PRIu64 " traces (%.1f%%), %u shape%s%s, representative %016" PRIx64
			       " (%u nodes)\n",
			       c->id, c->traces, 100.0 * (double)c->traces / (double)S.traces, c->shapes,
			       c->shapes == 1 ? "" : "s", c->variable ? ", varies in repetition (family accepted)" : "",
			       c->rep, c->rep_nodes);
			for (uint32_t l = 0; l < c->n_tree && l < report_lines; l++) {
				const struct alt_tmpl_tree_line *tl = &c->tree[l];

				printf("  %*s%s%s %s%s", (int)(2 * (tl->depth < 30 ? tl->depth : 30)), "",
				       tl->event ? "@" : "", tl->svc, tl->op, tl->join ? " (join)" : "");
				if (tl->count > 1)
					printf(" x%u", tl->count);
				printf("\n");
			}
			if (c->n_tree > report_lines)
				printf("  ... %u more lines in %s\n", c->n_tree - (uint32_t)report_lines, out);
		}
		printf("\nwrote %s\n", out);
	}
	if (vfpr > 0)
		verify_fpr(&set, vfpr, 4000000);
	alt_tmpl_set_free(&set);
	return 0;
}
