/* catalog/validate.c: checks a parsed catalog document (docs/catalog.md) and
 * builds the snapshot from it, naming every problem by its JSON path. */
#include "catalog/catalog_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Values echoed in messages are cut after this many bytes. */
#define QUOTE_MAX CATALOG_PROVIDER_ITEM_ID_MAX

struct ctx {
	struct catalog *c;            /* borrowed: the snapshot being built */
	struct util_strlist *problems; /* borrowed */
	size_t problems_before;
	struct util_buf path;         /* path of the value in hand; "" = root */
	struct util_strlist quoted;   /* storage for quote() */
	bool *kind_unknown;           /* per item: "kind" was invalid */
	size_t entry;                 /* entitlement being parsed */
	size_t detail;                /* its providerDetails element */
};

/* ---- paths and messages ---------------------------------------------- */

/* Appends ".key" (or "key" at the root) to the path; returns the length to
 * restore with path_restore. */
static size_t path_key(struct ctx *x, const char *key)
{
	size_t len = x->path.len;

	util_buf_printf(&x->path, "%s%s", len ? "." : "", key);
	return len;
}

static size_t path_index(struct ctx *x, size_t i)
{
	size_t len = x->path.len;

	util_buf_printf(&x->path, "[%zu]", i);
	return len;
}

static void path_restore(struct ctx *x, size_t len)
{
	x->path.len = len;
	if (x->path.data)
		x->path.data[len] = '\0';
}

__attribute__((format(printf, 2, 0)))
static void vproblem(struct ctx *x, const char *fmt, va_list ap)
{
	struct util_buf msg;

	util_buf_init(&msg, 0);
	util_buf_vprintf(&msg, fmt, ap);
	util_strlist_add(x->problems, "%s: %s",
			 x->path.len ? x->path.data : "$",
			 msg.data ? msg.data : "");
	util_buf_release(&msg);
}

/* Reports a problem with the value at the current path. */
__attribute__((format(printf, 2, 3)))
static void problem(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(x, fmt, ap);
	va_end(ap);
}

/* Reports a problem with member `key` of the object at the current path. */
__attribute__((format(printf, 3, 4)))
static void field_problem(struct ctx *x, const char *key, const char *fmt, ...)
{
	size_t len = path_key(x, key);
	va_list ap;

	va_start(ap, fmt);
	vproblem(x, fmt, ap);
	va_end(ap);
	path_restore(x, len);
}

/* Returns `s` as a JSON string literal for a message, cut after QUOTE_MAX
 * bytes so a huge key cannot flood the log (borrowed; lives as long as x). */
static const char *quote(struct ctx *x, const char *s)
{
	size_t n = strlen(s);
	bool cut = n > QUOTE_MAX;
	struct util_buf b;
	char *part;

	if (cut) {
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* don't split a UTF-8 sequence */
	}
	part = util_xstrndup(s, n);
	util_buf_init(&b, 0);
	util_buf_json_str(&b, part);
	if (cut)
		util_buf_puts(&b, "...");
	util_strlist_add(&x->quoted, "%s", b.data);
	util_buf_release(&b);
	free(part);
	return x->quoted.items[x->quoted.len - 1];
}

/* ---- typed members ---------------------------------------------------- */

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Reports every key of `obj` missing from the NULL-terminated `allowed`. */
static void check_keys(struct ctx *x, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (!in_list(key, allowed))
			problem(x, "unknown key %s", quote(x, key));
	}
}

/* Reports unless exactly one of the NULL-terminated `keys` is in `obj`. */
static void check_exactly_one(struct ctx *x, json_t *obj,
			      const char *const *keys)
{
	struct util_buf list;
	size_t present = 0;

	for (const char *const *k = keys; *k; k++)
		present += json_object_get(obj, *k) != NULL;
	if (present == 1)
		return;
	util_buf_init(&list, 0);
	for (const char *const *k = keys; *k; k++)
		util_buf_printf(&list, "%s\"%s\"", k == keys ? "" : ", ", *k);
	problem(x, "must have exactly one of %s", list.data);
	util_buf_release(&list);
}

/* Member `key` of `obj` (borrowed), or NULL; a missing member is reported
 * when `required`. */
