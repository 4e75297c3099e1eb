package repo

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/repo/crypto"
)

// FormatVersion is the repository format this cairn writes and reads.
const FormatVersion = 1

// knownFeatures are the feature flags this cairn understands. A repository
// whose config lists a mandatory feature not here is refused.
var knownFeatures = map[string]bool{FeatureTypedBlobIDs: true}

// FeatureTypedBlobIDs: tree blobs' IDs are hashed under a key of their own
// (docs/FORMAT.md §5), so no file's content can take a tree's ID. Every
// repository made since it exists has it, as a mandatory feature.
const FeatureTypedBlobIDs = "typed-blob-ids"

// HasFeature reports whether the config lists feature f.
func (c *Config) HasFeature(f string) bool {
	for _, x := range c.Features.Mandatory {
		if x == f {
			return true
		}
	}
	return false
}

// ChunkerParams say how new data is cut into content-defined chunks.
type ChunkerParams struct {
	// Algorithm is ChunkerGear or ChunkerRabin ("" in configs written
	// before there was a choice).
	Algorithm   string `json:"algorithm,omitempty"`
	MinSize     uint   `json:"min_size"`
	MaxSize     uint   `json:"max_size"`
	AverageBits int    `json:"average_bits"`
}

// Chunkers (docs/FORMAT.md §3). Reading never depends on them; writers of
// one repository must use the same to deduplicate against each other.
const (
	// ChunkerGear: a gear hash over a 64-byte window, keyed by a table
	// derived from the master key (repo/chunker). Three times the speed
	// of the Rabin fingerprint; the default since 2026-11-26.
	ChunkerGear = "gear"
	// ChunkerRabin: restic/chunker's Rabin fingerprint with a polynomial
	// derived from the master key.
	ChunkerRabin = "rabin"
)

// ChunkerAlgorithm is the config's chunker, "" read as ChunkerRabin.
func (c ChunkerParams) ChunkerAlgorithm() string {
	if c.Algorithm == "" {
		return ChunkerRabin
	}
	return c.Algorithm
}

// Config is the repository's one plaintext object, "config". It holds no
// secret; its MAC (keyed by the master key) is checked once the repository
// is opened, so a swapped or edited config is noticed.
type Config struct {
	Version  int           `json:"version"`
	ID       string        `json:"id"`
	Created  time.Time     `json:"created"`
	Chunker  ChunkerParams `json:"chunker"`
	PackSize int           `json:"pack_size"`
	Features struct {
		Mandatory []string `json:"mandatory"`
		Optional  []string `json:"optional"`
	} `json:"features"`
	MAC string `json:"mac,omitempty"`

	raw []byte // the stored bytes, for the MAC check
}

// DefaultChunker: gear, 512 KiB to 8 MiB chunks, a cut 1 MiB past the
// minimum on average.
var DefaultChunker = ChunkerParams{Algorithm: ChunkerGear, MinSize: 512 << 10, MaxSize: 8 << 20, AverageBits: 20}

// DefaultPackSize is the size at which a data pack is closed.
const DefaultPackSize = 16 << 20

func newConfig() *Config {
	var rid [32]byte
	if _, err := rand.Read(rid[:]); err != nil {
		panic(err)
	}
	c := &Config{Version: FormatVersion, ID: hex.EncodeToString(rid[:]), Created: time.Now().UTC().Truncate(time.Second), Chunker: DefaultChunker, PackSize: DefaultPackSize}
	c.Features.Mandatory = []string{FeatureTypedBlobIDs}
	c.Features.Optional = []string{}
	return c
}

// The config's MAC covers its exact stored bytes, not a re-encoding: the
// writer encodes the config without "mac" (compact JSON ending in "}"),
// computes the MAC over those bytes, and stores them with ,"mac":"<hex>"
// spliced in before the final "}". A reader takes everything before the
// last `,"mac":"`, appends "}", and checks the MAC over that. Fields a newer
// writer adds are covered too.
const macMarker = `,"mac":"`

