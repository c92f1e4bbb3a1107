/* Unit tests of the sources table: every provider is declared once, with a
 * known scope, valid catalog namespaces and routes under its own id. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "sources/sources.h"

Test(sources, table_is_consistent)
{
	size_t n, routes = 0;
	const struct source *const *all = sources_all(&n);
	unsigned known = 0;

	for (unsigned bit = 1; bit; bit <<= 1) {
		char name[64];

		auth_scopes_format(bit, name, sizeof(name));
		if (*name)
			known |= bit;
	}
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct source *s = all[i];
		char prefix[64];

		cr_assert(s->id && *s->id && s->name && *s->name);
		cr_assert_eq(sources_find(s->id), s, "%s found as itself", s->id);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(all[j]->id, s->id);
		cr_assert_eq(s->scope & ~known, 0, "%s: unknown scope bits", s->id);
		for (size_t r = 0; r < s->n_routes; r++)
			cr_assert(s->scope || (s->routes[r].flags &
					       HTTP_ROUTE_SECRET_PARAMS),
				  "%s: a route without a scope or a path secret",
				  s->id);
		for (size_t k = 0; k < s->n_namespaces; k++)
			cr_assert_not_null(catalog_namespace_path(s->namespaces[k]));
		snprintf(prefix, sizeof(prefix), "/v1/%s/", s->id);
		for (size_t r = 0; r < s->n_routes; r++) {
			const struct source_route *sr = &s->routes[r];

			cr_assert_eq(strncmp(sr->pattern, prefix, strlen(prefix)), 0,
				     "%s is under %s", sr->pattern, prefix);
			cr_assert_eq(strncmp(sr->name, s->id, strlen(s->id)), 0);
			cr_assert_not_null(sr->handler);
		}
		routes += s->n_routes;
	}
	cr_assert_eq(sources_route_count(), routes);
	cr_assert_null(sources_find("nosuch"));
}

Test(sources, prime_gaming_is_declared)
{
	const struct source *s = sources_find("primegaming");

	cr_assert_eq(s, &source_primegaming);
	cr_assert_eq(s->scope, AUTH_SCOPE_PRIMEGAMING);
	cr_assert_eq(s->n_namespaces, 1);
	cr_assert_eq(s->namespaces[0], CATALOG_PRIME_GAMING);
	cr_assert_str_eq(catalog_namespace_path(CATALOG_PRIME_GAMING),
			 "primeGaming.sku");
	cr_assert_eq(s->n_routes, 1);
	cr_assert_str_eq(s->routes[0].pattern, "/v1/primegaming/fulfillment");
	cr_assert_str_eq(auth_scope_names(),
			 "fulfillment:primegaming, partner, operator");
}

Test(sources, external_ids_are_checked_per_provider)
{
	char msg[128];

	cr_assert_eq(sources_check_external_id(&source_steam, "76561197960287930",
					       msg, sizeof(msg)), 0);
	cr_assert_eq(sources_check_external_id(&source_steam, "7656119796028793",
					       msg, sizeof(msg)), -1);
	cr_assert_str_eq(msg, "external_id: must be a SteamID64: 17 decimal digits");
	cr_assert_eq(sources_check_external_id(&source_twitch, "25009227", msg,
					       sizeof(msg)), 0);
	cr_assert_eq(sources_check_external_id(&source_twitch, "", msg,
					       sizeof(msg)), -1);
	cr_assert_str_eq(msg, "external_id: must be 1 to 128 printable ASCII "
			 "characters");
	cr_assert_eq(sources_check_external_id(&source_epic, "a\tb", msg,
					       sizeof(msg)), -1);
	/* a small buffer is cut, never overrun */
	cr_assert_eq(sources_check_external_id(&source_steam, "1", msg, 8), -1);
	cr_assert_eq(strlen(msg), 7);
	cr_assert(source_primegaming.linkable && source_twitch.linkable &&
		  source_epic.linkable && source_steam.linkable);
}

