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
# Benchmarks that drive the real programs from python (bench/<name>.py
# BUILD_DIR): they start their own servers on 127.0.0.1.
for b in bench/*.py; do
	[[ -f $b ]] || continue
	name=$(basename "$b" .py)
	echo "== $name"
	if ! python3 "$b" "$build" | tee "bench/results/$name.md"; then
		echo "bench $name failed" >&2
		status=1
	fi
done
# The gateway again on PostgreSQL, two gateway processes on one database
# (docs/benchmarks/scale.md); skipped without PostgreSQL.
if [[ -x $build/bench/bench_gateway ]] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	echo "== gateway_scale"
	if ! "$build/bench/bench_gateway" --postgres --gateways 2 --no-nginx |
		tee bench/results/gateway_scale.md; then
		echo "bench gateway_scale failed" >&2
		status=1
	fi
fi
# The gateway on every core: bulwarkd with two workers against nginx with
# two worker processes, same client, same run (docs/benchmarks/gateway.md).
if [[ -x $build/bench/bench_gateway ]]; then
	echo "== gateway_workers"
	if ! "$build/bench/bench_gateway" --workers 2 --threads 4 |
		tee bench/results/gateway_workers.md; then
		echo "bench gateway_workers failed" >&2
		status=1
	fi
fi
exit $status
