package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPasswordFileFromPipe: a password file that is a named pipe, whose
// writer keeps it open after the password's line (a secret store's
// helper, `<(pass show backup; sleep 60)`), gives the line at once; cairn
// waited for the writer to close it.
func TestPasswordFileFromPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		w.WriteString("s3cret\nmore\n")
		<-release
	}()
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		b, err := readPasswordFile(fifo)
		got <- result{b, err}
	}()
	select {
	case r := <-got:
		if r.err != nil || string(firstLine(r.b)) != "s3cret" {
			t.Fatalf("read %q, %v; want the line s3cret", r.b, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the password file was not read before its writer closed it")
	}
}
