package repotest_test

// TestFormatSpecReader reads a repository cairn wrote with a reader made
// from docs/FORMAT.md alone: no cairn package decodes anything here, only
// the primitives the document names (BLAKE3, XChaCha20-Poly1305, argon2id,
// zstd). Whatever the code writes that the document does not say (a
// snapshot field, a tree tag, a lock field, a layout) fails it, so the
// document keeps letting others write a compatible reader.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// spec is docs/FORMAT.md, cut into its numbered sections.
type spec map[string]string

func readSpec(t *testing.T) spec {
	b, err := os.ReadFile("../../docs/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	s := spec{}
	parts := regexp.MustCompile(`(?m)^## (\d+)\. `).Split(string(b), -1)
	nums := regexp.MustCompile(`(?m)^## (\d+)\. `).FindAllStringSubmatch(string(b), -1)
	for i, m := range nums {
		s[m[1]] = parts[i+1]
	}
	s["all"] = string(b)
	return s
}

// checkWording fails where FORMAT.md no longer says, word for word, what
// this reader takes from it: the key contexts, additional data, magics
// and the numbers of the tree tags it decodes. Without it, the document
// could change (a context renamed, two tags swapped) while the code and
// this reader still agree with each other.
func (s spec) checkWording(t *testing.T) {
	t.Helper()
	for _, sec := range []string{"3", "4", "5", "6", "8", "9", "10", "11", "12", "13"} {
		if strings.TrimSpace(s[sec]) == "" {
			t.Fatalf("FORMAT.md has no section \"## %s. ...\", which this reader follows", sec)
		}
	}
	for sec, words := range map[string][]string{
		"3":  {`DK("cairn 2026-11 encryption key", M)`, `DK("cairn 2026-11 blob id key", M)`, `DK("cairn 2026-11 tree blob id key", M)`, `DK("cairn 2026-11 config mac key", M)`},
		"5":  {"`typed-blob-ids`"},
		"6":  {`AD ` + "`" + `"cairn key file v1"` + "`", `"memory_kib": `, "= 72 bytes"},
		"8":  {`"CRN1"`, `AD ` + "`" + `"cairn pack header v1"` + "`"},
		"9":  {`"CRNT" (43 52 4e 54) ‖ format 0x01`},
		"10": {`AD = "cairn object v1 " ‖ kind ‖ flags(1)`, `"snapshot" "index" "condemned" "lock"`},
		"11": {"`\"CRNI\"`"},
	} {
		for _, w := range words {
			if !strings.Contains(s[sec], w) {
				t.Errorf("FORMAT.md §%s no longer says %s, which the code writes and this reader takes from it", sec, w)
			}
		}
	}
	for tag, name := range map[int]string{1: "name", 2: "kind", 3: "mode", 11: "size", 12: "dev", 14: "links", 19: "content", 20: "subtree"} {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^\| %d \| %s \|`, tag, name)).MatchString(s["9"]) {
			t.Errorf("FORMAT.md §9's table no longer gives tag %d as %s, as the code writes it and this reader decodes it", tag, name)
		}
	}
}

// firstCells returns the backquoted names in the first cell of each table
// row of a section, in order.
func (s spec) firstCells(sec string) []string {
	var out []string
	for _, line := range strings.Split(s[sec], "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.SplitN(line[1:], "|", 2)[0]
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cell, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

type specReader struct {
	t          *testing.T
	dir        string
	ek, ik, tk []byte
	typed      bool
	blobs      map[string]specBlob
	zd         *zstd.Decoder
}

type specBlob struct {
	typ              byte
	pack             string
	off, length, raw uint64
}

func dk(ctx string, m []byte) []byte {
	out := make([]byte, 32)
	blake3.DeriveKey(ctx, m, out)
	return out
}

func kh(k, x []byte) string {
	h, _ := blake3.NewKeyed(k)
	h.Write(x)
	return hex.EncodeToString(h.Sum(nil))
}

func plainH(x []byte) string { s := blake3.Sum256(x); return hex.EncodeToString(s[:]) }

func (r *specReader) open(key, sealed, ad []byte, what string) []byte {
	r.t.Helper()
	a, _ := chacha20poly1305.NewX(key)
	if len(sealed) < 40 {
		r.t.Fatalf("%s: sealed bytes shorter than nonce and tag", what)
	}
	p, err := a.Open(nil, sealed[:24], sealed[24:], ad)
	if err != nil {
		r.t.Fatalf("%s: does not open with AD %q as FORMAT.md says", what, ad)
	}
	return p
}

func (r *specReader) read(name string) []byte {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *specReader) list(folder string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(r.dir, folder), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			rel, _ := filepath.Rel(r.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// envelope opens an object of §10.
func (r *specReader) envelope(kind, name string) []byte {
	r.t.Helper()
	b := r.read(name)
	if b[0] != 1 || b[1]&^1 != 0 {
		r.t.Fatalf("%s: envelope starts %x, FORMAT.md §10 wants 01 then flags 00 or 01", name, b[:2])
	}
	p := r.open(r.ek, b[2:], append([]byte("cairn object v1 "+kind), b[1]), name)
	if b[1]&1 != 0 {
		var err error
		if p, err = r.zd.DecodeAll(p, nil); err != nil {
			r.t.Fatalf("%s: zstd: %v", name, err)
		}
	}
	return p
}

// cursor reads the plaintext of one object; what names it (and the
// FORMAT.md section) in failures.
type cursor struct {
	t    *testing.T
	what string
	b    []byte
}

func (c *cursor) uv() uint64 {
	c.t.Helper()
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		c.t.Fatalf("%s: bad uvarint %d bytes before the end", c.what, len(c.b))
	}
	c.b = c.b[n:]
	return v
}

func (c *cursor) take(n uint64) []byte {
	c.t.Helper()
	if n > uint64(len(c.b)) {
		c.t.Fatalf("%s: a field of %d bytes overruns its container (%d bytes left)", c.what, n, len(c.b))
	}
	x := c.b[:n]
	c.b = c.b[n:]
	return x
}

func TestFormatSpecReader(t *testing.T) {
	sp := readSpec(t)
	sp.checkWording(t)
	f := repotest.New(t)
	// what the fixture lacks: a hardlink pair and a file with a hole
	if err := os.Link(filepath.Join(f.Source, "docs/a.txt"), filepath.Join(f.Source, "a-link")); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(f.Source, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sparse.WriteAt([]byte("end"), 8<<20); err != nil {
		t.Fatal(err)
	}
	if err := sparse.Close(); err != nil {
		t.Fatal(err)
	}
	f.Ingest()
	lockName := f.Repo.TestWriteLock(t, repo.LockInfo{Host: "elsewhere", PID: 1, User: "u", Operation: "ingest"})

	r := &specReader{t: t, dir: f.Dir, blobs: map[string]specBlob{}}
	r.zd, _ = zstd.NewReader(nil)
	defer r.zd.Close()

	// §5, §6: config, key file, derived keys, MAC
	cfgb := r.read("config")
	var cfg struct {
		Version  int
		Mac      string
		Features struct{ Mandatory []string }
	}
	if err := json.Unmarshal(cfgb, &cfg); err != nil || cfg.Version != 1 {
		t.Fatalf("config: %v, version %d", err, cfg.Version)
	}
	var cfgFields map[string]json.RawMessage
	json.Unmarshal(cfgb, &cfgFields)
	for k := range cfgFields {
		if !slices.Contains(sp.firstCells("5"), k) && !slices.ContainsFunc(sp.firstCells("5"), func(c string) bool { return strings.HasPrefix(c, k+".") }) {
			t.Errorf("config field %q is not in FORMAT.md §5", k)
		}
	}
	keys := r.list("keys")
	if len(keys) != 1 {
		t.Fatalf("%d key files", len(keys))
	}
	var kf struct {
		Version int
		Kind    string
		KDF     struct {
			Name      string
			Time      uint32
			MemoryKiB uint32 `json:"memory_kib"`
			Threads   uint8
			Salt      []byte
		}
		Sealed []byte
	}
	if err := json.Unmarshal(r.read(keys[0]), &kf); err != nil || kf.Version != 1 || kf.Kind != "password" || kf.KDF.Name != "argon2id" || len(kf.Sealed) != 72 {
		t.Fatalf("key file: %v %+v", err, kf)
	}
	var kfFields struct {
		Top map[string]json.RawMessage
		KDF map[string]json.RawMessage
	}
	json.Unmarshal(r.read(keys[0]), &kfFields.Top)
	json.Unmarshal(kfFields.Top["kdf"], &kfFields.KDF)
	for k := range kfFields.Top {
		if k != "kdf" && !slices.Contains(sp.firstCells("6"), k) {
			t.Errorf("key file field %q is not in FORMAT.md §6", k)
		}
	}
	for k := range kfFields.KDF {
		if !slices.Contains(sp.firstCells("6"), "kdf."+k) {
			t.Errorf("key file field \"kdf\".%q is not in FORMAT.md §6", k)
		}
	}
	wk := argon2.IDKey([]byte(repo.TestPassword), kf.KDF.Salt, kf.KDF.Time, kf.KDF.MemoryKiB, kf.KDF.Threads, 32)
	m := r.open(wk, kf.Sealed, []byte("cairn key file v1"), keys[0])
	r.ek = dk("cairn 2026-11 encryption key", m)
	r.ik = dk("cairn 2026-11 blob id key", m)
	r.tk = dk("cairn 2026-11 tree blob id key", m)
	i := bytes.LastIndex(cfgb, []byte(`,"mac":"`))
	if i < 0 || kh(dk("cairn 2026-11 config mac key", m), append(slices.Clone(cfgb[:i]), '}')) != cfg.Mac {
		t.Fatal("config MAC does not verify as FORMAT.md §5 says")
	}
	r.typed = slices.Contains(cfg.Features.Mandatory, "typed-blob-ids")

	// §11: index segments, superseded ones ignored
	type segment struct {
		name  string
		plain []byte
	}
	var segs []segment
	superseded := map[string]bool{}
	for _, name := range r.list("index") {
		if plainH(r.read(name)) != filepath.Base(name) {
			t.Errorf("%s: name is not H(stored bytes)", name)
		}
		segs = append(segs, segment{name, r.envelope("index", name)})
	}
	packs := map[string][]specBlob{}
	for pass := 0; pass < 2; pass++ {
		for _, s := range segs {
			if pass == 1 && superseded[filepath.Base(s.name)] {
				continue
			}
			c := &cursor{t, s.name + " (FORMAT.md §11)", s.plain}
			if string(c.take(4)) != "CRNI" || c.take(1)[0] != 1 {
				t.Fatalf("%s: magic or format", s.name)
			}
			for np := c.uv(); np > 0; np-- {
				pid := hex.EncodeToString(c.take(32))
				typ := c.take(1)[0]
				for nb := c.uv(); nb > 0; nb-- {
					bid := hex.EncodeToString(c.take(32))
					b := specBlob{typ: typ, pack: pid, off: c.uv(), length: c.uv(), raw: c.uv()}
					if pass == 1 {
						packs[pid] = append(packs[pid], b)
						r.blobs[bid] = b
					}
				}
			}
			for ns := c.uv(); ns > 0; ns-- {
				superseded[hex.EncodeToString(c.take(32))] = true
			}
			if len(c.b) != 0 {
				t.Fatalf("%s: bytes after the superseded list", s.name)
			}
		}
	}

	// §8: every indexed pack, its trailer and header
	for pid, es := range packs {
		folder := map[byte]string{1: "data", 2: "tree"}[es[0].typ]
		pb := r.read(folder + "/" + pid[:2] + "/" + pid)
		if plainH(pb) != pid || string(pb[len(pb)-4:]) != "CRN1" {
			t.Fatalf("pack %s: name or magic", pid)
		}
		l := uint64(binary.LittleEndian.Uint32(pb[len(pb)-8:]))
		d := uint64(len(pb)) - 8 - l
		c := &cursor{t, "pack " + pid + " header (FORMAT.md §8)", r.open(r.ek, pb[d:d+l], []byte("cairn pack header v1"), pid)}
		if c.take(1)[0] != 1 || c.uv() != uint64(len(es)) {
			t.Fatalf("pack %s: header format or count differs from the index", pid)
		}
		off := uint64(0)
		for _, e := range es {
			typ := c.take(1)[0]
			c.take(32)
			if sl, raw := c.uv(), c.uv(); typ != e.typ || off != e.off || sl != e.length || raw != e.raw {
				t.Fatalf("pack %s: header entry differs from the index", pid)
			}
			off += e.length
		}
		if len(c.b) != 0 || off != d {
			t.Fatalf("pack %s: blobs do not cover the data area exactly", pid)
		}
	}

	// §12, §9: every snapshot, its fields in the documented order, its trees
	fields := sp.firstCells("12")
	tags := map[uint64]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \| `).FindAllStringSubmatch(sp["9"], -1) {
		var n uint64
		for _, d := range m[1] {
			n = n*10 + uint64(d-'0')
		}
		tags[n] = true
	}
	for _, name := range r.list("snapshots") {
		if plainH(r.read(name)) != filepath.Base(name) {
			t.Errorf("%s: name is not H(stored bytes)", name)
		}
		plain := r.envelope("snapshot", name)
		dec := json.NewDecoder(bytes.NewReader(plain))
		dec.Token()
		last := -1
		var sn struct {
			Tree  string
			Paths []string
		}
		json.Unmarshal(plain, &sn)
		for dec.More() {
			k, _ := dec.Token()
			var v json.RawMessage
			dec.Decode(&v)
			at := slices.Index(fields, k.(string))
			if at < 0 {
				t.Errorf("%s: field %q is not in FORMAT.md §12", name, k)
			} else if at < last {
				t.Errorf("%s: field %q comes earlier in FORMAT.md §12's order", name, k)
			} else {
				last = at
			}
		}
		got := map[string][]byte{}
		r.walk(sn.Tree, "", tags, got)
		if name == "snapshots/"+f.Latest().ID.String() {
			for p, content := range got {
				live, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(live, content) {
					t.Errorf("%s: the content FORMAT.md's reader got differs from the file (%v)", p, err)
				}
			}
			if len(got) < 10 {
				t.Errorf("the latest snapshot holds only %d files", len(got))
			}
		}
	}

	// §13: the lock's fields are those of the example
	var example, lock map[string]any
	ex := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(sp["13"])
	if ex == nil || json.Unmarshal([]byte(ex[1]), &example) != nil {
		t.Fatal("FORMAT.md §13 has no JSON example of a lock")
	}
	if err := json.Unmarshal(r.envelope("lock", lockName), &lock); err != nil {
		t.Fatal(err)
	}
	for k := range lock {
		if _, ok := example[k]; !ok {
			t.Errorf("lock field %q is not in FORMAT.md §13", k)
		}
	}
}

// readBlob reads and verifies a blob as §7 says.
func (r *specReader) readBlob(bid string, typ byte) []byte {
	r.t.Helper()
	b, ok := r.blobs[bid]
	if !ok || b.typ != typ {
		r.t.Fatalf("blob %s: not indexed as type %d", bid, typ)
	}
	folder := map[byte]string{1: "data", 2: "tree"}[typ]
	st := r.read(folder + "/" + b.pack[:2] + "/" + b.pack)[b.off : b.off+b.length]
	if st[0]&^1 != 0 {
		r.t.Fatalf("blob %s: reserved flag bits", bid)
	}
	raw, _ := hex.DecodeString(bid)
	p := r.open(r.ek, st[1:], append([]byte{typ, st[0]}, raw...), "blob "+bid)
	if st[0]&1 != 0 {
		var err error
		if p, err = r.zd.DecodeAll(p, nil); err != nil {
			r.t.Fatalf("blob %s: %v", bid, err)
		}
	}
	key := r.ik
	if typ == 2 && r.typed {
		key = r.tk
	}
	if uint64(len(p)) != b.raw || kh(key, p) != bid {
		r.t.Fatalf("blob %s: length or keyed hash differs", bid)
	}
	return p
}

// walk decodes the tree blob tid (§9) and its subtrees, and collects each
// file's content by path.
func (r *specReader) walk(tid, dir string, tags map[uint64]bool, files map[string][]byte) {
	t := r.t
	c := &cursor{t, "tree " + tid + " (FORMAT.md §9)", r.readBlob(tid, 2)}
	if string(c.take(4)) != "CRNT" || c.take(1)[0] != 1 {
		t.Fatalf("tree %s: magic or format", tid)
	}
	for n := c.uv(); n > 0; n-- {
		nc := &cursor{t, c.what, c.take(c.uv())}
		f := map[uint64][]byte{}
		for len(nc.b) > 0 {
			tag := nc.uv()
			f[tag] = nc.take(nc.uv())
			if !tags[tag] {
				t.Errorf("tree %s: tag %d is not in FORMAT.md §9", tid, tag)
			}
		}
		u := func(tag uint64) uint64 {
			v, k := binary.Uvarint(f[tag])
			if f[tag] != nil && k != len(f[tag]) {
				t.Fatalf("tree %s: field %d is not one uvarint", tid, tag)
			}
			return v
		}
		p := dir + "/" + string(f[1])
		if u(3)&^0o7777 != 0 {
			t.Errorf("%s: mode %o has bits outside 07777", p, u(3))
		}
		if f[12] != nil && (u(2) == 2 || u(14) < 2) {
			t.Errorf("%s: dev written where FORMAT.md §9 says it is not", p)
		}
		switch u(2) {
		case 2:
			r.walk(hex.EncodeToString(f[20]), p, tags, files)
		case 1:
			cc := &cursor{t, p + " content (FORMAT.md §9)", f[19]}
			var content []byte
			for len(cc.b) > 0 {
				size := cc.uv()
				switch cc.take(1)[0] {
				case 0:
					d := r.readBlob(hex.EncodeToString(cc.take(32)), 1)
					if uint64(len(d)) != size {
						t.Fatalf("%s: chunk size differs from its blob", p)
					}
					content = append(content, d...)
				case 1:
					content = append(content, make([]byte, size)...)
				default:
					t.Fatalf("%s: unknown chunk kind", p)
				}
			}
			if uint64(len(content)) != u(11) {
				t.Fatalf("%s: chunks add up to %d, size says %d", p, len(content), u(11))
			}
			files[p] = content
		}
	}
	if len(c.b) != 0 {
		t.Fatalf("tree %s: bytes after the last node", tid)
	}
}
