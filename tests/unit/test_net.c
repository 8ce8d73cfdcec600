/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests for lib/net: classification, decapsulation, reassembly.
 * Frames are built back to front: the payload first, then each header is
 * prepended, so every length field knows what follows it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "alt_net.h"

/* ---- frame builder ---- */

struct bld {
	size_t head;
	uint8_t buf[140000];
};

static struct bld B;
static struct alt_net_cfg CFG;

static void
b_reset(struct bld *b)
{
	b->head = sizeof(b->buf);
}

static size_t
b_len(const struct bld *b)
{
	return sizeof(b->buf) - b->head;
}

static const uint8_t *
b_data(const struct bld *b)
{
	return b->buf + b->head;
}

static uint8_t *
b_pre(struct bld *b, size_t n)
{
	b->head -= n;
	memset(b->buf + b->head, 0, n);
	return b->buf + b->head;
}

static void
w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)(v >> 16));
	w16(p + 2, (uint16_t)v);
}

static void
b_payload(struct bld *b, const void *data, size_t n)
{
	memcpy(b_pre(b, n), data, n);
}

static void
b_fill(struct bld *b, size_t n, uint8_t seed)
{
	uint8_t *p = b_pre(b, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void
b_udp(struct bld *b, uint16_t sport, uint16_t dport)
{
	size_t n = b_len(b) + 8;
	uint8_t *h = b_pre(b, 8);

	w16(h, sport);
	w16(h + 2, dport);
	w16(h + 4, (uint16_t)n);
}

/* IPv4 header with IHL ihl (5..15), identification, flags/offset word fo. */
static void
b_ip4x(struct bld *b, uint8_t proto, unsigned ihl, uint16_t id, uint16_t fo, uint32_t src)
{
	size_t n = b_len(b) + ihl * 4;
	uint8_t *h = b_pre(b, ihl * 4);

	h[0] = (uint8_t)(0x40 | ihl);
	w16(h + 2, (uint16_t)n);
	w16(h + 4, id);
	w16(h + 6, fo);
	h[8] = 64;
	h[9] = proto;
	w32(h + 12, src);
	w32(h + 16, 0x0a000002);
}

static void
b_ip4(struct bld *b, uint8_t proto)
{
	b_ip4x(b, proto, 5, 1, 0x4000, 0x0a000001);
}

static void
b_ip6(struct bld *b, uint8_t nh)
{
	size_t n = b_len(b);
	uint8_t *h = b_pre(b, 40);

	h[0] = 0x60;
	w16(h + 4, (uint16_t)n);
	h[6] = nh;
	h[7] = 64;
	h[8] = 0x20;
	h[9] = 0x01;
	h[23] = 1;
	h[24] = 0x20;
	h[25] = 0x01;
	h[39] = 2;
}

/* Generic IPv6 extension header (HBH/routing/dstopts) of (len8 + 1) * 8
 * bytes, or AH with (len + 2) * 4 bytes. */
static void
b_ext6(struct bld *b, uint8_t type, uint8_t nh, uint8_t lenf)
{
	size_t n = type == 51 ? ((size_t)lenf + 2) * 4 : ((size_t)lenf + 1) * 8;
	uint8_t *h = b_pre(b, n);

	h[0] = nh;
	h[1] = lenf;
	if (n > 2)
		h[2] = 1;       /* PadN */
}

static void
b_frag6(struct bld *b, uint8_t nh, uint16_t off, int more, uint32_t id)
{
	uint8_t *h = b_pre(b, 8);

	h[0] = nh;
	w16(h + 2, (uint16_t)(off | (more ? 1 : 0)));
	w32(h + 4, id);
}

/* Ethernet with ntags VLAN tags (tpids[]), then ethertype et. */
static void
b_eth(struct bld *b, uint16_t et, unsigned ntags, const uint16_t *tpids)
{
	uint8_t *h = b_pre(b, 14 + 4 * ntags);

	for (unsigned i = 0; i < 6; i++) {
		h[i] = (uint8_t)(0x02 + i);
		h[6 + i] = (uint8_t)(0x12 + i);
	}
	for (unsigned i = 0; i < ntags; i++) {
		w16(h + 12 + 4 * i, tpids[i]);
		w16(h + 14 + 4 * i, (uint16_t)(100 + i));
	}
	w16(h + 12 + 4 * ntags, et);
}

static void
b_gre(struct bld *b, uint16_t flags, uint16_t ptype, uint32_t key)
{
	size_t n = 4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) +
		((flags & 0x1000) ? 4 : 0);
	uint8_t *h = b_pre(b, n);
	size_t o = 4;

	w16(h, flags);
	w16(h + 2, ptype);
	if (flags & 0x8000)
		o += 4;
	if (flags & 0x2000) {
		w32(h + o, key);
		o += 4;
	}
	if (flags & 0x1000)
		w32(h + o, 12345);
}

static void
b_erspan2(struct bld *b, uint16_t session, unsigned ver)
{
	uint8_t *h = b_pre(b, 8);

	w16(h, (uint16_t)(ver << 12 | 10));
	w16(h + 2, session & 0x3ff);
	w32(h + 4, 7);
}

static void
b_erspan3(struct bld *b, uint16_t session, unsigned ft, int sub)
{
	uint8_t *h;

	if (sub)
		b_pre(b, 8);
	h = b_pre(b, 12);
	w16(h, 2u << 12 | 10);
	w16(h + 2, session & 0x3ff);
	w32(h + 4, 0xdeadbeef);
	h[10] = (uint8_t)(ft << 2);
	h[11] = sub ? 1 : 0;
}

static void
b_vxlan(struct bld *b, uint32_t vni, uint8_t flags)
{
	uint8_t *h = b_pre(b, 8);

	h[0] = flags;
	w32(h + 4, vni << 8);
}

static const uint16_t TAG1[] = { 0x8100 };
static const uint16_t TAG2[] = { 0x88a8, 0x8100 };
static const uint16_t TAG3[] = { 0x9100, 0x88a8, 0x8100 };
static const uint16_t TAG4[] = { 0x9100, 0x88a8, 0x8100, 0x8100 };

static const char PAY[] = "hello-tracing-payload";

/* Plain Ethernet/IPv4/UDP to dport with PAY. */
static void
mk_plain(uint16_t dport)
{
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 40000, dport);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
}

/* Inner Ethernet/IPv4/UDP(7839) frame prepended into B. */
static void
mk_inner(void)
{
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 40000, ALT_NET_PORT_ATR);
	b_ip4x(&B, 17, 5, 9, 0, 0xc0a80001);
	b_eth(&B, 0x0800, 1, TAG1);
}

