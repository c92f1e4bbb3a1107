/* sources/gamepot_coupon.c: GAMEPOT's coupon and gift webhook — a player's
 * coupon granted all items or none, a gift to "all" stored once as a
 * broadcast — keyed on a canonical form of its fields, since it carries
 * no transaction id. */
#include "sources/gamepot_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

static const struct gamepot_field coupon_fields[] = {
#define SOURCES_GP_COUPON_ROW(id, name, max) { name, max },
	SOURCES_GP_COUPON_FIELDS(SOURCES_GP_COUPON_ROW)
#undef SOURCES_GP_COUPON_ROW
};

void sources_gamepot_coupon_release(struct sources_gp_coupon *c)
{
	gamepot_fields_release(c->field, SOURCES_GP_COUPON_FIELD_COUNT);
	for (size_t i = 0; i < c->n_items; i++) {
		free(c->items[i].item_id);
		free(c->items[i].store_item_id);
	}
	free(c->items);
	c->items = NULL;
	c->n_items = 0;
}

/* A string member of an itemId entry: NULL if absent or null; -1 with msg
 * if another type or not 1..max bytes without NUL. */
static int item_string(json_t *entry, const char *name, size_t i, size_t max,
		       char **out, char *msg, size_t size)
{
	json_t *v = json_object_get(entry, name);
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	n = json_string_length(v);
	if (!json_is_string(v) || n == 0 || n > max ||
	    strlen(json_string_value(v)) != n) {
		snprintf(msg, size, "itemId[%zu].%s: must be a string of 1 to "
			 "%zu bytes", i, name, max);
		return -1;
	}
	*out = util_xstrdup(json_string_value(v));
	return 0;
}

static int take_item(json_t *entry, size_t i, struct sources_gp_coupon_item *it,
		     char *msg, size_t size)
{
	json_t *count = json_object_get(entry, "count");

	if (!json_is_object(entry)) {
		snprintf(msg, size, "itemId[%zu]: must be an object", i);
		return -1;
	}
	if (item_string(entry, "item_id", i, CATALOG_PROVIDER_ITEM_ID_MAX,
			&it->item_id, msg, size) ||
	    item_string(entry, "store_item_id", i, CATALOG_PROVIDER_ITEM_ID_MAX,
			&it->store_item_id, msg, size))
		return -1;
	if (!it->item_id) {
		snprintf(msg, size, "itemId[%zu].item_id: required", i);
		return -1;
	}
	if (!json_is_integer(count) || json_integer_value(count) < 1 ||
	    json_integer_value(count) > ENGINE_QUANTITY_MAX) {
		snprintf(msg, size, "itemId[%zu].count: must be an integer from "
			 "1 to %d", i, ENGINE_QUANTITY_MAX);
		return -1;
	}
	it->count = json_integer_value(count);
	return 0;
}

/* itemId: a JSON array of 1..SOURCES_GP_COUPON_ITEMS_MAX entries. */
static int parse_items(const char *text, struct sources_gp_coupon *c,
		       char *msg, size_t size)
{
	json_error_t jerr;
	json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *entry;
	size_t i;
	int rc = -1;

	if (!a) {
		snprintf(msg, size, "itemId: not JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > SOURCES_GP_COUPON_ITEMS_MAX) {
		snprintf(msg, size, "itemId: must be an array of 1 to %d items",
			 SOURCES_GP_COUPON_ITEMS_MAX);
		goto out;
	}
	c->items = util_xcalloc(json_array_size(a), sizeof(*c->items));
	json_array_foreach(a, i, entry) {
		c->n_items = i + 1;
		if (take_item(entry, i, &c->items[i], msg, size))
			goto out;
	}
	rc = 0;
out:
	json_decref(a);
	return rc;
}

/* expireMs: milliseconds since the epoch, as digits. */
static int parse_expiry(const char *text, int64_t *out, char *msg, size_t size)
{
	char *end;
	long long v;

	*out = INT64_MAX;
	if (!text)
		return 0;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end || errno) {
		snprintf(msg, size, "expireMs: must be milliseconds since the "
			 "epoch (digits)");
		return -1;
	}
	*out = v;
	return 0;
}

/* The canonical form: a JSON array of every documented field in the order
 * GAMEPOT lists them (null when absent), itemId replaced by its entries
 * as [item_id, store_item_id, count]; compact, ASCII-escaped. Its SHA-256
 * is the key, so a redelivery (in any parameter order or encoding) maps
 * to the same key. */
