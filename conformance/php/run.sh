#!/usr/bin/env bash
# PHP SoapClient runner: see roundtrip.php and docs/integratie.md.
set -euo pipefail
exec php -d error_reporting=E_ALL -d display_errors=stderr "$(dirname "$0")/roundtrip.php"
