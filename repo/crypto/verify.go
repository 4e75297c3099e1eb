package crypto

import (
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/poly1305" // the streaming MAC chacha20poly1305 does not expose
)

// verifyPiece is how much of a sealed object Verify holds at once.
const verifyPiece = 1 << 20

// Verify authenticates n sealed bytes (nonce || ciphertext || tag) read
// from r, as Open would, without decrypting them or holding more than a
// MiB of them: for sealed objects too large to load before knowing that
// the key holder wrote them. It fails with ErrAuth, or r's error.
func (k *Key) Verify(r io.Reader, n int64, ad []byte) error {
	if n < Overhead {
		return fmt.Errorf("sealed data is %d bytes, shorter than %d: %w", n, Overhead, ErrAuth)
	}
	var nonce [NonceSize]byte
	if _, err := io.ReadFull(r, nonce[:]); err != nil {
		return err
	}
	// XChaCha20-Poly1305: the subkey from the nonce's first 16 bytes, the
	// ChaCha20 nonce from its last 8, the one-time Poly1305 key from the
	// first block of the key stream.
	sub, err := chacha20.HChaCha20(k.enc[:], nonce[:16])
	if err != nil {
		return err
	}
	cnonce := make([]byte, chacha20.NonceSize)
	copy(cnonce[4:], nonce[16:])
	c, err := chacha20.NewUnauthenticatedCipher(sub, cnonce)
	if err != nil {
		return err
	}
	var polyKey [32]byte
	c.XORKeyStream(polyKey[:], polyKey[:])
	mac := poly1305.New(&polyKey)
	var zeros [16]byte
	mac.Write(ad)
	mac.Write(zeros[:(16-len(ad)%16)%16])
	ctLen := n - Overhead
	buf := make([]byte, min(ctLen, verifyPiece))
	for left := ctLen; left > 0; {
		piece := buf[:min(left, int64(len(buf)))]
		if _, err := io.ReadFull(r, piece); err != nil {
			return err
		}
		mac.Write(piece)
		left -= int64(len(piece))
	}
	mac.Write(zeros[:(16-ctLen%16)%16])
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[:8], uint64(len(ad)))
	binary.LittleEndian.PutUint64(lens[8:], uint64(ctLen))
	mac.Write(lens[:])
	var tag [TagSize]byte
	if _, err := io.ReadFull(r, tag[:]); err != nil {
		return err
	}
	if !mac.Verify(tag[:]) {
		return ErrAuth
	}
	return nil
}
