/* SPDX-License-Identifier: BSD-3-Clause
 * ATR/1 decoder and encoder (see design/atr-wire-format.md).
 *
 * The fixed parts are read with fixed-offset little-endian loads (memcpy,
 * which the compiler turns into plain moves); only the parent list, at most
 * 15 entries, is walked. Strings are not copied: they point into the frame.
 */
#include "alt_wire.h"
#include "wire_bytes.h"

#define ATR_HDR_LEN 16u
#define ATR_REC_FIXED 48u
#define ATR_FLAG_TRACE_AFFINE 0x01u
#define ATR_VERSION 1u

/* Header offsets. */
#define ATR_H_MAGIC 0
#define ATR_H_VERSION 4
#define ATR_H_FLAGS 5
#define ATR_H_COUNT 6
#define ATR_H_EMITTER 8
#define ATR_H_SEQ 12

/* Record offsets. */
#define ATR_R_TRACE_LO 0
#define ATR_R_TRACE_HI 8
#define ATR_R_NODE 16
#define ATR_R_START 24
#define ATR_R_DURATION 32
#define ATR_R_PCOUNT 40
#define ATR_R_KIND 41
#define ATR_R_FLAGS 42
#define ATR_R_SVC_LEN 44
#define ATR_R_OP_LEN 45
#define ATR_R_ATTRS_LEN 46

static const uint8_t atr_magic[4] = { 'A', 'T', 'R', '1' };

static inline void
out_reset(struct alt_wire_out *out)
{
	out->n = 0;
	out->arena_used = 0;
	out->parents_truncated = 0;
	out->foreign_refs = 0;
	out->source_key = 0;
}

/* Decode one ATR/1 frame into out->recs.
 *
 * Length rule: a record whose 48-byte fixed part does not fit in the bytes
 * left is TRUNCATED (so is a frame too short for count fixed parts, which
 * is checked up front, before any record is looked at); a record whose fixed
 * part fits but whose declared parents, strings or padding run past the
 * datagram is BAD_LENGTH. Unknown frame flag bits are ignored; padding bytes
 * are not inspected. Duplicate parent IDs within a record are dropped.
 * Strings point into buf. An accepted frame is counted against its emitter's
 * frame_seq in ctx (when ctx is not NULL); a rejected one leaves ctx alone
 * and yields out->n == 0. */
enum alt_wire_reason
alt_wire_decode_atr(struct alt_wire_ctx *ctx, const uint8_t *buf, size_t len,
		    struct alt_wire_out *out)
{
	const struct alt_trace_id *first_tid = NULL;
	uint32_t count, emitter_id, frame_seq;
	uint8_t fflags;
	size_t off;

	out_reset(out);
	if (alt_unlikely(buf == NULL || len < ATR_HDR_LEN))
		return ALT_WIRE_TRUNCATED;
	if (alt_unlikely(memcmp(buf + ATR_H_MAGIC, atr_magic, sizeof(atr_magic)) != 0))
		return ALT_WIRE_BAD_MAGIC;
	if (alt_unlikely(buf[ATR_H_VERSION] != ATR_VERSION))
		return ALT_WIRE_BAD_VERSION;
	fflags = buf[ATR_H_FLAGS];
	count = ld_le16(buf + ATR_H_COUNT);
	if (alt_unlikely(count == 0 || count > ALT_ATR_MAX_COUNT))
		return ALT_WIRE_BAD_COUNT;
	if (alt_unlikely(count > out->cap || out->recs == NULL))
		return ALT_WIRE_TOO_MANY_RECORDS;
	/* count <= 1024, so this cannot overflow. */
	if (alt_unlikely(len - ATR_HDR_LEN < (size_t)count * ATR_REC_FIXED))
		return ALT_WIRE_TRUNCATED;
	emitter_id = ld_le32(buf + ATR_H_EMITTER);
	frame_seq = ld_le32(buf + ATR_H_SEQ);

