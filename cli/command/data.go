package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

// closeTimeout bounds a graceful host shutdown: running guests are stopped
// and their journals written, which takes milliseconds, not seconds.
const closeTimeout = 30 * time.Second

// defaultDiskReserve is the free space writes leave on a store's disk by
// default. It holds what Badger writes on its own between two checks of a
// store's space — flushes of its two 16 MiB memtables, compactions of its
// keys and small values (badgerstore's options) — for several tenants'
// stores at once, and is small beside today's disks.
const defaultDiskReserve = "256MiB"

func (a *app) storeDir() string { return filepath.Join(a.dataDir, "store") }

// openStore opens the data directory's store, creating it if needed.
func (a *app) openStore() (*badgerstore.DB, error) {
	if err := os.MkdirAll(a.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := badgerstore.Open(a.storeDir(), badgerstore.Options{Logger: a.log, Reserve: a.diskReserve})
	if errors.Is(err, badgerstore.ErrLocked) {
		return nil, &exitError{code: ExitLocked, err: err, msg: fmt.Sprintf(
			"data directory %s is in use by another reprise process (a `reprise worker`?); stop it or use another --data", a.dataDir)}
	}
	if err != nil {
		return nil, fmt.Errorf("open data directory %s: %w", a.dataDir, err)
	}
	return db, nil
}

// errNoData says the data directory holds no store yet.
var errNoData = errors.New("no data")

// openStoreToRead opens the store for a read-only command. Such commands
// never create a host, so they never run executions. A data directory that
// does not exist yet gives errNoData rather than being created.
func (a *app) openStoreToRead() (*badgerstore.DB, error) {
	if _, err := os.Stat(a.storeDir()); errors.Is(err, os.ErrNotExist) {
		return nil, errNoData
	}
	return a.openStore()
}

// notFound is the error for an id the data directory (or server) does not
// hold.
//
// It says what retention removes, so that a purged id is understood.
func (a *app) notFound(id string) error {
	return &exitError{code: ExitNotFound, err: store.ErrNotFound, msg: fmt.Sprintf(
		"no execution or promise with id %q %s: check the id (`reprise ls` lists them) or %s; %s", id, a.where(), a.whereFlag(), a.retentionNote())}
}

// retentionNote says after how long finished executions and promises are
// removed where the command looks.
func (a *app) retentionNote() string {
	if a.remote != nil {
		return "the server removes finished executions and settled promises once they are older than the tenant's retention (7 days unless the tenant limit retention says otherwise)"
	}
	if note := host.RetentionNote(a.retention); note != "" {
		return "here " + note + " (--retention)"
	}
	return "nothing is removed here (--retention forever)"
}

// session is a host running on the data directory's store.
type session struct {
	db      *badgerstore.DB
	h       *host.Host
	closing *atomic.Bool
}

// openHost opens the store and starts a host on it. The host resumes every
// unfinished execution the store holds (they run while the command does).
func (a *app) openHost(ctx context.Context) (*session, error) {
	return a.openHostIn(ctx, serverBudgets{})
}

// openHostIn is openHost inside budgets (zero: none), as `serve --no-auth`
// runs its one host.
func (a *app) openHostIn(ctx context.Context, budgets serverBudgets) (*session, error) {
	db, err := a.openStore()
	if err != nil {
		return nil, err
	}
	closing := new(atomic.Bool)
	h, err := host.New(ctx, host.Config{
		Store:     db,
		Logger:    slog.New(quietClose{a.log.Handler(), closing}),
		CacheDir:  a.cacheDir,
		HTTP:      a.httpConfig(),
		NewEngine: a.engineOrDefault(),
		Budget:    budgets.memory,
		Compiles:  budgets.compiles,
		Retention: a.retention,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("start host: %w", err)
	}
	return &session{db: db, h: h, closing: closing}, nil
}

// close stops the host gracefully (executions are left durable, to resume
// on the next start) and closes the store. It runs even after an interrupt,
// so it does not use the command's context.
func (s *session) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	s.closing.Store(true)
	herr := s.h.Close(ctx)
	if herr != nil {
		herr = fmt.Errorf("stop host: %w", herr)
	}
	return errors.Join(herr, s.db.Close())
}

// closeInto closes s and reports a failure through *err unless the command
// already failed: deferred by every command that opens a session.
func (s *session) closeInto(err *error) {
	if cerr := s.close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// quietClose drops the host's records below error level once it is shutting
// down: stopping cancels work in flight (such as preparing instances ahead
// of need), which the host reports as warnings that mean nothing here.
type quietClose struct {
	slog.Handler
	closing *atomic.Bool
}

func (q quietClose) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelError && q.closing.Load() {
		return false
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quietClose) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && q.closing.Load() {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietClose) WithAttrs(as []slog.Attr) slog.Handler {
	return quietClose{q.Handler.WithAttrs(as), q.closing}
}

func (q quietClose) WithGroup(name string) slog.Handler {
	return quietClose{q.Handler.WithGroup(name), q.closing}
}

// httpConfig grants outbound HTTP per --allow-http: nil (none) by default,
// every host name for "*", else the names listed; "*.example.com" matches
// the subdomains of example.com.
//
// Addresses are checked as for tenants (internal ones refused), with one
// difference for this single-user mode, where the machine is the user's: an
// address or localhost named in --allow-http is allowed, since naming it is
// asking for it (localhost: the loopback ranges). Other internal ranges are
// given with --allow-http-ranges. A name that merely resolves to an internal
// address reaches nothing.
func (a *app) httpConfig() *host.HTTPConfig {
	if len(a.allowHTTP) == 0 {
		return nil
	}
	cfg := &host.HTTPConfig{AllowRanges: slices.Clone(a.allowRanges), RangesSetting: "--allow-http-ranges (or naming the address in --allow-http)"}
	allowed := map[string]bool{}
	var suffixes []string
	star := false
	for _, h := range a.allowHTTP {
		switch {
		case h == "*":
			star = true
		case strings.HasPrefix(h, "*."):
			suffixes = append(suffixes, h[1:])
		default:
			allowed[h] = true
		}
		if h == "localhost" {
			cfg.AllowRanges = append(cfg.AllowRanges, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		} else if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && ip.Zone() == "" {
			ip = ip.Unmap()
			cfg.AllowRanges = append(cfg.AllowRanges, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	if star {
		return cfg
	}
	cfg.Allow = func(h string) bool {
		h = strings.ToLower(h)
		if allowed[h] {
			return true
		}
		for _, s := range suffixes {
			if strings.HasSuffix(h, s) {
				return true
			}
		}
		return false
	}
	return cfg
}
