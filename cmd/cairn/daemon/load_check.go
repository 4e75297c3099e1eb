package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/forget"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// sourceName is what a source may be called: it names a folder of the
// mounted tree (hosts/<host>/<source>) and a metrics label.
var sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validate checks what the types alone cannot, each problem at the node
// of the key it is about.
func (l *loader) validate(c *Config) {
	if c.Repository == "" {
		l.report("repository", "is required")
	} else if !strings.Contains(c.Repository, ":") && !filepath.IsAbs(c.Repository) {
		l.report("repository", "a local repository must be an absolute path, not %q", c.Repository)
	}
	if c.PasswordFile != "" && c.PasswordCommand != "" {
		l.report("password_command", "password_file and password_command exclude each other")
	}
	l.absolute("password_file", c.PasswordFile)
	l.absolute("cache_dir", c.CacheDir)
	l.absolute("socket", c.Socket)
	l.storage("", c.Storage())
	for i, uid := range c.AllowUIDs {
		l.atLeast(fmt.Sprintf("allow_uids[%d]", i), uid, 0)
	}
	if l.has("concurrency") {
		l.atLeast("concurrency", c.Concurrency, 1)
	}
	l.positive("stop_timeout", c.StopTimeout)

	names := map[string]string{}
	for i := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		s := &c.Sources[i]
		if s.Name != "" {
			if first, dup := names[s.Name]; dup {
				l.report(p+".name", "source name %q repeated (first at line %d)", s.Name, l.at(first).Line)
			}
			names[s.Name] = p + ".name"
		}
		l.source(p, s)
		l.copyTo(p+".copy_to", s.CopyTo, c)
	}
	copies := map[string]string{}
	for i := range c.Copies {
		p := fmt.Sprintf("copies[%d]", i)
		cp := &c.Copies[i]
		if cp.Name != "" {
			if first, dup := copies[cp.Name]; dup {
				l.report(p+".name", "copy name %q repeated (first at line %d)", cp.Name, l.at(first).Line)
			}
			copies[cp.Name] = p + ".name"
		}
		l.copy(p, cp, c)
		for j := range i {
			if cp.Repository != "" && SameRepository(cp.Repository, c.Copies[j].Repository) {
				l.report(p+".repository", "the same repository as copies[%d]", j)
				break
			}
		}
	}
	l.copyTo("copy_to", c.CopyTo, c)
	if c.Check != nil {
		l.schedule("check.schedule", c.Check.Schedule)
		if _, err := c.Check.Subset(); err != nil {
			l.report("check.read_data_subset", "%v", err)
		}
	}
	if c.Prune != nil {
		l.schedule("prune.schedule", c.Prune.Schedule)
	}
	if c.Mount != nil {
		if c.Mount.Path == "" {
			l.report("mount.path", "is required")
		}
		l.absolute("mount.path", c.Mount.Path)
	}
	if c.Metrics != nil {
		if c.Metrics.Listen != "" {
			if err := checkLoopback(c.Metrics.Listen); err != nil {
				l.report("metrics.listen", "%v", err)
			}
		}
		l.url("metrics.ping_url", c.Metrics.PingURL)
	}
}

