/* SPDX-License-Identifier: BSD-3-Clause
 * X-Trace text reports (UDP 7831, the X-Trace report server's default).
 *
 * What the X-Trace sources write, checked against the Berkeley X-Trace code
 * (Java: edu/berkeley/xtrace/XTraceMetadata.java createFromBytes/packToBuffer,
 * XTraceEvent.java setTimestamp/addEdge, reporting/Report.java; C++:
 * XtrEvent.cc Event::getReport, XtrOption.h OptionSeverity):
 *
 *   - A report is a header line "X-Trace Report ver 1.0" followed by
 *     "Key: Value" lines. Java ends lines with "\n", the C++ library with
 *     "\r\n". A key may repeat (Edge, Tag, Option, ...).
 *   - "X-Trace: <hex>" is the metadata in hex (Java writes upper case):
 *       byte 0, flags: bits 0-1 TaskID length code (0: 4, 1: 8, 2: 12,
 *         3: 20 bytes), bit 2 options present, bit 3 OpID is 8 bytes (else
 *         4), bits 4-7 metadata version;
 *       then the TaskID, then the OpID;
 *       then, if bit 2 is set, one byte with the total length of the options
 *         followed by that many bytes of options, each {type, length,
 *         payload[length]}.
 *     An all-zero TaskID is the "invalid" metadata.
 *     Versions (X-Trace metadata specification 2.1.1, sections 2.1 and
 *     2.3): version 1 is backwards compatible with version 0, which has
 *     only 4-byte OpIDs; with a 4-byte OpID both versions are valid and
 *     read alike (the specification's own example in section 2.4,
 *     "00 01020304 03030303", is version 0). Version 0 with the 8-byte
 *     OpID flag, and any version from 2 up, is refused (BAD_VERSION).
 *   - "Edge: <hex OpID>" once per incoming edge (several = a join). The C++
 *     library appends ", <direction>[, 0x<chain id>]" after the OpID.
 *   - "Timestamp": Java writes System.currentTimeMillis() as a decimal
 *     integer (milliseconds since the epoch); the C++ library writes
 *     "<seconds>.<milliseconds>" ("%ld.%03d"). Java also writes "HRT" =
 *     System.nanoTime(): finer, but a monotonic clock with an arbitrary
 *     origin, not wall time, so it cannot give start_ns and is kept as an
 *     attribute like any other key.
 *   - "Severity: <n>" carries the syslog level (RFC 3164: 0 emerg .. 3 error
 *     .. 7 debug, default 5 notice) of a severity option.
 *
 * Mapping: one report -> one ALT_KIND_EVENT record, duration 0. TaskID ->
 * trace ID right-aligned in 128 bits (big-endian bytes; a 20-byte TaskID
 * keeps its last 16 bytes); OpID -> node_id; Edge values -> parents (de-
 * duplicated, at most 15); Agent -> service; Label -> operation; Timestamp
 * -> start_ns (an integer is milliseconds, "s.fff..." is seconds with up to 9
 * fraction digits); Severity <= 3 -> ALT_RF_ERROR. The first X-Trace,
 * Timestamp, Agent and Label lines are consumed; Host (the first one, moved
 * to the front) and every other line, repeats included, become "key=value"
 * attrs lines in out->arena.
 */
#include "alt_wire.h"

#define XT_HEADER "X-Trace Report ver 1.0"
#define XT_HEADER_VER_PREFIX "X-Trace Report ver "
#define XT_MD_MAX 300                   /* 1 + 20 + 8 + 1 + 255, rounded */

#define XT_F_TASKID_MASK 0x03u
#define XT_F_OPTIONS 0x04u
#define XT_F_OPID8 0x08u
#define XT_F_VERSION_SHIFT 4
#define XT_MD_VERSION 1u                /* what the encoder writes */
#define XT_MD_VERSION_0 0u              /* readable with a 4-byte OpID only */

#define XT_SEVERITY_ERROR 3u            /* syslog LOG_ERR */

static const uint8_t taskid_len_of_code[4] = { 4, 8, 12, 20 };

static inline void
out_reset(struct alt_wire_out *out)
{
	out->n = 0;
	out->arena_used = 0;
	out->parents_truncated = 0;
	out->foreign_refs = 0;
	out->source_key = 0;
}

static bool
key_is(const char *k, size_t klen, const char *lit)
{
	size_t n = strlen(lit);

	return klen == n && memcmp(k, lit, n) == 0;
}

