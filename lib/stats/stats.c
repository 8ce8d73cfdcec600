/* SPDX-License-Identifier: BSD-3-Clause
 * Per-epoch statistics: log-bucketed histograms, (service, operation) and
 * shape tables, a small string table, Space-Saving top-k of service pairs
 * and named drop counters, all laid out in one caller-provided block.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alt_stats.h"

/* ------------------------------------------------------------------ */
/* histogram                                                           */
/* ------------------------------------------------------------------ */

/* Bucket of v. With s = max(0, floor(log2 v) - 6) the bucket is
 * s * 64 + (v >> s): below 128 that is v itself; above, v >> s lies in
 * [64, 128), so each power of two [2^e, 2^(e+1)) maps onto the 64 buckets
 * starting at (e - 5) * 64, which is the documented formula
 * (e - 5) * 64 + ((v >> (e - 6)) & 63). The largest value lands in
 * 57 * 64 + 127 = ALT_HIST_BUCKETS - 1. No branch on the value. */
static inline unsigned
hist_bucket(uint64_t v)
{
	int e = 63 - __builtin_clzll(v | 1);
	int s = e - ALT_HIST_SUB_BITS;

	s = s < 0 ? 0 : s;
	return ((unsigned)s << ALT_HIST_SUB_BITS) + (unsigned)(v >> s);
}

unsigned
alt_hist_bucket(uint64_t v)
{
	return hist_bucket(v);
}

/* Lowest value and width of bucket b (b < ALT_HIST_BUCKETS). */
static inline void
hist_bucket_range(unsigned b, uint64_t *lo, uint64_t *width)
{
	if (b < (2u << ALT_HIST_SUB_BITS)) {
		*lo = b;
		*width = 1;
		return;
	}
	unsigned s = (b >> ALT_HIST_SUB_BITS) - 1;
	uint64_t m = b - ((uint64_t)s << ALT_HIST_SUB_BITS);

	*lo = m << s;
	*width = (uint64_t)1 << s;
}

/* Midpoint of the integer range [lo, lo + width - 1] of bucket b; the exact
 * value below 128. Indexes past the end are treated as the last bucket. */
uint64_t
alt_hist_bucket_mid(unsigned b)
{
	uint64_t lo, w;

	if (b >= ALT_HIST_BUCKETS)
		b = ALT_HIST_BUCKETS - 1;
	hist_bucket_range(b, &lo, &w);
	return lo + (w - 1) / 2;
}

/* Empty h completely (any prior content, initialised or not). The all-zero
 * state is the empty histogram. */
