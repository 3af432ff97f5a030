#!/usr/bin/env bash
# Real-browser tests of the portal (docs/portaal.md#browser-tests): builds the
# binary, starts a zero-config `serve` in a fresh temp directory (its
# development PKI and demo persons), issues the extra certificates the
# scenarios need, starts the reference callback receiver, and runs
# portal.test.mjs in Debian's headless chromium through playwright-core.
#
#   tests/browser/run.sh [--keep]       (after `npm ci` in tests/browser)
#
# Screenshots are written to docs/portaal/*.png. Exit status non-zero on any failure.
set -euo pipefail

main() {

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KEEP=0
case "${1:-}" in
  --keep) KEEP=1 ;;
  "") ;;
  *) echo "unknown argument: $1" >&2; exit 2 ;;
esac

say() { printf '== %s\n' "$*" >&2; }

[ -d "$HERE/node_modules/playwright-core" ] || {
  echo "playwright-core is missing: run 'npm ci' in tests/browser" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || {
  echo "Node.js 20 or later is needed (playwright-core), found $(node --version)" >&2; exit 1; }
export MT_CHROMIUM="${MT_CHROMIUM:-/usr/bin/chromium}"
[ -x "$MT_CHROMIUM" ] || { echo "no chromium at $MT_CHROMIUM (apt-get install chromium)" >&2; exit 1; }

say "building"
(cd "$ROOT" && cargo build --locked --bin machtigingen >&2)
export MT_BIN="$ROOT/target/debug/machtigingen"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-browser.XXXXXX")
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

export MACHTIGINGEN_SERVER__LISTEN="127.0.0.1:$PORT"
export MACHTIGINGEN_SERVER__OPS_LISTEN="127.0.0.1:$OPS_PORT"
export MACHTIGINGEN_SERVER__CONTRACT_LISTEN="127.0.0.1:$CONTRACT_PORT"
# Callbacks to the local receiver are otherwise refused as SSRF (TKP-002).
export MACHTIGINGEN_TERUGKOPPELING__TOEGESTANE_NETWERKEN='["127.0.0.0/8","::1/128"]'

mkdir -p "$TMP/server" "$TMP/certs"
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
export MT_DEMO="$TMP/server/data/demo"
export MT_CERTS="$TMP/certs"
MT_P12_PASSWORD=$(head -n1 data/demo/p12-wachtwoord.txt)
export MT_P12_PASSWORD

say "issuing the scenarios' certificates into $MT_CERTS"
pw=(--p12-password-file data/demo/p12-wachtwoord.txt)
# The demo insurer 3311 asks an attachment for every verstrekking the form can
# reach; the sample catalog's 3312 PLAST-OOGLID does not, so its insurer gets
# an assessor (persoonlijk) and its software (systeem).
"$MT_BIN" pki issue --party UZOVI:3312 --kind persoonlijk --cn "Browser Beoordelaar" \
  --grant beoordelen "${pw[@]}" --out "$MT_CERTS/beoordelaar3312" >&2
"$MT_BIN" pki issue --party UZOVI:3312 --kind systeem \
  --grant beoordelen "${pw[@]}" --out "$MT_CERTS/verzekeraar3312" >&2
# Software of the demo practice without raadplegen: the contact person grants it.
"$MT_BIN" pki issue --party AGB:03123456 --kind systeem --cn "Browser praktijksoftware" \
  --grant terugkoppeling:beheren "${pw[@]}" --out "$MT_CERTS/praktijksoftware" >&2
# A software vendor acting for the demo practice once its contact person
# registers a consent statement in the portal.
"$MT_BIN" party add --vendor browser-pms --name "Browser PMS BV" >&2
"$MT_BIN" pki issue --party PLATFORM:browser-pms --kind systeem \
  --grant machtigingen:indienen "${pw[@]}" --out "$MT_CERTS/leverancier" >&2
# A patient portal that registers opt-in consents (the portal channel).
"$MT_BIN" party add --portal browser-portaal --name "Browser patiëntportaal" >&2
"$MT_BIN" pki issue --party PLATFORM:browser-portaal --kind systeem \
  --grant optin:aanmelden "${pw[@]}" --out "$MT_CERTS/patientportaal" >&2

# The provider's callback receiver: the reference receiver with the secret the
# platform answers on registration (through the environment, not argv).
export MT_RECEIVER_URL="https://localhost:$RECEIVER_PORT/terugkoppeling"
export MT_RECEIVER_LOG="$TMP/receiver.jsonl"
: >"$MT_RECEIVER_LOG"
body=$(python3 -c 'import json,sys; print(json.dumps({"url": sys.argv[1], "formaat": "json",
    "caBundle": open(sys.argv[2]).read()}))' "$MT_RECEIVER_URL" "$MT_CA")
secret=$(curl -fsS --cacert "$MT_CA" --cert data/demo/zorgaanbieder.pem \
    --key data/demo/zorgaanbieder.key -X PUT -H 'Content-Type: application/json' \
    --data "$body" "$MT_URL/api/v1/terugkoppeling/abonnement" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["geheim"])')
MACHTIGINGEN_RECEIVER_SECRET="$secret" "$MT_BIN" receiver --listen "127.0.0.1:$RECEIVER_PORT" \
  --tls-cert data/pki/server.pem --tls-key data/pki/server.key \
  --client-ca "$MT_CA" --out "$MT_RECEIVER_LOG" >"$TMP/receiver.log" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$RECEIVER_PORT") 2>/dev/null; then break; fi
  sleep 0.1
done

export MT_SCREENSHOTS="$ROOT/docs/portaal"
mkdir -p "$MT_SCREENSHOTS"
say "browser scenarios ($MT_CHROMIUM)"
rc=0
(cd "$HERE" && node --test --test-concurrency=1 portal.test.mjs) || rc=$?
if [ "$rc" -ne 0 ]; then
  say "serve log (last 40 lines)"; tail -n 40 "$TMP/serve.log" >&2
  say "receiver log"; tail -n 20 "$TMP/receiver.log" >&2
fi
return "$rc"
}

main "$@"
