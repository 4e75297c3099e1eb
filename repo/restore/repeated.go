package restore

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// Metadata failures that repeat. A target without a feature (extended
// attributes on ramfs or vfat, owners on exFAT, chmod on some FUSE
// filesystems) fails the same system call the same way for every entry.
// The first few are reported with their paths; the rest still count as
// errors but are summed up once at the end, so that a restore onto a USB
// stick does not bury the failures that matter under thousands of
// identical lines.

// sameFailuresListed is how many entries are named for each system call
// and error number.
const sameFailuresListed = 3

type failureKind struct {
	op    string
	errno unix.Errno
}

// repeated counts the metadata failures of each kind.
type repeated struct {
	mu sync.Mutex
	n  map[failureKind]int64
}

// filter returns err without the metadata failures of kinds already named
// sameFailuresListed times, nil when nothing is left to report; the last
// one named says that more are counted, not listed.
func (r *repeated) filter(err error) error {
	leaves := flatten(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	var keep []error
	changed := false
	// One entry's failures of one kind (two attributes refused the same
	// way) count it once.
	counted := map[failureKind]bool{}
	for _, e := range leaves {
		var fe *fsmeta.Error
		var errno unix.Errno
		if errors.As(e, &fe) && errors.As(fe.Err, &errno) {
			k := failureKind{fe.Op, errno}
			if r.n == nil {
				r.n = map[failureKind]int64{}
			}
			if !counted[k] {
				counted[k] = true
				r.n[k]++
			}
			switch {
			case r.n[k] > sameFailuresListed:
				changed = true
				continue
			case r.n[k] == sameFailuresListed:
				e = fmt.Errorf("%w (further entries failing so are counted, not listed)", e)
				changed = true
			}
		}
		keep = append(keep, e)
	}
	switch {
	case len(keep) == 0:
		return nil
	case !changed:
		return err
	case len(keep) == 1:
		return keep[0]
	}
	return errors.Join(keep...)
}

// flatten is the errors joined in err, however deeply (fsmeta.Apply joins
// the failures of pruning xattrs into its own), or err itself.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// summary is one line per kind of failure with entries not listed.
func (r *repeated) summary() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []error
	for k, n := range r.n {
		if n > sameFailuresListed {
			out = append(out, fmt.Errorf("%s failed with %q for %d more entries, not listed (the target filesystem may not support it)", k.op, k.errno.Error(), n-sameFailuresListed))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Error() < out[j].Error() })
	return out
}
