// Package metrics keeps cairn's Prometheus metrics and writes them in the
// text exposition format, without a client library: the daemon serves
// them over HTTP, and `cairn ingest --metrics-file` writes them for
// node_exporter's textfile collector.
//
// # Families
//
// Per source, labelled host and source (never a snapshot ID, which would
// make a new series for every run):
//
//	cairn_last_snapshot_timestamp_seconds  time of the newest snapshot written
//	cairn_last_success_timestamp_seconds   end of the last successful run
//	cairn_last_backup_success              1 if the last run succeeded, else 0
//	cairn_backup_duration_seconds          length of the last run
//	cairn_backup_added_bytes               bytes the last snapshot added
//	cairn_backup_files                     files in the last snapshot
//	cairn_backup_unreadable_files          files the last snapshot could not read
//	cairn_source_failures_total            failed runs (counter)
//	cairn_snapshots                        snapshots in the repository
//
// A partial run (exit code 3: the snapshot was saved, but some files could
// not be read) is a success: cairn_last_backup_success is 1 and the last
// success time moves on, while cairn_backup_unreadable_files says how many
// files it missed (0 after a complete run). Alert on it being above 0 to
// hear of partial runs.
//
// For the whole repository, unlabelled: cairn_repository_size_bytes.
//
// Per source and copy destination (the daemon's copies), labelled host,
// source and destination:
//
//	cairn_copy_last_success_timestamp_seconds  end of the last copy that succeeded
//	cairn_last_copy_success                    1 if the last copy succeeded, else 0
//	cairn_copy_duration_seconds                length of the last copy
//	cairn_copy_added_bytes                     bytes the last copy added to the destination
//	cairn_copy_snapshots                       snapshots the last copy copied
//	cairn_copy_failures_total                  failed copies (counter)
//
// A copy that fails does not make its source's run fail: alert on
// cairn_last_copy_success being 0, or on the last success growing old.
//
// A one-shot `cairn ingest` keeps counters and the last success across
// runs by reading its previous file back (LoadFile) before writing it anew.
package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Family names.
const (
	LastSnapshot   = "cairn_last_snapshot_timestamp_seconds"
	LastSuccess    = "cairn_last_success_timestamp_seconds"
	LastOK         = "cairn_last_backup_success"
	Duration       = "cairn_backup_duration_seconds"
	AddedBytes     = "cairn_backup_added_bytes"
	Files          = "cairn_backup_files"
	Unreadable     = "cairn_backup_unreadable_files"
	Failures       = "cairn_source_failures_total"
	Snapshots      = "cairn_snapshots"
	RepositorySize = "cairn_repository_size_bytes"

	CopyLastSuccess = "cairn_copy_last_success_timestamp_seconds"
	CopyLastOK      = "cairn_last_copy_success"
	CopyDuration    = "cairn_copy_duration_seconds"
	CopyAddedBytes  = "cairn_copy_added_bytes"
	CopySnapshots   = "cairn_copy_snapshots"
	CopyFailures    = "cairn_copy_failures_total"
)

// Labels of a family.
const (
	unlabelled = iota
	bySource   // host, source
	byCopy     // host, source, destination
)

type family struct {
	name, help, typ string
	labels          int // unlabelled, bySource or byCopy
}

// families are written in this order.
var families = []family{
	{LastSnapshot, "Time of the newest snapshot a source wrote, in seconds since the epoch.", "gauge", bySource},
	{LastSuccess, "End of the last successful run of a source (partial runs included), in seconds since the epoch.", "gauge", bySource},
	{LastOK, "Whether the last run of a source succeeded (1) or failed (0); a partial run, which saved a snapshot without some unreadable files, succeeded: see cairn_backup_unreadable_files.", "gauge", bySource},
	{Duration, "How long the last run of a source took, in seconds.", "gauge", bySource},
	{AddedBytes, "Bytes the last snapshot of a source added to the repository.", "gauge", bySource},
	{Files, "Files in the last snapshot of a source.", "gauge", bySource},
	{Unreadable, "Files the last snapshot of a source could not read (above 0: a partial run, exit code 3).", "gauge", bySource},
	{Failures, "Runs of a source that failed.", "counter", bySource},
	{Snapshots, "Snapshots of a host and source in the repository.", "gauge", bySource},
	{RepositorySize, "Bytes stored in the repository.", "gauge", unlabelled},
	{CopyLastSuccess, "End of the last successful copy of a source's snapshots into a copy destination, in seconds since the epoch.", "gauge", byCopy},
	{CopyLastOK, "Whether the last copy of a source's snapshots into a copy destination succeeded (1) or failed (0); a failed copy does not fail the source's run.", "gauge", byCopy},
	{CopyDuration, "How long the last copy of a source's snapshots into a copy destination took, in seconds.", "gauge", byCopy},
	{CopyAddedBytes, "Bytes the last copy of a source's snapshots added to a copy destination.", "gauge", byCopy},
	{CopySnapshots, "Snapshots the last copy of a source's snapshots copied into a copy destination.", "gauge", byCopy},
	{CopyFailures, "Copies of a source's snapshots into a copy destination that failed.", "counter", byCopy},
}

