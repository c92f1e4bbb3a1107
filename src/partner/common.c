/* partner/common.c: path parameter checks and shared error replies. */
#include "partner/partner_int.h"

#include <stdio.h>
#include <string.h>

const char *partner_account_param(struct http_request *req)
{
	const char *id = http_request_param(req, "account_id");
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > STORE_ACCOUNT_ID_MAX || !util_is_printable_ascii(id, n)) {
		http_reply_error(req, 400, "InvalidRequest", "account_id: must be "
				 "1 to %d printable ASCII characters",
				 STORE_ACCOUNT_ID_MAX);
		return NULL;
	}
	http_request_log_account(req, id);
	return id;
}

void partner_reply_no_account(struct http_request *req, const char *id)
{
	http_reply_error(req, 404, "AccountNotFound", "no account \"%s\" exists", id);
}

bool partner_account_found(struct http_request *req, struct store *st,
			   const char *id, struct store_account *out)
{
	bool found;

	if (store_account_read(st, id, out, &found)) {
		partner_reply_store_error(req, STORE_ERR);
		return false;
	}
	if (!found)
		partner_reply_no_account(req, id);
	return found;
}

json_t *partner_parse_object(const char *body, size_t len, const char *key,
			     json_t **root, char *msg, size_t msg_size)
{
	json_error_t jerr;
	json_t *r = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			       &jerr), *v;
	const char *k;

	*root = NULL;
	msg[0] = '\0';
	if (!r) {
		http_json_error_format(&jerr, msg, msg_size);
		return NULL;
	}
	if (!json_is_object(r))
		snprintf(msg, msg_size, "body: must be a JSON object");
	json_object_foreach(r, k, v) {
		if (!msg[0] && strcmp(k, key) != 0)
			snprintf(msg, msg_size, "body: unknown field \"%.64s\"", k);
	}
	if (msg[0]) {
		json_decref(r);
		return NULL;
	}
	*root = r;
	return json_object_get(r, key);
}

void partner_reply_store_error(struct http_request *req, int rc)
{
	http_reply_header(req, "Retry-After", "1");
	if (rc == STORE_CLOSED)
		http_reply_error(req, 503, "ShuttingDown", "the server is shutting "
				 "down; nothing was done, retry");
	else
		http_reply_error(req, 503, "StoreUnavailable", "the store failed; "
				 "nothing was committed, retry");
}
