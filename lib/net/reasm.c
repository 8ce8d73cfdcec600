/* SPDX-License-Identifier: BSD-3-Clause
 * IPv4/IPv6 fragment reassembly over caller memory.
 *
 * Layout: a slot per datagram in progress (hash chains for lookup, an age
 * list in order of first fragment for expiry and eviction, a free list), a
 * sorted extent array per slot (offset, length of each fragment held), a
 * pool of ALT_NET_REASM_BLOCK-byte data blocks and one 64 KiB output buffer.
 * Byte b of a datagram lives in block b / BLOCK of its slot, allocated the
 * first time a fragment touches it. Fragments are never allowed to overlap,
 * so a datagram is complete exactly when its last fragment is known and the
 * bytes held equal its total length; the blocks are then gathered into the
 * output buffer.
 */
#include <errno.h>

#include "alt_net.h"

enum {
	NIL = UINT32_MAX,
	N_BLOCKS = 65536 / ALT_NET_REASM_BLOCK,
	OUT_BYTES = 65536,
};

_Static_assert(65536 % ALT_NET_REASM_BLOCK == 0, "block size divides 64 KiB");

struct reasm_ext {
	uint16_t off;
	uint16_t len;
};

struct reasm_slot {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint8_t version;
	uint8_t proto;          /* IPv4 key part; 0 for IPv6 */
	uint8_t dead;           /* 0, or the reason the datagram was dropped */
	uint8_t has_last;
	uint64_t hash;
	uint64_t first_ns;
	uint32_t hnext;         /* hash chain */
	uint32_t prev;          /* age list (free list through next) */
	uint32_t next;
	uint32_t total;         /* payload bytes, valid with has_last */
	uint32_t got;           /* payload bytes held */
	uint32_t n_frags;
	uint8_t *blocks[N_BLOCKS];
};

struct alt_net_reasm {
	struct alt_net_reasm_params p;
	struct reasm_slot *slots;
	struct reasm_ext *ext;          /* max_frags per slot */
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t free_head;
	uint32_t age_head;              /* oldest */
	uint32_t age_tail;
	uint8_t *out;
	struct alt_pool pool;
	struct alt_net_reasm_stats st;
};

static const char *const reasm_names[] = {
#define ALT_NET_RO_STR(e, s) s,
	ALT_NET_REASM_OUTCOMES(ALT_NET_RO_STR)
#undef ALT_NET_RO_STR
};

/* Name of a fragment outcome; "?" when out of range. */
const char *
alt_net_reasm_outcome_name(enum alt_net_reasm_outcome o)
{
	return (unsigned)o < ALT_NET_REASM_OUTCOME_COUNT ? reasm_names[o] : "?";
}

/* 1024 datagrams, 128 fragments each, 16 MiB of data, 1 s timeout. */
void
alt_net_reasm_params_default(struct alt_net_reasm_params *p)
{
	p->max_datagrams = 1024;
	p->max_frags = 128;
	p->max_bytes = 16u << 20;
	p->timeout_ns = 1000000000ull;
}

static uint32_t
n_buckets(uint32_t max_datagrams)
{
	uint32_t n = 16;

	while (n < max_datagrams * 2u && n < (1u << 30))
		n <<= 1;
	return n;
}

static bool
params_ok(const struct alt_net_reasm_params *p)
{
	return p != NULL && p->max_datagrams > 0 && p->max_datagrams <= (1u << 24) &&
		p->max_frags > 0 && p->max_frags <= ALT_NET_REASM_MAX_FRAGS &&
		p->max_bytes >= ALT_NET_REASM_BLOCK &&
		p->max_bytes / ALT_NET_REASM_BLOCK <= UINT32_MAX &&
		p->timeout_ns > 0;
}

static uint32_t
n_blocks(const struct alt_net_reasm_params *p)
{
	return (uint32_t)(p->max_bytes / ALT_NET_REASM_BLOCK);
}

/* Memory needed for a reassembler with parameters p; 0 if invalid. */
size_t
alt_net_reasm_memsize(const struct alt_net_reasm_params *p)
{
	if (!params_ok(p))
		return 0;
	return alt_align64(sizeof(struct alt_net_reasm)) +
		alt_align64((size_t)p->max_datagrams * sizeof(struct reasm_slot)) +
		alt_align64((size_t)p->max_datagrams * p->max_frags * sizeof(struct reasm_ext)) +
		alt_align64((size_t)n_buckets(p->max_datagrams) * sizeof(uint32_t)) +
		OUT_BYTES +
		alt_pool_memsize(ALT_NET_REASM_BLOCK, n_blocks(p));
}

