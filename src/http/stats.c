/* http/stats.c: per-route request counts by status and duration histograms,
 * kept with relaxed atomics and read for /metrics. */
#include "http/http_int.h"

#include <string.h>

const double http_latency_bounds[HTTP_LATENCY_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

static size_t bucket_of(double seconds)
{
	size_t i = 0;

	while (i < HTTP_LATENCY_BUCKETS - 1 && seconds > http_latency_bounds[i])
		i++;
	return i;
}

void http_stats_record(struct http_request *req)
{
	struct http_counters *c = req->route ?
		(struct http_counters *)&req->route->counters : &req->server->unmatched;
	int64_t us = util_mono_us() - req->start_us;
	unsigned status = req->status < 600 ? req->status : 0;

	atomic_fetch_add_explicit(&c->by_status[status], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->latency[bucket_of((double)us / 1e6)], 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&c->latency_sum_us, (unsigned long long)us,
				  memory_order_relaxed);
}

static void snapshot(const char *name, const struct http_counters *c,
		     struct http_route_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->name = name;
	for (size_t i = 0; i < 600; i++) {
		out->by_status[i] = atomic_load_explicit(&c->by_status[i],
							 memory_order_relaxed);
		out->count += out->by_status[i];
	}
	for (size_t i = 0; i < HTTP_LATENCY_BUCKETS; i++)
		out->latency[i] = atomic_load_explicit(&c->latency[i],
						       memory_order_relaxed);
	out->latency_sum = (double)atomic_load(&c->latency_sum_us) / 1e6;
}

void http_stats_each(const struct http_request *req, http_route_stats_fn fn,
		     void *arg)
{
	struct http_server *s = req->server;
	struct http_route_stats st;

	for (size_t i = 0; i < s->n_routes; i++) {
		snapshot(s->routes[i].route->name, &s->routes[i].counters, &st);
		fn(arg, &st);
	}
	snapshot("unmatched", &s->unmatched, &st);
	fn(arg, &st);
}

long http_stats_in_flight(const struct http_request *req)
{
	return atomic_load(&req->server->in_flight);
}

void http_stats_connections(const struct http_request *req,
			    struct http_conn_stats *out)
{
	struct http_guard *g = &req->server->guard;

	pthread_mutex_lock(&g->lock);
	out->open = g->count - g->closing;
	pthread_mutex_unlock(&g->lock);
	out->header_timeouts = atomic_load(&g->header_timeouts);
	out->evicted = atomic_load(&g->evictions);
	out->refused_per_ip = atomic_load(&g->refused_per_ip);
}
