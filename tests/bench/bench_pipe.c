/* SPDX-License-Identifier: BSD-3-Clause
 * Pipeline benchmark: one core, decode -> reorder -> session -> DAG ->
 * shape -> stats over the tracing payloads of a capture.
 *
 * The capture is read and classified (lib/net, fragments reassembled) once,
 * up front; the payloads are copied into one array so that file I/O and
 * classification stay outside the timed loop. Each repetition then creates
 * a fresh pipe (not timed), feeds every payload with alt_pipe_input, calls
 * alt_pipe_advance every 32 payloads and alt_pipe_drain at the end (timed).
 * A second figure times classification + reassembly + the pipe from the
 * frames in memory. Prints one JSON line per figure with the median over
 * the repetitions.
 *
 * With --shards N (1..8) the payloads are dealt round-robin to N pipes in
 * this one thread, as N RX queues would spread them over N workers; each
 * pipe steers the records of traces another pipe owns through the same
 * steering frames the appliance's workers exchange (alt_pipe_steer_*),
 * delivered to the owner when full and every 32 payloads. Compared with
 * --shards 1 (the same loop, one pipe, nothing steered) on the same
 * capture, this is the cost of steering. Only this figure is printed.
 *
 * With --templates FILE (altair-learn output) every repetition runs the
 * payloads twice, without and with the anomaly checks (filters and
 * latency limits of FILE, as the appliance builds them), alternating so
 * that a neighbour's load hits both alike; the figure is the median over
 * the repetitions of the per-repetition time ratio.
 *
 * Usage: bench_pipe FILE.pcap [--reps N] [--format-label X] [--max-nodes N] [--critical-path] [--no-thp]
 *                   [--shards N] [--warmup-ms N] [--templates FILE]
 * (--critical-path: compute each trace's critical path, as the appliance
 * does only when it writes --dags; off by default like the appliance's
 * benchmark, which writes no per-trace output; --no-thp: keep the tables on
 * 4 KiB pages instead of asking for transparent huge pages; --warmup-ms: the
 * sources' warm-up hold, default the pipeline's, 10 s: a capture shorter than
 * that is held until the pools run short)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "alt_net.h"
#include "alt_pipe.h"
#include "netfeed.h"
#include "pcapread.h"

#define ADVANCE_EVERY 32
#define MAX_REPS 1000

static bool no_thp;    /* --no-thp: plain 4 KiB pages */
static const struct alt_tmpl_model *g_model;   /* --templates, for the runs that check */

struct payload {
	uint64_t off;
	uint64_t ts_ns;         /* capture timestamp: the arrival clock */
	uint64_t flow;          /* the UDP flow (the sender when the payload names none) */
	uint32_t len;
	uint8_t fmt;
};

struct frame {
	const uint8_t *data;
	uint32_t len;
	uint64_t ts_ns;
};

