package repo

import (
	"os"
	"path/filepath"
	"testing"
)

// The cache folder's CACHEDIR.TAG is mended when a full disk cut it short:
// written only when none existed, a short one stayed for good, and
// --exclude-caches no longer left the cache out of a home folder's backup.
func TestCacheDirTagMended(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "CACHEDIR.TAG")
	for _, before := range []string{"", "Signature: 8a47", "not a tag at all"} {
		if before == "" {
			os.Remove(name)
		} else if err := os.WriteFile(name, []byte(before), 0o600); err != nil {
			t.Fatal(err)
		}
		tagCacheDir(dir)
		b, err := os.ReadFile(name)
		if err != nil || string(b) != cacheDirTag {
			t.Errorf("tag after %q: %q, %v", before, b, err)
		}
	}
	// A valid one is left as it is, and nothing else is left behind.
	custom := cacheDirTag + "# kept\n"
	os.WriteFile(name, []byte(custom), 0o600)
	tagCacheDir(dir)
	if b, _ := os.ReadFile(name); string(b) != custom {
		t.Errorf("a valid tag was rewritten: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left in the folder: %v", entries)
	}
}
