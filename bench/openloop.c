/* bench/openloop.c: open-loop load generator — sends Prime Gaming fulfilments
 * on a fixed schedule over keep-alive connections and measures each latency
 * from the request's intended send time (coordinated omission corrected). */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define MAX_CONNECTIONS 4096
#define MAX_SKUS 64
#define OUT_MAX 2048
#define IN_MAX (1u << 20)
#define RECONNECT_DELAY_NS (100 * NS_PER_MS)
#define CONNECT_WAIT_NS (5 * NS_PER_S)
#define LATE_NS NS_PER_MS

/* ---- log-linear histogram (microseconds) ------------------------------ */

/* Values below 2^SUB_BITS are exact; above, each power-of-two range is cut
 * into 2^SUB_BITS linear sub-buckets: relative error below 1/128. */
#define HIST_SUB_BITS 7u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40u /* 2^40 us, about 12 days */
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	uint64_t max;
	double sum;
};

static unsigned hist_index(uint64_t v)
{
	unsigned e, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	sub = (unsigned)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + sub;
}

/* The highest value that falls into bucket i. */
static uint64_t hist_bucket_high(unsigned i)
{
	unsigned e, sub, shift;

	if (i < HIST_SUB)
		return i;
	e = (i - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	sub = (i - HIST_SUB) % HIST_SUB;
	shift = e - HIST_SUB_BITS;
	return (((uint64_t)(HIST_SUB + sub)) << shift) + ((uint64_t)1 << shift) - 1;
}

static void hist_record(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
}

/* The value at percentile p (0-100]: the highest value of the bucket that
 * holds the ceil(p% * total)-th sample, never above the exact maximum. */
static uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;
	uint64_t v;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = hist_bucket_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- options ---------------------------------------------------------- */

struct options {
	const char *host;
	const char *port;
	double rate;
	double duration;
	unsigned connections;
	const char *key;
	unsigned accounts;
	const char *skus[MAX_SKUS];
	unsigned nskus;
	const char *prefix;
	double drain;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: grantd_openloop --rate R [--duration S] [--connections N]\n"
		"         [--host H] [--port P] [--key K] [--accounts N]\n"
		"         [--skus a,b,c] [--prefix P] [--drain S]\n"
		"       grantd_openloop --self-test\n");
	exit(2);
}

static double parse_positive(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || !isfinite(v))
		usage();
	return v;
}

static void parse_skus(struct options *o, char *list)
{
	char *save = NULL;

	o->nskus = 0;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->nskus == MAX_SKUS)
			usage();
		o->skus[o->nskus++] = t;
	}
	if (o->nskus == 0)
		usage();
}

static void set_defaults(struct options *o)
{
	static char default_skus[] = "bench_gold_100";

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = "8080";
	o->duration = 30;
	o->connections = 64;
	o->accounts = 10000;
	o->prefix = "ol";
	o->drain = 5;
	parse_skus(o, default_skus);
}

static void parse_option(struct options *o, const char *name, char *value)
{
	if (strcmp(name, "--rate") == 0)
		o->rate = parse_positive(value);
	else if (strcmp(name, "--duration") == 0)
		o->duration = parse_positive(value);
	else if (strcmp(name, "--connections") == 0)
		o->connections = (unsigned)parse_positive(value);
	else if (strcmp(name, "--host") == 0)
		o->host = value;
	else if (strcmp(name, "--port") == 0)
		o->port = value;
	else if (strcmp(name, "--key") == 0)
		o->key = value;
	else if (strcmp(name, "--accounts") == 0)
		o->accounts = (unsigned)parse_positive(value);
	else if (strcmp(name, "--skus") == 0)
		parse_skus(o, value);
	else if (strcmp(name, "--prefix") == 0)
		o->prefix = value;
	else if (strcmp(name, "--drain") == 0)
		o->drain = parse_positive(value);
	else
		usage();
}

static void parse_args(struct options *o, int argc, char **argv)
{
	set_defaults(o);
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		parse_option(o, argv[i], argv[i + 1]);
	}
	if (o->rate <= 0 || o->connections == 0 ||
	    o->connections > MAX_CONNECTIONS ||
	    (o->key && strlen(o->key) > 512) || strlen(o->prefix) > 128)
		usage();
}

