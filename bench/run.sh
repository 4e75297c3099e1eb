#!/usr/bin/env bash
# bench/run.sh: cairn against restic and borg on a generated corpus.
#
#   bench/run.sh                      # 2 GiB corpus in /var/tmp/cairn-bench
#   BENCH_SIZE=200MiB bench/run.sh    # quick run
#
# Environment:
#   BENCH_SIZE      corpus size (default 2GiB)
#   BENCH_DIR       work directory (default /var/tmp/cairn-bench)
#   BENCH_SEED      corpus seed (default 1)
#   BENCH_MUTATE_SEED  seed of the ~1% change (default 2)
#   BENCH_TOOLS     tools to run, among "cairn restic borg" (default: all)
#   BENCH_TIMEOUT   seconds allowed per command (default 7200)
#   BENCH_CAIRN_BIN use this cairn binary instead of building ./cmd/cairn
#   BENCH_WARM      memory touched and freed before each measured command
#                   (default 6GiB; 0 to skip; see bench/warmmem)
#
# See bench/README.md. Results: a markdown table on stdout and
# $BENCH_DIR/results.tsv. Exit status 1 if a restore did not match.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SIZE=${BENCH_SIZE:-2GiB}
BENCH_DIR=${BENCH_DIR:-/var/tmp/cairn-bench}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_MUTATE_SEED=${BENCH_MUTATE_SEED:-2}
BENCH_TOOLS=${BENCH_TOOLS:-cairn restic borg}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-7200}
# The first ingest, the unchanged re-ingest, the restore and the check run
# this many rounds, the tools taking turns in each, and each tool's median
# round is its result: this machine's
# kernel time drifts by seconds from one minute to the next, and turns
# spread the drift over the tools.
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
# This virtual machine hands memory left free for a few seconds back to its
# host, and the next program to use it waits while the host faults every
# page in again: the first restore after a minute of light work spent twice
# the system time of the next one. Before each measured command the script
# touches this much memory and frees it (bench/warmmem), so that no tool
# pays for the idle time before its turn.
BENCH_WARM=${BENCH_WARM:-6GiB}

WORK=$BENCH_DIR/bin
CORPUS=$BENCH_DIR/corpus
STAMP=$BENCH_DIR/corpus.stamp
PASSFILE=$BENCH_DIR/password
LOGS=$BENCH_DIR/logs
RESULTS=$BENCH_DIR/results.tsv
PHASES=(first-ingest unchanged-reingest ingest-after-mutate restore)

say() { printf '==> %s\n' "$*" >&2; }
loud() { printf '\n!!!!!!!! %s\n\n' "$*" >&2; }

# ---------------------------------------------------------------- setup

if [[ ! -x /usr/bin/time ]]; then
	say "installing GNU time"
	apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; } ||
		{ echo "bench: /usr/bin/time is missing and could not be installed" >&2; exit 2; }
fi

mkdir -p "$BENCH_DIR" "$WORK"
rm -rf "$LOGS" && mkdir -p "$LOGS"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
CORPUS=$BENCH_DIR/corpus

say "building bench tools"
(cd "$ROOT" && go build -o "$WORK/corpusgen" ./bench/corpusgen && go build -o "$WORK/mutate" ./bench/mutate &&
	go build -o "$WORK/treecmp" ./bench/treecmp && go build -o "$WORK/warmmem" ./bench/warmmem) || { echo "bench: cannot build bench tools" >&2; exit 2; }

CAIRN_BUILD_OK=0
CAIRN=$WORK/cairn
if [[ -n ${BENCH_CAIRN_BIN:-} ]]; then
	CAIRN=$(command -v "$BENCH_CAIRN_BIN") && CAIRN=$(realpath "$CAIRN") || { echo "bench: no binary $BENCH_CAIRN_BIN" >&2; exit 2; }
	CAIRN_BUILD_OK=1
	say "using cairn binary $CAIRN"
