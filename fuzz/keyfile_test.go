package fuzz

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/crypto"
)

const keyPassword = "fuzz password"

// expensive reports whether p passes Unlock's plausibility check yet costs
// more than a fuzz iteration should spend in argon2id. Implausible
// parameters are still passed to Unlock, which must refuse them.
func expensive(p crypto.KDFParams) bool {
	plausible := p.Name == "argon2id" && p.Time > 0 && p.Time <= 64 && p.Threads > 0 &&
		p.MemoryKiB >= 8*uint32(p.Threads) && p.MemoryKiB <= 4<<20 && len(p.Salt) >= 16
	return plausible && uint64(p.Time)*uint64(p.MemoryKiB) > 1024
}

func FuzzKeyFile(f *testing.F) {
	k := codec().Key
	kf, err := crypto.NewKeyFile(k, []byte(keyPassword), repo.TestKDF, "host", "user")
	if err != nil {
		f.Fatal(err)
	}
	real, err := kf.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	compact, _ := json.Marshal(kf)
	addSeeds(f, []seed{
		{"real", []any{real}},
		{"compact", []any{compact}},
		{"version-2", []any{bytes.Replace(compact, []byte(`"version":1`), []byte(`"version":2`), 1)}},
		{"empty-object", []any{[]byte(`{}`)}},
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		var kf *crypto.KeyFile
		var err error
		bounded(t, allocLimit(len(b)), func() { kf, err = crypto.ParseKeyFile(b) })
		if err != nil {
			return
		}
		// What parses, marshals and parses back the same.
		if m1, err := kf.Marshal(); err == nil {
			kf2, err := crypto.ParseKeyFile(m1)
			if err != nil {
				t.Fatalf("re-marshalled key file: %v", err)
			}
			if m2, _ := kf2.Marshal(); !bytes.Equal(m1, m2) {
				t.Fatalf("re-marshalled key file differs:\n%s\n%s", m1, m2)
			}
		}
		if expensive(kf.KDF) {
			return
		}
		var key *crypto.Key
		bounded(t, allocLimit(len(b))+uint64(kf.KDF.MemoryKiB)<<10, func() { key, err = kf.Unlock([]byte(keyPassword)) })
		if err != nil {
			return
		}
		if len(key.Master()) != 32 {
			t.Fatal("unlocked a master key that is not 32 bytes")
		}
	})
}
