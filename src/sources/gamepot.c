/* sources/gamepot.c: GAMEPOT's purchase webhook — the documented query
 * (or form) fields in, its {"status", "message"} body out, exactly once
 * through the engine — and what every GAMEPOT webhook shares: the secret
 * in the path as the only credential, the form parser, the replies. */
#include "sources/gamepot_int.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "ops/ops.h"
#include "store/store.h"

static const struct gamepot_field gp_fields[] = {
#define SOURCES_GP_ROW(id, name, max) { name, max },
	SOURCES_GP_FIELDS(SOURCES_GP_ROW)
#undef SOURCES_GP_ROW
};

/* The reply GAMEPOT reads: HTTP 200 for both results (GAMEPOT looks at
 * the body). */
const char gamepot_success[] = "{\"status\": 1, \"message\": \"\"}";

void sources_gamepot_purchase_release(struct sources_gp_purchase *p)
{
	gamepot_fields_release(p->field, SOURCES_GP_FIELD_COUNT);
	p->test_payment = false;
}

void gamepot_fields_release(char **field, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(field[i]);
		field[i] = NULL;
	}
}

static int find_field(const struct gamepot_field *spec, size_t n_spec,
		      const char *name, size_t n)
{
	for (size_t i = 0; i < n_spec; i++)
		if (strlen(spec[i].name) == n &&
		    memcmp(spec[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

/* Decodes one name=value pair into field[]. Returns 0 or -1 with msg. */
static int take_pair(const char *p, size_t n, const struct gamepot_field *spec,
		     size_t n_spec, bool seen[], char **field, char *msg,
		     size_t size)
{
	const char *eq = memchr(p, '=', n);
	size_t kn = eq ? (size_t)(eq - p) : n, vn = eq ? n - kn - 1 : 0;
	char key[32], *v;
	long klen, vlen;
	int f;

	if (kn >= sizeof(key))
		return 0;       /* longer than any name we know: ignored */
	klen = util_percent_decode(p, kn, key, true);
	if (klen < 0) {
		snprintf(msg, size, "a parameter name is malformed");
		return -1;
	}
	if ((f = find_field(spec, n_spec, key, (size_t)klen)) < 0)
		return 0;
	if (seen[f]) {
		snprintf(msg, size, "%s: given more than once", spec[f].name);
		return -1;
	}
	seen[f] = true;
	v = util_xmalloc(vn + 1);
	vlen = eq ? util_percent_decode(eq + 1, vn, v, true) : 0;
	if (vlen < 0) {
		snprintf(msg, size, "%s: malformed %%-escape or encoded NUL",
			 spec[f].name);
		free(v);
		return -1;
	}
	v[vlen] = '\0';
	if ((size_t)vlen > spec[f].max) {
		snprintf(msg, size, "%s: must be at most %zu bytes (got %ld)",
			 spec[f].name, spec[f].max, vlen);
		free(v);
		return -1;
	}
	if (vlen == 0) {
		free(v);
		return 0;       /* empty: as if absent */
	}
	field[f] = v;
	return 0;
}

int gamepot_form_parse(const char *form, size_t len,
		       const struct gamepot_field *spec, size_t n_spec,
		       char **field, char *msg, size_t msg_size)
{
	bool seen[GAMEPOT_FIELDS_MAX] = { false };
	const char *p = form, *end = form + len;

	UTIL_ASSERT(n_spec <= GAMEPOT_FIELDS_MAX);
	memset(field, 0, n_spec * sizeof(*field));
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);

		if (n && take_pair(p, n, spec, n_spec, seen, field, msg,
				   msg_size)) {
			gamepot_fields_release(field, n_spec);
			return -1;
		}
		p += n + 1;
	}
	return 0;
}

int sources_gamepot_parse(const char *form, size_t len,
			  struct sources_gp_purchase *out, char *msg,
			  size_t msg_size)
{
	static const enum sources_gp_field required[] = {
		SOURCES_GP_USER_ID, SOURCES_GP_PROJECT_ID, SOURCES_GP_PRODUCT_ID,
	};
	const char *tp;

	memset(out, 0, sizeof(*out));
	if (gamepot_form_parse(form, len, gp_fields, SOURCES_GP_FIELD_COUNT,
			       out->field, msg, msg_size))
		return -1;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(required); i++) {
		if (!out->field[required[i]]) {
			snprintf(msg, msg_size, "%s: required",
				 gp_fields[required[i]].name);
			goto fail;
		}
	}
	if (!out->field[SOURCES_GP_GAMEPOT_ORDER_ID] &&
	    !out->field[SOURCES_GP_TRANSACTION_ID]) {
		snprintf(msg, msg_size, "gamepotOrderId or transactionId: required");
		goto fail;
	}
	tp = out->field[SOURCES_GP_TP];
	if (tp && strcmp(tp, "0") != 0 && strcmp(tp, "1") != 0) {
		snprintf(msg, msg_size, "tp: must be 0 or 1");
		goto fail;
	}
	out->test_payment = tp && strcmp(tp, "1") == 0;
	return 0;
fail:
	sources_gamepot_purchase_release(out);
	return -1;
}

/* One in-flight purchase: the job, the parsed fields its strings borrow
 * from, and the key and fingerprint text. Freed by http. */
struct gp_request {
	struct engine_job job;
	struct http_request *req;
	struct sources_gp_purchase p;
	char external_id[STORE_EXTERNAL_ID_MAX + 1];
	char *extra;
};

static void gp_request_free(void *arg)
{
	struct gp_request *gp = arg;

	sources_gamepot_purchase_release(&gp->p);
	free(gp->extra);
	free(gp);
}

void gamepot_reply_failure(struct http_request *req, unsigned status,
			   const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_reply_json(req, status, json_pack("{s:i, s:s}", "status", 0,
					       "message", msg));
}

/* The path secret against every configured one, in constant time: the
 * SHA-256 of each is compared, so neither content nor length leaks, and
 * every secret is tried whatever matched. */
static bool secret_ok(const struct gamepot_settings *gs, const char *given)
{
	unsigned char want[32], got[32];
	bool ok = false;

	util_sha256(given, strlen(given), got);
	for (size_t i = 0; i < gs->n_secrets; i++) {
		util_sha256(gs->secrets[i], strlen(gs->secrets[i]), want);
		ok |= CRYPTO_memcmp(want, got, sizeof(got)) == 0;
	}
	return ok;
}

static bool address_ok(const struct gamepot_settings *gs,
		       const struct http_request *req)
{
	const void *sa;

	if (!gs->n_allowed)
		return true;
	sa = http_request_client_addr(req);
	for (size_t i = 0; i < gs->n_allowed; i++)
		if (util_cidr_contains(&gs->allowed[i], sa))
			return true;
	return false;
}

/* A purchase's idempotency key is gamepotOrderId, else transactionId;
 * one longer than a store key (or not printable ASCII) is kept as
 * "sha256:<hex>" of itself, the same on every delivery. */
void gamepot_make_key(const char *id, char out[STORE_EXTERNAL_ID_MAX + 1])
{
	size_t n = strlen(id);
	char hex[65];

	if (n <= STORE_EXTERNAL_ID_MAX && util_is_printable_ascii(id, n)) {
		memcpy(out, id, n + 1);
		return;
	}
	util_sha256_hex(id, n, hex);
	snprintf(out, STORE_EXTERNAL_ID_MAX + 1, "sha256:%s", hex);
}

/* Every field, as a JSON array (NUL-free), for the fingerprint. */
static char *fingerprint_text(const struct sources_gp_purchase *p)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; i < SOURCES_GP_FIELD_COUNT; i++)
		json_array_append_new(a, p->field[i] ?
				      json_stringn(p->field[i],
						   strlen(p->field[i])) :
				      json_null());
	text = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!text)
		util_bug(__FILE__, __LINE__, "fingerprint text");
	return text;
}

