/* SPDX-License-Identifier: BSD-3-Clause
 * Appliance configuration: one table of settings, each with its INI
 * section/key, its command-line option, its range and its default. Every
 * error names the option (or file/section/key) and the bad value.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cfgfile.h>
#include <rte_common.h>

#include "alt_dp.h"

enum opt_type {
	OPT_U32,
	OPT_U64,
	OPT_U16,
	OPT_BOOL,
	OPT_STR,
	OPT_PORTS,
	OPT_DETAIL,
	OPT_RSS,
	OPT_STEER,
	OPT_DBL,
};

static const char *const rss_names[] = { "auto", "ip-udp", "l4-src", "off" };

struct opt {
	const char *name;       /* --name and INI key */
	const char *section;    /* INI section */
	enum opt_type type;
	size_t off;
	uint64_t min, max;
	const char *help;
};

#define OFF(f) offsetof(struct alt_dp_conf, f)

static const struct opt opts[] = {
	{ "udp-ports", "ports", OPT_PORTS, 0, 0, 0,
	  "format=port list, e.g. atr=7839,xtrace=7831,jaeger-compact=6831,jaeger-binary=6832 (port 0 disables a format)" },
	{ "rx-queues", "ports", OPT_U16, OFF(rx_queues), 0, 64, "RX queues per port (0 = one per worker)" },
	{ "rx-desc", "ports", OPT_U16, OFF(rx_desc), 64, 16384, "RX descriptors per queue" },
	{ "mbufs", "ports", OPT_U32, OFF(mbufs), 1024, 16777216, "mbufs in the packet pool" },
	{ "mbuf-size", "ports", OPT_U32, OFF(mbuf_size), 0, 65535,
	  "bytes per packet buffer, 128 of headroom included (0 = auto: 2176; net_af_packet ports: what their framesz needs)" },
	{ "burst", "ports", OPT_U16, OFF(burst), 1, ALT_DP_MAX_BURST, "RX burst size" },
	{ "promisc", "ports", OPT_BOOL, OFF(promisc), 0, 1, "promiscuous mode (a mirror port needs it)" },
	{ "rss", "ports", OPT_RSS, OFF(rss), 0, 0,
	  "auto|ip-udp|l4-src|off: l4-src hashes the UDP source port only, so ATR/1 TRACE_AFFINE frames reach their owner" },
	{ "max-encap", "ports", OPT_U32, OFF(max_encap), 0, 4, "tunnel levels decapsulated (GRE, ERSPAN, VXLAN)" },
	{ "workers", "pipeline", OPT_U32, OFF(workers), 0, ALT_DP_MAX_WORKERS, "worker lcores (0 = all but the main lcore)" },
	{ "steer-by", "pipeline", OPT_STEER, OFF(steer_by), 0, 0,
	  "hash|l4-src: which worker owns a trace (l4-src: the one L4-source-port RSS delivers its ATR/1 frames to; implied by rss = l4-src)" },
	{ "steer-wait-ms", "pipeline", OPT_U32, OFF(steer_wait_ms), 1, 10000,
	  "longest wait for a free steering buffer or room in an owner's ring before the records are counted dropped" },
	{ "reorder-ms", "pipeline", OPT_U64, OFF(reorder_ms), 0, 600000,
	  "event-time disorder allowed within one source (sender); a source's progress is its newest event time less this" },
	{ "bucket-us", "pipeline", OPT_U64, OFF(bucket_us), 1, 1000000, "reorder bucket granularity" },
	{ "gap-ms", "pipeline", OPT_U64, OFF(gap_ms), 1, 3600000, "inactivity gap that closes a trace (event time)" },
	{ "grace-ms", "pipeline", OPT_U64, OFF(grace_ms), 0, 600000, "grace after CLOSES_TRACE before an early close" },
	{ "source-idle-min-ms", "pipeline", OPT_U64, OFF(source_idle_min_ms), 1, 3600000,
	  "shortest idle timeout of a source (a source quiet past its timeout stops holding the watermark)" },
	{ "source-idle-max-ms", "pipeline", OPT_U64, OFF(source_idle_max_ms), 1, 86400000,
	  "longest idle timeout of a source; also the timeout of a source whose cadence is not known yet" },
	{ "source-idle-mult", "pipeline", OPT_U32, OFF(source_idle_mult), 1, 1000,
	  "a source's idle timeout is this many times its longest pause between datagrams" },
	{ "source-warmup-ms", "pipeline", OPT_U64, OFF(source_warmup_ms), 0, 3600000,
	  "after the first datagram, hold the watermark this long (arrival time) so that senders not heard yet are waited for (0 = none)" },
	{ "idle-advance-ms", "pipeline", OPT_U64, OFF(idle_advance_ms), 0, 3600000,
	  "ports with capture timestamps (pcap replay): no packet for this long (wall time) and the arrival clock follows the wall clock (0 = never)" },
	{ "epoch-ms", "pipeline", OPT_U64, OFF(epoch_ms), 1, 3600000, "statistics epoch (event time)" },
	{ "max-nodes", "pools", OPT_U32, OFF(max_nodes), 1024, 1u << 30, "records held per worker (node pool)" },
	{ "max-traces", "pools", OPT_U32, OFF(max_traces), 16, 1u << 26, "open traces per worker" },
	{ "max-nodes-per-trace", "pools", OPT_U32, OFF(max_nodes_per_trace), 2, 1u << 20, "records kept per trace" },
	{ "max-sources", "pools", OPT_U32, OFF(max_sources), 16, 1u << 24,
	  "senders tracked per worker; beyond, the least recently heard is forgotten (counted)" },
	{ "max-strings", "pools", OPT_U32, OFF(max_strings), 16, 1u << 24, "distinct service/operation names per worker" },
	{ "closed-cache", "pools", OPT_U32, OFF(closed_cache), 16, 1u << 26, "closed trace IDs remembered for late fragments" },
	{ "reasm-datagrams", "pools", OPT_U32, OFF(reasm_datagrams), 1, 1u << 20, "IP datagrams in reassembly per worker" },
	{ "reasm-mb", "pools", OPT_U32, OFF(reasm_mb), 1, 65536, "reassembly memory per worker (MiB)" },
	{ "reasm-timeout-ms", "pools", OPT_U32, OFF(reasm_timeout_ms), 1, 600000, "reassembly timeout" },
	{ "stats-ops", "pools", OPT_U32, OFF(stats_ops), 16, 1u << 20, "(service, operation) histograms per epoch" },
	{ "stats-shapes", "pools", OPT_U32, OFF(stats_shapes), 16, 1u << 20, "shape histograms per epoch" },
	{ "out-blocks", "pools", OPT_U32, OFF(out_blocks), 4, 1u << 20, "64 KiB output blocks per worker" },
	{ "top-k", "outputs", OPT_U32, OFF(topk), 1, 256, "service pairs listed per epoch" },
	{ "dags", "outputs", OPT_STR, OFF(dags), 0, 0, "write closed traces as JSON lines to FILE" },
	{ "dag-detail", "outputs", OPT_DETAIL, OFF(detail), 0, 0, "summary|full: full adds every span" },
	{ "epochs", "outputs", OPT_STR, OFF(epochs), 0, 0, "write per-epoch statistics as JSON lines to FILE" },
	{ "summary", "outputs", OPT_STR, OFF(summary), 0, 0, "write the final accounting as one JSON object to FILE" },
	{ "shape-text", "outputs", OPT_BOOL, OFF(shape_text), 0, 1, "add the canonical shape text to each trace" },
	{ "once", "run", OPT_BOOL, OFF(once), 0, 1, "stop when every port was idle for --idle-exit-ms" },
	{ "idle-exit-ms", "run", OPT_U32, OFF(idle_exit_ms), 1, 86400000, "idle time that ends a --once run" },
	{ "quiet", "run", OPT_BOOL, OFF(quiet), 0, 1, "no progress lines and no summary on stdout" },
	{ "progress-ms", "run", OPT_U32, OFF(progress_ms), 0, 86400000,
	  "a progress line (packets, records, traces closed, drops) on stdout this often while running (0 = none)" },
	{ "templates", "anomaly", OPT_STR, OFF(templates), 0, 0,
	  "template file (altair-learn) to check every closed trace against from the start" },
	{ "flagged", "anomaly", OPT_STR, OFF(flagged), 0, 0,
	  "write every trace the templates flag, in full detail, as JSON lines to FILE" },
	{ "bloom-fpr", "anomaly", OPT_DBL, OFF(bloom_fpr), 0, 0,
	  "target false-positive rate of the shape and edge filters, (0, 0.5]" },
	{ "bloom-keys", "anomaly", OPT_U64, OFF(bloom_keys), 0, 1ULL << 34,
	  "expected keys per filter (sizes m and k); 0 = as many as loaded or learned" },
	{ "latency-factor", "anomaly", OPT_DBL, OFF(latency_factor), 0, 0,
	  "flag a span or trace slower than its learned p99 times this (0 = no latency checks)" },
	{ "learn-epochs", "anomaly", OPT_U32, OFF(learn_epochs), 0, 1u << 30,
	  "learn shapes and edges online during the first N epochs, then check (0 = off)" },
	{ "learn-min-support", "anomaly", OPT_U32, OFF(learn_min_support), 1, 1u << 30,
	  "traces a shape, family or edge must be seen in to be learned" },
	{ "relearn-epochs", "anomaly", OPT_U32, OFF(relearn_epochs), 0, 1u << 30,
	  "after learning, rebuild the templates from the last M epochs every M epochs (0 = never)" },
	{ "learn-max-keys", "anomaly", OPT_U32, OFF(learn_max_keys), 64, 1u << 24,
	  "shapes, families and edges one worker's epoch of observations can hold" },
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))
_Static_assert(N_OPTS <= 64, "struct alt_dp_conf.given has a bit per setting");

