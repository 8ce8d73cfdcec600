/* SPDX-License-Identifier: BSD-3-Clause
 * JSON lines for closed traces (--dags) and epochs (--epochs).
 * Writers compute the full length even when the buffer is too small, like
 * snprintf, so a caller can retry with a larger buffer.
 */
#include "alt_pipe.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct jbuf {
	char *buf;
	size_t cap;
	size_t off;
};

static void
j_raw(struct jbuf *j, const char *s, size_t len)
{
	if (j->off < j->cap) {
		size_t room = j->cap - j->off;
		memcpy(j->buf + j->off, s, len < room ? len : room);
	}
	j->off += len;
}

static void
j_lit(struct jbuf *j, const char *s)
{
	j_raw(j, s, strlen(s));
}

static void
j_u64(struct jbuf *j, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	j_raw(j, tmp, (size_t)n);
}

static void
j_key_u64(struct jbuf *j, const char *key, uint64_t v)
{
	j_lit(j, key);
	j_u64(j, v);
}

void
alt_json_str(char *buf, size_t cap, size_t *off, const char *s, size_t len)
{
	struct jbuf j = { buf, cap, *off };
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	j_raw(&j, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		j_raw(&j, s + i - run, run);
		run = 0;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		switch (c) {
		case '"': j_raw(&j, "\\\"", 2); break;
		case '\\': j_raw(&j, "\\\\", 2); break;
		case '\n': j_raw(&j, "\\n", 2); break;
		case '\r': j_raw(&j, "\\r", 2); break;
		case '\t': j_raw(&j, "\\t", 2); break;
		default: j_raw(&j, esc, 6); break;
		}
	}
	j_raw(&j, s + len - run, run);
	j_raw(&j, "\"", 1);
	*off = j.off;
}

static void
j_str(struct jbuf *j, const char *s, size_t len)
{
	alt_json_str(j->buf, j->cap, &j->off, s, len);
}

static void
j_id64(struct jbuf *j, uint64_t v)
{
	char tmp[17];
	alt_fmt_id64(tmp, v);
	j_raw(j, "\"", 1);
	j_raw(j, tmp, 16);
	j_raw(j, "\"", 1);
}

static void
j_intern(struct jbuf *j, const struct alt_intern *in, uint32_t id)
{
	uint32_t len;
	const char *s = alt_intern_str(in, id, &len);
	j_str(j, s, len);
}

static size_t
j_finish(struct jbuf *j)
{
	j_raw(j, "\n", 1);
	if (j->cap > 0) {
		size_t end = j->off < j->cap ? j->off : j->cap - 1;
		j->buf[end] = '\0';
	}
	return j->off;
}

/* A node for an anomaly: {"id","service","operation"}. */
static void
j_node_ref(struct jbuf *j, const struct alt_trace_view *v, uint32_t idx)
{
	const struct alt_node *n = v->dag->v[idx];

	j_lit(j, "{\"id\":");
	j_id64(j, n->node_id);
	j_lit(j, ",\"service\":");
	j_intern(j, v->intern, n->service_id);
	j_lit(j, ",\"operation\":");
	j_intern(j, v->intern, n->operation_id);
	j_lit(j, "}");
}

/* "svc/op" of a node into buf at *off. */
static void
s_node(char *buf, size_t cap, size_t *off, const struct alt_trace_view *v, uint32_t idx)
{
	const struct alt_node *n = v->dag->v[idx];
	uint32_t sl, ol;
	const char *s = alt_intern_str(v->intern, n->service_id, &sl);
	const char *o = alt_intern_str(v->intern, n->operation_id, &ol);
	int k = snprintf(buf + *off, cap - *off, "%.*s/%.*s", (int)(sl > 40 ? 40 : sl), s, (int)(ol > 40 ? 40 : ol), o);

	if (k > 0)
		*off = *off + (size_t)k < cap ? *off + (size_t)k : cap - 1;
}

