package check

import (
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// Kind says what a Problem is about.
type Kind string

// Errors.
const (
	// SegmentDamaged: an index segment cannot be read or decoded.
	SegmentDamaged Kind = "segment-damaged"
	// PackMissing: an indexed pack is not stored.
	PackMissing Kind = "pack-missing"
	// PackDamaged: an indexed pack has the wrong size, or its header
	// cannot be read.
	PackDamaged Kind = "pack-damaged"
	// PackMismatch: a pack's header and the index disagree.
	PackMismatch Kind = "pack-mismatch"
	// PackData: reading a pack found its bytes or blobs damaged.
	PackData Kind = "pack-data"
	// PackNotIndexed: snapshots need blobs that only a pack no index
	// segment names holds.
	PackNotIndexed Kind = "pack-not-indexed"
	// PackNotIndexedDamaged: snapshots need blobs that only a pack no
	// index segment names holds, and that pack is damaged (as one
	// `cairn repair index --read-data` left out): its blobs that still
	// verify `cairn repair index` copies out, the rest are lost.
	PackNotIndexedDamaged Kind = "pack-not-indexed-damaged"
	// BlobMissing: snapshots need blobs that no index segment and no
	// pack holds (one problem for all of them).
	BlobMissing Kind = "blob-missing"
	// TreeDamaged: a tree blob is intact but does not decode.
	TreeDamaged Kind = "tree-damaged"
	// SnapshotDamaged: a snapshot object cannot be read.
	SnapshotDamaged Kind = "snapshot-damaged"
	// Unreadable: the storage failed to deliver an object (an outage, a
	// refused or cut request, after the retries): nothing is known to be
	// wrong with the object, and no repair is called for. What depends
	// on it was not checked.
	Unreadable Kind = "unreadable"
)

// Notices.
const (
	// PackUnreferenced: a pack no index segment names, and no snapshot
	// needs.
	PackUnreferenced Kind = "pack-unreferenced"
	// BlobDuplicate: blobs stored in more than one indexed pack.
	BlobDuplicate Kind = "blob-duplicate"
	// SegmentSuperseded: an index segment another one supersedes is still
	// stored.
	SegmentSuperseded Kind = "segment-superseded"
	// StrayObject: an object whose name is not one cairn writes.
	StrayObject Kind = "stray-object"
	// SnapshotRepairStale: a snapshot `cairn repair snapshots` wrote
	// whose original is whole again (an ingest stored what it lost).
	SnapshotRepairStale Kind = "snapshot-repair-stale"
	// NoSnapshots: the repository holds packs but no snapshot, as when
	// the snapshots folder was deleted by accident: `cairn recover` makes
	// snapshots of what the packs hold, and prune refuses meanwhile.
	NoSnapshots Kind = "no-snapshots"
)

// rank orders problems in reports: the index first, then packs, then
// what snapshots need, then snapshots.
var rank = map[Kind]int{
	SegmentDamaged: 1, PackMissing: 2, PackDamaged: 3, PackMismatch: 4, PackData: 5, PackNotIndexed: 6, PackNotIndexedDamaged: 6,
	BlobMissing: 7, TreeDamaged: 8, SnapshotDamaged: 9, Unreadable: 10,
	StrayObject: 20, SegmentSuperseded: 21, PackUnreferenced: 22, BlobDuplicate: 23, SnapshotRepairStale: 24, NoSnapshots: 25,
}

// IsError reports whether the kind is an error, not a notice.
func (k Kind) IsError() bool { return rank[k] < 20 }

// Fix is a set of repairs, applied in the order of the bits.
type Fix uint8

const (
	// FixIndex: `cairn repair index` rebuilds the index from the packs.
	FixIndex Fix = 1 << iota
	// FixIndexReadData: `cairn repair index --read-data` also reads every
	// pack and leaves damaged blobs out.
	FixIndexReadData
	// FixSnapshots: `cairn repair snapshots` rewrites the snapshots that
	// lost data without what was lost.
	FixSnapshots
	// FixForget: `cairn repair snapshots --forget` also removes
	// snapshot objects that cannot be read, and the originals of
	// snapshots repaired before.
	FixForget
)

// Commands returns the commands to run, in order.
func (f Fix) Commands() []string {
	var out []string
	switch {
	case f&FixIndexReadData != 0:
		out = append(out, "cairn repair index --read-data")
	case f&FixIndex != 0:
		out = append(out, "cairn repair index")
	}
	switch {
	case f&FixForget != 0:
		out = append(out, "cairn repair snapshots --forget")
	case f&FixSnapshots != 0:
		out = append(out, "cairn repair snapshots")
	}
	return out
}

// Problem is one thing found wrong (an error) or worth knowing (a notice).
type Problem struct {
	Kind Kind
	// Object is the stored object at fault ("data/ab/…", "index/…",
	// "snapshots/…"), or "" for a blob stored nowhere.
	Object string
	// Blob is the blob concerned, for TreeDamaged, and for BlobMissing
	// when it is one blob.
	Blob id.ID
	// Message says what is wrong, in one line, without repeating Object.
	Message string
	// Lost are the blobs snapshots need that this problem makes
	// unreadable.
	Lost []id.ID
	// Affected lists, per snapshot, the paths that depend on Lost.
	Affected []Affected
	// Fix is what repairs it.
	Fix Fix

	msgs     []string
	lost     map[id.ID]bool
	affected map[id.ID]*Affected
	cached   id.ID // a damaged snapshot whose copy the local index keeps
}

// Affected is what one snapshot loses to a problem.
type Affected struct {
	Snapshot *repo.Snapshot
	// Paths are absolute, as in the snapshot, sorted: files that need a
	// lost data blob, and folders whose tree is lost ("/" for the root).
	Paths []string
	// RepairedAs is the snapshot `cairn repair snapshots` wrote for this
	// one, which is kept until forgotten; zero when it was not repaired.
	RepairedAs id.ID
}

func (p *Problem) addMessage(m string) {
	for _, x := range p.msgs {
		if x == m {
			return
		}
	}
	p.msgs = append(p.msgs, m)
}

func (p *Problem) addLost(bid id.ID) {
	if p.lost == nil {
		p.lost = map[id.ID]bool{}
	}
	p.lost[bid] = true
}

func (p *Problem) addPath(sn *repo.Snapshot, path string) {
	if p.affected == nil {
		p.affected = map[id.ID]*Affected{}
	}
	a := p.affected[sn.ID]
	if a == nil {
		a = &Affected{Snapshot: sn}
		p.affected[sn.ID] = a
	}
	a.Paths = append(a.Paths, path)
}

// finish fills the exported fields from what was gathered.
func (p *Problem) finish() {
	p.Message = strings.Join(p.msgs, "; ")
	p.Lost = p.Lost[:0]
	for b := range p.lost {
		p.Lost = append(p.Lost, b)
	}
	sort.Slice(p.Lost, func(i, j int) bool { return p.Lost[i].String() < p.Lost[j].String() })
	p.Affected = p.Affected[:0]
	for _, a := range p.affected {
		sort.Strings(a.Paths)
		a.Paths = dedupe(a.Paths)
		p.Affected = append(p.Affected, *a)
	}
	sort.Slice(p.Affected, func(i, j int) bool {
		a, b := p.Affected[i].Snapshot, p.Affected[j].Snapshot
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.ID.String() < b.ID.String()
	})
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Paths returns every affected path of every snapshot, sorted, once each.
func (p *Problem) Paths() []string {
	var out []string
	for _, a := range p.Affected {
		out = append(out, a.Paths...)
	}
	sort.Strings(out)
	return dedupe(out)
}

// Result is what a check found.
type Result struct {
	// Problems are the errors, Notices the rest, each in report order.
	Problems []*Problem
	Notices  []*Problem

	Snapshots int   // snapshot objects
	Segments  int   // index segments
	Packs     int   // indexed packs
	Blobs     int   // indexed blobs
	PacksRead int   // packs read whole
	BytesRead int64 // their bytes
}

// OK reports whether no error was found.
func (r *Result) OK() bool { return len(r.Problems) == 0 }

// Fix is every repair the problems need.
func (r *Result) Fix() Fix {
	var f Fix
	for _, p := range r.Problems {
		f |= p.Fix
	}
	return f
}

// Hint says what to run, in order, or "" when nothing is wrong.
func (r *Result) Hint() string {
	cmds := r.Fix().Commands()
	for i, c := range cmds {
		cmds[i] = "`" + c + "`"
	}
	var hint []string
	if len(cmds) > 0 {
		hint = append(hint, "run "+strings.Join(cmds, ", then "))
	}
	for _, p := range r.Problems {
		if p.Kind == Unreadable {
			hint = append(hint, "make sure the storage is reachable and run `cairn check` again: what it could not read is not known to be damaged")
			break
		}
	}
	return strings.Join(hint, "; ")
}
