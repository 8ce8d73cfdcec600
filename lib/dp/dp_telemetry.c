/* SPDX-License-Identifier: BSD-3-Clause
 * Telemetry commands, read with the stock dpdk-telemetry.py:
 *   /altair/stats    totals: packets, records, traces, loss, outputs
 *   /altair/workers  per-worker RX, records and busy time
 *   /altair/memory   pool usage (nodes, traces, reorder) and peaks
 *   /altair/ports    per-port RX counters (ethdev stats)
 *   /altair/epoch    the last epoch written: number, records, traces, delay
 *   /altair/anomalies  anomaly counts by reason and the most recent flagged traces
 *   /altair/templates  the templates in force: generation, keys, bits, k,
 *                    estimated false-positive rates, swaps
 *   /altair/templates/reload,FILE  load a template file and swap it in
 * Handlers run on the telemetry thread and only read: worker counters with
 * relaxed loads (ctr_read), the last epoch through its sequence count.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_spinlock.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "dp_private.h"

static int
fill_stats(struct rte_tel_data *d)
{
	struct alt_dp_totals t;
	uint64_t malformed = 0, rejected = 0;

	alt_dp_totals(&g_app, &t);
	for (unsigned o = 0; o < ALT_NET_OUTCOME_COUNT; o++)
		if (alt_net_outcome_malformed(o))
			malformed += t.net.outcome[o];
	for (unsigned r = 1; r < ALT_WIRE_REASON_COUNT; r++)
		rejected += t.pipe.rejected[r];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx_packets", t.w.rx_pkts);
	rte_tel_data_add_dict_u64(d, "rx_bytes", t.w.rx_bytes);
	rte_tel_data_add_dict_u64(d, "tracing_packets", t.net.outcome[ALT_NET_TRACING]);
	rte_tel_data_add_dict_u64(d, "fragments", t.net.outcome[ALT_NET_FRAGMENT]);
	rte_tel_data_add_dict_u64(d, "datagrams_reassembled", t.reasm.datagrams[ALT_NET_REASM_COMPLETE]);
	rte_tel_data_add_dict_u64(d, "not_tracing", t.net.outcome[ALT_NET_NOT_IP] + t.net.outcome[ALT_NET_NOT_UDP] +
						    t.net.outcome[ALT_NET_NOT_TRACING_PORT]);
	rte_tel_data_add_dict_u64(d, "malformed_packets", malformed);
	rte_tel_data_add_dict_u64(d, "rejected_payloads", rejected);
#define DP_PIPE_TEL(field, name) rte_tel_data_add_dict_u64(d, name, t.pipe.field);
	DP_PIPE_COUNTERS(DP_PIPE_TEL)
#undef DP_PIPE_TEL
	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++) {
		char k[64];
		snprintf(k, sizeof(k), "records_%s", alt_pipe_rec_outcome_name(i));
		rte_tel_data_add_dict_u64(d, k, t.pipe.records[i]);
	}
	rte_tel_data_add_dict_u64(d, "records_pending", t.pending);
	rte_tel_data_add_dict_u64(d, "traces_closed", t.traces_closed);
	rte_tel_data_add_dict_u64(d, "atr_frames_lost", t.atr_frames_lost);
	rte_tel_data_add_dict_u64(d, "jaeger_batches_lost", t.jaeger_batches_lost);
	rte_tel_data_add_dict_u64(d, "jaeger_client_dropped_spans", t.jaeger_client_dropped);
	rte_tel_data_add_dict_u64(d, "dag_lines", t.w.lines);
	rte_tel_data_add_dict_u64(d, "dag_lines_dropped", t.w.lines_dropped);
	rte_tel_data_add_dict_u64(d, "epochs_written", ctr_read(&g_app.epochs_written));
	rte_tel_data_add_dict_u64(d, "epoch_lines", ctr_read(&g_app.epoch_lines));
	return 0;
}

static int
fill_workers(struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < g_app.nworkers; i++) {
		const struct worker *w = &g_app.workers[i];
		const struct alt_pipe_counters *pc = alt_pipe_counters(w->pipe);
		struct rte_tel_data *c = rte_tel_data_alloc();
		char k[32];

		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "lcore", w->lcore);
		rte_tel_data_add_dict_u64(c, "rx_queues", w->nq);
#define DP_CTR_TEL(field, name) rte_tel_data_add_dict_u64(c, name, ctr_read(&w->ctr.field));
		DP_WORKER_COUNTERS(DP_CTR_TEL)
#undef DP_CTR_TEL
		rte_tel_data_add_dict_u64(c, "records_decoded", pc->records_decoded);
		rte_tel_data_add_dict_u64(c, "records_steered_out", pc->records[ALT_PIPE_REC_STEERED]);
		rte_tel_data_add_dict_u64(c, "records_steered_in", pc->records_received);
		rte_tel_data_add_dict_u64(c, "busy_us", ctr_read(&w->ctr.busy_tsc) * 1000000ULL / rte_get_tsc_hz());
		rte_tel_data_add_dict_u64(c, "watermark_ns", alt_pipe_watermark(w->pipe));
		snprintf(k, sizeof(k), "worker%u", i);
		rte_tel_data_add_dict_container(d, k, c, 0);
	}
	return 0;
}

static int
fill_memory(struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < g_app.nworkers; i++) {
		struct alt_pipe_mem_stats m;
		struct rte_tel_data *c = rte_tel_data_alloc();
		char k[32];

		if (c == NULL)
			return -ENOMEM;
		alt_pipe_mem_stats(g_app.workers[i].pipe, &m);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "pipeline_bytes", m.total_bytes);
		rte_tel_data_add_dict_u64(c, "nodes_in_use", m.nodes_in_use);
		rte_tel_data_add_dict_u64(c, "nodes_peak", m.nodes_peak);
		rte_tel_data_add_dict_u64(c, "nodes_capacity", m.nodes_cap);
		rte_tel_data_add_dict_u64(c, "traces_open", m.traces_open);
		rte_tel_data_add_dict_u64(c, "traces_peak", m.traces_peak);
		rte_tel_data_add_dict_u64(c, "reorder_buffered", m.reorder_buffered);
		rte_tel_data_add_dict_u64(c, "reorder_peak", m.reorder_peak);
		rte_tel_data_add_dict_u64(c, "strings", m.strings);
		snprintf(k, sizeof(k), "worker%u", i);
		rte_tel_data_add_dict_container(d, k, c, 0);
	}
	return 0;
}

static int
fill_ports(struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (uint16_t p = 0; p < g_app.nports; p++) {
		struct rte_eth_stats st;
		struct rte_tel_data *c = rte_tel_data_alloc();
		char k[32];

		if (c == NULL)
			return -ENOMEM;
		memset(&st, 0, sizeof(st));
		rte_eth_stats_get(p, &st);
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "rx_queues", g_app.port_nq[p]);
		rte_tel_data_add_dict_string(c, "rss", alt_dp_rss_name(g_app.port_rss[p]));
		rte_tel_data_add_dict_u64(c, "ipackets", st.ipackets);
		rte_tel_data_add_dict_u64(c, "ibytes", st.ibytes);
		rte_tel_data_add_dict_u64(c, "imissed", st.imissed);
		rte_tel_data_add_dict_u64(c, "ierrors", st.ierrors);
		rte_tel_data_add_dict_u64(c, "rx_nombuf", st.rx_nombuf);
		snprintf(k, sizeof(k), "port%u", p);
		rte_tel_data_add_dict_container(d, k, c, 0);
	}
	return 0;
}

static int
fill_epoch(struct rte_tel_data *d)
{
	struct alt_dp_last_epoch e;

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "epochs_written", ctr_read(&g_app.epochs_written));
	rte_tel_data_add_dict_u64(d, "epoch_lines", ctr_read(&g_app.epoch_lines));
	if (!alt_dp_last_epoch_read(&g_app, &e))
		return 0;
	rte_tel_data_add_dict_u64(d, "epoch", e.epoch);
	rte_tel_data_add_dict_u64(d, "start_ns", e.epoch * g_app.conf->epoch_ms * 1000000ULL);
	rte_tel_data_add_dict_u64(d, "records", e.records);
	rte_tel_data_add_dict_u64(d, "traces_closed", e.traces_closed);
	rte_tel_data_add_dict_u64(d, "late", e.late);
	rte_tel_data_add_dict_u64(d, "processing_delay_us", e.delay_us);
	rte_tel_data_add_dict_u64(d, "close_delay_p50_us", e.close_p50_us);
	rte_tel_data_add_dict_u64(d, "close_delay_p99_us", e.close_p99_us);
	return 0;
}

/* Per worker: its senders (known, holding the watermark, idle events,
 * evictions), its watermark, the progress it promises the others and its
 * arrival clock, as of its last 10 ms tick. */
