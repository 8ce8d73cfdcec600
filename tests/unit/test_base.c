/* SPDX-License-Identifier: BSD-3-Clause
 * Unit tests: lib/base (text forms, hashes, pools, intern table).
 */
#include <CUnit/Basic.h>
#include <stdlib.h>

#include <errno.h>

#include "alt_base.h"

static void
test_trace_id_text(void)
{
	struct alt_trace_id t = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL }, u;
	char s[33];

	alt_fmt_trace_id(s, &t);
	CU_ASSERT_STRING_EQUAL(s, "0123456789abcdeffedcba9876543210");
	CU_ASSERT_EQUAL(alt_parse_trace_id(s, 32, &u), 0);
	CU_ASSERT(alt_trace_id_eq(&t, &u));
	t.hi = 0;
	t.lo = 0x42;
	alt_fmt_trace_id(s, &t);
	CU_ASSERT_STRING_EQUAL(s, "00000000000000000000000000000042");
	CU_ASSERT_EQUAL(alt_parse_trace_id("42", 2, &u), 0);
	CU_ASSERT(alt_trace_id_eq(&t, &u));
	CU_ASSERT_EQUAL(alt_parse_trace_id("4g", 2, &u), -1);
	CU_ASSERT_EQUAL(alt_parse_trace_id("", 0, &u), -1);
	CU_ASSERT_EQUAL(alt_parse_trace_id("000000000000000000000000000000001", 33, &u), -1);
}

