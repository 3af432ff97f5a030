#!/usr/bin/env bash
# Benchmarks of the running service, on SQLite and PostgreSQL, written to
# docs/benchmarks.md. See the "Benchmarks" section of README.md.
#
#   scripts/bench.sh                  # everything (35-55 minutes on 2 cores)
#   BENCH_BACKENDS=sqlite BENCH_SEED=100000 BENCH_DURATION=5 scripts/bench.sh
#
# Knobs: BENCH_BACKENDS (sqlite postgres), BENCH_RUNS (3), BENCH_DURATION (10 s
# per run), BENCH_CONCURRENCY (32), BENCH_SEED (1000000 stored requests),
# BENCH_CALLBACKS (20000 decided with the dispatcher off, then delivered as a
# backlog), BENCH_CB_STEADY (3000 decisions at BENCH_CB_RATE, 500/s, or at
# half the combined decide-and-deliver rate if that is lower, for the
# decision-to-receipt latency), BENCH_PG_ADMIN
# (postgres://postgres@127.0.0.1:5432/postgres), BENCH_PEER (1: also measure
# the Python peer, scripts/peer/), BENCH_MICRO (1: also the criterion
# micro-benchmarks), BENCH_SCALE_SIZES ("10000 1000000": the table sizes of
# the search scaling rows, scripts/bench_search.sh), BENCH_ONLY (a subset of
# the sections, e.g. "ceiling soap_submit callbacks"; sections: ceiling
# soap_submit rest_submit get_by_id search rest_submit_half callbacks seed
# search_scaling two_instances (scripts/bench_capacity.sh, PostgreSQL); with
# it the report goes to stdout, not docs/benchmarks.md, since the table would
# be incomplete), BENCH_BIN (a machtigingen binary to measure instead of this
# checkout's release build, e.g. an earlier commit's, to compare two builds in
# the same minutes).
# Each figure is the median of BENCH_RUNS runs with min-max; the load
# generator (examples/loadgen.rs) runs on the same machine.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-10}
CONC=${BENCH_CONCURRENCY:-32}
SEEDN=${BENCH_SEED:-1000000}
CALLBACKS=${BENCH_CALLBACKS:-20000}
CB_STEADY=${BENCH_CB_STEADY:-3000}
CB_RATE=${BENCH_CB_RATE:-500}
PG_ADMIN=${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
PEER=${BENCH_PEER:-1}
MICRO=${BENCH_MICRO:-1}
ONLY=${BENCH_ONLY:-}
PORT=18443 OPS=19464 RXPORT=18444
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

echo "== building (release)"
cargo build --release --locked --bin machtigingen --example loadgen --example seed
BIN=${BENCH_BIN:-$ROOT/target/release/machtigingen}
LG=$ROOT/target/release/examples/loadgen
SEED=$ROOT/target/release/examples/seed
WORK=$(mktemp -d /tmp/mt-bench-XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PID=""
RX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null || true
}
trap cleanup EXIT

BEGIN=$(date -d '+7 days' +%F)
END=$(date -d '+120 days' +%F)
# The realistic document (docs/examples), with a fresh Referentie per request
# ({n} is replaced by the load generator) and dates inside the insurer's window.
sed -e "s|<Referentie>PMS-2026-000123</Referentie>|<Referentie>BENCH-{n}</Referentie>|" \
    -e "s|<Begindatum>[^<]*</Begindatum>|<Begindatum>$BEGIN</Begindatum>|" \
    -e "s|<GewensteEinddatum>[^<]*</GewensteEinddatum>|<GewensteEinddatum>$END</GewensteEinddatum>|" \
    docs/examples/machtigingen/Machtigingsaanvraag.xml >"$WORK/rest.xml"
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
  echo '<IndienenMachtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1">'
  sed -e '1d' -e 's| xmlns="urn:machtigingen:machtigingen:v1"||' "$WORK/rest.xml"
  echo '</IndienenMachtigingsaanvraag></s:Body></s:Envelope>'
} >"$WORK/soap.xml"

record() { # scenario backend json
  python3 -c 'import json,sys; d=json.loads(sys.argv[3]); d["scenario"]=sys.argv[1]; d["backend"]=sys.argv[2]; print(json.dumps(d))' "$1" "$2" "$3" >>"$RESULTS"
}

