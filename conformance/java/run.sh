#!/usr/bin/env bash
# JAX-WS conformance runner: plain `wsimport` (no -extension, no binding file)
# for every WSDL, `javac` for each generated client, then src/Conformance.java
# calls the main operations of every service over mutual TLS on SOAP 1.1 and
# SOAP 1.2. Environment: see conformance/README.md (MT_URL, MT_CA, MT_CERTS,
# MT_P12_PASSWORD, MT_RECEIVER_URL, MT_RECEIVER_LOG, MT_WORK).
#
#   conformance/java/run.sh [--wsdl-dir DIR]
#
# By default the four platform WSDLs are fetched from the running service
# ($MT_URL/soap/<service>/v1?wsdl, over mTLS with zorgaanbieder.p12) and the
# callback contract, which the platform does not serve, is read from wsdl/.
# --wsdl-dir DIR generates every client from DIR/<name>-v1.wsdl instead.
#
# Debian packages: jaxws (wsimport), libjaxws-java, openjdk-17-jdk-headless.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WSDL_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wsdl-dir) WSDL_DIR=$(cd "${2:?--wsdl-dir needs a directory}" && pwd); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for v in MT_URL MT_CA MT_CERTS MT_P12_PASSWORD MT_RECEIVER_URL MT_RECEIVER_LOG MT_WORK; do
  [ -n "${!v:-}" ] || { echo "$v is not set" >&2; exit 2; }
done
for tool in wsimport javac java keytool; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install jaxws libjaxws-java openjdk-17-jdk-headless)" >&2; exit 2; }
done

# JAX-WS left the JDK in Java 11. Debian's JAX-WS RI runtime jar names the rest
# (JAXB, SAAJ, stax-ex, streambuffer, …) in its manifest Class-Path, so this one
# jar is the whole classpath for javac and java.
RT=/usr/share/java/jaxws-rt.jar
[ -f "$RT" ] || { echo "$RT not found (apt-get install libjaxws-java)" >&2; exit 2; }

W="$MT_WORK/jaxws"
rm -rf "$W"; mkdir -p "$W"
passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 : $2"; }

# wsimport fetches over mTLS with the JVM's default SSL context, so it gets the
# provider's key store and a trust store made from the PEM CA as system properties.
TRUST_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
keytool -importcert -noprompt -alias platform-ca -file "$MT_CA" -storetype PKCS12 \
  -keystore "$W/trust.p12" -storepass "$TRUST_PW" >/dev/null 2>&1 ||
  { echo "cannot import $MT_CA into a trust store" >&2; exit 2; }
export WSIMPORT_OPTS="-Djavax.net.ssl.keyStore=$MT_CERTS/zorgaanbieder.p12 -Djavax.net.ssl.keyStoreType=PKCS12
  -Djavax.net.ssl.keyStorePassword=$MT_P12_PASSWORD -Djavax.net.ssl.trustStore=$W/trust.p12
  -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=$TRUST_PW
  -Djavax.xml.accessExternalSchema=all"

# The JAXP default blocks the https schemaLocations (?xsd=…) of a served WSDL;
# accessExternalSchema=all above allows them (a wsimport setting, not a contract issue).

services=(machtigingen beoordeling optin terugkoppelingbeheer terugkoppeling)
classpath="$RT"
for svc in "${services[@]}"; do
  if [ -n "$WSDL_DIR" ]; then
    source="$WSDL_DIR/$svc-v1.wsdl"
  elif [ "$svc" = terugkoppeling ]; then
    source="$ROOT/wsdl/terugkoppeling-v1.wsdl"   # implemented by the provider, not served
  else
    source="$MT_URL/soap/$svc/v1?wsdl"
  fi
  mkdir -p "$W/$svc/src" "$W/$svc/classes"
  # -clientjar stores the WSDL and XSDs in a jar and points the generated
  # Service at that copy, so the program needs no network for metadata.
  # -Xnocompile: javac below compiles, so its messages are reported as such.
  wsimport -Xnocompile -keep -s "$W/$svc/src" -d "$W/$svc/classes" \
    -clientjar "$W/$svc/$svc-wsdl.jar" "$source" >"$W/$svc/wsimport.log" 2>&1
  rc=$?
  # The SOAP 1.2 port is skipped without -extension (JAX-WS 2.x spec); the
  # program still calls it through the SOAP 1.1 port's SEI, see Ports.java.
  others=$(grep -E '^\[(ERROR|WARNING)\]' "$W/$svc/wsimport.log" |
    grep -v 'non-standard SOAP 1.2 binding' | sort -u | tr '\n' ' ')
  if [ $rc -ne 0 ] || grep -q '^\[ERROR\]' "$W/$svc/wsimport.log"; then
    fail "$svc.wsimport" "${others:-exit $rc}"
    continue
  fi
  if [ -n "$others" ]; then echo "note: $svc wsimport: $others" >&2; fi
  pass "$svc.wsimport"
  if javac -nowarn -encoding UTF-8 -cp "$RT" -d "$W/$svc/classes" \
      $(find "$W/$svc/src" -name '*.java') >"$W/$svc/javac.log" 2>&1; then
    pass "$svc.javac"
    classpath="$classpath:$W/$svc/classes:$W/$svc/$svc-wsdl.jar"
  else
    fail "$svc.javac" "$(grep -m3 'error:' "$W/$svc/javac.log" | tr '\n' ' ')"
  fi
done

# A class that two WSDLs both generate (the shared namespaces) must come out the
# same, or a vendor generating all clients into one project gets whichever ran last.
# Lines are compared as sorted sets: wsimport orders an ObjectFactory's members by
# the order it met the elements, which differs between WSDLs without changing them.
differ=()
while read -r rel; do
  first=""
  for svc in "${services[@]}"; do
    f="$W/$svc/src/$rel"
    [ -f "$f" ] || continue
    if [ -z "$first" ]; then first=$f
    elif ! diff -q <(grep -v '^//' "$first" | sort) <(grep -v '^//' "$f" | sort) >/dev/null; then
      differ+=("$rel")
    fi
  done
done < <(for svc in "${services[@]}"; do (cd "$W/$svc/src" 2>/dev/null && find . -name '*.java'); done |
  sort | uniq -d)
if [ ${#differ[@]} -eq 0 ]; then pass "contract.SharedClassesIdentical"
else fail "contract.SharedClassesIdentical" "${differ[*]}"; fi

mkdir -p "$W/program"
if javac -encoding UTF-8 -cp "$classpath" -d "$W/program" "$HERE"/src/*.java >"$W/program.log" 2>&1; then
  pass "java.compile"
  out="$W/program.out"
  java -Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl \
    -cp "$classpath:$W/program" Conformance >"$out" 2>"$W/program.err"
  rc=$?
  grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$out"
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
  if [ -z "$summary" ]; then
    fail "java.run" "no summary (exit $rc): $(tail -n3 "$W/program.err" | tr '\n' ' ')"
  else
    p=${summary%% passed*}; f=${summary#*passed, }; f=${f%% failed}
    passed=$((passed + p)); failed=$((failed + f))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then fail "java.run" "exit $rc"; fi
  fi
else
  fail "java.compile" "$(grep -m5 'error:' "$W/program.log" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
