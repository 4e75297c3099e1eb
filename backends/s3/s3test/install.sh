#!/bin/sh
# Installs the S3 server the tests talk to, versitygw at a pinned version,
# into the module's .tools folder (or $TOOLS_DIR). Does nothing when that
# version is already there, so it is cheap to call before every test run.
# Needs the Go toolchain and the Go module proxy.
set -eu

VERSION=v1.8.0
MODULE=github.com/versity/versitygw
PACKAGE=$MODULE/cmd/versitygw

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tools=${TOOLS_DIR:-$root/.tools}
bin=$tools/versitygw
mkdir -p "$tools"

installed() {
	[ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*$MODULE[[:space:]]*$VERSION[[:space:]]"
}

installed && exit 0

# One installer at a time: test packages run in parallel.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$tools/.versitygw-install.lock"
	flock 9
	installed && exit 0
fi

echo "installing versitygw $VERSION into $tools" >&2
# Outside the module, so its go.mod and any -mod flag play no part.
cd "$tools"
GOBIN=$tools GOFLAGS=-buildvcs=false go install "$PACKAGE@$VERSION"
installed || { echo "versitygw $VERSION did not install into $tools" >&2; exit 1; }
