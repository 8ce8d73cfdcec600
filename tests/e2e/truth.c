/* SPDX-License-Identifier: BSD-3-Clause
 * Ground-truth JSON-lines reader; see truth.h.
 */
#include "truth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUTH_MAX_DEPTH 32

static const char *const anomaly_names[TRUTH_ANOM_COUNT] = {
	"none", "unexpected_edge", "missing_subtree", "latency", "error", "extra_subtree",
};

const char *
truth_anomaly_name(enum truth_anomaly a)
{
	return (unsigned)a < TRUTH_ANOM_COUNT ? anomaly_names[a] : "?";
}

/* Scanner over one line. */
struct scan {
	const char *p;
	const char *end;
	const char *start;
	char *err;
	size_t errcap;
	bool failed;
};

static int
sfail(struct scan *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->failed)
		return -1;
	s->failed = true;
	n = snprintf(s->err, s->errcap, "col %zu: ", (size_t)(s->p - s->start) + 1);
	if (n < 0 || (size_t)n >= s->errcap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->err + n, s->errcap - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

/* Consume c (after whitespace) or fail. */
static int
expect(struct scan *s, char c)
{
	ws(s);
	if (s->p >= s->end || *s->p != c)
		return sfail(s, "expected '%c'", c);
	s->p++;
	return 0;
}

/* Consume c if it comes next (after whitespace). */
static bool
accept(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string, unescaped into a fresh NUL-terminated buffer (*out, may be
 * NULL to skip). \uXXXX becomes UTF-8 (surrogates are rejected). */
static int
str(struct scan *s, char **out, size_t *out_len)
{
	const char *q;
	char *buf, *w;

	if (expect(s, '"') != 0)
		return -1;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= s->end)
		return sfail(s, "unterminated string");
	buf = malloc((size_t)(q - s->p) + 1);
	if (buf == NULL)
		return sfail(s, "out of memory");
	w = buf;
	while (*s->p != '"') {
		unsigned char c = (unsigned char)*s->p++;

		if (c < 0x20) {
			free(buf);
			return sfail(s, "control character in string");
		}
		if (c != '\\') {
			*w++ = (char)c;
			continue;
		}
		c = (unsigned char)*s->p++;
		switch (c) {
		case '"': case '\\': case '/': *w++ = (char)c; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			unsigned v = 0;

			for (int i = 0; i < 4; i++) {
				int h = s->p < s->end ? hexval(*s->p) : -1;

				if (h < 0) {
					free(buf);
					return sfail(s, "bad \\u escape");
				}
				v = v << 4 | (unsigned)h;
				s->p++;
			}
			if (v >= 0xd800 && v <= 0xdfff) {
				free(buf);
				return sfail(s, "surrogate \\u escape not supported");
			}
			/* at most 3 UTF-8 bytes: 6 escape bytes were consumed */
			if (v < 0x80) {
				*w++ = (char)v;
			} else if (v < 0x800) {
				*w++ = (char)(0xc0 | v >> 6);
				*w++ = (char)(0x80 | (v & 0x3f));
			} else {
				*w++ = (char)(0xe0 | v >> 12);
				*w++ = (char)(0x80 | ((v >> 6) & 0x3f));
				*w++ = (char)(0x80 | (v & 0x3f));
			}
			break;
		}
		default:
			free(buf);
			return sfail(s, "bad escape '\\%c'", c);
		}
	}
	s->p++;
	*w = '\0';
	if (out_len != NULL)
		*out_len = (size_t)(w - buf);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return 0;
}

static int
boolean(struct scan *s, bool *v)
{
	ws(s);
	if ((size_t)(s->end - s->p) >= 4 && memcmp(s->p, "true", 4) == 0) {
		s->p += 4;
		*v = true;
		return 0;
	}
	if ((size_t)(s->end - s->p) >= 5 && memcmp(s->p, "false", 5) == 0) {
		s->p += 5;
		*v = false;
		return 0;
	}
	return sfail(s, "expected true or false");
}

