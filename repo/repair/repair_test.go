package repair_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
)

var ctx = context.Background()

func checkRepo(t *testing.T, f *repotest.Fixture, readData bool) *check.Result {
	t.Helper()
	res, err := check.Run(ctx, f.Repo, check.Options{ReadData: readData})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func report(res *check.Result) string {
	var b strings.Builder
	for _, p := range append(append([]*check.Problem{}, res.Problems...), res.Notices...) {
		b.WriteString(string(p.Kind) + " " + p.Object + ": " + p.Message + "\n")
		for _, a := range p.Affected {
			b.WriteString("  " + a.Snapshot.ID.Short() + " " + strings.Join(a.Paths, " ") + "\n")
		}
	}
	return b.String()
}

func clean(t *testing.T, f *repotest.Fixture, readData bool) {
	t.Helper()
	if res := checkRepo(t, f, readData); !res.OK() {
		t.Fatalf("check after repair:\n%s", report(res))
	}
}

func repairIndex(t *testing.T, f *repotest.Fixture, readData bool) *repair.IndexResult {
	t.Helper()
	res, err := repair.Index(ctx, f.Repo, repair.IndexOptions{ReadData: readData})
	if err != nil {
		t.Fatalf("repair index: %v", err)
	}
	if len(res.Written) == 0 || res.Packs == 0 {
		t.Fatalf("repair index wrote %d segments, %d packs", len(res.Written), res.Packs)
	}
	var segs []string
	f.Backend.List(ctx, "index/", func(fi backends.Info) error { segs = append(segs, fi.Name); return nil })
	if len(segs) != len(res.Written) {
		t.Fatalf("after repair index %d segments are stored, %d written", len(segs), len(res.Written))
	}
	return res
}

func repairSnapshots(t *testing.T, f *repotest.Fixture, opt repair.SnapshotsOptions) *repair.SnapshotsResult {
	t.Helper()
	res, err := repair.Snapshots(ctx, f.Repo, opt)
	if err != nil {
		t.Fatalf("repair snapshots: %v", err)
	}
	return res
}

// lostPaths is what the repair reports each snapshot loses.
func lostPaths(res *repair.SnapshotsResult) map[id.ID][]string {
	out := map[id.ID][]string{}
	for _, rep := range res.Reports {
		for _, l := range rep.Lost {
			out[rep.ID] = append(out[rep.ID], l.Path)
		}
		sort.Strings(out[rep.ID])
	}
	return out
}

// checkAffected merges what check says each snapshot loses.
func checkAffected(res *check.Result) map[id.ID][]string {
	out := map[id.ID][]string{}
	for _, p := range res.Problems {
		for _, a := range p.Affected {
			out[a.Snapshot.ID] = append(out[a.Snapshot.ID], a.Paths...)
		}
	}
	for k, v := range out {
		sort.Strings(v)
		out[k] = v
	}
	return out
}

// restoreEquals restores sn and compares every file with the source,
// except the paths in skip (absolute, as in the snapshot), which must
// not be restored at all.
func restoreEquals(t *testing.T, f *repotest.Fixture, sn *repo.Snapshot, skip []string) {
	t.Helper()
	dst := t.TempDir()
	if warned, err := f.Restore(sn, dst); err != nil {
		t.Fatalf("restore %s: %v\n%s", sn.ID.Short(), err, strings.Join(warned, "\n"))
	}
	gone := map[string]bool{}
	for _, p := range skip {
		gone[p] = true
	}
	for _, rel := range f.Files() {
		src := filepath.Join(f.Source, rel)
		got := filepath.Join(dst, f.Path(rel))
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if gone[f.Path(rel)] {
			if _, err := os.Lstat(got); err == nil {
				t.Errorf("%s was restored, though it was lost", rel)
			}
			continue
		}
		a, _ := os.ReadFile(src)
		b, err := os.ReadFile(got)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not restored whole: %v", rel, err)
		}
	}
}

