/* engine/revoke.c: revocation — what a fulfilment granted, read from its
 * grants ledger, taken back from the account in one transaction, and the
 * revocation recorded so the ledger still explains the inventory. */
#include "engine/engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int engine_revoke_policy_parse(const char *s, enum engine_revoke_policy *out)
{
	static const char *const names[] = { "clamp", "allow_negative", "fail" };

	for (size_t i = 0; s && i < UTIL_ARRAY_LEN(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum engine_revoke_policy)i;
			return 0;
		}
	}
	return -1;
}

/* A stackable catalog id of the ledger, its lines summed. */
struct take {
	char *catalog_id;
	int64_t granted;
	int64_t removed;    /* taken from the balance */
};

/* An instance of the ledger. */
struct instance {
	char *catalog_id;
	char *instance_id;
};

/* What one run of a revocation plans, from the ledger. */
struct plan {
	struct take *takes;
	size_t n_takes, cap_takes;
	struct instance *instances;
	size_t n_instances, cap_instances;
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n_takes; i++)
		free(p->takes[i].catalog_id);
	for (size_t i = 0; i < p->n_instances; i++) {
		free(p->instances[i].catalog_id);
		free(p->instances[i].instance_id);
	}
	free(p->takes);
	free(p->instances);
}

static void plan_line(void *arg, int line, const char *catalog_id,
		      int64_t amount, const char *instance_id)
{
	struct plan *p = arg;
	struct instance *in;

	(void)line;
	if (instance_id) {
		if (p->n_instances == p->cap_instances) {
			p->cap_instances = p->cap_instances ? 2 * p->cap_instances : 4;
			p->instances = util_xrealloc(p->instances, p->cap_instances *
						     sizeof(*p->instances));
		}
		in = &p->instances[p->n_instances++];
		in->catalog_id = util_xstrdup(catalog_id);
		in->instance_id = util_xstrdup(instance_id);
		return;
	}
	for (size_t i = 0; i < p->n_takes; i++) {
		if (strcmp(p->takes[i].catalog_id, catalog_id) == 0) {
			p->takes[i].granted += amount;
			return;
		}
	}
	if (p->n_takes == p->cap_takes) {
		p->cap_takes = p->cap_takes ? 2 * p->cap_takes : 4;
		p->takes = util_xrealloc(p->takes, p->cap_takes * sizeof(*p->takes));
	}
	p->takes[p->n_takes++] = (struct take){
		.catalog_id = util_xstrdup(catalog_id), .granted = amount,
	};
}

__attribute__((format(printf, 3, 4)))
static void set_refusal(struct engine_revocation *r,
			enum engine_revoke_outcome o, const char *fmt, ...)
{
	va_list ap;

	r->outcome = o;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

/* The revocation as the API shows it (a new reference). */
static json_t *revocation_json(const struct store_revocation *rv)
{
	char id[STORE_FULFILMENT_ID_LEN + 1], at[25];
	json_t *removed = json_loads(rv->removed ? rv->removed : "{}", 0, NULL);

	store_fulfilment_id_format(rv->row, id);
	util_rfc3339_format(rv->revoked_at_ms, at);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b}",
			 "fulfillment_id", id, "status", "revoked",
			 "account_id", rv->account_id ? rv->account_id : "",
			 "reason", rv->reason ? rv->reason : "",
			 "revoked_at", at,
			 "removed", removed ? removed : json_object(),
			 "released_claim", rv->released_claim);
}

static void on_revocation(void *arg, const struct store_revocation *rv)
{
	struct engine_revocation *r = arg;

	r->result = revocation_json(rv);
}

/* Decides each stackable's removal by the policy, reading balances.
 * Returns 0 (an INSUFFICIENT outcome set in r if refused) or a store_rc. */
static int plan_takes(struct store_tx *tx, struct engine_revocation *r,
		      const char *account_id, struct plan *p)
{
	enum engine_revoke_policy policy = r->engine_->opts.revoke_stackable;
	int64_t balance;

	for (size_t i = 0; i < p->n_takes; i++) {
		struct take *t = &p->takes[i];

		if (store_tx_stackable_get(tx, account_id, t->catalog_id, &balance))
			return STORE_ERR;
		if (policy == ENGINE_REVOKE_ALLOW_NEGATIVE || balance >= t->granted) {
			t->removed = t->granted;
		} else if (policy == ENGINE_REVOKE_FAIL) {
			set_refusal(r, ENGINE_REVOKE_INSUFFICIENT, "account \"%s\" "
				    "holds %lld %s, less than the %lld granted; "
				    "nothing was removed", account_id,
				    (long long)balance, t->catalog_id,
				    (long long)t->granted);
			return 0;
		} else {
			t->removed = balance > 0 ? balance : 0;
		}
	}
	return 0;
}

/* Removes the planned stackables and the instances; what was not there
 * goes to shortfall. Under policy "fail" a missing instance refuses the
 * whole revocation (the caller's savepoint undoes the rest). */
