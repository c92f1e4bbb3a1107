/* http/server.c: the server's start and stop, and the request life cycle —
 * route, authenticate, read the body, dispatch, log. */
#include "http/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ops/ops.h"

/* ---- request ids ------------------------------------------------------ */

static bool request_id_acceptable(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] > 0x7e)
			return false;
	return true;
}

/* "<8 hex prefix>-<12 hex counter>", without printf on the hot path. */
static void format_request_id(const char *prefix, unsigned long long n,
			      char *out)
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, prefix, 8);
	out[8] = '-';
	for (int i = 0; i < 12; i++)
		out[9 + i] = hex[(n >> (44 - 4 * i)) & 15];
	out[21] = '\0';
}

static void assign_request_id(struct http_request *req)
{
	const char *given = http_request_header(req, "X-Request-Id");
	unsigned long long n;

	if (request_id_acceptable(given)) {
		snprintf(req->request_id, sizeof(req->request_id), "%s", given);
		return;
	}
	n = atomic_fetch_add(&req->server->next_request_id, 1);
	format_request_id(req->server->id_prefix, n, req->request_id);
}

/* ---- the first call: route, credential, body rules -------------------- */

static void fail_early(struct http_request *req)
{
	req->failed_early = true;
	req->failed_at_us = util_mono_us();
}

/* 413, and the connection closes after it: the client sent too much. */
static void reply_too_large(struct http_request *req)
{
	http_reply_header(req, "Connection", "close");
	http_reply_error(req, 413, "PayloadTooLarge", "the body is larger than "
			 "the limit of %zu bytes", req->server->opts.max_body_bytes);
}

static bool route_request(struct http_request *req)
{
	enum http_method m = http_method_parse(req->method);
	unsigned allowed;
	bool bad_param;
	char allow[64];

	req->route = http_router_match(req->server, req, m, &allowed, &bad_param);
	if (req->route && !bad_param)
		return true;
	if (req->route) {
		http_reply_error(req, 400, "InvalidRequest", "a path parameter has "
				 "a malformed %%-escape or an encoded NUL");
	} else if (allowed) {
		http_methods_format(allowed, allow, sizeof(allow));
		http_reply_header(req, "Allow", allow);
		http_reply_error(req, 405, "MethodNotAllowed", "%s is not allowed "
				 "on %s; allowed: %s", req->method, req->log_path,
				 allow);
	} else {
		http_reply_error(req, 404, "NotFound", "no route for %s %s",
				 req->method, req->log_path);
	}
	return false;
}

static bool authenticate(struct http_request *req)
{
	struct http_server *s = req->server;
	const char *header;
	enum http_auth_result r;

	if (!req->route->route->scopes)
		return true;
	header = http_request_header(req, "Authorization");
	r = s->opts.auth(s->opts.auth_arg, header, req->route->route->scopes |
			 (req->route->route->flags & HTTP_ROUTE_ANY_SCOPE ?
			  HTTP_AUTH_ANY_SCOPE : 0), &req->principal);
	req->has_principal = r == HTTP_AUTH_OK || r == HTTP_AUTH_FORBIDDEN ||
			     r == HTTP_AUTH_THROTTLED;
	switch (r) {
	case HTTP_AUTH_OK:
		return true;
	case HTTP_AUTH_THROTTLED:
		/* answered once the body is in, so the route can name it */
		req->throttled = true;
		return true;
	case HTTP_AUTH_MISSING:
		http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"grantd\"");
		http_reply_error(req, 401, "Unauthorized", "an Authorization: "
				 "Bearer credential is required");
		return false;
	case HTTP_AUTH_INVALID:
		http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"grantd\", "
				  "error=\"invalid_token\"");
		http_reply_error(req, 401, "Unauthorized", "the credential is "
				 "unknown, revoked or expired");
		return false;
	case HTTP_AUTH_FORBIDDEN:
		break;
	}
	http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"grantd\", "
			  "error=\"insufficient_scope\"");
	http_reply_error(req, 403, "Forbidden", "credential \"%s\" (%s) lacks "
			 "the scope this route requires", req->principal.name,
			 req->principal.id);
	return false;
}

static bool check_body_rules(struct http_request *req)
{
	const char *ct;
	size_t max = req->server->opts.max_body_bytes;

	if (!(req->route->route->flags & HTTP_ROUTE_JSON_BODY))
		return true;
	ct = http_request_header(req, "Content-Type");
	if (!http_request_content_type_is(req, "application/json")) {
		http_reply_error(req, 415, "UnsupportedMediaType", "Content-Type "
				 "must be application/json, not \"%s\"", ct ? ct : "");
		return false;
	}
	if (req->length > max) {
		reply_too_large(req);
		return false;
	}
	return true;
}

/* While draining for shutdown, requests that arrive on connections still
 * open are answered at once and never suspended: the daemon can only stop
 * once no connection is suspended, and a stream of keep-alive requests
 * would otherwise never let that moment come. */
