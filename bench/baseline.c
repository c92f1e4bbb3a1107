/* bench/baseline.c: a bare libmicrohttpd server with grantd's daemon settings
 * that reads each POST body and answers 200 {} (the benchmark's baseline). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The same cap as grantd's default server.max_body_bytes. */
#define BODY_MAX 65536u

struct options {
	uint16_t port;
	unsigned threads;
	size_t max_header_bytes;	/* 0: libmicrohttpd's default */
};

/* Per-request state: the body read so far. Freed in on_completed. */
struct body {
	char *data;
	size_t len;
	size_t cap;
	bool too_large;
};

static const char reply_ok[] = "{}";
static const char reply_health[] = "{\"status\":\"ok\"}";
static const char reply_too_large[] =
	"{\"error\":{\"code\":\"PayloadTooLarge\",\"message\":\"body too large\"}}";

static void usage(void)
{
	fprintf(stderr, "usage: grantd_baseline [--port N] [--threads T] "
		"[--max-header-bytes N]\n");
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
	o->max_header_bytes = 0;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--port") == 0)
			o->port = (uint16_t)parse_ulong(argv[++i], 65535);
		else if (strcmp(argv[i], "--threads") == 0)
			o->threads = (unsigned)parse_ulong(argv[++i], 64);
		else if (strcmp(argv[i], "--max-header-bytes") == 0)
			o->max_header_bytes = parse_ulong(argv[++i], 1u << 24);
		else
			usage();
	}
	if (o->threads == 0)
		usage();
}

/* Appends n bytes to the body; marks it too large past BODY_MAX. */
static void body_append(struct body *b, const char *data, size_t n)
{
	size_t want = b->len + n;
	char *p;

	if (b->too_large || want > BODY_MAX) {
		b->too_large = true;
		return;
	}
	if (want > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < want)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->too_large = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len = want;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, unsigned status,
				  const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_data_size) {
		body_append(b, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (b->too_large)
		return send_reply(conn, 413, reply_too_large);
	if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
		return send_reply(conn, MHD_HTTP_OK, reply_health);
	return send_reply(conn, MHD_HTTP_OK, reply_ok);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!b)
		return;
	free(b->data);
	free(b);
	*con_cls = NULL;
}

/* grantd's flags: poll, with a thread pool when threads > 1. */
static struct MHD_Daemon *start_daemon(const struct options *o)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	unsigned pool = o->threads > 1 ? o->threads : 0;
	struct sockaddr_in addr;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(o->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	flags |= MHD_USE_POLL;
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				MHD_OPTION_THREAD_POOL_SIZE, pool,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				/* grantd sets it from server.max_header_bytes */
				o->max_header_bytes ? MHD_OPTION_CONNECTION_MEMORY_LIMIT
						    : MHD_OPTION_END,
				o->max_header_bytes,
				MHD_OPTION_END);
}

static int wait_for_stop_signal(const sigset_t *set)
{
	int sig;

	return sigwait(set, &sig);
}

int main(int argc, char **argv)
{
	struct options o;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;

	parse_args(argc, argv, &o);
	/* Blocked before the daemon starts, so its threads inherit the mask
	 * and only sigwait sees SIGTERM/SIGINT. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = start_daemon(&o);
	if (!d) {
		fprintf(stderr, "grantd_baseline: cannot listen on 127.0.0.1:%u\n",
			(unsigned)o.port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("{\"event\":\"listening\",\"port\":%u,\"threads\":%u}\n",
	       info ? (unsigned)info->port : 0u, o.threads);
	fflush(stdout);
	if (wait_for_stop_signal(&set))
		fprintf(stderr, "grantd_baseline: sigwait failed\n");
	MHD_stop_daemon(d);
	return 0;
}
