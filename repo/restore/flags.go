package restore

// Inode flags (chattr): where a restore sets them, and the one notice for
// a target that refuses them.

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// dropNoFlags returns err without the failures to set inode flags on a
// target filesystem that has none (tmpfs, vfat): that is said once per
// restore, as a notice, not as an error for every file with flags.
func (rs *restorer) dropNoFlags(p string, err error) error {
	var keep []error
	dropped := false
	for _, e := range flatten(err) {
		if fsmeta.NoFlagsSupport(e) {
			if !dropped {
				dropped = true
				rs.noFlags.Do(func() {
					if rs.opt.Notice != nil {
						why := "the target filesystem refuses them"
						if errors.Is(e, unix.EPERM) {
							why = "setting immutable or append-only needs CAP_LINUX_IMMUTABLE, which this process lacks"
						}
						rs.opt.Notice(p, fmt.Sprintf("inode flags (chattr) not restored: %s (%v); said once for this restore, for all entries", why, errors.Unwrap(e)))
					}
				})
			}
			continue
		}
		keep = append(keep, e)
	}
	switch {
	case !dropped:
		return err
	case len(keep) == 0:
		return nil
	case len(keep) == 1:
		return keep[0]
	}
	return errors.Join(keep...)
}

// setFlags reports whether restoring n at path sets its inode flags: when
// n has some, when something was at path before (its flags may be in the
// way), or when path's folder has flags a new entry inherits (ext4's
// nodump, noatime and sync, btrfs's nocow), which n must not keep. Each
// folder is asked once, so that a restore of many files without flags
// costs no open and ioctl per file. A restored folder gets its own flags
// only after its entries, so what it has meanwhile is what its entries
// inherit.
func (rs *restorer) setFlags(path string, n *tree.Node, existed bool) bool {
	if !rs.keepFlags {
		return false
	}
	if n.Flags != 0 || existed {
		return true
	}
	dir := filepath.Dir(path)
	if v, ok := rs.passFlags.Load(dir); ok {
		return v.(bool)
	}
	fl, _ := fsmeta.Flags(dir, tree.KindDir)
	pass := fl&^fsmeta.FlagsBlocking != 0
	rs.passFlags.Store(dir, pass)
	return pass
}
