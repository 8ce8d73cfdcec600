/* SPDX-License-Identifier: BSD-3-Clause
 * Sessionization: open-trace table, event-time timer wheel, closed queue and
 * recently-closed cache, all on one block of caller memory.
 *
 * Memory (alt_session_memsize): the session header, 2 * max_traces trace
 * objects (max_traces open plus as many closed-but-not-yet-released ones),
 * one wheel back-link per trace, the trace hash (power of two >= 2 *
 * max_traces chain heads), the wheel (wheel_slots heads), the closed cache
 * (closed_cache entries in a ring + a hash of power of two >= 2 *
 * closed_cache chain heads) and the completeness scratch hash (power of two
 * >= 2 * max_nodes_per_trace node IDs, generation stamped so that it never
 * needs clearing).
 *
 * Timer wheel: an open trace sits in exactly one slot. Its real deadline is
 * min(last_ns + gap_ns, grace deadline) and is never earlier than the tick
 * of the slot it sits in (or the trace sits in the current tick's slot,
 * which every advance looks at again). Adding a node only moves last_ns;
 * when a slot fires, a trace whose deadline is still ahead is put back at
 * the slot of that deadline (deadline tick mod wheel_slots, so deadlines
 * beyond the wheel span come round again and are re-checked).
 */
#include "alt_session.h"

_Static_assert(sizeof(struct alt_trace) == 128, "struct alt_trace: two cache lines");

#include <errno.h>

enum {
	TS_FREE = 0,
	TS_OPEN = 1,
	TS_CLOSED = 2,
};

#define NO_DEADLINE UINT64_MAX
#define CC_NONE UINT32_MAX
#define SESS_MAX_COUNT (1u << 30)

#define CHUNK_PTRS 7

struct alt_node_chunk {
	struct alt_node_chunk *next;
	struct alt_node *n[CHUNK_PTRS];
};

_Static_assert(sizeof(struct alt_node_chunk) == 64, "a chunk is one cache line");

struct cc_entry {
	struct alt_trace_id id;
	uint64_t closed_at;
	uint32_t next;          /* hash chain, CC_NONE ends */
	uint32_t pad;
};

struct alt_session {
	struct alt_session_params p;
	struct alt_pool *node_pool;
	struct alt_pool *ext_pool;

	struct alt_trace *traces;
	struct alt_trace ***wpprev;     /* per trace: the pointer that points at it in its wheel slot */
	uint32_t n_traces;
	struct alt_trace *free;         /* through hnext */

	struct alt_trace **htab;
	uint64_t hmask;

	struct alt_trace **wheel;
	uint32_t wmask;
	uint64_t wtick;                 /* ticks below are processed; this one is re-looked at */
	uint64_t wm;                    /* watermark (monotonic) */

	struct alt_trace *age_head;     /* oldest open */
	struct alt_trace *age_tail;
	struct alt_trace *closed_head;  /* through wnext */
	struct alt_trace *closed_tail;

	struct cc_entry *cc;
	uint32_t *cc_htab;
	uint64_t cc_hmask;
	uint32_t cc_n;
	uint32_t cc_head;               /* oldest entry */
	uint32_t cc_count;

	uint64_t *sc_id;
	uint32_t *sc_gen;
	uint32_t sc_mask;
	uint32_t sc_cur;

	struct alt_pool chunk_pool;     /* a stack of free chunks: gets never read a cold chunk */

	struct alt_session_stats st;
};

struct sess_layout {
	size_t traces, wpprev, htab, wheel, cc, cc_htab, sc_id, sc_gen, chunks, total;
	uint32_t n_traces, hsize, cc_hsize, sc_size;
};

