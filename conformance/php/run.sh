#!/usr/bin/env bash
# PHP SoapClient runner: see roundtrip.php and docs/integratie.md.
set -euo pipefail
if ! php -r 'exit(class_exists("SoapClient") ? 0 : 1);' 2>/dev/null; then
  echo "PHP with SOAP is missing: apt-get install php-cli php-soap" >&2
  exit 2
fi
exec php -d error_reporting=E_ALL -d display_errors=stderr "$(dirname "$0")/roundtrip.php"
