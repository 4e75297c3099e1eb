package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// The default corpus is 2 GiB; every part is scaled by size/defaultSize.
const (
	defaultSize      = 2 << 30
	bigFileAtDefault = 300 << 20 // the incompressible file and the VM image
	smallShare       = 0.10      // share of the corpus in small source-like files
	smallMin         = 100
	smallMax         = 64 << 10
	mediumMin        = 64 << 10
	mediumMax        = 16 << 20
)

type options struct {
	out     string
	size    int64
	seed    uint64
	workers int
}

type stats struct {
	files, dirs, specials int
	bytes                 int64
	notes                 []string
}

type kind int

const (
	kindSource         kind = iota // code-like text
	kindLog                        // log lines
	kindTable                      // CSV
	kindRandom                     // incompressible (media, archives)
	kindMixed                      // chunks of everything
	kindRecords                    // low-entropy binary records
	kindIncompressible             // the one big random file
	kindVMImage                    // the VM-image-like file
)

// fileSpec is one regular file of the plan. Its content is a pure function
// of kind, flavor, size and seed, so two specs with equal fields are
// duplicates, which is how the corpus gets exact duplicate files.
type fileSpec struct {
	path   string // relative to the corpus root, slash-separated
	kind   kind
	flavor int
	size   int64
	seed   uint64
	mode   uint32
	mtime  ts
}

type ts struct{ sec, nsec int64 }

type plan struct {
	dirs  []string        // relative paths, parents before children
	dirMT map[string]ts   // mtime of every directory, "." included
	files []fileSpec      // big files first, for load balance
	vocab *vocabulary     // shared, read-only
	names map[string]bool // every path used, to keep names unique
	r     *rand.Rand      // the plan's own stream
}

func (p *plan) mtime() ts {
	// 2023-11-14 plus up to a year, with nanoseconds.
	return ts{1_700_000_000 + p.r.Int64N(365*86400), p.r.Int64N(1e9)}
}

func (p *plan) addDir(d string) {
	if p.names[d] {
		return
	}
	if parent := filepath.Dir(d); parent != "." {
		p.addDir(parent)
	}
	p.names[d] = true
	p.dirs = append(p.dirs, d)
	p.dirMT[d] = p.mtime()
}

// unique returns dir/base+ext, or a numbered variant if taken.
func (p *plan) unique(dir, base, ext string) string {
	name := dir + "/" + base + ext
	for i := 2; p.names[name]; i++ {
		name = fmt.Sprintf("%s/%s_%d%s", dir, base, i, ext)
	}
	p.names[name] = true
	return name
}

// logUniform draws from [lo, hi] with a log-uniform distribution.
func logUniform(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return int64(math.Exp(l + r.Float64()*(h-l)))
}

