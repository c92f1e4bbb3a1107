/* sources/gamepot_payments.c: POST /v1/accounts/{account_id}/gamepot/
 * external-payments — records a payment taken outside the stores with
 * GAMEPOT's external payment API (on the outbound loop), then grants its
 * product exactly once through the engine, keyed "external:<transaction_id>". */
#include "sources/sources.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "partner/partner.h"

#define PAY_PATH "/gpapps/v2/thirdparty/purchase"
/* Keeps these keys apart from the purchase webhook's (gamepotOrderId or
 * transactionId, in the same source). */
#define PAY_KEY_PREFIX "external:"
/* Most of GAMEPOT's answer read; it is a few dozen bytes. */
#define PAY_ANSWER_MAX 65536
#define PAY_TIMEOUT_DEFAULT_MS 5000
/* Integral prices below this are sent as JSON integers. */
#define PAY_EXACT_MAX 9007199254740992.0

static const struct {
	const char *name;
	const char *gp_name;
	size_t max;
	bool required;
} pay_fields[] = {
#define SOURCES_GP_PAY_ROW(id, name, gp_name, max, required) \
	{ name, gp_name, max, required },
	SOURCES_GP_PAY_FIELDS(SOURCES_GP_PAY_ROW)
#undef SOURCES_GP_PAY_ROW
};

/* ---- the request body -------------------------------------------------- */

static int body_fail(char *msg, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int body_fail(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* Characters (code points) of valid UTF-8 s[0..n); -1 if it holds a
 * control character. */
static long utf8_chars(const char *s, size_t n)
{
	long chars = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return -1;
		chars += (c & 0xc0) != 0x80;
	}
	return chars;
}

/* Checks string field i of obj into out->field[i]. Returns 0 or -1. */
static int take_string(json_t *obj, size_t i, struct sources_gp_payment *out,
		       char *msg, size_t size)
{
	const char *name = pay_fields[i].name;
	json_t *v = json_object_get(obj, name);
	long chars;

	if (!v && pay_fields[i].required)
		return body_fail(msg, size, "%s: is required", name);
	if (!v) {
		out->field[i] = "";
		return 0;
	}
	if (!json_is_string(v))
		return body_fail(msg, size, "%s: must be a string", name);
	chars = utf8_chars(json_string_value(v), json_string_length(v));
	if (chars < 0)
		return body_fail(msg, size, "%s: must not contain control "
				 "characters", name);
	if (chars == 0 && pay_fields[i].required)
		return body_fail(msg, size, "%s: must not be empty", name);
	if ((size_t)chars > pay_fields[i].max)
		return body_fail(msg, size, "%s: must be at most %zu characters "
				 "(got %ld)", name, pay_fields[i].max, chars);
	out->field[i] = json_string_value(v);
	return 0;
}

/* The price as GAMEPOT's Number: a non-negative integer or finite real.
 * Returns a new reference, or NULL with msg. */
static json_t *take_price(json_t *obj, char *msg, size_t size)
{
	json_t *v = json_object_get(obj, "price");
	double d;

	if (!v) {
		body_fail(msg, size, "price: is required");
		return NULL;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0) {
			body_fail(msg, size, "price: must not be negative");
			return NULL;
		}
		return json_incref(v);
	}
	if (!json_is_real(v)) {
		body_fail(msg, size, "price: must be a number (GAMEPOT "
			  "refuses any other type)");
		return NULL;
	}
	d = json_real_value(v);
	if (!isfinite(d) || d < 0) {
		body_fail(msg, size, "price: must be a finite number, not "
			  "negative");
		return NULL;
	}
	/* 1000.0 and 1000 are the same payment (and the same fingerprint) */
	if (d < PAY_EXACT_MAX && floor(d) == d)
		return json_integer((json_int_t)d);
	return json_real(d);
}

/* Refuses any member that is not one of the fields. */
static int check_names(json_t *obj, char *msg, size_t size)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		bool known = strcmp(k, "price") == 0;

		for (size_t i = 0; i < SOURCES_GP_PAY_FIELD_COUNT && !known; i++)
			known = strcmp(k, pay_fields[i].name) == 0;
		if (!known)
			return body_fail(msg, size, "body: unknown field "
					 "\"%.64s\"", k);
	}
	return 0;
}

