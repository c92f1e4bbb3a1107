/* tests/unit/test_catalog.c: catalog parsing, every validation rule, lookups,
 * reference counting and the holder under concurrent swaps. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

/* ---- helpers ---------------------------------------------------------- */

/* Tests write JSON and expected messages with ' for " to stay readable;
 * returns a new string with every ' turned into " (owned by the caller). */
static char *dq(const char *s)
{
	char *out = util_xstrdup(s);

	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

/* Parses `json_q` (quotes as '); returns the snapshot or NULL. */
static struct catalog *parse_q(const char *json_q, struct util_strlist *problems)
{
	char *json = dq(json_q);
	struct catalog *c = (struct catalog *)1;
	int rc = catalog_parse(json, strlen(json), &c, problems);

	free(json);
	cr_assert_eq(rc == 0, c != NULL, "rc %d does not match *out", rc);
	return c;
}

static char *joined(const struct util_strlist *l)
{
	struct util_buf b;

	util_buf_init(&b, 0);
	for (size_t i = 0; i < l->len; i++)
		util_buf_printf(&b, "  %s\n", l->items[i]);
	return util_buf_take(&b);
}

static bool has(const struct util_strlist *l, const char *msg)
{
	for (size_t i = 0; i < l->len; i++)
		if (!strcmp(l->items[i], msg))
			return true;
	return false;
}

static void assert_has(const struct util_strlist *l, const char *msg_q)
{
	char *msg = dq(msg_q), *all = joined(l);

	cr_assert(has(l, msg), "missing problem\n  %s\namong:\n%s", msg, all);
	free(msg);
	free(all);
}

/* Asserts `json_q` is rejected with (at least) each message of `msgs_q`. */
static void expect_problems(const char *json_q, const char *const *msgs_q,
			    size_t n)
{
	struct util_strlist p;
	struct catalog *c;

	util_strlist_init(&p);
	c = parse_q(json_q, &p);
	cr_assert_null(c, "accepted: %s", json_q);
	for (size_t i = 0; i < n; i++)
		assert_has(&p, msgs_q[i]);
	util_strlist_release(&p);
}

#define EXPECT(json_q, ...)                                                  \
	do {                                                                 \
		const char *const msgs_[] = { __VA_ARGS__ };                 \
		expect_problems(json_q, msgs_, UTIL_ARRAY_LEN(msgs_));       \
	} while (0)

/* Parses a document that must be valid. */
static struct catalog *parse_ok(const char *json_q)
{
	struct util_strlist p;
	struct catalog *c;
	char *all;

	util_strlist_init(&p);
	c = parse_q(json_q, &p);
	all = joined(&p);
	cr_assert_not_null(c, "rejected:\n%s", all);
	cr_assert_eq(p.len, 0);
	free(all);
	util_strlist_release(&p);
	return c;
}

#define ITEMS                                                                \
	"'items': ["                                                         \
	"{'catalogId': 'gold', 'kind': 'stackable', 'name': 'Gold'},"        \
	"{'catalogId': 'gems', 'kind': 'stackable'},"                        \
	"{'catalogId': 'hat', 'kind': 'instanced'},"                         \
	"{'catalogId': 'skin', 'kind': 'instanced', 'unique': true}]"
#define BUNDLES                                                              \
	"'bundles': [{'id': 'starter',"                                      \
	" 'stackables': [{'catalogId': 'gold', 'amount': 100},"              \
	"                {'catalogId': 'gems', 'amount': 5}],"               \
	" 'instanced': [{'catalogId': 'hat'}, {'catalogId': 'skin'}]}]"
/* A document with the items and bundle above and these entitlements. */
#define DOC(ents) "{" ITEMS ", " BUNDLES ", 'entitlements': [" ents "]}"
/* An entitlement granting 10 gold, mapped by `details`. */
#define ENT(id, details)                                                     \
	"{'id': '" id "', 'stackable': {'catalogId': 'gold', 'amount': 10},"  \
	" 'providerDetails': [" details "]}"
#define PRIME(sku) "{'primeGaming': {'sku': '" sku "'}}"

/* ---- valid documents and lookups ---------------------------------------- */

Test(catalog, empty_object_is_valid)
{
	struct catalog *c = parse_ok("{}");

	cr_assert_eq(catalog_item_count(c), 0);
	cr_assert_eq(catalog_bundle_count(c), 0);
	cr_assert_eq(catalog_entitlement_count(c), 0);
	cr_assert_null(catalog_lookup(c, CATALOG_PRIME_GAMING, "x"));
	cr_assert_null(catalog_entitlement_by_id(c, "x"));
	cr_assert_null(catalog_item_by_id(c, "x"));
	catalog_unref(c);
}

Test(catalog, items_and_counts)
{
	struct catalog *c = parse_ok(DOC(ENT("e1", PRIME("s1"))));
	const struct catalog_item *gold = catalog_item_by_id(c, "gold");
	const struct catalog_item *skin = catalog_item_by_id(c, "skin");
	const struct catalog_item *hat = catalog_item_by_id(c, "hat");

	cr_assert_eq(catalog_item_count(c), 4);
	cr_assert_eq(catalog_bundle_count(c), 1);
	cr_assert_eq(catalog_entitlement_count(c), 1);
	cr_assert_str_eq(gold->catalog_id, "gold");
	cr_assert_eq(gold->kind, CATALOG_STACKABLE);
	cr_assert_str_eq(gold->name, "Gold");
	cr_assert_not(gold->unique);
	cr_assert_eq(skin->kind, CATALOG_INSTANCED);
	cr_assert(skin->unique);
	cr_assert_null(skin->name);
	cr_assert_not(hat->unique);
	cr_assert_null(catalog_item_by_id(c, "starter"));
	cr_assert_null(catalog_item_by_id(c, NULL));
	catalog_unref(c);
}

Test(catalog, lookup_every_provider_namespace)
{
	struct catalog *c = parse_ok(DOC(
		ENT("prime", PRIME("primegaming_season01_drop01")) ","
		ENT("twitch", "{'twitchDrop': {'rewardId': 'df1e2846-be27'}}") ","
		ENT("epic", "{'epicEntitlement': {'audienceItemId': '294f58c3',"
			    " 'offerType': 'CONSUMABLE'}}") ","
		ENT("steam-item-int", "{'steamEntitlement': {'inventoryItem':"
				      " {'itemDefId': 10010}}}") ","
		ENT("steam-item-str", "{'steamEntitlement': {'inventoryItem':"
				      " {'itemDefId': '0010020'}}}") ","
		ENT("steam-app", "{'steamEntitlement': {'app': {'appId': 2215760}}},"
				 "{'steamEntitlement': {'app': {'appId': '480'}}}") ","
		ENT("gp-product", "{'gamepot': {'productId': 'com.game.gold100'}}") ","
		ENT("gp-item", "{'gamepot': {'itemId': 'coupon_1'}}") ","
		ENT("tp-sku", "{'tentuplay': {'sku': 'diamond_500'}},"
			      "{'tentuplay': {'sku': 'com.game:gold-100'}}")));
	static const struct {
		enum catalog_provider p;
		const char *key, *id;
	} cases[] = {
		{ CATALOG_PRIME_GAMING, "primegaming_season01_drop01", "prime" },
		{ CATALOG_TWITCH_DROP, "df1e2846-be27", "twitch" },
		{ CATALOG_EPIC, "294f58c3", "epic" },
		{ CATALOG_STEAM_ITEM, "10010", "steam-item-int" },
		{ CATALOG_STEAM_ITEM, "10020", "steam-item-str" },
		{ CATALOG_STEAM_APP, "2215760", "steam-app" },
		{ CATALOG_STEAM_APP, "480", "steam-app" },
		{ CATALOG_GAMEPOT_PRODUCT, "com.game.gold100", "gp-product" },
		{ CATALOG_GAMEPOT_ITEM, "coupon_1", "gp-item" },
		{ CATALOG_TENTUPLAY_SKU, "diamond_500", "tp-sku" },
		{ CATALOG_TENTUPLAY_SKU, "com.game:gold-100", "tp-sku" },
	};

	for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
		const struct catalog_entitlement *e =
			catalog_lookup(c, cases[i].p, cases[i].key);

		cr_assert_not_null(e, "no entry for %s", cases[i].key);
		cr_assert_str_eq(e->id, cases[i].id);
		cr_assert_eq(e, catalog_entitlement_by_id(c, cases[i].id));
	}
	/* Namespaces are separate; ids are matched exactly. */
	cr_assert_null(catalog_lookup(c, CATALOG_TWITCH_DROP,
				      "primegaming_season01_drop01"));
	cr_assert_null(catalog_lookup(c, CATALOG_STEAM_APP, "10010"));
	cr_assert_null(catalog_lookup(c, CATALOG_STEAM_ITEM, "0010020"));
	cr_assert_null(catalog_lookup(c, CATALOG_PRIME_GAMING,
				      "PRIMEGAMING_SEASON01_DROP01"));
	cr_assert_null(catalog_lookup(c, CATALOG_PRIME_GAMING, NULL));
	cr_assert_null(catalog_lookup(c, CATALOG_PROVIDER_COUNT, "prime"));
	cr_assert_str_eq(catalog_entitlement_by_id(c, "epic")->epic_offer_type,
			 "CONSUMABLE");
	cr_assert_null(catalog_entitlement_by_id(c, "prime")->epic_offer_type);
	cr_assert_eq(catalog_provider_id_count(c, CATALOG_PRIME_GAMING), 1);
	cr_assert_eq(catalog_provider_id_count(c, CATALOG_STEAM_ITEM), 2);
	cr_assert_eq(catalog_provider_id_count(c, CATALOG_STEAM_APP), 2);
	cr_assert_eq(catalog_provider_id_count(c, CATALOG_GAMEPOT_ITEM), 1);
	cr_assert_eq(catalog_provider_id_count(c, CATALOG_TENTUPLAY_SKU), 2);
	cr_assert_null(catalog_lookup(c, CATALOG_PRIME_GAMING, "diamond_500"));
	cr_assert_str_eq(catalog_namespace_path(CATALOG_TENTUPLAY_SKU),
			 "tentuplay.sku");
	catalog_unref(c);
}

