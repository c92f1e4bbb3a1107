/* http/http_int.h (private to http): the server and request structures and
 * the router shared by the http files. */
#ifndef GRANTD_HTTP_INT_H
#define GRANTD_HTTP_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "http/http.h"
#include "util/util.h"

#define HTTP_MAX_SEGMENTS 16
#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_EXTRA_HEADERS 6
/* After an early error (413, 401, …) on a request whose length is known,
 * the rest of the body is read and thrown away, and the reply goes out
 * once it is all in: closing a socket with unread data sends a reset that
 * makes most clients (which send the whole body before reading) lose the
 * reply. Past these bounds, in bytes drained and in time since the error,
 * the connection is dropped. */
#define HTTP_DRAIN_MAX (64ull * 1024 * 1024)
#define HTTP_DRAIN_US (30ll * 1000 * 1000)

/* ---- parsing (parse.c) ---------------------------------------------------- */

#define HTTP_MAX_FIELDS 100

/* One header field; pointers into the connection's copy of the head. */
struct http_field {
	const char *name;
	size_t name_len;
	const char *value;       /* without surrounding whitespace */
	size_t value_len;
};

struct http_head {
	const char *method;
	size_t method_len;
	const char *target;      /* as sent: origin or absolute form */
	size_t target_len;
	int minor;               /* HTTP/1.<minor>: 0 or 1 */
	size_t n_fields;
	struct http_field fields[HTTP_MAX_FIELDS];
};

/* Why a request was refused: an HTTP status, a grantd error code, a
 * message (static strings). */
struct http_parse_error {
	unsigned status;
	const char *code;
	const char *message;
};

/* Parses a request head at the start of buf[0, len) (RFC 9112, strictly:
 * CRLF line ends, no NUL or control bytes, no whitespace before a colon, no
 * folding, one space between the parts of the request line, HTTP/1.1 or
 * 1.0). Fields point into buf. Returns the head's length (through the
 * blank line) when it is complete, 0 if more bytes are needed, or -1 with
 * *err filled (431 or 414 once `max` bytes hold no complete head). */
long http_parse_head(const char *buf, size_t len, size_t max,
		     struct http_head *h, struct http_parse_error *err);
/* The first field named `name` (any case), NULL if none. */
const struct http_field *http_head_field(const struct http_head *h,
					 const char *name);

/* A chunked body being decoded. */
struct http_chunked {
	int state;
	uint64_t size;           /* of the chunk being read */
	unsigned digits;
	size_t line;
	bool trailer_line;
	bool ext;                /* a chunk extension's ';' was seen */
	uint64_t total, limit;   /* data bytes so far; the most allowed */
};
typedef void (*http_body_sink)(void *cls, const char *data, size_t n);
void http_chunked_init(struct http_chunked *c, uint64_t limit);
/* Decodes up to n bytes, handing the data to sink. Returns the bytes
 * consumed (fewer than n once the body is complete), or -1 with *err
 * filled: 400 for malformed framing, 413 past the limit. */
long http_chunked_feed(struct http_chunked *c, const char *in, size_t n,
		       http_body_sink sink, void *cls,
		       struct http_parse_error *err);
bool http_chunked_done(const struct http_chunked *c);

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

struct http_loop;
struct http_ip_count;

enum http_conn_state {
	HTTP_CONN_HEAD,       /* reading a request head */
	HTTP_CONN_BODY,       /* reading its body */
	HTTP_CONN_HANDLING,   /* the handler's reply is awaited (suspended) */
	HTTP_CONN_WRITING,    /* sending a reply */
	HTTP_CONN_LINGER,     /* reply sent, closing: reading what is left */
};

/* One client connection, owned by its loop's thread. */
struct http_conn {
	/* guard.c's, under the guard's lock */
	struct http_conn *g_prev, *g_next;
	bool busy;            /* a request is being read or answered */
	bool served;          /* at least one request was answered */
	bool closing;         /* shut down by the guard; closing soon */
	bool counted_ip;      /* counted in the guard's per-address table */
	bool in_guard;        /* in the guard's list */
	int64_t idle_since_us;
	int64_t deadline_us;  /* its next request head must be in by then */

