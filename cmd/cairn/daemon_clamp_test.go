package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A time a snapshot cannot hold is a warning through the daemon as it is
// directly, in text and in --json, and the exit code stays 0: for cairn
// ingest, and for cairn run of a configured source.
func TestDaemonClampedTime(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	os.Mkdir(src, 0o755)
	f := filepath.Join(src, "future")
	os.WriteFile(f, []byte("from the future"), 0o644)
	future := time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	ts := []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_OMIT}, {Sec: future}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, f, ts, 0); err != nil {
		t.Skipf("cannot date a file 2400 here: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(f, &st); err != nil || st.Mtim.Sec != future {
		t.Skip("this filesystem does not keep a file dated 2400")
	}
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nhost: h\n"+
		"sources:\n  - {name: future, paths: [%s]}\n",
		c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, src)), 0o600)
	startDaemon(t, c, cfgPath, sock)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	want := "cairn: warning: " + f + ": mtime 2400-01-01T00:00:00Z (13569465600 s since the epoch) is beyond what a snapshot holds (1677-09-21 to 2262-04-11): stored as 2262-04-11T23:47:16.854775807Z\n"
	for _, via := range []string{"-v", "--no-daemon", "run"} {
		args := []string{via, "ingest", src}
		if via == "run" {
			args = []string{"run", "future"}
		}
		_, stderr, code := c.runErr(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", via, code, stderr)
		}
		if via == "-v" && !strings.Contains(stderr, "using the daemon") {
			t.Fatalf("did not go through the daemon: %s", stderr)
		}
		if !strings.Contains(stderr, want) || strings.Contains(stderr, "cannot read") {
			t.Errorf("%s: stderr:\n%s\nwant the line:\n%s", via, stderr, want)
		}
		_, stderr, code = c.runErr(append([]string{"--json"}, args...)...)
		if code != 0 {
			t.Fatalf("%s --json: exit %d: %s", via, code, stderr)
		}
		found := false
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue // -v lines
			}
			if m["message_type"] == "error" {
				t.Errorf("%s --json: an error line: %s", via, l)
			}
			if m["message_type"] == "warning" && m["item"] == f && m["during"] == "archival" &&
				strings.HasPrefix(fmt.Sprint(m["message"]), "mtime 2400-01-01T00:00:00Z (13569465600 s since the epoch)") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s --json: no warning for %s:\n%s", via, f, stderr)
		}
	}
}
