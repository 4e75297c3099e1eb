package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"testing"
	"time"
)

// cancelableStdin passes the data through unchanged.
func TestCancelableStdinData(t *testing.T) {
	data := make([]byte, 3*stdinBufSize+12345)
	rand.New(rand.NewSource(1)).Read(data)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() {
		for b := data; len(b) > 0; {
			n := min(len(b), 1000+rand.Intn(100000))
			pw.Write(b[:n])
			b = b[n:]
		}
		pw.Close()
	}()
	got, err := io.ReadAll(cancelableStdin(t.Context(), pr))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(data))
	}
}

// A Read blocked on a pipe that stays open returns at once when the
// context ends (Ctrl-C during ingest --stdin).
func TestCancelableStdinInterrupt(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	pw.Write([]byte("first"))
	ctx, cancel := context.WithCancel(t.Context())
	r := cancelableStdin(ctx, pr)
	buf := make([]byte, 100)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "first" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("read after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after cancel")
	}
}
