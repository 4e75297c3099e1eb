package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// PasswordHeader carries the repository password a client read from its
// password file, command or CAIRN_PASSWORD, base64-encoded (a password may
// hold any byte). The daemon checks it against the repository's key files
// as opening the repository would, and never logs it.
//
// The socket's owner (root, or the daemon's own uid) needs no password:
// it could read the daemon's password file anyway. Every other caller
// must give the right one for every call but info and status. A password
// that is given is always checked, whoever gives it: a wrong one is
// answered as a direct command answers it (exit 12).
const PasswordHeader = "Cairn-Password"

// Failed password checks of one uid: the first few are answered at once,
// then each further attempt waits for a pause that doubles, up to a
// limit. Not for the socket's owner, who needs no password.
const (
	freeFailures   = 3
	firstLockout   = time.Second
	longestLockout = time.Minute
)

// passwords checks the passwords callers give and remembers, for the
// daemon's life (or until a reload), those that opened a key file: a key
// derivation (argon2) is slow and memory-hungry, so each is done once,
// one at a time. What it remembers is a keyed hash (HMAC-SHA-256 with a
// key made at random for this process), never the password.
type passwords struct {
	once sync.Once
	key  []byte

	derive sync.Mutex // one key derivation at a time

	mu   sync.Mutex
	good map[[sha256.Size]byte]bool
	keys string // the key files when good was filled (keysSeen)
	// gen counts the times good was forgotten: a check that began
	// before (a key removed or a reload while it derived) must not
	// put back what it found into the emptied good.
	gen   uint64
	fails map[int]*failures // by uid
	now   func() time.Time  // for tests
}

type failures struct {
	n     int
	until time.Time // no check before then
}

func (p *passwords) init() {
	p.once.Do(func() {
		p.key = make([]byte, 32)
		rand.Read(p.key)
		if p.now == nil {
			p.now = time.Now
		}
	})
}

func (p *passwords) sum(pw []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(pw)
	var s [sha256.Size]byte
	copy(s[:], m.Sum(nil))
	return s
}

// errTooManyFailures answers a uid that gave wrong passwords too often,
// until its pause is over.
type errTooManyFailures struct {
	uid  int
	wait time.Duration
}

func (e *errTooManyFailures) Error() string {
	return fmt.Sprintf("too many wrong passwords from uid %d: try again in %s", e.uid, e.wait.Round(time.Second))
}

// check checks pw for uid with check (the repository's), unless it passed
// before. Wrong passwords count against uid, unless it is the socket's
// owner, who could read the daemon's password anyway.
func (p *passwords) check(ctx context.Context, uid int, owner bool, pw []byte, check func(context.Context, []byte) error) error {
	p.init()
	h := p.sum(pw)
	p.mu.Lock()
	ok := p.good[h]
	p.mu.Unlock()
	if ok {
		return nil
	}
	p.derive.Lock()
	defer p.derive.Unlock()
	p.mu.Lock()
	ok = p.good[h]
	f := p.fails[uid]
	gen := p.gen
	p.mu.Unlock()
	if ok {
		return nil
	}
	if f != nil && !owner {
		if wait := f.until.Sub(p.now()); wait > 0 {
			return &errTooManyFailures{uid: uid, wait: max(wait, time.Second)}
		}
	}
	err := check(ctx, pw)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil && gen != p.gen:
		// Forgotten while it was checked: it passed against key
		// files that may be gone. This call goes through, the next
		// is checked anew.
		delete(p.fails, uid)
	case err == nil:
		if p.good == nil {
			p.good = map[[sha256.Size]byte]bool{}
		}
		p.good[h] = true
		delete(p.fails, uid)
	case errors.Is(err, repo.ErrWrongPassword) && !owner:
		if p.fails == nil {
			p.fails = map[int]*failures{}
		}
		if f = p.fails[uid]; f == nil {
			f = &failures{}
			p.fails[uid] = f
		}
		f.n++
		if f.n >= freeFailures {
			f.until = p.now().Add(min(firstLockout<<min(f.n-freeFailures, 16), longestLockout))
		}
	}
	return err
}

// forget drops the passwords that passed (on reload: a password removed
// with cairn key remove, or changed with cairn passwd, stops working).
func (p *passwords) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.good = nil
	p.gen++
}

// keysSeen forgets the passwords that passed when the repository's key
// files are not those they passed with: a password removed with cairn key
// remove, or changed with cairn key passwd, stops working at once, not
// only after a reload. When the key files cannot be listed within
// keysListTimeout (storage down), what passed stays: cairn status, with
// the password a timer's environment gives, must answer during an outage
// at once, not after the listing's retries, and not fail.
func (p *passwords) keysSeen(ctx context.Context, list func(context.Context) ([]string, error)) {
	ctx, cancel := context.WithTimeout(ctx, keysListTimeout)
	names, err := list(ctx)
	cancel()
	if err != nil {
		return
	}
	now := strings.Join(names, "\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	if now != p.keys {
		p.good = nil
		p.gen++
	}
	p.keys = now
}

// keysListTimeout bounds keysSeen's listing of the key files.
var keysListTimeout = 3 * time.Second

// authorize checks the password a call gives (see PasswordHeader). open
// lets the socket's other callers in without one. It answers a refused
// call itself and returns false.
func (d *Daemon) authorize(w http.ResponseWriter, req *http.Request, open bool) bool {
	p, _ := req.Context().Value(peerKey{}).(peer)
	given := req.Header.Values(PasswordHeader)
	owner := p.err == nil && (p.uid == 0 || p.uid == os.Getuid())
	if len(given) == 0 {
		if open || owner {
			return true
		}
		writeError(w, http.StatusUnauthorized, exitFailure, fmt.Sprintf("no password: uid %d must give the repository's password to use the cairn daemon "+
			"(only its owner, root or uid %d, needs none): set CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD", p.uid, os.Getuid()))
		return false
	}
	pw, err := base64.StdEncoding.DecodeString(given[0])
	if err != nil || len(given) > 1 {
		writeError(w, http.StatusBadRequest, exitFailure, "bad "+PasswordHeader+" header")
		return false
	}
	d.passwords.keysSeen(req.Context(), d.r.KeyFiles)
	err = d.passwords.check(req.Context(), p.uid, owner, pw, d.r.CheckPassword)
	clear(pw)
	var tooMany *errTooManyFailures
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooMany):
		writeError(w, http.StatusTooManyRequests, exitFailure, err.Error())
	case errors.Is(err, repo.ErrWrongPassword):
		d.logf("uid %d (pid %d) gave a wrong password over the socket", p.uid, p.pid)
		writeError(w, http.StatusUnauthorized, exitWrongPassword, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, d.deps.ExitCode(err), err.Error())
	}
	return false
}

// authorized wraps a handler with authorize.
func (d *Daemon) authorized(open bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if d.authorize(w, req, open) {
			h(w, req)
		}
	}
}

// handleAuth answers 204 when the caller may use the daemon: a client
// asks before it starts work it would have to undo (a
// --stdin-from-command command).
func (d *Daemon) handleAuth(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}
