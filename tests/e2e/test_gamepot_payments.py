"""GAMEPOT external payments: POST /v1/accounts/{id}/gamepot/external-payments
records the payment with GAMEPOT's external payment API (the loopback fake),
then grants the product exactly once, keyed "external:<transaction_id>"."""
import threading
import time
from pathlib import Path

import pytest

from conftest import ready
from fakes.fixtures import fake_gamepot  # noqa: F401
from fakes.gamepot import PURCHASE_PATH

CATALOG = Path(__file__).resolve().parent / "catalog_gamepot.json"
PLAYER = "player-1"


def start(make_grantd, fake, **gp):
    cfg = fake.grantd_config()
    cfg.update(gp)
    return ready(make_grantd(catalog=CATALOG, config={"gamepot": cfg}))


@pytest.fixture
def g(make_grantd, fake_gamepot):
    return start(make_grantd, fake_gamepot)


def body(tid="T-1", product="com.game.gold100", **extra):
    b = {"store": "tpay", "product_id": product, "transaction_id": tid,
         "currency": "KRW", "price": 1000, "payment_id": "prepaid",
         "unique_id": "u-1"}
    b.update(extra)
    return {k: v for k, v in b.items() if v is not None}


def pay(g, account=PLAYER, status=None, json=None, **kw):
    r = g.request("POST", f"/v1/accounts/{account}/gamepot/external-payments",
                  key=g.partner_key, json=body(**kw) if json is None else json)
    if status is not None:
        assert r.status_code == status, r.text
    return r


def error_code(r):
    return r.json()["error"]["code"]


# ---- success ------------------------------------------------------------

def test_payment_is_recorded_and_granted(g, fake_gamepot):
    r = pay(g, status=201)
    answer = r.json()
    assert answer["outcome"] == "granted"
    assert answer["fulfillment_id"]
    assert answer["account_id"] == PLAYER
    assert answer["product_id"] == "com.game.gold100"
    assert answer["transaction_id"] == "T-1"
    assert answer["gamepot"] == {"status": 1, "message": ""}
    assert g.balance(PLAYER, "gold") == 100
    [rec] = g.history(PLAYER)
    assert rec["provider_id"] == "gamepot"
    assert rec["external_id"] == "external:T-1"
    assert rec["provider_item_id"] == "com.game.gold100"
    assert rec["provider_entitlement_record_status"] == "completed"
    assert fake_gamepot.purchases() == [{
        "projectId": fake_gamepot.project_id, "store": "tpay",
        "productId": "com.game.gold100", "transactionId": "T-1",
        "memberId": PLAYER, "currency": "KRW", "price": 1000,
        "paymentId": "prepaid", "uniqueId": "u-1"}]
    [call] = fake_gamepot.calls_to(PURCHASE_PATH, "POST")
    assert call.header("x-api-key") == fake_gamepot.api_key
    assert call.content_type == "application/json"


def test_repeat_replays_without_a_second_charge(g, fake_gamepot):
    first = pay(g, status=201).json()
    for _ in range(2):
        again = pay(g, status=200).json()
        assert again["outcome"] == "replayed"
        assert again["fulfillment_id"] == first["fulfillment_id"]
        assert again["gamepot"]["status"] == -5
    assert len(fake_gamepot.purchases()) == 1
    assert fake_gamepot.purchase_results() == [("T-1", 1), ("T-1", -5),
                                               ("T-1", -5)]
    assert g.balance(PLAYER, "gold") == 100
    assert len(g.history(PLAYER)) == 1


def test_transaction_gamepot_already_holds_is_granted(g, fake_gamepot):
    # -5 on the first call grantd sees (GAMEPOT recorded it, the answer
    # was lost): the payment is GAMEPOT's, so grantd grants it
    fake_gamepot.fail_purchase(-5)
    answer = pay(g, status=201).json()
    assert answer["outcome"] == "granted"
    assert answer["gamepot"]["status"] == -5
    assert fake_gamepot.purchases() == []
    assert g.balance(PLAYER, "gold") == 100


