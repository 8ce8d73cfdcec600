/* SPDX-License-Identifier: BSD-3-Clause
 * Template sets and the template file format (docs/templates.md):
 *
 *   altair-templates<TAB>1
 *   # comment lines, blank lines
 *   sample<TAB>TRACES<TAB>MIN-SUPPORT
 *   cluster<TAB>ID<TAB>TRACES<TAB>SHAPES<TAB>yes|no<TAB>REP-SHAPE<TAB>REP-NODES
 *   tree<TAB>ID<TAB>DEPTH<TAB>COUNT<TAB>span|event|join-span|join-event<TAB>SERVICE<TAB>OPERATION
 *   shape<TAB>HASH<TAB>SUPPORT<TAB>CLUSTER<TAB>P50-NS<TAB>P99-NS
 *   family<TAB>SIGNATURE<TAB>SUPPORT<TAB>CLUSTER<TAB>P50-NS<TAB>P99-NS
 *   edge<TAB>SUPPORT<TAB>CALLER-SERVICE<TAB>CALLER-OPERATION<TAB>CALLEE-SERVICE<TAB>CALLEE-OPERATION
 *   op<TAB>SERVICE<TAB>OPERATION<TAB>COUNT<TAB>P50-NS<TAB>P99-NS
 *
 * Names escape '\' as "\\", TAB as "\t", newline as "\n", CR as "\r"; an
 * entry edge has an empty caller. Hashes are 16 hex digits.
 */
#include "alt_tmpl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

#define MAX_FIELDS 10

void
alt_tmpl_set_init(struct alt_tmpl_set *s)
{
	memset(s, 0, sizeof(*s));
}

void
alt_tmpl_set_free(struct alt_tmpl_set *s)
{
	for (uint32_t i = 0; i < s->n_edges; i++) {
		free(s->edges[i].caller_svc);
		free(s->edges[i].caller_op);
		free(s->edges[i].callee_svc);
		free(s->edges[i].callee_op);
	}
	for (uint32_t i = 0; i < s->n_ops; i++) {
		free(s->ops[i].svc);
		free(s->ops[i].op);
	}
	for (uint32_t i = 0; i < s->n_clusters; i++) {
		for (uint32_t j = 0; j < s->clusters[i].n_tree; j++) {
			free(s->clusters[i].tree[j].svc);
			free(s->clusters[i].tree[j].op);
		}
		free(s->clusters[i].tree);
	}
	free(s->shapes);
	free(s->edges);
	free(s->ops);
	free(s->clusters);
	memset(s, 0, sizeof(*s));
}

