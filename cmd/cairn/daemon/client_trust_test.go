package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFakeDaemonHelper is not a test: run as another uid by
// TestClientTrust, it answers info on $CAIRN_FAKE_DAEMON as a daemon
// would, saying it runs as $CAIRN_FAKE_UID (default: its real uid).
func TestFakeDaemonHelper(t *testing.T) {
	path := os.Getenv("CAIRN_FAKE_DAEMON")
	if path == "" {
		return
	}
	l, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	uid := os.Getuid()
	if s := os.Getenv("CAIRN_FAKE_UID"); s != "" {
		uid, _ = strconv.Atoi(s)
	}
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get(PasswordHeader) != "" {
			os.WriteFile(path+".loot", []byte(req.Header.Get(PasswordHeader)), 0o666)
		}
		json.NewEncoder(w).Encode(Info{Repository: "/srv/backup", UID: uid, PID: os.Getpid()})
	}))
}

// A cairn command trusts the process answering on the socket only when
// it is root, the caller, or a user whose own folder holds the socket:
// not one another user put in a folder all may write to (a /tmp path,
// before the daemon started or while it was stopped), which would get
// the password and --stdin data and make up the answers. Nor one that
// lies about the uid it runs as.
func TestClientTrust(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to run a fake daemon as another uid")
		}
		t.Skip("needs root to run a fake daemon as another uid")
	}
	// The temporary folder may be writable by all without the sticky bit
	// (then anyone could rename a folder of root's in it): a daemon of
	// another user is trusted only below a folder no one else may change.
	tmp := ""
	for _, d := range []string{os.TempDir(), "/var/tmp", "/run"} {
		fi, err := os.Stat(d)
		if err == nil && (fi.Mode()&0o022 == 0 || fi.Mode()&os.ModeSticky != 0) && placedByRoot(d) == nil {
			tmp = d
			break
		}
	}
	if tmp == "" {
		t.Skip("no folder only root may change to work in")
	}
	base, err := os.MkdirTemp(tmp, "cairn-trust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(base, "helper")
	if err := os.WriteFile(helper, self, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(helper, 0o755) // run by nobody, whatever the umask
	const nobody = 65534
	fake := func(dir string, env ...string) string {
		t.Helper()
		sock := filepath.Join(dir, "cairn.sock")
		cmd := exec.Command(helper, "-test.run=^TestFakeDaemonHelper$")
		cmd.Env = append(os.Environ(), append(env, "CAIRN_FAKE_DAEMON="+sock)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for i := 0; ; i++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			if i == 100 {
				t.Fatal("the fake daemon did not start")
			}
			time.Sleep(50 * time.Millisecond)
		}
		return sock
	}
	info := func(sock string) (*Info, error) {
		c := NewClient(sock)
		c.SetPassword([]byte("secret"))
		i, err := c.Info(context.Background(), 5*time.Second)
		if err == nil {
			err = c.Auth(context.Background())
		}
		return i, err
	}

	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o1777)
	sock := fake(open)
	if _, err := info(sock); err == nil || !strings.Contains(err.Error(), "not trusting the process of uid 65534") {
		t.Fatalf("a socket another user planted in a folder all may write to: %v", err)
	}
	if _, err := os.Stat(sock + ".loot"); err == nil {
		t.Fatal("the password was sent to it")
	}

	// Nor one in a folder of its own that it made itself in a folder all
	// may write to (mkdir /tmp/cairn before the daemon first started): any
	// user could have, so owning the folder says nothing about who it is.
	planted := filepath.Join(open, "cairn")
	os.Mkdir(planted, 0o755)
	os.Chown(planted, nobody, nobody)
	sock = fake(planted)
	if _, err := info(sock); err == nil || !strings.Contains(err.Error(), "not trusting the process of uid 65534") {
		t.Fatalf("a socket another user planted in a folder of theirs in a folder all may write to: %v", err)
	}
	if _, err := os.Stat(sock + ".loot"); err == nil {
		t.Fatal("the password was sent to it")
	}

	// A daemon of a dedicated user, in its own folder: trusted.
	own := filepath.Join(base, "own")
	os.Mkdir(own, 0o755)
	os.Chown(own, nobody, nobody)
	if i, err := info(fake(own)); err != nil || i.UID != nobody {
		t.Fatalf("a daemon of uid %d in its own folder: %+v %v", nobody, i, err)
	}

	// One that says it runs as root.
	liar := filepath.Join(base, "liar")
	os.Mkdir(liar, 0o755)
	os.Chown(liar, nobody, nobody)
	if _, err := info(fake(liar, "CAIRN_FAKE_UID=0")); err == nil || !strings.Contains(err.Error(), "says it runs as uid 0, but runs as uid 65534") {
		t.Fatalf("a daemon lying about its uid: %v", err)
	}
}
