package host

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reprise-wasm/reprise/abi"
	"github.com/reprise-wasm/reprise/budget"
	"github.com/reprise-wasm/reprise/engine"
	"github.com/reprise-wasm/reprise/names"
	"github.com/reprise-wasm/reprise/store"
)

// Errors callers branch on. They are wrapped with details.
var (
	ErrUnknownFunction = errors.New("unknown function")
	ErrTooLarge        = errors.New("payload too large")
	ErrBadName         = names.ErrInvalid // a function name or execution id names.Check refuses
	ErrClosed          = errors.New("host closed")
)

// Host runs durable functions on one store. See the package doc for its
// goroutines and locks.
type Host struct {
	cfg    Config
	store  store.Store
	log    *slog.Logger
	engine engine.Engine
	owner  string // this process's worker identity for task leases

	importNames  map[string]bool // abi.Module imports offered; read-only after New
	extraModules map[string]bool // test-only import modules; read-only after New

	ctx    context.Context // canceled by Close with errShutdown: stops loops and guests
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // every goroutine the host starts; Close waits for them

	slots chan struct{} // running guests: a buffered slot each, at most Config.Workers
	// backlog is set while tasks may wait in the store for a running slot
	// (deferred here, or more ready than the last claim took): a slot
	// given back then wakes the task loop.
	backlog atomic.Bool
	deferMu sync.Mutex // guards deferred
	// deferred are tasks claimed here that found no free slot and no room
	// in queue, to hand back to the store (Host.dispatch).
	deferred []string
	queueMu  sync.Mutex // guards queue, queueTasks and queueBytes; taken to give a slot back
	// queue is what waits here for a running slot, in order of arrival:
	// runs waiting to resume, and claimed tasks (at most queueMax, with at
	// most queueMaxBytes of fresh inputs). A slot given back goes to the
	// first (Host.giveSlot).
	queue      []queued
	queueTasks int
	queueBytes int
	recovered  chan struct{} // closed once the first claim of tasks is dispatched
	kicks      struct{ tasks, timers chan struct{} }
	timers     timerWake // when the timer loop passes next; locked on its own

	modules moduleCache // compiled modules and their pools; locked on its own

	funcMu sync.Mutex                // guards funcs
	funcs  map[string]cachedFunction // name → latest version seen

	execMu     sync.Mutex         // guards active, activePeak, the fields of every active in it, and parked
	active     map[string]*active // executions driven by a goroutine here, by id
	activePeak int                // the most active has held since it was made (see shrunk)
	parked     list.List          // of *active parked in memory, longest-parked first: the eviction order
	execs      execCounts         // executions by state; atomic, written under execMu

	watchMu      sync.Mutex                       // guards watchers and watchersPeak
	watchers     map[string]map[*watcher]struct{} // promise id → waiting parties
	watchersPeak int

	httpMu    sync.Mutex      // guards inflight
	inflight  map[string]bool // http promise ids whose request this process is sending
	httpSlots chan struct{}   // requests being sent: a buffered slot each, at most HTTPConfig.MaxInFlight

	stats hostStats
}

// fresh carries what the host just wrote for a new execution, so running it
// need not read it back.
type fresh struct {
	exec  store.Execution
	input []byte
	depth int // the execution's TagDepth
	// held, for an invocation through InvokeWait, is its start, not yet
	// written: the run writes it with its first durable step.
	held *heldStart
}

