/* SPDX-License-Identifier: BSD-3-Clause
 * Templates at run time: loading a template file into a model, publishing
 * models to the workers with an RCU swap, freeing replaced models after
 * their grace period, online learning, and the recent flagged traces.
 *
 * The swap (docs/design.md, "Ownership and memory"):
 *   - workers load g_app.tmpl.cur with acquire once per loop iteration,
 *     check every trace they close in that iteration against it, and call
 *     rte_rcu_qsbr_quiescent at its end;
 *   - the control lcore is the only writer of cur: it stores the new model
 *     with release (its filters are written before), starts a grace period
 *     (rte_rcu_qsbr_start) and keeps the old model with the token;
 *   - every loop it frees the retired models whose token
 *     rte_rcu_qsbr_check (non-blocking) reports as passed: every worker has
 *     reported quiescence since, or is offline, so none can still hold it.
 * No one waits: a worker never blocks on a swap, the control lcore never
 * blocks on a worker. A reload from telemetry builds the model on the
 * telemetry thread and hands it over through a one-slot mailbox (atomic
 * exchange: whoever takes a model out owns it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dp_private.h"

/* Latency limits need this many samples (an op's spans, a shape's traces). */
#define LEARN_MIN_LATENCY_SAMPLES 20
/* The merged window holds this many times what one worker's epoch does. */
#define LEARN_WINDOW_FACTOR 4

static struct alt_tmpl_model *
build_model(struct alt_dp_app *a, const struct alt_tmpl_set *s, char *err, size_t errlen)
{
	const struct alt_dp_conf *c = a->conf;
	struct alt_tmpl_model_params p;
	struct alt_tmpl_model *m;
	size_t sz;
	void *mem;

	alt_tmpl_model_params_default(&p);
	p.fpr = c->bloom_fpr;
	p.shape_keys = c->bloom_keys;
	p.edge_keys = c->bloom_keys;
	p.latency_factor = c->latency_factor;
	sz = alt_tmpl_model_memsize(s, &p);
	if (sz == 0) {
		snprintf(err, errlen, "bad filter parameters (bloom-fpr %g, bloom-keys %" PRIu64 ")", c->bloom_fpr,
			 c->bloom_keys);
		return NULL;
	}
	mem = rte_malloc("templates", sz, RTE_CACHE_LINE_SIZE);
	if (mem == NULL) {
		snprintf(err, errlen, "no memory for the model (%zu bytes)", sz);
		return NULL;
	}
	/* relaxed: a unique number is all that is needed */
	p.generation = __atomic_add_fetch(&a->tmpl.next_gen, 1, __ATOMIC_RELAXED);
	m = alt_tmpl_model_build(mem, sz, s, &p);
	if (m == NULL) {
		rte_free(mem);
		snprintf(err, errlen, "cannot build the model");
	}
	return m;
}

struct alt_tmpl_model *
alt_dp_tmpl_load(struct alt_dp_app *a, const char *path, char *err, size_t errlen)
{
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m = NULL;

	alt_tmpl_set_init(&s);
	if (alt_tmpl_set_load(&s, path, err, errlen) == 0)
		m = build_model(a, &s, err, errlen);
	alt_tmpl_set_free(&s);
	return m;
}

void
alt_dp_tmpl_publish(struct alt_dp_app *a, struct alt_tmpl_model *m, const char *source)
{
	struct alt_dp_tmpl *t = &a->tmpl;
	struct alt_tmpl_model *old = t->cur;    /* plain: this lcore is the only writer */

	/* release: the model's filters and tables, written before, are visible
	 * to a worker that loads cur with acquire (worker_main) */
	__atomic_store_n(&t->cur, m, __ATOMIC_RELEASE);
	/* release: pairs with the reload handler's acquire load; it reports
	 * the generation as in force only after this store */
	__atomic_store_n(&t->published_gen, m != NULL ? m->generation : 0, __ATOMIC_RELEASE);
	ctr_add(&t->swaps, 1);
	rte_spinlock_lock(&t->lock);
	if (m != NULL) {
		alt_tmpl_model_info(m, &t->info);
		t->have_info = true;
	} else {
		t->have_info = false;
	}
	snprintf(t->source, sizeof(t->source), "%s", source);
	rte_spinlock_unlock(&t->lock);
	if (old == NULL)
		return;
	if (t->n_retired == t->cap_retired) {
		uint32_t nc = t->cap_retired ? t->cap_retired * 2 : 16;
		struct retired_model *r = realloc(t->retired, sizeof(*r) * nc);

		if (r == NULL) {
			/* no room to wait: wait here (never happens in practice) */
			rte_rcu_qsbr_synchronize(t->qsv, RTE_QSBR_THRID_INVALID);
			rte_free(old);
			t->freed++;
			return;
		}
		t->retired = r;
		t->cap_retired = nc;
	}
	t->retired[t->n_retired].m = old;
	t->retired[t->n_retired].token = rte_rcu_qsbr_start(t->qsv);
	t->n_retired++;
}

