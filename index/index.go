// Package index is cairn's local cache of repository metadata, kept in a
// bbolt file per repository: where every blob lives, which index segments
// have been read, the snapshot catalogue and the file-change cache.
//
// It is only a cache. The index segments in the repository are the truth;
// the repository library rebuilds this file from them whenever it is
// missing, stale or damaged, so nothing here is ever the only copy.
//
// # Buckets
//
//	meta       "repo" -> repository ID; "format" -> cache format
//	segments   segment ID -> empty (loaded), or flags(1) + superseded IDs (segments.go)
//	packs      pack ID -> type(1) blob count(uvarint)
//	blobs      blob ID -> pack ID(32) type(1) offset(4) length(4) raw length(4)
//	snapshots  snapshot ID -> the snapshot object's plaintext JSON
//	files      source key -> bucket of path -> file-change cache entry
package index

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/id"
)

// cacheFormat changes whenever the layout above changes; an old cache is
// then dropped and rebuilt.
const cacheFormat = "2"

var (
	bMeta      = []byte("meta")
	bSegments  = []byte("segments")
	bPacks     = []byte("packs")
	bBlobs     = []byte("blobs")
	bSnapshots = []byte("snapshots")
	bFiles     = []byte("files")
	bAlts      = []byte("alts")
)

// ErrBusy means another process holds the cache file.
var ErrBusy = errors.New("local index is in use by another cairn process")

// ErrDamaged means the cache file's pages are inconsistent: bbolt keeps no
// checksums of them, and follows a garbled offset until it panics. The
// file is marked, and the next Open starts it again.
var ErrDamaged = errors.New("local index damaged")

// damagedSuffix names the mark, beside the cache file, that a damaged
// one leaves for the next Open.
const damagedSuffix = ".damaged"

// guard turns a panic of bbolt over a damaged file into ErrDamaged, and
// marks the file so that the next Open starts it again.
func (d *DB) guard(err *error) {
	p := recover()
	if p == nil {
		return
	}
	os.WriteFile(d.path+damagedSuffix, nil, 0o600)
	*err = fmt.Errorf("local index %s: %v: %w; it is rebuilt from the repository at the next run", d.path, p, ErrDamaged)
}

// view is bolt's View, with a damaged file reported as ErrDamaged.
func (d *DB) view(fn func(*bolt.Tx) error) (err error) {
	defer d.guard(&err)
	return d.bolt.View(fn)
}

// update is bolt's Update, with a damaged file reported as ErrDamaged.
func (d *DB) update(fn func(*bolt.Tx) error) (err error) {
	defer d.guard(&err)
	return d.bolt.Update(fn)
}

// Blob locates one blob.
type Blob struct {
	ID        id.ID
	Type      id.BlobType
	Pack      id.ID
	Offset    uint32
	Length    uint32
	RawLength uint32
}

// Pack lists the blobs of one pack, as an index segment records them.
type Pack struct {
	ID    id.ID
	Type  id.BlobType
	Blobs []Blob
}

// DB is an open cache file.
type DB struct {
	bolt *bolt.DB
	path string
}

// initialMmap is the address space the cache file is mapped with at first.
// bbolt maps the file anew each time it outgrows the mapping, doubling it,
// and copies every node a transaction has changed off the old mapping
// first: growing to 16 MiB in a first ingest of 2 GiB allocated 48 MiB.
// A mapping larger than the file costs address space, not memory (64-bit
// only: a 32-bit process keeps bbolt's growth).
const initialMmap = (strconv.IntSize / 64) << 30

// Open opens or creates the cache at path for repository repoID. A cache of
// another repository or an older layout is emptied. When another process
// holds the file for longer than wait, Open fails with ErrBusy.
func Open(path string, repoID string, wait time.Duration) (*DB, error) {
	// A run that found the file damaged marked it: start it again.
	if _, err := os.Stat(path + damagedSuffix); err == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove damaged local index %s: %w", path, err)
		}
		os.Remove(path + damagedSuffix)
	}
	b, err := openBolt(path, wait)
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s: %w", path, ErrBusy)
		}
		return nil, fmt.Errorf("open local index %s: %w", path, err)
	}
	if err := checkSize(b); err != nil {
		b.Close()
		return nil, fmt.Errorf("open local index %s: %w", path, err)
	}
	go readAhead(path) // not for a busy one: that run uses a private copy
	d := &DB{bolt: b, path: path}
	err = d.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if m != nil && string(m.Get([]byte("repo"))) == repoID && string(m.Get([]byte("format"))) == cacheFormat {
			return nil
		}
		for _, name := range [][]byte{bMeta, bSegments, bPacks, bBlobs, bSnapshots, bFiles, bAlts} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		m = tx.Bucket(bMeta)
		if err := m.Put([]byte("repo"), []byte(repoID)); err != nil {
			return err
		}
		return m.Put([]byte("format"), []byte(cacheFormat))
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("initialise local index %s: %w", path, err)
	}
	return d, nil
}