static uint64_t
ld_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Does the flags byte carry a metadata version this decoder reads? Version
 * 1 with either OpID length; version 0 only with a 4-byte OpID, the one
 * length it defines. */
static inline bool
md_version_ok(uint8_t flags)
{
	unsigned v = flags >> XT_F_VERSION_SHIFT;

	if (v == XT_MD_VERSION)
		return true;
	return v == XT_MD_VERSION_0 && !(flags & XT_F_OPID8);
}

/* Parse the X-Trace metadata hex string into trace ID and OpID. */
static enum alt_wire_reason
parse_metadata(const char *s, size_t n, struct alt_trace_id *tid, uint64_t *opid)
{
	uint8_t md[XT_MD_MAX];
	size_t mlen, pos;
	unsigned tlen, olen;
	const uint8_t *t;

	for (size_t i = 0; i < n; i++)
		if (alt_hex_value(s[i]) < 0)
			return ALT_WIRE_BAD_HEX;
	if (n % 2 != 0)
		return ALT_WIRE_BAD_HEX;
	mlen = n / 2;
	if (mlen < 1 || mlen > sizeof(md))
		return ALT_WIRE_BAD_LENGTH;
	for (size_t i = 0; i < mlen; i++)
		md[i] = (uint8_t)((alt_hex_value(s[2 * i]) << 4) | alt_hex_value(s[2 * i + 1]));

	if (!md_version_ok(md[0]))
		return ALT_WIRE_BAD_VERSION;
	tlen = taskid_len_of_code[md[0] & XT_F_TASKID_MASK];
	olen = (md[0] & XT_F_OPID8) ? 8 : 4;
	pos = 1u + tlen + olen;
	if (mlen < pos)
		return ALT_WIRE_BAD_LENGTH;
	if (md[0] & XT_F_OPTIONS) {
		size_t optlen, end;

		if (mlen < pos + 1)
			return ALT_WIRE_BAD_LENGTH;
		optlen = md[pos++];
		end = pos + optlen;
		if (end != mlen)
			return ALT_WIRE_BAD_LENGTH;
		while (pos < end) {
			if (end - pos < 2 || (size_t)md[pos + 1] > end - pos - 2)
				return ALT_WIRE_BAD_LENGTH;
			pos += 2u + md[pos + 1];
		}
	} else if (mlen != pos) {
		return ALT_WIRE_BAD_LENGTH;
	}

	t = md + 1;
	switch (tlen) {
	case 4:
		tid->hi = 0;
		tid->lo = ld_be(t, 4);
		break;
	case 8:
		tid->hi = 0;
		tid->lo = ld_be(t, 8);
		break;
	case 12:
		tid->hi = ld_be(t, 4);
		tid->lo = ld_be(t + 4, 8);
		break;
	default: /* 20: keep the last 16 bytes */
		tid->hi = ld_be(t + 4, 8);
		tid->lo = ld_be(t + 12, 8);
		break;
	}
	*opid = ld_be(t + tlen, olen);
	/* An all-zero TaskID is the invalid metadata; a 20-byte one whose kept
	 * 16 bytes are zero would give trace ID 0: both are refused. */
	if (tid->hi == 0 && tid->lo == 0)
		return ALT_WIRE_BAD_ID;
	if (*opid == 0)
		return ALT_WIRE_BAD_ID;
	return ALT_WIRE_OK;
}

/* Edge value: a hex OpID of 8 or 16 digits, optionally followed by
 * ", <direction>..." (C++ library). */
static enum alt_wire_reason
parse_edge(const char *s, size_t n, uint64_t *opid)
{
	size_t digits = 0;
	uint64_t v = 0;

	while (digits < n && s[digits] != ',' && s[digits] != ' ' && s[digits] != '\t') {
		int h = alt_hex_value(s[digits]);

		if (h < 0)
			return ALT_WIRE_BAD_HEX;
		v = (v << 4) | (uint64_t)h;
		digits++;
		if (digits > 16)
			return ALT_WIRE_BAD_LENGTH;
	}
	if (digits != 8 && digits != 16)
		return ALT_WIRE_BAD_LENGTH;
	if (v == 0)
		return ALT_WIRE_BAD_ID;
	*opid = v;
	return ALT_WIRE_OK;
}