int sources_gamepot_payment_parse(const char *body, size_t len, json_t **root,
				  struct sources_gp_payment *out, char *msg,
				  size_t msg_size)
{
	json_error_t jerr;
	json_t *r;

	*root = NULL;
	memset(out, 0, sizeof(*out));
	r = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return -1;
	}
	if (!json_is_object(r)) {
		body_fail(msg, msg_size, "body: must be a JSON object");
		goto fail;
	}
	if (check_names(r, msg, msg_size))
		goto fail;
	for (size_t i = 0; i < SOURCES_GP_PAY_FIELD_COUNT; i++)
		if (take_string(r, i, out, msg, msg_size))
			goto fail;
	if (!(out->price = take_price(r, msg, msg_size)))
		goto fail;
	*root = r;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	json_decref(r);
	return -1;
}

void sources_gamepot_payment_release(json_t *root, struct sources_gp_payment *p)
{
	json_decref(p->price);
	memset(p, 0, sizeof(*p));
	json_decref(root);
}

/* ---- GAMEPOT's answer -------------------------------------------------- */

/* Copies valid UTF-8 text into out (SOURCES_GP_MESSAGE_MAX + 1 bytes),
 * control characters as spaces, cut on a character boundary. */
static void copy_message(const char *s, size_t n, char *out)
{
	if (n > SOURCES_GP_MESSAGE_MAX) {
		n = SOURCES_GP_MESSAGE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
	}
	out[n] = '\0';
}

/* The message of GAMEPOT's body, or of the API gateway's error envelope
 * {"error": {"message", "details"}}. */
static void take_message(json_t *body, struct sources_gp_pay_answer *out)
{
	json_t *m = json_object_get(body, "message");
	json_t *e = json_object_get(body, "error");

	if (!json_is_string(m) && json_is_object(e)) {
		m = json_object_get(e, "details");
		if (!json_is_string(m) || !json_string_length(m))
			m = json_object_get(e, "message");
	}
	if (json_is_string(m))
		copy_message(json_string_value(m), json_string_length(m),
			     out->message);
}

static enum sources_gp_pay_result result_of(json_int_t status)
{
	switch (status) {
	case 1: return SOURCES_GP_PAY_ACCEPTED;
	case -1: return SOURCES_GP_PAY_MISSING_DATA;
	case -2: return SOURCES_GP_PAY_INVALID_PRICE;
	case -3: return SOURCES_GP_PAY_INVALID_PROJECT;
	case -4: return SOURCES_GP_PAY_NOT_SUPPORTED;
	case -5: return SOURCES_GP_PAY_DUPLICATE;
	case -6: return SOURCES_GP_PAY_DB_ERROR;
	default: return SOURCES_GP_PAY_BAD_ANSWER;
	}
}

void sources_gamepot_payment_answer(long http_status, const char *body,
				    size_t len, struct sources_gp_pay_answer *out)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *status = json_object_get(root, "status");

	memset(out, 0, sizeof(*out));
	out->result = SOURCES_GP_PAY_BAD_ANSWER;
	if (json_is_object(root))
		take_message(root, out);
	if (http_status == 401 || http_status == 403)
		out->result = SOURCES_GP_PAY_KEY_REFUSED;
	else if (http_status >= 500 || http_status == 408 || http_status == 429)
		out->result = SOURCES_GP_PAY_UNAVAILABLE;
	else if (http_status >= 200 && http_status <= 299 &&
		 json_is_integer(status)) {
		out->has_status = true;
		out->status = json_integer_value(status);
		out->result = result_of(out->status);
	}
	json_decref(root);
}

/* ---- one payment in flight --------------------------------------------- */

/* The request's state, freed by http when it completes: the job, the
 * parsed body its strings borrow from, the key, and GAMEPOT's answer. */