static enum alt_net_outcome
classify_copy(const uint8_t *p, size_t n, struct alt_net_pkt *out)
{
	/* exact-size heap copy so that valgrind sees any over-read */
	uint8_t *c = malloc(n ? n : 1);
	enum alt_net_outcome o;

	memcpy(c, p, n);
	o = alt_net_classify(&CFG, c, n, out);
	/* payload must lie within the copy */
	if (o == ALT_NET_TRACING)
		CU_ASSERT(out->payload >= c && out->payload + out->payload_len <= c + n);
	free(c);
	return o;
}

static enum alt_net_outcome
classify_b(struct alt_net_pkt *out)
{
	return alt_net_classify(&CFG, b_data(&B), b_len(&B), out);
}

static void
check_payload(const struct alt_net_pkt *p)
{
	CU_ASSERT_EQUAL(p->payload_len, sizeof(PAY));
	CU_ASSERT(memcmp(p->payload, PAY, sizeof(PAY)) == 0);
}

/* Every proper prefix of the frame in B is malformed, never a crash. */
static void
check_prefixes(void)
{
	size_t n = b_len(&B);
	struct alt_net_pkt pkt;
	unsigned bad = 0;

	for (size_t i = 0; i < n; i++) {
		enum alt_net_outcome o = classify_copy(b_data(&B), i, &pkt);

		if (!alt_net_outcome_malformed(o))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- classification ---- */

static void
test_names(void)
{
	CU_ASSERT_STRING_EQUAL(alt_net_outcome_name(ALT_NET_TRACING), "tracing");
	CU_ASSERT_STRING_EQUAL(alt_net_outcome_name(ALT_NET_TOO_DEEP), "too_deep");
	CU_ASSERT_STRING_EQUAL(alt_net_outcome_name(ALT_NET_OUTCOME_COUNT), "?");
	CU_ASSERT_STRING_EQUAL(alt_net_encap_name(ALT_NET_ENCAP_ERSPAN3), "erspan3");
	CU_ASSERT_STRING_EQUAL(alt_net_reasm_outcome_name(ALT_NET_REASM_EVICTED), "evicted");
	CU_ASSERT(!alt_net_outcome_malformed(ALT_NET_NOT_TRACING_PORT));
	CU_ASSERT(alt_net_outcome_malformed(ALT_NET_TRUNCATED_L2));
}

static void
test_formats(void)
{
	static const uint16_t ports[] = { 7839, 6831, 6832, 7831 };
	struct alt_net_pkt pkt;

	for (unsigned f = 0; f < 4; f++) {
		mk_plain(ports[f]);
		CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
		CU_ASSERT_EQUAL(pkt.format, f);
		CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_NONE);
		CU_ASSERT_EQUAL(pkt.encap_mask, 0);
		CU_ASSERT_EQUAL(pkt.sport, 40000);
		CU_ASSERT_EQUAL(pkt.dport, ports[f]);
		CU_ASSERT_EQUAL(pkt.inner.version, 4);
		CU_ASSERT_EQUAL(pkt.outer.version, 4);
		CU_ASSERT_EQUAL(pkt.inner.src[0], 10);
		CU_ASSERT_EQUAL(pkt.inner.src[3], 1);
		CU_ASSERT_EQUAL(pkt.inner.dst[3], 2);
		CU_ASSERT_EQUAL(pkt.inner.src[4], 0);
		check_payload(&pkt);
	}
}

/* A bare Ethernet frame is counted under encapsulation "none", a tagged
 * one only under its tags. */
static void
test_count_none(void)
{
	struct alt_net_pkt pkt;
	struct alt_net_counters c;

	memset(&c, 0, sizeof(c));
	mk_plain(7839);
	alt_net_count(&c, &pkt, classify_b(&pkt));
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 1, 6831);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 1, TAG1);
	alt_net_count(&c, &pkt, classify_b(&pkt));
	CU_ASSERT_EQUAL(c.outcome[ALT_NET_TRACING], 2);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_NONE], 1);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_VLAN], 1);
}

static void
test_custom_ports(void)
{
	struct alt_net_cfg c = CFG;
	struct alt_net_pkt pkt;

	c.port[ALT_NET_FMT_XTRACE] = 5555;
	c.port[ALT_NET_FMT_ATR] = 0;    /* disabled */
	mk_plain(5555);
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_XTRACE);
	mk_plain(7831);
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_NOT_TRACING_PORT);
	mk_plain(7839);
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_NOT_TRACING_PORT);
	mk_plain(0);
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_NOT_TRACING_PORT);
}

static void
test_vlan(void)
{
	struct alt_net_pkt pkt;
	const uint16_t *tags[] = { TAG1, TAG2, TAG3 };

	for (unsigned n = 1; n <= 3; n++) {
		b_reset(&B);
		b_payload(&B, PAY, sizeof(PAY));
		b_udp(&B, 1, 6831);
		b_ip4(&B, 17);
		b_eth(&B, 0x0800, n, tags[n - 1]);
		CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
		CU_ASSERT_EQUAL(pkt.encap, n == 1 ? ALT_NET_ENCAP_VLAN : ALT_NET_ENCAP_QINQ);
		CU_ASSERT_EQUAL(pkt.n_vlan, n);
		CU_ASSERT_EQUAL(pkt.vlan, 100 + n - 1);
		CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_JAEGER_COMPACT);
		check_payload(&pkt);
		check_prefixes();
	}
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 1, 6831);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 4, TAG4);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TOO_DEEP);
}

static void
test_ipv6_ext(void)
{
	struct alt_net_pkt pkt;

	/* HBH, routing, dstopts, AH, then UDP */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 2, 6832);
	b_ext6(&B, 51, 17, 4);
	b_ext6(&B, 60, 51, 1);
	b_ext6(&B, 43, 60, 0);
	b_ext6(&B, 0, 43, 0);
	b_ip6(&B, 0);
	b_eth(&B, 0x86DD, 1, TAG1);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.inner.version, 6);
	CU_ASSERT_EQUAL(pkt.inner.n_ext, 4);
	CU_ASSERT_EQUAL(pkt.inner.proto, 17);
	CU_ASSERT_EQUAL(pkt.inner.src[0], 0x20);
	CU_ASSERT_EQUAL(pkt.inner.dst[15], 2);
	CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_JAEGER_BINARY);
	check_payload(&pkt);
	check_prefixes();

	/* atomic fragment header: not a fragment */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 2, 7839);
	b_frag6(&B, 17, 0, 0, 77);
	b_ip6(&B, 44);
	b_eth(&B, 0x86DD, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	check_payload(&pkt);

	/* eight extension headers pass, nine do not */
	for (unsigned n = 8; n <= 9; n++) {
		b_reset(&B);
		b_payload(&B, PAY, sizeof(PAY));
		b_udp(&B, 2, 7839);
		b_ext6(&B, 60, 17, 0);
		for (unsigned i = 1; i < n; i++)
			b_ext6(&B, 60, 60, 0);
		b_ip6(&B, 60);
		b_eth(&B, 0x86DD, 0, NULL);
		CU_ASSERT_EQUAL(classify_b(&pkt),
			n == 8 ? ALT_NET_TRACING : ALT_NET_TOO_MANY_EXT_HEADERS);
	}

	/* No Next Header, ESP, ICMPv6: not UDP */
	b_reset(&B);
	b_fill(&B, 32, 1);
	b_ext6(&B, 60, 59, 0);
	b_ip6(&B, 60);
	b_eth(&B, 0x86DD, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_UDP);
	b_reset(&B);
	b_fill(&B, 32, 1);
	b_ip6(&B, 58);
	b_eth(&B, 0x86DD, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_UDP);
}

