package fs_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
)

// gated is a backend whose loads wait while it is held.
type gated struct {
	backends.Backend
	mu      sync.Mutex
	gate    chan struct{}
	waiting int // loads held now
}

func (g *gated) hold() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gated) release() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

// held waits until a load is held.
func (g *gated) held(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		g.mu.Lock()
		n := g.waiting
		g.mu.Unlock()
		if n > 0 {
			return
		}
	}
	t.Fatal("the read never reached storage")
}

func (g *gated) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.mu.Lock()
		g.waiting++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.waiting--
			g.mu.Unlock()
		}()
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Backend.Load(ctx, name, off, n)
}

// gatedImage mounts a snapshot of a 24 MiB file disk.img (random bytes
// from seed) stored on a gated backend, with a 40 s read timeout.
func gatedImage(t *testing.T, seed byte) (data []byte, fb *gated, mnt string, logs *logBuf) {
	t.Helper()
	requireFUSE(t)
	src := t.TempDir()
	data = make([]byte, 24<<20)
	rand.NewChaCha8([32]byte{seed}).Read(data)
	if err := os.WriteFile(filepath.Join(src, "disk.img"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	be, err := local.Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	fb = &gated{Backend: be}
	r := repo.TestRepositoryOn(t, fb)
	ingestPath(t, r, src)
	mnt, logs = mount(t, r, cfs.Options{ReadTimeout: 40 * time.Second})
	return data, fb, mnt, logs
}

// TestInterruptedReadReturns: a program reading a chunk that storage is
// slow to give (S3 stalling, a --limit-bytes mount) could not be
// interrupted: the read that fetched the chunk waited for it however
// the program was told to stop, up to the read timeout (2 minutes), and
// Ctrl-C or kill left it hanging in the kernel. The read now gives up
// when the kernel interrupts it; the chunk goes on loading for the next
// reader.
func TestInterruptedReadReturns(t *testing.T) {
	data, fb, mnt, logs := gatedImage(t, 3)
	p := filepath.Join(mnt, "latest", "disk.img")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}

	// Each signal's read is of another chunk: the one the first read
	// left loading is cached once storage answers.
	for skip, sig := range map[int]syscall.Signal{2000: syscall.SIGINT, 4000: syscall.SIGKILL} {
		fb.hold()
		// O_DIRECT: the read goes to the mount as it is, in the
		// reader's own request, which the kernel interrupts.
		cmd := exec.Command("dd", "if="+p, "of=/dev/null", "bs=4096", "count=1", "skip="+strconv.Itoa(skip), "iflag=direct", "status=none")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fb.held(t)
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		cmd.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fb.release()
			<-done
			t.Fatalf("a read waiting for storage did not return for %v: %v after the signal", sig, time.Since(start))
		}
		fb.release()
	}
	// A reader stopped by its user is no failure of the mount: nothing
	// on the mount's stderr ("context canceled"), and a real failure of
	// that chunk later is still told.
	if s := logs.String(); s != "" {
		t.Errorf("interrupting readers logged:\n%s", s)
	}
	// What was being loaded is read correctly once storage answers.
	got := make([]byte, 4096)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(got, 4000*4096); err != nil || !bytes.Equal(got, data[4000*4096:4001*4096]) {
		t.Fatalf("reading again after the interrupted read: %v", err)
	}
}

