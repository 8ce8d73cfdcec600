/* SPDX-License-Identifier: BSD-3-Clause
 * Event-time reorder buffer.
 *
 * Layout: a ring of nb buckets (nb a power of two, at least 64 and at least
 * window/bucket + 2), each a FIFO list of chunks of node pointers, and an
 * occupancy bitmap (one bit per bucket) so that empty buckets are skipped
 * 64 at a time. Nodes are never linked through themselves: a node goes
 * cold while it waits out the window, and releasing a bucket by chasing
 * pointers through cold nodes costs a cache miss per node in series; with
 * pointer chunks the release reads the chunk and prefetches all the nodes
 * at once. A node with event time t (alt_node_event_ns) lives in bucket index t / bucket_ns,
 * ring slot index & (nb - 1).
 *
 * Invariant: every buffered node's bucket index lies in
 * [cursor, cursor + nb), so each ring slot holds at most one bucket index
 * and walking slots from the cursor walks bucket indices in order. Buckets
 * below the watermark's bucket index (rel_idx) are spliced, in order, onto a
 * "ready" FIFO from which pop hands nodes out; the cursor then moves to
 * rel_idx. Splicing is O(1) per bucket and at most nb slots are looked at
 * per call, however far the watermark jumped.
 *
 * flush() moves everything to the ready list and raises a watermark floor to
 * max_seen (see alt_reorder_flush below).
 */
#include "alt_reorder.h"

#include <errno.h>

#define REORDER_MAX_RATIO (1u << 20)
#define REORDER_MIN_BUCKETS 64u

#define RCHUNK 30              /* node pointers per chunk: 256-byte chunks */

struct rchunk {
	struct rchunk *next;
	uint32_t n;
	uint32_t pad;
	struct alt_node *v[RCHUNK];
};

struct reorder_bucket {
	struct rchunk *head;
	struct rchunk *tail;
};

struct alt_reorder {
	uint64_t window_ns;
	uint64_t bucket_ns;
	uint64_t div_magic;             /* t / bucket_ns = mulhi-based, see bucket_of */
	uint32_t bucket_shift;          /* log2(bucket_ns), or the magic's post-shift */
	uint32_t bucket_pow2;
	uint32_t nb;                    /* ring size */
	uint32_t mask;
	uint32_t started;               /* a first push happened */
	uint32_t external;              /* watermark only from alt_reorder_raise */
	uint64_t max_seen;
	uint64_t floor_ns;              /* watermark floor raised by flush */
	uint64_t wm;                    /* watermark */
	uint64_t rel_idx;               /* wm / bucket_ns: release buckets below */
	uint64_t rel_next;              /* watermark at which rel_idx grows */
	uint64_t cursor;                /* next bucket index to release */
	struct rchunk *ready_head;      /* released, not yet popped */
	struct rchunk *ready_tail;
	uint32_t ready_pos;             /* next pointer to hand out in ready_head */
	uint32_t n_chunks;
	struct rchunk *free_chunks;
	uint64_t *bitmap;               /* nb bits: bucket non-empty */
	struct reorder_bucket *b;
	struct rchunk *chunks;
	struct alt_reorder_stats st;
};

#define REORDER_DEFAULT_ITEMS (1u << 20)

/* Chunks for max_items nodes: full chunks, plus one partial chunk per
 * non-empty bucket (at most min(nb, items) of them), plus the ready list's. */
static uint32_t
chunk_count(const struct alt_reorder_params *p, uint32_t nb)
{
	uint32_t items = p->max_items ? p->max_items : REORDER_DEFAULT_ITEMS;

	return items / RCHUNK + (nb < items ? nb : items) + 2;
}

static bool
params_ok(const struct alt_reorder_params *p)
{
	return p != NULL && p->bucket_ns != 0 &&
		p->window_ns / p->bucket_ns <= REORDER_MAX_RATIO;
}