func lookup(name string) (family, bool) {
	for _, f := range families {
		if f.name == name {
			return f, true
		}
	}
	return family{}, false
}

// HostSource names the series of one source of one host.
type HostSource struct{ Host, Source string }

type key struct {
	family string
	HostSource
	dest string // the copy destination, for the copy families
}

// BackupResult is the outcome of one run of a source.
type BackupResult struct {
	Start, End time.Time
	// Success is false when the run failed (a before hook, the ingest or
	// the retention). A run that saved a snapshot but could not read some
	// files (exit code 3) is a success.
	Success bool
	// SnapshotTime is the time of the snapshot written, zero if none.
	SnapshotTime time.Time
	AddedBytes   int64
	Files        int64
	// Unreadable counts the files the snapshot could not read.
	Unreadable int64
}

// Set holds the current value of every series. It is safe for concurrent
// use; the zero Set is empty and ready.
type Set struct {
	mu     sync.Mutex
	values map[key]float64
}

func (s *Set) set(k key, v float64) {
	if s.values == nil {
		s.values = map[key]float64{}
	}
	s.values[k] = v
}

// Backup records a run of source on host.
func (s *Set) Backup(host, source string, r BackupResult) {
	hs := HostSource{host, source}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(key{family: Duration, HostSource: hs}, r.End.Sub(r.Start).Seconds())
	if !r.SnapshotTime.IsZero() {
		s.set(key{family: LastSnapshot, HostSource: hs}, unixSeconds(r.SnapshotTime))
		s.set(key{family: AddedBytes, HostSource: hs}, float64(r.AddedBytes))
		s.set(key{family: Files, HostSource: hs}, float64(r.Files))
		s.set(key{family: Unreadable, HostSource: hs}, float64(r.Unreadable))
	}
	fails := s.values[key{family: Failures, HostSource: hs}] // creates the series at 0
	if r.Success {
		s.set(key{family: LastSuccess, HostSource: hs}, unixSeconds(r.End))
		s.set(key{family: LastOK, HostSource: hs}, 1)
	} else {
		fails++
		s.set(key{family: LastOK, HostSource: hs}, 0)
	}
	s.set(key{family: Failures, HostSource: hs}, fails)
}

// CopyResult is the outcome of one copy of a source's snapshots into a
// copy destination.
type CopyResult struct {
	Start, End time.Time
	Success    bool
	// AddedBytes and Snapshots are what the copy added, even when it
	// failed after adding some.
	AddedBytes int64
	Snapshots  int
}

// Copy records a copy of the snapshots of source on host into the copy
// destination dest.
func (s *Set) Copy(host, source, dest string, r CopyResult) {
	k := func(family string) key { return key{family, HostSource{host, source}, dest} }
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(k(CopyDuration), r.End.Sub(r.Start).Seconds())
	s.set(k(CopyAddedBytes), float64(r.AddedBytes))
	s.set(k(CopySnapshots), float64(r.Snapshots))
	fails := s.values[k(CopyFailures)] // creates the series at 0
	if r.Success {
		s.set(k(CopyLastSuccess), unixSeconds(r.End))
		s.set(k(CopyLastOK), 1)
	} else {
		fails++
		s.set(k(CopyLastOK), 0)
	}
	s.set(k(CopyFailures), fails)
}

