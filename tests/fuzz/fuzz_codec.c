/* fuzz_codec: percent-decoding, RFC 3339 parsing and JSON string escaping. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void percent(const char *s, size_t n)
{
	char *out = util_xmalloc(n + 1);
	long got = util_percent_decode(s, n, out, (n & 1) != 0);

	UTIL_ASSERT(got <= (long)n);
	if (got >= 0)
		UTIL_ASSERT(strlen(out) == (size_t)got);
	free(out);
}

static void timestamp(const char *s)
{
	int64_t ms, again;
	char text[25];

	if (util_rfc3339_parse(s, &ms))
		return;
	/* What we print, we parse back to the same instant (years 0..9999). */
	if (ms < -62135596800000LL || ms > 253402300799999LL)
		return;
	util_rfc3339_format(ms, text);
	UTIL_ASSERT(util_rfc3339_parse(text, &again) == 0 && again == ms);
}

static void json_string_escape(const char *s)
{
	struct util_buf b;
	json_t *v;

	util_buf_init(&b, 0);
	UTIL_ASSERT(util_buf_json_str(&b, s) == 0);
	v = json_loads(b.data, JSON_DECODE_ANY, NULL);
	UTIL_ASSERT(v && json_is_string(v));
	json_decref(v);
	util_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = util_xstrndup((const char *)data, size);

	percent((const char *)data, size);
	timestamp(s);
	json_string_escape(s);
	free(s);
	return 0;
}
