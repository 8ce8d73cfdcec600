/* SPDX-License-Identifier: BSD-3-Clause
 * altair-gen: a deterministic streaming simulator of tracing traffic. It
 * instantiates microservice trace templates at a given record rate, injects
 * anomalies, batches records per emitter in one of the wire formats Altair
 * reads, and writes what a mirrored port would see as a pcap, plus the
 * ground truth of every trace as JSON lines.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "gen.h"

#define DEF_TRACES 1000
#define DEF_RATE 200000.0
#define DEF_SEED 1
#define DEF_START_NS 1700000000000000000ULL
#define DEF_EMITTERS 2
#define DEF_REORDER_MS 50.0
#define DEF_FLUSH_US 1000.0
#define DEF_MTU 1500
#define DEF_TASK_ID_LEN 20
#define DEF_ID64 0.25
#define DEF_QUIET_S 120.0
#define MIN_FLUSH_MS 1.0
#define MAX_FLUSH_MS 10000.0
#define MAX_QUIET_S 86400.0
#define MAX_SKEW_MS 600000.0
#define MAX_EMITTERS_PER_SERVICE 64
#define MIN_PAYLOAD 512
#define MAX_PAYLOAD 65507

enum {
	OPT_FORMAT = 256,
	OPT_OUT,
	OPT_TRUTH,
	OPT_TRACES,
	OPT_RATE,
	OPT_SEED,
	OPT_START_NS,
	OPT_EMITTERS,
	OPT_REORDER_MS,
	OPT_FLUSH_US,
	OPT_FLUSH_MS,
	OPT_QUIET,
	OPT_SKEW_MS,
	OPT_LOSS,
	OPT_ANOMALY_RATE,
	OPT_ANOMALY_KINDS,
	OPT_LATENCY_OUTLIER,
	OPT_TEMPLATE,
	OPT_LIST_TEMPLATES,
	OPT_AFFINE,
	OPT_NO_CLOSES,
	OPT_MAX_PAYLOAD,
	OPT_MTU,
	OPT_VLAN,
	OPT_QINQ,
	OPT_IPV6,
	OPT_NOISE,
	OPT_PORT,
	OPT_TASK_ID_LEN,
	OPT_ID64,
	OPT_ENCAP,
	OPT_ENCAP_IPV6,
	OPT_ERSPAN3_SUB,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "truth", required_argument, NULL, OPT_TRUTH },
	{ "traces", required_argument, NULL, OPT_TRACES },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "start-ns", required_argument, NULL, OPT_START_NS },
	{ "emitters-per-service", required_argument, NULL, OPT_EMITTERS },
	{ "reorder-ms", required_argument, NULL, OPT_REORDER_MS },
	{ "flush-us", required_argument, NULL, OPT_FLUSH_US },
	{ "flush-ms", required_argument, NULL, OPT_FLUSH_MS },
	{ "quiet", required_argument, NULL, OPT_QUIET },
	{ "skew-ms", required_argument, NULL, OPT_SKEW_MS },
	{ "loss", required_argument, NULL, OPT_LOSS },
	{ "anomaly-rate", required_argument, NULL, OPT_ANOMALY_RATE },
	{ "anomaly-kinds", required_argument, NULL, OPT_ANOMALY_KINDS },
	{ "latency-outlier", required_argument, NULL, OPT_LATENCY_OUTLIER },
	{ "template", required_argument, NULL, OPT_TEMPLATE },
	{ "list-templates", no_argument, NULL, OPT_LIST_TEMPLATES },
	{ "affine", no_argument, NULL, OPT_AFFINE },
	{ "no-closes-trace", no_argument, NULL, OPT_NO_CLOSES },
	{ "max-payload", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "vlan", required_argument, NULL, OPT_VLAN },
	{ "qinq", required_argument, NULL, OPT_QINQ },
	{ "ipv6", no_argument, NULL, OPT_IPV6 },
	{ "noise", required_argument, NULL, OPT_NOISE },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "task-id-len", required_argument, NULL, OPT_TASK_ID_LEN },
	{ "id64", required_argument, NULL, OPT_ID64 },
	{ "encap", required_argument, NULL, OPT_ENCAP },
	{ "encap-ipv6", no_argument, NULL, OPT_ENCAP_IPV6 },
	{ "erspan3-subheader", no_argument, NULL, OPT_ERSPAN3_SUB },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: altair-gen --out FILE [options]\n"
		"Simulate tracing traffic seen on a mirrored port: a pcap of trace records\n"
		"batched by emitters, delayed, reordered, lost, fragmented, with noise.\n"
		"\n"
		"Output:\n"
		"  --format F               atr|jaeger-compact|jaeger-binary|xtrace (default atr)\n"
		"  --out FILE               pcap to write (required)\n"
		"  --truth FILE             ground truth, one JSON object per trace (default none)\n"
		"Traffic:\n"
		"  --traces N               traces to generate (default %d)\n"
		"  --rate R                 records per second of event time (default %.0f)\n"
		"  --seed S                 PRNG seed: same seed, same bytes (default %d)\n"
		"  --start-ns T             event time of the first trace, ns (default %llu)\n"
		"  --template NAME          use this template (repeatable; default all)\n"
		"  --list-templates         list the templates and exit\n"
		"  --anomaly-rate P         fraction of traces with one injected anomaly:\n"
		"                           unexpected_edge|missing_subtree|latency|error (default 0)\n"
		"  --anomaly-kinds LIST     the kinds drawn, comma-separated, among unexpected_edge,\n"
		"                           missing_subtree, latency, error, extra_subtree (default\n"
		"                           the first four): unexpected_edge calls an operation no\n"
		"                           template calls; missing_subtree drops a call (with its\n"
		"                           subtree) that has no identical sibling; extra_subtree\n"
		"                           copies a self-contained subtree under another span that\n"
		"                           makes no such call; latency makes a span F times slower\n"
		"  --latency-outlier F1-F2  a latency anomaly's factor, drawn in [F1, F2] (default 10-50)\n"
		"  --id64 P                 fraction of traces with 64-bit IDs (default %.2f;\n"
		"                           1 for xtrace with --task-id-len <= 8)\n"
		"Emitters:\n"
		"  --emitters-per-service K instances of every service, 1..%d (default %d)\n"
		"  --flush-us U             a batch leaves U us after its first record\n"
		"                           (default %.0f)\n"
		"  --flush-ms MIN[-MAX]     agent mode, replaces --flush-us: every emitter runs\n"
		"                           a flush timer of its own, interval drawn log-uniformly\n"
		"                           in [MIN, MAX] ms (%.0f..%.0f), random phase; a batch\n"
		"                           leaves on the next tick (none if empty) or when full\n"
		"  --quiet P[,SECONDS]      a fraction P of the emitters goes quiet once, for\n"
		"                           SECONDS of event time (default %.0f) from a random\n"
		"                           point; meanwhile another instance of the service takes\n"
		"                           its records; needs --emitters-per-service >= 2, and\n"
		"                           P <= (K-1)/K; the spans are listed on stderr\n"
		"  --skew-ms S              every host's clock is off by a fixed offset drawn\n"
		"                           in [-S, S] ms (0..%.0f): the start times it writes\n"
		"                           (and the truth) carry it, pcap times do not\n"
		"  --max-payload B          batch size limit, bytes %d..%d (default 1472 for\n"
		"                           atr/xtrace, 65000 for jaeger-*)\n"
		"  --reorder-ms D           max extra delivery delay per frame, ms (default %.0f)\n"
		"  --loss P                 probability a frame is lost, 0..1 (default 0)\n"
		"  --affine                 ATR: one trace per frame, TRACE_AFFINE, RSS source port\n"
		"  --no-closes-trace        ATR: never set CLOSES_TRACE on root records\n"
		"  --task-id-len L          xtrace TaskID bytes: 4|8|12|20 (default %d)\n"
		"Network:\n"
		"  --port N                 UDP destination port (default by format: atr 7839,\n"
		"                           xtrace 7831, jaeger-compact 6831, jaeger-binary 6832)\n"
		"  --mtu M                  IP packets above M bytes are fragmented, %d..65535\n"
		"                           (default %d; %d minimum with --ipv6)\n"
		"  --vlan ID                802.1Q tag, 0..4095 (default untagged)\n"
		"  --qinq OUTER,INNER       802.1ad outer tag + 802.1Q inner tag\n"
		"  --ipv6                   IPv6 (2001:db8::/32) instead of IPv4 (198.18.0.0/15)\n"
		"  --noise P                fraction of packets that are not tracing: TCP, DNS,\n"
		"                           NTP, statsd, ARP, 0..0.99 (default 0)\n"
		"Mirror encapsulation (every frame, noise included; --vlan/--qinq tag the\n"
		"inner frame; outer packets are never fragmented and may exceed --mtu):\n"
		"  --encap E                none|gre|gre-ip|erspan2|erspan3|vxlan (default none):\n"
		"                           gre: GRE 0x6558 + key 1000, inner Ethernet;\n"
		"                           gre-ip: GRE 0x0800/0x86DD, inner IP packet;\n"
		"                           erspan2: GRE + sequence, ERSPAN II session 1000;\n"
		"                           erspan3: GRE + sequence, ERSPAN III session 1000,\n"
		"                           IEEE 1588 timestamp; vxlan: UDP 4789, VNI 1000\n"
		"  --encap-ipv6             outer IPv6 2001:db8:ffff::1 -> ::2 (default outer\n"
		"                           IPv4 192.0.2.1 -> 192.0.2.2)\n"
		"  --erspan3-subheader      erspan3: O bit + 8-byte platform subheader\n"
		"                           (platform 5: switch, port, timestamp seconds)\n"
		"  --help                   this text\n",
		DEF_TRACES, DEF_RATE, DEF_SEED, DEF_START_NS, DEF_ID64, MAX_EMITTERS_PER_SERVICE, DEF_EMITTERS,
		DEF_FLUSH_US, MIN_FLUSH_MS, MAX_FLUSH_MS, DEF_QUIET_S, MAX_SKEW_MS, MIN_PAYLOAD, MAX_PAYLOAD, DEF_REORDER_MS, DEF_TASK_ID_LEN, 576, DEF_MTU, 1280);
}

static void __attribute__((noreturn))
bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "altair-gen: --%s '%s': %s (see --help)\n", opt, val, why);
	exit(2);
}

static uint64_t
parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		bad(opt, s, "expected an unsigned integer");
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		bad(opt, s, "expected an unsigned integer");
	if (v < lo || v > hi) {
		char why[96];

		snprintf(why, sizeof(why), "out of range %llu..%llu", (unsigned long long)lo,
			 (unsigned long long)hi);
		bad(opt, s, why);
	}
	return v;
}

static double
parse_double(const char *opt, const char *s, double lo, double hi, bool lo_open)
{
	char *end;
	double v;

	errno = 0;
	if (*s == '\0' || *s == ' ')
		bad(opt, s, "expected a number");
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v))
		bad(opt, s, "expected a number");
	if (v < lo || v > hi || (lo_open && v == lo)) {
		char why[96];

		if (lo_open)
			snprintf(why, sizeof(why), "must be > %g and <= %g", lo, hi);
		else
			snprintf(why, sizeof(why), "out of range %g..%g", lo, hi);
		bad(opt, s, why);
	}
	return v;
}

static void
list_templates(void)
{
	for (unsigned i = 0; i < gen_n_templates; i++)
		printf("%-16s weight %2u  %s\n", gen_templates[i].name, gen_templates[i].weight,
		       gen_templates[i].desc);
}

static uint16_t
default_port(enum alt_wire_format f)
{
	switch (f) {
	case ALT_FMT_JAEGER_COMPACT:
		return 6831;
	case ALT_FMT_JAEGER_BINARY:
		return 6832;
	case ALT_FMT_XTRACE:
		return 7831;
	default:
		return 7839;
	}
}

/* What parsing remembers beyond struct gen_opts: values whose default
 * depends on other options, and which options were given. */
