/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: wire common parts, ATR/1 and X-Trace decoders/encoders,
 * emitter sequence-gap accounting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "alt_wire.h"

#define BUF_CAP (1u << 20)
#define ARENA_CAP 65536u

static struct alt_record recs[ALT_ATR_MAX_COUNT];
static struct alt_record in[ALT_ATR_MAX_COUNT];
static char arena[ARENA_CAP];
static uint8_t buf[BUF_CAP];
static struct alt_wire_out out;
static struct alt_wire_ctx ctx;

static void
out_init(uint32_t cap)
{
	memset(&out, 0, sizeof(out));
	out.recs = recs;
	out.cap = cap;
	out.arena = arena;
	out.arena_cap = ARENA_CAP;
	out.n = 99;             /* must be reset by every decode */
}

static void
mkrec(struct alt_record *r, uint64_t hi, uint64_t lo, uint64_t node, unsigned np,
      const char *svc, const char *op, const char *attrs)
{
	memset(r, 0, sizeof(*r));
	r->trace_id.hi = hi;
	r->trace_id.lo = lo;
	r->node_id = node;
	r->start_ns = 1700000000123456789ULL + node;
	r->duration_ns = 1000 + node;
	for (unsigned i = 0; i < np; i++)
		r->parents[i] = node * 100 + i + 1;
	r->parent_count = (uint8_t)np;
	r->service.p = svc;
	r->service.len = (uint32_t)strlen(svc);
	r->operation.p = op;
	r->operation.len = (uint32_t)strlen(op);
	r->attrs.p = attrs;
	r->attrs.len = (uint32_t)strlen(attrs);
}

static bool
str_eq(struct alt_str s, const char *p, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.p, p, n) == 0);
}

static bool
cstr_eq(struct alt_str s, const char *c)
{
	return str_eq(s, c, strlen(c));
}

static void
check_same(const struct alt_record *a, const struct alt_record *b)
{
	CU_ASSERT(alt_trace_id_eq(&a->trace_id, &b->trace_id));
	CU_ASSERT_EQUAL(a->node_id, b->node_id);
	CU_ASSERT_EQUAL(a->start_ns, b->start_ns);
	CU_ASSERT_EQUAL(a->duration_ns, b->duration_ns);
	CU_ASSERT_EQUAL(a->parent_count, b->parent_count);
	for (unsigned i = 0; i < a->parent_count && i < ALT_MAX_PARENTS; i++)
		CU_ASSERT_EQUAL(a->parents[i], b->parents[i]);
	CU_ASSERT_EQUAL(a->kind, b->kind);
	CU_ASSERT_EQUAL(a->flags, b->flags);
	CU_ASSERT(str_eq(a->service, b->service.p, b->service.len));
	CU_ASSERT(str_eq(a->operation, b->operation.p, b->operation.len));
	CU_ASSERT(str_eq(a->attrs, b->attrs.p, b->attrs.len));
}

static bool
points_into(struct alt_str s, const uint8_t *b, size_t len)
{
	return s.len == 0 ||
	       ((const uint8_t *)s.p >= b && (const uint8_t *)s.p + s.len <= b + len);
}

/* ---------------- names ---------------- */

static void
test_names(void)
{
	CU_ASSERT_STRING_EQUAL(alt_wire_format_name(ALT_FMT_ATR), "atr");
	CU_ASSERT_STRING_EQUAL(alt_wire_format_name(ALT_FMT_JAEGER_COMPACT), "jaeger-compact");
	CU_ASSERT_STRING_EQUAL(alt_wire_format_name(ALT_FMT_JAEGER_BINARY), "jaeger-binary");
	CU_ASSERT_STRING_EQUAL(alt_wire_format_name(ALT_FMT_XTRACE), "xtrace");
	CU_ASSERT_STRING_EQUAL(alt_wire_format_name(ALT_FMT_COUNT), "unknown");
	for (int f = 0; f < ALT_FMT_COUNT; f++)
		CU_ASSERT_EQUAL(alt_wire_format_parse(alt_wire_format_name(f)), f);
	CU_ASSERT_EQUAL(alt_wire_format_parse("ATR"), -1);
	CU_ASSERT_EQUAL(alt_wire_format_parse("jaeger"), -1);
	CU_ASSERT_EQUAL(alt_wire_format_parse(""), -1);
	CU_ASSERT_EQUAL(alt_wire_format_parse(NULL), -1);

	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_OK), "ok");
	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_TRUNCATED), "truncated");
	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_BAD_HEX), "bad_hex");
	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_TRAILING_BYTES), "trailing_bytes");
	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_REASON_COUNT), "unknown");
	for (int r = 0; r < ALT_WIRE_REASON_COUNT; r++) {
		const char *n = alt_wire_reason_name(r);

		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		CU_ASSERT(strlen(n) > 0 && strcmp(n, "unknown") != 0);
		for (int q = 0; q < r; q++)
			CU_ASSERT(strcmp(n, alt_wire_reason_name(q)) != 0);
	}
}

/* ---------------- ATR/1 round trips ---------------- */

static void
test_atr_roundtrip_one(void)
{
	size_t n;

	mkrec(&in[0], 0x0102030405060708ULL, 0x1112131415161718ULL, 42, 2, "frontend",
	      "GET /cart", "http.status=200\nuser=7");
	n = alt_wire_encode_atr(in, 1, 0, 7, 100, buf, BUF_CAP);
	CU_ASSERT_EQUAL_FATAL(n % 8, 0);
	CU_ASSERT_EQUAL(n, 16 + 48 + 16 + 8 + 9 + 22 + 1);
	/* Trace ID bytes 0..7 are lo, little-endian. */
	CU_ASSERT_EQUAL(buf[16], 0x18);
	CU_ASSERT_EQUAL(buf[23], 0x11);
	CU_ASSERT_EQUAL(buf[24], 0x08);
	out_init(4);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	check_same(&recs[0], &in[0]);
	CU_ASSERT(points_into(recs[0].service, buf, n));
	CU_ASSERT(points_into(recs[0].attrs, buf, n));
	/* Through the dispatcher too. */
	out_init(4);
	CU_ASSERT_EQUAL(alt_wire_decode(NULL, ALT_FMT_ATR, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 1);
	out_init(4);
	CU_ASSERT_EQUAL(alt_wire_decode(NULL, (enum alt_wire_format)9, buf, n, &out),
			ALT_WIRE_BAD_TYPE);
	CU_ASSERT_EQUAL(out.n, 0);
}

static void
test_atr_roundtrip_1024(void)
{
	size_t n;

	for (unsigned i = 0; i < ALT_ATR_MAX_COUNT; i++)
		mkrec(&in[i], 0, 1000 + i / 10, i + 1, i % 4, "s", i % 2 ? "op" : "", "");
	n = alt_wire_encode_atr(in, ALT_ATR_MAX_COUNT, 0, 1, 1, buf, BUF_CAP);
	CU_ASSERT_FATAL(n > 0);
	out_init(ALT_ATR_MAX_COUNT);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, ALT_ATR_MAX_COUNT);
	for (unsigned i = 0; i < ALT_ATR_MAX_COUNT; i++)
		check_same(&recs[i], &in[i]);
	/* 1025 records cannot be encoded; a cap too small is rejected. */
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, ALT_ATR_MAX_COUNT + 1, 0, 1, 1, buf, BUF_CAP), 0);
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, 0, 0, 1, 1, buf, BUF_CAP), 0);
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, ALT_ATR_MAX_COUNT, 0, 1, 1, buf, n - 1), 0);
}