static bool turned_away(struct http_request *req)
{
	if (!atomic_load(&req->server->draining))
		return false;
	http_reply_header(req, "Connection", "close");
	http_reply_header(req, "Retry-After", "1");
	http_reply_error(req, 503, "ShuttingDown", "the server is shutting down; "
			 "nothing was done, retry");
	return true;
}

static bool expects_continue(const struct http_request *req)
{
	const char *expect = http_request_header(req, "Expect");

	return expect && strcasecmp(expect, "100-continue") == 0;
}

/* ---- body and dispatch ------------------------------------------------ */

static void consume_body(struct http_request *req, const char *data, size_t n)
{
	if (req->failed_early) {
		req->discarded += n;
		return;
	}
	if (util_buf_append(&req->body, data, n) == 0)
		return;
	req->discarded += n;
	reply_too_large(req);
	fail_early(req);
}

/* True when a failed request's body is too big or too slow to drain. */
static bool drain_exhausted(const struct http_request *req)
{
	return req->discarded > HTTP_DRAIN_MAX ||
	       util_mono_us() - req->failed_at_us > HTTP_DRAIN_US;
}

/* True when an early error must go out before the body: the client waits
 * for "100 Continue" and will not send it, or it says it will send more
 * than would ever be drained. */
static bool answer_before_body(const struct http_request *req)
{
	return expects_continue(req) || req->length > HTTP_DRAIN_MAX;
}

/* The answer to a request over its credential's rate limit. */
static void reply_throttled(struct http_request *req)
{
	char retry[16];

	snprintf(retry, sizeof(retry), "%u", req->principal.retry_after_s);
	http_reply_header(req, "Retry-After", retry);
	if (req->route->route->throttled) {
		req->route->route->throttled(req);
		return;
	}
	http_reply_error(req, 429, "RequestThrottled", "credential \"%s\" (%s) "
			 "is over its rate limit; retry after %u s",
			 req->principal.name, req->principal.id,
			 req->principal.retry_after_s);
}

static void dispatch(struct http_request *req)
{
	req->state = HTTP_REQ_HANDLING;
	util_trace_set(req->request_id);
	if (req->throttled)
		reply_throttled(req);
	else
		req->route->route->handler(req);
	util_trace_set(NULL);
	if (req->state != HTTP_REQ_SUSPENDED && !req->response.set)
		util_bug(__FILE__, __LINE__, "handler returned without a reply");
}

/* The request's own copy of its head, each name and value NUL-terminated
 * in place (a value ends at whitespace or CR, a name at its colon). */
static void copy_head(struct http_request *req, const struct http_head *h,
		      const char *raw, size_t raw_len)
{
	char *b = util_xmalloc(raw_len + 1);
	ptrdiff_t d;

	memcpy(b, raw, raw_len);
	b[raw_len] = '\0';
	d = b - raw;
	req->head_bytes = b;
	req->head = *h;
	req->head.method += d;
	req->head.target += d;
	b[req->head.method - b + (ptrdiff_t)h->method_len] = '\0';
	b[req->head.target - b + (ptrdiff_t)h->target_len] = '\0';
	for (size_t i = 0; i < h->n_fields; i++) {
		struct http_field *f = &req->head.fields[i];

		f->name += d;
		f->value += d;
		b[f->name - b + (ptrdiff_t)f->name_len] = '\0';
		b[f->value - b + (ptrdiff_t)f->value_len] = '\0';
	}
}

/* Splits the target into path and query (in the head's copy). False if
 * an absolute-form target has no path. */
static bool split_target(struct http_request *req)
{
	char *path = (char *)http_framing_origin_path(req->head.target);
	char *q;

	if (!path)
		return false;
	q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	req->url = path;
	req->query = q ? q : "";
	return true;
}

static struct http_request *request_alloc(struct http_server *s,
					  struct http_conn *conn)
{
	struct http_request *req = util_xcalloc(1, sizeof(*req));

	req->server = s;
	req->conn = conn;
	req->start_us = util_mono_us();
	req->state = HTTP_REQ_READING;
	util_buf_init(&req->body, s->opts.max_body_bytes);
	util_strlist_init(&req->query_values);
	atomic_fetch_add(&s->in_flight, 1);
	return req;
}

struct http_request *http_request_begin(struct http_server *s,
					struct http_conn *conn,
					const struct http_head *h,
					const char *raw, size_t raw_len,
					uint64_t length, bool *answer_now)
{
	struct http_request *req = request_alloc(s, conn);
	bool has_path;

	req->length = length;
	copy_head(req, h, raw, raw_len);
	req->method = req->head.method;
	has_path = split_target(req);
	req->log_path = http_router_redact(s, has_path ? req->url : "/");
	assign_request_id(req);
	if (!has_path) {
		req->url = "/";
		http_reply_header(req, "Connection", "close");
		http_reply_error(req, 400, "InvalidRequest", "the request target "
				 "must be a path, or an absolute URL with one");
		fail_early(req);
	} else if (turned_away(req) || !route_request(req) ||
		   !authenticate(req) || !check_body_rules(req)) {
		fail_early(req);
	}
	*answer_now = req->failed_early && answer_before_body(req);
	return req;
}