void
alt_dp_tmpl_poll(struct alt_dp_app *a, bool all)
{
	struct alt_dp_tmpl *t = &a->tmpl;
	/* acq_rel: takes ownership of a model the telemetry thread built (its
	 * contents visible) and leaves the slot empty */
	struct alt_tmpl_model *m = __atomic_exchange_n(&t->mailbox, NULL, __ATOMIC_ACQ_REL);
	uint32_t k = 0;

	if (m != NULL) {
		char src[256];

		rte_spinlock_lock(&t->lock);
		snprintf(src, sizeof(src), "%s", t->pending_source);
		rte_spinlock_unlock(&t->lock);
		alt_dp_tmpl_publish(a, m, src);
	}
	for (uint32_t i = 0; i < t->n_retired; i++) {
		if (all || rte_rcu_qsbr_check(t->qsv, t->retired[i].token, false) == 1) {
			rte_free(t->retired[i].m);
			t->freed++;
		} else {
			t->retired[k++] = t->retired[i];
		}
	}
	t->n_retired = k;
	if (all) {
		/* the workers are done: nothing reads the model in force */
		rte_free(t->cur);
		t->cur = NULL;
		rte_free(t->mailbox);
		t->mailbox = NULL;
		free(t->retired);
		t->retired = NULL;
		t->cap_retired = 0;
	}
}

