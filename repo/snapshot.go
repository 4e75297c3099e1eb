package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Summary holds a snapshot's figures, written by ingest.
type Summary struct {
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	FilesNew        int64     `json:"files_new"`
	FilesChanged    int64     `json:"files_changed"`
	FilesUnchanged  int64     `json:"files_unchanged"`
	DirsNew         int64     `json:"dirs_new"`
	DirsChanged     int64     `json:"dirs_changed"`
	DirsUnchanged   int64     `json:"dirs_unchanged"`
	FilesUnreadable int64     `json:"files_unreadable"`
	DataBlobs       int64     `json:"data_blobs"`
	TreeBlobs       int64     `json:"tree_blobs"`
	DataAdded       int64     `json:"data_added"`
	DataAddedStored int64     `json:"data_added_packed"`
	TotalFiles      int64     `json:"total_files"`
	TotalBytes      int64     `json:"total_bytes"`
	TotalEntries    int64     `json:"total_entries"`
	// Rewritten is when `cairn rewrite` last removed paths from the
	// snapshot: the totals then count the rewritten tree, while the
	// other figures still describe the ingest that made it.
	Rewritten *time.Time `json:"rewritten,omitempty"`
}

// Snapshot is the commit point of an ingest: writing it makes a backup
// visible; nothing else refers to it.
type Snapshot struct {
	Time time.Time `json:"time"`
	Tree id.ID     `json:"tree"`
	// Root holds the root directory's own metadata (mode, owner, times,
	// xattrs), encoded as one tree node (tree.EncodeNode); Tree is its
	// contents. Absent in snapshots of streams.
	Root           []byte   `json:"root,omitempty"`
	Paths          []string `json:"paths"`
	Host           string   `json:"host"`
	Source         string   `json:"source"`
	Tags           []string `json:"tags"`
	Username       string   `json:"username,omitempty"`
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	Parent         *id.ID   `json:"parent,omitempty"`
	Excludes       []string `json:"excludes,omitempty"`
	IExcludes      []string `json:"iexcludes,omitempty"` // matched regardless of case
	ProgramVersion string   `json:"program_version,omitempty"`
	// InodeFlags says that the writer recorded inode flags (tree field
	// flags): a file or folder without them had none. A snapshot without
	// it says nothing of them, and a restore leaves the target's flags
	// as they are rather than clearing them.
	InodeFlags bool     `json:"inode_flags,omitempty"`
	Summary    *Summary `json:"summary,omitempty"`
	// Links lists the hardlink groups that have another number of links
	// in the snapshot than their nodes' Links say (fewer: the others were
	// outside the ingested paths or excluded; more: the inode was seen
	// through a bind mount too), with the count inside it: what a mount
	// reports as nlink. Groups with exactly Links names are not listed.
	Links []LinkCount `json:"links,omitempty"`
	// Original names the snapshot this one was rewritten from (by
	// repair snapshots), which is kept until it is forgotten.
	Original *id.ID `json:"original,omitempty"`
	// CopiedFrom names the snapshot of another repository this one is a
	// copy of (cairn copy). Its trees are that snapshot's, translated:
	// the same names, and each file the same chunks in the same order.
	// A change of the tree must drop it.
	CopiedFrom *id.ID `json:"copied_from,omitempty"`

	ID id.ID `json:"-"` // set when saved or loaded
}

// LinkCount is one hardlink group's number of links inside a snapshot.
type LinkCount struct {
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	Count uint32 `json:"count"`
}

// CommonDir returns the path elements shared by every absolute path the
// snapshot records (none for a stream's name or for paths with nothing in
// common): the deepest folder holding all of them, or one path itself.
func (s *Snapshot) CommonDir() []string {
	var common []string
	for i, p := range s.Paths {
		if !strings.HasPrefix(p, "/") {
			return nil
		}
		elems := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
		if len(elems) == 1 && elems[0] == "" {
			return nil // "/"
		}
		if i == 0 {
			common = elems
			continue
		}
		k := 0
		for k < len(common) && k < len(elems) && common[k] == elems[k] {
			k++
		}
		common = common[:k]
	}
	return common
}

