package restore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// PartialSuffix marks the temporary name a file that replaces an
// existing one (or a new one of bigFile or more) is written under until its
// last chunk lands: ".NAME" + PartialSuffix + random, in the file's folder,
// so the existing file stays whole until then. A smaller new file is written
// at its final name (a rename per file would cost a restore of many small
// files a tenth of its time) and
// removed if the restore stops before it is complete. Only a process
// killed outright leaves a temporary, or a new file without its data and
// metadata, behind; the next restore into the folder removes such
// temporaries of the files it restores there (dropPartials).
const PartialSuffix = ".cairn-partial-"

// bigFile is the size from which a new file, too, is written under a
// temporary name until complete (see restoreFile).
const bigFile = 16 << 20

// writingMode is the mode a smaller new file has at its name while it is
// written: owner write only, which no file a restore completes keeps (it
// gets the snapshot's mode, or 0600 when damaged). A restore killed
// outright (SIGKILL, power loss) leaves such a file cut short and newer
// than the snapshot's copy; this mode tells the next restore it is not a
// newer copy to keep (leftByRestore), for the price of no extra call.
// A file whose snapshot mode is writingMode itself is written with
// otherWritingMode instead (see writingModeOf).
const (
	writingMode      = 0o200
	otherWritingMode = 0o300
)

// writingModeOf is the mode n's file has at its name while it is written:
// one its complete copy does not have. A file of the snapshot's mode 0200
// ends with that mode; taken for a killed restore's, a copy the user has
// added to since (newer than the snapshot's) would be replaced by the
// older one.
func writingModeOf(n *tree.Node) uint32 {
	if n.Mode&0o7777 == writingMode {
		return otherWritingMode
	}
	return writingMode
}

// leftByRestore says the existing regular file fi is one a restore of n
// was writing when it was killed: writingModeOf(n), and one name.
func leftByRestore(fi os.FileInfo, n *tree.Node) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode().IsRegular() && uint32(fi.Mode().Perm()) == writingModeOf(n) && fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) == 0 && st.Nlink == 1
}

