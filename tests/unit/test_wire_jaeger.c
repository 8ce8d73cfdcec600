/* SPDX-License-Identifier: BSD-3-Clause
 * Jaeger agent emitBatch decoder/encoder tests (Thrift compact and binary).
 *
 * Most inputs are built byte by byte with the small builder below, written
 * from the Thrift protocol descriptions, not with alt_wire_encode_jaeger();
 * the encoder is checked by round trips and by its fixed message header.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alt_wire.h"

/* ---- a byte builder that follows the Thrift specs ---- */

/* Type vocabulary: the compact protocol's codes. */
enum {
	T_TRUE = 1, T_FALSE = 2, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6,
	T_DOUBLE = 7, T_BIN = 8, T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12,
};

/* Same types in the binary protocol. */
static const uint8_t bin_code[13] = { 0, 2, 2, 3, 6, 8, 10, 4, 11, 15, 14, 13, 12 };

#define TB_CAP (1u << 18)

struct tb {
	uint8_t *b;
	size_t n;
	bool c;                 /* compact */
	int sp;
	int16_t last[256];
};

static struct tb *
tb_new(bool compact)
{
	struct tb *t = calloc(1, sizeof(*t));

	t->b = calloc(1, TB_CAP);
	t->c = compact;
	return t;
}

static void
tb_free(struct tb *t)
{
	free(t->b);
	free(t);
}

static void
tb_u8(struct tb *t, unsigned v)
{
	if (t->n < TB_CAP)
		t->b[t->n++] = (uint8_t)v;
}

static void
tb_raw(struct tb *t, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tb_u8(t, ((const uint8_t *)p)[i]);
}

static void
tb_uvar(struct tb *t, uint64_t v)
{
	while (v >= 0x80) {
		tb_u8(t, (unsigned)(v & 0x7f) | 0x80);
		v >>= 7;
	}
	tb_u8(t, (unsigned)v);
}

static uint64_t
zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void
tb_be(struct tb *t, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		tb_u8(t, (unsigned)(v >> (8 * i)) & 0xff);
}

/* Field header; a bool field goes through tb_fbool. */
static void
tb_fh(struct tb *t, int type, int id)
{
	if (t->c) {
		int d = id - t->last[t->sp];

		if (d > 0 && d <= 15) {
			tb_u8(t, (unsigned)(d << 4 | type));
		} else {
			tb_u8(t, (unsigned)type);
			tb_uvar(t, zz(id));
		}
		t->last[t->sp] = (int16_t)id;
	} else {
		tb_u8(t, bin_code[type]);
		tb_be(t, (uint16_t)id, 2);
	}
}

static void
tb_begin(struct tb *t)
{
	t->last[++t->sp] = 0;
}

static void
tb_end(struct tb *t)
{
	tb_u8(t, 0);
	t->sp--;
}

static void
tb_int(struct tb *t, int type, int64_t v)
{
	if (type == T_BYTE)
		tb_u8(t, (unsigned)v & 0xff);
	else if (t->c)
		tb_uvar(t, zz(v));
	else
		tb_be(t, (uint64_t)v, type == T_I64 ? 8 : type == T_I32 ? 4 : 2);
}

static void
tb_fint(struct tb *t, int type, int id, int64_t v)
{
	tb_fh(t, type, id);
	tb_int(t, type, v);
}

static void
tb_bin(struct tb *t, const void *p, size_t n)
{
	if (t->c)
		tb_uvar(t, n);
	else
		tb_be(t, n, 4);
	tb_raw(t, p, n);
}

static void
tb_str(struct tb *t, const char *s)
{
	tb_bin(t, s, strlen(s));
}

static void
tb_fstr(struct tb *t, int id, const char *s)
{
	tb_fh(t, T_BIN, id);
	tb_str(t, s);
}

static void
tb_fbool(struct tb *t, int id, bool v)
{
	if (t->c) {
		tb_fh(t, v ? T_TRUE : T_FALSE, id);
	} else {
		tb_fh(t, T_TRUE, id);
		tb_u8(t, v);
	}
}

/* A bool inside a list/set/map: one byte in both protocols. */
static void
tb_ebool(struct tb *t, bool v)
{
	tb_u8(t, t->c ? (v ? 1 : 2) : (v ? 1 : 0));
}

static void
tb_dbl(struct tb *t, double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	if (t->c) {
		for (int i = 0; i < 8; i++)
			tb_u8(t, (unsigned)(u >> (8 * i)) & 0xff);
	} else {
		tb_be(t, u, 8);
	}
}

static void
tb_fdbl(struct tb *t, int id, double d)
{
	tb_fh(t, T_DOUBLE, id);
	tb_dbl(t, d);
}

static void
tb_list(struct tb *t, int et, uint32_t n)
{
	if (t->c) {
		if (n < 15) {
			tb_u8(t, n << 4 | (unsigned)et);
		} else {
			tb_u8(t, 0xf0 | (unsigned)et);
			tb_uvar(t, n);
		}
	} else {
		tb_u8(t, bin_code[et]);
		tb_be(t, n, 4);
	}
}

static void
tb_map(struct tb *t, int kt, int vt, uint32_t n)
{
	if (t->c) {
		tb_uvar(t, n);
		if (n)
			tb_u8(t, (unsigned)(kt << 4 | vt));
	} else {
		tb_u8(t, bin_code[kt]);
		tb_u8(t, bin_code[vt]);
		tb_be(t, n, 4);
	}
}

/* Envelope: oneway (4) "emitBatch", seqid 0. */
static void
tb_msg_typed(struct tb *t, unsigned type, const char *name)
{
	if (t->c) {
		tb_u8(t, 0x82);
		tb_u8(t, type << 5 | 1);
		tb_uvar(t, 0);
		tb_str(t, name);
	} else {
		tb_be(t, 0x80010000u | type, 4);
		tb_str(t, name);
		tb_be(t, 0, 4);
	}
	t->sp = 0;
	t->last[0] = 0;
}

static void
tb_msg(struct tb *t)
{
	tb_msg_typed(t, 4, "emitBatch");
}

/* envelope, args{1: Batch{1: Process{1: svc}, 2: list<Span>(n) ... */
static void
tb_head(struct tb *t, const char *svc, uint32_t nspans)
{
	tb_msg(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);                    /* Batch */
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);                    /* Process */
	tb_fstr(t, 1, svc);
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, nspans);
}

/* Opens a Span with fields 1..5 (caller adds more and tb_end()s it). */
static void
tb_span(struct tb *t, uint64_t lo, uint64_t hi, uint64_t id, uint64_t pid, const char *op)
{
	tb_begin(t);
	tb_fint(t, T_I64, 1, (int64_t)lo);
	tb_fint(t, T_I64, 2, (int64_t)hi);
	tb_fint(t, T_I64, 3, (int64_t)id);
	tb_fint(t, T_I64, 4, (int64_t)pid);
	tb_fstr(t, 5, op);
}

static void
tb_times(struct tb *t, int64_t start_us, int64_t dur_us)
{
	tb_fint(t, T_I32, 7, 1);
	tb_fint(t, T_I64, 8, start_us);
	tb_fint(t, T_I64, 9, dur_us);
}

