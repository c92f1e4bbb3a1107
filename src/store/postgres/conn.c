/* store/postgres/conn.c: libpq connections, statements prepared once per
 * connection, parameters and columns, and how a failure is classified. */
#include "store/postgres/pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* ---- parameters -------------------------------------------------------- */

static void param_add(struct pg_params *p, const char *v, int len, int fmt)
{
	if (p->n >= PG_PARAMS_MAX)
		abort();  /* a statement with too many parameters is a bug */
	p->values[p->n] = v;
	p->lengths[p->n] = len;
	p->formats[p->n] = fmt;
	p->n++;
}

void pg_param_text(struct pg_params *p, const char *v)
{
	param_add(p, v, 0, 0);
}

void pg_param_int(struct pg_params *p, int64_t v)
{
	char *buf = p->nums[p->n < PG_PARAMS_MAX ? p->n : 0];

	snprintf(buf, sizeof(p->nums[0]), "%" PRId64, v);
	param_add(p, buf, 0, 0);
}

void pg_param_time(struct pg_params *p, int64_t ms)
{
	if (ms)
		pg_param_int(p, ms);
	else
		param_add(p, NULL, 0, 0);
}

void pg_param_bool(struct pg_params *p, bool v)
{
	param_add(p, v ? "t" : "f", 0, 0);
}

void pg_param_bytes(struct pg_params *p, const void *v, size_t len)
{
	param_add(p, v ? (const char *)v : NULL, (int)len, 1);
}

/* ---- columns ----------------------------------------------------------- */

int64_t pg_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *pg_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

bool pg_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) != 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea arrives in text results as "\x" and hex digits (bytea_output
 * is set to hex for every connection). */
size_t pg_bytes(const PGresult *res, int row, int col, void *out, size_t max)
{
	const char *v;
	size_t len, n;
	unsigned char *o = out;

	if (PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	len = strlen(v);
	if (len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2)
		return 0;
	n = (len - 2) / 2;
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(v[2 + 2 * i]), lo = hex_digit(v[3 + 2 * i]);

		if (hi < 0 || lo < 0)
			return 0;
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return n;
}

int64_t pg_changed(const PGresult *res)
{
	const char *n = PQcmdTuples((PGresult *)res);

	return n && *n ? strtoll(n, NULL, 10) : 0;
}

void pg_copy_text(const PGresult *res, int row, int col, char *out,
		  size_t size)
{
	const char *v = pg_text(res, row, col);

	if (size == 0)
		return;
	snprintf(out, size, "%s", v ? v : "");
}

/* ---- failures ---------------------------------------------------------- */

/* SQLSTATEs after which the same work may succeed when run again: the
 * connection classes, serialization failure, deadlock, admin shutdown or
 * crash recovery, a read-only transaction (a standby, or a primary being
 * demoted), and a cancelled statement (statement_timeout). */
static bool transient_state(const char *state)
{
	static const char *const states[] = {
		"40001", "40P01", "57P01", "57P02", "57P03", "25006", "57014",
		"53300",
	};

	if (!state)
		return true;  /* no server answer: the connection failed */
	if (strncmp(state, "08", 2) == 0)
		return true;
	for (size_t i = 0; i < UTIL_ARRAY_LEN(states); i++)
		if (strcmp(state, states[i]) == 0)
			return true;
	return false;
}

static enum pg_fault classify(const struct pg_conn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(c->pg) != CONNECTION_OK)
		return PG_FAULT_TRANSIENT;
	if (state && strcmp(state, "23505") == 0)
		return PG_FAULT_UNIQUE;
	return transient_state(state) ? PG_FAULT_TRANSIENT : PG_FAULT_OTHER;
}

/* Logs a failed statement: unique violations, which callers expect and
 * handle, are not logged. */
