#!/usr/bin/env bash
# make demo: bulwark's whole security architecture, end to end, on 127.0.0.1.
#
# A factory (TUF repository with an offline root key in a key archive and a
# second in a SoftHSM2 token; factory PKI with the factory CA in the
# token), a running bulwarkd, three devices each with its key generated in
# its own SoftHSM2 token, CI and production releases, a failed boot that
# falls back, CA disable and device revocation, a two-person root key
# rotation, the retirement of a factory's local device CA (its devices
# re-enrol over EST to the online CA, one of them killed mid-rotation),
# a UEFI boot image signed with an offline db key and released to
# production (a device refuses an unsigned one), and a summary from the
# admin API. Exits non-zero naming the
# failing step. Everything runs in a temporary directory it prints.
set -uo pipefail

BUILD=$(cd "${1:-build}" && pwd) || exit 1
BW="$BUILD/bulwark"
BWD="$BUILD/bulwarkd"
AGENT="$BUILD/bulwark-device"
W=$(mktemp -d /tmp/bulwark-demo-XXXXXX)
SERVER_PID=""
FLOOR_PID=""
STEP="setup"
HWID=demo-board

# ---- helpers -----------------------------------------------------------------

stop_server() {
	if [[ -n $FLOOR_PID ]]; then
		kill -TERM "$FLOOR_PID" 2>/dev/null
		wait "$FLOOR_PID" 2>/dev/null
		FLOOR_PID=""
	fi
	if [[ -n $SERVER_PID ]]; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=""
	fi
}
fail() {
	echo
	echo "DEMO FAILED at step: $STEP"
	[[ $# -gt 0 ]] && echo "  $*"
	echo "  server log: $W/server/bulwarkd.log; work directory kept: $W"
	stop_server
	exit 1
}
trap stop_server EXIT
trap 'fail "interrupted"' INT TERM

step() {
	STEP="$1"
	echo
	echo "== $1"
	shift
	for line in "$@"; do echo "   $line"; done
}
say() { echo "   $*"; }

# Run a command; $1 = expected exit code. Output indented.
expect() {
	local want=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[[ -n $out ]] && echo "$out" | sed 's/^/   | /'
	[[ $rc -eq $want ]] || fail "'$(basename "$1") ${2:-} ${3:-}' exited $rc, expected $want"
	return 0
}

# The admin API (bearer token sent from a 0600 header file, never argv).
admin() {
	local method=$1 path=$2
	shift 2
	curl -sS --fail-with-body --cacert "$W/pki/factory_ca.pem" \
		-H @"$W/server/admin.header" -X "$method" \
		"https://127.0.0.1:$ADMIN_PORT$path" "$@"
}

# Device agent for device $1.
dev() {
	local name=$1
	shift
	"$AGENT" "$@" --config "$W/devices/$name/device.ini"
}

# N free ports below the kernel's ephemeral range, so that no outgoing
# connection can take one before bulwarkd binds it.
free_ports() {
	python3 - "$1" <<'PY'
import random, socket, sys
socks, rng = [], random.SystemRandom()
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", rng.randrange(20000, 32000)))
        socks.append(s)
    except OSError:
        s.close()
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# A CI target entry from the workspace, as the admin API's add body.
ws_entry() {
	python3 - "$W/tuf/ci/targets.json" "$1" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["signed"]["targets"][sys.argv[2]]
print(json.dumps(dict(t, name=sys.argv[2])))
PY
}

# Publish a workspace CI target on the server: file + signed CI metadata.
publish_ci() {
	local name=$1 file=$2
	cp "$file" "$W/server/targets/$name" || fail "copy $name"
	expect 0 admin POST /repo/ci/targets/add --data-binary "$(ws_entry "$name")"
}

# A device certified on the factory floor by the local device CA (key file;
# it talks to the gateway with curl), with UUID $2 or a new one; its
# issuance is logged in the transparency log at once (--log-server).
# Prints nothing; files in $W/local/$1.
local_device() {
	local d="$W/local/$1" uuid=${2:-}
	mkdir -p "$d"
	[[ -n $uuid ]] || uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
	openssl ecparam -name prime256v1 -genkey -noout -out "$d/key.pem" 2>/dev/null &&
		chmod 600 "$d/key.pem" &&
		openssl req -new -key "$d/key.pem" -subj "/CN=$uuid/OU=demo" -out "$d/csr.pem" &&
		"$BW" keys ca sign "$W/pki" "$d/csr.pem" --device --issuer local-ca \
			--hsm-pin-file "$PIN" -o "$d/cert.pem" \
			--log-server "https://127.0.0.1:$ADMIN_PORT" \
			--token-file "$W/server/admin.token" >/dev/null 2>&1 &&
		cat "$d/cert.pem" "$W/pki/local-ca.pem" >"$d/chain.pem" || fail "local-CA device $1"
}

# HTTP status of GET /device with a local device's certificate (000: the
# TLS handshake was refused).
local_get() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$W/pki/factory_ca.pem" \
		--cert "$W/local/$1/chain.pem" --key "$W/local/$1/key.pem" \
		"https://127.0.0.1:$GW_PORT/device"
}

# A new SoftHSM2 token (the stand-in for a secure element or an HSM).
hsm_token() {
	softhsm2-util --init-token --free --label "$1" --pin 1234 --so-pin 5678 >/dev/null 2>&1 ||
		fail "could not create SoftHSM2 token $1"
	say "SoftHSM2 token '$1' created"
}

image() { # name size: deterministic bytes
	python3 -c 'import hashlib,sys; b=hashlib.sha256(sys.argv[1].encode()).digest()*4096; n=int(sys.argv[2]); sys.stdout.buffer.write((b*(n//len(b)+1))[:n])' "$1" "$2" >"$W/$1"
	echo "$W/$1"
}

for p in "$BW" "$BWD" "$AGENT"; do
	[[ -x $p ]] || fail "build first: $p missing"
done
for t in softhsm2-util curl python3; do
	command -v "$t" >/dev/null || fail "$t missing (scripts/install-deps.sh installs it)"
done

echo "bulwark demo: the whole architecture on 127.0.0.1"
echo "work directory: $W"

# Every token of the demo lives in one SoftHSM2 store under $W.
mkdir -p "$W/hsm/tokens" "$W/server/targets" "$W/devices"
export SOFTHSM2_CONF="$W/hsm/softhsm2.conf"
echo "directories.tokendir = $W/hsm/tokens" >"$SOFTHSM2_CONF"
umask 077
printf '1234\n' >"$W/pin"
umask 022
export BULWARK_REPO="$W/tuf"
PIN="$W/pin"

# ---- 1. the factory -------------------------------------------------------------

step "1. Create the factory" \
	"TUF repository: an offline root key in a key archive; a second root key" \
	"is generated inside an HSM token and the root threshold raised to 2 in a" \
	"two-person ceremony. Factory PKI: factory CA key inside the token."
hsm_token factory
expect 0 "$BW" factory init "$W/tuf" --name demo --root-keys 1 --prod-threshold 2
expect 0 "$BW" keys tuf updates init
expect 0 "$BW" keys tuf updates add-offline-key --role root --hsm-token factory --hsm-pin-file "$PIN"
expect 0 "$BW" keys tuf updates set-threshold --role root 2
HSM_ROOT=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([v["location"] for v in d["offline_keys"].values() if v["role"]=="root" and v["location"].startswith("pkcs11:")][0])' "$W/tuf/proposal.json") || fail "no HSM root key in the proposal"
say "admin A signs with the key archive, admin B with the HSM key:"
expect 0 "$BW" keys tuf updates sign --keys "$W/tuf/offline-keys/root-1.tar.gz"
expect 0 "$BW" keys tuf updates sign --keys "$HSM_ROOT" --hsm-pin-file "$PIN"
say "what both admins review before it is applied:"
expect 0 "$BW" keys tuf updates review
expect 0 "$BW" keys tuf updates apply
expect 0 "$BW" keys ca create "$W/pki" --factory demo --ip 127.0.0.1 --dns localhost \
	--online-ca --local-ca --hsm-token factory --hsm-pin-file "$PIN"
say "factory CA key: $(cat "$W/pki/factory_ca.uri")"

# ---- 2. the server --------------------------------------------------------------

step "2. Start bulwarkd (gateway, registration, EST, admin API) with SQLite"
read -r GW_PORT REG_PORT ADMIN_PORT EST_PORT FLOOR_PORT <<<"$(free_ports 5)"
umask 077
openssl rand -hex 32 >"$W/server/admin.token"
printf 'Authorization: Bearer %s\n' "$(cat "$W/server/admin.token")" >"$W/server/admin.header"
umask 022
say "the transparency log's key (Ed25519; verifiers need only the printed line):"
expect 0 "$BW" log key --generate --key "$W/server/log.pem" --name bulwark/demo --out "$W/log.vkey"
cat >"$W/server/bulwarkd.conf" <<CONF
[server]
database = $W/server/bulwarkd.db
pki_dir = $W/pki
[gateway]
listen = 127.0.0.1:$GW_PORT
targets_dir = $W/server/targets
policy_reload_interval = 2
[admin]
listen = 127.0.0.1:$ADMIN_PORT
token_file = $W/server/admin.token
[registration]
listen = 127.0.0.1:$REG_PORT
gateway_url = https://127.0.0.1:$GW_PORT
[est]
listen = 127.0.0.1:$EST_PORT
url = https://127.0.0.1:$EST_PORT
[waves]
# a demo's minutes are seconds: devices poll every second
poll_interval = 1
silence_polls = 10
evaluate_interval = 1
admit_per_minute = 1000
max_failure_ppm = 200000
[signing]
timestamp_key = $W/tuf/online/timestamp.pem
snapshot_key = $W/tuf/online/snapshot.pem
ci_targets_key = $W/tuf/online/targets.pem
[log]
key = $W/server/log.pem
origin = bulwark/demo
CONF
expect 0 "$BWD" --config "$W/server/bulwarkd.conf" --check-config
"$BWD" --config "$W/server/bulwarkd.conf" >"$W/server/bulwarkd.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
	admin GET /status >/dev/null 2>&1 && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "bulwarkd exited (see its log)"
	sleep 0.1
done
say "gateway https://127.0.0.1:$GW_PORT, registration :$REG_PORT, EST :$EST_PORT, admin :$ADMIN_PORT (pid $SERVER_PID)"
# The factory floor's registration service: the same database, the local
# device CA as its issuer (a site that certifies devices on its own).
cat >"$W/server/floor.conf" <<CONF
[server]
database = $W/server/bulwarkd.db
pki_dir = $W/pki
role = registration
[registration]
listen = 127.0.0.1:$FLOOR_PORT
ca_cert = $W/pki/local-ca.pem
ca_key = $W/pki/local-ca.key
gateway_url = https://127.0.0.1:$GW_PORT
CONF
"$BWD" --config "$W/server/floor.conf" >"$W/server/floor.log" 2>&1 &
FLOOR_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$FLOOR_PORT") 2>/dev/null && break
	kill -0 "$FLOOR_PID" 2>/dev/null || fail "the floor registration service exited (see $W/server/floor.log)"
	sleep 0.1
done
say "factory-floor registration service (local device CA) :$FLOOR_PORT (pid $FLOOR_PID)"
say "upload both flavours' roots (the server checks each like a TUF client):"
for flavour in ci prod; do
	api=$([[ $flavour == ci ]] && echo ci || echo production)
	for v in 1 2; do
		expect 0 admin PUT "/repo/$api/root" --data-binary @"$W/tuf/$flavour/root/$v.root.json"
	done
done

# ---- 3. devices -----------------------------------------------------------------

token() { # scope -> file holding a new registration token
	admin POST /tokens --data-binary "{\"scope\":\"$1\",\"expires-in\":3600}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' >"$W/$1.token" ||
		fail "token for $1"
	chmod 600 "$W/$1.token"
	echo "$W/$1.token"
}

register() { # name scope tag flavour [registration port]
	local name=$1 scope=$2 tag=$3 flavour=$4 d="$W/devices/$1"
	local port=${5:-$REG_PORT}
	mkdir -p "$d/slots"
	echo "factory image" >"$d/slots/slot-a.img"
	cat >"$d/device.ini" <<INI
[server]
url = https://127.0.0.1:$GW_PORT
[device]
state_dir = $d/state
hardware_id = $HWID
[update]
slot_a = $d/slots/slot-a.img
slot_b = $d/slots/slot-b.img
boot_attempts = 3
INI
	hsm_token "$name"
	expect 0 dev "$name" register --server "https://127.0.0.1:$port" \
		--token-file "$(token "$scope")" --ca-file "$W/pki/factory_ca.pem" \
		--hardware-id "$HWID" --tag "$tag" --name "$name" \
		--token-label "$name" --pin-file "$PIN"
	# No trust on first use: the factory's root v1 of the device's flavour.
	expect 0 dev "$name" provision --root "$W/tuf/$flavour/root/1.root.json"
}

step "3. Registration tokens; register three devices" \
	"each key is generated inside the device's own SoftHSM2 token and never" \
	"leaves it; the server, not the CSR, decides production (token scope)"
register ci-1 ci main ci
register ci-2 ci main ci
register prod-1 production production prod
for n in ci-1 ci-2 prod-1; do
	eval "UUID_${n//-/_}=$(sed -n 's/^uuid *= *//p' "$W/devices/$n/state/identity.ini" | head -1)"
done
say "two devices registered on the factory floor (local device CA, token keys):"
register floor-a ci main ci "$FLOOR_PORT"
register floor-b ci main ci "$FLOOR_PORT"
openssl x509 -in "$W/devices/floor-a/state/client.pem" -noout -issuer | sed 's/^/   | floor-a certificate: /'
say "and one device certified on the factory floor with a key file (curl as its client):"
local_device floor-1
st=$(local_get floor-1)
[[ $st == 200 ]] || fail "the local-CA device was refused (HTTP $st)"
say "floor-1 (local CA) first contact: HTTP $st, now a known device"
say "a device is its binding: the local CA certifies ci-1's UUID (bound to the online CA):"
local_device impostor "$UUID_ci_1"
st=$(local_get impostor)
[[ $st != 200 ]] || fail "another CA's certificate for a known UUID was served"
say "impostor with ci-1's UUID from another CA: refused (HTTP $st), ci-1's record unchanged"
grep "bound to device CA" "$W/server/bulwarkd.log" | tail -1 | sed 's/^/   | server log: /'
openssl x509 -in "$W/devices/prod-1/state/client.pem" -noout -subject | sed 's/^/   | prod-1 certificate: /'
openssl x509 -in "$W/devices/ci-1/state/client.pem" -noout -subject | sed 's/^/   | ci-1 certificate:   /'

# ---- 4. releases ----------------------------------------------------------------

step "4. Publish a CI target; promote it to production with the offline key" \
	"production targets need 2 signatures: the online key + the offline targets key"
IMG1=$(image demo-os-1.0.img 400000)
expect 0 "$BW" targets add "$IMG1" --name demo-os-1.0.img --version 1 --hardware-id "$HWID" --tag main
publish_ci demo-os-1.0.img "$IMG1"
expect 0 "$BW" targets promote --version 1 --tag production --keys "$W/tuf/offline-keys/targets-1.tar.gz"
expect 0 admin PUT /repo/production/targets/production --data-binary @"$W/tuf/prod/tags/production/targets.json"

# ---- 5. updates -----------------------------------------------------------------

update() { # name: check, pull, install, reboot, run, confirm
	local n=$1
	say "--- $n"
	expect 16 dev "$n" check
	expect 0 dev "$n" pull
	expect 100 dev "$n" install
	expect 0 dev "$n" boot
	expect 0 dev "$n" run
}
step "5. Every device checks, pulls, installs into its inactive slot, reboots, confirms" \
	"over mutual TLS with its token key; each device follows the root chain 1 -> 2"
update ci-1
update ci-2
update prod-1
cmp -s "$IMG1" "$W/devices/ci-1/slots/slot-b.img" || fail "ci-1's slot B is not the image"
say "ci-1's slot B holds exactly demo-os-1.0.img"
root_versions() {
	for n in ci-1 ci-2 prod-1; do
		printf '%s: root v%s  ' "$n" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' "$W/devices/$n/state/metadata/root.json")"
	done
}
say "trusted roots (provisioned with v1): $(root_versions)"

# ---- 6. a failed boot -------------------------------------------------------------

step "6. A broken CI release: its boot fails 3 times, the device falls back" \
	"and reports the rollback; the failed version is not picked again"
IMG2=$(image demo-os-2.0-broken.img 300000)
expect 0 "$BW" targets add "$IMG2" --name demo-os-2.0-broken.img --version 2 --hardware-id "$HWID" --tag main
publish_ci demo-os-2.0-broken.img "$IMG2"
expect 16 dev ci-1 check
expect 0 dev ci-1 pull
expect 100 dev ci-1 install
for i in 1 2 3; do
	say "boot attempt $i of the new slot: it never reaches 'run' (kernel panic)"
	expect 0 dev ci-1 boot
done
say "the boot counter is exhausted: the bootloader falls back"
expect 0 dev ci-1 boot
expect 110 dev ci-1 run
expect 0 dev ci-1 check

# ---- 7. disable and revoke --------------------------------------------------------

step "7. Disable the local device CA, then revoke device ci-2" \
	"CRLs signed in the HSM; the gateway re-reads the PKI directory (SIGHUP)"
local_device floor-2
expect 0 "$BW" keys ca disable-device-ca "$W/pki" --ca-file "$W/pki/local-ca.pem" --hsm-pin-file "$PIN"
kill -HUP "$SERVER_PID"
sleep 1
st=$(local_get floor-2)
[[ $st != 200 ]] || fail "a new device from the disabled CA was served"
say "floor-2, new, from the disabled local CA: refused (HTTP $st)"
st=$(local_get floor-1)
[[ $st == 200 ]] || fail "a known device of the disabled CA was refused (HTTP $st)"
say "floor-1, already known, from the same CA: HTTP $st, keeps working"
expect 0 "$BW" keys ca revoke-device "$W/pki" --cert "$W/devices/ci-2/state/client.pem" --hsm-pin-file "$PIN"
kill -HUP "$SERVER_PID"
sleep 1
say "ci-2 is refused by the gateway:"
out=$(dev ci-2 check 2>&1)
rc=$?
echo "$out" | sed 's/^/   | /'
[[ $rc -ne 0 && $rc -ne 16 ]] || fail "the revoked device was served (exit $rc)"
grep "refused device" "$W/server/bulwarkd.log" | tail -2 | sed 's/^/   | server log: /'
say "the others keep working:"
expect 0 dev ci-1 check
expect 0 dev prod-1 check

# ---- 8. root key rotation -------------------------------------------------------

step "8. Rotate the archive root key in a two-person ceremony" \
	"root v3 is signed by 2 of the old keys and 2 of the new; devices follow"
OLD_ID=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([k for k,v in d["offline_keys"].items() if v["role"]=="root" and v["location"].endswith(".tar.gz")][0])' "$W/tuf/factory.json") || fail "no archive root key"
expect 0 "$BW" keys tuf updates init
expect 0 "$BW" keys tuf updates rotate-offline-key --role root --key-id "$OLD_ID" --out "$W/root-new.tar.gz"
expect 0 "$BW" keys tuf updates sign --keys "$W/tuf/offline-keys/root-1.tar.gz" --keys "$W/root-new.tar.gz"
expect 0 "$BW" keys tuf updates sign --keys "$HSM_ROOT" --hsm-pin-file "$PIN"
expect 0 "$BW" keys tuf updates apply
expect 0 admin PUT /repo/ci/root --data-binary @"$W/tuf/ci/root/3.root.json"
expect 0 admin PUT /repo/production/root --data-binary @"$W/tuf/prod/root/3.root.json"
IMG3=$(image demo-os-3.0.img 350000)
expect 0 "$BW" targets add "$IMG3" --name demo-os-3.0.img --version 3 --hardware-id "$HWID" --tag main
publish_ci demo-os-3.0.img "$IMG3"
update ci-1
expect 0 dev prod-1 check
say "trusted roots now: $(root_versions) (ci-2 is revoked and stays behind)"

# ---- 9. retiring the local device CA ----------------------------------------------

step "9. Retire the (disabled) local device CA: its devices re-enrol over EST" \
	"to the online CA, one of them killed mid-rotation; then the CA is revoked" \
	"and every device keeps updating"
expect 0 "$BW" devices rotate-cert --ca local-ca --server "https://127.0.0.1:$ADMIN_PORT" \
	--token-file "$W/server/admin.token" --ca-file "$W/pki/factory_ca.pem"
say "floor-a's daemon sees est.rotate and re-enrols (new key in its token):"
expect 0 dev floor-a rotate-cert --if-due
say "floor-b loses power in the middle of its rotation (killed after its 5th durable write):"
BW_DEVICE_CRASH_AFTER_WRITES=5 dev floor-b rotate-cert >"$W/floor-b-crash.log" 2>&1
rc=$?
sed 's/^/   | /' "$W/floor-b-crash.log"
[[ $rc -eq 137 ]] || fail "floor-b was not killed mid-rotation (exit $rc)"
say "floor-b still checks in with the identity it has, then finishes the rotation:"
expect 16 dev floor-b check
expect 0 dev floor-b rotate-cert
say "floor-1 re-enrols with curl and openssl as its EST client:"
F="$W/local/floor-1"
cp "$F/chain.pem" "$F/old-chain.pem"
cp "$F/key.pem" "$F/old-key.pem"
openssl ecparam -name prime256v1 -genkey -noout -out "$F/key2.pem" 2>/dev/null && chmod 600 "$F/key2.pem" &&
	openssl req -new -key "$F/key2.pem" -subj "$(openssl x509 -in "$F/cert.pem" -noout -subject -nameopt compat | sed 's/^subject=//')" \
		-outform DER | base64 >"$F/csr.b64" || fail "floor-1 CSR"
st=$(curl -s -o "$F/new.p7" -w '%{http_code}' --cacert "$W/pki/factory_ca.pem" \
	--cert "$F/chain.pem" --key "$F/key.pem" -H 'Content-Type: application/pkcs10' \
	--data-binary @"$F/csr.b64" "https://127.0.0.1:$EST_PORT/.well-known/est/simplereenroll")
[[ $st == 200 ]] || fail "floor-1 simplereenroll: HTTP $st"
base64 -d "$F/new.p7" | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
	sed -n '/BEGIN/,/END/p' >"$F/cert.pem" || fail "floor-1 PKCS#7"
cat "$F/cert.pem" "$W/pki/online-ca.pem" >"$F/chain.pem"
mv "$F/key2.pem" "$F/key.pem"
st=$(local_get floor-1)
[[ $st == 200 ]] || fail "floor-1 with its new certificate: HTTP $st"
say "floor-1 with its new certificate: HTTP $st (the rotation completes on first use)"
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$W/pki/factory_ca.pem" \
	--cert "$F/old-chain.pem" --key "$F/old-key.pem" "https://127.0.0.1:$GW_PORT/device")
[[ $st != 200 ]] || fail "floor-1's replaced certificate still works"
say "floor-1's replaced certificate: refused (HTTP $st)"
for n in floor-a floor-b; do
	openssl x509 -in "$(sed -n 's/^cert_file *= *//p' "$W/devices/$n/state/identity.ini")" \
		-noout -issuer | sed "s/^/   | $n certificate now: /"
	grep -q "CN *= *online-ca" <(openssl x509 -in "$(sed -n 's/^cert_file *= *//p' "$W/devices/$n/state/identity.ini")" -noout -issuer) ||
		fail "$n did not move to the online CA"
done
say "rotations the operator sees:"
"$BW" devices rotations --state completed --server "https://127.0.0.1:$ADMIN_PORT" \
	--token-file "$W/server/admin.token" --ca-file "$W/pki/factory_ca.pem" |
	python3 -c 'import json,sys; [print("   | %s %s -> %s (%s)" % (r["uuid"], r["old-fingerprint"][:12], r["new-fingerprint"][:12], r["issuer"])) for r in json.load(sys.stdin)]'
N=$(admin GET "/rotations?state=completed" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $N -eq 3 ]] || fail "expected 3 completed rotations, got $N"
say "revoke the local CA now that every device of it has moved:"
expect 0 "$BW" keys ca revoke-device-ca "$W/pki" --ca local-ca --reason superseded --hsm-pin-file "$PIN"
kill -HUP "$SERVER_PID"
sleep 1
say "every device of the retired CA keeps updating:"
update floor-a
update floor-b
st=$(local_get floor-1)
[[ $st == 200 ]] || fail "floor-1 after the revocation: HTTP $st"
say "floor-1: HTTP $st"
# the floor's registration service is not needed any more
kill -TERM "$FLOOR_PID" 2>/dev/null
wait "$FLOOR_PID" 2>/dev/null
FLOOR_PID=""

# ---- 9b. waves --------------------------------------------------------------------

WAVE_SRV=(--server "https://127.0.0.1:$ADMIN_PORT" --token-file "$W/server/admin.token"
	--ca-file "$W/pki/factory_ca.pem")
fleet() { python3 "$(dirname "$0")/demo-fleet.py" "$@"; }

step "9b. Waves: production releases in steps that the offline keys bound" \
	"40 simulated production devices of tag 'fleet' (real certificates from the" \
	"online device CA) poll GET /wave, check their cohort and report like the agent"
expect 0 fleet enroll "$W/fleet" 40 "$W/pki" "$PIN" "$BW"
IMG4=$(image fleet-os-40.img 300000)
expect 0 "$BW" targets add "$IMG4" --name fleet-os-40.img --version 40 --hardware-id "$HWID" --tag fleet
publish_ci fleet-os-40.img "$IMG4"
say "the charter: 50% of the devices first for 3 s, then everyone; signed like"
say "production targets (online key + offline targets key):"
expect 0 "$BW" waves init --name good-40 --tag fleet --version 40 --hardware-id "$HWID" \
	--step 50%:3s --step 100%:0 --expires-days 7 --keys "$W/tuf/offline-keys/targets-1.tar.gz"
expect 0 "$BW" waves show --name good-40
expect 0 "$BW" waves push --name good-40 "${WAVE_SRV[@]}"
say "the fleet installs the good release; the server opens step 1 by itself:"
expect 0 fleet run "$W/fleet" "$GW_PORT" "$W/pki/factory_ca.pem" fleet-os-40.img 0 60 \
	"$ADMIN_PORT" "$W/server/admin.token"
expect 0 "$BW" waves status --name good-40 "${WAVE_SRV[@]}"
admin GET /waves/good-40 | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["step"] == 1 and s["state"] == "running" else 1)' ||
	fail "the good wave did not advance to step 1"
