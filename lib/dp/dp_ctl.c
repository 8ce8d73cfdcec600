/* SPDX-License-Identifier: BSD-3-Clause
 * The control lcore: writes sinks from the workers' rings, merges epoch
 * partials and writes an epoch once every worker has passed it, decides
 * when to stop (signal or --once idle), and reports the final accounting.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "dp_private.h"

#define EPOCH_LINE_BYTES (4u << 20)  /* the longest --epochs line written */
#define BLOCK_DRAIN_BURST 32           /* output blocks taken per dequeue */
#define POLL_BUSY_US 100               /* control loop sleep after work */
#define POLL_IDLE_US 1000              /* ... and after none */

static FILE *
open_sink(const char *path)
{
	FILE *f;

	if (path[0] == '\0')
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	f = fopen(path, "w");
	if (f == NULL)
		RTE_LOG(ERR, altair, "cannot open '%s' for writing: %s\n", path, strerror(errno));
	else
		setvbuf(f, NULL, _IOFBF, 1 << 20);
	return f;
}

int
alt_dp_ctl_open(struct alt_dp_app *a)
{
	const struct alt_dp_conf *c = a->conf;

	if (c->dags[0] && (a->dags = open_sink(c->dags)) == NULL)
		return -1;
	if (c->epochs[0] && (a->epochs = open_sink(c->epochs)) == NULL)
		return -1;
	if (c->flagged[0] && (a->flagged = open_sink(c->flagged)) == NULL)
		return -1;
	a->epoch_line_cap = EPOCH_LINE_BYTES;
	a->epoch_line = malloc(a->epoch_line_cap);
	if (a->epoch_line == NULL) {
		RTE_LOG(ERR, altair, "cannot allocate the epoch line buffer (%zu bytes)\n", a->epoch_line_cap);
		return -1;
	}
	/* The first PREALLOC_PENDING_EPOCHS are allocated (and their pages
	 * touched) now: one takes milliseconds, too long to make the workers
	 * wait for their epoch objects. The rest of the table, needed only
	 * while workers are several epochs apart, on first use. */
	for (unsigned i = 0; i < PREALLOC_PENDING_EPOCHS; i++) {
		a->pending[i].st = alt_pipe_stats_new(a->workers[0].pipe);
		if (a->pending[i].st == NULL) {
			RTE_LOG(ERR, altair, "cannot allocate epoch statistics object %u of %u for the control lcore\n",
				i + 1, PREALLOC_PENDING_EPOCHS);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < a->nworkers; i++) {
		for (unsigned s = 0; s < SINK_COUNT; s++) {
			a->workers[i].held[s] = calloc(c->out_blocks, sizeof(struct out_block *));
			if (a->workers[i].held[s] == NULL) {
				RTE_LOG(ERR, altair, "cannot allocate the control lcore's block list\n");
				return -1;
			}
		}
	}
	return 0;
}

void
alt_dp_ctl_close(struct alt_dp_app *a)
{
	if (a->dags != NULL && a->dags != stdout)
		fclose(a->dags);
	if (a->epochs != NULL && a->epochs != stdout)
		fclose(a->epochs);
	if (a->flagged != NULL && a->flagged != stdout)
		fclose(a->flagged);
	a->dags = a->epochs = a->flagged = NULL;
	free(a->epoch_line);
	a->epoch_line = NULL;
	for (unsigned i = 0; i < MAX_PENDING_EPOCHS; i++) {
		if (a->pending[i].st != NULL)
			alt_pipe_stats_put(a->workers[0].pipe, a->pending[i].st);
		a->pending[i].st = NULL;
		a->pending[i].used = false;
	}
	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker *w = &a->workers[i];
		for (unsigned s = 0; s < SINK_COUNT; s++) {
			for (uint32_t k = 0; k < w->n_held[s]; k++)
				rte_free(w->held[s][k]);
			free(w->held[s]);
			w->held[s] = NULL;
			w->n_held[s] = 0;
		}
	}
}

/* The lines of a flagged block, for /altair/anomalies (a line that
 * continues in the next block is seen by its start only). */
static void
recent_lines(struct alt_dp_app *a, const struct out_block *b)
{
	const char *p = b->data, *end = b->data + b->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		alt_dp_tmpl_recent(a, p, len);
		p += len + 1;
	}
}

static void
write_block(struct alt_dp_app *a, struct worker *w, struct out_block *b)
{
	if (b->sink == SINK_FLAGGED) {
		recent_lines(a, b);
		if (a->flagged != NULL) {
			if (fwrite(b->data, 1, b->len, a->flagged) != b->len)
				a->flagged_write_errors += b->lines;
			else
				ctr_add(&a->flagged_lines_written, b->lines);
		}
	} else if (a->dags != NULL) {
		if (fwrite(b->data, 1, b->len, a->dags) != b->len)
			a->dag_write_errors += b->lines;
		else
			ctr_add(&a->dag_lines_written, b->lines);
	}
	b->len = 0;
	b->lines = 0;
	b->cont = 0;
	rte_ring_sp_enqueue(w->free_blocks, b);
}

/* Write one worker's finished output blocks, never waiting for the worker.
 * A line that spans blocks must be written whole, with no other worker's
 * line in between, but its last block may still be with the worker (it
 * keeps a partly filled block until it fills or its 1 ms flush, and may be
 * preempted between two enqueues; on a CPU shared with this lcore it
 * cannot run while we wait). So blocks are kept aside in w->held until a
 * block that ends a line arrives, and then written together; meanwhile
 * the other workers' rings and the epochs are served. */