/* A SpanRef struct element. */
static void
tb_ref(struct tb *t, int type, uint64_t lo, uint64_t hi, uint64_t id)
{
	tb_begin(t);
	tb_fint(t, T_I32, 1, type);
	tb_fint(t, T_I64, 2, (int64_t)lo);
	tb_fint(t, T_I64, 3, (int64_t)hi);
	tb_fint(t, T_I64, 4, (int64_t)id);
	tb_end(t);
}

/* A string Tag element (Ruby style: only vStr). */
static void
tb_stag(struct tb *t, const char *k, const char *v)
{
	tb_begin(t);
	tb_fstr(t, 1, k);
	tb_fint(t, T_I32, 2, 0);
	tb_fstr(t, 3, v);
	tb_end(t);
}

/* Close Batch (with optional seqNo) and args. */
static void
tb_tail(struct tb *t, int64_t seq)
{
	if (seq >= 0)
		tb_fint(t, T_I64, 3, seq);
	tb_end(t);
	tb_end(t);
}

/* A one-span message: trace (lo, hi), span id, parent, no extras. */
static void
tb_simple(struct tb *t, const char *svc, uint64_t lo, uint64_t id, int64_t seq)
{
	tb_head(t, svc, 1);
	tb_span(t, lo, 0, id, 0, "op");
	tb_times(t, 1000, 10);
	tb_end(t);
	tb_tail(t, seq);
}

/* ---- decode helpers ---- */

#define REC_CAP 4096
static struct alt_record recs[REC_CAP];
static char arena[1 << 20];
static struct alt_wire_out out;

static enum alt_wire_reason
dec_cap(struct alt_wire_ctx *ctx, bool c, const uint8_t *b, size_t n, uint32_t cap,
	uint32_t arena_cap)
{
	out.recs = recs;
	out.cap = cap;
	out.arena = arena;
	out.arena_cap = arena_cap;
	return alt_wire_decode_jaeger(ctx, c, b, n, &out);
}

static enum alt_wire_reason
dec(struct alt_wire_ctx *ctx, bool c, const uint8_t *b, size_t n)
{
	return dec_cap(ctx, c, b, n, REC_CAP, sizeof(arena));
}

static enum alt_wire_reason
dec_tb(struct tb *t)
{
	return dec(NULL, t->c, t->b, t->n);
}

/* Decode from an exactly-sized heap copy (valgrind sees any over-read). */
static enum alt_wire_reason
dec_exact(bool c, const uint8_t *b, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum alt_wire_reason r;

	memcpy(copy, b, n);
	r = dec(NULL, c, copy, n);
	free(copy);
	return r;
}

static bool
str_is(struct alt_str s, const char *want)
{
	size_t n = strlen(want);

	return s.len == n && (n == 0 || memcmp(s.p, want, n) == 0);
}

#define CHECK_STR(s, want) do { \
		if (!str_is((s), (want))) \
			fprintf(stderr, "\n  got \"%.*s\" want \"%s\"\n", (int)(s).len, \
				(s).p ? (s).p : "", (want)); \
		CU_ASSERT(str_is((s), (want))); \
	} while (0)

static struct alt_wire_ctx *
ctx_new(void)
{
	struct alt_wire_ctx *ctx = malloc(sizeof(*ctx));

	alt_wire_ctx_init(ctx);
	return ctx;
}

static struct alt_wire_emitter *
emitter_by_name(struct alt_wire_ctx *ctx, const char *name, unsigned nth)
{
	for (unsigned i = 0; i < ALT_WIRE_MAX_EMITTERS; i++) {
		struct alt_wire_emitter *e = &ctx->emitters[i];

		if (e->used && strcmp(e->name, name) == 0 && nth-- == 0)
			return e;
	}
	return NULL;
}

/* ---- round trips through the encoder ---- */

static void
set_rec(struct alt_record *r, uint64_t hi, uint64_t lo, uint64_t id, unsigned np,
	const uint64_t *parents, const char *op, const char *attrs, uint16_t flags)
{
	memset(r, 0, sizeof(*r));
	r->trace_id.hi = hi;
	r->trace_id.lo = lo;
	r->node_id = id;
	r->parent_count = (uint8_t)np;
	for (unsigned i = 0; i < np; i++)
		r->parents[i] = parents[i];
	r->start_ns = 1700000000123456000ULL + (id & 0xffff) * 1000;
	r->duration_ns = 5000 * (id & 0xff);
	r->kind = ALT_KIND_SPAN;
	r->flags = flags;
	r->operation.p = op;
	r->operation.len = (uint32_t)strlen(op);
	if (attrs && *attrs) {
		r->attrs.p = attrs;
		r->attrs.len = (uint32_t)strlen(attrs);
	}
}

static void
check_rec_eq(const struct alt_record *got, const struct alt_record *want, const char *svc,
	     const char *want_attrs)
{
	CU_ASSERT_EQUAL(got->trace_id.hi, want->trace_id.hi);
	CU_ASSERT_EQUAL(got->trace_id.lo, want->trace_id.lo);
	CU_ASSERT_EQUAL(got->node_id, want->node_id);
	CU_ASSERT_EQUAL(got->parent_count, want->parent_count);
	for (unsigned i = 0; i < want->parent_count && i < got->parent_count; i++)
		CU_ASSERT_EQUAL(got->parents[i], want->parents[i]);
	CU_ASSERT_EQUAL(got->start_ns, want->start_ns);
	CU_ASSERT_EQUAL(got->duration_ns, want->duration_ns);
	CU_ASSERT_EQUAL(got->kind, ALT_KIND_SPAN);
	CU_ASSERT_EQUAL(got->flags, want->flags);
	CHECK_STR(got->service, svc);
	CU_ASSERT(got->operation.len == want->operation.len &&
		  memcmp(got->operation.p, want->operation.p, want->operation.len) == 0);
	CHECK_STR(got->attrs, want_attrs);
}

