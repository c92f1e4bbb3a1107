"""Fixtures that run the real grantd binary on a loopback port against a
throwaway SQLite file or PostgreSQL schema, and helpers to talk to it with
a real HTTP client.

GRANTD_TEST_DRIVERS (default "sqlite") lists the storage drivers every
test that makes a grantd runs against, as the parameter of `make_grantd`:
"sqlite,postgres" runs each such test twice. For "postgres", one
throwaway cluster (tests/pg/cluster.py) serves the whole run, each grantd
in a schema of its own. A test that is about SQLite itself (backup files,
the database path) is marked `sqlite_only`."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import sys

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))  # tests/: `import fakes`
from fakes.fixtures import (fake_epic, fake_primegaming,  # noqa: E402,F401
                            fake_steam, fake_tentuplay, fake_twitch)
import pgdb  # noqa: E402
GRANTD = os.environ.get("GRANTD_BIN", str(REPO / "build" / "grantd"))
TEST_CATALOG = HERE / "catalog_test.json"
# With GRANTD_SANITIZER_CHECK=1 (GRANTD_BIN an ASan/UBSan build), every
# grantd is stopped cleanly at teardown and its stderr must hold no report.
SANITIZER_CHECK = os.environ.get("GRANTD_SANITIZER_CHECK") == "1"
DRIVERS = [d for d in os.environ.get("GRANTD_TEST_DRIVERS", "sqlite")
           .split(",") if d]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only: the test is about SQLite itself (files, "
        "backups); it does not run against PostgreSQL")
    config.addinivalue_line(
        "markers", "postgres_only: several nodes on one database; runs "
        "only against PostgreSQL")


def sanitizer_reports(stderr_path):
    """The lines of a sanitizer report in a grantd's stderr, if any."""
    try:
        text = stderr_path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [f"{stderr_path}: {line}" for line in text.splitlines()
            if "Sanitizer" in line or "runtime error:" in line][:20]


