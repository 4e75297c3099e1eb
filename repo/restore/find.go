package restore

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// PatternRoot is the folder that anchored --include and --exclude
// patterns may also be taken relative to, for a restore of root (found at
// rel): the folder itself, whose entries land at the top of the target,
// or a single file's folder.
func PatternRoot(root *tree.Node, rel string) string {
	if root.Kind != tree.KindDir {
		if rel = path.Dir(rel); rel == "." {
			return ""
		}
	}
	return rel
}

// Find resolves subpath inside sn to its node. The root is a directory node
// for the snapshot's root tree.
func Find(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, subpath string) (*tree.Node, string, error) {
	n := sn.RootNode()
	clean := path.Clean("/" + subpath)
	if clean == "/" {
		return n, "", nil
	}
	rel := ""
	for _, c := range strings.Split(strings.TrimPrefix(clean, "/"), "/") {
		if n.Kind != tree.KindDir {
			return nil, "", fmt.Errorf("%s: %s is not a directory: %w", clean, rel, repo.ErrNotFound)
		}
		nodes, _, err := r.LoadTreePartial(ctx, n.Subtree)
		if err != nil {
			return nil, "", err
		}
		var next *tree.Node
		for _, x := range nodes {
			if x.Name == c {
				next = x
				break
			}
		}
		if next == nil {
			return nil, "", fmt.Errorf("%s in snapshot %s: %w", clean, sn.ID.Short(), repo.ErrNotFound)
		}
		n = next
		rel = path.Join(rel, c)
	}
	return n, rel, nil
}
