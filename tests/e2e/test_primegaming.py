"""The Prime Gaming push fulfilment API: every status and error code of the
push document's contract, retries, conflicts, limits and bad input."""
import json
import time

import pytest
import requests

FULFILL = "/v1/primegaming/fulfillment"


def error_code(r):
    return r.json()["error"]["code"]


def test_fulfil_grants_and_answers_empty_object(grantd):
    r = grantd.fulfill("player-1", "pg_gold_100", "t-1")
    assert r.status_code == 200
    assert r.json() == {}
    assert r.headers["Content-Type"] == "application/json"
    assert grantd.balance("player-1", "gold") == 100
    [rec] = grantd.history("player-1")
    assert rec["provider_entitlement_record_status"] == "completed"
    assert rec["external_id"] == "t-1"
    assert rec["provider_item_id"] == "pg_gold_100"
    assert rec["provider_entitlement_id"] == "gold-100"
    assert rec["provider_id"] == "primegaming"
    assert rec["error_code"] is None
    assert rec["fulfilled_timestamp_millis"] >= rec["created_at_millis"]


def test_retry_of_completed_transaction_grants_nothing(grantd):
    for _ in range(3):
        r = grantd.fulfill("player-1", "pg_gold_100", "t-retry")
        assert r.status_code == 200 and r.json() == {}
    assert grantd.balance("player-1", "gold") == 100
    assert len(grantd.history("player-1")) == 1


def test_same_transaction_other_account_conflicts(grantd):
    assert grantd.put_account("player-2").status_code == 201
    assert grantd.fulfill("player-1", "pg_gold_100", "t-c").status_code == 200
    before = grantd.snapshot()
    r = grantd.fulfill("player-2", "pg_gold_100", "t-c")
    assert r.status_code == 409
    assert error_code(r) == "TransactionConflict"
    assert "t-c" in r.json()["error"]["message"]
    assert grantd.snapshot() == before


def test_same_transaction_other_sku_conflicts(grantd):
    assert grantd.fulfill("player-1", "pg_gold_100", "t-c2").status_code == 200
    r = grantd.fulfill("player-1", "pg_starter", "t-c2")
    assert r.status_code == 409
    assert error_code(r) == "TransactionConflict"
    assert grantd.balance("player-1", "gold") == 100


def test_unknown_account_is_invalid_customer(grantd):
    r = grantd.fulfill("nobody", "pg_gold_100", "t-nc")
    assert r.status_code == 400
    assert error_code(r) == "InvalidCustomer"
    assert "nobody" in r.json()["error"]["message"]
    # the attempt is recorded for support staff, and nothing was granted
    [rec] = grantd.history("nobody")
    assert rec["provider_entitlement_record_status"] == "failed"
    assert rec["error_code"] == "UnknownAccount"  # the engine's word, not Prime Gaming's
    with grantd.db() as c:
        assert c.execute("SELECT count(*) FROM accounts WHERE account_id='nobody'").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM grants").fetchone()[0] == 0


def test_failed_transaction_is_evaluated_afresh(grantd):
    r = grantd.fulfill("late-player", "pg_gold_100", "t-late")
    assert error_code(r) == "InvalidCustomer"
    assert grantd.put_account("late-player").status_code == 201
    r = grantd.fulfill("late-player", "pg_gold_100", "t-late")
    assert r.status_code == 200
    assert grantd.balance("late-player", "gold") == 100
    [rec] = grantd.history("late-player")
    assert rec["provider_entitlement_record_status"] == "completed"
    assert rec["error_code"] is None


def test_auto_create_accounts(make_grantd):
    g = make_grantd(config={"accounts": {"auto_create": True}})
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.start()
    assert g.fulfill("fresh", "pg_gold_100", "t-a").status_code == 200
    assert g.request("GET", "/v1/accounts/fresh", key=g.partner_key).json()["state"] == "active"
    assert g.balance("fresh", "gold") == 100
    # a failing fulfilment does not create the account
    assert error_code(g.fulfill("ghost", "pg_unknown", "t-b")) == "InvalidSku"
    assert g.request("GET", "/v1/accounts/ghost", key=g.partner_key).status_code == 404


