/* store/postgres/pipeline.c: libpq pipeline mode on the writer's
 * connections — writes whose results nobody needs at once are sent
 * without waiting, and go to the server with the next statement that
 * waits, so an intent's writes and the next intent's first read share one
 * round trip. */
#include "store/postgres/pg_int.h"

#include <stdio.h>
#include <string.h>

int pg_pipe_enter(struct pg_conn *c)
{
	c->queued = 0;
	if (PQenterPipelineMode(c->pg) != 1) {
		c->fault = PG_FAULT_TRANSIENT;
		return STORE_ERR;
	}
	return STORE_OK;
}

/* The connection failed while sending or waiting. */
static int lost(struct pg_conn *c, const char *what)
{
	pg_check(c, NULL, what);   /* logs libpq's message, notes the fault */
	c->fault = PG_FAULT_TRANSIENT;
	c->queued = 0;
	return STORE_ERR;
}

static int note_sent(struct pg_conn *c, const char *what, int slot)
{
	c->queued_what[c->queued] = what;
	c->queued_slot[c->queued] = slot;
	c->queued++;
	return STORE_OK;
}

/* Room for two more (a PREPARE and its statement): waits for what is
 * queued if the queue is full. */
static int make_room(struct pg_conn *c)
{
	return c->queued + 2 > PG_QUEUE_MAX ? pg_flush(c) : STORE_OK;
}

int pg_pipe_send(struct pg_conn *c, struct pg_sql *sql,
		 const struct pg_params *p, const char *what)
{
	int slot = pg_sql_slot(sql);
	char name[16];

	if (make_room(c))
		return STORE_ERR;
	snprintf(name, sizeof(name), "g%d", slot);
	if (!c->prepared[slot]) {
		if (PQsendPrepare(c->pg, name, sql->text, 0, NULL) != 1)
			return lost(c, what);
		c->prepared[slot] = true;  /* undone if the PREPARE fails */
		note_sent(c, what, slot);
	}
	if (PQsendQueryPrepared(c->pg, name, p ? p->n : 0, p ? p->values : NULL,
				p ? p->lengths : NULL, p ? p->formats : NULL,
				0) != 1)
		return lost(c, what);
	return note_sent(c, what, 0);
}

int pg_pipe_command_send(struct pg_conn *c, const char *command,
			 const char *what)
{
	if (make_room(c))
		return STORE_ERR;
	if (PQsendQueryParams(c->pg, command, 0, NULL, NULL, NULL, NULL, 0) != 1)
		return lost(c, what);
	return note_sent(c, what, 0);
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);

	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* One queued statement's result (the last one it produced); NULL if the
 * connection failed. */
static PGresult *next_result(struct pg_conn *c)
{
	PGresult *res, *mine = NULL;

	while ((res = PQgetResult(c->pg))) {
		PQclear(mine);
		mine = res;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			break;  /* no statement answered: out of step */
	}
	return mine;
}

/* Reads the answers to everything queued and the sync point after it.
 * The first failure is logged under its own statement's name and noted;
 * the statements after it were skipped by the server. Keeps the last
 * statement's result in *last if asked (NULL unless all succeeded). */
static int collect(struct pg_conn *c, PGresult **last)
{
	int n = c->queued, rc = STORE_OK;
	PGresult *res;

	c->queued = 0;
	if (last)
		*last = NULL;
	for (int i = 0; i < n; i++) {
		res = next_result(c);
		if (!res || PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return lost(c, c->queued_what[i]);
		}
		if (!result_ok(res)) {
			if (c->queued_slot[i])
				c->prepared[c->queued_slot[i]] = false;
			if (rc == STORE_OK &&
			    PQresultStatus(res) != PGRES_PIPELINE_ABORTED) {
				pg_check(c, res, c->queued_what[i]);
				rc = STORE_ERR;
				continue;   /* pg_check cleared it */
			}
			PQclear(res);
			continue;
		}
		if (last && i == n - 1 && rc == STORE_OK)
			*last = res;
		else
			PQclear(res);
	}
	res = PQgetResult(c->pg);
	if (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		PQclear(res);
		if (last && *last) {
			PQclear(*last);
			*last = NULL;
		}
		return lost(c, "sync");
	}
	PQclear(res);
	if (rc == STORE_OK)
		c->fault = PG_FAULT_NONE;
	return rc;
}

/* Marks the end of what is queued and waits for all of it. */
static int sync_and_collect(struct pg_conn *c, PGresult **last)
{
	if (PQpipelineSync(c->pg) != 1)
		return lost(c, "sync");
	return collect(c, last);
}

int pg_flush(struct pg_conn *c)
{
	if (!c->pipeline || c->queued == 0)
		return STORE_OK;
	return sync_and_collect(c, NULL);
}

PGresult *pg_pipe_run(struct pg_conn *c, struct pg_sql *sql,
		      const struct pg_params *p, const char *what)
{
	PGresult *res = NULL;

	if (pg_pipe_send(c, sql, p, what))
		return NULL;
	if (sync_and_collect(c, &res))
		return NULL;
	return res;
}

int pg_pipe_command(struct pg_conn *c, const char *command, const char *what,
		    PGresult **out)
{
	PGresult *res = NULL;

	if (pg_pipe_command_send(c, command, what) ||
	    sync_and_collect(c, &res))
		return STORE_ERR;
	if (out)
		*out = res;
	else
		PQclear(res);
	return STORE_OK;
}
