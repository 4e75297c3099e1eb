package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The local index is only a cache: when its folder cannot be written (here
// a full filesystem), commands say so and work on a private index in a
// temporary folder instead of failing, restores first of all.
func TestCacheDirFull(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)

	mnt := smallTmpfs(t, "256k")
	os.MkdirAll(filepath.Join(mnt, "cache"), 0o700)
	// Fill it: the write that fails is the one that finds it full.
	fill, _ := os.Create(filepath.Join(mnt, "fill"))
	fill.Write(make([]byte, 1<<20))
	fill.Close()

	r := newCLIAt(t, c.repoDir(), "CAIRN_CACHE_DIR="+filepath.Join(mnt, "cache"))
	dst := t.TempDir()
	cmd := r.cmd("restore", "latest:"+src, "--target", dst)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restore with a full cache folder: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "no space left on device; using a private local index for this run") {
		t.Fatalf("restore with a full cache folder does not say why it is slower:\n%s", out)
	}
	sameFiles(t, src, dst)
	for _, args := range [][]string{{"snapshots"}, {"check"}, {"ingest", "-q", src}} {
		if out, err := r.cmd(args...).CombinedOutput(); err != nil {
			t.Fatalf("cairn %v with a full cache folder: %v\n%s", args, err, out)
		}
	}
}

// A cache folder that fills up during an ingest, after the local index was
// opened and brought up to date, must not cost the snapshot: the
// file-change cache is only a cache. It used to exit 1 with "save
// file-change cache: ... no space left on device" and no snapshot, after
// uploading everything.
func TestCacheDirFillsDuringIngest(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)

	mnt := smallTmpfs(t, "8m")
	r := newCLIAt(t, c.repoDir(), "CAIRN_CACHE_DIR="+filepath.Join(mnt, "cache"))
	r.ok("snapshots") // the local index, up to date, with room for nothing more
	fill, _ := os.Create(filepath.Join(mnt, "fill"))
	fill.Write(make([]byte, 16<<20))
	fill.Close()

	many := filepath.Join(src, "many")
	os.Mkdir(many, 0o755)
	for i := 0; i < 3000; i++ {
		os.WriteFile(filepath.Join(many, fmt.Sprintf("f%d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
	out, err := r.cmd("ingest", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ingest with a cache folder that fills up: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "no space left on device") {
		t.Fatalf("ingest does not say the cache folder is full:\n%s", out)
	}
	dst := t.TempDir()
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}

// cairn snapshots reads only the catalogue (CatalogueOnly), so the first
// write to the local index is the catalogue's: a full cache folder there
// must not fail the listing, as it did not when the index was synced
// first and the run fell back to a private index. It exited 1 with
// "no space left on device" and listed nothing.
func TestSnapshotsCacheDirFull(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)

	mnt := smallTmpfs(t, "8m")
	r := newCLIAt(t, c.repoDir(), "CAIRN_CACHE_DIR="+filepath.Join(mnt, "cache"))
	r.ok("snapshots") // the catalogue holds the first snapshot
	fill, _ := os.Create(filepath.Join(mnt, "fill"))
	fill.Write(make([]byte, 16<<20))
	fill.Close()

	// With the other cache: new snapshots, more than the pages the
	// local index freed before could hold.
	tag := strings.Repeat("t", 4000)
	for i := range 10 {
		os.WriteFile(filepath.Join(src, "new"), []byte(fmt.Sprint(i)), 0o644)
		c.ok("ingest", "-q", "--tag", tag, src)
	}
	out, err := r.cmd("snapshots", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("snapshots with a full cache folder: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), `"short_id"`); n != 11 {
		t.Fatalf("snapshots with a full cache folder listed %d snapshots, want 11:\n%s", n, out)
	}
}

// A full cache folder and a full temporary folder: the run cannot fall
// back to a private local index either, and must say so. It used to name
// only the cache folder, so a user who freed room there or pointed
// CAIRN_CACHE_DIR elsewhere had no hint that TMPDIR was full too.
func TestCacheDirAndTmpdirFull(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)

	cacheMnt := smallTmpfs(t, "64k")
	tmpMnt := smallTmpfs(t, "64k")
	for _, mnt := range []string{cacheMnt, tmpMnt} {
		fill, _ := os.Create(filepath.Join(mnt, "fill"))
		fill.Write(make([]byte, 1<<20))
		fill.Close()
	}
	r := newCLIAt(t, c.repoDir(), "CAIRN_CACHE_DIR="+filepath.Join(cacheMnt, "cache"), "TMPDIR="+tmpMnt)
	out, err := r.cmd("snapshots").CombinedOutput()
	if err == nil {
		t.Fatalf("snapshots with the cache folder and TMPDIR full succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "private local index") || !strings.Contains(string(out), tmpMnt) {
		t.Fatalf("snapshots with the cache folder and TMPDIR full does not name the temporary folder %s:\n%s", tmpMnt, out)
	}
}
