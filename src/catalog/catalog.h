/* catalog: the content catalog (items, bundles, Pragma-shaped entitlements),
 * its validation, and lookups by provider item id on immutable snapshots. */
#ifndef GRANTD_CATALOG_H
#define GRANTD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* Largest amount a single stackable grant may carry. */
#define CATALOG_AMOUNT_MAX 1000000000
/* Longest id (catalogId, bundle id, entitlement id) in bytes. */
#define CATALOG_ID_MAX 128
/* Longest provider item id (SKU, reward id, …) in bytes. */
#define CATALOG_PROVIDER_ITEM_ID_MAX 256

enum catalog_item_kind {
	CATALOG_STACKABLE,
	CATALOG_INSTANCED,
};

struct catalog_item {
	const char *catalog_id;
	enum catalog_item_kind kind;
	const char *name;  /* NULL when absent */
	bool unique;       /* instanced only: owned at most once per account */
};

/* One line of what an entitlement grants: `amount` of a stackable item, or
 * one instance of an instanced item (amount is then 1). */
struct catalog_grant {
	const struct catalog_item *item;
	int64_t amount;
};

/* Lookup namespaces, one per kind of provider item id in providerDetails,
 * the one place they are listed:
 *   X(NAME, "where the id sits in a providerDetails element")
 * A namespace also needs the parser of its providerDetails key in
 * catalog/validate.c (provider_parsers), which maps the ids it reads. */
#define CATALOG_NAMESPACES(X) \
	X(PRIME_GAMING, "primeGaming.sku") \
	X(TWITCH_DROP, "twitchDrop.rewardId") \
	X(EPIC, "epicEntitlement.audienceItemId") \
	X(STEAM_ITEM, "steamEntitlement.inventoryItem.itemDefId") \
	X(STEAM_APP, "steamEntitlement.app.appId") \
	X(GAMEPOT_PRODUCT, "gamepot.productId") \
	X(GAMEPOT_ITEM, "gamepot.itemId") \
	X(TENTUPLAY_SKU, "tentuplay.sku")

enum catalog_provider {
#define CATALOG_NAMESPACE_ENUM(name, path) CATALOG_##name,
	CATALOG_NAMESPACES(CATALOG_NAMESPACE_ENUM)
#undef CATALOG_NAMESPACE_ENUM
	CATALOG_PROVIDER_COUNT
};

/* Where a namespace's ids sit in providerDetails ("primeGaming.sku"); a
 * static string. */
const char *catalog_namespace_path(enum catalog_provider provider);

struct catalog_entitlement {
	const char *id;
	/* What the entry grants. For a bundle this is the bundle expanded:
	 * its stackables in file order, then its instanced items. */
	const struct catalog_grant *grants;
	size_t n_grants;
	const char *bundle_id;      /* NULL unless the entry grants a bundle */
	bool has_starts_at;
	bool has_ends_at;
	int64_t starts_at_ms;       /* availability window, ms since epoch, */
	int64_t ends_at_ms;         /* valid when the has_ flag is set */
	int64_t limit_per_account;  /* 0 = no limit */
	const char *epic_offer_type; /* NULL unless an epicEntitlement is given */
};

/* An immutable catalog snapshot. Every pointer reachable from it is borrowed
 * and stays valid while the caller holds a reference. */
struct catalog;

/* Parses and validates a catalog document. On success returns 0 and a new
 * snapshot in *out (one reference, owned by the caller). On failure returns
 * -1, leaves *out NULL and appends one message per problem to `problems`,
 * each starting with its JSON path, e.g.
 * "entitlements[3].stackable.amount: must be greater than 0". */
int catalog_parse(const char *data, size_t len, struct catalog **out,
		  struct util_strlist *problems);
/* Reads `path` and parses it as catalog_parse does; an unreadable file is
 * one problem naming the path and the system error. */
int catalog_load_file(const char *path, struct catalog **out,
		      struct util_strlist *problems);

/* Reference counting; safe from any thread. unref frees at zero and accepts
 * NULL. */
struct catalog *catalog_ref(struct catalog *c);
void catalog_unref(struct catalog *c);

/* Finds the entitlement mapped to a provider item id (borrowed), or NULL. */
const struct catalog_entitlement *catalog_lookup(const struct catalog *c,
						 enum catalog_provider provider,
						 const char *provider_item_id);
/* Finds an entitlement by its id (borrowed), or NULL. */
const struct catalog_entitlement *catalog_entitlement_by_id(
	const struct catalog *c, const char *id);
/* Finds an item by catalogId (borrowed), or NULL. */
const struct catalog_item *catalog_item_by_id(const struct catalog *c,
					      const char *catalog_id);

/* What the snapshot was made from: the SHA-256 of the document, 64 hex
 * digits (borrowed), and when it was parsed (ms since epoch). */
const char *catalog_version(const struct catalog *c);
int64_t catalog_loaded_at_ms(const struct catalog *c);
/* The i-th item and entitlement in file order (borrowed), or NULL past the
 * end (catalog_item_count, catalog_entitlement_count). */
const struct catalog_item *catalog_item_at(const struct catalog *c, size_t i);
const struct catalog_entitlement *catalog_entitlement_at(
	const struct catalog *c, size_t i);
/* An entitlement's providerDetails array as in the document, compact JSON
 * text (borrowed from the snapshot that holds `e`). */
const char *catalog_entitlement_provider_details(
	const struct catalog_entitlement *e);

/* Counts, for summaries and logs. */
size_t catalog_item_count(const struct catalog *c);
size_t catalog_bundle_count(const struct catalog *c);
size_t catalog_entitlement_count(const struct catalog *c);
size_t catalog_provider_id_count(const struct catalog *c,
				 enum catalog_provider provider);

/* The i-th provider item id of a namespace (0 <= i <
 * catalog_provider_id_count), in sorted order (borrowed), or NULL past the
 * end: for providers asked about each mapped id (Steam app ownership). */
const char *catalog_provider_id_at(const struct catalog *c,
				   enum catalog_provider provider, size_t i);

/* True if `sku` is a valid Prime Gaming (or TentuPlay) SKU: 1..256 bytes
 * of [A-Za-z0-9_:.-]. */
bool catalog_sku_valid(const char *sku, size_t len);

/* ---- the current catalog, swapped atomically on reload ---------------- */

/* Holds the snapshot in force. Readers take a reference with
 * catalog_holder_get; a reload swaps in a new snapshot without waiting for
 * readers, and the old one is freed when its last reader lets go. */
struct catalog_holder;

/* Creates a holder owning `initial` (the caller's reference moves in). */
struct catalog_holder *catalog_holder_new(struct catalog *initial);
void catalog_holder_free(struct catalog_holder *h);
/* Returns a new reference to the snapshot in force (release with
 * catalog_unref). */
struct catalog *catalog_holder_get(struct catalog_holder *h);
/* Replaces the snapshot in force; the caller's reference to `next` moves
 * into the holder. */
void catalog_holder_swap(struct catalog_holder *h, struct catalog *next);

#endif
