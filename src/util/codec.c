/* util/codec.c: hex, base64url, SHA-256, percent-encoding and -decoding,
 * and number parsing. */
#include "util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void util_hex_encode(const void *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

size_t util_base64url_encode(const void *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* Value of one base64 character in the chosen alphabet, or -1. */
static int b64_value(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

long util_base64_decode(const char *in, size_t n, void *out, bool url)
{
	unsigned char *o = out;
	uint32_t acc = 0;
	size_t len = 0, bits = 0;

	if (!url) {
		if (n % 4)
			return -1;
		for (int pad = 0; pad < 2 && n && in[n - 1] == '='; pad++)
			n--;
	} else if (n % 4 == 1) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(in[i], url);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc == 0 ? (long)len : -1;
}

/* OpenSSL 3's one-shot SHA256() looks the algorithm up in its provider
 * registry on every call; fetch it once and reuse it (it is immutable and
 * safe to share between threads). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void util_sha256(const void *in, size_t n, unsigned char out[static 32])
{
	pthread_once(&sha256_once, fetch_sha256);
	if (!sha256_md || !EVP_Digest(in, n, out, NULL, sha256_md, NULL))
		util_bug(__FILE__, __LINE__, "SHA-256 is not available");
}

void util_sha256_hex(const void *in, size_t n, char out[static 65])
{
	unsigned char md[32];

	util_sha256(in, n, md);
	util_hex_encode(md, sizeof(md), out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_hex_decode(const char *in, size_t n, unsigned char *out)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void util_percent_encode(struct util_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			util_buf_putc(b, (char)c);
		} else {
			util_buf_putc(b, '%');
			util_buf_putc(b, hex[c >> 4]);
			util_buf_putc(b, hex[c & 15]);
		}
	}
}

long util_percent_decode(const char *in, size_t n, char *out, bool plus_is_space)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

bool util_is_printable_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

int util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_cidr_parse(const char *text, struct util_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	int64_t bits;
	bool v4;

	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, text, n);
	addr[n] = '\0';
	memset(out, 0, sizeof(*out));
	v4 = inet_pton(AF_INET, addr, out->addr + 12) == 1;
	if (v4) {
		out->addr[10] = 0xff;
		out->addr[11] = 0xff;
	} else if (inet_pton(AF_INET6, addr, out->addr) != 1) {
		return -1;
	}
	if (!slash) {
		out->bits = 128;
		return 0;
	}
	if (strlen(slash + 1) > 3 || strspn(slash + 1, "0123456789") !=
	    strlen(slash + 1) || util_parse_int64(slash + 1, 0, v4 ? 32 : 128,
						  &bits))
		return -1;
	out->bits = (unsigned)bits + (v4 ? 96 : 0);
	return 0;
}

bool util_cidr_contains(const struct util_cidr *net, const void *sa)
{
	const struct sockaddr *s = sa;
	unsigned char a[16] = { 0 };
	unsigned full, rest;

	if (!s)
		return false;
	if (s->sa_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (s->sa_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	full = net->bits / 8;
	rest = net->bits % 8;
	if (memcmp(a, net->addr, full) != 0)
		return false;
	if (rest && ((a[full] ^ net->addr[full]) & (0xffu << (8 - rest)) & 0xffu))
		return false;
	return true;
}
