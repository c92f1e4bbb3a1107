/* app: the commands grantd runs — serve, migrate, catalog check, keys,
 * clients, signing-keys, audit, outbox, backup, restore — with configuration
 * loading, start-up, signals and shutdown. Each returns the process exit code: 0 on success, 1 on failure. */
#ifndef GRANTD_APP_H
#define GRANTD_APP_H

#include <stdbool.h>
#include <stddef.h>

/* `pid_file` (NULL: none) gets the process id once the server listens,
 * and is removed at a clean exit. `argv0` is how the binary was invoked,
 * used in the first-start hints. */
int app_serve(const char *config_path, const char *pid_file, const char *argv0);
int app_migrate(const char *config_path);
int app_catalog_check(const char *catalog_path);

/* `name` and `scopes` must already be valid (auth_name_valid,
 * auth_scope_parse): the command line checks them as usage. */
int app_keys_create(const char *config_path, const char *name,
		    const char *const *scopes, size_t n_scopes,
		    long long expires_in_s, bool json);
int app_keys_list(const char *config_path, bool json);
int app_keys_revoke(const char *config_path, const char *id);

int app_clients_create(const char *config_path, const char *name,
		       const char *const *scopes, size_t n_scopes, bool json);
int app_clients_list(const char *config_path, bool json);
int app_clients_revoke(const char *config_path, const char *id);
int app_clients_rotate_secret(const char *config_path, const char *id,
			      bool json);

/* Access token signing keys kept in the database (when
 * auth.signing_keys_file is not set). */
int app_signing_keys_rotate(const char *config_path, bool json);
int app_signing_keys_list(const char *config_path, bool json);
int app_signing_keys_retire(const char *config_path, const char *kid);

/* Lists the audit trail, oldest first; limit > 0 keeps the newest `limit`. */
int app_audit_list(const char *config_path, long long limit, bool json);

/* Copies the configured database, which grantd may be using, to the new
 * file `to_path` (backup.c). */
int app_backup(const char *config_path, const char *to_path, bool json);
/* Puts the backup at `from_path` in place as the configured database; an
 * existing one is replaced only with `force`, and never while in use. */
int app_restore(const char *config_path, const char *from_path, bool force,
		bool json);

/* `grantd outbox list`: deliveries newest first, of one status (NULL:
 * any), at most `limit` (0: 50). `grantd outbox retry`: delivery `id`
 * (NULL: every dead one) due now with its attempts counted afresh. */
int app_outbox_list_cli(const char *config_path, const char *status,
			long long limit, bool json);
int app_outbox_retry_cli(const char *config_path, const char *id);

#endif
