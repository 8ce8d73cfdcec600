/* SPDX-License-Identifier: BSD-3-Clause
 * End-to-end test: altair-gen writes small seeded captures with their ground
 * truth (every wire format, VLAN/QinQ/IPv6 framing, noise, fragmentation,
 * frame loss); each capture is read back frame by frame, classified and
 * reassembled by lib/net, fed through lib/pipe, and every closed trace is
 * compared with the truth exactly: the same traces, the same node IDs, the
 * same parent sets, names, kinds, times and error marks; the record
 * accounting balances; shapes agree with an independent canonical form
 * computed from the truth, anomalies with a structural effect get a shape
 * of their own and error anomalies carry the error flag.
 *
 * Sharded cases deal the payloads round-robin to 2 or 3 pipes that steer
 * records to their trace's owner through steering frames (as the
 * appliance's workers do, here in one thread, with small frames so that
 * they fill often): every trace must still come out exactly once, whole,
 * from its owner.
 *
 * Usage: test_e2e PATH-TO-ALTAIR-GEN (or ALTAIR_GEN in the environment).
 * ALTAIR_E2E_KEEP=1 keeps the temporary directory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "alt_net.h"
#include "alt_pipe.h"
#include "netfeed.h"
#include "pcapread.h"
#include "truth.h"

#define ADVANCE_EVERY 32
#define MAX_REPORT 5            /* details printed per failed check */
#define LINKTYPE_ETHERNET 1

static const char *gen_path;
static char tmpdir[] = "/tmp/altair-e2e-XXXXXX";
static bool tmpdir_made;

/* ---- what the pipe produced ---- */

struct got_node {
	uint64_t id;
	uint64_t parents[ALT_MAX_PARENTS];
	uint8_t n_parents;
	uint8_t kind;
	uint16_t flags;
	const char *service;    /* intern table strings: valid while the pipe lives */
	const char *operation;
	uint64_t start_ns;
	uint64_t duration_ns;
};

struct got_trace {
	struct alt_trace_id id;
	uint8_t closed_by;
	uint32_t flags;         /* ALT_PIPE_TF(...) */
	uint64_t shape;
	char *shape_text;
	uint32_t records;
	uint32_t n_nodes;
	struct got_node *nodes;
};

#define MAX_SHARDS 3
#define STEER_CAP ALT_PIPE_STEER_MIN_CAP        /* small frames: they fill often */

struct run;

/* One pipe of a run and its outgoing steering frames. */
struct shard {
	struct run *r;
	unsigned id;
	uint64_t epoch_last;
	uint8_t stage[MAX_SHARDS][STEER_CAP];
	size_t stage_len[MAX_SHARDS];
};

struct run {
	struct alt_pipe *pipes[MAX_SHARDS];
	struct alt_pipe_cfg cfg;
	unsigned shards;
	struct shard *sh;               /* [shards] */
	uint64_t wrong_owner;           /* traces closed by a pipe that does not own them */
	uint64_t steer_frames_bad;      /* steering frames a pipe rejected */
	struct got_trace *t;
	size_t n;
	size_t cap;
	bool oom;
	uint64_t epochs;
	uint64_t epoch_last;
	bool epoch_disorder;
	uint64_t epoch_traces;  /* sum of traces_closed over the epochs' statistics */
	uint64_t epoch_records;
	uint64_t frames;
	uint64_t payloads;
	uint64_t payload_rejects;
	struct netfeed nf;
};

static void
on_trace(void *ctx, const struct alt_trace_view *v)
{
	struct shard *sh = ctx;
	struct run *r = sh->r;
	struct got_trace *g;
	const struct alt_node *n;
	uint32_t k = 0, len;

	if (r->oom)
		return;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 1024;
		struct got_trace *nt = realloc(r->t, nc * sizeof(*nt));

		if (nt == NULL) {
			r->oom = true;
			return;
		}
		r->t = nt;
		r->cap = nc;
	}
	g = &r->t[r->n];
	memset(g, 0, sizeof(*g));
	g->id = v->trace->trace_id;
	if (alt_pipe_owner(&r->cfg, &g->id) != sh->id)
		r->wrong_owner++;
	g->closed_by = v->trace->closed_by;
	g->flags = v->flags;
	g->shape = v->shape;
	g->records = v->records;
	g->shape_text = v->shape_text != NULL ? strdup(v->shape_text) : NULL;
	g->nodes = calloc(v->trace->n_nodes ? v->trace->n_nodes : 1, sizeof(*g->nodes));
	if (g->nodes == NULL) {
		r->oom = true;
		return;
	}
	for (n = v->trace->nodes; n != NULL && k < v->trace->n_nodes; n = n->next, k++) {
		struct got_node *o = &g->nodes[k];

		o->id = n->node_id;
		o->n_parents = n->parent_count;
		for (unsigned i = 0; i < n->parent_count && i < ALT_MAX_PARENTS; i++)
			o->parents[i] = alt_node_parent(n, i);
		o->kind = n->kind;
		o->flags = n->flags;
		o->service = alt_intern_str(v->intern, n->service_id, &len);
		o->operation = alt_intern_str(v->intern, n->operation_id, &len);
		o->start_ns = n->start_ns;
		o->duration_ns = n->duration_ns;
	}
	g->n_nodes = k;
	r->n++;
}

static void
on_epoch(void *ctx, uint64_t epoch, struct alt_stats *st)
{
	struct shard *sh = ctx;
	struct run *r = sh->r;
	const struct alt_stats_counters *c = alt_stats_counters_const(st);

	if (sh->epoch_last > 0 && epoch <= sh->epoch_last)
		r->epoch_disorder = true;
	sh->epoch_last = epoch;
	r->epochs++;
	r->epoch_traces += c->traces_closed;
	r->epoch_records += c->records;
	alt_pipe_stats_put(r->pipes[sh->id], st);
}

/* A staged steering frame goes to its owner. */
static void
shard_send(struct shard *sh, unsigned owner)
{
	if (alt_pipe_steer_count(sh->stage[owner], sh->stage_len[owner]) == 0)
		return;
	if (alt_pipe_feed_steered(sh->r->pipes[owner], sh->stage[owner], sh->stage_len[owner]) != ALT_WIRE_OK)
		sh->r->steer_frames_bad++;
	sh->stage_len[owner] = 0;
}

static unsigned
on_steer(void *ctx, unsigned owner, const struct alt_record *const *recs, unsigned n)
{
	struct shard *sh = ctx;
	unsigned done = 0;

	while (done < n) {
		unsigned k = alt_pipe_steer_add(sh->stage[owner], STEER_CAP, &sh->stage_len[owner], sh->id,
						recs + done, n - done);

		done += k;
		if (k == 0 && alt_pipe_steer_count(sh->stage[owner], sh->stage_len[owner]) == 0)
			break;
		if (done < n)
			shard_send(sh, owner);
	}
	return done;
}

/* Every staged steering frame goes to its owner, then every pipe tells
 * the others its progress, as workers do: what a pipe sends after this is
 * not older than what it promised, and every frame sent before it was fed. */
static void
shards_flush(struct run *r)
{
	for (unsigned i = 0; i < r->shards; i++)
		for (unsigned o = 0; o < r->shards; o++)
			shard_send(&r->sh[i], o);
	alt_pipe_exchange_progress(r->pipes, r->shards);
}

/* The counters of every pipe of a run, summed. */
static void
sum_counters(const struct run *r, struct alt_pipe_counters *sum)
{
	uint64_t a[sizeof(*sum) / sizeof(uint64_t)], b[sizeof(*sum) / sizeof(uint64_t)];

	_Static_assert(sizeof(*sum) % sizeof(uint64_t) == 0, "counters are uint64_t");
	memset(a, 0, sizeof(a));
	for (unsigned i = 0; i < r->shards; i++) {
		memcpy(b, alt_pipe_counters(r->pipes[i]), sizeof(b));
		for (size_t k = 0; k < sizeof(a) / sizeof(a[0]); k++)
			a[k] += b[k];
	}
	memcpy(sum, a, sizeof(a));
}

static void
run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->t[i].nodes);
		free(r->t[i].shape_text);
	}
	free(r->t);
	for (unsigned i = 0; i < r->shards; i++)
		alt_pipe_destroy(r->pipes[i]);
	free(r->sh);
	netfeed_fini(&r->nf);
	memset(r, 0, sizeof(*r));
}

/* shards pipes (steering to each other when shards > 1) collecting every
 * closed trace and epoch into r. 0, or -1 after printing why. */