struct parse_state {
	int port;               /* -1: by format */
	int max_payload;        /* -1: by format */
	bool id64_set;
	bool flush_us_set;
	bool quiet_set;
	const char *quiet_arg;
};

static void
set_defaults(struct gen_opts *o, struct parse_state *ps)
{
	memset(o, 0, sizeof(*o));
	memset(ps, 0, sizeof(*ps));
	ps->port = -1;
	ps->max_payload = -1;
	o->fmt = ALT_FMT_ATR;
	o->traces = DEF_TRACES;
	o->rate = DEF_RATE;
	o->seed = DEF_SEED;
	o->start_ns = DEF_START_NS;
	o->emitters_per_service = DEF_EMITTERS;
	o->reorder_ms = DEF_REORDER_MS;
	o->flush_us = DEF_FLUSH_US;
	o->quiet_s = DEF_QUIET_S;
	o->task_id_len = DEF_TASK_ID_LEN;
	o->id64 = DEF_ID64;
	o->latency_min = 10;
	o->latency_max = 50;
	for (unsigned k = GEN_ANOM_UNEXPECTED_EDGE; k <= GEN_ANOM_ERROR; k++)
		o->anom_kinds[o->n_anom_kinds++] = (uint8_t)k;
	o->net.mtu = DEF_MTU;
	o->net.vlan = -1;
	o->net.qinq_outer = -1;
	o->net.qinq_inner = -1;
}

