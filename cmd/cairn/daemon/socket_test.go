package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A socket file left by a daemon that died is replaced; a live daemon's
// is not taken over.
func TestListenSocketStaleAndLive(t *testing.T) {
	path := filepath.Join(ownDir(t), "cairn.sock")
	addr, done, err := unixAddr(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", addr)
	done()
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if _, err := listenSocket(path, &Config{}); err == nil || !strings.Contains(err.Error(), "another daemon is listening") {
		t.Fatalf("listen on a live socket: %v", err)
	}
	l.Close() // the file stays, as after a crash
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	l2, err := listenSocket(path, &Config{})
	if err != nil {
		t.Fatalf("listen on a stale socket: %v", err)
	}
	defer l2.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v %v, want a 0600 socket", fi.Mode(), err)
	}
}

// A path that is not a socket (a mistyped socket: setting) is never
// removed.
func TestListenSocketKeepsOtherFiles(t *testing.T) {
	path := filepath.Join(ownDir(t), "important")
	os.WriteFile(path, []byte("keep me"), 0o644)
	if l, err := listenSocket(path, &Config{}); err == nil {
		l.Close()
		t.Fatal("listened over a regular file")
	} else if !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("error %q does not say why", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file was removed or changed: %q %v", b, err)
	}
}

// socket_group: the socket is 0660 with the group, members get in (by
// primary or supplementary group), others are refused with 403.
func TestSocketGroup(t *testing.T) {
	if os.Getuid() != 0 {
		unavailable(t, "needs root to create a group and call as other uids")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		unavailable(t, "needs curl to call the socket as another uid")
	}
	group := fmt.Sprintf("cairnt%d", os.Getpid()%100000)
	if out, err := exec.Command("groupadd", group).CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("groupadd: %v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	// nobody (65534) becomes a supplementary member.
	if out, err := exec.Command("gpasswd", "-a", "nobody", group).CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("gpasswd: %v %s", err, out))
	}
	gid, err := lookupGroup(group)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "cairn-sock-")
	os.Chmod(dir, 0o755)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cairn.sock")
	ln, err := listenSocket(path, &Config{SocketGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || st.Mode&0o777 != 0o660 || int(st.Gid) != gid {
		t.Fatalf("socket mode %o gid %d (%v), want 0660 and %d", st.Mode&0o777, st.Gid, err, gid)
	}
	d := &Daemon{logf: t.Logf}
	d.access.Store(newAccess(&Config{SocketGroup: group}))
	srv := &http.Server{Handler: d.guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("welcome")) })), ConnContext: peerContext}
	go srv.Serve(ln)
	defer srv.Close()
	call := func(uid, gid int, groups ...uint32) string {
		cmd := curlSocket(t, curl, path, "http://cairn/v1/info")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}}
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	for _, c := range []struct {
		uid, gid int
		groups   []uint32
		want     string
	}{
		{65534, 65534, []uint32{uint32(gid)}, "welcome"}, // a member, as after login
		{65533, gid, nil, "welcome"},                     // by its primary group
		{65533, 65533, nil, "Couldn't connect"},          // the file mode keeps others out
	} {
		if got := call(c.uid, c.gid, c.groups...); !strings.Contains(got, c.want) {
			t.Errorf("uid %d gid %d: %q, want %q", c.uid, c.gid, got, c.want)
		}
	}
	// And SO_PEERCRED does even when the mode would let them in.
	os.Chmod(path, 0o666)
	if got := call(65533, 65533); !strings.Contains(got, "uid 65533 may not use the cairn daemon: only root, uid 0, and members of group "+group+" may") {
		t.Errorf("non-member through a 0666 socket: %q", got)
	}
}

// A caller other than root and the daemon's own user may not have the
// daemon read paths with the daemon's rights: only streams.
func TestIngestPathsNeedTheDaemonsRights(t *testing.T) {
	d := &Daemon{logf: t.Logf, work: context.Background()}
	for _, c := range []struct {
		p    peer
		body string
		code int
	}{
		{peer{uid: 4321, gid: 4321}, `{"paths":["/etc/shadow"]}`, http.StatusForbidden},
		{peer{uid: 4321, gid: 4321}, "{\"paths\":[\"/etc\"]}\n", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodPost, pathIngest, bytes.NewReader([]byte(c.body+"\n")))
		req = req.WithContext(context.WithValue(req.Context(), peerKey{}, c.p))
		w := httptest.NewRecorder()
		d.handleIngest(w, req)
		if w.Code != c.code || !strings.Contains(w.Body.String(), "uid "+strconv.Itoa(c.p.uid)) {
			t.Errorf("%s from uid %d: %d %s, want %d", c.body, c.p.uid, w.Code, w.Body.String(), c.code)
		}
	}
}