static int
run_init(struct run *r, uint64_t gap_ns, unsigned shards)
{
	memset(r, 0, sizeof(*r));
	if (netfeed_init(&r->nf) != 0) {
		fprintf(stderr, "e2e: netfeed_init failed\n");
		return -1;
	}
	alt_pipe_cfg_default(&r->cfg);
	r->cfg.want_shape_text = true;
	if (gap_ns > r->cfg.gap_ns)
		r->cfg.gap_ns = gap_ns;
	r->cfg.shard_count = shards;
	r->sh = calloc(shards, sizeof(*r->sh));
	if (r->sh == NULL)
		return -1;
	for (unsigned i = 0; i < shards; i++) {
		struct alt_pipe_hooks hooks = { .ctx = &r->sh[i], .trace_closed = on_trace,
						.epoch_done = on_epoch, .steer = on_steer };
		struct alt_pipe_cfg cfg = r->cfg;

		r->sh[i].r = r;
		r->sh[i].id = i;
		cfg.shard_self = i;
		r->pipes[i] = alt_pipe_create(&cfg, NULL, &hooks);
		if (r->pipes[i] == NULL) {
			fprintf(stderr, "e2e: alt_pipe_create failed\n");
			return -1;
		}
		r->shards = i + 1;
	}
	return 0;
}

/* Read the capture at path through lib/net and the run's pipes (payloads
 * dealt round-robin), then drain. 0, or -1 after printing why. */
static int
run_capture(const char *path, uint64_t gap_ns, unsigned shards, struct run *r)
{
	struct pcapr pr;
	struct pcapr_frame f;
	struct netfeed_payload pl;
	int rc;

	if (run_init(r, gap_ns, shards) != 0)
		return -1;
	if (pcapr_open(&pr, path) != 0) {
		fprintf(stderr, "e2e: %s\n", pr.err);
		return -1;
	}
	if (pr.linktype != LINKTYPE_ETHERNET) {
		fprintf(stderr, "e2e: %s: linktype %u, not Ethernet\n", path, pr.linktype);
		pcapr_close(&pr);
		return -1;
	}
	while ((rc = pcapr_next(&pr, &f)) == 1) {
		r->frames++;
		if (netfeed_frame(&r->nf, f.data, f.caplen, f.ts_ns, &pl)) {
			struct alt_pipe *p = r->pipes[r->payloads % shards];

			struct alt_pipe_origin o = { pl.flow, f.ts_ns };

			r->payloads++;
			if (alt_pipe_input_from(p, (enum alt_wire_format)pl.format, pl.data, pl.len, &o) != ALT_WIRE_OK)
				r->payload_rejects++;
			if (shards > 1)
				shards_flush(r);
		}
		if (r->frames % ADVANCE_EVERY == 0) {
			for (unsigned i = 0; i < shards; i++)
				alt_pipe_advance(r->pipes[i]);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "e2e: %s: %s\n", path, pr.err);
		pcapr_close(&pr);
		return -1;
	}
	pcapr_close(&pr);
	netfeed_flush(&r->nf);
	shards_flush(r);
	for (unsigned i = 0; i < shards; i++)
		alt_pipe_advance(r->pipes[i]);
	for (unsigned i = 0; i < shards; i++)
		alt_pipe_drain(r->pipes[i]);
	if (r->oom) {
		fprintf(stderr, "e2e: out of memory collecting traces\n");
		return -1;
	}
	return 0;
}

/* ---- running the generator ---- */

static int
run_gen(const char *const *extra, const char *pcap, const char *truth)
{
	const char *argv[64];
	unsigned n = 0;
	pid_t pid;
	int st;

	argv[n++] = gen_path;
	argv[n++] = "--out";
	argv[n++] = pcap;
	argv[n++] = "--truth";
	argv[n++] = truth;
	for (unsigned i = 0; extra[i] != NULL && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("e2e: fork");
		return -1;
	}
	if (pid == 0) {
		execv(gen_path, (char *const *)(uintptr_t)argv);
		fprintf(stderr, "e2e: exec %s: %s\n", gen_path, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0) {
		perror("e2e: waitpid");
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "e2e: altair-gen failed (status 0x%x):", st);
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, "\n");
		return -1;
	}
	return 0;
}

/* ---- trace ID index over the truth ---- */

struct tindex {
	int64_t *slot;          /* truth index, -1 empty */
	size_t mask;
};

static int
tindex_build(struct tindex *x, const struct truth *tr)
{
	size_t n = 16;

	while (n < tr->n * 2)
		n <<= 1;
	x->slot = malloc(n * sizeof(*x->slot));
	if (x->slot == NULL)
		return -1;
	x->mask = n - 1;
	for (size_t i = 0; i < n; i++)
		x->slot[i] = -1;
	for (size_t i = 0; i < tr->n; i++) {
		size_t h = alt_trace_id_hash(&tr->t[i].id) & x->mask;

		while (x->slot[h] >= 0) {
			if (alt_trace_id_eq(&tr->t[x->slot[h]].id, &tr->t[i].id))
				return -2;      /* duplicate trace ID in the truth */
			h = (h + 1) & x->mask;
		}
		x->slot[h] = (int64_t)i;
	}
	return 0;
}

static int64_t
tindex_find(const struct tindex *x, const struct truth *tr, const struct alt_trace_id *id)
{
	size_t h = alt_trace_id_hash(id) & x->mask;

	while (x->slot[h] >= 0) {
		if (alt_trace_id_eq(&tr->t[x->slot[h]].id, id))
			return x->slot[h];
		h = (h + 1) & x->mask;
	}
	return -1;
}

/* ---- the oracle shape, from the truth ----
 * Written from the contract in alt_shape.h, independently of lib/shape:
 * label = ['?'] ['@'] service '/' operation ['^'], children sorted with
 * duplicates collapsed, roots likewise. Subtrees are hash-consed: a node's
 * key is its label and the sorted distinct ids of its children's keys, and
 * equal keys get equal ids (per capture), so two traces have the same
 * oracle shape iff their root-id lists are equal, without unfolding joins
 * (stacked diamonds make the unfolded text exponential). The unfolded text
 * is also built while it stays short, to compare with the library's. */

#define ORACLE_TEXT_CAP 4000

struct hcons {
	char **key;
	uint32_t *id;
	size_t mask;
	size_t n;
};

static struct hcons hc;

static void
hcons_reset(void)
{
	for (size_t i = 0; hc.key != NULL && i <= hc.mask; i++)
		free(hc.key[i]);
	free(hc.key);
	free(hc.id);
	memset(&hc, 0, sizeof(hc));
}

