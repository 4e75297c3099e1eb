package repo

// The local index: where it lives (the cache folder), how a process opens
// it (shared, or a private copy when another holds it or its folder cannot
// be written), and how the resident process publishes it to the others.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/index"
)

// DefaultCacheDir is $XDG_CACHE_HOME/cairn (or ~/.cache/cairn). Without
// either variable (cron's environment, env -i, a service without User=)
// it is cairn-UID in the temporary folder: each user's own, since a
// folder shared by all would be made by the first user to run cairn and
// refuse every other, and could be made ahead by anyone to hand a later
// root ingest a cache of theirs (see privateCacheDir).
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return tempCacheDir()
	}
	return filepath.Join(d, "cairn")
}

// UsableDefaultCacheDir is DefaultCacheDir, made and checked with
// privateCacheDir when it is the temporary folder's.
func UsableDefaultCacheDir() (string, error) {
	dir := DefaultCacheDir()
	if dir == tempCacheDir() {
		if err := privateCacheDir(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func tempCacheDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("cairn-%d", os.Geteuid()))
}

// privateCacheDir makes the temporary folder's cache folder dir, or checks
// the one there: a folder (not a link), the user's own, that nobody else
// may write or read.
func privateCacheDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o077 != 0 {
		why := "HOME and XDG_CACHE_HOME are not set"
		if _, err := os.UserCacheDir(); err != nil {
			why = err.Error() // also a relative XDG_CACHE_HOME
		}
		return fmt.Errorf("%s is not a private folder of this user (uid %d), so it is not used for the local index: remove it, or set CAIRN_CACHE_DIR (%s)", dir, os.Geteuid(), why)
	}
	return nil
}

// localIndexError is a failure to write the local index (not the
// repository).
type localIndexError struct{ err error }

func (e *localIndexError) Error() string { return "local index: " + e.err.Error() }
func (e *localIndexError) Unwrap() error { return e.err }

// cacheUnwritable says err is the local cache folder refusing writes: full,
// over quota, read-only or not ours.
func cacheUnwritable(err error) bool {
	var le *localIndexError
	var ce *cacheDirError
	if errors.As(err, &ce) && ce.mkdir {
		// The folder cannot be made at all (a CAIRN_CACHE_DIR under
		// /proc, a file in its way): whatever the reason, a cache is
		// only a cache.
		return true
	}
	if !errors.As(err, &le) && !errors.As(err, &ce) {
		return false
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission)
}

// cacheWriteRefused reports whether err, from writing the local index
// during a run, is its folder refusing writes (cacheUnwritable), and if so
// says so: what was being recorded is in the repository already, so the
// run goes on and the next one reads it from there.
func (r *Repository) cacheWriteRefused(err error) bool {
	le := &localIndexError{err}
	if !cacheUnwritable(le) {
		return false
	}
	r.Logf("%v; what it misses is read from the repository at the next run", le)
	return true
}

// cacheDirError is a failure to create (mkdir) or open the local cache
// folder.
type cacheDirError struct {
	err   error
	mkdir bool
}

func (e *cacheDirError) Error() string { return e.err.Error() }
func (e *cacheDirError) Unwrap() error { return e.err }

// privateCache starts an empty local index in a temporary folder, for this
// run only, because the shared one cannot be used (cause).
func (r *Repository) privateCache(opt Options, cause error) error {
	tmp, err := privateCacheFolder()
	if err != nil {
		return err
	}
	db, err := index.Open(filepath.Join(tmp, "index.db"), r.cfg.ID, time.Second)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	opt.logf("%v; using a private local index for this run (slower: it is read from the repository)", cause)
	r.idx, r.tmpCache, r.logf = db, tmp, opt.logf
	return nil
}

// privateCacheFailed is the error of a run whose local index cannot be
// written (cause) and whose private one, in the temporary folder, cannot
// be made either (perr): both are named, since the fix may be either
// folder's (a full TMPDIR as much as a full cache folder).
func privateCacheFailed(cause, perr error) error {
	return fmt.Errorf("%w; nor can a private local index be made in the temporary folder %s (TMPDIR): %v", cause, os.TempDir(), perr)
}

// privateIndex swaps the shared local index for a copy of it in a
// temporary folder.
func (r *Repository) privateIndex() error {
	tmp, err := privateCacheFolder()
	if err != nil {
		return err
	}
	path := filepath.Join(tmp, "index.db")
	if err := r.idx.CopyTo(path); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("copy local index: %w", err)
	}
	db, err := index.Open(path, r.cfg.ID, time.Second)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	r.idx.Close()
	r.idx, r.tmpCache = db, tmp
	return nil
}

