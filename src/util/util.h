/* util: small shared helpers (memory, buffers, time, ids, codecs) used by every module. */
#ifndef GRANTD_UTIL_H
#define GRANTD_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- invariants and memory ------------------------------------------- */

/* Aborts with file and line when a broken invariant is found (a bug, not bad
 * input). Cheap checks stay on in release builds. */
#define UTIL_ASSERT(cond) \
	((cond) ? (void)0 : util_bug(__FILE__, __LINE__, #cond))
_Noreturn void util_bug(const char *file, int line, const char *what);

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UTIL_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Allocators that abort on out-of-memory; all return new memory the caller
 * owns and frees with free(). */
void *util_xmalloc(size_t n);
void *util_xcalloc(size_t count, size_t n);
void *util_xrealloc(void *p, size_t n);
char *util_xstrdup(const char *s);
char *util_xstrndup(const char *s, size_t n);
/* Returns a new string formatted like printf (owned by the caller). */
char *util_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- banned functions -------------------------------------------------- */

/* These write past their buffer as soon as an input grows (or keep hidden
 * state): use snprintf, or memcpy after checking the length. Declared
 * again here (names in parentheses, past any macro) as deprecated, so a
 * call fails to build under -Werror. */
#define UTIL_BANNED __attribute__((deprecated("banned in grantd: use "  \
	"snprintf, or memcpy after checking the length")))
char *(strcpy)(char *dst, const char *src) UTIL_BANNED;
char *(strcat)(char *dst, const char *src) UTIL_BANNED;
int (sprintf)(char *dst, const char *fmt, ...) UTIL_BANNED;
int (vsprintf)(char *dst, const char *fmt, va_list ap) UTIL_BANNED;
char *(strtok)(char *s, const char *delim) UTIL_BANNED;
char *(gets)(char *s) UTIL_BANNED;

/* ---- growable byte buffer -------------------------------------------- */

/* A length-tracking buffer that stays NUL-terminated and refuses to grow past
 * `max` bytes (0 = no cap). A failed append leaves the content unchanged. */
struct util_buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;
};

void util_buf_init(struct util_buf *b, size_t max);
/* Frees the content; the buffer may be reused after util_buf_init. */
void util_buf_release(struct util_buf *b);
/* Appends the whole file at `path`. Returns 0, or -1 with errno set:
 * EFBIG when the file is larger than the cap allows, UTIL_ENOTREG when
 * it is not a regular file (a FIFO, a device, a directory: opened without
 * blocking, never read). Describe it with util_strerror. */
