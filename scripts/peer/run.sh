#!/usr/bin/env bash
# Measures the Python peer (server.py) with the same load generator and the
# same document as our SOAP submit; called by scripts/bench.sh.
# Args: WORK RESULTS LOADGEN RUNS DURATION CONCURRENCY
set -euo pipefail
WORK=$1 RESULTS=$2 LG=$3 RUNS=$4 DUR=$5 CONC=$6
HERE=$(cd "$(dirname "$0")" && pwd)
# The peer's packages go into a virtual environment of their own (PEP 668:
# Debian's Python refuses installs into the system), kept under target/.
PY=python3
if ! python3 -c 'import spyne, lxml, gunicorn' 2>/dev/null; then
  VENV=${BENCH_PEER_VENV:-$HERE/../../target/peer-venv}
  if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >>"$WORK/peer.log" 2>&1; then
      rm -rf "$VENV"
      # Debian ships venv's ensurepip separately.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >>"$WORK/peer.log" 2>&1
      fi
      python3 -m venv "$VENV" >>"$WORK/peer.log" 2>&1 || { echo "the peer needs python3-venv (apt-get install python3-venv)"; exit 1; }
    fi
  fi
  "$VENV/bin/python" -c 'import spyne, lxml, gunicorn' 2>/dev/null ||
    "$VENV/bin/pip" install -q 'spyne==2.14.0' 'lxml>=5' 'gunicorn>=23' >>"$WORK/peer.log" 2>&1
  PY=$VENV/bin/python
fi
PKI=$WORK/sqlite/data
[ -d "$PKI/pki" ] || { echo "the peer needs the sqlite run's PKI ($PKI)"; exit 1; }
cd "$PKI/.."
rm -f "$WORK/peer.db"
# One worker process per core (the GIL), threads for the connections,
# keep-alive, TLS requiring a client certificate of our CA.
PEER_SCHEMAS="$HERE/../../schemas" PEER_DB="$WORK/peer.db" "$PY" -m gunicorn \
  --chdir "$HERE" --workers "$(nproc)" --worker-class gthread --threads 16 --keep-alive 30 \
  --bind 127.0.0.1:18450 --certfile "$PWD/data/pki/server.pem" --keyfile "$PWD/data/pki/server.key" \
  --ca-certs "$PWD/data/pki/ca.pem" --cert-reqs 2 --log-level warning server:application >>"$WORK/peer.log" 2>&1 &
PEER=$!
trap 'kill $PEER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert data/pki/ca.pem --cert data/demo/zorgaanbieder.pem --key data/demo/zorgaanbieder.key https://localhost:18450/ && break
  sleep 0.2
done
for r in $(seq "$RUNS"); do
  out=$("$LG" --cert data/demo/zorgaanbieder.pem --key data/demo/zorgaanbieder.key --cacert data/pki/ca.pem \
    --url https://localhost:18450/ --method POST --body-file "$WORK/soap.xml" \
    --header 'content-type: text/xml; charset=utf-8' --header 'SOAPAction: "IndienenMachtigingsaanvraag"' \
    --concurrency "$CONC" --duration "$DUR" --start $((r * 100000000)) --warmup-url https://localhost:18450/)
  echo "   peer #$r: $out"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["scenario"]="peer_submit"; d["backend"]="peer"; print(json.dumps(d))' "$out" >>"$RESULTS"
done
