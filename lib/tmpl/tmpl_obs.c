/* SPDX-License-Identifier: BSD-3-Clause
 * Online learning: bounded observation tables of shapes, families and
 * edges, their merge, and the acceptance rule that turns them into a set.
 */
#include "alt_tmpl.h"

#include <errno.h>
#include <stdlib.h>

#define OBS_EDGES_PER_TRACE 512

size_t
alt_tmpl_obs_memsize(uint32_t max_entries)
{
	uint32_t slots = alt_pow2_at_least(2 * (uint64_t)(max_entries ? max_entries : 1));

	return sizeof(struct alt_tmpl_obs) + sizeof(struct alt_tmpl_obs_ent) * (size_t)slots;
}

struct alt_tmpl_obs *
alt_tmpl_obs_init(void *mem, uint32_t max_entries)
{
	struct alt_tmpl_obs *o = mem;

	if (mem == NULL || max_entries == 0 || max_entries > (1u << 28))
		return NULL;
	o->mask = alt_pow2_at_least(2 * (uint64_t)max_entries) - 1;
	o->max = max_entries;
	alt_tmpl_obs_reset(o);
	return o;
}

void
alt_tmpl_obs_reset(struct alt_tmpl_obs *o)
{
	memset(o->ent, 0, sizeof(o->ent[0]) * ((size_t)o->mask + 1));
	o->n = 0;
	o->traces = 0;
	o->overflow = 0;
}

void
alt_tmpl_obs_add(struct alt_tmpl_obs *o, enum alt_tmpl_obs_kind kind, uint64_t key, uint64_t aux, uint64_t n)
{
	uint64_t h = alt_mix64(key ^ ((uint64_t)kind << 60));

	for (uint32_t i = (uint32_t)h & o->mask;; i = (i + 1) & o->mask) {
		struct alt_tmpl_obs_ent *e = &o->ent[i];

		if (e->kind == (uint32_t)kind && e->key == key) {
			e->count += n;
			return;
		}
		if (e->kind == 0) {
			if (o->n >= o->max) {
				o->overflow += n;
				return;
			}
			e->kind = (uint32_t)kind;
			e->key = key;
			e->aux = aux;
			e->count = n;
			o->n++;
			return;
		}
	}
}

void
alt_tmpl_obs_trace(struct alt_tmpl_obs *o, struct alt_tmpl_ws *ws, const struct alt_dag *d,
		   const struct alt_intern *in, uint64_t shape)
{
	uint64_t keys[OBS_EDGES_PER_TRACE];
	uint32_t n = alt_tmpl_edge_keys(ws, d, in, keys, OBS_EDGES_PER_TRACE);
	uint64_t fam = alt_tmpl_family(ws, d, in);

	o->traces++;
	alt_tmpl_obs_add(o, ALT_TMPL_OBS_SHAPE, shape, fam, 1);
	alt_tmpl_obs_add(o, ALT_TMPL_OBS_FAMILY, fam, 0, 1);
	for (uint32_t i = 0; i < n; i++)
		alt_tmpl_obs_add(o, ALT_TMPL_OBS_EDGE, keys[i], 0, 1);
}

void
alt_tmpl_obs_merge(struct alt_tmpl_obs *dst, const struct alt_tmpl_obs *src)
{
	for (uint32_t i = 0; i <= src->mask; i++) {
		const struct alt_tmpl_obs_ent *e = &src->ent[i];

		if (e->kind != 0)
			alt_tmpl_obs_add(dst, (enum alt_tmpl_obs_kind)e->kind, e->key, e->aux, e->count);
	}
	dst->traces += src->traces;
	dst->overflow += src->overflow;
}

/* A family's traces whose exact shape is rare. */
struct fam_acc {
	uint64_t key;
	uint64_t total, rare;
};

static struct fam_acc *
fam_find(struct fam_acc *t, uint32_t mask, uint64_t key)
{
	for (uint32_t i = (uint32_t)alt_mix64(key) & mask;; i = (i + 1) & mask)
		if (t[i].total == 0 || t[i].key == key) {
			t[i].key = key;
			return &t[i];
		}
}

int
alt_tmpl_learn_accept(struct alt_tmpl_set *s, const struct alt_tmpl_obs *o, uint64_t min_support)
{
	uint32_t mask = alt_pow2_at_least(2 * (uint64_t)o->n + 2) - 1;
	struct fam_acc *fam = calloc((size_t)mask + 1, sizeof(*fam));
	int rc = 0;

	if (fam == NULL)
		return -ENOMEM;
	if (min_support == 0)
		min_support = 1;
	for (uint32_t i = 0; i <= o->mask && rc == 0; i++) {
		const struct alt_tmpl_obs_ent *e = &o->ent[i];

		if (e->kind == ALT_TMPL_OBS_SHAPE) {
			struct fam_acc *f = fam_find(fam, mask, e->aux);

			f->total += e->count;
			if (e->count < min_support)
				f->rare += e->count;
			if (e->count >= min_support) {
				struct alt_tmpl_shape sh = { .hash = e->key, .support = e->count };

				rc = alt_tmpl_set_add_shape(s, &sh);
			}
		} else if (e->kind == ALT_TMPL_OBS_EDGE && e->count >= min_support) {
			rc = alt_tmpl_set_add_edge_key(s, e->key, e->count);
		}
	}
	for (uint32_t i = 0; i <= mask && rc == 0; i++)
		if (fam[i].total > 0 && fam[i].rare >= min_support) {
			struct alt_tmpl_shape sh = { .hash = fam[i].key, .support = fam[i].total, .family = true };

			rc = alt_tmpl_set_add_shape(s, &sh);
		}
	s->min_support = min_support;
	s->traces += o->traces;
	free(fam);
	return rc;
}