void
alt_hist_reset(struct alt_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Empty an initialised histogram by clearing only its used bucket range. */
static void
hist_clear_used(struct alt_hist *h)
{
	if (h->count != 0)
		memset(&h->b[h->lo_bucket], 0,
		       (size_t)(h->hi_bucket - h->lo_bucket + 1) * sizeof(h->b[0]));
	h->count = 0;
	h->sum = 0;
	h->min = 0;
	h->max = 0;
	h->lo_bucket = 0;
	h->hi_bucket = 0;
}

/* Add one value. O(1). lo_bucket and hi_bucket are always the buckets of
 * min and max (the bucket is monotone in the value, and add and merge keep
 * that), so they change exactly when min or max does: two well-predicted
 * branches instead of four selects. The empty state (all zero) takes the
 * first branch through mn = UINT64_MAX (v <= mn, so even UINT64_MAX is
 * stored); an empty histogram's max 0 and hi 0 = bucket(0) stay right for
 * v = 0. Bucket counts are 32-bit: 4G values in one bucket per epoch would
 * wrap. Inline here, for the per-span paths below. */
static inline void
hist_add(struct alt_hist *h, uint64_t v)
{
	unsigned b = hist_bucket(v);
	uint64_t c = h->count;
	uint64_t mn = c ? h->min : UINT64_MAX;

	h->b[b]++;
	h->count = c + 1;
	h->sum += v;
	if (v <= mn) {
		h->min = v;
		h->lo_bucket = b;
	}
	if (v > h->max) {
		h->max = v;
		h->hi_bucket = b;
	}
}

void
alt_hist_add(struct alt_hist *h, uint64_t v)
{
	hist_add(h, v);
}

/* dst += src: touches only src's [lo_bucket, hi_bucket]. The result equals
 * the histogram of the union of both inputs. */
void
alt_hist_merge(struct alt_hist *dst, const struct alt_hist *src)
{
	unsigned b;

	if (src->count == 0)
		return;
	for (b = src->lo_bucket; b <= src->hi_bucket; b++)
		dst->b[b] += src->b[b];
	if (dst->count == 0) {
		dst->min = src->min;
		dst->max = src->max;
		dst->lo_bucket = src->lo_bucket;
		dst->hi_bucket = src->hi_bucket;
	} else {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
		if (src->lo_bucket < dst->lo_bucket)
			dst->lo_bucket = src->lo_bucket;
		if (src->hi_bucket > dst->hi_bucket)
			dst->hi_bucket = src->hi_bucket;
	}
	dst->count += src->count;
	dst->sum += src->sum;
}

/* Value of rank ceil(q * count) (at least 1, at most count): the midpoint of
 * the bucket holding that order statistic, clamped to [min, max]; ranks 1
 * and count return min and max exactly. Relative error <= 1/128. Scans from
 * whichever end of the used range is nearer the rank. */
uint64_t
alt_hist_quantile(const struct alt_hist *h, double q)
{
	uint64_t n = h->count, rank, acc, v;
	unsigned b;

	if (n == 0)
		return 0;
	if (!(q > 0.0))         /* also NaN */
		rank = 1;
	else if (q >= 1.0)
		rank = n;
	else {
		double r = ceil(q * (double)n);
		rank = r < 1.0 ? 1 : (r >= (double)n ? n : (uint64_t)r);
	}
	if (rank == 1)
		return h->min;
	if (rank == n)
		return h->max;

	if (rank <= n / 2) {
		acc = 0;
		for (b = h->lo_bucket; b < h->hi_bucket; b++) {
			acc += h->b[b];
			if (acc >= rank)
				break;
		}
	} else {
		/* the rank-th smallest is the (n - rank + 1)-th largest */
		uint64_t want = n - rank + 1;

		acc = 0;
		for (b = h->hi_bucket; b > h->lo_bucket; b--) {
			acc += h->b[b];
			if (acc >= want)
				break;
		}
	}
	v = alt_hist_bucket_mid(b);
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

/* ------------------------------------------------------------------ */
/* alt_stats layout                                                    */
/* ------------------------------------------------------------------ */

#define STATS_MAX_DROPS 32
#define STATS_DROP_NAME 48
#define STATS_DROP_OTHER "<other>"
#define STATS_LIMIT (1u << 24)  /* per-table bound, keeps index math in 32 bits */

struct op_slot {                /* op index entry: idx1 == 0 is empty */
	uint64_t sh;
	uint64_t oh;
	uint32_t idx1;
	uint32_t pad;
};

struct shape_slot {
	uint64_t shape;
	uint32_t idx1;
	uint32_t pad;
};

struct stats_str {
	uint64_t hash;
	uint32_t off;
	uint32_t len;
	uint32_t slot;          /* its index slot, for reset */
	uint32_t pad;
};

/* Id caches of the alt_intern front end (alt_stats_add_nodes): keyed by
 * the caller's pair of ids, linear probing; an entry is live while its gen
 * equals its cache's (entries of the zeroed block, gen 0, never are), so a
 * new generation empties a cache in O(1). They only remember where an
 * earlier span or pair with the same ids landed; the tables stay keyed by
 * string hashes. */
struct id_op_ent {
	uint64_t ids;           /* svc id << 32 | op id */
	uint32_t gen;
	uint32_t idx;           /* its op */
};

struct id_pair_ent {
	uint64_t ids;           /* caller id << 32 | callee id */
	uint64_t key;           /* pair_key of their hashes */
	uint32_t gen;
	uint32_t c;             /* counter that held key when last seen (a hint) */
};

struct stats_drop {
	char name[STATS_DROP_NAME];
	uint64_t count;
};

struct tk_cand {                /* merge scratch */
	uint64_t key;
	uint64_t count;
	uint64_t error;
	uint32_t a_id, b_id;    /* ids in the table named by from_src */
	uint32_t from_src;
	uint32_t pad;
};

struct alt_stats {
	struct alt_stats_params p;
	uint64_t epoch;
	struct alt_stats_counters c;
	struct alt_hist close_delay;    /* per closed trace: last record's arrival to closing */

	uint32_t op_mask, shape_mask, str_mask, tk_mask;
	uint32_t n_ops, n_shapes, n_str, n_tk;
	uint32_t str_used;      /* bytes used in str_bytes */
	uint32_t n_drops;

	struct alt_stats_op *ops;
	uint64_t (*op_keys)[2];         /* (svc_hash, op_hash) of each op */
	uint32_t *op_pos;               /* op -> its slot */
	struct op_slot *op_tab;

	struct alt_stats_shape *shapes;
	uint32_t *shape_pos;
	struct shape_slot *shape_tab;

	struct stats_str *strs;
	uint32_t *str_tab;              /* id + 1, 0 empty */
	char *str_bytes;

	struct alt_topk_item *tk;       /* counters, unordered */
	uint32_t *tk_heap;              /* min-heap of counter indexes by count */
	uint32_t *tk_hpos;              /* counter -> heap position */
	uint32_t *tk_tab;               /* key index: counter + 1, 0 empty */
	struct tk_cand *tk_scratch;

	/* alt_intern front end */
	const struct alt_intern *id_ns; /* the table the cached ids belong to */
	uint32_t id_op_gen, id_pair_gen;        /* current generations, never 0 */
	uint32_t id_op_used, id_pair_used;      /* live entries */
	uint32_t id_op_mask, id_pair_mask;
	struct id_op_ent *id_ops;
	struct id_pair_ent *id_pairs;

	struct stats_drop drops[STATS_MAX_DROPS];
};

/* Hash table slots: a power of two, at least 4. */
static inline uint32_t
stats_pow2(uint32_t n)
{
	return alt_pow2_at_least(n < 4 ? 4 : n);
}

static bool
params_ok(const struct alt_stats_params *p)
{
	return p->max_ops >= 1 && p->max_ops <= STATS_LIMIT &&
	       p->max_shapes >= 1 && p->max_shapes <= STATS_LIMIT &&
	       p->topk >= 1 && p->topk <= STATS_LIMIT &&
	       p->max_strings >= 2 && p->max_strings <= STATS_LIMIT &&
	       p->string_bytes >= 2 && p->string_bytes <= (1u << 30);
}

/* Offsets of every region from the block start; returns the total. */
static size_t
stats_layout(const struct alt_stats_params *p, struct alt_stats *st, uint8_t *base)
{
	uint32_t op_slots = stats_pow2(2 * p->max_ops);
	uint32_t shape_slots = stats_pow2(2 * p->max_shapes);
	uint32_t str_slots = stats_pow2(2 * p->max_strings);
	uint32_t tk_slots = stats_pow2(2 * p->topk);
	/* id caches: ops that can be cached are at most max_ops, pairs are not
	 * bounded (a full cache starts over): at least half of each stays free */
	uint32_t id_op_slots = stats_pow2(p->max_ops < 8192 ? 2 * p->max_ops : 16384);
	uint32_t id_pair_slots = stats_pow2(p->topk < 512 ? 8 * p->topk : 4096);
	size_t off = alt_align64(sizeof(struct alt_stats));

#define STATS_REGION(field, type, n) do { \
		if (st != NULL) \
			st->field = (type)(void *)(base + off); \
		off = alt_align64(off + (size_t)(n)); \
	} while (0)

	STATS_REGION(ops, struct alt_stats_op *, sizeof(struct alt_stats_op) * p->max_ops);
	STATS_REGION(op_keys, uint64_t (*)[2], 16u * p->max_ops);
	STATS_REGION(op_pos, uint32_t *, 4u * p->max_ops);
	STATS_REGION(op_tab, struct op_slot *, sizeof(struct op_slot) * op_slots);
	STATS_REGION(shapes, struct alt_stats_shape *, sizeof(struct alt_stats_shape) * p->max_shapes);
	STATS_REGION(shape_pos, uint32_t *, 4u * p->max_shapes);
	STATS_REGION(shape_tab, struct shape_slot *, sizeof(struct shape_slot) * shape_slots);
	STATS_REGION(strs, struct stats_str *, sizeof(struct stats_str) * p->max_strings);
	STATS_REGION(str_tab, uint32_t *, 4u * str_slots);
	STATS_REGION(str_bytes, char *, p->string_bytes);
	STATS_REGION(tk, struct alt_topk_item *, sizeof(struct alt_topk_item) * p->topk);
	STATS_REGION(tk_heap, uint32_t *, 4u * p->topk);
	STATS_REGION(tk_hpos, uint32_t *, 4u * p->topk);
	STATS_REGION(tk_tab, uint32_t *, 4u * tk_slots);
	STATS_REGION(tk_scratch, struct tk_cand *, sizeof(struct tk_cand) * p->topk);
	STATS_REGION(id_ops, struct id_op_ent *, sizeof(struct id_op_ent) * id_op_slots);
	STATS_REGION(id_pairs, struct id_pair_ent *, sizeof(struct id_pair_ent) * id_pair_slots);
#undef STATS_REGION

	if (st != NULL) {
		st->op_mask = op_slots - 1;
		st->shape_mask = shape_slots - 1;
		st->str_mask = str_slots - 1;
		st->tk_mask = tk_slots - 1;
		st->id_op_mask = id_op_slots - 1;
		st->id_pair_mask = id_pair_slots - 1;
	}
	return off;
}

/* Fill p with the documented defaults. */
void
alt_stats_params_default(struct alt_stats_params *p)
{
	p->max_ops = 1024;
	p->max_shapes = 1024;
	p->topk = 64;
	p->max_strings = 4096;
	p->string_bytes = 256 * 1024;
}

/* Bytes of memory alt_stats_init needs for p (NULL: defaults); 0 if p is
 * invalid (a zero table size, max_strings or string_bytes below 2, or a
 * table above 16M entries). */
size_t
alt_stats_memsize(const struct alt_stats_params *p)
{
	struct alt_stats_params d;

	if (p == NULL) {
		alt_stats_params_default(&d);
		p = &d;
	}
	if (!params_ok(p))
		return 0;
	return stats_layout(p, NULL, NULL);
}

/* Lay out an empty alt_stats (epoch 0) on mem: alt_stats_memsize(p) bytes,
 * 8-byte aligned (64 is best). Zeroes the whole block once; later resets
 * only clear what was used. The block holds internal pointers: do not move
 * it. NULL if mem or p is invalid. */
struct alt_stats *
alt_stats_init(void *mem, const struct alt_stats_params *p)
{
	struct alt_stats_params d;
	struct alt_stats *st = mem;
	size_t sz;

	if (p == NULL) {
		alt_stats_params_default(&d);
		p = &d;
	}
	if (mem == NULL || ((uintptr_t)mem & 7) != 0 || !params_ok(p))
		return NULL;
	sz = stats_layout(p, NULL, NULL);
	memset(mem, 0, sz);
	st->p = *p;
	stats_layout(p, st, mem);
	st->n_str = 1;          /* id 0: the empty string */
	st->id_op_gen = 1;
	st->id_pair_gen = 1;
	return st;
}

/* ---- string table ---- */

static inline uint32_t
str_find(const struct alt_stats *st, const char *s, uint32_t len, uint64_t hash, uint32_t *slot)
{
	uint32_t i = (uint32_t)alt_mix64(hash) & st->str_mask;

	for (;; i = (i + 1) & st->str_mask) {
		uint32_t id1 = st->str_tab[i];

		if (id1 == 0) {
			*slot = i;
			return 0;
		}
		const struct stats_str *e = &st->strs[id1 - 1];
		if (e->hash == hash && e->len == len &&
		    memcmp(st->str_bytes + e->off, s, len) == 0)
			return id1 - 1;        /* never 0: "" is not indexed */
	}
}

/* Id of the string (interning it); UINT32_MAX when the table is full
 * (counted in strings_overflow). hash is alt_hash_bytes(s, len, 0). */
static uint32_t
str_get(struct alt_stats *st, const char *s, uint32_t len, uint64_t hash)
{
	uint32_t slot = 0, id;
	struct stats_str *e;

	if (len == 0)
		return 0;
	id = str_find(st, s, len, hash, &slot);
	if (id != 0)
		return id;
	if (st->n_str >= st->p.max_strings ||
	    (uint64_t)st->str_used + len + 1 > st->p.string_bytes) {
		st->c.strings_overflow++;
		return UINT32_MAX;
	}
	id = st->n_str++;
	e = &st->strs[id];
	e->hash = hash;
	e->off = st->str_used;
	e->len = len;
	e->slot = slot;
	memcpy(st->str_bytes + e->off, s, len);
	st->str_bytes[e->off + len] = '\0';
	st->str_used += len + 1;
	st->str_tab[slot] = id + 1;
	return id;
}

/* Interned string of another table into this one. */
static uint32_t
str_import(struct alt_stats *st, const struct alt_stats *src, uint32_t id)
{
	const struct stats_str *e;

	if (id == 0 || id >= src->n_str)
		return 0;
	e = &src->strs[id];
	return str_get(st, src->str_bytes + e->off, e->len, e->hash);
}

/* NUL-terminated string of id; "" for id 0 or an unknown id. */
const char *
alt_stats_str(const struct alt_stats *st, uint32_t id)
{
	if (id == 0 || id >= st->n_str)
		return "";
	return st->str_bytes + st->strs[id].off;
}

/* ---- reset ---- */

/* Empty an id cache: a new generation (O(1)); on the rare wrap to 0 it
 * is cleared for real so that no old entry comes back to life. */
static void
id_ops_flush(struct alt_stats *st)
{
	st->id_op_used = 0;
	if (alt_unlikely(++st->id_op_gen == 0)) {
		memset(st->id_ops, 0, sizeof(st->id_ops[0]) * ((size_t)st->id_op_mask + 1));
		st->id_op_gen = 1;
	}
}

static void
id_pairs_flush(struct alt_stats *st)
{
	st->id_pair_used = 0;
	if (alt_unlikely(++st->id_pair_gen == 0)) {
		memset(st->id_pairs, 0, sizeof(st->id_pairs[0]) * ((size_t)st->id_pair_mask + 1));
		st->id_pair_gen = 1;
	}
}

static void
id_cache_flush(struct alt_stats *st)
{
	id_ops_flush(st);
	id_pairs_flush(st);
}

static void
topk_clear(struct alt_stats *st)
{
	uint32_t i;

	/* the key index is small (2k..4k slots): clear it whole if used */
	if (st->n_tk != 0)
		for (i = 0; i <= st->tk_mask; i++)
			st->tk_tab[i] = 0;
	memset(st->tk, 0, sizeof(st->tk[0]) * st->n_tk);
	st->n_tk = 0;
}

/* Empty st for epoch `epoch`: costs O(what was used) — each used histogram
 * clears only its used bucket range and each index clears only its used
 * slots — not O(memsize). */
void
alt_stats_reset(struct alt_stats *st, uint64_t epoch)
{
	uint32_t i;

	for (i = 0; i < st->n_ops; i++) {
		st->op_tab[st->op_pos[i]].idx1 = 0;
		st->ops[i].service = 0;
		st->ops[i].operation = 0;
		hist_clear_used(&st->ops[i].h);
	}
	st->n_ops = 0;
	for (i = 0; i < st->n_shapes; i++) {
		st->shape_tab[st->shape_pos[i]].idx1 = 0;
		st->shapes[i].shape = 0;
		st->shapes[i].count = 0;
		hist_clear_used(&st->shapes[i].h);
	}
	st->n_shapes = 0;
	for (i = 1; i < st->n_str; i++)
		st->str_tab[st->strs[i].slot] = 0;
	st->n_str = 1;
	st->str_used = 0;
	topk_clear(st);
	memset(st->drops, 0, sizeof(st->drops[0]) * st->n_drops);
	st->n_drops = 0;
	memset(&st->c, 0, sizeof(st->c));
	hist_clear_used(&st->close_delay);
	id_cache_flush(st);     /* the ops and counters they point at are gone */
	st->epoch = epoch;
}

uint64_t
alt_stats_epoch(const struct alt_stats *st)
{
	return st->epoch;
}

struct alt_stats_counters *
alt_stats_counters(struct alt_stats *st)
{
	return &st->c;
}

const struct alt_stats_counters *
alt_stats_counters_const(const struct alt_stats *st)
{
	return &st->c;
}

/* ---- drops ---- */

static struct stats_drop *
drop_find(struct alt_stats *st, const char *name)
{
	uint32_t i;

	for (i = 0; i < st->n_drops; i++)
		if (strcmp(st->drops[i].name, name) == 0)
			return &st->drops[i];
	return NULL;
}

static struct stats_drop *
drop_slot(struct alt_stats *st, const char *reason)
{
	char name[STATS_DROP_NAME];
	struct stats_drop *d;

	snprintf(name, sizeof(name), "%s", reason != NULL ? reason : "");
	d = drop_find(st, name);
	if (d != NULL)
		return d;
	if (st->n_drops >= STATS_MAX_DROPS - 1) {
		/* the last slot is kept for "<other>" */
		d = drop_find(st, STATS_DROP_OTHER);
		if (d != NULL)
			return d;
		snprintf(name, sizeof(name), "%s", STATS_DROP_OTHER);
	}
	d = &st->drops[st->n_drops++];
	memcpy(d->name, name, sizeof(name));
	return d;
}

/* Add n to the drop counter named reason (copied, truncated to 47 bytes).
 * At most 32 names: past 31 distinct reasons the rest add up under
 * "<other>". */
void
alt_stats_add_dropped(struct alt_stats *st, const char *reason, uint64_t n)
{
	drop_slot(st, reason)->count += n;
}

/* Number of distinct reasons; names/counts filled up to cap (either may be
 * NULL when cap is 0). Names valid until the next reset. */
unsigned
alt_stats_dropped(const struct alt_stats *st, const char **names, uint64_t *counts, unsigned cap)
{
	uint32_t i;

	for (i = 0; i < st->n_drops && i < cap; i++) {
		if (names != NULL)
			names[i] = st->drops[i].name;
		if (counts != NULL)
			counts[i] = st->drops[i].count;
	}
	return st->n_drops;
}

/* ---- op table ---- */

static inline uint64_t
op_hash(uint64_t sh, uint64_t oh)
{
	return alt_mix64(sh ^ alt_mix64(oh ^ 0x2545f4914f6cdd1dULL));
}

/* Index of the op keyed (sh, oh), or UINT32_MAX with *slot set to the empty
 * index slot where it would go. */
static inline uint32_t
op_find(const struct alt_stats *st, uint64_t sh, uint64_t oh, uint32_t *slot)
{
	uint32_t i = (uint32_t)op_hash(sh, oh) & st->op_mask;

	for (;; i = (i + 1) & st->op_mask) {
		const struct op_slot *s = &st->op_tab[i];

		if (s->idx1 == 0)
			break;
		if (s->sh == sh && s->oh == oh)
			return s->idx1 - 1;
	}
	*slot = i;
	return UINT32_MAX;
}

/* New op (sh, oh) at empty index slot `slot` with the given string ids;
 * UINT32_MAX when a string did not fit (str_get counted it). */
static uint32_t
op_insert(struct alt_stats *st, uint64_t sh, uint64_t oh, uint32_t slot, uint32_t sid, uint32_t oid)
{
	struct op_slot *s = &st->op_tab[slot];

	if (sid == UINT32_MAX || oid == UINT32_MAX)
		return UINT32_MAX;
	uint32_t idx = st->n_ops++;
	struct alt_stats_op *o = &st->ops[idx];

	o->service = sid;
	o->operation = oid;
	st->op_keys[idx][0] = sh;
	st->op_keys[idx][1] = oh;
	st->op_pos[idx] = slot;
	s->sh = sh;
	s->oh = oh;
	s->idx1 = idx + 1;
	return idx;
}

/* The op keyed (sh, oh), created with the given strings if absent; NULL when
 * a table is full (counted). Identity is the pair of string hashes. */
static struct alt_stats_op *
op_get(struct alt_stats *st, uint64_t sh, uint64_t oh,
       const char *svc, uint32_t svc_len, const char *op, uint32_t op_len,
       const struct alt_stats *src, uint32_t src_svc, uint32_t src_op, uint64_t n)
{
	uint32_t slot = 0, idx = op_find(st, sh, oh, &slot);

	if (idx != UINT32_MAX)
		return &st->ops[idx];
	if (st->n_ops >= st->p.max_ops) {
		st->c.ops_overflow += n;
		return NULL;
	}
	uint32_t sid, oid;
	if (src != NULL) {
		sid = str_import(st, src, src_svc);
		oid = str_import(st, src, src_op);
	} else {
		sid = str_get(st, svc, svc_len, sh);
		oid = str_get(st, op, op_len, oh);
	}
	idx = op_insert(st, sh, oh, slot, sid, oid);
	return idx != UINT32_MAX ? &st->ops[idx] : NULL;
}

/* Record one span's latency under (svc, op). Hashes must be
 * alt_hash_bytes(.., 0) of the strings: the pair of hashes is the op's
 * identity. A full op table counts the span in ops_overflow; a full string
 * table counts strings_overflow and drops the span. */
void
alt_stats_add_span(struct alt_stats *st, const char *svc, uint32_t svc_len, uint64_t svc_hash,
		   const char *op, uint32_t op_len, uint64_t op_hash_, uint64_t duration_ns)
{
	struct alt_stats_op *o = op_get(st, svc_hash, op_hash_, svc, svc_len, op, op_len,
					NULL, 0, 0, 1);

	if (alt_likely(o != NULL))
		hist_add(&o->h, duration_ns);
}

/* ---- shape table ---- */

static struct alt_stats_shape *
shape_get(struct alt_stats *st, uint64_t shape, uint64_t n)
{
	uint32_t i = (uint32_t)alt_mix64(shape ^ 0x7f4a7c159e3779b9ULL) & st->shape_mask;
	struct shape_slot *s;

	for (;; i = (i + 1) & st->shape_mask) {
		s = &st->shape_tab[i];
		if (s->idx1 == 0)
			break;
		if (s->shape == shape)
			return &st->shapes[s->idx1 - 1];
	}
	if (st->n_shapes >= st->p.max_shapes) {
		st->c.shapes_overflow += n;
		return NULL;
	}
	uint32_t idx = st->n_shapes++;
	struct alt_stats_shape *sh = &st->shapes[idx];

	sh->shape = shape;
	st->shape_pos[idx] = i;
	s->shape = shape;
	s->idx1 = idx + 1;
	return sh;
}

/* Count one closed trace of this shape and record its duration; a full
 * shape table counts it in shapes_overflow. */
void
alt_stats_add_trace(struct alt_stats *st, uint64_t shape, uint64_t duration_ns)
{
	struct alt_stats_shape *s = shape_get(st, shape, 1);

	if (alt_likely(s != NULL)) {
		s->count++;
		hist_add(&s->h, duration_ns);
	}
}

/* ---- Space-Saving ---- */

static inline uint64_t
pair_key(uint64_t a, uint64_t b)
{
	/* ordered: a -> b and b -> a differ */
	return alt_mix64(a ^ alt_mix64(b + 0x9e3779b97f4a7c15ULL));
}

static inline uint32_t
tk_slot_of(const struct alt_stats *st, uint64_t key)
{
	return (uint32_t)(key ^ (key >> 32)) & st->tk_mask;
}

/* Counter index of key, or UINT32_MAX. */
static inline uint32_t
tk_find(const struct alt_stats *st, uint64_t key)
{
	uint32_t i = tk_slot_of(st, key);

	for (;; i = (i + 1) & st->tk_mask) {
		uint32_t c1 = st->tk_tab[i];

		if (c1 == 0)
			return UINT32_MAX;
		if (st->tk[c1 - 1].key == key)
			return c1 - 1;
	}
}

static void
tk_index_put(struct alt_stats *st, uint32_t c)
{
	uint32_t i = tk_slot_of(st, st->tk[c].key);

	while (st->tk_tab[i] != 0)
		i = (i + 1) & st->tk_mask;
	st->tk_tab[i] = c + 1;
}

/* Remove key from the linear-probing index (backward-shift deletion). */
static void
tk_index_del(struct alt_stats *st, uint64_t key)
{
	uint32_t m = st->tk_mask;
	uint32_t i = tk_slot_of(st, key), j;

	while (st->tk[st->tk_tab[i] - 1].key != key)
		i = (i + 1) & m;
	j = i;
	for (;;) {
		j = (j + 1) & m;
		if (st->tk_tab[j] == 0)
			break;
		uint32_t home = tk_slot_of(st, st->tk[st->tk_tab[j] - 1].key);
		/* move j into the hole at i unless its home lies in (i, j] */
		if (((j - home) & m) >= ((j - i) & m)) {
			st->tk_tab[i] = st->tk_tab[j];
			i = j;
		}
	}
	st->tk_tab[i] = 0;
}

static inline void
tk_heap_set(struct alt_stats *st, uint32_t pos, uint32_t c)
{
	st->tk_heap[pos] = c;
	st->tk_hpos[c] = pos;
}

static void
tk_sift_down(struct alt_stats *st, uint32_t pos)
{
	uint32_t n = st->n_tk, c = st->tk_heap[pos];
	uint64_t v = st->tk[c].count;

	for (;;) {
		uint32_t l = 2 * pos + 1, best;

		if (l >= n)
			break;
		best = l;
		if (l + 1 < n && st->tk[st->tk_heap[l + 1]].count < st->tk[st->tk_heap[l]].count)
			best = l + 1;
		if (st->tk[st->tk_heap[best]].count >= v)
			break;
		tk_heap_set(st, pos, st->tk_heap[best]);
		pos = best;
	}
	tk_heap_set(st, pos, c);
}

static void
tk_sift_up(struct alt_stats *st, uint32_t pos)
{
	uint32_t c = st->tk_heap[pos];
	uint64_t v = st->tk[c].count;

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (st->tk[st->tk_heap[parent]].count <= v)
			break;
		tk_heap_set(st, pos, st->tk_heap[parent]);
		pos = parent;
	}
	tk_heap_set(st, pos, c);
}

