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
	"time"

	"github.com/cairn-backup/cairn/bench/internal/size"
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

// parseSize reads -size: at least 1 MiB, in the units size.Parse knows.
func parseSize(s string) (int64, error) {
	v, err := size.Parse(s)
	if err != nil {
		return 0, err
	}
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
