"""The outbox as operators see it: dead deliveries are listed over HTTP
(scope operator) and on the command line, counted in /metrics, and given
another chance by an operator call that delivers them."""
import pytest

from pull_util import (TWITCH_GOLD, link, outbox_rows, pull_grantd, sync,
                       wait_for)

USER = "25009227"


@pytest.fixture
def dead_report(make_grantd, fake_twitch):
    """grantd with one Twitch report given up after 2 attempts."""
    g = pull_grantd(make_grantd, fake_twitch, config={
        "outbox": {"max_attempts": 2}})
    g.ops_key = g.create_key("ops", "operator")
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    fake_twitch.fail("/helix/entitlements/drops", 503, times=None,
                     method="PATCH")
    sync(g)
    wait_for(lambda: [r[2] for r in outbox_rows(g, "report.twitch")] ==
             ["dead"], what="a dead report")
    return g, drop


def test_dead_delivery_is_listed_counted_and_retried(dead_report,
                                                     fake_twitch):
    g, drop = dead_report
    r = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                  params={"status": "dead"})
    assert r.status_code == 200, r.text
    [d] = r.json()["deliveries"]
    assert d["kind"] == "report.twitch" and d["key"] == drop
    assert d["status"] == "dead" and d["attempts"] == 2
    assert "HTTP 503" in d["last_error"]
    assert d["account_id"] == "player-1"
    assert d["payload"]["report"] == {"id": drop}
    metrics = g.request("GET", "/metrics", key=g.ops_key).text
    assert 'grantd_outbox_dead{kind="report.twitch"} 1' in metrics
    # the partner key cannot see or retry the outbox
    assert g.request("GET", "/v1/operator/outbox",
                     key=g.partner_key).status_code == 403
    fake_twitch.clear_faults()
    r = g.request("POST", f"/v1/operator/outbox/{d['id']}/retry",
                  key=g.ops_key)
    assert r.status_code == 200 and r.json() == {"retried": 1}
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the retried report")
    # recorded once Twitch's answer is back, a moment after Twitch has it
    wait_for(lambda: outbox_rows(g, "report.twitch")[0][2] == "delivered",
             what="the delivery recorded")
    assert g.balance("player-1", "gold") == 60
    # a delivered row is not retryable; an unknown one is not found
    r = g.request("POST", f"/v1/operator/outbox/{d['id']}/retry",
                  key=g.ops_key)
    assert r.status_code == 409 and r.json()["error"]["code"] == "NotRetryable"
    r = g.request("POST", "/v1/operator/outbox/999999/retry", key=g.ops_key)
    assert r.status_code == 409
    r = g.request("POST", "/v1/operator/outbox/nope/retry", key=g.ops_key)
    assert r.status_code == 404
    audit = g.cli("audit", "--config", str(g.config_path), "--json").stdout
    assert "outbox.retried" in audit


def test_command_line_lists_and_retries_dead(dead_report, fake_twitch):
    g, drop = dead_report
    out = g.cli("outbox", "list", "--config", str(g.config_path),
                "--status", "dead")
    assert out.returncode == 0 and drop in out.stdout and "dead" in out.stdout
    bad = g.cli("outbox", "list", "--config", str(g.config_path),
                "--status", "lost")
    assert bad.returncode == 2 and "--status" in bad.stderr
    fake_twitch.clear_faults()
    out = g.cli("outbox", "retry-dead", "--config", str(g.config_path))
    assert out.returncode == 0 and out.stdout.startswith("1 ")
    wait_for(lambda: fake_twitch.drop_status(drop) == "FULFILLED",
             what="the retried report")


def test_listing_filters_and_pages(dead_report):
    g, drop = dead_report
    r = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                  params={"limit": 1})
    body = r.json()
    assert r.status_code == 200 and len(body["deliveries"]) == 1
    assert body["next_before"] == body["deliveries"][0]["id"]
    rest = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                     params={"before": body["next_before"]}).json()
    ids = [d["id"] for d in body["deliveries"] + rest["deliveries"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    assert {d["kind"] for d in body["deliveries"] + rest["deliveries"]} == \
        {"report.twitch", "sync.twitch"}
    for params in ({"status": "lost"}, {"limit": 0}, {"limit": "x"},
                   {"before": -1}):
        r = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                      params=params)
        assert r.status_code == 400 and "error" in r.json(), params


def test_a_waiting_delivery_is_given_up_with_a_reason(make_grantd,
                                                      fake_twitch):
    """An operator gives up a delivery that keeps failing: it turns dead
    with the reason, is audited, and is no longer tried; a dead or unknown
    one cannot be given up; the body is checked."""
    g = pull_grantd(make_grantd, fake_twitch, config={
        "outbox": {"initial_backoff_ms": 60000, "max_backoff_ms": 60000}})
    g.ops_key = g.create_key("ops", "operator")
    link(g, "twitch", USER)
    drop = fake_twitch.add_drop(USER, TWITCH_GOLD)
    fake_twitch.fail("/helix/entitlements/drops", 503, times=None,
                     method="PATCH")
    sync(g)
    wait_for(lambda: [r[3] for r in outbox_rows(g, "report.twitch")] == [1],
             what="a failed first attempt")
    [d] = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                    params={"status": "pending"}).json()["deliveries"]
    path = f"/v1/operator/outbox/{d['id']}/give-up"
    for body in ({}, {"reason": ""}, {"reason": "x", "other": 1}, [1]):
        r = g.request("POST", path, key=g.ops_key, json=body)
        assert r.status_code == 400, (body, r.text)
    assert g.request("POST", path, key=g.partner_key,
                     json={"reason": "x"}).status_code == 403
    r = g.request("POST", path, key=g.ops_key,
                  json={"reason": "the drop was refunded"})
    assert r.status_code == 200 and r.json() == {"given_up": 1}, r.text
    [row] = g.request("GET", "/v1/operator/outbox", key=g.ops_key,
                      params={"status": "dead"}).json()["deliveries"]
    assert row["id"] == d["id"] and row["key"] == drop
    assert "the drop was refunded" in row["last_error"]
    again = g.request("POST", path, key=g.ops_key, json={"reason": "again"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "NotPending"
    r = g.request("POST", "/v1/operator/outbox/nope/give-up", key=g.ops_key,
                  json={"reason": "x"})
    assert r.status_code == 404
    audit = g.cli("audit", "--config", str(g.config_path), "--json").stdout
    assert "outbox.given_up" in audit and "the drop was refunded" in audit