Test(catalog, grants_stackable_instanced_and_bundle_order)
{
	struct catalog *c = parse_ok(DOC(
		ENT("gold10", "") ","
		"{'id': 'hat1', 'instanced': {'catalogId': 'hat'},"
		" 'providerDetails': []},"
		"{'id': 'pack', 'bundle': {'id': 'starter'},"
		" 'providerDetails': []}"));
	const struct catalog_entitlement *e;
	static const char *const order[] = { "gold", "gems", "hat", "skin" };
	static const int64_t amounts[] = { 100, 5, 1, 1 };

	e = catalog_entitlement_by_id(c, "gold10");
	cr_assert_eq(e->n_grants, 1);
	cr_assert_str_eq(e->grants[0].item->catalog_id, "gold");
	cr_assert_eq(e->grants[0].amount, 10);
	cr_assert_null(e->bundle_id);
	cr_assert_eq(e->limit_per_account, 0);
	cr_assert_not(e->has_starts_at || e->has_ends_at);

	e = catalog_entitlement_by_id(c, "hat1");
	cr_assert_eq(e->n_grants, 1);
	cr_assert_eq(e->grants[0].item, catalog_item_by_id(c, "hat"));
	cr_assert_eq(e->grants[0].amount, 1);

	e = catalog_entitlement_by_id(c, "pack");
	cr_assert_str_eq(e->bundle_id, "starter");
	cr_assert_eq(e->n_grants, 4);
	for (size_t i = 0; i < 4; i++) {
		cr_assert_str_eq(e->grants[i].item->catalog_id, order[i]);
		cr_assert_eq(e->grants[i].amount, amounts[i]);
	}
	/* An empty providerDetails maps nothing. */
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++)
		cr_assert_eq(catalog_provider_id_count(c, p), 0);
	catalog_unref(c);
}

Test(catalog, instanced_listed_first_still_expands_after_stackables)
{
	struct catalog *c = parse_ok(
		"{" ITEMS ", 'bundles': [{'id': 'b', 'instanced':"
		" [{'catalogId': 'skin'}, {'catalogId': 'hat'}, {'catalogId': 'hat'}],"
		" 'stackables': [{'catalogId': 'gems', 'amount': 2}]}],"
		" 'entitlements': [{'id': 'e', 'bundle': {'id': 'b'},"
		" 'providerDetails': []}]}");
	const struct catalog_entitlement *e = catalog_entitlement_by_id(c, "e");

	cr_assert_eq(e->n_grants, 4);
	cr_assert_str_eq(e->grants[0].item->catalog_id, "gems");
	cr_assert_eq(e->grants[0].amount, 2);
	cr_assert_str_eq(e->grants[1].item->catalog_id, "skin");
	cr_assert_str_eq(e->grants[2].item->catalog_id, "hat");
	cr_assert_str_eq(e->grants[3].item->catalog_id, "hat");
	catalog_unref(c);
}