/* Lay out a reassembler on mem; NULL if the parameters are invalid. */
struct alt_net_reasm *
alt_net_reasm_init(void *mem, const struct alt_net_reasm_params *p)
{
	struct alt_net_reasm *r = mem;
	uint8_t *m = mem;
	uint32_t nb, i;

	if (mem == NULL || !params_ok(p))
		return NULL;
	memset(r, 0, sizeof(*r));
	r->p = *p;
	m += alt_align64(sizeof(*r));
	r->slots = (struct reasm_slot *)m;
	m += alt_align64((size_t)p->max_datagrams * sizeof(struct reasm_slot));
	r->ext = (struct reasm_ext *)m;
	m += alt_align64((size_t)p->max_datagrams * p->max_frags * sizeof(struct reasm_ext));
	r->buckets = (uint32_t *)m;
	nb = n_buckets(p->max_datagrams);
	r->bucket_mask = nb - 1;
	m += alt_align64((size_t)nb * sizeof(uint32_t));
	r->out = m;
	m += OUT_BYTES;
	if (alt_pool_init(&r->pool, m, alt_pool_memsize(ALT_NET_REASM_BLOCK, n_blocks(p)),
			ALT_NET_REASM_BLOCK, n_blocks(p)) != 0)
		return NULL;
	for (i = 0; i < nb; i++)
		r->buckets[i] = NIL;
	for (i = 0; i < p->max_datagrams; i++) {
		memset(&r->slots[i], 0, sizeof(r->slots[i]));
		r->slots[i].next = i + 1 < p->max_datagrams ? i + 1 : NIL;
	}
	r->free_head = 0;
	r->age_head = NIL;
	r->age_tail = NIL;
	r->st.blocks_total = n_blocks(p);
	return r;
}

static inline uint64_t
key_hash(const uint8_t *src, const uint8_t *dst, uint32_t id, uint8_t version, uint8_t proto)
{
	uint64_t w[4];

	memcpy(w, src, 16);
	memcpy(w + 2, dst, 16);
	return alt_mix64(w[0] ^ alt_mix64(w[1] ^ alt_mix64(w[2] ^
		alt_mix64(w[3] ^ (((uint64_t)id << 16) | ((uint64_t)version << 8) | proto)))));
}

static void
slot_free_data(struct alt_net_reasm *r, struct reasm_slot *s)
{
	unsigned b;

	for (b = 0; b < N_BLOCKS; b++) {
		if (s->blocks[b] != NULL) {
			alt_pool_put(&r->pool, s->blocks[b]);
			s->blocks[b] = NULL;
			r->st.blocks_in_use--;
		}
	}
	r->st.frags_pending -= s->n_frags;
	s->n_frags = 0;
	s->got = 0;
}

/* Remove slot i from its hash chain and the age list, back to the free list. */
static void
slot_release(struct alt_net_reasm *r, uint32_t i)
{
	struct reasm_slot *s = &r->slots[i];
	uint32_t *pp = &r->buckets[s->hash & r->bucket_mask];

	while (*pp != i)
		pp = &r->slots[*pp].hnext;
	*pp = s->hnext;
	if (s->prev != NIL)
		r->slots[s->prev].next = s->next;
	else
		r->age_head = s->next;
	if (s->next != NIL)
		r->slots[s->next].prev = s->prev;
	else
		r->age_tail = s->prev;
	s->next = r->free_head;
	r->free_head = i;
	r->st.datagrams_pending--;
}

/* Drop the held fragments of slot s under reason; the slot stays (dead) so
 * later fragments of the datagram get the same reason. */
static uint32_t
slot_kill(struct alt_net_reasm *r, struct reasm_slot *s, enum alt_net_reasm_outcome why)
{
	uint32_t n = s->n_frags;

	r->st.frags[why] += n;
	r->st.datagrams[why]++;
	slot_free_data(r, s);
	s->dead = (uint8_t)why;
	return n;
}

