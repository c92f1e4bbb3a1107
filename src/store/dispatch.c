/* store/dispatch.c: every store primitive and read, handed to the
 * driver the store was opened with (its struct store_ops). */
#include "store/store_int.h"

int store_tx_account_get(struct store_tx *tx, const char *account_id,
			 enum store_account_state *state, bool *found)
{
	return tx->st->driver->ops->tx_account_get(tx, account_id, state,
						   found);
}

int store_tx_account_put(struct store_tx *tx, const char *account_id,
			 enum store_account_state state, int64_t now_ms,
			 bool *created)
{
	return tx->st->driver->ops->tx_account_put(tx, account_id, state,
						   now_ms, created);
}

int store_tx_fulfilment_find(struct store_tx *tx, const char *source,
			     const char *external_id,
			     struct store_fulfilment_ref *out)
{
	return tx->st->driver->ops->tx_fulfilment_find(tx, source, external_id,
						       out);
}

int store_tx_fulfilment_claim(struct store_tx *tx,
			      const struct store_fulfilment *f, int64_t *row,
			      struct store_fulfilment_ref *existing)
{
	return tx->st->driver->ops->tx_fulfilment_claim(tx, f, row, existing);
}

int store_tx_fulfilment_update(struct store_tx *tx, int64_t row,
			       const struct store_fulfilment *f)
{
	return tx->st->driver->ops->tx_fulfilment_update(tx, row, f);
}

int store_tx_claim_count(struct store_tx *tx, const char *account_id,
			 const char *entitlement_id, int64_t *count)
{
	return tx->st->driver->ops->tx_claim_count(tx, account_id,
						   entitlement_id, count);
}

int store_tx_claim_add(struct store_tx *tx, const char *account_id,
		       const char *entitlement_id, int64_t now_ms)
{
	return tx->st->driver->ops->tx_claim_add(tx, account_id, entitlement_id,
						 now_ms);
}

int store_tx_instance_owned(struct store_tx *tx, const char *account_id,
			    const char *catalog_id, bool *owned)
{
	return tx->st->driver->ops->tx_instance_owned(tx, account_id,
						      catalog_id, owned);
}

int store_tx_grant_stackable(struct store_tx *tx, int64_t row, int line,
			     const char *account_id, const char *catalog_id,
			     int64_t amount)
{
	return tx->st->driver->ops->tx_grant_stackable(tx, row, line,
						       account_id, catalog_id,
						       amount);
}

int store_tx_grant_instance(struct store_tx *tx, int64_t row, int line,
			    const char *account_id, const char *catalog_id,
			    const char *instance_id, int64_t now_ms)
{
	return tx->st->driver->ops->tx_grant_instance(tx, row, line, account_id,
						      catalog_id, instance_id,
						      now_ms);
}

int store_tx_fulfilment_get(struct store_tx *tx, int64_t row,
			    struct store_fulfilment_info *out)
{
	return tx->st->driver->ops->tx_fulfilment_get(tx, row, out);
}

int store_tx_grants_read(struct store_tx *tx, int64_t row, store_grant_fn fn,
			 void *arg)
{
	return tx->st->driver->ops->tx_grants_read(tx, row, fn, arg);
}

int store_tx_stackable_get(struct store_tx *tx, const char *account_id,
			   const char *catalog_id, int64_t *amount)
{
	return tx->st->driver->ops->tx_stackable_get(tx, account_id,
						     catalog_id, amount);
}

int store_tx_stackable_add(struct store_tx *tx, const char *account_id,
			   const char *catalog_id, int64_t delta)
{
	return tx->st->driver->ops->tx_stackable_add(tx, account_id,
						     catalog_id, delta);
}

int store_tx_instance_delete(struct store_tx *tx, const char *account_id,
			     const char *instance_id, bool *deleted)
{
	return tx->st->driver->ops->tx_instance_delete(tx, account_id,
						       instance_id, deleted);
}

int store_tx_claim_release(struct store_tx *tx, const char *account_id,
			   const char *entitlement_id, int64_t now_ms)
{
	return tx->st->driver->ops->tx_claim_release(tx, account_id,
						     entitlement_id, now_ms);
}

int store_tx_revocation_add(struct store_tx *tx,
			    const struct store_revocation *r)
{
	return tx->st->driver->ops->tx_revocation_add(tx, r);
}

