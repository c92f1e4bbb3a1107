"""Steam entitlements pulled by grantd: inventory items of a linked
SteamID64 are granted with their quantity and consumed through the outbox
with a requestid derived from the fulfilment (so a retry is replayed, never
repeated); DLC the player owns for good is granted once per account; 64-bit
ids survive exactly; failures grant nothing; the key is never logged."""
import pytest

from pull_util import (STEAM_EMOTE, STEAM_FROST_APP, STEAM_GOLD, by_provider,
                       link, outbox_rows, pull_grantd, sync, wait_for)

STEAMID = "76561197960287930"
UNMAPPED = "99999"                 # an item definition in no catalog entry
DLC_ID = f"app:{STEAM_FROST_APP}:player-1"

FULFILLED_KEYS = {"provider_id", "provider_item_id", "provider_entitlement_id",
                  "fulfillment_id"}
UNFULFILLED_KEYS = {"provider_id", "provider_item_id",
                    "provider_entitlement_id", "reason"}
UNAVAILABLE = {"fulfilled": [], "unfulfilled": [{
    "provider_id": "steam", "provider_item_id": None,
    "provider_entitlement_id": None, "reason": "ProviderUnavailable"}]}


@pytest.fixture
def steam(fake_steam):
    """The Steam fake with the catalog's DLC app among the publisher's apps
    (CheckAppOwnership refuses apps of other publishers)."""
    fake_steam.publisher_appids.add(STEAM_FROST_APP)
    return fake_steam


def linked(g):
    """Links player-1 to STEAMID and waits for the background sync the
    link queues, so the tests' own syncs and faults meet no other caller."""
    link(g, "steam", STEAMID)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "sync.steam")] ==
             ["delivered"], what="the link's background sync")


def assert_shape(answer):
    assert set(answer) == {"fulfilled", "unfulfilled"}
    assert all(set(f) == FULFILLED_KEYS for f in answer["fulfilled"])
    assert all(set(u) == UNFULFILLED_KEYS for u in answer["unfulfilled"])


def requestid(fulfillment_id):
    """The requestid grantd derives from a fulfilment id: its 64-bit value,
    in decimal."""
    assert fulfillment_id.startswith("f_") and len(fulfillment_id) == 18
    return str(int(fulfillment_id[2:], 16))


def instanced(g, catalog_id):
    return [i for i in g.inventory("player-1")["instanced"]
            if i["catalog_id"] == catalog_id]


def reports(g):
    return [r[2] for r in outbox_rows(g, "report.steam")]


def test_item_is_granted_with_its_quantity_and_consumed_once(make_grantd,
                                                             steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=3)
    assert int(gold) > 2 ** 53          # a double would round it
    answer = sync(g)
    assert_shape(answer)
    ok, bad = by_provider(answer, "steam")
    assert bad == []
    [f] = ok
    assert (f["provider_item_id"], f["provider_entitlement_id"]) == \
        (STEAM_GOLD, gold)
    assert g.balance("player-1", "gold") == 3 * 60
    wait_for(lambda: steam.quantity(gold) == 0, what="the consume")
    [call] = steam.consume_calls
    assert (call.steamid, call.itemid, call.quantity, call.outcome) == \
        (STEAMID, gold, "3", "consumed")
    assert call.requestid == requestid(f["fulfillment_id"])
    assert call.params["appid"] == str(steam.appid)
    [record] = g.history("player-1")
    assert (record["provider_id"], record["external_id"],
            record["provider_item_id"], record["fulfillment_id"],
            record["provider_entitlement_record_status"]) == \
        ("steam", gold, STEAM_GOLD, f["fulfillment_id"], "completed")
    wait_for(lambda: reports(g) == ["delivered"], what="the row delivered")
    # consumed: Steam no longer lists it, so nothing more is granted
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 3 * 60
    assert len(steam.consume_calls) == 1
    assert len(g.history("player-1")) == 1