static uint64_t
opt_bit(const struct opt *o)
{
	return 1ULL << (o - opts);
}

static bool
opt_given(const struct alt_dp_conf *c, const char *name);

void
alt_dp_conf_default(struct alt_dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->udp_port[ALT_FMT_ATR] = 7839;
	c->udp_port[ALT_FMT_XTRACE] = 7831;
	c->udp_port[ALT_FMT_JAEGER_COMPACT] = 6831;
	c->udp_port[ALT_FMT_JAEGER_BINARY] = 6832;
	c->rx_queues = 0;
	c->rx_desc = 1024;
	c->mbufs = 16384;
	c->burst = 32;
	c->promisc = true;
	c->max_encap = 2;
	c->workers = 1;
	c->steer_wait_ms = 20;
	c->reorder_ms = 50;
	c->source_idle_min_ms = 250;
	c->source_idle_max_ms = 60000;
	c->source_idle_mult = 4;
	c->source_warmup_ms = 10000;
	c->max_sources = 4096;
	c->bucket_us = 1000;
	c->gap_ms = 2000;
	c->grace_ms = 50;
	c->epoch_ms = 1000;
	c->idle_advance_ms = 1000;
	c->max_nodes = 1u << 20;
	c->max_traces = 1u << 17;
	c->max_nodes_per_trace = 4096;
	c->max_strings = 1u << 16;
	c->closed_cache = 1u << 17;
	c->topk = 10;
	c->reasm_datagrams = 1024;
	c->reasm_mb = 32;
	c->reasm_timeout_ms = 1000;
	c->out_blocks = 256;
	c->stats_ops = 512;
	c->stats_shapes = 512;
	c->detail = ALT_DP_DETAIL_SUMMARY;
	c->idle_exit_ms = 1000;
	c->progress_ms = 5000;
	c->bloom_fpr = 0.001;
	c->latency_factor = 5.0;
	c->learn_min_support = 3;
	c->learn_max_keys = 16384;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

static int
parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (unsigned i = 0; i < RTE_DIM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

/* "atr=7839,xtrace=7831,...": formats not named keep their port. */
static int
parse_ports(struct alt_dp_conf *c, const char *s, char *err, size_t errlen)
{
	char buf[256];
	char *save = NULL;
	uint16_t ports[ALT_FMT_COUNT];

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "list too long");
		return -1;
	}
	memcpy(ports, c->udp_port, sizeof(ports));
	strcpy(buf, s);
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;
		int f;

		if (eq == NULL) {
			snprintf(err, errlen, "'%s' is not format=port", tok);
			return -1;
		}
		*eq = '\0';
		f = alt_wire_format_parse(tok);
		if (f < 0) {
			snprintf(err, errlen, "unknown format '%s' (atr, xtrace, jaeger-compact, jaeger-binary)", tok);
			return -1;
		}
		if (parse_u64(eq + 1, &v) != 0 || v > 65535) {
			snprintf(err, errlen, "bad port '%s' for %s", eq + 1, tok);
			return -1;
		}
		ports[f] = (uint16_t)v;
	}
	for (unsigned i = 0; i < ALT_FMT_COUNT; i++)
		for (unsigned j = i + 1; j < ALT_FMT_COUNT; j++)
			if (ports[i] != 0 && ports[i] == ports[j]) {
				snprintf(err, errlen, "%s and %s share port %u", alt_wire_format_name(i),
					 alt_wire_format_name(j), ports[i]);
				return -1;
			}
	memcpy(c->udp_port, ports, sizeof(ports));
	return 0;
}

