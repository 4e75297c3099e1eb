package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
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
