"""The guarantees (README, "What it guarantees") under stress: duplicate
storms, concurrent batches with failures, and kill -9 while fulfilments are
in flight."""
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import ready
from invariants import check_ledger, completed_once
from reliability import longer, record

FULFILL = "/v1/primegaming/fulfillment"


def post(session, g, account, sku, txn):
    return session.post(g.url(FULFILL), timeout=10,
                        headers={"Authorization": f"Bearer {g.prime_key}"},
                        json={"account_id": account, "sku": sku,
                              "transaction_id": txn})


# The storms below open more connections from 127.0.0.1 at once than the
# default limit per address: as behind a proxy, there is none.
CROWD = {"server": {"max_connections_per_ip": 0}}


@pytest.fixture
def crowd(make_grantd):
    return ready(make_grantd(config=CROWD))


def test_duplicate_storm_grants_once(crowd):
    grantd = crowd
    n = 64
    barrier = threading.Barrier(n)

    def one(_):
        with requests.Session() as s:
            barrier.wait(timeout=10)
            return post(s, grantd, "player-1", "pg_starter", "storm-1").status_code

    with ThreadPoolExecutor(n) as pool:
        codes = list(pool.map(one, range(n)))
    assert codes == [200] * n
    assert grantd.balance("player-1", "gold") == 100
    inv = grantd.inventory("player-1")["instanced"]
    assert sorted(i["catalog_id"] for i in inv) == ["hat_red", "sword"]
    with grantd.db() as db:
        assert db.execute("SELECT count(*) FROM fulfillments").fetchone()[0] == 1
        check_ledger(db)


def test_storm_of_many_transactions_for_a_limited_entry(grantd):
    """40 different transactions race for an entry limited to once per
    account: exactly one wins, the rest are ContentAlreadyOwned."""
    n = 40
    barrier = threading.Barrier(n)

    def one(i):
        with requests.Session() as s:
            barrier.wait(timeout=10)
            r = post(s, grantd, "player-1", "pg_gold_500_once", f"race-{i}")
            return r.status_code, r.json()

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    ok = [r for r in results if r[0] == 200]
    owned = [r for r in results if r[0] == 400 and r[1]["error"]["code"] == "ContentAlreadyOwned"]
    assert len(ok) == 1 and len(owned) == n - 1
    assert grantd.balance("player-1", "gold") == 500


def test_failures_in_a_batch_leave_the_others_granted(make_grantd):
    """Concurrent requests commit together; the ones that fail
    (ContentAlreadyOwned, InvalidSku, InvalidCustomer) answer alone."""
    grantd = ready(make_grantd(config=CROWD), operator=True)
    assert grantd.fulfill("player-1", "pg_dragon", "pre-dragon").status_code == 200
    jobs = []
    for i in range(30):
        jobs.append(("player-1", "pg_gold_100", f"ok-{i}", 200, None))
        jobs.append(("player-1", "pg_dragon", f"own-{i}", 400, "ContentAlreadyOwned"))
        jobs.append(("player-1", "pg_nope", f"sku-{i}", 400, "InvalidSku"))
        jobs.append(("ghost", "pg_gold_100", f"ghost-{i}", 400, "InvalidCustomer"))
    random.shuffle(jobs)
    barrier = threading.Barrier(len(jobs))

    def one(job):
        account, sku, txn, want, code = job
        with requests.Session() as s:
            barrier.wait(timeout=20)
            r = post(s, grantd, account, sku, txn)
            got = r.json()["error"]["code"] if r.status_code != 200 else None
            return (r.status_code, got) == (want, code)

    with ThreadPoolExecutor(len(jobs)) as pool:
        assert all(pool.map(one, jobs))
    assert grantd.balance("player-1", "gold") == 3000
    with grantd.db() as db:
        check_ledger(db)
        completed_once(db, "primegaming", [f"ok-{i}" for i in range(30)], 1)
    # the 121 requests shared commits (and business failures need no
    # savepoint: they are recorded, not rolled back)
    assert metric(grantd, grantd.ops_key, "grantd_store_batches_total") < 121
    assert metric(grantd, grantd.ops_key, "grantd_store_careful_batches_total") == 0


