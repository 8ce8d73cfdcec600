/* SPDX-License-Identifier: BSD-3-Clause
 * Frames to tracing payloads; see netfeed.h.
 */
#include "netfeed.h"

#include <stdlib.h>

int
netfeed_init(struct netfeed *nf)
{
	struct alt_net_reasm_params rp;
	size_t sz;

	memset(nf, 0, sizeof(*nf));
	alt_net_cfg_default(&nf->cfg);
	alt_net_reasm_params_default(&rp);
	sz = alt_net_reasm_memsize(&rp);
	if (sz == 0)
		return -1;
	nf->reasm_mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	if (nf->reasm_mem == NULL)
		return -1;
	nf->reasm = alt_net_reasm_init(nf->reasm_mem, &rp);
	if (nf->reasm == NULL) {
		free(nf->reasm_mem);
		nf->reasm_mem = NULL;
		return -1;
	}
	return 0;
}

void
netfeed_fini(struct netfeed *nf)
{
	free(nf->reasm_mem);
	nf->reasm_mem = NULL;
	nf->reasm = NULL;
}

int
netfeed_frame(struct netfeed *nf, const uint8_t *frame, size_t len, uint64_t ts_ns,
	      struct netfeed_payload *pl)
{
	struct alt_net_pkt pkt;
	enum alt_net_outcome o;
	enum alt_net_reasm_outcome ro;
	const uint8_t *dg;
	size_t dlen;

	nf->frames++;
	o = alt_net_classify(&nf->cfg, frame, len, &pkt);
	alt_net_count(&nf->cnt, &pkt, o);
	if (o == ALT_NET_FRAGMENT) {
		ro = alt_net_reasm_add(nf->reasm, &pkt, ts_ns, &dg, &dlen);
		if (ro != ALT_NET_REASM_HELD && ro != ALT_NET_REASM_COMPLETE)
			nf->frag_drops++;
		if (ro != ALT_NET_REASM_COMPLETE)
			return 0;
		o = alt_net_classify_l4(&nf->cfg, dg, dlen, &pkt);
		alt_net_count(&nf->cnt_l4, &pkt, o);
		if (o != ALT_NET_TRACING)
			return 0;
		nf->reassembled++;
	} else if (o != ALT_NET_TRACING) {
		return 0;
	}
	pl->data = pkt.payload;
	pl->len = pkt.payload_len;
	pl->format = pkt.format;
	pl->flow = alt_net_flow_key(&pkt);
	nf->payloads++;
	return 1;
}

uint32_t
netfeed_flush(struct netfeed *nf)
{
	return alt_net_reasm_flush(nf->reasm);
}
