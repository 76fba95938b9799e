package tenant

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/names"
)

// Sentinel errors; test with errors.Is.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrNotFound     = errors.New("no such tenant")
	ErrExists       = errors.New("tenant already exists")
	ErrBadName      = errors.New("invalid tenant name")
)

// TokenPrefix starts every token, so a leaked one is easy to recognise
// (and to scan for).
const TokenPrefix = "rpr_"

// Tenant is one tenant of a server.
type Tenant struct {
	Name      string    `json:"name"`
	TokenHash string    `json:"token_sha256"` // hex SHA-256 of the token
	Limits    Limits    `json:"limits"`       // as set; zero fields take the defaults
	CreatedOn time.Time `json:"created_on"`
}

// file is the registry's JSON document.
type file struct {
	Tenants []Tenant `json:"tenants"`
}

// Registry is the tenants file. Readers (Authenticate, Get, List) see
// changes other processes make within RecheckEvery; writers serialise on a
// lock file and replace the file atomically.
type Registry struct {
	path string
	log  *slog.Logger // where a reader reports a file it cannot read; nil: nowhere

	mu      sync.Mutex // guards byHash, byName, stamp and bad
	byHash  map[string]Tenant
	byName  map[string]Tenant
	stamp   fileStamp
	bad     fileStamp    // a version of the file that could not be read (reported once)
	checked atomic.Int64 // Unix ns of the last stat
}

// RecheckEvery is how often readers look for a changed file: a token
// rotated or a tenant created elsewhere takes effect within it.
const RecheckEvery = 250 * time.Millisecond

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// Open returns the registry kept at path (which need not exist yet).
func Open(path string) (*Registry, error) {
	r := &Registry{path: path}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// LogTo makes readers keep serving from the last good reading of the file
// when it cannot be read again (a damaged or half-edited file), reporting
// the error to l instead of returning it: what a running server wants.
func (r *Registry) LogTo(l *slog.Logger) { r.log = l }

// Path is the registry's file.
func (r *Registry) Path() string { return r.path }

// CheckName reports whether name can name a tenant: a name by names.Check,
// and since it names a directory too, narrower: 1–63 lower-case letters,
// digits, '-' and '_', starting with a letter or digit.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > 63 {
		return fmt.Errorf("%w %q: a name has 1 to 63 characters", ErrBadName, name)
	}
	var ne *names.Error
	if errors.As(names.Check(name), &ne) {
		return fmt.Errorf("%w %q: %s", ErrBadName, name, ne.Reason)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("%w %q: use lower-case letters, digits, '-' and '_', starting with a letter or digit", ErrBadName, name)
		}
	}
	return nil
}

// Authenticate returns the tenant whose token this is, or ErrUnauthorized.
func (r *Registry) Authenticate(token string) (Tenant, error) {
	if len(token) < len(TokenPrefix)+16 || len(token) > 256 {
		return Tenant{}, ErrUnauthorized
	}
	if err := r.refresh(); err != nil {
		return Tenant{}, err
	}
	h := hashToken(token)
	r.mu.Lock()
	t, ok := r.byHash[h]
	r.mu.Unlock()
	// The map lookup compares hashes, not the secret; compare again in
	// constant time all the same.
	if !ok || subtle.ConstantTimeCompare([]byte(t.TokenHash), []byte(h)) != 1 {
		return Tenant{}, ErrUnauthorized
	}
	return t, nil
}

