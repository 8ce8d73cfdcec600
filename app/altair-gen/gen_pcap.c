/* SPDX-License-Identifier: BSD-3-Clause
 * Packet writer: classic libpcap files (microsecond timestamps, Ethernet),
 * optional 802.1Q / 802.1ad tags, IPv4 or IPv6, UDP with checksums, IP
 * fragmentation above the MTU, and background noise (TCP, DNS, NTP, statsd,
 * ARP) interleaved with the tracing traffic. With an encapsulation, every
 * frame is then wrapped as a remote-mirroring session carries it (GRE,
 * ERSPAN II/III, VXLAN over IPv4 or IPv6); the wrapping draws no random
 * numbers, so the traffic inside is the same bytes as without it.
 */
#include <errno.h>
#include <stdlib.h>

#include "gen.h"

#define PCAP_SNAPLEN 262144u
#define ETH_MIN_FRAME 60u               /* without FCS: shorter frames are padded */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_IPV6 0x86dd
#define IPPROTO_UDP_ 17
#define IPPROTO_TCP_ 6
#define IPV6_NH_FRAG 44
#define IPV4_HDR 20u
#define IPV6_HDR 40u
#define IPV6_FRAG_HDR 8u
#define UDP_HDR 8u
#define TCP_HDR 20u
#define MAX_L2 22u
#define FRAME_BUF (MAX_L2 + IPV6_HDR + IPV6_FRAG_HDR + 65536u + 64u)
#define IO_BUF (8u << 20)

/* mirror encapsulation */
#define IPPROTO_GRE_ 47
#define ETHERTYPE_TEB 0x6558            /* transparent Ethernet bridging */
#define ETHERTYPE_ERSPAN2 0x88be
#define ETHERTYPE_ERSPAN3 0x22eb
#define GRE_FLAG_K 0x2000
#define GRE_FLAG_S 0x1000
#define GRE_HDR 4u
#define ERSPAN2_HDR 8u
#define ERSPAN3_HDR 12u
#define ERSPAN3_SUBHDR 8u
#define VXLAN_HDR 8u
#define VXLAN_PORT 4789
#define ETH_HDR 14u
#define TUNNEL_ID 1000u                 /* GRE key, ERSPAN session ID, VXLAN VNI */
#define ERSPAN3_PLATF_ID 5u             /* subheader: switch ID, port index, seconds */
#define ERSPAN3_GRA_1588 2u             /* timestamp: ns within the second */
#define MAX_TUN_HDR (IPV6_HDR + GRE_HDR + 4u + ERSPAN3_HDR + ERSPAN3_SUBHDR)

struct gen_pcap {
	FILE *f;
	char *iobuf;
	struct gen_net_cfg cfg;
	struct gen_rng rng;             /* noise decisions and contents */
	struct gen_host dst;            /* the appliance */
	uint64_t packets;
	uint64_t noise;
	uint64_t bytes;
	uint32_t noise_seq;
	uint32_t gre_seq;               /* ERSPAN sequence number, per frame */
	uint16_t outer_id;              /* outer IPv4 identification */
	bool err;
	uint8_t dgram[FRAME_BUF];       /* whole packet */
	uint8_t frag[FRAME_BUF];        /* one fragment */
	uint8_t outer[ETH_HDR + MAX_TUN_HDR + FRAME_BUF];      /* mirrored frame (--encap) */
};

static inline void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* One's-complement sum of n bytes (RFC 1071), in memory byte order: the
 * folded result stored back with memcpy is right whatever the host order. */
static uint64_t
csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t a, b;

		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		sum += (uint64_t)a + b;
		p += 8;
		n -= 8;
	}
	while (n >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		n -= 2;
	}
	if (n) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t w;

		memcpy(&w, last, 2);
		sum += w;
	}
	return sum;
}

static uint16_t
csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
csum_store(uint8_t *p, uint16_t c)
{
	memcpy(p, &c, 2);
}

