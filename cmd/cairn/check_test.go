package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/repotest"
)

// fixtureCLI runs the built cairn binary on a damaged-repository fixture,
// with a cache folder of its own.
func fixtureCLI(t *testing.T, f *repotest.Fixture) *cli {
	return &cli{t: t, bin: cairnBinary(t), env: append(os.Environ(), f.Env()...)}
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}

func wantExit(t *testing.T, c *cli, code int, args ...string) string {
	t.Helper()
	out, got := c.run(args...)
	if got != code {
		t.Fatalf("cairn %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, out)
	}
	return out
}

// hasLines asserts that out holds every line of want, in that order.
func hasLines(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w+"\n")
		if i < 0 || (i > 0 && rest[i-1] != '\n') {
			t.Fatalf("output lacks the line %q (in order):\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}

func TestCheckCleanCLI(t *testing.T) {
	f := repotest.New(t)
	c := fixtureCLI(t, f)
	out := c.ok("check", "--read-data")
	if lastLine(out) != "no errors found" || strings.Contains(out, "error:") || strings.Contains(out, "notice:") {
		t.Fatalf("check of a fresh repository:\n%s", out)
	}
	out = c.ok("check", "--read-data-subset", "1/2")
	if lastLine(out) != "no errors found" {
		t.Fatalf("check --read-data-subset 1/2:\n%s", out)
	}
	if out, code := c.run("check", "--read-data-subset", "0/2"); code != 1 || out != "" {
		t.Fatalf("a bad subset: exit %d, %q", code, out)
	}
}

// The whole story of a lost pack through the CLI: check names the pack
// and every path, exits 1 and says what to run; repair index drops the
// pack; repair snapshots lists what each snapshot loses; after --forget
// the repository checks clean and the repaired snapshot restores.
func TestMissingPackCLI(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("media/big.bin"))
	c := fixtureCLI(t, f)

	out := wantExit(t, c, 1, "check")
	want := []string{}
	if !strings.HasPrefix(out, "error: pack "+d.Object+": missing (") {
		t.Fatalf("check does not start with the missing pack:\n%s", out)
	}
	for _, sn := range f.Snapshots {
		want = append(want, d.Affected[sn.ID]...)
	}
	for i, p := range want {
		want[i] = "    " + p
	}
	hasLines(t, out, want...)
	if got := lastLine(out); got != "1 error found: run `cairn repair index`, then `cairn repair snapshots`" {
		t.Fatalf("last line %q", got)
	}

	out = c.ok("repair", "index")
	hasLines(t, out, "pack "+d.Object+": missing; dropped from the index ("+plural(len(d.Lost), "blob")+")")
	if !strings.HasPrefix(lastLine(out), plural(len(d.Lost), "blob")+" lost: ") {
		t.Fatalf("repair index:\n%s", out)
	}
	out = wantExit(t, c, 1, "check")
	if got := lastLine(out); !strings.HasSuffix(got, "error found: run `cairn repair snapshots`") && !strings.HasSuffix(got, "errors found: run `cairn repair snapshots`") {
		t.Fatalf("check after repair index:\n%s", out)
	}

	out = c.ok("repair", "snapshots")
	for _, sn := range f.Snapshots {
		var lines []string
		for _, p := range d.Affected[sn.ID] {
			lines = append(lines, "  "+p+" (file: ")
		}
		for _, l := range lines {
			if !strings.Contains(out, "\n"+l) {
				t.Fatalf("repair snapshots does not list %q:\n%s", l, out)
			}
		}
	}
	if !strings.HasPrefix(lastLine(out), "repaired 2 snapshots of 2; the originals are kept until forgotten") {
		t.Fatalf("repair snapshots:\n%s", out)
	}
	wantExit(t, c, 1, "check")
	out = c.ok("repair", "snapshots", "--forget")
	if strings.Count(out, "forgotten\n") != 2 {
		t.Fatalf("repair snapshots --forget:\n%s", out)
	}
	if lastLine(c.ok("check", "--read-data")) != "no errors found" {
		t.Fatal("check after the repairs found errors")
	}
	dst := t.TempDir()
	c.ok("restore", "latest", "--target", dst)
	lost := map[string]bool{}
	for _, p := range d.Affected[f.Latest().ID] {
		lost[p] = true
	}
	for _, rel := range f.Files() {
		src := filepath.Join(f.Source, rel)
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dst, f.Path(rel)))
		if lost[f.Path(rel)] {
			if err == nil {
				t.Errorf("the lost file %s was restored", rel)
			}
			continue
		}
		if a, _ := os.ReadFile(src); err != nil || string(a) != string(b) {
			t.Errorf("the intact file %s did not restore: %v", rel, err)
		}
	}
}