static bool
params_ok(const struct alt_session_params *p)
{
	return p != NULL && p->tick_ns != 0 && p->wheel_slots != 0 &&
		(p->wheel_slots & (p->wheel_slots - 1)) == 0 &&
		p->wheel_slots <= SESS_MAX_COUNT &&
		p->max_traces != 0 && p->max_traces <= SESS_MAX_COUNT / 2 &&
		p->max_nodes_per_trace != 0 && p->max_nodes_per_trace <= SESS_MAX_COUNT &&
		p->closed_cache <= SESS_MAX_COUNT && p->warm_chunks <= SESS_MAX_COUNT;
}

static void
layout(const struct alt_session_params *p, struct sess_layout *l)
{
	size_t o = alt_align64(sizeof(struct alt_session));

	l->n_traces = 2 * p->max_traces;
	l->hsize = alt_pow2_at_least(2ull * p->max_traces);
	l->cc_hsize = p->closed_cache ? alt_pow2_at_least(2ull * p->closed_cache) : 1;
	l->sc_size = alt_pow2_at_least(2ull * p->max_nodes_per_trace);
	l->traces = o;
	o = alt_align64(o + (size_t)l->n_traces * sizeof(struct alt_trace));
	l->wpprev = o;
	o = alt_align64(o + (size_t)l->n_traces * sizeof(struct alt_trace **));
	l->htab = o;
	o = alt_align64(o + (size_t)l->hsize * sizeof(struct alt_trace *));
	l->wheel = o;
	o = alt_align64(o + (size_t)p->wheel_slots * sizeof(struct alt_trace *));
	l->cc = o;
	o = alt_align64(o + (size_t)p->closed_cache * sizeof(struct cc_entry));
	l->cc_htab = o;
	o = alt_align64(o + (size_t)l->cc_hsize * sizeof(uint32_t));
	l->sc_id = o;
	o = alt_align64(o + (size_t)l->sc_size * sizeof(uint64_t));
	l->sc_gen = o;
	o = alt_align64(o + (size_t)l->sc_size * sizeof(uint32_t));
	l->chunks = o;
	o = alt_align64(o + alt_pool_memsize(sizeof(struct alt_node_chunk), p->warm_chunks));
	l->total = o;
}

/* Bytes for a session with these parameters (see the layout above); 0 if
 * the parameters are invalid. */
size_t
alt_session_memsize(const struct alt_session_params *p)
{
	struct sess_layout l;

	if (!params_ok(p))
		return 0;
	layout(p, &l);
	return l.total;
}

/* Defaults: 2 s gap, 50 ms grace, 1 ms ticks, 4096 slots, 65536 traces of
 * up to 4096 nodes, 65536 closed IDs remembered for 8 s. */
void
alt_session_params_default(struct alt_session_params *p)
{
	memset(p, 0, sizeof(*p));
	p->gap_ns = 2000000000ull;
	p->close_grace_ns = 50000000ull;
	p->tick_ns = 1000000ull;
	p->wheel_slots = 4096;
	p->max_traces = 65536;
	p->max_nodes_per_trace = 4096;
	p->closed_cache = 65536;
	p->closed_ttl_ns = 4 * p->gap_ns;
}

/* Lay the session out on mem (alt_session_memsize bytes, 8-byte aligned).
 * Nodes handed to the session come from node_pool and their parent
 * extensions from ext_pool (may be NULL if no node has two parents).
 * NULL if the parameters are invalid. */
struct alt_session *
alt_session_init(void *mem, const struct alt_session_params *p,
		 struct alt_pool *node_pool, struct alt_pool *ext_pool)
{
	struct alt_session *s = mem;
	uint8_t *m = mem;
	struct sess_layout l;

	if (!params_ok(p) || mem == NULL || ((uintptr_t)mem & 7u) != 0 ||
	    node_pool == NULL)
		return NULL;
	layout(p, &l);
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->node_pool = node_pool;
	s->ext_pool = ext_pool;

