/* sources/gamepot_login.c: GAMEPOT login validation with grantd as
 * GAMEPOT's client — the game backend posts what the SDK login gave it
 * and gets 202 at once; the outbox asks GAMEPOT's loginauth in the
 * background, records the answer, and a forged token or another member's
 * token suspends the account (gamepot.login_validation.block_on_failure).
 * The SDK token is never logged and is dropped once GAMEPOT has answered. */
#include "sources/sources.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "partner/partner.h"

#define LOGIN_PATH "/gpapps/v1/loginauth"
/* Most of GAMEPOT's answer read; it is a status and a short message. */
#define ANSWER_MAX 65536
/* GAMEPOT's message as kept (bytes, with the NUL). */
#define MESSAGE_MAX 256
/* The history record of a suspension: provider_item_id, and the
 * external_id prefix before the validation id. */
#define HISTORY_ITEM "loginauth"
#define HISTORY_PREFIX "login:"

static const char *const state_names[] = {
	[SOURCES_GP_LOGIN_PENDING] = "pending",
	[SOURCES_GP_LOGIN_VALID] = "valid",
	[SOURCES_GP_LOGIN_MISSING_DATA] = "missing_data",
	[SOURCES_GP_LOGIN_FORGED] = "forged",
	[SOURCES_GP_LOGIN_MEMBER_MISMATCH] = "member_mismatch",
	[SOURCES_GP_LOGIN_EXPIRED] = "expired",
	[SOURCES_GP_LOGIN_UNKNOWN_RESULT] = "unknown_result",
};

const char *sources_gamepot_login_state_name(enum sources_gp_login_state s)
{
	return (size_t)s < UTIL_ARRAY_LEN(state_names) ? state_names[s] :
	       "unknown_result";
}

enum sources_gp_login_state sources_gamepot_login_state_of(long long status)
{
	switch (status) {
	case 1: return SOURCES_GP_LOGIN_VALID;
	case 0: return SOURCES_GP_LOGIN_MISSING_DATA;
	case -1: return SOURCES_GP_LOGIN_FORGED;
	case -2: return SOURCES_GP_LOGIN_MEMBER_MISMATCH;
	case -3: return SOURCES_GP_LOGIN_EXPIRED;
	default: return SOURCES_GP_LOGIN_UNKNOWN_RESULT;
	}
}

/* The error_code of the history record a suspension leaves. */
static const char *history_code(enum sources_gp_login_state s)
{
	return s == SOURCES_GP_LOGIN_FORGED ? "LoginTokenForged" :
	       "LoginMemberMismatch";
}

/* ---- parsing ------------------------------------------------------------- */

static const char *const body_fields[] = {
	"member_id", "token", "remote_ip", "platform",
};

static bool known_field(const char *k)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(body_fields); i++)
		if (strcmp(k, body_fields[i]) == 0)
			return true;
	return false;
}

/* Field `name` of `root` as a string into *out (NULL when absent, or when
 * empty and optional). Returns 0, or -1 with msg. */
