package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newLsCommand(g *globals) *cobra.Command {
	var f filterFlags
	var long, noRecurse bool
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT[:PATH]",
		Short: "List the files in a snapshot",
		Long: `List the files in a snapshot, recursively, below PATH (default: all).
SNAPSHOT is an ID prefix or "latest" (narrowed by --host/--source/--tag;
with a PATH, the latest snapshot holding it). A relative PATH is taken from
the current folder, as ingest takes it.

A path that would garble the line or the terminal (a newline, a control
character, bytes that are not UTF-8) is printed in double quotes with
escapes ("/srv/new\nline"), as find, diff and check print it; commands
taking a PATH accept that quoted form back.`,
		Args: oneSelector(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, _, release, err := g.openReading(ctx, "ls")
			if err != nil {
				return err
			}
			defer release()
			sn, sub, err := g.findSnapshot(ctx, r, args[0], f, "")
			if err != nil {
				return err
			}
			n, rel, err := restore.Find(ctx, r, sn, sub)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(stdout)
			defer w.Flush()
			if g.json {
				j := toJSON(sn)
				printJSONTo(w, struct {
					snapshotJSON
					StructType  string `json:"struct_type"`
					MessageType string `json:"message_type"`
				}{j, "snapshot", "snapshot"})
			}
			l := &lister{r: r, w: w, json: g.json, long: long, recurse: !noRecurse}
			base := "/" + rel
			if rel != "" {
				l.print(n, base)
			}
			if n.Kind == tree.KindDir {
				if err := l.walk(ctx, n.Subtree, base); err != nil {
					return err
				}
			}
			var lost []string
			if l.lost > 0 {
				lost = append(lost, fmt.Sprintf("the contents of %s could not be read", plural(l.lost, "folder")))
			}
			if l.partial > 0 {
				lost = append(lost, fmt.Sprintf("%s left out entries that do not decode", plural(l.partial, "folder")))
			}
			if len(lost) > 0 {
				return fmt.Errorf("%s (named above; cairn check tells what is lost)", strings.Join(lost, "; "))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&long, "long", "l", false, "long listing: mode, owner, size, mtime")
	cmd.Flags().BoolVar(&noRecurse, "no-recurse", false, "list only the entries of PATH itself")
	return cmd
}

type lister struct {
	r       *repo.Repository
	w       *bufio.Writer
	json    bool
	long    bool
	recurse bool
	lost    int // folders whose tree could not be read
	partial int // folders listed without entries that do not decode
}

func (l *lister) walk(ctx context.Context, tid [32]byte, dir string) error {
	nodes, skipped, err := l.r.LoadTreePartial(ctx, tid)
	if err == nil && skipped != nil {
		// Entries that do not decode: name them, list the others.
		l.partial++
		name := dir
		if name == "" {
			name = "/"
		}
		l.w.Flush()
		if l.json {
			printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": "entries left out: " + skipped.Error()}, "during": "ls", "item": name})
		} else {
			fmt.Fprintf(os.Stderr, "cairn: %s: entries left out: %v\n", printablePath(name), skipped)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Damaged or missing: name the folder and list the rest.
		l.lost++
		if dir == "" {
			dir = "/"
		}
		l.w.Flush()
		if l.json {
			printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": "folder contents lost: " + err.Error()}, "during": "ls", "item": dir})
		} else {
			fmt.Fprintf(os.Stderr, "cairn: %s: folder contents lost: %v\n", printablePath(dir), err)
		}
		return nil
	}
	for _, n := range nodes {
		// A cancelled command (interrupted, or its stdout closed by a
		// reader such as head) stops here, even on cached trees.
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(dir, n.Name)
		l.print(n, p)
		if n.Kind == tree.KindDir && l.recurse {
			if err := l.walk(ctx, n.Subtree, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// nodeJSON is one line of `ls --json`.
type nodeJSON struct {
	StructType  string    `json:"struct_type"`
	MessageType string    `json:"message_type"` // as struct_type, as restic's since 0.17
	Name        string    `json:"name"`
	NameBytes   string    `json:"name_bytes,omitempty"` // base64 when the name is not UTF-8
	Type        string    `json:"type"`
	Path        string    `json:"path"`
	PathBytes   string    `json:"path_bytes,omitempty"`
	UID         uint32    `json:"uid"`
	GID         uint32    `json:"gid"`
	User        string    `json:"user,omitempty"`
	Group       string    `json:"group,omitempty"`
	Size        uint64    `json:"size"`
	Mode        uint32    `json:"mode"`
	Permissions string    `json:"permissions"`
	MTime       time.Time `json:"mtime"`
	ATime       time.Time `json:"atime"`
	CTime       time.Time `json:"ctime"`
	Inode       uint64    `json:"inode"`
	Links       uint32    `json:"links"`
	LinkTarget  string    `json:"linktarget,omitempty"`
	LinkBytes   string    `json:"linktarget_bytes,omitempty"` // base64 when the target is not UTF-8
	DevMajor    uint32    `json:"device_major,omitempty"`
	DevMinor    uint32    `json:"device_minor,omitempty"`
	// Incomplete: a folder the ingest could not read whole.
	Incomplete bool `json:"incomplete,omitempty"`
	// Flags: the inode flags (chattr) as lsattr's letters, e.g. "ia".
	Flags string `json:"flags,omitempty"`
}

func (l *lister) print(n *tree.Node, p string) {
	if l.json {
		j := nodeJSON{StructType: "node", MessageType: "node", Name: n.Name, Type: n.Kind.String(), Path: p, UID: n.UID, GID: n.GID, User: n.User, Group: n.Group,
			Size: n.StatSize(), Mode: uint32(nodeMode(n)), Permissions: nodeMode(n).String(), MTime: time.Unix(0, n.MTime), ATime: time.Unix(0, n.ATime),
			CTime: time.Unix(0, n.CTime), Inode: n.Inode, Links: n.Links, LinkTarget: n.LinkTarget, DevMajor: n.DevMajor, DevMinor: n.DevMinor,
			Incomplete: n.Incomplete, Flags: fsmeta.FlagString(n.Flags)}
		if !utf8.ValidString(n.Name) {
			j.NameBytes = base64.StdEncoding.EncodeToString([]byte(n.Name))
		}
		if !utf8.ValidString(p) {
			j.PathBytes = base64.StdEncoding.EncodeToString([]byte(p))
		}
		if !utf8.ValidString(n.LinkTarget) {
			j.LinkBytes = base64.StdEncoding.EncodeToString([]byte(n.LinkTarget))
		}
		printJSONTo(l.w, j)
		return
	}
	if !l.long {
		fmt.Fprintln(l.w, printablePath(p))
		return
	}
	owner := fmt.Sprint(n.UID)
	if n.User != "" {
		owner = n.User
	}
	group := fmt.Sprint(n.GID)
	if n.Group != "" {
		group = n.Group
	}
	size := fmt.Sprint(n.StatSize())
	if n.Kind == tree.KindCharDev || n.Kind == tree.KindBlockDev {
		size = fmt.Sprintf("%d, %d", n.DevMajor, n.DevMinor)
	}
	line := fmt.Sprintf("%s %8s %8s %12s %s %s", n.LsMode(), owner, group, size, time.Unix(0, n.MTime).Local().Format("2006-01-02 15:04:05"), printablePath(p))
	if n.Kind == tree.KindSymlink {
		line += " -> " + printablePath(n.LinkTarget)
	}
	fmt.Fprintln(l.w, line)
}

// nodeMode is the node's type and permission bits as an fs.FileMode.
func nodeMode(n *tree.Node) fs.FileMode {
	m := fs.FileMode(n.Mode & 0o777)
	if n.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch n.Kind {
	case tree.KindDir:
		m |= fs.ModeDir
	case tree.KindSymlink:
		m |= fs.ModeSymlink
	case tree.KindCharDev:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case tree.KindBlockDev:
		m |= fs.ModeDevice
	case tree.KindFIFO:
		m |= fs.ModeNamedPipe
	case tree.KindSocket:
		m |= fs.ModeSocket
	}
	return m
}