Test(catalog, availability_and_limit)
{
	struct catalog *c = parse_ok(DOC(
		"{'id': 'both', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		" 'providerDetails': [], 'limitPerAccount': 3,"
		" 'availability': {'startsAt': '2025-01-15T17:00:00Z',"
		"                  'endsAt': '2025-01-15T19:00:00.250+02:00'}},"
		"{'id': 'start', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		" 'providerDetails': [],"
		" 'availability': {'startsAt': '1970-01-01T00:00:01Z'}},"
		"{'id': 'end', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		" 'providerDetails': [],"
		" 'availability': {'endsAt': '2025-03-31T23:59:59Z'}}"));
	const struct catalog_entitlement *e;

	e = catalog_entitlement_by_id(c, "both");
	cr_assert(e->has_starts_at && e->has_ends_at);
	cr_assert_eq(e->starts_at_ms, INT64_C(1736960400000));
	cr_assert_eq(e->ends_at_ms, INT64_C(1736960400250));
	cr_assert_eq(e->limit_per_account, 3);
	e = catalog_entitlement_by_id(c, "start");
	cr_assert(e->has_starts_at);
	cr_assert_not(e->has_ends_at);
	cr_assert_eq(e->starts_at_ms, 1000);
	e = catalog_entitlement_by_id(c, "end");
	cr_assert_not(e->has_starts_at);
	cr_assert(e->has_ends_at);
	cr_assert_eq(e->ends_at_ms, INT64_C(1743465599000));
	catalog_unref(c);
}

Test(catalog, limits_at_their_maximum_are_valid)
{
	char id[CATALOG_ID_MAX + 1], sku[CATALOG_PROVIDER_ITEM_ID_MAX + 1];
	char *doc;
	struct catalog *c;

	memset(id, 'i', CATALOG_ID_MAX);
	id[CATALOG_ID_MAX] = '\0';
	memset(sku, 'S', CATALOG_PROVIDER_ITEM_ID_MAX);
	sku[CATALOG_PROVIDER_ITEM_ID_MAX] = '\0';
	doc = util_xasprintf(
		"{'items': [{'catalogId': '%s', 'kind': 'stackable'}],"
		" 'entitlements': [{'id': '%s', 'stackable': {'catalogId': '%s',"
		" 'amount': %d}, 'providerDetails': [{'primeGaming': {'sku': '%s'}},"
		" {'twitchDrop': {'rewardId': '%s'}}]}]}",
		id, id, id, CATALOG_AMOUNT_MAX, sku, sku);
	c = parse_ok(doc);
	cr_assert_eq(catalog_entitlement_by_id(c, id)->grants[0].amount,
		     CATALOG_AMOUNT_MAX);
	cr_assert_not_null(catalog_lookup(c, CATALOG_PRIME_GAMING, sku));
	cr_assert_not_null(catalog_lookup(c, CATALOG_TWITCH_DROP, sku));
	catalog_unref(c);
	free(doc);
}

Test(catalog, same_id_in_different_namespaces_is_fine)
{
	struct catalog *c = parse_ok(
		"{'items': [{'catalogId': 'x', 'kind': 'instanced'}],"
		" 'bundles': [{'id': 'x', 'instanced': [{'catalogId': 'x'}]}],"
		" 'entitlements': [{'id': 'x', 'bundle': {'id': 'x'},"
		" 'providerDetails': [{'primeGaming': {'sku': 'x'}},"
		" {'twitchDrop': {'rewardId': 'x'}}, {'gamepot': {'itemId': 'x'}},"
		" {'gamepot': {'productId': 'x'}}]}]}");

	cr_assert_not_null(catalog_lookup(c, CATALOG_GAMEPOT_ITEM, "x"));
	cr_assert_not_null(catalog_lookup(c, CATALOG_GAMEPOT_PRODUCT, "x"));
	catalog_unref(c);
}

Test(catalog, example_catalog_is_valid)
{
	struct util_strlist p;
	struct catalog *c = NULL;
	const struct catalog_entitlement *e;
	char *all;

	util_strlist_init(&p);
	catalog_load_file("examples/catalog.json", &c, &p);
	all = joined(&p);
	cr_assert_not_null(c, "examples/catalog.json rejected:\n%s", all);
	free(all);
	e = catalog_lookup(c, CATALOG_PRIME_GAMING, "primegaming_season01_drop01");
	cr_assert_not_null(e);
	cr_assert_str_eq(e->grants[0].item->catalog_id, "gold");
	cr_assert_eq(e->grants[0].amount, 500);
	cr_assert_eq(e->limit_per_account, 1);
	e = catalog_lookup(c, CATALOG_PRIME_GAMING, "primegaming_season01_drop02");
	cr_assert_not_null(e->bundle_id);
	e = catalog_lookup(c, CATALOG_PRIME_GAMING, "primegaming_season01_drop03");
	cr_assert(e->grants[0].item->unique);
	e = catalog_lookup(c, CATALOG_PRIME_GAMING, "primegaming_launch_gold_1000");
	cr_assert(e->has_ends_at);
	cr_assert_lt(e->ends_at_ms, INT64_C(1767225600000)); /* ended in 2025 */
	e = catalog_lookup(c, CATALOG_PRIME_GAMING, "primegaming_monthly_weapon_wrap");
	cr_assert_eq(e->limit_per_account, 0);
	cr_assert_not_null(catalog_lookup(c, CATALOG_STEAM_ITEM, "10010"));
	cr_assert_not_null(catalog_lookup(c, CATALOG_STEAM_APP, "3141590"));
	cr_assert_gt(catalog_provider_id_count(c, CATALOG_TWITCH_DROP), 0);
	cr_assert_gt(catalog_provider_id_count(c, CATALOG_EPIC), 0);
	cr_assert_gt(catalog_provider_id_count(c, CATALOG_GAMEPOT_PRODUCT), 0);
	cr_assert_gt(catalog_provider_id_count(c, CATALOG_GAMEPOT_ITEM), 0);
	catalog_unref(c);
	util_strlist_release(&p);
}

Test(catalog, load_file_reports_unreadable_path)
{
	struct util_strlist p;
	struct catalog *c = (struct catalog *)1;

	util_strlist_init(&p);
	cr_assert_eq(catalog_load_file("/nonexistent/catalog.json", &c, &p), -1);
	cr_assert_null(c);
	assert_has(&p, "/nonexistent/catalog.json: cannot read: No such file or directory");
	util_strlist_release(&p);
}

/* ---- document-level problems -------------------------------------------- */

Test(catalog_rules, invalid_json_syntax)
{
	struct util_strlist p;
	struct catalog *c;
	const char *prefix = "$: invalid JSON at line 2 column ";

	util_strlist_init(&p);
	c = parse_q("{'items': [],\n 'bundles': [,]}", &p);
	cr_assert_null(c);
	cr_assert_eq(p.len, 1);
	cr_assert(!strncmp(p.items[0], prefix, strlen(prefix)), "%s", p.items[0]);
	util_strlist_release(&p);
}

