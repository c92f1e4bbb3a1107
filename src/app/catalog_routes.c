/* app/catalog_routes.c: the catalog in force for operators — GET
 * /v1/operator/catalog, POST /v1/operator/catalog/reload — and the reload
 * itself, shared with SIGHUP. */
#include "app/app_int.h"

#include <pthread.h>

#include "ops/ops.h"

#define AUDIT_PROBLEMS_MAX 20  /* catalog problems kept in an audit record */

/* One reload at a time (SIGHUP and the route), so the audit trail and the
 * snapshot in force tell the same order. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

/* The audit detail of a refused catalog: its first problems. */
static json_t *problems_detail(const struct util_strlist *problems)
{
	json_t *list = json_array();

	for (size_t i = 0; i < problems->len && i < AUDIT_PROBLEMS_MAX; i++)
		json_array_append_new(list, json_string(problems->items[i]));
	return json_pack("{s:I, s:o}", "problem_count", (json_int_t)problems->len,
			 "problems", list);
}

static void log_reloaded(const char *path, const struct catalog *c)
{
	struct ops_log_line l;

	if (ops_log_begin(&l, OPS_LOG_INFO, "catalog_reloaded")) {
		ops_log_str(&l, "path", path);
		ops_log_int(&l, "entitlements", (int64_t)catalog_entitlement_count(c));
		ops_log_int(&l, "items", (int64_t)catalog_item_count(c));
		ops_log_end(&l);
	}
}

int app_catalog_reload(const struct app_catalog_reload_args *a,
		       struct util_strlist *problems_out, size_t *entries)
{
	struct util_strlist problems;
	struct catalog *c;
	int rc = -1;

	util_strlist_init(&problems);
	pthread_mutex_lock(&reload_lock);
	c = app_catalog_load(a->path, "catalog_reload_failed", &problems);
	if (!c) {
		/* the old catalog stays in force; the log says why */
		app_audit_record(a->store, a->actor, "catalog.reload_failed",
				 a->path, problems_detail(&problems));
		for (size_t i = 0; problems_out && i < problems.len; i++)
			util_strlist_add(problems_out, "%s", problems.items[i]);
		goto out;
	}
	/* in force first: once the log says reloaded, requests use it (the
	 * holder keeps c alive, and the lock keeps any other reload out) */
	catalog_holder_swap(a->holder, c);
	log_reloaded(a->path, c);
	app_audit_record(a->store, a->actor, "catalog.reloaded", a->path,
			 json_pack("{s:I, s:I, s:s}", "entitlements",
				   (json_int_t)catalog_entitlement_count(c),
				   "items", (json_int_t)catalog_item_count(c),
				   "version", catalog_version(c)));
	if (entries)
		*entries = catalog_entitlement_count(c);
	rc = 0;
out:
	pthread_mutex_unlock(&reload_lock);
	util_strlist_release(&problems);
	return rc;
}

/* ---- GET /v1/operator/catalog ------------------------------------------- */

static const char *kind_name(enum catalog_item_kind kind)
{
	return kind == CATALOG_STACKABLE ? "stackable" : "instanced";
}

static json_t *time_or_null(bool has, int64_t ms)
{
	char at[25];

	if (!has)
		return json_null();
	util_rfc3339_format(ms, at);
	return json_string(at);
}

static json_t *grants_json(const struct catalog_entitlement *e)
{
	json_t *grants = json_array();

	for (size_t i = 0; i < e->n_grants; i++)
		json_array_append_new(grants, json_pack(
			"{s:s, s:s, s:I}",
			"catalog_id", e->grants[i].item->catalog_id,
			"kind", kind_name(e->grants[i].item->kind),
			"amount", (json_int_t)e->grants[i].amount));
	return grants;
}

static json_t *entry_json(const struct catalog_entitlement *e)
{
	json_t *details = json_loads(catalog_entitlement_provider_details(e),
				     0, NULL);
	json_t *avail = json_null();

	if (e->has_starts_at || e->has_ends_at)
		avail = json_pack("{s:o, s:o}",
				  "starts_at", time_or_null(e->has_starts_at,
							    e->starts_at_ms),
				  "ends_at", time_or_null(e->has_ends_at,
							  e->ends_at_ms));
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "id", e->id,
			 "provider_ids", details ? details : json_array(),
			 "grants", grants_json(e),
			 "bundle_id", e->bundle_id ? json_string(e->bundle_id)
						   : json_null(),
			 "limit_per_account", e->limit_per_account ?
				json_integer(e->limit_per_account) : json_null(),
			 "availability", avail);
}

static json_t *item_json(const struct catalog_item *it)
{
	json_t *j = json_pack("{s:s, s:s, s:o}", "catalog_id", it->catalog_id,
			      "kind", kind_name(it->kind),
			      "name", it->name ? json_string(it->name)
					       : json_null());

	if (it->kind == CATALOG_INSTANCED)
		json_object_set_new(j, "unique", json_boolean(it->unique));
	return j;
}

json_t *app_catalog_json(const struct catalog *c)
{
	json_t *entries = json_array(), *items = json_array();
	char at[25];

	for (size_t i = 0; i < catalog_entitlement_count(c); i++)
		json_array_append_new(entries,
				      entry_json(catalog_entitlement_at(c, i)));
	for (size_t i = 0; i < catalog_item_count(c); i++)
		json_array_append_new(items, item_json(catalog_item_at(c, i)));
	util_rfc3339_format(catalog_loaded_at_ms(c), at);
	return json_pack("{s:s, s:s, s:o, s:o}", "version", catalog_version(c),
			 "loaded_at", at, "entries", entries, "items", items);
}

void app_catalog_get(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	struct catalog *c = catalog_holder_get(ctx->catalog);

	if (!c) {
		http_reply_error(req, 503, "NotReady", "no catalog is loaded");
		return;
	}
	http_reply_json(req, 200, app_catalog_json(c));
	catalog_unref(c);
}

/* ---- POST /v1/operator/catalog/reload ----------------------------------- */

void app_catalog_reload_post(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	const struct http_principal *p = http_request_principal(req);
	struct util_strlist problems;
	json_t *list, *body;
	char actor[HTTP_PRINCIPAL_NAME_MAX + 8];
	size_t entries = 0;

	snprintf(actor, sizeof(actor), "api:%s",
		 p && p->name[0] ? p->name : "unknown");
	util_strlist_init(&problems);
	if (app_catalog_reload(&(struct app_catalog_reload_args){
		    .store = ctx->store, .holder = ctx->catalog,
		    .path = ctx->catalog_path, .actor = actor },
		    &problems, &entries) == 0) {
		http_reply_json(req, 200, json_pack("{s:b, s:I}", "reloaded", 1,
						    "entries",
						    (json_int_t)entries));
		goto out;
	}
	list = json_array();
	for (size_t i = 0; i < problems.len; i++)
		json_array_append_new(list, json_string(problems.items[i]));
	body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", "CatalogInvalid",
			 "message", "the catalog file has problems; the catalog "
			 "in force is kept", "problems", list);
	http_reply_json(req, 422, body);
out:
	util_strlist_release(&problems);
}
