#!/usr/bin/env bash
# Installs the Debian packages bulwark needs to build, test and fuzz, and
# with --bench also what the benchmarks compare against (nginx: installing
# it on a Debian host with systemd also starts the system nginx on port
# 80, so only `make bench` asks for it). Idempotent: it only calls apt-get
# when a package is missing.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git ca-certificates
	libssl-dev openssl
	libjansson-dev
	libcurl4-openssl-dev curl
	libcmocka-dev
	libsqlite3-dev sqlite3
	libpq-dev postgresql
	libevent-dev
	libarchive-dev
	libinih-dev
	libp11-dev libengine-pkcs11-openssl
	softhsm2 opensc
	clang libclang-rt-14-dev
	python3 python3-cryptography
	faketime
	libubootenv-dev libubootenv-tool u-boot-tools grub-common
	device-tree-compiler libfdt-dev
	ovmf qemu-system-x86 qemu-system-arm u-boot-qemu
	efitools sbsigntool mtools dosfstools
	chromium
	golang-go golang-golang-x-mod-dev
)

if [[ ${1:-} == --bench ]]; then
	PACKAGES+=(nginx-light)
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# Node.js runs tuf-js, a second TUF implementation, in the interoperability
# tests; any node >= 18 with npm will do (Debian's, or one already there).
if ! command -v npm >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
	SUDO="sudo"
fi
if ((${#missing[@]} > 0)); then
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tuf-js from the npm registry, into a cache directory the tests look in
# (tests/integration/test_cli_repo.py). Best effort: without it the tuf-js
# test is skipped and says why.
TUFJS_VERSION=3.1.0
TUFJS_DIR=${BW_TUFJS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/tuf-js}
if [[ ! -f $TUFJS_DIR/node_modules/tuf-js/package.json ]] ||
	! grep -q "\"version\": \"$TUFJS_VERSION\"" "$TUFJS_DIR/node_modules/tuf-js/package.json"; then
	mkdir -p "$TUFJS_DIR"
	if ! (cd "$TUFJS_DIR" && timeout 300 npm install --silent --no-audit --no-fund \
		"tuf-js@$TUFJS_VERSION" >/dev/null 2>&1); then
		echo "install-deps: could not install tuf-js from the npm registry;" \
			"the tuf-js interoperability test will be skipped" >&2
	fi
fi
# playwright-core and axe-core for the fleet page's browser test
# (tests/integration/test_ui.py), pinned by tests/ui/package-lock.json;
# the browser is Debian's chromium (no browser download).
UI_DIR=$(cd "$(dirname "$0")/../tests/ui" && pwd)
if [[ ! -f $UI_DIR/node_modules/playwright-core/package.json ]] ||
	[[ $UI_DIR/package-lock.json -nt $UI_DIR/node_modules/.package-lock.json ]]; then
	if ! (cd "$UI_DIR" && timeout 300 npm ci --silent --no-audit --no-fund \
		>/dev/null 2>&1); then
		echo "install-deps: could not install the browser test's npm" \
			"packages (tests/ui)" >&2
	fi
fi
exit 0
