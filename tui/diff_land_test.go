package tui

import (
	"testing"

	"github.com/cairn-backup/cairn/repo/diff"
)

// A diff opens with the cursor on its first change that is not only a
// folder holding others, every folder above it open, however deep it
// is. Before, it opened on the first folder with three levels expanded:
// a change deeper down (a file under /var/tmp/h1/scratch/src/...) was a
// closed folder to open level by level.
func TestDiffOpensOnFirstChange(t *testing.T) {
	for _, tc := range []struct {
		changes []diff.Change
		want    string
	}{
		{[]diff.Change{{Path: "/var/tmp/h1/scratch/src/deep/a/b/c/d/note.txt", Kind: diff.Modified}}, "/var/tmp/h1/scratch/src/deep/a/b/c/d/note.txt"},
		// A folder's mtime changed with what it holds: the cursor goes
		// to what changed inside it.
		{[]diff.Change{
			{Path: "/srv/www", Kind: diff.MetadataOnly},
			{Path: "/srv/www/site/assets/css/main.css", Kind: diff.Modified},
			{Path: "/srv/www/site/assets/js/app.js", Kind: diff.Added},
		}, "/srv/www/site/assets/css/main.css"},
		{[]diff.Change{{Path: "/b/c/d/e/f", Kind: diff.Added}, {Path: "/a/x/y/z", Kind: diff.Removed}}, "/a/x/y/z"},
	} {
		p := &diffPage{}
		p.build(tc.changes)
		if p.cur.pos >= len(p.rows) {
			t.Fatalf("%s: no row under the cursor", tc.want)
		}
		if n := p.rows[p.cur.pos]; n.path != tc.want {
			t.Errorf("the diff opened on %s, not on %s (%d rows shown)", n.path, tc.want, len(p.rows))
		}
	}
}
