#!/usr/bin/env bash
# Instruction profile of SOAP submit against GET /api/v1/whoami on SQLite
# (issue 20, item 4), with valgrind's callgrind: instruction counts repeat on
# a busy machine where wall clock and perf samples do not. See "Where a
# submit's instructions go" in docs/benchmarks.md.
#
#   scripts/bench_profile.sh            # PROF_N=1000 of each, ~5 minutes
#
# The release service runs under callgrind with instrumentation off while it
# starts and the connections warm up, then counts PROF_N whoami requests
# (dump 1) and PROF_N SOAP submits of bench.sh's document (dump 2), 4
# connections each. Counted: every thread of the service in user space (not
# the kernel: system calls, fsync and the network stack are invisible here).
# Printed: instructions per request of each, their ratio, and the inclusive
# cost per submit of the parts named in the write-up; the callgrind files and
# the full annotations stay in the directory printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${PROF_N:-1000}
PORT=38443 OPS=39464
cargo build --release --locked --example loadgen --bin machtigingen
BIN=$ROOT/target/release/machtigingen
LG=$ROOT/target/release/examples/loadgen
WORK=$(mktemp -d /tmp/mt-profile-XXXXXX)
cd "$WORK"
cat >bench.toml <<EOF
[server]
listen = "127.0.0.1:$PORT"
ops_listen = "127.0.0.1:$OPS"
[database]
url = "sqlite://$WORK/data/machtigingen.db"
pool_size = 16
[log]
level = "warn"
[retentie]
purge_interval = "0s"
EOF
BEGIN=$(date -d '+7 days' +%F)
END=$(date -d '+120 days' +%F)
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
  echo '<IndienenMachtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1">'
  sed -e '1d' -e 's| xmlns="urn:machtigingen:machtigingen:v1"||' \
    -e "s|<Referentie>PMS-2026-000123</Referentie>|<Referentie>PROF-{n}</Referentie>|" \
    -e "s|<Begindatum>[^<]*</Begindatum>|<Begindatum>$BEGIN</Begindatum>|" \
    -e "s|<GewensteEinddatum>[^<]*</GewensteEinddatum>|<GewensteEinddatum>$END</GewensteEinddatum>|" \
    "$ROOT/docs/examples/machtigingen/Machtigingsaanvraag.xml"
  echo '</IndienenMachtigingsaanvraag></s:Body></s:Envelope>'
} >soap.xml
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true' EXIT
ready() {
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$OPS/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
# First start natively: the development PKI and the database are made
# outside the profile (key generation under valgrind takes minutes).
"$BIN" --config bench.toml serve >serve.log 2>&1 &
PID=$!
ready
kill "$PID"
wait "$PID" 2>/dev/null || true
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out.%p" \
  "$BIN" --config bench.toml serve >>serve.log 2>&1 &
PID=$!
ready
lg() {
  "$LG" --cert data/demo/zorgaanbieder.pem --key data/demo/zorgaanbieder.key --cacert data/pki/ca.pem \
    --warmup-url "https://localhost:$PORT/api/v1/whoami" --concurrency 4 --duration 3600 "$@"
}
SOAP=(--url "https://localhost:$PORT/soap/machtigingen/v1" --method POST --body-file soap.xml
  --header 'content-type: text/xml; charset=utf-8'
  --header 'SOAPAction: "urn:machtigingen:machtigingen:v1/IndienenMachtigingsaanvraag"')
lg "${SOAP[@]}" --requests 50 >/dev/null # statement caches, pool, first-use paths
callgrind_control -i on "$PID" >/dev/null
callgrind_control -z "$PID" >/dev/null
echo "whoami: $(lg --url "https://localhost:$PORT/api/v1/whoami" --requests "$N")"
callgrind_control -d whoami "$PID" >/dev/null
echo "submit: $(lg "${SOAP[@]}" --requests "$N" --start 1000000)"
callgrind_control -d submit "$PID" >/dev/null
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=""
for f in callgrind.out.*; do
  case "$f" in
  *whoami* | *.1) callgrind_annotate --inclusive=yes --threshold=100 "$f" >whoami.txt 2>/dev/null || true ;;
  *submit* | *.2) callgrind_annotate --inclusive=yes --threshold=100 "$f" >submit.txt 2>/dev/null || true ;;
  esac
done
python3 - "$N" <<'EOF'
import re, sys
n = int(sys.argv[1])
def load(path):
    total, incl = 0, {}
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(?:[^\s:]*:(?!:))?(.*?)(?: \[.*\])?$", line)
        if not m:
            continue
        v = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = v
        else:
            name = m.group(2).strip()
            incl[name] = max(incl.get(name, 0), v)
    return total, incl
tw, _ = load("whoami.txt")
ts, inc = load("submit.txt")
print(f"instructions per whoami: {tw / n:,.0f}; per submit: {ts / n:,.0f}; whoami/submit = {tw / ts:.3f}")
parts = {
    "TLS (OpenSSL read/write)": [r"^SSL_read$", r"^SSL_write$"],
    "XML parse (libxml2)": [r"^xmlCtxtReadMemory$", r"^xmlReadMemory$", r"^xmlParseDocument$"],
    "XSD validation": [r"^xmlSchemaValidateDoc$"],
    "serialisation (xmlNodeDump/xmlSave)": [r"^xmlNodeDump", r"^xmlSaveTree$", r"^xmlDocDumpMemory"],
    "SQLite (sqlite3_step)": [r"^sqlite3_step$"],
    "SQLite (prepare)": [r"^sqlite3_prepare"],
    "malloc": [r"^malloc$"], "free": [r"^free$"], "realloc": [r"^realloc$"],
}
for label, pats in parts.items():
    v = max([c for name, c in inc.items() if any(re.search(p, name) for p in pats)] or [0])
    print(f"  {label:40s} {v / n:>12,.0f} per submit ({v / ts:6.1%})")
print("top inclusive (submit):")
for name, v in sorted(inc.items(), key=lambda x: -x[1])[:60]:
    print(f"  {v / n:>12,.0f}  {v / ts:6.1%}  {name[:150]}")
EOF
echo "== files: $WORK"
