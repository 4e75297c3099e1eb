package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// When one holder of the locks in the way runs on this host, the advice
// never offers unlock --remove-all, whatever the other holders are: it
// would remove the live lock too, and a prune could then delete what its
// holder is writing.
func TestLockAdviceWithALiveHolderAmongOthers(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	now := time.Now()
	r.TestWriteLock(t, repo.LockInfo{Time: now, Refreshed: now, Host: "otherhost", PID: 4321, User: "root", Operation: "ingest"})
	_, err = r.Lock(ctx, true, "prune")
	if err == nil {
		t.Fatal("a second exclusive lock was granted")
	}
	advice := lockAdvice(err)
	if strings.Contains(advice, "remove-all") || !strings.Contains(advice, "held by cairn running on this host") {
		t.Fatalf("advice for a live local holder beside a foreign one: %s", advice)
	}
}