/* A non-negative integer that fits in 64 bits (no sign, fraction, exponent). */
static int
u64(struct scan *s, uint64_t *v)
{
	uint64_t x = 0;
	const char *b;

	ws(s);
	b = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
		unsigned d = (unsigned)(*s->p - '0');

		if (x > (UINT64_MAX - d) / 10)
			return sfail(s, "integer overflows 64 bits");
		x = x * 10 + d;
		s->p++;
	}
	if (s->p == b)
		return sfail(s, "expected an unsigned integer");
	if (s->p - b > 1 && *b == '0')
		return sfail(s, "leading zero");
	if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
		return sfail(s, "expected an integer");
	*v = x;
	return 0;
}

/* A string of exactly ndig lowercase or uppercase hex digits. */
static int
hexstr(struct scan *s, unsigned ndig, char **out)
{
	char *v;
	size_t n;

	if (str(s, &v, &n) != 0)
		return -1;
	if (n != ndig) {
		free(v);
		return sfail(s, "expected %u hex digits, got %zu characters", ndig, n);
	}
	for (size_t i = 0; i < n; i++)
		if (hexval(v[i]) < 0) {
			free(v);
			return sfail(s, "bad hex digit");
		}
	*out = v;
	return 0;
}

static int
id64(struct scan *s, uint64_t *v)
{
	char *h;

	if (hexstr(s, 16, &h) != 0)
		return -1;
	if (alt_parse_id64(h, 16, v) != 0) {
		free(h);
		return sfail(s, "bad 64-bit id");
	}
	free(h);
	return 0;
}

/* Skip any JSON value (an unknown key's). */
static int
skip_value(struct scan *s, unsigned depth)
{
	bool b;
	uint64_t u;

	if (depth > TRUTH_MAX_DEPTH)
		return sfail(s, "nesting too deep");
	ws(s);
	if (s->p >= s->end)
		return sfail(s, "expected a value");
	switch (*s->p) {
	case '"':
		return str(s, NULL, NULL);
	case 't': case 'f':
		return boolean(s, &b);
	case 'n':
		if ((size_t)(s->end - s->p) >= 4 && memcmp(s->p, "null", 4) == 0) {
			s->p += 4;
			return 0;
		}
		return sfail(s, "bad literal");
	case '{':
		s->p++;
		if (accept(s, '}'))
			return 0;
		do {
			if (str(s, NULL, NULL) != 0 || expect(s, ':') != 0 ||
			    skip_value(s, depth + 1) != 0)
				return -1;
		} while (accept(s, ','));
		return expect(s, '}');
	case '[':
		s->p++;
		if (accept(s, ']'))
			return 0;
		do {
			if (skip_value(s, depth + 1) != 0)
				return -1;
		} while (accept(s, ','));
		return expect(s, ']');
	default:
		if (*s->p == '-') {
			s->p++;
			if (s->p < s->end && *s->p == '-')
				return sfail(s, "bad number");
		}
		if (u64(s, &u) != 0)
			return -1;
		/* tolerate a fraction/exponent in values we do not read */
		while (s->p < s->end && strchr("0123456789.eE+-", *s->p) != NULL)
			s->p++;
		return 0;
	}
}

enum {
	NK_ID = 1u << 0, NK_PARENTS = 1u << 1, NK_SERVICE = 1u << 2, NK_OPERATION = 1u << 3,
	NK_KIND = 1u << 4, NK_START = 1u << 5, NK_DURATION = 1u << 6, NK_ERROR = 1u << 7,
	NK_ALL = (1u << 8) - 1,
};