static int take_string(json_t *root, const char *name, bool required,
		       size_t max, const char **out, char *msg, size_t size)
{
	json_t *v = json_object_get(root, name);
	size_t n;

	*out = NULL;
	if (!v) {
		if (required)
			snprintf(msg, size, "%s: required", name);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		snprintf(msg, size, "%s: must be a string", name);
		return -1;
	}
	n = json_string_length(v);
	if (n == 0 && !required)
		return 0;
	if (n == 0 || n > max || !util_is_printable_ascii(json_string_value(v), n)) {
		snprintf(msg, size, "%s: must be %s%zu printable ASCII "
			 "characters", name, required ? "1 to " : "at most ",
			 max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static bool ip_address(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1;
}

int sources_gamepot_login_parse(const char *body, size_t len,
				struct sources_gp_login *out, json_t **root,
				char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *r = json_loadb(body, len, JSON_REJECT_DUPLICATES |
			       JSON_DECODE_ANY, &jerr), *v;
	const char *k;

	memset(out, 0, sizeof(*out));
	*root = NULL;
	msg[0] = '\0';
	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return -1;
	}
	if (!json_is_object(r)) {
		snprintf(msg, msg_size, "body: must be a JSON object");
		goto fail;
	}
	json_object_foreach(r, k, v) {
		if (!known_field(k)) {
			snprintf(msg, msg_size, "body: unknown field \"%.64s\"", k);
			goto fail;
		}
	}
	if (take_string(r, "member_id", true, SOURCES_GP_MEMBER_ID_MAX,
			&out->member_id, msg, msg_size) ||
	    take_string(r, "token", true, SOURCES_GP_TOKEN_MAX, &out->token,
			msg, msg_size) ||
	    take_string(r, "remote_ip", false, SOURCES_GP_REMOTE_IP_MAX,
			&out->remote_ip, msg, msg_size) ||
	    take_string(r, "platform", false, SOURCES_GP_PLATFORM_MAX,
			&out->platform, msg, msg_size))
		goto fail;
	if (out->remote_ip && !ip_address(out->remote_ip)) {
		snprintf(msg, msg_size, "remote_ip: must be an IPv4 or IPv6 "
			 "address");
		goto fail;
	}
	*root = r;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	json_decref(r);
	return -1;
}

/* Copies `s` into out (`size` bytes), cut at a UTF-8 character boundary. */
static void copy_utf8(const char *s, char *out, size_t size)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

int sources_gamepot_login_answer(const char *body, size_t len,
				 long long *status, char *message,
				 size_t message_size)
{
	json_t *r = json_loadb(body, len, 0, NULL);
	json_t *st = json_object_get(r, "status");
	json_t *m = json_object_get(r, "message");
	int rc = -1;

	if (message_size)
		message[0] = '\0';
	if (json_is_object(r) && json_is_integer(st)) {
		*status = (long long)json_integer_value(st);
		if (json_is_string(m) && message_size)
			copy_utf8(json_string_value(m), message, message_size);
		rc = 0;
	}
	json_decref(r);
	return rc;
}

/* ---- the routes ------------------------------------------------------------ */

/* One POST in flight: the writer adds the validation and its outbox row. */
struct login_post {
	struct store_intent intent;
	struct http_request *req;
	const struct gamepot_settings *gs;
	json_t *root;                 /* the body: l's strings borrow from it */
	struct sources_gp_login l;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	int64_t id;
};

static void login_post_free(void *arg)
{
	struct login_post *p = arg;

	json_decref(p->root);
	free(p);
}

static int post_apply(struct store_tx *tx, struct store_intent *in)
{
	struct login_post *p = UTIL_CONTAINER_OF(in, struct login_post, intent);
	struct store_gamepot_login row = {
		.account_id = p->account_id, .member_id = p->l.member_id,
		.token = p->l.token, .remote_ip = p->l.remote_ip,
		.platform = p->l.platform,
	};
	int64_t now = util_now_ms();
	char key[24], payload[64];
	struct store_outbox_item it = {
		.kind = SOURCES_GP_LOGIN_KIND, .dedupe_key = key,
		.account_id = p->account_id, .payload = payload,
	};
	bool added;
	int rc;

	if ((rc = store_tx_gamepot_login_add(tx, &row, now, &p->id)))
		return rc;
	/* the token stays in the validation's row, not in the outbox's */
	snprintf(key, sizeof(key), "%lld", (long long)p->id);
	snprintf(payload, sizeof(payload), "{\"validation_id\":%lld}",
		 (long long)p->id);
	return store_tx_outbox_add(tx, &it, now, &added);
}

/* The path of an account's validation, for Location. */
static char *login_path(const char *account_id)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	util_buf_puts(&b, "/v1/accounts/");
	util_percent_encode(&b, account_id);
	util_buf_puts(&b, "/gamepot/login");
	return util_buf_take(&b);
}

/* Writer thread: the reply is the last use of p (http frees it after). */
static void post_done(struct store_intent *in, int rc)
{
	struct login_post *p = UTIL_CONTAINER_OF(in, struct login_post, intent);
	char *where;

	if (rc != STORE_OK) {
		partner_reply_store_error(p->req, rc);
		return;
	}
	outbox_kick(p->gs->outbox);
	where = login_path(p->account_id);
	http_reply_header(p->req, "Location", where);
	free(where);
	http_reply_json(p->req, 202, json_pack("{s:s, s:I, s:s, s:s}",
		"status", "pending", "validation_id", (json_int_t)p->id,
		"account_id", p->account_id, "member_id", p->l.member_id));
}

void sources_gamepot_login_post(struct http_request *req)
{
	const struct gamepot_settings *gs = http_request_ctx(req);
	const char *id = partner_account_param(req), *body;
	struct store_account acct;
	struct login_post *p;
	char msg[256];
	size_t len;

	if (!id || !partner_account_found(req, gs->store, id, &acct))
		return;
	p = util_xcalloc(1, sizeof(*p));
	body = http_request_body(req, &len);
	if (sources_gamepot_login_parse(body, len, &p->l, &p->root, msg,
					sizeof(msg))) {
		free(p);
		http_reply_error(req, 400, "InvalidRequest", "%s", msg);
		return;
	}
	if (!*gs->project_id) {
		login_post_free(p);
		http_reply_error(req, 503, "GamepotNotConfigured", "GAMEPOT "
				 "login validation is off: set "
				 "gamepot.project_id");
		return;
	}
	p->req = req;
	p->gs = gs;
	snprintf(p->account_id, sizeof(p->account_id), "%s", id);
	p->intent.apply = post_apply;
	p->intent.done = post_done;
	http_request_set_state(req, p, login_post_free);
	http_request_suspend(req);
	if (store_submit(gs->store, &p->intent) != STORE_OK)
		post_done(&p->intent, STORE_CLOSED);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The validation as the GET shows it (new reference). */
static json_t *login_json(const struct store_gamepot_login *l)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:b, s:I,"
			 " s:o, s:I, s:o}",
		"validation_id", (json_int_t)l->id,
		"account_id", l->account_id,
		"state", l->state,
		"result", l->has_result ? json_integer(l->result) : json_null(),
		"message", str_or_null(l->message),
		"member_id", l->member_id,
		"platform", str_or_null(l->platform),
		"remote_ip", str_or_null(l->remote_ip),
		"account_suspended", l->account_suspended,
		"attempts", (json_int_t)l->attempts,
		"last_error", str_or_null(l->last_error),
		"requested_at_millis", (json_int_t)l->created_at_ms,
		"validated_at_millis", l->validated_at_ms ?
			json_integer(l->validated_at_ms) : json_null());
}