// restoreFile creates dst (or, when something is there, a temporary for
// it) at its final size and queues its chunks; the last one to land puts
// it in place.
func (rs *restorer) restoreFile(n *tree.Node, dst string) {
	if rs.hardlink(n, dst) {
		return
	}
	if rs.opt.DryRun {
		rs.planFile(n, dst)
		return
	}
	// Nothing there, the common case, needs no decision: the file is
	// created at once.
	tmp := dst
	reserved := false
	var reservedIno [2]uint64
	var f *os.File
	var err error
	if rs.cur != nil && !rs.cur.mine {
		// In a folder that was there (a restore run again, the
		// common case of a folder that was), most files are too: an
		// lstat, which decide needs anyway, costs less than an
		// O_CREAT open that fails.
		if fi, lerr := fsmeta.Lstat(dst); lerr == nil {
			rs.stated, rs.statedPath = fi, dst
			err = &os.PathError{Op: "open", Path: dst, Err: unix.EEXIST}
		}
	}
	if err == nil {
		f, err = openWrite(dst, unix.O_CREAT|unix.O_EXCL, writingModeOf(n))
	}
	if err == nil && n.Size >= bigFile {
		// A large file takes long to write: a restore killed meanwhile
		// would leave it at its name, cut short and newer than the
		// snapshot's copy, which running the restore again (if-changed)
		// keeps. It is written under a temporary name, like a file
		// that replaces another; one rename is nothing to its writing.
		// The empty file just made at dst keeps its name taken
		// meanwhile, as a smaller file's does: another entry of this
		// restore that the target filesystem gives the same name (one
		// that ignores case) finds it there and is an error, rather
		// than being written beside it and replaced by the rename. A
		// kill leaves it empty with writingModeOf(n) and an mtime
		// before the snapshot's (as a damaged file's), which the next
		// restore replaces, also where the filesystem keeps no modes
		// (exFAT, vfat): left with the mtime of its making, it would
		// be an empty file newer than the snapshot's copy, kept.
		reserved = true
		var st unix.Stat_t
		err = unix.Fstat(int(f.Fd()), &st)
		reservedIno = [2]uint64{st.Dev, st.Ino}
		if err == nil {
			stale := unix.NsecToTimeval(min(0, n.MTime-1))
			err = unix.Futimes(int(f.Fd()), []unix.Timeval{stale, stale})
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			f, tmp, err = createTemp(dst, writingModeOf(n))
		}
		if err != nil {
			removeReserved(dst, reservedIno)
			rs.warn(dst, err)
			rs.firstFailed(n)
			return
		}
	}
	exists := errors.Is(err, os.ErrExist)
	if err != nil && !exists {
		// Some filesystems (NFS, FUSE) report EACCES or EROFS before
		// EEXIST: what is there is still for the policy to judge.
		_, lerr := fsmeta.Lstat(dst)
		exists = lerr == nil
	}
	if exists {
		keep := rs.keepExisting(dst, n)
		rs.stated, rs.statedPath = nil, ""
		if keep {
			return
		}
		f, tmp, err = createTemp(dst, writingModeOf(n))
	}
	if err != nil {
		rs.warn(dst, err)
		rs.firstFailed(n)
		return
	}
	// abandon gives up the file made (closed already, or not) for err.
	abandon := func(err error) {
		if f != nil {
			f.Close()
		}
		fsmeta.Remove(tmp)
		if reserved {
			removeReserved(dst, reservedIno)
		}
		rs.warn(dst, err)
		rs.firstFailed(n)
	}
	if err := truncate(f, n); err != nil {
		abandon(err)
		return
	}
	// The file it is, whatever its name may lead to later: in a folder
	// another user can write, that name may be given to another file
	// (a hardlink to one outside the target) before this one is done.
	// Needed only where the file is opened again by name (a temporary
	// renamed into place, or a file written by reopening): one written
	// at its name and held open gets everything through its descriptor.
	var ino [2]uint64
	if tmp != dst || rs.runs != nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			abandon(err)
			return
		}
		ino = [2]uint64{st.Dev, st.Ino}
	}
	if rs.runs != nil {
		// Reading packs: chunks may wait until the end of the walk
		// for the rest of their pack, so the file is opened again
		// for each write rather than held open meanwhile.
		err := f.Close()
		f = nil
		if err != nil {
			abandon(err)
			return
		}
	}
	rs.stats.totalBytes.Add(int64(n.Size))
	of := &openFile{path: dst, tmp: tmp, existed: exists, reserved: reserved, reservedIno: reservedIno, f: f, node: n, ino: ino}
	if n.Links > 1 {
		rs.links[[2]uint64{n.Dev, n.Inode}].file = of // its first name
	}
	var data int64
	for _, c := range n.Content {
		if !c.Hole {
			data++
		}
	}
	// One extra count for the queueing itself, released below, so the
	// file cannot be finished while chunks are still being queued.
	of.remaining.Store(data + 1)
	var off, queued int64
	for _, c := range n.Content {
		if !c.Hole {
			select {
			case rs.jobs <- chunkJob{file: of, off: off, id: c.ID, size: c.Size}:
				queued++
			case <-rs.ctx.Done():
				rs.stopped(of)
				// The chunks never queued will not be done.
				of.remaining.Add(queued - data)
				rs.chunkDone(of)
				return
			}
		}
		off += int64(c.Size)
	}
	rs.chunkDone(of)
}

// removeReserved removes the empty file a large new file's restore made
// at path to keep its name taken (inode ino), once that restore failed:
// only while it is still that empty file. Another restore into the same
// target, or a user, may have put a complete file there meanwhile, which
// stays.
func removeReserved(path string, ino [2]uint64) {
	fi, err := fsmeta.Lstat(path)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() || fi.Size() != 0 || [2]uint64{uint64(st.Dev), st.Ino} != ino {
		return
	}
	fsmeta.Remove(path)
}