// openCache opens the local index. When another process holds it, a private
// cache is built in a temporary folder instead: slower, never wrong.
func (r *Repository) openCache(ctx context.Context, opt Options) error {
	dir := opt.CacheDir
	if dir == "" {
		var err error
		if dir, err = UsableDefaultCacheDir(); err != nil {
			// Anyone may make a cairn-UID folder in the temporary
			// folder ahead of this user: it must not stop the
			// backup (a cron job's every night), only its use as
			// the cache. The run says so and goes on with a
			// private index.
			return &cacheDirError{err: fmt.Errorf("local index: %v", err), mkdir: true}
		}
	}
	dir = filepath.Join(dir, r.cfg.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &cacheDirError{err: fmt.Errorf("create cache dir: %w (set CAIRN_CACHE_DIR to a folder this user may write)", err), mkdir: true}
	}
	tagCacheDir(dir)
	wait, holder := 2*time.Second, residentHolder(dir)
	if holder != 0 {
		wait = time.Millisecond // held for long: waiting is no use
	}
	db, err := openWaiting(ctx, filepath.Join(dir, "index.db"), r.cfg.ID, wait)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, index.ErrBusy) {
		if holder != 0 {
			opt.logf("local index %s is held by the cairn daemon (pid %d); using a private one for this run", dir, holder)
		} else {
			opt.logf("local index %s is busy; using a private one for this run", dir)
		}
		tmp, terr := privateCacheFolder()
		if terr != nil {
			return terr
		}
		r.tmpCache = tmp
		// Start from the copy the holder published, when there is one:
		// the sync that follows then reads only what is newer.
		if cerr := copyFile(filepath.Join(dir, publishedIndex), filepath.Join(tmp, "index.db")); cerr != nil && !errors.Is(cerr, os.ErrNotExist) {
			opt.logf("local index %s: published copy unusable (%v); starting empty", dir, cerr)
		}
		db, err = index.Open(filepath.Join(tmp, "index.db"), r.cfg.ID, time.Second)
		if err != nil && !errors.Is(err, index.ErrBusy) {
			// A damaged copy is only a cache: start empty.
			os.Remove(filepath.Join(tmp, "index.db"))
			db, err = index.Open(filepath.Join(tmp, "index.db"), r.cfg.ID, time.Second)
		}
	} else if err != nil && !errors.Is(err, index.ErrBusy) {
		// A damaged cache is only a cache: start it again.
		opt.logf("local index %s is unusable (%v); rebuilding it", dir, err)
		os.Remove(filepath.Join(dir, "index.db"))
		db, err = index.Open(filepath.Join(dir, "index.db"), r.cfg.ID, 2*time.Second)
	}
	if err != nil && r.tmpCache == "" {
		return &cacheDirError{err: err}
	}
	if err != nil {
		return err
	}
	r.idx = db
	r.logf = opt.logf
	if opt.Resident && r.tmpCache == "" {
		r.cacheDir = dir
		r.resident = filepath.Join(dir, residentNote)
		if err := os.WriteFile(r.resident, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			opt.logf("local index %s: %v", dir, err)
			r.resident = ""
		}
	}
	return nil
}

