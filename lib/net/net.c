/* SPDX-License-Identifier: BSD-3-Clause
 * L2..L4 classification and mirror decapsulation over a byte buffer.
 * One pass, front to back, through a small state machine: Ethernet ->
 * IPv4 | IPv6 (+ extension headers) -> UDP | GRE; GRE, ERSPAN and VXLAN
 * re-enter at Ethernet or IP. Each step checks its header fits before
 * reading it, and the IP total/payload length narrows the end pointer.
 */
#include "alt_net.h"
#include "../wire/alt_wire.h"

_Static_assert(ALT_NET_FMT_ATR == (int)ALT_FMT_ATR, "format ids");
_Static_assert(ALT_NET_FMT_JAEGER_COMPACT == (int)ALT_FMT_JAEGER_COMPACT, "format ids");
_Static_assert(ALT_NET_FMT_JAEGER_BINARY == (int)ALT_FMT_JAEGER_BINARY, "format ids");
_Static_assert(ALT_NET_FMT_XTRACE == (int)ALT_FMT_XTRACE, "format ids");
_Static_assert(ALT_NET_FMT_COUNT == (int)ALT_FMT_COUNT, "format ids");
_Static_assert(ALT_NET_ENCAP_COUNT <= 8, "encap_mask is 8 bits");

enum {
	ETH_HLEN = 14,
	VLAN_HLEN = 4,
	IP4_HLEN = 20,
	IP6_HLEN = 40,
	UDP_HLEN = 8,
	VXLAN_HLEN = 8,
	GRE_HLEN = 4,
	ERSPAN2_HLEN = 8,
	ERSPAN3_HLEN = 12,
	ERSPAN3_SUBHLEN = 8,
	IP6_FRAG_HLEN = 8,
};

enum {
	ET_IPV4 = 0x0800,
	ET_IPV6 = 0x86DD,
	ET_VLAN = 0x8100,
	ET_QINQ = 0x88A8,
	ET_QINQ_OLD = 0x9100,
	ET_TEB = 0x6558,        /* transparent Ethernet bridging */
	ET_ERSPAN2 = 0x88BE,
	ET_ERSPAN3 = 0x22EB,
};

enum {
	IPP_HOPOPT = 0,
	IPP_UDP = 17,
	IPP_ROUTING = 43,
	IPP_FRAGMENT = 44,
	IPP_GRE = 47,
	IPP_AH = 51,
	IPP_DSTOPTS = 60,
};

enum {
	GRE_F_C = 0x8000,
	GRE_F_R = 0x4000,
	GRE_F_K = 0x2000,
	GRE_F_S = 0x1000,
	GRE_F_SSR = 0x0800,
	GRE_VER_MASK = 0x0007,
	VXLAN_F_I = 0x08,
	IP4_MF = 0x2000,
	IP4_OFF_MASK = 0x1FFF,
};

/* Where parse() starts. */
enum parse_from {
	FROM_ETH,
	FROM_L3_PAYLOAD,        /* after the IP header / IPv6 fragment header */
};

static const char *const outcome_names[] = {
#define ALT_NET_OUT_STR(e, s) s,
	ALT_NET_OUTCOMES(ALT_NET_OUT_STR)
#undef ALT_NET_OUT_STR
};

static const char *const encap_names[] = {
#define ALT_NET_ENC_STR(e, s) s,
	ALT_NET_ENCAPS(ALT_NET_ENC_STR)
#undef ALT_NET_ENC_STR
};

/* Name of a classification outcome; "?" when out of range. */
const char *
alt_net_outcome_name(enum alt_net_outcome o)
{
	return (unsigned)o < ALT_NET_OUTCOME_COUNT ? outcome_names[o] : "?";
}

/* Name of an encapsulation; "?" when out of range. */
const char *
alt_net_encap_name(enum alt_net_encap e)
{
	return (unsigned)e < ALT_NET_ENCAP_COUNT ? encap_names[e] : "?";
}

