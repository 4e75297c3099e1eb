package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ingestSummary is the --json summary line of an ingest.
type ingestSummary struct {
	SnapshotID string `json:"snapshot_id"`
	ShortID    string `json:"short_id"`
	Skipped    bool   `json:"skipped"`
	Parent     string `json:"parent_snapshot_id"`
	Changed    int    `json:"files_changed"`
	Unchanged  int    `json:"files_unmodified"`
}

func summaryLine(t *testing.T, out string) ingestSummary {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var s struct {
			Type string `json:"message_type"`
			ingestSummary
		}
		if json.Unmarshal([]byte(l), &s) == nil && s.Type == "summary" {
			return s.ingestSummary
		}
	}
	t.Fatalf("no summary in:\n%s", out)
	return ingestSummary{}
}

// --parent, --ignore-inode and --skip-if-unchanged reach the daemon, as
// request fields and as source keys, and work there as they do directly.
func TestDaemonIngestParentOptions(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, name := range []string{"f", "g"} {
		p := filepath.Join(src, name)
		os.MkdirAll(src, 0o755)
		os.WriteFile(p, []byte("content of "+name), 0o644)
		os.Chtimes(p, mt, mt)
	}
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(t.TempDir(), "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nhost: h\n"+
		"sources:\n  - {name: auto, paths: [%s], ignore_inode: true, skip_if_unchanged: true}\n",
		c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, src)), 0o600)
	d := startDaemon(t, c, cfgPath, sock)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	s1 := summaryLine(t, c.ok("ingest", "--json", "--source", "cli", src))
	d.waitLog(`client ingest of 1 path \(source "cli"\) over the socket`, 0)

	// A copy onto new inodes: unchanged with --ignore-inode only.
	copyAnew := func() {
		t.Helper()
		time.Sleep(10 * time.Millisecond)
		for _, name := range []string{"f", "g"} {
			p := filepath.Join(src, name)
			b, _ := os.ReadFile(p)
			os.WriteFile(p+".new", b, 0o644)
			os.Chtimes(p+".new", mt, mt)
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyAnew()
	if s := summaryLine(t, c.ok("ingest", "--json", "--source", "cli", "--ignore-inode", src)); s.Unchanged != 2 || s.Changed != 0 {
		t.Errorf("--ignore-inode through the daemon: %+v, want both files unchanged", s)
	}
	copyAnew()
	if s := summaryLine(t, c.ok("ingest", "--json", "--source", "cli", src)); s.Changed != 2 {
		t.Errorf("a plain ingest through the daemon: %+v, want both files read", s)
	}

	// A moved ctime: unchanged with --ignore-ctime.
	time.Sleep(10 * time.Millisecond)
	os.Chmod(filepath.Join(src, "g"), 0o600)
	os.Chmod(filepath.Join(src, "g"), 0o644)
	if s := summaryLine(t, c.ok("ingest", "--json", "--source", "cli", "--ignore-ctime", src)); s.Unchanged != 2 {
		t.Errorf("--ignore-ctime through the daemon: %+v, want both files unchanged", s)
	}

	// --parent: resolved by the daemon; one it cannot find is exit 1.
	c.ok("ingest", "--json", "--source", "cli", "--parent", s1.ShortID, src)
	var latest []struct {
		Parent string `json:"parent"`
	}
	if err := json.Unmarshal([]byte(c.ok("snapshots", "--json", "--source", "cli", "latest")), &latest); err != nil || len(latest) != 1 || latest[0].Parent != s1.SnapshotID {
		t.Errorf("parent %+v (%v), want %s", latest, err, s1.SnapshotID)
	}
	_, stderr, code := c.runErr("ingest", "--source", "cli", "--parent", "deadbeef", src)
	if code != 1 || !strings.Contains(stderr, `parent: snapshot "deadbeef": not found`) {
		t.Errorf("unknown parent through the daemon: exit %d: %s", code, stderr)
	}

	// --skip-if-unchanged (a change to a folder above src, such as a
	// file made in /tmp meanwhile, is not a change to src).
	skipped := summaryLine(t, c.ok("ingest", "--json", "--source", "cli", "--skip-if-unchanged", src))
	if !skipped.Skipped || skipped.SnapshotID != "" || skipped.Parent == "" {
		t.Fatalf("--skip-if-unchanged through the daemon: %+v", skipped)
	}
	d.waitLog(`client ingest: nothing changed since snapshot `+skipped.Parent[:8]+`, none written`, 30*time.Second)

	// The source's keys: its second run finds nothing changed.
	c.ok("run", "auto")
	out := c.ok("run", "auto")
	if want := "source auto: success in "; !strings.HasPrefix(out, want) || !strings.HasSuffix(out, ", nothing changed: no snapshot written\n") {
		t.Errorf("cairn run of an unchanged source said %q", out)
	}
	var st struct {
		Sources []struct {
			Name    string `json:"name"`
			LastRun struct {
				Skipped    bool   `json:"skipped"`
				SnapshotID string `json:"snapshot_id"`
				Outcome    string `json:"outcome"`
			} `json:"last_run"`
		} `json:"sources"`
	}
	json.Unmarshal([]byte(c.ok("status", "--json")), &st)
	if len(st.Sources) != 1 || !st.Sources[0].LastRun.Skipped || st.Sources[0].LastRun.SnapshotID != "" || st.Sources[0].LastRun.Outcome != "success" {
		t.Errorf("status: %+v", st.Sources)
	}
}