	/* the loop's */
	struct http_loop *loop;
	struct http_conn *l_prev, *l_next;
	struct http_conn *resume_next;
	int fd;
	void *ssl;            /* SSL, with TLS */
	bool tls_wants_write; /* the TLS layer waits to send before reading */
	struct sockaddr_storage addr;
	enum http_conn_state state;
	char *in;
	size_t in_len, in_cap;
	struct util_buf out;
	size_t out_off;
	struct http_request *req;
	bool chunked;
	uint64_t body_left;
	struct http_chunked ch;
	bool close_after;     /* close once the reply is out */
	bool drop;            /* a failed request's body is past the drain bounds */
	bool again;           /* a reply went out: look at the buffer again */
	bool closed;          /* closed; freed at the end of the loop's turn */
	unsigned events;      /* the epoll interest registered */
	bool registered;      /* added to the loop's epoll set */
	int64_t last_io_us;
	int64_t linger_until_us;
};

/* One event loop thread (loop.c). */
struct http_loop {
	struct http_server *server;
	pthread_t thread;
	bool started;
	int epfd;
	int wakefd;           /* eventfd: a reply is ready, or stop */
	pthread_mutex_t lock; /* guards `resumed` */
	struct http_conn *resumed;
	struct http_conn *conns;
	struct http_conn *closed;   /* freed at the end of each turn */
	struct http_head head;      /* scratch for parsing */
	atomic_bool stop;
	int64_t next_sweep_us;
};

/* The connection table (guard.c): every open connection, for the limits
 * per address, the header deadlines and making room when it is full. */
struct http_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool initialised, running, stopping;
	struct http_conn *head;
	unsigned count;           /* connections in the list */
	unsigned closing;         /* of which shut down, not yet closed */
	struct http_ip_count *by_ip[256];
	atomic_ullong header_timeouts;
	atomic_ullong evictions;
	atomic_ullong refused_per_ip;
};

struct http_server {
	struct http_options opts;
	struct http_guard guard;
	struct http_compiled_route *routes;
	size_t n_routes;
	uint16_t port;
	int listen_fd;
	void *tls;                /* SSL_CTX, or NULL for plain HTTP */
	struct http_loop *loops;
	size_t n_loops;
	atomic_long in_flight;
	atomic_bool draining;     /* quiesced: new requests are turned away */
	atomic_bool accepting;
	struct http_counters unmatched;
	atomic_ullong next_request_id;
	char id_prefix[9];
};

enum http_request_state {
	HTTP_REQ_READING,     /* headers seen, body being read */
	HTTP_REQ_HANDLING,    /* inside the handler */
	HTTP_REQ_SUSPENDED,   /* waiting for an asynchronous reply */
	HTTP_REQ_ANSWERED,    /* the reply is being sent */
};

struct http_header_pair {
	char *name;
	char *value;
};

/* A reply being built (reply.c) and sent (conn.c). */
struct http_response {
	const char *body;
	size_t len;
	char *owned;             /* freed with the response, or NULL */
	const char *content_type;
	bool set;
};

struct http_request {
	struct http_server *server;
	struct http_conn *conn;
	const struct http_compiled_route *route;
	const char *method;      /* in head_bytes */
	const char *url;         /* the path as sent (in head_bytes) */
	const char *query;       /* after '?', raw; "" when none */
	struct http_head head;   /* fields NUL-terminated, in head_bytes */
	char *head_bytes;        /* owned copy of the request head */
	char *log_path;        /* url with secret segments redacted (owned) */
	int64_t start_us;
	char request_id[129];
	enum http_request_state state;

	uint64_t length;       /* Content-Length as framed; 0 if none (or chunked) */
	struct util_buf body;
	size_t discarded;
	bool failed_early;     /* an error reply is ready; the body is drained */
	int64_t failed_at_us;  /* when it became ready (monotonic) */

	size_t n_params;
	const char *param_name[HTTP_MAX_PARAMS];
	char *param_value[HTTP_MAX_PARAMS];
	struct util_strlist query_values;  /* decoded query arguments handed out */

	struct http_principal principal;
	bool has_principal;
	bool throttled;        /* over the rate limit: answered after the body */