/* Default ports for the four formats, VXLAN on 4789, two tunnel levels. */
void
alt_net_cfg_default(struct alt_net_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port[ALT_NET_FMT_ATR] = ALT_NET_PORT_ATR;
	cfg->port[ALT_NET_FMT_JAEGER_COMPACT] = ALT_NET_PORT_JAEGER_COMPACT;
	cfg->port[ALT_NET_FMT_JAEGER_BINARY] = ALT_NET_PORT_JAEGER_BINARY;
	cfg->port[ALT_NET_FMT_XTRACE] = ALT_NET_PORT_XTRACE;
	cfg->vxlan_port = ALT_NET_PORT_VXLAN;
	cfg->max_encap = 2;
}

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		((uint32_t)p[2] << 8) | p[3];
}

/* Version and addresses of the IP header at h (already validated). */
static inline void
fill_ip(struct alt_net_ip *ip, const uint8_t *h)
{
	if ((h[0] >> 4) == 4) {
		ip->version = 4;
		memcpy(ip->src, h + 12, 4);
		memset(ip->src + 4, 0, 12);
		memcpy(ip->dst, h + 16, 4);
		memset(ip->dst + 4, 0, 12);
	} else {
		ip->version = 6;
		memcpy(ip->src, h + 8, 16);
		memcpy(ip->dst, h + 24, 16);
	}
}

/* Addresses are copied only for the outcomes that report them (TRACING,
 * FRAGMENT), so that rejected traffic costs no copies: first is the
 * outermost IP header (NULL when this call did not parse it), cur the one
 * carrying the upper layer (NULL when unchanged). */
static inline void
fill_addrs(struct alt_net_pkt *out, const uint8_t *first, const uint8_t *cur)
{
	if (cur != NULL)
		fill_ip(&out->inner, cur);
	if (first != NULL) {
		fill_ip(&out->outer, first);
		out->outer.proto = out->outer.version == 4 ? first[9] : first[6];
		out->outer.n_ext = 0;
	}
}

/* Enter one tunnel level of type e (tunnel id id). */
static inline enum alt_net_outcome
tunnel_enter(const struct alt_net_cfg *cfg, struct alt_net_pkt *out,
	enum alt_net_encap e, uint32_t id)
{
	unsigned max = cfg->max_encap < ALT_NET_MAX_ENCAP ?
		cfg->max_encap : ALT_NET_MAX_ENCAP;

	if (out->depth >= max)
		return ALT_NET_TOO_DEEP;
	if (out->depth == 0) {
		out->encap = (uint8_t)e;
		out->tun_id = id;
	}
	out->depth++;
	out->encap_mask |= (uint8_t)(1u << e);
	return ALT_NET_TRACING;
}

static inline bool
ip6_is_ext(uint8_t nh)
{
	return nh == IPP_HOPOPT || nh == IPP_ROUTING || nh == IPP_DSTOPTS ||
		nh == IPP_AH || nh == IPP_FRAGMENT;
}

/* ---- the walk: one helper per layer ----
 * Each helper parses the header at w->p, moves w->p (and narrows w->end)
 * past it and says where the walk goes next; a result (an outcome) ends
 * the walk. All are inlined into parse(): the dispatch below compiles to
 * the jumps between layers. */

/* Where the walk is. */
struct walk {
	const uint8_t *p;               /* the next header */
	const uint8_t *end;             /* end of the current layer's bytes */
	const uint8_t *l3_first;        /* outermost IP header (NULL: not parsed by this call) */
	const uint8_t *l3_cur;          /* IP header carrying the upper layer (NULL: unchanged) */
	enum alt_net_outcome o;         /* the outcome, once STEP_DONE */
	uint8_t proto;                  /* upper-layer protocol of the current IP header */
};

/* The next header to parse, or STEP_DONE (the outcome is in the walk). */
enum step {
	STEP_DONE,
	STEP_ETH,
	STEP_IP4,
	STEP_IP6,
	STEP_IP6_EXT,
	STEP_UDP,
	STEP_GRE,
	STEP_VXLAN,
};