def run_load(g, stop, acked, errors, worker, sent=None):
    """Sends fulfilments with fresh transaction ids until `stop`; records the
    acknowledged ones (and every one sent in `sent`, if given). Connection
    errors are expected once killed."""
    with requests.Session() as s:
        for i in range(100000):
            if stop.is_set():
                return
            txn = f"crash-w{worker}-{i}-{random.random()}"
            if sent is not None:
                sent.append(txn)
            try:
                r = post(s, g, f"player-{worker % 4}", "pg_gold_100", txn)
            except requests.RequestException:
                return
            if r.status_code == 200:
                acked.append(txn)
            else:
                errors.append((r.status_code, r.text))


def test_kill_9_under_load_loses_nothing_and_doubles_nothing(make_grantd):
    """kill -9 while 8 clients send fulfilments, 3 times (20 with
    GRANTD_RELIABILITY=1): after each restart every acknowledged one is
    granted exactly once, and a replay grants nothing."""
    t_begin = time.monotonic()
    cycles = longer(3, 20)
    g = make_grantd()
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    g.start()
    for w in range(4):
        assert g.put_account(f"player-{w}").status_code == 201
    acked_all, sent = [], []
    for cycle in range(cycles):
        stop, acked, errors = threading.Event(), [], []
        workers = [threading.Thread(target=run_load,
                                    args=(g, stop, acked, errors, w, sent))
                   for w in range(8)]
        for t in workers:
            t.start()
        time.sleep(1.0 + cycle * 0.3)
        g.kill9()
        stop.set()
        for t in workers:
            t.join(timeout=20)
            assert not t.is_alive()
        assert not errors, errors[:3]
        assert len(acked) > 50, "the load did not get going"
        print(f"cycle {cycle}: {len(acked)} acknowledged")
        acked_all += acked
        g.start()
        with g.db() as db:
            completed_once(db, "primegaming", acked_all, 1)
            check_ledger(db)
    # A replay of every acknowledged transaction answers 200 and grants nothing.
    with g.db() as db:
        before = db.execute("SELECT sum(amount) FROM inventory_stackables").fetchone()[0]
        count = db.execute("SELECT count(*) FROM fulfillments").fetchone()[0]
    with requests.Session() as s:
        for txn in acked_all[::7]:
            w = int(txn.split("-")[1][1:])
            assert post(s, g, f"player-{w % 4}", "pg_gold_100", txn).status_code == 200
    with g.db() as db:
        assert db.execute("SELECT sum(amount) FROM inventory_stackables").fetchone()[0] == before
        assert db.execute("SELECT count(*) FROM fulfillments").fetchone()[0] == count
        grants = dict(db.execute(
            "SELECT f.external_id, count(g.fulfillment_row) FROM fulfillments"
            " f JOIN grants g ON g.fulfillment_row = f.row_id GROUP BY 1"))
    assert g.stop() == 0
    record("test_guarantees.py::test_kill_9_under_load_loses_nothing_and_"
           "doubles_nothing", driver=g.driver, requests=len(sent), faults=cycles,
           acknowledged=len(acked_all),
           lost=sum(1 for t in acked_all if t not in grants),
           duplicated=sum(1 for n in grants.values() if n > 1),
           seconds=round(time.monotonic() - t_begin, 1))