static int opt_parse(struct alt_dp_conf *c, const struct opt *o, const char *val, char *err, size_t errlen);

/* Set one option from text and remember that it was given. Returns 0 or
 * -1 with err filled. */
static int
opt_set(struct alt_dp_conf *c, const struct opt *o, const char *val, char *err, size_t errlen)
{
	if (opt_parse(c, o, val, err, errlen) != 0)
		return -1;
	c->given |= opt_bit(o);
	return 0;
}

static int
opt_parse(struct alt_dp_conf *c, const struct opt *o, const char *val, char *err, size_t errlen)
{
	uint8_t *base = (uint8_t *)c;
	uint64_t v;
	bool b;

	if (val == NULL) {
		snprintf(err, errlen, "needs a value");
		return -1;
	}
	switch (o->type) {
	case OPT_U16:
	case OPT_U32:
	case OPT_U64:
		if (parse_u64(val, &v) != 0) {
			snprintf(err, errlen, "'%s' is not a non-negative integer", val);
			return -1;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, v, o->min, o->max);
			return -1;
		}
		if (o->type == OPT_U16)
			*(uint16_t *)(base + o->off) = (uint16_t)v;
		else if (o->type == OPT_U32)
			*(uint32_t *)(base + o->off) = (uint32_t)v;
		else
			*(uint64_t *)(base + o->off) = v;
		return 0;
	case OPT_BOOL:
		if (parse_bool(val, &b) != 0) {
			snprintf(err, errlen, "'%s' is not a boolean (yes/no, true/false, 1/0, on/off)", val);
			return -1;
		}
		*(bool *)(base + o->off) = b;
		return 0;
	case OPT_STR:
		if (strlen(val) >= sizeof(c->dags)) {
			snprintf(err, errlen, "path too long");
			return -1;
		}
		strcpy((char *)(base + o->off), val);
		return 0;
	case OPT_DETAIL:
		if (strcmp(val, "summary") == 0)
			c->detail = ALT_DP_DETAIL_SUMMARY;
		else if (strcmp(val, "full") == 0)
			c->detail = ALT_DP_DETAIL_FULL;
		else {
			snprintf(err, errlen, "'%s' is not summary or full", val);
			return -1;
		}
		return 0;
	case OPT_PORTS:
		return parse_ports(c, val, err, errlen);
	case OPT_RSS:
		for (unsigned i = 0; i < RTE_DIM(rss_names); i++)
			if (strcmp(val, rss_names[i]) == 0) {
				c->rss = (enum alt_dp_rss)i;
				return 0;
			}
		snprintf(err, errlen, "'%s' is not auto, ip-udp, l4-src or off", val);
		return -1;
	case OPT_DBL: {
		char *end;
		double d;

		errno = 0;
		d = strtod(val, &end);
		if (errno != 0 || end == val || *end != '\0' || !(d >= 0) || d > 1e9) {
			snprintf(err, errlen, "'%s' is not a non-negative number", val);
			return -1;
		}
		*(double *)(base + o->off) = d;
		return 0;
	}
	case OPT_STEER:
		if (strcmp(val, "hash") == 0)
			c->steer_by = ALT_DP_STEER_HASH;
		else if (strcmp(val, "l4-src") == 0)
			c->steer_by = ALT_DP_STEER_L4_SRC;
		else {
			snprintf(err, errlen, "'%s' is not hash or l4-src", val);
			return -1;
		}
		return 0;
	}
	return -1;
}