say "the release engineers make it the production release, then close the wave:"
expect 0 "$BW" targets promote --version 40 --tag fleet --keys "$W/tuf/offline-keys/targets-1.tar.gz"
expect 0 admin PUT /repo/production/targets/fleet --data-binary @"$W/tuf/prod/tags/fleet/targets.json"
expect 0 "$BW" waves complete --name good-40 "${WAVE_SRV[@]}"

IMG5=$(image fleet-os-50-bad.img 300000)
expect 0 "$BW" targets add "$IMG5" --name fleet-os-50-bad.img --version 50 --hardware-id "$HWID" --tag fleet
publish_ci fleet-os-50-bad.img "$IMG5"
expect 0 "$BW" waves init --name bad-50 --tag fleet --version 50 --hardware-id "$HWID" \
	--step 50%:1h --step 100%:0 --expires-days 7 --keys "$W/tuf/offline-keys/targets-1.tar.gz"
expect 0 "$BW" waves push --name bad-50 "${WAVE_SRV[@]}"
say "a bad release: most installations fail; nobody presses a button:"
expect 0 fleet run "$W/fleet" "$GW_PORT" "$W/pki/factory_ca.pem" fleet-os-50-bad.img 0.8 60 \
	"$ADMIN_PORT" "$W/server/admin.token"
