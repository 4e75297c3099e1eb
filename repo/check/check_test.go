package check_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repotest"
)

func run(t *testing.T, f *repotest.Fixture, opt check.Options) *check.Result {
	t.Helper()
	res, err := check.Run(context.Background(), f.Repo, opt)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return res
}

// affected merges what the problems say each snapshot loses.
func affected(ps ...*check.Problem) map[id.ID][]string {
	out := map[id.ID][]string{}
	for _, p := range ps {
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

// one asserts that the check found exactly one error, of kind k about
// object, which loses exactly what the damage says, and returns it.
func one(t *testing.T, res *check.Result, k check.Kind, d *repotest.Damage) *check.Problem {
	t.Helper()
	if len(res.Problems) != 1 {
		t.Fatalf("want one problem, got %d:\n%s", len(res.Problems), report(res))
	}
	p := res.Problems[0]
	object := d.Object
	if k == check.BlobMissing {
		object = "" // a blob stored nowhere has no object
	}
	if p.Kind != k || p.Object != object {
		t.Fatalf("want %s of %q, got:\n%s", k, object, report(res))
	}
	if got := affected(p); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("affected paths:\n got %v\nwant %v", got, d.Affected)
	}
	// Check knows the lost blobs it met: not what was inside a lost tree.
	lost := d.LostSet()
	for _, b := range p.Lost {
		if !lost[b] {
			t.Fatalf("check says blob %s is lost; the damage did not lose it", b.Short())
		}
	}
	if len(d.Lost) > 0 && len(p.Lost) == 0 {
		t.Fatal("check lists no lost blob")
	}
	return p
}

func hint(t *testing.T, res *check.Result, want string) {
	t.Helper()
	if got := res.Hint(); got != want {
		t.Fatalf("hint %q, want %q", got, want)
	}
}

func TestClean(t *testing.T) {
	f := repotest.New(t)
	res := run(t, f, check.Options{ReadData: true})
	if !res.OK() || len(res.Notices) != 0 {
		t.Fatalf("a fresh repository:\n%s", report(res))
	}
	if res.Snapshots != 2 || res.Packs < 3 || res.PacksRead != res.Packs || res.Blobs == 0 {
		t.Fatalf("counts: %+v", res)
	}
	hint(t, res, "")
}

func TestMissingPack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("media/big.bin"))
	res := run(t, f, check.Options{})
	p := one(t, res, check.PackMissing, d)
	if !strings.HasPrefix(p.Message, "missing (") {
		t.Fatalf("message %q", p.Message)
	}
	hint(t, res, "run `cairn repair index`, then `cairn repair snapshots`")
}

// A lost tree pack costs whole folders; check names the folders.
func TestMissingTreePack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("docs"))
	if len(d.Paths()) == 0 {
		t.Fatal("fixture: the tree pack of docs holds nothing a snapshot needs")
	}
	one(t, run(t, f, check.Options{}), check.PackMissing, d)
}

func TestTruncatedPack(t *testing.T) {
	f := repotest.New(t)
	d := f.TruncatePack(f.PackOf("media/clip.bin"))
	res := run(t, f, check.Options{ReadData: true})
	p := one(t, res, check.PackDamaged, d)
	if !strings.Contains(p.Message, "truncated") || !strings.Contains(p.Message, "header: ") {
		t.Fatalf("message %q", p.Message)
	}
	hint(t, res, "run `cairn repair index`, then `cairn repair snapshots`")
}

// A flipped bit inside a blob leaves sizes and headers intact: only
// reading the data finds it, in every subset that holds the pack.
func TestFlippedBit(t *testing.T) {
	f := repotest.New(t)
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	if res := run(t, f, check.Options{}); !res.OK() {
		t.Fatalf("structure check found:\n%s", report(res))
	}
	res := run(t, f, check.Options{ReadData: true})
	p := one(t, res, check.PackData, d)
	if !strings.Contains(p.Message, "content does not match its name") || !strings.Contains(p.Message, "1 of ") {
		t.Fatalf("message %q", p.Message)
	}
	hint(t, res, "run `cairn repair index --read-data`, then `cairn repair snapshots`")

	const m = 3
	part := check.Part(d.Pack, m)
	read := 0
	for n := uint64(1); n <= m; n++ {
		sub, err := check.ParseSubset(strings.Join([]string{string(rune('0' + n)), string(rune('0' + m))}, "/"))
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, f, check.Options{Subset: &sub})
		read += res.PacksRead
		if got := !res.OK(); got != (n == part) {
			t.Fatalf("subset %s: found damage %v, pack is in part %d:\n%s", sub, got, part, report(res))
		}
	}
	if read != res.Packs {
		t.Fatalf("parts 1/3..3/3 read %d packs, there are %d", read, res.Packs)
	}
	all, _ := check.ParseSubset("100%")
	one(t, run(t, f, check.Options{Subset: &all}), check.PackData, d)
}