struct result {
	double secs;
	uint64_t records;
	uint64_t traces;
	uint64_t pressure;
	uint64_t rejected;
	uint64_t steered;
	uint64_t late;                  /* records behind the watermark: a rate on wrong output is no rate */
	uint64_t late_fragments;
	struct alt_pipe_mem_stats mem;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(const char *argv0)
{
	fprintf(stderr, "usage: %s FILE.pcap [--reps N] [--format-label X] [--max-nodes N] [--critical-path] [--no-thp] [--warmup-ms N]"
		" [--shards N] [--templates FILE]\n", argv0);
}

/* Allocator that touches every page up front, like the appliance's
 * hugepage memory: page faults stay out of the timed loop. */
/* Tables of 2 MiB and more go on transparent huge pages where the kernel
 * gives them (madvise), as the appliance puts them on hugepages: with 4 KiB
 * pages a walk over nodes scattered across a large pool pays a TLB miss
 * per node, which the product does not. */
#define HUGE_SZ (2u << 20)

static void *
prefault_alloc(void *ctx, size_t size, const char *what)
{
	void *p = NULL;
	size_t align = 64;

	(void)ctx;
	(void)what;
	if (size >= HUGE_SZ && !no_thp) {
		align = HUGE_SZ;
		size = (size + HUGE_SZ - 1) & ~(size_t)(HUGE_SZ - 1);
	}
	if (posix_memalign(&p, align, size ? size : 64) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (align == HUGE_SZ)
		(void)madvise(p, size, MADV_HUGEPAGE);
#endif
	memset(p, 0, size);
	return p;
}

static void
prefault_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static const struct alt_pipe_alloc prefault = { prefault_alloc, prefault_free, NULL };

/* Totals of a finished run. */
static void
collect(struct alt_pipe *p, double secs, struct result *r)
{
	const struct alt_pipe_counters *c = alt_pipe_counters(p);
	uint64_t rej = 0;

	for (unsigned i = 1; i < ALT_WIRE_REASON_COUNT; i++)
		rej += c->rejected[i];
	r->secs = secs;
	r->records = c->records_decoded;
	r->traces = c->traces_closed[0] + c->traces_closed[1] + c->traces_closed[2] +
		    c->traces_closed[3];
	r->pressure = c->pressure_closes;
	r->rejected = rej;
	r->steered = c->records[ALT_PIPE_REC_STEERED];
	r->late = c->late;
	r->late_fragments = c->late_fragments;
	alt_pipe_mem_stats(p, &r->mem);
}

/* Statistics objects recycled through the pipe's hooks, as the appliance
 * recycles them (allocating ~16 MB per epoch would time the allocator). */
#define SPARE_STATS 4

struct stats_spares {
	struct alt_pipe *p;
	struct shard *owner;            /* --shards: the shard this belongs to */
	struct alt_stats *st[SPARE_STATS];
	unsigned n;
};

static struct alt_stats *
spares_get(void *ctx)
{
	struct stats_spares *sp = ctx;

	return sp->n > 0 ? sp->st[--sp->n] : alt_pipe_stats_new(sp->p);
}

static void
spares_done(void *ctx, uint64_t epoch, struct alt_stats *st)
{
	struct stats_spares *sp = ctx;

	(void)epoch;
	if (sp->n < SPARE_STATS)
		sp->st[sp->n++] = st;
	else
		alt_pipe_stats_put(sp->p, st);
}

/* A pipe with two spare statistics objects allocated up front (not timed). */
static struct alt_pipe *
bench_pipe_create(const struct alt_pipe_cfg *cfg, struct stats_spares *sp)
{
	struct alt_pipe_hooks h = { .ctx = sp, .epoch_done = spares_done, .stats_get = spares_get };

	memset(sp, 0, sizeof(*sp));
	sp->p = alt_pipe_create(cfg, &prefault, &h);
	if (sp->p == NULL)
		return NULL;
	while (sp->n < 2 && (sp->st[sp->n] = alt_pipe_stats_new(sp->p)) != NULL)
		sp->n++;
	return sp->p;
}

static void
bench_pipe_destroy(struct stats_spares *sp)
{
	while (sp->n > 0)
		alt_pipe_stats_put(sp->p, sp->st[--sp->n]);
	alt_pipe_destroy(sp->p);
}

/* One timed run over the pre-extracted payloads (checked against m when
 * not NULL). 0, or -1. */
static int
run_payloads_tmpl(const struct alt_pipe_cfg *cfg, const uint8_t *blob, const struct payload *pl,
		  size_t n, struct result *r, const struct alt_tmpl_model *m, uint64_t *flagged)
{
	struct stats_spares sp;
	struct alt_pipe *p = bench_pipe_create(cfg, &sp);
	uint64_t t0, t1;

	if (p == NULL)
		return -1;
	alt_pipe_set_templates(p, m);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		struct alt_pipe_origin o = { pl[i].flow, pl[i].ts_ns };

		alt_pipe_input_from(p, (enum alt_wire_format)pl[i].fmt, blob + pl[i].off, pl[i].len, &o);
		if ((i + 1) % ADVANCE_EVERY == 0)
			alt_pipe_advance(p);
	}
	alt_pipe_advance(p);
	alt_pipe_drain(p);
	t1 = now_ns();
	collect(p, (double)(t1 - t0) / 1e9, r);
	if (flagged != NULL)
		*flagged = alt_pipe_counters(p)->anomaly_traces;
	bench_pipe_destroy(&sp);
	return 0;
}

static int
run_payloads(const struct alt_pipe_cfg *cfg, const uint8_t *blob, const struct payload *pl,
	     size_t n, struct result *r)
{
	return run_payloads_tmpl(cfg, blob, pl, n, r, NULL, NULL);
}

/* A model of a template file as the appliance builds it (false-positive
 * target 0.001, latency factor 5). */
static const struct alt_tmpl_model *
load_model(const char *path)
{
	struct alt_tmpl_set set;
	struct alt_tmpl_model_params mp;
	char err[256];
	size_t sz;
	void *mem = NULL;
	const struct alt_tmpl_model *m = NULL;

	alt_tmpl_set_init(&set);
	if (alt_tmpl_set_load(&set, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_pipe: --templates %s: %s\n", path, err);
		goto out;
	}
	alt_tmpl_model_params_default(&mp);
	sz = alt_tmpl_model_memsize(&set, &mp);
	if (sz == 0 || posix_memalign(&mem, 64, sz) != 0)
		goto out;
	m = alt_tmpl_model_build(mem, sz, &set, &mp);
out:
	alt_tmpl_set_free(&set);
	return m;
}

static void print_json(const char *stage, const char *label, unsigned reps, size_t payloads, size_t frames,
		       double *secs, const struct result *last);

/* --templates: without and with the checks, alternating; the ratio. */
static int
run_cost(const struct alt_pipe_cfg *cfg, const uint8_t *blob, const struct payload *pl, size_t n_pl,
	 size_t n_fr, const char *label, unsigned reps)
{
	double *off = calloc(reps, sizeof(double)), *on = calloc(reps, sizeof(double));
	double *ratio = calloc(reps, sizeof(double));
	struct result r0, r1;
	uint64_t flagged = 0;

	if (off == NULL || on == NULL || ratio == NULL)
		return -1;
	for (unsigned r = 0; r < reps; r++) {
		/* which runs first alternates too (no order bias) */
		if (r % 2 == 0 && (run_payloads_tmpl(cfg, blob, pl, n_pl, &r0, NULL, NULL) != 0 ||
				   run_payloads_tmpl(cfg, blob, pl, n_pl, &r1, g_model, &flagged) != 0))
			return -1;
		if (r % 2 == 1 && (run_payloads_tmpl(cfg, blob, pl, n_pl, &r1, g_model, &flagged) != 0 ||
				   run_payloads_tmpl(cfg, blob, pl, n_pl, &r0, NULL, NULL) != 0))
			return -1;
		off[r] = r0.secs;
		on[r] = r1.secs;
		ratio[r] = r1.secs / r0.secs;
	}
	qsort(ratio, reps, sizeof(double), cmp_double);
	print_json("pipe", label, reps, n_pl, n_fr, off, &r0);
	print_json("pipe+templates", label, reps, n_pl, n_fr, on, &r1);
	printf("{\"bench\":\"pipe\",\"stage\":\"templates-cost\",\"format\":\"%s\",\"reps\":%u,"
	       "\"median_time_ratio\":%.4f,\"min_time_ratio\":%.4f,\"max_time_ratio\":%.4f,"
	       "\"throughput_cost_pct\":%.2f,\"flagged\":%llu}\n",
	       label, reps, reps % 2 ? ratio[reps / 2] : (ratio[reps / 2 - 1] + ratio[reps / 2]) / 2, ratio[0],
	       ratio[reps - 1], 100.0 * (1.0 - 1.0 / (reps % 2 ? ratio[reps / 2] : (ratio[reps / 2 - 1] + ratio[reps / 2]) / 2)),
	       (unsigned long long)flagged);
	free(off);
	free(on);
	free(ratio);
	return 0;
}

/* One timed run from the frames: classification, reassembly and the pipe. */
static int
run_frames(const struct alt_pipe_cfg *cfg, const struct frame *fr, size_t n, struct result *r)
{
	struct stats_spares sp;
	struct alt_pipe *p = bench_pipe_create(cfg, &sp);
	struct netfeed nf;
	struct netfeed_payload pl;
	uint64_t t0, t1;
	size_t k = 0;

	if (p == NULL)
		return -1;
	if (netfeed_init(&nf) != 0) {
		bench_pipe_destroy(&sp);
		return -1;
	}
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		if (netfeed_frame(&nf, fr[i].data, fr[i].len, fr[i].ts_ns, &pl)) {
			struct alt_pipe_origin o = { pl.flow, fr[i].ts_ns };

			alt_pipe_input_from(p, (enum alt_wire_format)pl.format, pl.data, pl.len, &o);
			if (++k % ADVANCE_EVERY == 0)
				alt_pipe_advance(p);
		}
	}
	netfeed_flush(&nf);
	alt_pipe_advance(p);
	alt_pipe_drain(p);
	t1 = now_ns();
	collect(p, (double)(t1 - t0) / 1e9, r);
	bench_pipe_destroy(&sp);
	netfeed_fini(&nf);
	return 0;
}

/* --shards N: N pipes in one thread exchanging steering frames. */
#define SHARD_MAX 8
#define STEER_FRAME_BYTES (68u * 1024)

struct shard {
	struct stats_spares sp;
	struct alt_pipe *p;
	unsigned id;
	struct shard *all;              /* [n_shards] */
	uint8_t *stage[SHARD_MAX];      /* frame being filled, per owner */
	size_t stage_len[SHARD_MAX];
};

static unsigned n_shards = 1;
static bool shards_given;     /* --shards: the sharded run only (also for N = 1) */

static void
shard_send(struct shard *s, unsigned owner)
{
	if (alt_pipe_steer_count(s->stage[owner], s->stage_len[owner]) == 0)
		return;
	alt_pipe_feed_steered(s->all[owner].p, s->stage[owner], s->stage_len[owner]);
	s->stage_len[owner] = 0;
}

static unsigned
shard_steer(void *ctx, unsigned owner, const struct alt_record *const *recs, unsigned n)
{
	struct shard *s = ((struct stats_spares *)ctx)->owner;
	unsigned done = 0;

	while (done < n) {
		unsigned k = alt_pipe_steer_add(s->stage[owner], STEER_FRAME_BYTES, &s->stage_len[owner], s->id,
						recs + done, n - done);

		done += k;
		if (k == 0 && alt_pipe_steer_count(s->stage[owner], s->stage_len[owner]) == 0)
			break;
		if (done < n)
			shard_send(s, owner);
	}
	return done;
}

/* Steering frames to their owners, then each pipe's progress to the
 * others (after its frames, as a worker publishes it). */
static void
shards_flush(struct shard *sh)
{
	for (unsigned i = 0; i < n_shards; i++)
		for (unsigned o = 0; o < n_shards; o++)
			shard_send(&sh[i], o);
	struct alt_pipe *pipes[SHARD_MAX];

	for (unsigned i = 0; i < n_shards; i++)
		pipes[i] = sh[i].p;
	alt_pipe_exchange_progress(pipes, n_shards);
}

/* One timed run over the payloads dealt round-robin to n_shards pipes. */
static int
run_shards(const struct alt_pipe_cfg *cfg0, const uint8_t *blob, const struct payload *pl,
	   size_t n, struct result *r)
{
	struct shard sh[SHARD_MAX];
	struct alt_pipe_cfg cfg = *cfg0;
	uint64_t t0, t1;
	int rc = -1;

	memset(sh, 0, sizeof(sh));
	cfg.shard_count = n_shards;
	for (unsigned i = 0; i < n_shards; i++) {
		struct alt_pipe_hooks h = { .ctx = &sh[i].sp, .epoch_done = spares_done, .stats_get = spares_get,
					    .steer = shard_steer };

		sh[i].id = i;
		sh[i].all = sh;
		sh[i].sp.owner = &sh[i];
		cfg.shard_self = i;
		sh[i].p = sh[i].sp.p = alt_pipe_create(&cfg, &prefault, &h);
		if (sh[i].p == NULL)
			goto out;
		for (unsigned o = 0; o < n_shards; o++)
			if ((sh[i].stage[o] = malloc(STEER_FRAME_BYTES)) == NULL)
				goto out;
		while (sh[i].sp.n < 2 && (sh[i].sp.st[sh[i].sp.n] = alt_pipe_stats_new(sh[i].p)) != NULL)
			sh[i].sp.n++;
	}
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		struct alt_pipe_origin o = { pl[i].flow, pl[i].ts_ns };

		alt_pipe_input_from(sh[i % n_shards].p, (enum alt_wire_format)pl[i].fmt, blob + pl[i].off, pl[i].len,
				    &o);
		if ((i + 1) % ADVANCE_EVERY == 0) {
			shards_flush(sh);
			for (unsigned s = 0; s < n_shards; s++)
				alt_pipe_advance(sh[s].p);
		}
	}
	shards_flush(sh);
	for (unsigned s = 0; s < n_shards; s++)
		alt_pipe_advance(sh[s].p);
	for (unsigned s = 0; s < n_shards; s++)
		alt_pipe_drain(sh[s].p);
	t1 = now_ns();
	memset(r, 0, sizeof(*r));
	for (unsigned s = 0; s < n_shards; s++) {
		struct result one;

		collect(sh[s].p, 0, &one);
		r->records += one.records;
		r->traces += one.traces;
		r->pressure += one.pressure;
		r->rejected += one.rejected;
		r->mem = one.mem;
		r->steered += one.steered;
		r->late += one.late;
		r->late_fragments += one.late_fragments;
	}
	r->secs = (double)(t1 - t0) / 1e9;
	rc = 0;
out:
	for (unsigned i = 0; i < n_shards; i++) {
		if (sh[i].p != NULL)
			bench_pipe_destroy(&sh[i].sp);
		for (unsigned o = 0; o < n_shards; o++)
			free(sh[i].stage[o]);
	}
	return rc;
}

