// Package size reads the sizes the bench tools take on their command lines.
package size

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse understands plain bytes and the suffixes B, K/KB/KiB, M/MB/MiB,
// G/GB/GiB, T/TB/TiB. The short and *iB forms are powers of 1024, the *B
// forms powers of 1000. The size must be positive.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, suf := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[suf]
	if mult == 0 {
		return 0, fmt.Errorf("bad size %q: unknown unit %q", s, suf)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || int64(f*mult) <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * mult), nil
}