static uint32_t
ring_size(const struct alt_reorder_params *p)
{
	uint64_t need = p->window_ns / p->bucket_ns + 2;

	if (need < REORDER_MIN_BUCKETS)
		need = REORDER_MIN_BUCKETS;
	return alt_pow2_at_least(need);
}

/* Bytes for the buffer: header, bitmap, buckets; 0 if p is invalid. */
size_t
alt_reorder_memsize(const struct alt_reorder_params *p)
{
	uint32_t nb;

	if (!params_ok(p))
		return 0;
	nb = ring_size(p);
	return alt_align64(sizeof(struct alt_reorder)) +
		alt_align64((size_t)nb / 8) +
		alt_align64((size_t)nb * sizeof(struct reorder_bucket)) +
		(size_t)chunk_count(p, nb) * sizeof(struct rchunk);
}

/* Lay the buffer out on mem (alt_reorder_memsize bytes, 8-byte aligned).
 * NULL if the parameters are invalid or mem is NULL/misaligned. */
struct alt_reorder *
alt_reorder_init(void *mem, const struct alt_reorder_params *p)
{
	struct alt_reorder *r = mem;
	uint8_t *m = mem;
	uint32_t nb;

	if (!params_ok(p) || mem == NULL || ((uintptr_t)mem & 7u) != 0)
		return NULL;
	nb = ring_size(p);
	memset(r, 0, sizeof(*r));
	r->window_ns = p->window_ns;
	r->bucket_ns = p->bucket_ns;
	r->external = p->external;
	if ((p->bucket_ns & (p->bucket_ns - 1)) == 0) {
		r->bucket_pow2 = 1;
		r->bucket_shift = (uint32_t)__builtin_ctzll(p->bucket_ns);
	} else {
		/* division by an invariant: with l = ceil(log2 d),
		 * m = floor(2^64 * (2^l - d) / d) + 1 and t1 = mulhi(m, t),
		 * t / d = (t1 + ((t - t1) >> 1)) >> (l - 1) for every 64-bit t */
		uint64_t d = p->bucket_ns;
		uint32_t l = 64 - (uint32_t)__builtin_clzll(d - 1);
		uint64_t num = l == 64 ? (uint64_t)0 - d : (1ull << l) - d;

		r->div_magic = (uint64_t)(((unsigned __int128)num << 64) / d) + 1;
		r->bucket_shift = l - 1;
	}
	r->nb = nb;
	r->mask = nb - 1;
	m += alt_align64(sizeof(struct alt_reorder));
	r->bitmap = (uint64_t *)m;
	memset(r->bitmap, 0, nb / 8);
	m += alt_align64((size_t)nb / 8);
	r->b = (struct reorder_bucket *)m;
	memset(r->b, 0, (size_t)nb * sizeof(struct reorder_bucket));
	m += alt_align64((size_t)nb * sizeof(struct reorder_bucket));
	r->chunks = (struct rchunk *)m;
	r->n_chunks = chunk_count(p, nb);
	r->free_chunks = NULL;
	for (uint32_t i = r->n_chunks; i > 0; i--) {
		r->chunks[i - 1].next = r->free_chunks;
		r->free_chunks = &r->chunks[i - 1];
	}
	return r;
}

static inline uint64_t
bucket_of(const struct alt_reorder *r, uint64_t t)
{
	uint64_t t1;

	if (r->bucket_pow2)
		return t >> r->bucket_shift;
	t1 = (uint64_t)(((unsigned __int128)r->div_magic * t) >> 64);
	return (t1 + ((t - t1) >> 1)) >> r->bucket_shift;
}

/* Recompute the watermark from max_seen and the flush floor. */
static inline void
set_watermark(struct alt_reorder *r)
{
	uint64_t w = r->external ? 0 : r->max_seen >= r->window_ns ? r->max_seen - r->window_ns : 0;

	if (w < r->floor_ns)
		w = r->floor_ns;
	r->wm = w;
	if (w >= r->rel_next) {
		uint64_t lo;

		r->rel_idx = bucket_of(r, w);
		lo = r->rel_idx * r->bucket_ns;             /* <= w: no overflow */
		r->rel_next = lo + r->bucket_ns < lo ? UINT64_MAX : lo + r->bucket_ns;
	}
}