/* A frame built record by record is the same bytes as one encoded at
 * once; without attributes it differs only there; the builder refuses a
 * 1025th record, a record that does not fit, and unencodable records. */
static void
test_atr_builder(void)
{
	static uint8_t b2[BUF_CAP];
	char longname[300];
	size_t n, len;

	for (unsigned i = 0; i < ALT_ATR_MAX_COUNT; i++)
		mkrec(&in[i], 3, 1000 + i / 7, i + 1, i % 5, i % 3 ? "svc" : "", i % 2 ? "op" : "o",
		      i % 4 ? "k=v" : "");
	n = alt_wire_encode_atr(in, ALT_ATR_MAX_COUNT, 0x01, 9, 77, buf, BUF_CAP);
	CU_ASSERT_FATAL(n > 0);
	memset(b2, 0xAA, sizeof(b2));   /* padding must come out zero anyway */
	len = alt_wire_atr_begin(b2, BUF_CAP, 0x01, 9, 77);
	CU_ASSERT_EQUAL_FATAL(len, 16);
	CU_ASSERT_EQUAL(alt_wire_atr_count(b2, len), 0);
	for (unsigned i = 0; i < ALT_ATR_MAX_COUNT; i++) {
		size_t nl = alt_wire_atr_add(b2, len, BUF_CAP, &in[i], true);

		CU_ASSERT_FATAL(nl > len && nl % 8 == 0);
		len = nl;
	}
	CU_ASSERT_EQUAL(alt_wire_atr_count(b2, len), ALT_ATR_MAX_COUNT);
	CU_ASSERT_EQUAL_FATAL(len, n);
	CU_ASSERT(memcmp(b2, buf, n) == 0);
	/* the 1025th record does not go in, and the frame is untouched */
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, BUF_CAP, &in[0], true), 0);
	CU_ASSERT(memcmp(b2, buf, n) == 0);
	/* the same through alt_wire_atr_add_many, in two calls; a third adds nothing */
	{
		static const struct alt_record *ptrs[ALT_ATR_MAX_COUNT + 5];

		for (unsigned i = 0; i < ALT_ATR_MAX_COUNT + 5; i++)
			ptrs[i] = &in[i % ALT_ATR_MAX_COUNT];
		memset(b2, 0x55, sizeof(b2));
		len = alt_wire_atr_begin(b2, BUF_CAP, 0x01, 9, 77);
		CU_ASSERT_EQUAL(alt_wire_atr_add_many(b2, &len, BUF_CAP, ptrs, 300, true), 300);
		CU_ASSERT_EQUAL(alt_wire_atr_add_many(b2, &len, BUF_CAP, ptrs + 300, ALT_ATR_MAX_COUNT + 5 - 300,
						      true), ALT_ATR_MAX_COUNT - 300);
		CU_ASSERT_EQUAL(alt_wire_atr_add_many(b2, &len, BUF_CAP, ptrs, 1, true), 0);
		CU_ASSERT_EQUAL_FATAL(len, n);
		CU_ASSERT(memcmp(b2, buf, n) == 0);
		/* stops at the first record without room; len stays on a record boundary */
		len = alt_wire_atr_begin(b2, 16 + 200, 0, 1, 1);
		CU_ASSERT(alt_wire_atr_add_many(b2, &len, 16 + 200, ptrs, 10, true) < 10);
		CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, b2, len, &out), ALT_WIRE_OK);
		CU_ASSERT_EQUAL(out.n, alt_wire_atr_count(b2, len));
	}

	/* without attributes: decodes to the same records, attrs empty */
	len = alt_wire_atr_begin(b2, BUF_CAP, 0, 1, 1);
	for (unsigned i = 0; i < 50; i++)
		len = alt_wire_atr_add(b2, len, BUF_CAP, &in[i], false);
	CU_ASSERT_FATAL(len > 0);
	out_init(64);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, b2, len, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 50);
	for (unsigned i = 0; i < 50; i++) {
		struct alt_record x = in[i];

		x.attrs.len = 0;
		check_same(&recs[i], &x);
	}

	/* a record that does not fit in cap: 0, and nothing written past cap */
	mkrec(&in[0], 0, 5, 1, 2, "a", "b", "");      /* 48 + 16 + 2 -> 72 bytes */
	memset(b2, 0xAA, sizeof(b2));
	len = alt_wire_atr_begin(b2, 16 + 71, 0, 1, 1);
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, 16 + 71, &in[0], true), 0);
	CU_ASSERT_EQUAL(b2[16], 0xAA);
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, 16 + 72, &in[0], true), 16 + 72);
	CU_ASSERT_EQUAL(alt_wire_atr_count(b2, 16 + 72), 1);
	/* unencodable: a 256-byte name, 16 parents; bad arguments */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	len = alt_wire_atr_begin(b2, BUF_CAP, 0, 1, 1);
	mkrec(&in[0], 0, 5, 1, 0, longname, "b", "");
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, BUF_CAP, &in[0], true), 0);
	mkrec(&in[0], 0, 5, 1, 0, "a", longname, "");
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, BUF_CAP, &in[0], true), 0);
	mkrec(&in[0], 0, 5, 1, 0, "a", "b", "");
	in[0].parent_count = 16;
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, len, BUF_CAP, &in[0], true), 0);
	in[0].parent_count = 0;
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, 15, BUF_CAP, &in[0], true), 0);
	CU_ASSERT_EQUAL(alt_wire_atr_add(b2, BUF_CAP + 1, BUF_CAP, &in[0], true), 0);
	CU_ASSERT_EQUAL(alt_wire_atr_add(NULL, 16, BUF_CAP, &in[0], true), 0);
	CU_ASSERT_EQUAL(alt_wire_atr_begin(b2, 15, 0, 1, 1), 0);
	CU_ASSERT_EQUAL(alt_wire_atr_count(b2, 15), 0);
	CU_ASSERT_EQUAL(alt_wire_atr_count(b2, len), 0);
}

