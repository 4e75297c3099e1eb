package index

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/repo/id"
)

// A segments entry's value says what the cache knows of that stored
// segment: empty for a loaded segment that supersedes nothing (as every
// entry was before segments could supersede others), otherwise a flags
// byte (bit 0: ignored, its packs are not loaded) followed by the 32-byte
// IDs of the segments it supersedes. Bit 1 (with bit 0: not loaded)
// marks a segment whose blobs were being added, some of them perhaps
// located already (see addPacks).
const (
	segIgnored = 1
	segPartial = 2
)

// SegmentInfo is what the cache remembers of one stored index segment.
type SegmentInfo struct {
	// Loaded: the segment's packs are in the blob index. A segment that
	// another stored segment supersedes is remembered but not loaded.
	Loaded bool
	// Partial: the segment's blobs were being added when the process
	// stopped (Loaded is then false): some of them may be located. Read
	// it again while it is stored, rebuild the locations once it is not.
	Partial bool
	// Supersedes lists the segments this one replaces.
	Supersedes []id.ID
}

func (s SegmentInfo) encode() []byte {
	if s.Loaded && !s.Partial && len(s.Supersedes) == 0 {
		return nil
	}
	v := make([]byte, 1, 1+32*len(s.Supersedes))
	switch {
	case s.Partial:
		v[0] = segIgnored | segPartial
	case !s.Loaded:
		v[0] = segIgnored
	}
	for _, x := range s.Supersedes {
		v = append(v, x[:]...)
	}
	return v
}

func decodeSegmentInfo(v []byte) (SegmentInfo, error) {
	if len(v) == 0 {
		return SegmentInfo{Loaded: true}, nil
	}
	if (len(v)-1)%32 != 0 {
		return SegmentInfo{}, fmt.Errorf("local index: segment entry of %d bytes", len(v))
	}
	s := SegmentInfo{Loaded: v[0]&segIgnored == 0, Partial: v[0]&segPartial != 0}
	if s.Partial {
		s.Loaded = false
	}
	for b := v[1:]; len(b) > 0; b = b[32:] {
		var x id.ID
		copy(x[:], b)
		s.Supersedes = append(s.Supersedes, x)
	}
	return s, nil
}

// SegmentInfos returns every segment the cache knows, loaded or ignored.
func (d *DB) SegmentInfos() (map[id.ID]SegmentInfo, error) {
	out := map[id.ID]SegmentInfo{}
	err := d.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSegments).ForEach(func(k, v []byte) error {
			s, err := decodeSegmentInfo(v)
			if err != nil {
				return err
			}
			var sid id.ID
			copy(sid[:], k)
			out[sid] = s
			return nil
		})
	})
	return out, err
}

// AddSegmentInfo records one segment: with its packs when info.Loaded,
// else only as known and ignored (packs is then unused). The segment's
// record is written last (see addPacks).
func (d *DB) AddSegmentInfo(seg id.ID, info SegmentInfo, packs []Pack) error {
	if !info.Loaded {
		return d.update(func(tx *bolt.Tx) error {
			return tx.Bucket(bSegments).Put(seg[:], info.encode())
		})
	}
	return d.addPacks(packs, []SegmentAdd{{ID: seg, Info: info}})
}

// SegmentAdd is one segment for AddSegmentInfos.
type SegmentAdd struct {
	ID    id.ID
	Info  SegmentInfo
	Packs []Pack
}

// AddSegmentInfos records several segments, as AddSegmentInfo does,
// together: a cold local index loads thousands of segments, and a commit
// (an fdatasync) for each made opening the repository take minutes.
func (d *DB) AddSegmentInfos(segs []SegmentAdd) error {
	if len(segs) == 0 {
		return nil
	}
	// The packs of all the segments go in together, in one sorted
	// insert: segment by segment, each one's blobs would land at random
	// among the earlier ones' (see sortedPuts). In segment order, so that
	// the first copy of a blob stays its location, as one by one.
	var packs []Pack
	for _, s := range segs {
		if s.Info.Loaded {
			packs = append(packs, s.Packs...)
		}
	}
	return d.addPacks(packs, segs)
}

// ForgetSegment drops the record of an ignored segment that is no longer
// stored. (A loaded one cannot be dropped alone: its blobs would stay;
// rebuild with ResetBlobs instead.)
func (d *DB) ForgetSegment(seg id.ID) error {
	return d.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bSegments).Delete(seg[:])
	})
}
