/* Unit tests of the request-head parser, the framing rules and the chunked
 * decoder: what is accepted, what is refused with which status, and that
 * input split anywhere decodes the same. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http_int.h"

static struct http_head head;
static struct http_parse_error err;

static long parse(const char *text)
{
	return http_parse_head(text, strlen(text), 256, &head, &err);
}

/* The status a head is refused with; 0 if accepted, 1 if incomplete. */
static unsigned refusal(const char *text)
{
	long n = parse(text);
	bool chunked;
	uint64_t length;

	if (n == 0)
		return 1;
	if (n < 0)
		return err.status;
	return http_framing_check(&head, &chunked, &length, &err) ? err.status : 0;
}

Test(http_parse, a_get_with_fields)
{
	const char *t = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A:  v w \t\r\n\r\nrest";

	cr_assert_eq(parse(t), (long)strlen(t) - 4);
	cr_assert_eq(head.method_len, 3);
	cr_assert_eq(head.target_len, 6);
	cr_assert_eq(head.minor, 1);
	cr_assert_eq(head.n_fields, 2);
	cr_assert_eq(head.fields[1].value_len, 3);   /* "v w", trimmed */
	cr_assert_eq(memcmp(head.fields[1].value, "v w", 3), 0);
}

Test(http_parse, incomplete_heads_ask_for_more)
{
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"), 0);
	cr_assert_eq(parse("GET / HT"), 0);
	cr_assert_eq(parse(""), 0);
}

Test(http_parse, leading_empty_lines_are_skipped)
{
	const char *t = "\r\n\r\nGET / HTTP/1.0\r\n\r\n";

	cr_assert_eq(parse(t), (long)strlen(t));
	cr_assert_eq(head.minor, 0);
}

Test(http_parse, ambiguous_heads_are_refused)
{
	cr_assert_eq(refusal("GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\nHost: x\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nnocolon\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / http/1.1\r\nHost: x\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET /\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/2.0\r\n\r\n"), 505);
	cr_assert_eq(refusal("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
}

Test(http_parse, a_nul_anywhere_is_refused)
{
	const char t[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
	const char v[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";

	cr_assert_eq(http_parse_head(t, sizeof(t) - 1, 256, &head, &err), -1);
	cr_assert_eq(err.status, 400);
	cr_assert_eq(http_parse_head(v, sizeof(v) - 1, 256, &head, &err), -1);
	cr_assert_eq(err.status, 400);
}

Test(http_parse, oversized_heads_are_431_or_414)
{
	char big[400];

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	cr_assert_eq(http_parse_head(big, sizeof(big), 256, &head, &err), -1);
	cr_assert_eq(err.status, 414);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	cr_assert_eq(http_parse_head(big, sizeof(big), 256, &head, &err), -1);
	cr_assert_eq(err.status, 431);
}

Test(http_parse, endless_empty_lines_count_against_the_limit)
{
	char crlf[300];

	for (size_t i = 0; i < sizeof(crlf); i += 2)
		memcpy(crlf + i, "\r\n", 2);
	cr_assert_eq(http_parse_head(crlf, 200, 256, &head, &err), 0);
	cr_assert_eq(http_parse_head(crlf, sizeof(crlf), 256, &head, &err), -1);
	cr_assert(err.status == 414 || err.status == 431);
}

Test(http_framing, one_length_and_one_credential)
{
	cr_assert_eq(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			     "Content-Length: 5\r\n\r\n"), 400);
	cr_assert_eq(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n"), 400);
	cr_assert_eq(refusal("POST / HTTP/1.1\r\nHost: x\r\n"
			     "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\n"
			     "authorization: b\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.1\r\n\r\n"), 400);
	cr_assert_eq(refusal("GET / HTTP/1.0\r\n\r\n"), 0);
	cr_assert_eq(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"),
		     400);
	cr_assert_eq(refusal("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
			     "1234567890123456\r\n\r\n"), 400);
}

Test(http_framing, absolute_form_targets)
{
	cr_assert_str_eq(http_framing_origin_path("http://h:1/a/b?c"), "/a/b?c");
	cr_assert_str_eq(http_framing_origin_path("/a"), "/a");
	cr_assert_null(http_framing_origin_path("http://h?c"));
	cr_assert_null(http_framing_origin_path("*"));
}

static char got[256];
static size_t got_len;

static void collect(void *cls, const char *data, size_t n)
{
	(void)cls;
	cr_assert_leq(got_len + n, sizeof(got));
	memcpy(got + got_len, data, n);
	got_len += n;
}

Test(http_chunked, decodes_split_at_every_byte)
{
	const char *t = "4\r\nWiki\r\n5;ext=x\r\npedia\r\n0\r\nT: v\r\n\r\n";
	size_t len = strlen(t);

	for (size_t cut = 0; cut <= len; cut++) {
		struct http_chunked c;
		long a, b;

		got_len = 0;
		http_chunked_init(&c, 100);
		a = http_chunked_feed(&c, t, cut, collect, NULL, &err);
		cr_assert_eq(a, (long)cut);
		b = http_chunked_feed(&c, t + cut, len - cut, collect, NULL, &err);
		cr_assert_eq(b, (long)(len - cut));
		cr_assert(http_chunked_done(&c));
		cr_assert_eq(got_len, 9);
		cr_assert_eq(memcmp(got, "Wikipedia", 9), 0);
	}
}

Test(http_chunked, bad_and_huge_sizes_are_refused)
{
	static const struct { const char *text; unsigned status; } cases[] = {
		{ "zz\r\n", 400 }, { "-1\r\n", 400 }, { "\r\n", 400 },
		{ "ffffffffffffffffffff\r\n", 413 }, { "65\r\n", 413 },
		{ "3\r\nabcX", 400 }, { "3 \r\nabc\r\n", 400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_chunked c;

		got_len = 0;
		http_chunked_init(&c, 100);
		cr_assert_eq(http_chunked_feed(&c, cases[i].text,
					       strlen(cases[i].text), collect,
					       NULL, &err), -1, "%s", cases[i].text);
		cr_assert_eq(err.status, cases[i].status, "%s", cases[i].text);
	}
}
