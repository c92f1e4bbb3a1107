"""GAMEPOT's coupon and gift webhook: a player's coupon grants every item
or none, exactly once however often it is delivered; a gift to "all" is
stored once and reaches each account once, on its next fulfilment, sync
or inventory read, until it expires."""
import concurrent.futures
import json
import time
from pathlib import Path

import pytest

from conftest import ready

CATALOG = Path(__file__).resolve().parent / "catalog_gamepot.json"
SECRET = "s3cr3t-Webhook-Path-0123456789abcdef"
PROJECT = "e948e5bc-dccd-4729-b9b0-b547ae34b85d"
OK = {"status": 1, "message": ""}


@pytest.fixture
def g(make_grantd):
    return ready(make_grantd(catalog=CATALOG, config={"gamepot": {
        "project_id": PROJECT, "webhook_secrets": [SECRET]}}))


def items(*entries):
    return json.dumps([{"item_id": i, "store_item_id": "store-" + i,
                        "count": n} for i, n in entries])


def args(user="player-1", entries=(("gp-gem-10", 3), ("gp-potion", 2)),
         **extra):
    a = {"userId": user, "projectId": PROJECT, "platform": "android",
         "store": "google", "title": "Welcome", "content": "A gift",
         "target": "all" if user == "all" else user, "userData": "ud-1",
         "itemId": items(*entries)}
    a.update(extra)
    return {k: v for k, v in a.items() if v is not None}


def coupon(g, secret=SECRET, **kw):
    return g.request("GET", f"/v1/gamepot/{secret}/coupon", params=args(**kw))


def potions(g, account):
    return [i for i in g.inventory(account)["instanced"]
            if i["catalog_id"] == "potion"]


def failed(r, prefix):
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 0, body
    assert prefix in body["message"], body
    return body


# ---- a player's coupon -----------------------------------------------------

def test_coupon_grants_every_item_count_times(g):
    r = coupon(g)
    assert r.status_code == 200 and r.json() == OK
    assert g.balance("player-1", "gem") == 30      # 10 x 3
    assert len(potions(g, "player-1")) == 2        # 2 instances
    recs = sorted(g.history("player-1"), key=lambda r: r["external_id"])
    assert [r["provider_item_id"] for r in recs] == ["gp-gem-10", "gp-potion"]
    key = recs[0]["external_id"].rsplit("/", 1)[0]
    assert key.startswith("coupon:") and len(key) == 71
    assert [r["external_id"] for r in recs] == [key + "/0", key + "/1"]
    assert all(r["provider_id"] == "gamepot" for r in recs)
    assert all(r["provider_entitlement_record_status"] == "completed"
               for r in recs)


def test_redelivery_grants_nothing_more(g):
    assert coupon(g).json() == OK
    before = g.snapshot()
    for _ in range(3):
        assert coupon(g).json() == OK
    # the same fields in another order, and as a form-encoded POST body
    a = args()
    reordered = dict(reversed(list(a.items())))
    r = g.request("GET", f"/v1/gamepot/{SECRET}/coupon", params=reordered)
    assert r.json() == OK
    r = g.request("POST", f"/v1/gamepot/{SECRET}/coupon", data=a)
    assert r.json() == OK
    assert g.snapshot() == before
    assert g.balance("player-1", "gem") == 30


def test_redelivery_storm_grants_once(g):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        rs = list(pool.map(lambda _: coupon(g), range(48)))
    assert all(r.status_code == 200 and r.json() == OK for r in rs)
    assert g.balance("player-1", "gem") == 30
    assert len(potions(g, "player-1")) == 2


def test_any_other_field_is_another_coupon(g):
    assert coupon(g).json() == OK
    assert coupon(g, userData="ud-2").json() == OK
    assert g.balance("player-1", "gem") == 60


def test_unknown_item_grants_nothing(g):
    before = g.snapshot()
    r = coupon(g, entries=(("gp-gem-10", 1), ("gp-nosuch", 1)))
    body = failed(r, "UnknownItem")
    assert "itemId[1] gp-nosuch" in body["message"]
    assert g.snapshot() == before