// Get returns the tenant named name.
func (r *Registry) Get(name string) (Tenant, error) {
	if err := r.refresh(); err != nil {
		return Tenant{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.byName[name]
	if !ok {
		return Tenant{}, fmt.Errorf("%w %q", ErrNotFound, name)
	}
	return t, nil
}

// List returns every tenant, by name.
func (r *Registry) List() ([]Tenant, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := make([]Tenant, 0, len(r.byName))
	for _, t := range r.byName {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Tenant) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return ts, nil
}

// Create adds a tenant and returns its token, which is not stored and
// cannot be shown again.
func (r *Registry) Create(name string, l Limits) (Tenant, string, error) {
	if err := CheckName(name); err != nil {
		return Tenant{}, "", err
	}
	if err := l.Validate(); err != nil {
		return Tenant{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return Tenant{}, "", err
	}
	t := Tenant{Name: name, TokenHash: hash, Limits: l, CreatedOn: time.Now().UTC().Truncate(time.Second)}
	err = r.update(func(f *file) error {
		for _, o := range f.Tenants {
			if o.Name == name {
				return fmt.Errorf("%w: %q (rotate its token with `reprise tenant rotate %s`)", ErrExists, name, name)
			}
		}
		f.Tenants = append(f.Tenants, t)
		return nil
	})
	if err != nil {
		return Tenant{}, "", err
	}
	return t, token, nil
}

// SetLimits changes a tenant's limits with set and stores them.
func (r *Registry) SetLimits(name string, set func(*Limits)) (Tenant, error) {
	var out Tenant
	err := r.update(func(f *file) error {
		i := slices.IndexFunc(f.Tenants, func(t Tenant) bool { return t.Name == name })
		if i < 0 {
			return fmt.Errorf("%w %q", ErrNotFound, name)
		}
		l := f.Tenants[i].Limits
		set(&l)
		if err := l.Validate(); err != nil {
			return err
		}
		f.Tenants[i].Limits = l
		out = f.Tenants[i]
		return nil
	})
	return out, err
}

// Rotate gives a tenant a new token; the old one stops working (in a
// running server within RecheckEvery).
func (r *Registry) Rotate(name string) (string, error) {
	token, hash, err := newToken()
	if err != nil {
		return "", err
	}
	err = r.update(func(f *file) error {
		i := slices.IndexFunc(f.Tenants, func(t Tenant) bool { return t.Name == name })
		if i < 0 {
			return fmt.Errorf("%w %q", ErrNotFound, name)
		}
		f.Tenants[i].TokenHash = hash
		return nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

func newToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("make a token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token), nil
}

func hashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// refresh rereads the file when it changed, looking at most every
// RecheckEvery.
func (r *Registry) refresh() error {
	now := time.Now().UnixNano()
	last := r.checked.Load()
	if now-last < int64(RecheckEvery) || !r.checked.CompareAndSwap(last, now) {
		return nil
	}
	st, err := stat(r.path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	same := st == r.stamp || (r.log != nil && st == r.bad)
	r.mu.Unlock()
	if same {
		return nil
	}
	if err := r.reload(); err != nil {
		if r.log == nil {
			return err
		}
		// Keep the last good tenants until the file changes again.
		r.mu.Lock()
		r.bad = st
		r.mu.Unlock()
		r.log.Error("tenants file not reread: serving the tenants read before", "err", err)
	}
	return nil
}

// reload reads the file (absent means no tenants).
func (r *Registry) reload() error {
	st, err := stat(r.path)
	if err != nil {
		return err
	}
	f, err := r.read()
	if err != nil {
		return err
	}
	r.install(f, st)
	return nil
}

func (r *Registry) install(f file, st fileStamp) {
	byHash := make(map[string]Tenant, len(f.Tenants))
	byName := make(map[string]Tenant, len(f.Tenants))
	for _, t := range f.Tenants {
		byHash[t.TokenHash] = t
		byName[t.Name] = t
	}
	r.mu.Lock()
	r.byHash, r.byName, r.stamp = byHash, byName, st
	r.mu.Unlock()
	r.checked.Store(time.Now().UnixNano())
}

func (r *Registry) read() (file, error) {
	var f file
	b, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read tenants: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("tenants file %s is damaged (%v): restore it from a backup", r.path, err)
	}
	for _, t := range f.Tenants {
		// A hand-edited name could otherwise name a directory anywhere.
		if err := CheckName(t.Name); err != nil {
			return f, fmt.Errorf("tenants file %s is damaged: %w", r.path, err)
		}
	}
	return f, nil
}

// update applies change to the file under the lock and writes it
// atomically: a temporary file, fsynced, renamed over the old one.
func (r *Registry) update(change func(*file) error) error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("tenants: %w", err)
	}
	unlock, err := lockFile(r.path + ".lock")
	if err != nil {
		return fmt.Errorf("lock tenants file: %w", err)
	}
	defer unlock()
	f, err := r.read()
	if err != nil {
		return err
	}
	if err := change(&f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.path), ".tenants-*")
	if err != nil {
		return fmt.Errorf("write tenants: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write tenants: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write tenants: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write tenants: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.path); err != nil {
		return fmt.Errorf("write tenants: %w", err)
	}
	if d, err := os.Open(filepath.Dir(r.path)); err == nil {
		d.Sync() // the rename itself durable
		d.Close()
	}
	st, err := stat(r.path)
	if err != nil {
		return err
	}
	r.install(f, st)
	return nil
}