static void keep_json(void *arg, const struct store_gamepot_login *l)
{
	*(json_t **)arg = login_json(l);
}

void sources_gamepot_login_get(struct http_request *req)
{
	const struct gamepot_settings *gs = http_request_ctx(req);
	const char *id = partner_account_param(req);
	struct store_account acct;
	json_t *doc = NULL;
	bool found;

	if (!id || !partner_account_found(req, gs->store, id, &acct))
		return;
	if (store_gamepot_login_latest(gs->store, id, keep_json, &doc, &found)) {
		json_decref(doc);
		partner_reply_store_error(req, STORE_ERR);
		return;
	}
	if (!found || !doc) {
		json_decref(doc);
		http_reply_error(req, 404, "LoginValidationNotFound", "account "
				 "\"%s\" has no GAMEPOT login validation", id);
		return;
	}
	http_reply_json(req, 200, doc);
}

/* ---- the outbox deliverer ------------------------------------------------- */

/* A pending validation as the deliverer holds it (copies, owned). */
struct login_copy {
	int64_t id;
	char *account_id, *member_id, *token, *remote_ip, *platform, *state;
};

static char *dup_or_empty(const char *s)
{
	return util_xstrdup(s ? s : "");
}

static void copy_row(void *arg, const struct store_gamepot_login *l)
{
	struct login_copy *c = arg;

	c->id = l->id;
	c->account_id = dup_or_empty(l->account_id);
	c->member_id = dup_or_empty(l->member_id);
	c->token = dup_or_empty(l->token);
	c->remote_ip = dup_or_empty(l->remote_ip);
	c->platform = dup_or_empty(l->platform);
	c->state = dup_or_empty(l->state);
}

