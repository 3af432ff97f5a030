#!/usr/bin/env bash
# Capacity model and two-instance run on PostgreSQL (issue 20, item 5). See
# "Capacity model" and "Two instances on one PostgreSQL" in docs/benchmarks.md
# and the Benchmarks section of README.md.
#
#   scripts/bench_capacity.sh             # both parts, ~5 minutes on 2 cores
#   CAP_TWO=0 CAP_SUBMITS=2000 scripts/bench_capacity.sh
#
# Part 1, cost per operation. One release service on a fresh database drives a
# fixed number of SOAP submits (CAP_SUBMITS, 5000), insurer decisions with the
# dispatcher off (CAP_DECISIONS, 3000), and the delivery of their callbacks to
# the reference receiver (dispatcher on). Around each phase it snapshots
# (scripts/bench_capacity.py): utime+stime of the service process and of
# every PostgreSQL process (/proc), the WAL position, pg_stat_wal and
# pg_stat_database; after each phase pg_waldump attributes the WAL of the
# range to the transactions that touched the bench database. CPU time is used
# rather than wall clock because it hardly changes when the machine is busy.
# Statements per operation come from a second, smaller pass (CAP_STMT_OPS,
# 300) with `log_statement = 'all'` set on the bench database and counted in
# the server log (CAP_PG_LOG): pg_stat_statements is only usable when it is in
# shared_preload_libraries, which needs a server restart; if it is loaded the
# script says so but still counts from the log. The disk's fdatasync rate and
# sequential write bandwidth (pg_test_fsync, dd) feed the WAL limits. The
# model (N = 1..8 instances of CAP_C cores on a primary of CAP_P cores at
# CAP_UTIL utilisation, CAP_K decisions per request) is printed as markdown.
#
# Part 2 (CAP_TWO=1), two instances sharing the database (different ports,
# same configuration and PKI directory): SOAP submit against the first alone
# and against both at once (CAP_CONCURRENCY split between them, CAP_DURATION
# s, CAP_ROUNDS alternating rounds), then CAP_TWO_REQUESTS requests decided
# three times (InBehandeling, AanvullendeInformatieGevraagd, Toegekend), each
# round split between the instances and the instance swapped from round to
# round, with both dispatchers delivering to the reference receiver. Checks:
# every accepted submit is stored; every decision's terugkoppeling appears
# exactly once in the receiver's de-duplicated output (--out) and in the
# order of the decisions per request.
#
# Must run as a user that can read /proc of the postgres processes, the
# server log and pg_wal (root on the bench machine). Raw results: the path
# printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SUBMITS=${CAP_SUBMITS:-5000}
DECISIONS=${CAP_DECISIONS:-3000}
STMT_OPS=${CAP_STMT_OPS:-300}
TWO=${CAP_TWO:-1}
TWO_REQ=${CAP_TWO_REQUESTS:-2000}
CONC=${CAP_CONCURRENCY:-32}
DUR=${CAP_DURATION:-8}
ROUNDS=${CAP_ROUNDS:-2}
PG_ADMIN=${CAP_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
PG_LOG=${CAP_PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
FSYNC_TEST=${CAP_PG_TEST_FSYNC:-/usr/lib/postgresql/15/bin/pg_test_fsync}
# Ports of their own, so bench.sh can run beside it.
PORT=28443 OPS=29464 PORT2=28445 OPS2=29466 RXPORT=28444 CPORT=28446 CPORT2=28447
PY=$ROOT/scripts/bench_capacity.py

echo "== building (release)"
cargo build --release --locked --example loadgen --bin machtigingen
BIN=$ROOT/target/release/machtigingen
LG=$ROOT/target/release/examples/loadgen
WORK=$(mktemp -d /tmp/mt-capacity-XXXXXX)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
DB=mt_capacity_$$
SERVER_PID="" SERVER2_PID="" RX_PID=""
cleanup() {
  for p in $SERVER_PID $SERVER2_PID $RX_PID; do kill "$p" 2>/dev/null || true; done
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB" -qc "CREATE DATABASE $DB"
if [[ "$(psql "$PG_ADMIN" -XAtc 'show shared_preload_libraries')" == *pg_stat_statements* ]]; then
  echo "   pg_stat_statements is preloaded; statements are still counted from the log"
else
  echo "   pg_stat_statements is not in shared_preload_libraries (needs a restart): statements counted from the server log"
fi
mkdir -p "$WORK/pg"
cd "$WORK/pg"
cat >bench.toml <<EOF
[server]
listen = "127.0.0.1:$PORT"
ops_listen = "127.0.0.1:$OPS"
contract_listen = "127.0.0.1:$CPORT"
[database]
url = "${PG_ADMIN%/*}/$DB"
pool_size = 16
[log]
level = "warn"
[terugkoppeling]
toegestane_netwerken = ["127.0.0.0/8"]
poll_interval = "50ms"
batch_size = 256
concurrency_per_endpoint = 64
[retentie]
purge_interval = "0s"
EOF

BEGIN=$(date -d '+7 days' +%F)
END=$(date -d '+120 days' +%F)
body() { # referentie-prefix: the SOAP document of bench.sh with a fresh Referentie per request
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    echo '<IndienenMachtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1">'
    sed -e '1d' -e 's| xmlns="urn:machtigingen:machtigingen:v1"||' \
      -e "s|<Referentie>PMS-2026-000123</Referentie>|<Referentie>$1-{n}</Referentie>|" \
      -e "s|<Begindatum>[^<]*</Begindatum>|<Begindatum>$BEGIN</Begindatum>|" \
      -e "s|<GewensteEinddatum>[^<]*</GewensteEinddatum>|<GewensteEinddatum>$END</GewensteEinddatum>|" \
      "$ROOT/docs/examples/machtigingen/Machtigingsaanvraag.xml"
    echo '</IndienenMachtigingsaanvraag></s:Body></s:Envelope>'
  }
}
body CAP >soap.xml
body TWO >soap-two.xml
echo '{"status": "InBehandeling"}' >d1.json
echo '{"status": "AanvullendeInformatieGevraagd", "vragen": [{"vraagId": "V1", "tekst": "Graag een foto van opzij."}]}' >d2.json
echo "{\"status\": \"Toegekend\", \"geldigVan\": \"$BEGIN\", \"geldigTot\": \"$END\"}" >d3.json
P=(data/demo/zorgaanbieder.pem data/demo/zorgaanbieder.key)
I=(data/demo/zorgverzekeraar.pem data/demo/zorgverzekeraar.key)

wait_ready() { # ops-port
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$1/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "service did not become ready" >&2
  return 1
}
start() { # [env...]: the first instance
  env "$@" "$BIN" --config bench.toml serve >>serve.log 2>&1 &
  SERVER_PID=$!
  wait_ready "$OPS"
}
stop() {
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
lg() { # port cert key path [args...]
  local port=$1 cert=$2 key=$3 path=$4
  shift 4
  "$LG" --cert "$cert" --key "$key" --cacert data/pki/ca.pem --url "https://localhost:$port$path" \
    --warmup-url "https://localhost:$port/api/v1/whoami" --start $((RANDOM * 100000 + RANDOM)) "$@"
}
submit() { # port concurrency file [args...]
  local port=$1 conc=$2 file=$3
  shift 3
  lg "$port" "${P[@]}" /soap/machtigingen/v1 --method POST --body-file "$file" --concurrency "$conc" \
    --header 'content-type: text/xml; charset=utf-8' \
    --header 'SOAPAction: "urn:machtigingen:machtigingen:v1/IndienenMachtigingsaanvraag"' "$@"
}
decide() { # port list body count
  lg "$1" "${I[@]}" /api/v1/beoordeling/machtigingsaanvragen --urls-file "$2" --method POST --body-file "$3" \
    --header 'content-type: application/json' --concurrency 16 --duration 900 --requests "$4"
}
ok() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "$1"; }
snap() { python3 "$PY" snap "$WORK/$1.json" "$DB" "$PG_ADMIN" "$SERVER_PID"; }
cost() { # from to ops phase
  local r
  r=$(python3 "$PY" diff "$WORK/$1.json" "$WORK/$2.json" "$3" "$4" "$DB" "$PG_ADMIN")
  echo "   $r"
  echo "$r" >>"$RESULTS"
}
rx_lines() { [ -f rx.jsonl ] && wc -l <rx.jsonl || echo 0; }
wait_rx() { # count seconds
  local deadline=$((SECONDS + $2))
  while [ "$(rx_lines)" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
}

start
# The callback is registered while no receiver listens (its check fails, the
# registration stands); the receiver then starts with the secret.
SECRET=$(curl -s --cacert data/pki/ca.pem --cert "${P[0]}" --key "${P[1]}" -X PUT "https://localhost:$PORT/api/v1/terugkoppeling/abonnement" \
  -H 'content-type: application/json' \
  -d "$(python3 -c 'import json,sys; print(json.dumps({"url": "https://localhost:'$RXPORT'/cb", "formaat": "json", "caBundle": open("data/pki/ca.pem").read(), "gebeurtenissen": ["machtiging.status"]}))')" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["geheim"])')
"$BIN" receiver --listen 127.0.0.1:$RXPORT --tls-cert data/pki/server.pem --tls-key data/pki/server.key \
  --client-ca data/pki/ca.pem --secret "$SECRET" --out rx.jsonl >rx.log 2>&1 &
RX_PID=$!

echo "== part 1: cost per operation (PostgreSQL, database $DB)"
echo "-- $SUBMITS SOAP submits (32 connections)"
submit "$PORT" 32 soap.xml --duration 900 --requests 500 >/dev/null # warm-up: caches, pool, plans
snap s0
OUT=$(submit "$PORT" 32 soap.xml --duration 900 --requests "$SUBMITS")
snap s1
echo "   $OUT"
cost s0 s1 "$(ok "$OUT")" submit
python3 "$ROOT/scripts/bench_inbox.py" "https://localhost:$PORT" "${I[@]}" list.txt "$DECISIONS"

echo "-- $DECISIONS decisions (InBehandeling, 16 connections, dispatcher off)"
stop
start MACHTIGINGEN_TERUGKOPPELING__DISPATCHER=false
lg "$PORT" "${I[@]}" /api/v1/whoami --concurrency 16 --duration 1 >/dev/null
snap d0
OUT=$(decide "$PORT" list.txt d1.json "$DECISIONS")
snap d1
echo "   $OUT"
cost d0 d1 "$(ok "$OUT")" decision
stop

echo "-- their callbacks delivered (dispatcher on, reference receiver)"
# The dispatcher starts delivering as the service becomes ready: the count
# starts from what the receiver had at the first snapshot.
start
snap c0
AT0=$(rx_lines)
wait_rx "$DECISIONS" 300
sleep 1 # the last attempts are recorded after their answers
snap c1
AT1=$(rx_lines)
echo "   delivered $((AT1 - AT0)) after the first snapshot ($AT1 in all)"
cost c0 c1 $((AT1 - AT0)) callback
stop

echo "-- statements per operation ($STMT_OPS of each, log_statement = all on $DB)"
psql "$PG_ADMIN" -qc "ALTER DATABASE $DB SET log_statement = 'all'"
start MACHTIGINGEN_TERUGKOPPELING__DISPATCHER=false
submit "$PORT" 8 soap.xml --duration 900 --requests 50 >/dev/null
python3 "$ROOT/scripts/bench_inbox.py" "https://localhost:$PORT" "${I[@]}" /dev/null 1
L0=$(stat -c %s "$PG_LOG")
OUT=$(submit "$PORT" 8 soap.xml --duration 900 --requests "$STMT_OPS")
L1=$(stat -c %s "$PG_LOG")
python3 "$PY" stmts "$PG_LOG" "$L0" "$L1" "$DB" "$(ok "$OUT")" submit | tee -a "$RESULTS"
python3 "$ROOT/scripts/bench_inbox.py" "https://localhost:$PORT" "${I[@]}" slist.txt "$STMT_OPS"
L0=$(stat -c %s "$PG_LOG")
OUT=$(decide "$PORT" slist.txt d1.json "$STMT_OPS")
L1=$(stat -c %s "$PG_LOG")
python3 "$PY" stmts "$PG_LOG" "$L0" "$L1" "$DB" "$(ok "$OUT")" decision | tee -a "$RESULTS"
stop
BASE=$(rx_lines)
L0=$(stat -c %s "$PG_LOG")
start
wait_rx $((BASE + STMT_OPS)) 120
sleep 1
stop
L1=$(stat -c %s "$PG_LOG")
# Includes the service's start and its idle polling for the few seconds of
# the phase (measured: a handful of statements per poll interval).
python3 "$PY" stmts "$PG_LOG" "$L0" "$L1" "$DB" $(($(rx_lines) - BASE)) callback | tee -a "$RESULTS"
psql "$PG_ADMIN" -qc "ALTER DATABASE $DB RESET log_statement"

echo "-- disk: fdatasync rate and sequential write bandwidth (this machine)"
FS=$("$FSYNC_TEST" -s 2 -f "$WORK/fsync.tmp" 2>/dev/null | awk '$1 == "fdatasync" && $2 ~ /^[0-9.]+$/ && !d {print $2; d = 1}')
BW=$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=256 conv=fdatasync 2>&1 | awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i - 1); print 268.435456 / t}')
rm -f "$WORK/fsync.tmp" "$WORK/dd.tmp"
echo "{\"phase\": \"disk\", \"fdatasync_per_s\": ${FS:-0}, \"write_mb_s\": ${BW:-0}}" | tee -a "$RESULTS"

if [ "$TWO" = 1 ]; then
  echo "== part 2: two instances on one database"
  start
  MACHTIGINGEN_SERVER__LISTEN=127.0.0.1:$PORT2 MACHTIGINGEN_SERVER__OPS_LISTEN=127.0.0.1:$OPS2 \
    MACHTIGINGEN_SERVER__CONTRACT_LISTEN=127.0.0.1:$CPORT2 \
    "$BIN" --config bench.toml serve >>serve2.log 2>&1 &
  SERVER2_PID=$!
  wait_ready "$OPS2"
  ACCEPTED=0
  for r in $(seq "$ROUNDS"); do
    ONE=$(submit "$PORT" "$CONC" soap-two.xml --duration "$DUR")
    ACCEPTED=$((ACCEPTED + $(ok "$ONE")))
    submit "$PORT" $((CONC / 2)) soap-two.xml --duration "$DUR" >a.json &
    A=$!
    submit "$PORT2" $((CONC / 2)) soap-two.xml --duration "$DUR" >b.json
    wait $A
    ACCEPTED=$((ACCEPTED + $(ok "$(cat a.json)") + $(ok "$(cat b.json)")))
    PAIR=$(python3 -c 'import json,sys; print(sum(json.load(open(f))["rps"] for f in sys.argv[1:]))' a.json b.json)
    R1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"])' "$ONE")
    echo "   round $r: one instance $R1/s, the pair $PAIR/s"
    echo "{\"phase\": \"two_submit\", \"one_rps\": $R1, \"pair_rps\": $PAIR}" >>"$RESULTS"
  done
  STORED=$(psql "${PG_ADMIN%/*}/$DB" -XAtc "select count(*) from machtigingsaanvragen where referentie like 'TWO-%'")
  echo "   accepted $ACCEPTED submits, stored $STORED"
  python3 "$ROOT/scripts/bench_inbox.py" "https://localhost:$PORT" "${I[@]}" two.txt "$TWO_REQ"
  head -n $((TWO_REQ / 2)) two.txt >h1.txt
  tail -n +$((TWO_REQ / 2 + 1)) two.txt >h2.txt
  BASE=$(rx_lines)
  DECIDED=0
  T0=$(date +%s.%N)
  for round in 1 2 3; do
    # Odd rounds: first half on the first instance; even rounds swapped.
    if [ $((round % 2)) = 1 ]; then X=$PORT Y=$PORT2; else X=$PORT2 Y=$PORT; fi
    decide "$X" h1.txt d$round.json $(wc -l <h1.txt) >a.json &
    A=$!
    decide "$Y" h2.txt d$round.json $(wc -l <h2.txt) >b.json
    wait $A
    DECIDED=$((DECIDED + $(ok "$(cat a.json)") + $(ok "$(cat b.json)")))
  done
  T1=$(date +%s.%N)
  echo "   $DECIDED of $((3 * TWO_REQ)) decisions accepted in $(python3 -c "print(round($T1 - $T0, 1))") s"
  wait_rx $((BASE + 3 * TWO_REQ)) 300
  sleep 2 # anything delivered twice would arrive now
  CHECK=$(python3 "$PY" check rx.jsonl two.txt InBehandeling AanvullendeInformatieGevraagd Toegekend)
  echo "   $CHECK"
  echo "{\"phase\": \"two_check\", \"accepted\": $ACCEPTED, \"stored\": $STORED, \"decided\": $DECIDED, \"check\": $CHECK}" >>"$RESULTS"
  kill "$SERVER2_PID" && wait "$SERVER2_PID" 2>/dev/null || true
  SERVER2_PID=""
  stop
fi

echo "== capacity model (CAP_C=${CAP_C:-2} CAP_P=${CAP_P:-8} CAP_UTIL=${CAP_UTIL:-0.75} CAP_K=${CAP_K:-2})"
python3 "$PY" model "$RESULTS"
echo "== raw results: $RESULTS"
