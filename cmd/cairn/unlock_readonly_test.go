package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// unlock on storage that refuses the removal of a stale lock (a read-only
// mount) fails, and does not also print "no locks" as if there were none.
func TestUnlockReadOnlyDoesNotSayNoLocks(t *testing.T) {
	c := newCLI(t)
	r := openRepoOf(t, c, time.Now)
	old := time.Now().Add(-2 * repo.StaleAfter)
	writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Host: "otherhost", PID: 10639, User: "root", Operation: "ingest"})
	ro := newCLIAt(t, readOnlyBind(t, c.repoDir()))
	for _, args := range [][]string{{"unlock"}, {"unlock", "--remove-all"}} {
		out, stderr, code := ro.runErr(args...)
		if code != 1 || !strings.Contains(stderr, "read-only file system") || strings.Contains(out, "no locks") || strings.Contains(out, "no stale locks") {
			t.Errorf("cairn %v on a read-only repository with a stale lock: exit %d, stdout %q, stderr %q: want 1, the error, and no \"no locks\"", args, code, out, stderr)
		}
	}
}
