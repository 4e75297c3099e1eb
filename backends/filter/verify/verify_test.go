package verify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/filter/verify"
	"github.com/cairn-backup/cairn/backends/mem"
)

var fast = verify.Options{Delay: time.Microsecond}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return verify.New(mem.New(), fast) })
}

func TestConformanceWithChecksums(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return verify.New(&summing{Backend: mem.New()}, fast) })
}

// summing keeps SHA-256 checksums and can be told to damage saves: the
// first bad ones store a bit flipped, the first short ones a byte less.
type summing struct {
	backends.Backend
	mu         sync.Mutex
	bad, short int
	saves      int
}

func (s *summing) Sum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (s *summing) StatSum(ctx context.Context, name string) (backends.Info, string, error) {
	fi, err := s.Stat(ctx, name)
	if err != nil {
		return fi, "", err
	}
	data, err := s.Load(ctx, name, 0, -1)
	return fi, s.Sum(data), err
}

func (s *summing) Save(ctx context.Context, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	switch {
	case s.bad > 0 && len(data) > 0:
		s.bad--
		data = append([]byte{data[0] ^ 1}, data[1:]...)
	case s.short > 0 && len(data) > 0:
		s.short--
		data = data[1:]
	}
	return s.Backend.Save(ctx, name, data)
}

func TestRepairsDamagedWrites(t *testing.T) {
	for _, s := range []*summing{{Backend: mem.New(), bad: 2}, {Backend: mem.New(), short: 2}} {
		err := verify.New(s, fast).Save(t.Context(), "data/ab/x", []byte("content"))
		if err != nil {
			t.Fatalf("save: %v", err)
		}
		if s.saves != 3 {
			t.Errorf("%d saves, want 3", s.saves)
		}
		if got, _ := s.Load(t.Context(), "data/ab/x", 0, -1); string(got) != "content" {
			t.Errorf("stored %q", got)
		}
	}
}

func TestRepairsLostWrites(t *testing.T) {
	f := fault.New(mem.New(), fault.Options{LostWriteRate: 1})
	err := verify.New(f, fast).Save(t.Context(), "index/x", []byte("x"))
	if !errors.Is(err, verify.ErrMismatch) || f.Counts().LostWrites != verify.DefaultAttempts {
		t.Errorf("save into a black hole: %v after %d lost writes, want ErrMismatch after %d",
			err, f.Counts().LostWrites, verify.DefaultAttempts)
	}
	if backends.Permanent(err) {
		t.Errorf("a mismatch is permanent; a retry filter would not try again")
	}

	f.Set(fault.Options{Seed: 1, LostWriteRate: 0.5})
	v := verify.New(f, verify.Options{Attempts: 20, Delay: time.Microsecond})
	for _, name := range []string{"index/a", "index/b", "index/c", "index/d"} {
		if err := v.Save(t.Context(), name, []byte(name)); err != nil {
			t.Fatalf("save %s: %v", name, err)
		}
		if _, err := f.Unwrap().Stat(t.Context(), name); err != nil {
			t.Errorf("%s not stored: %v", name, err)
		}
	}
	if f.Counts().LostWrites == 0 {
		t.Errorf("no write was lost; the test tests nothing")
	}
}

func TestCreateStillExclusive(t *testing.T) {
	v := verify.New(mem.New(), fast)
	if err := v.Create(t.Context(), "config", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := v.Create(t.Context(), "config", []byte("b")); !errors.Is(err, backends.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
}
