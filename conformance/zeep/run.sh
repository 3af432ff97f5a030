#!/usr/bin/env bash
# zeep (strict) runner: see roundtrip.py and docs/integratie.md.
set -euo pipefail
exec python3 "$(dirname "$0")/roundtrip.py"
