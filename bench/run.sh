#!/usr/bin/env bash
# Runs every benchmark of the build directory given as $1 (default build)
# and keeps each one's output in bench/results/<name>.md.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
mkdir -p bench/results
status=0
for b in "$build"/bench/bench_*; do
	[[ -x $b ]] || continue
	name=$(basename "$b")
	name=${name#bench_}
	echo "== $name"
	if ! "$b" | tee "bench/results/$name.md"; then
		echo "bench $name failed" >&2
		status=1
	fi
done
exit $status
