package index

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/repo/id"
)

// The file-change cache maps, per source key, a file's path to an opaque
// entry the ingest pipeline wrote (its size, times, inode and content). Keys
// are the directory path, a NUL, and the entry name, so a directory's
// entries are one contiguous range.

// FileKey is the cache key of name inside directory dir.
func FileKey(dir, name string) []byte {
	k := make([]byte, 0, len(dir)+1+len(name))
	k = append(k, dir...)
	k = append(k, 0)
	return append(k, name...)
}

// DirFiles calls fn with each entry the file-change cache of source holds
// in dir: its name and its bytes, which are valid only during the call. All
// within one read transaction, in which locate finds a blob as Lookup
// does: checking the blobs a whole folder's entries name costs one
// transaction, not one per blob. A damaged blob entry is not found.
func (d *DB) DirFiles(source, dir string, fn func(name string, v []byte, locate func(id.ID) (Blob, bool))) error {
	prefix := FileKey(dir, "")
	return d.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bFiles).Bucket([]byte(source))
		if sb == nil {
			return nil
		}
		blobs := tx.Bucket(bBlobs)
		locate := func(bid id.ID) (Blob, bool) {
			v := blobs.Get(bid[:])
			if len(v) != blobEntrySize {
				return Blob{}, false
			}
			return decodeBlob(bid, v), true
		}
		c := sb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			fn(string(k[len(prefix):]), v, locate)
		}
		return nil
	})
}

// HasFiles reports whether the file-change cache holds any entry for
// source below one of paths (absolute and clean: a file's own path, or a
// folder's, "/" for all).
func (d *DB) HasFiles(source string, paths []string) (bool, error) {
	var has bool
	err := d.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bFiles).Bucket([]byte(source))
		if sb == nil {
			return nil
		}
		c := sb.Cursor()
		for _, p := range paths {
			if p == "/" {
				if k, _ := c.First(); k != nil {
					has = true
					return nil
				}
				continue
			}
			// p itself, a file: its own key, not every name that
			// begins with its name (/etc/hosts.allow for /etc/hosts).
			dir, name := filepath.Split(p)
			if sb.Get(FileKey(filepath.Clean(dir), name)) != nil {
				has = true
				return nil
			}
			ranges := [][]byte{
				append([]byte(p), 0), // in the folder p
				[]byte(p + "/"),      // below it
			}
			for _, prefix := range ranges {
				if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
					has = true
					return nil
				}
			}
		}
		return nil
	})
	return has, err
}

// Below reports whether the cache key k names a path below one of paths
// (absolute and clean), or one of them.
func Below(k []byte, paths []string) bool {
	dir, name, ok := bytes.Cut(k, []byte{0})
	if !ok {
		return false
	}
	full := string(dir) + "/" + string(name)
	if string(dir) == "/" {
		full = "/" + string(name)
	}
	for _, p := range paths {
		if p == "/" || full == p || strings.HasPrefix(full, p) && full[len(p)] == '/' {
			return true
		}
	}
	return false
}

// UpdateFiles brings the cache of source up to date after an ingest of
// paths (absolute and clean): entries in changed are written, and entries
// below paths neither in seen nor in changed (files that vanished, or are now excluded) are
// dropped. Entries of other paths stay: another ingest of the same host
// and source, of other folders, recorded them.
//
// The work is split into transactions of at most filesBatch entries: a
// bbolt transaction holds every page it dirties in memory until it
// commits, and one transaction for the 750k entries of a first ingest
// held some 250 MB. Each entry stands on its own (it names only blobs
// already indexed), so a crash between two transactions leaves a cache
// that only costs re-reads.
func (d *DB) UpdateFiles(source string, paths []string, changed map[string][]byte, seen map[string]struct{}) error {
	err := d.DropFiles(source, paths, func(k []byte) bool {
		_, ok := seen[string(k)]
		if !ok {
			_, ok = changed[string(k)]
		}
		return ok
	})
	if err != nil {
		return err
	}
	entries := make([]FileEntry, 0, len(changed))
	for k, v := range changed {
		entries = append(entries, FileEntry{Key: k, Value: v})
	}
	return d.PutFiles(source, entries)
}

// FileEntry is one file-change cache entry: its key (FileKey) and value.
type FileEntry struct {
	Key   string
	Value []byte
}

// PutFiles writes entries into the cache of source, in transactions of at
// most filesBatch entries (see UpdateFiles), and sorts entries by key. An
// ingest writes its entries as it goes, a batch at a time, so that it
// holds no more of them than a batch: each entry stands on its own, and an
// ingest that fails or is interrupted leaves entries that spare the next
// one reading those files again (their blobs indexed by then), or only
// cost it a read (they are not).
func (d *DB) PutFiles(source string, entries []FileEntry) error {
	slices.SortFunc(entries, func(a, b FileEntry) int { return strings.Compare(a.Key, b.Key) })
	for len(entries) > 0 {
		n := min(len(entries), filesBatch)
		err := d.update(func(tx *bolt.Tx) error {
			sb, err := tx.Bucket(bFiles).CreateBucketIfNotExists([]byte(source))
			if err != nil {
				return err
			}
			// Keys go in sorted: bbolt's default of half-full pages
			// left the cache twice its size, and an ingest that reads
			// it through the mapping twice the resident pages.
			sb.FillPercent = 0.9
			for _, e := range entries[:n] {
				if err := sb.Put([]byte(e.Key), e.Value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// DropFiles removes the entries of the cache of source below paths
// (absolute and clean) that keep refuses: after an ingest of paths, those
// of files that vanished or are now excluded. Entries of other paths stay:
// another ingest of the same host and source, of other folders, recorded
// them. Deletions go in transactions of at most filesBatch entries.
func (d *DB) DropFiles(source string, paths []string, keep func(k []byte) bool) error {
	var gone [][]byte
	err := d.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bFiles).Bucket([]byte(source))
		if sb == nil {
			return nil
		}
		c := sb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if Below(k, paths) && !keep(k) {
				gone = append(gone, append([]byte(nil), k...))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for len(gone) > 0 {
		n := min(len(gone), filesBatch)
		err := d.update(func(tx *bolt.Tx) error {
			sb := tx.Bucket(bFiles).Bucket([]byte(source))
			if sb == nil {
				return nil
			}
			for _, k := range gone[:n] {
				if err := sb.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		gone = gone[n:]
	}
	return nil
}

// filesBatch is how many file-change cache entries UpdateFiles writes or
// deletes in one transaction.
var filesBatch = 20000
