package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends/registry"
	"github.com/cairn-backup/cairn/repo"
)

// TestMain lets the test binary act as cairn (and as the helpers below) when
// a script runs it by that name.
func TestMain(m *testing.M) {
	testscript.Main(cleanupAfter{m}, map[string]func(){
		"cairn":        main,
		"unprivileged": unprivilegedMain,
		"holdlock":     holdlockMain,
	})
}

// cleanupAfter runs the tests, then removes the binary cairnBinary built
// (22 MB in the temporary folder per run of the tests otherwise).
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	defaultSignalsForChildren()
	code := c.m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	return code
}

// defaultSignalsForChildren gives the cairn processes the tests start the
// default SIGHUP and SIGINT when the tests themselves were started with
// them ignored (under nohup, or as a background job of a script): an
// ignored signal stays ignored across exec, and cairn then rightly keeps
// running on a hangup, as under nohup, which the tests of its signals do
// not expect. A caught one is reset to the default by exec; this process
// still takes no action on them, as before.
func defaultSignalsForChildren() {
	for _, sig := range []os.Signal{syscall.SIGHUP, os.Interrupt} {
		if signal.Ignored(sig) {
			drain := make(chan os.Signal, 1)
			signal.Notify(drain, sig)
			go func() {
				for range drain {
				}
			}()
		}
	}
}

// TestScripts runs the CLI behaviour scripts in testdata/script. Each starts
// with an empty $WORK, a password file, and the repository and cache
// locations pointing into $WORK; scripts run `cairn init --insecure-kdf`
// themselves.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			pw := filepath.Join(env.WorkDir, ".password")
			if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
				return err
			}
			env.Setenv("CAIRN_REPOSITORY", filepath.Join(env.WorkDir, "repo"))
			env.Setenv("CAIRN_CACHE_DIR", filepath.Join(env.WorkDir, "cache"))
			env.Setenv("CAIRN_PASSWORD_FILE", pw)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("TZ", "UTC")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "unreadable":
				if !canMakeUnreadable() && os.Getenv("CI") == "true" {
					return false, errors.New("CI: permission bits do not apply (as root, setpriv must drop CAP_DAC_OVERRIDE)")
				}
				return canMakeUnreadable(), nil
			case "root":
				return os.Geteuid() == 0, nil
			case "cgo":
				if !stdoutClosedDetectable && os.Getenv("CI") == "true" {
					return false, errors.New("CI: cairn must be built with cgo (CGO_ENABLED=1 and gcc)")
				}
				return stdoutClosedDetectable, nil
			case "fartimes":
				return canStoreFarTimes(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":     cmdExitcode,
			"json":         cmdJSON,
			"sharedprefix": cmdSharedPrefix,
			"mtime":        cmdMtime,
			"waitfile":     cmdWaitfile,
			"flipbyte":     cmdFlipByte,
			"badentry":     cmdBadEntry,
			"sparse":       cmdSparse,
		},
	})
}

// exitcode N PROG [ARG...] runs PROG like exec and asserts that it exits
// with exactly N. Its stdout and stderr are kept for stdout/stderr checks.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// json [-lines] [-set VAR] SOURCE EXPR [REGEXP] reads JSON from SOURCE
// (stdout, stderr or a file) and checks the value at EXPR against REGEXP,
// anchored at both ends; without REGEXP it only checks that EXPR exists.
// With -set it stores the value in $VAR instead.
//
// Without -lines SOURCE must hold exactly one JSON value. With -lines each
// non-empty line must be one JSON value, and the root is the array of them.
//
// EXPR is "." or dot-separated steps: an object key, an array index
// (negative counts from the end), "#" for the length of an array or object,
// or "[KEY=VALUE]" keeping the array's objects whose KEY renders as VALUE.
// Strings render bare, everything else as compact JSON.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	lines, setVar := false, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-lines":
			lines = true
			args = args[1:]
		case "-set":
			if len(args) < 2 {
				ts.Fatalf("json: -set needs a variable name")
			}
			setVar, args = args[1], args[2:]
		default:
			ts.Fatalf("json: unknown flag %s", args[0])
		}
	}
	if len(args) < 2 || len(args) > 3 || (setVar != "" && len(args) != 2) {
		ts.Fatalf("usage: json [-lines] [-set VAR] source expr [regexp]")
	}
	if strings.HasSuffix(args[1], ".") {
		// testscript ends a line at an unquoted #: "json stdout a.# 2"
		// reaches here as "a." alone and would only test that a exists.
		ts.Fatalf("json: expression %q ends in \".\": quote one holding # ('a.#'), or testscript takes the rest for a comment", args[1])
	}
	root, err := decodeJSON(ts.ReadFile(args[0]), lines)
	if err != nil {
		ts.Fatalf("json: %s: %v", args[0], err)
	}
	v, err := jsonEval(root, args[1])
	if setVar != "" {
		if neg {
			ts.Fatalf("unsupported: ! json -set")
		}
		if err != nil {
			ts.Fatalf("json: %s: %v", args[1], err)
		}
		ts.Setenv(setVar, jsonRender(v))
		return
	}
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("json: %s: %v", args[1], err)
	}
	got := jsonRender(v)
	if len(args) == 2 {
		if neg {
			ts.Fatalf("json: %s exists (%s)", args[1], got)
		}
		return
	}
	re, err := regexp.Compile(`^(?:` + args[2] + `)$`)
	if err != nil {
		ts.Fatalf("json: bad regexp: %v", err)
	}
	switch ok := re.MatchString(got); {
	case ok && neg:
		ts.Fatalf("json: %s is %s, matching %q", args[1], got, args[2])
	case !ok && !neg:
		ts.Fatalf("json: %s is %s, not matching %q", args[1], got, args[2])
	}
}

