package main

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
)

func newMountCommand(g *globals) *cobra.Command {
	var opt cfs.Options
	var cacheMiB int
	cmd := &cobra.Command{
		Use:   "mount MOUNTPOINT",
		Short: "Show every snapshot as a read-only folder tree (FUSE)",
		Long: `Mount the repository's snapshots at MOUNTPOINT and stay in the foreground
until Ctrl-C, SIGTERM, SIGHUP (its terminal closed) or umount:

  snapshots/<time>/...               every snapshot, by local time ("-2", "-3"
                                     after a time shared by several)
  hosts/<host>/<source>/<time>/...
  tags/<tag>/<time>/...
  ids/<short id>/...
  latest -> snapshots/<time>         (also in every host, source and tag folder)

A snapshot's folder shows the deepest folder holding all its paths. Every
attribute is kept, so "rsync -aHAXS --numeric-ids MOUNTPOINT/latest/ /target/"
rebuilds the source exactly (-S, --sparse: without it rsync writes the holes
of sparse files out as zeros, and a 1 TiB sparse file takes 1 TiB on the
target). New snapshots appear within a few seconds.

Without --allow-other only the mounting user sees the tree. With it, every
user does, and the kernel enforces the stored owners, modes and ACLs; a
snapshot's folder then goes no deeper than the first folder on its path that
not everyone may enter, shown with its mode (a snapshot of /home/alice/docs,
in a 0700 home, shows alice's home holding docs), so that what alice's home
kept from others stays kept.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir := args[0]
			// Zero is no "off" here: the mount needs a cache, a refresh
			// and a timeout, and silently taking the default for 0 gave
			// the user something else than asked.
			if cacheMiB < 1 {
				return fmt.Errorf("--cache-mib %d: give at least 1 (MiB of decrypted chunks kept in memory; default 64)", cacheMiB)
			}
			if opt.Refresh <= 0 {
				return fmt.Errorf("--refresh %v: give a duration above 0, such as 3s (how often to look for new snapshots)", opt.Refresh)
			}
			if opt.ReadTimeout <= 0 {
				return fmt.Errorf("--read-timeout %v: give a duration above 0, such as 2m: a read that waited for ever would hang whatever reads the mount", opt.ReadTimeout)
			}
			// The mount's heap is its chunk cache and the nodes the kernel
			// holds; the memory tuner's limit follows them. A fixed
			// limit of the cache + 96 MiB (what this once set) read as
			// fast in make bench-mount and peaked at 215 MiB instead of
			// 170.
			setGCPercent(50)
			// A mount left by a cairn mount or daemon that died.
			if err := cfs.ClearStale(dir, func(format string, args ...any) {
				fmt.Fprintf(os.Stderr, "cairn: "+format+"\n", args...)
			}); err != nil {
				return err
			}
			if fi, err := os.Stat(dir); err != nil {
				return fmt.Errorf("mount point: %w", err)
			} else if !fi.IsDir() {
				return fmt.Errorf("mount point %s is not a folder", dir)
			}
			r, err := g.open(ctx, func(o *repo.Options) { o.PrivateIndex = true })
			if err != nil {
				return err
			}
			defer r.Close()
			opt.CacheBytes = int64(cacheMiB) << 20
			opt.Log = func(format string, args ...any) {
				fmt.Fprintf(os.Stderr, "cairn: "+format+"\n", args...)
			}
			m, err := cfs.Mount(ctx, r, dir, opt)
			if err != nil {
				return err
			}
			g.notice("mounted %s at %s; Ctrl-C or umount to unmount", r.Backend().Location(), dir)
			done := make(chan struct{})
			go func() { m.Wait(); close(done) }()
			select {
			case <-done:
				return nil // unmounted from outside
			case <-ctx.Done():
			}
			if err := m.Unmount(); err != nil {
				// Busy: detach it from the folder tree now. Processes
				// still inside lose access when cairn exits.
				fmt.Fprintf(os.Stderr, "cairn: %v; detaching it: processes still inside it lose access\n", err)
				if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
					return fmt.Errorf("unmount %s: %w", dir, err)
				}
				select {
				case <-done:
				case <-time.After(time.Second):
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opt.AllowOther, "allow-other", false, "let other users in; the kernel enforces the stored permissions")
	f.DurationVar(&opt.Refresh, "refresh", 3*time.Second, "look for new snapshots this often")
	f.IntVar(&cacheMiB, "cache-mib", 64, "decrypted chunks kept in memory, in MiB")
	f.DurationVar(&opt.ReadTimeout, "read-timeout", 2*time.Minute, "a read waiting longer than this for the repository fails with EIO")
	f.BoolVar(&opt.Debug, "debug", false, "log every FUSE request")
	f.MarkHidden("debug")
	return cmd
}
