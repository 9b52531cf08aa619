#!/usr/bin/env bash
# Installs the Debian packages bulwark needs to build, test, fuzz and
# benchmark. Idempotent: it only calls apt-get when a package is missing.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git ca-certificates
	libssl-dev openssl
	libjansson-dev
	libcurl4-openssl-dev curl
	libcmocka-dev
	libsqlite3-dev sqlite3
	libevent-dev
	libarchive-dev
	libinih-dev
	libp11-dev libengine-pkcs11-openssl
	softhsm2 opensc
	clang libclang-rt-14-dev
	python3 python3-cryptography
	faketime
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