static int
parse_node(struct scan *s, struct truth_node *n)
{
	unsigned seen = 0;

	memset(n, 0, sizeof(*n));
	if (expect(s, '{') != 0)
		return -1;
	if (accept(s, '}'))
		return sfail(s, "empty node object");
	do {
		char *key, *v;
		unsigned bit = 0;
		int rc = 0;

		if (str(s, &key, NULL) != 0)
			return -1;
		if (expect(s, ':') != 0) {
			free(key);
			return -1;
		}
		if (strcmp(key, "id") == 0) {
			bit = NK_ID;
			rc = id64(s, &n->id);
		} else if (strcmp(key, "parents") == 0) {
			bit = NK_PARENTS;
			rc = expect(s, '[');
			if (rc == 0 && !accept(s, ']')) {
				do {
					if (n->n_parents >= ALT_MAX_PARENTS) {
						rc = sfail(s, "more than %d parents", ALT_MAX_PARENTS);
						break;
					}
					rc = id64(s, &n->parents[n->n_parents++]);
				} while (rc == 0 && accept(s, ','));
				if (rc == 0)
					rc = expect(s, ']');
			}
		} else if (strcmp(key, "service") == 0) {
			bit = NK_SERVICE;
			free(n->service);
			rc = str(s, &n->service, NULL);
		} else if (strcmp(key, "operation") == 0) {
			bit = NK_OPERATION;
			free(n->operation);
			rc = str(s, &n->operation, NULL);
		} else if (strcmp(key, "kind") == 0) {
			bit = NK_KIND;
			rc = str(s, &v, NULL);
			if (rc == 0) {
				if (strcmp(v, "span") == 0)
					n->kind = ALT_KIND_SPAN;
				else if (strcmp(v, "event") == 0)
					n->kind = ALT_KIND_EVENT;
				else
					rc = sfail(s, "bad kind \"%s\"", v);
				free(v);
			}
		} else if (strcmp(key, "start_ns") == 0) {
			bit = NK_START;
			rc = u64(s, &n->start_ns);
		} else if (strcmp(key, "duration_ns") == 0) {
			bit = NK_DURATION;
			rc = u64(s, &n->duration_ns);
		} else if (strcmp(key, "error") == 0) {
			bit = NK_ERROR;
			rc = boolean(s, &n->error);
		} else {
			rc = skip_value(s, 2);
		}
		if (rc == 0 && (seen & bit))
			rc = sfail(s, "duplicate key \"%s\"", key);
		free(key);
		if (rc != 0)
			return -1;
		seen |= bit;
	} while (accept(s, ','));
	if (expect(s, '}') != 0)
		return -1;
	if (seen != NK_ALL)
		return sfail(s, "node lacks a required key (have mask 0x%x)", seen);
	return 0;
}

enum {
	TK_ID = 1u << 0, TK_TEMPLATE = 1u << 1, TK_ANOMALY = 1u << 2, TK_LOST = 1u << 3,
	TK_CLOSES = 1u << 4, TK_NODES = 1u << 5, TK_ALL = (1u << 6) - 1,
};

static int
parse_nodes(struct scan *s, struct truth_trace *t)
{
	uint32_t cap = 0;

	if (expect(s, '[') != 0)
		return -1;
	if (accept(s, ']'))
		return 0;
	do {
		if (t->n_nodes == cap) {
			uint32_t nc = cap ? cap * 2 : 16;
			struct truth_node *nn = realloc(t->nodes, nc * sizeof(*nn));

			if (nn == NULL)
				return sfail(s, "out of memory");
			t->nodes = nn;
			cap = nc;
		}
		if (parse_node(s, &t->nodes[t->n_nodes]) != 0) {
			/* free what the failed node holds */
			free(t->nodes[t->n_nodes].service);
			free(t->nodes[t->n_nodes].operation);
			return -1;
		}
		t->n_nodes++;
	} while (accept(s, ','));
	return expect(s, ']');
}

