#!/usr/bin/python3
"""Rewrites the generated figures of docs/reliability.md (between
<!-- figures:begin --> and <!-- figures:end -->) from the JSON lines the
fault tests append to GRANTD_RELIABILITY_REPORT under `make reliability`.

usage: reliability_report.py REPORT.jsonl DOC.md [--seconds N]
(N: how long the whole run took, printed with the figures)"""
import argparse
import datetime
import json
import os
import subprocess
import sys

BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"

# what each test injects, in words; "{faults}" is the recorded count
FAULTS = {
    "test_kill_9_under_load_loses_nothing_and_doubles_nothing":
        "{faults} × `kill -9` under load from 8 clients",
    "test_a_full_disk_refuses_writes_loses_nothing_and_recovers":
        "the database's 3 MiB file system full for {full_seconds} s "
        "under load from 6 clients",
    "test_ten_thousand_idle_connections_from_40_addresses":
        "{faults} idle connections from 40 addresses",
    "test_slow_drip_from_5_addresses":
        "{faults} connections from 5 addresses dripping a header byte "
        "every 10 s",
}
EXPECTED = list(FAULTS)


def dash(v):
    return "—" if v is None else str(v)


def notes(r):
    """What a test measured beyond the common figures."""
    out = []
    if "refused" in r:
        out.append(f"{r['refused']} refused `503 StoreUnavailable`, "
                   f"{r.get('retried', 0)} of them retried and granted once")
    if "store_error_lines" in r:
        out.append(f"{r['store_error_lines']} `store_error` lines for "
                   f"{r['store_errors_counted']} failed statements")
    if "readyz_recovery_seconds" in r:
        out.append(f"`/readyz` 200 again {r['readyz_recovery_seconds']} s "
                   "after the disk grew")
    if "slowest_probe_ms" in r:
        out.append(f"slowest probe {r['slowest_probe_ms']} ms")
    return "; ".join(out) or "—"


def row(r):
    name = r["test"].split("::")[-1]
    fault = FAULTS.get(name, "{faults} faults").format(**r)
    exhaustion = "probes_answered" in r
    return "| " + " | ".join([
        f"`{r['test']}`", r.get("driver", "sqlite"), fault,
        dash(r.get("requests")) + (" probes" if exhaustion else ""),
        dash(r.get("probes_answered") if exhaustion
             else r.get("acknowledged")),
        dash(None if exhaustion else r.get("lost")),
        dash(None if exhaustion else r.get("duplicated")),
        dash(r.get("seconds")), notes(r)]) + " |"


def machine():
    cpus = subprocess.run(["nproc"], capture_output=True, text=True
                          ).stdout.strip() or str(os.cpu_count())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return cpus, commit


def section(records, seconds):
    cpus, commit = machine()
    day = datetime.date.today().isoformat()
    took = ""
    if seconds is not None:
        took = f"; the run took {seconds // 60} min {seconds % 60} s"
    lines = [
        f"Measured by `make reliability` on {day}, on a machine with "
        f"{cpus} CPUs (`nproc`), at commit `{commit or 'unknown'}`{took}.",
        "",
        "| test | driver | fault injected | requests sent | acknowledged "
        "(probes answered) | lost | duplicated | seconds | also |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [row(r) for r in records]
    names = {r["test"].split("::")[-1] for r in records}
    missing = [n for n in EXPECTED if n not in names]
    if missing:
        lines += ["", "No figures (skipped, or failed: see the run's "
                  "output): " + ", ".join(f"`{n}`" for n in missing) + "."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("doc")
    ap.add_argument("--seconds", type=int)
    args = ap.parse_args()
    with open(args.report) as f:
        records = [json.loads(l) for l in f if l.strip()]
    if not records:
        sys.exit(f"{args.report}: no figures")
    with open(args.doc) as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        sys.exit(f"{args.doc}: no {BEGIN} … {END} section")
    text = (text[:start + len(BEGIN)] + "\n" +
            section(records, args.seconds) + "\n" + text[end:])
    with open(args.doc, "w") as f:
        f.write(text)
    print(section(records, args.seconds))


if __name__ == "__main__":
    main()