static void
roundtrip(bool c)
{
	static uint8_t buf[1 << 16];
	struct alt_record in[5];
	const uint64_t p1[] = { 0x8000000000000005ULL };
	const uint64_t p3[] = { 10, 0xffffffffffffff11ULL, 12 };
	uint64_t p15[15];
	const char *keys[] = { "hostname", "ip" };
	const char *vals[] = { "h1", "10.0.0.1" };
	struct alt_jaeger_process proc = { "svc-a", 2, keys, vals };
	size_t n;

	for (unsigned i = 0; i < 15; i++)
		p15[i] = 0x9000000000000000ULL + i;
	set_rec(&in[0], 0, 0x8000000000000001ULL, 0xfedcba9876543210ULL, 0, NULL, "GET /",
		"http.method=GET\nhttp.status_code=200", 0);
	set_rec(&in[1], 0x8123456789abcdefULL, 0xffffffffffffffffULL, 2, 1, p1, "child", "",
		ALT_RF_ERROR);
	set_rec(&in[2], 0x8123456789abcdefULL, 0xffffffffffffffffULL, 3, 3, p3, "multi",
		"a=b\nk=v=w", ALT_RF_ERROR);
	set_rec(&in[3], 1, 2, 4, 15, p15, "", "x=", 0);
	set_rec(&in[4], 0, 7, 0x8000000000000000ULL, 1, p1, "neg", "", 0);

	n = alt_wire_encode_jaeger(c, &proc, in, 5, -1, NULL, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(dec(NULL, c, buf, n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 5);
	CU_ASSERT_EQUAL(out.parents_truncated, 0);
	CU_ASSERT_EQUAL(out.foreign_refs, 0);
	check_rec_eq(&recs[0], &in[0], "svc-a", "http.method=GET\nhttp.status_code=200");
	check_rec_eq(&recs[1], &in[1], "svc-a", "error=true");
	check_rec_eq(&recs[2], &in[2], "svc-a", "a=b\nk=v=w\nerror=true");
	check_rec_eq(&recs[3], &in[3], "svc-a", "x=");
	check_rec_eq(&recs[4], &in[4], "svc-a", "");
	/* the service points into the payload (zero copy) */
	CU_ASSERT(recs[0].service.p >= (const char *)buf &&
		  recs[0].service.p < (const char *)buf + n);
	CU_ASSERT(recs[0].operation.p >= (const char *)buf &&
		  recs[0].operation.p < (const char *)buf + n);
}

static void
test_roundtrip_compact(void)
{
	roundtrip(true);
}

static void
test_roundtrip_binary(void)
{
	roundtrip(false);
}

static void
many_spans(bool c)
{
	static uint8_t buf[1 << 20];
	static struct alt_record in[3000];
	struct alt_jaeger_process proc = { "many", 0, NULL, NULL };
	uint64_t p = 1;
	size_t n;

	for (unsigned i = 0; i < 3000; i++)
		set_rec(&in[i], i, 0xabc, i + 2, 1, &p, "op", "k=v", (i % 7) ? 0 : ALT_RF_ERROR);
	n = alt_wire_encode_jaeger(c, &proc, in, 3000, 9, NULL, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(dec(NULL, c, buf, n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 3000);
	for (unsigned i = 0; i < 3000; i++) {
		CU_ASSERT_EQUAL(recs[i].trace_id.hi, i);
		CU_ASSERT_EQUAL(recs[i].node_id, i + 2);
		CU_ASSERT_EQUAL(recs[i].flags, in[i].flags);
		CU_ASSERT_EQUAL(recs[i].parent_count, 1);
		CHECK_STR(recs[i].attrs, (i % 7) ? "k=v" : "k=v\nerror=true");
	}
	CU_ASSERT_EQUAL(dec_cap(NULL, c, buf, n, 2999, sizeof(arena)),
			ALT_WIRE_TOO_MANY_RECORDS);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(dec_cap(NULL, c, buf, n, 3000, 100), ALT_WIRE_ARENA_FULL);
	CU_ASSERT_EQUAL(out.n, 0);
}

static void
test_many_spans(void)
{
	many_spans(true);
	many_spans(false);
}

static void
test_encoder_header_and_fit(void)
{
	uint8_t buf[512];
	struct alt_record r;
	struct alt_jaeger_process proc = { "s", 0, NULL, NULL };
	const uint8_t ch[] = { 0x82, 0x81, 0x00, 0x09,
			       'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'h' };
	const uint8_t bh[] = { 0x80, 0x01, 0x00, 0x04, 0, 0, 0, 9,
			       'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'h', 0, 0, 0, 0 };
	const uint64_t stats[3] = { 1, 2, 3 };
	size_t n;

	set_rec(&r, 0, 1, 2, 0, NULL, "op", "a=b", 0);
	n = alt_wire_encode_jaeger(true, &proc, &r, 1, 5, stats, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > sizeof(ch));
	CU_ASSERT(memcmp(buf, ch, sizeof(ch)) == 0);
	for (size_t cap = 0; cap < n; cap++)
		CU_ASSERT_EQUAL(alt_wire_encode_jaeger(true, &proc, &r, 1, 5, stats, buf, cap), 0);
	n = alt_wire_encode_jaeger(false, &proc, &r, 1, 5, stats, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > sizeof(bh));
	CU_ASSERT(memcmp(buf, bh, sizeof(bh)) == 0);
	for (size_t cap = 0; cap < n; cap++)
		CU_ASSERT_EQUAL(alt_wire_encode_jaeger(false, &proc, &r, 1, 5, stats, buf, cap), 0);
	/* zero spans is a valid (empty) batch */
	n = alt_wire_encode_jaeger(true, &proc, NULL, 0, -1, NULL, buf, sizeof(buf));
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(dec(NULL, true, buf, n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 0);
}

/* ---- hand-built payloads ---- */

static void
parents_over_15(bool c)
{
	struct tb *t = tb_new(c);

	tb_head(t, "svc", 1);
	tb_span(t, 5, 0, 50, 100, "op");
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 21);
	tb_ref(t, 0, 5, 0, 100);                /* CHILD_OF repeats the parent */
	for (unsigned i = 0; i < 20; i++)
		tb_ref(t, 1, 5, 0, 101 + i);
	tb_times(t, 1, 1);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	CU_ASSERT_EQUAL(recs[0].parent_count, 15);
	CU_ASSERT_EQUAL(recs[0].parents[0], 100);
	for (unsigned i = 1; i < 15; i++)
		CU_ASSERT_EQUAL(recs[0].parents[i], 100 + i);
	CU_ASSERT_EQUAL(out.parents_truncated, 1);
	tb_free(t);
}

static void
test_parents_over_15(void)
{
	parents_over_15(true);
	parents_over_15(false);
}

static void
parent_dedup(bool c)
{
	struct tb *t = tb_new(c);

	tb_head(t, "svc", 3);
	/* Jaeger client: parent in parentSpanId and again as CHILD_OF */
	tb_span(t, 5, 0, 50, 7, "op");
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 4);
	tb_ref(t, 0, 5, 0, 7);
	tb_ref(t, 1, 5, 0, 9);
	tb_ref(t, 1, 5, 0, 7);
	tb_ref(t, 1, 5, 0, 9);
	tb_times(t, 1, 1);
	tb_end(t);
	/* OpenTelemetry: links only, as FOLLOWS_FROM, parentSpanId 0 */
	tb_span(t, 5, 0, 51, 0, "op");
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 2);
	tb_ref(t, 1, 5, 0, 33);
	tb_ref(t, 1, 5, 0, 34);
	tb_times(t, 1, 1);
	tb_end(t);
	/* root: no parents, empty references */
	tb_span(t, 5, 0, 52, 0, "root");
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 0);
	tb_times(t, 1, 1);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 3);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 7);
	CU_ASSERT_EQUAL(recs[0].parents[1], 9);
	CU_ASSERT_EQUAL(recs[1].parent_count, 2);
	CU_ASSERT_EQUAL(recs[1].parents[0], 33);
	CU_ASSERT_EQUAL(recs[1].parents[1], 34);
	CU_ASSERT_EQUAL(recs[2].parent_count, 0);
	CU_ASSERT_EQUAL(out.parents_truncated, 0);
	tb_free(t);
}

static void
test_parent_dedup_and_follows_from(void)
{
	parent_dedup(true);
	parent_dedup(false);
}

static void
foreign_refs(bool c)
{
	struct tb *t = tb_new(c);

	tb_head(t, "svc", 2);
	tb_span(t, 5, 0x8000000000000000ULL, 50, 4, "op");
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 4);
	tb_ref(t, 0, 5, 0x8000000000000000ULL, 7);      /* same trace */
	tb_ref(t, 1, 6, 0x8000000000000000ULL, 8);      /* other lo */
	tb_ref(t, 1, 5, 0, 9);                          /* other hi */
	tb_ref(t, 1, 5, 0x8000000000000000ULL, 0);      /* span id 0: ignored */
	tb_times(t, 1, 1);
	tb_end(t);
	/* references before the trace ids (field order is free) */
	tb_begin(t);
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 2);
	tb_ref(t, 0, 11, 12, 13);
	tb_ref(t, 1, 11, 99, 14);
	tb_fint(t, T_I64, 1, 11);
	tb_fint(t, T_I64, 2, 12);
	tb_fint(t, T_I64, 3, 20);
	tb_fint(t, T_I64, 4, 0);
	tb_fstr(t, 5, "late ids");
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 4);
	CU_ASSERT_EQUAL(recs[0].parents[1], 7);
	CU_ASSERT_EQUAL(recs[1].parent_count, 1);
	CU_ASSERT_EQUAL(recs[1].parents[0], 13);
	CU_ASSERT_EQUAL(recs[1].trace_id.hi, 12);
	CU_ASSERT_EQUAL(out.foreign_refs, 3);
	tb_free(t);
}

