// Package wazeroengine runs guests on wazero, the pure-Go WebAssembly runtime.
package wazeroengine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/reprise-wasm/reprise/engine"
)

// Engine is an engine.Engine backed by one wazero runtime.
type Engine struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache
	limit uint64 // memory limit in bytes; 0 for none
}

// New creates a runtime with the host imports and WASI instantiated.
func New(ctx context.Context, cfg engine.Config) (*Engine, error) {
	rc := wazero.NewRuntimeConfig().
		// Guests are hostile: a loop without host calls must still stop when
		// its step budget runs out. This costs a check per loop iteration.
		WithCloseOnContextDone(true)
	if cfg.MemoryLimitPages > 0 {
		rc = rc.WithMemoryLimitPages(cfg.MemoryLimitPages)
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache in %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cache))
	e := &Engine{rt: rt, cache: cache, limit: uint64(cfg.MemoryLimitPages) * 65536}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		e.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	builders := map[string]wazero.HostModuleBuilder{}
	var order []string
	for _, imp := range cfg.Imports {
		b, ok := builders[imp.Module]
		if !ok {
			b = rt.NewHostModuleBuilder(imp.Module)
			builders[imp.Module] = b
			order = append(order, imp.Module)
		}
		f := imp.Func
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, m api.Module, stack []uint64) {
				f(ctx, m.Memory(), stack) // api.Memory satisfies engine.Memory: no wrapper, no allocation
			}), types(imp.Params), types(imp.Results)).
			Export(imp.Name)
	}
	for _, name := range order {
		if _, err := builders[name].Instantiate(ctx); err != nil {
			e.Close(ctx)
			return nil, fmt.Errorf("instantiate host module %s: %w", name, err)
		}
	}
	return e, nil
}

func types(vs []engine.ValueType) []api.ValueType {
	out := make([]api.ValueType, len(vs))
	for i, v := range vs {
		out[i] = toAPI(v)
	}
	return out
}

func toAPI(v engine.ValueType) api.ValueType {
	if v == engine.I64 {
		return api.ValueTypeI64
	}
	return api.ValueTypeI32
}

func fromAPI(vs []api.ValueType) []engine.ValueType {
	out := make([]engine.ValueType, len(vs))
	for i, v := range vs {
		switch v {
		case api.ValueTypeI32:
			out[i] = engine.I32
		case api.ValueTypeI64:
			out[i] = engine.I64
		default:
			out[i] = 0 // a type host calls never use; signature checks fail on it
		}
	}
	return out
}

// Compile implements engine.Engine.
func (e *Engine) Compile(ctx context.Context, wasm []byte) (engine.Module, error) {
	cm, err := e.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	return &module{e: e, cm: cm}, nil
}

// Close implements engine.Engine.
func (e *Engine) Close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

type module struct {
	e  *Engine
	cm wazero.CompiledModule
}

func (m *module) Imports() []engine.ImportRef {
	defs := m.cm.ImportedFunctions()
	out := make([]engine.ImportRef, 0, len(defs))
	for _, d := range defs {
		mod, name, _ := d.Import()
		out = append(out, engine.ImportRef{Module: mod, Name: name})
	}
	return out
}

func (m *module) Exports() map[string]engine.FuncType {
	defs := m.cm.ExportedFunctions()
	out := make(map[string]engine.FuncType, len(defs))
	for name, d := range defs {
		out[name] = engine.FuncType{Params: fromAPI(d.ParamTypes()), Results: fromAPI(d.ResultTypes())}
	}
	return out
}

func (m *module) HasMemory() bool {
	_, ok := m.cm.ExportedMemories()["memory"]
	return ok
}

func (m *module) Instantiate(ctx context.Context, s engine.Sys) (engine.Instance, error) {
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances of one module may live at once
		WithStartFunctions("_initialize").
		WithRandSource(s).
		WithWalltime(s.Walltime, 1).
		WithNanotime(s.Nanotime, 1).
		WithNanosleep(s.Nanosleep).
		WithOsyield(func() {}).
		WithStdout(s.Stdout()).
		WithStderr(s.Stderr())
	mod, err := m.e.rt.InstantiateModule(ctx, m.cm, cfg)
	if err != nil {
		return nil, err
	}
	return &instance{mod: mod, limit: m.e.limit}, nil
}

func (m *module) Close(ctx context.Context) error { return m.cm.Close(ctx) }

type instance struct {
	mod   api.Module
	limit uint64
}

func (i *instance) Call(ctx context.Context, name string) error {
	fn := i.mod.ExportedFunction(name)
	if fn == nil {
		return fmt.Errorf("module does not export %q", name)
	}
	_, err := fn.Call(ctx)
	if err != nil {
		if mem := i.mod.Memory(); mem != nil {
			err = memoryNote(err, uint64(mem.Size()), i.limit)
		}
	}
	return err
}

// MemoryError is a trap of a guest whose memory had grown past half the
// memory limit. The engine cannot see a memory.grow fail (it returns -1 to
// the guest, which then traps its own way: Go's "out of memory", Rust's
// abort), so it states the guest's memory next to the limit: the message
// then says what was probably wrong and what to raise.
type MemoryError struct {
	Err         error
	Size, Limit uint64 // bytes
}

func (e *MemoryError) Unwrap() error { return e.Err }

// Error is the trap's text with the memory note before the wasm stack
// trace, so that it stays in the first part of the message.
func (e *MemoryError) Error() string {
	note := fmt.Sprintf(" (the guest's memory had grown to %s, over half the memory limit of %s: memory.grow past the limit fails)", mib(e.Size), mib(e.Limit))
	s := e.Err.Error()
	if head, stack, ok := strings.Cut(s, "\nwasm stack trace:"); ok {
		return head + note + "\nwasm stack trace:" + stack
	}
	return s + note
}

func memoryNote(err error, size, limit uint64) error {
	var exit *sys.ExitError
	if limit == 0 || size <= limit/2 || errors.As(err, &exit) {
		return err
	}
	return &MemoryError{Err: err, Size: size, Limit: limit}
}

func mib(n uint64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func (i *instance) Close(ctx context.Context) error { return i.mod.Close(ctx) }
