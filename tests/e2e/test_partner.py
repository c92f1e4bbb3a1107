"""The partner API (scope `partner`): accounts, inventory and entitlement
history, their path and query rules, bad bodies and credentials."""
import http.client
import json
import time
from pathlib import Path

import pytest
import requests

from conftest import Grantd

ACCOUNT_FIELDS = {"account_id", "state", "created_at_millis", "updated_at_millis"}
INSTANCE_FIELDS = {"instance_id", "catalog_id", "fulfillment_id", "acquired_at_millis"}
RECORD_FIELDS = {
    "player_id", "fulfillment_id", "provider_id", "provider_entitlement_id",
    "provider_item_id", "provider_entitlement_record_status",
    "fulfilled_timestamp_millis", "error_code", "created_at_millis",
    "external_id", "skipped_catalog_ids",
}
ID_RULE = "account_id: must be 1 to 128 printable ASCII characters"
BAD_ESCAPE = "a path parameter has a malformed %-escape or an encoded NUL"


def error_of(r):
    return r.json()["error"]


def now_ms():
    return int(time.time() * 1000)


def get_account(g, account_id, key=None):
    return g.request("GET", f"/v1/accounts/{account_id}", key=key or g.partner_key)


def put_raw(g, account_id, body, key=None):
    return g.request("PUT", f"/v1/accounts/{account_id}", key=key or g.partner_key,
                     data=body, headers={"Content-Type": "application/json"})


def history_raw(g, account_id, query):
    return g.request("GET", f"/v1/accounts/{account_id}/entitlements/history?{query}",
                     key=g.partner_key)