def test_unknown_sku_is_invalid_sku(grantd):
    r = grantd.fulfill("player-1", "pg_not_in_catalog", "t-sku")
    assert r.status_code == 400
    assert error_code(r) == "InvalidSku"
    assert r.json()["error"]["message"].startswith("SKU is invalid: ")


@pytest.mark.parametrize("sku,word", [("pg_expired", "expired"), ("pg_future", "not started")])
def test_sku_outside_window_is_expired(grantd, sku, word):
    r = grantd.fulfill("player-1", sku, "t-" + sku)
    assert r.status_code == 400
    assert error_code(r) == "SkuExpired"
    assert word in r.json()["error"]["message"]
    assert grantd.balance("player-1", "gems") == 0


@pytest.mark.parametrize("state", ["suspended", "banned"])
def test_inactive_account_is_account_state_error(grantd, state):
    assert grantd.put_account("player-1", state).status_code == 200
    r = grantd.fulfill("player-1", "pg_gold_100", "t-" + state)
    assert r.status_code == 400
    assert error_code(r) == "AccountStateError"
    assert state in r.json()["error"]["message"]
    assert grantd.balance("player-1", "gold") == 0


def test_limit_per_account(grantd):
    assert grantd.fulfill("player-1", "pg_gold_500_once", "t-o1").status_code == 200
    r = grantd.fulfill("player-1", "pg_gold_500_once", "t-o2")
    assert r.status_code == 400
    assert error_code(r) == "ContentAlreadyOwned"
    assert grantd.balance("player-1", "gold") == 500
    # another account is not affected
    assert grantd.put_account("player-2").status_code == 201
    assert grantd.fulfill("player-2", "pg_gold_500_once", "t-o3").status_code == 200


def test_limit_of_two(grantd):
    codes = [grantd.fulfill("player-1", "pg_sword", f"t-s{i}").status_code for i in range(3)]
    assert codes == [200, 200, 400]
    swords = [i for i in grantd.inventory("player-1")["instanced"] if i["catalog_id"] == "sword"]
    assert len(swords) == 2


def test_bundle_with_owned_unique_item_fulfils_the_rest(grantd):
    assert grantd.fulfill("player-1", "pg_hat", "t-hat").status_code == 200
    r = grantd.fulfill("player-1", "pg_starter", "t-starter")
    assert r.status_code == 200
    inv = grantd.inventory("player-1")
    hats = [i for i in inv["instanced"] if i["catalog_id"] == "hat_red"]
    swords = [i for i in inv["instanced"] if i["catalog_id"] == "sword"]
    assert len(hats) == 1 and len(swords) == 1
    assert grantd.balance("player-1", "gold") == 100
    starter = [h for h in grantd.history("player-1") if h["external_id"] == "t-starter"][0]
    assert starter["skipped_catalog_ids"] == ["hat_red"]
    assert swords[0]["fulfillment_id"] == starter["fulfillment_id"]


def test_wholly_owned_unique_content_is_already_owned(grantd):
    assert grantd.fulfill("player-1", "pg_dragon", "t-d1").status_code == 200
    r = grantd.fulfill("player-1", "pg_dragon", "t-d2")
    assert r.status_code == 400
    assert error_code(r) == "ContentAlreadyOwned"
    dragons = [i for i in grantd.inventory("player-1")["instanced"] if i["catalog_id"] == "skin_dragon"]
    assert len(dragons) == 1