	off = ATR_HDR_LEN;
	for (uint32_t i = 0; i < count; i++) {
		struct alt_record *r = &out->recs[i];
		const uint8_t *p;
		size_t var, need;
		unsigned pc, svc_len, op_len, attrs_len;

		if (alt_unlikely(len - off < ATR_REC_FIXED))
			return ALT_WIRE_TRUNCATED;
		p = buf + off;
		pc = p[ATR_R_PCOUNT];
		if (alt_unlikely(pc > ALT_MAX_PARENTS || p[ATR_R_KIND] > ALT_KIND_EVENT))
			return ALT_WIRE_BAD_FIELD;
		svc_len = p[ATR_R_SVC_LEN];
		op_len = p[ATR_R_OP_LEN];
		attrs_len = ld_le16(p + ATR_R_ATTRS_LEN);
		var = (size_t)pc * 8u + svc_len + op_len + attrs_len;
		need = (ATR_REC_FIXED + var + 7u) & ~(size_t)7u;
		if (alt_unlikely(need > len - off))
			return ALT_WIRE_BAD_LENGTH;

		r->trace_id.lo = ld_le64(p + ATR_R_TRACE_LO);
		r->trace_id.hi = ld_le64(p + ATR_R_TRACE_HI);
		r->node_id = ld_le64(p + ATR_R_NODE);
		if (alt_unlikely(r->node_id == 0))
			return ALT_WIRE_BAD_ID;
		if (fflags & ATR_FLAG_TRACE_AFFINE) {
			if (first_tid == NULL)
				first_tid = &r->trace_id;
			else if (alt_unlikely(!alt_trace_id_eq(first_tid, &r->trace_id)))
				return ALT_WIRE_BAD_FIELD;
		}
		r->start_ns = ld_le64(p + ATR_R_START);
		r->duration_ns = ld_le64(p + ATR_R_DURATION);
		r->kind = p[ATR_R_KIND];
		r->flags = ld_le16(p + ATR_R_FLAGS);

		/* Parents, de-duplicated (at most 15, so quadratic is cheapest). */
		p += ATR_REC_FIXED;
		r->parent_count = 0;
		for (unsigned j = 0; j < pc; j++) {
			uint64_t id = ld_le64(p + 8u * j);
			unsigned k;

			if (alt_unlikely(id == 0))
				return ALT_WIRE_BAD_ID;
			for (k = 0; k < r->parent_count; k++)
				if (r->parents[k] == id)
					break;
			if (k == r->parent_count)
				r->parents[r->parent_count++] = id;
		}
		p += 8u * pc;

		r->service.p = (const char *)p;
		r->service.len = svc_len;
		p += svc_len;
		r->operation.p = (const char *)p;
		r->operation.len = op_len;
		p += op_len;
		r->attrs.p = (const char *)p;
		r->attrs.len = attrs_len;

		off += need;
	}
	if (alt_unlikely(off != len))
		return ALT_WIRE_TRAILING_BYTES;

	out->n = count;
	out->source_key = ALT_WIRE_SRC_ATR | emitter_id;
	if (ctx != NULL)
		alt_wire_emitter_seen(ctx, ALT_FMT_ATR, emitter_id, frame_seq, "", 0);
	return ALT_WIRE_OK;
}

size_t
alt_wire_atr_begin(uint8_t *buf, size_t cap, uint8_t flags, uint32_t emitter_id, uint32_t frame_seq)
{
	if (buf == NULL || cap < ATR_HDR_LEN)
		return 0;
	memcpy(buf + ATR_H_MAGIC, atr_magic, sizeof(atr_magic));
	buf[ATR_H_VERSION] = ATR_VERSION;
	buf[ATR_H_FLAGS] = flags;
	st_le16(buf + ATR_H_COUNT, 0);
	st_le32(buf + ATR_H_EMITTER, emitter_id);
	st_le32(buf + ATR_H_SEQ, frame_seq);
	return ATR_HDR_LEN;
}

unsigned
alt_wire_atr_count(const uint8_t *buf, size_t len)
{
	return buf != NULL && len >= ATR_HDR_LEN ? ld_le16(buf + ATR_H_COUNT) : 0;
}

/* Copy n bytes without a library call for the short names records carry,
 * and without reading past the source: overlapping word copies. */
static inline void
put_bytes(uint8_t *d, const char *s, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;

	if (n >= 8) {
		if (n > 16) {
			memcpy(d, s, n);
			return;
		}
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, s, 4);
		memcpy(&y, s + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n > 0) {
		d[0] = (uint8_t)s[0];
		d[n / 2] = (uint8_t)s[n / 2];
		d[n - 1] = (uint8_t)s[n - 1];
	}
}