int util_read_file(const char *path, struct util_buf *b);
#define UTIL_ENOTREG 0x10001     /* outside the system's errno values */
/* strerror, knowing UTIL_ENOTREG (static string). */
const char *util_strerror(int err);
/* Empties the buffer but keeps its memory. */
void util_buf_reset(struct util_buf *b);
/* Append functions return 0, or -1 if the cap would be exceeded. */
int util_buf_append(struct util_buf *b, const void *p, size_t n);
int util_buf_puts(struct util_buf *b, const char *s);
int util_buf_putc(struct util_buf *b, char c);
int util_buf_printf(struct util_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int util_buf_vprintf(struct util_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Appends `s` as a JSON string literal, quotes included. Invalid UTF-8 bytes
 * are replaced by U+FFFD so the output is always valid JSON. */
int util_buf_json_str(struct util_buf *b, const char *s);
/* Hands the content to the caller (owned; never NULL) and empties `b`. */
char *util_buf_take(struct util_buf *b);

/* ---- lists of messages ----------------------------------------------- */

/* A list of owned strings, used to report every problem found in an input. */
struct util_strlist {
	char **items;
	size_t len;
	size_t cap;
};

void util_strlist_init(struct util_strlist *l);
void util_strlist_release(struct util_strlist *l);
void util_strlist_add(struct util_strlist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- time ------------------------------------------------------------ */

/* Milliseconds since the Unix epoch (wall clock). */
int64_t util_now_ms(void);
/* Microseconds from a monotonic clock, for durations. */
int64_t util_mono_us(void);

struct timespec;
/* Sets *ts to `ms` milliseconds from now on CLOCK_REALTIME, the clock
 * pthread_cond_timedwait uses by default. */
void util_deadline_in(struct timespec *ts, int ms);

/* Parses an RFC 3339 timestamp ("2026-01-31T12:00:00Z", "…+02:00",
 * fractional seconds allowed) into milliseconds since the epoch.
 * Returns 0, or -1 if `s` is not exactly one valid timestamp. */
int util_rfc3339_parse(const char *s, int64_t *out_ms);
/* Formats `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 25 bytes). */
void util_rfc3339_format(int64_t ms, char out[static 25]);

/* ---- ids and randomness ---------------------------------------------- */

/* Fills `out` with `n` bytes from the operating system's CSPRNG.
 * Returns 0, or -1 if the kernel refused (never silently weak). */
int util_random_bytes(void *out, size_t n);

#define UTIL_UUID_LEN 36
/* Writes a new time-ordered UUID (version 7) as 36 characters plus NUL. */
void util_uuid7(char out[static UTIL_UUID_LEN + 1]);

/* ---- codecs ---------------------------------------------------------- */

/* Lower-case hex of `n` bytes into out (2n+1 bytes, NUL-terminated). */
void util_hex_encode(const void *in, size_t n, char *out);
/* Decodes 2n hex digits (any case) into n bytes. Returns 0, or -1 if `in`
 * is not hex or its length is odd. */
int util_hex_decode(const char *in, size_t n, unsigned char *out);
/* Percent-encodes `s` for a URL query or form value (RFC 3986: everything
 * but unreserved characters) and appends it to b. */
void util_percent_encode(struct util_buf *b, const char *s);
/* Unpadded base64url of `n` bytes into out (4*ceil(n/3)+1 bytes suffices). */
size_t util_base64url_encode(const void *in, size_t n, char *out);
/* Decodes base64 (standard alphabet, '=' padding required when `url` is
 * false) or base64url (URL alphabet, no padding) into out (at least
 * 3*ceil(n/4) bytes). Returns the decoded length, or -1 if `in` is not
 * exactly that encoding (bad character, bad length, stray padding, or
 * non-zero bits left over). */
long util_base64_decode(const char *in, size_t n, void *out, bool url);
/* SHA-256 of `n` bytes, raw. */
void util_sha256(const void *in, size_t n, unsigned char out[static 32]);
/* SHA-256 of `n` bytes as 64 hex characters plus NUL. */
void util_sha256_hex(const void *in, size_t n, char out[static 65]);

/* ---- service threads (thread.c) ---------------------------------------- */

/* A long-lived thread, the lock and condition variable it sleeps on, and
 * its stop flag, which any thread may read without the lock. Its owner
 * embeds it and may add conditions of its own under the same lock. */
struct util_thread {
	pthread_t id;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stopping;
	bool started;
	bool ready;          /* lock and wake are initialised */
};

/* Initialises the lock and condition (start does it too); stop releases
 * them whether or not the thread ran. */
void util_thread_init(struct util_thread *t);
/* Starts main(arg) as a thread named `name` (at most 15 characters).
 * Returns 0, or -1 if it could not be created. */
int util_thread_start(struct util_thread *t, const char *name,
		      void *(*main)(void *), void *arg);
/* Sets stopping and wakes the thread, under its lock. */
void util_thread_ask_stop(struct util_thread *t);
/* Asks the thread to stop if it runs, joins it, and releases the lock and
 * condition. Safe on a thread never started, and twice. */
void util_thread_stop(struct util_thread *t);
static inline bool util_thread_stopping(struct util_thread *t)
{
	return atomic_load(&t->stopping);
}

/* ---- the request a thread works for (trace.c) --------------------------- */

/* The id of the HTTP request whose work the calling thread is doing ("" if
 * none), so that log lines and the outbox rows written for it name it.
 * Set by the HTTP server around a handler, by the writer around an
 * intent, by the outbox around a delivery. Thread-local. */
#define UTIL_TRACE_MAX 136   /* request ids are at most 128 characters */
void util_trace_set(const char *request_id);   /* NULL or "": none */
const char *util_trace_get(void);              /* borrowed, never NULL */

/* ---- sealing secrets at rest (seal.c) ----------------------------------- */

#define UTIL_SEAL_KEY_LEN 32
/* Encrypts and authenticates `in` with AES-256-GCM under `key`, binding
 * `aad` (authenticated, not stored), and appends the sealed bytes to out.
 * Returns 0 or -1. */
int util_seal(const unsigned char key[UTIL_SEAL_KEY_LEN], const void *aad,
	      size_t aad_len, const void *in, size_t len, struct util_buf *out);
/* Opens what util_seal made with the same key and aad, appending the
 * plain bytes to out. Returns 0, or -1 if it was altered, sealed under
 * another key or aad, or is not sealed data. */
int util_unseal(const unsigned char key[UTIL_SEAL_KEY_LEN], const void *aad,
		size_t aad_len, const void *in, size_t len, struct util_buf *out);

/* Decodes %XX escapes of a URL path segment or query component into out
 * (at least n+1 bytes); '+' is kept literally unless `plus_is_space`.
 * Returns the decoded length, or -1 on a malformed escape or a decoded NUL. */
long util_percent_decode(const char *in, size_t n, char *out, bool plus_is_space);

/* True if every byte of s[0..n) is printable ASCII (0x20..0x7e). */
bool util_is_printable_ascii(const char *s, size_t n);

/* An IPv4 or IPv6 network: "192.0.2.0/24", "2001:db8::/32", or a bare
 * address (all its bits). IPv4 is kept as an IPv4-mapped IPv6 address. */
struct util_cidr {
	unsigned char addr[16];
	unsigned bits;               /* 0..128, counted on the mapped form */
};
/* Parses `text` into *out. Returns 0, or -1 if it is not a network (host
 * bits set beyond the prefix are allowed and ignored). */
int util_cidr_parse(const char *text, struct util_cidr *out);
/* True if the address `sa` (struct sockaddr_in or _in6; NULL: false)
 * lies in `net`. */
bool util_cidr_contains(const struct util_cidr *net, const void *sa);

/* Parses a whole decimal integer in [min, max]. Returns 0 or -1. */
int util_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