static const char *gp_parse_error(const char *form)
{
	static char msg[512];
	struct sources_gp_purchase p;

	if (sources_gamepot_parse(form, strlen(form), &p, msg, sizeof(msg)) == 0) {
		sources_gamepot_purchase_release(&p);
		return NULL;
	}
	return msg;
}

Test(sources, gamepot_parse_accepts_the_seed_fields)
{
	static const char form[] = "userId=player-1&orderId=o&projectId=pr"
		"&platform=ios&productId=com.x%2Ey&store=apple&payment=card"
		"&transactionId=GPA-1&gamepotOrderId=&uniqueId=u&serverId=s"
		"&playerId=p&etc=a+b&tp=1&other=ignored";
	struct sources_gp_purchase p;
	char msg[128];

	cr_assert_eq(sources_gamepot_parse(form, strlen(form), &p, msg,
					   sizeof(msg)), 0, "%s", msg);
	cr_assert_str_eq(p.field[SOURCES_GP_PRODUCT_ID], "com.x.y");
	cr_assert_str_eq(p.field[SOURCES_GP_ETC], "a b");
	cr_assert_null(p.field[SOURCES_GP_GAMEPOT_ORDER_ID]);  /* empty */
	cr_assert(p.test_payment);
	sources_gamepot_purchase_release(&p);
}

Test(sources, gamepot_parse_refuses_bad_input)
{
	cr_assert_str_eq(gp_parse_error("projectId=p&productId=x&transactionId=t"),
			 "userId: required");
	cr_assert_str_eq(gp_parse_error("userId=u&projectId=p&productId=x"),
			 "gamepotOrderId or transactionId: required");
	cr_assert_str_eq(gp_parse_error("userId=u&userId=u&projectId=p"),
			 "userId: given more than once");
	cr_assert_str_eq(gp_parse_error("userId=u%zz"),
			 "userId: malformed %-escape or encoded NUL");
	cr_assert_str_eq(gp_parse_error("store=12345678901234567890123456789012"
					"345678901234567890123456789012345"),
			 "store: must be at most 64 bytes (got 65)");
	cr_assert_str_eq(gp_parse_error("userId=u&projectId=p&productId=x"
					"&transactionId=t&tp=yes"),
			 "tp: must be 0 or 1");
	cr_assert_null(gp_parse_error("userId=u&projectId=p&productId=x"
				      "&gamepotOrderId=g"));
}

/* Parses a coupon form; returns its key (static) or NULL on refusal. */
static const char *coupon_key(const char *form, struct sources_gp_coupon *c)
{
	static char key[SOURCES_GP_COUPON_KEY_LEN + 1];
	char msg[256];

	if (sources_gamepot_coupon_parse(form, strlen(form), c, msg, sizeof(msg)))
		return NULL;
	memcpy(key, c->key, sizeof(key));
	return key;
}

Test(sources, gamepot_coupon_parse_reads_items_and_expiry)
{
	static const char form[] = "userId=player-1&projectId=p&title=t"
		"&expireMs=1893456000000&itemId=%5B%7B%22item_id%22%3A%22a%22%2C"
		"%22store_item_id%22%3A%22sa%22%2C%22count%22%3A3%7D%2C%7B"
		"%22item_id%22%3A%22b%22%2C%22count%22%3A1%7D%5D";
	struct sources_gp_coupon c;

	cr_assert_not_null(coupon_key(form, &c));
	cr_assert_eq(c.n_items, 2);
	cr_assert_str_eq(c.items[0].item_id, "a");
	cr_assert_str_eq(c.items[0].store_item_id, "sa");
	cr_assert_eq(c.items[0].count, 3);
	cr_assert_null(c.items[1].store_item_id);
	cr_assert_eq(c.expire_ms, 1893456000000LL);
	cr_assert_not(c.broadcast);
	cr_assert_eq(strncmp(c.key, "coupon:", 7), 0);
	sources_gamepot_coupon_release(&c);
}

