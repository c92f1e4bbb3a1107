"""Revocation (POST /v1/fulfillments/{id}/revoke): what a fulfilment granted
is taken back under each stackable policy, exactly once, with its claim
released on request; a revoked transaction replayed grants nothing; bad
input and wrong credentials change nothing."""
import threading

import pytest

from conftest import ready
from invariants import check_ledger, check_ledger_revocations

PLAYER = "player-1"


def revoke_path(fid):
    return f"/v1/fulfillments/{fid}/revoke"


def revoke(g, fid, reason="refunded", key=None, **extra):
    body = {"reason": reason, **extra}
    return g.request("POST", revoke_path(fid), key=key or g.partner_key,
                     json=body)


def fulfilment_id(g, account_id, transaction_id):
    [rec] = [r for r in g.history(account_id)
             if r["external_id"] == transaction_id]
    return rec["fulfillment_id"]


def grant(g, sku, transaction_id, account_id=PLAYER):
    r = g.fulfill(account_id, sku, transaction_id)
    assert r.status_code == 200, r.text
    return fulfilment_id(g, account_id, transaction_id)


def spend(g, account_id, catalog_id, amount):
    """Sets a balance lower, as a player spending it would."""
    with g.db_write() as c:
        c.execute("UPDATE inventory_stackables SET amount = amount - ?"
                  " WHERE account_id = ? AND catalog_id = ?",
                  (amount, account_id, catalog_id))


def instances(g, account_id):
    return {(i["catalog_id"], i["instance_id"])
            for i in g.inventory(account_id)["instanced"]}


def make(make_grantd, policy=None, operator=False):
    config = {"revocation": {"stackable": policy}} if policy else None
    return ready(make_grantd(config=config), operator=operator)


def check_reply(body, fid, reason="refunded", released=False):
    assert set(body) == {"fulfillment_id", "status", "account_id", "reason",
                         "revoked_at", "removed", "released_claim"}
    assert body["fulfillment_id"] == fid
    assert body["status"] == "revoked"
    assert body["account_id"] == PLAYER
    assert body["reason"] == reason
    assert body["released_claim"] is released
    assert body["revoked_at"].endswith("Z")


# ---- each grant kind ------------------------------------------------------

def test_revoke_stackable(grantd):
    g = grantd
    fid = grant(g, "pg_gold_100", "t-1")
    grant(g, "pg_gold_100", "t-2")
    assert g.balance(PLAYER, "gold") == 200
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    check_reply(r.json(), fid)
    assert r.json()["removed"] == {
        "stackables": [{"catalog_id": "gold", "amount": 100, "shortfall": 0}],
        "instanced": []}
    assert g.balance(PLAYER, "gold") == 100
    [rec] = [x for x in g.history(PLAYER) if x["external_id"] == "t-1"]
    assert rec["provider_entitlement_record_status"] == "revoked"
    with g.db() as db:
        check_ledger_revocations(db)
        row = db.execute("SELECT reason, actor, released_claim, shortfall"
                         " FROM revocations").fetchall()
        assert [tuple(x) for x in row] == [("refunded", "api:backend", 0, "{}")] or \
            [tuple(x) for x in row] == [("refunded", "api:backend", False, "{}")]
        audit = db.execute("SELECT actor, action, target, detail FROM audit"
                           " WHERE action = 'fulfillment.revoked'").fetchall()
        assert len(audit) == 1
        assert audit[0][0] == "api:backend" and audit[0][2] == fid
        assert '"reason":"refunded"' in audit[0][3]


def test_revoke_instanced(grantd):
    g = grantd
    fid = grant(g, "pg_dragon", "t-d")
    [(cat, iid)] = instances(g, PLAYER)
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == {
        "stackables": [], "instanced": [{"catalog_id": "skin_dragon",
                                         "instance_id": iid}]}
    assert instances(g, PLAYER) == set()
    with g.db() as db:
        check_ledger_revocations(db)


def test_revoke_bundle(grantd):
    g = grantd
    fid = grant(g, "pg_starter", "t-b")
    before = instances(g, PLAYER)
    assert {c for c, _ in before} == {"hat_red", "sword"}
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    removed = r.json()["removed"]
    assert removed["stackables"] == [
        {"catalog_id": "gold", "amount": 100, "shortfall": 0}]
    assert {(i["catalog_id"], i["instance_id"]) for i in removed["instanced"]} == before
    assert g.balance(PLAYER, "gold") == 0
    assert instances(g, PLAYER) == set()
    # the unique hat may be granted again now
    assert g.fulfill(PLAYER, "pg_hat", "t-hat").status_code == 200
    with g.db() as db:
        check_ledger_revocations(db)


# ---- the stackable policies -------------------------------------------------