/* One line a person reads first: "edge a/x -> b/y; slow c/z 12.3 ms > 2.0 ms". */
static void
anomaly_summary(struct jbuf *j, const struct alt_trace_view *v)
{
	const struct alt_tmpl_verdict *r = v->verdict;
	char buf[320];
	size_t off = 0;
	int k;

#define S_PUT(...) do { k = snprintf(buf + off, sizeof(buf) - off, __VA_ARGS__); \
		if (k > 0) off = off + (size_t)k < sizeof(buf) ? off + (size_t)k : sizeof(buf) - 1; } while (0)
	buf[0] = '\0';
	if (v->flags & ALT_PIPE_TF(ANOMALY_SHAPE))
		S_PUT("unknown shape");
	if (r->n_edges > 0) {
		S_PUT("%sedge ", off ? "; " : "");
		if (r->edge[0].parent == UINT32_MAX)
			S_PUT("(entry)");
		else
			s_node(buf, sizeof(buf), &off, v, r->edge[0].parent);
		S_PUT(" -> ");
		s_node(buf, sizeof(buf), &off, v, r->edge[0].child);
		if (r->n_edges > 1)
			S_PUT(" (+%u)", r->n_edges - 1);
	}
	if (r->n_slow > 0) {
		S_PUT("%sslow ", off ? "; " : "");
		s_node(buf, sizeof(buf), &off, v, r->slow[0].node);
		S_PUT(" %.3f ms > %.3f ms", (double)v->dag->v[r->slow[0].node]->duration_ns / 1e6,
		      (double)r->slow[0].limit_ns / 1e6);
		if (r->n_slow > 1)
			S_PUT(" (+%u)", r->n_slow - 1);
	}
	if (r->trace_slow)
		S_PUT("%strace %.3f ms > %.3f ms", off ? "; " : "", (double)v->dag->duration_ns / 1e6,
		      (double)r->trace_limit_ns / 1e6);
#undef S_PUT
	j_lit(j, ",\"anomaly_summary\":");
	j_str(j, buf, off);
}

/* What the templates found: the model's generation and, per reason, what
 * does not fit (docs/anomalies.md). */
static void
j_anomalies(struct jbuf *j, const struct alt_trace_view *v)
{
	const struct alt_tmpl_verdict *r = v->verdict;
	bool first = true;

	j_key_u64(j, ",\"templates_generation\":", r->generation);
	j_lit(j, ",\"anomalies\":[");
	if (v->flags & ALT_PIPE_TF(ANOMALY_SHAPE)) {
		j_lit(j, "{\"reason\":\"anomaly_shape\",\"shape\":");
		j_id64(j, v->shape);
		j_lit(j, "}");
		first = false;
	}
	for (uint32_t i = 0; i < r->n_edges && i < ALT_TMPL_MAX_REPORT; i++) {
		j_lit(j, first ? "{" : ",{");
		first = false;
		j_lit(j, "\"reason\":\"anomaly_edge\",\"caller\":");
		if (r->edge[i].parent == UINT32_MAX)
			j_lit(j, "null");
		else
			j_node_ref(j, v, r->edge[i].parent);
		j_lit(j, ",\"callee\":");
		j_node_ref(j, v, r->edge[i].child);
		j_lit(j, "}");
	}
	for (uint32_t i = 0; i < r->n_slow && i < ALT_TMPL_MAX_REPORT; i++) {
		j_lit(j, first ? "{" : ",{");
		first = false;
		j_lit(j, "\"reason\":\"anomaly_latency\",\"node\":");
		j_node_ref(j, v, r->slow[i].node);
		j_key_u64(j, ",\"duration_ns\":", v->dag->v[r->slow[i].node]->duration_ns);
		j_key_u64(j, ",\"limit_ns\":", r->slow[i].limit_ns);
		j_lit(j, "}");
	}
	if (r->trace_slow) {
		j_lit(j, first ? "{" : ",{");
		j_lit(j, "\"reason\":\"anomaly_latency\",\"node\":null");
		j_key_u64(j, ",\"duration_ns\":", v->dag->duration_ns);
		j_key_u64(j, ",\"limit_ns\":", r->trace_limit_ns);
		j_lit(j, "}");
	}
	j_lit(j, "]");
	anomaly_summary(j, v);
	j_key_u64(j, ",\"unknown_edges\":", r->n_edges);
	j_key_u64(j, ",\"slow_nodes\":", r->n_slow);
}