static void
test_atr_parents(void)
{
	size_t n;

	mkrec(&in[0], 0, 5, 1, ALT_MAX_PARENTS, "a", "b", "c=d");
	mkrec(&in[1], 0, 5, 2, 0, "a", "b", "");
	n = alt_wire_encode_atr(in, 2, 0, 1, 1, buf, BUF_CAP);
	out_init(2);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].parent_count, 15);
	CU_ASSERT_EQUAL(recs[1].parent_count, 0);
	check_same(&recs[0], &in[0]);
	check_same(&recs[1], &in[1]);

	/* Duplicates are dropped, order kept. */
	mkrec(&in[0], 0, 5, 1, 4, "a", "b", "");
	in[0].parents[0] = 9;
	in[0].parents[1] = 9;
	in[0].parents[2] = 3;
	in[0].parents[3] = 9;
	n = alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP);
	out_init(2);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 9);
	CU_ASSERT_EQUAL(recs[0].parents[1], 3);

	/* 16 parents cannot be encoded. */
	in[0].parent_count = 16;
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP), 0);
}

static void
test_atr_flags_kind(void)
{
	size_t n;

	mkrec(&in[0], 0, 5, 1, 0, "a", "b", "");
	in[0].flags = ALT_RF_ERROR | ALT_RF_CLOSES_TRACE;
	in[0].kind = ALT_KIND_EVENT;
	in[0].duration_ns = 0;
	mkrec(&in[1], 0, 5, 2, 0, "a", "b", "");
	in[1].flags = 0x8000 | ALT_RF_CLOSES_TRACE;     /* unknown bits kept */
	n = alt_wire_encode_atr(in, 2, 0xFE, 1, 1, buf, BUF_CAP); /* unknown frame flags */
	out_init(2);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].flags, ALT_RF_ERROR | ALT_RF_CLOSES_TRACE);
	CU_ASSERT_EQUAL(recs[0].kind, ALT_KIND_EVENT);
	CU_ASSERT_EQUAL(recs[1].flags, 0x8002);
	CU_ASSERT_EQUAL(recs[1].kind, ALT_KIND_SPAN);
}

static void
test_atr_affine(void)
{
	size_t n;

	for (unsigned i = 0; i < 3; i++)
		mkrec(&in[i], 7, 8, i + 1, 0, "a", "b", "");
	n = alt_wire_encode_atr(in, 3, 0x01, 1, 1, buf, BUF_CAP);
	out_init(8);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 3);
	in[2].trace_id.hi = 6;
	n = alt_wire_encode_atr(in, 3, 0x01, 1, 1, buf, BUF_CAP);
	out_init(8);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(out.n, 0);
	/* Without the flag mixed traces are fine. */
	n = alt_wire_encode_atr(in, 3, 0x00, 1, 1, buf, BUF_CAP);
	out_init(8);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
}

static void
test_atr_max_strings(void)
{
	static char big[65536];
	char s255[256];
	size_t n;

	memset(big, 'x', sizeof(big));
	memset(s255, 's', 255);
	s255[255] = '\0';
	big[65535] = '\0';
	mkrec(&in[0], 0, 5, 1, 15, s255, s255, big);
	n = alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP);
	CU_ASSERT_EQUAL_FATAL(n, 16 + ((48 + 120 + 255 + 255 + 65535 + 7) & ~7u));
	out_init(1);
	CU_ASSERT_EQUAL_FATAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].service.len, 255);
	CU_ASSERT_EQUAL(recs[0].operation.len, 255);
	CU_ASSERT_EQUAL(recs[0].attrs.len, 65535);
	check_same(&recs[0], &in[0]);
	/* One byte more does not fit its length field. */
	in[0].service.len = 256;
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP), 0);
	in[0].service.len = 255;
	in[0].operation.len = 256;
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP), 0);
	in[0].operation.len = 255;
	in[0].attrs.len = 65536;
	CU_ASSERT_EQUAL(alt_wire_encode_atr(in, 1, 0, 1, 1, buf, BUF_CAP), 0);
}

static void
test_atr_padding(void)
{
	static const char letters[] = "abcdefghij";

	/* Variable parts of 0..9 bytes give every padding length 0..7. */
	for (unsigned v = 0; v < 10; v++) {
		char s[16];
		size_t n, pad;

		memcpy(s, letters, v);
		s[v] = '\0';
		mkrec(&in[0], 0, 5, 1, 0, "", "", s);
		mkrec(&in[1], 0, 5, 2, 1, s, "", "");
		n = alt_wire_encode_atr(in, 2, 0, 1, 1, buf, BUF_CAP);
		pad = (8 - v % 8) % 8;
		CU_ASSERT_EQUAL(n, 16 + 2 * (48 + v + pad) + 8);
		for (size_t i = 0; i < pad; i++)
			CU_ASSERT_EQUAL(buf[16 + 48 + v + i], 0);
		out_init(2);
		CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
		check_same(&recs[0], &in[0]);
		check_same(&recs[1], &in[1]);
		/* Non-zero padding is accepted. */
		if (pad > 0) {
			buf[16 + 48 + v] = 0xAA;
			out_init(2);
			CU_ASSERT_EQUAL(alt_wire_decode_atr(NULL, buf, n, &out), ALT_WIRE_OK);
		}
	}
}

/* ---------------- ATR/1 rejects ---------------- */

/* Hand-built frame: header + one 48-byte record (no variable part). */
static size_t
hand_frame(uint8_t *f)
{
	memset(f, 0, 128);
	memcpy(f, "ATR1", 4);
	f[4] = 1;
	f[6] = 1;               /* count 1 */
	f[8] = 3;               /* emitter 3 */
	f[12] = 1;              /* seq 1 */
	f[16] = 0xAB;           /* trace lo */
	f[32] = 1;              /* node_id 1 */
	return 64;
}

static enum alt_wire_reason
dec(const uint8_t *f, size_t len, uint32_t cap)
{
	enum alt_wire_reason r;

	out_init(cap);
	r = alt_wire_decode_atr(NULL, f, len, &out);
	if (r != ALT_WIRE_OK)
		CU_ASSERT_EQUAL(out.n, 0);
	return r;
}

