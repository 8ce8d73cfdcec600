/* SPDX-License-Identifier: BSD-3-Clause
 * Tests of altair-gen's sender models, on the captures it writes: agent
 * mode (--flush-ms: per-emitter flush timers) is deterministic per seed in
 * every format, writes non-decreasing pcap timestamps and puts every record
 * of the truth on the wire once; a sender's datagrams leave on its timer
 * ticks unless their batch was full; quiet emitters (--quiet) send nothing
 * during their quiet span while every record still reaches the wire; host
 * clock offsets (--skew-ms) stay within the bound, are the same for every
 * record of a host, leave the pcap times alone and agree with the truth;
 * bad values of the new options are refused with exit status 2.
 *
 * Usage: test_gen PATH-TO-ALTAIR-GEN (or ALTAIR_GEN in the environment).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "alt_net.h"
#include "alt_wire.h"
#include "netfeed.h"
#include "pcapread.h"
#include "truth.h"

#define NS_PER_MS 1000000ull
#define MAX_ARGS 48

static const char *gen_path;
static char tmpdir[] = "/tmp/altair-gen-XXXXXX";
static bool tmpdir_made;

/* ---- running the generator ---- */

/* Run altair-gen with args (NULL-terminated) and --out pcap (and --truth
 * truth when not NULL), stderr to err_path when not NULL. Returns the exit
 * status, or -1 when it could not run or died of a signal. */
