// Package crypto holds cairn's keys and its one way of sealing bytes.
//
// # Keys
//
// A repository has one random 32-byte master secret. Every key used for data
// is derived from it with BLAKE3's key derivation under a fixed context
// string, so the master secret itself never touches data:
//
//	encryption   XChaCha20-Poly1305 key for every blob and object
//	blob id      key of the keyed BLAKE3-256 that names blobs
//	chunker      seed of the secret gear table and Rabin polynomial of the
//	             content-defined chunkers
//	config mac   key of the MAC that authenticates the plaintext config
//
// The master secret is stored only inside key files, each wrapping it with a
// key derived from one password by argon2id (see keyfile.go).
//
// # Sealing
//
// Seal prepends a random 24-byte nonce to the XChaCha20-Poly1305 ciphertext
// and tag; the caller binds context (blob ID and type, object kind) as
// additional data so sealed bytes cannot be moved or retyped.
package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/restic/chunker"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/cairn-backup/cairn/repo/internal/b3"
)

// Sizes of the sealed format.
const (
	NonceSize = chacha20poly1305.NonceSizeX // 24
	TagSize   = chacha20poly1305.Overhead   // 16
	Overhead  = NonceSize + TagSize
)

// ErrAuth means sealed bytes failed authentication: they are damaged, were
// moved, or were sealed with another key.
var ErrAuth = errors.New("authentication failed")

// Derivation contexts. Changing one makes every repository unreadable.
const (
	ctxEncryption = "cairn 2026-11 encryption key"
	ctxBlobID     = "cairn 2026-11 blob id key"
	ctxTreeID     = "cairn 2026-11 tree blob id key"
	ctxChunker    = "cairn 2026-11 chunker polynomial"
	ctxConfigMAC  = "cairn 2026-11 config mac key"
	ctxGearTable  = "cairn 2026-11 gear chunker table"
)

// Key is an opened repository key: the master secret and what derives from it.
type Key struct {
	master      [32]byte
	aead        aeadCipher
	idKey       [32]byte
	treeIDKey   [32]byte
	macKey      [32]byte
	chunkerSeed [32]byte
	// idHashers and treeHashers recycle BlobID's and TreeID's hashers: a
	// keyed hasher holds about 40 KiB of buffers, a restore hashes every
	// blob it writes and an ingest every folder it walks.
	idHashers, treeHashers sync.Pool
}

type aeadCipher interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// NewMasterKey makes a fresh random master secret, for `init`.
func NewMasterKey() (*Key, error) {
	var m [32]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, fmt.Errorf("read random master key: %w", err)
	}
	return KeyFromMaster(m[:])
}

// KeyFromMaster derives every working key from a 32-byte master secret.
func KeyFromMaster(master []byte) (*Key, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("master key is %d bytes, want 32", len(master))
	}
	k := &Key{}
	copy(k.master[:], master)
	var enc [32]byte
	blake3.DeriveKey(ctxEncryption, master, enc[:])
	blake3.DeriveKey(ctxBlobID, master, k.idKey[:])
	blake3.DeriveKey(ctxTreeID, master, k.treeIDKey[:])
	blake3.DeriveKey(ctxConfigMAC, master, k.macKey[:])
	blake3.DeriveKey(ctxChunker, master, k.chunkerSeed[:])
	a, err := chacha20poly1305.NewX(enc[:])
	if err != nil {
		return nil, err
	}
	k.aead = a
	return k, nil
}

// Format prints a Key as a placeholder in every verb, so that a key that
// reaches a log line, an error or a test failure does not show its secrets.
func (k *Key) Format(f fmt.State, _ rune) { io.WriteString(f, "crypto.Key{redacted}") }

// Master returns the master secret, for wrapping into a key file.
func (k *Key) Master() []byte { return append([]byte(nil), k.master[:]...) }

// Seal appends nonce || ciphertext || tag of plaintext to dst.
func (k *Key) Seal(dst, plaintext, ad []byte) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, NonceSize)...)
	if _, err := rand.Read(dst[off:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k.aead.Seal(dst, dst[off:off+NonceSize], plaintext, ad)
}

// SealInPlace seals b[NonceSize:] where it lies: it writes a fresh nonce
// into b[:NonceSize] and returns b with the plaintext encrypted and the tag
// appended, reusing b's capacity when it has TagSize bytes to spare.
func (k *Key) SealInPlace(b, ad []byte) []byte {
	nonce := b[:NonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return k.aead.Seal(b[:NonceSize], nonce, b[NonceSize:], ad)
}

// Open authenticates and decrypts sealed (nonce || ciphertext || tag),
// appending the plaintext to dst. It fails with ErrAuth.
func (k *Key) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("sealed data is %d bytes, shorter than %d: %w", len(sealed), Overhead, ErrAuth)
	}
	out, err := k.aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// BlobID is the keyed BLAKE3-256 of plaintext.
func (k *Key) BlobID(plaintext []byte) [32]byte {
	return keyedSum(&k.idHashers, &k.idKey, plaintext)
}

// keyedSum is the BLAKE3-256 of b keyed with key, by a hasher from pool
// (one made when the pool has none).
func keyedSum(pool *sync.Pool, key *[32]byte, b []byte) [32]byte {
	h, ok := pool.Get().(*b3.Hasher)
	if ok {
		h.Reset()
	} else {
		h = b3.NewKeyed(key)
	}
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	pool.Put(h)
	return out
}

// TreeID is the keyed BLAKE3-256 of a tree blob's plaintext under a key of
// its own, so that no file's content can share a tree's ID (repositories
// with the "typed-blob-ids" feature).
func (k *Key) TreeID(plaintext []byte) [32]byte {
	return keyedSum(&k.treeHashers, &k.treeIDKey, plaintext)
}

// MAC is the keyed BLAKE3-256 of b under the config MAC key.
func (k *Key) MAC(b []byte) [32]byte {
	h, _ := blake3.NewKeyed(k.macKey[:])
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// GearTable derives the repository's secret table for the gear chunker:
// 256 words of the BLAKE3 key-derivation stream of the chunker seed under
// its own context, read as little-endian uint64s, with the word of byte 0
// set to 0: a run of zeros then hashes to 0 and is cut every min_size
// bytes, so zero runs deduplicate across files and images (like the Rabin
// chunker, whose fingerprint of zeros is 0). On the benchmark corpus a
// random word for 0 left 108 MiB more unique data.
func (k *Key) GearTable() [256]uint64 {
	x := blake3.NewDeriveKey(ctxGearTable)
	x.Write(k.chunkerSeed[:])
	var b [256 * 8]byte
	if _, err := io.ReadFull(x.Digest(), b[:]); err != nil {
		panic(err) // an XOF does not run dry
	}
	var t [256]uint64
	for i := 1; i < len(t); i++ {
		t[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return t
}

// ChunkerPolynomial derives the repository's secret chunking polynomial.
// The same master key always gives the same polynomial, so every host of a
// repository cuts identical data identically.
func (k *Key) ChunkerPolynomial() (chunker.Pol, error) {
	x := blake3.NewDeriveKey(ctxChunker)
	x.Write(k.chunkerSeed[:])
	return chunker.DerivePolynomial(x.Digest())
}