/* End the walk with outcome o. */
static inline enum step
walk_done(struct walk *w, enum alt_net_outcome o)
{
	w->o = o;
	return STEP_DONE;
}

/* The layer an IP header's upper protocol leads to (UDP or GRE). */
static inline enum step
walk_upper(uint8_t proto)
{
	return proto == IPP_GRE ? STEP_GRE : STEP_UDP;
}

/* Enter one tunnel level (tunnel_enter), then go on at next. */
static inline enum step
walk_tunnel(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out,
	enum alt_net_encap e, uint32_t id, enum step next)
{
	enum alt_net_outcome o = tunnel_enter(cfg, out, e, id);

	return o == ALT_NET_TRACING ? next : walk_done(w, o);
}

/* Resume after a reassembled datagram's IP header: its upper protocol is
 * the fragments' (IPv6: further extension headers may follow). */
static inline enum step
walk_l3_payload(struct walk *w, struct alt_net_pkt *out)
{
	w->proto = out->frag.proto;
	out->inner.proto = w->proto;
	if (out->inner.version == 6)
		return STEP_IP6_EXT;
	if (w->proto != IPP_UDP && w->proto != IPP_GRE)
		return walk_done(w, ALT_NET_NOT_UDP);
	return walk_upper(w->proto);
}

/* Ethernet and its VLAN tags (802.1Q, 802.1ad, 0x9100; at most
 * ALT_NET_MAX_VLAN): the last tag's VLAN ID and the encapsulation are
 * noted; IPv4 or IPv6 follows. */
static inline enum step
walk_eth(struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	unsigned n = 0;
	uint16_t vid = 0, et;

	if (p + ETH_HLEN > w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L2);
	et = rd16(p + 12);
	p += ETH_HLEN;
	while (et == ET_VLAN || et == ET_QINQ || et == ET_QINQ_OLD) {
		if (n == ALT_NET_MAX_VLAN)
			return walk_done(w, ALT_NET_TOO_DEEP);
		if (p + VLAN_HLEN > w->end)
			return walk_done(w, ALT_NET_TRUNCATED_L2);
		vid = rd16(p) & 0x0FFF;
		et = rd16(p + 2);
		p += VLAN_HLEN;
		n++;
	}
	w->p = p;
	out->n_vlan = (uint8_t)n;
	out->vlan = vid;
	if (n != 0) {
		enum alt_net_encap e = n >= 2 ? ALT_NET_ENCAP_QINQ : ALT_NET_ENCAP_VLAN;

		out->encap_mask |= (uint8_t)(1u << e);
		if (out->depth == 0)
			out->encap = (uint8_t)e;
	}
	if (et == ET_IPV4)
		return STEP_IP4;
	if (et == ET_IPV6)
		return STEP_IP6;
	return walk_done(w, ALT_NET_NOT_IP);
}

/* IPv4 carrying UDP or GRE: the total length drops any Ethernet padding;
 * a fragment ends the walk (FRAGMENT, described in out->frag). */