static json_t *member(struct ctx *x, json_t *obj, const char *key,
		      bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v && required)
		field_problem(x, key, "is required");
	return v;
}

static json_t *get_object(struct ctx *x, json_t *obj, const char *key,
			  bool required)
{
	json_t *v = member(x, obj, key, required);

	if (v && !json_is_object(v)) {
		field_problem(x, key, "must be an object");
		return NULL;
	}
	return v;
}

static json_t *get_array(struct ctx *x, json_t *obj, const char *key,
			 bool required)
{
	json_t *v = member(x, obj, key, required);

	if (v && !json_is_array(v)) {
		field_problem(x, key, "must be an array");
		return NULL;
	}
	return v;
}

/* The string value of member `key` (borrowed from the document), or NULL
 * when it is missing or reported as not a string. */
static const char *get_string(struct ctx *x, json_t *obj, const char *key,
			      bool required)
{
	json_t *v = member(x, obj, key, required);

	if (v && !json_is_string(v)) {
		field_problem(x, key, "must be a string");
		return NULL;
	}
	return v ? json_string_value(v) : NULL;
}

/* Reads member `key` as an integer in [1, max] into *out. Returns 0, or -1
 * if it is missing (reported when `required`) or invalid (reported). */
static int get_positive_int(struct ctx *x, json_t *obj, const char *key,
			    bool required, int64_t max, int64_t *out)
{
	json_t *v = member(x, obj, key, required);
	json_int_t n;

	if (!v)
		return -1;
	if (!json_is_integer(v)) {
		field_problem(x, key, "must be an integer");
		return -1;
	}
	n = json_integer_value(v);
	if (n <= 0) {
		field_problem(x, key, "must be greater than 0");
		return -1;
	}
	if (n > max) {
		field_problem(x, key, "must be at most %" PRId64, max);
		return -1;
	}
	*out = n;
	return 0;
}

static bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Checks an id or provider item id of at most `max` bytes. Returns 0, or -1
 * after reporting. */
static int check_id_text(struct ctx *x, const char *key, const char *s,
			 size_t max)
{
	size_t n = strlen(s);

	if (n == 0)
		field_problem(x, key, "must not be empty");
	else if (n > max)
		field_problem(x, key, "must be at most %zu bytes", max);
	else if (has_control_chars(s))
		field_problem(x, key, "must not contain control characters");
	else
		return 0;
	return -1;
}

/* A required catalog id member (borrowed), or NULL after reporting. */
static const char *get_id(struct ctx *x, json_t *obj, const char *key)
{
	const char *s = get_string(x, obj, key, true);

	return s && !check_id_text(x, key, s, CATALOG_ID_MAX) ? s : NULL;
}

/* ---- items and bundles ------------------------------------------------ */

typedef void (*element_fn)(struct ctx *x, json_t *el, size_t i, void *arg);

/* Hands each element of the array `arr` (member `key` of the current
 * object; NULL = none) to `fn` with its path pushed; non-objects are
 * reported instead. */
static void each_object(struct ctx *x, const char *key, json_t *arr,
			element_fn fn, void *arg)
{
	size_t outer = path_key(x, key), inner;

	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *el = json_array_get(arr, i);

		inner = path_index(x, i);
		if (json_is_object(el))
			fn(x, el, i, arg);
		else
			problem(x, "must be an object");
		path_restore(x, inner);
	}
	path_restore(x, outer);
}

static const char *kind_name(enum catalog_item_kind kind)
{
	return kind == CATALOG_STACKABLE ? "stackable" : "instanced";
}

static void parse_item_kind(struct ctx *x, json_t *j, size_t i)
{
	struct catalog_item *it = &x->c->items[i];
	json_t *v = member(x, j, "kind", true);
	const char *kind = json_string_value(v);

	if (kind && !strcmp(kind, "stackable")) {
		it->kind = CATALOG_STACKABLE;
	} else if (kind && !strcmp(kind, "instanced")) {
		it->kind = CATALOG_INSTANCED;
	} else {
		x->kind_unknown[i] = true;
		if (v)
			field_problem(x, "kind",
				      "must be \"stackable\" or \"instanced\"");
	}
}

