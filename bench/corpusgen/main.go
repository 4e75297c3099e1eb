// Command corpusgen writes a deterministic benchmark corpus.
//
//	go run ./bench/corpusgen -out DIR [-size 2GiB] [-seed 1]
//
// The corpus imitates a real machine: thousands of small source-like files in
// nested directories, medium files that are partly compressible and partly
// random, one large incompressible file, one VM-image-like file with repeated
// blocks, written zeros and holes, and every special file type (symlinks,
// hardlinks, a fifo, a socket, device nodes, empty directories, odd modes,
// owners, names and extended attributes).
//
// The same -seed and -size give byte-identical file contents, the same
// modes, owners and the same nanosecond mtimes, whatever the number of
// workers. Every part scales with -size; the default is 2 GiB.
//
// bench/ is built from binaries only: this program does not import cairn.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		out     = flag.String("out", "", "directory to write the corpus into (must be missing or empty)")
		sizeStr = flag.String("size", "2GiB", "approximate total size, e.g. 2GiB, 200MiB, 8MiB, 1500000000")
		seed    = flag.Uint64("seed", 1, "seed; the same seed and size give the same corpus")
		workers = flag.Int("workers", runtime.NumCPU(), "parallel file writers (does not change the output)")
		quiet   = flag.Bool("q", false, "print nothing but errors")
	)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: corpusgen -out DIR [-size 2GiB] [-seed 1]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	size, err := parseSize(*sizeStr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "corpusgen: %v\n", err)
		os.Exit(2)
	}
	start := time.Now()
	st, err := generate(options{out: *out, size: size, seed: *seed, workers: *workers})
	if err != nil {
		fmt.Fprintf(os.Stderr, "corpusgen: %v\n", err)
		os.Exit(1)
	}
	for _, n := range st.notes {
		fmt.Fprintf(os.Stderr, "corpusgen: note: %s\n", n)
	}
	if !*quiet {
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "corpusgen: wrote %d files, %d dirs, %d special entries, %s (%d bytes) in %.1fs (%.0f MiB/s)\n",
			st.files, st.dirs, st.specials, formatSize(st.bytes), st.bytes, el.Seconds(),
			float64(st.bytes)/(1<<20)/el.Seconds())
	}
}

// parseSize understands plain bytes and the suffixes B, K/KB/KiB, M/MB/MiB,
// G/GB/GiB, T/TB/TiB. The short and *iB forms are powers of 1024, the *B
// forms powers of 1000.
func parseSize(s string) (int64, error) {
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
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	v := int64(f * mult)
	if v < 1<<20 {
		return 0, errors.New("size must be at least 1MiB")
	}
	return v, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}
