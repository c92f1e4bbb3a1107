/* http/loop.c: the event loops — one epoll thread per server.threads, all
 * accepting from the listening socket, each driving its own connections,
 * woken through an eventfd when a suspended request's reply is ready. */
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ops/ops.h"

#define LOOP_EVENTS 64
#define LOOP_TICK_MS 200
#define LOOP_ACCEPT_BATCH 512
/* epoll data of the listening socket and of the wake-up eventfd */
#define LISTEN_TAG ((void *)1)
#define WAKE_TAG ((void *)2)

void http_loop_watch(struct http_conn *c, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->registered && c->events == events)
		return;
	if (epoll_ctl(c->loop->epfd, c->registered ? EPOLL_CTL_MOD :
		      EPOLL_CTL_ADD, c->fd, &ev) == 0) {
		c->registered = true;
		c->events = events;
	}
}

void http_conn_resume(struct http_conn *c)
{
	struct http_loop *l = c->loop;
	uint64_t one = 1;

	pthread_mutex_lock(&l->lock);
	c->resume_next = l->resumed;
	l->resumed = c;
	pthread_mutex_unlock(&l->lock);
	if (write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ops_log(OPS_LOG_WARN, "http_error", "cannot wake an HTTP loop: %s",
			strerror(errno));
}

static void take_resumed(struct http_loop *l)
{
	struct http_conn *list, *next;
	uint64_t n;

	if (read(l->wakefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&l->lock);
	list = l->resumed;
	l->resumed = NULL;
	pthread_mutex_unlock(&l->lock);
	/* oldest first */
	{
		struct http_conn *rev = NULL;

		for (struct http_conn *c = list; c; c = next) {
			next = c->resume_next;
			c->resume_next = rev;
			rev = c;
		}
		list = rev;
	}
	for (struct http_conn *c = list; c; c = next) {
		next = c->resume_next;
		http_conn_resumed(c);
	}
}

static void accept_some(struct http_loop *l)
{
	struct http_server *s = l->server;

	for (int i = 0; i < LOOP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd;

		if (!atomic_load(&s->accepting))
			return;
		fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				ops_log(OPS_LOG_WARN, "http_error", "accept: %s",
					strerror(errno));
			return;
		}
		http_conn_open(l, fd, (struct sockaddr *)&addr, len);
	}
}

static void sweep(struct http_loop *l)
{
	int64_t now = util_mono_us();
	struct http_conn *next;

	if (now < l->next_sweep_us)
		return;
	l->next_sweep_us = now + 1000 * 1000;
	for (struct http_conn *c = l->conns; c; c = next) {
		next = c->l_next;
		http_conn_sweep(c, now);
	}
}

static void *loop_main(void *arg)
{
	struct http_loop *l = arg;
	struct epoll_event ev[LOOP_EVENTS];

	while (!atomic_load(&l->stop)) {
		int n = epoll_wait(l->epfd, ev, LOOP_EVENTS, LOOP_TICK_MS);

		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == LISTEN_TAG)
				accept_some(l);
			else if (ev[i].data.ptr == WAKE_TAG)
				take_resumed(l);
			else
				http_conn_event(ev[i].data.ptr, ev[i].events);
			http_conn_free_closed(l);
		}
		sweep(l);
		http_conn_free_closed(l);
	}
	return NULL;
}

static int loop_init(struct http_server *s, struct http_loop *l, char **err)
{
	struct epoll_event listen_ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
					 .data.ptr = LISTEN_TAG };
	struct epoll_event wake_ev = { .events = EPOLLIN, .data.ptr = WAKE_TAG };

	l->server = s;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&l->lock, NULL);
	if (l->epfd < 0 || l->wakefd < 0 ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->listen_fd, &listen_ev) ||
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &wake_ev)) {
		*err = util_xasprintf("cannot set up an HTTP event loop: %s",
				      strerror(errno));
		return -1;
	}
	return 0;
}

int http_loops_start(struct http_server *s, char **err)
{
	int flags = fcntl(s->listen_fd, F_GETFL);

	/* several threads accept from it: none may block in accept */
	if (flags < 0 || fcntl(s->listen_fd, F_SETFL, flags | O_NONBLOCK)) {
		*err = util_xasprintf("cannot set up the listening socket: %s",
				      strerror(errno));
		return -1;
	}
	s->n_loops = (size_t)s->opts.threads;
	s->loops = util_xcalloc(s->n_loops, sizeof(*s->loops));
	for (size_t i = 0; i < s->n_loops; i++) {
		s->loops[i].epfd = -1;
		s->loops[i].wakefd = -1;
	}
	atomic_store(&s->accepting, true);
	for (size_t i = 0; i < s->n_loops; i++) {
		struct http_loop *l = &s->loops[i];
		int rc;

		if (loop_init(s, l, err))
			return -1;
		rc = pthread_create(&l->thread, NULL, loop_main, l);
		if (rc) {
			*err = util_xasprintf("cannot start an HTTP thread: %s",
					      strerror(rc));
			return -1;
		}
		pthread_setname_np(l->thread, "grantd-http");
		l->started = true;
	}
	return 0;
}

void http_loops_stop_accepting(struct http_server *s)
{
	if (!atomic_exchange(&s->accepting, false))
		return;
	for (size_t i = 0; i < s->n_loops; i++)
		if (s->loops[i].epfd >= 0)
			epoll_ctl(s->loops[i].epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
	/* new connections are refused from now on */
	close(s->listen_fd);
	s->listen_fd = -1;
}

void http_loops_stop(struct http_server *s)
{
	uint64_t one = 1;

	if (!s->loops)
		return;
	http_loops_stop_accepting(s);
	for (size_t i = 0; i < s->n_loops; i++) {
		struct http_loop *l = &s->loops[i];

		atomic_store(&l->stop, true);
		if (l->wakefd >= 0 && write(l->wakefd, &one, sizeof(one)) < 0)
			continue;
	}
	for (size_t i = 0; i < s->n_loops; i++) {
		struct http_loop *l = &s->loops[i];

		struct http_conn *next;

		if (l->started)
			pthread_join(l->thread, NULL);
		/* one still waiting for its reply (past the drain timeout) is
		 * left as it is: the thread that replies still holds it */
		for (struct http_conn *c = l->conns; c; c = next) {
			next = c->l_next;
			http_conn_close(c);
		}
		http_conn_free_closed(l);
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->wakefd >= 0)
			close(l->wakefd);
		pthread_mutex_destroy(&l->lock);
	}
	free(s->loops);
	s->loops = NULL;
}
