/* app/metrics.c: GET /metrics — requests, fulfilments, the writer and the
 * process in Prometheus text format, gathered from each module's stats. */
#include "app/app_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ops/ops.h"
#include "outbound/outbound.h"
#include "outbox/outbox.h"

static void route_requests(void *arg, const struct http_route_stats *s)
{
	struct util_buf *b = arg;
	char status[8];

	for (unsigned code = 0; code < 600; code++) {
		const char *kv[] = { "route", s->name, "status", status, NULL };

		if (!s->by_status[code])
			continue;
		snprintf(status, sizeof(status), "%u", code);
		ops_metric_u64(b, "grantd_http_requests_total", kv, s->by_status[code]);
	}
}

static void route_latency(void *arg, const struct http_route_stats *s)
{
	struct util_buf *b = arg;
	uint64_t cumulative = 0;
	char le[32];

	if (!s->count)
		return;
	for (size_t i = 0; i < HTTP_LATENCY_BUCKETS; i++) {
		const char *kv[] = { "route", s->name, "le", le, NULL };

		cumulative += s->latency[i];
		if (i < HTTP_LATENCY_BUCKETS - 1)
			snprintf(le, sizeof(le), "%g", http_latency_bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		ops_metric_u64(b, "grantd_http_request_duration_seconds_bucket", kv,
			       cumulative);
	}
	const char *kv[] = { "route", s->name, NULL };
	ops_metric_f64(b, "grantd_http_request_duration_seconds_sum", kv,
		       s->latency_sum);
	ops_metric_u64(b, "grantd_http_request_duration_seconds_count", kv, s->count);
}

static void connection_metrics(struct util_buf *b, struct http_request *req)
{
	struct http_conn_stats c;
	const char *timeout[] = { "reason", "header_timeout", NULL };
	const char *evicted[] = { "reason", "evicted", NULL };
	const char *per_ip[] = { "reason", "per_ip_limit", NULL };

	http_stats_connections(req, &c);
	ops_metric_family(b, "grantd_http_connections_open", "gauge",
			  "Client connections open now.");
	ops_metric_u64(b, "grantd_http_connections_open", NULL, c.open);
	ops_metric_family(b, "grantd_http_connections_closed_total", "counter",
			  "Client connections closed by the connection table's "
			  "defences, by reason.");
	ops_metric_u64(b, "grantd_http_connections_closed_total", timeout,
		       c.header_timeouts);
	ops_metric_u64(b, "grantd_http_connections_closed_total", evicted,
		       c.evicted);
	ops_metric_u64(b, "grantd_http_connections_closed_total", per_ip,
		       c.refused_per_ip);
}

static void http_metrics(struct util_buf *b, struct http_request *req)
{
	ops_metric_family(b, "grantd_http_requests_total", "counter",
			  "HTTP requests by route and status.");
	http_stats_each(req, route_requests, b);
	ops_metric_family(b, "grantd_http_request_duration_seconds", "histogram",
			  "Time from the request's headers to its completion.");
	http_stats_each(req, route_latency, b);
	ops_metric_family(b, "grantd_http_requests_in_flight", "gauge",
			  "Requests being handled now.");
	ops_metric_u64(b, "grantd_http_requests_in_flight", NULL,
		       (uint64_t)http_stats_in_flight(req));
	connection_metrics(b, req);
}

static void outcome(void *arg, const char *source, enum engine_outcome o,
		    uint64_t count)
{
	const char *kv[] = { "source", source, "outcome", engine_outcome_code(o), NULL };

	if (count)
		ops_metric_u64(arg, "grantd_fulfillments_total", kv, count);
}

static void batch_histogram(struct util_buf *b, const struct store_stats *s)
{
	uint64_t cumulative = 0;
	char le[24];

	ops_metric_family(b, "grantd_store_batch_size", "histogram",
			  "Intents committed per transaction by the writer.");
	for (size_t i = 0; i < STORE_BATCH_BUCKETS; i++) {
		const char *kv[] = { "le", le, NULL };

		cumulative += s->batch_sizes[i];
		if (i < STORE_BATCH_BUCKETS - 1)
			snprintf(le, sizeof(le), "%zu", (size_t)1 << i);
		else
			snprintf(le, sizeof(le), "+Inf");
		ops_metric_u64(b, "grantd_store_batch_size_bucket", kv, cumulative);
	}
	ops_metric_u64(b, "grantd_store_batch_size_sum", NULL, s->intents);
	ops_metric_u64(b, "grantd_store_batch_size_count", NULL, s->batches);
}

static void commit_histogram(struct util_buf *b, const struct store_stats *s)
{
	uint64_t cumulative = 0, count = 0;
	char le[24];

	ops_metric_family(b, "grantd_store_commit_duration_seconds", "histogram",
			  "Time the writer's COMMITs took.");
	for (size_t i = 0; i < STORE_COMMIT_BUCKETS; i++) {
		const char *kv[] = { "le", le, NULL };

		cumulative += s->commit_durations[i];
		if (i < STORE_COMMIT_BUCKETS - 1)
			snprintf(le, sizeof(le), "%g", store_commit_bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		ops_metric_u64(b, "grantd_store_commit_duration_seconds_bucket",
			       kv, cumulative);
	}
	count = cumulative;
	ops_metric_f64(b, "grantd_store_commit_duration_seconds_sum", NULL,
		       (double)s->commit_us_total / 1e6);
	ops_metric_u64(b, "grantd_store_commit_duration_seconds_count", NULL,
		       count);
}

static void store_stat(void *arg, const struct store_stat *s)
{
	char name[96];

	snprintf(name, sizeof(name), "grantd_store_%s", s->name);
	ops_metric_family(arg, name, s->type, s->help);
	ops_metric_u64(arg, name, NULL, s->value);
}

static void store_metrics(struct util_buf *b, struct store *st)
{
	struct store_stats s;

	store_stats_each(st, store_stat, b);
	store_stats_get(st, &s);
	batch_histogram(b, &s);
	commit_histogram(b, &s);
}

/* The second field of /proc/self/statm's `line`; 0 if it has none. */
static long statm_resident(const char *line)
{
	char *end;
	long v;

	errno = 0;
	(void)strtol(line, &end, 10);
	if (errno || end == line)
		return 0;
	line = end;
	v = strtol(line, &end, 10);
	return errno || end == line || v < 0 ? 0 : v;
}

static void process_metrics(struct util_buf *b, struct catalog_holder *holder)
{
	struct catalog *c = catalog_holder_get(holder);
	long rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	char line[128];

	/* "size resident shared ...", in pages */
	if (f) {
		if (fgets(line, sizeof(line), f))
			rss = statm_resident(line);
		fclose(f);
	}
	ops_metric_family(b, "grantd_process_resident_memory_bytes", "gauge",
			  "Resident set size.");
	ops_metric_u64(b, "grantd_process_resident_memory_bytes", NULL,
		       (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
	ops_metric_family(b, "grantd_catalog_entitlements", "gauge",
			  "Entitlements in the catalog in force.");
	ops_metric_u64(b, "grantd_catalog_entitlements", NULL,
		       c ? catalog_entitlement_count(c) : 0);
	ops_metric_family(b, "grantd_catalog_entries", "gauge",
			  "Entries (entitlements) in the catalog in force.");
	ops_metric_u64(b, "grantd_catalog_entries", NULL,
		       c ? catalog_entitlement_count(c) : 0);
	catalog_unref(c);
	const char *kv[] = { "version", GRANTD_VERSION, NULL };
	ops_metric_family(b, "grantd_build_info", "gauge", "grantd's version.");
	ops_metric_u64(b, "grantd_build_info", kv, 1);
}

static void auth_metrics(struct util_buf *b, struct auth *a)
{
	struct auth_stats s;
	const char *found[] = { "result", "found", NULL };
	const char *missing[] = { "result", "missing", NULL };
	const char *skipped[] = { "result", "skipped", NULL };

	auth_stats_get(a, &s);
	ops_metric_family(b, "grantd_auth_lookups_total", "counter",
			  "Credentials the cache lacked: found in the database, "
			  "missing there, or refused without a lookup (known "
			  "missing, or over the lookup budget).");
	ops_metric_u64(b, "grantd_auth_lookups_total", found, s.lookups_found);
	ops_metric_u64(b, "grantd_auth_lookups_total", missing, s.lookups_missing);
	ops_metric_u64(b, "grantd_auth_lookups_total", skipped, s.lookups_skipped);
}

/* Gauges of pending and dead deliveries by kind; families go out first,
 * then each kind's sample under its family. */
struct kind_rows {
	struct util_buf pending, dead;
};

static void kind_count(void *arg, const char *kind,
		       enum store_outbox_status status, int64_t count)
{
	struct kind_rows *k = arg;
	const char *labels[] = { "kind", kind, NULL };

	if (status == STORE_OUTBOX_PENDING)
		ops_metric_u64(&k->pending, "grantd_outbox_pending", labels,
			       (uint64_t)count);
	else if (status == STORE_OUTBOX_DEAD)
		ops_metric_u64(&k->dead, "grantd_outbox_dead", labels,
			       (uint64_t)count);
}

static void outbox_metrics(struct util_buf *b, struct store *st)
{
	struct kind_rows k;

	util_buf_init(&k.pending, 0);
	util_buf_init(&k.dead, 0);
	store_outbox_kinds_read(st, kind_count, &k);
	ops_metric_family(b, "grantd_outbox_pending", "gauge",
			  "Deliveries waiting (due or backing off), by kind.");
	if (k.pending.len)
		util_buf_append(b, k.pending.data, k.pending.len);
	ops_metric_family(b, "grantd_outbox_dead", "gauge",
			  "Deliveries given up, by kind: grantd outbox list "
			  "--status dead.");
	if (k.dead.len)
		util_buf_append(b, k.dead.data, k.dead.len);
	util_buf_release(&k.pending);
	util_buf_release(&k.dead);
}

static void delivery_count(void *arg, const char *kind, const char *result,
			   uint64_t count)
{
	const char *kv[] = { "kind", kind, "result", result, NULL };

	ops_metric_u64(arg, "grantd_outbox_deliveries_total", kv, count);
}

static void provider_count(void *arg, const char *peer, const char *result,
			   uint64_t count)
{
	const char *kv[] = { "provider", peer, "status", result, NULL };

	ops_metric_u64(arg, "grantd_provider_requests_total", kv, count);
}

/* What grantd sent out: outbox deliveries and the HTTP calls behind them
 * (and the synchronous ones: syncs, GAMEPOT, TentuPlay). */
static void outgoing_metrics(struct util_buf *b, struct outbox *ob)
{
	ops_metric_family(b, "grantd_outbox_deliveries_total", "counter",
			  "Delivery attempts recorded, by kind and result "
			  "(delivered, retry, dead).");
	outbox_stats_each(ob, delivery_count, b);
	ops_metric_family(b, "grantd_provider_requests_total", "counter",
			  "HTTP requests grantd made, by provider and status "
			  "(or timeout, connect, failed, too_large, closed).");
	outbound_stats_each(provider_count, b);
}

void app_metrics(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	struct util_buf b;

	util_buf_init(&b, 0);
	http_metrics(&b, req);
	ops_metric_family(&b, "grantd_fulfillments_total", "counter",
			  "Fulfilments by source and outcome.");
	engine_stats_each(ctx->engine, outcome, &b);
	store_metrics(&b, ctx->store);
	outbox_metrics(&b, ctx->store);
	outgoing_metrics(&b, ctx->outbox);
	auth_metrics(&b, ctx->auth);
	process_metrics(&b, ctx->catalog);
	http_reply_text(req, 200, "text/plain; version=0.0.4", util_buf_take(&b));
}
