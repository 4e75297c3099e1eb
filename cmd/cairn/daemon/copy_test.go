package daemon

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/registry"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/forget"
	"github.com/cairn-backup/cairn/repo/restore"
)

// initCopyRepo makes a repository in the folder dir with password.
func initCopyRepo(t *testing.T, dir, password string) {
	t.Helper()
	ctx := context.Background()
	be, err := registry.CreateWith(ctx, dir, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := repo.Init(ctx, be, repo.Options{Password: []byte(password), KDF: &repo.TestKDF}); err != nil {
		t.Fatal(err)
	}
}

// openRepo opens the repository in dir, as the cairn command opens a
// copy's (password from the first line of the file).
func openRepo(ctx context.Context, location, passwordFile, cacheDir string) (*repo.Repository, error) {
	b, err := os.ReadFile(passwordFile)
	if err != nil {
		return nil, err
	}
	pw, _, _ := bytes.Cut(b, []byte("\n"))
	be, err := registry.OpenWith(ctx, location, registry.Options{})
	if err != nil {
		return nil, err
	}
	r, err := repo.Open(ctx, be, repo.Options{Password: pw, CacheDir: cacheDir})
	if err != nil {
		be.Close()
		return nil, err
	}
	return r, nil
}

func mustOpen(t *testing.T, location, passwordFile string) *repo.Repository {
	t.Helper()
	r, err := openRepo(context.Background(), location, passwordFile, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func snapshotsIn(t *testing.T, r *repo.Repository) []*repo.Snapshot {
	t.Helper()
	list, err := r.Snapshots(context.Background(), func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// sameTree fails unless the regular files under a and b are the same.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	n := 0
	filepath.WalkDir(a, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(a, p)
		if !e.Type().IsRegular() {
			return nil
		}
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: restored %d bytes (%v), want %d", rel, len(got), err, len(want))
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatalf("no files under %s", a)
	}
}

// TestSourceCopies runs a source with three copy destinations: one that
// works (with the source's retention applied in it), one whose folder is
// missing at first and appears later (the next run catches up), and one
// whose password is wrong. The ingest succeeds whatever the copies do;
// status, metrics and the log tell each copy's outcome; the copies
// restore the source's files.
func TestSourceCopies(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a"), bytes.Repeat([]byte("first file "), 50_000), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "b"), []byte("second file"), 0o644)
	pass, wrong := filepath.Join(work, "pass"), filepath.Join(work, "wrong")
	os.WriteFile(pass, []byte("copy password\n"), 0o600)
	os.WriteFile(wrong, []byte("not the password\n"), 0o600)
	offsite, late, locked := filepath.Join(work, "offsite"), filepath.Join(work, "late"), filepath.Join(work, "locked")
	initCopyRepo(t, offsite, "copy password")
	initCopyRepo(t, locked, "copy password")

	cfg := &Config{Host: "h",
		Copies: []Copy{
			{Name: "offsite", Repository: offsite, PasswordFile: pass, ApplyRetention: true},
			{Name: "late", Repository: late, PasswordFile: pass},
			{Name: "locked", Repository: locked, PasswordFile: wrong},
		},
		Sources: []Source{{Name: "s", Paths: []string{src}, Retention: &Retention{KeepLast: 2}, CopyTo: []string{"offsite", "late", "locked"}}},
	}
	d, log := newTestDaemon(t, cfg)
	cache := t.TempDir()
	d.deps.OpenCopy = func(ctx context.Context, _ *Config, c *Copy) (*repo.Repository, error) {
		return openRepo(ctx, c.Repository, c.PasswordFile, cache)
	}
	run := func() RunResult {
		t.Helper()
		ch, err := d.runner.request("s")
		if err != nil {
			t.Fatal(err)
		}
		res := <-ch
		if res.Outcome != OutcomeSuccess || res.SnapshotID == "" {
			t.Fatalf("run: %+v", res)
		}
		return res
	}
	copies := func(res RunResult) map[string]CopyResult {
		out := map[string]CopyResult{}
		for _, c := range res.Copies {
			out[c.Destination] = c
		}
		if len(out) != 3 {
			t.Fatalf("copies of the run: %+v", res.Copies)
		}
		return out
	}
	metric := func(family, dest string) float64 {
		t.Helper()
		v, ok := d.metrics.set.CopyValue(family, "h", "s", dest)
		if !ok {
			t.Fatalf("no %s{destination=%q}", family, dest)
		}
		return v
	}

	// Run 1: the ingest succeeds; offsite has the copy, late and locked
	// failed.
	res := run()
	c := copies(res)
	if c["offsite"].Outcome != OutcomeSuccess || c["offsite"].Copied != 1 || c["offsite"].AddedBytes <= 0 {
		t.Errorf("offsite: %+v", c["offsite"])
	}
	if c["late"].Outcome != OutcomeFailure || c["late"].Error == "" {
		t.Errorf("late: %+v", c["late"])
	}
	if l := c["locked"]; l.Outcome != OutcomeFailure || !strings.Contains(l.Error, "wrong password") {
		t.Errorf("locked: %+v", l)
	}
	sources, _ := d.runner.status(d.config())
	if len(sources) != 1 || len(sources[0].Copies) != 3 {
		t.Fatalf("status: %+v", sources)
	}
	st := sources[0]
	if st.LastRun.Outcome != OutcomeSuccess || st.Failures != 0 {
		t.Errorf("a failed copy failed the run: %+v", st.LastRun)
	}
	for i, want := range []struct {
		dest, outcome string
		success       bool
		failures      int
	}{{"offsite", OutcomeSuccess, true, 0}, {"late", OutcomeFailure, false, 1}, {"locked", OutcomeFailure, false, 1}} {
		got := st.Copies[i]
		if got.Destination != want.dest || got.Outcome != want.outcome || (got.LastSuccess != nil) != want.success || got.Failures != want.failures || got.Start.IsZero() {
			t.Errorf("status of copy %d: %+v, want %+v", i, got, want)
		}
	}
	if v := metric(metrics.CopyLastOK, "offsite"); v != 1 {
		t.Errorf("offsite: last ok %v", v)
	}
	if v := metric(metrics.CopyLastSuccess, "offsite"); v < 1e9 {
		t.Errorf("offsite: last success %v", v)
	}
	if v := metric(metrics.CopyAddedBytes, "offsite"); v != float64(c["offsite"].AddedBytes) {
		t.Errorf("offsite: added bytes %v", v)
	}
	for _, dest := range []string{"late", "locked"} {
		if v := metric(metrics.CopyLastOK, dest); v != 0 {
			t.Errorf("%s: last ok %v", dest, v)
		}
		if v := metric(metrics.CopyFailures, dest); v != 1 {
			t.Errorf("%s: failures %v", dest, v)
		}
	}
	if v, ok := d.metrics.set.Value(metrics.LastOK, "h", "s"); !ok || v != 1 {
		t.Errorf("the source's own last ok: %v %v", v, ok)
	}
	for _, want := range []string{"source s: copy to offsite: success", "source s: copy to late: failure", "source s: copy to locked: failure"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}

	// late appears: the next run copies both snapshots the repository
	// has into it.
	initCopyRepo(t, late, "copy password")
	os.WriteFile(filepath.Join(src, "sub", "b"), []byte("second file, changed"), 0o644)
	c = copies(run())
	if c["late"].Outcome != OutcomeSuccess || c["late"].Copied != 2 {
		t.Errorf("late caught up: %+v", c["late"])
	}
	if c["offsite"].Copied != 1 {
		t.Errorf("offsite copied %d, want the new snapshot only", c["offsite"].Copied)
	}

	// A third run: retention keeps 2 in the repository and in offsite
	// (apply_retention), late keeps every copy.
	os.WriteFile(filepath.Join(src, "c"), []byte("third file"), 0o644)
	c = copies(run())
	if c["offsite"].Removed != 1 || c["late"].Removed != 0 {
		t.Errorf("retention in the copies: offsite removed %d, late %d", c["offsite"].Removed, c["late"].Removed)
	}
	main := snapshotsIn(t, d.r)
	if len(main) != 2 {
		t.Fatalf("%d snapshots in the repository", len(main))
	}
	dst := mustOpen(t, offsite, pass)
	got := snapshotsIn(t, dst)
	if len(got) != 2 {
		t.Fatalf("%d snapshots in offsite, want 2", len(got))
	}
	for i, sn := range got {
		if sn.CopiedFrom == nil || *sn.CopiedFrom != main[i].ID || sn.Host != "h" || sn.Source != "s" {
			t.Errorf("offsite snapshot %d: copied_from %v, want %s", i, sn.CopiedFrom, main[i].ID.Short())
		}
	}
	if n := len(snapshotsIn(t, mustOpen(t, late, pass))); n != 3 {
		t.Errorf("%d snapshots in late, want 3", n)
	}
	target := filepath.Join(work, "restored")
	if _, err := restore.Run(ctx, dst, got[len(got)-1], src, restore.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, target)

	sources, _ = d.runner.status(d.config())
	if l := sources[0].Copies[2]; l.Destination != "locked" || l.Failures != 3 || l.LastSuccess != nil {
		t.Errorf("status of locked after 3 runs: %+v", l)
	}
	if l := sources[0].Copies[1]; l.Outcome != OutcomeSuccess || l.Failures != 1 || l.LastSuccess == nil {
		t.Errorf("status of late after it came: %+v", l)
	}
}

// A run that saves no snapshot copies nothing; a source without copy_to
// copies nowhere.
func TestNoCopyWithoutSnapshot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644)
	cfg := &Config{Host: "h", Copies: []Copy{{Name: "x", Repository: filepath.Join(dir, "none"), PasswordFile: "/nonexistent"}},
		Sources: []Source{
			{Name: "broken", Paths: []string{dir}, CopyTo: []string{"x"}, Before: []Hook{{Command: Command{"/bin/sh", "-c", "exit 1"}}}},
			{Name: "plain", Paths: []string{dir}},
		}}
	d, _ := newTestDaemon(t, cfg)
	opened := 0
	d.deps.OpenCopy = func(context.Context, *Config, *Copy) (*repo.Repository, error) {
		opened++
		return nil, errors.New("opened")
	}
	for _, src := range cfg.Sources {
		res := d.runSource(context.Background(), src, nil)
		if len(res.Copies) != 0 {
			t.Errorf("%s: copies %+v", src.Name, res.Copies)
		}
	}
	if opened != 0 {
		t.Errorf("a copy destination was opened %d times", opened)
	}
}

// With apply_retention, a snapshot that the policy would forget in the
// destination at once is not copied: after a destination was away for
// several runs, keep_last 1 copies the newest snapshot only, and the
// policy never forgets a copy that the next run would copy again.
func TestKeptAfterCopy(t *testing.T) {
	at := func(h int) *repo.Snapshot {
		return &repo.Snapshot{Host: "h", Source: "s", Time: time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC)}
	}
	old, s1, s2 := at(1), at(2), at(3)
	other := &repo.Snapshot{Host: "h", Source: "other", Time: at(4).Time}
	todo, skipped := keptAfterCopy([]*repo.Snapshot{s1, s2}, []*repo.Snapshot{old, other}, "h", "s", forget.Policy{Last: 1})
	if skipped != 1 || len(todo) != 1 || todo[0] != s2 {
		t.Errorf("keep_last 1: copy %v, skip %d; want s2 only", todo, skipped)
	}
	todo, skipped = keptAfterCopy([]*repo.Snapshot{s1, s2}, []*repo.Snapshot{old}, "h", "s", forget.Policy{Last: 3})
	if skipped != 0 || len(todo) != 2 {
		t.Errorf("keep_last 3: copy %v, skip %d; want both", todo, skipped)
	}
}

// Retention and copy judge each stream of a source as a series of its
// own, as forget's default grouping does: keep_last 1 over the dumps of
// two databases under one source keeps the newest of each, not only the
// newest dump of the two.
func TestRetentionSeriesPerStream(t *testing.T) {
	dump := func(name string, h int) *repo.Snapshot {
		return &repo.Snapshot{Host: "h", Source: "db", Paths: []string{name}, Time: time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC)}
	}
	app1, other1, app2, other2 := dump("app.sql", 1), dump("other.sql", 2), dump("app.sql", 3), dump("other.sql", 4)
	res, ok := applySeries([]*repo.Snapshot{app1, other1, app2, other2}, forget.Policy{Last: 1})
	if !ok || len(res.Keep) != 2 || len(res.Remove) != 2 {
		t.Fatalf("keep_last 1: keep %d, remove %d (ok %v); want the newest of each stream", len(res.Keep), len(res.Remove), ok)
	}
	for _, k := range res.Keep {
		if k.Snapshot != app2 && k.Snapshot != other2 {
			t.Errorf("kept %s at %v", k.Snapshot.Paths[0], k.Snapshot.Time)
		}
	}
	todo, skipped := keptAfterCopy([]*repo.Snapshot{app2}, []*repo.Snapshot{app1, other2}, "h", "db", forget.Policy{Last: 1})
	if skipped != 0 || len(todo) != 1 {
		t.Errorf("copy: the newest app.sql dump is skipped behind a newer other.sql (%d skipped)", skipped)
	}
}

