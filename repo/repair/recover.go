package repair

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"slices"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// LostTag marks the snapshots Recover saves, and LostSource is their source,
// so that no retention policy of a real source ever counts them.
const (
	LostTag    = "recovered"
	LostSource = "recover"
	// LostPath is the path a recovered snapshot records: each lost tree
	// is a folder in it, named by the tree's short ID.
	LostPath = "/recover"
)

// RecoverOptions tunes Lost.
type RecoverOptions struct {
	// DryRun finds and describes the lost trees but saves nothing.
	DryRun bool
	// Host is the host the snapshot records (default: this machine's).
	Host string
	// Version is the program version the snapshot records.
	Version string
	// Warn hears of what is skipped: a snapshot or a tree that cannot
	// be read.
	Warn func(error)
}

// LostTree is a tree that no snapshot refers to and that no other such
// tree holds: the top of what a forgotten snapshot, or an ingest that
// never finished, left behind.
type LostTree struct {
	ID      id.ID
	Name    string // its folder in the recovered snapshot
	Entries int    // entries directly in it
	Files   int    // files anywhere below it (in the folders that can be read)
	Bytes   uint64 // their apparent size
	// Incomplete counts the files below it whose data is gone (in no
	// index segment, or its pack missing or cut short) and the folders
	// below it whose tree cannot be read: what the recovered snapshot
	// leaves out.
	Incomplete int
}

// RecoverResult is what Recover found and saved.
type RecoverResult struct {
	Snapshots    int // snapshots read
	Trees        int // tree blobs the index names
	Unreferenced int // of them, those no snapshot refers to
	Roots        []LostTree
	// Snapshot is the snapshot saved, nil with DryRun or when nothing
	// was lost.
	Snapshot *repo.Snapshot
}