lg() { # cert key url [args...]
  local cert=$1 key=$2 url=$3
  shift 3
  # Connections are opened (TLS handshakes) before the clock starts.
  "$LG" --cert "$cert" --key "$key" --cacert data/pki/ca.pem --url "$url" --concurrency "$CONC" --duration "$DUR" \
    --warmup-url "https://localhost:$PORT/api/v1/whoami" "$@"
}

runs() { # scenario backend cert key url [args...]
  local scenario=$1 backend=$2
  shift 2
  for r in $(seq "$RUNS"); do
    local out
    out=$(lg "$@" --start $((RANDOM * 100000 + r * 10000000)))
    echo "   $scenario #$r: $out"
    record "$scenario" "$backend" "$out"
  done
}

wait_ready() {
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$OPS/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "service did not become ready" >&2
  return 1
}

start_server() { # backend [env assignments...]
  local backend=$1
  shift
  env "$@" "$BIN" --config "$WORK/$backend/bench.toml" serve >>"$WORK/$backend/serve.log" 2>&1 &
  SERVER_PID=$!
  wait_ready
}

stop_server() {
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

peak_rss_mib() {
  awk '/VmHWM/ {print int($2/1024)}' "/proc/$SERVER_PID/status"
}

for backend in $BACKENDS; do
  echo "== $backend"
  DIR=$WORK/$backend
  mkdir -p "$DIR"
  cd "$DIR"
  if [ "$backend" = postgres ]; then
    DBNAME=mt_bench_$$
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DBNAME" -qc "CREATE DATABASE $DBNAME"
    URL=${PG_ADMIN%/*}/$DBNAME
  else
    URL=sqlite://$DIR/data/machtigingen.db
  fi
  cat >bench.toml <<EOF
[server]
listen = "127.0.0.1:$PORT"
ops_listen = "127.0.0.1:$OPS"
# Off: a service started by the README (or .ci/run) beside it keeps 8444.
contract_listen = ""
[database]
url = "$URL"
pool_size = 16
[log]
level = "warn"
[terugkoppeling]
# One receiver takes every callback here: its concurrency is the limit.
toegestane_netwerken = ["127.0.0.0/8"]
poll_interval = "50ms"
batch_size = 256
concurrency_per_endpoint = 64
[retentie]
purge_interval = "0s"
EOF
  start_server "$backend"
  P=(data/demo/zorgaanbieder.pem data/demo/zorgaanbieder.key)
  I=(data/demo/zorgverzekeraar.pem data/demo/zorgverzekeraar.key)
  B=https://localhost:$PORT

  want ceiling && echo "-- ceiling: GET /api/v1/whoami" &&
  runs ceiling "$backend" "${P[@]}" "$B/api/v1/whoami"
  want soap_submit && echo "-- SOAP IndienenMachtigingsaanvraag" &&
  runs soap_submit "$backend" "${P[@]}" "$B/soap/machtigingen/v1" --method POST --body-file "$WORK/soap.xml" \
    --header 'content-type: text/xml; charset=utf-8' \
    --header 'SOAPAction: "urn:machtigingen:machtigingen:v1/IndienenMachtigingsaanvraag"'
  RSS_SUBMIT=$(peak_rss_mib)
  want rest_submit && echo "-- REST submit" &&
  runs rest_submit "$backend" "${P[@]}" "$B/api/v1/machtigingsaanvragen" --method POST --body-file "$WORK/rest.xml" \
    --header 'content-type: application/xml'
  record peak_rss "$backend" "{\"rss_mib\": $RSS_SUBMIT, \"after\": \"soap_submit\"}"

  if want get_by_id; then
  # A request stored by the submit runs above (query by id needs them).
  ID=$(curl -s --cacert data/pki/ca.pem --cert "${P[0]}" --key "${P[1]}" \
    "$B/api/v1/machtigingsaanvragen?paginaGrootte=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["resultaten"][0]["machtigingsaanvraagId"])')
  echo "-- query by id"
  runs get_by_id "$backend" "${P[@]}" "$B/api/v1/machtigingsaanvragen/$ID"
  fi
  want search && echo "-- search (status, first page of 20)" &&
  runs search "$backend" "${P[@]}" "$B/api/v1/machtigingsaanvragen?status=Ingediend&paginaGrootte=20"

  if want rest_submit_half; then
  MAXRPS=$(python3 -c 'import json,sys,statistics; r=[json.loads(l) for l in open(sys.argv[1])]; print(statistics.median([x["rps"] for x in r if x["scenario"]=="rest_submit" and x["backend"]==sys.argv[2]]))' "$RESULTS" "$backend")
  HALF=$(python3 -c "print(round($MAXRPS/2, 1))")
  echo "-- REST submit at 50 % of $MAXRPS/s"
  runs rest_submit_half "$backend" "${P[@]}" "$B/api/v1/machtigingsaanvragen" --method POST --body-file "$WORK/rest.xml" \
    --header 'content-type: application/xml' --rate "$HALF"
  fi

  if want callbacks; then
  echo "-- decision -> callback: $CALLBACKS as a backlog, then $CB_STEADY at up to $CB_RATE decisions/s"
  # Register the callback while no receiver listens (verification fails,
  # registration stands); the receiver starts later with the secret.
  SECRET=$(curl -s --cacert data/pki/ca.pem --cert "${P[0]}" --key "${P[1]}" -X PUT "$B/api/v1/terugkoppeling/abonnement" \
    -H 'content-type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"url": "https://localhost:'$RXPORT'/cb", "formaat": "json", "caBundle": open("data/pki/ca.pem").read(), "gebeurtenissen": ["machtiging.status"]}))')" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["geheim"])')
  echo '{"status": "InBehandeling"}' >"$WORK/decide.json"
  decide_list() { # count file: fresh requests, drained from the insurer's inbox
    "$LG" --cert "${P[0]}" --key "${P[1]}" --cacert data/pki/ca.pem --url "$B/api/v1/machtigingsaanvragen" \
      --method POST --body-file "$WORK/rest.xml" --header 'content-type: application/xml' \
      --concurrency 16 --duration 900 --requests "$1" --start $((RANDOM * 100000 + 900000000)) >/dev/null
    python3 "$ROOT/scripts/bench_inbox.py" "$B" "${I[@]}" "$2" "$1"
  }
  decide() { # file count [loadgen args...]
    local file=$1 n=$2
    shift 2
    "$LG" --cert "${I[0]}" --key "${I[1]}" --cacert data/pki/ca.pem --url "$B/api/v1/beoordeling/machtigingsaanvragen" \
      --urls-file "$file" --method POST --body-file "$WORK/decide.json" --header 'content-type: application/json' \
      --concurrency 16 --duration 900 --requests "$n" --warmup-url "$B/api/v1/whoami" "$@"
  }
  # The backlog: decisions with the dispatcher off, then delivery alone.
  stop_server
  start_server "$backend" MACHTIGINGEN_TERUGKOPPELING__DISPATCHER=false
  decide_list "$CALLBACKS" "$DIR/backlog.txt"
  DECIDE=$(decide "$DIR/backlog.txt" "$CALLBACKS")
  echo "   decisions: $DECIDE"
  record decisions "$backend" "$DECIDE"
  stop_server
  "$BIN" receiver --listen 127.0.0.1:$RXPORT --tls-cert data/pki/server.pem --tls-key data/pki/server.key \
    --client-ca data/pki/ca.pem --secret "$SECRET" --out "$DIR/rx.jsonl" >/dev/null 2>&1 &
  RX_PID=$!
  sleep 1
  start_server "$backend"
  python3 "$ROOT/scripts/bench_callbacks.py" wait "$DIR/rx.jsonl" "$DIR/backlog.txt" 300
  CB=$(python3 "$ROOT/scripts/bench_callbacks.py" drain "$DIR/rx.jsonl" "$DIR/backlog.txt")
  echo "   backlog: $CB"
  record callbacks_drain "$backend" "$CB"
  # Steady decisions, delivered as they come, at no more than half the rate
  # at which the service can both decide and deliver (from the two rates just
  # measured): above that the latency is only a growing queue.
  RATE=$(python3 -c 'import json,sys; d, c = (json.loads(a)["rps"] for a in sys.argv[2:]); print(max(1, min(int(sys.argv[1]), int(0.5 / (1 / d + 1 / c)))))' "$CB_RATE" "$DECIDE" "$CB")
  decide_list "$CB_STEADY" "$DIR/steady.txt"
  decide "$DIR/steady.txt" "$CB_STEADY" --rate "$RATE" >/dev/null
  python3 "$ROOT/scripts/bench_callbacks.py" wait "$DIR/rx.jsonl" "$DIR/steady.txt" 120
  CB=$(python3 "$ROOT/scripts/bench_callbacks.py" latency "$DIR/rx.jsonl" "$DIR/steady.txt")
  echo "   steady at $RATE/s: $CB"
  record callbacks_latency "$backend" "${CB%\}}, \"rate\": $RATE}"
  kill "$RX_PID" 2>/dev/null || true
  RX_PID=""
  fi

  stop_server
  if want seed; then
  echo "-- seeding $SEEDN stored requests (own storage code), then REST submit again"

  SEEDED=$(MACHTIGINGEN_DATABASE__URL=$URL "$SEED" "$SEEDN")
  echo "   $SEEDED"
  record seed "$backend" "$SEEDED"
  start_server "$backend"
  runs rest_submit_full "$backend" "${P[@]}" "$B/api/v1/machtigingsaanvragen" --method POST --body-file "$WORK/rest.xml" \
    --header 'content-type: application/xml'
  stop_server
  fi
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DBNAME" || true
  fi
  cd "$ROOT"
done

if [ "$PEER" = 1 ] && [ -f scripts/peer/run.sh ]; then
  echo "== peer (Python spyne + lxml, SQLite)"
  bash scripts/peer/run.sh "$WORK" "$RESULTS" "$LG" "$RUNS" "$DUR" "$CONC" || echo "peer failed; see $WORK/peer.log"
fi

# The search scaling rows (10 k against 1 M stored requests) and the two-instance
# row come from their own scripts, run here so that the report has them from the
# same run; their raw lines join this run's results under scenario names of
# their own.
if want search_scaling; then
  echo "== search at ${BENCH_SCALE_SIZES:-10000 1000000} stored requests (scripts/bench_search.sh)"
  if BENCH_BACKENDS="$BACKENDS" BENCH_SIZES="${BENCH_SCALE_SIZES:-10000 1000000}" BENCH_RUNS="$RUNS" \
    BENCH_DURATION="$DUR" BENCH_CONCURRENCY="$CONC" BENCH_PG_ADMIN="$PG_ADMIN" \
    bash scripts/bench_search.sh >"$WORK/search.jsonl" 2>"$WORK/search.log"; then
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{"):
        d = json.loads(l); d["scenario"] = "scaling_" + d["scenario"]; print(json.dumps(d))' \
      "$WORK/search.jsonl" >>"$RESULTS"
  else
    echo "search scaling failed; see $WORK/search.log"
  fi
fi
if want two_instances && [[ " $BACKENDS " == *" postgres "* ]]; then
  echo "== capacity model and two instances on one PostgreSQL (scripts/bench_capacity.sh)"
  if CAP_PG_ADMIN="$PG_ADMIN" bash scripts/bench_capacity.sh >"$WORK/capacity.log" 2>&1; then
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("phase") in ("two_submit", "two_check"):
        d.update(scenario=d["phase"], backend="postgres"); print(json.dumps(d))' \
      "$(sed -n 's/^== raw results: //p' "$WORK/capacity.log")" >>"$RESULTS"
  else
    echo "two instances failed; see $WORK/capacity.log"
  fi
fi

if [ "$MICRO" = 1 ]; then
  echo "== micro-benchmarks (criterion): validation pipeline"
  cargo bench --locked --bench validation -- --warm-up-time 1 --measurement-time 5 >"$WORK/criterion.log" 2>&1 || echo "criterion failed; see $WORK/criterion.log"
fi

if [ -n "$ONLY" ]; then
  cat "$RESULTS"
  echo "== BENCH_ONLY: docs/benchmarks.md left as it was (raw results: $RESULTS)"
else
  # Into a file of its own first: the report keeps the hand-written sections of the
  # current docs/benchmarks.md, which a redirect would have emptied before it ran.
  python3 scripts/bench_report.py "$RESULTS" >"$WORK/benchmarks.md"
  mv "$WORK/benchmarks.md" docs/benchmarks.md
  echo "== written docs/benchmarks.md (raw results: $RESULTS)"
fi
