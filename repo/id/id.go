// Package id holds the small types shared by the repository library and the
// local index: content IDs and blob types. It imports nothing of cairn's.
package id

import (
	"encoding/hex"
	"fmt"
)

// ID names a blob or a stored object: 32 bytes of BLAKE3.
type ID [32]byte

// Zero is the ID of nothing; no stored object has it.
var Zero ID

// String is the lowercase hex form used in object names and output.
func (i ID) String() string { return hex.EncodeToString(i[:]) }

// Short is the 8-character prefix shown to people.
func (i ID) Short() string { return hex.EncodeToString(i[:4]) }

// IsZero reports whether i is the zero ID.
func (i ID) IsZero() bool { return i == Zero }

// MarshalText encodes the ID as hex, for JSON.
func (i ID) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText decodes a 64-character hex ID.
func (i *ID) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*i = p
	return nil
}

// Parse decodes a 64-character hex ID.
func Parse(s string) (ID, error) {
	var i ID
	if len(s) != 64 {
		return i, fmt.Errorf("invalid ID %q: want 64 hex characters", s)
	}
	if _, err := hex.Decode(i[:], []byte(s)); err != nil {
		return i, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return i, nil
}

// BlobType says what a blob holds. Data and tree blobs live in separate packs.
type BlobType uint8

const (
	DataBlob BlobType = 1
	TreeBlob BlobType = 2
)

func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// Valid reports whether t is a known blob type.
func (t BlobType) Valid() bool { return t == DataBlob || t == TreeBlob }
