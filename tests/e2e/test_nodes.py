"""Several grantd nodes on one PostgreSQL database: the guarantees hold
across nodes (a duplicate storm split over two nodes grants once, a race
for a limited entry or a unique item has one winner, a node killed under
load loses nothing the other or it acknowledged), and keys made on one node
work on the other."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import ready
from invariants import check_ledger, completed_once
from test_guarantees import post, run_load

pytestmark = pytest.mark.postgres_only



def two_nodes(make_grantd):
    """Node a (keys made, player-1 created) and node b on a's database."""
    a = ready(make_grantd("a"), operator=True)
    b = make_grantd("b", share=a, migrate=False)
    b.prime_key, b.partner_key, b.ops_key = a.prime_key, a.partner_key, a.ops_key
    b.start()
    return a, b


def race(nodes, n, request_for):
    """n concurrent requests, alternating between the nodes; returns
    (status, body) for each."""
    barrier = threading.Barrier(n)

    def one(i):
        g = nodes[i % len(nodes)]
        with requests.Session() as s:
            barrier.wait(timeout=20)
            r = post(s, g, *request_for(i))
            return r.status_code, r.json()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_a_duplicate_storm_over_two_nodes_grants_once(make_grantd):
    a, b = two_nodes(make_grantd)
    results = race([a, b], 48, lambda i: ("player-1", "pg_starter", "storm-x"))
    assert [s for s, _ in results] == [200] * 48
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    for g in (a, b):
        assert g.balance("player-1", "gold") == 100
    inv = b.inventory("player-1")["instanced"]
    assert sorted(i["catalog_id"] for i in inv) == ["hat_red", "sword"]
    with a.db() as db:
        assert db.execute("SELECT count(*) FROM fulfillments").fetchone()[0] == 1
        check_ledger(db)


def test_a_reused_id_with_another_body_conflicts_across_nodes(make_grantd):
    a, b = two_nodes(make_grantd)
    assert a.fulfill("player-1", "pg_gold_100", "t-1").status_code == 200
    r = b.fulfill("player-1", "pg_starter", "t-1")
    assert r.status_code == 409, r.text
    assert b.balance("player-1", "gold") == 100


def test_a_limited_entry_raced_over_two_nodes_has_one_winner(make_grantd):
    a, b = two_nodes(make_grantd)
    results = race([a, b], 40, lambda i: ("player-1", "pg_gold_500_once",
                                          f"race-{i}"))
    ok = [r for r in results if r[0] == 200]
    owned = [r for r in results if r[0] == 400 and
             r[1]["error"]["code"] == "ContentAlreadyOwned"]
    assert len(ok) == 1 and len(owned) == 39, results[:3]
    assert a.balance("player-1", "gold") == 500


def test_a_unique_item_raced_over_two_nodes_is_granted_once(make_grantd):
    a, b = two_nodes(make_grantd)
    results = race([a, b], 40, lambda i: ("player-1", "pg_dragon", f"d-{i}"))
    ok = [r for r in results if r[0] == 200]
    owned = [r for r in results if r[0] == 400 and
             r[1]["error"]["code"] == "ContentAlreadyOwned"]
    assert len(ok) == 1 and len(owned) == 39, results[:3]
    inv = a.inventory("player-1")["instanced"]
    assert [i["catalog_id"] for i in inv] == ["skin_dragon"]


def test_a_key_made_on_one_node_works_on_the_other_within_a_second(make_grantd):
    a, b = two_nodes(make_grantd)
    key = a.create_key("late", "fulfillment:primegaming")
    deadline = time.monotonic() + 3
    while True:
        r = b.fulfill("player-1", "pg_gold_100", "t-late", key=key)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 200, r.text


def test_kill_9_of_one_node_under_load_loses_nothing(make_grantd):
    """8 threads load both nodes; node a is killed with SIGKILL; node b
    keeps serving; every acknowledged grant is there exactly once."""
    a, b = two_nodes(make_grantd)
    for w in range(4):
        a.put_account(f"player-{w}")
    stop, acked, errors = threading.Event(), [], []
    workers = [threading.Thread(target=run_load,
                                args=(a if w % 2 else b, stop, acked, errors, w))
               for w in range(8)]
    for t in workers:
        t.start()
    time.sleep(1.5)
    a.kill9()
    before = len(acked)
    time.sleep(1.0)
    stop.set()
    for t in workers:
        t.join(timeout=30)
        assert not t.is_alive()
    assert not errors, errors[:3]
    assert before > 50, "the load did not get going"
    assert len(acked) > before, "node b stopped serving"
    with b.db() as db:
        completed_once(db, "primegaming", acked, 1)
        check_ledger(db)
    a.start()
    with requests.Session() as s:
        for txn in acked[::11]:
            w = int(txn.split("-")[1][1:])
            assert post(s, a, f"player-{w % 4}", "pg_gold_100",
                        txn).status_code == 200
    with a.db() as db:
        # replays added nothing; requests cut off by the kill may have
        # committed unacknowledged, never twice
        assert db.execute("SELECT count(*) FROM fulfillments").fetchone()[0] \
            >= len(acked)
        completed_once(db, "primegaming", acked, 1)
        check_ledger(db)


def test_the_outbox_reports_each_drop_once_with_both_nodes_working(
        make_grantd, fake_twitch):
    """Both nodes run outbox workers on the shared outbox: every Twitch
    drop granted is reported FULFILLED in exactly one PATCH."""
    from fakes.fixtures import providers_config
    from pull_util import PULL_CATALOG, TWITCH_GEMS, link, sync, wait_for
    cfg = providers_config(fake_twitch)
    cfg["outbox"] = {"initial_backoff_ms": 50, "max_backoff_ms": 200}
    a = ready(make_grantd("a", catalog=PULL_CATALOG, config=cfg))
    b = make_grantd("b", share=a, migrate=False, catalog=PULL_CATALOG,
                    config=cfg)
    b.prime_key, b.partner_key = a.prime_key, a.partner_key
    b.start()
    drops = []
    for i in range(6):
        account, user = f"player-{i}", f"2500{i}"
        node = (a, b)[i % 2]
        assert node.put_account(account).status_code in (200, 201)
        link(node, "twitch", user, account=account)
        drops += [fake_twitch.add_drop(user, TWITCH_GEMS) for _ in range(40)]
        sync(node, account)
    wait_for(lambda: all(fake_twitch.drop_status(d) == "FULFILLED"
                         for d in drops), timeout=30, what="the reports")
    reported = [i for p in fake_twitch.calls_to("/helix/entitlements/drops",
                                                "PATCH")
                for i in p.json()["entitlement_ids"]]
    assert sorted(reported) == sorted(drops)   # each once, none twice
    for i in range(6):
        assert a.balance(f"player-{i}", "gems") == 5 * 40
