/* partner/fulfillments.c: fulfilments as support staff look for them —
 * searched by account, provider, external id, status and time, newest
 * first in stable cursor pages, and one with its grants ledger, its
 * deliveries (reports, event webhooks) and its audit records. */
#include "partner/partner_int.h"

#include <string.h>

#define SEARCH_PAGE_DEFAULT 50
#define SEARCH_PAGE_MAX 500

static const char *const statuses[] = {
	"pending", "completed", "failed", "revoked",
};

static bool status_known(const char *s)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(statuses); i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

/* A text filter: absent is NULL; present must be 1..max bytes. Replies
 * 400 and returns -1 if malformed. */
static int text_filter(struct http_request *req, const char *name,
		       size_t max, const char **out)
{
	bool bad = false;
	const char *v = http_request_query(req, name, &bad);

	*out = NULL;
	if (!v && !bad)
		return 0;
	if (bad || !*v || strlen(v) > max) {
		http_reply_error(req, 400, "InvalidRequest", "%s: must be 1 to "
				 "%zu characters", name, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The search's filters from the query. Returns 0, or -1 after a 400. */
static int parse_query(struct http_request *req,
		       struct store_fulfilment_query *q)
{
	const char *cursor = NULL;
	int64_t limit = SEARCH_PAGE_DEFAULT;

	if (text_filter(req, "account_id", STORE_ACCOUNT_ID_MAX, &q->account_id) ||
	    text_filter(req, "provider", 64, &q->source) ||
	    text_filter(req, "external_id", 512, &q->external_id) ||
	    text_filter(req, "status", 16, &q->status) ||
	    text_filter(req, "cursor", STORE_FULFILMENT_ID_LEN, &cursor) ||
	    http_request_query_int(req, "since_millis", 0, INT64_MAX,
				   &q->since_ms) ||
	    http_request_query_int(req, "until_millis", 1, INT64_MAX,
				   &q->until_ms) ||
	    http_request_query_int(req, "limit", 1, SEARCH_PAGE_MAX, &limit))
		return -1;
	if (q->status && !status_known(q->status)) {
		http_reply_error(req, 400, "InvalidRequest", "status: must be "
				 "pending, completed, failed or revoked");
		return -1;
	}
	if (cursor && store_fulfilment_id_parse(cursor, &q->before_row)) {
		http_reply_error(req, 400, "InvalidRequest", "cursor: not a "
				 "cursor this search returned");
		return -1;
	}
	q->limit = limit;
	return 0;
}

struct page {
	json_t *records;
	char last[STORE_FULFILMENT_ID_LEN + 1];
};

static void add_found(void *arg, const struct store_history_row *r)
{
	struct page *p = arg;

	json_array_append_new(p->records, partner_record_json(r));
	memcpy(p->last, r->fulfillment_id, sizeof(p->last));
}

void partner_fulfillments_search(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	struct store_fulfilment_query q = { 0 };
	struct page p = { .records = json_array() };

	if (parse_query(req, &q)) {
		json_decref(p.records);
		return;
	}
	if (store_fulfilments_search(st, &q, add_found, &p)) {
		json_decref(p.records);
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	/* a full page may have more after it */
	http_reply_json(req, 200, json_pack("{s:o, s:o}", "fulfillments",
		p.records, "next_cursor",
		json_array_size(p.records) == (size_t)q.limit ?
		json_string(p.last) : json_null()));
}

/* Deliveries and audit records shown with one fulfilment. */
#define DETAIL_ROWS_MAX 100

struct detail {
	json_t *record;
	json_t *grants;
	json_t *deliveries;
	json_t *audit;
};

static json_t *time_json(int64_t ms)
{
	char when[25];

	if (!ms)
		return json_null();
	util_rfc3339_format(ms, when);
	return json_string(when);
}

static void add_delivery(void *arg, const struct store_outbox_row *r)
{
	json_array_append_new(((struct detail *)arg)->deliveries, json_pack(
		"{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:o}",
		"id", (json_int_t)r->id, "kind", r->kind, "key", r->dedupe_key,
		"status", store_outbox_status_name(r->status),
		"attempts", (json_int_t)r->attempts,
		"last_error", r->last_error ? json_string(r->last_error) :
		json_null(), "created_at", time_json(r->created_at_ms),
		"updated_at", time_json(r->updated_at_ms)));
}

static void add_audit(void *arg, const struct store_audit *a)
{
	json_t *detail = a->detail ? json_loads(a->detail, 0, NULL) : NULL;

	json_array_append_new(((struct detail *)arg)->audit, json_pack(
		"{s:I, s:o, s:s, s:s, s:o}", "id", (json_int_t)a->id,
		"at", time_json(a->at_ms), "actor", a->actor, "action",
		a->action, "detail", detail ? detail : json_object()));
}

/* The deliveries and audit records about the fulfilment, into d. */
static int read_related(struct store *st, const char *id, struct detail *d)
{
	const char *account = json_string_value(json_object_get(d->record,
								 "player_id"));

	d->deliveries = json_array();
	d->audit = json_array();
	if (store_outbox_read_for(st, account ? account : "", id,
				  DETAIL_ROWS_MAX, add_delivery, d) ||
	    store_audit_read_for(st, id, DETAIL_ROWS_MAX, add_audit, d))
		return STORE_ERR;
	return STORE_OK;
}

static void set_record(void *arg, const struct store_history_row *r)
{
	json_t *request = r->request ? json_loads(r->request, 0, NULL) : NULL;

	((struct detail *)arg)->record = partner_record_json(r);
	json_object_set_new(((struct detail *)arg)->record, "entitlement",
			    request ? request : json_null());
}

static void add_grant(void *arg, int line, const char *catalog_id,
		      int64_t amount, const char *instance_id)
{
	json_t *g = json_pack("{s:i, s:s, s:I}", "line", line, "catalog_id",
			      catalog_id, "amount", (json_int_t)amount);

	if (instance_id)
		json_object_set_new(g, "instance_id", json_string(instance_id));
	json_array_append_new(((struct detail *)arg)->grants, g);
}

void partner_fulfillment_get(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = http_request_param(req, "fulfillment_id");
	struct detail d = { .grants = json_array() };
	int64_t row = 0;
	bool found = false;

	if (!id || store_fulfilment_id_parse(id, &row)) {
		json_decref(d.grants);
		http_reply_error(req, 404, "FulfillmentNotFound", "no fulfilment "
				 "\"%s\"", id ? id : "");
		return;
	}
	if (store_fulfilment_read(st, row, set_record, add_grant, &d, &found) ||
	    (found && read_related(st, id, &d))) {
		partner_reply_store_error(req, STORE_ERR);
		goto out;
	}
	if (!found) {
		http_reply_error(req, 404, "FulfillmentNotFound", "no fulfilment "
				 "\"%s\"", id);
		goto out;
	}
	json_object_set(d.record, "grants", d.grants);
	json_object_set(d.record, "deliveries", d.deliveries);
	json_object_set(d.record, "audit", d.audit);
	http_reply_json(req, 200, json_incref(d.record));
out:
	json_decref(d.record);
	json_decref(d.grants);
	json_decref(d.deliveries);
	json_decref(d.audit);
}
