package host

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"time"

	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/store"
)

// Config configures a Host. The zero value of every field but Store and
// NewEngine is a sensible default.
type Config struct {
	Store  store.Store
	Logger *slog.Logger

	// NewEngine creates the WebAssembly engine guests run on: wazero
	// (engine/wazeroengine, pure Go) by default, wasmtime
	// (engine/wasmtimeengine) with the wasmtime build tag. The host imports
	// no engine itself.
	NewEngine func(context.Context, engine.Config) (engine.Engine, error)

	// CacheDir keeps compiled guest code on disk so a restart does not
	// recompile; "" keeps it in memory.
	CacheDir string

	// Workers bounds how many guests run (not parked) at once.
	// Default: 4 × GOMAXPROCS.
	Workers int
	// MaxParked bounds instances kept in memory while their execution awaits
	// (hot); past it the longest-parked is evicted and resumes later by replay
	// (cold). Default 256. Negative disables parking: every await that has to
	// wait goes cold.
	MaxParked int
	// MaxModules bounds the modules a host keeps compiled in memory, each
	// with its pool of ready instances (a Go guest: a few MB of code and
	// 4.5 MiB per instance); past it the least recently used is evicted,
	// and compiled again (from the compilation cache) when it is next used.
	// Executions running or parked on an evicted module keep it until they
	// end. Default 64.
	MaxModules int
	// ReadyInstances is how many fresh instances per module are kept
	// instantiated ahead of need, off the latency path. Default 2; negative
	// disables the pool.
	ReadyInstances int

	// MemoryLimit caps each instance's linear memory in bytes. Default 256 MiB.
	MemoryLimit uint64
	// Budget is the memory the host may hold for its tenant (see memory.go
	// for what counts): at it, pools empty, parked instances go cold, runs
	// wait and deploys are refused. Give it the server's budget as parent.
	// Nil: a budget of its own without a limit.
	Budget *budget.Budget
	// Compiles bounds the modules compiled at once (a count budget; give it
	// the server's as parent). Nil: 2.
	Compiles *budget.Budget
	// MaxFunctionBody bounds the size of each function body, in bytes:
	// compiling one function takes up to ~800 bytes of memory per byte of
	// it. Default 256 KiB, 9× the largest in a Go guest (29 KB).
	MaxFunctionBody int
	// StepTimeout bounds how long a guest may run between two blocking host
	// calls (await, await_any) or from its start to its end. Default 10s.
	StepTimeout time.Duration
	// MaxPayload bounds input, result, invoke arguments and http bodies.
	// Default 1 MiB.
	MaxPayload int
	// MaxTableElements bounds the elements of all of a module's tables
	// together, declared and grown: a few bytes of a module can otherwise
	// declare, or table.grow reach, billions (8 bytes each per instance).
	// Default 1,000,000 (8 MB): a Go guest's table has about two elements
	// per KB of code, so even a 64 MiB module fits.
	MaxTableElements int
	// MaxCallStack bounds the call stack a guest's recursion may take, in
	// bytes. Engines keep it outside linear memory (wazero lets it reach
	// 400 MB), so the host counts every call that can recurse against it,
	// by the callee's frame size, and past it the guest traps with a stack
	// overflow. Default 8 MiB; negative disables the count.
	MaxCallStack int
	// MaxSteps bounds the journal of one attempt (and so handles and fan-out).
	// Default 100,000.
	MaxSteps int

	// MaxLogBytes bounds the guest text one execution attempt writes to the
	// host's log: the text of its log calls, and separately its stdout and
	// stderr. Past it one "guest log truncated" note is written and the rest
	// is dropped. Default 64 KiB.
	MaxLogBytes int
	// Work limits (LimitError names them). A refused invocation from
	// outside fails at once; an invoke of a guest past one returns a
	// handle whose promise is rejected saying which, journaled so that a
	// replay sees the same.
	//
	// MaxPending bounds the executions pending in the store (queued,
	// running, waiting): invocations past it are refused. Default 100,000.
	MaxPending int
	// MaxChildren bounds the children one execution attempt invokes.
	// Default 10,000.
	MaxChildren int
	// MaxDepth bounds how deep invocations nest: a top-level execution is
	// at depth 0, its children at 1. Default 32.
	MaxDepth int

	// Retry is the policy for attempts that trap.
	Retry RetryPolicy

	// HTTP grants outbound HTTP. Nil: every http call rejects, saying it is
	// not enabled.
	HTTP *HTTPConfig

	// Lease is how long a claimed task stays ours without a heartbeat.
	// Default 30s.
	Lease time.Duration

	// Retention is how long finished executions and settled promises are
	// kept, journals included, once settled; then they are purged (see
	// retention.go). Default DefaultRetention (7 days); KeepForever (any
	// negative value) purges nothing.
	Retention time.Duration
	// reclaimEvery is the least time between two reclaims of the space
	// purges free; default reclaimEvery. Tests shorten it.
	reclaimEvery time.Duration

	// testImports are extra host functions for tests that must break the
	// rules on purpose (an unjournaled source of nondeterminism).
	testImports []engine.Import
}

