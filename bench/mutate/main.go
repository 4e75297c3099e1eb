// Command mutate changes about a given fraction of a corpus, by bytes,
// deterministically, to imitate a day of work between two backups:
//
//	go run ./bench/mutate -dir DIR [-fraction 0.01] [-seed 2]
//
// It overwrites a region in the middle of a big file, appends to some files,
// edits a few small files in place and inserts bytes into others (shifting
// the rest of the file), adds new files and a new directory, deletes a few
// files and sets a new mtime on a few without changing their content. Every
// changed file and directory gets a deterministic mtime, so the same corpus
// and seed always give the same result.
//
// Only regular files with a single link outside special/ are touched.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type file struct {
	rel  string
	size int64
}

type mutator struct {
	root    string
	r       *rand.Rand
	clock   int64 // next mtime, seconds
	used    map[string]bool
	dirs    map[string]bool // directories whose entries changed
	changed int64           // bytes written or removed
	counts  map[string]int
}

func main() {
	var (
		dir      = flag.String("dir", "", "corpus directory to change in place")
		fraction = flag.Float64("fraction", 0.01, "fraction of the corpus bytes to change")
		seed     = flag.Uint64("seed", 2, "seed")
		quiet    = flag.Bool("q", false, "print nothing but errors")
	)
	flag.Parse()
	if *dir == "" || flag.NArg() != 0 || *fraction <= 0 || *fraction > 0.5 {
		fmt.Fprintf(os.Stderr, "usage: mutate -dir DIR [-fraction 0.01] [-seed 2]\n")
		os.Exit(2)
	}
	m := &mutator{
		root:   *dir,
		r:      rand.New(rand.NewPCG(*seed, 0x6d7574617465)),
		clock:  1_735_689_600 + int64(*seed%1000)*86400, // 2025-01-01 onwards
		used:   map[string]bool{},
		dirs:   map[string]bool{},
		counts: map[string]int{},
	}
	syscall.Umask(0o022)
	start := time.Now()
	total, err := m.run(*fraction)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mutate: %v\n", err)
		os.Exit(1)
	}
	if !*quiet {
		var keys []string
		for k := range m.counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, m.counts[k]))
		}
		fmt.Fprintf(os.Stderr, "mutate: changed %d of %d bytes (%.2f%%): %s, in %.1fs\n",
			m.changed, total, 100*float64(m.changed)/float64(total), strings.Join(parts, ", "), time.Since(start).Seconds())
	}
}

func (m *mutator) mtime() syscall.Timespec {
	m.clock += 1 + m.r.Int64N(600)
	return syscall.Timespec{Sec: m.clock, Nsec: m.r.Int64N(1e9)}
}

func (m *mutator) setMtime(rel string) error {
	t := m.mtime()
	return syscall.UtimesNano(filepath.Join(m.root, rel), []syscall.Timespec{t, t})
}

// pick returns up to n unused files from list, chosen at random.
func (m *mutator) pick(list []file, n int) []file {
	var out []file
	for tries := 0; len(out) < n && tries < 20*n+100 && len(list) > 0; tries++ {
		f := list[m.r.IntN(len(list))]
		if m.used[f.rel] {
			continue
		}
		m.used[f.rel] = true
		out = append(out, f)
	}
	return out
}

