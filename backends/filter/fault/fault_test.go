package fault_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return fault.New(mem.New(), fault.Options{Seed: 1}) })
}

// errorPattern returns which of n Stats failed.
func errorPattern(t *testing.T, f *fault.Backend, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		_, err := f.Stat(t.Context(), "config")
		out[i] = errors.Is(err, fault.ErrInjected)
	}
	return out
}

func TestErrorRateIsSeeded(t *testing.T) {
	m := mem.New()
	m.Save(t.Context(), "config", nil)
	opts := fault.Options{Seed: 42, ErrorRate: 0.3}
	a := errorPattern(t, fault.New(m, opts), 200)
	b := errorPattern(t, fault.New(m, opts), 200)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("one seed, two patterns")
	}
	failed := 0
	for _, f := range a {
		if f {
			failed++
		}
	}
	if failed < 30 || failed > 90 {
		t.Errorf("%d of 200 calls failed at rate 0.3", failed)
	}
	opts.Seed = 43
	if c := errorPattern(t, fault.New(m, opts), 200); fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("two seeds, one pattern")
	}
}

func TestLostWritesAndLateErrors(t *testing.T) {
	m := mem.New()
	f := fault.New(m, fault.Options{LostWriteRate: 1})
	if err := f.Save(t.Context(), "index/x", []byte("x")); err != nil {
		t.Fatalf("lost save reports %v", err)
	}
	if _, err := m.Stat(t.Context(), "index/x"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("a lost write was stored: %v", err)
	}
	f.Set(fault.Options{LateErrorRate: 1})
	if err := f.Save(t.Context(), "index/x", []byte("x")); !errors.Is(err, fault.ErrInjected) {
		t.Fatalf("late error: %v", err)
	}
	if _, err := m.Stat(t.Context(), "index/x"); err != nil {
		t.Errorf("a write failing late was not stored: %v", err)
	}
	if c := f.Counts(); c.LostWrites != 1 || c.LateErrors != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestDamagedReads(t *testing.T) {
	m := mem.New()
	data := bytes.Repeat([]byte{0x55}, 100)
	m.Save(t.Context(), "data/ab/x", data)

	f := fault.New(m, fault.Options{TruncateRate: 1})
	got, err := f.Load(t.Context(), "data/ab/x", 0, -1)
	if err != nil || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
		t.Errorf("truncated load: %d bytes, %v", len(got), err)
	}
	if err := f.LoadInto(t.Context(), "data/ab/x", 0, make([]byte, 10)); !errors.Is(err, fault.ErrInjected) {
		t.Errorf("truncated LoadInto: %v", err)
	}

	f.Set(fault.Options{FlipRate: 1})
	got, err = f.Load(t.Context(), "data/ab/x", 0, -1)
	diff := 0
	for i := range got {
		for b := got[i] ^ data[i]; b != 0; b &= b - 1 {
			diff++
		}
	}
	if err != nil || len(got) != len(data) || diff != 1 {
		t.Errorf("flipped load: %d bytes, %d bits differ, %v", len(got), diff, err)
	}
	if again, _ := m.Load(t.Context(), "data/ab/x", 0, -1); !bytes.Equal(again, data) {
		t.Errorf("a flipped read damaged the stored object")
	}
}

func TestListLag(t *testing.T) {
	m := mem.New()
	m.Save(t.Context(), "index/old", nil)
	m.Save(t.Context(), "index/gone", nil)
	f := fault.New(m, fault.Options{ListLag: 300 * time.Millisecond})
	f.Save(t.Context(), "index/new", nil)
	f.Remove(t.Context(), "index/gone")
	list := func() string {
		var names []string
		f.List(t.Context(), "index/", func(fi backends.Info) error {
			names = append(names, fi.Name)
			return nil
		})
		return fmt.Sprint(len(names), names)
	}
	if got := list(); got != "2 [index/old index/gone]" && got != "2 [index/gone index/old]" {
		t.Errorf("listing right after: %s, want old and gone", got)
	}
	time.Sleep(350 * time.Millisecond)
	if got := list(); got != "2 [index/new index/old]" && got != "2 [index/old index/new]" {
		t.Errorf("listing after the lag: %s, want old and new", got)
	}
}