// openWrite opens path for writing with flags (O_WRONLY and O_CLOEXEC
// added): with open(2) and os.NewFile, not os.OpenFile, which for every
// file tries the poller (four fcntl calls and an epoll_ctl that fails for
// a regular file) — a tenth of the system calls of a restore of many
// small files.
func openWrite(path string, flags int, perm uint32) (*os.File, error) {
	for {
		fd, err := fsmeta.Open(path, flags|unix.O_WRONLY|unix.O_CLOEXEC, perm)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		if err != unix.EINTR {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// truncate sets a new file's size, so that a hole at its end stays a
// hole. A file whose last chunk is data gets its size from writing that
// chunk, and needs no call (one system call fewer per file; a chunk that
// cannot be read is made up for in chunkDone).
func truncate(f *os.File, n *tree.Node) error {
	if n.Size == 0 || endsInData(n) {
		return nil
	}
	return f.Truncate(int64(n.Size))
}

// endsInData: n's chunks cover its size and the last one is data (of at
// least a byte: a tree may hold an empty chunk, which writes nothing).
func endsInData(n *tree.Node) bool {
	if len(n.Content) == 0 {
		return false
	}
	if last := n.Content[len(n.Content)-1]; last.Hole || last.Size == 0 {
		return false
	}
	var sum uint64
	for _, c := range n.Content {
		sum += c.Size
	}
	return sum == n.Size
}

// createTemp creates a new file for dst under a temporary name in dst's
// folder, so that nothing but a complete file ever has dst's name. It has
// mode, the file's writing mode, until its metadata is set after its
// rename into place: a restore killed in between leaves it as one the
// next restore replaces (leftByRestore), not with mode 0600 and the mtime
// of its writing, newer than the snapshot's copy and so kept.
func createTemp(dst string, mode uint32) (*os.File, string, error) {
	var f *os.File
	tmp, err := withTempName(dst, func(tmp string) (err error) {
		f, err = openWrite(tmp, unix.O_CREAT|unix.O_EXCL, mode)
		return err
	})
	return f, tmp, err
}

// withTempName calls create with temporary names for dst, in its folder,
// until one is free (create fails with os.ErrExist for a taken one).
func withTempName(dst string, create func(tmp string) error) (string, error) {
	dir, base := filepath.Split(dst)
	// Within a name's 255 bytes: the leading dot, the suffix and 8
	// random bytes in hex.
	if limit := 255 - 1 - len(PartialSuffix) - 16; len(base) > limit {
		base = base[:limit]
	}
	var rnd [8]byte
	for try := 0; ; try++ {
		rand.Read(rnd[:])
		tmp := filepath.Join(dir, "."+base+PartialSuffix+hex.EncodeToString(rnd[:]))
		err := create(tmp)
		if err == nil {
			return tmp, nil
		}
		if !errors.Is(err, os.ErrExist) || try == 10 {
			return "", err
		}
	}
}

// writeAt writes b at off into the temporary, opening it for the write if
// it is not held open. One worker writes into a file at a time (wmu).
func (of *openFile) writeAt(b []byte, off int64) error {
	of.wmu.Lock()
	defer of.wmu.Unlock()
	if of.f != nil {
		_, err := of.f.WriteAt(b, off)
		return err
	}
	f, err := of.reopen()
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, off)
	return errors.Join(err, f.Close())
}

// chunkDone counts one chunk of of as written, failed or dropped; after
// the last, the file is finished.
func (rs *restorer) chunkDone(of *openFile) {
	if of.remaining.Add(-1) != 0 {
		return
	}
	var err error
	if of.damaged.Load() {
		if what := rs.keepOverDamaged(of); what != "" {
			rs.warn(of.path, fmt.Errorf("kept the %s that was there, not replaced by the snapshot's copy: %w", what, of.zeros.unreadable()))
			of.failed.Store(true) // the copy is removed, what was there left alone
		} else {
			rs.warn(of.path, of.zeros.report())
		}
	}
	if of.damaged.Load() && !of.failed.Load() && endsInData(of.node) {
		// The chunk that would have set the size may be one of those
		// left as zeros.
		if of.f != nil {
			err = of.f.Truncate(int64(of.node.Size))
		} else if f, rerr := of.reopen(); rerr != nil {
			err = rerr
		} else {
			err = errors.Join(f.Truncate(int64(of.node.Size)), f.Close())
		}
		if err != nil && of.failed.CompareAndSwap(false, true) {
			rs.warn(of.path, err)
		}
	}
	// Its metadata is set through a descriptor of the file itself,
	// never by its name, which another user may give another file
	// meanwhile: before it is closed where it was written at its name,
	// else (a temporary, which keeps its writing mode until in place)
	// once renamed into place, through the name opened again and
	// checked to be still the file written.
	meta := !of.failed.Load() && of.f != nil && of.tmp == of.path
	if meta {
		rs.setMeta(of, int(of.f.Fd()))
	}
	if of.f != nil {
		err = of.f.Close()
	}
	if err != nil && of.failed.CompareAndSwap(false, true) {
		rs.warn(of.path, err)
	}
	if !of.failed.Load() && of.tmp != of.path {
		// The name renamed into place must still be the file written.
		err = of.same(of.tmp)
		if err != nil && of.failed.CompareAndSwap(false, true) {
			rs.warn(of.path, err)
		}
	}
	if !of.failed.Load() && of.tmp != of.path {
		err = rs.replace(of.tmp, of.path)
		if err != nil {
			rs.warn(of.path, err)
			of.failed.Store(true)
		}
	}
	if !of.failed.Load() && !meta {
		fd, err := of.reopenFd(of.path, unix.O_NONBLOCK)
		if err != nil {
			// Not this restore's file (or gone): its metadata is
			// not given to it, and it is not counted restored.
			rs.warn(of.path, err)
			rs.stats.bytes.Add(-of.written.Load())
			rs.finish(of, false)
			return
		}
		rs.setMeta(of, fd)
		unix.Close(fd)
	}
	if of.failed.Load() {
		fsmeta.Remove(of.tmp)
		if of.reserved {
			removeReserved(of.path, of.reservedIno)
		}
		// Bytes count what was restored: not what was removed.
		rs.stats.bytes.Add(-of.written.Load())
		if of.stop.Load() {
			rs.stats.stopped.Add(1)
		}
		rs.finish(of, false)
		return
	}
	rs.stats.files.Add(1)
	rs.stats.filesDone.Add(1)
	if rs.opt.Verify && !of.damaged.Load() {
		rs.writtenMu.Lock()
		rs.written = append(rs.written, of)
		rs.writtenMu.Unlock()
	}
	if rs.opt.Item != nil {
		rs.opt.Item(of.path, changed(of.existed), of.node.Size)
	}
	rs.finish(of, true)
}

// keepOverDamaged says what at of's name the damaged copy of, written
// under a temporary name, is not to replace ("file" or "folder"), or ""
// when it replaces what is there: a copy with zeros where chunks are lost
// must not destroy a whole file (an older version, or the very same
// content), nor a folder and all it holds (--overwrite always and
// --delete replace one in the way of a file), that the overwrite policy
// let it replace. A file a restore left (unfinished, with its writing
// mode, or damaged, with an mtime at or before 1970) is replaced: the new
// copy is worth no less; so is a symlink, fifo, socket or device, which
// holds no data to lose.
func (rs *restorer) keepOverDamaged(of *openFile) string {
	if !of.existed || of.tmp == of.path {
		return ""
	}
	fi, err := fsmeta.Lstat(of.path)
	switch {
	case err != nil:
		return ""
	case fi.IsDir():
		return "folder"
	case fi.Mode().IsRegular() && !leftByRestore(fi, of.node) && fi.ModTime().UnixNano() > 0:
		return "file"
	}
	return ""
}

// keepExisting applies the overwrite policy to the file at dst, in the
// way of n: true when it stays (kept, or an error was warned about) and n
// is not written.
func (rs *restorer) keepExisting(dst string, n *tree.Node) bool {
	keep, same, err := rs.decide(dst, n, false)
	if err != nil {
		rs.warn(dst, err)
		rs.firstFailed(n)
		return true
	}
	if keep && !same {
		// Kept by the policy, not the snapshot's copy: the group's
		// other names must not be linked to it.
		rs.firstFailed(n)
	}
	if same {
		rs.takeAsSnapshots(dst, n, rs.judged)
	}
	return keep
}

// planFile counts and reports what restoreFile would do with n at dst
// (Options.DryRun).
func (rs *restorer) planFile(n *tree.Node, dst string) {
	_, err := rs.lstat(dst)
	existed := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		rs.warn(dst, err)
		rs.firstFailed(n)
		return
	}
	if existed && rs.keepExisting(dst, n) {
		return
	}
	if n.Links > 1 {
		rs.links[[2]uint64{n.Dev, n.Inode}].planned = true // its first name
	}
	rs.stats.totalBytes.Add(int64(n.Size))
	// What the restore would write: a sparse file's holes are not
	// written, so not counted, as in a real restore.
	var data int64
	for _, c := range n.Content {
		if !c.Hole {
			data += int64(c.Size)
		}
	}
	rs.stats.bytes.Add(data)
	rs.stats.files.Add(1)
	rs.stats.filesDone.Add(1)
	rs.item(dst, changed(existed), n.Size)
}

// replace renames the complete tmp to dst, in place of whatever is there
// (a folder in the way was allowed away by decide).
func (rs *restorer) replace(tmp, dst string) error {
	err := fsmeta.Rename(tmp, dst)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) && rs.flags {
		// An immutable or append-only file is in the way: the
		// snapshot's copy replaces it, with the snapshot's flags.
		if cerr := fsmeta.ClearBlockingFlags(dst); cerr != nil {
			return fmt.Errorf("%w (and clearing its immutable/append-only flags: %v)", err, cerr)
		}
		if err = fsmeta.Rename(tmp, dst); err == nil {
			return nil
		}
	}
	if fi, lerr := fsmeta.Lstat(dst); lerr == nil && fi.IsDir() && rs.replacesDirs() {
		if fsmeta.MountRoot(dst) {
			return errMountReplaced
		}
		if err := fsmeta.RemoveAll(dst); err != nil {
			return err
		}
		return fsmeta.Rename(tmp, dst)
	}
	return err
}

