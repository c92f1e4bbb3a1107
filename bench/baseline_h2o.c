/* bench/baseline_h2o.c: a bare h2o (libh2o-evloop, HTTP/1.1, plain TCP) server
 * answering like bench/baseline.c, to weigh h2o against libmicrohttpd. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <h2o.h>

/* The same cap as grantd's default server.max_body_bytes. */
#define BODY_MAX 65536u
/* grantd's default server.max_header_bytes. */
#define HEADER_MAX_DEFAULT 16384u
/* How long an event loop sleeps at most before it looks at the stop flag. */
#define LOOP_WAIT_MS 100

struct options {
	uint16_t port;
	unsigned threads;
	size_t max_header_bytes;
	bool json_errors;
};

/* One event loop per thread, each with its own SO_REUSEPORT listener. */
struct worker {
	int fd;
	pthread_t tid;
	h2o_evloop_t *loop;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
};

/* The ostream that replaces an error body with the JSON one. */
struct json_error_ostream {
	h2o_ostream_t super;
	h2o_iovec_t body;
};

static h2o_globalconf_t config;
static struct options opts;
static atomic_bool stopping;

static const char reply_ok[] = "{}";
static const char reply_health[] = "{\"status\":\"ok\"}";
static const char reply_too_large[] =
	"{\"error\":{\"code\":\"PayloadTooLarge\",\"message\":\"body too large\"}}";
static const char reply_header_too_large[] =
	"{\"error\":{\"code\":\"RequestHeaderFieldsTooLarge\","
	"\"message\":\"request header too large\"}}";

static void usage(void)
{
	fprintf(stderr, "usage: grantd_baseline_h2o [--port N] [--threads T] "
		"[--max-header-bytes N] [--json-errors 0|1]\n");
	exit(2);
}

static unsigned long parse_ulong(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		usage();
	return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	o->port = 0;
	o->threads = 2;
	o->max_header_bytes = HEADER_MAX_DEFAULT;
	o->json_errors = true;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--port") == 0)
			o->port = (uint16_t)parse_ulong(argv[++i], 65535);
		else if (strcmp(argv[i], "--threads") == 0)
			o->threads = (unsigned)parse_ulong(argv[++i], 64);
		else if (strcmp(argv[i], "--max-header-bytes") == 0)
			o->max_header_bytes = parse_ulong(argv[++i], 1u << 24);
		else if (strcmp(argv[i], "--json-errors") == 0)
			o->json_errors = parse_ulong(argv[++i], 1) != 0;
		else
			usage();
	}
	if (o->threads == 0)
		usage();
}

/* ---- the JSON error filter ------------------------------------------------ */

/* The error code for a status, in grantd's spelling. */
static const char *error_code(int status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 408: return "RequestTimeout";
	case 413: return "PayloadTooLarge";
	case 414: return "UriTooLong";
	case 417: return "ExpectationFailed";
	case 431: return "RequestHeaderFieldsTooLarge";
	case 501: return "NotImplemented";
	case 505: return "HttpVersionNotSupported";
	default: return status >= 500 ? "InternalError" : "HttpError";
	}
}

static bool res_is_json(const h2o_req_t *req)
{
	ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
	const h2o_iovec_t *v;

	if (i < 0)
		return false;
	v = &req->res.headers.entries[i].value;
	return v->len >= 16 && strncasecmp(v->base, "application/json", 16) == 0;
}

/* Drops what the generator sends and sends the JSON body with the final
 * call; error bodies made by h2o come in one final call. */
static void json_error_send(h2o_ostream_t *super, h2o_req_t *req,
			    h2o_iovec_t *bufs, size_t bufcnt,
			    h2o_send_state_t state)
{
	struct json_error_ostream *self = (struct json_error_ostream *)super;

	(void)bufs;
	(void)bufcnt;
	if (h2o_send_state_is_in_progress(state)) {
		h2o_ostream_send_next(super, req, NULL, 0, state);
		return;
	}
	h2o_ostream_send_next(super, req, &self->body, 1, state);
}

/* An error response not already JSON gets grantd's error body. The reason
 * phrase, lower-cased, is the message. */
static void json_error_setup(h2o_filter_t *filter, h2o_req_t *req,
			     h2o_ostream_t **slot)
{
	struct json_error_ostream *o;
	char msg[128];
	char *text;
	int n;

	(void)filter;
	if (req->res.status < 400 || res_is_json(req))
		goto next;
	snprintf(msg, sizeof(msg), "%s", req->res.reason ? req->res.reason : "error");
	for (char *p = msg; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	text = h2o_mem_alloc_pool(&req->pool, 256);
	n = snprintf(text, 256, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
		     error_code(req->res.status), msg);
	if (n < 0 || n >= 256)
		goto next;
	o = (struct json_error_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
	o->super.do_send = json_error_send;
	o->body = h2o_iovec_init(text, (size_t)n);
	req->res.content_length = (size_t)n;
	h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       H2O_STRLIT("application/json"), 1);
	slot = &o->super.next;
next:
	h2o_setup_next_ostream(req, slot);
}

static void json_error_register(h2o_pathconf_t *pathconf)
{
	h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));

	f->on_setup_ostream = json_error_setup;
}