// marshalSealed encodes c with its MAC under k.
func (c *Config) marshalSealed(k *crypto.Key) ([]byte, error) {
	cp := *c
	cp.MAC = ""
	body, err := json.Marshal(&cp)
	if err != nil {
		return nil, err
	}
	m := k.MAC(body)
	c.MAC = hex.EncodeToString(m[:])
	out := append([]byte(nil), body[:len(body)-1]...)
	out = append(out, macMarker...)
	out = append(out, c.MAC...)
	return append(out, `"}`...), nil
}

// macInput recovers the bytes the MAC covers from the stored config.
func macInput(stored []byte) ([]byte, bool) {
	i := bytes.LastIndex(stored, []byte(macMarker))
	if i < 0 {
		return nil, false
	}
	// Only the MAC string and the closing brace may follow the marker:
	// anything else would be decoded as fields (JSON keeps the last of
	// duplicate keys) that the MAC does not cover.
	tail := bytes.TrimRight(stored[i+len(macMarker):], " \t\r\n")
	if !bytes.HasSuffix(tail, []byte(`"}`)) || bytes.ContainsAny(tail[:len(tail)-2], `"\`) {
		return nil, false
	}
	return append(append([]byte(nil), stored[:i]...), '}'), true
}

func (c *Config) verify(k *crypto.Key) error {
	in, ok := macInput(c.raw)
	if ok {
		m := k.MAC(in)
		// Constant time: a forger timing the comparison learns nothing.
		ok = hmac.Equal([]byte(hex.EncodeToString(m[:])), []byte(c.MAC))
	}
	if !ok {
		return fmt.Errorf("config: MAC does not match the key: the config was altered or belongs to another repository: %w", ErrDamaged)
	}
	return nil
}

// parseConfig decodes and checks the config before any password is asked,
// so an unsupported repository is refused with a clear message.
func parseConfig(b []byte) (*Config, error) {
	// A newer format or feature may change the layout: check version and
	// features before decoding the rest, so such a repository is refused
	// as unsupported, not as damaged.
	var head struct {
		Version  *int `json:"version"`
		Features struct {
			Mandatory []string `json:"mandatory"`
		} `json:"features"`
	}
	if json.Unmarshal(b, &head) == nil {
		if head.Version != nil && *head.Version != FormatVersion {
			return nil, fmt.Errorf("repository format version %d, this cairn reads version %d: %w", *head.Version, FormatVersion, ErrUnsupported)
		}
		for _, f := range head.Features.Mandatory {
			if !knownFeatures[f] {
				return nil, fmt.Errorf("repository needs feature %q, which this cairn does not know; upgrade cairn: %w", f, ErrUnsupported)
			}
		}
	}
	c := Config{raw: b}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config: %v: %w", err, ErrDamaged)
	}
	if c.Version != FormatVersion {
		return nil, fmt.Errorf("repository format version %d, this cairn reads version %d: %w", c.Version, FormatVersion, ErrUnsupported)
	}
	for _, f := range c.Features.Mandatory {
		if !knownFeatures[f] {
			return nil, fmt.Errorf("repository needs feature %q, which this cairn does not know; upgrade cairn: %w", f, ErrUnsupported)
		}
	}
	ch := c.Chunker
	if ch.MinSize < 64<<10 || ch.MaxSize < ch.MinSize || ch.MaxSize > 64<<20 || ch.AverageBits < 16 || ch.AverageBits > 26 {
		return nil, fmt.Errorf("config: implausible chunker parameters %+v: %w", ch, ErrDamaged)
	}
	if c.PackSize < 1<<20 || c.PackSize > 1<<30 {
		return nil, fmt.Errorf("config: implausible pack size %d: %w", c.PackSize, ErrDamaged)
	}
	// The ID names the local cache folder: hex only, never a path.
	if _, err := hex.DecodeString(c.ID); len(c.ID) != 64 || err != nil {
		return nil, fmt.Errorf("config: bad repository ID: %w", ErrDamaged)
	}
	return &c, nil
}
