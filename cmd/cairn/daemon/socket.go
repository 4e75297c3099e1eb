package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocket is where the daemon listens and clients look when neither
// --socket nor CAIRN_SOCKET says otherwise.
const DefaultSocket = "/run/cairn/cairn.sock"

// listenSocket creates the control socket at path: owner-only (0600), or
// 0660 with group when group is set. A socket file left by a daemon that
// died is replaced; one a live daemon answers on is an error.
func listenSocket(path, group string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another daemon is listening on it", path)
		}
		os.Remove(path)
	}
	// Created owner-only from the start: no moment where others may
	// connect before the chmod.
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	if group != "" {
		gid, err := lookupGroup(group)
		if err == nil {
			err = os.Chown(path, -1, gid)
		}
		if err == nil {
			err = os.Chmod(path, 0o660)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket group %s: %w", group, err)
		}
	}
	return l, nil
}

func lookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if g, err2 := user.LookupGroupId(name); err2 == nil {
			return strconv.Atoi(g.Gid)
		}
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// peer is who is on the other end of a connection, from SO_PEERCRED.
type peer struct {
	uid, gid, pid int
	err           error
}

type peerKey struct{}

// peerContext records a connection's peer credentials in its context
// (http.Server.ConnContext).
func peerContext(ctx context.Context, c net.Conn) context.Context {
	p := peer{uid: -1, gid: -1}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		p.err = errors.New("not a unix socket connection")
		return context.WithValue(ctx, peerKey{}, p)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		p.err = err
		return context.WithValue(ctx, peerKey{}, p)
	}
	cerr := raw.Control(func(fd uintptr) {
		cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			p.err = err
			return
		}
		p.uid, p.gid, p.pid = int(cred.Uid), int(cred.Gid), int(cred.Pid)
	})
	if cerr != nil {
		p.err = cerr
	}
	return context.WithValue(ctx, peerKey{}, p)
}

// access decides who may call the socket: root, the daemon's own uid, the
// configured uids, and members of the socket group.
type access struct {
	uids  []int
	group string
	gid   int // -1 without a group
}

func newAccess(cfg *Config) *access {
	a := &access{uids: append([]int{0, os.Getuid()}, cfg.AllowUIDs...), group: cfg.SocketGroup, gid: -1}
	if cfg.SocketGroup != "" {
		if gid, err := lookupGroup(cfg.SocketGroup); err == nil {
			a.gid = gid
		}
	}
	return a
}

func (a *access) allowed(p peer) bool {
	if p.err != nil || p.uid < 0 {
		return false
	}
	if slices.Contains(a.uids, p.uid) {
		return true
	}
	if a.gid < 0 {
		return false
	}
	if p.gid == a.gid {
		return true
	}
	u, err := user.LookupId(strconv.Itoa(p.uid))
	if err != nil {
		return false
	}
	gids, err := u.GroupIds()
	return err == nil && slices.Contains(gids, strconv.Itoa(a.gid))
}

// guard refuses the callers the access rules in force do not allow, with
// 403 and why.
func (d *Daemon) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a := d.access.Load()
		p, _ := req.Context().Value(peerKey{}).(peer)
		if !a.allowed(p) {
			who := fmt.Sprintf("uid %d", p.uid)
			if p.err != nil {
				who = fmt.Sprintf("a caller whose credentials are unknown (%v)", p.err)
			}
			msg := fmt.Sprintf("%s may not use the cairn daemon: only root, uid %d", who, os.Getuid())
			if len(a.uids) > 2 {
				msg += fmt.Sprintf(", the allow_uids %v", a.uids[2:])
			}
			if a.group != "" {
				msg += ", and members of group " + a.group
			}
			msg += " may"
			writeError(w, http.StatusForbidden, exitFailure, msg)
			return
		}
		next.ServeHTTP(w, req)
	})
}