static unsigned
drain_blocks(struct alt_dp_app *a, struct worker *w)
{
	void *objs[BLOCK_DRAIN_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(w->out_ring, objs, RTE_DIM(objs), NULL);

	for (unsigned i = 0; i < n; i++) {
		struct out_block *b = objs[i];
		unsigned s = b->sink < SINK_COUNT ? b->sink : SINK_DAGS;

		/* at most every block of this worker: held has room for all */
		w->held[s][w->n_held[s]++] = b;
		if (b->cont)
			continue;
		for (uint32_t k = 0; k < w->n_held[s]; k++)
			write_block(a, w, w->held[s][k]);
		w->n_held[s] = 0;
	}
	return n;
}

/*
 * Epochs: the hand-off from the workers.
 *
 * Each worker's pipe ends its epochs in increasing order. When it ends
 * epoch e, the worker enqueues its partial statistics on its epoch ring and
 * then stores epoch_progress = e + 1 with release (hook_epoch_done): from
 * then on it never reports an epoch <= e. Once per poll the control lcore
 *   1. loads every worker's epoch_progress with acquire (P_i), before
 *      touching any epoch ring;
 *   2. empties every epoch ring, merging each partial into the pending
 *      entry of its epoch;
 *   3. writes, in increasing order, the pending epochs below min P_i.
 * The acquire load in 1 pairs with the worker's release store, so every
 * partial of an epoch below P_i was in worker i's ring before step 2 began
 * and has been merged by step 3: an epoch below min P_i is complete, and
 * no worker will report it again. Loading after draining (the old order)
 * let a worker enqueue e and publish e + 1 in between, and e was written
 * without that part, and again later.
 *
 * Every worker holds epochs back, steering-only ones included, from the
 * start (P_i = 0) until it has ended its first epoch, with one exception:
 * a worker whose pipe has not been fed a single record a second after the
 * start stops holding them (a queue without traffic must not stall the
 * --epochs output). Should such a worker later report an epoch that is
 * already written, or should the pending table be full (a worker that
 * runs MAX_PENDING_EPOCHS epochs ahead of another: the lowest pending
 * epoch is then written early), the partial is merged into the next epoch
 * written: no epoch is written twice and no trace or record goes missing
 * from the sums (both cases are counted: epoch_late_partials,
 * epochs_forced).
 */
#define UNFED_HOLD_NS 1000000000ULL
#define EPOCH_DRAIN_BURST 8            /* epoch partials taken per dequeue */

/* The pending entry of this epoch, a new one if there is a free slot, or
 * NULL when the table is full. */
static struct pending_epoch *
pending_find(struct alt_dp_app *a, uint64_t epoch)
{
	struct pending_epoch *freeslot = NULL;

	for (unsigned i = 0; i < MAX_PENDING_EPOCHS; i++) {
		struct pending_epoch *p = &a->pending[i];
		if (p->used && p->epoch == epoch)
			return p;
		if (!p->used && (freeslot == NULL || (freeslot->st == NULL && p->st != NULL)))
			freeslot = p;
	}
	if (freeslot == NULL)
		return NULL;
	if (freeslot->st == NULL && (freeslot->st = alt_pipe_stats_new(a->workers[0].pipe)) == NULL)
		return NULL;    /* no memory: handled as a full table */
	alt_stats_reset(freeslot->st, epoch);
	freeslot->used = true;
	freeslot->epoch = epoch;
	freeslot->last_wall_ns = 0;
	return freeslot;
}

static struct pending_epoch *
pending_lowest(struct alt_dp_app *a)
{
	struct pending_epoch *best = NULL;

	for (unsigned i = 0; i < MAX_PENDING_EPOCHS; i++) {
		struct pending_epoch *p = &a->pending[i];
		if (p->used && (best == NULL || p->epoch < best->epoch))
			best = p;
	}
	return best;
}

/* The last epoch for telemetry, under a sequence count: the control lcore
 * is its only writer. The odd count is stored before the fields (the
 * release fence orders it before them), the even one after (release); a
 * reader that finds the same even count before and after its loads read
 * one whole epoch. */
static void
last_epoch_publish(struct alt_dp_app *a, const struct pending_epoch *p, double delay_ms)
{
	struct alt_dp_last_epoch *e = &a->last_epoch;
	const struct alt_stats_counters *sc = alt_stats_counters_const(p->st);
	uint64_t seq = e->seq;          /* plain: this lcore is the only writer */

	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&e->epoch, p->epoch, __ATOMIC_RELAXED);
	__atomic_store_n(&e->records, sc->records, __ATOMIC_RELAXED);
	__atomic_store_n(&e->traces_closed, sc->traces_closed, __ATOMIC_RELAXED);
	__atomic_store_n(&e->late, sc->late, __ATOMIC_RELAXED);
	__atomic_store_n(&e->delay_us, (uint64_t)(delay_ms * 1000.0), __ATOMIC_RELAXED);
	__atomic_store_n(&e->close_p50_us, alt_hist_quantile(alt_stats_close_delay(p->st), 0.5) / 1000,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&e->close_p99_us, alt_hist_quantile(alt_stats_close_delay(p->st), 0.99) / 1000,
			 __ATOMIC_RELAXED);
	/* release: pairs with the reader's acquire load of seq */
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
}

bool
alt_dp_last_epoch_read(const struct alt_dp_app *a, struct alt_dp_last_epoch *out)
{
	const struct alt_dp_last_epoch *e = &a->last_epoch;
	uint64_t s1, s2;

	do {
		/* acquire: pairs with the writer's final release store; the
		 * fields loaded below are at least that epoch's */
		s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		out->epoch = __atomic_load_n(&e->epoch, __ATOMIC_RELAXED);
		out->records = __atomic_load_n(&e->records, __ATOMIC_RELAXED);
		out->traces_closed = __atomic_load_n(&e->traces_closed, __ATOMIC_RELAXED);
		out->late = __atomic_load_n(&e->late, __ATOMIC_RELAXED);
		out->delay_us = __atomic_load_n(&e->delay_us, __ATOMIC_RELAXED);
		out->close_p50_us = __atomic_load_n(&e->close_p50_us, __ATOMIC_RELAXED);
		out->close_p99_us = __atomic_load_n(&e->close_p99_us, __ATOMIC_RELAXED);
		/* acquire fence: the loads above are done before seq is read
		 * again; pairs with the writer's release fence after its odd
		 * store, so a load that saw a newer field sees an odd or newer
		 * seq here */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) != 0 || s1 != s2);
	out->seq = s1;
	return s1 != 0;
}

