# Shared by installer/windows/build.sh, check.sh and test.sh: the MSI's
# fixed identity, its version rule, and packing the programs with wixl.
# Source it; it defines functions and constants only.

# UPGRADE_CODE identifies cardbridge across all its versions: every MSI
# carries it so that a newer one replaces an older one. Never change it
# (cardbridge.wxs holds the same value, and check.sh tests for it).
UPGRADE_CODE='{FB25817E-7D46-4E16-86ED-7225DBA22F0C}'

# Public properties an administrator may set on the msiexec command line;
# listed in SecureCustomProperties so that managed (elevated) installs pass
# them to the part of the installer that runs as SYSTEM.
ADMIN_PROPERTIES='TRUSTEDURL;PORTS;RANGE;DOMAINLIST;NOSERVICESTART'

# msi_version VERSION prints the numeric ProductVersion (major.minor.build)
# for a cardbridge version such as 1.2.3, v1.2 or 0.1.0-dev: Windows
# Installer compares only these three numbers (at most 255.255.65535), so a
# pre-release suffix is dropped; the full string goes into the package's
# comments and the CARDBRIDGE_VERSION property.
msi_version() {
  local v="${1#v}"
  if [[ ! "$v" =~ ^([0-9]+)\.([0-9]+)(\.([0-9]+))?([-+~._][0-9A-Za-z.+~-]*)?$ ]]; then
    echo "msi_version: $1 is not a version like 1.2.3 or 1.2.3-rc1" >&2
    return 1
  fi
  local major=$((10#${BASH_REMATCH[1]})) minor=$((10#${BASH_REMATCH[2]})) build=$((10#${BASH_REMATCH[4]:-0}))
  if ((major > 255 || minor > 255 || build > 65535)); then
    echo "msi_version: $1 is out of Windows Installer's range (255.255.65535)" >&2
    return 1
  fi
  echo "$major.$minor.$build"
}

# msi_pack FILES_DIR VERSION OUT_MSI packs cardbridge.exe,
# cardbridge-portservice.exe, README.txt, LICENSE.txt, NOTICE.txt and the
# icon, cardbridge.ico, from FILES_DIR into OUT_MSI with wixl, then applies
# the two table fixes wixl cannot express.
msi_pack() {
  local files="$1" version="$2" out="$3" here numeric
  if [ ! -f "$files/cardbridge.ico" ]; then
    echo "msi_pack: $files has no cardbridge.ico (go run ./tools/mkicon draws it)" >&2
    return 1
  fi
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  numeric="$(msi_version "$version")"
  rm -f "$out"
  # wixl 0.101 finds Source files only relative to its working directory.
  (cd "$files" && wixl --arch x64 -D "ProductVersion=$numeric" -D "FullVersion=$version" \
    -o "$out" "$here/cardbridge.wxs")
  # wixl 0.101 ignores IncludeMaximum, so its upgrade row would skip an
  # installed build of the same ProductVersion (0.1.0-dev before 0.1.0, or
  # a rebuilt release) and leave two copies installed side by side. Attributes
  # is part of the Upgrade table's key, so the row is replaced, not updated:
  # 768 = msidbUpgradeAttributesVersionMinInclusive | ...VersionMaxInclusive.
  msibuild "$out" -q "DELETE FROM \`Upgrade\` WHERE \`ActionProperty\` = 'WIX_UPGRADE_DETECTED'"
  msibuild "$out" -q "INSERT INTO \`Upgrade\` (\`UpgradeCode\`, \`VersionMin\`, \`VersionMax\`, \`Attributes\`, \`ActionProperty\`) VALUES ('$UPGRADE_CODE', '0.0.0', '$numeric', 768, 'WIX_UPGRADE_DETECTED')"
  # wixl 0.101 writes an expandable RegistryValue without the "#%" that
  # makes Windows Installer write REG_EXPAND_SZ: the event source's message
  # file, %SystemRoot%\System32\EventCreate.exe, must be expanded by whoever
  # reads it, as golang.org/x/sys/windows/svc/eventlog writes it.
  msibuild "$out" -q "UPDATE \`Registry\` SET \`Value\` = '#%%SystemRoot%\\System32\\EventCreate.exe' WHERE \`Registry\` = 'EventSourceMessageFile'"
  # wixl writes SecureCustomProperties itself (from the Upgrade rows) and
  # refuses a second definition, so the administrator's properties are added
  # to its value here.
  local secure
  secure="$(msiinfo export "$out" Property | awk -F'\t' '$1 == "SecureCustomProperties" { print $2 }')"
  msibuild "$out" -q "UPDATE \`Property\` SET \`Value\` = '${secure:+$secure;}$ADMIN_PROPERTIES' WHERE \`Property\` = 'SecureCustomProperties'"
}

# msi_table MSI TABLE prints TABLE's rows, tab-separated, without msiinfo's
# three header lines (column names, column types, table name and keys) and
# without its CRs.
msi_table() {
  msiinfo export "$1" "$2" | tr -d '\r' | tail -n +4
}