	s->traces = (struct alt_trace *)(m + l.traces);
	s->n_traces = l.n_traces;
	memset(s->traces, 0, (size_t)l.n_traces * sizeof(struct alt_trace));
	for (uint32_t i = l.n_traces; i-- > 0;) {
		s->traces[i].hnext = s->free;
		s->free = &s->traces[i];
	}
	s->wpprev = (struct alt_trace ***)(m + l.wpprev);
	memset(s->wpprev, 0, (size_t)l.n_traces * sizeof(struct alt_trace **));

	s->htab = (struct alt_trace **)(m + l.htab);
	memset(s->htab, 0, (size_t)l.hsize * sizeof(struct alt_trace *));
	s->hmask = l.hsize - 1;

	s->wheel = (struct alt_trace **)(m + l.wheel);
	memset(s->wheel, 0, (size_t)p->wheel_slots * sizeof(struct alt_trace *));
	s->wmask = p->wheel_slots - 1;

	s->cc = (struct cc_entry *)(m + l.cc);
	s->cc_n = p->closed_cache;
	s->cc_htab = (uint32_t *)(m + l.cc_htab);
	memset(s->cc_htab, 0xff, (size_t)l.cc_hsize * sizeof(uint32_t));
	s->cc_hmask = l.cc_hsize - 1;

	s->sc_id = (uint64_t *)(m + l.sc_id);
	s->sc_gen = (uint32_t *)(m + l.sc_gen);
	memset(s->sc_gen, 0, (size_t)l.sc_size * sizeof(uint32_t));
	s->sc_mask = l.sc_size - 1;

	if (alt_pool_init(&s->chunk_pool, m + l.chunks,
			  alt_pool_memsize(sizeof(struct alt_node_chunk), p->warm_chunks),
			  sizeof(struct alt_node_chunk), p->warm_chunks) != 0)
		return NULL;
	return s;
}

/* "gap", "closes_trace", "drain", "pressure" ("?" for anything else). */
const char *
alt_closed_by_name(enum alt_closed_by c)
{
	switch (c) {
	case ALT_CLOSED_GAP:
		return "gap";
	case ALT_CLOSED_CLOSES_TRACE:
		return "closes_trace";
	case ALT_CLOSED_DRAIN:
		return "drain";
	case ALT_CLOSED_PRESSURE:
		return "pressure";
	}
	return "?";
}

/* ---- node return ---- */

static inline void
free_node(struct alt_session *s, struct alt_node *n)
{
	if (n->parent_count >= 2 && n->more != NULL && s->ext_pool != NULL)
		alt_pool_put(s->ext_pool, n->more);
	alt_pool_put(s->node_pool, n);
}

/* ---- recently-closed cache ---- */

static void
cc_unlink(struct alt_session *s, uint32_t idx)
{
	struct cc_entry *e = &s->cc[idx];
	uint32_t *pp = &s->cc_htab[alt_trace_id_hash(&e->id) & s->cc_hmask];

	while (*pp != CC_NONE) {
		if (*pp == idx) {
			*pp = e->next;
			return;
		}
		pp = &s->cc[*pp].next;
	}
}

static void
cc_drop_oldest(struct alt_session *s)
{
	cc_unlink(s, s->cc_head);
	if (++s->cc_head == s->cc_n)
		s->cc_head = 0;
	s->cc_count--;
}

static void
cc_expire(struct alt_session *s)
{
	while (s->cc_count > 0 &&
	       s->wm - s->cc[s->cc_head].closed_at >= s->p.closed_ttl_ns)
		cc_drop_oldest(s);
}

static void
cc_insert(struct alt_session *s, const struct alt_trace_id *id, uint64_t h)
{
	uint32_t idx;
	struct cc_entry *e;
	uint32_t *head;

	if (s->cc_n == 0 || s->p.closed_ttl_ns == 0)
		return;
	if (s->cc_count == s->cc_n)
		cc_drop_oldest(s);
	idx = s->cc_head + s->cc_count;
	if (idx >= s->cc_n)
		idx -= s->cc_n;
	e = &s->cc[idx];
	e->id = *id;
	e->closed_at = s->wm;
	head = &s->cc_htab[h & s->cc_hmask];
	e->next = *head;
	*head = idx;
	s->cc_count++;
}