int store_tx_revocation_get(struct store_tx *tx, int64_t row,
			    store_revocation_fn fn, void *arg, bool *found)
{
	return tx->st->driver->ops->tx_revocation_get(tx, row, fn, arg, found);
}

int store_tx_credential_insert(struct store_tx *tx,
			       const struct store_credential *c)
{
	return tx->st->driver->ops->tx_credential_insert(tx, c);
}

int store_tx_credential_revoke(struct store_tx *tx, const char *id,
			       const char *kind, int64_t now_ms, bool *found)
{
	return tx->st->driver->ops->tx_credential_revoke(tx, id, kind, now_ms,
							 found);
}

int store_tx_credential_rotate(struct store_tx *tx, const char *id,
			       const char *kind, const char *secret_hash,
			       int64_t previous_expires_at_ms, int64_t now_ms,
			       bool *found)
{
	return tx->st->driver->ops->tx_credential_rotate(tx, id, kind,
							 secret_hash,
							 previous_expires_at_ms,
							 now_ms, found);
}

int store_tx_credential_live_name(struct store_tx *tx, const char *name,
				  char *id, size_t id_size, bool *found)
{
	return tx->st->driver->ops->tx_credential_live_name(tx, name, id,
							    id_size, found);
}

int store_tx_signing_key_insert(struct store_tx *tx,
				const struct store_signing_key *k)
{
	return tx->st->driver->ops->tx_signing_key_insert(tx, k);
}

int store_tx_signing_key_retire(struct store_tx *tx, const char *kid,
				int64_t now_ms, bool *found)
{
	return tx->st->driver->ops->tx_signing_key_retire(tx, kid, now_ms,
							  found);
}

int store_tx_signing_keys_active(struct store_tx *tx, int64_t *count)
{
	return tx->st->driver->ops->tx_signing_keys_active(tx, count);
}

int store_tx_link_get(struct store_tx *tx, const char *account_id,
		      const char *provider, struct store_link_row *out,
		      bool *found)
{
	return tx->st->driver->ops->tx_link_get(tx, account_id, provider, out,
						found);
}

int store_tx_link_put(struct store_tx *tx, const char *account_id,
		      const char *provider, const char *external_id,
		      int64_t now_ms, enum store_link_result *result,
		      struct store_link_row *out)
{
	return tx->st->driver->ops->tx_link_put(tx, account_id, provider,
						external_id, now_ms, result,
						out);
}

int store_tx_link_tokens_set(struct store_tx *tx, const char *account_id,
			     const char *provider, const void *tokens,
			     size_t len, int64_t now_ms, bool *found)
{
	return tx->st->driver->ops->tx_link_tokens_set(tx, account_id, provider,
						       tokens, len, now_ms,
						       found);
}

int store_tx_link_state_set(struct store_tx *tx, const char *account_id,
			    const char *provider, enum store_link_state state,
			    int64_t now_ms, bool *found)
{
	return tx->st->driver->ops->tx_link_state_set(tx, account_id, provider,
						      state, now_ms, found);
}

int store_tx_link_delete(struct store_tx *tx, const char *account_id,
			 const char *provider, bool *found)
{
	return tx->st->driver->ops->tx_link_delete(tx, account_id, provider,
						   found);
}

int store_tx_link_token_add(struct store_tx *tx, const char *token_hash,
			    const char *account_id, int64_t now_ms,
			    int64_t expires_at_ms)
{
	return tx->st->driver->ops->tx_link_token_add(tx, token_hash,
						      account_id, now_ms,
						      expires_at_ms);
}

int store_tx_link_token_spend(struct store_tx *tx, const char *token_hash,
			      int64_t now_ms, char *account_id, size_t size,
			      enum store_secret_result *result)
{
	return tx->st->driver->ops->tx_link_token_spend(tx, token_hash, now_ms,
							account_id, size,
							result);
}

int store_tx_oauth_state_add(struct store_tx *tx, const char *state_hash,
			     const struct store_oauth_state *s, int64_t now_ms)
{
	return tx->st->driver->ops->tx_oauth_state_add(tx, state_hash, s,
						       now_ms);
}

int store_tx_oauth_state_spend(struct store_tx *tx, const char *state_hash,
			       const char *provider, int64_t now_ms,
			       struct store_oauth_state_row *out,
			       enum store_secret_result *result)
{
	return tx->st->driver->ops->tx_oauth_state_spend(tx, state_hash,
							 provider, now_ms, out,
							 result);
}

/* A row names the request whose work queued it: the writer's thread has
 * it while the intent runs. */