// allow_uids work without socket_group: the socket is then 0666, and
// SO_PEERCRED decides who gets in.
func TestSocketAllowUIDs(t *testing.T) {
	if os.Getuid() != 0 {
		unavailable(t, "needs root to call as other uids")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		unavailable(t, "needs curl to call the socket as another uid")
	}
	dir, _ := os.MkdirTemp("", "cairn-sock-")
	os.Chmod(dir, 0o755)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cairn.sock")
	cfg := &Config{AllowUIDs: []int{65534}}
	ln, err := listenSocket(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{logf: t.Logf}
	d.access.Store(newAccess(cfg))
	srv := &http.Server{Handler: d.guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("welcome")) })), ConnContext: peerContext}
	go srv.Serve(ln)
	defer srv.Close()
	for uid, want := range map[int]string{65534: "welcome", 65533: "uid 65533 may not use the cairn daemon"} {
		cmd := curlSocket(t, curl, path, "http://cairn/v1/info")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		if out, _ := cmd.CombinedOutput(); !strings.Contains(string(out), want) {
			t.Errorf("uid %d: %q, want %q", uid, out, want)
		}
	}
}

// A socket in a folder another user may change is refused: that user
// could replace it with their own and collect the passwords and --stdin
// data cairn commands send it. A folder of the daemon's own is fine.
func TestListenSocketRefusesFolderOthersControl(t *testing.T) {
	base := t.TempDir()
	own := filepath.Join(base, "own")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := listenSocket(filepath.Join(own, "cairn.sock"), &Config{})
	if err != nil {
		t.Fatalf("a socket in a folder of the daemon's own: %v", err)
	}
	l.Close()

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o1777) // as /tmp: sticky, but the socket's own folder
	if l, err := listenSocket(filepath.Join(open, "cairn.sock"), &Config{}); err == nil {
		l.Close()
		t.Fatal("listened in a folder every user may write to")
	} else if !strings.Contains(err.Error(), "writable by other users") {
		t.Fatalf("error %q does not say why", err)
	}
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to give a folder to another user")
		}
		t.Skip("needs root to give a folder to another user")
	}
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if l, err := listenSocket(filepath.Join(theirs, "cairn.sock"), &Config{}); err == nil {
		l.Close()
		t.Fatal("listened in a folder another user owns")
	} else if !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("error %q does not say why", err)
	}
}

// With allow_uids the socket is open to every user, and the access check
// comes only with a request: a user it refuses still hears why (403), but
// cannot hold the daemon's connections, and with them its file
// descriptors, open by connecting again and again and sending nothing.
func TestSocketStrangersCannotHoldConnections(t *testing.T) {
	d, _ := newTestDaemon(t, &Config{})
	d.access.Store(&access{gid: -1}) // nobody is allowed, this test's uid included
	path := strangerServer(t, d)

	refused := func() {
		t.Helper()
		_, err := NewClient(path).Status(context.Background())
		if err == nil || !strings.Contains(err.Error(), "may not use the cairn daemon") {
			t.Fatalf("a refused caller is not told why: %v", err)
		}
	}
	refused()

	idleConnectionsCapped(t, path, "a refused caller")
	refused() // the places are free again
}