func decodeJSON(s string, lines bool) (any, error) {
	one := func(s string) (any, error) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if d.More() {
			return nil, fmt.Errorf("more than one JSON value in %q", s)
		}
		return v, nil
	}
	if !lines {
		return one(s)
	}
	out := []any{}
	for i, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		v, err := one(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func jsonSteps(expr string) []string {
	if expr == "." {
		return nil
	}
	var steps []string
	for expr != "" {
		if strings.HasPrefix(expr, "[") {
			i := strings.IndexByte(expr, ']')
			if i < 0 {
				i = len(expr) - 1
			}
			steps = append(steps, expr[:i+1])
			expr = strings.TrimPrefix(expr[i+1:], ".")
			continue
		}
		i := strings.IndexByte(expr, '.')
		if i < 0 {
			steps = append(steps, expr)
			break
		}
		steps = append(steps, expr[:i])
		expr = expr[i+1:]
	}
	return steps
}

func jsonEval(v any, expr string) (any, error) {
	for _, st := range jsonSteps(expr) {
		switch x := v.(type) {
		case map[string]any:
			if st == "#" {
				v = json.Number(strconv.Itoa(len(x)))
				continue
			}
			next, ok := x[st]
			if !ok {
				return nil, fmt.Errorf("no key %q", st)
			}
			v = next
		case []any:
			switch {
			case st == "#":
				v = json.Number(strconv.Itoa(len(x)))
			case strings.HasPrefix(st, "[") && strings.HasSuffix(st, "]"):
				key, want, ok := strings.Cut(st[1:len(st)-1], "=")
				if !ok {
					return nil, fmt.Errorf("bad filter %q", st)
				}
				kept := []any{}
				for _, e := range x {
					if m, ok := e.(map[string]any); ok {
						if f, ok := m[key]; ok && jsonRender(f) == want {
							kept = append(kept, e)
						}
					}
				}
				v = kept
			default:
				i, err := strconv.Atoi(st)
				if err != nil {
					return nil, fmt.Errorf("step %q on an array", st)
				}
				if i < 0 {
					i += len(x)
				}
				if i < 0 || i >= len(x) {
					return nil, fmt.Errorf("index %s out of range (length %d)", st, len(x))
				}
				v = x[i]
			}
		default:
			return nil, fmt.Errorf("step %q on %s", st, jsonRender(v))
		}
	}
	return v, nil
}

func jsonRender(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// sharedprefix VAR SOURCE sets $VAR to the longest prefix that at least two
// snapshot IDs in SOURCE (the output of `snapshots --json`) begin with.
func cmdSharedPrefix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sharedprefix VAR source")
	}
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[1])), &list); err != nil {
		ts.Fatalf("sharedprefix: %v", err)
	}
	best := ""
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			a, b := list[i].ID, list[j].ID
			n := 0
			for n < len(a) && n < len(b) && a[n] == b[n] {
				n++
			}
			if n > len(best) {
				best = a[:n]
			}
		}
	}
	if best == "" {
		ts.Fatalf("sharedprefix: no two of %d snapshot IDs share a prefix", len(list))
	}
	ts.Setenv(args[0], best)
}