def test_clamp_records_the_shortfall(grantd):
    g = grantd
    fid = grant(g, "pg_starter", "t-b")
    spend(g, PLAYER, "gold", 70)
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["stackables"] == [
        {"catalog_id": "gold", "amount": 30, "shortfall": 70}]
    assert len(r.json()["removed"]["instanced"]) == 2
    assert g.balance(PLAYER, "gold") == 0
    with g.db() as db:
        assert db.execute("SELECT shortfall FROM revocations").fetchone()[0] == \
            '{"gold":70}'
        check_ledger_revocations(db, spent={(PLAYER, "gold"): 70})


def test_allow_negative(make_grantd):
    g = make(make_grantd, "allow_negative")
    fid = grant(g, "pg_gold_100", "t-1")
    spend(g, PLAYER, "gold", 70)
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["stackables"] == [
        {"catalog_id": "gold", "amount": 100, "shortfall": 0}]
    assert g.balance(PLAYER, "gold") == -70
    with g.db() as db:
        check_ledger_revocations(db, spent={(PLAYER, "gold"): 70})


def test_fail_refuses_and_changes_nothing(make_grantd):
    g = make(make_grantd, "fail")
    fid = grant(g, "pg_starter", "t-b")
    spend(g, PLAYER, "gold", 1)
    before = g.snapshot()
    r = revoke(g, fid)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "InsufficientBalance"
    assert "99" in r.json()["error"]["message"]
    assert g.snapshot() == before
    # with the balance whole again it goes through
    spend(g, PLAYER, "gold", -1)
    r = revoke(g, fid)
    assert r.status_code == 200, r.text
    assert g.balance(PLAYER, "gold") == 0 and instances(g, PLAYER) == set()


def test_fail_refuses_when_an_instance_is_gone(make_grantd):
    g = make(make_grantd, "fail")
    fid = grant(g, "pg_starter", "t-b")
    with g.db_write() as c:
        c.execute("DELETE FROM inventory_instances WHERE catalog_id = 'sword'")
    before = g.snapshot()
    r = revoke(g, fid)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "InsufficientBalance"
    assert g.snapshot() == before


# ---- idempotence and replays ------------------------------------------------

def test_revoke_twice_answers_the_same(grantd):
    g = grantd
    fid = grant(g, "pg_gold_100", "t-1")
    first = revoke(g, fid)
    assert first.status_code == 200
    before = g.snapshot()
    again = revoke(g, fid, reason="another reason", release_claim=True)
    assert again.status_code == 200
    assert again.json() == first.json()   # the second reason is ignored
    assert g.snapshot() == before


def test_replayed_transaction_grants_nothing(grantd):
    g = grantd
    fid = grant(g, "pg_starter", "t-b")
    assert revoke(g, fid).status_code == 200
    before = g.snapshot()
    for _ in range(3):
        r = g.fulfill(PLAYER, "pg_starter", "t-b")
        assert r.status_code == 200 and r.json() == {}
    assert g.snapshot() == before
    assert g.balance(PLAYER, "gold") == 0 and instances(g, PLAYER) == set()
    # another body for the same transaction still conflicts
    r = g.fulfill(PLAYER, "pg_gold_100", "t-b")
    assert r.status_code == 409
    with g.db() as db:
        check_ledger_revocations(db)


def test_failed_fulfilment_was_not_granted(grantd):
    g = grantd
    grant(g, "pg_gold_500_once", "t-o1")
    assert g.fulfill(PLAYER, "pg_gold_500_once", "t-o2").status_code == 400
    fid = fulfilment_id(g, PLAYER, "t-o2")
    before = g.snapshot()
    r = revoke(g, fid)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "NotGranted"
    assert g.snapshot() == before


# ---- claims -------------------------------------------------------------------

@pytest.mark.parametrize("release", [True, False])
def test_release_claim(grantd, release):
    g = grantd
    fid = grant(g, "pg_gold_500_once", "t-o1")
    r = revoke(g, fid, release_claim=release)
    assert r.status_code == 200, r.text
    assert r.json()["released_claim"] is release
    assert g.balance(PLAYER, "gold") == 0
    r = g.fulfill(PLAYER, "pg_gold_500_once", "t-o2")
    if release:
        assert r.status_code == 200
        assert g.balance(PLAYER, "gold") == 500
    else:
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "ContentAlreadyOwned"
        assert g.balance(PLAYER, "gold") == 0
    with g.db() as db:
        check_ledger_revocations(db)


# ---- ids, credentials, bodies -------------------------------------------------

@pytest.mark.parametrize("fid", ["f_00000000000000ff", "f_zz", "nope",
                                 "f_0000000000000000"])
