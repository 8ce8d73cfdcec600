/* SPDX-License-Identifier: BSD-3-Clause
 * L2..L4 classification of mirrored frames and IPv4/IPv6 fragment
 * reassembly. Pure C over byte buffers: no DPDK types, no allocation.
 *
 * Classification walks Ethernet II (up to ALT_NET_MAX_VLAN 802.1Q/802.1ad
 * tags), IPv4, IPv6 with extension headers and UDP, and peels mirror
 * encapsulations (GRE, ERSPAN type I/II/III, VXLAN) up to cfg->max_encap
 * levels. A frame ends in exactly one enum alt_net_outcome. Every header is
 * bounds-checked before it is read; nothing is ever written to the frame.
 *
 * Reassembly keeps up to max_datagrams datagrams in progress over caller
 * memory (alt_net_reasm_memsize + alt_net_reasm_init). Datagram bytes live in
 * ALT_NET_REASM_BLOCK-byte blocks from a budget of max_bytes, so a small
 * datagram costs one block. Every fragment handed to alt_net_reasm_add ends
 * in exactly one fragment outcome (held now, completed, dropped by reason).
 */
#ifndef ALT_NET_H
#define ALT_NET_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Application formats, by UDP destination port. Same values as
 * enum alt_wire_format (checked by a static assert in net.c). */
enum alt_net_format {
	ALT_NET_FMT_ATR = 0,
	ALT_NET_FMT_JAEGER_COMPACT = 1,
	ALT_NET_FMT_JAEGER_BINARY = 2,
	ALT_NET_FMT_XTRACE = 3,
	ALT_NET_FMT_COUNT
};

enum {
	ALT_NET_PORT_ATR = 7839,
	ALT_NET_PORT_JAEGER_COMPACT = 6831,
	ALT_NET_PORT_JAEGER_BINARY = 6832,
	ALT_NET_PORT_XTRACE = 7831,
	ALT_NET_PORT_VXLAN = 4789,
	ALT_NET_MAX_VLAN = 3,           /* tags per Ethernet header */
	ALT_NET_MAX_EXT_HDRS = 8,       /* IPv6 extension headers per IP header */
	ALT_NET_MAX_ENCAP = 4,          /* hard ceiling for cfg->max_encap */
};

/* Classification outcomes. X-macro: the string is the counter/JSON key.
 * Everything from TRUNCATED_L2 on is "malformed". */
#define ALT_NET_OUTCOMES(X) \
	X(TRACING, "tracing") \
	X(FRAGMENT, "fragment") \
	X(NOT_IP, "not_ip") \
	X(NOT_UDP, "not_udp") \
	X(NOT_TRACING_PORT, "not_tracing_port") \
	X(TRUNCATED_L2, "truncated_l2") \
	X(TRUNCATED_L3, "truncated_l3") \
	X(BAD_IP_VERSION, "bad_ip_version") \
	X(BAD_IHL, "bad_ihl") \
	X(BAD_IP_LENGTH, "bad_ip_length") \
	X(TOO_MANY_EXT_HEADERS, "too_many_ext_headers") \
	X(TRUNCATED_L4, "truncated_l4") \
	X(BAD_UDP_LENGTH, "bad_udp_length") \
	X(BAD_ENCAP, "bad_encap") \
	X(TOO_DEEP, "too_deep")

enum alt_net_outcome {
#define ALT_NET_OUT_ENUM(e, s) ALT_NET_##e,
	ALT_NET_OUTCOMES(ALT_NET_OUT_ENUM)
#undef ALT_NET_OUT_ENUM
	ALT_NET_OUTCOME_COUNT
};

/* Encapsulations. X-macro: the string is the counter/JSON key. ERSPAN type I
 * (GRE 0x88BE without a sequence number, no ERSPAN header) counts as erspan2. */
#define ALT_NET_ENCAPS(X) \
	X(NONE, "none") \
	X(VLAN, "vlan") \
	X(QINQ, "qinq") \
	X(GRE, "gre") \
	X(ERSPAN2, "erspan2") \
	X(ERSPAN3, "erspan3") \
	X(VXLAN, "vxlan")

enum alt_net_encap {
#define ALT_NET_ENC_ENUM(e, s) ALT_NET_ENCAP_##e,
	ALT_NET_ENCAPS(ALT_NET_ENC_ENUM)
#undef ALT_NET_ENC_ENUM
	ALT_NET_ENCAP_COUNT
};

/* Classification configuration. port[f] == 0 disables format f;
 * vxlan_port == 0 disables VXLAN decapsulation. */
struct alt_net_cfg {
	uint16_t port[ALT_NET_FMT_COUNT];       /* UDP destination port per format */
	uint16_t vxlan_port;                    /* default 4789 */
	uint8_t max_encap;                      /* tunnel levels peeled, 0..ALT_NET_MAX_ENCAP; default 2 */
};

/* One IP header's facts. IPv4 addresses sit in the first 4 bytes of src/dst,
 * the other 12 are zero. */
