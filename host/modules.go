package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/reprise-wasm/reprise/engine"
)

// moduleState is where a compiled module is in its life in the cache.
//
// Valid transitions (moduleTransitions):
//
//	compiling → cached    compiled: callers get it, its pool is filled
//	compiling → failed    the compile failed: out of the cache, err says why
//	cached    → evicted   least recently used past Config.MaxModules, or the host closes: out of the cache, pool drained
//	evicted   → closed    its last user (an instance, or a caller about to instantiate) is gone: its code is closed
//
// Every change goes through module.setState, under module.mu.
type moduleState uint8

const (
	moduleCompiling moduleState = iota // in the cache, compiling: callers wait for ready
	moduleFailed                       // never compiled: err is why; a later use tries again
	moduleCached                       // compiled and in the cache: its pool is kept filled
	moduleEvicted                      // out of the cache; its code lives on while users remain, its pool is not refilled
	moduleClosed                       // its code is closed: nothing can instantiate it
	numModuleStates
)

var moduleStateNames = [numModuleStates]string{"compiling", "failed", "cached", "evicted", "closed"}

func (s moduleState) String() string {
	if s < numModuleStates {
		return moduleStateNames[s]
	}
	return fmt.Sprintf("moduleState(%d)", uint8(s))
}

var moduleTransitions = [numModuleStates]uint8{
	moduleCompiling: 1<<moduleCached | 1<<moduleFailed,
	moduleCached:    1 << moduleEvicted,
	moduleEvicted:   1 << moduleClosed,
}

// module is a guest compiled once, with a pool of fresh instances.
//
// What uses a module is counted in users: every live instance of it
// (pooled, running, or parked while its execution awaits) and every caller
// that Host.module returned it to and that has not instantiated it yet. An
// execution parked on an evicted module resumes on its own instance, which
// still holds the code; a later use compiles the module again (from the
// compilation cache: cheap).
type module struct {
	hash  string
	cache *moduleCache
	ready chan struct{}  // closed when compiling is over: mod or err is set
	mod   engine.Module  // once ready, unless err
	guard string         // once ready: the innermost frame of a call-depth overflow (see compile)
	err   error          // once ready: why the compile failed
	pool  chan *instance // fresh instances, bound to no execution yet
	used  int64          // guarded by cache.mu: the cache's clock at the last use, for eviction

	mu      sync.Mutex // guards state, users and filling
	state   moduleState
	users   int
	filling bool // a goroutine is filling the pool
}

// setState moves m to state to; m.mu is held. An invalid transition is a
// bug of the host: logged and counted, and made anyway.
func (m *module) setState(to moduleState) {
	if m.state >= numModuleStates || moduleTransitions[m.state]&(1<<to) == 0 {
		m.cache.invalid.Add(1)
		m.cache.log.Error("host bug: invalid module state transition", "module", m.hash, "from", m.state, "to", to)
	}
	m.state = to
}

// instance is one instance and the sandbox its WASI sees.
type instance struct {
	inst  engine.Instance
	sys   *sandbox
	guard string // its module's (see module.guard)
}

// use is an engine instance that holds a reference to its module until it
// is closed.
type use struct {
	engine.Instance
	m    *module
	once sync.Once
}

func (u *use) Close(ctx context.Context) error {
	err := u.Instance.Close(ctx)
	u.once.Do(func() { u.m.unref(ctx) })
	return err
}

// ref adds a user of m; false when m's code is closed already.
func (m *module) ref() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == moduleClosed {
		return false
	}
	m.users++
	return true
}

// unref drops a user of m, closing m's code when it was the last user of
// an evicted module.
func (m *module) unref(ctx context.Context) {
	m.mu.Lock()
	m.users--
	last := m.users == 0 && m.state == moduleEvicted
	if last {
		m.setState(moduleClosed)
	}
	m.mu.Unlock()
	if last {
		m.mod.Close(ctx)
	}
}

// evict takes m out of use: no more pool fills, the pool drained, and its
// code closed now or when its last user is gone. The cache must have
// removed it already.
func (m *module) evict(ctx context.Context) {
	m.mu.Lock()
	m.setState(moduleEvicted)
	last := m.users == 0
	if last {
		m.setState(moduleClosed)
	}
	m.mu.Unlock()
	if last {
		m.mod.Close(ctx)
	}
	for { // what a fill put in before it saw the eviction
		select {
		case in := <-m.pool:
			in.inst.Close(ctx)
		default:
			return
		}
	}
}

// moduleCache is the modules a host keeps compiled: at most
// Config.MaxModules, the least recently used evicted past that.
type moduleCache struct {
	log     interface{ Error(string, ...any) }
	invalid atomic.Uint64 // invalid module state transitions: a bug of the host

	mu     sync.Mutex         // guards byHash, clock, and every module's used
	byHash map[string]*module // compiling and cached modules; nil once the host closed
	clock  int64              // orders the uses of modules, for eviction
}

// errModuleClosed is a module closed between its lookup and its use.
var errModuleClosed = errors.New("module closed")

// module returns module hash, compiling it once however many callers ask
// at the same time, and checks that it exports entry. A module returned
// without an error must be instantiated once by the caller (takeInstance
// or instantiate): it holds a reference to the module that the instance
// takes over, so the module cannot be closed before. (wazero shares the
// compiled code of identical bytes between compilations and counts them,
// so a module compiled again while an evicted copy still runs is safe to
// close after it.)
func (h *Host) module(ctx context.Context, hash, entry string, wasm func() ([]byte, error)) (*module, error) {
	for {
		m, err := h.moduleOnce(ctx, hash, entry, wasm)
		if !errors.Is(err, errModuleClosed) {
			return m, err
		}
		// Evicted and closed between its lookup and now: look again,
		// which compiles it again.
	}
}

