package bufpool

import "testing"

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