// New starts a host on cfg.Store: it claims every unfinished execution the
// store holds (recovery), then serves timers and tasks until Close.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Store == nil {
		return nil, errors.New("host: Config.Store is required")
	}
	if cfg.NewEngine == nil {
		return nil, errors.New("host: Config.NewEngine is required; the default engine is wazero (engine/wazeroengine.New)")
	}
	cfg = cfg.withDefaults()
	if need, have := int64(cfg.MemoryLimit)+instanceAllowance+flushBytes+2*int64(cfg.MaxPayload), cfg.Budget.Limit(); need > have {
		return nil, fmt.Errorf("host: one running instance needs %s of the memory budget (its memory cap %s, its overhead and buffers), more than the %s of limit %s: raise the budget or lower the memory cap",
			budget.Size(need), budget.Size(int64(cfg.MemoryLimit)), budget.Size(have), cfg.Budget.Name())
	}
	var id [8]byte
	rand.Read(id[:])
	h := &Host{
		cfg:          cfg,
		store:        cfg.Store,
		log:          cfg.Logger,
		owner:        hex.EncodeToString(id[:]),
		importNames:  map[string]bool{},
		extraModules: map[string]bool{},
		slots:        make(chan struct{}, cfg.Workers),
		funcs:        map[string]cachedFunction{},
		active:       map[string]*active{},
		watchers:     map[string]map[*watcher]struct{}{},
		inflight:     map[string]bool{},
		recovered:    make(chan struct{}),
		timers:       newTimerWake(),
	}
	if cfg.HTTP != nil {
		h.httpSlots = make(chan struct{}, cfg.HTTP.MaxInFlight)
	}
	h.modules.byHash = map[string]*module{}
	h.modules.log = cfg.Logger
	h.kicks.tasks = make(chan struct{}, 1)
	h.kicks.timers = make(chan struct{}, 1)
	imps := imports()
	for _, imp := range imps {
		h.importNames[imp.Name] = true
	}
	for _, imp := range cfg.testImports {
		h.extraModules[imp.Module] = true
	}
	pages := memoryLimitPages(cfg.MemoryLimit)
	eng, err := cfg.NewEngine(ctx, engine.Config{
		Imports:          append(imps, cfg.testImports...),
		CacheDir:         cfg.CacheDir,
		MemoryLimitPages: pages,
	})
	if err != nil {
		return nil, err
	}
	h.engine = eng
	h.ctx, h.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	cfg.Budget.OnPressure(h.pressure)
	err = h.recoverHTTPIntents(ctx)
	switch {
	case err == nil:
		h.startLoops()
	case errors.Is(err, store.ErrStorageFull):
		// A store that takes no writes (a full disk) still serves reads:
		// the host serves them, and recovers the requests, then resumes
		// executions, once the store takes writes again.
		h.log.Warn("the store takes no writes: outbound requests an earlier process left are recovered, and executions resumed, once it does", "err", err)
		h.wg.Add(1)
		go h.recoverLater()
	default:
		h.cfg.Budget.OnPressure(nil)
		h.cancel(err)
		eng.Close(ctx)
		return nil, err
	}
	return h, nil
}

// startLoops starts the background loops, once recovery is done.
func (h *Host) startLoops() {
	h.loop(h.taskLoop)
	h.loop(h.timerLoop)
	h.loop(h.heartbeatLoop)
	h.loop(h.watchdogLoop)
	if h.cfg.Retention > 0 {
		h.loop(h.retentionLoop)
	}
}

// recoverLater retries recoverHTTPIntents until the store takes writes,
// then starts the loops; it ends early when the host closes.
func (h *Host) recoverLater() {
	defer h.wg.Done()
	for wait := recoverRetry; h.wait(wait, nil); wait = min(2*wait, recoverRetryMax) {
		err := h.recoverHTTPIntents(h.ctx)
		if err == nil {
			h.log.Info("the store takes writes again: recovery done, executions resume")
			h.startLoops()
			return
		}
		if !errors.Is(err, store.ErrStorageFull) && h.ctx.Err() == nil {
			h.log.Error("recover outbound requests; retrying", "err", err, "retry_in", wait)
		}
	}
}

// How soon recoverLater tries again, doubling to the most.
const (
	recoverRetry    = 100 * time.Millisecond
	recoverRetryMax = 5 * time.Second
)

// Close stops the host: running guests are stopped and their pending journal
// entries written, tasks are released so the next start resumes them, and
// executions parked on promises are suspended in the store, so the next
// start replays them only once one of those promises settles.
// It does not close the store.
func (h *Host) Close(ctx context.Context) error {
	h.cancel(errShutdown)
	h.cfg.Budget.OnPressure(nil)
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Tasks that waited for a slot are ready for the next start at once,
	// not only once this host's lease lapses.
	for _, q := range h.takeQueuedTasks() {
		h.deferTask(q.id)
	}
	h.releaseDeferred(ctx)
	if err := h.closeModules(ctx); err != nil {
		return err
	}
	return h.engine.Close(context.Background())
}

