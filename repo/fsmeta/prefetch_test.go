package fsmeta

import (
	"os"
	"testing"
	"time"
)

// Prefetch brings a file that is not in memory into the page cache.
func TestPrefetch(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := coldFile(t, data)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resident := func() (int, int) {
		in, all, err := residentPages(int(f.Fd()), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return in, all
	}
	if in, all := resident(); in > all/2 {
		skipOutsideCI(t, "this filesystem keeps the file in memory (%d of %d pages after FADV_DONTNEED)", in, all)
	}
	Prefetch(path, int64(len(data)))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		in, all := resident()
		if in == all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages in memory 10 s after Prefetch", in, all)
		}
	}
}
