package host_test

// Review helpers: a tiny WebAssembly assembler for hand-made guests (no Go
// toolchain build, exact control over the host calls a guest makes), a store
// wrapper with hooks to inject latency and failures, and a host opener that
// uses it.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/reprise-wasm/reprise/host"
	wt "github.com/reprise-wasm/reprise/internal/wasmtest"
	"github.com/reprise-wasm/reprise/store"
)

const (
	vI32 = wt.I32
	vI64 = wt.I64
)

type wdata = wt.Data

// wmod is a module importing reprise_v1 functions, exporting memory and
// void functions: a thin layer over the shared assembler.
type wmod struct {
	pages uint32
	data  []wdata
	m     wt.Module
}

// imp adds an import of reprise_v1.name and returns its function index.
// All imports must be added before any function.
func (m *wmod) imp(name string, params, results []byte) byte {
	return byte(m.m.Import("reprise_v1", name, params, results))
}

func (m *wmod) fn(export string, locals []byte, code []byte) { m.m.Func(export, locals, code) }

func (m *wmod) bytes() []byte {
	mod := m.m
	mod.Memory = int(max(m.pages, 1))
	mod.Data = m.data
	return mod.Bytes()
}

func i32const(v uint32) []byte                       { return wt.I32Const(int32(v)) }
func i64const(v int64) []byte                        { return wt.I64Const(v) }
func cat(parts ...[]byte) []byte                     { return wt.Cat(parts...) }
func call(idx byte) []byte                           { return wt.Call(uint32(idx)) }
func countdown(l byte, n uint32, body []byte) []byte { return wt.Countdown(l, n, body) }

// busy spins n iterations with local l, no host calls.
func busy(l byte, n uint32) []byte { return countdown(l, n, nil) }

var (
	tI32I32toI32 = [2][]byte{{vI32, vI32}, {vI32}}
	tI32toI32    = [2][]byte{{vI32}, {vI32}}
	tI64toI32    = [2][]byte{{vI64}, {vI32}}
	tToI64       = [2][]byte{nil, {vI64}}
	tI32x4toI32  = [2][]byte{{vI32, vI32, vI32, vI32}, {vI32}}
)

const reqOff = 1024

// guestHTTPAfterSteps makes n journaled now() calls, then http(req), then
// awaits it and returns (resolving empty).
func guestHTTPAfterSteps(n uint32, req string) []byte {
	m := &wmod{}
	now := m.imp("now", tToI64[0], tToI64[1])
	httpc := m.imp("http", tI32I32toI32[0], tI32I32toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	var code []byte
	if n > 0 {
		code = countdown(0, n, cat(call(now), []byte{0x1a}))
	}
	code = cat(code, i32const(reqOff), i32const(uint32(len(req))), call(httpc), call(await), []byte{0x1a})
	m.fn("run", []byte{vI32}, code)
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte(req)})
	return m.bytes()
}

// guestHTTPThenTrap starts http(req) and traps without awaiting it.
func guestHTTPThenTrap(req string) []byte {
	m := &wmod{}
	httpc := m.imp("http", tI32I32toI32[0], tI32I32toI32[1])
	m.fn("run", nil, cat(i32const(reqOff), i32const(uint32(len(req))), call(httpc), []byte{0x1a, 0x00}))
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte(req)})
	return m.bytes()
}

