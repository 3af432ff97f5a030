#!/usr/bin/env bash
# schemathesis against the served OpenAPI document, once with the provider's
# (zorgaanbieder) and once with the insurer's (zorgverzekeraar) certificate,
# all default checks. Interface: see conformance/README or the driver
# (MT_URL, MT_CA, MT_CERTS, MT_WORK). Prints one line per operation and role
# and closes with "N passed, M failed".
set -euo pipefail

: "${MT_URL:?MT_URL is required}"
: "${MT_CA:?MT_CA is required}"
: "${MT_CERTS:?MT_CERTS is required}"
MT_WORK="${MT_WORK:-$(mktemp -d)}"
# Examples per operation and phase; bounded so a run stays within minutes on
# two cores. Raise it for a deeper run.
MAX_EXAMPLES="${MT_SCHEMATHESIS_MAX_EXAMPLES:-20}"
SEED="${MT_SCHEMATHESIS_SEED:-}"

command -v schemathesis >/dev/null || { echo "schemathesis not installed (pip install schemathesis)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not installed" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$MT_WORK/schemathesis"
mkdir -p "$work"
mkdir -p "$work"
passed=0
failed=0

# One real request to test against (dates relative to today, so the JVC
# window checks pass): the provider submits the documented example.
repo="$here/../.."
today=$(date -u +%F)
end=$(date -u -d '+150 days' +%F)
sed -e "s|<Begindatum>[^<]*<|<Begindatum>$today<|" \
    -e "s|<GewensteEinddatum>[^<]*<|<GewensteEinddatum>$end<|" \
    -e "s|<Referentie>[^<]*<|<Referentie>ST-$(date +%s)-$$<|" \
    "$repo/docs/examples/machtigingen/Machtigingsaanvraag.xml" >"$work/aanvraag.xml"
MT_ST_AANVRAAG=$(curl -sS --cacert "$MT_CA" --cert "$MT_CERTS/zorgaanbieder.pem" \
    --key "$MT_CERTS/zorgaanbieder.key" -H 'Content-Type: application/xml' \
    --data-binary @"$work/aanvraag.xml" "$MT_URL/api/v1/machtigingsaanvragen" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("machtigingsaanvraagId", ""))' || true)
if [[ -z "$MT_ST_AANVRAAG" ]]; then
    echo "FAIL rest.seed [zorgaanbieder] : the example Machtigingsaanvraag was not accepted"
    failed=$((failed + 1))
    MT_ST_AANVRAAG=MA0
fi
export MT_ST_AANVRAAG

# The insurer's run replaces its catalog with generated ones (PUT
# /api/v1/beoordeling/catalogus); put the original back afterwards so runners
# after this one find the catalog they expect.
insurer=(--cacert "$MT_CA" --cert "$MT_CERTS/zorgverzekeraar.pem" --key "$MT_CERTS/zorgverzekeraar.key")
curl -sS --fail "${insurer[@]}" "$MT_URL/api/v1/beoordeling/catalogus" -o "$work/catalogus.json" || true
restore_catalog() {
    if [[ -s "$work/catalogus.json" ]]; then
        curl -sS --fail "${insurer[@]}" -X PUT -H 'Content-Type: application/json' \
            --data-binary @"$work/catalogus.json" "$MT_URL/api/v1/beoordeling/catalogus" -o /dev/null ||
            echo "warning: the insurer's catalog could not be restored" >&2
    fi
}
trap restore_catalog EXIT

for role in zorgaanbieder zorgverzekeraar; do
    cert="$MT_CERTS/$role.pem"
    key="$MT_CERTS/$role.key"
    dir="$work/$role"
    mkdir -p "$dir"
    # The document as the service serves it to this caller.
    curl -sS --fail --cacert "$MT_CA" --cert "$cert" --key "$key" \
        "$MT_URL/api/v1/openapi.json" -o "$dir/openapi.json"
    args=(run "$dir/openapi.json" --url "$MT_URL"
        --tls-verify "$MT_CA" --request-cert "$cert" --request-cert-key "$key"
        --max-examples "$MAX_EXAMPLES" --workers 1 --no-color
        --report junit --report-junit-path "$dir/junit.xml")
    [[ -n "$SEED" ]] && args+=(--seed "$SEED")
    set +e
    schemathesis --config-file "$here/schemathesis.toml" "${args[@]}" >"$dir/output.txt" 2>&1
    rc=$?
    set -e
    if [[ ! -s "$dir/junit.xml" ]]; then
        echo "FAIL schemathesis [$role] : no report (exit $rc); see $dir/output.txt"
        tail -20 "$dir/output.txt" >&2
        failed=$((failed + 1))
        continue
    fi
    # One line per operation from the JUnit report.
    while IFS=$'\t' read -r verdict name reason; do
        if [[ "$verdict" == PASS ]]; then
            echo "PASS rest.$name [$role]"
            passed=$((passed + 1))
        else
            echo "FAIL rest.$name [$role] : $reason"
            failed=$((failed + 1))
        fi
    done < <(python3 - "$dir/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for case in root.iter("testcase"):
    name = case.get("name", "?").replace(" ", "")
    bad = case.find("failure") or case.find("error")
    if bad is None:
        bad = next((c for c in case if c.tag in ("failure", "error")), None)
    if bad is None:
        print(f"PASS\t{name}\t")
    else:
        msg = (bad.get("message") or bad.text or "").strip().splitlines()
        print(f"FAIL\t{name}\t{msg[0] if msg else bad.tag}")
PY
)
    # A non-zero exit without a failing case (an error outside the test
    # cases) still fails the run.
    if [[ $rc -ne 0 ]] && ! grep -qE "<(failure|error)" "$dir/junit.xml"; then
        echo "FAIL schemathesis [$role] : exit $rc without a failing case; see $dir/output.txt"
        failed=$((failed + 1))
    fi
    # The summary line of schemathesis itself, for the log.
    grep -E "^(=+ .* =+|  [0-9]+ generated)" "$dir/output.txt" | sed "s/^/# [$role] /" >&2 || true
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
