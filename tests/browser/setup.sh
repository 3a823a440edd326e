#!/usr/bin/env bash
# setup.sh installs what the browser tests (package tests/browser) need on
# Debian: Chromium, Node.js and npm, fonts, this directory's node_modules
# from package-lock.json, and web/node_modules (TypeScript, which checks the
# JavaScript client's types) from web/package-lock.json. It is idempotent:
# it installs only what is missing and runs npm ci only where node_modules
# is missing or older than package-lock.json. The project's test script
# runs it before setting CARDBRIDGE_TEST_BROWSER=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "setup.sh: need root to run: $*" >&2
		return 1
	fi
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
installed fonts-liberation || missing+=(fonts-liberation)
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! as_root apt-get install -y --no-install-recommends "${missing[@]}"; then
		as_root apt-get update -q
		as_root apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "setup.sh: playwright-core needs Node.js 20 or later; found $(node --version)" >&2
	exit 1
fi

# npm_ci DIR runs npm ci in DIR unless its node_modules is up to date.
npm_ci() {
	local stamp="$1/node_modules/.package-lock.json"
	if [ ! -f "$stamp" ] || [ "$1/package-lock.json" -nt "$stamp" ]; then
		echo "setup.sh: npm ci in $(cd "$1" && pwd)"
		(cd "$1" && npm ci --no-audit --no-fund)
		touch "$stamp"
	fi
}
npm_ci .
npm_ci ../../web
