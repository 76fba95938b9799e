//go:build wasmtime

package wasmtimeengine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/reprise-wasm/reprise/engine"
)

// Engine is an engine.Engine backed by one Wasmtime engine and one linker
// shared by every instance.
type Engine struct {
	engine *wasmtime.Engine
	// linker holds the host imports and WASI. Its functions are shared by
	// every store; each call finds its instance through the store's data.
	linker *wasmtime.Linker
	cache  *cache // nil without a cache directory
	pages  uint32
}

// New creates an engine with the host imports and WASI defined.
func New(ctx context.Context, cfg engine.Config) (*Engine, error) {
	wc := wasmtime.NewConfig()
	// Guests are hostile: a loop without host calls must still stop when its
	// context is done. Epoch checks cost a load and a compare per loop
	// back-edge and function entry.
	wc.SetEpochInterruption(true)
	// Replay must be exact, on this machine and on another: NaN bit patterns
	// and relaxed SIMD may otherwise depend on the CPU, and threads would
	// make memory order a race.
	wc.SetCraneliftNanCanonicalization(true)
	wc.SetWasmRelaxedSIMDDeterministic(true)
	wc.SetWasmThreads(false)
	e := &Engine{engine: wasmtime.NewEngineWithConfig(wc), pages: cfg.MemoryLimitPages}
	if cfg.CacheDir != "" {
		c, err := newCache(cfg.CacheDir)
		if err != nil {
			e.engine.Close()
			return nil, err
		}
		e.cache = c
	}
	e.linker = wasmtime.NewLinker(e.engine)
	if err := e.defineImports(cfg.Imports); err != nil {
		e.Close(ctx)
		return nil, err
	}
	return e, nil
}

// defineImports puts WASI and the host imports on the linker. Wasmtime's WASI
// is defined first, for what touches no clock, random source or output (it
// sees no files, environment or arguments); the calls that would see the
// machine are then shadowed by ones that ask the instance's engine.Sys.
func (e *Engine) defineImports(imports []engine.Import) error {
	if err := e.linker.DefineWasi(); err != nil {
		return fmt.Errorf("define WASI: %w", err)
	}
	// Without shadowing yet, a host import that clashes with WASI or with
	// another import is an error rather than a silent replacement.
	for _, imp := range imports {
		f := imp.Func
		err := e.define(imp.Module, imp.Name, imp.Params, imp.Results, func(in *instance, stack []uint64) {
			f(in.ctx, &in.view, stack)
		})
		if err != nil {
			return fmt.Errorf("define host import %s.%s: %w", imp.Module, imp.Name, err)
		}
	}
	e.linker.AllowShadowing(true)
	defer e.linker.AllowShadowing(false)
	for _, w := range wasiShadows {
		if err := e.define(wasiModule, w.name, w.params, w.results, w.fn); err != nil {
			return fmt.Errorf("define WASI %s: %w", w.name, err)
		}
	}
	return nil
}

// hostFunc is a host function as this package runs it: on the instance whose
// guest called it, with params and results in stack as in engine.HostFunc.
type hostFunc func(in *instance, stack []uint64)

// define puts f on the linker as module.name. The linker is shared, so the
// instance comes from the calling store's data.
func (e *Engine) define(module, name string, params, results []engine.ValueType, f hostFunc) error {
	ty := wasmtime.NewFuncType(valTypes(params), valTypes(results))
	n := max(len(params), len(results))
	self := engine.Frame{Module: module, Func: name}
	return e.linker.FuncNew(module, name, ty, func(c *wasmtime.Caller, args []wasmtime.Val) (out []wasmtime.Val, trap *wasmtime.Trap) {
		in := c.Data().(*instance)
		defer func() {
			in.view.caller, in.view.data = nil, nil
			// A panic unwinds the guest with a trap, which carries the
			// guest's stack; run turns it into the panic's error.
			// (wasmtime-go would carry the panic through the guest and
			// panic again in Call, without the stack.)
			if p := recover(); p != nil {
				in.panicked = &hostPanic{value: p, frame: self}
				out, trap = nil, wasmtime.NewTrap("host function panicked")
			}
		}()
		// A host function never runs the guest, so it is never re-entered on
		// one instance: the scratch stack and memory view can be reused.
		stack := in.scratch[:0]
		if n > len(in.scratch) {
			stack = make([]uint64, 0, n)
		}
		stack = stack[:n]
		for i, a := range args {
			if a.Kind() == wasmtime.KindI64 {
				stack[i] = uint64(a.I64())
			} else {
				stack[i] = uint64(uint32(a.I32()))
			}
		}
		in.view.caller, in.view.data = c, nil
		f(in, stack)
		out = make([]wasmtime.Val, len(results))
		for i, t := range results {
			if t == engine.I64 {
				out[i] = wasmtime.ValI64(int64(stack[i]))
			} else {
				out[i] = wasmtime.ValI32(int32(uint32(stack[i])))
			}
		}
		return out, nil
	})
}

