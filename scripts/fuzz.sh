#!/usr/bin/env bash
# Fuzzes the SOAP envelope reader and the validation pipeline for SECONDS each
# (default 60; CI runs this). Needs cargo-fuzz (installed when missing) and a
# nightly toolchain, or stable with RUSTC_BOOTSTRAP=1 for the sanitizer flags.
# A crash is written to fuzz/artifacts/<target>/; turn it into a regression
# test (tests/hostile/ or a unit test) and keep it in fuzz/seeds/<target>/.
set -euo pipefail
SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi
for t in soap_envelope validation; do
  mkdir -p "corpus/$t"
  "${FUZZ[@]}" run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
    grep -E 'Done [0-9]+ runs|stat::number_of_executed_units|ERROR|panicked' || true
  if compgen -G "artifacts/$t/*" >/dev/null; then
    echo "fuzzing $t found a failure: fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
