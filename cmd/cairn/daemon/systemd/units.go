// Package systemd holds cairn's systemd units, embedded so that a binary
// can print or install them:
//
//   - cairn.service runs cairn daemon (Type=notify, watchdog, reload on
//     SIGHUP);
//   - cairn-ingest@.service and cairn-ingest@.timer run one cairn ingest a
//     day per /etc/cairn/ingest-NAME.env, for hosts without the daemon.
//
// README.md in this folder says how to install them.
package systemd

import "embed"

// Units holds cairn.service, cairn-ingest@.service and cairn-ingest@.timer.
//
//go:embed cairn.service cairn-ingest@.service cairn-ingest@.timer
var Units embed.FS
