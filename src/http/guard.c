/* http/guard.c: the connection table — the limit per client address, a
 * deadline for each request's head, and room kept free for new clients by
 * closing the oldest idle connection when the table is nearly full. A
 * connection's descriptor stays open while it is in the table, so the
 * guard's shutdown() always reaches the connection it means. */
#include "http/http_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "ops/ops.h"

/* How often the deadlines are checked. */
#define GUARD_TICK_MS 200

/* Connections kept free for new clients: 1/16 of the table, at least 4
 * (fewer if the table itself is tiny). */
static unsigned reserve_of(unsigned max)
{
	unsigned r = max / 16;

	if (r < 4)
		r = 4;
	return r < max ? r : max / 2;
}

/* Called with the lock held. */
static void shut(struct http_server *s, struct http_conn *c,
		 bool overdue)
{
	c->closing = true;
	s->guard.closing++;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	atomic_fetch_add(overdue ? &s->guard.header_timeouts :
			 &s->guard.evictions, 1);
}

/* Closes the connection, other than `spare`, that has waited longest
 * without a request in progress, preferring one that has never sent a
 * whole request. Returns false if there is none. Called with the lock
 * held. */
static bool evict_one(struct http_server *s, const struct http_conn *spare)
{
	struct http_conn *best = NULL;

	for (struct http_conn *c = s->guard.head; c; c = c->g_next) {
		if (c->busy || c->closing || c == spare)
			continue;
		if (!best || (best->served && !c->served) ||
		    (best->served == c->served &&
		     c->idle_since_us < best->idle_since_us))
			best = c;
	}
	if (best)
		shut(s, best, false);
	return best != NULL;
}

static unsigned open_count(const struct http_server *s)
{
	return s->guard.count - s->guard.closing;
}

/* ---- connections per client address ------------------------------------- */

struct http_ip_count {
	struct http_ip_count *next;
	unsigned char addr[16];
	unsigned n;
};

/* The address bytes of a client (4 or 16) into key; returns a bucket. */
static size_t ip_key(const struct http_conn *c, unsigned char key[16])
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
	size_t h = 0;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	for (int i = 0; i < 16; i++)
		h = h * 31 + key[i];
	return h % 256;
}

