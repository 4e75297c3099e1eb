package crypto

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrWrongPassword means the password opens none of the key files.
var ErrWrongPassword = errors.New("wrong password or no key found")

// KDFParams are the argon2id parameters stored in a key file.
type KDFParams struct {
	Name      string `json:"name"` // "argon2id"
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

// Cost is the work of deriving a key with p, in KiB-passes (memory times
// passes: lanes share the memory, they do not add to it).
func (p KDFParams) Cost() uint64 { return uint64(p.Time) * uint64(p.MemoryKiB) }

// DefaultKDF is argon2id with 19 MiB, two passes and one lane, one of the
// settings OWASP recommends as equally strong (46 MiB with one pass is
// another). Every command that opens the repository pays it, so the
// cheaper one in memory is taken: measured here, 46 MiB in two lanes
// costs 0.11 s and 0.2 s of CPU, mostly the kernel faulting in the
// memory, against 0.05 s and 0.04 s for this, and a quick command's peak
// memory is 27 MiB smaller. Existing key files keep their own parameters.
var DefaultKDF = KDFParams{Name: "argon2id", Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// KeyFile is the stored form of one password's key: the master secret sealed
// under an argon2id-derived key. Kind leaves room for other wrappings (a
// write-only host holding only a public key) without changing this layout.
type KeyFile struct {
	Version  int       `json:"version"` // 1
	Kind     string    `json:"kind"`    // "password"
	Created  time.Time `json:"created"`
	Host     string    `json:"host,omitempty"`
	Username string    `json:"username,omitempty"`
	KDF      KDFParams `json:"kdf"`
	// Sealed is nonce || XChaCha20-Poly1305(master secret, 32 bytes) || tag,
	// with additional data "cairn key file v1".
	Sealed []byte `json:"sealed"`
}

var keyFileAD = []byte("cairn key file v1")

func wrappingKey(password []byte, p KDFParams) ([]byte, error) {
	if p.Name != "argon2id" {
		return nil, fmt.Errorf("unknown key derivation %q", p.Name)
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 1<<20 || p.Time > 16 || len(p.Salt) < 16 {
		return nil, fmt.Errorf("implausible argon2id parameters (time %d, memory %d KiB, threads %d, salt %d bytes)",
			p.Time, p.MemoryKiB, p.Threads, len(p.Salt))
	}
	return argon2.IDKey(password, p.Salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}

// NewKeyFile wraps k's master secret with password under params p (a fresh
// salt is chosen).
func NewKeyFile(k *Key, password []byte, p KDFParams, host, user string) (*KeyFile, error) {
	p.Salt = make([]byte, 32)
	if _, err := rand.Read(p.Salt); err != nil {
		return nil, err
	}
	wk, err := wrappingKey(password, p)
	if err != nil {
		return nil, err
	}
	a, err := chacha20poly1305.NewX(wk)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, NonceSize, NonceSize+32+TagSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := a.Seal(nonce, nonce, k.master[:], keyFileAD)
	return &KeyFile{Version: 1, Kind: "password", Created: time.Now().UTC(), Host: host, Username: user, KDF: p, Sealed: sealed}, nil
}

// Unlock opens the key file with password, or fails with ErrWrongPassword.
func (f *KeyFile) Unlock(password []byte) (*Key, error) {
	if f.Version != 1 || f.Kind != "password" {
		return nil, fmt.Errorf("key file version %d kind %q is not supported by this cairn", f.Version, f.Kind)
	}
	wk, err := wrappingKey(password, f.KDF)
	if err != nil {
		return nil, err
	}
	a, err := chacha20poly1305.NewX(wk)
	if err != nil {
		return nil, err
	}
	if len(f.Sealed) < Overhead {
		return nil, fmt.Errorf("key file sealed master key is truncated")
	}
	m, err := a.Open(nil, f.Sealed[:NonceSize], f.Sealed[NonceSize:], keyFileAD)
	if err != nil {
		return nil, ErrWrongPassword
	}
	return KeyFromMaster(m)
}

// ParseKeyFile decodes a stored key file.
func ParseKeyFile(b []byte) (*KeyFile, error) {
	var f KeyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse key file: %w", err)
	}
	return &f, nil
}

// Marshal encodes the key file for storage.
func (f *KeyFile) Marshal() ([]byte, error) { return json.MarshalIndent(f, "", "  ") }
