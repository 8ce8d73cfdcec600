/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer target: L2..L4 classification and fragment reassembly on
 * arbitrary frames; every fragment must end under one outcome.
 */
#include <stdlib.h>

#include "alt_net.h"

static struct alt_net_reasm *reasm;
static uint64_t now;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alt_net_cfg cfg;
	struct alt_net_pkt pkt;
	struct alt_net_reasm_stats st;
	enum alt_net_outcome o;
	uint8_t *copy;

	if (reasm == NULL) {
		struct alt_net_reasm_params p;
		alt_net_reasm_params_default(&p);
		p.max_datagrams = 16;
		p.max_bytes = 1 << 20;
		reasm = alt_net_reasm_init(malloc(alt_net_reasm_memsize(&p)), &p);
		if (reasm == NULL)
			abort();
	}
	alt_net_cfg_default(&cfg);
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	o = alt_net_classify(&cfg, copy, size, &pkt);
	if (o == ALT_NET_TRACING && (pkt.payload < copy || pkt.payload + pkt.payload_len > copy + size))
		abort();
	if (o == ALT_NET_FRAGMENT) {
		const uint8_t *dg;
		size_t dlen;
		now += 1000;
		if (alt_net_reasm_add(reasm, &pkt, now, &dg, &dlen) == ALT_NET_REASM_COMPLETE)
			(void)alt_net_classify_l4(&cfg, dg, dlen, &pkt);
	}
	alt_net_reasm_get_stats(reasm, &st);
	uint64_t sum = st.frags[ALT_NET_REASM_COMPLETE] + st.frags_pending;
	for (unsigned r = ALT_NET_REASM_DUPLICATE; r < ALT_NET_REASM_OUTCOME_COUNT; r++)
		sum += st.frags[r];
	if (sum != st.frags_in)
		abort();
	free(copy);
	return 0;
}