static bool
cc_lookup(const struct alt_session *s, const struct alt_trace_id *id, uint64_t h)
{
	uint32_t idx;

	if (s->cc_count == 0)
		return false;
	idx = s->cc_htab[h & s->cc_hmask];
	while (idx != CC_NONE) {
		const struct cc_entry *e = &s->cc[idx];

		if (alt_trace_id_eq(&e->id, id))
			return s->wm - e->closed_at < s->p.closed_ttl_ns;
		idx = e->next;
	}
	return false;
}

/* ---- timer wheel ---- */

static inline struct alt_trace ***
wlink(struct alt_session *s, struct alt_trace *t)
{
	return &s->wpprev[t - s->traces];
}

static inline void
wheel_insert(struct alt_session *s, struct alt_trace *t, uint64_t deadline)
{
	uint64_t tick = deadline / s->p.tick_ns;
	struct alt_trace **head;

	if (tick < s->wtick)
		tick = s->wtick;
	t->wslot = (uint32_t)(tick & s->wmask);
	head = &s->wheel[t->wslot];
	t->wnext = *head;
	if (*head != NULL)
		*wlink(s, *head) = &t->wnext;
	*head = t;
	*wlink(s, t) = head;
}

static inline void
wheel_remove(struct alt_session *s, struct alt_trace *t)
{
	struct alt_trace **pp = *wlink(s, t);

	*pp = t->wnext;
	if (t->wnext != NULL)
		*wlink(s, t->wnext) = pp;
	t->wnext = NULL;
}

static inline uint64_t
gap_deadline(const struct alt_session *s, const struct alt_trace *t)
{
	return alt_sat_add(t->last_ns, s->p.gap_ns);
}

static inline uint64_t
real_deadline(const struct alt_session *s, const struct alt_trace *t)
{
	uint64_t g = gap_deadline(s, t);

	return t->deadline_ns < g ? t->deadline_ns : g;
}

/* ---- trace table ---- */

static void
hash_remove(struct alt_session *s, struct alt_trace *t, uint64_t h)
{
	struct alt_trace **pp = &s->htab[h & s->hmask];

	while (*pp != t)
		pp = &(*pp)->hnext;
	*pp = t->hnext;
	t->hnext = NULL;
}

static void
age_remove(struct alt_session *s, struct alt_trace *t)
{
	if (t->aprev != NULL)
		t->aprev->anext = t->anext;
	else
		s->age_head = t->anext;
	if (t->anext != NULL)
		t->anext->aprev = t->aprev;
	else
		s->age_tail = t->aprev;
	t->aprev = NULL;
	t->anext = NULL;
}

static inline void
mark_truncated(struct alt_session *s, struct alt_trace *t)
{
	if (!(t->flags & ALT_TF_TRUNCATED)) {
		t->flags |= ALT_TF_TRUNCATED;
		s->st.truncated++;
	}
}

/* Take an open trace out of the table (and out of the wheel unless it was
 * already detached by the firing slot) and queue it as closed. */
static void
close_trace(struct alt_session *s, struct alt_trace *t, enum alt_closed_by by,
	    bool in_wheel)
{
	uint64_t h = alt_trace_id_hash(&t->trace_id);

	if (in_wheel)
		wheel_remove(s, t);
	hash_remove(s, t, h);
	age_remove(s, t);
	t->state = TS_CLOSED;
	t->closed_by = (uint8_t)by;
	t->closed_at_ns = s->wm;
	t->wnext = NULL;
	if (s->closed_tail != NULL)
		s->closed_tail->wnext = t;
	else
		s->closed_head = t;
	s->closed_tail = t;
	cc_insert(s, &t->trace_id, h);
	s->st.traces_closed[by]++;
	s->st.open--;
}