// unavailable skips a test that needs what this machine lacks, or fails
// it under CI, where the Makefile installs what the tests need.
func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// Accepting a connection looks nothing up: a caller whom only a lookup of
// their groups could refuse (a socket group is set) is left to guard, so
// that an NSS lookup that hangs (LDAP down) holds up that caller alone, not
// every caller behind it in the accept loop.
func TestAcceptLooksNothingUp(t *testing.T) {
	withGroup := &access{uids: []int{0, 1000}, gid: 4242}
	noGroup := &access{uids: []int{0, 1000}, gid: -1}
	for _, c := range []struct {
		a    *access
		p    peer
		want bool
	}{
		{withGroup, peer{uid: 0, gid: 0}, false},
		{withGroup, peer{uid: 5555, gid: 5555}, false}, // a member? guard looks it up
		{withGroup, peer{uid: -1}, true},
		{noGroup, peer{uid: 1000, gid: 1000}, false},
		{noGroup, peer{uid: 5555, gid: 5555}, true},
		{noGroup, peer{err: errors.New("no credentials"), uid: -1}, true},
	} {
		if got := c.a.refusedAtOnce(c.p); got != c.want {
			t.Errorf("access %+v, caller %+v: refused at once %v, want %v", c.a, c.p, got, c.want)
		}
	}
	// Once a lookup found a uid outside the group (nobody is in no
	// group 4242), its connections are strangers' from then on, so that
	// the cap on them holds with a socket group too.
	if withGroup.allowed(peer{uid: 65534, gid: 65534}) {
		t.Fatal("nobody allowed as a member of group 4242")
	}
	if !withGroup.refusedAtOnce(peer{uid: 65534, gid: 65534}) {
		t.Error("a uid a lookup refused is not refused at once after")
	}
}

// With a socket group set, a caller only a group lookup can refuse is not
// refused at accept (nothing is looked up there), but such a caller that
// connects again and again and sends nothing (so that guard never looks
// it up) must not hold the daemon's connections open either: before
// anything is looked up, its connections count against a cap of their
// own and are closed after strangerTimeout unless guard lets them in.
func TestSocketGroupStrangersCannotHoldConnections(t *testing.T) {
	d, _ := newTestDaemon(t, &Config{})
	// No uid listed, and a group this test's uid is not in: only a
	// lookup of its groups could tell.
	d.access.Store(&access{gid: 4242, group: "cairn-test-nobody"})
	path := strangerServer(t, d)

	idleConnectionsCapped(t, path, "a caller not yet looked up")
	// A caller guard lets in (here: allowed by the time its request
	// comes) keeps its connection past strangerTimeout.
	c, err := dialUnix(context.Background(), "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // accepted as not looked up yet
	d.access.Store(&access{uids: []int{os.Getuid()}, gid: 4242})
	br := bufio.NewReader(c)
	get := func() {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: cairn\r\n\r\n", pathInfo); err != nil {
			t.Fatalf("request: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("an allowed caller's connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	get()
	time.Sleep(strangerTimeout + 300*time.Millisecond)
	get() // not closed as a stranger's
}

// idleConnectionsCapped opens 10 connections to the socket at path and
// sends nothing: the daemon must hold at most 4 of them open (the test
// sets maxStrangers), and close every one within strangerTimeout. who
// names the caller in the failures.
func idleConnectionsCapped(t *testing.T, path, who string) {
	t.Helper()
	var conns []net.Conn
	for range 10 {
		c, err := dialUnix(context.Background(), "unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Closed by the daemon: a read ends (EOF) rather than waiting.
	closed := func(c net.Conn, within time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(within))
		_, err := c.Read(make([]byte, 1))
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	open := 0
	for _, c := range conns {
		if !closed(c, 100*time.Millisecond) {
			open++
		}
	}
	if open > 4 {
		t.Fatalf("%d idle connections of %s held open, want at most 4", open, who)
	}
	for i, c := range conns {
		if !closed(c, 2*time.Second) {
			t.Fatalf("connection %d of %s still open after %s", i, who, strangerTimeout)
		}
	}
}

// strangerServer serves d's socket at a new path, with at most 4 stranger
// connections closed after 500 ms, for the length of the test.
func strangerServer(t *testing.T, d *Daemon) string {
	t.Helper()
	oldMax, oldTimeout := maxStrangers, strangerTimeout
	maxStrangers, strangerTimeout = 4, 500*time.Millisecond
	t.Cleanup(func() { maxStrangers, strangerTimeout = oldMax, oldTimeout })

	path := filepath.Join(t.TempDir(), "cairn.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, sl := d.server(ln)
	go srv.Serve(sl)
	t.Cleanup(func() { srv.Close() })
	return path
}
