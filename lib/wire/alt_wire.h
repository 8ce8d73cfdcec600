/* SPDX-License-Identifier: BSD-3-Clause
 * Wire decoders (and encoders, for the simulator and tests): one UDP payload
 * in, records out. ATR/1, Jaeger agent emitBatch (Thrift compact and binary),
 * X-Trace text reports. Pure C over byte buffers.
 *
 * A decoder never reads past its buffer, bounds nesting depth and list sizes,
 * and returns a reason code for a rejected payload. A rejected payload yields
 * no records (out->n is reset to 0).
 */
#ifndef ALT_WIRE_H
#define ALT_WIRE_H

#include "alt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

enum alt_wire_format {
	ALT_FMT_ATR = 0,
	ALT_FMT_JAEGER_COMPACT = 1,
	ALT_FMT_JAEGER_BINARY = 2,
	ALT_FMT_XTRACE = 3,
	ALT_FMT_COUNT
};

/* Text names: "atr", "jaeger-compact", "jaeger-binary", "xtrace". */
const char *alt_wire_format_name(enum alt_wire_format f);
/* -1 if unknown. */
int alt_wire_format_parse(const char *name);

/* Reject reasons. X-macro: the name is the counter/JSON key. */
#define ALT_WIRE_REASONS(X) \
	X(OK, "ok") \
	X(TRUNCATED, "truncated") \
	X(BAD_MAGIC, "bad_magic") \
	X(BAD_VERSION, "bad_version") \
	X(BAD_LENGTH, "bad_length") \
	X(BAD_COUNT, "bad_count") \
	X(BAD_TYPE, "bad_type") \
	X(DEPTH, "depth") \
	X(LIST_TOO_LONG, "list_too_long") \
	X(BAD_FIELD, "bad_field") \
	X(MISSING_FIELD, "missing_field") \
	X(BAD_ID, "bad_id") \
	X(BAD_HEX, "bad_hex") \
	X(TOO_MANY_RECORDS, "too_many_records") \
	X(ARENA_FULL, "arena_full") \
	X(NOT_EMITBATCH, "not_emitbatch") \
	X(TRAILING_BYTES, "trailing_bytes")

enum alt_wire_reason {
#define ALT_WIRE_ENUM(e, s) ALT_WIRE_##e,
	ALT_WIRE_REASONS(ALT_WIRE_ENUM)
#undef ALT_WIRE_ENUM
	ALT_WIRE_REASON_COUNT
};

const char *alt_wire_reason_name(enum alt_wire_reason r);

/* Limits a decoder enforces. */
#define ALT_WIRE_MAX_DEPTH 16           /* Thrift struct/list nesting */
#define ALT_WIRE_MAX_LIST 65536         /* elements in any one Thrift list/map */
#define ALT_ATR_MAX_COUNT 1024          /* records per ATR/1 frame */

/* Decoder output: the caller provides the record array and a scratch arena
 * for strings that must be built (Jaeger/X-Trace attrs). */
/* alt_wire_out.source_key tags: the top byte says which format named it. */
#define ALT_WIRE_SRC_ATR (0xA1ULL << 56)
#define ALT_WIRE_SRC_JAEGER (0xA2ULL << 56)
#define ALT_WIRE_SRC_XTRACE (0xA3ULL << 56)

struct alt_wire_out {
	struct alt_record *recs;
	uint32_t cap;           /* records */
	uint32_t n;             /* records written */
	char *arena;
	uint32_t arena_cap;
	uint32_t arena_used;
	/* Per-payload facts for the caller's counters: */
	uint32_t parents_truncated;     /* parent lists cut at ALT_MAX_PARENTS */
	uint32_t foreign_refs;          /* references to other traces (not parents) */
	/* The sender the payload names (0: it names none; the caller uses the
	 * UDP flow): ATR/1 emitter_id, Jaeger process (service + tags), X-Trace
	 * Host. Tagged by format, so keys of different formats never meet. */
	uint64_t source_key;
};

/* Per-emitter/client loss accounting, kept across payloads. */
#define ALT_WIRE_MAX_EMITTERS 4096

struct alt_wire_emitter {
	uint64_t key;           /* ATR: emitter_id; Jaeger: hash of service + process tags */
	uint32_t last_seq;
	uint32_t used;          /* 0 = free slot */
	uint64_t frames;        /* frames/batches seen */
	uint64_t lost;          /* frames/batches missing by sequence gaps */
	/* Jaeger ClientStats as last reported by this client (0 when absent). */
	uint64_t client_full_queue_dropped;
	uint64_t client_too_large_dropped;
	uint64_t client_failed_to_emit;
	char name[48];          /* Jaeger: service name (truncated), ATR: "" */
	uint8_t format;         /* enum alt_wire_format */
};

struct alt_wire_ctx {
	/* Totals across emitters (what the counters and telemetry show). */
	uint64_t atr_frames_lost;               /* by frame_seq gaps */
	uint64_t jaeger_batches_lost;           /* by Batch.seqNo gaps */
	uint64_t jaeger_client_dropped_spans;   /* sum of latest ClientStats drops reported */
	uint64_t emitters_overflow;             /* emitters not tracked: table full */
	uint32_t n_emitters;
	struct alt_wire_emitter emitters[ALT_WIRE_MAX_EMITTERS]; /* open addressing by key */
};

