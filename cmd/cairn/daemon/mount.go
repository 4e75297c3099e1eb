package daemon

import (
	"context"
	"fmt"
	"syscall"
	"time"

	cfs "github.com/cairn-backup/cairn/fs"
)

// liveMount keeps every snapshot mounted while the daemon runs, on the
// daemon's own repository: snapshots it commits appear at once (refresh),
// those of other hosts within the periodic refresh.
type liveMount struct {
	d   *Daemon
	m   *cfs.Mounted
	dir string
}

func startMount(ctx context.Context, d *Daemon, cfg *Mount) (*liveMount, error) {
	opt := cfs.Options{
		AllowOther: cfg.AllowOther,
		Log:        func(format string, args ...any) { d.logf("mount: "+format, args...) },
	}
	m, err := cfs.Mount(ctx, d.r, cfg.Path, opt)
	if err != nil {
		return nil, err
	}
	d.logf("mounted every snapshot at %s", cfg.Path)
	return &liveMount{d: d, m: m, dir: cfg.Path}, nil
}

// refresh shows new and removed snapshots now.
func (l *liveMount) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.m.Refresh(ctx); err != nil {
		l.d.logf("mount: looking for new snapshots: %v", err)
	}
}

// stop unmounts; a busy mount is detached, so that processes inside lose
// access when the daemon exits instead of keeping it from exiting.
func (l *liveMount) stop() {
	if err := l.m.Unmount(); err != nil {
		l.d.logf("%v; detaching it", err)
		if err := syscall.Unmount(l.dir, syscall.MNT_DETACH); err != nil {
			l.d.logf("%v", fmt.Errorf("unmount %s: %w", l.dir, err))
		}
	}
}