// sparse FILE SIZE DATA makes FILE a sparse file of SIZE bytes (a Go
// integer literal) holding only DATA, in its middle; it fails the script
// when the filesystem keeps no holes.
func cmdSparse(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: sparse FILE SIZE DATA")
	}
	size, err := strconv.ParseInt(args[1], 0, 64)
	ts.Check(err)
	p := ts.MkAbs(args[0])
	f, err := os.Create(p)
	ts.Check(err)
	_, err = f.WriteAt([]byte(args[2]), size/2)
	ts.Check(err)
	ts.Check(f.Truncate(size))
	ts.Check(f.Close())
	var st syscall.Stat_t
	ts.Check(syscall.Stat(p, &st))
	if st.Blocks*512 >= size {
		ts.Fatalf("%s is not sparse: the filesystem keeps no holes", p)
	}
}

// mtime TIME FILE... sets the modification (and access) time of the files
// to TIME, in RFC 3339.
func cmdMtime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mtime RFC3339-time file...")
	}
	t, err := time.Parse(time.RFC3339, args[0])
	if err != nil {
		ts.Fatalf("mtime: %v", err)
	}
	for _, f := range args[1:] {
		ts.Check(os.Chtimes(ts.MkAbs(f), t, t))
	}
}

// waitfile FILE waits up to 20 seconds for FILE to exist.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile file")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfile: %s did not appear", args[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dropCaps are the capabilities root must shed so that a file of mode 0000
// cannot be read.
var dropCaps = []string{"--bounding-set=-dac_override,-dac_read_search"}

// canMakeUnreadable reports whether `unprivileged` can run a program for
// which a mode-0000 file is unreadable: as non-root, always; as root, when
// setpriv can drop the capabilities that bypass permission checks.
var canMakeUnreadable = sync.OnceValue(func() bool {
	if os.Geteuid() != 0 {
		return true
	}
	dir, err := os.MkdirTemp("", "cairn-unreadable")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "f")
	if os.WriteFile(f, []byte("x"), 0o000) != nil {
		return false
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return false
	}
	if exec.Command(setpriv, append(dropCaps, "true")...).Run() != nil {
		return false
	}
	return exec.Command(setpriv, append(dropCaps, "cat", f)...).Run() != nil
})

// unprivilegedMain (the command "unprivileged PROG [ARG...]") runs PROG so
// that permission bits apply to it: as root it drops CAP_DAC_OVERRIDE and
// CAP_DAC_READ_SEARCH through setpriv, keeping uid 0 so that $WORK stays
// writable.
func unprivilegedMain() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: unprivileged program [args...]")
		os.Exit(2)
	}
	if os.Geteuid() == 0 {
		args = append(append([]string{"setpriv"}, dropCaps...), args...)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "unprivileged:", err)
		os.Exit(2)
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintln(os.Stderr, "unprivileged:", err)
	os.Exit(2)
}

// holdlockMain (the command "holdlock READYFILE") takes an exclusive lock on
// $CAIRN_REPOSITORY, creates READYFILE, and holds the lock until SIGINT or
// SIGTERM, then removes it and exits 0. It uses a cache folder of its own so
// that it does not hold the local index the cairn under test needs.
func holdlockMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: holdlock readyfile")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "holdlock:", err)
		os.Exit(1)
	}
	pw, err := os.ReadFile(os.Getenv("CAIRN_PASSWORD_FILE"))
	if err != nil {
		fail(err)
	}
	be, err := registry.Open(os.Getenv("CAIRN_REPOSITORY"))
	if err != nil {
		fail(err)
	}
	cache, err := os.MkdirTemp("", "holdlock-cache")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(cache)
	r, err := repo.Open(ctx, be, repo.Options{Password: firstLine(pw), CacheDir: cache})
	if err != nil {
		fail(err)
	}
	defer r.Close()
	lock, err := r.Lock(ctx, true, "holdlock")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(os.Args[1], nil, 0o644); err != nil {
		lock.Unlock()
		fail(err)
	}
	<-ctx.Done()
	if err := lock.Unlock(); err != nil {
		fail(err)
	}
}

// canStoreFarTimes says whether the filesystem of the scripts' work
// folders keeps a file time in the year 2400 (ext4 with large inodes and
// tmpfs do; XFS without bigtime and ext4 with 128-byte inodes stop at
// 2038).
func canStoreFarTimes() bool {
	f, err := os.CreateTemp("", "fartime")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	f.Close()
	// Set and read through the syscalls: a time.Time past 2262 has no
	// UnixNano, which os.Chtimes and FileInfo.ModTime go through.
	far := unix.Timespec{Sec: time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}
	if unix.UtimesNanoAt(unix.AT_FDCWD, f.Name(), []unix.Timespec{far, far}, 0) != nil {
		return false
	}
	var st unix.Stat_t
	return unix.Stat(f.Name(), &st) == nil && st.Mtim == far
}
