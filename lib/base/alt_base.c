/* SPDX-License-Identifier: BSD-3-Clause */
#include "alt_base.h"

#include <errno.h>

static const char hexdig[] = "0123456789abcdef";

static void
fmt_hex64(char *out, uint64_t v)
{
	for (int i = 15; i >= 0; i--) {
		out[i] = hexdig[v & 0xf];
		v >>= 4;
	}
}

void
alt_fmt_trace_id(char out[33], const struct alt_trace_id *t)
{
	fmt_hex64(out, t->hi);
	fmt_hex64(out + 16, t->lo);
	out[32] = '\0';
}

void
alt_fmt_id64(char out[17], uint64_t v)
{
	fmt_hex64(out, v);
	out[16] = '\0';
}

int
alt_parse_trace_id(const char *s, size_t len, struct alt_trace_id *t)
{
	uint64_t hi = 0, lo = 0;

	if (len == 0 || len > 32)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = alt_hex_value(s[i]);
		if (v < 0)
			return -1;
		hi = (hi << 4) | (lo >> 60);
		lo = (lo << 4) | (uint64_t)v;
	}
	t->hi = hi;
	t->lo = lo;
	return 0;
}

int
alt_parse_id64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 16)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = alt_hex_value(s[i]);
		if (d < 0)
			return -1;
		x = (x << 4) | (uint64_t)d;
	}
	*v = x;
	return 0;
}

uint64_t
alt_hash_bytes(const void *p, size_t len, uint64_t seed)
{
	/* 8 bytes at a time, multiply-mix; stable across hosts (LE loads). */
	const uint8_t *b = p;
	uint64_t h = seed ^ (0x9e3779b97f4a7c15ULL * (len + 1));

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		h = alt_mix64(h ^ w);
		b += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)b[i] << (8 * i);
		h = alt_mix64(h ^ w ^ 0xff00000000000000ULL);
	}
	return alt_mix64(h);
}

/* ---- RSS ---- */

const uint8_t alt_rss_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

uint32_t
alt_toeplitz(const uint8_t key[40], const uint8_t *data, size_t len)
{
	/* window = the 32 key bits starting at the current input bit */
	uint32_t window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	uint32_t h = 0;

	if (len > 36)
		len = 36;
	for (size_t i = 0; i < len; i++) {
		uint8_t next = key[i + 4];
		for (int b = 7; b >= 0; b--) {
			if (data[i] & (1u << b))
				h ^= window;
			window = window << 1 | ((next >> b) & 1u);
		}
	}
	return h;
}

/* ---- pool ---- */

static uint32_t
round8(uint32_t x)
{
	return (x + 7u) & ~7u;
}

size_t
alt_pool_memsize(uint32_t elt_size, uint32_t n)
{
	return ((size_t)round8(elt_size < 8 ? 8 : elt_size) + sizeof(void *)) * n;
}

int
alt_pool_init(struct alt_pool *p, void *mem, size_t memsize, uint32_t elt_size, uint32_t n)
{
	uint32_t es = round8(elt_size < 8 ? 8 : elt_size);

	if (p == NULL || (mem == NULL && n > 0) || memsize < alt_pool_memsize(elt_size, n))
		return -EINVAL;
	p->base = mem;
	p->elt_size = es;
	p->n = n;
	p->avail = n;
	p->min_avail = n;
	p->stack = (void **)(p->base + (size_t)es * n);
	/* Gets come out in address order. */
	for (uint32_t i = 0; i < n; i++)
		p->stack[i] = p->base + (size_t)(n - 1 - i) * es;
	return 0;
}

/* ---- intern table ---- */

/* struct alt_intern and its entries are in alt_base.h (for
 * alt_intern_hash_inline). */

static uint32_t
slots_for(uint32_t max_strings)
{
	uint32_t s = 16;
	while (s < max_strings * 2u)
		s <<= 1;
	return s;
}