Test(catalog_rules, duplicate_json_keys_are_syntax_errors)
{
	struct util_strlist p;

	util_strlist_init(&p);
	cr_assert_null(parse_q("{'items': [], 'items': []}", &p));
	cr_assert_eq(p.len, 1);
	cr_assert(strstr(p.items[0], "$: invalid JSON at line 1 column ") == p.items[0]);
	cr_assert_not_null(strstr(p.items[0], "duplicate object key"), "%s", p.items[0]);
	util_strlist_release(&p);
}

Test(catalog_rules, empty_input)
{
	struct util_strlist p;
	struct catalog *c = NULL;

	util_strlist_init(&p);
	cr_assert_eq(catalog_parse("", 0, &c, &p), -1);
	cr_assert_eq(p.len, 1);
	cr_assert(strstr(p.items[0], "$: invalid JSON at line") == p.items[0]);
	util_strlist_release(&p);
}

Test(catalog_rules, top_level_must_be_an_object)
{
	EXPECT("[{'id': 'a'}]",
	       "$: must be a JSON object with 'items', 'bundles' and 'entitlements';"
	       " a Pragma ProviderEntitlements.json array belongs under 'entitlements'");
	EXPECT("42", "$: must be a JSON object with 'items', 'bundles' and 'entitlements'");
	EXPECT("'x'", "$: must be a JSON object with 'items', 'bundles' and 'entitlements'");
}

Test(catalog_rules, top_level_keys_and_types)
{
	EXPECT("{'itemz': [], 'items': {}, 'bundles': 1, 'entitlements': null}",
	       "$: unknown key 'itemz'", "items: must be an array",
	       "bundles: must be an array", "entitlements: must be an array");
	EXPECT("{'items': [1, []]}", "items[0]: must be an object",
	       "items[1]: must be an object");
}

/* ---- items ------------------------------------------------------------ */

Test(catalog_rules, item_fields)
{
	EXPECT("{'items': [{'catalogId': 'a', 'kind': 'stackible'},"
	       " {'catalogId': 'b', 'kind': 3},"
	       " {'kind': 'stackable'},"
	       " {'catalogId': 'd'},"
	       " {'catalogId': 5, 'kind': 'instanced', 'name': 7},"
	       " {'catalogId': 'f', 'kind': 'stackable', 'unique': true},"
	       " {'catalogId': 'g', 'kind': 'instanced', 'unique': 'yes'},"
	       " {'catalogId': 'h', 'kind': 'instanced', 'uniqe': true}]}",
	       "items[0].kind: must be 'stackable' or 'instanced'",
	       "items[1].kind: must be 'stackable' or 'instanced'",
	       "items[2].catalogId: is required",
	       "items[3].kind: is required",
	       "items[4].catalogId: must be a string",
	       "items[4].name: must be a string",
	       "items[5].unique: only allowed on instanced items",
	       "items[6].unique: must be true or false",
	       "items[7]: unknown key 'uniqe'");
}

Test(catalog_rules, ids_empty_too_long_or_with_control_characters)
{
	char long_id[CATALOG_ID_MAX + 2];
	char *doc;

	memset(long_id, 'x', CATALOG_ID_MAX + 1);
	long_id[CATALOG_ID_MAX + 1] = '\0';
	doc = util_xasprintf(
		"{'items': [{'catalogId': '', 'kind': 'stackable'},"
		" {'catalogId': '%s', 'kind': 'stackable'},"
		" {'catalogId': 'tab\\there', 'kind': 'stackable'},"
		" {'catalogId': 'del\\u007f', 'kind': 'stackable'}],"
		" 'bundles': [{'id': '', 'instanced': []}],"
		" 'entitlements': [{'id': 'nl\\n', 'bundle': {'id': ''},"
		" 'providerDetails': []}]}", long_id);
	EXPECT(doc, "items[0].catalogId: must not be empty",
	       "items[1].catalogId: must be at most 128 bytes",
	       "items[2].catalogId: must not contain control characters",
	       "items[3].catalogId: must not contain control characters",
	       "bundles[0].id: must not be empty",
	       "entitlements[0].id: must not contain control characters",
	       "entitlements[0].bundle.id: must not be empty");
	free(doc);
}

Test(catalog_rules, duplicate_ids)
{
	EXPECT("{'items': [{'catalogId': 'gold', 'kind': 'stackable'},"
	       " {'catalogId': 'hat', 'kind': 'instanced'},"
	       " {'catalogId': 'gold', 'kind': 'stackable'},"
	       " {'catalogId': 'gold', 'kind': 'instanced'}],"
	       " 'bundles': [{'id': 'b', 'instanced': [{'catalogId': 'hat'}]},"
	       " {'id': 'b', 'instanced': [{'catalogId': 'hat'}]}],"
	       " 'entitlements': ["
	       "  {'id': 'gold-500', 'bundle': {'id': 'b'}, 'providerDetails': []},"
	       "  {'id': 'other', 'bundle': {'id': 'b'}, 'providerDetails': []},"
	       "  {'id': 'gold-500', 'bundle': {'id': 'b'}, 'providerDetails': []}]}",
	       "items[2]: duplicate id 'gold' (first at items[0])",
	       "items[3]: duplicate id 'gold' (first at items[0])",
	       "bundles[1]: duplicate id 'b' (first at bundles[0])",
	       "entitlements[2]: duplicate id 'gold-500' (first at entitlements[0])");
}

/* ---- bundles ----------------------------------------------------------- */

Test(catalog_rules, bundle_contents)
{
	EXPECT("{" ITEMS ", 'bundles': ["
	       " {'id': 'empty'},"
	       " {'id': 'empty2', 'stackables': [], 'instanced': []},"
	       " {'id': 'kinds', 'stackables': [{'catalogId': 'hat', 'amount': 1}],"
	       "  'instanced': [{'catalogId': 'gold'}, {'catalogId': 'nope'}]},"
	       " {'id': 'amounts', 'stackables': [{'catalogId': 'gold', 'amount': 0},"
	       "  {'catalogId': 'gold'}, {'catalogId': 'gold', 'amount': 2, 'x': 1}]},"
	       " {'id': 'uniq', 'instanced': [{'catalogId': 'skin'}, {'catalogId': 'hat'},"
	       "  {'catalogId': 'skin'}]},"
	       " {'id': 'types', 'stackables': {}, 'instanced': [3], 'extra': 1}]}",
	       "bundles[0]: must contain at least one item in 'stackables' or 'instanced'",
	       "bundles[1]: must contain at least one item in 'stackables' or 'instanced'",
	       "bundles[2].stackables[0].catalogId: 'hat' is instanced, not stackable",
	       "bundles[2].instanced[0].catalogId: 'gold' is stackable, not instanced",
	       "bundles[2].instanced[1].catalogId: unknown item 'nope'",
	       "bundles[3].stackables[0].amount: must be greater than 0",
	       "bundles[3].stackables[1].amount: is required",
	       "bundles[3].stackables[2]: unknown key 'x'",
	       "bundles[4].instanced[2].catalogId: unique item 'skin' is already in this bundle",
	       "bundles[5].stackables: must be an array",
	       "bundles[5].instanced[0]: must be an object",
	       "bundles[5]: unknown key 'extra'");
}