elif [[ " $BENCH_TOOLS " == *" cairn "* ]]; then
	say "building cairn"
	rm -f "$WORK/cairn"
	if (cd "$ROOT" && go build -o "$CAIRN" ./cmd/cairn) >"$LOGS/cairn-build.log" 2>&1; then
		CAIRN_BUILD_OK=1
	else
		loud "cairn does not build; its rows will say so (see $LOGS/cairn-build.log)"
		tail -n 20 "$LOGS/cairn-build.log" >&2
	fi
fi

TOOLS=()
for t in $BENCH_TOOLS; do
	case $t in
	cairn) TOOLS+=(cairn) ;;
	restic | borg)
		if command -v "$t" >/dev/null 2>&1; then TOOLS+=("$t"); else say "$t not on PATH: skipped"; fi
		;;
	*) echo "bench: unknown tool $t" >&2; exit 2 ;;
	esac
done

# The corpus is regenerated when missing, of another size or seed, made by
# another corpusgen, or mutated by an earlier run.
GEN_ID="size=$BENCH_SIZE seed=$BENCH_SEED gen=$(find "$ROOT/bench/corpusgen" -name '*.go' ! -name '*_test.go' | sort | xargs cat | sha256sum | cut -c1-16)"
if [[ ! -d $CORPUS || ! -f $STAMP || "$(cat "$STAMP")" != "$GEN_ID pristine" ]]; then
	say "generating corpus ($BENCH_SIZE) in $CORPUS"
	rm -rf "$CORPUS" "$STAMP"
	/usr/bin/time -f '%e' -o "$LOGS/corpusgen.time" "$WORK/corpusgen" -out "$CORPUS" -size "$BENCH_SIZE" -seed "$BENCH_SEED" ||
		{ echo "bench: corpusgen failed" >&2; exit 2; }
	echo "$GEN_ID pristine" >"$STAMP"
	say "corpus generated in $(cat "$LOGS/corpusgen.time") s"
else
	say "reusing corpus in $CORPUS ($GEN_ID)"
fi
CORPUS_BYTES=$(du -sb "$CORPUS" | cut -f1)
say "corpus: $CORPUS_BYTES bytes (apparent)"

# Same password for every tool.
[[ -s $PASSFILE ]] || head -c 24 /dev/urandom | base64 >"$PASSFILE"
chmod 600 "$PASSFILE"

for t in "${TOOLS[@]}"; do rm -rf "${BENCH_DIR:?}/$t"; mkdir -p "$BENCH_DIR/$t"; done

export CAIRN_REPOSITORY=$BENCH_DIR/cairn/repo
export CAIRN_PASSWORD_FILE=$PASSFILE
export CAIRN_CACHE_DIR=$BENCH_DIR/cairn/cache
export RESTIC_REPOSITORY=$BENCH_DIR/restic/repo
export RESTIC_PASSWORD_FILE=$PASSFILE
export RESTIC_CACHE_DIR=$BENCH_DIR/restic/cache
export BORG_REPO=$BENCH_DIR/borg/repo
BORG_PASSPHRASE=$(cat "$PASSFILE")
export BORG_PASSPHRASE
export BORG_BASE_DIR=$BENCH_DIR/borg/home # cache, config and security dirs
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_DISPLAY_PASSPHRASE=no

BORG_MAJOR=0
if [[ " ${TOOLS[*]} " == *" borg "* ]]; then
	BORG_VERSION=$(borg --version 2>/dev/null | awk '{print $2}')
	BORG_MAJOR=${BORG_VERSION%%.*}
	say "borg $BORG_VERSION"
fi
[[ " ${TOOLS[*]} " == *" restic "* ]] && say "$(restic version 2>/dev/null)"

printf 'tool\tphase\tstatus\twall_s\tuser_s\tsys_s\tcpu_s\tmaxrss_kib\trepo_bytes\tcorpus_bytes\tverify\n' >"$RESULTS"

# ---------------------------------------------------------------- measuring

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}