def test_items_and_dlc_together(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    emote = steam.add_item(STEAMID, STEAM_EMOTE)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=2)
    steam.set_owns_app(STEAMID, STEAM_FROST_APP)
    steam.clear_calls()
    steam.delay("/I", 0.3, times=2, method="GET")
    ok, bad = by_provider(sync(g), "steam")
    assert bad == []
    assert {(f["provider_item_id"], f["provider_entitlement_id"])
            for f in ok} == {(STEAM_EMOTE, emote), (STEAM_GOLD, gold),
                             (str(STEAM_FROST_APP), DLC_ID)}
    # the inventory and the ownership were asked at once: the second call
    # arrived while the first was still being answered
    inventory, ownership = (
        steam.calls_to("/IInventoryService/GetInventory", "GET"),
        steam.calls_to("/ISteamUser/CheckAppOwnership", "GET"))
    assert len(inventory) == len(ownership) == 1
    assert abs(inventory[0].time - ownership[0].time) < 0.25
    assert g.balance("player-1", "gold") == 120
    assert len(instanced(g, "emote_wave")) == 1
    assert len(instanced(g, "skin_frost")) == 1
    wait_for(lambda: steam.quantity(emote) == 0 and steam.quantity(gold) == 0,
             what="both consumes")
    assert sorted((c.itemid, c.quantity, c.outcome)
                  for c in steam.consume_calls) == \
        sorted([(emote, "1", "consumed"), (gold, "2", "consumed")])
    assert len({c.requestid for c in steam.consume_calls}) == 2


def test_failed_consume_is_retried_with_the_same_requestid(make_grantd,
                                                           steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=2)
    steam.fail("/IInventoryService/ConsumeItem", 500, method="POST")
    ok, _ = by_provider(sync(g), "steam")
    [f] = ok
    wait_for(lambda: steam.quantity(gold) == 0, what="the retried consume")
    posts = steam.calls_to("/IInventoryService/ConsumeItem", "POST")
    assert [p.status for p in posts] == [500, 200]
    assert [p.form()["requestid"] for p in posts] == \
        [requestid(f["fulfillment_id"])] * 2
    [call] = steam.consume_calls        # the 500 never reached Steam's logic
    assert (call.itemid, call.quantity, call.outcome) == (gold, "2",
                                                          "consumed")
    wait_for(lambda: reports(g) == ["delivered"], what="the row delivered")
    assert outbox_rows(g, "report.steam")[0][3] == 2
    assert g.balance("player-1", "gold") == 120
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 120
    assert len(g.history("player-1")) == 1


def test_lost_consume_answer_is_replayed_not_repeated(make_grantd, steam):
    # the first consume is carried out but its answer comes after grantd
    # gave up waiting: the retry's requestid makes Steam replay it
    g = pull_grantd(make_grantd, steam,
                    config={"providers": {"steam": {"timeout_ms": 300}}})
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=5)
    steam.delay("/IInventoryService/ConsumeItem", 0.6, times=1,
                method="POST")
    ok, _ = by_provider(sync(g), "steam")
    [f] = ok
    wait_for(lambda: len(steam.consume_calls) == 2, what="the retry")
    calls = steam.consume_calls
    assert sorted(c.outcome for c in calls) == ["consumed", "replayed"]
    assert {c.requestid for c in calls} == {requestid(f["fulfillment_id"])}
    assert steam.quantity(gold) == 0
    wait_for(lambda: reports(g) == ["delivered"], what="the row delivered")
    assert g.balance("player-1", "gold") == 300
    assert len(g.history("player-1")) == 1


def test_refused_consume_is_given_up(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=4)
    # the player spends two before grantd's consume reaches Steam
    steam.delay("/IInventoryService/ConsumeItem", 1.0, times=1,
                method="POST")
    sync(g)
    with steam.lock:
        steam._items[gold].quantity = 2
    wait_for(lambda: reports(g) == ["dead"], what="the row given up")
    [(_, dedupe, _, attempts, error)] = outbox_rows(g, "report.steam")
    assert (dedupe, attempts) == (gold, 1)
    assert "refused" in error and gold in error
    assert [c.outcome for c in steam.consume_calls] == ["failed"]
    assert steam.quantity(gold) == 2
    assert g.balance("player-1", "gold") == 240


