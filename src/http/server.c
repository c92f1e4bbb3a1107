/* http/server.c: the libmicrohttpd daemon and the request life cycle —
 * route, authenticate, read the body, dispatch, log. */
#include "http/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
	const char *given = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							"X-Request-Id");
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
	header = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_AUTHORIZATION);
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
	const char *ct, *cl;
	size_t max = req->server->opts.max_body_bytes;

	if (!(req->route->route->flags & HTTP_ROUTE_JSON_BODY))
		return true;
	ct = http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!http_request_content_type_is(req, "application/json")) {
		http_reply_error(req, 415, "UnsupportedMediaType", "Content-Type "
				 "must be application/json, not \"%s\"", ct ? ct : "");
		return false;
	}
	cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > max) {
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

/* The framing rules (framing.c), and a target the router can match: an
 * absolute-form target ("http://host/path") is served as its path. */
static bool framed(struct http_request *req, const char *target,
		   const char *version)
{
	if (!req->url) {
		http_reply_header(req, "Connection", "close");
		http_reply_error(req, 400, "InvalidRequest", "an absolute-form "
				 "request target must have a path");
	} else if (http_framing_check(req, target, version)) {
		return true;
	}
	req->framing_error = true;
	return false;
}

static struct http_request *request_new(struct http_server *s,
					struct MHD_Connection *conn,
					const char *url, const char *method,
					const char *version)
{
	struct http_request *req = util_xcalloc(1, sizeof(*req));

	req->server = s;
	req->conn = conn;
	req->url = http_framing_origin_path(url);
	req->log_path = http_router_redact(s, req->url ? req->url : "/");
	req->method = method;
	req->start_us = util_mono_us();
	req->state = HTTP_REQ_READING;
	util_buf_init(&req->body, s->opts.max_body_bytes);
	util_strlist_init(&req->query_values);
	atomic_fetch_add(&s->in_flight, 1);
	assign_request_id(req);
	if (turned_away(req) || !framed(req, url, version) || !route_request(req) ||
	    !authenticate(req) || !check_body_rules(req))
		fail_early(req);
	return req;
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
	const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	/* with its length in doubt, the body cannot be drained */
	return req->framing_error || expects_continue(req) ||
	       (cl && strtoull(cl, NULL, 10) > HTTP_DRAIN_MAX);
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

static enum MHD_Result dispatch(struct http_request *req)
{
	req->state = HTTP_REQ_HANDLING;
	util_trace_set(req->request_id);
	if (req->throttled)
		reply_throttled(req);
	else
		req->route->route->handler(req);
	util_trace_set(NULL);
	if (req->state == HTTP_REQ_SUSPENDED)
		return MHD_YES;
	if (!req->response)
		util_bug(__FILE__, __LINE__, "handler returned without a reply");
	return http_request_queue(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_request *req = *con_cls;

	if (!req) {
		http_guard_request_began(cls, conn);
		*con_cls = req = request_new(cls, conn, url, method, version);
		if (req->failed_early && answer_before_body(req))
			return http_request_queue(req);
		return MHD_YES;
	}
	if (req->state == HTTP_REQ_SUSPENDED)
		return req->response ? http_request_queue(req) : MHD_YES;
	if (*upload_data_size) {
		consume_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/* no reply can be queued mid-body: past the bounds, drop it */
		if (req->failed_early && drain_exhausted(req))
			return MHD_NO;
		return MHD_YES;
	}
	if (req->failed_early)
		return http_request_queue(req);
	return dispatch(req);
}

/* ---- completion: the access log --------------------------------------- */

static void log_request(const struct http_request *req,
			enum MHD_RequestTerminationCode toe)
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
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		ops_log_bool(&l, "aborted", true);
	ops_log_end(&l);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;

	if (!req)
		return;
	http_guard_request_ended(s, conn);
	log_request(req, toe);
	http_stats_record(req);
	http_request_free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- daemon ----------------------------------------------------------- */

/* Keeps the raw path: parameters are decoded per segment by the router and
 * query values by http_request_query, so "%2F" cannot split a segment. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* libmicrohttpd's messages, as JSON log lines. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	struct http_server *s = cls;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* the first message of a failed start is its cause: kept for the
	 * error start_daemon returns (one thread runs the start) */
	if (!atomic_load(&s->started) && !s->start_error[0])
		snprintf(s->start_error, sizeof(s->start_error), "%s", msg);
	ops_log(OPS_LOG_WARN, "http_error", "%s", msg);
}

/* GnuTLS priorities: TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static bool tls_wanted(const struct http_options *o)
{
	return o->tls_cert_pem && o->tls_key_pem;
}

/* Starts libmicrohttpd on listening socket `fd` of address `family`,
 * which it takes over on success. */
static int start_daemon(struct http_server *s, int fd, int family, char **err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	unsigned pool = s->opts.threads > 1 ? (unsigned)s->opts.threads : 0;
	const struct http_options *o = &s->opts;
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};

	/* poll, not epoll: libmicrohttpd 0.9.75 with epoll stalls one thread
	 * at multiples of 128 connections, and MHD_quiesce_daemon races its
	 * epoll workers over removing the listening socket and aborts the
	 * process (MHD_PANIC) now and then at shutdown. poll measured as
	 * fast at 1 to 256 connections. */
	flags |= MHD_USE_POLL;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls_wanted(o)) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			*err = util_xstrdup("this libmicrohttpd has no TLS support");
			return -1;
		}
		flags |= MHD_USE_TLS;
	} else {
		tls[0].option = MHD_OPTION_END;
	}
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, pool,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, s,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip,
		/* Per-connection memory for the request line, headers and
		 * buffers (bodies go to the request's own buffer). libmicrohttpd
		 * zeroes it for every request, so it is kept small; the
		 * headroom over max_header_bytes lets a header block over that
		 * limit reach framing.c, which answers it in JSON, where
		 * libmicrohttpd would close or answer in HTML. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		o->max_header_bytes * 3 / 2 + 4096,
		MHD_OPTION_ARRAY, tls,
		MHD_OPTION_END);
	if (!s->daemon) {
		*err = util_xasprintf("cannot serve on %s: %s", o->listen,
				      s->start_error[0] ? s->start_error :
				      "libmicrohttpd refused to start");
		return -1;
	}
	atomic_store(&s->started, true);
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	return 0;
}

int http_server_start(const struct http_options *opts, struct http_server **out,
		      char **err)
{
	struct http_server *s = util_xcalloc(1, sizeof(*s));
	unsigned char prefix[4];
	int rc = -1, fd = -1, mhd_fd, family = AF_INET;

	s->opts = *opts;
	if (!s->opts.connection_timeout_s)
		s->opts.connection_timeout_s = 30;
	if (!s->opts.max_connections)
		s->opts.max_connections = 1024;
	if (!s->opts.max_header_bytes)
		s->opts.max_header_bytes = 16 * 1024;
	if (!s->opts.request_header_timeout_s)
		s->opts.request_header_timeout_s = 10;
	if (util_random_bytes(prefix, sizeof(prefix))) {
		*err = util_xstrdup("cannot read random bytes");
		goto out;
	}
	util_hex_encode(prefix, sizeof(prefix), s->id_prefix);
	if (opts->listen_fd > 0) {
		fd = opts->listen_fd;    /* ours now, whatever happens */
		family = opts->listen_family;
	}
	if (http_router_compile(s, err) || http_guard_start(s, err) ||
	    (fd < 0 && http_listen_open(opts->listen, &fd, &family, err)))
		goto out;
	/* libmicrohttpd closes the socket it is given on some failures and
	 * not on others: it gets a copy, and this one is always closed */
	mhd_fd = dup(fd);
	if (mhd_fd < 0) {
		*err = util_xasprintf("cannot listen on %s: %s", opts->listen,
				      strerror(errno));
		goto out;
	}
	rc = start_daemon(s, mhd_fd, family, err);
out:
	if (fd >= 0)
		close(fd);
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
	MHD_socket fd;

	atomic_store(&s->draining, true);
	fd = MHD_quiesce_daemon(s->daemon);

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
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
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	http_guard_free(s);
	http_router_free(s);
	free(s);
}