# host_counters: this machine's free page reporting passes and KiB reported
# (0 0 where the kernel has no such counters), and the CPU time spent idle
# waiting for I/O and stolen by the host, in clock ticks.
host_counters() {
	local p=/sys/module/page_reporting/parameters passes=0 kib=0
	[[ -r $p/passes ]] && passes=$(<"$p/passes")
	[[ -r $p/reported_kib ]] && kib=$(<"$p/reported_kib")
	echo "$passes $kib $(awk '/^cpu /{print $6, $9}' /proc/stat)"
}

# host_report BEFORE AFTER: what the host did during one measured command.
# A free page reporting pass stalls this virtual machine's disk reads for
# a few tenths of a second (bench/README.md), so the passes during a
# command and its I/O wait explain much of the spread between rounds.
host_report() {
	local a b
	read -ra a <<<"$1"
	read -ra b <<<"$2"
	local hz
	hz=$(getconf CLK_TCK)
	awk -v p=$((b[0] - a[0])) -v k=$((b[1] - a[1])) -v io=$((b[2] - a[2])) -v st=$((b[3] - a[3])) -v hz="$hz" \
		'BEGIN { printf "page reporting passes %d, reported %d MiB; I/O wait %.2f s, steal %.2f s (CPU-seconds, both cores)\n", p, k / 1024, io / hz, st / hz }'
}

repo_size() {
	local r=$BENCH_DIR/$1/repo
	if [[ -e $r ]]; then du -sb "$r" | cut -f1; else echo 0; fi
}

declare -A BROKEN # tool -> reason its later phases are skipped

record() { # tool phase status wall user sys rss repo verify
	local cpu
	cpu=$(awk -v u="$5" -v s="$6" 'BEGIN { if (u == "-" || s == "-") print "-"; else printf "%.2f", u + s }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$cpu" "$7" "$8" "$CORPUS_BYTES" "$9" >>"$RESULTS"
}

# measure TOOL PHASE DIR CMD...: run CMD in DIR with caches dropped and
# memory warmed, under /usr/bin/time and a timeout, and record one row.
# Returns the command's status.
measure() {
	local tool=$1 phase=$2 dir=$3
	shift 3
	local log=$LOGS/$tool-$phase.log tf=$LOGS/$tool-$phase.time
	if [[ -n ${BROKEN[$tool]:-} ]]; then
		record "$tool" "$phase" "skipped: ${BROKEN[$tool]}" - - - - "$(repo_size "$tool")" -
		return 1
	fi
	drop_caches
	[[ $BENCH_WARM != 0 ]] && "$WORK/warmmem" -size "$BENCH_WARM"
	say "$tool $phase: $*"
	local host0 host1
	host0=$(host_counters)
	(cd "$dir" && exec /usr/bin/time -f '%e %U %S %M' -o "$tf" timeout -k 30 "$BENCH_TIMEOUT" "$@" </dev/null >"$log" 2>&1)
	local rc=$?
	host1=$(host_counters)
	host_report "$host0" "$host1" >"$LOGS/$tool-$phase.host"
	local wall=- user=- sys=- rss=-
	if [[ -s $tf ]]; then read -r wall user sys rss < <(tail -n 1 "$tf"); fi
	local status=ok
	if ((rc != 0)); then
		status="FAIL rc=$rc"
		((rc == 124)) && status="TIMEOUT"
		loud "$tool $phase failed (exit $rc); last lines of $log:"
		tail -n 15 "$log" >&2
	fi
	record "$tool" "$phase" "$status" "$wall" "$user" "$sys" "$rss" "$(repo_size "$tool")" -
	return $rc
}

# ---------------------------------------------------------------- tools

# init TOOL [PHASE]: create the repository (recorded as phase PHASE, by
# default "init").
tool_init() {
	local ph=${2:-init}
	case $1 in
	cairn)
		if ((!CAIRN_BUILD_OK)); then
			BROKEN[cairn]="build failed"
			record cairn "$ph" "FAIL build" - - - - 0 -
			return
		fi
		measure cairn "$ph" "$BENCH_DIR" "$CAIRN" init || BROKEN[cairn]="init failed"
		;;
	restic)
		measure restic "$ph" "$BENCH_DIR" restic init --repository-version 2 || BROKEN[restic]="init failed"
		;;
	borg)
		if ((BORG_MAJOR >= 2)); then
			measure borg "$ph" "$BENCH_DIR" borg repo-create --encryption=repokey-blake2-chacha20-poly1305 || BROKEN[borg]="init failed"
		else
			measure borg "$ph" "$BENCH_DIR" borg init --encryption=repokey-blake2 || BROKEN[borg]="init failed"
		fi
		;;
	esac
}