static void log_failure(struct pg_conn *c, const PGresult *res, const char *what)
{
	struct ops_log_line l;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;

	if (c->fault == PG_FAULT_UNIQUE)
		return;
	if (!msg || !*msg)
		msg = PQerrorMessage(c->pg);
	if (!ops_log_begin(&l, OPS_LOG_ERROR, "store_error"))
		return;
	ops_log_str(&l, "op", what);
	ops_log_str(&l, "driver", "postgres");
	ops_log_str(&l, "sqlstate", state ? state : "");
	ops_log_str(&l, "transient", c->fault == PG_FAULT_TRANSIENT ? "yes" : "no");
	ops_log_str(&l, "message", msg);
	ops_log_end(&l);
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

bool pg_check(struct pg_conn *c, PGresult *res, const char *what)
{
	if (res && result_ok(res)) {
		c->fault = PG_FAULT_NONE;
		return true;
	}
	c->fault = classify(c, res);
	log_failure(c, res, what);
	PQclear(res);
	return false;
}

/* ---- statements -------------------------------------------------------- */

static atomic_int next_slot = 1;

int pg_sql_slot(struct pg_sql *sql)
{
	int slot = atomic_load(&sql->slot_);

	if (slot)
		return slot;
	slot = atomic_fetch_add(&next_slot, 1);
	if (slot > PG_SQL_MAX)
		abort();  /* raise PG_SQL_MAX */
	{
		int expected = 0;

		if (!atomic_compare_exchange_strong(&sql->slot_, &expected, slot))
			slot = expected;  /* another thread assigned it first */
	}
	return slot;
}

static int prepare(struct pg_conn *c, struct pg_sql *sql, int slot,
		   const char *name, const char *what)
{
	PGresult *res;

	if (c->prepared[slot])
		return 0;
	res = PQprepare(c->pg, name, sql->text, 0, NULL);
	if (!pg_check(c, res, what))
		return -1;
	PQclear(res);
	c->prepared[slot] = true;
	return 0;
}

PGresult *pg_run(struct pg_conn *c, struct pg_sql *sql,
		 const struct pg_params *p, const char *what)
{
	int slot;
	char name[16];
	PGresult *res;

	if (c->pipeline)
		return pg_pipe_run(c, sql, p, what);
	slot = pg_sql_slot(sql);
	snprintf(name, sizeof(name), "g%d", slot);
	if (prepare(c, sql, slot, name, what))
		return NULL;
	res = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->values : NULL,
			     p ? p->lengths : NULL, p ? p->formats : NULL, 0);
	return pg_check(c, res, what) ? res : NULL;
}

int pg_exec(struct pg_conn *c, struct pg_sql *sql, const struct pg_params *p,
	    const char *what, int64_t *changed)
{
	PGresult *res = pg_run(c, sql, p, what);

	if (!res)
		return c->fault == PG_FAULT_UNIQUE ? STORE_CONFLICT : STORE_ERR;
	if (changed)
		*changed = pg_changed(res);
	PQclear(res);
	return STORE_OK;
}

int pg_exec_deferred(struct pg_conn *c, struct pg_sql *sql,
		     const struct pg_params *p, const char *what)
{
	if (c->pipeline)
		return pg_pipe_send(c, sql, p, what);
	return pg_exec(c, sql, p, what, NULL);
}

int pg_command(struct pg_conn *c, const char *command, const char *what)
{
	PGresult *res;

	if (c->pipeline)
		return pg_pipe_command(c, command, what, NULL);
	res = PQexec(c->pg, command);

	if (!pg_check(c, res, what))
		return STORE_ERR;
	PQclear(res);
	return STORE_OK;
}

/* ---- connections ------------------------------------------------------- */

/* What every connection sets: timeouts, bytea in hex, commits durable, and
 * no NOTICEs (libpq would print them on stderr). */
static int connection_setup(struct store *st, struct pg_conn *c, char **err)
{
	char sql[160];
	PGresult *res;

	snprintf(sql, sizeof(sql), "SET statement_timeout = %d;"
		 " SET bytea_output = 'hex'; SET synchronous_commit = on;"
		 " SET client_min_messages = warning",
		 st->opts.postgres.statement_timeout_ms);
	res = PQexec(c->pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*err = util_xasprintf("cannot set up the connection: %s",
				      PQerrorMessage(c->pg));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* libpq's connect_timeout is in whole seconds (at least 2 s: libpq treats
 * 1 as 2). */
static void connect_timeout(struct store *st, char *out, size_t size)
{
	int ms = st->opts.postgres.connect_timeout_ms;

	snprintf(out, size, "%d", ms > 0 ? (ms + 999) / 1000 : 5);
}

static PGconn *connect_to(struct store *st)
{
	char timeout[16];
	const char *keys[] = { "dbname", "connect_timeout",
			       "application_name", NULL };
	const char *values[] = { st->opts.postgres.url, timeout, "grantd",
				 NULL };

	connect_timeout(st, timeout, sizeof(timeout));
	/* expand_dbname: the url may be a URI or a key=value string, and its
	 * own settings win over the defaults after it */
	return PQconnectdbParams(keys, values, 1);
}

int pg_conn_open(struct store *st, struct pg_conn **out, char **err)
{
	struct pg_conn *c = util_xcalloc(1, sizeof(*c));

	*out = NULL;
	c->pg = connect_to(st);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		*err = util_xasprintf("cannot connect to PostgreSQL: %s",
				      c->pg ? PQerrorMessage(c->pg) :
				      "out of memory");
		goto fail;
	}
	if (connection_setup(st, c, err))
		goto fail;
	*out = c;
	return 0;
fail:
	pg_conn_close(c);
	return -1;
}

