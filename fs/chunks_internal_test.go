package fs

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// stalled is a backend whose loads of data packs wait while it is held,
// counting how many wait at once.
type stalled struct {
	backends.Backend
	mu      sync.Mutex
	gate    chan struct{}
	waiting int64 // bytes of the loads waiting now
	most    int64 // and at most
}

func (s *stalled) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	s.mu.Lock()
	gate := s.gate
	if gate != nil && strings.HasPrefix(name, "data/") {
		s.waiting += n
		s.most = max(s.most, s.waiting)
		s.mu.Unlock()
		select {
		case <-gate:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.waiting -= n
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Backend.Load(ctx, name, off, n)
}

func (s *stalled) nowWaiting() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

func (s *stalled) mostWaiting() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

// Readers that give up on a chunk leave its load running for the next
// reader. Many readers interrupted one after the other while storage
// stalled (a script killing each reader after a second, a program
// skipping to the next file on EINTR) each left a load holding a chunk's
// buffers until its timeout, with nothing bounding them but the timeout:
// the mount's memory grew far past --cache-mib. The loads in flight now
// hold at most the cache's bound between them, and end with the mount.
func TestAbandonedLoadsStayWithinTheCacheBound(t *testing.T) {
	src := t.TempDir()
	rnd := rand.NewChaCha8([32]byte{5})
	const files = 16
	for i := range files {
		b := make([]byte, 1<<20)
		rnd.Read(b)
		if err := os.WriteFile(filepath.Join(src, "f"+strconv.Itoa(i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	be, err := local.Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	sb := &stalled{Backend: be}
	r := repo.TestRepositoryOn(t, sb)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []tree.Chunk
	for i := range files {
		n, _, err := restore.Find(context.Background(), r, res.Snapshot, filepath.Join(src, "f"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, n.Content...)
	}

	const bound = 3 << 20
	c := newChunkCache(r, bound, time.Minute)
	closed := false
	defer func() {
		if !closed {
			c.close()
		}
	}()
	sb.mu.Lock()
	sb.gate = make(chan struct{})
	sb.mu.Unlock()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, ch := range chunks {
		if _, err := c.get(gone, ch.ID, int(ch.Size)); err == nil {
			t.Fatal("a reader that gave up got a chunk from stalled storage")
		}
	}
	// The loads the readers left reach storage: give all of them the
	// time to, and see how much waits there at once.
	var all int64
	for _, ch := range chunks {
		all += int64(ch.Size)
	}
	const slack = 1<<20 + 64<<10 // one chunk beyond, and what sealing adds
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && sb.mostWaiting() <= bound+slack; {
		time.Sleep(20 * time.Millisecond)
	}
	if most := sb.mostWaiting(); most == 0 {
		t.Fatal("no load reached storage")
	} else if most > bound+slack {
		t.Errorf("loads of chunks readers gave up on held %d KiB waiting on storage at once (of %d KiB asked for), beyond the cache's bound of %d KiB", most>>10, all>>10, bound>>10)
	}

	// Once storage answers, the loads end and the cache holds its bound.
	sb.mu.Lock()
	close(sb.gate)
	sb.gate = nil
	sb.mu.Unlock()
	for _, ch := range chunks {
		got, err := c.get(context.Background(), ch.ID, int(ch.Size))
		if err != nil {
			t.Fatalf("reading a chunk after storage answered: %v", err)
		}
		if len(got.data) != int(ch.Size) {
			t.Fatalf("chunk of %d bytes read as %d", ch.Size, len(got.data))
		}
		c.release(got)
	}
	c.mu.Lock()
	held := c.bytes
	c.mu.Unlock()
	if held > bound+1<<20 {
		t.Errorf("the cache holds %d bytes, bound %d", held, bound)
	}

	// A load a reader gave up on ends with the mount, not a minute later.
	sb.mu.Lock()
	sb.gate = make(chan struct{})
	sb.mu.Unlock()
	defer func() {
		sb.mu.Lock()
		close(sb.gate)
		sb.gate = nil
		sb.mu.Unlock()
	}()
	c.get(gone, chunks[0].ID, int(chunks[0].Size)) // long out of the cache
	for deadline := time.Now().Add(10 * time.Second); sb.nowWaiting() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the load never reached storage")
		}
	}
	c.close()
	closed = true
	for deadline := time.Now().Add(10 * time.Second); sb.nowWaiting() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a load a reader gave up on went on after the mount ended")
		}
	}
}