// TestInterruptedListingReturns: a folder's tree is loaded once, by the
// first to enter it; a second program listing it meanwhile waited for
// that load without a way out, so with storage stalled Ctrl-C or kill of
// that program hung until the first load ended (up to the read timeout).
func TestInterruptedListingReturns(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "dir", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "dir", "sub", "f"), []byte("f"), 0o644)
	if err := os.MkdirAll(filepath.Join(src, "dir", "other", "o"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	fb := &gated{Backend: be}
	r := repo.TestRepositoryOn(t, fb)
	ingestPath(t, r, src)
	mnt, logs := mount(t, r, cfs.Options{ReadTimeout: 40 * time.Second})
	sub := filepath.Join(mnt, "latest", "dir", "sub")
	if _, err := os.Stat(sub); err != nil {
		t.Fatal(err)
	}

	fb.hold()
	first := exec.Command("ls", sub)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	fb.held(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		second := exec.Command("ls", sub)
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // waiting for the first one's load
		start := time.Now()
		second.Process.Signal(sig)
		done := make(chan error, 1)
		go func() { done <- second.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fb.release()
			<-done
			first.Wait()
			t.Fatalf("a listing waiting for another's load did not return for %v: %v after the signal", sig, time.Since(start))
		}
	}
	fb.release()
	if err := first.Wait(); err != nil {
		t.Fatalf("the first listing: %v", err)
	}
	if ents, err := os.ReadDir(sub); err != nil || len(ents) != 1 {
		t.Fatalf("listing again: %v %v", ents, err)
	}

	// The program loading a folder itself is stopped: nothing logged.
	other := filepath.Join(mnt, "latest", "dir", "other")
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
	fb.hold()
	ls := exec.Command("ls", other)
	if err := ls.Start(); err != nil {
		t.Fatal(err)
	}
	fb.held(t)
	ls.Process.Signal(syscall.SIGKILL)
	ls.Wait()
	fb.release()
	if ents, err := os.ReadDir(other); err != nil || len(ents) != 1 {
		t.Fatalf("listing after the loading program was killed: %v %v", ents, err)
	}
	if s := logs.String(); s != "" {
		t.Errorf("interrupting listings logged:\n%s", s)
	}
}

// TestCaughtSignalDoesNotFailRead: the kernel interrupts a FUSE request
// on any signal its caller takes, one it catches and goes on from
// (SIGCHLD, SIGWINCH, SIGALRM) included. Answered with EINTR, which a
// read of a local file never returns, such a read failed for programs
// that had not been told to stop: cp and tar reported the file unread,
// rsync filled the block with zeros and sent the file again. Only a
// signal that asks the program to stop (a kill, Ctrl-C's SIGINT, SIGTERM,
// SIGHUP, SIGQUIT) ends a read early; another's read gets its bytes once
// storage answers.
func TestCaughtSignalDoesNotFailRead(t *testing.T) {
	data, fb, mnt, logs := gatedImage(t, 4)
	defer func() {
		if s := logs.String(); s != "" {
			t.Errorf("the mount logged:\n%s", s)
		}
	}()
	p := filepath.Join(mnt, "latest", "disk.img")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	caught := make(chan os.Signal, 16)
	signal.Notify(caught, syscall.SIGUSR1)
	defer signal.Stop(caught)

	fb.hold()
	type result struct {
		n   int
		err error
		buf []byte
	}
	tid := make(chan int, 1)
	res := make(chan result, 1)
	go func() {
		// One thread, so that the signal goes to the one reading.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			tid <- 0
			res <- result{err: err}
			return
		}
		// O_DIRECT: the read is this thread's own request.
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECT, 0)
		if err != nil {
			tid <- 0
			res <- result{err: err}
			return
		}
		defer unix.Close(fd)
		tid <- unix.Gettid()
		n, err := unix.Pread(fd, buf, 5000*4096)
		res <- result{n, err, buf}
	}()
	id := <-tid
	if id == 0 {
		r := <-res
		t.Fatal(r.err)
	}
	fb.held(t)
	if err := unix.Tgkill(os.Getpid(), id, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// The handler runs once the read returns: the signal stays pending
	// meanwhile, as the interrupt reaches the mount.
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-res:
		fb.release()
		t.Fatalf("the read returned while storage was held, after a caught signal: %d bytes, %v", r.n, r.err)
	default:
	}
	fb.release()
	select {
	case r := <-res:
		if r.err != nil || r.n != 4096 || !bytes.Equal(r.buf, data[5000*4096:5001*4096]) {
			t.Fatalf("read after a caught signal: %d bytes, %v; want the file's 4096", r.n, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the read never returned once storage answered")
	}
	<-caught
}
