"""The PostgreSQL benchmark: durable fulfilments per second through grantd
nodes on one local PostgreSQL (a throwaway cluster, fsync and
synchronous_commit on), at 64 connections in all.

Rows: one node; the same with batching off (storage.batch_max: 1, one
transaction per request), the baseline that shows what group commit buys;
and two nodes (32 connections each) on the same database. Each row runs on
a fresh schema. The figures: 2xx/s (wrk), p99, the average batch
(Δintents / Δbatches from /metrics), and a check that the database holds
every acknowledged fulfilment once.

Writes a "PostgreSQL" section into bench/results/latest.md (replacing an
earlier one) and prints a summary line. Run: /usr/bin/python3 bench/pg.py
[--quick]."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "pg"))
from cluster import PgCluster  # noqa: E402

RESULTS = REPO / "bench" / "results" / "latest.md"
LUA = REPO / "bench" / "fulfil.lua"
CATALOG = REPO / "bench" / "catalog.json"
ACCOUNTS = 10000
SKUS = "bench_gold_100,bench_gems_25,bench_xp_boost_1,bench_supply_crate,bench_wrap"
CONNECTIONS = 64


def log(msg):
    print(f"bench-pg: {msg}", flush=True)


class Node:
    """One grantd serving on a free port against `url`."""

    def __init__(self, binary, workdir, url, token_key, batch_max, pool):
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "grantd.yaml"
        self.config.write_text(json.dumps({
            "server": {"listen": "127.0.0.1:0", "threads": 2,
                       "max_connections_per_ip": 0},
            "storage": {"driver": "postgres", "batch_max": batch_max,
                        "postgres": {"url": url, "pool_size": pool}},
            "catalog": {"path": str(CATALOG)},
            "linking": {"token_key_file": str(token_key)},
            "auth": {"rate_limit": {"per_second": 1000000,
                                    "burst": 1000000}},
            "log": {"level": "info"},
        }))
        self.proc = None
        self.port = None

    def cli(self, *args):
        r = subprocess.run([str(self.binary), *args, "--config",
                            str(self.config)], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"grantd {args[0]}: {r.stderr}")
        return r.stdout

    def start(self):
        self.err = open(self.dir / "stderr.log", "w")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for line in (self.dir / "stderr.log").read_text().splitlines():
                if '"event":"listening"' in line:
                    self.port = json.loads(line)["port"]
                    return
            if self.proc.poll() is not None:
                raise RuntimeError((self.dir / "stderr.log").read_text())
            time.sleep(0.05)
        raise RuntimeError("grantd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()

    def metrics(self, key):
        r = requests.get(f"http://127.0.0.1:{self.port}/metrics",
                         headers={"Authorization": f"Bearer {key}"},
                         timeout=10)
        out = {}
        for line in r.text.splitlines():
            m = re.match(r"(grantd_store_(?:batches|intents)_total) (\d+)",
                         line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out


def wrk(port, conns, seconds, prefix, key):
    env = dict(os.environ, BENCH_PREFIX=prefix, BENCH_KEY=key,
               BENCH_ACCOUNTS=str(ACCOUNTS), BENCH_SKUS=SKUS)
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
         "-s", str(LUA), "--latency", f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wrk_json(proc):
    out, err = proc.communicate(timeout=300)
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError(f"wrk printed no result: {out[-500:]} {err[-500:]}")


def measure(binary, cluster, scratch, label, nodes, batch_max, seconds):
    schema = f"b_{label}"
    cluster.psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; "
                 f"CREATE SCHEMA {schema}")
    # the Unix socket, as a node on the database's machine would use
    url = (f"postgresql://grantd@/grantd?host={cluster.sock}&port="
           f"{cluster.port}&options=-csearch_path%3D{schema}")
    token_key = scratch / f"{label}.token-key"
    token_key.write_text(os.urandom(32).hex() + "\n")
    pool = int(os.environ.get("BENCH_PG_POOL", "8"))
    ns = [Node(binary, scratch / f"{label}-{i}", url, token_key, batch_max,
               pool) for i in range(nodes)]
    ns[0].cli("migrate")
    cluster.psql(f"SET search_path = {schema}; INSERT INTO accounts "
                 "SELECT 'bench-' || i, 'active', 0, 0 FROM "
                 f"generate_series(0, {ACCOUNTS - 1}) AS i")
    prime = json.loads(ns[0].cli("keys", "create", "--name", "bench",
                                 "--scope", "fulfillment:primegaming",
                                 "--json").strip().splitlines()[-1])["key"]
    ops = json.loads(ns[0].cli("keys", "create", "--name", "ops",
                               "--scope", "operator",
                               "--json").strip().splitlines()[-1])["key"]
    try:
        for n in ns:
            n.start()
        # warm-up: connections opened, statements prepared
        warm = [wrk(n.port, CONNECTIONS // nodes, 2, f"warm-{label}-{i}",
                    prime) for i, n in enumerate(ns)]
        for w in warm:
            wrk_json(w)
        before = [n.metrics(ops) for n in ns]
        runs = [wrk(n.port, CONNECTIONS // nodes, seconds, f"{label}-{i}",
                    prime) for i, n in enumerate(ns)]
        results = [wrk_json(r) for r in runs]
        after = [n.metrics(ops) for n in ns]
    finally:
        for n in ns:
            n.stop()
    ok = sum(r["requests"] - r["errors"]["status"] for r in results)
    secs = max(r["duration_us"] for r in results) / 1e6
    batches = sum(a.get("grantd_store_batches_total", 0) -
                  b.get("grantd_store_batches_total", 0)
                  for a, b in zip(after, before))
    intents = sum(a.get("grantd_store_intents_total", 0) -
                  b.get("grantd_store_intents_total", 0)
                  for a, b in zip(after, before))
    in_db = int(cluster.psql(
        f"SELECT count(*) FROM {schema}.fulfillments WHERE status = "
        f"'completed' AND external_id LIKE '{label}-%'"))
    dup = int(cluster.psql(
        f"SELECT count(*) - count(DISTINCT (source, external_id)) FROM "
        f"{schema}.fulfillments"))
    sent = sum(r["sent"] for r in results)
    return {
        "label": label, "nodes": nodes, "batch_max": batch_max,
        "rps": ok / secs if secs else 0.0,
        "p50_ms": max(r["latency_us"]["p50"] for r in results) / 1000,
        "p99_ms": max(r["latency_us"]["p99"] for r in results) / 1000,
        "avg_batch": intents / batches if batches else float("nan"),
        "ok": ok, "sent": sent, "in_db": in_db, "dup": dup,
        "errors": sum(sum(r["errors"].values()) for r in results),
        "check": ok <= in_db <= sent and dup == 0,
    }


def report(rows, quick, version):
    base = next(r for r in rows if r["label"] == "unbatched")
    lines = [
        "## PostgreSQL (bench/pg.py)", "",
        f"grantd nodes on one local PostgreSQL {version} (a throwaway cluster "
        "on this machine: fsync on, synchronous_commit on, default settings "
        "otherwise), storage.postgres.pool_size 8 per node (4 writer "
        f"threads), {CONNECTIONS} wrk connections in all, unique transaction "
        f"ids over {ACCOUNTS} accounts. 2xx/s over the run; p99 is the worse "
        "node's; avg batch = Δintents / Δbatches. Ratio = 2xx/s ÷ the "
        "unbatched row's, measured in the same run. The check: 2xx ≤ "
        "completed in the database ≤ sent, no key twice.", "",
        "| run | nodes | batch_max | 2xx/s | ratio | p50 ms | p99 ms | avg batch "
        "| 2xx | completed in db | sent | errors | check |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['nodes']} | {r['batch_max']} | "
            f"{r['rps']:.0f} | {r['rps'] / base['rps']:.2f} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['avg_batch']:.1f} | "
            f"{r['ok']} | {r['in_db']} | {r['sent']} | {r['errors']} | "
            f"{'ok' if r['check'] else 'FAILED'} |")
    one = next(r for r in rows if r["label"] == "one")
    two = next(r for r in rows if r["label"] == "two")
    summary = (f"bench-pg: one_node={one['rps']:.0f}/s "
               f"two_nodes={two['rps']:.0f}/s "
               f"unbatched={base['rps']:.0f}/s "
               f"group_commit_ratio={one['rps'] / base['rps']:.2f} "
               f"p99_ms={one['p99_ms']:.1f}")
    lines += ["", f"Summary: `{summary}`" + (" (quick)" if quick else ""), ""]
    text = RESULTS.read_text() if RESULTS.exists() else "# grantd benchmark\n"
    text = re.sub(r"\n## PostgreSQL \(bench/pg.py\).*?(?=\n## |\Z)", "", text,
                  flags=re.S)
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    seconds = 5 if quick else 15
    binary = Path(os.environ.get("BENCH_BUILD_DIR", REPO / "build")) / "grantd"
    scratch = Path(tempfile.mkdtemp(prefix="grantd-bench-pg-"))
    cluster = PgCluster()
    try:
        cluster.start()
        version = cluster.psql("SHOW server_version", db="postgres")
        rows = []
        for label, nodes, batch_max in (("unbatched", 1, 1), ("one", 1, 256),
                                        ("two", 2, 256)):
            r = measure(binary, cluster, scratch, label, nodes, batch_max,
                        seconds)
            log(f"{label}: {r['rps']:.0f} 2xx/s, p99 {r['p99_ms']:.1f} ms, "
                f"avg batch {r['avg_batch']:.1f}")
            rows.append(r)
        summary = report(rows, quick, version)
        print(summary, flush=True)
        return 0 if all(r["check"] for r in rows) else 1
    finally:
        cluster.remove()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