// openBolt is bolt.Open, with a panic over a damaged file (a garbled
// freelist page) reported as ErrDamaged rather than crashing the command.
func openBolt(path string, wait time.Duration) (b *bolt.DB, err error) {
	// A page past the end of a file cut short faults: a panic here too.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%v: %w", p, ErrDamaged)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: wait, InitialMmapSize: initialMmap})
}

// checkSize refuses (ErrDamaged) a file shorter than its pages say, as one
// cut short is: bbolt reads its pages through a mapping larger than the
// file, and a read past the end kills the process with SIGBUS, which no
// recover catches.
func checkSize(b *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v: %w", p, ErrDamaged)
		}
	}()
	fi, err := os.Stat(b.Path())
	if err != nil {
		return err
	}
	var want int64
	if err := b.View(func(tx *bolt.Tx) error {
		want = tx.Size()
		return nil
	}); err != nil {
		return err
	}
	if fi.Size() < want {
		return fmt.Errorf("%d bytes long, its pages need %d: %w", fi.Size(), want, ErrDamaged)
	}
	return nil
}

// readAheadMax bounds readAhead: a bigger cache is left to be read as it
// is used.
const readAheadMax = 256 << 20

// readAheadStep is how much one readAhead call asks for. The kernel reads
// at most its readahead window (or the device's largest request) per
// call, whatever the length asked: one call for the whole file read its
// first 8 MiB here and left the rest to be faulted in page by page. The
// window is rarely below 128 KiB.
const readAheadStep = 128 << 10

// readAhead asks the kernel to read the cache file in the background.
// Lookups touch its pages in no particular order, each one a wait on the
// disk when the file is not in memory (the first command after a boot, or
// after a night of other work): read whole and ahead, it costs a fraction
// of that.
func readAhead(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	for off := int64(0); off < min(fi.Size(), readAheadMax); off += readAheadStep {
		if unix.Fadvise(int(f.Fd()), off, readAheadStep, unix.FADV_WILLNEED) != nil {
			return
		}
	}
}

// Path is the cache file's location.
func (d *DB) Path() string { return d.path }

// Close closes the cache file.
func (d *DB) Close() error { return d.bolt.Close() }

// Segments returns the IDs of the index segments already loaded (not
// those remembered as superseded and ignored).
func (d *DB) Segments() (map[id.ID]bool, error) {
	infos, err := d.SegmentInfos()
	if err != nil {
		return nil, err
	}
	out := map[id.ID]bool{}
	for sid, s := range infos {
		if s.Loaded {
			out[sid] = true
		}
	}
	return out, nil
}

// AddSegment records the packs of one index segment that supersedes
// nothing, in one transaction. A blob already located elsewhere keeps its
// first location.
func (d *DB) AddSegment(seg id.ID, packs []Pack) error {
	return d.AddSegmentInfo(seg, SegmentInfo{Loaded: true}, packs)
}

// blobPut is one blob location to record.
type blobPut struct {
	pack id.ID
	blob Blob
}

// sortedPuts lists the blobs of packs in key order.
func sortedPuts(packs []Pack) []blobPut {
	n := 0
	for _, p := range packs {
		n += len(p.Blobs)
	}
	puts := make([]blobPut, 0, n)
	for _, p := range packs {
		for _, b := range p.Blobs {
			puts = append(puts, blobPut{p.ID, b})
		}
	}
	// Blob IDs are hashes, so in pack order they come at random; bbolt
	// splits nodes only at commit, and a random insert into a node moves
	// every key after it: a segment of a few hundred thousand blobs took
	// minutes. In key order each lands at the end of its node. The sort is
	// stable, so copies of one blob keep their order (the first is the
	// location, the others alternatives) exactly as before.
	slices.SortStableFunc(puts, func(a, b blobPut) int { return bytes.Compare(a.blob.ID[:], b.blob.ID[:]) })
	return puts
}