static void
write_epoch(struct alt_dp_app *a, struct pending_epoch *p)
{
	uint64_t now = alt_dp_mono_ns();
	double delay = p->last_wall_ns && now > p->last_wall_ns ? (double)(now - p->last_wall_ns) / 1e6 : 0.0;
	const struct alt_dp_conf *c = a->conf;
	size_t len;

	if (a->n_delay < sizeof(a->delay_ms) / sizeof(a->delay_ms[0]))
		a->delay_ms[a->n_delay++] = delay;
	alt_hist_merge(&a->close_delay, alt_stats_close_delay(p->st));
	len = alt_pipe_format_epoch(p->st, p->epoch, c->epoch_ms * 1000000ULL, delay, c->topk,
				    a->epoch_line, a->epoch_line_cap);
	if (a->epochs != NULL) {
		if (len >= a->epoch_line_cap || fwrite(a->epoch_line, 1, len, a->epochs) != len)
			a->epoch_write_errors++;
		else
			ctr_add(&a->epoch_lines, 1);
		fflush(a->epochs);
	}
	last_epoch_publish(a, p, delay);
	ctr_add(&a->epochs_written, 1);
	alt_dp_tmpl_epoch(a, p->st);
	a->epoch_written = true;
	a->last_epoch_written = p->epoch;
	p->used = false;
}

/* The pending entry a partial of this epoch goes into: its own, or, for an
 * epoch already written, the next one to be written. When the table is
 * full the lowest pending epoch is written first. */
static struct pending_epoch *
pending_for(struct alt_dp_app *a, uint64_t epoch)
{
	struct pending_epoch *p;

	for (;;) {
		if (a->epoch_written && epoch <= a->last_epoch_written) {
			a->epoch_late_partials++;
			epoch = a->last_epoch_written + 1;
		}
		p = pending_find(a, epoch);
		if (p != NULL)
			return p;
		a->epochs_forced++;
		write_epoch(a, pending_lowest(a));
	}
}

/* Write, in order, the pending epochs below min_progress. */
static void
flush_epochs(struct alt_dp_app *a, uint64_t min_progress)
{
	struct pending_epoch *p;

	while ((p = pending_lowest(a)) != NULL && p->epoch < min_progress)
		write_epoch(a, p);
}

