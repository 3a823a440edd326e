#!/usr/bin/env bash
# Tests the .deb in a fresh Debian root booted with its own systemd
# (systemd-nspawn, private network): install enables and starts the port
# service under its hardened unit; a user's login (lingering user manager)
# starts the agent, which registers, reads a virtual card through the
# root's own pcscd and answers only its user; the agent and the service
# come back after being killed; an upgrade keeps every user's port; remove
# stops the service and keeps its state; purge deletes it. Then the same
# programs are installed by hand with `cardbridge-portservice install` and
# driven through install/status/stop/start/uninstall.
#
# Usage: installer/deb/test.sh DEB UPGRADE_DEB VCARD PINENTRY
#   DEB          the package under test
#   UPGRADE_DEB  the same package with a higher version
#   VCARD        a static build of tools/vcard (the virtual card)
#   PINENTRY     a static build of tools/fakepinentry (a desktop's pinentry)
# DEBIAN_MIRROR overrides the mirror debootstrap uses.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deb="$(realpath "${1:?usage: test.sh DEB UPGRADE_DEB VCARD PINENTRY}")"
upgrade="$(realpath "${2:?}")"
vcard="$(realpath "${3:?}")"
pinentry="$(realpath "${4:?}")"
. "$here/../../scripts/lib.sh"
need_packages debootstrap systemd-container

root="$(mktemp -d /var/tmp/cardbridge-debroot.XXXXXX)"
chmod 0755 "$root" # the root of the booted system: every user must reach /usr
trap 'rm -rf --one-file-system "$root"' EXIT
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
echo "== fresh Debian root (debootstrap bookworm, minbase) in $root"
# The package's dependencies come from the mirror now: the test itself runs
# without a network.
timeout 900 debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,libpam-systemd,libpcsclite1,pcscd,vsmartcard-vpcd,curl,procps \
  bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
  tail -20 "$root.debootstrap.log"; echo "debootstrap failed" >&2; exit 1; }
rm -f "$root.debootstrap.log"

mkdir -p "$root/cb"
cp "$deb" "$root/cb/cardbridge.deb"
cp "$upgrade" "$root/cb/cardbridge-upgrade.deb"
cp "$vcard" "$root/cb/vcard"
cp "$pinentry" "$root/cb/pinentry"
cp "$here/test-inside.sh" "$root/cb/test-inside.sh"
cat >"$root/etc/systemd/system/cardbridge-test.service" <<'UNIT'
[Unit]
Description=cardbridge package test
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/cb/test-inside.sh >/cb/result.log 2>&1; echo $? >/cb/rc; systemctl poweroff'
UNIT
ln -s /etc/systemd/system/cardbridge-test.service "$root/etc/systemd/system/multi-user.target.wants/cardbridge-test.service"

echo "== booting it (systemd-nspawn) and running the test inside"
timeout 600 systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --private-network \
  >"$root/cb/console.log" 2>&1 || true
cat "$root/cb/result.log" 2>/dev/null || { echo "the test did not run; console:"; tail -40 "$root/cb/console.log"; }
rc="$(cat "$root/cb/rc" 2>/dev/null || echo 1)"
if [ "$rc" != 0 ]; then
  echo "== package test FAILED (exit $rc)" >&2
  exit 1
fi
echo "== package test passed"