/* Timestamp: "<ms>" (Java) or "<s>.<fraction>" (C++), to nanoseconds. */
static int
parse_timestamp(const char *s, size_t n, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0;
	size_t i = 0, fd = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		unsigned d = (unsigned)(s[i] - '0');

		if (whole > (UINT64_MAX - d) / 10)
			return -1;
		whole = whole * 10 + d;
		i++;
	}
	if (i == 0)
		return -1;
	if (i == n) {
		if (whole > UINT64_MAX / 1000000u)
			return -1;
		*ns = whole * 1000000u;
		return 0;
	}
	if (s[i] != '.')
		return -1;
	i++;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (fd == 9)
			return -1;
		frac = frac * 10 + (uint64_t)(s[i] - '0');
		fd++;
		i++;
	}
	if (i != n || fd == 0)
		return -1;
	for (; fd < 9; fd++)
		frac *= 10;
	if (whole > (UINT64_MAX - frac) / 1000000000u)
		return -1;
	*ns = whole * 1000000000u + frac;
	return 0;
}

/* Append "key=value" as an attrs line; host == true puts it in front. */
static int
attrs_add(struct alt_wire_out *out, uint32_t start, const char *k, size_t klen,
	  const char *v, size_t vlen, bool front)
{
	uint32_t cur = out->arena_used - start;
	size_t add = klen + 1 + vlen + (cur > 0 ? 1 : 0);
	char *base;

	if (out->arena == NULL || add > (size_t)(out->arena_cap - out->arena_used))
		return -1;
	base = out->arena + start;
	if (front && cur > 0) {
		memmove(base + add, base, cur);
		memcpy(base, k, klen);
		base[klen] = '=';
		memcpy(base + klen + 1, v, vlen);
		base[add - 1] = '\n';
	} else {
		char *p = base + cur;

		if (cur > 0)
			*p++ = '\n';
		memcpy(p, k, klen);
		p[klen] = '=';
		memcpy(p + klen + 1, v, vlen);
	}
	out->arena_used += (uint32_t)add;
	return 0;
}

/* Decode one X-Trace report (one UDP payload) into one event record.
 * The payload is not NUL-terminated and may not contain NUL. Line endings
 * are "\n" or "\r\n"; blank lines are allowed only at the end. Rejects:
 * no header -> BAD_MAGIC; header of another version -> BAD_VERSION; a line
 * without ": " (or with an empty key) or a NUL byte -> BAD_FIELD; no
 * X-Trace line -> MISSING_FIELD; metadata or Edge not hex -> BAD_HEX, of a
 * wrong length -> BAD_LENGTH, metadata version other than 1 or 0 with a
 * 4-byte OpID -> BAD_VERSION, zero
 * TaskID/OpID/Edge -> BAD_ID; no Timestamp -> MISSING_FIELD, unparsable ->
 * BAD_FIELD; attrs not fitting out->arena -> ARENA_FULL; out->cap == 0 ->
 * TOO_MANY_RECORDS. ctx is unused (reports carry no sequence number). */
enum alt_wire_reason
alt_wire_decode_xtrace(struct alt_wire_ctx *ctx, const uint8_t *buf, size_t len,
		       struct alt_wire_out *out)
{
	const char *s = (const char *)buf;
	const size_t hlen = sizeof(XT_HEADER) - 1;
	const size_t vplen = sizeof(XT_HEADER_VER_PREFIX) - 1;
	struct alt_record *r;
	bool have_md = false, have_ts = false, have_agent = false, have_label = false;
	bool have_host = false, blank = false, truncated = false;
	uint32_t astart;
	size_t pos, eol, lend;

	(void)ctx;
	out_reset(out);
	if (out->recs == NULL || out->cap == 0)
		return ALT_WIRE_TOO_MANY_RECORDS;
	if (buf == NULL || len == 0)
		return ALT_WIRE_BAD_MAGIC;
	if (memchr(buf, '\0', len) != NULL)
		return ALT_WIRE_BAD_FIELD;

	/* Header line. */
	{
		const char *nl = memchr(s, '\n', len);

		lend = nl ? (size_t)(nl - s) : len;
		pos = nl ? lend + 1 : len;
		if (lend > 0 && s[lend - 1] == '\r')
			lend--;
		if (lend != hlen || memcmp(s, XT_HEADER, hlen) != 0) {
			if (lend >= vplen && memcmp(s, XT_HEADER_VER_PREFIX, vplen) == 0)
				return ALT_WIRE_BAD_VERSION;
			return ALT_WIRE_BAD_MAGIC;
		}
	}