static void
test_foreign_refs(void)
{
	foreign_refs(true);
	foreign_refs(false);
}

/* Every Thrift type as an unknown field, nested containers included. */
static void
tb_junk(struct tb *t, int base)
{
	tb_fbool(t, base + 0, true);
	tb_fbool(t, base + 1, false);
	tb_fint(t, T_BYTE, base + 2, -3);
	tb_fint(t, T_I16, base + 3, -300);
	tb_fint(t, T_I32, base + 4, 123456789);
	tb_fint(t, T_I64, base + 5, INT64_MIN);
	tb_fdbl(t, base + 6, 3.25);
	tb_fstr(t, base + 7, "junk string");
	tb_fh(t, T_LIST, base + 8);             /* list<bool> */
	tb_list(t, T_TRUE, 3);
	tb_ebool(t, true);
	tb_ebool(t, false);
	tb_ebool(t, true);
	tb_fh(t, T_SET, base + 9);              /* set<string> */
	tb_list(t, T_BIN, 2);
	tb_str(t, "a");
	tb_str(t, "b");
	tb_fh(t, T_MAP, base + 10);             /* map<string, list<i64>> */
	tb_map(t, T_BIN, T_LIST, 2);
	tb_str(t, "x");
	tb_list(t, T_I64, 2);
	tb_int(t, T_I64, 1);
	tb_int(t, T_I64, -1);
	tb_str(t, "y");
	tb_list(t, T_I64, 0);
	tb_fh(t, T_MAP, base + 11);             /* empty map */
	tb_map(t, T_I32, T_I32, 0);
	tb_fh(t, T_STRUCT, base + 12);          /* struct{struct{list<map<i32,struct>>}} */
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_LIST, 3);
	tb_list(t, T_MAP, 1);
	tb_map(t, T_I32, T_STRUCT, 1);
	tb_int(t, T_I32, 7);
	tb_begin(t);
	tb_fbool(t, 1, true);
	tb_fdbl(t, 2, -1.0);
	tb_end(t);
	tb_end(t);
	tb_end(t);
	tb_fh(t, T_LIST, base + 13);            /* list<double> and list<byte> */
	tb_list(t, T_DOUBLE, 1);
	tb_dbl(t, 1.0);
	tb_fh(t, T_LIST, base + 14);
	tb_list(t, T_BYTE, 2);
	tb_u8(t, 1);
	tb_u8(t, 2);
	tb_fh(t, T_LIST, base + 15);            /* list with long-form size */
	tb_list(t, T_I16, 20);
	for (int i = 0; i < 20; i++)
		tb_int(t, T_I16, i);
}

static void
unknown_fields(bool c)
{
	struct tb *t = tb_new(c);

	tb_msg(t);
	tb_junk(t, 2);                          /* in the args struct, before Batch */
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);                            /* Batch */
	tb_junk(t, 100);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);                            /* Process */
	tb_junk(t, 10);
	tb_fstr(t, 1, "svc");
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);                            /* a process Tag with junk */
	tb_junk(t, 20);
	tb_fstr(t, 1, "host");
	tb_fint(t, T_I32, 2, 0);
	tb_fstr(t, 3, "h1");
	tb_end(t);
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_span(t, 5, 0, 50, 7, "op");
	tb_junk(t, 300);                        /* ids > 15 apart: long form */
	tb_fint(t, T_I32, 5, 42);               /* known id, wrong type: skipped */
	tb_fh(t, T_LIST, 6);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);                            /* SpanRef with junk */
	tb_fint(t, T_I32, 1, 1);
	tb_fint(t, T_I64, 2, 5);
	tb_fint(t, T_I64, 3, 0);
	tb_fint(t, T_I64, 4, 8);
	tb_junk(t, 40);
	tb_end(t);
	tb_times(t, 1000, 20);
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);                            /* Tag with junk */
	tb_fstr(t, 1, "k");
	tb_junk(t, 60);
	tb_fint(t, T_I32, 2, 0);
	tb_fstr(t, 3, "v");
	tb_end(t);
	tb_fbool(t, 12, false);                 /* incomplete */
	tb_fh(t, T_LIST, 11);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);                            /* Log with junk */
	tb_fint(t, T_I64, 1, 5);
	tb_junk(t, 80);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "event", "x");
	tb_end(t);
	tb_fint(t, T_I16, -5, 1);               /* negative field id */
	tb_end(t);                              /* Span */
	tb_fint(t, T_I64, 3, 1);
	tb_junk(t, 200);
	tb_end(t);                              /* Batch */
	tb_junk(t, 500);
	tb_end(t);                              /* args */

	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	CU_ASSERT_EQUAL(recs[0].node_id, 50);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 5);
	CU_ASSERT_EQUAL(recs[0].parent_count, 2);
	CU_ASSERT_EQUAL(recs[0].parents[0], 7);
	CU_ASSERT_EQUAL(recs[0].parents[1], 8);
	CU_ASSERT_EQUAL(recs[0].start_ns, 1000000);
	CU_ASSERT_EQUAL(recs[0].duration_ns, 20000);
	CHECK_STR(recs[0].service, "svc");
	CHECK_STR(recs[0].operation, "op");
	CHECK_STR(recs[0].attrs, "k=v\nevent=x");
	/* each strict prefix is truncation */
	for (size_t n = 0; n < t->n; n++)
		CU_ASSERT_EQUAL(dec_exact(c, t->b, n), ALT_WIRE_TRUNCATED);
	tb_free(t);
}

static void
test_unknown_fields_skipped(void)
{
	unknown_fields(true);
	unknown_fields(false);
}

/* A Tag with all five value fields, as Node's client writes it. */
static void
tb_node_tag(struct tb *t, const char *k, int vtype)
{
	const uint8_t bin[] = { 0x00, 0xff, 0x1a };

	tb_begin(t);
	tb_fstr(t, 1, k);
	tb_fint(t, T_I32, 2, vtype);
	tb_fstr(t, 3, "s");
	tb_fdbl(t, 4, 2.5);
	tb_fbool(t, 5, true);
	tb_fint(t, T_I64, 6, 42);
	tb_fh(t, T_BIN, 7);
	tb_bin(t, bin, sizeof(bin));
	tb_end(t);
}