static int
fill_sources(struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < g_app.nworkers; i++) {
		const struct worker *w = &g_app.workers[i];
		struct rte_tel_data *c = rte_tel_data_alloc();
		char k[32];

		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		/* relaxed: each a whole 64-bit value the worker stored */
		rte_tel_data_add_dict_u64(c, "known", __atomic_load_n(&w->tm.known, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "active", __atomic_load_n(&w->tm.active, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "went_idle", __atomic_load_n(&w->tm.went_idle, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "returned", __atomic_load_n(&w->tm.returned, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "returned_behind",
					  __atomic_load_n(&w->tm.returned_behind, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "evicted", __atomic_load_n(&w->tm.evicted, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "released", __atomic_load_n(&w->tm.released, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "watermark_ns", __atomic_load_n(&w->tm.watermark, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "progress_ns", __atomic_load_n(&w->tm.progress, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(c, "arrival_ns", __atomic_load_n(&w->tm.arrival, __ATOMIC_RELAXED));
		snprintf(k, sizeof(k), "worker%u", i);
		rte_tel_data_add_dict_container(d, k, c, 0);
	}
	return 0;
}

/*
 * The handlers read g_app while the workers run, and not after
 * alt_dp_telemetry_stop: alt_dp_run releases the workers after it. The
 * lock is taken by the telemetry thread around each answer and once by
 * the control lcore to stop; never on the data path.
 */
static rte_spinlock_t tel_lock = RTE_SPINLOCK_INITIALIZER;
static bool tel_ready;          /* under tel_lock */

static int
tel_answer(int (*fill)(struct rte_tel_data *d), const char *params, struct rte_tel_data *d)
{
	int rc = 0;

	if (params != NULL && *params != '\0')
		return -EINVAL;
	rte_spinlock_lock(&tel_lock);
	if (tel_ready)
		rc = fill(d);
	else
		rte_tel_data_start_dict(d);     /* starting or stopping: nothing to read */
	rte_spinlock_unlock(&tel_lock);
	return rc;
}

static int fill_anomalies(struct rte_tel_data *d);
static int fill_templates(struct rte_tel_data *d);
static int tel_reload(const char *cmd, const char *params, struct rte_tel_data *d);

#define DP_TEL_COMMANDS(X) \
	X(stats, "/altair/stats", \
	  "Totals: packets, records by outcome, traces, loss, outputs. No parameters.") \
	X(workers, "/altair/workers", \
	  "Per worker lcore: RX packets, records, busy time, watermark. No parameters.") \
	X(memory, "/altair/memory", \
	  "Per worker: pool usage and peaks (nodes, traces, reorder). No parameters.") \
	X(ports, "/altair/ports", \
	  "Per port: RX queues, RSS, packets, bytes, imissed, errors. No parameters.") \
	X(sources, "/altair/sources", \
	  "Per worker: senders known and active, idle events, watermark, progress. No parameters.") \
	X(epoch, "/altair/epoch", \
	  "The last epoch written: number, records, traces closed, late, delay. No parameters.") \
	X(anomalies, "/altair/anomalies", \
	  "Anomaly counts by reason, recent flagged traces. No parameters.") \
	X(templates, "/altair/templates", \
	  "Templates in force: generation, keys, bits, k, est. false-positive rate, swaps.")

#define DP_TEL_HANDLER(name, path, help) \
	static int \
	tel_##name(const char *cmd, const char *params, struct rte_tel_data *d) \
	{ \
		(void)cmd; \
		return tel_answer(fill_##name, params, d); \
	}
DP_TEL_COMMANDS(DP_TEL_HANDLER)
#undef DP_TEL_HANDLER

int
alt_dp_telemetry_register(struct alt_dp_app *a)
{
	static const struct {
		const char *path;
		telemetry_cb fn;
		const char *help;       /* under RTE_TEL_MAX_STRING_LEN (128) */
	} cmds[] = {
#define DP_TEL_ENTRY(name, path, help) { path, tel_##name, help },
		DP_TEL_COMMANDS(DP_TEL_ENTRY)
#undef DP_TEL_ENTRY
		{ "/altair/templates/reload", tel_reload,
		  "Load a template file and swap it in. Parameter: FILE. Answer: generation or error." },
	};

	(void)a;
	for (unsigned i = 0; i < RTE_DIM(cmds); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].path, cmds[i].fn, cmds[i].help);
		if (rc != 0) {
			RTE_LOG(ERR, altair, "telemetry: cannot register %s: %s\n", cmds[i].path, strerror(-rc));
			return rc;
		}
	}
	rte_spinlock_lock(&tel_lock);
	tel_ready = true;
	rte_spinlock_unlock(&tel_lock);
	return 0;
}

static int
fill_anomalies(struct rte_tel_data *d)
{
	struct alt_dp_totals t;
	struct alt_dp_tmpl *tp = &g_app.tmpl;
	struct recent_anomaly rec[RECENT_ANOMALIES];
	uint32_t n, k;
	struct rte_tel_data *list;

	alt_dp_totals(&g_app, &t);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "checked", t.pipe.anomaly_checked);
	rte_tel_data_add_dict_u64(d, "flagged", t.pipe.anomaly_traces);
	rte_tel_data_add_dict_u64(d, "anomaly_shape", t.pipe.anomaly_shape);
	rte_tel_data_add_dict_u64(d, "anomaly_edge", t.pipe.anomaly_edge);
	rte_tel_data_add_dict_u64(d, "anomaly_latency", t.pipe.anomaly_latency);
	rte_tel_data_add_dict_u64(d, "flagged_lines", ctr_read(&g_app.flagged_lines_written));
	rte_tel_data_add_dict_u64(d, "flagged_lines_dropped", t.w.flagged_dropped);
	rte_spinlock_lock(&tp->lock);
	n = tp->n_recent;
	memcpy(rec, tp->recent, sizeof(rec));
	rte_spinlock_unlock(&tp->lock);
	list = rte_tel_data_alloc();
	if (list == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(list);
	/* newest first */
	for (k = 0; k < RECENT_ANOMALIES && k < n; k++) {
		const struct recent_anomaly *r = &rec[(n - 1 - k) % RECENT_ANOMALIES];
		struct rte_tel_data *e = rte_tel_data_alloc();
		char key[16];

		if (e == NULL)
			break;
		rte_tel_data_start_dict(e);
		rte_tel_data_add_dict_string(e, "trace_id", r->trace_id);
		rte_tel_data_add_dict_u64(e, "generation", r->generation);
		rte_tel_data_add_dict_string(e, "flags", r->flags);
		rte_tel_data_add_dict_string(e, "summary", r->summary);
		snprintf(key, sizeof(key), "%u", k);
		rte_tel_data_add_dict_container(list, key, e, 0);
	}
	rte_tel_data_add_dict_container(d, "recent", list, 0);
	return 0;
}

static void
dict_dbl(struct rte_tel_data *d, const char *name, double v)
{
	char s[32];

	snprintf(s, sizeof(s), "%.6g", v);
	rte_tel_data_add_dict_string(d, name, s);
}

static int
fill_templates(struct rte_tel_data *d)
{
	struct alt_dp_tmpl *tp = &g_app.tmpl;
	struct alt_tmpl_model_info info;
	char source[RTE_TEL_MAX_STRING_LEN];
	bool have;

	rte_spinlock_lock(&tp->lock);
	info = tp->info;
	have = tp->have_info;
	memcpy(source, tp->source, sizeof(source) - 1);
	source[sizeof(source) - 1] = '\0';
	rte_spinlock_unlock(&tp->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "active", have);
	rte_tel_data_add_dict_u64(d, "swaps", ctr_read(&tp->swaps));
	/* relaxed: a mode flag */
	rte_tel_data_add_dict_u64(d, "learning", __atomic_load_n(&tp->learning, __ATOMIC_RELAXED) != 0);
	if (!have)
		return 0;
	rte_tel_data_add_dict_u64(d, "generation", info.generation);
	rte_tel_data_add_dict_string(d, "source", source);
	rte_tel_data_add_dict_u64(d, "shape_keys", info.shape_keys);
	rte_tel_data_add_dict_u64(d, "families", info.families);
	rte_tel_data_add_dict_u64(d, "edge_keys", info.edge_keys);
	rte_tel_data_add_dict_u64(d, "shape_bits", info.shape_bits);
	rte_tel_data_add_dict_u64(d, "edge_bits", info.edge_bits);
	rte_tel_data_add_dict_u64(d, "shape_k", info.shape_k);
	rte_tel_data_add_dict_u64(d, "edge_k", info.edge_k);
	dict_dbl(d, "fpr_target", info.fpr_target);
	dict_dbl(d, "shape_fpr_estimate", info.shape_fpr);
	dict_dbl(d, "edge_fpr_estimate", info.edge_fpr);
	rte_tel_data_add_dict_u64(d, "op_limits", info.op_limits);
	rte_tel_data_add_dict_u64(d, "shape_limits", info.shape_limits);
	dict_dbl(d, "latency_factor", info.latency_factor);
	rte_tel_data_add_dict_u64(d, "model_bytes", info.bytes);
	return 0;
}

/* /altair/templates/reload,FILE: a bad file leaves the templates in force
 * and the answer says why; a good one is swapped in, and the answer comes
 * once the control lcore has published it (or after a second, pending). */
static int
tel_reload(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct alt_dp_tmpl *tp = &g_app.tmpl;
	struct alt_tmpl_model *m, *old;
	char err[256];
	uint64_t gen;
	bool published = false;

	bool ready;

	(void)cmd;
	if (params == NULL || *params == '\0')
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rte_spinlock_lock(&tel_lock);
	ready = tel_ready;
	rte_spinlock_unlock(&tel_lock);
	if (!ready)
		return 0;       /* starting or stopping */
	m = alt_dp_tmpl_load(&g_app, params, err, sizeof(err));
	if (m == NULL) {
		err[RTE_TEL_MAX_STRING_LEN - 1] = '\0';
		rte_tel_data_add_dict_u64(d, "ok", 0);
		rte_tel_data_add_dict_string(d, "error", err);
		return 0;
	}
	gen = m->generation;
	rte_tel_data_add_dict_u64(d, "ok", 1);
	rte_tel_data_add_dict_u64(d, "generation", gen);
	rte_tel_data_add_dict_u64(d, "shape_keys", m->shapes->keys_added);
	rte_tel_data_add_dict_u64(d, "edge_keys", m->edges->keys_added);
	rte_spinlock_lock(&tp->lock);
	snprintf(tp->pending_source, sizeof(tp->pending_source), "%s", params);
	rte_spinlock_unlock(&tp->lock);
	/* acq_rel: the model's contents go with it to the control lcore; a
	 * model still waiting there was never published: it is ours to free */
	old = __atomic_exchange_n(&tp->mailbox, m, __ATOMIC_ACQ_REL);
	if (old != NULL) {
		rte_free(old);
		__atomic_add_fetch(&tp->superseded, 1, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < 10000 && !published; i++) {
		/* acquire: pairs with the release store in alt_dp_tmpl_publish */
		published = __atomic_load_n(&tp->published_gen, __ATOMIC_ACQUIRE) >= gen;
		if (!published)
			usleep(100);
	}
	rte_tel_data_add_dict_u64(d, "published", published);
	return 0;
}

void
alt_dp_telemetry_stop(struct alt_dp_app *a)
{
	(void)a;
	rte_spinlock_lock(&tel_lock);
	tel_ready = false;
	rte_spinlock_unlock(&tel_lock);
}