// putPackRecords records each pack's type and blob count.
func putPackRecords(tx *bolt.Tx, packs []Pack) error {
	pb := tx.Bucket(bPacks)
	for _, p := range packs {
		pv := binary.AppendUvarint([]byte{byte(p.Type)}, uint64(len(p.Blobs)))
		if err := pb.Put(p.ID[:], pv); err != nil {
			return err
		}
	}
	return nil
}

// putBlobs records blob locations; a blob already located elsewhere keeps
// its first location, the others are kept as alternatives.
func putBlobs(tx *bolt.Tx, puts []blobPut) error {
	bb := tx.Bucket(bBlobs)
	for _, u := range puts {
		b := u.blob
		if old := bb.Get(b.ID[:]); old != nil {
			// Another copy: kept as an alternative, read when the
			// first pack turns out to be lost.
			if !bytes.Equal(old[:32], u.pack[:]) {
				if err := tx.Bucket(bAlts).Put(append(b.ID[:32:32], u.pack[:]...), encodeBlob(u.pack, b)); err != nil {
					return err
				}
			}
			continue
		}
		if err := bb.Put(b.ID[:], encodeBlob(u.pack, b)); err != nil {
			return err
		}
	}
	return nil
}

// putTxBlobs is how many blob locations one transaction of addPacks
// records. A transaction holds in memory every node it changes, whole,
// until it commits, and blob IDs land at random among those of the index:
// 50,000 of them in an index of a million blobs changed nearly every
// leaf, 200 MB. In key order, each transaction changes only the nodes of
// its own range of keys, so the nodes written in all are the same.
var putTxBlobs = 4096

// addPacks records the packs of the loaded segments among segs, then, in
// the last transaction, the records of all of segs. The blob locations go
// in transactions of putTxBlobs. When that takes more than one, the first
// also records the packs and marks the loaded segments partial: a crash
// before the last leaves blobs located in packs of segments not fully
// recorded, and SyncIndex, seeing the marks, reads such a segment again
// while it is stored, and rebuilds the blob locations once it is not (lost,
// or removed by a prune): locations no stored segment names would
// otherwise stay, unnoticed, for good.
func (d *DB) addPacks(packs []Pack, segs []SegmentAdd) error {
	puts := sortedPuts(packs)
	recorded := false // the packs' records are in
	for ; len(puts) > putTxBlobs; recorded = true {
		err := d.update(func(tx *bolt.Tx) error {
			if !recorded {
				for _, s := range segs {
					if !s.Info.Loaded {
						continue
					}
					p := SegmentInfo{Partial: true, Supersedes: s.Info.Supersedes}
					if err := tx.Bucket(bSegments).Put(s.ID[:], p.encode()); err != nil {
						return err
					}
				}
				if err := putPackRecords(tx, packs); err != nil {
					return err
				}
			}
			return putBlobs(tx, puts[:putTxBlobs])
		})
		if err != nil {
			return err
		}
		puts = puts[putTxBlobs:]
	}
	return d.update(func(tx *bolt.Tx) error {
		if err := putBlobs(tx, puts); err != nil {
			return err
		}
		if !recorded {
			if err := putPackRecords(tx, packs); err != nil {
				return err
			}
		}
		if addPacksFail != nil {
			return addPacksFail
		}
		for _, s := range segs {
			if err := tx.Bucket(bSegments).Put(s.ID[:], s.Info.encode()); err != nil {
				return err
			}
		}
		return nil
	})
}

// addPacksFail, set by tests, fails addPacks' last transaction, as a crash
// before it commits would.
var addPacksFail error

// ResetBlobs forgets every segment, pack and blob location, before a
// rebuild from the repository's segments.
func (d *DB) ResetBlobs() error {
	return d.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bSegments, bPacks, bBlobs, bAlts} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Lookup finds a blob's location.
func (d *DB) Lookup(bid id.ID) (Blob, bool, error) {
	var out Blob
	found := false
	err := d.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bBlobs).Get(bid[:])
		if v == nil {
			return nil
		}
		if len(v) != blobEntrySize {
			return fmt.Errorf("local index: blob %s: entry of %d bytes", bid.Short(), len(v))
		}
		found = true
		out = decodeBlob(bid, v)
		return nil
	})
	return out, found, err
}

// blobEntrySize is the length of a blob's stored location: pack ID, type,
// offset, length and raw length.
const blobEntrySize = 32 + 1 + 4 + 4 + 4

// encodeBlob is a blob's location as stored. bbolt keeps the slice until
// commit: one allocation per entry.
func encodeBlob(pack id.ID, b Blob) []byte {
	v := make([]byte, blobEntrySize)
	copy(v[:32], pack[:])
	v[32] = byte(b.Type)
	binary.LittleEndian.PutUint32(v[33:], b.Offset)
	binary.LittleEndian.PutUint32(v[37:], b.Length)
	binary.LittleEndian.PutUint32(v[41:], b.RawLength)
	return v
}

