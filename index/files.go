package index

import (
	"bytes"
	"sort"

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
// source.
func (d *DB) HasFiles(source string) (bool, error) {
	var has bool
	err := d.view(func(tx *bolt.Tx) error {
		if sb := tx.Bucket(bFiles).Bucket([]byte(source)); sb != nil {
			k, _ := sb.Cursor().First()
			has = k != nil
		}
		return nil
	})
	return has, err
}

// putSorted writes entries in key order, which bbolt inserts fastest.
func putSorted(b *bolt.Bucket, entries map[string][]byte) error {
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := b.Put([]byte(k), entries[k]); err != nil {
			return err
		}
	}
	return nil
}

// UpdateFiles brings the cache of source up to date: entries in changed are
// written, and entries not in seen (files that vanished) are dropped.
func (d *DB) UpdateFiles(source string, changed map[string][]byte, seen map[string]struct{}) error {
	return d.update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bFiles).CreateBucketIfNotExists([]byte(source))
		if err != nil {
			return err
		}
		var gone [][]byte
		c := sb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if _, ok := seen[string(k)]; !ok {
				gone = append(gone, append([]byte(nil), k...))
			}
		}
		for _, k := range gone {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		return putSorted(sb, changed)
	})
}