/* Ethernet header (with the configured tags) at p; returns its length. */
static size_t
put_l2(const struct gen_pcap *pc, uint8_t *p, const uint8_t *src_mac, const uint8_t *dst_mac,
       uint16_t ethertype)
{
	size_t o = 12;

	memcpy(p, dst_mac, 6);
	memcpy(p + 6, src_mac, 6);
	if (pc->cfg.qinq_outer >= 0) {
		be16(p + o, ETHERTYPE_QINQ);
		be16(p + o + 2, (uint16_t)pc->cfg.qinq_outer);
		be16(p + o + 4, ETHERTYPE_VLAN);
		be16(p + o + 6, (uint16_t)pc->cfg.qinq_inner);
		o += 8;
	} else if (pc->cfg.vlan >= 0) {
		be16(p + o, ETHERTYPE_VLAN);
		be16(p + o + 2, (uint16_t)pc->cfg.vlan);
		o += 4;
	}
	be16(p + o, ethertype);
	return o + 2;
}

static void
put_ipv4(uint8_t *ip, uint16_t total, uint16_t id, uint16_t frag, uint8_t proto, const uint8_t *src,
	 const uint8_t *dst)
{
	ip[0] = 0x45;
	ip[1] = 0;
	be16(ip + 2, total);
	be16(ip + 4, id);
	be16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	ip[10] = 0;
	ip[11] = 0;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	csum_store(ip + 10, csum_fold(csum_add(0, ip, IPV4_HDR)));
}

static void
put_ipv6(uint8_t *ip, uint16_t plen, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
	be32(ip, 0x60000000u);
	be16(ip + 4, plen);
	ip[6] = nh;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
}

/* Transport checksum (UDP or TCP) of seg[0..len) with its pseudo header;
 * the checksum field must be zero on entry. */
static uint16_t
l4_csum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto, const uint8_t *seg, size_t len)
{
	uint8_t ph[40];
	size_t phl;

	if (v6) {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		be32(ph + 32, (uint32_t)len);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = proto;
		phl = 40;
	} else {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = proto;
		be16(ph + 10, (uint16_t)len);
		phl = 12;
	}
	return csum_fold(csum_add(csum_add(0, ph, phl), seg, len));
}

static void
put_udp(uint8_t *u, uint16_t sport, uint16_t dport, size_t len)
{
	be16(u, sport);
	be16(u + 2, dport);
	be16(u + 4, (uint16_t)len);
	u[6] = u[7] = 0;
}

/* ---- mirror encapsulation ---- */

static const char *const encap_names[GEN_ENCAP_COUNT] = {
	[GEN_ENCAP_NONE] = "none",
	[GEN_ENCAP_GRE] = "gre",
	[GEN_ENCAP_GRE_IP] = "gre-ip",
	[GEN_ENCAP_ERSPAN2] = "erspan2",
	[GEN_ENCAP_ERSPAN3] = "erspan3",
	[GEN_ENCAP_VXLAN] = "vxlan",
};

/* The --encap name of e; see gen.h. */
const char *
gen_encap_name(enum gen_encap e)
{
	return (unsigned)e < GEN_ENCAP_COUNT ? encap_names[e] : "?";
}

