package fs

import (
	"context"
	"fmt"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Listed is how many folder entries m's listings have made so far.
func Listed(m *Mounted) int64 { return m.fsys.listed.Load() }

// Folders is how many folders m keeps registered for listings.
func Folders(m *Mounted) (n int) {
	m.fsys.dirs.Range(func(k, v any) bool { n++; return true })
	return n
}

// LoseLookup does what a lookup of name in the folder with inode number
// parent does when it loses a race with another lookup of it (a
// READDIRPLUS's beside the kernel's): it makes its own node object for
// the folder, and the bridge then answers with the node the first lookup
// registered. The kernel must have looked name up already; the lookup
// count the bridge adds is taken back.
func LoseLookup(m *Mounted, parent uint64, name string) error {
	pd, ok := m.fsys.dir(parent).(gofs.InodeEmbedder)
	if !ok {
		return fmt.Errorf("folder %d not registered", parent)
	}
	p := pd.EmbeddedInode()
	kept := p.GetChild(name)
	if kept == nil {
		return fmt.Errorf("%s not looked up", name)
	}
	ctx := context.Background()
	ino := kept.StableAttr().Ino
	switch d := kept.Operations().(type) {
	case *dirNode:
		m.fsys.dirInode(ctx, p, &dirNode{f: d.f, snap: d.snap, node: d.node, parent: d.parent}, ino)
	case *vdirNode:
		m.fsys.dirInode(ctx, p, &vdirNode{f: d.f, path: d.path, parent: d.parent}, ino)
	default:
		return fmt.Errorf("%s is not a folder", name)
	}
	var out fuse.EntryOut
	if st := m.raw.Lookup(nil, &fuse.InHeader{NodeId: parent}, name, &out); !st.Ok() {
		return fmt.Errorf("lookup %s: %v", name, st)
	}
	m.raw.Forget(out.NodeId, 1)
	return nil
}