/* Room for one more element in an array of n (capacity *cap). */
static int
grow(void **arr, uint32_t n, uint32_t *cap, size_t elt)
{
	void *p;
	uint32_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 64;
	p = realloc(*arr, (size_t)nc * elt);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

static char *
dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

int
alt_tmpl_set_add_shape(struct alt_tmpl_set *s, const struct alt_tmpl_shape *sh)
{
	if (grow((void **)&s->shapes, s->n_shapes, &s->cap_shapes, sizeof(*sh)) != 0)
		return -ENOMEM;
	s->shapes[s->n_shapes++] = *sh;
	return 0;
}

int
alt_tmpl_set_add_edge_key(struct alt_tmpl_set *s, uint64_t key, uint64_t support)
{
	struct alt_tmpl_edge *e;

	if (grow((void **)&s->edges, s->n_edges, &s->cap_edges, sizeof(*e)) != 0)
		return -ENOMEM;
	e = &s->edges[s->n_edges++];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->support = support;
	return 0;
}

int
alt_tmpl_set_add_edge(struct alt_tmpl_set *s, uint64_t support, const char *caller_svc, const char *caller_op,
		      const char *callee_svc, const char *callee_op)
{
	uint64_t caller = 0, callee = alt_tmpl_op_key_str(callee_svc, strlen(callee_svc), callee_op, strlen(callee_op));
	struct alt_tmpl_edge *e;
	bool oom = false;

	if (caller_svc[0] != '\0' || caller_op[0] != '\0')
		caller = alt_tmpl_op_key_str(caller_svc, strlen(caller_svc), caller_op, strlen(caller_op));
	if (alt_tmpl_set_add_edge_key(s, alt_tmpl_edge_key(caller, callee), support) != 0)
		return -ENOMEM;
	e = &s->edges[s->n_edges - 1];
	e->caller_svc = dup_or_null(caller_svc, &oom);
	e->caller_op = dup_or_null(caller_op, &oom);
	e->callee_svc = dup_or_null(callee_svc, &oom);
	e->callee_op = dup_or_null(callee_op, &oom);
	return oom ? -ENOMEM : 0;
}

int
alt_tmpl_set_add_op_key(struct alt_tmpl_set *s, uint64_t key, uint64_t count, uint64_t p50_ns, uint64_t p99_ns)
{
	struct alt_tmpl_op *o;

	if (grow((void **)&s->ops, s->n_ops, &s->cap_ops, sizeof(*o)) != 0)
		return -ENOMEM;
	o = &s->ops[s->n_ops++];
	memset(o, 0, sizeof(*o));
	o->key = key;
	o->count = count;
	o->p50_ns = p50_ns;
	o->p99_ns = p99_ns;
	return 0;
}

int
alt_tmpl_set_add_op(struct alt_tmpl_set *s, const char *svc, const char *op, uint64_t count, uint64_t p50_ns,
		    uint64_t p99_ns)
{
	bool oom = false;

	if (alt_tmpl_set_add_op_key(s, alt_tmpl_op_key_str(svc, strlen(svc), op, strlen(op)), count, p50_ns,
				    p99_ns) != 0)
		return -ENOMEM;
	s->ops[s->n_ops - 1].svc = dup_or_null(svc, &oom);
	s->ops[s->n_ops - 1].op = dup_or_null(op, &oom);
	return oom ? -ENOMEM : 0;
}

int
alt_tmpl_set_add_cluster(struct alt_tmpl_set *s, const struct alt_tmpl_cluster *c)
{
	struct alt_tmpl_cluster *d;
	bool oom = false;

	if (grow((void **)&s->clusters, s->n_clusters, &s->cap_clusters, sizeof(*d)) != 0)
		return -ENOMEM;
	d = &s->clusters[s->n_clusters++];
	*d = *c;
	d->tree = NULL;
	d->n_tree = 0;
	if (c->n_tree == 0)
		return 0;
	d->tree = calloc(c->n_tree, sizeof(*d->tree));
	if (d->tree == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->n_tree; i++) {
		d->tree[i] = c->tree[i];
		d->tree[i].svc = dup_or_null(c->tree[i].svc, &oom);
		d->tree[i].op = dup_or_null(c->tree[i].op, &oom);
		d->n_tree++;
	}
	return oom ? -ENOMEM : 0;
}

/* ---- writing ---- */

static void
put_name(FILE *f, const char *s)
{
	fputc('\t', f);
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default: fputc(*s, f); break;
		}
	}
}

