package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newCatCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cat config | snapshot SNAPSHOT | tree ID | index ID",
		Short: "Print a decoded repository object as JSON (for debugging)",
		Args:  cobra.RangeArgs(1, 2),
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
					return fmt.Errorf("%v: %w", err, repo.ErrNoRepository)
				}
				defer be.Close()
				cfg, err := repo.ReadConfig(ctx, be)
				if err != nil {
					return err
				}
				return writeIndented(cfg)
			}
			if len(args) != 2 {
				return fmt.Errorf("cat %s needs an ID", args[0])
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
				return writeIndented(toJSON(sn))
			case "tree":
				tid, err := id.Parse(args[1])
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
				return writeIndented(out)
			case "index":
				sid, err := id.Parse(args[1])
				if err != nil {
					return err
				}
				seg, err := r.LoadSegment(ctx, sid)
				if err != nil {
					return err
				}
				return writeIndented(seg)
			}
			return fmt.Errorf("cat: unknown object type %q (config, snapshot, tree, index)", args[0])
		},
	}
	return cmd
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
	case tree.KindSymlink:
		m["linktarget"] = n.LinkTarget
	case tree.KindCharDev, tree.KindBlockDev:
		m["device_major"], m["device_minor"] = n.DevMajor, n.DevMinor
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

func writeIndented(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
