/* Unit tests of util: buffers, JSON escaping, RFC 3339, percent-decoding,
 * ids and number parsing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

Test(buf, appends_and_caps)
{
	struct util_buf b;

	util_buf_init(&b, 8);
	cr_assert_eq(util_buf_puts(&b, "abcd"), 0);
	cr_assert_eq(util_buf_printf(&b, "%d", 1234), 0);
	cr_assert_str_eq(b.data, "abcd1234");
	cr_assert_eq(util_buf_putc(&b, 'x'), -1);
	cr_assert_str_eq(b.data, "abcd1234");  /* unchanged by the refusal */
	util_buf_release(&b);
}

Test(buf, json_strings_escape_and_repair_utf8)
{
	struct util_buf b;
	json_t *v;

	util_buf_init(&b, 0);
	cr_assert_eq(util_buf_json_str(&b, "a\"b\\c\n\x01 caf\xc3\xa9 \xff"), 0);
	v = json_loads(b.data, JSON_DECODE_ANY, NULL);
	cr_assert_not_null(v, "%s", b.data);
	cr_assert_str_eq(json_string_value(v), "a\"b\\c\n\x01 caf\xc3\xa9 \xef\xbf\xbd");
	json_decref(v);
	util_buf_release(&b);
}

Test(rfc3339, parses_offsets_and_fractions)
{
	int64_t ms;

	cr_assert_eq(util_rfc3339_parse("1970-01-01T00:00:00Z", &ms), 0);
	cr_assert_eq(ms, 0);
	cr_assert_eq(util_rfc3339_parse("2026-01-31T12:00:00.5+02:00", &ms), 0);
	cr_assert_eq(ms, 1769853600500LL);
	cr_assert_eq(util_rfc3339_parse("2024-02-29T23:59:59.999-00:30", &ms), 0);
	cr_assert_eq(ms, 1709252999999LL);
}

Test(rfc3339, rejects_malformed)
{
	static const char *bad[] = {
		"", "2026-01-31", "2026-01-31T12:00:00", "2026-13-01T00:00:00Z",
		"2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-31T24:00:00Z",
		"2026-01-31T12:00:00.Z", "2026-01-31T12:00:00Zjunk", "26-01-31T12:00:00Z",
		"2026-01-31T12:00:00+2:00", "2026-01-31 12:00:00Z",
	};
	int64_t ms;

	for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++)
		cr_assert_eq(util_rfc3339_parse(bad[i], &ms), -1, "%s", bad[i]);
}

Test(rfc3339, formats_round_trip)
{
	char out[25];
	int64_t ms;

	util_rfc3339_format(1769853600500LL, out);
	cr_assert_str_eq(out, "2026-01-31T10:00:00.500Z");
	cr_assert_eq(util_rfc3339_parse(out, &ms), 0);
	cr_assert_eq(ms, 1769853600500LL);
	util_rfc3339_format(-1, out);
	cr_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}

Test(percent, decodes_segments)
{
	char out[32];

	cr_assert_eq(util_percent_decode("a%2Fb%41", 8, out, false), 4);
	cr_assert_str_eq(out, "a/bA");
	cr_assert_eq(util_percent_decode("a+b", 3, out, false), 3);
	cr_assert_str_eq(out, "a+b");
	cr_assert_eq(util_percent_decode("a+b", 3, out, true), 3);
	cr_assert_str_eq(out, "a b");
	cr_assert_eq(util_percent_decode("%zz", 3, out, false), -1);
	cr_assert_eq(util_percent_decode("ab%4", 4, out, false), -1);
	cr_assert_eq(util_percent_decode("a%00b", 5, out, false), -1);
}

Test(ids, uuid7_is_versioned_and_ordered)
{
	char a[UTIL_UUID_LEN + 1], b[UTIL_UUID_LEN + 1];

	util_uuid7(a);
	util_uuid7(b);
	cr_assert_eq(strlen(a), 36);
	cr_assert_eq(a[14], '7');
	cr_assert(strchr("89ab", a[19]));
	cr_assert_neq(strcmp(a, b), 0);
	cr_assert_leq(memcmp(a, b, 13), 0);  /* the millisecond prefix orders */
}