/* The count for c's address, created at 0 if `create`. */
static struct http_ip_count *ip_count(struct http_server *s,
				      const struct http_conn *c, bool create)
{
	unsigned char key[16];
	size_t b = ip_key(c, key);
	struct http_ip_count *e;

	for (e = s->guard.by_ip[b]; e; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			return e;
	if (!create)
		return NULL;
	e = util_xcalloc(1, sizeof(*e));
	memcpy(e->addr, key, 16);
	e->next = s->guard.by_ip[b];
	s->guard.by_ip[b] = e;
	return e;
}

static void ip_release(struct http_server *s, const struct http_conn *c)
{
	unsigned char key[16];
	size_t b = ip_key(c, key);

	for (struct http_ip_count **p = &s->guard.by_ip[b]; *p; p = &(*p)->next) {
		struct http_ip_count *e = *p;

		if (memcmp(e->addr, key, 16) != 0)
			continue;
		if (--e->n == 0) {
			*p = e->next;
			free(e);
		}
		return;
	}
}

/* ---- the table ------------------------------------------------------------ */

bool http_guard_add(struct http_server *s, struct http_conn *c)
{
	unsigned max = s->opts.max_connections, per_ip = s->opts.max_connections_per_ip;
	int64_t now = util_mono_us();
	bool ok = false;
	struct http_ip_count *ip;

	c->idle_since_us = now;
	c->deadline_us = now + (int64_t)s->opts.request_header_timeout_s * 1000000;
	pthread_mutex_lock(&s->guard.lock);
	ip = per_ip ? ip_count(s, c, true) : NULL;
	if (ip && ip->n >= per_ip) {
		atomic_fetch_add(&s->guard.refused_per_ip, 1);
		goto out;
	}
	while (open_count(s) + 1 + reserve_of(max) > max && evict_one(s, c))
		;
	if (open_count(s) >= max)
		goto out;        /* every connection has a request in progress */
	if (ip) {
		ip->n++;
		c->counted_ip = true;
	}
	c->g_next = s->guard.head;
	if (s->guard.head)
		s->guard.head->g_prev = c;
	s->guard.head = c;
	s->guard.count++;
	c->in_guard = true;
	ok = true;
out:
	if (ip && !ip->n) {      /* made for this refused connection */
		ip->n = 1;
		ip_release(s, c);
	}
	pthread_mutex_unlock(&s->guard.lock);
	return ok;
}

void http_guard_remove(struct http_server *s, struct http_conn *c)
{
	if (!c->in_guard)
		return;
	pthread_mutex_lock(&s->guard.lock);
	if (c->g_prev)
		c->g_prev->g_next = c->g_next;
	else
		s->guard.head = c->g_next;
	if (c->g_next)
		c->g_next->g_prev = c->g_prev;
	s->guard.count--;
	if (c->closing)
		s->guard.closing--;
	if (c->counted_ip)
		ip_release(s, c);
	c->in_guard = false;
	pthread_mutex_unlock(&s->guard.lock);
}

void http_guard_request_began(struct http_server *s, struct http_conn *c)
{
	pthread_mutex_lock(&s->guard.lock);
	c->busy = true;
	pthread_mutex_unlock(&s->guard.lock);
}

void http_guard_request_ended(struct http_server *s, struct http_conn *c)
{
	int64_t now = util_mono_us();

	pthread_mutex_lock(&s->guard.lock);
	c->busy = false;
	c->served = true;
	c->idle_since_us = now;
	/* a kept-alive connection may wait the idle timeout for its next
	 * request, and no longer, however slowly that request trickles in */
	c->deadline_us = now + (int64_t)s->opts.connection_timeout_s * 1000000;
	pthread_mutex_unlock(&s->guard.lock);
}

static void shut_overdue(struct http_server *s)
{
	int64_t now = util_mono_us();

	pthread_mutex_lock(&s->guard.lock);
	for (struct http_conn *c = s->guard.head; c; c = c->g_next) {
		if (c->busy || c->closing || c->deadline_us > now)
			continue;
		shut(s, c, true);
	}
	pthread_mutex_unlock(&s->guard.lock);
}

static void *guard_main(void *arg)
{
	struct http_server *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->guard.lock);
	while (!s->guard.stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += GUARD_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->guard.wake, &s->guard.lock, &until);
		if (s->guard.stopping)
			break;
		pthread_mutex_unlock(&s->guard.lock);
		shut_overdue(s);
		pthread_mutex_lock(&s->guard.lock);
	}
	pthread_mutex_unlock(&s->guard.lock);
	return NULL;
}

int http_guard_start(struct http_server *s, char **err)
{
	pthread_condattr_t attr;
	int rc;

	pthread_mutex_init(&s->guard.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->guard.wake, &attr);
	pthread_condattr_destroy(&attr);
	s->guard.initialised = true;
	rc = pthread_create(&s->guard.thread, NULL, guard_main, s);
	if (rc) {
		*err = util_xasprintf("cannot start the connection guard: %s",
				      strerror(rc));
		return -1;
	}
	pthread_setname_np(s->guard.thread, "grantd-http-gd");
	s->guard.running = true;
	return 0;
}

void http_guard_stop(struct http_server *s)
{
	if (s->guard.running) {
		pthread_mutex_lock(&s->guard.lock);
		s->guard.stopping = true;
		pthread_cond_signal(&s->guard.wake);
		pthread_mutex_unlock(&s->guard.lock);
		pthread_join(s->guard.thread, NULL);
		s->guard.running = false;
	}
}

void http_guard_free(struct http_server *s)
{
	if (!s->guard.initialised)
		return;
	for (size_t i = 0; i < 256; i++)
		while (s->guard.by_ip[i]) {
			struct http_ip_count *e = s->guard.by_ip[i];

			s->guard.by_ip[i] = e->next;
			free(e);
		}
	pthread_cond_destroy(&s->guard.wake);
	pthread_mutex_destroy(&s->guard.lock);
}