// A missing pack: repair index drops it, check then names the lost
// blobs and paths, repair snapshots writes snapshots without them, which
// restore; --forget then leaves a clean repository.
func TestMissingPack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("media/big.bin"))
	ri := repairIndex(t, f, false)
	if len(ri.Missing) != 1 || ri.Missing[0].Name != d.Object || len(ri.Damaged) != 0 || len(ri.Adopted) != 0 {
		t.Fatalf("repair index: %+v", ri)
	}
	if !reflect.DeepEqual(ri.Lost, d.Lost) {
		t.Fatalf("lost %v, want %v", ri.Lost, d.Lost)
	}
	res := checkRepo(t, f, false)
	for _, p := range res.Problems {
		if p.Kind != check.BlobMissing {
			t.Fatalf("after repair index:\n%s", report(res))
		}
	}
	if got := checkAffected(res); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("check after repair index:\n got %v\nwant %v", got, d.Affected)
	}
	if res.Hint() != "run `cairn repair snapshots`" {
		t.Fatalf("hint %q", res.Hint())
	}

	rs := repairSnapshots(t, f, repair.SnapshotsOptions{})
	if got := lostPaths(rs); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("repair snapshots lost:\n got %v\nwant %v", got, d.Affected)
	}
	for _, rep := range rs.Reports {
		n := rep.Repaired
		if n == nil || n.Original == nil || *n.Original != rep.ID || !n.HasTag(repair.RepairedTag) || !n.Time.Equal(rep.Original.Time) ||
			n.Host != rep.Original.Host || !reflect.DeepEqual(n.Paths, rep.Original.Paths) || rep.Forgotten {
			t.Fatalf("repaired snapshot %+v of %+v", n, rep.Original)
		}
		if rep.ID == f.Latest().ID {
			restoreEquals(t, f, n, d.Affected[rep.ID])
		}
	}
	// The originals are kept, and still lose what they lost.
	if got := checkAffected(checkRepo(t, f, false)); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("check after repair snapshots:\n got %v\nwant %v", got, d.Affected)
	}
	// Again: nothing new; with --forget the originals go.
	rs = repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	for _, rep := range rs.Reports {
		if rep.Repaired != nil || rep.RepairedBefore.IsZero() || !rep.Forgotten {
			t.Fatalf("second repair: %+v", rep)
		}
	}
	clean(t, f, true)
	all, err := f.Repo.Snapshots(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("snapshots after --forget: %d, %v", len(all), err)
	}
}

// Self-healing: after repair index drops a missing pack, the next ingest
// re-reads the files whose cached chunks are no longer indexed and stores
// them again, and the old snapshots become whole.
func TestIngestHealsAfterRepairIndex(t *testing.T) {
	f := repotest.New(t)
	latest := f.Latest()
	d := f.RemovePack(f.PackOf("media/big.bin"))
	repairIndex(t, f, false)
	sn := f.Ingest()
	if sn.Summary.FilesChanged == 0 || sn.Summary.DataBlobs == 0 {
		t.Fatalf("the ingest after the repair re-read nothing: %+v", sn.Summary)
	}
	restoreEquals(t, f, latest, nil)
	restoreEquals(t, f, sn, nil)
	// What only the first snapshot held (files changed or removed since)
	// is gone for good; everything else is back.
	res := checkRepo(t, f, true)
	for _, p := range res.Problems {
		if p.Kind != check.BlobMissing {
			t.Fatalf("after healing:\n%s", report(res))
		}
		for _, a := range p.Affected {
			if a.Snapshot.ID != f.Snapshots[0].ID {
				t.Fatalf("snapshot %s still loses %v", a.Snapshot.ID.Short(), a.Paths)
			}
			for _, path := range a.Paths {
				if path != f.Path("docs/b.txt") && path != f.Path("small/s5") {
					t.Fatalf("%s is still lost, though it is on disk unchanged", path)
				}
			}
		}
	}
	if len(d.Lost) == 0 {
		t.Fatal("the damage lost nothing")
	}
}

// A truncated pack: the blobs before the cut are copied into a new pack,
// the rest is lost; the damaged pack is left for prune.
func TestTruncatedPack(t *testing.T) {
	f := repotest.New(t)
	d := f.TruncatePack(f.PackOf("media/clip.bin"))
	ri := repairIndex(t, f, false)
	if len(ri.Damaged) != 1 || ri.Damaged[0].Name != d.Object || len(ri.Missing) != 0 {
		t.Fatalf("repair index: %+v", ri)
	}
	if dm := ri.Damaged[0]; dm.Salvaged != dm.Blobs-len(d.Lost) || (dm.Salvaged > 0) != (len(ri.Salvage) == 1) {
		t.Fatalf("salvaged %d of %d blobs into %v; %d are lost", dm.Salvaged, dm.Blobs, ri.Salvage, len(d.Lost))
	}
	if !reflect.DeepEqual(ri.Lost, d.Lost) {
		t.Fatalf("lost %v, want %v", ri.Lost, d.Lost)
	}
	res := checkRepo(t, f, true)
	if got := checkAffected(res); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("check after repair index:\n got %v\nwant %v\n%s", got, d.Affected, report(res))
	}
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	if got := lostPaths(rs); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("repair snapshots lost:\n got %v\nwant %v", got, d.Affected)
	}
	res = checkRepo(t, f, true)
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.PackUnreferenced || res.Notices[0].Object != d.Object {
		t.Fatalf("after the repairs:\n%s", report(res))
	}
}

