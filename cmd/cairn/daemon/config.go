// Package daemon is cairn's long-running process: it runs the configured
// sources on their schedules with hooks and retention, keeps every snapshot
// mounted, serves a control socket for scripts and exports metrics.
package daemon

import "time"

// Config is the daemon's configuration file (YAML). Keys follow the long
// flag names of the CLI, with dashes as underscores. The JSON Schema in
// cairn.schema.json describes the same keys, and a test keeps both in step.
type Config struct {
	Repository      string `yaml:"repository"`
	PasswordFile    string `yaml:"password_file"`
	PasswordCommand string `yaml:"password_command"`
	CacheDir        string `yaml:"cache_dir"`
	// Host is recorded in snapshots (default: the machine's host name).
	Host string `yaml:"host"`

	// Storage options, as the global CLI flags of the same names.
	Connections   int     `yaml:"connections"`
	S3VirtualHost bool    `yaml:"s3_virtual_host"`
	Retries       int     `yaml:"retries"`
	VerifyWrites  *bool   `yaml:"verify_writes"`
	MetadataCache *bool   `yaml:"metadata_cache"`
	LimitRequests float64 `yaml:"limit_requests"`
	LimitBytes    string  `yaml:"limit_bytes"`

	// Socket is the control socket (default /run/cairn/cairn.sock).
	Socket string `yaml:"socket"`
	// SocketGroup, when set, makes the socket mode 0660 with that group,
	// and lets members of the group call it; otherwise it is 0600.
	SocketGroup string `yaml:"socket_group"`
	// AllowUIDs may call the socket besides root and the daemon's own uid;
	// with them the socket is 0666 and SO_PEERCRED decides.
	AllowUIDs []int `yaml:"allow_uids"`

	// Concurrency bounds the sources running at once (default 1).
	Concurrency int `yaml:"concurrency"`
	// StopTimeout is how long SIGTERM waits for running ingests before
	// aborting them (default 1m).
	StopTimeout Duration `yaml:"stop_timeout"`

	Sources []Source `yaml:"sources"`
	// Copies are the repositories that sources keep copies of their
	// snapshots in (copy_to names them).
	Copies []Copy `yaml:"copies"`
	// CopyTo is the copy_to of the sources that do not set their own.
	CopyTo  []string `yaml:"copy_to"`
	Check   *Check   `yaml:"check"`
	Prune   *Prune   `yaml:"prune"`
	Mount   *Mount   `yaml:"mount"`
	Metrics *Metrics `yaml:"metrics"`
}

// Source is one thing the daemon backs up: paths, or the standard output
// of a command.
type Source struct {
	Name string `yaml:"name"`

	Paths             []string `yaml:"paths"`
	Exclude           []string `yaml:"exclude"`
	ExcludeFile       []string `yaml:"exclude_file"`
	IExclude          []string `yaml:"iexclude"`
	IExcludeFile      []string `yaml:"iexclude_file"`
	ExcludeCaches     bool     `yaml:"exclude_caches"`
	ExcludeIfPresent  []string `yaml:"exclude_if_present"`
	ExcludeLargerThan string   `yaml:"exclude_larger_than"`
	OneFileSystem     bool     `yaml:"one_file_system"`
	// IgnoreInode, IgnoreCtime and SkipIfUnchanged are ingest's
	// --ignore-inode, --ignore-ctime and --skip-if-unchanged.
	IgnoreInode     bool `yaml:"ignore_inode"`
	IgnoreCtime     bool `yaml:"ignore_ctime"`
	SkipIfUnchanged bool `yaml:"skip_if_unchanged"`

	// Command's standard output is ingested as one file named StdinName
	// (default: the source name). A command that fails writes no snapshot.
	// Like a hook's, it is argv, or a string run with /bin/sh -c.
	Command   Command `yaml:"command"`
	StdinName string  `yaml:"stdin_name"`

	// Schedule is a cron expression ("0 3 * * *", "@daily") or an
	// interval ("6h", "1d"). Empty: only run when asked.
	Schedule    string   `yaml:"schedule"`
	RandomDelay Duration `yaml:"random_delay"`
	// Timeout aborts a run whose before hooks and ingest are still going
	// after this long (a command that never ends): no snapshot is
	// written, the after hooks run, the run fails. 0: no limit.
	Timeout Duration `yaml:"timeout"`

	Tags   []string `yaml:"tags"`
	Before []Hook   `yaml:"before"`
	After  []Hook   `yaml:"after"`

	Retention *Retention `yaml:"retention"`
	// CopyTo names the copies (Config.Copies) that the source's new
	// snapshots are copied into after each run that saved one. Left out:
	// the config's copy_to; an empty list: none.
	CopyTo []string `yaml:"copy_to"`
	// PingURL overrides Metrics.PingURL for this source.
	PingURL string `yaml:"ping_url"`
}

