/* app/config_int.h (private to app/config*.c and their tests): the options
 * table that describes every configuration key, and in-memory loading. */
#ifndef GRANTD_APP_CONFIG_INT_H
#define GRANTD_APP_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "util/util.h"

/* How a key's text is converted and where the result is stored. */
enum config_type {
	CONFIG_STRING, /* char *; any text `check` accepts (no check: any) */
	CONFIG_INT,    /* int64_t in [min, max] */
	CONFIG_BOOL,   /* bool: true/false, yes/no, on/off, 1/0, any case */
	CONFIG_ENUM,   /* char *: one of `choices` (any case), as listed */
	CONFIG_LIST,   /* struct util_strlist: a YAML list of strings, or
			* whitespace-separated words in the environment */
};

/* One configuration key. Adding a key is one row in config_options plus
 * one field in struct config; the YAML schema, environment overrides,
 * validation and config_dump all follow from the row. */
struct config_option {
	const char *section;           /* "server", "storage.sqlite" */
	const char *key;               /* "listen" */
	const char *env;               /* "GRANTD_SERVER_LISTEN" */
	enum config_type type;
	int64_t min, max;              /* CONFIG_INT only */
	const char *const *choices;    /* CONFIG_ENUM only; NULL-terminated */
	int (*check)(const char *text); /* CONFIG_STRING: 0 if acceptable */
	const char *rule;              /* with `check`: "must be …" */
	const char *def;               /* default, as text a user could write */
	size_t offset;                 /* of the field in struct config */
	const char *help;              /* one line for humans */
	bool secret;                   /* config_dump shows "(set)", not it */
};

/* A provider's or webhook's URL: http(s), no query, fragment or trailing
 * slash, no spaces. Returns 0 or -1. */
int config_check_url(const char *v);

/* events.webhooks, a list of mappings the table cannot describe: read from
 * the file's text with libyaml (config_webhooks.c) into c, problems
 * ("<file>:<line>:<col>: events.webhooks[i].key: …") appended to errors. */
void config_webhooks_load(const char *name, const char *data, size_t len,
			  struct config *c, struct util_strlist *errors);
void config_webhooks_release(struct config *c);

/* Every key, in the order config_dump prints them. */
extern const struct config_option config_options[];
extern const size_t config_options_len;

/* Converts `text` as `opt` describes and stores it in `c`, freeing the
 * string it replaces (strings are copied). Returns 0, or -1 with `c`
 * unchanged when `text` is not acceptable. */
int config_option_set(const struct config_option *opt, const char *text,
		struct config *c);

/* Appends what `opt` accepts, e.g. "must be an integer from 1 to 64". */
void config_option_rule(const struct config_option *opt, struct util_buf *out);

/* Appends the current value of `opt` in `c` as text. */
void config_option_format(const struct config_option *opt,
		const struct config *c, struct util_buf *out);

/* Frees the value of `opt` in `c` if it is a string and sets it to NULL. */
void config_option_clear(const struct config_option *opt, struct config *c);

/* ---- positions in the file (config_pos.c) ---- */

/* A place in the file, 1-based; line 0: unknown. */
struct config_pos_mark {
	size_t line, col;
};

/* A mapping key met in the file, by its dotted path ("server.threads"). */
struct config_pos_entry {
	char *path;                     /* owned */
	struct config_pos_mark key;     /* where the key starts */
	struct config_pos_mark value;   /* where its value starts */
};

/* What config_pos_scan found: every key in file order (a key given twice
 * is there twice), or libyaml's syntax error. */
struct config_pos {
	struct config_pos_entry *items;
	size_t len, cap;
	struct config_pos_mark complex_key;     /* first list or section used as a key */
	struct config_pos_mark alias;           /* first alias (*name) */
	struct config_pos_mark second_document; /* where a second "---" starts */
	bool failed;                    /* a syntax error; entries up to it */
	char *problem;                  /* libyaml's words, owned */
	struct config_pos_mark at;      /* where the problem is */
	bool tab;                       /* ... and it is a tab character */
	char *context;                  /* what was being read, or NULL */
	struct config_pos_mark context_at;
};

/* Scans `len` bytes of YAML (need not be NUL-terminated) into *out;
 * release it with config_pos_release. Never fails: a syntax error is
 * recorded in *out. */
void config_pos_scan(const char *data, size_t len, struct config_pos *out);
/* The nth (0: first) entry with `path`, borrowed; NULL if none. */
const struct config_pos_entry *config_pos_find(const struct config_pos *p,
					       const char *path, size_t nth);
void config_pos_release(struct config_pos *p);

/* config_load with the file already in memory: `data` holds `len` bytes
 * (need not be NUL-terminated) read from the file called `name`, which
 * prefixes the file's problems. name == NULL means no file (data ignored).
 * Same contract as config_load otherwise. */
int config_load_mem(const char *name, const char *data, size_t len,
		config_getenv_fn getenv_fn, struct config *out,
		struct util_strlist *errors);

#endif
