package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// SocketPath is the socket a client talks to: the --socket flag, else
// $CAIRN_SOCKET, else DefaultSocket.
func SocketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := os.Getenv("CAIRN_SOCKET"); s != "" {
		return s
	}
	return DefaultSocket
}

// SameRepository reports whether two repository locations name the same
// repository: local folders (with or without "local:") after making them
// absolute and clean, anything else (s3:...) as the exact string.
func SameRepository(a, b string) bool {
	return normalLocation(a) == normalLocation(b)
}

func normalLocation(s string) string {
	if strings.HasPrefix(s, "s3:") {
		return s
	}
	s = strings.TrimPrefix(s, "local:")
	if abs, err := filepath.Abs(s); err == nil {
		s = abs
	}
	return filepath.Clean(s)
}

// Client calls a daemon's control socket.
type Client struct {
	path     string
	hc       *http.Client
	password []byte       // nil: none given
	peerUID  atomic.Int64 // the uid answering on the socket, from SO_PEERCRED
}

// NewClient makes a client for the socket at path; nothing is dialled
// until a call.
func NewClient(path string) *Client {
	c := &Client{path: path}
	c.peerUID.Store(-1)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := dialUnix(ctx, "unix", path)
			if err != nil {
				return nil, err
			}
			uid, err := trustedServer(conn, path)
			if err != nil {
				conn.Close()
				return nil, err
			}
			c.peerUID.Store(int64(uid))
			return conn, nil
		},
		DisableCompression: true,
		MaxIdleConns:       1,
	}
	c.hc = &http.Client{Transport: tr}
	return c
}

// trustedServer returns the uid of the process answering on conn, the
// socket at path, when this user may trust it with passwords and data:
// root, this user, or another user (a daemon's own) whose socket no user
// but root and that one could have put there (see safeSocketDir).
func trustedServer(conn net.Conn, path string) (int, error) {
	p := peerContext(context.Background(), conn).Value(peerKey{}).(peer)
	if p.err != nil {
		return -1, fmt.Errorf("who answers on %s: %w", path, p.err)
	}
	if p.uid == 0 || p.uid == os.Getuid() {
		return p.uid, nil
	}
	err := safeSocketDir(filepath.Dir(path), p.uid)
	if err == nil {
		err = placedByRoot(filepath.Dir(path))
	}
	if err == nil {
		var st syscall.Stat_t
		if err = syscall.Lstat(path, &st); err == nil && int(st.Uid) != p.uid {
			err = fmt.Errorf("the socket belongs to uid %d", st.Uid)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("not trusting the process of uid %d (pid %d) answering on %s: %v", p.uid, p.pid, path, err)
	}
	return p.uid, nil
}

// placedByRoot checks that no user but root could have made any folder
// on the way to dir (which safeSocketDir accepted for the answering uid):
// each sits in a folder no other user may write to, or is root's in a
// sticky one (a private folder in /tmp: only root may remove or rename
// it). Any user may make a folder of their own in /tmp and a socket in
// it, so owning the socket's folder alone says nothing about being the
// daemon's user.
func placedByRoot(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return err
	}
	for d := real; d != filepath.Dir(d); d = filepath.Dir(d) {
		var st, pst syscall.Stat_t
		if err := syscall.Lstat(d, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: d, Err: err}
		}
		parent := filepath.Dir(d)
		if err := syscall.Lstat(parent, &pst); err != nil {
			return &os.PathError{Op: "lstat", Path: parent, Err: err}
		}
		if pst.Mode&0o022 == 0 {
			continue
		}
		if int(st.Uid) == 0 && pst.Mode&syscall.S_ISVTX != 0 {
			continue
		}
		return fmt.Errorf("the folder %s of uid %d is in %s, where other users may write (mode %04o): any of them could have made it", d, st.Uid, parent, pst.Mode&0o7777)
	}
	return nil
}

