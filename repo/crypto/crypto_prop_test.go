package crypto_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cairn-backup/cairn/repo/crypto"
)

// cheapKDF keeps key file tests fast; never for real keys.
var cheapKDF = crypto.KDFParams{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

func key(tb testing.TB, seed byte) *crypto.Key {
	tb.Helper()
	k, err := crypto.KeyFromMaster(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestSealOpen(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	k, other := key(t, 1), key(t, 2)
	for _, n := range []int{0, 1, 15, 16, 17, 64, 1000, 1 << 16} {
		p := randBytes(rng, n)
		ad := randBytes(rng, rng.IntN(40))
		s := k.Seal([]byte("pre"), p, ad)
		if string(s[:3]) != "pre" || len(s) != 3+n+crypto.Overhead {
			t.Fatalf("%d bytes: sealed to %d", n, len(s))
		}
		s = s[3:]
		got, err := k.Open(nil, s, ad)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d bytes: open: %v", n, err)
		}
		if s2 := k.Seal(nil, p, ad); bytes.Equal(s2[:crypto.NonceSize], s[:crypto.NonceSize]) {
			t.Fatal("nonce repeated")
		}
		mustAuth := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, crypto.ErrAuth) {
				t.Fatalf("%d bytes, %s: %v", n, what, err)
			}
		}
		_, err = other.Open(nil, s, ad)
		mustAuth("other key", err)
		_, err = k.Open(nil, s, append(bytes.Clone(ad), 0))
		mustAuth("longer ad", err)
		for i := 0; i < crypto.Overhead && i < len(s); i++ {
			_, err = k.Open(nil, s[:i], ad)
			mustAuth("truncated", err)
		}
		_, err = k.Open(nil, s[:len(s)-1], ad)
		mustAuth("one byte short", err)
		// Every position for small messages, a sample for large.
		step := 1 + len(s)/512
		for pos := 0; pos < len(s); pos += step {
			bad := bytes.Clone(s)
			bad[pos] ^= byte(1 + rng.IntN(255))
			_, err = k.Open(nil, bad, ad)
			mustAuth("flipped byte", err)
		}
	}
}

func TestKeyDerivation(t *testing.T) {
	a, b, c := key(t, 1), key(t, 1), key(t, 2)
	p := []byte("plaintext")
	if a.BlobID(p) != b.BlobID(p) || a.MAC(p) != b.MAC(p) {
		t.Fatal("one master key derives different keys")
	}
	if a.BlobID(p) == c.BlobID(p) || a.MAC(p) == c.MAC(p) || a.BlobID(p) == a.MAC(p) {
		t.Fatal("derived keys coincide")
	}
	pa, err := a.ChunkerPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b.ChunkerPolynomial()
	pc, _ := c.ChunkerPolynomial()
	if pa != pb || pa == pc || !pa.Irreducible() {
		t.Fatalf("chunker polynomials %v %v %v", pa, pb, pc)
	}
	if !bytes.Equal(a.Master(), bytes.Repeat([]byte{1}, 32)) {
		t.Fatal("master secret differs")
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := crypto.KeyFromMaster(make([]byte, n)); err == nil {
			t.Fatalf("master of %d bytes accepted", n)
		}
	}
}