static void
tb_dtag(struct tb *t, const char *k, double d)
{
	tb_begin(t);
	tb_fstr(t, 1, k);
	tb_fint(t, T_I32, 2, 1);
	tb_fdbl(t, 4, d);
	tb_end(t);
}

static void
tag_values(bool c)
{
	struct tb *t = tb_new(c);
	char want[1024], num[64];
	const double ds[] = { 0.1, -0.0, 1e300, 42.0, -7.5, 123456789012.0, 1e17, 5e-324 };
	int w;

	tb_head(t, "svc", 2);
	tb_span(t, 5, 0, 50, 0, "op");
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 5 + 8 + 6);
	for (int v = 0; v < 5; v++)
		tb_node_tag(t, "n", v);
	for (unsigned i = 0; i < 8; i++)
		tb_dtag(t, "d", ds[i]);
	tb_begin(t);                            /* Ruby-style single-field tags */
	tb_fstr(t, 1, "b");
	tb_fint(t, T_I32, 2, 2);
	tb_fbool(t, 5, false);
	tb_end(t);
	tb_begin(t);
	tb_fstr(t, 1, "l");
	tb_fint(t, T_I32, 2, 3);
	tb_fint(t, T_I64, 6, INT64_MIN);
	tb_end(t);
	tb_begin(t);
	tb_fstr(t, 1, "e");
	tb_fint(t, T_I32, 2, 4);
	tb_fh(t, T_BIN, 7);
	tb_bin(t, "", 0);
	tb_end(t);
	tb_begin(t);                            /* unknown vType: no line */
	tb_fstr(t, 1, "u");
	tb_fint(t, T_I32, 2, 9);
	tb_fstr(t, 3, "zz");
	tb_end(t);
	tb_begin(t);                            /* vType named, value absent */
	tb_fstr(t, 1, "m");
	tb_fint(t, T_I32, 2, 3);
	tb_end(t);
	tb_stag(t, "error", "false");
	tb_times(t, 1, 1);
	tb_end(t);
	/* error as string "true" */
	tb_span(t, 5, 0, 51, 50, "op");
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "error", "true");
	tb_end(t);
	tb_tail(t, -1);

	w = snprintf(want, sizeof(want), "n=s\nn=2.5\nn=true\nn=42\nn=00ff1a");
	for (unsigned i = 0; i < 8; i++) {
		snprintf(num, sizeof(num), "%.17g", ds[i]);
		w += snprintf(want + w, sizeof(want) - (size_t)w, "\nd=%s", num);
	}
	snprintf(want + w, sizeof(want) - (size_t)w,
		 "\nb=false\nl=-9223372036854775808\ne=\nm=\nerror=false");

	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	CHECK_STR(recs[0].attrs, want);
	CU_ASSERT_EQUAL(recs[0].flags, 0);
	CHECK_STR(recs[1].attrs, "error=true");
	CU_ASSERT_EQUAL(recs[1].flags, ALT_RF_ERROR);
	tb_free(t);
}

static void
test_tag_values(void)
{
	tag_values(true);
	tag_values(false);
}

static void
tb_logs(struct tb *t)
{
	tb_fh(t, T_LIST, 11);
	tb_list(t, T_STRUCT, 2);
	tb_begin(t);
	tb_fint(t, T_I64, 1, 1234);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 2);
	tb_stag(t, "event", "retry");
	tb_begin(t);
	tb_fstr(t, 1, "n");
	tb_fint(t, T_I32, 2, 3);
	tb_fint(t, T_I64, 6, 3);
	tb_end(t);
	tb_end(t);
	tb_begin(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "m", "y");
	tb_fint(t, T_I64, 1, 1235);
	tb_end(t);
}

static void
logs_in_attrs(bool c)
{
	struct tb *t = tb_new(c);

	tb_head(t, "svc", 3);
	tb_span(t, 5, 0, 50, 0, "op");         /* tags then logs */
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "a", "1");
	tb_logs(t);
	tb_end(t);
	tb_span(t, 5, 0, 51, 0, "op");         /* logs written before tags */
	tb_logs(t);
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "a", "1");
	tb_end(t);
	tb_span(t, 5, 0, 52, 0, "op");         /* logs only */
	tb_logs(t);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 3);
	CHECK_STR(recs[0].attrs, "a=1\nevent=retry\nn=3\nm=y");
	CHECK_STR(recs[1].attrs, "a=1\nevent=retry\nn=3\nm=y");
	CHECK_STR(recs[2].attrs, "event=retry\nn=3\nm=y");
	tb_free(t);
}

static void
test_logs_in_attrs(void)
{
	logs_in_attrs(true);
	logs_in_attrs(false);
}

/* ---- loss accounting ---- */

/* Batch from a client: service plus one process tag (NULL: no tags). */
static void
tb_client(struct tb *t, const char *svc, const char *host, int64_t seq, const int64_t *stats)
{
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fstr(t, 1, svc);
	if (host) {
		tb_fh(t, T_LIST, 2);
		tb_list(t, T_STRUCT, 1);
		tb_stag(t, "hostname", host);
	}
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_span(t, 1, 0, 2, 0, "op");
	tb_end(t);
	if (seq >= 0)
		tb_fint(t, T_I64, 3, seq);
	if (stats) {
		tb_fh(t, T_STRUCT, 4);
		tb_begin(t);
		tb_fint(t, T_I64, 1, stats[0]);
		tb_fint(t, T_I64, 2, stats[1]);
		tb_fint(t, T_I64, 3, stats[2]);
		tb_end(t);
	}
	tb_end(t);
	tb_end(t);
}

static void
seq_gaps(bool c)
{
	struct alt_wire_ctx *ctx = ctx_new();
	struct tb *t = tb_new(c);
	struct alt_wire_emitter *a, *b;
	uint8_t fmt = c ? ALT_FMT_JAEGER_COMPACT : ALT_FMT_JAEGER_BINARY;

	/* one client: 1 2 3 6 -> 2 lost */
	const int64_t seqs[] = { 1, 2, 3, 6 };
	for (unsigned i = 0; i < 4; i++) {
		tb_client(t, "one", NULL, seqs[i], NULL);
		CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	}
	CU_ASSERT_EQUAL(ctx->jaeger_batches_lost, 2);
	CU_ASSERT_EQUAL(ctx->n_emitters, 1);
	a = emitter_by_name(ctx, "one", 0);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(a->frames, 4);
	CU_ASSERT_EQUAL(a->lost, 2);
	CU_ASSERT_EQUAL(a->format, fmt);

	/* a rejected batch is not counted */
	tb_client(t, "one", NULL, 9, NULL);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n - 1), ALT_WIRE_TRUNCATED);
	CU_ASSERT_EQUAL(a->frames, 4);
	/* no seqNo: no accounting */
	tb_client(t, "one", NULL, -1, NULL);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(a->frames, 4);

	/* two clients of one service told apart by their process tags,
	 * interleaved: A 1 2 4 (1 lost), B 10 13 (2 lost) */
	alt_wire_ctx_init(ctx);
	const struct { const char *host; int64_t seq; } seq2[] = {
		{ "hA", 1 }, { "hB", 10 }, { "hA", 2 }, { "hB", 13 }, { "hA", 4 },
	};
	for (unsigned i = 0; i < 5; i++) {
		tb_client(t, "two", seq2[i].host, seq2[i].seq, NULL);
		CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	}
	CU_ASSERT_EQUAL(ctx->n_emitters, 2);
	CU_ASSERT_EQUAL(ctx->jaeger_batches_lost, 3);
	a = emitter_by_name(ctx, "two", 0);
	b = emitter_by_name(ctx, "two", 1);
	CU_ASSERT_FATAL(a != NULL && b != NULL);
	CU_ASSERT(a->key != b->key);
	CU_ASSERT_EQUAL(a->lost + b->lost, 3);
	CU_ASSERT(a->lost == 1 || a->lost == 2);
	CU_ASSERT_EQUAL(a->frames + b->frames, 5);

	/* ctx NULL is fine */
	tb_client(t, "two", "hA", 100, NULL);
	CU_ASSERT_EQUAL(dec(NULL, c, t->b, t->n), ALT_WIRE_OK);
	tb_free(t);
	free(ctx);
}