static void
test_gre(void)
{
	struct alt_net_pkt pkt;
	static const uint16_t flagsets[] = { 0, 0x8000, 0x2000, 0x1000, 0xB000 };

	for (unsigned i = 0; i < 5; i++) {
		/* transparent Ethernet bridging */
		mk_inner();
		b_gre(&B, flagsets[i], 0x6558, 42);
		b_ip4(&B, 47);
		b_eth(&B, 0x0800, 0, NULL);
		CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
		CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_GRE);
		CU_ASSERT_EQUAL(pkt.depth, 1);
		CU_ASSERT_EQUAL(pkt.tun_id, (flagsets[i] & 0x2000) ? 42u : 0u);
		CU_ASSERT_EQUAL(pkt.outer.src[3], 1);
		CU_ASSERT_EQUAL(pkt.inner.src[0], 192);
		CU_ASSERT_EQUAL(pkt.encap_mask,
			(1u << ALT_NET_ENCAP_GRE) | (1u << ALT_NET_ENCAP_VLAN));
		check_payload(&pkt);
	}
	check_prefixes();

	/* inner IPv4 and IPv6 directly */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 3, 7831);
	b_ip4x(&B, 17, 5, 3, 0, 0xc0a80001);
	b_gre(&B, 0x2000, 0x0800, 5);
	b_ip6(&B, 47);
	b_eth(&B, 0x86DD, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.outer.version, 6);
	CU_ASSERT_EQUAL(pkt.inner.version, 4);
	CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_XTRACE);
	check_payload(&pkt);
	check_prefixes();

	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 3, 7831);
	b_ip6(&B, 17);
	b_gre(&B, 0, 0x86DD, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.inner.version, 6);
	check_payload(&pkt);

	/* routing bit: bad; version 1 (PPTP) and MPLS payload: not IP */
	mk_inner();
	b_gre(&B, 0x4000, 0x6558, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_ENCAP);
	mk_inner();
	b_gre(&B, 0x0001, 0x880B, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_IP);
	mk_inner();
	b_gre(&B, 0, 0x8847, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_IP);
}

static void
test_erspan(void)
{
	struct alt_net_pkt pkt;

	/* type II */
	mk_inner();
	b_erspan2(&B, 77, 1);
	b_gre(&B, 0x1000, 0x88BE, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 1, TAG1);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_ERSPAN2);
	CU_ASSERT_EQUAL(pkt.tun_id, 77);
	CU_ASSERT_EQUAL(pkt.inner.src[0], 192);
	check_payload(&pkt);
	check_prefixes();

	/* wrong version */
	mk_inner();
	b_erspan2(&B, 77, 2);
	b_gre(&B, 0x1000, 0x88BE, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_ENCAP);

	/* type I: no ERSPAN header, no sequence number */
	mk_inner();
	b_gre(&B, 0, 0x88BE, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_ERSPAN2);

	/* type III, with and without the platform subheader */
	for (int sub = 0; sub <= 1; sub++) {
		mk_inner();
		b_erspan3(&B, 300, 0, sub);
		b_gre(&B, 0x1000, 0x22EB, 0);
		b_ip6(&B, 47);
		b_eth(&B, 0x86DD, 0, NULL);
		CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
		CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_ERSPAN3);
		CU_ASSERT_EQUAL(pkt.tun_id, 300);
		CU_ASSERT_EQUAL(pkt.outer.version, 6);
		check_payload(&pkt);
		check_prefixes();
	}
	/* type III carrying a bare IP packet (frame type 2) */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 3, 7839);
	b_ip4(&B, 17);
	b_erspan3(&B, 1, 2, 0);
	b_gre(&B, 0x1000, 0x22EB, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	check_payload(&pkt);
	/* unknown frame type */
	mk_inner();
	b_erspan3(&B, 1, 5, 0);
	b_gre(&B, 0x1000, 0x22EB, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_ENCAP);
}

static void
test_vxlan(void)
{
	struct alt_net_pkt pkt;
	struct alt_net_counters c;

	mk_inner();
	b_vxlan(&B, 0xABCDE, 0x08);
	b_udp(&B, 51000, 4789);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 2, TAG2);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_VXLAN);
	CU_ASSERT_EQUAL(pkt.tun_id, 0xABCDE);
	CU_ASSERT_EQUAL(pkt.dport, 7839);
	CU_ASSERT_EQUAL(pkt.n_vlan, 1);  /* inner Ethernet */
	check_payload(&pkt);
	memset(&c, 0, sizeof(c));
	alt_net_count(&c, &pkt, ALT_NET_TRACING);
	CU_ASSERT_EQUAL(c.outcome[ALT_NET_TRACING], 1);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_VXLAN], 1);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_QINQ], 1);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_VLAN], 1);
	CU_ASSERT_EQUAL(c.encap[ALT_NET_ENCAP_GRE], 0);
	check_prefixes();

	/* I flag missing */
	mk_inner();
	b_vxlan(&B, 1, 0x00);
	b_udp(&B, 51000, 4789);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_ENCAP);

	/* VXLAN disabled: plain non-tracing UDP */
	{
		struct alt_net_cfg c2 = CFG;

		c2.vxlan_port = 0;
		mk_inner();
		b_vxlan(&B, 1, 0x08);
		b_udp(&B, 51000, 4789);
		b_ip4(&B, 17);
		b_eth(&B, 0x0800, 0, NULL);
		CU_ASSERT_EQUAL(alt_net_classify(&c2, b_data(&B), b_len(&B), &pkt),
			ALT_NET_NOT_TRACING_PORT);
	}
}

