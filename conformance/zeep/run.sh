#!/usr/bin/env bash
# zeep (strict) runner: see roundtrip.py and docs/integratie.md.
set -euo pipefail
if ! python3 -c 'import zeep' 2>/dev/null; then
  echo "zeep is missing: apt-get install python3-zeep (or pip install zeep)" >&2
  exit 2
fi
exec python3 "$(dirname "$0")/roundtrip.py"