class Grantd:
    """One grantd process with its own config, database and catalog."""

    def __init__(self, workdir: Path, catalog=TEST_CATALOG, config=None,
                 env=None, migrate=True, pg=None):
        # pg: a pgdb.Schema for the postgres driver; None for SQLite
        self.pg = pg
        self.driver = "postgres" if pg else "sqlite"
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.dir / "grantd.db"
        self.catalog_path = self.dir / "catalog.json"
        shutil.copy(catalog, self.catalog_path)
        self.config_path = self.dir / "grantd.yaml"
        self.stdout_path = self.dir / "stdout.log"
        self.stderr_path = self.dir / "stderr.log"
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None
        self.keys = {}
        self.write_config(config or {})
        if migrate:
            # as an operator would before using the command line: only
            # serve and migrate create the database (a bad config fails
            # here quietly and again, visibly, where the test expects it)
            self.cli("migrate", "--config", str(self.config_path))

    # ---- configuration and command line ---------------------------------
    def write_config(self, extra):
        storage = {"sqlite": {"path": str(self.db_path)}}
        linking = {}
        if self.pg:
            storage = {"driver": "postgres",
                       "postgres": {"url": self.pg.url, "pool_size": 4}}
            linking = {"token_key_file": str(self.pg.token_key_file)}
        cfg = {
            "server": {"listen": "127.0.0.1:0", "threads": 2},
            "storage": storage,
            "catalog": {"path": str(self.catalog_path)},
            "log": {"level": "info"},
        }
        if linking:
            cfg["linking"] = linking
        for section, values in extra.items():
            if isinstance(values, dict):
                cfg.setdefault(section, {}).update(values)
            else:
                cfg[section] = values
        lines = []

        def emit(d, indent):
            for k, v in d.items():
                if isinstance(v, dict):
                    lines.append(" " * indent + f"{k}:")
                    emit(v, indent + 2)
                elif isinstance(v, list):
                    lines.append(" " * indent + f"{k}:")
                    lines.extend(" " * (indent + 2) + "- " + json.dumps(x)
                                 for x in v)
                else:
                    if isinstance(v, bool):
                        v = "true" if v else "false"
                    lines.append(" " * indent + f"{k}: {json.dumps(v) if isinstance(v, str) else v}")

        emit(cfg, 0)
        self.config_path.write_text("\n".join(lines) + "\n")

    def cli(self, *args, check=False, timeout=30):
        return subprocess.run([GRANTD, *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, check=check)

    def serve_fails(self, env=None, limit_s=5):
        """Runs `grantd serve`, which must refuse to start: exit 1 within
        limit_s, nothing listening, nothing on stdout. Returns stderr."""
        t0 = time.monotonic()
        try:
            r = subprocess.run([GRANTD, "serve", "--config", str(self.config_path)],
                               capture_output=True, text=True, timeout=15,
                               env=dict(self.env, **(env or {})))
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"grantd started anyway: {e.stderr!r}")
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert time.monotonic() - t0 < limit_s
        assert '"event":"listening"' not in r.stderr
        assert r.stdout == ""
        return r.stderr

    def create_key(self, name, *scopes, extra=()):
        args = ["keys", "create", "--config", str(self.config_path),
                "--name", name, "--json"]
        for s in scopes:
            args += ["--scope", s]
        r = self.cli(*args, *extra)
        assert r.returncode == 0, r.stderr
        key = json.loads(r.stdout.strip().splitlines()[-1])
        self.keys[name] = key
        return key["key"]

    # ---- process --------------------------------------------------------
    def start(self, timeout=10, args=()):
        assert self.proc is None
        self.stderr_file = open(self.stderr_path, "ab")
        self.stdout_file = open(self.stdout_path, "ab")
        start_offset = self.stderr_path.stat().st_size
        self.proc = subprocess.Popen(
            [GRANTD, "serve", "--config", str(self.config_path), *args],
            stdout=self.stdout_file, stderr=self.stderr_file, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self._lines_from(start_offset):
                if line.get("event") == "listening":
                    self.port = line["port"]
                    return self
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"grantd exited with {self.proc.returncode}: "
                    f"{self.stderr_path.read_text()}")
            time.sleep(0.02)
        raise AssertionError("grantd did not start listening")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the process and returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("grantd did not stop in time")
        finally:
            self.proc = None
            self.stderr_file.close()
            self.stdout_file.close()
        if rc < 0 and sig != signal.SIGKILL:
            # a crash on the way out: show what grantd said last
            print(f"grantd ended by signal {-rc}; last stderr lines:\n" +
                  "\n".join(self.stderr_path.read_text(
                      errors="replace").splitlines()[-20:]))
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    # ---- logs -----------------------------------------------------------
    def _lines_from(self, offset):
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            for raw in f:
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue

    def log_lines(self, event=None):
        return [l for l in self._lines_from(0)
                if event is None or l.get("event") == event]

    def wait_log(self, event, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.log_lines(event)
            if len(lines) >= count:
                return lines
            time.sleep(0.02)
        raise AssertionError(f"no {event!r} log line after {timeout}s")

    # ---- HTTP -----------------------------------------------------------
    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, key=None, **kw):
        headers = kw.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url(path), headers=headers, **kw)

    def fulfill(self, account_id, sku, transaction_id, key=None, **kw):
        body = {"account_id": account_id, "sku": sku,
                "transaction_id": transaction_id}
        return self.request("POST", "/v1/primegaming/fulfillment",
                            key=key or self.prime_key, json=body, **kw)

    def put_account(self, account_id, state="active", key=None):
        return self.request("PUT", f"/v1/accounts/{account_id}",
                            key=key or self.partner_key, json={"state": state})

    def connections_closed(self, reason):
        """grantd_http_connections_closed_total{reason=...} from /metrics
        (needs self.ops_key)."""
        r = self.request("GET", "/metrics", key=self.ops_key)
        assert r.status_code == 200, r.text
        prefix = f'grantd_http_connections_closed_total{{reason="{reason}"}} '
        [line] = [l for l in r.text.splitlines() if l.startswith(prefix)]
        return int(float(line[len(prefix):]))

    def inventory(self, account_id):
        r = self.request("GET", f"/v1/accounts/{account_id}/inventory",
                         key=self.partner_key)
        assert r.status_code == 200, r.text
        return r.json()

    def balance(self, account_id, catalog_id):
        for s in self.inventory(account_id)["stackables"]:
            if s["catalog_id"] == catalog_id:
                return s["amount"]
        return 0

    def history(self, account_id, **params):
        r = self.request("GET", f"/v1/accounts/{account_id}/entitlements/history",
                         key=self.partner_key, params=params)
        assert r.status_code == 200, r.text
        return r.json()["provider_entitlement_records"]

    # ---- the database, read directly -------------------------------------
    def db(self):
        """A read connection to the database, for what no route shows:
        sqlite3's, or one that speaks like it on PostgreSQL (pgdb)."""
        if self.pg:
            return self.pg.connect()
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True,
                               timeout=10)

    def db_write(self):
        """A connection that writes, committing at the end of `with`."""
        if self.pg:
            return self.pg.connect()
        return sqlite3.connect(self.db_path, timeout=10)

    def fail_inserts(self, name, table, when="true"):
        """Makes the database refuse inserts into `table` whose new row
        matches `when` (SQL on NEW), as a failing disk or a constraint
        would: a fault injected under grantd. remove_fault(name) ends it."""
        with self.db_write() as c:
            if not self.pg:
                c.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table}"
                          f" WHEN {when} BEGIN SELECT RAISE(ABORT, "
                          "'injected fault'); END")
                return
            c.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE"
                      f" plpgsql AS $f$ BEGIN IF {when} THEN RAISE EXCEPTION"
                      " 'injected fault'; END IF; RETURN NEW; END $f$")
            c.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table}"
                      f" FOR EACH ROW EXECUTE FUNCTION {name}()")

    def remove_fault(self, name, table):
        with self.db_write() as c:
            c.execute(f"DROP TRIGGER {name}" +
                      (f" ON {table}" if self.pg else ""))
            if self.pg:
                c.execute(f"DROP FUNCTION {name}()")

    def tables(self, c):
        if self.pg:
            return self.pg.tables(c)
        return [r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]

    def outbox_settled(self, timeout=5):
        """Waits (at most `timeout` s) until the outbox holds no pending
        delivery, so background work does not change a snapshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db() as c:
                if "outbox" not in self.tables(c):
                    return
                if not c.execute("SELECT 1 FROM outbox WHERE status = "
                                 "'pending'").fetchone():
                    return
            time.sleep(0.02)

    def snapshot(self):
        """Every table's rows: compare two snapshots to prove nothing changed."""
        self.outbox_settled()
        with self.db() as c:
            return {t: sorted(map(repr, c.execute(f"SELECT * FROM {t}")))
                    for t in self.tables(c)}


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL cluster of the run (started on first use)."""
    server = pgdb.Server()
    yield server
    server.remove()


@pytest.fixture(params=DRIVERS)
def driver(request):
    """The storage driver this test's grantd instances run on."""
    if request.param == "postgres" and \
            request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite itself")
    if request.param != "postgres" and \
            request.node.get_closest_marker("postgres_only"):
        pytest.skip("needs PostgreSQL (GRANTD_TEST_DRIVERS=postgres)")
    return request.param


