package main

import (
	"context"
	"strings"

	"github.com/cairn-backup/cairn/repo"
)

// splitSelector splits "SNAP:PATH" into the snapshot selector and the path
// inside it ("/" when absent).
func splitSelector(s string) (string, string) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		p := s[i+1:]
		if p == "" {
			p = "/"
		}
		return s[:i], p
	}
	return s, "/"
}

// findSnapshot resolves "SNAP[:PATH]" with the --host/--source/--tag
// filter, returning the snapshot and the path inside it.
func findSnapshot(ctx context.Context, r *repo.Repository, arg string, f filterFlags) (*repo.Snapshot, string, error) {
	sel, sub := splitSelector(arg)
	sn, err := r.FindSnapshot(ctx, sel, f.filter())
	return sn, sub, err
}