func (h *Host) nowMs() int64 { return time.Now().UnixMilli() }

func (h *Host) leaseUntil() int64 { return time.Now().Add(h.cfg.Lease).UnixMilli() }

// Deploy stores wasm and binds name to it as a new version. entry "" means
// abi.DefaultEntry. The module is compiled and validated first, so a bad one
// is refused with the reason and nothing is stored.
func (h *Host) Deploy(ctx context.Context, name string, wasm []byte, entry string) (store.Function, error) {
	if err := names.Check(name); err != nil {
		return store.Function{}, err
	}
	if entry == "" {
		entry = abi.DefaultEntry
	}
	hash := hashModule(wasm)
	m, err := h.loadCompiled(ctx, hash, wasm, entry)
	if err != nil {
		return store.Function{}, err
	}
	// One instantiation proves the module links (import signatures, memory
	// within the cap) and warms the pool.
	in, err := h.instantiateIdle(ctx, m, h.cfg.Budget.TryReserve)
	if errors.Is(err, budget.ErrExceeded) {
		return store.Function{}, err
	}
	if err != nil {
		return store.Function{}, fmt.Errorf("%w: %v", ErrInvalidModule, err)
	}
	if !m.offer(in) {
		h.closeInstance(ctx, in)
	}
	if err := h.store.PutModule(ctx, hash, wasm); err != nil {
		return store.Function{}, err
	}
	f, err := h.store.PutFunction(ctx, name, hash, entry)
	if err != nil {
		return store.Function{}, err
	}
	h.funcMu.Lock()
	h.funcs[name] = cachedFunction{f, time.Now()}
	h.funcMu.Unlock()
	return f, nil
}

// loadCompiled is loadModule for bytes in hand (at deploy), validating entry
// even when the module is already compiled for another function.
func (h *Host) loadCompiled(ctx context.Context, hash string, wasm []byte, entry string) (*module, error) {
	return h.module(ctx, hash, entry, func() ([]byte, error) { return wasm, nil }, false)
}

// cachedFunction is a function as last read, and when.
type cachedFunction struct {
	store.Function
	read time.Time
}

// functionTTL bounds how stale the function cache may be: a version deployed
// through this host is seen at once, one deployed by another node within it.
const functionTTL = 2 * time.Second

// function returns the latest version of name.
func (h *Host) function(ctx context.Context, name string) (store.Function, error) {
	h.funcMu.Lock()
	c, ok := h.funcs[name]
	h.funcMu.Unlock()
	if ok && time.Since(c.read) < functionTTL {
		return c.Function, nil
	}
	f, err := h.store.GetFunction(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return f, fmt.Errorf("%w %q: no function of that name is deployed; deploy it first", ErrUnknownFunction, name)
	}
	if err != nil {
		return f, err
	}
	h.funcMu.Lock()
	h.funcs[name] = cachedFunction{f, time.Now()}
	h.funcMu.Unlock()
	return f, nil
}

// Functions lists the latest version of every deployed function.
func (h *Host) Functions(ctx context.Context) ([]store.Function, error) {
	return h.store.ListFunctions(ctx)
}

// InvokeOptions tune Invoke.
type InvokeOptions struct {
	// ID is the execution's id; invoking the same ID again returns the same
	// execution instead of running the function twice. "" makes a new one.
	ID string
	// Timeout rejects the execution as timed out if it has not finished by
	// then; 0 means none.
	Timeout time.Duration
}

// Invoke starts an execution of the latest version of function name with
// input, and returns its id. The start is durable when Invoke returns.
func (h *Host) Invoke(ctx context.Context, name string, input []byte, opts InvokeOptions) (string, error) {
	s, err := h.newStart(ctx, name, input, opts)
	if err != nil {
		return "", err
	}
	if _, err := h.start(ctx, s); err != nil {
		return "", err
	}
	return s.Promise.ID, nil
}