static void
test_depth(void)
{
	struct alt_net_pkt pkt;
	struct alt_net_cfg c = CFG;

	/* VXLAN inside ERSPAN II: two levels, allowed */
	mk_inner();
	b_vxlan(&B, 9, 0x08);
	b_udp(&B, 51000, 4789);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	b_erspan2(&B, 5, 1);
	b_gre(&B, 0x1000, 0x88BE, 0);
	b_ip4x(&B, 47, 5, 1, 0, 0x01020304);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.depth, 2);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_ERSPAN2);
	CU_ASSERT_EQUAL(pkt.outer.src[0], 1);
	CU_ASSERT_EQUAL(pkt.inner.src[0], 192);
	CU_ASSERT(pkt.encap_mask & (1u << ALT_NET_ENCAP_VXLAN));
	check_payload(&pkt);
	check_prefixes();
	c.max_encap = 1;
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_TOO_DEEP);

	/* three levels with the default of two */
	b_gre(&B, 0, 0x6558, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TOO_DEEP);
	c.max_encap = 3;
	CU_ASSERT_EQUAL(alt_net_classify(&c, b_data(&B), b_len(&B), &pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.depth, 3);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_GRE);
}

static void
test_noise(void)
{
	struct alt_net_pkt pkt;

	/* ARP */
	b_reset(&B);
	b_fill(&B, 28, 3);
	b_eth(&B, 0x0806, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_IP);
	/* LLC (802.3 length) */
	b_reset(&B);
	b_fill(&B, 46, 3);
	b_eth(&B, 46, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_IP);
	/* TCP over IPv4 and IPv6 */
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_ip4(&B, 6);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_UDP);
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_ip6(&B, 6);
	b_eth(&B, 0x86DD, 1, TAG1);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_UDP);
	/* DNS */
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_udp(&B, 5353, 53);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_TRACING_PORT);
	CU_ASSERT_EQUAL(pkt.dport, 53);
	/* fragment of a non-UDP protocol */
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_ip4x(&B, 1, 5, 4, 0x2000, 1);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_NOT_UDP);
	/* Ethernet padding after a short datagram is ignored */
	b_reset(&B);
	b_fill(&B, 12, 0);
	b_payload(&B, "ab", 2);
	b_udp(&B, 1, 7839);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	{
		uint8_t *p = (uint8_t *)b_data(&B);

		w16(p + 14 + 2, 20 + 8 + 2);
		w16(p + 14 + 20 + 4, 8 + 2);
	}
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.payload_len, 2);
}

static void
test_malformed(void)
{
	struct alt_net_pkt pkt;
	uint8_t *p;

	/* L2 */
	mk_plain(7839);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), 13, &pkt), ALT_NET_TRUNCATED_L2);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), 0, &pkt), ALT_NET_TRUNCATED_L2);
	b_reset(&B);
	b_eth(&B, 0x0800, 1, TAG1);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), 16, &pkt), ALT_NET_TRUNCATED_L2);
	/* L3 truncated: header and total length */
	mk_plain(7839);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), 14 + 19, &pkt), ALT_NET_TRUNCATED_L3);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), b_len(&B) - 1, &pkt), ALT_NET_TRUNCATED_L3);
	/* version */
	mk_plain(7839);
	p = (uint8_t *)b_data(&B);
	p[14] = 0x65;
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_IP_VERSION);
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_ip4(&B, 17);
	b_eth(&B, 0x86DD, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_IP_VERSION);
	/* IHL */
	mk_plain(7839);
	p = (uint8_t *)b_data(&B);
	p[14] = 0x44;
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_IHL);
	p[14] = 0x4F;   /* 60-byte header, longer than the frame holds after it */
	w16(p + 16, 20);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, b_data(&B), 14 + 40, &pkt), ALT_NET_TRUNCATED_L3);
	/* total length below IHL */
	mk_plain(7839);
	p = (uint8_t *)b_data(&B);
	w16(p + 16, 19);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_IP_LENGTH);
	/* IPv6 payload length zero (jumbogram) and beyond the frame */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 1, 7839);
	b_ip6(&B, 17);
	b_eth(&B, 0x86DD, 0, NULL);
	p = (uint8_t *)b_data(&B);
	w16(p + 18, 0);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_IP_LENGTH);
	w16(p + 18, 1000);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRUNCATED_L3);
	/* IPv4 options are skipped */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 1, 7839);
	b_ip4x(&B, 17, 8, 1, 0, 1);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	check_payload(&pkt);
	/* L4 truncated: UDP header cut inside a consistent IP length */
	b_reset(&B);
	b_fill(&B, 6, 0);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRUNCATED_L4);
	/* UDP length below 8 and beyond the IP payload */
	mk_plain(7839);
	p = (uint8_t *)b_data(&B);
	w16(p + 14 + 20 + 4, 7);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_UDP_LENGTH);
	w16(p + 14 + 20 + 4, 8 + sizeof(PAY) + 1);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_UDP_LENGTH);
	w16(p + 14 + 20 + 4, 8);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.payload_len, 0);
	/* extension header running past the payload */
	b_reset(&B);
	b_fill(&B, 8, 0);
	b_ip6(&B, 60);
	b_eth(&B, 0x86DD, 0, NULL);
	p = (uint8_t *)b_data(&B);
	p[14 + 40 + 1] = 3;
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRUNCATED_L3);
	/* GRE header cut */
	b_reset(&B);
	b_fill(&B, 2, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_BAD_ENCAP);
	/* inner Ethernet cut */
	b_reset(&B);
	b_fill(&B, 10, 0);
	b_gre(&B, 0, 0x6558, 0);
	b_ip4(&B, 47);
	b_eth(&B, 0x0800, 0, NULL);
	CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_TRUNCATED_L2);
}

/* Prefixes of a frame classified FRAGMENT, and of noise, never crash. */
static void
test_prefixes_misc(void)
{
	b_reset(&B);
	b_fill(&B, 1480, 1);
	b_ip4x(&B, 17, 5, 5, 0x2000, 1);
	b_eth(&B, 0x0800, 1, TAG1);
	check_prefixes();
	b_reset(&B);
	b_fill(&B, 1000, 1);
	b_frag6(&B, 17, 1000 & ~7, 1, 5);
	b_ext6(&B, 0, 44, 0);
	b_ip6(&B, 0);
	b_eth(&B, 0x86DD, 0, NULL);
	check_prefixes();
}

/* ---- reassembly ---- */

enum { MAXF = 160, FRAME_CAP = 1700 };

static uint8_t FR[MAXF][FRAME_CAP];
static size_t FRLEN[MAXF];
static uint8_t DG[70000];       /* UDP header + payload */
static size_t DGLEN;

/* UDP datagram to port with n payload bytes in DG. */
static void
mk_dgram(uint16_t dport, size_t n, uint8_t seed)
{
	b_reset(&B);
	b_fill(&B, n, seed);
	b_udp(&B, 1234, dport);
	DGLEN = b_len(&B);
	memcpy(DG, b_data(&B), DGLEN);
}

