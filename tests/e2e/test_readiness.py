"""/readyz tells a load balancer the truth about writes: 503 while a write
has waited over a second or the last commit failed, and 200 again by
itself once the database takes writes (a probe write finds out)."""
import sqlite3
import threading
import time

import pytest


def readyz(g):
    r = g.request("GET", "/readyz")
    return r.status_code, r.json()


def wait_readyz(g, status, text="", timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = readyz(g)
        if code == status and (not text or text in body["error"]["message"]):
            return body
        time.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status} {text!r}: "
                         f"{code} {body}")


def test_ready_while_idle_and_after_writes(grantd):
    assert readyz(grantd) == (200, {"status": "ready"})
    assert grantd.fulfill("player-1", "pg_gold_100", "t-1").status_code == 200
    assert readyz(grantd) == (200, {"status": "ready"})


@pytest.mark.sqlite_only
def test_a_locked_database_is_not_ready_until_writes_go_through(grantd):
    # another process holds the database's write lock: grantd's next write
    # waits (stalled), then gives up after busy_timeout (failing)
    lock = sqlite3.connect(grantd.db_path, isolation_level=None, timeout=10)
    lock.execute("BEGIN IMMEDIATE")
    answers = []
    t = threading.Thread(target=lambda: answers.append(
        grantd.fulfill("player-1", "pg_gold_100", "t-locked", timeout=30)))
    try:
        t.start()
        body = wait_readyz(grantd, 503, "stalled", timeout=5)
        assert body["error"]["code"] == "NotReady"
        [warn] = grantd.wait_log("store_lock_wait", timeout=5)
        assert warn["level"] == "warn"
        t.join(25)
        assert answers and answers[0].status_code == 503   # never a false 2xx
        wait_readyz(grantd, 503, "failing", timeout=5)
        grantd.wait_log("store_writes_failing")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        t.join(30)
    # nobody writes: the probe write behind /readyz finds the lock gone
    wait_readyz(grantd, 200, timeout=10)
    grantd.wait_log("store_writes_recovered")
    assert grantd.balance("player-1", "gold") == 0     # nothing was granted
    assert grantd.fulfill("player-1", "pg_gold_100", "t-locked").status_code == 200
    assert grantd.balance("player-1", "gold") == 100
