"""PostgreSQL going away under load: while it is down requests get 5xx
(never a 2xx that was not committed) and /readyz says 503; when it is back
the nodes serve again by themselves; and a failover to a synchronous
standby loses no acknowledged grant. Each test runs its own clusters."""
import random
import threading
import time

import pytest
import requests

import pgdb
from conftest import ready
from invariants import check_ledger, completed_once

pytestmark = pytest.mark.postgres_only

FULFILL = "/v1/primegaming/fulfillment"


class Load:
    """Threads sending fresh fulfilments to some nodes, round robin, until
    stopped; what was acknowledged and every other answer are kept."""

    def __init__(self, nodes, threads=8):
        self.nodes = nodes
        self.stop_event = threading.Event()
        self.acked, self.failed, self.odd = [], [], []
        self.threads = [threading.Thread(target=self.run, args=(w,))
                        for w in range(threads)]

    def run(self, w):
        with requests.Session() as s:
            for i in range(1000000):
                if self.stop_event.is_set():
                    return
                g = self.nodes[(w + i) % len(self.nodes)]
                txn = f"f-w{w}-{i}-{random.random()}"
                try:
                    r = s.post(g.url(FULFILL), timeout=20,
                               headers={"Authorization": f"Bearer {g.prime_key}"},
                               json={"account_id": f"player-{w % 4}",
                                     "sku": "pg_gold_100",
                                     "transaction_id": txn})
                except requests.RequestException as e:
                    self.odd.append(repr(e))
                    time.sleep(0.05)
                    continue
                if r.status_code == 200:
                    self.acked.append(txn)
                elif r.status_code >= 500:
                    self.failed.append((r.status_code, r.json()["error"]["code"]))
                    time.sleep(0.02)
                else:
                    self.odd.append((r.status_code, r.text))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        return False


def wait_until(what, cond, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def readyz(g):
    try:
        return g.request("GET", "/readyz", timeout=5).status_code
    except requests.RequestException:
        return None


def own_schema(cluster):
    cluster.psql("CREATE SCHEMA g_own")
    return pgdb.Schema(cluster, "g_own")


def test_a_restart_under_load_gets_5xx_then_serves_and_loses_nothing(make_grantd):
    cluster = pgdb.PgCluster()
    try:
        cluster.start()
        g = ready(make_grantd(pg=own_schema(cluster)), operator=True)
        for w in range(4):
            g.put_account(f"player-{w}")
        with Load([g]) as load:
            wait_until("load", lambda: len(load.acked) > 50)
            cluster.stop(mode="immediate")   # a crash: no clean shutdown
            acked_at_stop = len(load.acked)
            wait_until("readyz 503", lambda: readyz(g) == 503)
            time.sleep(3.0)   # longer than the writer's retries
            during = len(load.acked)
            failed_during = len(load.failed)
            cluster.start(same_port=True)
            wait_until("readyz 200", lambda: readyz(g) == 200)
            wait_until("writes again", lambda: len(load.acked) > during + 50)
        assert not load.odd, load.odd[:3]
        # nothing was acknowledged while the server was down (a few may
        # have been answered between the stop and the first failure)
        assert during - acked_at_stop < 20
        assert failed_during > 0
        assert {code for _, code in load.failed} <= {"StoreUnavailable"}
        with g.db() as db:
            completed_once(db, "primegaming", load.acked, 1)
            check_ledger(db)
    finally:
        cluster.remove()


def test_failover_to_a_synchronous_standby_loses_no_acknowledged_grant(make_grantd):
    primary = pgdb.PgCluster()
    standby = pgdb.PgCluster()
    try:
        primary.start()
        schema = own_schema(primary)
        standby.standby_of(primary).start()
        # commits wait for the standby from now on
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'",
                     db="postgres")
        primary.psql("SELECT pg_reload_conf()", db="postgres")
        wait_until("the standby streams", lambda: primary.psql(
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = "
            "'sync'", db="postgres") == "1")
        url = (f"postgresql://grantd@127.0.0.1:{primary.port},127.0.0.1:"
               f"{standby.port}/grantd?target_session_attrs=read-write&"
               f"options=-csearch_path%3D{schema.name}")
        schema.url_override = url
        a = ready(make_grantd("a", pg=schema), operator=True)
        b = make_grantd("b", share=a, migrate=False)
        b.prime_key, b.partner_key, b.ops_key = a.prime_key, a.partner_key, a.ops_key
        b.start()
        for w in range(4):
            a.put_account(f"player-{w}")
        with Load([a, b]) as load:
            wait_until("load", lambda: len(load.acked) > 100)
            primary.kill()
            acked_at_kill = len(load.acked)
            standby.promote()
            wait_until("writes on the new primary",
                       lambda: len(load.acked) > acked_at_kill + 100, 60)
        assert not load.odd, load.odd[:3]
        assert {code for _, code in load.failed} <= {"StoreUnavailable"}
        new = pgdb.Schema(standby, schema.name)
        with new.connect() as db:
            completed_once(db, "primegaming", load.acked, 1)
            check_ledger(db)
    finally:
        primary.remove()
        standby.remove()
