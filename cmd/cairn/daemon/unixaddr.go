package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// A Unix socket's address holds at most 107 bytes of path (sun_path), and
// a longer one fails with a bare "bind: invalid argument". A socket in a
// deep folder (a home under a long path, a long TMPDIR) is reached instead
// through its folder, opened for the moment of the bind or connect and
// named /proc/self/fd/N: the kernel resolves that name as the folder.

// maxSunPath is the longest path a sockaddr_un holds, NUL excluded.
const maxSunPath = len(unix.RawSockaddrUnix{}.Path) - 1

// procFD names this process's open descriptors (a variable for tests of
// a machine without /proc).
var procFD = "/proc/self/fd/"

// unixAddr returns the address to bind or connect to for the socket at
// path, and a function to call once that is done. A path that fits is
// returned as it is; an abstract name ("@...") too.
func unixAddr(path string) (string, func(), error) {
	if len(path) <= maxSunPath || path[0] == '@' {
		return path, func() {}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "." // a name alone, in the working directory
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	fdName := procFD + strconv.Itoa(fd)
	addr := fdName + "/" + base
	if len(addr) > maxSunPath {
		unix.Close(fd)
		return "", nil, fmt.Errorf("%s: the socket's name %q is too long for a Unix socket (at most %d bytes with its folder's)", path, base, maxSunPath)
	}
	if _, err := os.Stat(fdName); err != nil {
		// Without /proc, binding there would fail with a "no such
		// file" that names a folder that exists.
		unix.Close(fd)
		return "", nil, fmt.Errorf("%s: the path is longer than the %d bytes a Unix socket address holds, and %s, through which cairn reaches a deeper socket, is not available (%v); give a shorter path", path, maxSunPath, procFD, err)
	}
	return addr, func() { unix.Close(fd) }, nil
}

// listenUnix listens on the stream socket at path, of any length. Closing
// the listener removes the socket file.
func listenUnix(path string) (net.Listener, error) {
	addr, done, err := unixAddr(path)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", addr)
	done()
	if err != nil {
		return nil, realAddr(err, addr, path, "unix")
	}
	if addr == path {
		l.(*net.UnixListener).SetUnlinkOnClose(true)
		return l, nil
	}
	// Go would unlink the /proc name, which means another folder by then.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return &unlinkListener{Listener: l, path: path}, nil
}

// unlinkListener removes its socket file at its real path when closed.
type unlinkListener struct {
	net.Listener
	path string
	once sync.Once
}

func (l *unlinkListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { os.Remove(l.path) })
	return err
}

// dialUnix connects to the socket at path, of any length.
func dialUnix(ctx context.Context, network, path string) (net.Conn, error) {
	addr, done, err := unixAddr(path)
	if err != nil {
		return nil, err
	}
	defer done()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, realAddr(err, addr, path, network)
	}
	return c, nil
}

// realAddr makes err, from binding or connecting to addr, name the path
// asked for rather than the /proc name it was reached by.
func realAddr(err error, addr, path, network string) error {
	var oe *net.OpError
	if addr != path && errors.As(err, &oe) {
		if oe.Addr != nil {
			oe.Addr = &net.UnixAddr{Name: path, Net: network}
		}
		if oe.Source != nil {
			oe.Source = &net.UnixAddr{Name: path, Net: network}
		}
	}
	return err
}

// DialUnix connects to the Unix socket at path ("unix" or "unixgram"
// network), of any length, as cairn's clients do.
func DialUnix(ctx context.Context, network, path string) (net.Conn, error) {
	return dialUnix(ctx, network, path)
}

// ListenUnix listens on the stream socket at path, of any length, with
// none of the control socket's checks. Closing it removes the file.
func ListenUnix(path string) (net.Listener, error) { return listenUnix(path) }

// ListenUnixgram listens for datagrams (sd_notify's) at path, of any
// length.
func ListenUnixgram(path string) (*net.UnixConn, error) {
	addr, done, err := unixAddr(path)
	if err != nil {
		return nil, err
	}
	defer done()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return nil, realAddr(err, addr, path, "unixgram")
	}
	return c, nil
}
