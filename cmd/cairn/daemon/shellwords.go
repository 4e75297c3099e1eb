package daemon

import "strings"

// ShellWords writes a command as a shell would read it back: each
// argument that holds anything but letters, digits and _@%+=:,./- in
// single quotes, so that `sh -c 'a; b'` is not shown as sh -c a; b in the
// message of a command or hook that failed.
func ShellWords(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		plain := a != ""
		for _, c := range a {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_@%+=:,./-", c)) {
				plain = false
				break
			}
		}
		if plain {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