/* Minimum counter when the summary is full, else 0 (then it is exact). */
static inline uint64_t
tk_fill(const struct alt_stats *st)
{
	return st->n_tk == st->p.topk ? st->tk[st->tk_heap[0]].count : 0;
}

/* One hit on present counter c: it grows by one and sinks down the
 * min-heap (tk_sift_down). Most hits leave it in place: the test for that,
 * tk_sift_down's first step, is done here, inline. */
static inline void
tk_hit(struct alt_stats *st, uint32_t c)
{
	uint32_t pos = st->tk_hpos[c], l = 2 * pos + 1, nt = st->n_tk;
	uint64_t v = ++st->tk[c].count, m;

	if (l >= nt)
		return;
	m = st->tk[st->tk_heap[l]].count;
	if (l + 1 < nt && st->tk[st->tk_heap[l + 1]].count < m)
		m = st->tk[st->tk_heap[l + 1]].count;
	if (m < v)
		tk_sift_down(st, pos);
}

/* One call caller -> callee whose key is not in the summary: with both
 * names interned it takes a counter (a free one, else the minimum, with
 * error = that minimum). Returns the counter, UINT32_MAX when a name did
 * not fit (strings_overflow). */
static uint32_t
tk_insert(struct alt_stats *st, uint64_t key, const char *caller, uint32_t caller_len, uint64_t caller_hash,
	  const char *callee, uint32_t callee_len, uint64_t callee_hash)
{
	uint32_t c, a_id, b_id;
	struct alt_topk_item *it;

	a_id = str_get(st, caller, caller_len, caller_hash);
	b_id = str_get(st, callee, callee_len, callee_hash);
	if (a_id == UINT32_MAX || b_id == UINT32_MAX)
		return UINT32_MAX;
	if (st->n_tk < st->p.topk) {
		c = st->n_tk++;
		it = &st->tk[c];
		it->key = key;
		it->count = 1;
		it->error = 0;
		it->a_id = a_id;
		it->b_id = b_id;
		tk_index_put(st, c);
		tk_heap_set(st, c, c);
		tk_sift_up(st, c);
		return c;
	}
	c = st->tk_heap[0];
	it = &st->tk[c];
	tk_index_del(st, it->key);
	it->error = it->count;
	it->count++;
	it->key = key;
	it->a_id = a_id;
	it->b_id = b_id;
	tk_index_put(st, c);
	tk_sift_down(st, 0);
	return c;
}