static inline enum step
walk_ip4(struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	unsigned ihl, tot;
	uint16_t fo;

	if (p + IP4_HLEN > w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	if ((p[0] >> 4) != 4)
		return walk_done(w, ALT_NET_BAD_IP_VERSION);
	w->proto = p[9];
	if (w->proto != IPP_UDP && w->proto != IPP_GRE)
		return walk_done(w, ALT_NET_NOT_UDP);
	ihl = (p[0] & 0x0Fu) * 4;
	if (ihl < IP4_HLEN)
		return walk_done(w, ALT_NET_BAD_IHL);
	if (p + ihl > w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	tot = rd16(p + 2);
	if (tot < ihl)
		return walk_done(w, ALT_NET_BAD_IP_LENGTH);
	if (tot > (size_t)(w->end - p))
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	w->end = p + tot;       /* drop Ethernet padding */
	out->inner.version = 4;
	out->inner.proto = w->proto;
	out->inner.n_ext = 0;
	w->l3_cur = p;
	if (out->depth == 0)
		w->l3_first = p;
	fo = rd16(p + 6);
	if ((fo & (IP4_MF | IP4_OFF_MASK)) != 0) {
		out->frag.data = p + ihl;
		out->frag.len = (uint16_t)(tot - ihl);
		out->frag.offset = (uint16_t)((fo & IP4_OFF_MASK) * 8u);
		out->frag.more = (fo & IP4_MF) != 0;
		out->frag.id = rd16(p + 4);
		out->frag.proto = w->proto;
		fill_addrs(out, w->l3_first, w->l3_cur);
		return walk_done(w, ALT_NET_FRAGMENT);
	}
	w->p = p + ihl;
	return walk_upper(w->proto);
}

/* The IPv6 fixed header: the payload length narrows the end; extension
 * headers, if any, follow. */
static inline enum step
walk_ip6(struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	unsigned plen;

	if (p + IP6_HLEN > w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	if ((p[0] >> 4) != 6)
		return walk_done(w, ALT_NET_BAD_IP_VERSION);
	w->proto = p[6];
	if (w->proto != IPP_UDP && w->proto != IPP_GRE && !ip6_is_ext(w->proto))
		return walk_done(w, ALT_NET_NOT_UDP);
	plen = rd16(p + 4);
	if (plen == 0)          /* jumbogram: not on a mirror port */
		return walk_done(w, ALT_NET_BAD_IP_LENGTH);
	if (plen > (size_t)(w->end - p) - IP6_HLEN)
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	w->end = p + IP6_HLEN + plen;
	out->inner.version = 6;
	out->inner.n_ext = 0;
	w->l3_cur = p;
	if (out->depth == 0)
		w->l3_first = p;
	w->p = p + IP6_HLEN;
	return STEP_IP6_EXT;
}

/* The IPv6 Fragment header at w->p (8 bytes, in bounds): an atomic
 * fragment (RFC 6946) is stepped over; a real one ends the walk
 * (FRAGMENT, described in out->frag). */
static inline enum step
walk_ip6_frag(struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *h = w->p;
	uint16_t fo = rd16(h + 2);

	w->proto = h[0];
	w->p = h + IP6_FRAG_HLEN;
	if ((fo & 0xFFF9u) == 0)        /* atomic fragment */
		return STEP_IP6_EXT;
	if (w->proto != IPP_UDP && w->proto != IPP_GRE && !ip6_is_ext(w->proto))
		return walk_done(w, ALT_NET_NOT_UDP);
	out->inner.proto = w->proto;
	out->frag.data = w->p;
	out->frag.len = (uint16_t)(w->end - w->p);
	out->frag.offset = (uint16_t)(fo & 0xFFF8u);
	out->frag.more = fo & 1;
	out->frag.id = rd32(h + 4);
	out->frag.proto = w->proto;
	fill_addrs(out, w->l3_first, w->l3_cur);
	return walk_done(w, ALT_NET_FRAGMENT);
}

/* After an IPv6 header (fixed or extension) whose Next Header is
 * w->proto: UDP or GRE goes on up; an extension header (at most
 * ALT_NET_MAX_EXT_HDRS) is stepped over, one per step. */
static inline enum step
walk_ip6_ext(struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	unsigned hl;

	if (w->proto == IPP_UDP || w->proto == IPP_GRE) {
		out->inner.proto = w->proto;
		return walk_upper(w->proto);
	}
	if (!ip6_is_ext(w->proto)) {
		out->inner.proto = w->proto;
		return walk_done(w, ALT_NET_NOT_UDP);
	}
	if (out->inner.n_ext >= ALT_NET_MAX_EXT_HDRS)
		return walk_done(w, ALT_NET_TOO_MANY_EXT_HEADERS);
	out->inner.n_ext++;
	if (p + 8 > w->end)     /* every extension header is >= 8 bytes */
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	if (w->proto == IPP_FRAGMENT)
		return walk_ip6_frag(w, out);
	if (w->proto == IPP_AH)
		hl = ((unsigned)p[1] + 2) * 4;
	else
		hl = ((unsigned)p[1] + 1) * 8;
	if (hl > (size_t)(w->end - p))
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	w->proto = p[0];
	w->p = p + hl;
	return STEP_IP6_EXT;
}

/* UDP: to a tracing port, the walk ends with the payload (TRACING); to
 * the VXLAN port, the tunnel follows. */
static inline enum step
walk_udp(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	uint16_t dport, ulen;
	unsigned f;

	if (p + UDP_HLEN > w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L4);
	dport = rd16(p + 2);
	out->sport = rd16(p);
	out->dport = dport;
	if (dport == cfg->vxlan_port && dport != 0)
		return STEP_VXLAN;
	for (f = 0; f < ALT_NET_FMT_COUNT; f++)
		if (cfg->port[f] == dport && dport != 0)
			break;
	if (f == ALT_NET_FMT_COUNT)
		return walk_done(w, ALT_NET_NOT_TRACING_PORT);
	ulen = rd16(p + 4);
	if (ulen < UDP_HLEN || ulen > (size_t)(w->end - p))
		return walk_done(w, ALT_NET_BAD_UDP_LENGTH);
	out->format = (uint8_t)f;
	out->payload = p + UDP_HLEN;
	out->payload_len = ulen - UDP_HLEN;
	fill_addrs(out, w->l3_first, w->l3_cur);
	return walk_done(w, ALT_NET_TRACING);
}

/* VXLAN (w->p at its UDP header, whose port was checked): the UDP length
 * narrows the end; an Ethernet frame follows. */
static inline enum step
walk_vxlan(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	uint16_t ulen = rd16(p + 4);

	if (ulen < UDP_HLEN || ulen > (size_t)(w->end - p))
		return walk_done(w, ALT_NET_BAD_UDP_LENGTH);
	w->end = p + ulen;
	p += UDP_HLEN;
	if (p + VXLAN_HLEN > w->end || (p[0] & VXLAN_F_I) == 0)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	w->p = p + VXLAN_HLEN;
	return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_VXLAN, rd32(p + 4) >> 8, STEP_ETH);
}

/* ERSPAN type I/II (w->p after the GRE header): type I (no sequence
 * number in GRE) has no ERSPAN header; an Ethernet frame follows. */
static inline enum step
walk_erspan2(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out,
	uint16_t gre_flags)
{
	const uint8_t *p = w->p;

	if ((gre_flags & GRE_F_S) == 0)
		return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_ERSPAN2, 0, STEP_ETH);
	if (p + ERSPAN2_HLEN > w->end || (p[0] >> 4) != 1)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	w->p = p + ERSPAN2_HLEN;
	return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_ERSPAN2, rd16(p + 2) & 0x03FF, STEP_ETH);
}