/* ---- time ------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- HTTP response parsing -------------------------------------------- */

struct response {
	int status;
	size_t size;     /* head + body bytes */
	bool close;      /* "Connection: close" */
};

enum parse_result { PARSE_MORE = 0, PARSE_DONE = 1, PARSE_ERROR = -1 };

static bool header_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* The header value after "name:", with leading blanks skipped. */
static const char *header_value(const char *line, size_t n, size_t *vlen)
{
	const char *colon = memchr(line, ':', n);
	const char *v = colon + 1, *end = line + n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static int parse_status_line(const char *line, size_t n, int *status)
{
	if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	if (n > 12 && line[12] != ' ')
		return -1;
	*status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return 0;
}

static int parse_content_length(const char *v, size_t n, long long *out)
{
	long long x = 0;

	if (n == 0 || n > 12)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

/* One header line: records Content-Length and Connection: close; refuses
 * Transfer-Encoding (grantd and the baseline always send a length). */
static int parse_header_line(const char *line, size_t n, struct response *r,
			     long long *length)
{
	const char *v;
	size_t vlen;

	if (header_is(line, n, "Content-Length")) {
		v = header_value(line, n, &vlen);
		return parse_content_length(v, vlen, length);
	}
	if (header_is(line, n, "Transfer-Encoding"))
		return -1;
	if (header_is(line, n, "Connection")) {
		v = header_value(line, n, &vlen);
		r->close = vlen == 5 && strncasecmp(v, "close", 5) == 0;
	}
	return 0;
}

/* Parses one response at the start of buf[0..len). PARSE_DONE fills *r. */
static enum parse_result parse_response(const char *buf, size_t len,
					struct response *r)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *line = buf, *eol;
	size_t head;
	long long length = -1;

	if (!end)
		return len > 16384 ? PARSE_ERROR : PARSE_MORE;
	head = (size_t)(end - buf) + 4;
	memset(r, 0, sizeof(*r));
	eol = memmem(line, head, "\r\n", 2);
	if (parse_status_line(line, (size_t)(eol - line), &r->status))
		return PARSE_ERROR;
	for (line = eol + 2; line < end; line = eol + 2) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		if (parse_header_line(line, (size_t)(eol - line), r, &length))
			return PARSE_ERROR;
	}
	if (length < 0) {
		if (!(r->status / 100 == 1 || r->status == 204 || r->status == 304))
			return PARSE_ERROR; /* body delimited by close: unsupported */
		length = 0;
	}
	if (len < head + (size_t)length)
		return PARSE_MORE;
	r->size = head + (size_t)length;
	return PARSE_DONE;
}

/* ---- connections and the run ------------------------------------------ */

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

struct conn {
	int fd;
	enum conn_state state;
	bool want_out;
	char out[OUT_MAX];
	size_t out_len;
	size_t out_off;
	char *in;
	size_t in_len;
	size_t in_cap;
	int64_t due_ns;   /* intended send time of the outstanding request */
	int64_t retry_ns; /* when a DOWN connection may reconnect */
};

struct errors {
	uint64_t connect;
	uint64_t read;
	uint64_t write;
	uint64_t parse;
	uint64_t timeout; /* sent, no reply within the drain time */
	uint64_t unsent;  /* still in the backlog when sending stopped */
};

struct run {
	struct options o;
	struct addrinfo *addr;
	int ep;
	struct conn *conns;
	unsigned *idle; /* stack of idle connection indices */
	unsigned nidle;
	int64_t t0;
	int64_t t_stop;
	uint64_t total;      /* requests scheduled in [t0, t_stop) */
	uint64_t made_due;   /* requests whose due time has come */
	uint64_t dispatched; /* requests handed to a connection */
	uint64_t max_backlog;
	uint64_t late;       /* dispatched more than 1 ms after their due time */
	uint64_t completed;
	uint64_t status[600];
	uint64_t censored;   /* histogram samples that are lower bounds */
	struct errors err;
	struct hist hist;
	char host_header[300];
};