// A flipped bit is invisible to the headers: repair index leaves the pack
// alone unless it reads the data, and then keeps all but the damaged blob.
func TestFlippedBit(t *testing.T) {
	f := repotest.New(t)
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	ri := repairIndex(t, f, false)
	if len(ri.Damaged) != 0 || len(ri.Lost) != 0 {
		t.Fatalf("repair index without --read-data: %+v", ri)
	}
	ri = repairIndex(t, f, true)
	if len(ri.Damaged) != 1 || ri.Damaged[0].Name != d.Object || !reflect.DeepEqual(ri.Lost, d.Lost) {
		t.Fatalf("repair index --read-data: %+v", ri)
	}
	if got := checkAffected(checkRepo(t, f, true)); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("check after repair index:\n got %v\nwant %v", got, d.Affected)
	}
	// The data is still on disk: an ingest brings it back everywhere.
	f.Ingest()
	res := checkRepo(t, f, true)
	if !res.OK() {
		t.Fatalf("after the ingest:\n%s", report(res))
	}
}

// A pack no segment names is adopted.
func TestUnreferencedPack(t *testing.T) {
	f := repotest.New(t)
	d := f.AddUnreferencedPack()
	ri := repairIndex(t, f, false)
	if !reflect.DeepEqual(ri.Adopted, []string{d.Object}) || len(ri.Lost) != 0 {
		t.Fatalf("repair index: %+v", ri)
	}
	res := checkRepo(t, f, true)
	if !res.OK() || len(res.Notices) != 0 {
		t.Fatalf("after repair index:\n%s", report(res))
	}
}

// Duplicates stay indexed (prune removes the extra copies) and either
// copy serves a restore.
func TestDuplicateBlobs(t *testing.T) {
	f := repotest.New(t)
	d := f.DuplicatePack(f.PackOf("docs/a.txt"))
	ri := repairIndex(t, f, false)
	if len(ri.Lost) != 0 || len(ri.Damaged) != 0 {
		t.Fatalf("repair index: %+v", ri)
	}
	res := checkRepo(t, f, true)
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.BlobDuplicate {
		t.Fatalf("after repair index:\n%s", report(res))
	}
	// Either copy serves: remove the original, repair, restore.
	f.RemovePack(d.Packs[0])
	repairIndex(t, f, false)
	clean(t, f, true)
	restoreEquals(t, f, f.Latest(), nil)
}

// A missing segment: repair index finds its packs again, nothing is lost.
func TestMissingSegment(t *testing.T) {
	f := repotest.New(t)
	d := f.RemoveSegmentOf(f.PackOf("media/clip.bin"))
	ri := repairIndex(t, f, false)
	for _, pid := range d.Packs {
		found := false
		for _, a := range ri.Adopted {
			found = found || strings.HasSuffix(a, pid.String())
		}
		if !found {
			t.Fatalf("pack %s of the removed segment is not adopted: %v", pid.Short(), ri.Adopted)
		}
	}
	if len(ri.Adopted) != len(d.Packs) || len(ri.Lost) != 0 {
		t.Fatalf("repair index: %+v", ri)
	}
	clean(t, f, true)
	restoreEquals(t, f, f.Latest(), nil)
}

