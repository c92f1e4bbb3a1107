"""A full disk: the SQLite database on a 3 MiB tmpfs fills up under load.
Every write that cannot be committed answers 503 StoreUnavailable and
leaves nothing behind; nothing acknowledged is lost; /readyz answers 503
while writes fail; the store_error lines are held to about one a second,
each with the count it stands for; once the disk has room again, writes
and /readyz recover by themselves, and every acknowledged transaction is
granted exactly once. Needs root (it mounts a tmpfs)."""
import contextlib
import os
import subprocess
import threading
import time
from datetime import datetime

import pytest
import requests

from conftest import ready
from invariants import check_ledger, completed_once
from reliability import longer, record

pytestmark = pytest.mark.sqlite_only  # about SQLite's file on a full disk

FULFILL = "/v1/primegaming/fulfillment"
WORKERS = 6
ACCOUNTS = 4
# seconds of load once the disk is full, and the bounds on the whole load
FULL_SECONDS = longer(3, 20)
LOAD_LIMIT_S = longer(60, 120)
MAX_REQUESTS = longer(30000, 150000)
# refused transactions retried once the disk has room: a sample, since the
# WAL grows until it restarts at 96 MiB (docs/operations.md, Durability)
# and would fill the grown file system again
RETRIED = 200


def mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True,
                          timeout=30)


