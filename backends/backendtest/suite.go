// Package backendtest is the conformance suite that every backend and every
// filter passes. A backend's test hands Run a constructor:
//
//	func TestBackend(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend {
//			return mem.New()
//		})
//	}
//
// Each subtest gets a new, empty backend and closes it when done. The suite
// runs goroutines against one backend, so run it with -race.
package backendtest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// Run runs the conformance suite as subtests of t. newBackend returns an
// empty backend; it may register cleanups with its t.
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backends.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoadRange", testLoadRange},
		{"NotFound", testNotFound},
		{"InvalidName", testInvalidName},
		{"Stat", testStat},
		{"Remove", testRemove},
		{"NestedNames", testNestedNames},
		{"NoAliasing", testNoAliasing},
		{"CanceledContext", testCanceledContext},
		{"SaveReplaces", testSaveReplaces},
		{"Create", testCreate},
		{"CreateRace", testCreateRace},
		{"List", testList},
		{"ListStops", testListStops},
		{"ListDuringSaves", testListDuringSaves},
		{"Concurrent", testConcurrent},
		{"Large", testLarge},
		{"LoadInto", testLoadInto},
		{"FileSaver", testFileSaver},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("close %s: %v", b.Location(), err)
				}
			})
			tc.fn(t, b)
		})
	}
}

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	key[2], key[3] = byte(seed>>16), byte(seed>>24)
	buf := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(buf)
	return buf
}

func save(t *testing.T, b backends.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Save(t.Context(), name, data); err != nil {
		t.Fatalf("save %s: %v", name, err)
	}
}

func load(t *testing.T, b backends.Backend, name string, offset, length int64) []byte {
	t.Helper()
	data, err := b.Load(t.Context(), name, offset, length)
	if err != nil {
		t.Fatalf("load %s [%d,%d]: %v", name, offset, length, err)
	}
	return data
}

// mustEqual fails t if object name does not hold exactly want.
func mustEqual(t *testing.T, b backends.Backend, name string, want []byte) {
	t.Helper()
	got := load(t, b, name, 0, -1)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes (%.16x...), want %d bytes (%.16x...)", name, len(got), got, len(want), want)
	}
}

// mustFail fails t unless err wraps want.
func mustFail(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// listAll returns the name and size of every object under prefix, failing
// t on a name listed twice.
func listAll(t *testing.T, b backends.Backend, prefix string) map[string]int64 {
	t.Helper()
	got := make(map[string]int64)
	err := b.List(t.Context(), prefix, func(fi backends.Info) error {
		if _, dup := got[fi.Name]; dup {
			t.Errorf("list %q: %s reported twice", prefix, fi.Name)
		}
		got[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return got
}
