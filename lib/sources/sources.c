/* SPDX-License-Identifier: BSD-3-Clause
 * Sources and the low watermark over them.
 *
 * Layout: an entry array (max_sources), an open-addressing index over it
 * (linear probing, backward-shift deletion, at least twice as many slots as
 * entries), a binary min-heap of the active entries keyed by progress, and
 * a list of every entry in order of last arrival (oldest first) that both
 * the idle scan and eviction walk from its head.
 *
 * Costs per datagram: one index probe, an O(1) list move and, for an
 * active source, a heap sift-down (progress only grows). The idle scan runs
 * at most every idle_min/8 of arrival time and looks only at the sources
 * quiet for at least idle_min (the head of the list).
 */
#include "alt_sources.h"

#include "alt_base.h"

#include <math.h>
#include <string.h>

#define NIL UINT32_MAX
#define LAG_TABLE 128           /* lag margins precomputed for this many batches */
#define BATCH_GAP 1000000ULL    /* payloads closer than 1 ms are one flush (one lag sample) */

struct src {
	uint64_t key;
	uint64_t max_ev;
	uint64_t first_arr;
	uint64_t last_arr;
	uint64_t max_pause;
	uint64_t timeout;
	uint64_t datagrams;
	uint64_t max_lag;       /* largest arrival - oldest event of a payload */
	uint64_t batches;       /* payloads more than BATCH_GAP after the one before */
	uint64_t max_dis;       /* largest disorder seen: newest event before a payload - its oldest */
	uint32_t heap_pos;      /* NIL: not active (idle or behind) */
	uint32_t prev, next;    /* arrival-order list */
	uint32_t pad;
};

struct alt_sources {
	struct alt_sources_params p;
	uint32_t cap;           /* entries */
	uint32_t used;          /* entries ever taken (< cap until full) */
	uint32_t mask;          /* index slots - 1 */
	uint32_t n_heap;
	uint32_t head, tail;    /* arrival-order list: oldest, newest */
	bool started;
	bool warm;
	uint64_t warm_end;
	uint64_t now;
	uint64_t wm;
	uint64_t high;          /* highest progress of any source */
	uint64_t quiet_since;   /* arrival time the last active source stopped holding */
	uint64_t quiet_base;    /* high at that time */
	uint64_t next_scan;
	uint64_t cache_at;      /* arrival time of the cached minimum */
	uint64_t cache_min;
	bool cache_ok;
	struct alt_sources_stats st;
	struct src *e;
	uint32_t *slot;         /* entry index + 1, 0 = empty */
	uint32_t *heap;
	uint32_t *stack;        /* heap walk */
	uint16_t lag_mul[LAG_TABLE];    /* margin on the largest lag after n payloads, x1024 */
};

void
alt_sources_params_default(struct alt_sources_params *p)
{
	memset(p, 0, sizeof(*p));
	p->max_sources = 4096;
	p->disorder_ns = 100ULL * 1000 * 1000;
	p->idle_min_ns = 250ULL * 1000 * 1000;
	p->idle_max_ns = 60ULL * 1000 * 1000 * 1000;
	p->idle_mult = 4;
	p->warmup_ns = 10ULL * 1000 * 1000 * 1000;
	p->lag_obs = 4;
}

static bool
params_ok(const struct alt_sources_params *p)
{
	return p != NULL && p->max_sources >= 1 && p->max_sources <= (1u << 24) &&
	       p->idle_mult >= 1 && p->idle_min_ns <= p->idle_max_ns;
}

/* Index slots: a power of two, at least twice the entries, at least 16. */
static uint32_t
slots_for(uint32_t n)
{
	return (uint32_t)alt_pow2_at_least(2ull * n < 16 ? 16 : 2ull * n);
}

size_t
alt_sources_memsize(const struct alt_sources_params *p)
{
	if (!params_ok(p))
		return 0;
	return alt_align64(sizeof(struct alt_sources)) + alt_align64(sizeof(struct src) * (size_t)p->max_sources) +
	       alt_align64(sizeof(uint32_t) * (size_t)slots_for(p->max_sources)) +
	       2 * alt_align64(sizeof(uint32_t) * (size_t)p->max_sources);
}

