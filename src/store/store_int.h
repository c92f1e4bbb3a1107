/* store/store_int.h (private to store): connections, prepared statements and
 * the pieces the SQLite backend and the writer share. */
#ifndef GRANTD_STORE_INT_H
#define GRANTD_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

/* Every SQL statement the store runs, prepared once per connection. */
enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_ACCOUNT_GET,
	STMT_ACCOUNT_INSERT,
	STMT_ACCOUNT_UPDATE,
	STMT_FULFILMENT_FIND,
	STMT_FULFILMENT_INSERT,
	STMT_FULFILMENT_UPDATE,
	STMT_CLAIM_COUNT,
	STMT_CLAIM_ADD,
	STMT_INSTANCE_OWNED,
	STMT_GRANT_INSERT,
	STMT_STACKABLE_ADD,
	STMT_INSTANCE_INSERT,
	STMT_CREDENTIAL_INSERT,
	STMT_CREDENTIAL_REVOKE,
	STMT_READ_BEGIN,
	STMT_READ_END,
	STMT_READ_ACCOUNT,
	STMT_READ_STACKABLES,
	STMT_READ_INSTANCES,
	STMT_READ_HISTORY,
	STMT_READ_CREDENTIALS,
	STMT_READ_CREDENTIALS_VERSION,
	STMT_PING,
	STMT_COUNT
};

/* A database connection with its statement cache; used by one thread at a
 * time. */
struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	struct store_conn *next_free;
};

struct store_tx {
	struct store_conn *conn;
};

/* The writer's queue and thread. */
struct store_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct store_intent *head;
	struct store_intent *tail;
	size_t queued;
	bool closing;
	bool started;
	int batch_max;
	struct store_stats stats;
};

struct store {
	struct store_options opts;
	char *path;
	struct store_conn *writer_conn;
	struct store_writer writer;
	pthread_mutex_t readers_lock;
	struct store_conn *free_readers;
	int schema_version;
};

/* Opens one connection with the store's pragmas. Returns 0 or -1 + *err. */
int store_conn_open(struct store *st, struct store_conn **out, char **err);
void store_conn_close(struct store_conn *c);
/* Returns the connection's prepared statement, reset and ready (borrowed);
 * NULL if it could not be prepared (logged). */
sqlite3_stmt *store_conn_stmt(struct store_conn *c, enum store_stmt id);
/* Runs a statement that returns no rows. Returns 0 or STORE_ERR. */
int store_conn_exec(struct store_conn *c, enum store_stmt id);

/* Applies pending schema migrations on `c`. Returns 0 or -1 + *err. */
int store_migrate(struct store_conn *c, int *version, char **err);

/* Reader connections from the pool. */
struct store_conn *store_reader_acquire(struct store *st);
void store_reader_release(struct store *st, struct store_conn *c);

/* Logs a database failure with the connection's message. */
void store_log_error(struct store_conn *c, const char *what, int rc);

/* Writer lifecycle. */
int store_writer_start(struct store *st);
void store_writer_stop(struct store *st);

#endif