int
alt_tmpl_set_write(const struct alt_tmpl_set *s, FILE *f)
{
	fprintf(f, "altair-templates\t1\n"
		"# Altair anomaly templates (docs/templates.md). Tab-separated records:\n"
		"#   sample   TRACES MIN-SUPPORT                  the learning sample\n"
		"#   cluster  ID TRACES SHAPES VARIABLE REP REP-NODES   a cluster of similar shapes\n"
		"#   tree     ID DEPTH COUNT KIND SERVICE OPERATION     its representative, indented\n"
		"#   shape    HASH SUPPORT CLUSTER P50-NS P99-NS        an accepted shape\n"
		"#   family   SIGNATURE SUPPORT CLUSTER P50-NS P99-NS   an accepted family (varying repetition)\n"
		"#   edge     SUPPORT CALLER-SERVICE CALLER-OPERATION CALLEE-SERVICE CALLEE-OPERATION\n"
		"#   op       SERVICE OPERATION COUNT P50-NS P99-NS     span latency (P99 0: no limit)\n"
		"# An entry edge has an empty caller. Delete a line to stop accepting it.\n");
	if (s->source[0])
		fprintf(f, "# source: %s\n", s->source);
	fprintf(f, "sample\t%" PRIu64 "\t%" PRIu64 "\n", s->traces, s->min_support);
	for (uint32_t i = 0; i < s->n_clusters; i++) {
		const struct alt_tmpl_cluster *c = &s->clusters[i];

		fprintf(f, "\ncluster\t%u\t%" PRIu64 "\t%u\t%s\t%016" PRIx64 "\t%u\n", c->id, c->traces, c->shapes,
			c->variable ? "yes" : "no", c->rep, c->rep_nodes);
		for (uint32_t j = 0; j < c->n_tree; j++) {
			const struct alt_tmpl_tree_line *t = &c->tree[j];

			fprintf(f, "tree\t%u\t%u\t%u\t%s%s", c->id, t->depth, t->count, t->join ? "join-" : "",
				t->event ? "event" : "span");
			put_name(f, t->svc);
			put_name(f, t->op);
			fputc('\n', f);
		}
		for (uint32_t j = 0; j < s->n_shapes; j++) {
			const struct alt_tmpl_shape *sh = &s->shapes[j];

			if (sh->cluster == c->id)
				fprintf(f, "%s\t%016" PRIx64 "\t%" PRIu64 "\t%u\t%" PRIu64 "\t%" PRIu64 "\n",
					sh->family ? "family" : "shape", sh->hash, sh->support, sh->cluster, sh->p50_ns,
					sh->p99_ns);
		}
	}
	fputc('\n', f);
	for (uint32_t j = 0; j < s->n_shapes; j++) {
		const struct alt_tmpl_shape *sh = &s->shapes[j];
		bool listed = false;

		for (uint32_t i = 0; i < s->n_clusters && !listed; i++)
			listed = s->clusters[i].id == sh->cluster;
		if (!listed)
			fprintf(f, "%s\t%016" PRIx64 "\t%" PRIu64 "\t%u\t%" PRIu64 "\t%" PRIu64 "\n",
				sh->family ? "family" : "shape", sh->hash, sh->support, sh->cluster, sh->p50_ns, sh->p99_ns);
	}
	for (uint32_t i = 0; i < s->n_edges; i++) {
		const struct alt_tmpl_edge *e = &s->edges[i];

		if (e->callee_svc == NULL)
			continue;       /* learned online: no names to write */
		fprintf(f, "edge\t%" PRIu64, e->support);
		put_name(f, e->caller_svc);
		put_name(f, e->caller_op);
		put_name(f, e->callee_svc);
		put_name(f, e->callee_op);
		fputc('\n', f);
	}
	for (uint32_t i = 0; i < s->n_ops; i++) {
		const struct alt_tmpl_op *o = &s->ops[i];

		if (o->svc == NULL)
			continue;
		fputs("op", f);
		put_name(f, o->svc);
		put_name(f, o->op);
		fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", o->count, o->p50_ns, o->p99_ns);
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- parsing ---- */

struct parser {
	char *fields[MAX_FIELDS];
	unsigned n;
	unsigned line;
	char *err;
	size_t errlen;
};

static int
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(p->err, p->errlen, "line %u: ", p->line);

	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < p->errlen)
		vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Unescape a field in place; false on a bad escape. */
static bool
unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		default: return false;
		}
	}
	*w = '\0';
	return true;
}

static int
num(struct parser *p, unsigned i, const char *what, uint64_t *v)
{
	char *end;
	const char *s = p->fields[i];

	if (*s < '0' || *s > '9')
		return perr(p, "%s '%s' is not a non-negative integer", what, s);
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return perr(p, "%s '%s' is not a non-negative integer", what, s);
	return 0;
}

static int
hex(struct parser *p, unsigned i, const char *what, uint64_t *v)
{
	size_t len = strlen(p->fields[i]);

	if (len != 16 || alt_parse_id64(p->fields[i], len, v) != 0)
		return perr(p, "%s '%s' is not 16 hex digits", what, p->fields[i]);
	return 0;
}

