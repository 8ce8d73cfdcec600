/* SPDX-License-Identifier: BSD-3-Clause
 * Altair base types: trace IDs, decoded records, pooled nodes, fixed-size
 * pools, the string intern table and the one trace-ID hash used everywhere.
 * Pure C: no DPDK types.
 */
#ifndef ALT_BASE_H
#define ALT_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALT_MAX_PARENTS 15      /* parents per record (ATR/1 parent_count is 0..15) */

#define alt_likely(x)   __builtin_expect(!!(x), 1)
#define alt_unlikely(x) __builtin_expect(!!(x), 0)

/* 128-bit trace ID. 64-bit IDs have hi == 0. Text form: 32 lowercase hex
 * digits, hi then lo (W3C traceparent order). */
struct alt_trace_id {
	uint64_t hi;
	uint64_t lo;
};

static inline bool
alt_trace_id_eq(const struct alt_trace_id *a, const struct alt_trace_id *b)
{
	return a->hi == b->hi && a->lo == b->lo;
}

static inline uint64_t
alt_mix64(uint64_t x)
{
	/* splitmix64 finaliser: full avalanche, cheap */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The one trace-ID hash: shard ownership, trace tables, Bloom keys. */
static inline uint64_t
alt_trace_id_hash(const struct alt_trace_id *t)
{
	return alt_mix64(t->lo ^ alt_mix64(t->hi ^ 0x9e3779b97f4a7c15ULL));
}

/* Worker that owns a trace, 0..n_workers-1. */
static inline unsigned
alt_trace_owner(const struct alt_trace_id *t, unsigned n_workers)
{
	return (unsigned)(((alt_trace_id_hash(t) >> 32) * (uint64_t)n_workers) >> 32);
}

/* ATR/1 RSS helper: XOR of the eight 16-bit little-endian words of the
 * 16-byte little-endian trace_id (lo in bytes 0..7, hi in bytes 8..15). */
static inline uint16_t
alt_trace_fold16(const struct alt_trace_id *t)
{
	uint64_t x = t->lo ^ t->hi;
	x ^= x >> 32;
	x ^= x >> 16;
	return (uint16_t)x;
}

/* ATR/1 UDP source port for TRACE_AFFINE frames. */
static inline uint16_t
alt_trace_affine_port(const struct alt_trace_id *t)
{
	return (uint16_t)(0xC000u | (alt_trace_fold16(t) & 0x3FFFu));
}

enum alt_kind {
	ALT_KIND_SPAN = 0,
	ALT_KIND_EVENT = 1,
};

/* Record flags (same bits as ATR/1 record flags). */
enum {
	ALT_RF_ERROR = 1u << 0,
	ALT_RF_CLOSES_TRACE = 1u << 1,
};

/* A borrowed byte string (not NUL-terminated). */
struct alt_str {
	const char *p;
	uint32_t len;
};

/* One decoded record, format independent. Strings are borrowed: they point
 * into the payload or into the decoder's scratch arena and are valid until
 * the next decode into the same output. parents[] holds parent_count distinct
 * non-zero node IDs of the same trace. */
struct alt_record {
	struct alt_trace_id trace_id;
	uint64_t node_id;
	uint64_t start_ns;
	uint64_t duration_ns;       /* 0 for a point event */
	uint64_t parents[ALT_MAX_PARENTS];
	uint8_t parent_count;
	uint8_t kind;               /* enum alt_kind */
	uint16_t flags;             /* ALT_RF_* */
	struct alt_str service;
	struct alt_str operation;
	struct alt_str attrs;       /* "key=value" lines separated by '\n' */
};

/* Extra parents of a node with more than one parent (pooled). */
struct alt_parent_ext {
	uint64_t ids[ALT_MAX_PARENTS - 1];
};

/* A record owned by the pipeline (pooled, 80 bytes). It sits first in the
 * reorder buffer, then on its trace's node list, linked through next. */
struct alt_node {
	struct alt_node *next;
	struct alt_trace_id trace_id;
	uint64_t node_id;
	uint64_t start_ns;
	uint64_t duration_ns;
	uint64_t parent0;               /* first parent, valid if parent_count >= 1 */
	struct alt_parent_ext *more;    /* parents 1.., valid if parent_count >= 2 */
	uint32_t service_id;            /* alt_intern ids */
	uint32_t operation_id;
	uint8_t parent_count;
	uint8_t kind;                   /* enum alt_kind */
	uint16_t flags;                 /* ALT_RF_* | ALT_NF_* */
	uint32_t rule_bits;             /* attribute rules matched (bit per rule id < 32) */
	uint32_t arrival;               /* arrival clock >> ALT_ARRIVAL_SHIFT (wraps; for close delays) */
	uint32_t pad;
};

/* Arrival times kept per node and trace in units of 2^20 ns (~1.05 ms), 32
 * bits wide: differences are right while under ~52 days. */
#define ALT_ARRIVAL_SHIFT 20

/* Node flags beyond the record flags (set by the pipeline). */
enum {
	ALT_NF_LATE = 1u << 8,          /* arrived behind the reorder watermark */
};

/* Event time of a node: when its record came into being. A span record is
 * written when the span finishes, so its event time is its end
 * (start + duration); a point event's is its timestamp. Reordering, the
 * watermark and inactivity gaps all run on this time. */
static inline uint64_t
alt_node_event_ns(const struct alt_node *n)
{
	return n->start_ns + n->duration_ns;
}

static inline uint64_t
alt_node_parent(const struct alt_node *n, unsigned i)
{
	return i == 0 ? n->parent0 : n->more->ids[i - 1];
}

/* Prefetch both cache lines an 80-byte node may straddle. */
static inline void
alt_node_prefetch(const struct alt_node *n)
{
	__builtin_prefetch(n);
	__builtin_prefetch((const char *)n + sizeof(*n) - 1);
}

/* Walk n node lists (linked through next) in lock step, touching every
 * node, so that the cache misses of different lists overlap instead of
 * coming one after another. For lists that went cold (a trace waiting for
 * its gap): call before walking them for real. heads[] is clobbered. */
static inline void
alt_node_lists_warm(const struct alt_node **heads, unsigned n)
{
	while (n > 0) {
		for (unsigned i = 0; i < n;) {
			const struct alt_node *nx = heads[i]->next;
			if (nx == NULL) {
				heads[i] = heads[--n];
				continue;
			}
			alt_node_prefetch(nx);
			heads[i] = nx;
			i++;
		}
	}
}

/* ---- receive-side scaling, as a NIC computes it ---- */

/* The 40-byte Toeplitz key Altair programs into NICs (rss = l4-src): the
 * well-known default key of the RSS specification. */
extern const uint8_t alt_rss_key[40];

/* Toeplitz hash of len bytes (len <= 36) under a 40-byte key, bit for bit
 * what a NIC computes over the same bytes in network order. */
uint32_t alt_toeplitz(const uint8_t key[40], const uint8_t *data, size_t len);

/* The RX queue a NIC hashing the UDP source port only (RSS "L4 source
 * only", alt_rss_key, RETA entry i -> queue i % nq) picks for sport. */
static inline uint16_t
alt_rss_l4src_queue(uint16_t sport, uint16_t reta_size, uint16_t nq)
{
	uint8_t b[2] = { (uint8_t)(sport >> 8), (uint8_t)sport };
	uint32_t h = alt_toeplitz(alt_rss_key, b, 2);
	return (uint16_t)((h % reta_size) % nq);
}

/* ---- text forms ---- */

/* 32 lowercase hex digits + NUL. */
void alt_fmt_trace_id(char out[33], const struct alt_trace_id *t);
/* 16 lowercase hex digits + NUL. */
void alt_fmt_id64(char out[17], uint64_t v);
/* Parse 1..32 hex digits (right-aligned); returns 0 or -1. */
int alt_parse_trace_id(const char *s, size_t len, struct alt_trace_id *t);
/* Parse 1..16 hex digits; returns 0 or -1. */
int alt_parse_id64(const char *s, size_t len, uint64_t *v);

/* Stable 64-bit content hash of bytes (same value on every lcore/run). */
uint64_t alt_hash_bytes(const void *p, size_t len, uint64_t seed);

/* Value of one hexadecimal digit (either case), -1 if c is not one. */
static inline int
alt_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- layout helpers for tables carved out of caller memory ---- */

/* x rounded up to a multiple of 64 (a cache line). */
static inline size_t
alt_align64(size_t x)
{
	return (x + 63u) & ~(size_t)63u;
}

/* The least power of two >= x (1 for x <= 1); callers bound x to 2^31. */
static inline uint32_t
alt_pow2_at_least(uint64_t x)
{
	uint32_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* a + b, saturating at UINT64_MAX. */
static inline uint64_t
alt_sat_add(uint64_t a, uint64_t b)
{
	uint64_t r = a + b;
	return r < a ? UINT64_MAX : r;
}

/* ---- fixed-size element pool over caller memory (single owner, no locks) ---- */

struct alt_pool {
	void **stack;           /* free elements; stack[avail - 1] comes out next */
	uint8_t *base;
	uint32_t elt_size;      /* rounded up to 8 */
	uint32_t n;
	uint32_t avail;
	uint32_t min_avail;     /* low-water mark, for peak-usage reporting */
};

/* Bytes needed for n elements of elt_size: the elements, then the stack of
 * free pointers. Gets never read element memory (a free list threaded
 * through the elements would cost a cache miss per get on a cold pool). */
size_t alt_pool_memsize(uint32_t elt_size, uint32_t n);
/* Lay out the pool on mem (memsize bytes from alt_pool_memsize). 0 or -EINVAL. */
int alt_pool_init(struct alt_pool *p, void *mem, size_t memsize, uint32_t elt_size, uint32_t n);

/* Gets ahead whose element is prefetched for writing. */
#define ALT_POOL_PREFETCH_AHEAD 8

static inline void *
alt_pool_get(struct alt_pool *p)
{
	void *e;

	if (alt_unlikely(p->avail == 0))
		return NULL;
	e = p->stack[--p->avail];
	/* The element handed out a few gets from now: its lines are written
	 * whole by the caller, start fetching them. */
	if (alt_likely(p->avail > ALT_POOL_PREFETCH_AHEAD))
		__builtin_prefetch(p->stack[p->avail - ALT_POOL_PREFETCH_AHEAD], 1, 3);
	if (p->avail < p->min_avail)
		p->min_avail = p->avail;
	return e;
}

static inline void
alt_pool_put(struct alt_pool *p, void *e)
{
	p->stack[p->avail++] = e;
}

static inline uint32_t
alt_pool_in_use(const struct alt_pool *p)
{
	return p->n - p->avail;
}

/* ---- string intern table (bounded, never shrinks) ----
 * id 0 is the empty string; id 1 is "<overflow>", returned when the table
 * is full (counted in overflows). */

enum {
	ALT_INTERN_EMPTY = 0,
	ALT_INTERN_OVERFLOW = 1,
};

/* The layout is public only so that alt_intern_hash_inline can be inlined
 * into hot loops (the shape hash reads two string hashes per node); use the
 * functions, never write the fields. */
struct alt_intern_ent {
	uint64_t hash;          /* alt_hash_bytes(str, len, 0) */
	uint32_t off;           /* into bytes */
	uint32_t len;
};

struct alt_intern {
	uint32_t max_strings;
	uint32_t count;
	uint32_t mask;          /* slots - 1 */
	uint32_t max_bytes;
	uint32_t used_bytes;
	uint32_t pad;
	uint64_t overflows;
	struct alt_intern_ent *ents;    /* [max_strings] */
	uint32_t *slots;                /* [mask+1], id+1 or 0 */
	char *bytes;                    /* [max_bytes] */
};

size_t alt_intern_memsize(uint32_t max_strings, uint32_t max_bytes);
struct alt_intern *alt_intern_init(void *mem, uint32_t max_strings, uint32_t max_bytes);
uint32_t alt_intern_get(struct alt_intern *t, const char *s, uint32_t len);
/* The string (NUL-terminated) and its length. */
const char *alt_intern_str(const struct alt_intern *t, uint32_t id, uint32_t *len);
/* alt_hash_bytes(str, len, 0) of the string, precomputed. */
uint64_t alt_intern_hash(const struct alt_intern *t, uint32_t id);

/* alt_intern_hash without the call: an id past the table reads as
 * "<overflow>", like everywhere else. */
static inline uint64_t
alt_intern_hash_inline(const struct alt_intern *t, uint32_t id)
{
	if (id >= t->count)
		id = ALT_INTERN_OVERFLOW;
	return t->ents[id].hash;
}

uint32_t alt_intern_count(const struct alt_intern *t);
uint64_t alt_intern_overflows(const struct alt_intern *t);
size_t alt_intern_bytes_used(const struct alt_intern *t);

#ifdef __cplusplus
}
#endif

#endif /* ALT_BASE_H */
