package restore

import (
	"fmt"
	"testing"
)

// above tells the folders only on the way to a snapshot's paths from
// those inside them, whatever paths the snapshot records.
func TestAbove(t *testing.T) {
	for _, c := range []struct {
		paths []string
		rel   string
		want  bool
	}{
		{nil, "", false},              // no paths: holds all it has
		{[]string{"/"}, "", false},    // a snapshot of /
		{[]string{"/"}, "etc", false}, // inside /
		{[]string{"/home/ann"}, "", true},
		{[]string{"/home/ann"}, "home", true},
		{[]string{"/home/ann"}, "home/ann", false},
		{[]string{"/home/ann"}, "home/ann/x", false},
		{[]string{"/home/ann"}, "home/annex", false}, // beside, not above
		{[]string{"/home/ann"}, "etc", false},
		{[]string{"/etc", "/home/ann"}, "home", true},
		{[]string{"/etc", "/home/ann"}, "etc", false},
		{[]string{"/home", "/home/ann"}, "home", false}, // nested paths
		{[]string{"/etc/passwd"}, "etc", true},          // a file
		{[]string{"app.sql"}, "", true},                 // a stream
		{[]string{"/home/ann/"}, "home", true},          // not cleaned
		{[]string{"/d/n\xff/sub"}, "d/n\xff", true},     // not UTF-8, as ingest gives it
		{[]string{"/d/n\uFFFD/sub"}, "d/n\xff", true},   // as a stored snapshot records it
		{[]string{"/d/n\uFFFD"}, "d/n\xff/x", false},
	} {
		rs := &restorer{}
		rs.paths, rs.ways = pathSets(c.paths)
		if got := rs.above(c.rel); got != c.want {
			t.Errorf("paths %q: above(%q) = %v, want %v", c.paths, c.rel, got, c.want)
		}
	}
}

// above is asked for every folder restored: for a snapshot of many paths
// (ingest --files-from a list of files) it must not go through them all
// each time, which made a restore of 30,000 listed files in 4,000
// folders take many minutes instead of seconds. Counted in allocations,
// not time: the walk over the paths allocated for each one.
func TestAboveManyPaths(t *testing.T) {
	var paths []string
	for i := range 5000 {
		paths = append(paths, fmt.Sprintf("/srv/some/rather/long/folder/name/%d/file-%d.txt", i/10, i))
	}
	rs := &restorer{}
	rs.paths, rs.ways = pathSets(paths)
	allocs := testing.AllocsPerRun(20, func() {
		if rs.above("srv/some/rather/long/folder/name/123") != true {
			t.Fatal("not above")
		}
		if rs.above("srv/some/rather/long/folder/name/123/file-1234.txt/x") != false {
			t.Fatal("above")
		}
	})
	if allocs > 50 {
		t.Errorf("above allocates %.0f times a call with %d paths: it goes through every path", allocs, len(paths))
	}
}