// finish records that of is done with (in place when ok) and makes the
// hardlinks to it that waited for it.
func (rs *restorer) finish(of *openFile, ok bool) {
	of.mu.Lock()
	of.finished, of.ok = true, ok
	links := of.links
	of.links = nil
	of.mu.Unlock()
	for _, l := range links {
		rs.linkTo(of, l)
	}
}

// stopped marks of failed because the restore was cancelled before it
// was complete. It is not a failure: its temporary is removed and it is
// counted in Stats.Stopped, not reported through Warn.
func (rs *restorer) stopped(of *openFile) {
	if rs.ctx.Err() == nil {
		return
	}
	if of.failed.CompareAndSwap(false, true) {
		of.stop.Store(true)
	}
}

// cancelled says err is a read that failed because the restore was
// stopped (the context's error, or a storage call cut short by it).
func (rs *restorer) cancelled(err error) bool {
	return rs.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rs.ctx.Err()) ||
		!errors.Is(err, repo.ErrDamaged) && !errors.Is(err, repo.ErrNotFound))
}

func (rs *restorer) worker() {
	defer rs.wg.Done()
	// Buffers of its own, kept at the largest chunk's size: pooled by
	// size, the chunks of every size between the smallest and the
	// largest would each keep one (20 MiB more at the peak).
	var bufs repo.BlobBuffers
	for j := range rs.jobs {
		if j.file.failed.Load() || rs.ctx.Err() != nil {
			rs.stopped(j.file)
			rs.chunkDone(j.file)
			continue
		}
		plain, err := rs.r.LoadBlobWith(rs.ctx, id.DataBlob, j.id, &bufs)
		rs.write(j, plain, err)
	}
}