/* Append bucket slot's list to the ready FIFO and empty the bucket. */
static inline void
splice_bucket(struct alt_reorder *r, uint32_t slot)
{
	struct reorder_bucket *b = &r->b[slot];

	if (r->ready_tail != NULL)
		r->ready_tail->next = b->head;
	else
		r->ready_head = b->head;
	r->ready_tail = b->tail;
	b->head = NULL;
	b->tail = NULL;
	r->bitmap[slot >> 6] &= ~(1ULL << (slot & 63));
}

/* Splice the buckets with indices from, from+1, .. from+count-1 (count <= nb)
 * in that order, skipping empty ones through the bitmap. */
static void
move_range(struct alt_reorder *r, uint64_t from, uint64_t count)
{
	while (count > 0) {
		uint32_t slot = (uint32_t)(from & r->mask);
		uint32_t bit = slot & 63;
		uint64_t span = 64 - bit;
		uint64_t w;
		unsigned tz;

		if (span > count)
			span = count;
		w = r->bitmap[slot >> 6] >> bit;
		if (span < 64)
			w &= (1ULL << span) - 1;
		if (w == 0) {
			from += span;
			count -= span;
			continue;
		}
		tz = (unsigned)__builtin_ctzll(w);
		splice_bucket(r, slot + tz);
		from += tz + 1;
		count -= tz + 1;
	}
}

/* Release every bucket below rel_idx to the ready list; cursor = rel_idx.
 * A jump of more than nb buckets looks at each slot once: by the invariant
 * every buffered bucket is below cursor + nb, hence below rel_idx. */
static void
catch_up(struct alt_reorder *r)
{
	uint64_t d;

	if (r->rel_idx <= r->cursor)
		return;
	d = r->rel_idx - r->cursor;
	if (d > r->nb)
		d = r->nb;
	move_range(r, r->cursor, d);
	r->cursor = r->rel_idx;
}

/* External mode, a node further ahead of the released buckets than the
 * ring spans (the watermark is held far back: a warm-up, a slow source):
 * it waits in the ring's last bucket, so it is released early, in arrival
 * order with the others there, and never after its time (a node released
 * after the watermark passed it could miss its trace). The cursor never
 * runs ahead of the watermark's bucket, so no node lies before it. */
static uint64_t
external_bucket(struct alt_reorder *r, uint64_t x)
{
	if (x - r->cursor >= r->nb)
		return r->cursor + r->nb - 1;
	return x;
}

/* Buffer n unless it is behind the watermark (then return 1, n untouched).
 * O(1) amortised; a jump of max_seen by more than the ring span costs at
 * most one pass over the ring. */
int
alt_reorder_push(struct alt_reorder *r, struct alt_node *n)
{
	uint64_t t = alt_node_event_ns(n);
	uint64_t x;
	uint32_t slot;
	struct reorder_bucket *b;
	struct rchunk *c;

	if (alt_likely(r->started)) {
		if (alt_unlikely(t < r->wm)) {
			r->st.late++;
			return 1;
		}
		if (t > r->max_seen) {
			r->max_seen = t;
			set_watermark(r);
		}
	} else {
		r->started = 1;
		r->rel_next = 0;
		if (alt_unlikely(r->external && t < r->floor_ns)) {
			set_watermark(r);
			r->cursor = r->rel_idx;
			r->st.late++;
			return 1;
		}
		r->max_seen = t;
		set_watermark(r);
		r->cursor = r->rel_idx;
	}
	x = bucket_of(r, t);
	if (alt_unlikely(x - r->cursor >= r->nb)) {
		catch_up(r);
		if (r->external && x - r->cursor >= r->nb)
			x = external_bucket(r, x);
	}
	slot = (uint32_t)(x & r->mask);
	b = &r->b[slot];
	c = b->tail;
	if (alt_unlikely(c == NULL || c->n == RCHUNK)) {
		struct rchunk *nc = r->free_chunks;
		if (alt_unlikely(nc == NULL)) {
			/* more nodes than max_items: not buffered, handled as late */
			r->st.late++;
			r->st.overflow++;
			return 1;
		}
		r->free_chunks = nc->next;
		nc->next = NULL;
		nc->n = 0;
		if (c == NULL) {
			b->head = nc;
			r->bitmap[slot >> 6] |= 1ULL << (slot & 63);
		} else {
			c->next = nc;
		}
		b->tail = c = nc;
	}
	c->v[c->n++] = n;
	r->st.pushed++;
	if (++r->st.buffered > r->st.buffered_peak)
		r->st.buffered_peak = r->st.buffered;
	return 0;
}