// A pack no index names is what an interrupted ingest leaves: a notice,
// not an error.
func TestUnreferencedPack(t *testing.T) {
	f := repotest.New(t)
	d := f.AddUnreferencedPack()
	res := run(t, f, check.Options{ReadData: true})
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.PackUnreferenced || res.Notices[0].Object != d.Object {
		t.Fatalf("want one unreferenced-pack notice for %s:\n%s", d.Object, report(res))
	}
	if !strings.Contains(res.Notices[0].Message, "(3 blobs)") {
		t.Fatalf("message %q", res.Notices[0].Message)
	}
}

func TestDuplicateBlobs(t *testing.T) {
	f := repotest.New(t)
	d := f.DuplicatePack(f.PackOf("docs/a.txt"))
	res := run(t, f, check.Options{ReadData: true})
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.BlobDuplicate {
		t.Fatalf("want one duplicate notice:\n%s", report(res))
	}
	n := res.Notices[0]
	for _, pid := range d.Packs {
		if !strings.Contains(n.Object+" "+n.Message, pid.String()) {
			t.Fatalf("notice does not name pack %s: %s %s", pid.Short(), n.Object, n.Message)
		}
	}
}

// Without its index segment a pack is invisible: what snapshots need from
// it is reported under the pack, and repair index brings it back.
func TestMissingSegment(t *testing.T) {
	f := repotest.New(t)
	d := f.RemoveSegmentOf(f.PackOf("media/clip.bin"))
	res := run(t, f, check.Options{})
	if len(res.Problems) == 0 {
		t.Fatal("no problem found")
	}
	for _, p := range res.Problems {
		if p.Kind != check.PackNotIndexed || !strings.Contains(p.Message, "in no index segment, yet snapshots need") {
			t.Fatalf("unexpected problem:\n%s", report(res))
		}
		found := false
		for _, pid := range d.Packs {
			found = found || strings.HasSuffix(p.Object, pid.String())
		}
		if !found {
			t.Fatalf("problem about %s, which the removed segment did not name", p.Object)
		}
	}
	if got := affected(res.Problems...); !reflect.DeepEqual(got, d.Affected) {
		t.Fatalf("affected:\n got %v\nwant %v", got, d.Affected)
	}
	hint(t, res, "run `cairn repair index`")
}

