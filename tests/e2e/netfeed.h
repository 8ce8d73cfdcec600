/* SPDX-License-Identifier: BSD-3-Clause
 * Frames to tracing payloads for the end-to-end test and the benchmark:
 * alt_net_classify, and for IP fragments alt_net_reasm_add followed by
 * alt_net_classify_l4 on the reassembled datagram. Counts every outcome.
 */
#ifndef E2E_NETFEED_H
#define E2E_NETFEED_H

#include "alt_net.h"

struct netfeed {
	struct alt_net_cfg cfg;
	struct alt_net_reasm *reasm;
	void *reasm_mem;
	struct alt_net_counters cnt;            /* outer classification of each frame */
	struct alt_net_counters cnt_l4;         /* classification of reassembled datagrams */
	uint64_t frames;
	uint64_t payloads;                      /* tracing payloads handed out */
	uint64_t reassembled;                   /* of them, from reassembled datagrams */
	uint64_t frag_drops;                    /* fragments dropped by the reassembler */
};

/* A tracing payload: valid until the next netfeed_frame call. */
struct netfeed_payload {
	const uint8_t *data;
	uint32_t len;
	uint8_t format;                         /* enum alt_net_format == enum alt_wire_format */
	uint64_t flow;                          /* alt_net_flow_key: the sender when the payload names none */
};

/* Default ports and reassembly parameters. 0, or -1 (no memory). */
int netfeed_init(struct netfeed *nf);
void netfeed_fini(struct netfeed *nf);

/* Classify one Ethernet frame captured at ts_ns. Returns 1 with *pl
 * filled when a tracing payload came out (directly or by completing a
 * datagram), else 0. */
int netfeed_frame(struct netfeed *nf, const uint8_t *frame, size_t len, uint64_t ts_ns,
		  struct netfeed_payload *pl);

/* End of input: drop what the reassembler still holds; returns how many
 * fragments that was. */
uint32_t netfeed_flush(struct netfeed *nf);

#endif /* E2E_NETFEED_H */
