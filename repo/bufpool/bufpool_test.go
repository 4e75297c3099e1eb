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
