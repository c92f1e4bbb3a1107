/* http/conn.c: one client connection — read a request head, frame and read
 * its body, hand it to the request life cycle, send the reply, then the
 * next request (pipelined or kept alive) or a graceful close. */
#include "http/http_int.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a closing connection keeps reading (and dropping) what the
 * client still sends, so that closing does not reset the connection
 * before the client has read the reply. */
#define HTTP_LINGER_US (2ll * 1000 * 1000)
#define HTTP_LINGER_MAX (256 * 1024)

static void process(struct http_conn *c);

const struct sockaddr *http_conn_addr(const struct http_conn *conn)
{
	return (const struct sockaddr *)&conn->addr;
}

void http_conn_open(struct http_loop *l, int fd, const struct sockaddr *addr,
		    socklen_t addr_len)
{
	struct http_server *s = l->server;
	struct http_conn *c = util_xcalloc(1, sizeof(*c));
	int one = 1;

	c->loop = l;
	c->fd = fd;
	memcpy(&c->addr, addr, addr_len < sizeof(c->addr) ? addr_len :
	       sizeof(c->addr));
	c->in_cap = s->opts.max_header_bytes + 16384;
	c->in = util_xmalloc(c->in_cap);
	c->last_io_us = util_mono_us();
	util_buf_init(&c->out, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!http_guard_add(s, c) || http_tls_attach(s, c)) {
		http_guard_remove(s, c);
		close(fd);
		util_buf_release(&c->out);
		free(c->in);
		free(c);
		return;
	}
	c->l_next = l->conns;
	if (l->conns)
		l->conns->l_prev = c;
	l->conns = c;
	http_loop_watch(c, EPOLLIN);
}

void http_conn_close(struct http_conn *c)
{
	struct http_loop *l = c->loop;

	if (c->closed)
		return;
	if (c->req) {
		if (c->state == HTTP_CONN_HANDLING)
			return;   /* its reply is on its way; closed after it */
		http_request_completed(c->req, false);
		c->req = NULL;
	}
	http_guard_remove(l->server, c);
	http_tls_detach(c);
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->l_prev)
		c->l_prev->l_next = c->l_next;
	else
		l->conns = c->l_next;
	if (c->l_next)
		c->l_next->l_prev = c->l_prev;
	c->closed = true;
	c->l_next = l->closed;
	l->closed = c;
}

void http_conn_free_closed(struct http_loop *l)
{
	while (l->closed) {
		struct http_conn *c = l->closed;

		l->closed = c->l_next;
		util_buf_release(&c->out);
		free(c->in);
		free(c);
	}
}

/* ---- the reply ---------------------------------------------------------- */

static bool client_wants_close(const struct http_request *req)
{
	const char *v = http_request_header(req, "Connection");

	if (req->head.minor == 0)
		return !v || strcasecmp(v, "keep-alive") != 0;
	return v && strcasecmp(v, "close") == 0;
}

static void flush(struct http_conn *c);

static void start_reply(struct http_conn *c)
{
	struct http_request *req = c->req;

	if (!req->response.set)
		util_bug(__FILE__, __LINE__, "no reply to send");
	c->close_after = c->close_after || http_request_wants_close(req) ||
			 client_wants_close(req) ||
			 atomic_load(&c->loop->server->draining);
	req->state = HTTP_REQ_ANSWERED;
	http_reply_head(req, &c->out, c->close_after);
	/* HEAD: GET's headers, Content-Length included, and no body */
	if (strcmp(req->method, "HEAD") != 0)
		util_buf_append(&c->out, req->response.body, req->response.len);
	c->state = HTTP_CONN_WRITING;
	flush(c);
}

/* The reply is out: the request is done; close, or read the next one. */
static void reply_sent(struct http_conn *c)
{
	struct http_server *s = c->loop->server;

	http_request_completed(c->req, true);
	c->req = NULL;
	http_guard_request_ended(s, c);
	c->out.len = 0;
	c->out_off = 0;
	if (c->close_after) {
		shutdown(c->fd, SHUT_WR);
		c->state = HTTP_CONN_LINGER;
		c->linger_until_us = util_mono_us() + HTTP_LINGER_US;
		c->in_len = 0;
		http_loop_watch(c, EPOLLIN);
		return;
	}
	c->state = HTTP_CONN_HEAD;
	http_loop_watch(c, EPOLLIN);
	c->again = true;
}