// write puts one chunk's plaintext (or the error reading it) into its
// file.
func (rs *restorer) write(j chunkJob, plain []byte, err error) {
	if err != nil && rs.cancelled(err) {
		rs.stopped(j.file)
		rs.chunkDone(j.file)
		return
	}
	if err == nil && uint64(len(plain)) != j.size {
		err = fmt.Errorf("chunk %s is %d bytes, the tree says %d: %w", j.id.Short(), len(plain), j.size, repo.ErrDamaged)
	}
	if err != nil && (errors.Is(err, repo.ErrDamaged) || errors.Is(err, repo.ErrNotFound)) {
		// The repository lacks this chunk: leave zeros, restore the
		// rest of the file, and say once it is finished where and how
		// much is missing. Any other read error (storage unreachable, a
		// network error after the retries) is no verdict on the
		// repository: the file fails below, removed, and an existing one
		// stays.
		j.file.zeros.add(j.off, j.size, err)
		j.file.damaged.Store(true)
		rs.chunkDone(j.file)
		return
	}
	if err == nil && !j.file.failed.Load() {
		err = j.file.writeAt(plain, j.off)
		if err == nil {
			rs.stats.bytes.Add(int64(len(plain)))
			j.file.written.Add(int64(len(plain)))
		}
	}
	if err != nil {
		if j.file.failed.CompareAndSwap(false, true) {
			rs.warn(j.file.path, fmt.Errorf("at offset %d: %w", j.off, err))
		}
	}
	rs.chunkDone(j.file)
}

func (rs *restorer) startProgress(start time.Time) func() {
	if rs.opt.Progress == nil {
		return func() {}
	}
	iv := rs.opt.Interval
	if iv <= 0 {
		iv = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	report := func() {
		rs.opt.Progress(Progress{Elapsed: time.Since(start), FilesDone: rs.stats.filesDone.Load(), BytesDone: rs.stats.bytes.Load(),
			TotalBytes: rs.stats.totalBytes.Load(), WalkDone: rs.stats.walkDone.Load()})
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-done:
				report()
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