/* In the grant's transaction: a test payment is recorded in the audit log
 * (history has no column for it). */
static int record_test_payment(struct store_tx *tx, struct engine_job *job)
{
	struct gp_request *gp = UTIL_CONTAINER_OF(job, struct gp_request, job);
	json_t *d;
	char *detail;
	int rc;

	if (job->outcome != ENGINE_GRANTED)
		return 0;
	d = json_pack("{s:s, s:s, s:s, s:b}", "source", "gamepot",
		      "external_id", gp->external_id, "productId",
		      gp->p.field[SOURCES_GP_PRODUCT_ID], "test_payment", 1);
	detail = json_dumps(d, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(d);
	rc = store_tx_audit_add(tx, &(struct store_audit){
		.at_ms = util_now_ms(), .actor = "gamepot",
		.action = "gamepot.test_payment", .target = job->ent.account_id,
		.detail = detail,
	});
	free(detail);
	return rc;
}

/* Runs once the outcome is durable; the reply is the last use of gp. */
static void gp_done(struct engine_job *job)
{
	struct gp_request *gp = UTIL_CONTAINER_OF(job, struct gp_request, job);
	enum engine_outcome o = job->outcome;

	if (engine_outcome_ok(o)) {
		if (gp->p.test_payment && o == ENGINE_GRANTED)
			ops_log(OPS_LOG_INFO, "gamepot_test_payment",
				"account %s order %s granted as a test payment",
				job->ent.account_id, gp->external_id);
		http_reply_static(gp->req, 200, gamepot_success);
		return;
	}
	if (o == ENGINE_STORE_ERROR || o == ENGINE_UNAVAILABLE) {
		/* grantd failed: GAMEPOT's caller must see a failure */
		http_reply_header(gp->req, "Retry-After", "1");
		gamepot_reply_failure(gp->req, 503, "%s: %s", engine_outcome_code(o),
			      job->message);
		return;
	}
	gamepot_reply_failure(gp->req, 200, "%s: %s", engine_outcome_code(o),
		      job->message);
}

int gamepot_webhook_form(struct http_request *req,
			 const struct gamepot_settings *gs, const char **form,
			 size_t *len)
{
	const char *secret = http_request_param(req, "webhook_secret");
	static const char form_type[] = "application/x-www-form-urlencoded";

	if (!address_ok(gs, req)) {
		gamepot_reply_failure(req, 403, "this address may not call the "
				      "webhook");
		return -1;
	}
	if (!secret || !secret_ok(gs, secret)) {
		http_reply_error(req, 404, "NotFound", "no such webhook");
		return -1;
	}
	if (http_request_content_type_is(req, form_type) ||
	    http_request_body(req, len)[0]) {
		if (!http_request_content_type_is(req, form_type)) {
			gamepot_reply_failure(req, 200, "body: must be %s",
					      form_type);
			return -1;
		}
		*form = http_request_body(req, len);
	} else {
		*form = http_request_query_string(req);
		*len = strlen(*form);
	}
	return 0;
}

bool gamepot_project_ok(const struct gamepot_settings *gs, const char *given)
{
	return *gs->project_id && given && strcmp(given, gs->project_id) == 0;
}

/* GET or POST /v1/gamepot/{webhook_secret}/purchase. */
static void purchase(struct http_request *req)
{
	const struct gamepot_settings *gs = http_request_ctx(req);
	struct sources_gp_purchase p;
	struct gp_request *gp;
	const char *form, *id;
	char msg[512];
	size_t len;

	if (gamepot_webhook_form(req, gs, &form, &len))
		return;
	if (sources_gamepot_parse(form, len, &p, msg, sizeof(msg))) {
		gamepot_reply_failure(req, 200, "%s", msg);
		return;
	}
	http_request_log_account(req, p.field[SOURCES_GP_USER_ID]);
	if (!gamepot_project_ok(gs, p.field[SOURCES_GP_PROJECT_ID])) {
		sources_gamepot_purchase_release(&p);
		gamepot_reply_failure(req, 200, "projectId: not this server's project");
		return;
	}
	if (p.test_payment && gs->reject_test_payments) {
		sources_gamepot_purchase_release(&p);
		gamepot_reply_failure(req, 200, "test payments are not accepted "
			      "(gamepot.test_payments: reject)");
		return;
	}
	gp = util_xcalloc(1, sizeof(*gp));
	gp->req = req;
	gp->p = p;
	id = p.field[SOURCES_GP_GAMEPOT_ORDER_ID];
	gamepot_make_key(id ? id : p.field[SOURCES_GP_TRANSACTION_ID], gp->external_id);
	gp->extra = fingerprint_text(&gp->p);
	http_request_log_transaction(req, gp->external_id);
	gp->job.ent = (struct engine_entitlement){
		.source = source_gamepot.id,
		.provider = CATALOG_GAMEPOT_PRODUCT,
		.external_id = gp->external_id,
		.account_id = gp->p.field[SOURCES_GP_USER_ID],
		.provider_item_id = gp->p.field[SOURCES_GP_PRODUCT_ID],
		.quantity = 1,
		.received_at_ms = util_now_ms(),
		.fingerprint_extra = gp->extra,
	};
	if (gp->p.test_payment)
		gp->job.also = record_test_payment;
	http_request_set_state(req, gp, gp_request_free);
	http_request_suspend(req);
	engine_submit(gs->engine, &gp->job, gp_done);
}

static const enum catalog_provider namespaces[] = {
	CATALOG_GAMEPOT_PRODUCT, CATALOG_GAMEPOT_ITEM,
};

static const struct source_route routes[] = {
	{ HTTP_GET, "/v1/gamepot/{webhook_secret}/purchase", purchase,
	  HTTP_ROUTE_SECRET_PARAMS, "gamepot.purchase", NULL },
	{ HTTP_POST, "/v1/gamepot/{webhook_secret}/purchase", purchase,
	  HTTP_ROUTE_SECRET_PARAMS, "gamepot.purchase", NULL },
	{ HTTP_GET, "/v1/gamepot/{webhook_secret}/coupon",
	  gamepot_coupon_handler, HTTP_ROUTE_SECRET_PARAMS, "gamepot.coupon",
	  NULL },
	{ HTTP_POST, "/v1/gamepot/{webhook_secret}/coupon",
	  gamepot_coupon_handler, HTTP_ROUTE_SECRET_PARAMS, "gamepot.coupon",
	  NULL },
};

const struct source source_gamepot = {
	.id = "gamepot",
	.name = "GAMEPOT",
	.scope = 0,         /* the path secret is the authority */
	.namespaces = namespaces,
	.n_namespaces = UTIL_ARRAY_LEN(namespaces),
	.routes = routes,
	.n_routes = UTIL_ARRAY_LEN(routes),
};