// newStart checks an invocation and makes its start.
func (h *Host) newStart(ctx context.Context, name string, input []byte, opts InvokeOptions) (store.Start, error) {
	if h.ctx.Err() != nil {
		return store.Start{}, ErrClosed
	}
	if len(input) > h.cfg.MaxPayload {
		return store.Start{}, fmt.Errorf("%w: input is %d bytes, the limit is %d", ErrTooLarge, len(input), h.cfg.MaxPayload)
	}
	f, err := h.function(ctx, name)
	if err != nil {
		return store.Start{}, err
	}
	id := opts.ID
	if id == "" {
		id = names.NewID()
	} else if err := names.Check(id); err != nil {
		return store.Start{}, fmt.Errorf("execution id: %w", err)
	}
	if err := h.checkPending(ctx, 0); err != nil {
		// Invoking an id that exists starts nothing: it finds that
		// execution, and waits for it with InvokeWait.
		if _, gerr := h.store.GetPromise(ctx, id); opts.ID == "" || gerr != nil {
			return store.Start{}, err
		}
	}
	now := time.Now()
	timeout := store.NoTimeout
	if opts.Timeout > 0 {
		timeout = now.Add(opts.Timeout).UnixMilli()
	}
	return store.Start{
		Promise: store.Create{
			ID: id, Timeout: timeout, Param: store.Value{Data: input},
			// Invoking the same id with the same function again is the same
			// execution; with another function it is a conflict.
			IdempotencyKey: "invoke:" + f.Name,
			Tags:           map[string]string{TagFunction: f.Name},
		},
		Execution: store.Execution{ID: id, Function: f.Name, Module: f.Module, Entry: f.Entry, Attempt: 1, AttemptStart: now.UnixNano()},
	}, nil
}

// start writes s durably and runs the execution if it is new. It returns
// the execution's promise: the new one, or the one that existed.
func (h *Host) start(ctx context.Context, s store.Start) (store.Promise, error) {
	p, created, err := h.store.StartExecution(ctx, s, h.owner, h.leaseUntil())
	if err != nil {
		return p, conflictError(s.Promise.ID, err)
	}
	if created {
		if s.Promise.Timeout != store.NoTimeout {
			h.timerAdded(s.Promise.Timeout)
		}
		h.dispatch(s.Promise.ID, &fresh{exec: s.Execution, input: p.Param.Data})
	}
	return p, nil
}

func conflictError(id string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("execution id %q is already used by another function or promise: %w", id, err)
	}
	return err
}

// Tags the host puts on promises it creates: TagFunction on every
// execution's promise (its function's name), TagKind on the promises of
// sleep, promise and http calls ("sleep", "promise", "http").
const (
	TagFunction = "reprise:function"
	TagKind     = "reprise:kind"
)

