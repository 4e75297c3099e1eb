package repo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

func TestMarkEncoding(t *testing.T) {
	packs := []MarkedPack{{Type: id.DataBlob, ID: id.ID{1}}, {Type: id.TreeBlob, ID: id.ID{2}}}
	b := EncodeMark(packs)
	got, err := DecodeMark(b)
	if err != nil || len(got) != 2 || got[0] != packs[0] || got[1] != packs[1] {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	if got, err := DecodeMark(EncodeMark(nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	bad := func(what string, b []byte, want error) {
		t.Helper()
		if _, err := DecodeMark(b); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	bad("truncated", b[:len(b)-1], ErrDamaged)
	bad("trailing", append(append([]byte{}, b...), 0), ErrDamaged)
	bad("magic", append([]byte("CRNI"), b[4:]...), ErrDamaged)
	typed := append([]byte{}, b...)
	typed[6] = 9 // the first pack's type
	bad("type", typed, ErrDamaged)
	newer := append([]byte{}, b...)
	newer[4] = 2
	bad("format", newer, ErrUnsupported)
	if _, err := DecodeMark(newer); errors.Is(err, ErrDamaged) {
		t.Error("a newer format is reported as damage")
	}
}

// A pack's mark time is that of the oldest mark naming it, by the
// storage's clock; a damaged mark is left out.
func TestMarkedPacks(t *testing.T) {
	ctx := context.Background()
	clk, r, _ := openTwo(t)
	p1, p2, p3 := MarkedPack{Type: id.DataBlob, ID: id.ID{1}}, MarkedPack{Type: id.TreeBlob, ID: id.ID{2}}, MarkedPack{Type: id.DataBlob, ID: id.ID{3}}
	t0 := clk.now()
	if _, err := r.SaveMark(ctx, []MarkedPack{p1}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if _, err := r.SaveMark(ctx, []MarkedPack{p1, p2}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	damaged, err := r.SaveMark(ctx, []MarkedPack{p3})
	if err != nil {
		t.Fatal(err)
	}
	name := "condemned/" + damaged.String()
	b, _ := r.be.Load(ctx, name, 0, -1)
	b[len(b)/2] ^= 1
	if err := r.be.Save(ctx, name, b); err != nil {
		t.Fatal(err)
	}
	marked, err := r.MarkedPacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(marked) != 2 || !marked[p1.ID].Equal(t0) || !marked[p2.ID].Equal(t0.Add(time.Hour)) {
		t.Fatalf("marked %v", marked)
	}
	marks, err := r.Marks(ctx)
	if err != nil || len(marks) != 3 {
		t.Fatalf("marks %+v, %v", marks, err)
	}
	for _, m := range marks {
		if (m.ID == damaged) != (m.Err != nil) || (m.Err != nil && !errors.Is(m.Err, ErrDamaged)) {
			t.Fatalf("mark %s: %v", m.ID.Short(), m.Err)
		}
	}
	if err := r.RemoveMark(ctx, damaged); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveMark(ctx, damaged); err != nil {
		t.Fatalf("removing a removed mark: %v", err)
	}
}

// A holder whose lease is lost writes no deletion mark.
func TestMarkNeedsLease(t *testing.T) {
	ctx := context.Background()
	clk, r, _ := openTwo(t)
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	clk.advance(LeaseGiveUp + time.Minute)
	if _, err := r.SaveMark(ctx, []MarkedPack{{Type: id.DataBlob, ID: id.ID{1}}}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("mark saved with a lost lease: %v", err)
	}
}

// A saver counts a blob as stored only when the index has a copy in a
// pack it was told counts (CheckPacks): the first location or another.
func TestSaverKnownSkipsLeftOutPacks(t *testing.T) {
	ctx := context.Background()
	_, r, _ := openTwo(t)
	bid := id.ID{7}
	seg := func(pack id.ID) index.Pack {
		return index.Pack{ID: pack, Type: id.DataBlob, Blobs: []index.Blob{{ID: bid, Type: id.DataBlob, Pack: pack, Length: 50, RawLength: 9}}}
	}
	marked, other := id.ID{1}, id.ID{2}
	if _, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{seg(marked)}}); err != nil {
		t.Fatal(err)
	}
	known := func(stored ...id.ID) bool {
		t.Helper()
		s := r.NewSaver(ctx, 1)
		m := map[id.ID]bool{}
		for _, p := range stored {
			m[p] = true
		}
		s.CheckPacks(m)
		ok, err := s.Known(bid)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !known(marked) {
		t.Fatal("a blob in a pack that counts is unknown")
	}
	if known() {
		t.Fatal("a blob only in a pack left out is known")
	}
	if _, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{seg(other)}}); err != nil {
		t.Fatal(err)
	}
	if loc, _, _ := r.LookupBlob(bid); loc.Pack != marked {
		t.Fatalf("first location %s, want %s", loc.Pack.Short(), marked.Short())
	}
	if !known(other) {
		t.Fatal("a blob with another copy in a pack that counts is unknown")
	}
	if known() {
		t.Fatal("a blob in no pack that counts is known")
	}
}
