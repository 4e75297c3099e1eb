package fs

import (
	"context"
	"sort"
	"sync"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// snapState is what every appearance of one snapshot in the tree shares:
// its shown root and the inode numbers of its hardlink groups.
type snapState struct {
	sn *repo.Snapshot

	rootMu sync.Mutex
	root   *tree.Node

	linkMu sync.Mutex
	links  map[[2]uint64]uint64 // (dev, inode) at ingest -> inode number here
	counts map[[2]uint64]uint32 // groups with links outside the snapshot
}

func newSnapState(sn *repo.Snapshot) *snapState {
	s := &snapState{sn: sn, links: map[[2]uint64]uint64{}, counts: map[[2]uint64]uint32{}}
	for _, l := range sn.Links {
		s.counts[[2]uint64{l.Dev, l.Inode}] = l.Count
	}
	return s
}

// rootNode is the folder the snapshot's tree shows: the deepest folder
// holding all its paths, loaded once. With shared set (--allow-other),
// it goes no deeper than the first folder on the way down that not every
// user may pass through (a 0700 home, an ACL): shown as the snapshot's
// folder, that one keeps its stored owner, mode and ACL, which the kernel
// checks, so other users do not reach through the mount what the
// source's folders kept from them. A snapshot of a 0700 home itself shows
// as in a private mount.
func (s *snapState) rootNode(ctx context.Context, r *repo.Repository, shared bool) (*tree.Node, error) {
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	if s.root != nil {
		return s.root, nil
	}
	n := s.sn.RootNode()
	for _, name := range s.sn.CommonDir() {
		nodes, _, err := r.LoadTreePartial(ctx, n.Subtree)
		if err != nil {
			return nil, err
		}
		i := findNode(nodes, name)
		if i < 0 || nodes[i].Kind != tree.KindDir {
			break // a file: show the folder it is in
		}
		n = nodes[i]
		if shared && !passable(n) {
			break
		}
	}
	s.root = n
	return n, nil
}

// passable reports whether every user may search the folder n: x for
// its owner, group and others, and no access ACL that could deny someone.
func passable(n *tree.Node) bool {
	if n.Mode&0o111 != 0o111 {
		return false
	}
	for _, x := range n.Xattrs {
		if x.Name == "system.posix_acl_access" {
			return false
		}
	}
	return true
}

func findNode(nodes []*tree.Node, name string) int {
	i := sort.Search(len(nodes), func(i int) bool { return nodes[i].Name >= name })
	if i < len(nodes) && nodes[i].Name == name {
		return i
	}
	return -1
}

// inHardlinkGroup reports whether n is one name of a file with several.
func inHardlinkGroup(n *tree.Node) bool {
	return n.Kind != tree.KindDir && n.Links > 1
}

// linkIno returns the inode number of n's hardlink group in this
// snapshot, the same for every link, allocating it on first sight.
func (s *snapState) linkIno(f *fsys, n *tree.Node) uint64 {
	key := [2]uint64{n.Dev, n.Inode}
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	ino, ok := s.links[key]
	if !ok {
		ino = f.newIno(1)
		s.links[key] = ino
	}
	return ino
}

// nlink is n's link count inside the snapshot. A folder's is the one it
// had (2 and one per subfolder on most file systems).
func (s *snapState) nlink(n *tree.Node) uint32 {
	if n.Links <= 1 {
		return 1
	}
	if n.Kind == tree.KindDir {
		return n.Links
	}
	if c, ok := s.counts[[2]uint64{n.Dev, n.Inode}]; ok {
		return c
	}
	return n.Links
}
