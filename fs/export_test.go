package fs

// Listed is how many folder entries m's listings have made so far.
func Listed(m *Mounted) int64 { return m.fsys.listed.Load() }

// Folders is how many folders m keeps registered for listings.
func Folders(m *Mounted) (n int) {
	m.fsys.dirs.Range(func(k, v any) bool { n++; return true })
	return n
}
