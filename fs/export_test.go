package fs

// Listed is how many folder entries m's listings have made so far.
func Listed(m *Mounted) int64 { return m.fsys.listed.Load() }