def test_credentials(grantd):
    body = {"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-auth"}
    r = requests.post(grantd.url(FULFILL), json=body)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_code(r) == "Unauthorized"
    r = grantd.request("POST", FULFILL, key="gdk_not-a-real-key", json=body)
    assert r.status_code == 401
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    r = requests.post(grantd.url(FULFILL), json=body, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert r.status_code == 401
    r = grantd.request("POST", FULFILL, key=grantd.partner_key, json=body)
    assert r.status_code == 403
    assert error_code(r) == "Forbidden"
    assert grantd.balance("player-1", "gold") == 0
    assert grantd.history("player-1") == []


def test_revoked_key_stops_working(grantd):
    key_id = grantd.keys["prime"]["id"]
    assert grantd.fulfill("player-1", "pg_gold_100", "t-r1").status_code == 200
    r = grantd.cli("keys", "revoke", "--config", str(grantd.config_path), key_id)
    assert r.returncode == 0, r.stderr
    # Poll with an empty body: 400 while the key works, 401 once revoked;
    # neither changes state.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = grantd.request("POST", FULFILL, key=grantd.prime_key, json={})
        if r.status_code == 401:
            break
        assert r.status_code == 400
        time.sleep(0.05)
    else:
        pytest.fail("revoked key still accepted after 5 s")
    assert grantd.fulfill("player-1", "pg_gold_100", "t-r2").status_code == 401
    assert grantd.balance("player-1", "gold") == 100


# ---- bad input: 4xx naming the problem, and nothing changes --------------

BAD_BODIES = [
    (b'{"account_id": "player-1", "sku": "pg_gold_100"', 400, "body"),  # truncated
    (b'not json', 400, "body"),
    (b'[1, 2]', 400, "body"),
    (b'"a string"', 400, "body"),
    (b'null', 400, "body"),
    (b'{}', 400, "account_id"),
    (b'{"sku": "pg_gold_100", "transaction_id": "x"}', 400, "account_id"),
    (b'{"account_id": "player-1", "transaction_id": "x"}', 400, "sku"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100"}', 400, "transaction_id"),
    (b'{"account_id": 12, "sku": "pg_gold_100", "transaction_id": "x"}', 400, "account_id"),
    (b'{"account_id": "player-1", "sku": ["pg_gold_100"], "transaction_id": "x"}', 400, "sku"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": null}', 400, "transaction_id"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": 7}', 400, "transaction_id"),
    (b'{"account_id": "", "sku": "pg_gold_100", "transaction_id": "x"}', 400, "account_id"),
    (b'{"account_id": "player-1", "sku": "", "transaction_id": "x"}', 400, "sku"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": ""}', 400, "transaction_id"),
    (json.dumps({"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "x" * 257}).encode(), 400, "transaction_id"),
    (json.dumps({"account_id": "p" * 257, "sku": "pg_gold_100", "transaction_id": "x"}).encode(), 400, "account_id"),
    (json.dumps({"account_id": "player-1", "sku": "s" * 257, "transaction_id": "x"}).encode(), 400, "sku"),
    (b'{"account_id": "player-1", "sku": "pg gold", "transaction_id": "x"}', 400, "SKU"),
    (b'{"account_id": "player-1", "sku": "pg/gold", "transaction_id": "x"}', 400, "SKU"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "\xff\xfe"}', 400, "body"),
    (b'{"account_id": "pl\xc3", "sku": "pg_gold_100", "transaction_id": "x"}', 400, "body"),
    (b'{"account_id": "player-1", "account_id": "player-2", "sku": "pg_gold_100", "transaction_id": "x"}', 400, "body"),
    (b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "a\\u0000b"}', 400, "body"),
]


@pytest.mark.parametrize("path,body", [
    (FULFILL, b'{"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "a\\u0000b"}'),
    ("/v1/accounts/player-9", b'{"state": "act\\u0000ive"}'),
])
def test_a_nul_escape_is_named_in_words(grantd, path, body):
    key = grantd.prime_key if path == FULFILL else grantd.partner_key
    before = grantd.snapshot()
    r = grantd.request("POST" if path == FULFILL else "PUT", path, key=key, data=body,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("body: invalid JSON at line 1 column "), message
    assert message.endswith(": NUL characters are not allowed"), message
    assert "JSON_ALLOW_NUL" not in message
    assert grantd.snapshot() == before


@pytest.mark.parametrize("body,status,names", BAD_BODIES)
def test_bad_bodies_change_nothing(grantd, body, status, names):
    before = grantd.snapshot()
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, data=body,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] in ("InvalidRequest", "InvalidSku")
    assert names in err["message"]
    assert grantd.snapshot() == before


def test_unknown_fields_are_ignored(grantd):
    body = {"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-extra",
            "campaign": "s01", "nested": {"x": [1, 2]}}
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, json=body)
    assert r.status_code == 200
    assert grantd.balance("player-1", "gold") == 100


def test_id_of_exactly_256_bytes_is_accepted(grantd):
    r = grantd.fulfill("player-1", "pg_gold_100", "x" * 256)
    assert r.status_code == 200


def test_body_over_limit_is_413(grantd):
    before = grantd.snapshot()
    body = json.dumps({"account_id": "player-1", "sku": "pg_gold_100",
                       "transaction_id": "t-big", "pad": "x" * 70000})
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, data=body,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert error_code(r) == "PayloadTooLarge"
    assert grantd.snapshot() == before
    # the server still serves
    assert grantd.fulfill("player-1", "pg_gold_100", "t-after-big").status_code == 200


def test_chunked_body_over_limit_is_413(grantd):
    def gen():
        yield b'{"account_id": "player-1", "pad": "'
        for _ in range(40):
            yield b"x" * 4096
        yield b'"}'
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, data=gen(),
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_wrong_content_type_is_415(grantd, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    body = json.dumps({"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-ct"})
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, data=body, headers=headers)
    assert r.status_code == 415
    assert error_code(r) == "UnsupportedMediaType"
    assert grantd.balance("player-1", "gold") == 0


def test_content_type_with_charset_is_fine(grantd):
    body = json.dumps({"account_id": "player-1", "sku": "pg_gold_100", "transaction_id": "t-cs"})
    r = grantd.request("POST", FULFILL, key=grantd.prime_key, data=body,
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_unknown_route_and_wrong_method(grantd):
    r = grantd.request("POST", "/v1/primegaming/nothing", key=grantd.prime_key, json={})
    assert r.status_code == 404
    assert error_code(r) == "NotFound"
    r = grantd.request("GET", FULFILL, key=grantd.prime_key)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert error_code(r) == "MethodNotAllowed"
    r = grantd.request("DELETE", "/v1/accounts/player-1", key=grantd.partner_key)
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "PUT"}


def test_request_id_is_echoed_or_generated(grantd):
    r = grantd.request("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    r1 = grantd.request("GET", "/healthz")
    r2 = grantd.request("GET", "/nope")
    assert r1.headers["X-Request-Id"] and r2.headers["X-Request-Id"]
    assert r1.headers["X-Request-Id"] != r2.headers["X-Request-Id"]
    r = grantd.fulfill("player-1", "pg_gold_100", "t-rid", headers={"X-Request-Id": "prime-req-9"})
    assert r.headers["X-Request-Id"] == "prime-req-9"


def raw_exchange(g, head, timeout=5):
    """Sends only `head` on a fresh connection; returns what comes back."""
    import socket
    with socket.create_connection(("127.0.0.1", g.port), timeout=timeout) as s:
        s.sendall(head.encode())
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return reply
            reply += chunk
            if b"\r\n\r\n" in reply and reply.rstrip().endswith(b"}"):
                return reply


@pytest.mark.parametrize("auth,status", [(True, 413), (False, 401)])
def test_early_error_answers_a_client_waiting_for_100_continue(grantd, auth, status):
    """curl and others send "Expect: 100-continue" for large bodies: the
    error must come before the body is asked for, not a 100 then a close."""
    head = (f"POST {FULFILL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000000\r\n"
            "Expect: 100-continue\r\n"
            + (f"Authorization: Bearer {grantd.prime_key}\r\n" if auth else "")
            + "\r\n")
    reply = raw_exchange(grantd, head)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode()), reply[:200]
    assert b"100 Continue" not in reply
    assert grantd.fulfill("player-1", "pg_gold_100", "t-after-expect").status_code == 200