/* Cut DG into fragments of fl bytes (multiple of 8) as IPv4 (v == 4) or
 * IPv6 frames; returns the count. */
static unsigned
mk_frags(int v, size_t fl, uint32_t id, uint32_t src)
{
	unsigned n = 0;

	for (size_t off = 0; off < DGLEN; off += fl, n++) {
		size_t k = DGLEN - off < fl ? DGLEN - off : fl;
		int more = off + k < DGLEN;

		b_reset(&B);
		b_payload(&B, DG + off, k);
		if (v == 4) {
			b_ip4x(&B, 17, 5, (uint16_t)id,
				(uint16_t)((more ? 0x2000 : 0) | (off / 8)), src);
			b_eth(&B, 0x0800, 0, NULL);
		} else {
			b_frag6(&B, 17, (uint16_t)off, more, id);
			b_ext6(&B, 60, 44, 0);
			b_ip6(&B, 60);
			b_eth(&B, 0x86DD, 1, TAG1);
		}
		CU_ASSERT_FATAL(n < MAXF && b_len(&B) <= FRAME_CAP);
		memcpy(FR[n], b_data(&B), b_len(&B));
		FRLEN[n] = b_len(&B);
	}
	return n;
}

static struct alt_net_reasm *
mk_reasm(uint32_t max_dg, uint64_t max_bytes, uint64_t timeout_ns, void **mem)
{
	struct alt_net_reasm_params p;
	size_t sz;

	alt_net_reasm_params_default(&p);
	p.max_datagrams = max_dg;
	p.max_bytes = max_bytes;
	p.timeout_ns = timeout_ns;
	sz = alt_net_reasm_memsize(&p);
	CU_ASSERT_FATAL(sz > 0);
	*mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	CU_ASSERT_FATAL(*mem != NULL);
	return alt_net_reasm_init(*mem, &p);
}

static void
check_invariant(const struct alt_net_reasm *r)
{
	struct alt_net_reasm_stats s;
	uint64_t sum;

	alt_net_reasm_get_stats(r, &s);
	sum = s.frags[ALT_NET_REASM_COMPLETE] + s.frags_pending;
	for (unsigned i = ALT_NET_REASM_DUPLICATE; i < ALT_NET_REASM_OUTCOME_COUNT; i++)
		sum += s.frags[i];
	CU_ASSERT_EQUAL(sum, s.frags_in);
}

/* Feed fragments in order[] (n of them); returns the number of COMPLETE
 * outcomes and checks each completed datagram against DG. */
static unsigned
feed(struct alt_net_reasm *r, const unsigned *order, unsigned n, uint64_t now,
	enum alt_net_reasm_outcome *last)
{
	unsigned done = 0;

	for (unsigned i = 0; i < n; i++) {
		struct alt_net_pkt pkt;
		const uint8_t *dg = NULL;
		size_t dl = 0;
		enum alt_net_reasm_outcome ro;

		CU_ASSERT_EQUAL_FATAL(alt_net_classify(&CFG, FR[order[i]], FRLEN[order[i]], &pkt),
			ALT_NET_FRAGMENT);
		ro = alt_net_reasm_add(r, &pkt, now, &dg, &dl);
		if (last)
			*last = ro;
		if (ro == ALT_NET_REASM_COMPLETE) {
			done++;
			CU_ASSERT_EQUAL(dl, DGLEN);
			CU_ASSERT(memcmp(dg, DG, DGLEN) == 0);
			CU_ASSERT_EQUAL(alt_net_classify_l4(&CFG, dg, dl, &pkt), ALT_NET_TRACING);
			CU_ASSERT_EQUAL(pkt.payload_len, DGLEN - 8);
			CU_ASSERT_EQUAL(pkt.dport, 6831);
			CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_JAEGER_COMPACT);
		}
	}
	return done;
}

static void
shuffle(unsigned *a, unsigned n, unsigned seed)
{
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j;
		unsigned t;

		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static void
test_reasm_v4_44(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(64, 4u << 20, 1000000000ull, &mem);
	unsigned ord[MAXF] = { 0 }, n;
	struct alt_net_reasm_stats s;

	mk_dgram(6831, 65000 - 8, 3);
	n = mk_frags(4, 1480, 0x1234, 0x0a000001);
	CU_ASSERT_EQUAL(n, 44);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	CU_ASSERT_EQUAL(feed(r, ord, n, 10, NULL), 1);
	for (unsigned i = 0; i < n; i++)
		ord[i] = n - 1 - i;
	CU_ASSERT_EQUAL(feed(r, ord, n, 20, NULL), 1);
	for (unsigned k = 0; k < 5; k++) {
		for (unsigned i = 0; i < n; i++)
			ord[i] = i;
		shuffle(ord, n, 99 + k);
		CU_ASSERT_EQUAL(feed(r, ord, n, 30 + k, NULL), 1);
	}
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.frags_in, 7 * 44);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_COMPLETE], 7 * 44);
	CU_ASSERT_EQUAL(s.datagrams[ALT_NET_REASM_COMPLETE], 7);
	CU_ASSERT_EQUAL(s.frags_pending, 0);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	CU_ASSERT_EQUAL(s.blocks_peak, 32);
	check_invariant(r);
	free(mem);
}

static void
test_reasm_interleaved(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(64, 4u << 20, 1000000000ull, &mem);
	static uint8_t fa[MAXF][FRAME_CAP], dga[70000];
	static size_t fla[MAXF];
	unsigned na, nb, done = 0;
	size_t dla;

	/* datagram A (id 7 from .1) and B (id 7 from .9) interleaved */
	mk_dgram(6831, 9000, 1);
	na = mk_frags(4, 1480, 7, 0x0a000001);
	memcpy(fa, FR, sizeof(fa));
	memcpy(fla, FRLEN, sizeof(fla));
	memcpy(dga, DG, DGLEN);
	dla = DGLEN;
	mk_dgram(6831, 5000, 2);
	nb = mk_frags(4, 1480, 7, 0x0a000009);
	for (unsigned i = 0; i < na || i < nb; i++) {
		struct alt_net_pkt pkt;
		const uint8_t *dg;
		size_t dl;

		if (i < na) {
			CU_ASSERT_EQUAL(alt_net_classify(&CFG, fa[i], fla[i], &pkt), ALT_NET_FRAGMENT);
			if (alt_net_reasm_add(r, &pkt, 1, &dg, &dl) == ALT_NET_REASM_COMPLETE) {
				CU_ASSERT(dl == dla && memcmp(dg, dga, dl) == 0);
				done++;
			}
		}
		if (i < nb) {
			CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[i], FRLEN[i], &pkt), ALT_NET_FRAGMENT);
			if (alt_net_reasm_add(r, &pkt, 1, &dg, &dl) == ALT_NET_REASM_COMPLETE) {
				CU_ASSERT(dl == DGLEN && memcmp(dg, DG, dl) == 0);
				done++;
			}
		}
	}
	CU_ASSERT_EQUAL(done, 2);
	check_invariant(r);
	free(mem);
}

