package backends_test

import (
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

func TestCheckName(t *testing.T) {
	for _, name := range []string{"config", "keys/0af3", "data/ab/abcd", "a-b_c.d", "x/y.z/w~"} {
		if err := backends.CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", ".hidden", "a/.tmp-1", `a\b`, "a\x00"} {
		if err := backends.CheckName(name); !errors.Is(err, backends.ErrInvalidName) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	for _, prefix := range []string{"", "data/", "keys/ab", "config"} {
		if err := backends.CheckPrefix(prefix); err != nil {
			t.Errorf("CheckPrefix(%q) = %v, want nil", prefix, err)
		}
	}
}