struct pay_request {
	struct engine_job job;
	struct http_request *req;
	const struct gamepot_settings *gs;
	json_t *root;
	struct sources_gp_payment p;
	char account_id[STORE_ACCOUNT_ID_MAX + 1];
	char external_id[STORE_EXTERNAL_ID_MAX + 1];
	char *extra;
	struct sources_gp_pay_answer answer;
};

static void pay_request_free(void *arg)
{
	struct pay_request *pr = arg;

	sources_gamepot_payment_release(pr->root, &pr->p);
	free(pr->extra);
	free(pr);
}

/* "external:<transaction_id>"; when that is longer than a store key or
 * not printable ASCII, "external:sha256:<hex of transaction_id>". */
static void make_key(const char *id, char out[STORE_EXTERNAL_ID_MAX + 1])
{
	size_t n = strlen(id);
	char hex[65];

	if (sizeof(PAY_KEY_PREFIX) - 1 + n <= STORE_EXTERNAL_ID_MAX &&
	    util_is_printable_ascii(id, n)) {
		snprintf(out, STORE_EXTERNAL_ID_MAX + 1, PAY_KEY_PREFIX "%s", id);
		return;
	}
	util_sha256_hex(id, n, hex);
	snprintf(out, STORE_EXTERNAL_ID_MAX + 1, PAY_KEY_PREFIX "sha256:%s", hex);
}

/* The fields the entitlement does not carry, as NUL-free text for the
 * fingerprint: a repeat that differs in any of them is a conflict. */
static char *fingerprint_text(const struct sources_gp_payment *p)
{
	json_t *a = json_pack("[s, s, O, s, s]", p->field[SOURCES_GP_PAY_STORE],
			      p->field[SOURCES_GP_PAY_CURRENCY], p->price,
			      p->field[SOURCES_GP_PAY_PAYMENT_ID],
			      p->field[SOURCES_GP_PAY_UNIQUE_ID]);
	char *text = a ? json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

	json_decref(a);
	if (!text)
		util_bug(__FILE__, __LINE__, "fingerprint text");
	return text;
}

/* GAMEPOT's answer as it appears in replies (new reference). */
static json_t *answer_json(const struct sources_gp_pay_answer *a)
{
	return json_pack("{s:I, s:s}", "status", (json_int_t)a->status,
			 "message", a->message);
}

/* ---- the reply once the engine has decided ----------------------------- */

/* Each failed outcome in the partner API's words. */
static const struct {
	unsigned status;
	const char *code;
} grant_errors[] = {
	[ENGINE_INVALID_CUSTOMER] = { 404, "AccountNotFound" },
	[ENGINE_INVALID_ITEM] = { 400, "UnknownProduct" },
	[ENGINE_OUTSIDE_WINDOW] = { 400, "ProductNotAvailable" },
	[ENGINE_ALREADY_OWNED] = { 409, "ContentAlreadyOwned" },
	[ENGINE_ACCOUNT_STATE] = { 409, "AccountStateError" },
	[ENGINE_CONFLICT] = { 409, "TransactionConflict" },
	[ENGINE_STORE_ERROR] = { 503, "StoreUnavailable" },
	[ENGINE_UNAVAILABLE] = { 503, "ShuttingDown" },
};

/* A grant that failed after GAMEPOT recorded the payment: the message
 * says so, and that the same call grants it once the cause is gone. */
static void reply_not_granted(struct pay_request *pr)
{
	const struct engine_job *job = &pr->job;
	enum engine_outcome o = job->outcome;
	const char *tid = pr->p.field[SOURCES_GP_PAY_TRANSACTION_ID];

	if (o == ENGINE_CONFLICT) {
		http_reply_error(pr->req, 409, "TransactionConflict",
				 "transaction_id \"%.128s\" was already used for "
				 "a different payment", tid);
		return;
	}
	ops_log(OPS_LOG_WARN, "gamepot_payment_not_granted", "account %s "
		"transaction %s: GAMEPOT holds the payment (status %lld) but "
		"the grant failed: %s: %s", job->ent.account_id, pr->external_id,
		(long long)pr->answer.status, engine_outcome_code(o),
		job->message);
	if (grant_errors[o].status == 503)
		http_reply_header(pr->req, "Retry-After", "1");
	http_reply_error(pr->req, grant_errors[o].status, grant_errors[o].code,
			 "%s; GAMEPOT holds the payment (status %lld): make the "
			 "same call again once this is resolved to grant it",
			 job->message, (long long)pr->answer.status);
}

