"""`grantd backup` and `grantd restore`: a backup taken under a write load
holds every fulfilment acknowledged before it began, granted once, and
restores into a server that serves it; every refusal changes nothing."""
import json
import sqlite3
import threading
import time

import pytest
import requests

from conftest import ready
from invariants import check_ledger, completed_once

# backups and restores are of the SQLite file (PostgreSQL has its own tools)
pytestmark = pytest.mark.sqlite_only

FULFILL = "/v1/primegaming/fulfillment"
ACCOUNTS = [f"player-{i}" for i in range(1, 5)]
LOAD_SECONDS = 5.0        # the load stops after this long ...
LOAD_MAX = 4000           # ... or this many requests, whichever comes first
BACKUPS = 3               # taken while it runs,
BACKUP_EVERY = 0.6        # this many seconds apart


def cfg(g):
    return str(g.config_path)


def backup(g, to, *extra):
    return g.cli("backup", "--config", cfg(g), "--to", str(to), *extra)


def restore(g, frm, *extra):
    return g.cli("restore", "--config", cfg(g), "--from", str(frm), *extra)


def refused(r, message, exact=True):
    """A refusal: exit 1, nothing on stdout, one line on stderr that is
    `message` (or starts with it)."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"grantd: {message}"), r.stderr
    if exact:
        assert r.stderr == f"grantd: {message}\n"


def last_json(r):
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


class Load:
    """Threads posting fulfilments with unique transaction ids. Each answer
    is recorded with the monotonic time it was received."""

    def __init__(self, g, threads=8):
        self.g = g
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []          # (received_at, account, txn)
        self.sent = []           # every transaction id posted
        self.failed = []
        self.deadline = time.monotonic() + LOAD_SECONDS
        self.threads = [threading.Thread(target=self.run, args=(w,))
                        for w in range(threads)]

    def take_slot(self, worker):
        """The next transaction id, or None once the load is over."""
        with self.lock:
            if self.stop.is_set() or len(self.sent) >= LOAD_MAX or \
                    time.monotonic() > self.deadline:
                return None
            self.sent.append(f"load-w{worker}-{len(self.sent)}")
            return self.sent[-1]

    def run(self, worker):
        headers = {"Authorization": f"Bearer {self.g.prime_key}"}
        with requests.Session() as s:
            while (txn := self.take_slot(worker)) is not None:
                account = ACCOUNTS[hash(txn) % len(ACCOUNTS)]
                r = s.post(self.g.url(FULFILL), headers=headers, timeout=10,
                           json={"account_id": account, "sku": "pg_gold_100",
                                 "transaction_id": txn})
                received = time.monotonic()
                with self.lock:
                    if r.status_code == 200:
                        self.acked.append((received, account, txn))
                    else:
                        self.failed.append((r.status_code, r.text))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
            assert not t.is_alive()

    def sent_ids(self):
        with self.lock:
            return set(self.sent)

    def count(self):
        with self.lock:
            return len(self.acked)

    def acked_before(self, t):
        with self.lock:
            return [(a, txn) for at, a, txn in self.acked if at < t]


def live_server(make_grantd, name="live"):
    """A running server with the accounts of ACCOUNTS, and no rate limit in
    the way of the load."""
    g = make_grantd(name, config={"auth": {"rate_limit": {"per_second": 0}}})
    ready(g)    # creates player-1
    for a in ACCOUNTS[1:]:
        assert g.put_account(a).status_code == 201
    return g


def check_copy(path, before, sent):
    """The backup at `path` holds every fulfilment in `before`, granted
    once, and nothing that was not sent; returns its row count."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        completed_once(db, "primegaming", [t for _, t in before], 1)
        check_ledger(db)
        ids = {r[0] for r in db.execute("SELECT external_id FROM fulfillments")}
    assert ids <= sent
    return len(ids)


