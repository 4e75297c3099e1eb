package crypto_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/repo/crypto"
)

// formatVectors returns the "name = value" lines of the test-vector block
// in docs/FORMAT.md §17.
func formatVectors(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string]string{}
	in17, inBlock := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			in17 = strings.HasPrefix(l, "## 17.")
		case in17 && strings.HasPrefix(l, "```"):
			inBlock = !inBlock
		case in17 && inBlock:
			name, val, ok := strings.Cut(l, "=")
			if ok {
				val = strings.Fields(val)[0]
				v[strings.TrimSpace(name)] = val
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFormatTestVectors checks every test vector FORMAT.md §17 gives for
// the master secret 00 01 … 1f against the code, and that the vectors an
// independent reader needs are there: a reader written from FORMAT.md
// alone must be able to check its key derivation and both blob-ID keys.
func TestFormatTestVectors(t *testing.T) {
	doc := formatVectors(t)
	m := make([]byte, 32)
	for i := range m {
		m[i] = byte(i)
	}
	k, err := crypto.KeyFromMaster(m)
	if err != nil {
		t.Fatal(err)
	}
	dk := func(ctx string) []byte {
		out := make([]byte, 32)
		blake3.DeriveKey(ctx, m, out)
		return out
	}
	x := func(b [32]byte) string { return hex.EncodeToString(b[:]) }
	pol, err := k.ChunkerPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	gear := k.GearTable()
	emptyTree := []byte{0x43, 0x52, 0x4e, 0x54, 0x01, 0x00}
	want := map[string]string{
		"EK":             hex.EncodeToString(dk("cairn 2026-11 encryption key")),
		"IK":             hex.EncodeToString(dk("cairn 2026-11 blob id key")),
		"TK":             hex.EncodeToString(dk("cairn 2026-11 tree blob id key")),
		"CS":             hex.EncodeToString(dk("cairn 2026-11 chunker polynomial")),
		"MK":             hex.EncodeToString(dk("cairn 2026-11 config mac key")),
		`blob ID("")`:    x(k.BlobID(nil)),
		`blob ID("abc")`: x(k.BlobID([]byte("abc"))),
		`tree ID("abc")`: x(k.TreeID([]byte("abc"))),
		`tree ID(empty)`: x(k.TreeID(emptyTree)),
		`KH(MK, "abc")`:  x(k.MAC([]byte("abc"))),
		"polynomial":     fmt.Sprintf("%#x", uint64(pol)),
		"gear T[1]":      fmt.Sprintf("%#x", gear[1]),
		"gear T[2]":      fmt.Sprintf("%#x", gear[2]),
		"gear T[255]":    fmt.Sprintf("%#x", gear[255]),
	}
	for name, w := range want {
		got, ok := doc[name]
		if !ok {
			t.Errorf("FORMAT.md §17 has no vector %q (code gives %s)", name, w)
			continue
		}
		if got != w {
			t.Errorf("FORMAT.md §17 %s = %s, code gives %s", name, got, w)
		}
	}
	// The keys are derived as the doc says, and the IDs use them.
	kh := func(key string, b []byte) string {
		kb, _ := hex.DecodeString(key)
		h, err := blake3.NewKeyed(kb)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		return hex.EncodeToString(h.Sum(nil))
	}
	if got := kh(want["TK"], []byte("abc")); got != want[`tree ID("abc")`] {
		t.Errorf("TreeID is not KH(TK, x): %s", got)
	}
	if got := kh(want["IK"], []byte("abc")); got != want[`blob ID("abc")`] {
		t.Errorf("BlobID is not KH(IK, x): %s", got)
	}
}
