package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// serveAs serves d's API on a unix socket as if every caller were uid,
// and returns a client for it.
func serveAs(t *testing.T, d *Daemon, uid int) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.sock")
	ln, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.guard(d.routes()), ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, peerKey{}, peer{uid: uid, gid: uid, pid: 1})
	}}
	d.access.Store(newAccess(&Config{AllowUIDs: []int{uid}}))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewClient(path)
}

func apiCode(err error) (int, string) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code, ae.Message
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, ""
}

// Callers other than the socket's owner must give the right password for
// everything but info and status; a password given is checked whoever
// gives it, and a wrong one is answered as a direct command (exit 12,
// the same message).
func TestPasswordRequired(t *testing.T) {
	d, log := newTestDaemon(t, &Config{Host: "cfghost", Sources: []Source{{Name: "db", Command: Command{"echo", "dump"}}}})
	ctx := context.Background()
	wrong := []byte("not the password")
	calls := map[string]func(c *Client) error{
		"snapshots": func(c *Client) error { _, _, err := c.Snapshots(ctx); return err },
		"run":       func(c *Client) error { _, err := c.Run(ctx, "db", true, nil, nil); return err },
		"auth":      func(c *Client) error { return c.Auth(ctx) },
		"ingest": func(c *Client) error {
			_, err := c.Ingest(ctx, IngestRequest{Stdin: true, StdinName: "x", Source: "s"}, strings.NewReader("data"), nil, func(IngestEvent) {})
			return err
		},
		"status": func(c *Client) error { _, err := c.Status(ctx); return err },
	}
	for _, tc := range []struct {
		uid      int
		password []byte
		want     map[string]int // exit code by call; absent: 0
		msg      string
	}{
		{4321, nil, map[string]int{"snapshots": 1, "run": 1, "auth": 1, "ingest": 1}, "no password: uid 4321 must give the repository's password"},
		{4321, wrong, map[string]int{"snapshots": 12, "run": 12, "auth": 12, "ingest": 12, "status": 12}, repo.ErrWrongPassword.Error()},
		{4321, []byte{}, map[string]int{"snapshots": 12, "run": 12, "auth": 12, "ingest": 12, "status": 12}, repo.ErrWrongPassword.Error()},
		{4321, []byte(repo.TestPassword), nil, ""},
		{0, nil, nil, ""},
		{0, wrong, map[string]int{"snapshots": 12, "run": 12, "auth": 12, "ingest": 12, "status": 12}, repo.ErrWrongPassword.Error()},
		{os.Getuid(), []byte(repo.TestPassword), nil, ""},
	} {
		c := serveAs(t, d, tc.uid)
		c.SetPassword(tc.password)
		if _, err := c.Info(ctx, 30*time.Second); err != nil {
			t.Fatalf("uid %d: info: %v", tc.uid, err)
		}
		for name, call := range calls {
			d.passwords = passwords{} // no lockout across calls
			code, msg := apiCode(call(c))
			if code != tc.want[name] {
				t.Errorf("uid %d, password %q: %s: exit %d (%s), want %d", tc.uid, tc.password, name, code, msg, tc.want[name])
			} else if code != 0 && !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("uid %d, password %q: %s: %q, want %q", tc.uid, tc.password, name, msg, tc.msg)
			}
		}
	}
	if strings.Contains(log.String(), string(wrong)) || strings.Contains(log.String(), repo.TestPassword) {
		t.Errorf("a password in the log:\n%s", log)
	}
}