# turns ROUND: the tools in the order they take their turns in ROUND: each
# goes first in one round (the first run after other work meets the
# slowest kernel).
turns() {
	local n=${#TOOLS[@]} i
	for ((i = 0; i < n; i++)); do printf '%s\n' "${TOOLS[(i + $1 - 1) % n]}"; done
}

# fresh TOOL: remove the tool's repository, cache and restores.
fresh() {
	rm -rf "${BENCH_DIR:?}/$1" && mkdir -p "$BENCH_DIR/$1"
}

# median PHASE: for each tool, a row PHASE that repeats its median round
# (rows PHASE#1, PHASE#2, ...) by wall time; a round that failed is the
# result instead.
median() {
	awk -F'\t' -v OFS='\t' -v ph="$1" '
	{ print }
	index($2, ph "#") == 1 {
		t = $1
		if (!(t in seen)) { seen[t] = 1; order[++tools] = t }
		if ($3 !~ /^ok/) { bad[t] = $0; next }
		n[t]++; row[t, n[t]] = $0; w[t, n[t]] = $4 + 0
	}
	END {
		for (t in n) {
			# a simple sort of the rounds by wall time
			for (i = 1; i <= n[t]; i++) for (j = i + 1; j <= n[t]; j++)
				if (w[t, j] < w[t, i]) { x = w[t, i]; w[t, i] = w[t, j]; w[t, j] = x; x = row[t, i]; row[t, i] = row[t, j]; row[t, j] = x }
		}
		for (o = 1; o <= tools; o++) {
			t = order[o]
			r = (t in bad) ? bad[t] : row[t, int((n[t] + 1) / 2)]
			split(r, f, "\t"); f[2] = ph; line = f[1]
			for (k = 2; k <= 11; k++) line = line OFS f[k]
			print line
		}
	}' "$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
}

# ingest TOOL PHASE N: snapshot number N of the corpus.
tool_ingest() {
	local tool=$1 phase=$2 n=$3
	case $tool in
	cairn) measure cairn "$phase" "$BENCH_DIR" "$CAIRN" ingest "$CORPUS" --host bench --source corpus ;;
	restic) measure restic "$phase" "$BENCH_DIR" restic backup --compression auto --host bench "$CORPUS" ;;
	borg)
		# zstd level 3 is what restic's "auto" uses; "auto," skips
		# compressing data that does not compress, as restic and cairn do.
		if ((BORG_MAJOR >= 2)); then
			measure borg "$phase" "$BENCH_DIR" borg create --compression auto,zstd,3 "corpus-$n" "$CORPUS"
		else
			measure borg "$phase" "$BENCH_DIR" borg create --compression auto,zstd,3 "::corpus-$n" "$CORPUS"
		fi
		;;
	esac
}

# restore TOOL [ROUND]: restore the latest snapshot into
# $BENCH_DIR/TOOL/restore (the round's own folder restore-ROUND when
# given, recorded as phase restore#ROUND).
tool_restore() {
	local tool=$1 target=$BENCH_DIR/$1/restore ph=restore
	if [[ -n ${2:-} ]]; then target=$BENCH_DIR/$1/restore-$2 ph=restore#$2; fi
	rm -rf "$target" && mkdir -p "$target"
	case $tool in
	cairn) measure cairn "$ph" "$BENCH_DIR" "$CAIRN" restore latest --target "$target" ;;
	restic)
		# --sparse exists from restic 0.15 on.
		local sparse=()
		restic restore --help 2>/dev/null | grep -q -- '--sparse' && sparse=(--sparse)
		measure restic "$ph" "$BENCH_DIR" restic restore latest "${sparse[@]}" --target "$target"
		;;
	borg)
		# borg extracts into the current directory.
		if ((BORG_MAJOR >= 2)); then
			measure borg "$ph" "$target" borg extract --sparse corpus-3
		else
			measure borg "$ph" "$target" borg extract --sparse ::corpus-3
		fi
		;;
	esac
}

