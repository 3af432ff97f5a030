#!/usr/bin/env bash
# Search against query by id at two table sizes, in one run, on SQLite and
# PostgreSQL (docs/benchmarks.md, "Search at 10 k and 1 M stored requests").
#
#   scripts/bench_search.sh                     # 10000 then 1000000 requests
#   BENCH_SIZES="10000 100000" BENCH_BACKENDS=sqlite scripts/bench_search.sh
#   BENCH_DOCUMENT_BYTES=100000 BENCH_SIZES=10000 scripts/bench_search.sh
#
# Per backend and size: REST query by id, the first page of a search (status,
# 20 per page; every stored request matches, so the total is capped), and a
# page deep in the same search (the vervolg token after 90 % of the matches,
# printed by `examples/seed.rs token`). The provider owns every request: the
# worst case for a count or an OFFSET. Each scenario runs BENCH_RUNS (3) times
# for BENCH_DURATION (8 s) at BENCH_CONCURRENCY (32); one JSON line per run on
# stdout and in $WORK/results.jsonl, with the load average at its end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
SIZES=${BENCH_SIZES:-10000 1000000}
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-8}
CONC=${BENCH_CONCURRENCY:-32}
# The size of each stored document; the example's own (1.5 KB) fits a
# database page, an attachment does not. A larger size also numbers every
# request (examples/seed.rs; docs/benchmarks.md, "SQLite: the stored
# documents last").
DOC=${BENCH_DOCUMENT_BYTES:-1500}
PG_ADMIN=${BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${BENCH_PORT:-18543} OPS=${BENCH_OPS_PORT:-19564}

cargo build --release --locked --bin machtigingen --example loadgen --example seed >&2
BIN=$ROOT/target/release/machtigingen
LG=$ROOT/target/release/examples/loadgen
SEED=$ROOT/target/release/examples/seed
WORK=$(mktemp -d /tmp/mt-bench-search-XXXXXX)
RESULTS=$WORK/results.jsonl
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

load() { cut -d' ' -f1 /proc/loadavg; }

record() { # scenario backend size json
  python3 -c 'import json,sys; d=json.loads(sys.argv[4]); d.update(scenario=sys.argv[1], backend=sys.argv[2], size=int(sys.argv[3]), load=float(sys.argv[5]), document_bytes=int(sys.argv[6])); print(json.dumps(d))' \
    "$1" "$2" "$3" "$4" "$(load)" "$DOC" | tee -a "$RESULTS"
}

runs() { # scenario backend size url
  for _ in $(seq "$RUNS"); do
    out=$("$LG" --cert "${P[0]}" --key "${P[1]}" --cacert data/pki/ca.pem --url "$4" \
      --concurrency "$CONC" --duration "$DUR" --warmup-url "https://localhost:$PORT/api/v1/whoami")
    record "$1" "$2" "$3" "$out"
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

for backend in $BACKENDS; do
  DIR=$WORK/$backend
  mkdir -p "$DIR"
  cd "$DIR"
  if [ "$backend" = postgres ]; then
    DBNAME=mt_bench_search_$$
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
[retentie]
purge_interval = "0s"
EOF
  P=(data/demo/zorgaanbieder.pem data/demo/zorgaanbieder.key)
  B=https://localhost:$PORT
  # The first start makes the development PKI, the demo certificates and the
  # database.
  "$BIN" --config bench.toml serve >>serve.log 2>&1 &
  SERVER_PID=$!
  wait_ready
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  stored=0
  for size in $SIZES; do
    SEED_START=$stored SEED_DOCUMENT_BYTES=$DOC MACHTIGINGEN_DATABASE__URL=$URL "$SEED" $((size - stored)) >&2
    stored=$size
    if [ "$backend" = postgres ]; then
      # As autovacuum leaves a table after a bulk load: statistics and the
      # visibility map (index-only walks) up to date.
      psql "${PG_ADMIN%/*}/$DBNAME" -qc "VACUUM ANALYZE machtigingsaanvragen"
    fi
    DEEP=$(MACHTIGINGEN_DATABASE__URL=$URL "$SEED" token $((size * 9 / 10)))
    "$BIN" --config bench.toml serve >>serve.log 2>&1 &
    SERVER_PID=$!
    wait_ready
    ID=$(curl -s --cacert data/pki/ca.pem --cert "${P[0]}" --key "${P[1]}" \
      "$B/api/v1/machtigingsaanvragen?paginaGrootte=1" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["resultaten"][0]["machtigingsaanvraagId"])')
    runs get_by_id "$backend" "$size" "$B/api/v1/machtigingsaanvragen/$ID"
    runs search_first "$backend" "$size" "$B/api/v1/machtigingsaanvragen?status=Ingediend&paginaGrootte=20"
    runs search_deep "$backend" "$size" "$B/api/v1/machtigingsaanvragen?status=Ingediend&paginaGrootte=20&vervolg=$DEEP"
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  done
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DBNAME" || true
  fi
  cd "$ROOT"
done

echo "results: $RESULTS" >&2