struct alt_sources *
alt_sources_init(void *mem, const struct alt_sources_params *p)
{
	struct alt_sources *s = mem;
	uint8_t *m = mem;
	uint32_t ns;

	if (!params_ok(p) || mem == NULL || ((uintptr_t)mem & 7u) != 0)
		return NULL;
	ns = slots_for(p->max_sources);
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->cap = p->max_sources;
	s->mask = ns - 1;
	s->head = s->tail = NIL;
	m += alt_align64(sizeof(*s));
	s->e = (struct src *)m;
	m += alt_align64(sizeof(struct src) * (size_t)s->cap);
	s->slot = (uint32_t *)m;
	memset(s->slot, 0, sizeof(uint32_t) * (size_t)ns);
	m += alt_align64(sizeof(uint32_t) * (size_t)ns);
	s->heap = (uint32_t *)m;
	m += alt_align64(sizeof(uint32_t) * (size_t)s->cap);
	s->stack = (uint32_t *)m;
	/* The largest of n lags underestimates the longest a record can wait
	 * in the sender (its flush interval plus transit). Were the lags of n
	 * flushes spread evenly below that bound F, the largest would be below
	 * F(1 - e) with probability (1 - e)^n; taking that as 1/10000, F is
	 * at most the largest lag times 10000^(1/n): 10x after 4 flushes,
	 * 3.2x after 8, 1.33x after 32. Never less than 1.25x. (Lags are not
	 * even: a batch that leaves full is young; the bound is generous.) */
	for (uint32_t n = 0; n < LAG_TABLE; n++) {
		double f = n == 0 ? 64.0 : pow(10000.0, 1.0 / (double)n);
		if (f < 1.25)
			f = 1.25;
		if (f > 63.0)
			f = 63.0;
		s->lag_mul[n] = (uint16_t)(f * 1024.0 + 0.5);
	}
	return s;
}

/* The disorder allowed this source: the configured one, or 5/4 of the
 * largest it showed when that is more. */
static inline uint64_t
disorder_of(const struct alt_sources *s, const struct src *e)
{
	uint64_t d = e->max_dis + e->max_dis / 4;

	return d > s->p.disorder_ns ? d : s->p.disorder_ns;
}

static inline uint64_t
progress(const struct alt_sources *s, const struct src *e)
{
	uint64_t d = disorder_of(s, e);

	return e->max_ev > d ? e->max_ev - d : 0;
}

/* What a source promises at arrival time now: its progress, or, once its
 * lag is known, the clock less 5/4 of its largest lag (less the disorder)
 * if that is later. */
static inline uint64_t
promise(const struct alt_sources *s, const struct src *e)
{
	uint64_t p = progress(s, e);

	if (s->p.lag_obs != 0 && e->batches >= s->p.lag_obs) {
		uint64_t mul = s->lag_mul[e->batches < LAG_TABLE ? e->batches : LAG_TABLE - 1];
		uint64_t back = (e->max_lag >> 10) * mul + ((e->max_lag & 1023) * mul >> 10) + disorder_of(s, e);
		if (s->now > back && s->now - back > p)
			p = s->now - back;
	}
	return p;
}

/* ---- heap of active sources, keyed by progress ---- */

static inline void
heap_set(struct alt_sources *s, uint32_t pos, uint32_t idx)
{
	s->heap[pos] = idx;
	s->e[idx].heap_pos = pos;
}

static void
sift_up(struct alt_sources *s, uint32_t pos)
{
	uint32_t idx = s->heap[pos];
	uint64_t k = progress(s, &s->e[idx]);

	while (pos > 0) {
		uint32_t par = (pos - 1) / 2;
		if (progress(s, &s->e[s->heap[par]]) <= k)
			break;
		heap_set(s, pos, s->heap[par]);
		pos = par;
	}
	heap_set(s, pos, idx);
}