# check TOOL ROUND: read the whole repository back and verify every blob
# (recorded as phase check-read-data#ROUND).
tool_check() {
	local tool=$1 ph=check-read-data#$2
	case $tool in
	cairn) measure cairn "$ph" "$BENCH_DIR" "$CAIRN" check --read-data ;;
	restic) measure restic "$ph" "$BENCH_DIR" restic check --read-data ;;
	borg) measure borg "$ph" "$BENCH_DIR" borg check --verify-data ;;
	esac
}

# verify TOOL [DIR]: compare the tree restored into DIR (by default
# $BENCH_DIR/TOOL/restore) with the corpus; sets the verify column of the
# tool's restore row.
FAILED_VERIFY=0
verify() {
	local tool=$1 target=${2:-$BENCH_DIR/$1/restore} got result
	# restic and borg restore the absolute path below the target; cairn
	# may restore the snapshot root itself.
	if [[ -d $target$CORPUS ]]; then got=$target$CORPUS; else got=$target; fi
	# Neither restic nor borg restores Unix sockets (borg does not even
	# store them); that is a note for them. cairn must restore everything.
	local known=()
	[[ $tool != cairn ]] && known=(-known-missing socket)
	if "$WORK/treecmp" "${known[@]}" "$CORPUS" "$got" >"$LOGS/$tool-verify.log" 2>&1; then
		result=ok
		if grep -q '^note' "$LOGS/$tool-verify.log"; then
			result="ok; notes: $(grep '^note' "$LOGS/$tool-verify.log" | sed -e 's/^note *//' -e 's/ (.*)$//' -e 's/"//g' | paste -sd ';' | sed 's/;/; /g')"
		fi
	else
		FAILED_VERIFY=1
		result="MISMATCH: $(tail -n 1 "$LOGS/$tool-verify.log" | sed 's/.*(\(.*\))$/\1/')"
		loud "$tool: RESTORE DOES NOT MATCH THE CORPUS ($got)"
		head -n 25 "$LOGS/$tool-verify.log" >&2
	fi
	say "$tool verify: $result"
	# Put the result into the restore row.
	awk -F'\t' -v OFS='\t' -v t="$tool" -v v="$result" '$1 == t && $2 == "restore" { $11 = v } { print }' "$RESULTS" >"$RESULTS.tmp" &&
		mv "$RESULTS.tmp" "$RESULTS"
}

# ---------------------------------------------------------------- phases

# Other work on the machine skews wall times; say so in the report.
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	loud "load average is $LOAD_START on $(nproc) cores: wall times will be noisy"
fi

for t in "${TOOLS[@]}"; do tool_init "$t"; done
# First ingest: BENCH_ROUNDS rounds, each into a new repository (the last
# round's is the one the later phases use).
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	for t in $(turns "$r"); do
		if ((r > 1)); then fresh "$t" && tool_init "$t" "init#$r"; fi
		tool_ingest "$t" "first-ingest#$r" 1
	done
done
median first-ingest
# Unchanged re-ingest: rounds too. It lasts a second or so, and one slow
# read of cold metadata doubled a single measurement.
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	for t in $(turns "$r"); do tool_ingest "$t" "unchanged-reingest#$r" "2-$r"; done
done
median unchanged-reingest

say "mutating the corpus"
echo "$GEN_ID mutated" >"$STAMP"
"$WORK/mutate" -dir "$CORPUS" -seed "$BENCH_MUTATE_SEED" 2>&1 | tee "$LOGS/mutate.log" >&2 ||
	{ echo "bench: mutate failed" >&2; exit 2; }