func TestKeyFile(t *testing.T) {
	k := key(t, 7)
	kf, err := crypto.NewKeyFile(k, []byte("pw"), cheapKDF, "host", "user")
	if err != nil {
		t.Fatal(err)
	}
	b, err := kf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := crypto.ParseKeyFile(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsed.Unlock([]byte("pw"))
	if err != nil || !bytes.Equal(got.Master(), k.Master()) {
		t.Fatalf("unlock: %v", err)
	}
	if b2, _ := parsed.Marshal(); !bytes.Equal(b2, b) {
		t.Fatalf("re-marshalled key file differs:\n%s\n%s", b2, b)
	}
	if _, err := parsed.Unlock([]byte("pW")); !errors.Is(err, crypto.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	// Two key files of one key never share salt or nonce.
	kf2, _ := crypto.NewKeyFile(k, []byte("pw"), cheapKDF, "", "")
	if bytes.Equal(kf.KDF.Salt, kf2.KDF.Salt) || bytes.Equal(kf.Sealed[:crypto.NonceSize], kf2.Sealed[:crypto.NonceSize]) {
		t.Fatal("key files share salt or nonce")
	}

	wrongPassword := map[string]func(f *crypto.KeyFile){
		"salt":      func(f *crypto.KeyFile) { f.KDF.Salt[0] ^= 1 },
		"time":      func(f *crypto.KeyFile) { f.KDF.Time++ },
		"memory":    func(f *crypto.KeyFile) { f.KDF.MemoryKiB++ },
		"sealed":    func(f *crypto.KeyFile) { f.Sealed[len(f.Sealed)/2] ^= 1 },
		"nonce":     func(f *crypto.KeyFile) { f.Sealed[0] ^= 1 },
		"tag":       func(f *crypto.KeyFile) { f.Sealed[len(f.Sealed)-1] ^= 1 },
		"one short": func(f *crypto.KeyFile) { f.Sealed = f.Sealed[:len(f.Sealed)-1] },
	}
	for name, edit := range wrongPassword {
		f, _ := crypto.ParseKeyFile(b)
		edit(f)
		if _, err := f.Unlock([]byte("pw")); !errors.Is(err, crypto.ErrWrongPassword) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	// Implausible or unknown parameters are refused before any work, and
	// not as a wrong password.
	refused := map[string]func(f *crypto.KeyFile){
		"version":      func(f *crypto.KeyFile) { f.Version = 2 },
		"kind":         func(f *crypto.KeyFile) { f.Kind = "public-key" },
		"kdf name":     func(f *crypto.KeyFile) { f.KDF.Name = "scrypt" },
		"time 0":       func(f *crypto.KeyFile) { f.KDF.Time = 0 },
		"time huge":    func(f *crypto.KeyFile) { f.KDF.Time = 1 << 30 },
		"memory huge":  func(f *crypto.KeyFile) { f.KDF.MemoryKiB = 1 << 31 },
		"memory small": func(f *crypto.KeyFile) { f.KDF.MemoryKiB = 7 },
		"threads 0":    func(f *crypto.KeyFile) { f.KDF.Threads = 0 },
		"salt short":   func(f *crypto.KeyFile) { f.KDF.Salt = f.KDF.Salt[:15] },
		"sealed short": func(f *crypto.KeyFile) { f.Sealed = f.Sealed[:crypto.Overhead-1] },
	}
	for name, edit := range refused {
		f, _ := crypto.ParseKeyFile(b)
		edit(f)
		if _, err := f.Unlock([]byte("pw")); err == nil || errors.Is(err, crypto.ErrWrongPassword) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Malformed JSON is refused by ParseKeyFile.
	for name, edit := range map[string]func(m map[string]any){
		"not json": nil,
		"sealed":   func(m map[string]any) { m["sealed"] = "not base64!" },
		"created":  func(m map[string]any) { m["created"] = "yesterday" },
		"threads":  func(m map[string]any) { m["kdf"].(map[string]any)["threads"] = 256 },
	} {
		in := []byte("{")
		if edit != nil {
			var m map[string]any
			json.Unmarshal(b, &m)
			edit(m)
			in, _ = json.Marshal(m)
		}
		if _, err := crypto.ParseKeyFile(in); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// A key file that authenticates but wraps a secret of the wrong length
// (a buggy or hostile writer) is refused, not used.
func TestKeyFileWrongSecretLength(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		kf, _ := crypto.NewKeyFile(key(t, 1), []byte("pw"), cheapKDF, "", "")
		p := kf.KDF
		a, err := chacha20poly1305.NewX(argon2.IDKey([]byte("pw"), p.Salt, p.Time, p.MemoryKiB, p.Threads, 32))
		if err != nil {
			t.Fatal(err)
		}
		nonce := make([]byte, crypto.NonceSize)
		kf.Sealed = a.Seal(nonce, nonce, make([]byte, n), []byte("cairn key file v1"))
		if _, err := kf.Unlock([]byte("pw")); err == nil {
			t.Errorf("secret of %d bytes unlocks", n)
		}
		kf.Sealed = a.Seal(nonce[:crypto.NonceSize:crypto.NonceSize], nonce, make([]byte, 32), []byte("cairn key file v1"))
		if _, err := kf.Unlock([]byte("pw")); err != nil {
			t.Errorf("hand-sealed key file of 32 bytes: %v", err)
		}
	}
}

// The gear table is part of every gear repository's chunking: a change
// to its derivation would make new data stop deduplicating against old.
// Known answers for the master key of 32 bytes 0x01, computed with another
// BLAKE3 implementation (lukechampine.com/blake3's DeriveKey, an XOF of
// 2048 bytes) from docs/FORMAT.md §3; T[0] is 0 by definition.
func TestGearTableKnownAnswer(t *testing.T) {
	g := key(t, 1).GearTable()
	got := []uint64{g[0], g[1], g[255]}
	want := []uint64{0, 0x346cf97184fed1cb, 0x2feeeb9f8172ae0c}
	if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("gear table of master 0x01...: T[0], T[1], T[255] = %#x, want %#x", got, want)
	}
	if c := key(t, 2).GearTable(); c == g {
		t.Fatal("two master keys derive one gear table")
	}
}
