#!/usr/bin/env bash
# curl runner: the REST walkthrough of docs/integratie.md, executed. A provider
# asks who it is, reads the catalog, submits the example document with its dates
# filled in for today, reads the status, has the demo insurer decide, registers
# a callback, sees the signed callback arrive at the reference receiver, and
# pulls and acknowledges its terugkoppelingen. Environment: conformance/README.md.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
passed=0; failed=0
pass() { echo "PASS $1 rest"; passed=$((passed + 1)); }
fail() { echo "FAIL $1 rest : $2"; failed=$((failed + 1)); }
# step NAME COMMAND...: runs the command, PASS when it exits 0.
step() { local name=$1; shift; local out; if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi; }

# --- excerpt: connect ---
P="--fail-with-body -sS --cacert $MT_CA --cert $MT_CERTS/zorgaanbieder.pem --key $MT_CERTS/zorgaanbieder.key"
V="--fail-with-body -sS --cacert $MT_CA --cert $MT_CERTS/zorgverzekeraar.pem --key $MT_CERTS/zorgverzekeraar.key"
curl $P "$MT_URL/api/v1/whoami"
# --- end ---
echo
step whoami.zorgaanbieder sh -c "curl $P '$MT_URL/api/v1/whoami' | grep -q 03123456"
step verstrekkingen.uzovi-3311 sh -c "curl $P '$MT_URL/api/v1/verstrekkingen?uzovi=3311' | grep -q PLAST-OOGLID"

# --- excerpt: dates ---
# The example's dates are fixed; the insurer accepts a start within its window
# (maxDagenTerug/maxDagenVooruit). Fill them relative to today, and a fresh reference:
DOC="$MT_WORK/aanvraag.xml"
sed -e "s|<Begindatum>[^<]*<|<Begindatum>$(date -u -d '+7 days' +%F)<|" \
    -e "s|<GewensteEinddatum>[^<]*<|<GewensteEinddatum>$(date -u -d '+180 days' +%F)<|" \
    -e "s|<Referentie>[^<]*<|<Referentie>CURL-$(date -u +%s%N)<|" \
    "$ROOT/docs/examples/machtigingen/Machtigingsaanvraag.xml" > "$DOC"
# --- end ---

# --- excerpt: submit ---
ANSWER=$(curl $P -H 'Content-Type: application/xml' --data-binary @"$DOC" \
  "$MT_URL/api/v1/machtigingsaanvragen")
ID=$(echo "$ANSWER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["machtigingsaanvraagId"])')
curl $P "$MT_URL/api/v1/machtigingsaanvragen/$ID"
# --- end ---
echo
if [ -n "${ID:-}" ]; then pass machtigingsaanvragen.indienen; else fail machtigingsaanvragen.indienen "$ANSWER"; fi
step machtigingsaanvragen.raadplegen sh -c "curl $P '$MT_URL/api/v1/machtigingsaanvragen/$ID' | grep -q '\"status\":\"Ingediend\"'"

# The callback: registered to the reference receiver (which knows this party's
# secret: the registration is kept, so is the secret), JSON format.
# --- excerpt: register ---
REG=$(python3 -c 'import json,sys; print(json.dumps({"url": sys.argv[1], "formaat": "json",
  "gebeurtenissen": ["machtiging.status"], "caBundle": open(sys.argv[2]).read()}))' "$MT_RECEIVER_URL" "$MT_CA")
curl $P -X PUT -H 'Content-Type: application/json' --data "$REG" "$MT_URL/api/v1/terugkoppeling/abonnement"
# --- end ---
echo
step terugkoppeling.abonnement.verificatie sh -c "curl $P -X PUT -H 'Content-Type: application/json' --data '$REG' '$MT_URL/api/v1/terugkoppeling/abonnement' | grep -q '\"geslaagd\":true'"

# A decision in a development setup: the demo insurer grants it.
# --- excerpt: decide ---
curl $V -H 'Content-Type: application/json' \
  --data "{\"status\": \"Toegekend\", \"geldigVan\": \"$(date -u -d '+7 days' +%F)\", \"geldigTot\": \"$(date -u -d '+180 days' +%F)\"}" \
  "$MT_URL/api/v1/beoordeling/machtigingsaanvragen/$ID/beoordeling"
# --- end ---
echo
step beoordeling.toekennen sh -c "curl $P '$MT_URL/api/v1/machtigingsaanvragen/$ID' | grep -q '\"status\":\"Toegekend\"'"

delivered() {
  for _ in $(seq 1 60); do
    if grep -q "$ID" "$MT_RECEIVER_LOG" && grep "$ID" "$MT_RECEIVER_LOG" | grep -q Toegekend; then return 0; fi
    sleep 0.3
  done
  echo "no callback about $ID in $MT_RECEIVER_LOG"; return 1
}
step terugkoppeling.push.ontvangen delivered

# --- excerpt: pull ---
BERICHTEN=$(curl $P "$MT_URL/api/v1/terugkoppeling/berichten?na=0&max=100")
IDS=$(echo "$BERICHTEN" | python3 -c 'import json,sys; print(json.dumps({"ids": [b["id"] for b in json.load(sys.stdin)["berichten"]]}))')
curl $P -H 'Content-Type: application/json' --data "$IDS" "$MT_URL/api/v1/terugkoppeling/berichten/bevestiging"
# --- end ---
echo
step terugkoppeling.ophalen sh -c "echo '$BERICHTEN' | grep -q '$ID'"
step terugkoppeling.bevestigen sh -c "curl $P '$MT_URL/api/v1/terugkoppeling/berichten?na=0&max=100' | python3 -c 'import json,sys; assert \"$ID\" not in json.dumps(json.load(sys.stdin))'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
