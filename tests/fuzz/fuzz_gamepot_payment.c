/* fuzz_gamepot_payment: GAMEPOT external payments — the partner's request
 * body (first byte even) and GAMEPOT's answer under an HTTP status chosen
 * by the first byte (odd). */
#include <stdint.h>
#include <string.h>

#include "sources/sources.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void request_body(const char *text, size_t len)
{
	struct sources_gp_payment p;
	json_t *root = NULL, *s;
	char msg[512] = "";

	if (sources_gamepot_payment_parse(text, len, &root, &p, msg,
					  sizeof(msg))) {
		UTIL_ASSERT(msg[0] != '\0' && root == NULL && p.price == NULL);
		return;
	}
	UTIL_ASSERT(root != NULL);
	UTIL_ASSERT(json_is_integer(p.price) || json_is_real(p.price));
	for (size_t i = 0; i < SOURCES_GP_PAY_FIELD_COUNT; i++) {
		UTIL_ASSERT(p.field[i] != NULL);
		/* what is sent on: UTF-8 text, no control characters */
		UTIL_ASSERT((s = json_string(p.field[i])) != NULL);
		json_decref(s);
		for (const char *c = p.field[i]; *c; c++)
			UTIL_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f);
	}
	UTIL_ASSERT(p.field[SOURCES_GP_PAY_TRANSACTION_ID][0] != '\0');
	sources_gamepot_payment_release(root, &p);
}

static void answer(long http_status, const char *text, size_t len)
{
	struct sources_gp_pay_answer a;
	json_t *s;

	sources_gamepot_payment_answer(http_status, text, len, &a);
	UTIL_ASSERT(a.result <= SOURCES_GP_PAY_BAD_ANSWER);
	UTIL_ASSERT(strlen(a.message) <= SOURCES_GP_MESSAGE_MAX);
	UTIL_ASSERT((s = json_string(a.message)) != NULL);
	json_decref(s);
	for (const char *c = a.message; *c; c++)
		UTIL_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f);
	if (a.result == SOURCES_GP_PAY_ACCEPTED)
		UTIL_ASSERT(a.has_status && a.status == 1);
	if (a.result == SOURCES_GP_PAY_DUPLICATE)
		UTIL_ASSERT(a.has_status && a.status == -5);
	if (a.has_status)
		UTIL_ASSERT(http_status >= 200 && http_status <= 299);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 201, 204, 400, 401, 403, 404,
					 408, 429, 500, 502, 503, 0, 302 };

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		request_body((const char *)data + 1, size - 1);
	else
		answer(statuses[(data[0] / 2) % UTIL_ARRAY_LEN(statuses)],
		       (const char *)data + 1, size - 1);
	return 0;
}