expect 0 "$BW" waves status --name bad-50 "${WAVE_SRV[@]}"
admin GET /waves/bad-50 | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["state"] == "halted" and s["step"] == 0 else 1)' ||
	fail "the bad wave did not halt itself in step 0"
say "halted: the wave is served to nobody; devices keep the production release"

# ---- 10. signed boot artifacts ------------------------------------------------------

step "10. Secure Boot: a boot image signed with the offline UEFI db key, released to production" \
	"two people: the targets-key holder approves the image's bytes, the boot-key holder" \
	"signs it (db key archive); the production metadata records its hash and secure_version;" \
	"prod-1 checks the image against its db certificate and refuses an unsigned one"
HELLO=/usr/lib/efitools/x86_64-linux-gnu/HelloWorld.efi
[[ -f $HELLO ]] || fail "efitools missing (scripts/install-deps.sh installs it)"
expect 0 "$BW" keys boot create "$W/boot-keys" --factory demo
printf '[boot]\nuefi_db = %s\n' "$W/boot-keys/db.crt" >>"$W/devices/prod-1/device.ini"
boot_release() { # image name version: a CI target naming its boot artifact, promoted
	local f=$1 name=$2 v=$3
	local custom
	custom=$(printf '{"boot":{"secure_version":%d,"artifacts":[{"format":"uefi","offset":0,"length":%d,"sha256":"%s"}]}}' \
		"$v" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)")
	expect 0 "$BW" targets add "$f" --name "$name" --version "$v" --hardware-id "$HWID" --tag boot-lab --custom "$custom"
	publish_ci "$name" "$f"
	expect 0 "$BW" targets promote --version "$v" --tag production --keys "$W/tuf/offline-keys/targets-1.tar.gz"
	expect 0 admin PUT /repo/production/targets/production --data-binary @"$W/tuf/prod/tags/production/targets.json"
}
say "person 2, targets-key holder: approves exactly these bytes for signing (production threshold)"
expect 0 "$BW" sign request --name bootx64-4 --format uefi "$HELLO" --keys "$W/tuf/offline-keys/targets-1.tar.gz"
say "person 1, boot-key holder: signs the approved image with the db key (sbverify agrees)"
expect 0 "$BW" sign boot --format uefi --production bootx64-4 --key "$W/boot-keys/db.keys.tar.gz" --cert "$W/boot-keys/db.crt" "$HELLO" "$W/bootx64-4.efi"
if command -v sbverify >/dev/null; then
	expect 0 sbverify --cert "$W/boot-keys/db.crt" "$W/bootx64-4.efi"