struct alt_net_ip {
	uint8_t version;        /* 4 or 6; 0 when none was parsed */
	uint8_t proto;          /* upper-layer protocol after extension headers */
	uint8_t n_ext;          /* IPv6 extension headers walked */
	uint8_t pad;
	uint8_t src[16];
	uint8_t dst[16];
};

/* A fragment, filled when the outcome is ALT_NET_FRAGMENT. data points into
 * the frame (the bytes after the IPv4 header or the IPv6 fragment header). */
struct alt_net_frag {
	const uint8_t *data;
	uint32_t id;            /* IPv4: 16-bit identification; IPv6: 32-bit */
	uint16_t offset;        /* bytes */
	uint16_t len;           /* bytes of data */
	uint8_t more;           /* MF / M flag */
	uint8_t proto;          /* protocol of the fragmented payload */
};

/* Result of one classification. Fields not reached keep unspecified values
 * except those the outcome documents (addresses are copied only when they
 * are reported, so that rejected traffic costs no copies):
 *  - TRACING: everything; payload, payload_len is the UDP payload.
 *  - FRAGMENT: inner, outer, encap fields, depth and frag.
 *  - NOT_TRACING_PORT: encap fields, depth, sport, dport, inner.version.
 * encap_mask always holds what was seen (bit (1u << enum alt_net_encap)). */
struct alt_net_pkt {
	/* outermost IP header: same addresses as inner without a tunnel; for
	 * IPv6 its proto is the fixed header's Next Header, n_ext is 0 */
	struct alt_net_ip outer;
	struct alt_net_ip inner;        /* IP header that carries the UDP datagram */
	const uint8_t *payload;
	uint32_t payload_len;
	uint32_t tun_id;                /* outermost tunnel: VXLAN VNI, ERSPAN session, GRE key */
	uint16_t sport;
	uint16_t dport;
	uint16_t vlan;                  /* VLAN ID of the innermost Ethernet's last tag (0: none) */
	uint8_t format;                 /* enum alt_net_format, valid with TRACING */
	uint8_t encap;                  /* enum alt_net_encap: outermost tunnel, else qinq/vlan/none */
	uint8_t encap_mask;             /* every encapsulation seen */
	uint8_t depth;                  /* tunnel levels peeled */
	uint8_t n_vlan;                 /* tags on the innermost Ethernet header */
	uint8_t pad;
	struct alt_net_frag frag;
};

/* The UDP flow of a tracing datagram (inner addresses and ports): the
 * sender's identity when its payload names none. Stable across runs. */
static inline uint64_t
alt_net_flow_key(const struct alt_net_pkt *p)
{
	uint64_t h = alt_hash_bytes(p->inner.src, sizeof(p->inner.src),
				    ((uint64_t)p->sport << 16) | p->dport);
	return alt_hash_bytes(p->inner.dst, sizeof(p->inner.dst), h);
}

/* Counters the caller accumulates per classified frame (alt_net_count). */
struct alt_net_counters {
	uint64_t outcome[ALT_NET_OUTCOME_COUNT];
	uint64_t encap[ALT_NET_ENCAP_COUNT];    /* frames that carried each encapsulation */
};

/* "tracing", "truncated_l3", ...; "?" out of range. */
const char *alt_net_outcome_name(enum alt_net_outcome o);
/* "none", "vlan", ...; "?" out of range. */
const char *alt_net_encap_name(enum alt_net_encap e);

/* True for the malformed outcomes (TRUNCATED_L2 .. TOO_DEEP). */
static inline bool
alt_net_outcome_malformed(enum alt_net_outcome o)
{
	return o >= ALT_NET_TRUNCATED_L2;
}

/* Default ports (7839, 6831, 6832, 7831), VXLAN 4789, max_encap 2. */
void alt_net_cfg_default(struct alt_net_cfg *cfg);

/* Classify one Ethernet frame of len captured bytes. Reads only
 * frame[0..len); fills *out as the outcome documents. Cheap for non-tracing
 * traffic: ethertype, protocol and port are checked before anything else. */
enum alt_net_outcome alt_net_classify(const struct alt_net_cfg *cfg,
	const uint8_t *frame, size_t len, struct alt_net_pkt *out);

/* Resume classification at the upper layer of a reassembled datagram:
 * l4/len is the reassembled payload (what follows the IPv4 header or the
 * IPv6 fragment header) and *pkt is the classification of one of its
 * fragments (inner, outer, encap fields, depth, frag.proto are used). Walks
 * remaining IPv6 extension headers, UDP, and further tunnels (a fragmented
 * GRE or VXLAN carrier). Same outcomes as alt_net_classify; a tunnelled
 * inner datagram may itself be ALT_NET_FRAGMENT. */
enum alt_net_outcome alt_net_classify_l4(const struct alt_net_cfg *cfg,
	const uint8_t *l4, size_t len, struct alt_net_pkt *pkt);

/* Count one classified frame: its outcome and every encapsulation it had,
 * or none (a bare Ethernet frame). */
static inline void
alt_net_count(struct alt_net_counters *c, const struct alt_net_pkt *p,
	enum alt_net_outcome o)
{
	unsigned m = p->encap_mask;

	c->outcome[o]++;
	if (m == 0)
		c->encap[ALT_NET_ENCAP_NONE]++;
	while (m != 0) {
		c->encap[__builtin_ctz(m)]++;
		m &= m - 1;
	}
}