static void
test_atr_rejects(void)
{
	uint8_t f[128];
	size_t n = hand_frame(f);

	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].node_id, 1);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xAB);

	CU_ASSERT_EQUAL(dec(f, 15, 1), ALT_WIRE_TRUNCATED);
	CU_ASSERT_EQUAL(dec(f, 0, 1), ALT_WIRE_TRUNCATED);
	n = hand_frame(f); f[3] = '2';
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_MAGIC);
	n = hand_frame(f); f[4] = 2;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_VERSION);
	n = hand_frame(f); f[4] = 0;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_VERSION);
	n = hand_frame(f); f[6] = 0;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_COUNT);
	n = hand_frame(f); f[6] = 0x01; f[7] = 0x04;    /* 1025 */
	CU_ASSERT_EQUAL(dec(f, n, 2000), ALT_WIRE_BAD_COUNT);
	n = hand_frame(f); f[6] = 2;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_TOO_MANY_RECORDS);
	n = hand_frame(f);
	CU_ASSERT_EQUAL(dec(f, n, 0), ALT_WIRE_TOO_MANY_RECORDS);
	n = hand_frame(f); f[6] = 2;                    /* 2 declared, 1 present */
	CU_ASSERT_EQUAL(dec(f, n, 2), ALT_WIRE_TRUNCATED);
	n = hand_frame(f); f[16 + 44] = 1;              /* service_len 1: past end */
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_LENGTH);
	n = hand_frame(f); f[16 + 40] = 1;              /* one parent: past end */
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_LENGTH);
	n = hand_frame(f); f[16 + 40] = 16;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_FIELD);
	n = hand_frame(f); f[16 + 41] = 2;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_FIELD);
	n = hand_frame(f); f[32] = 0;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_ID);
	n = hand_frame(f); f[16 + 40] = 1; n += 8;      /* parent 0 */
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_ID);
	n = hand_frame(f); n += 8;                      /* 8 extra zero bytes */
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_TRAILING_BYTES);
	n = hand_frame(f);
	CU_ASSERT_EQUAL(dec(f, n + 1, 1), ALT_WIRE_TRAILING_BYTES);
	n = hand_frame(f);
	CU_ASSERT_EQUAL(dec(f, n - 1, 1), ALT_WIRE_TRUNCATED);
	n = hand_frame(f); f[16 + 45] = 1;              /* op 1 byte: padding past end */
	CU_ASSERT_EQUAL(dec(f, n + 4, 1), ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(dec(f, n + 8, 1), ALT_WIRE_OK);
}

static void
test_atr_hostile(void)
{
	uint8_t f[128], *p;
	size_t n = hand_frame(f), full;

	/* attrs_len 65535 in a 64-byte frame. */
	f[16 + 46] = 0xFF;
	f[16 + 47] = 0xFF;
	CU_ASSERT_EQUAL(dec(f, n, 1), ALT_WIRE_BAD_LENGTH);
	/* count 1024 with one record present. */
	n = hand_frame(f);
	f[6] = 0x00;
	f[7] = 0x04;
	CU_ASSERT_EQUAL(dec(f, n, ALT_ATR_MAX_COUNT), ALT_WIRE_TRUNCATED);

	/* Every strict prefix of a valid frame is rejected; each prefix lies in
	 * an allocation of exactly its size so a checker sees any over-read. */
	mkrec(&in[0], 1, 2, 3, 3, "svc", "operation", "a=b\nc=d");
	mkrec(&in[1], 1, 2, 4, 0, "", "x", "");
	mkrec(&in[2], 1, 2, 5, 15, "s", "", "k=v");
	full = alt_wire_encode_atr(in, 3, 1, 9, 9, buf, BUF_CAP);
	CU_ASSERT_FATAL(full > 0);
	for (size_t len = 0; len < full; len++) {
		enum alt_wire_reason r;

		p = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		memcpy(p, buf, len);
		r = dec(p, len, 3);
		CU_ASSERT(r == ALT_WIRE_TRUNCATED || r == ALT_WIRE_BAD_LENGTH);
		free(p);
	}
	p = malloc(full);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memcpy(p, buf, full);
	CU_ASSERT_EQUAL(dec(p, full, 3), ALT_WIRE_OK);
	free(p);
}

/* ---------------- emitter accounting ---------------- */

static uint32_t
seen(uint64_t key, uint32_t seq)
{
	return alt_wire_emitter_seen(&ctx, ALT_FMT_ATR, key, seq, "", 0);
}

static void
test_emitter_gaps(void)
{
	struct alt_wire_emitter *e;

	alt_wire_ctx_init(&ctx);
	CU_ASSERT_PTR_NULL(alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 1));
	CU_ASSERT_EQUAL(seen(1, 100), 0);               /* first */
	CU_ASSERT_EQUAL(seen(1, 101), 0);               /* next */
	CU_ASSERT_EQUAL(seen(1, 105), 3);               /* gap of 3 */
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 3);
	CU_ASSERT_EQUAL(seen(1, 105), 0);               /* duplicate */
	CU_ASSERT_EQUAL(seen(1, 103), 0);               /* late: one back */
	e = alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->lost, 2);
	CU_ASSERT_EQUAL(e->last_seq, 105);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 2);
	CU_ASSERT_EQUAL(seen(1, 102), 0);
	CU_ASSERT_EQUAL(seen(1, 104), 0);
	CU_ASSERT_EQUAL(e->lost, 0);
	CU_ASSERT_EQUAL(seen(1, 101), 0);               /* never below 0 */
	CU_ASSERT_EQUAL(e->lost, 0);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 0);
	CU_ASSERT_EQUAL(seen(1, 106), 0);
	CU_ASSERT_EQUAL(e->frames, 9);
	CU_ASSERT_EQUAL(ctx.n_emitters, 1);
	CU_ASSERT_EQUAL(ctx.jaeger_batches_lost, 0);

	/* Wrap at 2^32. */
	CU_ASSERT_EQUAL(seen(2, 0xFFFFFFFEu), 0);
	CU_ASSERT_EQUAL(seen(2, 0xFFFFFFFFu), 0);
	CU_ASSERT_EQUAL(seen(2, 0), 0);
	CU_ASSERT_EQUAL(seen(2, 3), 2);
	CU_ASSERT_EQUAL(seen(2, 0xFFFFFFFFu), 0);       /* 4 back: reordered */
	CU_ASSERT_EQUAL(alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 2)->last_seq, 3);

	/* Restart: far behind, then counting from the new value. */
	CU_ASSERT_EQUAL(seen(3, 500000), 0);
	CU_ASSERT_EQUAL(seen(3, 1), 0);
	e = alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 3);
	CU_ASSERT_EQUAL(e->last_seq, 1);
	CU_ASSERT_EQUAL(e->lost, 0);
	CU_ASSERT_EQUAL(seen(3, 2), 0);
	CU_ASSERT_EQUAL(seen(3, 4), 1);
	/* A jump of 2^31 or more forward is a restart too. */
	CU_ASSERT_EQUAL(seen(3, 4 + 0x80000000u), 0);
	CU_ASSERT_EQUAL(e->last_seq, 4 + 0x80000000u);
	CU_ASSERT_EQUAL(e->lost, 1);
	/* Just inside the reorder window / just outside. */
	CU_ASSERT_EQUAL(seen(4, 5000), 0);
	CU_ASSERT_EQUAL(seen(4, 5000 - 1024), 0);
	CU_ASSERT_EQUAL(alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 4)->last_seq, 5000);
	CU_ASSERT_EQUAL(seen(4, 5000 - 1025), 0);
	CU_ASSERT_EQUAL(alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 4)->last_seq, 5000 - 1025);
}

