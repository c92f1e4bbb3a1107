"""The knob and the record of the longer fault runs (`make reliability`,
docs/reliability.md). GRANTD_RELIABILITY=1 makes the fault tests that read
`longer()` run longer; GRANTD_RELIABILITY_REPORT names a file to which
each of them appends one JSON line with its figures."""
import json
import os
import time

LONGER = os.environ.get("GRANTD_RELIABILITY") == "1"
REPORT = os.environ.get("GRANTD_RELIABILITY_REPORT")


def longer(normal, long):
    """`long` under GRANTD_RELIABILITY=1, else `normal`."""
    return long if LONGER else normal


def record(test, **figures):
    """Appends {"test": test, **figures} to the report file, if one is
    named. Figures are plain numbers or strings (requests sent, faults
    injected, acknowledged, lost, duplicated, seconds, ...)."""
    if not REPORT:
        return
    line = {"test": test, "longer": LONGER, "at": int(time.time()), **figures}
    with open(REPORT, "a") as f:
        f.write(json.dumps(line, sort_keys=False) + "\n")
