package tui

import (
	"context"
	"errors"
	"testing"
)

// Leaving a search or a diff stops it: esc took the page away, but the
// search over every snapshot (or the diff of two big trees) read the
// repository on, unseen, until it ended. The work is started, the page
// left, then the work run: it finds its context cancelled.
func TestLeavingSearchOrDiffStopsIt(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.keys("f")
	p, ok := h.a.top().(*searchPage)
	if !ok {
		t.Fatalf("no search page:\n%s", h.screen())
	}
	p.input.value = "a"
	p.input.active = false
	search := p.run(h.a)
	h.keys("esc")
	if h.a.top() == page(p) {
		t.Fatalf("esc did not leave the search:\n%s", h.screen())
	}
	if done, ok := search().(pageMsg).body.(searchDone); !ok || !errors.Is(done.err, context.Canceled) {
		t.Errorf("the search went on after its page was left (error %v, %d results)", done.err, len(done.results))
	}

	diff := h.a.openDiff(f.snaps[0], f.snaps[3])
	h.keys("esc")
	if _, ok := h.a.top().(*diffPage); ok {
		t.Fatalf("esc did not leave the diff:\n%s", h.screen())
	}
	if res, ok := diff().(pageMsg).body.(diffLoaded); !ok || !errors.Is(res.err, context.Canceled) {
		t.Errorf("the diff went on after its page was left (error %v, %d changes)", res.err, len(res.changes))
	}
}
