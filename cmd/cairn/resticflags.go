package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// resticFlags names, for a flag of restic that cairn lacks, the cairn way
// to the same end, so that a restic user's script or habit gets a pointer
// rather than a bare "unknown flag".
var resticFlags = map[string]string{
	"--stdin-filename":   "use --stdin-name",
	"--with-atime":       "cairn always records access times",
	"--read-concurrency": "cairn chooses how many files it reads at once",
	"--no-scan":          "cairn's scan runs beside the ingest and only feeds the progress line; there is nothing to turn off",
	"--group-by":         "ingest's parent is the newest snapshot of the same host, source and paths; choose another with --parent",
	"--use-fs-snapshot":  "cairn takes no filesystem snapshot: snapshot the volume (LVM, btrfs, ZFS) and ingest that",
	"--compression":      "cairn always compresses with zstd and stores incompressible chunks as they are",
	"--pack-size":        "cairn chooses its pack size",
	"--no-cache":         "the local index is only a cache: point --cache-dir (CAIRN_CACHE_DIR) at a temporary folder",
	"--repository-file":  "use -r/--repo or CAIRN_REPOSITORY",
	"--limit-upload":     "use --limit-bytes",
	"--limit-download":   "use --limit-bytes",
	"--cacert":           "name the certificate in SSL_CERT_FILE",
	"-H":                 "use --host",
	"-p":                 "use --password-file",
	"-o":                 "cairn has flags for these, e.g. --connections, --s3-virtual-host",
}

// resticFlagError adds the cairn way to an unknown-flag error for a flag
// restic has.
func resticFlagError(_ *cobra.Command, err error) error {
	msg := err.Error()
	var name string
	switch {
	case strings.HasPrefix(msg, "unknown flag: "):
		name = strings.TrimPrefix(msg, "unknown flag: ")
	case strings.HasPrefix(msg, "unknown shorthand flag: '") && len(msg) > len("unknown shorthand flag: 'x"):
		name = "-" + msg[len("unknown shorthand flag: '"):len("unknown shorthand flag: 'x")]
	}
	if hint, ok := resticFlags[name]; ok {
		return fmt.Errorf("%w (restic's %s: %s)", err, name, hint)
	}
	return err
}