// SetPassword has every call but Info give the repository password
// (see PasswordHeader); nil gives none.
func (c *Client) SetPassword(pw []byte) { c.password = pw }

// Path is the socket's path.
func (c *Client) Path() string { return c.path }

// Error returns the API error a failed call answered; a refused
// connection or a non-daemon answer is another error.
func (e *APIError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://cairn"+path, body)
	if err != nil {
		return nil, err
	}
	if c.password != nil && path != pathInfo {
		req.Header.Set(PasswordHeader, base64.StdEncoding.EncodeToString(c.password))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e APIError
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			return nil, fmt.Errorf("daemon at %s answered %s", c.path, resp.Status)
		}
		if e.Code == 0 {
			e.Code = exitFailure
		}
		return nil, &e
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// Info asks which repository the daemon serves, within timeout.
func (c *Client) Info(ctx context.Context, timeout time.Duration) (*Info, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var i Info
	if err := c.get(ctx, pathInfo, &i); err != nil {
		return nil, err
	}
	if uid := c.peerUID.Load(); uid >= 0 && int64(i.UID) != uid {
		return nil, fmt.Errorf("the process answering on %s says it runs as uid %d, but runs as uid %d: not a cairn daemon to trust", c.path, i.UID, uid)
	}
	return &i, nil
}

// Status returns every source's state.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.get(ctx, pathStatus, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Auth checks that the daemon takes this client's calls (its password,
// when it needs one) without doing anything.
func (c *Client) Auth(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, pathAuth, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Run runs a configured source now. Without wait it returns once queued,
// with a nil result. With wait, warn (when not nil) hears of each path the
// run cannot read, and notice (when not nil) of each it saved with a time
// clamped, as the run goes.
func (c *Client) Run(ctx context.Context, source string, wait bool, warn, notice func(path, msg string)) (*RunResult, error) {
	stream := wait && (warn != nil || notice != nil)
	rq := RunRequest{Source: source, Wait: wait, Stream: stream, Notices: stream && notice != nil}
	b, _ := json.Marshal(rq)
	resp, err := c.do(ctx, http.MethodPost, pathRun, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !wait {
		return nil, nil
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line json.RawMessage
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("the daemon stopped during the run of %s; see cairn status or cairn snapshots once it is back (%v)", source, err)
		}
		var ev RunEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("daemon at %s: %w", c.path, err)
		}
		switch ev.Type {
		case EventWarn:
			if warn != nil {
				warn(ev.Path, ev.Message)
			}
			continue
		case EventNotice:
			if notice != nil {
				notice(ev.Path, ev.Message)
			}
			continue
		case EventResult:
			if ev.Result == nil {
				return nil, fmt.Errorf("daemon at %s: a result without a result", c.path)
			}
			return ev.Result, nil
		case "":
		default:
			continue // an event type a newer daemon sends: ignored
		}
		// Not streamed (or a daemon that does not stream): the result.
		var r RunResult
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("daemon at %s: %w", c.path, err)
		}
		return &r, nil
	}
}

// Snapshots lists the repository's snapshots, oldest first, and the
// warnings about those that could not be read.
func (c *Client) Snapshots(ctx context.Context) ([]*repo.Snapshot, []string, error) {
	var l SnapshotList
	if err := c.get(ctx, pathSnapshots, &l); err != nil {
		return nil, nil, err
	}
	out := make([]*repo.Snapshot, 0, len(l.Snapshots))
	for _, it := range l.Snapshots {
		sid, err := id.Parse(it.ID)
		if err != nil || it.Snapshot == nil {
			return nil, nil, fmt.Errorf("daemon at %s: bad snapshot %q", c.path, it.ID)
		}
		it.Snapshot.ID = sid
		out = append(out, it.Snapshot)
	}
	return out, l.Warnings, nil
}

