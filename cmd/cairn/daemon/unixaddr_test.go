package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A control socket deeper than the 107 bytes a Unix socket address holds
// (a home or TMPDIR under a long path) failed with "bind: invalid
// argument", and a client could not have reached it either. Now the
// daemon listens there, clients and socketFree reach it, systemd
// notifications go to such a NOTIFY_SOCKET, and closing removes the file.
func TestLongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep-folder-", 10))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cairn.sock")
	if len(path) <= maxSunPath {
		t.Fatalf("%s is not longer than a socket address holds", path)
	}
	ln, err := listenSocket(path, &Config{})
	if err != nil {
		t.Fatalf("listen at a %d-byte path: %v", len(path), err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file %v %v, want a 0600 socket at the path asked for", fi, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(Info{Host: "deep", UID: os.Getuid()})
	}), ConnContext: peerContext}
	go srv.Serve(ln)
	i, err := NewClient(path).Info(context.Background(), 10*time.Second)
	if err != nil || i.Host != "deep" {
		t.Fatalf("client at a %d-byte path: %+v %v", len(path), i, err)
	}
	if err := socketFree(path); err == nil || !strings.Contains(err.Error(), "another daemon is listening") {
		t.Errorf("a live daemon's long socket taken for free: %v", err)
	}
	srv.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file is left after closing (%v)", err)
	}

	// sd_notify to a long NOTIFY_SOCKET.
	notify := filepath.Join(dir, "notify")
	conn, err := ListenUnixgram(notify)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	(&notifier{addr: notify}).send("READY=1")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 64)
	if n, err := conn.Read(b); err != nil || string(b[:n]) != "READY=1\n" {
		t.Errorf("notification at a long path: %q %v", b[:n], err)
	}
}

// A client's error for a long path names that path, not the /proc name
// it was reached by.
func TestLongSocketPathErrorNamesIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep-folder-", 10))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cairn.sock")
	_, err := NewClient(path).Info(context.Background(), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "/proc/self/fd") {
		t.Errorf("dialling a missing socket: %v, want an error naming %s", err, path)
	}
}

// curlSocket is curl -sS calling url on the socket at path. curl takes no
// path longer than a socket address holds: a longer one is handed to it
// as its folder, open on its descriptor 3.
func curlSocket(t *testing.T, curl, path, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(curl, "-sS", "--unix-socket", path, url)
	if len(path) > maxSunPath {
		dir, err := os.Open(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dir.Close() })
		cmd.ExtraFiles = []*os.File{dir}
		cmd.Args[3] = "/proc/self/fd/3/" + filepath.Base(path)
	}
	return cmd
}

// ownDir is a temporary folder only its owner may change, as the daemon
// wants a socket's folder, whatever the umask (002 makes t.TempDir's
// group-writable).
func ownDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Without /proc a socket deeper than an address holds cannot be reached:
// the error says so and names the path, rather than a "no such file or
// directory" about a folder that exists.
func TestLongSocketPathWithoutProc(t *testing.T) {
	dir := filepath.Join(ownDir(t), strings.Repeat("deep-folder-", 10))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cairn.sock")
	old := procFD
	procFD = "/nonexistent-proc/self/fd/"
	_, err := listenSocket(path, &Config{})
	procFD = old
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is not available") {
		t.Errorf("listening at a long path without /proc: %v, want an error naming %s and saying why", err, path)
	}

	// A name too long by itself, in the working directory (no folder
	// to open): said so, not "open : no such file or directory".
	t.Chdir(dir)
	name := strings.Repeat("n", maxSunPath+1)
	if _, err := listenUnix(name); err == nil || !strings.Contains(err.Error(), "is too long for a Unix socket") {
		t.Errorf("a %d-byte name: %v, want it called too long", len(name), err)
	}
}