def test_one_refused_item_refuses_the_whole_coupon(g):
    assert coupon(g, entries=(("gp-dragon", 1),)).json() == OK
    before = g.snapshot()
    r = coupon(g, entries=(("gp-gem-10", 5), ("gp-dragon", 1)))
    failed(r, "ContentAlreadyOwned")
    assert g.snapshot() == before
    assert g.balance("player-1", "gem") == 0


@pytest.mark.parametrize("bad, why", [
    ("not json", "itemId: not JSON"),
    ("{}", "itemId: must be an array"),
    ("[]", "itemId: must be an array"),
    ('["x"]', "itemId[0]: must be an object"),
    ('[{"count": 1}]', "itemId[0].item_id: required"),
    ('[{"item_id": 5, "count": 1}]', "itemId[0].item_id: must be a string"),
    ('[{"item_id": "gp-gem-10"}]', "itemId[0].count"),
    ('[{"item_id": "gp-gem-10", "count": 0}]', "itemId[0].count"),
    ('[{"item_id": "gp-gem-10", "count": 1001}]', "itemId[0].count"),
    ('[{"item_id": "gp-gem-10", "count": "2"}]', "itemId[0].count"),
    ('[{"item_id": "gp-gem-10", "count": 1.5}]', "itemId[0].count"),
    ('[{"item_id": "gp-gem-10", "count": 1, "count": 2}]', "itemId: not JSON"),
])
def test_bad_item_list_changes_nothing(g, bad, why):
    before = g.snapshot()
    failed(coupon(g, itemId=bad), why)
    assert g.snapshot() == before


def test_too_many_items_changes_nothing(g):
    before = g.snapshot()
    failed(coupon(g, entries=[("gp-gem-10", 1)] * 101), "itemId: must be")
    assert g.snapshot() == before


@pytest.mark.parametrize("field, value, why", [
    ("userId", None, "userId: required"),
    ("projectId", None, "projectId: required"),
    ("itemId", None, "itemId: required"),
    ("projectId", "another-project", "projectId: not this server's"),
    ("userId", "u" * 129, "userId: must be at most 128 bytes"),
    ("store", "s" * 65, "store: must be at most 64 bytes"),
    ("expireMs", "tomorrow", "expireMs: must be milliseconds"),
    ("expireMs", "-5", "expireMs: must be milliseconds"),
])
def test_bad_fields_change_nothing(g, field, value, why):
    before = g.snapshot()
    failed(coupon(g, **{field: value}), why)
    assert g.snapshot() == before


def test_wrong_secret_is_404_and_never_logged(g):
    before = g.snapshot()
    r = coupon(g, secret="not-the-secret")
    assert r.status_code == 404
    assert g.snapshot() == before
    assert coupon(g).json() == OK
    g.wait_log("request", count=2)
    with open(g.stderr_path) as f:
        text = f.read()
    assert SECRET not in text and "not-the-secret" not in text


def test_unknown_account_grants_nothing(g):
    before = g.snapshot()
    failed(coupon(g, user="nobody"), "UnknownAccount")
    assert g.snapshot() == before


# ---- a gift to every account -----------------------------------------------

def gift(g, expire_ms=None, **kw):
    if expire_ms is None:
        expire_ms = int(time.time() * 1000) + 3_600_000
    return coupon(g, user="all", expireMs=str(expire_ms), **kw)


def broadcasts(g):
    with g.db() as c:
        return c.execute("SELECT count(*) FROM broadcasts").fetchone()[0]