static int64_t due_time(const struct run *r, uint64_t k)
{
	return r->t0 + (int64_t)((double)k * (double)NS_PER_S / r->o.rate);
}

static void idle_push(struct run *r, unsigned i)
{
	r->conns[i].state = CONN_IDLE;
	r->idle[r->nidle++] = i;
}

/* Removes connection i from the idle stack if it is there. */
static void idle_remove(struct run *r, unsigned i)
{
	for (unsigned j = 0; j < r->nidle; j++) {
		if (r->idle[j] == i) {
			r->idle[j] = r->idle[--r->nidle];
			return;
		}
	}
}

static void epoll_set(struct run *r, unsigned i, bool add)
{
	struct conn *c = &r->conns[i];
	struct epoll_event ev = { .data.u32 = i };

	ev.events = EPOLLIN | EPOLLRDHUP;
	if (c->want_out || c->state == CONN_CONNECTING)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(r->ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev)) {
		perror("grantd_openloop: epoll_ctl");
		exit(1);
	}
}

static void conn_close(struct run *r, unsigned i, int64_t retry_ns)
{
	struct conn *c = &r->conns[i];

	if (c->state == CONN_IDLE)
		idle_remove(r, i);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_DOWN;
	c->want_out = false;
	c->in_len = 0;
	c->retry_ns = retry_ns;
}

static void conn_open(struct run *r, unsigned i, int64_t now)
{
	struct conn *c = &r->conns[i];
	const struct addrinfo *a = r->addr;
	int one = 1;

	c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r->err.connect++;
		c->retry_ns = now + RECONNECT_DELAY_NS;
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
		r->err.connect++;
		conn_close(r, i, now + RECONNECT_DELAY_NS);
		return;
	}
	c->state = CONN_CONNECTING;
	epoll_set(r, i, true);
}

static void conn_connected(struct run *r, unsigned i, int64_t now)
{
	struct conn *c = &r->conns[i];
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		r->err.connect++;
		conn_close(r, i, now + RECONNECT_DELAY_NS);
		return;
	}
	c->want_out = false;
	idle_push(r, i);
	epoll_set(r, i, false);
}

/* A connection failed while a request was outstanding: the request is lost
 * (counted in *counter) and the connection reopens. */
static void conn_fail(struct run *r, unsigned i, uint64_t *counter, int64_t now)
{
	if (r->conns[i].state == CONN_BUSY)
		(*counter)++;
	conn_close(r, i, now);
}

static void conn_write(struct run *r, unsigned i, int64_t now)
{
	struct conn *c = &r->conns[i];
	ssize_t n;
	bool was = c->want_out;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_fail(r, i, &r->err.write, now);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->want_out = c->out_off < c->out_len;
	if (c->want_out != was)
		epoll_set(r, i, false);
}

static size_t format_request(const struct run *r, uint64_t k, char *out,
			     size_t cap)
{
	const struct options *o = &r->o;
	char body[512];
	int blen, n;
	unsigned account = (unsigned)((k * 7919u) % o->accounts);

	blen = snprintf(body, sizeof(body),
			"{\"account_id\":\"bench-%u\",\"sku\":\"%s\","
			"\"transaction_id\":\"%s-%llu\"}",
			account, o->skus[k % o->nskus], o->prefix,
			(unsigned long long)k);
	n = snprintf(out, cap,
		     "POST /v1/primegaming/fulfillment HTTP/1.1\r\n"
		     "Host: %s\r\n%s%s%s"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %d\r\n\r\n%s",
		     r->host_header, o->key ? "Authorization: Bearer " : "",
		     o->key ? o->key : "", o->key ? "\r\n" : "", blen, body);
	if (blen < 0 || (size_t)blen >= sizeof(body) || n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "grantd_openloop: request too large\n");
		exit(1);
	}
	return (size_t)n;
}

/* Hands request k (due at its scheduled time) to idle connection i. */
static void start_request(struct run *r, unsigned i, uint64_t k, int64_t now)
{
	struct conn *c = &r->conns[i];

	c->state = CONN_BUSY;
	c->due_ns = due_time(r, k);
	if (now - c->due_ns > LATE_NS)
		r->late++;
	c->out_len = format_request(r, k, c->out, sizeof(c->out));
	c->out_off = 0;
	conn_write(r, i, now);
}

