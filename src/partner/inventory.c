/* partner/inventory.c: GET inventory and entitlement history of an account. */
#include "partner/partner_int.h"

#include <limits.h>

struct inventory_json {
	json_t *stackables;
	json_t *instanced;
};

static void add_stackable(void *arg, const char *catalog_id, int64_t amount)
{
	struct inventory_json *inv = arg;

	json_array_append_new(inv->stackables,
			      json_pack("{s:s, s:I}", "catalog_id", catalog_id,
					"amount", (json_int_t)amount));
}

static void add_instance(void *arg, const struct store_instance_row *r)
{
	struct inventory_json *inv = arg;

	json_array_append_new(inv->instanced,
			      json_pack("{s:s, s:s, s:s, s:I}",
					"instance_id", r->instance_id,
					"catalog_id", r->catalog_id,
					"fulfillment_id", r->fulfillment_id,
					"acquired_at_millis",
					(json_int_t)r->acquired_at_ms));
}

int partner_inventory_json(struct store *st, const char *id, json_t **out)
{
	struct inventory_json inv = { json_array(), json_array() };

	*out = NULL;
	if (store_inventory_read(st, id, add_stackable, add_instance, &inv)) {
		json_decref(inv.stackables);
		json_decref(inv.instanced);
		return -1;
	}
	*out = json_pack("{s:o, s:o}", "stackables", inv.stackables,
			 "instanced", inv.instanced);
	return 0;
}

void partner_inventory_get(struct http_request *req)
{
	const struct partner_inventory *pi = http_request_ctx(req);
	struct store *st = pi->store;
	const char *id = partner_account_param(req);
	struct store_account a;
	json_t *inv;
	int rc;

	if (!id || !partner_account_found(req, st, id, &a))
		return;
	if ((rc = engine_broadcasts_deliver(pi->engine, id))) {
		partner_reply_store_error(req, rc);
		return;
	}
	if (partner_inventory_json(st, id, &inv)) {
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	json_object_set_new(inv, "account_id", json_string(id));
	http_reply_json(req, 200, inv);
}

/* A nullable string or time as JSON. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t ms)
{
	return ms ? json_integer(ms) : json_null();
}

json_t *partner_record_json(const struct store_history_row *r)
{
	json_t *skipped = r->skipped ? json_loads(r->skipped, 0, NULL) : NULL;

	return json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:I, s:o}",
		"player_id", r->account_id,
		"fulfillment_id", r->fulfillment_id,
		"provider_id", r->source,
		"external_id", r->external_id,
		"provider_entitlement_id", str_or_null(r->entitlement_id),
		"provider_item_id", r->provider_item_id,
		"provider_entitlement_record_status", r->status,
		"fulfilled_timestamp_millis", time_or_null(r->fulfilled_at_ms),
		"error_code", str_or_null(r->error_code),
		"created_at_millis", (json_int_t)r->created_at_ms,
		"skipped_catalog_ids", skipped ? skipped : json_array());
}

static void add_record(void *arg, const struct store_history_row *r)
{
	json_array_append_new(arg, partner_record_json(r));
}

void partner_history_get(struct http_request *req)
{
	struct store *st = http_request_ctx(req);
	const char *id = partner_account_param(req);
	int64_t page_index = 0, page_size = PARTNER_PAGE_SIZE_DEFAULT;
	json_t *records;

	if (!id ||
	    http_request_query_int(req, "page_index", 0, INT_MAX, &page_index) ||
	    http_request_query_int(req, "page_size", 1, PARTNER_PAGE_SIZE_MAX,
				   &page_size))
		return;
	records = json_array();
	if (store_history_read(st, id, page_index * page_size, page_size,
			       add_record, records)) {
		json_decref(records);
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o}", "provider_entitlement_records",
					    records));
}