static int
want(struct parser *p, unsigned n)
{
	if (p->n != n)
		return perr(p, "'%s' takes %u fields, found %u", p->fields[0], n - 1, p->n - 1);
	return 0;
}

static int
parse_record(struct alt_tmpl_set *s, struct parser *p)
{
	const char *k = p->fields[0];
	uint64_t a = 0, b = 0, c = 0, d = 0, e = 0;     /* set by num() before any use */
	int rc;

	if (strcmp(k, "sample") == 0) {
		if ((rc = want(p, 3)) || (rc = num(p, 1, "traces", &s->traces)) ||
		    (rc = num(p, 2, "min-support", &s->min_support)))
			return rc;
		return 0;
	}
	if (strcmp(k, "shape") == 0 || strcmp(k, "family") == 0) {
		struct alt_tmpl_shape sh = { .family = k[0] == 'f' };

		if ((rc = want(p, 6)) || (rc = hex(p, 1, k[0] == 'f' ? "signature" : "shape", &sh.hash)) ||
		    (rc = num(p, 2, "support", &sh.support)) || (rc = num(p, 3, "cluster", &c)) ||
		    (rc = num(p, 4, "p50", &sh.p50_ns)) || (rc = num(p, 5, "p99", &sh.p99_ns)))
			return rc;
		if (c > UINT32_MAX)
			return perr(p, "cluster %" PRIu64 " out of range", c);
		sh.cluster = (uint32_t)c;
		return alt_tmpl_set_add_shape(s, &sh) == 0 ? 0 : perr(p, "out of memory");
	}
	if (strcmp(k, "edge") == 0) {
		if ((rc = want(p, 6)) || (rc = num(p, 1, "support", &a)))
			return rc;
		if (p->fields[4][0] == '\0' && p->fields[5][0] == '\0')
			return perr(p, "edge without a callee");
		return alt_tmpl_set_add_edge(s, a, p->fields[2], p->fields[3], p->fields[4], p->fields[5]) == 0
			       ? 0 : perr(p, "out of memory");
	}
	if (strcmp(k, "op") == 0) {
		if ((rc = want(p, 6)) || (rc = num(p, 3, "count", &a)) || (rc = num(p, 4, "p50", &b)) ||
		    (rc = num(p, 5, "p99", &c)))
			return rc;
		if (c != 0 && b > c)    /* p99 0: no latency limit (too few samples) */
			return perr(p, "p50 %" PRIu64 " above p99 %" PRIu64, b, c);
		return alt_tmpl_set_add_op(s, p->fields[1], p->fields[2], a, b, c) == 0 ? 0 : perr(p, "out of memory");
	}
	if (strcmp(k, "cluster") == 0) {
		struct alt_tmpl_cluster cl;

		memset(&cl, 0, sizeof(cl));
		if ((rc = want(p, 7)) || (rc = num(p, 1, "id", &a)) || (rc = num(p, 2, "traces", &cl.traces)) ||
		    (rc = num(p, 3, "shapes", &b)) || (rc = hex(p, 5, "representative", &cl.rep)) ||
		    (rc = num(p, 6, "representative nodes", &d)))
			return rc;
		if (strcmp(p->fields[4], "yes") != 0 && strcmp(p->fields[4], "no") != 0)
			return perr(p, "variable '%s' is not yes or no", p->fields[4]);
		if (a == 0 || a > UINT32_MAX || b > UINT32_MAX || d > UINT32_MAX)
			return perr(p, "cluster numbers out of range");
		cl.id = (uint32_t)a;
		cl.shapes = (uint32_t)b;
		cl.variable = p->fields[4][0] == 'y';
		cl.rep_nodes = (uint32_t)d;
		for (uint32_t i = 0; i < s->n_clusters; i++)
			if (s->clusters[i].id == cl.id)
				return perr(p, "cluster %u given twice", cl.id);
		return alt_tmpl_set_add_cluster(s, &cl) == 0 ? 0 : perr(p, "out of memory");
	}
	if (strcmp(k, "tree") == 0) {
		struct alt_tmpl_cluster *cl = NULL;
		struct alt_tmpl_tree_line *t;
		const char *kind = p->fields[4];

		if ((rc = want(p, 7)) || (rc = num(p, 1, "cluster", &a)) || (rc = num(p, 2, "depth", &b)) ||
		    (rc = num(p, 3, "count", &e)))
			return rc;
		for (uint32_t i = 0; i < s->n_clusters; i++)
			if (s->clusters[i].id == a)
				cl = &s->clusters[i];
		if (cl == NULL)
			return perr(p, "tree of cluster %" PRIu64 " before its cluster line", a);
		if (strncmp(kind, "join-", 5) == 0)
			kind += 5;
		if (strcmp(kind, "span") != 0 && strcmp(kind, "event") != 0)
			return perr(p, "kind '%s' is not span, event, join-span or join-event", p->fields[4]);
		t = realloc(cl->tree, sizeof(*t) * (cl->n_tree + 1));
		if (t == NULL)
			return perr(p, "out of memory");
		cl->tree = t;
		t = &cl->tree[cl->n_tree++];
		t->depth = (uint32_t)(b > UINT32_MAX ? UINT32_MAX : b);
		t->count = (uint32_t)(e > UINT32_MAX ? UINT32_MAX : e);
		t->event = strcmp(kind, "event") == 0;
		t->join = kind != p->fields[4];
		t->svc = strdup(p->fields[5]);
		t->op = strdup(p->fields[6]);
		return t->svc != NULL && t->op != NULL ? 0 : perr(p, "out of memory");
	}
	return perr(p, "unknown record '%s' (sample, cluster, tree, shape, family, edge, op)", k);
}

