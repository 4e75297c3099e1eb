package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/transfer"
	"github.com/cairn-backup/cairn/repo/tree"
)

// copySnapshot copies sn from src into dst with a copier of its own and
// commits it.
func copySnapshot(t *testing.T, cp *transfer.Copier, saver *repo.Saver, dst *repo.Repository, sn *repo.Snapshot, earlier *transfer.Pair) *repo.Snapshot {
	t.Helper()
	ctx := context.Background()
	nsn, err := cp.Copy(ctx, sn, earlier)
	if err != nil {
		t.Fatalf("copy %s: %v", sn.ID.Short(), err)
	}
	if err := saver.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := dst.SaveSnapshot(ctx, nsn); err != nil {
		t.Fatal(err)
	}
	return nsn
}

func checkClean(t *testing.T, r *repo.Repository) {
	t.Helper()
	res, err := check.Run(context.Background(), r, check.Options{ReadData: true})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if !res.OK() {
		t.Fatalf("check of the destination: %+v", res.Problems)
	}
}

// TestCopyRoundTrip copies a snapshot of a tree holding every kind of
// entry and attribute into a repository with other keys, and restores the
// copy: every byte and attribute must come back.
func TestCopyRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (devices, ownership, trusted xattrs)")
		}
		t.Skip("needs root")
	}
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 7)
	a, b := repo.TestRepository(t), repo.TestRepository(t)
	res, err := ingest.Run(ctx, a, ingest.Options{Paths: []string{src}, Host: "h", Source: "s",
		Warn: func(p string, err error) { t.Errorf("ingest %s: %v", p, err) }})
	if err != nil {
		t.Fatal(err)
	}
	saver := b.NewSaver(ctx, 2)
	cp := transfer.New(a, b, saver)
	nsn := copySnapshot(t, cp, saver, b, res.Snapshot, nil)

	if nsn.Tree == res.Snapshot.Tree {
		t.Fatal("the copy's tree has the source's ID: the destination's keys were not used")
	}
	if nsn.CopiedFrom == nil || *nsn.CopiedFrom != res.Snapshot.ID {
		t.Fatalf("copied_from = %v, want %s", nsn.CopiedFrom, res.Snapshot.ID)
	}
	if nsn.Host != "h" || nsn.Source != "s" || !nsn.Time.Equal(res.Snapshot.Time) || !slicesEqual(nsn.Paths, res.Snapshot.Paths) || !bytes.Equal(nsn.Root, res.Snapshot.Root) {
		t.Fatalf("copy's snapshot fields differ: %+v, source %+v", nsn, res.Snapshot)
	}
	if st := cp.Stats(); int64(st.BlobsRead) != res.Snapshot.Summary.DataBlobs || st.Snapshots != 1 {
		t.Fatalf("stats %+v: want every one of the %d data blobs read once", st, res.Snapshot.Summary.DataBlobs)
	}
	checkClean(t, b)

	// The copy read through a second handle, as another process would.
	loaded, err := b.LoadSnapshot(ctx, nsn.ID)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, b, loaded, src, restore.Options{Target: dst,
		Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	if diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{ATime: true, Sparse: true}); len(diffs) > 0 {
		t.Fatalf("the copy restores differently:\n%s", strings.Join(diffs, "\n"))
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// blobSet is every data blob of sn.
func blobSet(t *testing.T, r *repo.Repository, sn *repo.Snapshot) map[id.ID]bool {
	t.Helper()
	out := map[id.ID]bool{}
	err := r.Walk(context.Background(), sn, func(_ string, n *tree.Node) (bool, error) {
		for _, b := range n.Blobs() {
			out[b] = true
		}
		return true, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyIncremental copies two snapshots of a changing source. The
// second copy, given the first pair, reads from the source only the blobs
// the first snapshot did not have, and comes out exactly as a copy made
// from nothing would.
func TestCopyIncremental(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	s1, s2 := f.Snapshots[0], f.Snapshots[1]
	b := repo.TestRepository(t)

	saver := b.NewSaver(ctx, 2)
	d1 := copySnapshot(t, transfer.New(f.Repo, b, saver), saver, b, s1, nil)

	// A later run: a new copier knows nothing but the earlier pair.
	saver = b.NewSaver(ctx, 2)
	cp := transfer.New(f.Repo, b, saver)
	d2 := copySnapshot(t, cp, saver, b, s2, &transfer.Pair{Src: s1, Dst: d1})
	old, cur := blobSet(t, f.Repo, s1), blobSet(t, f.Repo, s2)
	fresh := 0
	for bid := range cur {
		if !old[bid] {
			fresh++
		}
	}
	st := cp.Stats()
	if fresh == 0 || st.BlobsRead != fresh {
		t.Fatalf("second copy read %d blobs, want the %d the first snapshot did not have (stats %+v)", st.BlobsRead, fresh, st)
	}
	if st.TreesKept == 0 || st.BlobsTaken == 0 {
		t.Fatalf("second copy kept no unchanged tree or took over no chunk: %+v", st)
	}

	// From nothing, the same snapshot makes the same trees.
	saver = b.NewSaver(ctx, 2)
	again, err := transfer.New(f.Repo, b, saver).Copy(ctx, s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := saver.Flush(); err != nil {
		t.Fatal(err)
	}
	if again.Tree != d2.Tree {
		t.Fatalf("copy with the earlier pair made tree %s, from nothing %s", d2.Tree.Short(), again.Tree.Short())
	}
	checkClean(t, b)
	sameFiles(t, f, b, d2, s2)
}

// sameFiles restores sn from the fixture's repository and its copy from b,
// and compares the files' bytes.
func sameFiles(t *testing.T, f *repotest.Fixture, b *repo.Repository, copied, sn *repo.Snapshot) {
	t.Helper()
	ctx := context.Background()
	want, got := t.TempDir(), t.TempDir()
	if _, err := f.Restore(sn, want); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(ctx, b, copied, "/", restore.Options{Target: got, SkipOwner: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		w, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		g, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(w, g) {
			t.Errorf("%s differs in the copy", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no files compared")
	}
}

// TestCopyDamagedSource: a source blob that fails its check stops the
// snapshot's copy with an error naming the file, and the destination gets
// no snapshot; what was stored is indexed and the destination checks
// clean.
func TestCopyDamagedSource(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	dmg := f.FlipBit(f.BlobOf("media/big.bin"))
	f.Sync()
	b := repo.TestRepository(t)
	saver := b.NewSaver(ctx, 2)
	_, err := transfer.New(f.Repo, b, saver).Copy(ctx, f.Latest(), nil)
	if err == nil {
		t.Fatal("copy of a snapshot with a damaged blob succeeded")
	}
	if !errors.Is(err, repo.ErrDamaged) || !strings.Contains(err.Error(), f.Path("media/big.bin")) || !strings.Contains(err.Error(), dmg.Pack.Short()) {
		t.Fatalf("error %q: want damage named with the file %s and pack %s", err, f.Path("media/big.bin"), dmg.Pack.Short())
	}
	if err := saver.Flush(); err != nil {
		t.Fatal(err)
	}
	snaps, err := b.Snapshots(ctx, nil)
	if err != nil || len(snaps) != 0 {
		t.Fatalf("destination snapshots %v, %v: want none", snaps, err)
	}
	checkClean(t, b)
}

// TestCopyMissingSourceTree: a lost tree pack of the source fails the
// copy with an error naming the folder and the pack.
func TestCopyMissingSourceTree(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	dmg := f.RemovePack(f.PackOf("small")) // the fixture's trees share one pack
	f.Sync()
	b := repo.TestRepository(t)
	_, err := transfer.New(f.Repo, b, b.NewSaver(ctx, 1)).Copy(ctx, f.Latest(), nil)
	if err == nil || !strings.Contains(err.Error(), " of /:") || !strings.Contains(err.Error(), dmg.Pack.String()) {
		t.Fatalf("copy with a lost tree pack: %v; want an error naming the root folder and pack %s", err, dmg.Pack)
	}
}

// TestBatch copies two snapshots of a source through a Batch: a second
// batch finds their copies and has nothing left; the second copy's parent
// is the first copy, and it read only what changed. A dry run reads and
// counts, and saves nothing.
func TestBatch(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o644)
	os.WriteFile(filepath.Join(src, "small"), []byte("small"), 0o644)
	a, b := repo.TestRepository(t), repo.TestRepository(t)
	var snaps []*repo.Snapshot
	for i := range 2 {
		if i == 1 {
			os.WriteFile(filepath.Join(src, "small"), []byte("small, changed"), 0o644)
		}
		res, err := ingest.Run(ctx, a, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, res.Snapshot)
	}

	dry, err := transfer.NewBatch(ctx, a, b, b.NewDryRunSaver(ctx), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dry.Copy(ctx, snaps[0])
	if err != nil || c.DataAdded <= 0 || c.Snapshot.ID != id.Zero || dry.CopyOf(snaps[0].ID) != nil {
		t.Fatalf("dry run: %+v, %v", c, err)
	}
	if list, _ := b.Snapshots(ctx, nil); len(list) != 0 {
		t.Fatalf("a dry run saved %d snapshots", len(list))
	}

	batch, err := transfer.NewBatch(ctx, a, b, b.NewSaver(ctx, 2), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Source()) != 2 || len(batch.Destination()) != 0 {
		t.Fatalf("source %d, destination %d snapshots", len(batch.Source()), len(batch.Destination()))
	}
	var copies []*transfer.Copied
	for _, sn := range batch.Source() {
		c, err := batch.Copy(ctx, sn)
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	first, second := copies[0].Snapshot, copies[1].Snapshot
	if second.Parent == nil || *second.Parent != first.ID {
		t.Errorf("the second copy's parent is %v, want the first copy %s", second.Parent, first.ID.Short())
	}
	if copies[1].BytesRead != int64(len("small, changed")) {
		t.Errorf("the second copy read %d bytes, want the changed file's", copies[1].BytesRead)
	}
	checkClean(t, b)

	again, err := transfer.NewBatch(ctx, a, b, b.NewSaver(ctx, 2), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, sn := range snaps {
		if d := again.CopyOf(sn.ID); d == nil || d.ID != copies[i].Snapshot.ID {
			t.Errorf("snapshot %d: copy %v, want %s", i, d, copies[i].Snapshot.ID.Short())
		}
	}
	if len(again.Destination()) != 2 {
		t.Errorf("destination lists %d snapshots", len(again.Destination()))
	}
}

// TestCopyAvoidsMarkedPacks: data the destination holds only in packs a
// prune marked for deletion is not relied on: a batch copies it again
// from the source, and the copy's blobs are all in unmarked packs.
func TestCopyAvoidsMarkedPacks(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	s1, s2 := f.Snapshots[0], f.Snapshots[1]
	b := repo.TestRepository(t)
	saver := b.NewSaver(ctx, 2)
	copySnapshot(t, transfer.New(f.Repo, b, saver), saver, b, s1, nil)

	// A prune marks every pack the first copy wrote.
	packs, err := b.ListPacks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var marked []repo.MarkedPack
	for pid, sp := range packs {
		marked = append(marked, repo.MarkedPack{Type: sp.Type, ID: pid})
	}
	if _, err := b.SaveMark(ctx, marked); err != nil {
		t.Fatal(err)
	}

	saver = b.NewSaver(ctx, 2)
	batch, err := transfer.NewBatch(ctx, f.Repo, b, saver, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := batch.Copy(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(blobSet(t, f.Repo, s2)); got.BlobsRead != want {
		t.Fatalf("copy read %d source blobs, want all %d: the destination's are only in marked packs", got.BlobsRead, want)
	}
	inMarked := map[id.ID]bool{}
	for _, p := range marked {
		inMarked[p.ID] = true
	}
	for bid := range blobSet(t, b, got.Snapshot) {
		loc, ok, err := b.LookupBlob(bid)
		if err != nil || !ok {
			t.Fatalf("blob %s of the copy: %v %v", bid.Short(), ok, err)
		}
		if !inMarked[loc.Pack] {
			continue
		}
		alts, err := b.Index().Alternatives(bid)
		if err != nil {
			t.Fatal(err)
		}
		safe := false
		for _, a := range alts {
			safe = safe || !inMarked[a.Pack]
		}
		if !safe {
			t.Fatalf("blob %s of the copy is only in marked pack %s", bid.Short(), loc.Pack.Short())
		}
	}
	sameFiles(t, f, b, got.Snapshot, s2)
}
