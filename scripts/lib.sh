# Shared by cardbridge's scripts: root, Go on PATH, Debian packages.

# as_root re-runs the calling script as root (pcscd and its socket are root's).
as_root() {
  if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=PATH,GOPATH,GOCACHE,GOMODCACHE,FUZZTIME,BENCH_N "$0" "$@"
  fi
}

# need_go makes sure a Go toolchain is on PATH.
need_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "cardbridge needs Go 1.26 or later on PATH (https://go.dev/doc/install)." >&2
    exit 1
  fi
}

# need_packages installs the Debian packages named, if any is missing.
need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# PC/SC and the virtual readers the tests and the demo use.
PCSC_PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd gcc pkg-config)

# reserve_vpcd_ports reserves the virtual readers' fixed ports, the
# integration tests' 35963-35964 (tests/testbed.DefaultSlot) and the Wine
# lane's 35983-35984 (tests/winlane): they lie in Linux's ephemeral range,
# and a connection a test made from one of them (or its TIME_WAIT, up to
# 60 s after it closed) would keep vpcd from listening there. Reserved
# ports are never given to a connection; the reservation lasts until reboot.
reserve_vpcd_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur
  cur=$(cat "$f" 2>/dev/null || true)
  echo "${cur:+$cur,}35963-35964,35983-35984" 2>/dev/null >"$f" ||
    echo "warning: could not reserve the vpcd ports in $f; a connection may hold one when pcscd starts" >&2
}

# stop_system_pcscd stops a pcscd run by the init system, so that a private
# one can own /run/pcscd (systemd would otherwise restart it on demand).
stop_system_pcscd() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop pcscd.socket pcscd.service >/dev/null 2>&1 || true
  fi
}
