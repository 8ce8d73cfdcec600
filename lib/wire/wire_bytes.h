/* SPDX-License-Identifier: BSD-3-Clause
 * Private to lib/wire: unaligned little- and big-endian loads and stores.
 */
#ifndef ALT_WIRE_BYTES_H
#define ALT_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WB_LE(bits, v) (v)
#define WB_BE(bits, v) __builtin_bswap##bits(v)
#else
#define WB_LE(bits, v) __builtin_bswap##bits(v)
#define WB_BE(bits, v) (v)
#endif

#define WB_LOAD(name, bits, order)                                      \
	static inline __attribute__((always_inline)) uint##bits##_t     \
	name(const uint8_t *p)                                          \
	{                                                               \
		uint##bits##_t v;                                       \
		memcpy(&v, p, sizeof(v));                               \
		return order(bits, v);                                  \
	}

#define WB_STORE(name, bits, order)                                     \
	static inline __attribute__((always_inline)) void               \
	name(uint8_t *p, uint##bits##_t v)                              \
	{                                                               \
		v = order(bits, v);                                     \
		memcpy(p, &v, sizeof(v));                               \
	}

WB_LOAD(ld_le16, 16, WB_LE)
WB_LOAD(ld_le32, 32, WB_LE)
WB_LOAD(ld_le64, 64, WB_LE)
WB_LOAD(ld_be32, 32, WB_BE)
WB_LOAD(ld_be64, 64, WB_BE)
WB_STORE(st_le16, 16, WB_LE)
WB_STORE(st_le32, 32, WB_LE)
WB_STORE(st_le64, 64, WB_LE)

#endif /* ALT_WIRE_BYTES_H */
