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
	"github.com/reprise-wasm/reprise/store"
	"github.com/reprise-wasm/reprise/store/badgerstore"
)

const (
	vI32 = 0x7f
	vI64 = 0x7e
)

type wimport struct {
	name string
	typ  int
}

type wfunc struct {
	export string
	locals []byte
	code   []byte
}

type wdata struct {
	off uint32
	b   []byte
}

// wmod is a module importing reprise_v1 functions, exporting memory and
// void functions.
type wmod struct {
	types   [][2][]byte
	imports []wimport
	funcs   []wfunc
	pages   uint32
	data    []wdata
}

func (m *wmod) typ(params, results []byte) int {
	for i, t := range m.types {
		if string(t[0]) == string(params) && string(t[1]) == string(results) {
			return i
		}
	}
	m.types = append(m.types, [2][]byte{params, results})
	return len(m.types) - 1
}

// imp adds an import of reprise_v1.name and returns its function index.
// All imports must be added before any function.
func (m *wmod) imp(name string, params, results []byte) byte {
	m.imports = append(m.imports, wimport{name, m.typ(params, results)})
	return byte(len(m.imports) - 1)
}

func (m *wmod) fn(export string, locals []byte, code []byte) {
	m.funcs = append(m.funcs, wfunc{export, locals, code})
}

func wstr(b []byte, s string) []byte { return append(uleb(b, uint32(len(s))), s...) }

func (m *wmod) bytes() []byte {
	void := m.typ(nil, nil)
	b := []byte("\x00asm\x01\x00\x00\x00")
	var ts []byte
	ts = uleb(ts, uint32(len(m.types)))
	for _, t := range m.types {
		ts = append(ts, 0x60)
		ts = append(uleb(ts, uint32(len(t[0]))), t[0]...)
		ts = append(uleb(ts, uint32(len(t[1]))), t[1]...)
	}
	b = section(b, 1, ts)
	var is []byte
	is = uleb(is, uint32(len(m.imports)))
	for _, i := range m.imports {
		is = wstr(is, "reprise_v1")
		is = wstr(is, i.name)
		is = append(is, 0)
		is = uleb(is, uint32(i.typ))
	}
	b = section(b, 2, is)
	fs := uleb(nil, uint32(len(m.funcs)))
	for range m.funcs {
		fs = uleb(fs, uint32(void))
	}
	b = section(b, 3, fs)
	pages := m.pages
	if pages == 0 {
		pages = 1
	}
	b = section(b, 5, append([]byte{1, 0}, uleb(nil, pages)...))
	es := uleb(nil, uint32(1+len(m.funcs)))
	es = wstr(es, "memory")
	es = append(es, 2, 0)
	for i, f := range m.funcs {
		es = wstr(es, f.export)
		es = append(es, 0)
		es = uleb(es, uint32(len(m.imports)+i))
	}
	b = section(b, 7, es)
	cs := uleb(nil, uint32(len(m.funcs)))
	for _, f := range m.funcs {
		body := uleb(nil, uint32(len(f.locals)))
		for _, l := range f.locals {
			body = append(body, 1, l)
		}
		body = append(body, f.code...)
		body = append(body, 0x0b)
		cs = uleb(cs, uint32(len(body)))
		cs = append(cs, body...)
	}
	b = section(b, 10, cs)
	if len(m.data) > 0 {
		ds := uleb(nil, uint32(len(m.data)))
		for _, d := range m.data {
			ds = append(ds, 0)
			ds = append(ds, i32const(d.off)...)
			ds = append(ds, 0x0b)
			ds = uleb(ds, uint32(len(d.b)))
			ds = append(ds, d.b...)
		}
		b = section(b, 11, ds)
	}
	return b
}

func sleb64(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func i64const(v int64) []byte { return append([]byte{0x42}, sleb64(v)...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func call(idx byte) []byte { return []byte{0x10, idx} }

// countdown repeats body n times using i32 local l (n must be >= 1).
func countdown(l byte, n uint32, body []byte) []byte {
	return cat(i32const(n), []byte{0x21, l}, // local.set l
		[]byte{0x03, 0x40}, // loop
		body,
		[]byte{0x20, l, 0x41, 1, 0x6b, 0x22, l, 0x0d, 0}, // local.get l; i32.const 1; i32.sub; local.tee l; br_if 0
		[]byte{0x0b}) // end loop
}

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
	m.data = append(m.data, wdata{reqOff, []byte(req)})
	return m.bytes()
}

// guestHTTPThenTrap starts http(req) and traps without awaiting it.
func guestHTTPThenTrap(req string) []byte {
	m := &wmod{}
	httpc := m.imp("http", tI32I32toI32[0], tI32I32toI32[1])
	m.fn("run", nil, cat(i32const(reqOff), i32const(uint32(len(req))), call(httpc), []byte{0x1a, 0x00}))
	m.data = append(m.data, wdata{reqOff, []byte(req)})
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

// guestSegments runs k segments of `spin` busy iterations, each followed by
// await(sleep(sleepMs)).
func guestSegments(k, spin uint32, sleepMs int64) []byte {
	m := &wmod{}
	s := m.imp("sleep", tI64toI32[0], tI64toI32[1])
	await := m.imp("await", tI32toI32[0], tI32toI32[1])
	body := cat(busy(1, spin), i64const(sleepMs*1_000_000), call(s), call(await), []byte{0x1a})
	m.fn("run", []byte{vI32, vI32}, countdown(0, k, body))
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
	m.data = append(m.data, wdata{reqOff, []byte(child)}, wdata{reqOff + 512, []byte(args)})
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
	db, err := badgerstore.Open(dir, badgerstore.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	hs.Store = db
	cfg := host.Config{Store: hs, Logger: testLogger(t)}
	for _, c := range configure {
		c(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	th := &testHost{Host: h, t: t, store: db, dir: dir}
	t.Cleanup(th.close)
	return th
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