static unsigned
drain_epochs(struct alt_dp_app *a, struct worker *w)
{
	void *objs[EPOCH_DRAIN_BURST];
	unsigned n, total = 0;

	/* Empty the ring: the protocol above needs every partial in it. */
	while ((n = rte_ring_sc_dequeue_burst(w->epoch_ring, objs, RTE_DIM(objs), NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct epoch_obj *o = objs[i];
			struct pending_epoch *p = pending_for(a, o->epoch);

			alt_stats_merge(p->st, o->st);
			alt_dp_tmpl_partial(a, o);
			if (o->wall_ns > p->last_wall_ns)
				p->last_wall_ns = o->wall_ns;
			rte_ring_sp_enqueue(w->free_epochs, o);
		}
		total += n;
	}
	return total;
}

/* Whether any record reached this worker's pipe. relaxed: a hint only (see
 * the protocol above: a stale 0 costs at most a late partial). */
static bool
worker_fed(const struct worker *w)
{
	const struct alt_pipe_counters *pc = alt_pipe_counters(w->pipe);

	return __atomic_load_n(&pc->records_decoded, __ATOMIC_RELAXED) != 0 ||
	       __atomic_load_n(&pc->records_received, __ATOMIC_RELAXED) != 0;
}

/* Take every worker's blocks and epochs, and write the epochs that are
 * complete (the protocol above). Returns how many blocks and epochs were
 * taken. */
static unsigned
poll_workers(struct alt_dp_app *a)
{
	uint64_t min_progress = UINT64_MAX;
	bool startup = alt_dp_mono_ns() - a->start_ns < UNFED_HOLD_NS;
	unsigned n = 0;

	for (unsigned i = 0; i < a->nworkers; i++) {
		struct worker *w = &a->workers[i];
		/* acquire: pairs with the release store in hook_epoch_done; every
		 * partial below p is now in w's epoch ring (step 1, before the
		 * drains below) */
		uint64_t p = __atomic_load_n(&w->epoch_progress, __ATOMIC_ACQUIRE);

		if (p == 0 && !startup && !worker_fed(w))
			continue;
		if (p < min_progress)
			min_progress = p;
	}
	for (unsigned i = 0; i < a->nworkers; i++) {
		n += drain_blocks(a, &a->workers[i]);
		n += drain_epochs(a, &a->workers[i]);
	}
	flush_epochs(a, min_progress);
	return n;
}

/* Where progress lines go: stdout, unless an output is written there. */
static FILE *
progress_stream(const struct alt_dp_conf *c)
{
	bool out_on_stdout = strcmp(c->dags, "-") == 0 || strcmp(c->epochs, "-") == 0 ||
			     strcmp(c->summary, "-") == 0;
	return out_on_stdout ? stderr : stdout;
}

/* One line of progress while running (--progress-ms): packets and their
 * rate since the last line, records, traces closed, and what was dropped,
 * by where: at the port (imissed, rx_nombuf), malformed frames and
 * fragments, payloads rejected by a decoder, records, trace lines. */
static void
progress_print(struct alt_dp_app *a, uint64_t now, uint64_t *last_pkts, uint64_t *last_ns)
{
	struct alt_dp_totals t;
	uint64_t malformed = 0, rejected = 0, records = 0, port = 0;

	alt_dp_totals(a, &t);
	for (unsigned o = 0; o < ALT_NET_OUTCOME_COUNT; o++)
		if (alt_net_outcome_malformed(o))
			malformed += t.net.outcome[o];
	for (unsigned r = ALT_NET_REASM_DUPLICATE; r < ALT_NET_REASM_OUTCOME_COUNT; r++)
		malformed += t.reasm.frags[r];
	for (unsigned r = 1; r < ALT_WIRE_REASON_COUNT; r++)
		rejected += t.pkt_wire[r] + t.dgram_wire[r];
	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
		if (strncmp(alt_pipe_rec_outcome_name(i), "dropped", 7) == 0)
			records += t.pipe.records[i];
	for (uint16_t p = 0; p < a->nports; p++) {
		struct rte_eth_stats st;
		if (rte_eth_stats_get(p, &st) == 0)
			port += st.imissed + st.rx_nombuf;
	}
	double dt = (double)(now - *last_ns) / 1e9;
	fprintf(progress_stream(a->conf),
		"altair: %.1f s: %" PRIu64 " packets (%.0f/s), %" PRIu64 " records (%" PRIu64 " pending), %" PRIu64
		" traces closed, dropped: %" PRIu64 " at the port, %" PRIu64 " malformed, %" PRIu64 " rejected, %"
		PRIu64 " records, %" PRIu64 " trace lines\n",
		(double)(now - a->start_ns) / 1e9, t.w.rx_pkts, dt > 0 ? (double)(t.w.rx_pkts - *last_pkts) / dt : 0.0,
		t.pipe.records_decoded, t.pending, t.traces_closed, port, malformed, rejected, records, t.w.lines_dropped);
	fflush(progress_stream(a->conf));
	*last_pkts = t.w.rx_pkts;
	*last_ns = now;
}

/*
 * Run until a signal, or with --once until every port was idle for
 * idle_exit_ms; then tell the workers to drain and keep emptying their
 * rings until every one is done. Every --progress-ms, unless --quiet, a
 * progress line.
 */
int
alt_dp_ctl_loop(struct alt_dp_app *a, volatile sig_atomic_t *sig)
{
	const struct alt_dp_conf *c = a->conf;
	uint64_t last_rx = 0, last_empty = 0, last_change = alt_dp_mono_ns();
	const uint64_t period = (uint64_t)c->progress_ms * 1000000ULL;
	uint64_t next_progress = period != 0 && !c->quiet ? a->start_ns + period : UINT64_MAX;
	uint64_t progress_pkts = 0, progress_ns = a->start_ns;
	bool stopping = false;

	for (;;) {
		unsigned work = poll_workers(a);
		uint64_t now = alt_dp_mono_ns();

		alt_dp_tmpl_poll(a, false);
		if (!stopping) {
			uint64_t rx = 0, empty = 0;
			for (unsigned i = 0; i < a->nworkers; i++) {
				/* relaxed: counts, they publish nothing */
				rx += __atomic_load_n(&a->workers[i].rx_seen, __ATOMIC_RELAXED);
				empty += __atomic_load_n(&a->workers[i].empty_polls, __ATOMIC_RELAXED);
			}
			/* Idle means the ports deliver nothing while the workers
			 * poll them: a worker busy with a long piece of work (a
			 * watermark that jumped closes many traces at once) polls
			 * no port meanwhile, which is not the input ending. */
			if (rx != last_rx || empty == last_empty) {
				last_rx = rx;
				last_change = now;
			}
			last_empty = empty;
			bool idle = c->once && now - last_change >= (uint64_t)c->idle_exit_ms * 1000000ULL;
			if (now >= next_progress) {
				progress_print(a, now, &progress_pkts, &progress_ns);
				next_progress = now + period;
			}
			if (*sig || idle) {
				if (*sig && !c->quiet)
					RTE_LOG(NOTICE, altair, "signal %d: draining\n", (int)*sig);
				stopping = true;
				/* release: pairs with the worker's acquire load in
				 * its loop condition */
				for (unsigned i = 0; i < a->nworkers; i++)
					__atomic_store_n(&a->workers[i].stop, 1, __ATOMIC_RELEASE);
			}
		} else {
			unsigned done = 0;
			for (unsigned i = 0; i < a->nworkers; i++)
				/* acquire: pairs with the worker's release store of
				 * done: its last blocks and epochs are in the rings
				 * and its counters final for the report */
				done += __atomic_load_n(&a->workers[i].done, __ATOMIC_ACQUIRE) != 0;
			if (done == a->nworkers)
				break;
		}
		/* The control lcore may share a CPU with a worker: when there was
		 * nothing to do, sleep long enough not to keep preempting it
		 * (1 ms keeps epoch delays far below their 10 ms budget). */
		usleep(work ? POLL_BUSY_US : POLL_IDLE_US);
	}
	a->end_ns = alt_dp_mono_ns();
	return 0;
}

void
alt_dp_ctl_finish(struct alt_dp_app *a)
{
	/* Workers are done: take what is left (one poll takes at most
	 * BLOCK_DRAIN_BURST blocks per worker: poll until the rings are empty,
	 * or lines held for their last block would be lost), then every
	 * pending epoch. */
	while (poll_workers(a) > 0)
		;
	flush_epochs(a, UINT64_MAX);
	alt_dp_tmpl_poll(a, true);
	for (unsigned i = 0; i < a->nworkers; i++)
		for (unsigned s = 0; s < SINK_COUNT; s++) {
			free(a->workers[i].held[s]);
			a->workers[i].held[s] = NULL;
		}
	if (a->flagged != NULL && a->flagged != stdout && fclose(a->flagged) != 0)
		a->flagged_write_errors++;
	else if (a->flagged == stdout)
		fflush(stdout);
	a->flagged = NULL;
	if (a->dags != NULL && a->dags != stdout && fclose(a->dags) != 0)
		a->dag_write_errors++;
	else if (a->dags == stdout)
		fflush(stdout);
	if (a->epochs != NULL && a->epochs != stdout && fclose(a->epochs) != 0)
		a->epoch_write_errors++;
	a->dags = NULL;
	a->epochs = NULL;
}

void
alt_dp_totals(const struct alt_dp_app *a, struct alt_dp_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < a->nworkers; i++) {
		const struct worker *w = &a->workers[i];
		const struct alt_pipe_counters *pc = alt_pipe_counters(w->pipe);
		struct alt_net_reasm_stats rs;
		struct alt_pipe_mem_stats ms;
		const struct alt_wire_ctx *wc = alt_pipe_wire_ctx(w->pipe);

#define DP_CTR_SUM(field, name) t->w.field += ctr_read(&w->ctr.field);
		DP_WORKER_COUNTERS(DP_CTR_SUM)
#undef DP_CTR_SUM
#define DP_PIPE_SUM(field, name) t->pipe.field += pc->field;
		DP_PIPE_COUNTERS(DP_PIPE_SUM)
#undef DP_PIPE_SUM
		for (unsigned k = 0; k < ALT_NET_OUTCOME_COUNT; k++) {
			t->net.outcome[k] += w->net.outcome[k];
			t->dgram_net[k] += ctr_read(&w->dgram_net[k]);
		}
		for (unsigned k = 0; k < ALT_NET_ENCAP_COUNT; k++)
			t->net.encap[k] += w->net.encap[k];
		for (unsigned k = 0; k < ALT_WIRE_REASON_COUNT; k++) {
			t->pkt_wire[k] += ctr_read(&w->pkt_wire[k]);
			t->dgram_wire[k] += ctr_read(&w->dgram_wire[k]);
			t->pipe.rejected[k] += pc->rejected[k];
		}
		for (unsigned k = 0; k < ALT_PIPE_REC_COUNT; k++)
			t->pipe.records[k] += pc->records[k];
		for (unsigned k = 0; k < ALT_CLOSED_COUNT; k++)
			t->pipe.traces_closed[k] += pc->traces_closed[k];
		alt_net_reasm_get_stats(w->reasm, &rs);
		t->reasm.frags_in += rs.frags_in;
		for (unsigned k = 0; k < ALT_NET_REASM_OUTCOME_COUNT; k++) {
			t->reasm.frags[k] += rs.frags[k];
			t->reasm.datagrams[k] += rs.datagrams[k];
		}
		t->reasm.frags_pending += rs.frags_pending;
		t->reasm.blocks_peak += rs.blocks_peak;
		t->pending += alt_pipe_pending(w->pipe);
		t->atr_frames_lost += wc->atr_frames_lost;
		t->jaeger_batches_lost += wc->jaeger_batches_lost;
		t->jaeger_client_dropped += wc->jaeger_client_dropped_spans;
		t->pipe.anomaly_checked += pc->anomaly_checked;
		t->pipe.anomaly_traces += pc->anomaly_traces;
		t->pipe.anomaly_shape += pc->anomaly_shape;
		t->pipe.anomaly_edge += pc->anomaly_edge;
		t->pipe.anomaly_latency += pc->anomaly_latency;
		alt_pipe_mem_stats(w->pipe, &ms);
		t->mem.total_bytes += ms.total_bytes;
		t->mem.nodes_peak += ms.nodes_peak;
		t->mem.traces_peak += ms.traces_peak;
		t->mem.reorder_peak += ms.reorder_peak;
	}
	/* Frames given up on a full ring after the pipe counted their records
	 * as steered: they are drops, not transfers. */
	t->pipe.records[ALT_PIPE_REC_STEERED] -= t->w.steer_dropped;
	t->pipe.records[ALT_PIPE_REC_DROPPED_STEER_FULL] += t->w.steer_dropped;
	t->pipe.steer_frames = t->w.steer_out_frames;
	for (unsigned k = 0; k < ALT_CLOSED_COUNT; k++)
		t->traces_closed += t->pipe.traces_closed[k];
}

