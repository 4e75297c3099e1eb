package ingest

import (
	"io"
	"strings"
	"syscall"
	"testing"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A file whose stat says 0 bytes is read to its end, but a pseudo-file
// that never ends fails after zeroSizeMax bytes instead of being read for
// hours.
func TestEndlessStopsAtTheBound(t *testing.T) {
	n, err := io.Copy(io.Discard, &endless{r: zeros{}, left: zeroSizeMax})
	if err == nil || !strings.Contains(err.Error(), "does not end") {
		t.Fatalf("reading an endless file: %v", err)
	}
	if n != zeroSizeMax {
		t.Fatalf("read %d bytes before stopping, want %d", n, zeroSizeMax)
	}
	n, err = io.Copy(io.Discard, &endless{r: strings.NewReader("boot id\n"), left: zeroSizeMax})
	if err != nil || n != 8 {
		t.Fatalf("a short pseudo-file: %d bytes, %v", n, err)
	}
}

// A file of exactly zeroSizeMax bytes is read whole: it ends at the bound,
// it does not go past it.
func TestEndlessAtTheBoundEnds(t *testing.T) {
	n, err := io.Copy(io.Discard, &endless{r: io.LimitReader(zeros{}, zeroSizeMax), left: zeroSizeMax})
	if err != nil || n != zeroSizeMax {
		t.Fatalf("a file of exactly the bound: %d bytes, %v", n, err)
	}
}

type eagain struct{}

func (eagain) Read([]byte) (int, error) { return 0, syscall.EAGAIN }

// A file whose stat says 0 bytes and that has nothing to give without
// waiting (/proc/kmsg, read with O_NONBLOCK) is left out with an error
// that says so: it was the bare "read: resource temporarily unavailable",
// which reads as a passing failure that trying again would mend.
func TestEndlessWaitingSaysWhy(t *testing.T) {
	_, err := io.Copy(io.Discard, &endless{r: eagain{}, left: zeroSizeMax})
	if err == nil || !strings.Contains(err.Error(), "waits for data") {
		t.Fatalf("reading a pseudo-file that waits: %v", err)
	}
}