Test(codec, hex_base64url_sha256)
{
	char hex[9], b64[8], sha[65];

	util_hex_encode("\x01\xab\xff\x00", 4, hex);
	cr_assert_str_eq(hex, "01abff00");
	util_base64url_encode("\xfb\xff", 2, b64);
	cr_assert_str_eq(b64, "-_8");
	util_sha256_hex("abc", 3, sha);
	cr_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(codec, parse_int64)
{
	int64_t v;

	cr_assert_eq(util_parse_int64("42", 0, 100, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(util_parse_int64("-1", 0, 100, &v), -1);
	cr_assert_eq(util_parse_int64("101", 0, 100, &v), -1);
	cr_assert_eq(util_parse_int64("4x", 0, 100, &v), -1);
	cr_assert_eq(util_parse_int64("", 0, 100, &v), -1);
	cr_assert_eq(util_parse_int64(" 4", 0, 100, &v), -1);
	cr_assert_eq(util_parse_int64("99999999999999999999", 0, INT64_MAX, &v), -1);
}

Test(util, cidr_parse_and_contains)
{
	struct util_cidr c;
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };

	cr_assert_eq(util_cidr_parse("192.0.2.0/24", &c), 0);
	inet_pton(AF_INET, "192.0.2.77", &a4.sin_addr);
	cr_assert(util_cidr_contains(&c, &a4));
	inet_pton(AF_INET, "192.0.3.1", &a4.sin_addr);
	cr_assert_not(util_cidr_contains(&c, &a4));
	/* an IPv4 client seen on a dual-stack socket */
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &a6.sin6_addr);
	cr_assert(util_cidr_contains(&c, &a6));
	cr_assert_eq(util_cidr_parse("2001:db8::/32", &c), 0);
	inet_pton(AF_INET6, "2001:db8:1::5", &a6.sin6_addr);
	cr_assert(util_cidr_contains(&c, &a6));
	cr_assert_eq(util_cidr_parse("127.0.0.1", &c), 0);
	cr_assert_eq(c.bits, 128);
	cr_assert_eq(util_cidr_parse("0.0.0.0/0", &c), 0);
	cr_assert(util_cidr_contains(&c, &a4));
	cr_assert_not(util_cidr_contains(&c, NULL));
	cr_assert_eq(util_cidr_parse("192.0.2.0/33", &c), -1);
	cr_assert_eq(util_cidr_parse("192.0.2.0/", &c), -1);
	cr_assert_eq(util_cidr_parse("/8", &c), -1);
	cr_assert_eq(util_cidr_parse("example.com", &c), -1);
	cr_assert_eq(util_cidr_parse("10.0.0.0/+8", &c), -1);
}

/* A service thread that sleeps until asked to stop, counting wake-ups. */
struct sleeper {
	struct util_thread t;
	int wakeups;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	pthread_mutex_lock(&s->t.lock);
	while (!util_thread_stopping(&s->t)) {
		pthread_cond_wait(&s->t.wake, &s->t.lock);
		s->wakeups++;
	}
	pthread_mutex_unlock(&s->t.lock);
	return NULL;
}

Test(util, thread_life_cycle)
{
	struct sleeper s = { 0 };

	util_thread_stop(&s.t);             /* never started: nothing to do */
	cr_assert_eq(util_thread_start(&s.t, "test-sleeper", sleeper_main, &s), 0);
	cr_assert(s.t.started);
	cr_assert_not(util_thread_stopping(&s.t));
	util_thread_stop(&s.t);
	cr_assert_not(s.t.started);
	cr_assert(util_thread_stopping(&s.t));
	util_thread_stop(&s.t);             /* twice: harmless */
}

Test(util, read_file_refuses_what_is_not_a_regular_file)
{
	char dir[] = "/tmp/grantd-test-fifo-XXXXXX";
	char fifo[64], file[64];
	struct util_buf b;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	util_buf_init(&b, 1024);
	/* a FIFO with no writer: refused at once, not waited on */
	cr_assert_eq(util_read_file(fifo, &b), -1);
	cr_assert_eq(errno, UTIL_ENOTREG);
	cr_assert_str_eq(util_strerror(errno), "not a regular file");
	cr_assert_eq(util_read_file(dir, &b), -1);
	cr_assert_eq(errno, UTIL_ENOTREG);
	cr_assert_eq(util_read_file("/dev/null", &b), -1);
	cr_assert_eq(errno, UTIL_ENOTREG);
	cr_assert_not_null(f = fopen(file, "w"));
	fputs("hello", f);
	fclose(f);
	cr_assert_eq(util_read_file(file, &b), 0);
	cr_assert_str_eq(b.data, "hello");
	util_buf_release(&b);
	unlink(fifo);
	unlink(file);
	rmdir(dir);
}
