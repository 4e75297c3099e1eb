package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unit is a parsed unit file: section → key → values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, name string) unit {
	t.Helper()
	b, err := Units.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not a key=value in a section: %q", name, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) want(t *testing.T, name, section, key, value string) {
	t.Helper()
	if !slices.Contains(u[section][key], value) {
		t.Errorf("%s: [%s] %s=%q, want %q", name, section, key, u[section][key], value)
	}
}

func TestUnitKeys(t *testing.T) {
	s := parseUnit(t, "cairn.service")
	for k, v := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "WatchdogSec": "60s", "KillMode": "mixed",
		"ExecStart":      "/usr/local/bin/cairn daemon --config /etc/cairn/cairn.yaml",
		"ExecReload":     "/bin/kill -HUP $MAINPID",
		"TimeoutStopSec": "90s", "RuntimeDirectory": "cairn",
	} {
		s.want(t, "cairn.service", "Service", k, v)
	}
	s.want(t, "cairn.service", "Install", "WantedBy", "multi-user.target")
	// Options that would hide the FUSE mount in a private namespace, or
	// forbid /dev/fuse or reading files, must stay out.
	for _, k := range []string{"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectKernelTunables", "ProtectControlGroups", "ProtectClock",
		"ReadOnlyPaths", "InaccessiblePaths", "DeviceAllow", "DevicePolicy", "MountFlags", "CapabilityBoundingSet", "User", "DynamicUser"} {
		if _, ok := s["Service"][k]; ok {
			t.Errorf("cairn.service sets %s, which breaks the mount or reading as root", k)
		}
	}

	i := parseUnit(t, "cairn-ingest@.service")
	for k, v := range map[string]string{
		"Type": "oneshot", "EnvironmentFile": "/etc/cairn/ingest-%i.env", "SuccessExitStatus": "3",
		"ExecStart": "/usr/local/bin/cairn ingest $CAIRN_INGEST_ARGS",
	} {
		i.want(t, "cairn-ingest@.service", "Service", k, v)
	}
	tm := parseUnit(t, "cairn-ingest@.timer")
	tm.want(t, "cairn-ingest@.timer", "Timer", "OnCalendar", "daily")
	tm.want(t, "cairn-ingest@.timer", "Timer", "Persistent", "true")
	if len(tm["Timer"]["RandomizedDelaySec"]) != 1 {
		t.Error("cairn-ingest@.timer: no RandomizedDelaySec")
	}
	tm.want(t, "cairn-ingest@.timer", "Install", "WantedBy", "timers.target")
}

// TestSystemdAnalyzeVerify has systemd check the units, when it is there;
// systemd is not a part the rest of the tests need, so it skips otherwise.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	// verify wants ExecStart's binary to exist: use this test's.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := []string{"cairn.service", "cairn-ingest@.service", "cairn-ingest@.timer"}
	for _, n := range names {
		b, err := Units.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		// Quoted, and % doubled: the test binary's path (under TMPDIR)
		// may hold spaces, which would split it.
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/cairn"), []byte(`"`+strings.ReplaceAll(self, "%", "%%")+`"`))
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sa, "verify", "--man=no", "./cairn.service", "./cairn-ingest@test.service", "./cairn-ingest@test.timer")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	// verify exits 0 on unknown keys and the like, and only prints them:
	// any line about our files is a failure.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		if strings.Contains(line, "cairn") {
			t.Errorf("systemd-analyze: %s", line)
		} else {
			t.Logf("systemd-analyze: %s", line)
		}
	}
	if err != nil && !t.Failed() {
		t.Logf("systemd-analyze verify: %v (no line about cairn's units; the environment may lack systemd)", err)
	}
}