size_t
alt_intern_memsize(uint32_t max_strings, uint32_t max_bytes)
{
	if (max_strings < 2)
		max_strings = 2;
	return sizeof(struct alt_intern) + sizeof(struct alt_intern_ent) * max_strings +
	       sizeof(uint32_t) * slots_for(max_strings) + round8(max_bytes + 16);
}

static uint32_t
intern_insert(struct alt_intern *t, const char *s, uint32_t len, uint64_t h)
{
	uint32_t id = t->count++;
	struct alt_intern_ent *e = &t->ents[id];

	e->hash = h;
	e->off = t->used_bytes;
	e->len = len;
	memcpy(t->bytes + e->off, s, len);
	t->bytes[e->off + len] = '\0';
	t->used_bytes += len + 1;
	return id;
}

static uint32_t
intern_lookup_or_add(struct alt_intern *t, const char *s, uint32_t len, uint64_t h, bool add)
{
	uint32_t i = (uint32_t)h & t->mask;

	for (;;) {
		uint32_t v = t->slots[i];
		if (v == 0)
			break;
		const struct alt_intern_ent *e = &t->ents[v - 1];
		if (e->hash == h && e->len == len && memcmp(t->bytes + e->off, s, len) == 0)
			return v - 1;
		i = (i + 1) & t->mask;
	}
	if (!add)
		return UINT32_MAX;
	if (t->count >= t->max_strings || t->used_bytes + len + 1 > t->max_bytes) {
		t->overflows++;
		return ALT_INTERN_OVERFLOW;
	}
	uint32_t id = intern_insert(t, s, len, h);
	t->slots[i] = id + 1;
	return id;
}

struct alt_intern *
alt_intern_init(void *mem, uint32_t max_strings, uint32_t max_bytes)
{
	struct alt_intern *t = mem;
	uint8_t *p = mem;

	if (mem == NULL)
		return NULL;
	if (max_strings < 2)
		max_strings = 2;
	memset(t, 0, sizeof(*t));
	t->max_strings = max_strings;
	t->mask = slots_for(max_strings) - 1;
	t->max_bytes = round8(max_bytes + 16);
	p += sizeof(*t);
	t->ents = (struct alt_intern_ent *)p;
	p += sizeof(struct alt_intern_ent) * max_strings;
	t->slots = (uint32_t *)p;
	p += sizeof(uint32_t) * (t->mask + 1);
	t->bytes = (char *)p;
	memset(t->slots, 0, sizeof(uint32_t) * (t->mask + 1));
	/* Fixed ids: 0 = "", 1 = "<overflow>". */
	intern_lookup_or_add(t, "", 0, alt_hash_bytes("", 0, 0), true);
	static const char ovf[] = "<overflow>";
	intern_lookup_or_add(t, ovf, sizeof(ovf) - 1, alt_hash_bytes(ovf, sizeof(ovf) - 1, 0), true);
	return t;
}

uint32_t
alt_intern_get(struct alt_intern *t, const char *s, uint32_t len)
{
	if (len == 0)
		return ALT_INTERN_EMPTY;
	return intern_lookup_or_add(t, s, len, alt_hash_bytes(s, len, 0), true);
}

const char *
alt_intern_str(const struct alt_intern *t, uint32_t id, uint32_t *len)
{
	if (id >= t->count)
		id = ALT_INTERN_OVERFLOW;
	if (len)
		*len = t->ents[id].len;
	return t->bytes + t->ents[id].off;
}

uint64_t
alt_intern_hash(const struct alt_intern *t, uint32_t id)
{
	return alt_intern_hash_inline(t, id);
}

uint32_t
alt_intern_count(const struct alt_intern *t)
{
	return t->count;
}

uint64_t
alt_intern_overflows(const struct alt_intern *t)
{
	return t->overflows;
}

size_t
alt_intern_bytes_used(const struct alt_intern *t)
{
	return t->used_bytes;
}