static void
test_reasm_v6(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(64, 4u << 20, 1000000000ull, &mem);
	unsigned ord[MAXF] = { 0 }, n;
	struct alt_net_pkt pkt;

	mk_dgram(6831, 60000, 5);
	n = mk_frags(6, 1232, 0xAABBCCDD, 0);
	CU_ASSERT_EQUAL(n, 49);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[1], FRLEN[1], &pkt), ALT_NET_FRAGMENT);
	CU_ASSERT_EQUAL(pkt.frag.id, 0xAABBCCDD);
	CU_ASSERT_EQUAL(pkt.frag.offset, 1232);
	CU_ASSERT_EQUAL(pkt.frag.more, 1);
	CU_ASSERT_EQUAL(pkt.inner.version, 6);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	shuffle(ord, n, 7);
	CU_ASSERT_EQUAL(feed(r, ord, n, 5, NULL), 1);
	check_invariant(r);

	/* a destination options header inside the fragmentable part */
	b_reset(&B);
	b_payload(&B, PAY, sizeof(PAY));
	b_udp(&B, 9, 7839);
	b_ext6(&B, 60, 17, 0);
	DGLEN = b_len(&B);
	memcpy(DG, b_data(&B), DGLEN);
	{
		const uint8_t *dg;
		size_t dl;
		enum alt_net_reasm_outcome ro = ALT_NET_REASM_HELD;

		for (unsigned i = 0; i < 2; i++) {
			size_t off = i * 16, k = i ? DGLEN - 16 : 16;

			b_reset(&B);
			b_payload(&B, DG + off, k);
			b_frag6(&B, 60, (uint16_t)off, !i, 42);
			b_ip6(&B, 44);
			b_eth(&B, 0x86DD, 0, NULL);
			CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_FRAGMENT);
			ro = alt_net_reasm_add(r, &pkt, 6, &dg, &dl);
		}
		CU_ASSERT_EQUAL(ro, ALT_NET_REASM_COMPLETE);
		CU_ASSERT_EQUAL(alt_net_classify_l4(&CFG, dg, dl, &pkt), ALT_NET_TRACING);
		CU_ASSERT_EQUAL(pkt.format, ALT_NET_FMT_ATR);
		check_payload(&pkt);
	}
	check_invariant(r);
	free(mem);
}

static void
test_reasm_64(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(8, 1u << 20, 1000000000ull, &mem);
	unsigned ord[MAXF] = { 0 }, n;

	mk_dgram(6831, 64 * 1000 - 8, 9);
	n = mk_frags(4, 1000, 0xBEEF, 0x0a000001);
	CU_ASSERT_EQUAL(n, 64);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	shuffle(ord, n, 3);
	CU_ASSERT_EQUAL(feed(r, ord, n, 1, NULL), 1);
	/* 128 small fragments fit the default max_frags too */
	mk_dgram(6831, 128 * 8 * 60 - 8, 4);
	n = mk_frags(4, 480, 0xBEF0, 0x0a000001);
	CU_ASSERT_EQUAL(n, 128);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	shuffle(ord, n, 5);
	CU_ASSERT_EQUAL(feed(r, ord, n, 2, NULL), 1);
	check_invariant(r);
	free(mem);
}

static void
test_reasm_dup_overlap(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(8, 1u << 20, 1000000000ull, &mem);
	unsigned ord[MAXF] = { 0 }, n;
	enum alt_net_reasm_outcome last;
	struct alt_net_reasm_stats s;
	struct alt_net_pkt pkt;
	const uint8_t *dg;
	size_t dl;

	mk_dgram(6831, 6000, 1);
	n = mk_frags(4, 1480, 1, 0x0a000001);
	CU_ASSERT_EQUAL(n, 5);
	/* duplicates of a middle and of the last fragment */
	ord[0] = 0; ord[1] = 2; ord[2] = 2; ord[3] = 4; ord[4] = 4; ord[5] = 1; ord[6] = 3;
	CU_ASSERT_EQUAL(feed(r, ord, 7, 1, NULL), 1);
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_DUPLICATE], 2);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_COMPLETE], 5);
	check_invariant(r);

	/* overlap: fragment 1 shifted by 8 bytes */
	n = mk_frags(4, 1480, 2, 0x0a000001);
	ord[0] = 0;
	ord[1] = 2;
	CU_ASSERT_EQUAL(feed(r, ord, 2, 2, &last), 0);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[1], FRLEN[1], &pkt), ALT_NET_FRAGMENT);
	pkt.frag.offset += 8;
	CU_ASSERT_EQUAL(alt_net_reasm_add(r, &pkt, 2, &dg, &dl), ALT_NET_REASM_OVERLAP);
	/* later fragments of the dropped datagram: same reason */
	ord[0] = 1;
	ord[1] = 3;
	ord[2] = 4;
	CU_ASSERT_EQUAL(feed(r, ord, 3, 2, &last), 0);
	CU_ASSERT_EQUAL(last, ALT_NET_REASM_OVERLAP);
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_OVERLAP], 6);
	CU_ASSERT_EQUAL(s.datagrams[ALT_NET_REASM_OVERLAP], 1);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	check_invariant(r);

	/* two different last fragments */
	n = mk_frags(4, 1480, 3, 0x0a000001);
	ord[0] = 4;
	CU_ASSERT_EQUAL(feed(r, ord, 1, 3, &last), 0);
	CU_ASSERT_EQUAL(last, ALT_NET_REASM_HELD);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[4], FRLEN[4], &pkt), ALT_NET_FRAGMENT);
	pkt.frag.len -= 8;
	pkt.frag.offset += 16;
	CU_ASSERT_EQUAL(alt_net_reasm_add(r, &pkt, 3, &dg, &dl), ALT_NET_REASM_OVERLAP);

	/* non-last fragment not a multiple of 8: bad, datagram unaffected */
	n = mk_frags(4, 1480, 4, 0x0a000001);
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[0], FRLEN[0], &pkt), ALT_NET_FRAGMENT);
	pkt.frag.len -= 3;
	CU_ASSERT_EQUAL(alt_net_reasm_add(r, &pkt, 4, &dg, &dl), ALT_NET_REASM_BAD_FRAG);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	CU_ASSERT_EQUAL(feed(r, ord, n, 4, NULL), 1);

	/* too big: offset 65000 + 1480 */
	CU_ASSERT_EQUAL(alt_net_classify(&CFG, FR[1], FRLEN[1], &pkt), ALT_NET_FRAGMENT);
	pkt.frag.id = 5;
	pkt.frag.offset = 65000;
	CU_ASSERT_EQUAL(alt_net_reasm_add(r, &pkt, 5, &dg, &dl), ALT_NET_REASM_TOO_BIG);
	pkt.frag.offset = 0;
	CU_ASSERT_EQUAL(alt_net_reasm_add(r, &pkt, 5, &dg, &dl), ALT_NET_REASM_TOO_BIG);
	check_invariant(r);
	free(mem);
}

