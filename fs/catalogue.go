package fs

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// catalogue is the virtual part of the tree, built from one listing of the
// snapshots and replaced whole when they change.
type catalogue struct {
	snaps []*repo.Snapshot // oldest first
	dirs  map[string]*vdir // by path: "", "snapshots", "hosts/web1", ...
	built time.Time
}

type ventryKind uint8

const (
	vDir ventryKind = iota
	vLink
	vSnap
)

// ventry is one entry of a virtual folder.
type ventry struct {
	name   string
	kind   ventryKind
	target string         // vLink
	snap   *repo.Snapshot // vSnap
}

type vdir struct {
	entries []ventry // sorted by name
}

func (d *vdir) sort() {
	sort.Slice(d.entries, func(i, j int) bool { return d.entries[i].name < d.entries[j].name })
}

func (d *vdir) find(name string) (ventry, bool) {
	i := sort.Search(len(d.entries), func(i int) bool { return d.entries[i].name >= name })
	if i < len(d.entries) && d.entries[i].name == name {
		return d.entries[i], true
	}
	return ventry{}, false
}

// timeName is how a snapshot is named in the tree: its time in the
// mounting process's zone, to the second.
func timeName(t time.Time) string {
	return t.Local().Format("2006-01-02T15:04:05")
}

// dirName makes a host, source or tag usable as one path element: a
// slash, and a NUL (where the kernel would end the name), become "_".
func dirName(s string) string {
	s = strings.NewReplacer("/", "_", "\x00", "_").Replace(s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

func buildCatalogue(snaps []*repo.Snapshot) *catalogue {
	c := &catalogue{snaps: snaps, dirs: map[string]*vdir{}, built: time.Now()}
	add := func(dir string, e ventry) {
		d := c.dirs[dir]
		if d == nil {
			d = &vdir{}
			c.dirs[dir] = d
		}
		d.entries = append(d.entries, e)
	}
	// The folders that exist even with no snapshot in them.
	for _, top := range []string{"snapshots", "hosts", "tags", "ids"} {
		add("", ventry{name: top, kind: vDir})
		c.dirs[top] = &vdir{}
	}

	// Names: the time, with "-2", "-3", ... for later snapshots of the
	// same second.
	names := make([]string, len(snaps))
	used := map[string]int{}
	for i, sn := range snaps {
		n := timeName(sn.Time)
		used[n]++
		if k := used[n]; k > 1 {
			n = fmt.Sprintf("%s-%d", n, k)
		}
		names[i] = n
	}
	// ids/: the short ID, or the whole one when two share the short one.
	short := map[string]int{}
	for _, sn := range snaps {
		short[sn.ID.Short()]++
	}

	latest := map[string]string{} // folder -> the newest snapshot's relative path
	hostSources := map[string]bool{}
	tagDirs := map[string]bool{}
	for i, sn := range snaps {
		name := names[i]
		host, source := dirName(sn.Host), dirName(sn.Source)
		add("snapshots", ventry{name: name, kind: vSnap, snap: sn})
		latest[""] = "snapshots/" + name

		hs := "hosts/" + host + "/" + source
		if !hostSources[hs] {
			hostSources[hs] = true
			if _, ok := c.dirs["hosts/"+host]; !ok {
				add("hosts", ventry{name: host, kind: vDir})
			}
			add("hosts/"+host, ventry{name: source, kind: vDir})
		}
		add(hs, ventry{name: name, kind: vSnap, snap: sn})
		latest["hosts/"+host] = source + "/" + name
		latest[hs] = name

		for _, tag := range sn.Tags {
			td := "tags/" + dirName(tag)
			if !tagDirs[td] {
				tagDirs[td] = true
				add("tags", ventry{name: dirName(tag), kind: vDir})
				c.dirs[td] = &vdir{}
			}
			add(td, ventry{name: name, kind: vSnap, snap: sn})
			latest[td] = name
		}

		idName := sn.ID.Short()
		if short[idName] > 1 {
			idName = sn.ID.String()
		}
		add("ids", ventry{name: idName, kind: vSnap, snap: sn})
	}
	for _, d := range c.dirs {
		d.sort()
	}
	for dir, target := range latest {
		d := c.dirs[dir]
		if _, taken := d.find("latest"); taken {
			continue // a source or tag of that name keeps it
		}
		add(dir, ventry{name: "latest", kind: vLink, target: target})
		d.sort()
	}
	return c
}

// same reports whether snaps are the snapshots c was built from.
func (c *catalogue) same(snaps []*repo.Snapshot) bool {
	if len(snaps) != len(c.snaps) {
		return false
	}
	for i := range snaps {
		if snaps[i].ID != c.snaps[i].ID {
			return false
		}
	}
	return true
}

// changes lists, for every virtual folder whose entries differ between
// old and c, the names that appeared, went or now name something else.
func (c *catalogue) changes(old *catalogue) map[string][]string {
	out := map[string][]string{}
	same := func(a, b ventry) bool {
		return a.kind == b.kind && a.target == b.target && (a.snap == nil) == (b.snap == nil) &&
			(a.snap == nil || a.snap.ID == b.snap.ID)
	}
	diff := func(dir string, a, b *vdir) {
		if a == nil {
			a = &vdir{}
		}
		if b == nil {
			b = &vdir{}
		}
		for _, e := range a.entries {
			if f, ok := b.find(e.name); !ok || !same(e, f) {
				out[dir] = append(out[dir], e.name)
			}
		}
		for _, e := range b.entries {
			if _, ok := a.find(e.name); !ok {
				out[dir] = append(out[dir], e.name)
			}
		}
	}
	for dir, d := range old.dirs {
		diff(dir, d, c.dirs[dir])
	}
	for dir, d := range c.dirs {
		if _, ok := old.dirs[dir]; !ok {
			diff(dir, nil, d)
		}
	}
	return out
}