static void
test_id64_text(void)
{
	char s[17];
	uint64_t v;

	alt_fmt_id64(s, 0xabcULL);
	CU_ASSERT_STRING_EQUAL(s, "0000000000000abc");
	CU_ASSERT_EQUAL(alt_parse_id64("FFFFFFFFFFFFFFFF", 16, &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_MAX);
	CU_ASSERT_EQUAL(alt_parse_id64("12345678901234567", 17, &v), -1);
}

static void
test_fold16(void)
{
	/* trace_id bytes 00 01 02 ... 0f: LE words 0x0100, 0x0302, ... 0x0f0e */
	struct alt_trace_id t = { 0x0f0e0d0c0b0a0908ULL, 0x0706050403020100ULL };
	uint16_t want = 0;

	for (unsigned i = 0; i < 16; i += 2)
		want ^= (uint16_t)(i | ((i + 1) << 8));
	CU_ASSERT_EQUAL(alt_trace_fold16(&t), want);
	CU_ASSERT_EQUAL(alt_trace_affine_port(&t), 0xC000 | (want & 0x3FFF));
}

static void
test_owner_spread(void)
{
	unsigned cnt[4] = { 0 };

	for (uint64_t i = 1; i <= 40000; i++) {
		struct alt_trace_id t = { 0, i };
		unsigned o = alt_trace_owner(&t, 4);
		CU_ASSERT_FATAL(o < 4);
		cnt[o]++;
	}
	for (unsigned i = 0; i < 4; i++)
		CU_ASSERT(cnt[i] > 9000 && cnt[i] < 11000);
	struct alt_trace_id one = { 7, 9 };
	CU_ASSERT_EQUAL(alt_trace_owner(&one, 1), 0);
}

static void
test_hash_stable(void)
{
	CU_ASSERT_EQUAL(alt_hash_bytes("checkout", 8, 0), alt_hash_bytes("checkout", 8, 0));
	CU_ASSERT_NOT_EQUAL(alt_hash_bytes("checkout", 8, 0), alt_hash_bytes("checkouT", 8, 0));
	CU_ASSERT_NOT_EQUAL(alt_hash_bytes("a", 1, 0), alt_hash_bytes("a\0", 2, 0));
	CU_ASSERT_NOT_EQUAL(alt_hash_bytes("", 0, 0), alt_hash_bytes("", 0, 1));
}

/* The RSS specification's verification examples (default key). */
static void
test_toeplitz(void)
{
	/* IPv4: src 66.9.149.187, dst 161.142.100.80, sport 2794, dport 1766 */
	const uint8_t ip4[12] = { 66, 9, 149, 187, 161, 142, 100, 80, 2794 >> 8, 2794 & 255, 1766 >> 8, 1766 & 255 };
	/* src 199.92.111.2, dst 65.69.140.83, sport 14230, dport 4739 */
	const uint8_t ip4b[12] = { 199, 92, 111, 2, 65, 69, 140, 83, 14230 >> 8, 14230 & 255, 4739 >> 8, 4739 & 255 };

	CU_ASSERT_EQUAL(alt_toeplitz(alt_rss_key, ip4, 8), 0x323e8fc2);
	CU_ASSERT_EQUAL(alt_toeplitz(alt_rss_key, ip4, 12), 0x51ccc178);
	CU_ASSERT_EQUAL(alt_toeplitz(alt_rss_key, ip4b, 8), 0xd718262a);
	CU_ASSERT_EQUAL(alt_toeplitz(alt_rss_key, ip4b, 12), 0xc626b0ea);
	/* l4-src queues spread over the queues and are stable */
	unsigned cnt[4] = { 0 };
	for (uint32_t x = 0; x < 16384; x++) {
		uint16_t q = alt_rss_l4src_queue((uint16_t)(0xC000 | x), 512, 4);
		CU_ASSERT_FATAL(q < 4);
		cnt[q]++;
	}
	for (unsigned q = 0; q < 4; q++)
		CU_ASSERT(cnt[q] > 3000);
	CU_ASSERT_EQUAL(alt_rss_l4src_queue(0xC123, 512, 1), 0);
}

static void
test_pool(void)
{
	struct alt_pool p;
	size_t sz = alt_pool_memsize(sizeof(struct alt_node), 3);
	void *mem = malloc(sz);
	void *a, *b, *c;

	CU_ASSERT_EQUAL(alt_pool_init(&p, mem, sz - 1, sizeof(struct alt_node), 3), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(alt_pool_init(&p, mem, sz, sizeof(struct alt_node), 3), 0);
	a = alt_pool_get(&p);
	b = alt_pool_get(&p);
	c = alt_pool_get(&p);
	CU_ASSERT_PTR_NOT_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT(a != b && b != c);
	CU_ASSERT_PTR_NULL(alt_pool_get(&p));
	CU_ASSERT_EQUAL(alt_pool_in_use(&p), 3);
	CU_ASSERT_EQUAL(p.min_avail, 0);
	alt_pool_put(&p, b);
	CU_ASSERT_PTR_EQUAL(alt_pool_get(&p), b);
	alt_pool_put(&p, a);
	alt_pool_put(&p, b);
	alt_pool_put(&p, c);
	CU_ASSERT_EQUAL(alt_pool_in_use(&p), 0);
	free(mem);
}

static void
test_intern(void)
{
	void *mem = malloc(alt_intern_memsize(4, 32));
	struct alt_intern *t = alt_intern_init(mem, 4, 32);
	uint32_t len, a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(alt_intern_get(t, "", 0), ALT_INTERN_EMPTY);
	a = alt_intern_get(t, "cart", 4);
	b = alt_intern_get(t, "checkout", 8);
	CU_ASSERT(a >= 2 && b >= 2 && a != b);
	CU_ASSERT_EQUAL(alt_intern_get(t, "cart", 4), a);
	CU_ASSERT_STRING_EQUAL(alt_intern_str(t, b, &len), "checkout");
	CU_ASSERT_EQUAL(len, 8);
	CU_ASSERT_EQUAL(alt_intern_hash(t, a), alt_hash_bytes("cart", 4, 0));
	/* full: 4 strings max ("", "<overflow>", cart, checkout) */
	CU_ASSERT_EQUAL(alt_intern_get(t, "payment", 7), ALT_INTERN_OVERFLOW);
	CU_ASSERT_EQUAL(alt_intern_overflows(t), 1);
	CU_ASSERT_STRING_EQUAL(alt_intern_str(t, ALT_INTERN_OVERFLOW, NULL), "<overflow>");
	CU_ASSERT_STRING_EQUAL(alt_intern_str(t, 999, NULL), "<overflow>");
	CU_ASSERT_EQUAL(alt_intern_count(t), 4);
	free(mem);
}

static void
test_intern_bytes_bound(void)
{
	void *mem = malloc(alt_intern_memsize(1000, 64));
	struct alt_intern *t = alt_intern_init(mem, 1000, 64);
	char s[40];
	unsigned ovf = 0;

	memset(s, 'x', sizeof(s));
	for (unsigned i = 0; i < 10; i++) {
		s[0] = (char)('a' + i);
		if (alt_intern_get(t, s, sizeof(s)) == ALT_INTERN_OVERFLOW)
			ovf++;
	}
	CU_ASSERT(ovf >= 8);
	CU_ASSERT(alt_intern_bytes_used(t) <= 64 + 16 + 8);
	free(mem);
}

int
main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("base", NULL, NULL);
	CU_add_test(s, "trace id text", test_trace_id_text);
	CU_add_test(s, "id64 text", test_id64_text);
	CU_add_test(s, "fold16", test_fold16);
	CU_add_test(s, "owner spread", test_owner_spread);
	CU_add_test(s, "hash stable", test_hash_stable);
	CU_add_test(s, "toeplitz", test_toeplitz);
	CU_add_test(s, "pool", test_pool);
	CU_add_test(s, "intern", test_intern);
	CU_add_test(s, "intern bytes bound", test_intern_bytes_bound);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned f = CU_get_number_of_failures();
	CU_cleanup_registry();
	return f ? 1 : 0;
}