// Self-healing through the CLI: a file the unchanged-file cache knows is
// read again when its chunks are no longer indexed, and the snapshot that
// lost it restores whole again.
func TestIngestHealsCLI(t *testing.T) {
	f := repotest.New(t)
	c := fixtureCLI(t, f)
	c.ok("ingest", "--host", repotest.Host, f.Source) // fills this cache's file-change entries
	before := f.Snapshots[1]
	d := f.RemovePack(f.PackOf("media/big.bin"))
	wantExit(t, c, 1, "check")
	c.ok("repair", "index")
	out := c.ok("ingest", "--json", "--host", repotest.Host, f.Source)
	var sum struct {
		FilesChanged int `json:"files_changed"`
		DataBlobs    int `json:"data_blobs"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &sum); err != nil || sum.FilesChanged == 0 || sum.DataBlobs == 0 || len(d.Lost) == 0 {
		t.Fatalf("the ingest after repair index did not store the lost data again (%v): %s", err, lastLine(out))
	}
	dst := t.TempDir()
	c.ok("restore", before.ID.String(), "--target", dst)
	sameFiles(t, f.Source, filepath.Join(dst, f.Source))
}

// A flipped bit shows only with --read-data; --json gives one line per
// problem and a summary with the hint.
func TestFlippedBitCLI(t *testing.T) {
	f := repotest.New(t)
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	c := fixtureCLI(t, f)
	c.ok("check")
	out := wantExit(t, c, 1, "check", "--read-data", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want an error line and a summary:\n%s", out)
	}
	var p struct {
		Type     string   `json:"message_type"`
		Kind     string   `json:"kind"`
		Object   string   `json:"object"`
		Fix      []string `json:"fix"`
		Affected []struct {
			Snapshot string   `json:"snapshot_id"`
			Paths    []string `json:"paths"`
		} `json:"affected"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "error" || p.Kind != "pack-data" || p.Object != d.Object || len(p.Affected) != len(d.Affected) ||
		strings.Join(p.Fix, ";") != "cairn repair index --read-data;cairn repair snapshots" {
		t.Fatalf("error line: %s", lines[0])
	}
	for _, a := range p.Affected {
		var want []string
		for sid, ps := range d.Affected {
			if sid.String() == a.Snapshot {
				want = ps
			}
		}
		if strings.Join(a.Paths, " ") != strings.Join(want, " ") {
			t.Fatalf("snapshot %s: paths %v, want %v", a.Snapshot, a.Paths, want)
		}
	}
	var s struct {
		Type   string `json:"message_type"`
		Errors int    `json:"errors"`
		Hint   string `json:"hint"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &s); err != nil || s.Type != "summary" || s.Errors != 1 ||
		s.Hint != "run `cairn repair index --read-data`, then `cairn repair snapshots`" {
		t.Fatalf("summary: %s (%v)", lines[1], err)
	}
	out = c.ok("repair", "index", "--read-data")
	if !strings.Contains(out, "pack "+d.Object+": damaged (content does not match its name; ") {
		t.Fatalf("repair index does not name the damage on one line:\n%s", out)
	}
}

// Interrupted ingests leave packs no segment names: a notice, exit 0; a
// missing segment is an error that repair index fixes completely.
func TestIndexProblemsCLI(t *testing.T) {
	f := repotest.New(t)
	u := f.AddUnreferencedPack()
	c := fixtureCLI(t, f)
	out := c.ok("check")
	if !strings.Contains(out, "notice: pack "+u.Object+": in no index segment") || lastLine(out) != "no errors found" {
		t.Fatalf("check with an unreferenced pack:\n%s", out)
	}
	d := f.RemoveSegmentOf(f.PackOf("media/clip.bin"))
	out = wantExit(t, c, 1, "check")
	if lastLine(out) != plural(len(strings.Split(strings.TrimSpace(grepLines(out, "error: ")), "\n")), "error")+" found: run `cairn repair index`" {
		t.Fatalf("check with a missing segment:\n%s", out)
	}
	for _, p := range d.Paths() {
		if !strings.Contains(out, "    "+p+"\n") {
			t.Fatalf("check does not list %s:\n%s", p, out)
		}
	}
	out = c.ok("repair", "index")
	if lastLine(out) != "no blob was lost" || !strings.Contains(out, "pack "+u.Object+": named by no index segment; now indexed") {
		t.Fatalf("repair index:\n%s", out)
	}
	out = c.ok("check", "--read-data")
	if strings.Contains(out, "notice:") || lastLine(out) != "no errors found" {
		t.Fatalf("check after repair index:\n%s", out)
	}
}

// A damaged snapshot object: check names it, repair snapshots cannot
// mend it and --forget removes it.
func TestDamagedSnapshotCLI(t *testing.T) {
	f := repotest.New(t)
	d := f.DamageSnapshot(f.Snapshots[0].ID)
	c := fixtureCLI(t, f)
	out := wantExit(t, c, 1, "check")
	hasLines(t, out, "error: "+d.Object+": cannot be read: content does not match its name",
		"1 error found: run `cairn repair snapshots --forget`")
	out = c.ok("repair", "snapshots")
	if !strings.Contains(out, "snapshot "+d.Snapshot.Short()+": cannot be read (") {
		t.Fatalf("repair snapshots:\n%s", out)
	}
	c.ok("repair", "snapshots", "--forget")
	c.ok("check")
}

func grepLines(out, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
