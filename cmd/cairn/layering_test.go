package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cairn-backup/cairn"

// layers says which of cairn's packages each part may import (DESIGN.md,
// "Layout"). A package matches the longest listed prefix; "" is the module
// root. Arrows point one way: backends knows nothing of packs, repo knows
// nothing of FUSE or terminals.
var layers = map[string][]string{
	"backends":         {"backends"},
	"index":            {"index", "repo/id"},
	"repo/id":          {},
	"repo":             {"repo", "backends", "index"},
	"fs":               {"fs", "repo", "backends", "index"},
	"tui":              {"tui", "repo", "backends", "index"},
	"cmd/cairn/daemon": {"cmd/cairn/daemon", "repo", "fs", "backends", "index"},
	"cmd":              {""},
	"fuzz":             {"fuzz", "repo", "index", "backends/mem"},
	"bench":            {"bench"},
}

func layerOf(rel string) string {
	best := ""
	for l := range layers {
		if (rel == l || strings.HasPrefix(rel, l+"/")) && len(l) > len(best) {
			best = l
		}
	}
	return best
}

func allowed(rel, imp string) bool {
	for _, a := range layers[layerOf(rel)] {
		if a == "" || imp == a || strings.HasPrefix(imp, a+"/") {
			return true
		}
	}
	return false
}

// TestLayering reads every package's imports (tests included) and fails on
// one that points the wrong way.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath  string
			Imports     []string
			TestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if layerOf(rel) == "" {
			t.Errorf("package %s is in no layer: add it to layers in layering_test.go and DESIGN.md", p.ImportPath)
			continue
		}
		for _, imp := range append(p.Imports, p.TestImports...) {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			irel := strings.TrimPrefix(imp, module+"/")
			if !allowed(rel, irel) {
				t.Errorf("%s imports %s: %s may import only %v", rel, irel, layerOf(rel), layers[layerOf(rel)])
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func TestLayeringRules(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
		ok       bool
	}{
		{"repo/ingest", "backends", true},
		{"backends/local", "repo", false},
		{"index", "repo/id", true},
		{"index", "repo", false},
		{"repo", "fs", false},
		{"fs", "repo", true},
		{"tui", "fs", false},
		{"cmd/cairn", "tui", true},
	} {
		if got := allowed(c.pkg, c.imp); got != c.ok {
			t.Errorf("allowed(%s, %s) = %v, want %v", c.pkg, c.imp, got, c.ok)
		}
	}
}
