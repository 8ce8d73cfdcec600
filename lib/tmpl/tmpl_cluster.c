/* SPDX-License-Identifier: BSD-3-Clause
 * Clustering shapes to representative workflows: edit distance between
 * token sequences, scored by minimum description length.
 *
 * Why this method: a trace of a family that varies in repetition (a chain
 * of 50 to 62 packet events, 3 to 12 shard calls) differs from its
 * siblings by a few inserted or deleted labels; the edit distance of the
 * label sequences measures exactly that. A fixed distance threshold,
 * though, is wrong at both ends (one edit of a 3-node trace is a
 * different request, ten edits of a 350-node trace are noise). MDL
 * settles it without a threshold: a shape belongs to a cluster when
 * writing it down as edits of the cluster's representative takes fewer
 * bits than writing it down from scratch, and the representative is the
 * member from which the cluster is cheapest to write down (the weighted
 * medoid).
 */
#include "alt_tmpl.h"

#include <math.h>
#include <stdlib.h>

uint32_t
alt_tmpl_edit_distance(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb, uint32_t bound)
{
	uint32_t *prev, *cur, inf = bound + 1, result;

	if (na > nb ? na - nb > bound : nb - na > bound)
		return inf;
	if (na == 0 || nb == 0)
		return na > nb ? na : nb;
	prev = malloc(sizeof(uint32_t) * 2 * ((size_t)nb + 1));
	if (prev == NULL)
		return inf;
	cur = prev + nb + 1;
	for (uint32_t j = 0; j <= nb; j++)
		prev[j] = j <= bound ? j : inf;
	for (uint32_t i = 1; i <= na; i++) {
		uint32_t lo = i > bound ? i - bound : 1;
		uint32_t hi = i + bound < nb ? i + bound : nb;
		uint32_t row_min = inf;

		cur[0] = i <= bound ? i : inf;
		if (lo > 1)
			cur[lo - 1] = inf;
		for (uint32_t j = lo; j <= hi; j++) {
			uint32_t v = prev[j - 1] + (a[i - 1] != b[j - 1]);
			uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			if (del < v)
				v = del;
			if (ins < v)
				v = ins;
			if (v > inf)
				v = inf;
			cur[j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (hi < nb)
			cur[hi + 1] = inf;
		if (row_min > bound && cur[0] > bound) {
			free(prev < cur ? prev : cur);
			return inf;
		}
		uint32_t *t = prev;
		prev = cur;
		cur = t;
	}
	result = prev[nb] > inf ? inf : prev[nb];
	free(prev < cur ? prev : cur);
	return result;
}

double
alt_tmpl_mdl_alone(uint32_t n, uint32_t alphabet)
{
	/* every token and an end mark, each one of alphabet + 1 symbols */
	return ((double)n + 1.0) * log2((double)alphabet + 1.0);
}

double
alt_tmpl_mdl_edits(uint32_t d, uint32_t n_ref, uint32_t alphabet)
{
	/* the edit count, then per edit: its kind (insert, delete, substitute),
	 * its position in the reference and the token it brings */
	return log2((double)d + 1.0) + 1.0 +
	       (double)d * (log2(3.0) + log2((double)n_ref + 1.0) + log2((double)alphabet + 1.0));
}

/* The most edits of a reference of n_ref tokens worth describing s with. */
static uint32_t
edit_budget(const struct alt_tmpl_seq *s, uint32_t n_ref, uint32_t alphabet, double gain)
{
	double alone = alt_tmpl_mdl_alone(s->n, alphabet) * gain;
	uint32_t d = 0;

	while (alt_tmpl_mdl_edits(d + 1, n_ref, alphabet) < alone)
		d++;
	return d;
}

/* The cheapest cluster representative to describe s from, or UINT32_MAX. */
static uint32_t
nearest(const struct alt_tmpl_seq *seqs, const struct alt_tmpl_seq *s, const uint32_t *reps, uint32_t n_reps,
	uint32_t alphabet, double gain, double *cost)
{
	uint32_t best = UINT32_MAX;
	double bc = alt_tmpl_mdl_alone(s->n, alphabet) * gain;

	for (uint32_t c = 0; c < n_reps; c++) {
		const struct alt_tmpl_seq *r = &seqs[reps[c]];
		uint32_t bound = edit_budget(s, r->n, alphabet, gain);
		uint32_t d = alt_tmpl_edit_distance(s->tok, s->n, r->tok, r->n, bound);
		double cc;

		if (d > bound)
			continue;
		cc = alt_tmpl_mdl_edits(d, r->n, alphabet);
		if (cc < bc) {
			bc = cc;
			best = c;
		}
	}
	*cost = bc;
	return best;
}

static const struct alt_tmpl_seq *sort_seqs;

static int
by_weight(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (sort_seqs[x].weight != sort_seqs[y].weight)
		return sort_seqs[x].weight > sort_seqs[y].weight ? -1 : 1;
	return x < y ? -1 : x > y;
}

#define MEDOID_CANDIDATES 16

uint32_t
alt_tmpl_cluster(const struct alt_tmpl_seq *seqs, uint32_t n, uint32_t alphabet, double gain, uint32_t *cluster_of,
		 uint32_t *rep_of)
{
	uint32_t *order = malloc(sizeof(uint32_t) * (n ? n : 1));
	uint32_t n_cl = 0;

	if (order == NULL)
		return 0;
	if (!(gain > 0 && gain <= 1))
		gain = 1;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	sort_seqs = seqs;
	qsort(order, n, sizeof(*order), by_weight);
	/* 1. leader pass, heaviest first */
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = order[k];
		double cost;
		uint32_t c = nearest(seqs, &seqs[i], rep_of, n_cl, alphabet, gain, &cost);

		if (c == UINT32_MAX) {
			c = n_cl++;
			rep_of[c] = i;
		}
		cluster_of[i] = c;
	}
	/* 2. each representative becomes its cluster's weighted medoid among
	 * its heaviest members: the one the members cost least to describe
	 * from (a member too far costs what describing it alone does) */
	for (uint32_t c = 0; c < n_cl; c++) {
		uint32_t cand[MEDOID_CANDIDATES], nc = 0, best = rep_of[c];
		double best_cost = INFINITY;

		for (uint32_t k = 0; k < n && nc < MEDOID_CANDIDATES; k++)
			if (cluster_of[order[k]] == c)
				cand[nc++] = order[k];
		if (nc <= 1)
			continue;
		for (uint32_t x = 0; x < nc; x++) {
			const struct alt_tmpl_seq *r = &seqs[cand[x]];
			double total = alt_tmpl_mdl_alone(r->n, alphabet);

			for (uint32_t k = 0; k < n && total < best_cost; k++) {
				const struct alt_tmpl_seq *s = &seqs[order[k]];
				double alone = alt_tmpl_mdl_alone(s->n, alphabet), cost = alone;
				uint32_t bound, d;

				if (cluster_of[order[k]] != c || order[k] == cand[x])
					continue;
				bound = edit_budget(s, r->n, alphabet, 1.0);
				d = alt_tmpl_edit_distance(s->tok, s->n, r->tok, r->n, bound);
				if (d <= bound)
					cost = alt_tmpl_mdl_edits(d, r->n, alphabet);
				total += (double)s->weight * (cost < alone ? cost : alone);
			}
			if (total < best_cost) {
				best_cost = total;
				best = cand[x];
			}
		}
		rep_of[c] = best;
	}
	/* 3. members move to the medoid they are cheapest to describe from
	 * (a representative stays in its own cluster) */
	for (uint32_t i = 0; i < n; i++) {
		double cost;
		uint32_t c;
		bool is_rep = false;

		for (uint32_t x = 0; x < n_cl && !is_rep; x++)
			is_rep = rep_of[x] == i;
		if (is_rep)
			continue;
		c = nearest(seqs, &seqs[i], rep_of, n_cl, alphabet, gain, &cost);
		if (c != UINT32_MAX)
			cluster_of[i] = c;
	}
	for (uint32_t c = 0; c < n_cl; c++)
		cluster_of[rep_of[c]] = c;
	free(order);
	return n_cl;
}