static void
test_reasm_timeout(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(8, 1u << 20, 1000, &mem);
	unsigned ord[MAXF] = { 0 }, n;
	struct alt_net_reasm_stats s;
	enum alt_net_reasm_outcome last;

	mk_dgram(6831, 6000, 1);
	n = mk_frags(4, 1480, 1, 0x0a000001);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	CU_ASSERT_EQUAL(feed(r, ord, 3, 100, NULL), 0);
	CU_ASSERT_EQUAL(alt_net_reasm_expire(r, 1099), 0);
	CU_ASSERT_EQUAL(alt_net_reasm_expire(r, 1100), 3);
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_TIMEOUT], 3);
	CU_ASSERT_EQUAL(s.datagrams[ALT_NET_REASM_TIMEOUT], 1);
	CU_ASSERT_EQUAL(s.datagrams_pending, 0);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	/* the rest starts a new datagram that cannot complete */
	CU_ASSERT_EQUAL(feed(r, ord + 3, 2, 1200, &last), 0);
	CU_ASSERT_EQUAL(last, ALT_NET_REASM_HELD);
	/* expiry also runs inside add */
	CU_ASSERT_EQUAL(feed(r, ord, 1, 5000, &last), 0);
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_TIMEOUT], 5);
	CU_ASSERT_EQUAL(s.frags_pending, 1);
	CU_ASSERT_EQUAL(alt_net_reasm_flush(r), 1);
	check_invariant(r);
	free(mem);
}

static void
test_reasm_table_full(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(2, 1u << 20, 1000000000ull, &mem);
	struct alt_net_reasm_stats s;
	unsigned ord[MAXF] = { 0 }, n;
	enum alt_net_reasm_outcome last;

	mk_dgram(6831, 3000, 1);
	for (uint32_t id = 1; id <= 3; id++) {
		n = mk_frags(4, 1480, id, 0x0a000001);
		ord[0] = 0;
		ord[1] = 1;
		CU_ASSERT_EQUAL(feed(r, ord, 2, id, &last), 0);
		CU_ASSERT_EQUAL(last, ALT_NET_REASM_HELD);
	}
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.datagrams[ALT_NET_REASM_EVICTED], 1);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_EVICTED], 2);
	CU_ASSERT_EQUAL(s.datagrams_pending, 2);
	/* id 1 was evicted: its last fragment starts over; 2 and 3 complete */
	ord[0] = 2;
	CU_ASSERT_EQUAL(feed(r, ord, 1, 10, NULL), 1);      /* id 3 */
	n = mk_frags(4, 1480, 2, 0x0a000001);
	CU_ASSERT_EQUAL(feed(r, ord, 1, 11, NULL), 1);
	n = mk_frags(4, 1480, 1, 0x0a000001);
	CU_ASSERT_EQUAL(feed(r, ord, 1, 12, &last), 0);
	CU_ASSERT_EQUAL(last, ALT_NET_REASM_HELD);
	(void)n;
	check_invariant(r);
	free(mem);
}

static void
test_reasm_memory(void)
{
	void *mem;
	/* 8 blocks = 16 KiB */
	struct alt_net_reasm *r = mk_reasm(8, 8 * ALT_NET_REASM_BLOCK, 1000000000ull, &mem);
	struct alt_net_reasm_stats s;
	unsigned ord[MAXF] = { 0 }, n;
	enum alt_net_reasm_outcome last;

	mk_dgram(6831, 20000, 1);
	n = mk_frags(4, 1480, 1, 0x0a000001);
	for (unsigned i = 0; i < n; i++)
		ord[i] = i;
	CU_ASSERT_EQUAL(feed(r, ord, n, 1, &last), 0);
	CU_ASSERT_EQUAL(last, ALT_NET_REASM_NO_MEMORY);
	alt_net_reasm_get_stats(r, &s);
	CU_ASSERT_EQUAL(s.datagrams[ALT_NET_REASM_NO_MEMORY], 1);
	CU_ASSERT_EQUAL(s.frags[ALT_NET_REASM_NO_MEMORY], n);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	CU_ASSERT_EQUAL(s.blocks_peak, 8);
	/* memory came back: a small datagram still completes */
	mk_dgram(6831, 3000, 2);
	n = mk_frags(4, 1480, 2, 0x0a000001);
	CU_ASSERT_EQUAL(feed(r, ord, n, 2, NULL), 1);
	check_invariant(r);
	free(mem);
}

/* A fragmented GRE carrier: reassembly, then decapsulation from L4. */
static void
test_reasm_gre_carrier(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(8, 1u << 20, 1000000000ull, &mem);
	struct alt_net_pkt pkt;
	enum alt_net_reasm_outcome ro = ALT_NET_REASM_HELD;
	const uint8_t *dg = NULL;
	size_t dl = 0;

	mk_inner();
	b_gre(&B, 0x2000, 0x6558, 99);
	DGLEN = b_len(&B);
	memcpy(DG, b_data(&B), DGLEN);
	for (unsigned i = 0; i < 2; i++) {
		size_t off = i * 32, k = i ? DGLEN - 32 : 32;

		b_reset(&B);
		b_payload(&B, DG + off, k);
		b_ip4x(&B, 47, 5, 777, (uint16_t)((i ? 0 : 0x2000) | (off / 8)), 0x01010101);
		b_eth(&B, 0x0800, 0, NULL);
		CU_ASSERT_EQUAL(classify_b(&pkt), ALT_NET_FRAGMENT);
		CU_ASSERT_EQUAL(pkt.frag.proto, 47);
		ro = alt_net_reasm_add(r, &pkt, 1, &dg, &dl);
	}
	CU_ASSERT_EQUAL_FATAL(ro, ALT_NET_REASM_COMPLETE);
	CU_ASSERT_EQUAL(alt_net_classify_l4(&CFG, dg, dl, &pkt), ALT_NET_TRACING);
	CU_ASSERT_EQUAL(pkt.encap, ALT_NET_ENCAP_GRE);
	CU_ASSERT_EQUAL(pkt.tun_id, 99);
	CU_ASSERT_EQUAL(pkt.depth, 1);
	CU_ASSERT_EQUAL(pkt.outer.src[0], 1);
	CU_ASSERT_EQUAL(pkt.inner.src[0], 192);
	check_payload(&pkt);
	/* every prefix of the reassembled carrier is malformed */
	{
		unsigned bad = 0;

		for (size_t i = 0; i < dl; i++) {
			struct alt_net_pkt q;
			uint8_t *c = malloc(i ? i : 1);

			CU_ASSERT_EQUAL(classify_b(&q), ALT_NET_FRAGMENT);
			memcpy(c, dg, i);
			if (!alt_net_outcome_malformed(alt_net_classify_l4(&CFG, c, i, &q)))
				bad++;
			free(c);
		}
		CU_ASSERT_EQUAL(bad, 0);
	}
	check_invariant(r);
	free(mem);
}

