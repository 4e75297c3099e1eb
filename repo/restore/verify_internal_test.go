package restore

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// Verify reads back what the restore wrote: files equal to the snapshot
// pass (holes included), and a changed byte, data in a hole or a wrong
// size are each reported.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	data := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	os.WriteFile(filepath.Join(src, "random"), data, 0o644)
	sparse, _ := os.Create(filepath.Join(src, "sparse"))
	sparse.Write(data[:100_000])
	sparse.WriteAt(data[:5000], 64<<20)
	sparse.Close()
	os.WriteFile(filepath.Join(src, "empty"), nil, 0o644)

	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	st, err := Run(ctx, r, res.Snapshot, src, Options{Target: dst, Verify: true,
		Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Verified != 3 || st.Files != 3 {
		t.Errorf("verified %d of %d files, want all 3", st.Verified, st.Files)
	}
	// Reading the files back leaves them the snapshot's atimes.
	for _, name := range []string{"random", "sparse"} {
		n, _, err := Find(ctx, r, res.Snapshot, filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(dst, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Atim.Nano() != n.ATime {
			t.Errorf("%s: atime %d after verify, the snapshot's is %d", name, st.Atim.Nano(), n.ATime)
		}
	}

	rs := &restorer{ctx: ctx, r: r}
	node := func(name string) string {
		n, _, err := Find(ctx, r, res.Snapshot, filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rs.verifyFile(filepath.Join(dst, name), n, nil)
		if err == nil {
			return ""
		}
		return err.Error()
	}
	if msg := node("random") + node("sparse"); msg != "" {
		t.Fatalf("the restored files fail to verify: %s", msg)
	}
	f, _ := os.OpenFile(filepath.Join(dst, "random"), os.O_WRONLY, 0)
	f.WriteAt([]byte{data[2<<20] ^ 1}, 2<<20)
	f.Close()
	if msg := node("random"); !strings.Contains(msg, "differs from the snapshot's") {
		t.Errorf("a changed byte: %q", msg)
	}
	f, _ = os.OpenFile(filepath.Join(dst, "sparse"), os.O_WRONLY, 0)
	f.WriteAt([]byte{7}, 32<<20)
	f.Close()
	if msg := node("sparse"); !strings.Contains(msg, "holds data at 33554432") {
		t.Errorf("data in a hole: %q", msg)
	}
	os.Truncate(filepath.Join(dst, "sparse"), 60<<20)
	if msg := node("sparse"); !strings.Contains(msg, "the snapshot's is 67113864") {
		t.Errorf("a shorter file: %q", msg)
	}
}