static void
close_oldest_pressure(struct alt_session *s)
{
	struct alt_trace *t = s->age_head;

	mark_truncated(s, t);
	close_trace(s, t, ALT_CLOSED_PRESSURE, true);
}

/* ---- completeness (early close) ---- */

static void
sc_put(struct alt_session *s, uint64_t id)
{
	uint32_t i = (uint32_t)alt_mix64(id) & s->sc_mask;

	while (s->sc_gen[i] == s->sc_cur) {
		if (s->sc_id[i] == id)
			return;
		i = (i + 1) & s->sc_mask;
	}
	s->sc_gen[i] = s->sc_cur;
	s->sc_id[i] = id;
}

static bool
sc_has(const struct alt_session *s, uint64_t id)
{
	uint32_t i = (uint32_t)alt_mix64(id) & s->sc_mask;

	while (s->sc_gen[i] == s->sc_cur) {
		if (s->sc_id[i] == id)
			return true;
		i = (i + 1) & s->sc_mask;
	}
	return false;
}

/* Every parent referenced by the trace's nodes is one of its node IDs. */
static bool
trace_complete(struct alt_session *s, const struct alt_trace *t)
{
	const struct alt_node *n;

	if (++s->sc_cur == 0) {
		memset(s->sc_gen, 0, ((size_t)s->sc_mask + 1) * sizeof(uint32_t));
		s->sc_cur = 1;
	}
	for (n = t->nodes; n != NULL; n = n->next)
		sc_put(s, n->node_id);
	for (n = t->nodes; n != NULL; n = n->next) {
		unsigned np = n->parent_count;

		if (np > 1 && n->more == NULL)
			np = 1;
		for (unsigned i = 0; i < np; i++)
			if (!sc_has(s, alt_node_parent(n, i)))
				return false;
	}
	return true;
}

/* ---- add ---- */

/* Put t (hash h) in the table and at the young end of the age list. */
static void
table_link(struct alt_session *s, struct alt_trace *t, uint64_t h)
{
	struct alt_trace **head = &s->htab[h & s->hmask];

	t->hnext = *head;
	*head = t;
	t->anext = NULL;
	t->aprev = s->age_tail;
	if (s->age_tail != NULL)
		s->age_tail->anext = t;
	else
		s->age_head = t;
	s->age_tail = t;
}

static struct alt_trace *
open_trace(struct alt_session *s, const struct alt_node *n, uint64_t h, bool fragment)
{
	struct alt_trace *t;

	if (alt_unlikely(s->free == NULL))
		return NULL;    /* caller holds every spare trace unreleased */
	if (s->st.open >= s->p.max_traces && s->age_head != NULL)
		close_oldest_pressure(s);
	t = s->free;
	s->free = t->hnext;

	t->trace_id = n->trace_id;
	t->nodes = NULL;
	t->n_nodes = 0;
	t->chunks = NULL;
	t->chunk_fill = 0;
	t->chunk_lost = 0;
	t->late_records = 0;
	t->dropped_nodes = 0;
	t->flags = fragment ? ALT_TF_LATE_FRAGMENT : 0;
	t->closed_by = 0;
	t->has_closer = 0;
	t->first_ns = n->start_ns;
	t->last_ns = alt_node_event_ns(n);
	t->last_arrival = n->arrival;
	t->closed_at_ns = 0;
	t->deadline_ns = NO_DEADLINE;
	t->state = TS_OPEN;

	table_link(s, t, h);
	wheel_insert(s, t, gap_deadline(s, t));

	s->st.traces_opened++;
	if (fragment)
		s->st.late_fragments++;
	if (++s->st.open > s->st.open_peak)
		s->st.open_peak = s->st.open;
	return t;
}

/* Note n in t's chunks (for alt_session_warm). */
static inline void
record_chunk(struct alt_session *s, struct alt_trace *t, struct alt_node *n)
{
	struct alt_node_chunk *c = t->chunks;

	if (c == NULL || t->chunk_fill == CHUNK_PTRS) {
		if (alt_unlikely(t->chunk_lost || (c = alt_pool_get(&s->chunk_pool)) == NULL)) {
			t->chunk_lost = 1;
			return;
		}
		c->next = t->chunks;
		t->chunks = c;
		t->chunk_fill = 0;
	}
	c->n[t->chunk_fill++] = n;
}