static void derive_key(struct sources_gp_coupon *c)
{
	json_t *a = json_array(), *items = json_array();
	char hex[65], *text;

	for (size_t i = 0; i < c->n_items; i++)
		json_array_append_new(items, json_pack("[s, s?, I]",
			c->items[i].item_id, c->items[i].store_item_id,
			(json_int_t)c->items[i].count));
	for (size_t i = 0; i < SOURCES_GP_COUPON_FIELD_COUNT; i++) {
		if (i == SOURCES_GP_COUPON_ITEM_ID)
			json_array_append(a, items);
		else
			json_array_append_new(a, c->field[i] ?
					      json_string(c->field[i]) : json_null());
	}
	json_decref(items);
	text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!text)
		util_bug(__FILE__, __LINE__, "coupon key");
	util_sha256_hex(text, strlen(text), hex);
	free(text);
	snprintf(c->key, sizeof(c->key), "coupon:%s", hex);
}

int sources_gamepot_coupon_parse(const char *form, size_t len,
				 struct sources_gp_coupon *out, char *msg,
				 size_t msg_size)
{
	static const enum sources_gp_coupon_field required[] = {
		SOURCES_GP_COUPON_USER_ID, SOURCES_GP_COUPON_PROJECT_ID,
		SOURCES_GP_COUPON_ITEM_ID,
	};

	memset(out, 0, sizeof(*out));
	if (gamepot_form_parse(form, len, coupon_fields,
			       SOURCES_GP_COUPON_FIELD_COUNT, out->field, msg,
			       msg_size))
		return -1;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(required); i++) {
		if (!out->field[required[i]]) {
			snprintf(msg, msg_size, "%s: required",
				 coupon_fields[required[i]].name);
			goto fail;
		}
	}
	if (parse_items(out->field[SOURCES_GP_COUPON_ITEM_ID], out, msg,
			msg_size) ||
	    parse_expiry(out->field[SOURCES_GP_COUPON_EXPIRE_MS],
			 &out->expire_ms, msg, msg_size))
		goto fail;
	out->broadcast = strcmp(out->field[SOURCES_GP_COUPON_USER_ID], "all") == 0;
	derive_key(out);
	return 0;
fail:
	sources_gamepot_coupon_release(out);
	return -1;
}

/* ---- the webhook ------------------------------------------------------ */

/* One coupon in flight: a player's (a group of jobs) or everyone's (a
 * broadcast). Freed by http. */
struct coupon_request {
	struct http_request *req;
	struct sources_gp_coupon c;
	struct engine_group group;
	struct engine_job *jobs;
	char (*keys)[STORE_EXTERNAL_ID_MAX + 1];
	struct engine_broadcast broadcast;
	struct engine_broadcast_line *lines;
	char *detail;
};

static void coupon_request_free(void *arg)
{
	struct coupon_request *cr = arg;

	sources_gamepot_coupon_release(&cr->c);
	free(cr->jobs);
	free(cr->keys);
	free(cr->lines);
	free(cr->detail);
	free(cr);
}

/* Answers an outcome that is not a success: 503 if grantd failed (GAMEPOT
 * must see a failure), else status 0 with the reason. */
static void reply_refusal(struct http_request *req, enum engine_outcome o,
			  const char *what, const char *message)
{
	if (o == ENGINE_STORE_ERROR || o == ENGINE_UNAVAILABLE) {
		http_reply_header(req, "Retry-After", "1");
		gamepot_reply_failure(req, 503, "%s: %s", engine_outcome_code(o),
				      message);
		return;
	}
	gamepot_reply_failure(req, 200, "%s%s: %s", what,
			      engine_outcome_code(o), message);
}

static void group_done(struct engine_group *g)
{
	struct coupon_request *cr = UTIL_CONTAINER_OF(g, struct coupon_request,
						      group);
	char what[CATALOG_PROVIDER_ITEM_ID_MAX + 32];

	if (engine_outcome_ok(g->outcome)) {
		http_reply_static(cr->req, 200, gamepot_success);
		return;
	}
	snprintf(what, sizeof(what), "itemId[%zu] %s: ", g->failed,
		 cr->c.items[g->failed].item_id);
	reply_refusal(cr->req, g->outcome, what, g->jobs[g->failed].message);
}

