/* Unit tests of outbound: requests against a loopback libmicrohttpd server
 * — answers and their headers, requests in flight together, timeouts, the
 * response cap, refused connections and schemes, and stopping with work in
 * flight. */
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outbound/outbound.h"

static struct MHD_Daemon *daemon_;
static unsigned short port;
static atomic_int active, most_active;

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (status == 429) {
		MHD_add_response_header(r, "Retry-After", "7");
		MHD_add_response_header(r, "Ratelimit-Reset", "1700000000");
	}
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Each request's body, gathered before the answer. */
struct upload {
	char body[256];
	size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	static char big[100000];
	struct upload *u = *con_cls;
	char echo[512];
	int now;

	(void)cls;
	(void)version;
	if (!u) {
		*con_cls = u = calloc(1, sizeof(*u));
		return MHD_YES;
	}
	if (*data_size) {
		size_t n = *data_size < sizeof(u->body) - u->len - 1 ?
			*data_size : sizeof(u->body) - u->len - 1;

		memcpy(u->body + u->len, data, n);
		u->len += n;
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/slow") == 0) {
		now = atomic_fetch_add(&active, 1) + 1;
		for (int m = atomic_load(&most_active); now > m &&
		     !atomic_compare_exchange_weak(&most_active, &m, now);)
			;
		pause_ms(300);
		atomic_fetch_sub(&active, 1);
		return reply(c, 200, "slow", 4);
	}
	if (strcmp(url, "/big") == 0) {
		memset(big, 'b', sizeof(big));
		return reply(c, 200, big, sizeof(big));
	}
	if (strcmp(url, "/limit") == 0)
		return reply(c, 429, "{}", 2);
	if (strcmp(url, "/echo") == 0) {
		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");

		snprintf(echo, sizeof(echo), "%s %s %s", method, u->body, h ? h : "-");
		return reply(c, 200, echo, strlen(echo));
	}
	return reply(c, 200, "hello", 5);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void server_start(void)
{
	const union MHD_DaemonInfo *info;

	daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				   MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				   on_request, NULL,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				   MHD_OPTION_END);
	cr_assert_not_null(daemon_);
	info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	port = info->port;
	atomic_store(&active, 0);
	atomic_store(&most_active, 0);
}

static void server_stop(void)
{
	MHD_stop_daemon(daemon_);
}

TestSuite(outbound, .init = server_start, .fini = server_stop);

static struct outbound_request get(const char *path, char *url, size_t size)
{
	snprintf(url, size, "http://127.0.0.1:%u%s", port, path);
	return (struct outbound_request){ .method = "GET", .url = url,
					  .timeout_ms = 5000,
					  .max_response_bytes = 1 << 20 };
}

static struct outbound *loop_new(void)
{
	struct outbound *o = NULL;
	char *err = NULL;

	cr_assert_eq(outbound_new(&o, &err), 0, "%s", err);
	return o;
}

Test(outbound, answers_with_status_body_and_headers)
{
	struct outbound *o = loop_new();
	struct outbound_request r[3];
	struct outbound_result res[3];
	char u0[128], u1[128], u2[128];

	r[0] = get("/ok?key=secret", u0, sizeof(u0));
	r[1] = get("/limit", u1, sizeof(u1));
	r[2] = get("/echo", u2, sizeof(u2));
	r[2].method = "PUT";
	r[2].body = "payload";
	r[2].body_len = 7;
	r[2].headers[0] = "X-Test: yes";
	outbound_run(o, r, res, 3);
	cr_assert_eq(res[0].error, OUTBOUND_OK, "%s", res[0].message);
	cr_assert_eq(res[0].status, 200);
	cr_assert_str_eq(res[0].body, "hello");
	cr_assert_eq(res[0].len, 5);
	cr_assert_null(res[0].retry_after);
	cr_assert_eq(res[1].status, 429);
	cr_assert_str_eq(res[1].retry_after, "7");
	cr_assert_str_eq(res[1].ratelimit_reset, "1700000000");
	cr_assert_str_eq(res[2].body, "PUT payload yes");
	for (int i = 0; i < 3; i++)
		outbound_result_release(&res[i]);
	outbound_free(o);
}