static void
test_emitter_formats_names(void)
{
	struct alt_wire_emitter *e;
	char longname[80];

	alt_wire_ctx_init(&ctx);
	memset(longname, 'n', sizeof(longname));
	/* Same key, different formats: different emitters. */
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_JAEGER_COMPACT, 5, 1, "svc", 3), 0);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_JAEGER_COMPACT, 5, 4, "svc", 3), 2);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_JAEGER_BINARY, 5, 10, longname, 80), 0);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_JAEGER_BINARY, 5, 12, NULL, 0), 1);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_ATR, 5, 1, "", 0), 0);
	CU_ASSERT_EQUAL(ctx.n_emitters, 3);
	CU_ASSERT_EQUAL(ctx.jaeger_batches_lost, 3);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 0);
	e = alt_wire_emitter_find(&ctx, ALT_FMT_JAEGER_COMPACT, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_STRING_EQUAL(e->name, "svc");
	CU_ASSERT_EQUAL(e->format, ALT_FMT_JAEGER_COMPACT);
	e = alt_wire_emitter_find(&ctx, ALT_FMT_JAEGER_BINARY, 5);
	CU_ASSERT_EQUAL(strlen(e->name), 47);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(&ctx, ALT_FMT_JAEGER_BINARY, 5, 11, NULL, 0), 0);
	CU_ASSERT_EQUAL(ctx.jaeger_batches_lost, 2);
	CU_ASSERT_EQUAL(alt_wire_emitter_seen(NULL, ALT_FMT_ATR, 1, 1, "", 0), 0);
	CU_ASSERT_PTR_NULL(alt_wire_emitter_find(NULL, ALT_FMT_ATR, 1));
}

static void
test_emitter_many_overflow(void)
{
	alt_wire_ctx_init(&ctx);
	for (uint64_t k = 0; k < ALT_WIRE_MAX_EMITTERS; k++)
		CU_ASSERT_EQUAL(seen(k * 7919, 10), 0);
	CU_ASSERT_EQUAL(ctx.n_emitters, ALT_WIRE_MAX_EMITTERS);
	CU_ASSERT_EQUAL(ctx.emitters_overflow, 0);
	for (uint64_t k = 0; k < ALT_WIRE_MAX_EMITTERS; k++)
		CU_ASSERT_EQUAL(seen(k * 7919, 12), 1);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, ALT_WIRE_MAX_EMITTERS);
	for (uint64_t k = 0; k < ALT_WIRE_MAX_EMITTERS; k++) {
		struct alt_wire_emitter *e = alt_wire_emitter_find(&ctx, ALT_FMT_ATR, k * 7919);

		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(e->frames, 2);
	}
	/* Table full: not tracked, counted, 0 lost. */
	CU_ASSERT_EQUAL(seen(1, 1), 0);
	CU_ASSERT_EQUAL(seen(1, 50), 0);
	CU_ASSERT_EQUAL(ctx.emitters_overflow, 2);
	CU_ASSERT_PTR_NULL(alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 1));
	CU_ASSERT_EQUAL(ctx.n_emitters, ALT_WIRE_MAX_EMITTERS);
}

static void
test_atr_decode_counts_gaps(void)
{
	size_t n;
	struct alt_wire_emitter *e;

	alt_wire_ctx_init(&ctx);
	mkrec(&in[0], 0, 5, 1, 0, "a", "b", "");
	n = alt_wire_encode_atr(in, 1, 0, 77, 10, buf, BUF_CAP);
	out_init(1);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(&ctx, buf, n, &out), ALT_WIRE_OK);
	n = alt_wire_encode_atr(in, 1, 0, 77, 13, buf, BUF_CAP);
	out_init(1);
	CU_ASSERT_EQUAL(alt_wire_decode(&ctx, ALT_FMT_ATR, buf, n, &out), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 2);
	/* A rejected frame does not touch the emitter. */
	n = alt_wire_encode_atr(in, 1, 0, 77, 20, buf, BUF_CAP);
	buf[4] = 9;
	out_init(1);
	CU_ASSERT_EQUAL(alt_wire_decode_atr(&ctx, buf, n, &out), ALT_WIRE_BAD_VERSION);
	e = alt_wire_emitter_find(&ctx, ALT_FMT_ATR, 77);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->frames, 2);
	CU_ASSERT_EQUAL(e->last_seq, 13);
	CU_ASSERT_EQUAL(ctx.atr_frames_lost, 2);
}

static void
test_fold16_affine_port(void)
{
	struct alt_trace_id t = { .hi = 0x0000000000000abcULL, .lo = 0x1122334455667788ULL };
	uint16_t x = 0;
	size_t n;

	/* 16-bit LE words: 7788 5566 3344 1122 0abc 0 0 0 -> XOR 0a34. */
	CU_ASSERT_EQUAL(alt_trace_fold16(&t), 0x0a34);
	CU_ASSERT_EQUAL(alt_trace_affine_port(&t), 0xca34);
	/* Same value from the trace_id bytes of an encoded frame. */
	mkrec(&in[0], t.hi, t.lo, 1, 0, "", "", "");
	n = alt_wire_encode_atr(in, 1, 1, 1, 1, buf, BUF_CAP);
	CU_ASSERT_FATAL(n > 0);
	for (unsigned i = 0; i < 8; i++)
		x ^= (uint16_t)(buf[16 + 2 * i] | (buf[16 + 2 * i + 1] << 8));
	CU_ASSERT_EQUAL(x, 0x0a34);
	t.hi = 0xffffffffffffffffULL;
	t.lo = 0;
	CU_ASSERT_EQUAL(alt_trace_fold16(&t), 0);
	CU_ASSERT_EQUAL(alt_trace_affine_port(&t), 0xC000);
}

/* ---------------- X-Trace ---------------- */

/* Decode a report from an allocation of exactly its size (no NUL after
 * it). The payload is kept until the next call: strings point into it. */
static enum alt_wire_reason
xdec(const char *s)
{
	static uint8_t *held;
	size_t len = strlen(s);
	enum alt_wire_reason r;

	free(held);
	held = malloc(len ? len : 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(held);
	memcpy(held, s, len);
	out_init(1);
	r = alt_wire_decode_xtrace(NULL, held, len, &out);
	if (r != ALT_WIRE_OK)
		CU_ASSERT_EQUAL(out.n, 0);
	return r;
}

/* Java library style: "\n", upper-case hex, 8-byte TaskID and OpID
 * (flags 0x19), Timestamp in ms, HRT, Host after other keys. */
static void
test_xtrace_java_report(void)
{
	const char *rep =
		"X-Trace Report ver 1.0\n"
		"Class: edu.berkeley.xtrace.XTraceLogLevel$Default\n"
		"ThreadID: 1\n"
		"Host: node7\n"
		"X-Trace: 190123456789ABCDEF00000000000000AA\n"
		"Edge: 0000000000000011\n"
		"Edge: 0000000000000022\n"
		"Edge: 0000000000000011\n"
		"Agent: NameNode\n"
		"Label: getBlockLocations\n"
		"Tag: a\n"
		"Tag: b\n"
		"Timestamp: 1700000000123\n"
		"HRT: 98765432101234\n";

	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x0123456789ABCDEFULL);
	CU_ASSERT_EQUAL(recs[0].node_id, 0xAA);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 0x11);
	CU_ASSERT_EQUAL(recs[0].parents[1], 0x22);
	CU_ASSERT_EQUAL(recs[0].kind, ALT_KIND_EVENT);
	CU_ASSERT_EQUAL(recs[0].duration_ns, 0);
	CU_ASSERT_EQUAL(recs[0].flags, 0);
	CU_ASSERT_EQUAL(recs[0].start_ns, 1700000000123000000ULL);
	CU_ASSERT(cstr_eq(recs[0].service, "NameNode"));
	CU_ASSERT(cstr_eq(recs[0].operation, "getBlockLocations"));
	CU_ASSERT(cstr_eq(recs[0].attrs,
			  "Host=node7\nClass=edu.berkeley.xtrace.XTraceLogLevel$Default\n"
			  "ThreadID=1\nTag=a\nTag=b\nHRT=98765432101234"));
	CU_ASSERT_EQUAL(out.parents_truncated, 0);
	CU_ASSERT_EQUAL(out.arena_used, recs[0].attrs.len);
}

