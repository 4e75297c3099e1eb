package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
)

// metricsState is the daemon's metrics: updated after every run, served
// on the configured loopback address.
type metricsState struct {
	d   *Daemon
	set *metrics.Set
}

func newMetricsState(d *Daemon) *metricsState {
	m := &metricsState{d: d, set: &metrics.Set{}}
	m.repository()
	return m
}

// serve listens on metrics.listen, when set; stop closes the server.
func (m *metricsState) serve(cfg *Config) (stop func(), err error) {
	addr := metricsListen(cfg)
	if addr == "" {
		return func() {}, nil
	}
	if !isLoopback(addr) {
		return nil, fmt.Errorf("metrics.listen %s: only a loopback address may serve metrics", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.set)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	m.d.logf("serving metrics on http://%s/metrics", ln.Addr())
	return func() { srv.Close() }, nil
}

// backup records a run, and the repository's figures after it.
func (m *metricsState) backup(host string, res RunResult) {
	m.set.Backup(host, res.Source, metrics.BackupResult{
		Start: res.Start, End: res.End, Success: res.Outcome != OutcomeFailure,
		SnapshotTime: res.SnapshotTime, AddedBytes: res.AddedBytes, Files: res.Files, Unreadable: res.Unreadable,
	})
	m.repository()
}

// dropRemoved removes the series of each source of old that cur no
// longer has: a source a reload removed must not keep a last success
// that grows old (and fires a staleness alert) until the next restart.
// Its snapshots still count in cairn_snapshots while they exist.
func (m *metricsState) dropRemoved(old, cur *Config) {
	dropped := false
	for _, s := range old.Sources {
		if !slices.ContainsFunc(cur.Sources, func(c Source) bool { return c.Name == s.Name }) {
			m.set.Drop(old.Host, s.Name)
			dropped = true
		}
	}
	if dropped {
		m.repository()
	}
}

// copied records a copy of a source's snapshots into a copy destination.
func (m *metricsState) copied(host, source string, res CopyResult) {
	m.set.Copy(host, source, res.Destination, metrics.CopyResult{
		Start: res.Start, End: res.End, Success: res.Outcome == OutcomeSuccess,
		AddedBytes: res.AddedBytes, Snapshots: res.Copied,
	})
}

// repository records the repository's size (the packs the local index
// knows) and its snapshots per host and source.
func (m *metricsState) repository() {
	r := m.d.r
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, err := r.Snapshots(ctx, func(error) {})
	if err != nil {
		m.d.logf("metrics: listing snapshots: %v", err)
		return
	}
	size, err := r.Index().PackedBytes()
	if err != nil {
		m.d.logf("metrics: repository size: %v", err)
		return
	}
	counts := map[metrics.HostSource]int{}
	for _, sn := range snaps {
		counts[metrics.HostSource{Host: sn.Host, Source: sn.Source}]++
	}
	m.set.Repository(size, counts)
}

// pingClient sends healthchecks-style pings: short timeouts, and a
// failure is only logged.
var pingClient = &http.Client{Timeout: 10 * time.Second}

func (d *Daemon) ping(base, suffix string) {
	if base == "" {
		return
	}
	url := base + suffix
	go func() {
		resp, err := pingClient.Get(url)
		if err != nil {
			d.logf("ping %s: %v", url, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			d.logf("ping %s: %s", url, resp.Status)
		}
	}()
}
