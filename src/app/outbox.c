/* app/outbox.c: the outbox as an operator sees it — deliveries by status
 * and another chance for dead ones, over HTTP (scope operator) and as
 * `grantd outbox list|retry`. Every retry is recorded in the audit trail. */
#include "app/app.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "outbox/outbox.h"

#define OUTBOX_PAGE_DEFAULT 50
#define OUTBOX_PAGE_MAX 1000

static json_t *time_or_null(int64_t ms)
{
	char when[25];

	if (!ms)
		return json_null();
	util_rfc3339_format(ms, when);
	return json_string(when);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A row as JSON; its payload as the JSON it holds. */
static json_t *row_json(const struct store_outbox_row *r)
{
	json_t *payload = json_loads(r->payload, 0, NULL);

	return json_pack("{s:I, s:s, s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:o, s:o}",
			 "id", (json_int_t)r->id, "kind", r->kind,
			 "key", r->dedupe_key,
			 "account_id", str_or_null(r->account_id),
			 "status", store_outbox_status_name(r->status),
			 "attempts", (json_int_t)r->attempts,
			 "next_attempt_at", r->status == STORE_OUTBOX_PENDING ?
			 time_or_null(r->next_attempt_at_ms) : json_null(),
			 "last_error", str_or_null(r->last_error),
			 "created_at", time_or_null(r->created_at_ms),
			 "updated_at", time_or_null(r->updated_at_ms),
			 "payload", payload ? payload : json_string(r->payload));
}

struct row_list {
	json_t *array;
	int64_t last_id;
	bool text;              /* the command line's table */
};

static void add_row(void *arg, const struct store_outbox_row *r)
{
	struct row_list *l = arg;
	char when[25];

	l->last_id = r->id;
	if (!l->text) {
		json_array_append_new(l->array, row_json(r));
		return;
	}
	util_rfc3339_format(r->updated_at_ms, when);
	printf("%-8" PRId64 " %-10s %-20s %-40.40s %-8" PRId64 " %-25s %s\n",
	       r->id, store_outbox_status_name(r->status), r->kind,
	       r->dedupe_key, r->attempts, when,
	       r->last_error ? r->last_error : "");
}

/* "pending", "delivered", "dead", or NULL (any). Returns 0, or -1. */
static int status_arg(const char *s, const char **out)
{
	static const char *const names[] = { "pending", "delivered", "dead" };

	*out = NULL;
	if (!s)
		return 0;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = names[i];
			return 0;
		}
	return -1;
}

void app_outbox_list(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	struct row_list l = { .array = json_array() };
	int64_t before = 0, limit = OUTBOX_PAGE_DEFAULT;
	const char *status;
	bool bad;

	if (status_arg(http_request_query(req, "status", &bad), &status) || bad) {
		http_reply_error(req, 400, "InvalidRequest", "status: must be "
				 "pending, delivered or dead");
		goto out;
	}
	if (http_request_query_int(req, "before", 1, INT64_MAX, &before) ||
	    http_request_query_int(req, "limit", 1, OUTBOX_PAGE_MAX, &limit))
		goto out;
	if (store_outbox_read(ctx->store, status, before, limit, add_row, &l)) {
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		goto out;
	}
	http_reply_json(req, 200, json_pack("{s:O, s:o}", "deliveries", l.array,
					    "next_before",
					    json_array_size(l.array) ==
					    (size_t)limit ? json_integer(l.last_id) :
					    json_null()));
out:
	json_decref(l.array);
}

/* A retry and its audit record, in one transaction. */
struct retry {
	int64_t id;             /* 0: every dead row */
	const char *actor;
	int64_t count;
};

static int retry_apply(struct store_tx *tx, void *arg)
{
	struct retry *r = arg;
	int rc = store_tx_outbox_retry(tx, r->id, util_now_ms(), &r->count);
	char target[24];
	json_t *detail;

	if (rc || r->count == 0)
		return rc;
	snprintf(target, sizeof(target), "%" PRId64, r->id);
	detail = json_pack("{s:I}", "rows", (json_int_t)r->count);
	rc = app_audit_tx(tx, r->actor, "outbox.retried",
			  r->id ? target : "dead", detail);
	json_decref(detail);  /* the audit borrows it */
	return rc;
}

/* The principal as an audit actor: "api:<name>". */
static void api_actor(struct http_request *req, char *out, size_t size)
{
	const struct http_principal *p = http_request_principal(req);

	snprintf(out, size, "api:%s", p && p->name[0] ? p->name : "unknown");
}