def test_owned_dlc_is_granted_once_and_never_consumed(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    steam.set_owns_app(STEAMID, STEAM_FROST_APP)
    answer = sync(g)
    assert_shape(answer)
    ok, bad = by_provider(answer, "steam")
    assert bad == []
    [f] = ok
    assert (f["provider_item_id"], f["provider_entitlement_id"]) == \
        (str(STEAM_FROST_APP), DLC_ID)
    assert len(instanced(g, "skin_frost")) == 1
    checks = steam.calls_to("/ISteamUser/CheckAppOwnership/v4", "GET")
    assert {(c.query["appid"], c.query["steamid"]) for c in checks} == \
        {(str(STEAM_FROST_APP), STEAMID)}
    # still owned: the second sync finds it granted already
    again, bad = by_provider(sync(g), "steam")
    assert bad == []
    assert [(x["provider_entitlement_id"], x["fulfillment_id"])
            for x in again] == [(DLC_ID, f["fulfillment_id"])]
    assert len(instanced(g, "skin_frost")) == 1
    [record] = g.history("player-1")
    assert (record["external_id"], record["provider_item_id"],
            record["provider_entitlement_record_status"]) == \
        (DLC_ID, str(STEAM_FROST_APP), "completed")
    assert steam.consume_calls == []
    assert outbox_rows(g, "report.steam") == []


def test_dlc_not_owned_for_good_grants_nothing(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}    # never owned
    steam.set_owns_app(STEAMID, STEAM_FROST_APP, owns=False)
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    # lent through Family Sharing: owned, but not for good
    steam.set_owns_app(STEAMID, STEAM_FROST_APP, permanent=False,
                       ownersteamid="76561197960287931")
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert instanced(g, "skin_frost") == []
    assert g.history("player-1") == []


def test_unmapped_itemdefid_is_unknown_and_not_consumed(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    stray = steam.add_item(STEAMID, UNMAPPED, quantity=2)
    answer = sync(g)
    assert_shape(answer)
    assert answer == {"fulfilled": [], "unfulfilled": [{
        "provider_id": "steam", "provider_item_id": UNMAPPED,
        "provider_entitlement_id": stray, "reason": "UnknownItem"}]}
    assert g.inventory("player-1")["stackables"] == []
    [record] = g.history("player-1")
    assert (record["external_id"], record["provider_entitlement_record_status"],
            record["error_code"]) == (stray, "failed", "UnknownItem")
    assert steam.quantity(stray) == 2
    assert steam.consume_calls == []
    assert outbox_rows(g, "report.steam") == []


@pytest.mark.parametrize("path", ["/IInventoryService/GetInventory",
                                  "/ISteamUser/CheckAppOwnership"])
def test_steam_down_grants_nothing(make_grantd, steam, path):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD)
    steam.set_owns_app(STEAMID, STEAM_FROST_APP)
    steam.fail(path, 500)
    assert sync(g) == UNAVAILABLE
    assert g.balance("player-1", "gold") == 0
    assert instanced(g, "skin_frost") == []
    assert g.history("player-1") == []
    assert steam.consume_calls == []
    [line] = g.wait_log("pull_fetch_failed")
    assert "HTTP 500" in line["msg"]
    # Steam is back: everything is granted once
    ok, bad = by_provider(sync(g), "steam")
    assert bad == []
    assert {f["provider_entitlement_id"] for f in ok} == {gold, DLC_ID}
    assert g.balance("player-1", "gold") == 60


def test_invalid_json_grants_nothing(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    steam.add_item(STEAMID, STEAM_GOLD)
    steam.garbage("/IInventoryService/GetInventory")
    assert sync(g) == UNAVAILABLE
    assert g.balance("player-1", "gold") == 0
    assert g.history("player-1") == []


def test_publisher_key_stays_out_of_logs(make_grantd, steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD)
    steam.fail("/IInventoryService/GetInventory", 403)
    assert sync(g) == UNAVAILABLE
    [line] = g.wait_log("pull_fetch_failed")
    assert line["msg"] == "steam: GetInventory: HTTP 403"
    # a refused key at ConsumeItem is retried: the operator can fix it
    steam.fail("/IInventoryService/ConsumeItem", 403, method="POST")
    sync(g)
    wait_for(lambda: steam.quantity(gold) == 0, what="the retried consume")
    wait_for(lambda: reports(g) == ["delivered"], what="the row delivered")
    assert outbox_rows(g, "report.steam")[0][3] == 2
    [retry] = g.wait_log("outbox_retry")
    assert (retry["kind"], retry["error"]) == \
        ("report.steam", "steam: ConsumeItem: HTTP 403")
    assert steam.publisher_key not in g.stderr_path.read_text()


def test_request_id_seen_for_another_item_is_given_up(make_grantd, steam):
    # two databases against the same app and player number their
    # fulfilments alike: the second one's request id was used by the first
    first = pull_grantd(make_grantd, steam, name="first")
    linked(first)
    old = steam.add_item(STEAMID, STEAM_GOLD)
    [f_old], _ = by_provider(sync(first), "steam")
    wait_for(lambda: steam.quantity(old) == 0, what="the first consume")
    first.stop()
    second = pull_grantd(make_grantd, steam, name="second")
    linked(second)
    new = steam.add_item(STEAMID, STEAM_GOLD, quantity=2)
    [f_new], _ = by_provider(sync(second), "steam")
    assert f_new["fulfillment_id"] == f_old["fulfillment_id"]
    wait_for(lambda: reports(second) == ["dead"], what="the row given up")
    error = outbox_rows(second, "report.steam")[0][4]
    assert "already used for another item" in error
    assert [(c.itemid, c.outcome) for c in steam.consume_calls] == \
        [(old, "consumed"), (new, "replayed")]
    assert steam.quantity(new) == 2
    # granted once all the same: the item still listed grants nothing more
    assert second.balance("player-1", "gold") == 120
    again, _ = by_provider(sync(second), "steam")
    assert [f["fulfillment_id"] for f in again] == [f_new["fulfillment_id"]]
    assert second.balance("player-1", "gold") == 120


def test_stack_above_one_grant_is_granted_a_grant_at_a_time(make_grantd,
                                                             steam):
    g = pull_grantd(make_grantd, steam)
    linked(g)
    gold = steam.add_item(STEAMID, STEAM_GOLD, quantity=2500)
    [f], _ = by_provider(sync(g), "steam")
    assert f["provider_entitlement_id"] == f"{gold}@2500"
    assert g.balance("player-1", "gold") == 1000 * 60
    wait_for(lambda: steam.quantity(gold) == 1500, what="the first consume")
    # what is left after a consume is a new entitlement
    [f], _ = by_provider(sync(g), "steam")
    assert f["provider_entitlement_id"] == f"{gold}@1500"
    assert g.balance("player-1", "gold") == 2000 * 60
    wait_for(lambda: steam.quantity(gold) == 500, what="the second consume")
    [f], _ = by_provider(sync(g), "steam")
    assert f["provider_entitlement_id"] == gold
    assert g.balance("player-1", "gold") == 2500 * 60
    wait_for(lambda: steam.quantity(gold) == 0, what="the last consume")
    assert [(c.quantity, c.outcome) for c in steam.consume_calls] == \
        [("1000", "consumed"), ("1000", "consumed"), ("500", "consumed")]
    assert len({c.requestid for c in steam.consume_calls}) == 3
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 2500 * 60
    assert len([h for h in g.history("player-1")
                if h["provider_id"] == "steam"]) == 3