package registry_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends/registry"
)

func TestLocal(t *testing.T) {
	base := t.TempDir()
	for i, loc := range []string{
		filepath.Join(base, "plain"),
		"local:" + filepath.Join(base, "prefixed"),
	} {
		if _, err := registry.Open(loc); err == nil {
			t.Errorf("open %q before create succeeded", loc)
		}
		b, err := registry.Create(loc)
		if err != nil {
			t.Fatalf("create %q: %v", loc, err)
		}
		dir := strings.TrimPrefix(loc, "local:")
		if b.Location() != "local:"+dir {
			t.Errorf("location %q, want %q", b.Location(), "local:"+dir)
		}
		if err := b.Save(t.Context(), "config", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := registry.Open(loc); err != nil {
			t.Errorf("open %q: %v", loc, err)
		}
	}
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, loc := range []string{"repo", "./with:colon", "1abc:x"} {
		b, err := registry.Create(loc)
		if err != nil {
			t.Fatalf("create %q: %v", loc, err)
		}
		if !strings.HasPrefix(b.Location(), "local:/") {
			t.Errorf("create %q: location %q is not an absolute local path", loc, b.Location())
		}
	}
	if _, err := os.Stat("with:colon"); err != nil {
		t.Error(err)
	}
}

func TestBadLocations(t *testing.T) {
	for loc, want := range map[string]string{
		"":             "empty",
		"ftp:host/x":   `unknown scheme "ftp" (known: local;`,
		"local:":       "nothing after",
		"S3x:bucket/p": `unknown scheme "S3x"`,
	} {
		_, err := registry.Open(loc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open %q: %v, want an error containing %q", loc, err, want)
		}
	}
}
