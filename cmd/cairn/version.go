package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cairn's version, the commit it was built from and the Go it was built with",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			commit := buildCommit()
			if g.json {
				m := map[string]any{"message_type": "version", "version": version, "go_version": runtime.Version(),
					"go_os": runtime.GOOS, "go_arch": runtime.GOARCH}
				if commit != "" {
					m["commit"] = commit
				}
				printJSON(m)
				return nil
			}
			built := ""
			if commit != "" {
				built = "commit " + commit + ", "
			}
			fmt.Fprintf(stdout, "cairn %s (%s%s %s/%s)\n", version, built, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// commit is set by make build with -ldflags "-X main.commit=...".
var commit string

// buildCommit is the commit the binary was built from ("+dirty" when the
// tree had changes), as make build or the Go toolchain recorded it, or ""
// when neither did (go run, go test, a build outside the repository).
func buildCommit() string {
	if commit != "" {
		return commit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+dirty"
		}
	}
	if rev == "" {
		return ""
	}
	return rev[:min(12, len(rev))] + dirty
}
