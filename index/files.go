package index

import (
	"bytes"
	"sort"

	bolt "go.etcd.io/bbolt"
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

// DirFiles returns the cached entries of one directory, by entry name.
func (d *DB) DirFiles(source, dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := FileKey(dir, "")
	err := d.bolt.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bFiles).Bucket([]byte(source))
		if sb == nil {
			return nil
		}
		c := sb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out[string(k[len(prefix):])] = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
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
	return d.bolt.Update(func(tx *bolt.Tx) error {
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
