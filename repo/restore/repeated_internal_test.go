package restore

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// fsmeta.Apply joins the failures of pruning xattrs into its own joined
// error. Once one kind of them is summed up, a failure of another kind in
// the same inner join is still listed: it used to go with the whole inner
// join, neither listed nor summed up.
func TestRepeatedFilterNestedJoin(t *testing.T) {
	var r repeated
	applyErr := func(p string) error {
		prune := errors.Join(
			&fsmeta.Error{Op: "lremovexattr", Path: p, Attr: "security.a", Err: unix.EPERM},
			&fsmeta.Error{Op: "lremovexattr", Path: p, Attr: "user.b", Err: unix.EPERM},
		)
		if p == "f4" {
			prune = errors.Join(prune.(interface{ Unwrap() []error }).Unwrap()[0],
				&fsmeta.Error{Op: "lremovexattr", Path: p, Attr: "security.capability", Err: unix.EIO})
		}
		return errors.Join(&fsmeta.Error{Op: "utimensat", Path: p, Attr: "times", Err: unix.EINVAL}, prune)
	}
	for _, p := range []string{"f1", "f2", "f3"} {
		if r.filter(applyErr(p)) == nil {
			t.Fatalf("%s: not listed", p)
		}
	}
	got := r.filter(applyErr("f4"))
	if got == nil || !strings.Contains(got.Error(), "security.capability") || !errors.Is(got, unix.EIO) {
		t.Fatalf("f4: %v, want the EIO failure listed", got)
	}
	if strings.Contains(got.Error(), "security.a ") {
		t.Errorf("f4: %v lists a failure of a kind already summed up", got)
	}
	sum := r.summary()
	if len(sum) != 2 || !strings.Contains(sum[0].Error(), "for 1 more entries") {
		t.Errorf("summary %q, want lremovexattr and utimensat each for 1 more entry (an entry counted once per kind)", sum)
	}
}
