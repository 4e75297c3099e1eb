package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
)

func configJSON(t *testing.T, edit func(*Config)) []byte {
	t.Helper()
	c := newConfig()
	if edit != nil {
		edit(c)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfig(t *testing.T) {
	want := newConfig()
	b, _ := json.Marshal(want)
	got, err := parseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(want.Created) {
		t.Fatalf("created %v, want %v", got.Created, want.Created)
	}
	got.Created = want.Created
	if !reflect.DeepEqual(got.Chunker, want.Chunker) || got.ID != want.ID || got.PackSize != want.PackSize || got.Version != want.Version || !reflect.DeepEqual(got.Features, want.Features) {
		t.Fatalf("config differs:\n got %+v\nwant %+v", got, want)
	}
	// Unknown optional features and unknown fields are fine.
	b = configJSON(t, func(c *Config) { c.Features.Optional = []string{"some-hint-v7"} })
	b = append(b[:len(b)-1], `,"from_the_future":{"x":1}}`...)
	if _, err := parseConfig(b); err != nil {
		t.Fatalf("unknown optional feature: %v", err)
	}
}

func TestParseConfigUnsupported(t *testing.T) {
	b := configJSON(t, func(c *Config) { c.Features.Mandatory = []string{"chunk-dictionary-v2"} })
	_, err := parseConfig(b)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"chunk-dictionary-v2"`) {
		t.Fatalf("unknown mandatory feature: %v", err)
	}
	for _, v := range []int{0, 2, 99, -1} {
		b := configJSON(t, func(c *Config) { c.Version = v })
		_, err := parseConfig(b)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("version %d: %v", v, err)
		}
	}
	// A newer repository is refused as unsupported, not as damaged, even
	// when the rest of its config means nothing to this cairn.
	if _, err := parseConfig([]byte(`{"version":2,"chunker":"new","features":{"mandatory":["x"]}}`)); err == nil || errors.Is(err, ErrDamaged) {
		t.Fatalf("version 2 with an unknown layout: %v", err)
	}
	_, err = parseConfig([]byte(`{"version":1,"chunker":"new","features":{"mandatory":["chunker-v2"]}}`))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"chunker-v2"`) {
		t.Fatalf("unknown feature with an unknown layout: %v", err)
	}
}

func TestParseConfigDamaged(t *testing.T) {
	cases := map[string][]byte{
		"empty":        nil,
		"not json":     []byte("config"),
		"truncated":    configJSON(t, nil)[:20],
		"array":        []byte(`[1]`),
		"min size":     configJSON(t, func(c *Config) { c.Chunker.MinSize = 1 }),
		"max < min":    configJSON(t, func(c *Config) { c.Chunker.MaxSize = c.Chunker.MinSize - 1 }),
		"max size":     configJSON(t, func(c *Config) { c.Chunker.MaxSize = 1 << 30 }),
		"bits low":     configJSON(t, func(c *Config) { c.Chunker.AverageBits = 3 }),
		"bits high":    configJSON(t, func(c *Config) { c.Chunker.AverageBits = 40 }),
		"pack small":   configJSON(t, func(c *Config) { c.PackSize = 1 }),
		"pack huge":    configJSON(t, func(c *Config) { c.PackSize = 1 << 40 }),
		"id short":     configJSON(t, func(c *Config) { c.ID = "abc" }),
		"id not hex":   configJSON(t, func(c *Config) { c.ID = "../" + strings.Repeat("a", 61) }),
		"mandatory ty": []byte(`{"version":1,"features":{"mandatory":"x"}}`),
	}
	for name, b := range cases {
		if _, err := parseConfig(b); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadConfigAndMAC(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	if _, err := ReadConfig(ctx, be); !errors.Is(err, ErrNoRepository) {
		t.Fatalf("no config: %v", err)
	}
	TestRepositoryOn(t, be)
	orig, err := be.Load(ctx, "config", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(ctx, be); err != nil {
		t.Fatal(err)
	}
	open := func() error {
		r, err := Open(ctx, be, Options{Password: []byte(TestPassword), CacheDir: filepath.Join(t.TempDir(), "cache")})
		if err == nil {
			r.Close()
		}
		return err
	}
	if err := open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	// Any plausible edit of the stored config breaks its MAC, so Open
	// refuses the repository.
	var m map[string]any
	if err := json.Unmarshal(orig, &m); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(m map[string]any){
		"pack size": func(m map[string]any) { m["pack_size"] = 2 << 20 },
		"chunker":   func(m map[string]any) { m["chunker"].(map[string]any)["average_bits"] = 21 },
		"id":        func(m map[string]any) { m["id"] = strings.Repeat("0", 64) },
		"optional":  func(m map[string]any) { m["features"].(map[string]any)["optional"] = []string{"x"} },
		"no mac":    func(m map[string]any) { delete(m, "mac") },
		"new field": func(m map[string]any) { m["zz"] = 1 },
	}
	for name, edit := range edits {
		var c map[string]any
		json.Unmarshal(orig, &c)
		edit(c)
		b, _ := json.Marshal(c)
		be.Save(ctx, "config", b)
		if err := open(); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s edited: open: %v", name, err)
		}
	}
	// Bytes after the MAC are not covered by it: they must not be able to
	// change the config (JSON keeps the last of duplicate keys).
	st := string(orig)
	end := strings.LastIndex(st, "}")
	for name, tail := range map[string]string{
		"pack size after mac": `,"pack_size":2097152`,
		// Stays inside the test's temporary folder if it ever escapes.
		"id after mac":    `,"id":"../` + strings.Repeat("z", 61) + `"`,
		"case-folded key": `,"Pack_Size":2097152`,
		"nested mac":      `,"x":{"a":1,"mac":"00"}`,
		"second mac":      `,"mac":"00"`,
	} {
		be.Save(ctx, "config", []byte(st[:end]+tail+st[end:]))
		if err := open(); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: open: %v", name, err)
		}
	}
	be.Save(ctx, "config", append(bytes.Clone(orig), "\n"...))
	if err := open(); err != nil {
		t.Errorf("trailing newline: open: %v", err)
	}
	// A config naming an unknown mandatory feature is refused before any
	// password is asked, naming the feature.
	var c map[string]any
	json.Unmarshal(orig, &c)
	c["features"].(map[string]any)["mandatory"] = []string{"time-travel"}
	b, _ := json.Marshal(c)
	be.Save(ctx, "config", b)
	if _, err := Open(ctx, be, Options{Password: []byte("wrong"), CacheDir: t.TempDir()}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "time-travel") {
		t.Fatalf("open with an unknown mandatory feature: %v", err)
	}
	be.Save(ctx, "config", orig)
	if err := open(); err != nil {
		t.Fatalf("open restored config: %v", err)
	}
}
