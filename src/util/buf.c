/* util/buf.c: the capped, NUL-terminated growable buffer and string lists. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void util_buf_init(struct util_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void util_buf_release(struct util_buf *b)
{
	free(b->data);
	util_buf_init(b, b->max);
}

void util_buf_reset(struct util_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the terminating NUL. */
static int reserve(struct util_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX / 2 - b->len)
		return -1;
	need = b->len + extra;
	if (b->max && need > b->max)
		return -1;
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap *= 2;
	b->data = util_xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int util_buf_append(struct util_buf *b, const void *p, size_t n)
{
	if (reserve(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int util_read_file(const char *path, struct util_buf *b)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), rc = 0, err;
	struct stat sb;
	FILE *f;
	size_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ||
	    !(f = fdopen(fd, "rb"))) {
		err = S_ISREG(sb.st_mode) ? errno : UTIL_ENOTREG;
		close(fd);
		errno = err;
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (util_buf_append(b, chunk, n)) {
			errno = EFBIG;
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		errno = EIO;
		rc = -1;
	}
	err = errno;
	fclose(f);
	errno = err;
	return rc;
}

const char *util_strerror(int err)
{
	if (err == UTIL_ENOTREG)
		return "not a regular file";
	return strerror(err);
}

int util_buf_puts(struct util_buf *b, const char *s)
{
	return util_buf_append(b, s, strlen(s));
}

int util_buf_putc(struct util_buf *b, char c)
{
	return util_buf_append(b, &c, 1);
}

int util_buf_vprintf(struct util_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0 || reserve(b, (size_t)n))
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int util_buf_printf(struct util_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = util_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;
		if (c == 0xed && s[1] > 0x9f)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] > 0x8f)
			return 0;
		return 4;
	}
	return 0;
}

int util_buf_json_str(struct util_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = b->len;

	if (util_buf_putc(b, '"'))
		return -1;
	while (*p) {
		size_t n;
		int rc;

		if (*p == '"' || *p == '\\') {
			char esc[2] = { '\\', (char)*p };
			rc = util_buf_append(b, esc, 2);
			n = 1;
		} else if (*p < 0x20) {
			rc = util_buf_printf(b, "\\u%04x", *p);
			n = 1;
		} else if ((n = utf8_seq_len(p)) == 0) {
			rc = util_buf_puts(b, "\xef\xbf\xbd");
			n = 1;
		} else {
			rc = util_buf_append(b, p, n);
		}
		if (rc)
			goto fail;
		p += n;
	}
	if (util_buf_putc(b, '"'))
		goto fail;
	return 0;
fail:
	b->len = start;
	if (b->data)
		b->data[start] = '\0';
	return -1;
}

char *util_buf_take(struct util_buf *b)
{
	char *p = b->data ? b->data : util_xstrdup("");

	util_buf_init(b, b->max);
	return p;
}

void util_strlist_init(struct util_strlist *l)
{
	l->items = NULL;
	l->len = 0;
	l->cap = 0;
}

void util_strlist_release(struct util_strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	util_strlist_init(l);
}

void util_strlist_add(struct util_strlist *l, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		util_bug(__FILE__, __LINE__, "vasprintf failed");
	va_end(ap);
	if (l->len == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->items = util_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->len++] = s;
}
