package restore

// What a restore does with a path already in the target (Overwrite), and
// what it did with each path (Action).

import (
	"fmt"
)

// Overwrite says what to do with a path that already exists in the target.
type Overwrite int

const (
	// IfChanged (the default) replaces an existing file only when it
	// differs in size or mtime from the snapshot's, and never replaces one
	// that is newer than the snapshot's copy: that is reported instead.
	// A file it keeps for its size and mtime gets the snapshot's owner,
	// mode, xattrs and times.
	IfChanged Overwrite = iota
	// Always replaces whatever is there.
	Always
	// Never keeps every existing file.
	Never
	// IfNewer (restic's if-newer) replaces an existing file only when the
	// snapshot's copy has the later mtime; one as new or newer is kept,
	// and that is no news.
	IfNewer
)

// ParseOverwrite reads the --overwrite flag.
func ParseOverwrite(s string) (Overwrite, error) {
	switch s {
	case "", "if-changed":
		return IfChanged, nil
	case "always":
		return Always, nil
	case "never":
		return Never, nil
	case "if-newer":
		return IfNewer, nil
	}
	return 0, fmt.Errorf("--overwrite %q: want always, if-changed, if-newer or never", s)
}

// Action is what a restore did with a path, as Options.Item hears it.
type Action int

const (
	// Restored: created (a directory: created or given the snapshot's
	// metadata).
	Restored Action = iota
	// Updated: an existing path replaced.
	Updated
	// Unchanged: an existing path kept by the overwrite policy.
	Unchanged
	// Deleted: removed by Options.Delete.
	Deleted
)

// String is the word restic prints for a.
func (a Action) String() string {
	switch a {
	case Restored:
		return "restored"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	case Deleted:
		return "deleted"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// changed is the Action for a path written where existed says something
// was or was not before.
func changed(existed bool) Action {
	if existed {
		return Updated
	}
	return Restored
}
