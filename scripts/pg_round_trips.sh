#!/usr/bin/env bash
# Statements (= round trips) and commits per SOAP submit on PostgreSQL, with
# the submission batch writer on and off: figures that do not depend on how
# loaded the machine is. Needs a release build (scripts/bench.sh makes one)
# and read access to the PostgreSQL server's log.
#
#   scripts/pg_round_trips.sh            # 2000 submits at concurrency 32, writers 0 and 2
#
# Knobs: RT_PROFILE (release; debug counts the same statements), RT_SUBMITS (2000), RT_CONCURRENCY (32), RT_WRITERS ("0 2": values of
# database.pg_batch_writers), RT_PG_ADMIN (postgres://postgres@127.0.0.1:5432/postgres),
# RT_PG_LOG (/var/log/postgresql/postgresql-15-main.log).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${RT_SUBMITS:-2000}
CONC=${RT_CONCURRENCY:-32}
WRITERS=${RT_WRITERS:-0 2}
PG_ADMIN=${RT_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
PG_LOG=${RT_PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
PROFILE=${RT_PROFILE:-release}
BIN=$ROOT/target/$PROFILE/machtigingen
LG=$ROOT/target/$PROFILE/examples/loadgen
PORT=18543 OPS=19564
WORK=$(mktemp -d /tmp/mt-rt-XXXXXX)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true' EXIT

BEGIN=$(date -d '+7 days' +%F)
END=$(date -d '+120 days' +%F)
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
  echo '<IndienenMachtigingsaanvraag xmlns="urn:machtigingen:machtigingen:v1">'
  sed -e '1d' -e 's| xmlns="urn:machtigingen:machtigingen:v1"||' \
    -e "s|<Referentie>PMS-2026-000123</Referentie>|<Referentie>RT-{n}</Referentie>|" \
    -e "s|<Begindatum>[^<]*</Begindatum>|<Begindatum>$BEGIN</Begindatum>|" \
    -e "s|<GewensteEinddatum>[^<]*</GewensteEinddatum>|<GewensteEinddatum>$END</GewensteEinddatum>|" \
    "$ROOT/docs/examples/machtigingen/Machtigingsaanvraag.xml"
  echo '</IndienenMachtigingsaanvraag></s:Body></s:Envelope>'
} >"$WORK/soap.xml"

logged() { # database pattern: statements of that database in the server log
  grep -c "@$1 LOG:  $2" "$PG_LOG" || true
}

for w in $WRITERS; do
  DB=mt_rt_$$_$w
  DIR=$WORK/$w
  mkdir -p "$DIR"
  cd "$DIR"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" -qc "ALTER DATABASE $DB SET log_statement = 'all'"
  cat >rt.toml <<EOF
[server]
listen = "127.0.0.1:$PORT"
ops_listen = "127.0.0.1:$OPS"
# Off: a service started by the README (or .ci/run) beside it keeps 8444.
contract_listen = ""
[database]
url = "${PG_ADMIN%/*}/$DB"
pool_size = 16
pg_batch_writers = $w
[log]
level = "warn"
[retentie]
purge_interval = "0s"
EOF
  "$BIN" --config rt.toml serve >serve.log 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$OPS/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  run() { # requests start
    "$LG" --cert data/demo/zorgaanbieder.pem --key data/demo/zorgaanbieder.key --cacert data/pki/ca.pem \
      --url "https://localhost:$PORT/soap/machtigingen/v1" --method POST --body-file "$WORK/soap.xml" \
      --header 'content-type: text/xml; charset=utf-8' \
      --header 'SOAPAction: "urn:machtigingen:machtigingen:v1/IndienenMachtigingsaanvraag"' \
      --concurrency "$CONC" --duration 600 --requests "$1" --start "$2"
  }
  run 200 1000000 >/dev/null # warm: statements prepared, pool filled
  sleep 1
  S0=$(psql "${PG_ADMIN%/*}/$DB" -Atc "SELECT count(*) FROM machtigingsaanvragen")
  L0=$(logged "$DB" '\(statement\|execute\)')
  C0=$(logged "$DB" 'statement: COMMIT')
  OUT=$(run "$N" 2000000)
  sleep 1
  L1=$(logged "$DB" '\(statement\|execute\)')
  C1=$(logged "$DB" 'statement: COMMIT')
  S1=$(psql "${PG_ADMIN%/*}/$DB" -Atc "SELECT count(*) FROM machtigingsaanvragen")
  ok=$((S1 - S0))
  python3 -c 'import sys; n,l,c,ok=map(int,sys.argv[2:6]); print(f"pg_batch_writers={sys.argv[1]}: {ok} stored of {n}; statements/submit {l/ok:.2f}, commits/submit {c/ok:.3f}  (loadgen: {sys.argv[6]})")' \
    "$w" "$N" $((L1 - L0)) $((C1 - C0)) "$ok" "$OUT"
  kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
done