// RootNode decodes Root, or returns a plain 0755 directory when absent.
func (s *Snapshot) RootNode() *tree.Node {
	if len(s.Root) > 0 {
		if n, err := tree.DecodeNode(s.Root); err == nil && n.Kind == tree.KindDir {
			n.Subtree = s.Tree
			return n
		}
	}
	return &tree.Node{Name: "root", Kind: tree.KindDir, Mode: 0o755, MTime: s.Time.UnixNano(), ATime: s.Time.UnixNano(), Subtree: s.Tree}
}

// MarkRootIncomplete marks the root folder incomplete (tree.Node.Incomplete
// in Root): an entry of it was left out, so restore --delete keeps what
// the snapshot lacks there.
func (s *Snapshot) MarkRootIncomplete() {
	n := s.RootNode()
	if n.Incomplete {
		return
	}
	n.Name = "root" // a node needs a valid name; the root's is not used
	n.Incomplete = true
	s.Root = tree.EncodeNode(n)
}

// HasTag reports whether the snapshot carries tag t.
func (s *Snapshot) HasTag(t string) bool {
	for _, x := range s.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// SaveSnapshot stores sn and sets its ID. This is the commit point: call it
// only after the Saver that stored its blobs has flushed. It refuses
// (ErrLeaseLost) while a lock taken through r has lost its lease: a prune
// may have run meanwhile and removed blobs the snapshot needs.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *Snapshot) error {
	if err := r.checkLeases(); err != nil {
		return fmt.Errorf("snapshot not saved: %w", err)
	}
	if sn.Tags == nil {
		sn.Tags = []string{}
	}
	b, err := json.Marshal(sn)
	if err != nil {
		return err
	}
	sid, err := r.saveObject(ctx, kindSnapshot, b)
	if err != nil {
		return err
	}
	sn.ID = sid
	if err := r.idx.SyncSnapshots(nil, map[id.ID][]byte{sid: b}); err != nil && !r.cacheWriteRefused(err) {
		return err
	}
	return nil
}

// LoadSnapshot reads one snapshot object.
func (r *Repository) LoadSnapshot(ctx context.Context, sid id.ID) (*Snapshot, error) {
	return r.LoadListedSnapshot(ctx, sid, -1)
}

// LoadListedSnapshot is LoadSnapshot for a snapshot whose size a listing
// gave: the storage is not asked it again (a request per snapshot on S3).
func (r *Repository) LoadListedSnapshot(ctx context.Context, sid id.ID, size int64) (*Snapshot, error) {
	b, err := r.loadListedObject(ctx, kindSnapshot, sid, size)
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(sid, b)
}

// CachedSnapshot returns the copy of snapshot sid that this host's local
// index keeps (what the object held when it was last read whole), or nil
// when it keeps none. It is what restores and listings use; when the
// stored object is damaged, `repair snapshots` stores it again from here.
func (r *Repository) CachedSnapshot(sid id.ID) (*Snapshot, error) {
	b, err := r.idx.Snapshot(sid)
	if err != nil || b == nil {
		return nil, err
	}
	return decodeSnapshot(sid, b)
}

func decodeSnapshot(sid id.ID, b []byte) (*Snapshot, error) {
	var sn Snapshot
	if err := json.Unmarshal(b, &sn); err != nil {
		return nil, fmt.Errorf("snapshot %s: %v: %w", sid.Short(), err, ErrDamaged)
	}
	sn.ID = sid
	return &sn, nil
}

// SnapshotError is a stored snapshot that could not be read (damaged, or
// gone while listed): Snapshots reports one through warn.
type SnapshotError struct {
	ID  id.ID
	Err error
}

func (e *SnapshotError) Error() string { return e.Err.Error() }
func (e *SnapshotError) Unwrap() error { return e.Err }

