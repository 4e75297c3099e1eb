package crypto

import (
	"bytes"
	"fmt"
	"testing"
)

// A Key printed by mistake (a debug line, an error wrapping it, a test
// failure) used to show the master secret and every derived key, in every
// verb: %x printed the master secret as hex.
func TestKeyPrintNoSecret(t *testing.T) {
	m := bytes.Repeat([]byte{0xab}, 32)
	k, err := KeyFromMaster(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		out := fmt.Sprintf(f, k)
		if bytes.Contains([]byte(out), []byte("171")) || bytes.Contains([]byte(out), []byte("abab")) {
			t.Errorf("%s prints %.200s", f, out)
		}
	}
}
