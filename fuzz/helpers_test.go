package fuzz

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/pack"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed files in testdata/fuzz")

// The fixed test key: seeds sealed with it stay openable across runs.
var (
	keyOnce   sync.Once
	testKey   *crypto.Key
	testCodec *pack.Codec
)

func codec() *pack.Codec {
	keyOnce.Do(func() {
		k, err := crypto.KeyFromMaster(bytes.Repeat([]byte{0x5a}, 32))
		if err != nil {
			panic(err)
		}
		testKey, testCodec = k, pack.NewCodec(k)
	})
	return testCodec
}

// seed is one named seed input; args match the fuzz function's parameters.
type seed struct {
	name string
	args []any
}

// addSeeds adds seeds to f and, with -update-corpus, rewrites them as
// testdata/fuzz/<target>/seed-<name> in Go's corpus file format.
func addSeeds(f *testing.F, seeds []seed) {
	f.Helper()
	for _, s := range seeds {
		f.Add(s.args...)
	}
	if !*updateCorpus {
		return
	}
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, o := range old {
		os.Remove(o)
	}
	for _, s := range seeds {
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), marshalCorpus(s.args...), 0o644); err != nil {
			f.Fatal(err)
		}
	}
}

// marshalCorpus writes values as `go test fuzz v1` does.
func marshalCorpus(args ...any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case string:
			b = fmt.Appendf(b, "string(%q)\n", v)
		case int64:
			b = fmt.Appendf(b, "int64(%d)\n", v)
		case byte:
			b = fmt.Appendf(b, "byte(%q)\n", v)
		case bool:
			b = fmt.Appendf(b, "bool(%v)\n", v)
		default:
			panic(fmt.Sprintf("seed value of type %T", a))
		}
	}
	return b
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocated() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// allocLimit is what decoding n input bytes may allocate: a fixed slack
// for per-call state and accounting granularity, plus a generous factor
// per input byte. Anything past it means a length or count in the input
// was trusted before it was checked.
func allocLimit(n int) uint64 { return 4<<20 + 512*uint64(n) }

// bounded runs fn and fails the test if it allocated more than limit bytes.
func bounded(t *testing.T, limit uint64, fn func()) {
	t.Helper()
	before := allocated()
	fn()
	if used := allocated() - before; used > limit {
		t.Fatalf("allocated %d bytes, more than the %d allowed", used, limit)
	}
}

// wantErr fails the test unless err wraps one of the documented errors.
func wantErr(t *testing.T, err error, allowed ...error) {
	t.Helper()
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	t.Fatalf("error %q wraps none of %v", err, allowed)
}