/* Bytes record r takes in a frame (alen: its attributes' length), 0 when it
 * cannot be encoded. */
static inline size_t
atr_need(const struct alt_record *r, unsigned alen)
{
	if (alt_unlikely(r->parent_count > ALT_MAX_PARENTS || r->service.len > UINT8_MAX ||
			 r->operation.len > UINT8_MAX || alen > UINT16_MAX))
		return 0;
	return (ATR_REC_FIXED + (size_t)r->parent_count * 8u + r->service.len + r->operation.len + alen +
		7u) & ~(size_t)7u;
}

/* Write record r (need bytes, from atr_need) at p: the inverse of one step
 * of alt_wire_decode_atr. The record's last 8 bytes are zeroed first, so
 * the padding needs no memset. */
static inline void
atr_put(uint8_t *p, const struct alt_record *r, unsigned alen, size_t need)
{
	size_t used = ATR_REC_FIXED;

	st_le64(p + need - 8, 0);
	st_le64(p + ATR_R_TRACE_LO, r->trace_id.lo);
	st_le64(p + ATR_R_TRACE_HI, r->trace_id.hi);
	st_le64(p + ATR_R_NODE, r->node_id);
	st_le64(p + ATR_R_START, r->start_ns);
	st_le64(p + ATR_R_DURATION, r->duration_ns);
	p[ATR_R_PCOUNT] = r->parent_count;
	p[ATR_R_KIND] = r->kind;
	st_le16(p + ATR_R_FLAGS, r->flags);
	p[ATR_R_SVC_LEN] = (uint8_t)r->service.len;
	p[ATR_R_OP_LEN] = (uint8_t)r->operation.len;
	st_le16(p + ATR_R_ATTRS_LEN, (uint16_t)alen);
	for (unsigned j = 0; j < r->parent_count; j++, used += 8)
		st_le64(p + used, r->parents[j]);
	put_bytes(p + used, r->service.p, r->service.len);
	used += r->service.len;
	put_bytes(p + used, r->operation.p, r->operation.len);
	used += r->operation.len;
	if (alen > 0)
		memcpy(p + used, r->attrs.p, alen);
}

unsigned
alt_wire_atr_add_many(uint8_t *buf, size_t *len, size_t cap, const struct alt_record *const *recs,
		      unsigned n, bool attrs)
{
	unsigned count, i;
	size_t l = *len;

	if (alt_unlikely(buf == NULL || recs == NULL || l < ATR_HDR_LEN || l > cap))
		return 0;
	count = ld_le16(buf + ATR_H_COUNT);
	for (i = 0; i < n && count < ALT_ATR_MAX_COUNT; i++, count++) {
		const struct alt_record *r = recs[i];
		unsigned alen = attrs ? r->attrs.len : 0;
		size_t need = atr_need(r, alen);

		if (need == 0 || need > cap - l)
			break;
		atr_put(buf + l, r, alen, need);
		l += need;
	}
	st_le16(buf + ATR_H_COUNT, (uint16_t)count);
	*len = l;
	return i;
}

size_t
alt_wire_atr_add(uint8_t *buf, size_t len, size_t cap, const struct alt_record *r, bool attrs)
{
	return alt_wire_atr_add_many(buf, &len, cap, &r, 1, attrs) == 1 ? len : 0;
}

/* Encode n records (1..1024) as one ATR/1 frame into buf: the exact inverse
 * of alt_wire_decode_atr. Padding is zeros. Returns the frame length, or 0
 * when n is out of range, a record has more than 15 parents, a string is
 * longer than its length field (255/255/65535), or the frame does not fit
 * in cap. Records are written as given (no de-duplication or ID checks). */
size_t
alt_wire_encode_atr(const struct alt_record *recs, unsigned n, uint8_t flags,
		    uint32_t emitter_id, uint32_t frame_seq, uint8_t *buf, size_t cap)
{
	size_t off;

	if (recs == NULL || n == 0 || n > ALT_ATR_MAX_COUNT)
		return 0;
	off = alt_wire_atr_begin(buf, cap, flags, emitter_id, frame_seq);
	for (unsigned i = 0; i < n && off != 0; i++)
		off = alt_wire_atr_add(buf, off, cap, &recs[i], true);
	return off;
}