static void parse_item(struct ctx *x, json_t *j, size_t i, void *arg)
{
	static const char *const keys[] = { "catalogId", "kind", "name",
					    "unique", NULL };
	struct catalog_item *it = &x->c->items[i];
	const char *id, *name;
	json_t *unique;

	(void)arg;
	check_keys(x, j, keys);
	id = get_id(x, j, "catalogId");
	if (id) {
		it->catalog_id = util_xstrdup(id);
		catalog__index_add(&x->c->items_by_id, it->catalog_id, i, 0);
	}
	parse_item_kind(x, j, i);
	name = get_string(x, j, "name", false);
	if (name)
		it->name = util_xstrdup(name);
	unique = json_object_get(j, "unique");
	if (unique && !json_is_boolean(unique))
		field_problem(x, "unique", "must be true or false");
	else if (unique && it->kind != CATALOG_INSTANCED && !x->kind_unknown[i])
		field_problem(x, "unique", "only allowed on instanced items");
	else
		it->unique = json_is_true(unique);
}

/* The item named by member `key`, which must be of `kind` (borrowed), or
 * NULL after reporting. */
static const struct catalog_item *get_item(struct ctx *x, json_t *obj,
					   const char *key,
					   enum catalog_item_kind kind)
{
	const char *id = get_id(x, obj, key);
	const struct catalog_key *k;
	const struct catalog_item *it;

	if (!id)
		return NULL;
	k = catalog__index_find(&x->c->items_by_id, id);
	if (!k) {
		field_problem(x, key, "unknown item %s", quote(x, id));
		return NULL;
	}
	it = &x->c->items[k->pos];
	if (x->kind_unknown[k->pos])
		return NULL; /* already reported at the item */
	if (it->kind != kind) {
		field_problem(x, key, "%s is %s, not %s", quote(x, id),
			      kind_name(it->kind), kind_name(kind));
		return NULL;
	}
	return it;
}

/* {"catalogId", "amount"}: one grant of a stackable item. */
static void parse_stackable_grant(struct ctx *x, json_t *j, size_t i,
				  void *grants)
{
	static const char *const keys[] = { "catalogId", "amount", NULL };
	struct catalog_grant *g = (struct catalog_grant *)grants + i;

	check_keys(x, j, keys);
	g->item = get_item(x, j, "catalogId", CATALOG_STACKABLE);
	get_positive_int(x, j, "amount", true, CATALOG_AMOUNT_MAX, &g->amount);
}

/* {"catalogId"}: one instance of an instanced item. A unique item may
 * appear once among grants[0..i]. */
static void parse_instanced_grant(struct ctx *x, json_t *j, size_t i,
				  void *grants)
{
	static const char *const keys[] = { "catalogId", NULL };
	struct catalog_grant *all = grants, *g = &all[i];

	check_keys(x, j, keys);
	g->item = get_item(x, j, "catalogId", CATALOG_INSTANCED);
	g->amount = 1;
	if (!g->item || !g->item->unique)
		return;
	for (size_t k = 0; k < i; k++) {
		if (all[k].item == g->item) {
			field_problem(x, "catalogId",
				      "unique item %s is already in this bundle",
				      quote(x, g->item->catalog_id));
			return;
		}
	}
}

static void parse_bundle(struct ctx *x, json_t *j, size_t i, void *arg)
{
	static const char *const keys[] = { "id", "stackables", "instanced",
					    NULL };
	struct catalog_bundle *b = &x->c->bundles[i];
	json_t *stackables, *instanced;
	size_t n_stack, n_inst;
	const char *id;

	(void)arg;
	check_keys(x, j, keys);
	id = get_id(x, j, "id");
	if (id) {
		b->id = util_xstrdup(id);
		catalog__index_add(&x->c->bundles_by_id, b->id, i, 0);
	}
	stackables = get_array(x, j, "stackables", false);
	instanced = get_array(x, j, "instanced", false);
	n_stack = json_array_size(stackables);
	n_inst = json_array_size(instanced);
	b->n_grants = n_stack + n_inst;
	b->grants = util_xcalloc(b->n_grants, sizeof(*b->grants));
	each_object(x, "stackables", stackables, parse_stackable_grant,
		    b->grants);
	each_object(x, "instanced", instanced, parse_instanced_grant,
		    b->grants + n_stack);
	if (b->n_grants == 0)
		problem(x, "must contain at least one item in \"stackables\" or \"instanced\"");
}