/* The encapsulation named s, or -1; see gen.h. */
int
gen_encap_parse(const char *s)
{
	for (unsigned i = 0; i < GEN_ENCAP_COUNT; i++)
		if (strcmp(s, encap_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Bytes of tunnel headers between the outer IP header and the mirrored
 * frame or packet. */
static size_t
tun_hdr_len(const struct gen_net_cfg *cfg)
{
	switch (cfg->encap) {
	case GEN_ENCAP_GRE:
		return GRE_HDR + 4;                     /* key */
	case GEN_ENCAP_GRE_IP:
		return GRE_HDR;
	case GEN_ENCAP_ERSPAN2:
		return GRE_HDR + 4 + ERSPAN2_HDR;       /* sequence */
	case GEN_ENCAP_ERSPAN3:
		return GRE_HDR + 4 + ERSPAN3_HDR + (cfg->erspan3_sub ? ERSPAN3_SUBHDR : 0);
	case GEN_ENCAP_VXLAN:
		return UDP_HDR + VXLAN_HDR;
	default:
		return 0;
	}
}

/* Largest --mtu whose mirrored packets fit the outer length field; see gen.h. */
unsigned
gen_encap_max_mtu(const struct gen_net_cfg *cfg)
{
	size_t l2 = 0, over;

	if (cfg->encap == GEN_ENCAP_NONE)
		return 65535;
	if (cfg->encap != GEN_ENCAP_GRE_IP)
		l2 = ETH_HDR + (cfg->qinq_outer >= 0 ? 8 : cfg->vlan >= 0 ? 4 : 0);
	/* IPv4 total length counts its header, IPv6 payload length does not */
	over = (cfg->encap_ipv6 ? 0 : IPV4_HDR) + tun_hdr_len(cfg) + l2;
	return (unsigned)(65535 - over);
}

/* Length of the Ethernet header (tags included) of a frame this file built,
 * and its ethertype. */
static size_t
frame_l2(const uint8_t *f, uint16_t *ethertype)
{
	size_t o = 12;
	uint16_t et = (uint16_t)(f[o] << 8 | f[o + 1]);

	while (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) {
		o += 4;
		et = (uint16_t)(f[o] << 8 | f[o + 1]);
	}
	*ethertype = et;
	return o + 2;
}

/* VXLAN outer UDP source port: a hash of the inner flow (RFC 7348 5.),
 * in the dynamic range. Addresses and protocol; ports too unless the packet
 * is a fragment, so that all fragments of a datagram take one port. Non-IP
 * frames hash their MAC addresses and ethertype. */
static uint16_t
vxlan_sport(const uint8_t *f, size_t len)
{
	uint8_t key[40];
	size_t kl;
	uint16_t et;
	size_t l2 = frame_l2(f, &et);
	const uint8_t *ip = f + l2;

	if (et == ETHERTYPE_IPV4 && len >= l2 + IPV4_HDR + 4) {
		bool frag = ((ip[6] << 8 | ip[7]) & 0x3fff) != 0;

		memcpy(key, ip + 12, 8);
		key[8] = ip[9];
		kl = 9;
		if (!frag) {
			memcpy(key + kl, ip + IPV4_HDR, 4);
			kl += 4;
		}
	} else if (et == ETHERTYPE_IPV6 && len >= l2 + IPV6_HDR + 4) {
		memcpy(key, ip + 8, 32);
		key[32] = ip[6];
		kl = 33;
		if (ip[6] != IPV6_NH_FRAG) {
			memcpy(key + kl, ip + IPV6_HDR, 4);
			kl += 4;
		}
	} else {
		memcpy(key, f, 12);
		be16(key + 12, et);
		kl = 14;
	}
	return (uint16_t)(49152u + (alt_hash_bytes(key, kl, 0x78766c616eULL) & 0x3fffu));
}

/* Wrap frame[0..len) (raw_len bytes before Ethernet padding) as the mirror
 * session carries it into pc->outer; returns the outer frame's length. */
static size_t
encap_frame(struct gen_pcap *pc, uint64_t ts_ns, const uint8_t *frame, size_t len, size_t raw_len)
{
	static const uint8_t mirror_mac[6] = { 0x02, 0x00, 0xc0, 0x00, 0x02, 0x01 };
	static const uint8_t collector_mac[6] = { 0x02, 0x00, 0xc0, 0x00, 0x02, 0x02 };
	static const uint8_t mirror_ip4[4] = { 192, 0, 2, 1 };
	static const uint8_t collector_ip4[4] = { 192, 0, 2, 2 };
	static const uint8_t mirror_ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 };
	static const uint8_t collector_ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 2 };
	const struct gen_net_cfg *cfg = &pc->cfg;
	bool v6 = cfg->encap_ipv6;
	size_t iph = v6 ? IPV6_HDR : IPV4_HDR;
	uint8_t *o = pc->outer;
	uint8_t *ip = o + ETH_HDR;
	uint8_t *t = ip + iph;
	size_t th = tun_hdr_len(cfg);
	const uint8_t *inner = frame;
	size_t n = len;
	uint8_t proto = IPPROTO_GRE_;
	uint16_t et;
	size_t l2 = frame_l2(frame, &et);

	memcpy(o, collector_mac, 6);
	memcpy(o + 6, mirror_mac, 6);
	be16(o + 12, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
	switch (cfg->encap) {
	case GEN_ENCAP_GRE:
		be16(t, GRE_FLAG_K);
		be16(t + 2, ETHERTYPE_TEB);
		be32(t + 4, TUNNEL_ID);
		break;
	case GEN_ENCAP_GRE_IP:
		/* the packet after the Ethernet header, without padding; the
		 * GRE protocol is its ethertype (ARP noise keeps 0x0806) */
		inner = frame + l2;
		n = raw_len - l2;
		be16(t, 0);
		be16(t + 2, et);
		break;
	case GEN_ENCAP_ERSPAN2: {
		uint8_t *e = t + GRE_HDR + 4;
		/* En: 3 when the frame keeps its VLAN tags, else 0 */
		unsigned en = l2 > ETH_HDR ? 3u : 0u;

		be16(t, GRE_FLAG_S);
		be16(t + 2, ETHERTYPE_ERSPAN2);
		be32(t + 4, pc->gre_seq++);
		be16(e, 1u << 12);                      /* version 1, VLAN 0 */
		be16(e + 2, (uint16_t)(en << 11 | TUNNEL_ID));  /* COS 0, T 0, session */
		be32(e + 4, 0);                         /* reserved, index 0 */
		break;
	}
	case GEN_ENCAP_ERSPAN3: {
		uint8_t *e = t + GRE_HDR + 4;
		bool sub = cfg->erspan3_sub;

		be16(t, GRE_FLAG_S);
		be16(t + 2, ETHERTYPE_ERSPAN3);
		be32(t + 4, pc->gre_seq++);
		be16(e, 2u << 12);                      /* version 2, VLAN 0 */
		be16(e + 2, TUNNEL_ID);                 /* COS 0, BSO 0, T 0, session */
		be32(e + 4, (uint32_t)(ts_ns % 1000000000u));   /* IEEE 1588: ns */
		be16(e + 8, 0);                         /* SGT */
		e[10] = 0;                              /* P 0, FT 0 (Ethernet), HW ID */
		e[11] = (uint8_t)(ERSPAN3_GRA_1588 << 1 | (sub ? 1u : 0u));    /* D 0 */
		if (sub) {
			uint8_t *sh = e + ERSPAN3_HDR;

			be16(sh, (uint16_t)(ERSPAN3_PLATF_ID << 10 | 1u));     /* switch ID 1 */
			be16(sh + 2, 1);                                        /* port index */
			be32(sh + 4, (uint32_t)(ts_ns / 1000000000u));          /* seconds */
		}
		break;
	}
	case GEN_ENCAP_VXLAN:
		proto = IPPROTO_UDP_;
		put_udp(t, vxlan_sport(frame, len), VXLAN_PORT, th + n);
		t[UDP_HDR] = 0x08;                      /* I: the VNI is valid */
		t[UDP_HDR + 1] = t[UDP_HDR + 2] = t[UDP_HDR + 3] = 0;
		be32(t + UDP_HDR + 4, TUNNEL_ID << 8);
		break;
	default:
		break;
	}
	memcpy(t + th, inner, n);
	if (v6)
		put_ipv6(ip, (uint16_t)(th + n), proto, mirror_ip6, collector_ip6);
	else
		put_ipv4(ip, (uint16_t)(iph + th + n), pc->outer_id++, 0x4000 /* DF */, proto, mirror_ip4,
			 collector_ip4);
	/* VXLAN over IPv4 sends a zero UDP checksum; IPv6 gets a real one */
	if (cfg->encap == GEN_ENCAP_VXLAN && v6) {
		uint16_t c = l4_csum(true, mirror_ip6, collector_ip6, IPPROTO_UDP_, t, th + n);

		csum_store(t + 6, c == 0 ? 0xffff : c);
	}
	return ETH_HDR + iph + th + n;
}

/* Write one frame (padded to the Ethernet minimum; frame must have room),
 * wrapped first when an encapsulation is configured. */
static void
write_frame(struct gen_pcap *pc, uint64_t ts_ns, uint8_t *frame, size_t len)
{
	size_t raw_len = len;
	uint8_t h[16];

	if (len < ETH_MIN_FRAME) {
		memset(frame + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	if (pc->cfg.encap != GEN_ENCAP_NONE) {
		len = encap_frame(pc, ts_ns, frame, len, raw_len);
		frame = pc->outer;
		if (len < ETH_MIN_FRAME) {
			memset(frame + len, 0, ETH_MIN_FRAME - len);
			len = ETH_MIN_FRAME;
		}
	}
	le32(h, (uint32_t)(ts_ns / 1000000000u));
	le32(h + 4, (uint32_t)(ts_ns % 1000000000u / 1000u));
	le32(h + 8, (uint32_t)len);
	le32(h + 12, (uint32_t)len);
	if (fwrite_unlocked(h, 1, sizeof(h), pc->f) != sizeof(h) ||
	    fwrite_unlocked(frame, 1, len, pc->f) != len)
		pc->err = true;
	pc->packets++;
	pc->bytes += len;
}

/* Emit the IP packet whose transport segment (l4, l4_len bytes) sits right
 * after room for the L2 and IP headers in pc->dgram (at dgram + MAX_L2 +
 * IPV6_HDR): unfragmented if it fits the MTU, else as fragments. */
static void
emit_ip(struct gen_pcap *pc, uint64_t ts_ns, const struct gen_host *src, const struct gen_host *dst,
	uint8_t proto, uint32_t ip_id, size_t l4_len)
{
	bool v6 = pc->cfg.ipv6;
	size_t iph = v6 ? IPV6_HDR : IPV4_HDR;
	uint8_t *l4 = pc->dgram + MAX_L2 + IPV6_HDR;
	size_t mtu = pc->cfg.mtu;

	if (iph + l4_len <= mtu) {
		uint8_t *ip = l4 - iph;
		size_t l2 = put_l2(pc, pc->frag, src->mac, dst->mac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
		uint8_t *frame = ip - l2;

		memcpy(frame, pc->frag, l2);
		if (v6)
			put_ipv6(ip, (uint16_t)l4_len, proto, src->ip6, dst->ip6);
		else
			put_ipv4(ip, (uint16_t)(iph + l4_len), (uint16_t)ip_id, 0x4000 /* DF */, proto,
				 src->ip4, dst->ip4);
		write_frame(pc, ts_ns, frame, l2 + iph + l4_len);
		return;
	}

	/* fragments: data in multiples of 8 bytes, the last one takes the rest */
	size_t per = v6 ? (mtu - IPV6_HDR - IPV6_FRAG_HDR) & ~(size_t)7 : (mtu - IPV4_HDR) & ~(size_t)7;

	for (size_t off = 0; off < l4_len; off += per) {
		size_t n = l4_len - off < per ? l4_len - off : per;
		bool more = off + n < l4_len;
		size_t l2 = put_l2(pc, pc->frag, src->mac, dst->mac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
		uint8_t *ip = pc->frag + l2;
		size_t hl;

		if (v6) {
			uint8_t *fh = ip + IPV6_HDR;

			put_ipv6(ip, (uint16_t)(IPV6_FRAG_HDR + n), IPV6_NH_FRAG, src->ip6, dst->ip6);
			fh[0] = proto;
			fh[1] = 0;
			be16(fh + 2, (uint16_t)(off | (more ? 1u : 0u)));
			be32(fh + 4, ip_id);
			hl = IPV6_HDR + IPV6_FRAG_HDR;
		} else {
			put_ipv4(ip, (uint16_t)(IPV4_HDR + n), (uint16_t)ip_id,
				 (uint16_t)((off >> 3) | (more ? 0x2000u : 0u)), proto, src->ip4, dst->ip4);
			hl = IPV4_HDR;
		}
		memcpy(ip + hl, l4 + off, n);
		write_frame(pc, ts_ns, pc->frag, l2 + hl + n);
	}
}

/* ---- noise ---- */

static void
noise_host(struct gen_pcap *pc, struct gen_host *h, unsigned net)
{
	unsigned x = 1 + (unsigned)gen_rng_below(&pc->rng, 200);

	memset(h, 0, sizeof(*h));
	h->mac[0] = 0x02;
	h->mac[2] = 0xc6;
	h->mac[3] = 0x12;
	h->mac[4] = (uint8_t)net;
	h->mac[5] = (uint8_t)x;
	h->ip4[0] = 198;
	h->ip4[1] = 18;
	h->ip4[2] = (uint8_t)net;
	h->ip4[3] = (uint8_t)x;
	h->ip6[0] = 0x20;
	h->ip6[1] = 0x01;
	h->ip6[2] = 0x0d;
	h->ip6[3] = 0xb8;
	h->ip6[7] = (uint8_t)net;
	h->ip6[15] = (uint8_t)x;
}

static const char *const dns_names[] = {
	"\x04" "cart" "\x03" "svc" "\x07" "cluster" "\x05" "local",
	"\x08" "payments" "\x07" "example" "\x03" "com",
	"\x03" "api" "\x06" "github" "\x03" "com",
	"\x05" "kafka" "\x04" "prod" "\x08" "internal",
};

static void
emit_noise(struct gen_pcap *pc, uint64_t ts_ns)
{
	struct gen_host a, b;
	uint8_t *l4 = pc->dgram + MAX_L2 + IPV6_HDR;
	unsigned kind = (unsigned)gen_rng_below(&pc->rng, 10);
	bool v6 = pc->cfg.ipv6;
	uint16_t sport = (uint16_t)(32768 + gen_rng_below(&pc->rng, 28000));
	size_t n;

	pc->noise_seq++;
	noise_host(pc, &a, 250);
	noise_host(pc, &b, 251);
	if (kind == 0) {
		/* ARP who-has b, from a */
		static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		size_t l2 = put_l2(pc, pc->frag, a.mac, bcast, ETHERTYPE_ARP);
		uint8_t *arp = pc->frag + l2;

		be16(arp, 1);
		be16(arp + 2, ETHERTYPE_IPV4);
		arp[4] = 6;
		arp[5] = 4;
		be16(arp + 6, 1);
		memcpy(arp + 8, a.mac, 6);
		memcpy(arp + 14, a.ip4, 4);
		memset(arp + 18, 0, 6);
		memcpy(arp + 24, b.ip4, 4);
		write_frame(pc, ts_ns, pc->frag, l2 + 28);
		pc->noise++;
		return;
	}
	if (kind <= 5) {
		/* TCP segment of a TLS session (ACK|PSH), or a bare ACK */
		size_t pl = kind == 5 ? 0 : 5 + (size_t)gen_rng_below(&pc->rng, 1200);
		uint8_t *t = l4;

		be16(t, sport);
		be16(t + 2, 443);
		be32(t + 4, (uint32_t)gen_rng_next(&pc->rng));
		be32(t + 8, (uint32_t)gen_rng_next(&pc->rng));
		t[12] = 5 << 4;
		t[13] = pl ? 0x18 : 0x10;
		be16(t + 14, 64240);
		t[16] = t[17] = 0;
		t[18] = t[19] = 0;
		if (pl) {
			uint8_t *d = t + TCP_HDR;

			d[0] = 0x17;
			d[1] = 0x03;
			d[2] = 0x03;
			be16(d + 3, (uint16_t)(pl - 5));
			for (size_t i = 5; i < pl; i += 8) {
				uint64_t r = gen_rng_next(&pc->rng);

				memcpy(d + i, &r, pl - i < 8 ? pl - i : 8);
			}
		}
		n = TCP_HDR + pl;
		csum_store(t + 16, l4_csum(v6, v6 ? a.ip6 : a.ip4, v6 ? b.ip6 : b.ip4, IPPROTO_TCP_, t, n));
		emit_ip(pc, ts_ns, &a, &b, IPPROTO_TCP_, pc->noise_seq, n);
		pc->noise++;
		return;
	}
	if (kind <= 7) {
		/* DNS query for an A record */
		const char *q = dns_names[gen_rng_below(&pc->rng, sizeof(dns_names) / sizeof(dns_names[0]))];
		size_t ql = strlen(q) + 1;
		uint8_t *d = l4 + UDP_HDR;

		be16(d, (uint16_t)gen_rng_next(&pc->rng));
		be16(d + 2, 0x0100);
		be16(d + 4, 1);
		memset(d + 6, 0, 6);
		memcpy(d + 12, q, ql);
		be16(d + 12 + ql, 1);
		be16(d + 14 + ql, 1);
		n = UDP_HDR + 16 + ql;
		put_udp(l4, sport, 53, n);
	} else if (kind == 8) {
		/* NTP client request */
		uint8_t *d = l4 + UDP_HDR;

		memset(d, 0, 48);
		d[0] = 0x23;
		be32(d + 40, (uint32_t)(ts_ns / 1000000000u + 2208988800u));
		n = UDP_HDR + 48;
		put_udp(l4, 123, 123, n);
	} else {
		/* statsd counter */
		static const char m[] = "checkout.requests:1|c|#env:prod";
		memcpy(l4 + UDP_HDR, m, sizeof(m) - 1);
		n = UDP_HDR + sizeof(m) - 1;
		put_udp(l4, sport, 8125, n);
	}
	csum_store(l4 + 6, l4_csum(v6, v6 ? a.ip6 : a.ip4, v6 ? b.ip6 : b.ip4, IPPROTO_UDP_, l4, n));
	emit_ip(pc, ts_ns, &a, &b, IPPROTO_UDP_, pc->noise_seq, n);
	pc->noise++;
}

/* ---- public ---- */

/* Open path and write the pcap file header; see gen.h. */
struct gen_pcap *
gen_pcap_open(const char *path, const struct gen_net_cfg *cfg)
{
	struct gen_pcap *pc = calloc(1, sizeof(*pc));
	uint8_t h[24];

	if (pc == NULL)
		return NULL;
	pc->cfg = *cfg;
	gen_rng_seed(&pc->rng, cfg->seed, UINT64_MAX - 2);
	pc->dst.mac[0] = 0x02;
	pc->dst.mac[2] = 0xc6;
	pc->dst.mac[3] = 0x13;
	pc->dst.mac[5] = 0x01;
	pc->dst.ip4[0] = 198;
	pc->dst.ip4[1] = 19;
	pc->dst.ip4[3] = 1;
	pc->dst.ip6[0] = 0x20;
	pc->dst.ip6[1] = 0x01;
	pc->dst.ip6[2] = 0x0d;
	pc->dst.ip6[3] = 0xb8;
	pc->dst.ip6[15] = 0x01;
	pc->f = fopen(path, "wb");
	if (pc->f == NULL)
		goto fail;
	pc->iobuf = malloc(IO_BUF);
	if (pc->iobuf != NULL)
		setvbuf(pc->f, pc->iobuf, _IOFBF, IO_BUF);
	le32(h, 0xa1b2c3d4u);
	le16(h + 4, 2);
	le16(h + 6, 4);
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, PCAP_SNAPLEN);
	le32(h + 20, 1);        /* LINKTYPE_ETHERNET */
	if (fwrite(h, 1, sizeof(h), pc->f) != sizeof(h)) {
		int e = errno;

		fclose(pc->f);
		errno = e;
		goto fail;
	}
	return pc;
fail:
	free(pc->iobuf);
	free(pc);
	return NULL;
}

/* Write one tracing UDP datagram and the noise drawn after each of its
 * packets; see gen.h. */
int
gen_pcap_udp(struct gen_pcap *pc, uint64_t ts_ns, const struct gen_host *src, uint16_t sport,
	     uint32_t ip_id, const uint8_t *payload, size_t len)
{
	uint8_t *l4 = pc->dgram + MAX_L2 + IPV6_HDR;
	bool v6 = pc->cfg.ipv6;
	size_t n = UDP_HDR + len;
	uint64_t before = pc->packets;

	put_udp(l4, sport, pc->cfg.dport, n);
	memcpy(l4 + UDP_HDR, payload, len);
	csum_store(l4 + 6, l4_csum(v6, v6 ? src->ip6 : src->ip4, v6 ? pc->dst.ip6 : pc->dst.ip4, IPPROTO_UDP_,
				   l4, n));
	if (l4[6] == 0 && l4[7] == 0)
		l4[6] = l4[7] = 0xff;
	emit_ip(pc, ts_ns, src, &pc->dst, IPPROTO_UDP_, ip_id, n);
	if (pc->cfg.noise > 0) {
		/* a geometric number of noise packets per tracing packet makes
		 * noise the fraction cfg.noise of all packets */
		for (uint64_t k = pc->packets - before; k > 0; k--)
			while (gen_rng_chance(&pc->rng, pc->cfg.noise))
				emit_noise(pc, ts_ns);
	}
	return pc->err ? -1 : 0;
}

/* Counters; see gen.h. */
void
gen_pcap_counts(const struct gen_pcap *pc, uint64_t *packets, uint64_t *noise, uint64_t *bytes)
{
	*packets = pc->packets;
	*noise = pc->noise;
	*bytes = pc->bytes;
}

/* Flush and close; see gen.h. */
int
gen_pcap_close(struct gen_pcap *pc)
{
	int rc = pc->err ? -1 : 0;

	if (fclose(pc->f) != 0)
		rc = -1;
	free(pc->iobuf);
	free(pc);
	return rc;
}
