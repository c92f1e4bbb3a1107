/* http/framing.c: the rules a syntactically good request head must still
 * meet — one message length, no repeated credential, a Host — and the
 * origin path of an absolute-form request target. */
#include "http/http_int.h"

#include <string.h>
#include <strings.h>

/* Fields a request may carry once: a second Content-Length or
 * Transfer-Encoding is how requests are smuggled past a proxy, and a
 * second Authorization or Host leaves who asked, and of whom, ambiguous. */
static const char *const single_fields[] = {
	"Content-Length", "Transfer-Encoding", "Authorization", "Host",
	"Content-Type", "Expect",
};
#define N_SINGLE (sizeof(single_fields) / sizeof(single_fields[0]))

static bool field_is(const struct http_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	       strncasecmp(f->name, name, f->name_len) == 0;
}

static bool value_is(const struct http_field *f, const char *value)
{
	return strlen(value) == f->value_len &&
	       strncasecmp(f->value, value, f->value_len) == 0;
}

static int fail(struct http_parse_error *err, unsigned status,
		const char *code, const char *message)
{
	err->status = status;
	err->code = code;
	err->message = message;
	return -1;
}

/* The error of the first field of single_fields seen twice. */
static int repeated(const struct http_head *h, struct http_parse_error *err)
{
	static const char *const messages[N_SINGLE] = {
		"the Content-Length header appears more than once",
		"the Transfer-Encoding header appears more than once",
		"the Authorization header appears more than once",
		"the Host header appears more than once",
		"the Content-Type header appears more than once",
		"the Expect header appears more than once",
	};

	for (size_t k = 0; k < N_SINGLE; k++) {
		unsigned seen = 0;

		for (size_t i = 0; i < h->n_fields; i++)
			if (field_is(&h->fields[i], single_fields[k]) && ++seen == 2)
				return fail(err, 400, "InvalidRequest", messages[k]);
	}
	return 0;
}

static int parse_length(const struct http_field *f, uint64_t *length,
			struct http_parse_error *err)
{
	uint64_t n = 0;

	if (!f->value_len || f->value_len > 15)
		return fail(err, 400, "InvalidRequest", "Content-Length must be "
			    "1 to 15 decimal digits");
	for (size_t i = 0; i < f->value_len; i++) {
		if (f->value[i] < '0' || f->value[i] > '9')
			return fail(err, 400, "InvalidRequest", "Content-Length "
				    "must be decimal digits only");
		n = n * 10 + (uint64_t)(f->value[i] - '0');
	}
	*length = n;
	return 0;
}

int http_framing_check(const struct http_head *h, bool *chunked,
		       uint64_t *length, struct http_parse_error *err)
{
	const struct http_field *te, *cl;

	*chunked = false;
	*length = 0;
	if (repeated(h, err))
		return -1;
	if (h->minor == 1 && !http_head_field(h, "Host"))
		return fail(err, 400, "InvalidRequest", "an HTTP/1.1 request "
			    "needs a Host header");
	te = http_head_field(h, "Transfer-Encoding");
	cl = http_head_field(h, "Content-Length");
	if (te && cl)
		return fail(err, 400, "InvalidRequest", "a request may have a "
			    "Content-Length or a Transfer-Encoding, not both");
	if (te && (!value_is(te, "chunked") || h->minor == 0))
		return fail(err, 501, "NotImplemented", "the only transfer "
			    "coding accepted is \"chunked\", in HTTP/1.1");
	*chunked = te != NULL;
	return cl ? parse_length(cl, length, err) : 0;
}

const char *http_framing_origin_path(const char *target)
{
	const char *p;

	if (strncasecmp(target, "http://", 7) == 0)
		p = target + 7;
	else if (strncasecmp(target, "https://", 8) == 0)
		p = target + 8;
	else
		return target[0] == '/' ? target : NULL;
	p += strcspn(p, "/?");
	return *p == '/' ? p : NULL;
}
