package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/dump"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newDumpCommand(g *globals) *cobra.Command {
	var f filterFlags
	var target, archive string
	cmd := &cobra.Command{
		Use:   "dump SNAPSHOT[:PATH] [PATH]",
		Short: "Write a file of a snapshot, or a folder as a tar archive, to standard output",
		Long: `Write what a snapshot holds at PATH to standard output (or --target): a
file's content, or a folder (or the whole snapshot) as a tar archive whose
entries are named below the folder's name, with owners, modes, nanosecond
times, extended attributes and ACLs, hardlinks and device nodes. A file's
dump writes its holes as zeros to standard output, and keeps them as holes
in a --target file; in an archive a file with holes is a GNU PAX sparse
entry (format 1.0) holding only its data, which GNU tar and bsdtar extract
as a sparse file. Sockets are left out.

  cairn dump --source db latest:app.sql | psql app
  cairn dump latest /etc > etc.tar

A chunk that cannot be read ends a file's dump with an error (exit 1) that
says at which byte (a --target file is then not written at all). In an
archive it is written as zeros and named in a warning, the archive goes on,
and the exit code is 1 (a --target archive is kept).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%s takes SNAPSHOT[:PATH], or SNAPSHOT PATH", cmd.CommandPath())
			}
			if len(args) == 2 && strings.Contains(args[0], ":") {
				return fmt.Errorf("%s: give the path once, as %s or as a second argument", cmd.CommandPath(), args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx := cmd.Context()
			if archive != "tar" {
				return fmt.Errorf("--archive %q: cairn writes tar", archive)
			}
			arg := args[0]
			if len(args) == 2 {
				arg += ":" + args[1]
			}
			r, _, release, err := g.openReading(ctx, "dump")
			if err != nil {
				return err
			}
			defer release()
			sn, p, err := g.findSnapshot(ctx, r, arg, f, "")
			if err != nil {
				return err
			}
			n, _, err := restore.Find(ctx, r, sn, p)
			if err != nil {
				return err
			}
			if n.Kind != tree.KindFile && n.Kind != tree.KindDir {
				return fmt.Errorf("%s in snapshot %s is a %s: dump writes a file, or a folder as an archive", p, sn.ID.Short(), n.Kind)
			}

			var w io.Writer = stdout
			var out *atomicFile
			partial := false // an archive written whole, with what could not be read left out
			if target != "" {
				// Not err: the deferred finish must see the command's
				// result, not this nil, or a failed dump is renamed
				// into place.
				var ferr error
				out, ferr = newAtomicFile(target)
				if ferr != nil {
					return ferr
				}
				defer func() {
					if partial {
						// A whole archive that lacks what could not
						// be read is kept, as on standard output:
						// the error stays for the exit code.
						if ferr := out.finish(nil); ferr != nil {
							err = ferr
						}
						return
					}
					err = out.finish(err)
				}()
				w = out
			} else if n.Kind == tree.KindDir && isTerminal(os.Stdout) {
				return errors.New("standard output is a terminal: redirect the archive to a file or a pipe, or give --target")
			}
			if n.Kind == tree.KindFile && out != nil {
				if err := dump.SparseFile(ctx, r, n, out.File); err != nil {
					// The target is replaced only once complete.
					return fmt.Errorf("%s not written: %w", printablePath(target), err)
				}
				return nil
			}
			if n.Kind == tree.KindFile {
				return dump.File(ctx, r, n, w)
			}
			name := ""
			if p != "/" {
				name = path.Base(p)
			}
			var mu sync.Mutex
			lost := 0
			err = dump.Tar(ctx, r, n, name, w, func(p string, err error) {
				mu.Lock()
				defer mu.Unlock()
				if p == "" {
					p = "." // the archive's top folder
				}
				p = printablePath(p)
				if errors.Is(err, dump.ErrNotInTar) {
					if g.json { // as restore's notices: not dropped
						printJSONTo(os.Stderr, map[string]any{"message_type": "notice", "message": err.Error(), "item": p})
						return
					}
					g.notice("cairn: %s: %v", p, err)
					return
				}
				lost++
				g.warnf("%s: %v", p, err)
			})
			if err == nil && lost > 0 {
				partial = true
				err = fmt.Errorf("the archive of %s:%s lacks what %s could not be read (named above)", sn.ID.Short(), p, plural(lost, "path"))
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&target, "target", "t", "", "write to `file` instead of standard output (replaced only once complete)")
	cmd.Flags().StringVarP(&archive, "archive", "a", "tar", "archive `format` for a folder (tar)")
	cmd.RegisterFlagCompletionFunc("archive", cobra.FixedCompletions([]string{"tar"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// atomicFile is a file written under a temporary name in its folder and
// renamed into place only when complete, so that a failed dump leaves the
// old file (or none), never a partial one.
type atomicFile struct {
	*os.File
	name string
}

func newAtomicFile(name string) (*atomicFile, error) {
	// As os.CreateTemp, through fsmeta so that a target deeper than
	// PATH_MAX is written as restore writes one.
	var f *os.File
	for try := 0; ; try++ {
		tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".cairn-partial-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		var err error
		f, err = fsmeta.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return nil, err
		}
	}
	partials.Store(f.Name(), struct{}{})
	return &atomicFile{File: f, name: name}, nil
}

// partials are the temporary names of the atomic files being written, for
// removePartials.
var partials sync.Map // string -> struct{}

// removePartials removes the temporary files of unfinished atomic files:
// for a process about to exit at once (a second Ctrl-C), which would
// otherwise leave a hidden partial file beside the target.
func removePartials() {
	partials.Range(func(k, _ any) bool {
		fsmeta.Remove(k.(string))
		return true
	})
}

// finish syncs and renames the file into place when err is nil, else
// removes it; it returns err, or the error of finishing.
func (a *atomicFile) finish(err error) error {
	defer partials.Delete(a.Name())
	if err == nil {
		err = a.Sync()
	}
	if err == nil {
		err = a.setMode()
	}
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return fsmeta.Rename(a.Name(), a.name)
	}
	fsmeta.Remove(a.Name())
	return err
}

// setMode gives the file the mode (and, for root, the owner) of the file
// it replaces, as writing over it with > or restic's dump --target would
// keep them: a 0600 key dumped over its old copy must not become 0644 (nor
// root's). A new file gets 0666 less the umask.
func (a *atomicFile) setMode() error {
	if fi, err := fsmeta.Lstat(a.name); err == nil && fi.Mode().IsRegular() {
		perm := fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			if err := a.Chown(int(st.Uid), int(st.Gid)); err != nil {
				// Root may not give files away everywhere (NFS
				// with root_squash): the dump is still written,
				// but readable by its new owner only, since the
				// old one's group or others are not its own.
				perm &= 0o700
			}
		}
		return a.Chmod(perm)
	}
	return a.Chmod(0o666 &^ umask())
}

// umask is the process's file mode creation mask, as the kernel reports
// it (077 when it cannot be read, as in a chroot without /proc: then only
// the owner may read a new file).
func umask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(m)
				}
			}
		}
	}
	return 0o077
}
