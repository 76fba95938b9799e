package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/host"
	"github.com/reprise-wasm/reprise/server"
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
	"github.com/reprise-wasm/reprise/tenant"
)

// shutdownGrace is how long a stopping server lets requests in flight (an
// invoke waiting for its result) finish before it cuts them off.
const shutdownGrace = 5 * time.Second

func (a *app) serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the HTTP API to tenants: deploy, invoke, inspect, settle promises",
		UsageText: "reprise serve [--addr HOST:PORT] [--no-auth]",
		Description: commandHelp(`Runs Reprise as a service on the data directory: the HTTP/JSON API under /v1
(functions, invocations, executions, and durable promises compatible with
Resonate's API), /healthz, /readyz and Prometheus /metrics. It listens at
once. Each tenant's store opens on its own, all at once: a tenant is served
as soon as its store is open and its host resumes its unfinished executions
(a request for a tenant still opening waits up to 5s, then gets 503), so
one tenant's long recovery does not hold up the others. On SIGINT or SIGTERM it stops accepting requests,
saves running executions (they resume on the next start) and exits 0.

Every request carries "Authorization: Bearer TOKEN", a token from
`+"`reprise tenant create`"+`. Each tenant has its own store (DATA/tenants/NAME),
compiled code (CACHE/tenants/NAME, CACHE being --cache-dir) and limits, and
sees only its own functions, executions and promises.
Tenants created while the server runs are served at once.

--no-auth serves the data directory's own store (the one the other
commands use) as a single tenant without tokens, for local development; it
refuses any address but loopback, since whoever reaches the port could run
code on this machine.`,
			"reprise tenant create acme   # prints acme's token once",
			"reprise serve --addr 0.0.0.0:8420",
			"curl -X PUT --data-binary @square.wasm -H \"Authorization: Bearer $TOKEN\" localhost:8420/v1/functions/square",
			"curl -d '{\"n\":3}' -H \"Authorization: Bearer $TOKEN\" 'localhost:8420/v1/functions/square/invoke?wait=5s'",
			"reprise serve --no-auth      # local development"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8420", EnvVars: []string{"REPRISE_ADDR"}, Usage: "listen on `HOST:PORT` (port 0 picks a free one)"},
			&cli.BoolFlag{Name: "no-auth", DisableDefaultText: true, Usage: "serve the data directory's store as one tenant without tokens (loopback only)"},
			&cli.DurationFlag{Name: "max-wait", Value: server.DefaultMaxWait, Usage: "cap of an invoke's ?wait"},
			&cli.StringFlag{Name: "disk-reserve", DefaultText: defaultDiskReserve + ", or the global --disk-reserve", Usage: "free `SIZE` the tenants' writes must leave on the data's disk; at it their writes get 507 naming disk_reserve and reads go on"},
			&cli.StringFlag{Name: "memory-budget", Usage: "memory all tenants together may make the server hold, `SIZE` (default 70% of the machine's memory, or of its cgroup limit)"},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve /metrics on `HOST:PORT` (a private address for Prometheus); with tenants this is the only place metrics are served, since they name every tenant (with --no-auth they are also on --addr)"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) (err error) {
			if _, err := argsN(c); err != nil {
				return err
			}
			addr := c.String("addr")
			noAuth := c.Bool("no-auth")
			if noAuth {
				if err := checkLoopback(addr); err != nil {
					return err
				}
			} else if _, _, err := net.SplitHostPort(addr); err != nil {
				return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8420", addr)
			}
			if c.IsSet("disk-reserve") {
				n, err := tenant.ParseSize(c.String("disk-reserve"))
				if err != nil {
					return usageErrorf("--disk-reserve: %v", err)
				}
				a.diskReserve = n
			}
			metricsAddr := c.String("metrics-addr")
			if metricsAddr != "" {
				if _, _, err := net.SplitHostPort(metricsAddr); err != nil {
					return usageErrorf("--metrics-addr %q: want HOST:PORT, e.g. 127.0.0.1:9420", metricsAddr)
				}
			}
			budgets, err := a.newServerBudgets(c.String("memory-budget"))
			if err != nil {
				return err
			}
			return a.serve(c.Context, addr, c.Duration("max-wait"), noAuth, metricsAddr, budgets)
		},
	}
}