/* ---- fragment reassembly ---- */

enum {
	ALT_NET_REASM_BLOCK = 2048,             /* bytes per data block */
	ALT_NET_REASM_MAX_V4 = 65535 - 20,      /* largest IPv4 payload */
	ALT_NET_REASM_MAX_V6 = 65535 - 8,       /* largest IPv6 fragmentable part */
	ALT_NET_REASM_MAX_FRAGS = 8192,         /* ceiling for max_frags */
};

/* Fragment outcomes. X-macro: the string is the counter/JSON key.
 * HELD and COMPLETE are not drops; everything after them is. */
#define ALT_NET_REASM_OUTCOMES(X) \
	X(HELD, "held") \
	X(COMPLETE, "complete") \
	X(DUPLICATE, "duplicate") \
	X(OVERLAP, "overlap") \
	X(TOO_BIG, "too_big") \
	X(BAD_FRAG, "bad_frag") \
	X(TOO_MANY_FRAGS, "too_many_frags") \
	X(NO_MEMORY, "no_memory") \
	X(TIMEOUT, "timeout") \
	X(EVICTED, "evicted")

enum alt_net_reasm_outcome {
#define ALT_NET_RO_ENUM(e, s) ALT_NET_REASM_##e,
	ALT_NET_REASM_OUTCOMES(ALT_NET_RO_ENUM)
#undef ALT_NET_RO_ENUM
	ALT_NET_REASM_OUTCOME_COUNT
};

struct alt_net_reasm_params {
	uint32_t max_datagrams;         /* in progress at once; default 1024 */
	uint32_t max_frags;             /* per datagram, 1..ALT_NET_REASM_MAX_FRAGS; default 128 */
	uint64_t max_bytes;             /* data budget, rounded down to blocks; default 16 MiB */
	uint64_t timeout_ns;            /* from a datagram's first fragment; default 1 s */
};

/* Fragment accounting. Invariant:
 * frags_in == frags[COMPLETE] + sum(frags[drop reasons]) + frags_pending.
 * frags[HELD] counts fragments ever held (informational). */
struct alt_net_reasm_stats {
	uint64_t frags_in;
	uint64_t frags[ALT_NET_REASM_OUTCOME_COUNT];
	uint64_t datagrams[ALT_NET_REASM_OUTCOME_COUNT];       /* COMPLETE and drop reasons */
	uint32_t frags_pending;         /* held now */
	uint32_t datagrams_pending;     /* table slots in use now (dead ones included) */
	uint32_t blocks_in_use;
	uint32_t blocks_peak;
	uint32_t blocks_total;
};

struct alt_net_reasm;

/* "held", "overlap", ...; "?" out of range. */
const char *alt_net_reasm_outcome_name(enum alt_net_reasm_outcome o);

/* Defaults listed in struct alt_net_reasm_params. */
void alt_net_reasm_params_default(struct alt_net_reasm_params *p);

/* Bytes of caller memory for a reassembler; 0 if the parameters are invalid
 * (zero datagrams, max_frags out of range, a budget below one block, or a
 * zero timeout). */
size_t alt_net_reasm_memsize(const struct alt_net_reasm_params *p);

/* Lay a reassembler out on mem (alt_net_reasm_memsize bytes, 8-byte
 * aligned). NULL if the parameters are invalid. */
struct alt_net_reasm *alt_net_reasm_init(void *mem, const struct alt_net_reasm_params *p);

/* Add one fragment (pkt as filled by a FRAGMENT classification: inner.version,
 * inner.src/dst and frag are used). The data is copied; the frame may be
 * freed afterwards. Expires timed-out datagrams first. Returns this
 * fragment's outcome. On ALT_NET_REASM_COMPLETE, *dgram, *dgram_len is the
 * reassembled payload (for alt_net_classify_l4 with the same pkt), valid
 * until the next call on r. Dropping a datagram (overlap, too big, no
 * memory, too many fragments) also drops its held fragments under the same
 * reason, and later fragments of it are dropped under that reason until it
 * times out. A full table evicts the datagram begun longest ago. */
enum alt_net_reasm_outcome alt_net_reasm_add(struct alt_net_reasm *r,
	const struct alt_net_pkt *pkt, uint64_t now_ns,
	const uint8_t **dgram, size_t *dgram_len);

/* Drop every datagram begun at or before now_ns - timeout_ns (reason
 * TIMEOUT). Returns how many fragments were dropped. Time is the caller's
 * and should not go backwards (expiry walks datagrams in order of arrival
 * of their first fragment). */
uint32_t alt_net_reasm_expire(struct alt_net_reasm *r, uint64_t now_ns);

/* Drop every datagram in progress (reason TIMEOUT), e.g. at end of input.
 * Returns how many fragments were dropped. */
uint32_t alt_net_reasm_flush(struct alt_net_reasm *r);

void alt_net_reasm_get_stats(const struct alt_net_reasm *r, struct alt_net_reasm_stats *s);

#ifdef __cplusplus
}
#endif

#endif /* ALT_NET_H */