/* ---- entitlements --------------------------------------------------------- */

Test(catalog_rules, exactly_one_grant_type)
{
	EXPECT(DOC("{'id': 'none', 'providerDetails': []},"
		   "{'id': 'two', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		   " 'bundle': {'id': 'starter'}, 'providerDetails': []},"
		   "{'id': 'three', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		   " 'instanced': {'catalogId': 'hat'}, 'bundle': {'id': 'starter'},"
		   " 'providerDetails': []}"),
	       "entitlements[0]: must have exactly one of 'stackable', 'instanced', 'bundle'",
	       "entitlements[1]: must have exactly one of 'stackable', 'instanced', 'bundle'",
	       "entitlements[2]: must have exactly one of 'stackable', 'instanced', 'bundle'");
}

Test(catalog_rules, grant_references_and_amounts)
{
	EXPECT(DOC("{'id': 'e0', 'stackable': {'catalogId': 'gold', 'amount': 0}, 'providerDetails': []},"
		   "{'id': 'e1', 'stackable': {'catalogId': 'gemz', 'amount': 1}, 'providerDetails': []},"
		   "{'id': 'e2', 'stackable': {'catalogId': 'hat', 'amount': 1}, 'providerDetails': []},"
		   "{'id': 'e3', 'stackable': {'catalogId': 'gold', 'amount': -5}, 'providerDetails': []},"
		   "{'id': 'e4', 'stackable': {'catalogId': 'gold', 'amount': 1000000001}, 'providerDetails': []},"
		   "{'id': 'e5', 'stackable': {'catalogId': 'gold', 'amount': 1.5}, 'providerDetails': []},"
		   "{'id': 'e6', 'stackable': {'catalogId': 'gold', 'amount': '5'}, 'providerDetails': []},"
		   "{'id': 'e7', 'instanced': {'catalogId': 'gold'}, 'providerDetails': []},"
		   "{'id': 'e8', 'instanced': {'catalogId': 'hat', 'amount': 2}, 'providerDetails': []},"
		   "{'id': 'e9', 'bundle': {'id': 'x'}, 'providerDetails': []},"
		   "{'id': 'e10', 'bundle': 'starter', 'providerDetails': []},"
		   "{'id': 'e11', 'stackable': {'amount': 1}, 'providerDetails': []}"),
	       "entitlements[0].stackable.amount: must be greater than 0",
	       "entitlements[1].stackable.catalogId: unknown item 'gemz'",
	       "entitlements[2].stackable.catalogId: 'hat' is instanced, not stackable",
	       "entitlements[3].stackable.amount: must be greater than 0",
	       "entitlements[4].stackable.amount: must be at most 1000000000",
	       "entitlements[5].stackable.amount: must be an integer",
	       "entitlements[6].stackable.amount: must be an integer",
	       "entitlements[7].instanced.catalogId: 'gold' is stackable, not instanced",
	       "entitlements[8].instanced: unknown key 'amount'",
	       "entitlements[9].bundle.id: unknown bundle 'x'",
	       "entitlements[10].bundle: must be an object",
	       "entitlements[11].stackable.catalogId: is required");
}

Test(catalog_rules, unknown_keys_and_limit)
{
	EXPECT(DOC("{'id': 'a', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		   " 'providerDetails': [], 'limitPerAcount': 1},"
		   "{'id': 'b', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		   " 'providerDetails': [], 'limitPerAccount': 0},"
		   "{'id': 'c', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		   " 'providerDetails': [], 'limitPerAccount': '1'},"
		   "{'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': []}"),
	       "entitlements[0]: unknown key 'limitPerAcount'",
	       "entitlements[1].limitPerAccount: must be greater than 0",
	       "entitlements[2].limitPerAccount: must be an integer",
	       "entitlements[3].id: is required");
}

Test(catalog_rules, availability_window)
{
	EXPECT(DOC("{'id': 'a', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {'startsAt': '2025-13-01T00:00:00Z'}},"
		   "{'id': 'b', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {'startsAt': '2025-02-01T00:00:00Z', 'endsAt': '2025-02-01T00:00:00Z'}},"
		   "{'id': 'c', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {'startsAt': '2025-02-01T00:00:00Z', 'endsAt': '2025-02-01T01:00:00+02:00'}},"
		   "{'id': 'd', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {}},"
		   "{'id': 'e', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {'endsAt': 'tomorrow', 'startAt': 5}},"
		   "{'id': 'f', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': '2025'},"
		   "{'id': 'g', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': [],"
		   " 'availability': {'startsAt': 1735689600}}"),
	       "entitlements[0].availability.startsAt: not an RFC 3339 timestamp",
	       "entitlements[1].availability.endsAt: must be after startsAt",
	       "entitlements[2].availability.endsAt: must be after startsAt",
	       "entitlements[3].availability: must have 'startsAt' or 'endsAt'",
	       "entitlements[4].availability.endsAt: not an RFC 3339 timestamp",
	       "entitlements[4].availability: unknown key 'startAt'",
	       "entitlements[5].availability: must be an object",
	       "entitlements[6].availability.startsAt: must be a string");
}

/* ---- providerDetails ------------------------------------------------------ */

Test(catalog_rules, provider_details_shape)
{
	EXPECT(DOC("{'id': 'a', 'stackable': {'catalogId': 'gold', 'amount': 1}},"
		   "{'id': 'b', 'stackable': {'catalogId': 'gold', 'amount': 1}, 'providerDetails': {}},"
		   ENT("c", "5, {}, {'psn': {'sku': 'x'}},"
			    " {'primeGaming': {'sku': 'a'}, 'twitchDrop': {'rewardId': 'b'}},"
			    " {'primeGaming': 'x'}")),
	       "entitlements[0].providerDetails: is required",
	       "entitlements[1].providerDetails: must be an array",
	       "entitlements[2].providerDetails[0]: must be an object",
	       "entitlements[2].providerDetails[1]: must have exactly one of 'primeGaming',"
	       " 'twitchDrop', 'epicEntitlement', 'steamEntitlement', 'gamepot',"
	       " 'tentuplay'",
	       "entitlements[2].providerDetails[2]: unknown key 'psn'",
	       "entitlements[2].providerDetails[2]: must have exactly one of 'primeGaming',"
	       " 'twitchDrop', 'epicEntitlement', 'steamEntitlement', 'gamepot',"
	       " 'tentuplay'",
	       "entitlements[2].providerDetails[3]: must have exactly one of 'primeGaming',"
	       " 'twitchDrop', 'epicEntitlement', 'steamEntitlement', 'gamepot',"
	       " 'tentuplay'",
	       "entitlements[2].providerDetails[4].primeGaming: must be an object");
}