// checkLoopback refuses a non-loopback address for a server without
// authentication: whoever reaches the port could run code on this machine.
func checkLoopback(addr string) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8420", addr)
	}
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageErrorf("--addr %q is not a loopback address, and --no-auth serves without tokens: anyone who could reach it could deploy and run code; listen on 127.0.0.1, or drop --no-auth and give clients tokens from `reprise tenant create`", addr)
}

// tenantsFile is where `reprise tenant` keeps tenants.
func (a *app) tenantsFile() string { return filepath.Join(a.dataDir, "tenants.json") }

// serve listens first (so /healthz answers and the port is taken at once),
// then opens the hosts, whose recovery may take a while, and serves until
// ctx ends.
func (a *app) serve(ctx context.Context, addr string, maxWait time.Duration, noAuth bool, metricsAddr string, budgets serverBudgets) (err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Metrics name every tenant: a server with tenants serves them only on
	// a listener of their own.
	api := server.New(nil, server.Config{Logger: a.log, MaxWait: maxWait, MetricsElsewhere: metricsAddr != "" || !noAuth})
	if !noAuth && metricsAddr == "" {
		a.log.Info("metrics are off: give --metrics-addr HOST:PORT to serve /metrics on a private address")
	}
	srv := server.HTTPServer(addr, api, maxWait, a.log)
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	// Tests and scripts read the address from this line (port 0 picks one).
	fmt.Fprintf(a.stdout, "listening on http://%s\n", ln.Addr())
	if metricsAddr != "" {
		mln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.MetricsHandler())
		msrv := server.HTTPServer(metricsAddr, mux, 0, a.log)
		go func() { served <- msrv.Serve(mln) }()
		defer msrv.Close()
		fmt.Fprintf(a.stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}

	if noAuth {
		s, err := a.openHostIn(ctx, budgets)
		if err != nil {
			srv.Close()
			return err
		}
		defer s.closeInto(&err) // after the HTTP server: executions are saved, then the store closes
		api.SetHost(s.h)
	} else {
		f, err := a.openFleet(ctx, budgets)
		if err != nil {
			srv.Close()
			return err
		}
		defer func() {
			if cerr := f.close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		api.SetTenants(f)
	}
	a.log.Info("serving", "addr", ln.Addr().String(), "data", a.dataDir, "auth", !noAuth)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("stopping: unfinished executions are saved and resume on the next start")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // waits that outlast the grace are cut off; their executions go on durably
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// fleet serves tenants: one host and store per tenant, opened at start
// (so every tenant's unfinished executions resume) or when a tenant
// created later makes its first request. Separate stores make isolation
// structural: ids may collide across tenants, and no query can reach
// another tenant's data.
//
// Each tenant's host opens on a goroutine of its own (openSlot), all at
// once at start: a store that takes long to open (recovery after a crash
// of a big one) holds up only its own tenant's requests, and every other
// tenant is served as soon as its own host is ready.
type fleet struct {
	a       *app
	ctx     context.Context
	reg     *tenant.Registry
	budgets serverBudgets // every tenant's budgets are inside these

	mu     sync.Mutex             // guards slots and closed
	slots  map[string]*tenantSlot // by tenant name
	closed bool

	opening sync.WaitGroup // the openSlot goroutines; close waits for them
}

// tenantSlot is a tenant's host, or the attempt to open it: the fleet's
// lock is not held while a store opens (recovery may take a while), and
// requests for the tenant wait for that one attempt.
type tenantSlot struct {
	ready chan struct{} // closed when the attempt has ended
	// th, err and at are set once, under the fleet's lock, just before
	// ready is closed, and read only after it is.
	th  *tenantHost
	err error
	at  time.Time // when it ended
}

type tenantHost struct {
	db      *badgerstore.DB
	h       *host.Host
	closing *atomic.Bool
	budgets []*budget.Budget // its memory and compile budgets, detached from the server's when it closes
}

// reopenAfter is how long a tenant whose store failed to open waits before
// a request tries again, so a broken tenant costs little per request.
const reopenAfter = 10 * time.Second

// openWait bounds how long a request waits for its tenant's host to open
// before it is answered 503: a store recovering a large backlog may take
// longer, and the client had better hear so and retry.
const openWait = 5 * time.Second

// openFleet reads the tenants and starts opening a host for each, inside
// budgets; it does not wait for them.
func (a *app) openFleet(ctx context.Context, budgets serverBudgets) (*fleet, error) {
	reg, err := tenant.Open(a.tenantsFile())
	if err != nil {
		return nil, err
	}
	reg.LogTo(a.log) // a damaged file edited by hand does not stop the server
	f := &fleet{a: a, ctx: ctx, reg: reg, budgets: budgets, slots: map[string]*tenantSlot{}}
	ts, err := reg.List()
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		a.log.Warn("no tenants yet: every request gets 401 until one exists; create one with `reprise tenant create NAME` (or serve with --no-auth for local development)")
	}
	for _, t := range ts {
		// One tenant whose store cannot open (a disk error, a damaged
		// directory) must not keep the others from being served: its
		// requests answer 503 saying why, and it is tried again later.
		f.slot(t)
	}
	return f, nil
}

// Authenticate implements server.Tenants.
func (f *fleet) Authenticate(ctx context.Context, token string) (server.Tenant, server.Host, error) {
	if token == "" {
		return server.Tenant{}, nil, tenant.ErrUnauthorized
	}
	t, err := f.reg.Authenticate(token)
	if err != nil {
		return server.Tenant{}, nil, err
	}
	th, err := f.host(ctx, t)
	if err != nil {
		return server.Tenant{}, nil, err
	}
	l := t.Limits.WithDefaults()
	th.db.SetQuota(l.Storage) // a changed quota applies at once, as the rate does
	return server.Tenant{ID: t.Name, Limits: l}, th.h, nil
}

// Hosts implements server.Tenants.
func (f *fleet) Hosts() map[string]server.Host {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]server.Host, len(f.slots))
	for n, s := range f.slots {
		select {
		case <-s.ready:
			if s.th != nil {
				m[n] = s.th.h
			}
		default:
		}
	}
	return m
}

