package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/crypto"
)

// KeyInfo describes one key file: one password that opens the repository.
type KeyInfo struct {
	ID       string    `json:"id"` // the file's name under keys/
	Current  bool      `json:"current"`
	Created  time.Time `json:"created"`
	Host     string    `json:"host,omitempty"`
	Username string    `json:"username,omitempty"`
	Kind     string    `json:"kind"`
	// A key file that cannot be parsed is listed with its error.
	Err string `json:"error,omitempty"`
}

// ErrLastKey refuses to remove the only way into a repository.
var ErrLastKey = errors.New("it is the repository's last key")

// ErrCurrentKey refuses to remove the key that opened the repository.
var ErrCurrentKey = errors.New("it is the key this command was opened with")

// KeyFiles lists the names of the key files, sorted, without reading
// them: cheap enough for a daemon to notice, before it trusts a password
// it remembers, that a key was removed or changed since.
func (r *Repository) KeyFiles(ctx context.Context) ([]string, error) {
	var names []string
	err := r.be.List(ctx, "keys/", func(fi backends.Info) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// Keys lists the key files, oldest first.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	var names []string
	sizes := map[string]int64{}
	err := r.be.List(ctx, "keys/", func(fi backends.Info) error {
		names = append(names, fi.Name)
		sizes[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]KeyInfo, 0, len(names))
	for _, n := range names {
		ki := KeyInfo{ID: strings.TrimPrefix(n, "keys/"), Current: n == r.keyName}
		var b []byte
		err := fmt.Errorf("%d bytes, too large for a key file", sizes[n])
		if sizes[n] <= maxKeyFile {
			b, err = r.be.Load(ctx, n, 0, sizes[n])
		}
		if err == nil {
			var kf *crypto.KeyFile
			if kf, err = crypto.ParseKeyFile(b); err == nil {
				ki.Created, ki.Host, ki.Username, ki.Kind = kf.Created, kf.Host, kf.Username, kf.Kind
			}
		}
		if err != nil {
			ki.Err = err.Error()
		}
		out = append(out, ki)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// AddKey stores a new key file for password, wrapping the same master key,
// and returns its ID. kdf nil means the default cost.
func (r *Repository) AddKey(ctx context.Context, password []byte, kdf *crypto.KDFParams) (string, error) {
	if len(password) == 0 {
		return "", errors.New("empty password")
	}
	name, err := addKey(ctx, r.be, r.key, Options{Password: password, KDF: kdf})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(name, "keys/"), nil
}

// RemoveKey removes the key file whose ID starts with prefix and returns
// its whole ID. It refuses the last key and the key this repository was
// opened with.
func (r *Repository) RemoveKey(ctx context.Context, prefix string) (string, error) {
	keys, err := r.Keys(ctx)
	if err != nil {
		return "", err
	}
	ki, err := findKey(keys, prefix)
	if err != nil {
		return "", err
	}
	if len(keys) == 1 {
		return "", fmt.Errorf("cannot remove key %s: %w", ki.ID, ErrLastKey)
	}
	if ki.Current {
		return "", fmt.Errorf("cannot remove key %s: %w; open the repository with another password to remove it", ki.ID, ErrCurrentKey)
	}
	return ki.ID, r.be.Remove(ctx, "keys/"+ki.ID)
}

// ChangePassword replaces the current key file with one for password: the
// new file is written first, then the old one removed, so a crash between
// leaves both passwords working, never neither. It returns the new ID.
func (r *Repository) ChangePassword(ctx context.Context, password []byte, kdf *crypto.KDFParams) (string, error) {
	newID, err := r.AddKey(ctx, password, kdf)
	if err != nil {
		return "", err
	}
	old := r.keyName
	r.keyName = "keys/" + newID
	if err := r.be.Remove(ctx, old); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return newID, fmt.Errorf("new key %s written, but the old key file %s could not be removed (remove it with cairn key remove): %w", newID, old, err)
	}
	return newID, nil
}

func findKey(keys []KeyInfo, prefix string) (KeyInfo, error) {
	var found []KeyInfo
	for _, k := range keys {
		if strings.HasPrefix(k.ID, prefix) {
			found = append(found, k)
		}
	}
	switch {
	case prefix == "" || len(found) == 0:
		return KeyInfo{}, fmt.Errorf("no key %q: %w", prefix, ErrNotFound)
	case len(found) > 1:
		return KeyInfo{}, fmt.Errorf("key prefix %q is ambiguous (%d keys)", prefix, len(found))
	}
	return found[0], nil
}

// CheckPassword checks password as Open does: it must open one of the key
// files, and the key it opens must be this repository's (the config's MAC
// matches). The error wraps ErrWrongPassword when no key file opens.
// Each key file tried costs a key derivation: callers that check often
// should remember what passed.
func (r *Repository) CheckPassword(ctx context.Context, password []byte) error {
	_, _, err := unlock(ctx, r.be, password, r.cfg.verify)
	return err
}
