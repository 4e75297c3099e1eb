#!/usr/bin/env bash
# bench/mount.sh: reading through the mount, cairn against restic and borg,
# on the repositories and corpus that bench/run.sh left in $BENCH_DIR (run
# that first; its last snapshot is of the mutated corpus, which is what
# $BENCH_DIR/corpus holds afterwards).
#
#   bench/mount.sh
#
# For each tool: mount the repository, then with the page cache dropped
# before each step
#   read-random  cat of blobs/random.bin (300 MiB, incompressible)
#   read-image   cat of images/disk.img (300 MiB, sparse, mixed)
#   rsync        rsync -aHAX --numeric-ids of the whole snapshot to a fresh folder
# and the mount process's peak RSS over all of it. Baselines: cairn restore of
# the same 300 MiB file, and the same rsync from the corpus itself.
#
# Every step runs BENCH_REPEAT times (default 3) and the median counts: on
# a small VM, writing 2 GiB to the target disk alone varies by half.
#
# Environment: BENCH_DIR, BENCH_TOOLS (as bench/run.sh), BENCH_CAIRN_BIN,
# BENCH_REPEAT.
# Results: a markdown table on stdout and $BENCH_DIR/mount-results.tsv.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/cairn-bench}
BENCH_TOOLS=${BENCH_TOOLS:-cairn restic borg}
BENCH_REPEAT=${BENCH_REPEAT:-3}
CORPUS=$BENCH_DIR/corpus
PASSFILE=$BENCH_DIR/password
LOGS=$BENCH_DIR/logs
RESULTS=$BENCH_DIR/mount-results.tsv
MNT=$BENCH_DIR/mnt
OUT=$BENCH_DIR/mount-out

say() { printf '==> %s\n' "$*" >&2; }
die() { echo "bench/mount: $*" >&2; exit 2; }

[[ $(id -u) == 0 ]] || die "run as root (drop_caches, device nodes, owners)"
[[ -d $CORPUS && -s $PASSFILE ]] || die "no corpus or password in $BENCH_DIR: run bench/run.sh first"
mkdir -p "$LOGS"
CAIRN=${BENCH_CAIRN_BIN:-$BENCH_DIR/bin/cairn}
if [[ -z ${BENCH_CAIRN_BIN:-} ]]; then
	(cd "$ROOT" && go build -o "$CAIRN" ./cmd/cairn) || die "cairn does not build"
fi

export CAIRN_REPOSITORY=$BENCH_DIR/cairn/repo CAIRN_PASSWORD_FILE=$PASSFILE CAIRN_CACHE_DIR=$BENCH_DIR/cairn/cache
export RESTIC_REPOSITORY=$BENCH_DIR/restic/repo RESTIC_PASSWORD_FILE=$PASSFILE RESTIC_CACHE_DIR=$BENCH_DIR/restic/cache
export BORG_REPO=$BENCH_DIR/borg/repo BORG_BASE_DIR=$BENCH_DIR/borg/home
BORG_PASSPHRASE=$(cat "$PASSFILE")
export BORG_PASSPHRASE BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_DISPLAY_PASSPHRASE=no

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

printf 'tool\tstep\twall_s\tmaxrss_kib\n' >"$RESULTS"
FAILED=0
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# timed TOOL STEP CMD...: run CMD BENCH_REPEAT times, each with caches
# dropped (and, for rsync, an empty target), and record the median wall time.
timed() {
	local tool=$1 step=$2
	shift 2
	local times=() t0 t1
	for _ in $(seq "$BENCH_REPEAT"); do
		[[ $step == rsync || $step == restore-random ]] && { rm -rf "$OUT" && mkdir -p "$OUT"; }
		drop_caches
		say "$tool $step: $*"
		t0=$(date +%s.%N)
		"$@" >"$LOGS/mount-$tool-$step.log" 2>&1 || { say "$tool $step failed: $(tail -n 3 "$LOGS/mount-$tool-$step.log")"; record "$tool" "$step" FAIL -; return 1; }
		t1=$(date +%s.%N)
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
	done
	say "$tool $step: ${times[*]}"
	record "$tool" "$step" "$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" -
}

# peak RSS of a process and its children, in KiB
peak_rss() {
	local pid=$1 total=0 p
	for p in $pid $(pgrep -P "$pid"); do
		total=$((total + $(awk '/^VmHWM/ { print $2 }' /proc/"$p"/status 2>/dev/null || echo 0)))
	done
	echo $total
}

wait_mounted() {
	for _ in $(seq 600); do mountpoint -q "$MNT" && return 0; sleep 0.1; done
	return 1
}