// errUnservable is the answer for a tenant whose host cannot open now; the
// reason is in the server's log, not in the answer.
var errUnservable = fmt.Errorf("%w: this tenant's data cannot be opened now (the server log says why)", server.ErrUnavailable)

// errOpening is the answer for a tenant whose host is still opening.
var errOpening = fmt.Errorf("%w: this tenant's data is still being opened (recovering after a restart); retry in a few seconds", server.ErrUnavailable)

// host returns t's host, waiting (up to openWait, or ctx) while it opens.
func (f *fleet) host(ctx context.Context, t tenant.Tenant) (*tenantHost, error) {
	s, err := f.slot(t)
	if err != nil {
		return nil, err
	}
	select {
	case <-s.ready:
	default:
		timer := time.NewTimer(openWait)
		defer timer.Stop()
		select {
		case <-s.ready:
		case <-timer.C:
			return nil, errOpening
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", errOpening, ctx.Err())
		}
	}
	if s.err != nil {
		if errors.Is(s.err, store.ErrStorageFull) {
			// A new tenant's store cannot be made on a full disk: the
			// client hears which limit (507), as for any write.
			return nil, s.err
		}
		return nil, errUnservable
	}
	return s.th, nil
}

// slot returns t's slot, starting to open its host when it has none yet,
// or when the last attempt failed more than reopenAfter ago.
func (f *fleet) slot(t tenant.Tenant) (*tenantSlot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: the server is stopping", server.ErrUnavailable)
	}
	if s := f.slots[t.Name]; s != nil {
		select {
		case <-s.ready:
			if s.err == nil || time.Since(s.at) < reopenAfter {
				return s, nil
			}
		default:
			return s, nil // still opening
		}
	}
	s := &tenantSlot{ready: make(chan struct{})}
	f.slots[t.Name] = s
	f.opening.Add(1)
	go f.openSlot(t, s)
	return s, nil
}

