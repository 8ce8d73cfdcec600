/* SPDX-License-Identifier: BSD-3-Clause
 * altair-gen private header: the PRNG, the service table, trace templates,
 * trace instances, the simulation of emitters and the pcap writer.
 *
 * The generator is deterministic for a given --seed: every trace draws from
 * its own PRNG stream (seeded from the seed and the trace's index), and the
 * network effects (delay, loss, noise) draw from separate streams, so changing
 * --loss or --noise does not change the traces themselves.
 */
#ifndef GEN_H
#define GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "alt_base.h"
#include "alt_wire.h"

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

struct gen_rng {
	uint64_t s[4];
};

static inline uint64_t
gen_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void
gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ alt_mix64(stream + 0x632be59bd9b4e019ULL);

	for (unsigned i = 0; i < 4; i++)
		r->s[i] = gen_splitmix64(&x);
}

static inline uint64_t
gen_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
gen_rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = gen_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = gen_rotl(s[3], 45);
	return res;
}

/* Uniform in [0, 1). */
static inline double
gen_rng_unit(struct gen_rng *r)
{
	return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is < n/2^64). */
static inline uint64_t
gen_rng_below(struct gen_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)gen_rng_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t
gen_rng_between(struct gen_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + gen_rng_below(r, hi - lo + 1);
}

/* True with probability p. */
static inline bool
gen_rng_chance(struct gen_rng *r, double p)
{
	return gen_rng_unit(r) < p;
}

/* Non-zero 64-bit value. */
static inline uint64_t
gen_rng_nonzero(struct gen_rng *r)
{
	uint64_t v;

	do
		v = gen_rng_next(r);
	while (v == 0);
	return v;
}

/* ---- services ----
 * Every service a template uses, plus the ones only the unexpected_edge
 * anomaly calls. Each service runs --emitters-per-service instances. */

#define GEN_SERVICES(X) \
	X(AD, "ad") \
	X(API, "api") \
	X(API_GATEWAY, "api-gateway") \
	X(AUTH, "auth") \
	X(BANK, "bank-connector") \
	X(CART, "cart") \
	X(CHECKOUT, "checkout") \
	X(CURRENCY, "currency") \
	X(DATANODE, "hdfs-datanode") \
	X(DFS_CLIENT, "hdfs-client") \
	X(EMAIL, "email") \
	X(FEED, "feed") \
	X(FRAUD, "fraud") \
	X(FRONTEND, "frontend") \
	X(GRAPHQL, "graphql") \
	X(INVENTORY, "inventory") \
	X(LB, "edge-lb") \
	X(MEMCACHED, "memcached") \
	X(MYSQL, "mysql") \
	X(NAMENODE, "hdfs-namenode") \
	X(NOTIFICATION, "notification") \
	X(OBJECT_STORE, "object-store") \
	X(ORDERS, "orders") \
	X(ORDER_WORKER, "order-worker") \
	X(PAYMENT, "payment") \
	X(PAYMENT_GW, "payment-gateway") \
	X(POSTGRES, "postgres") \
	X(POST_STORE, "post-store") \
	X(PRODUCT, "product-catalog") \
	X(QUOTA, "quota") \
	X(RANKER, "ranker") \
	X(RECOMMEND, "recommendation") \
	X(REDIS, "redis") \
	X(REPORTING, "reporting") \
	X(REVIEWS, "reviews") \
	X(SEARCH_API, "search-api") \
	X(SEARCH_SHARD, "search-shard") \
	X(SHIPPING, "shipping") \
	X(SOCIAL_GRAPH, "social-graph") \
	X(TOKEN, "token") \
	X(TRANSCODER, "transcoder") \
	X(USERS, "users") \
	X(WAREHOUSE, "warehouse") \
	X(DEBUG_SIDECAR, "debug-sidecar") \
	X(EXPERIMENT, "experiment") \
	X(LEGACY_BILLING, "legacy-billing")

enum gen_svc {
#define GEN_SVC_ENUM(e, s) GEN_SVC_##e,
	GEN_SERVICES(GEN_SVC_ENUM)
#undef GEN_SVC_ENUM
	GEN_SVC_COUNT
};

/* The name of a service. */
const char *gen_svc_name(enum gen_svc svc);

/* ---- trace instances ---- */

enum gen_anomaly {
	GEN_ANOM_NONE = 0,
	GEN_ANOM_UNEXPECTED_EDGE,
	GEN_ANOM_MISSING_SUBTREE,
	GEN_ANOM_LATENCY,
	GEN_ANOM_ERROR,
	GEN_ANOM_EXTRA_SUBTREE,
	GEN_ANOM_COUNT
};