static void record_latency(struct run *r, int64_t due, int64_t now)
{
	int64_t us = (now - due) / 1000;

	hist_record(&r->hist, us > 0 ? (uint64_t)us : 0);
}

/* Consumes every complete response in the input buffer. */
static void conn_parse(struct run *r, unsigned i, int64_t now)
{
	struct conn *c = &r->conns[i];
	struct response resp;
	enum parse_result pr;

	while (c->in_len > 0 && c->state == CONN_BUSY) {
		pr = parse_response(c->in, c->in_len, &resp);
		if (pr == PARSE_MORE)
			return;
		if (pr == PARSE_ERROR) {
			conn_fail(r, i, &r->err.parse, now);
			return;
		}
		memmove(c->in, c->in + resp.size, c->in_len - resp.size);
		c->in_len -= resp.size;
		if (resp.status / 100 == 1)
			continue; /* interim response; the real one follows */
		r->completed++;
		r->status[resp.status < 600 ? resp.status : 599]++;
		record_latency(r, c->due_ns, now);
		if (resp.close || c->in_len > 0) {
			if (c->in_len > 0)
				r->err.parse++; /* bytes nobody asked for */
			conn_close(r, i, now);
			return;
		}
		idle_push(r, i);
	}
	if (c->in_len > 0) /* data on an idle connection */
		conn_fail(r, i, &r->err.parse, now);
}

static int conn_grow(struct conn *c)
{
	size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
	char *p;

	if (cap > IN_MAX)
		return -1;
	p = realloc(c->in, cap);
	if (!p)
		return -1;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void conn_read(struct run *r, unsigned i, int64_t now)
{
	struct conn *c = &r->conns[i];
	ssize_t n;

	for (;;) {
		if (c->in_len == c->in_cap && conn_grow(c)) {
			conn_fail(r, i, &r->err.parse, now);
			return;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* closed: an idle keep-alive close is not an error */
			conn_parse(r, i, now);
			if (r->conns[i].fd >= 0)
				conn_fail(r, i, &r->err.read, now);
			return;
		}
		c->in_len += (size_t)n;
	}
	conn_parse(r, i, now);
}

static void handle_event(struct run *r, const struct epoll_event *ev, int64_t now)
{
	unsigned i = ev->data.u32;
	struct conn *c = &r->conns[i];

	if (c->state == CONN_CONNECTING) {
		if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(r, i, now);
		return;
	}
	if (c->fd < 0)
		return;
	if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		conn_read(r, i, now);
	if (c->fd >= 0 && (ev->events & EPOLLOUT) && c->state == CONN_BUSY)
		conn_write(r, i, now);
}

/* Waits for I/O until deadline (absolute, ns) at the latest. */
static void poll_once(struct run *r, int64_t deadline)
{
	struct epoll_event evs[256];
	int64_t wait = deadline - now_ns();
	struct timespec ts;
	int n;

	if (wait < 0)
		wait = 0;
	ts.tv_sec = wait / NS_PER_S;
	ts.tv_nsec = wait % NS_PER_S;
	n = epoll_pwait2(r->ep, evs, 256, &ts, NULL);
	if (n < 0 && errno != EINTR) {
		perror("grantd_openloop: epoll_pwait2");
		exit(1);
	}
	for (int j = 0; j < n; j++)
		handle_event(r, &evs[j], now_ns());
}

static void reopen_due(struct run *r, int64_t now, int64_t *next)
{
	for (unsigned i = 0; i < r->o.connections; i++) {
		struct conn *c = &r->conns[i];

		if (c->state != CONN_DOWN)
			continue;
		if (c->retry_ns <= now)
			conn_open(r, i, now);
		else if (c->retry_ns < *next)
			*next = c->retry_ns;
	}
}

/* Makes due every request whose time has come and dispatches as many as
 * there are idle connections; returns when the next one is due. */
static int64_t schedule(struct run *r, int64_t now)
{
	uint64_t backlog;

	while (r->made_due < r->total && due_time(r, r->made_due) <= now)
		r->made_due++;
	while (r->dispatched < r->made_due && r->nidle > 0)
		start_request(r, r->idle[--r->nidle], r->dispatched++, now);
	backlog = r->made_due - r->dispatched;
	if (backlog > r->max_backlog)
		r->max_backlog = backlog;
	if (r->made_due < r->total && r->nidle > 0)
		return due_time(r, r->made_due);
	return r->t_stop;
}

static unsigned count_state(const struct run *r, enum conn_state s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->o.connections; i++)
		n += r->conns[i].state == s;
	return n;
}