def test_unknown_or_malformed_id(grantd, fid):
    g = grantd
    grant(g, "pg_gold_100", "t-1")
    before = g.snapshot()
    r = revoke(g, fid)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "FulfillmentNotFound"
    assert g.snapshot() == before


def test_partner_and_operator_keys_are_accepted(make_grantd):
    g = make(make_grantd, operator=True)
    a = grant(g, "pg_gold_100", "t-1")
    b = grant(g, "pg_gold_100", "t-2")
    r = revoke(g, a, key=g.partner_key)
    assert r.status_code == 200, r.text
    r = revoke(g, b, key=g.ops_key)
    assert r.status_code == 200, r.text
    with g.db() as db:
        actors = sorted(x[0] for x in db.execute("SELECT actor FROM revocations"))
    assert actors == ["api:backend", "api:ops"]
    # the operator scope still does not open the partner routes
    r = g.request("GET", f"/v1/accounts/{PLAYER}", key=g.ops_key)
    assert r.status_code == 403


def test_other_scopes_are_forbidden(grantd):
    g = grantd
    fid = grant(g, "pg_gold_100", "t-1")
    before = g.snapshot()
    r = revoke(g, fid, key=g.prime_key)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "Forbidden"
    r = g.request("POST", revoke_path(fid), json={"reason": "x"})
    assert r.status_code == 401
    assert g.snapshot() == before


@pytest.mark.parametrize("body,names", [
    ("", "body"),
    ("[]", "body: must be a JSON object"),
    ("{}", "reason: required"),
    ('{"reason": ""}', "reason: must be 1 to 500"),
    ('{"reason": 5}', "reason: must be a string"),
    ('{"reason": "' + "x" * 501 + '"}', "reason: must be 1 to 500"),
    ('{"reason": "a\\u0000b"}', "NUL"),
    ('{"reason": "x", "release_claim": "yes"}', "release_claim"),
    ('{"reason": "x", "extra": 1}', 'unknown field "extra"'),
    ('{"reason": "x", "reason": "y"}', "duplicate"),
    ('{"reason": "x"', "body"),
])
def test_bad_bodies_change_nothing(grantd, body, names):
    g = grantd
    fid = grant(g, "pg_gold_100", "t-1")
    before = g.snapshot()
    r = g.request("POST", revoke_path(fid), key=g.partner_key, data=body,
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidRequest"
    assert names in r.json()["error"]["message"]
    assert g.snapshot() == before


def test_reason_of_500_characters_is_accepted(grantd):
    g = grantd
    fid = grant(g, "pg_gold_100", "t-1")
    reason = "é" * 500
    r = revoke(g, fid, reason=reason)
    assert r.status_code == 200, r.text
    assert r.json()["reason"] == reason


# ---- concurrency ----------------------------------------------------------------

def test_concurrent_revokes_remove_once(grantd):
    g = grantd
    fid = grant(g, "pg_starter", "t-b")
    grant(g, "pg_gold_100", "t-1")
    answers = [None] * 20
    start = threading.Barrier(20)

    def run(i):
        start.wait()
        answers[i] = revoke(g, fid, reason=f"r{i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 200 for a in answers), \
        [a.text for a in answers if a.status_code != 200]
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert g.balance(PLAYER, "gold") == 100
    assert instances(g, PLAYER) == set()
    with g.db() as db:
        assert db.execute("SELECT count(*) FROM revocations").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM audit WHERE action ="
                          " 'fulfillment.revoked'").fetchone()[0] == 1
        check_ledger_revocations(db)


def test_existing_ledger_check_holds_without_revocations(grantd):
    g = grantd
    grant(g, "pg_starter", "t-b")
    grant(g, "pg_gold_100", "t-1")
    with g.db() as db:
        check_ledger(db)
        check_ledger_revocations(db)


def test_revoke_while_granting_keeps_the_ledger(grantd):
    """A revocation serialises with grants to its account: whatever the
    order, the ledger explains the inventory and no grant is lost."""
    g = grantd
    fid = grant(g, "pg_gold_100", "t-0")
    answers = {}
    start = threading.Barrier(11)

    def fulfil(i):
        start.wait()
        answers[i] = g.fulfill(PLAYER, "pg_gold_100", f"t-c{i}")

    def take():
        start.wait()
        answers["revoke"] = revoke(g, fid)

    threads = [threading.Thread(target=fulfil, args=(i,)) for i in range(10)]
    threads.append(threading.Thread(target=take))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 200 for a in answers.values())
    assert answers["revoke"].json()["removed"]["stackables"] == [
        {"catalog_id": "gold", "amount": 100, "shortfall": 0}]
    assert g.balance(PLAYER, "gold") == 1000
    with g.db() as db:
        check_ledger_revocations(db)
