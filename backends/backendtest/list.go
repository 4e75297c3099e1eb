package backendtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

func testList(t *testing.T, b backends.Backend) {
	objects := map[string]int64{
		"config":       6,
		"data/ab/abc1": 10,
		"data/ab/abc2": 0,
		"data/cd/cd01": 3,
		"keys/ab01":    1,
		"keys/ab02":    2,
		"keys/cd01":    4,
		"snapshots/s1": 5,
	}
	for name, size := range objects {
		save(t, b, name, randomBytes(uint64(size), int(size)))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", slices.Sorted(maps.Keys(objects))},
		{"data/", []string{"data/ab/abc1", "data/ab/abc2", "data/cd/cd01"}},
		{"data/ab/", []string{"data/ab/abc1", "data/ab/abc2"}},
		{"data/a", []string{"data/ab/abc1", "data/ab/abc2"}},
		{"data", []string{"data/ab/abc1", "data/ab/abc2", "data/cd/cd01"}},
		{"keys/ab", []string{"keys/ab01", "keys/ab02"}},
		{"keys/ab01", []string{"keys/ab01"}},
		{"keys/ab01/", nil},
		{"conf", []string{"config"}},
		{"config/", nil},
		{"nope/", nil},
		{"nope", nil},
	} {
		got := listAll(t, b, tc.prefix)
		if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, tc.want) {
			t.Errorf("list %q = %v, want %v", tc.prefix, names, tc.want)
		}
		for name, size := range got {
			if size != objects[name] {
				t.Errorf("list %q: %s has size %d, want %d", tc.prefix, name, size, objects[name])
			}
		}
	}
}

func testListStops(t *testing.T, b backends.Backend) {
	for _, name := range []string{"index/1", "index/2", "index/3"} {
		save(t, b, name, []byte(name))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(t.Context(), "index/", func(backends.Info) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("list returned %v after %d calls, want the callback's error after 1", err, calls)
	}
	// The same over many folders, which a backend may list at once.
	for i := range 40 {
		save(t, b, fmt.Sprintf("data/%02x/%02x-%d", i, i, i), []byte{byte(i)})
	}
	calls = 0
	err = b.List(t.Context(), "data/", func(backends.Info) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("list of 40 folders returned %v after %d calls, want the callback's error after 3", err, calls)
	}
}
