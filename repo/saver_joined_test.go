package repo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// refusing, once on, stores the first pack and refuses every later pack
// and every index segment.
type refusing struct {
	backends.Backend
	mu     sync.Mutex
	on     bool
	stored bool
}

var errRefused = errors.New("refused")

func (b *refusing) Save(ctx context.Context, name string, data []byte) error {
	b.mu.Lock()
	pack := strings.Count(name, "/") == 2 // "data/ab/abcd", "tree/ab/abcd"
	refuse := b.on && (strings.HasPrefix(name, "index/") || pack && b.stored)
	if b.on && pack {
		b.stored = true
	}
	b.mu.Unlock()
	if refuse {
		return errRefused
	}
	return b.Backend.Save(ctx, name, data)
}

// A pack upload that fails and an index segment for the packs stored
// before it that fails too are told in one message: the CLI prints an
// error as one "cairn: " line, and a second line would come without it.
func TestSaverFailureAndIndexFailureOneLine(t *testing.T) {
	be := &refusing{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	be.mu.Lock()
	be.on = true
	be.mu.Unlock()
	s := r.NewSaver(context.Background(), 1)
	data, tree := []byte("a data blob"), []byte(`{"a":"tree blob"}`)
	if _, err := s.Save(id.DataBlob, r.Codec().IDFor(id.DataBlob, data), data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(id.TreeBlob, r.Codec().IDFor(id.TreeBlob, tree), tree); err != nil {
		t.Fatal(err)
	}
	err := s.Flush()
	if err == nil {
		t.Fatal("flush with a refused pack and a refused index segment succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "write index segment") || !errors.Is(err, errRefused) {
		t.Errorf("flush: %q, want one line telling of the pack and of the index segment", msg)
	}
}
