package check

// SetReadWindow makes read-data fetch packs n bytes at a time, until the
// returned function puts the default back.
func SetReadWindow(n int64) (restore func()) {
	old := readWindow
	readWindow = n
	return func() { readWindow = old }
}