/* Count one call caller -> callee (Space-Saving, O(log k): a hit sifts its
 * counter down the min-heap; a miss on a full summary takes over the
 * minimum counter, with error = that minimum). A pair whose caller equals
 * callee is ignored. Names are interned only when a pair takes a counter;
 * a full string table drops the pair (strings_overflow). */
void
alt_stats_add_pair(struct alt_stats *st, const char *caller, uint32_t caller_len, uint64_t caller_hash,
		   const char *callee, uint32_t callee_len, uint64_t callee_hash)
{
	uint64_t key;
	uint32_t c;

	if (caller_hash == callee_hash && caller_len == callee_len &&
	    memcmp(caller, callee, caller_len) == 0)
		return;
	key = pair_key(caller_hash, callee_hash);
	c = tk_find(st, key);
	if (c != UINT32_MAX) {
		tk_hit(st, c);
		return;
	}
	tk_insert(st, key, caller, caller_len, caller_hash, callee, callee_len, callee_hash);
}

static inline bool
cand_less(const struct tk_cand *a, const struct tk_cand *b)
{
	return a->count < b->count;
}

static void
cand_sift_down(struct tk_cand *h, uint32_t n, uint32_t pos)
{
	struct tk_cand x = h[pos];

	for (;;) {
		uint32_t l = 2 * pos + 1, best;

		if (l >= n)
			break;
		best = l;
		if (l + 1 < n && cand_less(&h[l + 1], &h[l]))
			best = l + 1;
		if (!cand_less(&h[best], &x))
			break;
		h[pos] = h[best];
		pos = best;
	}
	h[pos] = x;
}

