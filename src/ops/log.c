/* ops/log.c: JSON log lines. Formatting happens in the caller's thread on
 * a stack buffer; a log thread writes the lines to stderr, many per write(2),
 * so a busy server does not pay a system call per request. */
#include "ops/ops.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Lines waiting for the log thread are capped; past the cap the caller
 * writes its own line (backpressure instead of unbounded memory). */
#define PENDING_MAX (4 * 1024 * 1024)
/* The log thread lets lines gather this long between writes. */
#define GATHER_US 1000

static _Atomic int min_level = OPS_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct util_buf pending;
	bool started;
	bool writing;
} out = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static pthread_once_t start_once = PTHREAD_ONCE_INIT;

void ops_log_set_level(enum ops_log_level level)
{
	atomic_store(&min_level, (int)level);
}

int ops_log_level_parse(const char *s, enum ops_log_level *out_level)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out_level = (enum ops_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool ops_log_enabled(enum ops_log_level level)
{
	return (int)level >= atomic_load_explicit(&min_level, memory_order_relaxed);
}

static void write_all(const char *p, size_t left)
{
	while (left > 0) {
		ssize_t n = write(STDERR_FILENO, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/* Takes everything pending and writes it; returns false if there was none.
 * Called with the lock held; drops it while writing. */
static bool write_pending(void)
{
	struct util_buf batch = out.pending;

	if (!batch.len)
		return false;
	util_buf_init(&out.pending, 0);
	out.writing = true;
	pthread_mutex_unlock(&out.lock);
	write_all(batch.data, batch.len);
	util_buf_release(&batch);
	pthread_mutex_lock(&out.lock);
	out.writing = false;
	pthread_cond_broadcast(&out.wake);
	return true;
}

static void *log_thread(void *arg)
{
	struct timespec gather = { 0, GATHER_US * 1000 };

	(void)arg;
	pthread_mutex_lock(&out.lock);
	for (;;) {
		while (!out.pending.len)
			pthread_cond_wait(&out.wake, &out.lock);
		pthread_mutex_unlock(&out.lock);
		nanosleep(&gather, NULL);  /* let a few more lines join */
		pthread_mutex_lock(&out.lock);
		write_pending();
	}
	return NULL;
}

static void flush_at_exit(void)
{
	ops_log_flush();
}

static void start_thread(void)
{
	pthread_t t;
	sigset_t all, old;

	/* The thread must not take signals the server waits for. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, log_thread, NULL) == 0) {
		pthread_detach(t);
		pthread_setname_np(t, "grantd-log");
		out.started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	atexit(flush_at_exit);
}

void ops_log_flush(void)
{
	pthread_mutex_lock(&out.lock);
	while (out.writing)
		pthread_cond_wait(&out.wake, &out.lock);
	write_pending();
	pthread_mutex_unlock(&out.lock);
}

/* Hands a finished line to the log thread (or writes it when the thread is
 * missing or far behind). */
static void emit(const char *line, size_t len)
{
	bool direct, was_empty;

	pthread_once(&start_once, start_thread);
	pthread_mutex_lock(&out.lock);
	direct = !out.started || out.pending.len + len > PENDING_MAX;
	was_empty = out.pending.len == 0;
	if (!direct)
		util_buf_append(&out.pending, line, len);
	if (!direct && was_empty)
		pthread_cond_signal(&out.wake);
	pthread_mutex_unlock(&out.lock);
	if (direct)
		write_all(line, len);
}

/* ---- building a line ------------------------------------------------- */

/* Appends raw bytes, moving to the heap if the stack buffer is full. */
static void put(struct ops_log_line *l, const char *p, size_t n)
{
	if (!l->heap.data && l->len + n <= sizeof(l->stack)) {
		memcpy(l->stack + l->len, p, n);
		l->len += n;
		return;
	}
	if (!l->heap.data) {
		util_buf_init(&l->heap, 0);
		util_buf_append(&l->heap, l->stack, l->len);
	}
	util_buf_append(&l->heap, p, n);
}

static void put_str(struct ops_log_line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* A JSON string. Plain printable ASCII (ids, paths, names: nearly every
 * value) is copied as it is; anything else goes through the full escaper. */
static void put_json_str(struct ops_log_line *l, const char *s)
{
	struct util_buf b;
	size_t n = 0;

	while (s[n] && (unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x7f &&
	       s[n] != '"' && s[n] != '\\')
		n++;
	if (!s[n]) {
		put(l, "\"", 1);
		put(l, s, n);
		put(l, "\"", 1);
		return;
	}
	util_buf_init(&b, 0);
	util_buf_json_str(&b, s);
	put(l, b.data, b.len);
	util_buf_release(&b);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ": the part up to the second is formatted once
 * per second per thread. */
static void put_time(struct ops_log_line *l)
{
	static _Thread_local int64_t cached_second = -1;
	static _Thread_local char cached[25];
	int64_t ms = util_now_ms();
	char frac[6];

	if (ms / 1000 != cached_second) {
		util_rfc3339_format(ms, cached);
		cached_second = ms / 1000;
	}
	put(l, cached, 19);
	frac[0] = '.';
	frac[1] = (char)('0' + ms % 1000 / 100);
	frac[2] = (char)('0' + ms % 100 / 10);
	frac[3] = (char)('0' + ms % 10);
	frac[4] = 'Z';
	put(l, frac, 5);
}

void ops_log_begin_always(struct ops_log_line *l, enum ops_log_level level,
			  const char *event)
{
	l->len = 0;
	l->heap.data = NULL;
	put_str(l, "{\"time\":\"");
	put_time(l);
	put_str(l, "\",\"level\":\"");
	put_str(l, level_names[level]);
	put_str(l, "\",\"event\":");
	put_json_str(l, event);
	if (*util_trace_get()) {
		put_str(l, ",\"request_id\":");
		put_json_str(l, util_trace_get());
	}
}

bool ops_log_begin(struct ops_log_line *l, enum ops_log_level level,
		   const char *event)
{
	if (!ops_log_enabled(level))
		return false;
	ops_log_begin_always(l, level, event);
	return true;
}

static void put_key(struct ops_log_line *l, const char *key)
{
	put(l, ",", 1);
	put_json_str(l, key);
	put(l, ":", 1);
}

void ops_log_str(struct ops_log_line *l, const char *key, const char *value)
{
	put_key(l, key);
	if (value)
		put_json_str(l, value);
	else
		put_str(l, "null");
}

void ops_log_int(struct ops_log_line *l, const char *key, int64_t value)
{
	char digits[24], *p = digits + sizeof(digits);
	uint64_t v = value < 0 ? -(uint64_t)value : (uint64_t)value;

	put_key(l, key);
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (value < 0)
		*--p = '-';
	put(l, p, (size_t)(digits + sizeof(digits) - p));
}

void ops_log_bool(struct ops_log_line *l, const char *key, bool value)
{
	put_key(l, key);
	put_str(l, value ? "true" : "false");
}

void ops_log_end(struct ops_log_line *l)
{
	put(l, "}\n", 2);
	if (l->heap.data) {
		emit(l->heap.data, l->heap.len);
		util_buf_release(&l->heap);
	} else {
		emit(l->stack, l->len);
	}
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

bool ops_log_limit_take(struct ops_log_limit *lim, uint64_t *suppressed)
{
	long long now = util_now_ms(), last = atomic_load(&lim->last_ms);

	if ((last && now - last < 1000) ||
	    !atomic_compare_exchange_strong(&lim->last_ms, &last, now)) {
		atomic_fetch_add(&lim->suppressed, 1);
		return false;
	}
	*suppressed = atomic_exchange(&lim->suppressed, 0);
	return true;
}