static void
usage(const char *prog)
{
	struct alt_dp_conf d;

	alt_dp_conf_default(&d);
	printf("Usage: %s [EAL options] -- [options]\n\n"
	       "Reconstructs distributed traces from tracing UDP traffic (ATR/1, Jaeger agent\n"
	       "Thrift compact/binary, X-Trace reports) read from DPDK ports, and writes closed\n"
	       "traces and per-epoch statistics as JSON lines.\n\n"
	       "Options (an INI file given with --config sets the same keys; options win):\n"
	       "  --config FILE              INI configuration (see drivers-config/)\n",
	       prog);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		char name[64];
		const uint8_t *base = (const uint8_t *)&d;

		snprintf(name, sizeof(name), "--%s%s", o->name,
			 o->type == OPT_BOOL ? "" : o->type == OPT_STR ? " FILE" : " N");
		if (o->type == OPT_PORTS)
			snprintf(name, sizeof(name), "--%s LIST", o->name);
		if (o->type == OPT_DETAIL || o->type == OPT_RSS || o->type == OPT_STEER)
			snprintf(name, sizeof(name), "--%s MODE", o->name);
		if (o->type == OPT_DBL)
			snprintf(name, sizeof(name), "--%s X", o->name);
		printf("  %-26s %s", name, o->help);
		switch (o->type) {
		case OPT_U16: printf(" [%u]", *(const uint16_t *)(base + o->off)); break;
		case OPT_U32: printf(" [%u]", *(const uint32_t *)(base + o->off)); break;
		case OPT_U64: printf(" [%" PRIu64 "]", *(const uint64_t *)(base + o->off)); break;
		case OPT_BOOL: printf(" [%s]", *(const bool *)(base + o->off) ? "on" : "off"); break;
		case OPT_DETAIL: printf(" [summary]"); break;
		case OPT_RSS: printf(" [auto]"); break;
		case OPT_STEER: printf(" [hash]"); break;
		case OPT_DBL: printf(" [%g]", *(const double *)(base + o->off)); break;
		default: break;
		}
		printf("\n");
	}
	printf("  --no-OPTION                turns a boolean option off (e.g. --no-promisc)\n"
	       "  --check-config             print the effective configuration and exit (no EAL needed)\n"
	       "  --help, --version\n\n"
	       "Example (no NIC, no hugepages):\n"
	       "  %s -l 0-1 --no-huge -m 1024 --no-pci --file-prefix demo \\\n"
	       "     --vdev net_pcap0,rx_pcap=traffic.pcap -- --once --dags dags.jsonl --epochs epochs.jsonl\n",
	       prog);
}