// Repository records the size of the repository and how many snapshots
// each host and source has, replacing the previous counts (a source whose
// snapshots are all gone loses its series).
func (s *Set) Repository(sizeBytes int64, snapshots map[HostSource]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.values {
		if k.family == Snapshots {
			delete(s.values, k)
		}
	}
	s.set(key{family: RepositorySize}, float64(sizeBytes))
	for hs, n := range snapshots {
		s.set(key{family: Snapshots, HostSource: hs}, float64(n))
	}
}

// Drop removes every series of source on host, its copies' included,
// such as when a source leaves the config.
func (s *Set) Drop(host, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.values {
		if k.HostSource == (HostSource{host, source}) {
			delete(s.values, k)
		}
	}
}

// Value returns the value of a series and whether it exists; host and
// source are empty for the unlabelled families.
func (s *Set) Value(family, host, source string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key{family: family, HostSource: HostSource{host, source}}]
	return v, ok
}

// CopyValue returns the value of a copy family's series for source on
// host and the copy destination dest, and whether it exists.
func (s *Set) CopyValue(family, host, source, dest string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key{family, HostSource{host, source}, dest}]
	return v, ok
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// WriteText writes every series in the Prometheus text format (version
// 0.0.4), families in a fixed order, series sorted by host, source and
// destination.
func (s *Set) WriteText(w io.Writer) error {
	s.mu.Lock()
	byFamily := map[string][]key{}
	vals := make(map[key]float64, len(s.values))
	for k, v := range s.values {
		byFamily[k.family] = append(byFamily[k.family], k)
		vals[k] = v
	}
	s.mu.Unlock()

	bw := bufio.NewWriter(w)
	for _, f := range families {
		keys := byFamily[f.name]
		if len(keys) == 0 {
			continue
		}
		slices.SortFunc(keys, func(a, b key) int {
			return strings.Compare(a.Host+"\x00"+a.Source+"\x00"+a.dest, b.Host+"\x00"+b.Source+"\x00"+b.dest)
		})
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.typ)
		for _, k := range keys {
			bw.WriteString(f.name)
			switch f.labels {
			case bySource:
				fmt.Fprintf(bw, `{host="%s",source="%s"}`, escapeLabel(k.Host), escapeLabel(k.Source))
			case byCopy:
				fmt.Fprintf(bw, `{host="%s",source="%s",destination="%s"}`, escapeLabel(k.Host), escapeLabel(k.Source), escapeLabel(k.dest))
			}
			bw.WriteByte(' ')
			bw.WriteString(formatValue(vals[k]))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// ContentType is the media type of WriteText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// ServeHTTP answers any request with the metrics as text.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	s.WriteText(w)
}

var _ http.Handler = (*Set)(nil)

// WriteFile writes the metrics to path atomically, as node_exporter's
// textfile collector needs: to a temporary file in the same folder (whose
// name does not end in .prom), synced, made readable by all (0644), then
// renamed over path.
func (s *Set) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("metrics file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("metrics file %s: %w", path, err)
		}
	}()
	if err = s.WriteText(f); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadFile reads a file WriteFile wrote, so that a new run can carry on its
// counters and last success. A missing file gives an empty Set.
func LoadFile(path string) (*Set, error) {
	s := &Set{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := s.ReadText(f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ReadText adds the series of r, in the format WriteText writes, to s.
// Comments and families it does not know are skipped.
func (s *Set) ReadText(r io.Reader) error {
	sc := bufio.NewScanner(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, err := parseSample(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if _, ok := lookup(k.family); ok {
			s.set(k, v)
		}
	}
	return sc.Err()
}

func parseSample(line string) (key, float64, error) {
	var k key
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return k, 0, errors.New("no value")
	}
	k.family, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			name, rest, ok := strings.Cut(line, `="`)
			if !ok {
				return k, 0, errors.New("bad labels")
			}
			val, rest, err := unescapeLabel(rest)
			if err != nil {
				return k, 0, err
			}
			switch strings.TrimSpace(name) {
			case "host":
				k.Host = val
			case "source":
				k.Source = val
			case "destination":
				k.dest = val
			}
			line = rest
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return k, 0, errors.New("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return k, v, err
}

// unescapeLabel reads a label value up to its closing quote and returns it
// with the rest of the line.
func unescapeLabel(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			i++
			if i == len(s) {
				return "", "", errors.New("unterminated label value")
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated label value")
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// formatValue writes integers (counts, bytes, whole seconds) without an
// exponent, and other values as Go's shortest representation.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