/* Space-Saving merge (the mergeable-summaries construction of Agarwal et
 * al.): every key of either summary gets count = c_dst + c_src and
 * error = e_dst + e_src, where a side that lacks the key contributes its
 * minimum counter to both if it was full (a full summary bounds every
 * absent key by its minimum) and 0 if not (a summary that never filled is
 * exact). The k largest are kept (k of dst).
 * Guarantee, with N the total of pairs counted into both inputs: for every
 * kept key, true <= count <= true + N/k and count - error <= true; any key
 * whose true count exceeds N/k (indeed exceeds the new minimum) is kept.
 * The kept counts sum to at most N, so the new minimum stays <= N/k. */
static void
topk_merge(struct alt_stats *dst, const struct alt_stats *src)
{
	uint64_t fill_dst = tk_fill(dst), fill_src = tk_fill(src);
	uint32_t k = dst->p.topk, n = 0, i;
	struct tk_cand *cd = dst->tk_scratch;
	bool heaped = false;

	if (src->n_tk == 0)
		return;
	for (i = 0; i < dst->n_tk; i++) {
		const struct alt_topk_item *it = &dst->tk[i];
		uint32_t j = tk_find(src, it->key);
		struct tk_cand *x = &cd[n++];

		x->key = it->key;
		x->a_id = it->a_id;
		x->b_id = it->b_id;
		x->from_src = 0;
		if (j != UINT32_MAX) {
			x->count = it->count + src->tk[j].count;
			x->error = it->error + src->tk[j].error;
		} else {
			x->count = it->count + fill_src;
			x->error = it->error + fill_src;
		}
	}
	for (i = 0; i < src->n_tk; i++) {
		const struct alt_topk_item *it = &src->tk[i];
		struct tk_cand x;

		if (tk_find(dst, it->key) != UINT32_MAX)
			continue;
		x.key = it->key;
		x.count = it->count + fill_dst;
		x.error = it->error + fill_dst;
		x.a_id = it->a_id;
		x.b_id = it->b_id;
		x.from_src = 1;
		x.pad = 0;
		if (n < k) {
			cd[n++] = x;
			continue;
		}
		if (!heaped) {
			uint32_t p;

			for (p = n / 2; p-- > 0;)
				cand_sift_down(cd, n, p);
			heaped = true;
		}
		if (cand_less(&cd[0], &x)) {
			cd[0] = x;
			cand_sift_down(cd, n, 0);
		}
	}
	/* rebuild dst's counters, index and heap from the kept candidates */
	topk_clear(dst);
	for (i = 0; i < n; i++) {
		struct alt_topk_item *it = &dst->tk[i];

		it->key = cd[i].key;
		it->count = cd[i].count;
		it->error = cd[i].error;
		if (cd[i].from_src) {
			uint32_t a = str_import(dst, src, cd[i].a_id);
			uint32_t b = str_import(dst, src, cd[i].b_id);

			it->a_id = a == UINT32_MAX ? 0 : a;
			it->b_id = b == UINT32_MAX ? 0 : b;
		} else {
			it->a_id = cd[i].a_id;
			it->b_id = cd[i].b_id;
		}
		dst->tk_heap[i] = i;
		dst->tk_hpos[i] = i;
		tk_index_put(dst, i);
	}
	dst->n_tk = n;
	for (i = n / 2; i-- > 0;)
		tk_sift_down(dst, i);
}