int
alt_tmpl_set_parse(struct alt_tmpl_set *s, const char *text, size_t len, char *err, size_t errlen)
{
	struct parser p = { .err = err, .errlen = errlen };
	bool header = false;
	size_t pos = 0;
	char *line = NULL;
	size_t line_cap = 0;
	int rc = 0;

	if (errlen)
		err[0] = '\0';
	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		if (l + 1 > line_cap) {
			char *nlb = realloc(line, l + 1);

			if (nlb == NULL) {
				rc = perr(&p, "out of memory");
				break;
			}
			line = nlb;
			line_cap = l + 1;
		}
		memcpy(line, text + pos, l);
		line[l] = '\0';
		pos += l + 1;
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (memchr(line, '\0', l) != NULL) {
			rc = perr(&p, "NUL byte");
			break;
		}
		if (l == 0 || line[0] == '#')
			continue;
		p.n = 0;
		for (char *f = line;;) {
			char *tab = strchr(f, '\t');

			if (p.n == MAX_FIELDS) {
				rc = perr(&p, "too many fields");
				break;
			}
			p.fields[p.n++] = f;
			if (tab == NULL)
				break;
			*tab = '\0';
			f = tab + 1;
		}
		if (rc != 0)
			break;
		for (unsigned i = 0; i < p.n && rc == 0; i++)
			if (!unescape(p.fields[i]))
				rc = perr(&p, "bad escape in field %u (\\\\, \\t, \\n, \\r)", i + 1);
		if (rc != 0)
			break;
		if (!header) {
			if (strcmp(p.fields[0], "altair-templates") != 0)
				rc = perr(&p, "not a template file (the first record must be 'altair-templates<TAB>1')");
			else if (p.n != 2 || strcmp(p.fields[1], "1") != 0)
				rc = perr(&p, "template file version '%s' not supported (1)", p.n > 1 ? p.fields[1] : "");
			header = true;
			continue;
		}
		rc = parse_record(s, &p);
	}
	free(line);
	if (rc == 0 && !header) {
		snprintf(err, errlen, "empty file: no 'altair-templates' header");
		rc = -EINVAL;
	}
	return rc;
}

int
alt_tmpl_set_load(struct alt_tmpl_set *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	do {
		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap + 65536 + cap);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "'%s': out of memory", path);
				return -ENOMEM;
			}
			buf = nb;
			cap = cap + 65536 + cap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read '%s'", path);
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	rc = alt_tmpl_set_parse(s, buf, len, err, errlen);
	free(buf);
	return rc;
}
