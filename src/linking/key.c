/* linking/key.c: the key that seals provider tokens at rest — read from
 * its file, or made on first start. */
#include "linking/linking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_HEX (2 * UTIL_SEAL_KEY_LEN)

char *linking_token_key_default_path(const char *database_path)
{
	return util_xasprintf("%s.token-key", database_path);
}

/* Decodes the file's content. Returns 0 or -1. */
static int key_decode(const struct util_buf *b,
		      unsigned char key[UTIL_SEAL_KEY_LEN])
{
	size_t n = b->len;

	if (n == UTIL_SEAL_KEY_LEN) {
		memcpy(key, b->data, n);
		return 0;
	}
	while (n > KEY_HEX && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r'))
		n--;
	if (n != KEY_HEX)
		return -1;
	return util_hex_decode(b->data, n, key);
}

/* Writes a new key to `path` (created exclusively, mode 0600). */
static int key_create(const char *path, unsigned char key[UTIL_SEAL_KEY_LEN],
		      char **err)
{
	char hex[KEY_HEX + 2];
	int fd, rc = -1;

	if (util_random_bytes(key, UTIL_SEAL_KEY_LEN)) {
		*err = util_xasprintf("%s: no random bytes for a new key", path);
		return -1;
	}
	util_hex_encode(key, UTIL_SEAL_KEY_LEN, hex);
	hex[KEY_HEX] = '\n';
	hex[KEY_HEX + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = util_xasprintf("%s: cannot create: %s", path,
				      strerror(errno));
		return -1;
	}
	if (write(fd, hex, KEY_HEX + 1) == KEY_HEX + 1 && fsync(fd) == 0)
		rc = 0;
	else
		*err = util_xasprintf("%s: cannot write: %s", path,
				      strerror(errno));
	close(fd);
	if (rc)
		unlink(path);
	memset(hex, 0, sizeof(hex));
	return rc;
}

int linking_token_key_load(const char *path, bool create,
			   unsigned char key[UTIL_SEAL_KEY_LEN], bool *created,
			   char **err)
{
	struct util_buf b;
	int rc = -1;

	*created = false;
	util_buf_init(&b, 4096);
	if (util_read_file(path, &b)) {
		if (errno == ENOENT && create) {
			rc = key_create(path, key, err);
			*created = rc == 0;
		} else {
			*err = util_xasprintf("%s: cannot read: %s", path,
					      errno == EFBIG ? "too large" :
					      util_strerror(errno));
		}
		goto out;
	}
	if (key_decode(&b, key)) {
		*err = util_xasprintf("%s: must hold 64 hex digits or 32 bytes",
				      path);
		goto out;
	}
	rc = 0;
out:
	if (b.data)
		memset(b.data, 0, b.len);
	util_buf_release(&b);
	return rc;
}