// Recover finds the trees no snapshot refers to (after a snapshot was
// forgotten by mistake and before a prune deleted its data, or after an
// ingest was killed before it saved its snapshot) and saves one snapshot
// that holds the topmost of them, each as a folder named by its short ID
// (as restic's recover does). The caller holds the exclusive lock: an
// ingest running meanwhile would have its unfinished trees taken.
func Recover(ctx context.Context, r *repo.Repository, opt RecoverOptions) (*RecoverResult, error) {
	warn := opt.Warn
	if warn == nil {
		warn = func(error) {}
	}
	snaps, err := r.Snapshots(ctx, warn)
	if err != nil {
		return nil, err
	}
	res := &RecoverResult{Snapshots: len(snaps)}
	referenced := map[id.ID]bool{}
	for _, sn := range snaps {
		if sn.Tree.IsZero() || referenced[sn.Tree] {
			continue
		}
		referenced[sn.Tree] = true
		err := r.Walk(ctx, sn, func(_ string, n *tree.Node) (bool, error) {
			if n.Kind != tree.KindDir || n.Subtree.IsZero() || referenced[n.Subtree] {
				return false, nil
			}
			referenced[n.Subtree] = true
			return true, nil
		}, func(p string, tid id.ID, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// What lies below stays unknown, so it may come out as
			// lost: recovering it too is harmless.
			warn(fmt.Errorf("snapshot %s: tree %s of /%s cannot be read: %w", sn.ID.Short(), tid.Short(), p, err))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	blobs, err := r.Index().BlobsWithPrefix("", 0)
	if err != nil {
		return nil, err
	}
	var unref []id.ID
	for _, b := range blobs {
		if b.Type != id.TreeBlob {
			continue
		}
		res.Trees++
		if !referenced[b.ID] {
			unref = append(unref, b.ID)
		}
	}
	res.Unreferenced = len(unref)
	blobs = nil

	// The lost trees that another lost tree holds are not roots.
	below := map[id.ID]bool{}
	entries := map[id.ID]int{}
	for _, tid := range unref {
		nodes, err := r.LoadTree(ctx, tid)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			warn(fmt.Errorf("lost tree %s cannot be read, so it cannot be recovered: %w", tid.Short(), err))
			below[tid] = true
			continue
		}
		entries[tid] = len(nodes)
		for _, n := range nodes {
			if n.Kind == tree.KindDir && !n.Subtree.IsZero() {
				below[n.Subtree] = true
			}
		}
	}
	slices.SortFunc(unref, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	done, err := recovered(ctx, r, snaps)
	if err != nil {
		return nil, err
	}
	var lost []LostTree
	names := map[string]bool{}
	for _, tid := range unref {
		// An empty folder's tree says nothing worth a folder; one that a
		// recovered snapshot holds without what was gone from it stays
		// unreferenced, but is not lost.
		if below[tid] || entries[tid] == 0 || done[tid.Short()] || done[tid.String()] {
			continue
		}
		lt := LostTree{ID: tid, Name: tid.Short(), Entries: entries[tid]}
		if names[lt.Name] {
			lt.Name = tid.String()
		}
		names[lt.Name] = true
		lost = append(lost, lt)
	}
	if len(lost) == 0 {
		return res, nil
	}

	// The snapshot must not refer to what is gone: check would report
	// it and prune refuse to run while it does. A lost tree holding a
	// file whose data is gone, or a folder whose tree cannot be read, is
	// stored again without them, as repair snapshots would; what it
	// leaves out is what the tree counts as incomplete. The same walk
	// counts the files below it, so each tree is read once here.
	s := r.NewSaver(ctx, 1)
	if opt.DryRun {
		s = r.NewDryRunSaver(ctx)
	}
	stored, err := r.ListPacks(ctx, nil)
	if err != nil {
		return nil, err
	}
	w := &rewriter{ctx: ctx, r: r, saver: s, stored: stored, data: map[id.ID]string{},
		trees: map[id.ID]*rewritten{}, whole: map[id.ID]bool{}}
	now := r.Now()
	sum := &repo.Summary{Start: now}
	nodes := make([]*tree.Node, len(lost))
	for i := range lost {
		lt := &lost[i]
		rw, err := w.tree(lt.ID)
		if err != nil {
			return nil, fmt.Errorf("lost tree %s: %w", lt.ID.Short(), err)
		}
		lt.Files, lt.Bytes = int(rw.all), rw.allBytes
		lt.Incomplete = len(rw.lost)
		sum.TotalFiles += max(0, rw.all-rw.files)
		sum.TotalBytes += max(0, int64(rw.allBytes)-rw.bytes)
		nodes[i] = &tree.Node{Name: lt.Name, Kind: tree.KindDir, Mode: 0o755,
			MTime: now.UnixNano(), ATime: now.UnixNano(), CTime: now.UnixNano(), Subtree: rw.tid}
	}
	res.Roots = lost
	if opt.DryRun {
		return res, nil
	}
	tree.Sort(nodes)
	// As an ingest of LostPath would record it: the root holds the
	// folder, the folder the lost trees.
	tid, err := s.SaveTree(nodes)
	if err == nil {
		folder := &tree.Node{Name: path.Base(LostPath), Kind: tree.KindDir, Mode: 0o755,
			MTime: now.UnixNano(), ATime: now.UnixNano(), CTime: now.UnixNano(), Subtree: tid}
		tid, err = s.SaveTree([]*tree.Node{folder})
	}
	if err == nil {
		err = s.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("save the recovered tree: %w", err)
	}
	sum.End = r.Now()
	host := opt.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	root := &tree.Node{Name: "root", Kind: tree.KindDir, Mode: 0o755, MTime: now.UnixNano(), ATime: now.UnixNano(), CTime: now.UnixNano()}
	sn := &repo.Snapshot{Time: now, Tree: tid, Root: tree.EncodeNode(root), Paths: []string{LostPath},
		Host: host, Source: LostSource, Tags: []string{LostTag},
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), ProgramVersion: opt.Version, Summary: sum}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		return nil, fmt.Errorf("save the recovered snapshot: %w", err)
	}
	res.Snapshot = sn
	return res, nil
}

// recovered returns the names of the folders that recovered snapshots
// hold under LostPath: the IDs of the lost trees they were made from.
func recovered(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot) (map[string]bool, error) {
	done := map[string]bool{}
	for _, sn := range snaps {
		if sn.Source != LostSource || !sn.HasTag(LostTag) || sn.Tree.IsZero() {
			continue
		}
		top, err := r.LoadTree(ctx, sn.Tree)
		if err != nil {
			continue // its folders come out as lost again: harmless
		}
		for _, n := range top {
			if n.Name != path.Base(LostPath) || n.Kind != tree.KindDir || n.Subtree.IsZero() {
				continue
			}
			nodes, err := r.LoadTree(ctx, n.Subtree)
			if err != nil {
				continue
			}
			for _, c := range nodes {
				done[c.Name] = true
			}
		}
	}
	return done, ctx.Err()
}
