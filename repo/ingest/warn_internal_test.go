package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// The path is given to Warn beside the error: the error must not name it
// again ("cannot read P: read P: input/output error").
func TestWarnErrorNamesPathOnce(t *testing.T) {
	const p = "/data/file"
	pe := &fs.PathError{Op: "read", Path: p, Err: syscall.EIO}
	got := warnError(p, pe)
	if got.Error() != "read: input/output error" {
		t.Errorf("warnError = %q, want %q", got, "read: input/output error")
	}
	if !errors.Is(got, syscall.EIO) {
		t.Errorf("warnError lost the cause")
	}
	for in, want := range map[error]string{
		fmt.Errorf("read %s: %w", p, pe):                "read: input/output error",
		fmt.Errorf("open %s: %w", p, syscall.EACCES):    "open: permission denied",
		fmt.Errorf("chunk 3 of %s: %w", p, syscall.EIO): "chunk 3 of /data/file: input/output error",
		fmt.Errorf("xattr user.x: %w", syscall.ENOTSUP): "xattr user.x: operation not supported",
	} {
		if got := warnError(p, in); got.Error() != want {
			t.Errorf("warnError(%q) = %q, want %q", in, got, want)
		}
	}
	// Another path's error is left alone.
	if got := warnError("/other", pe); got != error(pe) {
		t.Errorf("warnError for another path = %q", got)
	}
}