/* Split "A<sep>B" (B optional) of option opt into two strings in tmp;
 * returns B or NULL when there is no separator. */
static const char *
split_pair(const char *opt, const char *arg, char sep, char *tmp, size_t cap, const char *what)
{
	char *p;

	if (strlen(arg) >= cap)
		bad(opt, arg, what);
	memcpy(tmp, arg, strlen(arg) + 1);
	p = strchr(tmp, sep);
	if (p == NULL)
		return NULL;
	*p = '\0';
	return p + 1;
}

/* Output and traffic options; false when c is not one of them. */
static bool
parse_traffic_opt(int c, const char *arg, struct gen_opts *o, struct parse_state *ps)
{
	switch (c) {
	case OPT_FORMAT: {
		int f = alt_wire_format_parse(arg);

		if (f < 0)
			bad("format", arg, "expected atr, jaeger-compact, jaeger-binary or xtrace");
		o->fmt = (enum alt_wire_format)f;
		return true;
	}
	case OPT_OUT:
		o->out = arg;
		return true;
	case OPT_TRUTH:
		o->truth = arg;
		return true;
	case OPT_TRACES:
		o->traces = parse_u64("traces", arg, 1, UINT64_MAX >> 1);
		return true;
	case OPT_RATE:
		o->rate = parse_double("rate", arg, 0, 1e12, true);
		return true;
	case OPT_SEED:
		o->seed = parse_u64("seed", arg, 0, UINT64_MAX);
		return true;
	case OPT_START_NS:
		o->start_ns = parse_u64("start-ns", arg, 0, UINT64_MAX >> 2);
		return true;
	case OPT_ANOMALY_RATE:
		o->anomaly_rate = parse_double("anomaly-rate", arg, 0, 1, false);
		return true;
	case OPT_ANOMALY_KINDS: {
		char tmp[256], *save = NULL;

		if (strlen(arg) >= sizeof(tmp))
			bad("anomaly-kinds", arg, "list too long");
		strcpy(tmp, arg);
		o->n_anom_kinds = 0;
		for (char *k = strtok_r(tmp, ",", &save); k != NULL; k = strtok_r(NULL, ",", &save)) {
			int a = gen_anomaly_parse(k);

			if (a <= 0)
				bad("anomaly-kinds", arg, "expected unexpected_edge, missing_subtree, latency, error, extra_subtree");
			for (unsigned i = 0; i < o->n_anom_kinds; i++)
				if (o->anom_kinds[i] == a)
					bad("anomaly-kinds", arg, "a kind is listed twice");
			o->anom_kinds[o->n_anom_kinds++] = (uint8_t)a;
		}
		if (o->n_anom_kinds == 0)
			bad("anomaly-kinds", arg, "no kind given");
		return true;
	}
	case OPT_LATENCY_OUTLIER: {
		char tmp[64];
		const char *max = split_pair("latency-outlier", arg, '-', tmp, sizeof(tmp), "expected F1-F2");

		o->latency_min = parse_double("latency-outlier", tmp, 1, 1e6, true);
		o->latency_max = max ? parse_double("latency-outlier", max, 1, 1e6, true) : o->latency_min;
		if (o->latency_max < o->latency_min)
			bad("latency-outlier", arg, "F2 must not be below F1");
		return true;
	}
	case OPT_TEMPLATE: {
		const struct gen_template *t = gen_template_find(arg);

		if (t == NULL)
			bad("template", arg, "no such template; --list-templates names them");
		for (unsigned i = 0; i < o->n_tpls; i++)
			if (o->tpls[i] == t)
				t = NULL;
		if (t != NULL && o->n_tpls < sizeof(o->tpls) / sizeof(o->tpls[0]))
			o->tpls[o->n_tpls++] = t;
		return true;
	}
	case OPT_LIST_TEMPLATES:
		list_templates();
		exit(0);
	case OPT_ID64:
		o->id64 = parse_double("id64", arg, 0, 1, false);
		ps->id64_set = true;
		return true;
	default:
		return false;
	}
}