struct http_request *http_request_refused(struct http_server *s,
					  struct http_conn *conn,
					  const struct http_parse_error *err)
{
	struct http_request *req = request_alloc(s, conn);

	req->head_bytes = util_xstrdup("-");
	req->method = req->head_bytes;
	req->url = "-";
	req->query = "";
	req->log_path = util_xstrdup("-");
	assign_request_id(req);
	http_reply_header(req, "Connection", "close");
	http_reply_error(req, err->status, err->code, "%s", err->message);
	fail_early(req);
	return req;
}

bool http_request_expects_continue(const struct http_request *req)
{
	return !req->failed_early && expects_continue(req);
}

bool http_request_body_data(struct http_request *req, const char *data,
			    size_t n)
{
	consume_body(req, data, n);
	/* no reply can go out mid-body: past the bounds, drop it */
	return !(req->failed_early && drain_exhausted(req));
}

void http_request_body_done(struct http_request *req)
{
	if (!req->failed_early)
		dispatch(req);
}

bool http_request_wants_close(const struct http_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, "Connection") == 0 &&
		    strcasecmp(req->headers[i].value, "close") == 0)
			return true;
	return false;
}

/* ---- completion: the access log --------------------------------------- */

static void log_request(const struct http_request *req, bool ok)
{
	struct ops_log_line l;

	if (!ops_log_begin(&l, OPS_LOG_INFO, "request"))
		return;
	ops_log_str(&l, "request_id", req->request_id);
	ops_log_str(&l, "method", req->method);
	ops_log_str(&l, "path", req->log_path);
	ops_log_str(&l, "route", req->route ? req->route->route->name : NULL);
	ops_log_int(&l, "status", req->status);
	ops_log_int(&l, "duration_us", util_mono_us() - req->start_us);
	ops_log_str(&l, "credential", req->has_principal ? req->principal.name : NULL);
	ops_log_str(&l, "credential_id", req->has_principal ? req->principal.id : NULL);
	ops_log_str(&l, "account", req->log_account);
	ops_log_str(&l, "transaction", req->log_transaction);
	if (!ok)
		ops_log_bool(&l, "aborted", true);
	ops_log_end(&l);
}

void http_request_completed(struct http_request *req, bool ok)
{
	struct http_server *s = req->server;

	log_request(req, ok);
	http_stats_record(req);
	http_request_free(req);
	atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- the server --------------------------------------------------------- */

/* The port the listening socket is bound to. */
static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void apply_defaults(struct http_options *o)
{
	if (!o->connection_timeout_s)
		o->connection_timeout_s = 30;
	if (!o->max_connections)
		o->max_connections = 1024;
	if (!o->max_header_bytes)
		o->max_header_bytes = 16 * 1024;
	if (!o->request_header_timeout_s)
		o->request_header_timeout_s = 10;
	if (o->threads < 1)
		o->threads = 1;
}

int http_server_start(const struct http_options *opts, struct http_server **out,
		      char **err)
{
	struct http_server *s = util_xcalloc(1, sizeof(*s));
	unsigned char prefix[4];
	int rc = -1, family = AF_INET;

	s->opts = *opts;
	s->listen_fd = -1;
	apply_defaults(&s->opts);
	if (util_random_bytes(prefix, sizeof(prefix))) {
		*err = util_xstrdup("cannot read random bytes");
		goto out;
	}
	util_hex_encode(prefix, sizeof(prefix), s->id_prefix);
	if (opts->listen_fd > 0)
		s->listen_fd = opts->listen_fd;    /* ours now, whatever happens */
	if (http_router_compile(s, err) || http_tls_init(s, err) ||
	    http_guard_start(s, err) || (s->listen_fd < 0 &&
	    http_listen_open(opts->listen, &s->listen_fd, &family, err)))
		goto out;
	s->port = bound_port(s->listen_fd);
	rc = http_loops_start(s, err);
out:
	if (rc) {
		http_server_stop(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_quiesce(struct http_server *s)
{
	atomic_store(&s->draining, true);
	http_loops_stop_accepting(s);
}

int http_server_wait_idle(struct http_server *s, int timeout_ms)
{
	int64_t deadline = util_mono_us() + (int64_t)timeout_ms * 1000;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	while (atomic_load(&s->in_flight) > 0) {
		if (util_mono_us() > deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	http_guard_stop(s);
	http_loops_stop(s);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	http_guard_free(s);
	http_tls_free(s);
	http_router_free(s);
	free(s);
}
