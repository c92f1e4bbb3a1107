"""Twitch Drops pulled by grantd: CLAIMED drops of a linked user are granted
once through the catalog, marked FULFILLED through the outbox, and the
rest of Helix's behaviour (paging, token expiry, rate limits, per-id
statuses) is handled."""
import pytest

from pull_util import (TWITCH_GEMS, TWITCH_GOLD, by_provider, link,
                       outbox_rows, pull_grantd, sync, wait_for)

USER = "25009227"


def test_sync_grants_linked_drops_once_and_reports_them(make_grantd,
                                                        fake_twitch):
    g = pull_grantd(make_grantd, fake_twitch)
    gold = fake_twitch.add_drop(USER, TWITCH_GOLD)
    gems = fake_twitch.add_drop(USER, TWITCH_GEMS)
    other = fake_twitch.add_drop("99999", TWITCH_GOLD)
    link(g, "twitch", USER)
    answer = sync(g)
    ok, bad = by_provider(answer, "twitch")
    assert bad == []
    assert {(f["provider_entitlement_id"], f["provider_item_id"]) for f in ok} \
        == {(gold, TWITCH_GOLD), (gems, TWITCH_GEMS)}
    assert all(f["fulfillment_id"].startswith("f_") for f in ok)
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5
    wait_for(lambda: fake_twitch.drop_status(gold) == "FULFILLED" and
             fake_twitch.drop_status(gems) == "FULFILLED", what="reports")
    assert fake_twitch.drop_status(other) == "CLAIMED"
    history = g.history("player-1")
    assert {(h["provider_id"], h["external_id"]) for h in history} == \
        {("twitch", gold), ("twitch", gems)}
    # a second sync: Twitch no longer lists them, nothing more is granted
    again = sync(g)
    assert again == {"fulfilled": [], "unfulfilled": []}
    assert g.balance("player-1", "gold") == 60
    assert g.balance("player-1", "gems") == 5