/* Drop slot i entirely (timeout, eviction). Returns fragments dropped. */
static uint32_t
slot_drop(struct alt_net_reasm *r, uint32_t i, enum alt_net_reasm_outcome why)
{
	struct reasm_slot *s = &r->slots[i];
	uint32_t n = 0;

	if (!s->dead)
		n = slot_kill(r, s, why);
	slot_release(r, i);
	return n;
}

/* Drop datagrams begun at or before now - timeout; see alt_net.h. */
uint32_t
alt_net_reasm_expire(struct alt_net_reasm *r, uint64_t now_ns)
{
	uint32_t n = 0;

	while (r->age_head != NIL &&
			now_ns - r->slots[r->age_head].first_ns >= r->p.timeout_ns &&
			now_ns >= r->slots[r->age_head].first_ns)
		n += slot_drop(r, r->age_head, ALT_NET_REASM_TIMEOUT);
	return n;
}

/* Drop every datagram in progress; see alt_net.h. */
uint32_t
alt_net_reasm_flush(struct alt_net_reasm *r)
{
	uint32_t n = 0;

	while (r->age_head != NIL)
		n += slot_drop(r, r->age_head, ALT_NET_REASM_TIMEOUT);
	return n;
}

static uint32_t
slot_new(struct alt_net_reasm *r, const struct alt_net_pkt *pkt, uint64_t h,
	uint8_t proto, uint64_t now_ns)
{
	struct reasm_slot *s;
	uint32_t i, b;

	if (r->free_head == NIL)
		slot_drop(r, r->age_head, ALT_NET_REASM_EVICTED);
	i = r->free_head;
	s = &r->slots[i];
	r->free_head = s->next;
	memcpy(s->src, pkt->inner.src, 16);
	memcpy(s->dst, pkt->inner.dst, 16);
	s->id = pkt->frag.id;
	s->version = pkt->inner.version;
	s->proto = proto;
	s->dead = 0;
	s->has_last = 0;
	s->hash = h;
	s->first_ns = now_ns;
	s->total = 0;
	s->got = 0;
	s->n_frags = 0;
	b = (uint32_t)(h & r->bucket_mask);
	s->hnext = r->buckets[b];
	r->buckets[b] = i;
	s->next = NIL;
	s->prev = r->age_tail;
	if (r->age_tail != NIL)
		r->slots[r->age_tail].next = i;
	else
		r->age_head = i;
	r->age_tail = i;
	r->st.datagrams_pending++;
	return i;
}

/* Copy len bytes at datagram offset off into the slot's blocks. -1 when the
 * block budget runs out (blocks already taken stay with the slot). */
static int
slot_store(struct alt_net_reasm *r, struct reasm_slot *s, uint32_t off,
	const uint8_t *data, uint32_t len)
{
	while (len > 0) {
		uint32_t b = off / ALT_NET_REASM_BLOCK;
		uint32_t in = off % ALT_NET_REASM_BLOCK;
		uint32_t n = ALT_NET_REASM_BLOCK - in;

		if (n > len)
			n = len;
		if (s->blocks[b] == NULL) {
			s->blocks[b] = alt_pool_get(&r->pool);
			if (s->blocks[b] == NULL)
				return -1;
			if (++r->st.blocks_in_use > r->st.blocks_peak)
				r->st.blocks_peak = r->st.blocks_in_use;
		}
		memcpy(s->blocks[b] + in, data, n);
		off += n;
		data += n;
		len -= n;
	}
	return 0;
}

static enum alt_net_reasm_outcome
frag_drop(struct alt_net_reasm *r, enum alt_net_reasm_outcome why)
{
	r->st.frags[why]++;
	return why;
}

static enum alt_net_reasm_outcome
frag_kill(struct alt_net_reasm *r, struct reasm_slot *s, enum alt_net_reasm_outcome why)
{
	slot_kill(r, s, why);
	return frag_drop(r, why);
}