static inline void
free_chunks(struct alt_session *s, struct alt_trace *t)
{
	struct alt_node_chunk *c = t->chunks;

	while (c != NULL) {
		struct alt_node_chunk *next = c->next;

		alt_pool_put(&s->chunk_pool, c);
		c = next;
	}
	t->chunks = NULL;
	t->chunk_fill = 0;
}

/* Prefetch, in two stages a few nodes apart, what alt_session_add will
 * read for n: stage 0 its hash bucket, stage 1 the first trace on it. */
void
alt_session_prefetch(const struct alt_session *s, const struct alt_node *n, unsigned stage)
{
	struct alt_trace *const *b = &s->htab[alt_trace_id_hash(&n->trace_id) & s->hmask];

	if (stage == 0)
		__builtin_prefetch(b);
	else if (*b != NULL) {
		__builtin_prefetch(*b);
		__builtin_prefetch((const char *)*b + 64);
	} else if (s->cc_count != 0) {
		/* likely a new trace: the add looks in the closed cache */
		__builtin_prefetch(&s->cc_htab[alt_trace_id_hash(&n->trace_id) & s->cc_hmask]);
	}
}

/* Attach n to its trace, opening one (a flagged late fragment if the ID was
 * closed recently) when none is open; a full table first closes its oldest
 * trace by pressure. A CLOSES_TRACE node arms the grace deadline
 * last_ns + close_grace_ns; if the trace is still incomplete when it
 * expires, the next node re-arms it (the gap deadline always stands). A node
 * refused by max_nodes_per_trace is freed (it still counts as activity for
 * the gap). late marks n with ALT_NF_LATE and counts it in late_records.
 * If the caller holds 2 * max_traces - open traces closed but unreleased,
 * a node that needs a new trace is freed and DROPPED_TRACE_FULL returned. */
enum alt_session_add_result
alt_session_add(struct alt_session *s, struct alt_node *n, bool late)
{
	uint64_t h = alt_trace_id_hash(&n->trace_id);
	struct alt_trace *t = s->htab[h & s->hmask];
	uint64_t start = n->start_ns;
	uint64_t ev = alt_node_event_ns(n);

	while (t != NULL && !alt_trace_id_eq(&t->trace_id, &n->trace_id))
		t = t->hnext;
	if (t == NULL) {
		t = open_trace(s, n, h, cc_lookup(s, &n->trace_id, h));
		if (alt_unlikely(t == NULL)) {
			free_node(s, n);
			s->st.nodes_dropped_trace_full++;
			return ALT_SESS_DROPPED_TRACE_FULL;
		}
	} else if (alt_unlikely(t->n_nodes >= s->p.max_nodes_per_trace)) {
		if ((int32_t)(n->arrival - t->last_arrival) > 0)
			t->last_arrival = n->arrival;
		free_node(s, n);
		if (ev > t->last_ns)
			t->last_ns = ev;
		t->dropped_nodes++;
		mark_truncated(s, t);
		s->st.nodes_dropped_trace_full++;
		return ALT_SESS_DROPPED_TRACE_FULL;
	}

	n->next = t->nodes;
	t->nodes = n;
	t->n_nodes++;
	record_chunk(s, t, n);
	if (start < t->first_ns)
		t->first_ns = start;
	if (ev > t->last_ns)
		t->last_ns = ev;
	if ((int32_t)(n->arrival - t->last_arrival) > 0)
		t->last_arrival = n->arrival;
	if (late) {
		n->flags |= ALT_NF_LATE;
		t->late_records++;
	}
	if (alt_unlikely(n->flags & ALT_RF_CLOSES_TRACE))
		t->has_closer = 1;
	if (alt_unlikely(t->has_closer) && t->deadline_ns == NO_DEADLINE) {
		uint64_t g = alt_sat_add(t->last_ns, s->p.close_grace_ns);

		if (g != NO_DEADLINE) {
			t->deadline_ns = g;
			if (g < gap_deadline(s, t)) {
				wheel_remove(s, t);
				wheel_insert(s, t, g);
			}
		}
	}
	return (t->flags & ALT_TF_LATE_FRAGMENT) ? ALT_SESS_ADDED_LATE_FRAGMENT : ALT_SESS_ADDED;
}

