package fuzz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

func seedSnapshot() *repo.Snapshot {
	parent := id.ID{7}
	return &repo.Snapshot{
		Time: time.Date(2026, 11, 26, 1, 2, 3, 456789, time.FixedZone("CET", 3600)), Tree: id.ID{1, 2},
		Paths: []string{"/home", "/etc/\xff"}, Host: "host", Source: "home", Tags: []string{"daily", ""},
		Username: "root", UID: 0, GID: 0, Parent: &parent, Excludes: []string{"*.tmp"}, ProgramVersion: "cairn dev",
		Summary: &repo.Summary{Start: time.Unix(1, 0).UTC(), End: time.Unix(2, 0).UTC(), FilesNew: 3, TotalBytes: 1 << 40},
	}
}

// FuzzSnapshotJSON decodes a snapshot object's plaintext as the repository
// does (encoding/json into repo.Snapshot; the decoder itself is not
// exported) and checks it re-encodes stably.
func FuzzSnapshotJSON(f *testing.F) {
	full, _ := json.Marshal(seedSnapshot())
	minimal, _ := json.Marshal(&repo.Snapshot{Tags: []string{}})
	addSeeds(f, []seed{
		{"full", []any{full}},
		{"minimal", []any{minimal}},
		{"bad-id", []any{[]byte(`{"tree":"abc","parent":"zz"}`)}},
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		var sn repo.Snapshot
		var err error
		bounded(t, allocLimit(len(b)), func() { err = json.Unmarshal(b, &sn) })
		if err != nil {
			return
		}
		sn.HasTag("daily")
		repo.Filter{Hosts: []string{"host"}, Tags: []repo.TagList{{"daily"}}}.Match(&sn)
		m1, err := json.Marshal(&sn)
		if err != nil {
			return // times past year 9999 do not marshal
		}
		var sn2 repo.Snapshot
		if err := json.Unmarshal(m1, &sn2); err != nil {
			t.Fatalf("re-encoded snapshot: %v", err)
		}
		if m2, _ := json.Marshal(&sn2); !bytes.Equal(m1, m2) {
			t.Fatalf("re-encoded snapshot differs:\n%s\n%s", m1, m2)
		}
	})
}

// FuzzLockJSON decodes a lock object's plaintext and formats it, as lock
// checks and `cairn unlock` do.
func FuzzLockJSON(f *testing.F) {
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	real, _ := json.Marshal(&repo.LockInfo{Time: now, Refreshed: now, Exclusive: true, Host: "elsewhere", PID: 42, User: "u", Operation: "prune"})
	addSeeds(f, []seed{{"real", []any{real}}, {"empty", []any{[]byte(`{}`)}}})
	f.Fuzz(func(t *testing.T, b []byte) {
		var li repo.LockInfo
		if json.Unmarshal(b, &li) != nil {
			return
		}
		_ = li.String()
		if li.Host != "" {
			li.Host = "not-this-host." + li.Host // Stale must not signal local processes here
		}
		li.Stale(now)
	})
}

// FuzzStoredObject stores fuzzed bytes as a snapshot, index segment or lock
// object of a test repository and reads them back through the public API.
// Without the key nothing authenticates, so this covers the envelope checks
// and damage reporting; the seeds, sealed by this process's repository, also
// cover the success path when run as regression tests.
func FuzzStoredObject(f *testing.F) {
	ctx := context.Background()
	r := repo.TestRepository(f)
	be := r.Backend()
	sn := seedSnapshot()
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		f.Fatal(err)
	}
	snap, _ := be.Load(ctx, "snapshots/"+sn.ID.String(), 0, -1)
	segID, err := r.SaveSegment(ctx, &repo.Segment{Supersedes: []id.ID{{3}}})
	if err != nil {
		f.Fatal(err)
	}
	seg, _ := be.Load(ctx, "index/"+segID.String(), 0, -1)
	lk, err := r.Lock(ctx, false, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	locks, _ := r.Locks(ctx)
	var lock []byte
	for name := range locks {
		lock, _ = be.Load(ctx, name, 0, -1)
	}
	lk.Unlock()
	addSeeds(f, []seed{
		{"snapshot", []any{snap, byte(0)}},
		{"segment", []any{seg, byte(1)}},
		{"lock", []any{lock, byte(2)}},
		{"format-2", []any{append([]byte{2}, snap[1:]...), byte(0)}},
	})
	f.Fuzz(func(t *testing.T, b []byte, kind byte) {
		oid := id.ID(blake3.Sum256(b))
		var name string
		var load func() error
		switch kind % 3 {
		case 0:
			name = "snapshots/" + oid.String()
			load = func() error {
				sn, err := r.LoadSnapshot(ctx, oid)
				if err == nil && sn.ID != oid {
					t.Fatalf("snapshot %s loaded as %s", oid.Short(), sn.ID.Short())
				}
				return err
			}
		case 1:
			name = "index/" + oid.String()
			load = func() error { _, err := r.LoadSegment(ctx, oid); return err }
		case 2:
			name = "locks/" + oid.String()
			load = func() error {
				locks, err := r.Locks(ctx)
				if err == nil && locks[name] == nil {
					t.Fatalf("lock object %s not listed", name)
				}
				return err
			}
		}
		if err := be.Save(ctx, name, b); err != nil {
			t.Fatal(err)
		}
		defer be.Remove(ctx, name)
		var err error
		bounded(t, allocLimit(len(b)), func() { err = load() })
		if err != nil && !errors.Is(err, repo.ErrDamaged) && !errors.Is(err, repo.ErrUnsupported) {
			t.Fatalf("load %s: %v", name, err)
		}
	})
}