// openSlot opens t's host for slot s, and publishes it.
func (f *fleet) openSlot(t tenant.Tenant, s *tenantSlot) {
	defer f.opening.Done()
	th, err := f.open(t)
	// Published under the lock, so close either sees this host or this
	// opener sees the fleet closed and closes it itself.
	f.mu.Lock()
	closed := f.closed
	if closed && err == nil {
		err = errors.New("the server is stopping")
	} else {
		s.th = th
	}
	s.err, s.at = err, time.Now()
	close(s.ready)
	f.mu.Unlock()
	switch {
	case closed && th != nil:
		th.close(context.Background())
	case err != nil:
		f.a.log.Error("tenant not served", "tenant", t.Name, "err", err)
	default:
		f.a.log.Info("tenant served", "tenant", t.Name)
	}
}

// open opens t's store and starts its host. A tenant's limits inside
// executions (memory, step time, concurrency, journal length, payload,
// HTTP) are its host's configuration, read here.
func (f *fleet) open(t tenant.Tenant) (*tenantHost, error) {
	dir := filepath.Join(f.a.dataDir, "tenants", t.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	log := f.a.log.With("tenant", t.Name)
	l := t.Limits.WithDefaults()
	db, err := badgerstore.Open(filepath.Join(dir, "store"), badgerstore.Options{Logger: log, Quota: l.Storage, Reserve: f.a.diskReserve})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: open store: %w", t.Name, err)
	}
	// Always an allowlist, even an empty one, so a refused call names the
	// host that is not in it.
	httpCfg := &host.HTTPConfig{Allow: l.AllowsHTTP, AllowRanges: l.HTTPRanges(), RangesSetting: "the tenant limit " + tenant.LimitHTTPAllowRanges}
	closing := new(atomic.Bool)
	mem, compiles := f.budgets.tenantBudgets(l)
	h, err := host.New(f.ctx, host.Config{
		Store:       db,
		Logger:      slog.New(quietClose{log.Handler(), closing}),
		CacheDir:    tenantCacheDir(f.a.cacheDir, t.Name),
		NewEngine:   f.a.engineOrDefault(),
		HTTP:        httpCfg,
		MemoryLimit: l.Memory,
		StepTimeout: time.Duration(l.StepTime),
		Workers:     l.Concurrency,
		MaxPayload:  int(l.PayloadSize),
		MaxSteps:    l.JournalLength,
		MaxPending:  l.Pending,
		MaxChildren: l.Children,
		MaxDepth:    l.Depth,
		// Parked instances are bounded by the memory budget: past it
		// they go cold.
		Budget:          mem,
		Compiles:        compiles,
		MaxFunctionBody: int(l.FunctionBodySize),
		// Forever is negative: host.KeepForever.
		Retention: time.Duration(l.Retention),
	})
	if err != nil {
		mem.Detach()
		compiles.Detach()
		db.Close()
		return nil, fmt.Errorf("tenant %s: start host: %w", t.Name, err)
	}
	return &tenantHost{db: db, h: h, closing: closing, budgets: []*budget.Budget{mem, compiles}}, nil
}

// tenantCacheDir is where tenant name's compiled code is kept: a directory
// of its own under the cache directory. A cache shared by tenants would
// tell one, by how fast its deploy compiles, that another has deployed the
// same bytes (engines key compiled code by the module's hash); with one
// each, every tenant compiles what it deploys the first time. (The local
// commands, one user's, share DIR/cache itself.)
func tenantCacheDir(cacheDir, name string) string {
	return filepath.Join(cacheDir, "tenants", name)
}

// close stops the host, leaving executions durable, and closes the store.
func (th *tenantHost) close(ctx context.Context) error {
	th.closing.Store(true)
	for _, b := range th.budgets {
		b.Detach()
	}
	return errors.Join(th.h.Close(ctx), th.db.Close())
}

// close stops every tenant's host, leaving executions durable; hosts still
// opening close themselves when they are done, and close waits for them.
func (f *fleet) close() error {
	f.mu.Lock()
	f.closed = true
	var ths = map[string]*tenantHost{}
	for n, s := range f.slots {
		select {
		case <-s.ready:
			if s.th != nil {
				ths[n] = s.th
			}
		default:
		}
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex // guards errs
	for name, th := range ths {
		wg.Go(func() {
			if err := th.close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("tenant %s: %w", name, err))
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	opened := make(chan struct{})
	go func() { f.opening.Wait(); close(opened) }()
	select {
	case <-opened:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("tenants still opening at shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