/* Runs once the outcome is durable; the reply is the last use of pr. */
static void pay_done(struct engine_job *job)
{
	struct pay_request *pr = UTIL_CONTAINER_OF(job, struct pay_request, job);
	bool granted = job->outcome == ENGINE_GRANTED;
	json_t *body;

	if (!engine_outcome_ok(job->outcome)) {
		reply_not_granted(pr);
		return;
	}
	body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
			 "fulfillment_id", job->fulfillment_id,
			 "outcome", granted ? "granted" : "replayed",
			 "account_id", pr->account_id,
			 "product_id", pr->p.field[SOURCES_GP_PAY_PRODUCT_ID],
			 "transaction_id",
			 pr->p.field[SOURCES_GP_PAY_TRANSACTION_ID],
			 "gamepot", answer_json(&pr->answer));
	UTIL_ASSERT(body);
	http_reply_json(pr->req, granted ? 201 : 200, body);
}

/* ---- after GAMEPOT answered --------------------------------------------- */

/* GAMEPOT's refusals and failures: nothing was recorded there, nothing is
 * granted here. */
static const struct {
	unsigned status;
	const char *code;
	const char *what;
} refusals[] = {
	[SOURCES_GP_PAY_MISSING_DATA] = { 400, "GamepotMissingData",
		"GAMEPOT found data missing from the payment" },
	[SOURCES_GP_PAY_INVALID_PRICE] = { 400, "GamepotInvalidPrice",
		"GAMEPOT refused the price as not a number" },
	[SOURCES_GP_PAY_INVALID_PROJECT] = { 400, "GamepotInvalidProject",
		"GAMEPOT refused the project id (gamepot.project_id)" },
	[SOURCES_GP_PAY_NOT_SUPPORTED] = { 400, "GamepotNotSupported",
		"the GAMEPOT project does not support external payments "
		"(contact GAMEPOT to enable them)" },
	[SOURCES_GP_PAY_DB_ERROR] = { 502, "GamepotDatabaseError",
		"GAMEPOT's database failed; retry the same call" },
	[SOURCES_GP_PAY_KEY_REFUSED] = { 502, "GamepotKeyRefused",
		"GAMEPOT refused the API key (gamepot.api_key)" },
	[SOURCES_GP_PAY_UNAVAILABLE] = { 502, "GamepotUnavailable",
		"GAMEPOT is unavailable; retry the same call" },
	[SOURCES_GP_PAY_BAD_ANSWER] = { 502, "GamepotBadAnswer",
		"GAMEPOT's answer was not a documented result; retry the "
		"same call" },
};

static void reply_refusal(struct pay_request *pr, long http_status)
{
	const struct sources_gp_pay_answer *a = &pr->answer;

	if (a->has_status)
		http_reply_error(pr->req, refusals[a->result].status,
				 refusals[a->result].code, "%s (GAMEPOT status "
				 "%lld%s%s); nothing was granted",
				 refusals[a->result].what, (long long)a->status,
				 a->message[0] ? ": " : "", a->message);
	else
		http_reply_error(pr->req, refusals[a->result].status,
				 refusals[a->result].code, "%s (HTTP %ld%s%s); "
				 "nothing was granted", refusals[a->result].what,
				 http_status, a->message[0] ? ": " : "",
				 a->message);
}

