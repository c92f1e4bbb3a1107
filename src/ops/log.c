/* ops/log.c: JSON log lines written atomically to stderr. */
#include "ops/ops.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = OPS_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void ops_log_set_level(enum ops_log_level level)
{
	atomic_store(&min_level, (int)level);
}

int ops_log_level_parse(const char *s, enum ops_log_level *out)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum ops_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool ops_log_enabled(enum ops_log_level level)
{
	return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

bool ops_log_begin(struct ops_log_line *l, enum ops_log_level level,
		   const char *event)
{
	char ts[25];

	if (!ops_log_enabled(level))
		return false;
	util_buf_init(&l->buf, 0);
	util_rfc3339_format(util_now_ms(), ts);
	util_buf_printf(&l->buf, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":",
			ts, level_names[level]);
	util_buf_json_str(&l->buf, event);
	return true;
}

static void put_key(struct ops_log_line *l, const char *key)
{
	util_buf_putc(&l->buf, ',');
	util_buf_json_str(&l->buf, key);
	util_buf_putc(&l->buf, ':');
}

void ops_log_str(struct ops_log_line *l, const char *key, const char *value)
{
	put_key(l, key);
	if (value)
		util_buf_json_str(&l->buf, value);
	else
		util_buf_puts(&l->buf, "null");
}

void ops_log_int(struct ops_log_line *l, const char *key, int64_t value)
{
	put_key(l, key);
	util_buf_printf(&l->buf, "%lld", (long long)value);
}

void ops_log_bool(struct ops_log_line *l, const char *key, bool value)
{
	put_key(l, key);
	util_buf_puts(&l->buf, value ? "true" : "false");
}

void ops_log_end(struct ops_log_line *l)
{
	const char *p;
	size_t left;

	util_buf_puts(&l->buf, "}\n");
	p = l->buf.data;
	left = l->buf.len;
	while (left > 0) {
		ssize_t n = write(STDERR_FILENO, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	util_buf_release(&l->buf);
}

void ops_log(enum ops_log_level level, const char *event, const char *fmt, ...)
{
	struct ops_log_line l;
	char *msg;
	va_list ap;
	int n;

	if (!ops_log_begin(&l, level, event))
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	ops_log_str(&l, "msg", n < 0 ? "(unformattable)" : msg);
	if (n >= 0)
		free(msg);
	ops_log_end(&l);
}