/* ---- alt_intern front end: a trace's nodes in one call ----
 * The pipeline holds names as alt_intern ids. Each span and each pair is
 * looked up by its pair of ids in a small hash cache of this object (struct
 * id_op_ent, id_pair_ent); a hit goes straight to the op's histogram or
 * the pair's counter, without fetching the strings or their hashes
 * (out-of-line calls), hashing the pair of hashes or probing the keyed
 * tables. A miss resolves the ids (hashes, then the strings only if
 * something is created), runs the same table code as the string calls, in
 * the same order, and fills the entry. Entries are dropped by reset (a new
 * generation) and when another intern table is passed; ops never move
 * until reset, and a counter index is only a hint, checked against the
 * pair's key (evictions and merges move keys). Entries are made only for
 * ids the table has issued: a larger id reads as "<overflow>" now but may
 * name another string later. A name the string table cannot take, or an op
 * the op table cannot take, is never cached: such calls take the miss path
 * every time and count their overflow there, as the string calls do. */

static inline uint32_t
id_slot(uint64_t ids)
{
	/* the high half of the product mixes both ids */
	return (uint32_t)((ids * 0x9e3779b97f4a7c15ULL) >> 32);
}

static bool
id_cacheable(const struct alt_intern *in, uint32_t a, uint32_t b)
{
	uint32_t n = alt_intern_count(in);

	return a < n && b < n;
}