for t in "${TOOLS[@]}"; do tool_ingest "$t" ingest-after-mutate 3; done
# Restore: BENCH_ROUNDS rounds, each into a folder of its own. The trees
# stay until all rounds are done (BENCH_ROUNDS copies of the corpus per
# tool): removing one just before the next restore would make the
# filesystem pass over the freed inodes for every new file.
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	for t in $(turns "$r"); do tool_restore "$t" "$r"; done
done
median restore
for t in "${TOOLS[@]}"; do
	for ((r = 1; r < BENCH_ROUNDS; r++)); do rm -rf "${BENCH_DIR:?}/$t/restore-$r"; done
	if awk -F'\t' -v t="$t" '$1 == t && $2 == "restore" && $3 ~ /^ok/ { ok = 1 } END { exit !ok }' "$RESULTS"; then
		verify "$t" "$BENCH_DIR/$t/restore-$BENCH_ROUNDS"
	else
		awk -F'\t' -v OFS='\t' -v t="$t" '$1 == t && $2 == "restore" { $11 = "not restored" } { print }' "$RESULTS" >"$RESULTS.tmp" &&
			mv "$RESULTS.tmp" "$RESULTS"
	fi
done

# Reading everything back: BENCH_ROUNDS rounds, the tools taking turns.
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
	for t in $(turns "$r"); do tool_check "$t" "$r"; done
done
median check-read-data

# ---------------------------------------------------------------- report

echo
echo "## cairn benchmark: $(awk -v b="$CORPUS_BYTES" 'BEGIN { printf "%.0f MiB", b / 1048576 }') corpus, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $LOAD_START at start, $(cut -d' ' -f1 /proc/loadavg) at end"
echo
awk -F'\t' '
function num(x) { return x != "-" && x != "" }
function ratio(p, c) { return (num(p) && num(c) && c > 0) ? sprintf("%.2f", p / c) : "n/a" }
NR == 1 || $2 ~ /#/ { next } # rounds: their medians are the rows
{
	n++; tool[n] = $1; phase[n] = $2; status[n] = $3; wall[n] = $4; cpu[n] = $7
	rss[n] = $8; repo[n] = $9; corpus = $10; ver[n] = $11
	if ($1 == "cairn" && $3 ~ /^ok/) { cw[$2] = $4; cr[$2] = $8; cs[$2] = $9 }
}
END {
	print "| tool | phase | wall s | MiB/s | CPU s | peak RSS MiB | repo MiB | wall ×cairn | RSS ×cairn | repo ×cairn | status | verify |"
	print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|"
	for (i = 1; i <= n; i++) {
		ok = status[i] ~ /^ok/
		mibs = (ok && num(wall[i]) && wall[i] > 0 && phase[i] != "init") ? sprintf("%.0f", corpus / 1048576 / wall[i]) : "-"
		rm = num(rss[i]) ? sprintf("%.0f", rss[i] / 1024) : "-"
		rp = num(repo[i]) ? sprintf("%.1f", repo[i] / 1048576) : "-"
		w = ok ? ratio(wall[i], cw[phase[i]]) : "n/a"
		r = ok ? ratio(rss[i], cr[phase[i]]) : "n/a"
		s = ok ? ratio(repo[i], cs[phase[i]]) : "n/a"
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", tool[i], phase[i], wall[i], mibs, cpu[i], rm, rp, w, r, s, status[i], ver[i]
	}
}' "$RESULTS"
echo
echo "×cairn columns are peer/cairn: above 1 means the peer is slower, uses more memory or a bigger repository."
echo "MiB/s is corpus size / wall time. First ingest, unchanged re-ingest, restore and check: each tool's median of $BENCH_ROUNDS rounds, the tools taking turns."
echo "Raw results (every round too): $RESULTS; logs: $LOGS"
echo
echo "The host during each measured round (free page reporting passes stall this machine's disk; bench/README.md):"
for f in "$LOGS"/*.host; do
	[[ -e $f ]] || continue
	name=${f##*/}
	echo "  ${name%.host}: $(<"$f")"
done

if ((FAILED_VERIFY)); then
	loud "AT LEAST ONE RESTORE DID NOT MATCH THE CORPUS: see $LOGS/*-verify.log"
	exit 1
fi
