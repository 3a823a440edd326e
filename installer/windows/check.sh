#!/usr/bin/env bash
# Checks cardbridge's Windows installer.
#
#   installer/windows/check.sh [--no-wine] [--signer-ca CERT.pem] MSI...
#
# For each MSI (named cardbridge-<version>-x64.msi, as build.sh makes it):
#  - its tables, read with msitools (msiinfo): the two programs in
#    [ProgramFiles64Folder]cardbridge\, the port service (name, `run`,
#    automatic, LocalSystem; started on install, stopped and deleted on
#    uninstall), the agent's Run value, the UpgradeCode and upgrade rules,
#    ProductVersion against the file name's version, per-machine x64, and
#    the netsh actions reserving the default per-user range (deferred, not
#    impersonated, failure ignored) and where they are sequenced; the port
#    service's event source (the registry values eventlog.InstallAsEventCreate
#    writes); DOMAINLIST passed to the service and remembered like TRUSTEDURL;
#    the Programs and Features fields (publisher, contact, help and about
#    links) and the icon, an ICO file in the Icon table;
#  - its cabinet, unpacked with msiextract: the programs are x64 PE files
#    whose SHA-256 match <msi>.sha256, the list build.sh wrote of what it
#    packed;
#  - its Authenticode signatures: with --signer-ca, the MSI and both programs
#    must verify against that certificate (a self-signed test certificate,
#    or the issuing CA) and name its subject as signer; without it, whether
#    they are signed is only reported;
#  - unless --no-wine, a real install under Wine 10, in the Debian trixie
#    root the Windows lane uses (scripts/wine-root): msiexec
#    /i, an upgrade to a newer build, a refused downgrade and msiexec /x,
#    looking at the files, the registry (the event source among it, there
#    after install and gone after uninstall; the Programs and Features
#    entry) and the service Wine's msiexec left, and running the installed
#    port service with the service's arguments to see DOMAINLIST become its
#    DomainList.txt, and an install that starts the service.
# Prints one line per check and "N passed, N failed"; exits 1 on any failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/scripts/lib.sh"
. "$here/common.sh"

usage() {
  echo "usage: $0 [--no-wine] [--signer-ca CERT.pem] MSI..." >&2
  exit 2
}
args=("$@")
wine_test=yes
signer_ca=
msis=()
while [ $# -gt 0 ]; do
  case "$1" in
  --no-wine) wine_test=no ;;
  --signer-ca) [ $# -ge 2 ] || usage; signer_ca="$(realpath "$2")"; shift ;;
  -*) usage ;;
  *) msis+=("$(realpath "$1")") ;;
  esac
  shift
done
[ ${#msis[@]} -gt 0 ] || usage

need_packages msitools osslsigncode openssl

# Wine runs in the trixie root, which sees this host's /tmp and /dev at the
# same paths (mounted in a mount namespace of this script's own, gone when
# it ends); wine, wineboot, winepath and wineserver here run it there.
if [ $wine_test = yes ]; then
  if [ "${CARDBRIDGE_CHECK_NS:-}" != 1 ]; then
    wine_root="$("$root/scripts/wine-root")"
    CARDBRIDGE_CHECK_NS=1 CARDBRIDGE_WINE_ROOT="$wine_root" exec unshare --mount --propagation private "$0" "${args[@]}"
  fi
  mkdir -p "$CARDBRIDGE_WINE_ROOT$root"
  mount --bind "$root" "$CARDBRIDGE_WINE_ROOT$root"
  mount --bind /tmp "$CARDBRIDGE_WINE_ROOT/tmp"
  mount -t proc proc "$CARDBRIDGE_WINE_ROOT/proc"
  mount --rbind /dev "$CARDBRIDGE_WINE_ROOT/dev"
fi

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
# expect DESCRIPTION WANT GOT
expect() {
  if [ "$2" = "$3" ]; then ok "$1: $3"; else bad "$1: want [$2], got [$3]"; fi
}
# expect_match DESCRIPTION REGEX GOT
expect_match() {
  if [[ "$3" =~ $2 ]]; then ok "$1: $3"; else bad "$1: [$3] does not match /$2/"; fi
}
# field MSI TABLE KEYCOLUMN KEY COLUMN prints one column (1-based) of the
# row whose column KEYCOLUMN is KEY.
field() {
  msi_table "$1" "$2" | awk -F'\t' -v kc="$3" -v k="$4" -v c="$5" '$kc == k { print $c; exit }'
}
# pe_machine FILE prints the PE machine type (8664 for x64), or nothing.
pe_machine() {
  [ "$(head -c 2 "$1")" = MZ ] || return 0
  local off sig
  off="$(od -An -tu4 -j 60 -N 4 "$1" | tr -d ' ')"
  sig="$(od -An -tx1 -j "$off" -N 6 "$1" | tr -d ' \n')"
  [ "${sig:0:8}" = 50450000 ] && echo "${sig:10:2}${sig:8:2}"
}

tmp="$(mktemp -d)"
if [ $wine_test = yes ]; then
  mkdir "$tmp/bin"
  for cmd in wine wineboot winepath wineserver; do
    case $cmd in
    wine) run=wine64 ;;
    wineserver) run=wineserver ;;
    *) run="wine64 $cmd" ;;
    esac
    printf '#!/bin/sh\nexec %q %s "$@"\n' "$here/wine-in-root" "$run" >"$tmp/bin/$cmd"
    chmod +x "$tmp/bin/$cmd"
  done
  export PATH="$tmp/bin:$PATH"