static int connect_all(struct run *r)
{
	int64_t deadline = now_ns() + CONNECT_WAIT_NS, next;

	for (unsigned i = 0; i < r->o.connections; i++)
		conn_open(r, i, now_ns());
	while (r->nidle < r->o.connections && now_ns() < deadline) {
		next = deadline;
		reopen_due(r, now_ns(), &next);
		poll_once(r, next < now_ns() + 10 * NS_PER_MS ? next :
			  now_ns() + 10 * NS_PER_MS);
	}
	return r->nidle > 0 ? 0 : -1;
}

static void send_phase(struct run *r)
{
	int64_t now, next;

	r->t0 = now_ns();
	r->t_stop = r->t0 + (int64_t)(r->o.duration * NS_PER_S);
	r->total = (uint64_t)floor(r->o.duration * r->o.rate);
	while ((now = now_ns()) < r->t_stop) {
		next = schedule(r, now);
		reopen_due(r, now, &next);
		poll_once(r, next < r->t_stop ? next : r->t_stop);
	}
	schedule(r, r->t_stop);
}

/* Unanswered requests get their lower-bound latency (censored samples), so
 * a stall at the end still shows in the percentiles. */
static void drain_phase(struct run *r)
{
	int64_t deadline = r->t_stop + (int64_t)(r->o.drain * NS_PER_S);
	int64_t now = now_ns();

	while (count_state(r, CONN_BUSY) > 0 && (now = now_ns()) < deadline)
		poll_once(r, deadline);
	now = now_ns();
	for (unsigned i = 0; i < r->o.connections; i++) {
		if (r->conns[i].state != CONN_BUSY)
			continue;
		record_latency(r, r->conns[i].due_ns, now);
		r->censored++;
		conn_fail(r, i, &r->err.timeout, now);
	}
	for (uint64_t k = r->dispatched; k < r->total; k++) {
		record_latency(r, due_time(r, k), now);
		r->censored++;
		r->err.unsent++;
	}
}

/* ---- output ----------------------------------------------------------- */

static void print_ms(const char *name, uint64_t us, bool comma)
{
	printf("\"%s\":%.3f%s", name, (double)us / 1000.0, comma ? "," : "");
}

static void print_status(const struct run *r)
{
	bool first = true;

	printf("\"status\":{");
	for (int s = 0; s < 600; s++) {
		if (!r->status[s])
			continue;
		printf("%s\"%d\":%llu", first ? "" : ",", s,
		       (unsigned long long)r->status[s]);
		first = false;
	}
	printf("},");
}

static void print_errors(const struct errors *e)
{
	printf("\"errors\":{\"connect\":%llu,\"read\":%llu,\"write\":%llu,"
	       "\"parse\":%llu,\"timeout\":%llu,\"unsent\":%llu,\"total\":%llu},",
	       (unsigned long long)e->connect, (unsigned long long)e->read,
	       (unsigned long long)e->write, (unsigned long long)e->parse,
	       (unsigned long long)e->timeout, (unsigned long long)e->unsent,
	       (unsigned long long)(e->read + e->write + e->parse + e->timeout +
				    e->unsent));
}

static void print_latency(const struct hist *h)
{
	printf("\"latency_ms\":{");
	print_ms("p50", hist_percentile(h, 50), true);
	print_ms("p90", hist_percentile(h, 90), true);
	print_ms("p99", hist_percentile(h, 99), true);
	print_ms("p999", hist_percentile(h, 99.9), true);
	print_ms("max", h->max, true);
	printf("\"mean\":%.3f}", h->total ? h->sum / (double)h->total / 1000.0 : 0);
}