static void
sift_down(struct alt_sources *s, uint32_t pos)
{
	uint32_t idx = s->heap[pos];
	uint64_t k = progress(s, &s->e[idx]);

	for (;;) {
		uint32_t c = 2 * pos + 1;
		if (c >= s->n_heap)
			break;
		if (c + 1 < s->n_heap &&
		    progress(s, &s->e[s->heap[c + 1]]) < progress(s, &s->e[s->heap[c]]))
			c++;
		if (progress(s, &s->e[s->heap[c]]) >= k)
			break;
		heap_set(s, pos, s->heap[c]);
		pos = c;
	}
	heap_set(s, pos, idx);
}

static void
heap_add(struct alt_sources *s, uint32_t idx)
{
	s->cache_ok = false;
	s->heap[s->n_heap] = idx;
	s->e[idx].heap_pos = s->n_heap;
	s->n_heap++;
	sift_up(s, s->n_heap - 1);
}

/* Take entry idx out of the heap; when it was the last one, event time
 * follows the arrival clock from `when` on. */
static void
heap_del(struct alt_sources *s, uint32_t idx, uint64_t when)
{
	uint32_t pos = s->e[idx].heap_pos;
	uint32_t last;

	if (pos == NIL)
		return;
	s->cache_ok = false;
	s->e[idx].heap_pos = NIL;
	last = s->heap[--s->n_heap];
	if (pos < s->n_heap) {
		heap_set(s, pos, last);
		sift_down(s, pos);
		sift_up(s, s->e[last].heap_pos);
	}
	if (s->n_heap == 0) {
		s->quiet_since = when;
		s->quiet_base = s->high;
	}
}

/* ---- arrival-order list ---- */

static void
list_unlink(struct alt_sources *s, uint32_t idx)
{
	struct src *e = &s->e[idx];

	if (e->prev != NIL)
		s->e[e->prev].next = e->next;
	else
		s->head = e->next;
	if (e->next != NIL)
		s->e[e->next].prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NIL;
}

static void
list_append(struct alt_sources *s, uint32_t idx)
{
	struct src *e = &s->e[idx];

	e->prev = s->tail;
	e->next = NIL;
	if (s->tail != NIL)
		s->e[s->tail].next = idx;
	else
		s->head = idx;
	s->tail = idx;
}

/* ---- index ---- */

static uint32_t
index_find(const struct alt_sources *s, uint64_t key, uint32_t *slot_out)
{
	uint32_t i = (uint32_t)alt_mix64(key) & s->mask;

	for (;;) {
		uint32_t v = s->slot[i];
		if (v == 0) {
			*slot_out = i;
			return NIL;
		}
		if (s->e[v - 1].key == key) {
			*slot_out = i;
			return v - 1;
		}
		i = (i + 1) & s->mask;
	}
}