// openWaiting is index.Open waiting up to wait for a busy index, but
// giving up as soon as ctx ends: bbolt's own wait cannot be stopped, and
// q pressed in the TUI while it waited took the whole 2 s to quit.
func openWaiting(ctx context.Context, path, repoID string, wait time.Duration) (*index.DB, error) {
	deadline := time.Now().Add(wait)
	for {
		db, err := index.Open(path, repoID, time.Millisecond)
		if !errors.Is(err, index.ErrBusy) || !time.Now().Before(deadline) {
			return db, err
		}
		t := time.NewTimer(min(50*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// publishedIndex, beside a local index, is a consistent copy of it that
// the resident process refreshes, for others to start their private index
// from instead of reading every index segment of the repository again.
const publishedIndex = "index.db.published"

// PublishIndex refreshes the published copy of the local index, when this
// process is the resident one (Options.Resident); otherwise it does
// nothing. Calls that overlap a running one are folded into one more copy
// after it, so the copy is never older than the last call.
func (r *Repository) PublishIndex() error {
	if r.resident == "" {
		return nil
	}
	r.pubMu.Lock()
	if r.pubRunning {
		r.pubAgain = true
		r.pubMu.Unlock()
		return nil
	}
	r.pubRunning = true
	r.pubMu.Unlock()
	var err error
	for {
		err = r.publishOnce()
		r.pubMu.Lock()
		if !r.pubAgain {
			r.pubRunning = false
			r.pubMu.Unlock()
			return err
		}
		r.pubAgain = false
		r.pubMu.Unlock()
	}
}

func (r *Repository) publishOnce() error {
	// A lock that changed nothing (a listing) copies nothing.
	gen := r.idx.Generation()
	if r.pubDone && gen == r.pubGen {
		return nil
	}
	tmp := filepath.Join(r.cacheDir, publishedIndex+".tmp")
	os.Remove(tmp)
	if err := r.idx.CopyTo(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publish local index: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(r.cacheDir, publishedIndex)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publish local index: %w", err)
	}
	r.pubGen, r.pubDone = gen, true
	return nil
}

// copyFile copies src to dst (which must not exist) and syncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}

// residentNote, beside a local index, holds the pid of the resident
// process that keeps it open.
const residentNote = "index.db.resident"

// residentHolder returns the pid the resident note in dir names, when that
// process lives; 0 otherwise. A note left by a process that died is
// harmless: its index is free again.
func residentHolder(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, residentNote))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0
	}
	return pid
}

// cacheDirTag is the content of the CACHEDIR.TAG (bford.info/cachedir)
// that marks a repository's cache folder, so that an ingest of a home
// folder with --exclude-caches (as tar, restic and borg honour it)
// leaves out the local index, as it leaves out restic's cache.
const cacheDirTag = "Signature: 8a477f597d28d172789f06886806bc55\n" +
	"# This file is a cache directory tag created by cairn.\n" +
	"# For information about cache directory tags, see:\n" +
	"#\thttps://bford.info/cachedir/\n"

// tagCacheDir writes the CACHEDIR.TAG in dir when it has no valid one
// (none, or one cut short by a full disk, which would otherwise never be
// mended). It is written whole under another name and renamed into place.
// A failure is ignored: the tag only spares backups of the cache.
func tagCacheDir(dir string) {
	name := filepath.Join(dir, "CACHEDIR.TAG")
	if b, err := os.ReadFile(name); err == nil && strings.HasPrefix(string(b), cacheDirTag[:len("Signature: ")+32]) {
		return
	}
	f, err := os.CreateTemp(dir, ".CACHEDIR.TAG-*")
	if err != nil {
		return
	}
	_, err = f.WriteString(cacheDirTag)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// privateCacheFolder makes a temporary folder for a private local index
// (a full copy of it: tens of MiB for a large repository). Its name
// carries this process's PID, PID namespace and boot (see
// privateCacheMark), so that a later run can remove it when a kill left it
// behind; the leftovers of such runs are removed first.
func privateCacheFolder() (string, error) {
	sweepPrivateCaches(os.TempDir())
	return os.MkdirTemp("", fmt.Sprintf("cairn-cache-%d-%s-", os.Getpid(), privateCacheMark()))
}

// pidNamespaceNumber is the number of this process's PID namespace
// ("4026531836"), or "0" where it cannot be read.
func pidNamespaceNumber() string {
	ns := strings.TrimSuffix(strings.TrimPrefix(pidNamespace(), "pid:["), "]")
	if _, err := strconv.ParseUint(ns, 10, 64); err != nil {
		return "0"
	}
	return ns
}

// privateCacheMark says where a PID in a private index folder's name can
// be judged: "NS-BOOT", this PID namespace's number and this boot's
// boot_id without its dashes, or "0-0" where either cannot be read. The
// number of the initial PID namespace is the same on every Linux machine,
// so the namespace alone would let a run judge, by its own process table,
// the folders another machine made in a shared temporary folder (a TMPDIR
// on NFS): the boot, like a lock's, names this machine and this boot.
func privateCacheMark() string {
	ns := pidNamespaceNumber()
	boot := strings.ReplaceAll(bootID(), "-", "")
	if ns == "0" || boot == "" || strings.Trim(boot, "0123456789abcdef") != "" {
		return "0-0"
	}
	return ns + "-" + boot
}

// sweepPrivateCaches removes, from the temporary folder tmp, this user's
// private index folders whose process is gone: a run killed (by a timer's
// stop timeout, the OOM killer) could not remove its own. Only folders of
// this PID namespace and boot are judged, since a PID means nothing in
// another (or on another machine sharing the folder); folders of other
// users, links, and names of another form are left.
func sweepPrivateCaches(tmp string) {
	mark := privateCacheMark()
	if mark == "0-0" {
		return
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "cairn-cache-")
		if !ok || !e.IsDir() {
			continue
		}
		parts := strings.SplitN(rest, "-", 4)
		if len(parts) != 4 || parts[1]+"-"+parts[2] != mark {
			continue
		}
		pid, err := strconv.Atoi(parts[0])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // running (or not ours to signal): in use
		}
		path := filepath.Join(tmp, e.Name())
		var st syscall.Stat_t
		if syscall.Lstat(path, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != os.Geteuid() {
			continue
		}
		os.RemoveAll(path)
	}
}