/* The anomaly kind named s, or -1. */
int gen_anomaly_parse(const char *s);

/* The truth-file name of an anomaly kind. */
const char *gen_anomaly_name(enum gen_anomaly a);

struct gen_trace;

/* One node of a trace instance. rec is what goes on the wire; its strings
 * point at static text. Times in rec are absolute (ns since the epoch) once
 * the trace is placed; while a template builds it they are trace-relative. */
struct gen_node {
	struct alt_record rec;
	struct gen_trace *trace;
	uint64_t ready_ns;      /* when its emitter has the record */
	uint32_t emitter;       /* index into the simulation's emitter table */
	uint16_t svc;           /* enum gen_svc */
	uint8_t may_error;      /* the template can mark this node erroneous */
	uint8_t async;          /* FOLLOWS_FROM: its parents do not wait for it */
	uint8_t removed;        /* dropped by the missing_subtree anomaly */
};

struct gen_template;

struct gen_trace {
	struct gen_trace *next;         /* truth queue, in start order */
	uint64_t index;
	struct alt_trace_id id;
	const struct gen_template *tpl;
	uint64_t start_ns;
	uint32_t n_nodes;
	uint32_t pending;               /* records not yet handed to a frame */
	uint32_t cursor;                /* next record to become ready (nodes sorted) */
	uint8_t anomaly;                /* enum gen_anomaly */
	bool lost;                      /* a record travelled in a lost frame */
	bool closes;                    /* the root record carries CLOSES_TRACE */
	struct gen_node *nodes;
};

/* ---- templates ---- */

/* A template under construction: the node array grows as a builder adds
 * spans and events. Times are trace-relative nanoseconds. */
struct gen_build {
	struct gen_rng *rng;
	struct gen_node *nodes;
	uint32_t n;
	uint32_t cap;
	bool oom;
};

struct gen_template {
	const char *name;
	const char *desc;
	unsigned weight;        /* relative frequency among the selected templates */
	void (*build)(struct gen_build *b);
};

#define GEN_NONE UINT32_MAX     /* "no node": a root's parent, a failed add */

/* Append a node (see gen_templates.c); parents are indices of earlier nodes. */
uint32_t gen_b_node(struct gen_build *b, enum gen_svc svc, const char *op, enum alt_kind kind,
		    const uint32_t *parents, unsigned np, uint64_t start, uint64_t dur);

/* Stretch the synchronous span ancestors of node i to cover it. */
void gen_b_stretch_up(struct gen_build *b, uint32_t i);

/* The template library and its size. */
extern const struct gen_template gen_templates[];
extern const unsigned gen_n_templates;

/* The template named name, or NULL. */
const struct gen_template *gen_template_find(const char *name);

/* ---- trace generation ---- */

struct gen_trace_cfg {
	enum alt_wire_format fmt;
	uint64_t seed;
	double id64;                    /* fraction of 64-bit trace IDs */
	unsigned task_id_len;           /* xtrace TaskID bytes: trace ID width */
	double anomaly_rate;
	uint8_t anom_kinds[GEN_ANOM_COUNT];     /* the kinds drawn, in order */
	unsigned n_anom_kinds;
	double latency_min, latency_max;        /* a latency outlier's factor */
	bool closes_trace;              /* CLOSES_TRACE on the root (ATR only) */
	unsigned emitters_per_service;
	const struct gen_template *const *tpls;
	unsigned n_tpls;
	unsigned total_weight;
};

/* Build trace number index starting at start_ns: pick a template, build it,
 * inject an anomaly if drawn, assign emitters, make the times absolute and
 * set each record's ready time. Returns NULL when memory runs out. */
struct gen_trace *gen_trace_make(const struct gen_trace_cfg *cfg, uint64_t index, uint64_t start_ns);

/* Release a trace made by gen_trace_make. */
void gen_trace_free(struct gen_trace *t);

/* ---- truth ---- */

/* Append the JSON line describing t to f (nodes sorted by ID, parents
 * sorted). Returns 0, or -1 on a write or allocation error. */
int gen_truth_write(FILE *f, const struct gen_trace *t);

/* ---- packets ---- */

/* Remote-mirroring encapsulations (--encap): every frame written is wrapped
 * in an outer Ethernet + IPv4/IPv6 header from the mirror source to the
 * collector and one of these tunnels. */
