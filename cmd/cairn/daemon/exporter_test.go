package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
)

// Healthchecks-style pings: URL/start when a source starts, URL on
// success, URL/fail on failure; a source's ping_url overrides
// metrics.ping_url.
func TestPingURL(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		got = append(got, req.Method+" "+req.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644)
	good := Source{Name: "good", Paths: []string{dir}, PingURL: srv.URL + "/own"}
	bad := Source{Name: "bad", Paths: []string{dir}, Before: []Hook{{Command: Command{"/bin/sh", "-c", "exit 3"}}}}
	quiet := Source{Name: "quiet", Paths: []string{dir}}
	cfg := &Config{Host: "h", Sources: []Source{good, bad}, Metrics: &Metrics{PingURL: srv.URL + "/default"}}
	d, _ := newTestDaemon(t, cfg)
	ctx := context.Background()
	if res := d.runSource(ctx, good, nil); res.Outcome != OutcomeSuccess {
		t.Fatalf("good: %+v", res)
	}
	if res := d.runSource(ctx, bad, nil); res.Outcome != OutcomeFailure {
		t.Fatalf("bad: %+v", res)
	}
	want := []string{"GET /default/fail", "GET /default/start", "GET /own", "GET /own/start"}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= len(want) })
	d.cfgMu.Lock()
	d.cfg = &Config{Host: "h", Sources: []Source{quiet}}
	d.cfgMu.Unlock()
	d.runSource(ctx, quiet, nil) // no ping_url anywhere: no ping
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("pings %q, want %q", got, want)
	}
}

// A source a reload removes loses its series: its last success must not
// stay behind, growing old, until the daemon restarts.
func TestReloadDropsRemovedSourceMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.yaml")
	write := func(sources ...string) {
		y := "repository: /r\nhost: alpha\nsources:\n"
		for _, s := range sources {
			y += "  - name: " + s + "\n    paths: [" + dir + "]\n"
		}
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one", "two")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, log := newTestDaemon(t, cfg)
	now := time.Now()
	for _, name := range []string{"one", "two"} {
		d.metrics.backup("alpha", RunResult{Source: name, Outcome: OutcomeSuccess, Start: now, End: now})
	}
	write("one")
	d.deps.ConfigPath = path
	d.reload()
	if !strings.Contains(log.String(), "reloaded") {
		t.Fatalf("reload failed:\n%s", log)
	}
	if _, ok := d.metrics.set.Value(metrics.LastSuccess, "alpha", "one"); !ok {
		t.Errorf("the kept source lost its last success")
	}
	for _, f := range []string{metrics.LastSuccess, metrics.LastOK, metrics.Failures, metrics.Duration} {
		if v, ok := d.metrics.set.Value(f, "alpha", "two"); ok {
			t.Errorf("%s of the removed source still exported: %v", f, v)
		}
	}
}