static int remove_all(struct store_tx *tx, struct engine_revocation *r,
		      const char *account_id, const struct plan *p,
		      json_t *removed, json_t *shortfall)
{
	json_t *stackables = json_object_get(removed, "stackables");
	json_t *instanced = json_object_get(removed, "instanced");
	bool deleted;

	for (size_t i = 0; i < p->n_takes; i++) {
		const struct take *t = &p->takes[i];

		if (t->removed > 0 &&
		    store_tx_stackable_add(tx, account_id, t->catalog_id,
					   -t->removed))
			return STORE_ERR;
		json_array_append_new(stackables, json_pack(
			"{s:s, s:I, s:I}", "catalog_id", t->catalog_id,
			"amount", (json_int_t)t->removed,
			"shortfall", (json_int_t)(t->granted - t->removed)));
		if (t->granted > t->removed)
			json_object_set_new(shortfall, t->catalog_id, json_integer(
				t->granted - t->removed));
	}
	for (size_t i = 0; i < p->n_instances; i++) {
		const struct instance *in = &p->instances[i];
		json_t *had;

		if (store_tx_instance_delete(tx, account_id, in->instance_id,
					     &deleted))
			return STORE_ERR;
		if (deleted) {
			json_array_append_new(instanced, json_pack(
				"{s:s, s:s}", "catalog_id", in->catalog_id,
				"instance_id", in->instance_id));
			continue;
		}
		if (r->engine_->opts.revoke_stackable == ENGINE_REVOKE_FAIL) {
			set_refusal(r, ENGINE_REVOKE_INSUFFICIENT, "account \"%s\" "
				    "no longer holds instance %s of %s; nothing "
				    "was removed", account_id, in->instance_id,
				    in->catalog_id);
			return 0;
		}
		had = json_object_get(shortfall, in->catalog_id);
		json_object_set_new(shortfall, in->catalog_id, json_integer(
			(had ? json_integer_value(had) : 0) + 1));
	}
	return 0;
}

/* The grant.revoked event, in the revocation's transaction: its data is
 * the revocation as the route answers it. */
static int emit_revoked(struct store_tx *tx, const struct store_revocation *rv)
{
	json_t *data = revocation_json(rv);
	int rc = engine_events_emit(tx, ENGINE_EVENT_GRANT_REVOKED,
				    rv->account_id, data);

	json_decref(data);
	return rc;
}

static int audit(struct store_tx *tx, const struct store_revocation *rv,
		 const char *fulfillment_id)
{
	json_t *d = json_pack("{s:s, s:s, s:b}", "account_id", rv->account_id,
			      "reason", rv->reason, "released_claim",
			      rv->released_claim);
	char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = store_tx_audit_add(tx, &(struct store_audit){
		.at_ms = rv->revoked_at_ms, .actor = rv->actor,
		.action = "fulfillment.revoked", .target = fulfillment_id,
		.detail = text,
	});

	free(text);
	json_decref(d);
	return rc;
}

/* Records what was removed (and the claim released), then the revocation,
 * its audit row and its event. */
