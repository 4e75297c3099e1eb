//go:build !cgo

package pack

// newCompressor picks the engine of this build: without cgo, pure Go.
func newCompressor() compressor { return newGoZstd() }
