package prune

import (
	"math"
	"testing"
)

// TestMaxUnusedNotAPercentage: a MaxUnused outside 0..100 is refused, NaN
// too (no comparison with 0 or 100 is true for it, so it passed and
// repacked every partly used pack, as 0% would).
func TestMaxUnusedNotAPercentage(t *testing.T) {
	for _, v := range []float64{-1, 100.5, math.NaN(), math.Inf(1)} {
		o := Options{MaxUnused: v, DryRun: true}
		if err := o.check(); err == nil {
			t.Errorf("MaxUnused %g: accepted", v)
		}
	}
	o := Options{MaxUnused: 100, DryRun: true}
	if err := o.check(); err != nil {
		t.Errorf("MaxUnused 100: %v", err)
	}
}