// An ingest saves the paths of a source that are there and leaves out one
// that is missing (a disk not mounted). Retention judges the snapshots
// without it as a series of their own: keep_last 2, over a week of runs
// while the disk was gone, must not forget the last snapshots that hold
// it, which were then the only backup of that disk.
func TestRetentionKeepsSnapshotsOfAPathMissingSince(t *testing.T) {
	at := func(h int, paths ...string) *repo.Snapshot {
		return &repo.Snapshot{Host: "h", Source: "s", Paths: paths, Time: time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC)}
	}
	full1, full2 := at(1, "/etc", "/srv/data"), at(2, "/etc", "/srv/data")
	list := []*repo.Snapshot{full1, full2}
	for h := 3; h < 10; h++ {
		list = append(list, at(h, "/etc"))
	}
	res, ok := applySeries(list, forget.Policy{Last: 2})
	if !ok {
		t.Fatal("the policy keeps none of a series")
	}
	for _, r := range res.Remove {
		if r == full1 || r == full2 {
			t.Errorf("keep_last 2 forgot a snapshot holding /srv/data (%v) behind the runs that lacked it", r.Time)
		}
	}
	if len(res.Keep) != 4 {
		t.Errorf("kept %d snapshots; want the last two of each series", len(res.Keep))
	}
}