/* Live op cache entry of ids, or NULL with *free_slot at the free slot that
 * ends its probe. */
static inline struct id_op_ent *
id_op_find(const struct alt_stats *st, uint64_t ids, uint32_t *free_slot)
{
	uint32_t i = id_slot(ids) & st->id_op_mask, gen = st->id_op_gen;

	for (;; i = (i + 1) & st->id_op_mask) {
		struct id_op_ent *e = &st->id_ops[i];

		if (e->gen != gen) {
			*free_slot = i;
			return NULL;
		}
		if (e->ids == ids)
			return e;
	}
}

static inline struct id_pair_ent *
id_pair_find(const struct alt_stats *st, uint64_t ids, uint32_t *free_slot)
{
	uint32_t i = id_slot(ids) & st->id_pair_mask, gen = st->id_pair_gen;

	for (;; i = (i + 1) & st->id_pair_mask) {
		struct id_pair_ent *e = &st->id_pairs[i];

		if (e->gen != gen) {
			*free_slot = i;
			return NULL;
		}
		if (e->ids == ids)
			return e;
	}
}

/* alt_stats_add_span of ids (svc, op), not in the op cache (free_slot ends
 * its probe). Out of line and cold: inlined, its register needs would
 * burden the hit path. */
static __attribute__((noinline, cold)) void
span_id_miss(struct alt_stats *st, uint32_t svc, uint32_t op, uint64_t duration_ns, uint32_t free_slot)
{
	const struct alt_intern *in = st->id_ns;
	uint64_t sh, oh;
	uint32_t slot = 0, idx;
	struct id_op_ent *e;

	sh = alt_intern_hash(in, svc);
	oh = alt_intern_hash(in, op);
	idx = op_find(st, sh, oh, &slot);
	if (idx == UINT32_MAX) {
		uint32_t sl, ol, sid, oid;
		const char *s, *o;

		if (st->n_ops >= st->p.max_ops) {
			st->c.ops_overflow++;
			return;
		}
		s = alt_intern_str(in, svc, &sl);
		o = alt_intern_str(in, op, &ol);
		sid = str_get(st, s, sl, sh);   /* service first, as op_get */
		oid = str_get(st, o, ol, oh);
		idx = op_insert(st, sh, oh, slot, sid, oid);
		if (idx == UINT32_MAX)
			return;
	}
	hist_add(&st->ops[idx].h, duration_ns);
	if (!id_cacheable(in, svc, op))
		return;
	if (st->id_op_used >= (st->id_op_mask + 1) / 2) {
		id_ops_flush(st);
		free_slot = id_slot((uint64_t)svc << 32 | op) & st->id_op_mask;
	}
	e = &st->id_ops[free_slot];
	e->ids = (uint64_t)svc << 32 | op;
	e->gen = st->id_op_gen;
	e->idx = idx;
	st->id_op_used++;
}

/* pair_id's miss: e is the pair cache entry of the ids with a stale
 * counter hint, or NULL when they have none (free_slot ends their probe). */
static __attribute__((noinline, cold)) void
pair_id_miss(struct alt_stats *st, uint32_t caller, uint32_t callee, struct id_pair_ent *e,
	     uint32_t free_slot)
{
	const struct alt_intern *in = st->id_ns;
	uint64_t ids = (uint64_t)caller << 32 | callee;
	uint64_t ha, hb, key;
	uint32_t c, al = 0, bl = 0;
	const char *a = NULL, *b = NULL;

	ha = alt_intern_hash(in, caller);
	hb = alt_intern_hash(in, callee);
	if (e == NULL) {
		if (ha == hb) {
			a = alt_intern_str(in, caller, &al);
			b = alt_intern_str(in, callee, &bl);
			if (al == bl && memcmp(a, b, al) == 0)
				return;         /* same name: ignored, never cached */
		}
		key = pair_key(ha, hb);
		if (id_cacheable(in, caller, callee)) {
			if (st->id_pair_used >= (st->id_pair_mask + 1) / 2) {
				id_pairs_flush(st);
				free_slot = id_slot(ids) & st->id_pair_mask;
			}
			e = &st->id_pairs[free_slot];
			e->ids = ids;
			e->key = key;
			e->gen = st->id_pair_gen;
			st->id_pair_used++;
		}
	} else
		key = e->key;
	c = tk_find(st, key);
	if (c != UINT32_MAX)
		tk_hit(st, c);
	else {
		if (a == NULL) {
			a = alt_intern_str(in, caller, &al);
			b = alt_intern_str(in, callee, &bl);
		}
		c = tk_insert(st, key, a, al, ha, b, bl, hb);
	}
	if (e != NULL)
		e->c = c;
}

