package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// cancelOnKeyLoad cancels the command's context as the first key file is
// read, as Ctrl-C during opening does.
type cancelOnKeyLoad struct {
	backends.Backend
	cancel context.CancelFunc
}

func (b cancelOnKeyLoad) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "keys/") {
		b.cancel()
		return nil, ctx.Err()
	}
	return b.Backend.Load(ctx, name, off, n)
}

// Ctrl-C or SIGTERM while the key files were read used to end with
// "wrong password or no key found (also: ... context canceled)" and exit
// 12, or, when no key file had been read yet, "no key file can be read
// ... put back a key file": a script or user would blame the password or
// the repository. It is now the interruption.
func TestOpenInterruptedReadingKeys(t *testing.T) {
	be := mem.New()
	TestRepositoryOn(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Open(ctx, cancelOnKeyLoad{be, cancel}, Options{Password: []byte(TestPassword), CacheDir: t.TempDir()})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrDamaged) {
		t.Fatalf("open interrupted while reading keys: %v, want context.Canceled only", err)
	}
}