def test_backups_under_load_hold_every_acknowledged_fulfilment(make_grantd, tmp_path):
    """Three backups while eight threads post fulfilments; each holds every
    one acknowledged before the backup began. The last is restored."""
    g = live_server(make_grantd)
    dest_dir = tmp_path / "backups"
    dest_dir.mkdir()
    taken = []
    with Load(g) as load:
        for i in range(BACKUPS):
            time.sleep(BACKUP_EVERY)
            dest = dest_dir / f"grantd-{i}.db"
            began = time.monotonic()
            r = backup(g, dest, "--json")
            taken.append((began, time.monotonic(), dest, r))
        time.sleep(BACKUP_EVERY)   # the load goes on after the last one
    assert not load.failed, load.failed[:3]
    assert load.count() > len(load.acked_before(taken[-1][1])), \
        "nothing was acknowledged after the last backup"
    sent = load.sent_ids()
    for began, ended, dest, r in taken:
        info = last_json(r)
        before = load.acked_before(began)
        during = len(load.acked_before(ended)) - len(before)
        print(f"{dest.name}: {ended - began:.3f} s, {len(before)} acknowledged "
              f"before it, {during} while it ran; the copy has "
              f"{info['fulfillments']}")
        assert len(before) >= 50, "the load did not get going"
        assert set(info) == {"path", "database", "schema_version", "fulfillments",
                             "accounts", "bytes"}
        assert info["path"] == str(dest) and info["database"] == str(g.db_path)
        assert info["accounts"] == len(ACCOUNTS)
        assert info["bytes"] == dest.stat().st_size
        assert check_copy(dest, before, sent) == info["fulfillments"]
        assert len(before) <= info["fulfillments"] <= load.count()
    print(f"{load.count()} acknowledged in all")
    assert sorted(p.name for p in dest_dir.iterdir()) == \
        [f"grantd-{i}.db" for i in range(BACKUPS)]   # no temporaries left
    assert g.stop() == 0

    # Restore the last one into a fresh data directory and serve it.
    _, _, dest, r = taken[-1]
    info = last_json(r)
    before = load.acked_before(taken[-1][0])
    h = make_grantd("restored", migrate=False)
    assert not h.db_path.exists()
    info2 = last_json(restore(h, dest, "--json"))
    assert info2 == dict(info, database=str(h.db_path))
    assert check_copy(h.db_path, before, sent) == info["fulfillments"]
    assert schema_version(h.db_path) == info["schema_version"]
    h.prime_key, h.partner_key = g.prime_key, g.partner_key  # restored too
    h.start()
    gold = {a: h.balance(a, "gold") for a in ACCOUNTS}
    assert sum(gold.values()) == 100 * info["fulfillments"]
    # A repeat of acknowledged transactions grants nothing new.
    for account, txn in before[::max(1, len(before) // 20)]:
        assert h.fulfill(account, "pg_gold_100", txn).status_code == 200
    assert {a: h.balance(a, "gold") for a in ACCOUNTS} == gold
    # The history API shows every acknowledged record, and a new
    # transaction is granted.
    for account in ACCOUNTS:
        shown = history_ids(h, account)
        assert {t for a, t in before if a == account} <= shown
    assert h.fulfill("player-1", "pg_gold_100", "after-restore").status_code == 200
    assert h.balance("player-1", "gold") == gold["player-1"] + 100
    assert h.stop() == 0


def history_ids(g, account):
    """Every external id in the account's history, page by page."""
    ids, page = set(), 0
    while records := g.history(account, page_size=1000, page_index=page):
        ids |= {r["external_id"] for r in records}
        page += 1
    return ids


def test_backup_without_a_database_creates_nothing(make_grantd, tmp_path):
    g = make_grantd(migrate=False)
    dest = tmp_path / "b.db"
    r = backup(g, dest)
    refused(r, f"no database at {g.db_path}: start grantd serve or run grantd "
               "migrate first")
    assert not g.db_path.exists() and not dest.exists()
    assert sorted(p.name for p in g.dir.iterdir()) == ["catalog.json", "grantd.yaml"]


def test_backup_refuses_an_existing_file(make_grantd, tmp_path):
    g = make_grantd()
    assert g.cli("migrate", "--config", cfg(g)).returncode == 0
    dest = tmp_path / "b.db"
    dest.write_text("precious")
    refused(backup(g, dest), f"{dest} already exists; choose a new file")
    assert dest.read_text() == "precious"


def test_backup_text_output_and_offline_database(make_grantd, tmp_path):
    """With no server running the backup reads the file as it is."""
    g = live_server(make_grantd)
    assert g.fulfill("player-1", "pg_gold_100", "t-1").status_code == 200
    assert g.stop() == 0
    before = g.snapshot()
    dest = tmp_path / "b.db"
    r = backup(g, dest)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"backup of {g.db_path} written to {dest}: schema version "
                        f"{schema_version(g.db_path)}, 1 fulfilments, 4 accounts, "
                        f"{dest.stat().st_size} bytes\n")
    assert g.snapshot() == before


def schema_version(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def make_backup(make_grantd, tmp_path):
    """A stopped server's database with one fulfilment, and a backup of it."""
    g = live_server(make_grantd, "source")
    assert g.fulfill("player-1", "pg_gold_100", "t-1").status_code == 200
    assert g.stop() == 0
    dest = tmp_path / "good.db"
    assert backup(g, dest).returncode == 0
    return g, dest


def test_restore_refuses_files_that_are_not_grantd_backups(make_grantd, tmp_path):
    _, good = make_backup(make_grantd, tmp_path)
    h = make_grantd("target", migrate=False)
    text = tmp_path / "notes.db"
    text.write_text("these are not the pages you are looking for\n" * 100)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    newer = tmp_path / "newer.db"
    newer.write_bytes(good.read_bytes())
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE accounts (id)")
    latest = schema_version(good)
    cases = [
        (text, f"{text}: not a grantd backup: file is not a database"),
        (truncated, f"{truncated}: not a grantd backup: "),
        (newer, f"{newer}: schema version 99 is newer than this grantd knows ({latest})"),
        (foreign, f"{foreign}: not a grantd backup: it has no fulfillments table"),
        (tmp_path / "missing.db", f"{tmp_path / 'missing.db'}: No such file or directory"),
    ]
    for path, message in cases:
        refused(restore(h, path, "--force"), message, exact=path != truncated)
        assert sorted(p.name for p in h.dir.iterdir()) == ["catalog.json", "grantd.yaml"]


def test_restore_over_a_database_needs_force_and_a_stopped_server(make_grantd, tmp_path):
    src, good = make_backup(make_grantd, tmp_path)
    h = live_server(make_grantd, "target")
    assert h.fulfill("player-2", "pg_gold_100", "other-1").status_code == 200
    assert h.fulfill("player-2", "pg_gold_100", "other-2").status_code == 200

    refused(restore(h, good), f"a database already exists at {h.db_path}; stop "
                              "grantd and move it aside, or pass --force")
    refused(restore(h, good, "--force"),
            f"{h.db_path} is in use (is grantd running?); stop it first")
    # The running server noticed nothing.
    assert h.fulfill("player-2", "pg_gold_100", "other-3").status_code == 200
    assert h.balance("player-2", "gold") == 300
    assert h.stop() == 0
    assert not (h.dir / "grantd.db-wal").exists()  # a clean stop removes it

    # Leave a WAL beside the old database, as a crash would; applied to the
    # restored file it would add the account "stale" (or corrupt it).
    db = sqlite3.connect(h.db_path, isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("INSERT INTO accounts VALUES ('stale', 'active', 1, 1)")
    wal = (h.dir / "grantd.db-wal").read_bytes()
    db.close()
    assert len(wal) > 0 and not (h.dir / "grantd.db-wal").exists()
    (h.dir / "grantd.db-wal").write_bytes(wal)
    r = restore(h, good, "--force")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"restored {good} to {h.db_path}: schema version "
                        f"{schema_version(good)}, 1 fulfilments\n")
    assert not (h.dir / "grantd.db-wal").exists()
    assert not (h.dir / "grantd.db-shm").exists()
    assert [p.name for p in h.dir.iterdir() if ".tmp-" in p.name] == []
    h.prime_key, h.partner_key = src.prime_key, src.partner_key  # restored
    h.start()
    assert h.balance("player-1", "gold") == 100
    assert h.balance("player-2", "gold") == 0
    assert h.put_account("stale").status_code == 201   # not in the backup
    assert h.stop() == 0
    assert h.snapshot()["fulfillments"] == src.snapshot()["fulfillments"]
