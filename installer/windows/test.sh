#!/usr/bin/env bash
# Tests the Windows installer end to end, in temporary folders:
#  1. build.sh builds an unsigned MSI and check.sh passes it (with Wine
#     unless --no-wine);
#  2. check.sh fails on broken copies of it (service start type, Run value,
#     UpgradeCode, the event source's values, the Programs and Features
#     icon, DOMAINLIST not passed to the service, a packed program differing
#     from what was built, a version that does not match the file name);
#  3. with a throw-away self-signed code-signing certificate (encrypted
#     key, SIGN_PASS) build.sh signs the programs and the MSI, check.sh
#     --signer-ca verifies all three signatures and their signer, and
#     rejects them against another certificate.
# Prints how long each build and check took, and "N passed, N failed".
#
#   installer/windows/test.sh [--no-wine]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
. scripts/lib.sh
. "$here/common.sh"
need_go
need_packages wixl msitools osslsigncode openssl

wine_flag=()
case "${1:-}" in
--no-wine) wine_flag=(--no-wine) ;;
"") ;;
*) echo "usage: $0 [--no-wine]" >&2; exit 2 ;;
esac

export VERSION="${VERSION:-$(sed -n 's/^var Version = "\(.*\)"/\1/p' version/version.go)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
timings=()

# timed NAME COMMAND... runs COMMAND with its output in $tmp/NAME.log and
# records how long it took; returns COMMAND's exit code.
timed() {
  local name="$1" t0 rc=0
  shift
  t0="$(date +%s%N)"
  "$@" >"$tmp/$name.log" 2>&1 || rc=$?
  local ms=$((($(date +%s%N) - t0) / 1000000))
  timings+=("$(printf '%-14s %4d.%d s' "$name" $((ms / 1000)) $((ms % 1000 / 100)))")
  return $rc
}
show() { sed 's/^/     /' "$tmp/$1.log" | tail -n "${2:-30}"; }

msi="$tmp/dist/cardbridge-$VERSION-x64.msi"

echo "== unsigned build"
if timed build installer/windows/build.sh "$tmp/dist"; then
  ok "build.sh built $(basename "$msi") ($(stat -c %s "$msi") bytes)"
else
  bad "build.sh failed"; show build; echo "$passed passed, $failed failed"; exit 1
fi
grep -q 'UNSIGNED build' "$tmp/build.log" && ok "build.sh says the build is unsigned" || bad "build.sh did not say the build is unsigned"

if timed check installer/windows/check.sh "${wine_flag[@]}" "$msi"; then
  ok "check.sh passes the MSI ($(tail -n 1 "$tmp/check.log"))"
else
  bad "check.sh fails the MSI:"; grep -v '^ok' "$tmp/check.log" | sed 's/^/     /' || true
fi

echo "== check.sh on broken MSIs"
# broken NAME WANT_FAIL_REGEX SQL: a copy of the MSI changed by SQL must
# fail check.sh with a FAIL line matching WANT_FAIL_REGEX.
broken() {
  local name="$1" want="$2" sql="$3" dir="$tmp/broken-$1" copy
  mkdir -p "$dir"
  copy="$dir/$(basename "$msi")"
  cp "$msi" "$copy"
  cp "$msi.sha256" "$copy.sha256"
  [ -z "$sql" ] || msibuild "$copy" -q "$sql"
  if [ "$name" = manifest ]; then
    # As if the cabinet held another cardbridge.exe than the one built.
    sed -i 's/^[0-9a-f]*\(  cardbridge\.exe\)$/0000000000000000000000000000000000000000000000000000000000000000\1/' "$copy.sha256"
  fi
  if [ "$name" = version ]; then
    mv "$copy" "$dir/cardbridge-9.8.7-x64.msi"
    mv "$copy.sha256" "$dir/cardbridge-9.8.7-x64.msi.sha256"
    copy="$dir/cardbridge-9.8.7-x64.msi"
  fi
  if installer/windows/check.sh --no-wine "$copy" >"$tmp/broken-$name.log" 2>&1; then
    bad "check.sh passed a broken MSI ($name)"
  elif grep -E -q "^FAIL .*$want" "$tmp/broken-$name.log"; then
    ok "check.sh fails a broken MSI ($name): $(grep -E -m 1 "^FAIL .*$want" "$tmp/broken-$name.log" | cut -c 6- | cut -c -110)"
  else
    bad "check.sh failed the broken MSI ($name) without the expected /$want/:"; grep '^FAIL' "$tmp/broken-$name.log" | sed 's/^/     /' || true
  fi
}
broken starttype 'ServiceInstall StartType' "UPDATE \`ServiceInstall\` SET \`StartType\` = 3 WHERE \`ServiceInstall\` = 'PortServiceInstall'"
broken runvalue 'Registry Run value' "DELETE FROM \`Registry\` WHERE \`Registry\` = 'AgentRun'"
broken upgradecode 'Property UpgradeCode' "UPDATE \`Property\` SET \`Value\` = '{00000000-0000-0000-0000-000000000000}' WHERE \`Property\` = 'UpgradeCode'"
broken servicecontrol 'ServiceControl events' "UPDATE \`ServiceControl\` SET \`Event\` = 1 WHERE \`ServiceControl\` = 'PortServiceControl'"
broken eventsource 'Registry event source TypesSupported' "DELETE FROM \`Registry\` WHERE \`Registry\` = 'EventSourceTypes'"
broken eventfile 'Registry event source EventMessageFile' "UPDATE \`Registry\` SET \`Value\` = '%SystemRoot%\\System32\\EventCreate.exe' WHERE \`Registry\` = 'EventSourceMessageFile'"
broken arpicon 'Property ARPPRODUCTICON' "DELETE FROM \`Property\` WHERE \`Property\` = 'ARPPRODUCTICON'"
broken domainlist 'ServiceInstall Arguments' "UPDATE \`ServiceInstall\` SET \`Arguments\` = 'run{ --trusted-url \"[TRUSTEDURL]\"}{ --ports [PORTS]}{ --range [RANGE]}' WHERE \`ServiceInstall\` = 'PortServiceInstall'"
broken manifest 'unpacked files differ' ""
broken version 'Property ProductVersion' ""