// repair snapshots run before repair index, when an index segment is
// lost but every pack is intact, refuses: it used to rewrite every
// snapshot without what the lost segment located and, with --forget,
// remove the originals, throwing away data that was all still stored.
func TestSnapshotsBeforeIndexRefuses(t *testing.T) {
	f := repotest.New(t)
	f.RemoveSegmentOf(f.PackOf("media/clip.bin"))
	stored := func() []string {
		var names []string
		f.Backend.List(ctx, "snapshots/", func(fi backends.Info) error { names = append(names, fi.Name); return nil })
		sort.Strings(names)
		return names
	}
	before := stored()
	_, err := repair.Snapshots(ctx, f.Repo, repair.SnapshotsOptions{Forget: true})
	if err == nil || !strings.Contains(err.Error(), "run `cairn repair index` first") {
		t.Fatalf("repair snapshots with a segment lost: %v, want a refusal naming repair index", err)
	}
	if after := stored(); !reflect.DeepEqual(before, after) {
		t.Fatalf("repair snapshots changed the snapshots: %v, then %v", before, after)
	}
	repairIndex(t, f, false)
	clean(t, f, true)
	restoreEquals(t, f, f.Latest(), nil)
}

// Likewise when the pack the index names is missing but a pack no
// segment names (here a copy whose segment is lost too) holds its blobs.
func TestSnapshotsBeforeIndexRefusesUnindexedCopy(t *testing.T) {
	f := repotest.New(t)
	pid := f.PackOf("media/clip.bin")
	dup := f.DuplicatePack(pid)
	f.RemoveSegmentOf(dup.Pack)
	f.RemovePack(pid)
	_, err := repair.Snapshots(ctx, f.Repo, repair.SnapshotsOptions{Forget: true})
	if err == nil || !strings.Contains(err.Error(), "run `cairn repair index` first") {
		t.Fatalf("repair snapshots with the blobs in an unindexed copy: %v, want a refusal naming repair index", err)
	}
	repairIndex(t, f, false)
	clean(t, f, true)
	restoreEquals(t, f, f.Latest(), nil)
}

// A snapshot that cannot be read cannot be repaired; --forget removes it.
func TestDamagedSnapshot(t *testing.T) {
	f := repotest.New(t)
	d := f.DamageSnapshot(f.Snapshots[0].ID)
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{})
	if len(rs.Reports) != 1 || rs.Reports[0].ID != d.Snapshot || rs.Reports[0].Err == nil || rs.Reports[0].Forgotten {
		t.Fatalf("repair snapshots: %+v", rs.Reports)
	}
	if _, err := f.Backend.Stat(ctx, d.Object); err != nil {
		t.Fatalf("the damaged snapshot was removed without --forget: %v", err)
	}
	rs = repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	if len(rs.Reports) != 1 || !rs.Reports[0].Forgotten {
		t.Fatalf("repair snapshots --forget: %+v", rs.Reports)
	}
	clean(t, f, true)
}

// A tree naming a blob stored nowhere: the file is dropped from a
// repaired snapshot, everything else restores.
func TestDanglingBlob(t *testing.T) {
	f := repotest.New(t)
	d := f.DanglingBlob("media/clip.bin")
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	if got := lostPaths(rs); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("repair snapshots lost:\n got %v\nwant %v", got, d.Affected)
	}
	if len(rs.Reports) != 1 || rs.Reports[0].Repaired == nil || !rs.Reports[0].Forgotten {
		t.Fatalf("repair snapshots: %+v", rs.Reports)
	}
	clean(t, f, true)
	restoreEquals(t, f, rs.Reports[0].Repaired, d.Paths())
}

// A lost tree pack loses folders: repair snapshots drops them, listed as
// folders, and keeps the rest.
func TestMissingTreePack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("docs"))
	repairIndex(t, f, false)
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	if got := lostPaths(rs); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("repair snapshots lost:\n got %v\nwant %v", got, d.Affected)
	}
	clean(t, f, true)
}