// guestPromiseAwait creates promise(timeoutNs), awaits it, returns.
func guestPromiseAwait(timeoutNs int64) []byte {
	m := &wmod{}
	p := m.imp("promise", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	m.fn("run", nil, cat(i64const(timeoutNs), call(p), call(await), []byte{0x1a}))
	return m.bytes()
}

// guestSleepZeroForever loops: await(sleep(0)) forever.
func guestSleepZeroForever() []byte {
	m := &wmod{}
	s := m.imp("sleep", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	m.fn("run", nil, cat([]byte{0x03, 0x40}, i64const(0), call(s), call(await), []byte{0x1a, 0x0c, 0, 0x0b}))
	return m.bytes()
}

// guestSegments runs k (at least 1) segments, each a call of now()
// followed by await(promise()): a promise without a timeout, settled from
// outside. The promise of segment i (from 1) is <id>.<2i>.
func guestSegments(k uint32) []byte {
	m := &wmod{}
	now := m.imp("now", tToI64[0], tToI64[1])
	promise := m.imp("promise", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	body := cat(call(now), []byte{0x1a}, i64const(0), call(promise), call(await), []byte{0x1a})
	m.fn("run", []byte{vI32}, countdown(0, k, body))
	return m.bytes()
}

// guestSlowInitInvoker spins `initSpin` iterations in _initialize, then its
// run invokes child with args and awaits it.
func guestSlowInitInvoker(initSpin uint32, child, args string) []byte {
	m := &wmod{}
	inv := m.imp("invoke", tI32x4toI32[0], tI32x4toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	m.fn("_initialize", []byte{vI32}, busy(0, initSpin))
	m.fn("run", nil, cat(i32const(reqOff), i32const(uint32(len(child))), i32const(reqOff+512), i32const(uint32(len(args))),
		call(inv), call(await), []byte{0x1a}))
	m.data = append(m.data, wdata{Offset: reqOff, Bytes: []byte(child)}, wdata{Offset: reqOff + 512, Bytes: []byte(args)})
	return m.bytes()
}

// guestTrap traps at once.
func guestTrap() []byte {
	m := &wmod{}
	m.fn("run", nil, []byte{0x00})
	return m.bytes()
}

// guestNoop returns at once (resolves empty).
func guestNoop() []byte {
	m := &wmod{}
	m.fn("run", nil, nil)
	return m.bytes()
}

// hookStore wraps a store with optional hooks run before the real call; a
// hook's error is returned instead of calling the store.
type hookStore struct {
	store.Store
	mu             sync.Mutex
	onCommit       func(ctx context.Context, c store.Commit) error
	onTimeouts     func(ctx context.Context) error
	onGetExecution func(ctx context.Context, id string) error
	onSettle       func(ctx context.Context, s store.Settle) error
	onRelease      func(ctx context.Context, execs []string) error
}

func (s *hookStore) SettlePromise(ctx context.Context, st store.Settle, owner string, leaseUntil int64) (store.SettleResult, error) {
	s.mu.Lock()
	f := s.onSettle
	s.mu.Unlock()
	if f != nil {
		if err := f(ctx, st); err != nil {
			return store.SettleResult{}, err
		}
	}
	return s.Store.SettlePromise(ctx, st, owner, leaseUntil)
}

func (s *hookStore) ReleaseTasks(ctx context.Context, owner string, execs []string) error {
	s.mu.Lock()
	f := s.onRelease
	s.mu.Unlock()
	if f != nil {
		if err := f(ctx, execs); err != nil {
			return err
		}
	}
	return s.Store.ReleaseTasks(ctx, owner, execs)
}

func (s *hookStore) hooks() (func(context.Context, store.Commit) error, func(context.Context) error, func(context.Context, string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onCommit, s.onTimeouts, s.onGetExecution
}

func (s *hookStore) Commit(ctx context.Context, c store.Commit, owner string, leaseUntil int64) (store.CommitResult, error) {
	if f, _, _ := s.hooks(); f != nil {
		if err := f(ctx, c); err != nil {
			return store.CommitResult{}, err
		}
	}
	return s.Store.Commit(ctx, c, owner, leaseUntil)
}

func (s *hookStore) Timeouts(ctx context.Context, now int64, max int, owner string, leaseUntil int64) ([]store.Promise, []store.Task, int64, error) {
	if _, f, _ := s.hooks(); f != nil {
		if err := f(ctx); err != nil {
			return nil, nil, 0, err
		}
	}
	return s.Store.Timeouts(ctx, now, max, owner, leaseUntil)
}

func (s *hookStore) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	if _, _, f := s.hooks(); f != nil {
		if err := f(ctx, id); err != nil {
			return store.Execution{}, err
		}
	}
	return s.Store.GetExecution(ctx, id)
}

// sleepCtx sleeps d or until ctx ends (then returns its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openHookHost opens a host on a Badger store in dir wrapped by hs.
func openHookHost(t testing.TB, dir string, hs *hookStore, configure ...func(*host.Config)) *testHost {
	t.Helper()
	wrap := func(c *host.Config) { hs.Store, c.Store = c.Store, hs }
	return openHost(t, dir, append([]func(*host.Config){wrap}, configure...)...)
}

// deployRaw deploys hand-made wasm under name.
func (th *testHost) deployRaw(name string, wasm []byte) {
	th.t.Helper()
	if _, err := th.Deploy(context.Background(), name, wasm, ""); err != nil {
		th.t.Fatalf("deploy %s: %v", name, err)
	}
}

// awaitFor waits up to d for promise id to settle; ok false on timeout.
func (th *testHost) awaitFor(id string, d time.Duration) (store.Promise, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	p, err := th.Await(ctx, id)
	if err != nil {
		return p, false
	}
	return p, true
}
