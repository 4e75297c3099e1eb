// Package backends stores the repository's bytes: named objects in a local
// folder, in memory or in S3-compatible storage, plus filters that wrap any
// backend (package filter's subpackages). It knows nothing of packs, blobs
// or encryption.
//
// # Names
//
// Object names are slash-separated relative paths such as "config",
// "keys/<hex>", "data/ab/<hex>". A backend stores them as given; it never
// invents or rewrites names. CheckName defines which names are valid; every
// method rejects others with ErrInvalidName. No path element may begin with
// ".", which leaves such names free for a backend's own temporary files.
//
// # Contract
//
// Every method is safe for concurrent use. Save is atomic: a reader sees the
// whole object or nothing, never a prefix, even if the process dies during
// the call. Errors for a missing object wrap ErrNotFound. A method called with
// a context that is already done fails with an error wrapping ctx.Err() and
// changes nothing.
package backends

import (
	"context"
	"errors"
	"os"
	"time"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: Create found the object already there.
	ErrExists = errors.New("object already exists")
	// ErrRange: Load asked for bytes past the end of the object, or at a
	// negative offset.
	ErrRange = errors.New("range outside object")
	// ErrInvalidName: the name is not one CheckName accepts.
	ErrInvalidName = errors.New("invalid object name")
	// ErrAccessDenied: the storage refused the credentials or the
	// operation (wrong key, missing permission). Asking again cannot help.
	ErrAccessDenied = errors.New("access denied")
	// ErrPermanent: the storage rejected the request in a way that
	// repeating it cannot change (a missing bucket, a malformed request).
	ErrPermanent = errors.New("permanent storage error")
)

// Permanent reports whether err is one that repeating the same call cannot
// cure: every sentinel above, a context's end, or the file system's
// permission error. Retry filters give up at once on these; everything else
// may be transient.
func Permanent(err error) bool {
	for _, p := range []error{ErrNotFound, ErrExists, ErrRange, ErrInvalidName,
		ErrAccessDenied, ErrPermanent, context.Canceled, context.DeadlineExceeded, os.ErrPermission} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// Info describes a stored object.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Backend is where the repository's objects live.
type Backend interface {
	// Location names the backend for messages, e.g. "local:/srv/backup".
	Location() string

	// Save stores data under name, atomically and durably (when Save
	// returns nil the object survives a crash). Saving a name that exists
	// replaces it atomically; for content-addressed names that makes a
	// retried upload idempotent.
	Save(ctx context.Context, name string, data []byte) error

	// Create is Save that fails with ErrExists when name already exists. It
	// is used for objects that must never be replaced, like "config".
	Create(ctx context.Context, name string, data []byte) error

	// Load returns length bytes of name starting at offset. length < 0
	// means to the end of the object. Asking for bytes past the end is
	// ErrRange; a missing object is ErrNotFound.
	Load(ctx context.Context, name string, offset, length int64) ([]byte, error)

	// Stat describes one object, or ErrNotFound.
	Stat(ctx context.Context, name string) (Info, error)

	// List calls fn for every object whose name starts with prefix, in no
	// particular order. A prefix ending in "/" lists a folder recursively;
	// "keys/ab" lists the objects in "keys/" whose names begin with "ab".
	// Objects still being saved are never listed. An object saved or
	// removed during the listing may or may not be reported. An error from
	// fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Remove deletes name. Removing a missing object is ErrNotFound.
	Remove(ctx context.Context, name string) error

	// Close releases resources. The backend is unusable afterwards; calling
	// Close again is harmless.
	Close() error
}

// LoaderInto is an optional ability: Load into a buffer the caller owns
// (len(buf) bytes at offset), so hot read paths need not allocate. Errors
// are Load's.
type LoaderInto interface {
	LoadInto(ctx context.Context, name string, offset int64, buf []byte) error
}

// Checksummer is an optional ability: tell the checksum the storage keeps
// for a stored object, so a writer can confirm what was stored without
// reading it back. Sum returns the checksum that saving data through this
// backend gives; StatSum is Stat that also returns the stored object's
// checksum, or "" when the storage cannot tell for that object.
type Checksummer interface {
	Sum(data []byte) string
	StatSum(ctx context.Context, name string) (Info, string, error)
}

// SumSaver is an optional ability of a Checksummer: Save that returns the
// checksum the storage computed for the object it stored, in StatSum's
// terms, after it verified the bytes it received (S3 checks the checksum
// each upload carries). A writer can then confirm what was stored without
// hashing the data a second time.
type SumSaver interface {
	SaveSum(ctx context.Context, name string, data []byte) (string, error)
}

// TempCleaner is an optional ability of backends that keep temporary
// files (FileSaver's) or unfinished uploads (S3's multipart uploads):
// remove those untouched for longer than age, left by a process that was
// killed. It returns how many it removed.
type TempCleaner interface {
	RemoveStaleTemp(age time.Duration) (int, error)
}

// Parallel is an optional ability of backends that reach remote storage:
// how many uploads a writer should keep on their way at once.
type Parallel interface {
	Connections() int
}

// Unwrapper is implemented by filters that wrap another backend, so callers
// can find a layer beneath.
type Unwrapper interface {
	Unwrap() Backend
}

// FileSaver is an optional ability: build an object in a local file and
// store it without holding it in memory. TempFile returns a new empty file
// in a place SaveFile can move from; SaveFile stores the file's whole
// content under name with Save's guarantees (atomic, durable) and closes
// f, moving it rather than copying where it can. After SaveFile, f is gone
// either way. An abandoned temporary file is never listed.
type FileSaver interface {
	TempFile() (*os.File, error)
	SaveFile(ctx context.Context, name string, f *os.File) error
}

// As returns the first of b and the backends it wraps (through Unwrapper)
// that has the ability T, such as TempCleaner. Use it for abilities that
// may bypass the filters above the layer that has them.
func As[T any](b Backend) (T, bool) {
	for b != nil {
		if t, ok := b.(T); ok {
			return t, true
		}
		u, ok := b.(Unwrapper)
		if !ok {
			break
		}
		b = u.Unwrap()
	}
	var zero T
	return zero, false
}

// lazyRemoval is the context key of LazyRemoval.
type lazyRemoval struct{}

// LazyRemoval marks ctx for a Remove whose removal need not survive a
// crash: the backend may return before it is durable. A local folder's
// Remove otherwise syncs the folder, which right after a restore's
// gigabytes of writes waits for the filesystem's journal to commit them
// (a quarter of a second at the end of a 2 GiB restore). It is for a
// process's own lock, whose removal undone by a crash leaves what the
// crash itself would have: the lock of a holder that is gone, which goes
// stale. The mark passes through every filter to the storage beneath.
func LazyRemoval(ctx context.Context) context.Context {
	return context.WithValue(ctx, lazyRemoval{}, true)
}

// IsLazyRemoval reports whether ctx carries LazyRemoval.
func IsLazyRemoval(ctx context.Context) bool {
	lazy, _ := ctx.Value(lazyRemoval{}).(bool)
	return lazy
}