// Ingest runs an ingest in the daemon. With req.Stdin, stdin is streamed
// to it; once stdin ends, verdict (when set) says whether the stream is
// good (an error means no snapshot). Every event but the last goes to on;
// the last is the summary (returned) or an error (an *APIError). A daemon
// that goes away meanwhile (stopped, killed) is an ErrDaemonGone.
//
// The request line goes out at once, and so does every piece of the
// stream as stdin yields it: the daemon counts the ingest as running
// work (which a SIGTERM waits for) from the moment it arrives, however
// slowly the stream comes.
func (c *Client) Ingest(ctx context.Context, req IngestRequest, stdin io.Reader, verdict func() error, on func(IngestEvent)) (*IngestEvent, error) {
	pr, pw := io.Pipe()
	var ended atomic.Bool // the whole stream and its verdict were sent
	var readErr atomic.Pointer[error]
	go func() {
		head, _ := json.Marshal(req)
		_, err := pw.Write(append(head, '\n'))
		if err == nil && req.Stdin {
			var rerr error
			if err, rerr = sendFrames(pw, stdin); rerr != nil {
				readErr.Store(&rerr)
				err = rerr
			} else if err == nil {
				var end StreamEnd
				if verdict != nil {
					if verr := verdict(); verr != nil {
						end.Error = verr.Error()
					}
				}
				fw := &frameWriter{w: pw}
				if err = fw.end(end); err == nil {
					ended.Store(true)
				}
			}
		}
		pw.CloseWithError(err)
	}()
	gone := func(err error) error {
		pr.CloseWithError(err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rerr := readErr.Load(); rerr != nil {
			return fmt.Errorf("reading standard input: %w; no snapshot written", *rerr)
		}
		if req.Stdin && !ended.Load() {
			// The daemon commits only after the verdict: none was.
			return &daemonGoneError{path: c.path, written: "no snapshot written", err: err}
		}
		return &daemonGoneError{path: c.path, written: "whether it wrote the snapshot is unknown: see cairn snapshots", err: err}
	}
	resp, err := c.do(ctx, http.MethodPost, pathIngest, pr)
	if err != nil {
		if IsAPIError(err) {
			pr.CloseWithError(err)
			return nil, err
		}
		return nil, gone(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev IngestEvent
		if err := dec.Decode(&ev); err != nil {
			return nil, gone(err)
		}
		switch ev.Type {
		case EventSummary:
			return &ev, nil
		case EventError:
			if rerr := readErr.Load(); rerr != nil {
				// The daemon saw the stream cut short: say why.
				return nil, fmt.Errorf("reading standard input: %w; no snapshot written", *rerr)
			}
			if ev.Code == 0 {
				ev.Code = exitFailure
			}
			return nil, &APIError{Message: ev.Message, Code: ev.Code}
		default:
			on(ev)
		}
	}
}

// ErrDaemonGone is what a call returns when the daemon went away in the
// middle of it (errors.Is).
var ErrDaemonGone = errors.New("the daemon stopped")

type daemonGoneError struct {
	path, written string
	err           error // the transport's, for -v and debugging only
}

func (e *daemonGoneError) Error() string {
	return "the daemon stopped during the ingest; " + e.written
}

func (e *daemonGoneError) Is(target error) bool { return target == ErrDaemonGone }

// Detail is the underlying transport error.
func (e *daemonGoneError) Detail() string { return fmt.Sprintf("daemon at %s: %v", e.path, e.err) }

// sendFrames frames stdin onto w: each read is sent as one frame at once,
// so a slow producer's lines reach the daemon as they come, and a fast one
// fills frames of up to 256 KiB. It returns an error writing to w, or one
// reading stdin.
func sendFrames(w io.Writer, stdin io.Reader) (werr, rerr error) {
	buf := make([]byte, 4+256<<10)
	for {
		n, err := stdin.Read(buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf[:4], uint32(n))
			if _, werr := w.Write(buf[:4+n]); werr != nil {
				return werr, nil
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// IsAPIError reports whether err is the daemon's answer (and not a
// failure to reach it).
func IsAPIError(err error) bool {
	var e *APIError
	return errors.As(err, &e)
}