fi
cleanup() {
  if [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ]; then
    timeout 30 wineserver -k >/dev/null 2>&1 || true
  fi
  [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# check_signature DESCRIPTION FILE
check_signature() {
  local sig="$tmp/sig.der" subject want
  rm -f "$sig"
  if ! osslsigncode extract-signature -in "$2" -out "$sig" >/dev/null 2>&1; then
    if [ -n "$signer_ca" ]; then bad "$1: not signed"; else echo "info $1: not signed"; fi
    return 0
  fi
  subject="$(openssl pkcs7 -inform DER -in "$sig" -print_certs -noout 2>/dev/null | sed -n 's/^subject=//p' | head -n 1)"
  if [ -z "$signer_ca" ]; then
    echo "info $1: signed by $subject"
    return 0
  fi
  want="$(openssl x509 -in "$signer_ca" -noout -subject | sed 's/^subject=//')"
  expect "$1: signer" "$want" "$subject"
  if osslsigncode verify -CAfile "$signer_ca" -in "$2" >"$tmp/verify.log" 2>&1; then
    ok "$1: signature verifies against $(basename "$signer_ca")"
  else
    bad "$1: signature does not verify against $(basename "$signer_ca"):"
    sed 's/^/     /' "$tmp/verify.log" | tail -n 15 || true
  fi
}

# check_tables MSI VERSION
check_tables() {
  local msi="$1" version="$2" numeric
  numeric="$(msi_version "$version")"

  echo "-- tables"
  local tables
  tables="$(msiinfo tables "$msi" | tr '\n' ' ')"
  for t in File Component Directory Registry ServiceInstall ServiceControl Upgrade Property LaunchCondition InstallExecuteSequence Icon; do
    if [[ " $tables " == *" $t "* ]]; then ok "table $t present"; else bad "table $t missing"; fi
  done

  local suminfo
  suminfo="$(msiinfo suminfo "$msi")"
  expect "summary Template (platform;language)" "x64;1033" "$(sed -n 's/^Template: //p' <<<"$suminfo")"
  local comments
  comments="$(sed -n 's/^Comments: //p' <<<"$suminfo")"
  if [[ "$comments" == "cardbridge $version:"* ]]; then ok "summary Comments: $comments"; else bad "summary Comments do not start with 'cardbridge $version:': $comments"; fi
  expect "summary Word Count (2 = compressed, long names)" "2" "$(sed -n 's/^Source: \([0-9]*\).*/\1/p' <<<"$suminfo")"
  expect_match "summary Version (Windows Installer 5.0 or later)" '^[5-9][0-9][0-9]$' "$(sed -n 's/^Version: \([0-9]*\).*/\1/p' <<<"$suminfo")"

  prop() { field "$msi" Property 1 "$1" 2; }
  expect "Property UpgradeCode" "$UPGRADE_CODE" "$(prop UpgradeCode)"
  expect "Property ProductVersion" "$numeric" "$(prop ProductVersion)"
  expect "Property CARDBRIDGE_VERSION" "$version" "$(prop CARDBRIDGE_VERSION)"
  expect "Property ARPCOMMENTS" "cardbridge $version" "$(prop ARPCOMMENTS)"
  expect "Property ProductName" "cardbridge" "$(prop ProductName)"
  expect "Property ALLUSERS (per-machine)" "1" "$(prop ALLUSERS)"
  # What Programs and Features shows.
  expect "Property Manufacturer (the publisher)" "The cardbridge authors" "$(prop Manufacturer)"
  expect "Property ARPCONTACT" "cardbridge developers, https://github.com/cardbridge/cardbridge/issues" "$(prop ARPCONTACT)"
  expect "Property ARPHELPLINK" "https://github.com/cardbridge/cardbridge/issues" "$(prop ARPHELPLINK)"
  expect "Property ARPURLINFOABOUT" "https://github.com/cardbridge/cardbridge" "$(prop ARPURLINFOABOUT)"
  expect "Property ARPPRODUCTICON" "cardbridge.ico" "$(prop ARPPRODUCTICON)"
  # (msiinfo export writes a table's binary streams into a folder named for
  # the table, in the working directory: $tmp, not the caller's.)
  expect "Icon table row" "cardbridge.ico" "$(cd "$tmp" && msi_table "$msi" Icon | cut -f1)"
  # The icon's stream: an ICO header (reserved 0, type 1) and at least one image.
  local ico="$tmp/icon.ico"
  rm -f "$ico"
  msiinfo extract "$msi" Icon.cardbridge.ico >"$ico" 2>/dev/null || true
  expect_match "Icon cardbridge.ico is an ICO file (header, image count)" '^00000100(0[1-9a-f]00|[1-9a-f][0-9a-f]00)$' "$(od -An -tx1 -N 6 "$ico" 2>/dev/null | tr -d ' \n')"
  expect_match "Property ProductCode" '^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$' "$(prop ProductCode)"
  local secure
  secure=";$(prop SecureCustomProperties);"
  for p in TRUSTEDURL PORTS RANGE DOMAINLIST NOSERVICESTART WIX_UPGRADE_DETECTED WIX_DOWNGRADE_DETECTED; do
    if [[ "$secure" == *";$p;"* ]]; then ok "SecureCustomProperties has $p"; else bad "SecureCustomProperties lacks $p: $secure"; fi
  done

  expect "Directory INSTALLDIR" "ProgramFiles64Folder	cardbridge" "$(field "$msi" Directory 1 INSTALLDIR 2)	$(field "$msi" Directory 1 INSTALLDIR 3)"
  expect "Directory ProgramFiles64Folder parent" "TARGETDIR" "$(field "$msi" Directory 1 ProgramFiles64Folder 2)"

  # file NAME COMPONENT: the file is in the table, in that component, which
  # is a 64-bit component in INSTALLDIR with the file as its key path.
  # file_row NAME COMPONENT [DIRECTORY]: the file's row, in INSTALLDIR
  # unless DIRECTORY says otherwise.
  file_row() {
    local id attrs
    id="$(msi_table "$msi" File | awk -F'\t' -v n="$1" '$3 == n || $3 ~ ("\\|" n "$") { print $1; exit }')"
    if [ -z "$id" ]; then bad "File $1 missing"; return 0; fi
    expect "File $1 component" "$2" "$(field "$msi" File 1 "$id" 2)"
    expect "Component $2 directory" "${3:-INSTALLDIR}" "$(field "$msi" Component 1 "$2" 3)"
    expect "Component $2 key path" "$id" "$(field "$msi" Component 1 "$2" 6)"
    attrs="$(field "$msi" Component 1 "$2" 4)"
    if (((attrs & 256) != 0)); then ok "Component $2 is 64-bit ($attrs)"; else bad "Component $2 is not 64-bit ($attrs)"; fi
  }
  file_row cardbridge.exe Agent
  file_row cardbridge-supervisor.exe Supervisor
  file_row cardbridge-portservice.exe PortService
  file_row README.txt Readme
  file_row LICENSE.txt Licence
  file_row NOTICE.txt Notice
  file_row cardbridge.admx Admx ADMXDIR
  file_row cardbridge.adml AdmlEnUS ADMLENUS
  expect "Directory admx is in the program folder" "INSTALLDIR" "$(field "$msi" Directory 1 ADMXDIR 2)"
  expect "Directory en-US is in admx" "ADMXDIR" "$(field "$msi" Directory 1 ADMLENUS 2)"
  expect "File rows" "8" "$(msi_table "$msi" File | wc -l)"

  local si=PortServiceInstall
  expect "ServiceInstall Name" "cardbridge-portservice" "$(field "$msi" ServiceInstall 1 $si 2)"
  expect "ServiceInstall DisplayName" "cardbridge port service" "$(field "$msi" ServiceInstall 1 $si 3)"
  expect "ServiceInstall ServiceType (own process)" "16" "$(field "$msi" ServiceInstall 1 $si 4)"
  expect "ServiceInstall StartType (auto)" "2" "$(field "$msi" ServiceInstall 1 $si 5)"
  expect "ServiceInstall ErrorControl (normal)" "1" "$(field "$msi" ServiceInstall 1 $si 6)"
  expect "ServiceInstall StartName" "LocalSystem" "$(field "$msi" ServiceInstall 1 $si 9)"
  # `run`, then each administrator's setting in a {...} group that Windows
  # Installer drops when its property is unset.
  expect "ServiceInstall Arguments" 'run{ --trusted-url "[TRUSTEDURL]"}{ --ports [PORTS]}{ --range [RANGE]}{ --domainlist-seed "[DOMAINLIST]"}' "$(field "$msi" ServiceInstall 1 $si 11)"
  expect "ServiceInstall Component" "PortService" "$(field "$msi" ServiceInstall 1 $si 12)"
  expect_match "ServiceInstall Description" '.' "$(field "$msi" ServiceInstall 1 $si 13)"

  local ev
  ev="$(field "$msi" ServiceControl 2 cardbridge-portservice 3)"
  # 1 start on install, 2 stop on install (before an upgrade or repair
  # replaces the program), 32 stop on uninstall, 128 delete on uninstall.
  expect "ServiceControl events (start on install; stop both; delete on uninstall)" "163" "$ev"
  expect "ServiceControl Wait" "1" "$(field "$msi" ServiceControl 2 cardbridge-portservice 5)"
  expect "ServiceControl Component" "PortService" "$(field "$msi" ServiceControl 2 cardbridge-portservice 6)"

  # Settings remembered in HKLM\SOFTWARE\cardbridge (64-bit view) and
  # restored when not given again.
  local p name
  for p in TRUSTEDURL:TrustedURL PORTS:Ports RANGE:Range DOMAINLIST:DomainListSeed; do
    name="${p#*:}" p="${p%%:*}"
    expect "Registry remembers $p" "2	SOFTWARE\cardbridge	$name	[$p]	Settings" "$(msi_table "$msi" Registry | awk -F'\t' -v n="$name" '$3 == "SOFTWARE\\cardbridge" && $4 == n' | cut -f2-)"
    expect "RegLocator for $p (type 18 = raw, 64-bit)" "2	SOFTWARE\cardbridge	$name	18" "$(msi_table "$msi" RegLocator | awk -F'\t' -v n="$name" '$4 == n' | cut -f2-)"
    expect "CustomAction restoring $p" "51	$p	[SAVED_$p]" "$(msi_table "$msi" CustomAction | awk -F'\t' -v p="$p" '$3 == p' | cut -f2-4)"
  done

  # The port service's event source, with the values
  # golang.org/x/sys/windows/svc/eventlog.InstallAsEventCreate writes
  # ("#%" is REG_EXPAND_SZ, "#" REG_DWORD), in a component of its own.
  local evkey='SYSTEM\CurrentControlSet\Services\EventLog\Application\cardbridge-portservice' nv
  for nv in 'EventMessageFile:#%%SystemRoot%\System32\EventCreate.exe' 'TypesSupported:#7' 'CustomSource:#1'; do
    expect "Registry event source ${nv%%:*}" "2	$evkey	${nv%%:*}	${nv#*:}	EventSource" \
      "$(msi_table "$msi" Registry | awk -F'\t' -v k="$evkey" -v n="${nv%%:*}" '$3 == k && $4 == n' | cut -f2-)"
  done
  expect "Registry rows under the event source key" "3" "$(msi_table "$msi" Registry | awk -F'\t' -v k="$evkey" '$3 == k' | wc -l)"

  local run
  run="$(msi_table "$msi" Registry | awk -F'\t' '$3 == "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run" && $4 == "cardbridge"')"
  expect "Registry Run value (root 2 = HKLM)" '2	SOFTWARE\Microsoft\Windows\CurrentVersion\Run	cardbridge	"[INSTALLDIR]cardbridge-supervisor.exe" --portservice \\.\pipe\cardbridge-portservice	Supervisor' "$(cut -f2- <<<"$run")"

  local up down
  up="$(msi_table "$msi" Upgrade | awk -F'\t' '$7 == "WIX_UPGRADE_DETECTED"')"
  down="$(msi_table "$msi" Upgrade | awk -F'\t' '$7 == "WIX_DOWNGRADE_DETECTED"')"
  # 768: minimum and maximum inclusive, so another build of this version
  # is replaced too; 2: detect only.
  expect "Upgrade row replacing older builds" "$UPGRADE_CODE	0.0.0	$numeric		768		WIX_UPGRADE_DETECTED" "$up"
  expect "Upgrade row detecting newer versions" "$UPGRADE_CODE	$numeric			2		WIX_DOWNGRADE_DETECTED" "$down"
  if msi_table "$msi" LaunchCondition | grep -q '^NOT WIX_DOWNGRADE_DETECTED	.*newer version'; then
    ok "LaunchCondition refuses a downgrade with a message"
  else
    bad "LaunchCondition for WIX_DOWNGRADE_DETECTED missing"
  fi
  seqno() { field "$msi" InstallExecuteSequence 1 "$1" 3; }
  local fr rep iv ii
  fr="$(seqno FindRelatedProducts)" rep="$(seqno RemoveExistingProducts)" iv="$(seqno InstallValidate)" ii="$(seqno InstallInitialize)"
  if [ -n "$fr" ] && [ -n "$rep" ] && ((rep > iv && rep < ii)); then
    ok "InstallExecuteSequence: FindRelatedProducts ($fr), RemoveExistingProducts ($rep) between InstallValidate and InstallInitialize"
  else
    bad "InstallExecuteSequence: FindRelatedProducts [$fr] RemoveExistingProducts [$rep] InstallValidate [$iv] InstallInitialize [$ii]"
  fi
  expect "StartServices condition" "VersionNT AND NOT NOSERVICESTART" "$(field "$msi" InstallExecuteSequence 1 StartServices 2)"
  for a in StopServices DeleteServices InstallServices StartServices; do
    if [ -n "$(seqno $a)" ]; then ok "InstallExecuteSequence: $a ($(seqno $a))"; else bad "InstallExecuteSequence: $a missing"; fi
  done

  # The default per-user range is excluded from Windows' dynamic ports for
  # TCP over IPv4 and IPv6 at install and released at uninstall, by netsh
  # run as type 50 actions (the program in NETSH) that are deferred (0x400),
  # not impersonated (0x800) and whose failure is ignored (0x40).
  expect "CustomAction SetNetsh" "51	NETSH	[System64Folder]netsh.exe" "$(field "$msi" CustomAction 1 SetNetsh 2)	$(field "$msi" CustomAction 1 SetNetsh 3)	$(field "$msi" CustomAction 1 SetNetsh 4)"
  local ca fam verb type
  for ca in ReservePortRangeIPv4:ipv4:add ReservePortRangeIPv6:ipv6:add ReleasePortRangeIPv4:ipv4:delete ReleasePortRangeIPv6:ipv6:delete; do
    IFS=: read -r ca fam verb <<<"$ca"
    type="$(field "$msi" CustomAction 1 "$ca" 2)"
    if [ -n "$type" ] && (( (type & 0x3f) == 50 && (type & 0x40) && (type & 0x400) && (type & 0x800) )); then
      ok "CustomAction $ca: type $type (exe from a property, deferred, no impersonation, failure ignored)"
    else
      bad "CustomAction $ca: type [$type], want 50 | 0x40 | 0x400 | 0x800"
    fi
    expect "CustomAction $ca command" "NETSH	int $fam $verb excludedportrange protocol=tcp startport=55000 numberofports=1000 store=persistent" "$(field "$msi" CustomAction 1 "$ca" 3)	$(field "$msi" CustomAction 1 "$ca" 4)"
  done
  local sn rv4 rv6 rl4 rl6 isv ssv stv rmf ifz
  sn="$(seqno SetNetsh)" rv4="$(seqno ReservePortRangeIPv4)" rv6="$(seqno ReservePortRangeIPv6)"
  rl4="$(seqno ReleasePortRangeIPv4)" rl6="$(seqno ReleasePortRangeIPv6)"
  isv="$(seqno InstallServices)" ssv="$(seqno StartServices)" stv="$(seqno StopServices)" rmf="$(seqno RemoveFiles)" ifz="$(seqno InstallFinalize)"
  if [ -n "$sn" ] && [ -n "$ii" ] && ((sn < ii)); then
    ok "InstallExecuteSequence: SetNetsh ($sn) before InstallInitialize ($ii), so the deferred actions see NETSH"
  else
    bad "InstallExecuteSequence: SetNetsh [$sn] not before InstallInitialize [$ii]"
  fi
  if [ -n "$rv4" ] && [ -n "$rv6" ] && ((rv4 > isv && rv4 < ssv && rv6 > isv && rv6 < ssv && ssv < ifz)); then
    ok "InstallExecuteSequence: the range is reserved ($rv4, $rv6) after InstallServices ($isv) and before StartServices ($ssv)"
  else
    bad "InstallExecuteSequence: ReservePortRange [$rv4 $rv6] not between InstallServices [$isv] and StartServices [$ssv]"
  fi
  if [ -n "$rl4" ] && [ -n "$rl6" ] && ((rl4 > stv && rl4 < rmf && rl6 > stv && rl6 < rmf && rl4 > ii)); then
    ok "InstallExecuteSequence: the range is released ($rl4, $rl6) after StopServices ($stv) and before RemoveFiles ($rmf)"
  else
    bad "InstallExecuteSequence: ReleasePortRange [$rl4 $rl6] not between StopServices [$stv] and RemoveFiles [$rmf]"
  fi
  for ca in ReservePortRangeIPv4 ReservePortRangeIPv6; do
    expect "$ca condition (installs with the default range)" 'NOT REMOVE="ALL" AND (NOT RANGE OR RANGE="55000-55999")' "$(field "$msi" InstallExecuteSequence 1 "$ca" 2)"
  done
  for ca in ReleasePortRangeIPv4 ReleasePortRangeIPv6; do
    expect "$ca condition (uninstall, not an upgrade's removal)" 'REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE' "$(field "$msi" InstallExecuteSequence 1 "$ca" 2)"
  done

  # The service's state (C:\ProgramData\cardbridge) is never the package's.
  if msi_table "$msi" Directory | cut -f1,3 | grep -qi 'CommonAppDataFolder\|ProgramData'; then
    bad "the package has a ProgramData directory"
  else
    ok "no ProgramData directory in the package"
  fi
  expect "RemoveFile rows (nothing removed beyond installed files)" "0" "$(msi_table "$msi" RemoveFile | wc -l)"
}

# check_files MSI VERSION DIR: unpacks the cabinet into DIR and compares.
check_files() {
  local msi="$1" version="$2" dir="$3"
  echo "-- files"
  mkdir -p "$dir"
  (cd "$dir" && msiextract "$msi" >/dev/null)
  # msiextract names the folders it knows; ProgramFiles64Folder it leaves
  # out, so the programs land in DIR/cardbridge.
  local from
  from="$(dirname "$(find "$dir" -type f -name cardbridge.exe | head -n 1)")"
  expect "unpacked folder" "cardbridge" "$(basename "$from")"
  for f in cardbridge.exe cardbridge-portservice.exe cardbridge-supervisor.exe README.txt LICENSE.txt NOTICE.txt; do
    if [ -f "$from/$f" ]; then ok "unpacked $f"; else bad "cabinet lacks $f"; fi
  done
  if grep -q -F "Apache License" "$from/LICENSE.txt" 2>/dev/null; then ok "LICENSE.txt is the Apache License"; else bad "LICENSE.txt is not the Apache License"; fi
  for f in admx/cardbridge.admx admx/en-US/cardbridge.adml; do
    if cmp -s "$from/$f" "$here/$f"; then ok "unpacked $f, the repository's template"; else bad "cabinet lacks $f, or it differs from installer/windows/$f"; fi
  done
  for f in cardbridge.exe cardbridge-portservice.exe cardbridge-supervisor.exe; do
    [ -f "$from/$f" ] || continue
    expect "$f is a PE file for x64 (machine)" "8664" "$(pe_machine "$from/$f")"
    if grep -a -q -F -- "$version" "$from/$f"; then ok "$f carries version $version"; else bad "$f lacks version string $version"; fi
  done
  local sums="$msi.sha256"
  if [ ! -f "$sums" ]; then
    bad "no $(basename "$sums") from build.sh to compare the packed files with"
  elif (cd "$from" && sha256sum --quiet -c "$sums" >"$tmp/sums.log" 2>&1); then
    ok "unpacked files match $(basename "$sums") ($(wc -l <"$sums") files)"
  else
    bad "unpacked files differ from $(basename "$sums"):"
    sed 's/^/     /' "$tmp/sums.log" || true
  fi

  echo "-- signatures"
  check_signature "$(basename "$msi")" "$msi"
  for f in cardbridge.exe cardbridge-portservice.exe cardbridge-supervisor.exe; do
    [ -f "$from/$f" ] && check_signature "$f" "$from/$f"
  done
}

# --- Wine -----------------------------------------------------------------

# wreg KEY VALUE prints a value from the Wine prefix's 64-bit registry, or
# nothing when the key or value is missing. A query that finds nothing is
# asked twice more: a "wine reg" run has been seen to find nothing for a
# value that was there (its neighbours read fine), and one such run must not
# pass for a missing value.
wreg() {
  local out try
  for try in 1 2 3; do
    out="$(timeout 60 wine reg query "$1" /v "$2" /reg:64 2>/dev/null | tr -d '\r' |
      awk -v v="$2" '{ line = $0; sub(/^ +/, "", line) } index(line, v "    ") == 1 { sub(/^[^ ]+ +REG_[A-Z_]+ +/, "", line); print line; exit }' || true)"
    if [ -n "$out" ]; then
      [ "$try" = 1 ] || echo "info $1\\$2 read only at try $try" >&2
      printf '%s\n' "$out"
      return 0
    fi
  done
}
# wregtype KEY VALUE prints a value's type (REG_SZ, REG_EXPAND_SZ, ...), or
# nothing.
wregtype() {
  timeout 60 wine reg query "$1" /v "$2" /reg:64 2>/dev/null | tr -d '\r' |
    awk -v v="$2" '{ line = $0; sub(/^ +/, "", line) } index(line, v "    ") == 1 { split(line, f, / +/); print f[2]; exit }' || true
}
# wkey KEY reports whether a registry key exists in the prefix.
wkey() { timeout 60 wine reg query "$1" /reg:64 >/dev/null 2>&1; }
# wmsiexec LOG ARGS... runs Wine's msiexec with a verbose log, and prints
# its exit code.
wmsiexec() {
  local log="$1" rc=0
  shift
  timeout 300 wine msiexec "$@" /qn /l*v "$(winepath -w "$log")" >/dev/null 2>&1 || rc=$?
  echo "$rc"
}

# seed_tests SERVICE_KEY DOMAINS runs the installed port service with the
# arguments the install gave the service (its ImagePath), in a state
# directory of its own, and checks that DOMAINS (DOMAINLIST) becomes its
# DomainList.txt, and that a DomainList.txt already there is kept.
seed_tests() {
  local image rest args=() state="$tmp/seed-state" i
  image="$(wreg "$1" ImagePath)"
  # The arguments after the program's path, quoted or not.
  rest="${image#\"C:\\Program Files\\cardbridge\\cardbridge-portservice.exe\" }"
  rest="${rest#C:\\Program Files\\cardbridge\\cardbridge-portservice.exe }"
  mapfile -t args < <(xargs -n 1 printf '%s\n' <<<"$rest")
  # Its own state, port and pipe; no trusted URL, which would replace the
  # seeded list.
  args+=(--state-dir "$(winepath -w "$state")" --ports "$((42000 + RANDOM % 1000))" --socket '\\.\pipe\cardbridge-check'
    --log "$(winepath -w "$tmp/seed.log")" --trusted-url '')
  # run_seeded waits up to 60 s for the service to log its start, then ends it.
  run_seeded() {
    timeout 90 wine 'C:\Program Files\cardbridge\cardbridge-portservice.exe' "${args[@]}" >"$tmp/seed.out" 2>&1 &
    local pid=$!
    for i in $(seq 600); do
      grep -q 'port service started\|port service failed' "$tmp/seed.log" 2>/dev/null && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    timeout 30 wineserver -k >/dev/null 2>&1 || true
  }
  rm -rf "$state" "$tmp/seed.log"
  run_seeded
  local want got
  want="$(tr ';' '\n' <<<"$2")"
  got="$(grep -v '^#' "$state/DomainList.txt" 2>/dev/null || true)"
  if [ "$got" = "$want" ] && head -n 1 "$state/DomainList.txt" | grep -q '^# version: seed-'; then
    ok "DOMAINLIST became the service's DomainList.txt ($(tr '\n' ' ' <<<"$got"))"
  else
    bad "DOMAINLIST did not become the service's DomainList.txt: [$(cat "$state/DomainList.txt" 2>/dev/null)]"
    sed 's/^/     /' "$tmp/seed.log" 2>/dev/null | tail -n 10 || true
  fi
  # An administrator's own list, in the clean form the service keeps as it is.
  printf 'https://own.example.nhs.uk\n' >"$state/DomainList.txt"
  local own
  own="$(sha256sum <"$state/DomainList.txt")"
  rm -f "$tmp/seed.log"
  run_seeded
  if grep -q 'the DomainList seed is not used' "$tmp/seed.log" 2>/dev/null && [ "$(sha256sum <"$state/DomainList.txt")" = "$own" ]; then
    ok "an existing DomainList.txt is kept, not replaced by DOMAINLIST"
  else
    bad "an existing DomainList.txt was not kept as it was: [$(cat "$state/DomainList.txt")]"
    sed 's/^/     /' "$tmp/seed.log" 2>/dev/null | tail -n 10 || true
  fi
}

wine_tests() {
  local msi="$1" version="$2" files="$3"
  echo "-- Wine $(wine --version 2>/dev/null): install, upgrade, downgrade, uninstall"
  export WINEPREFIX="$tmp/wineprefix" WINEARCH=win64 WINEDEBUG=-all DISPLAY=
  # No Mono or Gecko prompts; the MSI needs neither.
  export WINEDLLOVERRIDES="mscoree,mshtml="
  local t0=$SECONDS rc
  timeout 180 wineboot -i >/dev/null 2>&1 || { bad "wineboot could not make a prefix"; return 0; }
  timeout 60 wineserver -w || true
  echo "info prefix ready in $((SECONDS - t0)) s"

  local pf="$WINEPREFIX/drive_c/Program Files/cardbridge"
  local run='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run'
  local svc='HKLM\System\CurrentControlSet\Services\cardbridge-portservice'
  local uninst='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
  local code numeric state="$WINEPREFIX/drive_c/ProgramData/cardbridge"
  code="$(field "$msi" Property 1 ProductCode 2)"
  numeric="$(msi_version "$version")"
  local url=https://cm.example.nhs.uk ports=43487,44213 range=56000-56999
  # DOMAINLIST: origins separated by ';', as an administrator gives them.
  local domains='https://cm.example.nhs.uk;https://*.spineservices.nhs.uk'
  local evsrc='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\cardbridge-portservice'
  # image_path_re ARGS: the ImagePath regex for these arguments. Windows
  # Installer quotes the program's path; Wine's msiexec does not, so either
  # form passes.
  image_path_re() {
    local exe_re='C:\\Program Files\\cardbridge\\cardbridge-portservice\.exe'
    local args="${1//./\\.}"
    echo "^(\"$exe_re\"|$exe_re) ${args//\*/\\*}\$"
  }
  # The install leaves PORTS out (its {...} group must vanish); the upgrade
  # gives PORTS alone (the others must come back from the registry).
  local first_path want_path
  first_path="$(image_path_re 'run --trusted-url "'$url'" --range '$range' --domainlist-seed "'$domains'"')"
  want_path="$(image_path_re 'run --trusted-url "'$url'" --ports '$ports' --range '$range' --domainlist-seed "'$domains'"')"

  # 1. Install, with the service settings; the service is not started (step
  # 5 installs with it started).
  t0=$SECONDS
  rc="$(wmsiexec "$tmp/install.log" /i "$(winepath -w "$msi")" NOSERVICESTART=1 TRUSTEDURL=$url RANGE=$range "DOMAINLIST=$domains")"
  if [ "$rc" = 0 ]; then ok "msiexec /i succeeded ($((SECONDS - t0)) s)"; else
    bad "msiexec /i exit code $rc; log:"; grep -i 'error\|return value [^1]' "$tmp/install.log" | head -n 20 | sed 's/^/     /' || true; return 0
  fi
  for f in cardbridge.exe cardbridge-portservice.exe cardbridge-supervisor.exe README.txt LICENSE.txt NOTICE.txt admx/cardbridge.admx admx/en-US/cardbridge.adml; do
    if cmp -s "$pf/$f" "$files/$f"; then ok "installed C:\\Program Files\\cardbridge\\$f"; else bad "C:\\Program Files\\cardbridge\\$f missing or different"; fi
  done
  expect "Run value cardbridge" '"C:\Program Files\cardbridge\cardbridge-supervisor.exe" --portservice \\.\pipe\cardbridge-portservice' "$(wreg "$run" cardbridge)"
  expect_match "service ImagePath (TRUSTEDURL, RANGE and DOMAINLIST given)" "$first_path" "$(wreg "$svc" ImagePath)"
  expect "service Start (2 = automatic)" "0x2" "$(wreg "$svc" Start)"
  expect "service Type (0x10 = own process)" "0x10" "$(wreg "$svc" Type)"
  expect "service ErrorControl (1 = normal)" "0x1" "$(wreg "$svc" ErrorControl)"
  expect "service ObjectName" "LocalSystem" "$(wreg "$svc" ObjectName)"
  expect "service DisplayName" "cardbridge port service" "$(wreg "$svc" DisplayName)"
  expect "ARP DisplayVersion" "$numeric" "$(wreg "$uninst\\$code" DisplayVersion)"
  expect "remembered TrustedURL" "$url" "$(wreg 'HKLM\SOFTWARE\cardbridge' TrustedURL)"
  expect "remembered DOMAINLIST (DomainListSeed)" "$domains" "$(wreg 'HKLM\SOFTWARE\cardbridge' DomainListSeed)"
  # Programs and Features.
  expect "ARP Publisher" "The cardbridge authors" "$(wreg "$uninst\\$code" Publisher)"
  expect "ARP Contact" "cardbridge developers, https://github.com/cardbridge/cardbridge/issues" "$(wreg "$uninst\\$code" Contact)"
  expect "ARP HelpLink" "https://github.com/cardbridge/cardbridge/issues" "$(wreg "$uninst\\$code" HelpLink)"
  expect "ARP URLInfoAbout" "https://github.com/cardbridge/cardbridge" "$(wreg "$uninst\\$code" URLInfoAbout)"
  # Windows Installer keeps the product's icon as a file of its own, which
  # Programs and Features shows.
  local icon_file
  icon_file="$(find "$WINEPREFIX/drive_c/windows/Installer/$code" -iname cardbridge.ico 2>/dev/null | head -n 1)"
  msiinfo extract "$msi" Icon.cardbridge.ico >"$tmp/msi-icon.ico" 2>/dev/null || true
  if [ -n "$icon_file" ] && cmp -s "$icon_file" "$tmp/msi-icon.ico"; then
    ok "ARP icon published as C:\\windows\\Installer\\$code\\cardbridge.ico"
  else
    bad "ARP icon not published under C:\\windows\\Installer\\$code [$icon_file]"
  fi
  # The event source, as eventlog.InstallAsEventCreate would register it.
  expect "event source EventMessageFile" '%SystemRoot%\System32\EventCreate.exe' "$(wreg "$evsrc" EventMessageFile)"
  expect "event source EventMessageFile type" "REG_EXPAND_SZ" "$(wregtype "$evsrc" EventMessageFile)"
  expect "event source TypesSupported (error, warning, information)" "0x7" "$(wreg "$evsrc" TypesSupported)"
  expect "event source CustomSource" "0x1" "$(wreg "$evsrc" CustomSource)"
  expect "installed cardbridge-portservice.exe runs" "cardbridge-portservice $version" \
    "$(timeout 60 wine 'C:\Program Files\cardbridge\cardbridge-portservice.exe' version 2>/dev/null | tr -d '\r' | cut -d' ' -f1,2)"
  seed_tests "$svc" "$domains"
  # State the service would have written (a port of the range given); no
  # install step may touch it. Wine may start the automatic service by
  # itself during the upgrade, and the service keeps a valid file as it is.
  mkdir -p "$state"
  printf 'S-1-5-21-1-2-3-1001\t56001\t2026-01-01T00:00:00Z\n' >"$state/PortStore.txt"
  local state_sum
  state_sum="$(sha256sum <"$state/PortStore.txt")"

  # 2. Upgrade to a newer build of the same programs, given PORTS only: the
  # other settings must carry over from the registry.
  local major next next_msi next_code
  major="${numeric%%.*}"
  if ((major >= 255)); then
    echo "info version $numeric leaves no room for an upgrade test"
  else
    next="$((major + 1)).0.0-upgradetest"
    next_msi="$tmp/cardbridge-$next-x64.msi"
    # The icon is in the MSI's Icon table, not its cabinet.
    msiinfo extract "$msi" Icon.cardbridge.ico >"$files/cardbridge.ico"
    msi_pack "$files" "$next" "$next_msi" 2>"$tmp/pack.log" || { bad "packing $next failed"; cat "$tmp/pack.log"; return 0; }
    next_code="$(field "$next_msi" Property 1 ProductCode 2)"
    t0=$SECONDS
    rc="$(wmsiexec "$tmp/upgrade.log" /i "$(winepath -w "$next_msi")" NOSERVICESTART=1 PORTS=$ports)"
    if [ "$rc" = 0 ]; then ok "upgrade to $next succeeded ($((SECONDS - t0)) s)"; else
      bad "upgrade exit code $rc"; grep -i 'error\|return value [^1]' "$tmp/upgrade.log" | head -n 20 | sed 's/^/     /' || true
    fi
    if wkey "$uninst\\$code"; then bad "the old version is still registered after the upgrade"; else ok "the old version ($code) was removed"; fi
    expect "new version registered (ARP DisplayVersion)" "$((major + 1)).0.0" "$(wreg "$uninst\\$next_code" DisplayVersion)"
    expect_match "service ImagePath: PORTS added, the rest kept" "$want_path" "$(wreg "$svc" ImagePath)"
    expect "Run value after upgrade" '"C:\Program Files\cardbridge\cardbridge-supervisor.exe" --portservice \\.\pipe\cardbridge-portservice' "$(wreg "$run" cardbridge)"
    if cmp -s "$pf/cardbridge.exe" "$files/cardbridge.exe"; then ok "programs in place after upgrade"; else bad "cardbridge.exe missing after upgrade"; fi
    expect "ProgramData state kept by the upgrade" "$state_sum" "$(sha256sum <"$state/PortStore.txt" 2>/dev/null || true)"

    # 3. The older MSI must now be refused.
    t0=$SECONDS
    rc="$(wmsiexec "$tmp/downgrade.log" /i "$(winepath -w "$msi")" NOSERVICESTART=1)"
    # Wine's log leaves out the launch condition's message: the refusal
    # shows as the failed LaunchConditions action with the newer product
    # found.
    if [ "$rc" != 0 ] && grep -q "WIX_DOWNGRADE_DETECTED = $next_code" "$tmp/downgrade.log" &&
      grep -q 'LaunchConditions\. Return value [^1]' "$tmp/downgrade.log"; then
      ok "downgrade refused by the launch condition (exit code $rc, WIX_DOWNGRADE_DETECTED = the newer version)"
    else
      bad "downgrade not refused as expected (exit code $rc)"
      grep -i 'DOWNGRADE\|LaunchConditions\|return value [^1]' "$tmp/downgrade.log" | head -n 10 | sed 's/^/     /' || true
    fi
    if wkey "$uninst\\$next_code" && ! wkey "$uninst\\$code"; then ok "the newer version is still the one installed"; else bad "the downgrade attempt changed what is installed"; fi
    msi="$next_msi" code="$next_code"
  fi

  # 4. Uninstall.
  t0=$SECONDS
  rc="$(wmsiexec "$tmp/uninstall.log" /x "$(winepath -w "$msi")")"
  if [ "$rc" = 0 ]; then ok "msiexec /x succeeded ($((SECONDS - t0)) s)"; else bad "msiexec /x exit code $rc"; fi
  local left
  left="$(ls -A "$pf" 2>/dev/null || true)"
  if [ -z "$left" ]; then ok "C:\\Program Files\\cardbridge emptied"; else bad "left in C:\\Program Files\\cardbridge: $left"; fi
  expect "Run value removed" "" "$(wreg "$run" cardbridge)"
  if wkey "$svc"; then bad "service still registered"; else ok "service deleted"; fi
  if wkey 'HKLM\SOFTWARE\cardbridge'; then bad "HKLM\\SOFTWARE\\cardbridge left behind"; else ok "HKLM\\SOFTWARE\\cardbridge removed"; fi
  if wkey "$evsrc"; then bad "the event source is still registered after uninstall"; else ok "event source key removed"; fi
  if wkey "$uninst\\$code"; then bad "still in Programs and Features"; else ok "gone from Programs and Features"; fi
  expect "ProgramData state kept by the uninstall" "$state_sum" "$(sha256sum <"$state/PortStore.txt" 2>/dev/null || true)"

  # 5. Informational: an install that starts the service. Under Wine (8
  # and 10) the service process starts but never connects to Wine's service
  # manager (x/sys/windows/svc.IsWindowsService is false there, as Wine
  # runs services in session 1, not 0), so StartService fails after Wine's
  # 10 s and msiexec rolls back, as Windows Installer does when a service
  # fails to start; the rollback itself is checked.
  {
    t0=$SECONDS
    rc="$(wmsiexec "$tmp/start.log" /i "$(winepath -w "$1")")"
    if [ "$rc" = 0 ]; then
      echo "info install with the service started succeeded under Wine ($((SECONDS - t0)) s)"
      wmsiexec "$tmp/start-x.log" /x "$(winepath -w "$1")" >/dev/null
    else
      echo "info install with the service started: exit code $rc after $((SECONDS - t0)) s, StartServices failed and msiexec rolled back (Wine's service manager, as above)"
      if [ -e "$pf/cardbridge.exe" ] || wkey "$svc"; then bad "the rollback left files or the service behind"; else ok "rollback after the failed service start left nothing behind"; fi
    fi
  }
}

for msi in "${msis[@]}"; do
  name="$(basename "$msi")"
  if [[ ! "$name" =~ ^cardbridge-(.+)-x64\.msi$ ]]; then
    bad "$name: not named cardbridge-<version>-x64.msi"
    continue
  fi
  version="${BASH_REMATCH[1]}"
  echo "== $name (version $version)"
  t0=$SECONDS
  if ! msiinfo tables "$msi" >/dev/null 2>&1; then
    bad "$name: msiinfo cannot read it"
    continue
  fi
  check_tables "$msi" "$version"
  check_files "$msi" "$version" "$tmp/extract"
  echo "info static checks took $((SECONDS - t0)) s"
  if [ $wine_test = yes ]; then
    t0=$SECONDS
    wine_tests "$msi" "$version" "$(dirname "$(find "$tmp/extract" -type f -name cardbridge.exe | head -n 1)")"
    echo "info Wine checks took $((SECONDS - t0)) s"
    timeout 30 wineserver -k >/dev/null 2>&1 || true
    rm -rf "$WINEPREFIX"
  fi
  rm -rf "$tmp/extract"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