/* C++ library style: "\r\n", "s.mmm" Timestamp, Severity, Edge with a
 * direction and chain id; 4-byte TaskID, 4-byte OpID (flags 0x10). */
static void
test_xtrace_cpp_report(void)
{
	const char *rep =
		"X-Trace Report ver 1.0\r\n"
		"X-Trace: 10DEADBEEF0000BEEF\r\n"
		"Timestamp: 1700000000.123\r\n"
		"Severity: 3\r\n"
		"ChainId: 0x0001\r\n"
		"Edge: 0000CAFE, UP\r\n"
		"Edge: 0000F00D, DOWN, 0x0002\r\n"
		"Agent: rpc\r\n"
		"\r\n";

	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xDEADBEEFu);
	CU_ASSERT_EQUAL(recs[0].node_id, 0xBEEF);
	CU_ASSERT_EQUAL(recs[0].start_ns, 1700000000123000000ULL);
	CU_ASSERT_EQUAL(recs[0].flags, ALT_RF_ERROR);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 0xCAFE);
	CU_ASSERT_EQUAL(recs[0].parents[1], 0xF00D);
	CU_ASSERT(cstr_eq(recs[0].service, "rpc"));
	CU_ASSERT_EQUAL(recs[0].operation.len, 0);
	CU_ASSERT(cstr_eq(recs[0].attrs, "Severity=3\nChainId=0x0001"));

	/* Severity 5 (notice) is not an error. */
	CU_ASSERT_EQUAL(xdec("X-Trace Report ver 1.0\nX-Trace: 1000000001000000AA\n"
			     "Timestamp: 5\nSeverity: 5\n"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].flags, 0);
	CU_ASSERT_EQUAL(recs[0].start_ns, 5000000);
	/* Nanosecond fraction. */
	CU_ASSERT_EQUAL(xdec("X-Trace Report ver 1.0\nX-Trace: 1000000001000000AA\n"
			     "Timestamp: 12.000000007"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].start_ns, 12000000007ULL);
}

static void
test_xtrace_taskid_lengths(void)
{
	/* 12-byte TaskID, 4-byte OpID: flags 0x12. */
	CU_ASSERT_EQUAL_FATAL(xdec("X-Trace Report ver 1.0\n"
				   "X-Trace: 12A1A2A3A4B1B2B3B4B5B6B7B800000007\n"
				   "Timestamp: 1\n"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0xA1A2A3A4u);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xB1B2B3B4B5B6B7B8ULL);
	CU_ASSERT_EQUAL(recs[0].node_id, 7);
	/* 20-byte TaskID, 8-byte OpID: flags 0x1B; keeps the last 16 bytes. */
	CU_ASSERT_EQUAL_FATAL(xdec("X-Trace Report ver 1.0\n"
				   "X-Trace: 1BFFFFFFFF0102030405060708090A0B0C0D0E0F10"
				   "8000000000000001\n"
				   "Timestamp: 1\n"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0x0102030405060708ULL);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x090A0B0C0D0E0F10ULL);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x8000000000000001ULL);
	/* 8-byte TaskID, 4-byte OpID (0x11), lower-case hex. */
	CU_ASSERT_EQUAL_FATAL(xdec("X-Trace Report ver 1.0\n"
				   "X-Trace: 11000000000000abcd12345678\n"
				   "Timestamp: 1\n"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xabcd);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x12345678);
	/* Options present (0x1C: 4-byte TaskID, 8-byte OpID, options): total
	 * length 5 = option {type 1, len 1, 03} + option {type 2, len 0}. */
	CU_ASSERT_EQUAL_FATAL(xdec("X-Trace Report ver 1.0\n"
				   "X-Trace: 1C0000ABCD000000000000000205010103" "0200\n"
				   "Timestamp: 1\n"), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xABCD);
	CU_ASSERT_EQUAL(recs[0].node_id, 2);
	/* Options that do not add up. */
	CU_ASSERT_EQUAL(xdec("X-Trace Report ver 1.0\n"
			     "X-Trace: 1C0000ABCD00000000000000020501010302\n"
			     "Timestamp: 1\n"), ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(xdec("X-Trace Report ver 1.0\n"
			     "X-Trace: 1C0000ABCD0000000000000002\n"
			     "Timestamp: 1\n"), ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(xdec("X-Trace Report ver 1.0\n"
			     "X-Trace: 1C0000ABCD000000000000000203010503\n"
			     "Timestamp: 1\n"), ALT_WIRE_BAD_LENGTH);
}

static void
test_xtrace_many_edges(void)
{
	char rep[2048];
	int o = snprintf(rep, sizeof(rep), "X-Trace Report ver 1.0\nX-Trace: 19%016X%016X\n"
			 "Timestamp: 1\n", 5u, 99u);

	for (unsigned i = 1; i <= 20; i++)
		o += snprintf(rep + o, sizeof(rep) - (size_t)o, "Edge: %016X\n", i);
	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].parent_count, ALT_MAX_PARENTS);
	CU_ASSERT_EQUAL(recs[0].parents[14], 15);
	CU_ASSERT_EQUAL(out.parents_truncated, 1);
}