void app_outbox_retry(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	const char *id = http_request_param(req, "id");
	char actor[80];
	struct retry r = { 0 };

	api_actor(req, actor, sizeof(actor));
	r.actor = actor;
	if (id && util_parse_int64(id, 1, INT64_MAX, &r.id)) {
		http_reply_error(req, 404, "DeliveryNotFound", "no delivery "
				 "\"%s\" exists", id);
		return;
	}
	if (store_run(ctx->store, retry_apply, &r)) {
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		return;
	}
	if (id && r.count == 0) {
		http_reply_error(req, 409, "NotRetryable", "delivery %s is not "
				 "dead or waiting, or another delivery of its "
				 "key is pending", id);
		return;
	}
	if (ctx->outbox)
		outbox_kick(ctx->outbox);
	http_reply_json(req, 200, json_pack("{s:I}", "retried",
					    (json_int_t)r.count));
}

/* A give-up and its audit record, in one transaction. */
struct give_up {
	int64_t id;
	const char *actor;
	const char *reason;
	int64_t count;
};

static int give_up_apply(struct store_tx *tx, void *arg)
{
	struct give_up *g = arg;
	char error[PARTNER_REVOKE_REASON_BYTES_MAX + 32], target[24];
	json_t *detail;
	int rc;

	snprintf(error, sizeof(error), "given up by %s: %s", g->actor,
		 g->reason);
	rc = store_tx_outbox_give_up(tx, g->id, error, util_now_ms(),
				     &g->count);
	if (rc || g->count == 0)
		return rc;
	snprintf(target, sizeof(target), "%" PRId64, g->id);
	detail = json_pack("{s:s}", "reason", g->reason);
	rc = app_audit_tx(tx, g->actor, "outbox.given_up", target, detail);
	json_decref(detail);
	return rc;
}

void app_outbox_give_up(struct http_request *req)
{
	struct app_ctx *ctx = http_request_ctx(req);
	const char *id = http_request_param(req, "id");
	char actor[80], reason[PARTNER_REVOKE_REASON_BYTES_MAX + 1], msg[256];
	struct give_up g = { .actor = actor, .reason = reason };
	size_t len = 0;
	const char *body = http_request_body(req, &len);

	if (!id || util_parse_int64(id, 1, INT64_MAX, &g.id)) {
		http_reply_error(req, 404, "DeliveryNotFound", "no delivery "
				 "\"%s\" exists", id ? id : "");
		return;
	}
	if (partner_parse_reason_body(body, len, reason, sizeof(reason), msg,
				      sizeof(msg))) {
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		return;
	}
	api_actor(req, actor, sizeof(actor));
	if (store_run(ctx->store, give_up_apply, &g)) {
		http_reply_error(req, 503, "StoreUnavailable", "the store "
				 "failed; retry");
		return;
	}
	if (g.count == 0) {
		http_reply_error(req, 409, "NotPending", "delivery %s is not "
				 "waiting (it is delivered, dead, or being "
				 "delivered right now)", id);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:I}", "given_up",
					    (json_int_t)g.count));
}

/* ---- the command line --------------------------------------------------- */

int app_outbox_list_cli(const char *config_path, const char *status_text,
			long long limit, bool json)
{
	struct row_list l = { .array = json_array(), .text = !json };
	struct config cfg;
	struct store *st;
	const char *status;
	int rc;

	if (status_arg(status_text, &status)) {
		fprintf(stderr, "grantd: --status must be pending, delivered or "
			"dead\n");
		json_decref(l.array);
		return 2;
	}
	if (!(st = app_open_for_command(config_path, &cfg, false))) {
		json_decref(l.array);
		return 1;
	}
	if (!json)
		printf("%-8s %-10s %-20s %-40s %-8s %-25s %s\n", "ID", "STATUS",
		       "KIND", "KEY", "ATTEMPTS", "UPDATED", "LAST_ERROR");
	rc = store_outbox_read(st, status, 0, limit > 0 ? limit :
			       OUTBOX_PAGE_DEFAULT, add_row, &l);
	if (json && rc == STORE_OK)
		app_print_json(json_incref(l.array));
	json_decref(l.array);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}

int app_outbox_retry_cli(const char *config_path, const char *id_text)
{
	char actor[80];
	struct retry r = { 0 };
	struct config cfg;
	struct store *st;
	int rc = 1;

	if (id_text && util_parse_int64(id_text, 1, INT64_MAX, &r.id)) {
		fprintf(stderr, "grantd: \"%s\" is not a delivery id\n", id_text);
		return 2;
	}
	app_audit_cli_actor(actor, sizeof(actor));
	r.actor = actor;
	if (!(st = app_open_for_command(config_path, &cfg, false)))
		return 1;
	if (store_run(st, retry_apply, &r)) {
		fprintf(stderr, "grantd: the store failed; nothing changed\n");
	} else if (id_text && r.count == 0) {
		fprintf(stderr, "grantd: delivery %s is not dead or waiting, or "
			"another delivery of its key is pending\n", id_text);
	} else {
		printf("%" PRId64 " delivery(ies) due now; a running grantd "
		       "delivers them within a second\n", r.count);
		rc = 0;
	}
	store_close(st);
	config_release(&cfg);
	return rc;
}