/* Frees the copies, wiping the token first. */
static void login_copy_release(struct login_copy *c)
{
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	free(c->account_id);
	free(c->member_id);
	free(c->token);
	free(c->remote_ip);
	free(c->platform);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

/* The validation id of an outbox row's payload. Returns 0 or -1. */
static int payload_id(const char *payload, int64_t *id)
{
	json_t *j = json_loads(payload ? payload : "", 0, NULL);
	json_t *v = json_object_get(j, "validation_id");
	int rc = json_is_integer(v) && json_integer_value(v) > 0 ? 0 : -1;

	if (rc == 0)
		*id = json_integer_value(v);
	json_decref(j);
	return rc;
}

/* What GAMEPOT answered, recorded in one transaction. */
struct login_finish {
	const struct gamepot_settings *gs;
	const struct login_copy *c;
	enum sources_gp_login_state state;
	long long status;
	const char *message;
	bool recorded;       /* set by apply: the validation was pending */
	bool suspended;      /* set by apply: the account was suspended */
};

static const char *reason_of(enum sources_gp_login_state s)
{
	return s == SOURCES_GP_LOGIN_FORGED ?
	       "GAMEPOT refused the login token as forged (loginauth status -1)" :
	       "GAMEPOT found the login token to be another member's "
	       "(loginauth status -2)";
}

static int audit(struct store_tx *tx, const char *action, const char *target,
		 json_t *detail, int64_t now)
{
	char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	json_decref(detail);
	UTIL_ASSERT(text);
	rc = store_tx_audit_add(tx, &(struct store_audit){
		.at_ms = now, .actor = "gamepot", .action = action,
		.target = target, .detail = text,
	});
	free(text);
	return rc;
}

/* The failed record in the account's history that shows the suspension
 * (unless one of that key was recorded before). */
static int history_record(struct store_tx *tx, const struct login_finish *f,
			  int64_t now)
{
	struct store_fulfilment_ref existing;
	unsigned char digest[32];
	char ext[sizeof(HISTORY_PREFIX) + 24];
	int64_t row;
	int rc;

	snprintf(ext, sizeof(ext), HISTORY_PREFIX "%lld", (long long)f->c->id);
	util_sha256(ext, strlen(ext), digest);
	rc = store_tx_fulfilment_claim(tx, &(struct store_fulfilment){
		.source = source_gamepot.id, .external_id = ext,
		.account_id = f->c->account_id,
		.provider_item_id = HISTORY_ITEM, .fingerprint = digest,
		.status = STORE_FULFILMENT_FAILED,
		.error_code = history_code(f->state),
		.created_at_ms = now, .updated_at_ms = now,
	}, &row, &existing);
	return rc == STORE_CONFLICT ? STORE_OK : rc;  /* recorded before */
}

/* Suspends the validation's account if it is active. */
static int suspend(struct store_tx *tx, struct login_finish *f, int64_t now)
{
	enum store_account_state state;
	bool found, created;
	int rc;

	if ((rc = store_tx_account_get(tx, f->c->account_id, &state, &found)))
		return rc;
	if (!found || state != STORE_ACCOUNT_ACTIVE)
		return STORE_OK;   /* gone, or already suspended or banned */
	if ((rc = store_tx_account_put(tx, f->c->account_id,
				       STORE_ACCOUNT_SUSPENDED, now, &created)) ||
	    (rc = history_record(tx, f, now)) ||
	    (rc = engine_events_account_suspended(tx, f->c->account_id,
						  STORE_ACCOUNT_SUSPENDED,
						  &state, "gamepot_login",
						  f->c->id)))
		return rc;
	f->suspended = true;
	return STORE_OK;
}

/* NULL for an optional field left empty (JSON null in audit details). */
static const char *given(const char *s)
{
	return s && *s ? s : NULL;
}

/* The audit records of a forged or mismatched token: the failure, and
 * the suspension it caused. */
static int audit_failure(struct store_tx *tx, const struct login_finish *f,
			 int64_t now)
{
	const char *state = sources_gamepot_login_state_name(f->state);
	int rc;

	rc = audit(tx, "gamepot.login_failed", f->c->account_id,
		   json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s?, s:s?, s:b,"
			     " s:b}", "validation_id", (json_int_t)f->c->id,
			     "state", state, "result", (json_int_t)f->status,
			     "reason", reason_of(f->state),
			     "message", f->message,
			     "member_id", f->c->member_id,
			     "platform", given(f->c->platform),
			     "remote_ip", given(f->c->remote_ip),
			     "block_on_failure", f->gs->block_on_failure,
			     "account_suspended", f->suspended), now);
	if (rc || !f->suspended)
		return rc;
	return audit(tx, "gamepot.account_suspended", f->c->account_id,
		     json_pack("{s:I, s:s, s:s, s:I, s:s}", "validation_id",
			       (json_int_t)f->c->id, "reason",
			       reason_of(f->state), "previous_state", "active",
			       "result", (json_int_t)f->status, "state", state),
		     now);
}