int store_tx_outbox_add(struct store_tx *tx, const struct store_outbox_item *it,
			int64_t now_ms, bool *added)
{
	struct store_outbox_item row = *it;

	if (!row.request_id && *util_trace_get())
		row.request_id = util_trace_get();
	return tx->st->driver->ops->tx_outbox_add(tx, &row, now_ms, added);
}

int store_tx_outbox_record(struct store_tx *tx,
			   const struct store_outbox_outcome *o, int64_t now_ms)
{
	return tx->st->driver->ops->tx_outbox_record(tx, o, now_ms);
}

int store_outbox_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
		       int limit, store_outbox_fn fn, void *arg)
{
	return st->driver->ops->outbox_claim(st, now_ms, lease_ms, limit, fn,
					     arg);
}

int store_outbox_due(struct store *st, int64_t now_ms, bool *due)
{
	return st->driver->ops->outbox_due(st, now_ms, due);
}

int store_outbox_counts(struct store *st, int64_t counts[STORE_OUTBOX_DEAD + 1])
{
	return st->driver->ops->outbox_counts(st, counts);
}

int store_outbox_read_for(struct store *st, const char *account_id,
			  const char *needle, int64_t limit,
			  store_outbox_row_fn fn, void *arg)
{
	return st->driver->ops->outbox_read_for(st, account_id, needle, limit,
						fn, arg);
}

int store_audit_read_for(struct store *st, const char *target, int64_t limit,
			 store_audit_fn fn, void *arg)
{
	return st->driver->ops->audit_read_for(st, target, limit, fn, arg);
}

int store_outbox_read(struct store *st, const char *status, int64_t before_id,
		      int64_t limit, store_outbox_row_fn fn, void *arg)
{
	return st->driver->ops->outbox_read(st, status, before_id, limit, fn,
					    arg);
}

int store_outbox_kinds_read(struct store *st, store_outbox_kind_fn fn,
			    void *arg)
{
	return st->driver->ops->outbox_kinds_read(st, fn, arg);
}

int store_tx_outbox_give_up(struct store_tx *tx, int64_t id,
			    const char *error, int64_t now_ms, int64_t *count)
{
	return tx->st->driver->ops->tx_outbox_give_up(tx, id, error, now_ms,
						      count);
}

int store_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now_ms,
			  int64_t *count)
{
	return tx->st->driver->ops->tx_outbox_retry(tx, id, now_ms, count);
}

int store_tx_outbox_unlease(struct store_tx *tx, int64_t *count)
{
	return tx->st->driver->ops->tx_outbox_unlease(tx, count);
}

int store_tx_audit_add(struct store_tx *tx, const struct store_audit *a)
{
	return tx->st->driver->ops->tx_audit_add(tx, a);
}

int store_tx_health_touch(struct store_tx *tx, int64_t now_ms)
{
	return tx->st->driver->ops->tx_health_touch(tx, now_ms);
}

int store_tx_savepoint(struct store_tx *tx)
{
	return tx->st->driver->ops->tx_savepoint(tx);
}

int store_tx_savepoint_release(struct store_tx *tx)
{
	return tx->st->driver->ops->tx_savepoint_release(tx);
}

int store_tx_savepoint_rollback(struct store_tx *tx)
{
	return tx->st->driver->ops->tx_savepoint_rollback(tx);
}

int store_tx_broadcast_add(struct store_tx *tx, const struct store_broadcast *b,
			   bool *created)
{
	return tx->st->driver->ops->tx_broadcast_add(tx, b, created);
}

int store_tx_broadcasts_pending(struct store_tx *tx, const char *account_id,
				int64_t now_ms, store_broadcast_fn fn,
				void *arg)
{
	return tx->st->driver->ops->tx_broadcasts_pending(tx, account_id,
							  now_ms, fn, arg);
}

int store_tx_broadcast_delivered(struct store_tx *tx, int64_t id,
				 const char *account_id, int64_t now_ms)
{
	return tx->st->driver->ops->tx_broadcast_delivered(tx, id, account_id,
							   now_ms);
}

int store_tx_gamepot_login_add(struct store_tx *tx,
			       const struct store_gamepot_login *l,
			       int64_t now_ms, int64_t *id)
{
	return tx->st->driver->ops->tx_gamepot_login_add(tx, l, now_ms, id);
}

int store_tx_gamepot_login_state(struct store_tx *tx, int64_t id, char *state,
				 size_t size, bool *found)
{
	return tx->st->driver->ops->tx_gamepot_login_state(tx, id, state, size,
							   found);
}

