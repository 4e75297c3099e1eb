package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
)

// The selection options reach the daemon: a source's config keys and an
// ingest's flags sent through the socket leave out what a direct ingest
// leaves out, and a daemon refuses an option it does not know rather than
// ingest without it.
func TestDaemonIngestSelection(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	for name, data := range map[string]string{
		"keep.txt":          "kept",
		"Drop.TMP":          "dropped by iexclude",
		"private/.nobackup": "",
		"private/secret":    "dropped by exclude_if_present",
		"large.bin":         strings.Repeat("x", 4096),
	} {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nhost: h\n"+
		"sources:\n  - {name: sel, paths: [%s], iexclude: ['*.tmp'], exclude_if_present: [.nobackup], exclude_larger_than: 1KiB}\n",
		c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, src)), 0o600)
	d := startDaemon(t, c, cfgPath, sock)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	want := strings.Join([]string{src, src + "/keep.txt", src + "/private", src + "/private/.nobackup"}, "\n") + "\n"
	c.ok("run", "sel")
	if got := c.ok("ls", "--source", "sel", "latest:"+src); got != want {
		t.Errorf("the daemon's source took:\n%swant:\n%s", got, want)
	}
	c.ok("ingest", "--source", "cli", "--iexclude", "*.TMP", "--exclude-if-present", ".nobackup", "--exclude-larger-than", "1KiB", "--force", src)
	d.waitLog(`client ingest of 1 path \(source "cli"\) over the socket`, 0)
	if got := c.ok("ls", "--source", "cli", "latest:"+src); got != want {
		t.Errorf("an ingest through the daemon took:\n%swant:\n%s", got, want)
	}
	// Without --source the journal names the source the snapshot gets,
	// not an empty one (it said: source "").
	c.ok("ingest", src)
	d.waitLog(`client ingest of 1 path \(source "default"\) over the socket`, 10*time.Second)

	// A request with an option this daemon does not know.
	hc := http.Client{Transport: &http.Transport{Dial: func(string, string) (net.Conn, error) { return daemon.DialUnix(context.Background(), "unix", sock) }}}
	resp, err := hc.Post("http://cairn/v1/ingest", "application/x-ndjson",
		bytes.NewReader([]byte(`{"paths":["`+src+`"],"exclude_newer_than":"1d"}`+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.String(), `unknown field \"exclude_newer_than\"`) {
		t.Errorf("an unknown option got %s: %s", resp.Status, body.String())
	}
}