// Copy is a second repository, such as an offsite one, that the daemon
// keeps copies of sources' snapshots in, as cairn copy does: after a run of
// a source that names it in copy_to saved a snapshot, every snapshot of
// that source (and this host) that the copy lacks is copied into it. Its
// storage options are those of the main repository's keys of the same
// names, for this repository; left out, they are the CLI's defaults.
type Copy struct {
	Name            string `yaml:"name"`
	Repository      string `yaml:"repository"`
	PasswordFile    string `yaml:"password_file"`
	PasswordCommand string `yaml:"password_command"`

	Connections   int     `yaml:"connections"`
	S3VirtualHost bool    `yaml:"s3_virtual_host"`
	Retries       int     `yaml:"retries"`
	VerifyWrites  *bool   `yaml:"verify_writes"`
	MetadataCache *bool   `yaml:"metadata_cache"`
	LimitRequests float64 `yaml:"limit_requests"`
	LimitBytes    string  `yaml:"limit_bytes"`

	// ApplyRetention applies each source's retention policy in this
	// repository too, to the source's snapshots of this host, after
	// copying. Off: the copies stay until forgotten by hand.
	ApplyRetention bool `yaml:"apply_retention"`
}

// Storage is how a repository's storage is reached: the storage options
// of the config, or of a copy.
type Storage struct {
	Connections   int
	S3VirtualHost bool
	Retries       int
	VerifyWrites  *bool
	MetadataCache *bool
	LimitRequests float64
	LimitBytes    string
}

// Storage returns the main repository's storage options.
func (c *Config) Storage() Storage {
	return Storage{c.Connections, c.S3VirtualHost, c.Retries, c.VerifyWrites, c.MetadataCache, c.LimitRequests, c.LimitBytes}
}

// Storage returns the copy's storage options.
func (c *Copy) Storage() Storage {
	return Storage{c.Connections, c.S3VirtualHost, c.Retries, c.VerifyWrites, c.MetadataCache, c.LimitRequests, c.LimitBytes}
}

// Copy returns the copy named name, or nil.
func (c *Config) Copy(name string) *Copy {
	for i := range c.Copies {
		if c.Copies[i].Name == name {
			return &c.Copies[i]
		}
	}
	return nil
}

// Hook is a command run before or after a source. A string runs with
// /bin/sh -c; a list runs without a shell.
type Hook struct {
	Command Command  `yaml:"command"`
	Timeout Duration `yaml:"timeout"` // default 10m
}

// Command is argv, or a shell line kept as ["/bin/sh", "-c", line].
type Command []string

// Retention is a forget policy applied after each successful ingest of
// its source, to that source's snapshots of this host.
type Retention struct {
	KeepLast          int      `yaml:"keep_last"`
	KeepHourly        int      `yaml:"keep_hourly"`
	KeepDaily         int      `yaml:"keep_daily"`
	KeepWeekly        int      `yaml:"keep_weekly"`
	KeepMonthly       int      `yaml:"keep_monthly"`
	KeepYearly        int      `yaml:"keep_yearly"`
	KeepWithin        string   `yaml:"keep_within"`
	KeepWithinHourly  string   `yaml:"keep_within_hourly"`
	KeepWithinDaily   string   `yaml:"keep_within_daily"`
	KeepWithinWeekly  string   `yaml:"keep_within_weekly"`
	KeepWithinMonthly string   `yaml:"keep_within_monthly"`
	KeepWithinYearly  string   `yaml:"keep_within_yearly"`
	KeepTag           []string `yaml:"keep_tag"`
}

// Check runs cairn check on a schedule.
type Check struct {
	Schedule string `yaml:"schedule"`
	// ReadDataSubset reads this part of the packs whole, as cairn check
	// --read-data-subset: "5%" (a random share) or "1/7" (part 1 of 7).
	// Empty: structure only.
	ReadDataSubset string `yaml:"read_data_subset"`
}

// Prune runs cairn prune on a schedule.
type Prune struct {
	Schedule string `yaml:"schedule"`
}

// Mount keeps every snapshot mounted at Path.
type Mount struct {
	Path       string `yaml:"path"`
	AllowOther bool   `yaml:"allow_other"`
}

// Metrics serves Prometheus text at Listen (a loopback address) and pings
// PingURL healthchecks-style: PingURL+"/start" when a source starts,
// PingURL on success, PingURL+"/fail" on failure.
type Metrics struct {
	Listen  string `yaml:"listen"`
	PingURL string `yaml:"ping_url"`
}

// Duration is a span written as "90s", "6h" or "1d" ("d" and "w" are
// accepted besides Go's units).
type Duration time.Duration