static const struct opt *
opt_find(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static bool
opt_given(const struct alt_dp_conf *c, const char *name)
{
	const struct opt *o = opt_find(name);

	return o != NULL && (c->given & opt_bit(o)) != 0;
}

/*
 * Parse the application's part of argv: "--name value", "--name=value",
 * booleans as "--name" / "--no-name" / "--name=yes". --config is applied
 * first wherever it stands, so options always override the file.
 */
int
alt_dp_conf_parse(struct alt_dp_conf *c, int argc, char **argv, const char *prog)
{
	char err[256];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 || strncmp(argv[i], "--config=", 9) == 0) {
			const char *path = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : NULL);
			if (path == NULL) {
				fprintf(stderr, "%s: --config needs a file\n", prog);
				return -1;
			}
			if (alt_dp_conf_load(c, path) != 0)
				return -1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char name[64];
		const char *val = NULL;
		const struct opt *o;
		bool negate = false;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(prog);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("altair 0.1.0\n");
			return 1;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strcmp(a, "--check-config") == 0)
			continue;
		if (strncmp(a, "--config=", 9) == 0)
			continue;
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "%s: unexpected argument '%s' (options start with --; see --help)\n", prog, a);
			return -1;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nlen >= sizeof(name)) {
			fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, a);
			return -1;
		}
		memcpy(name, a + 2, nlen);
		name[nlen] = '\0';
		o = opt_find(name);
		if (o == NULL && strncmp(name, "no-", 3) == 0) {
			o = opt_find(name + 3);
			if (o != NULL && o->type == OPT_BOOL && eq == NULL)
				negate = true;
			else
				o = NULL;
		}
		if (o == NULL) {
			fprintf(stderr, "%s: unknown option '--%s' (see --help)\n", prog, name);
			return -1;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (o->type == OPT_BOOL)
			val = negate ? "no" : "yes";
		else if (i + 1 < argc)
			val = argv[++i];
		if (opt_set(c, o, val, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: --%s: %s\n", prog, o->name, err);
			return -1;
		}
	}
	if (c->rss == ALT_DP_RSS_L4_SRC && !opt_given(c, "steer-by"))
		c->steer_by = ALT_DP_STEER_L4_SRC;
	return alt_dp_conf_check(c, prog);
}

/* Whether an output file can be opened for writing, without creating or
 * truncating it: an existing file is opened for writing and closed; for a
 * new one, its directory must exist and be writable. Returns 0, or -1 with
 * err filled. */
