#!/usr/bin/env bash
# Third-party conformance suite driver: builds the binary, starts a zero-config
# `serve` in a fresh temp directory, issues the certificates the runners need,
# starts the reference callback receiver and runs every conformance/*/run.sh
# with the environment described in conformance/README.md.
#
#   conformance/run.sh [--only zeep,php] [--keep]
#
# Exit status is non-zero when any runner fails (or cannot start).
set -euo pipefail

# Everything is in main so that bash parses the whole file before running it:
# editing this script during a run cannot change the run.
main() {

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ONLY=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?--only needs a comma-separated list}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

say() { printf '== %s\n' "$*" >&2; }

say "building"
(cd "$ROOT" && cargo build --locked --bin machtigingen >&2)
export MT_BIN="$ROOT/target/debug/machtigingen"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-conformance.XXXXXX")
SERVER_PID=""
RECEIVER_PID=""
cleanup() {
  local pid
  for pid in "$RECEIVER_PID" "$SERVER_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
OPS_PORT=$(free_port)
RECEIVER_PORT=$(free_port)
CONTRACT_PORT=$(free_port)

# Callbacks to the local receiver are otherwise refused as SSRF (TKP-002).
export MACHTIGINGEN_SERVER__LISTEN="127.0.0.1:$PORT"
export MACHTIGINGEN_SERVER__OPS_LISTEN="127.0.0.1:$OPS_PORT"
# The certificate-less contract listener (docs/security.md), on a port of its own too.
export MACHTIGINGEN_SERVER__CONTRACT_LISTEN="127.0.0.1:$CONTRACT_PORT"
export MACHTIGINGEN_TERUGKOPPELING__TOEGESTANE_NETWERKEN='["127.0.0.0/8","::1/128"]'
# Every runner and SOAP version runs a real receiver check (ControlerenOntvanger)
# and asserts its whole report; the default of 5 per party per hour would cut the
# suite's six SOAP runs short. The limit itself (TKP-006) is tested in tests/it.
export MACHTIGINGEN_TERUGKOPPELING__CONTROLES_PER_UUR=50

mkdir -p "$TMP/server" "$TMP/certs" "$TMP/work"
cd "$TMP/server"
say "starting serve in $TMP/server (https :$PORT, ops :$OPS_PORT)"
"$MT_BIN" serve >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$OPS_PORT/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$TMP/serve.log" >&2; exit 1; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$OPS_PORT/health/ready" >/dev/null || {
  cat "$TMP/serve.log" >&2; echo "serve did not become ready" >&2; exit 1; }

export MT_URL="https://localhost:$PORT"
export MT_CA="$TMP/server/data/pki/ca.pem"
export MT_CERTS="$TMP/certs"
export MT_WORK="$TMP/work"
say "issuing certificates into $MT_CERTS"
# The demo PKCS#12 files are used as `serve` wrote them, under the password it
# documents beside them; the portal's is issued under the same one.
MT_P12_PASSWORD=$(head -n1 data/demo/p12-wachtwoord.txt)
export MT_P12_PASSWORD
for role in zorgaanbieder zorgverzekeraar; do
  cp "data/demo/$role.pem" "data/demo/$role.key" "data/demo/$role.p12" "$MT_CERTS/"
done
"$MT_BIN" party add --portal conformance-portaal --name "Conformance portaal" >&2
"$MT_BIN" pki issue --party PLATFORM:conformance-portaal --kind systeem \
  --grant optin:aanmelden --grant terugkoppeling:beheren \
  --p12-password-file data/demo/p12-wachtwoord.txt --out "$MT_CERTS/portaal" >&2

# The reference receiver presents the platform's own server certificate (issued
# by the development CA for localhost) and accepts only the platform's client
# certificate. It needs the signing secret of a registration, so before each
# runner the provider's callback is (re-)registered and the receiver restarted
# with the secret the platform answers.
export MT_RECEIVER_URL="https://localhost:$RECEIVER_PORT/terugkoppeling"
export MT_RECEIVER_LOG="$TMP/receiver.jsonl"
: >"$MT_RECEIVER_LOG"
register_and_receive() {
  local body secret
  body=$(python3 -c 'import json,sys; print(json.dumps({"url": sys.argv[1], "formaat": "json",
      "caBundle": open(sys.argv[2]).read()}))' "$MT_RECEIVER_URL" "$MT_CA")
  secret=$(curl -fsS --cacert "$MT_CA" --cert "$MT_CERTS/zorgaanbieder.pem" \
      --key "$MT_CERTS/zorgaanbieder.key" -X PUT -H 'Content-Type: application/json' \
      --data "$body" "$MT_URL/api/v1/terugkoppeling/abonnement" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["geheim"])')
  if [ -n "$RECEIVER_PID" ]; then kill "$RECEIVER_PID" 2>/dev/null || true; wait "$RECEIVER_PID" 2>/dev/null || true; fi
  # The secret goes through the environment, not the process list.
  MACHTIGINGEN_RECEIVER_SECRET="$secret" "$MT_BIN" receiver --listen "127.0.0.1:$RECEIVER_PORT" \
    --tls-cert "$TMP/server/data/pki/server.pem" --tls-key "$TMP/server/data/pki/server.key" \
    --client-ca "$MT_CA" --out "$MT_RECEIVER_LOG" >>"$TMP/receiver.log" 2>&1 &
  RECEIVER_PID=$!
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$RECEIVER_PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "receiver did not start" >&2; cat "$TMP/receiver.log" >&2; return 1
}

passed=0; failed=0; broken=()
summaries=()
for script in "$ROOT"/conformance/*/run.sh; do
  name=$(basename "$(dirname "$script")")
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
  register_and_receive
  mkdir -p "$MT_WORK/$name"
  say "runner $name"
  out="$TMP/$name.out"
  set +e
  MT_WORK="$MT_WORK/$name" bash "$script" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1 || true)
  if [ -z "$summary" ]; then
    summary="no summary (exit $rc)"; failed=$((failed + 1)); broken+=("$name")
  else
    p=${summary%% passed*}; f=${summary#*passed, }; f=${f%% failed}
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    if [ "$rc" -ne 0 ]; then broken+=("$name"); fi
  fi
  summaries+=("$(printf '%-14s %s' "$name" "$summary")")
done

echo
echo "== conformance summary"
for s in "${summaries[@]}"; do echo "$s"; done
if [ "${#summaries[@]}" -eq 0 ]; then echo "no runner selected" >&2; exit 2; fi
[ "${#broken[@]}" -eq 0 ] || echo "failed runners: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "${#broken[@]}" -eq 0 ]
}

main "$@"