Test(catalog_rules, prime_gaming_sku)
{
	char long_sku[CATALOG_PROVIDER_ITEM_ID_MAX + 2];
	char *doc;

	memset(long_sku, 'a', CATALOG_PROVIDER_ITEM_ID_MAX + 1);
	long_sku[CATALOG_PROVIDER_ITEM_ID_MAX + 1] = '\0';
	doc = util_xasprintf(DOC(ENT("e0", PRIME("ok") "," PRIME("abc!") ","
				      PRIME("") "," PRIME("%s") ","
				      "{'primeGaming': {}},"
				      "{'primeGaming': {'sku': 5, 'name': 'x'}},"
				      PRIME("has space") "," PRIME("a/b") ","
				      PRIME("caf\\u00e9"))), long_sku);
	EXPECT(doc,
	       "entitlements[0].providerDetails[1].primeGaming.sku: 'abc!' has characters outside [A-Za-z0-9_:.-]",
	       "entitlements[0].providerDetails[2].primeGaming.sku: must not be empty",
	       "entitlements[0].providerDetails[3].primeGaming.sku: must be at most 256 bytes",
	       "entitlements[0].providerDetails[4].primeGaming.sku: is required",
	       "entitlements[0].providerDetails[5].primeGaming.sku: must be a string",
	       "entitlements[0].providerDetails[5].primeGaming: unknown key 'name'",
	       "entitlements[0].providerDetails[6].primeGaming.sku: 'has space' has characters outside [A-Za-z0-9_:.-]",
	       "entitlements[0].providerDetails[7].primeGaming.sku: 'a/b' has characters outside [A-Za-z0-9_:.-]",
	       "entitlements[0].providerDetails[8].primeGaming.sku: 'caf\xc3\xa9' has characters outside [A-Za-z0-9_:.-]");
	free(doc);
}

Test(catalog_rules, provider_id_mapped_twice)
{
	EXPECT(DOC(ENT("e0", PRIME("x")) ","
		   ENT("e1", "{'twitchDrop': {'rewardId': 'r'}}") ","
		   ENT("e2", PRIME("x") "," PRIME("y")) ","
		   ENT("e3", "{'steamEntitlement': {'inventoryItem': {'itemDefId': 10010}}}") ","
		   ENT("e4", "{'steamEntitlement': {'inventoryItem': {'itemDefId': '10010'}}}") ","
		   ENT("e5", PRIME("x")) ","
		   ENT("e6", PRIME("y") "," PRIME("y"))),
	       "entitlements[2].providerDetails[0].primeGaming.sku: 'x' is already mapped by entitlements[0]",
	       "entitlements[5].providerDetails[0].primeGaming.sku: 'x' is already mapped by entitlements[0]",
	       "entitlements[6].providerDetails[0].primeGaming.sku: 'y' is already mapped by entitlements[2]",
	       "entitlements[6].providerDetails[1].primeGaming.sku: 'y' is already mapped by entitlements[2]",
	       "entitlements[4].providerDetails[0].steamEntitlement.inventoryItem.itemDefId: '10010' is already mapped by entitlements[3]");
}

Test(catalog_rules, twitch_epic_and_gamepot_ids)
{
	EXPECT(DOC(ENT("e0", "{'twitchDrop': {}},"
			     "{'twitchDrop': {'rewardId': ''}},"
			     "{'twitchDrop': {'rewardId': 'a\\tb'}},"
			     "{'twitchDrop': {'rewardId': 'r', 'benefitId': 'b'}}") ","
		   ENT("e1", "{'epicEntitlement': {'audienceItemId': 'a1'}},"
			     "{'epicEntitlement': {'audienceItemId': 'a2', 'offerType': 'consumable'}},"
			     "{'epicEntitlement': {'offerType': 'GAME'}},"
			     "{'epicEntitlement': {'audienceItemId': 'a3', 'offerType': 7}}") ","
		   ENT("e2", "{'epicEntitlement': {'audienceItemId': 'b1', 'offerType': 'EDITION'}},"
			     "{'epicEntitlement': {'audienceItemId': 'b2', 'offerType': 'ADDON'}}") ","
		   ENT("e3", "{'gamepot': {}},"
			     "{'gamepot': {'productId': 'p', 'itemId': 'i'}},"
			     "{'gamepot': {'productId': 3}},"
			     "{'gamepot': {'itemId': ''}}")),
	       "entitlements[0].providerDetails[0].twitchDrop.rewardId: is required",
	       "entitlements[0].providerDetails[1].twitchDrop.rewardId: must not be empty",
	       "entitlements[0].providerDetails[2].twitchDrop.rewardId: must not contain control characters",
	       "entitlements[0].providerDetails[3].twitchDrop: unknown key 'benefitId'",
	       "entitlements[1].providerDetails[0].epicEntitlement.offerType: is required",
	       "entitlements[1].providerDetails[1].epicEntitlement.offerType: must be one of CONSUMABLE, ADDON, EDITION, DEMO, DIGITALEXTRA, SEASONPASS, GAME",
	       "entitlements[1].providerDetails[2].epicEntitlement.audienceItemId: is required",
	       "entitlements[1].providerDetails[3].epicEntitlement.offerType: must be one of CONSUMABLE, ADDON, EDITION, DEMO, DIGITALEXTRA, SEASONPASS, GAME",
	       "entitlements[2].providerDetails[1].epicEntitlement.offerType: 'ADDON' differs from 'EDITION' given earlier in this entry (an entry has one Epic offer type)",
	       "entitlements[3].providerDetails[0].gamepot: must have exactly one of 'productId', 'itemId'",
	       "entitlements[3].providerDetails[1].gamepot: must have exactly one of 'productId', 'itemId'",
	       "entitlements[3].providerDetails[2].gamepot.productId: must be a string",
	       "entitlements[3].providerDetails[3].gamepot.itemId: must not be empty");
}

