// Command warmmem touches memory and gives it back, so that the next
// measured run does not pay for the host's faulting it in:
//
//	warmmem [-size 6GiB]
//
// On a virtual machine whose balloon reports free pages to the host (free
// page reporting), memory left free for a few seconds is handed back to the
// host; the first program to use it again waits while the host faults in
// every page, and the time shows as that program's system time. In a bench
// the tool whose turn comes first after a pause would pay for all of it:
// on this project's 2-core machine a restore after half a minute of light
// work spent 4.5-5.5 s in the kernel, against 1.9-2.3 s right after this.
// Touching the memory just before each measured run, and freeing it, puts
// recently used pages at the head of the kernel's free lists, where the
// next run finds them.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairn-backup/cairn/bench/internal/size"
)

func main() {
	sizeFlag := flag.String("size", "6GiB", "how much memory to touch (bytes, or with a unit: KiB, MiB, GiB)")
	flag.Parse()
	n, err := size.Parse(*sizeFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warmmem:", err)
		os.Exit(2)
	}
	// Never more than half of what the kernel says is available: the
	// point is to wake memory up, not to push anything out.
	if avail := memAvailable(); avail > 0 && n > avail/2 {
		n = avail / 2
	}
	const piece = 256 << 20
	var maps [][]byte
	for done := int64(0); done < n; done += piece {
		m, err := syscall.Mmap(-1, 0, piece, syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_POPULATE|syscall.MAP_NORESERVE)
		if err != nil {
			fmt.Fprintf(os.Stderr, "warmmem: stopped after %d MiB: %v\n", done>>20, err)
			break
		}
		// Write every page with something other than zeros, so that a
		// host merging identical or zero pages has nothing to merge.
		for i := 0; i < len(m); i += 4096 {
			m[i] = byte(i>>12) | 1
		}
		maps = append(maps, m)
	}
	for _, m := range maps {
		_ = syscall.Munmap(m)
	}
}

// memAvailable is MemAvailable from /proc/meminfo in bytes, or 0.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}