/* ---- the final report ---- */

static uint64_t
closed_sum(const struct alt_pipe_counters *pc)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < ALT_CLOSED_COUNT; k++)
		n += pc->traces_closed[k];
	return n;
}

struct kv {
	char name[64];
	uint64_t v;
};

/* Packet outcomes: every received frame under exactly one name. */
static unsigned
packet_outcomes(const struct alt_dp_totals *t, struct kv *out, unsigned cap)
{
	unsigned n = 0;

#define ADD(nm, val)                                                          \
	do {                                                                  \
		if ((val) != 0 && n < cap) {                                  \
			snprintf(out[n].name, sizeof(out[n].name), "%s", nm); \
			out[n].v = (val);                                     \
			n++;                                                  \
		}                                                             \
	} while (0)
	char nm[64];

	ADD("parsed", t->pkt_wire[ALT_WIRE_OK]);
	for (unsigned r = 1; r < ALT_WIRE_REASON_COUNT; r++) {
		snprintf(nm, sizeof(nm), "rejected_%s", alt_wire_reason_name(r));
		ADD(nm, t->pkt_wire[r]);
	}
	for (unsigned o = ALT_NET_NOT_IP; o < ALT_NET_OUTCOME_COUNT; o++) {
		if (alt_net_outcome_malformed(o))
			snprintf(nm, sizeof(nm), "malformed_%s", alt_net_outcome_name(o));
		else
			snprintf(nm, sizeof(nm), "%s", alt_net_outcome_name(o));
		ADD(nm, t->net.outcome[o]);
	}
	ADD("fragment_reassembled", t->reasm.frags[ALT_NET_REASM_COMPLETE]);
	for (unsigned r = ALT_NET_REASM_DUPLICATE; r < ALT_NET_REASM_OUTCOME_COUNT; r++) {
		snprintf(nm, sizeof(nm), "fragment_dropped_%s", alt_net_reasm_outcome_name(r));
		ADD(nm, t->reasm.frags[r]);
	}
	ADD("fragment_pending", (uint64_t)t->reasm.frags_pending);
#undef ADD
	return n;
}

