package filter

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestExcluded(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		path     string
		root     int
		want     bool
	}{
		{[]string{"*.tmp"}, "/home/a/x.tmp", 0, true},
		{[]string{"*.tmp"}, "/home/a/x.txt", 0, false},
		{[]string{"*.tmp"}, "/home/a.tmp/inside", 0, true}, // a folder excludes its contents
		{[]string{"/home/a"}, "/home/a/x", 0, true},
		{[]string{"/home/a"}, "/srv/home/a/x", 0, false}, // anchored
		{[]string{"home/a"}, "/srv/home/a/x", 0, true},   // unanchored: any depth
		{[]string{"cache/x"}, "/p/cache/x", 0, true},
		{[]string{"/home/**/y"}, "/home/a/b/c/y", 0, true},
		{[]string{"/home/**/y"}, "/home/y", 0, true},
		{[]string{"**/node_modules"}, "/src/app/node_modules/m/i.js", 0, true},
		{[]string{"*.log", "!keep.log"}, "/var/keep.log", 0, false}, // last match decides
		{[]string{"!keep.log", "*.log"}, "/var/keep.log", 0, true},
		{[]string{"d?ta"}, "/data/f", 0, true},
		{[]string{"[ab].txt"}, "/x/b.txt", 0, true},
		// Paths given on the command line: a match confined to the given
		// path or its parents excludes nothing below it.
		{[]string{"tmp"}, "/tmp/x/d/file", 3, false},
		{[]string{"logs"}, "/w/data/logs/x.log", 3, false},
		{[]string{"logs"}, "/w/data/logs/logs/x.log", 3, true},
		{[]string{"*.log"}, "/w/data/logs/x.log", 3, true},
		{[]string{"/w/data"}, "/w/data/f", 2, false},
	} {
		ps, err := Parse(c.patterns)
		if err != nil {
			t.Fatal(err)
		}
		if got := ExcludedBelow(ps, c.path, c.root); got != c.want {
			t.Errorf("%v on %s (root %d) = %v, want %v", c.patterns, c.path, c.root, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, p := range []string{"/", "[", "!"} {
		if _, err := Parse([]string{p}); err == nil {
			t.Errorf("Parse(%q) accepted", p)
		}
	}
}

func TestIncluder(t *testing.T) {
	in, err := NewIncluder([]string{"home/alice/**", "!**/cache/**"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path       string
		inc, enter bool
	}{
		{"home", false, true},
		{"home/alice", true, true},
		{"home/alice/docs/a.txt", true, true},
		{"home/alice/cache/x", false, true},
		{"home/bob/x", false, true}, // unanchored patterns may match anywhere
	} {
		if got := in.Includes(c.path); got != c.inc {
			t.Errorf("Includes(%s) = %v, want %v", c.path, got, c.inc)
		}
		if got := in.MayContain(c.path); got != c.enter {
			t.Errorf("MayContain(%s) = %v, want %v", c.path, got, c.enter)
		}
	}
	anchored, _ := NewIncluder([]string{"/etc/ssh"})
	if anchored.MayContain("home") || !anchored.MayContain("etc") || !anchored.Includes("etc/ssh/sshd_config") || anchored.Includes("etc/passwd") {
		t.Error("anchored include wrong")
	}
	var none *Includer
	if !none.Includes("x") || !none.MayContain("x") {
		t.Error("no patterns must include everything")
	}
}

// Exclude files are read as restic reads them: trimmed lines, comments and
// blank lines skipped, CRLF line ends, a UTF-8 byte order mark dropped,
// UTF-16 decoded and environment variables expanded.
func TestReadFile(t *testing.T) {
	t.Setenv("FILTER_TEST_DIR", "/home/u")
	want := []string{"*.tmp", "/home/u/cache", "/home/u/x", "a$b", "foo"}
	text := "\ufeff*.tmp\r\n# comment\r\n\r\n  $FILTER_TEST_DIR/cache  \r\n${FILTER_TEST_DIR}/x\na$$b\n   # indented comment\nfoo"
	utf16le := []byte{0xff, 0xfe}
	for _, r := range text[3:] {
		utf16le = append(utf16le, byte(r), byte(r>>8))
	}
	for name, data := range map[string][]byte{"utf-8": []byte(text), "utf-16le": utf16le} {
		f := filepath.Join(t.TempDir(), "excludes")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

// A pattern given as it is keeps its spaces, as in restic.
func TestPatternSpaces(t *testing.T) {
	ps, err := Parse([]string{" x"})
	if err != nil {
		t.Fatal(err)
	}
	if ExcludedBelow(ps, "/d/x", 0) || !ExcludedBelow(ps, "/d/ x", 0) {
		t.Error("pattern \" x\" must match \" x\" and not \"x\"")
	}
}

// A restore's selection: includes (or everything), minus excludes, each
// list also regardless of case; an excluded folder is not entered.
func TestSelection(t *testing.T) {
	sel, err := NewSelection([]string{"home/alice"}, []string{"ETC/ssh*"}, []string{"*.tmp", "!keep.tmp"}, []string{"CACHE"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p           string
		take, enter bool
	}{
		{"home/alice/notes.txt", true, true},
		{"home/alice/x.tmp", false, false},
		{"home/alice/keep.tmp", true, true},
		{"home/alice/Cache", false, false},
		{"home/alice/cache/f", false, false},
		{"home/bob/notes.txt", false, true}, // home/alice unanchored could match below
		{"etc/sshd_config", true, true},
		{"Etc/SSH_config", true, true},
		{"etc/passwd", false, true},
	} {
		if got := sel.Includes(tc.p); got != tc.take {
			t.Errorf("Includes(%q) = %v, want %v", tc.p, got, tc.take)
		}
		if got := sel.MayContain(tc.p); got != tc.enter {
			t.Errorf("MayContain(%q) = %v, want %v", tc.p, got, tc.enter)
		}
	}
	all, _ := NewSelection(nil, nil, []string{"/tmp"}, nil)
	if !all.Includes("home/x") || all.Includes("tmp/x") || all.MayContain("tmp") || !all.Includes("var/tmp") {
		t.Error("without includes, everything but the excluded is taken")
	}
}

// Beneath a restore's folder, an anchored pattern matches from that
// folder as well as from the snapshot root; unanchored ones as before.
func TestBeneath(t *testing.T) {
	in, err := NewSelection([]string{"/Documents", "/home/alice/Music"}, nil, []string{"/Documents/tmp"}, []string{"/DOCUMENTS/CACHE"})
	if err != nil {
		t.Fatal(err)
	}
	b := in.Beneath("home/alice")
	for p, want := range map[string]bool{
		"home/alice/Documents/cv.txt":   true,
		"home/alice/Music/a.flac":       true,
		"home/alice/Documents/tmp/x":    false,
		"home/alice/Documents/Cache/x":  false,
		"home/alice/Downloads/x":        false,
		"home/bob/Documents/cv.txt":     false,
		"home/alice/x/Documents/cv.txt": false,
	} {
		if got := b.Includes(p); got != want {
			t.Errorf("beneath home/alice: Includes(%q) = %v, want %v", p, got, want)
		}
	}
	if !b.MayContain("home/alice") || !b.MayContain("home/alice/Documents") || b.MayContain("home/alice/Downloads") {
		t.Error("beneath home/alice: MayContain wrong")
	}
	if in.Includes("home/alice/Documents/cv.txt") {
		t.Error("without Beneath, /Documents matched below home/alice")
	}
}
