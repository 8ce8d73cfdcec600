/* SPDX-License-Identifier: BSD-3-Clause
 * Wire layer common parts: format and reason names, decode dispatch and the
 * per-emitter sequence-gap table shared by the ATR/1 and Jaeger decoders.
 */
#include "alt_wire.h"

static const char *const fmt_names[ALT_FMT_COUNT] = {
	[ALT_FMT_ATR] = "atr",
	[ALT_FMT_JAEGER_COMPACT] = "jaeger-compact",
	[ALT_FMT_JAEGER_BINARY] = "jaeger-binary",
	[ALT_FMT_XTRACE] = "xtrace",
};

static const char *const reason_names[ALT_WIRE_REASON_COUNT] = {
#define ALT_WIRE_NAME(e, s) [ALT_WIRE_##e] = s,
	ALT_WIRE_REASONS(ALT_WIRE_NAME)
#undef ALT_WIRE_NAME
};

/* The text name of a format, or "unknown" for a value out of range. */
const char *
alt_wire_format_name(enum alt_wire_format f)
{
	if ((unsigned)f >= ALT_FMT_COUNT)
		return "unknown";
	return fmt_names[f];
}

/* The format whose text name is exactly name (NUL-terminated), or -1 when
 * name is NULL or names no format. */
int
alt_wire_format_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (unsigned i = 0; i < ALT_FMT_COUNT; i++)
		if (strcmp(name, fmt_names[i]) == 0)
			return (int)i;
	return -1;
}

/* The counter/JSON key of a reject reason, or "unknown" out of range. */
const char *
alt_wire_reason_name(enum alt_wire_reason r)
{
	if ((unsigned)r >= ALT_WIRE_REASON_COUNT)
		return "unknown";
	return reason_names[r];
}

/* Clear every total and every emitter slot. */
void
alt_wire_ctx_init(struct alt_wire_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
}

/* Decode one payload of format fmt; see alt_wire.h. An unknown format
 * yields no records and ALT_WIRE_BAD_TYPE. */
enum alt_wire_reason
alt_wire_decode(struct alt_wire_ctx *ctx, enum alt_wire_format fmt,
		const uint8_t *buf, size_t len, struct alt_wire_out *out)
{
	switch (fmt) {
	case ALT_FMT_ATR:
		return alt_wire_decode_atr(ctx, buf, len, out);
	case ALT_FMT_JAEGER_COMPACT:
		return alt_wire_decode_jaeger(ctx, true, buf, len, out);
	case ALT_FMT_JAEGER_BINARY:
		return alt_wire_decode_jaeger(ctx, false, buf, len, out);
	case ALT_FMT_XTRACE:
		return alt_wire_decode_xtrace(ctx, buf, len, out);
	default:
		break;
	}
	out->n = 0;
	out->arena_used = 0;
	out->parents_truncated = 0;
	out->foreign_refs = 0;
	out->source_key = 0;
	return ALT_WIRE_BAD_TYPE;
}

/* ---- emitter table ----
 * Open addressing with linear probing over ALT_WIRE_MAX_EMITTERS slots.
 * Slots are never freed, so a probe stops at the first free slot. */

#define EMITTER_MASK (ALT_WIRE_MAX_EMITTERS - 1)
_Static_assert((ALT_WIRE_MAX_EMITTERS & EMITTER_MASK) == 0,
	       "emitter table size must be a power of two");

/* Reordered frames arrive at most this far behind the newest one; a frame
 * further back means the emitter restarted its counter. */
#define SEQ_REORDER_WINDOW 1024u

static inline uint32_t
emitter_slot0(uint8_t format, uint64_t key)
{
	return (uint32_t)(alt_mix64(key ^ ((uint64_t)format << 56) ^ 0x5851f42d4c957f2dULL)
			  & EMITTER_MASK);
}

/* Slot holding (format, key), or, when absent, the free slot where it
 * belongs (*found = false), or NULL when absent and the table is full. */