int store_tx_gamepot_login_finish(struct store_tx *tx,
				  const struct store_gamepot_login *l,
				  int64_t now_ms, bool *updated)
{
	return tx->st->driver->ops->tx_gamepot_login_finish(tx, l, now_ms,
							    updated);
}

int store_tx_gamepot_login_attempt(struct store_tx *tx, int64_t id,
				   const char *error, int64_t now_ms)
{
	return tx->st->driver->ops->tx_gamepot_login_attempt(tx, id, error,
							     now_ms);
}

int store_gamepot_login_read(struct store *st, int64_t id,
			     store_gamepot_login_fn fn, void *arg, bool *found)
{
	return st->driver->ops->gamepot_login_read(st, id, fn, arg, found);
}

int store_gamepot_login_latest(struct store *st, const char *account_id,
			       store_gamepot_login_fn fn, void *arg,
			       bool *found)
{
	return st->driver->ops->gamepot_login_latest(st, account_id, fn, arg,
						     found);
}

int store_account_read(struct store *st, const char *account_id,
		       struct store_account *out, bool *found)
{
	return st->driver->ops->account_read(st, account_id, out, found);
}

int store_inventory_read(struct store *st, const char *account_id,
			 store_stackable_fn on_stackable,
			 store_instance_fn on_instance, void *arg)
{
	return st->driver->ops->inventory_read(st, account_id, on_stackable,
					       on_instance, arg);
}

int store_history_read(struct store *st, const char *account_id, int64_t offset,
		       int64_t limit, store_history_fn fn, void *arg)
{
	return st->driver->ops->history_read(st, account_id, offset, limit, fn,
					     arg);
}

int store_fulfilments_search(struct store *st,
			     const struct store_fulfilment_query *q,
			     store_history_fn fn, void *arg)
{
	return st->driver->ops->fulfilments_search(st, q, fn, arg);
}

int store_fulfilment_read(struct store *st, int64_t row, store_history_fn fn,
			  store_grant_fn gfn, void *arg, bool *found)
{
	return st->driver->ops->fulfilment_read(st, row, fn, gfn, arg, found);
}

int store_credentials_read(struct store *st, store_credential_fn fn, void *arg)
{
	return st->driver->ops->credentials_read(st, fn, arg);
}

int store_credential_live(struct store *st, const char *secret_hash,
			  const char *id, int64_t now_ms, bool *found)
{
	return st->driver->ops->credential_live(st, secret_hash, id, now_ms,
						found);
}

int store_signing_keys_read(struct store *st, store_signing_key_fn fn,
			    void *arg)
{
	return st->driver->ops->signing_keys_read(st, fn, arg);
}

int store_links_read(struct store *st, const char *account_id, store_link_fn fn,
		     void *arg)
{
	return st->driver->ops->links_read(st, account_id, fn, arg);
}

int store_fulfilment_account_read(struct store *st, int64_t row, char *account,
				  size_t size, bool *found)
{
	return st->driver->ops->fulfilment_account_read(st, row, account, size,
							found);
}

int store_link_holder_read(struct store *st, const char *provider,
			   const char *external_id, char *account, size_t size,
			   bool *found)
{
	return st->driver->ops->link_holder_read(st, provider, external_id,
						 account, size, found);
}

int store_audit_read(struct store *st, int64_t limit, store_audit_fn fn,
		     void *arg)
{
	return st->driver->ops->audit_read(st, limit, fn, arg);
}

int store_tx_event_add(struct store_tx *tx, const char *type,
		       const char *account_id, int64_t created_at_ms,
		       const char *data_json, int64_t *id)
{
	return tx->st->driver->ops->tx_event_add(tx, type, account_id,
						 created_at_ms, data_json, id);
}

int store_events_read(struct store *st, int64_t after_txid, int64_t after_id,
		      int64_t limit, store_event_fn fn, void *arg)
{
	return st->driver->ops->events_read(st, after_txid, after_id, limit,
					    fn, arg);
}

int store_broadcasts_until(struct store *st, int64_t *until_ms)
{
	return st->driver->ops->broadcasts_until(st, until_ms);
}

int store_broadcasts_pending_any(struct store *st, const char *account_id,
				 int64_t now_ms, bool *any)
{
	return st->driver->ops->broadcasts_pending_any(st, account_id, now_ms,
						       any);
}
