package metrics

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample is one parsed series: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

// parse reads text with Prometheus' own parser and returns the type and
// samples of each family.
func parse(t *testing.T, text string) (map[string]string, map[string][]sample) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, text)
	}
	types := map[string]string{}
	out := map[string][]sample{}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
		}
		types[name] = strings.ToLower(f.GetType().String())
		for _, m := range f.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value = m.GetGauge().GetValue()
			default:
				t.Errorf("%s: neither counter nor gauge", name)
			}
			out[name] = append(out[name], s)
		}
	}
	return types, out
}

// find returns the value of family's series for host and source.
func find(t *testing.T, got map[string][]sample, family, host, source string) float64 {
	t.Helper()
	for _, s := range got[family] {
		if s.labels["host"] == host && s.labels["source"] == source {
			return s.value
		}
	}
	t.Fatalf("%s{host=%q,source=%q} missing", family, host, source)
	return 0
}

func text(t *testing.T, s *Set) string {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var start = time.Date(2025, 3, 14, 3, 0, 0, 0, time.UTC)

func TestBackupAndRepository(t *testing.T) {
	var s Set
	s.Backup("alpha", "system", BackupResult{Start: start, End: start.Add(90 * time.Second), Success: true,
		SnapshotTime: start.Add(time.Second), AddedBytes: 123456789012, Files: 4242})
	// A partial run: a success, with the files it could not read.
	s.Backup("alpha", "home", BackupResult{Start: start, End: start.Add(time.Minute), Success: true,
		SnapshotTime: start, Files: 10, Unreadable: 2})
	s.Backup("alpha", "db", BackupResult{Start: start, End: start.Add(1500 * time.Millisecond)})
	s.Backup("alpha", "db", BackupResult{Start: start, End: start.Add(2 * time.Second)})
	s.Repository(9876543210, map[HostSource]int{{"alpha", "system"}: 12, {"beta", "system"}: 3})

	types, got := parse(t, text(t, &s))
	for fam, typ := range map[string]string{LastSnapshot: "gauge", LastSuccess: "gauge", LastOK: "gauge", Duration: "gauge",
		AddedBytes: "gauge", Files: "gauge", Unreadable: "gauge", Failures: "counter", Snapshots: "gauge", RepositorySize: "gauge"} {
		if types[fam] != typ {
			t.Errorf("%s: type %q, want %q", fam, types[fam], typ)
		}
	}
	for _, c := range []struct {
		fam, source string
		want        float64
	}{
		{LastSnapshot, "system", float64(start.Unix() + 1)},
		{LastSuccess, "system", float64(start.Unix() + 90)},
		{LastOK, "system", 1},
		{Duration, "system", 90},
		{AddedBytes, "system", 123456789012},
		{Files, "system", 4242},
		{Unreadable, "system", 0},
		{LastOK, "home", 1},
		{LastSuccess, "home", float64(start.Unix() + 60)},
		{Unreadable, "home", 2},
		{Failures, "home", 0},
		{Failures, "system", 0},
		{Snapshots, "system", 12},
		{LastOK, "db", 0},
		{Duration, "db", 2},
		{Failures, "db", 2},
	} {
		if v := find(t, got, c.fam, "alpha", c.source); v != c.want {
			t.Errorf("%s{source=%q} = %v, want %v", c.fam, c.source, v, c.want)
		}
	}
	if v := find(t, got, Snapshots, "beta", "system"); v != 3 {
		t.Errorf("beta snapshots = %v", v)
	}
	if len(got[RepositorySize]) != 1 || got[RepositorySize][0].value != 9876543210 || len(got[RepositorySize][0].labels) != 0 {
		t.Errorf("repository size: %+v", got[RepositorySize])
	}
	// A failed run without a snapshot leaves no snapshot series behind.
	for _, fam := range []string{LastSnapshot, LastSuccess, AddedBytes, Files, Unreadable} {
		for _, smp := range got[fam] {
			if smp.labels["source"] == "db" {
				t.Errorf("%s has a db series", fam)
			}
		}
	}
	// Only host and source label anything.
	for fam, ss := range got {
		for _, smp := range ss {
			for l := range smp.labels {
				if l != "host" && l != "source" {
					t.Errorf("%s has label %s", fam, l)
				}
			}
		}
	}

	// Repository replaces the counts; Drop forgets a source.
	s.Repository(1, map[HostSource]int{{"alpha", "db"}: 1})
	s.Drop("alpha", "system")
	s.Drop("alpha", "home")
	_, got = parse(t, text(t, &s))
	if len(got[Snapshots]) != 1 || got[Snapshots][0].labels["source"] != "db" {
		t.Errorf("snapshots after replace: %+v", got[Snapshots])
	}
	if _, ok := got[LastSuccess]; ok {
		t.Errorf("dropped source still there: %+v", got[LastSuccess])
	}
}

// Copies are labelled host, source and destination; a failed copy counts
// as one and keeps the last success's time.
func TestCopy(t *testing.T) {
	var s Set
	s.Backup("alpha", "system", BackupResult{Start: start, End: start.Add(time.Minute), Success: true, SnapshotTime: start})
	s.Copy("alpha", "system", "offsite", CopyResult{Start: start.Add(time.Minute), End: start.Add(3 * time.Minute), Success: true, AddedBytes: 4096, Snapshots: 2})
	s.Copy("alpha", "system", "usb", CopyResult{Start: start.Add(time.Minute), End: start.Add(time.Minute + time.Second)})
	s.Copy("alpha", "system", "offsite", CopyResult{Start: start.Add(time.Hour), End: start.Add(time.Hour + time.Second), AddedBytes: 10, Snapshots: 0})

	types, got := parse(t, text(t, &s))
	for fam, typ := range map[string]string{CopyLastSuccess: "gauge", CopyLastOK: "gauge", CopyDuration: "gauge",
		CopyAddedBytes: "gauge", CopySnapshots: "gauge", CopyFailures: "counter"} {
		if types[fam] != typ {
			t.Errorf("%s: type %q, want %q", fam, types[fam], typ)
		}
	}
	value := func(fam, dest string) float64 {
		t.Helper()
		for _, smp := range got[fam] {
			if smp.labels["host"] == "alpha" && smp.labels["source"] == "system" && smp.labels["destination"] == dest {
				if len(smp.labels) != 3 {
					t.Errorf("%s: labels %v", fam, smp.labels)
				}
				return smp.value
			}
		}
		t.Fatalf("%s{destination=%q} missing", fam, dest)
		return 0
	}
	for _, c := range []struct {
		fam, dest string
		want      float64
	}{
		{CopyLastSuccess, "offsite", float64(start.Unix() + 180)},
		{CopyLastOK, "offsite", 0},
		{CopyDuration, "offsite", 1},
		{CopyAddedBytes, "offsite", 10},
		{CopySnapshots, "offsite", 0},
		{CopyFailures, "offsite", 1},
		{CopyLastOK, "usb", 0},
		{CopyFailures, "usb", 1},
	} {
		if v := value(c.fam, c.dest); v != c.want {
			t.Errorf("%s{destination=%q} = %v, want %v", c.fam, c.dest, v, c.want)
		}
	}
	if _, ok := got[CopyLastSuccess]; ok && len(got[CopyLastSuccess]) != 1 {
		t.Errorf("a last success for a destination that never succeeded: %+v", got[CopyLastSuccess])
	}
	// The source's own series keep two labels.
	if v := find(t, got, LastOK, "alpha", "system"); v != 1 {
		t.Errorf("backup series: %v", v)
	}

	// Read back, destination label included.
	var back Set
	if err := back.ReadText(strings.NewReader(text(t, &s))); err != nil {
		t.Fatal(err)
	}
	if v, ok := back.CopyValue(CopyFailures, "alpha", "system", "usb"); !ok || v != 1 {
		t.Errorf("read back: %v %v", v, ok)
	}
	if text(t, &back) != text(t, &s) {
		t.Errorf("read back differs:\n%s\nwant\n%s", text(t, &back), text(t, &s))
	}
	// Dropping the source drops its copies' series.
	s.Drop("alpha", "system")
	if out := text(t, &s); strings.Contains(out, "copy") {
		t.Errorf("copy series left after Drop:\n%s", out)
	}
}

func TestEscaping(t *testing.T) {
	var s Set
	host, source := `we"ird\host`, "line\nbreak ünïcode"
	s.Backup(host, source, BackupResult{Start: start, End: start.Add(time.Second), Success: true})
	out := text(t, &s)
	if !strings.Contains(out, `host="we\"ird\\host",source="line\nbreak ünïcode"`) {
		t.Errorf("labels not escaped:\n%s", out)
	}
	_, got := parse(t, out)
	if v := find(t, got, LastOK, host, source); v != 1 {
		t.Errorf("value %v", v)
	}
	// And back through our own reader.
	var back Set
	if err := back.ReadText(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	if v, ok := back.Value(LastOK, host, source); !ok || v != 1 {
		t.Errorf("read back: %v %v", v, ok)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1741921200: "1741921200", 1.5: "1.5", 1741921200.25: "1741921200.25", -3: "-3", 1e20: "100000000000000000000"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteFileCarriesOn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.prom")
	s, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Backup("h", "db", BackupResult{Start: start, End: start.Add(time.Minute), Success: true, SnapshotTime: start, Files: 1})
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	// The next run (a new process) fails: the counter grows and the last
	// success stays.
	s, err = LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Backup("h", "db", BackupResult{Start: start.Add(time.Hour), End: start.Add(time.Hour + time.Second)})
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, got := parse(t, string(b))
	if v := find(t, got, Failures, "h", "db"); v != 1 {
		t.Errorf("failures = %v", v)
	}
	if v := find(t, got, LastSuccess, "h", "db"); v != float64(start.Unix()+60) {
		t.Errorf("last success = %v", v)
	}
	if v := find(t, got, LastOK, "h", "db"); v != 0 {
		t.Errorf("last ok = %v", v)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if err := s.WriteFile(filepath.Join(dir, "missing", "x.prom")); err == nil {
		t.Error("WriteFile into a missing folder succeeded")
	}
}

func TestServeHTTP(t *testing.T) {
	var s Set
	s.Repository(5, nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != ContentType {
		t.Errorf("content type %q", ct)
	}
	_, got := parse(t, rec.Body.String())
	if got[RepositorySize][0].value != 5 {
		t.Errorf("body %q", rec.Body.String())
	}
}