/* --flush-ms MIN[-MAX]: whole or fractional milliseconds. */
static void
parse_flush_ms(const char *arg, struct gen_opts *o)
{
	static const char what[] = "expected MIN or MIN-MAX, milliseconds";
	char tmp[64];
	const char *max = split_pair("flush-ms", arg, '-', tmp, sizeof(tmp), what);

	o->flush_ms_min = parse_double("flush-ms", tmp, MIN_FLUSH_MS, MAX_FLUSH_MS, false);
	o->flush_ms_max = max ? parse_double("flush-ms", max, MIN_FLUSH_MS, MAX_FLUSH_MS, false) :
				o->flush_ms_min;
	if (o->flush_ms_max < o->flush_ms_min)
		bad("flush-ms", arg, "MAX must not be below MIN");
	o->agent = true;
}

/* --quiet P[,SECONDS]. */
static void
parse_quiet(const char *arg, struct gen_opts *o)
{
	char tmp[64];
	const char *secs = split_pair("quiet", arg, ',', tmp, sizeof(tmp),
				      "expected P or P,SECONDS");

	o->quiet_frac = parse_double("quiet", tmp, 0, 1, false);
	if (secs != NULL)
		o->quiet_s = parse_double("quiet", secs, 0, MAX_QUIET_S, true);
}