/* Remove key's slot, shifting later entries of its probe run back. */
static void
index_del(struct alt_sources *s, uint64_t key)
{
	uint32_t i, j;

	if (index_find(s, key, &i) == NIL)
		return;
	j = i;
	for (;;) {
		uint32_t home;

		j = (j + 1) & s->mask;
		if (s->slot[j] == 0)
			break;
		home = (uint32_t)alt_mix64(s->e[s->slot[j] - 1].key) & s->mask;
		/* the entry at j may move to i if its home is not in (i, j] */
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	s->slot[i] = 0;
}

/* ---- the rules ---- */

static uint64_t
timeout_of(const struct alt_sources *s, const struct src *e)
{
	uint64_t t, c;

	/* Until it was watched for idle_min, its cadence is unknown. */
	if (e->datagrams < 2 || e->last_arr - e->first_arr < s->p.idle_min_ns)
		return s->p.idle_max_ns;
	/* Its cadence: the longest pause seen, or the longest lag when
	 * longer (a record that waited that long in the sender's buffer
	 * tells of a flush interval that long, however few pauses were seen;
	 * with lag_obs 0 the lag is not used). */
	c = e->max_pause;
	if (s->p.lag_obs != 0 && e->max_lag > c)
		c = e->max_lag;
	t = c > s->p.idle_max_ns / s->p.idle_mult ? s->p.idle_max_ns : c * s->p.idle_mult;
	if (t < s->p.idle_min_ns)
		t = s->p.idle_min_ns;
	return t;
}

/* Sources quiet past their timeout stop holding the watermark. Walks the
 * oldest-first list while sources have been quiet for at least idle_min. */
static void
scan_idle(struct alt_sources *s)
{
	uint32_t idx = s->head;

	while (idx != NIL) {
		struct src *e = &s->e[idx];

		if (s->now - e->last_arr < s->p.idle_min_ns)
			break;
		if (e->heap_pos != NIL && s->now - e->last_arr >= e->timeout) {
			heap_del(s, idx, e->last_arr + e->timeout);
			s->st.went_idle++;
		}
		idx = e->next;
	}
	s->next_scan = s->now + (s->p.idle_min_ns / 8 ? s->p.idle_min_ns / 8 : 1);
}

static uint32_t
entry_new(struct alt_sources *s, uint64_t key, uint64_t arrival_ns)
{
	uint32_t idx, sl;

	if (s->used < s->cap) {
		idx = s->used++;
	} else {
		idx = s->head;          /* least recently heard */
		heap_del(s, idx, s->now);
		list_unlink(s, idx);
		index_del(s, s->e[idx].key);
		s->st.evicted++;
	}
	index_find(s, key, &sl);
	s->slot[sl] = idx + 1;
	memset(&s->e[idx], 0, sizeof(s->e[idx]));
	s->e[idx].key = key;
	s->e[idx].heap_pos = NIL;
	s->e[idx].first_arr = arrival_ns;
	s->e[idx].last_arr = arrival_ns;
	s->e[idx].batches = 1;
	s->e[idx].prev = s->e[idx].next = NIL;
	list_append(s, idx);
	s->st.sources_new++;
	return idx;
}

void
alt_sources_heard(struct alt_sources *s, uint64_t key, uint64_t max_event_ns, uint64_t arrival_ns)
{
	alt_sources_heard_span(s, key, max_event_ns, max_event_ns, arrival_ns);
}

void
alt_sources_heard_span(struct alt_sources *s, uint64_t key, uint64_t min_event_ns, uint64_t max_event_ns,
		       uint64_t arrival_ns)
{
	uint32_t idx, sl;
	struct src *e;

	s->st.heard++;
	s->cache_ok = false;
	if (!s->started) {
		s->started = true;
		s->warm = s->p.warmup_ns > 0;
		s->warm_end = arrival_ns + s->p.warmup_ns;
		s->now = arrival_ns;
		s->quiet_since = arrival_ns;
		s->next_scan = arrival_ns;
	}
	if (arrival_ns > s->now)
		s->now = arrival_ns;
	else
		arrival_ns = s->now;    /* the clock never goes back */
	idx = index_find(s, key, &sl);
	if (idx == NIL) {
		idx = entry_new(s, key, arrival_ns);
	} else {
		e = &s->e[idx];
		uint64_t pause = arrival_ns - e->last_arr;
		bool idle = e->heap_pos == NIL;
		uint64_t nprog = max_event_ns > e->max_ev ? max_event_ns : e->max_ev;
		uint64_t dis = disorder_of(s, e);

		nprog = nprog > dis ? nprog - dis : 0;
		/* A pause counts towards the cadence unless the source was idle
		 * and comes back with fresh records (it was quiet, not batching). */
		if ((!idle || nprog < s->wm) && pause > e->max_pause)
			e->max_pause = pause;
		if (pause > BATCH_GAP)
			e->batches++;
		e->last_arr = arrival_ns;
		list_unlink(s, idx);
		list_append(s, idx);
		if (idle) {
			s->st.returned++;
			if (nprog < s->wm)
				s->st.returned_behind++;
		}
	}
	e = &s->e[idx];
	e->datagrams++;
	if (max_event_ns != 0 && min_event_ns <= max_event_ns && arrival_ns > min_event_ns &&
	    arrival_ns - min_event_ns > e->max_lag)
		e->max_lag = arrival_ns - min_event_ns;
	/* (timeout_of below reads the lag just learnt) */
	if (max_event_ns != 0 && min_event_ns <= max_event_ns && min_event_ns < e->max_ev &&
	    e->max_ev - min_event_ns > e->max_dis)
		e->max_dis = e->max_ev - min_event_ns;  /* older than what it sent before */
	if (max_event_ns > e->max_ev)
		e->max_ev = max_event_ns;
	e->timeout = timeout_of(s, e);
	if (progress(s, e) > s->high)
		s->high = progress(s, e);
	if (e->heap_pos != NIL) {
		/* progress grew, or fell with a larger disorder */
		sift_down(s, e->heap_pos);
		sift_up(s, e->heap_pos);
		s->cache_ok = false;
	} else if (s->warm || progress(s, e) >= s->wm)
		heap_add(s, idx);
	if (s->used > s->st.known_peak)
		s->st.known_peak = s->used;
}

void
alt_sources_clock(struct alt_sources *s, uint64_t now_ns)
{
	if (!s->started || now_ns <= s->now)
		return;
	s->now = now_ns;
}

/* The smallest promise over the active sources. A promise is never below
 * the progress the heap is ordered by, so the walk prunes every subtree
 * whose root's progress is not below the best promise found. Cached for
 * the same arrival time and unchanged sources. */
static uint64_t
min_promise(struct alt_sources *s)
{
	uint64_t best = UINT64_MAX;
	uint32_t sp = 0;

	if (s->cache_ok && s->cache_at == s->now)
		return s->cache_min;
	s->stack[sp++] = 0;
	while (sp > 0) {
		uint32_t pos = s->stack[--sp];
		const struct src *e = &s->e[s->heap[pos]];
		uint64_t v;

		if (progress(s, e) >= best)
			continue;
		v = promise(s, e);
		if (v < best)
			best = v;
		if (2 * pos + 1 < s->n_heap)
			s->stack[sp++] = 2 * pos + 1;
		if (2 * pos + 2 < s->n_heap)
			s->stack[sp++] = 2 * pos + 2;
	}
	s->cache_ok = true;
	s->cache_at = s->now;
	s->cache_min = best;
	return best;
}

uint64_t
alt_sources_watermark(struct alt_sources *s)
{
	uint64_t c;

	if (!s->started)
		return ALT_SOURCES_NONE;
	if (s->now >= s->next_scan)
		scan_idle(s);
	if (s->warm) {
		if (s->now < s->warm_end)
			return s->wm;
		s->warm = false;
	}
	if (s->n_heap > 0) {
		c = min_promise(s);
	} else {
		/* nobody holds it: event time follows the arrival clock */
		c = s->quiet_base + (s->now > s->quiet_since ? s->now - s->quiet_since : 0);
		if (c < s->quiet_base)
			c = UINT64_MAX - 1;
		if (c < s->high)
			c = s->high;
	}
	if (c > s->wm)
		s->wm = c;
	return s->wm;
}

int
alt_sources_release(struct alt_sources *s)
{
	if (!s->started)
		return -1;
	if (s->warm) {
		s->warm = false;
		s->st.warmup_released++;
		return 0;
	}
	if (s->n_heap == 0)
		return -1;
	heap_del(s, s->heap[0], s->now);
	s->st.released++;
	return 0;
}

uint64_t
alt_sources_now(const struct alt_sources *s)
{
	return s->now;
}

void
alt_sources_get_stats(const struct alt_sources *s, struct alt_sources_stats *st)
{
	*st = s->st;
	st->known = s->used;
	st->active = s->n_heap;
}

unsigned
alt_sources_list(const struct alt_sources *s, struct alt_source_info *out, unsigned cap)
{
	unsigned k = 0;

	for (uint32_t idx = s->tail; idx != NIL && k < cap; idx = s->e[idx].prev, k++) {
		const struct src *e = &s->e[idx];

		out[k].key = e->key;
		out[k].max_event_ns = e->max_ev;
		out[k].progress_ns = progress(s, e);
		out[k].max_disorder_ns = e->max_dis;
		out[k].last_arrival_ns = e->last_arr;
		out[k].idle_timeout_ns = e->timeout;
		out[k].max_lag_ns = e->max_lag;
		out[k].datagrams = e->datagrams;
		out[k].active = e->heap_pos != NIL;
	}
	return k;
}
