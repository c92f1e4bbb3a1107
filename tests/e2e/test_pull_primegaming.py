"""Prime Gaming pulled by grantd: a player linked through Login with Amazon
has their FULFILL entitlements granted once through the catalog and each
reported fulfilled on its own call; the player's LWA tokens are refreshed
when they expire, a dead refresh token asks for a new link, and the tokens
are sealed at rest."""
import pytest
from fakes.primegaming import FakePrimeGaming
from link_util import (RETURN_TO, browser_link, link_grantd, links,
                       wait_background_sync)
from pull_util import (PG_GEMS, PG_GOLD, by_provider, link, outbox_rows,
                       sync, wait_for)

USER = "amzn1.account.AEXAMPLEPRIMEGAMINGUSER00001"


def linked(make_grantd, fake, **kw):
    """A grantd whose player-1 is linked to USER through the browser flow,
    its first (background) sync done."""
    g = link_grantd(make_grantd, fake, **kw)
    assert browser_link(g, "primegaming") == RETURN_TO + "?linked=primegaming"
    wait_background_sync(g, "primegaming")
    fake.clear_calls()
    return g


def fulfil_calls(fake):
    return [c.json()["FulfillmentStatusUpdates"]
            for c in fake.calls_to("/api/fulfill", "POST")]


def test_sync_grants_fulfill_entries_once_and_reports_each_alone(
        make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    gems = fake_primegaming.add_entitlement(USER, PG_GEMS)
    noop = fake_primegaming.add_entitlement(USER, PG_GOLD, "NOOP")
    other = fake_primegaming.add_entitlement("amzn1.account.SOMEONEELSE",
                                             PG_GOLD)
    ok, bad = by_provider(sync(g), "primegaming")
    assert bad == []
    assert {(f["provider_entitlement_id"], f["provider_item_id"]) for f in ok} \
        == {(gold, PG_GOLD), (gems, PG_GEMS)}
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5
    wait_for(lambda: fake_primegaming.fulfilled(gold) and
             fake_primegaming.fulfilled(gems), what="reports")
    assert not fake_primegaming.fulfilled(noop)
    assert not fake_primegaming.fulfilled(other)
    # one call per entitlement, each as Prime Gaming asks for it
    calls = fulfil_calls(fake_primegaming)
    assert sorted(u[0]["EntitlementId"] for u in calls) == sorted([gold, gems])
    for updates in calls:
        assert len(updates) == 1
        assert updates[0]["LastInstruction"] == "FULFILL"
        assert updates[0]["FulfillmentAddress"] == "player-1"
    for c in fake_primegaming.calls_to("/api/"):
        assert c.header("x-amz-access-token").startswith("Atza|")
    history = g.history("player-1")
    assert {(h["provider_id"], h["external_id"], h["provider_entitlement_id"])
            for h in history} == {("primegaming", gold, "gold-60"),
                                  ("primegaming", gems, "gems-5")}
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.primegaming")]
             == ["delivered", "delivered"], what="reports recorded")
    # Prime Gaming no longer lists them: nothing more is granted
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5
    assert len(fulfil_calls(fake_primegaming)) == 2


