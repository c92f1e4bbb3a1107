/* app/config_webhooks.c: events.webhooks — a list of {url, secret,
 * events} mappings, which the options table (one value per key) cannot
 * describe — read from the configuration file's text with libyaml. */
#include "app/config_int.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine/engine.h"

/* Most webhooks events.webhooks may name. */
#define WEBHOOKS_MAX ENGINE_WEBHOOKS_MAX

struct walk {
	const char *name;               /* the file, for messages */
	yaml_document_t *doc;
	struct util_strlist *errors;
};

static void problem(struct walk *w, const yaml_node_t *n, const char *key,
		    size_t i, const char *msg)
{
	util_strlist_add(w->errors, "%s:%zu:%zu: events.webhooks[%zu]%s%s: %s",
			 w->name, n->start_mark.line + 1,
			 n->start_mark.column + 1, i, key ? "." : "",
			 key ? key : "", msg);
}

/* The value of `key` in mapping m, or NULL. */
static yaml_node_t *get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
	       (const char *)n->data.scalar.value : NULL;
}

/* Checks that the mapping names only url, secret and events. */
static int known_keys(struct walk *w, yaml_node_t *m, size_t i)
{
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		const char *name = scalar(k);

		if (!name || (strcmp(name, "url") != 0 && strcmp(name, "secret") != 0 &&
			      strcmp(name, "events") != 0)) {
			problem(w, k ? k : m, NULL, i, "unknown key (known: url, "
				"secret, events)");
			return -1;
		}
	}
	return 0;
}

static int read_events(struct walk *w, yaml_node_t *n, size_t i,
		       struct util_strlist *out)
{
	if (!n)
		return 0;
	if (n->type != YAML_SEQUENCE_NODE) {
		problem(w, n, "events", i, "must be a list of event types");
		return -1;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(w->doc, *it);
		const char *type = scalar(e);

		if (!type || !engine_event_type_known(type)) {
			problem(w, e ? e : n, "events", i, "must be a list of "
				"event types (grant.created, grant.revoked, "
				"account.suspended, link.created)");
			return -1;
		}
		util_strlist_add(out, "%s", type);
	}
	return 0;
}

/* One list entry into *out. Returns 0, or -1 after a problem. */
static int read_webhook(struct walk *w, yaml_node_t *m, size_t i,
			struct config_webhook *out)
{
	const char *url, *secret;

	if (m->type != YAML_MAPPING_NODE) {
		problem(w, m, NULL, i, "must be a mapping with url, secret and "
			"events");
		return -1;
	}
	if (known_keys(w, m, i))
		return -1;
	url = scalar(get(w->doc, m, "url"));
	secret = scalar(get(w->doc, m, "secret"));
	if (!url || config_check_url(url)) {
		problem(w, m, "url", i, "must be an http:// or https:// URL "
			"without a query, fragment or trailing slash");
		return -1;
	}
	if (!secret || !*secret) {
		problem(w, m, "secret", i, "required (it signs every "
			"delivery)");
		return -1;
	}
	out->url = util_xstrdup(url);
	out->secret = util_xstrdup(secret);
	util_strlist_init(&out->events);
	return read_events(w, get(w->doc, m, "events"), i, &out->events);
}

static void read_list(struct walk *w, yaml_node_t *list, struct config *c)
{
	size_t n = (size_t)(list->data.sequence.items.top -
			    list->data.sequence.items.start);

	if (n > WEBHOOKS_MAX) {
		util_strlist_add(w->errors, "%s:%zu:%zu: events.webhooks: at "
				 "most %d webhooks", w->name,
				 list->start_mark.line + 1,
				 list->start_mark.column + 1, WEBHOOKS_MAX);
		return;
	}
	c->events.webhooks = util_xcalloc(n ? n : 1, sizeof(*c->events.webhooks));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *m = yaml_document_get_node(
			w->doc, list->data.sequence.items.start[i]);

		c->events.n_webhooks = i + 1;
		if (!m || read_webhook(w, m, i, &c->events.webhooks[i]))
			return;
	}
}

void config_webhooks_load(const char *name, const char *data, size_t len,
			  struct config *c, struct util_strlist *errors)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *events, *list;
	struct walk w = { .name = name, .doc = &doc, .errors = errors };

	if (!yaml_parser_initialize(&parser))
		return;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	/* the file was parsed once already: a failure here was reported */
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return;
	}
	root = yaml_document_get_root_node(&doc);
	events = root && root->type == YAML_MAPPING_NODE ?
		 get(&doc, root, "events") : NULL;
	list = events && events->type == YAML_MAPPING_NODE ?
	       get(&doc, events, "webhooks") : NULL;
	if (list && list->type != YAML_SEQUENCE_NODE &&
	    !(list->type == YAML_SCALAR_NODE && !*scalar(list)))
		util_strlist_add(errors, "%s:%zu:%zu: events.webhooks: must be "
				 "a list of {url, secret, events}", name,
				 list->start_mark.line + 1,
				 list->start_mark.column + 1);
	else if (list && list->type == YAML_SEQUENCE_NODE)
		read_list(&w, list, c);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

void config_webhooks_release(struct config *c)
{
	for (size_t i = 0; i < c->events.n_webhooks; i++) {
		free(c->events.webhooks[i].url);
		if (c->events.webhooks[i].secret)
			memset(c->events.webhooks[i].secret, 0,
			       strlen(c->events.webhooks[i].secret));
		free(c->events.webhooks[i].secret);
		util_strlist_release(&c->events.webhooks[i].events);
	}
	free(c->events.webhooks);
	c->events.webhooks = NULL;
	c->events.n_webhooks = 0;
}