	r = &out->recs[0];
	memset(r, 0, sizeof(*r));
	r->kind = ALT_KIND_EVENT;
	r->service.p = "";
	r->operation.p = "";
	astart = out->arena_used;

	for (; pos < len; pos = eol) {
		const char *line = s + pos, *sep, *k, *v;
		const char *nl = memchr(line, '\n', len - pos);
		size_t klen, vlen;
		enum alt_wire_reason rc;

		lend = nl ? (size_t)(nl - line) : len - pos;
		eol = nl ? pos + lend + 1 : len;
		if (lend > 0 && line[lend - 1] == '\r')
			lend--;
		if (lend == 0) {
			blank = true;
			continue;
		}
		if (blank)
			return ALT_WIRE_BAD_FIELD;
		sep = lend >= 2 ? memmem(line, lend, ": ", 2) : NULL;
		if (sep == NULL || sep == line)
			return ALT_WIRE_BAD_FIELD;
		k = line;
		klen = (size_t)(sep - line);
		v = sep + 2;
		vlen = lend - klen - 2;

		if (!have_md && key_is(k, klen, "X-Trace")) {
			rc = parse_metadata(v, vlen, &r->trace_id, &r->node_id);
			if (rc != ALT_WIRE_OK)
				return rc;
			have_md = true;
			continue;
		}
		if (key_is(k, klen, "Edge")) {
			uint64_t id;
			unsigned j;

			rc = parse_edge(v, vlen, &id);
			if (rc != ALT_WIRE_OK)
				return rc;
			for (j = 0; j < r->parent_count; j++)
				if (r->parents[j] == id)
					break;
			if (j < r->parent_count)
				continue;
			if (r->parent_count == ALT_MAX_PARENTS)
				truncated = true;
			else
				r->parents[r->parent_count++] = id;
			continue;
		}
		if (!have_ts && key_is(k, klen, "Timestamp")) {
			if (parse_timestamp(v, vlen, &r->start_ns) != 0)
				return ALT_WIRE_BAD_FIELD;
			have_ts = true;
			continue;
		}
		if (!have_agent && key_is(k, klen, "Agent")) {
			r->service.p = v;
			r->service.len = (uint32_t)vlen;
			have_agent = true;
			continue;
		}
		if (!have_label && key_is(k, klen, "Label")) {
			r->operation.p = v;
			r->operation.len = (uint32_t)vlen;
			have_label = true;
			continue;
		}
		if (key_is(k, klen, "Severity")) {
			unsigned sev = 0;
			size_t i;

			for (i = 0; i < vlen && i < 3 && v[i] >= '0' && v[i] <= '9'; i++)
				sev = sev * 10 + (unsigned)(v[i] - '0');
			if (i > 0 && i == vlen && sev <= XT_SEVERITY_ERROR)
				r->flags |= ALT_RF_ERROR;
		}
		{
			bool front = !have_host && key_is(k, klen, "Host");

			if (front) {
				have_host = true;
				out->source_key = ALT_WIRE_SRC_XTRACE | (alt_hash_bytes(v, vlen, 0) >> 8);
			}
			if (attrs_add(out, astart, k, klen, v, vlen, front) != 0)
				return ALT_WIRE_ARENA_FULL;
		}
	}

	if (!have_md)
		return ALT_WIRE_MISSING_FIELD;
	if (!have_ts)
		return ALT_WIRE_MISSING_FIELD;
	r->attrs.p = out->arena != NULL ? out->arena + astart : "";
	r->attrs.len = out->arena_used - astart;
	if (truncated)
		out->parents_truncated++;
	out->n = 1;
	return ALT_WIRE_OK;
}

/* ---- encoder ---- */

struct xt_writer {
	uint8_t *buf;
	size_t cap;
	size_t off;
	bool ok;
};

static void
xw_put(struct xt_writer *w, const void *p, size_t n)
{
	if (!w->ok || n > w->cap - w->off) {
		w->ok = false;
		return;
	}
	if (n > 0)
		memcpy(w->buf + w->off, p, n);
	w->off += n;
}

static void
xw_str(struct xt_writer *w, const char *s)
{
	xw_put(w, s, strlen(s));
}

static void
xw_hex_be(struct xt_writer *w, uint64_t v, unsigned nbytes)
{
	static const char dig[] = "0123456789ABCDEF";
	char tmp[16];

	for (unsigned i = 0; i < nbytes * 2; i++)
		tmp[i] = dig[(v >> (4 * (nbytes * 2 - 1 - i))) & 0xf];
	xw_put(w, tmp, nbytes * 2);
}

