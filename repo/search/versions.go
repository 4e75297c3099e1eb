package search

import (
	"context"
	"runtime"
	"sync"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// What a Version is to the one before it.
const (
	ChangeNew      = "new"      // the first snapshot holding the path
	ChangeModified = "modified" // different content from the version before
)

// Version is one distinct content of a path in the snapshots of one host
// and source (Snapshot.Host and Snapshot.Source).
type Version struct {
	// Snapshot is the first snapshot holding this content, Node the entry
	// there.
	Snapshot *repo.Snapshot
	Node     *tree.Node
	Change   string // ChangeNew or ChangeModified
	// Last is the last snapshot (of the same host and source) holding
	// this content before the next version; Count the snapshots from
	// Snapshot to Last that hold it.
	Last  *repo.Snapshot
	Count int
	// Previous is the version of the same host and source before this
	// one, nil for a ChangeNew one. It points into the same slice.
	Previous *Version
}

// Versions lists the distinct contents of the entry at p ("/etc/hosts",
// as `cairn ls` prints it) through snaps (oldest first, as
// Repository.Snapshots gives them). Each host and source is followed on
// its own, as its own history: snapshots that hold the same content as
// the version before of the same host and source are folded into it, also
// across snapshots that lack the path; a version is ChangeNew the first
// time a host and source holds the path. Versions come in the order of
// their first snapshot, so the histories of several hosts and sources
// interleave: tell them apart by Snapshot.Host and Snapshot.Source.
// Metadata alone (mode, owner, mtime) makes no new version. Content is a
// file's chunks, a folder's tree, a symlink's target, a device's numbers.
func Versions(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, p string) ([]Version, error) {
	return VersionsAround(ctx, r, snaps, p, nil)
}

// VersionsAround is Versions that goes on around a snapshot in which the
// path cannot be looked up (a tree on the way is damaged or missing): it
// tells lost of it, with the error naming the snapshot, and takes it for
// one that lacks the path. With a nil lost it is Versions, which stops
// there.
func VersionsAround(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, p string, lost func(sn *repo.Snapshot, err error)) ([]Version, error) {
	comps := components(p)
	tc := newTreeCache(r)
	nodes := make([]*tree.Node, len(snaps))
	errs := make([]error, len(snaps))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				nodes[i], errs[i] = tc.resolve(ctx, snaps[i], comps)
			}
		}()
	}
	for i := range snaps {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type series struct{ host, source string }
	latest := map[series]int{} // index in out of each series' last version
	var out []Version
	prev := []int{} // index in out of each version's previous one, or -1
	for i, n := range nodes {
		if errs[i] != nil && lost != nil {
			lost(snaps[i], inSnapshot(ctx, snaps[i], errs[i]))
			continue
		}
		if errs[i] != nil {
			return nil, inSnapshot(ctx, snaps[i], errs[i])
		}
		if n == nil {
			continue
		}
		key := series{snaps[i].Host, snaps[i].Source}
		before, seen := latest[key]
		if seen && SameContent(out[before].Node, n) {
			out[before].Last = snaps[i]
			out[before].Count++
			continue
		}
		change := ChangeModified
		if !seen {
			change, before = ChangeNew, -1
		}
		latest[key] = len(out)
		prev = append(prev, before)
		out = append(out, Version{Snapshot: snaps[i], Node: n, Change: change, Last: snaps[i], Count: 1})
	}
	for i, j := range prev {
		if j >= 0 {
			out[i].Previous = &out[j]
		}
	}
	return out, nil
}

// SameContent reports whether two entries have the same kind and content.
func SameContent(a, b *tree.Node) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case tree.KindFile:
		if a.Size != b.Size || len(a.Content) != len(b.Content) {
			return false
		}
		for i := range a.Content {
			if a.Content[i] != b.Content[i] {
				return false
			}
		}
	case tree.KindDir:
		return a.Subtree == b.Subtree
	case tree.KindSymlink:
		return a.LinkTarget == b.LinkTarget
	case tree.KindCharDev, tree.KindBlockDev:
		return a.DevMajor == b.DevMajor && a.DevMinor == b.DevMinor
	}
	return true
}