fi
say "person 2, targets-key holder: releases it to production (online key + offline targets key)"
boot_release "$W/bootx64-4.efi" bootx64-4.efi 4
update prod-1
say "prod-1 runs the signed image; its boot counter is now: $(dev prod-1 status | sed -n 's/^boot firmware: //p')"
say "an unsigned image, even one released through the same ceremony, is refused on the device:"
cp "$HELLO" "$W/bootx64-5.efi"
boot_release "$W/bootx64-5.efi" bootx64-5.efi 5
expect 16 dev prod-1 check
expect 22 dev prod-1 pull
expect 40 dev prod-1 run
say "prod-1 still runs: $(dev prod-1 status | sed -n 's/^current: //p')"

# ---- 11. summary -----------------------------------------------------------------

step "11. Devices, versions and events from the admin API"
for n in ci-1 ci-2 prod-1 floor-a floor-b; do dev "$n" send-events >/dev/null 2>&1; done
admin GET /devices >"$W/devices.json" || fail "GET /devices"
admin GET "/events?limit=1000" >"$W/events.json" || fail "GET /events"
python3 - "$W/devices.json" "$W/events.json" <<'PY'
import collections, json, sys
devices = json.load(open(sys.argv[1]))
events = json.load(open(sys.argv[2]))
count = collections.Counter()
for e in events:
    ev = e.get("event", {})
    typ = ev.get("eventType", {}).get("id", "?")
    ok = ev.get("event", {}).get("success")
    if typ == "EcuInstallationCompleted":
        typ += " ok" if ok in (True, "true") else " FAILED"
    count[(e.get("device"), typ)] += 1