static int
gen_exec(const char *const *args, const char *pcap, const char *truth, const char *err_path)
{
	const char *argv[MAX_ARGS + 6];
	unsigned n = 0;
	pid_t pid;
	int st;

	argv[n++] = gen_path;
	argv[n++] = "--out";
	argv[n++] = pcap;
	if (truth != NULL) {
		argv[n++] = "--truth";
		argv[n++] = truth;
	}
	for (unsigned i = 0; args[i] != NULL && i < MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(err_path != NULL ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(gen_path, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void
path_of(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static bool
same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa != NULL && fb != NULL;

	while (same) {
		int x = getc(fa), y = getc(fb);

		if (x != y)
			same = false;
		if (x == EOF || y == EOF)
			break;
	}
	if (fa != NULL)
		fclose(fa);
	if (fb != NULL)
		fclose(fb);
	return same;
}

/* ---- what is on the wire ---- */

struct dgram {
	uint64_t ts_ns;         /* pcap time of the frame that completed it */
	uint32_t src;           /* IPv4 source: the emitter */
	uint32_t len;           /* UDP payload bytes */
	uint32_t first_rec;     /* its records: wire.recs[first_rec .. + n_recs) */
	uint32_t n_recs;
};

struct wrec {
	uint64_t node_id;
	uint64_t start_ns;
	uint32_t dgram;
};

struct wire {
	struct dgram *d;
	size_t n;
	struct wrec *recs;
	size_t n_recs;
	uint64_t frames;
	bool ts_sorted;         /* pcap timestamps never went back */
	uint64_t rejects;       /* payloads the decoders refused */
};

static void
wire_free(struct wire *w)
{
	free(w->d);
	free(w->recs);
	memset(w, 0, sizeof(*w));
}

/* Read a capture (untagged IPv4, no encapsulation): every tracing
 * datagram, with its source and its records decoded. 0, or -1. */
static int
wire_read(struct wire *w, const char *path)
{
	static struct alt_record recs[ALT_ATR_MAX_COUNT];
	static char arena[1 << 20];
	struct pcapr pr;
	struct pcapr_frame f;
	struct netfeed nf;
	size_t dcap = 0, rcap = 0;
	uint64_t last = 0;
	int rc;

	memset(w, 0, sizeof(*w));
	w->ts_sorted = true;
	if (pcapr_open(&pr, path) != 0)
		return -1;
	if (netfeed_init(&nf) != 0) {
		pcapr_close(&pr);
		return -1;
	}
	while ((rc = pcapr_next(&pr, &f)) == 1) {
		struct netfeed_payload pl;
		struct alt_wire_out out = { .recs = recs, .cap = ALT_ATR_MAX_COUNT, .arena = arena,
					    .arena_cap = sizeof(arena) };
		struct dgram *d;

		w->frames++;
		if (f.ts_ns < last)
			w->ts_sorted = false;
		last = f.ts_ns;
		if (!netfeed_frame(&nf, f.data, f.caplen, f.ts_ns, &pl) || f.caplen < 34)
			continue;
		if (w->n == dcap) {
			dcap = dcap ? 2 * dcap : 4096;
			w->d = realloc(w->d, dcap * sizeof(*w->d));
			if (w->d == NULL)
				abort();
		}
		d = &w->d[w->n];
		d->ts_ns = f.ts_ns;
		d->src = (uint32_t)f.data[26] << 24 | (uint32_t)f.data[27] << 16 |
			 (uint32_t)f.data[28] << 8 | f.data[29];
		d->len = pl.len;
		d->first_rec = (uint32_t)w->n_recs;
		d->n_recs = 0;
		if (alt_wire_decode(NULL, (enum alt_wire_format)pl.format, pl.data, pl.len, &out) !=
		    ALT_WIRE_OK) {
			w->rejects++;
			w->n++;
			continue;
		}
		for (uint32_t i = 0; i < out.n; i++) {
			if (w->n_recs == rcap) {
				rcap = rcap ? 2 * rcap : 16384;
				w->recs = realloc(w->recs, rcap * sizeof(*w->recs));
				if (w->recs == NULL)
					abort();
			}
			w->recs[w->n_recs].node_id = recs[i].node_id;
			w->recs[w->n_recs].start_ns = recs[i].start_ns;
			w->recs[w->n_recs].dgram = (uint32_t)w->n;
			w->n_recs++;
		}
		d->n_recs = out.n;
		w->n++;
	}
	netfeed_fini(&nf);
	pcapr_close(&pr);
	return rc == 0 ? 0 : -1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Do the node IDs on the wire and in the truth form the same multiset? */
static bool
same_node_ids(const struct wire *w, const struct truth *tr)
{
	uint64_t *a, *b;
	size_t k = 0;
	bool same;

	if (w->n_recs != tr->nodes)
		return false;
	a = malloc((w->n_recs + 1) * sizeof(*a));
	b = malloc((tr->nodes + 1) * sizeof(*b));
	if (a == NULL || b == NULL)
		abort();
	for (size_t i = 0; i < w->n_recs; i++)
		a[i] = w->recs[i].node_id;
	for (size_t i = 0; i < tr->n; i++)
		for (uint32_t j = 0; j < tr->t[i].n_nodes; j++)
			b[k++] = tr->t[i].nodes[j].id;
	qsort(a, w->n_recs, sizeof(*a), cmp_u64);
	qsort(b, k, sizeof(*b), cmp_u64);
	same = memcmp(a, b, k * sizeof(*a)) == 0;
	free(a);
	free(b);
	return same;
}

/* (node ID, start) of every truth node, sorted by ID, for lookups. */
struct nstart {
	uint64_t id;
	uint64_t start_ns;
};

static int
cmp_nstart(const void *a, const void *b)
{
	return cmp_u64(&((const struct nstart *)a)->id, &((const struct nstart *)b)->id);
}

static struct nstart *
truth_starts(const struct truth *tr)
{
	struct nstart *v = malloc((tr->nodes + 1) * sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		abort();
	for (size_t i = 0; i < tr->n; i++)
		for (uint32_t j = 0; j < tr->t[i].n_nodes; j++) {
			v[k].id = tr->t[i].nodes[j].id;
			v[k++].start_ns = tr->t[i].nodes[j].start_ns;
		}
	qsort(v, k, sizeof(*v), cmp_nstart);
	return v;
}

static const struct nstart *
find_start(const struct nstart *v, size_t n, uint64_t id)
{
	struct nstart key = { .id = id };

	return bsearch(&key, v, n, sizeof(*v), cmp_nstart);
}

/* Datagram indices sorted by (source, time): each emitter's sends in order. */
static const struct wire *sort_w;

static int
cmp_by_src(const void *a, const void *b)
{
	const struct dgram *x = &sort_w->d[*(const uint32_t *)a], *y = &sort_w->d[*(const uint32_t *)b];

	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static uint32_t *
by_source(const struct wire *w)
{
	uint32_t *ix = malloc((w->n + 1) * sizeof(*ix));

	if (ix == NULL)
		abort();
	for (size_t i = 0; i < w->n; i++)
		ix[i] = (uint32_t)i;
	sort_w = w;
	qsort(ix, w->n, sizeof(*ix), cmp_by_src);
	return ix;
}

/* Generate (args + --seed/--out/--truth), read capture and truth. */
static bool
gen_load(const char *const *args, const char *name, struct wire *w, struct truth *tr, const char *err)
{
	char pcap[256], tpath[256];
	int st;

	snprintf(pcap, sizeof(pcap), "%s/%s.pcap", tmpdir, name);
	snprintf(tpath, sizeof(tpath), "%s/%s.truth", tmpdir, name);
	st = gen_exec(args, pcap, tpath, err);
	CU_ASSERT_EQUAL(st, 0);
	if (st != 0) {
		fprintf(stderr, "test_gen %s: altair-gen exit %d\n", name, st);
		return false;
	}
	if (wire_read(w, pcap) != 0) {
		CU_FAIL("capture unreadable");
		return false;
	}
	if (truth_load(tr, tpath) != 0) {
		fprintf(stderr, "test_gen %s: truth: %s\n", name, tr->err);
		CU_FAIL("truth unreadable");
		return false;
	}
	unlink(pcap);
	unlink(tpath);
	return true;
}

/* ---- agent mode: determinism, order, completeness, every format ---- */

static void
test_agent_formats(void)
{
	static const char *const fmts[][4] = {
		{ "--format", "atr", NULL },
		{ "--format", "atr", "--affine", NULL },
		{ "--format", "jaeger-compact", NULL },
		{ "--format", "jaeger-binary", NULL },
		{ "--format", "xtrace", NULL },
	};

	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		const char *args[MAX_ARGS] = { "--traces", "600", "--rate", "3000", "--flush-ms", "50-5000",
					       "--seed", "31", "--anomaly-rate", "0.1" };
		char p1[256], p2[256], p3[256], t1[256], t2[256];
		unsigned n = 10;
		struct wire w;
		struct truth tr;

		for (unsigned i = 0; fmts[f][i] != NULL; i++)
			args[n++] = fmts[f][i];
		args[n] = NULL;
		path_of(p1, sizeof(p1), "det1.pcap");
		path_of(p2, sizeof(p2), "det2.pcap");
		path_of(t1, sizeof(t1), "det1.truth");
		path_of(t2, sizeof(t2), "det2.truth");
		CU_ASSERT_EQUAL_FATAL(gen_exec(args, p1, t1, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(gen_exec(args, p2, t2, NULL), 0);
		/* same seed, same bytes */
		CU_ASSERT(same_file(p1, p2));
		CU_ASSERT(same_file(t1, t2));
		/* another seed, other bytes */
		args[7] = "32";
		path_of(p3, sizeof(p3), "det3.pcap");
		CU_ASSERT_EQUAL_FATAL(gen_exec(args, p3, NULL, NULL), 0);
		CU_ASSERT(!same_file(p1, p3));

		CU_ASSERT_EQUAL_FATAL(wire_read(&w, p1), 0);
		CU_ASSERT_EQUAL_FATAL(truth_load(&tr, t1), 0);
		CU_ASSERT(w.ts_sorted);
		CU_ASSERT_EQUAL(w.rejects, 0);
		CU_ASSERT_EQUAL(tr.n, 600);
		/* every record of the truth on the wire, once */
		CU_ASSERT_EQUAL(w.n_recs, tr.nodes);
		CU_ASSERT(same_node_ids(&w, &tr));
		printf("test_gen agent %s%s: %zu datagrams, %zu records\n", fmts[f][1],
		       fmts[f][2] ? " --affine" : "", w.n, w.n_recs);
		wire_free(&w);
		truth_free(&tr);
		unlink(p1);
		unlink(p2);
		unlink(p3);
		unlink(t1);
		unlink(t2);
	}
}

/* ---- agent mode: datagrams leave on timer ticks or full ---- */

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* One fixed interval: the gap between consecutive datagrams of an emitter
 * that were not full is a whole number of intervals (ticks and phases are
 * whole microseconds, as pcap times are). */
static void
check_ticks(const char *fmt, const char *max_payload, uint32_t full_len)
{
	const char *args[] = { "--format", fmt, "--traces", "1500", "--rate", "3000", "--flush-ms", "1000",
			       "--reorder-ms", "0", "--seed", "33", "--max-payload", max_payload, NULL };
	const uint64_t tick = 1000 * NS_PER_MS;
	struct wire w;
	struct truth tr;
	uint32_t *ix;
	uint64_t gaps = 0, off = 0, full = 0, emitters = 0;

	if (!gen_load(args, "ticks", &w, &tr, NULL))
		return;
	CU_ASSERT(w.ts_sorted);
	CU_ASSERT_EQUAL(w.n_recs, tr.nodes);
	ix = by_source(&w);
	for (size_t i = 0; i < w.n; i++) {
		const struct dgram *d = &w.d[ix[i]];
		const struct dgram *p = NULL;

		if (d->len > full_len) {
			full++;
			continue;
		}
		/* the previous datagram of this emitter that was not full */
		for (size_t j = i; j-- > 0;) {
			const struct dgram *c = &w.d[ix[j]];

			if (c->src != d->src)
				break;
			if (c->len <= full_len) {
				p = c;
				break;
			}
		}
		if (p == NULL) {
			emitters++;
			continue;
		}
		gaps++;
		if ((d->ts_ns - p->ts_ns) % tick != 0 && off++ < 5)
			fprintf(stderr, "  %s: emitter %08x: gap %llu ns is not a multiple of %llu\n", fmt,
				d->src, (unsigned long long)(d->ts_ns - p->ts_ns), (unsigned long long)tick);
	}
	printf("test_gen ticks %s: %llu emitters, %llu gaps on the tick lattice, %llu full datagrams\n",
	       fmt, (unsigned long long)emitters, (unsigned long long)gaps, (unsigned long long)full);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT(gaps > 200);
	CU_ASSERT(emitters > 20);
	free(ix);
	wire_free(&w);
	truth_free(&tr);
}

static void
test_agent_ticks(void)
{
	/* ATR and Jaeger: a full batch is more than half the payload limit
	 * (the largest record is smaller than that); an X-Trace buffer fills
	 * only at 1024 reports. */
	check_ticks("atr", "1472", 1472 / 2);
	check_ticks("jaeger-compact", "65000", 65000 / 2);
	check_ticks("xtrace", "1472", UINT32_MAX);
}

/* Intervals drawn in [100, 5000] ms: each emitter's non-full datagrams sit
 * on a lattice of its own, no finer than 100 ms; the intervals differ. */
static void
test_agent_interval_range(void)
{
	const char *args[] = { "--format", "jaeger-compact", "--traces", "1500", "--rate", "3000",
			       "--flush-ms", "100-5000", "--reorder-ms", "0", "--seed", "34", NULL };
	struct wire w;
	struct truth tr;
	uint32_t *ix;
	uint64_t g = 0, gmin = UINT64_MAX, gmax = 0, checked = 0, fine = 0, prev = 0;
	bool have_prev = false;

	if (!gen_load(args, "range", &w, &tr, NULL))
		return;
	ix = by_source(&w);
	for (size_t i = 0; i < w.n; i++) {
		const struct dgram *d = &w.d[ix[i]];
		bool last = i + 1 == w.n || w.d[ix[i + 1]].src != d->src;

		/* gaps between consecutive datagrams that were not full */
		if (d->len <= 65000 / 2) {
			if (have_prev)
				g = gcd64(g, d->ts_ns - prev);
			prev = d->ts_ns;
			have_prev = true;
		}
		if (last) {
			have_prev = false;
			if (g != 0) {
				checked++;
				if (g < 100 * NS_PER_MS)
					fine++;
				if (g < gmin)
					gmin = g;
				if (g > gmax)
					gmax = g;
			}
			g = 0;
		}
	}
	printf("test_gen interval range: %llu emitters, lattice step %.3f..%.3f s\n",
	       (unsigned long long)checked, (double)gmin / 1e9, (double)gmax / 1e9);
	CU_ASSERT(checked > 20);
	CU_ASSERT_EQUAL(fine, 0);
	CU_ASSERT(gmax > 2 * gmin);
	free(ix);
	wire_free(&w);
	truth_free(&tr);
}

/* ---- quiet emitters ---- */

struct quiet_span {
	uint32_t src;
	uint64_t from_ns;
	uint64_t to_ns;
};

/* The spans altair-gen lists on stderr. */
static size_t
read_quiet(const char *path, struct quiet_span *q, size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL && n < cap) {
		unsigned a, b, c, d;
		unsigned long long from, to;
		const char *p = strstr(line, "ip=");
		const char *r = strstr(line, "from_ns=");

		if (strncmp(line, "altair-gen: quiet emitter ", 26) != 0 || p == NULL || r == NULL)
			continue;
		if (sscanf(p, "ip=%u.%u.%u.%u", &a, &b, &c, &d) != 4 ||
		    sscanf(r, "from_ns=%llu to_ns=%llu", &from, &to) != 2)
			continue;
		q[n].src = a << 24 | b << 16 | c << 8 | d;
		q[n].from_ns = from;
		q[n].to_ns = to;
		n++;
	}
	fclose(f);
	return n;
}

static void
check_quiet(const char *const *args, const char *name, size_t want)
{
	static struct quiet_span q[256];
	char err[256];
	struct wire w;
	struct truth tr;
	size_t nq, during = 0, back = 0, before = 0, inside = 0;
	uint64_t last_ts;

	path_of(err, sizeof(err), "quiet.err");
	if (!gen_load(args, name, &w, &tr, err))
		return;
	nq = read_quiet(err, q, 256);
	unlink(err);
	CU_ASSERT_EQUAL(nq, want);
	CU_ASSERT(w.ts_sorted);
	/* nothing lost: the stand-ins carried the quiet emitters' records */
	CU_ASSERT_EQUAL(w.rejects, 0);
	CU_ASSERT_EQUAL(w.n_recs, tr.nodes);
	CU_ASSERT(same_node_ids(&w, &tr));
	last_ts = w.n ? w.d[w.n - 1].ts_ns : 0;
	for (size_t k = 0; k < nq; k++) {
		bool sent_after = false, sent_before = false;

		for (size_t i = 0; i < w.n; i++) {
			const struct dgram *d = &w.d[i];

			if (d->src != q[k].src)
				continue;
			if (d->ts_ns > q[k].from_ns && d->ts_ns < q[k].to_ns && during++ < 5)
				fprintf(stderr, "  %s: emitter %08x sent at %llu, quiet %llu..%llu\n", name,
					d->src, (unsigned long long)d->ts_ns,
					(unsigned long long)q[k].from_ns, (unsigned long long)q[k].to_ns);
			sent_after |= d->ts_ns >= q[k].to_ns;
			sent_before |= d->ts_ns <= q[k].from_ns;
		}
		back += sent_after;
		before += sent_before;
		inside += q[k].to_ns <= last_ts;
	}
	printf("test_gen quiet %s: %zu quiet emitters, %zu spans inside the capture, %zu sent before, "
	       "%zu came back\n", name, nq, inside, before, back);
	CU_ASSERT(inside > nq / 2);
	CU_ASSERT_EQUAL(during, 0);
	CU_ASSERT(back > nq / 2);
	CU_ASSERT(before > nq / 2);
	wire_free(&w);
	truth_free(&tr);
}

static void
test_quiet(void)
{
	/* 46 services x 3 instances: round(0.3 * 138) = 41 quiet emitters */
	const char *agent[] = { "--format", "atr", "--traces", "3000", "--rate", "3000",
				"--emitters-per-service", "3", "--quiet", "0.3,3", "--flush-ms", "200-1000",
				"--reorder-ms", "0", "--seed", "41", NULL };
	const char *batch[] = { "--format", "jaeger-compact", "--traces", "3000", "--rate", "3000",
				"--emitters-per-service", "3", "--quiet", "0.3,3", "--flush-us", "400000",
				"--reorder-ms", "0", "--seed", "42", NULL };
	const char *xtrace[] = { "--format", "xtrace", "--traces", "2000", "--rate", "3000",
				 "--emitters-per-service", "2", "--quiet", "0.5,2", "--reorder-ms", "0",
				 "--seed", "43", NULL };

	check_quiet(agent, "quiet-agent", 41);
	check_quiet(batch, "quiet-flush-us", 41);
	check_quiet(xtrace, "quiet-xtrace", 46);
}

/* ---- host clock offsets ---- */

static void
check_skew(const char *fmt, uint64_t quantum)
{
	const char *plain[] = { "--format", fmt, "--traces", "800", "--seed", "51", "--reorder-ms", "20",
				NULL };
	const char *skewed[] = { "--format", fmt, "--traces", "800", "--seed", "51", "--reorder-ms", "20",
				 "--skew-ms", "30", NULL };
	const int64_t bound = 30 * (int64_t)NS_PER_MS;
	struct wire w0, w1;
	struct truth t0, t1;
	struct nstart *s0, *s1;
	uint32_t *ix;
	uint64_t moved = 0, bad_bound = 0, bad_host = 0, bad_truth = 0, bad_q = 0, hosts = 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	if (!gen_load(plain, "skew0", &w0, &t0, NULL))
		return;
	if (!gen_load(skewed, "skew1", &w1, &t1, NULL)) {
		wire_free(&w0);
		truth_free(&t0);
		return;
	}
	/* the pcap keeps true time: same datagrams at the same instants */
	CU_ASSERT_EQUAL_FATAL(w0.n, w1.n);
	CU_ASSERT_EQUAL(w0.frames, w1.frames);
	for (size_t i = 0; i < w0.n; i++)
		if (w0.d[i].ts_ns != w1.d[i].ts_ns || w0.d[i].src != w1.d[i].src) {
			CU_FAIL("pcap times or senders moved");
			break;
		}
	/* the same traces and nodes */
	CU_ASSERT_EQUAL_FATAL(t0.n, t1.n);
	CU_ASSERT_EQUAL_FATAL(t0.nodes, t1.nodes);
	for (size_t i = 0; i < t0.n; i++) {
		CU_ASSERT(alt_trace_id_eq(&t0.t[i].id, &t1.t[i].id));
		CU_ASSERT_EQUAL(t0.t[i].n_nodes, t1.t[i].n_nodes);
	}
	s0 = truth_starts(&t0);
	s1 = truth_starts(&t1);
	/* every record on the wire: its start is the truth's, and is its true
	 * start plus one offset per host, within [-S, S] */
	ix = by_source(&w1);
	for (size_t i = 0, first = 0; i < w1.n; i++) {
		const struct dgram *d = &w1.d[ix[i]];
		int64_t host_off = 0;
		bool have = false;

		if (i == 0 || w1.d[ix[i - 1]].src != d->src) {
			first = i;
			hosts++;
		}
		/* the offset of this host: from its first record */
		for (size_t j = first; j <= i && !have; j++) {
			const struct dgram *e = &w1.d[ix[j]];

			if (e->n_recs > 0) {
				const struct wrec *r = &w1.recs[e->first_rec];
				const struct nstart *a = find_start(s0, t0.nodes, r->node_id);

				if (a != NULL) {
					host_off = (int64_t)(r->start_ns - a->start_ns);
					have = true;
				}
			}
		}
		for (uint32_t k = 0; k < d->n_recs; k++) {
			const struct wrec *r = &w1.recs[d->first_rec + k];
			const struct nstart *a = find_start(s0, t0.nodes, r->node_id);
			const struct nstart *b = find_start(s1, t1.nodes, r->node_id);
			int64_t off;

			if (a == NULL || b == NULL) {
				bad_truth++;
				continue;
			}
			bad_truth += b->start_ns != r->start_ns;
			off = (int64_t)(r->start_ns - a->start_ns);
			moved += off != 0;
			bad_bound += off < -bound || off > bound;
			bad_host += have && off != host_off;
			bad_q += off % (int64_t)quantum != 0;
			if (off < lo)
				lo = off;
			if (off > hi)
				hi = off;
		}
	}
	printf("test_gen skew %s: %llu hosts, offsets %.3f..%.3f ms, %llu of %zu records moved\n", fmt,
	       (unsigned long long)hosts, (double)lo / 1e6, (double)hi / 1e6, (unsigned long long)moved,
	       w1.n_recs);
	CU_ASSERT_EQUAL(w1.n_recs, t1.nodes);
	CU_ASSERT_EQUAL(bad_truth, 0);
	CU_ASSERT_EQUAL(bad_bound, 0);
	CU_ASSERT_EQUAL(bad_host, 0);
	CU_ASSERT_EQUAL(bad_q, 0);
	CU_ASSERT(moved > w1.n_recs / 2);
	CU_ASSERT(hi - lo > bound);     /* offsets of both signs, spread out */
	free(ix);
	free(s0);
	free(s1);
	wire_free(&w0);
	wire_free(&w1);
	truth_free(&t0);
	truth_free(&t1);
}

static void
test_skew(void)
{
	check_skew("atr", 1);
	check_skew("jaeger-binary", 1000);
	check_skew("xtrace", NS_PER_MS);
}

/* ---- refusals ---- */

static void
test_option_errors(void)
{
	static const char *const bad[][5] = {
		{ "--flush-ms", "0", NULL },
		{ "--flush-ms", "10001", NULL },
		{ "--flush-ms", "500-100", NULL },
		{ "--flush-ms", "1-x", NULL },
		{ "--flush-ms", "", NULL },
		{ "--flush-ms", "100", "--flush-us", "5", NULL },
		{ "--quiet", "0.2", "--emitters-per-service", "1", NULL },
		{ "--quiet", "0.6", NULL },     /* 2 instances: at most half */
		{ "--quiet", "-0.1", NULL },
		{ "--quiet", "0.2,0", NULL },
		{ "--quiet", "0.2,", NULL },
		{ "--quiet", "0.2,100000", NULL },
		{ "--skew-ms", "-5", NULL },
		{ "--skew-ms", "600001", NULL },
		{ "--skew-ms", "abc", NULL },
	};
	char pcap[256], err[256];

	path_of(pcap, sizeof(pcap), "refused.pcap");
	path_of(err, sizeof(err), "refused.err");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = gen_exec(bad[i], pcap, NULL, err);
		FILE *f = fopen(err, "r");
		char line[512] = "";

		if (f != NULL) {
			if (fgets(line, sizeof(line), f) == NULL)
				line[0] = '\0';
			fclose(f);
		}
		CU_ASSERT_EQUAL(st, 2);
		/* the message names the option */
		CU_ASSERT(strstr(line, bad[i][0]) != NULL);
		if (st != 2 || strstr(line, bad[i][0]) == NULL)
			fprintf(stderr, "  %s %s: exit %d, said: %s\n", bad[i][0], bad[i][1], st, line);
	}
	unlink(err);
	unlink(pcap);
}

static int
suite_init(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("test_gen: mkdtemp");
		return -1;
	}
	tmpdir_made = true;
	return 0;
}

static int
suite_clean(void)
{
	if (tmpdir_made)
		rmdir(tmpdir);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "agent mode, every format", test_agent_formats },
		{ "agent mode, timer ticks", test_agent_ticks },
		{ "agent mode, interval range", test_agent_interval_range },
		{ "quiet emitters", test_quiet },
		{ "host clock skew", test_skew },
		{ "option errors", test_option_errors },
	};
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
	s = CU_add_suite("gen", suite_init, suite_clean);
	if (s == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}