static void
test_seq_gaps(void)
{
	seq_gaps(true);
	seq_gaps(false);
}

static void
client_stats(bool c)
{
	struct alt_wire_ctx *ctx = ctx_new();
	struct tb *t = tb_new(c);
	struct alt_wire_emitter *e;
	const int64_t s1[3] = { 1, 2, 3 }, s2[3] = { 5, 2, 3 }, s3[3] = { 1, 0, 0 };

	tb_client(t, "st", "h1", 1, s1);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 6);
	e = emitter_by_name(ctx, "st", 0);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(e->client_full_queue_dropped, 1);
	CU_ASSERT_EQUAL(e->client_too_large_dropped, 2);
	CU_ASSERT_EQUAL(e->client_failed_to_emit, 3);

	tb_client(t, "st", "h1", 2, s2);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 10);
	CU_ASSERT_EQUAL(e->client_full_queue_dropped, 5);

	/* stats without seqNo from a known client still count */
	tb_client(t, "st", "h1", -1, s2);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 10);

	/* a second client adds its own */
	tb_client(t, "st", "h2", 7, s3);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 11);

	/* the first one restarts (counters drop back) */
	tb_client(t, "st", "h1", 1, s3);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 2);

	/* stats from a client never seen with a seqNo: ignored */
	tb_client(t, "unknown", "h9", -1, s1);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 2);
	CU_ASSERT(emitter_by_name(ctx, "unknown", 0) == NULL);

	/* rejected batch: nothing */
	tb_client(t, "st", "h1", 2, s1);
	CU_ASSERT_EQUAL(dec(ctx, c, t->b, t->n - 2), ALT_WIRE_TRUNCATED);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 2);
	tb_free(t);
	free(ctx);
}

static void
test_client_stats(void)
{
	client_stats(true);
	client_stats(false);
}

static void
test_encoder_seq_and_stats(void)
{
	static uint8_t buf[4096];
	struct alt_wire_ctx *ctx = ctx_new();
	struct alt_record r;
	struct alt_jaeger_process proc = { "enc", 0, NULL, NULL };
	const uint64_t stats[3] = { 4, 5, 6 };
	size_t n;

	set_rec(&r, 0, 1, 2, 0, NULL, "op", "", 0);
	for (int64_t s = 0; s < 6; s += 2) {
		n = alt_wire_encode_jaeger(true, &proc, &r, 1, s, stats, buf, sizeof(buf));
		CU_ASSERT_EQUAL(dec(ctx, true, buf, n), ALT_WIRE_OK);
	}
	CU_ASSERT_EQUAL(ctx->jaeger_batches_lost, 2);
	CU_ASSERT_EQUAL(ctx->jaeger_client_dropped_spans, 15);
	free(ctx);
}

/* ---- envelopes and rejects ---- */

static void
envelopes(bool c)
{
	struct tb *t = tb_new(c);

	/* call (1) is accepted like oneway */
	tb_msg_typed(t, 1, "emitBatch");
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fstr(t, 1, "s");
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 0);
	tb_end(t);
	tb_end(t);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	/* trailing bytes are accepted */
	tb_u8(t, 0xde);
	tb_u8(t, 0xad);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);

	const unsigned bad_types[] = { 0, 2, 3, 5, 7 };
	for (unsigned i = 0; i < 5; i++) {
		t->n = 0;
		tb_msg_typed(t, bad_types[i], "emitBatch");
		CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_NOT_EMITBATCH);
	}
	t->n = 0;
	tb_msg_typed(t, 4, "emitZipkinBatch");
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_NOT_EMITBATCH);
	t->n = 0;
	tb_msg_typed(t, 4, "emitBatcH");
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_NOT_EMITBATCH);
	tb_free(t);
}

static void
test_envelopes(void)
{
	envelopes(true);
	envelopes(false);
}

static void
test_binary_non_strict(void)
{
	struct tb *t = tb_new(false);

	/* old binary envelope: i32 name length, name, i8 type, i32 seqid */
	tb_str(t, "emitBatch");
	tb_u8(t, 4);
	tb_be(t, 0, 4);
	t->sp = 0;
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fstr(t, 1, "old");
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 1);
	tb_span(t, 9, 0, 10, 0, "op");
	tb_end(t);
	tb_end(t);
	tb_end(t);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	CHECK_STR(recs[0].service, "old");
	CU_ASSERT_EQUAL(recs[0].node_id, 10);
	t->b[4 + 9] = 2;                        /* reply */
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_NOT_EMITBATCH);
	tb_free(t);
}

static void
test_bad_magic_version(void)
{
	const uint8_t c1[] = { 0x80, 0x01, 0x00, 0x04 };
	const uint8_t c2[] = { 0x82, 0x82, 0x00, 0x09 };
	const uint8_t b1[] = { 0x80, 0x02, 0x00, 0x04, 0, 0, 0, 0 };
	const uint8_t b2[] = { 0x81, 0x01, 0x00, 0x04, 0, 0, 0, 0 };

	CU_ASSERT_EQUAL(dec(NULL, true, c1, sizeof(c1)), ALT_WIRE_BAD_MAGIC);
	CU_ASSERT_EQUAL(dec(NULL, true, c2, sizeof(c2)), ALT_WIRE_BAD_VERSION);
	CU_ASSERT_EQUAL(dec(NULL, false, b1, sizeof(b1)), ALT_WIRE_BAD_VERSION);
	CU_ASSERT_EQUAL(dec(NULL, false, b2, sizeof(b2)), ALT_WIRE_BAD_VERSION);
	CU_ASSERT_EQUAL(dec(NULL, true, c1, 0), ALT_WIRE_TRUNCATED);
	CU_ASSERT_EQUAL(dec(NULL, true, NULL, 0), ALT_WIRE_TRUNCATED);
	CU_ASSERT_EQUAL(out.n, 0);
}