/* ---- provider details ------------------------------------------------- */

/* Where each provider's item id sits inside a providerDetails element. */
static const char *const provider_paths[CATALOG_PROVIDER_COUNT] = {
#define NAMESPACE_PATH(name, path) [CATALOG_##name] = (path),
	CATALOG_NAMESPACES(NAMESPACE_PATH)
#undef NAMESPACE_PATH
};

const char *catalog_namespace_path(enum catalog_provider provider)
{
	return (unsigned)provider < CATALOG_PROVIDER_COUNT ?
		provider_paths[provider] : NULL;
}

/* Maps the provider item id `id` (ownership moves in) to the entitlement
 * being parsed; clashes are reported once every entry is read. */
static void map_provider_id(struct ctx *x, enum catalog_provider provider,
			    char *id)
{
	catalog__index_add(&x->c->providers[provider], id, x->entry, x->detail);
}

/* A required provider item id member that is any text without control
 * characters (Twitch, Epic, GAMEPOT). */
static void parse_provider_text(struct ctx *x, json_t *j, const char *key,
				enum catalog_provider provider)
{
	const char *s = get_string(x, j, key, true);

	if (s && !check_id_text(x, key, s, CATALOG_PROVIDER_ITEM_ID_MAX))
		map_provider_id(x, provider, util_xstrdup(s));
}

/* A required "sku" member: 1..256 bytes of [A-Za-z0-9_:.-] (Prime Gaming's
 * rule, also TentuPlay's SKUs'), the only key of j. */
static void parse_sku(struct ctx *x, json_t *j, enum catalog_provider provider)
{
	static const char *const keys[] = { "sku", NULL };
	const char *sku;
	size_t n;

	check_keys(x, j, keys);
	sku = get_string(x, j, "sku", true);
	if (!sku)
		return;
	n = strlen(sku);
	if (n == 0)
		field_problem(x, "sku", "must not be empty");
	else if (n > CATALOG_PROVIDER_ITEM_ID_MAX)
		field_problem(x, "sku", "must be at most %d bytes",
			      CATALOG_PROVIDER_ITEM_ID_MAX);
	else if (!catalog_sku_valid(sku, n))
		field_problem(x, "sku",
			      "%s has characters outside [A-Za-z0-9_:.-]",
			      quote(x, sku));
	else
		map_provider_id(x, provider, util_xstrdup(sku));
}

static void parse_prime_gaming(struct ctx *x, json_t *j)
{
	parse_sku(x, j, CATALOG_PRIME_GAMING);
}

static void parse_twitch_drop(struct ctx *x, json_t *j)
{
	static const char *const keys[] = { "rewardId", NULL };

	check_keys(x, j, keys);
	parse_provider_text(x, j, "rewardId", CATALOG_TWITCH_DROP);
}

/* The Epic offer type spelled `s` (a static string), or NULL. */
static const char *epic_offer_type(const char *s)
{
	static const char *const types[] = { "CONSUMABLE", "ADDON", "EDITION",
					     "DEMO", "DIGITALEXTRA",
					     "SEASONPASS", "GAME" };

	for (size_t k = 0; s && k < UTIL_ARRAY_LEN(types); k++)
		if (!strcmp(s, types[k]))
			return types[k];
	return NULL;
}

static void parse_epic(struct ctx *x, json_t *j)
{
	static const char *const keys[] = { "audienceItemId", "offerType",
					    NULL };
	struct catalog_entitlement *e = &x->c->entries[x->entry].pub;
	json_t *v;
	const char *type;

	check_keys(x, j, keys);
	parse_provider_text(x, j, "audienceItemId", CATALOG_EPIC);
	v = member(x, j, "offerType", true);
	if (!v)
		return;
	type = epic_offer_type(json_string_value(v));
	if (!type)
		field_problem(x, "offerType", "must be one of CONSUMABLE, ADDON, EDITION, DEMO, DIGITALEXTRA, SEASONPASS, GAME");
	else if (e->epic_offer_type && e->epic_offer_type != type)
		field_problem(x, "offerType", "\"%s\" differs from \"%s\" given earlier in this entry (an entry has one Epic offer type)",
			      type, e->epic_offer_type);
	else
		e->epic_offer_type = type;
}

