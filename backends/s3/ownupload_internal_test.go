package s3

import (
	"strings"
	"testing"
)

// The names a repository uploads in parts are its own to abort when
// stale, a prune's deletion marks among them (repo: "condemned/<id>"):
// one left out kept the parts of an interrupted mark's upload billed
// forever. Other names under the prefix are another tool's.
func TestOwnUpload(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, name := range []string{"data/ab/" + hex, "tree/ab/" + hex, "index/" + hex, "snapshots/" + hex, "condemned/" + hex} {
		if !ownUpload(name) {
			t.Errorf("%s is not the repository's own upload", name)
		}
	}
	for _, name := range []string{"config", "keys/" + hex, "locks/" + hex, "data/ab/disk.img", "vm/" + hex, "index/" + strings.ToUpper(hex), hex} {
		if ownUpload(name) {
			t.Errorf("%s is taken for the repository's own upload", name)
		}
	}
}