// A password that passed is not derived again; wrong ones make their uid
// wait after a few, and not other uids.
func TestPasswordCacheAndLockout(t *testing.T) {
	now := time.Unix(1e9, 0)
	p := &passwords{now: func() time.Time { return now }}
	derived := 0
	check := func(_ context.Context, pw []byte) error {
		derived++
		if string(pw) == "right" {
			return nil
		}
		return repo.ErrWrongPassword
	}
	ctx := context.Background()
	for range 3 {
		if err := p.check(ctx, 1000, false, []byte("right"), check); err != nil {
			t.Fatal(err)
		}
	}
	if derived != 1 {
		t.Fatalf("%d key derivations for one password checked 3 times", derived)
	}
	for i := range freeFailures {
		if err := p.check(ctx, 1000, false, []byte("wrong"), check); !errors.Is(err, repo.ErrWrongPassword) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	derived = 0
	var tooMany *errTooManyFailures
	if err := p.check(ctx, 1000, false, []byte("wrong"), check); !errors.As(err, &tooMany) || derived != 0 {
		t.Fatalf("after %d wrong passwords: %v (%d derivations)", freeFailures, err, derived)
	}
	if !strings.Contains(tooMany.Error(), "too many wrong passwords from uid 1000: try again in 1s") {
		t.Errorf("message: %v", tooMany)
	}
	// One that passed before still does; others are not held back.
	if err := p.check(ctx, 1000, false, []byte("right"), check); err != nil {
		t.Fatalf("a known password during the pause: %v", err)
	}
	if err := p.check(ctx, 2000, false, []byte("wrong"), check); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("another uid: %v", err)
	}
	// After the pause, one more try; a further failure doubles it.
	now = now.Add(time.Second)
	if err := p.check(ctx, 1000, false, []byte("wrong"), check); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("after the pause: %v", err)
	}
	if err := p.check(ctx, 1000, false, []byte("wrong"), check); !errors.As(err, &tooMany) || tooMany.wait != 2*time.Second {
		t.Fatalf("second pause: %v", err)
	}
	// Never for the socket's owner.
	for range freeFailures + 1 {
		if err := p.check(ctx, 0, true, []byte("wrong"), check); !errors.Is(err, repo.ErrWrongPassword) {
			t.Fatalf("the owner: %v", err)
		}
	}
	// Forgotten on reload: derived again.
	p.forget()
	derived = 0
	p.check(ctx, 3000, false, []byte("right"), check)
	if derived != 1 {
		t.Fatalf("%d derivations after forget", derived)
	}
	// The cache holds keyed hashes, not passwords.
	for h := range p.good {
		if bytes.Contains(h[:], []byte("right")) {
			t.Fatal("the password itself is kept")
		}
	}
}

// An ingest through the socket without a host records the config's, as
// the daemon's own sources do; a host given wins.
func TestSocketIngestHost(t *testing.T) {
	d, _ := newTestDaemon(t, &Config{Host: "cfghost"})
	c := serveAs(t, d, 0)
	ctx := context.Background()
	for _, tc := range []struct{ host, want string }{{"", "cfghost"}, {"given", "given"}} {
		ev, err := c.Ingest(ctx, IngestRequest{Stdin: true, StdinName: "x", Source: "h", Host: tc.host}, strings.NewReader("data"), nil, func(IngestEvent) {})
		if err != nil {
			t.Fatal(err)
		}
		snaps, _, err := c.Snapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sn := snaps[len(snaps)-1]
		if sn.ID.String() != ev.SnapshotID || sn.Host != tc.want {
			t.Errorf("--host %q: snapshot of host %q, want %q", tc.host, sn.Host, tc.want)
		}
	}
}

// A refused reload logs every problem, one per line, as a refused start
// prints them.
func TestReloadLogsEveryProblem(t *testing.T) {
	d, log := newTestDaemon(t, &Config{})
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	os.WriteFile(path, []byte("repository: /r\nsources:\n  - name: db\n    command: date\n    schedule: never\n  - name: web\n    paths: [relative]\n"), 0o600)
	d.deps.ConfigPath = path
	d.reload()
	var refused []string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(l, "reload refused") {
			refused = append(refused, l)
		}
	}
	want := []string{
		"reload refused, keeping the running config: " + path + ":5:15: sources[0] (db).schedule: ",
		"reload refused, keeping the running config: " + path + ":7:13: sources[1] (web).paths[0]: want an absolute path",
	}
	if len(refused) != len(want) {
		t.Fatalf("log:\n%s", log)
	}
	for i, w := range want {
		if !strings.HasPrefix(refused[i], w) {
			t.Errorf("line %d: %q, want %q...", i, refused[i], w)
		}
	}
}

