#!/usr/bin/env bash
# bench/browse.sh: what the restore browser waits for, on a repository of
# 1,000 snapshots of a 100,000-file tree.
#
#   bench/browse.sh            (or: make bench-browse)
#
# The repository is generated once, by a Go test helper that writes trees
# and snapshot objects directly (1,000 real ingests would take hours):
# /bench/data holds 10 x 100 folders of 100 files, 5 random files change
# between consecutive snapshots and /bench/data/g03/d042/needle.txt every
# 100th; one more snapshot (source "flat") holds /flat/big, a single folder
# of 100,000 entries. See repo/search/bench_test.go.
#
# Then, with the cairn binary (each run opens the repository, as a user
# would):
#   (a) snapshots    list the 1,001 snapshots (first with an empty local
#                    cache, then warm)          target < 1 s
#   (b) ls-flat      list the 100,000-entry folder    target < 0.5 s
#   (c) find         one file name across the 1,000 snapshots  target < 3 s
#       versions     the distinct versions of that file
#       diff         the first snapshot against the last
# and the Go benchmarks of the same operations in the library, without
# process start and repository opening.
#
# Environment: BENCH_BROWSE_DIR (default /var/tmp/cairn-bench-browse),
# BENCH_CAIRN_BIN (default bin/cairn), BENCH_REPEAT (default 3; the median
# counts).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_BROWSE_DIR:-/var/tmp/cairn-bench-browse}
BIN=${BENCH_CAIRN_BIN:-$ROOT/bin/cairn}
REPEAT=${BENCH_REPEAT:-3}
REPO=$DIR/repo

say() { printf '==> %s\n' "$*" >&2; }
[[ -x $BIN ]] || { echo "bench/browse: no $BIN (make build)" >&2; exit 2; }
mkdir -p "$DIR"

if [[ ! -f $REPO/config ]]; then
	rm -rf "$REPO" "$REPO.cache"
	say "generating $REPO"
	(cd "$ROOT" && CAIRN_BENCH_BROWSE_REPO=$REPO go test ./repo/search -run '^TestGenerateBrowseRepo$' -count=1 -v | grep -E 'generated|FAIL|ok')
fi

export CAIRN_REPOSITORY=$REPO CAIRN_PASSWORD="correct horse battery staple" CAIRN_CACHE_DIR=$DIR/cache
unset CAIRN_PASSWORD_FILE CAIRN_PASSWORD_COMMAND

# seconds NAME CMD...: run CMD (output discarded), print wall seconds.
seconds() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

# median of REPEAT runs of CMD...
median() {
	local i ts=()
	for ((i = 0; i < REPEAT; i++)); do ts+=("$(seconds "$@")"); done
	printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p"
}

rm -rf "$DIR/cache"
cold=$(seconds "$BIN" snapshots)
count=$("$BIN" snapshots --json | grep -o '"short_id"' | wc -l)
first=$("$BIN" snapshots --source tree --json | grep -o '"short_id":"[0-9a-f]*"' | sed -n 1p | cut -d'"' -f4)

declare -A target=([snapshots]=1 [ls-flat]=0.5 [find]=3)
results=()
row() { results+=("$1|$2|$3|${target[$1]:-}"); }
row snapshots-cold "$cold" "$count snapshots, empty local cache"
row snapshots "$(median "$BIN" snapshots)" "$count snapshots"
row ls-flat "$(median "$BIN" ls --no-recurse --source flat latest:/flat/big)" "$("$BIN" ls --no-recurse --source flat latest:/flat/big | wc -l) lines"
row find "$(median "$BIN" find --source tree needle.txt)" "$("$BIN" find --source tree needle.txt | grep -c '^  ') hits"
row versions "$(median "$BIN" versions --source tree /bench/data/g03/d042/needle.txt)" "$("$BIN" versions --json --source tree /bench/data/g03/d042/needle.txt | wc -l) versions"
row diff "$(median "$BIN" diff "$first" latest --source tree)" "$("$BIN" diff "$first" latest --source tree | grep -c '^[-+MTU] ') changes"

echo
echo "## cairn binary (median of $REPEAT, wall seconds, including opening the repository)"
echo
echo "| operation | seconds | target | what |"
echo "|---|---:|---:|---|"
for r in "${results[@]}"; do
	IFS='|' read -r name secs what tgt <<<"$r"
	echo "| $name | $secs | ${tgt:+< $tgt} | $what |"
done

echo
echo "## library (go test -bench Browse)"
echo
(cd "$ROOT" && CAIRN_BENCH_BROWSE_REPO=$REPO go test ./repo/search -run '^$' -bench Browse -benchtime "${REPEAT}x" -count=1 |
	awk '/^Benchmark/ { printf "%-32s %10.3f s/op\n", $1, $3 / 1e9 }')
