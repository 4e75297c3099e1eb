package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/internal/par"
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

// maxKeyFile bounds a key file's size: one is about 500 bytes of JSON. A
// larger object under keys/ is skipped without being loaded.
const maxKeyFile = 64 << 10

// unlock finds a key file that password opens and whose key verify
// accepts (the config's MAC). A key file that opens but fails verify (one
// copied from another repository with the same password) does not stop the
// search; when no key passes, the first such failure is returned.
func unlock(ctx context.Context, be backends.Backend, password []byte, verify func(*crypto.Key) error) (*crypto.Key, string, error) {
	var names []string
	sizes := map[string]int64{}
	err := be.List(ctx, "keys/", func(fi backends.Info) error {
		names = append(names, fi.Name)
		sizes[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	if len(names) == 0 {
		// Not a wrong password: none can open it (exit 12 would send a
		// script after the wrong fault).
		return nil, "", fmt.Errorf("%s has no key files (keys/ is empty), so no password can open it (put back a key file from a copy of the repository): %w",
			be.Location(), ErrDamaged)
	}
	type keyFile struct {
		name string
		kf   *crypto.KeyFile
	}
	var firstErr, mismatch error
	slices.Sort(names)
	// Every key file is read before any is tried (below), several at once:
	// one after the other, a repository with many keys on S3 would pay a
	// round trip each before any command starts.
	loaded := make([][]byte, len(names))
	loadErrs := make([]error, len(names))
	par.Each(ctx, 8, len(names), func(i int) {
		if sizes[names[i]] <= maxKeyFile {
			// No more than listed: a storage that lies cannot make it more.
			loaded[i], loadErrs[i] = be.Load(ctx, names[i], 0, sizes[names[i]])
		}
	})
	if ctx.Err() != nil {
		// Interrupted (Ctrl-C, SIGTERM): neither a wrong password
		// (exit 12) nor a damaged repository.
		return nil, "", fmt.Errorf("read key files: %w", ctx.Err())
	}
	var kfs []keyFile
	for i, n := range names {
		if sizes[n] > maxKeyFile {
			// Not a key file: loading it whole could exhaust memory.
			firstErr = errors.Join(firstErr, fmt.Errorf("%s: %d bytes, too large for a key file", n, sizes[n]))
			continue
		}
		if err := loadErrs[i]; err != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("read %s: %w", n, err))
			continue
		}
		kf, err := crypto.ParseKeyFile(loaded[i])
		if err != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("%s: %w", n, err))
			continue
		}
		kfs = append(kfs, keyFile{n, kf})
	}
	// Cheapest key derivation first: a key file planted with the largest
	// argon2id cost the bounds allow (minutes and 1 GiB each) then delays
	// no command whose password opens a key file of ordinary cost.
	slices.SortStableFunc(kfs, func(a, b keyFile) int { return cmp.Compare(a.kf.KDF.Cost(), b.kf.KDF.Cost()) })
	tried := 0 // key files the password was tried on
	for _, c := range kfs {
		n, kf := c.name, c.kf
		tried++
		k, err := kf.Unlock(password)
		if err == nil {
			verr := verify(k)
			if verr == nil {
				return k, n, nil
			}
			if mismatch == nil {
				mismatch = fmt.Errorf("%s: %w", n, verr)
			}
			continue
		}
		if !errors.Is(err, crypto.ErrWrongPassword) {
			firstErr = errors.Join(firstErr, fmt.Errorf("%s: %w", n, err))
		}
	}
	if mismatch != nil {
		// The password opened a key, but of another repository.
		return nil, "", mismatch
	}
	if tried == 0 {
		// No key file could even be read: the password was never
		// wrong (exit 12 would send a script after the wrong fault).
		return nil, "", fmt.Errorf("no key file of %s can be read, so no password can open it (put back a key file from a copy of the repository): %v: %w",
			be.Location(), firstErr, ErrDamaged)
	}
	if firstErr != nil {
		return nil, "", fmt.Errorf("%w (also: %v)", ErrWrongPassword, firstErr)
	}
	return nil, "", ErrWrongPassword
}
