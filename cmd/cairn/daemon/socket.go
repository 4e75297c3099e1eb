package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocket is where the daemon listens and clients look when neither
// --socket nor CAIRN_SOCKET says otherwise.
const DefaultSocket = "/run/cairn/cairn.sock"

// socketHint says how to choose another socket path when err is a
// permission error: a daemon run as a user who may not write /run/cairn
// (the default) needs one.
func socketHint(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return " (set socket: in the configuration, or --socket, to a path in a folder this user may write)"
	}
	return ""
}

// listenSocket creates the control socket at path: owner-only (0600),
// 0660 with cfg's socket_group, or 0666 with allow_uids (the uids are not
// in one group; SO_PEERCRED decides, see access). A socket file left by a
// daemon that died is replaced; one a live daemon answers on is an error.
func listenSocket(path string, cfg *Config) (net.Listener, error) {
	group := cfg.SocketGroup
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w%s", err, socketHint(err))
	}
	// Another user who may change the socket's folder could swap the
	// socket for one of their own, which cairn commands would then send
	// passwords and --stdin data to.
	if err := safeSocketDir(filepath.Dir(path), os.Getuid()); err != nil {
		return nil, fmt.Errorf("control socket %s: %w; give a socket in a folder only root or uid %d may change, such as %s", path, err, os.Getuid(), filepath.Dir(DefaultSocket))
	}
	if err := socketFree(path); err != nil {
		return nil, err
	}
	os.Remove(path) // a stale socket, if any
	// Created owner-only from the start: no moment where others may
	// connect before the chmod.
	old := syscall.Umask(0o177)
	l, err := listenUnix(path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w%s", err, socketHint(err))
	}
	if group != "" {
		gid, err := lookupGroup(group)
		if err == nil {
			err = os.Chown(path, -1, gid)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket group %s: %w", group, err)
		}
	}
	if mode := socketMode(cfg); mode != 0o600 {
		if err := os.Chmod(path, mode); err != nil {
			l.Close()
			return nil, fmt.Errorf("control socket: %w", err)
		}
	}
	return l, nil
}

// socketMode is the control socket's mode for cfg.
func socketMode(cfg *Config) os.FileMode {
	switch {
	case len(cfg.AllowUIDs) > 0:
		return 0o666
	case cfg.SocketGroup != "":
		return 0o660
	}
	return 0o600
}

// socketFree reports whether a daemon may listen at path: nothing is
// there, or a socket nobody answers on (left by a daemon that died). A
// live daemon's socket, or a file that is not a socket, is an error.
func socketFree(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: the path exists and is not a socket; not removing it", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := dialUnix(ctx, "unix", path); err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another daemon is listening on it", path)
	}
	return nil
}

// safeSocketDir checks that no user but root and uid may replace what is
// in dir: dir and every folder above it belong to root or uid, and dir is
// writable by its owner only. (Folders above it may be writable by all,
// as /tmp is.)
func safeSocketDir(dir string, uid int) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return err
	}
	for d, first := real, true; ; d, first = filepath.Dir(d), false {
		var st unix.Stat_t
		if err := unix.Lstat(d, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: d, Err: err}
		}
		owner := int(st.Uid)
		if owner != 0 && owner != uid {
			return fmt.Errorf("the folder %s belongs to uid %d, who could put another socket in its place", d, owner)
		}
		if first && st.Mode&0o022 != 0 {
			return fmt.Errorf("the folder %s is writable by other users (mode %04o), who could put another socket in its place", d, st.Mode&0o7777)
		}
		if d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
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
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

// peerOf is who is on the other end of c.
func peerOf(c net.Conn) peer {
	p := peer{uid: -1, gid: -1}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		p.err = errors.New("not a unix socket connection")
		return p
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		p.err = err
		return p
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
	return p
}

// Connections of callers the access rules refuse: they get their 403 (see
// guard), but at most maxStrangers of them are open at once and each for
// strangerTimeout at most, so that a user who may not use the daemon
// cannot hold its connections (and file descriptors) open on a socket
// every user may reach (allow_uids).
var (
	maxStrangers    int32 = 16
	strangerTimeout       = 5 * time.Second
)

// strangerListener wraps the control socket's listener: see maxStrangers.
// Its connState must be the server's ConnState, and the handler guard
// lets through must be wrapped with admitted. It tells callers apart by
// atAccept, which looks nothing up: a lookup of the caller's groups
// (through NSS: LDAP, sssd) that hangs would hold up every caller behind
// it, root included. A caller only such a lookup can tell (a socket group
// is set) is pending: guard looks it up with its first request. Until
// guard lets it in, its connections are held as strangers' are, for
// strangerTimeout, at most maxStrangers of them for each uid (a cap of
// its own, so that another user's pending or refused connections cannot
// keep a member of the group out); else a user the group refuses could
// hold any number of connections open by sending nothing.
type strangerListener struct {
	net.Listener
	atAccept func(peer) verdict
	n        atomic.Int32 // refused callers' connections
	conns    sync.Map     // net.Conn → *stranger
	mu       sync.Mutex
	pending  map[int]int32 // uid → connections pending
}