/* Parses a Steam id given as a non-negative integer or a string of digits
 * into its canonical decimal form (new string owned by the caller), or
 * returns NULL after reporting. */
static char *steam_id(struct ctx *x, json_t *j, const char *key)
{
	json_t *v = member(x, j, key, true);
	const char *s = json_string_value(v);
	uint64_t n = 0;

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return util_xasprintf("%" PRId64, (int64_t)json_integer_value(v));
	for (; s && *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			field_problem(x, key, "must be less than 2^64");
			return NULL;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (s && !*s && s != json_string_value(v))
		return util_xasprintf("%" PRIu64, n);
	if (v)
		field_problem(x, key, "must be a non-negative integer or a string of digits");
	return NULL;
}

/* steamEntitlement.inventoryItem or steamEntitlement.app. */
static void parse_steam_part(struct ctx *x, json_t *j, const char *part,
			     const char *key, enum catalog_provider provider)
{
	const char *const keys[] = { key, NULL };
	json_t *obj = get_object(x, j, part, false);
	size_t len;
	char *id;

	if (!obj)
		return;
	len = path_key(x, part);
	check_keys(x, obj, keys);
	id = steam_id(x, obj, key);
	if (id)
		map_provider_id(x, provider, id);
	path_restore(x, len);
}

static void parse_steam(struct ctx *x, json_t *j)
{
	static const char *const keys[] = { "inventoryItem", "app", NULL };

	check_keys(x, j, keys);
	check_exactly_one(x, j, keys);
	parse_steam_part(x, j, "inventoryItem", "itemDefId", CATALOG_STEAM_ITEM);
	parse_steam_part(x, j, "app", "appId", CATALOG_STEAM_APP);
}

static void parse_gamepot(struct ctx *x, json_t *j)
{
	static const char *const keys[] = { "productId", "itemId", NULL };

	check_keys(x, j, keys);
	check_exactly_one(x, j, keys);
	if (json_object_get(j, "productId"))
		parse_provider_text(x, j, "productId", CATALOG_GAMEPOT_PRODUCT);
	if (json_object_get(j, "itemId"))
		parse_provider_text(x, j, "itemId", CATALOG_GAMEPOT_ITEM);
}

/* tentuplay: {"sku"}: what a redeemed offer names (a personalised offer's
 * product_id, an AI offer's purchasable_slug). */
static void parse_tentuplay(struct ctx *x, json_t *j)
{
	parse_sku(x, j, CATALOG_TENTUPLAY_SKU);
}

/* Every providerDetails key and its parser (which maps the namespaces'
 * ids it reads); the keys, in this order, are also what a providerDetails
 * element may hold. */
static const struct {
	const char *key;
	void (*parse)(struct ctx *x, json_t *j);
} provider_parsers[] = {
	{ "primeGaming", parse_prime_gaming },
	{ "twitchDrop", parse_twitch_drop },
	{ "epicEntitlement", parse_epic },
	{ "steamEntitlement", parse_steam },
	{ "gamepot", parse_gamepot },
	{ "tentuplay", parse_tentuplay },
};

static void parse_provider_detail(struct ctx *x, json_t *j, size_t i,
				  void *arg)
{
	const char *keys[UTIL_ARRAY_LEN(provider_parsers) + 1];

	(void)arg;
	for (size_t k = 0; k < UTIL_ARRAY_LEN(provider_parsers); k++)
		keys[k] = provider_parsers[k].key;
	keys[UTIL_ARRAY_LEN(provider_parsers)] = NULL;
	x->detail = i;
	check_keys(x, j, keys);
	check_exactly_one(x, j, keys);
	for (size_t k = 0; k < UTIL_ARRAY_LEN(provider_parsers); k++) {
		const char *key = provider_parsers[k].key;
		json_t *v = get_object(x, j, key, false);
		size_t len;

		if (!v)
			continue;
		len = path_key(x, key);
		provider_parsers[k].parse(x, v);
		path_restore(x, len);
	}
}

/* ---- entitlements ----------------------------------------------------- */

static void parse_bundle_ref(struct ctx *x, json_t *j,
			     struct catalog_entitlement *e)
{
	static const char *const keys[] = { "id", NULL };
	const char *id;
	const struct catalog_key *k;
	const struct catalog_bundle *b;

	check_keys(x, j, keys);
	id = get_id(x, j, "id");
	if (!id)
		return;
	k = catalog__index_find(&x->c->bundles_by_id, id);
	if (!k) {
		field_problem(x, "id", "unknown bundle %s", quote(x, id));
		return;
	}
	b = &x->c->bundles[k->pos];
	e->grants = b->grants;
	e->n_grants = b->n_grants;
	e->bundle_id = b->id;
}

static void parse_grant(struct ctx *x, json_t *j, struct catalog_entry *e)
{
	static const char *const kinds[] = { "stackable", "instanced",
					     "bundle", NULL };
	static const element_fn single[] = { parse_stackable_grant,
					     parse_instanced_grant };
	json_t *v;
	size_t len;

	check_exactly_one(x, j, kinds);
	for (size_t k = 0; k < UTIL_ARRAY_LEN(single); k++) {
		v = get_object(x, j, kinds[k], false);
		if (!v)
			continue;
		len = path_key(x, kinds[k]);
		single[k](x, v, 0, &e->single);
		path_restore(x, len);
		e->pub.grants = &e->single;
		e->pub.n_grants = 1;
	}
	v = get_object(x, j, "bundle", false);
	if (v) {
		len = path_key(x, "bundle");
		parse_bundle_ref(x, v, &e->pub);
		path_restore(x, len);
	}
}

/* Reads an optional RFC 3339 member into *ms. Returns 0 if it was present
 * and valid, else -1 (reported unless missing). */
static int get_time(struct ctx *x, json_t *j, const char *key, int64_t *ms)
{
	const char *s = get_string(x, j, key, false);

	if (!s)
		return -1;
	if (util_rfc3339_parse(s, ms)) {
		field_problem(x, key, "not an RFC 3339 timestamp");
		return -1;
	}
	return 0;
}

static void parse_availability(struct ctx *x, json_t *j,
			       struct catalog_entitlement *e)
{
	static const char *const keys[] = { "startsAt", "endsAt", NULL };
	json_t *a = get_object(x, j, "availability", false);
	size_t len;

	if (!a)
		return;
	len = path_key(x, "availability");
	check_keys(x, a, keys);
	if (!json_object_get(a, "startsAt") && !json_object_get(a, "endsAt"))
		problem(x, "must have \"startsAt\" or \"endsAt\"");
	e->has_starts_at = !get_time(x, a, "startsAt", &e->starts_at_ms);
	e->has_ends_at = !get_time(x, a, "endsAt", &e->ends_at_ms);
	if (e->has_starts_at && e->has_ends_at &&
	    e->ends_at_ms <= e->starts_at_ms)
		field_problem(x, "endsAt", "must be after startsAt");
	path_restore(x, len);
}

static void parse_entitlement(struct ctx *x, json_t *j, size_t i, void *arg)
{
	static const char *const keys[] = { "id", "stackable", "instanced",
					    "bundle", "providerDetails",
					    "availability", "limitPerAccount",
					    NULL };
	struct catalog_entry *e = &x->c->entries[i];
	const char *id;

	(void)arg;
	check_keys(x, j, keys);
	id = get_id(x, j, "id");
	if (id) {
		e->pub.id = util_xstrdup(id);
		catalog__index_add(&x->c->entries_by_id, e->pub.id, i, 0);
	}
	parse_grant(x, j, e);
	parse_availability(x, j, &e->pub);
	get_positive_int(x, j, "limitPerAccount", false, INT64_MAX,
			 &e->pub.limit_per_account);
	x->entry = i;
	if (json_is_array(json_object_get(j, "providerDetails")))
		e->provider_details = json_dumps(
			json_object_get(j, "providerDetails"), JSON_COMPACT);
	each_object(x, "providerDetails",
		    get_array(x, j, "providerDetails", true),
		    parse_provider_detail, NULL);
}

/* ---- duplicates and the document --------------------------------------- */

typedef void (*duplicate_fn)(struct ctx *x, const struct catalog_key *dup,
			     const struct catalog_key *first, const void *arg);

/* Sorts `ix` and calls `fn` for each key equal to an earlier one. */
static void sort_and_find_duplicates(struct ctx *x, struct catalog_index *ix,
				     duplicate_fn fn, const void *arg)
{
	size_t first = 0;

	catalog__index_sort(ix);
	for (size_t i = 1; i < ix->len; i++) {
		if (strcmp(ix->keys[i].key, ix->keys[first].key) != 0)
			first = i;
		else
			fn(x, &ix->keys[i], &ix->keys[first], arg);
	}
}

static void report_duplicate_id(struct ctx *x, const struct catalog_key *dup,
				const struct catalog_key *first,
				const void *section)
{
	util_strlist_add(x->problems, "%s[%zu]: duplicate id %s (first at %s[%zu])",
			 (const char *)section, dup->pos, quote(x, dup->key),
			 (const char *)section, first->pos);
}

static void report_duplicate_mapping(struct ctx *x,
				     const struct catalog_key *dup,
				     const struct catalog_key *first,
				     const void *provider_path)
{
	util_strlist_add(x->problems,
			 "entitlements[%zu].providerDetails[%zu].%s: %s is already mapped by entitlements[%zu]",
			 dup->pos, dup->detail, (const char *)provider_path,
			 quote(x, dup->key), first->pos);
}

/* The optional array member `key` of the root (borrowed; NULL if absent or
 * reported) and its length in *count. */
static json_t *section(struct ctx *x, json_t *root, const char *key,
		       size_t *count)
{
	json_t *arr = get_array(x, root, key, false);

	*count = json_array_size(arr);
	return arr;
}

/* Sections go in dependency order: bundles refer to items, entitlements to
 * both, so each index is sorted before the next section looks things up. */
static void parse_document(struct ctx *x, json_t *root)
{
	static const char *const keys[] = { "items", "bundles",
					    "entitlements", NULL };
	struct catalog *c = x->c;
	json_t *arr;

	check_keys(x, root, keys);
	arr = section(x, root, "items", &c->n_items);
	c->items = util_xcalloc(c->n_items, sizeof(*c->items));
	x->kind_unknown = util_xcalloc(c->n_items, sizeof(*x->kind_unknown));
	each_object(x, "items", arr, parse_item, NULL);
	sort_and_find_duplicates(x, &c->items_by_id, report_duplicate_id,
				 "items");
	arr = section(x, root, "bundles", &c->n_bundles);
	c->bundles = util_xcalloc(c->n_bundles, sizeof(*c->bundles));
	each_object(x, "bundles", arr, parse_bundle, NULL);
	sort_and_find_duplicates(x, &c->bundles_by_id, report_duplicate_id,
				 "bundles");
	arr = section(x, root, "entitlements", &c->n_entries);
	c->entries = util_xcalloc(c->n_entries, sizeof(*c->entries));
	each_object(x, "entitlements", arr, parse_entitlement, NULL);
	sort_and_find_duplicates(x, &c->entries_by_id, report_duplicate_id,
				 "entitlements");
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++)
		sort_and_find_duplicates(x, &c->providers[p],
					 report_duplicate_mapping,
					 provider_paths[p]);
}

int catalog__build(struct catalog *c, json_t *root,
		   struct util_strlist *problems)
{
	struct ctx x = { .c = c, .problems = problems,
			 .problems_before = problems->len };

	util_buf_init(&x.path, 0);
	util_strlist_init(&x.quoted);
	if (json_is_array(root))
		problem(&x, "must be a JSON object with \"items\", \"bundles\" and \"entitlements\"; a Pragma ProviderEntitlements.json array belongs under \"entitlements\"");
	else if (!json_is_object(root))
		problem(&x, "must be a JSON object with \"items\", \"bundles\" and \"entitlements\"");
	else
		parse_document(&x, root);
	util_buf_release(&x.path);
	util_strlist_release(&x.quoted);
	free(x.kind_unknown);
	return problems->len == x.problems_before ? 0 : -1;
}
