package index

import (
	"bytes"

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

// ReplaceFiles replaces the whole cache of source with entries (key from
// FileKey). Files that vanished from the source vanish from the cache.
func (d *DB) ReplaceFiles(source string, entries map[string][]byte) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bFiles)
		if fb.Bucket([]byte(source)) != nil {
			if err := fb.DeleteBucket([]byte(source)); err != nil {
				return err
			}
		}
		sb, err := fb.CreateBucket([]byte(source))
		if err != nil {
			return err
		}
		sb.FillPercent = 0.9
		return putSorted(sb, entries)
	})
}

// MergeFiles adds or replaces entries of source without dropping others (an
// interrupted ingest's checkpoint).
func (d *DB) MergeFiles(source string, entries map[string][]byte) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bFiles).CreateBucketIfNotExists([]byte(source))
		if err != nil {
			return err
		}
		return putSorted(sb, entries)
	})
}

func putSorted(b *bolt.Bucket, entries map[string][]byte) error {
	for k, v := range entries {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}
