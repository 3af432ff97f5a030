#!/usr/bin/env python3
"""Reads what the reference receiver wrote (one JSON line per terugkoppeling)
for the requests in a decision list (scripts/bench_inbox.py). Used by
scripts/bench.sh.

  bench_callbacks.py wait    RX LIST SECONDS  until every request's callback arrived
  bench_callbacks.py drain   RX LIST          delivered/s between first and last receipt
  bench_callbacks.py latency RX LIST          decision timestamp -> receipt, p50/p99/max

The decision timestamp is the terugkoppeling's `tijdstip`, taken inside the
decision's transaction just before it commits, so latencies are slightly
over- rather than understated.
"""
import json
import re
import sys
import time
from datetime import datetime, timezone


def ids(path):
    return {l.strip().split("/")[1] for l in open(path) if l.strip()}


def rows(rx, want):
    out = []
    try:
        lines = open(rx).readlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line being written
        data = r.get("bericht", {}).get("data", {}) if isinstance(r.get("bericht"), dict) else {}
        if data.get("machtigingsaanvraagId") in want:
            out.append(r)
    return out


def ts(s):
    s = re.sub(r"(\.\d{6})\d+", r"\1", s.replace("Z", "+00:00"))
    d = datetime.fromisoformat(s)
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def pct(v, p):
    return v[min(len(v) - 1, round((len(v) - 1) * p))]


cmd, rx, lst = sys.argv[1:4]
want = ids(lst)
if cmd == "wait":
    # Parses the file only once it has enough lines: parsing it five times a
    # second took a sixth of the two cores from the drain being measured.
    deadline = time.time() + float(sys.argv[4])
    while time.time() < deadline:
        try:
            with open(rx, "rb") as f:
                lines = sum(1 for _ in f)
        except FileNotFoundError:
            lines = 0
        if lines >= len(want) and len(rows(rx, want)) >= len(want):
            break
        time.sleep(0.5)
    sys.exit(0)
rs = rows(rx, want)
if not rs:
    print(json.dumps({"delivered": 0, "rps": 0, "p50_ms": 0, "p99_ms": 0, "max_ms": 0}))
    sys.exit(0)
received = sorted(ts(r["ontvangenOp"]) for r in rs)
lat = sorted((ts(r["ontvangenOp"]) - ts(r["bericht"]["data"]["tijdstip"])).total_seconds() * 1000 for r in rs)
span = max((received[-1] - received[0]).total_seconds(), 1e-9)
print(json.dumps({
    "delivered": len(rs),
    "expected": len(want),
    "rps": len(rs) / span,
    "p50_ms": pct(lat, 0.5),
    "p99_ms": pct(lat, 0.99),
    "max_ms": lat[-1],
}))
