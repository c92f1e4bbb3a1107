/* http/http_int.h (private to http): the server and request structures and
 * the router shared by the http files. */
#ifndef GRANTD_HTTP_INT_H
#define GRANTD_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"
#include "util/util.h"

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_EXTRA_HEADERS 6
/* After an early error (413, 401, …) the rest of the body is read and
 * thrown away, and the reply goes out once it is all in: libmicrohttpd can
 * queue a reply only before the body or after it, and closing a socket
 * with unread data sends a reset that makes most clients (which send the
 * whole body before reading) lose the reply. Past these bounds, in bytes
 * drained and in time since the error, the connection is dropped. */
#define HTTP_DRAIN_MAX (64ull * 1024 * 1024)
#define HTTP_DRAIN_US (30ll * 1000 * 1000)

/* Live counters behind struct http_route_stats. */
struct http_counters {
	atomic_ullong by_status[600];
	atomic_ullong latency[HTTP_LATENCY_BUCKETS];
	atomic_ullong latency_sum_us;
};

/* A route pattern split into segments; a NULL literal is a parameter. */
struct http_compiled_route {
	const struct http_route *route;
	size_t n_segments;
	const char *literal[HTTP_MAX_SEGMENTS];
	char *owned[HTTP_MAX_SEGMENTS];      /* storage behind literal/param names */
	const char *param_name[HTTP_MAX_SEGMENTS];
	struct http_counters counters;
};

/* The connection guard (guard.c): every open connection, newest first. */
struct http_guard_conn;
struct http_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool initialised, running, stopping;
	struct http_guard_conn *head;
	unsigned count;           /* connections in the list */
	unsigned closing;         /* of which shut down, not yet closed */
	atomic_ullong header_timeouts;
	atomic_ullong evictions;
};

struct http_server {
	struct http_options opts;
	struct http_guard guard;
	struct MHD_Daemon *daemon;
	struct http_compiled_route *routes;
	size_t n_routes;
	uint16_t port;
	atomic_long in_flight;
	atomic_bool draining;     /* quiesced: new requests are turned away */
	struct http_counters unmatched;
	atomic_ullong next_request_id;
	char id_prefix[9];
	char start_error[512];    /* libmicrohttpd's first message at start */
	atomic_bool started;      /* later messages are only logged */
};

enum http_request_state {
	HTTP_REQ_READING,     /* headers seen, body being read */
	HTTP_REQ_HANDLING,    /* inside the handler */
	HTTP_REQ_SUSPENDED,   /* waiting for an asynchronous reply */
	HTTP_REQ_ANSWERED,    /* a response is queued with MHD */
};

struct http_header_pair {
	char *name;
	char *value;
};

struct http_request {
	struct http_server *server;
	struct MHD_Connection *conn;
	const struct http_compiled_route *route;
	const char *method;
	const char *url;
	char *log_path;        /* url with secret segments redacted (owned) */
	int64_t start_us;
	char request_id[129];
	enum http_request_state state;

	struct util_buf body;
	size_t discarded;
	bool failed_early;     /* an error reply is ready; the body is drained */
	bool framing_error;    /* the message's length is in doubt: answer, close */
	int64_t failed_at_us;  /* when it became ready (monotonic) */

	size_t n_params;
	const char *param_name[HTTP_MAX_PARAMS];
	char *param_value[HTTP_MAX_PARAMS];
	struct util_strlist query_values;  /* decoded query arguments handed out */

	struct http_principal principal;
	bool has_principal;
	bool throttled;        /* over the rate limit: answered after the body */

	unsigned status;
	struct MHD_Response *response;  /* built reply, not yet queued */
	size_t n_headers;
	struct http_header_pair headers[HTTP_MAX_EXTRA_HEADERS];

	char *log_account;
	char *log_transaction;
	void *state_ptr;
	void (*state_free)(void *);
};

/* Opens a listening TCP socket on "host:port" or "[v6]:port" (port 0: any
 * free port). Returns 0 with the socket in *fd (owned by the caller) and
 * its address family in *family, or -1 with a message naming the address
 * and the reason in *err (owned by the caller). */
int http_listen_open(const char *address, int *fd, int *family, char **err);

/* Router: compile the table, match a decoded path. */
int http_router_compile(struct http_server *s, char **err);
void http_router_free(struct http_server *s);
/* Finds the route for (method, raw path). Returns it, or NULL with
 * *allowed set to the methods the path accepts (0: no such path). On a
 * match, decoded parameters are stored in req. Sets *bad_param when a
 * parameter is malformed (bad escape, empty). */
/* A copy of the raw path `url` (owned by the caller) in which every
 * segment that is a parameter of a HTTP_ROUTE_SECRET_PARAMS route reads
 * "(redacted)": for each such route, segments are compared in order, and
 * a parameter segment is redacted while all literal segments before it
 * match. What follows the path ('?…') is dropped. */
char *http_router_redact(const struct http_server *s, const char *url);
const struct http_compiled_route *http_router_match(struct http_server *s,
						    struct http_request *req,
						    enum http_method method,
						    unsigned *allowed,
						    bool *bad_param);
/* Maps a method name to its bit; 0 if unknown. */
enum http_method http_method_parse(const char *name);
/* Writes "GET, POST" style text for an Allow header. */
void http_methods_format(unsigned methods, char *out, size_t size);

/* Framing (framing.c). Checks the request line and header block of a new
 * request (`target` the path as received, `version` as libmicrohttpd read
 * it): HTTP/1.1 or 1.0 (else 505), a path without spaces or control
 * characters (400), path and query within max_header_bytes (414), the whole
 * block within it (431), no field name with whitespace, no repeated Content-Length,
 * Transfer-Encoding, Authorization, Host, Content-Type or Expect, a Host
 * in HTTP/1.1, not both Content-Length and Transfer-Encoding, no transfer
 * coding but "chunked" (501). Returns true, or false with the error reply
 * (Connection: close) built on req. */
bool http_framing_check(struct http_request *req, const char *target,
			const char *version);
/* The origin-form path of a request target: `target` itself, or inside an
 * absolute-form target ("http://host:port/p?q") the part from its path on
 * (borrowed from target); NULL when an absolute-form target has no path. */
const char *http_framing_origin_path(const char *target);

/* The connection guard (guard.c). A connection's request header block
 * must be in within request_header_timeout_s of its opening, and within
 * connection_timeout_s of its previous answer; past that it is shut down.
 * When a new connection leaves fewer than max_connections/16 (at least 4)
 * free, the connection idle longest is shut down, one that never
 * completed a request first. */
int http_guard_start(struct http_server *s, char **err);
void http_guard_stop(struct http_server *s);
void http_guard_free(struct http_server *s);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the server). */
void http_guard_notify(void *cls, struct MHD_Connection *conn,
		       void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
/* A request's header block is in / its answer is done. */
void http_guard_request_began(struct http_server *s, struct MHD_Connection *conn);
void http_guard_request_ended(struct http_server *s, struct MHD_Connection *conn);

/* Statistics (stats.c): counts a finished request. */
void http_stats_record(struct http_request *req);

/* Replies (reply.c). */
void http_request_free(struct http_request *req);
/* Queues the built response with MHD. Returns MHD_YES or MHD_NO. */
enum MHD_Result http_request_queue(struct http_request *req);

#endif