/* alt_stats_add_pair of ids caller != callee. */
static inline void
pair_id(struct alt_stats *st, uint32_t caller, uint32_t callee)
{
	uint64_t ids = (uint64_t)caller << 32 | callee;
	uint32_t free_slot = 0;
	struct id_pair_ent *e = id_pair_find(st, ids, &free_slot);

	if (alt_likely(e != NULL)) {
		uint32_t c = e->c;

		if (alt_likely(c < st->n_tk && st->tk[c].key == e->key)) {
			tk_hit(st, c);
			return;
		}
	}
	pair_id_miss(st, caller, callee, e, free_slot);
}

/* Spans and pairs are handled one by one in node order, as the string
 * calls would be: merging a trace's repeated pairs into fewer, weighted
 * calls was measured and did not pay (the first of them must still come in
 * order, as it may intern names). */
void
alt_stats_add_nodes(struct alt_stats *st, const struct alt_intern *in, struct alt_node *const *v,
		    uint32_t n, const uint32_t *par_off, const uint32_t *par)
{
	const uint32_t *pp, *po = par_off + 1;

	if (n == 0)
		return;
	if (st->id_ns != in) {
		id_cache_flush(st);
		st->id_ns = in;
	}
	/* pointers rather than indexes, and `in` read back from st by the
	 * misses: fewer live values, fewer spills in this loop */
	pp = par + par_off[0];
	for (struct alt_node *const *vp = v, *const *vend = v + n; vp < vend; vp++, po++) {
		const struct alt_node *x = *vp;
		uint32_t sid = x->service_id;

		if (x->kind == ALT_KIND_SPAN) {
			uint64_t ids = (uint64_t)sid << 32 | x->operation_id;
			uint32_t free_slot = 0;
			const struct id_op_ent *o = id_op_find(st, ids, &free_slot);

			if (alt_likely(o != NULL))
				hist_add(&st->ops[o->idx].h, x->duration_ns);
			else
				span_id_miss(st, sid, x->operation_id, x->duration_ns, free_slot);
		}
		/* CSR: node i's parents follow node i - 1's (pp is at par_off[i]) */
		for (const uint32_t *pend = par + *po; pp < pend; pp++) {
			uint32_t psid = v[*pp]->service_id;

			if (psid != sid)        /* same id, same name: add_pair ignores it */
				pair_id(st, psid, sid);
		}
	}
}

/* dst += src: op and shape histograms by key (names re-interned in dst;
 * what does not fit is counted in dst's overflow counters), shape counts,
 * counters (all fields summed), drops by name, top-k per the Space-Saving
 * merge above. dst and src must differ; their params may differ. */
void
alt_stats_merge(struct alt_stats *dst, const struct alt_stats *src)
{
	const struct alt_stats_counters *sc = &src->c;
	uint32_t i;

	if (dst == src)
		return;
	for (i = 0; i < src->n_ops; i++) {
		const struct alt_stats_op *so = &src->ops[i];
		struct alt_stats_op *o = op_get(dst, src->op_keys[i][0], src->op_keys[i][1],
						NULL, 0, NULL, 0, src, so->service, so->operation,
						so->h.count);

		if (o != NULL)
			alt_hist_merge(&o->h, &so->h);
	}
	for (i = 0; i < src->n_shapes; i++) {
		const struct alt_stats_shape *ss = &src->shapes[i];
		struct alt_stats_shape *s = shape_get(dst, ss->shape, ss->count);

		if (s != NULL) {
			s->count += ss->count;
			alt_hist_merge(&s->h, &ss->h);
		}
	}
	topk_merge(dst, src);
	for (i = 0; i < src->n_drops; i++)
		alt_stats_add_dropped(dst, src->drops[i].name, src->drops[i].count);
	dst->c.records += sc->records;
	dst->c.traces_closed += sc->traces_closed;
	dst->c.late += sc->late;
	dst->c.ops_overflow += sc->ops_overflow;
	dst->c.shapes_overflow += sc->shapes_overflow;
	dst->c.strings_overflow += sc->strings_overflow;
	dst->c.anomaly_checked += sc->anomaly_checked;
	dst->c.anomaly_traces += sc->anomaly_traces;
	dst->c.anomaly_shape += sc->anomaly_shape;
	dst->c.anomaly_edge += sc->anomaly_edge;
	dst->c.anomaly_latency += sc->anomaly_latency;
	alt_hist_merge(&dst->close_delay, &src->close_delay);
}

void
alt_stats_add_close_delay(struct alt_stats *st, uint64_t ns)
{
	alt_hist_add(&st->close_delay, ns);
}

const struct alt_hist *
alt_stats_close_delay(const struct alt_stats *st)
{
	return &st->close_delay;
}

/* ---- readers ---- */

/* Ops in insertion order; *ops valid until the next change. */
unsigned
alt_stats_ops(const struct alt_stats *st, const struct alt_stats_op **ops)
{
	if (ops != NULL)
		*ops = st->ops;
	return st->n_ops;
}

/* Shapes in insertion order; *shapes valid until the next change. */
unsigned
alt_stats_shapes(const struct alt_stats *st, const struct alt_stats_shape **shapes)
{
	if (shapes != NULL)
		*shapes = st->shapes;
	return st->n_shapes;
}

/* Order of the top pairs: count desc, caller name, callee name, key. */
static int
pair_cmp(const struct alt_stats *st, const struct alt_topk_item *a, const struct alt_topk_item *b)
{
	int r;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	r = strcmp(alt_stats_str(st, a->a_id), alt_stats_str(st, b->a_id));
	if (r != 0)
		return r;
	r = strcmp(alt_stats_str(st, a->b_id), alt_stats_str(st, b->b_id));
	if (r != 0)
		return r;
	return a->key < b->key ? -1 : (a->key > b->key);
}

/* The best min(cap, counters) pairs into out, sorted: count descending,
 * ties by caller then callee name. Insertion into out, O(k * cap). */
unsigned
alt_stats_top_pairs(const struct alt_stats *st, struct alt_topk_item *out, unsigned cap)
{
	unsigned n = 0, i, j;

	for (i = 0; i < st->n_tk; i++) {
		const struct alt_topk_item *it = &st->tk[i];

		if (n == cap && (n == 0 || pair_cmp(st, it, &out[n - 1]) >= 0))
			continue;
		j = n < cap ? n++ : n - 1;
		while (j > 0 && pair_cmp(st, it, &out[j - 1]) < 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = *it;
	}
	return n;
}