# Baselines, without any mount.
timed source rsync rsync -aHAX --numeric-ids "$CORPUS/" "$OUT/"
timed cairn restore-random "$CAIRN" restore "latest:$CORPUS/blobs/random.bin" --target "$OUT"
rm -rf "$OUT"

for tool in $BENCH_TOOLS; do
	mkdir -p "$MNT"
	mountpoint -q "$MNT" && umount "$MNT"
	drop_caches
	case $tool in
	cairn)
		"$CAIRN" mount "$MNT" >"$LOGS/mount-cairn.log" 2>&1 &
		root=latest
		;;
	restic)
		command -v restic >/dev/null || continue
		restic mount "$MNT" >"$LOGS/mount-restic.log" 2>&1 &
		root=snapshots/latest$CORPUS
		;;
	borg)
		command -v borg >/dev/null || continue
		# -f: foreground, so the process stays ours to measure.
		borg mount -f "::corpus-3" "$MNT" >"$LOGS/mount-borg.log" 2>&1 &
		root=${CORPUS#/}
		;;
	esac
	pid=$!
	if ! wait_mounted; then
		say "$tool: mount failed: $(tail -n 3 "$LOGS/mount-$tool.log")"
		kill $pid 2>/dev/null
		continue
	fi
	for _ in $(seq 100); do [[ -e $MNT/$root/blobs ]] && break; sleep 0.2; done
	timed "$tool" read-random dd if="$MNT/$root/blobs/random.bin" of=/dev/null bs=1M
	timed "$tool" read-image dd if="$MNT/$root/images/disk.img" of=/dev/null bs=1M
	timed "$tool" rsync rsync -aHAX --numeric-ids "$MNT/$root/" "$OUT/"
	# What the mount shows, as rsync copied it, against the corpus: the
	# comparison run.sh makes after a restore. cairn's copy must equal it;
	# a peer's differences are what its mount does not show (sockets,
	# which neither peer restores, aside).
	known=()
	[[ $tool != cairn ]] && known=(-known-missing socket)
	if "$BENCH_DIR/bin/treecmp" "${known[@]}" "$CORPUS" "$OUT" >"$LOGS/mount-$tool-verify.log" 2>&1; then
		tree=equal
	else
		tree="differs ($(tail -n 1 "$LOGS/mount-$tool-verify.log" | sed 's/.*(\(.*\))$/\1/'))"
		[[ $tool == cairn ]] && FAILED=1
	fi
	say "$tool: the rsync copy out of the mount against the corpus: $tree"
	record "$tool" tree "$tree" -
	record "$tool" mount-rss - "$(peak_rss $pid)"
	umount "$MNT" || umount -l "$MNT"
	wait $pid 2>/dev/null
	rm -rf "$OUT"
done

# Report: wall seconds per step and tool, with ratios to cairn.
echo
echo "## cairn mount benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
echo
awk -F'\t' '
NR == 1 { next }
{ v[$1 "/" $2] = ($2 == "mount-rss") ? $4 : $3; tools[$1] = 1 }
function r(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2f", a / b) : "n/a" }
END {
	print "| step | cairn | restic | borg | restic ×cairn | borg ×cairn |"
	print "|---|---|---|---|---|---|"
	n = split("read-random read-image rsync", steps, " ")
	for (i = 1; i <= n; i++) {
		s = steps[i]; c = v["cairn/" s]; p = v["restic/" s]; b = v["borg/" s]
		printf "| %s (s) | %s | %s | %s | %s | %s |\n", s, c, p, b, r(p, c), r(b, c)
	}
	printf "| tree copied out, against the corpus | %s | %s | %s | | |\n", v["cairn/tree"], v["restic/tree"], v["borg/tree"]
	c = v["cairn/mount-rss"] / 1024; p = v["restic/mount-rss"] / 1024; b = v["borg/mount-rss"] / 1024
	printf "| mount peak RSS (MiB) | %.0f | %.0f | %.0f | %s | %s |\n", c, p, b, r(p, c), r(b, c)
	print ""
	printf "cairn restore of blobs/random.bin: %s s; cairn read through the mount / restore: %s\n", v["cairn/restore-random"], r(v["cairn/read-random"], v["cairn/restore-random"])
	printf "rsync from the corpus itself: %s s; cairn rsync out of the mount / from the source: %s\n", v["source/rsync"], r(v["cairn/rsync"], v["source/rsync"])
}' "$RESULTS"

if ((FAILED)); then
	echo "bench/mount: CAIRN'S MOUNTED TREE DOES NOT MATCH THE CORPUS: see $LOGS/mount-cairn-verify.log" >&2
	exit 1
fi
