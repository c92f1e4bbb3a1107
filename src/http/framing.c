/* http/framing.c: the HTTP/1.1 framing rules checked once a request's
 * header block is in — one message length, no repeated credential, a Host,
 * no whitespace in field names — and the origin path of an absolute-form
 * request target. */
#include "http/http_int.h"

#include <string.h>
#include <strings.h>

/* Fields a request may carry once: a second Content-Length or
 * Transfer-Encoding is how requests are smuggled past a proxy, and a
 * second Authorization or Host leaves who asked, and of whom, ambiguous. */
static const char *const single_fields[] = {
	MHD_HTTP_HEADER_CONTENT_LENGTH, MHD_HTTP_HEADER_TRANSFER_ENCODING,
	MHD_HTTP_HEADER_AUTHORIZATION, MHD_HTTP_HEADER_HOST,
	MHD_HTTP_HEADER_CONTENT_TYPE, MHD_HTTP_HEADER_EXPECT,
};
#define N_SINGLE (sizeof(single_fields) / sizeof(single_fields[0]))

struct field_scan {
	size_t bytes;              /* the header block, roughly as sent */
	unsigned count[N_SINGLE];
	const char *repeated;      /* the first single field seen twice */
	const char *bad_name;      /* a field name with whitespace or no name */
};

/* Adds the size of one query argument (libmicrohttpd has split the query
 * off the path) to a size_t. */
static enum MHD_Result count_bytes(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
	return MHD_YES;
}

static bool name_is_token(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if ((unsigned char)*name <= 0x20 || (unsigned char)*name >= 0x7f)
			return false;
	return true;
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	struct field_scan *scan = cls;

	(void)kind;
	scan->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
	if (!name_is_token(key) && !scan->bad_name)
		scan->bad_name = key;
	for (size_t i = 0; i < N_SINGLE; i++) {
		if (strcasecmp(key, single_fields[i]) != 0)
			continue;
		if (++scan->count[i] == 2 && !scan->repeated)
			scan->repeated = single_fields[i];
	}
	return MHD_YES;
}

static void refuse(struct http_request *req, unsigned status, const char *code,
		   const char *message)
{
	http_reply_header(req, "Connection", "close");
	http_reply_error(req, status, code, "%s", message);
}

static bool version_is_11(const char *version)
{
	return version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
}

/* The request line: a version grantd speaks, a path without control
 * characters or spaces. */
static bool request_line_ok(struct http_request *req, const char *target,
			    const char *version)
{
	if (!version || (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 &&
			 strcmp(version, MHD_HTTP_VERSION_1_0) != 0)) {
		refuse(req, 505, "HTTPVersionNotSupported", "grantd speaks "
		       "HTTP/1.1 and HTTP/1.0 only");
		return false;
	}
	for (const char *p = target; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) {
			refuse(req, 400, "InvalidRequest", "the request target "
			       "contains a space or a control character");
			return false;
		}
	}
	return true;
}

bool http_framing_check(struct http_request *req, const char *target,
			const char *version)
{
	struct field_scan scan = { 0 };
	size_t max = req->server->opts.max_header_bytes, query = 0;
	const char *te, *cl;

	if (!request_line_ok(req, target, version))
		return false;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, count_bytes,
				  &query);
	if (strlen(target) + query > max) {
		http_reply_header(req, "Connection", "close");
		http_reply_error(req, 414, "URITooLong", "the request target is "
				 "longer than %zu bytes", max);
		return false;
	}
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_field, &scan);
	if (scan.bytes + strlen(target) + query > max) {
		http_reply_header(req, "Connection", "close");
		http_reply_error(req, 431, "RequestHeaderFieldsTooLarge", "the "
				 "request line and headers are larger than the "
				 "limit of %zu bytes", max);
		return false;
	}
	if (scan.bad_name) {
		refuse(req, 400, "InvalidRequest", "a header field name is empty "
		       "or contains whitespace or control characters");
		return false;
	}
	if (scan.repeated) {
		http_reply_header(req, "Connection", "close");
		http_reply_error(req, 400, "InvalidRequest", "the %s header appears "
				 "more than once", scan.repeated);
		return false;
	}
	if (version_is_11(version) && !scan.count[3]) {
		refuse(req, 400, "InvalidRequest", "an HTTP/1.1 request needs a "
		       "Host header");
		return false;
	}
	te = http_request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (te && cl) {
		refuse(req, 400, "InvalidRequest", "a request may have a "
		       "Content-Length or a Transfer-Encoding, not both");
		return false;
	}
	if (te && strcasecmp(te, "chunked") != 0) {
		refuse(req, 501, "NotImplemented", "the only transfer coding "
		       "accepted is \"chunked\"");
		return false;
	}
	return true;
}

const char *http_framing_origin_path(const char *target)
{
	const char *p;

	if (strncasecmp(target, "http://", 7) == 0)
		p = target + 7;
	else if (strncasecmp(target, "https://", 8) == 0)
		p = target + 8;
	else
		return target;
	p += strcspn(p, "/?");
	return *p == '/' ? p : NULL;
}