/* Add one fragment; see alt_net.h. */
enum alt_net_reasm_outcome
alt_net_reasm_add(struct alt_net_reasm *r, const struct alt_net_pkt *pkt,
	uint64_t now_ns, const uint8_t **dgram, size_t *dgram_len)
{
	const struct alt_net_frag *f = &pkt->frag;
	uint8_t version = pkt->inner.version;
	uint8_t proto = version == 4 ? f->proto : 0;
	uint32_t off = f->offset, len = f->len, end = off + len;
	uint32_t max = version == 4 ? ALT_NET_REASM_MAX_V4 : ALT_NET_REASM_MAX_V6;
	struct reasm_ext *ext;
	struct reasm_slot *s;
	uint64_t h;
	uint32_t i, lo, hi, n;

	r->st.frags_in++;
	alt_net_reasm_expire(r, now_ns);
	if ((version != 4 && version != 6) || len == 0 || f->data == NULL ||
			(f->more && (len & 7) != 0))
		return frag_drop(r, ALT_NET_REASM_BAD_FRAG);

	h = key_hash(pkt->inner.src, pkt->inner.dst, f->id, version, proto);
	for (i = r->buckets[h & r->bucket_mask]; i != NIL; i = r->slots[i].hnext) {
		s = &r->slots[i];
		if (s->hash == h && s->id == f->id && s->version == version &&
				s->proto == proto && memcmp(s->src, pkt->inner.src, 16) == 0 &&
				memcmp(s->dst, pkt->inner.dst, 16) == 0)
			break;
	}
	if (i == NIL)
		i = slot_new(r, pkt, h, proto, now_ns);
	s = &r->slots[i];
	if (s->dead)
		return frag_drop(r, (enum alt_net_reasm_outcome)s->dead);
	if (end > max)
		return frag_kill(r, s, ALT_NET_REASM_TOO_BIG);

	/* Extents are sorted by offset and never overlap: find the first one
	 * at or after off, then check both neighbours. */
	ext = r->ext + (size_t)i * r->p.max_frags;
	n = s->n_frags;
	lo = 0;
	hi = n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (ext[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && ext[lo].off == off && ext[lo].len == len)
		return frag_drop(r, ALT_NET_REASM_DUPLICATE);
	if ((lo < n && ext[lo].off < end) ||
			(lo > 0 && (uint32_t)ext[lo - 1].off + ext[lo - 1].len > off))
		return frag_kill(r, s, ALT_NET_REASM_OVERLAP);
	if (!f->more) {
		/* the last fragment fixes the total: nothing may lie beyond it */
		if ((s->has_last && s->total != end) || lo < n)
			return frag_kill(r, s, ALT_NET_REASM_OVERLAP);
	} else if (s->has_last && end >= s->total) {
		return frag_kill(r, s, ALT_NET_REASM_OVERLAP);
	}
	if (n == r->p.max_frags)
		return frag_kill(r, s, ALT_NET_REASM_TOO_MANY_FRAGS);
	if (slot_store(r, s, off, f->data, len) != 0)
		return frag_kill(r, s, ALT_NET_REASM_NO_MEMORY);

	memmove(ext + lo + 1, ext + lo, (size_t)(n - lo) * sizeof(*ext));
	ext[lo].off = (uint16_t)off;
	ext[lo].len = (uint16_t)len;
	s->n_frags = n + 1;
	s->got += len;
	r->st.frags_pending++;
	if (!f->more) {
		s->has_last = 1;
		s->total = end;
	}
	if (!s->has_last || s->got != s->total) {
		r->st.frags[ALT_NET_REASM_HELD]++;
		return ALT_NET_REASM_HELD;
	}

	/* Complete: gather the blocks into the output buffer. */
	for (off = 0; off < s->total; off += ALT_NET_REASM_BLOCK) {
		uint32_t k = s->total - off;

		memcpy(r->out + off, s->blocks[off / ALT_NET_REASM_BLOCK],
			k < ALT_NET_REASM_BLOCK ? k : ALT_NET_REASM_BLOCK);
	}
	*dgram = r->out;
	*dgram_len = s->total;
	r->st.frags[ALT_NET_REASM_COMPLETE] += s->n_frags;
	r->st.datagrams[ALT_NET_REASM_COMPLETE]++;
	slot_free_data(r, s);
	slot_release(r, i);
	return ALT_NET_REASM_COMPLETE;
}

/* Copy the counters; see struct alt_net_reasm_stats. */
void
alt_net_reasm_get_stats(const struct alt_net_reasm *r, struct alt_net_reasm_stats *s)
{
	*s = r->st;
}