/* Hand out up to cap released nodes, oldest bucket first, arrival order
 * within a bucket. The nodes are prefetched for the caller, which reads
 * them next; node->next is left as it was. */
unsigned
alt_reorder_pop(struct alt_reorder *r, struct alt_node **out, unsigned cap)
{
	unsigned k = 0;

	if (r->cursor < r->rel_idx)
		catch_up(r);
	while (k < cap && r->ready_head != NULL) {
		struct rchunk *c = r->ready_head;
		uint32_t i = r->ready_pos;

		for (; i < c->n && k < cap; i++) {
			__builtin_prefetch(c->v[i]);
			__builtin_prefetch((const char *)c->v[i] + 64);   /* 80-byte nodes */
			out[k++] = c->v[i];
		}
		if (i < c->n) {
			r->ready_pos = i;
			break;
		}
		r->ready_head = c->next;
		r->ready_pos = 0;
		c->next = r->free_chunks;
		r->free_chunks = c;
	}
	if (r->ready_head == NULL)
		r->ready_tail = NULL;
	r->st.released += k;
	r->st.buffered -= k;
	return k;
}

/* Current watermark: max(max_seen - window_ns (0 if negative), flush
 * floor); 0 before the first push. */
uint64_t
alt_reorder_watermark(const struct alt_reorder *r)
{
	return r->wm;
}

/* Highest event time pushed (late nodes excluded); 0 before the first push. */
uint64_t
alt_reorder_max_seen(const struct alt_reorder *r)
{
	return r->max_seen;
}

/* Every node buffered now becomes releasable by pop (as if the watermark
 * were UINT64_MAX, once). Afterwards the watermark is max_seen (a floor that
 * later pushes only raise): the input is taken as complete up to max_seen,
 * so a later push with event time < max_seen is late and one at or above it is
 * buffered and released by the usual window rule, or by another flush.
 * No-op before the first push. */
void
alt_reorder_flush(struct alt_reorder *r)
{
	uint64_t max_idx;

	if (!r->started)
		return;
	catch_up(r);
	max_idx = bucket_of(r, r->max_seen);
	/* all buffered indices lie in [cursor, max_idx] and in [cursor, cursor + nb) */
	if (max_idx >= r->cursor)
		move_range(r, r->cursor, max_idx - r->cursor + 1 < r->nb ? max_idx - r->cursor + 1 : r->nb);
	r->floor_ns = r->max_seen;
	set_watermark(r);
	r->cursor = r->rel_idx;
}

void
alt_reorder_raise(struct alt_reorder *r, uint64_t w)
{
	if (w <= r->floor_ns)
		return;
	r->floor_ns = w;
	if (r->started)
		set_watermark(r);
	else
		r->wm = w;
}

/* Advance event time without a record (the input went quiet): max_seen
 * becomes t if that is later, and the watermark follows. Nothing happens
 * before the first push. */
void
alt_reorder_advance_time(struct alt_reorder *r, uint64_t t)
{
	if (!r->started || t <= r->max_seen)
		return;
	r->max_seen = t;
	set_watermark(r);
}

/* Counters: buffered/late/released totals, buffered now and its peak. */
void
alt_reorder_get_stats(const struct alt_reorder *r, struct alt_reorder_stats *s)
{
	*s = r->st;
}