static int record(struct store_tx *tx, struct engine_revocation *r,
		  const struct store_fulfilment_info *f, json_t *removed,
		  json_t *shortfall)
{
	char id[STORE_FULFILMENT_ID_LEN + 1];
	char *removed_text = json_dumps(removed, JSON_COMPACT);
	char *shortfall_text = json_dumps(shortfall, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_revocation rv = {
		.row = r->row, .account_id = f->account_id, .reason = r->reason,
		.actor = r->actor,
		.released_claim = r->release_claim && f->entitlement_id[0],
		.removed = removed_text, .shortfall = shortfall_text,
		.revoked_at_ms = util_now_ms(),
	};
	int rc = 0;

	store_fulfilment_id_format(r->row, id);
	if (rv.released_claim)
		rc = store_tx_claim_release(tx, f->account_id, f->entitlement_id,
					    rv.revoked_at_ms);
	if (rc == 0)
		rc = store_tx_revocation_add(tx, &rv);
	if (rc == 0)
		rc = audit(tx, &rv, id);
	if (rc == 0)
		rc = emit_revoked(tx, &rv);
	if (rc == 0)
		r->result = revocation_json(&rv);
	free(removed_text);
	free(shortfall_text);
	return rc;
}

/* Takes back what completed fulfilment f granted. Returns 0 (the outcome
 * in r) or a store_rc. */
static int revoke_completed(struct store_tx *tx, struct engine_revocation *r,
			    const struct store_fulfilment_info *f)
{
	bool fail = r->engine_->opts.revoke_stackable == ENGINE_REVOKE_FAIL;
	json_t *removed = json_pack("{s:[], s:[]}", "stackables", "instanced");
	json_t *shortfall = json_object();
	struct plan p = {0};
	int rc = store_tx_grants_read(tx, r->row, plan_line, &p);

	if (rc == 0)
		rc = plan_takes(tx, r, f->account_id, &p);
	if (rc || r->outcome != ENGINE_REVOKE_DONE)
		goto out;
	if (fail && (rc = store_tx_savepoint(tx)))
		goto out;
	rc = remove_all(tx, r, f->account_id, &p, removed, shortfall);
	if (fail && rc == 0)
		rc = r->outcome == ENGINE_REVOKE_DONE ?
		     store_tx_savepoint_release(tx) :
		     store_tx_savepoint_rollback(tx);
	if (rc == 0 && r->outcome == ENGINE_REVOKE_DONE)
		rc = record(tx, r, f, removed, shortfall);
out:
	json_decref(removed);
	json_decref(shortfall);
	plan_release(&p);
	return rc;
}

/* Reads fulfilment r->row under its account's lock (taken first, so the
 * decision serialises with grants to the account on every node). */
static int locked_get(struct store_tx *tx, struct engine_revocation *r,
		      struct store_fulfilment_info *f)
{
	char account[STORE_ACCOUNT_ID_MAX + 1];
	enum store_account_state state;
	bool exists;

	if (store_tx_fulfilment_get(tx, r->row, f))
		return STORE_ERR;
	/* the account of a failed fulfilment may change while it is
	 * evaluated again: lock until the one read is the one locked */
	for (int tries = 0; f->found && tries < 3; tries++) {
		snprintf(account, sizeof(account), "%s", f->account_id);
		if (store_tx_account_get(tx, account, &state, &exists) ||
		    store_tx_fulfilment_get(tx, r->row, f))
			return STORE_ERR;
		if (!f->found || strcmp(account, f->account_id) == 0)
			return 0;
	}
	return f->found ? STORE_ERR : 0;
}

static int revoke_apply(struct store_tx *tx, struct store_intent *in)
{
	struct engine_revocation *r =
		UTIL_CONTAINER_OF(in, struct engine_revocation, intent_);
	struct store_fulfilment_info f;
	char id[STORE_FULFILMENT_ID_LEN + 1];
	bool found;
	int rc;

	engine_revocation_release(r);  /* apply may run again (store.h) */
	r->outcome = ENGINE_REVOKE_DONE;
	r->message[0] = '\0';
	store_fulfilment_id_format(r->row, id);
	if ((rc = locked_get(tx, r, &f)))
		return rc;
	if (!f.found) {
		set_refusal(r, ENGINE_REVOKE_NOT_FOUND, "no fulfilment \"%s\" "
			    "exists", id);
		return 0;
	}
	switch (f.status) {
	case STORE_FULFILMENT_REVOKED:
		r->outcome = ENGINE_REVOKE_REPLAYED;
		rc = store_tx_revocation_get(tx, r->row, on_revocation, r, &found);
		return rc ? rc : found ? 0 : STORE_ERR;
	case STORE_FULFILMENT_COMPLETED:
		return revoke_completed(tx, r, &f);
	default:
		set_refusal(r, ENGINE_REVOKE_NOT_GRANTED, "fulfilment \"%s\" is %s: "
			    "it granted nothing to revoke", id,
			    store_fulfilment_status_name(f.status));
		return 0;
	}
}

static void revoke_done(struct store_intent *in, int rc)
{
	struct engine_revocation *r =
		UTIL_CONTAINER_OF(in, struct engine_revocation, intent_);

	if (rc == STORE_CLOSED) {
		engine_revocation_release(r);
		set_refusal(r, ENGINE_REVOKE_UNAVAILABLE, "the server is shutting "
			    "down; nothing was done, retry");
	} else if (rc != STORE_OK) {
		engine_revocation_release(r);
		set_refusal(r, ENGINE_REVOKE_STORE_ERROR, "the store failed; "
			    "nothing was committed, retry");
	} else if (r->outcome != ENGINE_REVOKE_DONE &&
		   r->outcome != ENGINE_REVOKE_REPLAYED) {
		engine_revocation_release(r);
	}
	r->done_(r);
}

void engine_revocation_release(struct engine_revocation *r)
{
	json_decref(r->result);
	r->result = NULL;
}

void engine_submit_revocation(struct engine *e, struct engine_revocation *r,
			      void (*done)(struct engine_revocation *r))
{
	bool found = false;

	r->engine_ = e;
	r->done_ = done;
	r->result = NULL;
	r->intent_.apply = revoke_apply;
	r->intent_.done = revoke_done;
	/* the order among intents that lock accounts; apply reads the
	 * account again under its lock, and decides by that */
	if (store_fulfilment_account_read(e->store, r->row, r->account_,
					  sizeof(r->account_), &found))
		found = false;
	r->intent_.order_key = found ? r->account_ : NULL;
	if (store_submit(e->store, &r->intent_) != STORE_OK)
		revoke_done(&r->intent_, STORE_CLOSED);
}
