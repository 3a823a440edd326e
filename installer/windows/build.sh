#!/usr/bin/env bash
# Builds the Windows installer, OUTDIR/cardbridge-<version>-x64.msi, on
# Debian: cross-compiles cardbridge.exe and cardbridge-portservice.exe and
# packs them with wixl (msitools). Beside it, cardbridge-<version>-x64.msi.sha256
# lists the SHA-256 of the files packed, for check.sh.
#
#   installer/windows/build.sh OUTDIR
#
# VERSION (default: version/version.go) is the release, e.g. 0.1.0 or
# 0.1.0-dev; the MSI's ProductVersion is its numeric part.
# Signing, with osslsigncode (SHA-256 Authenticode): set SIGN_CERT and
# SIGN_KEY to PEM files (the certificate file may hold the chain), and
# SIGN_PASS for an encrypted key; both programs are signed before packing,
# then the MSI. SIGN_TIMESTAMP_URL adds an RFC 3161 timestamp from that
# server. Without SIGN_CERT and SIGN_KEY the MSI is built unsigned.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"

cd "$root"
. scripts/lib.sh
. "$here/common.sh"
need_go
need_packages wixl msitools osslsigncode

VERSION="${VERSION:-$(sed -n 's/^var Version = "\(.*\)"/\1/p' version/version.go)}"
numeric="$(msi_version "$VERSION")"
msi="$out/cardbridge-$VERSION-x64.msi"

signing=no
if [ -n "${SIGN_CERT:-}" ] || [ -n "${SIGN_KEY:-}" ]; then
  if [ -z "${SIGN_CERT:-}" ] || [ -z "${SIGN_KEY:-}" ]; then
    echo "build.sh: signing needs both SIGN_CERT and SIGN_KEY" >&2
    exit 2
  fi
  for f in "$SIGN_CERT" "$SIGN_KEY"; do
    [ -r "$f" ] || { echo "build.sh: cannot read $f" >&2; exit 2; }
  done
  signing=yes
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
files="$work/files"
mkdir -p "$files"

start=$SECONDS
echo "== windows: building cardbridge $VERSION (MSI ProductVersion $numeric)"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath \
  -ldflags "-s -w -X github.com/cardbridge/cardbridge/version.Version=$VERSION" \
  -o "$files/" ./cmd/cardbridge ./cmd/cardbridge-portservice ./cmd/cardbridge-supervisor
# Older Notepads (Windows Server 2016) need CRLF line ends.
sed 's/\r*$/\r/' "$here/README.txt" >"$files/README.txt"
sed 's/\r*$/\r/' LICENSE >"$files/LICENSE.txt"
sed 's/\r*$/\r/' NOTICE >"$files/NOTICE.txt"
# The Group Policy template (policy/ reads what it describes).
cp -r "$here/admx" "$files/admx"
# The icon Programs and Features shows (ARPPRODUCTICON), drawn by code.
go run ./tools/mkicon "$files/cardbridge.ico"

# sign FILE signs FILE in place.
sign() {
  local args=(sign -certs "$SIGN_CERT" -key "$SIGN_KEY" -h sha256 -n cardbridge)
  if [ -n "${SIGN_PASS:-}" ]; then
    # A file, not -pass, keeps the password out of the process list.
    (umask 077 && printf '%s' "$SIGN_PASS" >"$work/pass")
    args+=(-readpass "$work/pass")
  fi
  if [ -n "${SIGN_TIMESTAMP_URL:-}" ]; then
    args+=(-ts "$SIGN_TIMESTAMP_URL")
  fi
  osslsigncode "${args[@]}" -in "$1" -out "$1.signed" >"$work/sign.log" 2>&1 || {
    cat "$work/sign.log" >&2
    echo "build.sh: signing $(basename "$1") failed" >&2
    exit 1
  }
  mv "$1.signed" "$1"
  rm -f "$work/pass"
}

if [ $signing = yes ]; then
  sign "$files/cardbridge.exe"
  sign "$files/cardbridge-portservice.exe"
  sign "$files/cardbridge-supervisor.exe"
fi

echo "== windows: packing $(basename "$msi") with wixl $(wixl --version)"
msi_pack "$files" "$VERSION" "$work/cardbridge.msi"
if [ $signing = yes ]; then
  sign "$work/cardbridge.msi"
fi
mv "$work/cardbridge.msi" "$msi"
(cd "$files" && sha256sum cardbridge.exe cardbridge-portservice.exe cardbridge-supervisor.exe README.txt LICENSE.txt NOTICE.txt) >"$msi.sha256"

if [ $signing = yes ]; then
  subject="$(openssl x509 -in "$SIGN_CERT" -noout -subject | sed 's/^subject=//')"
  echo "== windows: signed the programs and the MSI as $subject${SIGN_TIMESTAMP_URL:+, timestamped by $SIGN_TIMESTAMP_URL}"
else
  echo "== windows: UNSIGNED build (set SIGN_CERT and SIGN_KEY to sign it with osslsigncode)"
fi
echo "== windows: $msi ($(stat -c %s "$msi") bytes) in $((SECONDS - start)) s"