@pytest.fixture
def make_grantd(tmp_path, driver, request):
    """Factory for grantd instances; every one is stopped at teardown. On
    PostgreSQL each gets a fresh schema, unless `share` names another
    instance whose database it joins (a second node)."""
    made = []

    def make(name="g", share=None, **kw):
        if driver == "postgres" and "pg" not in kw:
            kw["pg"] = share.pg if share else \
                request.getfixturevalue("pg_server").schema()
        g = Grantd(tmp_path / name, **kw)
        made.append(g)
        return g

    yield make
    reports = []
    for g in made:
        if g.proc is not None and SANITIZER_CHECK:
            # a clean stop, so the sanitizers' exit checks (leaks) run
            try:
                g.stop(signal.SIGTERM, timeout=10)
            except AssertionError:
                pass
        elif g.proc is not None:
            g.stop(signal.SIGKILL)
        if SANITIZER_CHECK:
            reports += sanitizer_reports(g.stderr_path)
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def ready(g, operator=False):
    """Gives g a Prime Gaming key and a partner key (and an operator key in
    g.ops_key if asked), starts it and creates the account "player-1".
    Keys are made before the start so the server's cache has them."""
    g.prime_key = g.create_key("prime", "fulfillment:primegaming")
    g.partner_key = g.create_key("backend", "partner")
    if operator:
        g.ops_key = g.create_key("ops", "operator")
    g.start()
    assert g.put_account("player-1").status_code == 201
    return g


@pytest.fixture
def grantd(make_grantd):
    """A running grantd with a Prime Gaming key and a partner key, and the
    account "player-1" created."""
    return ready(make_grantd())