/* ---- the handler ------------------------------------------------------------ */

/* The request line and header block as they came, near enough. */
static size_t header_bytes(const h2o_req_t *req)
{
	size_t n = req->input.method.len + req->input.path.len + 12;

	for (size_t i = 0; i < req->headers.size; i++)
		n += req->headers.entries[i].name->len +
		     req->headers.entries[i].value.len + 4;
	return n;
}

static int reply(h2o_req_t *req, int status, const char *reason,
		 const char *text, size_t len)
{
	req->res.status = status;
	req->res.reason = reason;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
		       NULL, H2O_STRLIT("application/json"));
	req->res.content_length = len;
	h2o_send_inline(req, text, len);
	return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	(void)self;
	if (header_bytes(req) > opts.max_header_bytes) {
		req->http1_is_persistent = 0;
		return reply(req, 431, "Request Header Fields Too Large",
			     H2O_STRLIT(reply_header_too_large));
	}
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    h2o_memis(req->path_normalized.base, req->path_normalized.len,
		      H2O_STRLIT("/healthz")))
		return reply(req, 200, "OK", H2O_STRLIT(reply_health));
	if (req->entity.len > BODY_MAX)
		return reply(req, 413, "Payload Too Large",
			     H2O_STRLIT(reply_too_large));
	return reply(req, 200, "OK", H2O_STRLIT(reply_ok));
}

/* ---- configuration, listeners and loops ----------------------------------- */

static void configure(void)
{
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	h2o_handler_t *h;

	h2o_config_init(&config);
	config.max_request_entity_size = BODY_MAX;
	config.http1.upgrade_to_http2 = 0;
	config.http1.req_timeout = 30 * 1000;
	host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")),
					65535);
	path = h2o_config_register_path(host, "/", 0);
	h = h2o_create_handler(path, sizeof(*h));
	h->on_req = on_req;
	if (opts.json_errors) {
		json_error_register(path);
		/* errors found before a path is chosen are sent on this one */
		json_error_register(&host->fallback_path);
	}
}

/* A loopback listener on port (0: any); returns the fd or -1. */
static int listen_on(uint16_t port)
{
	struct sockaddr_in addr;
	int fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, SOMAXCONN)) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);

	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		return 0;
	return ntohs(addr.sin_port);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct worker *w = listener->data;
	h2o_socket_t *sock;

	if (err)
		return;
	sock = h2o_evloop_socket_accept(listener);
	if (sock)
		h2o_accept(&w->accept_ctx, sock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	h2o_socket_t *listener;

	w->loop = h2o_evloop_create();
	h2o_context_init(&w->ctx, w->loop, &config);
	w->accept_ctx.ctx = &w->ctx;
	w->accept_ctx.hosts = config.hosts;
	listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
	listener->data = w;
	h2o_socket_read_start(listener, on_accept);
	while (!atomic_load(&stopping))
		h2o_evloop_run(w->loop, LOOP_WAIT_MS);
	/* The context and loop are left to process exit: connections still
	 * open hold them. */
	return NULL;
}

/* Binds every worker's listener on one port; returns that port or 0. */
static uint16_t open_listeners(struct worker *w, unsigned n, uint16_t port)
{
	for (unsigned i = 0; i < n; i++) {
		w[i].fd = listen_on(port);
		if (w[i].fd < 0)
			return 0;
		if (i == 0)
			port = bound_port(w[0].fd);
	}
	return port;
}

int main(int argc, char **argv)
{
	struct worker *w;
	sigset_t set;
	uint16_t port;
	int sig, rc = 1;
	unsigned started = 0;

	parse_args(argc, argv, &opts);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	configure();
	w = calloc(opts.threads, sizeof(*w));
	if (!w)
		return 1;
	port = open_listeners(w, opts.threads, opts.port);
	if (!port) {
		fprintf(stderr, "grantd_baseline_h2o: cannot listen on 127.0.0.1:%u\n",
			(unsigned)opts.port);
		goto out;
	}
	for (; started < opts.threads; started++)
		if (pthread_create(&w[started].tid, NULL, worker_main, &w[started]))
			goto out;
	printf("{\"event\":\"listening\",\"port\":%u,\"threads\":%u}\n",
	       (unsigned)port, opts.threads);
	fflush(stdout);
	if (sigwait(&set, &sig))
		fprintf(stderr, "grantd_baseline_h2o: sigwait failed\n");
	rc = 0;
out:
	atomic_store(&stopping, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	for (unsigned i = 0; i < opts.threads; i++)
		if (w[i].fd > 0)
			close(w[i].fd);
	free(w);
	return rc;
}