static unsigned
datagram_outcomes(const struct alt_dp_totals *t, struct kv *out, unsigned cap)
{
	unsigned n = 0;
	char nm[64];

	for (unsigned r = 0; r < ALT_WIRE_REASON_COUNT; r++) {
		uint64_t v = t->dgram_wire[r];
		if (v == 0 || n >= cap)
			continue;
		if (r == ALT_WIRE_OK)
			snprintf(nm, sizeof(nm), "parsed");
		else
			snprintf(nm, sizeof(nm), "rejected_%s", alt_wire_reason_name(r));
		snprintf(out[n].name, sizeof(out[n].name), "%s", nm);
		out[n++].v = v;
	}
	for (unsigned o = ALT_NET_FRAGMENT; o < ALT_NET_OUTCOME_COUNT; o++) {
		uint64_t v = t->dgram_net[o];
		if (v == 0 || n >= cap)
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s%s", alt_net_outcome_malformed(o) ? "malformed_" : "",
			 alt_net_outcome_name(o));
		out[n++].v = v;
	}
	return n;
}

static void
json_kvs(FILE *f, const struct kv *kv, unsigned n)
{
	fputc('{', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", kv[i].name, kv[i].v);
	fputc('}', f);
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
write_summary_json(FILE *f, const struct alt_dp_app *a, const struct alt_dp_totals *t,
		   const struct kv *pk, unsigned npk, const struct kv *dg, unsigned ndg,
		   double wall_s, double busy_s, double d50, double d99)
{
	struct kv rec[ALT_PIPE_REC_COUNT + 1];
	unsigned nrec = 0;

	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++) {
		if (i == ALT_PIPE_REC_STEERED)
			continue;
		snprintf(rec[nrec].name, sizeof(rec[nrec].name), "%s", alt_pipe_rec_outcome_name(i));
		rec[nrec++].v = t->pipe.records[i];
	}
	if (t->pending) {
		snprintf(rec[nrec].name, sizeof(rec[nrec].name), "pending");
		rec[nrec++].v = t->pending;
	}
	fprintf(f, "{\"packets\":{\"received\":%" PRIu64 ",\"by_outcome\":", t->w.rx_pkts);
	json_kvs(f, pk, npk);
	fprintf(f, ",\"encapsulation\":{");
	for (unsigned e = 0; e < ALT_NET_ENCAP_COUNT; e++)
		fprintf(f, "%s\"%s\":%" PRIu64, e ? "," : "", alt_net_encap_name(e), t->net.encap[e]);
	fprintf(f, "}},\"datagrams\":{\"reassembled\":%" PRIu64 ",\"by_outcome\":",
		t->reasm.datagrams[ALT_NET_REASM_COMPLETE]);
	json_kvs(f, dg, ndg);
	fprintf(f, "},\"records\":{\"decoded\":%" PRIu64 ",\"by_outcome\":", t->pipe.records_decoded);
	json_kvs(f, rec, nrec);
	fprintf(f, ",\"late\":%" PRIu64 ",\"parents_truncated\":%" PRIu64 ",\"names_truncated\":%" PRIu64
		",\"foreign_refs\":%" PRIu64
		",\"steered\":%" PRIu64 ",\"steered_received\":%" PRIu64 ",\"steer_frames\":%" PRIu64 "}",
		t->pipe.late, t->pipe.parents_truncated, t->pipe.names_truncated, t->pipe.foreign_refs,
		t->pipe.records[ALT_PIPE_REC_STEERED],
		t->pipe.records_received, t->pipe.steer_frames);
	fprintf(f, ",\"traces\":{\"closed\":%" PRIu64 ",\"by_closed_by\":{", t->traces_closed);
	for (unsigned k = 0; k < ALT_CLOSED_COUNT; k++)
		fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", alt_closed_by_name(k), t->pipe.traces_closed[k]);
	fprintf(f, "},\"flagged\":%" PRIu64 ",\"incomplete\":%" PRIu64 ",\"late_fragments\":%" PRIu64
		",\"reorder_pressure_flushes\":%" PRIu64 ",\"reopened\":%" PRIu64 "}",
		t->pipe.traces_flagged, t->pipe.traces_incomplete, t->pipe.late_fragments,
		t->pipe.reorder_pressure_flushes, t->pipe.reopened);
	fprintf(f, ",\"loss\":{\"atr_frames_lost\":%" PRIu64 ",\"jaeger_batches_lost\":%" PRIu64
		",\"jaeger_client_dropped_spans\":%" PRIu64 "}",
		t->atr_frames_lost, t->jaeger_batches_lost, t->jaeger_client_dropped);
	fprintf(f, ",\"outputs\":{\"dag_lines\":%" PRIu64 ",\"dag_lines_dropped\":%" PRIu64
		",\"dag_write_errors\":%" PRIu64 ",\"detail_truncated\":%" PRIu64 ",\"epochs_written\":%" PRIu64
		",\"epoch_lines\":%" PRIu64
		",\"epoch_write_errors\":%" PRIu64 ",\"epochs_lost\":%" PRIu64 ",\"epochs_forced\":%" PRIu64
		",\"epoch_late_partials\":%" PRIu64 "}",
		a->dag_lines_written, t->w.lines_dropped, a->dag_write_errors, t->w.detail_truncated, a->epochs_written,
		a->epoch_lines,
		a->epoch_write_errors, t->pipe.epochs_lost + t->w.epochs_dropped,
		a->epochs_forced, a->epoch_late_partials);
	fprintf(f, ",\"anomalies\":{\"checked\":%" PRIu64 ",\"flagged\":%" PRIu64 ",\"anomaly_shape\":%" PRIu64
		",\"anomaly_edge\":%" PRIu64 ",\"anomaly_latency\":%" PRIu64 ",\"flagged_lines\":%" PRIu64
		",\"flagged_lines_dropped\":%" PRIu64 ",\"flagged_write_errors\":%" PRIu64 "}",
		t->pipe.anomaly_checked, t->pipe.anomaly_traces, t->pipe.anomaly_shape, t->pipe.anomaly_edge,
		t->pipe.anomaly_latency, a->flagged_lines_written, t->w.flagged_dropped, a->flagged_write_errors);
	{
		const struct alt_dp_tmpl *tp = &a->tmpl;

		fprintf(f, ",\"templates\":{\"generation\":%" PRIu64 ",\"swaps\":%" PRIu64 ",\"freed\":%" PRIu64
			",\"superseded\":%" PRIu64 ",\"learned_builds\":%u,\"observed\":%" PRIu64,
			tp->have_info ? tp->info.generation : 0, tp->swaps, tp->freed, tp->superseded, tp->builds,
			t->w.learn_observed);
		if (tp->have_info)
			fprintf(f, ",\"shape_keys\":%" PRIu64 ",\"edge_keys\":%" PRIu64 ",\"families\":%u"
				",\"shape_bits\":%" PRIu64 ",\"edge_bits\":%" PRIu64 ",\"shape_k\":%u,\"edge_k\":%u"
				",\"fpr_target\":%g,\"shape_fpr_estimate\":%.6g,\"edge_fpr_estimate\":%.6g",
				tp->info.shape_keys, tp->info.edge_keys, tp->info.families, tp->info.shape_bits,
				tp->info.edge_bits, tp->info.shape_k, tp->info.edge_k, tp->info.fpr_target,
				tp->info.shape_fpr, tp->info.edge_fpr);
		fputc('}', f);
	}
	fprintf(f, ",\"steering\":{\"frames\":%" PRIu64 ",\"waits\":%" PRIu64 ",\"ring_full\":%" PRIu64
		",\"no_buffer\":%" PRIu64 "}",
		t->pipe.steer_frames, t->w.steer_waits, t->w.steer_ring_full, t->w.steer_no_buf);
	fprintf(f, ",\"ports\":[");
	for (unsigned p = 0; p < a->nports; p++)
		fprintf(f, "%s{\"port\":%u,\"rx_queues\":%u,\"rss\":\"%s\",\"ipackets\":%" PRIu64 ",\"imissed\":%" PRIu64
			",\"ierrors\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 "}",
			p ? "," : "", p, a->port_nq[p],
			alt_dp_rss_name(a->port_rss[p]),
			a->port_stats[p].ipackets, a->port_stats[p].imissed, a->port_stats[p].ierrors,
			a->port_stats[p].rx_nombuf);
	fprintf(f, "],\"per_worker\":[");
	for (unsigned i = 0; i < a->nworkers; i++) {
		const struct worker *w = &a->workers[i];
		const struct alt_pipe_counters *pc = alt_pipe_counters(w->pipe);
		fprintf(f, "%s{\"worker\":%u,\"lcore\":%u,\"rx_queues\":%u,\"rx_packets\":%" PRIu64
			",\"records_decoded\":%" PRIu64 ",\"records_steered_out\":%" PRIu64
			",\"records_steered_in\":%" PRIu64 ",\"traces_closed\":%" PRIu64 ",\"busy_s\":%.6f}",
			i ? "," : "", i, w->lcore, w->nq, w->ctr.rx_pkts, pc->records_decoded,
			pc->records[ALT_PIPE_REC_STEERED] - w->ctr.steer_dropped, pc->records_received,
			closed_sum(pc),
			(double)w->ctr.busy_tsc / (double)rte_get_tsc_hz());
	}
	fprintf(f, "],\"workers\":%u,\"memory\":{\"pipeline_bytes\":%zu,\"nodes_peak\":%u,\"traces_peak\":%u,"
		"\"reorder_peak\":%u}",
		a->nworkers, t->mem.total_bytes, t->mem.nodes_peak, t->mem.traces_peak, t->mem.reorder_peak);
	fprintf(f, ",\"epoch_delay_ms\":{\"p50\":%.3f,\"p99\":%.3f}", d50, d99);
	{
		/* the closed traces, as one number (alt_pipe_counters.traces_digest) */
		uint64_t dig = 0;
		for (unsigned i = 0; i < a->nworkers; i++)
			dig += alt_pipe_counters(a->workers[i].pipe)->traces_digest;
		fprintf(f, ",\"traces_digest\":\"%016" PRIx64 "\"", dig);
	}
	{
		/* the time model: sources of every worker, close delays of every epoch */
		struct alt_sources_stats ss, sum;
		uint64_t releases = 0;
		memset(&sum, 0, sizeof(sum));
		for (unsigned i = 0; i < a->nworkers; i++) {
			alt_sources_get_stats(alt_pipe_sources(a->workers[i].pipe), &ss);
			sum.known += ss.known;
			sum.active += ss.active;
			sum.known_peak += ss.known_peak;
			sum.sources_new += ss.sources_new;
			sum.went_idle += ss.went_idle;
			sum.returned += ss.returned;
			sum.returned_behind += ss.returned_behind;
			sum.evicted += ss.evicted;
			sum.released += ss.released;
			sum.warmup_released += ss.warmup_released;
			releases += alt_pipe_counters(a->workers[i].pipe)->source_releases;
		}
		fprintf(f, ",\"time_model\":{\"sources_known\":%u,\"sources_peak\":%u,\"sources_new\":%" PRIu64
			",\"went_idle\":%" PRIu64 ",\"returned\":%" PRIu64 ",\"returned_behind\":%" PRIu64
			",\"evicted\":%" PRIu64 ",\"released_for_memory\":%" PRIu64 ",\"warmups_released\":%" PRIu64
			",\"close_delay_ms\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}",
			sum.known, sum.known_peak, sum.sources_new, sum.went_idle, sum.returned, sum.returned_behind,
			sum.evicted, sum.released, sum.warmup_released, a->close_delay.count,
			(double)alt_hist_quantile(&a->close_delay, 0.5) / 1e6,
			(double)alt_hist_quantile(&a->close_delay, 0.99) / 1e6, (double)a->close_delay.max / 1e6);
		(void)releases;
	}
	fprintf(f, ",\"wall_s\":%.6f,\"busy_s\":%.6f}\n", wall_s, busy_s);
}