def test_concurrent_identical_calls_grant_once(g, fake_gamepot):
    results = []

    def one():
        results.append(pay(g).status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(results) == [200] * 5 + [201]
    assert len(fake_gamepot.purchases()) == 1
    assert g.balance(PLAYER, "gold") == 100


def test_prices_are_sent_as_numbers(g, fake_gamepot):
    pay(g, tid="T-real", price=9.99, status=201)
    pay(g, tid="T-whole", price=1000.0, status=201)
    pay(g, tid="T-zero", price=0, unique_id=None, status=201)
    assert fake_gamepot.purchase("T-real")["price"] == 9.99
    whole = fake_gamepot.purchase("T-whole")["price"]
    assert whole == 1000 and isinstance(whole, int)
    assert fake_gamepot.purchase("T-zero")["uniqueId"] == ""
    # 1000.0 and 1000 are the same payment
    assert pay(g, tid="T-whole", price=1000, status=200).json()[
        "outcome"] == "replayed"


def test_long_transaction_id_is_kept_as_its_digest(g, fake_gamepot):
    tid = "t" * 512
    pay(g, tid=tid, status=201)
    pay(g, tid=tid, status=200)
    [rec] = g.history(PLAYER)
    assert rec["external_id"].startswith("external:sha256:")
    assert fake_gamepot.purchase(tid)["transactionId"] == tid
    assert g.balance(PLAYER, "gold") == 100


def test_key_is_apart_from_the_purchase_webhook(make_grantd, fake_gamepot):
    secret = "webhook-secret-0123456789abcdef"
    g = start(make_grantd, fake_gamepot, webhook_secrets=[secret])
    r = g.request("GET", f"/v1/gamepot/{secret}/purchase", params={
        "userId": PLAYER, "projectId": fake_gamepot.project_id,
        "productId": "com.game.gold100", "transactionId": "T-1"})
    assert r.json() == {"status": 1, "message": ""}
    pay(g, status=201)
    ids = sorted(rec["external_id"] for rec in g.history(PLAYER))
    assert ids == ["T-1", "external:T-1"]


# ---- GAMEPOT's refusals ---------------------------------------------------

@pytest.mark.parametrize("code, status, error", [
    (-1, 400, "GamepotMissingData"),
    (-2, 400, "GamepotInvalidPrice"),
    (-3, 400, "GamepotInvalidProject"),
    (-4, 400, "GamepotNotSupported"),
    (-6, 502, "GamepotDatabaseError"),
])
def test_gamepot_error_codes(g, fake_gamepot, code, status, error):
    before = g.snapshot()
    fake_gamepot.fail_purchase(code)
    r = pay(g, status=status)
    assert error_code(r) == error
    assert f"GAMEPOT status {code}" in r.json()["error"]["message"]
    assert g.snapshot() == before
    assert fake_gamepot.purchases() == []
    # the same call succeeds once GAMEPOT does
    assert pay(g, status=201).json()["gamepot"]["status"] == 1
    assert g.balance(PLAYER, "gold") == 100


def test_real_refusals_from_the_fake(make_grantd, fake_gamepot):
    # -3 and -4 as GAMEPOT itself decides them, not forced
    fake_gamepot.thirdparty_enabled = False
    g = start(make_grantd, fake_gamepot)
    assert error_code(pay(g, status=400)) == "GamepotNotSupported"
    fake_gamepot.thirdparty_enabled = True
    fake_gamepot.project_id = "another-project"
    assert error_code(pay(g, status=400)) == "GamepotInvalidProject"
    assert g.balance(PLAYER, "gold") == 0


@pytest.mark.parametrize("fault, error", [
    (lambda f: f.fail(PURCHASE_PATH, 503), "GamepotUnavailable"),
    (lambda f: f.fail(PURCHASE_PATH, 500), "GamepotUnavailable"),
    (lambda f: f.disconnect(PURCHASE_PATH), "GamepotUnavailable"),
    (lambda f: f.garbage(PURCHASE_PATH), "GamepotBadAnswer"),
    (lambda f: f.fail(PURCHASE_PATH, 200, body={"status": "1"}),
     "GamepotBadAnswer"),
    (lambda f: f.fail(PURCHASE_PATH, 200, body={"status": 7}),
     "GamepotBadAnswer"),
    (lambda f: f.fail(PURCHASE_PATH, 404), "GamepotBadAnswer"),
])
def test_gamepot_failures_grant_nothing(g, fake_gamepot, fault, error):
    before = g.snapshot()
    fault(fake_gamepot)
    assert error_code(pay(g, status=502)) == error
    assert g.snapshot() == before
    assert pay(g, status=201).json()["outcome"] == "granted"


def test_gamepot_timeout(make_grantd, fake_gamepot):
    g = start(make_grantd, fake_gamepot, timeout_ms=300)
    fake_gamepot.delay(PURCHASE_PATH, 2, times=1)
    t0 = time.monotonic()
    r = pay(g, status=502)
    assert time.monotonic() - t0 < 1.8
    assert error_code(r) == "GamepotUnavailable"
    assert "300 ms" in r.json()["error"]["message"]
    assert g.balance(PLAYER, "gold") == 0
    # GAMEPOT may have recorded it after all: the same call finishes it
    deadline = time.monotonic() + 5
    while not fake_gamepot.purchases() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pay(g, status=201).json()["gamepot"]["status"] == -5
    assert len(fake_gamepot.purchases()) == 1
    assert g.balance(PLAYER, "gold") == 100


def test_gamepot_unreachable(make_grantd, fake_gamepot):
    g = start(make_grantd, fake_gamepot, api_base="http://127.0.0.1:9")
    r = pay(g, status=502)
    assert error_code(r) == "GamepotUnavailable"
    assert g.balance(PLAYER, "gold") == 0


def test_wrong_api_key(make_grantd, fake_gamepot):
    g = start(make_grantd, fake_gamepot, api_key="not-the-key")
    r = pay(g, status=502)
    assert error_code(r) == "GamepotKeyRefused"
    assert "not-the-key" not in r.text
    assert fake_gamepot.purchases() == []


# ---- refused before GAMEPOT is called -----------------------------------

@pytest.mark.parametrize("doc, words", [
    ({**body(), "extra": 1}, "unknown field \"extra\""),
    ({k: v for k, v in body().items() if k != "store"}, "store: is required"),
    ({k: v for k, v in body().items() if k != "price"}, "price: is required"),
    ({k: v for k, v in body().items() if k != "currency"},
     "currency: is required"),
    (body(store=""), "store: must not be empty"),
    (body(transaction_id=12), "transaction_id: must be a string"),
    ({**body(), "product_id": None}, "product_id: must be a string"),
    (body(price="1000"), "price: must be a number"),
    (body(price=True), "price: must be a number"),
    (body(price=-1), "price: must not be negative"),
    (body(price=-0.5), "price: must be a finite number"),
    (body(store="s" * 65), "store: must be at most 64 characters"),
    (body(currency="c" * 65), "currency: must be at most 64"),
    (body(payment_id="p" * 65), "payment_id: must be at most 64"),
    (body(product_id="p" * 257), "product_id: must be at most 256"),
    (body(tid="t" * 513), "transaction_id: must be at most 512"),
    (body(unique_id="u" * 513), "unique_id: must be at most 512"),
    (body(tid="T\n1"), "transaction_id: must not contain control"),
    ([body()], "body: must be a JSON object"),
])
def test_bad_bodies(g, fake_gamepot, doc, words):
    before = g.snapshot()
    r = pay(g, status=400, json=doc)
    assert error_code(r) == "InvalidRequest"
    assert words in r.json()["error"]["message"]
    assert g.snapshot() == before
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


def test_malformed_json_and_content_type(g, fake_gamepot):
    path = f"/v1/accounts/{PLAYER}/gamepot/external-payments"
    r = g.request("POST", path, key=g.partner_key, data=b'{"store": ',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_code(r) == "InvalidRequest"
    r = g.request("POST", path, key=g.partner_key, data=b'{"store": "a", '
                  b'"store": "b"}', headers={"Content-Type":
                                             "application/json"})
    assert r.status_code == 400
    r = g.request("POST", path, key=g.partner_key, data=b"store=x",
                  headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert g.request("POST", path, json=body()).status_code == 401
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


def test_multibyte_lengths_count_characters(g, fake_gamepot):
    # GAMEPOT's maximum lengths are in characters: 64 Hangul syllables fit
    pay(g, store="가" * 64, status=201)
    assert fake_gamepot.purchase("T-1")["store"] == "가" * 64
    r = pay(g, tid="T-2", store="가" * 65, status=400)
    assert "store: must be at most 64 characters" in r.text


def test_unknown_product(g, fake_gamepot):
    r = pay(g, product="com.game.nosuch", status=400)
    assert error_code(r) == "UnknownProduct"
    assert "com.game.nosuch" in r.json()["error"]["message"]
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


def test_unknown_or_inactive_account(g, fake_gamepot):
    assert error_code(pay(g, account="nobody", status=404)) == \
        "AccountNotFound"
    pay(g, account="bad%01account", status=400)
    assert g.put_account(PLAYER, "suspended").status_code == 200
    r = pay(g, status=409)
    assert error_code(r) == "AccountStateError"
    assert "suspended" in r.json()["error"]["message"]
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


def test_not_configured_without_api_key(make_grantd, fake_gamepot):
    g = start(make_grantd, fake_gamepot, api_key="")
    r = pay(g, status=503)
    assert error_code(r) == "GamepotNotConfigured"
    assert "gamepot.api_key" in r.json()["error"]["message"]
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


def test_not_configured_without_project_id(make_grantd, fake_gamepot):
    g = start(make_grantd, fake_gamepot, project_id="")
    r = pay(g, status=503)
    assert "gamepot.project_id" in r.json()["error"]["message"]
    assert fake_gamepot.calls_to(PURCHASE_PATH) == []


# ---- conflicts and the grant failing after GAMEPOT recorded the payment -

def test_reused_transaction_id_with_another_body_conflicts(g, fake_gamepot):
    pay(g, status=201)
    assert g.put_account("player-2").status_code == 201
    before = g.snapshot()
    for other in ({"product": "com.game.dragon"}, {"price": 2000},
                  {"store": "other"}, {"unique_id": "u-2"}):
        r = pay(g, status=409, **other)
        assert error_code(r) == "TransactionConflict"
    assert error_code(pay(g, account="player-2", status=409)) == \
        "TransactionConflict"
    assert g.snapshot() == before
    assert len(fake_gamepot.purchases()) == 1


def test_grant_failing_after_gamepot_recorded_is_finished_by_a_retry(
        g, fake_gamepot):
    # The account is suspended while GAMEPOT records the payment: GAMEPOT
    # holds it, the grant is refused. Once the account is active again, the
    # same call grants it (GAMEPOT answers -5) and records no second charge.
    fake_gamepot.delay(PURCHASE_PATH, 1.0, times=1)
    first = []
    t = threading.Thread(target=lambda: first.append(pay(g)))
    t.start()
    deadline = time.monotonic() + 5
    while not fake_gamepot.calls_to(PURCHASE_PATH) and \
            time.monotonic() < deadline:
        time.sleep(0.01)
    assert g.put_account(PLAYER, "suspended").status_code == 200
    t.join(timeout=10)
    [r] = first
    assert r.status_code == 409, r.text
    assert error_code(r) == "AccountStateError"
    assert "GAMEPOT holds the payment" in r.json()["error"]["message"]
    assert len(fake_gamepot.purchases()) == 1
    assert g.balance(PLAYER, "gold") == 0
    g.wait_log("gamepot_payment_not_granted")
    # another body under the same transaction_id still conflicts
    assert g.put_account(PLAYER, "active").status_code == 200
    assert error_code(pay(g, product="com.game.dragon", status=409)) == \
        "TransactionConflict"
    answer = pay(g, status=201).json()
    assert answer["outcome"] == "granted"
    assert answer["gamepot"]["status"] == -5
    assert len(fake_gamepot.purchases()) == 1
    assert g.balance(PLAYER, "gold") == 100
    [rec] = g.history(PLAYER)
    assert rec["provider_entitlement_record_status"] == "completed"
