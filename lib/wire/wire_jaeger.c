/* SPDX-License-Identifier: BSD-3-Clause
 * Jaeger agent Agent.emitBatch over Thrift compact and Thrift binary:
 * decoder (one UDP payload -> one record per Span) and encoder (simulator,
 * tests).
 *
 * The decoder is written once over a small reader whose primitives take the
 * protocol as a compile-time constant; the two entry points instantiate it
 * for compact and binary so the hot loops carry no protocol branches. Only
 * the generic skip of unknown fields is shared at run time (it recurses and
 * is off the hot path).
 */
#include <math.h>
#include <stdio.h>

#include "alt_wire.h"
#include "wire_bytes.h"

#define JAI static inline __attribute__((always_inline))

/* Internal type codes (the compact protocol's numbering). */
enum {
	JT_STOP = 0,
	JT_BOOL = 1,
	JT_BYTE = 3,
	JT_I16 = 4,
	JT_I32 = 5,
	JT_I64 = 6,
	JT_DOUBLE = 7,
	JT_BIN = 8,
	JT_LIST = 9,
	JT_SET = 10,
	JT_MAP = 11,
	JT_STRUCT = 12,
	JT_BAD = 0xff,
};

/* Binary protocol type byte -> JT_* (VOID and gaps are invalid). */
static const uint8_t bin_type[16] = {
	JT_STOP, JT_BAD, JT_BOOL, JT_BYTE, JT_DOUBLE, JT_BAD, JT_I16, JT_BAD,
	JT_I32, JT_BAD, JT_I64, JT_BIN, JT_STRUCT, JT_MAP, JT_SET, JT_LIST,
};

/* Compact element type nibble (lists, sets, maps) -> JT_*. */
static const uint8_t cmp_elem[16] = {
	JT_BAD, JT_BOOL, JT_BOOL, JT_BYTE, JT_I16, JT_I32, JT_I64, JT_DOUBLE,
	JT_BIN, JT_LIST, JT_SET, JT_MAP, JT_STRUCT, JT_BAD, JT_BAD, JT_BAD,
};

/* JT_* -> binary protocol type byte. */
static const uint8_t jt_to_bin[13] = {
	0, 2, 0, 3, 6, 8, 10, 4, 11, 15, 14, 13, 12,
};

static const char hexdig[16] = "0123456789abcdef";

#define EMIT_NAME "emitBatch"
#define EMIT_NAME_LEN 9

