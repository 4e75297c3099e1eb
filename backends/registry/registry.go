// Package registry opens a backend from a location string such as
// "/srv/backup" or "local:/srv/backup". The schemes it knows are listed in
// one table in this file; adding a backend means adding a row.
//
// It is a package of its own because it imports every backend, and the
// backends import package backends.
package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
)

// scheme opens or creates a backend from the location without "scheme:".
type scheme struct {
	name   string
	open   func(rest string) (backends.Backend, error)
	create func(rest string) (backends.Backend, error)
}

// schemes is the table of backends. A location without a scheme is local.
var schemes = []scheme{
	{
		name:   "local",
		open:   func(dir string) (backends.Backend, error) { return local.Open(dir) },
		create: func(dir string) (backends.Backend, error) { return local.Create(dir) },
	},
}

// Open opens the backend of an existing repository at location.
func Open(location string) (backends.Backend, error) {
	s, rest, err := parse(location)
	if err != nil {
		return nil, err
	}
	return s.open(rest)
}

// Create opens the backend at location, first creating its storage (a
// folder, say) when the scheme has a notion of that and it is missing.
func Create(location string) (backends.Backend, error) {
	s, rest, err := parse(location)
	if err != nil {
		return nil, err
	}
	return s.create(rest)
}

// Schemes returns the names of the known schemes.
func Schemes() []string {
	names := make([]string, len(schemes))
	for i, s := range schemes {
		names[i] = s.name
	}
	return names
}

// parse splits location into its scheme and the rest. A location that
// starts with "/" or ".", or has no "scheme:" in front, is a local path.
func parse(location string) (scheme, string, error) {
	if location == "" {
		return scheme{}, "", fmt.Errorf("empty repository location")
	}
	name, rest, found := strings.Cut(location, ":")
	if !found || strings.HasPrefix(location, "/") || strings.HasPrefix(location, ".") || !isScheme(name) {
		name, rest = "local", location
	}
	i := slices.IndexFunc(schemes, func(s scheme) bool { return s.name == name })
	if i < 0 {
		return scheme{}, "", fmt.Errorf("repository location %q: unknown scheme %q (known: %s; write ./%s for a local folder)",
			location, name, strings.Join(Schemes(), ", "), location)
	}
	if rest == "" {
		return scheme{}, "", fmt.Errorf("repository location %q: nothing after %q", location, name+":")
	}
	return schemes[i], rest, nil
}

// isScheme reports whether s looks like a URL scheme (RFC 3986): a letter
// followed by letters, digits, "+", "-" or ".".
func isScheme(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')
	})
}
