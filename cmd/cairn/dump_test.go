package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// cairn dump gives back a file's bytes, and a folder as a tar archive that
// GNU tar extracts to a tree equal to the source: every kind of entry and
// attribute the source holds, but the socket (tar has none).
func TestDumpRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Fatal("the dump test checks archives with GNU tar, which is missing")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 3)
	c.ok("ingest", src)

	for _, rel := range []string{testtree.FileBig, testtree.FileText, testtree.SparseMiddle} {
		want, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ok("dump", "latest:"+filepath.Join(src, rel)); got != string(want) {
			t.Errorf("dump of %s: %d bytes, want the file's %d", rel, len(got), len(want))
		}
	}
	// restic's form: the path as a second argument
	want, _ := os.ReadFile(filepath.Join(src, testtree.FileSmall))
	if got := c.ok("dump", "latest", filepath.Join(src, testtree.FileSmall)); got != string(want) {
		t.Errorf("dump latest PATH gave %d bytes, want %d", len(got), len(want))
	}

	work := t.TempDir()
	archive := filepath.Join(work, "src.tar")
	c.ok("dump", "--target", archive, "latest:"+src)
	out := filepath.Join(work, "out")
	os.Mkdir(out, 0o755)
	tarOut, err := exec.Command("tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls",
		"-f", archive, "-C", out).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -x: %v\n%s", err, tarOut)
	}
	if _, err := os.Stat(filepath.Join(out, "src")); err != nil {
		t.Fatalf("the archive's entries are not named below the folder's name: %v", err)
	}
	var diffs []string
	for _, d := range testtree.Compare(t, src, filepath.Join(out, "src"), testtree.CompareOptions{}) {
		if !strings.Contains(d, "sock") {
			diffs = append(diffs, d)
		}
	}
	if len(diffs) > 0 {
		t.Errorf("the extracted archive differs from the source:\n%s", strings.Join(diffs, "\n"))
	}

	// A stream's snapshot gives back the stream, by the name it was given.
	stream := bytes.Repeat([]byte("COPY app (id) FROM stdin;\n"), 5000)
	in := c.cmd("ingest", "--stdin", "--stdin-name", "app.sql", "--source", "db")
	in.Stdin = bytes.NewReader(stream)
	if b, err := in.CombinedOutput(); err != nil {
		t.Fatalf("ingest --stdin: %v\n%s", err, b)
	}
	if got := c.ok("dump", "--source", "db", "latest:app.sql"); got != string(stream) {
		t.Errorf("dump of the stream gave %d bytes, want %d", len(got), len(stream))
	}
	// A folder is not written to a terminal, nor a missing path anywhere.
	if _, code := c.run("dump", "latest:"+filepath.Join(src, "nowhere")); code != 1 {
		t.Errorf("dump of a missing path exited %d, want 1", code)
	}
}

// A lost pack: a file's dump stops with an error naming the chunk (exit
// 1); an archive goes on, with the lost chunks as zeros and the file named
// in a warning, still a valid archive, and exits 1.
func TestDumpLostPack(t *testing.T) {
	f := repotest.New(t)
	f.RemovePack(f.PackOf("media/big.bin"))
	c := fixtureCLI(t, f)
	big := filepath.Join(f.Source, "media/big.bin")
	if _, code := c.run("dump", "latest:"+big); code != 1 {
		t.Errorf("dump of a file whose pack is lost exited %d, want 1", code)
	}
	var stderr bytes.Buffer
	cmd := c.cmd("dump", "latest:"+f.Source)
	var archive bytes.Buffer
	cmd.Stdout, cmd.Stderr = &archive, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("dump of a folder with a lost pack: %v, want exit 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "media/big.bin: chunk ") || !strings.Contains(stderr.String(), "written as zeros") {
		t.Errorf("the warning does not name the file and what became of it:\n%s", stderr.String())
	}
	list := exec.Command("tar", "-t", "-v", "-f", "-")
	list.Stdin = &archive
	out, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "media/big.bin") {
		t.Errorf("tar cannot read the archive (%v):\n%s", err, out)
	}
}