static int finish_apply(struct store_tx *tx, void *arg)
{
	struct login_finish *f = arg;
	int64_t now = util_now_ms();
	bool failed = f->state == SOURCES_GP_LOGIN_FORGED ||
		      f->state == SOURCES_GP_LOGIN_MEMBER_MISMATCH;
	char state[32];
	bool found;
	int rc;

	f->recorded = f->suspended = false;
	if ((rc = store_tx_gamepot_login_state(tx, f->c->id, state,
					       sizeof(state), &found)))
		return rc;
	if (!found || strcmp(state, "pending") != 0)
		return STORE_OK;   /* answered before: a repeated delivery */
	if (failed && f->gs->block_on_failure && (rc = suspend(tx, f, now)))
		return rc;
	if (failed && (rc = audit_failure(tx, f, now)))
		return rc;
	rc = store_tx_gamepot_login_finish(tx, &(struct store_gamepot_login){
		.id = f->c->id,
		.state = sources_gamepot_login_state_name(f->state),
		.has_result = true, .result = f->status,
		.message = f->message, .account_suspended = f->suspended,
	}, now, &f->recorded);
	return rc;
}

/* A failed call to GAMEPOT, counted on the validation. */
struct login_attempt {
	int64_t id;
	const char *error;
};

static int attempt_apply(struct store_tx *tx, void *arg)
{
	struct login_attempt *a = arg;

	return store_tx_gamepot_login_attempt(tx, a->id, a->error,
					      util_now_ms());
}

static void log_result(const struct login_finish *f)
{
	bool failed = f->state == SOURCES_GP_LOGIN_FORGED ||
		      f->state == SOURCES_GP_LOGIN_MEMBER_MISMATCH;
	struct ops_log_line l;

	if (!ops_log_begin(&l, failed ? OPS_LOG_WARN : OPS_LOG_INFO,
			   "gamepot_login_validated"))
		return;
	ops_log_str(&l, "account_id", f->c->account_id);
	ops_log_int(&l, "validation_id", f->c->id);
	ops_log_str(&l, "state", sources_gamepot_login_state_name(f->state));
	ops_log_int(&l, "result", f->status);
	ops_log_bool(&l, "account_suspended", f->suspended);
	ops_log_end(&l);
}

/* The loginauth body: the token's only way out of grantd (owned; the
 * caller wipes it). */
static char *request_body(const struct gamepot_settings *gs,
			  const struct login_copy *c)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "projectId",
			      gs->project_id, "memberId", c->member_id,
			      "token", c->token, "remoteip", c->remote_ip,
			      "platform", c->platform);
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	UTIL_ASSERT(text);
	return text;
}

