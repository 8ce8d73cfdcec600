/* SPDX-License-Identifier: BSD-3-Clause
 * Capture timestamps for pcap replays.
 *
 * DPDK 22.11's net_pcap reads rx_pcap files in order, one file per RX
 * queue, but hands out no capture timestamps (it advertises no timestamp
 * offload). Altair's arrival clock must run on capture time under replay,
 * so that sources age as they did on the wire and a replay behaves as the
 * live run would, whatever the replay speed. So the worker that polls such
 * a queue reads the same file's record headers alongside the driver: the
 * k-th frame it receives is the k-th record of the file. The driver skips
 * records it cannot take (larger than an mbuf without scatter): a record
 * whose length differs from the frame's is skipped here too, so the two
 * stay in step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>

#include "dp_private.h"

#define PCAP_HDR 24
#define PCAP_REC 16
#define REPLAY_SKIP_MAX 64      /* records looked ahead for the frame's length */

struct dp_replay {
	const uint8_t *map;
	size_t len;
	size_t off;
	bool swap;
	bool nsec;
	uint64_t last_ns;
	uint64_t skipped;
};

static inline uint32_t
rd32(const struct dp_replay *r, size_t off)
{
	uint32_t v;

	memcpy(&v, r->map + off, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static struct dp_replay *
replay_open(const char *path)
{
	struct dp_replay *r;
	struct stat st;
	uint32_t magic;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size < PCAP_HDR) {
		close(fd);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(fd);
		return NULL;
	}
	r->len = (size_t)st.st_size;
	/* populated now, at start: faulting the pages in while the worker
	 * reads them would cost it a minor fault every 4 KiB of capture */
	r->map = mmap(NULL, r->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (r->map == MAP_FAILED) {
		free(r);
		return NULL;
	}
	memcpy(&magic, r->map, 4);
	switch (magic) {
	case 0xa1b2c3d4: break;
	case 0xa1b23c4d: r->nsec = true; break;
	case 0xd4c3b2a1: r->swap = true; break;
	case 0x4d3cb2a1: r->swap = true; r->nsec = true; break;
	default:
		munmap((void *)(uintptr_t)r->map, r->len);
		free(r);
		return NULL;
	}
	r->off = PCAP_HDR;
	return r;
}

/* The capture timestamp (ns) of the next record of caplen bytes; the last
 * one seen when the file is exhausted or no record nearby matches. */
uint64_t
alt_dp_replay_next(struct dp_replay *r, uint32_t caplen)
{
	size_t off = r->off;

	for (unsigned k = 0; k < REPLAY_SKIP_MAX && off + PCAP_REC <= r->len; k++) {
		uint32_t sec = rd32(r, off), sub = rd32(r, off + 4), cl = rd32(r, off + 8);
		size_t next = off + PCAP_REC + cl;

		if (next > r->len)
			break;
		if (cl == caplen) {
			r->off = next;
			r->skipped += k;
			r->last_ns = (uint64_t)sec * 1000000000ULL + (r->nsec ? sub : (uint64_t)sub * 1000);
			return r->last_ns;
		}
		off = next;
	}
	return r->last_ns;
}

/* The rx_pcap file of queue q of this port, if it is a net_pcap replay:
 * net_pcap makes one RX queue per rx_pcap argument, in order. */
static bool
rx_pcap_file(uint16_t port, uint16_t q, char *out, size_t cap)
{
	struct rte_eth_dev_info info;
	const struct rte_devargs *da;
	const char *a;
	unsigned k = 0;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL ||
	    strcmp(info.driver_name, "net_pcap") != 0)
		return false;
	da = rte_dev_devargs(info.device);
	if (da == NULL || da->args == NULL)
		return false;
	for (a = da->args; (a = strstr(a, "rx_pcap=")) != NULL; k++) {
		size_t n;

		a += strlen("rx_pcap=");
		n = strcspn(a, ",");
		if (k == q) {
			if (n >= cap)
				return false;
			memcpy(out, a, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

struct dp_replay *
alt_dp_replay_for(uint16_t port, uint16_t q)
{
	char path[4096];

	if (!rx_pcap_file(port, q, path, sizeof(path)))
		return NULL;
	return replay_open(path);
}

void
alt_dp_replay_close(struct dp_replay *r)
{
	if (r == NULL)
		return;
	munmap((void *)(uintptr_t)r->map, r->len);
	free(r);
}
