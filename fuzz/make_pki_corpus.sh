#!/usr/bin/env bash
# Regenerates the seed corpora of fuzz_csr and fuzz_pki_state with the real
# openssl command and bulwark (build dir as $1, default build).
set -euo pipefail
build=$(realpath "${1:-build}")
cd "$(dirname "$0")/corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
u=0b4f3e2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/k.pem"
openssl ecparam -name secp384r1 -genkey -noout -out "$tmp/k3.pem"
req() { openssl req -new -key "$tmp/k.pem" "$@"; }
mkdir -p csr pki_state
req -subj "/CN=$u/OU=acme" -out csr/device.pem
req -subj "/CN=$u/OU=acme" -outform DER -out csr/device.der
req -subj "/CN=$u/OU=acme/businessCategory=production" -outform DER \
	-out csr/production.der
req -subj "/CN=$u/OU=acme" -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=keyCertSign,cRLSign -outform DER -out csr/ca-true.der
req -subj "/CN=gw/O=x" -addext extendedKeyUsage=serverAuth,clientAuth \
	-addext subjectAltName=DNS:gw -outform DER -out csr/server.der
openssl req -new -key "$tmp/k3.pem" -subj "/CN=$u/OU=acme" -outform DER \
	-out csr/p384.der
printf 'garbage' > csr/garbage.bin
"$build/bulwark" keys ca create "$tmp/pki" --factory acme --online-ca \
	--local-ca >/dev/null 2>&1
"$build/bulwark" keys ca sign "$tmp/pki" csr/device.pem -o "$tmp/d.pem"
"$build/bulwark" keys ca revoke-device "$tmp/pki" --cert "$tmp/d.pem" >/dev/null
"$build/bulwark" keys ca disable-device-ca "$tmp/pki" --ca online-ca >/dev/null
cp "$tmp/pki/state.json" pki_state/full.json
printf '{"version":1,"factory":"acme","crl_number":0,"device_cas":[],"revoked_devices":[],"issued_devices":[]}' > pki_state/empty.json
printf '{"version":1,"factory":"acme","crl_number":2,"device_cas":[{"base":"local-ca-x","kind":"local","serial":"1A","status":"disabled","reason":"certificateHold","since":3,"has_key":false}],"revoked_devices":[],"issued_devices":[]}' > pki_state/held.json
printf '{"version":1,"version":1}' > pki_state/dup.json