func decodeBlob(bid id.ID, v []byte) Blob {
	b := Blob{ID: bid, Type: id.BlobType(v[32])}
	copy(b.Pack[:], v[:32])
	b.Offset = binary.LittleEndian.Uint32(v[33:])
	b.Length = binary.LittleEndian.Uint32(v[37:])
	b.RawLength = binary.LittleEndian.Uint32(v[41:])
	return b
}

// Unindexed returns those of pids that no loaded segment names.
func (d *DB) Unindexed(pids []id.ID) ([]id.ID, error) {
	var out []id.ID
	err := d.view(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bPacks)
		for _, pid := range pids {
			if pb.Get(pid[:]) == nil {
				out = append(out, pid)
			}
		}
		return nil
	})
	return out, err
}

// Counts returns the number of packs and blobs located.
func (d *DB) Counts() (packs, blobs int, err error) {
	err = d.view(func(tx *bolt.Tx) error {
		packs = tx.Bucket(bPacks).Stats().KeyN
		blobs = tx.Bucket(bBlobs).Stats().KeyN
		return nil
	})
	return
}

// CopyTo writes a consistent copy of the cache to path (which must not
// exist), for a long-running reader that should not hold the shared file.
func (d *DB) CopyTo(path string) error {
	return d.view(func(tx *bolt.Tx) error {
		return tx.CopyFile(path, 0o600)
	})
}

// Generation identifies the cache's content: it changes with every write.
func (d *DB) Generation() int {
	var g int
	d.view(func(tx *bolt.Tx) error {
		g = tx.ID()
		return nil
	})
	return g
}

// PackedBytes is the stored size of every located blob.
func (d *DB) PackedBytes() (int64, error) {
	var n int64
	err := d.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bBlobs).ForEach(func(_, v []byte) error {
			n += int64(binary.LittleEndian.Uint32(v[37:]))
			return nil
		})
	})
	return n, err
}

// Relocate points the blobs of packs at those packs even where the index
// already locates them elsewhere: a writer that stored blobs again because
// their old pack was lost makes its new copies the ones read.
func (d *DB) Relocate(packs []Pack) error {
	return d.update(func(tx *bolt.Tx) error {
		bb := tx.Bucket(bBlobs)
		for _, p := range packs {
			for _, b := range p.Blobs {
				if err := bb.Put(b.ID[:], encodeBlob(p.ID, b)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Alternatives returns the other stored copies of blob bid that index
// segments name, besides the one Lookup gives.
func (d *DB) Alternatives(bid id.ID) ([]Blob, error) {
	var out []Blob
	err := d.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bAlts).Cursor()
		for k, v := c.Seek(bid[:]); k != nil && bytes.HasPrefix(k, bid[:]); k, v = c.Next() {
			out = append(out, decodeBlob(bid, v))
		}
		return nil
	})
	return out, err
}

// BlobsWithPrefix returns the blobs whose hex ID starts with prefix (any
// length, lower-case hex), at most limit of them (all when limit <= 0).
func (d *DB) BlobsWithPrefix(prefix string, limit int) ([]Blob, error) {
	var out []Blob
	err := d.view(func(tx *bolt.Tx) error {
		return prefixScan(tx.Bucket(bBlobs), prefix, func(k, v []byte) bool {
			if len(v) != blobEntrySize || len(k) != len(id.ID{}) {
				return true
			}
			out = append(out, decodeBlob(id.ID(k), v))
			return limit <= 0 || len(out) < limit
		})
	})
	return out, err
}

// prefixScan calls fn with the keys of b whose hex form starts with prefix,
// in order, until fn returns false.
func prefixScan(b *bolt.Bucket, prefix string, fn func(k, v []byte) bool) error {
	whole, err := hex.DecodeString(prefix[:len(prefix)&^1])
	if err != nil {
		return fmt.Errorf("%q is not a hex ID prefix", prefix)
	}
	c := b.Cursor()
	for k, v := c.Seek(whole); k != nil && bytes.HasPrefix(k, whole); k, v = c.Next() {
		if len(prefix)%2 == 1 && (len(k) <= len(whole) || hex.EncodeToString(k[len(whole) : len(whole)+1])[0] != prefix[len(prefix)-1]) {
			continue
		}
		if !fn(k, v) {
			return nil
		}
	}
	return nil
}