// Snapshots lists every snapshot, oldest first. The catalogue in the local
// index is brought up to date with the stored snapshot objects; only new
// ones are downloaded. A damaged snapshot is reported through warn and left
// out, so the rest stay usable.
func (r *Repository) Snapshots(ctx context.Context, warn func(error)) ([]*Snapshot, error) {
	stored := map[id.ID]bool{}
	sizes := map[id.ID]int64{} // as listed
	err := r.be.List(ctx, "snapshots/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "snapshots/"))
		if err == nil {
			stored[sid], sizes[sid] = true, fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	cat, err := r.idx.Snapshots()
	if err != nil {
		return nil, err
	}
	var missing []id.ID
	for sid := range stored {
		if _, ok := cat[sid]; !ok {
			missing = append(missing, sid)
		}
	}
	got, errs, err := fetchAll(ctx, r, missing, func(ctx context.Context, sid id.ID) ([]byte, error) {
		return r.loadListedObject(ctx, kindSnapshot, sid, sizes[sid])
	})
	if err != nil {
		return nil, err
	}
	add := map[id.ID][]byte{}
	for i, sid := range missing {
		if errs[i] == nil {
			add[sid] = got[i]
		} else if warn == nil || !(errors.Is(errs[i], ErrDamaged) || errors.Is(errs[i], ErrNotFound)) {
			return nil, errs[i]
		} else {
			warn(&SnapshotError{ID: sid, Err: errs[i]})
		}
	}
	var out []*Snapshot
	for sid := range stored {
		b, ok := cat[sid]
		if !ok {
			if b, ok = add[sid]; !ok {
				continue // warned above
			}
		}
		sn, err := decodeSnapshot(sid, b)
		if err != nil {
			if warn != nil {
				warn(&SnapshotError{ID: sid, Err: err})
				continue
			}
			return nil, err
		}
		out = append(out, sn)
	}
	if len(add) > 0 {
		// A snapshot new to the catalogue may have been committed after
		// the local index was last brought up to date (when the
		// repository was opened or locked): its index segments, written
		// before it, are there now, and reading it needs them.
		if err := r.SyncIndex(ctx); err != nil {
			return nil, err
		}
	}
	if len(add) > 0 || len(cat) != len(stored) {
		// The list is complete without the catalogue: a local index
		// that cannot be written (a full disk, a read-only home) only
		// means the next run downloads these snapshots again. With
		// CatalogueOnly this is the run's first write to the local
		// index, so nothing before it found the folder unwritable and
		// fell back to a private index.
		if err := r.idx.SyncSnapshots(stored, add); err != nil && !r.cacheWriteRefused(err) {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out, nil
}

// Filter narrows snapshots as restic's --host, --tag and --path flags do,
// with cairn's sources beside the hosts. A snapshot passes when its host is
// one of Hosts, its source one of Sources, it carries every tag of at least
// one of Tags, and it recorded every one of Paths. An empty field matches
// everything.
type Filter struct {
	Hosts   []string
	Sources []string
	Tags    []TagList
	Paths   []string
}

// TagList is a set of tags a snapshot must all carry; the empty list
// matches snapshots without any tag.
type TagList []string

// ParseTagList reads a comma-separated list; "" is the empty list.
func ParseTagList(s string) TagList {
	l := TagList{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			l = append(l, t)
		}
	}
	return l
}

// Match reports whether sn carries every tag of l (or none at all, for the
// empty list).
func (l TagList) Match(sn *Snapshot) bool {
	if len(l) == 0 {
		return len(sn.Tags) == 0
	}
	for _, t := range l {
		if !sn.HasTag(t) {
			return false
		}
	}
	return true
}

func (l TagList) String() string {
	if len(l) == 0 {
		return "untagged"
	}
	return "tag " + strings.Join(l, ",")
}

// Match reports whether sn passes the filter.
func (f Filter) Match(sn *Snapshot) bool {
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, sn.Host) {
		return false
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, sn.Source) {
		return false
	}
	if len(f.Tags) > 0 && !slices.ContainsFunc(f.Tags, func(l TagList) bool { return l.Match(sn) }) {
		return false
	}
	for _, p := range f.Paths {
		if !slices.ContainsFunc(sn.Paths, func(q string) bool { return RecordedPath(q) == RecordedPath(p) }) {
			return false
		}
	}
	return true
}

// RecordedPath is p as a stored snapshot records it among its Paths: a
// byte that is not UTF-8 is read back as U+FFFD, since the snapshot is
// JSON. Compare a path given by the user, or one of a snapshot not yet
// stored, with recorded ones in this form.
func RecordedPath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		b.WriteRune(r) // utf8.RuneError for each bad byte, as encoding/json writes it
		i += n
	}
	return b.String()
}

