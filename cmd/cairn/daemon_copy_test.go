package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
)

// copyStatus asks the daemon for the status of source's copies, by
// destination.
func copyStatus(t *testing.T, c *cli, source string) map[string]daemon.CopyStatus {
	t.Helper()
	var st daemon.Status
	if err := json.Unmarshal([]byte(c.ok("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]daemon.CopyStatus{}
	for _, s := range st.Sources {
		if s.Name != source {
			continue
		}
		if s.LastRun == nil || s.LastRun.Outcome != daemon.OutcomeSuccess {
			t.Fatalf("status of %s: a failed copy failed the run: %+v", source, s.LastRun)
		}
		for _, cs := range s.Copies {
			out[cs.Destination] = cs
		}
	}
	return out
}

// scrapeMetrics reads the daemon's metrics over HTTP.
func scrapeMetrics(t *testing.T, port int) *metrics.Set {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set metrics.Set
	if err := set.ReadText(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	return &set
}

// TestDaemonCopies runs a real daemon whose source is copied into three
// repositories: one that works, one whose folder appears only later, and
// one whose password file holds the wrong password. cairn run succeeds
// and says which copies failed; cairn status and the metrics show each
// copy's outcome; the next run catches up on the repository that
// appeared; the copies restore the source's files.
func TestDaemonCopies(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 3, 300_000, 21)
	writeRandomFiles(t, filepath.Join(src, "small"), 5, 2000, 22)
	os.Symlink("data/fa", filepath.Join(src, "link"))

	offsite := newCLIAt(t, filepath.Join(work, "offsite"))
	offsite.ok("init", "--insecure-kdf")
	late := newCLIAt(t, filepath.Join(work, "late")) // made after the first run
	locked := newCLIAt(t, filepath.Join(work, "locked"))
	locked.ok("init", "--insecure-kdf")
	wrong := filepath.Join(work, "wrong.pass")
	os.WriteFile(wrong, []byte("not the password\n"), 0o600)

	sock := filepath.Join(socketDir(t), "cairn.sock")
	port := freePort(t)
	cfgPath := filepath.Join(work, "cairn.yaml")
	config := fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
host: testhost
socket: %s
copies:
  - name: offsite
    repository: %s
    password_file: %s
  - name: late
    repository: %s
    password_file: %s
  - name: locked
    repository: %s
    password_file: %s
copy_to: [offsite, late, locked]
sources:
  - name: files
    paths: [%s]
metrics:
  listen: 127.0.0.1:%d
`, c.repoDir(), c.passwordFile(), c.getenv("CAIRN_CACHE_DIR"), sock,
		offsite.repoDir(), offsite.passwordFile(), late.repoDir(), late.passwordFile(), locked.repoDir(), wrong, src, port)

	t.Run("config mistakes", func(t *testing.T) {
		bad := filepath.Join(work, "bad.yaml")
		broken := strings.Replace(config, "copy_to: [offsite, late, locked]", "copy_to: [offsite, lte]", 1)
		broken = strings.Replace(broken, "    password_file: "+wrong+"\n", "", 1)
		os.WriteFile(bad, []byte(broken), 0o600)
		out, err := c.cmd("daemon", "--config", bad).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("daemon with a bad config: %v: %s", err, out)
		}
		for _, want := range []string{
			regexp.QuoteMeta(bad) + `:13:5: copies\[2\] \(locked\): a copy needs password_file or password_command`,
			regexp.QuoteMeta(bad) + `:15:20: copy_to\[1\]: no copy named "lte"; did you mean "late"\?`,
		} {
			if !regexp.MustCompile(want).Match(out) {
				t.Errorf("the daemon's error does not match %s:\n%s", want, out)
			}
		}
	})

	os.WriteFile(cfgPath, []byte(config), 0o600)
	d := startDaemon(t, c, cfgPath, sock)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	t.Run("a failing copy does not fail the run", func(t *testing.T) {
		cmd := c.cmd("run", "files")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("cairn run files: %v\n%s%s", err, stdout.String(), stderr.String())
		}
		if !regexp.MustCompile(`(?m)^source files: success in .*snapshot [0-9a-f]{8} saved\nsource files: copy to offsite: 1 snapshot copied in \S+, \S+ \S+ added\n$`).MatchString(stdout.String()) {
			t.Errorf("cairn run files printed:\n%s", stdout.String())
		}
		for _, want := range []string{
			`cairn: source files: copy to late failed \(0 snapshots copied; the next run tries again\): \S+`,
			`cairn: source files: copy to locked failed \(0 snapshots copied; the next run tries again\): .*wrong password`,
		} {
			if !regexp.MustCompile(want).MatchString(stderr.String()) {
				t.Errorf("cairn run files: stderr does not match %s:\n%s", want, stderr.String())
			}
		}
		d.waitLog(`source files: copy to locked: failure after \S+ \(0 snapshots copied, 0 bytes added; the next run tries again\): .*wrong password`, 30*time.Second)

		list := snapshotsOf(t, offsite, "files")
		main := snapshotsOf(t, c, "files")
		if len(list) != 1 || len(main) != 1 || list[0].CopiedFrom != main[0].ID || list[0].Host != "testhost" {
			t.Fatalf("offsite has %+v, want a copy of %+v", list, main)
		}
		dst := filepath.Join(work, "restored")
		offsite.ok("restore", "latest:"+src, "--target", dst)
		rsyncSame(t, src, dst)
		offsite.ok("check", "--read-data")
	})

	t.Run("status", func(t *testing.T) {
		st := copyStatus(t, c, "files")
		if o := st["offsite"]; o.Outcome != daemon.OutcomeSuccess || o.Copied != 1 || o.AddedBytes < 900_000 || o.LastSuccess == nil || o.Failures != 0 {
			t.Errorf("offsite: %+v", o)
		}
		for _, name := range []string{"late", "locked"} {
			if o := st[name]; o.Outcome != daemon.OutcomeFailure || o.Error == "" || o.LastSuccess != nil || o.Failures != 1 || o.Start.IsZero() {
				t.Errorf("%s: %+v", name, o)
			}
		}
		text := c.ok("status")
		for _, want := range []string{
			`(?m)^Source +Copy to +Last copy +Outcome +Snapshots +Added +Last success$`,
			`(?m)^files +offsite +\S+ \S+ +success +1 +\S+ \S+ +\S+ \S+$`,
			`(?m)^files +late +\S+ \S+ +failure +0 +0 B +never$`,
			`(?m)^files: copy to locked: .*wrong password`,
		} {
			if !regexp.MustCompile(want).MatchString(text) {
				t.Errorf("cairn status does not match %s:\n%s", want, text)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		set := scrapeMetrics(t, port)
		for _, m := range []struct {
			family, dest string
			ok           func(float64) bool
		}{
			{metrics.CopyLastOK, "offsite", func(v float64) bool { return v == 1 }},
			{metrics.CopyLastSuccess, "offsite", func(v float64) bool { return v > 1e9 }},
			{metrics.CopyAddedBytes, "offsite", func(v float64) bool { return v >= 900_000 }},
			{metrics.CopySnapshots, "offsite", func(v float64) bool { return v == 1 }},
			{metrics.CopyFailures, "offsite", func(v float64) bool { return v == 0 }},
			{metrics.CopyDuration, "offsite", func(v float64) bool { return v > 0 }},
			{metrics.CopyLastOK, "late", func(v float64) bool { return v == 0 }},
			{metrics.CopyFailures, "late", func(v float64) bool { return v == 1 }},
			{metrics.CopyLastOK, "locked", func(v float64) bool { return v == 0 }},
			{metrics.CopyFailures, "locked", func(v float64) bool { return v == 1 }},
		} {
			if v, ok := set.CopyValue(m.family, "testhost", "files", m.dest); !ok || !m.ok(v) {
				t.Errorf("%s{destination=%q} = %v (present: %v)", m.family, m.dest, v, ok)
			}
		}
		if _, ok := set.CopyValue(metrics.CopyLastSuccess, "testhost", "files", "late"); ok {
			t.Error("a last success for a destination that never had one")
		}
		if v, ok := set.Value(metrics.LastOK, "testhost", "files"); !ok || v != 1 {
			t.Errorf("%s = %v (present: %v): the failed copies failed the run", metrics.LastOK, v, ok)
		}
	})

	t.Run("the next run catches up", func(t *testing.T) {
		late.ok("init", "--insecure-kdf")
		os.WriteFile(filepath.Join(src, "small", "fa"), []byte("changed"), 0o644)
		out := c.ok("run", "files")
		if !strings.Contains(out, "source files: copy to late: 2 snapshots copied") || !strings.Contains(out, "source files: copy to offsite: 1 snapshot copied") {
			t.Fatalf("second run printed:\n%s", out)
		}
		if n := len(snapshotsOf(t, late, "files")); n != 2 {
			t.Fatalf("late has %d snapshots, want 2", n)
		}
		dst := filepath.Join(work, "restored-late")
		late.ok("restore", "latest:"+src, "--target", dst)
		rsyncSame(t, src, dst)
		st := copyStatus(t, c, "files")
		if l := st["late"]; l.Outcome != daemon.OutcomeSuccess || l.Copied != 2 || l.LastSuccess == nil || l.Failures != 1 {
			t.Errorf("late: %+v", l)
		}
		if l := st["locked"]; l.Failures != 2 || l.LastSuccess != nil {
			t.Errorf("locked: %+v", l)
		}
		set := scrapeMetrics(t, port)
		if v, _ := set.CopyValue(metrics.CopyLastOK, "testhost", "files", "late"); v != 1 {
			t.Errorf("late: last ok %v", v)
		}
		if v, _ := set.CopyValue(metrics.CopyFailures, "testhost", "files", "locked"); v != 2 {
			t.Errorf("locked: failures %v", v)
		}
	})

	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestDaemonCopyToS3 keeps an offsite copy in a real S3 server: the
// daemon copies each new snapshot into the bucket with the copy's own
// storage options and credentials from its environment, applies the
// source's retention there, and the copy restores the source's files.
func TestDaemonCopyToS3(t *testing.T) {
	srv := s3test.New(t)
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 2, 2<<20, 31)
	writeRandomFiles(t, filepath.Join(src, "small"), 10, 3000, 32)
	offsite := newCLIAt(t, srv.Location("offsite"), s3Env(srv)...)
	offsite.ok("init", "--insecure-kdf")

	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
host: testhost
socket: %s
copies:
  - name: offsite
    repository: %s
    password_file: %s
    connections: 2
    retries: 3
    verify_writes: true
    limit_requests: 500
    apply_retention: true
sources:
  - name: files
    paths: [%s]
    retention: {keep_last: 1}
    copy_to: [offsite]
`, c.repoDir(), c.passwordFile(), c.getenv("CAIRN_CACHE_DIR"), sock, offsite.repoDir(), offsite.passwordFile(), src)), 0o600)
	d := startDaemon(t, c, cfgPath, sock, s3Env(srv)...)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	c.ok("run", "files")
	f, err := os.OpenFile(filepath.Join(src, "small", "fb"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("changed")
	f.Close()
	out := c.ok("run", "files")
	if !strings.Contains(out, "source files: copy to offsite: 1 snapshot copied") {
		t.Fatalf("second run printed:\n%s", out)
	}
	d.waitLog(`source files: copy to offsite: retention removed 1 snapshot, kept 1`, 30*time.Second)
	main, list := snapshotsOf(t, c, "files"), snapshotsOf(t, offsite, "files")
	if len(main) != 1 || len(list) != 1 || list[0].CopiedFrom != main[0].ID {
		t.Fatalf("offsite has %+v, want a copy of %+v only", list, main)
	}
	st := copyStatus(t, c, "files")
	if o := st["offsite"]; o.Outcome != daemon.OutcomeSuccess || o.Removed != 1 || o.AddedBytes <= 0 || o.AddedBytes > 100_000 {
		t.Errorf("offsite after the second run (only the changed file's data is new): %+v", o)
	}
	dst := filepath.Join(work, "restored")
	offsite.ok("restore", "latest:"+src, "--target", dst)
	rsyncSame(t, src, dst)
	offsite.ok("check", "--read-data")
	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}