Test(catalog_rules, tentuplay_sku)
{
	char long_sku[CATALOG_PROVIDER_ITEM_ID_MAX + 2];
	char *doc;

	memset(long_sku, 'b', CATALOG_PROVIDER_ITEM_ID_MAX + 1);
	long_sku[CATALOG_PROVIDER_ITEM_ID_MAX + 1] = '\0';
	doc = util_xasprintf(DOC(ENT("e0", "{'tentuplay': {'sku': 'ok_1'}},"
				      "{'tentuplay': {}},"
				      "{'tentuplay': {'sku': ''}},"
				      "{'tentuplay': {'sku': 'a b'}},"
				      "{'tentuplay': {'sku': '%s'}},"
				      "{'tentuplay': {'sku': 7}},"
				      "{'tentuplay': {'sku': 'x', 'productId': 'y'}},"
				      "{'tentuplay': 'ok_1'}") ","
				 ENT("e1", "{'tentuplay': {'sku': 'ok_1'}},"
				      "{'primeGaming': {'sku': 'ok_1'}}")),
			     long_sku);
	EXPECT(doc,
	       "entitlements[0].providerDetails[1].tentuplay.sku: is required",
	       "entitlements[0].providerDetails[2].tentuplay.sku: must not be empty",
	       "entitlements[0].providerDetails[3].tentuplay.sku: 'a b' has characters outside [A-Za-z0-9_:.-]",
	       "entitlements[0].providerDetails[4].tentuplay.sku: must be at most 256 bytes",
	       "entitlements[0].providerDetails[5].tentuplay.sku: must be a string",
	       "entitlements[0].providerDetails[6].tentuplay: unknown key 'productId'",
	       "entitlements[0].providerDetails[7].tentuplay: must be an object",
	       "entitlements[1].providerDetails[0].tentuplay.sku: 'ok_1' is already mapped by entitlements[0]");
	free(doc);
}

Test(catalog_rules, steam_ids)
{
	EXPECT(DOC(ENT("e0", "{'steamEntitlement': {}},"
			     "{'steamEntitlement': {'inventoryItem': {'itemDefId': 1}, 'app': {'appId': 2}}},"
			     "{'steamEntitlement': {'inventoryItem': {'itemDefId': -1}}},"
			     "{'steamEntitlement': {'inventoryItem': {'itemDefId': '12a'}}},"
			     "{'steamEntitlement': {'inventoryItem': {'itemDefId': 1.5}}},"
			     "{'steamEntitlement': {'inventoryItem': {'itemDefId': ''}}},"
			     "{'steamEntitlement': {'app': {'appId': '18446744073709551616'}}},"
			     "{'steamEntitlement': {'app': {}}},"
			     "{'steamEntitlement': {'app': {'appId': '-5', 'x': 1}}},"
			     "{'steamEntitlement': {'app': 480}}")),
	       "entitlements[0].providerDetails[0].steamEntitlement: must have exactly one of 'inventoryItem', 'app'",
	       "entitlements[0].providerDetails[1].steamEntitlement: must have exactly one of 'inventoryItem', 'app'",
	       "entitlements[0].providerDetails[2].steamEntitlement.inventoryItem.itemDefId: must be a non-negative integer or a string of digits",
	       "entitlements[0].providerDetails[3].steamEntitlement.inventoryItem.itemDefId: must be a non-negative integer or a string of digits",
	       "entitlements[0].providerDetails[4].steamEntitlement.inventoryItem.itemDefId: must be a non-negative integer or a string of digits",
	       "entitlements[0].providerDetails[5].steamEntitlement.inventoryItem.itemDefId: must be a non-negative integer or a string of digits",
	       "entitlements[0].providerDetails[6].steamEntitlement.app.appId: must be less than 2^64",
	       "entitlements[0].providerDetails[7].steamEntitlement.app.appId: is required",
	       "entitlements[0].providerDetails[8].steamEntitlement.app.appId: must be a non-negative integer or a string of digits",
	       "entitlements[0].providerDetails[8].steamEntitlement.app: unknown key 'x'",
	       "entitlements[0].providerDetails[9].steamEntitlement.app: must be an object");
}

Test(catalog, steam_string_ids_up_to_uint64_max)
{
	struct catalog *c = parse_ok(DOC(ENT("e", "{'steamEntitlement': {'app':"
						  " {'appId': '18446744073709551615'}}}")));

	cr_assert_not_null(catalog_lookup(c, CATALOG_STEAM_APP, "18446744073709551615"));
	catalog_unref(c);
}

Test(catalog_rules, all_problems_reported_together)
{
	struct util_strlist p;
	static const char *const msgs[] = {
		"$: unknown key 'version'",
		"items[1].kind: must be 'stackable' or 'instanced'",
		"bundles[0].instanced[0].catalogId: unknown item 'cape'",
		"entitlements[0].stackable.amount: must be greater than 0",
		"entitlements[1]: unknown key 'limitPerAcount'",
		"entitlements[1].providerDetails[0].primeGaming.sku: 'abc!' has characters outside [A-Za-z0-9_:.-]",
		"entitlements[2].bundle.id: unknown bundle 'x'",
		"entitlements[3].providerDetails[0].primeGaming.sku: 'ok' is already mapped by entitlements[0]",
	};

	util_strlist_init(&p);
	cr_assert_null(parse_q(
		"{'version': 1,"
		" 'items': [{'catalogId': 'gold', 'kind': 'stackable'},"
		"           {'catalogId': 'hat', 'kind': 'hat'}],"
		" 'bundles': [{'id': 'b', 'instanced': [{'catalogId': 'cape'},"
		"                                      {'catalogId': 'hat'}]}],"
		" 'entitlements': ["
		"  {'id': 'a', 'stackable': {'catalogId': 'gold', 'amount': 0},"
		"   'providerDetails': [{'primeGaming': {'sku': 'ok'}}]},"
		"  {'id': 'b', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		"   'providerDetails': [{'primeGaming': {'sku': 'abc!'}}], 'limitPerAcount': 1},"
		"  {'id': 'c', 'bundle': {'id': 'x'}, 'providerDetails': []},"
		"  {'id': 'd', 'stackable': {'catalogId': 'gold', 'amount': 1},"
		"   'providerDetails': [{'primeGaming': {'sku': 'ok'}}]}]}", &p));
	for (size_t i = 0; i < UTIL_ARRAY_LEN(msgs); i++)
		assert_has(&p, msgs[i]);
	/* Nothing else: in particular no second problem for the reference to
	 * "hat", whose kind is already reported. */
	cr_assert_eq(p.len, UTIL_ARRAY_LEN(msgs), "extra problems:\n%s", joined(&p));
	util_strlist_release(&p);
}

Test(catalog_rules, problems_are_appended_to_existing_list)
{
	struct util_strlist p;

	util_strlist_init(&p);
	util_strlist_add(&p, "earlier");
	cr_assert_null(parse_q("{'x': 1}", &p));
	cr_assert_eq(p.len, 2);
	cr_assert_str_eq(p.items[0], "earlier");
	util_strlist_release(&p);
}

Test(catalog_rules, echoed_values_are_escaped_and_cut)
{
	char key[400];
	char *doc, *msg;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	doc = util_xasprintf("{'%s': 1, 'a\\u0001b': 2}", key);
	msg = util_xasprintf("$: unknown key '%.256s'...", key);
	EXPECT(doc, "$: unknown key 'a\\u0001b'");
	EXPECT(doc, msg);
	free(doc);
	free(msg);
}