int
truth_parse_line(const char *line, size_t len, struct truth_trace *t, char *err, size_t errcap)
{
	struct scan s = { line, line + len, line, err, errcap, false };
	unsigned seen = 0;

	memset(t, 0, sizeof(*t));
	if (expect(&s, '{') != 0)
		return -1;
	do {
		char *key, *v;
		unsigned bit = 0;
		int rc = 0;

		if (str(&s, &key, NULL) != 0)
			return -1;
		if (expect(&s, ':') != 0) {
			free(key);
			return -1;
		}
		if (strcmp(key, "trace_id") == 0) {
			bit = TK_ID;
			rc = hexstr(&s, 32, &v);
			if (rc == 0) {
				if (alt_parse_trace_id(v, 32, &t->id) != 0)
					rc = sfail(&s, "bad trace id");
				free(v);
			}
		} else if (strcmp(key, "template") == 0) {
			bit = TK_TEMPLATE;
			free(t->tpl);
			rc = str(&s, &t->tpl, NULL);
		} else if (strcmp(key, "anomaly") == 0) {
			bit = TK_ANOMALY;
			rc = str(&s, &v, NULL);
			if (rc == 0) {
				unsigned a;

				for (a = 0; a < TRUTH_ANOM_COUNT; a++)
					if (strcmp(v, anomaly_names[a]) == 0)
						break;
				if (a == TRUTH_ANOM_COUNT)
					rc = sfail(&s, "unknown anomaly \"%s\"", v);
				t->anomaly = (uint8_t)a;
				free(v);
			}
		} else if (strcmp(key, "lost_frames") == 0) {
			bit = TK_LOST;
			rc = boolean(&s, &t->lost);
		} else if (strcmp(key, "closes_trace") == 0) {
			bit = TK_CLOSES;
			rc = boolean(&s, &t->closes);
		} else if (strcmp(key, "nodes") == 0) {
			bit = TK_NODES;
			if (seen & TK_NODES)
				rc = sfail(&s, "duplicate key \"nodes\"");
			else
				rc = parse_nodes(&s, t);
		} else {
			rc = skip_value(&s, 1);
		}
		if (rc == 0 && (seen & bit))
			rc = sfail(&s, "duplicate key \"%s\"", key);
		free(key);
		if (rc != 0)
			return -1;
		seen |= bit;
	} while (accept(&s, ','));
	if (expect(&s, '}') != 0)
		return -1;
	ws(&s);
	if (s.p != s.end)
		return sfail(&s, "trailing characters after the object");
	if (seen != TK_ALL)
		return sfail(&s, "trace lacks a required key (have mask 0x%x)", seen);
	if (t->n_nodes == 0)
		return sfail(&s, "trace without nodes");
	return 0;
}

void
truth_trace_free(struct truth_trace *t)
{
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		free(t->nodes[i].service);
		free(t->nodes[i].operation);
	}
	free(t->nodes);
	free(t->tpl);
	memset(t, 0, sizeof(*t));
}

void
truth_free(struct truth *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		truth_trace_free(&tr->t[i]);
	free(tr->t);
	tr->t = NULL;
	tr->n = tr->cap = 0;
}

int
truth_load(struct truth *tr, const char *path)
{
	FILE *f;
	char *line = NULL, perr[200];
	size_t lcap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int rc = 0;

	memset(tr, 0, sizeof(*tr));
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(tr->err, sizeof(tr->err), "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (n == 0) {
			snprintf(tr->err, sizeof(tr->err), "%s: line %lu: empty line", path, lineno);
			rc = -1;
			break;
		}
		if (tr->n == tr->cap) {
			size_t nc = tr->cap ? tr->cap * 2 : 256;
			struct truth_trace *nt = realloc(tr->t, nc * sizeof(*nt));

			if (nt == NULL) {
				snprintf(tr->err, sizeof(tr->err), "out of memory");
				rc = -1;
				break;
			}
			tr->t = nt;
			tr->cap = nc;
		}
		if (truth_parse_line(line, (size_t)n, &tr->t[tr->n], perr, sizeof(perr)) != 0) {
			truth_trace_free(&tr->t[tr->n]);
			snprintf(tr->err, sizeof(tr->err), "%s: line %lu: %s", path, lineno, perr);
			rc = -1;
			break;
		}
		tr->nodes += tr->t[tr->n].n_nodes;
		tr->n++;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(tr->err, sizeof(tr->err), "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}
