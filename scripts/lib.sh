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

# stop_system_pcscd stops a pcscd run by the init system, so that a private
# one can own /run/pcscd (systemd would otherwise restart it on demand).
stop_system_pcscd() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl stop pcscd.socket pcscd.service >/dev/null 2>&1 || true
  fi
}