int
alt_dp_tmpl_setup(struct alt_dp_app *a)
{
	const struct alt_dp_conf *c = a->conf;
	struct alt_dp_tmpl *t = &a->tmpl;
	size_t sz = rte_rcu_qsbr_get_memsize(a->nworkers);
	char err[256];

	rte_spinlock_init(&t->lock);
	t->qsv = rte_zmalloc("qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (t->qsv == NULL || rte_rcu_qsbr_init(t->qsv, a->nworkers) != 0) {
		fprintf(stderr, "altair: cannot set up RCU for %u workers\n", a->nworkers);
		return -1;
	}
	if (c->templates[0] != '\0') {
		struct alt_tmpl_model *m = alt_dp_tmpl_load(a, c->templates, err, sizeof(err));

		if (m == NULL) {
			fprintf(stderr, "altair: --templates %s: %s\n", c->templates, err);
			return -1;
		}
		alt_dp_tmpl_publish(a, m, c->templates);
		t->swaps = 0;           /* the first model is no swap */
		t->learned_once = true;
	}
	if (c->learn_epochs > 0 || c->relearn_epochs > 0) {
		uint32_t keys = c->learn_max_keys * LEARN_WINDOW_FACTOR;

		t->obs = alt_tmpl_obs_init(malloc(alt_tmpl_obs_memsize(keys)), keys);
		t->lat = alt_pipe_stats_new(a->workers[0].pipe);
		if (t->obs == NULL || t->lat == NULL) {
			fprintf(stderr, "altair: cannot allocate the learning window (%u keys)\n", keys);
			return -1;
		}
		alt_stats_reset(t->lat, 0);
		/* relaxed: nothing is published through it */
		__atomic_store_n(&t->learning, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

void
alt_dp_tmpl_partial(struct alt_dp_app *a, struct epoch_obj *o)
{
	struct alt_dp_tmpl *t = &a->tmpl;

	if (o->obs == NULL)
		return;
	if (t->obs != NULL && t->learning)
		alt_tmpl_obs_merge(t->obs, o->obs);
	alt_tmpl_obs_reset(o->obs);
}

/* The latency percentiles of the window into the learned set. */
static int
learn_latency(struct alt_tmpl_set *s, const struct alt_stats *st)
{
	const struct alt_stats_op *ops;
	const struct alt_stats_shape *shapes;
	unsigned n_ops = alt_stats_ops(st, &ops), n_shapes = alt_stats_shapes(st, &shapes);

	for (unsigned i = 0; i < n_ops; i++) {
		const char *svc = alt_stats_str(st, ops[i].service), *op = alt_stats_str(st, ops[i].operation);

		if (ops[i].h.count < LEARN_MIN_LATENCY_SAMPLES)
			continue;
		if (alt_tmpl_set_add_op_key(s, alt_tmpl_op_key_str(svc, strlen(svc), op, strlen(op)), ops[i].h.count,
					    alt_hist_quantile(&ops[i].h, 0.5), alt_hist_quantile(&ops[i].h, 0.99)) != 0)
			return -ENOMEM;
	}
	for (uint32_t j = 0; j < s->n_shapes; j++) {
		struct alt_tmpl_shape *sh = &s->shapes[j];

		if (sh->family)
			continue;
		for (unsigned i = 0; i < n_shapes; i++)
			if (shapes[i].shape == sh->hash && shapes[i].h.count >= LEARN_MIN_LATENCY_SAMPLES) {
				sh->p50_ns = alt_hist_quantile(&shapes[i].h, 0.5);
				sh->p99_ns = alt_hist_quantile(&shapes[i].h, 0.99);
				break;
			}
	}
	return 0;
}

void
alt_dp_tmpl_epoch(struct alt_dp_app *a, const struct alt_stats *st)
{
	const struct alt_dp_conf *c = a->conf;
	struct alt_dp_tmpl *t = &a->tmpl;
	struct alt_tmpl_set s;
	struct alt_tmpl_model *m;
	uint32_t target;
	char err[256], src[128];

	if (t->obs == NULL || !t->learning)
		return;
	alt_stats_merge(t->lat, st);
	t->window_epochs++;
	target = t->learned_once ? c->relearn_epochs : c->learn_epochs;
	if (target == 0 || t->window_epochs < target)
		return;
	alt_tmpl_set_init(&s);
	if (alt_tmpl_learn_accept(&s, t->obs, c->learn_min_support) == 0 && learn_latency(&s, t->lat) == 0 &&
	    (m = build_model(a, &s, err, sizeof(err))) != NULL) {
		snprintf(src, sizeof(src), "learned online: %" PRIu64 " traces over %u epochs up to epoch %" PRIu64,
			 t->obs->traces, t->window_epochs, alt_stats_epoch(st));
		alt_dp_tmpl_publish(a, m, src);
		t->builds++;
		if (!c->quiet)
			fprintf(stderr, "altair: templates generation %" PRIu64 " %s: %u shapes, %u families, %u edges\n",
				m->generation, src, m->n_shapes, m->n_families, m->n_edges);
	} else if (!c->quiet) {
		fprintf(stderr, "altair: online learning could not build templates (no memory)\n");
	}
	alt_tmpl_set_free(&s);
	t->learned_once = true;
	t->window_epochs = 0;
	alt_tmpl_obs_reset(t->obs);
	alt_stats_reset(t->lat, 0);
	if (c->relearn_epochs == 0)
		/* relaxed: workers stop observing (a mode switch) */
		__atomic_store_n(&t->learning, 0, __ATOMIC_RELAXED);
}

/* Copy a JSON string value that starts at p (after its opening quote) into
 * out (at most cap - 1 bytes, escapes kept as written). */
static void
json_value(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	while (p < end && *p != '"' && n + 1 < cap) {
		if (*p == '\\' && p + 1 < end) {
			if (n + 2 >= cap)
				break;
			out[n++] = *p++;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

static const char *
find(const char *p, const char *end, const char *key)
{
	size_t k = strlen(key);

	for (; p + k <= end; p++)
		if (memcmp(p, key, k) == 0)
			return p + k;
	return NULL;
}

void
alt_dp_tmpl_recent(struct alt_dp_app *a, const char *line, size_t len)
{
	struct alt_dp_tmpl *t = &a->tmpl;
	const char *end = line + len, *p;
	struct recent_anomaly r;

	memset(&r, 0, sizeof(r));
	if ((p = find(line, end, "\"trace_id\":\"")) == NULL)
		return;
	json_value(p, end, r.trace_id, sizeof(r.trace_id));
	if ((p = find(line, end, "\"templates_generation\":")) != NULL)
		r.generation = strtoull(p, NULL, 10);
	if ((p = find(line, end, "\"anomaly_summary\":\"")) != NULL)
		json_value(p, end, r.summary, sizeof(r.summary));
	if ((p = find(line, end, "\"flags\":[")) != NULL) {
		size_t n = 0;

		for (; p < end && *p != ']' && n + 1 < sizeof(r.flags); p++)
			if (*p != '"')
				r.flags[n++] = *p;
		r.flags[n] = '\0';
	}
	rte_spinlock_lock(&t->lock);
	t->recent[t->n_recent % RECENT_ANOMALIES] = r;
	t->n_recent++;
	rte_spinlock_unlock(&t->lock);
}