void alt_wire_ctx_init(struct alt_wire_ctx *ctx);

/* Decode one UDP payload. Returns ALT_WIRE_OK (out->n records) or a reject
 * reason (out->n == 0). out->n, arena_used and the per-payload facts are
 * reset on entry. ctx may be NULL (no loss accounting). */
enum alt_wire_reason alt_wire_decode(struct alt_wire_ctx *ctx, enum alt_wire_format fmt,
				     const uint8_t *buf, size_t len, struct alt_wire_out *out);

/* The individual decoders (same contract). */
enum alt_wire_reason alt_wire_decode_atr(struct alt_wire_ctx *ctx, const uint8_t *buf, size_t len,
					 struct alt_wire_out *out);
enum alt_wire_reason alt_wire_decode_jaeger(struct alt_wire_ctx *ctx, bool compact,
					    const uint8_t *buf, size_t len, struct alt_wire_out *out);
enum alt_wire_reason alt_wire_decode_xtrace(struct alt_wire_ctx *ctx, const uint8_t *buf, size_t len,
					    struct alt_wire_out *out);

/* Emitter bookkeeping shared by the decoders: record a frame with sequence
 * number seq from the emitter with this key; returns frames lost before it
 * (0 for the first frame, for seq == last+1, and for a repeat or restart). */
uint32_t alt_wire_emitter_seen(struct alt_wire_ctx *ctx, uint8_t format, uint64_t key, uint32_t seq,
			       const char *name, size_t name_len);
struct alt_wire_emitter *alt_wire_emitter_find(struct alt_wire_ctx *ctx, uint8_t format, uint64_t key);

/* ---- encoders (simulator, tests) ----
 * Each returns the payload length written, or 0 if it does not fit in cap. */

/* ATR/1 frame of n records (n 1..1024). flags: bit 0 TRACE_AFFINE. */
size_t alt_wire_encode_atr(const struct alt_record *recs, unsigned n, uint8_t flags,
			   uint32_t emitter_id, uint32_t frame_seq, uint8_t *buf, size_t cap);

/* An ATR/1 frame built record by record, in place: alt_wire_atr_begin
 * writes the 16-byte header (count 0) and returns its length;
 * alt_wire_atr_add appends one record to the frame of len bytes at buf and
 * returns the new length, or 0 when the frame already holds 1024 records,
 * the record does not fit in cap, or it cannot be encoded (more than 15
 * parents, a string longer than its length field). attrs false leaves the
 * record's attributes out (attrs_len 0). A frame needs at least one record
 * to be valid. */
size_t alt_wire_atr_begin(uint8_t *buf, size_t cap, uint8_t flags, uint32_t emitter_id,
			  uint32_t frame_seq);
size_t alt_wire_atr_add(uint8_t *buf, size_t len, size_t cap, const struct alt_record *r, bool attrs);
/* Append recs[0..n) in order until one does not go in (frame full, no
 * room, unencodable); *len becomes the new length. Returns how many went. */
unsigned alt_wire_atr_add_many(uint8_t *buf, size_t *len, size_t cap, const struct alt_record *const *recs,
			       unsigned n, bool attrs);
/* Records in a frame begun with alt_wire_atr_begin (0 if len < 16). */
unsigned alt_wire_atr_count(const uint8_t *buf, size_t len);

/* Jaeger Process for the encoder: service name and string tags. */
struct alt_jaeger_process {
	const char *service;
	unsigned n_tags;
	const char *const *tag_keys;
	const char *const *tag_values;
};

/* Jaeger Agent.emitBatch message (compact or binary strict). Each record
 * becomes a Span: parents[0] -> parentSpanId and a CHILD_OF reference (as
 * real clients do), further parents -> FOLLOWS_FROM references; attrs lines
 * "k=v" -> string tags; ALT_RF_ERROR -> bool tag error=true; times in µs
 * (truncated). seq_no < 0: Batch.seqNo absent. stats: NULL = absent, else
 * ClientStats {fullQueueDroppedSpans, tooLargeDroppedSpans, failedToEmitSpans}. */
size_t alt_wire_encode_jaeger(bool compact, const struct alt_jaeger_process *proc,
			      const struct alt_record *recs, unsigned n, int64_t seq_no,
			      const uint64_t stats[3], uint8_t *buf, size_t cap);

/* X-Trace report (text, "X-Trace Report ver 1.0"): metadata with a TaskID of
 * task_id_len bytes (4, 8, 12 or 20; the trace ID right-aligned, a 20-byte
 * TaskID zero-padded in front) and an 8-byte OpID = node_id; one Edge line per
 * parent; Timestamp; Host; Agent = service; Label = operation; attrs lines
 * "k=v" become "k: v" lines. */
size_t alt_wire_encode_xtrace(const struct alt_record *rec, unsigned task_id_len,
			      const char *host, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ALT_WIRE_H */
