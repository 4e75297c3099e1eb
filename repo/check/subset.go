package check

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/repo/id"
)

// Subset selects the packs whose data a check reads: a random fraction of
// them ("10%"), or part n of m ("2/7"): the packs whose ID, read as a
// number, falls in the n-th of m equal ranges. Running 1/m to m/m, one a
// day, reads every pack once.
type Subset struct {
	fraction float64 // 0 < fraction <= 1, or 0 for a part
	n, m     uint64
}

// ParseSubset reads "P%" (0 < P <= 100) or "n/m" (1 <= n <= m).
func ParseSubset(s string) (Subset, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) || math.IsNaN(f) {
			return Subset{}, fmt.Errorf("subset %q: want a percentage above 0 and at most 100", s)
		}
		return Subset{fraction: f / 100}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	n, err1 := strconv.ParseUint(a, 10, 64)
	m, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > m {
		return Subset{}, fmt.Errorf("subset %q: want P%% or n/m with 1 <= n <= m", s)
	}
	return Subset{n: n, m: m}, nil
}

func (s Subset) String() string {
	if s.fraction > 0 {
		return strconv.FormatFloat(s.fraction*100, 'f', -1, 64) + "%"
	}
	return fmt.Sprintf("%d/%d", s.n, s.m)
}

// Part returns which of m parts (1-based) pid falls in.
func Part(pid id.ID, m uint64) uint64 {
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(pid[:8]), m)
	return hi + 1
}

// Select returns the packs of ids (sorted) in the subset: for a fraction,
// that share of them rounded up, picked at random.
func (s Subset) Select(ids []id.ID) []id.ID {
	if s.fraction > 0 {
		k := int(math.Ceil(s.fraction * float64(len(ids))))
		picked := append([]id.ID(nil), ids...)
		rand.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
		picked = picked[:k]
		sortIDs(picked)
		return picked
	}
	var out []id.ID
	for _, pid := range ids {
		if Part(pid, s.m) == s.n {
			out = append(out, pid)
		}
	}
	return out
}
