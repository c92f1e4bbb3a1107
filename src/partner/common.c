/* partner/common.c: path parameter checks and shared error replies. */
#include "partner/partner_int.h"

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