/* Emitter options; false when c is not one of them. */
static bool
parse_emitter_opt(int c, const char *arg, struct gen_opts *o, struct parse_state *ps)
{
	switch (c) {
	case OPT_EMITTERS:
		o->emitters_per_service = (unsigned)parse_u64("emitters-per-service", arg, 1,
							      MAX_EMITTERS_PER_SERVICE);
		return true;
	case OPT_REORDER_MS:
		o->reorder_ms = parse_double("reorder-ms", arg, 0, 3600e3, false);
		return true;
	case OPT_FLUSH_US:
		o->flush_us = parse_double("flush-us", arg, 0, 3600e6, false);
		ps->flush_us_set = true;
		return true;
	case OPT_FLUSH_MS:
		parse_flush_ms(arg, o);
		return true;
	case OPT_QUIET:
		parse_quiet(arg, o);
		ps->quiet_set = true;
		ps->quiet_arg = arg;
		return true;
	case OPT_SKEW_MS:
		o->skew_ms = parse_double("skew-ms", arg, 0, MAX_SKEW_MS, false);
		return true;
	case OPT_LOSS:
		o->loss = parse_double("loss", arg, 0, 1, false);
		return true;
	case OPT_AFFINE:
		o->affine = true;
		return true;
	case OPT_NO_CLOSES:
		o->no_closes = true;
		return true;
	case OPT_MAX_PAYLOAD:
		ps->max_payload = (int)parse_u64("max-payload", arg, MIN_PAYLOAD, MAX_PAYLOAD);
		return true;
	case OPT_TASK_ID_LEN:
		o->task_id_len = (unsigned)parse_u64("task-id-len", arg, 4, 20);
		if (o->task_id_len != 4 && o->task_id_len != 8 && o->task_id_len != 12 &&
		    o->task_id_len != 20)
			bad("task-id-len", arg, "expected 4, 8, 12 or 20");
		return true;
	default:
		return false;
	}
}

