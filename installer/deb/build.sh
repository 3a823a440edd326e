#!/usr/bin/env bash
# Builds dist/cardbridge_<version>_amd64.deb: both programs, the port
# service's hardened systemd unit, the agent's systemd user unit and XDG
# autostart entry, and the settings file. Usage: installer/deb/build.sh DIST
# (VERSION from the environment; scripts/package sets it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
. scripts/lib.sh
need_go
need_packages dpkg-dev libpcsclite-dev gcc pkg-config
dist="$(mkdir -p "${1:?usage: build.sh DIST}" && cd "$1" && pwd)"
version="${VERSION:?VERSION is not set}"
# Debian sorts "~" before anything, so 1.2.0~dev comes before 1.2.0.
debversion="${version//-/\~}"
arch="$(dpkg --print-architecture)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
ldflags="-s -w -X github.com/cardbridge/cardbridge/version.Version=$version"
echo "== building cardbridge $version for Debian ($arch)"
# The agent talks to pcscd through libpcsclite (cgo); the port service and
# the supervisor need no C library and are built without it (smaller, fewer
# pages, a faster start).
go build -trimpath -ldflags "$ldflags" -o "$stage/usr/bin/cardbridge" ./cmd/cardbridge
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$stage/usr/bin/" ./cmd/cardbridge-portservice ./cmd/cardbridge-supervisor
go run ./tools/pkgfiles --out "$stage" >/dev/null

doc="$stage/usr/share/doc/cardbridge"
mkdir -p "$doc"
cp README.md "$doc/README.md"
cp NOTICE "$doc/NOTICE"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cardbridge
Source: https://github.com/cardbridge/cardbridge

Files: *
Copyright: The cardbridge authors
License: Apache-2.0
 On Debian systems the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0. The third-party Go modules built
 into the programs, with their licences, are listed in
 /usr/share/doc/cardbridge/NOTICE.
COPYRIGHT
printf 'cardbridge (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- cardbridge developers <cardbridge@users.noreply.github.com>  %s\n' \
  "$debversion" "$version" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" |
  gzip -9n >"$doc/changelog.gz"

mkdir -p "$stage/DEBIAN"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
sed -e "s/@VERSION@/$debversion/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/control.in" >"$stage/DEBIAN/control"
cp "$here/conffiles" "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  install -m 0755 "$here/$s" "$stage/DEBIAN/$s"
done
find "$stage" -type d -exec chmod 0755 {} +
out="$dist/cardbridge_${debversion}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "built $out"