/*
 * One closed trace as a JSON line (the --dags format, see docs/outputs.md).
 * A trace the templates flagged also carries the model's generation and
 * what did not fit ("anomalies").
 */
size_t
alt_pipe_format_trace(const struct alt_trace_view *v, bool full, char *buf, size_t cap)
{
	struct jbuf j = { buf, cap, 0 };
	const struct alt_trace *t = v->trace;
	const struct alt_dag *d = v->dag;
	char tid[33];
	bool first = true;

	alt_fmt_trace_id(tid, &t->trace_id);
	j_lit(&j, "{\"trace_id\":\"");
	j_raw(&j, tid, 32);
	j_lit(&j, "\",\"closed_by\":\"");
	j_lit(&j, alt_closed_by_name(t->closed_by));
	j_lit(&j, "\"");
	if (d != NULL) {
		j_key_u64(&j, ",\"start_ns\":", d->start_ns);
		j_key_u64(&j, ",\"end_ns\":", d->end_ns);
		j_key_u64(&j, ",\"duration_ns\":", d->duration_ns);
		j_key_u64(&j, ",\"nodes\":", d->nodes);
		j_key_u64(&j, ",\"edges\":", d->edges);
		j_key_u64(&j, ",\"roots\":", d->roots);
		j_key_u64(&j, ",\"orphans\":", d->orphans);
		j_key_u64(&j, ",\"missing_parents\":", d->missing_parents);
		j_key_u64(&j, ",\"joins\":", d->joins);
		j_key_u64(&j, ",\"depth\":", d->depth);
		j_key_u64(&j, ",\"width\":", d->width);
		j_key_u64(&j, ",\"errors\":", d->errors);
		j_key_u64(&j, ",\"duplicates\":", d->duplicates);
	} else {
		j_key_u64(&j, ",\"start_ns\":", t->first_ns);
		j_key_u64(&j, ",\"nodes\":", t->n_nodes);
	}
	j_key_u64(&j, ",\"records\":", v->records);
	j_key_u64(&j, ",\"late_records\":", t->late_records);
	j_key_u64(&j, ",\"dropped_records\":", t->dropped_nodes);
	j_lit(&j, ",\"shape\":");
	j_id64(&j, v->shape);
	if (v->shape_text != NULL) {
		j_lit(&j, ",\"shape_text\":");
		j_str(&j, v->shape_text, strlen(v->shape_text));
	}
	if (d != NULL)
		j_key_u64(&j, ",\"critical_path_ns\":", d->critical_path_ns);
	j_lit(&j, ",\"flags\":[");
	for (unsigned b = 0; b < ALT_PIPE_TFB_COUNT; b++) {
		if (!(v->flags & (1u << b)))
			continue;
		if (!first)
			j_raw(&j, ",", 1);
		first = false;
		j_raw(&j, "\"", 1);
		j_lit(&j, alt_pipe_trace_flag_name(b));
		j_raw(&j, "\"", 1);
	}
	j_lit(&j, "]");
	if (v->verdict != NULL && (v->flags & ALT_PIPE_TF_ANOMALY) && d != NULL)
		j_anomalies(&j, v);
	if (full && d != NULL) {
		j_lit(&j, ",\"spans\":[");
		for (uint32_t i = 0; i < d->nodes; i++) {
			const struct alt_node *n = d->v[i];
			if (i)
				j_raw(&j, ",", 1);
			j_lit(&j, "{\"id\":");
			j_id64(&j, n->node_id);
			j_lit(&j, ",\"parents\":[");
			for (unsigned k = 0; k < n->parent_count; k++) {
				if (k)
					j_raw(&j, ",", 1);
				j_id64(&j, alt_node_parent(n, k));
			}
			j_lit(&j, "],\"service\":");
			j_intern(&j, v->intern, n->service_id);
			j_lit(&j, ",\"operation\":");
			j_intern(&j, v->intern, n->operation_id);
			j_key_u64(&j, ",\"start_ns\":", n->start_ns);
			j_key_u64(&j, ",\"duration_ns\":", n->duration_ns);
			j_lit(&j, n->kind == ALT_KIND_EVENT ? ",\"kind\":\"event\"" : ",\"kind\":\"span\"");
			j_lit(&j, (n->flags & ALT_RF_ERROR) ? ",\"error\":true" : ",\"error\":false");
			if (n->flags & ALT_NF_LATE)
				j_lit(&j, ",\"late\":true");
			j_lit(&j, "}");
		}
		j_lit(&j, "]");
	}
	j_lit(&j, "}");
	return j_finish(&j);
}

