/* SPDX-License-Identifier: BSD-3-Clause
 * Classic pcap reader; see pcapread.h.
 */
#include "pcapread.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_FILE_HDR 24u
#define PCAP_REC_HDR 16u
#define PCAP_MAX_CAPLEN (256u * 1024u)

static int
fail(struct pcapr *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t
rd32(const struct pcapr *r, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return r->swap ? __builtin_bswap32(v) : v;
}

static uint16_t
rd16(const struct pcapr *r, const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return r->swap ? __builtin_bswap16(v) : v;
}

/* Check the 24-byte file header at the start of r->buf. */
static int
parse_header(struct pcapr *r)
{
	uint32_t magic;

	if (r->len < PCAP_FILE_HDR)
		return fail(r, "file header truncated (%zu bytes)", r->len);
	memcpy(&magic, r->buf, 4);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		r->swap = false;
	} else if (__builtin_bswap32(magic) == PCAP_MAGIC_US ||
		   __builtin_bswap32(magic) == PCAP_MAGIC_NS) {
		r->swap = true;
		magic = __builtin_bswap32(magic);
	} else {
		return fail(r, "bad magic 0x%08x (not a classic pcap)", magic);
	}
	r->nsec = magic == PCAP_MAGIC_NS;
	if (rd16(r, r->buf + 4) != 2)
		return fail(r, "unsupported version %u.%u", rd16(r, r->buf + 4), rd16(r, r->buf + 6));
	r->snaplen = rd32(r, r->buf + 16);
	r->linktype = rd32(r, r->buf + 20) & 0x0fffffffu;
	r->off = PCAP_FILE_HDR;
	r->frames = 0;
	r->err[0] = '\0';
	return 0;
}

int
pcapr_open_mem(struct pcapr *r, const uint8_t *buf, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->buf = (uint8_t *)(uintptr_t)buf;
	r->len = len;
	return parse_header(r);
}

int
pcapr_open(struct pcapr *r, const char *path)
{
	FILE *f;
	long sz;
	uint8_t *buf;

	memset(r, 0, sizeof(*r));
	f = fopen(path, "rb");
	if (f == NULL)
		return fail(r, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return fail(r, "%s: cannot size the file", path);
	}
	buf = malloc(sz > 0 ? (size_t)sz : 1);
	if (buf == NULL) {
		fclose(f);
		return fail(r, "%s: out of memory (%ld bytes)", path, sz);
	}
	if (sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		fclose(f);
		return fail(r, "%s: short read", path);
	}
	fclose(f);
	if (pcapr_open_mem(r, buf, (size_t)sz) != 0) {
		free(buf);
		r->buf = NULL;
		return -1;
	}
	r->owned = true;
	return 0;
}

int
pcapr_next(struct pcapr *r, struct pcapr_frame *f)
{
	const uint8_t *h;
	uint32_t sec, frac, caplen, origlen;

	if (r->off == r->len)
		return 0;
	if (r->len - r->off < PCAP_REC_HDR)
		return fail(r, "record %llu: header truncated (%zu of %u bytes)",
			    (unsigned long long)r->frames, r->len - r->off, PCAP_REC_HDR);
	h = r->buf + r->off;
	sec = rd32(r, h);
	frac = rd32(r, h + 4);
	caplen = rd32(r, h + 8);
	origlen = rd32(r, h + 12);
	if (caplen > PCAP_MAX_CAPLEN)
		return fail(r, "record %llu: caplen %u too large", (unsigned long long)r->frames, caplen);
	if (frac >= (r->nsec ? 1000000000u : 1000000u))
		return fail(r, "record %llu: bad sub-second timestamp %u",
			    (unsigned long long)r->frames, frac);
	if (r->len - r->off - PCAP_REC_HDR < caplen)
		return fail(r, "record %llu: data truncated (%zu of %u bytes)",
			    (unsigned long long)r->frames, r->len - r->off - PCAP_REC_HDR, caplen);
	f->data = h + PCAP_REC_HDR;
	f->caplen = caplen;
	f->origlen = origlen;
	f->ts_ns = (uint64_t)sec * 1000000000ull + (r->nsec ? frac : (uint64_t)frac * 1000u);
	r->off += PCAP_REC_HDR + caplen;
	r->frames++;
	return 1;
}

void
pcapr_close(struct pcapr *r)
{
	if (r->buf != NULL && r->owned)
		free(r->buf);
	r->buf = NULL;
	r->owned = false;
	r->len = r->off = 0;
}