static void flush(struct http_conn *c)
{
	while (c->out_off < c->out.len) {
		long n = http_conn_send(c, c->out.data + c->out_off,
					c->out.len - c->out_off);

		if (n == -1) {
			http_loop_watch(c, c->ssl && !c->tls_wants_write ?
					EPOLLIN : EPOLLOUT);
			return;
		}
		if (n <= 0) {
			http_conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
		c->last_io_us = util_mono_us();
	}
	if (c->state == HTTP_CONN_WRITING) {
		reply_sent(c);
		return;
	}
	/* a "100 Continue" is out: back to reading the body */
	c->out.len = 0;
	c->out_off = 0;
	http_loop_watch(c, EPOLLIN);
}

/* ---- reading ------------------------------------------------------------ */

static void refuse(struct http_conn *c, const struct http_parse_error *err)
{
	struct http_server *s = c->loop->server;

	if (!c->req) {
		http_guard_request_began(s, c);
		c->req = http_request_refused(s, c, err);
	} else if (!c->req->response.set) {
		http_reply_header(c->req, "Connection", "close");
		http_reply_error(c->req, err->status, err->code, "%s",
				 err->message);
	}
	c->close_after = true;
	start_reply(c);
}

static void consume_input(struct http_conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* The body is in, or the reply is ready before it. */
static void body_complete(struct http_conn *c)
{
	struct http_request *req = c->req;

	http_request_body_done(req);
	if (req->state == HTTP_REQ_SUSPENDED) {
		c->state = HTTP_CONN_HANDLING;
		http_loop_watch(c, 0);
		return;
	}
	start_reply(c);
}

static void begin_request(struct http_conn *c, const struct http_head *h,
			  long head_len)
{
	struct http_server *s = c->loop->server;
	struct http_parse_error err;
	bool answer_now;

	if (http_framing_check(h, &c->chunked, &c->body_left, &err)) {
		refuse(c, &err);
		return;
	}
	http_guard_request_began(s, c);
	c->req = http_request_begin(s, c, h, c->in, (size_t)head_len,
				    c->chunked ? 0 : c->body_left, &answer_now);
	consume_input(c, (size_t)head_len);
	if (answer_now) {
		c->close_after = true;
		start_reply(c);
		return;
	}
	if (c->chunked)
		http_chunked_init(&c->ch, HTTP_DRAIN_MAX);
	if ((c->chunked || c->body_left) && http_request_expects_continue(c->req))
		util_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	c->state = HTTP_CONN_BODY;
	if (c->out.len)
		flush(c);
}

static void sink(void *cls, const char *data, size_t n)
{
	struct http_conn *c = cls;

	if (!c->drop && !http_request_body_data(c->req, data, n))
		c->drop = true;
}

/* Feeds buffered body bytes; returns true while more are needed. */
static bool read_body(struct http_conn *c)
{
	struct http_parse_error err;
	size_t take;

	if (c->chunked) {
		long n = http_chunked_feed(&c->ch, c->in, c->in_len, sink, c, &err);

		if (n < 0) {
			refuse(c, &err);
			return false;
		}
		consume_input(c, (size_t)n);
	} else {
		take = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
		sink(c, c->in, take);
		consume_input(c, take);
		c->body_left -= take;
	}
	if (c->drop) {                   /* past the drain bounds */
		http_conn_close(c);
		return false;
	}
	if (c->chunked ? !http_chunked_done(&c->ch) : c->body_left > 0)
		return true;
	body_complete(c);
	return false;
}

/* Acts on what is buffered until it needs more bytes or must wait. */
static void process(struct http_conn *c)
{
	struct http_server *s = c->loop->server;
	struct http_parse_error err;
	struct http_head *h = &c->loop->head;
	long n;

	while (c->state == HTTP_CONN_HEAD && c->in_len) {
		n = http_parse_head(c->in, c->in_len, s->opts.max_header_bytes,
				    h, &err);
		if (n == 0)
			return;
		if (n < 0) {
			refuse(c, &err);
			return;
		}
		begin_request(c, h, n);
		if (c->closed)
			return;
		if (c->state == HTTP_CONN_BODY && read_body(c))
			return;
		/* a reply on its way: what follows waits for it */
		if (c->closed || c->state != HTTP_CONN_HEAD)
			return;
		c->again = false;
	}
	if (c->state == HTTP_CONN_BODY)
		read_body(c);
}

/* Processes until the connection waits for bytes, a reply or a write. */
static void run(struct http_conn *c)
{
	while (!c->closed && c->again) {
		c->again = false;
		process(c);
	}
}

/* Reads what the socket has into the buffer. Returns false if the
 * connection was closed. */
static bool fill(struct http_conn *c)
{
	while (c->in_len < c->in_cap) {
		long n = http_conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);

		if (n == -1) {
			if (c->ssl && c->tls_wants_write)
				http_loop_watch(c, EPOLLIN | EPOLLOUT);
			return true;
		}
		if (n <= 0) {
			/* the client went away: mid-request, nothing is done */
			http_conn_close(c);
			return false;
		}
		if (c->state == HTTP_CONN_LINGER)
			return true;
		c->in_len += (size_t)n;
		c->last_io_us = util_mono_us();
		if (!c->ssl)
			return true;
	}
	return true;
}

/* A closing connection: drop what arrives until the client closes. */
static void linger(struct http_conn *c)
{
	char drop[4096];
	long n;
	size_t total = 0;

	while ((n = http_conn_recv(c, drop, sizeof(drop))) > 0) {
		total += (size_t)n;
		if (total > HTTP_LINGER_MAX)
			break;
	}
	if (n != -1 || total > HTTP_LINGER_MAX)
		http_conn_close(c);
}

void http_conn_event(struct http_conn *c, unsigned events)
{
	if (c->state == HTTP_CONN_HANDLING) {
		/* only an error or hang-up comes now, and it would come again
		 * and again: unwatched until the reply is ready (its send
		 * then finds out) */
		epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		c->registered = false;
		return;
	}
	if (events & EPOLLERR) {
		http_conn_close(c);
		return;
	}
	switch (c->state) {
	case HTTP_CONN_WRITING:
		flush(c);
		run(c);
		return;
	case HTTP_CONN_LINGER:
		linger(c);
		return;
	case HTTP_CONN_HANDLING:
		return;
	case HTTP_CONN_HEAD:
	case HTTP_CONN_BODY:
		break;
	}
	if (c->out_off < c->out.len) {        /* a "100 Continue" to finish */
		flush(c);
		if (c->closed || c->out_off < c->out.len)
			return;
	}
	do {
		if (!fill(c))
			return;
		if (c->ssl && !c->tls_wants_write)
			http_loop_watch(c, EPOLLIN);
		process(c);
		run(c);
	} while (!c->closed && c->ssl && http_tls_pending(c) &&
		 c->in_len < c->in_cap &&
		 (c->state == HTTP_CONN_HEAD || c->state == HTTP_CONN_BODY));
}

void http_conn_resumed(struct http_conn *c)
{
	if (c->state != HTTP_CONN_HANDLING)
		util_bug(__FILE__, __LINE__, "resumed a connection not waiting");
	start_reply(c);
	run(c);
}

void http_conn_sweep(struct http_conn *c, int64_t now_us)
{
	int64_t idle = (int64_t)c->loop->server->opts.connection_timeout_s * 1000000;

	bool lingered = c->state == HTTP_CONN_LINGER && now_us > c->linger_until_us;
	bool idled = c->state != HTTP_CONN_LINGER &&
		     c->state != HTTP_CONN_HANDLING && now_us - c->last_io_us > idle;

	if (lingered || idled)
		http_conn_close(c);
}