/* A player's coupon: one job per itemId entry, keyed "<key>/<index>". */
static void submit_group(struct coupon_request *cr,
			 const struct gamepot_settings *gs)
{
	size_t n = cr->c.n_items;
	int64_t now = util_now_ms();

	cr->jobs = util_xcalloc(n, sizeof(*cr->jobs));
	cr->keys = util_xcalloc(n, sizeof(*cr->keys));
	for (size_t i = 0; i < n; i++) {
		snprintf(cr->keys[i], sizeof(cr->keys[i]), "%s/%zu", cr->c.key, i);
		cr->jobs[i].ent = (struct engine_entitlement){
			.source = source_gamepot.id,
			.provider = CATALOG_GAMEPOT_ITEM,
			.external_id = cr->keys[i],
			.account_id = cr->c.field[SOURCES_GP_COUPON_USER_ID],
			.provider_item_id = cr->c.items[i].item_id,
			.quantity = cr->c.items[i].count,
			.received_at_ms = now,
		};
	}
	cr->group.jobs = cr->jobs;
	cr->group.n = n;
	engine_submit_group(gs->engine, &cr->group, group_done);
}

/* In the broadcast's transaction: the audit row that says who sent it. */
static int audit_broadcast(struct store_tx *tx, struct engine_broadcast *b)
{
	struct coupon_request *cr = UTIL_CONTAINER_OF(b, struct coupon_request,
						      broadcast);

	return store_tx_audit_add(tx, &(struct store_audit){
		.at_ms = util_now_ms(), .actor = "gamepot",
		.action = "gamepot.gift_broadcast", .target = cr->c.key,
		.detail = cr->detail,
	});
}

static void broadcast_done(struct engine_broadcast *b)
{
	struct coupon_request *cr = UTIL_CONTAINER_OF(b, struct coupon_request,
						      broadcast);

	if (engine_outcome_ok(b->outcome)) {
		if (b->outcome == ENGINE_GRANTED)
			ops_log(OPS_LOG_INFO, "gamepot_gift_broadcast", "gift %s "
				"to every account stored (%zu item(s))",
				cr->c.key, cr->c.n_items);
		http_reply_static(cr->req, 200, gamepot_success);
		return;
	}
	reply_refusal(cr->req, b->outcome, "", b->message);
}

/* What people read of a broadcast (owned JSON text). */
static char *broadcast_detail(const struct sources_gp_coupon *c)
{
	json_t *d = json_object();
	char *text;

	for (size_t i = 0; i < SOURCES_GP_COUPON_FIELD_COUNT; i++)
		if (c->field[i])
			json_object_set_new(d, coupon_fields[i].name,
					    json_string(c->field[i]));
	text = json_dumps(d, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(d);
	if (!text)
		util_bug(__FILE__, __LINE__, "broadcast detail");
	return text;
}

/* A gift to "all": stored once, granted to each account later. */
static void submit_broadcast(struct coupon_request *cr,
			     const struct gamepot_settings *gs)
{
	size_t n = cr->c.n_items;

	cr->lines = util_xcalloc(n, sizeof(*cr->lines));
	for (size_t i = 0; i < n; i++)
		cr->lines[i] = (struct engine_broadcast_line){
			.provider_item_id = cr->c.items[i].item_id,
			.quantity = cr->c.items[i].count,
		};
	cr->detail = broadcast_detail(&cr->c);
	cr->broadcast = (struct engine_broadcast){
		.source = source_gamepot.id, .external_id = cr->c.key,
		.provider = CATALOG_GAMEPOT_ITEM, .lines = cr->lines, .n = n,
		.expires_at_ms = cr->c.expire_ms, .detail = cr->detail,
		.also = audit_broadcast,
	};
	engine_submit_broadcast(gs->engine, &cr->broadcast, broadcast_done);
}

void gamepot_coupon_handler(struct http_request *req)
{
	const struct gamepot_settings *gs = http_request_ctx(req);
	struct coupon_request *cr;
	struct sources_gp_coupon c;
	const char *form;
	char msg[512];
	size_t len;

	if (gamepot_webhook_form(req, gs, &form, &len))
		return;
	if (sources_gamepot_coupon_parse(form, len, &c, msg, sizeof(msg))) {
		gamepot_reply_failure(req, 200, "%s", msg);
		return;
	}
	http_request_log_account(req, c.field[SOURCES_GP_COUPON_USER_ID]);
	if (!gamepot_project_ok(gs, c.field[SOURCES_GP_COUPON_PROJECT_ID])) {
		sources_gamepot_coupon_release(&c);
		gamepot_reply_failure(req, 200, "projectId: not this server's "
				      "project");
		return;
	}
	cr = util_xcalloc(1, sizeof(*cr));
	cr->req = req;
	cr->c = c;
	http_request_log_transaction(req, cr->c.key);
	http_request_set_state(req, cr, coupon_request_free);
	http_request_suspend(req);
	if (cr->c.broadcast)
		submit_broadcast(cr, gs);
	else
		submit_group(cr, gs);
}