// Readers ignore superseded segments, so a repair interrupted between
// writing the new index and removing the old one leaves a valid index.
func TestInterruptedRepairIndex(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("media/big.bin"))
	var old []string
	f.Backend.List(ctx, "index/", func(fi backends.Info) error { old = append(old, fi.Name); return nil })
	saved := map[string][]byte{}
	for _, n := range old {
		b, err := f.Backend.Load(ctx, n, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		saved[n] = b
	}
	repairIndex(t, f, false)
	// Put the old segments back, as if the repair had stopped before
	// removing them.
	for n, b := range saved {
		if err := f.Backend.Save(ctx, n, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*repo.Repository{f.Repo, f.Open()} {
		if err := r.SyncIndex(ctx); err != nil {
			t.Fatal(err)
		}
		for _, b := range d.Lost {
			if loc, ok, _ := r.LookupBlob(b); ok {
				t.Fatalf("blob %s found in pack %s of a superseded segment", b.Short(), loc.Pack.Short())
			}
		}
	}
	res := checkRepo(t, f, false)
	for _, p := range res.Problems {
		if p.Kind != check.BlobMissing {
			t.Fatalf("check:\n%s", report(res))
		}
	}
	if len(res.Notices) != len(old) || res.Notices[0].Kind != check.SegmentSuperseded {
		t.Fatalf("want %d superseded-segment notices:\n%s", len(old), report(res))
	}
	// The next repair removes them.
	repairIndex(t, f, false)
}

// Lost trees heal too: the next ingest stores again the trees of the
// folders that did not change. (Folders above the source, like /tmp,
// change all the time: their old trees stay lost.)
func TestIngestHealsTrees(t *testing.T) {
	f := repotest.New(t)
	var trees []id.ID
	for _, dir := range []string{"docs", "docs/notes", "media", "small", "empty"} {
		trees = append(trees, f.BlobOf(dir))
	}
	d := f.RemovePack(f.PackOf("docs"))
	repairIndex(t, f, false)
	lost := d.LostSet()
	var gone []id.ID
	for _, tid := range trees {
		if _, ok, _ := f.Repo.LookupBlob(tid); !ok && lost[tid] {
			gone = append(gone, tid)
		}
	}
	if len(gone) == 0 {
		t.Fatal("the damage lost none of the folders' trees")
	}
	f.Ingest()
	for _, tid := range gone {
		if _, ok, _ := f.Repo.LookupBlob(tid); !ok {
			t.Fatalf("tree %s is still lost after the ingest", tid.Short())
		}
	}
}

// A pack repair index --read-data left out stays out: a plain repair
// index reads a pack no segment names whole before indexing it, and
// leaves a damaged one out again. Check then points at the snapshots,
// and once they are repaired, at forgetting the originals; after that
// the repository is clean.
func TestDamagedPackStaysOut(t *testing.T) {
	f := repotest.New(t)
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	repairIndex(t, f, true)
	for _, readData := range []bool{false, true} {
		ri := repairIndex(t, f, false)
		if len(ri.Adopted) != 0 || len(ri.Damaged) != 1 || ri.Damaged[0].Name != d.Object || !ri.Damaged[0].Unindexed ||
			!reflect.DeepEqual(ri.Lost, d.Lost) {
			t.Fatalf("plain repair index after --read-data: %+v", ri)
		}
		res := checkRepo(t, f, readData)
		if got := checkAffected(res); !reflect.DeepEqual(got, d.Affected) {
			t.Fatalf("check after repair index:\n got %v\nwant %v\n%s", got, d.Affected, report(res))
		}
		if len(res.Problems) != 1 || res.Problems[0].Kind != check.PackNotIndexedDamaged || res.Problems[0].Object != d.Object {
			t.Fatalf("check after repair index:\n%s", report(res))
		}
		if res.Hint() != "run `cairn repair snapshots`" {
			t.Fatalf("hint %q", res.Hint())
		}
	}
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{})
	if got := lostPaths(rs); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("repair snapshots lost:\n got %v\nwant %v", got, d.Affected)
	}
	res := checkRepo(t, f, false)
	if res.Hint() != "run `cairn repair snapshots --forget`" {
		t.Fatalf("hint after repair snapshots %q:\n%s", res.Hint(), report(res))
	}
	for _, a := range res.Problems[0].Affected {
		if a.RepairedAs.IsZero() {
			t.Fatalf("snapshot %s is repaired, check does not say so", a.Snapshot.ID.Short())
		}
	}
	repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	clean(t, f, false)
	clean(t, f, true)
	for _, sn := range f.Snapshots {
		if _, err := f.Repo.LoadSnapshot(ctx, sn.ID); err == nil {
			t.Fatalf("original %s was not forgotten", sn.ID.Short())
		}
	}
}