@contextlib.contextmanager
def tmpfs(path, size):
    """A tmpfs of `size` on `path`, unmounted on the way out (skips the
    test where mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (a disk that fills up)")
    path.mkdir()
    r = mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
              str(path))
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield path
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(path)], capture_output=True
                              ).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def post(session, g, account, txn):
    return session.post(g.url(FULFILL), timeout=30,
                        headers={"Authorization": f"Bearer {g.prime_key}"},
                        json={"account_id": account, "sku": "pg_gold_100",
                              "transaction_id": txn})


def account_of(txn):
    return f"player-{int(txn.split('-')[1][1:]) % ACCOUNTS}"


def load(g, stop, worker, out, budget):
    """Fresh transactions until `stop`; out gets (txn, status, error code,
    Retry-After) for every answer."""
    with requests.Session() as s:
        for i in range(budget):
            if stop.is_set():
                return
            txn = f"full-w{worker}-{i}"
            try:
                r = post(s, g, account_of(txn), txn)
            except requests.RequestException as e:
                out.append((txn, None, repr(e), None))
                return
            code = None if r.status_code == 200 else \
                r.json().get("error", {}).get("code")
            out.append((txn, r.status_code, code,
                        r.headers.get("Retry-After")))


def readyz(g):
    return g.request("GET", "/readyz").status_code


def log_seconds(line):
    return datetime.fromisoformat(line["time"].replace("Z", "+00:00")
                                  ).timestamp()


def test_a_full_disk_refuses_writes_loses_nothing_and_recovers(
        tmp_path, make_grantd):
    with tmpfs(tmp_path / "disk", "3m") as disk:
        db_path = disk / "grantd.db"
        g = make_grantd(config={"storage": {"sqlite": {"path": str(db_path)}}})
        g.db_path = db_path        # the helpers read the database there
        try:
            run(g, disk)
        finally:
            if g.proc is not None:     # the test failed: before unmounting
                g.kill9()


def run(g, disk):
    t_begin = time.monotonic()
    ready(g)
    for w in range(ACCOUNTS):          # ready() made player-1
        assert g.put_account(f"player-{w}").status_code in (200, 201)

    # ---- fill the disk, then keep writing while it is full ------------
    stop, answers, ready_codes = threading.Event(), [], []
    budget = MAX_REQUESTS // WORKERS
    workers = [threading.Thread(target=load, args=(g, stop, w, answers,
                                                   budget))
               for w in range(WORKERS)]
    for t in workers:
        t.start()
    deadline = time.monotonic() + LOAD_LIMIT_S
    try:
        while not any(a[1] == 503 for a in answers):
            assert time.monotonic() < deadline, \
                f"the disk never filled: {len(answers)} answers"
            assert any(t.is_alive() for t in workers), "the load ended"
            time.sleep(0.05)
        t_full = time.monotonic()
        full_since = time.time()
        while time.monotonic() < t_full + FULL_SECONDS and \
                any(t.is_alive() for t in workers):
            ready_codes.append(readyz(g))
            time.sleep(0.1)
    finally:
        stop.set()
        for t in workers:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in workers)
    full_until = time.time()

    acked = [a[0] for a in answers if a[1] == 200]
    refused = [a[0] for a in answers if a[1] == 503]
    other = [a for a in answers if a[1] not in (200, 503)]
    assert not other, f"answers neither 200 nor 503: {other[:5]}"
    # a write that cannot be committed says so, and how to go on
    assert {(a[2], a[3]) for a in answers if a[1] == 503} == \
        {("StoreUnavailable", "1")}
    assert len(acked) > 50, "the load did not get going before the disk filled"
    # while the disk is full, a load balancer is told to go elsewhere
    assert ready_codes.count(503) >= 0.9 * len(ready_codes), ready_codes
    assert readyz(g) == 503

    # the store_error lines: about one a second, each with its count
    errors = [l for l in g.log_lines("store_error")
              if full_since - 1 <= log_seconds(l) <= full_until + 1]
    assert errors, "no store_error line while the disk was full"
    assert all(isinstance(l.get("repeated"), int) for l in errors), errors[:3]
    window = full_until - full_since + 2
    assert len(errors) <= window + 2, \
        f"{len(errors)} store_error lines in {window:.1f} s"
    per_second = {}
    for l in errors:
        per_second[int(log_seconds(l))] = per_second.get(
            int(log_seconds(l)), 0) + 1
    assert max(per_second.values()) <= 2, per_second
    held_back = sum(l["repeated"] for l in errors)
    g.wait_log("store_writes_failing")

    # a 503 committed nothing
    with g.db() as db:
        committed = {r[0] for r in db.execute(
            "SELECT external_id FROM fulfillments WHERE source ="
            " 'primegaming'")}
    assert not committed & set(refused), "a refused write was committed"

    # ---- room again: /readyz and writes recover by themselves ---------
    assert mount("-o", "remount,size=64m", str(disk)).returncode == 0
    t_room = time.monotonic()
    while readyz(g) != 200:
        assert time.monotonic() < t_room + 15, "/readyz stayed 503"
        time.sleep(0.1)
    recovered_s = time.monotonic() - t_room
    g.wait_log("store_writes_recovered")
    after = [f"full-w{w}-after-{i}" for w in range(WORKERS) for i in range(5)]
    with requests.Session() as s:
        for txn in after:
            assert post(s, g, account_of(txn), txn).status_code == 200
        # refused ones, retried as a caller would: granted now
        retried = refused[::max(1, len(refused) // RETRIED)][:RETRIED]
        for txn in retried:
            assert post(s, g, account_of(txn), txn).status_code == 200

    # ---- a crash, then: nothing lost, nothing granted twice -----------
    g.kill9()
    g.start()
    everything = acked + after + retried
    with g.db() as db:
        grants = dict(db.execute(
            "SELECT f.external_id, count(g.fulfillment_row) FROM"
            " fulfillments f LEFT JOIN grants g ON g.fulfillment_row ="
            " f.row_id WHERE f.source = 'primegaming' AND f.status ="
            " 'completed' GROUP BY f.row_id"))
        rows = db.execute("SELECT count(*) FROM fulfillments WHERE source ="
                          " 'primegaming'").fetchone()[0]
        lost = sum(1 for t in acked if t not in grants)
        duplicated = sum(1 for n in grants.values() if n > 1) + \
            rows - len(grants)
        completed_once(db, "primegaming", everything, 1)
        check_ledger(db)
        gold = db.execute("SELECT sum(amount) FROM inventory_stackables"
                          " WHERE catalog_id = 'gold'").fetchone()[0]
    assert rows == len(everything)
    assert gold == 100 * len(everything)
    # a replay of every acknowledged transaction grants nothing
    with requests.Session() as s:
        for txn in acked:
            assert post(s, g, account_of(txn), txn).status_code == 200
    with g.db() as db:
        assert db.execute("SELECT sum(amount) FROM inventory_stackables"
                          ).fetchone()[0] == gold
        assert db.execute("SELECT count(*) FROM fulfillments").fetchone()[0] \
            == rows
    assert readyz(g) == 200
    assert g.stop() == 0

    seconds = round(time.monotonic() - t_begin, 1)
    print(f"disk full: {len(answers)} requests sent, {len(acked)} "
          f"acknowledged, {len(refused)} refused 503 ({len(retried)} "
          f"retried and granted), lost {lost}, "
          f"duplicated {duplicated}; {len(errors)} store_error lines "
          f"standing for {len(errors) + held_back} failures in "
          f"{full_until - full_since:.1f} s full; /readyz 200 again "
          f"{recovered_s:.2f} s after the disk grew; {seconds} s")
    record("test_disk_full.py::test_a_full_disk_refuses_writes_loses_"
           "nothing_and_recovers", driver=g.driver, requests=len(answers),
           faults=1, acknowledged=len(acked), refused=len(refused),
           retried=len(retried),
           lost=lost, duplicated=duplicated, full_seconds=round(
               full_until - full_since, 1), store_error_lines=len(errors),
           store_errors_counted=len(errors) + held_back,
           readyz_recovery_seconds=round(recovered_s, 2), seconds=seconds)