func (m *mutator) run(fraction float64) (int64, error) {
	var files []file
	var dirs []string
	err := filepath.WalkDir(m.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(m.root, path)
		if d.IsDir() {
			if rel == "special" {
				return filepath.SkipDir
			}
			dirs = append(dirs, rel)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return err
		}
		if st.Nlink == 1 {
			files = append(files, file{rel, st.Size})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(files) < 20 {
		return 0, fmt.Errorf("%s: only %d files, not a corpus", m.root, len(files))
	}
	var total int64
	var small, medium []file
	for _, f := range files {
		total += f.size
		switch {
		case f.size < 64<<10:
			small = append(small, f)
		default:
			medium = append(medium, f)
		}
	}
	sort.SliceStable(medium, func(i, j int) bool { return medium[i].size > medium[j].size })
	budget := int64(fraction * float64(total))
	few := func(div int) int { return max(3, len(files)/div) }

	// 1. Overwrite a region in the middle of one of the biggest files:
	// 40% of the budget, at an offset that is not block-aligned.
	big := m.pick(medium[:min(3, len(medium))], 1) // empty if there is no medium file
	for _, f := range big {
		n := min(budget*4/10, f.size/2)
		off := f.size/3 + 123
		if err := m.overwrite(f.rel, off, n); err != nil {
			return 0, err
		}
		m.counts["overwritten"]++
	}
	// 2. Append: 15% of the budget to some medium files (logs grow), a
	// little to some small ones.
	app := m.pick(medium, few(400))
	for _, f := range app {
		if err := m.appendTo(f.rel, max(1, budget*15/100/int64(len(app)))); err != nil {
			return 0, err
		}
		m.counts["appended"]++
	}
	for _, f := range m.pick(small, few(400)) {
		if err := m.appendTo(f.rel, 10+m.r.Int64N(2000)); err != nil {
			return 0, err
		}
		m.counts["appended"]++
	}
	// 3. Edit a few small files in place, and insert into a few others.
	for _, f := range m.pick(small, few(200)) {
		n := min(f.size, 1+m.r.Int64N(64))
		if err := m.overwrite(f.rel, m.r.Int64N(f.size-n+1), n); err != nil {
			return 0, err
		}
		m.counts["edited"]++
	}
	var insertable []file // small enough to rewrite in memory
	for _, f := range files {
		if f.size < 16<<20 {
			insertable = append(insertable, f)
		}
	}
	for _, f := range m.pick(insertable, few(400)) {
		if err := m.insert(f.rel, m.r.Int64N(f.size+1), 1+m.r.Int64N(4096)); err != nil {
			return 0, err
		}
		m.counts["inserted"]++
	}
	// 4. New files: the rest of the budget, minus what deletions remove.
	var srcDirs []string
	for _, d := range dirs {
		if d != "." {
			srcDirs = append(srcDirs, d)
		}
	}
	sort.Strings(srcDirs)
	newDir := fmt.Sprintf("added-%d", m.clock)
	if err := os.Mkdir(filepath.Join(m.root, newDir), 0o755); err != nil {
		return 0, err
	}
	m.dirs["."] = true
	m.counts["new dirs"]++
	left := budget - m.changed
	for i := 0; left > 0; i++ {
		n := min(left, 100+m.r.Int64N(32<<10))
		if i == 0 {
			n = min(left, left*2/3+1) // one larger file
		}
		dir := newDir
		if i%2 == 1 {
			dir = srcDirs[m.r.IntN(len(srcDirs))]
		}
		rel := filepath.Join(dir, fmt.Sprintf("new-%d-%d.txt", m.clock, i))
		if err := m.create(rel, n, i == 0); err != nil {
			return 0, err
		}
		m.dirs[dir] = true
		left -= n
		m.counts["added"]++
	}
	// 5. Delete a few files.
	for _, f := range m.pick(small, few(300)) {
		if err := os.Remove(filepath.Join(m.root, f.rel)); err != nil {
			return 0, err
		}
		m.dirs[filepath.Dir(f.rel)] = true
		m.changed += f.size
		m.counts["deleted"]++
	}
	// 6. New mtime, same content.
	for _, f := range m.pick(files, few(300)) {
		if err := m.setMtime(f.rel); err != nil {
			return 0, err
		}
		m.counts["touched"]++
	}
	// Directories whose entries changed get a deterministic mtime too.
	var ds []string
	for d := range m.dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		if err := m.setMtime(d); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// fill writes n generated bytes: words (compressible) or random.
func (m *mutator) fill(b []byte, random bool) {
	if random {
		for i := 0; i < len(b); i += 8 {
			v := m.r.Uint64()
			for j := 0; j < 8 && i+j < len(b); j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return
	}
	words := []string{"changed ", "line ", "value ", "update ", "new ", "data ", "mutate ", "edit\n", "= ", "42 "}
	for i := 0; i < len(b); {
		i += copy(b[i:], words[m.r.IntN(len(words))])
	}
}

func (m *mutator) writeAt(rel string, off, n int64, flag int, random bool) error {
	path := filepath.Join(m.root, rel)
	f, err := os.OpenFile(path, os.O_WRONLY|flag, 0)
	if err != nil {
		return err
	}
	buf := make([]byte, min(n, 1<<20))
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		m.fill(buf[:k], random)
		if flag&os.O_APPEND != 0 {
			_, err = f.Write(buf[:k])
		} else {
			_, err = f.WriteAt(buf[:k], off)
		}
		if err != nil {
			f.Close()
			return err
		}
		off += k
		left -= k
	}
	if err := f.Close(); err != nil {
		return err
	}
	m.changed += n
	return m.setMtime(rel)
}

func (m *mutator) overwrite(rel string, off, n int64) error {
	return m.writeAt(rel, off, n, 0, m.r.IntN(2) == 0)
}

func (m *mutator) appendTo(rel string, n int64) error {
	return m.writeAt(rel, 0, n, os.O_APPEND, m.r.IntN(3) == 0)
}

// insert puts n new bytes at off, shifting the rest of the file.
func (m *mutator) insert(rel string, off, n int64) error {
	path := filepath.Join(m.root, rel)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ins := make([]byte, n)
	m.fill(ins, false)
	out := make([]byte, 0, int64(len(data))+n)
	out = append(append(append(out, data[:off]...), ins...), data[off:]...)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, fi.Mode().Perm()); err != nil {
		return err
	}
	m.changed += n
	return m.setMtime(rel)
}

func (m *mutator) create(rel string, n int64, random bool) error {
	path := filepath.Join(m.root, rel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil { // whatever the umask
		f.Close()
		return err
	}
	f.Close()
	return m.writeAt(rel, 0, n, 0, random)
}
