package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// FuzzObjectPlaintext covers what only the key holder can store: fuzzed
// plaintext sealed as a snapshot, index segment, deletion mark or lock
// object, opened again and handed to that object's decoder. The targets in
// fuzz/ cannot seal objects; this one lives in the package to reach
// sealObject.
func FuzzObjectPlaintext(f *testing.F) {
	k, err := crypto.KeyFromMaster(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		f.Fatal(err)
	}
	r := &Repository{key: k, codec: pack.NewCodec(k)}
	snap, _ := json.Marshal(&Snapshot{Host: "h", Source: "s", Paths: []string{"/"}, Tags: []string{}, Parent: &id.ID{1}})
	lock, _ := json.Marshal(&LockInfo{Host: "h", PID: 1, Operation: "backup"})
	f.Add(snap, byte(0))
	f.Add(EncodeSegment(&Segment{Supersedes: []id.ID{{2}}}), byte(1))
	f.Add(lock, byte(2))
	f.Add(bytes.Repeat([]byte("compressible "), 100), byte(0))
	f.Add(EncodeMark([]MarkedPack{{Type: id.DataBlob, ID: id.ID{3}}}), byte(3))
	kinds := []string{kindSnapshot, kindIndex, kindLock, kindMark}
	f.Fuzz(func(t *testing.T, plain []byte, kind byte) {
		kd := kinds[int(kind)%len(kinds)]
		sealed := r.sealObject(kd, plain)
		got, err := r.openObject(kd, "obj", sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("sealed %s does not open: %v", kd, err)
		}
		other := kinds[(int(kind)+1)%len(kinds)]
		if _, err := r.openObject(other, "obj", sealed); !errors.Is(err, ErrDamaged) {
			t.Fatalf("%s opened as %s: %v", kd, other, err)
		}
		switch kd {
		case kindSnapshot:
			if sn, err := decodeSnapshot(id.ID{9}, got); err == nil && sn.ID != (id.ID{9}) {
				t.Fatal("decoded snapshot lost its ID")
			} else if err != nil && !errors.Is(err, ErrDamaged) {
				t.Fatalf("snapshot: %v", err)
			}
		case kindIndex:
			if _, err := DecodeSegment(got); err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("segment: %v", err)
			}
		case kindLock:
			var li LockInfo
			if json.Unmarshal(got, &li) == nil {
				_ = li.String()
			}
		case kindMark:
			if _, err := DecodeMark(got); err != nil && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("deletion mark: %v", err)
			}
		}
	})
}