static void
xw_u64(struct xt_writer *w, uint64_t v)
{
	char tmp[20];
	unsigned n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	xw_put(w, tmp + sizeof(tmp) - n, n);
}

/* Encode one record as an X-Trace report, as the Java library writes it
 * ("\n" line ends, upper-case hex): header; X-Trace metadata (version 1,
 * a TaskID of task_id_len bytes holding the low bytes of the trace ID big-
 * endian, a 20-byte TaskID zero-padded in front, 8-byte OpID = node_id, no
 * options); one Edge line per parent (16 hex digits); Timestamp in integer
 * milliseconds (start_ns truncated); Host (when host is not NULL); Agent =
 * service; Label = operation; "Severity: 3" when ALT_RF_ERROR is set; then
 * each non-empty attrs line "k=v" as "k: v" (a line without '=' becomes
 * "line: "). Returns the length, or 0 for a bad task_id_len or when it does
 * not fit in cap. */
size_t
alt_wire_encode_xtrace(const struct alt_record *rec, unsigned task_id_len,
		       const char *host, uint8_t *buf, size_t cap)
{
	struct xt_writer w = { .buf = buf, .cap = cap, .off = 0, .ok = true };
	uint8_t flags = (uint8_t)(XT_MD_VERSION << XT_F_VERSION_SHIFT) | XT_F_OPID8;
	unsigned pc;

	if (rec == NULL || buf == NULL)
		return 0;
	switch (task_id_len) {
	case 4: flags |= 0; break;
	case 8: flags |= 1; break;
	case 12: flags |= 2; break;
	case 20: flags |= 3; break;
	default: return 0;
	}

	xw_str(&w, XT_HEADER "\nX-Trace: ");
	xw_hex_be(&w, flags, 1);
	switch (task_id_len) {
	case 4:
		xw_hex_be(&w, rec->trace_id.lo, 4);
		break;
	case 8:
		xw_hex_be(&w, rec->trace_id.lo, 8);
		break;
	case 12:
		xw_hex_be(&w, rec->trace_id.hi, 4);
		xw_hex_be(&w, rec->trace_id.lo, 8);
		break;
	default:
		xw_hex_be(&w, 0, 4);
		xw_hex_be(&w, rec->trace_id.hi, 8);
		xw_hex_be(&w, rec->trace_id.lo, 8);
		break;
	}
	xw_hex_be(&w, rec->node_id, 8);
	xw_str(&w, "\n");

	pc = rec->parent_count > ALT_MAX_PARENTS ? ALT_MAX_PARENTS : rec->parent_count;
	for (unsigned i = 0; i < pc; i++) {
		xw_str(&w, "Edge: ");
		xw_hex_be(&w, rec->parents[i], 8);
		xw_str(&w, "\n");
	}
	xw_str(&w, "Timestamp: ");
	xw_u64(&w, rec->start_ns / 1000000u);
	xw_str(&w, "\n");
	if (host != NULL) {
		xw_str(&w, "Host: ");
		xw_str(&w, host);
		xw_str(&w, "\n");
	}
	xw_str(&w, "Agent: ");
	xw_put(&w, rec->service.p, rec->service.len);
	xw_str(&w, "\nLabel: ");
	xw_put(&w, rec->operation.p, rec->operation.len);
	xw_str(&w, "\n");
	if (rec->flags & ALT_RF_ERROR)
		xw_str(&w, "Severity: 3\n");

	for (uint32_t i = 0; i < rec->attrs.len;) {
		const char *line = rec->attrs.p + i;
		const char *nl = memchr(line, '\n', rec->attrs.len - i);
		size_t ll = nl ? (size_t)(nl - line) : rec->attrs.len - i;
		const char *eq = memchr(line, '=', ll);

		i += (uint32_t)ll + (nl ? 1u : 0u);
		if (ll == 0)
			continue;
		if (eq != NULL) {
			xw_put(&w, line, (size_t)(eq - line));
			xw_str(&w, ": ");
			xw_put(&w, eq + 1, ll - (size_t)(eq - line) - 1);
		} else {
			xw_put(&w, line, ll);
			xw_str(&w, ": ");
		}
		xw_str(&w, "\n");
	}
	return w.ok ? w.off : 0;
}
