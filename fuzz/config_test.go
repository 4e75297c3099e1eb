package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
)

// FuzzConfig reads fuzzed bytes as the "config" of a test repository. The
// config is plaintext and read before any password, so every byte of it is
// untrusted. When the bytes also pass Open's MAC check, they must say what
// the real config says: the MAC may not be bypassed.
func FuzzConfig(f *testing.F) {
	ctx := context.Background()
	r := repo.TestRepository(f)
	be := r.Backend()
	orig, err := be.Load(ctx, "config", 0, -1)
	if err != nil {
		f.Fatal(err)
	}
	want, _ := json.Marshal(r.Config())
	st := string(orig)
	end := strings.LastIndex(st, "}")
	edit := func(from, to string) []byte { return []byte(strings.Replace(st, from, to, 1)) }
	addSeeds(f, []seed{
		{"real", []any{orig}},
		{"unknown-feature", []any{edit(`"mandatory":[]`, `"mandatory":["zstd-dictionaries"]`)}},
		{"version-2", []any{edit(`"version":1`, `"version":2`)}},
		// Fields after the MAC once escaped it (JSON keeps the last key).
		{"after-mac", []any{[]byte(st[:end] + `,"pack_size":2097152` + st[end:])}},
		{"id-after-mac", []any{[]byte(st[:end] + `,"id":"` + strings.Repeat("0", 63) + `1"` + st[end:])}},
		{"version-2-new-layout", []any{[]byte(`{"version":2,"chunker":"v2"}`)}},
		{"no-mac", []any{[]byte(st[:strings.LastIndex(st, `,"mac":"`)] + "}")}},
		{"empty", []any{[]byte{}}},
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := be.Save(ctx, "config", b); err != nil {
			t.Fatal(err)
		}
		var cfg *repo.Config
		bounded(t, allocLimit(len(b)), func() { cfg, err = repo.ReadConfig(ctx, be) })
		if err != nil {
			wantErr(t, err, repo.ErrDamaged, repo.ErrUnsupported)
			return
		}
		if cfg.Version != repo.FormatVersion || len(cfg.ID) != 64 || strings.ContainsAny(cfg.ID, `/\.`) {
			t.Fatalf("accepted config: version %d, id %q", cfg.Version, cfg.ID)
		}
		// Re-encoded, the config reads back the same.
		enc, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		be.Save(ctx, "config", enc)
		again, err := repo.ReadConfig(ctx, be)
		if err != nil {
			t.Fatalf("re-encoded config: %v", err)
		}
		if enc2, _ := json.Marshal(again); !bytes.Equal(enc2, enc) {
			t.Fatalf("re-encoded config differs:\n%s\n%s", enc2, enc)
		}
		be.Save(ctx, "config", b)
		opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: filepath.Join(t.TempDir(), "cache")}
		r2, err := repo.Open(ctx, be, opt)
		if err != nil {
			wantErr(t, err, repo.ErrDamaged, repo.ErrUnsupported)
			return
		}
		got, _ := json.Marshal(r2.Config())
		r2.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("config passes the MAC check but says\n%s\nnot\n%s", got, want)
		}
	})
}