/*
 * Print the accounting on stdout (unless --quiet) and write --summary.
 * Returns -1 when the sums do not balance (a bug: say so loudly).
 */
int
alt_dp_ctl_report(struct alt_dp_app *a)
{
	const struct alt_dp_conf *c = a->conf;
	struct alt_dp_totals t;
	struct kv pk[128], dg[64];
	unsigned npk, ndg;
	uint64_t psum = 0, rsum = 0;
	double wall_s = (double)(a->end_ns - a->start_ns) / 1e9;
	double busy_s;
	double d50 = 0, d99 = 0;
	int rc = 0;

	alt_dp_totals(a, &t);
	busy_s = (double)t.w.busy_tsc / (double)rte_get_tsc_hz();
	npk = packet_outcomes(&t, pk, 128);
	ndg = datagram_outcomes(&t, dg, 64);
	for (unsigned i = 0; i < npk; i++)
		psum += pk[i].v;
	/* Steered records are transfers: every one sent was received. */
	for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
		if (i != ALT_PIPE_REC_STEERED)
			rsum += t.pipe.records[i];
	rsum += t.pending;
	if (t.pipe.records[ALT_PIPE_REC_STEERED] != t.pipe.records_received) {
		RTE_LOG(ERR, altair, "ACCOUNTING MISMATCH: %" PRIu64 " records steered, %" PRIu64 " received\n",
			t.pipe.records[ALT_PIPE_REC_STEERED], t.pipe.records_received);
		rc = -1;
	}
	if (a->n_delay) {
		qsort(a->delay_ms, a->n_delay, sizeof(double), dbl_cmp);
		d50 = a->delay_ms[(a->n_delay - 1) / 2];
		d99 = a->delay_ms[(size_t)((a->n_delay - 1) * 0.99)];
	}
	if (psum != t.w.rx_pkts || rsum != t.pipe.records_decoded || t.pending != 0) {
		RTE_LOG(ERR, altair, "ACCOUNTING MISMATCH: packets %" PRIu64 " received vs %" PRIu64
			" by outcome; records %" PRIu64 " decoded vs %" PRIu64 " by outcome (%" PRIu64 " pending)\n",
			t.w.rx_pkts, psum, t.pipe.records_decoded, rsum, t.pending);
		rc = -1;
	}
	if (!c->quiet) {
		printf("altair: %u worker(s), %.3f s wall, %.3f s busy\n", a->nworkers, wall_s, busy_s);
		printf("packets  received %" PRIu64 " (%" PRIu64 " bytes)\n", t.w.rx_pkts, t.w.rx_bytes);
		for (unsigned i = 0; i < npk; i++)
			printf("  %-32s %" PRIu64 "\n", pk[i].name, pk[i].v);
		if (t.reasm.datagrams[ALT_NET_REASM_COMPLETE]) {
			printf("datagrams reassembled %" PRIu64 "\n", t.reasm.datagrams[ALT_NET_REASM_COMPLETE]);
			for (unsigned i = 0; i < ndg; i++)
				printf("  %-32s %" PRIu64 "\n", dg[i].name, dg[i].v);
		}
		printf("records  decoded %" PRIu64 " (late %" PRIu64 ")\n", t.pipe.records_decoded, t.pipe.late);
		for (unsigned i = 0; i < ALT_PIPE_REC_COUNT; i++)
			if (i != ALT_PIPE_REC_STEERED)
				printf("  %-32s %" PRIu64 "\n", alt_pipe_rec_outcome_name(i), t.pipe.records[i]);
		if (a->nworkers > 1)
			printf("  (steered between workers: %" PRIu64 " records in %" PRIu64 " frames)\n",
			       t.pipe.records[ALT_PIPE_REC_STEERED], t.pipe.steer_frames);
		printf("traces   closed %" PRIu64 " (", t.traces_closed);
		for (unsigned k = 0; k < ALT_CLOSED_COUNT; k++)
			printf("%s%s %" PRIu64, k ? ", " : "", alt_closed_by_name(k), t.pipe.traces_closed[k]);
		printf("), flagged %" PRIu64 ", incomplete %" PRIu64 "\n", t.pipe.traces_flagged,
		       t.pipe.traces_incomplete);
		printf("loss     ATR frames %" PRIu64 ", Jaeger batches %" PRIu64 ", client-dropped spans %" PRIu64 "\n",
		       t.atr_frames_lost, t.jaeger_batches_lost, t.jaeger_client_dropped);
		if (t.pipe.anomaly_checked > 0 || a->tmpl.swaps > 0)
			printf("anomaly  checked %" PRIu64 ", flagged %" PRIu64 " (shape %" PRIu64 ", edge %" PRIu64
			       ", latency %" PRIu64 "), templates generation %" PRIu64 ", swaps %" PRIu64 "\n",
			       t.pipe.anomaly_checked, t.pipe.anomaly_traces, t.pipe.anomaly_shape, t.pipe.anomaly_edge,
			       t.pipe.anomaly_latency, a->tmpl.have_info ? a->tmpl.info.generation : 0, a->tmpl.swaps);
		printf("outputs  %" PRIu64 " trace lines (%" PRIu64 " dropped), %" PRIu64 " epochs (%" PRIu64
		       " lines written), epoch delay p50 %.3f ms p99 %.3f ms\n",
		       a->dag_lines_written, t.w.lines_dropped, a->epochs_written, a->epoch_lines, d50, d99);
		printf("balance  packets %s, records %s\n", psum == t.w.rx_pkts ? "ok" : "MISMATCH",
		       rsum == t.pipe.records_decoded && t.pending == 0 ? "ok" : "MISMATCH");
	}
	if (c->summary[0]) {
		FILE *f = strcmp(c->summary, "-") == 0 ? stdout : fopen(c->summary, "w");
		if (f == NULL) {
			RTE_LOG(ERR, altair, "cannot write summary '%s': %s\n", c->summary, strerror(errno));
			return -1;
		}
		write_summary_json(f, a, &t, pk, npk, dg, ndg, wall_s, busy_s, d50, d99);
		if (f != stdout)
			fclose(f);
	}
	if (a->dag_write_errors || a->epoch_write_errors || a->flagged_write_errors)
		rc = -1;
	return rc;
}
