package forget

import (
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

func TestForgetParseGroupBy(t *testing.T) {
	for in, want := range map[string]GroupBy{
		"":                       {},
		"host,source":            {Host: true, Source: true},
		"host,source,paths":      DefaultGroupBy,
		"tags":                   {Tags: true},
		" paths , host":          {Host: true, Paths: true},
		"host,source,tags,paths": {Host: true, Source: true, Tags: true, Paths: true},
	} {
		got, err := ParseGroupBy(in)
		if err != nil || got != want {
			t.Errorf("ParseGroupBy(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"hostname", "path", "host,tag"} {
		if _, err := ParseGroupBy(bad); err == nil {
			t.Errorf("ParseGroupBy(%q) accepted", bad)
		}
	}
	if s := (GroupBy{Host: true, Tags: true}).String(); s != "host,tags" {
		t.Errorf("String = %q", s)
	}
}

func TestForgetGroupSnapshots(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2024, 1, 1, h, 0, 0, 0, time.UTC) }
	list := []*repo.Snapshot{
		{Time: at(1), Host: "beta", Source: "etc", Tags: []string{"b", "a"}, Paths: []string{"/etc"}},
		{Time: at(2), Host: "alpha", Source: "home", Tags: []string{"a", "b"}, Paths: []string{"/home"}},
		{Time: at(3), Host: "alpha", Source: "etc", Tags: []string{}, Paths: []string{"/etc"}},
		{Time: at(4), Host: "alpha", Source: "etc", Tags: []string{"a"}, Paths: []string{"/etc"}},
	}

	groups := GroupSnapshots(list, GroupBy{Host: true, Source: true})
	var names []string
	for _, g := range groups {
		names = append(names, g.Key.String())
	}
	want := []string{"host alpha, source etc", "host alpha, source home", "host beta, source etc"}
	if len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Fatalf("groups %q, want %q", names, want)
	}
	if g := groups[0]; len(g.Snapshots) != 2 || g.Snapshots[0] != list[2] || g.Snapshots[1] != list[3] {
		t.Errorf("group alpha/etc holds %v, want the 3rd and 4th in order", g.Snapshots)
	}
	if groups[0].Key.Tags != nil || groups[0].Key.Paths != nil {
		t.Errorf("key has fields not grouped by: %+v", groups[0].Key)
	}

	// Tags are a set: order does not split a group.
	groups = GroupSnapshots(list, GroupBy{Tags: true})
	if len(groups) != 3 {
		t.Fatalf("%d tag groups, want 3", len(groups))
	}
	sizes := map[string]int{}
	for _, g := range groups {
		sizes[g.Key.String()] = len(g.Snapshots)
	}
	if sizes["tags a,b"] != 2 || sizes["tags a"] != 1 || sizes["no tags"] != 1 {
		t.Errorf("tag groups %v", sizes)
	}
	if groups[0].Key.String() != "no tags" || groups[2].Key.String() != "tags a,b" {
		t.Errorf("tag groups in order %q, %q, %q", groups[0].Key, groups[1].Key, groups[2].Key)
	}

	groups = GroupSnapshots(list, GroupBy{})
	if len(groups) != 1 || len(groups[0].Snapshots) != 4 || groups[0].Key.String() != "all snapshots" {
		t.Errorf("no grouping gave %d groups", len(groups))
	}
	groups = GroupSnapshots(list, GroupBy{Paths: true})
	if len(groups) != 2 || groups[0].Key.String() != "paths /etc" {
		t.Errorf("path groups: %+v", groups)
	}
}

// Two streams under one source (the nightly dumps of two databases) are
// two series: --keep-daily keeps each night's dump of each, not only the
// newer of the two.
func TestForgetGroupStreamsByName(t *testing.T) {
	day := func(d, m int) time.Time { return time.Date(2024, 1, d, 1, m, 0, 0, time.UTC) }
	var list []*repo.Snapshot
	for d := 1; d <= 3; d++ {
		list = append(list,
			&repo.Snapshot{Time: day(d, 0), Host: "h", Source: "db", Paths: []string{"app.sql"}},
			&repo.Snapshot{Time: day(d, 5), Host: "h", Source: "db", Paths: []string{"other.sql"}},
			&repo.Snapshot{Time: day(d, 10), Host: "h", Source: "db", Paths: []string{"/var/lib/x"}})
	}
	groups := GroupSnapshots(list, GroupBy{Host: true, Source: true})
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3 (the files, app.sql, other.sql): %v", len(groups), groups)
	}
	for _, g := range groups {
		res := Apply(g.Snapshots, Policy{Daily: 7}, nil, day(3, 30))
		if len(res.Remove) != 0 {
			t.Errorf("group %s: --keep-daily 7 removes %d of 3 nightly snapshots", g.Key, len(res.Remove))
		}
	}
	if s := groups[1].Key.String(); s != "host h, source db, stream app.sql" {
		t.Errorf("key %q", s)
	}
	if g := GroupSnapshots(list, GroupBy{Host: true}); len(g) != 1 {
		t.Errorf("grouped by host alone: %d groups, want 1", len(g))
	}
}

// Two timers that run `cairn ingest /etc` and `cairn ingest /home` without
// --source give both one source. Judged as one series, --keep-daily kept
// only the later of each night's two snapshots, so every snapshot of the
// other folder was removed. By default the paths make the groups too, as
// in restic.
func TestForgetDefaultGroupsKeepEachFolder(t *testing.T) {
	night := func(d, h int) time.Time { return time.Date(2024, 1, d, h, 0, 0, 0, time.UTC) }
	var list []*repo.Snapshot
	for d := 1; d <= 5; d++ {
		list = append(list,
			&repo.Snapshot{Time: night(d, 1), Host: "h", Source: "default", Paths: []string{"/etc"}},
			&repo.Snapshot{Time: night(d, 2), Host: "h", Source: "default", Paths: []string{"/home"}})
	}
	groups := GroupSnapshots(list, DefaultGroupBy)
	if len(groups) != 2 {
		t.Fatalf("%d groups, want one for /etc and one for /home", len(groups))
	}
	for _, g := range groups {
		if res := Apply(g.Snapshots, Policy{Daily: 7}, nil, night(5, 3)); len(res.Remove) != 0 {
			t.Errorf("group %s: --keep-daily 7 removes %d of 5 nightly snapshots", g.Key, len(res.Remove))
		}
	}
}