func makePlan(o options) *plan {
	r := rand.New(rand.NewPCG(o.seed, 0x636169726e2d6267)) // "cairn-bg"
	p := &plan{
		dirMT: map[string]ts{},
		names: map[string]bool{},
		r:     r,
	}
	p.vocab = newVocabulary(rand.New(rand.NewPCG(o.seed, 0x766f636162)))
	p.dirMT["."] = p.mtime()

	scale := float64(o.size) / defaultSize
	bigSize := int64(float64(bigFileAtDefault)*scale) &^ 4095
	if bigSize < 64<<10 {
		bigSize = 64 << 10
	}
	smallBudget := int64(float64(o.size) * smallShare)
	mediumBudget := o.size - 2*bigSize - smallBudget - 64<<10 // specials are small
	if mediumBudget < 0 {
		mediumBudget = 0
	}

	// The two big files.
	p.addDir("blobs")
	p.addDir("images")
	p.files = append(p.files,
		fileSpec{path: p.unique("images", "disk", ".img"), kind: kindVMImage, size: bigSize, seed: r.Uint64(), mode: 0o600, mtime: p.mtime()},
		fileSpec{path: p.unique("blobs", "random", ".bin"), kind: kindIncompressible, size: bigSize, seed: r.Uint64(), mode: 0o644, mtime: p.mtime()},
	)

	// Medium files.
	mediumDirs := []string{"data/logs", "data/tables", "data/media", "data/archives", "data/mixed", "data/records", "home/user/downloads", "var/lib/app"}
	for _, d := range mediumDirs {
		p.addDir(d)
	}
	maxMed := min(int64(mediumMax), max(int64(mediumMin), mediumBudget/8))
	var medium []fileSpec
	for used := int64(0); used < mediumBudget; {
		sz := logUniform(r, mediumMin, maxMed)
		if rest := mediumBudget - used; sz > rest || rest-sz < mediumMin/2 {
			sz = rest
		}
		used += sz
		if len(medium) > 4 && r.IntN(50) == 0 { // an exact duplicate under another name
			src := medium[r.IntN(len(medium))]
			dup := src
			dup.size = src.size
			used += src.size - sz
			dir := mediumDirs[r.IntN(len(mediumDirs))]
			dup.path = p.unique(dir, "copy-of-"+strings.TrimSuffix(filepath.Base(src.path), filepath.Ext(src.path)), filepath.Ext(src.path))
			dup.mtime = p.mtime()
			medium = append(medium, dup)
			continue
		}
		var k kind
		var dir, ext string
		switch x := r.IntN(100); {
		case x < 22:
			k, dir, ext = kindLog, "data/logs", ".log"
		case x < 35:
			k, dir, ext = kindTable, "data/tables", ".csv"
		case x < 52:
			k, dir, ext = kindRandom, "data/media", ".jpg"
		case x < 62:
			k, dir, ext = kindRandom, "data/archives", ".tar.gz"
		case x < 82:
			k, dir, ext = kindMixed, "data/mixed", ".dat"
		case x < 92:
			k, dir, ext = kindRecords, "data/records", ".db"
		default:
			k, dir, ext = kindMixed, mediumDirs[6+r.IntN(2)], ".bin"
		}
		medium = append(medium, fileSpec{
			path: p.unique(dir, p.vocab.fileName(r), ext), kind: k, size: sz,
			seed: r.Uint64(), mode: 0o644, mtime: p.mtime(),
		})
	}
	// Largest first, for load balance across workers.
	sort.SliceStable(medium, func(i, j int) bool { return medium[i].size > medium[j].size })
	p.files = append(p.files, medium...)

	// Small source-like files in a nested tree.
	estFiles := max(int64(8), smallBudget/(10<<10))
	nDirs := int(max(4, estFiles/12))
	roots := []string{"src", "src/vendor", "docs", "etc/app", "home/user/projects"}
	srcDirs := append([]string(nil), roots...)
	for _, d := range roots {
		p.addDir(d)
	}
	depth := func(d string) int { return strings.Count(d, "/") }
	for len(srcDirs) < nDirs {
		parent := srcDirs[r.IntN(len(srcDirs))]
		if depth(parent) >= 7 {
			continue
		}
		d := parent + "/" + p.vocab.dirName(r)
		if p.names[d] {
			continue
		}
		p.addDir(d)
		srcDirs = append(srcDirs, d)
	}
	var small []fileSpec
	for used := int64(0); used < smallBudget; {
		sz := logUniform(r, smallMin, smallMax)
		if rest := smallBudget - used; sz > rest {
			sz = max(rest, smallMin)
		}
		used += sz
		dir := srcDirs[r.IntN(len(srcDirs))]
		if len(small) > 10 && r.IntN(33) == 0 { // vendored copies
			src := small[r.IntN(len(small))]
			dup := src
			used += src.size - sz
			dup.path = p.unique(dir, strings.TrimSuffix(filepath.Base(src.path), filepath.Ext(src.path)), filepath.Ext(src.path))
			dup.mtime = p.mtime()
			small = append(small, dup)
			continue
		}
		fl := r.IntN(len(flavors))
		mode := uint32(0o644)
		if flavors[fl].ext == ".sh" || r.IntN(40) == 0 {
			mode = 0o755
		}
		small = append(small, fileSpec{
			path: p.unique(dir, p.vocab.fileName(r), flavors[fl].ext), kind: kindSource, flavor: fl,
			size: sz, seed: r.Uint64(), mode: mode, mtime: p.mtime(),
		})
	}
	p.files = append(p.files, small...)
	return p
}

func generate(o options) (*stats, error) {
	if o.workers < 1 {
		o.workers = 1
	}
	if err := prepareOut(o.out); err != nil {
		return nil, err
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	p := makePlan(o)
	st := &stats{}
	for _, d := range p.dirs {
		if err := os.Mkdir(filepath.Join(o.out, d), 0o755); err != nil {
			return nil, err
		}
	}
	st.dirs = len(p.dirs)

	// Write the regular files in parallel; each file has its own PRNG
	// stream, so the scheduling does not change the output.
	jobs := make(chan *fileSpec)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWriter(p.vocab)
			for f := range jobs {
				if err := w.writeFile(filepath.Join(o.out, f.path), f); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", f.path, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range p.files {
		jobs <- &p.files[i]
		st.bytes += p.files[i].size
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	st.files = len(p.files)

	sp, err := makeSpecials(o.out, p)
	if err != nil {
		return nil, err
	}
	st.specials = sp.entries
	st.dirs += sp.dirs
	st.bytes += sp.bytes
	st.notes = append(st.notes, sp.notes...)

	// Directory mtimes last, children before parents.
	var dirs []string
	for d := range p.dirMT {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/")
		if dirs[i] == "." || dirs[j] == "." {
			return dirs[j] == "."
		}
		if di != dj {
			return di > dj
		}
		return dirs[i] < dirs[j]
	})
	for _, d := range dirs {
		if err := setMtime(filepath.Join(o.out, d), p.dirMT[d], false); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// prepareOut creates out, or accepts it if it is an empty directory.
func prepareOut(out string) error {
	ents, err := os.ReadDir(out)
	switch {
	case os.IsNotExist(err):
		return os.MkdirAll(out, 0o755)
	case err != nil:
		return err
	case len(ents) > 0:
		return fmt.Errorf("%s is not empty; remove it first", out)
	}
	return nil
}

// setMtime sets atime and mtime to t with nanoseconds; with nofollow it
// changes a symlink itself.
func setMtime(path string, t ts, nofollow bool) error {
	tsp := [2]syscall.Timespec{{Sec: t.sec, Nsec: t.nsec}, {Sec: t.sec, Nsec: t.nsec}}
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	flags := 0
	if nofollow {
		flags = 0x100 // AT_SYMLINK_NOFOLLOW
	}
	const atFDCWD = -100
	fd := atFDCWD
	_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&tsp[0])), uintptr(flags), 0, 0)
	if e != 0 {
		return &os.PathError{Op: "utimensat", Path: path, Err: e}
	}
	return nil
}