func valTypes(vs []engine.ValueType) []*wasmtime.ValType {
	out := make([]*wasmtime.ValType, len(vs))
	for i, v := range vs {
		k := wasmtime.KindI32
		if v == engine.I64 {
			k = wasmtime.KindI64
		}
		out[i] = wasmtime.NewValType(k)
	}
	return out
}

func fromValTypes(vs []*wasmtime.ValType) []engine.ValueType {
	out := make([]engine.ValueType, len(vs))
	for i, v := range vs {
		switch v.Kind() {
		case wasmtime.KindI32:
			out[i] = engine.I32
		case wasmtime.KindI64:
			out[i] = engine.I64
		default:
			out[i] = 0 // a type host calls never use; signature checks fail on it
		}
	}
	return out
}

// Compile implements engine.Engine. Compiling cannot be canceled: ctx is
// unused. With a cache directory, code compiled before is loaded instead.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (engine.Module, error) {
	if e.cache != nil {
		if m := e.cache.load(e.engine, wasm); m != nil {
			return newModule(e, m), nil
		}
	}
	m, err := wasmtime.NewModule(e.engine, wasm)
	if err != nil {
		return nil, fromWasmtime(err)
	}
	if e.cache != nil {
		e.cache.store(m, wasm)
	}
	return newModule(e, m), nil
}

// Close implements engine.Engine.
func (e *Engine) Close(ctx context.Context) error {
	e.linker.Close()
	e.engine.Close()
	return nil
}

// module is a compiled module. Its imports and exports are read once: the
// host checks them every time it looks the module up.
type module struct {
	e         *Engine
	m         *wasmtime.Module
	imports   []engine.ImportRef
	exports   map[string]engine.FuncType
	hasMemory bool
}

func newModule(e *Engine, m *wasmtime.Module) *module {
	mod := &module{e: e, m: m, exports: map[string]engine.FuncType{}}
	for _, imp := range m.Imports() {
		if imp.Type().FuncType() == nil {
			continue
		}
		var name string
		if n := imp.Name(); n != nil {
			name = *n
		}
		mod.imports = append(mod.imports, engine.ImportRef{Module: imp.Module(), Name: name})
	}
	for _, exp := range m.Exports() {
		ty := exp.Type()
		if ft := ty.FuncType(); ft != nil {
			mod.exports[exp.Name()] = engine.FuncType{Params: fromValTypes(ft.Params()), Results: fromValTypes(ft.Results())}
		} else if ty.MemoryType() != nil && exp.Name() == "memory" {
			mod.hasMemory = true
		}
	}
	return mod
}

func (m *module) Imports() []engine.ImportRef         { return slices.Clone(m.imports) }
func (m *module) Exports() map[string]engine.FuncType { return maps.Clone(m.exports) }
func (m *module) HasMemory() bool                     { return m.hasMemory }

// Instantiate implements engine.Module: a store of its own, so the instance's
// memory cap, WASI state and interruption are its alone.
func (m *module) Instantiate(ctx context.Context, s engine.Sys) (engine.Instance, error) {
	in := &instance{e: m.e, sys: s}
	in.view.in = in
	in.store = wasmtime.NewStoreWithData(m.e.engine, in)
	// Wasmtime's WASI needs a context even for the calls it keeps; this one
	// has no arguments, environment or preopened directories, an empty stdin
	// and discarded stdout/stderr (the shadowed fd_write never reaches it).
	in.store.SetWasi(wasmtime.NewWasiConfig())
	if m.e.pages > 0 {
		in.store.Limiter(int64(m.e.pages)*65536, -1, -1, -1, -1)
	}
	if err := in.armInterrupt(); err != nil {
		in.store.Close()
		return nil, err
	}
	err := in.run(ctx, func() (err error) {
		in.inst, err = m.e.linker.Instantiate(in.store, m.m)
		return err
	})
	if _, ok := m.exports["_initialize"]; ok && err == nil {
		err = in.Call(ctx, "_initialize") // a reactor's (Go c-shared) runtime starts here
	}
	if err != nil {
		in.Close(ctx)
		return nil, err
	}
	return in, nil
}