static void
print_json(const char *stage, const char *label, unsigned reps, size_t payloads, size_t frames,
	   double *secs, const struct result *last)
{
	double med, rps;

	qsort(secs, reps, sizeof(*secs), cmp_double);
	med = reps % 2 ? secs[reps / 2] : (secs[reps / 2 - 1] + secs[reps / 2]) / 2;
	rps = med > 0 ? (double)last->records / med : 0;
	printf("{\"bench\":\"pipe\",\"stage\":\"%s\",\"format\":\"%s\",\"records\":%llu,"
	       "\"payloads\":%zu,\"frames\":%zu,\"reps\":%u,\"median_s\":%.6f,\"min_s\":%.6f,"
	       "\"max_s\":%.6f,\"median_records_per_s\":%.0f,\"ns_per_record\":%.1f,"
	       "\"peak_nodes\":%u,\"peak_exts\":%u,\"peak_traces\":%u,\"peak_reorder\":%u,"
	       "\"traces_closed\":%llu,\"pressure_closes\":%llu,\"rejected_payloads\":%llu,"
	       "\"mem_bytes\":%zu,\"pages\":\"%s\",\"shards\":%u,\"steered\":%llu,"
	       "\"late\":%llu,\"late_fragments\":%llu}\n",
	       stage, label, (unsigned long long)last->records, payloads, frames, reps, med, secs[0],
	       secs[reps - 1], rps, last->records ? med * 1e9 / (double)last->records : 0,
	       last->mem.nodes_peak, last->mem.exts_peak, last->mem.traces_peak,
	       last->mem.reorder_peak, (unsigned long long)last->traces,
	       (unsigned long long)last->pressure, (unsigned long long)last->rejected,
	       last->mem.total_bytes, no_thp ? "4k" : "thp", n_shards, (unsigned long long)last->steered,
	       (unsigned long long)last->late, (unsigned long long)last->late_fragments);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *label = NULL;
	unsigned reps = 5;
	unsigned long max_nodes = 0;
	long warmup_ms = -1;            /* -1: the pipeline's default */
	bool critical = false;
	struct pcapr pr;
	struct pcapr_frame f;
	struct netfeed nf;
	struct netfeed_payload np;
	struct payload *pl = NULL;
	struct frame *fr = NULL;
	uint8_t *blob = NULL;
	size_t n_pl = 0, cap_pl = 0, n_fr = 0, cap_fr = 0, blob_len = 0, blob_cap = 0;
	struct alt_pipe_cfg cfg;
	struct result res;
	double *secs;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);

			if (*end != '\0' || v == 0 || v > MAX_REPS) {
				fprintf(stderr, "bench_pipe: --reps: 1..%d\n", MAX_REPS);
				return 2;
			}
			reps = (unsigned)v;
		} else if (strcmp(argv[i], "--critical-path") == 0) {
			critical = true;
		} else if (strcmp(argv[i], "--no-thp") == 0) {
			no_thp = true;
		} else if (strcmp(argv[i], "--warmup-ms") == 0 && i + 1 < argc) {
			char *end;

			warmup_ms = strtol(argv[++i], &end, 10);
			if (*end != '\0' || warmup_ms < 0 || warmup_ms > 3600000) {
				fprintf(stderr, "bench_pipe: --warmup-ms: 0..3600000\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--format-label") == 0 && i + 1 < argc) {
			label = argv[++i];
		} else if (strcmp(argv[i], "--max-nodes") == 0 && i + 1 < argc) {
			char *end;

			max_nodes = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || max_nodes == 0 || max_nodes > (1ul << 28)) {
				fprintf(stderr, "bench_pipe: --max-nodes: 1..%lu\n", 1ul << 28);
				return 2;
			}
		} else if (strcmp(argv[i], "--shards") == 0 && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);

			if (*end != '\0' || v == 0 || v > SHARD_MAX) {
				fprintf(stderr, "bench_pipe: --shards: 1..%d\n", SHARD_MAX);
				return 2;
			}
			n_shards = (unsigned)v;
			shards_given = true;
		} else if (strcmp(argv[i], "--templates") == 0 && i + 1 < argc) {
			if ((g_model = load_model(argv[++i])) == NULL)
				return 1;
		} else if (argv[i][0] != '-' && path == NULL) {
			path = argv[i];
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	if (path == NULL) {
		usage(argv[0]);
		return 2;
	}

	/* load and classify once: payloads into one blob, frames kept */
	if (pcapr_open(&pr, path) != 0) {
		fprintf(stderr, "bench_pipe: %s\n", pr.err);
		return 1;
	}
	if (netfeed_init(&nf) != 0) {
		fprintf(stderr, "bench_pipe: out of memory\n");
		return 1;
	}
	while ((rc = pcapr_next(&pr, &f)) == 1) {
		if (n_fr == cap_fr) {
			cap_fr = cap_fr ? cap_fr * 2 : 65536;
			fr = realloc(fr, cap_fr * sizeof(*fr));
			if (fr == NULL)
				goto oom;
		}
		fr[n_fr].data = f.data;
		fr[n_fr].len = f.caplen;
		fr[n_fr].ts_ns = f.ts_ns;
		n_fr++;
		if (!netfeed_frame(&nf, f.data, f.caplen, f.ts_ns, &np))
			continue;
		if (n_pl == cap_pl) {
			cap_pl = cap_pl ? cap_pl * 2 : 65536;
			pl = realloc(pl, cap_pl * sizeof(*pl));
			if (pl == NULL)
				goto oom;
		}
		if (blob_len + np.len > blob_cap) {
			blob_cap = blob_cap ? blob_cap * 2 : (64u << 20);
			while (blob_cap < blob_len + np.len)
				blob_cap *= 2;
			blob = realloc(blob, blob_cap);
			if (blob == NULL)
				goto oom;
		}
		memcpy(blob + blob_len, np.data, np.len);
		pl[n_pl].off = blob_len;
		pl[n_pl].len = np.len;
		pl[n_pl].fmt = np.format;
		pl[n_pl].ts_ns = f.ts_ns;
		pl[n_pl].flow = np.flow;
		blob_len += np.len;
		n_pl++;
	}
	if (rc < 0) {
		fprintf(stderr, "bench_pipe: %s: %s\n", path, pr.err);
		return 1;
	}
	netfeed_fini(&nf);
	if (n_pl == 0) {
		fprintf(stderr, "bench_pipe: %s: no tracing payloads\n", path);
		return 1;
	}
	if (label == NULL)
		label = alt_wire_format_name((enum alt_wire_format)pl[0].fmt);

	alt_pipe_cfg_default(&cfg);
	cfg.want_critical_path = critical;
	if (max_nodes)
		cfg.max_nodes = (uint32_t)max_nodes;
	if (warmup_ms >= 0)
		cfg.warmup_ns = (uint64_t)warmup_ms * 1000000ULL;
	secs = calloc(reps, sizeof(*secs));
	if (secs == NULL)
		goto oom;

	if (g_model != NULL) {
		if (run_cost(&cfg, blob, pl, n_pl, n_fr, label, reps) != 0) {
			fprintf(stderr, "bench_pipe: alt_pipe_create failed\n");
			return 1;
		}
		goto done;
	}
	for (unsigned r = 0; r < reps; r++) {
		if ((shards_given ? run_shards(&cfg, blob, pl, n_pl, &res) : run_payloads(&cfg, blob, pl, n_pl, &res)) != 0) {
			fprintf(stderr, "bench_pipe: alt_pipe_create failed\n");
			return 1;
		}
		secs[r] = res.secs;
	}
	print_json(shards_given ? "pipe-shards" : "pipe", label, reps, n_pl, n_fr, secs, &res);
	if (shards_given)
		goto done;

	for (unsigned r = 0; r < reps; r++) {
		if (run_frames(&cfg, fr, n_fr, &res) != 0) {
			fprintf(stderr, "bench_pipe: alt_pipe_create failed\n");
			return 1;
		}
		secs[r] = res.secs;
	}
	print_json("net+pipe", label, reps, n_pl, n_fr, secs, &res);
done:

	free(secs);
	free(blob);
	free(pl);
	free(fr);
	pcapr_close(&pr);
	return 0;
oom:
	fprintf(stderr, "bench_pipe: out of memory loading %s\n", path);
	return 1;
}
