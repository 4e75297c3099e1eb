package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// runBrowseScript runs one script of testdata/browse with the environment
// and commands of TestScripts.
func runBrowseScript(t *testing.T, name string) {
	testscript.Run(t, testscript.Params{
		Files: []string{filepath.Join("testdata", "browse", name)},
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitcode,
			"json":     cmdJSON,
			"mtime":    cmdMtime,
		},
	})
}

func TestDiffScript(t *testing.T) { runBrowseScript(t, "diff.txtar") }