def test_an_unknown_sku_is_not_granted_nor_reported(make_grantd,
                                                    fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    odd = fake_primegaming.add_entitlement(USER, "pg_not_in_catalog")
    ok, bad = by_provider(sync(g), "primegaming")
    assert ok == []
    assert [(u["provider_entitlement_id"], u["reason"]) for u in bad] == \
        [(odd, "UnknownItem")]
    assert outbox_rows(g, "report.primegaming") == []
    assert not fake_primegaming.fulfilled(odd)


def test_an_expired_access_token_is_refreshed(make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.expire_tokens()
    ok, bad = by_provider(sync(g), "primegaming")
    assert bad == [] and [f["provider_entitlement_id"] for f in ok] == [gold]
    assert fake_primegaming.token_count("refresh_token") == 1
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="report")
    # the refreshed token was stored: the next sync needs no refresh
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert fake_primegaming.token_count("refresh_token") == 1
    assert links(g)[0]["state"] == "linked"
    assert g.balance("player-1", "gold") == 60


def test_a_401_for_an_expired_token_is_refreshed_too(make_grantd):
    with FakePrimeGaming(expired_token_status=401) as fake:
        g = linked(make_grantd, fake)
        gold = fake.add_entitlement(USER, PG_GOLD)
        fake.expire_tokens()
        ok, _ = by_provider(sync(g), "primegaming")
        assert [f["provider_entitlement_id"] for f in ok] == [gold]
        assert fake.token_count("refresh_token") == 1
        wait_for(lambda: fake.fulfilled(gold), what="report")
    fake.check()


def test_a_report_refreshes_an_expired_token(make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    # the report fails until the access token has expired under it
    fake_primegaming.fail("/api/fulfill", 503, times=None)
    sync(g)
    wait_for(lambda: any(r[3] >= 1 for r in
                         outbox_rows(g, "report.primegaming")),
             what="a failed report")
    fake_primegaming.expire_tokens()
    fake_primegaming.clear_faults()
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="report")
    assert fake_primegaming.token_count("refresh_token") == 1
    assert g.balance("player-1", "gold") == 60


def test_a_revoked_refresh_token_requires_a_new_link(make_grantd,
                                                     fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.revoke_refresh_tokens()
    fake_primegaming.expire_tokens()
    ok, bad = by_provider(sync(g), "primegaming")
    assert ok == []
    assert [(u["provider_entitlement_id"], u["reason"]) for u in bad] == \
        [(None, "RelinkRequired")]
    [l] = links(g)
    assert (l["external_id"], l["state"]) == (USER, "relink_required")
    assert g.balance("player-1", "gold") == 0
    # the provider is not asked again until the player links anew
    calls = len(fake_primegaming.calls)
    ok, bad = by_provider(sync(g), "primegaming")
    assert [u["reason"] for u in bad] == ["RelinkRequired"]
    assert len(fake_primegaming.calls) == calls
    # linking again in the browser brings it back, and the new link syncs
    assert browser_link(g, "primegaming") == RETURN_TO + "?linked=primegaming"
    assert links(g)[0]["state"] == "linked"
    wait_for(lambda: g.balance("player-1", "gold") == 60,
             what="the background sync of the new link")
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="report")


def test_a_link_without_tokens_requires_a_browser_link(make_grantd,
                                                       fake_primegaming):
    g = link_grantd(make_grantd, fake_primegaming)
    link(g, "primegaming", USER)        # by the backend: no LWA tokens
    ok, bad = by_provider(sync(g), "primegaming")
    assert [u["reason"] for u in bad] == ["RelinkRequired"]
    assert links(g)[0]["state"] == "relink_required"
    assert fake_primegaming.calls_to("/api/") == []


def test_a_fulfil_error_is_retried_and_nothing_is_granted_twice(
        make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.fulfill_error([gold])
    ok, _ = by_provider(sync(g), "primegaming")
    assert [f["provider_entitlement_id"] for f in ok] == [gold]
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="the retry")
    wait_for(lambda: [r[2:4] for r in outbox_rows(g, "report.primegaming")]
             == [("delivered", 2)], what="the report recorded")
    assert [u[0]["EntitlementId"] for u in fulfil_calls(fake_primegaming)] \
        == [gold, gold]
    assert sync(g) == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60
    assert len(g.history("player-1")) == 1


def test_an_entitlement_seen_again_before_its_report_is_not_granted_twice(
        make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.fulfill_error([gold], times=3)
    first, _ = by_provider(sync(g), "primegaming")
    again, _ = by_provider(sync(g), "primegaming")   # still listed
    assert [f["fulfillment_id"] for f in again] == \
        [f["fulfillment_id"] for f in first]
    assert g.balance("player-1", "gold") == 60
    wait_for(lambda: fake_primegaming.fulfilled(gold), what="report")
    assert g.balance("player-1", "gold") == 60


def test_an_unavailable_api_is_reported_and_retried_later(make_grantd,
                                                          fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    gold = fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.fail("/api/entitlements", 503)
    _, bad = by_provider(sync(g), "primegaming")
    assert [u["reason"] for u in bad] == ["ProviderUnavailable"]
    assert links(g)[0]["state"] == "linked"
    fake_primegaming.garbage("/api/entitlements")
    _, bad = by_provider(sync(g), "primegaming")
    assert [u["reason"] for u in bad] == ["ProviderUnavailable"]
    ok, _ = by_provider(sync(g), "primegaming")
    assert [f["provider_entitlement_id"] for f in ok] == [gold]


@pytest.mark.sqlite_only
def test_tokens_are_sealed_in_the_database(make_grantd, fake_primegaming):
    g = linked(make_grantd, fake_primegaming)
    fake_primegaming.add_entitlement(USER, PG_GOLD)
    fake_primegaming.expire_tokens()
    sync(g)                 # refreshes: both tokens show in the requests
    [refresh] = [c for c in fake_primegaming.calls_to("/auth/o2/token")
                 if c.form()["grant_type"] == "refresh_token"]
    refresh_token = refresh.form()["refresh_token"]
    access_tokens = {c.header("x-amz-access-token")
                     for c in fake_primegaming.calls_to("/api/")}
    assert refresh_token.startswith("Atzr|") and len(access_tokens) == 2
    with g.db() as db:
        [(blob,)] = db.execute("SELECT tokens FROM links").fetchall()
    assert blob and len(blob) > 40
    data = g.db_path.read_bytes()
    wal = g.db_path.with_name(g.db_path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    for secret in access_tokens | {refresh_token}:
        assert secret.encode() not in data
        assert secret.split("|", 1)[1].encode() not in data
    log = g.stderr_path.read_text()
    for secret in access_tokens | {refresh_token}:
        assert secret not in log
