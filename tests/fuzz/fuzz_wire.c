/* SPDX-License-Identifier: BSD-3-Clause
 * libFuzzer target: every wire decoder on arbitrary bytes. The first byte
 * picks the format. A decoder must never read past its buffer (ASan) and a
 * rejected payload must yield no records.
 */
#include <stdlib.h>

#include "alt_wire.h"

static struct alt_wire_ctx ctx;
static struct alt_record recs[4096];
static char arena[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct alt_wire_out out = { .recs = recs, .cap = 4096, .arena = arena, .arena_cap = sizeof(arena) };
	enum alt_wire_reason r;
	uint8_t *copy;

	if (!init) {
		alt_wire_ctx_init(&ctx);
		init = 1;
	}
	if (size < 1)
		return 0;
	/* an exact-size heap copy, so ASan sees any over-read */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	r = alt_wire_decode(&ctx, (enum alt_wire_format)(data[0] % ALT_FMT_COUNT), copy, size - 1, &out);
	if (r != ALT_WIRE_OK && out.n != 0)
		abort();
	for (uint32_t i = 0; i < out.n; i++)
		if (recs[i].parent_count > ALT_MAX_PARENTS || recs[i].node_id == 0)
			abort();
	free(copy);
	return 0;
}
