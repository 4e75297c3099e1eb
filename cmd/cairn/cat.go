package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// catTypes are the object types cat prints, and what each needs.
var catTypes = []struct{ name, arg, what string }{
	{"config", "", "the repository's config (no password needed)"},
	{"snapshot", "ID", "a snapshot, by ID prefix or latest"},
	{"tree", "ID", "a tree blob's nodes, by ID prefix"},
	{"index", "ID", "an index segment's packs and blobs, by ID prefix"},
	{"pack", "ID", "a pack's header: the blobs in it, by ID prefix"},
}

func catTypeList() string {
	var b strings.Builder
	for _, t := range catTypes {
		fmt.Fprintf(&b, "\n  %-18s %s", strings.TrimSpace(t.name+" "+t.arg), t.what)
	}
	return b.String()
}

func catTypeNames() string {
	names := make([]string, len(catTypes))
	for i, t := range catTypes {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

func newCatCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cat TYPE [ID]",
		Short: "Print a decoded repository object as JSON (for debugging)",
		Long: `Print a decoded repository object as JSON, for debugging. TYPE is one of:
` + catTypeList() + `

An ID may be any unique prefix of the object's hex ID.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("cat needs an object type, one of:%s", catTypeList())
			}
			for _, t := range catTypes {
				if t.name != args[0] {
					continue
				}
				switch {
				case t.arg == "" && len(args) > 1:
					return fmt.Errorf("cat %s takes no ID", t.name)
				case t.arg != "" && len(args) != 2:
					return fmt.Errorf("cat %s needs one %s: %s", t.name, t.arg, t.what)
				}
				return nil
			}
			if way, ok := resticCatTypes[args[0]]; ok {
				return fmt.Errorf("unknown object type %s: one of %s (restic's cat %s: %s)", args[0], catTypeNames(), args[0], way)
			}
			return fmt.Errorf("unknown object type %s: one of %s", args[0], catTypeNames())
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if args[0] == "config" {
				// The config is plaintext: no password needed.
				loc, err := g.location()
				if err != nil {
					return err
				}
				be, err := g.openBackend(cmd.Context(), loc, false)
				if err != nil {
					return err
				}
				defer be.Close()
				cfg, err := repo.ReadConfig(ctx, be)
				if err != nil {
					return err
				}
				return writeIndented(g.json, cfg)
			}
			r, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			switch args[0] {
			case "snapshot":
				sn, err := r.FindSnapshot(ctx, args[1], repo.Filter{})
				if err != nil {
					return err
				}
				return writeIndented(g.json, toJSON(sn))
			case "tree":
				tid, err := findTree(r, args[1])
				if err != nil {
					return err
				}
				nodes, err := r.LoadTree(ctx, tid)
				if err != nil {
					return err
				}
				out := make([]map[string]any, 0, len(nodes))
				for _, n := range nodes {
					out = append(out, treeNodeJSON(n))
				}
				return writeIndented(g.json, out)
			case "index":
				sid, err := findSegment(ctx, r, args[1])
				if err != nil {
					return err
				}
				seg, err := r.LoadSegment(ctx, sid)
				if err != nil {
					return err
				}
				return writeIndented(g.json, segmentJSON(seg))
			case "pack":
				packs, err := r.ListPacks(ctx, nil)
				if err != nil {
					return err
				}
				var ids []id.ID
				for pid := range packs {
					ids = append(ids, pid)
				}
				pid, err := uniquePrefix("pack", args[1], ids)
				if err != nil {
					return err
				}
				p := packs[pid]
				entries, err := r.ReadPackHeader(ctx, p)
				if err != nil {
					return err
				}
				blobs := make([]blobJSON, 0, len(entries))
				for _, e := range entries {
					blobs = append(blobs, blobJSON{ID: e.ID.String(), Type: e.Type.String(), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
				}
				return writeIndented(g.json, packJSON{ID: pid.String(), Type: p.Type.String(), Size: p.Size, Blobs: blobs})
			}
			return fmt.Errorf("unknown object type %s: one of %s", args[0], catTypeNames())
		},
	}
	return cmd
}

// packJSON is a pack in `cat index` and `cat pack`.
type packJSON struct {
	ID    string     `json:"id"`
	Type  string     `json:"type"`
	Size  int64      `json:"size,omitempty"`
	Blobs []blobJSON `json:"blobs"`
}

type blobJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type,omitempty"`
	Offset    uint32 `json:"offset"`
	Length    uint32 `json:"length"`
	RawLength uint32 `json:"raw_length"`
}

// segmentJSON is `cat index`: the stored segment is binary (docs/FORMAT.md
// §11), so this shape is cat's own, in the style of the other objects.
func segmentJSON(seg *repo.Segment) any {
	packs := make([]packJSON, 0, len(seg.Packs))
	for _, p := range seg.Packs {
		blobs := make([]blobJSON, 0, len(p.Blobs))
		for _, b := range p.Blobs {
			blobs = append(blobs, blobJSON{ID: b.ID.String(), Offset: b.Offset, Length: b.Length, RawLength: b.RawLength})
		}
		packs = append(packs, packJSON{ID: p.ID.String(), Type: p.Type.String(), Blobs: blobs})
	}
	sup := make([]string, 0, len(seg.Supersedes))
	for _, s := range seg.Supersedes {
		sup = append(sup, s.String())
	}
	return struct {
		Packs      []packJSON `json:"packs"`
		Supersedes []string   `json:"supersedes"`
	}{packs, sup}
}

// findTree resolves a unique prefix of a tree blob's ID from the index.
func findTree(r *repo.Repository, prefix string) (id.ID, error) {
	p := strings.ToLower(prefix)
	if err := checkHexPrefix("tree", p); err != nil {
		return id.ID{}, err
	}
	blobs, err := r.Index().BlobsWithPrefix(p, 0)
	if err != nil {
		return id.ID{}, err
	}
	var ids []id.ID
	for _, b := range blobs {
		if b.Type == id.TreeBlob {
			ids = append(ids, b.ID)
		}
	}
	return uniquePrefix("tree", p, ids)
}

// findSegment resolves a unique prefix of an index segment's ID among
// those stored in the repository: not only those the local index has
// read, which leaves out a damaged one, the one cat is most asked about
// (it was "not found" where loading it says what is wrong with it).
func findSegment(ctx context.Context, r *repo.Repository, prefix string) (id.ID, error) {
	var ids []id.ID
	err := r.Backend().List(ctx, "index/", func(fi backends.Info) error {
		if sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/")); err == nil {
			ids = append(ids, sid)
		}
		return nil
	})
	if err != nil {
		return id.ID{}, err
	}
	return uniquePrefix("index segment", prefix, ids)
}

