/* catalog/catalog.c: catalog snapshots: parsing entry points, reference
 * counting, the sorted key indexes and lookups. */
#include "catalog/catalog_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest catalog file catalog_load_file reads. */
#define CATALOG_FILE_MAX (64u * 1024 * 1024)

/* ---- sorted indexes -------------------------------------------------- */

void catalog__index_add(struct catalog_index *ix, const char *key, size_t pos,
			size_t detail)
{
	if (ix->len == ix->cap) {
		ix->cap = ix->cap ? ix->cap * 2 : 16;
		ix->keys = util_xrealloc(ix->keys, ix->cap * sizeof(*ix->keys));
	}
	ix->keys[ix->len++] = (struct catalog_key){ key, pos, detail };
}

/* Orders by key, then by position, so the first occurrence of a duplicated
 * key leads its run. */
static int key_cmp(const void *pa, const void *pb)
{
	const struct catalog_key *a = pa, *b = pb;
	int rc = strcmp(a->key, b->key);

	if (rc)
		return rc;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	if (a->detail != b->detail)
		return a->detail < b->detail ? -1 : 1;
	return 0;
}

void catalog__index_sort(struct catalog_index *ix)
{
	if (ix->len > 1)
		qsort(ix->keys, ix->len, sizeof(*ix->keys), key_cmp);
}

static int key_find_cmp(const void *key, const void *elem)
{
	const struct catalog_key *k = elem;

	return strcmp(key, k->key);
}

const struct catalog_key *catalog__index_find(const struct catalog_index *ix,
					      const char *key)
{
	if (!key || !ix->len)
		return NULL;
	return bsearch(key, ix->keys, ix->len, sizeof(*ix->keys), key_find_cmp);
}

/* ---- lifecycle ------------------------------------------------------- */

void catalog__free(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_items; i++) {
		free((char *)c->items[i].catalog_id);
		free((char *)c->items[i].name);
	}
	for (size_t i = 0; i < c->n_bundles; i++) {
		free(c->bundles[i].id);
		free(c->bundles[i].grants);
	}
	for (size_t i = 0; i < c->n_entries; i++) {
		free((char *)c->entries[i].pub.id);
		free(c->entries[i].provider_details);
	}
	for (int p = 0; p < CATALOG_PROVIDER_COUNT; p++) {
		for (size_t i = 0; i < c->providers[p].len; i++)
			free((char *)c->providers[p].keys[i].key);
		free(c->providers[p].keys);
	}
	free(c->items_by_id.keys);
	free(c->bundles_by_id.keys);
	free(c->entries_by_id.keys);
	free(c->items);
	free(c->bundles);
	free(c->entries);
	free(c);
}

struct catalog *catalog_ref(struct catalog *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void catalog_unref(struct catalog *c)
{
	if (!c)
		return;
	/* acq_rel: every reader's use happens before the free. */
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		catalog__free(c);
}

/* ---- parsing --------------------------------------------------------- */

/* Copies jansson's error text with bytes outside printable ASCII replaced,
 * since it quotes raw input ("near '…'") that ends up in logs. */
static void printable_copy(const char *s, char *out, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		out[i] = (char)(util_is_printable_ascii(&s[i], 1) ? s[i] : '?');
	out[i] = '\0';
}

int catalog_parse(const char *data, size_t len, struct catalog **out,
		  struct util_strlist *problems)
{
	struct catalog *c = NULL;
	json_error_t err;
	json_t *root;
	int rc = -1;

	*out = NULL;
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &err);
	if (!root) {
		char text[sizeof(err.text)];

		printable_copy(err.text, text, sizeof(text));
		util_strlist_add(problems,
				 "$: invalid JSON at line %d column %d: %s",
				 err.line, err.column, text);
		goto out;
	}
	c = util_xcalloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	util_sha256_hex(data, len, c->version);
	c->loaded_at_ms = util_now_ms();
	if (catalog__build(c, root, problems))
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	catalog__free(c);
	json_decref(root);
	return rc;
}

int catalog_load_file(const char *path, struct catalog **out,
		      struct util_strlist *problems)
{
	struct util_buf b;
	int rc;

	*out = NULL;
	util_buf_init(&b, CATALOG_FILE_MAX);
	if (util_read_file(path, &b)) {
		util_strlist_add(problems, "%s: cannot read: %s", path,
				 util_strerror(errno));
		rc = -1;
	} else {
		rc = catalog_parse(b.data ? b.data : "", b.len, out, problems);
	}
	util_buf_release(&b);
	return rc;
}

/* ---- lookups --------------------------------------------------------- */

const struct catalog_entitlement *catalog_lookup(const struct catalog *c,
						 enum catalog_provider provider,
						 const char *provider_item_id)
{
	const struct catalog_key *k;

	if ((unsigned)provider >= CATALOG_PROVIDER_COUNT)
		return NULL;
	k = catalog__index_find(&c->providers[provider], provider_item_id);
	return k ? &c->entries[k->pos].pub : NULL;
}

const struct catalog_entitlement *catalog_entitlement_by_id(
	const struct catalog *c, const char *id)
{
	const struct catalog_key *k = catalog__index_find(&c->entries_by_id, id);

	return k ? &c->entries[k->pos].pub : NULL;
}

const struct catalog_item *catalog_item_by_id(const struct catalog *c,
					      const char *catalog_id)
{
	const struct catalog_key *k;

	k = catalog__index_find(&c->items_by_id, catalog_id);
	return k ? &c->items[k->pos] : NULL;
}

const char *catalog_version(const struct catalog *c)
{
	return c->version;
}

int64_t catalog_loaded_at_ms(const struct catalog *c)
{
	return c->loaded_at_ms;
}

const struct catalog_item *catalog_item_at(const struct catalog *c, size_t i)
{
	return i < c->n_items ? &c->items[i] : NULL;
}

const struct catalog_entitlement *catalog_entitlement_at(
	const struct catalog *c, size_t i)
{
	return i < c->n_entries ? &c->entries[i].pub : NULL;
}

const char *catalog_entitlement_provider_details(
	const struct catalog_entitlement *e)
{
	const struct catalog_entry *entry =
		UTIL_CONTAINER_OF(e, const struct catalog_entry, pub);

	return entry->provider_details ? entry->provider_details : "[]";
}

size_t catalog_item_count(const struct catalog *c)
{
	return c->n_items;
}

size_t catalog_bundle_count(const struct catalog *c)
{
	return c->n_bundles;
}

size_t catalog_entitlement_count(const struct catalog *c)
{
	return c->n_entries;
}

size_t catalog_provider_id_count(const struct catalog *c,
				 enum catalog_provider provider)
{
	if ((unsigned)provider >= CATALOG_PROVIDER_COUNT)
		return 0;
	return c->providers[provider].len;
}

const char *catalog_provider_id_at(const struct catalog *c,
				   enum catalog_provider provider, size_t i)
{
	if ((unsigned)provider >= CATALOG_PROVIDER_COUNT ||
	    i >= c->providers[provider].len)
		return NULL;
	return c->providers[provider].keys[i].key;
}

static bool sku_char_valid(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == ':' ||
	       ch == '.' || ch == '-';
}

bool catalog_sku_valid(const char *sku, size_t len)
{
	if (!sku || len == 0 || len > CATALOG_PROVIDER_ITEM_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!sku_char_valid(sku[i]))
			return false;
	return true;
}
