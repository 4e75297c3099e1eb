package backends

import (
	"fmt"
	"strings"
)

// CheckName returns nil if name is a valid object name, or an error wrapping
// ErrInvalidName. A valid name is non-empty, relative, and made of non-empty
// slash-separated elements that do not begin with "." (so "." and ".." are
// out) and contain no NUL or backslash. Such a name maps to a file path on
// any system without escaping its folder.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch {
		case elem == "":
			return fmt.Errorf("%w %q: empty path element", ErrInvalidName, name)
		case elem[0] == '.':
			return fmt.Errorf("%w %q: element begins with \".\"", ErrInvalidName, name)
		case strings.ContainsAny(elem, "\x00\\"):
			return fmt.Errorf("%w %q: contains NUL or backslash", ErrInvalidName, name)
		}
	}
	return nil
}

// CheckPrefix returns nil if prefix is valid for List: empty, or a valid
// name optionally followed by "/".
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := CheckName(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("list prefix %q: %w", prefix, err)
	}
	return nil
}
