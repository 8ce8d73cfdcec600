/* SPDX-License-Identifier: BSD-3-Clause
 * rss_split: distribute a capture's frames over N pcaps the way a NIC's
 * receive-side scaling distributes them over N queues, so that N net_pcap
 * ports stand in for N RX queues (benchmarks, tests).
 *
 *   rss_split --mode l4-src|ip-udp|src-host [--queues N] [--reta R] IN.pcap OUT_PREFIX
 *
 * writes OUT_PREFIX.0.pcap .. OUT_PREFIX.<N-1>.pcap. Hashing follows what a
 * NIC configured by Altair does (Toeplitz, alt_rss_key, RETA entry i ->
 * queue i % N):
 *   l4-src: unfragmented UDP over IPv4/IPv6 -> hash of the UDP source port
 *           only; everything else -> queue 0 (RSS off for other types);
 *   ip-udp: unfragmented UDP -> hash of (src IP, dst IP, src port, dst
 *           port); fragments and other IP -> hash of (src IP, dst IP);
 *           non-IP -> queue 0;
 *   src-host: IP -> hash of the source address only (one mirror port per
 *           group of sending hosts); non-IP -> queue 0.
 * Frames are classified by the outermost headers (no decapsulation).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alt_base.h"
#include "pcapread.h"

#define MAX_Q 64

static int
usage(void)
{
	fprintf(stderr, "usage: rss_split --mode l4-src|ip-udp|src-host [--queues N] [--reta R] IN.pcap OUT_PREFIX\n");
	return 2;
}

/* Outer L3/L4 of an Ethernet frame: addresses (4 or 16 bytes), ports if an
 * unfragmented UDP datagram. Returns 0 non-IP, 4/6 IP version. */
static int
outer(const uint8_t *f, size_t len, const uint8_t **src, const uint8_t **dst, const uint8_t **ports)
{
	size_t off = 12;
	uint16_t et;

	*ports = NULL;
	if (len < 14)
		return 0;
	et = (uint16_t)(f[off] << 8 | f[off + 1]);
	while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && off + 6 <= len) {
		off += 4;
		et = (uint16_t)(f[off] << 8 | f[off + 1]);
	}
	off += 2;
	if (et == 0x0800 && off + 20 <= len) {
		const uint8_t *ip = f + off;
		size_t ihl = (size_t)(ip[0] & 15) * 4;
		bool frag = ((ip[6] & 0x3f) | ip[7]) != 0;
		*src = ip + 12;
		*dst = ip + 16;
		if (ip[9] == 17 && !frag && off + ihl + 4 <= len)
			*ports = ip + ihl;
		return 4;
	}
	if (et == 0x86dd && off + 40 <= len) {
		const uint8_t *ip = f + off;
		*src = ip + 8;
		*dst = ip + 24;
		if (ip[6] == 17 && off + 44 <= len)
			*ports = ip + 40;
		return 6;
	}
	return 0;
}

static void
put32(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f);
}

int
main(int argc, char **argv)
{
	const char *mode = NULL, *in = NULL, *prefix = NULL;
	unsigned nq = 2, reta = 512;
	FILE *out[MAX_Q];
	uint64_t cnt[MAX_Q] = { 0 };
	struct pcapr r;
	struct pcapr_frame fr;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			mode = argv[++i];
		else if (strcmp(argv[i], "--queues") == 0 && i + 1 < argc)
			nq = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--reta") == 0 && i + 1 < argc)
			reta = (unsigned)atoi(argv[++i]);
		else if (argv[i][0] == '-')
			return usage();
		else if (in == NULL)
			in = argv[i];
		else if (prefix == NULL)
			prefix = argv[i];
		else
			return usage();
	}
	if (mode == NULL || in == NULL || prefix == NULL || nq < 1 || nq > MAX_Q || reta < 1 || reta > 65535 ||
	    (strcmp(mode, "l4-src") != 0 && strcmp(mode, "ip-udp") != 0 && strcmp(mode, "src-host") != 0))
		return usage();
	if (pcapr_open(&r, in) != 0) {
		fprintf(stderr, "rss_split: %s: %s\n", in, r.err);
		return 1;
	}
	for (unsigned q = 0; q < nq; q++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s.%u.pcap", prefix, q);
		out[q] = fopen(path, "wb");
		if (out[q] == NULL) {
			fprintf(stderr, "rss_split: %s: %s\n", path, strerror(errno));
			return 1;
		}
		setvbuf(out[q], NULL, _IOFBF, 1 << 20);
		put32(out[q], r.nsec ? 0xa1b23c4d : 0xa1b2c3d4);
		uint16_t ver[2] = { 2, 4 };
		fwrite(ver, 2, 2, out[q]);
		put32(out[q], 0);
		put32(out[q], 0);
		put32(out[q], r.snaplen);
		put32(out[q], r.linktype);
	}
	while ((rc = pcapr_next(&r, &fr)) == 1) {
		const uint8_t *src, *dst, *ports;
		int v = outer(fr.data, fr.caplen, &src, &dst, &ports);
		unsigned q = 0;
		uint8_t tuple[36];
		size_t alen = v == 6 ? 16 : 4;

		if (v != 0 && strcmp(mode, "l4-src") == 0) {
			if (ports != NULL)
				q = alt_rss_l4src_queue((uint16_t)(ports[0] << 8 | ports[1]), (uint16_t)reta, (uint16_t)nq);
		} else if (v != 0 && strcmp(mode, "src-host") == 0) {
			/* one mirror port per group of sending hosts */
			q = (alt_toeplitz(alt_rss_key, src, alen) % reta) % nq;
		} else if (v != 0) {
			size_t n = 0;
			memcpy(tuple, src, alen);
			memcpy(tuple + alen, dst, alen);
			n = 2 * alen;
			if (ports != NULL) {
				memcpy(tuple + n, ports, 4);
				n += 4;
			}
			q = (alt_toeplitz(alt_rss_key, tuple, n) % reta) % nq;
		}
		uint64_t sec = fr.ts_ns / 1000000000ULL, sub = fr.ts_ns % 1000000000ULL;
		put32(out[q], (uint32_t)sec);
		put32(out[q], (uint32_t)(r.nsec ? sub : sub / 1000));
		put32(out[q], fr.caplen);
		put32(out[q], fr.origlen);
		fwrite(fr.data, 1, fr.caplen, out[q]);
		cnt[q]++;
	}
	if (rc < 0) {
		fprintf(stderr, "rss_split: %s: %s\n", in, r.err);
		return 1;
	}
	for (unsigned q = 0; q < nq; q++) {
		fclose(out[q]);
		fprintf(stderr, "%s%s.%u.pcap %llu frames", q ? ", " : "rss_split: ", prefix, q,
			(unsigned long long)cnt[q]);
	}
	fprintf(stderr, "\n");
	pcapr_close(&r);
	return 0;
}
