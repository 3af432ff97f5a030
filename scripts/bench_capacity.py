#!/usr/bin/env python3
"""Measurements for scripts/bench_capacity.sh: what one operation costs the
service and the PostgreSQL primary, and the checks of the two-instance run.

  bench_capacity.py snap   OUT DB PG_ADMIN SERVICE_PID...  snapshot counters to OUT (JSON)
  bench_capacity.py diff   A B OPS PHASE DB PG_ADMIN       cost per operation between two snapshots (JSON line)
  bench_capacity.py stmts  LOG FROM TO DB OPS PHASE        statements per operation from the server log
  bench_capacity.py check  RX LIST STATUSES...             lost / duplicate / out-of-order terugkoppelingen
  bench_capacity.py model  RESULTS                         the "Capacity model" section (markdown)

CPU time is read from /proc (utime + stime, clock ticks) for the service
process and for every child of the postmaster: the backends of the bench
database (pg_stat_activity) count as the operation's, the auxiliary
processes (WAL writer, checkpointer, background writer, autovacuum) are
reported beside them because other databases on the same server share them.
CPU time, unlike wall clock, does not grow when other work shares the cores
(beyond cache effects). WAL: the LSN difference (server-wide) and, from
pg_waldump over the same range, the bytes and commit records of the
transactions that touched the bench database only.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

TCK = os.sysconf("SC_CLK_TCK")
PGDATA_WAL = os.environ.get("CAP_PG_WAL", "/var/lib/postgresql/15/main/pg_wal")
WALDUMP = os.environ.get("CAP_PG_WALDUMP", "/usr/lib/postgresql/15/bin/pg_waldump")


def psql(admin, sql):
    return subprocess.check_output(["psql", admin, "-XAtqc", sql], text=True).strip()


def ticks(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12]), int(f[1])  # utime+stime, ppid
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None, None


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ").strip()
    except FileNotFoundError:
        return ""


def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def snap(out, db, admin, pids):
    postmaster = int(psql(admin, "select pid from pg_stat_activity where backend_type = 'checkpointer'"))
    postmaster = ticks(postmaster)[1]
    procs = {}
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(d[6:])
        t, ppid = ticks(pid)
        if t is not None and ppid == postmaster:
            procs[pid] = [cmdline(pid), t]
    row = psql(
        admin,
        "select pg_current_wal_lsn(), w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_write, w.wal_sync, "
        "d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated, d.tup_deleted, d.datid, "
        f"(select string_agg(pid::text, ',') from pg_stat_activity where datname = '{db}') "
        f"from pg_stat_wal w, pg_stat_database d where d.datname = '{db}'",
    ).split("|")
    keys = "wal_records wal_fpi wal_bytes wal_write wal_sync xact_commit xact_rollback tup_inserted tup_updated tup_deleted datid".split()
    s = {
        "t": time.time(),
        "lsn": row[0],
        **{k: int(float(v)) for k, v in zip(keys, row[1:12])},
        "db_pids": [int(p) for p in row[12].split(",") if p],
        "procs": procs,
        "service": {p: ticks(p)[0] or 0 for p in pids},
    }
    json.dump(s, open(out, "w"))


def waldump(a, b, datid):
    """Bytes and commit records of the transactions that touched the bench database."""
    try:
        text = subprocess.run(
            [WALDUMP, "-p", PGDATA_WAL, "-s", a, "-e", b], capture_output=True, text=True, timeout=300
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    recs = []
    mine = set()
    rel = re.compile(r"rel \d+/(\d+)/")
    for line in text.splitlines():
        m = re.match(r"rmgr: (\S+)\s+len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+),.*desc: (\S+)", line)
        if not m:
            continue
        rmgr, tot, tx, desc = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        dbs = set(int(x) for x in rel.findall(line))
        recs.append((rmgr, tot, tx, desc, dbs))
        if datid in dbs and tx:
            mine.add(tx)
    total = commits = 0
    for rmgr, tot, tx, desc, dbs in recs:
        if (tx and tx in mine) or (not tx and datid in dbs):
            total += tot
            if rmgr == "Transaction" and desc.startswith("COMMIT"):
                commits += 1
    return {"wal_bytes_db": total, "write_commits": commits, "write_xacts": len(mine)}


def diff(fa, fb, ops, phase, db, admin):
    a, b = json.load(open(fa)), json.load(open(fb))
    svc = sum(t - a["service"].get(p, 0) for p, t in b["service"].items()) / TCK
    backends = aux = 0
    mine = set(a["db_pids"]) | set(b["db_pids"])
    for pid, (cmd, t) in b["procs"].items():
        before = a["procs"].get(pid, [cmd, 0])[1]
        if int(pid) in mine:
            backends += t - before
        elif re.search(r"checkpointer|background writer|walwriter|autovacuum", cmd):
            aux += t - before
    lost = [p for p in a["db_pids"] if str(p) not in b["procs"]]
    wd = waldump(a["lsn"], b["lsn"], a["datid"]) or {}
    ops = max(int(ops), 1)
    r = {
        "phase": phase,
        "ops": ops,
        "seconds": b["t"] - a["t"],
        "service_cpu_ms": 1000 * svc / ops,
        "pg_backend_cpu_ms": 1000 * backends / TCK / ops,
        "pg_aux_cpu_ms": 1000 * aux / TCK / ops,
        "wal_bytes": (lsn(b["lsn"]) - lsn(a["lsn"])) / ops,
        "wal_fpi": (b["wal_fpi"] - a["wal_fpi"]) / ops,
        "wal_syncs": (b["wal_sync"] - a["wal_sync"]) / ops,
        "xact_commit": (b["xact_commit"] - a["xact_commit"]) / ops,
        "tup_written": sum(b[k] - a[k] for k in ("tup_inserted", "tup_updated", "tup_deleted")) / ops,
        "backends_gone": len(lost),
    }
    if wd:
        r["wal_bytes_db"] = wd["wal_bytes_db"] / ops
        r["write_commits"] = wd["write_commits"] / ops
    print(json.dumps(r))


def stmts(log, start, end, db, ops, phase):
    with open(log, "rb") as f:
        f.seek(int(start))
        text = f.read(int(end) - int(start)).decode("utf-8", "replace")
    pat = re.compile(r"@" + re.escape(db) + r" LOG:  (statement|execute [^:]*):")
    n = sum(1 for line in text.splitlines() if pat.search(line))
    print(json.dumps({"phase": phase, "statements": n / max(int(ops), 1), "ops": int(ops)}))


def check(rx, lst, statuses):
    want = [l.strip().split("/")[1] for l in open(lst) if l.strip()]
    wanted = set(want)
    seen = {}
    ids = {}
    for line in open(rx):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        data = r.get("bericht", {}).get("data", {}) if isinstance(r.get("bericht"), dict) else {}
        m = data.get("machtigingsaanvraagId")
        if m in wanted:
            seen.setdefault(m, []).append(data.get("status"))
            ids[r.get("webhookId")] = ids.get(r.get("webhookId"), 0) + 1
    lost = dup = fifo = 0
    for m in want:
        got = seen.get(m, [])
        lost += sum(1 for s in statuses if s not in got)
        dup += len(got) - len(set(got))
        # Order of first receipt must follow the order of the decisions.
        order = [s for s in dict.fromkeys(got) if s in statuses]
        if order != [s for s in statuses if s in order]:
            fifo += 1
    print(json.dumps({
        "requests": len(want),
        "expected": len(want) * len(statuses),
        "received": sum(len(v) for v in seen.values()),
        "lost": lost,
        "duplicates": dup,
        "duplicate_webhook_ids": sum(v - 1 for v in ids.values()),
        "fifo_violations": fifo,
    }))


def model(results):
    """The predicted throughput of N instances on one primary, from the measured costs."""
    rows = [json.loads(l) for l in open(results) if l.strip()]
    ph = {r["phase"]: r for r in rows if "service_cpu_ms" in r}
    st = {r["phase"]: r["statements"] for r in rows if "statements" in r}
    disk = next((r for r in rows if r.get("phase") == "disk"), {})
    C = float(os.environ.get("CAP_C", 2))
    P = float(os.environ.get("CAP_P", 8))
    U = float(os.environ.get("CAP_UTIL", 0.75))
    K = float(os.environ.get("CAP_K", 2))
    out = []
    w = out.append
    w("| operation | service CPU ms | PostgreSQL backends CPU ms | PostgreSQL shared processes CPU ms | WAL bytes (server / bench db) | write commits | WAL flushes | statements | transactions |")
    w("|---|---|---|---|---|---|---|---|---|")
    names = {"submit": "SOAP submit", "decision": "decision (`POST …/beoordeling`)", "callback": "callback delivered"}
    for k, label in names.items():
        r = ph.get(k)
        if not r:
            continue
        w(f"| {label} ({r['ops']}) | {r['service_cpu_ms']:.3f} | {r['pg_backend_cpu_ms']:.3f} | {r['pg_aux_cpu_ms']:.3f} "
          f"| {r['wal_bytes']:,.0f} / {r.get('wal_bytes_db', float('nan')):,.0f} | {r.get('write_commits', float('nan')):.2f} "
          f"| {r['wal_syncs']:.2f} | {st.get(k, float('nan')):.1f} | {r['xact_commit']:.1f} |")
    w("")
    if not all(k in ph for k in names):
        return "\n".join(out)
    s, d, c = ph["submit"], ph["decision"], ph["callback"]
    # One request's life: a submit, K decisions, each with one callback.
    svc = s["service_cpu_ms"] + K * (d["service_cpu_ms"] + c["service_cpu_ms"])
    pg = s["pg_backend_cpu_ms"] + s["pg_aux_cpu_ms"] + K * (d["pg_backend_cpu_ms"] + d["pg_aux_cpu_ms"] + c["pg_backend_cpu_ms"] + c["pg_aux_cpu_ms"])
    # pg_waldump's attribution when it had the range (segments recycled by a
    # checkpoint leave it empty); else the server-wide figures, an upper bound.
    def walb(r):
        return r.get("wal_bytes_db") or r["wal_bytes"]

    def commit(r):
        return r.get("write_commits") or 1

    wal = walb(s) + K * (walb(d) + walb(c))
    commits = commit(s) + K * (commit(d) + commit(c))
    fsyncs = disk.get("fdatasync_per_s") or float("nan")
    bw = (disk.get("write_mb_s") or float("nan")) * 1e6
    limits = {
        "primary CPU": P * U * 1000 / pg,
        "WAL bandwidth": U * bw / wal,
        "commit flushes (no grouping)": fsyncs / commits,
    }
    w(f"Per request's life (1 submit + {K:g} decisions, each delivering one callback): service "
      f"**{svc:.2f} ms** CPU, primary **{pg:.2f} ms** CPU, **{wal / 1024:.1f} KiB** WAL, "
      f"**{commits:.1f}** write commits. Disk of this machine: {fsyncs:,.0f} `fdatasync`/s "
      f"(8 KiB, `pg_test_fsync`), {bw / 1e6:,.0f} MB/s sequential write.")
    w("")
    w(f"Predicted lives per second with service instances of **C = {C:g} cores**, a primary of "
      f"**P = {P:g} cores**, both planned at **U = {U:.0%}** CPU:")
    w("")
    w("| instances N | service-bound N·C·U/s_svc | primary CPU P·U/s_pg | WAL B·U/w | commits F/c (no grouping) | predicted | limited by |")
    w("|---|---|---|---|---|---|---|")
    for n in range(1, 9):
        svc_rate = n * C * U * 1000 / svc
        cands = {"service CPU": svc_rate, "primary CPU": limits["primary CPU"], "WAL bandwidth": limits["WAL bandwidth"]}
        lim = min(cands, key=cands.get)
        w(f"| {n} | {svc_rate:,.0f} | {limits['primary CPU']:,.0f} | {limits['WAL bandwidth']:,.0f} "
          f"| {limits['commit flushes (no grouping)']:,.0f} | **{cands[lim]:,.0f}** | {lim} |")
    w("")
    sat = limits["primary CPU"] / (C * U * 1000 / svc)
    w(f"The primary's CPU saturates at **N ≈ {sat:.1f}** instances of {C:g} cores "
      f"(s_svc / s_pg = {svc / pg:.2f}: one primary core carries {svc / pg:.1f} service cores).")
    sub_svc = s["service_cpu_ms"]
    sub_pg = s["pg_backend_cpu_ms"] + s["pg_aux_cpu_ms"]
    w(f"Submits alone: {C * U * 1000 / sub_svc:,.0f}/s per instance, {P * U * 1000 / sub_pg:,.0f}/s on the primary "
      f"(saturated at N ≈ {(P * U * 1000 / sub_pg) / (C * U * 1000 / sub_svc):.1f}).")
    return "\n".join(out)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "snap":
        snap(args[0], args[1], args[2], [int(p) for p in args[3:]])
    elif cmd == "diff":
        diff(*args)
    elif cmd == "stmts":
        stmts(*args)
    elif cmd == "check":
        check(args[0], args[1], args[2:])
    elif cmd == "model":
        print(model(args[0]))
    else:
        sys.exit(__doc__)
