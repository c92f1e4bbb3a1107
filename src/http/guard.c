/* http/guard.c: the connection table's defence against clients that hold
 * connections without using them — a deadline for each request's header
 * block, and room kept free for new clients by closing the oldest idle
 * connection when the table is nearly full. */
#include "http/http_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ops/ops.h"

/* How often the deadlines are checked. */
#define GUARD_TICK_MS 200

/* One tracked connection. `fd` stays open while the entry is in the list:
 * libmicrohttpd reports a connection closed before it closes the socket,
 * and that report unlinks the entry under the same lock shutdown() is
 * called under. */
struct http_guard_conn {
	struct http_guard_conn *prev, *next;
	int fd;
	bool busy;           /* a request is being read or answered */
	bool served;         /* at least one request was answered */
	bool closing;        /* shut down by the guard; closing soon */
	int64_t idle_since_us;
	int64_t deadline_us; /* its next header block must be in by then */
};

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
static void shut(struct http_server *s, struct http_guard_conn *c,
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
static bool evict_one(struct http_server *s, const struct http_guard_conn *spare)
{
	struct http_guard_conn *best = NULL;

	for (struct http_guard_conn *c = s->guard.head; c; c = c->next) {
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

static void conn_started(struct http_server *s, struct MHD_Connection *conn,
			 void **socket_context)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct http_guard_conn *c = util_xcalloc(1, sizeof(*c));
	unsigned max = s->opts.max_connections;
	int64_t now = util_mono_us();

	c->fd = ci ? ci->connect_fd : -1;
	c->idle_since_us = now;
	c->deadline_us = now + (int64_t)s->opts.request_header_timeout_s * 1000000;
	pthread_mutex_lock(&s->guard.lock);
	c->next = s->guard.head;
	if (s->guard.head)
		s->guard.head->prev = c;
	s->guard.head = c;
	s->guard.count++;
	while (open_count(s) + reserve_of(max) > max && evict_one(s, c))
		;
	pthread_mutex_unlock(&s->guard.lock);
	*socket_context = c;
}

static void conn_closed(struct http_server *s, struct http_guard_conn *c)
{
	pthread_mutex_lock(&s->guard.lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->guard.head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->guard.count--;
	if (c->closing)
		s->guard.closing--;
	pthread_mutex_unlock(&s->guard.lock);
	free(c);
}

void http_guard_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(s, conn, socket_context);
	else if (*socket_context)
		conn_closed(s, *socket_context);
}

static struct http_guard_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_guard_request_began(struct http_server *s, struct MHD_Connection *conn)
{
	struct http_guard_conn *c = conn_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&s->guard.lock);
	c->busy = true;
	pthread_mutex_unlock(&s->guard.lock);
}

void http_guard_request_ended(struct http_server *s, struct MHD_Connection *conn)
{
	struct http_guard_conn *c = conn_of(conn);
	int64_t now = util_mono_us();

	if (!c)
		return;
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
	for (struct http_guard_conn *c = s->guard.head; c; c = c->next) {
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
	pthread_cond_destroy(&s->guard.wake);
	pthread_mutex_destroy(&s->guard.lock);
}