/* ---- SKU charset ------------------------------------------------------- */

Test(catalog_sku, charset_and_length)
{
	char buf[CATALOG_PROVIDER_ITEM_ID_MAX + 2];
	static const char allowed[] = "_:.-";
	static const char *const rejected[] = { "a b", "a/b", "caf\xc3\xa9",
						"a!", "a\"", "a+b", "a\tb",
						"a,b", "a@b", "~" };

	memset(buf, 'Z', sizeof(buf));
	cr_assert(catalog_sku_valid(buf, CATALOG_PROVIDER_ITEM_ID_MAX));
	cr_assert_not(catalog_sku_valid(buf, CATALOG_PROVIDER_ITEM_ID_MAX + 1));
	cr_assert_not(catalog_sku_valid("", 0));
	cr_assert_not(catalog_sku_valid(NULL, 0));
	cr_assert(catalog_sku_valid("primegaming_season01_drop01", 27));
	cr_assert(catalog_sku_valid("AZaz09", 6));
	for (size_t i = 0; allowed[i]; i++) {
		char sku[3] = { 'a', allowed[i], '\0' };

		cr_assert(catalog_sku_valid(sku, 2), "%s", sku);
		cr_assert(catalog_sku_valid(&allowed[i], 1), "%c", allowed[i]);
	}
	for (size_t i = 0; i < UTIL_ARRAY_LEN(rejected); i++)
		cr_assert_not(catalog_sku_valid(rejected[i], strlen(rejected[i])),
			      "%s", rejected[i]);
	cr_assert_not(catalog_sku_valid("a\0b", 3));
	/* Only `len` bytes are looked at. */
	cr_assert(catalog_sku_valid("ab!", 2));
}

/* ---- reference counting and the holder ------------------------------------ */

Test(catalog_refs, ref_and_unref)
{
	struct catalog *c = parse_ok(DOC(ENT("e", PRIME("s"))));

	cr_assert_eq(catalog_ref(c), c);
	catalog_unref(c);
	cr_assert_not_null(catalog_lookup(c, CATALOG_PRIME_GAMING, "s"));
	catalog_unref(c);
	catalog_unref(NULL);
	cr_assert_null(catalog_ref(NULL));
}

Test(catalog_refs, holder_get_and_swap)
{
	struct catalog *a = parse_ok(DOC(ENT("a", PRIME("s"))));
	struct catalog *b = parse_ok(DOC(ENT("b", PRIME("s"))));
	struct catalog_holder *h = catalog_holder_new(a);
	struct catalog *held = catalog_holder_get(h), *now;

	cr_assert_eq(held, a);
	catalog_holder_swap(h, b);
	/* The old snapshot stays usable while a reader holds it. */
	cr_assert_str_eq(catalog_lookup(held, CATALOG_PRIME_GAMING, "s")->id, "a");
	now = catalog_holder_get(h);
	cr_assert_eq(now, b);
	cr_assert_str_eq(catalog_lookup(now, CATALOG_PRIME_GAMING, "s")->id, "b");
	catalog_unref(held);
	catalog_unref(now);
	catalog_holder_free(h);
	catalog_holder_free(NULL);
}

struct stress {
	struct catalog_holder *h;
	atomic_bool stop;
	atomic_long reads;
	atomic_long bad_reads; /* counted here: cr_assert is main-thread only */
};

static void *reader(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		struct catalog *c = catalog_holder_get(s->h);
		const struct catalog_entitlement *e;

		e = catalog_lookup(c, CATALOG_PRIME_GAMING, "sku");
		if (!e || e->grants[0].amount != 10 ||
		    catalog_entitlement_count(c) != 1)
			atomic_fetch_add(&s->bad_reads, 1);
		catalog_unref(c);
		atomic_fetch_add(&s->reads, 1);
	}
	return NULL;
}

Test(catalog_refs, holder_swap_under_concurrent_readers)
{
	enum { READERS = 6, SWAPS = 1000 };
	struct stress s = { .h = catalog_holder_new(parse_ok(DOC(ENT("e", PRIME("sku"))))) };
	pthread_t threads[READERS];

	atomic_init(&s.stop, false);
	atomic_init(&s.reads, 0);
	atomic_init(&s.bad_reads, 0);
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, reader, &s), 0);
	for (int i = 0; i < SWAPS; i++)
		catalog_holder_swap(s.h, parse_ok(DOC(ENT("e", PRIME("sku")))));
	atomic_store(&s.stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(threads[i], NULL);
	cr_assert_gt(atomic_load(&s.reads), 0);
	cr_assert_eq(atomic_load(&s.bad_reads), 0);
	catalog_holder_free(s.h);
}

Test(catalog, version_order_and_provider_details)
{
	static const char doc[] = "{\"items\": [{\"catalogId\": \"gold\", "
		"\"kind\": \"stackable\"}, {\"catalogId\": \"gems\", \"kind\": "
		"\"stackable\"}], \"entitlements\": [{\"id\": \"b\", \"stackable\": "
		"{\"catalogId\": \"gold\", \"amount\": 1}, \"providerDetails\": "
		"[{\"primeGaming\": {\"sku\": \"s1\"}}, {\"twitchDrop\": "
		"{\"rewardId\": \"r1\"}}]}, {\"id\": \"a\", \"stackable\": "
		"{\"catalogId\": \"gems\", \"amount\": 2}, \"providerDetails\": []}]}";
	struct util_strlist p;
	struct catalog *c = NULL;
	char hex[65];
	int64_t before = util_now_ms();

	util_strlist_init(&p);
	cr_assert_eq(catalog_parse(doc, strlen(doc), &c, &p), 0);
	util_sha256_hex(doc, strlen(doc), hex);
	cr_assert_str_eq(catalog_version(c), hex);
	cr_assert_geq(catalog_loaded_at_ms(c), before);
	/* file order, not id order */
	cr_assert_str_eq(catalog_entitlement_at(c, 0)->id, "b");
	cr_assert_str_eq(catalog_entitlement_at(c, 1)->id, "a");
	cr_assert_null(catalog_entitlement_at(c, 2));
	cr_assert_str_eq(catalog_item_at(c, 1)->catalog_id, "gems");
	cr_assert_null(catalog_item_at(c, 2));
	cr_assert_str_eq(catalog_entitlement_provider_details(
				 catalog_entitlement_at(c, 0)),
			 "[{\"primeGaming\":{\"sku\":\"s1\"}},"
			 "{\"twitchDrop\":{\"rewardId\":\"r1\"}}]");
	cr_assert_str_eq(catalog_entitlement_provider_details(
				 catalog_entitlement_at(c, 1)), "[]");
	catalog_unref(c);
	util_strlist_release(&p);
}
