/* SPDX-License-Identifier: BSD-3-Clause
 * Ground truth: one JSON object per trace, nodes sorted by ID, parents
 * sorted, times as the receiver can see them.
 */
#include <stdlib.h>

#include "gen.h"

struct jbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void
jb_reserve(struct jbuf *j, size_t more)
{
	char *np;
	size_t cap;

	if (j->oom || j->len + more <= j->cap)
		return;
	cap = j->cap ? j->cap : 4096;
	while (cap < j->len + more)
		cap *= 2;
	np = realloc(j->p, cap);
	if (np == NULL) {
		j->oom = true;
		return;
	}
	j->p = np;
	j->cap = cap;
}

static void
jb_put(struct jbuf *j, const char *s, size_t n)
{
	jb_reserve(j, n);
	if (j->oom)
		return;
	memcpy(j->p + j->len, s, n);
	j->len += n;
}

static void
jb_lit(struct jbuf *j, const char *s)
{
	jb_put(j, s, strlen(s));
}

static void
jb_u64(struct jbuf *j, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	jb_put(j, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A JSON string of n bytes, escaped. */
static void
jb_str(struct jbuf *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	jb_put(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			jb_put(j, e, 2);
		} else if (c < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			jb_put(j, e, 6);
		} else {
			jb_put(j, (const char *)&c, 1);
		}
	}
	jb_put(j, "\"", 1);
}

static void
jb_id64(struct jbuf *j, uint64_t v)
{
	char s[17];

	alt_fmt_id64(s, v);
	jb_put(j, "\"", 1);
	jb_put(j, s, 16);
	jb_put(j, "\"", 1);
}

static int
cmp_node_id(const void *a, const void *b)
{
	uint64_t x = (*(const struct gen_node *const *)a)->rec.node_id;
	uint64_t y = (*(const struct gen_node *const *)b)->rec.node_id;

	return x < y ? -1 : x > y;
}

static void
sort_u64(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint64_t x = v[i];
		unsigned k = i;

		while (k > 0 && v[k - 1] > x) {
			v[k] = v[k - 1];
			k--;
		}
		v[k] = x;
	}
}

/* Append the JSON line describing t to f; see gen.h. The line buffer and
 * the sort array are kept between calls (the generator is single-threaded). */
int
gen_truth_write(FILE *f, const struct gen_trace *t)
{
	static struct jbuf j;
	static const struct gen_node **order;
	static uint32_t order_cap;
	char tid[33];

	if (t->n_nodes > order_cap) {
		const struct gen_node **no = realloc(order, (size_t)t->n_nodes * sizeof(*no));

		if (no == NULL)
			return -1;
		order = no;
		order_cap = t->n_nodes;
	}
	for (uint32_t i = 0; i < t->n_nodes; i++)
		order[i] = &t->nodes[i];
	qsort(order, t->n_nodes, sizeof(*order), cmp_node_id);

	j.len = 0;
	alt_fmt_trace_id(tid, &t->id);
	jb_lit(&j, "{\"trace_id\":\"");
	jb_put(&j, tid, 32);
	jb_lit(&j, "\",\"template\":");
	jb_str(&j, t->tpl->name, strlen(t->tpl->name));
	jb_lit(&j, ",\"anomaly\":\"");
	jb_lit(&j, gen_anomaly_name((enum gen_anomaly)t->anomaly));
	jb_lit(&j, t->lost ? "\",\"lost_frames\":true" : "\",\"lost_frames\":false");
	jb_lit(&j, t->closes ? ",\"closes_trace\":true" : ",\"closes_trace\":false");
	jb_lit(&j, ",\"nodes\":[");
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		const struct alt_record *r = &order[i]->rec;
		uint64_t par[ALT_MAX_PARENTS];

		if (i > 0)
			jb_put(&j, ",", 1);
		jb_lit(&j, "{\"id\":");
		jb_id64(&j, r->node_id);
		jb_lit(&j, ",\"parents\":[");
		memcpy(par, r->parents, r->parent_count * sizeof(par[0]));
		sort_u64(par, r->parent_count);
		for (unsigned k = 0; k < r->parent_count; k++) {
			if (k > 0)
				jb_put(&j, ",", 1);
			jb_id64(&j, par[k]);
		}
		jb_lit(&j, "],\"service\":");
		jb_str(&j, r->service.p, r->service.len);
		jb_lit(&j, ",\"operation\":");
		jb_str(&j, r->operation.p, r->operation.len);
		jb_lit(&j, r->kind == ALT_KIND_EVENT ? ",\"kind\":\"event\",\"start_ns\":" :
						       ",\"kind\":\"span\",\"start_ns\":");
		jb_u64(&j, r->start_ns);
		jb_lit(&j, ",\"duration_ns\":");
		jb_u64(&j, r->duration_ns);
		jb_lit(&j, (r->flags & ALT_RF_ERROR) ? ",\"error\":true}" : ",\"error\":false}");
	}
	jb_lit(&j, "]}\n");
	if (j.oom)
		return -1;
	return fwrite(j.p, 1, j.len, f) == j.len ? 0 : -1;
}