static int
output_writable(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct alt_dp_conf *)0)->dags)];
	struct stat st;
	char *slash;
	int fd;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "it is a directory");
			return -1;
		}
		fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open it for writing: %s", strerror(errno));
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "directory '%s' %s", dir,
			 errno == ENOENT ? "does not exist (create it, or give another path)" : strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a directory", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "cannot create a file in '%s': %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Cross-checks between settings (each alone was range-checked), then the
 * output files. */
int
alt_dp_conf_check(const struct alt_dp_conf *c, const char *prog)
{
	const struct {
		const char *name;
		const char *path;
	} out[] = { { "dags", c->dags }, { "epochs", c->epochs }, { "summary", c->summary },
		    { "flagged", c->flagged } };
	char err[600];

	if (c->mbuf_size != 0 && c->mbuf_size < 1152) {
		fprintf(stderr, "%s: --mbuf-size %u is below 1152 (128 bytes of headroom and a 1024-byte frame); "
			"0 chooses by driver\n", prog, c->mbuf_size);
		return -1;
	}
	if (c->source_idle_min_ms > c->source_idle_max_ms) {
		fprintf(stderr, "%s: --source-idle-min-ms %" PRIu64 " is above --source-idle-max-ms %" PRIu64
			": the shortest idle timeout cannot exceed the longest\n",
			prog, c->source_idle_min_ms, c->source_idle_max_ms);
		return -1;
	}
	if (c->rss == ALT_DP_RSS_L4_SRC && c->steer_by == ALT_DP_STEER_HASH && opt_given(c, "steer-by")) {
		fprintf(stderr, "%s: --rss l4-src and --steer-by hash contradict each other: with rss = l4-src "
			"the owner of a trace is the queue its UDP source port hashes to (steer-by l4-src); "
			"give one of them\n", prog);
		return -1;
	}
	for (unsigned i = 0; i < RTE_DIM(out); i++) {
		if (out[i].path[0] == '\0' || strcmp(out[i].path, "-") == 0)
			continue;
		struct stat st;
		bool file = stat(out[i].path, &st) != 0 || S_ISREG(st.st_mode);   /* not /dev/null */
		for (unsigned j = 0; j < i && file; j++)
			if (strcmp(out[i].path, out[j].path) == 0) {
				fprintf(stderr, "%s: --%s and --%s are the same file '%s': give each its own\n",
					prog, out[j].name, out[i].name, out[i].path);
				return -1;
			}
		if (output_writable(out[i].path, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: --%s '%s': %s\n", prog, out[i].name, out[i].path, err);
			return -1;
		}
	}
	if (!(c->bloom_fpr > 0 && c->bloom_fpr <= 0.5)) {
		fprintf(stderr, "%s: --bloom-fpr %g: a false-positive rate must be in (0, 0.5]\n", prog, c->bloom_fpr);
		return -1;
	}
	if (c->relearn_epochs > 0 && c->learn_epochs == 0 && c->templates[0] == '\0') {
		fprintf(stderr, "%s: --relearn-epochs needs --learn-epochs or --templates to start from\n", prog);
		return -1;
	}
	return 0;
}

/*
 * Apply an INI file. Sections and keys are the option names grouped as in
 * --help ([ports], [pipeline], [pools], [outputs], [run]); an unknown
 * section or key is an error, so a typo never passes silently.
 */
int
alt_dp_conf_load(struct alt_dp_conf *c, const char *path)
{
	struct rte_cfgfile *cf = rte_cfgfile_load(path, 0);
	char err[256];
	int rc = -1;
	int ns;

	if (cf == NULL) {
		fprintf(stderr, "altair: cannot load config '%s': %s\n", path, strerror(errno ? errno : EINVAL));
		return -1;
	}
	ns = rte_cfgfile_num_sections(cf, NULL, 0);
	char (*names)[CFG_NAME_LEN] = calloc(ns > 0 ? (size_t)ns : 1, CFG_NAME_LEN);
	char **ptrs = calloc(ns > 0 ? (size_t)ns : 1, sizeof(char *));
	if (names == NULL || ptrs == NULL)
		goto out;
	for (int i = 0; i < ns; i++)
		ptrs[i] = names[i];
	rte_cfgfile_sections(cf, ptrs, ns);
	for (int s = 0; s < ns; s++) {
		int ne = rte_cfgfile_section_num_entries(cf, names[s]);
		bool known = false;

		for (size_t i = 0; i < N_OPTS; i++)
			known |= strcmp(opts[i].section, names[s]) == 0;
		if (!known) {
			fprintf(stderr, "altair: %s: unknown section [%s] (ports, pipeline, pools, outputs, run, anomaly)\n",
				path, names[s]);
			goto out;
		}
		if (ne <= 0)
			continue;
		struct rte_cfgfile_entry *ent = calloc((size_t)ne, sizeof(*ent));
		if (ent == NULL)
			goto out;
		rte_cfgfile_section_entries(cf, names[s], ent, ne);
		for (int e = 0; e < ne; e++) {
			const struct opt *o = opt_find(ent[e].name);
			if (o == NULL || strcmp(o->section, names[s]) != 0) {
				fprintf(stderr, "altair: %s: [%s] unknown key '%s'\n", path, names[s], ent[e].name);
				free(ent);
				goto out;
			}
			if (opt_set(c, o, ent[e].value, err, sizeof(err)) != 0) {
				fprintf(stderr, "altair: %s: [%s] %s: %s\n", path, names[s], ent[e].name, err);
				free(ent);
				goto out;
			}
		}
		free(ent);
	}
	rc = 0;
out:
	free(ptrs);
	free(names);
	rte_cfgfile_close(cf);
	return rc;
}

/* Print the effective configuration as INI (what --check-config shows). */
void
alt_dp_conf_print(const struct alt_dp_conf *c, FILE *f)
{
	const uint8_t *base = (const uint8_t *)c;
	const char *sect = "";

	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		if (strcmp(o->section, sect) != 0) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", o->section);
			sect = o->section;
		}
		fprintf(f, "%s = ", o->name);
		switch (o->type) {
		case OPT_U16: fprintf(f, "%u\n", *(const uint16_t *)(base + o->off)); break;
		case OPT_U32: fprintf(f, "%u\n", *(const uint32_t *)(base + o->off)); break;
		case OPT_U64: fprintf(f, "%" PRIu64 "\n", *(const uint64_t *)(base + o->off)); break;
		case OPT_BOOL: fprintf(f, "%s\n", *(const bool *)(base + o->off) ? "yes" : "no"); break;
		case OPT_STR: fprintf(f, "%s\n", (const char *)(base + o->off)); break;
		case OPT_DETAIL: fprintf(f, "%s\n", c->detail == ALT_DP_DETAIL_FULL ? "full" : "summary"); break;
		case OPT_RSS: fprintf(f, "%s\n", rss_names[c->rss]); break;
		case OPT_STEER: fprintf(f, "%s\n", c->steer_by == ALT_DP_STEER_L4_SRC ? "l4-src" : "hash"); break;
		case OPT_DBL: fprintf(f, "%g\n", *(const double *)(base + o->off)); break;
		case OPT_PORTS:
			for (unsigned k = 0; k < ALT_FMT_COUNT; k++)
				fprintf(f, "%s%s=%u", k ? "," : "", alt_wire_format_name(k), c->udp_port[k]);
			fprintf(f, "\n");
			break;
		}
	}
}

