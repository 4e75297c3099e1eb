// Package repo is cairn's repository library: it opens a repository on a
// backend with a password, keeps the local index in step with the stored
// index segments, stores and loads blobs through packs, and reads and writes
// trees, snapshots and locks. The ingest and restore pipelines build on it in
// repo/ingest and repo/restore. docs/FORMAT.md describes every stored byte.
package repo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/repo/crypto"
)

// Sentinel errors, checked with errors.Is. The CLI maps them to exit codes.
var (
	// ErrNoRepository: there is no repository at the location (exit 10).
	ErrNoRepository = errors.New("no repository found")
	// ErrWrongPassword: no key file opens with the password (exit 12).
	ErrWrongPassword = crypto.ErrWrongPassword
	// ErrLocked: another process holds a conflicting lock (exit 11).
	ErrLocked = errors.New("repository is locked")
	// ErrUnsupported: the repository needs a feature this cairn lacks.
	ErrUnsupported = errors.New("repository format not supported")
	// ErrExists: init found a repository already there.
	ErrExists = errors.New("repository already exists")
	// ErrNotFound: a snapshot, tree or blob the caller named is not there.
	ErrNotFound = errors.New("not found")
	// ErrDamaged: stored bytes failed authentication or decoding.
	ErrDamaged = errors.New("damaged data")
	// ErrLeaseLost: a held lock went unrefreshed for too long, so others
	// may have treated it as stale; the operation must stop (Lock).
	ErrLeaseLost = errors.New("lock lease lost")
)

// OnObject says which stored object an operation failed on: "op name: err",
// unless err already names it (the local and S3 backends do), where a
// second "save index/…: save index/…:" would only repeat it.
func OnObject(op, name string, err error) error {
	if strings.Contains(err.Error(), name) {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}