/* Network and mirror-encapsulation options; false when c is not one. */
static bool
parse_network_opt(int c, const char *arg, struct gen_opts *o, struct parse_state *ps)
{
	switch (c) {
	case OPT_MTU:
		o->net.mtu = (unsigned)parse_u64("mtu", arg, 576, 65535);
		return true;
	case OPT_VLAN:
		o->net.vlan = (int)parse_u64("vlan", arg, 0, 4095);
		return true;
	case OPT_QINQ: {
		static const char what[] = "expected OUTER,INNER (two VLAN IDs 0..4095)";
		char tmp[64];
		const char *inner = split_pair("qinq", arg, ',', tmp, sizeof(tmp), what);

		if (inner == NULL)
			bad("qinq", arg, what);
		o->net.qinq_outer = (int)parse_u64("qinq", tmp, 0, 4095);
		o->net.qinq_inner = (int)parse_u64("qinq", inner, 0, 4095);
		return true;
	}
	case OPT_IPV6:
		o->net.ipv6 = true;
		return true;
	case OPT_NOISE:
		o->net.noise = parse_double("noise", arg, 0, 0.99, false);
		return true;
	case OPT_PORT:
		ps->port = (int)parse_u64("port", arg, 1, 65535);
		return true;
	case OPT_ENCAP: {
		int e = gen_encap_parse(arg);

		if (e < 0)
			bad("encap", arg, "expected none, gre, gre-ip, erspan2, erspan3 or vxlan");
		o->net.encap = (enum gen_encap)e;
		return true;
	}
	case OPT_ENCAP_IPV6:
		o->net.encap_ipv6 = true;
		return true;
	case OPT_ERSPAN3_SUB:
		o->net.erspan3_sub = true;
		return true;
	default:
		return false;
	}
}

static void __attribute__((noreturn))
refuse(const char *msg)
{
	fprintf(stderr, "altair-gen: %s (see --help)\n", msg);
	exit(2);
}

/* Combinations of network options. */
static void
check_network(struct gen_opts *o)
{
	if (o->net.vlan >= 0 && o->net.qinq_outer >= 0)
		refuse("--vlan and --qinq cannot be combined");
	if (o->net.ipv6 && o->net.mtu < 1280) {
		char v[16];

		snprintf(v, sizeof(v), "%u", o->net.mtu);
		bad("mtu", v, "IPv6 needs at least 1280");
	}
	if (o->net.encap_ipv6 && o->net.encap == GEN_ENCAP_NONE)
		refuse("--encap-ipv6 needs --encap");
	if (o->net.erspan3_sub && o->net.encap != GEN_ENCAP_ERSPAN3) {
		fprintf(stderr, "altair-gen: --erspan3-subheader needs --encap erspan3 (got --encap %s) (see --help)\n",
			gen_encap_name(o->net.encap));
		exit(2);
	}
	if (o->net.encap == GEN_ENCAP_GRE_IP && (o->net.vlan >= 0 || o->net.qinq_outer >= 0)) {
		fprintf(stderr, "altair-gen: --%s tags the inner Ethernet header, which --encap gre-ip does not "
			"carry (see --help)\n", o->net.vlan >= 0 ? "vlan" : "qinq");
		exit(2);
	}
	if (o->net.mtu > gen_encap_max_mtu(&o->net)) {
		char v[16], why[128];

		snprintf(v, sizeof(v), "%u", o->net.mtu);
		snprintf(why, sizeof(why), "with --encap %s%s the mirrored packets would exceed 65535 bytes; "
			 "at most %u", gen_encap_name(o->net.encap), o->net.encap_ipv6 ? " --encap-ipv6" : "",
			 gen_encap_max_mtu(&o->net));
		bad("mtu", v, why);
	}
}

