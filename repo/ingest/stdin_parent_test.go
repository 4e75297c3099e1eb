package ingest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

func stream(name, data string, skip bool) ingest.Options {
	return ingest.Options{Stdin: strings.NewReader(data), StdinName: name, Host: "h", Source: "db", SkipIfUnchanged: skip}
}

// A stream takes as parent only the last stream of the same name: the
// dump of another database under the same source is not its parent.
func TestStreamParentIsSameName(t *testing.T) {
	r := repo.TestRepository(t)
	app := run(t, r, stream("app.sql", "app dump\n", false))
	other := run(t, r, stream("other.sql", "other dump\n", false))
	if other.Snapshot.Parent != nil {
		t.Errorf("the stream other.sql took snapshot %s of app.sql as parent", other.Snapshot.Parent)
	}
	if s := other.Snapshot.Summary; s.FilesNew != 1 {
		t.Errorf("first other.sql: %d new, want 1", s.FilesNew)
	}
	again := run(t, r, stream("app.sql", "app dump 2\n", false))
	if p := again.Snapshot.Parent; p == nil || *p != app.Snapshot.ID {
		t.Errorf("second app.sql: parent %v, want %s", p, app.Snapshot.ID)
	}
}

// An unchanged stream is unchanged, though its times are those of each
// ingest: --skip-if-unchanged writes no snapshot for it.
func TestStreamSkipIfUnchanged(t *testing.T) {
	r := repo.TestRepository(t)
	first := run(t, r, stream("app.sql", "app dump\n", true))
	time.Sleep(2 * time.Millisecond)
	res := run(t, r, stream("app.sql", "app dump\n", true))
	if !res.Skipped {
		t.Errorf("an unchanged dump was saved again")
	}
	if s := res.Snapshot.Summary; s.FilesUnchanged != 1 {
		t.Errorf("unchanged dump: %d unchanged, want 1", s.FilesUnchanged)
	}
	if n := snapshotCount(t, r); n != 1 {
		t.Errorf("%d snapshots, want 1", n)
	}
	res = run(t, r, stream("app.sql", "app dump, changed\n", true))
	if res.Skipped {
		t.Fatalf("a changed dump was skipped")
	}
	if p := res.Snapshot.Parent; p == nil || *p != first.Snapshot.ID {
		t.Errorf("parent %v, want %s", p, first.Snapshot.ID)
	}
	if s := res.Snapshot.Summary; s.FilesChanged != 1 || s.FilesNew != 0 {
		t.Errorf("changed dump: %d new %d changed, want 0 and 1", s.FilesNew, s.FilesChanged)
	}
	// A stream of another name is never the same.
	if res := run(t, r, stream("other.sql", "app dump, changed\n", true)); res.Skipped {
		t.Errorf("other.sql skipped as the same as app.sql")
	}
}

// The same stream saved before as another user's (through a daemon,
// before f39656b) or with mode 0644 (before ce366bf) is counted changed
// once, and with --skip-if-unchanged saved again: the ingest says why,
// where it looked like a dump that changed. A dump that changed, or one
// saved as before, says nothing.
func TestStreamSavedOtherwiseBeforeSaid(t *testing.T) {
	r := repo.TestRepository(t)
	var notices []string
	opt := func(data string) ingest.Options {
		o := stream("app.sql", data, true)
		o.Notice = func(path, msg string) { notices = append(notices, path+": "+msg) }
		return o
	}
	before := opt("app dump\n")
	before.StdinOwner = &ingest.Owner{UID: 4321, GID: 4321}
	run(t, r, before)
	if len(notices) != 0 {
		t.Fatalf("first stream: notices %q", notices)
	}
	res := run(t, r, opt("app dump\n"))
	if res.Skipped || res.Snapshot.Summary.FilesChanged != 1 {
		t.Fatalf("a stream saved as another user's: skipped %v, %d changed; want saved, 1 changed", res.Skipped, res.Snapshot.Summary.FilesChanged)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "/app.sql: the same stream as in the parent snapshot") || !strings.Contains(notices[0], "owner 4321:4321") {
		t.Fatalf("notices %q, want one saying the stream is the same but its owner was 4321:4321", notices)
	}
	notices = nil
	if res := run(t, r, opt("app dump\n")); !res.Skipped || len(notices) != 0 {
		t.Fatalf("the same stream again: skipped %v, notices %q", res.Skipped, notices)
	}
	if res := run(t, r, opt("app dump, changed\n")); res.Skipped || len(notices) != 0 {
		t.Fatalf("a changed stream: skipped %v, notices %q", res.Skipped, notices)
	}
}