/* ---- advance ---- */

/* A trace taken off a firing slot: close it or put it back. */
static void
check_trace(struct alt_session *s, struct alt_trace *t)
{
	uint64_t gap = gap_deadline(s, t);
	uint64_t wm = s->wm;

	if (t->deadline_ns < gap && t->deadline_ns <= wm) {
		if (s->p.defer_completeness || trace_complete(s, t)) {
			close_trace(s, t, ALT_CLOSED_CLOSES_TRACE, false);
			return;
		}
		t->deadline_ns = NO_DEADLINE;   /* fall back to the gap */
	}
	if (gap <= wm) {
		close_trace(s, t, ALT_CLOSED_GAP, false);
		return;
	}
	wheel_insert(s, t, real_deadline(s, t));
}

static void
fire_slot(struct alt_session *s, uint32_t slot)
{
	struct alt_trace *t = s->wheel[slot];
	const struct alt_node *heads[64];
	unsigned k = 0;

	/* The traces due now are checked for completeness (grace) or closed
	 * and analysed (gap): warm their cold node lists together first (with
	 * deferred completeness the caller does that when it analyses them). */
	for (struct alt_trace *u = s->p.defer_completeness ? NULL : t; u != NULL && k < 64; u = u->wnext)
		if (u->deadline_ns <= s->wm && u->nodes != NULL)
			heads[k++] = u->nodes;
	alt_node_lists_warm(heads, k);
	s->wheel[slot] = NULL;
	while (t != NULL) {
		struct alt_trace *next = t->wnext;

		check_trace(s, t);
		t = next;
	}
}

/* Move event time to watermark (a lower value than before is ignored) and
 * close every trace whose gap or grace deadline is <= watermark. Looks at
 * the slots of the ticks since the last call (this call's tick included),
 * at most wheel_slots of them: a larger jump sweeps every slot once. */
void
alt_session_advance(struct alt_session *s, uint64_t watermark)
{
	uint64_t target;

	if (watermark > s->wm)
		s->wm = watermark;
	cc_expire(s);
	target = s->wm / s->p.tick_ns;
	if (target - s->wtick >= s->wmask) {
		for (uint32_t i = 0; i <= s->wmask; i++)
			fire_slot(s, (uint32_t)((s->wtick + i) & s->wmask));
	} else {
		for (uint64_t tk = s->wtick;; tk++) {
			fire_slot(s, (uint32_t)(tk & s->wmask));
			if (tk == target)
				break;
		}
	}
	s->wtick = target;
}

/* Close the oldest open trace (pressure, marked truncated). 0 or -ENOENT. */
int
alt_session_evict_oldest(struct alt_session *s)
{
	if (s->age_head == NULL)
		return -ENOENT;
	close_oldest_pressure(s);
	return 0;
}

/* Close every open trace, oldest first, with closed_by = drain. */
void
alt_session_drain(struct alt_session *s)
{
	while (s->age_head != NULL)
		close_trace(s, s->age_head, ALT_CLOSED_DRAIN, true);
}

/* Dequeue up to cap closed traces in closing order. */
unsigned
alt_session_poll_closed(struct alt_session *s, struct alt_trace **out, unsigned cap)
{
	unsigned k = 0;

	while (k < cap && s->closed_head != NULL) {
		struct alt_trace *t = s->closed_head;

		s->closed_head = t->wnext;
		t->wnext = NULL;
		out[k++] = t;
	}
	if (s->closed_head == NULL)
		s->closed_tail = NULL;
	return k;
}

