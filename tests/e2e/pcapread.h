/* SPDX-License-Identifier: BSD-3-Clause
 * A small reader of classic pcap files (not pcapng) for the end-to-end test
 * and the pipeline benchmark: microsecond (0xa1b2c3d4) and nanosecond
 * (0xa1b23c4d) magic, either byte order. The whole file is held in memory;
 * every header is bounds-checked and a truncated record is an error.
 */
#ifndef E2E_PCAPREAD_H
#define E2E_PCAPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pcapr {
	uint8_t *buf;           /* the whole file */
	size_t len;
	size_t off;             /* next record header */
	uint32_t linktype;
	uint32_t snaplen;
	bool swap;              /* file byte order differs from ours */
	bool nsec;              /* timestamps in nanoseconds */
	bool owned;             /* buf is ours to free */
	uint64_t frames;        /* records returned so far */
	char err[128];          /* why the last call failed */
};

/* One captured frame; data points into the reader's buffer. */
struct pcapr_frame {
	const uint8_t *data;
	uint32_t caplen;
	uint32_t origlen;
	uint64_t ts_ns;
};

/* Read path into memory and check the file header. 0, or -1 with r->err
 * set (the reader needs no close then). */
int pcapr_open(struct pcapr *r, const char *path);

/* Use len bytes at buf (owned by the caller; not freed by close). */
int pcapr_open_mem(struct pcapr *r, const uint8_t *buf, size_t len);

/* Next frame: 1 with *f filled, 0 at a clean end of file, -1 on a
 * malformed or truncated record (r->err says which). */
int pcapr_next(struct pcapr *r, struct pcapr_frame *f);

/* Release the file buffer (no-op for pcapr_open_mem). */
void pcapr_close(struct pcapr *r);

#endif /* E2E_PCAPREAD_H */