// RetryPolicy says how often and how soon a trapping execution is tried again.
type RetryPolicy struct {
	MaxAttempts    int           // including the first; default 3
	InitialBackoff time.Duration // default 100ms, doubling per attempt
	MaxBackoff     time.Duration // default 10s
}

// HTTPConfig grants guests outbound HTTP.
type HTTPConfig struct {
	// Allow reports whether a guest may reach host (host name or IP, without
	// port). Nil allows every host name.
	Allow func(host string) bool
	// AllowRanges are internal address ranges guests may connect to. Every
	// connection is checked on the address actually dialled, after the
	// name is resolved: loopback, private, link-local, CGNAT, unique-local,
	// multicast, unspecified and reserved addresses (and their IPv4-mapped
	// forms) are refused unless a range here holds them, whatever name led
	// to them.
	AllowRanges []netip.Prefix
	// RangesSetting names, in a refused guest's error, what allows a range
	// (e.g. "the tenant limit http_allow_ranges"). Default: a generic phrase.
	RangesSetting string
	// Resolve looks up a host name's addresses; nil uses the system
	// resolver. The addresses it returns are checked, then dialled.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Timeout caps each request. Default 30s.
	Timeout time.Duration
	// MaxInFlight bounds the requests a host sends at once; more wait
	// their turn (durably: their intent is written). Each holds up to a
	// payload's worth of response body, and its value, while in flight, so
	// a guest that starts thousands of calls without awaiting them holds
	// that many bodies only this many at a time. Default 16.
	MaxInFlight int

	client *http.Client // sends the requests through the address guard; made by withDefaults
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if c.MaxParked == 0 {
		c.MaxParked = 256
	}
	if c.MaxModules <= 0 {
		c.MaxModules = 64
	}
	if c.ReadyInstances == 0 {
		c.ReadyInstances = 2
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = 256 << 20
	}
	if c.Budget == nil {
		c.Budget = budget.New("memory_budget", 0, budget.Bytes, nil)
	}
	if c.Compiles == nil {
		c.Compiles = budget.New("compiles", 2, budget.Count, nil)
	}
	if c.MaxFunctionBody <= 0 {
		c.MaxFunctionBody = 256 << 10
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = 10 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1 << 20
	}
	if c.MaxTableElements <= 0 {
		c.MaxTableElements = 1_000_000
	}
	if c.MaxCallStack == 0 {
		c.MaxCallStack = 8 << 20
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = 100_000
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = 64 << 10
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 100_000
	}
	if c.MaxChildren <= 0 {
		c.MaxChildren = 10_000
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = 32
	}
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = 3
	}
	if c.Retry.InitialBackoff <= 0 {
		c.Retry.InitialBackoff = 100 * time.Millisecond
	}
	if c.Retry.MaxBackoff <= 0 {
		c.Retry.MaxBackoff = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	} else if c.Retention < 0 {
		c.Retention = KeepForever
	}
	if c.reclaimEvery <= 0 {
		c.reclaimEvery = reclaimEvery
	}
	if c.HTTP != nil {
		h := *c.HTTP
		if h.Timeout <= 0 {
			h.Timeout = 30 * time.Second
		}
		if h.MaxInFlight <= 0 {
			h.MaxInFlight = 16
		}
		h.client = newHTTPClient(&h)
		c.HTTP = &h
	}
	return c
}

// backoff is the wait before attempt n+1 after attempt n failed.
func (p RetryPolicy) backoff(n uint32) time.Duration {
	d := p.InitialBackoff
	for i := uint32(1); i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}
