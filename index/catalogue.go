package index

import (
	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/repo/id"
)

// Snapshots returns every catalogued snapshot's stored plaintext by ID.
func (d *DB) Snapshots() (map[id.ID][]byte, error) {
	out := map[id.ID][]byte{}
	err := d.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSnapshots).ForEach(func(k, v []byte) error {
			var s id.ID
			copy(s[:], k)
			out[s] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

// SyncSnapshots makes the catalogue hold exactly the given IDs: entries not
// in keep are removed (keep nil removes none), and add's entries are stored.
func (d *DB) SyncSnapshots(keep map[id.ID]bool, add map[id.ID][]byte) error {
	return d.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSnapshots)
		var drop [][]byte
		err := b.ForEach(func(k, _ []byte) error {
			var s id.ID
			copy(s[:], k)
			if keep != nil && !keep[s] {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for s, v := range add {
			if err := b.Put(s[:], v); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropSnapshot removes one snapshot from the catalogue, and reports
// whether it held it; it touches no other entry, so removing many
// snapshots one by one stays linear in their number.
func (d *DB) DropSnapshot(sid id.ID) (bool, error) {
	var held bool
	if err := d.view(func(tx *bolt.Tx) error {
		held = tx.Bucket(bSnapshots).Get(sid[:]) != nil
		return nil
	}); err != nil || !held {
		return false, err
	}
	return true, d.update(func(tx *bolt.Tx) error { return tx.Bucket(bSnapshots).Delete(sid[:]) })
}

// DropSnapshots removes the given snapshots from the catalogue in one
// transaction; those it does not hold are ignored.
func (d *DB) DropSnapshots(sids []id.ID) error {
	if len(sids) == 0 {
		return nil
	}
	return d.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSnapshots)
		for _, sid := range sids {
			if err := b.Delete(sid[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Snapshot returns one catalogued snapshot's stored plaintext, or nil when
// the catalogue does not hold it.
func (d *DB) Snapshot(sid id.ID) ([]byte, error) {
	var out []byte
	err := d.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bSnapshots).Get(sid[:]); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
