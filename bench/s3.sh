#!/usr/bin/env bash
# bench/s3.sh: cairn into S3 on loopback against cairn into a local folder,
# on the corpus bench/run.sh generated (run that first, or set BENCH_CORPUS).
#
#   bench/s3.sh
#
# Starts the S3 server the tests use (versitygw with its POSIX backend,
# installed by backends/s3/s3test/install.sh into .tools/) on loopback, with
# its data on the same disk as the local repository and connections kept
# alive between requests as S3 services keep them (versitygw closes each
# after one answer unless given --keep-alive), and times for each
# target, alternating, BENCH_REPEAT times (median counts):
#   ingest    cairn ingest of the corpus into an empty repository
#   restore   cairn restore of that snapshot into an empty folder
# with the page cache dropped before each. Reports the S3/local throughput
# ratios (the target: at least 0.80 for both).
#
# Environment: BENCH_DIR (default /var/tmp/cairn-bench), BENCH_CORPUS
# (default $BENCH_DIR/corpus), BENCH_REPEAT (default 3), BENCH_CAIRN_BIN.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/cairn-bench}
CORPUS=${BENCH_CORPUS:-$BENCH_DIR/corpus}
BENCH_REPEAT=${BENCH_REPEAT:-3}
W=$BENCH_DIR/s3bench
LOGS=$W/logs

say() { printf '==> %s\n' "$*" >&2; }
die() { echo "bench/s3: $*" >&2; exit 2; }

[[ -d $CORPUS ]] || die "no corpus at $CORPUS: run bench/run.sh first"
rm -rf "$W" && mkdir -p "$LOGS" "$W/s3data"
CAIRN=${BENCH_CAIRN_BIN:-$W/cairn}
if [[ -z ${BENCH_CAIRN_BIN:-} ]]; then
	(cd "$ROOT" && go build -o "$CAIRN" ./cmd/cairn) || die "cairn does not build"
fi
sh "$ROOT/backends/s3/s3test/install.sh" || die "cannot install versitygw"
VGW=$ROOT/.tools/versitygw

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=cairnbench AWS_SECRET_ACCESS_KEY=cairnbench-secret AWS_DEFAULT_REGION=us-east-1
"$VGW" --port "127.0.0.1:$PORT" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
	--region us-east-1 --quiet --keep-alive posix "$W/s3data" >"$LOGS/versitygw.log" 2>&1 &
VGW_PID=$!
trap 'kill $VGW_PID 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT" && break; sleep 0.1; done

head -c 24 /dev/urandom | base64 >"$W/password"
export CAIRN_PASSWORD_FILE=$W/password

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

# run TARGET STEP N: one timed run; prints wall seconds.
run() {
	local target=$1 step=$2 n=$3 repo cache
	case $target in
	local) repo=$W/local-repo-$n ;;
	s3) repo=s3:http://127.0.0.1:$PORT/bench/run-$n ;;
	esac
	cache=$W/cache-$target-$n
	export CAIRN_REPOSITORY=$repo CAIRN_CACHE_DIR=$cache
	if [[ $step == ingest ]]; then
		"$CAIRN" init >"$LOGS/$target-init-$n.log" 2>&1 || die "$target init failed: $(tail -3 "$LOGS/$target-init-$n.log")"
		drop_caches
		/usr/bin/time -f %e -o "$LOGS/$target-$step-$n.time" "$CAIRN" ingest "$CORPUS" --host bench >"$LOGS/$target-$step-$n.log" 2>&1 ||
			die "$target ingest failed: $(tail -3 "$LOGS/$target-$step-$n.log")"
	else
		rm -rf "$W/restore" && mkdir -p "$W/restore"
		drop_caches
		/usr/bin/time -f %e -o "$LOGS/$target-$step-$n.time" "$CAIRN" restore latest --target "$W/restore" >"$LOGS/$target-$step-$n.log" 2>&1 ||
			die "$target restore failed: $(tail -3 "$LOGS/$target-$step-$n.log")"
		rm -rf "$W/restore"
	fi
	tail -n 1 "$LOGS/$target-$step-$n.time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A T
for step in ingest restore; do
	for n in $(seq "$BENCH_REPEAT"); do
		for target in local s3; do
			t=$(run "$target" "$step" "$n")
			say "$target $step #$n: $t s"
			T[$target-$step]+="$t "
		done
	done
done

bytes=$(du -sb "$CORPUS" | cut -f1)
echo
echo "## cairn into S3 (versitygw, loopback) against a local folder: $(awk -v b="$bytes" 'BEGIN { printf "%.0f MiB", b / 1048576 }') corpus, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "| step | local s | S3 s | local MiB/s | S3 MiB/s | S3/local throughput |"
echo "|---|---|---|---|---|---|"
for step in ingest restore; do
	l=$(echo "${T[local-$step]}" | tr ' ' '\n' | grep . | median)
	s=$(echo "${T[s3-$step]}" | tr ' ' '\n' | grep . | median)
	awk -v st="$step" -v l="$l" -v s="$s" -v b="$bytes" 'BEGIN {
		printf "| %s | %.2f | %.2f | %.0f | %.0f | %.2f |\n", st, l, s, b / 1048576 / l, b / 1048576 / s, l / s }'
done
