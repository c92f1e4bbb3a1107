/* fuzz_http_head: the request-head parser, the framing rules and the
 * chunked body decoder, on whatever bytes a client may send. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *cls, const char *d, size_t n)
{
	size_t *total = cls;
	volatile unsigned char sum = 0;

	/* every byte handed over must be readable (ASan checks the reads) */
	for (size_t i = 0; i < n; i++)
		sum = (unsigned char)(sum + (unsigned char)d[i]);
	*total += n;
}

/* A head must lie within the input and its fields within the head. */
static void check_head(const struct http_head *h, const char *buf, long len)
{
	UTIL_ASSERT(h->method >= buf && h->method + h->method_len <= buf + len);
	UTIL_ASSERT(h->target >= buf && h->target + h->target_len <= buf + len);
	UTIL_ASSERT(h->minor == 0 || h->minor == 1);
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct http_field *f = &h->fields[i];

		UTIL_ASSERT(f->name_len > 0);
		UTIL_ASSERT(f->value + f->value_len <= buf + len);
		UTIL_ASSERT(!memchr(f->value, '\0', f->value_len));
		UTIL_ASSERT(!memchr(f->value, '\r', f->value_len));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head h;
	const char *buf = (const char *)data;
	struct http_parse_error err;
	struct http_chunked ch;
	uint64_t length;
	bool chunked;
	size_t total = 0;
	long n = http_parse_head(buf, size, 4096, &h, &err);

	if (n < 0) {
		UTIL_ASSERT(err.status >= 400 && err.status < 600 && err.message);
		return 0;
	}
	if (n == 0)
		return 0;
	UTIL_ASSERT((size_t)n <= size);
	check_head(&h, buf, n);
	if (http_framing_check(&h, &chunked, &length, &err) || !chunked)
		return 0;
	http_chunked_init(&ch, 65536);
	/* fed in two pieces, as a socket might deliver it */
	for (size_t at = (size_t)n, piece = 0; at < size && piece < 2; piece++) {
		size_t len = piece ? size - at : (size - at) / 2;
		long used = http_chunked_feed(&ch, buf + at, len, count, &total, &err);

		if (used < 0)
			return 0;
		UTIL_ASSERT((size_t)used <= len);
		at += (size_t)used;
		if (http_chunked_done(&ch))
			break;
	}
	UTIL_ASSERT(total <= 65536);
	return 0;
}