static void print_report(const struct run *r)
{
	uint64_t ok = 0;

	for (int s = 200; s < 300; s++)
		ok += r->status[s];
	printf("{\"rate\":%.1f,\"duration\":%.3f,\"connections\":%u,"
	       "\"scheduled\":%llu,\"sent\":%llu,\"completed\":%llu,\"ok\":%llu,",
	       r->o.rate, r->o.duration, r->o.connections,
	       (unsigned long long)r->total, (unsigned long long)r->dispatched,
	       (unsigned long long)r->completed, (unsigned long long)ok);
	print_status(r);
	print_errors(&r->err);
	printf("\"achieved_rate\":%.1f,\"max_backlog\":%llu,\"late_sends\":%llu,"
	       "\"censored\":%llu,", (double)r->completed / r->o.duration,
	       (unsigned long long)r->max_backlog, (unsigned long long)r->late,
	       (unsigned long long)r->censored);
	print_latency(&r->hist);
	printf("}\n");
}

/* ---- setup and main --------------------------------------------------- */

static void resolve(struct run *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	int rc = getaddrinfo(r->o.host, r->o.port, &hints, &r->addr);

	if (rc) {
		fprintf(stderr, "grantd_openloop: %s:%s: %s\n", r->o.host,
			r->o.port, gai_strerror(rc));
		exit(1);
	}
	snprintf(r->host_header, sizeof(r->host_header), "%s:%s", r->o.host,
		 r->o.port);
}

static struct run *run_new(const struct options *o)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r) {
		fprintf(stderr, "grantd_openloop: out of memory\n");
		exit(1);
	}
	r->o = *o;
	r->conns = calloc(o->connections, sizeof(*r->conns));
	r->idle = calloc(o->connections, sizeof(*r->idle));
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!r->conns || !r->idle || r->ep < 0) {
		fprintf(stderr, "grantd_openloop: cannot set up\n");
		exit(1);
	}
	for (unsigned i = 0; i < o->connections; i++)
		r->conns[i].fd = -1;
	resolve(r);
	return r;
}

static void run_free(struct run *r)
{
	for (unsigned i = 0; i < r->o.connections; i++) {
		if (r->conns[i].fd >= 0)
			close(r->conns[i].fd);
		free(r->conns[i].in);
	}
	close(r->ep);
	freeaddrinfo(r->addr);
	free(r->conns);
	free(r->idle);
	free(r);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Checks the histogram against exact order statistics of random values:
 * every percentile within 1% of the true one. */
static int self_test(void)
{
	enum { N = 200000 };
	static uint64_t v[N];
	static struct hist h;
	static const double ps[] = { 1, 50, 90, 99, 99.9, 99.99, 100 };
	uint64_t x = 88172645463325252ull, exact, got;
	int failed = 0;

	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = (x % 1000) < 990 ? x % 5000 : x % 120000000;
		hist_record(&h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	for (size_t j = 0; j < sizeof(ps) / sizeof(ps[0]); j++) {
		exact = v[(size_t)ceil(ps[j] / 100.0 * N) - 1];
		got = hist_percentile(&h, ps[j]);
		if (got < exact || (double)(got - exact) > 0.01 * (double)exact) {
			printf("p%g: exact %llu, histogram %llu\n", ps[j],
			       (unsigned long long)exact, (unsigned long long)got);
			failed = 1;
		}
	}
	for (uint64_t t = 1; t < ((uint64_t)1 << 36); t = t * 3 + 1)
		if (hist_bucket_high(hist_index(t)) < t ||
		    (double)(hist_bucket_high(hist_index(t)) - t) > 0.01 * (double)t)
			failed = 1;
	printf("self-test %s\n", failed ? "FAILED" : "ok");
	return failed;
}

int main(int argc, char **argv)
{
	struct options o;
	struct run *r;

	if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
		return self_test();
	parse_args(&o, argc, argv);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	r = run_new(&o);
	if (connect_all(r)) {
		fprintf(stderr, "grantd_openloop: cannot connect to %s:%s\n",
			o.host, o.port);
		run_free(r);
		return 1;
	}
	send_phase(r);
	drain_phase(r);
	print_report(r);
	run_free(r);
	return 0;
}
