package forget

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/repo"
)

// GroupBy says which snapshot fields split snapshots into groups that a
// policy judges separately. The zero GroupBy puts every snapshot in one
// group.
type GroupBy struct {
	Host, Source, Tags, Paths bool
}

// DefaultGroupBy groups by host, source and paths: one series per backup
// job. Paths count too (as in restic's default, host and paths): a user
// who runs `cairn ingest /etc` and `cairn ingest /home` from two timers
// without --source has one source for both, and judged as one series,
// --keep-daily 7 kept only the later of each day's two snapshots and so
// removed every snapshot of the other folder.
var DefaultGroupBy = GroupBy{Host: true, Source: true, Paths: true}

// ParseGroupBy reads a comma-separated list of host, source, tags and
// paths; "" groups nothing.
func ParseGroupBy(s string) (GroupBy, error) {
	var g GroupBy
	for _, f := range strings.Split(s, ",") {
		switch strings.TrimSpace(f) {
		case "":
		case "host":
			g.Host = true
		case "source":
			g.Source = true
		case "tags":
			g.Tags = true
		case "paths":
			g.Paths = true
		default:
			return GroupBy{}, fmt.Errorf("group by %q: not one of host, source, tags, paths", f)
		}
	}
	return g, nil
}

func (g GroupBy) String() string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{g.Host, "host"}, {g.Source, "source"}, {g.Tags, "tags"}, {g.Paths, "paths"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ",")
}

// Key is what the snapshots of a group share: the fields grouped by, the
// others left empty. Tags and Paths are sorted, and nil unless grouped by.
type Key struct {
	Host   string
	Source string
	Tags   []string
	Paths  []string
	// Stream is the stream name (--stdin-name) of a stream snapshot
	// grouped by source but not by paths: each stream is a series of
	// its own, so that the nightly dumps of two databases under one
	// source are not judged as one series (keeping only the newer dump
	// of each day).
	Stream string
	By     GroupBy
}

// String names the group for people: "host alpha, source etc", or "all
// snapshots" when nothing is grouped by.
func (k Key) String() string {
	var p []string
	if k.By.Host {
		p = append(p, "host "+k.Host)
	}
	if k.By.Source {
		p = append(p, "source "+k.Source)
	}
	if k.By.Tags {
		if len(k.Tags) == 0 {
			p = append(p, "no tags")
		} else {
			p = append(p, "tags "+strings.Join(k.Tags, ","))
		}
	}
	if k.By.Paths {
		p = append(p, "paths "+strings.Join(k.Paths, " "))
	}
	if k.Stream != "" {
		p = append(p, "stream "+k.Stream)
	}
	if len(p) == 0 {
		return "all snapshots"
	}
	return strings.Join(p, ", ")
}

// Group is one series of snapshots, in the order they were given.
type Group struct {
	Key       Key
	Snapshots []*repo.Snapshot
}

// GroupSnapshots splits list by the fields of by. Groups come sorted by
// key (host, source, tags, paths), so output is the same from run to run.
func GroupSnapshots(list []*repo.Snapshot, by GroupBy) []Group {
	index := map[string]int{}
	var groups []Group
	for _, sn := range list {
		k := Key{By: by}
		if by.Host {
			k.Host = sn.Host
		}
		if by.Source {
			k.Source = sn.Source
		}
		if by.Tags {
			k.Tags = sortedCopy(sn.Tags)
		}
		if by.Paths {
			k.Paths = sortedCopy(sn.Paths)
		} else if by.Source && IsStream(sn) {
			k.Stream = sn.Paths[0]
		}
		// JSON keeps the fields apart whatever bytes they hold.
		b, _ := json.Marshal([]any{k.Host, k.Source, k.Tags, k.Paths, k.Stream})
		i, ok := index[string(b)]
		if !ok {
			i = len(groups)
			index[string(b)] = i
			groups = append(groups, Group{Key: k})
		}
		groups[i].Snapshots = append(groups[i].Snapshots, sn)
	}
	slices.SortFunc(groups, func(a, b Group) int {
		return cmp.Or(
			strings.Compare(a.Key.Host, b.Key.Host),
			strings.Compare(a.Key.Source, b.Key.Source),
			slices.Compare(a.Key.Tags, b.Key.Tags),
			slices.Compare(a.Key.Paths, b.Key.Paths),
			strings.Compare(a.Key.Stream, b.Key.Stream),
		)
	})
	return groups
}

// IsStream reports whether sn holds a stream (ingest --stdin or
// --stdin-from-command): its one path is the stream's name, not an
// absolute path.
func IsStream(sn *repo.Snapshot) bool {
	return len(sn.Paths) == 1 && !strings.HasPrefix(sn.Paths[0], "/")
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	slices.Sort(c)
	return c
}
