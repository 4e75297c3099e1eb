package repo

import (
	"context"
	"os"
	"testing"
)

// Two machines may share a host name (localhost, a cloned VM, a default
// image's name) and, in their initial PID namespaces, a PID namespace
// name ("pid:[4026531836]" everywhere): a lock of the other machine whose
// PID does not run here is not stale, nor removed by a lock attempt. A
// lock of this boot's namespace whose process is gone still is.
func TestLockOfSameNamedHostNotStale(t *testing.T) {
	ctx := context.Background()
	clk, r, other := openTwo(t)
	now := clk.now()
	host, _ := os.Hostname()
	pid := deadPID(t)
	twin := other.TestWriteLock(t, LockInfo{Time: now, Refreshed: now, Host: host, PID: pid, PIDNS: pidNamespace(),
		Boot: "0f2a6e4c-0000-4000-8000-another-machine", Operation: "ingest"})
	if why := (&LockInfo{Refreshed: now, Host: host, PID: pid, PIDNS: pidNamespace(), Boot: "0f2a6e4c-0000-4000-8000-another-machine"}).StaleReason(now); why != "" {
		t.Errorf("a same-named host's live lock judged stale: %s", why)
	}
	if _, err := r.Lock(ctx, true, "prune"); err == nil {
		t.Fatal("prune locked the repository beside another machine's live ingest lock")
	}
	locks, err := r.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := locks[twin]; !ok {
		t.Fatal("another machine's live lock was removed")
	}
	if bootID() == "" {
		t.Skip("no boot ID on this system")
	}
	mine := &LockInfo{Refreshed: now, Host: host, PID: pid, PIDNS: pidNamespace(), Boot: bootID()}
	if mine.StaleReason(now) == "" {
		t.Error("a lock of a dead process of this boot is not stale")
	}
}