static void
test_reasm_params(void)
{
	struct alt_net_reasm_params p;

	alt_net_reasm_params_default(&p);
	CU_ASSERT(alt_net_reasm_memsize(&p) > 0);
	p.max_datagrams = 0;
	CU_ASSERT_EQUAL(alt_net_reasm_memsize(&p), 0);
	alt_net_reasm_params_default(&p);
	p.max_bytes = 100;
	CU_ASSERT_EQUAL(alt_net_reasm_memsize(&p), 0);
	CU_ASSERT(alt_net_reasm_init(NULL, &p) == NULL);
	alt_net_reasm_params_default(&p);
	printf("\n    reasm memsize (defaults): %zu bytes\n", alt_net_reasm_memsize(&p));
}

/* ---- speed (printed, not asserted) ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
bench_one(const char *name)
{
	static uint8_t f[2048];
	size_t n = b_len(&B);
	struct alt_net_pkt pkt;
	struct alt_net_counters c;
	unsigned iters = 400000;
	double best = 1e9;

	memcpy(f, b_data(&B), n);
	memset(&c, 0, sizeof(c));
	/* best of 7 rounds: the build machine is shared */
	for (unsigned round = 0; round < 7; round++) {
		double t0 = now_s(), t;

		for (unsigned i = 0; i < iters; i++) {
			enum alt_net_outcome o = alt_net_classify(&CFG, f, n, &pkt);

			alt_net_count(&c, &pkt, o);
			__asm__ volatile("" ::: "memory");
		}
		t = (now_s() - t0) * 1e9 / iters;
		if (t < best)
			best = t;
	}
	printf("\n    %-22s %6.1f ns/frame (best of 7)", name, best);
}

/* Classify + reassemble 65,000-byte datagrams of 44 fragments. */
static void
bench_reasm(void)
{
	void *mem;
	struct alt_net_reasm *r = mk_reasm(64, 4u << 20, 1000000000ull, &mem);
	unsigned n, rounds = 300, done = 0;
	double best = 1e9;

	mk_dgram(6831, 65000 - 8, 3);
	n = mk_frags(4, 1480, 1, 0x0a000001);
	for (unsigned k = 0; k < 5; k++) {
		double t0 = now_s(), t;

		for (unsigned d = 0; d < rounds; d++) {
			for (unsigned i = 0; i < n; i++) {
				struct alt_net_pkt pkt;
				const uint8_t *dg;
				size_t dl;

				alt_net_classify(&CFG, FR[i], FRLEN[i], &pkt);
				if (alt_net_reasm_add(r, &pkt, 1, &dg, &dl) == ALT_NET_REASM_COMPLETE &&
						alt_net_classify_l4(&CFG, dg, dl, &pkt) == ALT_NET_TRACING)
					done++;
			}
		}
		t = (now_s() - t0) * 1e9 / rounds;
		if (t < best)
			best = t;
	}
	printf("\n    %-22s %6.0f ns/datagram, %.1f ns/fragment (best of 5)",
		"reasm 44 x 1480", best, best / n);
	CU_ASSERT_EQUAL(done, 5 * rounds);
	free(mem);
}

static void
test_speed(void)
{
	mk_plain(6831);
	bench_one("ipv4/udp tracing");
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_ip4(&B, 6);
	b_eth(&B, 0x0800, 0, NULL);
	bench_one("ipv4/tcp noise");
	b_reset(&B);
	b_fill(&B, 40, 3);
	b_udp(&B, 5353, 53);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 1, TAG1);
	bench_one("vlan/udp/53 noise");
	mk_inner();
	b_vxlan(&B, 1, 0x08);
	b_udp(&B, 51000, 4789);
	b_ip4(&B, 17);
	b_eth(&B, 0x0800, 0, NULL);
	bench_one("vxlan tracing");
	mk_inner();
	b_erspan3(&B, 1, 0, 1);
	b_gre(&B, 0x1000, 0x22EB, 0);
	b_ip6(&B, 47);
	b_eth(&B, 0x86DD, 0, NULL);
	bench_one("ipv6/erspan3 tracing");
	bench_reasm();
	printf("\n");
}

int
main(void)
{
	CU_pSuite s;

	alt_net_cfg_default(&CFG);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("net", NULL, NULL);
	CU_add_test(s, "names", test_names);
	CU_add_test(s, "formats", test_formats);
	CU_add_test(s, "count_none", test_count_none);
	CU_add_test(s, "custom_ports", test_custom_ports);
	CU_add_test(s, "vlan", test_vlan);
	CU_add_test(s, "ipv6_ext", test_ipv6_ext);
	CU_add_test(s, "gre", test_gre);
	CU_add_test(s, "erspan", test_erspan);
	CU_add_test(s, "vxlan", test_vxlan);
	CU_add_test(s, "depth", test_depth);
	CU_add_test(s, "noise", test_noise);
	CU_add_test(s, "malformed", test_malformed);
	CU_add_test(s, "prefixes_misc", test_prefixes_misc);
	CU_add_test(s, "reasm_v4_44", test_reasm_v4_44);
	CU_add_test(s, "reasm_interleaved", test_reasm_interleaved);
	CU_add_test(s, "reasm_v6", test_reasm_v6);
	CU_add_test(s, "reasm_64", test_reasm_64);
	CU_add_test(s, "reasm_dup_overlap", test_reasm_dup_overlap);
	CU_add_test(s, "reasm_timeout", test_reasm_timeout);
	CU_add_test(s, "reasm_table_full", test_reasm_table_full);
	CU_add_test(s, "reasm_memory", test_reasm_memory);
	CU_add_test(s, "reasm_gre_carrier", test_reasm_gre_carrier);
	CU_add_test(s, "reasm_params", test_reasm_params);
	if (getenv("ALT_NET_NO_BENCH") == NULL)
		CU_add_test(s, "speed", test_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	{
		unsigned fails = CU_get_number_of_failures();

		CU_cleanup_registry();
		return (int)fails;
	}
}