/* Hands a payment GAMEPOT holds to the engine. */
static void grant(struct pay_request *pr)
{
	const struct gamepot_settings *gs = pr->gs;

	pr->extra = fingerprint_text(&pr->p);
	pr->job.ent = (struct engine_entitlement){
		.source = source_gamepot.id,
		.provider = CATALOG_GAMEPOT_PRODUCT,
		.external_id = pr->external_id,
		.account_id = pr->account_id,
		.provider_item_id = pr->p.field[SOURCES_GP_PAY_PRODUCT_ID],
		.quantity = 1,
		.received_at_ms = util_now_ms(),
		.fingerprint_extra = pr->extra,
	};
	engine_submit(gs->engine, &pr->job, pay_done);
}

/* Runs on the outbound loop once GAMEPOT has answered (or not). */
static void gamepot_answered(const struct outbound_response *resp, void *arg)
{
	struct pay_request *pr = arg;
	struct http_request *req = pr->req;

	if (resp->error == OUTBOUND_CLOSED) {
		http_reply_header(req, "Retry-After", "1");
		http_reply_error(req, 503, "ShuttingDown", "grantd is shutting "
				 "down; nothing was granted, retry the same call");
		return;
	}
	if (resp->error == OUTBOUND_TIMEOUT) {
		http_reply_error(req, 502, "GamepotUnavailable", "GAMEPOT did not "
				 "answer within %lld ms; nothing was granted, "
				 "retry the same call",
				 (long long)pr->gs->timeout_ms);
		return;
	}
	if (resp->error != OUTBOUND_OK) {
		http_reply_error(req, 502, "GamepotUnavailable", "GAMEPOT could "
				 "not be reached (%s); nothing was granted, retry "
				 "the same call", resp->message ? resp->message :
				 outbound_error_name(resp->error));
		return;
	}
	sources_gamepot_payment_answer(resp->status, resp->body, resp->len,
				       &pr->answer);
	if (pr->answer.result != SOURCES_GP_PAY_ACCEPTED &&
	    pr->answer.result != SOURCES_GP_PAY_DUPLICATE) {
		if (pr->answer.result >= SOURCES_GP_PAY_DB_ERROR)
			ops_log(OPS_LOG_WARN, "gamepot_payment_failed", "account "
				"%s transaction %s: %s (HTTP %ld)",
				pr->account_id, pr->external_id,
				refusals[pr->answer.result].code, resp->status);
		reply_refusal(pr, resp->status);
		return;
	}
	grant(pr);
}

/* ---- the request -------------------------------------------------------- */

/* Refuses, before GAMEPOT records anything, what the grant would refuse:
 * an account that is missing or not active, a product no catalog entry
 * maps or that is outside its window. Returns 0, or -1 after a reply. */
static int precheck(struct http_request *req, const struct gamepot_settings *gs,
		    const char *account_id, const char *product_id)
{
	struct store_account acct;
	struct catalog *c;
	const struct catalog_entitlement *e;
	int64_t now = util_now_ms();
	int rc = -1;

	if (!partner_account_found(req, gs->store, account_id, &acct))
		return -1;
	if (acct.state != STORE_ACCOUNT_ACTIVE) {
		http_reply_error(req, 409, "AccountStateError", "account \"%s\" "
				 "is %s; nothing was sent to GAMEPOT", account_id,
				 store_account_state_name(acct.state));
		return -1;
	}
	c = catalog_holder_get(gs->catalog);
	e = c ? catalog_lookup(c, CATALOG_GAMEPOT_PRODUCT, product_id) : NULL;
	if (!e)
		http_reply_error(req, 400, "UnknownProduct", "product_id: no "
				 "catalog entry maps gamepot.productId "
				 "\"%.256s\"; nothing was sent to GAMEPOT",
				 product_id);
	else if ((e->has_starts_at && now < e->starts_at_ms) ||
		 (e->has_ends_at && now >= e->ends_at_ms))
		http_reply_error(req, 400, "ProductNotAvailable", "product_id: "
				 "catalog entry \"%s\" is outside its "
				 "availability window; nothing was sent to "
				 "GAMEPOT", e->id);
	else
		rc = 0;
	catalog_unref(c);
	return rc;
}

