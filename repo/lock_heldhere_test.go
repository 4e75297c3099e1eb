package repo

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The exit-11 advice never offers removing a lock whose holder runs here
// (HeldHere), but a PID is reused once its process is gone: a process
// that started after the lock was taken is not its holder, and must not
// hide the advice for a dead holder's lock.
func TestLockHeldHereNotByReusedPID(t *testing.T) {
	if bootID() == "" {
		t.Skip("no boot ID on this system")
	}
	host, _ := os.Hostname()
	// a process started now, long after a lock "taken" an hour ago by
	// the same PID
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	now := time.Now()
	old := &LockInfo{Time: now.Add(-time.Hour), Refreshed: now, Host: host, PID: cmd.Process.Pid, PIDNS: pidNamespace(), Boot: bootID()}
	if old.HeldHere() {
		t.Error("a lock taken an hour ago is held here by a process started just now (a reused PID)")
	}
	// the lock of a process that started before taking it is held here
	time.Sleep(50 * time.Millisecond)
	fresh := &LockInfo{Time: time.Now(), Refreshed: time.Now(), Host: host, PID: cmd.Process.Pid, PIDNS: pidNamespace(), Boot: bootID()}
	if !fresh.HeldHere() {
		t.Error("the lock of a running process of this host, taken after it started, is not held here")
	}
	mine := &LockInfo{Time: time.Now(), Refreshed: time.Now(), Host: host, PID: os.Getpid(), PIDNS: pidNamespace(), Boot: bootID()}
	if !mine.HeldHere() {
		t.Error("a lock of this very process is not held here")
	}
	if age, ok := processAge(os.Getpid()); !ok || age > time.Hour {
		t.Errorf("processAge of this process: %v %v", age, ok)
	}
}