int
alt_session_reopen(struct alt_session *s, struct alt_trace *t)
{
	if (t == NULL || t->state != TS_CLOSED)
		return -EINVAL;
	table_link(s, t, alt_trace_id_hash(&t->trace_id));
	s->st.traces_closed[t->closed_by]--;
	s->st.reopened++;
	if (++s->st.open > s->st.open_peak)
		s->st.open_peak = s->st.open;
	t->state = TS_OPEN;
	t->closed_by = 0;
	t->closed_at_ns = 0;
	t->deadline_ns = NO_DEADLINE;   /* the gap; the next node re-arms the grace */
	/* Its closed-cache entry stays: lookups find the open trace first, and
	 * the entry ages out. */
	wheel_insert(s, t, real_deadline(s, t));
	return 0;
}

/* Return a polled trace's nodes (and parent extensions) to the pools and
 * the trace to the free list. Anything but a closed trace is ignored. */
void
alt_session_release(struct alt_session *s, struct alt_trace *t)
{
	struct alt_node *n;

	if (t == NULL || t->state != TS_CLOSED)
		return;
	n = t->nodes;
	while (n != NULL) {
		struct alt_node *next = n->next;

		free_node(s, n);
		n = next;
	}
	free_chunks(s, t);
	t->nodes = NULL;
	t->n_nodes = 0;
	t->state = TS_FREE;
	t->hnext = s->free;
	s->free = t;
}

/* Touch both cache lines of an 80-byte node with plain loads: the loads
 * are independent, so the core overlaps their misses, and unlike
 * prefetch hints they are never dropped. */
static inline uint64_t
touch_node(const struct alt_node *n)
{
	return (uint64_t)(uintptr_t)*(struct alt_node *const volatile *)&n->next ^
	       *(const volatile uint32_t *)((const char *)n + sizeof(*n) - 4);
}

void
alt_session_warm(struct alt_trace *const *t, unsigned n)
{
	const struct alt_node_chunk *cur[64];
	const struct alt_node *heads[64];
	unsigned nc = 0, nl = 0;
	uint64_t sink = 0;

	while (n > 64) {
		alt_session_warm(t, 64);
		t += 64;
		n -= 64;
	}
	for (unsigned i = 0; i < n; i++) {
		if (t[i]->nodes == NULL)
			continue;
		if (t[i]->chunk_lost || t[i]->chunks == NULL) {
			heads[nl++] = t[i]->nodes;
			continue;
		}
		/* the first chunk is the partly filled one */
		const struct alt_node_chunk *c = t[i]->chunks;
		for (unsigned k = 0; k < t[i]->chunk_fill; k++)
			sink += touch_node(c->n[k]);
		if (c->next != NULL) {
			__builtin_prefetch(c->next);
			cur[nc++] = c->next;
		}
	}
	/* full chunks, chains walked in lock step */
	while (nc > 0) {
		for (unsigned i = 0; i < nc;) {
			const struct alt_node_chunk *c = cur[i];
			for (unsigned k = 0; k < CHUNK_PTRS; k++)
				sink += touch_node(c->n[k]);
			if (c->next == NULL) {
				cur[i] = cur[--nc];
				continue;
			}
			__builtin_prefetch(c->next);
			cur[i++] = c->next;
		}
	}
	if (nl > 0)
		alt_node_lists_warm(heads, nl);
	__asm__ volatile("" : : "r"(sink));
}

/* Counters; closed_cache_used counts live (unexpired, unevicted) entries. */
void
alt_session_get_stats(const struct alt_session *s, struct alt_session_stats *st)
{
	*st = s->st;
	st->closed_cache_used = s->cc_count;
	st->warm_chunks_used = alt_pool_in_use(&s->chunk_pool);
}