	unsigned status;
	struct http_response response;  /* built reply, not yet sent */
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

/* Statistics (stats.c): counts a finished request. */
void http_stats_record(struct http_request *req);

/* Framing (framing.c): the rules for a parsed head beyond its syntax. No
 * repeated Content-Length, Transfer-Encoding, Authorization, Host,
 * Content-Type or Expect; a Host in HTTP/1.1; not both Content-Length and
 * Transfer-Encoding; no transfer coding but "chunked" (501); a
 * Content-Length of digits only. Returns 0, or -1 with *err filled. On 0,
 * *chunked and *length say how the body is framed. */
int http_framing_check(const struct http_head *h, bool *chunked,
		       uint64_t *length, struct http_parse_error *err);
/* The origin-form path of a request target: `target` itself, or inside an
 * absolute-form target ("http://host:port/p?q") the part from its path on
 * (borrowed from target); NULL when an absolute-form target has no path. */
const char *http_framing_origin_path(const char *target);

/* The request life cycle (server.c), called by the connection. */
/* A complete, well-framed head: a new request (owned by the connection
 * until http_request_completed), `length` its framed Content-Length (0 if
 * none or chunked). Sets *answer_now when its reply is ready
 * and must go out before any body is read. */
struct http_request *http_request_begin(struct http_server *s,
					struct http_conn *conn,
					const struct http_head *h,
					const char *raw, size_t raw_len,
					uint64_t length, bool *answer_now);
/* A refused head: a request carrying only the error reply. */
struct http_request *http_request_refused(struct http_server *s,
					  struct http_conn *conn,
					  const struct http_parse_error *err);
/* Body bytes; false when the connection must be dropped unanswered (a
 * failed request's body past the drain bounds). */
bool http_request_body_data(struct http_request *req, const char *data,
			    size_t n);
/* The body is in: run the handler (or keep the early error). */
void http_request_body_done(struct http_request *req);
/* The reply is sent (ok) or the connection went away (!ok): log, count
 * and free. */
void http_request_completed(struct http_request *req, bool ok);
/* Whether the reply asks for the connection to close. */
bool http_request_wants_close(const struct http_request *req);
/* Whether the client waits for "100 Continue" before the body. */
bool http_request_expects_continue(const struct http_request *req);

/* Replies (reply.c). */
void http_request_free(struct http_request *req);
/* The reply's status line and headers, for the connection to send. */
void http_reply_head(struct http_request *req, struct util_buf *out,
		     bool close);

/* Event loops (loop.c). */
int http_loops_start(struct http_server *s, char **err);
void http_loops_stop_accepting(struct http_server *s);
void http_loops_stop(struct http_server *s);
/* Sets the connection's epoll interest (EPOLLIN/EPOLLOUT bits). */
void http_loop_watch(struct http_conn *c, unsigned events);
/* A suspended request's reply is ready (any thread). */
void http_conn_resume(struct http_conn *conn);

/* Connections (conn.c). */
/* A new accepted socket on loop `l` (taken over). */
void http_conn_open(struct http_loop *l, int fd, const struct sockaddr *addr,
		    socklen_t addr_len);
/* Epoll reported `events` on the connection. */
void http_conn_event(struct http_conn *c, unsigned events);
/* Its reply is ready after a suspension (on the loop's thread). */
void http_conn_resumed(struct http_conn *c);
/* Closes it if it has been silent too long; called about once a second. */
void http_conn_sweep(struct http_conn *c, int64_t now_us);
/* Closes it (a request in flight is logged as aborted); it is freed by
 * http_conn_free_closed at the end of the loop's turn. */
void http_conn_close(struct http_conn *c);
void http_conn_free_closed(struct http_loop *l);
/* The client's address (borrowed). */
const struct sockaddr *http_conn_addr(const struct http_conn *conn);

/* TLS (tls.c). Bytes moved: > 0; 0: the peer closed; -1: would block
 * (with TLS, c->tls_wants_write says which way); -2: failed. */
int http_tls_init(struct http_server *s, char **err);
void http_tls_free(struct http_server *s);
int http_tls_attach(struct http_server *s, struct http_conn *c);
void http_tls_detach(struct http_conn *c);
long http_conn_recv(struct http_conn *c, char *buf, size_t n);
long http_conn_send(struct http_conn *c, const char *buf, size_t n);
/* Decrypted bytes waiting in the TLS layer (0 without TLS). */
size_t http_tls_pending(const struct http_conn *c);

/* The connection table (guard.c). A connection's request head must be in
 * within request_header_timeout_s of its opening, and within
 * connection_timeout_s of its previous answer; past that it is shut down.
 * When a new connection leaves fewer than max_connections/16 (at least 4)
 * free, the connection idle longest is shut down, one that never
 * completed a request first. */
int http_guard_start(struct http_server *s, char **err);
void http_guard_stop(struct http_server *s);
void http_guard_free(struct http_server *s);
/* Registers a new connection (false: over its address's limit; do not
 * keep it). */
bool http_guard_add(struct http_server *s, struct http_conn *c);
/* Unregisters it; after this the descriptor may be closed. */
void http_guard_remove(struct http_server *s, struct http_conn *c);
void http_guard_request_began(struct http_server *s, struct http_conn *c);
void http_guard_request_ended(struct http_server *s, struct http_conn *c);

#endif
