/* http/parse.c: the strict HTTP/1.1 request-head parser and chunked body
 * decoder (RFC 9112), which refuse whatever two parsers could read two
 * ways: NUL and control bytes, bare CR or LF, whitespace before a colon,
 * folded lines, malformed versions and sizes. */
#include "http/http_int.h"

#include <string.h>

/* tchar (RFC 9110 5.6.2) */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB: any byte but CTLs (HTAB allowed) and DEL */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int fail(struct http_parse_error *err, unsigned status,
		const char *code, const char *message)
{
	err->status = status;
	err->code = code;
	err->message = message;
	return -1;
}

/* The end of the head: the offset just past the blank line, 0 if it is
 * not in buf[0, len) yet. */
static size_t head_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* Every CR is followed by LF and every LF preceded by CR. */
static bool line_ends_ok(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && (i + 1 == len || buf[i + 1] != '\n'))
			return false;
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return false;
	}
	return true;
}

/* "HTTP/1.1" → minor 1; -2 for a well-formed other version, -1 if
 * malformed. */
static int parse_version(const char *p, size_t n)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) ||
	    p[6] != '.' || !is_digit((unsigned char)p[7]))
		return -1;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return -2;
	return p[7] - '0';
}

static int parse_request_line(const char *p, size_t n, struct http_head *h,
			      struct http_parse_error *err)
{
	size_t i = 0, t;
	int minor;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ' ')
		return fail(err, 400, "InvalidRequest", "malformed request line: "
			    "a method, one space, a target, one space, a version");
	h->method = p;
	h->method_len = i;
	t = ++i;
	while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
		i++;
	if (i == t || i == n || p[i] != ' ')
		return fail(err, 400, "InvalidRequest", "malformed request line: "
			    "the target is empty or has a space or control "
			    "character, or the version is missing");
	h->target = p + t;
	h->target_len = i - t;
	minor = parse_version(p + i + 1, n - i - 1);
	if (minor == -2)
		return fail(err, 505, "HTTPVersionNotSupported", "grantd speaks "
			    "HTTP/1.1 and HTTP/1.0 only");
	if (minor < 0)
		return fail(err, 400, "InvalidRequest", "malformed request line: "
			    "the version must read HTTP/1.1 or HTTP/1.0");
	h->minor = minor;
	return 0;
}

static int parse_field(const char *p, size_t n, struct http_head *h,
		       struct http_parse_error *err)
{
	struct http_field *f;
	size_t i = 0, v, e;

	if (n && (p[0] == ' ' || p[0] == '\t'))
		return fail(err, 400, "InvalidRequest", "a header line is folded "
			    "onto the previous one (obsolete line folding)");
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return fail(err, 400, "InvalidRequest", "malformed header line: a "
			    "name of token characters, then a colon at once");
	if (h->n_fields == HTTP_MAX_FIELDS)
		return fail(err, 431, "RequestHeaderFieldsTooLarge", "more than "
			    "100 header fields");
	for (v = i + 1; v < n && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	for (e = n; e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--)
		;
	for (size_t k = v; k < e; k++)
		if (!is_value_char((unsigned char)p[k]))
			return fail(err, 400, "InvalidRequest", "a header value "
				    "contains a NUL or control character");
	f = &h->fields[h->n_fields++];
	f->name = p;
	f->name_len = i;
	f->value = p + v;
	f->value_len = e - v;
	return 0;
}

long http_parse_head(const char *buf, size_t len, size_t max,
		     struct http_head *h, struct http_parse_error *err)
{
	size_t avail = len < max ? len : max, end, pos, skip = 0, line;

	/* empty lines before a request are ignored (RFC 9112 2.2), but count
	 * against the limit like the head itself */
	while (skip + 1 < avail && buf[skip] == '\r' && buf[skip + 1] == '\n')
		skip += 2;
	end = head_end(buf + skip, avail - skip);
	if (!end) {
		const char *nl = memchr(buf + skip, '\n', avail - skip);

		if (len < max)
			return line_ends_ok(buf + skip, nl ? (size_t)(nl - buf - skip) + 1 :
					    0) ? 0 : fail(err, 400, "InvalidRequest",
					    "a line ends in a bare CR or LF");
		return nl ? fail(err, 431, "RequestHeaderFieldsTooLarge", "the "
				 "request line and headers are larger than "
				 "server.max_header_bytes") :
			fail(err, 414, "URITooLong", "the request line is longer "
			     "than server.max_header_bytes");
	}
	buf += skip;
	if (!line_ends_ok(buf, end))
		return fail(err, 400, "InvalidRequest", "a line ends in a bare CR "
			    "or LF");
	memset(h, 0, sizeof(*h));
	line = (size_t)((const char *)memchr(buf, '\r', end) - buf);
	if (parse_request_line(buf, line, h, err))
		return -1;
	for (pos = line + 2; pos + 2 < end; pos = line + 2) {
		line = (size_t)((const char *)memchr(buf + pos, '\r', end - pos) - buf);
		if (parse_field(buf + pos, line - pos, h, err))
			return -1;
	}
	return (long)(skip + end);
}

const struct http_field *http_head_field(const struct http_head *h,
					 const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < h->n_fields; i++)
		if (h->fields[i].name_len == n &&
		    strncasecmp(h->fields[i].name, name, n) == 0)
			return &h->fields[i];
	return NULL;
}

