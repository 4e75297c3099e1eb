package restore

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A restore killed outright (SIGKILL, power loss) leaves the temporaries
// of the files it was writing (".NAME" + PartialSuffix + 16 hex digits,
// see createTemp) in their folders, tens of MiB each. The next restore
// into the folder removes those of the files it restores there, before it
// writes any of its own: only once per folder that was there before it
// (one read of the folder), never in one it made, so a restore into a new
// or empty target costs nothing more per file.

// partialStem is what every temporary name of a file called name starts
// with: the leading dot, the name as withTempName cuts it, and the suffix.
func partialStem(name string) string {
	if limit := 255 - 1 - len(PartialSuffix) - 16; len(name) > limit {
		name = name[:limit]
	}
	return "." + name + PartialSuffix
}

// isHex16 says s is 16 lowercase hex digits, as withTempName writes them.
func isHex16(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// dropPartials removes from the existing folder dir the temporaries an
// earlier restore left for files, the regular files of the snapshot this
// restore puts in dir: a name that is a temporary name of one of them,
// for a regular file with one link and that file's writing mode
// (writingModeOf), which no complete file has, not written to since this
// restore began. Nothing else is touched. With DryRun it removes nothing
// and notes them in rs.partials.
func (rs *restorer) dropPartials(dir string, files []*tree.Node) {
	if len(files) == 0 {
		return
	}
	stems := make(map[string][]*tree.Node, len(files))
	for _, n := range files {
		if n.Kind == tree.KindFile {
			s := partialStem(n.Name)
			stems[s] = append(stems[s], n)
		}
	}
	if len(stems) == 0 {
		return
	}
	var fd int
	var err error
	if rs.opt.DryRun {
		// A symlink a dry run leaves where the snapshot has a folder
		// (the real run replaces it first), dir's own name or any
		// folder above it, is not looked through: the folder is
		// reached from the target through no symlink.
		top, terr := fsmeta.Open(rs.opt.Target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if terr != nil {
			return
		}
		fd, err = rs.openBelowTarget(top, dir)
		unix.Close(top)
	} else {
		// Without moving its atime where permitted (the owner, root):
		// the folder's metadata is compared with the snapshot's once
		// its contents are done, and a re-run that read it would set
		// the metadata of every folder again.
		fd, err = noatime(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME|unix.O_CLOEXEC, func(flags int) (int, error) {
			return fsmeta.Open(dir, flags, 0)
		})
	}
	if err != nil {
		return // the restore itself says what is wrong with dir
	}
	defer unix.Close(fd)
	names, err := readNames(fd)
	if err != nil {
		return
	}
	for _, name := range names {
		if len(name) <= 16 || !isHex16(name[len(name)-16:]) {
			continue
		}
		ns := stems[name[:len(name)-16]]
		if ns == nil {
			continue
		}
		var st unix.Stat_t
		if err := fstatat(fd, name, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
			continue
		}
		if st.Mtim.Nano() >= rs.began {
			// Written to since this restore began: a temporary of
			// another restore into the same target, still running.
			continue
		}
		for _, n := range ns {
			if st.Mode&0o7777 != writingModeOf(n) {
				continue
			}
			if rs.opt.DryRun {
				rs.partialsMu.Lock()
				if rs.partials == nil {
					rs.partials = map[string]bool{}
				}
				rs.partials[filepath.Join(dir, name)] = true
				rs.partialsMu.Unlock()
				break
			}
			if err := unix.Unlinkat(fd, name, 0); err != nil && err != unix.ENOENT && rs.opt.Notice != nil {
				rs.opt.Notice(filepath.Join(dir, name), fmt.Sprintf("could not remove this temporary an interrupted restore left: %v", err))
			}
			break
		}
	}
}