/* ERSPAN type III (w->p after the GRE header), with its optional
 * subheader: frame type 0 carries an Ethernet frame, type 2 an IP packet
 * without its Ethernet header. */
static inline enum step
walk_erspan3(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	enum alt_net_outcome o;
	unsigned ft, hl;

	if (p + ERSPAN3_HLEN > w->end || (p[0] >> 4) != 2)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	ft = (p[10] >> 2) & 0x1F;
	hl = ERSPAN3_HLEN + ((p[11] & 1) ? ERSPAN3_SUBHLEN : 0);
	if (p + hl > w->end || (ft != 0 && ft != 2))
		return walk_done(w, ALT_NET_BAD_ENCAP);
	o = tunnel_enter(cfg, out, ALT_NET_ENCAP_ERSPAN3, rd16(p + 2) & 0x03FF);
	if (o != ALT_NET_TRACING)
		return walk_done(w, o);
	p += hl;
	w->p = p;
	if (ft == 0)
		return STEP_ETH;
	if (p >= w->end)
		return walk_done(w, ALT_NET_TRUNCATED_L3);
	if ((p[0] >> 4) == 4)
		return STEP_IP4;
	if ((p[0] >> 4) == 6)
		return STEP_IP6;
	return walk_done(w, ALT_NET_BAD_IP_VERSION);
}