// verdict is what atAccept knows of a caller without a lookup.
type verdict int

const (
	verdictAllowed verdict = iota
	verdictRefused
	verdictPending // only a lookup of its groups can tell
)

// stranger is a connection not (yet) let in.
type stranger struct {
	uid     int
	pending bool
	timer   *time.Timer
}

func (l *strangerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p := peerOf(c)
		s := &stranger{uid: p.uid}
		switch l.atAccept(p) {
		case verdictAllowed:
			return c, nil
		case verdictRefused:
			if l.n.Add(1) > maxStrangers {
				l.n.Add(-1)
				c.Close()
				continue
			}
		case verdictPending:
			l.mu.Lock()
			if l.pending[p.uid] >= maxStrangers {
				l.mu.Unlock()
				c.Close()
				continue
			}
			if l.pending == nil {
				l.pending = map[int]int32{}
			}
			l.pending[p.uid]++
			l.mu.Unlock()
			s.pending = true
		}
		// Not a deadline: the server sets its own on each read.
		s.timer = time.AfterFunc(strangerTimeout, func() { c.Close() })
		l.conns.Store(c, s)
		return c, nil
	}
}

// release forgets c as a stranger's connection (closed, or let in).
func (l *strangerListener) release(c net.Conn) {
	v, ok := l.conns.LoadAndDelete(c)
	if !ok {
		return
	}
	s := v.(*stranger)
	s.timer.Stop()
	if !s.pending {
		l.n.Add(-1)
		return
	}
	l.mu.Lock()
	if l.pending[s.uid]--; l.pending[s.uid] <= 0 {
		delete(l.pending, s.uid)
	}
	l.mu.Unlock()
}

type connKey struct{}

// admitted wraps the handler that guard lets callers through to: a
// connection guard let in is no stranger's any more.
func (l *strangerListener) admitted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if c, ok := req.Context().Value(connKey{}).(net.Conn); ok {
			l.release(c)
		}
		next.ServeHTTP(w, req)
	})
}

// server is the control socket's server, to serve on the listener
// returned (ln, wrapped: see strangerListener).
func (d *Daemon) server(ln net.Listener) (*http.Server, net.Listener) {
	sl := &strangerListener{Listener: ln, atAccept: func(p peer) verdict { return d.access.Load().atAccept(p) }}
	return &http.Server{
		Handler: d.guard(sl.admitted(d.routes())),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(peerContext(ctx, c), connKey{}, c)
		},
		ConnState:         sl.connState,
		ReadHeaderTimeout: time.Minute,
	}, sl
}

func (l *strangerListener) connState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	l.release(c)
}

// access decides who may call the socket: root, the daemon's own uid, the
// configured uids, and members of the socket group.
type access struct {
	uids  []int
	group string
	gid   int // -1 without a group
	// refused holds the uids allowed found outside the group, with when
	// that was looked up (time.Time): refusedAtOnce knows them for
	// refusedFor without looking them up again.
	refused sync.Map
}

// refusedFor is how long refusedAtOnce takes a uid that a lookup found
// outside the socket group for refused.
const refusedFor = time.Minute

func newAccess(cfg *Config) *access {
	a := &access{uids: append([]int{0, os.Getuid()}, cfg.AllowUIDs...), group: cfg.SocketGroup, gid: -1}
	if cfg.SocketGroup != "" {
		if gid, err := lookupGroup(cfg.SocketGroup); err == nil {
			a.gid = gid
		}
	}
	return a
}

// refusedAtOnce says whether allowed refuses p without looking up p's
// groups: no credentials, a uid not listed and no socket group (or a
// socket group that is not known), or a uid a lookup found outside the
// group within refusedFor. A caller whose groups were not looked up yet
// is not: its first connection gets its lookup and 403 from guard.
func (a *access) refusedAtOnce(p peer) bool {
	if p.err != nil || p.uid < 0 {
		return true
	}
	if slices.Contains(a.uids, p.uid) {
		return false
	}
	if a.gid < 0 {
		return true
	}
	if p.gid == a.gid {
		return false
	}
	at, ok := a.refused.Load(p.uid)
	return ok && time.Since(at.(time.Time)) < refusedFor
}

// atAccept is what the accept loop knows of p without a lookup: allowed
// (a listed uid, or the socket group as primary group), refused
// (refusedAtOnce), or pending: guard looks its groups up.
func (a *access) atAccept(p peer) verdict {
	switch {
	case a.refusedAtOnce(p):
		return verdictRefused
	case slices.Contains(a.uids, p.uid) || a.gid >= 0 && p.gid == a.gid:
		return verdictAllowed
	}
	return verdictPending
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
	if err == nil && slices.Contains(gids, strconv.Itoa(a.gid)) {
		a.refused.Delete(p.uid)
		return true
	}
	if err == nil {
		a.refused.Store(p.uid, time.Now())
	}
	return false
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