func (l *loader) source(p string, s *Source) {
	switch {
	case s.Name == "":
		l.report(p+".name", "a source needs a name")
	case !sourceName.MatchString(s.Name):
		l.report(p+".name", "%q is not a source name: use letters, digits, '.', '_' and '-', starting with a letter or digit", s.Name)
	}
	switch {
	case l.has(p+".paths") && l.has(p+".command"):
		l.report(p+".command", "a source has paths or a command, not both")
	case len(s.Paths) == 0 && len(s.Command) == 0 && !l.bad[p+".paths"] && !l.bad[p+".command"]:
		l.report(p, "a source needs paths (to back up files) or a command (whose output is backed up)")
	}
	for i, path := range s.Paths {
		k := fmt.Sprintf("%s.paths[%d]", p, i)
		if path == "" {
			l.report(k, "empty path")
		}
		l.absolute(k, path)
	}
	for _, k := range []struct {
		key  string
		pats []string
		file bool
	}{{"exclude", s.Exclude, false}, {"exclude_file", s.ExcludeFile, true}, {"iexclude", s.IExclude, false}, {"iexclude_file", s.IExcludeFile, true}} {
		for i, pat := range k.pats {
			at := fmt.Sprintf("%s.%s[%d]", p, k.key, i)
			if k.file {
				l.absolute(at, pat)
			} else if _, err := filter.Parse([]string{pat}); err != nil {
				l.report(at, "%v", err)
			}
		}
	}
	for i, t := range s.ExcludeIfPresent {
		if _, err := ingest.ParseTagFiles([]string{t}); err != nil {
			l.report(fmt.Sprintf("%s.exclude_if_present[%d]", p, i), "%q is not a file name, optionally followed by :header", t)
		}
	}
	if n, err := ParseBytes(s.ExcludeLargerThan); err != nil || l.has(p+".exclude_larger_than") && n <= 0 {
		l.report(p+".exclude_larger_than", "%q is not a size like 2G or 500MiB", s.ExcludeLargerThan)
	}
	if len(s.Command) > 0 {
		for _, k := range []string{"exclude", "exclude_file", "iexclude", "iexclude_file", "exclude_caches", "exclude_if_present", "exclude_larger_than", "one_file_system",
			"ignore_inode", "ignore_ctime", "skip_if_unchanged"} {
			if l.has(p + "." + k) {
				l.report(p+"."+k, "only applies to a source with paths, not to a command")
			}
		}
	}
	if l.has(p+".stdin_name") && len(s.Command) == 0 {
		l.report(p+".stdin_name", "only applies to a source with a command")
	}
	if n := s.StdinName; l.has(p+".stdin_name") && (n == "" || n == "." || n == ".." || strings.Contains(n, "/")) {
		l.report(p+".stdin_name", "%q is not a file name", n)
	}
	l.schedule(p+".schedule", s.Schedule)
	l.positive(p+".timeout", s.Timeout)
	for i, t := range s.Tags {
		if t == "" || strings.Contains(t, ",") {
			l.report(fmt.Sprintf("%s.tags[%d]", p, i), "%q is not a tag (not empty, no commas)", t)
		}
	}
	for _, k := range []string{"before", "after"} {
		hooks := s.Before
		if k == "after" {
			hooks = s.After
		}
		for i := range hooks {
			hp := fmt.Sprintf("%s.%s[%d]", p, k, i)
			if len(hooks[i].Command) == 0 && !l.has(hp+".command") {
				l.report(hp, "a hook needs a command")
			}
			l.positive(hp+".timeout", hooks[i].Timeout)
		}
	}
	if s.Retention != nil {
		l.retention(p+".retention", s.Retention)
	}
	l.url(p+".ping_url", s.PingURL)
}

// storage checks the storage options of the main repository (p "") or
// of a copy (p "copies[N].").
func (l *loader) storage(p string, s Storage) {
	l.atLeast(p+"connections", s.Connections, 0)
	l.atLeast(p+"retries", s.Retries, 0)
	if s.LimitRequests < 0 {
		l.report(p+"limit_requests", "must not be negative")
	}
	if _, err := ParseBytes(s.LimitBytes); err != nil {
		l.report(p+"limit_bytes", "%q is not a size like 20MiB, 512KiB or 1G", s.LimitBytes)
	}
}

