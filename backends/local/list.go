package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/backends"
)

// maxDepth bounds List's descent, so a symbolic-link loop in the folder
// ends in an error rather than a hang. Repository names are a few levels
// deep.
const maxDepth = 32

// List walks the folder named by prefix up to its last "/", descending only
// into folders that can hold matching names. It follows symbolic links (a
// "data" folder may live on another disk) and skips every entry whose name
// begins with ".", which covers temporary files.
func (l *Local) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if err := backends.CheckPrefix(prefix); err != nil {
		return err
	}
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	return l.walk(ctx, dir, prefix, fn, 0)
}

// walk reports the objects under prefix in folder rel ("" is the root).
// Errors from fn are returned as they are.
func (l *Local) walk(ctx context.Context, rel, prefix string, fn func(backends.Info) error, depth int) error {
	entries, err := os.ReadDir(l.path(rel))
	if missing(err) {
		return nil // removed meanwhile, or a file where prefix has a folder
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := path.Join(rel, e.Name())
		typ := e.Type()
		var fi fs.FileInfo
		if typ&fs.ModeSymlink != 0 {
			if fi, err = os.Stat(l.path(name)); err != nil {
				continue // dangling
			}
			typ = fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				continue
			}
			if depth >= maxDepth {
				return fmt.Errorf("list %s: folder %s nested too deep (symbolic link loop?)", prefix, name)
			}
			if err := l.walk(ctx, name, prefix, fn, depth+1); err != nil {
				return err
			}
		case typ.IsRegular() && strings.HasPrefix(name, prefix):
			if fi == nil {
				if fi, err = e.Info(); missing(err) {
					continue // removed meanwhile
				} else if err != nil {
					return fmt.Errorf("list %s: %w", prefix, err)
				}
			}
			if err := fn(backends.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}