void pg_conn_close(struct pg_conn *c)
{
	if (!c)
		return;
	if (c->pg)
		PQfinish(c->pg);
	free(c);
}

bool pg_conn_lost(const struct pg_conn *c)
{
	return PQstatus(c->pg) != CONNECTION_OK;
}

/* A new connection entirely (after a failover the server is another one):
 * statements are prepared again as they are used. */
int pg_conn_reset(struct store *st, struct pg_conn *c)
{
	PGconn *fresh = connect_to(st);
	char *err = NULL;

	if (!fresh || PQstatus(fresh) != CONNECTION_OK) {
		if (fresh)
			PQfinish(fresh);
		return STORE_ERR;
	}
	PQfinish(c->pg);
	c->pg = fresh;
	memset(c->prepared, 0, sizeof(c->prepared));
	c->fault = PG_FAULT_NONE;
	c->in_tx = false;
	c->queued = 0;
	atomic_fetch_add(&store_pg(st)->reconnects, 1);
	if (connection_setup(st, c, &err)) {
		free(err);
		return STORE_ERR;
	}
	if (c->pipeline && pg_pipe_enter(c))
		return STORE_ERR;
	return STORE_OK;
}

/* ---- the reader pool --------------------------------------------------- */

/* Takes a free connection, or opens one while fewer than readers_max are
 * open, or waits for one. A lost connection is reopened first. */
struct pg_conn *pg_reader_acquire(struct store *st)
{
	struct store_pg *pg = store_pg(st);
	struct pg_conn *c = NULL;
	char *err = NULL;

	pthread_mutex_lock(&pg->lock);
	while (!pg->free_readers && pg->readers_open >= pg->readers_max)
		pthread_cond_wait(&pg->reader_freed, &pg->lock);
	if (pg->free_readers) {
		c = pg->free_readers;
		pg->free_readers = c->next_free;
	} else {
		pg->readers_open++;
	}
	pthread_mutex_unlock(&pg->lock);
	if (c && pg_conn_lost(c) && pg_conn_reset(st, c) == STORE_OK)
		return c;
	if (c && !pg_conn_lost(c))
		return c;
	if (c) {
		pg_reader_release(st, c);
		return NULL;
	}
	if (pg_conn_open(st, &c, &err) == 0)
		return c;
	ops_log(OPS_LOG_ERROR, "store_error", "postgres: %s", err);
	free(err);
	pthread_mutex_lock(&pg->lock);
	pg->readers_open--;
	pthread_cond_signal(&pg->reader_freed);
	pthread_mutex_unlock(&pg->lock);
	return NULL;
}

void pg_reader_release(struct store *st, struct pg_conn *c)
{
	struct store_pg *pg = store_pg(st);

	if (c->in_tx)
		pg_read_end(c);
	pthread_mutex_lock(&pg->lock);
	c->next_free = pg->free_readers;
	pg->free_readers = c;
	pthread_cond_signal(&pg->reader_freed);
	pthread_mutex_unlock(&pg->lock);
}

int pg_read_run(struct store *st, struct pg_sql *sql,
		const struct pg_params *p, const char *what, PGresult **out)
{
	struct pg_conn *c = pg_reader_acquire(st);

	*out = NULL;
	if (!c)
		return STORE_ERR;
	*out = pg_run(c, sql, p, what);
	pg_reader_release(st, c);
	return *out ? STORE_OK : STORE_ERR;
}

int pg_read_begin(struct pg_conn *c)
{
	if (pg_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		       "read_begin"))
		return STORE_ERR;
	c->in_tx = true;
	return STORE_OK;
}

void pg_read_end(struct pg_conn *c)
{
	if (!c->in_tx)
		return;
	c->in_tx = false;
	pg_command(c, "ROLLBACK", "read_end");
}