// copy checks a copy destination: a name, another repository than the
// daemon's, and a password of its own.
func (l *loader) copy(p string, cp *Copy, c *Config) {
	switch {
	case cp.Name == "":
		l.report(p+".name", "a copy needs a name, for copy_to to name it")
	case !sourceName.MatchString(cp.Name):
		l.report(p+".name", "%q is not a copy name: use letters, digits, '.', '_' and '-', starting with a letter or digit", cp.Name)
	}
	switch {
	case cp.Repository == "":
		l.report(p+".repository", "is required")
	case !strings.Contains(cp.Repository, ":") && !filepath.IsAbs(cp.Repository):
		l.report(p+".repository", "a local repository must be an absolute path, not %q", cp.Repository)
	case c.Repository != "" && SameRepository(cp.Repository, c.Repository):
		l.report(p+".repository", "is the daemon's own repository: a copy goes to another one")
	}
	switch {
	case cp.PasswordFile != "" && cp.PasswordCommand != "":
		l.report(p+".password_command", "password_file and password_command exclude each other")
	case cp.PasswordFile == "" && cp.PasswordCommand == "" && !l.bad[p+".password_file"] && !l.bad[p+".password_command"]:
		l.report(p, "a copy needs password_file or password_command: the repository's own password is not used for another one")
	}
	l.absolute(p+".password_file", cp.PasswordFile)
	l.storage(p+".", cp.Storage())
}

// copyTo checks a list of copy names: each must be a copy of the config,
// once.
func (l *loader) copyTo(p string, names []string, c *Config) {
	seen := map[string]bool{}
	for i, n := range names {
		at := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case seen[n]:
			l.report(at, "copy %q named twice", n)
		case c.Copy(n) == nil && len(c.Copies) == 0:
			l.report(at, "no copy named %q: the config has no copies", n)
		case c.Copy(n) == nil:
			known := map[string]int{}
			var names []string
			for j, cp := range c.Copies {
				if _, dup := known[cp.Name]; !dup && sourceName.MatchString(cp.Name) {
					known[cp.Name] = j
					names = append(names, cp.Name)
				}
			}
			if hint := suggest(n, known); hint != "" {
				l.report(at, "no copy named %q%s", n, hint)
			} else {
				l.report(at, "no copy named %q in copies (%s)", n, strings.Join(names, ", "))
			}
		}
		seen[n] = true
	}
}

func (l *loader) retention(p string, r *Retention) {
	ok := true
	for k, v := range map[string]int{"keep_last": r.KeepLast, "keep_hourly": r.KeepHourly, "keep_daily": r.KeepDaily,
		"keep_weekly": r.KeepWeekly, "keep_monthly": r.KeepMonthly, "keep_yearly": r.KeepYearly} {
		if v < forget.Unlimited {
			l.report(p+"."+k, "%d is not a count (use -1 to keep every period)", v)
			ok = false
		}
	}
	for k, v := range r.withins() {
		if _, err := forget.ParseDuration(v); err != nil {
			l.report(p+"."+k, "%v", err)
			ok = false
		} else if err := withinMonths(v); err != nil {
			l.report(p+"."+k, "%v", err)
			ok = false
		}
	}
	if !ok {
		return
	}
	if _, err := r.Policy(); err != nil {
		l.report(p, "%v", err)
	}
}

// absolute reports a path that is set but not absolute: the daemon's
// working directory is nobody's business.
func (l *loader) absolute(path, v string) {
	if v != "" && !filepath.IsAbs(v) {
		l.report(path, "want an absolute path, not %q", v)
	}
}

func (l *loader) atLeast(path string, v, lo int) {
	if v < lo {
		l.report(path, "must be at least %d, not %d", lo, v)
	}
}

// positive reports a duration that is set to zero (durations cannot be
// negative).
func (l *loader) positive(path string, d Duration) {
	if l.has(path) && d <= 0 {
		l.report(path, "must be longer than 0")
	}
}

func (l *loader) schedule(path, s string) {
	if s == "" && !l.has(path) {
		return
	}
	if _, err := ParseSchedule(s); err != nil {
		l.report(path, "%v", err)
	}
}

func (l *loader) url(path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.report(path, "%q is not an http or https URL", s)
	}
}

// checkLoopback accepts host:port where host is a loopback address or
// localhost: metrics are unauthenticated.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: metrics are served without authentication, so only on a loopback address (127.0.0.1, [::1] or localhost)", addr)
	}
	return nil
}

