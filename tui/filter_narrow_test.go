package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/tree"
)

// A folder's filter narrows what it showed when a key only added to it,
// and looks at the whole folder again otherwise (backspace, ctrl+u, a
// paste that changed the middle): the entries shown are always exactly
// those whose name holds the filter, ignoring case, in folder order.
func TestTreeFilterNarrowsExactly(t *testing.T) {
	p := &treePage{}
	for i := range 3000 {
		name := fmt.Sprintf("file-%04d.txt", i)
		if i%7 == 0 {
			name = fmt.Sprintf("Éte-%04d.LOG", i)
		}
		p.nodes = append(p.nodes, &tree.Node{Name: name, Kind: tree.KindFile})
	}
	want := func(q string) []int {
		var out []int
		for i, n := range p.nodes {
			if strings.Contains(strings.ToLower(n.Name), strings.ToLower(q)) {
				out = append(out, i)
			}
		}
		return out
	}
	p.refilter()
	for _, q := range []string{"1", "12", "120", "1", "", "é", "ét", "éte-00", "ÉTE-007", "te-007", ".log", "-0", "-00", "x", "", "0", "00.", "00.t"} {
		p.filter.value = q
		p.refilter()
		if w := want(q); !slices.Equal(p.vis, w) && !(len(p.vis) == 0 && len(w) == 0) {
			t.Fatalf("filter %q shows %d entries, want %d", q, len(p.vis), len(w))
		}
	}
}
