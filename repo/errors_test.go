package repo

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// An object's name is added to an error that lacks it, and not repeated
// in one whose backend already gave it.
func TestOnObjectNamesOnce(t *testing.T) {
	name := "index/0123abcd"
	for _, err := range []error{
		errors.New("save " + name + ": write /srv/repo/" + name + ".tmp: no space left on device"),
		syscall.ENOSPC,
	} {
		got := OnObject("save", name, err)
		want := max(1, strings.Count(err.Error(), name))
		if n := strings.Count(got.Error(), name); n != want {
			t.Errorf("%q names the object %d times, want %d", got, n, want)
		}
		if !errors.Is(got, err) {
			t.Errorf("%q does not wrap %v", got, err)
		}
	}
}
