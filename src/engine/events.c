/* engine/events.c: events for the game backend — every event's JSON built
 * here, written in the transaction of the change it tells of with one
 * outbox delivery per webhook that takes it — and the feed's cursors. */
#include "engine/engine_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_types[] = {
	ENGINE_EVENT_GRANT_CREATED,
	ENGINE_EVENT_GRANT_REVOKED,
	ENGINE_EVENT_ACCOUNT_SUSPENDED,
	ENGINE_EVENT_LINK_CREATED,
};

/* Set once before writes start, read by the writer threads after. */
static const struct engine_webhook *webhooks;
static size_t n_webhooks;

bool engine_event_type_known(const char *type)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(known_types); i++)
		if (strcmp(type, known_types[i]) == 0)
			return true;
	return false;
}

void engine_events_configure(const struct engine_webhook *hooks, size_t n)
{
	webhooks = hooks;
	n_webhooks = hooks ? n : 0;
}

const struct engine_webhook *engine_webhook_get(size_t index)
{
	return index < n_webhooks ? &webhooks[index] : NULL;
}

static bool webhook_takes(const struct engine_webhook *w, const char *type)
{
	if (w->n_events == 0)
		return true;
	for (size_t i = 0; i < w->n_events; i++)
		if (strcmp(w->events[i], type) == 0)
			return true;
	return false;
}

static json_t *time_json(int64_t ms)
{
	char when[25];

	util_rfc3339_format(ms, when);
	return json_string(when);
}

/* The event's JSON with `data` (a new reference, stolen). */
static json_t *event_json(int64_t id, const char *type, const char *account_id,
			  int64_t created_at_ms, json_t *data)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:o}", "id", (json_int_t)id,
			 "type", type, "created_at", time_json(created_at_ms),
			 "account_id", account_id ? json_string(account_id) :
			 json_null(), "data", data);
}

json_t *engine_event_json(const struct store_event *e)
{
	json_t *data = json_loads(e->data, JSON_DECODE_ANY, NULL);

	return data ? event_json(e->id, e->type, e->account_id,
				 e->created_at_ms, data) : NULL;
}

static bool any_webhook_takes(const char *type)
{
	for (size_t i = 0; i < n_webhooks; i++)
		if (webhook_takes(&webhooks[i], type))
			return true;
	return false;
}

/* Queues the event for every webhook that takes its type. */
static int queue_webhooks(struct store_tx *tx, int64_t id, const char *type,
			  const char *account_id, int64_t now, json_t *data)
{
	char key[48];
	char *body = NULL;
	json_t *ev = NULL;
	bool added;
	int rc = STORE_OK;

	for (size_t i = 0; i < n_webhooks && rc == STORE_OK; i++) {
		struct store_outbox_item it = {
			.kind = ENGINE_EVENT_WEBHOOK_KIND, .dedupe_key = key,
			.account_id = account_id,
		};

		if (!webhook_takes(&webhooks[i], type))
			continue;
		if (!body) {
			ev = event_json(id, type, account_id, now,
					json_incref(data));
			body = json_dumps(ev, JSON_COMPACT);
			UTIL_ASSERT(body);
		}
		snprintf(key, sizeof(key), "%zu:%" PRId64, i, id);
		it.payload = body;
		rc = store_tx_outbox_add(tx, &it, now, &added);
	}
	free(body);
	json_decref(ev);
	return rc;
}

int engine_events_emit(struct store_tx *tx, const char *type,
		       const char *account_id, json_t *data)
{
	int64_t now = util_now_ms(), id = 0;
	char *text = json_dumps(data, JSON_COMPACT);
	bool queue = any_webhook_takes(type);
	int rc;

	UTIL_ASSERT(text);
	/* the id is only needed (and waited for) to queue deliveries */
	rc = store_tx_event_add(tx, type, account_id, now, text,
				queue ? &id : NULL);
	free(text);
	if (rc || !queue)
		return rc;
	return queue_webhooks(tx, id, type, account_id, now, data);
}

/* Emits and drops `data` (a new reference; NULL only on a bug). */
static int emit_new(struct store_tx *tx, const char *type,
		    const char *account_id, json_t *data)
{
	int rc;

	UTIL_ASSERT(data);
	rc = engine_events_emit(tx, type, account_id, data);
	json_decref(data);
	return rc;
}

int engine_events_grant_created_(struct store_tx *tx,
				 const struct engine_job *job,
				 int64_t fulfilled_at_ms, json_t *grants)
{
	return emit_new(tx, ENGINE_EVENT_GRANT_CREATED, job->ent.account_id,
			json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:O}",
				  "fulfillment_id", job->fulfillment_id,
				  "source", job->ent.source,
				  "external_id", job->ent.external_id,
				  "provider_item_id", job->ent.provider_item_id,
				  "entitlement_id", job->entry_->id,
				  "status", store_fulfilment_status_name(
					  STORE_FULFILMENT_COMPLETED),
				  "fulfilled_at", time_json(fulfilled_at_ms),
				  "grants", grants));
}

void engine_events_grant_line_(json_t *grants, int line, const char *catalog_id,
			       int64_t amount, const char *instance_id)
{
	json_t *g = json_pack("{s:i, s:s, s:I}", "line", line, "catalog_id",
			      catalog_id, "amount", (json_int_t)amount);

	if (instance_id)
		json_object_set_new(g, "instance_id", json_string(instance_id));
	json_array_append_new(grants, g);
}

int engine_events_account_suspended(struct store_tx *tx,
				    const char *account_id,
				    enum store_account_state state,
				    const enum store_account_state *previous,
				    const char *cause, int64_t validation_id)
{
	json_t *data = json_pack("{s:s, s:s, s:o, s:s}", "account_id",
				 account_id, "state",
				 store_account_state_name(state),
				 "previous_state", previous ? json_string(
					 store_account_state_name(*previous)) :
				 json_null(), "cause", cause);

	if (data && validation_id > 0)
		json_object_set_new(data, "validation_id",
				    json_integer(validation_id));
	return emit_new(tx, ENGINE_EVENT_ACCOUNT_SUSPENDED, account_id, data);
}

int engine_events_link_created(struct store_tx *tx, const char *account_id,
			       const char *provider, const char *external_id,
			       bool replaced, int64_t linked_at_ms,
			       const char *via)
{
	return emit_new(tx, ENGINE_EVENT_LINK_CREATED, account_id,
			json_pack("{s:s, s:s, s:s, s:b, s:o, s:s}",
				  "account_id", account_id,
				  "provider", provider,
				  "external_id", external_id,
				  "replaced", replaced,
				  "linked_at", time_json(linked_at_ms),
				  "via", via));
}

/* ---- cursors: "<txid>-<id>", both decimal ------------------------------ */

void engine_events_cursor_format(int64_t txid, int64_t id,
				 char out[ENGINE_EVENTS_CURSOR_MAX])
{
	snprintf(out, ENGINE_EVENTS_CURSOR_MAX, "%" PRId64 "-%" PRId64, txid,
		 id);
}

/* A canonical decimal in [0, INT64_MAX] of the n characters at s: digits
 * only, no sign, no leading zero. Returns 0, or -1. */
static int parse_part(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int engine_events_cursor_parse(const char *s, int64_t *txid, int64_t *id)
{
	const char *dash = strchr(s, '-');
	int64_t t, i;

	if (!dash || strlen(s) >= ENGINE_EVENTS_CURSOR_MAX ||
	    parse_part(s, (size_t)(dash - s), &t) ||
	    parse_part(dash + 1, strlen(dash + 1), &i))
		return -1;
	*txid = t;
	*id = i;
	return 0;
}
