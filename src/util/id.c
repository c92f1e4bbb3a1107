/* util/id.c: CSPRNG bytes and time-ordered UUIDs. */
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
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

void util_uuid7(char out[static UTIL_UUID_LEN + 1])
{
	unsigned char b[16];
	uint64_t ms = (uint64_t)util_now_ms();

	if (util_random_bytes(b + 6, 10))
		util_bug(__FILE__, __LINE__, "getrandom failed");
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	snprintf(out, UTIL_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}
