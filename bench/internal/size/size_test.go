package size

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"2GiB": 2 << 30, "200MiB": 200 << 20, "8M": 8 << 20, "1.5GiB": 3 << 29,
		"1GB": 1e9, "5000000": 5000000, "2gib": 2 << 30, "1KiB": 1 << 10,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "10XB", "-1GiB", "0", "0.0001B"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}