// SamePaths reports whether a and b are the same list of paths as
// snapshots record them (see RecordedPath).
func SamePaths(a, b []string) bool {
	return slices.EqualFunc(a, b, func(x, y string) bool { return RecordedPath(x) == RecordedPath(y) })
}

// FindSnapshot resolves a selector: "latest" (narrowed by f) or a unique
// prefix of a snapshot ID.
//
// An ID prefix that names only a snapshot that cannot be read is an error
// saying so (ErrDamaged), not "not found".
func (r *Repository) FindSnapshot(ctx context.Context, sel string, f Filter) (*Snapshot, error) {
	var unreadable []*SnapshotError
	all, err := r.Snapshots(ctx, func(err error) {
		var se *SnapshotError
		if errors.As(err, &se) {
			unreadable = append(unreadable, se)
		}
	})
	if err != nil {
		return nil, err
	}
	sn, err := SelectSnapshot(all, sel, f)
	if errors.Is(err, ErrNotFound) && sel != "latest" && sel != "" {
		for _, se := range unreadable {
			if strings.HasPrefix(se.ID.String(), strings.ToLower(sel)) {
				why := strings.TrimSuffix(strings.TrimSuffix(se.Err.Error(), ": "+ErrDamaged.Error()), ": "+ErrNotFound.Error())
				return nil, fmt.Errorf("snapshot %s cannot be read: %s (cairn check tells what else is damaged; cairn repair snapshots --forget removes it): %w",
					se.ID.Short(), why, ErrDamaged)
			}
		}
	}
	return sn, err
}

// SelectSnapshot resolves a selector among all (oldest first), as
// FindSnapshot does.
func SelectSnapshot(all []*Snapshot, sel string, f Filter) (*Snapshot, error) {
	if sel == "latest" {
		for i := len(all) - 1; i >= 0; i-- {
			if f.Match(all[i]) {
				return all[i], nil
			}
		}
		return nil, fmt.Errorf("no snapshot matches latest%s: %w", f.Describe(), ErrNotFound)
	}
	sel = strings.ToLower(sel)
	var found *Snapshot
	for _, sn := range all {
		if strings.HasPrefix(sn.ID.String(), sel) {
			if found != nil {
				return nil, fmt.Errorf("snapshot prefix %q is ambiguous: %s and %s", sel, found.ID.Short(), sn.ID.Short())
			}
			found = sn
		}
	}
	if found == nil || sel == "" {
		return nil, fmt.Errorf("snapshot %q: %w", sel, ErrNotFound)
	}
	return found, nil
}

// Describe is the filter as " (host a or b, tag x,y or untagged, path
// /p)", or "" for none.
func (f Filter) Describe() string {
	var p []string
	if len(f.Hosts) > 0 {
		p = append(p, "host "+strings.Join(f.Hosts, " or "))
	}
	if len(f.Sources) > 0 {
		p = append(p, "source "+strings.Join(f.Sources, " or "))
	}
	if len(f.Tags) > 0 {
		var ls []string
		for _, l := range f.Tags {
			ls = append(ls, l.String())
		}
		p = append(p, strings.Join(ls, " or "))
	}
	for _, path := range f.Paths {
		p = append(p, "path "+path)
	}
	if len(p) == 0 {
		return ""
	}
	return " (" + strings.Join(p, ", ") + ")"
}
