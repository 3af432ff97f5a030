#!/usr/bin/env bash
# Before/after comparison of two builds of the service in one run: SOAP submit
# and its ceiling (`GET /api/v1/whoami`) measured alternately against each
# binary, so both see the same machine in the same minutes. For a refactor
# that must not slow the submit path (issue 17).
#
#   scripts/bench_compare.sh BEFORE_BIN AFTER_BIN [LOADGEN]
#
# BEFORE_BIN/AFTER_BIN are release `machtigingen` binaries (build the older
# one from a worktree: `git worktree add /tmp/before REV && cd /tmp/before &&
# cargo build --release --locked`). Knobs: CMP_ROUNDS (3), CMP_DURATION (10 s),
# CMP_CONCURRENCY (32), CMP_BACKENDS (sqlite; add postgres with CMP_PG_ADMIN).
# Prints one table per backend: median req/s (min-max) and submit/whoami.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
LG=${3:-$ROOT/target/release/examples/loadgen}
ROUNDS=${CMP_ROUNDS:-3}
DUR=${CMP_DURATION:-10}
CONC=${CMP_CONCURRENCY:-32}
BACKENDS=${CMP_BACKENDS:-sqlite}
PG_ADMIN=${CMP_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=18543 OPS=19564
[ -x "$LG" ] || (cd "$ROOT" && cargo build --release --locked --example loadgen)

WORK=$(mktemp -d /tmp/mt-cmp-XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true' EXIT

BEGIN=$(date -d '+7 days' +%F)
END=$(date -d '+120 days' +%F)
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
  echo '<IndienenMachtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1">'
  sed -e '1d' -e 's| xmlns="urn:machtigingen:machtigingen:v1"||' \
    -e "s|<Referentie>PMS-2026-000123</Referentie>|<Referentie>CMP-{n}</Referentie>|" \
    -e "s|<Begindatum>[^<]*</Begindatum>|<Begindatum>$BEGIN</Begindatum>|" \
    -e "s|<GewensteEinddatum>[^<]*</GewensteEinddatum>|<GewensteEinddatum>$END</GewensteEinddatum>|" \
    "$ROOT/docs/examples/machtigingen/Machtigingsaanvraag.xml"
  echo '</IndienenMachtigingsaanvraag></s:Body></s:Envelope>'
} >"$WORK/soap.xml"

start() { # label bin backend
  local dir=$WORK/$1-$3
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    local url=sqlite://$dir/data/machtigingen.db
    if [ "$3" = postgres ]; then
      local db=mt_cmp_${1}_$$
      psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db"
      url=${PG_ADMIN%/*}/$db
    fi
    printf '[server]\nlisten = "127.0.0.1:%s"\nops_listen = "127.0.0.1:%s"\ncontract_listen = ""\n[database]\nurl = "%s"\npool_size = 16\n[log]\nlevel = "warn"\n[retentie]\npurge_interval = "0s"\n' \
      "$PORT" "$OPS" "$url" >"$dir/bench.toml"
  fi
  (cd "$dir" && exec "$2" --config bench.toml serve >>serve.log 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$OPS/health/ready" >/dev/null 2>&1 && { CUR=$dir; return 0; }
    sleep 0.2
  done
  echo "server $1 did not become ready" >&2
  exit 1
}

stop() { kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

measure() { # label backend scenario url [args...]
  local label=$1 backend=$2 scenario=$3 url=$4
  shift 4
  local out
  out=$(cd "$CUR" && "$LG" --cert data/demo/zorgaanbieder.pem --key data/demo/zorgaanbieder.key \
    --cacert data/pki/ca.pem --url "$url" --concurrency "$CONC" --duration "$DUR" \
    --warmup-url "https://localhost:$PORT/api/v1/whoami" --start $((RANDOM * 100000 + RANDOM * 10)) "$@")
  echo "   $label $backend $scenario: $out"
  python3 -c 'import json,sys; d=json.loads(sys.argv[4]); d.update(label=sys.argv[1], backend=sys.argv[2], scenario=sys.argv[3]); print(json.dumps(d))' \
    "$label" "$backend" "$scenario" "$out" >>"$RESULTS"
}

for backend in $BACKENDS; do
  for r in $(seq "$ROUNDS"); do
    for pair in "before:$BEFORE" "after:$AFTER"; do
      label=${pair%%:*} bin=${pair#*:}
      start "$label" "$bin" "$backend"
      B=https://localhost:$PORT
      measure "$label" "$backend" whoami "$B/api/v1/whoami"
      measure "$label" "$backend" soap_submit "$B/soap/machtigingen/v1" --method POST --body-file "$WORK/soap.xml" \
        --header 'content-type: text/xml; charset=utf-8' \
        --header 'SOAPAction: "urn:machtigingen:machtigingen:v1/IndienenMachtigingsaanvraag"'
      stop
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for backend in sorted({r["backend"] for r in rows}):
    print(f"\n{backend}: median req/s (min-max) over {len([r for r in rows if r['backend']==backend])//4} rounds")
    print("| build | whoami | SOAP submit | submit p99 ms | submit / whoami |")
    print("|---|---|---|---|---|")
    for label in ("before", "after"):
        def vals(s, k="rps"):
            return [r[k] for r in rows if r["backend"] == backend and r["label"] == label and r["scenario"] == s]
        w, s, p = vals("whoami"), vals("soap_submit"), vals("soap_submit", "p99_ms")
        ratio = statistics.median(s) / statistics.median(w)
        print(f"| {label} | {statistics.median(w):.0f} ({min(w):.0f}-{max(w):.0f}) | {statistics.median(s):.0f} ({min(s):.0f}-{max(s):.0f}) | {statistics.median(p):.1f} | {ratio:.3f} |")
EOF
