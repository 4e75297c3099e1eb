package fsmeta

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotRegular is returned by OpenRead for anything but a regular file,
	// for instance a file replaced by a fifo between Stat and OpenRead.
	ErrNotRegular = errors.New("not a regular file")
	// ErrKind is returned for a file type a function does not handle:
	// Create given a file or directory, FromStat given an unknown type.
	ErrKind = errors.New("unsupported file kind")
)

// Error is the failure of one system call on one attribute of one path,
// as returned (possibly several, joined) by Apply.
type Error struct {
	Op   string // the system call: "lchown", "lsetxattr", "chmod", ...
	Path string
	Attr string // "owner", "mode", "times" or an xattr name
	Err  error
}

func (e *Error) Error() string {
	return e.Op + " " + e.Path + " " + e.Attr + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