/* The id of key (taken over: freed if already known). */
static uint32_t
hcons_get(char *key)
{
	size_t h;

	if (hc.key == NULL || (hc.n + 1) * 2 > hc.mask + 1) {
		struct hcons old = hc;
		size_t sz = old.key ? (old.mask + 1) * 2 : 1024;

		hc.key = calloc(sz, sizeof(*hc.key));
		hc.id = calloc(sz, sizeof(*hc.id));
		if (hc.key == NULL || hc.id == NULL)
			abort();
		hc.mask = sz - 1;
		for (size_t i = 0; old.key != NULL && i <= old.mask; i++) {
			if (old.key[i] == NULL)
				continue;
			h = alt_hash_bytes(old.key[i], strlen(old.key[i]), 0) & hc.mask;
			while (hc.key[h] != NULL)
				h = (h + 1) & hc.mask;
			hc.key[h] = old.key[i];
			hc.id[h] = old.id[i];
		}
		free(old.key);
		free(old.id);
	}
	h = alt_hash_bytes(key, strlen(key), 0) & hc.mask;
	while (hc.key[h] != NULL) {
		if (strcmp(hc.key[h], key) == 0) {
			free(key);
			return hc.id[h];
		}
		h = (h + 1) & hc.mask;
	}
	hc.key[h] = key;
	hc.id[h] = (uint32_t)++hc.n;
	return hc.id[h];
}

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 64;

		while (nc < b->len + n + 1)
			nc *= 2;
		b->p = realloc(b->p, nc);
		if (b->p == NULL)
			abort();
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_esc(struct sbuf *b, const char *s, bool service)
{
	for (const char *c = s; *c; c++) {
		if (strchr("\\(),;/^", *c) != NULL || (service && c == s && (*c == '?' || *c == '@')))
			sb_put(b, "\\", 1);
		sb_put(b, c, 1);
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct oracle {
	const struct truth_trace *t;
	uint32_t *order;        /* node indices sorted by id */
	uint32_t *child_off;    /* CSR children */
	uint32_t *child;
	uint32_t *present;      /* present parents per node */
	bool *missing;          /* has a missing parent */
	uint32_t *cid;          /* hash-consed subtree id, 0 = not yet */
	char **text;            /* unfolded text, NULL = too long (or not yet) */
	bool *text_done;
};

static int64_t
oracle_find(const struct oracle *o, uint64_t id)
{
	uint32_t lo = 0, hi = o->t->n_nodes;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		uint64_t v = o->t->nodes[o->order[mid]].id;

		if (v == id)
			return o->order[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const struct truth_trace *sort_ctx;

static int
cmp_order(const void *a, const void *b)
{
	uint64_t x = sort_ctx->nodes[*(const uint32_t *)a].id;
	uint64_t y = sort_ctx->nodes[*(const uint32_t *)b].id;

	return x < y ? -1 : x > y;
}

static void
oracle_label(struct oracle *o, uint32_t i, struct sbuf *b)
{
	const struct truth_node *n = &o->t->nodes[i];

	if (o->missing[i])
		sb_put(b, "?", 1);
	if (n->kind == ALT_KIND_EVENT)
		sb_put(b, "@", 1);
	sb_esc(b, n->service, true);
	sb_put(b, "/", 1);
	sb_esc(b, n->operation, false);
	if (o->present[i] >= 2)
		sb_put(b, "^", 1);
}

/* Append the distinct ids of v[0..n), sorted, separated by sep. */
static void
put_ids(struct sbuf *b, uint32_t *v, uint32_t n, char sep)
{
	char num[16];

	qsort(v, n, sizeof(*v), cmp_u32);
	for (uint32_t k = 0; k < n; k++) {
		if (k > 0 && v[k] == v[k - 1])
			continue;
		snprintf(num, sizeof(num), "%s%u", k > 0 ? (sep == ',' ? "," : ";") : "", v[k]);
		sb_put(b, num, strlen(num));
	}
}

/* Append the distinct strings of v[0..n), sorted, separated by sep. */
static void
put_strs(struct sbuf *b, char **v, uint32_t n, char sep)
{
	qsort(v, n, sizeof(*v), cmp_str);
	for (uint32_t k = 0; k < n; k++) {
		if (k > 0 && strcmp(v[k], v[k - 1]) == 0)
			continue;
		if (k > 0)
			sb_put(b, &sep, 1);
		sb_put(b, v[k], strlen(v[k]));
	}
}

static uint32_t
oracle_cid(struct oracle *o, uint32_t i, unsigned depth)
{
	uint32_t nc = o->child_off[i + 1] - o->child_off[i];
	struct sbuf b = { 0 };

	if (o->cid[i] != 0)
		return o->cid[i];
	if (depth > o->t->n_nodes)
		abort();        /* a cycle in the truth */
	oracle_label(o, i, &b);
	sb_put(&b, "(", 1);
	if (nc > 0) {
		uint32_t *v = malloc(nc * sizeof(*v));

		if (v == NULL)
			abort();
		for (uint32_t k = 0; k < nc; k++)
			v[k] = oracle_cid(o, o->child[o->child_off[i] + k], depth + 1);
		put_ids(&b, v, nc, ',');
		free(v);
	}
	sb_put(&b, ")", 1);
	o->cid[i] = hcons_get(b.p);
	return o->cid[i];
}

static const char *
oracle_text(struct oracle *o, uint32_t i)
{
	uint32_t nc = o->child_off[i + 1] - o->child_off[i];
	struct sbuf b = { 0 };
	char **v;

	if (o->text_done[i])
		return o->text[i];
	o->text_done[i] = true;
	oracle_label(o, i, &b);
	if (nc > 0) {
		v = malloc(nc * sizeof(*v));
		if (v == NULL)
			abort();
		for (uint32_t k = 0; k < nc; k++) {
			v[k] = (char *)oracle_text(o, o->child[o->child_off[i] + k]);
			if (v[k] == NULL) {
				free(v);
				free(b.p);
				return NULL;
			}
		}
		sb_put(&b, "(", 1);
		put_strs(&b, v, nc, ',');
		sb_put(&b, ")", 1);
		free(v);
	}
	if (b.len > ORACLE_TEXT_CAP) {
		free(b.p);
		return NULL;
	}
	o->text[i] = b.p;
	return b.p;
}

/* The oracle shape of truth trace t: the sorted distinct root ids (the
 * comparison key, malloc'd) and, in *text, the unfolded text if short. */
static char *
oracle_shape(const struct truth_trace *t, char **text)
{
	struct oracle o = { .t = t };
	uint32_t n = t->n_nodes, edges = 0, nroots = 0;
	uint32_t *roots, *fill;
	char **rtext;
	struct sbuf b = { 0 }, tb = { 0 };

	o.order = malloc(n * sizeof(*o.order));
	o.child_off = calloc(n + 1, sizeof(*o.child_off));
	o.present = calloc(n, sizeof(*o.present));
	o.missing = calloc(n, sizeof(*o.missing));
	o.cid = calloc(n, sizeof(*o.cid));
	o.text = calloc(n, sizeof(*o.text));
	o.text_done = calloc(n, sizeof(*o.text_done));
	roots = malloc(n * sizeof(*roots));
	rtext = malloc(n * sizeof(*rtext));
	fill = calloc(n, sizeof(*fill));
	if (!o.order || !o.child_off || !o.present || !o.missing || !o.cid || !o.text ||
	    !o.text_done || !roots || !rtext || !fill)
		abort();
	for (uint32_t i = 0; i < n; i++)
		o.order[i] = i;
	sort_ctx = t;
	qsort(o.order, n, sizeof(*o.order), cmp_order);
	for (uint32_t i = 0; i < n; i++) {
		for (unsigned k = 0; k < t->nodes[i].n_parents; k++) {
			int64_t p = oracle_find(&o, t->nodes[i].parents[k]);

			if (p < 0) {
				o.missing[i] = true;
				continue;
			}
			o.present[i]++;
			o.child_off[p + 1]++;
			edges++;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		o.child_off[i + 1] += o.child_off[i];
	o.child = malloc((edges ? edges : 1) * sizeof(*o.child));
	if (o.child == NULL)
		abort();
	for (uint32_t i = 0; i < n; i++)
		for (unsigned k = 0; k < t->nodes[i].n_parents; k++) {
			int64_t p = oracle_find(&o, t->nodes[i].parents[k]);

			if (p >= 0)
				o.child[o.child_off[p] + fill[p]++] = i;
		}
	for (uint32_t i = 0; i < n; i++)
		if (o.present[i] == 0)
			roots[nroots++] = oracle_cid(&o, i, 0);
	sb_put(&b, "", 0);
	put_ids(&b, roots, nroots, ';');
	*text = NULL;
	{
		uint32_t k = 0;
		bool ok = true;

		for (uint32_t i = 0; i < n && ok; i++)
			if (o.present[i] == 0 && (rtext[k++] = (char *)oracle_text(&o, i)) == NULL)
				ok = false;
		if (ok) {
			sb_put(&tb, "", 0);
			put_strs(&tb, rtext, k, ';');
			*text = tb.p;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		free(o.text[i]);
	free(o.text);
	free(o.text_done);
	free(o.cid);
	free(o.order);
	free(o.child_off);
	free(o.child);
	free(o.present);
	free(o.missing);
	free(roots);
	free(rtext);
	free(fill);
	return b.p;
}

/* ---- comparison ---- */

struct check {
	const char *name;
	uint64_t fails;
};

static void __attribute__((format(printf, 3, 4)))
failf(struct check *c, const char *cap, const char *fmt, ...)
{
	va_list ap;

	if (c->fails++ >= MAX_REPORT)
		return;
	fprintf(stderr, "  FAIL %s [%s]: ", cap, c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
cmp_got_node(const void *a, const void *b)
{
	uint64_t x = ((const struct got_node *)a)->id, y = ((const struct got_node *)b)->id;

	return x < y ? -1 : x > y;
}

static int
cmp_truth_node(const void *a, const void *b)
{
	uint64_t x = ((const struct truth_node *)a)->id, y = ((const struct truth_node *)b)->id;

	return x < y ? -1 : x > y;
}

/* Compare the nodes of an intact trace. Returns true if all agree. */
static bool
same_nodes(struct check *c, const char *cap, const char *tid, struct got_trace *g,
	   const struct truth_trace *t)
{
	if (g->n_nodes != t->n_nodes) {
		failf(c, cap, "trace %s: %u nodes, truth %u", tid, g->n_nodes, t->n_nodes);
		return false;
	}
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		struct got_node *a = &g->nodes[i];
		const struct truth_node *b = &t->nodes[i];
		uint64_t pa[ALT_MAX_PARENTS], pb[ALT_MAX_PARENTS];
		char nid[17];

		alt_fmt_id64(nid, b->id);
		if (a->id != b->id) {
			failf(c, cap, "trace %s: node set differs at %s", tid, nid);
			return false;
		}
		memcpy(pa, a->parents, a->n_parents * sizeof(pa[0]));
		memcpy(pb, b->parents, b->n_parents * sizeof(pb[0]));
		qsort(pa, a->n_parents, sizeof(pa[0]), cmp_u64);
		qsort(pb, b->n_parents, sizeof(pb[0]), cmp_u64);
		if (a->n_parents != b->n_parents || memcmp(pa, pb, a->n_parents * sizeof(pa[0])) != 0) {
			failf(c, cap, "trace %s node %s: %u parents, truth %u (sets differ)", tid, nid,
			      a->n_parents, b->n_parents);
			return false;
		}
		if (strcmp(a->service, b->service) != 0 || strcmp(a->operation, b->operation) != 0) {
			failf(c, cap, "trace %s node %s: %s/%s, truth %s/%s", tid, nid, a->service,
			      a->operation, b->service, b->operation);
			return false;
		}
		if (a->kind != b->kind || !!(a->flags & ALT_RF_ERROR) != b->error) {
			failf(c, cap, "trace %s node %s: kind %u error %d, truth kind %u error %d", tid,
			      nid, a->kind, !!(a->flags & ALT_RF_ERROR), b->kind, b->error);
			return false;
		}
		if (a->start_ns != b->start_ns || a->duration_ns != b->duration_ns) {
			failf(c, cap, "trace %s node %s: start %llu dur %llu, truth %llu %llu", tid, nid,
			      (unsigned long long)a->start_ns, (unsigned long long)a->duration_ns,
			      (unsigned long long)b->start_ns, (unsigned long long)b->duration_ns);
			return false;
		}
	}
	return true;
}

/* Is every node of g (by ID) in t? */
static bool
subset_nodes(struct got_trace *g, const struct truth_trace *t)
{
	for (uint32_t i = 0; i < g->n_nodes; i++)
		if (bsearch(&g->nodes[i].id, t->nodes, t->n_nodes, sizeof(t->nodes[0]),
			    cmp_truth_node) == NULL)
			return false;
	return true;
}

#define DEFAULT_GAP_NS 2000000000ull

/* Longest stretch of event time (a node's end) inside t with no record. */
static uint64_t
max_silence(const struct truth_trace *t)
{
	uint64_t *ev = malloc(t->n_nodes * sizeof(*ev)), m = 0;

	if (ev == NULL)
		abort();
	for (uint32_t i = 0; i < t->n_nodes; i++)
		ev[i] = t->nodes[i].start_ns + t->nodes[i].duration_ns;
	qsort(ev, t->n_nodes, sizeof(*ev), cmp_u64);
	for (uint32_t i = 1; i < t->n_nodes; i++)
		if (ev[i] - ev[i - 1] > m)
			m = ev[i] - ev[i - 1];
	free(ev);
	return m;
}

/* One capture: generator arguments and what to expect. */
struct e2e_case {
	const char *name;
	const char *args[24];
	bool lossy;
	unsigned shards;        /* pipes steering to each other (1: no steering) */
};

static const struct e2e_case cases[] = {
	{ "atr", { "--format", "atr", "--traces", "400", "--seed", "11", "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "atr-affine", { "--format", "atr", "--affine", "--traces", "400", "--seed", "12",
			  "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "jaeger-compact", { "--format", "jaeger-compact", "--traces", "400", "--seed", "13",
			      "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "jaeger-binary", { "--format", "jaeger-binary", "--traces", "400", "--seed", "14",
			     "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "xtrace", { "--format", "xtrace", "--traces", "400", "--seed", "15", "--anomaly-rate", "0.2",
		      NULL }, false, 1 },
	{ "atr-vlan", { "--format", "atr", "--vlan", "100", "--traces", "300", "--seed", "16",
			"--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "atr-qinq", { "--format", "atr", "--qinq", "200,300", "--traces", "300", "--seed", "17",
			"--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "atr-ipv6", { "--format", "atr", "--ipv6", "--traces", "300", "--seed", "18",
			"--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "atr-noise", { "--format", "atr", "--noise", "0.3", "--traces", "300", "--seed", "19",
			 "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "jaeger-compact-mtu1500", { "--format", "jaeger-compact", "--mtu", "1500", "--traces", "300",
				      "--seed", "20", "--anomaly-rate", "0.2", NULL }, false, 1 },
	{ "jaeger-binary-ipv6-mtu1500", { "--format", "jaeger-binary", "--ipv6", "--mtu", "1500",
					  "--traces", "300", "--seed", "21", NULL }, false, 1 },
	{ "xtrace-noise-qinq", { "--format", "xtrace", "--qinq", "5,6", "--noise", "0.3", "--traces",
				 "300", "--seed", "22", NULL }, false, 1 },
	{ "atr-loss", { "--format", "atr", "--loss", "0.02", "--traces", "400", "--seed", "23", NULL },
	  true, 1 },
	{ "jaeger-compact-loss", { "--format", "jaeger-compact", "--loss", "0.02", "--traces", "400",
				   "--seed", "24", NULL }, true, 1 },
	{ "jaeger-compact-2shards", { "--format", "jaeger-compact", "--traces", "400", "--seed", "25",
				      "--anomaly-rate", "0.2", NULL }, false, 2 },
	{ "jaeger-binary-3shards", { "--format", "jaeger-binary", "--mtu", "1500", "--traces", "300",
				     "--seed", "26", "--anomaly-rate", "0.2", NULL }, false, 3 },
	{ "atr-3shards", { "--format", "atr", "--traces", "400", "--seed", "27", "--anomaly-rate", "0.2",
			   NULL }, false, 3 },
	{ "xtrace-2shards", { "--format", "xtrace", "--traces", "300", "--seed", "28", NULL }, false, 2 },
	/* host clocks off by up to 20 ms: the truth carries the skewed starts */
	{ "jaeger-compact-skew", { "--format", "jaeger-compact", "--traces", "300", "--seed", "29",
				   "--skew-ms", "20", "--anomaly-rate", "0.2", NULL }, false, 1 },
	/* senders that flush on their own timers, 50 ms to 5 s, over 25 s of
	 * traffic (past the warm-up): the watermark over sources keeps every
	 * trace whole and no record late, on one pipe and across three */
	{ "atr-agents", { "--format", "atr", "--traces", "1500", "--rate", "1000", "--flush-ms", "50-5000",
			  "--seed", "30", NULL }, false, 1 },
	{ "jaeger-binary-agents-3shards", { "--format", "jaeger-binary", "--traces", "1500", "--rate", "1000",
					    "--flush-ms", "50-5000", "--seed", "31", NULL }, false, 3 },
	{ "xtrace-agents-2shards", { "--format", "xtrace", "--traces", "1000", "--rate", "1000",
				     "--flush-ms", "50-5000", "--seed", "32", NULL }, false, 2 },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
run_case(const struct e2e_case *ec)
{
	char pcap[256], tpath[256], tid[33];
	uint64_t gap_ns = DEFAULT_GAP_NS;
	struct truth tr;
	struct tindex ix = { 0 };
	struct run r;
	const struct alt_pipe_counters *pc;
	struct alt_pipe_counters pcsum;
	struct alt_net_reasm_stats rs;
	const unsigned shards = ec->shards;
	uint32_t *seen = NULL;
	int64_t *got_of = NULL;
	char **oracle = NULL;
	uint64_t matched = 0, lost = 0, lost_out = 0, lost_incomplete = 0, anom[TRUTH_ANOM_COUNT] = { 0 };
	uint64_t struct_distinct[TRUTH_ANOM_COUNT] = { 0 }, struct_oracle_distinct[TRUTH_ANOM_COUNT] = { 0 };
	uint64_t mult_pairs = 0, text_mismatch = 0, closed_by[4] = { 0 }, got_records = 0;
	struct check c_extra = { "no extra traces", 0 }, c_once = { "exactly once", 0 },
		     c_nodes = { "nodes, parents, names, times", 0 },
		     c_flags = { "flags of intact traces", 0 }, c_lost = { "lost traces reduced", 0 },
		     c_acct = { "record accounting", 0 }, c_late = { "no late fragments", 0 },
		     c_shape = { "shape == oracle equivalence", 0 },
		     c_anom = { "anomalies", 0 }, c_net = { "net/reassembly", 0 },
		     c_close = { "closed_by", 0 }, c_text = { "shape text == oracle text", 0 };

	snprintf(pcap, sizeof(pcap), "%s/%s.pcap", tmpdir, ec->name);
	snprintf(tpath, sizeof(tpath), "%s/%s.truth.jsonl", tmpdir, ec->name);
	if (run_gen(ec->args, pcap, tpath) != 0) {
		CU_FAIL_FATAL("altair-gen failed");
		return;
	}
	if (truth_load(&tr, tpath) != 0) {
		fprintf(stderr, "e2e %s: truth: %s\n", ec->name, tr.err);
		truth_free(&tr);
		CU_FAIL_FATAL("malformed truth");
		return;
	}
	CU_ASSERT_FATAL(tr.n > 0);
	for (size_t i = 0; i < tr.n; i++)
		qsort(tr.t[i].nodes, tr.t[i].n_nodes, sizeof(tr.t[i].nodes[0]), cmp_truth_node);
	if (tindex_build(&ix, &tr) != 0) {
		truth_free(&tr);
		CU_FAIL_FATAL("duplicate trace IDs in the truth");
		return;
	}
	/* A latency anomaly can stretch a span so far that its trace falls
	 * silent for longer than the default inactivity gap: the pipe then
	 * rightly splits it. Widen the gap past the longest silence. */
	for (size_t k = 0; k < tr.n; k++) {
		uint64_t sil = max_silence(&tr.t[k]);

		if (sil >= gap_ns)
			gap_ns = sil + 1000000000ull;
	}
	if (gap_ns > DEFAULT_GAP_NS)
		printf("e2e %s: a trace is silent for %.3f s: gap widened to %.3f s\n", ec->name,
		       (double)(gap_ns - 1000000000ull) / 1e9, (double)gap_ns / 1e9);
	if (run_capture(pcap, gap_ns, shards, &r) != 0) {
		run_free(&r);
		free(ix.slot);
		truth_free(&tr);
		CU_FAIL_FATAL("capture could not be processed");
		return;
	}
	sum_counters(&r, &pcsum);
	pc = &pcsum;
	alt_net_reasm_get_stats(r.nf.reasm, &rs);

	seen = calloc(tr.n, sizeof(*seen));
	got_of = malloc(tr.n * sizeof(*got_of));
	oracle = calloc(tr.n, sizeof(*oracle));
	CU_ASSERT_FATAL(seen != NULL && got_of != NULL && oracle != NULL);

	/* 1. every output trace is a truth trace, at most once */
	for (size_t i = 0; i < r.n; i++) {
		struct got_trace *g = &r.t[i];
		int64_t k = tindex_find(&ix, &tr, &g->id);

		alt_fmt_trace_id(tid, &g->id);
		qsort(g->nodes, g->n_nodes, sizeof(g->nodes[0]), cmp_got_node);
		got_records += g->records;
		if (g->closed_by < 4)
			closed_by[g->closed_by]++;
		if (g->flags & ALT_PIPE_TF(LATE_FRAGMENT))
			failf(&c_late, ec->name, "trace %s is a late fragment", tid);
		if (k < 0) {
			failf(&c_extra, ec->name, "trace %s (%u nodes) is not in the truth", tid, g->n_nodes);
			continue;
		}
		if (seen[k]++ > 0) {
			failf(&c_once, ec->name, "trace %s came out %u times", tid, seen[k]);
			continue;
		}
		got_of[k] = (int64_t)i;
		if (g->closed_by == ALT_CLOSED_CLOSES_TRACE && !tr.t[k].closes)
			failf(&c_close, ec->name, "trace %s closed by CLOSES_TRACE but has no closer", tid);
		if (g->closed_by == ALT_CLOSED_PRESSURE)
			failf(&c_close, ec->name, "trace %s closed by pressure", tid);
	}

	/* 2. every truth trace against what came out */
	for (size_t k = 0; k < tr.n; k++) {
		const struct truth_trace *t = &tr.t[k];
		struct got_trace *g = seen[k] ? &r.t[got_of[k]] : NULL;
		bool any_error = false;
		char *otext;

		alt_fmt_trace_id(tid, &t->id);
		for (uint32_t i = 0; i < t->n_nodes; i++)
			any_error |= t->nodes[i].error;
		if (t->lost) {
			lost++;
			if (g == NULL)
				continue;       /* every frame of it was lost */
			lost_out++;
			if (g->flags & ALT_PIPE_TF(INCOMPLETE))
				lost_incomplete++;
			if (!subset_nodes(g, t))
				failf(&c_lost, ec->name, "lost trace %s has nodes not in the truth", tid);
			else if (g->n_nodes >= t->n_nodes)
				failf(&c_lost, ec->name, "lost trace %s has all %u nodes", tid, g->n_nodes);
			continue;
		}
		if (g == NULL) {
			failf(&c_once, ec->name, "trace %s (%s, %u nodes) never came out", tid, t->tpl,
			      t->n_nodes);
			continue;
		}
		if (!same_nodes(&c_nodes, ec->name, tid, g, t))
			continue;
		matched++;
		if (g->flags & (ALT_PIPE_TF(INCOMPLETE) | ALT_PIPE_TF(TRUNCATED) | ALT_PIPE_TF(CYCLE) |
				ALT_PIPE_TF(DUPLICATE_ID) | ALT_PIPE_TF(LATE_RECORDS)))
			failf(&c_flags, ec->name, "intact trace %s has flags 0x%x", tid, g->flags);
		if (!!(g->flags & ALT_PIPE_TF(ERROR)) != any_error)
			failf(&c_flags, ec->name, "trace %s: error flag %d, truth %d", tid,
			      !!(g->flags & ALT_PIPE_TF(ERROR)), any_error);
		anom[t->anomaly]++;
		if (t->anomaly == TRUTH_ANOM_ERROR && !(g->flags & ALT_PIPE_TF(ERROR)))
			failf(&c_anom, ec->name, "error anomaly %s lacks the error flag", tid);
		oracle[k] = oracle_shape(t, &otext);
		if (otext != NULL && g->shape_text != NULL && strcmp(g->shape_text, otext) != 0 &&
		    text_mismatch++ < 2)
			fprintf(stderr, "  note %s: shape text of %s differs from the oracle's:\n"
				"    lib:    %.400s\n    oracle: %.400s\n", ec->name, tid, g->shape_text,
				otext);
		free(otext);
	}

	/* 3. shape equivalence classes agree with the oracle's (pairs of intact
	 * traces; quadratic, fine for a few hundred) */
	for (size_t a = 0; a < tr.n; a++) {
		if (oracle[a] == NULL)
			continue;
		for (size_t b = a + 1; b < tr.n; b++) {
			bool so, sg;

			if (oracle[b] == NULL)
				continue;
			so = strcmp(oracle[a], oracle[b]) == 0;
			sg = r.t[got_of[a]].shape == r.t[got_of[b]].shape;
			if (so != sg) {
				char t2[33];

				alt_fmt_trace_id(tid, &tr.t[a].id);
				alt_fmt_trace_id(t2, &tr.t[b].id);
				failf(&c_shape, ec->name, "traces %s and %s: oracle %s, shape hash %s", tid,
				      t2, so ? "same" : "different", sg ? "same" : "different");
			}
			if (so && sg && tr.t[a].n_nodes != tr.t[b].n_nodes &&
			    strcmp(tr.t[a].tpl, tr.t[b].tpl) == 0)
				mult_pairs++;
		}
	}

	/* 4. structural anomalies against the normal shapes of their template */
	for (size_t k = 0; k < tr.n; k++) {
		const struct truth_trace *t = &tr.t[k];
		bool g_dist = true, o_dist = true;

		if (oracle[k] == NULL || (t->anomaly != TRUTH_ANOM_UNEXPECTED_EDGE &&
					   t->anomaly != TRUTH_ANOM_MISSING_SUBTREE))
			continue;
		for (size_t j = 0; j < tr.n; j++) {
			if (oracle[j] == NULL || tr.t[j].anomaly != TRUTH_ANOM_NONE ||
			    strcmp(tr.t[j].tpl, t->tpl) != 0)
				continue;
			if (r.t[got_of[j]].shape == r.t[got_of[k]].shape)
				g_dist = false;
			if (strcmp(oracle[j], oracle[k]) == 0)
				o_dist = false;
		}
		struct_distinct[t->anomaly] += g_dist;
		struct_oracle_distinct[t->anomaly] += o_dist;
		alt_fmt_trace_id(tid, &t->id);
		/* an edge to a service no template calls is always new structure */
		if (t->anomaly == TRUTH_ANOM_UNEXPECTED_EDGE && !g_dist)
			failf(&c_anom, ec->name, "unexpected_edge trace %s shares a normal shape", tid);
		if (g_dist != o_dist)
			failf(&c_anom, ec->name, "%s trace %s: distinct by shape %d, by truth %d",
			      truth_anomaly_name((enum truth_anomaly)t->anomaly), tid, g_dist, o_dist);
	}

	/* 5. accounting */
	{
		uint64_t sum = 0;

		uint64_t pending = 0;

		/* a steered record is decoded once, counted steered where it
		 * arrived and received, then given its outcome, by its owner */
		for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
			if (i != ALT_PIPE_REC_STEERED)
				sum += pc->records[i];
		if (sum != pc->records_decoded)
			failf(&c_acct, ec->name, "records_decoded %llu != sum of outcomes %llu",
			      (unsigned long long)pc->records_decoded, (unsigned long long)sum);
		if (pc->records[ALT_PIPE_REC_STEERED] != pc->records_received)
			failf(&c_acct, ec->name, "steered %llu != received %llu",
			      (unsigned long long)pc->records[ALT_PIPE_REC_STEERED],
			      (unsigned long long)pc->records_received);
		if (shards > 1 && pc->records[ALT_PIPE_REC_STEERED] == 0)
			failf(&c_acct, ec->name, "%u pipes and no record steered", shards);
		if (shards == 1 && pc->records[ALT_PIPE_REC_STEERED] != 0)
			failf(&c_acct, ec->name, "one pipe steered %llu records",
			      (unsigned long long)pc->records[ALT_PIPE_REC_STEERED]);
		if (r.wrong_owner != 0 || r.steer_frames_bad != 0)
			failf(&c_acct, ec->name, "%llu traces closed by a pipe not their owner, %llu steering "
			      "frames rejected", (unsigned long long)r.wrong_owner,
			      (unsigned long long)r.steer_frames_bad);
		for (unsigned i = 0; i < r.shards; i++)
			pending += alt_pipe_pending(r.pipes[i]);
		if (pending != 0)
			failf(&c_acct, ec->name, "%llu records pending after drain", (unsigned long long)pending);
		if (pc->records[ALT_PIPE_REC_IN_TRACE] != got_records)
			failf(&c_acct, ec->name, "in_trace %llu != records of the traces seen %llu",
			      (unsigned long long)pc->records[ALT_PIPE_REC_IN_TRACE],
			      (unsigned long long)got_records);
		if (pc->records[ALT_PIPE_REC_IN_TRACE] != pc->records_decoded)
			failf(&c_acct, ec->name, "records not in a trace: decoded %llu in_trace %llu",
			      (unsigned long long)pc->records_decoded,
			      (unsigned long long)pc->records[ALT_PIPE_REC_IN_TRACE]);
		if (!ec->lossy && pc->records_decoded != tr.nodes)
			failf(&c_acct, ec->name, "records_decoded %llu != truth nodes %llu",
			      (unsigned long long)pc->records_decoded, (unsigned long long)tr.nodes);
		if (r.payload_rejects != 0)
			failf(&c_acct, ec->name, "%llu payloads rejected by the decoders",
			      (unsigned long long)r.payload_rejects);
		if (r.epoch_traces != r.n)
			failf(&c_acct, ec->name, "epochs count %llu closed traces, hook saw %zu",
			      (unsigned long long)r.epoch_traces, r.n);
		if (r.epoch_disorder || r.epochs != pc->epochs || r.epochs == 0)
			failf(&c_acct, ec->name, "epochs: %llu handed, counter %llu, disorder %d",
			      (unsigned long long)r.epochs, (unsigned long long)pc->epochs,
			      r.epoch_disorder);
		if (pc->late_fragments != 0 || pc->records[ALT_PIPE_REC_LATE_FRAGMENT] != 0)
			failf(&c_late, ec->name, "%llu late-fragment traces (%llu records)",
			      (unsigned long long)pc->late_fragments,
			      (unsigned long long)pc->records[ALT_PIPE_REC_LATE_FRAGMENT]);
		if (pc->late != 0)
			failf(&c_late, ec->name, "%llu records behind the watermark",
			      (unsigned long long)pc->late);
	}

	/* 6. the network layer: nothing malformed, every fragment reassembled */
	for (unsigned o = ALT_NET_TRUNCATED_L2; o < ALT_NET_OUTCOME_COUNT; o++)
		if (r.nf.cnt.outcome[o] != 0 || r.nf.cnt_l4.outcome[o] != 0)
			failf(&c_net, ec->name, "%llu frames %s",
			      (unsigned long long)(r.nf.cnt.outcome[o] + r.nf.cnt_l4.outcome[o]),
			      alt_net_outcome_name((enum alt_net_outcome)o));
	if (!ec->lossy && rs.frags[ALT_NET_REASM_COMPLETE] != rs.frags_in)
		failf(&c_net, ec->name, "fragments: %llu in, %llu completed",
		      (unsigned long long)rs.frags_in,
		      (unsigned long long)rs.frags[ALT_NET_REASM_COMPLETE]);

	printf("e2e %-27s traces %4zu (lost %3llu, out %3llu, incomplete %3llu) records %6llu "
	       "steered %6llu frames %6llu payloads %6llu frag-dgrams %5llu matched %4llu/%llu closed_by "
	       "gap/closer/drain %llu/%llu/%llu epochs %llu | anomalies edge %llu (distinct %llu/%llu) "
	       "missing %llu (distinct %llu/%llu) latency %llu error %llu | same-shape multiplicity "
	       "pairs %llu%s\n",
	       ec->name, tr.n, (unsigned long long)lost, (unsigned long long)lost_out,
	       (unsigned long long)lost_incomplete, (unsigned long long)pc->records_decoded,
	       (unsigned long long)pc->records[ALT_PIPE_REC_STEERED], (unsigned long long)r.frames, (unsigned long long)r.payloads,
	       (unsigned long long)r.nf.reassembled, (unsigned long long)matched,
	       (unsigned long long)(tr.n - lost), (unsigned long long)closed_by[0],
	       (unsigned long long)closed_by[1], (unsigned long long)closed_by[2],
	       (unsigned long long)r.epochs, (unsigned long long)anom[1],
	       (unsigned long long)struct_distinct[1], (unsigned long long)struct_oracle_distinct[1],
	       (unsigned long long)anom[2], (unsigned long long)struct_distinct[2],
	       (unsigned long long)struct_oracle_distinct[2], (unsigned long long)anom[3],
	       (unsigned long long)anom[4], (unsigned long long)mult_pairs,
	       text_mismatch ? " SHAPE-TEXT-MISMATCHES" : "");
	fflush(stdout);

	CU_ASSERT_EQUAL(c_extra.fails, 0);
	CU_ASSERT_EQUAL(c_once.fails, 0);
	CU_ASSERT_EQUAL(c_nodes.fails, 0);
	CU_ASSERT_EQUAL(c_flags.fails, 0);
	CU_ASSERT_EQUAL(c_lost.fails, 0);
	CU_ASSERT_EQUAL(c_acct.fails, 0);
	CU_ASSERT_EQUAL(c_late.fails, 0);
	CU_ASSERT_EQUAL(c_shape.fails, 0);
	CU_ASSERT_EQUAL(c_text.fails, 0);
	CU_ASSERT_EQUAL(c_anom.fails, 0);
	CU_ASSERT_EQUAL(c_net.fails, 0);
	CU_ASSERT_EQUAL(c_close.fails, 0);
	CU_ASSERT_EQUAL(matched, tr.n - lost);
	if (ec->lossy)
		CU_ASSERT(lost > 0);

	for (size_t k = 0; k < tr.n; k++)
		free(oracle[k]);
	free(oracle);
	hcons_reset();
	free(seen);
	free(got_of);
	free(ix.slot);
	run_free(&r);
	truth_free(&tr);
	if (getenv("ALTAIR_E2E_KEEP") == NULL) {
		unlink(pcap);
		unlink(tpath);
	}
}

/* ---- self-tests of the readers ---- */

static void
test_truth_parser(void)
{
	static const char ok[] =
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\\u0041\","
		"\"anomaly\":\"error\",\"lost_frames\":false,\"closes_trace\":true,\"extra\":[1,{\"x\":null}],"
		"\"nodes\":[{\"id\":\"00000000000000ff\",\"parents\":[],\"service\":\"s\\\"q\","
		"\"operation\":\"o\",\"kind\":\"span\",\"start_ns\":5,\"duration_ns\":7,\"error\":true},"
		"{\"id\":\"0000000000000001\",\"parents\":[\"00000000000000ff\"],\"service\":\"s\","
		"\"operation\":\"p\",\"kind\":\"event\",\"start_ns\":6,\"duration_ns\":0,\"error\":false}]}";
	static const char *const bad[] = {
		"",
		"{}",
		"{\"trace_id\":\"ab\",\"template\":\"t\",\"anomaly\":\"none\",\"lost_frames\":false,"
		"\"closes_trace\":false,\"nodes\":[]}",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\",\"anomaly\":\"odd\","
		"\"lost_frames\":false,\"closes_trace\":false,\"nodes\":[]}",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\",\"anomaly\":\"none\","
		"\"lost_frames\":false,\"closes_trace\":false,\"nodes\":[{\"id\":\"00000000000000ff\"}]}",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\",\"anomaly\":\"none\","
		"\"lost_frames\":0,\"closes_trace\":false,\"nodes\":[]}",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\",\"anomaly\":\"none\","
		"\"lost_frames\":false,\"closes_trace\":false,\"nodes\":[{\"id\":\"00000000000000ff\","
		"\"parents\":[],\"service\":\"s\",\"operation\":\"o\",\"kind\":\"span\",\"start_ns\":-5,"
		"\"duration_ns\":7,\"error\":true}]}",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t\",\"anomaly\":\"none\","
		"\"lost_frames\":false,\"closes_trace\":false,\"nodes\":[{\"id\":\"00000000000000ff\","
		"\"parents\":[],\"service\":\"s\",\"operation\":\"o\",\"kind\":\"span\",\"start_ns\":5,"
		"\"duration_ns\":7,\"error\":true}]} x",
		"{\"trace_id\":\"000000000000000000000000000000ab\",\"template\":\"t",
	};
	struct truth_trace t;
	char err[200];

	CU_ASSERT_EQUAL_FATAL(truth_parse_line(ok, strlen(ok), &t, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(t.id.hi, 0);
	CU_ASSERT_EQUAL(t.id.lo, 0xab);
	CU_ASSERT_STRING_EQUAL(t.tpl, "tA");
	CU_ASSERT_EQUAL(t.anomaly, TRUTH_ANOM_ERROR);
	CU_ASSERT(!t.lost && t.closes);
	CU_ASSERT_EQUAL_FATAL(t.n_nodes, 2);
	CU_ASSERT_EQUAL(t.nodes[0].id, 0xff);
	CU_ASSERT_STRING_EQUAL(t.nodes[0].service, "s\"q");
	CU_ASSERT(t.nodes[0].error && t.nodes[0].kind == ALT_KIND_SPAN);
	CU_ASSERT_EQUAL(t.nodes[0].start_ns, 5);
	CU_ASSERT_EQUAL(t.nodes[0].duration_ns, 7);
	CU_ASSERT_EQUAL(t.nodes[1].n_parents, 1);
	CU_ASSERT_EQUAL(t.nodes[1].parents[0], 0xff);
	CU_ASSERT_EQUAL(t.nodes[1].kind, ALT_KIND_EVENT);
	truth_trace_free(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = truth_parse_line(bad[i], strlen(bad[i]), &t, err, sizeof(err));

		CU_ASSERT_EQUAL(rc, -1);
		if (rc == 0)
			fprintf(stderr, "bad truth line %zu accepted\n", i);
		truth_trace_free(&t);
	}
}

static void
put32(uint8_t *p, uint32_t v, bool be)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(be ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void
put16(uint8_t *p, uint16_t v, bool be)
{
	p[0] = (uint8_t)(be ? v >> 8 : v);
	p[1] = (uint8_t)(be ? v : v >> 8);
}

static void
test_pcap_reader(void)
{
	uint8_t buf[24 + 2 * (16 + 10)];

	for (int be = 0; be < 2; be++) {
		for (int ns = 0; ns < 2; ns++) {
			struct pcapr r;
			struct pcapr_frame f;

			memset(buf, 0xee, sizeof(buf));
			put32(buf, ns ? 0xa1b23c4d : 0xa1b2c3d4, be);
			put16(buf + 4, 2, be);
			put16(buf + 6, 4, be);
			put32(buf + 8, 0, be);
			put32(buf + 12, 0, be);
			put32(buf + 16, 65535, be);
			put32(buf + 20, 1, be);
			for (int k = 0; k < 2; k++) {
				uint8_t *h = buf + 24 + k * 26;

				put32(h, 100 + k, be);
				put32(h + 4, 7, be);
				put32(h + 8, 10, be);
				put32(h + 12, 60, be);
			}
			CU_ASSERT_EQUAL_FATAL(pcapr_open_mem(&r, buf, sizeof(buf)), 0);
			CU_ASSERT_EQUAL(r.linktype, 1);
			CU_ASSERT_EQUAL(pcapr_next(&r, &f), 1);
			CU_ASSERT_EQUAL(f.caplen, 10);
			CU_ASSERT_EQUAL(f.origlen, 60);
			CU_ASSERT_EQUAL(f.ts_ns, 100ull * 1000000000ull + (ns ? 7u : 7000u));
			CU_ASSERT_EQUAL(pcapr_next(&r, &f), 1);
			CU_ASSERT_EQUAL(f.ts_ns, 101ull * 1000000000ull + (ns ? 7u : 7000u));
			CU_ASSERT_EQUAL(pcapr_next(&r, &f), 0);
			pcapr_close(&r);
			/* every truncation of the second record is an error */
			for (size_t cut = 24 + 26 + 1; cut < sizeof(buf); cut++) {
				CU_ASSERT_EQUAL_FATAL(pcapr_open_mem(&r, buf, cut), 0);
				CU_ASSERT_EQUAL(pcapr_next(&r, &f), 1);
				CU_ASSERT_EQUAL(pcapr_next(&r, &f), -1);
			}
			CU_ASSERT_EQUAL(pcapr_open_mem(&r, buf, 23), -1);
		}
	}
	put32(buf, 0x0a0d0d0a, false);  /* pcapng */
	{
		struct pcapr r;

		CU_ASSERT_EQUAL(pcapr_open_mem(&r, buf, sizeof(buf)), -1);
	}
}

/* Steering frames: records go in without attributes, names longer than
 * ALT_PIPE_NAME_MAX are cut, a frame takes at most 1024 records and what
 * fits in its cap, and what was added decodes back. */
static void
test_steer_frames(void)
{
	static uint8_t frame[256 * 1024];
	static struct alt_record recs[1100], dec[1024];
	static const struct alt_record *ptrs[1100];
	static char big_s[300], big_o[260];
	struct alt_wire_out o = { .recs = dec, .cap = 1024 };
	size_t len = 0;
	unsigned n, total;

	memset(big_s, 'S', sizeof(big_s));
	memset(big_o, 'O', sizeof(big_o));
	for (unsigned i = 0; i < 1100; i++) {
		struct alt_record *r = &recs[i];

		memset(r, 0, sizeof(*r));
		r->trace_id.lo = 1000 + i / 3;
		r->trace_id.hi = 7;
		r->node_id = i + 1;
		r->start_ns = 1000000 * (uint64_t)i;
		r->duration_ns = 500;
		r->parent_count = (uint8_t)(i % 16);
		for (unsigned k = 0; k < r->parent_count; k++)
			r->parents[k] = 5000 + k;
		r->service.p = i == 1 ? big_s : "svc";
		r->service.len = i == 1 ? (uint32_t)sizeof(big_s) : 3;
		r->operation.p = i == 1 ? big_o : "op";
		r->operation.len = i == 1 ? (uint32_t)sizeof(big_o) : 2;
		r->attrs.p = "k=v";
		r->attrs.len = 3;
		ptrs[i] = r;
	}
	/* too small a buffer takes nothing */
	CU_ASSERT_EQUAL(alt_pipe_steer_add(frame, ALT_PIPE_STEER_MIN_CAP - 1, &len, 3, ptrs, 3), 0);
	CU_ASSERT_EQUAL(len, 0);
	/* 1024 records at most in one frame */
	n = alt_pipe_steer_add(frame, sizeof(frame), &len, 3, ptrs, 1100);
	CU_ASSERT_EQUAL_FATAL(n, 1024);
	CU_ASSERT_EQUAL(alt_pipe_steer_count(frame, len), 1024);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, frame, len, &o), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(o.n, 1024);
	for (unsigned i = 0; i < 1024; i++) {
		CU_ASSERT(alt_trace_id_eq(&dec[i].trace_id, &recs[i].trace_id));
		CU_ASSERT_EQUAL(dec[i].node_id, recs[i].node_id);
		CU_ASSERT_EQUAL(dec[i].start_ns, recs[i].start_ns);
		CU_ASSERT_EQUAL(dec[i].duration_ns, recs[i].duration_ns);
		CU_ASSERT_EQUAL(dec[i].parent_count, recs[i].parent_count);
		CU_ASSERT_EQUAL(dec[i].attrs.len, 0);
		CU_ASSERT_EQUAL(dec[i].service.len, i == 1 ? ALT_PIPE_NAME_MAX : 3);
		CU_ASSERT_EQUAL(dec[i].operation.len, i == 1 ? ALT_PIPE_NAME_MAX : 2);
		if (i == 1)
			CU_ASSERT(dec[i].service.p[0] == 'S' && dec[i].operation.p[254] == 'O');
	}
	/* a small frame fills by bytes: what went in is all there, in order */
	for (unsigned i = 1; i < 1100; i++)
		ptrs[i] = &recs[2];     /* 48 + 16 + 5 bytes -> 72 */
	total = 0;
	len = 0;
	n = alt_pipe_steer_add(frame, ALT_PIPE_STEER_MIN_CAP, &len, 3, ptrs + 1, 100);
	CU_ASSERT_EQUAL(n, (ALT_PIPE_STEER_MIN_CAP - 16) / 72);
	CU_ASSERT(len <= ALT_PIPE_STEER_MIN_CAP);
	total += n;
	/* full: nothing more goes in until a new frame begins */
	CU_ASSERT_EQUAL(alt_pipe_steer_add(frame, ALT_PIPE_STEER_MIN_CAP, &len, 3, ptrs + 1 + n, 1), 0);
	CU_ASSERT_EQUAL(alt_pipe_steer_count(frame, len), total);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, frame, len, &o), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(o.n, total);
}

/* Names longer than ALT_PIPE_NAME_MAX: cut to that length by whichever
 * pipe ends up owning the trace (the same name whether the record stayed
 * or was steered), counted once, where the record arrived. */
static void
test_long_names(void)
{
	static char big_s[300], big_o[400];
	static struct alt_record recs[64];
	struct run r;
	struct alt_pipe_counters sum;
	unsigned long_recs = 0, checked = 0, steered_long = 0;

	memset(big_s, 's', sizeof(big_s));
	memset(big_o, 'o', sizeof(big_o));
	CU_ASSERT_EQUAL_FATAL(run_init(&r, 0, 2), 0);
	for (unsigned i = 0; i < 64; i++) {
		struct alt_record *x = &recs[i];
		bool lng = i % 3 == 0;

		memset(x, 0, sizeof(*x));
		x->trace_id.lo = 100 + i;       /* one root record per trace */
		x->trace_id.hi = 1;
		x->node_id = i + 1;
		x->start_ns = 1000000000ull + i * 1000ull;
		x->duration_ns = 10;
		x->service.p = lng ? big_s : "svc";
		x->service.len = lng ? (uint32_t)sizeof(big_s) : 3;
		x->operation.p = lng ? big_o : "op";
		x->operation.len = lng ? (uint32_t)sizeof(big_o) : 2;
		long_recs += lng;
		steered_long += lng && alt_pipe_owner(&r.cfg, &x->trace_id) != 0;
	}
	CU_ASSERT(steered_long > 0);    /* some long names crossed to the other pipe */
	alt_pipe_feed(r.pipes[0], recs, 64);
	shards_flush(&r);
	for (unsigned i = 0; i < 2; i++)
		alt_pipe_drain(r.pipes[i]);
	CU_ASSERT_EQUAL(r.steer_frames_bad, 0);
	CU_ASSERT_EQUAL(r.wrong_owner, 0);
	CU_ASSERT_EQUAL_FATAL(r.n, 64);
	for (size_t k = 0; k < r.n; k++) {
		const struct got_trace *g = &r.t[k];
		bool lng = (g->id.lo - 100) % 3 == 0;

		CU_ASSERT_EQUAL_FATAL(g->n_nodes, 1);
		if (lng) {
			CU_ASSERT_EQUAL(strlen(g->nodes[0].service), ALT_PIPE_NAME_MAX);
			CU_ASSERT_EQUAL(strlen(g->nodes[0].operation), ALT_PIPE_NAME_MAX);
			CU_ASSERT(strspn(g->nodes[0].service, "s") == ALT_PIPE_NAME_MAX);
			CU_ASSERT(strspn(g->nodes[0].operation, "o") == ALT_PIPE_NAME_MAX);
		} else {
			CU_ASSERT_STRING_EQUAL(g->nodes[0].service, "svc");
			CU_ASSERT_STRING_EQUAL(g->nodes[0].operation, "op");
		}
		checked++;
	}
	CU_ASSERT_EQUAL(checked, 64);
	sum_counters(&r, &sum);
	CU_ASSERT_EQUAL(sum.names_truncated, long_recs);
	CU_ASSERT_EQUAL(alt_pipe_counters(r.pipes[1])->names_truncated, 0);
	CU_ASSERT_EQUAL(sum.records[ALT_PIPE_REC_STEERED], sum.records_received);
	CU_ASSERT(sum.records_received > 0);
	run_free(&r);
}

#define CASE_FN(i) \
	static void test_case_##i(void) { if ((i) < N_CASES) run_case(&cases[i]); }
CASE_FN(0) CASE_FN(1) CASE_FN(2) CASE_FN(3) CASE_FN(4) CASE_FN(5) CASE_FN(6) CASE_FN(7)
CASE_FN(8) CASE_FN(9) CASE_FN(10) CASE_FN(11) CASE_FN(12) CASE_FN(13) CASE_FN(14) CASE_FN(15)
CASE_FN(16) CASE_FN(17) CASE_FN(18) CASE_FN(19) CASE_FN(20) CASE_FN(21)

static void (*const case_fns[])(void) = {
	test_case_0, test_case_1, test_case_2, test_case_3, test_case_4, test_case_5, test_case_6,
	test_case_7, test_case_8, test_case_9, test_case_10, test_case_11, test_case_12, test_case_13,
	test_case_14, test_case_15, test_case_16, test_case_17, test_case_18, test_case_19, test_case_20,
	test_case_21,
};

_Static_assert(sizeof(case_fns) / sizeof(case_fns[0]) == N_CASES, "one function per case");

static int
suite_init(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("e2e: mkdtemp");
		return -1;
	}
	tmpdir_made = true;
	return 0;
}

static int
suite_clean(void)
{
	if (tmpdir_made && getenv("ALTAIR_E2E_KEEP") == NULL)
		rmdir(tmpdir);
	else if (tmpdir_made)
		printf("e2e: captures kept in %s\n", tmpdir);
	return 0;
}

int
main(int argc, char **argv)
{
	CU_pSuite s;
	unsigned failed;
	struct stat sb;

	gen_path = argc > 1 ? argv[1] : getenv("ALTAIR_GEN");
	if (gen_path == NULL || stat(gen_path, &sb) != 0 || !(sb.st_mode & S_IXUSR)) {
		fprintf(stderr, "usage: %s PATH-TO-ALTAIR-GEN (got %s)\n", argv[0],
			gen_path ? gen_path : "nothing");
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("e2e", suite_init, suite_clean);
	if (s == NULL)
		return 1;
	CU_add_test(s, "truth parser", test_truth_parser);
	CU_add_test(s, "pcap reader", test_pcap_reader);
	CU_add_test(s, "steering frames", test_steer_frames);
	CU_add_test(s, "long names", test_long_names);
	for (size_t i = 0; i < N_CASES; i++)
		CU_add_test(s, cases[i].name, case_fns[i]);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