void
alt_dp_conf_pipe(const struct alt_dp_conf *c, struct alt_pipe_cfg *pc)
{
	alt_pipe_cfg_default(pc);
	pc->reorder_ns = c->reorder_ms * 1000000ULL;
	pc->bucket_ns = c->bucket_us * 1000ULL;
	pc->gap_ns = c->gap_ms * 1000000ULL;
	pc->grace_ns = c->grace_ms * 1000000ULL;
	pc->epoch_ns = c->epoch_ms * 1000000ULL;
	pc->max_nodes = c->max_nodes;
	pc->max_traces = c->max_traces;
	pc->max_nodes_per_trace = c->max_nodes_per_trace;
	pc->max_strings = c->max_strings;
	pc->closed_cache = c->closed_cache;
	pc->want_shape_text = c->shape_text;
	pc->max_sources = c->max_sources;
	pc->idle_min_ns = c->source_idle_min_ms * 1000000ULL;
	pc->idle_max_ns = c->source_idle_max_ms * 1000000ULL;
	pc->idle_mult = c->source_idle_mult;
	pc->warmup_ns = c->source_warmup_ms * 1000000ULL;
	pc->stats.max_ops = c->stats_ops;
	pc->stats.max_shapes = c->stats_shapes;
	if (pc->stats.topk < c->topk * 4)
		pc->stats.topk = c->topk * 4;
}
