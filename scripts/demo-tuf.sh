#!/usr/bin/env bash
# make demo: the TUF client end to end on 127.0.0.1.
#
# Builds TUF repositories with the project's fixture generator (signed with
# libbulwark), serves them over HTTP on 127.0.0.1, provisions a client with
# a trusted root (no trust on first use), refreshes, downloads verified
# targets, then replays attacks a network or repository attacker could
# mount and shows each one refused. Exits non-zero naming the failing step.
set -uo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
CLIENT="$BUILD/bulwark-tuf-client"
GEN="$BUILD/tests/tuf_gen"
WORK=$(mktemp -d /tmp/bulwark-demo-XXXXXX)
SERVER_PID=""
STEP="setup"

cleanup() {
	[[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	return 0
}
fail() {
	echo
	echo "DEMO FAILED at step: $STEP"
	[[ $# -gt 0 ]] && echo "  $*"
	echo "  (work directory kept: $WORK)"
	cleanup
	exit 1
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

step() {
	STEP="$1"
	echo
	echo "== $1"
	[[ $# -gt 1 ]] && echo "   $2"
}

# Run the client; $1 = expected outcome (ok|fail), rest = arguments.
client() {
	local want=$1 out rc
	shift
	out=$("$CLIENT" "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^bulwark-tuf-client: /   | /'
	if [[ $want == ok && $rc -ne 0 ]]; then
		fail "the client refused something it should accept (exit $rc)"
	fi
	if [[ $want == fail && $rc -eq 0 ]]; then
		fail "the client ACCEPTED something it must refuse"
	fi
	[[ $want == fail ]] && echo "   -> refused, exit $rc: as it must be"
	return 0
}

[[ -x $CLIENT && -x $GEN ]] || fail "build first: $CLIENT or $GEN missing"
echo "bulwark demo: TUF client against repositories on 127.0.0.1"
echo "work directory: $WORK"

step "1. Build signed TUF repositories" \
	"tests/tools/tuf_gen writes valid and deliberately broken repositories"
"$GEN" "$WORK/repos" >"$WORK/gen.log" 2>&1 || fail "tuf_gen failed (see $WORK/gen.log)"
echo "   $(ls "$WORK/repos" | wc -l) repositories in $WORK/repos"

step "2. Serve them over HTTP on 127.0.0.1"
python3 -u - "$WORK/repos" >"$WORK/port" 2>"$WORK/http.log" <<'PY' &
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
SERVER_PID=$!
for _ in $(seq 50); do [[ -s $WORK/port ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
[[ -n $PORT ]] || fail "HTTP server did not start"
BASE="http://127.0.0.1:$PORT"
echo "   serving $BASE/"

R=valid-cs
META="$WORK/device/metadata"
TARGETS="$WORK/device/targets"
mkdir -p "$TARGETS"

step "3. Provision the device with its trusted root" \
	"no trust on first use: the root must be signed by its own threshold"
client ok --metadata-dir "$META" init "$WORK/repos/$R/initial_root.json"

step "4. Refresh: root chain, timestamp, snapshot, targets (TUF 5.3-5.6)" \
	"every signature threshold, version, hash, length and expiry checked"
client ok --metadata-dir "$META" --metadata-url "$BASE/$R/metadata/" refresh
echo "   trusted metadata now in $META:"
ls "$META" | sed 's/^/     /'

step "5. Download targets: length-bounded, every listed hash checked" \
	"consistent snapshots: files are fetched as <sha256>.<name>"
for t in hello.txt dir/sub/nested.bin "files/notes ü 日.txt"; do
	client ok --metadata-dir "$META" --metadata-url "$BASE/$R/metadata/" \
		--target-base-url "$BASE/$R/targets/" --target-dir "$TARGETS" \
		--target-name "$t" download
done
(cd "$TARGETS" && sha256sum -- * | sed 's/^/     /')

step "6. Root rotation: the device follows the chain 1 -> 2 -> 3" \
	"each new root signed by the old root's threshold AND its own"
M2="$WORK/device-rotation"
client ok --metadata-dir "$M2" init "$WORK/repos/root-rotation/initial_root.json"
client ok --metadata-dir "$M2" --metadata-url "$BASE/root-rotation/metadata/" refresh

attack() {
	local name=$1 what=$2 m="$WORK/attack-$1"
	step "$3. Attack: $what"
	client ok --metadata-dir "$m" init "$WORK/repos/$name/initial_root.json"
	if [[ -d $WORK/repos/$name/state1 ]]; then
		client ok --metadata-dir "$m" --metadata-url "$BASE/$name/state1/metadata/" refresh
		client fail --metadata-dir "$m" --metadata-url "$BASE/$name/state2/metadata/" refresh
	else
		# The target this scenario's expected.json says must fail.
		local t
		t=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["download"]; print([k for k,v in d.items() if v=="fail"][0])' \
			"$WORK/repos/$name/expected.json") || fail "bad scenario $name"
		mkdir -p "$m-t"
		client fail --metadata-dir "$m" --metadata-url "$BASE/$name/metadata/" \
			--target-base-url "$BASE/$name/targets/" --target-dir "$m-t" \
			--target-name "$t" download
	fi
}
attack target-hash-mismatch "a tampered target file (arbitrary software)" 7
attack rollback-timestamp "replayed older metadata (rollback)" 8
attack expired-timestamp "stale metadata (indefinite freeze)" 9
attack mix-and-match-targets "snapshot names targets v2, server sends v1 (mix-and-match)" 10
attack targets-threshold-unmet "one compromised key below a threshold of 2" 11
attack root-rotation-unsigned-by-old "a new root not signed by the old root keys" 12
attack oversize-timestamp "endless data (timestamp above its size cap)" 13

STEP="done"
echo
echo "== Summary"
echo "   verified and accepted: refresh, 3 targets, a 3-step root rotation"
echo "   refused: 7 attacks, each with the reason above"
echo "   everything ran on 127.0.0.1; work directory: $WORK"
cleanup
SERVER_PID=""
exit 0
