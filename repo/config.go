package repo

import (
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
var knownFeatures = map[string]bool{}

// ChunkerParams bound content-defined chunk sizes.
type ChunkerParams struct {
	MinSize     uint `json:"min_size"`
	MaxSize     uint `json:"max_size"`
	AverageBits int  `json:"average_bits"`
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
}

// DefaultChunker: 512 KiB to 8 MiB chunks, 1 MiB on average.
var DefaultChunker = ChunkerParams{MinSize: 512 << 10, MaxSize: 8 << 20, AverageBits: 20}

// DefaultPackSize is the size at which a data pack is closed.
const DefaultPackSize = 16 << 20

func newConfig() *Config {
	var rid [32]byte
	if _, err := rand.Read(rid[:]); err != nil {
		panic(err)
	}
	c := &Config{Version: FormatVersion, ID: hex.EncodeToString(rid[:]), Created: time.Now().UTC().Truncate(time.Second), Chunker: DefaultChunker, PackSize: DefaultPackSize}
	c.Features.Mandatory = []string{}
	c.Features.Optional = []string{}
	return c
}

func (c *Config) macInput() []byte {
	cp := *c
	cp.MAC = ""
	b, _ := json.Marshal(&cp)
	return b
}

func (c *Config) seal(k *crypto.Key) {
	m := k.MAC(c.macInput())
	c.MAC = hex.EncodeToString(m[:])
}

func (c *Config) verify(k *crypto.Key) error {
	m := k.MAC(c.macInput())
	if hex.EncodeToString(m[:]) != c.MAC {
		return fmt.Errorf("config: MAC does not match the key: the config was altered or belongs to another repository: %w", ErrDamaged)
	}
	return nil
}

// parseConfig decodes and checks the config before any password is asked,
// so an unsupported repository is refused with a clear message.
func parseConfig(b []byte) (*Config, error) {
	var c Config
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
	if len(c.ID) != 64 {
		return nil, fmt.Errorf("config: bad repository ID: %w", ErrDamaged)
	}
	return &c, nil
}