def test_gift_to_all_reaches_each_account_once(g):
    assert g.put_account("player-2").status_code == 201
    expire = int(time.time() * 1000) + 3_600_000
    r = gift(g, expire_ms=expire)
    assert r.status_code == 200 and r.json() == OK
    assert broadcasts(g) == 1
    for account in ("player-1", "player-2"):
        for _ in range(3):
            assert g.balance(account, "gem") == 30
            assert len(potions(g, account)) == 2
        recs = g.history(account)
        assert len(recs) == 2
        assert all(r["external_id"].startswith("gift:") for r in recs)
    # redelivered: still one broadcast, nothing more granted
    assert gift(g, expire_ms=expire).json() == OK
    assert broadcasts(g) == 1
    assert g.balance("player-1", "gem") == 30
    with g.db() as c:
        [(actor, detail)] = c.execute(
            "SELECT actor, detail FROM audit WHERE action = "
            "'gamepot.gift_broadcast'").fetchall()
    assert actor == "gamepot"
    assert json.loads(detail)["title"] == "Welcome"


def test_gift_redelivery_is_one_broadcast(g):
    expire = int(time.time() * 1000) + 3_600_000
    for _ in range(3):
        assert gift(g, expire_ms=expire).json() == OK
    assert broadcasts(g) == 1
    assert g.balance("player-1", "gem") == 30


def test_gift_reaches_an_account_on_its_next_fulfilment(g):
    assert gift(g).json() == OK
    assert g.put_account("player-3").status_code == 201
    r = g.request("GET", f"/v1/gamepot/{SECRET}/purchase", params={
        "userId": "player-3", "projectId": PROJECT,
        "productId": "com.game.gold100", "gamepotOrderId": "GPO-1"})
    assert r.json() == OK
    # the fulfilment's transaction carried the gift: read the database,
    # not the inventory route (which would deliver it too)
    with g.db() as c:
        gems = c.execute("SELECT amount FROM inventory_stackables WHERE "
                         "account_id = 'player-3' AND catalog_id = 'gem'"
                         ).fetchone()
    assert gems == (30,)
    assert g.balance("player-3", "gem") == 30


def test_gift_reaches_an_account_on_sync(g):
    assert gift(g).json() == OK
    r = g.request("POST", "/v1/accounts/player-1/entitlements/sync",
                  key=g.partner_key)
    assert r.status_code == 200, r.text
    with g.db() as c:
        n = c.execute("SELECT count(*) FROM broadcast_deliveries WHERE "
                      "account_id = 'player-1'").fetchone()[0]
    assert n == 1


def test_concurrent_reads_deliver_once(g):
    assert gift(g).json() == OK
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        rs = list(pool.map(lambda _: g.inventory("player-1"), range(40)))
    assert all(any(s["catalog_id"] == "gem" and s["amount"] == 30
                   for s in inv["stackables"]) for inv in rs)
    assert len(potions(g, "player-1")) == 2


def test_expired_gift_reaches_no_one(g):
    assert g.put_account("player-2").status_code == 201
    expire = int(time.time() * 1000) + 1500
    assert gift(g, expire_ms=expire).json() == OK
    assert g.balance("player-1", "gem") == 30     # before the expiry
    time.sleep(max(0, expire / 1000 - time.time()) + 0.2)
    assert g.balance("player-2", "gem") == 0      # after it
    assert g.history("player-2") == []


def test_gift_already_expired_is_refused(g):
    before = g.snapshot()
    failed(gift(g, expire_ms=int(time.time() * 1000) - 1000), "NotAvailable")
    assert g.snapshot() == before


def test_gift_with_unknown_item_is_refused(g):
    before = g.snapshot()
    failed(gift(g, entries=(("gp-nosuch", 1),)), "UnknownItem")
    assert g.snapshot() == before


def test_suspended_account_gets_the_gift_once_active(g):
    assert g.put_account("player-1", state="suspended").status_code == 200
    assert gift(g).json() == OK
    assert g.balance("player-1", "gem") == 0
    assert g.put_account("player-1", state="active").status_code == 200
    assert g.balance("player-1", "gem") == 30
    assert g.balance("player-1", "gem") == 30


def test_gift_survives_a_restart(g):
    assert gift(g).json() == OK
    g.restart()
    assert g.put_account("player-4").status_code == 201
    assert g.balance("player-4", "gem") == 30
