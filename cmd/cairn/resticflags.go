package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// resticFlag is the cairn way to the end of a restic flag cairn lacks.
type resticFlag struct {
	hint string
	// applies reports whether restic has the flag, with this meaning,
	// on the command cairn's cmd stands for (nil: on every command, as
	// restic's global flags).
	applies func(cmd *cobra.Command) bool
}

// onIngest: a flag of restic's backup alone, which cairn's ingest is.
func onIngest(cmd *cobra.Command) bool { return cmd.Name() == "ingest" }

// withHost: restic's -H is --host on every command that has one (forget's
// -H is --keep-hourly, as cairn's): the hint holds only where cairn's
// command has --host too.
func withHost(cmd *cobra.Command) bool { return cmd.Flags().Lookup("host") != nil }

// resticFlags names, for a flag of restic that cairn lacks, the cairn way
// to the same end, so that a restic user's script or habit gets a pointer
// rather than a bare "unknown flag".
var resticFlags = map[string]resticFlag{
	"--stdin-filename":   {"use --stdin-name", onIngest},
	"--with-atime":       {"cairn always records access times", onIngest},
	"--read-concurrency": {"cairn chooses how many files it reads at once", onIngest},
	"--no-scan":          {"cairn's scan runs beside the ingest and only feeds the progress line; there is nothing to turn off", onIngest},
	"--group-by":         {"ingest's parent is the newest snapshot of the same host, source and paths; choose another with --parent", onIngest},
	"--use-fs-snapshot":  {"cairn takes no filesystem snapshot: snapshot the volume (LVM, btrfs, ZFS) and ingest that", onIngest},
	"--compression":      {"cairn always compresses with zstd and stores incompressible chunks as they are", nil},
	"--pack-size":        {"cairn chooses its pack size", nil},
	"--no-cache":         {"the local index is only a cache: point --cache-dir (CAIRN_CACHE_DIR) at a temporary folder", nil},
	"--repository-file":  {"use -r/--repo or CAIRN_REPOSITORY", nil},
	"--limit-upload":     {"use --limit-bytes", nil},
	"--limit-download":   {"use --limit-bytes", nil},
	"--cacert":           {"name the certificate in SSL_CERT_FILE", nil},
	"-H":                 {"use --host", withHost},
	"-p":                 {"use --password-file", nil},
	"-o":                 {"cairn has flags for these, e.g. --connections, --s3-virtual-host", nil},
}

// resticCommandFlags names, for a flag of one restic command (keyed
// "COMMAND --flag", by cairn's command name) that cairn's command lacks,
// the cairn way to the same end. It is looked up before resticFlags.
var resticCommandFlags = map[string]string{
	"snapshots --compact":            "cairn's table is already one line per snapshot; --json for scripts",
	"snapshots -c":                   "cairn's table is already one line per snapshot; --json for scripts",
	"snapshots --group-by":           "the table shows each snapshot's host and source; narrow it with --host, --source, --tag or --path",
	"forget --compact":               "cairn's table is already one line per snapshot",
	"ls --recursive":                 "cairn ls lists recursively unless --no-recurse",
	"ls --human-readable":            "cairn ls -l prints sizes in bytes; cairn find and stats print them readable",
	"stats --mode":                   "cairn stats prints the original, stored and deduplicated sizes at once; --json gives every field",
	"restore --sparse":               "cairn restores the holes a snapshot recorded as holes, without a flag",
	"check --with-cache":             "cairn check reads the storage itself, never a cache",
	"mount --no-default-permissions": "without --allow-other only you see the tree; with it the kernel enforces the stored permissions",
	"mount --owner-root":             "the tree shows the stored owners",
}

// resticFlagError adds the cairn way to an unknown-flag error for a flag
// restic has on the same command.
func resticFlagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var name string
	switch {
	case strings.HasPrefix(msg, "unknown flag: "):
		name = strings.TrimPrefix(msg, "unknown flag: ")
	case strings.HasPrefix(msg, "unknown shorthand flag: '") && len(msg) > len("unknown shorthand flag: 'x"):
		name = "-" + msg[len("unknown shorthand flag: '"):len("unknown shorthand flag: 'x")]
	}
	if hint, ok := resticCommandFlags[cmd.Name()+" "+name]; ok && name != "" {
		return fmt.Errorf("%w (restic's %s %s: %s)", err, cmd.Name(), name, hint)
	}
	if f, ok := resticFlags[name]; ok && (f.applies == nil || f.applies(cmd)) {
		return fmt.Errorf("%w (restic's %s: %s)", err, name, f.hint)
	}
	return err
}