static int
op_cmp(const void *a, const void *b, void *st)
{
	const struct alt_stats_op *x = *(const struct alt_stats_op *const *)a;
	const struct alt_stats_op *y = *(const struct alt_stats_op *const *)b;
	int c = strcmp(alt_stats_str(st, x->service), alt_stats_str(st, y->service));
	return c ? c : strcmp(alt_stats_str(st, x->operation), alt_stats_str(st, y->operation));
}

static int
shape_cmp(const void *a, const void *b)
{
	const struct alt_stats_shape *x = *(const struct alt_stats_shape *const *)a;
	const struct alt_stats_shape *y = *(const struct alt_stats_shape *const *)b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->shape < y->shape ? -1 : x->shape > y->shape;
}

/*
 * One epoch as a JSON line (the --epochs format, see docs/outputs.md).
 * Latency entries are sorted by (service, operation); shapes by count
 * descending; top pairs as alt_stats_top_pairs orders them.
 */
size_t
alt_pipe_format_epoch(const struct alt_stats *st, uint64_t epoch, uint64_t epoch_ns,
		      double processing_delay_ms, unsigned topn, char *buf, size_t cap)
{
	struct jbuf j = { buf, cap, 0 };
	const struct alt_stats_counters *c = alt_stats_counters_const(st);
	const struct alt_stats_op *ops;
	const struct alt_stats_shape *shapes;
	unsigned n_ops = alt_stats_ops(st, &ops);
	unsigned n_shapes = alt_stats_shapes(st, &shapes);
	const char *dn[32];
	uint64_t dc[32];
	unsigned n_drop = alt_stats_dropped(st, dn, dc, 32);
	char tmp[64];

	j_key_u64(&j, "{\"epoch\":", epoch);
	j_key_u64(&j, ",\"start_ns\":", epoch * epoch_ns);
	j_key_u64(&j, ",\"records\":", c->records);
	j_key_u64(&j, ",\"traces_closed\":", c->traces_closed);
	j_key_u64(&j, ",\"late\":", c->late);
	if (c->anomaly_checked > 0) {
		j_key_u64(&j, ",\"anomalies\":{\"checked\":", c->anomaly_checked);
		j_key_u64(&j, ",\"flagged\":", c->anomaly_traces);
		j_key_u64(&j, ",\"anomaly_shape\":", c->anomaly_shape);
		j_key_u64(&j, ",\"anomaly_edge\":", c->anomaly_edge);
		j_key_u64(&j, ",\"anomaly_latency\":", c->anomaly_latency);
		j_lit(&j, "}");
	}
	j_lit(&j, ",\"dropped\":{");
	for (unsigned i = 0; i < n_drop && i < 32; i++) {
		if (i)
			j_raw(&j, ",", 1);
		j_str(&j, dn[i], strlen(dn[i]));
		j_key_u64(&j, ":", dc[i]);
	}
	j_lit(&j, "},\"shapes\":[");
	{
		const struct alt_stats_shape **idx = malloc(sizeof(*idx) * (n_shapes ? n_shapes : 1));
		if (idx != NULL) {
			for (unsigned i = 0; i < n_shapes; i++)
				idx[i] = &shapes[i];
			qsort(idx, n_shapes, sizeof(*idx), shape_cmp);
			for (unsigned i = 0; i < n_shapes; i++) {
				if (i)
					j_raw(&j, ",", 1);
				j_lit(&j, "{\"shape\":");
				j_id64(&j, idx[i]->shape);
				j_key_u64(&j, ",\"count\":", idx[i]->count);
				j_key_u64(&j, ",\"p50_ns\":", alt_hist_quantile(&idx[i]->h, 0.50));
				j_key_u64(&j, ",\"p99_ns\":", alt_hist_quantile(&idx[i]->h, 0.99));
				j_lit(&j, "}");
			}
			free(idx);
		}
	}
	j_lit(&j, "],\"latency\":[");
	{
		const struct alt_stats_op **idx = malloc(sizeof(*idx) * (n_ops ? n_ops : 1));
		if (idx != NULL) {
			for (unsigned i = 0; i < n_ops; i++)
				idx[i] = &ops[i];
			qsort_r(idx, n_ops, sizeof(*idx), op_cmp, (void *)st);
			for (unsigned i = 0; i < n_ops; i++) {
				const struct alt_stats_op *o = idx[i];
				const char *s = alt_stats_str(st, o->service);
				const char *op = alt_stats_str(st, o->operation);
				if (i)
					j_raw(&j, ",", 1);
				j_lit(&j, "{\"service\":");
				j_str(&j, s, strlen(s));
				j_lit(&j, ",\"operation\":");
				j_str(&j, op, strlen(op));
				j_key_u64(&j, ",\"count\":", o->h.count);
				j_key_u64(&j, ",\"p50_ns\":", alt_hist_quantile(&o->h, 0.50));
				j_key_u64(&j, ",\"p90_ns\":", alt_hist_quantile(&o->h, 0.90));
				j_key_u64(&j, ",\"p99_ns\":", alt_hist_quantile(&o->h, 0.99));
				j_key_u64(&j, ",\"p999_ns\":", alt_hist_quantile(&o->h, 0.999));
				j_lit(&j, "}");
			}
			free(idx);
		}
	}
	j_lit(&j, "],\"top_pairs\":[");
	{
		struct alt_topk_item items[256];
		unsigned n = alt_stats_top_pairs(st, items, topn < 256 ? topn : 256);
		for (unsigned i = 0; i < n; i++) {
			const char *a = alt_stats_str(st, items[i].a_id);
			const char *b = alt_stats_str(st, items[i].b_id);
			if (i)
				j_raw(&j, ",", 1);
			j_lit(&j, "{\"caller\":");
			j_str(&j, a, strlen(a));
			j_lit(&j, ",\"callee\":");
			j_str(&j, b, strlen(b));
			j_key_u64(&j, ",\"count\":", items[i].count);
			j_lit(&j, "}");
		}
	}
	{
		/* the arrival of each closed trace's last record to its closing */
		const struct alt_hist *h = alt_stats_close_delay(st);
		char cd[512];
		snprintf(cd, sizeof(cd), "],\"close_delay_ms\":{\"count\":%llu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
			 (unsigned long long)h->count, (double)alt_hist_quantile(h, 0.5) / 1e6,
			 (double)alt_hist_quantile(h, 0.99) / 1e6, (double)h->max / 1e6);
		j_lit(&j, cd);
	}
	j_lit(&j, ",\"processing_delay_ms\":");
	snprintf(tmp, sizeof(tmp), "%.3f", processing_delay_ms);
	j_lit(&j, tmp);
	j_lit(&j, "}");
	return j_finish(&j);
}