static void
missing_and_bad_ids(bool c)
{
	struct tb *t = tb_new(c);

	/* no Process */
	tb_msg(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 0);
	tb_end(t);
	tb_end(t);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_MISSING_FIELD);

	/* Process without serviceName */
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_end(t);
	tb_fh(t, T_LIST, 2);
	tb_list(t, T_STRUCT, 0);
	tb_end(t);
	tb_end(t);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_MISSING_FIELD);

	/* no Batch at all */
	t->n = 0;
	tb_msg(t);
	tb_u8(t, 0);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_MISSING_FIELD);

	/* span without spanId; span without traceIdLow */
	for (int which = 0; which < 2; which++) {
		t->n = 0;
		tb_head(t, "svc", 2);
		tb_span(t, 1, 0, 2, 0, "good");
		tb_end(t);
		tb_begin(t);
		if (which)
			tb_fint(t, T_I64, 1, 1);
		else
			tb_fint(t, T_I64, 3, 3);
		tb_fint(t, T_I64, 2, 0);
		tb_end(t);
		tb_tail(t, -1);
		CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_MISSING_FIELD);
		CU_ASSERT_EQUAL(out.n, 0);
	}

	/* spanId 0 rejects the batch; so does an all-zero trace id */
	t->n = 0;
	tb_head(t, "svc", 2);
	tb_span(t, 1, 0, 2, 0, "good");
	tb_end(t);
	tb_span(t, 1, 0, 0, 0, "zero");
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_ID);
	CU_ASSERT_EQUAL(out.n, 0);
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_span(t, 0, 0, 2, 0, "zero trace");
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_ID);

	/* negative times clamp to 0 */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_span(t, 1, 0, 2, 0, "neg");
	tb_times(t, -5, -1);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].start_ns, 0);
	CU_ASSERT_EQUAL(recs[0].duration_ns, 0);

	/* too many records; arena full */
	t->n = 0;
	tb_head(t, "svc", 2);
	tb_span(t, 1, 0, 2, 0, "a");
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_stag(t, "key", "value");
	tb_end(t);
	tb_span(t, 1, 0, 3, 0, "b");
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_cap(NULL, c, t->b, t->n, 1, sizeof(arena)),
			ALT_WIRE_TOO_MANY_RECORDS);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(dec_cap(NULL, c, t->b, t->n, 2, 8), ALT_WIRE_ARENA_FULL);
	CU_ASSERT_EQUAL(out.n, 0);
	CU_ASSERT_EQUAL(dec_cap(NULL, c, t->b, t->n, 2, 9), ALT_WIRE_OK);
	CHECK_STR(recs[0].attrs, "key=value");
	out.arena = NULL;
	out.arena_cap = 0;
	CU_ASSERT_EQUAL(alt_wire_decode_jaeger(NULL, c, t->b, t->n, &out), ALT_WIRE_ARENA_FULL);
	tb_free(t);
}

static void
test_missing_and_bad_ids(void)
{
	missing_and_bad_ids(true);
	missing_and_bad_ids(false);
}

static void
hostile(bool c)
{
	struct tb *t = tb_new(c);

	/* spans list of 2^31 elements */
	t->n = 0;
	tb_head(t, "svc", 0);
	if (c) {
		t->n--;                         /* replace the list header */
		tb_u8(t, 0xfc);
		tb_uvar(t, 0x80000000u);
	} else {
		t->n -= 4;                      /* replace the i32 size */
		tb_be(t, 0x80000000u, 4);
	}
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_LIST_TOO_LONG);
	/* just over the limit, and a size beyond the payload */
	t->n = 0;
	tb_head(t, "svc", ALT_WIRE_MAX_LIST + 1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_LIST_TOO_LONG);
	t->n = 0;
	tb_head(t, "svc", 1000);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_TRUNCATED);
	/* unknown map of 2^31 entries */
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_MAP, 3);
	tb_map(t, T_I32, T_I32, 0x80000000u);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_LIST_TOO_LONG);

	/* nesting depth 100: structs, then lists */
	t->n = 0;
	tb_msg(t);
	for (int i = 0; i < 100; i++) {
		tb_fh(t, T_STRUCT, 2);
		tb_begin(t);
	}
	for (int i = 0; i < 100; i++)
		tb_end(t);
	tb_u8(t, 0);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_DEPTH);
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_LIST, 2);
	for (int i = 0; i < 100; i++)
		tb_list(t, T_LIST, 1);
	tb_list(t, T_I32, 0);
	tb_u8(t, 0);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_DEPTH);
	/* ... and 10 deep inside a span tag is still fine */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_span(t, 1, 0, 2, 0, "op");
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);
	for (int i = 0; i < 9; i++) {
		tb_fh(t, T_STRUCT, 20);
		tb_begin(t);
	}
	for (int i = 0; i < 9; i++)
		tb_end(t);
	tb_end(t);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);

	/* negative / huge string length for serviceName */
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fh(t, T_BIN, 1);
	if (c)
		tb_uvar(t, 0xffffffffffffffffULL);
	else
		tb_be(t, 0xffffffffu, 4);
	tb_raw(t, "abcdefgh", 8);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_LENGTH);
	tb_free(t);
}

static void
test_hostile(void)
{
	hostile(true);
	hostile(false);
}

static void
test_compact_varint_and_types(void)
{
	struct tb *t = tb_new(true);
	size_t at;

	/* 11-byte varint as traceIdLow */
	tb_head(t, "svc", 1);
	tb_begin(t);
	tb_fh(t, T_I64, 1);
	for (int i = 0; i < 10; i++)
		tb_u8(t, 0xff);
	tb_u8(t, 0x01);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_FIELD);
	/* 10-byte varint (the maximum) is fine: -1 zigzagged is 1, max is 2^64-1 */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_begin(t);
	tb_fh(t, T_I64, 1);
	for (int i = 0; i < 9; i++)
		tb_u8(t, 0xff);
	tb_u8(t, 0x01);                         /* zigzag 2^64-1 -> INT64_MIN */
	tb_fint(t, T_I64, 3, 77);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 0x8000000000000000ULL);
	/* bad type nibble in a field header */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_begin(t);
	tb_u8(t, 0x1d);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_TYPE);
	/* list with element type 0 (STOP) and a size */
	t->n = 0;
	tb_msg(t);
	tb_fh(t, T_LIST, 4);
	at = t->n;
	tb_u8(t, 0x20);
	tb_u8(t, 0);
	tb_u8(t, 0);
	tb_u8(t, 0);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_TYPE);
	t->b[at] = 0x00;                        /* empty list: type ignored */
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_MISSING_FIELD);
	/* field id in long form (delta 0) for a known field */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_begin(t);
	tb_u8(t, 0x06);
	tb_uvar(t, zz(3));
	tb_uvar(t, zz(99));
	tb_u8(t, 0x06);
	tb_uvar(t, zz(1));
	tb_uvar(t, zz(98));
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].node_id, 99);
	CU_ASSERT_EQUAL(recs[0].trace_id.lo, 98);
	tb_free(t);
}

static void
test_binary_types(void)
{
	struct tb *t = tb_new(false);

	/* field type byte 7 is not a binary protocol type */
	tb_head(t, "svc", 1);
	tb_begin(t);
	tb_u8(t, 7);
	tb_be(t, 1, 2);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_BAD_TYPE);
	/* a binary bool field of any non-zero byte is true */
	t->n = 0;
	tb_head(t, "svc", 1);
	tb_span(t, 1, 0, 2, 0, "op");
	tb_fh(t, T_LIST, 10);
	tb_list(t, T_STRUCT, 1);
	tb_begin(t);
	tb_fstr(t, 1, "error");
	tb_fint(t, T_I32, 2, 2);
	tb_fh(t, T_TRUE, 5);
	tb_u8(t, 0x7f);
	tb_end(t);
	tb_end(t);
	tb_tail(t, -1);
	CU_ASSERT_EQUAL(dec_tb(t), ALT_WIRE_OK);
	CU_ASSERT_EQUAL(recs[0].flags, ALT_RF_ERROR);
	tb_free(t);
}