enum gen_encap {
	GEN_ENCAP_NONE = 0,
	GEN_ENCAP_GRE,          /* GRE 0x6558 with a key: inner Ethernet */
	GEN_ENCAP_GRE_IP,       /* GRE 0x0800/0x86DD: inner IP, no Ethernet */
	GEN_ENCAP_ERSPAN2,      /* GRE 0x88BE + sequence, ERSPAN II header */
	GEN_ENCAP_ERSPAN3,      /* GRE 0x22EB + sequence, ERSPAN III header */
	GEN_ENCAP_VXLAN,        /* UDP 4789, VXLAN header, VNI 1000 */
	GEN_ENCAP_COUNT
};

/* The --encap name of e ("none", "gre", ...). */
const char *gen_encap_name(enum gen_encap e);

/* The encapsulation named s, or -1. */
int gen_encap_parse(const char *s);

struct gen_net_cfg {
	bool ipv6;
	unsigned mtu;
	int vlan;               /* -1: untagged */
	int qinq_outer;         /* -1: no QinQ */
	int qinq_inner;
	uint16_t dport;
	double noise;           /* fraction of packets that are not tracing */
	uint64_t seed;
	enum gen_encap encap;   /* GEN_ENCAP_NONE: frames go out as they are */
	bool encap_ipv6;        /* outer IPv6 (2001:db8:ffff::1 -> ::2) */
	bool erspan3_sub;       /* ERSPAN III: O bit + platform subheader */
};

/* The largest inner IP packet (hence --mtu) whose mirrored copy still fits
 * the outer IP packet's 16-bit length, for cfg's encapsulation, outer IP
 * version and inner VLAN tags; 65535 without an encapsulation. */
unsigned gen_encap_max_mtu(const struct gen_net_cfg *cfg);

/* A sender's L2/L3 identity. */
struct gen_host {
	uint8_t mac[6];
	uint8_t ip4[4];
	uint8_t ip6[16];
};

struct gen_pcap;

/* Open path for writing a classic microsecond pcap (linktype Ethernet)
 * with a large stdio buffer. NULL with errno on failure. */
struct gen_pcap *gen_pcap_open(const char *path, const struct gen_net_cfg *cfg);

/* Write one UDP datagram from src (source port sport) to the appliance as
 * one or more Ethernet frames (IP fragments when the IP packet exceeds the
 * MTU), then any noise packets drawn for it. ip_id is the sender's datagram
 * identification. Returns 0, or -1 on a write error. */
int gen_pcap_udp(struct gen_pcap *p, uint64_t ts_ns, const struct gen_host *src, uint16_t sport,
		 uint32_t ip_id, const uint8_t *payload, size_t len);

/* Flush and close; returns 0, or -1 if any write failed. Frees p. */
int gen_pcap_close(struct gen_pcap *p);

/* Counters: packets written (fragments and noise included), of them noise,
 * and the Ethernet frame bytes written (outer frames with --encap). */
void gen_pcap_counts(const struct gen_pcap *p, uint64_t *packets, uint64_t *noise, uint64_t *bytes);

/* ---- the simulation ---- */

struct gen_opts {
	enum alt_wire_format fmt;
	const char *out;
	const char *truth;
	uint64_t traces;
	double rate;
	uint64_t seed;
	uint64_t start_ns;
	unsigned emitters_per_service;
	double reorder_ms;
	double flush_us;
	/* Agent mode (--flush-ms): every emitter flushes on a periodic timer of
	 * its own, an interval drawn log-uniformly in [flush_ms_min,
	 * flush_ms_max], instead of flush_us after a batch's first record. */
	bool agent;
	double flush_ms_min;
	double flush_ms_max;
	double quiet_frac;              /* --quiet: fraction of emitters that go quiet once */
	double quiet_s;                 /* for this long (event time) */
	double skew_ms;                 /* --skew-ms: per-host clock offset bound */
	double loss;
	double anomaly_rate;
	uint8_t anom_kinds[GEN_ANOM_COUNT];     /* --anomaly-kinds; none given: the first four */
	unsigned n_anom_kinds;
	double latency_min, latency_max;        /* --latency-outlier, default 10-50 */
	bool affine;
	bool no_closes;
	unsigned max_payload;
	unsigned task_id_len;
	double id64;
	struct gen_net_cfg net;
	const struct gen_template *tpls[64];
	unsigned n_tpls;
};

struct gen_stats {
	uint64_t traces;
	uint64_t records;
	uint64_t frames;        /* tracing datagrams sent, lost ones included */
	uint64_t frames_lost;
	uint64_t packets;       /* written: fragments and noise included */
	uint64_t noise;
	uint64_t bytes;
};

/* Run the whole generation described by o: write the pcap (and the truth
 * file if asked). Returns 0, or -1 after printing why. */
int gen_run(const struct gen_opts *o, struct gen_stats *st);

#endif /* GEN_H */
