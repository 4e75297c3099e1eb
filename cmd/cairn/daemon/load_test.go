package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/forget"
)

// issueExample is the example of the issue that asked for the daemon.
const issueExample = `repository: /srv/backup
password_file: /etc/cairn/pass
sources:
  - name: system
    paths: [/etc, /home]
    exclude: ['*.tmp']
    schedule: "0 3 * * *"
    retention: {keep_daily: 7, keep_weekly: 4, keep_monthly: 6}
  - name: db
    command: [pg_dump, app]
    stdin_name: app.sql
    schedule: 6h
mount:
  path: /mnt/backup
metrics:
  listen: 127.0.0.1:9473
`

// validConfigs are accepted by Parse; schema_test checks that the schema
// accepts them too.
var validConfigs = map[string]string{
	"issue":             issueExample,
	"minimal":           "repository: s3:minio.local/bucket/prefix\n",
	"change detection":  "repository: /r\nsources:\n- {name: a, paths: [/a], ignore_inode: true, ignore_ctime: true, skip_if_unchanged: true}\n",
	"months with years": "repository: /r\nsources:\n- {name: a, paths: [/a], retention: {keep_within: 0y6m, keep_within_daily: 1y, keep_within_hourly: 2d12h, keep_within_monthly: 6m1y}}\n",
	"hooks": `repository: /srv/backup
password_command: pass show cairn
host: beta
concurrency: 2
stop_timeout: 90s
allow_uids: [1000, 1001]
sources:
  - name: db.main
    command: "pg_dump app | gzip"
    schedule: "@daily"
    random_delay: 1h
    before: [{command: [/bin/true]}, {command: "sleep 1", timeout: 1d}]
    after: [{command: [logger, done], timeout: 30s}]
    retention: {keep_within: 1y5m7d2h, keep_tag: ["", "a,b"]}
  - name: home
    paths: [/home]
    schedule: CRON_TZ=UTC 30 */2 * * MON-FRI
    retention: {keep_last: -1}
check: {schedule: 1w, read_data_subset: 1/7}
prune: {}
metrics: {listen: "[::1]:9100", ping_url: "http://hc.local/ping/abc"}
`,
	"copies": `repository: /srv/backup
copies:
  - name: offsite
    repository: s3:https://s3.example.com/offsite/alpha
    password_file: /etc/cairn/offsite.pass
    connections: 2
    retries: 10
    verify_writes: false
    metadata_cache: false
    s3_virtual_host: true
    limit_requests: 5
    limit_bytes: 1MiB
    apply_retention: true
  - name: usb
    repository: local:/media/usb/cairn
    password_command: cat /etc/cairn/usb.pass
copy_to: [offsite]
sources:
  - name: default
    paths: [/a]
    retention: {keep_last: 3}
  - name: both
    paths: [/b]
    copy_to: [usb, offsite]
  - name: none
    paths: [/c]
    copy_to: []
`,
	"anchors": `repository: /srv/backup
x-hooks: &hooks
  before: [{command: "true"}]
  x-note: ignored
sources:
  - name: a
    paths: [/a]
    <<: *hooks
  - name: b
    paths: [/b]
    <<: [*hooks]
    before: []
`,
}

