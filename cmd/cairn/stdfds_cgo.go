//go:build cgo

package main

/*
#include <fcntl.h>

// The Go runtime opens /dev/null on a standard descriptor that is closed
// when the process starts (cairn snapshots >&-), before any Go code runs,
// so that what cairn prints would vanish without an error, and what it
// reads would be empty. This constructor runs earlier, from the C
// start-up code, and notes which were closed. fcntl is a plain system
// call: nothing here allocates or depends on libc being set up further.
static int cairn_closed_fds;

__attribute__((constructor)) static void cairn_note_std_fds(void) {
	int fd;
	for (fd = 0; fd < 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1) {
			cairn_closed_fds |= 1 << fd;
		}
	}
}

static int cairn_fd_was_closed(int fd) { return (cairn_closed_fds >> fd) & 1; }
*/
import "C"

// stdoutClosedDetectable says whether this build can tell a standard
// descriptor closed at start from /dev/null (see stdoutClosedAtStart).
const stdoutClosedDetectable = true

// stdoutClosedAtStart reports whether cairn was started with its standard
// output closed.
func stdoutClosedAtStart() bool { return C.cairn_fd_was_closed(1) != 0 }

// stdinClosedAtStart reports whether cairn was started with its standard
// input closed.
func stdinClosedAtStart() bool { return C.cairn_fd_was_closed(0) != 0 }
