/* store/store.c: opening a store through its driver and closing it, and
 * the names of enumerations. */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

static const char *const account_states[] = {
	[STORE_ACCOUNT_ACTIVE] = "active",
	[STORE_ACCOUNT_SUSPENDED] = "suspended",
	[STORE_ACCOUNT_BANNED] = "banned",
};

static const char *const fulfilment_statuses[] = {
	[STORE_FULFILMENT_PENDING] = "pending",
	[STORE_FULFILMENT_COMPLETED] = "completed",
	[STORE_FULFILMENT_FAILED] = "failed",
	[STORE_FULFILMENT_REVOKED] = "revoked",
};

static const char *const outbox_statuses[] = {
	[STORE_OUTBOX_PENDING] = "pending",
	[STORE_OUTBOX_DELIVERED] = "delivered",
	[STORE_OUTBOX_DEAD] = "dead",
};

const char *store_outbox_status_name(enum store_outbox_status s)
{
	return outbox_statuses[s];
}

static const char *const link_states[] = {
	[STORE_LINK_LINKED] = "linked",
	[STORE_LINK_RELINK_REQUIRED] = "relink_required",
};

const char *store_link_state_name(enum store_link_state s)
{
	return link_states[s];
}

enum store_link_state store_link_state_of(const char *text)
{
	return text && strcmp(text, link_states[STORE_LINK_RELINK_REQUIRED]) == 0 ?
		STORE_LINK_RELINK_REQUIRED : STORE_LINK_LINKED;
}

const char *store_account_state_name(enum store_account_state s)
{
	return account_states[s];
}

int store_account_state_parse(const char *s, enum store_account_state *out)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(account_states); i++) {
		if (strcmp(s, account_states[i]) == 0) {
			*out = (enum store_account_state)i;
			return 0;
		}
	}
	return -1;
}

const char *store_fulfilment_status_name(enum store_fulfilment_status s)
{
	return fulfilment_statuses[s];
}

void store_fulfilment_id_format(int64_t row, char out[STORE_FULFILMENT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = (uint64_t)row;

	out[0] = 'f';
	out[1] = '_';
	for (int i = 0; i < 16; i++)
		out[2 + i] = hex[(v >> (60 - 4 * i)) & 15];
	out[STORE_FULFILMENT_ID_LEN] = '\0';
}

int store_fulfilment_id_parse(const char *id, int64_t *row)
{
	uint64_t v = 0;

	if (strlen(id) != STORE_FULFILMENT_ID_LEN || id[0] != 'f' || id[1] != '_')
		return -1;
	for (int i = 2; i < STORE_FULFILMENT_ID_LEN; i++) {
		char c = id[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (v == 0 || v > INT64_MAX)
		return -1;
	*row = (int64_t)v;
	return 0;
}

/* Every driver the store can open, by storage.driver. */
static const struct store_driver *const drivers[] = {
	&store_sqlite_driver,
	&store_pg_driver,
};

static const struct store_driver *driver_find(const char *name)
{
	for (size_t i = 0; i < UTIL_ARRAY_LEN(drivers); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

int store_open(const struct store_options *opts, struct store **out, char **err)
{
	const struct store_driver *d = driver_find(opts->driver ? opts->driver :
						   "sqlite");
	struct store *st;

	*out = NULL;
	if (!d) {
		*err = util_xasprintf("unknown storage driver \"%s\"",
				      opts->driver);
		return -1;
	}
	st = util_xcalloc(1, sizeof(*st));
	st->opts = *opts;
	st->opts.driver = d->name;
	st->driver = d;
	st->writer_ops = d->writer;
	if (d->open(st, err))
		goto fail;
	if (store_writer_start(st)) {
		*err = util_xstrdup("cannot start the writer thread");
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/* The writer first (it drains its queue), then the driver. */
void store_close(struct store *st)
{
	if (!st)
		return;
	store_writer_stop(st);
	st->driver->close(st);
	free(st);
}

int store_schema_version(struct store *st)
{
	return st->schema_version;
}

int store_ping(struct store *st)
{
	return st->driver->ping(st);
}

void store_log_slow(const char *what, int64_t us)
{
	struct ops_log_line l;

	if (us < STORE_SLOW_IO_US || !ops_log_begin(&l, OPS_LOG_WARN, "slow_io"))
		return;
	ops_log_str(&l, "op", what);
	ops_log_int(&l, "duration_us", us);
	ops_log_end(&l);
}