/* Reads the body; replies 400 unless it is valid. */
static int read_body(struct http_request *req, json_t **root,
		     struct sources_gp_payment *p)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	char msg[512];

	if (sources_gamepot_payment_parse(body, len, root, p, msg, sizeof(msg)) == 0)
		return 0;
	http_reply_error(req, 400, "InvalidRequest", "%s", msg);
	return -1;
}

/* GAMEPOT's external payment body (new text), or NULL if the configured
 * project id is not UTF-8 text. */
static char *gamepot_body(const struct pay_request *pr)
{
	const struct sources_gp_payment *p = &pr->p;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s}",
			      "projectId", pr->gs->project_id,
			      "store", p->field[SOURCES_GP_PAY_STORE],
			      "productId", p->field[SOURCES_GP_PAY_PRODUCT_ID],
			      "transactionId",
			      p->field[SOURCES_GP_PAY_TRANSACTION_ID],
			      "memberId", pr->account_id,
			      "currency", p->field[SOURCES_GP_PAY_CURRENCY],
			      "price", p->price,
			      "paymentId", p->field[SOURCES_GP_PAY_PAYMENT_ID],
			      "uniqueId", p->field[SOURCES_GP_PAY_UNIQUE_ID]);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return text;
}

/* Sends the payment to GAMEPOT; gamepot_answered replies. */
static void send_payment(struct pay_request *pr)
{
	const struct gamepot_settings *gs = pr->gs;
	struct outbound_request out = { .peer = "gamepot", .method = "POST" };
	char *body = gamepot_body(pr), *url, *key;

	if (!body) {
		http_reply_error(pr->req, 503, "GamepotNotConfigured",
				 "gamepot.project_id: must be UTF-8 text");
		return;
	}
	url = util_xasprintf("%s" PAY_PATH, gs->api_base);
	key = util_xasprintf("x-api-key: %s", gs->api_key);
	out.url = url;
	out.headers[0] = "Content-Type: application/json";
	out.headers[1] = "Accept: application/json";
	out.headers[2] = key;
	out.body = body;
	out.body_len = strlen(body);
	out.timeout_ms = gs->timeout_ms > 0 ? (long)gs->timeout_ms :
			 PAY_TIMEOUT_DEFAULT_MS;
	out.max_response_bytes = PAY_ANSWER_MAX;
	out.done = gamepot_answered;
	out.arg = pr;
	http_request_suspend(pr->req);
	if (outbound_submit(gs->outbound, &out)) {
		http_reply_header(pr->req, "Retry-After", "1");
		http_reply_error(pr->req, 503, "ShuttingDown", "grantd is "
				 "shutting down; nothing was sent to GAMEPOT");
	}
	memset(key, 0, strlen(key));
	free(key);
	free(url);
	free(body);
}

void sources_gamepot_payment_handler(struct http_request *req)
{
	const struct gamepot_settings *gs = http_request_ctx(req);
	const char *account_id = partner_account_param(req);
	struct sources_gp_payment p;
	struct pay_request *pr;
	json_t *root;

	if (!account_id || read_body(req, &root, &p))
		return;
	if (!*gs->api_key || !*gs->project_id || !gs->api_base ||
	    !*gs->api_base) {
		sources_gamepot_payment_release(root, &p);
		http_reply_error(req, 503, "GamepotNotConfigured", "GAMEPOT "
				 "external payments are off: set %s",
				 !*gs->api_key ? "gamepot.api_key" :
				 !*gs->project_id ? "gamepot.project_id" :
				 "gamepot.api_base");
		return;
	}
	if (precheck(req, gs, account_id, p.field[SOURCES_GP_PAY_PRODUCT_ID])) {
		sources_gamepot_payment_release(root, &p);
		return;
	}
	pr = util_xcalloc(1, sizeof(*pr));
	pr->req = req;
	pr->gs = gs;
	pr->root = root;
	pr->p = p;
	snprintf(pr->account_id, sizeof(pr->account_id), "%s", account_id);
	make_key(p.field[SOURCES_GP_PAY_TRANSACTION_ID], pr->external_id);
	http_request_log_transaction(req, pr->external_id);
	http_request_set_state(req, pr, pay_request_free);
	send_payment(pr);
}