/* GRE version 0 (checksum, key and sequence number optional; no source
 * routing): transparent Ethernet bridging, IPv4, IPv6 or ERSPAN follows. */
static inline enum step
walk_gre(const struct alt_net_cfg *cfg, struct walk *w, struct alt_net_pkt *out)
{
	const uint8_t *p = w->p;
	uint16_t flags, ptype;
	unsigned hl = GRE_HLEN;
	uint32_t key = 0;

	if (p + GRE_HLEN > w->end)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	flags = rd16(p);
	ptype = rd16(p + 2);
	if ((flags & GRE_VER_MASK) != 0)        /* enhanced GRE (PPTP): PPP inside */
		return walk_done(w, ALT_NET_NOT_IP);
	if ((flags & (GRE_F_R | GRE_F_SSR)) != 0)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	if (flags & GRE_F_C)
		hl += 4;
	if (flags & GRE_F_K) {
		if (p + hl + 4 > w->end)
			return walk_done(w, ALT_NET_BAD_ENCAP);
		key = rd32(p + hl);
		hl += 4;
	}
	if (flags & GRE_F_S)
		hl += 4;
	if (p + hl > w->end)
		return walk_done(w, ALT_NET_BAD_ENCAP);
	w->p = p + hl;
	switch (ptype) {
	case ET_TEB:
		return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_GRE, key, STEP_ETH);
	case ET_IPV4:
		return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_GRE, key, STEP_IP4);
	case ET_IPV6:
		return walk_tunnel(cfg, w, out, ALT_NET_ENCAP_GRE, key, STEP_IP6);
	case ET_ERSPAN2:
		return walk_erspan2(cfg, w, out, flags);
	case ET_ERSPAN3:
		return walk_erspan3(cfg, w, out);
	default:
		return walk_done(w, ALT_NET_NOT_IP);
	}
}

/* Walk p..end from `from` (an Ethernet frame, or the upper layer of a
 * reassembled datagram), one layer at a time, to the outcome. */
static enum alt_net_outcome
parse(const struct alt_net_cfg *cfg, const uint8_t *p, const uint8_t *end,
	enum parse_from from, struct alt_net_pkt *out)
{
	struct walk w = { .p = p, .end = end };
	enum step s = from == FROM_ETH ? STEP_ETH : walk_l3_payload(&w, out);

	for (;;) {
		switch (s) {
		case STEP_ETH:
			s = walk_eth(&w, out);
			break;
		case STEP_IP4:
			s = walk_ip4(&w, out);
			break;
		case STEP_IP6:
			s = walk_ip6(&w, out);
			break;
		case STEP_IP6_EXT:
			s = walk_ip6_ext(&w, out);
			break;
		case STEP_UDP:
			s = walk_udp(cfg, &w, out);
			break;
		case STEP_GRE:
			s = walk_gre(cfg, &w, out);
			break;
		case STEP_VXLAN:
			s = walk_vxlan(cfg, &w, out);
			break;
		case STEP_DONE:
		default:
			return w.o;
		}
	}
}

/* Classify one captured Ethernet frame; see alt_net.h. */
enum alt_net_outcome
alt_net_classify(const struct alt_net_cfg *cfg, const uint8_t *frame, size_t len,
	struct alt_net_pkt *out)
{
	out->inner.version = 0;
	out->encap = ALT_NET_ENCAP_NONE;
	out->encap_mask = 0;
	out->depth = 0;
	out->tun_id = 0;
	return parse(cfg, frame, frame + len, FROM_ETH, out);
}

/* Classify the upper layer of a reassembled datagram; see alt_net.h. */
enum alt_net_outcome
alt_net_classify_l4(const struct alt_net_cfg *cfg, const uint8_t *l4, size_t len,
	struct alt_net_pkt *pkt)
{
	return parse(cfg, l4, l4 + len, FROM_L3_PAYLOAD, pkt);
}
