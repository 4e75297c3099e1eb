package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
)

// An empty password from a daemon copy's (or the daemon's own)
// password_file or password_command is reported by the config key that
// named it, not by a --password-file flag the config's user never set.
func TestDaemonCopyEmptyPasswordNamesConfigKey(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	g := &globals{}
	for _, c := range []*daemon.Copy{
		{Name: "offsite", Repository: "/nowhere", PasswordFile: empty},
		{Name: "offsite", Repository: "/nowhere", PasswordCommand: "true"},
	} {
		_, err := g.forCopy(&daemon.Config{}, c).password(context.Background(), false)
		if err == nil {
			t.Fatal("an empty password was taken")
		}
		msg := err.Error()
		if strings.Contains(msg, "--") || !strings.Contains(msg, "of copy offsite") ||
			!strings.Contains(msg, "password_file "+empty) && !strings.Contains(msg, `password_command "true"`) {
			t.Fatalf("error %q should name the copy's config key", msg)
		}
	}
	// So is the main repository's, when the config names it.
	_, err := g.forDaemon(&daemon.Config{PasswordFile: empty}).password(context.Background(), false)
	if err == nil || strings.Contains(err.Error(), "--") || !strings.Contains(err.Error(), "password_file "+empty+" of the daemon config") {
		t.Fatalf("error %v should name the daemon config's password_file", err)
	}
	// Left out of the config, the flag's (or variable's) file is named as such.
	g.passwordFile = empty
	_, err = g.forDaemon(&daemon.Config{}).password(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "--password-file "+empty) {
		t.Fatalf("error %v should name --password-file", err)
	}
}