func TestDamagedSnapshot(t *testing.T) {
	f := repotest.New(t)
	d := f.DamageSnapshot(f.Snapshots[0].ID)
	// A host whose local index never read the snapshot has nothing of it
	// left: only forgetting it is left to do.
	fresh := f.Open()
	defer fresh.Close()
	res, err := check.Run(context.Background(), fresh, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := one(t, res, check.SnapshotDamaged, d)
	if !strings.Contains(p.Message, "content does not match its name") || strings.Contains(p.Message, "keeps a copy") {
		t.Fatalf("message %q", p.Message)
	}
	hint(t, res, "run `cairn repair snapshots --forget`")

	// The host that wrote it keeps a copy, which restores read: it is
	// not lost, and repair stores it again.
	res = run(t, f, check.Options{})
	p = one(t, res, check.SnapshotDamaged, d)
	if !strings.Contains(p.Message, "content does not match its name") || !strings.Contains(p.Message, "local index keeps a copy of it") {
		t.Fatalf("message %q", p.Message)
	}
	hint(t, res, "run `cairn repair snapshots`")
}

func TestDanglingBlob(t *testing.T) {
	f := repotest.New(t)
	d := f.DanglingBlob("media/clip.bin")
	res := run(t, f, check.Options{})
	p := one(t, res, check.BlobMissing, d)
	if p.Blob != d.Lost[0] || !strings.Contains(p.Message, d.Lost[0].String()) {
		t.Fatalf("problem names blob %s (%q), want %s", p.Blob.Short(), p.Message, d.Lost[0].Short())
	}
	hint(t, res, "run `cairn repair snapshots`")
}

func TestParseSubset(t *testing.T) {
	for _, s := range []string{"10%", "100%", "0.5%", "1/1", "3/7"} {
		sub, err := check.ParseSubset(s)
		if err != nil || sub.String() != s {
			t.Errorf("%s: %v %v", s, sub, err)
		}
	}
	for _, s := range []string{"0%", "101%", "x%", "0/3", "4/3", "1/0", "1", "a/b", "-1/2"} {
		if _, err := check.ParseSubset(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	var ids []id.ID
	for i := 0; i < 200; i++ {
		var x id.ID
		x[0], x[1] = byte(i*37), byte(i)
		ids = append(ids, x)
	}
	seen := map[id.ID]int{}
	for n := 1; n <= 7; n++ {
		sub, _ := check.ParseSubset(strings.Join([]string{string(rune('0' + n)), "7"}, "/"))
		for _, x := range sub.Select(ids) {
			seen[x]++
		}
	}
	for _, x := range ids {
		if seen[x] != 1 {
			t.Fatalf("pack %s is in %d of the parts 1/7..7/7", x.Short(), seen[x])
		}
	}
	sub, _ := check.ParseSubset("10%")
	if got := len(sub.Select(ids)); got != 20 {
		t.Fatalf("10%% of 200 packs: %d", got)
	}
}

// outage fails every read of the objects whose names start with prefix,
// as storage that is down does once the retries run out.
type outage struct {
	backends.Backend
	prefix string
}

var errOutage = errors.New("503 Service Unavailable (injected)")

func (o *outage) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if o.prefix != "" && strings.HasPrefix(name, o.prefix) {
		return nil, fmt.Errorf("load %s: %w", name, errOutage)
	}
	return o.Backend.Load(ctx, name, offset, length)
}

func (o *outage) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	if o.prefix != "" && strings.HasPrefix(name, o.prefix) {
		return fmt.Errorf("load %s: %w", name, errOutage)
	}
	return backends.LoadInto(ctx, o.Backend, name, offset, buf)
}

// TestStorageOutage: a read the storage fails (not a missing, short or
// damaged object) is no damage. Check said it was: "pack damaged", "pack
// data", "snapshot damaged", with paths the snapshots "lose", and advised
// `cairn repair index --read-data` and `repair snapshots --forget`. Now it
// names each object it could not read, advises running it again, and
// stops when it cannot read the index.
func TestStorageOutage(t *testing.T) {
	f := repotest.New(t)
	be := &outage{Backend: f.Backend}
	r, err := repo.Open(context.Background(), be, repo.Options{Password: []byte(repo.TestPassword), KDF: &repo.TestKDF, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, prefix := range []string{"data/", "tree/", "snapshots/"} {
		be.prefix = prefix
		res, err := check.Run(context.Background(), r, check.Options{ReadData: true})
		if err != nil {
			t.Fatalf("%s unreadable: check: %v", prefix, err)
		}
		if res.OK() {
			t.Fatalf("%s unreadable: check found nothing wrong", prefix)
		}
		for _, p := range res.Problems {
			if p.Kind != check.Unreadable || !strings.HasPrefix(p.Object, prefix) || len(p.Affected) != 0 || !strings.Contains(p.Message, errOutage.Error()) {
				t.Fatalf("%s unreadable:\n%s", prefix, report(res))
			}
		}
		if h := res.Hint(); strings.Contains(h, "repair") || !strings.Contains(h, "run `cairn check` again") {
			t.Fatalf("%s unreadable: hint %q", prefix, h)
		}
	}
	be.prefix = "index/"
	if _, err := check.Run(context.Background(), r, check.Options{}); err == nil || !errors.Is(err, errOutage) || !strings.Contains(err.Error(), "index/") {
		t.Fatalf("index unreadable: check: %v", err)
	}
	be.prefix = ""
	if res := run(t, f, check.Options{ReadData: true}); !res.OK() {
		t.Fatalf("after the outage:\n%s", report(res))
	}
}

// Read-data fetches a pack a window at a time and opens each blob where it
// was read: blobs cut by a window's end, blobs larger than a window and
// windows smaller than a blob must all verify, and a flipped bit must still
// be found in exactly its blob, whatever the window.
func TestReadDataWindows(t *testing.T) {
	f := repotest.New(t)
	clean := run(t, f, check.Options{ReadData: true})
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	for _, w := range []int64{1, 7, 1000, 4096, 1 << 16, 1 << 30} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			defer check.SetReadWindow(w)()
			res := run(t, f, check.Options{ReadData: true})
			if res.PacksRead != clean.PacksRead || res.BytesRead != clean.BytesRead {
				t.Fatalf("read %d packs, %d bytes; with the default window %d, %d", res.PacksRead, res.BytesRead, clean.PacksRead, clean.BytesRead)
			}
			p := one(t, res, check.PackData, d)
			if !strings.Contains(p.Message, "1 of ") {
				t.Fatalf("message %q", p.Message)
			}
		})
	}
}

// A repository whose snapshots are all gone while its packs remain (the
// snapshots folder deleted by accident, or by a sync tool) is not called
// clean without a word: the notice says that recover can make a snapshot
// of what the packs hold.
func TestNoSnapshotsNotice(t *testing.T) {
	f := repotest.New(t)
	for _, sn := range f.Snapshots {
		if err := f.Backend.Remove(context.Background(), "snapshots/"+sn.ID.String()); err != nil {
			t.Fatal(err)
		}
	}
	fresh := f.Open()
	defer fresh.Close()
	res, err := check.Run(context.Background(), fresh, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Notices) != 1 || res.Notices[0].Kind != check.NoSnapshots || !strings.Contains(res.Notices[0].Message, "`cairn recover`") {
		t.Fatalf("no snapshot left:\n%s", report(res))
	}
}