def raw_request(g, method, path, key, body=None):
    """Sends `path` byte for byte (requests would re-quote bad %-escapes).
    Returns (status, parsed JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ro(tmp_path_factory):
    """One running grantd shared by the tests that only send requests that
    must change nothing (each proves it with a snapshot): keys of every
    scope, created before start (a running server picks up new keys within
    a second), and "player-1" with one completed fulfilment."""
    g = Grantd(tmp_path_factory.mktemp("partner-ro"))
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.operator_key = g.create_key("ops", "operator")
    g.both_key = g.create_key("both", "partner", "fulfillment:primegaming")
    try:
        g.start()
        assert g.put_account("player-1").status_code == 201
        assert g.fulfill("player-1", "pg_gold_100", "t-ro").status_code == 200
        yield g
    finally:
        if g.proc is not None:
            g.stop()


# ---- accounts: create, update, read ---------------------------------------

def test_put_creates_then_updates_and_get_reads(grantd):
    t0 = now_ms()
    r = grantd.put_account("alice")
    assert r.status_code == 201
    assert r.json() == {"account_id": "alice", "state": "active"}
    assert r.headers["Content-Type"] == "application/json"

    r = get_account(grantd, "alice")
    assert r.status_code == 200
    created = r.json()
    assert set(created) == ACCOUNT_FIELDS
    assert created["account_id"] == "alice" and created["state"] == "active"
    assert t0 - 1000 <= created["created_at_millis"] <= now_ms() + 1000
    assert created["updated_at_millis"] == created["created_at_millis"]

    for state in ("suspended", "banned", "active", "active"):
        r = grantd.put_account("alice", state)
        assert r.status_code == 200, r.text
        assert r.json() == {"account_id": "alice", "state": state}
        got = get_account(grantd, "alice").json()
        assert got["state"] == state
        assert got["created_at_millis"] == created["created_at_millis"]
        assert got["updated_at_millis"] >= created["created_at_millis"]
    with grantd.db() as c:
        assert c.execute("SELECT count(*) FROM accounts WHERE account_id='alice'").fetchone()[0] == 1


@pytest.mark.parametrize("state", ["suspended", "banned"])
def test_put_can_create_in_any_state(grantd, state):
    r = grantd.put_account("bob", state)
    assert r.status_code == 201
    assert get_account(grantd, "bob").json()["state"] == state


def test_get_unknown_account_is_404(ro):
    r = get_account(ro, "nobody")
    assert r.status_code == 404
    assert error_of(r) == {"code": "AccountNotFound",
                           "message": 'no account "nobody" exists'}


BAD_PUT_BODIES = [
    (b"not json", "body: invalid JSON at line 1"),
    (b"", "body: invalid JSON"),
    (b'{"state": "active"', "body: invalid JSON"),
    (b'["active"]', "body: must be a JSON object"),
    (b'"active"', "body: must be a JSON object"),
    (b'{"state": "active"} x', "body: invalid JSON"),
    (b"{}", "state: required"),
    (b'{"status": "active"}', 'body: unknown field "status"'),
    (b'{"state": "deleted"}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": "Active"}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": ""}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": "active", "note": "vip"}', 'body: unknown field "note"'),
    (b'{"state": 1}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": null}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": ["banned"]}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": true}', 'state: must be "active", "suspended" or "banned"'),
    (b'{"state": "banned", "state": "banned"}', "body: invalid JSON"),
]


@pytest.mark.parametrize("body,message", BAD_PUT_BODIES)
def test_bad_put_body_is_400_and_changes_nothing(ro, body, message):
    before = ro.snapshot()
    for account in ("player-1", "new-player"):  # an update and a create
        r = put_raw(ro, account, body)
        assert r.status_code == 400, r.text
        err = error_of(r)
        assert err["code"] == "InvalidRequest"
        assert err["message"].startswith(message), err["message"]
    assert ro.snapshot() == before
    assert get_account(ro, "player-1").json()["state"] == "active"
    assert get_account(ro, "new-player").status_code == 404


# ---- account ids in the path ------------------------------------------------

def test_account_id_of_128_chars_is_accepted_and_129_refused(grantd):
    ok, too_long = "a" * 128, "b" * 129
    r = grantd.put_account(ok)
    assert r.status_code == 201
    assert get_account(grantd, ok).json()["account_id"] == ok
    before = grantd.snapshot()
    for method in ("PUT", "GET"):
        r = grantd.request(method, f"/v1/accounts/{too_long}", key=grantd.partner_key,
                           json={"state": "active"} if method == "PUT" else None)
        assert r.status_code == 400
        assert error_of(r) == {"code": "InvalidRequest", "message": ID_RULE}
    for sub in ("inventory", "entitlements/history"):
        r = grantd.request("GET", f"/v1/accounts/{too_long}/{sub}", key=grantd.partner_key)
        assert r.status_code == 400
        assert error_of(r)["message"] == ID_RULE
    assert grantd.snapshot() == before


def test_length_is_counted_after_decoding(grantd):
    # 384 bytes on the wire, 128 characters once decoded
    r = grantd.put_account("%41" * 128)
    assert r.status_code == 201
    assert r.json()["account_id"] == "A" * 128
    r = grantd.put_account("%41" * 129)
    assert r.status_code == 400
    assert error_of(r)["message"] == ID_RULE


def test_escaped_slash_is_part_of_the_id(grantd):
    r = grantd.put_account("guild%2Fplayer")
    assert r.status_code == 201
    assert r.json()["account_id"] == "guild/player"
    r = get_account(grantd, "guild%2fplayer")  # either case of hex digits
    assert r.status_code == 200
    assert r.json()["account_id"] == "guild/player"
    inv = grantd.inventory("guild%2Fplayer")
    assert inv["account_id"] == "guild/player"
    with grantd.db() as c:
        ids = [row[0] for row in c.execute("SELECT account_id FROM accounts ORDER BY 1")]
    assert ids == ["guild/player", "player-1"]
    # an unescaped slash is a path separator: no such route
    r = get_account(grantd, "guild/player")
    assert r.status_code == 404
    assert error_of(r)["code"] == "NotFound"


def test_other_escapes_are_decoded(grantd):
    r = grantd.put_account("a%20b%2Bc%25d")
    assert r.status_code == 201
    assert r.json()["account_id"] == "a b+c%d"
    # "+" in a path is a plain character, not a space
    assert grantd.put_account("x+y").json()["account_id"] == "x+y"
    assert get_account(grantd, "a b+c%25d").status_code == 200


@pytest.mark.parametrize("segment", ["bad%zz", "bad%", "bad%2", "%g1", "bad%%41"])
def test_malformed_escape_is_400(ro, segment):
    before = ro.snapshot()
    status, body = raw_request(ro, "PUT", f"/v1/accounts/{segment}",
                               ro.partner_key, b'{"state": "active"}')
    assert status == 400
    assert body["error"] == {"code": "InvalidRequest", "message": BAD_ESCAPE}
    for path in (f"/v1/accounts/{segment}", f"/v1/accounts/{segment}/inventory",
                 f"/v1/accounts/{segment}/entitlements/history"):
        status, body = raw_request(ro, "GET", path, ro.partner_key)
        assert status == 400, path
        assert body["error"]["code"] == "InvalidRequest"
    assert ro.snapshot() == before


@pytest.mark.parametrize("segment,message", [
    ("bad%01", ID_RULE), ("bad%7F", ID_RULE), ("tab%09", ID_RULE), ("nl%0A", ID_RULE),
    ("caf%C3%A9", ID_RULE), ("%FF", ID_RULE),
    ("bad%00x", BAD_ESCAPE),  # a NUL cannot even be decoded into a C string
])
def test_non_printable_or_non_ascii_id_is_400(ro, segment, message):
    before = ro.snapshot()
    status, body = raw_request(ro, "PUT", f"/v1/accounts/{segment}",
                               ro.partner_key, b'{"state": "active"}')
    assert status == 400
    assert body["error"] == {"code": "InvalidRequest", "message": message}
    status, _ = raw_request(ro, "GET", f"/v1/accounts/{segment}", ro.partner_key)
    assert status == 400
    assert ro.snapshot() == before


def test_empty_id_segment_is_not_a_route(ro):
    """An empty segment never matches {account_id}: no such resource."""
    for path in ("/v1/accounts/", "/v1/accounts//inventory",
                 "/v1/accounts//entitlements/history"):
        r = ro.request("GET", path, key=ro.partner_key)
        assert r.status_code == 404, path
        assert error_of(r)["code"] == "NotFound"


# ---- inventory ----------------------------------------------------------------

def test_inventory_of_new_account_is_empty(grantd):
    assert grantd.inventory("player-1") == {
        "account_id": "player-1", "stackables": [], "instanced": []}


def test_inventory_of_unknown_account_is_404(ro):
    r = ro.request("GET", "/v1/accounts/ghost/inventory", key=ro.partner_key)
    assert r.status_code == 404
    assert error_of(r) == {"code": "AccountNotFound",
                           "message": 'no account "ghost" exists'}


@pytest.fixture
def shop(make_grantd, tmp_path):
    """A running grantd whose catalog has stackables named so that the
    order they are granted in is not their sorted order."""
    catalog = json.loads((Path(__file__).parent / "catalog_test.json").read_text())
    for cid, sku, amount in (("zinc", "pg_zinc", 3), ("amber", "pg_amber", 7)):
        catalog["items"].append({"catalogId": cid, "kind": "stackable"})
        catalog["entitlements"].append({
            "id": cid, "stackable": {"catalogId": cid, "amount": amount},
            "providerDetails": [{"primeGaming": {"sku": sku}}]})
    path = tmp_path / "shop_catalog.json"
    path.write_text(json.dumps(catalog))
    g = make_grantd("shop", catalog=path)
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.start()
    assert g.put_account("player-1").status_code == 201
    return g


def test_inventory_shape_after_fulfilments(shop):
    t0 = now_ms()
    for tid, sku in (("t-zinc", "pg_zinc"), ("t-gold", "pg_gold_100"),
                     ("t-starter", "pg_starter"), ("t-amber", "pg_amber"),
                     ("t-zinc2", "pg_zinc"), ("t-sword", "pg_sword")):
        r = shop.fulfill("player-1", sku, tid)
        assert r.status_code == 200, r.text
    t1 = now_ms()
    inv = shop.inventory("player-1")
    assert set(inv) == {"account_id", "stackables", "instanced"}
    assert inv["account_id"] == "player-1"
    # sorted by catalog id, one entry per item, amounts summed
    assert inv["stackables"] == [
        {"catalog_id": "amber", "amount": 7},
        {"catalog_id": "gold", "amount": 200},
        {"catalog_id": "zinc", "amount": 6},
    ]
    fids = {h["external_id"]: h["fulfillment_id"] for h in shop.history("player-1")}
    inst = inv["instanced"]
    assert len(inst) == 3
    for i in inst:
        assert set(i) == INSTANCE_FIELDS
        assert isinstance(i["acquired_at_millis"], int)
        assert t0 - 1000 <= i["acquired_at_millis"] <= t1 + 1000
    assert len({i["instance_id"] for i in inst}) == 3
    by_fid = sorted((i["fulfillment_id"], i["catalog_id"]) for i in inst)
    assert by_fid == sorted([(fids["t-starter"], "hat_red"), (fids["t-starter"], "sword"),
                             (fids["t-sword"], "sword")])
    # oldest first
    assert [i["acquired_at_millis"] for i in inst] == sorted(i["acquired_at_millis"] for i in inst)
    # the database agrees
    with shop.db() as c:
        rows = sorted((iid, cat, f"f_{row:016x}") for iid, cat, row in c.execute(
            "SELECT instance_id, catalog_id, fulfillment_row FROM "
            "inventory_instances WHERE account_id='player-1'"))
    assert rows == sorted((i["instance_id"], i["catalog_id"], i["fulfillment_id"]) for i in inst)


def test_inventory_is_per_account(grantd):
    assert grantd.put_account("player-2").status_code == 201
    assert grantd.fulfill("player-1", "pg_gold_100", "t-p1").status_code == 200
    assert grantd.inventory("player-2") == {
        "account_id": "player-2", "stackables": [], "instanced": []}
    assert grantd.history("player-2") == []


# ---- entitlement history ------------------------------------------------------

def test_history_paging_newest_first(grantd):
    tids = [f"t-page-{i}" for i in range(7)]
    for tid in tids:
        assert grantd.fulfill("player-1", "pg_gold_100", tid).status_code == 200
    newest_first = tids[::-1]
    pages = [grantd.history("player-1", page_index=i, page_size=3) for i in range(3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [rec["external_id"] for p in pages for rec in p]
    assert seen == newest_first
    assert len({rec["fulfillment_id"] for p in pages for rec in p}) == 7
    assert grantd.history("player-1", page_index=3, page_size=3) == []
    assert grantd.history("player-1", page_index=2147483647, page_size=1000) == []
    # defaults: page 0 of 50
    assert [rec["external_id"] for rec in grantd.history("player-1")] == newest_first
    assert [rec["external_id"] for rec in grantd.history("player-1", page_size=1)] == [tids[6]]
    assert [rec["external_id"] for rec in grantd.history("player-1", page_index=1)] == []
    assert len(grantd.history("player-1", page_size=1000)) == 7
    assert [rec["external_id"] for rec in grantd.history("player-1", page_index=6, page_size=1)] == [tids[0]]
    for p in pages:
        for rec in p:
            assert set(rec) == RECORD_FIELDS
            assert rec["player_id"] == "player-1"
            assert rec["provider_entitlement_record_status"] == "completed"
    created = [rec["created_at_millis"] for p in pages for rec in p]
    assert created == sorted(created, reverse=True)


def test_history_page_size_default_is_50(grantd):
    with grantd.db() as c:
        assert c.execute("SELECT count(*) FROM fulfillments").fetchone()[0] == 0
    for i in range(52):
        assert grantd.fulfill("player-1", "pg_gold_100", f"t-d{i:02d}").status_code == 200
    first = grantd.history("player-1")
    assert len(first) == 50
    assert first[0]["external_id"] == "t-d51" and first[-1]["external_id"] == "t-d02"
    assert [r["external_id"] for r in grantd.history("player-1", page_index=1)] == ["t-d01", "t-d00"]


@pytest.mark.parametrize("query,name", [
    ("page_size=0", "page_size"),
    ("page_size=1001", "page_size"),
    ("page_size=-1", "page_size"),
    ("page_size=abc", "page_size"),
    ("page_size=", "page_size"),
    ("page_size=1.5", "page_size"),
    ("page_size=%zz", "page_size"),
    ("page_size=3&page_index=-1", "page_index"),
    ("page_index=-1", "page_index"),
    ("page_index=x", "page_index"),
    ("page_index=2147483648", "page_index"),
    ("page_index=99999999999999999999", "page_index"),
])
def test_bad_paging_params_are_400_naming_the_param(ro, query, name):
    assert len(ro.history("player-1")) == 1
    if "%zz" in query:
        status, body = raw_request(
            ro, "GET", f"/v1/accounts/player-1/entitlements/history?{query}",
            ro.partner_key)
        err = body["error"]
    else:
        r = history_raw(ro, "player-1", query)
        status, err = r.status_code, error_of(r)
    assert status == 400
    assert err["code"] == "InvalidRequest"
    limits = "from 1 to 1000" if name == "page_size" else "from 0 to 2147483647"
    assert err["message"] == f"{name}: must be an integer {limits}"


def test_history_records_failed_attempts_with_error_code(grantd):
    assert grantd.fulfill("player-1", "pg_dragon", "t-ok").status_code == 200
    # Prime Gaming is answered in its own words; history records the
    # engine's provider-neutral outcome
    expect = [
        ("t-owned", "pg_dragon", "ContentAlreadyOwned", "dragon-skin", "ContentAlreadyOwned"),
        ("t-expired", "pg_expired", "NotAvailable", "expired-gems", "SkuExpired"),
        ("t-unknown", "pg_nowhere", "UnknownItem", None, "InvalidSku"),
    ]
    for tid, sku, _, _, answer in expect:
        r = grantd.fulfill("player-1", sku, tid)
        assert r.status_code == 400
        assert error_of(r)["code"] == answer
    assert grantd.put_account("player-1", "suspended").status_code == 200
    r = grantd.fulfill("player-1", "pg_gold_100", "t-suspended")
    assert error_of(r)["code"] == "AccountStateError"
    expect.append(("t-suspended", "pg_gold_100", "AccountStateError", "gold-100", None))

    recs = grantd.history("player-1")
    assert [r["external_id"] for r in recs] == [
        "t-suspended", "t-unknown", "t-expired", "t-owned", "t-ok"]
    by_tid = {r["external_id"]: r for r in recs}
    for tid, sku, code, entitlement, _ in expect:
        rec = by_tid[tid]
        assert rec["provider_entitlement_record_status"] == "failed", tid
        assert rec["error_code"] == code
        assert rec["provider_item_id"] == sku
        assert rec["provider_entitlement_id"] == entitlement
        assert rec["fulfilled_timestamp_millis"] is None
        assert rec["provider_id"] == "primegaming"
        assert rec["skipped_catalog_ids"] == []
    ok = by_tid["t-ok"]
    assert ok["provider_entitlement_record_status"] == "completed"
    assert ok["error_code"] is None
    # failed attempts granted nothing
    assert grantd.inventory("player-1")["stackables"] == []
    assert len(grantd.inventory("player-1")["instanced"]) == 1


def test_history_of_unknown_account_is_empty(ro):
    assert ro.history("never-seen") == []


# ---- credentials and methods --------------------------------------------------

PARTNER_ROUTES = [
    ("PUT", "/v1/accounts/player-1"),
    ("PUT", "/v1/accounts/new-one"),
    ("GET", "/v1/accounts/player-1"),
    ("GET", "/v1/accounts/player-1/inventory"),
    ("GET", "/v1/accounts/player-1/entitlements/history"),
]


@pytest.mark.parametrize("method,path", PARTNER_ROUTES)
def test_partner_routes_need_the_partner_scope(ro, method, path):
    body = {"state": "banned"} if method == "PUT" else None
    before = ro.snapshot()

    r = requests.request(method, ro.url(path), json=body, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(r)["code"] == "Unauthorized"

    r = ro.request(method, path, key="gdk_not-a-key", json=body)
    assert r.status_code == 401
    assert "invalid_token" in r.headers["WWW-Authenticate"]

    for name, key in (("prime", ro.prime_key), ("ops", ro.operator_key)):
        r = ro.request(method, path, key=key, json=body)
        assert r.status_code == 403, name
        assert error_of(r) == {
            "code": "Forbidden",
            "message": f'credential "{name}" ({ro.keys[name]["id"]}) lacks the '
                       'scope this route requires'}
        assert "insufficient_scope" in r.headers["WWW-Authenticate"]
    assert ro.snapshot() == before


def test_a_key_with_several_scopes_works(ro):
    before = ro.snapshot()
    r = ro.request("GET", "/v1/accounts/player-1/inventory", key=ro.both_key)
    assert r.status_code == 200
    assert r.json()["stackables"] == [{"catalog_id": "gold", "amount": 100}]
    # the Prime Gaming scope is accepted too: the empty body is what fails
    r = ro.request("POST", "/v1/primegaming/fulfillment", key=ro.both_key, json={})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidRequest"
    assert ro.snapshot() == before


@pytest.mark.parametrize("path", [
    "/v1/accounts/player-1",
    "/v1/accounts/player-1/inventory",
    "/v1/accounts/player-1/entitlements/history?page_size=2",
])
def test_head_on_a_get_route(grantd, path):
    assert grantd.fulfill("player-1", "pg_starter", "t-head").status_code == 200
    get = grantd.request("GET", path, key=grantd.partner_key)
    head = grantd.request("HEAD", path, key=grantd.partner_key)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Type"] == "application/json"
    assert int(head.headers["Content-Length"]) == len(get.content)
    assert head.headers["X-Request-Id"]


def test_head_on_unknown_account_is_404_without_body(grantd):
    r = grantd.request("HEAD", "/v1/accounts/ghost", key=grantd.partner_key)
    assert r.status_code == 404
    assert r.content == b""
    r = requests.head(grantd.url("/v1/accounts/player-1"), timeout=10)
    assert r.status_code == 401


def test_put_needs_json_content_type(ro):
    before = ro.snapshot()
    r = ro.request("PUT", "/v1/accounts/player-1", key=ro.partner_key,
                       data=b'{"state": "banned"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert error_of(r)["code"] == "UnsupportedMediaType"
    assert ro.snapshot() == before


def test_wrong_method_on_partner_routes(ro):
    before = ro.snapshot()
    for method, path, allow in (
            ("POST", "/v1/accounts/player-1", {"GET", "HEAD", "PUT"}),
            ("PUT", "/v1/accounts/player-1/inventory", {"GET", "HEAD"}),
            ("DELETE", "/v1/accounts/player-1/entitlements/history", {"GET", "HEAD"})):
        r = ro.request(method, path, key=ro.partner_key, json={"state": "active"})
        assert r.status_code == 405, path
        assert set(r.headers["Allow"].split(", ")) == allow
        assert error_of(r)["code"] == "MethodNotAllowed"
    assert ro.snapshot() == before