static void
prefixes(bool c)
{
	static uint8_t buf[8192];
	struct alt_record in[3];
	const uint64_t p[2] = { 7, 8 };
	const char *keys[] = { "hostname" };
	const char *vals[] = { "h" };
	struct alt_jaeger_process proc = { "pre", 1, keys, vals };
	const uint64_t stats[3] = { 1, 2, 3 };
	size_t n;

	set_rec(&in[0], 0x8000000000000000ULL, 1, 2, 0, NULL, "root", "a=b\nc=d", 0);
	set_rec(&in[1], 0x8000000000000000ULL, 1, 3, 2, p, "kid", "", ALT_RF_ERROR);
	set_rec(&in[2], 0, 1, 4, 1, p, "x", "k=v", 0);
	n = alt_wire_encode_jaeger(c, &proc, in, 3, 77, stats, buf, sizeof(buf));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(dec_exact(c, buf, n), ALT_WIRE_OK);
	for (size_t k = 0; k < n; k++) {
		enum alt_wire_reason r = dec_exact(c, buf, k);

		CU_ASSERT_EQUAL(r, ALT_WIRE_TRUNCATED);
		CU_ASSERT_EQUAL(out.n, 0);
	}
	/* single-byte corruptions never crash (valgrind checks reads) */
	for (size_t k = 0; k < n; k++) {
		uint8_t save = buf[k];

		for (unsigned v = 0; v < 256; v += 17) {
			buf[k] = (uint8_t)v;
			(void)dec_exact(c, buf, n);
		}
		buf[k] = save;
	}
}

static void
test_prefixes_reject(void)
{
	prefixes(true);
	prefixes(false);
}

static void
test_reason_names(void)
{
	CU_ASSERT_STRING_EQUAL(alt_wire_reason_name(ALT_WIRE_NOT_EMITBATCH), "not_emitbatch");
	CU_ASSERT_EQUAL(alt_wire_format_parse("jaeger-compact"), ALT_FMT_JAEGER_COMPACT);
	/* dispatch reaches this decoder */
	struct tb *t = tb_new(false);

	out.recs = recs;
	out.cap = REC_CAP;
	out.arena = arena;
	out.arena_cap = sizeof(arena);
	tb_simple(t, "d", 1, 2, -1);
	CU_ASSERT_EQUAL(alt_wire_decode(NULL, ALT_FMT_JAEGER_BINARY, t->b, t->n, &out),
			ALT_WIRE_OK);
	CU_ASSERT_EQUAL(out.n, 1);
	tb_free(t);
}

/* ---- speed (printed, not asserted) ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
speed(bool c)
{
	static uint8_t buf[65000];
	static struct alt_record in[64];
	static char attrs[64][400];
	const char *keys[] = { "hostname", "ip", "jaeger.version" };
	const char *vals[] = { "web-7f9c", "10.1.2.3", "Go-2.30.0" };
	struct alt_jaeger_process proc = { "frontend", 3, keys, vals };
	unsigned nspan = 0;
	size_t n = 0;
	uint64_t total = 0;
	double t0, t1;

	for (unsigned i = 0; i < 64; i++) {
		uint64_t parent = 0x1234567890abcdefULL + i;

		snprintf(attrs[i], sizeof(attrs[i]),
			 "span.kind=server\ncomponent=net/http\nhttp.method=GET\n"
			 "http.url=https://shop.example.com/api/v1/items/%u\n"
			 "http.status_code=200\npeer.service=catalog\n"
			 "peer.ipv4=10.0.%u.%u\nsampler.type=probabilistic", i * 37, i, i * 3);
		set_rec(&in[i], 0x5bd66a4d1c8e3a9fULL ^ i, 0xa3ce929d0e0e4736ULL * (i + 1),
			0xe5f8c3b2a1d0e9f7ULL + i, 1, &parent, "HTTP GET /api/v1/items", attrs[i],
			(i % 16) ? 0 : ALT_RF_ERROR);
		in[i].start_ns = 1700000000000000000ULL + i * 1234567ULL;
		in[i].duration_ns = 1234000ULL + i * 1000;
	}
	/* as many spans as fit a typical ~9 KB batch */
	for (unsigned k = 1; k <= 64; k++) {
		size_t m = alt_wire_encode_jaeger(c, &proc, in, k, 5, NULL, buf, sizeof(buf));

		if (m == 0 || m > 9000)
			break;
		n = m;
		nspan = k;
	}
	CU_ASSERT_FATAL(n > 0);
	n = alt_wire_encode_jaeger(c, &proc, in, nspan, 5, NULL, buf, sizeof(buf));
	CU_ASSERT_EQUAL(dec(NULL, c, buf, n), ALT_WIRE_OK);
	t0 = now_s();
	do {
		for (int i = 0; i < 200; i++) {
			if (dec(NULL, c, buf, n) != ALT_WIRE_OK) {
				CU_FAIL("decode");
				return;
			}
			total += out.n;
		}
		t1 = now_s();
	} while (t1 - t0 < 0.5);
	printf("\n    jaeger %s: %u spans/batch (%zu B, 8 tags): %.2f M spans/s, %.0f MB/s ",
	       c ? "compact" : "binary", nspan, n, (double)total / (t1 - t0) / 1e6,
	       (double)total / nspan * (double)n / (t1 - t0) / 1e6);
}

static void
test_decode_speed(void)
{
	speed(true);
	speed(false);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("wire_jaeger", NULL, NULL);
	CU_add_test(s, "roundtrip_compact", test_roundtrip_compact);
	CU_add_test(s, "roundtrip_binary", test_roundtrip_binary);
	CU_add_test(s, "many_spans", test_many_spans);
	CU_add_test(s, "encoder_header_and_fit", test_encoder_header_and_fit);
	CU_add_test(s, "encoder_seq_and_stats", test_encoder_seq_and_stats);
	CU_add_test(s, "parents_over_15", test_parents_over_15);
	CU_add_test(s, "parent_dedup_and_follows_from", test_parent_dedup_and_follows_from);
	CU_add_test(s, "foreign_refs", test_foreign_refs);
	CU_add_test(s, "unknown_fields_skipped", test_unknown_fields_skipped);
	CU_add_test(s, "tag_values", test_tag_values);
	CU_add_test(s, "logs_in_attrs", test_logs_in_attrs);
	CU_add_test(s, "seq_gaps", test_seq_gaps);
	CU_add_test(s, "client_stats", test_client_stats);
	CU_add_test(s, "envelopes", test_envelopes);
	CU_add_test(s, "binary_non_strict", test_binary_non_strict);
	CU_add_test(s, "bad_magic_version", test_bad_magic_version);
	CU_add_test(s, "missing_and_bad_ids", test_missing_and_bad_ids);
	CU_add_test(s, "hostile", test_hostile);
	CU_add_test(s, "compact_varint_and_types", test_compact_varint_and_types);
	CU_add_test(s, "binary_types", test_binary_types);
	CU_add_test(s, "prefixes_reject", test_prefixes_reject);
	CU_add_test(s, "reason_names", test_reason_names);
	CU_add_test(s, "decode_speed", test_decode_speed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return (int)fails;
}