static struct alt_wire_emitter *
emitter_lookup(struct alt_wire_ctx *ctx, uint8_t format, uint64_t key, bool *found)
{
	uint32_t i = emitter_slot0(format, key);

	for (uint32_t probes = 0; probes < ALT_WIRE_MAX_EMITTERS; probes++) {
		struct alt_wire_emitter *e = &ctx->emitters[i];

		if (!e->used) {
			*found = false;
			return e;
		}
		if (e->key == key && e->format == format) {
			*found = true;
			return e;
		}
		i = (i + 1) & EMITTER_MASK;
	}
	*found = false;
	return NULL;
}

static void
emitter_set_name(struct alt_wire_emitter *e, const char *name, size_t name_len)
{
	if (name == NULL)
		name_len = 0;
	if (name_len > sizeof(e->name) - 1)
		name_len = sizeof(e->name) - 1;
	if (name_len > 0)
		memcpy(e->name, name, name_len);
	e->name[name_len] = '\0';
}

/* Move the context total for the emitter's format by delta lost frames. */
static void
ctx_lost_add(struct alt_wire_ctx *ctx, uint8_t format, int64_t delta)
{
	switch (format) {
	case ALT_FMT_ATR:
		ctx->atr_frames_lost += (uint64_t)delta;
		break;
	case ALT_FMT_JAEGER_COMPACT:
	case ALT_FMT_JAEGER_BINARY:
		ctx->jaeger_batches_lost += (uint64_t)delta;
		break;
	default:
		break;
	}
}

/* The tracked emitter for (format, key), or NULL when it was never seen,
 * was not tracked because the table was full, or ctx is NULL. */
struct alt_wire_emitter *
alt_wire_emitter_find(struct alt_wire_ctx *ctx, uint8_t format, uint64_t key)
{
	bool found;
	struct alt_wire_emitter *e;

	if (ctx == NULL)
		return NULL;
	e = emitter_lookup(ctx, format, key, &found);
	return found ? e : NULL;
}

/* Record one frame with sequence number seq from emitter (format, key).
 * Sequence numbers are uint32 and wrap; d = seq - last_seq (mod 2^32):
 *   first frame of an emitter, d == 1, d == 0 (duplicate): 0 lost;
 *   1 < d < 2^31: d - 1 frames lost, last_seq moves to seq;
 *   seq up to 1024 behind last_seq: a late frame that was counted lost
 *     before, so one lost frame is taken back (if any), last_seq stays;
 *   further behind: the emitter restarted, last_seq = seq, 0 lost.
 * frames is always incremented and the context totals follow the
 * emitter's lost count. A non-empty name replaces the stored one (cut to
 * 47 bytes). When the table is full the frame is counted in
 * emitters_overflow and 0 is returned. Returns the frames newly counted
 * lost. */
uint32_t
alt_wire_emitter_seen(struct alt_wire_ctx *ctx, uint8_t format, uint64_t key, uint32_t seq,
		      const char *name, size_t name_len)
{
	bool found;
	struct alt_wire_emitter *e;
	uint32_t d;

	if (ctx == NULL)
		return 0;
	e = emitter_lookup(ctx, format, key, &found);
	if (e == NULL) {
		ctx->emitters_overflow++;
		return 0;
	}
	if (!found) {
		memset(e, 0, sizeof(*e));
		e->used = 1;
		e->key = key;
		e->format = format;
		e->last_seq = seq;
		e->frames = 1;
		emitter_set_name(e, name, name_len);
		ctx->n_emitters++;
		return 0;
	}

	e->frames++;
	if (name != NULL && name_len > 0)
		emitter_set_name(e, name, name_len);

	d = seq - e->last_seq;
	if (d == 0)
		return 0;
	if (d == 1) {
		e->last_seq = seq;
		return 0;
	}
	if (d < 0x80000000u) {
		e->lost += d - 1;
		e->last_seq = seq;
		ctx_lost_add(ctx, format, (int64_t)(d - 1));
		return d - 1;
	}
	if (d >= (uint32_t)(0u - SEQ_REORDER_WINDOW)) {
		if (e->lost > 0) {
			e->lost--;
			ctx_lost_add(ctx, format, -1);
		}
		return 0;
	}
	e->last_seq = seq;
	return 0;
}