/* ---- chunked bodies ------------------------------------------------------ */

enum {
	CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER, CH_TRAILER_LF, CH_DONE,
};

#define CH_MAX_DIGITS 15          /* sizes below 2^60 */
#define CH_MAX_TRAILER 4096

static long chunk_fail(struct http_parse_error *err, unsigned status,
		       const char *message)
{
	return fail(err, status, status == 413 ? "PayloadTooLarge" :
		    "InvalidRequest", message);
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One byte of the framing around the data. Returns 0 or -1. */
static int chunk_step(struct http_chunked *c, unsigned char b,
		      struct http_parse_error *err)
{
	int d;

	switch (c->state) {
	case CH_SIZE:
		d = hex_value(b);
		if (d >= 0) {
			if (++c->digits > CH_MAX_DIGITS)
				return (int)chunk_fail(err, 413, "a chunk size is "
						       "beyond any body limit");
			c->size = c->size * 16 + (unsigned)d;
			return 0;
		}
		if (!c->digits)
			return (int)chunk_fail(err, 400, "a chunk size must be "
					       "hexadecimal digits");
		if (c->size > c->limit - c->total)
			return (int)chunk_fail(err, 413, "the chunked body is "
					       "larger than the limit");
		if (b == ';' || b == ' ' || b == '\t') {
			c->state = CH_EXT;
			c->ext = b == ';';
			c->line = 0;
			return 0;
		}
		if (b != '\r')
			return (int)chunk_fail(err, 400, "malformed chunk size line");
		c->state = CH_SIZE_LF;
		return 0;
	case CH_EXT:
		/* whitespace, then ";name=value" pairs (dropped) */
		if (b == ';')
			c->ext = true;
		else if (b == '\r' && c->ext)
			c->state = CH_SIZE_LF;
		else if ((b != ' ' && b != '\t' && !c->ext) || !is_value_char(b) ||
			 ++c->line > CH_MAX_TRAILER)
			return (int)chunk_fail(err, 400, "malformed chunk extension");
		return 0;
	case CH_SIZE_LF:
		if (b != '\n')
			return (int)chunk_fail(err, 400, "a chunk size line must "
					       "end in CRLF");
		c->line = 0;
		c->state = c->size ? CH_DATA : CH_TRAILER;
		return 0;
	case CH_DATA_CR:
		if (b != '\r')
			return (int)chunk_fail(err, 400, "a chunk must end in CRLF");
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (b != '\n')
			return (int)chunk_fail(err, 400, "a chunk must end in CRLF");
		c->state = CH_SIZE;
		c->size = 0;
		c->digits = 0;
		return 0;
	case CH_TRAILER:
		/* trailer fields are read and ignored */
		if (b == '\r') {
			c->state = CH_TRAILER_LF;
			return 0;
		}
		if ((!is_value_char(b) && b != ':') || ++c->line > CH_MAX_TRAILER)
			return (int)chunk_fail(err, 400, "malformed trailer");
		c->trailer_line = true;
		return 0;
	case CH_TRAILER_LF:
		if (b != '\n')
			return (int)chunk_fail(err, 400, "a trailer line must end "
					       "in CRLF");
		c->state = c->trailer_line ? CH_TRAILER : CH_DONE;
		c->trailer_line = false;
		return 0;
	}
	return (int)chunk_fail(err, 400, "data after the last chunk");
}

void http_chunked_init(struct http_chunked *c, uint64_t limit)
{
	memset(c, 0, sizeof(*c));
	c->limit = limit;
}

bool http_chunked_done(const struct http_chunked *c)
{
	return c->state == CH_DONE;
}

long http_chunked_feed(struct http_chunked *c, const char *in, size_t n,
		       http_body_sink sink, void *cls,
		       struct http_parse_error *err)
{
	size_t i = 0;

	while (i < n && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t take = n - i;

			if (take > c->size)
				take = (size_t)c->size;
			sink(cls, in + i, take);
			c->size -= take;
			c->total += take;
			i += take;
			if (!c->size)
				c->state = CH_DATA_CR;
			continue;
		}
		if (chunk_step(c, (unsigned char)in[i], err))
			return -1;
		i++;
	}
	return (long)i;
}
