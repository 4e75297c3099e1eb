package fs

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// A host, source or tag holding a NUL or a slash still makes a folder
// name that can be looked up: the kernel takes a name only up to a NUL,
// so a listing showing "x" for the tag "x\x00y" would offer a folder no
// lookup finds.
func TestCatalogueNamesAreUsable(t *testing.T) {
	sn := &repo.Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Host: "a\x00b", Source: "/src\x00",
		Tags: []string{"x\x00y", "../..", "/", "", "."}}
	c := buildCatalogue([]*repo.Snapshot{sn})
	for dir, d := range c.dirs {
		for _, e := range d.entries {
			if e.name == "" || e.name == "." || e.name == ".." || strings.ContainsAny(e.name, "/\x00") {
				t.Errorf("folder %q lists %q", dir, e.name)
			}
			if e.kind == vDir {
				if _, ok := c.dirs[strings.TrimPrefix(dir+"/"+e.name, "/")]; !ok {
					t.Errorf("folder %q lists %q, which is no folder", dir, e.name)
				}
			}
		}
	}
}