// applyDefaults fills in what a valid config left out.
func (c *Config) applyDefaults() error {
	if c.Socket == "" {
		c.Socket = DefaultSocket
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("host not set and the host name unknown: %w", err)
		}
		c.Host = h
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		// Left out (nil): the config's. An empty list, which the loader
		// decodes as empty and not nil, copies nowhere.
		if s.CopyTo == nil {
			s.CopyTo = slices.Clone(c.CopyTo)
		}
		if len(s.Command) > 0 && s.StdinName == "" {
			s.StdinName = s.Name
		}
		for _, hooks := range [][]Hook{s.Before, s.After} {
			for j := range hooks {
				if hooks[j].Timeout == 0 {
					hooks[j].Timeout = DefaultHookTimeout
				}
			}
		}
	}
	return nil
}

// withinMonths refuses a keep_within* span that has months (m) without
// years (y). In these keys m is restic's month, while everywhere else in
// the file (stop_timeout, schedules, timeouts) m is minutes: "30m" or
// "12h30m" would silently keep 30 months. So months are only written next
// to years, which no span of minutes has: 0y6m is six calendar months,
// 1y6m a year and a half; or write the span in days (30d).
func withinMonths(v string) error {
	if !strings.ContainsRune(v, 'm') || strings.ContainsRune(v, 'y') {
		return nil
	}
	d, _ := forget.ParseDuration(v)
	hint := "0y6m for six calendar months, or 180d"
	switch {
	case d.Days != 0 || d.Hours != 0:
	case d.Months == 1:
		hint = "0y1m for a calendar month, or 30d"
	default:
		hint = fmt.Sprintf("0y%dm for %d calendar months, or %dd", d.Months, d.Months, 30*d.Months)
	}
	return fmt.Errorf("%q: m is months in keep_within, as in restic, not minutes as elsewhere in this file; "+
		"to keep the two apart, months go with years: write %s", v, hint)
}

func (r *Retention) withins() map[string]string {
	return map[string]string{"keep_within": r.KeepWithin, "keep_within_hourly": r.KeepWithinHourly,
		"keep_within_daily": r.KeepWithinDaily, "keep_within_weekly": r.KeepWithinWeekly,
		"keep_within_monthly": r.KeepWithinMonthly, "keep_within_yearly": r.KeepWithinYearly}
}

// Policy converts the retention to a forget policy. It refuses a policy
// that would keep everything (no rule set), as forget would do nothing.
func (r *Retention) Policy() (forget.Policy, error) {
	p := forget.Policy{Last: r.KeepLast, Hourly: r.KeepHourly, Daily: r.KeepDaily,
		Weekly: r.KeepWeekly, Monthly: r.KeepMonthly, Yearly: r.KeepYearly}
	for _, w := range []struct {
		d    *forget.Duration
		name string
		s    string
	}{
		{&p.Within, "keep_within", r.KeepWithin},
		{&p.WithinHourly, "keep_within_hourly", r.KeepWithinHourly},
		{&p.WithinDaily, "keep_within_daily", r.KeepWithinDaily},
		{&p.WithinWeekly, "keep_within_weekly", r.KeepWithinWeekly},
		{&p.WithinMonthly, "keep_within_monthly", r.KeepWithinMonthly},
		{&p.WithinYearly, "keep_within_yearly", r.KeepWithinYearly},
	} {
		d, err := forget.ParseDuration(w.s)
		if err != nil {
			return forget.Policy{}, fmt.Errorf("%s: %w", w.name, err)
		}
		*w.d = d
	}
	for _, t := range r.KeepTag {
		p.Tags = append(p.Tags, repo.ParseTagList(t))
	}
	if err := p.Validate(); err != nil {
		return forget.Policy{}, err
	}
	if p.Empty() {
		return forget.Policy{}, errors.New("a retention policy without any keep_* rule would keep every snapshot: set one, or remove retention")
	}
	return p, nil
}

// Subset returns the part of the packs a scheduled check reads whole, or
// nil to check the structure only.
func (c *Check) Subset() (*check.Subset, error) {
	if c == nil || c.ReadDataSubset == "" {
		return nil, nil
	}
	s, err := check.ParseSubset(c.ReadDataSubset)
	if err != nil {
		return nil, err
	}
	return &s, nil
}
