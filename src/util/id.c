/* util/id.c: CSPRNG bytes and time-ordered UUIDs. */
#include "util/util.h"

#include <errno.h>
#include <sys/random.h>

int util_random_bytes(void *out, size_t n)
{
	unsigned char *p = out;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* A per-thread generator for the random part of ids: xoshiro256**, seeded
 * from the kernel once per thread. Ids must be unique, not secret (secrets
 * use util_random_bytes), so this saves a system call per id. */
static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next_random(void)
{
	static _Thread_local uint64_t s[4];
	static _Thread_local bool seeded;
	uint64_t result, t;

	if (!seeded) {
		if (util_random_bytes(s, sizeof(s)))
			util_bug(__FILE__, __LINE__, "getrandom failed");
		seeded = true;
	}
	result = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

void util_uuid7(char out[static UTIL_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t ms = (uint64_t)util_now_ms(), r1 = next_random(), r2 = next_random();
	size_t o = 0;

	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	for (int i = 0; i < 2; i++)
		b[6 + i] = (unsigned char)(r1 >> (8 * i));
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)(r2 >> (8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}