print("   %-8s %-36s %-10s %-24s %s" % ("name", "uuid", "flavour", "current target", "denied"))
fleet = [d for d in devices if not d.get("name")]
devices = [d for d in devices if d.get("name")]
for d in devices:
    print("   %-8s %-36s %-10s %-24s %s" % (d.get("name"), d.get("uuid"),
          "production" if d.get("production") else "ci",
          d.get("target") or "-", d.get("denied", False)))
print("   (and %d devices without a name: floor-1 and the waves step's simulated fleet)" % len(fleet))
print()
print("   events:")
named = {d.get("uuid"): d.get("name") for d in devices}
for (dev, typ), n in sorted(count.items()):
    if dev in named:
        print("   %-8s %-32s %d" % (named[dev], typ, n))
PY
# ---- the fleet page ------------------------------------------------------------

step "The fleet page (bulwarkd serves it on the admin listener)"
VIEWER_TOKEN=$(admin POST /accounts --data-binary \
	'{"role":"viewer","expires-in":86400,"comment":"demo viewer"}' |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
	fail "POST /accounts"
printf '%s\n' "$VIEWER_TOKEN" >"$W/server/viewer.token"
chmod 600 "$W/server/viewer.token"
# sign in the way a browser does: the nonce cookie, then the token
JAR="$W/ui.cookies"
NONCE=$(curl -sS --cacert "$W/pki/factory_ca.pem" -c "$JAR" \
	"https://127.0.0.1:$ADMIN_PORT/ui/login" |
	sed -n 's/.*name="nonce" value="\([0-9a-f]*\)".*/\1/p')
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$W/pki/factory_ca.pem" \
	-b "$JAR" -c "$JAR" --data-urlencode "nonce=$NONCE" \
	--data-urlencode "token@$W/server/viewer.token" \
	"https://127.0.0.1:$ADMIN_PORT/ui/login")
[[ $code == 303 ]] || fail "fleet page sign-in answered $code"
rows=$(curl -sS --cacert "$W/pki/factory_ca.pem" -b "$JAR" \
	"https://127.0.0.1:$ADMIN_PORT/ui/fleet" | grep -c '<tr><td>' || true)
say "a viewer account signed in; the fleet view lists $rows device(s)"
say "open https://127.0.0.1:$ADMIN_PORT/ui/ (CA: $W/pki/factory_ca.pem)"
say "sign in with the admin token ($W/server/admin.token) or the viewer's ($W/server/viewer.token)"
rm -f "$JAR"

# ---- 11. the transparency log ---------------------------------------------------

step "11. The transparency log: every decision above, verified with the log key alone" \
	"a deny, an allow and a token revocation first, so every kind of entry is there"
logcli() { "$BW" log "$@" --server "https://127.0.0.1:$ADMIN_PORT" --token-file "$W/server/admin.token" \
	--ca-file "$W/pki/factory_ca.pem" --log-key "$W/log.vkey"; }
expect 0 admin POST "/devices/$UUID_ci_2/deny" --data-binary '{"reason":"revoked in step 7"}'
expect 0 admin DELETE "/devices/$UUID_ci_2/deny"
expect 0 admin POST "/devices/$UUID_ci_2/deny" --data-binary '{"reason":"revoked in step 7"}'
expect 0 admin DELETE /tokens/1
expect 0 logcli show
say "a witness (here: a second operator's offline key) co-signs what it saw:"
expect 0 logcli verify --save "$W/log.checkpoint"
expect 0 "$BW" log key --generate --key "$W/witness.pem" --name witness/demo --out "$W/witness.vkey"
expect 0 "$BW" log cosign --checkpoint "$W/log.checkpoint" --log-key "$W/log.vkey" \
	--key "$W/witness.pem" --name witness/demo --out "$W/log.witnessed"
sed 's/^/   | /' "$W/log.witnessed"
say "the whole log, against the witnessed checkpoint:"
expect 0 logcli verify --checkpoint "$W/log.witnessed" --witness-key "$W/witness.vkey" --witnesses 1

if [[ -n ${BW_DEMO_KEEP:-} ]]; then
	trap - EXIT
	echo
	echo "== Done; bulwarkd keeps running (pid $SERVER_PID) so you can use the"
	echo "   fleet page: https://127.0.0.1:$ADMIN_PORT/ui/   Stop it with: kill $SERVER_PID"
	exit 0
fi
if [[ -n ${BW_DEMO_KEEP_RUNNING:-} ]]; then
	# For tests/integration/test_system.py: leave bulwarkd running and
	# say where everything is.
	cat >"$BW_DEMO_KEEP_RUNNING" <<ENV
{"work": "$W", "gateway_port": $GW_PORT, "admin_port": $ADMIN_PORT,
 "registration_port": $REG_PORT, "server_pid": $SERVER_PID,
 "softhsm2_conf": "$SOFTHSM2_CONF", "pin": "$PIN",
 "est_port": $EST_PORT,
 "uuids": {"ci-1": "$UUID_ci_1", "ci-2": "$UUID_ci_2", "prod-1": "$UUID_prod_1"}}
ENV
	trap - EXIT
	echo
	echo "== Done; bulwarkd left running (pid $SERVER_PID) for the caller."
	exit 0
fi
STEP="stop"
stop_server
echo
echo "== Done: every step verified; bulwarkd stopped cleanly."
echo "   work directory: $W"
exit 0
