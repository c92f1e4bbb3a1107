#!/usr/bin/python3
"""bench/run.py: grantd's benchmark driver (make bench).

Runs grantd and a bare libmicrohttpd server (bench/baseline.c: the HTTP
work alone, on a mature library) under wrk at
1, 16, 64 and 256 connections, grantd with storage.batch_max: 1 as the
one-commit-per-request reference, the open-loop generator (bench/openloop.c)
at fixed rates, and an RSS soak; checks every grantd database afterwards;
writes bench/results/latest.md and prints a one-line summary last.

Builds nothing: `make bench` has built build/grantd, build/grantd_baseline
and build/grantd_openloop. Python standard library only.

Environment: BENCH_SECONDS (wrk runs, 10), BENCH_OPEN_SECONDS (30),
BENCH_SOAK_SECONDS (60), BENCH_QUICK=1 (or --quick: 3 s / 5 s / 5 s),
BENCH_BUILD_DIR (build), BENCH_DIR (scratch directory parent, /tmp),
BENCH_KEEP=1 (keep the scratch directory).
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CATALOG = BENCH / "catalog.json"
LUA = BENCH / "fulfil.lua"
RESULTS = BENCH / "results" / "latest.md"

ACCOUNTS = 10_000
CONNECTIONS = (1, 16, 64, 256)
OPEN_RATES = (5_000, 10_000, 20_000)
OPEN_CONNECTIONS = 64
SERVER_THREADS = 2
WARMUP_SECONDS = 2
MIB = 1024 * 1024
SOURCE = "primegaming"


class BenchError(Exception):
    """Something the benchmark cannot go on without."""


def log(msg):
    print(f"bench: {msg}", flush=True)


# ---- settings -----------------------------------------------------------

class Settings:
    def __init__(self, quick):
        env = os.environ
        self.quick = quick
        self.seconds = 3 if quick else int(env.get("BENCH_SECONDS", "10"))
        self.open_seconds = 5 if quick else int(env.get("BENCH_OPEN_SECONDS", "30"))
        self.soak_seconds = 5 if quick else int(env.get("BENCH_SOAK_SECONDS", "60"))
        self.warmup = 1 if quick else WARMUP_SECONDS
        build = Path(env.get("BENCH_BUILD_DIR", REPO / "build"))
        self.grantd = build / "grantd"
        self.baseline = build / "grantd_baseline"
        self.openloop = build / "grantd_openloop"
        self.scratch_parent = env.get("BENCH_DIR", tempfile.gettempdir())
        self.keep = env.get("BENCH_KEEP") == "1"
        if min(self.seconds, self.open_seconds, self.soak_seconds) < 1:
            raise BenchError("BENCH_*_SECONDS must be at least 1")


# ---- the catalog: SKUs and what each one must grant ---------------------

def load_catalog():
    """Returns (skus, expected): expected[entitlement_id] = {catalog_id:
    (rows, total amount)} for one fulfilment of that entitlement."""
    doc = json.loads(CATALOG.read_text())
    bundles = {b["id"]: b for b in doc.get("bundles", [])}
    skus, expected = [], {}
    for e in doc["entitlements"]:
        lines = []
        if "stackable" in e:
            lines.append((e["stackable"]["catalogId"], e["stackable"]["amount"]))
        elif "instanced" in e:
            lines.append((e["instanced"]["catalogId"], 1))
        else:
            b = bundles[e["bundle"]["id"]]
            lines += [(s["catalogId"], s["amount"]) for s in b.get("stackables", [])]
            lines += [(i["catalogId"], 1) for i in b.get("instanced", [])]
        want = {}
        for cid, amount in lines:
            rows, total = want.get(cid, (0, 0))
            want[cid] = (rows + 1, total + amount)
        expected[e["id"]] = want
        skus += [p["primeGaming"]["sku"] for p in e["providerDetails"]
                 if "primeGaming" in p]
    return skus, expected


# ---- processes ----------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    """VmRSS and VmHWM of pid in bytes (None when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0]) * 1024
    except OSError:
        return None
    return out


class RssSampler:
    """Samples a process's VmRSS once a second in a thread."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.monotonic()
        while not self._stop.is_set():
            st = proc_status(self.pid)
            if st is None:
                return
            self.samples.append((time.monotonic() - t0, st.get("VmRSS", 0)))
            self._stop.wait(1.0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def cpu_busy_seconds():
    """CPU time all processes on the machine used (all CPUs), from /proc/stat,
    plus time the hypervisor stole. Interrupt time is left out: it is not
    charged to any process, and loopback traffic makes a lot of it."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[:8])
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(server_pid):
    t = os.times()
    return (t.user + t.system + t.children_user + t.children_system
            + process_cpu_seconds(server_pid))


class CpuWatch:
    """How much CPU other processes on the machine used during a measurement
    (a noisy neighbour skews every number): machine busy time minus this
    script's, its finished children's (wrk, openloop) and the server's."""

    def __init__(self, server_pid):
        self.pid = server_pid
        self.other_pct = None

    def __enter__(self):
        self.t0 = time.monotonic()
        self.busy0 = cpu_busy_seconds()
        self.own0 = own_cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        other = (cpu_busy_seconds() - self.busy0) - (own_cpu_seconds(self.pid) - self.own0)
        if wall > 0:
            self.other_pct = max(0.0, 100 * other / wall / (os.cpu_count() or 1))


