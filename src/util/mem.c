/* util/mem.c: aborting allocators and the bug reporter. */
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void util_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "grantd: BUG at %s:%d: %s\n", file, line, what);
	abort();
}

static _Noreturn void out_of_memory(size_t n)
{
	fprintf(stderr, "grantd: out of memory allocating %zu bytes\n", n);
	abort();
}

void *util_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *util_xcalloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);

	if (!p)
		out_of_memory(count * n);
	return p;
}

void *util_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		out_of_memory(n);
	return q;
}

char *util_xstrdup(const char *s)
{
	return util_xstrndup(s, strlen(s));
}

char *util_xstrndup(const char *s, size_t n)
{
	char *p = util_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *util_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory(0);
	return p;
}