Test(sources, gamepot_coupon_key_is_canonical)
{
	struct sources_gp_coupon c;
	char a[SOURCES_GP_COUPON_KEY_LEN + 1];

	/* the same fields in another order and spelling: the same key */
	snprintf(a, sizeof(a), "%s", coupon_key("userId=all&projectId=p&itemId=[{\"item_id\":\"x\","
			     "\"count\":2}]", &c));
	cr_assert(c.broadcast);
	cr_assert_eq(c.expire_ms, INT64_MAX);
	sources_gamepot_coupon_release(&c);
	cr_assert_str_eq(coupon_key("itemId=%5B%7B%22count%22%3A2%2C+%22item_id"
				    "%22%3A%22x%22%7D%5D&projectId=p&userId=all"
				    "&unknown=1", &c), a);
	sources_gamepot_coupon_release(&c);
	/* any documented field changes it */
	cr_assert_str_neq(coupon_key("userId=all&projectId=p&userData=u&itemId="
				     "[{\"item_id\":\"x\",\"count\":2}]", &c), a);
	sources_gamepot_coupon_release(&c);
	cr_assert_str_neq(coupon_key("userId=all&projectId=p&itemId=[{\"item_id\""
				     ":\"x\",\"count\":3}]", &c), a);
	sources_gamepot_coupon_release(&c);
}

