//go:build !cgo

package main

// stdoutClosedDetectable says whether this build can tell a standard
// descriptor closed at start from /dev/null (see stdoutClosedAtStart).
const stdoutClosedDetectable = false

// stdoutClosedAtStart cannot tell without cgo: the Go runtime has put
// /dev/null on a closed standard output before main runs (see
// stdfds_cgo.go), so what is printed then is lost without an error.
func stdoutClosedAtStart() bool { return false }

// stdinClosedAtStart cannot tell without cgo either: a closed standard
// input reads as /dev/null, empty.
func stdinClosedAtStart() bool { return false }