Test(outbound, requests_are_in_flight_together)
{
	struct outbound *o = loop_new();
	struct outbound_request r[4];
	struct outbound_result res[4];
	char url[4][128];

	for (int i = 0; i < 4; i++)
		r[i] = get("/slow", url[i], sizeof(url[i]));
	outbound_run(o, r, res, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(res[i].error, OUTBOUND_OK, "%s", res[i].message);
		cr_assert_str_eq(res[i].body, "slow");
		outbound_result_release(&res[i]);
	}
	/* the server had all four at once: one loop thread, no queueing */
	cr_assert_eq(atomic_load(&most_active), 4);
	outbound_free(o);
}

Test(outbound, timeouts_caps_and_refusals)
{
	struct outbound *o = loop_new();
	struct outbound_request r[5];
	struct outbound_result res[5];
	char url[5][128];

	r[0] = get("/slow", url[0], sizeof(url[0]));
	r[0].timeout_ms = 50;
	r[1] = get("/big", url[1], sizeof(url[1]));
	r[1].max_response_bytes = 1000;
	r[2] = get("/big", url[2], sizeof(url[2]));
	r[2].max_response_bytes = 100000;
	/* port 1 on loopback: nothing listens */
	snprintf(url[3], sizeof(url[3]), "http://127.0.0.1:1/");
	r[3] = (struct outbound_request){ .url = url[3], .timeout_ms = 2000,
					  .max_response_bytes = 100 };
	snprintf(url[4], sizeof(url[4]), "file:///etc/passwd");
	r[4] = (struct outbound_request){ .url = url[4], .timeout_ms = 2000,
					  .max_response_bytes = 100 };
	outbound_run(o, r, res, 5);
	cr_assert_eq(res[0].error, OUTBOUND_TIMEOUT, "%s", res[0].message);
	cr_assert_eq(res[1].error, OUTBOUND_TOO_LARGE, "%s", res[1].message);
	cr_assert_str_eq(res[1].message, "the answer is larger than 1000 bytes");
	cr_assert_eq(res[2].error, OUTBOUND_OK);
	cr_assert_eq(res[2].len, 100000);
	cr_assert_eq(res[3].error, OUTBOUND_CONNECT, "%s", res[3].message);
	cr_assert_eq(res[4].error, OUTBOUND_FAILED, "%s", res[4].message);
	cr_assert_eq(res[4].status, 0);
	for (int i = 0; i < 5; i++)
		outbound_result_release(&res[i]);
	outbound_free(o);
}

struct seen {
	atomic_int done;
	atomic_int closed;
};

static void count_done(const struct outbound_response *r, void *arg)
{
	struct seen *s = arg;

	if (r->error == OUTBOUND_CLOSED)
		atomic_fetch_add(&s->closed, 1);
	atomic_fetch_add(&s->done, 1);
}

Test(outbound, stopping_abandons_work_in_flight)
{
	struct outbound *o = loop_new();
	struct seen seen = { 0, 0 };
	char url[128];
	struct outbound_request r = get("/slow", url, sizeof(url));

	r.done = count_done;
	r.arg = &seen;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(outbound_submit(o, &r), 0);
	pause_ms(50);  /* some are on the wire, others may still be queued */
	outbound_free(o);
	cr_assert_eq(atomic_load(&seen.done), 3);
	cr_assert_eq(atomic_load(&seen.closed), 3);
}

Test(outbound, urls_for_logs_lose_query_and_user)
{
	char out[128];

	outbound_url_for_log("https://partner.steam-api.com/IInventoryService/"
			     "GetInventory/v1/?key=SECRET&steamid=1", out,
			     sizeof(out));
	cr_assert_str_eq(out, "https://partner.steam-api.com/IInventoryService/"
			 "GetInventory/v1/");
	outbound_url_for_log("http://user:pw@host:8080/a#frag", out, sizeof(out));
	cr_assert_str_eq(out, "http://host:8080/a");
	cr_assert_str_eq(outbound_error_name(OUTBOUND_TOO_LARGE), "too_large");
}
