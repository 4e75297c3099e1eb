//go:build !cgo

package main

// stdoutClosedAtStart cannot tell without cgo: the Go runtime has put
// /dev/null on a closed standard output before main runs (see
// stdfds_cgo.go), so what is printed then is lost without an error.
func stdoutClosedAtStart() bool { return false }