static void
test_xtrace_rejects(void)
{
	static const char hdr[] = "X-Trace Report ver 1.0\n";
	static const char md[] = "X-Trace: 190000000000000001000000000000000A\n";
	static const char ts[] = "Timestamp: 1700000000123\n";
	char rep[512];

#define REP3(a, b, c) (snprintf(rep, sizeof(rep), "%s%s%s", a, b, c), rep)
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, ts)), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(xdec(""), ALT_WIRE_BAD_MAGIC);
	CU_ASSERT_EQUAL(xdec(REP3("", md, ts)), ALT_WIRE_BAD_MAGIC);
	CU_ASSERT_EQUAL(xdec(REP3("X-Trace Report\n", md, ts)), ALT_WIRE_BAD_MAGIC);
	CU_ASSERT_EQUAL(xdec(REP3("X-Trace Report ver 2.0\n", md, ts)), ALT_WIRE_BAD_VERSION);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "", ts)), ALT_WIRE_MISSING_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "")), ALT_WIRE_MISSING_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "Timestamp: soon\n")), ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "Timestamp: 1.\n")), ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "Timestamp: 1.0000000001\n")), ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "Timestamp: 99999999999999999999\n")),
			ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, md, "Timestamp:1\n")), ALT_WIRE_BAD_FIELD);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 19ZZ00000000000001000000000000000A\n", ts)),
			ALT_WIRE_BAD_HEX);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 190000000000000001000000000000000\n", ts)),
			ALT_WIRE_BAD_HEX);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 1900000000000000010000000000000A\n", ts)),
			ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 190000000000000001000000000000000A00\n", ts)),
			ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: \n", ts)), ALT_WIRE_BAD_LENGTH);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 290000000000000001000000000000000A\n", ts)),
			ALT_WIRE_BAD_VERSION);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 1900000000000000010000000000000000\n", ts)),
			ALT_WIRE_BAD_ID);
	CU_ASSERT_EQUAL(xdec(REP3(hdr, "X-Trace: 1900000000000000000000000000000001\n", ts)),
			ALT_WIRE_BAD_ID);
	snprintf(rep, sizeof(rep), "%s%s%sEdge: 00000000\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_ID);
	snprintf(rep, sizeof(rep), "%s%s%sEdge: 12345\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_LENGTH);
	snprintf(rep, sizeof(rep), "%s%s%sEdge: 1234567X\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_HEX);
	snprintf(rep, sizeof(rep), "%s%s%sno separator here\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_FIELD);
	snprintf(rep, sizeof(rep), "%s%s%s: empty key\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_FIELD);
	snprintf(rep, sizeof(rep), "%s%s\nHost: late\n%s", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_FIELD);
	/* Trailing blank lines are fine. */
	snprintf(rep, sizeof(rep), "%s%s%s\n\r\n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_OK);
	/* An empty value is fine. */
	snprintf(rep, sizeof(rep), "%s%s%sNote: \n", hdr, md, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT(cstr_eq(recs[0].attrs, "Note="));
#undef REP3

	/* NUL byte. */
	{
		uint8_t p[128];
		size_t n = (size_t)snprintf((char *)p, sizeof(p), "%s%s%sHost: a", hdr, md, ts);

		p[n - 1] = '\0';
		out_init(1);
		CU_ASSERT_EQUAL(alt_wire_decode_xtrace(NULL, p, n, &out), ALT_WIRE_BAD_FIELD);
		CU_ASSERT_EQUAL(out.n, 0);
	}
	/* Arena too small; no record room. */
	{
		size_t n = (size_t)snprintf(rep, sizeof(rep), "%s%s%sHost: abcdefgh\n", hdr, md, ts);

		out_init(1);
		out.arena_cap = 10;
		CU_ASSERT_EQUAL(alt_wire_decode_xtrace(NULL, (uint8_t *)rep, n, &out),
				ALT_WIRE_ARENA_FULL);
		CU_ASSERT_EQUAL(out.n, 0);
		out_init(1);
		out.arena_cap = 15;
		CU_ASSERT_EQUAL(alt_wire_decode_xtrace(NULL, (uint8_t *)rep, n, &out), ALT_WIRE_OK);
		out_init(0);
		CU_ASSERT_EQUAL(alt_wire_decode_xtrace(NULL, (uint8_t *)rep, n, &out),
				ALT_WIRE_TOO_MANY_RECORDS);
	}
}

/* Metadata version 0 (X-Trace metadata specification 2.1.1, sections 2.1
 * and 2.3): valid with a 4-byte OpID and read exactly like version 1;
 * version 0 with the 8-byte OpID flag and versions 2 and up are refused. */
static void
test_xtrace_version0(void)
{
	static const char hdr[] = "X-Trace Report ver 1.0\n";
	static const char ts[] = "Timestamp: 1700000000123\n";
	static const char *const refused[] = {
		"X-Trace: 08010203040303030303030303\n",   /* v0, 8-byte OpID */
		"X-Trace: 0C01020304030303030303030300\n", /* v0, 8-byte OpID, options */
		"X-Trace: 200102030403030303\n",           /* v2, 4-byte OpID */
		"X-Trace: 28010203040303030303030303\n",   /* v2, 8-byte OpID */
		"X-Trace: F00102030403030303\n",           /* v15 */
	};
	char rep[512];

	/* The specification's example of section 2.4: 00 01020304 03030303. */
	snprintf(rep, sizeof(rep), "%sX-Trace: 000102030403030303\n%s", hdr, ts);
	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x01020304u);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x03030303u);
	/* Version 1 with the same IDs reads the same. */
	snprintf(rep, sizeof(rep), "%sX-Trace: 100102030403030303\n%s", hdr, ts);
	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x01020304u);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x03030303u);
	/* Version 1 with an 8-byte OpID is unchanged. */
	snprintf(rep, sizeof(rep), "%sX-Trace: 18010203040303030303030303\n%s", hdr, ts);
	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x01020304u);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x0303030303030303ULL);
	/* Version 0 with a 12-byte TaskID and options (flags 0x06). */
	snprintf(rep, sizeof(rep), "%sX-Trace: 06A1A2A3A4B1B2B3B4B5B6B7B8000000070301010A\n%s",
		 hdr, ts);
	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0xA1A2A3A4u);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xB1B2B3B4B5B6B7B8ULL);
	CU_ASSERT_EQUAL(recs[0].node_id, 7);
	/* Version 0 keeps the length and ID checks of version 1. */
	snprintf(rep, sizeof(rep), "%sX-Trace: 00010203040303030303030303\n%s", hdr, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_LENGTH);
	snprintf(rep, sizeof(rep), "%sX-Trace: 000000000003030303\n%s", hdr, ts);
	CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_ID);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(rep, sizeof(rep), "%s%s%s", hdr, refused[i], ts);
		CU_ASSERT_EQUAL(xdec(rep), ALT_WIRE_BAD_VERSION);
	}
}

/* A whole C++-style report whose metadata is version 0 (4-byte TaskID and
 * OpID, 8-digit Edges) decodes to the same record as its version-1 twin. */
