"""Support staff looking for a player's drop: fulfilments searched by
account, provider, external id, status and time, newest first in cursor
pages that stay stable while grants keep arriving; one fulfilment with its
grants; the Pragma-shaped history; all behind the operator scope."""
import json
import threading
import time

import pytest

from conftest import ready

SEARCH = "/v1/operator/fulfillments"


def search(g, key=None, **params):
    r = g.request("GET", SEARCH, key=key or g.ops_key, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def g(make_grantd):
    g = ready(make_grantd(), operator=True)
    assert g.put_account("player-2").status_code == 201
    return g


def test_search_filters_and_newest_first(g):
    assert g.fulfill("player-1", "pg_gold_100", "t-1").status_code == 200
    assert g.fulfill("player-2", "pg_gold_100", "t-2").status_code == 200
    assert g.fulfill("player-1", "pg_nope", "t-3").status_code == 400
    all_ = search(g)["fulfillments"]
    assert [r["external_id"] for r in all_] == ["t-3", "t-2", "t-1"]
    assert [r["external_id"] for r in
            search(g, account_id="player-1")["fulfillments"]] == ["t-3", "t-1"]
    assert [r["external_id"] for r in
            search(g, status="failed")["fulfillments"]] == ["t-3"]
    [one] = search(g, external_id="t-2")["fulfillments"]
    assert one["player_id"] == "player-2" and one["provider_id"] == "primegaming"
    assert search(g, provider="twitch")["fulfillments"] == []
    created = all_[1]["created_at_millis"]
    assert [r["external_id"] for r in search(
        g, since_millis=created, until_millis=created + 1)["fulfillments"]] \
        in (["t-2"], ["t-3", "t-2"], ["t-2", "t-1"], ["t-3", "t-2", "t-1"])
    assert search(g, limit=3)["next_cursor"] is not None
    assert search(g, limit=4)["next_cursor"] is None


def test_cursor_pages_are_stable_under_concurrent_inserts(g):
    for i in range(30):
        assert g.fulfill("player-1", "pg_gold_100", f"old-{i}").status_code == 200
    stop = threading.Event()

    def insert():
        i = 0
        while not stop.is_set() and i < 400:
            g.fulfill("player-2", "pg_gold_100", f"new-{i}")
            i += 1

    t = threading.Thread(target=insert)
    t.start()
    try:
        seen, cursor = [], None
        first = search(g, limit=7)
        top = first["fulfillments"][0]["fulfillment_id"]
        seen += first["fulfillments"]
        cursor = first["next_cursor"]
        while cursor:
            page = search(g, limit=7, cursor=cursor)
            seen += page["fulfillments"]
            cursor = page["next_cursor"]
            time.sleep(0.01)
    finally:
        stop.set()
        t.join(timeout=30)
    ids = [r["fulfillment_id"] for r in seen]
    assert len(ids) == len(set(ids))                 # none twice
    assert ids == sorted(ids, reverse=True)          # newest first throughout
    assert ids[0] == top
    olds = {r["external_id"] for r in seen if r["external_id"].startswith("old-")}
    assert olds == {f"old-{i}" for i in range(30)}   # none missed


def test_one_fulfilment_with_its_grants(g):
    assert g.fulfill("player-1", "pg_starter", "t-s").status_code == 200
    [rec] = search(g, external_id="t-s")["fulfillments"]
    r = g.request("GET", f"{SEARCH}/{rec['fulfillment_id']}", key=g.ops_key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fulfillment_id"] == rec["fulfillment_id"]
    assert body["provider_entitlement_record_status"] == "completed"
    grants = body["grants"]
    assert [x["line"] for x in grants] == sorted(x["line"] for x in grants)
    stack = [x for x in grants if "instance_id" not in x]
    inst = sorted(x["catalog_id"] for x in grants if "instance_id" in x)
    assert stack == [{"line": stack[0]["line"], "catalog_id": "gold",
                      "amount": 100}]
    assert inst == ["hat_red", "sword"]
    owned = {i["instance_id"] for i in g.inventory("player-1")["instanced"]}
    assert {x["instance_id"] for x in grants if "instance_id" in x} == owned
    for bad in ("f_00000000000000ff", "nope"):
        r = g.request("GET", f"{SEARCH}/{bad}", key=g.ops_key)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "FulfillmentNotFound"


def test_operator_history_is_pragma_shaped(g):
    assert g.fulfill("player-1", "pg_gold_100", "t-h").status_code == 200
    r = g.request("GET", "/v1/operator/accounts/player-1/entitlements/history",
                  key=g.ops_key, params={"page_index": 0, "page_size": 10})
    assert r.status_code == 200, r.text
    [rec] = r.json()["provider_entitlement_records"]
    assert rec["external_id"] == "t-h" and rec["player_id"] == "player-1"
    assert r.json() == g.request(
        "GET", "/v1/accounts/player-1/entitlements/history",
        key=g.partner_key, params={"page_index": 0, "page_size": 10}).json()


@pytest.mark.parametrize("path", [
    SEARCH, f"{SEARCH}/f_0000000000000001",
    "/v1/operator/accounts/player-1/entitlements/history",
    "/v1/operator/outbox"])
def test_operator_routes_need_the_operator_scope(g, path):
    for key in (g.partner_key, g.prime_key):
        r = g.request("GET", path, key=key)
        assert r.status_code == 403, (path, r.text)
    assert g.request("GET", path).status_code == 401


@pytest.mark.parametrize("params,word", [
    ({"status": "granted"}, "status"),
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"cursor": "x"}, "cursor"),
    ({"cursor": "f_zz"}, "cursor"),
    ({"since_millis": "-1"}, "since_millis"),
    ({"account_id": ""}, "account_id"),
    ({"account_id": "a" * 129}, "account_id"),
])
def test_bad_search_parameters_are_named(g, params, word):
    r = g.request("GET", SEARCH, key=g.ops_key, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidRequest"
    assert word in r.json()["error"]["message"]


def test_operator_changes_an_account_state_with_a_reason(g):
    path = "/v1/operator/accounts/player-1/state"
    r = g.request("PUT", path, key=g.ops_key,
                  json={"state": "suspended", "reason": "chargeback, #4411"})
    assert r.status_code == 200, r.text
    assert r.json() == {"account_id": "player-1", "state": "suspended",
                        "previous_state": "active",
                        "reason": "chargeback, #4411"}
    r = g.fulfill("player-1", "pg_gold_100", "t-susp")
    assert r.status_code == 400 and r.json()["error"]["code"] == "AccountStateError"
    audit = g.cli("audit", "--config", str(g.config_path), "--json").stdout
    assert "account.state_changed" in audit and "chargeback, #4411" in audit
    events = g.request("GET", "/v1/events", key=g.partner_key).json()["events"]
    [e] = [e for e in events if e["type"] == "account.suspended"]
    assert e["data"]["cause"] == "operator" and e["account_id"] == "player-1"
    r = g.request("PUT", path, key=g.ops_key,
                  json={"state": "active", "reason": "resolved"})
    assert r.status_code == 200 and r.json()["previous_state"] == "suspended"
    assert g.fulfill("player-1", "pg_gold_100", "t-back").status_code == 200


def test_operator_state_change_refusals_change_nothing(g):
    before = g.snapshot()
    path = "/v1/operator/accounts/player-1/state"
    for body in ({"state": "suspended"}, {"reason": "x"},
                 {"state": "frozen", "reason": "x"},
                 {"state": "banned", "reason": ""},
                 {"state": "banned", "reason": "x", "extra": 1}, []):
        r = g.request("PUT", path, key=g.ops_key, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == "InvalidRequest"
    r = g.request("PUT", "/v1/operator/accounts/ghost/state", key=g.ops_key,
                  json={"state": "banned", "reason": "x"})
    assert r.status_code == 404
    r = g.request("PUT", path, key=g.partner_key,
                  json={"state": "banned", "reason": "x"})
    assert r.status_code == 403
    assert g.snapshot() == before


def test_a_fulfilment_shows_its_deliveries_and_audit(make_grantd):
    g = ready(make_grantd(config={"events": {
        "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s3cret"}}),
        operator=True)
    assert g.fulfill("player-1", "pg_gold_100", "t-d").status_code == 200
    assert g.fulfill("player-1", "pg_gold_100", "t-other").status_code == 200
    [rec] = search(g, external_id="t-d")["fulfillments"]
    fid = rec["fulfillment_id"]
    r = g.request("POST", f"/v1/fulfillments/{fid}/revoke", key=g.ops_key,
                  json={"reason": "refund #9"})
    assert r.status_code == 200, r.text
    body = g.request("GET", f"{SEARCH}/{fid}", key=g.ops_key).json()
    assert body["provider_entitlement_record_status"] == "revoked"
    kinds = sorted(d["kind"] for d in body["deliveries"])
    assert kinds == ["event.webhook", "event.webhook"]  # created, revoked
    assert all(d["status"] in ("pending", "dead") for d in body["deliveries"])
    [a] = body["audit"]
    assert a["action"] == "fulfillment.revoked"
    assert a["detail"]["reason"] == "refund #9"
    assert a["actor"] == "api:ops"


def operator_routes():
    """Every (method, path) of the router under /v1/operator/, read from
    the route tables as the OpenAPI test does."""
    import re
    from conftest import REPO
    found = set()
    for path in (REPO / "src").rglob("*.c"):
        for m in re.finditer(r'\{\s*HTTP_(GET|POST|PUT|DELETE),\s*"(/v1/operator/[^"]*)"',
                             path.read_text()):
            found.add((m.group(1), m.group(2)))
    return sorted(found)


def test_every_operator_route_refuses_other_scopes(g):
    routes = operator_routes()
    assert len(routes) >= 8, routes
    for method, path in routes:
        url = (path.replace("{account_id}", "player-1")
               .replace("{fulfillment_id}", "f_0000000000000001")
               .replace("{id}", "1"))
        for key in (g.partner_key, g.prime_key):
            r = g.request(method, url, key=key, json={"reason": "x"})
            assert r.status_code == 403, (method, url, r.status_code)
            assert r.json()["error"]["code"] == "Forbidden"
        assert g.request(method, url, json={}).status_code == 401, url


def test_a_fulfilment_shows_the_entitlement_as_it_arrived(g):
    assert g.fulfill("player-1", "pg_gold_100", "t-arr").status_code == 200
    [rec] = search(g, external_id="t-arr")["fulfillments"]
    body = g.request("GET", f"{SEARCH}/{rec['fulfillment_id']}",
                     key=g.ops_key).json()
    ent = body["entitlement"]
    assert ent["source"] == "primegaming" and ent["external_id"] == "t-arr"
    assert ent["account_id"] == "player-1"
    assert ent["provider_item_id"] == "pg_gold_100" and ent["quantity"] == 1
    assert ent["received_at"].endswith("Z") and ent["record_only"] is False
    assert g.prime_key not in json.dumps(body)
    # a refused one keeps what arrived too
    assert g.fulfill("player-1", "pg_nope", "t-arr-2").status_code == 400
    [bad] = search(g, external_id="t-arr-2")["fulfillments"]
    body = g.request("GET", f"{SEARCH}/{bad['fulfillment_id']}",
                     key=g.ops_key).json()
    assert body["entitlement"]["provider_item_id"] == "pg_nope"