/* Combinations of emitter options. */
static void
check_emitters(struct gen_opts *o, const struct parse_state *ps)
{
	if (o->affine && o->fmt != ALT_FMT_ATR) {
		fprintf(stderr, "altair-gen: --affine needs --format atr (got --format %s) (see --help)\n",
			alt_wire_format_name(o->fmt));
		exit(2);
	}
	if (o->agent && ps->flush_us_set)
		refuse("--flush-us and --flush-ms cannot be combined: --flush-ms replaces the flush "
		       "after the first record by each emitter's flush timer");
	if (ps->quiet_set && o->quiet_frac > 0) {
		unsigned k = o->emitters_per_service;
		char why[160];

		if (k < 2) {
			snprintf(why, sizeof(why), "needs --emitters-per-service 2 or more (got %u): a quiet "
				 "emitter's records go to another instance of its service", k);
			bad("quiet", ps->quiet_arg, why);
		}
		if (o->quiet_frac > (double)(k - 1) / k) {
			snprintf(why, sizeof(why), "at most %u of every %u instances of a service can be "
				 "quiet: P must be <= %g", k - 1, k, (double)(k - 1) / k);
			bad("quiet", ps->quiet_arg, why);
		}
	}
}

static void
parse_args(int argc, char **argv, struct gen_opts *o)
{
	struct parse_state ps;
	int c;

	set_defaults(o, &ps);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (parse_traffic_opt(c, optarg, o, &ps) || parse_emitter_opt(c, optarg, o, &ps) ||
		    parse_network_opt(c, optarg, o, &ps))
			continue;
		if (c == OPT_HELP) {
			usage(stdout);
			exit(0);
		}
		if (optopt != 0 && optopt >= OPT_FORMAT)
			fprintf(stderr, "altair-gen: option '%s' needs a value (see --help)\n",
				argv[optind - 1]);
		else
			fprintf(stderr, "altair-gen: unknown option '%s' (see --help)\n", argv[optind - 1]);
		exit(2);
	}
	if (optind < argc) {
		fprintf(stderr, "altair-gen: unexpected argument '%s' (see --help)\n", argv[optind]);
		exit(2);
	}
	if (o->out == NULL)
		refuse("--out FILE is required");
	check_network(o);
	check_emitters(o, &ps);
	if (o->fmt == ALT_FMT_XTRACE && o->task_id_len <= 8) {
		if (ps.id64_set && o->id64 < 1)
			fprintf(stderr, "altair-gen: --id64 forced to 1: --task-id-len %u holds 64 bits at most\n",
				o->task_id_len);
		o->id64 = 1;
	}
	if (ps.max_payload < 0)
		ps.max_payload = (o->fmt == ALT_FMT_JAEGER_COMPACT || o->fmt == ALT_FMT_JAEGER_BINARY) ?
			65000 : 1472;
	o->max_payload = (unsigned)ps.max_payload;
	o->net.dport = ps.port < 0 ? default_port(o->fmt) : (uint16_t)ps.port;
	o->net.seed = o->seed;
	if (o->n_tpls == 0)
		for (unsigned i = 0; i < gen_n_templates; i++)
			o->tpls[o->n_tpls++] = &gen_templates[i];
}

int
main(int argc, char **argv)
{
	struct gen_opts o;
	struct gen_stats st;
	struct timespec t0, t1;
	double secs;

	parse_args(argc, argv, &o);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (gen_run(&o, &st) != 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	fprintf(stderr,
		"altair-gen: format=%s traces=%llu records=%llu frames=%llu packets=%llu noise=%llu bytes=%llu "
		"lost_frames=%llu seconds=%.3f (%.0f records/s)\n",
		alt_wire_format_name(o.fmt), (unsigned long long)st.traces, (unsigned long long)st.records,
		(unsigned long long)st.frames, (unsigned long long)st.packets, (unsigned long long)st.noise,
		(unsigned long long)st.bytes, (unsigned long long)st.frames_lost, secs,
		secs > 0 ? (double)st.records / secs : 0.0);
	return 0;
}
