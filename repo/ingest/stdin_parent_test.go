package ingest_test

import (
	"strings"
	"testing"

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
