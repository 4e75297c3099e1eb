package repo_test

import (
	"testing"

	"github.com/cairn-backup/cairn/repo"
)

// The filter flags mean what they mean in restic, so that a forget or
// restore script carried over selects the same snapshots.
func TestFilterMatchesAsRestic(t *testing.T) {
	sns := map[string]*repo.Snapshot{
		"a": {Host: "alpha", Source: "etc", Tags: []string{"daily"}, Paths: []string{"/etc"}},
		"b": {Host: "alpha", Source: "home", Tags: []string{"daily", "manual"}, Paths: []string{"/home", "/root"}},
		"c": {Host: "beta", Source: "etc", Paths: []string{"/etc"}},
	}
	for _, tc := range []struct {
		name string
		f    repo.Filter
		want string
	}{
		{"none", repo.Filter{}, "abc"},
		{"hosts are any", repo.Filter{Hosts: []string{"beta", "gamma"}}, "c"},
		{"sources are any", repo.Filter{Sources: []string{"home", "etc"}}, "abc"},
		{"a tag list needs all", repo.Filter{Tags: []repo.TagList{repo.ParseTagList("daily, manual")}}, "b"},
		{"tag lists are any", repo.Filter{Tags: []repo.TagList{{"manual"}, repo.ParseTagList("")}}, "bc"},
		{"the empty list is untagged", repo.Filter{Tags: []repo.TagList{{}}}, "c"},
		{"paths are all", repo.Filter{Paths: []string{"/root", "/home"}}, "b"},
		{"a missing path", repo.Filter{Paths: []string{"/etc", "/home"}}, ""},
		{"fields are all", repo.Filter{Hosts: []string{"alpha"}, Tags: []repo.TagList{{"daily"}}, Paths: []string{"/etc"}}, "a"},
	} {
		got := ""
		for _, k := range []string{"a", "b", "c"} {
			if tc.f.Match(sns[k]) {
				got += k
			}
		}
		if got != tc.want {
			t.Errorf("%s: %+v matches %q, want %q", tc.name, tc.f, got, tc.want)
		}
	}
}
