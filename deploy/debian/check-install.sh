#!/usr/bin/env bash
# Builds the Debian package and proves it as an operator would meet it: the control
# data and files, the systemd unit (required hardening, `systemd-analyze verify` and
# `security`), then the package unpacked into a scratch root (`dpkg -x`), its binary
# started there with the packaged configuration (paths moved into the scratch root,
# ports free ones): first without certificates (it must refuse, naming a missing file),
# then with an external CA's files in place, until /health/ready answers 200 and a
# client certificate registered with the installed CLI gets 200 from whoami over
# mutual TLS; SIGHUP (the unit's ExecReload) must reload.
#
#   deploy/debian/check-install.sh [--no-build] [--keep]
#
# Needs cargo-deb (`cargo install cargo-deb --version 3.8.0 --locked`), dpkg-deb,
# openssl, curl, python3; systemd-analyze where installed (.ci/run requires it).
# The maintainer scripts are not run (no chroot): they are checked with `sh -n`.
set -euo pipefail

main() {

cd "$(dirname "$0")/../.."
BUILD=1
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

say() { printf '== %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mt-deb.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BUILD" = 1 ]; then
  say "cargo deb"
  cargo deb --locked >&2
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
DEB=$(ls -t target/debian/machtigingen_"$version"-*_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || fail "no target/debian/machtigingen_$version-*.deb"
say "package $DEB ($(du -h "$DEB" | cut -f1))"

say "control data"
dpkg-deb --info "$DEB" >"$TMP/info"
cat "$TMP/info" >&2
depends=$(dpkg-deb --field "$DEB" Depends)
for want in adduser libssl3 libxml2 libc6; do
  [[ "$depends" == *"$want"* ]] || fail "Depends lacks $want: $depends"
done
# SQLite and libpq are compiled in (Cargo.toml): the package must not need them.
for unwanted in libsqlite3 libpq; do
  [[ "$depends" != *"$unwanted"* ]] || fail "Depends names $unwanted: $depends"
done
mkdir "$TMP/control"
dpkg-deb --control "$DEB" "$TMP/control"
grep -qx /etc/machtigingen/machtigingen.toml "$TMP/control/conffiles" ||
  fail "the configuration is not a conffile"
for script in postinst postrm prerm; do
  [ -f "$TMP/control/$script" ] || fail "no $script"
  sh -n "$TMP/control/$script" || fail "$script: syntax"
  ! grep -q '#DEBHELPER#' "$TMP/control/$script" || fail "$script: #DEBHELPER# not replaced"
done
grep -q 'adduser --system --group' "$TMP/control/postinst" || fail "postinst creates no system user"
grep -q 'deb-systemd-invoke try-restart' "$TMP/control/postinst" ||
  fail "postinst does not restart a running service after an upgrade"
! grep -q 'deb-systemd-invoke start' "$TMP/control/postinst" ||
  fail "postinst starts the service on install (there are no certificates yet)"

say "files"
dpkg-deb --contents "$DEB" | tee "$TMP/contents" >&2
for path in ./usr/bin/machtigingen ./etc/machtigingen/machtigingen.toml \
  ./usr/lib/systemd/system/machtigingen.service ./usr/share/doc/machtigingen/operations.md \
  ./usr/share/doc/machtigingen/default.toml; do
  grep -q " $path\$" "$TMP/contents" || fail "$path is not in the package"
done
grep -Eq '^-rw-r----- (root/root|0/0) .* \./etc/machtigingen/machtigingen\.toml$' "$TMP/contents" ||
  fail "the configuration is not mode 0640"

ROOTFS="$TMP/root"
dpkg -x "$DEB" "$ROOTFS"
UNIT="$ROOTFS/usr/lib/systemd/system/machtigingen.service"
BIN="$ROOTFS/usr/bin/machtigingen"

say "systemd unit"
unit_has() { grep -qx "$1" "$UNIT" || fail "unit lacks the line: $1"; }
unit_has 'User=machtigingen'
unit_has 'Group=machtigingen'
unit_has 'ExecStart=/usr/bin/machtigingen serve --config /etc/machtigingen/machtigingen.toml'
unit_has 'ExecReload=/bin/kill -HUP $MAINPID'
unit_has 'StateDirectory=machtigingen'
unit_has 'WorkingDirectory=/var/lib/machtigingen'
unit_has 'ProtectSystem=strict'
unit_has 'NoNewPrivileges=yes'
unit_has 'ProtectHome=yes'
unit_has 'PrivateTmp=yes'
unit_has 'CapabilityBoundingSet='
! grep -q '^ReadWritePaths=' "$UNIT" || fail "the unit may write outside its state directory"
if command -v systemd-analyze >/dev/null; then
  # verify only warns (exit 0) on unknown keys and bad values: any output fails. The
  # scratch root's binary stands in for /usr/bin/machtigingen, which must exist.
  mkdir "$TMP/unit"
  sed "s#/usr/bin/machtigingen#$BIN#" "$UNIT" >"$TMP/unit/machtigingen.service"
  out=$(systemd-analyze verify --man=no "$TMP/unit/machtigingen.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
  # The exposure score of the sandbox (0 best, 10 worst; the threshold is in tenths): 1.4
  # when written.
  systemd-analyze security --offline=yes --root="$ROOTFS" --threshold=20 \
    machtigingen.service >"$TMP/security" 2>&1 ||
    { cat "$TMP/security" >&2; fail "systemd-analyze security: exposure above 2.0"; }
  tail -n 1 "$TMP/security" >&2
elif [ "${MT_REQUIRE_SYSTEMD_ANALYZE:-}" = 1 ]; then
  fail "systemd-analyze is not installed (Debian package systemd)"
else
  say "SKIP systemd-analyze (not installed)"
fi

say "installed binary's libraries"
ldd "$BIN" | tee "$TMP/ldd" >&2
! grep -q 'not found' "$TMP/ldd" || fail "a shared library is missing"
! grep -Eq 'libsqlite3|libpq' "$TMP/ldd" || fail "links a system SQLite or libpq"
"$BIN" --version >&2

say "scratch root: the packaged configuration, moved into $ROOTFS"
CONF="$ROOTFS/etc/machtigingen/machtigingen.toml"
sed -i -e "s#/etc/machtigingen#$ROOTFS/etc/machtigingen#g" \
  -e "s#/var/lib/machtigingen#$ROOTFS/var/lib/machtigingen#g" "$CONF"
# What the postinst and systemd's StateDirectory= create.
install -d -m 0750 "$ROOTFS/etc/machtigingen/tls" "$ROOTFS/var/lib/machtigingen"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
OPS_PORT=$(free_port)
CONTRACT_PORT=$(free_port)
export MACHTIGINGEN_SERVER__LISTEN="127.0.0.1:$PORT"
export MACHTIGINGEN_SERVER__OPS_LISTEN="127.0.0.1:$OPS_PORT"
export MACHTIGINGEN_SERVER__CONTRACT_LISTEN="127.0.0.1:$CONTRACT_PORT"
mt() { (cd "$ROOTFS/var/lib/machtigingen" && "$BIN" --config "$CONF" "$@"); }

say "without certificates serve refuses, naming the file"
set +e
(cd "$ROOTFS/var/lib/machtigingen" && timeout 60 "$BIN" serve --config "$CONF") \
  >"$TMP/refused.out" 2>"$TMP/refused.err"
rc=$?
set -e
cat "$TMP/refused.err" >&2
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "serve without certificates: exit $rc"
# e.g. "error: tls.client_ca (/etc/machtigingen/tls/client-ca.pem): …: No such file or directory"
grep -Eq "^error: tls\.[a-z_]+ \($ROOTFS/etc/machtigingen/tls/[a-z-]+\.(pem|key|crl)\): .*No such file" \
  "$TMP/refused.err" || fail "the refusal does not name the configuration key and the missing file"
[ ! -e "$ROOTFS/var/lib/machtigingen/data" ] && [ ! -e "$ROOTFS/var/lib/machtigingen/pki" ] ||
  fail "serve created a PKI"

say "an external CA's files in /etc/machtigingen/tls"
make_external_ca "$TMP/ca" "$ROOTFS/etc/machtigingen/tls"

say "serve"
(cd "$ROOTFS/var/lib/machtigingen" && exec "$BIN" serve --config "$CONF") \
  >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!
ready=""
for _ in $(seq 1 150); do
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/serve.log" >&2; fail "serve exited"; }
  code=$(curl -s -o "$TMP/ready" -w '%{http_code}' "http://127.0.0.1:$OPS_PORT/health/ready" || true)
  if [ "$code" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { cat "$TMP/serve.log" >&2; fail "/health/ready never answered 200 (last: $code)"; }
echo "GET /health/ready -> 200 $(cat "$TMP/ready")" >&2
[ -f "$ROOTFS/var/lib/machtigingen/machtigingen.db" ] || fail "no database in the state directory"

say "a party's certificate from the external CA, registered with the installed CLI"
mt party add --agb 03123456 --name "Controle Zorgaanbieder" >&2
mt cert register --cert "$TMP/ca/client.pem" --party AGB:03123456 \
  --grant machtigingen:raadplegen >&2
code=$(curl -s -o "$TMP/whoami" -w '%{http_code}' --cacert "$TMP/ca/ca.pem" \
  --cert "$TMP/ca/client.pem" --key "$TMP/ca/client.key" "https://localhost:$PORT/api/v1/whoami")
echo "GET /api/v1/whoami -> $code $(cat "$TMP/whoami")" >&2
[ "$code" = 200 ] || fail "whoami over mutual TLS: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/ca/ca.pem" \
  "https://localhost:$PORT/api/v1/whoami" || true)
[ "$code" != 200 ] || fail "whoami without a client certificate answered 200"

say "SIGHUP (ExecReload) reloads the TLS material"
reloads() {
  curl -s "http://127.0.0.1:$OPS_PORT/metrics" |
    awk '/^machtigingen_tls_reloads_total\{.*part="server".*result="ok"/ { n += $NF } END { print n + 0 }'
}
before=$(reloads)
kill -HUP "$SERVER_PID"
after=$before
for _ in $(seq 1 50); do
  after=$(reloads)
  [ "$after" -gt "$before" ] && break
  sleep 0.2
done
[ "$after" -gt "$before" ] || fail "no server reload counted after SIGHUP ($before -> $after)"
echo "machtigingen_tls_reloads_total{part=\"server\",result=\"ok\"}: $before -> $after" >&2

kill "$SERVER_PID"
wait "$SERVER_PID" || fail "serve did not stop cleanly on SIGTERM"
SERVER_PID=""
echo "deb install check: ok"
}

# An external CA as an operator would receive it: its certificate and CRL (the
# client CA bundle), a server certificate for localhost with its key, the platform's
# callback certificate, and one party's client certificate (kept in $1).
make_external_ca() {
  local ca=$1 tls=$2
  mkdir -p "$ca"
  local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${newkey[@]}" -keyout "$ca/ca.key" -out "$ca/ca.pem" -days 30 \
    -subj "/O=Controle/CN=Externe controle-CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
  issue() { # name subject extensions
    openssl req -new "${newkey[@]}" -keyout "$ca/$1.key" -out "$ca/$1.csr" -subj "$2" 2>/dev/null
    openssl x509 -req -in "$ca/$1.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial \
      -days 30 -extfile <(printf '%s\n' "$3") -out "$ca/$1.pem" 2>/dev/null
  }
  issue server "/O=Controle/CN=localhost" \
    "$(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth')"
  issue platform-client "/O=Controle/OU=PLATFORM:machtigingen/CN=platform" \
    "extendedKeyUsage=clientAuth"
  issue client "/O=Controle Zorgaanbieder/OU=AGB:03123456/CN=controle systeem" \
    "extendedKeyUsage=clientAuth"
  : >"$ca/index.txt"
  echo 01 >"$ca/crlnumber"
  cat >"$ca/openssl.cnf" <<EOF
[ca]
default_ca = ext
[ext]
database = $ca/index.txt
crlnumber = $ca/crlnumber
certificate = $ca/ca.pem
private_key = $ca/ca.key
default_md = sha256
default_crl_days = 7
EOF
  openssl ca -gencrl -config "$ca/openssl.cnf" -out "$ca/ca.crl" 2>/dev/null
  cat "$ca/server.pem" "$ca/ca.pem" >"$tls/server.pem"
  install -m 0640 "$ca/server.key" "$tls/server.key"
  cp "$ca/ca.pem" "$tls/client-ca.pem"
  cp "$ca/ca.crl" "$tls/client-ca.crl"
  cp "$ca/platform-client.pem" "$tls/platform-client.pem"
  install -m 0640 "$ca/platform-client.key" "$tls/platform-client.key"
}

main "$@"