JAI int64_t
unzig(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

JAI uint64_t
zig(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* ---- reader ---- */

struct jr {
	const uint8_t *p;
	const uint8_t *end;
};

struct jf {
	uint8_t type;           /* JT_* */
	uint8_t bval;           /* compact: bool value carried by the header */
	int16_t id;
};

JAI size_t
jr_left(const struct jr *r)
{
	return (size_t)(r->end - r->p);
}

/* Unsigned LEB128 varint of at most 10 bytes. */
JAI int
jr_varint(struct jr *r, uint64_t *out)
{
	const uint8_t *p = r->p;
	uint64_t v = 0;

	if (alt_likely(r->end - p >= 10)) {
		for (unsigned i = 0; i < 10; i++) {
			uint64_t b = p[i];

			v |= (b & 0x7f) << (7 * i);
			if (!(b & 0x80)) {
				r->p = p + i + 1;
				*out = v;
				return 0;
			}
		}
		return ALT_WIRE_BAD_FIELD;
	}
	for (unsigned i = 0; i < 10; i++) {
		uint64_t b;

		if (p + i >= r->end)
			return ALT_WIRE_TRUNCATED;
		b = p[i];
		v |= (b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			r->p = p + i + 1;
			*out = v;
			return 0;
		}
	}
	return ALT_WIRE_BAD_FIELD;
}

/* Next field header of a struct; *last is the previous field id (compact
 * delta encoding). A STOP yields type JT_STOP. */
JAI int
jr_field(struct jr *r, const bool C, int16_t *last, struct jf *f)
{
	uint8_t b;

	if (alt_unlikely(r->p >= r->end))
		return ALT_WIRE_TRUNCATED;
	b = *r->p++;
	if (b == 0) {
		f->type = JT_STOP;
		return 0;
	}
	if (C) {
		uint8_t t = b & 0x0f;
		uint8_t d = b >> 4;

		if (t == 1 || t == 2) {
			f->type = JT_BOOL;
			f->bval = (t == 1);
		} else if (t >= 3 && t <= 12) {
			f->type = t;
			f->bval = 0;
		} else {
			return ALT_WIRE_BAD_TYPE;
		}
		if (alt_likely(d != 0)) {
			f->id = (int16_t)(*last + d);
		} else {
			uint64_t v;
			int rc = jr_varint(r, &v);

			if (rc)
				return rc;
			f->id = (int16_t)unzig(v);
		}
		*last = f->id;
		return 0;
	}
	if (b >= 16 || bin_type[b] == JT_BAD)
		return ALT_WIRE_BAD_TYPE;
	f->type = bin_type[b];
	if (alt_unlikely(jr_left(r) < 2))
		return ALT_WIRE_TRUNCATED;
	f->id = (int16_t)(((unsigned)r->p[0] << 8) | r->p[1]);
	r->p += 2;
	return 0;
}

JAI bool
jt_is_int(uint8_t t)
{
	return t == JT_BYTE || t == JT_I16 || t == JT_I32 || t == JT_I64;
}

JAI bool
jt_is_list(uint8_t t)
{
	return t == JT_LIST || t == JT_SET;
}

/* Any integer value (byte, i16, i32, i64) as int64. */
JAI int
jr_int(struct jr *r, const bool C, uint8_t type, int64_t *v)
{
	if (type == JT_BYTE) {
		if (alt_unlikely(r->p >= r->end))
			return ALT_WIRE_TRUNCATED;
		*v = (int8_t)*r->p++;
		return 0;
	}
	if (C) {
		uint64_t u;
		int rc = jr_varint(r, &u);

		if (rc)
			return rc;
		*v = unzig(u);
		return 0;
	}
	if (type == JT_I64) {
		if (alt_unlikely(jr_left(r) < 8))
			return ALT_WIRE_TRUNCATED;
		*v = (int64_t)ld_be64(r->p);
		r->p += 8;
	} else if (type == JT_I32) {
		if (alt_unlikely(jr_left(r) < 4))
			return ALT_WIRE_TRUNCATED;
		*v = (int32_t)ld_be32(r->p);
		r->p += 4;
	} else {
		if (alt_unlikely(jr_left(r) < 2))
			return ALT_WIRE_TRUNCATED;
		*v = (int16_t)(((unsigned)r->p[0] << 8) | r->p[1]);
		r->p += 2;
	}
	return 0;
}

/* A bool field's value (compact: already in the header). */
JAI int
jr_fbool(struct jr *r, const bool C, const struct jf *f, bool *v)
{
	if (C) {
		*v = f->bval;
		return 0;
	}
	if (alt_unlikely(r->p >= r->end))
		return ALT_WIRE_TRUNCATED;
	*v = *r->p++ != 0;
	return 0;
}

JAI int
jr_double(struct jr *r, const bool C, double *d)
{
	uint64_t u;

	if (alt_unlikely(jr_left(r) < 8))
		return ALT_WIRE_TRUNCATED;
	u = C ? ld_le64(r->p) : ld_be64(r->p);
	memcpy(d, &u, 8);
	r->p += 8;
	return 0;
}

/* string/binary: borrowed pointer into the payload. */
JAI int
jr_bin(struct jr *r, const bool C, struct alt_str *s)
{
	uint64_t n;

	if (C) {
		int rc = jr_varint(r, &n);

		if (rc)
			return rc;
		if (alt_unlikely(n > INT32_MAX))
			return ALT_WIRE_BAD_LENGTH;
	} else {
		int32_t l;

		if (alt_unlikely(jr_left(r) < 4))
			return ALT_WIRE_TRUNCATED;
		l = (int32_t)ld_be32(r->p);
		r->p += 4;
		if (alt_unlikely(l < 0))
			return ALT_WIRE_BAD_LENGTH;
		n = (uint64_t)l;
	}
	if (alt_unlikely(n > jr_left(r)))
		return ALT_WIRE_TRUNCATED;
	s->p = (const char *)r->p;
	s->len = (uint32_t)n;
	r->p += n;
	return 0;
}

/* List or set header. Every element takes at least one byte, so a size
 * beyond the bytes left is truncation. */
JAI int
jr_list(struct jr *r, const bool C, uint8_t *et, uint32_t *n)
{
	uint64_t size;
	uint8_t t;

	if (C) {
		uint8_t b;

		if (alt_unlikely(r->p >= r->end))
			return ALT_WIRE_TRUNCATED;
		b = *r->p++;
		size = b >> 4;
		t = cmp_elem[b & 0x0f];
		if (size == 15) {
			int rc = jr_varint(r, &size);

			if (rc)
				return rc;
		}
	} else {
		int32_t s;

		if (alt_unlikely(jr_left(r) < 5))
			return ALT_WIRE_TRUNCATED;
		t = r->p[0] < 16 ? bin_type[r->p[0]] : JT_BAD;
		s = (int32_t)ld_be32(r->p + 1);
		r->p += 5;
		if (s < 0)
			return ALT_WIRE_LIST_TOO_LONG;
		size = (uint64_t)s;
	}
	if (alt_unlikely(size > ALT_WIRE_MAX_LIST))
		return ALT_WIRE_LIST_TOO_LONG;
	if (size != 0 && (t == JT_BAD || t == JT_STOP))
		return ALT_WIRE_BAD_TYPE;
	if (alt_unlikely(size > jr_left(r)))
		return ALT_WIRE_TRUNCATED;
	*et = t;
	*n = (uint32_t)size;
	return 0;
}

static int
jr_map(struct jr *r, bool C, uint8_t *kt, uint8_t *vt, uint32_t *n)
{
	uint64_t size;
	uint8_t k = JT_BAD, v = JT_BAD;

	if (C) {
		int rc = jr_varint(r, &size);

		if (rc)
			return rc;
		if (size > ALT_WIRE_MAX_LIST)
			return ALT_WIRE_LIST_TOO_LONG;
		if (size != 0) {
			if (r->p >= r->end)
				return ALT_WIRE_TRUNCATED;
			k = cmp_elem[*r->p >> 4];
			v = cmp_elem[*r->p & 0x0f];
			r->p++;
		}
	} else {
		int32_t s;

		if (jr_left(r) < 6)
			return ALT_WIRE_TRUNCATED;
		k = r->p[0] < 16 ? bin_type[r->p[0]] : JT_BAD;
		v = r->p[1] < 16 ? bin_type[r->p[1]] : JT_BAD;
		s = (int32_t)ld_be32(r->p + 2);
		r->p += 6;
		if (s < 0)
			return ALT_WIRE_LIST_TOO_LONG;
		size = (uint64_t)s;
	}
	if (size > ALT_WIRE_MAX_LIST)
		return ALT_WIRE_LIST_TOO_LONG;
	if (size != 0 && (k == JT_BAD || k == JT_STOP || v == JT_BAD || v == JT_STOP))
		return ALT_WIRE_BAD_TYPE;
	if (size * 2 > jr_left(r))
		return ALT_WIRE_TRUNCATED;
	*kt = k;
	*vt = v;
	*n = (uint32_t)size;
	return 0;
}

/* Skip one value of type t. depth is the nesting of the container holding
 * it; entering a struct/list/set/map deeper than ALT_WIRE_MAX_DEPTH fails.
 * in_field: the value follows a field header (a compact bool has no body). */
static int
jr_skip(struct jr *r, bool C, uint8_t t, bool in_field, unsigned depth)
{
	struct alt_str s;
	uint64_t u;
	uint32_t n;
	uint8_t kt, vt;
	int rc;

	switch (t) {
	case JT_BOOL:
		if (C && in_field)
			return 0;
		/* fall through */
	case JT_BYTE:
		if (r->p >= r->end)
			return ALT_WIRE_TRUNCATED;
		r->p++;
		return 0;
	case JT_I16:
	case JT_I32:
	case JT_I64:
		if (C)
			return jr_varint(r, &u);
		n = t == JT_I64 ? 8 : t == JT_I32 ? 4 : 2;
		if (jr_left(r) < n)
			return ALT_WIRE_TRUNCATED;
		r->p += n;
		return 0;
	case JT_DOUBLE:
		if (jr_left(r) < 8)
			return ALT_WIRE_TRUNCATED;
		r->p += 8;
		return 0;
	case JT_BIN:
		return C ? jr_bin(r, true, &s) : jr_bin(r, false, &s);
	case JT_STRUCT: {
		int16_t last = 0;
		struct jf f;

		if (depth >= ALT_WIRE_MAX_DEPTH)
			return ALT_WIRE_DEPTH;
		for (;;) {
			rc = C ? jr_field(r, true, &last, &f) : jr_field(r, false, &last, &f);
			if (rc)
				return rc;
			if (f.type == JT_STOP)
				return 0;
			rc = jr_skip(r, C, f.type, true, depth + 1);
			if (rc)
				return rc;
		}
	}
	case JT_LIST:
	case JT_SET:
		if (depth >= ALT_WIRE_MAX_DEPTH)
			return ALT_WIRE_DEPTH;
		rc = C ? jr_list(r, true, &kt, &n) : jr_list(r, false, &kt, &n);
		if (rc)
			return rc;
		for (uint32_t i = 0; i < n; i++) {
			rc = jr_skip(r, C, kt, false, depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	case JT_MAP:
		if (depth >= ALT_WIRE_MAX_DEPTH)
			return ALT_WIRE_DEPTH;
		rc = jr_map(r, C, &kt, &vt, &n);
		if (rc)
			return rc;
		for (uint32_t i = 0; i < n; i++) {
			rc = jr_skip(r, C, kt, false, depth + 1);
			if (rc)
				return rc;
			rc = jr_skip(r, C, vt, false, depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	default:
		return ALT_WIRE_BAD_TYPE;
	}
}

/* ---- value text ---- */

static unsigned
fmt_u64(char *out, uint64_t v)
{
	char tmp[20];
	unsigned n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (unsigned i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static unsigned
fmt_i64(char *out, int64_t v)
{
	if (v < 0) {
		out[0] = '-';
		return 1 + fmt_u64(out + 1, 0 - (uint64_t)v);
	}
	return fmt_u64(out, (uint64_t)v);
}

/* %.17g, with a fast path for integral values (same text). */
static unsigned
fmt_double(char *out, double d)
{
	int n;

	if (d > -1e15 && d < 1e15) {
		int64_t i = (int64_t)d;

		if ((double)i == d) {
			if (i == 0 && signbit(d)) {
				out[0] = '-';
				out[1] = '0';
				return 2;
			}
			return fmt_i64(out, i);
		}
	}
	n = snprintf(out, 40, "%.17g", d);
	return n < 0 ? 0 : (unsigned)n;
}

/* ---- decoder state ---- */

enum {
	TH_KEY = 1u << 0,
	TH_STR = 1u << 1,
	TH_DBL = 1u << 2,
	TH_BOOL = 1u << 3,
	TH_LONG = 1u << 4,
	TH_BIN = 1u << 5,
	TH_TYPE = 1u << 6,
};

struct jtag {
	struct alt_str key;
	struct alt_str vstr;
	struct alt_str vbin;
	double vd;
	int64_t vl;
	int64_t vtype;
	bool vb;
	unsigned has;           /* TH_* */
};

enum {
	SP_LO = 1u << 0,
	SP_HI = 1u << 1,
	SP_ID = 1u << 2,
	SP_TAGS = 1u << 3,
};

struct jspan {
	uint64_t lo, hi, id, pid;
	int64_t start, dur;
	struct alt_str op;
	const uint8_t *refs_at;         /* deferred references list (ids unknown then) */
	const uint8_t *logs_at;         /* deferred logs list (tags not yet seen) */
	uint64_t rp[ALT_MAX_PARENTS + 1];
	unsigned nrp;
	bool rp_over;
	unsigned seen;                  /* SP_* */
	uint32_t attr_start;
	uint16_t flags;
};

struct jbatch {
	struct alt_str service;
	uint64_t ptag_hash;
	int64_t seq_no;
	int64_t stats[3];
	bool has_process, has_service, has_spans, has_seq, has_stats;
};

/* ---- known structures ---- */

JAI int
jd_tag(struct jr *r, const bool C, unsigned depth, struct jtag *t)
{
	int16_t last = 0;
	struct jf f;
	bool b = false;
	int rc;

	t->has = 0;
	t->vtype = -1;
	for (;;) {
		rc = jr_field(r, C, &last, &f);
		if (rc)
			return rc;
		if (f.type == JT_STOP)
			return 0;
		switch (f.id) {
		case 1:
			if (f.type != JT_BIN)
				goto skip;
			rc = jr_bin(r, C, &t->key);
			t->has |= TH_KEY;
			break;
		case 2:
			if (!jt_is_int(f.type))
				goto skip;
			rc = jr_int(r, C, f.type, &t->vtype);
			t->has |= TH_TYPE;
			break;
		case 3:
			if (f.type != JT_BIN)
				goto skip;
			rc = jr_bin(r, C, &t->vstr);
			t->has |= TH_STR;
			break;
		case 4:
			if (f.type != JT_DOUBLE)
				goto skip;
			rc = jr_double(r, C, &t->vd);
			t->has |= TH_DBL;
			break;
		case 5:
			if (f.type != JT_BOOL)
				goto skip;
			rc = jr_fbool(r, C, &f, &b);
			t->vb = b;
			t->has |= TH_BOOL;
			break;
		case 6:
			if (!jt_is_int(f.type))
				goto skip;
			rc = jr_int(r, C, f.type, &t->vl);
			t->has |= TH_LONG;
			break;
		case 7:
			if (f.type != JT_BIN)
				goto skip;
			rc = jr_bin(r, C, &t->vbin);
			t->has |= TH_BIN;
			break;
		default:
skip:
			rc = jr_skip(r, C, f.type, true, depth);
			break;
		}
		if (rc)
			return rc;
	}
}

/* Append "key=value" (preceded by '\n' unless first since start) to the
 * arena. A tag without key or vType, or with an unknown vType, adds nothing;
 * an absent value field renders empty. */
static int
jd_render(struct alt_wire_out *out, uint32_t start, const struct jtag *t)
{
	char num[48];
	const char *v = num;
	uint32_t vl = 0;
	uint64_t need;
	char *w;

	if ((t->has & (TH_KEY | TH_TYPE)) != (TH_KEY | TH_TYPE))
		return 0;
	switch (t->vtype) {
	case 0:
		if (t->has & TH_STR) {
			v = t->vstr.p;
			vl = t->vstr.len;
		}
		break;
	case 1:
		if (t->has & TH_DBL)
			vl = fmt_double(num, t->vd);
		break;
	case 2:
		if (t->has & TH_BOOL) {
			v = t->vb ? "true" : "false";
			vl = t->vb ? 4 : 5;
		}
		break;
	case 3:
		if (t->has & TH_LONG)
			vl = fmt_i64(num, t->vl);
		break;
	case 4:
		if (t->has & TH_BIN) {
			vl = t->vbin.len * 2;
			v = NULL;
		}
		break;
	default:
		return 0;
	}
	need = (uint64_t)(out->arena_used > start) + t->key.len + 1 + vl;
	if (alt_unlikely(need > (uint64_t)(out->arena_cap - out->arena_used)))
		return ALT_WIRE_ARENA_FULL;
	w = out->arena + out->arena_used;
	if (out->arena_used > start)
		*w++ = '\n';
	memcpy(w, t->key.p, t->key.len);
	w += t->key.len;
	*w++ = '=';
	if (v != NULL) {
		memcpy(w, v, vl);
	} else {
		const uint8_t *b = (const uint8_t *)t->vbin.p;

		for (uint32_t i = 0; i < t->vbin.len; i++) {
			w[2 * i] = hexdig[b[i] >> 4];
			w[2 * i + 1] = hexdig[b[i] & 0x0f];
		}
	}
	out->arena_used += (uint32_t)need;
	return 0;
}

JAI bool
tag_is_error(const struct jtag *t)
{
	if (!(t->has & TH_KEY) || t->key.len != 5 || memcmp(t->key.p, "error", 5) != 0)
		return false;
	if (t->vtype == 2)
		return (t->has & TH_BOOL) && t->vb;
	if (t->vtype == 0)
		return (t->has & TH_STR) && t->vstr.len == 4 && memcmp(t->vstr.p, "true", 4) == 0;
	return false;
}

/* list<Tag> rendered into the span's attrs (error tag -> flag if err).
 * depth: the struct holding the list. */
JAI int
jd_tags(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	struct jspan *s, bool err)
{
	struct jtag t;
	uint32_t n;
	uint8_t et;
	int rc;

	if (depth + 1 >= ALT_WIRE_MAX_DEPTH)
		return ALT_WIRE_DEPTH;
	rc = jr_list(r, C, &et, &n);
	if (rc)
		return rc;
	if (et != JT_STRUCT) {
		for (uint32_t i = 0; i < n; i++) {
			rc = jr_skip(r, C, et, false, depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		rc = jd_tag(r, C, depth + 2, &t);
		if (rc)
			return rc;
		if (err && tag_is_error(&t))
			s->flags |= ALT_RF_ERROR;
		rc = jd_render(out, s->attr_start, &t);
		if (rc)
			return rc;
	}
	return 0;
}

/* list<Log>: each log's fields rendered into attrs. */
static int
jd_logs(struct jr *r, bool C, unsigned depth, struct alt_wire_out *out, struct jspan *s)
{
	struct jf f;
	uint32_t n;
	uint8_t et;
	int rc;

	if (depth >= ALT_WIRE_MAX_DEPTH)
		return ALT_WIRE_DEPTH;
	rc = C ? jr_list(r, true, &et, &n) : jr_list(r, false, &et, &n);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		int16_t last = 0;

		if (et != JT_STRUCT) {
			rc = jr_skip(r, C, et, false, depth + 1);
			if (rc)
				return rc;
			continue;
		}
		if (depth + 1 >= ALT_WIRE_MAX_DEPTH)
			return ALT_WIRE_DEPTH;
		for (;;) {
			rc = C ? jr_field(r, true, &last, &f) : jr_field(r, false, &last, &f);
			if (rc)
				return rc;
			if (f.type == JT_STOP)
				break;
			if (f.id == 2 && jt_is_list(f.type))
				rc = C ? jd_tags(r, true, depth + 2, out, s, false)
				       : jd_tags(r, false, depth + 2, out, s, false);
			else
				rc = jr_skip(r, C, f.type, true, depth + 2);
			if (rc)
				return rc;
		}
	}
	return 0;
}

JAI void
span_add_ref_parent(struct jspan *s, uint64_t id)
{
	for (unsigned i = 0; i < s->nrp; i++)
		if (s->rp[i] == id)
			return;
	if (s->nrp < ALT_MAX_PARENTS + 1)
		s->rp[s->nrp++] = id;
	else
		s->rp_over = true;
}

/* list<SpanRef>; resolve: the span's trace id is known, classify refs. */
JAI int
jd_refs(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	struct jspan *s)
{
	struct jf f;
	uint32_t n;
	uint8_t et;
	int rc;

	if (depth >= ALT_WIRE_MAX_DEPTH)
		return ALT_WIRE_DEPTH;
	rc = jr_list(r, C, &et, &n);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		int16_t last = 0;
		int64_t lo = 0, hi = 0, id = 0, v = 0;

		if (et != JT_STRUCT) {
			rc = jr_skip(r, C, et, false, depth + 1);
			if (rc)
				return rc;
			continue;
		}
		if (depth + 1 >= ALT_WIRE_MAX_DEPTH)
			return ALT_WIRE_DEPTH;
		for (;;) {
			rc = jr_field(r, C, &last, &f);
			if (rc)
				return rc;
			if (f.type == JT_STOP)
				break;
			if (f.id >= 1 && f.id <= 4 && jt_is_int(f.type)) {
				rc = jr_int(r, C, f.type, &v);
				if (f.id == 2)
					lo = v;
				else if (f.id == 3)
					hi = v;
				else if (f.id == 4)
					id = v;
			} else {
				rc = jr_skip(r, C, f.type, true, depth + 2);
			}
			if (rc)
				return rc;
		}
		if (id == 0)
			continue;
		if ((uint64_t)lo == s->lo && (uint64_t)hi == s->hi)
			span_add_ref_parent(s, (uint64_t)id);
		else
			out->foreign_refs++;
	}
	return 0;
}

JAI uint64_t
us_to_ns(int64_t us)
{
	if (us <= 0)
		return 0;
	if ((uint64_t)us > UINT64_MAX / 1000)
		return UINT64_MAX;
	return (uint64_t)us * 1000;
}

/* A span with nothing seen yet; its attrs will begin at the arena's end.
 * (rp[] is filled as references are found: nrp says how far.) */
JAI void
jspan_init(struct jspan *s, const struct alt_wire_out *out)
{
	s->hi = 0;
	s->lo = 0;
	s->id = 0;
	s->pid = 0;
	s->start = 0;
	s->dur = 0;
	s->op.p = NULL;
	s->op.len = 0;
	s->refs_at = NULL;
	s->logs_at = NULL;
	s->nrp = 0;
	s->rp_over = false;
	s->seen = 0;
	s->attr_start = out->arena_used;
	s->flags = 0;
}

/* Span's integer field id (traceIdLow 1, traceIdHigh 2, spanId 3,
 * parentSpanId 4, startTime 8, duration 9) is v. */
JAI void
jspan_set_int(struct jspan *s, int16_t id, int64_t v)
{
	switch (id) {
	case 1:
		s->lo = (uint64_t)v;
		s->seen |= SP_LO;
		break;
	case 2:
		s->hi = (uint64_t)v;
		s->seen |= SP_HI;
		break;
	case 3:
		s->id = (uint64_t)v;
		s->seen |= SP_ID;
		break;
	case 4:
		s->pid = (uint64_t)v;
		break;
	case 8:
		s->start = v;
		break;
	default:
		s->dur = v;
		break;
	}
}

/* One field of a Span (its header is f) into s; a field of an unexpected
 * type or id is skipped. References need the trace ID and logs the tags
 * (the error flag): when they come first, only their place is noted and
 * jd_span_finish reads them. */
JAI int
jd_span_field(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	      struct jspan *s, const struct jf *f)
{
	int64_t v = 0;
	int rc;

	switch (f->id) {
	case 1:
	case 2:
	case 3:
	case 4:
	case 8:
	case 9:
		if (!jt_is_int(f->type))
			break;
		rc = jr_int(r, C, f->type, &v);
		jspan_set_int(s, f->id, v);
		return rc;
	case 5:
		if (f->type != JT_BIN)
			break;
		return jr_bin(r, C, &s->op);
	case 6:
		if (!jt_is_list(f->type))
			break;
		if ((s->seen & (SP_LO | SP_HI)) == (SP_LO | SP_HI))
			return jd_refs(r, C, depth, out, s);
		s->refs_at = r->p;
		return jr_skip(r, C, f->type, true, depth);
	case 10:
		if (!jt_is_list(f->type))
			break;
		rc = jd_tags(r, C, depth, out, s, true);
		s->seen |= SP_TAGS;
		return rc;
	case 11:
		if (!jt_is_list(f->type))
			break;
		if (s->seen & SP_TAGS)
			return jd_logs(r, C, depth, out, s);
		s->logs_at = r->p;
		return jr_skip(r, C, f->type, true, depth);
	default:
		break;
	}
	return jr_skip(r, C, f->type, true, depth);
}

/* After a Span's last field: traceIdLow and a non-zero spanId and trace
 * ID are required; then the references and logs that came too early are
 * read where they were noted. */
JAI int
jd_span_finish(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	       struct jspan *s)
{
	int rc;

	if ((s->seen & (SP_LO | SP_ID)) != (SP_LO | SP_ID))
		return ALT_WIRE_MISSING_FIELD;
	if (s->id == 0 || (s->lo == 0 && s->hi == 0))
		return ALT_WIRE_BAD_ID;
	if (s->refs_at != NULL) {
		struct jr sub = { s->refs_at, r->end };

		rc = jd_refs(&sub, C, depth, out, s);
		if (rc)
			return rc;
	}
	if (s->logs_at != NULL) {
		struct jr sub = { s->logs_at, r->end };

		rc = jd_logs(&sub, C, depth, out, s);
		if (rc)
			return rc;
	}
	return 0;
}

/* The span as a record: parentSpanId first, then the reference parents
 * not already listed, at most ALT_MAX_PARENTS (a longer list counts once
 * in parents_truncated); times from microseconds to nanoseconds; attrs
 * are what the tags and logs rendered since the span began. */
JAI void
jspan_to_record(const struct jspan *s, struct alt_wire_out *out, struct alt_record *rec)
{
	bool over = s->rp_over;
	unsigned np = 0;

	rec->trace_id.hi = s->hi;
	rec->trace_id.lo = s->lo;
	rec->node_id = s->id;
	if (s->pid != 0)
		rec->parents[np++] = s->pid;
	for (unsigned i = 0; i < s->nrp; i++) {
		if (s->rp[i] == s->pid)
			continue;
		if (np == ALT_MAX_PARENTS) {
			over = true;
			break;
		}
		rec->parents[np++] = s->rp[i];
	}
	if (over)
		out->parents_truncated++;
	for (unsigned i = np; i < ALT_MAX_PARENTS; i++)
		rec->parents[i] = 0;
	rec->parent_count = (uint8_t)np;
	rec->kind = ALT_KIND_SPAN;
	rec->flags = s->flags;
	rec->start_ns = us_to_ns(s->start);
	rec->duration_ns = us_to_ns(s->dur);
	rec->operation = s->op;
	rec->attrs.len = out->arena_used - s->attr_start;
	rec->attrs.p = rec->attrs.len ? out->arena + s->attr_start : NULL;
}

/* One Span into rec. depth: the span struct's own depth. */
JAI int
jd_span(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	struct alt_record *rec)
{
	struct jspan s;
	int16_t last = 0;
	struct jf f;
	int rc;

	jspan_init(&s, out);
	for (;;) {
		rc = jr_field(r, C, &last, &f);
		if (rc)
			return rc;
		if (f.type == JT_STOP)
			break;
		rc = jd_span_field(r, C, depth, out, &s, &f);
		if (rc)
			return rc;
	}
	rc = jd_span_finish(r, C, depth, out, &s);
	if (rc)
		return rc;
	jspan_to_record(&s, out, rec);
	return 0;
}

/* Process: serviceName and the hash of its tags (client identity). */
JAI int
jd_process(struct jr *r, const bool C, unsigned depth, struct jbatch *b)
{
	int16_t last = 0;
	struct jf f;
	struct jtag t;
	uint32_t n;
	uint8_t et;
	int rc;

	b->has_process = true;
	for (;;) {
		rc = jr_field(r, C, &last, &f);
		if (rc)
			return rc;
		if (f.type == JT_STOP)
			return 0;
		if (f.id == 1 && f.type == JT_BIN) {
			rc = jr_bin(r, C, &b->service);
			b->has_service = true;
		} else if (f.id == 2 && jt_is_list(f.type)) {
			if (depth + 1 >= ALT_WIRE_MAX_DEPTH)
				return ALT_WIRE_DEPTH;
			rc = jr_list(r, C, &et, &n);
			for (uint32_t i = 0; rc == 0 && i < n; i++) {
				uint64_t h = b->ptag_hash;

				if (et != JT_STRUCT) {
					rc = jr_skip(r, C, et, false, depth + 1);
					continue;
				}
				rc = jd_tag(r, C, depth + 2, &t);
				if (rc)
					break;
				if (t.has & TH_KEY)
					h = alt_hash_bytes(t.key.p, t.key.len, h);
				if (!(t.has & TH_TYPE))
					t.vtype = -1;
				h ^= (uint64_t)(t.vtype + 2) * 0x9e3779b97f4a7c15ULL;
				if (t.vtype == 0 && (t.has & TH_STR)) {
					h = alt_hash_bytes(t.vstr.p, t.vstr.len, h);
				} else if (t.vtype == 4 && (t.has & TH_BIN)) {
					h = alt_hash_bytes(t.vbin.p, t.vbin.len, h);
				} else if (t.vtype == 1 && (t.has & TH_DBL)) {
					h = alt_hash_bytes(&t.vd, 8, h);
				} else if (t.vtype == 2 && (t.has & TH_BOOL)) {
					h = alt_mix64(h ^ (uint64_t)t.vb);
				} else if (t.vtype == 3 && (t.has & TH_LONG)) {
					h = alt_mix64(h ^ (uint64_t)t.vl);
				}
				b->ptag_hash = h;
			}
		} else {
			rc = jr_skip(r, C, f.type, true, depth);
		}
		if (rc)
			return rc;
	}
}

JAI int
jd_batch(struct jr *r, const bool C, unsigned depth, struct alt_wire_out *out,
	 struct jbatch *b)
{
	int16_t last = 0;
	struct jf f;
	uint32_t n;
	uint8_t et;
	int rc;

	for (;;) {
		rc = jr_field(r, C, &last, &f);
		if (rc)
			return rc;
		if (f.type == JT_STOP)
			return 0;
		if (f.id == 1 && f.type == JT_STRUCT) {
			if (depth >= ALT_WIRE_MAX_DEPTH)
				return ALT_WIRE_DEPTH;
			rc = jd_process(r, C, depth + 1, b);
		} else if (f.id == 2 && jt_is_list(f.type)) {
			if (depth + 1 >= ALT_WIRE_MAX_DEPTH)
				return ALT_WIRE_DEPTH;
			rc = jr_list(r, C, &et, &n);
			if (rc)
				return rc;
			b->has_spans = true;
			if (et != JT_STRUCT) {
				for (uint32_t i = 0; rc == 0 && i < n; i++)
					rc = jr_skip(r, C, et, false, depth + 1);
			} else {
				if (n > out->cap - out->n)
					return ALT_WIRE_TOO_MANY_RECORDS;
				for (uint32_t i = 0; i < n; i++) {
					rc = jd_span(r, C, depth + 2, out, &out->recs[out->n]);
					if (rc)
						return rc;
					out->n++;
				}
			}
		} else if (f.id == 3 && jt_is_int(f.type)) {
			rc = jr_int(r, C, f.type, &b->seq_no);
			b->has_seq = true;
		} else if (f.id == 4 && f.type == JT_STRUCT) {
			int16_t slast = 0;
			struct jf sf;
			int64_t v = 0;

			if (depth >= ALT_WIRE_MAX_DEPTH)
				return ALT_WIRE_DEPTH;
			b->has_stats = true;
			for (;;) {
				rc = jr_field(r, C, &slast, &sf);
				if (rc || sf.type == JT_STOP)
					break;
				if (sf.id >= 1 && sf.id <= 3 && jt_is_int(sf.type)) {
					rc = jr_int(r, C, sf.type, &v);
					b->stats[sf.id - 1] = v;
				} else {
					rc = jr_skip(r, C, sf.type, true, depth + 1);
				}
				if (rc)
					break;
			}
		} else {
			rc = jr_skip(r, C, f.type, true, depth);
		}
		if (rc)
			return rc;
	}
}

/* Message envelope up to the args struct. */
JAI int
jd_envelope(struct jr *r, const bool C)
{
	uint32_t type;
	struct alt_str name;
	int rc;

	if (C) {
		uint64_t seq;

		if (jr_left(r) < 2)
			return ALT_WIRE_TRUNCATED;
		if (r->p[0] != 0x82)
			return ALT_WIRE_BAD_MAGIC;
		if ((r->p[1] & 0x1f) != 1)
			return ALT_WIRE_BAD_VERSION;
		type = r->p[1] >> 5;
		r->p += 2;
		rc = jr_varint(r, &seq);
		if (rc)
			return rc;
		rc = jr_bin(r, true, &name);
		if (rc)
			return rc;
	} else {
		uint32_t w;

		if (jr_left(r) < 4)
			return ALT_WIRE_TRUNCATED;
		w = ld_be32(r->p);
		if (w & 0x80000000u) {
			/* strict: version | type, name, seqid */
			if ((w & 0xffff0000u) != 0x80010000u)
				return ALT_WIRE_BAD_VERSION;
			type = w & 0xff;
			r->p += 4;
			rc = jr_bin(r, false, &name);
			if (rc)
				return rc;
			if (jr_left(r) < 4)
				return ALT_WIRE_TRUNCATED;
			r->p += 4;
		} else {
			/* old (non-strict): name, type byte, seqid */
			rc = jr_bin(r, false, &name);
			if (rc)
				return rc;
			if (jr_left(r) < 5)
				return ALT_WIRE_TRUNCATED;
			type = r->p[0];
			r->p += 5;
		}
	}
	if (type != 1 && type != 4)
		return ALT_WIRE_NOT_EMITBATCH;
	if (name.len != EMIT_NAME_LEN || memcmp(name.p, EMIT_NAME, EMIT_NAME_LEN) != 0)
		return ALT_WIRE_NOT_EMITBATCH;
	return 0;
}

JAI int
jd_message(struct jr *r, const bool C, struct alt_wire_out *out, struct jbatch *b)
{
	int16_t last = 0;
	struct jf f;
	bool have_batch = false;
	int rc;

	rc = jd_envelope(r, C);
	if (rc)
		return rc;
	/* args struct: depth 1 */
	for (;;) {
		rc = jr_field(r, C, &last, &f);
		if (rc)
			return rc;
		if (f.type == JT_STOP)
			break;
		if (f.id == 1 && f.type == JT_STRUCT) {
			rc = jd_batch(r, C, 2, out, b);
			have_batch = true;
		} else {
			rc = jr_skip(r, C, f.type, true, 1);
		}
		if (rc)
			return rc;
	}
	if (!have_batch || !b->has_process || !b->has_service || !b->has_spans)
		return ALT_WIRE_MISSING_FIELD;
	return 0;
}

static __attribute__((noinline)) int
jd_message_compact(struct jr *r, struct alt_wire_out *out, struct jbatch *b)
{
	return jd_message(r, true, out, b);
}

static __attribute__((noinline)) int
jd_message_binary(struct jr *r, struct alt_wire_out *out, struct jbatch *b)
{
	return jd_message(r, false, out, b);
}

static uint64_t
stat_u64(int64_t v)
{
	return v < 0 ? 0 : (uint64_t)v;
}

/* Decode one Jaeger agent emitBatch payload (compact: Thrift compact
 * protocol, else Thrift binary, strict or old-style envelope). Each Span
 * becomes one record; service/operation point into buf, attrs into
 * out->arena. On success, and only then, Batch.seqNo feeds the emitter
 * table keyed by the hash of the service name and process tags, and
 * ClientStats updates that emitter and ctx->jaeger_client_dropped_spans.
 * Returns ALT_WIRE_OK or a reject reason with out->n == 0. */
enum alt_wire_reason
alt_wire_decode_jaeger(struct alt_wire_ctx *ctx, bool compact, const uint8_t *buf, size_t len,
		       struct alt_wire_out *out)
{
	struct jr r = { buf, buf + len };
	struct jbatch b;
	uint8_t format = compact ? ALT_FMT_JAEGER_COMPACT : ALT_FMT_JAEGER_BINARY;
	uint64_t key;
	int rc;

	out->n = 0;
	out->arena_used = 0;
	out->parents_truncated = 0;
	out->foreign_refs = 0;
	out->source_key = 0;
	if (buf == NULL)
		return ALT_WIRE_TRUNCATED;

	memset(&b, 0, sizeof(b));
	rc = compact ? jd_message_compact(&r, out, &b) : jd_message_binary(&r, out, &b);
	if (rc) {
		out->n = 0;
		out->arena_used = 0;
		return (enum alt_wire_reason)rc;
	}
	for (uint32_t i = 0; i < out->n; i++)
		out->recs[i].service = b.service;
	/* A process with tags (hostname, ip, client-uuid) names its sender;
	 * a bare service name does not (the caller uses the UDP flow). */
	if (b.ptag_hash != 0)
		out->source_key = ALT_WIRE_SRC_JAEGER |
				  (alt_hash_bytes(b.service.p, b.service.len, b.ptag_hash) >> 8);

	if (ctx == NULL || (!b.has_seq && !b.has_stats))
		return ALT_WIRE_OK;
	key = alt_hash_bytes(b.service.p, b.service.len, b.ptag_hash);
	if (b.has_seq)
		alt_wire_emitter_seen(ctx, format, key, (uint32_t)b.seq_no, b.service.p,
				      b.service.len);
	if (b.has_stats) {
		struct alt_wire_emitter *e = alt_wire_emitter_find(ctx, format, key);

		if (e != NULL) {
			uint64_t old_sum = e->client_full_queue_dropped +
					   e->client_too_large_dropped +
					   e->client_failed_to_emit;

			e->client_full_queue_dropped = stat_u64(b.stats[0]);
			e->client_too_large_dropped = stat_u64(b.stats[1]);
			e->client_failed_to_emit = stat_u64(b.stats[2]);
			ctx->jaeger_client_dropped_spans +=
				e->client_full_queue_dropped + e->client_too_large_dropped +
				e->client_failed_to_emit - old_sum;
		}
	}
	return ALT_WIRE_OK;
}

/* ---- encoder ---- */

#define JW_MAX_NEST 8

struct jw {
	uint8_t *p;
	uint8_t *end;
	bool C;
	bool bad;
	unsigned sp;
	int16_t last[JW_MAX_NEST];
};

static void
jw_bytes(struct jw *w, const void *src, size_t n)
{
	if (w->bad || (size_t)(w->end - w->p) < n) {
		w->bad = true;
		return;
	}
	if (n)
		memcpy(w->p, src, n);
	w->p += n;
}

static void
jw_byte(struct jw *w, uint8_t b)
{
	jw_bytes(w, &b, 1);
}

static void
jw_varint(struct jw *w, uint64_t v)
{
	uint8_t tmp[10];
	unsigned n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	jw_bytes(w, tmp, n);
}

static void
jw_be(struct jw *w, uint64_t v, unsigned n)
{
	uint8_t tmp[8];

	for (unsigned i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	jw_bytes(w, tmp, n);
}

static void
jw_field_raw(struct jw *w, uint8_t jt, uint8_t ctype, int16_t id)
{
	if (w->C) {
		int d = id - w->last[w->sp];

		if (d > 0 && d <= 15) {
			jw_byte(w, (uint8_t)((d << 4) | ctype));
		} else {
			jw_byte(w, ctype);
			jw_varint(w, zig(id));
		}
		w->last[w->sp] = id;
	} else {
		jw_byte(w, jt_to_bin[jt]);
		jw_be(w, (uint16_t)id, 2);
	}
}

static void
jw_field(struct jw *w, uint8_t jt, int16_t id)
{
	jw_field_raw(w, jt, jt, id);
}

static void
jw_struct_begin(struct jw *w)
{
	if (w->sp + 1 >= JW_MAX_NEST) {
		w->bad = true;
		return;
	}
	w->last[++w->sp] = 0;
}

static void
jw_struct_end(struct jw *w)
{
	jw_byte(w, 0);
	if (w->sp > 0)
		w->sp--;
}

static void
jw_list(struct jw *w, uint8_t et, uint32_t n)
{
	if (w->C) {
		if (n < 15) {
			jw_byte(w, (uint8_t)((n << 4) | et));
		} else {
			jw_byte(w, (uint8_t)(0xf0 | et));
			jw_varint(w, n);
		}
	} else {
		jw_byte(w, jt_to_bin[et]);
		jw_be(w, n, 4);
	}
}

static void
jw_int(struct jw *w, uint8_t jt, int64_t v)
{
	if (w->C)
		jw_varint(w, zig(v));
	else
		jw_be(w, (uint64_t)v, jt == JT_I64 ? 8 : jt == JT_I32 ? 4 : 2);
}

static void
jw_str(struct jw *w, const char *p, size_t n)
{
	if (n > INT32_MAX) {
		w->bad = true;
		return;
	}
	if (w->C)
		jw_varint(w, n);
	else
		jw_be(w, n, 4);
	jw_bytes(w, p, n);
}

static void
jw_f_int(struct jw *w, uint8_t jt, int16_t id, int64_t v)
{
	jw_field(w, jt, id);
	jw_int(w, jt, v);
}

static void
jw_f_str(struct jw *w, int16_t id, const char *p, size_t n)
{
	jw_field(w, JT_BIN, id);
	jw_str(w, p, n);
}

static void
jw_f_bool(struct jw *w, int16_t id, bool v)
{
	jw_field_raw(w, JT_BOOL, v ? 1 : 2, id);
	if (!w->C)
		jw_byte(w, v ? 1 : 0);
}

/* A Tag struct with vType STRING (or BOOL for the error tag). */
static void
jw_tag_str(struct jw *w, const char *k, size_t kl, const char *v, size_t vl)
{
	jw_struct_begin(w);
	jw_f_str(w, 1, k, kl);
	jw_f_int(w, JT_I32, 2, 0);
	jw_f_str(w, 3, v, vl);
	jw_struct_end(w);
}

/* Iterate attrs lines: returns the next non-empty line or false. */
static bool
attr_next(const struct alt_str *a, uint32_t *pos, const char **k, size_t *kl, const char **v,
	  size_t *vl)
{
	while (*pos < a->len) {
		const char *s = a->p + *pos;
		const char *nl = memchr(s, '\n', a->len - *pos);
		size_t n = nl ? (size_t)(nl - s) : a->len - *pos;
		const char *eq;

		*pos += (uint32_t)n + 1;
		if (n == 0)
			continue;
		eq = memchr(s, '=', n);
		*k = s;
		if (eq) {
			*kl = (size_t)(eq - s);
			*v = eq + 1;
			*vl = n - *kl - 1;
		} else {
			*kl = n;
			*v = "";
			*vl = 0;
		}
		return true;
	}
	return false;
}

static void
jw_span(struct jw *w, const struct alt_record *rec)
{
	unsigned np = rec->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : rec->parent_count;
	const char *k, *v;
	size_t kl, vl;
	uint32_t pos, ntags = 0;
	bool err = (rec->flags & ALT_RF_ERROR) != 0;

	jw_struct_begin(w);
	jw_f_int(w, JT_I64, 1, (int64_t)rec->trace_id.lo);
	jw_f_int(w, JT_I64, 2, (int64_t)rec->trace_id.hi);
	jw_f_int(w, JT_I64, 3, (int64_t)rec->node_id);
	jw_f_int(w, JT_I64, 4, np ? (int64_t)rec->parents[0] : 0);
	jw_f_str(w, 5, rec->operation.p, rec->operation.p ? rec->operation.len : 0);
	jw_field(w, JT_LIST, 6);
	jw_list(w, JT_STRUCT, np);
	for (unsigned i = 0; i < np; i++) {
		jw_struct_begin(w);
		jw_f_int(w, JT_I32, 1, i == 0 ? 0 : 1);
		jw_f_int(w, JT_I64, 2, (int64_t)rec->trace_id.lo);
		jw_f_int(w, JT_I64, 3, (int64_t)rec->trace_id.hi);
		jw_f_int(w, JT_I64, 4, (int64_t)rec->parents[i]);
		jw_struct_end(w);
	}
	jw_f_int(w, JT_I32, 7, 1);
	jw_f_int(w, JT_I64, 8, (int64_t)(rec->start_ns / 1000));
	jw_f_int(w, JT_I64, 9, (int64_t)(rec->duration_ns / 1000));

	pos = 0;
	if (rec->attrs.p != NULL)
		while (attr_next(&rec->attrs, &pos, &k, &kl, &v, &vl))
			ntags++;
	jw_field(w, JT_LIST, 10);
	jw_list(w, JT_STRUCT, ntags + err);
	pos = 0;
	if (rec->attrs.p != NULL)
		while (attr_next(&rec->attrs, &pos, &k, &kl, &v, &vl))
			jw_tag_str(w, k, kl, v, vl);
	if (err) {
		jw_struct_begin(w);
		jw_f_str(w, 1, "error", 5);
		jw_f_int(w, JT_I32, 2, 2);
		jw_f_bool(w, 5, true);
		jw_struct_end(w);
	}
	jw_field(w, JT_LIST, 11);
	jw_list(w, JT_STRUCT, 0);
	jw_struct_end(w);
}

/* Encode an Agent.emitBatch oneway message (seqid 0) the way real clients
 * do: compact starts 82 81 00 09 "emitBatch", binary strict 80 01 00 04,
 * name, seqid. See alt_wire.h for the record -> Span mapping. Returns the
 * bytes written to buf, or 0 if the message does not fit in cap. */
size_t
alt_wire_encode_jaeger(bool compact, const struct alt_jaeger_process *proc,
		       const struct alt_record *recs, unsigned n, int64_t seq_no,
		       const uint64_t stats[3], uint8_t *buf, size_t cap)
{
	struct jw w;
	const char *svc;

	if (buf == NULL || proc == NULL || (n && recs == NULL) ||
	    (proc->n_tags && (proc->tag_keys == NULL || proc->tag_values == NULL)))
		return 0;
	memset(&w, 0, sizeof(w));
	w.p = buf;
	w.end = buf + cap;
	w.C = compact;
	svc = proc->service ? proc->service : "";

	if (compact) {
		jw_byte(&w, 0x82);
		jw_byte(&w, (uint8_t)((4 << 5) | 1));
		jw_varint(&w, 0);
		jw_str(&w, EMIT_NAME, EMIT_NAME_LEN);
	} else {
		jw_be(&w, 0x80010004u, 4);
		jw_str(&w, EMIT_NAME, EMIT_NAME_LEN);
		jw_be(&w, 0, 4);
	}
	/* args */
	jw_field(&w, JT_STRUCT, 1);
	jw_struct_begin(&w);
	/* Batch.process */
	jw_field(&w, JT_STRUCT, 1);
	jw_struct_begin(&w);
	jw_f_str(&w, 1, svc, strlen(svc));
	jw_field(&w, JT_LIST, 2);
	jw_list(&w, JT_STRUCT, proc->n_tags);
	for (unsigned i = 0; i < proc->n_tags; i++) {
		const char *k = proc->tag_keys[i] ? proc->tag_keys[i] : "";
		const char *v = proc->tag_values[i] ? proc->tag_values[i] : "";

		jw_tag_str(&w, k, strlen(k), v, strlen(v));
	}
	jw_struct_end(&w);
	/* Batch.spans */
	jw_field(&w, JT_LIST, 2);
	jw_list(&w, JT_STRUCT, n);
	for (unsigned i = 0; i < n && !w.bad; i++)
		jw_span(&w, &recs[i]);
	if (seq_no >= 0)
		jw_f_int(&w, JT_I64, 3, seq_no);
	if (stats != NULL) {
		jw_field(&w, JT_STRUCT, 4);
		jw_struct_begin(&w);
		for (int i = 0; i < 3; i++)
			jw_f_int(&w, JT_I64, (int16_t)(i + 1), (int64_t)stats[i]);
		jw_struct_end(&w);
	}
	jw_struct_end(&w);      /* Batch */
	jw_struct_end(&w);      /* args */
	if (w.bad)
		return 0;
	return (size_t)(w.p - buf);
}