// A YAML syntax error keeps its line, and its column when yaml.v3 gives
// one.
func TestSyntaxErrorPosition(t *testing.T) {
	l := &loader{file: "c.yaml"}
	for in, want := range map[string]string{
		"yaml: line 3: did not find expected key":             "c.yaml:3: did not find expected key",
		"yaml: line 3, column 7: did not find expected key":   "c.yaml:3:7: did not find expected key",
		"yaml: unknown anchor 'a' referenced":                 "c.yaml: unknown anchor 'a' referenced",
		"yaml: line 12, column 1: mapping values not allowed": "c.yaml:12:1: mapping values not allowed",
	} {
		if got := l.syntaxError(errors.New(in)).Error(); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if _, err := Parse("c.yaml", []byte("repository: /r\nsources: [\n")); err == nil || !strings.HasPrefix(err.Error(), "c.yaml:") {
		t.Errorf("syntax error: %v", err)
	}
}

// The log says "1 snapshot", "2 snapshots".
func TestRetentionLogPlural(t *testing.T) {
	src := Source{Name: "db", Command: Command{"echo", "dump"}, Retention: &Retention{KeepLast: 1}}
	d, log := newTestDaemon(t, &Config{Host: "h", Sources: []Source{src}})
	for i := range 2 {
		if res := d.runSource(context.Background(), src, nil); res.Outcome != OutcomeSuccess {
			t.Fatalf("run %d: %+v", i, res)
		} else if i == 1 && res.Removed != 1 {
			t.Fatalf("run %d removed %d", i, res.Removed)
		}
	}
	if !strings.Contains(log.String(), "source db: retention removed 1 snapshot, kept 1") {
		t.Errorf("log:\n%s", log)
	}
	if strings.Contains(log.String(), fmt.Sprintf("%d snapshots", 1)) {
		t.Errorf("a plural for one:\n%s", log)
	}
}

// A stream another user sends is saved as that user's file: ingest
// --stdin saves it with mode 0600, and through the daemon it was the
// daemon's (root's), so on the daemon's shared mount the user who sent
// the dump could not read it back.
func TestSocketIngestStdinOwner(t *testing.T) {
	d, _ := newTestDaemon(t, &Config{Host: "h"})
	ctx := context.Background()
	for _, uid := range []int{4321, os.Getuid()} {
		c := serveAs(t, d, uid)
		c.SetPassword([]byte(repo.TestPassword))
		ev, err := c.Ingest(ctx, IngestRequest{Stdin: true, StdinName: "dump.sql", Source: "s"}, strings.NewReader("data"), nil, func(IngestEvent) {})
		if err != nil {
			t.Fatal(err)
		}
		snaps, _, err := c.Snapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sn := snaps[len(snaps)-1]
		if sn.ID.String() != ev.SnapshotID {
			t.Fatalf("uid %d: latest snapshot %s, want %s", uid, sn.ID, ev.SnapshotID)
		}
		nodes, err := d.r.LoadTree(ctx, sn.Tree)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || nodes[0].UID != uint32(uid) || nodes[0].GID != uint32(uid) || nodes[0].Mode != 0o600 {
			t.Errorf("uid %d sent a stream: saved as uid %d gid %d mode %o, want uid and gid %d, mode 600", uid, nodes[0].UID, nodes[0].GID, nodes[0].Mode, uid)
		}
	}
}

// A password whose key is removed while it is being checked (its key
// derivation read the key file before "cairn key remove") is not
// remembered: the next call checks it anew, against the key files left.
func TestPasswordForgottenDuringCheck(t *testing.T) {
	p := &passwords{}
	ctx := context.Background()
	keys := []string{"k1", "k2"}
	list := func(context.Context) ([]string, error) { return keys, nil }
	removed := false
	derived := 0
	check := func(_ context.Context, pw []byte) error {
		derived++
		if removed {
			return repo.ErrWrongPassword
		}
		// The key is removed now, and another call notices it
		// before this one's derivation ends.
		removed, keys = true, []string{"k2"}
		p.keysSeen(ctx, list)
		return nil
	}
	p.keysSeen(ctx, list)
	if err := p.check(ctx, 1000, false, []byte("old"), check); err != nil {
		t.Fatalf("the call that raced the removal: %v", err)
	}
	p.keysSeen(ctx, list)
	if err := p.check(ctx, 1000, false, []byte("old"), check); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("a removed password still passes (%d derivations): %v", derived, err)
	}
	// The same with a reload while it is checked.
	p, removed, derived = &passwords{}, false, 0
	check2 := func(_ context.Context, pw []byte) error {
		derived++
		if removed {
			return repo.ErrWrongPassword
		}
		removed = true
		p.forget()
		return nil
	}
	p.check(ctx, 1000, false, []byte("old"), check2)
	if err := p.check(ctx, 1000, false, []byte("old"), check2); !errors.Is(err, repo.ErrWrongPassword) {
		t.Fatalf("a password changed during a reload still passes: %v", err)
	}
}

// When the key files cannot be listed (the storage is down), a password
// that passed before still passes at once: cairn status, run by a timer
// whose environment gives the password, must answer during an outage.
// Before, the failed listing made the daemon forget every password, and
// the call then failed on the storage as well.
func TestPasswordKeptWhenKeysCannotBeListed(t *testing.T) {
	p := &passwords{}
	ctx := context.Background()
	up := true
	list := func(context.Context) ([]string, error) {
		if !up {
			return nil, errors.New("storage unreachable")
		}
		return []string{"k1"}, nil
	}
	checks := 0
	check := func(context.Context, []byte) error {
		checks++
		if !up {
			return errors.New("storage unreachable")
		}
		return nil
	}
	p.keysSeen(ctx, list)
	if err := p.check(ctx, 1000, false, []byte("pw"), check); err != nil {
		t.Fatal(err)
	}
	up = false
	p.keysSeen(ctx, list)
	if err := p.check(ctx, 1000, false, []byte("pw"), check); err != nil || checks != 1 {
		t.Fatalf("during an outage: %v after %d checks; want the remembered password to pass without a check", err, checks)
	}
}
