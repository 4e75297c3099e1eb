package bufpool

import (
	"runtime"
	"testing"
)

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 4097, 1 << 20, 3<<20 + 5, 8 << 20} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b)
		b2 := Get(n)
		if cap(b2) < n {
			t.Fatalf("Get(%d) after Put: cap %d", n, cap(b2))
		}
	}
	Put(make([]byte, 0, 1000)) // not a pool size: ignored, no panic
}

func TestClasses(t *testing.T) {
	prev := 0
	sizeOf := map[int]int{} // each class has exactly one size
	for n := 1; n <= 64<<20; n += 1 + n/97 {
		i, size := classOf(n)
		if s, ok := sizeOf[i]; ok && s != size {
			t.Fatalf("class %d has sizes %d and %d", i, s, size)
		}
		sizeOf[i] = size
		if size < n || (n > 4096 && size > n+n/4+1) {
			t.Fatalf("classOf(%d) = %d bytes", n, size)
		}
		if i < prev {
			t.Fatalf("class index went down at %d", n)
		}
		prev = i
		if j, s2 := classOf(size); j != i || s2 != size {
			t.Fatalf("a class size %d maps to class %d/%d, not itself %d", size, j, s2, i)
		}
	}
}

func TestList(t *testing.T) {
	l := NewList(4 << 20)
	b := l.Get(1 << 20)
	if len(b) != 0 || cap(b) < 1<<20 {
		t.Fatalf("Get: len %d cap %d", len(b), cap(b))
	}
	l.Put(b)
	if b2 := l.Get(1000); &b2[:1][0] != &b[:1][0] {
		t.Fatal("Get did not reuse the free buffer")
	} else {
		l.Put(b2)
	}
	for range 10 {
		l.Put(Get(1 << 20))
	}
	if l.held > 4<<20 {
		t.Fatalf("list keeps %d bytes, more than its 4 MiB", l.held)
	}
	l.Put(Get(8 << 20)) // larger than the list: not kept
	if l.held > 4<<20 {
		t.Fatalf("list keeps %d bytes", l.held)
	}
}

// reset empties the shared cache, so a test starts from nothing.
func reset() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for i := range shared.free {
		shared.free[i] = nil
		shared.used[i] = 0
	}
	shared.held = 0
}

func same(a, b []byte) bool { return &a[:1][0] == &b[:1][0] }

// A buffer handed back is handed out again after collections: the point
// of the cache (a sync.Pool drops it by the second collection).
func TestSurvivesCollections(t *testing.T) {
	reset()
	b := Get(3 << 20)
	Put(b)
	runtime.GC()
	runtime.GC()
	runtime.GC()
	if got := Get(3 << 20); !same(got, b) {
		t.Fatal("the buffer did not survive three collections")
	}
}

// A Get takes a free buffer of its class or up to four above (at most
// twice the class's size), never a smaller or a much larger one.
func TestReach(t *testing.T) {
	reset()
	big := Get(2 << 20) // the 2 MiB class
	Put(big)
	if got := Get(1 << 20); !same(got, big) { // 1 MiB: four classes below
		t.Fatal("a 1 MiB Get did not take the free 2 MiB buffer")
	}
	Put(big)
	if got := Get(800 << 10); same(got, big) || cap(got) > 1<<20 { // the 896 KiB class: five below
		t.Fatalf("an 800 KiB Get took a buffer of %d bytes", cap(got))
	}
	reset()
	small := Get(1 << 20)
	Put(small)
	if got := Get(1<<20 + 1); same(got, small) || cap(got) < 1<<20+1 {
		t.Fatalf("a Get larger than the free buffer got %d bytes", cap(got))
	}
}

// The cache never holds more than kept bytes, and makes room by dropping
// the class used least recently.
func TestBound(t *testing.T) {
	reset()
	old := Get(4 << 20)
	Put(old)
	var bs [][]byte
	for range 2 * kept / (2 << 20) {
		bs = append(bs, Get(2<<20))
	}
	for _, b := range bs {
		Put(b)
		if shared.held > kept {
			t.Fatalf("the cache holds %d bytes, more than %d", shared.held, kept)
		}
	}
	if got := Get(4 << 20); same(got, old) {
		t.Fatal("the least recently used class was not the one dropped")
	}
	if got := Get(2 << 20); !same(got, bs[len(bs)-1]) {
		t.Fatal("the buffer handed back last was not kept")
	}
	Put(make([]byte, 0, 2*kept)) // larger than the cache: not kept
	if shared.held > kept {
		t.Fatalf("the cache holds %d bytes", shared.held)
	}
}