def test_sighup_reloads_a_good_catalog_and_keeps_the_old_on_a_bad_one(grantd):
    import json
    cat = json.loads(grantd.catalog_path.read_text())
    assert grantd.fulfill("player-1", "pg_new", "t-new-1").json()["error"]["code"] == "InvalidSku"
    cat["entitlements"].append({"id": "new-gems", "stackable": {"catalogId": "gems", "amount": 3},
                                "providerDetails": [{"primeGaming": {"sku": "pg_new"}}]})
    grantd.catalog_path.write_text(json.dumps(cat))
    grantd.proc.send_signal(signal.SIGHUP)
    grantd.wait_log("catalog_reloaded")
    assert grantd.fulfill("player-1", "pg_new", "t-new-2").status_code == 200
    assert grantd.balance("player-1", "gems") == 3

    cat["entitlements"][0]["stackable"]["amount"] = 0
    cat["entitlements"].append({"id": "broken", "bundle": {"id": "no_such_bundle"},
                                "providerDetails": [{"primeGaming": {"sku": "pg_broken"}}]})
    grantd.catalog_path.write_text(json.dumps(cat))
    grantd.proc.send_signal(signal.SIGHUP)
    [fail] = grantd.wait_log("catalog_reload_failed")
    assert fail["problem_count"] == 2
    assert "entitlements[0].stackable.amount" in fail["problems"]
    assert "no_such_bundle" in fail["problems"]
    # the old catalog is still in force
    assert grantd.fulfill("player-1", "pg_new", "t-new-3").status_code == 200
    assert grantd.fulfill("player-1", "pg_broken", "t-new-4").json()["error"]["code"] == "InvalidSku"
    assert grantd.balance("player-1", "gems") == 6
    r = grantd.request("GET", "/readyz")
    assert r.status_code == 200


def test_store_failure_is_503_commits_nothing_and_retry_succeeds(grantd):
    """A database failure after the fulfilment row was written but while
    granting: the whole intent rolls back, the caller gets a retryable 503,
    other requests are unaffected, and the retry grants exactly once."""
    assert grantd.fulfill("player-1", "pg_hat", "t-before").status_code == 200
    grantd.fail_inserts("fail_gold", "inventory_stackables")
    before = grantd.snapshot()
    r = grantd.fulfill("player-1", "pg_starter", "t-fault")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "StoreUnavailable"
    assert r.headers["Retry-After"] == "1"
    after = grantd.snapshot()
    after.pop("sqlite_master", None), before.pop("sqlite_master", None)
    assert after == before  # no fulfilment row, no grant, no instance
    grantd.wait_log("store_error")  # log lines reach stderr within ~1 ms
    grantd.remove_fault("fail_gold", "inventory_stackables")
    r = grantd.fulfill("player-1", "pg_starter", "t-fault")
    assert r.status_code == 200
    assert grantd.fulfill("player-1", "pg_starter", "t-fault").status_code == 200
    assert grantd.balance("player-1", "gold") == 100
    with grantd.db() as db:
        completed_once(db, "primegaming", ["t-fault"], 2)  # gold + sword; hat owned
        check_ledger(db)


def metric(g, key, name):
    r = g.request("GET", "/metrics", key=key)
    assert r.status_code == 200
    for line in r.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_a_store_failure_in_a_batch_rolls_back_only_that_request(make_grantd):
    """Requests committed together: the ones whose grant hits a database
    error get 503 and leave nothing; the others in the same commits are
    granted. /metrics shows batches were shared and the per-intent
    savepoint path ran."""
    g = ready(make_grantd(config=CROWD), operator=True)
    g.fail_inserts("no_swords", "inventory_instances",
                   "NEW.catalog_id = 'sword'")
    jobs = [("pg_gold_100", f"gold-{i}", 200) for i in range(60)]
    jobs += [("pg_sword", f"sword-{i}", 503) for i in range(20)]
    random.shuffle(jobs)
    barrier = threading.Barrier(len(jobs))

    def one(job):
        sku, txn, want = job
        with requests.Session() as s:
            barrier.wait(timeout=20)
            return post(s, g, "player-1", sku, txn).status_code == want

    with ThreadPoolExecutor(len(jobs)) as pool:
        assert all(pool.map(one, jobs))
    assert g.balance("player-1", "gold") == 6000
    with g.db() as db:
        completed_once(db, "primegaming", [f"gold-{i}" for i in range(60)], 1)
        assert db.execute("SELECT count(*) FROM fulfillments WHERE"
                          " external_id LIKE 'sword-%'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM inventory_instances").fetchone()[0] == 0
        check_ledger(db)
    assert metric(g, g.ops_key, "grantd_store_batch_size_max") >= 2
    assert metric(g, g.ops_key, "grantd_store_careful_batches_total") >= 1