echo "== signed build"
cert="$tmp/cert.pem" key="$tmp/key.pem"
subject="/CN=cardbridge test code signing $$/O=cardbridge tests"
openssl req -x509 -newkey rsa:3072 -sha256 -days 2 -subj "$subject" \
  -addext keyUsage=critical,digitalSignature -addext extendedKeyUsage=codeSigning \
  -addext basicConstraints=critical,CA:FALSE \
  -passout pass:test-pass -keyout "$key" -out "$cert" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -sha256 -days 2 -subj "/CN=someone else" -nodes \
  -addext extendedKeyUsage=codeSigning -keyout "$tmp/other-key.pem" -out "$tmp/other.pem" >/dev/null 2>&1
signed="$tmp/signed/cardbridge-$VERSION-x64.msi"
if timed build-signed env SIGN_CERT="$cert" SIGN_KEY="$key" SIGN_PASS=test-pass installer/windows/build.sh "$tmp/signed"; then
  ok "build.sh built a signed MSI ($(grep -m 1 'signed the programs' "$tmp/build-signed.log" | sed 's/^== windows: //'))"
else
  bad "signed build failed"; show build-signed
fi
if timed check-signed installer/windows/check.sh --no-wine --signer-ca "$cert" "$signed"; then
  ok "check.sh --signer-ca verifies the MSI and both programs: $(grep -c 'signature verifies' "$tmp/check-signed.log") signatures"
else
  bad "check.sh --signer-ca fails the signed MSI:"; grep -v '^ok' "$tmp/check-signed.log" | sed 's/^/     /' || true
fi
grep -q "signer: .*cardbridge test code signing $$" "$tmp/check-signed.log" && ok "the signer is the test certificate" || bad "signer subject not reported"
if installer/windows/check.sh --no-wine --signer-ca "$tmp/other.pem" "$signed" >"$tmp/check-other.log" 2>&1; then
  bad "check.sh accepted the signatures against another certificate"
else
  ok "check.sh rejects the signatures against another certificate ($(grep -c '^FAIL' "$tmp/check-other.log") failures)"
fi
if installer/windows/check.sh --no-wine --signer-ca "$cert" "$msi" >"$tmp/check-unsigned.log" 2>&1; then
  bad "check.sh --signer-ca accepted the unsigned MSI"
else
  ok "check.sh --signer-ca rejects the unsigned MSI ($(grep -c 'not signed' "$tmp/check-unsigned.log") unsigned files)"
fi
# A program changed after signing no longer verifies.
prog="$tmp/tampered.exe"
(cd "$tmp" && mkdir -p x && cd x && msiextract "$signed" >/dev/null)
cp "$(find "$tmp/x" -name cardbridge.exe | head -n 1)" "$prog"
printf 'X' | dd of="$prog" bs=1 seek=4096 conv=notrunc status=none
if osslsigncode verify -CAfile "$cert" -in "$prog" >/dev/null 2>&1; then
  bad "a tampered signed program still verifies"
else
  ok "a signed program changed after signing fails verification"
fi

echo "== timings"
printf '  %s\n' "${timings[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