static void
test_xtrace_version0_report(void)
{
	const char *rep =
		"X-Trace Report ver 1.0\r\n"
		"X-Trace: 00CAFEF00D00001234\r\n"
		"Edge: 00000042, UP\r\n"
		"Edge: 0000000000000077\r\n"
		"Timestamp: 1700000000.250\r\n"
		"Host: node3\r\n"
		"Agent: datanode\r\n"
		"Label: readBlock\r\n"
		"Severity: 2\r\n";

	CU_ASSERT_EQUAL_FATAL(xdec(rep), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 1);
	CU_ASSERT_EQUAL(recs[0].kind, ALT_KIND_EVENT);
	CU_ASSERT_EQUAL(recs[0].trace_id.hi, 0);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0xCAFEF00Du);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x1234);
	CU_ASSERT_EQUAL_FATAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 0x42);
	CU_ASSERT_EQUAL(recs[0].parents[1], 0x77);
	CU_ASSERT_EQUAL(recs[0].start_ns, 1700000000250000000ULL);
	CU_ASSERT_EQUAL(recs[0].duration_ns, 0);
	CU_ASSERT_EQUAL(recs[0].flags, ALT_RF_ERROR);
	CU_ASSERT(cstr_eq(recs[0].service, "datanode"));
	CU_ASSERT(cstr_eq(recs[0].operation, "readBlock"));
	CU_ASSERT(cstr_eq(recs[0].attrs, "Host=node3\nSeverity=2"));
	/* Through the format dispatcher as well. */
	out_init(1);
	CU_ASSERT_EQUAL(alt_wire_decode(NULL, ALT_FMT_XTRACE, (const uint8_t *)rep, strlen(rep), &out),
			ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].node_id, 0x1234);
}

static void
test_xtrace_prefixes(void)
{
	const char *rep =
		"X-Trace Report ver 1.0\r\n"
		"X-Trace: 1C0000ABCD000000000000000205010103" "0200\r\n"
		"Edge: 0000000000000011, UP\r\n"
		"Timestamp: 1700000000.123\r\n"
		"Host: h\r\nAgent: a\r\nLabel: l\r\n";
	size_t len = strlen(rep);

	for (size_t i = 0; i <= len; i++) {
		uint8_t *p = malloc(i ? i : 1);
		enum alt_wire_reason r;

		memcpy(p, rep, i);
		out_init(1);
		r = alt_wire_decode_xtrace(NULL, p, i, &out);
		CU_ASSERT(r == ALT_WIRE_OK ? out.n == 1 : out.n == 0);
		free(p);
	}
}

static void
test_xtrace_roundtrip(void)
{
	static const unsigned lens[] = { 4, 8, 12, 20 };
	uint8_t b[4096];

	for (unsigned i = 0; i < 4; i++) {
		struct alt_record r;
		size_t n;

		mkrec(&r, 0, 0, 0x1122334455667788ULL, 3, "svc", "do thing",
		      "a=1\nb=x=y\nemptyval=");
		switch (lens[i]) {
		case 4: r.trace_id.lo = 0xCAFEBABEu; break;
		case 8: r.trace_id.lo = 0x8877665544332211ULL; break;
		default:
			r.trace_id.hi = lens[i] == 12 ? 0xA0B0C0D0u : 0xFFEEDDCCBBAA9988ULL;
			r.trace_id.lo = 0x8877665544332211ULL;
			break;
		}
		r.start_ns = 1700000000123456789ULL;
		n = alt_wire_encode_xtrace(&r, lens[i], "host1", b, sizeof(b));
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT(memchr(b, '\0', n) == NULL);
		out_init(1);
		CU_ASSERT_EQUAL_FATAL(alt_wire_decode(NULL, ALT_FMT_XTRACE, b, n, &out), ALT_WIRE_OK);
		CU_ASSERT(alt_trace_id_eq(&recs[0].trace_id, &r.trace_id));
		CU_ASSERT_EQUAL(recs[0].node_id, r.node_id);
		CU_ASSERT_EQUAL(recs[0].parent_count, 3);
		for (unsigned j = 0; j < 3; j++)
			CU_ASSERT_EQUAL(recs[0].parents[j], r.parents[j]);
		CU_ASSERT(cstr_eq(recs[0].service, "svc"));
		CU_ASSERT(cstr_eq(recs[0].operation, "do thing"));
		CU_ASSERT_EQUAL(recs[0].start_ns, 1700000000123000000ULL);
		CU_ASSERT_EQUAL(recs[0].kind, ALT_KIND_EVENT);
		CU_ASSERT_EQUAL(recs[0].flags, 0);
		CU_ASSERT(cstr_eq(recs[0].attrs, "Host=host1\na=1\nb=x=y\nemptyval="));
		/* Too small a buffer. */
		CU_ASSERT_EQUAL(alt_wire_encode_xtrace(&r, lens[i], "host1", b, n - 1), 0);
	}
	{
		struct alt_record r;
		size_t n;

		mkrec(&r, 0, 77, 5, 0, "s", "o", "");
		r.flags = ALT_RF_ERROR;
		CU_ASSERT_EQUAL(alt_wire_encode_xtrace(&r, 16, "h", b, sizeof(b)), 0);
		n = alt_wire_encode_xtrace(&r, 8, NULL, b, sizeof(b));
		out_init(1);
		CU_ASSERT_EQUAL_FATAL(alt_wire_decode_xtrace(NULL, b, n, &out), ALT_WIRE_OK);
		CU_ASSERT_EQUAL(recs[0].flags, ALT_RF_ERROR);
		CU_ASSERT_EQUAL(recs[0].parent_count, 0);
		CU_ASSERT_EQUAL(recs[0].trace_id.lo, 77);
		CU_ASSERT(cstr_eq(recs[0].attrs, "Severity=3"));
	}
}

int
main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
		{ "names", test_names },
		{ "atr_roundtrip_one", test_atr_roundtrip_one },
		{ "atr_roundtrip_1024", test_atr_roundtrip_1024 },
		{ "atr_builder", test_atr_builder },
		{ "atr_parents", test_atr_parents },
		{ "atr_flags_kind", test_atr_flags_kind },
		{ "atr_affine", test_atr_affine },
		{ "atr_max_strings", test_atr_max_strings },
		{ "atr_padding", test_atr_padding },
		{ "atr_rejects", test_atr_rejects },
		{ "atr_hostile", test_atr_hostile },
		{ "emitter_gaps", test_emitter_gaps },
		{ "emitter_formats_names", test_emitter_formats_names },
		{ "emitter_many_overflow", test_emitter_many_overflow },
		{ "atr_decode_counts_gaps", test_atr_decode_counts_gaps },
		{ "fold16_affine_port", test_fold16_affine_port },
		{ "xtrace_java_report", test_xtrace_java_report },
		{ "xtrace_cpp_report", test_xtrace_cpp_report },
		{ "xtrace_taskid_lengths", test_xtrace_taskid_lengths },
		{ "xtrace_many_edges", test_xtrace_many_edges },
		{ "xtrace_rejects", test_xtrace_rejects },
		{ "xtrace_version0", test_xtrace_version0 },
		{ "xtrace_version0_report", test_xtrace_version0_report },
		{ "xtrace_prefixes", test_xtrace_prefixes },
		{ "xtrace_roundtrip", test_xtrace_roundtrip },
	};
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("wire", NULL, NULL);
	if (s == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)fails;
}