class Server:
    """One grantd or baseline process on a fixed loopback port."""

    def __init__(self, kind, argv, workdir, ready_stream):
        self.kind = kind
        self.argv = argv
        self.workdir = workdir
        self.ready_stream = ready_stream  # "stderr" for grantd, "stdout" for the baseline
        self.proc = None
        self.port = None
        self.stdout_path = workdir / f"{kind}.stdout"
        self.stderr_path = workdir / f"{kind}.stderr"
        self.exit_code = None

    def start(self, port, timeout=20):
        self.port = port
        argv = [a.replace("{port}", str(port)) for a in self.argv]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=REPO)
        ready = self.stderr_path if self.ready_stream == "stderr" else self.stdout_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._listening(ready):
                return self
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} exited with {self.proc.returncode} at "
                                 f"start: {self.stderr_path.read_text()[-2000:]}")
            time.sleep(0.02)
        raise BenchError(f"{self.kind} did not report listening in {timeout} s")

    def _listening(self, path):
        with open(path, "rb") as f:
            for raw in f:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if line.get("event") == "listening":
                    return line.get("port") == self.port
        return False

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit code (None if never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.exit_code = "killed after SIGTERM timeout"
        self.proc = None
        return self.exit_code


def start_on_free_port(server, attempts=3):
    last = None
    for _ in range(attempts):
        try:
            return server.start(free_port())
        except BenchError as e:  # a port race: try another one
            last = e
            server.stop()
    raise last


# ---- grantd set-up --------------------------------------------------------

def yaml_config(port, db_path, batch_max=None):
    storage = f"  batch_max: {batch_max}\n" if batch_max else ""
    return ("server:\n"
            f"  listen: \"127.0.0.1:{port}\"\n"
            f"  threads: {SERVER_THREADS}\n"
            # one client address opens every connection
            "  max_connections_per_ip: 0\n"
            "storage:\n"
            f"{storage}"
            "  sqlite:\n"
            f"    path: \"{db_path}\"\n"
            "catalog:\n"
            f"  path: \"{CATALOG}\"\n"
            # the limiter runs on every request, but never throttles here
            "auth:\n"
            "  rate_limit:\n"
            "    per_second: 1000000\n"
            "    burst: 1000000\n"
            "log:\n"
            "  level: info\n")


def run_cli(settings, *args, timeout=60):
    r = subprocess.run([str(settings.grantd), *args], capture_output=True,
                       text=True, timeout=timeout, cwd=REPO)
    if r.returncode != 0:
        raise BenchError(f"grantd {' '.join(args[:2])} failed: {r.stderr.strip()}")
    return r.stdout


def create_key(settings, config, name, scope):
    out = run_cli(settings, "keys", "create", "--config", str(config),
                  "--name", name, "--scope", scope, "--json")
    return json.loads(out.strip().splitlines()[-1])["key"]


def insert_accounts(db_path):
    """The 10,000 accounts, written straight into the accounts table."""
    now = int(time.time() * 1000)
    rows = [(f"bench-{i}", "active", now, now) for i in range(ACCOUNTS)]
    con = sqlite3.connect(db_path, timeout=30)
    try:
        with con:
            con.executemany("INSERT INTO accounts (account_id, state, created_at_ms,"
                            " updated_at_ms) VALUES (?, ?, ?, ?)", rows)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n = con.execute("SELECT count(*) FROM accounts").fetchone()[0]
    finally:
        con.close()
    if n != ACCOUNTS:
        raise BenchError(f"template database has {n} accounts, expected {ACCOUNTS}")


class Template:
    """A migrated database with the keys and accounts, copied for each run."""

    def __init__(self, settings, scratch):
        self.dir = scratch / "template"
        self.dir.mkdir()
        self.db = self.dir / "grantd.db"
        config = self.dir / "grantd.yaml"
        config.write_text(yaml_config(0, self.db))
        run_cli(settings, "migrate", "--config", str(config))
        self.prime_key = create_key(settings, config, "bench-prime",
                                    "fulfillment:primegaming")
        self.operator_key = create_key(settings, config, "bench-operator", "operator")
        insert_accounts(self.db)
        for suffix in ("-wal", "-shm"):
            extra = Path(str(self.db) + suffix)
            if extra.exists() and extra.stat().st_size == 0:
                extra.unlink()

    def copy_to(self, workdir):
        db = workdir / "grantd.db"
        shutil.copyfile(self.db, db)
        wal = Path(str(self.db) + "-wal")
        if wal.exists():
            shutil.copyfile(wal, Path(str(db) + "-wal"))
        return db


# ---- metrics --------------------------------------------------------------

METRICS = ("grantd_store_batches_total", "grantd_store_intents_total",
           "grantd_store_fsyncs_total", "grantd_store_checkpoints_total",
           "grantd_store_writer_checkpoints_total",
           "grantd_store_writer_checkpoint_microseconds_total")


def scrape_metrics(port, key):
    """grantd's store counters from /metrics ({} when the endpoint or the
    counters are missing: the report then says n/a)."""
    try:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        con.request("GET", "/metrics", headers={"Authorization": f"Bearer {key}"})
        resp = con.getresponse()
        body = resp.read().decode("utf-8", "replace")
        con.close()
    except (OSError, http.client.HTTPException):
        return {}
    if resp.status != 200:
        return {}
    values = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        if name in METRICS:
            try:
                values[name] = values.get(name, 0.0) + float(value)
            except ValueError:
                continue
    return values


def store_rates(before, after, seconds):
    """Average batch size, fsyncs/s, checkpoints and the writer's checkpoint
    time (ms) between two scrapes; None where a counter is missing."""
    def delta(name):
        if name in before and name in after:
            return after[name] - before[name]
        return None
    batches, intents = delta(METRICS[0]), delta(METRICS[1])
    fsyncs = delta(METRICS[2])
    ckpt = delta(METRICS[3])
    writer_us = delta(METRICS[5])
    return {
        "batch": intents / batches if batches and intents is not None else None,
        "fsyncs": fsyncs / seconds if fsyncs is not None else None,
        "checkpoints": ckpt,
        "writer_ckpt_ms": writer_us / 1000 if writer_us is not None else None,
    }


def fmt_ckpt(r):
    if r.get("checkpoints") is None:
        return "n/a"
    return f"{r['checkpoints']:.0f} ({fmt(r.get('writer_ckpt_ms'), 1)})"


# ---- load generators ------------------------------------------------------

class Load:
    def __init__(self, settings, skus, key):
        self.s = settings
        self.skus = skus
        self.key = key
        self.commands = []  # (label, command line) for the report

    def wrk_argv(self, port, conns, seconds):
        threads = 1 if conns == 1 else 2
        return ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
                "-s", str(LUA), "--latency", f"http://127.0.0.1:{port}/"]

    def wrk(self, port, conns, seconds, prefix, label=None):
        argv = self.wrk_argv(port, conns, seconds)
        env = dict(os.environ, BENCH_PREFIX=prefix, BENCH_KEY=self.key or "",
                   BENCH_ACCOUNTS=str(ACCOUNTS), BENCH_SKUS=",".join(self.skus))
        if label:
            self.commands.append((label, f"BENCH_PREFIX={prefix} BENCH_KEY=<prime key> "
                                  f"BENCH_ACCOUNTS={ACCOUNTS} BENCH_SKUS={env['BENCH_SKUS']} "
                                  + " ".join(argv)))
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=seconds + 90)
        for line in r.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                return wrk_result(json.loads(line[len("BENCH_JSON "):]))
        raise BenchError(f"wrk printed no result (exit {r.returncode}): "
                         f"{r.stdout[-1000:]} {r.stderr[-1000:]}")

    def openloop(self, port, rate, seconds, prefix, label=None):
        argv = [str(self.s.openloop), "--rate", str(rate), "--duration", str(seconds),
                "--connections", str(OPEN_CONNECTIONS), "--host", "127.0.0.1",
                "--port", str(port), "--accounts", str(ACCOUNTS),
                "--skus", ",".join(self.skus), "--prefix", prefix, "--key", self.key]
        if label:
            shown = [a if a != self.key else "<prime key>" for a in argv]
            self.commands.append((label, " ".join(shown)))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if r.returncode != 0:
            raise BenchError(f"openloop failed ({r.returncode}): {r.stderr[-1000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])


def wrk_result(j):
    """wrk's done() JSON, with the derived numbers the report uses."""
    seconds = j["duration_us"] / 1e6
    errors = j["errors"]
    return {
        "requests": j["requests"],
        "sent": j["sent"],
        "ok": j["requests"] - errors["status"],  # grantd never answers 3xx
        "errors": errors,
        "socket_errors": errors["connect"] + errors["read"] + errors["write"]
        + errors["timeout"],
        "seconds": seconds,
        "rps": j["requests"] / seconds if seconds > 0 else 0.0,
        "p50_ms": j["latency_us"]["p50"] / 1000,
        "p90_ms": j["latency_us"]["p90"] / 1000,
        "p99_ms": j["latency_us"]["p99"] / 1000,
        "p999_ms": j["latency_us"]["p999"] / 1000,
        "max_ms": j["latency_us"]["max"] / 1000,
    }


# ---- database checks ------------------------------------------------------

def check_database(db_path, prefix, ok, sent, expected):
    """Checks one grantd database after its server stopped. Returns
    (facts, problems). The measured requests are those whose transaction id
    starts with prefix: every reply counted as 2xx must be a completed
    fulfilment, and at most `sent` were completed (requests still in flight
    when the client stopped are committed by grantd but never counted)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return _check(con, prefix + "-", ok, sent, expected)
    finally:
        con.close()


def _check(con, prefix, ok, sent, expected):
    problems = []
    q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
    by_status = dict(q("SELECT status, count(*) FROM fulfillments"
                       " WHERE substr(external_id, 1, ?) = ? GROUP BY status",
                       len(prefix), prefix))
    completed = by_status.get("completed", 0)
    facts = {"completed": completed, "ok": ok, "sent": sent,
             "in_flight_committed": completed - ok,
             "other_status": {k: v for k, v in by_status.items() if k != "completed"}}
    if completed < ok:
        problems.append(f"{ok} replies were 2xx but only {completed} fulfilments "
                        "are completed")
    if completed > sent:
        problems.append(f"{completed} fulfilments completed but only {sent} "
                        "requests were sent")
    if facts["other_status"]:
        problems.append(f"fulfilments not completed: {facts['other_status']}")
    problems += _check_unique(q)
    problems += _check_grants(q, expected)
    problems += _check_ledger(q)
    return facts, problems


def _check_unique(q):
    dups = q("SELECT source, external_id, count(*) FROM fulfillments"
             " GROUP BY source, external_id HAVING count(*) > 1 LIMIT 5")
    return [f"transaction granted more than once: {d}" for d in dups]


def _check_grants(q, expected):
    """Every completed fulfilment has exactly its entitlement's grants; no
    other fulfilment has any."""
    problems = []
    rows = q("SELECT f.entitlement_id, g.catalog_id, count(*), sum(g.amount),"
             "       count(DISTINCT f.row_id)"
             " FROM fulfillments f JOIN grants g ON g.fulfillment_row = f.row_id"
             " WHERE f.status = 'completed' GROUP BY 1, 2")
    n_by_ent = dict(q("SELECT entitlement_id, count(*) FROM fulfillments"
                      " WHERE status = 'completed' GROUP BY 1"))
    seen = {}
    for ent, cid, rows_n, amount, _ in rows:
        seen.setdefault(ent, {})[cid] = (rows_n, amount)
    for ent, n in n_by_ent.items():
        want = {cid: (r * n, a * n) for cid, (r, a) in expected.get(ent, {}).items()}
        if ent not in expected:
            problems.append(f"{n} completed fulfilments of unknown entitlement {ent!r}")
        elif seen.get(ent, {}) != want:
            problems.append(f"grants of {ent}: {seen.get(ent)} != expected {want} "
                            f"for {n} fulfilments")
    stray = q("SELECT count(*) FROM grants g JOIN fulfillments f"
              " ON g.fulfillment_row = f.row_id WHERE f.status != 'completed'")[0][0]
    if stray:
        problems.append(f"{stray} grants belong to fulfilments that are not completed")
    per_fulfilment = q("SELECT count(*) FROM fulfillments f WHERE f.status = 'completed'"
                       " AND NOT EXISTS (SELECT 1 FROM grants g"
                       "                 WHERE g.fulfillment_row = f.row_id)")[0][0]
    if per_fulfilment:
        problems.append(f"{per_fulfilment} completed fulfilments have no grant")
    return problems


def _check_ledger(q):
    """Inventory equals the sum of the grants (the template starts empty)."""
    problems = []
    ledger = {(a, c): s for a, c, s in q(
        "SELECT f.account_id, g.catalog_id, sum(g.amount) FROM grants g"
        " JOIN fulfillments f ON g.fulfillment_row = f.row_id"
        " WHERE g.instance_id IS NULL GROUP BY 1, 2")}
    inventory = {(a, c): s for a, c, s in q(
        "SELECT account_id, catalog_id, amount FROM inventory_stackables")}
    if ledger != inventory:
        diff = [k for k in set(ledger) | set(inventory) if ledger.get(k) != inventory.get(k)]
        problems.append(f"stackable balances differ from the grants for {len(diff)} "
                        f"(account, item) pairs, e.g. {diff[:3]}")
    missing = q("SELECT count(*) FROM grants g WHERE g.instance_id IS NOT NULL AND"
                " NOT EXISTS (SELECT 1 FROM inventory_instances i"
                "             WHERE i.instance_id = g.instance_id)")[0][0]
    n_inst = q("SELECT count(*) FROM inventory_instances")[0][0]
    n_inst_grants = q("SELECT count(*) FROM grants WHERE instance_id IS NOT NULL")[0][0]
    if missing or n_inst != n_inst_grants:
        problems.append(f"instances: {n_inst} in the inventory, {n_inst_grants} "
                        f"granted, {missing} grants without their instance")
    return problems


# ---- one server run -------------------------------------------------------

def log_oddities(path, limit=3):
    """Counts grantd log lines above info level; returns (count, examples)."""
    count, examples = 0, []
    try:
        with open(path, "rb") as f:
            for raw in f:
                if b'"level":"info"' in raw:
                    continue
                count += 1
                if len(examples) < limit:
                    examples.append(raw.decode("utf-8", "replace").strip()[:300])
    except OSError:
        pass
    return count, examples


class Bench:
    def __init__(self, settings):
        self.s = settings
        self.skus, self.expected = load_catalog()
        self.problems = []   # integrity failures: the benchmark fails
        self.notes = []      # odd things worth a look
        self.runs = {}       # (conns, server) -> result dict
        self.open = {}       # (server, rate) -> result dict
        self.soak = None
        self.configs = {}
        self.loadavg_start = os.getloadavg()
        self.scratch = Path(tempfile.mkdtemp(prefix="grantd-bench-",
                                             dir=settings.scratch_parent))
        self.template = None
        self.load = None
        self.counter = 0

    # -- servers --
    def new_workdir(self, name):
        self.counter += 1
        d = self.scratch / f"{self.counter:02d}-{name}"
        d.mkdir()
        return d

    def grantd_server(self, workdir, batch_max=None):
        db = self.template.copy_to(workdir)
        config = workdir / "grantd.yaml"
        config.write_text(yaml_config("{port}", db, batch_max))
        self.configs["batch_max: 1" if batch_max else "grantd"] = config.read_text()
        argv = [str(self.s.grantd), "serve", "--config", str(config)]
        server = Server("grantd", argv, workdir, "stderr")
        server.db = db
        server.config = config
        return server

    def start_grantd(self, server):
        """grantd's config names its port: written once the port is known."""
        text = server.config.read_text()
        for attempt in range(3):
            port = free_port()
            server.config.write_text(text.replace("{port}", str(port)))
            try:
                return server.start(port)
            except BenchError as e:
                server.stop()
                if attempt == 2:
                    raise e
        return server

    def launch(self, server):
        if server.kind == "baseline":
            return start_on_free_port(server)
        return self.start_grantd(server)

    def baseline_server(self, workdir):
        argv = [str(self.s.baseline), "--port", "{port}", "--threads",
                str(SERVER_THREADS)]
        return Server("baseline", argv, workdir, "stdout")

    def finish_server(self, server, label):
        rc = server.stop()
        if rc not in (0, None):
            self.problems.append(f"{label}: {server.kind} exit status {rc} after SIGTERM")
        if server.kind == "grantd":
            n, examples = log_oddities(server.stderr_path)
            if n:
                self.notes.append(f"{label}: {n} grantd log lines above info, e.g. "
                                  + " | ".join(examples))

    def metrics(self, server):
        if server.kind == "baseline":
            return {}
        return scrape_metrics(server.port, self.template.operator_key)

    def db_check(self, server, label, prefix, ok, sent):
        facts, problems = check_database(server.db, prefix, ok, sent, self.expected)
        self.problems += [f"{label}: {p}" for p in problems]
        facts["passed"] = not problems
        return facts

    def note_cpu(self, label, cpu, res):
        res["other_cpu_pct"] = cpu.other_pct
        if cpu.other_pct is not None and cpu.other_pct > 10:
            self.notes.append(f"{label}: other processes used {cpu.other_pct:.0f}% of "
                              "the machine's CPU during the measurement")

    def cleanup_run(self, workdir):
        if not self.s.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- closed loop --
    def closed_run(self, kind, conns, batch_max=None):
        label = f"{kind} c={conns}"
        workdir = self.new_workdir(f"{kind.replace(' ', '')}-c{conns}")
        server = (self.baseline_server(workdir) if kind == "baseline"
                  else self.grantd_server(workdir, batch_max))
        run_id = f"r{self.counter}"
        try:
            self.launch(server)
            self.load.wrk(server.port, conns, self.s.warmup, f"w{run_id}")
            before = self.metrics(server)
            with RssSampler(server.pid) as rss, CpuWatch(server.pid) as cpu:
                res = self.load.wrk(server.port, conns, self.s.seconds, f"m{run_id}",
                                    label=f"{label} (measured)")
            after = self.metrics(server)
            hwm = (proc_status(server.pid) or {}).get("VmHWM", 0)
        finally:
            self.finish_server(server, label)
        res.update(store_rates(before, after, res["seconds"]))
        self.note_cpu(label, cpu, res)
        res["rss_peak"] = max([hwm] + [v for _, v in rss.samples])
        if kind != "baseline":
            res["db"] = self.db_check(server, label, f"m{run_id}", res["ok"], res["sent"])
        elif res["ok"] != res["requests"]:
            self.notes.append(f"{label}: {res['requests'] - res['ok']} non-2xx replies")
        if res["socket_errors"]:
            self.notes.append(f"{label}: wrk socket errors {res['errors']}")
        self.cleanup_run(workdir)
        self.runs[(conns, kind)] = res
        log(f"{label}: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.2f} ms, "
            f"p99 {res['p99_ms']:.2f} ms, batch {fmt(res['batch'], 1)}, "
            f"fsyncs/s {fmt(res['fsyncs'], 0)}, peak RSS {res['rss_peak'] / MIB:.1f} MiB"
            + (f", db {'ok' if res['db']['passed'] else 'MISMATCH'}"
               if "db" in res else ""))
        return res

    # -- open loop --
    def open_run(self, kind, rate, seconds):
        label = f"open loop {kind} {rate}/s"
        workdir = self.new_workdir(f"open-{kind}-{rate}")
        server = (self.baseline_server(workdir) if kind == "baseline"
                  else self.grantd_server(workdir))
        run_id = f"r{self.counter}"
        try:
            self.launch(server)
            self.load.openloop(server.port, rate, self.s.warmup, f"w{run_id}")
            before = self.metrics(server)
            with CpuWatch(server.pid) as cpu:
                res = self.load.openloop(server.port, rate, seconds, f"m{run_id}",
                                         label=label)
            after = self.metrics(server)
            res["rss_peak"] = (proc_status(server.pid) or {}).get("VmHWM", 0)
        finally:
            self.finish_server(server, label)
        res.update(store_rates(before, after, seconds))
        self.note_cpu(label, cpu, res)
        if kind == "grantd":
            res["db"] = self.db_check(server, label, f"m{run_id}", res["ok"], res["sent"])
        if res["errors"]["total"] or res["errors"]["connect"]:
            self.notes.append(f"{label}: errors {res['errors']}")
        if res["achieved_rate"] < 0.99 * rate:
            self.notes.append(f"{label}: achieved only {res['achieved_rate']:.0f}/s")
        self.cleanup_run(workdir)
        self.open[(kind, rate)] = res
        lat = res["latency_ms"]
        log(f"{label}: achieved {res['achieved_rate']:.0f}/s, p50 {lat['p50']:.2f} ms, "
            f"p99 {lat['p99']:.2f} ms, p99.9 {lat['p999']:.2f} ms, max {lat['max']:.2f} ms, "
            f"errors {res['errors']['total']}" + (
                f", db {'ok' if res['db']['passed'] else 'MISMATCH'}" if "db" in res else ""))

    # -- soak --
    def soak_run(self):
        label = f"soak c=64 {self.s.soak_seconds}s"
        workdir = self.new_workdir("soak")
        server = self.grantd_server(workdir)
        run_id = f"r{self.counter}"
        try:
            self.start_grantd(server)
            self.load.wrk(server.port, 64, self.s.warmup, f"w{run_id}")
            with RssSampler(server.pid) as rss, CpuWatch(server.pid) as cpu:
                res = self.load.wrk(server.port, 64, self.s.soak_seconds, f"m{run_id}",
                                    label=label)
            hwm = (proc_status(server.pid) or {}).get("VmHWM", 0)
        finally:
            self.finish_server(server, label)
        res["db"] = self.db_check(server, label, f"m{run_id}", res["ok"], res["sent"])
        self.note_cpu(label, cpu, res)
        window = min(10, max(1, self.s.soak_seconds // 3))
        values = [v for _, v in rss.samples]
        res["window"] = window
        res["samples"] = len(values)
        res["first"] = avg(values[:window])
        res["last"] = avg(values[-window:])
        res["rss_peak"] = max([hwm] + values)
        res["rss_samples"] = rss.samples
        self.cleanup_run(workdir)
        self.soak = res
        log(f"{label}: {res['rps']:.0f} req/s, RSS first {window} s {res['first'] / MIB:.1f}"
            f" MiB, last {window} s {res['last'] / MIB:.1f} MiB, peak "
            f"{res['rss_peak'] / MIB:.1f} MiB")

    # -- the whole benchmark --
    def prepare(self):
        for p in (self.s.grantd, self.s.baseline, self.s.openloop):
            if not os.access(p, os.X_OK):
                raise BenchError(f"{p} is missing: run `make bench` (it builds it)")
        if not shutil.which("wrk"):
            raise BenchError("wrk is not installed (apt-get install wrk)")
        log(run_cli(self.s, "catalog", "check", str(CATALOG)).strip())
        self.template = Template(self.s, self.scratch)
        self.load = Load(self.s, self.skus, self.template.prime_key)
        log(f"template database ready: {ACCOUNTS} accounts, keys for "
            f"fulfillment:primegaming and operator ({self.scratch})")

    def run(self):
        self.prepare()
        for conns in CONNECTIONS:
            self.closed_run("baseline", conns)
            self.closed_run("grantd", conns)
            if conns == 64:
                self.closed_run("grantd batch_max=1", conns, batch_max=1)
        for rate in OPEN_RATES:
            self.open_run("grantd", rate, self.s.open_seconds)
        # Control: the generator against the bare server at the top rate.
        self.open_run("baseline", OPEN_RATES[-1], min(self.s.open_seconds, 10))
        self.soak_run()

    def close(self):
        if not self.s.keep:
            shutil.rmtree(self.scratch, ignore_errors=True)


# ---- report ---------------------------------------------------------------

def avg(values):
    return sum(values) / len(values) if values else 0.0


def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def fmt_pct(v):
    return "n/a" if v is None else f"{v:.0f}%"


def verdict(ok):
    return "PASS" if ok else "MISS"


def targets(b):
    """[(target, measured, limit, PASS/MISS)] for the benchmark's targets."""
    out = []
    g64, base64 = b.runs.get((64, "grantd")), b.runs.get((64, "baseline"))
    b1 = b.runs.get((64, "grantd batch_max=1"))
    g1, base1 = b.runs.get((1, "grantd")), b.runs.get((1, "baseline"))
    if g64 and base64:
        r = g64["rps"] / base64["rps"]
        out.append(("64 connections: grantd / baseline req/s", f"{r:.3f}", "≥ 0.5",
                    verdict(r >= 0.5)))
        out.append(("64 connections: grantd p99 (wrk)", f"{g64['p99_ms']:.2f} ms",
                    "≤ 10 ms", verdict(g64["p99_ms"] <= 10)))
    o = b.open.get(("grantd", 10_000))
    if o:
        # Unsent and unanswered requests are in the percentiles already (at
        # their wait so far); lost requests are not, so they fail the target.
        e = o["errors"]
        lost = e["read"] + e["write"] + e["parse"]
        note = f" ({e['total']} errors)" if e["total"] else ""
        lat = o["latency_ms"]
        for key, name, limit in (("p50", "p50", 1), ("p99", "p99", 5), ("p999", "p99.9", 20)):
            out.append((f"open loop 10k/s: {name}", f"{lat[key]:.2f} ms{note}",
                        f"≤ {limit} ms", verdict(lat[key] <= limit and not lost)))
    if g1 and base1:
        d = g1["p50_ms"] - base1["p50_ms"]
        out.append(("1 connection: grantd p50 − baseline p50", f"{d:.2f} ms", "≤ 2 ms",
                    verdict(d <= 2)))
    if g64 and b1:
        r = g64["rps"] / b1["rps"]
        out.append(("64 connections: grantd / batch_max:1 req/s", f"{r:.2f}×", "≥ 4×",
                    verdict(r >= 4)))
    if g64:
        out.append(("64 connections: grantd peak RSS", f"{g64['rss_peak'] / MIB:.1f} MiB",
                    "≤ 64 MiB", verdict(g64["rss_peak"] <= 64 * MIB)))
    if b.soak:
        s = b.soak
        limit = s["first"] * 1.05
        out.append((f"soak: RSS avg last {s['window']} s vs first {s['window']} s",
                    f"{s['first'] / MIB:.1f} → {s['last'] / MIB:.1f} MiB",
                    "no growth (≤ +5%)", verdict(s["last"] <= limit)))
    return out


def machine_info():
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        mem = f"{int(mem) / 1024 / 1024:.1f} GiB"
    except OSError:
        mem = "?"
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "memory": mem, "date": datetime.datetime.now().astimezone().isoformat(
                timespec="seconds")}


def git_state():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True,
                               timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}" + (f" with {len(dirty)} locally modified files" if dirty else "")


def closed_table(b):
    lines = ["| connections | server | req/s | p50 ms | p99 ms | p99.9 ms | max ms | "
             "grantd/baseline | avg batch | fsyncs/s | checkpoints (writer ms) | peak RSS MiB | "
             "2xx | sent | completed in db | errors | other CPU |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for conns in CONNECTIONS:
        base = b.runs.get((conns, "baseline"))
        for kind in ("baseline", "grantd", "grantd batch_max=1"):
            r = b.runs.get((conns, kind))
            if not r:
                continue
            ratio = f"{r['rps'] / base['rps']:.3f}" if base and kind != "baseline" else "—"
            db = r.get("db")
            dbs = "—" if not db else (f"{db['completed']}"
                                      + ("" if db["passed"] else " **MISMATCH**"))
            errs = {k: v for k, v in r["errors"].items() if v}
            lines.append(
                f"| {conns} | {kind} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r['max_ms']:.2f} | {ratio} | "
                f"{fmt(r['batch'], 1)} | {fmt(r['fsyncs'], 0)} | {fmt_ckpt(r)} | "
                f"{r['rss_peak'] / MIB:.1f} | {r['ok']} | {r['sent']} | {dbs} | "
                f"{errs or 0} | {fmt_pct(r.get('other_cpu_pct'))} |")
    return lines


def open_table(b):
    lines = ["| server | rate/s | achieved/s | sent | 2xx | errors | p50 ms | p90 ms | "
             "p99 ms | p99.9 ms | max ms | max backlog | late sends | avg batch | "
             "fsyncs/s | checkpoints (writer ms) | peak RSS MiB | completed in db | other CPU |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
             "---:|---:|---:|---:|"]
    for (kind, rate), o in b.open.items():
        lat = o["latency_ms"]
        errs = {k: v for k, v in o["errors"].items() if v and k != "total"}
        db = o.get("db")
        dbs = "—" if not db else (f"{db['completed']}"
                                  + ("" if db["passed"] else " **MISMATCH**"))
        lines.append(
            f"| {kind} | {rate} | {o['achieved_rate']:.0f} | {o['sent']} | {o['ok']} | "
            f"{errs or 0} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | "
            f"{lat['p999']:.2f} | {lat['max']:.2f} | {o['max_backlog']} | "
            f"{o['late_sends']} | {fmt(o['batch'], 1)} | {fmt(o['fsyncs'], 0)} | "
            f"{fmt_ckpt(o)} | {o['rss_peak'] / MIB:.1f} | {dbs} | "
            f"{fmt_pct(o.get('other_cpu_pct'))} |")
    return lines


def soak_lines(b):
    s = b.soak
    if not s:
        return ["(not run)"]
    return [f"- {s['samples']} VmRSS samples (one a second) during {s['seconds']:.0f} s at "
            f"64 connections, {s['rps']:.0f} req/s, p99 {s['p99_ms']:.2f} ms",
            f"- average of the first {s['window']} s: {s['first'] / MIB:.2f} MiB; of the "
            f"last {s['window']} s: {s['last'] / MIB:.2f} MiB "
            f"({(s['last'] - s['first']) / MIB:+.2f} MiB)",
            f"- peak (VmHWM): {s['rss_peak'] / MIB:.2f} MiB; completed in db "
            f"{s['db']['completed']} for {s['ok']} 2xx replies; other processes' CPU "
            f"{fmt_pct(s.get('other_cpu_pct'))}",
            "- VmRSS every 5 s (s: MiB): " + ", ".join(
                f"{t:.0f}: {v / MIB:.1f}" for t, v in s["rss_samples"][::5])]


def write_report(b, summary):
    m = machine_info()
    s = b.s
    out = [f"# grantd benchmark — {m['date']}", "",
           f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, "
           f"Linux {m['kernel']}",
           f"- grantd source: {git_state()}; binaries from {s.grantd.parent}",
           f"- load average (1 min) at start {b.loadavg_start[0]:.2f}, at end "
           f"{os.getloadavg()[0]:.2f}; other processes' CPU share during each "
           "measurement is in the tables (`other CPU`)",
           f"- scratch (databases): {b.scratch.parent} on the same machine, loopback only",
           f"- runs: warm-up {s.warmup} s, wrk {s.seconds} s per point, open loop "
           f"{s.open_seconds} s per rate at {OPEN_CONNECTIONS} connections, soak "
           f"{s.soak_seconds} s" + (" (--quick)" if s.quick else ""),
           f"- load: POST /v1/primegaming/fulfillment, unique transaction ids, "
           f"{ACCOUNTS} accounts (inserted into the template database with sqlite3), "
           f"SKUs {', '.join(b.skus)} (bench/catalog.json: no limits, no unique items)",
           f"- servers: grantd and the baseline both with {SERVER_THREADS} HTTP threads "
           "(grantd: its own epoll loops; the baseline: a libmicrohttpd thread pool, "
           "epoll); each point on a fresh copy of the "
           "template database", "",
           "grantd configuration (`storage.batch_max: 1` added for the reference run):",
           "", "```yaml", b.configs.get("grantd", "").replace("{port}", "<port>").rstrip(),
           "```", "",
           "## Closed loop (wrk)", "",
           "req/s, p50 and p99 are wrk's. 2xx = wrk's requests − status errors. "
           "`sent` counts the requests wrk generated; those still in flight when wrk "
           "stops are committed by grantd but not counted by wrk, so "
           "2xx ≤ completed in db ≤ sent is the check. Avg batch = Δintents / Δbatches "
           "and fsyncs/s from grantd's /metrics (n/a when absent). Peak RSS is VmHWM.",
           "", *closed_table(b), "",
           f"## Open loop ({OPEN_CONNECTIONS} connections, bench/openloop.c)", "",
           "Latency from each request's scheduled send time to the end of its reply "
           "(coordinated omission corrected), log-linear histogram (< 1% error). "
           "Requests still waiting for a free connection when sending stops (`unsent`) "
           "or unanswered 5 s later (`timeout`) count at their wait so far (a lower "
           "bound). `late sends`: requests sent more than 1 ms after their scheduled "
           "time because all connections were busy. The baseline row is a control: "
           "what the generator and the HTTP layer alone give at the top rate.",
           "", *open_table(b), "",
           "## RSS soak", "", *soak_lines(b), "",
           "## Targets (reported, not enforced)", "",
           "| target | measured | limit | result |", "|---|---|---|---|",
           *[f"| {t} | {v} | {lim} | {res} |" for t, v, lim, res in targets(b)], "",
           "## Integrity", ""]
    out += ([f"- **{p}**" for p in b.problems] or
            ["- every grantd run: each 2xx reply is a completed fulfilment, no "
             "transaction granted twice, every fulfilment has exactly its "
             "entitlement's grants, balances and instances equal the grants"])
    out += ["", "## Notes", ""] + ([f"- {n}" for n in b.notes] or ["- none"])
    out += ["", "## Commands", "", "```sh", "make bench   # = make build && "
            "/usr/bin/python3 bench/run.py" + (" --quick" if s.quick else ""),
            f"{s.grantd} serve --config <run dir>/grantd.yaml",
            f"{s.baseline} --port <port> --threads {SERVER_THREADS}"]
    out += [f"# {label}\n{cmd}" for label, cmd in b.load.commands] if b.load else []
    out += ["```", "", "Summary: `" + summary + "`", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(out))


def summary_line(b):
    g = b.runs.get((64, "grantd"))
    base = b.runs.get((64, "baseline"))
    b1 = b.runs.get((64, "grantd batch_max=1"))
    ratio = g["rps"] / base["rps"] if g and base else None
    return (f"bench: ratio={fmt(ratio, 3)} grantd_rps={fmt(g and g['rps'], 0)} "
            f"baseline_rps={fmt(base and base['rps'], 0)} "
            f"p99_ms={fmt(g and g['p99_ms'], 2)} batch1_rps={fmt(b1 and b1['rps'], 0)}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(description="grantd benchmark (see bench/run.py)")
    ap.add_argument("--quick", action="store_true",
                    help="3 s wrk runs, 5 s open loop and soak (smoke test)")
    args = ap.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    bench = None
    failed = False
    try:
        bench = Bench(Settings(quick))
        bench.run()
    except (BenchError, subprocess.SubprocessError, OSError, sqlite3.Error) as e:
        log(f"ERROR: {e}")
        failed = True
    except KeyboardInterrupt:
        log("interrupted")
        failed = True
    if bench is None:
        return 1
    try:
        summary = summary_line(bench)
        write_report(bench, summary)
        log(f"wrote {RESULTS.relative_to(REPO)}")
        for t, v, lim, res in targets(bench):
            log(f"target {res}: {t}: {v} (limit {lim})")
        for p in bench.problems:
            log(f"INTEGRITY FAILURE: {p}")
    finally:
        bench.close()
    print(summary, flush=True)
    return 1 if failed or bench.problems else 0


if __name__ == "__main__":
    sys.exit(main())