// Close implements engine.Module. Instances keep what they need of the
// compiled code: Wasmtime counts references to it.
func (m *module) Close(ctx context.Context) error {
	m.m.Close()
	return nil
}

// instance is one instance and its store. It is used from one goroutine at a
// time, except for interrupt.
type instance struct {
	e     *Engine
	store *wasmtime.Store
	inst  *wasmtime.Instance
	sys   engine.Sys

	ctx      context.Context  // the running Call's, for host functions
	view     memory           // the guest's memory as the running host call sees it
	memory   *wasmtime.Memory // the exported "memory", found on first use
	scratch  [8]uint64        // host call params and results
	panicked *hostPanic       // the running host call's panic

	// stop is read by the epoch callback (see interrupt.go). mu orders
	// interrupt against the start and end of runs: run counts them, so a
	// late interrupt meant for an earlier run cannot stop a later one.
	stop    *stopFlag
	mu      sync.Mutex
	running bool
	runs    uint64
}

// Call implements engine.Instance.
func (in *instance) Call(ctx context.Context, name string) error {
	fn := in.inst.GetFunc(in.store, name)
	if fn == nil {
		return fmt.Errorf("module does not export %q", name)
	}
	err := in.run(ctx, func() error {
		_, err := fn.Call(in.store)
		return err
	})
	return in.noteMemory(err)
}

// noteMemory wraps a trap of a guest whose memory had grown past half the
// memory limit in an engine.MemoryError.
func (in *instance) noteMemory(err error) error {
	limit := uint64(in.e.pages) * 65536
	if _, trap := err.(*engine.TrapError); !trap || limit == 0 {
		return err
	}
	ext := in.inst.GetExport(in.store, "memory")
	if ext == nil || ext.Memory() == nil {
		return err
	}
	if size := uint64(ext.Memory().DataSize(in.store)); size > limit/2 {
		return &engine.MemoryError{Err: err, Size: size, Limit: limit}
	}
	return err
}

// MemorySize implements engine.Instance.
func (in *instance) MemorySize() uint64 {
	if in.view.caller != nil { // inside one of its host calls: the store is the caller's
		return uint64(len(in.view.bytes()))
	}
	ext := in.inst.GetExport(in.store, "memory")
	if ext == nil || ext.Memory() == nil {
		return 0
	}
	return uint64(ext.Memory().DataSize(in.store))
}

// run runs guest code (f) with ctx: host functions see ctx, and when ctx is
// done the guest is interrupted at its next function entry or loop back-edge.
// Its error is one of the engine package's (see engine.Instance.Call).
func (in *instance) run(ctx context.Context, f func() error) error {
	if ctx.Err() != nil {
		return engine.Interrupted(ctx)
	}
	in.ctx = ctx
	n, _ := in.setRunning(true)
	stop := context.AfterFunc(ctx, func() { in.interrupt(n) })
	err := f()
	stop()
	_, interrupted := in.setRunning(false)
	in.ctx = nil
	switch p := in.panicked; {
	case p != nil:
		in.panicked = nil
		return p.err(err)
	case err != nil && interrupted:
		return engine.Interrupted(ctx)
	case err != nil:
		return fromWasmtime(err)
	}
	return nil
}

// setRunning marks whether guest code runs and clears the stop flag. It
// returns the number of the run that starts, and whether the run that ends
// was interrupted.
func (in *instance) setRunning(running bool) (n uint64, interrupted bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.running = running
	if running {
		in.runs++
	}
	return in.runs, in.stop.reset()
}

// interrupt stops run n of the guest if it still runs. It runs on its own
// goroutine when the context of the run is done.
func (in *instance) interrupt(n uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.running || in.runs != n {
		return
	}
	in.stop.set()
	// The epoch is the engine's: every running guest reaches its deadline,
	// and the epoch callback lets all but this one go on.
	in.e.engine.IncrementEpoch()
}

// Close implements engine.Instance.
func (in *instance) Close(ctx context.Context) error {
	in.store.Close() // also frees the stop flag
	return nil
}