Test(sources, gamepot_coupon_parse_refuses_bad_input)
{
	struct sources_gp_coupon c;

	cr_assert_null(coupon_key("projectId=p&itemId=[]", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p&itemId=[]", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p&itemId=[{\"item_id\":"
				  "\"x\",\"count\":0}]", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p&itemId=[{\"item_id\":"
				  "\"x\\u0000y\",\"count\":1}]", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p&expireMs=1e9&itemId=[{"
				  "\"item_id\":\"x\",\"count\":1}]", &c));
	cr_assert_null(coupon_key("userId=u&projectId=p&expireMs="
				  "99999999999999999999&itemId=[{\"item_id\":"
				  "\"x\",\"count\":1}]", &c));
}

/* ---- GAMEPOT external payments ---------------------------------------- */

static const char *pay_parse_error(const char *body)
{
	static char msg[512];
	struct sources_gp_payment p;
	json_t *root;

	if (sources_gamepot_payment_parse(body, strlen(body), &root, &p, msg,
					  sizeof(msg)) == 0) {
		sources_gamepot_payment_release(root, &p);
		return NULL;
	}
	cr_assert_null(root);
	return msg;
}

Test(sources, gamepot_payment_parse_reads_the_body)
{
	static const char body[] = "{\"store\":\"tpay\",\"product_id\":\"p1\","
		"\"transaction_id\":\"t-1\",\"currency\":\"KRW\",\"price\":1000.0,"
		"\"payment_id\":\"prepaid\"}";
	struct sources_gp_payment p;
	json_t *root;
	char msg[256];

	cr_assert_eq(sources_gamepot_payment_parse(body, strlen(body), &root, &p,
						   msg, sizeof(msg)), 0, "%s",
		     msg);
	cr_assert_str_eq(p.field[SOURCES_GP_PAY_PRODUCT_ID], "p1");
	cr_assert_str_eq(p.field[SOURCES_GP_PAY_UNIQUE_ID], "");  /* absent */
	cr_assert(json_is_integer(p.price));  /* 1000.0 sent as 1000 */
	cr_assert_eq(json_integer_value(p.price), 1000);
	sources_gamepot_payment_release(root, &p);
}

Test(sources, gamepot_payment_parse_refuses_bad_bodies)
{
#define PAY_BODY(extra) "{\"store\":\"s\",\"product_id\":\"p\"," \
	"\"transaction_id\":\"t\",\"currency\":\"KRW\",\"payment_id\":\"c\"" \
	extra "}"
	cr_assert_null(pay_parse_error(PAY_BODY(",\"price\":9.5")));
	cr_assert_str_eq(pay_parse_error(PAY_BODY("")), "price: is required");
	cr_assert_str_eq(pay_parse_error(PAY_BODY(",\"price\":\"1\"")),
			 "price: must be a number (GAMEPOT refuses any other "
			 "type)");
	cr_assert_str_eq(pay_parse_error(PAY_BODY(",\"price\":-1")),
			 "price: must not be negative");
	cr_assert_str_eq(pay_parse_error(PAY_BODY(",\"price\":1,\"x\":1")),
			 "body: unknown field \"x\"");
	cr_assert_str_eq(pay_parse_error("{\"store\":\"\"}"),
			 "store: must not be empty");
	cr_assert_str_eq(pay_parse_error("{\"store\":\"a\\tb\"}"),
			 "store: must not contain control characters");
	cr_assert_str_eq(pay_parse_error("{\"store\":1}"),
			 "store: must be a string");
	cr_assert_str_eq(pay_parse_error("[]"), "body: must be a JSON object");
#undef PAY_BODY
}

static struct sources_gp_pay_answer pay_answer(long status, const char *body)
{
	struct sources_gp_pay_answer a;

	sources_gamepot_payment_answer(status, body, strlen(body), &a);
	return a;
}

Test(sources, gamepot_payment_answer_maps_every_code)
{
	static const struct {
		int status;
		enum sources_gp_pay_result result;
	} codes[] = {
		{ 1, SOURCES_GP_PAY_ACCEPTED }, { -1, SOURCES_GP_PAY_MISSING_DATA },
		{ -2, SOURCES_GP_PAY_INVALID_PRICE },
		{ -3, SOURCES_GP_PAY_INVALID_PROJECT },
		{ -4, SOURCES_GP_PAY_NOT_SUPPORTED },
		{ -5, SOURCES_GP_PAY_DUPLICATE }, { -6, SOURCES_GP_PAY_DB_ERROR },
		{ 0, SOURCES_GP_PAY_BAD_ANSWER }, { 2, SOURCES_GP_PAY_BAD_ANSWER },
	};
	struct sources_gp_pay_answer a;
	char body[64];

	for (size_t i = 0; i < UTIL_ARRAY_LEN(codes); i++) {
		snprintf(body, sizeof(body), "{\"status\": %d, \"message\": "
			 "\"m\\nx\"}", codes[i].status);
		a = pay_answer(200, body);
		cr_assert_eq(a.result, codes[i].result, "status %d", codes[i].status);
		cr_assert(a.has_status);
		cr_assert_str_eq(a.message, "m x");  /* control characters gone */
	}
	cr_assert_eq(pay_answer(200, "{\"status\": \"1\"}").result,
		     SOURCES_GP_PAY_BAD_ANSWER);
	cr_assert_eq(pay_answer(200, "not json").result, SOURCES_GP_PAY_BAD_ANSWER);
	cr_assert_eq(pay_answer(500, "{\"status\": 1}").result,
		     SOURCES_GP_PAY_UNAVAILABLE);
	a = pay_answer(401, "{\"error\":{\"errorCode\":\"200\",\"message\":"
		       "\"Authentication Failed\",\"details\":\"bad key\"}}");
	cr_assert_eq(a.result, SOURCES_GP_PAY_KEY_REFUSED);
	cr_assert_not(a.has_status);
	cr_assert_str_eq(a.message, "bad key");
}

Test(sources, gamepot_payment_answer_cuts_long_messages_on_a_character)
{
	char body[1024] = "{\"status\": -6, \"message\": \"a";
	struct sources_gp_pay_answer a;

	for (int i = 0; i < 150; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body),
			 "\xea\xb0\x80");  /* 3 bytes each */
	snprintf(body + strlen(body), sizeof(body) - strlen(body), "\"}");
	a = pay_answer(200, body);
	cr_assert_eq(a.result, SOURCES_GP_PAY_DB_ERROR);
	cr_assert_eq(strlen(a.message), 199);  /* 'a' + 66 whole characters */
}
