#!/usr/bin/env python3
"""Turns the raw results of scripts/bench.sh (JSON lines) into docs/benchmarks.md."""
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime, timezone

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]


def sh(cmd):
    try:
        return subprocess.check_output(cmd, shell=True, text=True).strip()
    except Exception:
        return "?"


def pick(scenario, backend):
    return [r for r in rows if r["scenario"] == scenario and r["backend"] == backend]


def med(vals):
    return statistics.median(vals) if vals else float("nan")


def fmt(vals, digits=0):
    if not vals:
        return "–"
    m, lo, hi = med(vals), min(vals), max(vals)
    f = f"{{:.{digits}f}}"
    return f"{f.format(m)} ({f.format(lo)}–{f.format(hi)})"


mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
cpu = sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo")
osname = sh(". /etc/os-release && echo $PRETTY_NAME")
# The report itself (being written by this run) is not a local change.
dirty = sh("git status --porcelain -- . ':(exclude)docs/benchmarks.md'") != ""
commit = sh("git rev-parse --short HEAD") + (" (with local changes)" if dirty else "")
out = []
w = out.append
w("# Benchmarks")
w("")
w("Produced by `scripts/bench.sh` (see README). Every figure is the median of the runs with")
w("min–max in brackets; throughput in successful requests per second, latency in ms as")
w("seen by the load generator (`examples/loadgen.rs`, mutual TLS with keep-alive, on the same")
w("machine, so it competes with the service for the cores). Ratios are taken within one run")
w("of the script, against the same server's `GET /api/v1/whoami` (TLS + identity lookup, no")
w("other storage): the ceiling of this stack on this machine.")
w("")
w(f"- machine: {os.cpu_count()} cores ({cpu}), {mem}, {osname}, {platform.machine()}")
w(f"- commit: {commit}; measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
conc = os.environ.get("BENCH_CONCURRENCY", "32")
w(f"- load: {conc} concurrent connections, {os.environ.get('BENCH_DURATION', '10')} s per run, {os.environ.get('BENCH_RUNS', '3')} runs")
w("")
backends = [b for b in ("sqlite", "postgres") if any(r["backend"] == b for r in rows)]
for b in backends:
    ceiling = med([r["rps"] for r in pick("ceiling", b)])
    w(f"## {b}")
    w("")
    w("| scenario | req/s | p50 ms | p99 ms | vs ceiling |")
    w("|---|---|---|---|---|")
    names = {
        "ceiling": "ceiling: `GET /api/v1/whoami`",
        "soap_submit": "SOAP `IndienenMachtigingsaanvraag` (1.5 KB, XSD + JVC + durable write + inbox)",
        "rest_submit": "REST submit, same document",
        "get_by_id": "REST query by id",
        "search": "REST search (status, page of 20)",
        "rest_submit_half": "REST submit at 50 % of its max rate",
        "rest_submit_full": "REST submit with the seeded database",
    }
    for s, label in names.items():
        rs = pick(s, b)
        if not rs:
            continue
        ratio = med([r["rps"] for r in rs]) / ceiling if ceiling else float("nan")
        w(f"| {label} | {fmt([r['rps'] for r in rs])} | {fmt([r['p50_ms'] for r in rs], 1)} | {fmt([r['p99_ms'] for r in rs], 1)} | {ratio:.2f} |")
    w("")
    full, empty = pick("rest_submit_full", b), pick("rest_submit", b)
    seed = pick("seed", b)
    if full and empty:
        n = seed[0]["seeded"] if seed else "?"
        secs = f", seeded in {seed[0]['seconds']:.0f} s" if seed else ""
        w(f"- submit p99 with {n} stored requests vs. (nearly) empty: **{med([r['p99_ms'] for r in full]) / med([r['p99_ms'] for r in empty]):.2f}×**{secs}")
    drain, steady, dec = pick("callbacks_drain", b), pick("callbacks_latency", b), pick("decisions", b)
    if drain:
        c = drain[0]
        w(f"- callbacks to a local mTLS reference receiver, a backlog of {c['delivered']} decisions delivered at **{c['rps']:.0f}/s** (first to last receipt)")
    if steady:
        c = steady[0]
        w(f"- decision → callback received, {c['delivered']} decisions at a steady {c['rate']}/s: p50 **{c['p50_ms']:.1f} ms**, p99 {c['p99_ms']:.1f} ms (max {c['max_ms']:.0f})")
    if dec:
        w(f"- insurer decisions (`POST …/beoordeling`, 16 connections): {dec[0]['rps']:.0f}/s, p50 {dec[0]['p50_ms']:.1f} ms, p99 {dec[0]['p99_ms']:.1f} ms")
    rss = pick("peak_rss", b)
    if rss:
        w(f"- peak RSS of the service after the submit runs: **{rss[0]['rss_mib']} MiB**")
    w("")
scaling = [r for r in rows if r["scenario"].startswith("scaling_")]
if scaling:
    w("## Search at two table sizes")
    w("")
    w("`scripts/bench_search.sh`, in this run: the demo provider owns every stored request, all")
    w("`Ingediend`, so a search by status matches every one (the total is capped); a fresh")
    w("service per size. Query by id, the first page of 20, and a page 90 % deep (its `vervolg`")
    w("token), req/s with the share of query by id in the same backend and size.")
    w("")
    w("| backend | stored | query by id | search, first page | search, deep page | first / by id | deep / by id | p99 ms: by id / first / deep |")
    w("|---|---|---|---|---|---|---|---|")
    for b in backends:
        for size in sorted({r["size"] for r in scaling if r["backend"] == b}):
            def sc(name):
                return [r for r in scaling if r["backend"] == b and r["size"] == size and r["scenario"] == "scaling_" + name]
            by, first, deep = sc("get_by_id"), sc("search_first"), sc("search_deep")
            if not (by and first and deep):
                continue
            rps = lambda rs: med([r["rps"] for r in rs])
            p99 = lambda rs: med([r["p99_ms"] for r in rs])
            w(f"| {b} | {size:,} | {fmt([r['rps'] for r in by])} | {fmt([r['rps'] for r in first])} | {fmt([r['rps'] for r in deep])} "
              f"| {rps(first) / rps(by) * 100:.0f} % | {rps(deep) / rps(by) * 100:.0f} % | {p99(by):.0f} / {p99(first):.0f} / {p99(deep):.0f} |")
    w("")
two, two_check = pick("two_submit", "postgres"), pick("two_check", "postgres")
if two and two_check:
    c = two_check[0]
    k = c["check"]
    one, pair = med([r["one_rps"] for r in two]), med([r["pair_rps"] for r in two])
    w("## Two instances on one PostgreSQL")
    w("")
    w("`scripts/bench_capacity.sh` part 2, in this run: SOAP submit against one instance alone")
    w("and against two sharing the database (half the connections each), alternating; then")
    w("requests decided three times with the decisions alternating between the instances and")
    w("both dispatchers delivering to one reference receiver.")
    w("")
    w("| SOAP submit: one instance | the pair | pair / one | submits accepted / stored | decisions accepted | terugkoppelingen expected / received | lost | delivered twice | FIFO violations |")
    w("|---|---|---|---|---|---|---|---|---|")
    w(f"| {one:.0f}/s | {pair:.0f}/s | {pair / one:.2f} | {c['accepted']} / {c['stored']} | {c['decided']} | {k['expected']} / {k['received']} "
      f"| **{k['lost']}** | **{k['duplicates']}** ({k['duplicate_webhook_ids']} repeated `webhook-id`s) | **{k['fifo_violations']}** |")
    w("")
peer = [r for r in rows if r["scenario"] == "peer_submit"]
if peer:
    ours = med([r["rps"] for r in pick("soap_submit", "sqlite")])
    theirs = med([r["rps"] for r in peer])
    w("## Peer")
    w("")
    w("The same WSDL/XSD served by a Python SOAP server (`scripts/peer/`: spyne, lxml schema")
    w("validation against our XSDs, an SQLite insert per request), same load generator, same run.")
    w("")
    w("| | req/s | p50 ms | p99 ms |")
    w("|---|---|---|---|")
    w(f"| machtigingen SOAP submit (SQLite) | {fmt([r['rps'] for r in pick('soap_submit', 'sqlite')])} | {fmt([r['p50_ms'] for r in pick('soap_submit', 'sqlite')], 1)} | {fmt([r['p99_ms'] for r in pick('soap_submit', 'sqlite')], 1)} |")
    w(f"| peer SOAP submit | {fmt([r['rps'] for r in peer])} | {fmt([r['p50_ms'] for r in peer], 1)} | {fmt([r['p99_ms'] for r in peer], 1)} |")
    w("")
    w(f"Our throughput is **{ours / theirs:.1f}×** the peer's.")
    w("")
# The targets of the benchmark issue, and where this run stands.
def m(scenario, backend, key):
    return med([r[key] for r in pick(scenario, backend)])


w("## Targets")
w("")
w("| target | sqlite | postgres |")
w("|---|---|---|")


def cell(b, f):
    try:
        return f(b)
    except Exception:
        return "–"


def ratio_ceiling(b):
    r = m("soap_submit", b, "rps") / m("ceiling", b, "rps")
    return f"{r * 100:.1f} % {'✔' if r >= 0.25 else '✘'}"


def half_p99(b):
    v = m("rest_submit_half", b, "p99_ms")
    return f"{v:.1f} ms {'✔' if v <= 10 else '✘'}"


def callbacks(b):
    d, l = pick("callbacks_drain", b)[0], pick("callbacks_latency", b)[0]
    ok = d["rps"] >= 5000 and l["p50_ms"] <= 50
    return f"{d['rps']:.0f}/s, p50 {l['p50_ms']:.1f} ms {'✔' if ok else '✘'}"


def full_db(b):
    r = m("rest_submit_full", b, "p99_ms") / m("rest_submit", b, "p99_ms")
    return f"{r:.2f}× {'✔' if r <= 1.5 else '✘'}"


def rss(b):
    v = pick("peak_rss", b)[0]["rss_mib"]
    return f"{v} MiB {'✔' if v <= 150 else '✘'}"


def vs_peer(b):
    peer = [r for r in rows if r["scenario"] == "peer_submit"]
    r = m("soap_submit", b, "rps") / med([x["rps"] for x in peer])
    return f"{r:.1f}× {'✔' if r >= 20 else '✘'}"


def search_scale(b):
    rs = [r for r in rows if r["scenario"].startswith("scaling_") and r["backend"] == b]
    size = max(r["size"] for r in rs)
    v = lambda n: med([r["rps"] for r in rs if r["size"] == size and r["scenario"] == "scaling_" + n])
    r = min(v("search_first"), v("search_deep")) / v("get_by_id")
    return f"{r * 100:.0f} % at {size:,} {'✔' if r >= 0.5 else '✘'}"


for label, f in (
    ("SOAP submit ≥ 25 % of the whoami ceiling", ratio_ceiling),
    ("search page (first and deep) ≥ 50 % of query by id", search_scale),
    ("SOAP submit ≥ 20× the spyne peer", vs_peer),
    ("p99 ≤ 10 ms at 50 % of maximum load (REST submit)", half_p99),
    ("≥ 5,000 callbacks/s, decision→delivery p50 ≤ 50 ms", callbacks),
    ("submit p99 with the seeded database ≤ 1.5× empty", full_db),
    ("RSS ≤ 150 MB under submit load", rss),
):
    w(f"| {label} | {cell('sqlite', f)} | {cell('postgres', f)} |")
w("")
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_notes.md")
if os.path.exists(notes):
    w(open(notes).read().strip())
    w("")
micro = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion", "validate")
w("## Micro-benchmarks")
w("")
w("`cargo bench --bench validation` (criterion, `benches/validation.rs`): safety scan + libxml2")
w("parse + XSD validation + mapping + JVC of one document, without HTTP or storage, one core.")
w("")
found = []
for name, size in (("small", "1 KB"), ("typical", "2.5 KB"), ("attachments_5x1MB", "7 MB")):
    est = os.path.join(micro, name, "new", "estimates.json")
    if os.path.exists(est):
        ns = json.load(open(est))["mean"]["point_estimate"]
        t = f"{ns / 1e3:.1f} µs" if ns < 1e6 else f"{ns / 1e6:.1f} ms"
        found.append(f"| {name} | {size} | {t} | {1e9 / ns:,.0f} docs/s |")
if found:
    w("| document | size | mean per document | throughput |")
    w("|---|---|---|---|")
    for line in found:
        w(line)
else:
    w("Not run in this run (`BENCH_MICRO=0`, or no `target/criterion` results on this checkout).")
# The sections written by hand (analyses, one-off runs with their dates) follow the
# marker in the current report and are carried over unchanged.
MARKER = "<!-- Hand-written sections below: scripts/bench_report.py keeps them as they are. -->"
current = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "benchmarks.md")
if os.path.exists(current):
    text = open(current).read()
    if MARKER in text:
        w("")
        w(MARKER)
        w(text.split(MARKER, 1)[1].strip("\n"))
print("\n".join(out))
