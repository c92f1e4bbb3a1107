/* app/audit.c: the audit trail — who changed credentials or reloaded the
 * catalog, and when — written beside each change and listed by
 * `grantd audit`. */
#include "app/app.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "app/app_int.h"
#include "ops/ops.h"

int app_audit_tx(struct store_tx *tx, const char *actor, const char *action,
		 const char *target, json_t *detail)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) :
		NULL;
	struct store_audit a = {
		.at_ms = util_now_ms(),
		.actor = actor,
		.action = action,
		.target = target,
		.detail = text ? text : "{}",
	};
	int rc = store_tx_audit_add(tx, &a);

	free(text);
	return rc;
}

struct record_ctx {
	const char *actor;
	const char *action;
	const char *target;
	json_t *detail;
};

static int record_apply(struct store_tx *tx, void *arg)
{
	struct record_ctx *rc = arg;

	return app_audit_tx(tx, rc->actor, rc->action, rc->target, rc->detail);
}

void app_audit_record(struct store *st, const char *actor, const char *action,
		      const char *target, json_t *detail)
{
	struct record_ctx rc = { actor, action, target, detail };

	if (store_run(st, record_apply, &rc) != STORE_OK)
		ops_log(OPS_LOG_ERROR, "audit_failed", "could not record %s",
			action);
	json_decref(detail);
}

void app_audit_cli_actor(char *out, size_t size)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name)
		snprintf(out, size, "cli:%s", pw->pw_name);
	else
		snprintf(out, size, "cli:uid=%u", (unsigned)geteuid());
}

struct list_ctx {
	bool json;
	json_t *array;
};

static void list_one(void *arg, const struct store_audit *a)
{
	struct list_ctx *lc = arg;
	char at[25];
	json_t *detail;

	if (!lc->json) {
		util_rfc3339_format(a->at_ms, at);
		printf("%-6lld %-24s %-20s %-26s %-40s %s\n", (long long)a->id, at,
		       a->actor, a->action, a->target ? a->target : "-", a->detail);
		return;
	}
	detail = json_loads(a->detail, 0, NULL);
	json_array_append_new(lc->array, json_pack(
		"{s:I, s:I, s:s, s:s, s:s?, s:o}", "id", (json_int_t)a->id,
		"at_millis", (json_int_t)a->at_ms, "actor", a->actor,
		"action", a->action, "target", a->target,
		"detail", detail ? detail : json_object()));
}

int app_audit_list(const char *config_path, long long limit, bool json)
{
	struct list_ctx lc = { .json = json, .array = json_array() };
	struct config cfg;
	struct store *st = app_open_for_command(config_path, &cfg, false);
	int rc;

	if (!st) {
		json_decref(lc.array);
		return 1;
	}
	if (!json)
		printf("%-6s %-24s %-20s %-26s %-40s %s\n", "ID", "AT", "ACTOR",
		       "ACTION", "TARGET", "DETAIL");
	rc = store_audit_read(st, limit > 0 ? limit : -1, list_one, &lc);
	if (json && rc == STORE_OK)
		app_print_json(json_incref(lc.array));
	json_decref(lc.array);
	store_close(st);
	config_release(&cfg);
	return rc == STORE_OK ? 0 : 1;
}
