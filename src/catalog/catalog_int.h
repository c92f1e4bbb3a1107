/* catalog/catalog_int.h (private to catalog): the snapshot's layout, its
 * sorted key indexes, and the validator's entry point. */
#ifndef GRANTD_CATALOG_INT_H
#define GRANTD_CATALOG_INT_H

#include <jansson.h>
#include <stdatomic.h>

#include "catalog/catalog.h"

/* One key of a sorted index: an id and where its owner sits. */
struct catalog_key {
	const char *key; /* borrowed from the owner, except provider item ids,
			  * which the index owns */
	size_t pos;      /* index of the owner in items, bundles or entries */
	size_t detail;   /* providerDetails index (provider item ids only) */
};

/* An index sorted by (key, pos, detail) once filled, for bsearch. */
struct catalog_index {
	struct catalog_key *keys; /* owned */
	size_t len;
	size_t cap;
};

struct catalog_bundle {
	char *id;                     /* owned */
	struct catalog_grant *grants; /* owned: stackables, then instanced */
	size_t n_grants;
};

/* An entitlement and the storage for its single grant (stackable or
 * instanced entries); a bundle entry borrows the bundle's grants. */
struct catalog_entry {
	struct catalog_entitlement pub; /* id owned; the rest borrowed */
	struct catalog_grant single;
	char *provider_details;         /* owned: providerDetails, compact JSON */
};

struct catalog {
	atomic_size_t refs;
	char version[65];           /* SHA-256 of the document, hex */
	int64_t loaded_at_ms;
	struct catalog_item *items; /* owned, strings included */
	size_t n_items;
	struct catalog_bundle *bundles;
	size_t n_bundles;
	struct catalog_entry *entries;
	size_t n_entries;
	struct catalog_index items_by_id;
	struct catalog_index bundles_by_id;
	struct catalog_index entries_by_id;
	struct catalog_index providers[CATALOG_PROVIDER_COUNT];
};

/* Appends a key to `ix` (unsorted until catalog__index_sort). */
void catalog__index_add(struct catalog_index *ix, const char *key, size_t pos,
			size_t detail);
void catalog__index_sort(struct catalog_index *ix);
/* Finds `key` in a sorted index (borrowed), or NULL. With duplicates (only
 * in a catalog that failed validation) any one of them. */
const struct catalog_key *catalog__index_find(const struct catalog_index *ix,
					      const char *key);

/* Frees a snapshot regardless of its reference count; accepts NULL. */
void catalog__free(struct catalog *c);

/* Validates the parsed document `root` and fills the empty snapshot `c`
 * (validate.c). Returns 0, or -1 after appending every problem found to
 * `problems`; `c` must then be freed with catalog__free. */
int catalog__build(struct catalog *c, json_t *root,
		   struct util_strlist *problems);

#endif
