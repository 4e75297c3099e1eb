//go:build cgo

package main

/*
#include <fcntl.h>

// The Go runtime opens /dev/null on a standard descriptor that is closed
// when the process starts (cairn snapshots >&-), before any Go code runs,
// so that what cairn prints would vanish without an error. This
// constructor runs earlier, from the C start-up code, and notes it.
static int cairn_stdout_closed;

__attribute__((constructor)) static void cairn_note_stdout(void) {
	cairn_stdout_closed = fcntl(1, F_GETFD) == -1;
}

static int cairn_stdout_was_closed(void) { return cairn_stdout_closed; }
*/
import "C"

// stdoutClosedDetectable says whether this build can tell a standard
// output closed at start from /dev/null (see stdoutClosedAtStart).
const stdoutClosedDetectable = true

// stdoutClosedAtStart reports whether cairn was started with its standard
// output closed.
func stdoutClosedAtStart() bool { return C.cairn_stdout_was_closed() != 0 }
