#!/bin/sh
# Fuzz every target for $FUZZTIME (default 30s) each, one after another.
# Called by `make fuzz`. Usage: fuzz/run.sh [target-regexp]
# Crashers are written to <package>/testdata/fuzz/<Target>/; the script goes
# on with the other targets and exits non-zero if any target failed.
set -u
cd "$(dirname "$0")/.."

T=${FUZZTIME:-30s}
only=${1:-}

# package:target. Most targets live in ./fuzz; FuzzObjectPlaintext needs
# package repo's unexported sealing, and FuzzAgainstReference (BLAKE3
# against another implementation) is internal to the repository library.
targets="
./fuzz:FuzzPackReadHeader
./fuzz:FuzzPackDecodeHeader
./fuzz:FuzzPackVerify
./fuzz:FuzzBlobOpen
./fuzz:FuzzBlobSeal
./fuzz:FuzzBlobDecompress
./fuzz:FuzzTreeDecode
./fuzz:FuzzTreeDecodeNode
./fuzz:FuzzSegmentDecode
./fuzz:FuzzMarkDecode
./fuzz:FuzzConfig
./fuzz:FuzzKeyFile
./fuzz:FuzzSnapshotJSON
./fuzz:FuzzLockJSON
./fuzz:FuzzStoredObject
./repo:FuzzObjectPlaintext
./repo/internal/b3:FuzzAgainstReference
"

# Every Fuzz function in ./fuzz must be listed above.
for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' fuzz/*_test.go | sed 's/^func //'); do
	case "$targets" in
	*":$f
"*) ;;
	*) echo "fuzz/run.sh: $f is not listed in targets" >&2; exit 2 ;;
	esac
done

failed=""
for t in $targets; do
	pkg=${t%%:*}
	name=${t#*:}
	if [ -n "$only" ] && ! echo "$name" | grep -Eq -- "$only"; then
		continue
	fi
	echo "=== $name ($pkg, $T)"
	if ! go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$T"; then
		failed="$failed $name"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed" >&2
	exit 1
fi
echo "fuzz: all targets passed"