// Await waits until promise id settles (or ctx ends) and returns it.
func (h *Host) Await(ctx context.Context, id string) (store.Promise, error) {
	w := h.watch(id)
	defer h.unwatch(w)
	for {
		p, err := h.store.GetPromise(ctx, id)
		if err != nil || p.State.Settled() {
			return p, err
		}
		// Reads past the timeout show it timed out, timer fired or not; a
		// settlement by another node is seen on the periodic re-read.
		wait := min(time.Until(time.UnixMilli(p.Timeout)), awaitPoll)
		select {
		case s := <-w.ch:
			// Sent once the settlement is durable, and a settled promise
			// never changes: no need to read it back.
			if s.ID == id && s.State.Settled() {
				return s, nil
			}
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// awaitPoll bounds how long Await trusts in-process notification alone.
const awaitPoll = time.Second

// Get returns promise id (every execution is one), as a read now shows it.
// An id it does not hold is store.ErrNotFound, saying what retention removes.
func (h *Host) Get(ctx context.Context, id string) (store.Promise, error) {
	p, err := h.store.GetPromise(ctx, id)
	return p, h.notFound(err)
}

// Execution returns the execution record of id.
func (h *Host) Execution(ctx context.Context, id string) (store.Execution, error) {
	e, err := h.store.GetExecution(ctx, id)
	return e, h.notFound(err)
}

// Journal returns an execution attempt's journal; attempt 0 means the
// current one. An unknown execution, or an attempt it has not made, is
// store.ErrNotFound.
func (h *Host) Journal(ctx context.Context, id string, attempt uint32) ([]store.Entry, error) {
	e, err := h.store.GetExecution(ctx, id)
	if err != nil {
		return nil, h.notFound(err)
	}
	if attempt == 0 {
		attempt = e.Attempt
	} else if attempt > e.Attempt {
		return nil, fmt.Errorf("execution %s has made %d attempt(s), not %d: %w", id, e.Attempt, attempt, store.ErrNotFound)
	}
	return h.store.ReadJournal(ctx, id, attempt)
}

// Settle settles a promise from outside (an approval, a cancellation) and
// wakes whatever awaits it. Settling an execution's promise ends the
// execution: a canceled one is stopped where it runs.
func (h *Host) Settle(ctx context.Context, s store.Settle) (store.SettleResult, error) {
	if len(s.Value.Data) > h.cfg.MaxPayload {
		return store.SettleResult{}, fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrTooLarge, len(s.Value.Data), h.cfg.MaxPayload)
	}
	res, err := h.store.SettlePromise(ctx, s, h.owner, h.leaseUntil())
	if errors.Is(err, store.ErrForbidden) {
		// Refused, but the store may just have written the promise's timeout:
		// whoever waits on it must hear of it (the timer will not fire now).
		if p, gerr := h.store.GetPromise(ctx, s.ID); gerr == nil && p.State.Settled() {
			h.settled(p)
		}
	}
	if err != nil {
		return res, err
	}
	// Notify even when nothing changed: an idempotent repeat may be the first
	// sign here of a settlement written by a timeout or by another node.
	h.settled(res.Promise)
	h.dispatchAll(res.Claimed)
	return res, nil
}

// Cancel rejects execution or promise id as canceled and stops its guest.
func (h *Host) Cancel(ctx context.Context, id string) (store.Promise, error) {
	res, err := h.Settle(ctx, store.Settle{ID: id, State: store.RejectedCanceled,
		Value: store.Value{Data: errorValue("canceled", "")}})
	return res.Promise, err
}

// CreatePromise creates a promise someone outside will settle. Its tags
// and idempotency key may not be the host's reserved ones (ErrReserved).
func (h *Host) CreatePromise(ctx context.Context, c store.Create) (store.Promise, bool, error) {
	if err := CheckReserved(c); err != nil {
		return store.Promise{}, false, err
	}
	if len(c.Param.Data) > h.cfg.MaxPayload {
		return store.Promise{}, false, fmt.Errorf("%w: param is %d bytes, the limit is %d", ErrTooLarge, len(c.Param.Data), h.cfg.MaxPayload)
	}
	p, created, err := h.store.CreatePromise(ctx, c)
	if err == nil && created && c.Timeout != store.NoTimeout {
		h.timerAdded(c.Timeout)
	}
	return p, created, err
}

// Search lists promises (executions among them) matching q, a page at a time.
func (h *Host) Search(ctx context.Context, q store.Query) ([]store.Promise, string, error) {
	return h.store.SearchPromises(ctx, q)
}

// WaitIdle returns once nothing here can make progress without the outside
// world: every execution this host drives is waiting (parked or suspended)
// and no outbound request is in flight. A command-line tool uses it to drive
// the work it started as far as it can go, then exit.
func (h *Host) WaitIdle(ctx context.Context) error {
	select {
	case <-h.recovered:
	case <-ctx.Done():
		return ctx.Err()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for idle := 0; idle < 3; { // idle on a few ticks in a row: a wake may be in transit
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.ctx.Done():
			return ErrClosed
		case <-t.C:
		}
		h.execMu.Lock()
		busy := len(h.active) > h.parked.Len()
		h.execMu.Unlock()
		busy = busy || h.backlog.Load() || h.queueRoom() < queueMax
		h.httpMu.Lock()
		busy = busy || len(h.inflight) > 0
		h.httpMu.Unlock()
		if busy {
			idle = 0
		} else {
			idle++
		}
	}
	return nil
}