func TestParseIssueExample(t *testing.T) {
	c, err := Parse("cairn.yaml", []byte(issueExample))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := &Config{
		Repository:   "/srv/backup",
		PasswordFile: "/etc/cairn/pass",
		Host:         host,
		Socket:       DefaultSocket,
		Concurrency:  1,
		StopTimeout:  Duration(time.Minute),
		Sources: []Source{
			{Name: "system", Paths: []string{"/etc", "/home"}, Exclude: []string{"*.tmp"}, Schedule: "0 3 * * *",
				Retention: &Retention{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}},
			{Name: "db", Command: Command{"pg_dump", "app"}, StdinName: "app.sql", Schedule: "6h"},
		},
		Mount:   &Mount{Path: "/mnt/backup"},
		Metrics: &Metrics{Listen: "127.0.0.1:9473"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseExample(t *testing.T) {
	c, err := Parse("cairn.example.yaml", Example)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 3 {
		t.Fatalf("%d sources", len(c.Sources))
	}
	db, etcd := c.Sources[1], c.Sources[2]
	if db.RandomDelay != Duration(15*time.Minute) {
		t.Errorf("merged random_delay = %v", db.RandomDelay)
	}
	if db.Before[0].Timeout != Duration(30*time.Second) || c.Sources[0].Before[0].Timeout != Duration(5*time.Minute) {
		t.Errorf("hook timeouts %v %v", db.Before[0].Timeout, c.Sources[0].Before[0].Timeout)
	}
	if len(etcd.Command) != 3 || etcd.Command[0] != "/bin/sh" || etcd.Command[1] != "-c" {
		t.Errorf("shell command = %q", etcd.Command)
	}
	if c.VerifyWrites == nil || !*c.VerifyWrites {
		t.Error("verify_writes not read")
	}
	for _, s := range c.Sources {
		if s.Retention == nil {
			continue
		}
		if _, err := s.Retention.Policy(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	if len(c.Copies) != 2 || !c.Copies[0].ApplyRetention || c.Copies[1].PasswordCommand == "" {
		t.Errorf("copies: %+v", c.Copies)
	}
	for i, want := range [][]string{{"offsite", "usb"}, {"offsite"}, {}} {
		if got := c.Sources[i].CopyTo; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: copy_to %q, want %q", c.Sources[i].Name, got, want)
		}
	}
	if s, err := c.Check.Subset(); err != nil || s == nil || s.String() != "10%" {
		t.Errorf("subset %v %v", s, err)
	}
}

// copy_to: a source's own list wins; left out (or null) it is the
// top-level one; an empty list copies nowhere.
func TestParseCopies(t *testing.T) {
	c, err := Parse("copies.yaml", []byte(validConfigs["copies"]))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"offsite"}, {"usb", "offsite"}, {}} {
		if got := c.Sources[i].CopyTo; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: copy_to %q, want %q", c.Sources[i].Name, got, want)
		}
	}
	off := c.Copy("offsite")
	f := false
	want := &Copy{Name: "offsite", Repository: "s3:https://s3.example.com/offsite/alpha", PasswordFile: "/etc/cairn/offsite.pass",
		Connections: 2, Retries: 10, VerifyWrites: &f, MetadataCache: &f, S3VirtualHost: true, LimitRequests: 5, LimitBytes: "1MiB", ApplyRetention: true}
	if !reflect.DeepEqual(off, want) {
		t.Errorf("offsite = %+v\nwant %+v", off, want)
	}
	if st := off.Storage(); st.Connections != 2 || st.LimitBytes != "1MiB" || *st.VerifyWrites {
		t.Errorf("storage of offsite: %+v", st)
	}
	if c.Copy("nope") != nil {
		t.Error("Copy of an unknown name")
	}
	// null is left out, as everywhere in the file.
	c, err = Parse("null.yaml", []byte(validConfigs["copies"]+"  - {name: null-list, paths: [/e], copy_to: null}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources[3].CopyTo; !reflect.DeepEqual(got, []string{"offsite"}) {
		t.Errorf("copy_to: null gave %q", got)
	}
	// No copies at all: nothing to copy to.
	c, _ = Parse("issue.yaml", []byte(issueExample))
	for _, s := range c.Sources {
		if len(s.CopyTo) != 0 {
			t.Errorf("%s: copy_to %q without copies", s.Name, s.CopyTo)
		}
	}
}

func TestParseValid(t *testing.T) {
	for name, y := range validConfigs {
		c, err := Parse(name+".yaml", []byte(y))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, s := range c.Sources {
			for _, h := range append(append([]Hook(nil), s.Before...), s.After...) {
				if h.Timeout <= 0 {
					t.Errorf("%s: hook %q has no timeout", name, h.Command)
				}
			}
			if len(s.Command) > 0 && s.StdinName == "" {
				t.Errorf("%s: source %s has no stdin_name", name, s.Name)
			}
		}
	}
	c, _ := Parse("hooks.yaml", []byte(validConfigs["hooks"]))
	if got := c.Sources[0].StdinName; got != "db.main" {
		t.Errorf("default stdin_name = %q", got)
	}
	if got := c.Sources[0].Command; !reflect.DeepEqual(got, Command{"/bin/sh", "-c", "pg_dump app | gzip"}) {
		t.Errorf("command = %q", got)
	}
	if got := c.Sources[0].Before[1].Timeout; got != Duration(24*time.Hour) {
		t.Errorf("timeout 1d = %v", got)
	}
	c, _ = Parse("anchors.yaml", []byte(validConfigs["anchors"]))
	if len(c.Sources[0].Before) != 1 || len(c.Sources[1].Before) != 0 {
		t.Errorf("merge keys: before %v / %v", c.Sources[0].Before, c.Sources[1].Before)
	}
}

// parseErrors are configs Parse refuses, with the FILE:LINE:COL: message
// (a part of it) of each problem, in order.
var parseErrors = []struct {
	name, yaml string
	want       []string
}{
	{"empty", "", []string{"c.yaml:1:1: empty config"}},
	{"syntax", "repository: /x\nsources: [\n", []string{"c.yaml:2: did not find expected node content"}},
	{"no repository", "host: a\n", []string{"c.yaml:1:1: repository: is required"}},
	{"relative repository", "repository: backup\n", []string{"c.yaml:1:13: repository: a local repository must be an absolute path"}},
	{"unknown key", "repository: /r\nconections: 3\n", []string{`c.yaml:2:1: unknown key "conections"; did you mean "connections"?`}},
	{"repeated key", "repository: /r\nhost: a\nhost: b\n", []string{`c.yaml:3:1: key "host" repeated (first at line 2)`}},
	{"wrong types", "repository: [a]\nconcurrency: two\ns3_virtual_host: 1\nlimit_requests: x\nallow_uids: 5\nhost: 12\n", []string{
		"c.yaml:1:13: repository: want a string, not a list",
		`c.yaml:2:14: concurrency: want an integer, not a string ("two")`,
		"c.yaml:3:18: s3_virtual_host: want true or false, not an integer (1)",
		`c.yaml:4:17: limit_requests: want a number, not a string ("x")`,
		"c.yaml:5:13: allow_uids: want a list, not an integer (5)",
		"c.yaml:6:7: host: want a string, not an integer (12): quote it",
	}},
	{"both passwords", "repository: /r\npassword_file: /p\npassword_command: x\n", []string{"c.yaml:3:19: password_command: password_file and password_command exclude each other"}},
	{"bad durations", "repository: /r\nstop_timeout: 5x\nsources: [{name: a, paths: [/a], random_delay: 10, before: [{command: x, timeout: -1s}]}]\n", []string{
		`c.yaml:2:15: stop_timeout: duration "5x": unknown unit "x"`,
		"c.yaml:3:48: sources[0] (a).random_delay: duration 10: missing unit",
		`c.yaml:3:83: sources[0] (a).before[0].timeout: duration "-1s": must not have a sign`,
	}},
	{"zero timeouts", "repository: /r\nstop_timeout: 0s\nsources: [{name: a, paths: [/a], after: [{command: x, timeout: 0}]}]\n", []string{
		"c.yaml:2:15: stop_timeout: must be longer than 0",
		"c.yaml:3:64: sources[0] (a).after[0].timeout: must be longer than 0",
	}},
	{"bad schedules", "repository: /r\nsources:\n- {name: a, paths: [/a], schedule: '61 3 * * *'}\n- {name: b, paths: [/b], schedule: every day}\n- {name: c, paths: [/c], schedule: '0 0 30 2 *'}\n- {name: d, paths: [/d], schedule: '@every 1h'}\ncheck: {schedule: 0s}\n", []string{
		"c.yaml:3:36: sources[0] (a).schedule:",
		"c.yaml:4:36: sources[1] (b).schedule:",
		`c.yaml:5:36: sources[2] (c).schedule: schedule "0 0 30 2 *" never fires`,
		`c.yaml:6:36: sources[3] (d).schedule: schedule "@every 1h": write the interval alone`,
		"c.yaml:7:19: check.schedule:",
	}},
	{"sources", `repository: /r
sources:
  - name: a
    paths: [/a]
  - name: a
    command: [x]
    paths: [b]
  - paths: [/c]
  - name: 'bad/name'
  - name: d
    command: x
    exclude: ['*.o']
    stdin_name: a/b
  - name: e
    paths: [/e]
    stdin_name: e
    tags: ['x,y']
`, []string{
		`c.yaml:5:11: sources[1] (a).name: source name "a" repeated (first at line 3)`,
		"c.yaml:6:14: sources[1] (a).command: a source has paths or a command, not both",
		`c.yaml:7:13: sources[1] (a).paths[0]: want an absolute path, not "b"`,
		"c.yaml:8:5: sources[2].name: a source needs a name",
		"c.yaml:9:5: sources[3]: a source needs paths",
		`c.yaml:9:11: sources[3].name: "bad/name" is not a source name`,
		"c.yaml:12:14: sources[4] (d).exclude: only applies to a source with paths",
		`c.yaml:13:17: sources[4] (d).stdin_name: "a/b" is not a file name`,
		"c.yaml:16:17: sources[5] (e).stdin_name: only applies to a source with a command",
		`c.yaml:17:12: sources[5] (e).tags[0]: "x,y" is not a tag`,
	}},
	{"selection", "repository: /r\nsources:\n- {name: a, paths: [/a], iexclude: ['['], iexclude_file: [x], exclude_if_present: ['a/b'], exclude_larger_than: 2X}\n- {name: b, command: x, exclude_larger_than: 1G}\n", []string{
		`c.yaml:3:37: sources[0] (a).iexclude[0]: bad pattern "["`,
		`c.yaml:3:59: sources[0] (a).iexclude_file[0]: want an absolute path, not "x"`,
		`c.yaml:3:84: sources[0] (a).exclude_if_present[0]: "a/b" is not a file name`,
		`c.yaml:3:113: sources[0] (a).exclude_larger_than: "2X" is not a size`,
		"c.yaml:4:46: sources[1] (b).exclude_larger_than: only applies to a source with paths",
	}},
	{"change detection", "repository: /r\nsources:\n- {name: a, paths: [/a], ignore_inode: true, ignore_ctime: true, skip_if_unchanged: true}\n- {name: b, command: x, ignore_inode: true, skip_if_unchanged: true}\n", []string{
		"c.yaml:4:39: sources[1] (b).ignore_inode: only applies to a source with paths",
		"c.yaml:4:64: sources[1] (b).skip_if_unchanged: only applies to a source with paths",
	}},
	{"hooks", "repository: /r\nsources: [{name: a, paths: [/a], before: [{timeout: 1m}, {command: ''}, {command: []}, {command: [1]}]}]\n", []string{
		"c.yaml:2:43: sources[0] (a).before[0]: a hook needs a command",
		"c.yaml:2:68: sources[0] (a).before[1].command: empty command",
		"c.yaml:2:83: sources[0] (a).before[2].command: empty command",
		"c.yaml:2:98: sources[0] (a).before[3].command: command arguments must be strings, not an integer (1)",
	}},
	{"retention", "repository: /r\nsources:\n- {name: a, paths: [/a], retention: {}}\n- {name: b, paths: [/b], retention: {keep_daily: -2, keep_within: 1w}}\n- {name: c, paths: [/c], retention: {keep_lats: 1}}\n", []string{
		"c.yaml:3:37: sources[0] (a).retention: a retention policy without any keep_* rule",
		"c.yaml:4:50: sources[1] (b).retention.keep_daily: -2 is not a count",
		"c.yaml:4:67: sources[1] (b).retention.keep_within:",
		`c.yaml:5:38: sources[2] (c).retention: unknown key "keep_lats"; did you mean "keep_last"?`,
	}},
	{"mount and metrics", "repository: /r\nmount: {allow_other: true}\nmetrics: {listen: '0.0.0.0:9473', ping_url: 'ftp://x'}\n", []string{
		"c.yaml:2:8: mount.path: is required",
		`c.yaml:3:19: metrics.listen: "0.0.0.0:9473": metrics are served without authentication`,
		`c.yaml:3:45: metrics.ping_url: "ftp://x" is not an http or https URL`,
	}},
	{"misc", "repository: /r\nsocket: run/s\nconcurrency: 0\nconnections: -1\nlimit_bytes: 20 parsecs\ncheck: {read_data_subset: 200MiB}\nmount: {path: mnt}\nmetrics: {listen: 'localhost'}\n", []string{
		`c.yaml:2:9: socket: want an absolute path, not "run/s"`,
		"c.yaml:3:14: concurrency: must be at least 1, not 0",
		"c.yaml:4:14: connections: must be at least 0, not -1",
		`c.yaml:5:14: limit_bytes: "20 parsecs" is not a size`,
		`c.yaml:6:27: check.read_data_subset: subset "200MiB"`,
		`c.yaml:7:15: mount.path: want an absolute path, not "mnt"`,
		`c.yaml:8:19: metrics.listen: "localhost" is not host:port`,
	}},
	{"no cascade", "repository: /r\nsources: [{name: a, command: '', before: [{command: x, timeout: 5}]}]\n", []string{
		"c.yaml:2:30: sources[0] (a).command: empty command",
		"c.yaml:2:65: sources[0] (a).before[0].timeout: duration 5: missing unit",
	}},
	{"two documents", "repository: /r\n---\nrepository: /s\n", []string{"c.yaml:2:1: a second YAML document"}},
	{"copies", `repository: /r
copies:
  - name: offsite
    password_file: /p
  - name: usb
    repository: /media/usb
  - name: offsite
    repository: /r/
    password_file: /p
    password_command: x
  - name: 'a b'
    repository: backup
    password_file: p
    pasword_command: x
  - repository: /media/usb
    password_command: x
    connections: -1
    limit_bytes: fast
copy_to: [usb, offsite, usb]
sources:
  - name: a
    paths: [/a]
    copy_to: [ofsite]
  - name: b
    copy_to: [usb, disk]
  - name: c
    paths: [/c]
    copy_to: offsite
`, []string{
		"c.yaml:3:5: copies[0] (offsite).repository: is required",
		"c.yaml:5:5: copies[1] (usb): a copy needs password_file or password_command",
		`c.yaml:7:11: copies[2] (offsite).name: copy name "offsite" repeated (first at line 3)`,
		"c.yaml:8:17: copies[2] (offsite).repository: is the daemon's own repository",
		"c.yaml:10:23: copies[2] (offsite).password_command: password_file and password_command exclude each other",
		`c.yaml:11:11: copies[3].name: "a b" is not a copy name`,
		`c.yaml:12:17: copies[3].repository: a local repository must be an absolute path, not "backup"`,
		`c.yaml:13:20: copies[3].password_file: want an absolute path, not "p"`,
		`c.yaml:14:5: copies[3]: unknown key "pasword_command"; did you mean "password_command"?`,
		"c.yaml:15:5: copies[4].name: a copy needs a name",
		"c.yaml:15:17: copies[4].repository: the same repository as copies[1]",
		"c.yaml:17:18: copies[4].connections: must be at least 0, not -1",
		`c.yaml:18:18: copies[4].limit_bytes: "fast" is not a size`,
		`c.yaml:19:25: copy_to[2]: copy "usb" named twice`,
		`c.yaml:23:15: sources[0] (a).copy_to[0]: no copy named "ofsite"; did you mean "offsite"?`,
		`c.yaml:24:5: sources[1] (b): a source needs paths`,
		`c.yaml:25:20: sources[1] (b).copy_to[1]: no copy named "disk" in copies (offsite, usb)`,
		"c.yaml:28:14: sources[2] (c).copy_to: want a list, not a string",
	}},
	{"copy_to without copies", "repository: /r\nsources: [{name: a, paths: [/a], copy_to: [offsite]}]\n", []string{
		`c.yaml:2:44: sources[0] (a).copy_to[0]: no copy named "offsite": the config has no copies`,
	}},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrors {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if c != nil {
				t.Error("returned a config with an error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not an *Error", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(p, []byte("repository: /r\nhost: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || err.Error() != p+":2:7: host: want a string, not a list" {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"0": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "1d": 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1.5h": 90 * time.Minute, "250ms": 250 * time.Millisecond, "10µs": 10 * time.Microsecond,
	} {
		got, err := ParseDuration(s)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "5", "-1h", "+1h", "1x", "h", "1h 2m", "1..5h", "999999999w"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, d)
		}
	}
}

func TestRetentionPolicy(t *testing.T) {
	r := &Retention{KeepLast: 2, KeepDaily: -1, KeepWithinWeekly: "1y2m", KeepTag: []string{"a,b", ""}}
	p, err := r.Policy()
	if err != nil {
		t.Fatal(err)
	}
	want := forget.Policy{Last: 2, Daily: forget.Unlimited, WithinWeekly: forget.Duration{Years: 1, Months: 2},
		Tags: []repo.TagList{{"a", "b"}, {}}}
	if p.String() != want.String() || len(p.Tags) != 2 {
		t.Errorf("Policy = %v, want %v", p, want)
	}
	for _, bad := range []*Retention{{}, {KeepHourly: -3}, {KeepWithin: "3w"}} {
		if _, err := bad.Policy(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestCheckSubset(t *testing.T) {
	var nilCheck *Check
	if s, err := nilCheck.Subset(); s != nil || err != nil {
		t.Errorf("nil check: %v %v", s, err)
	}
	if s, err := (&Check{ReadDataSubset: "2/7"}).Subset(); err != nil || s.String() != "2/7" {
		t.Errorf("2/7: %v %v", s, err)
	}
	if _, err := (&Check{ReadDataSubset: "0%"}).Subset(); err == nil {
		t.Error("0% accepted")
	}
}