// An ingest after the repairs stores the lost data again and makes the
// originals whole: --forget keeps them and forgets their repaired copies.
func TestForgetKeepsHealedOriginals(t *testing.T) {
	f := repotest.New(t)
	f.FlipBit(f.BlobOf("media/big.bin"))
	repairIndex(t, f, true)
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{})
	copies := map[id.ID]id.ID{}
	for _, rep := range rs.Reports {
		if rep.Repaired == nil {
			t.Fatalf("not repaired: %+v", rep)
		}
		copies[rep.ID] = rep.Repaired.ID
	}
	originals := append([]*repo.Snapshot(nil), f.Snapshots...)
	f.Ingest()
	res := checkRepo(t, f, true)
	if !res.OK() {
		t.Fatalf("after the ingest:\n%s", report(res))
	}
	stale := 0
	for _, n := range res.Notices {
		if n.Kind == check.SnapshotRepairStale {
			stale++
		}
	}
	if stale != len(copies) {
		t.Fatalf("want %d stale-copy notices:\n%s", len(copies), report(res))
	}

	// Without --forget nothing goes.
	rs = repairSnapshots(t, f, repair.SnapshotsOptions{})
	for _, rep := range rs.Reports {
		if !rep.Whole || rep.Forgotten || len(rep.Stale) != 1 || rep.Stale[0] != copies[rep.ID] || rep.StaleForgotten {
			t.Fatalf("repair snapshots after the ingest: %+v", rep)
		}
	}
	rs = repairSnapshots(t, f, repair.SnapshotsOptions{Forget: true})
	if len(rs.Reports) != len(copies) {
		t.Fatalf("%d reports, want %d", len(rs.Reports), len(copies))
	}
	for _, rep := range rs.Reports {
		if !rep.Whole || rep.Forgotten || !rep.StaleForgotten || rep.Repaired != nil {
			t.Fatalf("repair snapshots --forget after the ingest: %+v", rep)
		}
	}
	for _, sn := range originals {
		if _, err := f.Repo.LoadSnapshot(ctx, sn.ID); err != nil {
			t.Fatalf("the whole original %s was forgotten: %v", sn.ID.Short(), err)
		}
		if _, err := f.Repo.LoadSnapshot(ctx, copies[sn.ID]); err == nil {
			t.Fatalf("the stale copy %s was kept", copies[sn.ID].Short())
		}
	}
	restoreEquals(t, f, originals[len(originals)-1], nil)
	res = checkRepo(t, f, true)
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.PackUnreferenced {
		t.Fatalf("after --forget:\n%s", report(res))
	}
}

// A damaged pack that no segment names, some of whose needed blobs still
// verify: check reads it whole and says to repair the index (which copies
// those out) and then the snapshots (which drop the rest); a plain repair
// index does just that.
func TestUnindexedDamagedPackSalvaged(t *testing.T) {
	f := repotest.New(t)
	// A small file whose pack holds other blobs too, for repair index to
	// copy out (which blobs share a pack is up to the ingest's timing).
	rel := ""
	for i := 0; i < 5 && rel == ""; i++ {
		if r := fmt.Sprintf("small/s%d", i); f.BlobsInPack(f.PackOf(r)) > 1 {
			rel = r
		}
	}
	if rel == "" {
		t.Fatal("no small file of the fixture shares its pack")
	}
	pid := f.PackOf(rel)
	d := f.FlipBit(f.BlobOf(rel))
	f.RemoveSegmentOf(pid)
	res := checkRepo(t, f, false)
	var damaged *check.Problem
	for _, p := range res.Problems {
		if p.Object == d.Object {
			damaged = p
		}
	}
	if damaged == nil || damaged.Kind != check.PackNotIndexedDamaged || !strings.Contains(damaged.Message, "which `cairn repair index` copies out") {
		t.Fatalf("check:\n%s", report(res))
	}
	if res.Hint() != "run `cairn repair index`, then `cairn repair snapshots`" {
		t.Fatalf("hint %q:\n%s", res.Hint(), report(res))
	}
	ri := repairIndex(t, f, false)
	if len(ri.Damaged) != 1 || ri.Damaged[0].Name != d.Object || !ri.Damaged[0].Unindexed || ri.Damaged[0].Salvaged == 0 ||
		!reflect.DeepEqual(ri.Lost, d.Lost) {
		t.Fatalf("repair index: %+v", ri)
	}
	res = checkRepo(t, f, true)
	if got := checkAffected(res); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("check after repair index:\n got %v\nwant %v\n%s", got, d.Affected, report(res))
	}
	if res.Hint() != "run `cairn repair snapshots`" {
		t.Fatalf("hint %q:\n%s", res.Hint(), report(res))
	}
}