func (h *Host) moduleOnce(ctx context.Context, hash, entry string, wasm func() ([]byte, error)) (*module, error) {
	c := &h.modules
	c.mu.Lock()
	if c.byHash == nil {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	m, ok := c.byHash[hash]
	if !ok {
		m = &module{hash: hash, cache: c, ready: make(chan struct{}), pool: make(chan *instance, max(h.cfg.ReadyInstances, 0))}
		c.byHash[hash] = m
	}
	c.clock++
	m.used = c.clock
	c.mu.Unlock()
	if ok {
		select {
		case <-m.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if m.err != nil {
			return nil, m.err
		}
		if err := validateEntry(m.mod, entry); err != nil {
			return m, err
		}
		if !m.ref() {
			return nil, errModuleClosed
		}
		return m, nil
	}
	// The compile is shared: it runs on the host's context, not this
	// caller's, and checks nothing caller-specific.
	b, err := wasm()
	if err == nil {
		m.mod, m.guard, err = h.compile(h.ctx, b)
	} else {
		err = fmt.Errorf("module %s: %w", hash, err)
	}
	m.err = err
	m.mu.Lock()
	if err != nil {
		m.setState(moduleFailed)
	} else {
		m.setState(moduleCached)
		m.users++ // this caller's, before anyone can evict it
	}
	m.mu.Unlock()
	close(m.ready)
	if err != nil {
		c.mu.Lock()
		if c.byHash != nil && c.byHash[hash] == m {
			delete(c.byHash, hash) // let a later call try again
		}
		c.mu.Unlock()
		return nil, err
	}
	h.evictModules(m)
	if err := validateEntry(m.mod, entry); err != nil {
		m.unref(ctx)
		return m, err
	}
	return m, nil
}

// evictModules evicts the least recently used compiled modules past
// Config.MaxModules. fresh, just compiled, counts as just used.
func (h *Host) evictModules(fresh *module) {
	c := &h.modules
	var evict []*module
	c.mu.Lock()
	c.clock++
	fresh.used = c.clock
	for n := len(c.byHash); n > h.cfg.MaxModules; n-- {
		var oldest *module
		for _, m := range c.byHash {
			if !m.compiled() {
				continue // compiling: it is about to be used
			}
			if oldest == nil || m.used < oldest.used {
				oldest = m
			}
		}
		if oldest == nil {
			break
		}
		delete(c.byHash, oldest.hash)
		evict = append(evict, oldest)
	}
	c.mu.Unlock()
	for _, m := range evict {
		h.log.Debug("module evicted", "module", m.hash)
		m.evict(h.ctx)
	}
}

// compiled reports whether m's compile is over and succeeded.
func (m *module) compiled() bool {
	select {
	case <-m.ready:
		return m.err == nil
	default:
		return false
	}
}

// closeModules evicts every module as the host closes: every run has
// ended, so their code is closed once their pools are drained.
func (h *Host) closeModules(ctx context.Context) error {
	c := &h.modules
	c.mu.Lock()
	ms := c.byHash
	c.byHash = nil // no new compiles from here on
	c.mu.Unlock()
	for _, m := range ms {
		select {
		case <-m.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		if m.err == nil {
			m.evict(context.Background())
		}
	}
	return nil
}

// instantiate makes a fresh instance; its guest runtime initializes with the
// fixed boot seed and clock, so that part is the same on every replay. The
// instance takes over the caller's reference to m (see Host.module); on an
// error the reference is dropped.
func (h *Host) instantiate(ctx context.Context, m *module) (*instance, error) {
	// A guest's _initialize gets the same budget as a step: one that never
	// returns must not hold a worker or a deploy for ever.
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StepTimeout)
	defer cancel()
	sys := newSandbox()
	inst, err := m.mod.Instantiate(ctx, sys)
	if err != nil {
		m.unref(ctx)
		return nil, fmt.Errorf("instantiate module %s: %w", m.hash[:12], err)
	}
	return &instance{inst: &use{Instance: inst, m: m}, sys: sys, guard: m.guard}, nil
}

// takeInstance returns a fresh instance, from the pool when one is ready,
// and starts refilling the pool in the background. Like instantiate, it
// takes over the caller's reference to m.
func (h *Host) takeInstance(ctx context.Context, m *module) (*instance, error) {
	var in *instance
	select {
	case in = <-m.pool:
	default:
	}
	h.refill(m)
	if in != nil {
		m.unref(ctx) // the pooled instance holds its own
		return in, nil
	}
	return h.instantiate(ctx, m)
}

// offer puts a fresh instance into m's pool; false when the pool is full
// or m is no longer cached (its pool was drained once, for good).
func (m *module) offer(in *instance) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != moduleCached {
		return false
	}
	select {
	case m.pool <- in:
		return true
	default:
		return false
	}
}

// refill fills m's pool on a goroutine of the host's, unless one is at it.
func (h *Host) refill(m *module) {
	if cap(m.pool) == 0 {
		return
	}
	m.mu.Lock()
	if m.filling || m.state != moduleCached {
		m.mu.Unlock()
		return
	}
	m.filling = true
	m.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() { m.mu.Lock(); m.filling = false; m.mu.Unlock() }()
		for len(m.pool) < cap(m.pool) && h.ctx.Err() == nil && m.ref() {
			in, err := h.instantiate(h.ctx, m)
			if err != nil {
				if h.ctx.Err() == nil { // not just the host closing
					h.log.Warn("pre-instantiate failed", "module", m.hash, "err", err)
				}
				return
			}
			if !m.offer(in) {
				in.inst.Close(h.ctx)
				return
			}
		}
	}()
}