func checkHexPrefix(what, p string) error {
	if p == "" || len(p) > 64 || strings.Trim(p, "0123456789abcdef") != "" {
		return fmt.Errorf("%s ID %q: not a hex ID or prefix", what, p)
	}
	return nil
}

// uniquePrefix finds the one ID among ids starting with prefix.
func uniquePrefix(what, prefix string, ids []id.ID) (id.ID, error) {
	p := strings.ToLower(prefix)
	if err := checkHexPrefix(what, p); err != nil {
		return id.ID{}, err
	}
	var found []id.ID
	for _, x := range ids {
		if strings.HasPrefix(x.String(), p) {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 0:
		return id.ID{}, fmt.Errorf("%s %q: %w", what, prefix, repo.ErrNotFound)
	case 1:
		return found[0], nil
	}
	slices.SortFunc(found, func(a, b id.ID) int { return strings.Compare(a.String(), b.String()) })
	return id.ID{}, fmt.Errorf("%s prefix %q is ambiguous: %s and %s", what, prefix, found[0].Short(), found[1].Short())
}

func treeNodeJSON(n *tree.Node) map[string]any {
	m := map[string]any{"name": n.Name, "type": n.Kind.String(), "mode": fmt.Sprintf("%04o", n.Mode), "uid": n.UID, "gid": n.GID,
		"mtime": time.Unix(0, n.MTime).UTC().Format(time.RFC3339Nano), "atime": time.Unix(0, n.ATime).UTC().Format(time.RFC3339Nano),
		"ctime": time.Unix(0, n.CTime).UTC().Format(time.RFC3339Nano), "inode": n.Inode, "dev": n.Dev, "links": n.Links}
	if !utf8.ValidString(n.Name) {
		m["name_bytes"] = base64.StdEncoding.EncodeToString([]byte(n.Name))
	}
	if n.User != "" {
		m["user"] = n.User
	}
	if n.Group != "" {
		m["group"] = n.Group
	}
	switch n.Kind {
	case tree.KindFile:
		m["size"] = n.Size
		var content []map[string]any
		for _, c := range n.Content {
			if c.Hole {
				content = append(content, map[string]any{"hole": c.Size})
			} else {
				content = append(content, map[string]any{"id": c.ID.String(), "size": c.Size})
			}
		}
		m["content"] = content
	case tree.KindDir:
		m["subtree"] = n.Subtree.String()
		if n.Incomplete {
			m["incomplete"] = true
		}
	case tree.KindSymlink:
		m["linktarget"] = n.LinkTarget
		if !utf8.ValidString(n.LinkTarget) {
			m["linktarget_bytes"] = base64.StdEncoding.EncodeToString([]byte(n.LinkTarget))
		}
	case tree.KindCharDev, tree.KindBlockDev:
		m["device_major"], m["device_minor"] = n.DevMajor, n.DevMinor
	}
	if n.Flags != 0 {
		m["flags"] = fsmeta.FlagString(n.Flags) // chattr letters, as lsattr shows them
	}
	if len(n.Xattrs) > 0 {
		xs := map[string]string{}
		for _, x := range n.Xattrs {
			xs[x.Name] = base64.StdEncoding.EncodeToString(x.Value)
		}
		m["xattrs_base64"] = xs
	}
	return m
}

// writeIndented prints v as indented JSON for a reader, or with --json
// (compact) as one object on one line, as every other command's --json.
func writeIndented(compact bool, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if compact {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// resticCatTypes points restic's cat types that cairn's cat lacks, typed
// by habit, to the cairn way to the same end.
var resticCatTypes = map[string]string{
	"key":       "cairn key list --json shows the key files",
	"masterkey": "cairn never prints the master key",
	"lock":      "cairn unlock removes the stale ones and lists the live ones it keeps",
	"blob":      "cairn cat pack ID lists a pack's blobs; cairn dump SNAPSHOT:PATH writes a file's data",
}