/* Calls loginauth for `c`. Returns 0 with the answer's status and
 * message, or -1 with why it should be tried again in error. */
static int call_loginauth(const struct gamepot_settings *gs,
			  const struct login_copy *c, long long *status,
			  char *message, char *error, size_t size)
{
	char *url = util_xasprintf("%s" LOGIN_PATH, gs->api_base);
	char *body = request_body(gs, c);
	struct outbound_request r = {
		.peer = "gamepot",
		.method = "POST", .url = url, .body = body,
		.body_len = strlen(body),
		.headers = { "Content-Type: application/json",
			     "Accept: application/json" },
		.timeout_ms = (long)gs->timeout_ms,
		.max_response_bytes = ANSWER_MAX,
	};
	struct outbound_result res;
	int rc = -1;

	outbound_run(gs->outbound, &r, &res, 1);
	memset(body, 0, r.body_len);
	free(body);
	free(url);
	if (res.error == OUTBOUND_TIMEOUT)
		snprintf(error, size, "gamepot: loginauth: no answer within "
			 "%lld ms", (long long)gs->timeout_ms);
	else if (res.error != OUTBOUND_OK)
		snprintf(error, size, "gamepot: loginauth: %s", res.message);
	else if (res.status < 200 || res.status > 299)
		snprintf(error, size, "gamepot: loginauth: HTTP %ld", res.status);
	else if (sources_gamepot_login_answer(res.body, res.len, status,
					      message, MESSAGE_MAX))
		snprintf(error, size, "gamepot: loginauth: HTTP %ld without "
			 "an integer status", res.status);
	else
		rc = 0;
	outbound_result_release(&res);
	return rc;
}

/* Asks GAMEPOT about pending validation `c` and records its answer. */
static enum outbox_verdict validate(const struct gamepot_settings *gs,
				    const struct login_copy *c, char *error,
				    size_t size)
{
	char message[MESSAGE_MAX];
	struct login_finish f = { .gs = gs, .c = c, .message = message };

	if (!*gs->project_id) {
		snprintf(error, size, "gamepot.project_id is not set");
		return OUTBOX_RETRY;
	}
	if (call_loginauth(gs, c, &f.status, message, error, size))
		return OUTBOX_RETRY;
	f.state = sources_gamepot_login_state_of(f.status);
	if (store_run(gs->store, finish_apply, &f)) {
		snprintf(error, size, "the store failed recording GAMEPOT's "
			 "answer");
		return OUTBOX_RETRY;
	}
	if (f.recorded)
		log_result(&f);
	return OUTBOX_DELIVERED;
}

/* Delivers a gamepot.login row: the validation it names, unless GAMEPOT
 * answered it before (a repeat after a crash). */
static enum outbox_verdict deliver(void *ctx, const struct store_outbox_item *it,
				   char *error, size_t size)
{
	const struct gamepot_settings *gs = ctx;
	struct login_copy c = { 0 };
	enum outbox_verdict v;
	bool found = false;
	int64_t id = 0;

	if (payload_id(it->payload, &id)) {
		snprintf(error, size, "a gamepot.login row without a "
			 "validation_id");
		return OUTBOX_DEAD;
	}
	if (store_gamepot_login_read(gs->store, id, copy_row, &c, &found)) {
		snprintf(error, size, "the store failed reading validation "
			 "%lld", (long long)id);
		return OUTBOX_RETRY;
	}
	if (!found || strcmp(c.state, "pending") != 0) {
		login_copy_release(&c);
		return OUTBOX_DELIVERED;
	}
	v = validate(gs, &c, error, size);
	if (v == OUTBOX_RETRY)
		store_run(gs->store, attempt_apply,
			  &(struct login_attempt){ c.id, error });
	login_copy_release(&c);
	return v;
}

void sources_gamepot_login_register(const struct gamepot_settings *gs)
{
	outbox_register(gs->outbox, SOURCES_GP_LOGIN_KIND, deliver,
			(void *)gs);
}
