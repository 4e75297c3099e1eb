package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/id"
)

// A resident process (the daemon) leaves a note beside the local index it
// holds; another process then uses a private index at once, saying who
// holds the shared one, instead of waiting for it. The note goes on Close.
func TestResidentIndexHolder(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	cache := t.TempDir()
	opt := Options{Password: []byte(TestPassword), CacheDir: cache, KDF: &TestKDF}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	ropt := opt
	ropt.Resident = true
	resident, err := Open(ctx, be, ropt)
	if err != nil {
		t.Fatal(err)
	}
	note := filepath.Join(cache, resident.Config().ID, residentNote)
	if b, err := os.ReadFile(note); err != nil || string(b) != fmt.Sprint(os.Getpid()) {
		t.Fatalf("note %q %v", b, err)
	}
	// The note names this very process, which residentHolder ignores;
	// name another live one (our parent) as a daemon would be.
	os.WriteFile(note, []byte(fmt.Sprint(os.Getppid())), 0o600)

	var mu sync.Mutex
	var logged []string
	other := opt
	other.Log = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	r2, err := Open(ctx, be, other)
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	want := fmt.Sprintf("is held by the cairn daemon (pid %d); using a private one", os.Getppid())
	if len(logged) != 1 || !strings.Contains(logged[0], want) {
		t.Fatalf("logged %q, want %q", logged, want)
	}
	resident.Close()
	if _, err := os.Stat(note); !os.IsNotExist(err) {
		t.Fatalf("note left after Close: %v", err)
	}
	// A note left by a process that is gone changes nothing.
	os.WriteFile(note, []byte("2147483646"), 0o600)
	if got := residentHolder(filepath.Dir(note)); got != 0 {
		t.Fatalf("a dead pid counts as holder: %d", got)
	}
}

// countLoads counts the index segments read from a backend.
type countLoads struct {
	backends.Backend
	mu       sync.Mutex
	segments int
}

func (c *countLoads) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "index/") {
		c.mu.Lock()
		c.segments++
		c.mu.Unlock()
	}
	return c.Backend.Load(ctx, name, off, n)
}

// Another process finding the index held by the daemon starts its private
// index from the copy the daemon published when its last lock ended, so it
// reads no index segment it already knows, and it still learns what was
// added after the copy.
func TestResidentPublishesIndex(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	cache := t.TempDir()
	opt := Options{Password: []byte(TestPassword), CacheDir: cache, KDF: &TestKDF}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	ropt := opt
	ropt.Resident = true
	resident, err := Open(ctx, be, ropt)
	if err != nil {
		t.Fatal(err)
	}
	defer resident.Close()
	save := func(data string) id.ID {
		lock, err := resident.Lock(ctx, false, "test")
		if err != nil {
			t.Fatal(err)
		}
		s := resident.NewSaver(ctx, 1)
		bid := resident.Codec().ID([]byte(data))
		if _, err := s.Save(id.DataBlob, bid, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := lock.Unlock(); err != nil {
			t.Fatal(err)
		}
		return bid
	}
	first, second := save("published before"), save("published too")
	note := filepath.Join(cache, resident.Config().ID, residentNote)
	os.WriteFile(note, []byte(fmt.Sprint(os.Getppid())), 0o600) // a live holder other than us

	// A segment the copy does not know yet: written by another host.
	hostOpt := opt
	hostOpt.CacheDir = t.TempDir()
	host, err := Open(ctx, be, hostOpt)
	if err != nil {
		t.Fatal(err)
	}
	s := host.NewSaver(ctx, 1)
	third := host.Codec().ID([]byte("from another host"))
	if _, err := s.Save(id.DataBlob, third, []byte("from another host")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	host.Close()

	counted := &countLoads{Backend: be}
	other, err := Open(ctx, counted, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if counted.segments != 1 {
		t.Errorf("read %d index segments; only the other host's is not in the published copy", counted.segments)
	}
	for _, bid := range []id.ID{first, second, third} {
		if _, ok, err := other.LookupBlob(bid); !ok || err != nil {
			t.Errorf("blob %v not in the private index: %v", bid, err)
		}
	}
	resident.Close()
	if _, err := os.Stat(filepath.Join(cache, resident.Config().ID, publishedIndex)); !os.IsNotExist(err) {
		t.Errorf("published copy left after Close: %v", err)
	}
}
